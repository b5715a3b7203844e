//! A small mutation fuzzer for the Dockerfile front end (parse → plan →
//! evaluate) that runs on stable Rust, as an ordinary integration test.
//!
//! Seeds: the Dockerfiles under builder/tests (including tests/corpus,
//! read at run time, so new corpus entries are picked up) and
//! builder/examples, plus a few built-in ones. Each input is a seed with
//! one to four mutations: byte flips, splices from other seeds, inserted
//! tokens (`${`, `<<EOF`, `\` continuations, quotes, brackets), deep
//! nesting and huge repeats.
//!
//! Each input runs on a worker thread with an 8 MiB stack. The test fails,
//! saving the input under CARGO_TARGET_TMPDIR/fuzz-parser/, when the front
//! end panics, gives no answer within the per-input deadline (a hang), or
//! returns an error without a plausible line or with an overlong message.
//! A stack overflow aborts the whole process, which fails the test too;
//! the input being run is always in fuzz-parser/current.df. So does an
//! allocation beyond the address-space limit the test sets (6 GiB).
//!
//! Environment:
//! - `RT_BUILD_FUZZ_SECS`: how long to run (default 20).
//! - `RT_BUILD_FUZZ_SEED`: the PRNG seed (default: from the clock); it is
//!   printed, so a failing run can be repeated.
//! - `RT_BUILD_FUZZ_REPLAY`: a file to run once instead of fuzzing.
//! - `RT_BUILD_FUZZ_DEADLINE`: seconds one input may take (default 5 in
//!   release builds, 30 in debug builds).

use rt_build::frontend::dockerfile::DockerfileError;
use rt_build::frontend::dockerfile::evaluate::evaluate;
use rt_build::frontend::dockerfile::parse;
use rt_build::frontend::dockerfile::plan::{BuildOptions, plan};
use std::collections::BTreeMap;
use std::panic::{AssertUnwindSafe, catch_unwind};
use std::path::{Path, PathBuf};
use std::sync::mpsc;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

/// Longest an input may take, unless `RT_BUILD_FUZZ_DEADLINE` (seconds)
/// says otherwise. Far above what any input needs (the front end is
/// linear and its budgets stop work in well under a second in release
/// builds), so reaching it means a hang. Unoptimised builds run a
/// 4 MiB input in a few seconds on a busy machine, hence more there.
fn deadline() -> Duration {
    match std::env::var("RT_BUILD_FUZZ_DEADLINE") {
        Ok(s) => Duration::from_secs(s.parse().expect("RT_BUILD_FUZZ_DEADLINE: seconds")),
        Err(_) if cfg!(debug_assertions) => Duration::from_secs(30),
        Err(_) => Duration::from_secs(5),
    }
}
/// Stack of the worker thread: the main thread's size, not the 2 MiB of
/// test threads, so a pass here means a pass in `rt-build`.
const STACK: usize = 8 << 20;
/// Inputs are cut to this size; bigger ones only slow the search down.
const MAX_INPUT: usize = 4 << 20;
/// Longest error text accepted (message plus excerpt line).
const MAX_ERROR_TEXT: usize = 1200;

/// xorshift64: tiny, deterministic, good enough to pick mutations.
struct Rng(u64);

impl Rng {
    fn new(seed: u64) -> Rng {
        // Zero is xorshift's fixed point.
        Rng(seed.max(1))
    }

    fn next(&mut self) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0
    }

    /// Uniform-ish in `0..n` (`n` > 0).
    fn below(&mut self, n: usize) -> usize {
        (self.next() % n as u64) as usize
    }

    fn chance(&mut self, percent: usize) -> bool {
        self.below(100) < percent
    }

    /// Mostly small numbers, sometimes huge: `1..=max`, log-uniform.
    fn count(&mut self, max: usize) -> usize {
        let bits = usize::BITS - max.leading_zeros();
        let limit = 1usize << self.below(bits as usize + 1);
        1 + self.below(limit.min(max))
    }
}

