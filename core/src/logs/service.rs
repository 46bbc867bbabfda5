//! The log store fed from the bus: a lossless subscription (`block` with no timeout) appends
//! every `LogLines` batch, so no accepted line is lost: a slow store slows the readers, and through
//! their pipes the children. Readers query the same store. The store sits behind a mutex held
//! only for one synchronous append or query, never across an await or a send. The one call
//! made under it is the persistence sink's `write` (a buffered file write; a named exception in
//! ARCHITECTURE.md), so the files hold exactly the store's order.

use std::collections::{BTreeMap, BTreeSet};
use std::sync::{Arc, Mutex, MutexGuard};

use super::{
    AppendError, Filter, LogEntry, LogSink, LogStore, LogStoreConfig, LogStoreStats, Page, ProcessFilter, Query,
};
use crate::bus::{Closed, Event, EventBus, EventKind, KindSet, SubscribeOptions, SubscriptionId};
use crate::metrics::Counter;
use crate::rt::Runtime;

/// Mailbox of the store's subscription: batches of lines waiting to be appended (each about
/// [`crate::lines::BATCH_BYTES_MAX`] of text at most, so about 16 MiB in all). Deep enough to
/// ride out a search holding the lock for a few milliseconds during a flood (a flood's batches
/// are thousands of lines each).
pub const LOG_SERVICE_MAILBOX: usize = 128;

struct State {
    store: LogStore,
    /// Where accepted lines are copied (rotating files), if persistence is on.
    sink: Option<Box<dyn LogSink + Send>>,
    /// Instance ids seen per script name (for generation-scoped clears).
    instances: BTreeMap<String, BTreeSet<u64>>,
    /// Per script name: instances up to this id were cleared; their late lines are dropped.
    cleared_through: BTreeMap<String, u64>,
}

/// A page read forward from a cursor.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ForwardPage {
    /// Oldest first.
    pub entries: Vec<LogEntry>,
    /// More selected entries follow these.
    pub more: bool,
    /// Entries (of every process: ids are store-wide) from the cursor on that were evicted or
    /// cleared before this read: a reader that fell behind the budget learns what it lost.
    pub missed: u64,
}

/// The bus-fed log store. Cheap to clone.
pub struct LogService<R: Runtime> {
    state: Arc<Mutex<State>>,
    bus: EventBus<R>,
    sub: SubscriptionId,
    late_after_clear: Counter,
    /// `logs.sink_errors`: failed sink writes and flushes (the lines stay in memory).
    sink_errors: Counter,
}

impl<R: Runtime> Clone for LogService<R> {
    fn clone(&self) -> Self {
        LogService {
            state: self.state.clone(),
            bus: self.bus.clone(),
            sub: self.sub,
            late_after_clear: self.late_after_clear.clone(),
            sink_errors: self.sink_errors.clone(),
        }
    }
}

impl<R: Runtime> std::fmt::Debug for LogService<R> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("LogService").finish_non_exhaustive()
    }
}

fn lock(m: &Mutex<State>) -> MutexGuard<'_, State> {
    // Only synchronous store calls run under this lock; a poisoned lock means one of them
    // panicked on a broken invariant, and the store's own checks will say so on the next call.
    m.lock().unwrap_or_else(|e| e.into_inner())
}

impl<R: Runtime> LogService<R> {
    /// Subscribes a new store to `bus`.
    pub fn attach(rt: R, bus: &EventBus<R>, cfg: LogStoreConfig) -> Result<Self, Closed> {
        Self::attach_with_sink(rt, bus, cfg, None)
    }

    /// Subscribes a new store to `bus`, copying every accepted line to `sink` in store order
    /// (a sink error is counted in `logs.sink_errors`; the line stays in memory).
    pub fn attach_with_sink(
        rt: R,
        bus: &EventBus<R>,
        cfg: LogStoreConfig,
        sink: Option<Box<dyn LogSink + Send>>,
    ) -> Result<Self, Closed> {
        Self::attach_with_mailbox(rt, bus, cfg, sink, LOG_SERVICE_MAILBOX)
    }

    /// [`LogService::attach_with_sink`] with a mailbox of `mailbox` batches instead of
    /// [`LOG_SERVICE_MAILBOX`]: the simulation shrinks it so that a burst keeps it full and
    /// its publishers wait (race S-L2).
    pub fn attach_with_mailbox(
        rt: R,
        bus: &EventBus<R>,
        cfg: LogStoreConfig,
        sink: Option<Box<dyn LogSink + Send>>,
        mailbox: usize,
    ) -> Result<Self, Closed> {
        let sink_errors = rt.metrics().counter("logs.sink_errors", "");
        let flush_errors = sink_errors.clone();
        let state = Arc::new(Mutex::new(State {
            store: LogStore::new(cfg),
            sink,
            instances: BTreeMap::new(),
            cleared_through: BTreeMap::new(),
        }));
        let late_after_clear = rt.metrics().counter("logs.dropped", "after_clear");
        let rejected = rt.metrics().counter("logs.dropped", "closed");
        let too_many = rt.metrics().counter("logs.dropped", "too_many_processes");
        let (s, late) = (state.clone(), late_after_clear.clone());
        // Only the mutant `logs.wall_clock` reads these: where both clocks stood at the start.
        let (start_mono, start_wall) = (rt.now(), rt.wall());
        let sub = bus.subscribe(
            SubscribeOptions::named("logstore")
                .lossless()
                .capacity(mailbox.max(1))
                .kinds(KindSet::of(&[EventKind::LogLines])),
            move |env| {
                let Event::LogLines { process, stream, lines } = &env.event else { return };
                let mut st = lock(&s);
                if st.cleared_through.get(&*process.name).is_some_and(|g| process.id.0 <= *g) {
                    late.add(lines.len() as u64);
                    return;
                }
                st.instances.entry(process.name.to_string()).or_default().insert(process.id.0);
                let State { store, sink, .. } = &mut *st;
                // The whole batch under this one lock; each line keeps its own entry.
                let wall = rt.wall();
                let at = if crate::mutants::active(crate::mutants::LOGS_WALL_CLOCK) {
                    // The mutant: time since the start, by the wall clock.
                    start_mono + wall.duration_since(start_wall).unwrap_or_default()
                } else {
                    env.at
                };
                let appended = store.append_batch(process, *stream, at, wall, lines, |entry| {
                    if let Some(sink) = sink.as_mut()
                        && sink.write(entry).is_err()
                    {
                        sink_errors.inc();
                    }
                });
                match appended {
                    Ok(_) => {}
                    Err(AppendError::Closed) => rejected.add(lines.len() as u64),
                    Err(AppendError::TooManyProcesses { .. }) => too_many.add(lines.len() as u64),
                }
            },
        )?;
        Ok(LogService { state, bus: bus.clone(), sub, late_after_clear, sink_errors: flush_errors })
    }

