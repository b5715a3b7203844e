#!/usr/bin/env bash
# Where does a runtime spend its time in create / start / delete -f?
#
#   hack/bench/strace-steps.sh [-o OUTDIR] RT [CMD...]
#
# Runs one create, start, delete -f of a busybox bundle (process CMD, default
# `sleep 3600`) three ways and prints, per step:
#   - wall time without tracing;
#   - `strace -f -c` summary (calls, errors, kernel time per system call);
#   - from `strace -f -tt -T`: every process the step ran (what it executed,
#     from first to last event), the slowest single system calls (blocking
#     waits included) and the longest gaps between two events of one process
#     (time in user space, or off the CPU between calls).
# Full traces are kept in OUTDIR (default /tmp/rt-strace.<pid>).
# Tracing slows everything down several times: compare the shapes, not the
# absolute numbers. Same private mount namespace and hybrid-cgroup workaround
# as run.sh (private-ns.sh).
set -euo pipefail

here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
self=$here/$(basename "${BASH_SOURCE[0]}")
fail() { echo "strace-steps: $*" >&2; exit 1; }
usage() { sed -n '4p' "$self" | sed 's/^# *//' >&2; exit 2; }

out=""
orig_args=("$@")
while [ $# -gt 0 ]; do
	case "$1" in
	-o) [ $# -ge 2 ] || usage; out=$2; shift 2 ;;
	-h | --help) usage ;;
	-*) fail "unknown option: $1" ;;
	*) break ;;
	esac
done
[ $# -ge 1 ] || usage
[ "$(id -u)" = 0 ] || fail "must run as root"
command -v strace >/dev/null || fail "strace is needed (apt-get install strace)"
rt_path=$(command -v "$1") || fail "runtime not found: $1"
rt_path=$(realpath "$rt_path")
shift
[ $# -gt 0 ] || set -- sleep 3600

. "$here/private-ns.sh"
. "$here/lib.sh"
enter_private_ns "$self" "${orig_args[@]}"
hide_v2_controllers_on_hybrid

out=${out:-/tmp/rt-strace.$$}
mkdir -p "$out"
out=$(cd "$out" && pwd)
state=$out/state
id_base=strace-$$
cleanup() {
	delete_all "$rt_path" "$state"
	return 0
}
trap cleanup EXIT
trap 'exit 130' INT TERM

rm -rf "$out/bundle"
"$here/../mkbundle.sh" "$out/bundle" "$@" >/dev/null
echo "runtime: $rt_path ($("$rt_path" --version 2>&1 | head -1)); cgroups: $cgroup_note"
echo "bundle: $out/bundle (process: $*); traces: $out"

# step_cmd STEP ID: the runtime command line of STEP for container ID.
step_cmd() {
	case "$1" in
	create) echo "$rt_path" --root "$state" create -b "$out/bundle" "$2" ;;
	start) echo "$rt_path" --root "$state" start "$2" ;;
	delete) echo "$rt_path" --root "$state" delete -f "$2" ;;
	esac
}
steps="create start delete"

# traced STRACE-OPTION... -- CMD...: strace CMD and return once CMD itself has
# exited. `create` leaves the container's process behind, still traced (it is
# a descendant), and strace -f would wait for it for as long as it lives; so
# strace is stopped with SIGTERM once CMD is gone, which detaches it and
# still writes the summary. (-I 2: strace given -o FILE and a command blocks
# fatal signals by default.)
traced() {
	local spid child="" n=0
	strace -I 2 "$@" </dev/null >/dev/null &
	spid=$!
	while [ -z "$child" ] && [ $n -lt 500 ] && kill -0 "$spid" 2>/dev/null; do
		child=$(pgrep -P "$spid" | head -n 1 || true)
		[ -n "$child" ] || sleep 0.01
		n=$((n + 1))
	done
	while [ -n "$child" ] && [ -e "/proc/$child" ] && [ "$(awk '{print $3}' "/proc/$child/stat" 2>/dev/null)" != Z ]; do
		sleep 0.02
	done
	kill -TERM "$spid" 2>/dev/null || true
	wait "$spid" || true
}

