//! Variable scopes: which ARG and ENV values an instruction can see.
//!
//! Rules (BuildKit's): ARGs before the first FROM form the global scope,
//! usable only in FROM lines; inside a stage an ARG is visible from its
//! declaration on, and a global ARG must be re-declared (`ARG NAME`) to be
//! seen; an ARG with a value is set in the build's environment as an ENV
//! is, so of an ENV and an ARG of the same name the later one wins (until
//! the next ENV of that name), while the image's Env keeps the ENV's value
//! (BuildKit's dispatchArg adds the ARG to its state's env; buildah and the
//! classic builder let the ENV win whatever the order); a stage built FROM
//! another stage starts with that stage's ARGs and ENV.

use super::expand::Vars;
use serde::Serialize;
use std::collections::{BTreeMap, BTreeSet, HashMap};

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
///
/// Lookups go through name → position maps, so evaluating n instructions
/// costs O(n), not O(n²): a 100,000-line file of ENV lines once scanned
/// every earlier variable per line. The vectors stay the public, ordered
/// view (and what is serialised); change them only through `declare` and
/// `set_env`, which keep the maps in step. Should a caller push to them
/// directly anyway, lookups notice the stale map and fall back to a scan.
#[derive(Debug, Clone, Default, Serialize)]
pub struct Scope {
    /// Declared ARGs in declaration order; `None` = declared without value.
    pub args: Vec<(String, Option<String>)>,
    /// ENV variables in the order first set.
    pub env: Vec<(String, String)>,
    /// ENV names whose value in the build's environment is, for now, that
    /// of an ARG declared after the ENV.
    #[serde(skip_serializing_if = "BTreeSet::is_empty")]
    pub arg_over_env: BTreeSet<String>,
    /// Names in the order they first entered the build's environment (an
    /// ENV, a base image's Env, an ARG with a value): BuildKit's order of a
    /// RUN's environment, where a later value replaces in place.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub order: Vec<String>,
    #[serde(skip)]
    ordered: std::collections::HashSet<String>,
    #[serde(skip)]
    arg_index: HashMap<String, usize>,
    #[serde(skip)]
    env_index: HashMap<String, usize>,
}

/// The maps are a cache of the vectors: equality is the vectors'.
impl PartialEq for Scope {
    fn eq(&self, other: &Self) -> bool {
        self.args == other.args
            && self.env == other.env
            && self.arg_over_env == other.arg_over_env
            && self.order == other.order
    }
}

impl Eq for Scope {}

#[cfg(test)]
thread_local! {
    /// Items looked at by fallback scans: tests assert that evaluation
    /// never scans (which is what made it quadratic), not how long it takes.
    pub static SCANNED: std::cell::Cell<usize> = const { std::cell::Cell::new(0) };
}

/// Position of `name` in `items` (whose keys are `key(item)`), through the
/// map when it is current, by a scan when it is not.
fn position<T>(
    index: &HashMap<String, usize>,
    items: &[T],
    key: impl Fn(&T) -> &str,
    name: &str,
) -> Option<usize> {
    if index.len() == items.len() {
        return index
            .get(name)
            .copied()
            .filter(|&i| items.get(i).is_some_and(|item| key(item) == name));
    }
    #[cfg(test)]
    SCANNED.with(|n| n.set(n.get() + items.len()));
    items.iter().position(|item| key(item) == name)
}

impl Scope {
    fn env_position(&self, name: &str) -> Option<usize> {
        position(&self.env_index, &self.env, |(k, _)| k, name)
    }

    fn arg_position(&self, name: &str) -> Option<usize> {
        position(&self.arg_index, &self.args, |(k, _)| k, name)
    }

    /// The value in the build's environment: an ARG that shadows an ENV,
    /// else the ENV, else an ARG that has a value; borrowed, so testing a
    /// large value costs nothing.
    pub fn get(&self, name: &str) -> Option<&str> {
        if let Some(v) = self
            .arg_over_env
            .contains(name)
            .then(|| self.arg_str(name))
            .flatten()
        {
            return Some(v);
        }
        match self.env_position(name) {
            Some(i) => Some(&self.env[i].1),
            None => self.arg_str(name),
        }
    }

