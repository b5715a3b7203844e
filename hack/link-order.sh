#!/usr/bin/env bash
# Regenerate hack/link-order.txt: rt's functions in the order a container's
# init, then the commands, first run them. build.rs hands the list to the
# linker (lld --symbol-ordering-file), which places those functions first
# and together.
#
#   hack/link-order.sh [RT_BINARY]     (default: the release build)
#
# Why: the kernel maps a binary's pages around each page fault 64 KiB at a
# time (fault-around). With the functions where the linker happened to put
# them, the init's ~110 KB of code lay in 25 such windows: 1.4 MiB of its
# resident set, and a page fault for each window in every process. Placed
# together, the init's text is about 360 KiB resident and create's peak RSS
# half of what it was (hack/bench/README.md has the numbers).
#
# How: a uprobe on the entry of every function of RT_BINARY (tracefs
# uprobe_events, group rtorder), then one traced workload in a tracefs
# instance of its own: `run` of `true` (plain, with Docker's seccomp
# profile, with memory and pids limits, with a user namespace), and
# create / start / state / exec / kill / delete / list of a `sleep`
# container. A function's place is its first hit: first those hit by a
# process rt cloned (the init, exec's helper), then those of the rt
# commands. Symbols keep their names across ordinary code changes (the
# hash in a Rust symbol comes from the crate's metadata, not its code);
# names the list has and a build lacks are skipped silently, so a stale
# list costs locality, never a build. Rerun after large changes, on the
# binary of `cargo build --release` (the whole workspace, as README, CI
# and hack/install.sh build it): a `cargo build -p rt` binary has other
# features in some dependencies, so other hashes, and a list taken from
# it matches little of the real build.
#
# Seen on 2026-12-05 (kernel 6.18.44): with the uprobes in place, the
# first traced `run` spun in config.json parsing (hashbrown insert) and
# never finished, also for a binary the script had worked on before; the
# list was then carried over by hand (its header says how).
#
# Needs root, tracefs at /sys/kernel/tracing with uprobes, python3, jq,
# busybox-static (for hack/mkbundle.sh), nm (binutils). Takes a few minutes:
# registering ~5000 uprobes is slow. Every uprobe is removed at exit.
set -euo pipefail

here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
repo=$(cd "$here/.." && pwd)
fail() { echo "link-order: $*" >&2; exit 1; }

[ "$(id -u)" = 0 ] || fail "must run as root"
bin=$(realpath "${1:-$repo/target/x86_64-unknown-linux-gnu/release/rt}")
[ -x "$bin" ] || fail "no rt binary at $bin (build with cargo build --release first, the whole workspace)"
tracefs=/sys/kernel/tracing
[ -w "$tracefs/uprobe_events" ] || fail "no uprobes in tracefs at $tracefs"
for c in python3 jq nm readelf; do command -v "$c" >/dev/null || fail "$c is needed"; done

if [ -z "${RT_LINK_ORDER_NS:-}" ]; then
	export RT_LINK_ORDER_NS=1
	exec unshare --mount --propagation private -- "$0" "$bin"
fi

