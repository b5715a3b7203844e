#!/usr/bin/env bash
# Side-by-side performance benchmark of runc-compatible OCI runtimes.
#
#   hack/bench/run.sh [--quick] [-o OUTDIR] [-b BENCH,...] RT [RUNTIME...]
#   e.g. hack/bench/run.sh target/x86_64-unknown-linux-gnu/release/rt /usr/bin/crun /usr/sbin/runc
# A runtime is a path or command name, labelled by its basename, or
# LABEL=PATH. The first one given is listed first.
#
# Every benchmark times all runtimes in one hyperfine invocation, repeated
# ROUNDS times with the runtime order rotated, so a noisy machine slows every
# runtime alike; medians and the ratios between runtimes are what to read.
# See hack/bench/README.md for the benchmarks and the output files.
#
# Options:
#   --quick        smoke-check settings: RUNS=5 ROUNDS=2 WARMUP=1 RSS_SAMPLES=3
#   -o OUTDIR      results directory (default /tmp/rt-bench.<time>.<pid>)
#   -b LIST        comma-separated subset of the benchmarks (default: all)
# Environment (defaults): RUNS (30) ROUNDS (3) WARMUP (3) RSS_SAMPLES (20)
#   LIMIT_MEMORY (268435456) LIMIT_PIDS (128) USERNS_HOST_ID (100000)
#   NO_FLOOR (unset: build the floor and the exec floor)
set -euo pipefail

here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
self=$here/$(basename "${BASH_SOURCE[0]}")
all_benches="run lifecycle exec seccomp-run seccomp-lifecycle limits-run limits-lifecycle userns-run userns-idle-run userns-lifecycle rss"

say() { echo "bench: $*" >&2; }
fail() { echo "bench: $*" >&2; exit 1; }
usage() { sed -n '4,7p' "$self" | sed 's/^# *//' >&2; exit 2; }

# ---- arguments ---------------------------------------------------------------
quick=0
out=${OUT:-}
benches=$all_benches
orig_args=("$@")
while [ $# -gt 0 ]; do
	case "$1" in
	--quick) quick=1; shift ;;
	-o) [ $# -ge 2 ] || usage; out=$2; shift 2 ;;
	-b) [ $# -ge 2 ] || usage; benches=${2//,/ }; shift 2 ;;
	-h | --help) usage ;;
	--) shift; break ;;
	-*) fail "unknown option: $1" ;;
	*) break ;;
	esac
