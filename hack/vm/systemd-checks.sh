#!/bin/sh
# Guest side of the systemd cgroup driver checks; selftest.sh runs it with
#   run-in-vm.sh --systemd WORK hack/vm/systemd-checks.sh RUNTIME
# where WORK holds two bundles made on the host: `sleeper` (sleeps, memory
# limit 32 MiB, cgroupsPath system.slice:rt:test1) and `oom` (writes 64 MiB
# to /dev/shm under the same limit, cgroupsPath system.slice:rt:oom1).
# Prints one "ok"/"FAIL" line per check; exits 1 if any failed.
set -u
rt=$1
. "$(dirname "$0")/check.sh"
name=$(basename "$rt")
run() { "$rt" --systemd-cgroup --root /run/sd-checks "$@"; }
show() { systemctl show -p "$1" --value "$2"; }
scope=/sys/fs/cgroup/system.slice/rt-test1.scope

run run -d --bundle sleeper test1 </dev/null >/dev/null 2>err.txt
check "$name systemd: run -d" 0 $?
check "$name systemd: scope is active" active "$(show ActiveState rt-test1.scope)"
check "$name systemd: scope's MemoryMax" 33554432 "$(show MemoryMax rt-test1.scope)"
check "$name systemd: scope is in system.slice" system.slice "$(show Slice rt-test1.scope)"
pid=$(run state test1 | sed -n 's/.*"pid": *\([0-9]*\).*/\1/p')
check "$name systemd: init's cgroup" 0::/system.slice/rt-test1.scope "$(cat /proc/"$pid"/cgroup 2>&1)"
check "$name systemd: exec'd process's cgroup" 0::/system.slice/rt-test1.scope \
	"$(run exec test1 cat /proc/self/cgroup 2>&1)"
check "$name systemd: memory.max file" 33554432 "$(cat $scope/memory.max 2>&1)"
check "$name systemd: ps lists the init" "$pid" "$(run ps -f json test1 2>&1 | tr -d '[]')"

run pause test1
check "$name systemd: pause freezes the scope" "1 paused" \
	"$(cat $scope/cgroup.freeze) $(run state test1 | sed -n 's/.*"status": *"\([a-z]*\)".*/\1/p')"
run resume test1
check "$name systemd: resume thaws it" 0 "$(cat $scope/cgroup.freeze)"

echo '{"memory": {"limit": 50331648}, "pids": {"limit": 42}}' >update.json
run update --resources update.json test1
check "$name systemd: update reaches the unit and the files" "50331648 42 50331648 42" \
	"$(show MemoryMax rt-test1.scope) $(show TasksMax rt-test1.scope) $(cat $scope/memory.max $scope/pids.max | tr '\n' ' ' | sed 's/ $//')"

run delete --force test1
check "$name systemd: delete --force" 0 $?
check "$name systemd: delete removed the unit and its cgroup" inactive \
	"$(show ActiveState rt-test1.scope)$([ -d $scope ] && echo ' (cgroup left)')"

run run --bundle oom oom1 </dev/null >/dev/null 2>>err.txt
check "$name systemd: OOM-killed container exits 137" 137 $?
check "$name systemd: OOM'd scope is gone" inactive "$(show ActiveState rt-oom1.scope)"

if [ "$failed" != 0 ]; then
	echo "stderr of the runtime:"
	cat err.txt
	systemctl list-units --all --no-pager 'rt-*' 2>&1
fi
exit "$failed"
