#!/usr/bin/env bash
# Where the CPU of one container goes, per runtime and for the floor.
#
#   hack/bench/cpu-steps.sh [-o OUTDIR] [-n RUNS] RUNTIME [RUNTIME...]
#
# From concurrency 2 on, throughput.sh is CPU-bound for every runtime: its
# ratios are those of CPU time per container. This samples every CPU a
# `RUNTIME run` of `true` uses (the runtime's processes, its threads and
# the container's `true`) with perf's cpu-clock every 100 µs over RUNS runs
# (default 300), does the same for the floor (floor.c), and prints µs of
# CPU per run, split by what the kernel was doing on the sample's call
# chain:
#   - a system call, by name (the outermost one on the chain, so a page
#     fault taken inside read(2) counts as read);
#   - a page fault taken in user space;
#   - glibc's start-up CPU probe (init_cpu_features and its cache-size
#     lookups: CPUID, a trap to the hypervisor on a VM), paid once per exec
#     of a glibc program;
#   - the rest of the user-space code, as "user (runtime)" for samples whose
#     process still ran the runtime's binary and "user (`true`)" after the
#     container's exec.
# The runtime is told apart from `true` by the sample's command name.
# RUNTIME is a path or command name (labelled by its basename) or LABEL=PATH.
# Needs root, perf (linux-perf), python3, gcc. Same private mount namespace
# and hybrid-cgroup workaround as run.sh. Outputs in OUTDIR (default
# /tmp/rt-cpu.<pid>): LABEL.data (perf), steps.tsv and steps.md.
set -euo pipefail
here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
self=$here/$(basename "${BASH_SOURCE[0]}")
fail() { echo "cpu-steps: $*" >&2; exit 1; }
usage() { sed -n '4p' "$self" | sed 's/^# *//' >&2; exit 2; }
out="" runs=300
orig_args=("$@")
while [ $# -gt 0 ]; do
	case "$1" in
	-o) [ $# -ge 2 ] || usage; out=$2; shift 2 ;;
	-n) [ $# -ge 2 ] || usage; runs=$2; shift 2 ;;
	-h | --help) usage ;;
	-*) fail "unknown option: $1" ;;
	*) break ;;
	esac
done
[ $# -ge 1 ] || usage
[[ "$runs" =~ ^[1-9][0-9]*$ ]] || fail "-n wants a positive number, not '$runs'"
[ "$(id -u)" = 0 ] || fail "must run as root"
command -v perf >/dev/null || fail "perf is needed (apt-get install linux-perf)"
command -v python3 >/dev/null || fail "python3 is needed"
command -v gcc >/dev/null || fail "gcc is needed for the floor"
labels=() paths=()
for a in "$@"; do
	if [[ "$a" == *=* ]]; then label=${a%%=*} path=${a#*=}; else label=$(basename "$a") path=$a; fi
	path=$(command -v "$path") || fail "runtime not found: $a"
	[ "$label" != floor ] || fail "'floor' is the floor's label; name the runtime otherwise"
	labels+=("$label") paths+=("$(realpath "$path")")
done

. "$here/private-ns.sh"
. "$here/lib.sh"
enter_private_ns "$self" "${orig_args[@]}"
hide_v2_controllers_on_hybrid

out=${out:-/tmp/rt-cpu.$$}
mkdir -p "$out"
out=$(cd "$out" && pwd)
cleanup() {
	local i
	for i in "${!paths[@]}"; do delete_all "${paths[$i]}" "$out/state-${labels[$i]}"; done
	return 0
}
trap cleanup EXIT

bundle=$out/bundle
"$here/../mkbundle.sh" -f "$bundle" true >/dev/null
gcc -O2 -Wall -o "$out/floor" "$here/floor.c" || fail "could not build the floor"

# One loop per contender, recorded whole; the loop's own shell is left out
# by command name below. A fixed period in ns of cpu-clock makes every
# sample 100 µs of CPU.
period_us=100
record() { # record LABEL COMMAND...
	local label=$1
	shift
	"$@" warm >/dev/null 2>&1 || fail "$label: a run of true failed: $* warm"
	perf record -q -g -e cpu-clock -c $((period_us * 1000)) -o "$out/$label.data" -- \
		bash -c 'for i in $(seq "$1"); do "${@:2}" "r$i" >/dev/null 2>&1 || exit 1; done' \
		cpu-steps "$runs" "$@" || fail "$label: a run failed while recording"
}
for i in "${!paths[@]}"; do
	mkdir -p "$out/state-${labels[$i]}"
	echo "cpu-steps: ${labels[$i]}, $runs runs" >&2
	record "${labels[$i]}" "${paths[$i]}" --root "$out/state-${labels[$i]}" run -b "$bundle"
done
echo "cpu-steps: floor, $runs runs" >&2
# The floor takes ROOTFS CMD: the loop's trailing id becomes an argument of
# `true`, which ignores it.
record floor "$out/floor" "$bundle/rootfs" true

python3 - "$out" "$runs" "$period_us" "${labels[@]}" floor <<'EOF'
import collections, re, subprocess, sys
out, runs, period = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])
labels = sys.argv[4:]
cpuid = ("init_cpu_features", "intel_check_word", "handle_intel", "handle_amd", "handle_zhaoxin",
         "get_common_cache_info", "update_active", "get_extended_indices", "get_common_indices",
         "dl_init_cacheinfo")
