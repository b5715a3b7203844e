#!/bin/sh
# Guest side of the rootless cgroup v2 checks; selftest.sh runs it with
#   run-in-vm.sh WORK hack/vm/rootless-checks.sh RUNTIME
# in a guest whose /sys/fs/cgroup is pure cgroup2. WORK holds `rootless`,
# the runtime copied there (readable by anyone) and a busybox bundle
# `sleeper` whose rootfs a user may read. As uid 4242 (no passwd entry
# needed: setpriv takes numbers), owner of the delegated subtree /deleg as
# systemd's Delegate= would hand it over:
# - a container with cgroupsPath /deleg/c1 gets memory.max and pids.max,
#   and both are enforced (fork refused at the limit, OOM kill at 32 MiB);
# - pause/resume freeze and thaw its cgroup; delete removes it, not /deleg;
# - without a cgroupsPath and without permission it runs with no cgroup,
#   and asking for a limit then fails with runc's words.
# Prints one "ok"/"FAIL" line per check; exits 1 if any failed.
set -u
rt=$1
. "$(dirname "$0")/check.sh"
name=$(basename "$rt")
uid=4242
bb=/bin/busybox
# util-linux setpriv, not the busybox applet of the same name (no --reuid).
setpriv=/usr/bin/setpriv
work=$(pwd)
xdg=/run/user/$uid
mkdir -p $xdg && chown $uid:$uid $xdg && chmod 700 $xdg
chown -R $uid:$uid "$work/sleeper"

# The delegated subtree: the directory and the files a delegate writes;
# the user enables controllers for its children itself.
cg=/sys/fs/cgroup/deleg
mkdir $cg
chown $uid:$uid $cg $cg/cgroup.procs $cg/cgroup.subtree_control $cg/cgroup.threads
# Runs "$@" as the user, from the leaf /deleg/session: moving a process
# needs write access to the common ancestor's cgroup.procs, so the user's
# runtime must start inside its own subtree (systemd puts a user's session
# there). Root moves the shell in, then drops to the user.
as_user() {
	"$setpriv" --reuid=$uid --regid=$uid --clear-groups -- sh -c 'mkdir -p /sys/fs/cgroup/deleg/session' &&
		sh -c 'echo $$ >/sys/fs/cgroup/deleg/session/cgroup.procs && exec "$@"' sh \
			env -i PATH="$PATH" HOME="$work" XDG_RUNTIME_DIR=$xdg \
			"$setpriv" --reuid=$uid --regid=$uid --clear-groups -- "$@"
}
as_user sh -c 'echo "+memory +pids" >/sys/fs/cgroup/deleg/cgroup.subtree_control'
check "delegate enables memory and pids" "memory pids" "$(cat $cg/cgroup.subtree_control)"

cd "$work/sleeper" || exit 1
rm -f config.json
as_user "$rt" spec --rootless
jq '.process.terminal = false | .process.args = ["sh", "-c", "(for i in 1 2 3 4 5 6 7 8 9 10 11 12; do sleep 600 & done) 2>/dev/null; exec sleep 600"]
	| .linux.cgroupsPath = "/deleg/c1" | .linux.resources = {memory: {limit: 33554432}, pids: {limit: 8}}
	| .mounts += [{destination: "/bin/busybox", type: "bind", source: $bb, options: ["bind", "ro"]}]' \
	--arg bb "$bb" config.json >config.new && mv config.new config.json && chown $uid:$uid config.json
cp config.json config.base

as_user "$rt" run -d c1 </dev/null >/dev/null 2>"$work/err"
check "$name rootless run -d in /deleg/c1" 0 $?
sleep 1
check "$name rootless memory.max" 33554432 "$(cat $cg/c1/memory.max 2>&1)"
check "$name rootless pids.max" 8 "$(cat $cg/c1/pids.max 2>&1)"
refused=$(sed -n 's/^max //p' $cg/c1/pids.events 2>/dev/null)
check "$name rootless pids limit refused forks" yes "$([ "${refused:-0}" -gt 0 ] && echo yes || echo "no (pids.events max ${refused:-?})")"
check "$name rootless init's cgroup" 0::/deleg/c1 "$(cat /proc/$(as_user "$rt" state c1 | jq .pid)/cgroup)"
as_user "$rt" pause c1
check "$name rootless pause" "1 paused" "$(cat $cg/c1/cgroup.freeze) $(as_user "$rt" state c1 | jq -r .status)"
as_user "$rt" resume c1
check "$name rootless resume" "0 running" "$(cat $cg/c1/cgroup.freeze) $(as_user "$rt" state c1 | jq -r .status)"
as_user "$rt" delete -f c1 2>>"$work/err"
check "$name rootless delete removes /deleg/c1 only" "gone kept" \
	"$([ -d $cg/c1 ] && echo left || echo gone) $([ -d $cg ] && echo kept || echo gone)"

# Enforced memory: 64 MiB into /dev/shm under a 32 MiB limit.
jq '.process.args = ["sh", "-c", "head -c 67108864 /dev/zero >/dev/shm/fill"]' config.base >config.json
as_user "$rt" run c2 </dev/null >/dev/null 2>>"$work/err"
check "$name rootless OOM-killed container exits 137" 137 $?
check "$name rootless OOM kill counted" yes \
	"$(grep -q '^oom_kill [1-9]' $cg/memory.events && echo yes || echo no)"

# No cgroupsPath, no permission: the user's runtime runs in the root
# cgroup (root's), outside its subtree; the default path is below it.
outside() {
	env -i PATH="$PATH" HOME="$work" XDG_RUNTIME_DIR=$xdg \
		"$setpriv" --reuid=$uid --regid=$uid --clear-groups -- "$@"
}
jq '.process.args = ["true"] | del(.linux.cgroupsPath) | del(.linux.resources)' config.base >config.json
outside "$rt" run c3 </dev/null >/dev/null 2>>"$work/err"
check "$name rootless, no limits, no cgroup permission: runs" 0 $?
jq '.process.args = ["true"] | del(.linux.cgroupsPath) | .linux.resources = {pids: {limit: 10}}' config.base >config.json
out=$(outside "$rt" run c4 </dev/null 2>&1 >/dev/null)
check "$name rootless, limits, no cgroup permission: refused" "1 yes" \
	"$? $(echo "$out" | grep -q 'rootless needs no limits + no cgrouppath' && echo yes || echo "no: $out")"

if [ "$failed" != 0 ]; then
	echo "stderr of the runtime:"
	cat "$work/err"
fi
exit "$failed"
