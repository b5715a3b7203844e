#!/usr/bin/env bash
# Throughput of runc-compatible runtimes: N containers `run` (process `true`)
# at each concurrency level, wall time for all of them.
#
#   hack/bench/throughput.sh [--quick] [-o OUTDIR] [-n N] [-c 1,2,8,32] RUNTIME...
#   e.g. hack/bench/throughput.sh target/x86_64-unknown-linux-gnu/release/rt /usr/bin/crun /usr/sbin/runc
# A runtime is a path or command name, labelled by its basename, or
# LABEL=PATH (e.g. rt-old=/tmp/rt.old for an A/B run).
#
# For each level C and each round, every runtime (order rotated from round to
# round) runs `R run -b B tp-K` for K = 1..N through `xargs -P C`, so at most
# C runs are in flight; the wall time of the whole batch is recorded, with
# the CPU time (user + system) of all its processes. The floor program
# (floor.c) runs the same batch as a reference. Medians of ROUNDS rounds and
# the ratios between runtimes of the same level are what to read.
#
# Options:
#   --quick      N=40 ROUNDS=1
#   -o OUTDIR    results directory (default /tmp/rt-throughput.<time>.<pid>)
#   -n N         containers per batch (default 200)
#   -c LIST      concurrency levels (default 1,2,8,32)
# Environment: ROUNDS (3), NO_FLOOR (unset: include the floor), BUNDLE_FILTER
#   (a jq filter applied to the bundle's config.json, e.g. a user namespace)
set -euo pipefail

here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
self=$here/$(basename "${BASH_SOURCE[0]}")

say() { echo "throughput: $*" >&2; }
fail() { echo "throughput: $*" >&2; exit 1; }
usage() { sed -n '5,6p' "$self" | sed 's/^# *//' >&2; exit 2; }

quick=0 out=${OUT:-} n=200 levels="1 2 8 32"
orig_args=("$@")
while [ $# -gt 0 ]; do
	case "$1" in
	--quick) quick=1; shift ;;
	-o) [ $# -ge 2 ] || usage; out=$2; shift 2 ;;
	-n) [ $# -ge 2 ] || usage; n=$2; shift 2 ;;
	-c) [ $# -ge 2 ] || usage; levels=${2//,/ }; shift 2 ;;
	-h | --help) usage ;;
	--) shift; break ;;
	-*) fail "unknown option: $1" ;;
	*) break ;;
	esac
