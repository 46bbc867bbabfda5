//! Simulated runtimes. [`SimRuntime`] implements brum-core's `Runtime` once, over a small
//! [`SimBackend`] (clock, spawn, sockets) that turmoil and madsim each provide. Both share the
//! seeded scheduling noise, the metrics registry and the [`SimProcessTable`].

#[cfg(madsim)]
mod madsim_backend;
mod turmoil_backend;

use std::future::Future;
use std::io;
use std::net::SocketAddr;
use std::pin::Pin;
use std::sync::{Arc, Mutex};
use std::time::{Duration, SystemTime};

use brum_core::metrics::Metrics;
use brum_core::rt::{
    AbortHandle, BoxFuture, Clock, Entropy, Hooks, Listener, Mono, Network, ProcessSpec, Processes, Runtime, SeededRng,
    Spawner,
};
use brum_core::util::yield_now;

use crate::faults::{AtCheckpoint, Faults, UntilCrash};
use crate::procs::{SimChild, SimProcessTable, SimSched};

#[cfg(madsim)]
pub use madsim_backend::{Madsim, MadsimStream};
pub use turmoil_backend::Turmoil;

/// The wall-clock epoch of every simulation: fixed, so traces never carry today's date.
pub const SIM_EPOCH_SECS: u64 = 1_767_225_600; // 2026-01-01T00:00:00Z

/// What a simulator must provide.
pub trait SimBackend: Send + Sync + 'static {
    type Stream: tokio::io::AsyncRead + tokio::io::AsyncWrite + Unpin + Send + 'static;
    type Listener: Listener<Stream = Self::Stream>;
    fn elapsed(&self) -> Duration;
    fn sleep(&self, d: Duration) -> Pin<Box<dyn Future<Output = ()> + Send + 'static>>;
    fn spawn(&self, fut: BoxFuture) -> AbortHandle;
    fn bind(&self, addr: SocketAddr) -> impl Future<Output = io::Result<Self::Listener>> + Send;
    fn connect(&self, addr: SocketAddr) -> impl Future<Output = io::Result<Self::Stream>> + Send;
    /// The simulator's own host names (`localhost` and IP literals never get here).
    fn resolve(&self, host: &str, port: u16) -> impl Future<Output = io::Result<Vec<SocketAddr>>> + Send;
}

/// How much seeded scheduling noise to add. turmoil never reorders tasks within a host, so
/// this is the only source of interleavings there; madsim adds its own random scheduling.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Noise {
    /// A spawned task yields `0..=spawn_yields` times (seeded) before its first poll.
    pub spawn_yields: u64,
    /// A `Hooks::checkpoint` yields `0..=checkpoint_yields` times (seeded).
    pub checkpoint_yields: u64,
}

impl Default for Noise {
    fn default() -> Self {
        Noise { spawn_yields: 3, checkpoint_yields: 2 }
    }
}

struct Shared<B> {
    backend: B,
    rng: Mutex<SeededRng>,
    noise: Noise,
    metrics: Metrics,
    procs: SimProcessTable,
    faults: Arc<Faults>,
}

/// A simulated runtime. Construct it inside the simulation (turmoil client/host or madsim
/// `block_on`): its clock starts there.
pub struct SimRuntime<B: SimBackend> {
    shared: Arc<Shared<B>>,
}

impl<B: SimBackend> Clone for SimRuntime<B> {
    fn clone(&self) -> Self {
        SimRuntime { shared: self.shared.clone() }
    }
}

impl<B: SimBackend> std::fmt::Debug for SimRuntime<B> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("SimRuntime")
    }
}

/// The process table's view of the runtime (a weak link would do; the table never outlives
/// the simulation, and the cycle is broken when the simulation drops its tasks).
struct Sched<B: SimBackend>(Arc<B>);

impl<B: SimBackend> SimSched for Sched<B> {
    fn sleep(&self, d: Duration) -> Pin<Box<dyn Future<Output = ()> + Send>> {
        self.0.sleep(d)
    }
    fn spawn(&self, _name: &'static str, fut: Pin<Box<dyn Future<Output = ()> + Send>>) {
        let _ = self.0.spawn(fut);
    }
}

impl<B: SimBackend + Clone> SimRuntime<B> {
    pub fn new(backend: B, seed: u64, noise: Noise) -> Self {
        let procs = SimProcessTable::new(seed, Arc::new(Sched(Arc::new(backend.clone()))));
        SimRuntime {
            shared: Arc::new(Shared {
                backend,
                rng: Mutex::new(SeededRng::new(seed)),
                noise,
                metrics: Metrics::new(),
                procs,
                faults: Arc::default(),
            }),
        }
    }
}

impl<B: SimBackend> SimRuntime<B> {
    pub fn processes(&self) -> &SimProcessTable {
        &self.shared.procs
    }

    /// The run's fault plan (`crate::faults`): empty until a scenario sets it.
    pub fn faults(&self) -> &Arc<Faults> {
        &self.shared.faults
    }