done
[ $# -ge 1 ] || usage
for b in $benches; do
	[[ " $all_benches " == *" $b "* ]] || fail "unknown benchmark '$b' (known: $all_benches)"
done
if [ "$quick" = 1 ]; then
	RUNS=${RUNS:-5} ROUNDS=${ROUNDS:-2} WARMUP=${WARMUP:-1} RSS_SAMPLES=${RSS_SAMPLES:-3}
fi
RUNS=${RUNS:-30} ROUNDS=${ROUNDS:-3} WARMUP=${WARMUP:-3} RSS_SAMPLES=${RSS_SAMPLES:-20}
LIMIT_MEMORY=${LIMIT_MEMORY:-268435456} LIMIT_PIDS=${LIMIT_PIDS:-128} USERNS_HOST_ID=${USERNS_HOST_ID:-100000}

[ "$(id -u)" = 0 ] || fail "must run as root"
for tool in hyperfine jq unshare mount /usr/bin/time; do
	command -v "$tool" >/dev/null || fail "missing tool: $tool"
done

# ---- private mount namespace (see private-ns.sh) ----------------------------
. "$here/private-ns.sh"
enter_private_ns "$self" "${orig_args[@]}"
hide_v2_controllers_on_hybrid

# ---- runtimes --------------------------------------------------------------------
# names[i] labels runtime i in tables; paths[i] is its absolute path.
declare -a names=() paths=()
for r in "$@"; do
	n=""
	# LABEL=PATH names a runtime explicitly (e.g. rt-debug=target/debug/rt).
	if [[ "$r" =~ ^([A-Za-z0-9._-]+)=(.+)$ ]]; then
		n=${BASH_REMATCH[1]}
		r=${BASH_REMATCH[2]}
	fi
	p=$(command -v "$r" 2>/dev/null) || fail "runtime not found: $r"
	[ -x "$p" ] || fail "runtime not executable: $p"
	p=$(realpath "$p")
	n=${n:-$(basename "$p")}
	for m in "${names[@]}"; do
		[ "$m" != "$n" ] || n="$n-$((${#names[@]} + 1))"
	done
	[ "$n" != floor ] || n=floor-runtime
	names+=("$n")
	paths+=("$p")
done

out=${out:-/tmp/rt-bench.$(date +%Y%m%d-%H%M%S).$$}
mkdir -p "$out"
out=$(cd "$out" && pwd)
rm -rf "$out"/{raw,bundles,state,bin}
mkdir -p "$out"/{raw,bundles,state,bin}
say "results in $out"

# A cgroup parent owned by this run: the limits-* bundles put their containers
# under it, and it is removed (in every hierarchy) at exit.
cg_parent=rt-bench.$$

state_of() { echo "$out/state/${names[$1]}"; }
rt() { # rt I ARGS...: runtime I with its private state directory
	local i=$1
	shift
	"${paths[$i]}" --root "$(state_of "$i")" "$@"
}
rt_cmdline() { # rt_cmdline I ARGS...: the same, quoted for hyperfine's shell
	local i=$1
	shift
	printf '%q ' "${paths[$i]}" --root "$(state_of "$i")" "$@"
}

cleanup() {
	local i d id
	for i in "${!names[@]}"; do
		d=$(state_of "$i")
		[ -d "$d" ] || continue
		for id in "$d"/*; do
			[ -e "$id" ] || continue
			rt "$i" delete -f "$(basename "$id")" </dev/null >/dev/null 2>&1 || true
		done
	done
	# Containers are gone, so their cgroups are empty: remove ours bottom-up.
	for d in /sys/fs/cgroup/*/"$cg_parent" /sys/fs/cgroup/"$cg_parent"; do
		[ -d "$d" ] || continue
		find "$d" -depth -type d -exec rmdir {} + 2>/dev/null
		[ ! -d "$d" ] || say "WARNING: could not remove cgroup $d (still in use?)"
	done
	rm -rf "$out/state"
	return 0
}
trap cleanup EXIT
trap 'exit 130' INT TERM

# ---- bundles ------------------------------------------------------------------------
# One rootfs; each bundle is a config.json pointing at it.
"$here/../mkbundle.sh" "$out/bundles/base" true >/dev/null
rootfs=$out/bundles/base/rootfs
"$here/docker-seccomp.sh" >"$out/bundles/docker-seccomp.json"

make_bundle() { # make_bundle NAME JQ-FILTER CMD...: bundle NAME from the base config
	local name=$1 filter=$2
	shift 2
	mkdir -p "$out/bundles/$name"
	jq --arg rootfs "$rootfs" --slurpfile seccomp "$out/bundles/docker-seccomp.json" \
		--argjson args "$(jq -n '$ARGS.positional' --args -- "$@")" \
		--argjson mem "$LIMIT_MEMORY" --argjson pids "$LIMIT_PIDS" --argjson uid "$USERNS_HOST_ID" \
		".root.path = \$rootfs | .process.args = \$args | $filter" \
		"$out/bundles/base/config.json" >"$out/bundles/$name/config.json"
}
make_bundle true '.' true
make_bundle sleep '.' sleep 3600
make_bundle seccomp-true '.linux.seccomp = $seccomp[0]' true
make_bundle seccomp-sleep '.linux.seccomp = $seccomp[0]' sleep 3600
# A user namespace: container root is host uid/gid USERNS_HOST_ID (100000),
# 65536 ids; the shared rootfs is root-owned and world-readable, which is
# all a read-only root needs.
userns='.linux.namespaces += [{type: "user"}] | .linux.uidMappings = [{containerID: 0, hostID: $uid, size: 65536}] | .linux.gidMappings = [{containerID: 0, hostID: $uid, size: 65536}]'
make_bundle userns-true "$userns" true
make_bundle userns-sleep "$userns" sleep 3600
limits='.linux.resources.memory = {limit: $mem} | .linux.resources.pids = {limit: $pids}'
for i in "${!names[@]}"; do
	# A cgroup per runtime, so no runtime ever finds another's leftovers.
	cgp="/$cg_parent/${names[$i]}"
	make_bundle "limits-true-${names[$i]}" "$limits | .linux.cgroupsPath = \"$cgp-run\"" true
	make_bundle "limits-sleep-${names[$i]}" "$limits | .linux.cgroupsPath = \"$cgp-lifecycle\"" sleep 3600
	mkdir -p "$(state_of "$i")"
done

# ---- the floor ------------------------------------------------------------------------
floor="" exec_floor=""
if [ -z "${NO_FLOOR:-}" ]; then
	if command -v gcc >/dev/null && gcc -O2 -Wall -o "$out/bin/floor" "$here/floor.c" 2>"$out/raw/floor-build.err"; then
		floor=$out/bin/floor
	else
		say "floor not built (see $out/raw/floor-build.err); no floor column"
	fi
	# The exec floor: a statically linked glibc program that does nothing,
	# timed in the run benchmark. Every runtime pays one such start-up per
	# invocation and the container's `true` pays another; on a VM, glibc's
	# start-up executes CPUID dozens of times (the cache-size probe), each a
	# trap to the hypervisor (about 9 µs here, 0.7 ms per exec).
	if command -v gcc >/dev/null && printf 'int main(void) { return 0; }\n' |
		gcc -O2 -static -x c -o "$out/bin/exec-floor" - 2>"$out/raw/exec-floor-build.err"; then
		exec_floor=$out/bin/exec-floor
	else
		say "exec floor not built (see $out/raw/exec-floor-build.err)"
	fi
fi

# ---- environment record ------------------------------------------------------------------
{
	echo "date: $(date -u +%Y-%m-%dT%H:%M:%SZ)"
	echo "kernel: $(uname -r); cpus: $(nproc); load at start: $(cut -d' ' -f1-3 /proc/loadavg)"
	echo "hyperfine: $(hyperfine --version)"
	echo "cgroups: $cgroup_note"
	echo "settings: RUNS=$RUNS ROUNDS=$ROUNDS WARMUP=$WARMUP RSS_SAMPLES=$RSS_SAMPLES LIMIT_MEMORY=$LIMIT_MEMORY LIMIT_PIDS=$LIMIT_PIDS"
	for i in "${!names[@]}"; do
		echo "runtime ${names[$i]}: ${paths[$i]} ($(rt "$i" --version 2>&1 | head -1))"
	done
	[ -z "$floor" ] || echo "floor: $floor (gcc $(gcc -dumpversion))"
	[ -z "$exec_floor" ] || echo "exec floor: $exec_floor (static glibc $(ldd --version 2>/dev/null | head -1 | awk '{print $NF}'))"
} >"$out/env.txt"
sed 's/^/bench: /' "$out/env.txt" >&2

# ---- what each benchmark runs ---------------------------------------------------------------
bundle_for() { # bundle_for BENCH I: the bundle directory runtime I uses
	case "$1" in
	run) echo "$out/bundles/true" ;;
	lifecycle | exec | rss) echo "$out/bundles/sleep" ;;
	seccomp-run) echo "$out/bundles/seccomp-true" ;;
	seccomp-lifecycle) echo "$out/bundles/seccomp-sleep" ;;
	limits-run) echo "$out/bundles/limits-true-${names[$2]}" ;;
	limits-lifecycle) echo "$out/bundles/limits-sleep-${names[$2]}" ;;
	userns-run | userns-idle-run) echo "$out/bundles/userns-true" ;;
	userns-lifecycle) echo "$out/bundles/userns-sleep" ;;
	esac
}
command_for() { # command_for BENCH I: the shell command hyperfine times
	local b=$1 i=$2 id="$1-${names[$2]}" bundle
	bundle=$(bundle_for "$b" "$i")
	case "$b" in
	*run) rt_cmdline "$i" run -b "$bundle" "$id" ;;
	*lifecycle)
		echo "$(rt_cmdline "$i" create -b "$bundle" "$id")&& $(rt_cmdline "$i" start "$id")&& $(rt_cmdline "$i" delete -f "$id")"
		;;
	exec) rt_cmdline "$i" exec "exec-target-${names[$i]}" true ;;
	esac
}

