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
//! The script catalogue is the session's too: [`Session::refresh`] replaces it with a new
//! discovery and publishes `ScriptsChanged` when scripts were added, removed or changed, and
//! [`Session::watch`] re-runs discovery every [`CATALOGUE_POLL`] (through the runtime's clock
//! and a [`ProjectFs`], so a simulation can edit a manifest and see the event).

use std::collections::BTreeMap;
use std::future::Future;
use std::path::PathBuf;
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Duration;

use crate::bus::Event;
use crate::bus::{Backpressure, BusConfig, Closed, EventBus, EventKind, KindSet, ShutdownReport, SubscribeOptions};
use crate::discovery::{Discovery, DiscoveryPrefs, ProjectFs, discover};
use crate::findings::{Findings, FindingsConfig};
use crate::logs::{LogService, LogSink, LogStoreConfig};
use crate::rt::{Runtime, Task};
use crate::script::Script;
use crate::supervisor::{ProcessInfo, Supervisor, SupervisorConfig};

/// Mailbox of the findings subscription: findings are few next to log lines (the kinds it
/// takes exclude `LogLines`), and its handler is a few map operations, so a thousand events
/// absorbs any burst; lossless, because a lost `ProcessExited` would leave a URL behind.
pub const FINDINGS_MAILBOX: usize = 1024;

/// How often a watched catalogue re-runs discovery: a manifest edit shows within a second,
/// and discovery of even a 2,000-package workspace (about 0.2 s) leaves the core mostly idle.
pub const CATALOGUE_POLL: Duration = Duration::from_secs(1);

/// How a session is put together.
pub struct SessionConfig {
    pub bus: BusConfig,
    pub supervisor: SupervisorConfig,
    /// A log service indexing every line, and where it copies them; `None`: no log service.
    pub logs: Option<(LogStoreConfig, Option<Box<dyn LogSink + Send>>)>,
    pub findings: FindingsConfig,
}

/// See [`Session::handle`].
#[derive(Clone)]
pub struct SessionHandle<R: Runtime> {
    pub rt: R,
    pub bus: EventBus<R>,
    pub supervisor: Supervisor<R>,
    pub logs: Option<LogService<R>>,
    findings: Arc<Mutex<Findings>>,
    catalogue: Arc<Mutex<Arc<Discovery>>>,
}

impl<R: Runtime> std::fmt::Debug for SessionHandle<R> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SessionHandle").finish_non_exhaustive()
    }
}

impl<R: Runtime> SessionHandle<R> {
    /// Reads the findings store (errors, URLs, builds, tests) under its lock.
    pub fn findings<T>(&self, read: impl FnOnce(&Findings) -> T) -> T {
        read(&lock(&self.findings))
    }

    /// The current script catalogue.
    pub fn catalogue(&self) -> Arc<Discovery> {
        lock_catalogue(&self.catalogue).clone()
    }

    /// Changes the findings store under its lock (`errors_clear`).
    pub fn findings_mut<T>(&self, change: impl FnOnce(&mut Findings) -> T) -> T {
        change(&mut lock(&self.findings))
    }

    /// Makes `found` the catalogue, as [`Session::refresh`] does (tests and front ends that
    /// hold only a handle).
    pub async fn refresh(&self, found: Discovery) -> Option<ScriptsDiff> {
        replace_catalogue(&self.catalogue, &self.bus, found).await
    }
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
    catalogue: Arc<Mutex<Arc<Discovery>>>,
    watcher: Mutex<Option<Task<()>>>,
    rt: R,
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
        let (supervisor, dispatcher) = Supervisor::new(rt.clone(), bus.clone(), cfg.supervisor);
        Ok(Session {
            bus,
            supervisor,
            dispatcher,
            logs,
            findings,
            catalogue: Arc::new(Mutex::new(Arc::new(Discovery::default()))),
            watcher: Mutex::new(None),
            rt,
        })
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

    /// The current script catalogue.
    /// A cheap, cloneable view of this session for front ends that outlive a borrow (the MCP
    /// tools, one per client): the same bus, supervisor, log service, findings and catalogue.
    /// The session itself still owns the shutdown.
    pub fn handle(&self) -> SessionHandle<R> {
        SessionHandle {
            rt: self.rt.clone(),
            bus: self.bus.clone(),
            supervisor: self.supervisor.clone(),
            logs: self.logs.clone(),
            findings: self.findings.clone(),
            catalogue: self.catalogue.clone(),
        }
    }

    pub fn catalogue(&self) -> Arc<Discovery> {
        lock_catalogue(&self.catalogue).clone()
    }

