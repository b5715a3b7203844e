#!/usr/bin/env bash
# Where one container's time goes, with the kernel's tracer instead of
# ptrace: strace-steps.sh slows every system call down ~40 µs, which hides
# the waits that matter; ftrace events cost about 1 µs.
#
#   hack/bench/ftrace-steps.sh [-o OUTDIR] [-t US] [-s] RUNTIME [run|exec]
#
# Traces one `RUNTIME run` of `true` (or one `RUNTIME exec ID true` into a
# running `sleep` container) after WARM untraced warm-up runs, through a
# tracefs instance of its own (raw_syscalls, sched_switch/wakeup, process
# fork/exec/exit of the traced command and its children only), and prints:
#   - per process, each system call longer than US µs (default 30), each
#     gap longer than US between two of its events (user-space work and page
#     faults), each time it went to sleep, forks, execs and exits, on one
#     time line (µs from the first event);
#   - the system calls summed by name (time and count).
# With -s the sleeps in D state also print the kernel stack that slept
# (e.g. synchronize_rcu_expedited from a mount release, or a synchronous
# discard when ext4 frees a directory block). Full traces stay in OUTDIR
# (default /tmp/rt-ftrace.<pid>): trace.txt (raw) and steps.txt.
# Needs root, tracefs at /sys/kernel/tracing, python3 and
# /usr/include/x86_64-linux-gnu/asm/unistd_64.h (linux-libc-dev) for names.
# Same private mount namespace and hybrid-cgroup workaround as run.sh.
set -euo pipefail

here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
self=$here/$(basename "${BASH_SOURCE[0]}")
fail() { echo "ftrace-steps: $*" >&2; exit 1; }
usage() { sed -n '6p' "$self" | sed 's/^# *//' >&2; exit 2; }

out="" threshold=30 stacks=0
orig_args=("$@")
while [ $# -gt 0 ]; do
	case "$1" in
	-o) [ $# -ge 2 ] || usage; out=$2; shift 2 ;;
	-t) [ $# -ge 2 ] || usage; threshold=$2; shift 2 ;;
	-s) stacks=1; shift ;;
	-h | --help) usage ;;
	-*) fail "unknown option: $1" ;;
	*) break ;;
	esac