# Each runtime first does each benchmark once outside hyperfine; one that
# fails is left out of that benchmark (and listed in the report) instead of
# aborting the whole run: rt is expected to lack features while it grows.
declare -A usable=() tested=()
: >"$out/raw/excluded.tsv"
exclude() { # exclude BENCH I REASON-FILE
	local why
	why=$(tr '\n' ' ' <"$3" | cut -c1-240)
	printf '%s\t%s\t%s\n' "$1" "${names[$2]}" "$why" >>"$out/raw/excluded.tsv"
	say "${names[$2]} left out of $1: $why"
}
smoke() { # smoke BENCH I
	local b=$1 i=$2 err="$out/raw/smoke-$1-${names[$2]}.err"
	tested[$b,$i]=1
	local rc=0
	timeout 60 bash -c "$(command_for "$b" "$i")" </dev/null >/dev/null 2>"$err" || rc=$?
	if [ "$rc" != 0 ]; then
		echo "(exit $rc)" >>"$err"
		exclude "$b" "$i" "$err"
	elif ! check_applied "$b" "$i" 2>>"$err"; then
		exclude "$b" "$i" "$err"
	else
		usable[$b,$i]=1
	fi
}

# A runtime that skipped the seccomp filter or the limits would look fast for
# the wrong reason: check in a live container that they are in force.
cgroup_value() { # cgroup_value PID V1-CONTROLLER V1-FILE V2-FILE
	local pid=$1 path
	path=$(awk -F: -v c="$2" '{ n = split($2, cs, ","); for (k = 1; k <= n; k++) if (cs[k] == c) print $3 }' "/proc/$pid/cgroup")
	if [ -n "$path" ] && [ -r "/sys/fs/cgroup/$2$path/$3" ]; then
		cat "/sys/fs/cgroup/$2$path/$3"
		return
	fi
	path=$(awk -F: '$1 == "0" { print $3 }' "/proc/$pid/cgroup")
	cat "/sys/fs/cgroup$path/$4" 2>/dev/null || cat "/sys/fs/cgroup/unified$path/$4" 2>/dev/null || echo "(no $3/$4)"
}
check_applied() { # check_applied BENCH I
	local b=$1 i=$2 id pid got problem=""
	# A `run` of `true` is over too soon to look at: its twin lifecycle bundle
	# (same config, a `sleep` process) is checked instead.
	case "$b" in
	seccomp-run | limits-run | userns-run) b=${b%-run}-lifecycle ;;
	userns-idle-run) b=userns-lifecycle ;;
	seccomp-lifecycle | limits-lifecycle | userns-lifecycle) ;;
	*) return 0 ;;
	esac
	id="check-$b-${names[$i]}"
	rt "$i" create -b "$(bundle_for "$b" "$i")" "$id" </dev/null >/dev/null &&
		rt "$i" start "$id" </dev/null >/dev/null || { rt "$i" delete -f "$id" >/dev/null 2>&1; return 1; }
	pid=$(rt "$i" state "$id" | jq -r '.pid // 0')
	case "$b" in
	seccomp-lifecycle)
		got=$(awk '/^Seccomp:/ {print $2}' "/proc/$pid/status")
		[ "$got" = 2 ] || problem="seccomp not in force in the container (Seccomp: $got)"
		;;
	limits-lifecycle)
		got=$(cgroup_value "$pid" memory memory.limit_in_bytes memory.max)
		[ "$got" = "$LIMIT_MEMORY" ] || problem="memory limit not applied (found $got)"
		got=$(cgroup_value "$pid" pids pids.max pids.max)
		[ "$got" = "$LIMIT_PIDS" ] || problem="$problem${problem:+; }pids limit not applied (found $got)"
		;;
	userns-lifecycle)
		got=$(awk '{print $1, $2, $3}' "/proc/$pid/uid_map")
		[ "$got" = "0 $USERNS_HOST_ID 65536" ] || problem="container not in the user namespace (uid_map: $got)"
		;;
	esac
	rt "$i" delete -f "$id" </dev/null >/dev/null 2>&1 || true
	[ -z "$problem" ] || { echo "$problem" >&2; return 1; }
}

