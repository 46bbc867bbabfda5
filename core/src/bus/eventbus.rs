use std::collections::VecDeque;
use std::fmt;
use std::panic::{AssertUnwindSafe, catch_unwind};
use std::pin::pin;
use std::sync::atomic::{AtomicU8, AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Duration;

use tokio::sync::Notify;

use super::event::{Envelope, Event, EventId, EventKind, KindSet};
use super::mailbox::{Backpressure, DropReason, Handler, Offer, Subscriber, SubscriberSpec, SubscriberStats};
use crate::metrics::{Counter, Gauge};
use crate::rt::{Runtime, Task, spawn};
use crate::util::yield_now;

/// Handler batches a worker runs before it yields to the scheduler, so a flooding
/// subscriber cannot monopolise a runtime thread.
const BATCHES_BEFORE_YIELD: u32 = 16;

/// Sizes and policies of a bus. Every field has a `[concurrency]` key (see docs/design).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BusConfig {
    /// Handler workers: at most this many handler invocations run at once.
    pub workers: usize,
    /// Default per-subscriber mailbox capacity, in events.
    pub mailbox_capacity: usize,
    /// Default backpressure for subscribers that do not choose one.
    pub backpressure: Backpressure,
    /// How long a `block` publisher waits for space before the event is dropped.
    pub block_timeout: Duration,
    /// How long shutdown waits for mailboxes to drain.
    pub drain_timeout: Duration,
    /// Events a worker takes from one mailbox per turn (fairness between subscribers).
    pub batch: usize,
}

impl BusConfig {
    /// `clamp(cores * 2.5, 4, 32)`: handlers are short and mostly CPU-bound, but some (TUI,
    /// MCP streams) wait on slow consumers; 2.5x keeps cores busy while a few wait, and the
    /// clamp keeps tiny machines parallel enough and big ones from thrashing.
    pub fn default_workers(cores: usize) -> usize {
        (cores * 5 / 2).clamp(4, 32)
    }

    pub fn with_cores(cores: usize) -> Self {
        BusConfig {
            workers: Self::default_workers(cores),
            mailbox_capacity: 1024,
            backpressure: Backpressure::Degrade,
            block_timeout: Duration::from_millis(100),
            drain_timeout: Duration::from_secs(5),
            batch: 256,
        }
    }
}

/// Identifies a subscription on one bus.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct SubscriptionId(pub u64);

/// Per-subscription choices; unset fields take the bus defaults.
#[derive(Debug, Clone)]
pub struct SubscribeOptions {
    pub name: String,
    pub capacity: Option<usize>,
    pub backpressure: Option<Backpressure>,
    pub kinds: KindSet,
    /// `block` without the timeout: a full mailbox makes publishers wait as long as it takes.
    /// For subscribers that must see every event (the log store, `brum run`'s printer); a
    /// stuck handler then stalls its publishers, which is the point.
    pub lossless: bool,
    /// Injected fault (simulation only): the handler is never run, as if it hung on its first
    /// event for ever. Its mailbox fills and its backpressure applies to every publisher.
    stuck: bool,
    /// Injected slowness (simulation only): each invocation takes this long on the runtime's
    /// clock. The worker running the batch waits it out after the handler returns, still
    /// owning the subscriber's batch, so a slow handler occupies one worker (never more) and
    /// invocations of one subscriber are at least this far apart.
    dwell: Option<Duration>,
}

impl SubscribeOptions {
    pub fn named(name: impl Into<String>) -> Self {
        SubscribeOptions {
            name: name.into(),
            capacity: None,
            backpressure: None,
            kinds: KindSet::ALL,
            lossless: false,
            stuck: false,
            dwell: None,
        }
    }

    /// A subscriber whose handler hangs for ever (see the `stuck` field). Only the simulator
    /// injects this fault: it is compiled with the `sim` feature.
    #[cfg(feature = "sim")]
    pub fn stuck(mut self) -> Self {
        self.stuck = true;
        self
    }

