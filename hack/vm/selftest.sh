#!/usr/bin/env bash
# Check that hack/vm/run-in-vm.sh gives what tests rely on:
#   hack/vm/selftest.sh [RUNTIME]     (RUNTIME default: runc; e.g. target/debug/rt)
# exit status and stderr pass through, stdout is byte-exact, the guest has a
# pure cgroup v2 with controllers, and RUNTIME runs a busybox container that
# sits in its v2 cgroup with the memory limit applied; then, with systemd as
# the guest's init, that RUNTIME --systemd-cgroup runs containers in systemd
# scopes (systemd-checks.sh). Prints one line per check; exits 1 if any failed.
set -uo pipefail

here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
vm=$here/run-in-vm.sh
runtime=$(realpath "$(command -v "${1:-runc}")") || { echo "selftest: no runtime ${1:-runc}" >&2; exit 2; }
work=$(mktemp -d /tmp/rt-vm-selftest.XXXXXX)
trap 'rm -rf "$work"' EXIT
failed=0

check() { # check NAME EXPECTED ACTUAL
	if [ "$2" = "$3" ]; then
		echo "ok   $1"
	else
		echo "FAIL $1: expected [$2], got [$3]"
		failed=1
	fi
}

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
"$vm" --systemd "$sd" sh "$here/systemd-checks.sh" "$runtime" | tr -d '\0' || failed=1
exit "$failed"
