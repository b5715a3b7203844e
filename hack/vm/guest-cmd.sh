# Sourced by run-in-vm.sh (UML) and run-in-qemu.sh: shell quoting, and the
# command file both guests run as their payload.

q() { printf '%q' "$1"; }
qa() { local a out=""; for a in "$@"; do out+="$(q "$a") "; done; printf '%s' "$out"; }

# write_guest_cmd FILE DIR CMD...: CMD as the guest runs it, in DIR, with a
# clean environment plus the host variables named in the array pass_env.
write_guest_cmd() {
	local file=$1 dir=$2 name env_words
	shift 2
	{
		echo "cd $(q "$dir") || exit 125"
		env_words=(PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin HOME=/root LANG=C.UTF-8 TERM=dumb)
		for name in "${pass_env[@]}"; do
			[ -z "${!name+set}" ] || env_words+=("$name=${!name}")
		done
		echo "exec env -i $(qa "${env_words[@]}") $(qa "$@")"
	} >"$file"
}