    /// A handler that takes `d` of virtual time per event (see the `dwell` field). Only the
    /// simulator injects this: it is compiled with the `sim` feature.
    #[cfg(feature = "sim")]
    pub fn slow(mut self, d: Duration) -> Self {
        self.dwell = Some(d);
        self
    }

    /// `block` backpressure with no timeout (see [`SubscribeOptions::lossless`]).
    pub fn lossless(mut self) -> Self {
        self.backpressure = Some(Backpressure::Block);
        self.lossless = true;
        self
    }

    pub fn capacity(mut self, c: usize) -> Self {
        self.capacity = Some(c);
        self
    }

    pub fn backpressure(mut self, b: Backpressure) -> Self {
        self.backpressure = Some(b);
        self
    }

    pub fn kinds(mut self, k: KindSet) -> Self {
        self.kinds = k;
        self
    }
}

/// The bus no longer accepts events.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[error("event bus is shut down")]
pub struct Closed;

/// Events a subscriber still had queued when shutdown stopped waiting.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Undelivered {
    pub subscription: SubscriptionId,
    pub name: String,
    pub count: u64,
}

/// What [`EventBus::shutdown`] achieved.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct ShutdownReport {
    pub published: u64,
    pub delivered: u64,
    /// True if the drain timeout ran out before every mailbox was empty.
    pub timed_out: bool,
    /// Non-empty only if `timed_out`.
    pub undelivered: Vec<Undelivered>,
}

impl fmt::Display for ShutdownReport {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "published={} delivered={}", self.published, self.delivered)?;
        if self.timed_out {
            f.write_str(" drain timed out;")?;
            for u in &self.undelivered {
                write!(f, " {}#{}: {} undelivered", u.name, u.subscription.0, u.count)?;
            }
        }
        Ok(())
    }
}

const OPEN: u8 = 0;
const CLOSING: u8 = 1;
const STOPPED: u8 = 2;

struct Inner<R: Runtime> {
    rt: R,
    cfg: BusConfig,
    next_event: AtomicU64,
    next_sub: AtomicU64,
    /// Copy-on-write list: publish clones the `Arc` and iterates without holding the lock.
    subs: Mutex<Arc<Vec<Arc<Subscriber>>>>,
    /// Subscribers with queued events and no worker. Bounded by the number of subscribers:
    /// a subscriber is in it at most once (its `scheduled` flag).
    ready: Mutex<VecDeque<Arc<Subscriber>>>,
    work: Notify,
    state: AtomicU8,
    /// Publish calls between their state check and their last offer (drain waits for them).
    publishing: AtomicUsize,
    /// Signalled when a worker goes idle or a publish ends while closing.
    quiet: Notify,
    workers: Mutex<Vec<Task<()>>>,
    report: Mutex<Option<ShutdownReport>>,
    shutdown_done: Notify,
    published: Counter,
    running: Gauge,
    subscribers: Gauge,
}

fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    // No handler or await ever runs under these locks, so a poisoned one still holds a
    // consistent value.
    m.lock().unwrap_or_else(|e| e.into_inner())
}

/// The event bus. Cheap to clone; all clones are the same bus.
pub struct EventBus<R: Runtime> {
    inner: Arc<Inner<R>>,
}

impl<R: Runtime> Clone for EventBus<R> {
    fn clone(&self) -> Self {
        EventBus { inner: self.inner.clone() }
    }
}

impl<R: Runtime> fmt::Debug for EventBus<R> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("EventBus").field("cfg", &self.inner.cfg).finish_non_exhaustive()
    }
}

/// Counts a publish as in progress; on drop, lets a draining shutdown re-check.
struct Publishing<'a, R: Runtime>(&'a Inner<R>);

impl<R: Runtime> Drop for Publishing<'_, R> {
    fn drop(&mut self) {
        self.0.publishing.fetch_sub(1, Ordering::SeqCst);
        if self.0.state.load(Ordering::SeqCst) != OPEN {
            self.0.quiet.notify_waiters();
        }
    }
}

