//! A small mutation-fuzzing harness for stable Rust, run as ordinary tests
//! (the pattern of builder/tests/fuzz_parser.rs): each target mutates
//! inputs for a time budget and runs each on a worker thread, failing when
//! the code under test panics, breaks an invariant the target checks, or
//! gives no answer within a deadline (a hang). The failing input is saved
//! under `<target dir>/fuzz/<target>/`; `current.*` there always holds the
//! input being run, in case the process dies.
//!
//! Environment:
//! - `RT_FUZZ_SECS`: seconds each target runs (default 20; hours by hand).
//! - `RT_FUZZ_SEED`: the PRNG seed (default: from the clock; printed).
//! - `RT_FUZZ_REPLAY`: a saved input to run once instead of fuzzing.
//! - `RT_FUZZ_DEADLINE`: seconds one input may take (default 5 in release
//!   builds, 30 in debug builds).

use std::panic::{AssertUnwindSafe, catch_unwind};
use std::path::{Path, PathBuf};
use std::sync::mpsc;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

/// xorshift64: tiny, deterministic, good enough to pick mutations.
pub struct Rng(u64);

impl Rng {
    pub fn new(seed: u64) -> Rng {
        // Zero is xorshift's fixed point.
        Rng(seed.max(1))
    }

    pub fn next(&mut self) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0
    }

    /// `0..n` (`n` > 0).
    pub fn below(&mut self, n: usize) -> usize {
        (self.next() % n as u64) as usize
    }

    pub fn chance(&mut self, percent: usize) -> bool {
        self.below(100) < percent
    }

    pub fn pick<'a, T>(&mut self, items: &'a [T]) -> &'a T {
        &items[self.below(items.len())]
    }

    /// Mostly small, sometimes huge: `1..=max`, log-uniform.
    pub fn count(&mut self, max: usize) -> usize {
        let bits = usize::BITS - max.leading_zeros();
        let limit = 1usize << self.below(bits as usize + 1);
        1 + self.below(limit.min(max))
    }
}

fn env_secs(name: &str) -> Option<u64> {
    std::env::var(name)
        .ok()
        .map(|s| s.parse().unwrap_or_else(|_| panic!("{name}: seconds")))
}

/// How long one target runs.
pub fn budget() -> Duration {
    Duration::from_secs(env_secs("RT_FUZZ_SECS").unwrap_or(20))
}

/// Longest one input may take before it counts as a hang: far above what
/// any input needs.
fn deadline() -> Duration {
    let default = if cfg!(debug_assertions) { 30 } else { 5 };
    Duration::from_secs(env_secs("RT_FUZZ_DEADLINE").unwrap_or(default))
}

pub fn seed() -> u64 {
    match std::env::var("RT_FUZZ_SEED") {
        Ok(s) => s.parse().expect("RT_FUZZ_SEED: a number"),
        Err(_) => SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map(|d| d.as_nanos() as u64)
            .unwrap_or(1),
    }
}

/// Stack of the worker thread: the size of rt's main thread, not the
/// 2 MiB of test threads, so a pass here means a pass in rt.
const STACK: usize = 8 << 20;

/// Runs a target's check on a worker thread, with a deadline per input.
pub struct Fuzzer {
    name: &'static str,
    extension: &'static str,
    dir: PathBuf,
    inputs: mpsc::Sender<Vec<u8>>,
    outcomes: mpsc::Receiver<Result<(), String>>,
    pub runs: u64,
    /// The slowest input so far and its size.
    pub slowest: (Duration, usize),
}

impl Fuzzer {
    /// `check` returns Err(why) when an invariant breaks; a panic counts too.
    pub fn new(
        name: &'static str,
        extension: &'static str,
        check: impl Fn(&[u8]) -> Result<(), String> + Send + 'static,
    ) -> Fuzzer {
        let (in_tx, in_rx) = mpsc::channel::<Vec<u8>>();
        let (out_tx, out_rx) = mpsc::channel();
        std::thread::Builder::new()
            .name(format!("fuzz-{name}"))
            .stack_size(STACK)
            .spawn(move || {
                for input in in_rx {
                    let outcome = match catch_unwind(AssertUnwindSafe(|| check(&input))) {
                        Ok(result) => result,
                        Err(panic) => Err(format!("panic: {}", panic_text(&*panic))),
                    };
                    if out_tx.send(outcome).is_err() {
                        return;
                    }
                }
            })
            .expect("spawning the fuzz worker");
        Fuzzer {
            name,
            extension,
            dir: out_dir(name),
            inputs: in_tx,
            outcomes: out_rx,
            runs: 0,
            slowest: (Duration::ZERO, 0),
        }
    }