    /// `get`, owned.
    pub fn lookup(&self, name: &str) -> Option<String> {
        self.get(name).map(str::to_string)
    }

    fn arg_str(&self, name: &str) -> Option<&str> {
        self.arg_position(name)
            .and_then(|i| self.args[i].1.as_deref())
    }

    pub fn arg_value(&self, name: &str) -> Option<String> {
        self.arg_str(name).map(str::to_string)
    }

    pub fn is_declared(&self, name: &str) -> bool {
        self.arg_position(name).is_some()
    }

    pub fn is_env(&self, name: &str) -> bool {
        self.env_position(name).is_some()
    }

    /// An ARG declaration. With a value, the ARG shadows an ENV of the
    /// same name set before it.
    pub fn declare(&mut self, name: &str, value: Option<String>) {
        if value.is_some() {
            if self.is_env(name) {
                self.arg_over_env.insert(name.to_string());
            }
            self.note_order(name);
        }
        match self.arg_position(name) {
            Some(i) => self.args[i].1 = value,
            None => {
                self.args.push((name.to_string(), value));
                self.reindex_tail();
            }
        }
    }

    /// An ENV instruction: its value wins over any ARG declared before.
    pub fn set_env(&mut self, name: &str, value: String) {
        self.arg_over_env.remove(name);
        self.seed_env(name, value);
    }

    /// An ENV value the stage starts with (its base image's Env), which
    /// leaves an ARG that shadows it in place.
    pub fn seed_env(&mut self, name: &str, value: String) {
        self.note_order(name);
        match self.env_position(name) {
            Some(i) => self.env[i].1 = value,
            None => {
                self.env.push((name.to_string(), value));
                self.reindex_tail();
            }
        }
    }

    fn note_order(&mut self, name: &str) {
        if self.ordered.len() != self.order.len() {
            self.ordered = self.order.iter().cloned().collect();
        }
        if self.ordered.insert(name.to_string()) {
            self.order.push(name.to_string());
        }
    }

    /// Indexes what was pushed since the maps were last current (normally
    /// just the last element; everything after a direct push).
    fn reindex_tail(&mut self) {
        if self.arg_index.len() > self.args.len() {
            self.arg_index.clear();
        }
        for i in self.arg_index.len()..self.args.len() {
            self.arg_index.insert(self.args[i].0.clone(), i);
        }
        if self.env_index.len() > self.env.len() {
            self.env_index.clear();
        }
        for i in self.env_index.len()..self.env.len() {
            self.env_index.insert(self.env[i].0.clone(), i);
        }
    }

    /// Bytes of names and values held: what a copy of the scope costs.
    pub fn byte_size(&self) -> usize {
        let args: usize = self
            .args
            .iter()
            .map(|(k, v)| k.len() + v.as_ref().map_or(0, String::len))
            .sum();
        let env: usize = self.env.iter().map(|(k, v)| k.len() + v.len()).sum();
        args + env
    }

    /// Environment of a RUN: ENV plus ARGs with values (the later of an ENV
    /// and an ARG of one name wins), in the order the names first entered
    /// it. Proxy build args that were never declared are returned
    /// separately because they must stay out of the cache key.
    pub fn run_environment(&self, build_args: &BTreeMap<String, String>) -> RunEnvironment {
        let mut env: Vec<(String, String)> = Vec::new();
        let mut seen = std::collections::HashSet::new();
        // Then whatever a caller pushed to the public vectors directly.
        let rest = self
            .env
            .iter()
            .map(|(k, _)| k)
            .chain(self.args.iter().map(|(k, _)| k));
        for k in self.order.iter().chain(rest) {
            if !seen.insert(k.as_str()) {
                continue;
            }
            if let Some(v) = self.get(k) {
                env.push((k.clone(), v.to_string()));
            }
        }
        let proxy = PROXY_ARGS
            .iter()
            .filter(|p| !self.is_declared(p) && !self.is_env(p))
            .filter_map(|p| build_args.get(*p).map(|v| (p.to_string(), v.clone())))
            .collect();
        RunEnvironment { env, proxy }
    }
}