impl<R: Runtime> EventBus<R> {
    /// Creates the bus and spawns its `cfg.workers` handler workers on `rt`.
    pub fn new(rt: R, cfg: BusConfig) -> Self {
        assert!(cfg.workers > 0 && cfg.mailbox_capacity > 0 && cfg.batch > 0, "invalid BusConfig: {cfg:?}");
        let metrics = rt.metrics().clone();
        let inner = Arc::new(Inner {
            cfg,
            next_event: AtomicU64::new(1),
            next_sub: AtomicU64::new(1),
            subs: Mutex::new(Arc::new(Vec::new())),
            ready: Mutex::new(VecDeque::new()),
            work: Notify::new(),
            state: AtomicU8::new(OPEN),
            publishing: AtomicUsize::new(0),
            quiet: Notify::new(),
            workers: Mutex::new(Vec::new()),
            report: Mutex::new(None),
            shutdown_done: Notify::new(),
            published: metrics.counter("bus.published", ""),
            running: metrics.gauge("bus.handlers_running", ""),
            subscribers: metrics.gauge("bus.subscribers", ""),
            rt,
        });
        let tasks: Vec<Task<()>> =
            (0..inner.cfg.workers).map(|_| spawn(&inner.rt, "bus.worker", worker_loop(inner.clone()))).collect();
        *lock(&inner.workers) = tasks;
        EventBus { inner }
    }

    pub fn config(&self) -> &BusConfig {
        &self.inner.cfg
    }

    /// Registers `handler`; it receives every matching event published after this returns.
    pub fn subscribe(
        &self,
        opts: SubscribeOptions,
        handler: impl FnMut(&Arc<Envelope>) + Send + 'static,
    ) -> Result<SubscriptionId, Closed> {
        let inner = &self.inner;
        // The state check happens under the list lock, which shutdown takes (after it left
        // OPEN) to empty the list: a subscription either makes it into the list shutdown
        // empties, or is refused.
        let mut subs = lock(&inner.subs);
        if inner.state.load(Ordering::SeqCst) != OPEN {
            return Err(Closed);
        }
        let id = inner.next_sub.fetch_add(1, Ordering::Relaxed);
        let sub = Arc::new(Subscriber::new(
            SubscriberSpec {
                id,
                name: opts.name,
                capacity: opts.capacity.unwrap_or(inner.cfg.mailbox_capacity).max(1),
                policy: opts.backpressure.unwrap_or(inner.cfg.backpressure),
                kinds: opts.kinds,
                lossless: opts.lossless,
                stuck: opts.stuck,
                dwell: opts.dwell,
            },
            Box::new(handler) as Handler,
            inner.rt.metrics(),
        ));
        let mut next = Vec::clone(&subs);
        next.push(sub);
        *subs = Arc::new(next);
        drop(subs);
        inner.subscribers.add(1);
        Ok(SubscriptionId(id))
    }

    /// Removes a subscription. When this returns the handler is not running and will never
    /// run again; events still queued for it are counted as `unsubscribed` drops. Returns
    /// false if `id` was not subscribed.
    pub async fn unsubscribe(&self, id: SubscriptionId) -> bool {
        let Some(sub) = self.detach(id) else { return false };
        // Dekker pair with the worker: it stores `in_flight` then loads `closed`; we store
        // `closed` then load `in_flight`. One of us sees the other.
        loop {
            let mut idle = pin!(sub.idle.notified());
            idle.as_mut().enable();
            if !sub.in_flight.load(Ordering::SeqCst) {
                break;
            }
            idle.await;
        }
        retire(&sub);
        true
    }

    /// Removes a subscription without waiting, for a guard's `Drop` (an abandoned MCP wait):
    /// no event is queued for it after this returns, events still queued are counted as
    /// `unsubscribed` drops, and its handler is dropped here, or by the worker running its
    /// last batch (which finishes that batch, then never runs it again). Returns false if `id`
    /// was not subscribed. Prefer [`EventBus::unsubscribe`] where the caller can await.
    pub fn unsubscribe_now(&self, id: SubscriptionId) -> bool {
        let Some(sub) = self.detach(id) else { return false };
        retire(&sub);
        true
    }

