# Sourced by the bench scripts: helpers they share.

# delete_all RUNTIME STATE: force-deletes every container left under the
# state root STATE, then removes STATE.
delete_all() {
	local c
	for c in "$2"/*; do
		[ -e "$c" ] && "$1" --root "$2" delete -f "$(basename "$c")" >/dev/null 2>&1
	done
	rm -rf "$2"
	return 0
}
