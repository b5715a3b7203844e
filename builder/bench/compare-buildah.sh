#!/bin/sh
# Cold and cached build time of one multi-stage Dockerfile: rt-build vs
# `buildah bud --isolation oci --runtime /usr/sbin/runc` (private store,
# --network none, busybox loaded with `buildah pull docker-archive:`),
# side by side with hyperfine. Run as root from builder/:
#   RTB=/path/to/release/rt-build bench/compare-buildah.sh
set -eu
RTB=${RTB:-rt-build}
D=$(mktemp -d)
trap 'rm -rf "$D"' EXIT
export TMPDIR=$D/tmp
mkdir -p "$TMPDIR" "$D/bbctx" "$D/ctx/src"
RTB="$RTB" "$(dirname "$0")/../examples/make-busybox.sh" --root "$D/rtstore" >/dev/null
echo 'FROM busybox' > "$D/bbctx/Dockerfile"
"$RTB" --root "$D/rtstore" --progress quiet -t busybox-export \
  --output "type=docker-archive,dest=$D/busybox-docker.tar" "$D/bbctx" >/dev/null
for i in $(seq 1 50); do head -c 20000 /dev/urandom | base64 > "$D/ctx/src/f$i.txt"; done
cat > "$D/ctx/Dockerfile" <<'DF'
FROM busybox AS build
WORKDIR /work
COPY src/ ./src/
RUN cat src/*.txt | sha256sum > sum.txt && tar cf /bundle.tar src && rm -rf src/f1.txt
RUN for i in 1 2 3 4 5; do echo step $i >> log.txt; done

FROM busybox
COPY --from=build /work/sum.txt /work/log.txt /out/
COPY --from=build /bundle.tar /out/
RUN ls -la /out && wc -c /out/bundle.tar
ENV MODE=prod
CMD ["cat", "/out/sum.txt"]
DF
BHS="buildah --root $D/bh/root --runroot $D/bh/run --storage-driver overlay"
$BHS pull -q "docker-archive:$D/busybox-docker.tar" >/dev/null
$BHS tag busybox-export busybox
BH="$BHS bud --layers --pull=never --isolation oci --network none --runtime /usr/sbin/runc -t out"
RT="$RTB --root $D/rtstore --progress quiet -t out"
cd "$D/ctx"
hyperfine -N --warmup 1 --runs 8 -n "rt-build cold (--no-cache)" "$RT --no-cache ." \
  -n "buildah cold (--no-cache)" "$BH --no-cache ."
hyperfine -N --warmup 2 --runs 15 -n "rt-build cached" "$RT ." -n "buildah cached (--layers)" "$BH ."
