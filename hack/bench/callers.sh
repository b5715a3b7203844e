#!/usr/bin/env bash
# End-to-end latency with the real callers of a runtime, each runtime in turn
# as the runtime underneath:
#
#   hack/bench/callers.sh [--quick] [-o OUTDIR] [-b ctr,docker,podman,cri] RUNTIME...
#   e.g. hack/bench/callers.sh target/x86_64-unknown-linux-gnu/release/rt /usr/bin/crun /usr/sbin/runc
# A runtime is a path or command name, labelled by its basename, or LABEL=PATH.
#
# Rows:
#   ctr     `ctr run --rm --runc-binary W IMAGE ID true` (containerd 1.6, runc v2 shim)
#   docker  `docker run --rm --runtime LABEL --network none IMAGE true` (private dockerd)
#   podman  `podman --runtime W run --rm --network none IMAGE true` (private store, vfs)
#   cri     cri-churn: PODS pods (sandbox + one `sleep` container each), created,
#           started, stopped and removed through containerd's CRI socket with
#           the runtime handler LABEL (see cri-churn/)
# W is a wrapper (timewrap.c) that runs the runtime and logs each invocation's
# wall and CPU time, so every row also reports the runtime's share: the sum
# of the wall times of the runtime processes a command caused, over the
# command's wall time. Every caller sees every runtime through such a wrapper.
#
# Options: --quick (RUNS=3, PODS=10), -o OUTDIR, -b LIST (default: all rows)
# Environment: RUNS (20 per runtime and caller), PODS (50), CRI_CHURN (path of
#   the cri-churn binary; default: built with cargo into OUTDIR/cri-churn-target)
# Needs root, gcc, jq, bc, containerd + ctr, docker.io, podman (+ conmon),
# busybox-static, and for `cri` cargo and protoc (apt-get install protobuf-compiler).
set -euo pipefail

here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
self=$here/$(basename "${BASH_SOURCE[0]}")
say() { echo "callers: $*" >&2; }
fail() { echo "callers: $*" >&2; exit 1; }
usage() { sed -n '5,6p' "$self" | sed 's/^# *//' >&2; exit 2; }

quick=0 out=${OUT:-} rows="ctr docker podman cri"
orig_args=("$@")
while [ $# -gt 0 ]; do
	case "$1" in
	--quick) quick=1; shift ;;
	-o) [ $# -ge 2 ] || usage; out=$2; shift 2 ;;
	-b) [ $# -ge 2 ] || usage; rows=${2//,/ }; shift 2 ;;
	-h | --help) usage ;;
	--) shift; break ;;
	-*) fail "unknown option: $1" ;;
	*) break ;;
	esac
done
[ $# -ge 1 ] || usage
if [ "$quick" = 1 ]; then RUNS=${RUNS:-3} PODS=${PODS:-10}; fi
RUNS=${RUNS:-20} PODS=${PODS:-50}
[ "$(id -u)" = 0 ] || fail "must run as root"
for tool in gcc jq bc unshare; do command -v "$tool" >/dev/null || fail "missing tool: $tool"; done

. "$here/private-ns.sh"
enter_private_ns "$self" "${orig_args[@]}"
hide_v2_controllers_on_hybrid

declare -a names=() paths=()
for r in "$@"; do
	label=""
	if [[ "$r" =~ ^([A-Za-z0-9._-]+)=(.+)$ ]]; then label=${BASH_REMATCH[1]} r=${BASH_REMATCH[2]}; fi
	p=$(command -v "$r" 2>/dev/null) || fail "runtime not found: $r"
	names+=("${label:-$(basename "$p")}")
	paths+=("$(realpath "$p")")
done

out=${out:-/tmp/rt-callers.$(date +%Y%m%d-%H%M%S).$$}
mkdir -p "$out"
out=$(cd "$out" && pwd)
rm -rf "$out"/{raw,wrap,image,containerd,dockerd,podman}
mkdir -p "$out"/{raw,wrap,image}
chmod 755 "$out"
say "results in $out"
tag=rtb$$
cg_parent=rt-callers.$$

# ---- wrappers: wrap/LABEL/LABEL runs runtime LABEL, logging to raw/rtlog.LABEL
for i in "${!names[@]}"; do
	n=${names[$i]}
	mkdir -p "$out/wrap/$n"
	gcc -O2 -Wall -DREAL="\"${paths[$i]}\"" -DLOG="\"$out/raw/rtlog.$n\"" \
		-o "$out/wrap/$n/$n" "$here/timewrap.c" || fail "cannot build the wrapper"
	: >"$out/raw/rtlog.$n"
done
wrapper() { echo "$out/wrap/$1/$1"; }

# ---- image: the bundle's busybox rootfs as a one-layer docker-archive ----------
"$here/../mkbundle.sh" "$out/image/bundle" true >/dev/null
make_archive() { # make_archive OUT.tar: busybox:rt-bench, Cmd sleep (a sandbox image too)
	local d=$out/image/archive
	rm -rf "$d" && mkdir -p "$d"
	tar -C "$out/image/bundle/rootfs" --numeric-owner --owner=0 --group=0 -cf "$d/layer.tar" .
	local diff
	diff=$(sha256sum "$d/layer.tar" | cut -d' ' -f1)
	jq -n --arg diff "sha256:$diff" '{architecture: "amd64", os: "linux",
		config: {Env: ["PATH=/usr/sbin:/usr/bin:/sbin:/bin"], Cmd: ["sleep", "2147483647"]},
		rootfs: {type: "layers", diff_ids: [$diff]}}' >"$d/config.json"
	jq -n '[{Config: "config.json", RepoTags: ["docker.io/library/busybox:rt-bench"], Layers: ["layer.tar"]}]' >"$d/manifest.json"
	tar -C "$d" -cf "$1" manifest.json config.json layer.tar
}
archive=$out/image/busybox.tar
make_archive "$archive"
IMAGE=docker.io/library/busybox:rt-bench

