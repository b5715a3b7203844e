//! The live terminal view (`--progress tty`), in BuildKit's shape:
//!
//! ```text
//! [+] Building 2.4s (3/4)
//!  => [build 1/4] FROM busybox                          0.0s
//!  => [build 2/4] COPY . /src                          CACHED
//!  => [build 3/4] RUN make                               1.9s
//!  => => # cc -o app main.c
//! ```
//!
//! Each frame moves the cursor up over the previous one and rewrites it
//! line by line, so the running step's time ticks in place. Lines are cut
//! to the terminal width (a wrapped line would break the count of lines to
//! move up). Notes, and finished steps that no longer fit the terminal's
//! height, are written once above the live area and then left alone. The
//! last frame shows every step and the output tail of a failed one.
//!
//! Pure: callers pass the time, and get the bytes to write.

use std::collections::VecDeque;
use std::time::{Duration, Instant};

/// Output lines of the running step shown under it.
const TAIL_LINES: usize = 6;

#[derive(Debug, Clone, Copy, PartialEq)]
enum Status {
    Running,
    Done(Duration),
    Cached,
    Error(Duration),
}

struct Step {
    number: usize,
    label: String,
    start: Instant,
    status: Status,
    tail: VecDeque<String>,
}

pub struct View {
    started: Instant,
    width: usize,
    height: usize,
    steps: Vec<Step>,
    /// Steps before this index were written above the live area for good.
    committed: usize,
    /// Lines to write above the live area on the next frame.
    pending: Vec<String>,
    /// Lines of the live area now on screen (to move up over).
    drawn: usize,
}

impl View {
    pub fn new(started: Instant, width: usize, height: usize) -> View {
        View {
            started,
            width: width.max(20),
            height: height.max(4),
            steps: Vec::new(),
            committed: 0,
            pending: Vec::new(),
            drawn: 0,
        }
    }

    pub fn start_step(&mut self, number: usize, label: &str, now: Instant) {
        self.steps.push(Step {
            number,
            label: label.to_string(),
            start: now,
            status: Status::Running,
            tail: VecDeque::new(),
        });
    }

    fn step_mut(&mut self, number: usize) -> Option<&mut Step> {
        self.steps.iter_mut().rev().find(|s| s.number == number)
    }

    pub fn output_line(&mut self, number: usize, text: &str) {
        if let Some(s) = self.step_mut(number) {
            if s.tail.len() == TAIL_LINES {
                s.tail.pop_front();
            }
            s.tail.push_back(text.to_string());
        }
    }

    pub fn done(&mut self, number: usize, now: Instant) {
        self.finish(number, |start| {
            Status::Done(now.saturating_duration_since(start))
        });
    }

    pub fn cached(&mut self, number: usize) {
        self.finish(number, |_| Status::Cached);
    }

    pub fn error(&mut self, number: usize, now: Instant) {
        self.finish(number, |start| {
            Status::Error(now.saturating_duration_since(start))
        });
    }

    fn finish(&mut self, number: usize, status: impl FnOnce(Instant) -> Status) {
        if let Some(s) = self.step_mut(number) {
            s.status = status(s.start);
        }
    }

    /// A line (warning, summary) to keep above the live area.
    pub fn note(&mut self, text: &str) {
        self.pending.push(text.to_string());
    }

    /// The bytes that replace the previous frame with the current state.
    pub fn frame(&mut self, now: Instant) -> String {
        self.render(now, false)
    }

    /// The last frame: all steps, the header marked FINISHED (or ERROR),
    /// the output tail of a failed step. Later output goes below it.
    pub fn final_frame(&mut self, now: Instant) -> String {
        self.render(now, true)
    }

    fn render(&mut self, now: Instant, last: bool) -> String {
        let mut out = String::new();
        if self.drawn > 0 {
            out.push_str(&format!("\x1b[{}A", self.drawn));
        }
        out.push('\r');
        let mut above: Vec<String> = std::mem::take(&mut self.pending);
        let mut live = self.live_lines(now, last);
        // Keep the live area within the screen: cursor-up cannot reach
        // lines that scrolled off. Finished steps go above for good.
        let room = self.height - 1;
        while !last && live.len() > room && self.committed < self.steps.len() {
            if self.steps[self.committed].status == Status::Running {
                break;
            }
            above.push(self.step_line(&self.steps[self.committed], now));
            self.committed += 1;
            live = self.live_lines(now, last);
        }
        for line in above.iter().chain(live.iter()) {
            out.push_str("\x1b[2K");
            out.push_str(&cut(line, self.width - 1));
            out.push('\n');
        }
        // Clears what a longer previous frame left below.
        out.push_str("\x1b[J");
        self.drawn = if last { 0 } else { live.len() };
        if last {
            self.committed = self.steps.len();
        }
        out
    }

