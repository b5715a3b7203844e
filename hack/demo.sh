#!/usr/bin/env bash
# Fresh Debian 12 machine to a running container (as root): installs the
# dependencies, builds rt, makes a busybox bundle and runs it.
set -euo pipefail
cd "$(dirname "$0")/.."
export PATH="$HOME/.cargo/bin:$PATH"

hack/deps.sh
cargo build --release --bin rt 2>&1 | tail -n 1

bundle=${DEMO_BUNDLE:-/tmp/rt-demo}
hack/mkbundle.sh -f "$bundle" sh -c 'echo "hello from $(hostname): pid $$, $(id)"; cat /proc/self/cgroup | head -n 3' >/dev/null
./target/x86_64-unknown-linux-gnu/release/rt run "$bundle"

# rt-build: a two-stage Dockerfile built into the local image store, then
# unpacked into a bundle and run with rt.
cargo build --release -p rt-build 2>&1 | tail -n 1
export RTB=$PWD/target/x86_64-unknown-linux-gnu/release/rt-build
store=${DEMO_STORE:-/tmp/rt-demo-store}
builder/examples/make-busybox.sh --root "$store" >/dev/null
"$RTB" --root "$store" -t hello builder/examples/hello
rm -rf /tmp/rt-demo-hello
"$RTB" --root "$store" unpack hello /tmp/rt-demo-hello
./target/x86_64-unknown-linux-gnu/release/rt run /tmp/rt-demo-hello