const SEEDS: &[&str] = &[
    "FROM alpine\nRUN echo hi\n",
    "ARG BASE=alpine:3.19\nFROM ${BASE:-alpine} AS build\nARG V=1.0\nENV A=\"x y\" B=${V%%.*} C=${V//./-}\nLABEL a=b \"c d\"=e\nWORKDIR /srv/${NAME:+x}\nFROM build\nCOPY --from=build /a /b\n",
    "FROM a\nRUN <<EOF\nset -e\necho \"${X#v}\"\nEOF\nCOPY <<-\"CFG\" /etc/app.conf\n\tk=$v\n\tCFG\n",
    "# escape=`\nFROM a\nRUN dir `\n  c:\\\nENV P=c:\\x\n",
    "FROM a\nONBUILD RUN echo ${X//a/b}\nHEALTHCHECK --interval=30s CMD [\"curl\", \"-f\"]\nEXPOSE 80/tcp 8000-8010\nSTOPSIGNAL SIGTERM\nVOLUME [\"/data\"]\nSHELL [\"/bin/sh\", \"-c\"]\nCMD [\"run\"]\n",
    "FROM a\nRUN --mount=type=cache,target=/c,id=x --network=none echo\nADD --checksum=sha256:0000000000000000000000000000000000000000000000000000000000000000 https://x/y.tgz /opt/\nCOPY --chown=1:1 --chmod=755 --exclude=*.md [\"a b\", \"/dst/\"]\n",
    "ARG a1=x\nARG a2=${a1}${a1}\nARG a3=${a2}${a2}\nFROM a\nARG a3\nENV e=${a3:?need}\n",
];

/// Tokens the mutator inserts: the syntax that recurses, continues,
/// quotes or switches modes.
const TOKENS: &[&str] = &[
    "${",
    "}",
    "$",
    "${a:-",
    "${a:+",
    "${a?",
    "${a#",
    "${a%%",
    "${a//",
    "/",
    "*",
    "?",
    ":-",
    "<<EOF\n",
    "<<-EOF\n",
    "<<'EOF'\n",
    "\nEOF\n",
    "\n\tEOF\n",
    "\\\n",
    "`\n",
    "\\",
    "`",
    "\"",
    "'",
    "[",
    "]",
    "[\"",
    "\", \"",
    "\n",
    "\r\n",
    "\t",
    " ",
    "#",
    "# escape=`\n",
    "=",
    "--",
    "--from=",
    "--mount=type=bind,from=",
    "ARG a=",
    "ENV a=",
    "FROM a AS b\n",
    "FROM b\n",
    "ONBUILD ",
    "RUN ",
    "COPY ",
    "LABEL ",
    "EXPOSE ",
    "\u{feff}",
    "é",
    "\0",
];

/// Everything that looks like a Dockerfile under `dir`, recursively.
fn dockerfiles(dir: &Path, out: &mut Vec<(PathBuf, Vec<u8>)>, depth: usize) {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return;
    };
    let mut entries: Vec<_> = entries.flatten().map(|e| e.path()).collect();
    // Sorted, so one seed means one sequence of inputs.
    entries.sort();
    for path in entries {
        if path.is_dir() {
            if depth < 6 {
                dockerfiles(&path, out, depth + 1);
            }
            continue;
        }
        let name = path
            .file_name()
            .map(|n| n.to_string_lossy().to_ascii_lowercase())
            .unwrap_or_default();
        let looks_like = name.starts_with("dockerfile")
            || name.starts_with("containerfile")
            || name.ends_with(".dockerfile")
            || name.ends_with(".df");
        let small = path.metadata().is_ok_and(|m| m.len() <= 1 << 20);
        if looks_like
            && small
            && let Ok(bytes) = std::fs::read(&path)
        {
            out.push((path, bytes));
        }
    }
}

fn corpus() -> Vec<Vec<u8>> {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let mut found = Vec::new();
    dockerfiles(&root.join("tests"), &mut found, 0);
    dockerfiles(&root.join("examples"), &mut found, 0);
    eprintln!("fuzz: {} seed files from tests/ and examples/", found.len());
    let mut all: Vec<Vec<u8>> = SEEDS.iter().map(|s| s.as_bytes().to_vec()).collect();
    all.extend(found.into_iter().map(|(_, bytes)| bytes));
    all
}

/// `len` bytes at a random position of `text` (fewer at the end).
fn chunk(rng: &mut Rng, text: &[u8], len: usize) -> Vec<u8> {
    if text.is_empty() {
        return Vec::new();
    }
    let start = rng.below(text.len());
    text[start..(start + len).min(text.len())].to_vec()
}