work=$(mktemp -d /tmp/rt-link-order.XXXXXX)
. "$here/link-order-workload.sh"
inst=$tracefs/instances/rt-link-order-$$
# One write per line: tracefs parses each write on its own, and a line
# split between two writes is refused.
# With a third argument, lines the kernel refuses are skipped (removal of
# probes that were never made).
write_lines() {
	python3 -c 'import os, sys
fd = os.open(sys.argv[1], os.O_WRONLY | os.O_APPEND)
for line in open(sys.argv[2]):
    try:
        os.write(fd, line.encode())
    except OSError:
        if len(sys.argv) < 4:
            raise' "$@"
}
cleanup() {
	local c
	if [ -d "$inst" ]; then
		echo 0 >"$inst/tracing_on" 2>/dev/null || true
		echo 0 >"$inst/events/enable" 2>/dev/null || true
		rmdir "$inst" 2>/dev/null || true
	fi
	if [ -s "$work/probes" ]; then
		sed 's/^p:/-:/; s/ .*//' "$work/probes" >"$work/unprobes"
		write_lines "$tracefs/uprobe_events" "$work/unprobes" tolerant || true
	fi
	for c in "$work/state"/*; do
		[ -e "$c" ] && "$bin" --root "$work/state" delete -f "$(basename "$c")" >/dev/null 2>&1
	done
	rm -rf "$work"
	return 0
}
trap cleanup EXIT
trap 'exit 130' INT TERM

link_order_bundles "$work"

# A uprobe at the entry of every function: its file offset in the text.
read -r text_vaddr text_off < <(readelf -l -W "$bin" |
	awk '$1 == "LOAD" && $7 == "R" && $8 == "E" { print $3, $2; exit }')
nm --defined-only "$bin" | awk '$2 == "t" || $2 == "T" { print $1, $3 }' | sort -u -k1,1 >"$work/symbols"
python3 -c 'import sys
bin, tv, to = sys.argv[1], int(sys.argv[2], 16), int(sys.argv[3], 16)
for i, line in enumerate(open(sys.argv[4])):
    addr = int(line.split()[0], 16)
    print("p:rtorder/f%d %s:0x%x" % (i, bin, addr - tv + to))' \
	"$bin" "$text_vaddr" "$text_off" "$work/symbols" >"$work/probes"
echo "link-order: $(wc -l <"$work/probes") uprobes on $bin (a few minutes)" >&2
write_lines "$tracefs/uprobe_events" "$work/probes"

mkdir "$inst"
echo 0 >"$inst/tracing_on"
echo 65536 >"$inst/buffer_size_kb"
echo mono >"$inst/trace_clock"
echo 1 >"$inst/options/event-fork"
echo 1 >"$inst/events/rtorder/enable"
echo 1 >"$inst/events/sched/sched_process_exec/enable"
rt=("$bin" --root "$work/state")
(
	echo "$BASHPID" >"$inst/set_event_pid"
	echo 1 >"$inst/tracing_on"
	link_order_workload "${rt[@]}" "$work"
)
echo 0 >"$inst/tracing_on"
cp "$inst/trace" "$work/trace"

python3 - "$work/symbols" "$work/trace" "$bin" >"$repo/hack/link-order.txt" <<'EOF'
import re, sys

symbols = [line.split()[1] for line in open(sys.argv[1])]
event = re.compile(r"^\s*(.+?)-(\d+)\s+\[\d+\]\s+\S+\s+([\d.]+):\s+(\w+):\s*(.*)$")
# The rt commands exec'd the binary; anything else that ran its code is a
# process (or thread) rt cloned: the init, exec's helper.
commands, by_clone, by_command = set(), {}, {}
for line in open(sys.argv[2]):
    m = event.match(line)
    if not m:
        continue
    pid, when, kind, rest = int(m.group(2)), float(m.group(3)), m.group(4), m.group(5)
    if kind == "sched_process_exec":
        if f"filename={sys.argv[3]} " in rest + " ":
            commands.add(pid)
        continue
    if kind.startswith("f"):
        first = by_command if pid in commands else by_clone
        first.setdefault(int(kind[1:]), when)
order = sorted(by_clone, key=by_clone.get)
order += [f for f in sorted(by_command, key=by_command.get) if f not in by_clone]
print("# Generated by hack/link-order.sh: rt's functions in the order a traced workload first")
print("# ran them, those of the container's init first. Read by lld (build.rs); names a build")
print(f"# lacks are skipped. {len(by_clone)} functions ran in cloned processes, {len(order)} in all.")
for f in order:
    print(symbols[f])
EOF
echo "link-order: wrote $repo/hack/link-order.txt ($(grep -vc '^#' "$repo/hack/link-order.txt") functions)" >&2
