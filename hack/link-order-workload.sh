# Sourced by hack/link-order.sh and hack/link-order-check.sh: the workload
# whose code the layout list is about, so both look at the same thing.
#
#   link_order_bundles WORK [PARENT]
#                                  bundles under WORK: true, sleep, and
#                                  true with Docker's seccomp profile, with
#                                  memory and pids limits, with a user
#                                  namespace; with PARENT, each container's
#                                  cgroup is /PARENT/<bundle> (remove the
#                                  PARENT dirs with link_order_cgroups_gone)
#   link_order_workload RT... WORK run of each `true` bundle; create /
#                                  start / state / exec / list / kill /
#                                  delete of the `sleep` one (RT is the
#                                  command with its global flags)

link_order_bundles() {
	local work=$1 parent=${2:-} repo b
	repo=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
	"$repo/hack/mkbundle.sh" "$work/true" true >/dev/null
	"$repo/hack/mkbundle.sh" "$work/sleep" sleep 3600 >/dev/null
	"$repo/hack/bench/docker-seccomp.sh" >"$work/seccomp.json"
	_link_order_variant "$work" seccomp -c '.linux.seccomp = $s[0]'
	_link_order_variant "$work" limits -c '.linux.resources.memory.limit = 268435456 | .linux.resources.pids.limit = 128'
	_link_order_variant "$work" userns -c '.linux.namespaces += [{"type": "user"}]
		| .linux.uidMappings = [{"containerID": 0, "hostID": 100000, "size": 65536}]
		| .linux.gidMappings = [{"containerID": 0, "hostID": 100000, "size": 65536}]
		| .mounts |= map(select(.destination != "/sys/fs/cgroup"))'
	if [ -n "$parent" ]; then
		for b in true sleep seccomp limits userns; do
			jq --arg p "/$parent/$b" '.linux.cgroupsPath = $p' "$work/$b/config.json" >"$work/$b/config.json.new"
			mv "$work/$b/config.json.new" "$work/$b/config.json"
		done
	fi
	# The user-namespace container's root (an unmapped stranger) walks to its rootfs.
	chmod 0755 "$work"
}

# Removes the PARENT cgroup directories link_order_bundles' containers
# left (rt removes each container's own).
link_order_cgroups_gone() {
	local parent=$1
	[ -n "$parent" ] || return 0
	find /sys/fs/cgroup -mindepth 1 -maxdepth 3 -depth -type d -name "$parent" \
		-exec rmdir {} + 2>/dev/null || true
}

_link_order_variant() {
	local work=$1 name=$2 flag=$3 filter=$4
	mkdir -p "$work/$name"
	jq --arg rootfs "$work/true/rootfs" "$flag" --slurpfile s "$work/seccomp.json" \
		'.root.path = $rootfs | '"$filter" "$work/true/config.json" >"$work/$name/config.json"
}

link_order_workload() {
	local work=${*: -1}
	local rt=("${@:1:$#-1}")
	"${rt[@]}" run -b "$work/true" order-run
	"${rt[@]}" create -b "$work/sleep" order-life
	"${rt[@]}" start order-life
	"${rt[@]}" state order-life >/dev/null
	"${rt[@]}" exec order-life true
	"${rt[@]}" list >/dev/null
	"${rt[@]}" kill order-life KILL
	"${rt[@]}" delete -f order-life
	"${rt[@]}" run -b "$work/seccomp" order-seccomp
	"${rt[@]}" run -b "$work/limits" order-limits
	"${rt[@]}" run -b "$work/userns" order-userns
}
