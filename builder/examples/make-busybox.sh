#!/bin/sh
# Makes a one-layer busybox image from the host's busybox-static (Debian:
# apt-get install busybox-static) and imports it as `busybox`:
#   examples/make-busybox.sh [--root STORE]
set -eu
RTB=${RTB:-rt-build}
BUSYBOX=${BUSYBOX:-/bin/busybox}
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
fs=$work/rootfs
mkdir -p "$fs/bin" "$fs/etc" "$fs/proc" "$fs/sys" "$fs/dev" "$fs/tmp" "$fs/root" "$fs/home"
chmod 1777 "$fs/tmp"
cp "$BUSYBOX" "$fs/bin/busybox"
for a in $("$BUSYBOX" --list); do [ "$a" = busybox ] || ln -s busybox "$fs/bin/$a"; done
printf 'root:x:0:0:root:/root:/bin/sh\napp:x:1000:1000:app:/home/app:/bin/sh\n' > "$fs/etc/passwd"
printf 'root:x:0:\napp:x:1000:\n' > "$fs/etc/group"
layout=$work/layout
mkdir -p "$layout/blobs/sha256"
tar --sort=name --owner=0 --group=0 --numeric-owner --mtime=@0 -C "$fs" -cf "$work/layer.tar" .
gzip -n "$work/layer.tar"
put() { d=$(sha256sum "$1" | cut -d' ' -f1); cp "$1" "$layout/blobs/sha256/$d"; echo "$d"; }
diff_id=$(gzip -dc "$work/layer.tar.gz" | sha256sum | cut -d' ' -f1)
layer=$(put "$work/layer.tar.gz")
printf '{"architecture":"amd64","os":"linux","config":{"Env":["PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"],"Cmd":["sh"]},"rootfs":{"type":"layers","diff_ids":["sha256:%s"]}}' "$diff_id" > "$work/config.json"
config=$(put "$work/config.json")
printf '{"schemaVersion":2,"mediaType":"application/vnd.oci.image.manifest.v1+json","config":{"mediaType":"application/vnd.oci.image.config.v1+json","digest":"sha256:%s","size":%s},"layers":[{"mediaType":"application/vnd.oci.image.layer.v1.tar+gzip","digest":"sha256:%s","size":%s}]}' \
  "$config" "$(stat -c %s "$work/config.json")" "$layer" "$(stat -c %s "$work/layer.tar.gz")" > "$work/manifest.json"
manifest=$(put "$work/manifest.json")
printf '{"schemaVersion":2,"manifests":[{"mediaType":"application/vnd.oci.image.manifest.v1+json","digest":"sha256:%s","size":%s,"annotations":{"org.opencontainers.image.ref.name":"busybox"}}]}' \
  "$manifest" "$(stat -c %s "$work/manifest.json")" > "$layout/index.json"
echo '{"imageLayoutVersion":"1.0.0"}' > "$layout/oci-layout"
"$RTB" "$@" import "oci:$layout:busybox" busybox
