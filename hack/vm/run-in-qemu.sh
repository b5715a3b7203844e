#!/usr/bin/env bash
# Run one command in a throw-away QEMU guest that boots Debian's own 6.1
# kernel (package linux-image-amd64), for what the host kernel or User-mode
# Linux cannot do: CRIU (Debian's criu 3.17 fails on the host's 6.18 kernel
# with "Unexpected rt vDSO area bounds", and UML has no CRIU support).
#
#   hack/vm/run-in-qemu.sh [OPTIONS] DIR CMD [ARG...]
#
# Same contract as run-in-vm.sh: the guest's root is the host's /, here
# shared read-only over virtio-9p; DIR is shared read-write at the same path
# and is CMD's working directory; CMD's stdout and stderr come back on ours
# (two virtio consoles), stdin is /dev/null, and we exit with CMD's status
# (124: timeout, 125: the guest failed before CMD finished).
#
# Guest: /sys/fs/cgroup is cgroup2 with every controller enabled in the
# root's subtree_control; /tmp, /var/tmp, /run, /dev/shm are empty tmpfs;
# /dev/pts, /dev/mqueue mounted; lo up; hostname rt-vm; 2 vCPUs.
#
# Options:
#   --mem MIB       guest RAM (default 1024)
#   --cpus N        vCPUs (default 2)
#   --timeout SECS  kill the guest after SECS (default 900)
#   --env NAME      pass host variable NAME to CMD (repeatable; RUST_LOG and
#                   RUST_BACKTRACE always are, when set)
#   --kvm           use -enable-kvm instead of software emulation (TCG). Off
#                   by default: this build machine's /dev/kvm is PVM, which
#                   cannot run a stock kernel (see /work/shared/docs/vm.md).
#   --modules LIST  more kernel modules (space-separated) to load at boot,
#                   e.g. CRIU's "nf_tables unix_diag inet_diag tcp_diag ..."
#   --verbose       guest console (kernel and init messages) to stderr
# Environment: RT_VM_CACHE (default /var/cache/rt-vm): the unpacked kernel
# package (qemu/<package>/) and the initramfs built from it.
#
# Needs root, apt-get and dpkg (the first run downloads the kernel package,
# ~70 MB, and unpacks it into the cache; nothing is installed on the host),
# busybox-static, qemu-system-x86.
set -euo pipefail

fail() { echo "run-in-qemu: $*" >&2; exit 125; }
usage() { sed -n '7p' "$0" | sed 's/^# *//' >&2; exit 2; }