done
[ $# -ge 1 ] || usage
if [ "$quick" = 1 ]; then
	[[ " ${orig_args[*]} " == *" -n "* ]] || n=40
	ROUNDS=${ROUNDS:-1}
fi
ROUNDS=${ROUNDS:-3}
[ "$(id -u)" = 0 ] || fail "must run as root"
for tool in jq unshare xargs; do command -v "$tool" >/dev/null || fail "missing tool: $tool"; done

. "$here/private-ns.sh"
enter_private_ns "$self" "${orig_args[@]}"
hide_v2_controllers_on_hybrid

declare -a names=() paths=()
for r in "$@"; do
	label=""
	if [[ "$r" =~ ^([A-Za-z0-9._-]+)=(.+)$ ]]; then
		label=${BASH_REMATCH[1]} r=${BASH_REMATCH[2]}
	fi
	p=$(command -v "$r" 2>/dev/null) || fail "runtime not found: $r"
	p=$(realpath "$p")
	names+=("${label:-$(basename "$p")}")
	paths+=("$p")
done

out=${out:-/tmp/rt-throughput.$(date +%Y%m%d-%H%M%S).$$}
mkdir -p "$out"
out=$(cd "$out" && pwd)
rm -rf "$out"/{raw,bundle,state,bin}
mkdir -p "$out"/{raw,state,bin}
say "results in $out"

cleanup() {
	local i id
	for i in "${!names[@]}"; do
		for id in "$out/state/${names[$i]}"/*; do
			[ -e "$id" ] || continue
			"${paths[$i]}" --root "$out/state/${names[$i]}" delete -f "$(basename "$id")" >/dev/null 2>&1 || true
		done
	done
	rm -rf "$out/state"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

"$here/../mkbundle.sh" "$out/bundle" true >/dev/null
if [ -n "${BUNDLE_FILTER:-}" ]; then
	jq "$BUNDLE_FILTER" "$out/bundle/config.json" >"$out/bundle/config.json.new"
	mv "$out/bundle/config.json.new" "$out/bundle/config.json"
fi

floor=""
if [ -z "${NO_FLOOR:-}" ] && command -v gcc >/dev/null &&
	gcc -O2 -Wall -o "$out/bin/floor" "$here/floor.c" 2>"$out/raw/floor-build.err"; then
	floor=$out/bin/floor
fi

# One batch: N runs at concurrency C. `run` of a busybox `true` prints
# nothing; a failing run makes xargs exit 123 and the batch is discarded.
batch() { # batch LABEL C [I]: sets t0, t1 (EPOCHREALTIME) and rc (xargs' status)
	local label=$1 c=$2 cmd
	rc=0
	if [ "$label" = floor ]; then
		cmd=("$floor" "$out/bundle/rootfs" true)
		t0=$EPOCHREALTIME
		seq "$n" | xargs -P "$c" -I{} "${cmd[@]}" >/dev/null 2>>"$out/raw/errors.log" || rc=$?
	else
		local i=$3
		t0=$EPOCHREALTIME
		seq "$n" | xargs -P "$c" -I{} "${paths[$i]}" --root "$out/state/$label" run -b "$out/bundle" "tp-{}" \
			>/dev/null 2>>"$out/raw/errors.log" || rc=$?
	fi
	t1=$EPOCHREALTIME
}

contenders=()
for i in "${!names[@]}"; do
	mkdir -p "$out/state/${names[$i]}"
	if "${paths[$i]}" --root "$out/state/${names[$i]}" run -b "$out/bundle" smoke </dev/null >/dev/null 2>"$out/raw/smoke-${names[$i]}.err"; then
		contenders+=("$i")
	else
		say "${names[$i]} left out: $(head -c 300 "$out/raw/smoke-${names[$i]}.err")"
	fi
done
[ -z "$floor" ] || contenders+=(floor)

{
	echo "date: $(date -u +%Y-%m-%dT%H:%M:%SZ)"
	echo "kernel: $(uname -r); cpus: $(nproc); load at start: $(cut -d' ' -f1-3 /proc/loadavg)"
	echo "cgroups: $cgroup_note"
	echo "settings: N=$n levels=[$levels] ROUNDS=$ROUNDS BUNDLE_FILTER=${BUNDLE_FILTER:-}"
	for i in "${!names[@]}"; do echo "runtime ${names[$i]}: ${paths[$i]}"; done
} >"$out/env.txt"

# times.tsv: level, runtime, round, wall seconds, CPU seconds (user+system of
# everything the batch ran, from the children's rusage of this shell).
: >"$out/raw/times.tsv"
k=${#contenders[@]}
for c in $levels; do
	for ((round = 0; round < ROUNDS; round++)); do
		for ((j = 0; j < k; j++)); do
			x=${contenders[$(((j + round) % k))]}
			if [ "$x" = floor ]; then label=floor; else label=${names[$x]}; fi
			read -r cu0 cs0 < <(awk '{print $16, $17}' /proc/$$/stat)
			batch "$label" "$c" "$x"
			read -r cu1 cs1 < <(awk '{print $16, $17}' /proc/$$/stat)
			if [ "$rc" != 0 ]; then
				say "c=$c $label round $round: a run failed (xargs $rc), batch discarded; see raw/errors.log"
				continue
			fi
			wall=$(echo "$t1 - $t0" | bc -l)
			cpu=$(echo "($cu1 + $cs1 - $cu0 - $cs0) / $(getconf CLK_TCK)" | bc -l)
			printf '%s\t%s\t%s\t%.4f\t%.3f\n' "$c" "$label" "$round" "$wall" "$cpu" >>"$out/raw/times.tsv"
			say "c=$c $label round $((round + 1))/$ROUNDS: $(printf '%.3f' "$wall") s"
		done
	done
done
echo "load at end: $(cut -d' ' -f1-3 /proc/loadavg)" >>"$out/env.txt"

# ---- report --------------------------------------------------------------------
order=$(for i in "${!names[@]}"; do echo "${names[$i]}"; done; [ -z "$floor" ] || echo floor)
{
	echo "# throughput: $n × \`run true\` per batch"
	echo
	sed 's/^/    /' "$out/env.txt"
	echo
	printf '| concurrency | runtime | batches | median wall (s) | containers/s | CPU s / batch |'
	for r in $order; do printf ' ÷ %s |' "$r"; done
	echo
	printf '|---|---|---|---|---|---|'
	for r in $order; do printf -- '---|'; done
	echo
	for c in $levels; do
		for r in $order; do
			med=$(awk -F'\t' -v c="$c" -v r="$r" '$1 == c && $2 == r {print $4}' "$out/raw/times.tsv" | sort -g |
				awk '{v[NR] = $1} END {if (NR == 0) print ""; else if (NR % 2) print v[(NR + 1) / 2]; else print (v[NR / 2] + v[NR / 2 + 1]) / 2}')
			[ -n "$med" ] || continue
			cnt=$(awk -F'\t' -v c="$c" -v r="$r" '$1 == c && $2 == r' "$out/raw/times.tsv" | wc -l)
			cpu=$(awk -F'\t' -v c="$c" -v r="$r" '$1 == c && $2 == r {s += $5; k++} END {printf "%.2f", s / k}' "$out/raw/times.tsv")
			printf '| %s | %s | %s | %.3f | %.1f | %s |' "$c" "$r" "$cnt" "$med" "$(echo "$n / $med" | bc -l)" "$cpu"
			for o in $order; do
				om=$(awk -F'\t' -v c="$c" -v r="$o" '$1 == c && $2 == r {print $4}' "$out/raw/times.tsv" | sort -g |
					awk '{v[NR] = $1} END {if (NR == 0) print ""; else if (NR % 2) print v[(NR + 1) / 2]; else print (v[NR / 2] + v[NR / 2 + 1]) / 2}')
				if [ -n "$om" ]; then printf ' %.2f |' "$(echo "$med / $om" | bc -l)"; else printf ' |'; fi
			done
			echo
		done
	done
} >"$out/results.md"
cat "$out/results.md"
