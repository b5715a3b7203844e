#!/usr/bin/env bash
# Which of rt's functions run without a place in hack/link-order.txt,
# found without uprobes (link-order.sh's uprobes hang on kernel 6.18.44).
#
#   hack/link-order-check.sh [--apply | --fail] [RT_BINARY]   (default: the release build)
#
# Why: lld places the listed functions first and together; a function the
# list lacks (new, renamed, or a monomorph the list never saw) lands past
# them, and each process that runs it takes a page fault there, which maps
# a 64 KiB window of text into its resident set (fault-around). Two such
# functions cost create 128 KiB of peak RSS on 2026-12-05; integration's
# layout test only notices a list that has gone stale as a whole.
#
# How: perf records the exceptions:page_fault_user tracepoint over the
# workload of link-order-workload.sh (the one link-order.sh traces). Each
# instruction-fetch fault inside the binary's text (matched by inode, so
# also after the exe protection moves the image) is mapped to the function
# that holds the address (nm). Only the first function to touch a page is
# seen, so after --apply rebuild and check again until nothing is left.
# glibc's string functions count too: the list may name them, and which
# variant runs depends on the CPU (IFUNC).
#
# Prints the faults on listed and unlisted functions, then each unlisted
# one: its symbol (as the list wants it), faults, who ran it (a clone: the
# init or exec's helper; or a command) and its demangled name. --apply
# inserts each into hack/link-order.txt right after the listed function
# that faulted last before it in the same process (else at the end).
# --fail exits 1 when any of them is a Rust function (integration/layout.rs
# runs it so): glibc's functions are listed but not judged, as which IFUNC
# variant runs depends on the CPU.
#
# Needs root, perf (Debian: linux-perf), python3, jq, nm, busybox-static.
set -euo pipefail

here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
repo=$(cd "$here/.." && pwd)
fail() { echo "link-order-check: $*" >&2; exit 1; }

apply=0
case "${1:-}" in
--apply) apply=1; shift ;;
--fail) apply=fail; shift ;;
esac
[ "$(id -u)" = 0 ] || fail "must run as root"
bin=$(realpath "${1:-$repo/target/x86_64-unknown-linux-gnu/release/rt}")
[ -x "$bin" ] || fail "no rt binary at $bin (build with cargo build --release first, the whole workspace)"
for c in perf python3 jq nm; do command -v "$c" >/dev/null || fail "$c is needed"; done

if [ -z "${RT_LINK_ORDER_NS:-}" ]; then
	export RT_LINK_ORDER_NS=1
	args=("$bin")
	[ "$apply" = 1 ] && args=(--apply "$bin")
	[ "$apply" = fail ] && args=(--fail "$bin")
	exec unshare --mount --propagation private -- "$0" "${args[@]}"
fi

