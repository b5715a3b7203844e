#!/usr/bin/env bash
# Runs every test of the project (as root, on Debian 12): unit tests of rt
# and rt-build, the integration suite (real containers, containerd), and
# the pure cgroup v2 check in a User-mode Linux guest, and checkpoint/
# restore with CRIU in a QEMU guest running Debian's 6.1 kernel (slow:
# software emulation, several minutes). Ends with one line
# "total: N passed, M failed" over all of them.
#
#   sudo hack/test.sh            # everything
#   SKIP_VM=1 hack/test.sh       # without the UML guest
#   SKIP_QEMU=1 hack/test.sh     # without the QEMU (CRIU) guest
set -uo pipefail
cd "$(dirname "$0")/.."
export PATH="$HOME/.cargo/bin:$PATH"

hack/deps.sh || exit 1
cargo build --release --workspace --locked 2>&1 | tail -n 3
[ "${PIPESTATUS[0]}" = 0 ] || exit 1
# The CRI client of the containerd CRI test: a cargo workspace of its own
# (hack/bench/cri-churn), so its gRPC stack stays out of rt's build.
cargo build --release --locked --manifest-path hack/bench/cri-churn/Cargo.toml \
	--target-dir target/cri-churn 2>&1 | tail -n 3
[ "${PIPESTATUS[0]}" = 0 ] || exit 1
export RT_CRI_CHURN=$PWD/target/cri-churn/x86_64-unknown-linux-gnu/release/cri-churn

log=$(mktemp /tmp/rt-test-log.XXXXXX)
trap 'rm -f "$log"' EXIT
status=0

# Unit tests (no root needed) and the integration suite (root).
cargo test --release --workspace --locked --no-fail-fast -- --test-threads=2 2>&1 | tee "$log"
[ "${PIPESTATUS[0]}" = 0 ] || status=1
passed=$(sed -n 's/^test result: .*\. \([0-9]*\) passed; \([0-9]*\) failed.*/\1/p' "$log" | paste -sd+ | bc)
failed=$(sed -n 's/^test result: .*\. \([0-9]*\) passed; \([0-9]*\) failed.*/\2/p' "$log" | paste -sd+ | bc)

if [ "${SKIP_VM:-0}" != 1 ]; then
	echo "== pure cgroup v2 (User-mode Linux guest)"
	hack/vm/selftest.sh "$PWD/target/x86_64-unknown-linux-gnu/release/rt" 2>&1 | tee "$log"
	[ "${PIPESTATUS[0]}" = 0 ] || status=1
	passed=$((passed + $(grep -c '^ok ' "$log")))
	failed=$((failed + $(grep -c '^FAIL ' "$log")))
fi

if [ "${SKIP_QEMU:-0}" != 1 ]; then
	echo "== checkpoint/restore with CRIU (QEMU guest, Debian 6.1 kernel)"
	hack/vm/criu-test.sh "$PWD/target/x86_64-unknown-linux-gnu/release/rt" 2>&1 | tee "$log"
	[ "${PIPESTATUS[0]}" = 0 ] || status=1
	passed=$((passed + $(grep -c '^ok ' "$log")))
	failed=$((failed + $(grep -c '^FAIL ' "$log")))
fi

echo "total: ${passed:-0} passed, ${failed:-0} failed"
if [ "${failed:-0}" != 0 ]; then status=1; fi
exit $status
