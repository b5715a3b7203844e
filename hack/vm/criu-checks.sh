#!/usr/bin/env bash
# Runs in the QEMU guest (see criu-test.sh): checkpoint and restore of a
# counting container with RUNTIME and CRIU.
#   criu-checks.sh RUNTIME
# The container's shell loop writes an incrementing counter to /tmp/count
# in its rootfs. Checked: `checkpoint --leave-running` keeps it counting;
# `checkpoint` stops it and removes the container; `restore -d` brings it
# back running, in its cgroup, with the createRuntime hook run for the
# restored pid, counting on from past the checkpointed value; state, kill
# and delete work on the restored container. One ok/FAIL line per check.
set -uo pipefail
here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
rt=$1
. "$here/check.sh"
root=/run/rt-criu
b=/tmp/criu-bundle
count=$b/rootfs/tmp/count

# The counter starts at 1 and goes up 5 times a second.
"$here/../mkbundle.sh" "$b" sh -c 'i=0; while :; do i=$((i+1)); echo $i >/tmp/count; sleep 0.2; done' >/dev/null
# A createRuntime hook records the state it is given (at run, and at restore).
jq '.root.readonly = false | .linux.cgroupsPath = "/criu/c1"
	| .hooks.createRuntime = [{path: "/bin/sh", args: ["sh", "-c", "cat >/tmp/hook-state"]}]' \
	"$b/config.json" >"$b/c.json" && mv "$b/c.json" "$b/config.json"
rtc() { "$rt" --root "$root" --log /tmp/rt.log "$@"; }
status() { rtc state c1 2>/dev/null | jq -r .status; }
counter() { local v; v=$(cat "$count" 2>/dev/null); echo "${v:-0}"; }
show_log() { # show_log FILE: what CRIU logged before its first error
	[ -e "$1" ] && grep -m1 -B12 -A3 'Error (' "$1" | sed 's/^/    /'
}
wait_counter_above() { # wait_counter_above N: until the counter passes N (30 s)
	local i
	for i in $(seq 150); do
		[ "$(counter)" -gt "$1" ] && return 0
		sleep 0.2
	done
	return 1
}

cd "$b" || exit 1
# Here CRIU works (criu check passes), so features says so.
check "features: checkpoint enabled" true \
	"$("$rt" features | jq -r '.annotations["org.opencontainers.runc.checkpoint.enabled"]')"
# The container's stdio are pipes, as containerd gives them (and runc's
# own tests): restore hands its own pipes over in their place.
exec 7< <(sleep 100000) 8> >(cat >/dev/null) 9> >(cat >/dev/null)
rtc run -d c1 <&7 >&8 2>&9
check "run -d" "0 running" "$? $(status)"
wait_counter_above 2
check "the counter counts" 0 $?
echo "info: the container's init is pid $(rtc state c1 | jq .pid)"

# --leave-running: images written, the container still runs and counts.
rtc checkpoint --leave-running --image-path /tmp/img-live c1
rc=$?
[ $rc = 0 ] || { tail -n 3 /tmp/rt.log; show_log /tmp/img-live/dump.log; }
check "checkpoint --leave-running" "0 running" "$rc $(status)"
check "--leave-running wrote images" yes "$([ -e /tmp/img-live/inventory.img ] && echo yes)"
v=$(counter)
wait_counter_above "$v"
check "still counting after --leave-running" 0 $?

# A plain checkpoint: CRIU kills the processes, the container is removed.
rtc checkpoint --image-path /tmp/img c1
rc=$?
[ $rc = 0 ] || { tail -n 3 /tmp/rt.log; show_log /tmp/img/dump.log; }
check "checkpoint" 0 $rc
at_checkpoint=$(counter)
rtc state c1 >/dev/null 2>&1
check "checkpoint removed the container" 1 $?
check "its cgroup is gone" no "$([ -d /sys/fs/cgroup/criu/c1 ] && echo yes || echo no)"
sleep 1
check "the counter stopped at $at_checkpoint" "$at_checkpoint" "$(counter)"

rm -f /tmp/hook-state
exec 7< <(sleep 100000) 8> >(cat >/dev/null) 9> >(cat >/dev/null)
rtc restore -d -b "$b" --image-path /tmp/img --pid-file /tmp/restored.pid c1 <&7 >&8 2>&9
rc=$?
[ $rc = 0 ] || { tail -n 3 /tmp/rt.log; show_log /tmp/img/restore.log; }
check "restore -d" "0 running" "$rc $(status)"
pid=$(rtc state c1 2>/dev/null | jq -r .pid)
[ -n "$pid" ] || pid=none
echo "info: state pid $pid, pid file $(cat /tmp/restored.pid 2>/dev/null); processes:"
ps -eo pid,ppid,stat,comm,args 2>/dev/null | tail -n 12 | sed 's/^/    /'
echo "    cgroup.procs: $(cat /sys/fs/cgroup/criu/c1/cgroup.procs 2>&1 | tr '\n' ' ')"
grep -h -E '^(Pid|PPid|NSpid|State)' /proc/$(cat /tmp/restored.pid 2>/dev/null)/status 2>&1 | sed 's/^/    /'
grep -E 'Restore finished|pidfile|Forking task|task with|PID: real' /tmp/img/restore.log 2>/dev/null | tail -n 8 | sed 's/^/    /'
check "pid file has the restored init" "$pid" "$(cat /tmp/restored.pid 2>/dev/null)"
check "the restored init is in the container's cgroup" "0::/criu/c1" "$(cat /proc/"$pid"/cgroup 2>/dev/null)"
check "createRuntime hook ran for the restored pid" "$pid" "$(jq -r .pid /tmp/hook-state 2>/dev/null)"
wait_counter_above "$at_checkpoint"
check "restored container counts on past $at_checkpoint" 0 $?
v=$(counter)
wait_counter_above "$v"
check "and keeps counting (past $v)" 0 $?

rtc kill c1 KILL
for i in $(seq 50); do [ "$(status)" = stopped ] && break; sleep 0.2; done
check "kill stops the restored container" stopped "$(status)"
rtc delete c1
check "delete removes it" "0 no" "$? $([ -d /sys/fs/cgroup/criu/c1 ] && echo yes || echo no)"

exit $failed
