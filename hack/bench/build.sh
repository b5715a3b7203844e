#!/usr/bin/env bash
# Build-time benchmark: rt-build vs buildah vs Docker's BuildKit.
#
#   hack/bench/build.sh [--quick] [-o OUTDIR] RT_BUILD_BINARY
#   e.g. hack/bench/build.sh target/x86_64-unknown-linux-gnu/release/rt-build
#
# Every run builds each workload with all three tools, the tools' order
# rotated from run to run, so a noisy machine slows every tool alike; the
# medians and the ratios between tools are what to read. Everything the
# script starts (a private dockerd + containerd, a docker-registry, buildah
# and rt-build stores) lives in a temporary directory and in a private mount
# namespace, and is stopped / removed at exit, also on failure or Ctrl-C.
# See hack/bench/README.md, section "rt-build vs buildah vs BuildKit".
#
# Options:
#   --quick        RUNS=2 (default 5)
#   -o OUTDIR      results directory (default /tmp/rt-build-bench.<time>.<pid>)
#   --report OUTDIR  only re-render OUTDIR/results.md from OUTDIR/raw/
# Environment (defaults): RUNS (5) BUILDAH_DRIVER (overlay if it works, else
#   vfs) DOCKER (the docker client next to dockerd: /usr/bin/docker)
#   BUSYBOX (/bin/busybox) FILES_DIRS (200) FILES_PER_DIR (100)
set -euo pipefail

here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
self=$here/$(basename "${BASH_SOURCE[0]}")
make_busybox=$here/../../builder/examples/make-busybox.sh

say() { echo "build-bench: $*" >&2; }
fail() { echo "build-bench: $*" >&2; exit 1; }
usage() { sed -n '4,5p' "$self" | sed 's/^# *//' >&2; exit 2; }