done
[ $# -ge 1 ] && [ $# -le 2 ] || usage
mode=${2:-run}
[ "$mode" = run ] || [ "$mode" = exec ] || usage
[ "$(id -u)" = 0 ] || fail "must run as root"
tracefs=/sys/kernel/tracing
[ -e "$tracefs/instances" ] || fail "no tracefs at $tracefs"
command -v python3 >/dev/null || fail "python3 is needed"
rt_path=$(command -v "$1") || fail "runtime not found: $1"
rt_path=$(realpath "$rt_path")

. "$here/private-ns.sh"
. "$here/lib.sh"
enter_private_ns "$self" "${orig_args[@]}"
hide_v2_controllers_on_hybrid

out=${out:-/tmp/rt-ftrace.$$}
mkdir -p "$out"
out=$(cd "$out" && pwd)
state=$out/state
inst=$tracefs/instances/rt-ftrace-$$
events="raw_syscalls/sys_enter raw_syscalls/sys_exit sched/sched_switch sched/sched_wakeup
	sched/sched_process_fork sched/sched_process_exec sched/sched_process_exit"
cleanup() {
	if [ -d "$inst" ]; then
		echo 0 >"$inst/tracing_on" 2>/dev/null || true
		echo '!stacktrace if prev_state & 2' >"$inst/events/sched/sched_switch/trigger" 2>/dev/null || true
		rmdir "$inst" 2>/dev/null || true
	fi
	delete_all "$rt_path" "$state"
	return 0
}
trap cleanup EXIT

bundle=$out/bundle
if [ "$mode" = exec ]; then
	"$here/../mkbundle.sh" -f "$bundle" sleep 3600 >/dev/null
	"$rt_path" --root "$state" run -d -b "$bundle" ftrace-target >/dev/null
	cmd=("$rt_path" --root "$state" exec ftrace-target true)
else
	"$here/../mkbundle.sh" -f "$bundle" true >/dev/null
	cmd=("$rt_path" --root "$state" run -b "$bundle")
fi
warm=${WARM:-5}
for i in $(seq "$warm"); do
	if [ "$mode" = exec ]; then "${cmd[@]}"; else "${cmd[@]}" "warm-$i"; fi
done
[ "$mode" = exec ] || cmd+=(traced)

mkdir "$inst"
echo 0 >"$inst/tracing_on"
echo 16384 >"$inst/buffer_size_kb"
echo mono >"$inst/trace_clock"
echo 1 >"$inst/options/event-fork"
for e in $events; do echo 1 >"$inst/events/$e/enable"; done
if [ "$stacks" = 1 ]; then
	echo 'stacktrace if prev_state & 2' >"$inst/events/sched/sched_switch/trigger"
fi
# Trace this shell's children from here on: the traced command only.
(
	echo "$BASHPID" >"$inst/set_event_pid"
	echo 1 >"$inst/tracing_on"
	exec "${cmd[@]}"
)
echo 0 >"$inst/tracing_on"
cat "$inst/trace" >"$out/trace.txt"

python3 - "$out/trace.txt" "$threshold" "$stacks" <<'EOF' | tee "$out/steps.txt"
import collections, re, sys

path, threshold, stacks = sys.argv[1], float(sys.argv[2]), sys.argv[3] == "1"
names = {}
try:
    for line in open("/usr/include/x86_64-linux-gnu/asm/unistd_64.h"):
        m = re.match(r"#define __NR_(\w+)\s+(\d+)", line)
        if m:
            names[int(m.group(2))] = m.group(1)
except OSError:
    pass
event = re.compile(r"^\s*(.+?)-(\d+)\s+\[(\d+)\]\s+\S+\s+([\d.]+):\s+(\w+):\s*(.*)$")
start = None
entered, last_seen = {}, {}
total, count = collections.defaultdict(float), collections.Counter()
lines, stack, stack_owner = [], [], None
for raw in open(path):
    if raw.startswith(" => "):
        if stacks and stack_owner is not None:
            stack.append(raw[4:].strip())
        continue
    if stack:
        lines.append((stack_owner[0], stack_owner[1], "    kernel stack: " + " < ".join(stack[3:9])))
        stack, stack_owner = [], None
    m = event.match(raw)
    if not m:
        continue
    comm, pid, t, kind, rest = m.group(1), int(m.group(2)), float(m.group(4)), m.group(5), m.group(6)
    if start is None:
        start = t
    us = (t - start) * 1e6
    if kind == "sys_enter":
        nr = int(rest.split()[1])
        name = names.get(nr, str(nr))
        if pid in last_seen and us - last_seen[pid] > threshold:
            lines.append((last_seen[pid], pid, f"{comm}: {us - last_seen[pid]:.0f} µs in user space / faults, then {name}"))
        entered[pid] = (us, name)
    elif kind == "sys_exit":
        if pid in entered:
            began, name = entered.pop(pid)
            took = us - began
            total[name] += took
            count[name] += 1
            if took > threshold:
                lines.append((began, pid, f"{comm}: {name} {took:.0f} µs ={rest.split('=')[-1]}"))
        last_seen[pid] = us
    elif kind in ("sched_process_fork", "sched_process_exec", "sched_process_exit"):
        lines.append((us, pid, f"{comm}: {kind[14:]} {rest}"))
    elif kind == "sched_switch" and f"prev_pid={pid} " in rest:
        state = rest.split("prev_state=")[1].split()[0]
        if state != "R" and not state.startswith("R+"):
            lines.append((us, pid, f"{comm}: sleeps ({state})"))
            stack_owner = (us, pid)
for us, pid, text in sorted(lines, key=lambda x: x[0]):
    print(f"{us:9.0f} {pid:7d} {text}")
print(f"\nlast event at {(t - start) * 1e6:.0f} µs")
print("system calls by total time (µs):")
for name, took in sorted(total.items(), key=lambda kv: -kv[1])[:25]:
    print(f"  {name:22s} {took:8.0f}  x{count[name]}")
print(f"  {'all':22s} {sum(total.values()):8.0f}  x{sum(count.values())}")
EOF
