#!/usr/bin/env bash
# Installs rt and rt-build with their man pages and bash, zsh and fish
# completions:
#
#   hack/install.sh                         # build (release) and install under /usr/local
#   hack/install.sh --prefix /usr           # where Debian would put them
#   hack/install.sh --destdir /tmp/pkg      # stage for a package: /tmp/pkg/usr/local/...
#   hack/install.sh --no-build --bin-dir DIR  # install rt, rt-build and rt-docgen already built in DIR
#
# Files: PREFIX/bin/{rt,rt-build}; PREFIX/share/man/man8/rt*.8 (section 8,
# as runc's) and man1/rt-build*.1; PREFIX/share/bash-completion/completions,
# PREFIX/share/zsh/site-functions and PREFIX/share/fish/vendor_completions.d,
# where bash-completion, zsh and fish look for them by default. The pages
# and completions are generated from the binaries' own flag definitions
# (hack/docgen), so they match the installed binaries.
set -euo pipefail
cd "$(dirname "$0")/.."

prefix=/usr/local
destdir=
build=1
bin_dir=target/x86_64-unknown-linux-gnu/release
usage() {
	sed -n '2,9p' "$0" | sed 's/^# \{0,1\}//' >&2
	exit 2
}
while [ $# -gt 0 ]; do
	case $1 in
	--prefix) [ $# -ge 2 ] || usage; prefix=$2; shift 2 ;;
	--destdir) [ $# -ge 2 ] || usage; destdir=$2; shift 2 ;;
	--bin-dir) [ $# -ge 2 ] || usage; bin_dir=$2; shift 2 ;;
	--no-build) build=0; shift ;;
	-h | --help) usage ;;
	*) echo "install: unknown argument $1" >&2; usage ;;
	esac
done
case $prefix in
/*) ;;
*) echo "install: --prefix must be an absolute path: $prefix" >&2; exit 1 ;;
esac

if [ "$build" = 1 ]; then
	export PATH="$HOME/.cargo/bin:$PATH"
	cargo build --release --locked -p rt -p rt-build -p rt-docgen
fi
for b in rt rt-build rt-docgen; do
	if [ ! -x "$bin_dir/$b" ]; then
		echo "install: $bin_dir/$b is missing (build the workspace first, or drop --no-build)" >&2
		exit 1
	fi
done

gen=$(mktemp -d /tmp/rt-docgen.XXXXXX)
trap 'rm -rf "$gen"' EXIT
"$bin_dir/rt-docgen" "$gen" >/dev/null

root=$destdir$prefix
install -d "$root/bin"
install -m 0755 "$bin_dir/rt" "$bin_dir/rt-build" "$root/bin/"
for sub in man/man1 man/man8 bash-completion/completions zsh/site-functions fish/vendor_completions.d; do
	install -d "$root/share/$sub"
	install -m 0644 "$gen/$sub"/* "$root/share/$sub/"
done
echo "installed rt and rt-build in $root/bin, man pages and completions in $root/share"