# ---- report (also: build.sh --report OUTDIR re-renders results.md from raw/) ----
render_report() { # render_report OUTDIR
	local o=$1 w t m_r m_b m_k rk rb verdict times k v runs files
	local -A lab=([rtb]=rt-build [buildah]=buildah [buildkit]=BuildKit) nas=() fails=()
	runs=$(sed -n 's/^RUNS=//p' "$o/raw/settings")
	files=$(sed -n 's/^FILES=//p' "$o/raw/settings")
	while IFS=$'\t' read -r k v; do nas[$k]=$v; done <"$o/raw/na.tsv"
	while IFS=$'\t' read -r w t v; do fails[$w,$t]=$v; done <"$o/raw/excluded.tsv"
	local workloads=(small-cold small-cached twostage-cold files-cold files-edit small-edit pull-cold)
	local -A desc=(
		[small-cold]="1. 5-step Dockerfile, cold"
		[small-cached]="1. 5-step Dockerfile, fully cached"
		[twostage-cold]="2. two independent stages (RUN ~0.3 s each) + COPY --from both, cold"
		[files-cold]="3. COPY of $files small files, cold"
		[files-edit]="3. COPY of $files small files, one file changed"
		[small-edit]="4. small project, COPY'd file edited"
		[pull-cold]="5. FROM 127.0.0.1:PORT/busybox (registry pull), cold"
	)
	median() { # median WORKLOAD TOOL: median ms, or nothing
		awk -F'\t' -v w="$1" -v t="$2" '$1 == w && $2 == t { print $4 }' "$o/raw/times.tsv" | sort -n |
			awk '{ v[NR] = $1 } END { if (NR == 0) exit; print (NR % 2) ? v[(NR + 1) / 2] : (v[NR / 2] + v[NR / 2 + 1]) / 2 }'
	}
	cell() { # cell WORKLOAD TOOL MEDIAN
		if [ -n "$3" ]; then awk -v m="$3" 'BEGIN { printf "%.0f", m }'
		elif [ -n "${nas[$2]:-}" ]; then echo "n/a"
		elif [ -n "${nas[$1,$2]:-}" ]; then echo "${nas[$1,$2]}"
		elif [ -n "${fails[$1,$2]:-}" ]; then echo "failed"
		else echo "—"
		fi
	}
	ratio() { [ -n "$1" ] && [ -n "$2" ] && awk -v a="$1" -v b="$2" 'BEGIN { printf "%.3f", a / b }' || echo "—"; }
	{
		echo "# rt-build vs buildah vs BuildKit"
		echo
		sed 's/^/    /' "$o/env.txt"
		echo
		echo "Medians of $runs runs, ms (the tools' order rotated from run to run). Target: rt-build ≤ 0.5 × BuildKit."
		echo
		echo "| workload | rt-build ms | buildah ms | BuildKit ms | rt-build ÷ BuildKit | rt-build ÷ buildah | ≤ 0.5× BuildKit |"
		echo "|---|---|---|---|---|---|---|"
		for w in "${workloads[@]}"; do
			m_r=$(median "$w" rtb) m_b=$(median "$w" buildah) m_k=$(median "$w" buildkit)
			rk=$(ratio "$m_r" "$m_k") rb=$(ratio "$m_r" "$m_b")
			# The verdict uses the unrounded medians.
			if [ "$rk" = "—" ]; then verdict="—"
			elif awk -v a="$m_r" -v b="$m_k" 'BEGIN { exit !(a <= 0.5 * b) }'; then verdict=PASS
			else verdict=FAIL
			fi
			echo "| ${desc[$w]} | $(cell "$w" rtb "$m_r") | $(cell "$w" buildah "$m_b") | $(cell "$w" buildkit "$m_k") | $rk | $rb | $verdict |"
		done
		echo
		echo "Every time (ms), run by run:"
		echo
		echo "| workload | tool | times |"
		echo "|---|---|---|"
		for w in "${workloads[@]}"; do
			for t in rtb buildah buildkit; do
				times=$(awk -F'\t' -v w="$w" -v t="$t" '$1 == w && $2 == t { printf "%s%s", sep, $4; sep = ", " }' "$o/raw/times.tsv")
				[ -z "$times" ] || echo "| $w | ${lab[$t]} | $times |"
			done
		done
		if [ -s "$o/raw/excluded.tsv" ] || [ -n "${nas[buildkit]:-}${nas[rtb]:-}${nas[buildah]:-}" ]; then
			echo
			echo "Left out:"
			echo
			for t in rtb buildah buildkit; do [ -z "${nas[$t]:-}" ] || echo "- ${lab[$t]}: ${nas[$t]}"; done
			while IFS=$'\t' read -r w t v; do echo "- ${lab[$t]}, $w: $v"; done <"$o/raw/excluded.tsv"
		fi
	} >"$o/results.md"
	cat "$o/results.md"
}


# ---- arguments ---------------------------------------------------------------
quick=0
out=${OUT:-}
orig_args=("$@")
while [ $# -gt 0 ]; do
	case "$1" in
	--quick) quick=1; shift ;;
	--report) [ $# -ge 2 ] || usage; render_report "$2"; exit ;;
	-o) [ $# -ge 2 ] || usage; out=$2; shift 2 ;;
	-h | --help) usage ;;
	--) shift; break ;;
	-*) fail "unknown option: $1" ;;
	*) break ;;
	esac
