//! The container status, derived from the init process and the fifo.

use super::{ContainerState, EXEC_FIFO};
use std::path::Path;

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Status {
    Creating,
    Created,
    Running,
    Paused,
    Stopped,
}

impl Status {
    pub fn as_str(self) -> &'static str {
        match self {
            Status::Creating => "creating",
            Status::Created => "created",
            Status::Running => "running",
            Status::Paused => "paused",
            Status::Stopped => "stopped",
        }
    }
}

/// Field 3 (state) and 22 (start time) of /proc/PID/stat.
pub fn proc_stat(pid: i32) -> Option<(char, u64)> {
    let text = crate::sys::read_virtual(format!("/proc/{pid}/stat")).ok()?;
    // The command name may contain spaces and parentheses: split after the last ')'.
    let rest = &text[text.rfind(')')? + 2..];
    let mut fields = rest.split(' ');
    let state = fields.next()?.chars().next()?;
    let start = fields.nth(18)?.parse().ok()?;
    Some((state, start))
}

/// True while the init process recorded in `st` exists and is not a zombie.
pub fn init_alive(st: &ContainerState) -> bool {
    if st.pid <= 0 {
        return false;
    }
    match proc_stat(st.pid) {
        Some((state, start)) => start == st.init_start_time && state != 'Z' && state != 'X',
        None => false,
    }
}

pub fn status_of(dir: &Path, st: &ContainerState) -> Status {
    if !init_alive(st) {
        return Status::Stopped;
    }
    if dir.join(EXEC_FIFO).exists() {
        return Status::Created;
    }
    if st.cgroup.is_frozen() {
        return Status::Paused;
    }
    Status::Running
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn proc_stat_of_self() {
        let (state, start) = proc_stat(std::process::id() as i32).unwrap();
        assert!(state == 'R' || state == 'S');
        assert!(start > 0);
    }

    #[test]
    fn dead_pid_is_stopped() {
        let st = ContainerState {
            pid: i32::MAX - 1,
            ..Default::default()
        };
        assert_eq!(status_of(Path::new("/nonexistent"), &st), Status::Stopped);
    }
}
