//! Flags and subcommands (runc's names, short forms and defaults).

use clap::{Args, Parser, Subcommand};
use std::path::PathBuf;

// The global flags go before the subcommand, as runc (urfave/cli) takes
// them and every caller passes them; `runc run --root x` is an error there
// too. Not marking them `global` also saves clap from copying them into
// every subcommand at each start (about 0.1 ms of each create, run, exec).
#[derive(Parser, Debug)]
#[command(
    name = "rt",
    disable_version_flag = true,
    about = "rt: an OCI container runtime"
)]
pub struct Cli {
    /// Directory for container state (default /run/rt, or $XDG_RUNTIME_DIR/rt when rootless).
    #[arg(long)]
    pub root: Option<PathBuf>,
    /// Log file (records are appended).
    #[arg(long)]
    pub log: Option<String>,
    /// Log format: text or json.
    #[arg(long = "log-format", default_value = "text", value_parser = ["text", "json"])]
    pub log_format: String,
    /// Write debug records of what rt does to the log.
    #[arg(long)]
    pub debug: bool,
    /// Use the systemd cgroup driver (cgroupsPath is slice:prefix:name).
    #[arg(long = "systemd-cgroup")]
    pub systemd_cgroup: bool,
    /// Ignore cgroup permission errors ('true', 'false', or 'auto':
    /// when not root or in a user namespace).
    #[arg(long, num_args = 0..=1, default_missing_value = "true")]
    pub rootless: Option<String>,
    /// Accepted and ignored (runc's removed --criu).
    #[arg(long, hide = true)]
    pub criu: Option<String>,
    #[command(subcommand)]
    pub command: Command,
}

impl Cli {
    pub fn state_root(&self) -> PathBuf {
        if let Some(r) = &self.root {
            return r.clone();
        }
        match self.xdg_state_root() {
            Some(r) => r,
            None => PathBuf::from("/run/rt"),
        }
    }

    /// $XDG_RUNTIME_DIR/rt, when no --root is given and rootless rules
    /// pick it (crate::rootless::honor_xdg_runtime_dir).
    pub fn xdg_state_root(&self) -> Option<PathBuf> {
        if self.root.is_some() || !crate::rootless::honor_xdg_runtime_dir() {
            return None;
        }
        std::env::var_os("XDG_RUNTIME_DIR").map(|x| PathBuf::from(x).join("rt"))
    }
}

// Only the subcommand on the command line gets its flags built: building
// every subcommand's flags took about 0.3 ms of each create, run and exec.
#[derive(Subcommand, Debug)]
#[command(defer = true)]
pub enum Command {
    /// Create a container (the init waits for `start`).
    Create(CreateArgs),
    /// Start a created container.
    Start(IdArg),
    /// Print the state of a container as JSON.
    State(IdArg),
    /// Send a signal to the container's init (default SIGTERM).
    Kill(KillArgs),
    /// Delete a container and its resources.
    Delete(DeleteArgs),
    /// Create and start a container; wait for it unless --detach.
    Run(RunArgs),
    /// List containers.
    List(ListArgs),
    /// Write a default config.json.
    Spec(SpecArgs),
    /// Run a process in a running container.
    Exec(ExecArgs),
    /// List the processes of a container.
    Ps(PsArgs),
    /// Freeze every process of a container.
    Pause(IdArg),
    /// Thaw a paused container.
    Resume(IdArg),
    /// Update resource limits (JSON LinuxResources from --resources FILE or -).
    Update(UpdateArgs),
    /// Print resource usage statistics of a container (JSON, runc's shape).
    Events(EventsArgs),
    /// Print the runtime's features as JSON.
    Features,
    /// Checkpoint a running container with CRIU.
    Checkpoint(CheckpointArgs),
    /// Restore a container from a CRIU checkpoint.
    Restore(RestoreArgs),
    /// CRIU's action script during restore (runs the hooks); internal.
    #[command(name = "criu-notify", hide = true)]
    CriuNotify(CriuNotifyArgs),
}

