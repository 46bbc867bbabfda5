//! The real runtime: tokio's multi-thread scheduler, OS sockets and OS processes, each child
//! in its own process group.

use std::future::Future;
use std::hash::BuildHasher;
use std::io;
use std::net::SocketAddr;
use std::os::unix::process::ExitStatusExt;
use std::process::Stdio;
use std::sync::{Arc, Mutex};
use std::time::{Duration, SystemTime};

use brum_core::metrics::Metrics;
use brum_core::rt::{
    AbortHandle, BoxFuture, ChildProcess, Clock, Entropy, Exit, Hooks, Listener, Mono, Network, ProcessSpec, Processes,
    Runtime, SeededRng, Signal, Spawner,
};

struct Inner {
    start: tokio::time::Instant,
    metrics: Metrics,
    rng: Mutex<SeededRng>,
    guardian: Option<crate::guardian::Guardian>,
}

/// tokio + the OS. Create it inside a tokio runtime.
#[derive(Clone)]
pub struct TokioRuntime {
    inner: Arc<Inner>,
}

impl std::fmt::Debug for TokioRuntime {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("TokioRuntime")
    }
}

impl TokioRuntime {
    /// Seeds its generator from the OS (through std's randomly keyed hasher).
    pub fn new() -> Self {
        let seed = std::collections::hash_map::RandomState::new().hash_one(std::process::id());
        Self::with_seed(seed)
    }

    pub fn with_seed(seed: u64) -> Self {
        TokioRuntime {
            inner: Arc::new(Inner {
                start: tokio::time::Instant::now(),
                metrics: Metrics::new(),
                rng: Mutex::new(SeededRng::new(seed)),
                guardian: None,
            }),
        }
    }

    /// A runtime whose children's process groups are killed by `guardian` if brum dies.
    pub fn with_guardian(guardian: crate::guardian::Guardian) -> Self {
        let seed = std::collections::hash_map::RandomState::new().hash_one(std::process::id());
        TokioRuntime {
            inner: Arc::new(Inner {
                start: tokio::time::Instant::now(),
                metrics: Metrics::new(),
                rng: Mutex::new(SeededRng::new(seed)),
                guardian: Some(guardian),
            }),
        }
    }
}

impl Default for TokioRuntime {
    fn default() -> Self {
        Self::new()
    }
}

impl Clock for TokioRuntime {
    fn now(&self) -> Mono {
        Mono(self.inner.start.elapsed())
    }

    fn wall(&self) -> SystemTime {
        SystemTime::now()
    }

    fn sleep(&self, d: Duration) -> impl Future<Output = ()> + Send + 'static {
        tokio::time::sleep(d)
    }
}

impl Spawner for TokioRuntime {
    fn spawn_raw(&self, _name: &'static str, fut: BoxFuture) -> AbortHandle {
        let h = tokio::spawn(fut).abort_handle();
        AbortHandle::new(move || h.abort())
    }
}

impl Entropy for TokioRuntime {
    fn next_u64(&self) -> u64 {
        self.inner.rng.lock().unwrap_or_else(|e| e.into_inner()).next_u64()
    }
}

impl Hooks for TokioRuntime {
    fn checkpoint(&self, _at: &'static str) -> impl Future<Output = ()> + Send {
        std::future::ready(())
    }
}

pub struct TcpListener(tokio::net::TcpListener);

impl Listener for TcpListener {
    type Stream = tokio::net::TcpStream;

    fn accept(&self) -> impl Future<Output = io::Result<(Self::Stream, SocketAddr)>> + Send {
        self.0.accept()
    }

    fn local_addr(&self) -> io::Result<SocketAddr> {
        self.0.local_addr()
    }
}

impl Network for TokioRuntime {
    type Stream = tokio::net::TcpStream;
    type Listener = TcpListener;

    async fn bind(&self, addr: SocketAddr) -> io::Result<TcpListener> {
        tokio::net::TcpListener::bind(addr).await.map(TcpListener)
    }

    fn connect(&self, addr: SocketAddr) -> impl Future<Output = io::Result<Self::Stream>> + Send {
        tokio::net::TcpStream::connect(addr)
    }

    /// The OS resolver (getaddrinfo on a blocking thread), in its order.
    async fn resolve(&self, host: &str, port: u16) -> io::Result<Vec<SocketAddr>> {
        Ok(tokio::net::lookup_host((host, port)).await?.collect())
    }
}