if [[ " $benches " == *" exec "* ]]; then
	for i in "${!names[@]}"; do
		id="exec-target-${names[$i]}"
		err="$out/raw/exec-target-${names[$i]}.err"
		{ rt "$i" create -b "$out/bundles/sleep" "$id" && rt "$i" start "$id"; } </dev/null >/dev/null 2>"$err" ||
			say "could not start the exec target for ${names[$i]}"
	done
fi

# ---- timed benchmarks --------------------------------------------------------------------------
for b in $benches; do
	[ "$b" != rss ] || continue
	contenders=() # "label<TAB>command" lines
	for i in "${!names[@]}"; do
		smoke "$b" "$i"
		[ -z "${usable[$b,$i]:-}" ] || contenders+=("${names[$i]}"$'\t'"$(command_for "$b" "$i")")
	done
	if [ "$b" = run ] && [ -n "$floor" ]; then
		contenders+=("floor"$'\t'"$(printf '%q ' "$floor" "$rootfs" true)")
	fi
	if [ "$b" = run ] && [ -n "$exec_floor" ]; then
		contenders+=("exec-floor"$'\t'"$(printf '%q' "$exec_floor")")
	fi
	[ ${#contenders[@]} -gt 0 ] || { say "$b: no runtime could run it, skipped"; continue; }
	n=${#contenders[@]}
	# Single commands run without a shell (-N), so that a millisecond-scale
	# floor is not lost in the shell start-up hyperfine subtracts; the
	# lifecycle chains need bash for their &&.
	case "$b" in *lifecycle) shell_opt=(--shell bash) ;; *) shell_opt=(-N) ;; esac
	# userns-idle-run: the same run after 0.3 s of nothing (untimed), as
	# containers start on a node that is not creating one every few ms.
	# Back to back, the kernel's cgroup_threadgroup_rwsem stays on its fast
	# path; after an idle spell the first writer of a cgroup.procs file
	# waits for an RCU grace period (~13 ms here).
	prepare=()
	[ "$b" != userns-idle-run ] || prepare=(--prepare "sleep 0.3")
	for ((round = 0; round < ROUNDS; round++)); do
		args=()
		for ((k = 0; k < n; k++)); do
			c=${contenders[$(((k + round) % n))]}
			args+=(--command-name "${c%%$'\t'*}" "${c#*$'\t'}")
		done
		say "$b: round $((round + 1))/$ROUNDS"
		hyperfine --style basic "${shell_opt[@]}" "${prepare[@]}" --warmup "$WARMUP" --runs "$RUNS" \
			--export-json "$out/raw/$b.round$round.json" "${args[@]}" </dev/null >"$out/raw/$b.round$round.log" 2>&1 ||
			{ say "$b round $round failed (see raw/$b.round$round.log)"; rm -f "$out/raw/$b.round$round.json"; }
	done
done

# ---- memory: peak RSS of `create` and of the waiting container init ------------------------------
if [[ " $benches " == *" rss "* ]]; then
	for i in "${!names[@]}"; do
		# rss needs create and delete to work at all.
		[ -n "${tested[lifecycle,$i]:-}" ] || smoke lifecycle "$i"
		[ -n "${usable[lifecycle,$i]:-}" ] || { exclude rss "$i" "$out/raw/smoke-lifecycle-${names[$i]}.err"; continue; }
		say "rss: ${names[$i]}, $RSS_SAMPLES samples"
		# A binary's resident text depends on how its page cache was filled:
		# a file just written (cp, a linker, dpkg) sits in large folios, and
		# a page fault maps a whole folio, which showed as 350 KiB more peak
		# RSS for the same rt. Dropping the binary's cached pages makes every
		# runtime's text come back through exec's readahead alike. Dirty
		# pages cannot be dropped: write them back first.
		sync "${paths[$i]}" 2>/dev/null || true
		dd if="${paths[$i]}" iflag=nocache count=0 status=none 2>/dev/null || true
		rt "$i" --version >/dev/null 2>&1 || true
		samples="$out/raw/rss.${names[$i]}.tsv"
		: >"$samples"
		for ((s = 0; s < RSS_SAMPLES; s++)); do
			id="rss-${names[$i]}-$s"
			/usr/bin/time -f %M -o "$out/raw/time.out" "${paths[$i]}" --root "$(state_of "$i")" \
				create -b "$out/bundles/sleep" "$id" </dev/null >/dev/null 2>&1 || continue
			pid=$(rt "$i" state "$id" 2>/dev/null | jq -r '.pid // 0')
			# Until `start`, the container's pid 1 is still runtime code (runc init,
			# crun's child, rt's init), waiting for the go-ahead.
			hwm=$(awk '/^VmHWM:/ {print $2}' "/proc/$pid/status" 2>/dev/null || true)
			cur=$(awk '/^VmRSS:/ {print $2}' "/proc/$pid/status" 2>/dev/null || true)
			printf '%s\t%s\t%s\n' "$(tail -n 1 "$out/raw/time.out")" "${hwm:-0}" "${cur:-0}" >>"$samples"
			rt "$i" delete -f "$id" </dev/null >/dev/null 2>&1 || true
		done
		rm -f "$out/raw/time.out"
	done
fi

echo "load at end: $(cut -d' ' -f1-3 /proc/loadavg)" >>"$out/env.txt"
"$here/report.sh" "$out" "${names[@]}"