#[derive(Args, Debug)]
pub struct CreateArgs {
    /// Bundle directory (default: current directory).
    #[arg(short = 'b', long)]
    pub bundle: Option<PathBuf>,
    /// Write the container init's pid to this file.
    #[arg(long = "pid-file")]
    pub pid_file: Option<PathBuf>,
    /// Unix socket that receives the pty master (SCM_RIGHTS) when process.terminal is true.
    #[arg(long = "console-socket")]
    pub console_socket: Option<PathBuf>,
    /// Accepted for compatibility (runc's pidfd receiver); not used.
    #[arg(long = "pidfd-socket", hide = true)]
    pub pidfd_socket: Option<PathBuf>,
    /// Enter the rootfs with MS_MOVE and chroot instead of pivot_root (for a rootfs on a ramdisk).
    #[arg(long = "no-pivot")]
    pub no_pivot: bool,
    /// Keep the caller's session keyring instead of a new one.
    #[arg(long = "no-new-keyring")]
    pub no_new_keyring: bool,
    /// Pass this many fds after stdio (3, 4, ...) to the container.
    #[arg(long = "preserve-fds", default_value_t = 0)]
    pub preserve_fds: u32,
    /// Container id (or, for a path containing '/', the bundle itself).
    pub id: String,
}

#[derive(Args, Debug)]
pub struct RunArgs {
    #[command(flatten)]
    pub create: CreateArgs,
    /// Return after start instead of waiting for the container to exit.
    #[arg(short = 'd', long)]
    pub detach: bool,
    /// Keep the container's state after it exits.
    #[arg(long)]
    pub keep: bool,
    /// Do not make rt a child subreaper while it waits.
    #[arg(long = "no-subreaper")]
    pub no_subreaper: bool,
}

#[derive(Args, Debug)]
pub struct IdArg {
    /// Container id.
    pub id: String,
}

#[derive(Args, Debug)]
pub struct KillArgs {
    /// Signal every process of the container, not only its init.
    #[arg(short = 'a', long)]
    pub all: bool,
    /// Container id.
    pub id: String,
    /// Signal name or number (default TERM; 0 checks that the init lives).
    pub signal: Option<String>,
}

#[derive(Args, Debug)]
pub struct DeleteArgs {
    /// Kill the container first if it is still running.
    #[arg(short = 'f', long)]
    pub force: bool,
    /// Container id.
    pub id: String,
}

#[derive(Args, Debug)]
pub struct ListArgs {
    /// Print only the container ids.
    #[arg(short = 'q', long)]
    pub quiet: bool,
    /// Output format.
    #[arg(short = 'f', long, default_value = "table", value_parser = ["table", "json"])]
    pub format: String,
}

#[derive(Args, Debug)]
pub struct SpecArgs {
    /// Write config.json into this directory (default: the current one).
    #[arg(short = 'b', long)]
    pub bundle: Option<PathBuf>,
    /// Write a spec for a rootless container.
    #[arg(long)]
    pub rootless: bool,
}

