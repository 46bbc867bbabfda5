use std::fmt;
use std::future::Future;
use std::io;
use std::path::PathBuf;

use tokio::io::AsyncRead;

/// What to run. `program` is looked up on `PATH` by the real runtime and in the scripted
/// program table by the simulated ones.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ProcessSpec {
    pub program: String,
    pub args: Vec<String>,
    pub cwd: PathBuf,
    /// Added to (and overriding) the inherited environment.
    pub env: Vec<(String, String)>,
}

impl ProcessSpec {
    pub fn new(program: impl Into<String>) -> Self {
        ProcessSpec { program: program.into(), args: Vec::new(), cwd: PathBuf::from("."), env: Vec::new() }
    }

    pub fn arg(mut self, a: impl Into<String>) -> Self {
        self.args.push(a.into());
        self
    }
}

/// The signals brum sends. Always delivered to the child's whole process group.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Signal {
    Interrupt,
    Terminate,
    Kill,
}

impl Signal {
    /// The conventional Unix number, for display and for `128 + n` exit codes.
    pub fn number(self) -> i32 {
        match self {
            Signal::Interrupt => 2,
            Signal::Terminate => 15,
            Signal::Kill => 9,
        }
    }

    pub fn name(self) -> &'static str {
        match self {
            Signal::Interrupt => "SIGINT",
            Signal::Terminate => "SIGTERM",
            Signal::Kill => "SIGKILL",
        }
    }
}

/// How a child ended. Our own type: `std::process::ExitStatus` cannot be built portably, and a
/// simulated child has none.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, serde::Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Exit {
    Code(i32),
    /// Killed by a signal; the raw number, since a child may die of one brum never sends.
    #[serde(rename = "signal")]
    Signaled(i32),
}

impl Exit {
    pub fn success(self) -> bool {
        self == Exit::Code(0)
    }
}

impl fmt::Display for Exit {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Exit::Code(c) => write!(f, "code {c}"),
            Exit::Signaled(9) => f.write_str("signal SIGKILL"),
            Exit::Signaled(15) => f.write_str("signal SIGTERM"),
            Exit::Signaled(2) => f.write_str("signal SIGINT"),
            Exit::Signaled(n) => write!(f, "signal {n}"),
        }
    }
}

/// A running child in its own process group.
pub trait ChildProcess: Send + 'static {
    type Out: AsyncRead + Unpin + Send + 'static;
    /// The child's pid, which is also its process group id.
    fn pid(&self) -> u32;
    fn take_stdout(&mut self) -> Option<Self::Out>;
    fn take_stderr(&mut self) -> Option<Self::Out>;
    /// Sends `sig` to the child's whole process group (npm and shells spawn grandchildren).
    fn signal(&mut self, sig: Signal) -> io::Result<()>;
    /// Waits for the child itself to exit. Cancel-safe: dropping the future before it
    /// completes leaves the status for the next call, and once it has completed every later
    /// call returns the same status.
    fn wait(&mut self) -> impl Future<Output = io::Result<Exit>> + Send;
}

/// Starts children and signals their process groups.
pub trait Processes: Send + Sync + 'static {
    type Child: ChildProcess;
    /// Starts `spec` as the leader of a new process group. The group is recorded until
    /// [`Processes::release_group`]: by the real runtime's orphan guardian (when it has one),
    /// which kills recorded groups if brum dies; by the simulated table for its I11 checks.
    fn spawn_process(&self, spec: &ProcessSpec) -> io::Result<Self::Child>;
    /// Sends `sig` to process group `pgid`. Used after the leader may already have been
    /// reaped (grandchildren holding the pipes), so it does not need the child handle; the
    /// caller only signals groups it has not released.
    fn signal_group(&self, pgid: u32, sig: Signal) -> io::Result<()>;
    /// The group is finished with (its leader reaped, its pipes at EOF, no member left or
    /// left on purpose): stop tracking it.
    fn release_group(&self, pgid: u32);
    /// Whether process group `pgid` still has a member. Asked after the leader was reaped,
    /// to find what a script left running in the background.
    fn group_alive(&self, pgid: u32) -> bool;
}
