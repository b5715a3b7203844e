#!/usr/bin/env bash
# Run one command in a throw-away Linux guest whose /sys/fs/cgroup is a pure
# cgroup v2 hierarchy, whatever the host's cgroup layout is.
#
#   hack/vm/run-in-vm.sh [OPTIONS] DIR CMD [ARG...]
#
# The guest is User-mode Linux (Debian package user-mode-linux, kernel 6.1),
# an ordinary host process: no KVM needed, ~2 s to boot. Its root filesystem
# is the host's root, read-only, so host binaries run unchanged; DIR is
# mounted read-write at the same path and is CMD's working directory. CMD's
# stdout and stderr come back on ours, stdin is /dev/null, and we exit with
# CMD's status (124: timeout, 125: the guest failed before CMD finished).
#
# Guest: /sys/fs/cgroup is cgroup2 (nsdelegate, memory_recursiveprot) with
# every controller enabled in the root's subtree_control (UML 6.1 has cpu, io,
# memory, pids); /tmp, /var/tmp, /run and /dev/shm are empty tmpfs; /dev/pts,
# /dev/mqueue mounted; lo up; hostname rt-vm; overlay module loaded; one CPU.
#
# Options:
#   --systemd       boot the host's systemd as PID 1 (it mounts cgroup2) and
#                   run CMD as the unit rt-vm.service (Delegate=yes) once
#                   basic.target is reached; for the systemd cgroup driver
#   --cgroup PATH   run CMD in cgroup PATH (created; controllers enabled down
#                   to it) instead of the root cgroup (not with --systemd)
#   --mem MIB       guest RAM (default 1024; a sparse file in /dev/shm)
#   --timeout SECS  kill the guest after SECS (default 900)
#   --env NAME      pass host variable NAME to CMD (repeatable; RUST_LOG and
#                   RUST_BACKTRACE always are, when set)
#   --verbose       guest console (kernel and init messages) to stderr
# Environment: RT_VM_EXPOSE: host paths (colon-separated) the guest sees
# read-only at the same place even when they lie under /tmp, /var/tmp or
# /run, which the guest covers with empty tmpfs (a checkout in /tmp holds
# the runtime and the check scripts). RT_VM_CACHE (default /var/cache/rt-vm): the unpacked
# user-mode-linux package and uml-xstate.so (built from uml-xstate.c).
#
# Needs root, apt-get and dpkg (first run downloads user-mode-linux, ~40 MB),
# gcc (builds uml-xstate.c once), busybox-static.
set -euo pipefail

here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
fail() { echo "run-in-vm: $*" >&2; exit 125; }
usage() { sed -n '5p' "$0" | sed 's/^# *//' >&2; exit 2; }

systemd=0 cgroup="" mem=1024 timeout_s=900 verbose=0
pass_env=(RUST_LOG RUST_BACKTRACE)
while [ $# -gt 0 ]; do
	case "$1" in
	--systemd) systemd=1; shift ;;
	--cgroup) [ $# -ge 2 ] || usage; cgroup=$2; shift 2 ;;
	--mem) [ $# -ge 2 ] || usage; mem=$2; shift 2 ;;
	--timeout) [ $# -ge 2 ] || usage; timeout_s=$2; shift 2 ;;
	--env) [ $# -ge 2 ] || usage; pass_env+=("$2"); shift 2 ;;
	--verbose) verbose=1; shift ;;
	-h | --help) usage ;;
	--) shift; break ;;
	-*) fail "unknown option: $1" ;;
	*) break ;;
	esac
