#!/usr/bin/env bash
# Checkpoint/restore of a counting container, in a QEMU guest booting
# Debian's 6.1 kernel (run-in-qemu.sh), where Debian's criu 3.17 works (on
# this host's 6.18 kernel it fails: "Unexpected rt vDSO area bounds").
#   hack/vm/criu-test.sh [RUNTIME]     (default: target/.../release/rt)
# Prints `criu check` and then one ok/FAIL line per check of
# criu-checks.sh; exits 1 if any failed. Slow: software emulation (TCG).
set -uo pipefail
here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
runtime=$(realpath "${1:-$here/../../target/x86_64-unknown-linux-gnu/release/rt}") ||
	{ echo "criu-test: no runtime ${1:-}" >&2; exit 2; }
command -v criu >/dev/null || { echo "criu-test: criu is not installed (apt-get install criu)" >&2; exit 2; }
work=$(mktemp -d /tmp/rt-criu-test.XXXXXX)
trap 'rm -rf "$work"' EXIT
# Every exec in the guest reads the binary over 9p under emulation: a copy
# without debug info starts several times faster than a 60 MB debug build.
objcopy --strip-debug "$runtime" "$work/rt" 2>/dev/null || cp "$runtime" "$work/rt"
# The guest covers /tmp with an empty tmpfs, and CI may clone the repo
# there: the check scripts travel in the shared work dir.
mkdir -p "$work/hack/vm"
cp "$here/criu-checks.sh" "$here/check.sh" "$work/hack/vm/"
cp "$here/../mkbundle.sh" "$work/hack/"
# What CRIU needs beyond the base set: socket diag modules, nf_tables (its
# kerndat probe fails without it), nf_conntrack_netlink (a network
# namespace's dump reads its conntrack table; EINVAL without it), veth, tun.
modules="crc32c_generic nf_tables nf_conntrack_netlink unix_diag inet_diag tcp_diag udp_diag netlink_diag af_packet_diag veth tun"
start=$(date +%s)
"$here/run-in-qemu.sh" --mem 1024 --modules "$modules" "$work" \
	sh -c 'criu check 2>&1 | tail -n 1 | sed "s/^/criu check: /"; bash "$1/criu-checks.sh" "$2"' sh "$work/hack/vm" "$work/rt"
rc=$?
echo "criu-test: $(( $(date +%s) - start )) s in all" >&2
exit $rc
