//! The process supervisor: one dispatcher loop owns every process's state; callers talk to it
//! through a bounded mailbox and read status from a snapshot it republishes on every change.
//!
//! Guarantees (each has a simulation oracle in brum-sim; the real-process ones also have
//! end-to-end tests in brum-tests):
//! - legal transitions only: `pending -> running -> stopping -> stopped`, `pending -> failed`
//!   (the spawn failed: `start` returns the error and `SpawnFailed` is published),
//!   `running -> {exited | failed}`; terminal states are absorbing;
//! - a user stop that reaches the dispatcher before the terminal transition wins: the
//!   instance ends `stopped`, whatever its exit status; a stop (stop-all, kill-all) that lands while
//!   a restart waits for the instance to end cancels the restart (it answers
//!   `RestartCancelled`), so no generation outlives a stop that returned;
//! - exactly one `ProcessExited` per started instance, published only after both output
//!   streams hit EOF and `wait()` returned, so it follows every `LogLine` of that instance on
//!   the bus (one exception: if something outside the group still holds the pipes
//!   `EOF_AFTER_KILL` after SIGKILL, the readers are stopped and the instance ends anyway);
//! - every start creates a new instance with a new id; timers and kills carry the instance
//!   they were issued for and are ignored for any other (a late kill never hits a restart);
//! - one running instance per script: a second start returns the running instance unless
//!   forced;
//! - stop = SIGTERM to the process group, SIGKILL after the grace period;
//! - a spawn that fails publishes `SpawnFailed` (and `start` returns the error);
//! - when an instance ends, whatever it left running in its group is stopped too (SIGTERM,
//!   SIGKILL after the grace), unless [`Leftovers::Keep`]; groups are released (no longer
//!   tracked by the orphan guardian) only once they are empty.

mod dispatch;
mod output;

use std::fmt;
use std::sync::Arc;
use std::time::Duration;

use tokio::sync::{mpsc, oneshot, watch};

use crate::bus::{EventBus, ProcessRef};
use crate::rt::{Exit, Runtime, Task, spawn};
use crate::script::{RestartLimits, Script};

/// Requests queued for the dispatcher. Callers wait when it is full; 256 is far above the
/// burst an agent or the TUI produces, and reader tasks only send one EOF per stream.
pub const SUPERVISOR_MAILBOX: usize = 256;

/// Bytes read from a child's pipe per read call, and so the most text one batch of lines
/// starts from. The real runtime asks for 1 MiB pipes, so a child that floods fills four reads
/// before it blocks; the fewer, larger reads cost fewer wake-ups per line. A quiet child's read
/// touches only the pages its output fills.
pub const READ_CHUNK_BYTES: usize = 256 * 1024;

/// Reads a stream's reading stage may run ahead of its detecting and publishing stage (each
/// at most `READ_CHUNK_BYTES` of text), so a stream holds at most about 1 MiB in flight.
pub const DETECT_QUEUE_READS: usize = 4;

/// Lifecycle events (`ProcessStarted`, `SpawnFailed`, `ProcessExited`) decided by the
/// dispatcher and not yet published. The dispatcher never waits on the bus: it hands them, in
/// order, to its publisher task, so a stop is never slower than the slowest subscriber. Three
/// events per instance at most, so 65,536 is far beyond any backlog short of a subscriber
/// stuck for tens of thousands of starts; past it the newest events are dropped and counted in
/// `supervisor.outbox_dropped`.
pub const SUPERVISOR_OUTBOX_MAX: usize = 65_536;

/// After SIGKILL to what an ended instance left in its group, how often to look whether the
/// group is empty before releasing it (no longer tracked by the orphan guardian): SIGKILL is
/// delivered when the kernel gets to it, so a group is released only once seen empty. The
/// orphan guardian polls at the same pace.
pub const LEFTOVERS_RECHECK: Duration = Duration::from_millis(20);

/// After SIGKILL, how long to wait for the pipes to reach EOF before declaring the instance
/// ended anyway: a process that left the group (setsid) may hold them open forever.
pub const EOF_AFTER_KILL: Duration = Duration::from_secs(2);

/// Supervisor settings (from the `[concurrency]` config section).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SupervisorConfig {
    /// SIGTERM to SIGKILL.
    pub stop_grace: Duration,
    pub restart: RestartLimits,
    /// Longer lines are split; the config key `log_max_line_bytes`.
    pub max_line_bytes: usize,
    /// Lines one `LogLines` event holds at most; the config key `log_batch_lines`.
    pub batch_lines: usize,
    /// Ask children for colour (`FORCE_COLOR=1`, `CLICOLOR_FORCE=1`) because the user will see
    /// their output in a terminal.
    pub force_colour: bool,
    /// What happens to processes an instance leaves in its group when it ends.
    pub leftovers: Leftovers,
}

