# Sourced by the bench scripts: run the rest of the calling script in a mount
# namespace of its own, with the hybrid-cgroup workaround applied there.
#
#   . "$here/private-ns.sh"; enter_private_ns "$self" "$@"; hide_v2_controllers_on_hybrid
#
# Mounts made by the runtimes or by us then never reach the host. On a hybrid
# cgroup host (v1 controllers, cgroup2 at /sys/fs/cgroup/unified) crun 1.8
# refuses to run while the v2 root lists any controller, and which ones it
# lists can change while we run (another job mounting or releasing a v1
# hierarchy moves them), so an empty file hides that list, for every runtime
# alike and inside the namespace only.

# enter_private_ns SCRIPT ARGS...: re-exec SCRIPT in a private mount namespace
# (once: returns when already inside).
enter_private_ns() {
	[ -z "${RT_BENCH_PRIVATE_NS:-}" ] || return 0
	export RT_BENCH_PRIVATE_NS=1
	exec unshare --mount --propagation private -- "$@"
}

# hide_v2_controllers_on_hybrid: sets cgroup_note to a one-line description
# of the cgroup layout and of what was hidden.
hide_v2_controllers_on_hybrid() {
	local empty
	cgroup_note="unified hierarchy (pure cgroup v2)"
	if [ "$(stat -f -c %T /sys/fs/cgroup)" = tmpfs ] && [ -e /sys/fs/cgroup/unified/cgroup.controllers ]; then
		cgroup_note="hybrid; v2 root controllers [$(cat /sys/fs/cgroup/unified/cgroup.controllers)] hidden in the benchmark's mount namespace"
		empty=$(mktemp)
		mount --bind "$empty" /sys/fs/cgroup/unified/cgroup.controllers
		rm -f "$empty"
	fi
}
