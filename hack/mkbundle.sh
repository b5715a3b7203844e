#!/usr/bin/env bash
# Build a small OCI runtime bundle for demos, tests and benchmarks.
#
#   hack/mkbundle.sh [-f] [--spec-from RUNTIME] DIR [CMD...]
#
# Result:
#   DIR/rootfs/       busybox-static, one symlink per applet, minimal /etc
#   DIR/config.json   the defaults of `runc spec` (read-only root; new pid,
#                     net, ipc, uts and mount namespaces; three capabilities;
#                     masked and read-only /proc paths), except that the
#                     process runs CMD (default: `sh`) without a terminal.
#
# The config comes from a template written below, so every bundle is the same
# whatever runtime is installed. With --spec-from RUNTIME (or MKBUNDLE_SPEC_FROM)
# the template is instead `RUNTIME spec` (runc, crun and rt all have it), which
# is a quick way to see whether a runtime's defaults drifted from the template.
#
# Options:
#   -f                  replace an existing DIR/config.json and DIR/rootfs
#   --spec-from RT      take the base config from `RT spec`
# Environment:
#   BUSYBOX             statically linked busybox to install (default: PATH's)
#
# Needs: bash, coreutils, jq, a static busybox (Debian: busybox-static).
set -euo pipefail

fail() { echo "mkbundle: $*" >&2; exit 1; }
usage() { sed -n '4p' "$0" | sed 's/^# *//' >&2; exit 2; }

force=0
spec_from=${MKBUNDLE_SPEC_FROM:-}
while [ $# -gt 0 ]; do
	case "$1" in
	-f) force=1; shift ;;
	--spec-from) [ $# -ge 2 ] || usage; spec_from=$2; shift 2 ;;
	--spec-from=*) spec_from=${1#*=}; shift ;;
	-h | --help) usage ;;
	--) shift; break ;;
	-*) fail "unknown option: $1" ;;
	*) break ;;
	esac