    fn live_lines(&self, now: Instant, last: bool) -> Vec<String> {
        let finished = self
            .steps
            .iter()
            .filter(|s| s.status != Status::Running)
            .count();
        let failed = self
            .steps
            .iter()
            .any(|s| matches!(s.status, Status::Error(_)));
        let mut header = format!(
            "[+] Building {:.1}s ({finished}/{})",
            now.saturating_duration_since(self.started).as_secs_f64(),
            self.steps.len()
        );
        if last {
            header.push_str(if failed { " ERROR" } else { " FINISHED" });
        }
        let mut lines = vec![header];
        for s in &self.steps[self.committed..] {
            lines.push(self.step_line(s, now));
            let show_tail = match s.status {
                Status::Running => !last,
                Status::Error(_) => true,
                _ => false,
            };
            if show_tail {
                lines.extend(s.tail.iter().map(|t| format!(" => => # {t}")));
            }
        }
        lines
    }

    fn step_line(&self, s: &Step, now: Instant) -> String {
        let right = match s.status {
            Status::Running => format!(
                "{:.1}s",
                now.saturating_duration_since(s.start).as_secs_f64()
            ),
            Status::Done(d) => format!("{:.1}s", d.as_secs_f64()),
            Status::Cached => "CACHED".to_string(),
            Status::Error(d) => format!("ERROR {:.1}s", d.as_secs_f64()),
        };
        let room = self.width - 1;
        let left_room = room.saturating_sub(right.chars().count() + 1);
        let left = cut(&format!(" => {}", one_line(&s.label)), left_room);
        let pad = room - left.chars().count() - right.chars().count();
        format!("{left}{}{right}", " ".repeat(pad))
    }
}

/// Labels and output may hold tabs or control bytes that would move the
/// cursor: they are shown as spaces.
fn one_line(text: &str) -> String {
    text.chars()
        .map(|c| if c.is_control() { ' ' } else { c })
        .collect()
}