# ---- teardown --------------------------------------------------------------------
pids_to_stop=()
kill_with_arg() { # kill_with_arg TEXT: SIGKILL daemons and shims whose argv mentions TEXT
	local p comm
	for p in /proc/[0-9]*; do
		[ "${p#/proc/}" != $$ ] || continue
		# Only what the callers start: never a shell or wrapper that merely
		# names OUTDIR in its arguments (e.g. the one running this script).
		comm=$(cat "$p/comm" 2>/dev/null) || continue
		case "$comm" in containerd* | dockerd | conmon) ;; *) continue ;; esac
		{ tr '\0' ' ' <"$p/cmdline"; } 2>/dev/null | grep -qF -- "$1" && kill -9 "${p#/proc/}" 2>/dev/null || true
	done
}
stop_pid() { # stop_pid PID: TERM, up to 10 s, then KILL
	local pid=$1 k
	kill "$pid" 2>/dev/null || return 0
	for ((k = 0; k < 100; k++)); do kill -0 "$pid" 2>/dev/null || return 0; sleep 0.1; done
	kill -9 "$pid" 2>/dev/null || true
}
had_run_docker=0
[ ! -e /run/docker ] || had_run_docker=1
cleanup() {
	set +e
	[ ! -S "$out/dockerd/docker.sock" ] || docker -H "unix://$out/dockerd/docker.sock" ps -aq 2>/dev/null |
		xargs -r docker -H "unix://$out/dockerd/docker.sock" rm -f >/dev/null 2>&1
	[ ! -d "$out/podman" ] || podman_cmd rm -af >/dev/null 2>&1
	for p in "${pids_to_stop[@]}"; do stop_pid "$p"; done
	[ ! -f "$out/dockerd/exec/containerd/containerd.pid" ] || stop_pid "$(cat "$out/dockerd/exec/containerd/containerd.pid")"
	kill_with_arg "$out/"
	awk -v p="$out/" 'index($5, p) == 1 {print $5}' /proc/self/mountinfo | sort -r | xargs -r -n1 umount -l 2>/dev/null
	for d in /sys/fs/cgroup/*/"$cg_parent"* /sys/fs/cgroup/"$cg_parent"* /sys/fs/cgroup/*/"$tag" /sys/fs/cgroup/unified/"$tag"; do
		[ -d "$d" ] && find "$d" -depth -type d -exec rmdir {} + 2>/dev/null
	done
	if [ "$had_run_docker" = 0 ]; then rmdir /run/docker/plugins /run/docker 2>/dev/null; fi
	return 0
}
trap cleanup EXIT
trap 'exit 130' INT TERM