done
[ $# -ge 1 ] || usage
dir=$1
shift
[ $# -gt 0 ] || set -- sh

command -v jq >/dev/null || fail "jq is needed (apt-get install jq)"
busybox=${BUSYBOX:-$(command -v busybox || true)}
[ -n "$busybox" ] && [ -x "$busybox" ] || fail "no busybox found (apt-get install busybox-static, or set BUSYBOX)"
# The rootfs has no C library, so a dynamically linked busybox cannot run in it.
if LC_ALL=C ldd "$busybox" 2>&1 | grep -q '=>'; then
	fail "$busybox is dynamically linked; install busybox-static or point BUSYBOX at a static one"
fi

mkdir -p "$dir"
dir=$(cd "$dir" && pwd)
rootfs=$dir/rootfs
if [ "$force" = 0 ]; then
	[ ! -e "$dir/config.json" ] || fail "$dir/config.json already exists (use -f to replace it)"
	[ ! -e "$rootfs" ] || [ -z "$(ls -A "$rootfs")" ] || fail "$rootfs is not empty (use -f to replace it)"
fi
rm -rf "$rootfs" "$dir/config.json"

# --- root filesystem -------------------------------------------------------
mkdir -p "$rootfs"/{bin,sbin,usr/bin,usr/sbin,etc,dev,proc,sys,tmp,var/tmp,run,root,home}
chmod 1777 "$rootfs/tmp" "$rootfs/var/tmp"
chmod 0700 "$rootfs/root"
install -m 0755 "$busybox" "$rootfs/bin/busybox"
# Relative links (usr/bin/env -> ../../bin/busybox) resolve the same inside
# the container and when the rootfs is inspected from the host.
"$busybox" --list-full | awk '
	$0 == "bin/busybox" || $0 == "" { next }
	{
		up = ""
		n = gsub("/", "/", $0)
		for (i = 0; i < n; i++) up = up "../"
		# bin/sh -> busybox rather than ../bin/busybox
		print (up == "../" && $0 ~ /^bin\//) ? "busybox" : up "bin/busybox", $0
	}' | (cd "$rootfs" && xargs -n 2 ln -sfn)
[ -e "$rootfs/bin/sh" ] || ln -s busybox "$rootfs/bin/sh"

printf '%s\n' 'root:x:0:0:root:/root:/bin/sh' \
	'nobody:x:65534:65534:nobody:/nonexistent:/bin/false' >"$rootfs/etc/passwd"
printf '%s\n' 'root:x:0:' 'tty:x:5:' 'nogroup:x:65534:' >"$rootfs/etc/group"
printf '%s\n' '127.0.0.1 localhost' '::1 localhost' >"$rootfs/etc/hosts"
: >"$rootfs/etc/resolv.conf"
echo container >"$rootfs/etc/hostname"

# --- config.json -------------------------------------------------------------
# The defaults of `runc spec` (runc 1.1, OCI runtime-spec 1.0.2).
default_spec() {
	cat <<'JSON'
{
  "ociVersion": "1.0.2-dev",
  "process": {
    "terminal": true,
    "user": { "uid": 0, "gid": 0 },
    "args": ["sh"],
    "env": ["PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin", "TERM=xterm"],
    "cwd": "/",
    "capabilities": {
      "bounding":  ["CAP_AUDIT_WRITE", "CAP_KILL", "CAP_NET_BIND_SERVICE"],
      "effective": ["CAP_AUDIT_WRITE", "CAP_KILL", "CAP_NET_BIND_SERVICE"],
      "permitted": ["CAP_AUDIT_WRITE", "CAP_KILL", "CAP_NET_BIND_SERVICE"],
      "ambient":   ["CAP_AUDIT_WRITE", "CAP_KILL", "CAP_NET_BIND_SERVICE"]
    },
    "rlimits": [{ "type": "RLIMIT_NOFILE", "hard": 1024, "soft": 1024 }],
    "noNewPrivileges": true
  },
  "root": { "path": "rootfs", "readonly": true },
  "hostname": "runc",
  "mounts": [
    { "destination": "/proc", "type": "proc", "source": "proc" },
    { "destination": "/dev", "type": "tmpfs", "source": "tmpfs",
      "options": ["nosuid", "strictatime", "mode=755", "size=65536k"] },
    { "destination": "/dev/pts", "type": "devpts", "source": "devpts",
      "options": ["nosuid", "noexec", "newinstance", "ptmxmode=0666", "mode=0620", "gid=5"] },
    { "destination": "/dev/shm", "type": "tmpfs", "source": "shm",
      "options": ["nosuid", "noexec", "nodev", "mode=1777", "size=65536k"] },
    { "destination": "/dev/mqueue", "type": "mqueue", "source": "mqueue",
      "options": ["nosuid", "noexec", "nodev"] },
    { "destination": "/sys", "type": "sysfs", "source": "sysfs",
      "options": ["nosuid", "noexec", "nodev", "ro"] },
    { "destination": "/sys/fs/cgroup", "type": "cgroup", "source": "cgroup",
      "options": ["nosuid", "noexec", "nodev", "relatime", "ro"] }
  ],
  "linux": {
    "resources": { "devices": [{ "allow": false, "access": "rwm" }] },
    "namespaces": [
      { "type": "pid" }, { "type": "network" }, { "type": "ipc" },
      { "type": "uts" }, { "type": "mount" }
    ],
    "maskedPaths": [
      "/proc/acpi", "/proc/asound", "/proc/kcore", "/proc/keys",
      "/proc/latency_stats", "/proc/timer_list", "/proc/timer_stats",
      "/proc/sched_debug", "/sys/firmware", "/proc/scsi"
    ],
    "readonlyPaths": [
      "/proc/bus", "/proc/fs", "/proc/irq", "/proc/sys", "/proc/sysrq-trigger"
    ]
  }
}
JSON
}

if [ -n "$spec_from" ]; then
	scratch=$(mktemp -d)
	trap 'rm -rf "$scratch"' EXIT
	# `spec` writes config.json into the current directory for runc, crun and rt.
	(cd "$scratch" && "$spec_from" spec >/dev/null) || fail "'$spec_from spec' failed"
	[ -s "$scratch/config.json" ] || fail "'$spec_from spec' wrote no config.json"
	base=$(cat "$scratch/config.json")
else
	base=$(default_spec)
fi

args_json=$(jq -n '$ARGS.positional' --args -- "$@")
jq --argjson args "$args_json" \
	'.process.terminal = false | .process.args = $args | .root.path = "rootfs"' \
	<<<"$base" >"$dir/config.json.tmp" || fail "could not write $dir/config.json"
mv "$dir/config.json.tmp" "$dir/config.json"
echo "$dir"