done
[ $# -ge 2 ] || usage
dir=$(realpath -e -- "$1") || fail "no such directory: $1"
[ -d "$dir" ] || fail "not a directory: $dir"
shift
[[ "$mem" =~ ^[0-9]+$ ]] || fail "--mem wants MiB, got '$mem'"
[[ "$timeout_s" =~ ^[0-9]+$ ]] || fail "--timeout wants seconds, got '$timeout_s'"
[ -z "$cgroup" ] || [[ "$cgroup" =~ ^/[A-Za-z0-9._/-]+$ ]] || fail "--cgroup wants an absolute path like /test/a, got '$cgroup'"
[ "$systemd" = 0 ] || [ -z "$cgroup" ] || fail "--cgroup cannot be combined with --systemd"
[ "$(id -u)" = 0 ] || fail "must run as root"
busybox=$(command -v busybox) || fail "busybox not found (apt-get install busybox-static)"
busybox=$(realpath "$busybox")

# ---- assets: UML kernel + modules, the xstate shim-----------------------------
cache=${RT_VM_CACHE:-/var/cache/rt-vm}
mkdir -p "$cache"
if [ -x /usr/bin/linux.uml ] && [ -d /usr/lib/uml/modules ]; then
	uml=/usr/bin/linux.uml
	moddir=/usr/lib/uml/modules
else
	if [ ! -e "$cache/uml/.unpacked" ]; then
		echo "run-in-vm: fetching user-mode-linux into $cache/uml (once)" >&2
		rm -rf "$cache/uml"
		mkdir -p "$cache/uml"
		(cd "$cache/uml" && apt-get download user-mode-linux >/dev/null 2>&1) ||
			fail "apt-get download user-mode-linux failed (try apt-get update)"
		dpkg -x "$cache"/uml/user-mode-linux_*.deb "$cache/uml/root" || fail "dpkg -x failed"
		rm -f "$cache"/uml/*.deb
		touch "$cache/uml/.unpacked"
	fi
	uml=$cache/uml/root/usr/bin/linux.uml
	moddir=$cache/uml/root/usr/lib/uml/modules
fi
moddir=$(find "$moddir" -mindepth 1 -maxdepth 1 -type d | head -n 1)
[ -x "$uml" ] && [ -n "$moddir" ] || fail "no usable linux.uml / modules under $cache/uml"

# UML 6.1 loses its guest processes' vector registers on hosts whose XSAVE
# area is bigger than AVX's (AVX-512, AMX): uml-xstate.so fixes that from
# inside the linux.uml process (see the comment at its top).
shim=$cache/uml-xstate.so
if [ ! -e "$shim" ] || [ "$here/uml-xstate.c" -nt "$shim" ]; then
	command -v gcc >/dev/null || fail "gcc is needed once to build $shim"
	gcc -O2 -Wall -shared -fPIC -o "$shim.tmp" "$here/uml-xstate.c" -ldl || fail "building uml-xstate.so failed"
	mv "$shim.tmp" "$shim"
fi

# ---- the run directory: guest init, command, status ---------------------------------
run=$(mktemp -d /tmp/rt-vm.XXXXXX)
cleanup() { rm -rf "$run"; }
trap cleanup EXIT

. "$here/guest-cmd.sh"
# The command, as the guest will run it: clean environment, cwd DIR.
write_guest_cmd "$run/cmd" "$dir" "$@"

# Guest PID 1 (or, with --systemd, what runs before systemd takes over).
cat >"$run/init" <<EOF
#!$busybox sh
bb=$busybox
run=$(q "$run")
dir=$(q "$dir")
moddir=$(q "$moddir")
cgroup=$(q "$cgroup")
systemd=$systemd
expose=$(q "${RT_VM_EXPOSE:-}")
EOF
cat >>"$run/init" <<'EOF'
say() { echo "rt-vm: $*" >/dev/console; }
$bb mount -t proc proc /proc
$bb mount -t sysfs sysfs /sys
$bb grep -q ' /dev ' /proc/mounts || $bb mount -t devtmpfs devtmpfs /dev
for d in /run /tmp /var/tmp /dev/shm; do
	[ -d $d ] && $bb mount -t tmpfs -o mode=1777 tmpfs $d
done
$bb chmod 755 /run
$bb mkdir -p /dev/pts /dev/mqueue /run/rt-vm
$bb mount -t devpts -o newinstance,ptmxmode=0666,mode=620 devpts /dev/pts
[ -e /dev/ptmx ] || $bb ln -s pts/ptmx /dev/ptmx
$bb mount -t mqueue mqueue /dev/mqueue
[ -e /dev/fd ] || $bb ln -s /proc/self/fd /dev/fd
# Host paths the command needs that the tmpfs mounts above hid (before
# DIR, which may lie inside one of them).
IFS_SAVED=$IFS; IFS=:
for p in $expose; do
	[ -n "$p" ] || continue
	$bb mkdir -p "$p" 2>/dev/null
	$bb mount -t hostfs -o ro,"$p" none "$p" || say "cannot expose $p"
done
IFS=$IFS_SAVED
# The host run directory (read-write): status and the command script.
$bb mount -t hostfs -o "$run" none /run/rt-vm
$bb mkdir -p "$dir" 2>/dev/null
$bb mount -t hostfs -o "$dir" none "$dir" || say "cannot mount $dir"
# Modules live on the (read-only) host root at the same path.
$bb insmod "$moddir/kernel/fs/overlayfs/overlay.ko" 2>/dev/null
$bb hostname rt-vm
$bb ip link set lo up

# Output to the host: tty1 is our stdout, tty2 our stderr; raw, so bytes pass
# unchanged (no \n -> \r\n).
$bb stty -F /dev/tty1 raw -echo
$bb stty -F /dev/tty2 raw -echo

finish() { # finish STATUS: hand the status to the host and power off
	echo "$1" >/run/rt-vm/status
	$bb sync
	$bb umount /run/rt-vm
	echo o >/proc/sysrq-trigger
	$bb poweroff -f
}

if [ "$systemd" = 1 ]; then
	# systemd mounts cgroup2 itself. The service wrapper powers off through
	# sysrq: systemd's own poweroff does not complete under UML.
	$bb mkdir -p /run/systemd/system
	printf '%s\n' "#!$bb sh" \
		"echo \"rt-vm: command starts at \$($bb cut -d' ' -f1 /proc/uptime)\" >/dev/console" \
		"$bb sh /run/rt-vm/cmd </dev/null >/dev/tty1 2>/dev/tty2" \
		'rc=$?' \
		"echo \$rc >/run/rt-vm/status; $bb sync; $bb umount /run/rt-vm" \
		'echo o >/proc/sysrq-trigger' >/run/rt-vm-service
	$bb chmod 755 /run/rt-vm-service
	printf '%s\n' '[Unit]' 'Description=run-in-vm command' 'After=basic.target' \
		'[Service]' 'Type=oneshot' 'Delegate=yes' 'TimeoutStartSec=infinity' \
		'StandardOutput=null' 'StandardError=null' 'ExecStart=/run/rt-vm-service' \
		>/run/systemd/system/rt-vm.service
	printf '%s\n' '[Unit]' 'Description=run-in-vm' 'Requires=basic.target rt-vm.service' \
		'After=basic.target rt-vm.service' 'AllowIsolate=yes' >/run/systemd/system/rt-vm.target
	$bb umount /sys /proc
	exec /lib/systemd/systemd --unit=rt-vm.target --show-status=false
	say "exec systemd failed"
	finish 125
fi

$bb mount -t cgroup2 -o nsdelegate,memory_recursiveprot cgroup2 /sys/fs/cgroup ||
	$bb mount -t cgroup2 cgroup2 /sys/fs/cgroup || say "cannot mount cgroup2"
enable_controllers() { # enable_controllers DIR: all of DIR's controllers for its children
	for c in $($bb cat "$1/cgroup.controllers"); do
		echo "+$c" >"$1/cgroup.subtree_control" || say "cannot enable $c in $1"
	done
}
enable_controllers /sys/fs/cgroup
target=/sys/fs/cgroup
if [ -n "$cgroup" ]; then
	for part in $(echo "$cgroup" | $bb tr / ' '); do
		[ "$target" = /sys/fs/cgroup ] || enable_controllers "$target"
		target=$target/$part
		$bb mkdir -p "$target"
	done
fi
say "command starts at $($bb cut -d' ' -f1 /proc/uptime)"
$bb sh -c 'echo $$ >"$1/cgroup.procs" && exec "$2" sh /run/rt-vm/cmd' sh "$target" "$bb" \
	</dev/null >/dev/tty1 2>/dev/tty2
rc=$?
say "command exit $rc at $($bb cut -d' ' -f1 /proc/uptime)"
finish $rc
EOF
chmod 755 "$run/init"

# ---- boot ----------------------------------------------------------------------------
console=$run/console.log
if [ "$verbose" = 1 ]; then exec 5>&2; else exec 5>"$console"; fi
# The guest's RAM is a file in TMPDIR; in /dev/shm it costs only what is used.
[ -d /dev/shm ] && export TMPDIR=/dev/shm
set +e
LD_PRELOAD=$shim timeout -k 5 "$timeout_s" "$uml" mem="${mem}M" rootfstype=hostfs rootflags=/ ro \
	init="$run/init" quiet con=null con0=null,fd:5 con1=null,fd:1 con2=null,fd:2 ssl=null </dev/null
vm_rc=$?
set -e
exec 5>&-

if [ -s "$run/status" ]; then
	exit "$(cat "$run/status")"
fi
if [ "$verbose" = 0 ]; then
	echo "run-in-vm: the guest ended without a command status (exit $vm_rc); console:" >&2
	grep -v '^ \[<' "$console" | tail -n 25 >&2 || true
fi
[ "$vm_rc" = 124 ] && exit 124
exit 125