# ---- timing helper ----------------------------------------------------------------
# times.tsv: row, runtime, run, wall ms, runtime wall ms, runtime CPU ms, invocations
: >"$out/raw/times.tsv"
timed() { # timed ROW LABEL RUN CMD...: time CMD, attribute runtime log lines
	local row=$1 n=$2 run=$3 before t0 t1 rtw rtc cnt
	shift 3
	before=$(wc -l <"$out/raw/rtlog.$n")
	t0=$EPOCHREALTIME
	if ! "$@" </dev/null >>"$out/raw/$row.out" 2>>"$out/raw/$row.err"; then
		say "$row $n run $run failed (see raw/$row.err)"
		return 1
	fi
	t1=$EPOCHREALTIME
	read -r rtw rtc cnt < <(tail -n +"$((before + 1))" "$out/raw/rtlog.$n" |
		awk -F'\t' '{w += $2; c += $3; k++} END {printf "%.3f %.3f %d\n", w / 1e6, c / 1e6, k}')
	printf '%s\t%s\t%s\t%.3f\t%s\t%s\t%s\n' "$row" "$n" "$run" "$(echo "($t1 - $t0) * 1000" | bc -l)" \
		"$rtw" "$rtc" "$cnt" >>"$out/raw/times.tsv"
}
# rotate ROW FN: for RUNS runs, FN LABEL RUN for every runtime, order rotated
rotate() {
	local row=$1 fn=$2 run j k=${#names[@]}
	for ((run = 0; run < RUNS; run++)); do
		for ((j = 0; j < k; j++)); do
			$fn "${names[$(((j + run) % k))]}" "$run" || true
		done
	done
	say "$row: done"
}

# ---- containerd (ctr and CRI) -------------------------------------------------------
start_containerd() {
	local d=$out/containerd i n
	mkdir -p "$d"/{cni/bin,cni/conf}
	{
		cat <<-EOF
			version = 2
			root = "$d/root"
			state = "$d/state"
			[grpc]
			  address = "$d/containerd.sock"
			[ttrpc]
			  address = "$d/containerd.sock.ttrpc"
			[debug]
			  address = ""
			[plugins."io.containerd.internal.v1.opt"]
			  path = "$d/opt"
			[plugins."io.containerd.grpc.v1.cri"]
			  sandbox_image = "$IMAGE"
			  stream_server_address = "127.0.0.1"
			  stream_server_port = "0"
			  disable_apparmor = true
			  # The sandbox asks for oom_score_adj -998; lowering it needs
			  # CAP_SYS_RESOURCE, which a container host may not have.
			  restrict_oom_score_adj = true
			  [plugins."io.containerd.grpc.v1.cri".cni]
			    bin_dir = "$d/cni/bin"
			    conf_dir = "$d/cni/conf"
			  [plugins."io.containerd.grpc.v1.cri".containerd]
			    snapshotter = "overlayfs"
			    default_runtime_name = "${names[0]}"
		EOF
		for n in "${names[@]}"; do
			cat <<-EOF
				    [plugins."io.containerd.grpc.v1.cri".containerd.runtimes."$n"]
				      runtime_type = "io.containerd.runc.v2"
				      [plugins."io.containerd.grpc.v1.cri".containerd.runtimes."$n".options]
				        BinaryName = "$(wrapper "$n")"
			EOF
		done
	} >"$d/containerd.toml"
	containerd --config "$d/containerd.toml" >"$d/containerd.log" 2>&1 &
	pids_to_stop+=("$!")
	for ((i = 0; i < 200; i++)); do
		[ -S "$d/containerd.sock" ] && ctr -a "$d/containerd.sock" version >/dev/null 2>&1 && break
		sleep 0.1
	done
	ctr -a "$d/containerd.sock" version >/dev/null 2>&1 || { tail -20 "$d/containerd.log" >&2; fail "containerd did not start"; }
	for ns in "$tag" k8s.io; do
		ctr -a "$d/containerd.sock" -n "$ns" images import "$archive" >/dev/null || fail "ctr images import ($ns)"
	done
}
ctr_one() { # ctr_one LABEL RUN
	timed ctr "$1" "$2" ctr -a "$out/containerd/containerd.sock" -n "$tag" run --rm \
		--runc-binary "$(wrapper "$1")" --runc-root "$out/containerd/runc-root-$1" \
		"$IMAGE" "ctr-$1-$2" true
}

# ---- dockerd ---------------------------------------------------------------------------
start_dockerd() {
	local d=$out/dockerd i n args=()
	mkdir -p "$d"
	jq -n --arg k "$d/key.json" '{"deprecated-key-path": $k}' >"$d/daemon.json"
	for n in "${names[@]}"; do args+=(--add-runtime "rtb-$n=$(wrapper "$n")"); done
	setsid unshare -m --propagation private dockerd --data-root "$d/data" --exec-root "$d/exec" \
		--pidfile "$d/dockerd.pid" -H "unix://$d/docker.sock" --config-file "$d/daemon.json" \
		--cgroup-parent "/$cg_parent-docker" "${args[@]}" --iptables=false --ip6tables=false \
		--bridge=none --ip-forward=false --ip-masq=false </dev/null >"$d/dockerd.log" 2>&1 &
	pids_to_stop+=("$!")
	for ((i = 0; i < 300; i++)); do
		docker -H "unix://$d/docker.sock" version >/dev/null 2>&1 && break
		sleep 0.1
	done
	docker -H "unix://$d/docker.sock" load -i "$archive" >/dev/null || { tail -20 "$d/dockerd.log" >&2; fail "dockerd: load"; }
}
docker_one() { # docker_one LABEL RUN
	timed docker "$1" "$2" docker -H "unix://$out/dockerd/docker.sock" run --rm --runtime "rtb-$1" \
		--network none "$IMAGE" true
}

# ---- podman ---------------------------------------------------------------------------
podman_cmd() {
	local d=$out/podman
	CONTAINERS_CONF=$d/containers.conf podman --root "$d/storage" --runroot "$d/run" --tmpdir "$d/tmp" \
		--cgroup-manager cgroupfs --events-backend file --storage-driver vfs "$@"
}
start_podman() {
	local d=$out/podman nofile
	mkdir -p "$d"
	nofile=$(ulimit -Hn)
	# runtime_supports_json: podman passes --log-format=json only to the
	# runtimes named here; default_ulimits: podman's defaults exceed the
	# hard limits of this machine.
	cat >"$d/containers.conf" <<-EOF
		[containers]
		default_ulimits = ["nofile=$nofile:$nofile", "nproc=32768:32768"]
		[engine]
		runtime_supports_json = [$(printf '"%s",' "${names[@]}" | sed 's/,$//')]
	EOF
	podman_cmd load -i "$archive" >/dev/null 2>"$d/load.err" || { cat "$d/load.err" >&2; fail "podman load"; }
}
podman_one() { # podman_one LABEL RUN
	timed podman "$1" "$2" podman_cmd --runtime "$(wrapper "$1")" run --rm --network none \
		--cgroup-parent "/$cg_parent-podman" "$IMAGE" true
}

# ---- CRI pod churn -----------------------------------------------------------------------
cri_row() {
	local bin=${CRI_CHURN:-} n round
	if [ -z "$bin" ]; then
		say "building cri-churn (cargo, release)"
		CARGO_TARGET_DIR=$out/cri-churn-target cargo build -q --release \
			--manifest-path "$here/cri-churn/Cargo.toml" >&2 || fail "cri-churn did not build"
		bin=$(find "$out/cri-churn-target" -path '*/release/cri-churn' -type f | head -1)
	fi
	: >"$out/raw/cri.tsv"
	: >"$out/raw/cri-rt.tsv"
	local k=${#names[@]} rounds=${CRI_ROUNDS:-1}
	for ((round = 0; round < rounds; round++)); do
		for ((j = 0; j < k; j++)); do
			n=${names[$(((j + round) % k))]}
			local before
			before=$(wc -l <"$out/raw/rtlog.$n")
			"$bin" --socket "$out/containerd/containerd.sock" --handler "$n" --image "$IMAGE" \
				--pods "$PODS" --cgroup-parent "/$cg_parent-cri" --label "$n" \
				>"$out/raw/cri-$n-$round.tsv" 2>>"$out/raw/cri.err" || { say "cri $n failed (raw/cri.err)"; continue; }
			grep -v '^#' "$out/raw/cri-$n-$round.tsv" >>"$out/raw/cri.tsv"
			tail -n +"$((before + 1))" "$out/raw/rtlog.$n" | sed "s/^/$n\t/" >>"$out/raw/cri-rt.tsv"
			say "cri: $n round $((round + 1))/$rounds done"
		done
	done
}

# ---- run ------------------------------------------------------------------------------------
{
	echo "date: $(date -u +%Y-%m-%dT%H:%M:%SZ)"
	echo "kernel: $(uname -r); cpus: $(nproc); load at start: $(cut -d' ' -f1-3 /proc/loadavg)"
	echo "cgroups: $cgroup_note"
	echo "settings: RUNS=$RUNS PODS=$PODS rows=[$rows]"
	echo "containerd: $(containerd --version 2>/dev/null | cut -d' ' -f3-)"
	echo "docker: $(dockerd --version 2>/dev/null)"
	echo "podman: $(podman --version 2>/dev/null)"
	for i in "${!names[@]}"; do echo "runtime ${names[$i]}: ${paths[$i]}"; done
} >"$out/env.txt"

for row in $rows; do
	case "$row" in
	ctr) [ -f "$out/containerd/containerd.toml" ] || start_containerd; rotate ctr ctr_one ;;
	cri) [ -f "$out/containerd/containerd.toml" ] || start_containerd; cri_row ;;
	docker) start_dockerd; rotate docker docker_one ;;
	podman) start_podman; rotate podman podman_one ;;
	*) fail "unknown row $row" ;;
	esac