    /// Runs one input; on failure saves it and panics with the reason.
    pub fn run(&mut self, input: &[u8]) {
        let current = self.dir.join(format!("current.{}", self.extension));
        // Written first: an abort leaves no chance to save it afterwards.
        std::fs::write(&current, input).expect("saving the current input");
        self.inputs
            .send(input.to_vec())
            .expect("the fuzz worker is gone");
        let started = Instant::now();
        let limit = deadline();
        let failure = match self.outcomes.recv_timeout(limit) {
            Ok(Ok(())) => {
                self.runs += 1;
                let took = started.elapsed();
                if took > self.slowest.0 {
                    self.slowest = (took, input.len());
                }
                return;
            }
            Ok(Err(why)) => why,
            Err(_) => format!("no result within {limit:?} (a hang)"),
        };
        let saved = self
            .dir
            .join(format!("fail-{}.{}", self.runs, self.extension));
        std::fs::write(&saved, input).expect("saving the failing input");
        panic!(
            "fuzz {}: input {} failed: {failure}\n  input ({} bytes) saved to {} \
             (RT_FUZZ_REPLAY={} runs it again)",
            self.name,
            self.runs,
            input.len(),
            saved.display(),
            saved.display()
        );
    }

    /// `RT_FUZZ_REPLAY`: runs that one file and returns true.
    pub fn replay(&mut self) -> bool {
        let Ok(file) = std::env::var("RT_FUZZ_REPLAY") else {
            return false;
        };
        let bytes = std::fs::read(&file).unwrap_or_else(|e| panic!("{file}: {e}"));
        self.run(&bytes);
        eprintln!("fuzz {}: {file} ran fine", self.name);
        true
    }

    pub fn report(&self, seed: u64) {
        eprintln!(
            "fuzz {}: {} inputs, no failure (seed {seed}, RT_FUZZ_SEED repeats it); \
             slowest {:?} for {} bytes",
            self.name, self.runs, self.slowest.0, self.slowest.1
        );
    }
}

fn panic_text(panic: &(dyn std::any::Any + Send)) -> String {
    panic
        .downcast_ref::<String>()
        .cloned()
        .or_else(|| panic.downcast_ref::<&str>().map(|s| s.to_string()))
        .unwrap_or_else(|| "(no message)".into())
}

/// `<target dir>/fuzz/<name>`: next to the test binary's `deps/`.
fn out_dir(name: &str) -> PathBuf {
    let exe = std::env::current_exe().expect("test binary path");
    let base = exe
        .parent()
        .and_then(Path::parent)
        .unwrap_or_else(|| Path::new("."));
    let dir = base.join("fuzz").join(name);
    std::fs::create_dir_all(&dir).expect("creating the fuzz output directory");
    dir
}

/// Mutations of JSON documents: structural ones on the parsed value (the
/// paths the code under test reads) and byte-level ones on the text (the
/// parser). `keys` are object keys worth inserting.
pub struct JsonMutator {
    pub keys: &'static [&'static str],
    /// Strings worth trying as values (names, options, paths).
    pub words: &'static [&'static str],
}

/// Inputs are cut to this size; bigger ones only slow the search down.
pub const MAX_INPUT: usize = 1 << 20;

impl JsonMutator {
    /// A mutant of `seed` (JSON text), 1-4 mutations deep.
    pub fn mutate(&self, rng: &mut Rng, seed: &[u8]) -> Vec<u8> {
        let mut out = seed.to_vec();
        for _ in 0..1 + rng.below(4) {
            out.truncate(MAX_INPUT);
            out = if rng.chance(70) {
                match serde_json::from_slice::<serde_json::Value>(&out) {
                    Ok(mut v) => {
                        self.mutate_value(rng, &mut v, 0);
                        serde_json::to_vec(&v).unwrap_or(out)
                    }
                    Err(_) => self.mutate_bytes(rng, out),
                }
            } else {
                self.mutate_bytes(rng, out)
            };
        }
        out.truncate(MAX_INPUT);
        out
    }