#[derive(Args, Debug)]
pub struct ExecArgs {
    /// process.json to run (runtime-spec Process).
    #[arg(short = 'p', long)]
    pub process: Option<PathBuf>,
    /// Unix socket that receives the pty master (SCM_RIGHTS) with --tty.
    #[arg(long = "console-socket")]
    pub console_socket: Option<PathBuf>,
    #[arg(long = "pidfd-socket", hide = true)]
    pub pidfd_socket: Option<PathBuf>,
    /// Return once the process has started.
    #[arg(short = 'd', long)]
    pub detach: bool,
    /// Write the process's pid to this file.
    #[arg(long = "pid-file")]
    pub pid_file: Option<PathBuf>,
    /// Give the process a terminal (rt's own terminal is proxied without --console-socket).
    #[arg(short = 't', long)]
    pub tty: bool,
    /// Working directory inside the container.
    #[arg(long)]
    pub cwd: Option<PathBuf>,
    /// Set an environment variable, KEY=VALUE (repeatable; overrides the container's).
    #[arg(short = 'e', long = "env")]
    pub env: Vec<String>,
    /// uid[:gid]
    #[arg(short = 'u', long)]
    pub user: Option<String>,
    /// An additional group id (repeatable).
    #[arg(short = 'g', long = "additional-gids")]
    pub additional_gids: Vec<u32>,
    /// Add a capability, e.g. CAP_NET_ADMIN (repeatable).
    #[arg(short = 'c', long = "cap")]
    pub cap: Vec<String>,
    /// Set no_new_privs for the process.
    #[arg(long = "no-new-privs")]
    pub no_new_privs: bool,
    /// Pass this many fds after stdio (3, 4, ...) to the process.
    #[arg(long = "preserve-fds", default_value_t = 0)]
    pub preserve_fds: u32,
    /// Run the process even if the container is paused.
    #[arg(long = "ignore-paused")]
    pub ignore_paused: bool,
    /// AppArmor profile for the process.
    #[arg(long = "apparmor")]
    pub apparmor: Option<String>,
    /// SELinux label for the process.
    #[arg(long = "process-label")]
    pub process_label: Option<String>,
    /// Run the process in an (existing) sub-cgroup(s) of the container's:
    /// [<controller>[,<controller>]:]<path> (runc 1.2).
    #[arg(long = "cgroup")]
    pub cgroup: Vec<String>,
    /// Container id.
    pub id: String,
    /// Command and arguments (unless --process is given).
    #[arg(trailing_var_arg = true, allow_hyphen_values = true)]
    pub command: Vec<String>,
}

#[derive(Args, Debug)]
pub struct PsArgs {
    /// Output format: ps(1)'s table, or a JSON array of pids.
    #[arg(short = 'f', long, default_value = "table", value_parser = ["table", "json"])]
    pub format: String,
    /// Container id.
    pub id: String,
    /// Options for ps(1) (default -ef).
    #[arg(trailing_var_arg = true, allow_hyphen_values = true)]
    pub ps_args: Vec<String>,
}

#[derive(Args, Debug)]
pub struct EventsArgs {
    /// Print the statistics once and exit.
    #[arg(long)]
    pub stats: bool,
    /// How often to print statistics (Go duration: 5s, 500ms, 1m).
    #[arg(long, default_value = "5s")]
    pub interval: String,
    /// Container id.
    pub id: String,
}

/// runc's `update` flags; with --resources every other flag is ignored.
#[derive(Args, Debug, Default)]
pub struct UpdateArgs {
    /// JSON LinuxResources from a file, or `-` for stdin.
    #[arg(short = 'r', long)]
    pub resources: Option<String>,
    /// Per cgroup weight, 10 to 1000.
    #[arg(long = "blkio-weight")]
    pub blkio_weight: Option<u16>,
    /// CPU CFS period (µs); 0 leaves it.
    #[arg(long = "cpu-period")]
    pub cpu_period: Option<String>,
    /// CPU CFS quota (µs) per period.
    #[arg(long = "cpu-quota", allow_hyphen_values = true)]
    pub cpu_quota: Option<String>,
    /// CPU shares (relative weight).
    #[arg(long = "cpu-share")]
    pub cpu_share: Option<String>,
    /// Real-time period (µs).
    #[arg(long = "cpu-rt-period")]
    pub cpu_rt_period: Option<String>,
    /// Real-time runtime (µs) per real-time period.
    #[arg(long = "cpu-rt-runtime", allow_hyphen_values = true)]
    pub cpu_rt_runtime: Option<String>,
    /// CPUs to use (cpuset.cpus).
    #[arg(long = "cpuset-cpus")]
    pub cpuset_cpus: Option<String>,
    /// Memory nodes to use (cpuset.mems).
    #[arg(long = "cpuset-mems")]
    pub cpuset_mems: Option<String>,
    /// Ignored with a warning, as in runc 1.1 (kernel memory limits).
    #[arg(long = "kernel-memory", allow_hyphen_values = true)]
    pub kernel_memory: Option<String>,
    /// Ignored with a warning, as in runc 1.1.
    #[arg(long = "kernel-memory-tcp", allow_hyphen_values = true)]
    pub kernel_memory_tcp: Option<String>,
    /// Memory limit (bytes, or 512k, 64m, 1g; -1: none).
    #[arg(long, allow_hyphen_values = true)]
    pub memory: Option<String>,
    /// Memory reservation (soft limit).
    #[arg(long = "memory-reservation", allow_hyphen_values = true)]
    pub memory_reservation: Option<String>,
    /// Memory plus swap limit; -1 for unlimited swap.
    #[arg(long = "memory-swap", allow_hyphen_values = true)]
    pub memory_swap: Option<String>,
    /// Maximum number of pids (-1: none; 0 leaves it).
    #[arg(long = "pids-limit", allow_hyphen_values = true)]
    pub pids_limit: Option<i64>,
    /// Intel RDT/CAT L3 cache schema.
    #[arg(long = "l3-cache-schema")]
    pub l3_cache_schema: Option<String>,
    /// Intel RDT/MBA memory bandwidth schema.
    #[arg(long = "mem-bw-schema")]
    pub mem_bw_schema: Option<String>,
    /// Container id.
    pub id: String,
}

