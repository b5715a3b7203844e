//! Registries through the OCI distribution API, with Docker Hub's
//! conventions: references (`reference`), credentials in Docker's
//! config.json (`credentials`), challenges and tokens (`auth`), the HTTP
//! agent shared with ADD's downloads (`http`), one repository's API
//! (`client`), pulling into and pushing from the store (`pull`, `push`),
//! and which repositories a blob is known to be in, for cross-repository
//! mounts (`sources`).

pub mod auth;
pub mod client;
pub mod credentials;
pub mod http;
pub mod pull;
pub mod push;
pub mod reference;
pub mod sources;

use crate::image::store::{Image, Store};
pub use reference::Reference;
use std::path::PathBuf;

/// How registries are reached, from the global flags.
#[derive(Debug, Clone, Default)]
pub struct Settings {
    /// `--insecure-registry HOST[:PORT]`: plain HTTP to these.
    pub insecure: Vec<String>,
    /// Registries reached over HTTPS even when on loopback (a loopback
    /// registry is plain HTTP otherwise, as with Docker). No flag sets it:
    /// it exists for callers of the library, such as the TLS test.
    pub tls_always: Vec<String>,
    /// Where per-registry CA certificates are looked up, Docker's way:
    /// `DIR/HOST[:PORT]/*.crt` are trusted for that registry besides the
    /// system roots. `None` is `/etc/docker/certs.d`.
    pub certs_dir: Option<PathBuf>,
}

impl Settings {
    /// The registry's own CA files (sorted, so the order is stable).
    pub fn ca_files(&self, registry: &str) -> Vec<PathBuf> {
        let base = self
            .certs_dir
            .clone()
            .unwrap_or_else(|| PathBuf::from("/etc/docker/certs.d"));
        // A registry name must not walk out of the directory.
        if registry.is_empty() || registry.contains('/') || registry.starts_with('.') {
            return Vec::new();
        }
        let mut out: Vec<PathBuf> = std::fs::read_dir(base.join(registry))
            .map(|rd| {
                rd.flatten()
                    .map(|e| e.path())
                    .filter(|p| p.extension().is_some_and(|x| x == "crt"))
                    .collect()
            })
            .unwrap_or_default();
        out.sort();
        out
    }

    pub fn uses_tls(&self, registry: &str) -> bool {
        let listed = |list: &[String]| {
            list.iter()
                .any(|h| h == registry || h == reference::host_of(registry))
        };
        if listed(&self.tls_always) {
            return true;
        }
        if listed(&self.insecure) {
            return false;
        }
        !reference::is_loopback(registry)
    }
}

/// `--pull`: when FROM / COPY --from images come from the registry.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, clap::ValueEnum)]
pub enum PullPolicy {
    /// Always ask the registry (the store is still used for transports
    /// like oci:DIR).
    Always,
    /// Use the store's image when there is one (the default).
    #[default]
    Missing,
    /// Never ask a registry.
    Never,
}

/// An image for FROM, COPY --from or `rt-build pull`: `oci:` and the other
/// transports are imported; a name is looked up in the store and, as the
/// policy allows, pulled and stored under its familiar name.
pub fn resolve_image(
    store: &Store,
    name: &str,
    policy: PullPolicy,
    settings: &Settings,
    quiet: bool,
) -> Result<Image, String> {
    if ["oci:", "oci-archive:", "docker-archive:"]
        .iter()
        .any(|p| name.starts_with(p))
    {
        return crate::image::import::resolve(store, name);
    }
    if policy != PullPolicy::Always
        && let Some(desc) = store.resolve(name)?
    {
        return store.load_image(&desc);
    }
    let root = store.root.display();
    if policy == PullPolicy::Never {
        return Err(format!(
            "image {name:?} not found in the store {root} (--pull=never; use `rt-build pull`, `rt-build import`, or oci:DIR)"
        ));
    }
    let r = Reference::parse(name)
        .map_err(|e| format!("image {name:?} not found in the store {root}, and {e}"))?;
    if policy == PullPolicy::Missing
        && let Some(desc) = store.resolve(&r.familiar())?
    {
        return store.load_image(&desc);
    }
    let img = pull::pull(store, settings, &r, quiet).map_err(|e| {
        format!("image {name:?} not found in the store {root}, and pulling {r} failed: {e}")
    })?;
    store.set_ref(&r.familiar(), &img.manifest_desc)?;
    Ok(img)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn transport_choice() {
        let s = Settings::default();
        assert!(!s.uses_tls("127.0.0.1:5000"));
        assert!(!s.uses_tls("localhost"));
        assert!(s.uses_tls("docker.io"));
        assert!(s.uses_tls("10.1.2.3:5000"));
        let s = Settings {
            insecure: vec!["10.1.2.3:5000".into(), "reg.lan".into()],
            tls_always: vec!["127.0.0.1:443".into()],
            certs_dir: None,
        };
        assert!(!s.uses_tls("10.1.2.3:5000"));
        assert!(!s.uses_tls("reg.lan:5000"));
        assert!(s.uses_tls("10.1.2.3:5001"));
        assert!(s.uses_tls("127.0.0.1:443"));
    }
}