    /// Takes subscription `id` out of the list and marks it closed: no event is offered to it
    /// after this. `None` if it was not subscribed.
    fn detach(&self, id: SubscriptionId) -> Option<Arc<Subscriber>> {
        let sub = {
            let mut subs = lock(&self.inner.subs);
            let pos = subs.iter().position(|s| s.id == id.0)?;
            let mut next = Vec::clone(&subs);
            let sub = next.remove(pos);
            *subs = Arc::new(next);
            sub
        };
        self.inner.subscribers.add(-1);
        sub.closed.store(true, Ordering::SeqCst);
        Some(sub)
    }

    /// Publishes `event` to every subscriber registered before this call. Waits only when a
    /// `block` (or `degrade`, for lifecycle events) mailbox is full.
    pub async fn publish(&self, event: Event) -> Result<EventId, Closed> {
        let inner = &*self.inner;
        inner.publishing.fetch_add(1, Ordering::SeqCst);
        let _publishing = Publishing(inner);
        if inner.state.load(Ordering::SeqCst) != OPEN {
            return Err(Closed);
        }
        // A batch of lines takes one sequence number per line (its id is its first line's).
        let id = EventId(inner.next_event.fetch_add(event.width(), Ordering::Relaxed));
        let kind = event.kind();
        let env = Arc::new(Envelope { id, at: inner.rt.now(), wall: inner.rt.wall(), event });
        inner.published.inc();
        let subs = lock(&inner.subs).clone();
        for sub in subs.iter() {
            if self.wants(sub, kind) && !sub.is_closed() {
                self.offer_planted(sub, &env).await;
            }
        }
        Ok(id)
    }

    /// Publishes `events` in order, as one [`EventBus::publish`] each would, in one pass: they
    /// take consecutive sequence numbers and one time stamp, and each subscriber is offered all
    /// the ones it wants before the next subscriber is, so a subscriber whose mailbox was
    /// empty is scheduled once for the lot instead of once per event, and as many as fit in its
    /// mailbox go in under one lock (the rest one by one, as its policy says). A reader
    /// publishes what one read of a child's output produced this way: its line batches and the
    /// detections between them. Returns the first event's id (`None` for no events).
    pub async fn publish_all(&self, events: Vec<Event>) -> Result<Option<EventId>, Closed> {
        let inner = &*self.inner;
        inner.publishing.fetch_add(1, Ordering::SeqCst);
        let _publishing = Publishing(inner);
        if inner.state.load(Ordering::SeqCst) != OPEN {
            return Err(Closed);
        }
        if events.is_empty() {
            return Ok(None);
        }
        let width: u64 = events.iter().map(Event::width).sum();
        let first = inner.next_event.fetch_add(width, Ordering::Relaxed);
        let (at, wall) = (inner.rt.now(), inner.rt.wall());
        let mut next = first;
        let envs: Vec<Arc<Envelope>> = events
            .into_iter()
            .map(|event| {
                let id = EventId(next);
                next += event.width();
                Arc::new(Envelope { id, at, wall, event })
            })
            .collect();
        inner.published.add(envs.len() as u64);
        let subs = lock(&inner.subs).clone();
        let planted = crate::mutants::active(crate::mutants::BUS_COPY_PER_SUBSCRIBER)
            || crate::mutants::active(crate::mutants::BUS_TASK_PER_DELIVERY);
        let mut wanted: Vec<&Arc<Envelope>> = Vec::with_capacity(envs.len());
        for sub in subs.iter() {
            wanted.clear();
            wanted.extend(envs.iter().filter(|env| self.wants(sub, env.event.kind())));
            // What fits goes in under one lock; the rest one by one, as the policy says (a
            // lossless subscriber makes this publisher wait for room).
            let mut taken = 0;
            if !planted && !wanted.is_empty() {
                let schedule;
                (taken, schedule) = sub.offer_fitting(&wanted);
                if schedule {
                    inner.schedule(sub.clone());
                }
            }
            for env in &wanted[taken..] {
                if !sub.is_closed() {
                    self.offer_planted(sub, env).await;
                }
            }
        }
        Ok(Some(EventId(first)))
    }

