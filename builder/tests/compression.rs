//! `--compression`: zstd layers are what the manifest says, decompress to
//! their diff_id and serve later builds; the cache never hands back a
//! layer in the other compression; bad specs fail before any work.

mod common;
use common::*;
use sha2::{Digest, Sha256};
use std::io::Read;

fn layers(store: &std::path::Path, name: &str) -> Vec<(String, String)> {
    inspect(store, name)["manifest"]["layers"]
        .as_array()
        .unwrap()
        .iter()
        .map(|l| {
            (
                l["mediaType"].as_str().unwrap().to_string(),
                l["digest"].as_str().unwrap().to_string(),
            )
        })
        .collect()
}

#[test]
fn zstd_layers_round_trip_and_the_cache_keeps_compressions_apart() {
    if !can_build() {
        return;
    }
    let (dir, store) = store_with_busybox("zstd");
    let ctx = context(
        &dir,
        "FROM busybox\nCOPY data /data\nRUN cat /data > /copy\n",
        &[("data", &"zstd layer payload\n".repeat(5000))],
    );
    let out = build(&store, &ctx, &["-t", "z", "--compression", "zstd,level=19"]);
    assert_eq!(out.code, 0, "{}", out.stderr);
    let img = inspect(&store, "z");
    let diff_ids = img["config"]["rootfs"]["diff_ids"]
        .as_array()
        .unwrap()
        .clone();
    let ls = layers(&store, "z");
    assert_eq!(ls.len(), 3);
    // The base keeps its gzip layer; the new ones are zstd.
    assert_eq!(ls[0].0, "application/vnd.oci.image.layer.v1.tar+gzip");
    for (i, (mt, digest)) in ls.iter().enumerate().skip(1) {
        assert_eq!(mt, "application/vnd.oci.image.layer.v1.tar+zstd");
        let blob = std::fs::read(store.join("blobs/sha256").join(&digest[7..])).unwrap();
        assert_eq!(&blob[..4], &[0x28, 0xb5, 0x2f, 0xfd], "not a zstd frame");
        let mut tar = Vec::new();
        zstd::stream::read::Decoder::new(&blob[..])
            .unwrap()
            .read_to_end(&mut tar)
            .unwrap();
        let diff = format!("sha256:{:x}", Sha256::digest(&tar));
        assert_eq!(diff, diff_ids[i].as_str().unwrap(), "layer {i}'s diff_id");
    }
    // A later build reads the zstd layers (unpacked as lower dirs).
    let child = context(
        &dir.join("child"),
        "FROM z\nRUN cmp /data /copy && echo same > /checked\n",
        &[],
    );
    let out = build(&store, &child, &["-t", "child"]);
    assert_eq!(out.code, 0, "{}", out.stderr);
    // Same steps with gzip: the zstd records must not be reused.
    let out = build(&store, &ctx, &["-t", "g"]);
    assert_eq!(out.code, 0, "{}", out.stderr);
    for (mt, _) in layers(&store, "g") {
        assert_eq!(mt, "application/vnd.oci.image.layer.v1.tar+gzip");
    }
    // gzip's layers carry the same content.
    let g = inspect(&store, "g");
    assert_eq!(g["config"]["rootfs"]["diff_ids"][1], diff_ids[1]);
    // Bad specs name what is wrong.
    for (spec, says) in [
        ("zstd,level=99", "zstd level 99 is not in 1-22"),
        ("brotli", "unknown compression \"brotli\""),
        ("gzip,fast", "unknown option \"fast\""),
    ] {
        let out = build(&store, &ctx, &["--compression", spec]);
        assert_eq!(out.code, 1, "{spec}: {}", out.stderr);
        assert!(out.stderr.contains(says), "{spec}: {}", out.stderr);
    }
}