    fn draw(&self, max: u64) -> u64 {
        if max == 0 {
            return 0;
        }
        self.shared.rng.lock().unwrap_or_else(|e| e.into_inner()).below(max + 1)
    }
}

impl<B: SimBackend> Clock for SimRuntime<B> {
    fn now(&self) -> Mono {
        Mono(self.shared.backend.elapsed())
    }

    fn wall(&self) -> SystemTime {
        let elapsed = self.shared.backend.elapsed();
        let true_wall = SystemTime::UNIX_EPOCH + Duration::from_secs(SIM_EPOCH_SECS) + elapsed;
        // A jumped or drifting clock (`Faults`); never before the Unix epoch.
        let offset = self.shared.faults.wall_offset(elapsed);
        let magnitude = Duration::from_nanos(offset.unsigned_abs().min(u64::MAX as u128) as u64);
        if offset >= 0 {
            true_wall + magnitude
        } else {
            true_wall.checked_sub(magnitude).unwrap_or(SystemTime::UNIX_EPOCH)
        }
    }

    fn sleep(&self, d: Duration) -> impl Future<Output = ()> + Send + 'static {
        self.shared.backend.sleep(d)
    }
}

impl<B: SimBackend> Spawner for SimRuntime<B> {
    fn spawn_raw(&self, _name: &'static str, fut: BoxFuture) -> AbortHandle {
        let yields = self.draw(self.shared.noise.spawn_yields);
        let fut = Box::pin(async move {
            for _ in 0..yields {
                yield_now().await;
            }
            fut.await
        });
        // Every brum task stops for good when brum crashes (`Faults::crash_at`).
        self.shared.backend.spawn(Box::pin(UntilCrash { fut, faults: self.shared.faults.clone() }))
    }
}

impl<B: SimBackend> Entropy for SimRuntime<B> {
    fn next_u64(&self) -> u64 {
        self.shared.rng.lock().unwrap_or_else(|e| e.into_inner()).next_u64()
    }
}

impl<B: SimBackend> Hooks for SimRuntime<B> {
    fn checkpoint(&self, at: &'static str) -> impl Future<Output = ()> + Send {
        // After a spawn: the exec time of a program that asked for one (`Program::slow_exec`),
        // and nothing else, not even the seeded yields (no draw, so schedules stay as they were).
        let (exec, yields) = if at == "supervisor.spawn" {
            (self.shared.procs.take_exec_delay().map(|d| self.shared.backend.sleep(d)), 0)
        } else {
            (None, self.draw(self.shared.noise.checkpoint_yields))
        };
        let action = self.shared.faults.on_checkpoint(at);
        let delay = match action {
            AtCheckpoint::Delay(d) => Some(self.shared.backend.sleep(d)),
            _ => None,
        };
        async move {
            if action == AtCheckpoint::Crash {
                // brum crashed here: this task, like every other of brum's, never runs again.
                std::future::pending::<()>().await;
            }
            if let Some(exec) = exec {
                exec.await;
            }
            for _ in 0..yields {
                yield_now().await;
            }
            if let Some(delay) = delay {
                delay.await;
            }
        }
    }
}

impl<B: SimBackend> Network for SimRuntime<B> {
    type Stream = B::Stream;
    type Listener = B::Listener;

    fn bind(&self, addr: SocketAddr) -> impl Future<Output = io::Result<Self::Listener>> + Send {
        self.shared.backend.bind(addr)
    }

    fn connect(&self, addr: SocketAddr) -> impl Future<Output = io::Result<Self::Stream>> + Send {
        self.shared.backend.connect(addr)
    }

    fn resolve(&self, host: &str, port: u16) -> impl Future<Output = io::Result<Vec<SocketAddr>>> + Send {
        self.shared.backend.resolve(host, port)
    }
}

impl<B: SimBackend> Processes for SimRuntime<B> {
    type Child = SimChild;

    fn spawn_process(&self, spec: &ProcessSpec) -> io::Result<SimChild> {
        self.shared.procs.spawn(spec)
    }

    fn signal_group(&self, pgid: u32, sig: brum_core::rt::Signal) -> io::Result<()> {
        self.shared.procs.signal_group(pgid, sig)
    }

    fn release_group(&self, pgid: u32) {
        self.shared.procs.release_group(pgid);
    }

    fn group_alive(&self, pgid: u32) -> bool {
        self.shared.procs.group_alive(pgid)
    }
}

impl<B: SimBackend> Runtime for SimRuntime<B> {
    fn metrics(&self) -> &Metrics {
        &self.shared.metrics
    }
}

/// The turmoil-backed runtime.
pub type TurmoilRuntime = SimRuntime<Turmoil>;
/// The madsim-backed runtime (only in `--cfg madsim` builds).
#[cfg(madsim)]
pub type MadsimRuntime = SimRuntime<Madsim>;