    /// Searches a snapshot of the store: the lock is held only to take it (at most one
    /// chunk's copy, see [`super::LogStore::snapshot`]), so however long the scan runs, appends
    /// are not held up by it. Lines accepted during the scan are not in the page; its cursor
    /// still pages back through older lines.
    pub fn search(&self, q: &Query) -> Result<Page, super::SearchError> {
        self.snapshot().search(q)
    }

    /// A read-only copy of the store to run several queries on without the lock (see
    /// [`super::LogStore::snapshot`]).
    pub fn snapshot(&self) -> LogStore {
        lock(&self.state).store.snapshot()
    }

    /// Counts matches in a snapshot, as [`LogService::search`] searches one.
    pub fn count(&self, q: &Query) -> Result<u64, super::SearchError> {
        self.snapshot().count(q)
    }

    pub fn tail(&self, filter: &Filter, n: usize) -> Vec<LogEntry> {
        lock(&self.state).store.tail(filter, n)
    }

    /// A forward page from `from` (see [`super::LogStore::forward`]), with how many entries
    /// from `from` on are no longer held.
    pub fn forward(&self, filter: &Filter, from: super::EntryId, limit: usize) -> ForwardPage {
        let st = lock(&self.state);
        let (entries, more) = st.store.forward(filter, from, limit);
        let oldest = st.store.oldest_id().map_or(st.store.stats().next_id, |id| id.0);
        ForwardPage { entries, more, missed: oldest.saturating_sub(from.0) }
    }

    /// Every held entry, oldest first.
    pub fn entries(&self) -> Vec<LogEntry> {
        lock(&self.state).store.iter().map(|e| e.to_entry()).collect()
    }

    pub fn stats(&self) -> LogStoreStats {
        lock(&self.state).store.stats()
    }

    /// Clears the lines of script `name`'s instances up to and including `through` (a
    /// generation), and drops their lines that arrive later; newer instances are untouched.
    /// Returns the entries removed.
    pub fn clear_generations(&self, name: &str, through: u64) -> u64 {
        let mut st = lock(&self.state);
        // The mutant clears what is stored and forgets the generation: its lines still in
        // flight land after the clear.
        if !crate::mutants::active(crate::mutants::CLEAR_FORGETS_GENERATION) {
            st.cleared_through.insert(name.to_string(), through);
        }
        let ids: Vec<u64> = st.instances.get(name).map(|s| s.range(..=through).copied().collect()).unwrap_or_default();
        ids.iter().map(|id| st.store.clear(Some(&ProcessFilter::Id(*id)))).sum()
    }

    /// Lines dropped because their generation had been cleared.
    pub fn dropped_after_clear(&self) -> u64 {
        self.late_after_clear.get()
    }

    /// Stops feeding the store (waiting for an append in flight) and closes it: later appends
    /// fail. Call after the bus drained if every accepted line must be kept.
    pub async fn close(&self) {
        self.bus.unsubscribe(self.sub).await;
        let mut st = lock(&self.state);
        st.store.close();
        // The mutant leaves the sink's buffer unwritten: the last lines never reach the file.
        if crate::mutants::active(crate::mutants::LOGS_CLOSE_UNFLUSHED) {
            return;
        }
        if let Some(sink) = st.sink.as_mut()
            && sink.flush().is_err()
        {
            self.sink_errors.inc();
        }
    }

    /// The held entry with id `id`, if it is still held (not evicted or cleared).
    pub fn get(&self, id: super::EntryId) -> Option<LogEntry> {
        lock(&self.state).store.get(id).map(|e| e.to_entry())
    }

    /// Clears every held line (of every process) and returns how many were removed. Lines
    /// accepted later are kept (I25).
    pub fn clear_all(&self) -> u64 {
        lock(&self.state).store.clear(None)
    }

    /// Appends directly (bypassing the bus) and returns the stored entry's id, for checks of
    /// the closed store (S-L3) and of append identity (S-L4).
    pub fn append_direct(
        &self,
        process: &crate::bus::ProcessRef,
        text: &str,
        at: crate::rt::Mono,
    ) -> Result<super::EntryId, AppendError> {
        lock(&self.state).store.append(process, crate::bus::Stream::Stdout, at, std::time::SystemTime::UNIX_EPOCH, text)
    }
}