skip = {"bash", "seq", "perf", "cpu-steps"}
table, totals = {}, {}
for label in labels:
    script = subprocess.run(["perf", "script", "-i", f"{out}/{label}.data", "-F", "comm,ip,sym"],
                            capture_output=True, text=True, check=True).stdout
    c = collections.Counter()
    for block in script.split("\n\n"):
        lines = [l.strip() for l in block.strip().splitlines() if l.strip()]
        if not lines or lines[0] in skip:
            continue
        comm = lines[0]
        # Frames, innermost first: "ADDR SYMBOL".
        syms = [l.split(None, 1)[1] if len(l.split(None, 1)) > 1 else "?" for l in lines[1:]]
        syms = [s.split("+")[0].split(".constprop")[0].split(".isra")[0] for s in syms]
        key = None
        for s in reversed(syms):
            m = re.match(r"(?:__x64_sys_|__do_sys_|__se_sys_)(\w+)", s)
            if m:
                key = m.group(1)
                break
        if key is None:
            if any(s in cpuid for s in syms):
                key = "glibc start-up CPU probe"
            elif any("page_fault" in s for s in syms):
                key = "page fault (user space)"
            elif comm == "true":
                key = "user (`true`) and kernel entry/exit"
            else:
                key = "user (runtime) and kernel entry/exit"
        c[key] += 1
    table[label] = c
    totals[label] = sum(c.values())
us = lambda n: n * period / runs
rows = collections.Counter()
for c in table.values():
    rows.update(c)
order = [k for k, _ in sorted(rows.items(), key=lambda kv: -max(us(t[kv[0]]) for t in table.values()))]
with open(f"{out}/steps.tsv", "w") as f:
    f.write("what\t" + "\t".join(labels) + "\n")
    for k in order:
        f.write(k + "\t" + "\t".join(f"{us(table[l][k]):.0f}" for l in labels) + "\n")
md = [f"CPU µs per `run true` ({runs} runs, a sample every {period} µs of CPU):", "",
      "| | " + " | ".join(labels) + " |", "|---|" + "---|" * len(labels),
      "| **total** | " + " | ".join(f"**{us(totals[l]):.0f}**" for l in labels) + " |"]
for k in order:
    vals = [us(table[l][k]) for l in labels]
    if max(vals) < 10:
        continue
    md.append(f"| {k} | " + " | ".join(f"{v:.0f}" for v in vals) + " |")
md.append("")
md.append("(rows under 10 µs for everyone are left out; steps.tsv has them all)")
open(f"{out}/steps.md", "w").write("\n".join(md) + "\n")
print("\n".join(md))
EOF
echo "cpu-steps: perf data and tables in $out" >&2