/// The CRIU options `checkpoint` and `restore` share (runc's names).
#[derive(Args, Debug)]
pub struct CriuArgs {
    /// Directory of the checkpoint images (default: ./checkpoint).
    #[arg(long = "image-path")]
    pub image_path: Option<PathBuf>,
    /// Directory for CRIU's log and work files (default: the image path).
    #[arg(long = "work-path")]
    pub work_path: Option<PathBuf>,
    /// Allow open TCP connections.
    #[arg(long = "tcp-established")]
    pub tcp_established: bool,
    /// Allow external unix sockets.
    #[arg(long = "ext-unix-sk")]
    pub ext_unix_sk: bool,
    /// Allow shell jobs.
    #[arg(long = "shell-job")]
    pub shell_job: bool,
    /// Handle file locks.
    #[arg(long = "file-locks")]
    pub file_locks: bool,
    /// Cgroups mode for CRIU: soft, full, strict or ignore (default: CRIU's, soft).
    #[arg(long = "manage-cgroups-mode")]
    pub manage_cgroups_mode: Option<String>,
    /// Create this namespace empty instead of restoring it (network).
    #[arg(long = "empty-ns")]
    pub empty_ns: Option<String>,
    /// Deduplicate the images of a parent checkpoint (CRIU --auto-dedup).
    #[arg(long = "auto-dedup")]
    pub auto_dedup: bool,
    /// Not supported by rt (refused): needs CRIU's lazy-pages daemon.
    #[arg(long = "lazy-pages")]
    pub lazy_pages: bool,
}

#[derive(Args, Debug)]
pub struct CheckpointArgs {
    #[command(flatten)]
    pub criu: CriuArgs,
    /// Images of a previous --pre-dump, relative to --image-path.
    #[arg(long = "parent-path")]
    pub parent_path: Option<PathBuf>,
    /// Leave the container running after the checkpoint.
    #[arg(long = "leave-running")]
    pub leave_running: bool,
    /// Only dump memory (CRIU pre-dump); the container keeps running.
    #[arg(long = "pre-dump")]
    pub pre_dump: bool,
    /// Container id.
    pub id: String,
}

#[derive(Args, Debug)]
pub struct RestoreArgs {
    #[command(flatten)]
    pub criu: CriuArgs,
    /// Bundle directory (default: current directory).
    #[arg(short = 'b', long)]
    pub bundle: Option<PathBuf>,
    /// Do not wait for the restored container.
    #[arg(short = 'd', long)]
    pub detach: bool,
    /// Write the restored init's pid to this file.
    #[arg(long = "pid-file")]
    pub pid_file: Option<PathBuf>,
    /// Accepted for runc compatibility; a container with a terminal is
    /// refused at restore, so there is no pty to send.
    #[arg(long = "console-socket")]
    pub console_socket: Option<PathBuf>,
    /// Do not make rt a child subreaper while it waits.
    #[arg(long = "no-subreaper")]
    pub no_subreaper: bool,
    /// Accepted for runc compatibility: CRIU enters the rootfs itself.
    #[arg(long = "no-pivot")]
    pub no_pivot: bool,
    /// Container id.
    pub id: String,
}

#[derive(Args, Debug)]
pub struct CriuNotifyArgs {
    pub plan: PathBuf,
}