    /// Whether `sub` gets events of `kind`: decided here, before anything is queued, so a
    /// subscriber that asked only for lifecycle events never has a line in its mailbox (an
    /// exit never waits behind a flood of lines there: race S-E3).
    fn wants(&self, sub: &Subscriber, kind: EventKind) -> bool {
        // The mutant filters at delivery instead: every event is queued for every subscriber
        // and the worker skips the unwanted ones, so lines fill a lifecycle-only mailbox.
        sub.kinds.contains(kind) || crate::mutants::active(crate::mutants::BUS_KINDS_AT_DELIVERY)
    }

    /// [`EventBus::offer`], or what a planted mutant does instead.
    async fn offer_planted(&self, sub: &Arc<Subscriber>, env: &Arc<Envelope>) {
        if crate::mutants::active(crate::mutants::BUS_COPY_PER_SUBSCRIBER) {
            // A defensive copy per subscriber, stamped when it is offered: subscribers no
            // longer share one immutable event (race S-E8), and a publisher held back by one
            // mailbox hands the next subscriber an event with another time.
            let inner = &*self.inner;
            let copy = Arc::new(Envelope { at: inner.rt.now(), wall: inner.rt.wall(), ..Envelope::clone(env) });
            return self.offer(sub, &copy).await;
        }
        if crate::mutants::active(crate::mutants::BUS_TASK_PER_DELIVERY) && sub.in_flight.load(Ordering::SeqCst) {
            // Brummer's `go handler(event)`: a publisher that finds the handler busy hands the
            // delivery to a task of its own rather than wait, one task per event however slow
            // the handler is (race S-E1).
            let (bus, sub, env) = (self.clone(), sub.clone(), env.clone());
            drop(spawn(&self.inner.rt, "bus.delivery", async move { bus.offer(&sub, &env).await }));
            return;
        }
        self.offer(sub, env).await
    }

    async fn offer(&self, sub: &Arc<Subscriber>, env: &Arc<Envelope>) {
        let inner = &*self.inner;
        let mut patient = true;
        let mut deadline = None;
        let mut waited = false;
        loop {
            match sub.offer(env, patient) {
                Offer::Accepted { schedule } => {
                    if schedule {
                        inner.schedule(sub.clone());
                    }
                    return;
                }
                Offer::Dropped(_) => return,
                Offer::Closed => {
                    let reason = if inner.stopped() { DropReason::Shutdown } else { DropReason::Unsubscribed };
                    sub.count_drop(reason, 1);
                    return;
                }
                Offer::Wait => {}
            }
            let mut space = pin!(sub.space.notified());
            space.as_mut().enable();
            if sub.is_closed() {
                sub.count_drop(DropReason::Unsubscribed, 1);
                return;
            }
            if inner.state.load(Ordering::SeqCst) == STOPPED {
                sub.count_drop(DropReason::Shutdown, 1);
                return;
            }
            if sub.lock().queue.len() < sub.capacity {
                continue;
            }
            if !waited {
                waited = true;
                sub.waits.inc();
            }
            if sub.policy == Backpressure::Block && !sub.lossless {
                let now = inner.rt.now();
                let until = *deadline.get_or_insert(now + inner.cfg.block_timeout);
                let left = until.saturating_since(now);
                if left.is_zero() {
                    patient = false;
                    continue;
                }
                tokio::select! {
                    biased;
                    _ = space => {}
                    _ = inner.rt.sleep(left) => patient = false,
                }
            } else {
                space.await;
            }
        }
    }