    /// Makes `found` the catalogue; publishes `ScriptsChanged` when a script was added,
    /// removed or changed (the first catalogue counts as all added). Returns the change.
    pub async fn refresh(&self, found: Discovery) -> Option<ScriptsDiff> {
        replace_catalogue(&self.catalogue, &self.bus, found).await
    }

    /// Re-runs discovery of `root` through `fs` every `every` (see [`CATALOGUE_POLL`]) and
    /// refreshes the catalogue; stopped by [`Session::shutdown`]. A second call replaces the
    /// first watcher.
    pub fn watch(&self, fs: Arc<dyn ProjectFs + Send + Sync>, root: PathBuf, prefs: DiscoveryPrefs, every: Duration) {
        let (rt, bus, catalogue) = (self.rt.clone(), self.bus.clone(), self.catalogue.clone());
        let task = crate::rt::spawn(&self.rt, "session.catalogue", async move {
            loop {
                rt.sleep(every).await;
                let found = discover(&*fs, &root, &prefs);
                replace_catalogue(&catalogue, &bus, found).await;
            }
        });
        if let Some(old) = self.watcher.lock().unwrap_or_else(|e| e.into_inner()).replace(task) {
            old.abort();
        }
    }

    /// Waits for `shutdown`, then shuts down in order (see the module documentation).
    pub async fn run(self, shutdown: impl Future<Output = ()>) -> SessionReport {
        shutdown.await;
        self.shutdown().await
    }

    /// The ordered shutdown: supervisor, then bus, then log service. The mutant
    /// `session.bus_first` closes the bus first, as a naive teardown would, losing the tail.
    pub async fn shutdown(self) -> SessionReport {
        let watcher = self.watcher.lock().unwrap_or_else(|e| e.into_inner()).take();
        if let Some(w) = watcher {
            w.abort();
            let _ = w.join().await;
        }
        let bus_first = crate::mutants::active(crate::mutants::SESSION_BUS_FIRST);
        let early = if bus_first { Some(self.bus.shutdown().await) } else { None };
        let processes = self.supervisor.shutdown().await;
        if let Err(e @ crate::rt::JoinError::Panicked { .. }) = self.dispatcher.join().await {
            tracing::error!(error = %e, "supervisor dispatcher panicked");
        }
        self.rt.checkpoint("session.supervisor_down").await;
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

/// What changed between two catalogues, by script name (each list sorted).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ScriptsDiff {
    pub added: Vec<String>,
    pub removed: Vec<String>,
    pub changed: Vec<String>,
}

impl ScriptsDiff {
    pub fn between(old: &Discovery, new: &Discovery) -> ScriptsDiff {
        let index =
            |d: &Discovery| -> BTreeMap<String, Script> { d.scripts().map(|s| (s.name.clone(), s.clone())).collect() };
        let (old, new) = (index(old), index(new));
        let mut diff = ScriptsDiff::default();
        for (name, script) in &new {
            match old.get(name) {
                None => diff.added.push(name.clone()),
                Some(before) if before != script => diff.changed.push(name.clone()),
                Some(_) => {}
            }
        }
        diff.removed = old.keys().filter(|n| !new.contains_key(*n)).cloned().collect();
        diff
    }

    pub fn is_empty(&self) -> bool {
        self.added.is_empty() && self.removed.is_empty() && self.changed.is_empty()
    }
}

/// Swaps the catalogue (never holding its lock across the publish) and announces the change.
async fn replace_catalogue<R: Runtime>(
    catalogue: &Mutex<Arc<Discovery>>,
    bus: &EventBus<R>,
    found: Discovery,
) -> Option<ScriptsDiff> {
    let diff = {
        let mut current = lock_catalogue(catalogue);
        let diff = ScriptsDiff::between(&current, &found);
        *current = Arc::new(found);
        diff
    };
    if diff.is_empty() || crate::mutants::active(crate::mutants::CATALOGUE_SILENT) {
        return (!diff.is_empty()).then_some(diff);
    }
    let event = Event::ScriptsChanged {
        added: diff.added.clone(),
        removed: diff.removed.clone(),
        changed: diff.changed.clone(),
    };
    let _ = bus.publish(event).await;
    Some(diff)
}

fn lock_catalogue(m: &Mutex<Arc<Discovery>>) -> MutexGuard<'_, Arc<Discovery>> {
    // Only a swap and a clone run under this lock.
    m.lock().unwrap_or_else(|e| e.into_inner())
}

fn lock(m: &Mutex<Findings>) -> MutexGuard<'_, Findings> {
    // Only `apply` and reads run under this lock; a panic in either leaves the maps sound.
    m.lock().unwrap_or_else(|e| e.into_inner())
}
