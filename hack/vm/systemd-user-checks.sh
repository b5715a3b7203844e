#!/bin/sh
# Guest side of the rootless systemd cgroup driver checks; selftest.sh runs
#   run-in-vm.sh --systemd WORK hack/vm/systemd-user-checks.sh RUNTIME
# where WORK (world-readable) holds the runtime and a busybox bundle
# `sleeper`. A user (uid 4242, added to copies of /etc/passwd, group and
# shadow bound over the read-only host files, in the guest only) gets its
# own systemd (`systemctl start user@4242.service`, with its D-Bus session
# bus from dbus-user-session). As that user, RUNTIME --systemd-cgroup runs
# a container as runc and crun do rootless: a transient scope in the
# user's manager (default user.slice:rt:<id>) with the limits as unit
# properties and in the delegated cgroup files; pause, resume and delete
# go through the same manager.
# Prints one "ok"/"FAIL" line per check; exits 1 if any failed.
set -u
rt=$1
. "$(dirname "$0")/check.sh"
name=$(basename "$rt")
uid=4242
user=rtvmuser
setpriv=/usr/bin/setpriv
work=$(pwd)
etc=/run/rt-vm-etc
mkdir -p $etc
cp /etc/passwd /etc/group /etc/shadow $etc/
echo "$user:x:$uid:$uid::$work:/bin/sh" >>$etc/passwd
echo "$user:x:$uid:" >>$etc/group
echo "$user:!:19000::::::" >>$etc/shadow
for f in passwd group shadow; do mount --bind $etc/$f /etc/$f; done

systemctl start user@$uid.service
check "user manager started" active "$(systemctl show -p ActiveState --value user@$uid.service)"
xdg=/run/user/$uid
as_user() {
	env -i PATH="$PATH" HOME="$work" USER=$user XDG_RUNTIME_DIR=$xdg \
		DBUS_SESSION_BUS_ADDRESS=unix:path=$xdg/bus \
		"$setpriv" --reuid=$uid --regid=$uid --init-groups -- "$@"
}
# The session bus is socket-activated by the user's manager.
i=0
while [ ! -S $xdg/bus ] && [ $i -lt 50 ]; do sleep 0.2; i=$((i + 1)); done
check "user's session bus" yes "$([ -S $xdg/bus ] && echo yes || echo no)"
check "user manager delegates memory and pids" yes \
	"$(grep -qw memory /sys/fs/cgroup/user.slice/user-$uid.slice/user@$uid.service/cgroup.subtree_control &&
		grep -qw pids /sys/fs/cgroup/user.slice/user-$uid.slice/user@$uid.service/cgroup.subtree_control && echo yes || echo no)"

chown -R $uid:$uid "$work/sleeper"
cd "$work/sleeper" || exit 1
rm -f config.json
as_user "$rt" spec --rootless
jq '.process.terminal = false | .process.args = ["sleep", "600"]
	| .linux.resources = {memory: {limit: 33554432}, pids: {limit: 20}}' \
	config.json >config.new && mv config.new config.json && chown $uid:$uid config.json

sd() { as_user "$rt" --systemd-cgroup "$@"; }
ushow() { as_user systemctl --user show -p "$1" --value "$2"; }
scope=rt-u1.scope
sd run -d u1 </dev/null >/dev/null 2>"$work/err"
check "$name rootless systemd: run -d" 0 $?
check "$name rootless systemd: scope active in the user's manager" active "$(ushow ActiveState $scope)"
check "$name rootless systemd: scope in user.slice" user.slice "$(ushow Slice $scope)"
check "$name rootless systemd: scope's MemoryMax" 33554432 "$(ushow MemoryMax $scope)"
pid=$(sd state u1 | jq .pid)
cg=/user.slice/user-$uid.slice/user@$uid.service/user.slice/$scope
check "$name rootless systemd: init's cgroup" "0::$cg" "$(cat /proc/$pid/cgroup 2>&1)"
check "$name rootless systemd: memory.max, pids.max" "33554432 20" \
	"$(cat /sys/fs/cgroup$cg/memory.max /sys/fs/cgroup$cg/pids.max 2>&1 | tr '\n' ' ' | sed 's/ $//')"
# The container has a cgroup namespace (spec --rootless on cgroup2): an
# exec'd process in the scope sees its root. The user's systemd moves it
# there (AttachProcessesToUnit): the user may not, from outside its slice.
check "$name rootless systemd: exec'd process's cgroup" "0::/" "$(sd exec u1 cat /proc/self/cgroup 2>&1)"
sd exec -d u1 sleep 600 2>>"$work/err"
check "$name rootless systemd: exec -d process in the scope" 2 "$(wc -l <"/sys/fs/cgroup$cg/cgroup.procs")"
sd pause u1
check "$name rootless systemd: pause" "1 paused" "$(cat /sys/fs/cgroup$cg/cgroup.freeze) $(sd state u1 | jq -r .status)"
sd resume u1
check "$name rootless systemd: resume" "0 running" "$(cat /sys/fs/cgroup$cg/cgroup.freeze) $(sd state u1 | jq -r .status)"
sd delete --force u1 2>>"$work/err"
check "$name rootless systemd: delete stops the unit, its cgroup goes" "inactive gone" \
	"$(ushow ActiveState $scope) $([ -d /sys/fs/cgroup$cg ] && echo left || echo gone)"

if [ "$failed" != 0 ]; then
	echo "stderr of the runtime:"
	cat "$work/err"
	as_user systemctl --user list-units --all --no-pager 'rt-*' 2>&1
fi
systemctl stop user@$uid.service
exit "$failed"
