//! Variable scopes: which ARG and ENV values an instruction can see.
//!
//! Rules (BuildKit's): ARGs before the first FROM form the global scope,
//! usable only in FROM lines; inside a stage an ARG is visible from its
//! declaration on, and a global ARG must be re-declared (`ARG NAME`) to be
//! seen; ENV beats an ARG of the same name whatever their order; a stage
//! built FROM another stage starts with that stage's ARGs and ENV.

use serde::Serialize;
use std::collections::BTreeMap;

/// Proxy variables usable without an ARG declaration. When only passed as
/// `--build-arg` they reach RUN's environment but not the cache key.
pub const PROXY_ARGS: &[&str] = &[
    "HTTP_PROXY",
    "http_proxy",
    "HTTPS_PROXY",
    "https_proxy",
    "FTP_PROXY",
    "ftp_proxy",
    "NO_PROXY",
    "no_proxy",
    "ALL_PROXY",
    "all_proxy",
];

/// The target (and build) platform. Only linux/amd64 is built today.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Platform {
    pub os: String,
    pub arch: String,
    pub variant: Option<String>,
}

impl Default for Platform {
    fn default() -> Self {
        Platform {
            os: "linux".into(),
            arch: "amd64".into(),
            variant: None,
        }
    }
}

impl Platform {
    /// Parses `os/arch[/variant]`, accepting only what we can build.
    pub fn parse(text: &str) -> Result<Platform, String> {
        let parts: Vec<&str> = text.split('/').collect();
        let (os, arch, variant) = match parts.as_slice() {
            [os, arch] => (*os, *arch, None),
            [os, arch, v] => (*os, *arch, Some(v.to_string())),
            _ => {
                return Err(format!(
                    "invalid platform {text:?}: expected os/arch[/variant]"
                ));
            }
        };
        if os != "linux" || arch != "amd64" || variant.as_deref().is_some_and(|v| v != "v1") {
            return Err(format!(
                "unsupported platform {text:?}: rt-build builds linux/amd64 only"
            ));
        }
        Ok(Platform {
            os: os.into(),
            arch: arch.into(),
            variant: None,
        })
    }

    pub fn to_text(&self) -> String {
        match &self.variant {
            Some(v) => format!("{}/{}/{}", self.os, self.arch, v),
            None => format!("{}/{}", self.os, self.arch),
        }
    }

    /// TARGETPLATFORM, TARGETOS, ... and the BUILD* equivalents (the build
    /// machine is the target: no cross builds).
    pub fn automatic_args(&self) -> Vec<(String, String)> {
        let mut out = Vec::new();
        for prefix in ["TARGET", "BUILD"] {
            out.push((format!("{prefix}PLATFORM"), self.to_text()));
            out.push((format!("{prefix}OS"), self.os.clone()));
            out.push((format!("{prefix}ARCH"), self.arch.clone()));
            out.push((
                format!("{prefix}VARIANT"),
                self.variant.clone().unwrap_or_default(),
            ));
        }
        out
    }
}

/// The variables visible at one point of a stage (or of the global scope).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct Scope {
    /// Declared ARGs in declaration order; `None` = declared without value.
    pub args: Vec<(String, Option<String>)>,
    /// ENV variables in the order first set.
    pub env: Vec<(String, String)>,
}

impl Scope {
    /// ENV first, then ARGs that have a value.
    pub fn lookup(&self, name: &str) -> Option<String> {
        if let Some((_, v)) = self.env.iter().find(|(k, _)| k == name) {
            return Some(v.clone());
        }
        self.arg_value(name)
    }

    pub fn arg_value(&self, name: &str) -> Option<String> {
        self.args
            .iter()
            .find(|(k, _)| k == name)
            .and_then(|(_, v)| v.clone())
    }

    pub fn is_declared(&self, name: &str) -> bool {
        self.args.iter().any(|(k, _)| k == name)
    }

    pub fn declare(&mut self, name: &str, value: Option<String>) {
        match self.args.iter_mut().find(|(k, _)| k == name) {
            Some(slot) => slot.1 = value,
            None => self.args.push((name.to_string(), value)),
        }
    }

    pub fn set_env(&mut self, name: &str, value: String) {
        match self.env.iter_mut().find(|(k, _)| k == name) {
            Some(slot) => slot.1 = value,
            None => self.env.push((name.to_string(), value)),
        }
    }

    /// Environment of a RUN: ENV plus ARGs with values (ENV wins), in a
    /// stable order. Proxy build args that were never declared are returned
    /// separately because they must stay out of the cache key.
    pub fn run_environment(&self, build_args: &BTreeMap<String, String>) -> RunEnvironment {
        let mut env: Vec<(String, String)> = self
            .args
            .iter()
            .filter(|(k, _)| !self.env.iter().any(|(e, _)| e == k))
            .filter_map(|(k, v)| v.clone().map(|v| (k.clone(), v)))
            .collect();
        env.extend(self.env.iter().cloned());
        let proxy = PROXY_ARGS
            .iter()
            .filter(|p| !self.is_declared(p) && !self.env.iter().any(|(k, _)| k == *p))
            .filter_map(|p| build_args.get(*p).map(|v| (p.to_string(), v.clone())))
            .collect();
        RunEnvironment { env, proxy }
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct RunEnvironment {
    /// Part of the step's cache key.
    pub env: Vec<(String, String)>,
    /// Passed to the process but kept out of the cache key and history.
    pub proxy: Vec<(String, String)>,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn env_overrides_arg_regardless_of_order() {
        let mut s = Scope::default();
        s.set_env("V", "env".into());
        s.declare("V", Some("arg".into()));
        assert_eq!(s.lookup("V").as_deref(), Some("env"));
        let run = s.run_environment(&BTreeMap::new());
        assert_eq!(run.env, vec![("V".to_string(), "env".to_string())]);
    }

    #[test]
    fn declared_without_value_is_unset() {
        let mut s = Scope::default();
        s.declare("A", None);
        assert!(s.is_declared("A"));
        assert_eq!(s.lookup("A"), None);
    }

    #[test]
    fn proxy_args_only_when_undeclared() {
        let mut args = BTreeMap::new();
        args.insert("HTTP_PROXY".to_string(), "http://p:3128".to_string());
        args.insert("NO_PROXY".to_string(), "localhost".to_string());
        let mut s = Scope::default();
        s.declare("NO_PROXY", Some("localhost".into()));
        let run = s.run_environment(&args);
        assert_eq!(
            run.proxy,
            vec![("HTTP_PROXY".to_string(), "http://p:3128".to_string())]
        );
        assert_eq!(
            run.env,
            vec![("NO_PROXY".to_string(), "localhost".to_string())]
        );
    }

    #[test]
    fn platform_parse_and_args() {
        assert_eq!(Platform::parse("linux/amd64").unwrap(), Platform::default());
        assert!(
            Platform::parse("linux/arm64")
                .unwrap_err()
                .contains("unsupported platform")
        );
        assert!(
            Platform::parse("linux")
                .unwrap_err()
                .contains("invalid platform")
        );
        let args = Platform::default().automatic_args();
        assert!(args.contains(&("TARGETPLATFORM".into(), "linux/amd64".into())));
        assert!(args.contains(&("BUILDARCH".into(), "amd64".into())));
        assert!(args.contains(&("TARGETVARIANT".into(), "".into())));
        assert_eq!(args.len(), 8);
    }
}