/// What happens to the members of an instance's process group still running when the
/// instance has ended (its leader exited and its output reached EOF): background jobs a
/// shell script started with `&` and redirected away from brum's pipes. Members that still
/// hold the pipes keep the instance running (their output is still shown) until they exit
/// or the instance is stopped.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, serde::Serialize, strum::IntoStaticStr, strum::EnumString)]
#[serde(rename_all = "snake_case")]
#[strum(serialize_all = "snake_case")]
pub enum Leftovers {
    /// SIGTERM to the group, SIGKILL after the stop grace: nothing a script started outlives it.
    #[default]
    Stop,
    /// Leave them running until brum exits; brum (or its orphan guardian) stops them then.
    Keep,
}

impl Leftovers {
    pub fn name(self) -> &'static str {
        self.into()
    }

    pub fn parse(s: &str) -> Option<Self> {
        s.parse().ok()
    }
}

impl Default for SupervisorConfig {
    fn default() -> Self {
        SupervisorConfig {
            stop_grace: Duration::from_secs(5),
            restart: RestartLimits {
                max_restarts: 5,
                backoff: Duration::from_millis(500),
                backoff_max: Duration::from_secs(30),
            },
            max_line_bytes: 64 * 1024,
            batch_lines: crate::lines::BATCH_LINES_DEFAULT,
            force_colour: false,
            leftovers: Leftovers::Stop,
        }
    }
}

/// The lifecycle of one instance.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "snake_case", tag = "state")]
pub enum ProcState {
    Pending,
    Running,
    Stopping,
    /// Ended after a user stop.
    Stopped {
        exit: Option<Exit>,
    },
    /// Ended on its own with code 0.
    Exited,
    /// Ended on its own with a non-zero code or a signal, or never started.
    Failed {
        exit: Option<Exit>,
    },
}

impl ProcState {
    pub fn is_terminal(self) -> bool {
        matches!(self, ProcState::Stopped { .. } | ProcState::Exited | ProcState::Failed { .. })
    }

    pub fn name(self) -> &'static str {
        match self {
            ProcState::Pending => "pending",
            ProcState::Running => "running",
            ProcState::Stopping => "stopping",
            ProcState::Stopped { .. } => "stopped",
            ProcState::Exited => "exited",
            ProcState::Failed { .. } => "failed",
        }
    }
}

impl fmt::Display for ProcState {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ProcState::Stopped { exit: Some(e) } | ProcState::Failed { exit: Some(e) } => {
                write!(f, "{} ({e})", self.name())
            }
            _ => f.write_str(self.name()),
        }
    }
}

/// One instance, as the status snapshot shows it.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct ProcessInfo {
    pub id: u64,
    pub script: String,
    pub pid: Option<u32>,
    pub state: ProcState,
    /// Consecutive automatic restarts that led to this instance.
    pub restarts: u32,
    pub started_ms: u64,
    pub ended_ms: Option<u64>,
    pub error: Option<String>,
    /// Ended, and its restart policy has a new instance coming after the backoff.
    pub restart_scheduled: bool,
}

/// Why a request failed.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SupervisorError {
    #[error("failed to spawn script `{script}`: {message}")]
    Spawn { script: String, message: String },
    #[error("no process `{target}`")]
    NotFound { target: String },
    #[error("the supervisor is shut down")]
    ShutDown,
    /// A stop reached the instance while its restart waited for it to end: the stop wins and
    /// the replacement is not started.
    #[error("restart of `{script}` cancelled by a stop")]
    RestartCancelled { script: String },
}

/// What `start` did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Started {
    New(ProcessRef),
    /// The script was already running; not started again.
    AlreadyRunning(ProcessRef),
}

impl Started {
    pub fn process(&self) -> &ProcessRef {
        match self {
            Started::New(p) | Started::AlreadyRunning(p) => p,
        }
    }
}

/// Which instance(s) a request is about: an instance id, or the current instance of a
/// script name.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Target {
    Id(u64),
    Script(String),
}

impl fmt::Display for Target {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Target::Id(i) => write!(f, "#{i}"),
            Target::Script(s) => f.write_str(s),
        }
    }
}

pub(crate) type Reply<T> = oneshot::Sender<Result<T, SupervisorError>>;