    /// Walks to a random node and changes it.
    fn mutate_value(&self, rng: &mut Rng, v: &mut serde_json::Value, depth: usize) {
        use serde_json::Value;
        let descend = depth < 12 && rng.chance(75);
        match v {
            Value::Object(map) if descend && !map.is_empty() => {
                let key = map.keys().nth(rng.below(map.len())).unwrap().clone();
                let child = map.get_mut(&key).unwrap();
                return self.mutate_value(rng, child, depth + 1);
            }
            Value::Array(items) if descend && !items.is_empty() => {
                let i = rng.below(items.len());
                return self.mutate_value(rng, &mut items[i], depth + 1);
            }
            _ => {}
        }
        match (rng.below(8), &mut *v) {
            (0, Value::Object(map)) if !map.is_empty() => {
                let key = map.keys().nth(rng.below(map.len())).unwrap().clone();
                map.remove(&key);
            }
            (1, Value::Object(map)) => {
                let key = rng.pick(self.keys).to_string();
                map.insert(key, self.random_value(rng, 0));
            }
            (2, Value::Array(items)) if !items.is_empty() => {
                // Many copies of one element (long lists, duplicates), but
                // never more than an input may hold: the mutator must not
                // itself run out of memory (a big element 20,000 times,
                // then again, is terabytes).
                let item = items[rng.below(items.len())].clone();
                let size = serde_json::to_vec(&item).map_or(MAX_INPUT, |b| b.len() + 1);
                let times = rng.count(20_000).min(MAX_INPUT / size);
                items.extend(std::iter::repeat_n(item, times));
            }
            (3, Value::Array(items)) if !items.is_empty() => {
                let i = rng.below(items.len());
                items.remove(i);
            }
            (4, _) => {
                // Deep nesting around the node.
                let inner = v.take();
                let mut wrapped = inner;
                for _ in 0..rng.count(200) {
                    wrapped = if rng.chance(50) {
                        Value::Array(vec![wrapped])
                    } else {
                        serde_json::json!({ *rng.pick(self.keys): wrapped })
                    };
                }
                *v = wrapped;
            }
            _ => *v = self.random_value(rng, 0),
        }
    }

    fn random_value(&self, rng: &mut Rng, depth: usize) -> serde_json::Value {
        use serde_json::{Value, json};
        match rng.below(if depth > 3 { 7 } else { 10 }) {
            0 => Value::Null,
            1 => json!(rng.chance(50)),
            2 => json!(*rng.pick(&[
                0i64,
                1,
                -1,
                5,
                4095,
                4096,
                65535,
                i64::MAX,
                i64::MIN,
                i32::MAX as i64 + 1
            ])),
            3 => {
                let any = rng.next();
                json!(*rng.pick(&[u64::MAX, 1 << 32, 1 << 63, any]))
            }
            4 => json!(*rng.pick(&[0.5, -0.0, 1e308, -1e308])),
            5 => json!(self.random_string(rng)),
            6 => json!(*rng.pick(self.words)),
            7 => Value::Array(
                (0..rng.count(8))
                    .map(|_| self.random_value(rng, depth + 1))
                    .collect(),
            ),
            _ => {
                let mut map = serde_json::Map::new();
                for _ in 0..rng.count(6) {
                    map.insert(
                        rng.pick(self.keys).to_string(),
                        self.random_value(rng, depth + 1),
                    );
                }
                Value::Object(map)
            }
        }
    }

    fn random_string(&self, rng: &mut Rng) -> String {
        let word = *rng.pick(self.words);
        match rng.below(8) {
            0 => String::new(),
            1 => format!("{word}\0{word}"),
            2 => word.repeat(rng.count(50_000)),
            3 => "../".repeat(rng.count(100)) + word,
            4 => format!("/{word}/\u{feff}é\u{10ffff}"),
            5 => (0..rng.count(64))
                .map(|_| char::from_u32(rng.below(0x800) as u32).unwrap_or('x'))
                .collect(),
            _ => word.to_string(),
        }
    }

    fn mutate_bytes(&self, rng: &mut Rng, mut input: Vec<u8>) -> Vec<u8> {
        const TOKENS: &[&str] = &[
            "{", "}", "[", "]", "\"", ",", ":", "null", "-", "1e999", "\\u0000", "\\ud800", "\\",
            "0", "\n", " ",
        ];
        let pos = rng.below(input.len() + 1);
        match rng.below(5) {
            0 => {
                for _ in 0..rng.count(8) {
                    if !input.is_empty() {
                        let i = rng.below(input.len());
                        input[i] ^= 1 << rng.below(8);
                    }
                }
            }
            1 => input.truncate(pos),
            2 if pos < input.len() => {
                let end = (pos + rng.count(64)).min(input.len());
                input.drain(pos..end);
            }
            3 => {
                let token = rng.pick(TOKENS).as_bytes();
                let times = rng.count(10_000);
                let piece = token.repeat(times);
                input.splice(pos..pos, piece);
            }
            _ => {
                let token = rng.pick(TOKENS).as_bytes();
                input.splice(pos..pos, token.iter().copied());
            }
        }
        input
    }
}