    /// Counters of every live subscription, in subscription order.
    pub fn stats(&self) -> Vec<(SubscriptionId, SubscriberStats)> {
        lock(&self.inner.subs).iter().map(|s| (SubscriptionId(s.id), s.stats())).collect()
    }

    pub fn subscriber_count(&self) -> usize {
        lock(&self.inner.subs).len()
    }

    pub fn published(&self) -> u64 {
        self.inner.published.get()
    }

    /// Stops intake, drains the mailboxes (up to the drain timeout), stops the workers and
    /// reports what could not be delivered. Idempotent: later calls wait for and return the
    /// first call's report. When it returns no handler is running or will run.
    pub async fn shutdown(&self) -> ShutdownReport {
        let inner = &*self.inner;
        if inner.state.compare_exchange(OPEN, CLOSING, Ordering::SeqCst, Ordering::SeqCst).is_err() {
            loop {
                let mut done = pin!(inner.shutdown_done.notified());
                done.as_mut().enable();
                if let Some(r) = lock(&inner.report).clone() {
                    return r;
                }
                done.await;
            }
        }
        let deadline = inner.rt.now() + inner.cfg.drain_timeout;
        let mut timed_out = false;
        loop {
            let mut quiet = pin!(inner.quiet.notified());
            quiet.as_mut().enable();
            if inner.quiescent() {
                break;
            }
            let now = inner.rt.now();
            let left = deadline.saturating_since(now);
            if left.is_zero() {
                timed_out = !inner.quiescent();
                break;
            }
            tokio::select! {
                biased;
                _ = quiet => {}
                _ = inner.rt.sleep(left) => {}
            }
        }
        inner.state.store(STOPPED, Ordering::SeqCst);
        inner.work.notify_waiters();
        let subs = std::mem::take(&mut *lock(&inner.subs));
        for s in subs.iter() {
            s.space.notify_waiters();
        }
        let workers = std::mem::take(&mut *lock(&inner.workers));
        for w in workers {
            if let Err(e) = w.join().await {
                tracing::error!(error = %e, "event bus worker ended abnormally");
            }
        }
        let mut report =
            ShutdownReport { published: inner.published.get(), delivered: 0, timed_out, undelivered: Vec::new() };
        for s in subs.iter() {
            s.closed.store(true, Ordering::SeqCst);
            let (handler, queued) = {
                let mut st = s.lock();
                let n = st.queue.len() as u64;
                st.queue.clear();
                (st.handler.take(), n)
            };
            drop(handler);
            s.count_drop(DropReason::Shutdown, queued);
            s.depth.set(0);
            report.delivered += s.delivered.get();
            if queued > 0 {
                report.undelivered.push(Undelivered {
                    subscription: SubscriptionId(s.id),
                    name: s.name.clone(),
                    count: queued,
                });
            }
        }
        inner.subscribers.add(-(subs.len() as i64));
        *lock(&inner.report) = Some(report.clone());
        inner.shutdown_done.notify_waiters();
        report
    }
}

impl<R: Runtime> Inner<R> {
    fn schedule(&self, sub: Arc<Subscriber>) {
        lock(&self.ready).push_back(sub);
        self.work.notify_one();
    }

    fn stopped(&self) -> bool {
        self.state.load(Ordering::SeqCst) == STOPPED
    }

    /// No publish in progress, nothing queued, no batch running.
    fn quiescent(&self) -> bool {
        self.publishing.load(Ordering::SeqCst) == 0
            && lock(&self.ready).is_empty()
            && lock(&self.subs).iter().all(|s| {
                let st = s.lock();
                st.queue.is_empty() && !st.scheduled
            })
    }
}