done
echo "load at end: $(cut -d' ' -f1-3 /proc/loadavg)" >>"$out/env.txt"

# ---- report ------------------------------------------------------------------------------------
median() { sort -g | awk '{v[NR] = $1} END {if (NR == 0) print "nan"; else if (NR % 2) print v[(NR + 1) / 2]; else print (v[NR / 2] + v[NR / 2 + 1]) / 2}'; }
{
	echo "# callers: end-to-end latency with each runtime underneath"
	echo
	sed 's/^/    /' "$out/env.txt"
	echo
	printf '| caller | runtime | runs | median (ms) | runtime wall / run (ms, median) | runtime share | runtime calls / run |'
	printf ' ÷ %s |' "${names[@]}"
	printf '\n|---|---|---|---|---|---|---|'
	printf -- '---|%.0s' "${names[@]}"
	echo
	for row in ctr docker podman; do
		[[ " $rows " == *" $row "* ]] || continue
		for n in "${names[@]}"; do
			sel() { awk -F'\t' -v r="$row" -v n="$1" -v c="$2" '$1 == r && $2 == n {print $c}' "$out/raw/times.tsv"; }
			cnt=$(sel "$n" 4 | wc -l)
			[ "$cnt" -gt 0 ] || continue
			med=$(sel "$n" 4 | median)
			rtm=$(sel "$n" 5 | median)
			share=$(awk -F'\t' -v r="$row" -v n="$n" '$1 == r && $2 == n {w += $4; x += $5} END {printf "%.0f%%", 100 * x / w}' "$out/raw/times.tsv")
			calls=$(sel "$n" 7 | median)
			ratios=""
			for o in "${names[@]}"; do
				om=$(sel "$o" 4 | median)
				ratios+=$(printf ' %.2f |' "$(echo "$med / $om" | bc -l)")
			done
			printf '| %s | %s | %s | %.1f | %.1f | %s | %s |%s\n' "$row" "$n" "$cnt" "$med" "$rtm" "$share" "$calls" "$ratios"
		done
	done
	if [[ " $rows " == *" cri "* ]] && [ -s "$out/raw/cri.tsv" ]; then
		echo
		echo "## CRI pod churn ($PODS pods per runtime and round; ms per pod, medians)"
		echo
		echo "| handler | pods | per pod | RunPodSandbox | CreateContainer | StartContainer | StopContainer | RemoveContainer | StopPodSandbox | RemovePodSandbox | runtime wall / pod | runtime CPU / pod | runtime share | runtime calls / pod |"
		echo "|---|---|---|---|---|---|---|---|---|---|---|---|---|---|"
		for n in "${names[@]}"; do
			col() { awk -F'\t' -v n="$n" -v c="$1" '$1 == n {print $c}' "$out/raw/cri.tsv"; }
			pods=$(col 2 | wc -l)
			[ "$pods" -gt 0 ] || continue
			line="| $n | $pods | $(printf '%.1f' "$(col 12 | median)")"
			for c in 5 6 7 8 9 10 11; do line+=" | $(printf '%.1f' "$(col "$c" | median)")"; done
			# Runtime time inside the pods' windows (start_ns..end_ns), per pod.
			read -r rtw rtc calls share < <(awk -F'\t' -v n="$n" '
				FNR == NR { if ($1 == n) { s[++k] = $3; e[k] = $4; tot += ($4 - $3) / 1e6 } next }
				$1 == n { for (i = 1; i <= k; i++) if ($2 >= s[i] && $2 <= e[i]) { w += $3 / 1e6; c += $4 / 1e6; m++; break } }
				END { printf "%.1f %.1f %.1f %.0f%%\n", w / k, c / k, m / k, 100 * w / tot }' "$out/raw/cri.tsv" "$out/raw/cri-rt.tsv")
			echo "$line | $rtw | $rtc | $share | $calls |"
		done
	fi
} >"$out/results.md"
cat "$out/results.md"
