#!/usr/bin/env bash
# Runs every test of the project (as root, on Debian 12): unit tests of rt
# and rt-build, the integration suite (real containers, containerd), and
# the pure cgroup v2 check in a User-mode Linux guest.
#
#   sudo hack/test.sh            # everything
#   SKIP_VM=1 hack/test.sh       # without the UML guest
set -euo pipefail
cd "$(dirname "$0")/.."
export PATH="$HOME/.cargo/bin:$PATH"

hack/deps.sh
cargo build --release --workspace --locked 2>&1 | tail -n 3

# Unit tests (no root needed) and the integration suite (root): cargo
# prints one "test result:" line per test binary.
cargo test --release --workspace --locked -- --test-threads=2

if [ "${SKIP_VM:-0}" != 1 ]; then
	echo "== pure cgroup v2 (User-mode Linux guest)"
	hack/vm/selftest.sh "$PWD/target/release/rt"
fi
