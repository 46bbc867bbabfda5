//! The session: the composition root every front end stands on (`brum run` today; the MCP
//! server, the proxy, the TUI and the hub next). It owns the event bus, the supervisor, the
//! log service (when asked for one) and the findings store, wires them together once, and
//! shuts them down in the one order that loses nothing:
//!
//! 1. the supervisor stops every process and ends after their readers reached EOF and their
//!    `ProcessExited` went out (so every accepted line is on the bus before step 2);
//! 2. the bus drains its mailboxes (every subscriber, the printer included, gets what was
//!    published);
//! 3. the log service closes (its files are flushed).
//!
//! Like mini-redis's `run(listener, shutdown)`, [`Session::run`] takes the shutdown signal as a
//! future, so the real binary passes Ctrl-C and a simulation passes a timer.
//!
//! Not here yet: the script catalogue (discovery refreshed when a manifest changes, with a
//! `ScriptsChanged` event). Front ends resolve scripts themselves and hand them to the
//! supervisor.

use std::future::Future;
use std::sync::{Arc, Mutex, MutexGuard};

use crate::bus::{Backpressure, BusConfig, Closed, EventBus, EventKind, KindSet, ShutdownReport, SubscribeOptions};
use crate::findings::{Findings, FindingsConfig};
use crate::logs::{LogService, LogSink, LogStoreConfig};
use crate::rt::{Runtime, Task};
use crate::supervisor::{ProcessInfo, Supervisor, SupervisorConfig};

/// Mailbox of the findings subscription: findings are few next to log lines (the kinds it
/// takes exclude `LogLine`), and its handler is a few map operations, so a thousand events
/// absorbs any burst; lossless, because a lost `ProcessExited` would leave a URL behind.
pub const FINDINGS_MAILBOX: usize = 1024;

/// How a session is put together.
pub struct SessionConfig {
    pub bus: BusConfig,
    pub supervisor: SupervisorConfig,
    /// A log service indexing every line, and where it copies them; `None`: no log service.
    pub logs: Option<(LogStoreConfig, Option<Box<dyn LogSink + Send>>)>,
    pub findings: FindingsConfig,
}

/// What a session's shutdown reports.
#[derive(Debug)]
pub struct SessionReport {
    /// Every instance's final state.
    pub processes: Vec<ProcessInfo>,
    /// What the bus delivered, and what it could not.
    pub bus: ShutdownReport,
}

/// The session (see the module documentation).
pub struct Session<R: Runtime> {
    bus: EventBus<R>,
    supervisor: Supervisor<R>,
    dispatcher: Task<()>,
    logs: Option<LogService<R>>,
    findings: Arc<Mutex<Findings>>,
}

impl<R: Runtime> std::fmt::Debug for Session<R> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Session").finish_non_exhaustive()
    }
}

impl<R: Runtime> Session<R> {
    /// Builds the bus, the findings store, the log service and the supervisor, in that order
    /// (subscribers before the first event). Front ends subscribe to [`Session::bus`] before
    /// they start anything.
    pub fn new(rt: R, cfg: SessionConfig) -> Result<Self, Closed> {
        let bus = EventBus::new(rt.clone(), cfg.bus);
        let findings = Arc::new(Mutex::new(Findings::new(cfg.findings)));
        let f = findings.clone();
        let kinds = KindSet::of(&[
            EventKind::ErrorDetected,
            EventKind::UrlDetected,
            EventKind::BuildEvent,
            EventKind::TestResult,
            EventKind::ProcessExited,
            EventKind::SpawnFailed,
        ]);
        bus.subscribe(
            SubscribeOptions::named("findings")
                .lossless()
                .backpressure(Backpressure::Block)
                .capacity(FINDINGS_MAILBOX)
                .kinds(kinds),
            move |env| lock(&f).apply(env),
        )?;
        let logs = match cfg.logs {
            Some((store, sink)) => Some(LogService::attach_with_sink(rt.clone(), &bus, store, sink)?),
            None => None,
        };
        let (supervisor, dispatcher) = Supervisor::new(rt, bus.clone(), cfg.supervisor);
        Ok(Session { bus, supervisor, dispatcher, logs, findings })
    }

    pub fn bus(&self) -> &EventBus<R> {
        &self.bus
    }

    pub fn supervisor(&self) -> &Supervisor<R> {
        &self.supervisor
    }

    pub fn logs(&self) -> Option<&LogService<R>> {
        self.logs.as_ref()
    }

    /// Reads the findings store (its lock is held only for `read`).
    pub fn findings<T>(&self, read: impl FnOnce(&Findings) -> T) -> T {
        read(&lock(&self.findings))
    }

    /// Waits for `shutdown`, then shuts down in order (see the module documentation).
    pub async fn run(self, shutdown: impl Future<Output = ()>) -> SessionReport {
        shutdown.await;
        self.shutdown().await
    }

    /// The ordered shutdown: supervisor, then bus, then log service. The mutant
    /// `session.bus_first` closes the bus first, as a naive teardown would, losing the tail.
    pub async fn shutdown(self) -> SessionReport {
        let bus_first = crate::mutants::active(crate::mutants::SESSION_BUS_FIRST);
        let early = if bus_first { Some(self.bus.shutdown().await) } else { None };
        let processes = self.supervisor.shutdown().await;
        if let Err(e @ crate::rt::JoinError::Panicked { .. }) = self.dispatcher.join().await {
            tracing::error!(error = %e, "supervisor dispatcher panicked");
        }
        let bus = match early {
            Some(r) => r,
            None => self.bus.shutdown().await,
        };
        if let Some(logs) = &self.logs {
            logs.close().await;
        }
        SessionReport { processes, bus }
    }
}

fn lock(m: &Mutex<Findings>) -> MutexGuard<'_, Findings> {
    // Only `apply` and reads run under this lock; a panic in either leaves the maps sound.
    m.lock().unwrap_or_else(|e| e.into_inner())
}
