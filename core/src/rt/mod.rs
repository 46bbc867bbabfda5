//! The runtime seam: everything in core that waits, spawns, talks to the network, runs a child
//! or reads the time goes through one generic parameter `R: Runtime`.
//!
//! Three implementations exist: real tokio + OS processes (`brum::rt`), turmoil and madsim
//! (`brum_sim::rt`). Core names none of them.

mod clock;
mod entropy;
mod hooks;
mod http;
mod net;
mod process;
mod task;

pub use clock::{Clock, Mono};
pub use entropy::{Entropy, SeededRng};
pub use hooks::Hooks;
pub use http::{HYPER_IO_READ_CHUNK, HyperExecutor, HyperIo};
pub use net::{Attempt, ConnectError, Listener, Network, loopback_addrs};
pub use process::{ChildProcess, Exit, ProcessSpec, Processes, Signal};
pub use task::{AbortHandle, BoxFuture, JoinError, Spawner, Task, spawn};

use crate::metrics::Metrics;

/// The bundle of capabilities core is written against. Held by value (`Clone`, with `Arc`s
/// inside); leaf components take the narrowest bound they need instead (`R: Clock`).
pub trait Runtime: Clock + Spawner + Entropy + Network + Processes + Hooks + Clone {
    /// The metrics registry this runtime's components report to (live tasks by name, bus
    /// queue depths, drops...). One per runtime instance, so simulations stay isolated.
    fn metrics(&self) -> &Metrics;
}
