//! `rmi` collects the blobs only the removed images held; `prune` drops
//! the build cache and what only it held. Remaining images stay readable
//! by skopeo.

mod common;
use common::*;
use std::collections::HashSet;
use std::path::Path;

/// Manifest, config and layer digests of `name`.
fn blobs(store: &Path, name: &str) -> (Vec<String>, Vec<String>) {
    let img = inspect(store, name);
    let m = &img["manifest"];
    let layers: Vec<String> = m["layers"]
        .as_array()
        .unwrap()
        .iter()
        .map(|l| l["digest"].as_str().unwrap().to_string())
        .collect();
    let out = run(bin().arg("--root").arg(store).arg("images"));
    assert_eq!(out.code, 0, "{}", out.stderr);
    let meta = vec![m["config"]["digest"].as_str().unwrap().to_string()];
    (meta, layers)
}

fn present(store: &Path) -> HashSet<String> {
    std::fs::read_dir(store.join("blobs/sha256"))
        .unwrap()
        .map(|e| format!("sha256:{}", e.unwrap().file_name().to_string_lossy()))
        .collect()
}

fn unpacked(store: &Path) -> HashSet<String> {
    std::fs::read_dir(store.join("rt-build/unpacked"))
        .unwrap()
        .map(|e| format!("sha256:{}", e.unwrap().file_name().to_string_lossy()))
        .collect()
}

fn skopeo_ok(store: &Path, name: &str) {
    if !has_tool("skopeo") {
        eprintln!("skopeo not installed: skipping its check");
        return;
    }
    let out = run(std::process::Command::new("skopeo")
        .arg("inspect")
        .arg(format!("oci:{}:{name}", store.display())));
    assert_eq!(out.code, 0, "skopeo inspect {name}: {}", out.stderr);
    let v: serde_json::Value = serde_json::from_str(&out.stdout).unwrap();
    assert!(!v["Layers"].as_array().unwrap().is_empty());
}

#[test]
fn rmi_collects_what_only_the_image_held_and_prune_the_cache() {
    if !can_build() {
        return;
    }
    let (dir, store) = store_with_busybox("gc");
    let one = |name: &str, df: &str| {
        let ctx = context(&dir.join(name), df, &[]);
        let out = build(&store, &ctx, &["-t", name]);
        assert_eq!(out.code, 0, "{}", out.stderr);
    };
    one("a", "FROM busybox\nRUN echo a > /a\n");
    one("b", "FROM busybox\nRUN echo b > /b\n");
    // `c`'s first stage is only in the build cache, no image has it.
    one(
        "c",
        "FROM busybox AS tmp\nRUN echo t > /t && echo u > /u\nFROM busybox\nCOPY --from=tmp /t /t\n",
    );
    let (a_meta, a_layers) = blobs(&store, "a");
    let (b_meta, b_layers) = blobs(&store, "b");
    let a_manifest = inspect(&store, "a")["digest"].clone();
    assert_eq!(a_layers[0], b_layers[0], "a and b share busybox's layer");
    let a_own = a_layers[1].clone();
    let a_diff = inspect(&store, "a")["config"]["rootfs"]["diff_ids"][1]
        .as_str()
        .unwrap()
        .to_string();
    let before = present(&store);
    assert!(before.contains(&a_own) && unpacked(&store).contains(&a_diff));
    let cached_only: Vec<String> = {
        let mut listed: HashSet<String> = HashSet::new();
        for n in ["busybox", "a", "b", "c"] {
            let img = inspect(&store, n);
            listed.insert(img["digest"].as_str().unwrap().into());
            listed.insert(img["manifest"]["config"]["digest"].as_str().unwrap().into());
            for l in img["manifest"]["layers"].as_array().unwrap() {
                listed.insert(l["digest"].as_str().unwrap().into());
            }
        }
        before
            .iter()
            .filter(|d| !listed.contains(*d))
            .cloned()
            .collect()
    };

    let out = run(bin().arg("--root").arg(&store).arg("rmi").arg("a"));
    assert_eq!(out.code, 0, "{}", out.stderr);
    assert!(out.stdout.contains("Deleted: "), "{}", out.stdout);
    let after = present(&store);
    assert!(!after.contains(&a_own), "a's own layer survived");
    assert!(!after.contains(&a_meta[0]), "a's config survived");
    if let Some(m) = a_manifest.as_str() {
        assert!(!after.contains(m), "a's manifest survived");
    }
    assert!(
        !unpacked(&store).contains(&a_diff),
        "a's unpacked layer survived"
    );
    for d in b_layers.iter().chain(&b_meta) {
        assert!(after.contains(d), "b's blob {d} was collected");
    }
    // The step cache of other builds survives rmi (c's first stage).
    let tmp_layer = cached_only
        .iter()
        .find(|d| {
            let f = std::fs::File::open(store.join("blobs/sha256").join(&d[7..])).unwrap();
            let mut a = tar::Archive::new(flate2::read::GzDecoder::new(f));
            a.entries().is_ok_and(|mut es| {
                es.any(|e| e.is_ok_and(|e| e.path().is_ok_and(|p| p.to_string_lossy() == "u")))
            })
        })
        .expect("c's first-stage layer")
        .clone();
    assert!(after.contains(&tmp_layer));
    skopeo_ok(&store, "b");
    skopeo_ok(&store, "busybox");

    // Rebuilding `a` reruns its RUN (its cache entry went with the layer).
    let ctx = dir.join("a/ctx");
    let out = build(&store, &ctx, &["-t", "a"]);
    assert_eq!(out.code, 0, "{}", out.stderr);
    assert!(
        step_results(&out.stderr)
            .iter()
            .any(|(l, w)| l.contains("RUN echo a") && w == "DONE"),
        "{}",
        out.stderr
    );

    let out = run(bin().arg("--root").arg(&store).arg("prune"));
    assert_eq!(out.code, 0, "{}", out.stderr);
    let after = present(&store);
    assert!(!after.contains(&tmp_layer), "prune kept a cache-only layer");
    for n in ["a", "b", "c", "busybox"] {
        let (meta, layers) = blobs(&store, n);
        for d in layers.iter().chain(&meta) {
            assert!(after.contains(d), "{n}'s blob {d} was pruned");
        }
        skopeo_ok(&store, n);
    }
    // Nothing left to cache: the next build of c runs every step.
    let out = build(&store, &dir.join("c/ctx"), &["-t", "c"]);
    assert_eq!(out.code, 0, "{}", out.stderr);
    assert!(
        !step_results(&out.stderr).iter().any(|(_, w)| w == "CACHED"),
        "{}",
        out.stderr
    );
}