mem=1024 cpus=2 timeout_s=900 verbose=0 kvm=0 extra_modules=""
pass_env=(RUST_LOG RUST_BACKTRACE)
while [ $# -gt 0 ]; do
	case "$1" in
	--mem) [ $# -ge 2 ] || usage; mem=$2; shift 2 ;;
	--cpus) [ $# -ge 2 ] || usage; cpus=$2; shift 2 ;;
	--timeout) [ $# -ge 2 ] || usage; timeout_s=$2; shift 2 ;;
	--env) [ $# -ge 2 ] || usage; pass_env+=("$2"); shift 2 ;;
	--kvm) kvm=1; shift ;;
	--modules) [ $# -ge 2 ] || usage; extra_modules=$2; shift 2 ;;
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
[[ "$cpus" =~ ^[0-9]+$ ]] || fail "--cpus wants a number, got '$cpus'"
[[ "$timeout_s" =~ ^[0-9]+$ ]] || fail "--timeout wants seconds, got '$timeout_s'"
[ "$(id -u)" = 0 ] || fail "must run as root"
busybox=$(command -v busybox) || fail "busybox not found (apt-get install busybox-static)"
busybox=$(realpath "$busybox")
qemu=$(command -v qemu-system-x86_64) || fail "qemu-system-x86_64 not found (apt-get install qemu-system-x86)"

# ---- assets: Debian's kernel and its modules, an initramfs ---------------------------
cache=${RT_VM_CACHE:-/var/cache/rt-vm}
kpkg=$(apt-cache depends linux-image-amd64 2>/dev/null | sed -n 's/^ *Depends: \(linux-image-[0-9][^ ]*\)$/\1/p' | head -n 1)
[ -n "$kpkg" ] || fail "cannot resolve linux-image-amd64 to a kernel package (try apt-get update)"
kdir=$cache/qemu/$kpkg
if [ ! -e "$kdir/.unpacked" ]; then
	echo "run-in-qemu: fetching $kpkg into $kdir (once)" >&2
	rm -rf "$kdir/root"
	mkdir -p "$kdir"
	ls "$kdir"/"$kpkg"_*.deb >/dev/null 2>&1 ||
		(cd "$kdir" && apt-get download "$kpkg" >/dev/null 2>&1) || fail "apt-get download $kpkg failed"
	dpkg -x "$kdir"/"$kpkg"_*.deb "$kdir/root" || fail "dpkg -x failed"
	rm -f "$kdir"/*.deb
	kver=$(ls "$kdir/root/lib/modules")
	# The package ships no modules.dep (the postinst runs depmod).
	"$busybox" depmod -b "$kdir/root" "$kver" || fail "depmod failed"
	touch "$kdir/.unpacked"
fi
kver=$(ls "$kdir/root/lib/modules")
mods=$kdir/root/lib/modules/$kver
vmlinuz=$kdir/root/boot/vmlinuz-$kver
[ -e "$vmlinuz" ] && [ -e "$mods/modules.dep" ] || fail "no usable kernel under $kdir"

# The initramfs: static busybox, the modules for virtio consoles, 9p and
# overlay (with what they depend on) plus --modules, and a stage-1 init
# that mounts the host root over 9p and switches to it. One per module set
# and busybox.
[[ "$extra_modules" =~ ^[A-Za-z0-9_\ -]*$ ]] || fail "--modules wants module names, got '$extra_modules'"
want=$(echo virtio_pci virtio_console 9pnet_virtio 9p overlay $extra_modules | tr ' ' '\n' | sort -u | tr '\n' ' ')
key=$( (echo "$kver $want"; cat "$busybox") | md5sum | cut -c1-12)
initrd=$cache/qemu/initrd-$key.gz
if [ ! -e "$initrd" ]; then
	t=$(mktemp -d)
	mkdir -p "$t"/{bin,dev,proc,sys,newroot} "$t/lib/modules/$kver"
	cp "$busybox" "$t/bin/busybox"
	for m in $want; do
		# modules.dep: "path/m.ko: dep1.ko dep2.ko"; copy the module and its deps.
		line=$(grep -m1 -E "(^|/)${m//_/[_-]}\.ko(\.[a-z]+)?:" "$mods/modules.dep") ||
			{ rm -rf "$t"; fail "module $m not in $kver"; }
		for f in ${line/:/}; do
			mkdir -p "$t/lib/modules/$kver/$(dirname "$f")"
			cp "$mods/$f" "$t/lib/modules/$kver/$f"
		done
	done
	cp "$mods"/modules.{dep,alias,builtin,order} "$t/lib/modules/$kver/" 2>/dev/null || true
	echo "$want" >"$t/modules"
	cat >"$t/init" <<'EOF'
#!/bin/busybox sh
b=/bin/busybox
$b mount -t proc proc /proc
$b mount -t sysfs sysfs /sys
$b mount -t devtmpfs devtmpfs /dev
for m in $($b cat /modules); do $b modprobe "$m" || echo "rt-vm: modprobe $m failed"; done
init=$($b sed -n 's/.*rtvm\.init=\([^ ]*\).*/\1/p' /proc/cmdline)
# multidevs=remap: the host's / spans several filesystems whose inode
# numbers would otherwise collide in the guest.
$b mount -t 9p -o trans=virtio,version=9p2000.L,msize=512000,ro,multidevs=remap hostroot /newroot ||
	{ echo "rt-vm: cannot mount the host root"; $b poweroff -f; }
$b mount --move /dev /newroot/dev
$b umount /proc /sys
exec $b switch_root /newroot "$init"
EOF
	chmod 755 "$t/init"
	(cd "$t" && find . | "$busybox" cpio -o -H newc 2>/dev/null | gzip -1 >"$initrd.tmp") &&
		mv "$initrd.tmp" "$initrd"
	rm -rf "$t"
fi

# ---- the run directory: guest init, command, status ---------------------------------
run=$(mktemp -d /tmp/rt-qemu.XXXXXX)
cleanup() { rm -rf "$run"; }
trap cleanup EXIT

. "$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)/guest-cmd.sh"
# The command, as the guest will run it: clean environment, cwd DIR.
write_guest_cmd "$run/cmd" "$dir" "$@"

# Stage 2 (on the host root): the same guest setup as run-in-vm.sh.
cat >"$run/init" <<EOF
#!$busybox sh
bb=$busybox
dir=$(q "$dir")
EOF
cat >>"$run/init" <<'EOF'
say() { echo "rt-vm: $*" >/dev/console; }
ninep() { $bb mount -t 9p -o trans=virtio,version=9p2000.L,msize=512000 "$@"; }
$bb mount -t proc proc /proc
$bb mount -t sysfs sysfs /sys
for d in /run /tmp /var/tmp /dev/shm; do
	[ -d $d ] && $bb mount -t tmpfs -o mode=1777 tmpfs $d
done
$bb chmod 755 /run
$bb mkdir -p /dev/pts /dev/mqueue /run/rt-vm
$bb mount -t devpts -o newinstance,ptmxmode=0666,mode=620 devpts /dev/pts
[ -e /dev/ptmx ] || $bb ln -s pts/ptmx /dev/ptmx
$bb mount -t mqueue mqueue /dev/mqueue
[ -e /dev/fd ] || $bb ln -s /proc/self/fd /dev/fd
ninep rtvm /run/rt-vm || say "cannot mount the run directory"
$bb mkdir -p "$dir" 2>/dev/null
ninep share "$dir" || say "cannot mount $dir"
$bb hostname rt-vm
$bb ip link set lo up
$bb mount -t cgroup2 -o nsdelegate,memory_recursiveprot cgroup2 /sys/fs/cgroup ||
	$bb mount -t cgroup2 cgroup2 /sys/fs/cgroup || say "cannot mount cgroup2"
for c in $($bb cat /sys/fs/cgroup/cgroup.controllers); do
	echo "+$c" >/sys/fs/cgroup/cgroup.subtree_control || say "cannot enable $c"
done
$bb stty -F /dev/hvc0 raw -echo 2>/dev/null
$bb stty -F /dev/hvc1 raw -echo 2>/dev/null
say "command starts at $($bb cut -d' ' -f1 /proc/uptime)"
$bb sh /run/rt-vm/cmd </dev/null >/dev/hvc0 2>/dev/hvc1
rc=$?
say "command exit $rc at $($bb cut -d' ' -f1 /proc/uptime)"
echo $rc >/run/rt-vm/status
$bb sync
$bb umount /run/rt-vm
$bb poweroff -f
EOF
chmod 755 "$run/init"

# ---- boot ----------------------------------------------------------------------------
if [ "$kvm" = 1 ]; then accel=(-enable-kvm -cpu host); else accel=(-accel tcg,thread=multi -cpu max); fi
# QEMU's file chardevs reopen their path, which would reset the offset of
# a stdout redirected to a regular file: feed ours through FIFOs instead.
mkfifo "$run/out" "$run/err"
cat "$run/out" &
cat_out=$!
cat "$run/err" >&2 &
cat_err=$!
console=$run/console.log
[ "$verbose" = 0 ] || console=$run/err
set +e
timeout -k 5 "$timeout_s" "$qemu" "${accel[@]}" -m "$mem" -smp "$cpus" \
	-nodefaults -display none -no-reboot \
	-chardev file,id=con,path="$console" -serial chardev:con \
	-device virtio-serial-pci,id=vs \
	-chardev file,id=out,path="$run/out" -device virtconsole,chardev=out,bus=vs.0 \
	-chardev file,id=err,path="$run/err" -device virtconsole,chardev=err,bus=vs.0 \
	-kernel "$vmlinuz" -initrd "$initrd" \
	-append "console=ttyS0 quiet panic=-1 rtvm.init=$run/init" \
	-virtfs local,path=/,mount_tag=hostroot,security_model=none,readonly=on,multidevs=remap,id=hostroot \
	-virtfs local,path="$run",mount_tag=rtvm,security_model=none,id=rtvm \
	-virtfs local,path="$dir",mount_tag=share,security_model=none,id=share \
	</dev/null
vm_rc=$?
# If QEMU never opened a FIFO (it failed to start), its reader still waits
# in open(2): a read-write open and close (which never blocks) ends it.
exec 7<>"$run/out" 8<>"$run/err"
exec 7>&- 8>&-
wait "$cat_out" "$cat_err"
set -e

if [ -s "$run/status" ]; then
	exit "$(cat "$run/status")"
fi
if [ "$verbose" = 0 ]; then
	echo "run-in-qemu: the guest ended without a command status (exit $vm_rc); console:" >&2
	tail -n 25 "$console" >&2 || true
fi
[ "$vm_rc" = 124 ] && exit 124
exit 125