/// `unit` repeated `times` times, but never more than `room` bytes: the
/// mutator must not itself run out of memory (a 4 MiB line repeated
/// 100,000 times is 400 GB).
fn repeated(unit: &[u8], times: usize, room: usize) -> Vec<u8> {
    let times = times.min(room / unit.len().max(1));
    unit.repeat(times)
}

fn mutate(rng: &mut Rng, input: &mut Vec<u8>, corpus: &[Vec<u8>]) {
    let pos = rng.below(input.len() + 1);
    // Bytes the input may still grow by.
    let room = MAX_INPUT.saturating_sub(input.len());
    match rng.below(12) {
        // Flip, set or drop single bytes.
        0 => {
            for _ in 0..rng.count(8) {
                if !input.is_empty() {
                    let i = rng.below(input.len());
                    input[i] ^= 1 << rng.below(8);
                }
            }
        }
        1 if pos < input.len() => {
            let end = (pos + rng.count(64)).min(input.len());
            input.drain(pos..end);
        }
        // One or a few syntax tokens.
        2 | 3 => {
            for _ in 0..rng.count(4) {
                let token = TOKENS[rng.below(TOKENS.len())].as_bytes();
                let at = rng.below(input.len() + 1);
                input.splice(at..at, token.iter().copied());
            }
        }
        // Splice in a piece of another seed.
        4 => {
            let other = &corpus[rng.below(corpus.len())];
            let len = rng.count(256);
            let piece = chunk(rng, other, len);
            input.splice(pos..pos, piece);
        }
        // A token or a short chunk repeated, up to hundreds of thousands
        // of times ("huge repeats").
        5 | 6 => {
            let unit = if rng.chance(50) {
                TOKENS[rng.below(TOKENS.len())].as_bytes().to_vec()
            } else {
                let len = rng.count(16);
                chunk(rng, input, len)
            };
            let times = rng.count(200_000);
            input.splice(pos..pos, repeated(&unit, times, room));
        }
        // Balanced deep nesting of a recursive construct.
        7 => {
            let (open, close): (&[u8], &[u8]) = match rng.below(4) {
                0 => (b"${a:-", b"}"),
                1 => (b"${a:+\"", b"\"}"),
                2 => (b"[", b"]"),
                _ => (b"${a/", b"/x}"),
            };
            let depth = rng.count(50_000).min(room / (open.len() + close.len()));
            let mut piece = open.repeat(depth);
            piece.push(b'x');
            piece.extend(close.repeat(depth));
            input.splice(pos..pos, piece);
        }
        // Repeat a whole line many times (many instructions).
        8 => {
            let start = input[..pos]
                .iter()
                .rposition(|&b| b == b'\n')
                .map_or(0, |i| i + 1);
            let end = input[pos..]
                .iter()
                .position(|&b| b == b'\n')
                .map_or(input.len(), |i| pos + i + 1);
            let mut line = input[start..end].to_vec();
            if line.last() != Some(&b'\n') {
                line.push(b'\n');
            }
            let times = rng.count(100_000);
            input.splice(end..end, repeated(&line, times, room));
        }
        // A doubling ARG chain: each value twice the previous one.
        9 => {
            let mut piece = b"\nARG d1=xy\n".to_vec();
            for i in 2..=rng.count(40) + 1 {
                piece.extend(format!("ARG d{i}=${{d{}}}${{d{}}}\n", i - 1, i - 1).bytes());
            }
            input.splice(pos..pos, piece);
        }
        // Cut the tail.
        10 => input.truncate(pos),
        // A random byte string.
        _ => {
            let len = rng.count(64);
            let piece: Vec<u8> = (0..len).map(|_| rng.next() as u8).collect();
            input.splice(pos..pos, piece);
        }
    }
    input.truncate(MAX_INPUT);
}

/// How one input went, as the worker reports it.
enum Outcome {
    Fine,
    /// An invariant broke (panic or bad error), with the reason.
    Bad(String),
}

