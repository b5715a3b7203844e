#!/usr/bin/env bash
# Installs what building and testing rt needs on a fresh Debian 12 machine
# (as root): the Rust toolchain if missing, and the Debian packages the
# tests drive (busybox-static for rootfs, runc/crun for comparisons,
# containerd for the ctr test, docker.io, podman + conmon and buildah for
# the tests that drive them with rt as their runtime,
# umoci/skopeo for images, jq, iproute2, openssl for the https ADD test,
# slirp4netns for rt-build's RUN network sandbox, docker-registry and
# apache2-utils (htpasswd) for the registry tests, libseccomp-dev for the
# seccomp compiler's differential test against libseccomp, uidmap
# (newuidmap/newgidmap) and dbus-user-session for the rootless tests,
# man-db, zsh and fish to check the installed man pages and completions,
# protobuf-compiler for the CRI test client's gRPC code, criu for
# checkpoint/restore and qemu-system-x86 for the guest that runs it with
# Debian's 6.1 kernel).
set -euo pipefail

if [ "$(id -u)" != 0 ]; then
	echo "deps: run as root" >&2
	exit 1
fi

# Package scripts must not start services (containerd, registries) behind
# our back: the tests start private instances themselves.
if [ ! -e /usr/sbin/policy-rc.d ]; then
	printf '#!/bin/sh\nexit 101\n' >/usr/sbin/policy-rc.d
	chmod +x /usr/sbin/policy-rc.d
fi

pkgs=(busybox-static bc jq iproute2 util-linux tar openssl ca-certificates runc crun containerd docker.io podman conmon buildah umoci skopeo hyperfine gcc strace user-mode-linux slirp4netns docker-registry apache2-utils libseccomp-dev man-db zsh fish uidmap dbus-user-session protobuf-compiler criu qemu-system-x86 linux-perf)
missing=()
for p in "${pkgs[@]}"; do
	dpkg -s "$p" >/dev/null 2>&1 || missing+=("$p")
done
if [ ${#missing[@]} -gt 0 ]; then
	apt-get update -qq
	DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${missing[@]}" >/dev/null
fi

if ! command -v cargo >/dev/null 2>&1; then
	if [ -x "$HOME/.cargo/bin/cargo" ]; then
		export PATH="$HOME/.cargo/bin:$PATH"
	else
		DEBIAN_FRONTEND=noninteractive apt-get install -y -qq cargo rustc >/dev/null
	fi
fi