# 1. Untraced wall time of each step.
echo
echo "== wall time, untraced (ms)"
id=$id_base-plain
for s in $steps; do
	t0=$(date +%s%N)
	$(step_cmd "$s" "$id") </dev/null >/dev/null || fail "$s failed untraced"
	t1=$(date +%s%N)
	printf '  %-7s %8.1f\n' "$s" "$(echo "($t1 - $t0) / 1000000" | bc -l)"
done

# check_after STEP ID: warn when a traced step did not do its job (its exit
# status is not visible through traced), since its numbers would mislead.
check_after() {
	local st
	st=$("$rt_path" --root "$state" state "$2" 2>/dev/null | jq -r .status 2>/dev/null || echo gone)
	case "$1:$st" in
	create:created | start:running | delete:gone) ;;
	*) echo "strace-steps: WARNING: after traced '$1' the container is '$st'" >&2 ;;
	esac
}

# 2. strace -c per step.
id=$id_base-count
for s in $steps; do
	traced -f -c -o "$out/$s.count" -- $(step_cmd "$s" "$id")
	check_after "$s" "$id"
done

# 3. strace -tt -T per step.
id=$id_base-time
for s in $steps; do
	traced -f -tt -T -s 96 -o "$out/$s.trace" -- $(step_cmd "$s" "$id")
	check_after "$s" "$id"
done

# Event lines look like: PID HH:MM:SS.uuuuuu name(args) = ret <secs>
# "<... name resumed>" lines end an interrupted call; both carry <secs>.
to_seconds='function secs(t,  p) { split(t, p, ":"); return p[1] * 3600 + p[2] * 60 + p[3] }'

# Below, `sort | head` pipelines end early on purpose.
set +o pipefail
for s in $steps; do
	echo
	echo "======== $s: $(step_cmd "$s" ID | sed "s|$out|OUT|g")"
	echo "-- kernel time per system call (strace -f -c), top 12"
	sed -n '1,2p' "$out/$s.count"
	sed -n '3,$p' "$out/$s.count" | grep -v -e '^-' -e ' total$' | head -12
	grep ' total$' "$out/$s.count" || true

	echo "-- processes (first to last event; what they executed)"
	awk "$to_seconds"'
		{ t = secs($2); if (!($1 in first)) { first[$1] = t; order[++n] = $1 } last[$1] = t }
		/ execve\(/ && / = 0 / { match($0, /execve\("[^"]*"/); exe[$1] = substr($0, RSTART + 8, RLENGTH - 9) }
		/ execve\(/ && !/ = -1 / && !($1 in exe) { match($0, /execve\("[^"]*"/); exe[$1] = substr($0, RSTART + 8, RLENGTH - 9) }
		END {
			for (k = 1; k <= n; k++) { p = order[k]
				printf "  pid %-7s +%7.1f ms  %8.1f ms  %s\n", p, (first[p] - first[order[1]]) * 1000,
					(last[p] - first[p]) * 1000, (p in exe) ? exe[p] : "(no execve: a thread, or a fork of its parent)" }
		}' "$out/$s.trace"

	echo "-- slowest single system calls (ms, blocking included), top 10"
	awk '{ if (match($0, /<[0-9.]+>$/)) {
			d = substr($0, RSTART + 1, RLENGTH - 2)
			call = $3; sub(/\(.*/, "", call)
			if ($3 == "<...") { call = $4 " (resumed)" }
			line = $0; sub(/^[0-9]+ [0-9:.]+ /, "", line)
			printf "%10.2f  pid %-7s %s\n", d * 1000, $1, substr(line, 1, 110) } }' "$out/$s.trace" |
		sort -rn | head -10

	echo "-- longest gaps between two events of one process (ms; user space or off-CPU), top 8"
	awk "$to_seconds"'
		{ t = secs($2); d = 0
		  if (match($0, /<[0-9.]+>$/)) d = substr($0, RSTART + 1, RLENGTH - 2)
		  # A call that was interrupted and resumed: its start is the first line.
		  start = ($3 == "<...") ? t - d : t
		  if (($1 in end) && $3 != "<...") {
			line = $0; sub(/^[0-9]+ [0-9:.]+ /, "", line)
			printf "%10.2f  pid %-7s before: %s\n", (start - end[$1]) * 1000, $1, substr(line, 1, 90)
		  }
		  end[$1] = (d > 0 && $0 !~ /unfinished \.\.\.>$/) ? t + d : t }' "$out/$s.trace" |
		sort -rn | head -8
done