/// Parse → plan → evaluate, as `rt-build parse` does, then the checks on
/// any error: it names a line of the file, and it is short.
fn run_front_end(text: &str, opts: &BuildOptions) -> Result<(), String> {
    let check = |e: DockerfileError| -> Result<(), String> {
        let lines = text.split('\n').count();
        if e.line > lines + 1 {
            return Err(format!("error names line {} of {lines}: {e}", e.line));
        }
        let shown = e.to_string();
        if shown.len() > MAX_ERROR_TEXT {
            return Err(format!(
                "error is {} bytes long: {}",
                shown.len(),
                shown.chars().take(300).collect::<String>()
            ));
        }
        Ok(())
    };
    let df = match parse(text, "fuzz") {
        Ok(df) => df,
        Err(e) => return check(e),
    };
    let p = match plan(&df, opts) {
        Ok(p) => p,
        Err(e) => return check(e),
    };
    match evaluate(&df, &p, opts) {
        Ok(_) => Ok(()),
        Err(e) => check(e),
    }
}

/// A worker thread with a big stack that runs inputs sent to it.
struct Worker {
    inputs: mpsc::Sender<(String, BuildOptions)>,
    outcomes: mpsc::Receiver<Outcome>,
}

impl Worker {
    fn start() -> Worker {
        let (in_tx, in_rx) = mpsc::channel::<(String, BuildOptions)>();
        let (out_tx, out_rx) = mpsc::channel();
        std::thread::Builder::new()
            .name("fuzz-worker".into())
            .stack_size(STACK)
            .spawn(move || {
                for (text, opts) in in_rx {
                    let outcome =
                        match catch_unwind(AssertUnwindSafe(|| run_front_end(&text, &opts))) {
                            Ok(Ok(())) => Outcome::Fine,
                            Ok(Err(why)) => Outcome::Bad(why),
                            Err(panic) => {
                                let what = panic
                                    .downcast_ref::<String>()
                                    .cloned()
                                    .or_else(|| panic.downcast_ref::<&str>().map(|s| s.to_string()))
                                    .unwrap_or_else(|| "(no message)".into());
                                Outcome::Bad(format!("panic: {what}"))
                            }
                        };
                    if out_tx.send(outcome).is_err() {
                        return;
                    }
                }
            })
            .expect("spawning the fuzz worker");
        Worker {
            inputs: in_tx,
            outcomes: out_rx,
        }
    }
}

fn out_dir() -> PathBuf {
    let dir = Path::new(env!("CARGO_TARGET_TMPDIR")).join("fuzz-parser");
    std::fs::create_dir_all(&dir).expect("creating the fuzz output directory");
    dir
}

/// Options vary a little so that plan's --build-arg and --target paths
/// are exercised as well.
fn options(rng: &mut Rng) -> BuildOptions {
    let mut build_args = BTreeMap::new();
    if rng.chance(30) {
        build_args.insert("a".to_string(), "v".repeat(rng.count(1 << 16)));
        build_args.insert("HTTP_PROXY".to_string(), "http://p:3128".to_string());
    }
    BuildOptions {
        build_args,
        target: rng.chance(10).then(|| "b".to_string()),
        platform: Default::default(),
    }
}

/// Runs one input; on any failure saves it and panics with the reason.
/// Returns how long the input took.
fn check_one(
    worker: &Worker,
    dir: &Path,
    name: &str,
    text: String,
    opts: BuildOptions,
) -> Duration {
    // Written before running: if the input overflows the stack the
    // process aborts with no chance to save anything afterwards.
    let current = dir.join("current.df");
    std::fs::write(&current, text.as_bytes()).expect("saving the current input");
    worker
        .inputs
        .send((text.clone(), opts.clone()))
        .expect("the fuzz worker is gone");
    let started = Instant::now();
    let limit = deadline();
    let failure = match worker.outcomes.recv_timeout(limit) {
        Ok(Outcome::Fine) => return started.elapsed(),
        Ok(Outcome::Bad(why)) => why,
        Err(_) => format!("no result within {limit:?} (a hang)"),
    };
    let saved = dir.join(format!("{name}.df"));
    std::fs::write(&saved, text.as_bytes()).expect("saving the failing input");
    panic!(
        "fuzz input {name} failed: {failure}\n  input ({} bytes) saved to {}\n  options: build args {:?}, target {:?}",
        text.len(),
        saved.display(),
        opts.build_args.keys().collect::<Vec<_>>(),
        opts.target
    );
}

