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
}

/// A real child, leader of its own process group.
#[derive(Debug)]
pub struct OsChild {
    child: tokio::process::Child,
    pid: u32,
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
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .process_group(0);
        let child = cmd.spawn()?;
        let pid = child.id().ok_or_else(|| io::Error::other("child exited before its pid was read"))?;
        if let Some(g) = &self.inner.guardian {
            g.track(pid);
        }
        Ok(OsChild { child, pid })
    }

    fn signal_group(&self, pgid: u32, sig: Signal) -> io::Result<()> {
        signal_group(pgid, sig)
    }

    fn release_group(&self, pgid: u32) {
        if let Some(g) = &self.inner.guardian {
            g.release(pgid);
        }
    }
}

impl Runtime for TokioRuntime {
    fn metrics(&self) -> &Metrics {
        &self.inner.metrics
    }
}
