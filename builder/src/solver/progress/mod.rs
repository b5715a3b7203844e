//! Progress output on stderr. Plain, in BuildKit's shape:
//! `#3 [build 2/4] RUN make`, output lines as `#3 0.412 text`, then
//! `#3 DONE 1.2s`, `#3 CACHED` or `#3 ERROR: ...`. Tty: a live view
//! redrawn in place (`tty.rs`). The last lines of each step's output are
//! kept for error reports in every mode.
//!
//! The builder is single-threaded (RUN containers are cloned from it), so
//! the tty view is redrawn from the build's own calls: step events, output,
//! and the idle ticks the RUN output loop sends while waiting.

mod tty;

use std::cell::RefCell;
use std::collections::VecDeque;
use std::io::Write;
use std::rc::Rc;
use std::time::{Duration, Instant};

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Mode {
    Quiet,
    Plain,
    Tty,
}

impl Mode {
    /// `auto`: the live view when stderr is a terminal (not TERM=dumb).
    pub fn auto() -> Mode {
        // SAFETY: isatty only inspects the descriptor.
        let terminal = unsafe { libc::isatty(2) } == 1;
        if terminal && std::env::var("TERM").map_or(true, |t| t != "dumb") {
            Mode::Tty
        } else {
            Mode::Plain
        }
    }
}

/// The live view and when it was last written.
struct Screen {
    view: tty::View,
    last_draw: Option<Instant>,
    finished: bool,
}

/// Frames at most this often, except on step starts and ends.
const REDRAW_EVERY: Duration = Duration::from_millis(100);

impl Screen {
    fn draw(&mut self, force: bool) {
        if self.finished {
            return;
        }
        let now = Instant::now();
        if !force && self.last_draw.is_some_and(|t| now - t < REDRAW_EVERY) {
            return;
        }
        self.last_draw = Some(now);
        let frame = self.view.frame(now);
        let mut err = std::io::stderr().lock();
        let _ = err.write_all(frame.as_bytes());
        let _ = err.flush();
    }
}

/// Terminal size of stderr: (columns, rows), 80x24 if unknown.
fn terminal_size() -> (usize, usize) {
    let mut ws = libc::winsize {
        ws_row: 0,
        ws_col: 0,
        ws_xpixel: 0,
        ws_ypixel: 0,
    };
    // SAFETY: TIOCGWINSZ fills the winsize we pass.
    let rc = unsafe { libc::ioctl(2, libc::TIOCGWINSZ, &mut ws) };
    if rc == 0 && ws.ws_col > 0 && ws.ws_row > 0 {
        (ws.ws_col as usize, ws.ws_row as usize)
    } else {
        (80, 24)
    }
}

pub struct Progress {
    mode: Mode,
    next: usize,
    screen: Option<Rc<RefCell<Screen>>>,
}

pub struct StepLog {
    pub number: usize,
    start: Instant,
    partial: Vec<u8>,
    pub tail: VecDeque<String>,
    mode: Mode,
    screen: Option<Rc<RefCell<Screen>>>,
}

const TAIL: usize = 10;

impl Progress {
    pub fn new(mode: Mode) -> Progress {
        let screen = (mode == Mode::Tty).then(|| {
            let (w, h) = terminal_size();
            Rc::new(RefCell::new(Screen {
                view: tty::View::new(Instant::now(), w, h),
                last_draw: None,
                finished: false,
            }))
        });
        Progress {
            mode,
            next: 1,
            screen,
        }
    }

    pub fn step(&mut self, label: &str) -> StepLog {
        let n = self.next;
        self.next += 1;
        let start = Instant::now();
        match &self.screen {
            Some(s) => {
                let mut s = s.borrow_mut();
                s.view.start_step(n, label, start);
                s.draw(true);
            }
            None if self.mode == Mode::Plain => eprintln!("#{n} {label}"),
            None => {}
        }
        StepLog {
            number: n,
            start,
            partial: Vec::new(),
            tail: VecDeque::new(),
            mode: self.mode,
            screen: self.screen.clone(),
        }
    }

    pub fn note(&self, text: &str) {
        match &self.screen {
            Some(s) => {
                let mut s = s.borrow_mut();
                s.view.note(text);
                s.draw(true);
            }
            None if self.mode == Mode::Plain => eprintln!("{text}"),
            None => {}
        }
    }

    /// Leaves the tty view's final summary; later output goes below it.
    pub fn finish(&self) {
        if let Some(s) = &self.screen {
            let mut s = s.borrow_mut();
            if !s.finished {
                s.finished = true;
                let frame = s.view.final_frame(Instant::now());
                let mut err = std::io::stderr().lock();
                let _ = err.write_all(frame.as_bytes());
                let _ = err.flush();
            }
        }
    }
}

impl StepLog {
    /// Output of the step; an empty slice is an idle tick (redraws the
    /// tty view so the running time moves).
    pub fn output(&mut self, bytes: &[u8]) {
        if bytes.is_empty() {
            if let Some(s) = &self.screen {
                s.borrow_mut().draw(false);
            }
            return;
        }
        self.partial.extend_from_slice(bytes);
        while let Some(pos) = self.partial.iter().position(|b| *b == b'\n') {
            let line: Vec<u8> = self.partial.drain(..=pos).collect();
            self.line(String::from_utf8_lossy(&line[..line.len() - 1]).into_owned());
        }
    }

    fn line(&mut self, text: String) {
        if let Some(s) = &self.screen {
            let mut s = s.borrow_mut();
            s.view.output_line(self.number, &text);
            s.draw(false);
        } else if self.mode == Mode::Plain {
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
        if let Some(s) = &self.screen {
            let mut s = s.borrow_mut();
            s.view.done(self.number, Instant::now());
            s.draw(true);
        } else if self.mode == Mode::Plain {
            eprintln!(
                "#{} DONE {:.1}s",
                self.number,
                self.start.elapsed().as_secs_f64()
            );
        }
    }

    pub fn cached(&self) {
        if let Some(s) = &self.screen {
            let mut s = s.borrow_mut();
            s.view.cached(self.number);
            s.draw(true);
        } else if self.mode == Mode::Plain {
            eprintln!("#{} CACHED", self.number);
        }
    }

    /// In the tty view the message itself is left to the caller's error
    /// report (printed after the final frame).
    pub fn error(&self, msg: &str) {
        if let Some(s) = &self.screen {
            let mut s = s.borrow_mut();
            s.view.error(self.number, Instant::now());
            s.draw(true);
        } else if self.mode == Mode::Plain {
            eprintln!("#{} ERROR: {msg}", self.number);
        }
    }
}
