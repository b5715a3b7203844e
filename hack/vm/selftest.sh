#!/usr/bin/env bash
# Check that hack/vm/run-in-vm.sh gives what tests rely on:
#   hack/vm/selftest.sh [RUNTIME]     (RUNTIME default: runc; e.g. target/debug/rt)
# exit status and stderr pass through, stdout is byte-exact, the guest has a
# pure cgroup v2 with controllers, and RUNTIME runs a busybox container that
# sits in its v2 cgroup with the memory limit applied and device access
# limited (cgroup2 device filter: a node outside the allow list cannot be
# opened, one the spec allows can; for rt also after `update`), and whose
# OOM kill reaches `events` as an oom record (memory.events), and for rt
# that `exec --cgroup` joins a sub-cgroup; that an unprivileged user gets
# limits in a delegated subtree (rootless-checks.sh); then, with systemd as
# the guest's init, that RUNTIME --systemd-cgroup runs containers in
# systemd scopes (systemd-checks.sh), also rootless in a user's own
# systemd instance (systemd-user-checks.sh). Prints one line per check; exits 1
# if any failed.
set -uo pipefail

here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
vm=$here/run-in-vm.sh
runtime=$(realpath "$(command -v "${1:-runc}")") || { echo "selftest: no runtime ${1:-runc}" >&2; exit 2; }
work=$(mktemp -d /tmp/rt-vm-selftest.XXXXXX)
# The guest covers /tmp with an empty tmpfs: a checkout there (CI may clone
# anywhere) must stay visible for the runtime and the check scripts.
export RT_VM_EXPOSE="$(dirname "$runtime"):$here"
trap 'rm -rf "$work"' EXIT
. "$here/check.sh"

got=$("$vm" "$work" sh -c 'echo to-err >&2; exit 7' 2>"$work/err")
check "exit status passes through" 7 $?
check "stderr passes through" to-err "$(cat "$work/err")"

head -c 200000 /dev/urandom >"$work/blob"
"$vm" "$work" cat blob >"$work/blob.back"
check "stdout is byte-exact" "$(md5sum <"$work/blob")" "$(md5sum <"$work/blob.back")"

got=$("$vm" "$work" sh -c 'awk '"'"'$2 == "/sys/fs/cgroup" {print $3}'"'"' /proc/mounts; cat /sys/fs/cgroup/cgroup.subtree_control')
check "guest cgroup layout" "cgroup2
cpu io memory pids" "$got"

"$here/../mkbundle.sh" "$work/bundle" sh -c 'cat /proc/self/cgroup; cat /sys/fs/cgroup/ctr/t1/memory.max' >/dev/null
jq '.linux.cgroupsPath = "/ctr/t1" | .linux.resources.memory = {limit: 33554432}' \
	"$work/bundle/config.json" >"$work/config.json" && mv "$work/config.json" "$work/bundle/config.json"
# Without a cgroup namespace the container's /sys/fs/cgroup shows the whole
# hierarchy, its own cgroup included.
got=$("$vm" "$work/bundle" "$runtime" --root /run/rt-selftest run t1 2>"$work/err")
check "$(basename "$runtime") run: container's cgroup is a v2 path" "0::/ctr/t1" "$(echo "$got" | sed -n 1p)"
check "$(basename "$runtime") run: memory.max" 33554432 "$(echo "$got" | sed -n 2p)"
[ "$failed" = 0 ] || { echo "stderr of the container run:"; cat "$work/err"; }

# Device access on cgroup2 (no devices.allow there: an eBPF filter does it).
# With CAP_MKNOD the container may create any node (runc's defaults allow
# mknod), but opening one outside the allow list must fail with EPERM. There
# is no disk 8:0 in the guest, so once the spec allows it the open gets
# past the cgroup and fails in the block layer with ENXIO instead.
"$here/../mkbundle.sh" "$work/dev" sh -c 'head -c1 /dev/null && echo null-ok; mknod /dev/sdx b 8 0 && echo mknod-ok; head -c1 /dev/sdx 2>&1 | sed "s/.*: //"' >/dev/null
jq '.linux.cgroupsPath = "/ctr/t2" | .process.capabilities |= with_entries(.value += ["CAP_MKNOD"])' \
	"$work/dev/config.json" >"$work/config.json" && mv "$work/config.json" "$work/dev/config.json"
got=$("$vm" "$work/dev" "$runtime" --root /run/rt-selftest run t2 2>"$work/err")
check "$(basename "$runtime") run: default devices, open of b 8:0 denied" "null-ok
mknod-ok
Operation not permitted" "$got"
jq '.linux.resources.devices += [{allow: true, type: "b", major: 8, minor: 0, access: "rw"}]' \
	"$work/dev/config.json" >"$work/config.json" && mv "$work/config.json" "$work/dev/config.json"