/// Address space the test process may use. The front end's budgets keep
/// it far below this; an input that gets past them then makes an
/// allocation fail (the process aborts, current.df holds the input)
/// instead of having the kernel's OOM killer pick some process on a
/// shared machine.
const ADDRESS_SPACE: u64 = 6 << 30;

fn limit_memory() {
    let limit = libc::rlimit {
        rlim_cur: ADDRESS_SPACE,
        rlim_max: ADDRESS_SPACE,
    };
    // SAFETY: setrlimit only reads the struct, which lives across the call.
    let rc = unsafe { libc::setrlimit(libc::RLIMIT_AS, &limit) };
    if rc != 0 {
        eprintln!(
            "fuzz: setrlimit(RLIMIT_AS) failed: {}",
            std::io::Error::last_os_error()
        );
    }
}

#[test]
fn fuzz_parse_plan_evaluate() {
    limit_memory();
    let dir = out_dir();
    let worker = Worker::start();
    if let Ok(file) = std::env::var("RT_BUILD_FUZZ_REPLAY") {
        let bytes = std::fs::read(&file).unwrap_or_else(|e| panic!("{file}: {e}"));
        let text = String::from_utf8_lossy(&bytes).into_owned();
        let took = check_one(
            &worker,
            &dir,
            "replay",
            text.clone(),
            BuildOptions::default(),
        );
        eprintln!("fuzz: {file} ran fine in {took:?}");
        // Once more by phase, for anyone measuring the front end.
        let opts = BuildOptions::default();
        let t = Instant::now();
        if let Ok(df) = parse(&text, "replay") {
            let parsed = t.elapsed();
            if let Ok(p) = plan(&df, &opts) {
                let planned = t.elapsed();
                let _ = evaluate(&df, &p, &opts);
                eprintln!(
                    "fuzz: parse {parsed:?}, plan {:?}, evaluate {:?}",
                    planned - parsed,
                    t.elapsed() - planned
                );
            }
        }
        return;
    }
    let secs: u64 = match std::env::var("RT_BUILD_FUZZ_SECS") {
        Ok(s) => s.parse().expect("RT_BUILD_FUZZ_SECS: a number of seconds"),
        Err(_) => 20,
    };
    let seed: u64 = match std::env::var("RT_BUILD_FUZZ_SEED") {
        Ok(s) => s.parse().expect("RT_BUILD_FUZZ_SEED: a number"),
        Err(_) => SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map(|d| d.as_nanos() as u64)
            .unwrap_or(1),
    };
    eprintln!(
        "fuzz: seed {seed}, {secs} s (repeat with RT_BUILD_FUZZ_SEED={seed}); inputs in {}",
        dir.display()
    );
    let corpus = corpus();
    let mut rng = Rng::new(seed);
    let end = Instant::now() + Duration::from_secs(secs);
    // Every seed as it is, first.
    for (i, seed_text) in corpus.iter().enumerate() {
        let text = String::from_utf8_lossy(seed_text).into_owned();
        check_one(
            &worker,
            &dir,
            &format!("seed-{i}"),
            text,
            BuildOptions::default(),
        );
    }
    let mut runs = 0u64;
    // The slowest input and its size: how close runs come to the deadline.
    let mut slowest = (Duration::ZERO, 0usize);
    let mut previous: Vec<u8> = Vec::new();
    while Instant::now() < end {
        // Usually a fresh seed; sometimes keep mutating the last input.
        let mut input = if !previous.is_empty() && previous.len() < 1 << 16 && rng.chance(30) {
            previous
        } else {
            corpus[rng.below(corpus.len())].clone()
        };
        for _ in 0..1 + rng.below(4) {
            mutate(&mut rng, &mut input, &corpus);
        }
        let text = String::from_utf8_lossy(&input).into_owned();
        let opts = options(&mut rng);
        let size = text.len();
        let took = check_one(&worker, &dir, &format!("fail-{seed}-{runs}"), text, opts);
        if took > slowest.0 {
            slowest = (took, size);
            // Kept for a look at what is slow (not a failure).
            let _ = std::fs::copy(dir.join("current.df"), dir.join("slowest.df"));
        }
        previous = input;
        runs += 1;
    }
    eprintln!(
        "fuzz: {runs} inputs, no failure (seed {seed}); slowest {:?} for {} bytes",
        slowest.0, slowest.1
    );
}