pub(crate) enum Request {
    Start {
        script: Box<Script>,
        force: bool,
        reply: Reply<Started>,
    },
    /// Replies when the instance is terminal.
    Stop {
        target: Target,
        reply: Reply<ProcessInfo>,
    },
    Restart {
        target: Target,
        reply: Reply<Started>,
    },
    StopAll {
        reply: Reply<Vec<ProcessInfo>>,
    },
    Shutdown {
        reply: Reply<Vec<ProcessInfo>>,
    },
    /// SIGKILL now to every instance still running and every group with leftovers (a second
    /// Ctrl-C); replies with the instances it signalled.
    KillAll {
        reply: Reply<Vec<ProcessInfo>>,
    },
}

/// The handle. Cheap to clone.
pub struct Supervisor<R: Runtime> {
    tx: mpsc::Sender<dispatch::Msg>,
    status: watch::Receiver<Arc<Vec<ProcessInfo>>>,
    _rt: std::marker::PhantomData<R>,
}

impl<R: Runtime> Clone for Supervisor<R> {
    fn clone(&self) -> Self {
        Supervisor { tx: self.tx.clone(), status: self.status.clone(), _rt: std::marker::PhantomData }
    }
}

impl<R: Runtime> fmt::Debug for Supervisor<R> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Supervisor").finish_non_exhaustive()
    }
}

impl<R: Runtime> Supervisor<R> {
    /// Spawns the dispatcher. The returned task ends after [`Supervisor::shutdown`].
    pub fn new(rt: R, bus: EventBus<R>, cfg: SupervisorConfig) -> (Self, Task<()>) {
        let (tx, rx) = mpsc::channel(SUPERVISOR_MAILBOX);
        let (status_tx, status) = watch::channel(Arc::new(Vec::new()));
        let d = dispatch::Dispatcher::new(rt.clone(), bus, cfg, tx.clone(), status_tx);
        let task = spawn(&rt, "supervisor.dispatch", d.run(rx));
        (Supervisor { tx, status, _rt: std::marker::PhantomData }, task)
    }

    async fn ask<T>(&self, make: impl FnOnce(Reply<T>) -> Request) -> Result<T, SupervisorError> {
        let (reply, rx) = oneshot::channel();
        self.tx.send(dispatch::Msg::Request(make(reply))).await.map_err(|_| SupervisorError::ShutDown)?;
        rx.await.map_err(|_| SupervisorError::ShutDown)?
    }

    /// Starts `script`, or returns its running instance unless `force`.
    pub async fn start(&self, script: Script, force: bool) -> Result<Started, SupervisorError> {
        self.ask(|reply| Request::Start { script: Box::new(script), force, reply }).await
    }

    /// Stops the target and waits until it has ended; returns its final status.
    pub async fn stop(&self, target: Target) -> Result<ProcessInfo, SupervisorError> {
        self.ask(|reply| Request::Stop { target, reply }).await
    }

    /// Stops the target (if running) and starts its script again, once it has ended, unless a
    /// stop of it lands meanwhile ([`SupervisorError::RestartCancelled`]).
    pub async fn restart(&self, target: Target) -> Result<Started, SupervisorError> {
        self.ask(|reply| Request::Restart { target, reply }).await
    }

    /// Stops every running instance; waits until all have ended.
    pub async fn stop_all(&self) -> Result<Vec<ProcessInfo>, SupervisorError> {
        self.ask(|reply| Request::StopAll { reply }).await
    }

    /// Sends SIGKILL at once to every instance that has not ended (a second Ctrl-C: do not
    /// wait for the grace period), and to what ended instances left behind. Returns the
    /// instances signalled; their ends are reported as usual.
    pub async fn kill_all(&self) -> Result<Vec<ProcessInfo>, SupervisorError> {
        self.ask(|reply| Request::KillAll { reply }).await
    }

    /// Restarts every script that has a running instance.
    pub async fn restart_all(&self) -> Result<Vec<Started>, SupervisorError> {
        let running: Vec<String> = self
            .status()
            .iter()
            .filter(|p| matches!(p.state, ProcState::Running | ProcState::Pending))
            .map(|p| p.script.clone())
            .collect();
        let mut out = Vec::new();
        for s in running {
            out.push(self.restart(Target::Script(s)).await?);
        }
        Ok(out)
    }

    /// Stops everything, waits for it, and ends the dispatcher. Idempotent.
    pub async fn shutdown(&self) -> Vec<ProcessInfo> {
        match self.ask(|reply| Request::Shutdown { reply }).await {
            Ok(v) => v,
            Err(_) => self.status().as_ref().clone(),
        }
    }

    /// Every instance, newest last. Never waits on the dispatcher (a snapshot it republishes
    /// after each change), so it answers even while a stop or kill is in flight.
    pub fn status(&self) -> Arc<Vec<ProcessInfo>> {
        self.status.borrow().clone()
    }

    /// Waits until the status snapshot changes.
    pub async fn changed(&mut self) -> bool {
        self.status.changed().await.is_ok()
    }
}