got=$("$vm" "$work/dev" "$runtime" --root /run/rt-selftest run t2 2>>"$work/err")
check "$(basename "$runtime") run: b 8:0 allowed by the spec" "null-ok
mknod-ok
No such device or address" "$got"

# events --stats reads the cgroup2 files into runc's v1-shaped JSON.
jq '.linux.cgroupsPath = "/ctr/t5" | .process.args = ["sleep", "60"] | .linux.resources.pids = {limit: 20}' \
	"$work/bundle/config.json" >"$work/bundle/events.json"
cat >"$work/bundle/events.sh" <<EOF
rt=$runtime; r="--root /run/rt-selftest"
mv events.json config.json
\$rt \$r run -d t5 </dev/null >/dev/null
\$rt \$r events --stats t5 | jq -r '[.type, .data.memory.usage.limit, .data.pids.limit, .data.pids.current, (.data.cpu.usage.total > 0)] | join(" ")'
\$rt \$r delete -f t5
EOF
got=$("$vm" "$work/bundle" sh events.sh 2>>"$work/err")
check "$(basename "$runtime") events --stats: memory, pids, cpu from cgroup2" "stats 33554432 20 1 true" "$got"

# The events stream on cgroup v2: memory.events' oom_kill becomes a
# {"type":"oom"} record, and the follower ends by itself once the container
# died (runc's v2 stream too). The guest's busybox, bound over the rootfs
# copy, as for the systemd OOM check below (see there why).
"$here/../mkbundle.sh" "$work/oom" sh -c 'head -c 67108864 /dev/zero >/dev/shm/fill' >/dev/null
jq --arg bb "$(realpath "$(command -v busybox)")" '.linux.cgroupsPath = "/ctr/t6"
	| .linux.resources.memory = {limit: 33554432}
	| .mounts += [{destination: "/bin/busybox", type: "bind", source: $bb, options: ["bind", "ro"]}]' \
	"$work/oom/config.json" >"$work/config.json" && mv "$work/config.json" "$work/oom/config.json"
cat >"$work/oom/events.sh" <<EOF
rt=$runtime; r="--root /run/rt-selftest"
\$rt \$r create t6 </dev/null >/dev/null
timeout 60 \$rt \$r events --interval 1h t6 >events.out &
ev=\$!
\$rt \$r start t6
wait \$ev; echo "events exit \$?"
jq -c 'select(.type == "oom")' events.out | head -n1
\$rt \$r delete -f t6
EOF
got=$("$vm" "$work/oom" sh events.sh 2>>"$work/err" | tr -d '\0')
if [ "$(basename "$runtime")" = rt ]; then
	check "rt events: OOM kill on cgroup v2, stream ends with the container" 'events exit 0
{"type":"oom","id":"t6"}' "$got"
else
	# runc 1.1.5 ends its v2 stream too, but printed no oom record here.
	check "$(basename "$runtime") events: stream ends with the container on cgroup v2" 'events exit 0' \
		"$(echo "$got" | sed -n 1p)"
fi

# rt's update appends device rules and swaps the filter (runc's update
# ignores linux.resources.devices, so this check is rt's alone).
if [ "$(basename "$runtime")" = rt ]; then
	jq '.linux.resources.devices |= .[:-1] | .process.args = ["sleep", "60"]' \
		"$work/dev/config.json" >"$work/config.json" && mv "$work/config.json" "$work/dev/config.json"
	echo '{"devices": [{"allow": true, "type": "b", "major": 8, "minor": 0, "access": "r"}]}' >"$work/dev/update.json"
	cat >"$work/dev/update.sh" <<-EOF
		rt=$runtime; r="--root /run/rt-selftest"
		\$rt \$r run -d t3 </dev/null >/dev/null
		try() { \$rt \$r exec t3 sh -c 'mknod /dev/sdx b 8 0 2>/dev/null; head -c1 /dev/sdx 2>&1 | sed "s/.*: //"'; }
		try; \$rt \$r update -r update.json t3 && try
		\$rt \$r delete -f t3
	EOF
	got=$("$vm" "$work/dev" sh update.sh 2>>"$work/err")
	check "rt update: device rule added, old filter replaced" "Operation not permitted