/// The size asked for each of a child's output pipes (Linux's default is 64 KiB).
pub const CHILD_PIPE_BYTES: usize = 1024 * 1024;

/// A real child, leader of its own process group.
#[derive(Debug)]
pub struct OsChild {
    child: tokio::process::Child,
    pid: u32,
    /// The write end of the child's stdin, held open and never written: tools that quit when
    /// stdin closes (`esbuild --watch`, `vite` in some modes) keep running, as under a
    /// terminal or concurrently. It closes when the child is reaped or brum exits.
    _stdin: Option<tokio::process::ChildStdin>,
}

fn to_exit(status: std::process::ExitStatus) -> Exit {
    match (status.code(), status.signal()) {
        (Some(c), _) => Exit::Code(c),
        (None, Some(s)) => Exit::Signaled(s),
        // Neither code nor signal: stopped/continued statuses never reach wait().
        (None, None) => Exit::Code(-1),
    }
}

impl ChildProcess for OsChild {
    type Out = Box<dyn tokio::io::AsyncRead + Unpin + Send>;

    fn pid(&self) -> u32 {
        self.pid
    }

    fn take_stdout(&mut self) -> Option<Self::Out> {
        self.child.stdout.take().map(|s| Box::new(s) as Self::Out)
    }

    fn take_stderr(&mut self) -> Option<Self::Out> {
        self.child.stderr.take().map(|s| Box::new(s) as Self::Out)
    }

    fn signal(&mut self, sig: Signal) -> io::Result<()> {
        signal_group(self.pid, sig)
    }

    async fn wait(&mut self) -> io::Result<Exit> {
        self.child.wait().await.map(to_exit)
    }
}

/// A spawn error that names what was missing: the working directory, or the program.
fn explain_spawn_error(e: io::Error, spec: &ProcessSpec) -> io::Error {
    let msg = match e.kind() {
        io::ErrorKind::NotFound if !spec.cwd.is_dir() => {
            format!("working directory `{}` does not exist", spec.cwd.display())
        }
        io::ErrorKind::NotFound => {
            format!("program `{}` not found (is it installed and on PATH?)", spec.program)
        }
        io::ErrorKind::PermissionDenied if !spec.cwd.is_dir() => {
            format!("working directory `{}` is not accessible: {e}", spec.cwd.display())
        }
        io::ErrorKind::PermissionDenied => format!("program `{}` is not executable: {e}", spec.program),
        _ => format!("`{}`: {e}", spec.program),
    };
    io::Error::new(e.kind(), msg)
}

/// How many times [`group_alive`] lists `/proc` looking for a moment when no process appeared
/// before it gives up and answers "alive" (the safe answer: the group stays tracked, and is
/// looked at again later).
const GROUP_SCAN_ROUNDS: usize = 8;

/// Whether process group `pgid` exists: some process, a zombie perhaps, is in it. While it
/// does, its number cannot be given to another process or group, so signalling it is safe.
pub fn group_exists(pgid: u32) -> bool {
    let Some(pid) = i32::try_from(pgid).ok().and_then(rustix::process::Pid::from_raw) else { return false };
    rustix::process::test_kill_process_group(pid).is_ok()
}

/// Whether process group `pgid` has a live member. `kill(-pgid, 0)` answers "no" cheaply; its
/// "yes" also counts zombies, which a container whose PID 1 does not reap keeps for ever (a
/// shell's killed child, reparented to init), so a "yes" is confirmed in `/proc`: some process
/// of the group that is not a zombie.
///
/// One pass over `/proc` is not enough to say "none": a member alive when `/proc` was listed
/// can fork new members (missing from the listing) and exit before its own entry is read, as a
/// script does that starts `cmd &` and ends. So a "none" holds only once a later listing shows
/// no process that the earlier one lacked; the processes new to it are read in turn.
pub fn group_alive(pgid: u32) -> bool {
    let mut seen: Vec<u32> = Vec::new();
    for round in 0..GROUP_SCAN_ROUNDS {
        if !group_exists(pgid) {
            return false;
        }
        let Some(listed) = proc_pids() else { return true };
        let new: Vec<u32> = listed.iter().copied().filter(|p| seen.binary_search(p).is_err()).collect();
        if round > 0 && new.is_empty() {
            // Every process now was there at the last listing, and was read since: not a live
            // member then, and it cannot have become one.
            return false;
        }
        if new.into_iter().any(|n| live_member(n, pgid)) {
            return true;
        }
        seen = listed;
    }
    true
}