impl Vars for Scope {
    fn get(&self, name: &str) -> Option<&str> {
        Scope::get(self, name)
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

    /// BuildKit: of an ENV and an ARG with a value, the later one is what
    /// the build sees, until the next ENV; an ARG without a value changes
    /// nothing; the ENV's own value stays (it is the image's Env).
    #[test]
    fn the_later_of_env_and_arg_wins_until_the_next_env() {
        let mut s = Scope::default();
        s.declare("V", Some("arg".into()));
        s.set_env("V", "env".into());
        assert_eq!(s.lookup("V").as_deref(), Some("env"));
        s.declare("V", Some("arg2".into()));
        assert_eq!(s.lookup("V").as_deref(), Some("arg2"));
        let run = s.run_environment(&BTreeMap::new());
        assert_eq!(run.env, vec![("V".to_string(), "arg2".to_string())]);
        assert_eq!(s.env, vec![("V".to_string(), "env".to_string())]);
        // A base image's Env seeded later leaves the ARG in front.
        s.seed_env("V", "base".into());
        assert_eq!(s.lookup("V").as_deref(), Some("arg2"));
        s.set_env("V", "env2".into());
        assert_eq!(s.lookup("V").as_deref(), Some("env2"));
        let run = s.run_environment(&BTreeMap::new());
        assert_eq!(run.env, vec![("V".to_string(), "env2".to_string())]);
        // An ENV set before an ARG without a value stays.
        let mut s = Scope::default();
        s.set_env("W", "env".into());
        s.declare("W", None);
        assert_eq!(s.lookup("W").as_deref(), Some("env"));
    }

    /// BuildKit's order: names as they first entered the environment (the
    /// base image's Env, ENV, ARG with a value), a later value in place.
    #[test]
    fn run_environment_keeps_the_order_names_first_came_in() {
        let mut s = Scope::default();
        s.seed_env("PATH", "/bin".into());
        s.declare("NOVALUE", None);
        s.declare("B", Some("2".into()));
        s.set_env("A", "1".into());
        s.declare("NOVALUE", Some("now".into()));
        s.set_env("B", "3".into());
        let run = s.run_environment(&BTreeMap::new());
        let names: Vec<&str> = run.env.iter().map(|(k, _)| k.as_str()).collect();
        assert_eq!(names, ["PATH", "B", "A", "NOVALUE"]);
        assert_eq!(run.env[1], ("B".to_string(), "3".to_string()));
    }

    #[test]
    fn lookups_use_the_index_and_survive_direct_pushes() {
        let mut s = Scope::default();
        SCANNED.with(|n| n.set(0));
        for i in 0..1000 {
            s.set_env(&format!("E{i}"), i.to_string());
            s.declare(&format!("A{i}"), Some(i.to_string()));
        }
        s.set_env("E5", "five".into());
        assert_eq!(s.get("E5"), Some("five"));
        assert_eq!(s.get("A999"), Some("999"));
        assert_eq!(s.env.len(), 1000);
        assert_eq!(SCANNED.with(|n| n.get()), 0);
        // A caller pushing to the public vector: still right, by a scan.
        s.env.push(("direct".into(), "d".into()));
        assert_eq!(s.get("direct"), Some("d"));
        assert!(SCANNED.with(|n| n.get()) > 0);
        // ... and the next set_env brings the index up to date again.
        s.set_env("after", "a".into());
        SCANNED.with(|n| n.set(0));
        assert_eq!(s.get("direct"), Some("d"));
        assert_eq!(s.get("after"), Some("a"));
        assert_eq!(SCANNED.with(|n| n.get()), 0);
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
