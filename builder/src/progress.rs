//! Plain progress output in BuildKit's shape, on stderr:
//! `#3 [build 2/4] RUN make`, output lines as `#3 0.412 text`, then
//! `#3 DONE 1.2s`, `#3 CACHED` or `#3 ERROR: ...`. The last lines of each
//! step's output are kept for error reports.

use std::collections::VecDeque;
use std::io::Write;
use std::time::Instant;

pub struct Progress {
    quiet: bool,
    next: usize,
}

pub struct StepLog {
    pub number: usize,
    start: Instant,
    partial: Vec<u8>,
    pub tail: VecDeque<String>,
    quiet: bool,
}

const TAIL: usize = 10;

impl Progress {
    pub fn new(quiet: bool) -> Progress {
        Progress { quiet, next: 1 }
    }

    pub fn step(&mut self, label: &str) -> StepLog {
        let n = self.next;
        self.next += 1;
        if !self.quiet {
            eprintln!("#{n} {label}");
        }
        StepLog {
            number: n,
            start: Instant::now(),
            partial: Vec::new(),
            tail: VecDeque::new(),
            quiet: self.quiet,
        }
    }

    pub fn note(&self, text: &str) {
        if !self.quiet {
            eprintln!("{text}");
        }
    }
}

impl StepLog {
    pub fn output(&mut self, bytes: &[u8]) {
        self.partial.extend_from_slice(bytes);
        while let Some(pos) = self.partial.iter().position(|b| *b == b'\n') {
            let line: Vec<u8> = self.partial.drain(..=pos).collect();
            self.line(String::from_utf8_lossy(&line[..line.len() - 1]).into_owned());
        }
    }

    fn line(&mut self, text: String) {
        if !self.quiet {
            let t = self.start.elapsed().as_secs_f64();
            let mut err = std::io::stderr().lock();
            let _ = writeln!(err, "#{} {t:.3} {text}", self.number);
        }
        if self.tail.len() == TAIL {
            self.tail.pop_front();
        }
        self.tail.push_back(text);
    }

    /// Flushes a last line without newline.
    pub fn flush(&mut self) {
        if !self.partial.is_empty() {
            let rest = std::mem::take(&mut self.partial);
            self.line(String::from_utf8_lossy(&rest).into_owned());
        }
    }

    pub fn done(&self) {
        if !self.quiet {
            eprintln!(
                "#{} DONE {:.1}s",
                self.number,
                self.start.elapsed().as_secs_f64()
            );
        }
    }

    pub fn cached(&self) {
        if !self.quiet {
            eprintln!("#{} CACHED", self.number);
        }
    }

    pub fn error(&self, msg: &str) {
        if !self.quiet {
            eprintln!("#{} ERROR: {msg}", self.number);
        }
    }
}