/// The processes in `/proc`, sorted; `None` if it cannot be read.
fn proc_pids() -> Option<Vec<u32>> {
    let entries = std::fs::read_dir("/proc").ok()?;
    let mut pids: Vec<u32> =
        entries.flatten().filter_map(|e| e.file_name().to_str().and_then(|n| n.parse::<u32>().ok())).collect();
    pids.sort_unstable();
    Some(pids)
}

/// Whether process `pid` is in group `pgid` and not a zombie (false if it is gone).
fn live_member(pid: u32, pgid: u32) -> bool {
    let Ok(stat) = std::fs::read_to_string(format!("/proc/{pid}/stat")) else { return false };
    // After the command name's closing parenthesis: state, ppid, pgrp.
    let mut rest = stat.rsplit_once(')').map_or("", |(_, r)| r).split_whitespace();
    let state = rest.next().unwrap_or("Z");
    let group = rest.nth(1).and_then(|g| g.parse::<u32>().ok());
    group == Some(pgid) && state != "Z" && state != "X"
}

/// Sends `sig` to process group `pgid`.
pub fn signal_group(pgid: u32, sig: Signal) -> io::Result<()> {
    let pid = i32::try_from(pgid)
        .ok()
        .and_then(rustix::process::Pid::from_raw)
        .ok_or_else(|| io::Error::new(io::ErrorKind::InvalidInput, format!("invalid process group {pgid}")))?;
    let sig = match sig {
        Signal::Interrupt => rustix::process::Signal::INT,
        Signal::Terminate => rustix::process::Signal::TERM,
        Signal::Kill => rustix::process::Signal::KILL,
    };
    rustix::process::kill_process_group(pid, sig).map_err(io::Error::from)
}

impl Processes for TokioRuntime {
    type Child = OsChild;

    fn spawn_process(&self, spec: &ProcessSpec) -> io::Result<OsChild> {
        let mut cmd = tokio::process::Command::new(&spec.program);
        cmd.args(&spec.args)
            .current_dir(&spec.cwd)
            .envs(spec.env.iter().map(|(k, v)| (k, v)))
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .process_group(0);
        if let Some(channel) = self.inner.guardian.as_ref().and_then(|g| g.channel()) {
            // SAFETY: the closure runs in the forked child between fork and exec, where only
            // async-signal-safe calls are allowed: it calls getpid(2) and send(2) on a buffer
            // on the stack, and allocates, locks and panics nothing.
            #[expect(unsafe_code, reason = "pre_exec: the child registers its group before exec")]
            unsafe {
                cmd.pre_exec(move || {
                    crate::guardian::register_self(&channel);
                    Ok(())
                });
            }
        }
        let mut child = cmd.spawn().map_err(|e| explain_spawn_error(e, spec))?;
        let pid = child.id().ok_or_else(|| io::Error::other("child exited before its pid was read"))?;
        if let Some(g) = &self.inner.guardian {
            // The child registered itself before exec; this line also tells brum whether the
            // guardian is still there (a warning if not).
            g.track(pid);
        }
        // Deeper pipes for the child's output: a child blocks less while brum is busy, and
        // each read takes up to `READ_CHUNK_BYTES` at once. Pipe pages are allocated only as
        // they fill, so a quiet child costs nothing. Best effort: a lower system limit
        // (`/proc/sys/fs/pipe-max-size`) keeps the default 64 KiB.
        use std::os::fd::AsFd;
        let fds = [child.stdout.as_ref().map(|p| p.as_fd()), child.stderr.as_ref().map(|p| p.as_fd())];
        for fd in fds.into_iter().flatten() {
            let _ = rustix::pipe::fcntl_setpipe_size(fd, CHILD_PIPE_BYTES);
        }
        let stdin = child.stdin.take();
        Ok(OsChild { child, pid, _stdin: stdin })
    }

    fn signal_group(&self, pgid: u32, sig: Signal) -> io::Result<()> {
        signal_group(pgid, sig)
    }

    fn release_group(&self, pgid: u32) {
        if let Some(g) = &self.inner.guardian {
            g.release(pgid);
        }
    }

    fn group_alive(&self, pgid: u32) -> bool {
        group_alive(pgid)
    }
}

impl Runtime for TokioRuntime {
    fn metrics(&self) -> &Metrics {
        &self.inner.metrics
    }
}