No such device or address" "$got"

	# exec --cgroup on cgroup v2: the exec'd process joins an existing
	# sub-cgroup of the container's; a controller prefix has no meaning on
	# the single v2 hierarchy and is refused.
	"$here/../mkbundle.sh" "$work/sub" sleep 60 >/dev/null
	jq '.linux.cgroupsPath = "/ctr/t7"' "$work/sub/config.json" >"$work/config.json" && mv "$work/config.json" "$work/sub/config.json"
	cat >"$work/sub/sub.sh" <<-EOF
		rt=$runtime; r="--root /run/rt-selftest"
		\$rt \$r run -d t7 </dev/null >/dev/null
		mkdir /sys/fs/cgroup/ctr/t7/sub
		\$rt \$r exec --cgroup sub t7 cat /proc/self/cgroup
		\$rt \$r exec --cgroup memory:sub t7 true 2>&1 | grep -o 'controller prefixes need cgroup v1'
		rmdir /sys/fs/cgroup/ctr/t7/sub
		\$rt \$r delete -f t7
	EOF
	got=$("$vm" "$work/sub" sh sub.sh 2>>"$work/err")
	check "rt exec --cgroup: sub-cgroup on cgroup v2" "0::/ctr/t7/sub
controller prefixes need cgroup v1" "$got"

	# Limits whose controller the guest lacks (no hugetlb; io without
	# io.weight) are skipped with one warning each; the container runs.
	jq '.linux.cgroupsPath = "/ctr/t4" | .process.args = ["true"] | .linux.resources.blockIO = {weight: 500}
		| .linux.resources.hugepageLimits = [{pageSize: "2MB", limit: 0}]' \
		"$work/bundle/config.json" >"$work/config.json" && mv "$work/config.json" "$work/bundle/config.json"
	"$vm" "$work/bundle" "$runtime" --root /run/rt-selftest run t4 >/dev/null 2>"$work/warn"
	check "rt run: io weight and hugetlb skipped with warnings" "status=0 warnings=2" \
		"status=$? warnings=$(grep -c 'level=warning' "$work/warn")"
	cat "$work/warn" >>"$work/err"
fi
[ "$failed" = 0 ] || { echo "stderr of the container runs:"; cat "$work/err"; }

# Rootless on pure cgroup v2: an unprivileged user owning a delegated
# subtree (rootless-checks.sh). The user must be able to run the runtime
# and read the bundle: both are copied into a world-readable dir.
rl=$work/rootless
mkdir -p "$rl" && chmod 755 "$work" "$rl"
cp "$runtime" "$rl/" && chmod 755 "$rl/$(basename "$runtime")"
"$here/../mkbundle.sh" "$rl/sleeper" true >/dev/null
"$vm" "$rl" sh "$here/rootless-checks.sh" "$rl/$(basename "$runtime")" | tr -d '\0' || failed=1

# The systemd cgroup driver, with systemd as the guest's PID 1: see
# systemd-checks.sh for what is checked.
sd=$work/systemd
"$here/../mkbundle.sh" "$sd/sleeper" sleep 600 >/dev/null
"$here/../mkbundle.sh" "$sd/oom" sh -c 'head -c 67108864 /dev/zero >/dev/shm/fill' >/dev/null
for b in sleeper:test1 oom:oom1; do
	jq --arg path "system.slice:rt:${b#*:}" '.linux.cgroupsPath = $path | .linux.resources.memory = {limit: 33554432}' \
		"$sd/${b%%:*}/config.json" >"$work/config.json" && mv "$work/config.json" "$sd/${b%%:*}/config.json"
done
# The OOM container runs the guest's own busybox (bound over the rootfs
# copy): its page cache is then charged to the guest's root cgroup. With the
# rootfs copy, the binary's pages are charged to the container, and without
# swap the kernel keeps "reclaiming" and refaulting them instead of OOM-killing
# (minutes under UML, for runc as for rt).
jq --arg bb "$(realpath "$(command -v busybox)")" \
	'.mounts += [{destination: "/bin/busybox", type: "bind", source: $bb, options: ["bind", "ro"]}]' \
	"$sd/oom/config.json" >"$work/config.json" && mv "$work/config.json" "$sd/oom/config.json"
# After a guest OOM kill, a UML process that outlives the guest writes ~32 MiB
# of NUL bytes to the console fd (seen with runc and rt alike): drop them.
# Rootless, the same boot: the runtime and a bundle where a user can read
# them, for systemd-user-checks.sh (the user's own systemd instance).
sdu=$sd/user
mkdir -p "$sdu" && chmod 755 "$sd" "$sdu"
cp "$runtime" "$sdu/" && chmod 755 "$sdu/$(basename "$runtime")"
"$here/../mkbundle.sh" "$sdu/sleeper" true >/dev/null
"$vm" --systemd "$sd" sh -c 'sh "$1" "$2"; a=$?; cd user && sh "$3" "$4"; b=$?; [ $a = 0 ] && [ $b = 0 ]' sh \
	"$here/systemd-checks.sh" "$runtime" "$here/systemd-user-checks.sh" "$sdu/$(basename "$runtime")" |
	tr -d '\0' || failed=1
exit "$failed"