work=$(mktemp -d /tmp/rt-link-order-check.XXXXXX)
parent=rt-link-order-check-$$
cleanup() {
	local c
	for c in "$work/state"/*; do
		[ -e "$c" ] && "$bin" --root "$work/state" delete -f "$(basename "$c")" >/dev/null 2>&1
	done
	link_order_cgroups_gone "$parent"
	rm -rf "$work"
	return 0
}
trap cleanup EXIT
trap 'exit 130' INT TERM

. "$here/link-order-workload.sh"
link_order_bundles "$work" "$parent"
# perf reads tracepoints through tracefs; mounted here, in this private
# mount namespace, if the host has not.
[ -e /sys/kernel/tracing/events ] || mount -t tracefs nodev /sys/kernel/tracing ||
	fail "no tracefs at /sys/kernel/tracing"
export -f link_order_workload
# Once untraced, so that what runs traced is rt's code, not first reads of
# the bundle or the binary from disk.
link_order_workload "$bin" --root "$work/state" "$work" >/dev/null 2>&1 || true
perf record -q -e exceptions:page_fault_user -o "$work/perf.data" -- \
	bash -c 'link_order_workload "$@"' - "$bin" --root "$work/state" "$work" >/dev/null 2>&1 ||
	fail "the traced workload failed (run it by hand: rt --root DIR run -b BUNDLE ID)"
perf script -i "$work/perf.data" --show-mmap-events --show-task-events \
	-F comm,pid,tid,trace >"$work/events" 2>/dev/null
nm --defined-only "$bin" | awk '$2 == "t" || $2 == "T" { print $1, $3 }' | sort -u -k1,1 >"$work/symbols"
read -r text_vaddr text_off < <(readelf -l -W "$bin" |
	awk '$1 == "LOAD" && $7 == "R" && $8 == "E" { print $3, $2; exit }')
# The IFUNC call stubs of a static glibc binary (memcpy, strlen...): a
# section of their own past all text, which no list can move.
read -r iplt_addr iplt_size < <(readelf -S -W "$bin" |
	awk '$2 == ".iplt" { print $4, $6; exit }' | grep . || echo "0 0")

python3 - "$work/symbols" "$work/events" "$(stat -c %i "$bin")" "$text_vaddr" "$text_off" \
	"$iplt_addr" "$iplt_size" "$repo/hack/link-order.txt" "$apply" <<'PY'
import bisect, re, subprocess, sys

(symbols_file, events_file, inode, text_vaddr, text_off, iplt_addr, iplt_size, list_file,
 apply) = sys.argv[1:]
inode, text_vaddr, text_off = int(inode), int(text_vaddr, 16), int(text_off, 16)
iplt = range(int(iplt_addr, 16), int(iplt_addr, 16) + int(iplt_size, 16))
syms = [(int(a, 16), n) for a, n in (l.split() for l in open(symbols_file))]
addrs = [a for a, _ in syms]
lines = open(list_file).read().splitlines()
listed = {l for l in lines if l and not l.startswith("#")}

mmap = re.compile(r"PERF_RECORD_MMAP2 (\d+)/\d+: \[(0x[0-9a-f]+)\((0x[0-9a-f]+)\) @ (0x[0-9a-f]+) [0-9a-f]+:[0-9a-f]+ (\d+) .*\]: r-xp ")
fork = re.compile(r"PERF_RECORD_FORK\((\d+):\d+\):\((\d+):\d+\)")
execd = re.compile(r"PERF_RECORD_COMM exec: .*:(\d+)/")
fault = re.compile(r"^\s*.+?\s+(\d+)/?(\d+)?\s+address=(0x[0-9a-f]+) ip=0x[0-9a-f]+ error_code=(0x[0-9a-f]+)")
text = {}       # pid -> (start, length, file offset) of the binary's text
commands = set()
last_listed = {}  # pid -> the listed function that faulted last
faults = {}     # unlisted symbol -> [count, who, after]
order = []
on_listed = on_iplt = 0
for line in open(events_file):
    m = mmap.search(line)
    if m:
        if int(m.group(5)) == inode:
            text[int(m.group(1))] = (int(m.group(2), 16), int(m.group(3), 16), int(m.group(4), 16))
        continue
    m = fork.search(line)
    if m:
        child, parent = int(m.group(1)), int(m.group(2))
        if parent in text:
            text.setdefault(child, text[parent])
        continue
    m = execd.search(line)
    if m:
        commands.add(int(m.group(1)))
        text.pop(int(m.group(1)), None)
        continue
    m = fault.match(line)
    if not m:
        continue
    pid, addr, code = int(m.group(1)), int(m.group(3), 16), int(m.group(4), 16)
    if not code & 0x10 or pid not in text:
        continue
    start, length, off = text[pid]
    if not start <= addr < start + length:
        continue
    vaddr = addr - start + off - text_off + text_vaddr
    if vaddr in iplt:
        on_iplt += 1
        continue
    i = bisect.bisect_right(addrs, vaddr) - 1
    if i < 0:
        continue
    name = syms[i][1]
    if name in listed:
        on_listed += 1
        last_listed[pid] = name
        continue
    who = "command" if pid in commands else "clone"
    if name not in faults:
        faults[name] = [0, who, last_listed.get(pid)]
        order.append(name)
    faults[name][0] += 1
    if who == "clone":
        faults[name][1] = "clone"

total = sum(f[0] for f in faults.values())
print(f"instruction-fetch faults in rt's text: {on_listed} on listed functions, "
      f"{total} on {len(faults)} unlisted ones, {on_iplt} on the IFUNC stubs (.iplt)")
demangled = subprocess.run(["c++filt"], input="\n".join(order), capture_output=True,
                           text=True).stdout.splitlines() if order else []
for name, d in zip(order, demangled):
    count, who, _ = faults[name]
    print(f"{name}\t{count}\t{who}\t{d}")
if apply == "fail":
    rust = [n for n in order if n.startswith(("_ZN", "_R"))]
    if rust:
        print(f"{len(rust)} Rust functions ran outside hack/link-order.txt: run "
              "hack/link-order-check.sh --apply, rebuild, and check again")
        sys.exit(1)
if apply == "1" and order:
    for name in order:
        after = faults[name][2]
        at = lines.index(after) + 1 if after in lines else len(lines)
        lines.insert(at, name)
    open(list_file, "w").write("\n".join(lines) + "\n")
    print(f"inserted {len(order)} names into {list_file}: rebuild and check again")
PY
