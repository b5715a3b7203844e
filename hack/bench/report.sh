#!/usr/bin/env bash
# Turn the raw measurements of hack/bench/run.sh into results.json and
# results.md (also printed). Can be re-run on an existing results directory.
#
#   hack/bench/report.sh OUTDIR RUNTIME-NAME...
#
# RUNTIME-NAMEs give the row and ratio-column order (the floor and the exec
# floor, if measured, come last). Inputs in OUTDIR/raw: BENCH.roundN.json (hyperfine exports),
# rss.NAME.tsv (create peak RSS, init VmHWM, init VmRSS in KiB per line),
# excluded.tsv (bench, runtime, reason).
set -euo pipefail

[ $# -ge 2 ] || { sed -n '5p' "$0" | sed 's/^# *//' >&2; exit 2; }
out=$1
shift
raw=$out/raw
[ -d "$raw" ] || { echo "report: no $raw" >&2; exit 1; }
order=$(jq -n '$ARGS.positional + ["floor", "exec-floor"]' --args -- "$@")

# Every round of every benchmark, tagged with its benchmark name.
rounds() {
	local f b
	for f in "$raw"/*.round*.json; do
		[ -e "$f" ] || continue
		b=$(basename "$f")
		jq -c --arg bench "${b%%.round*}" '{bench: $bench, results: .results}' "$f"
	done
}
rss_samples() {
	local f name
	for f in "$raw"/rss.*.tsv; do
		[ -e "$f" ] || continue
		name=$(basename "$f" .tsv)
		jq -R -c --arg name "${name#rss.}" \
			'split("\t") | map(tonumber) | {name: $name, create: .[0], hwm: .[1], rss: .[2]}' "$f"
	done
}
excluded() {
	[ -s "$raw/excluded.tsv" ] || return 0
	jq -R -c 'split("\t") | {bench: .[0], runtime: .[1], reason: .[2]}' "$raw/excluded.tsv"
}

bench_order='["run", "lifecycle", "exec", "seccomp-run", "seccomp-lifecycle", "limits-run", "limits-lifecycle", "userns-run", "userns-idle-run", "userns-lifecycle"]'
jq -n --argjson order "$order" --argjson bench_order "$bench_order" \
	--slurpfile rounds <(rounds) --slurpfile rss <(rss_samples) --slurpfile excluded <(excluded) \
	--rawfile env "$out/env.txt" '
	def median: sort as $s | ($s | length) as $n
		| if $n == 0 then null elif $n % 2 == 1 then $s[($n - 1) / 2]
		  else ($s[$n / 2 - 1] + $s[$n / 2]) / 2 end;
	def mean: if length == 0 then null else add / length end;
	def stddev: mean as $m
		| if length < 2 then 0 else map((. - $m) * (. - $m)) | add / (length - 1) | sqrt end;
	def rank($list): . as $x | ($list | index($x)) // 999;
	def describe: {
		"run": "run `true`",
		"lifecycle": "create + start + delete -f (`sleep`)",
		"exec": "exec `true` into a running container",
		"seccomp-run": "run `true`, Docker default seccomp",
		"seccomp-lifecycle": "lifecycle, Docker default seccomp",
		"limits-run": "run `true`, memory + pids limits",
		"limits-lifecycle": "lifecycle, memory + pids limits",
		"userns-run": "run `true`, user namespace",
		"userns-idle-run": "run `true`, user namespace, 0.3 s idle before each",
		"userns-lifecycle": "lifecycle, user namespace"
	}[.] // .;
	{
		env: $env,
		benchmarks: [
			$rounds | group_by(.bench)[]
			| { name: .[0].bench, description: (.[0].bench | describe),
			    rounds: length,
			    results: ([ .[].results[] ] | group_by(.command) | map(
				(map(.times) | add) as $t
				| { runtime: .[0].command, runs: ($t | length),
				    median: ($t | median), mean: ($t | mean), stddev: ($t | stddev),
				    min: ($t | min), max: ($t | max),
				    user: (map(.user) | mean), system: (map(.system) | mean),
				    times: $t })
				| sort_by(.runtime | rank($order))) }
		] | sort_by(.name | rank($bench_order)),
		rss: [
			$rss | group_by(.name)[]
			| { runtime: .[0].name, samples: length,
			    create_peak_kib_median: (map(.create) | median),
			    create_peak_kib_max: (map(.create) | max),
			    init_vmhwm_kib_median: (map(.hwm) | median),
			    init_vmrss_kib_median: (map(.rss) | median) }
		] | sort_by(.runtime | rank($order)),
		excluded: $excluded
	}' >"$out/results.json"

# Markdown: one row per benchmark and runtime; one ratio column per runtime
# (row median / that runtime's median in the same benchmark) and, for the run
# benchmarks, the ratio to the floor's `run true`.
jq -r --argjson order "$order" '
	def ms: . * 1000 | (. * 100 | round) / 100;
	def ratio($a; $b): if $a == null or $b == null or $b == 0 then "–"
		else ($a / $b * 100 | round / 100 | tostring) end;
	([.benchmarks[] | select(.name == "run") | .results[] | select(.runtime == "floor") | .median] | first) as $floor
	| ([.benchmarks[] | select(.name == "run") | .results[] | select(.runtime == "exec-floor") | .median] | first) as $exec_floor
	| ($order - ["floor", "exec-floor"]) as $rts
	| "Times in ms; median first. `÷ X` = this median / X'"'"'s median in the same benchmark (lower is faster).",
	  "",
	  "| benchmark | runtime | runs | median | mean ± σ | min … max | user / sys | "
		+ ($rts | map("÷ " + .) | join(" | ")) + " | ÷ floor |",
	  "|---|---|---|---|---|---|---|" + ($rts | map("---|") | join("")) + "---|",
	  (.benchmarks[] | . as $b
		| ($b.results | map({key: .runtime, value: .median}) | from_entries) as $med
		| $b.results[]
		| "| \($b.description) | \(.runtime) | \(.runs) | **\(.median | ms)** | \(.mean | ms) ± \(.stddev | ms)"
		  + " | \(.min | ms) … \(.max | ms) | \(.user | ms) / \(.system | ms) | "
		  + ([$rts[] as $r | ratio(.median; $med[$r])] | join(" | "))
		  + " | " + (if ($b.name | endswith("run")) then ratio(.median; $floor) else "–" end) + " |"),
	  (if $floor != null then
		"",
		"Beyond the floor: each `run` median minus the floor'"'"'s `run true`, i.e. what a runtime'"'"'s own work adds; `÷ X` compares these parts."
			+ (if $exec_floor != null then " The exec floor (a static glibc program that does nothing) took \($exec_floor | ms) ms per exec: the floor pays it twice (itself and `true`), as does every runtime'"'"'s `run`." else "" end),
		"",
		"| benchmark | runtime | above floor | " + ($rts | map("÷ " + .) | join(" | ")) + " |",
		"|---|---|---|" + ($rts | map("---|") | join("")),
		(.benchmarks[] | select(.name | endswith("run")) | . as $b
		 | ($b.results | map({key: .runtime, value: (.median - $floor)}) | from_entries) as $above
		 | $b.results[] | select(.runtime as $r | $rts | index($r))
		 | "| \($b.description) | \(.runtime) | \((.median - $floor) | ms) | "
		   + ([$rts[] as $r | ratio(.median - $floor; $above[$r])] | join(" | ")) + " |")
	  else empty end),
	  (if (.rss | length) > 0 then
		"",
		"Memory (KiB, median over samples): peak RSS of the `create` process and the children it reaped (`/usr/bin/time %M`), and VmHWM / VmRSS of the container init while it waits in `created`.",
		"",
		"| runtime | samples | create peak RSS (median / max) | init VmHWM | init VmRSS | "
			+ ($rts | map("÷ " + .) | join(" | ")) + " |",
		"|---|---|---|---|---|" + ($rts | map("---|") | join("")),
		(.rss | (map({key: .runtime, value: .create_peak_kib_median}) | from_entries) as $m
		 | .[]
		 | "| \(.runtime) | \(.samples) | \(.create_peak_kib_median) / \(.create_peak_kib_max) | \(.init_vmhwm_kib_median) | \(.init_vmrss_kib_median) | "
		   + ([$rts[] as $r | ratio(.create_peak_kib_median; $m[$r])] | join(" | ")) + " |")
	  else empty end),
	  (if (.excluded | length) > 0 then
		"", "Left out (failed the one-off check before timing):", "",
		(.excluded[] | "- \(.bench) / \(.runtime): \(.reason)")
	  else empty end)
' "$out/results.json" >"$out/results.md"
{
	echo '```'
	cat "$out/env.txt"
	echo '```'
	echo
	cat "$out/results.md"
} >"$out/results.md.tmp" && mv "$out/results.md.tmp" "$out/results.md"
cat "$out/results.md"