done
[ $# -eq 1 ] || usage
[ "$quick" = 0 ] || RUNS=${RUNS:-2}
RUNS=${RUNS:-5}
FILES_DIRS=${FILES_DIRS:-200} FILES_PER_DIR=${FILES_PER_DIR:-100}
BUSYBOX=${BUSYBOX:-/bin/busybox}

[ "$(id -u)" = 0 ] || fail "must run as root"
RTB=$(command -v "$1" 2>/dev/null) || fail "rt-build binary not found: $1"
RTB=$(realpath "$RTB")
[ -x "$RTB" ] || fail "not executable: $RTB"
for tool in buildah skopeo docker-registry unshare curl ss awk; do
	command -v "$tool" >/dev/null || fail "missing tool: $tool (Debian: apt-get install -y buildah skopeo docker-registry curl)"
done
[ -x "$BUSYBOX" ] || fail "missing $BUSYBOX (apt-get install -y busybox-static)"
[ -x "$make_busybox" ] || fail "missing $make_busybox"

# ---- private mount namespace (see private-ns.sh) ------------------------------
# buildah's and rt-build's mounts, and dockerd's (which gets a namespace of
# its own below, too), never reach the host.
. "$here/private-ns.sh"
enter_private_ns "$self" "${orig_args[@]}"

out=${out:-/tmp/rt-build-bench.$(date +%Y%m%d-%H%M%S).$$}
mkdir -p "$out"
out=$(cd "$out" && pwd)
rm -rf "$out"/{raw,logs}
mkdir -p "$out"/{raw,logs}
# A short path: dockerd's unix socket path must fit in 108 bytes.
work=$(mktemp -d /tmp/rtbb.XXXXXX)
say "results in $out; work directory $work"

# ---- cleanup ------------------------------------------------------------------------
dockerd_pid="" registry_pid="" cg_parent=rt-build-bench.$$
had_run_docker=0
[ ! -e /run/docker ] || had_run_docker=1

stop_pid() { # stop_pid PID: SIGTERM, up to 10 s, then SIGKILL
	local pid=$1 k
	[ -n "$pid" ] && kill -0 "$pid" 2>/dev/null || return 0
	kill "$pid" 2>/dev/null || true
	for ((k = 0; k < 100; k++)); do
		kill -0 "$pid" 2>/dev/null || return 0
		sleep 0.1
	done
	kill -9 "$pid" 2>/dev/null || true
}
umount_under() { # umount_under DIR: every mount at or below DIR, deepest first
	local m
	awk -v d="$1" '$5 == d || index($5, d "/") == 1 { print $5 }' /proc/self/mountinfo |
		awk '{ print gsub("/", "/"), $0 }' | sort -rn | cut -d' ' -f2- |
		while read -r m; do umount -l "$m" 2>/dev/null || true; done
}
cleanup() {
	local rc=$? containerd="" d
	set +e
	trap - INT TERM
	[ ! -r "$work/docker/exec/containerd/containerd.pid" ] || containerd=$(cat "$work/docker/exec/containerd/containerd.pid")
	stop_pid "$dockerd_pid"
	stop_pid "$containerd"
	stop_pid "$registry_pid"
	# Build containers an interrupted buildah left behind.
	for d in "$work"/buildah "$work"/buildah-pull; do
		[ -d "$d/root" ] && buildah --root "$d/root" --runroot "$d/run" --storage-driver "${BUILDAH_DRIVER:-vfs}" rm -a >/dev/null 2>&1
	done
	umount_under "$work"
	rm -rf "$work"
	for d in /sys/fs/cgroup/*/"$cg_parent" /sys/fs/cgroup/"$cg_parent"; do
		[ -d "$d" ] || continue
		find "$d" -depth -type d -exec rmdir {} + 2>/dev/null
		[ ! -d "$d" ] || say "WARNING: could not remove cgroup $d"
	done
	# dockerd makes /run/docker/plugins whatever its exec root is.
	if [ "$had_run_docker" = 0 ]; then
		rmdir /run/docker/plugins /run/docker 2>/dev/null
	fi
	return $rc
}
trap cleanup EXIT
trap 'exit 130' INT TERM

# ---- tools ------------------------------------------------------------------------------
tools=(rtb buildah buildkit)
declare -A label=([rtb]=rt-build [buildah]=buildah [buildkit]=BuildKit)
declare -A na=()   # na[TOOL] or na[WORKLOAD,TOOL]: why the cell is "n/a"
declare -A failed=() # failed[WORKLOAD,TOOL]: the tool failed this workload

rtb() { "$RTB" --root "$work/rtb" "$@"; }
bh() { buildah --root "$work/buildah/root" --runroot "$work/buildah/run" --storage-driver "$BUILDAH_DRIVER" "$@"; }
bhp() { buildah --root "$work/buildah-pull/root" --runroot "$work/buildah-pull/run" --storage-driver "$BUILDAH_DRIVER" "$@"; }
dk() { "$DOCKER" -H "unix://$work/docker/docker.sock" "$@"; }

# The base image: busybox-static in one layer, imported into an rt-build
# store by builder/examples/make-busybox.sh; buildah and dockerd get the
# same image as a docker-archive written by rt-build.
say "making the busybox base image"
RTB="$RTB" BUSYBOX="$BUSYBOX" "$make_busybox" --root "$work/rtb0" >"$out/logs/make-busybox.log" 2>&1 ||
	fail "make-busybox.sh failed: $(tail -3 "$out/logs/make-busybox.log")"
mkdir -p "$work/ctx/export"
printf 'FROM busybox\n' >"$work/ctx/export/Dockerfile"
cp -a "$work/rtb0" "$work/rtb-export"
"$RTB" --root "$work/rtb-export" --progress quiet -t busybox \
	-o "type=docker-archive,dest=$work/busybox.tar" "$work/ctx/export" >"$out/logs/export.log" 2>&1 ||
	fail "rt-build could not write the docker-archive: $(tail -3 "$out/logs/export.log")"
rm -rf "$work/rtb-export"

# buildah: overlay if it can build a RUN step here, else vfs.
if [ -z "${BUILDAH_DRIVER:-}" ]; then
	BUILDAH_DRIVER=overlay
	printf 'FROM busybox\nRUN echo ok >/ok\n' >"$work/ctx/export/Dockerfile"
	if ! { bh pull -q "docker-archive:$work/busybox.tar" &&
		bh bud -q --format docker --isolation chroot --layers -t probe "$work/ctx/export"; } \
		>"$out/logs/buildah-overlay-probe.log" 2>&1; then
		say "buildah: overlay does not work here (see logs/buildah-overlay-probe.log), using vfs"
		umount_under "$work/buildah"
		BUILDAH_DRIVER=vfs
	fi
	bh rm -a >/dev/null 2>&1 || true
	umount_under "$work/buildah"
	rm -rf "$work/buildah"
fi
say "buildah storage driver: $BUILDAH_DRIVER"

# Docker: a private dockerd (own data root, exec root, pid file, socket,
# config file and cgroup parent; no bridge, no iptables rules) in a mount
# namespace of its own, as builder/tests/docker_load.rs starts it.
DOCKER=${DOCKER:-}
if [ -z "$DOCKER" ]; then
	# The client of the same package as dockerd (a newer docker elsewhere in
	# PATH would want the buildx plugin for DOCKER_BUILDKIT=1).
	DOCKER=$(dirname "$(realpath "$(command -v dockerd 2>/dev/null || echo /usr/sbin/dockerd)")")/../bin/docker
	[ -x "$DOCKER" ] && DOCKER=$(realpath "$DOCKER") || DOCKER=$(command -v docker 2>/dev/null || echo docker)
fi
why="" # why the last start_* failed
start_dockerd() {
	local k
	command -v dockerd >/dev/null || { why="dockerd not installed (apt-get install -y docker.io)"; return 1; }
	command -v "$DOCKER" >/dev/null || { why="docker client not found"; return 1; }
	mkdir -p "$work/docker"
	printf '{"deprecated-key-path": "%s"}\n' "$work/docker/key.json" >"$work/docker/daemon.json"
	# setsid: a Ctrl-C reaches the script (whose cleanup stops the daemon),
	# not the daemon in the middle of a build; setsid and unshare exec.
	setsid unshare -m --propagation private dockerd \
		--data-root "$work/docker/data" --exec-root "$work/docker/exec" \
		--pidfile "$work/docker/dockerd.pid" -H "unix://$work/docker/docker.sock" \
		--config-file "$work/docker/daemon.json" --cgroup-parent "/$cg_parent" \
		--iptables=false --ip6tables=false --bridge=none --ip-forward=false --ip-masq=false \
		</dev/null >"$out/logs/dockerd.log" 2>&1 &
	dockerd_pid=$! # unshare execs dockerd
	for ((k = 0; k < 200; k++)); do
		dk version --format '{{.Server.Version}}' >/dev/null 2>&1 && break
		kill -0 "$dockerd_pid" 2>/dev/null || { why="dockerd exited: $(tail -3 "$out/logs/dockerd.log")"; return 1; }
		sleep 0.1
	done
	[ "$k" -lt 200 ] || { why="dockerd did not answer within 20 s"; return 1; }
	dk load -i "$work/busybox.tar" >"$out/logs/docker-load.log" 2>&1 || { why="docker load failed: $(tail -3 "$out/logs/docker-load.log")"; return 1; }
}
say "starting a private dockerd"
if ! start_dockerd; then
	na[buildkit]="BuildKit cannot run here: $why"
	say "${na[buildkit]}"
fi

# Cells are medians of these times; the same build for every tool.
build_cmd() { # build_cmd TOOL WORKLOAD-CONTEXT TAG: prints nothing, runs the build
	local t=$1 ctx=$2 tag=$3
	case "$t" in
	rtb) rtb --progress quiet -t "$tag" "$ctx" ;;
	buildah) bh bud -q --format docker --isolation chroot --layers -t "$tag" "$ctx" ;;
	# --bridge=none leaves BuildKit no default network for RUN: none it is.
	buildkit) DOCKER_BUILDKIT=1 dk build -q --network none -t "$tag" "$ctx" ;;
	esac
}
pull_build_cmd() { # the registry workload: other stores, no base image in them
	local t=$1 ctx=$2 tag=$3
	case "$t" in
	rtb) "$RTB" --root "$work/rtb-pull" --progress quiet -t "$tag" "$ctx" ;;
	buildah) bhp bud -q --format docker --isolation chroot --layers --tls-verify=false -t "$tag" "$ctx" ;;
	buildkit) DOCKER_BUILDKIT=1 dk build -q --network none -t "$tag" "$ctx" ;;
	esac
}

reset_tool() { # reset_tool TOOL: only the busybox base image, no build cache
	case "$1" in
	rtb)
		rm -rf "$work/rtb"
		cp -a "$work/rtb0" "$work/rtb"
		;;
	buildah)
		bh rm -a >/dev/null 2>&1 || true
		bh rmi -a -f >/dev/null 2>&1 || true
		bh pull -q "docker-archive:$work/busybox.tar" >/dev/null
		;;
	buildkit)
		local base ids
		base=$(dk image inspect -f '{{.Id}}' busybox)
		ids=$(dk images -aq --no-trunc | grep -vx "$base" | sort -u || true)
		[ -z "$ids" ] || dk rmi -f $ids >/dev/null
		dk builder prune -af >/dev/null
		;;
	esac
}
reset_pull_tool() { # reset_pull_tool TOOL: an empty store, nothing cached
	case "$1" in
	rtb) rm -rf "$work/rtb-pull" ;;
	buildah)
		bhp rm -a >/dev/null 2>&1 || true
		umount_under "$work/buildah-pull"
		rm -rf "$work/buildah-pull"
		;;
	buildkit)
		local ids
		ids=$(dk images -aq --no-trunc | sort -u || true)
		[ -z "$ids" ] || dk rmi -f $ids >/dev/null
		dk builder prune -af >/dev/null
		;;
	esac
}

: >"$out/raw/times.tsv"
: >"$out/raw/excluded.tsv"
exclude() { # exclude WORKLOAD TOOL LOG: leave TOOL out of WORKLOAD
	local why
	why=$(tail -n 5 "$3" | tr '\n' ' ' | cut -c1-300)
	failed[$1,$2]=$why
	printf '%s\t%s\t%s\n' "$1" "$2" "$why" >>"$out/raw/excluded.tsv"
	say "${label[$2]} left out of $1: $why"
}
timed() { # timed WORKLOAD TOOL RUN CMD...: time CMD, record ms; fails like CMD
	local w=$1 t=$2 r=$3 log="$out/logs/$1.$2.run$3.log" s e
	shift 3
	s=${EPOCHREALTIME/./}
	if ! "$@" </dev/null >"$log" 2>&1; then
		exclude "$w" "$t" "$log"
		return 1
	fi
	e=${EPOCHREALTIME/./}
	printf '%s\t%s\t%s\t%s\n' "$w" "$t" "$r" "$(awk -v us=$((e - s)) 'BEGIN { printf "%.1f", us / 1000 }')" >>"$out/raw/times.tsv"
}
quiet() { # quiet LOG CMD...: CMD's output into LOG (removed when CMD succeeds)
	local log=$1
	shift
	"$@" </dev/null >"$log" 2>&1 && rm -f "$log"
}
usable() { # usable TOOL WORKLOAD...: neither n/a nor failed in any of them
	local t=$1 w
	shift
	[ -z "${na[$t]:-}" ] || return 1
	for w in "$@"; do
		[ -z "${na[$w,$t]:-}" ] && [ -z "${failed[$w,$t]:-}" ] || return 1
	done
}
order() { # order RUN: the tools, rotated by RUN
	local r=$1 n=${#tools[@]} k
	for ((k = 0; k < n; k++)); do echo "${tools[$(((k + r) % n))]}"; done
}

# ---- contexts ------------------------------------------------------------------------------
ctx=$work/ctx
mkdir -p "$ctx/small" "$ctx/twostage" "$ctx/files" "$ctx/pull"
cat >"$ctx/small/Dockerfile" <<'EOF'
FROM busybox
RUN mkdir -p /app && echo built >/app/built
COPY app.txt /app/
ENV APP_MODE=bench
RUN cat /app/app.txt /app/built >/app/out.txt
EOF
cat >"$ctx/twostage/Dockerfile" <<'EOF'
FROM busybox AS a
RUN sleep 0.3 && mkdir -p /out && for i in $(seq 1 300); do echo "a $i" >/out/a$i; done && tar -cf /out.tar /out
FROM busybox AS b
RUN sleep 0.3 && mkdir -p /out && for i in $(seq 1 300); do echo "b $i" >/out/b$i; done && tar -cf /out.tar /out
FROM busybox
COPY --from=a /out /a
COPY --from=b /out /b
EOF
printf 'FROM busybox\nCOPY files /files\n' >"$ctx/files/Dockerfile"
say "generating $((FILES_DIRS * FILES_PER_DIR)) small files"
awk -v root="$ctx/files/files" -v dirs="$FILES_DIRS" -v per="$FILES_PER_DIR" 'BEGIN {
	for (d = 0; d < dirs; d++) {
		dir = sprintf("%s/d%03d", root, d)
		system("mkdir -p " dir)
		for (f = 0; f < per; f++) {
			p = sprintf("%s/f%03d", dir, f)
			printf "file %03d/%03d of the benchmark context, padded to about a hundred bytes: %024d\n", d, f, d * per + f >p
			close(p)
		}
	}
}'
one_file=$ctx/files/files/d$(printf %03d $((FILES_DIRS / 2)))/f000
one_file_orig=$(cat "$one_file")

# ---- the registry ------------------------------------------------------------------------
registry_port=""
start_registry() {
	local k p
	mkdir -p "$work/registry/data"
	for ((k = 0; k < 20; k++)); do
		p=$((20000 + RANDOM % 20000))
		[ -z "$(ss -Hltn "sport = :$p")" ] && break
	done
	cat >"$work/registry/config.yml" <<EOF
version: 0.1
log:
  level: warn
storage:
  filesystem:
    rootdirectory: $work/registry/data
  delete:
    enabled: true
http:
  addr: 127.0.0.1:$p
EOF
	setsid docker-registry serve "$work/registry/config.yml" </dev/null >"$out/logs/registry.log" 2>&1 &
	registry_pid=$!
	for ((k = 0; k < 100; k++)); do
		curl -fsS "http://127.0.0.1:$p/v2/" >/dev/null 2>&1 && break
		kill -0 "$registry_pid" 2>/dev/null || { why="docker-registry exited: $(tail -3 "$out/logs/registry.log")"; return 1; }
		sleep 0.1
	done
	[ "$k" -lt 100 ] || { why="docker-registry did not answer on 127.0.0.1:$p"; return 1; }
	registry_port=$p
	skopeo copy -q --dest-tls-verify=false "docker-archive:$work/busybox.tar" "docker://127.0.0.1:$p/busybox:latest" \
		>"$out/logs/skopeo.log" 2>&1 || { why="skopeo copy failed: $(tail -3 "$out/logs/skopeo.log")"; return 1; }
}
say "starting docker-registry"
registry_ok=1
if ! start_registry; then
	registry_ok=0
	say "registry workload skipped: $why"
fi
if [ "$registry_ok" = 1 ]; then
	printf 'FROM 127.0.0.1:%s/busybox\n' "$registry_port" >"$ctx/pull/Dockerfile"
	# rt-build's registry support arrives with the registry branch.
	if ! "$RTB" pull --help 2>&1 | grep -qi '^usage:.* pull'; then
		na[pull-cold,rtb]="n/a (no registry support in this binary)"
	fi
fi

# ---- environment record ---------------------------------------------------------------------
{
	echo "date: $(date -u +%Y-%m-%dT%H:%M:%SZ)"
	echo "kernel: $(uname -r); cpus: $(nproc); load at start: $(cut -d' ' -f1-3 /proc/loadavg)"
	echo "settings: RUNS=$RUNS, context of the files workload: $FILES_DIRS dirs x $FILES_PER_DIR files"
	echo "rt-build: $RTB ($("$RTB" --version 2>&1 | head -1))"
	echo "buildah: $(buildah --version 2>&1 | head -1); storage driver $BUILDAH_DRIVER; bud --format docker --isolation chroot --layers"
	if [ -z "${na[buildkit]:-}" ]; then
		echo "BuildKit: dockerd $(dk version --format '{{.Server.Version}}' 2>&1), client $DOCKER ($(dk version --format '{{.Client.Version}}' 2>&1)); storage driver $(dk info --format '{{.Driver}}' 2>&1); DOCKER_BUILDKIT=1 docker build --network none"
	else
		echo "BuildKit: ${na[buildkit]}"
	fi
	echo "registry: $([ "$registry_ok" = 1 ] && echo "docker-registry $(docker-registry --version 2>&1 | awk '{print $NF}') on 127.0.0.1:$registry_port" || echo "not available")"
} >"$out/env.txt"
sed 's/^/build-bench: /' "$out/env.txt" >&2

# ---- smoke check -------------------------------------------------------------------------------
# Each tool builds the small project once, untimed (this also warms the
# page cache with each tool's binaries); one that fails is left out.
echo v1 >"$ctx/small/app.txt"
for t in "${tools[@]}"; do
	[ -z "${na[$t]:-}" ] || continue
	if ! { reset_tool "$t" && build_cmd "$t" "$ctx/small" smoke; } </dev/null >"$out/logs/smoke.$t.log" 2>&1; then
		na[$t]="n/a (failed the smoke build: $(tail -n 3 "$out/logs/smoke.$t.log" | tr '\n' ' ' | cut -c1-200))"
		say "${label[$t]}: ${na[$t]}"
	fi
done

# ---- timed workloads -------------------------------------------------------------------------------
for ((r = 0; r < RUNS; r++)); do
	say "run $((r + 1))/$RUNS: small project (cold, cached, one file edited)"
	for t in $(order "$r"); do
		usable "$t" small-cold small-cached small-edit || continue
		echo v1 >"$ctx/small/app.txt"
		quiet "$out/logs/small-cold.$t.reset$r.log" reset_tool "$t" || { exclude small-cold "$t" "$out/logs/small-cold.$t.reset$r.log"; continue; }
		timed small-cold "$t" "$r" build_cmd "$t" "$ctx/small" small || continue
		timed small-cached "$t" "$r" build_cmd "$t" "$ctx/small" small || continue
		echo "v2 run $r ${label[$t]} $RANDOM" >"$ctx/small/app.txt"
		timed small-edit "$t" "$r" build_cmd "$t" "$ctx/small" small || continue
	done
	echo v1 >"$ctx/small/app.txt"

	say "run $((r + 1))/$RUNS: two independent stages"
	for t in $(order "$r"); do
		usable "$t" twostage-cold || continue
		quiet "$out/logs/twostage-cold.$t.reset$r.log" reset_tool "$t" || { exclude twostage-cold "$t" "$out/logs/twostage-cold.$t.reset$r.log"; continue; }
		timed twostage-cold "$t" "$r" build_cmd "$t" "$ctx/twostage" twostage || continue
	done

	say "run $((r + 1))/$RUNS: COPY of $((FILES_DIRS * FILES_PER_DIR)) files (cold, one file changed)"
	for t in $(order "$r"); do
		usable "$t" files-cold files-edit || continue
		printf '%s\n' "$one_file_orig" >"$one_file"
		quiet "$out/logs/files-cold.$t.reset$r.log" reset_tool "$t" || { exclude files-cold "$t" "$out/logs/files-cold.$t.reset$r.log"; continue; }
		timed files-cold "$t" "$r" build_cmd "$t" "$ctx/files" files || continue
		echo "changed in run $r for ${label[$t]} $RANDOM" >"$one_file"
		timed files-edit "$t" "$r" build_cmd "$t" "$ctx/files" files || continue
	done
	printf '%s\n' "$one_file_orig" >"$one_file"
done

# The registry workload comes last: the Docker store loses its busybox for it
# (a layer already in a store would not be pulled again).
if [ "$registry_ok" = 1 ]; then
	for ((r = 0; r < RUNS; r++)); do
		say "run $((r + 1))/$RUNS: FROM 127.0.0.1:$registry_port/busybox (cold pull)"
		for t in $(order "$r"); do
			usable "$t" pull-cold || continue
			quiet "$out/logs/pull-cold.$t.reset$r.log" reset_pull_tool "$t" || { exclude pull-cold "$t" "$out/logs/pull-cold.$t.reset$r.log"; continue; }
			timed pull-cold "$t" "$r" pull_build_cmd "$t" "$ctx/pull" pulled || continue
		done
	done
else
	for t in "${tools[@]}"; do na[pull-cold,$t]="n/a (no registry)"; done
fi
echo "load at end: $(cut -d' ' -f1-3 /proc/loadavg)" >>"$out/env.txt"

# ---- report ---------------------------------------------------------------------------------------------
printf 'RUNS=%s\nFILES=%s\n' "$RUNS" "$((FILES_DIRS * FILES_PER_DIR))" >"$out/raw/settings"
: >"$out/raw/na.tsv"
for k in "${!na[@]}"; do printf '%s\t%s\n' "$k" "${na[$k]}" >>"$out/raw/na.tsv"; done
render_report "$out"