/// At most `max` characters (control characters made spaces).
fn cut(text: &str, max: usize) -> String {
    one_line(text).chars().take(max).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn at(base: Instant, ms: u64) -> Instant {
        base + Duration::from_millis(ms)
    }

    /// The frame's lines without escape sequences.
    fn lines(frame: &str) -> Vec<String> {
        let mut text = String::new();
        let mut chars = frame.chars().peekable();
        while let Some(c) = chars.next() {
            if c == '\x1b' {
                // CSI: ESC [ params final-byte
                chars.next();
                for c in chars.by_ref() {
                    if c.is_ascii_alphabetic() {
                        break;
                    }
                }
            } else if c != '\r' {
                text.push(c);
            }
        }
        text.lines().map(str::to_string).collect()
    }

    #[test]
    fn running_step_ticks_in_place_then_final_summary() {
        let t0 = Instant::now();
        let mut v = View::new(t0, 60, 24);
        v.start_step(1, "[s 1/3] FROM busybox", t0);
        v.done(1, at(t0, 40));
        v.start_step(2, "[s 2/3] RUN make", at(t0, 50));
        v.output_line(2, "cc main.c");
        let f1 = v.frame(at(t0, 1230));
        let row = |left: &str, right: &str| format!("{left:<w$}{right}", w = 59 - right.len());
        assert!(!f1.contains("\x1b[3A"), "first frame moves nothing: {f1:?}");
        assert_eq!(
            lines(&f1),
            vec![
                "[+] Building 1.2s (1/2)".to_string(),
                row(" => [s 1/3] FROM busybox", "0.0s"),
                row(" => [s 2/3] RUN make", "1.2s"),
                " => => # cc main.c".to_string(),
            ]
        );
        // The next frame goes back over the 4 lines and redraws them with
        // the new time.
        let f2 = v.frame(at(t0, 2340));
        assert!(
            f2.starts_with("\x1b[4A\r\x1b[2K[+] Building 2.3s"),
            "{f2:?}"
        );
        assert!(lines(&f2)[2].ends_with(" 2.3s"), "{:?}", lines(&f2));
        assert_eq!(f2.matches("\x1b[2K").count(), 4);
        v.cached(2);
        v.start_step(3, "[s 3/3] COPY a /a", at(t0, 2400));
        v.done(3, at(t0, 2600));
        let last = v.final_frame(at(t0, 2700));
        assert!(last.starts_with("\x1b[4A\r"), "{last:?}");
        let l = lines(&last);
        assert_eq!(l[0], "[+] Building 2.7s (3/3) FINISHED");
        assert!(l[2].ends_with("CACHED") && l[3].ends_with("0.2s"), "{l:?}");
        assert_eq!(l.len(), 4, "a finished step's output is not kept: {l:?}");
        assert!(last.ends_with("\x1b[J"));
        // Nothing of the view is drawn any more: the next frame moves
        // nothing.
        assert!(!v.frame(at(t0, 2800)).contains("A\r"));
    }

    #[test]
    fn failed_step_keeps_its_output_tail_and_the_header_says_error() {
        let t0 = Instant::now();
        let mut v = View::new(t0, 50, 24);
        v.start_step(1, "[s 2/2] RUN false", t0);
        for i in 0..9 {
            v.output_line(1, &format!("line {i}"));
        }
        v.error(1, at(t0, 500));
        let l = lines(&v.final_frame(at(t0, 600)));
        assert_eq!(l[0], "[+] Building 0.6s (1/1) ERROR");
        assert!(l[1].ends_with("ERROR 0.5s"), "{l:?}");
        let tail: Vec<&str> = l[2..].iter().map(String::as_str).collect();
        assert_eq!(
            tail,
            [
                " => => # line 3",
                " => => # line 4",
                " => => # line 5",
                " => => # line 6",
                " => => # line 7",
                " => => # line 8"
            ]
        );
    }

    #[test]
    fn lines_are_cut_to_the_width_and_control_bytes_blanked() {
        let t0 = Instant::now();
        let mut v = View::new(t0, 30, 24);
        v.start_step(1, "[s 2/2] RUN echo a very long command line indeed", t0);
        v.output_line(1, "x\ty\x1b[31mred and much longer than thirty");
        let f = v.frame(at(t0, 100));
        for l in lines(&f) {
            assert!(l.chars().count() <= 29, "{l:?}");
        }
        let l = lines(&f);
        assert!(l[1].ends_with(" 0.1s"), "time stays visible: {l:?}");
        assert_eq!(l[2], " => => # x y [31mred and much");
        // Only ours: one line-clear per line and the final clear.
        assert_eq!(f.matches('\x1b').count(), 3 + 1, "{f:?}");
    }

    #[test]
    fn notes_and_old_steps_go_above_when_the_screen_is_full() {
        let t0 = Instant::now();
        let mut v = View::new(t0, 40, 5);
        v.note("warning: something");
        for n in 1..=5 {
            v.start_step(n, &format!("[s {n}/6] RUN step{n}"), at(t0, n as u64));
            v.done(n, at(t0, n as u64 + 100));
        }
        v.start_step(6, "[s 6/6] RUN last", at(t0, 200));
        let f = v.frame(at(t0, 300));
        let l = lines(&f);
        assert_eq!(l[0], "warning: something");
        // Height 5: at most 4 live lines (header, steps 4-6... step 6 is
        // running), the rest were written above once.
        assert!(
            l[1].starts_with(" => [s 1/6]") && l[2].starts_with(" => [s 2/6]"),
            "{l:?}"
        );
        assert_eq!(l[4], "[+] Building 0.3s (5/6)");
        assert!(l[l.len() - 1].starts_with(" => [s 6/6] RUN last"), "{l:?}");
        assert_eq!(l.len() - 4, 4);
        // The next frame moves up over the live lines only.
        let f2 = v.frame(at(t0, 400));
        assert!(f2.starts_with("\x1b[4A\r"), "{f2:?}");
        assert_eq!(lines(&f2).len(), 4);
        assert!(!f2.contains("warning"));
    }
}