async fn worker_loop<R: Runtime>(inner: Arc<Inner<R>>) {
    let mut batch: Vec<Arc<Envelope>> = Vec::with_capacity(inner.cfg.batch);
    let mut batches = 0u32;
    loop {
        if inner.stopped() {
            return;
        }
        let next = lock(&inner.ready).pop_front();
        let Some(sub) = next else {
            let mut work = pin!(inner.work.notified());
            work.as_mut().enable();
            if inner.stopped() {
                return;
            }
            if !lock(&inner.ready).is_empty() {
                continue;
            }
            inner.quiet.notify_waiters();
            work.await;
            continue;
        };
        run_batch(&inner, &sub, &mut batch).await;
        inner.rt.checkpoint("bus.worker.batch_done").await;
        batches += 1;
        if batches >= BATCHES_BEFORE_YIELD {
            batches = 0;
            yield_now().await;
        }
    }
}

/// Runs up to `cfg.batch` queued events of `sub` through its handler. The caller owns `sub`'s
/// `scheduled` flag, so no other worker runs this handler meanwhile. Awaits only for a
/// simulated slow handler (`SubscribeOptions::slow`), with no lock held.
async fn run_batch<R: Runtime>(inner: &Inner<R>, sub: &Arc<Subscriber>, batch: &mut Vec<Arc<Envelope>>) {
    let handler = {
        let mut st = sub.lock();
        let n = st.queue.len().min(inner.cfg.batch);
        batch.extend(st.queue.drain(..n));
        sub.depth.set(st.queue.len() as i64);
        st.handler.take()
    };
    if !batch.is_empty() {
        sub.space.notify_waiters();
    }
    sub.in_flight.store(true, Ordering::SeqCst);
    let mut delivered = 0u64;
    let mut handler = handler;
    if let Some(h) = handler.as_mut() {
        inner.running.add(1);
        let started = inner.rt.now();
        for env in batch.iter() {
            if sub.closed.load(Ordering::SeqCst) || inner.stopped() {
                break;
            }
            // Only with the kinds-at-delivery mutant can an unwanted event be queued.
            if !sub.kinds.contains(env.event.kind()) {
                delivered += 1;
                continue;
            }
            if catch_unwind(AssertUnwindSafe(|| h(env))).is_err() {
                sub.panics.inc();
                tracing::warn!(subscriber = %sub.name, event = %env.id, "event handler panicked");
            }
            delivered += 1;
            if let Some(d) = sub.dwell {
                inner.rt.sleep(d).await;
            }
        }
        let us = inner.rt.now().saturating_since(started).as_micros() as u64;
        if let Some(mean) = us.checked_div(delivered) {
            sub.latency_us.record(mean);
            sub.delivered.add(delivered);
        }
        inner.running.add(-1);
    }
    // Events taken but not run: back to the front for a shutdown to count, or dropped.
    let rest: Vec<Arc<Envelope>> = batch.drain(delivered as usize..).collect();
    batch.clear();
    let mut dropped_handler = None;
    let reschedule = {
        let mut st = sub.lock();
        if sub.is_closed() || handler.is_none() {
            sub.count_drop(DropReason::Unsubscribed, (rest.len() + st.queue.len()) as u64);
            st.queue.clear();
            st.scheduled = false;
            dropped_handler = handler.take();
            false
        } else {
            for env in rest.into_iter().rev() {
                st.queue.push_front(env);
            }
            st.handler = handler.take();
            if st.queue.is_empty() || inner.stopped() {
                st.scheduled = false;
                false
            } else {
                true
            }
        }
    };
    sub.in_flight.store(false, Ordering::SeqCst);
    sub.idle.notify_waiters();
    drop(dropped_handler);
    if reschedule {
        inner.schedule(sub.clone());
    }
}

/// Empties a detached subscription: what was still queued is counted as `unsubscribed` drops,
/// blocked publishers are woken, and its handler is dropped (unless a worker holds it for a
/// last batch, which drops it after).
fn retire(sub: &Subscriber) {
    let (handler, queued) = {
        let mut st = sub.lock();
        let n = st.queue.len() as u64;
        st.queue.clear();
        (st.handler.take(), n)
    };
    sub.count_drop(DropReason::Unsubscribed, queued);
    sub.depth.set(0);
    sub.space.notify_waiters();
    drop(handler);
}
