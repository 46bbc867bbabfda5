//! One subscriber's bounded mailbox and the policy applied when it is full.

use std::collections::VecDeque;
use std::fmt;
use std::str::FromStr;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};

use tokio::sync::Notify;

use super::event::{Envelope, Priority};
use crate::metrics::{Counter, Gauge, Histogram, Metrics};

/// What publishing does when a subscriber's mailbox is full.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Backpressure {
    /// The publisher waits for space, up to the bus's block timeout; then the event is
    /// dropped and counted (`block_timeout`).
    Block,
    /// The oldest queued event is dropped to make room.
    DropOldest,
    /// The new event is dropped.
    DropNewest,
    /// Low-priority events (log lines) go first, then normal ones; lifecycle events are never
    /// dropped: when a mailbox holds nothing else the publisher waits for space, without a
    /// timeout.
    Degrade,
}

impl Backpressure {
    pub const ALL: [Backpressure; 4] =
        [Backpressure::Block, Backpressure::DropOldest, Backpressure::DropNewest, Backpressure::Degrade];

    pub fn name(self) -> &'static str {
        match self {
            Backpressure::Block => "block",
            Backpressure::DropOldest => "drop_oldest",
            Backpressure::DropNewest => "drop_newest",
            Backpressure::Degrade => "degrade",
        }
    }
}

impl fmt::Display for Backpressure {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

impl FromStr for Backpressure {
    type Err = ();
    fn from_str(s: &str) -> Result<Self, ()> {
        Backpressure::ALL.into_iter().find(|b| b.name() == s).ok_or(())
    }
}

/// Why an event did not reach a handler.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum DropReason {
    DropOldest,
    DropNewest,
    Degrade,
    BlockTimeout,
    /// Still queued when the subscriber unsubscribed.
    Unsubscribed,
    /// Still queued when shutdown gave up draining.
    Shutdown,
}

impl DropReason {
    pub const ALL: [DropReason; 6] = [
        DropReason::DropOldest,
        DropReason::DropNewest,
        DropReason::Degrade,
        DropReason::BlockTimeout,
        DropReason::Unsubscribed,
        DropReason::Shutdown,
    ];

    pub fn name(self) -> &'static str {
        match self {
            DropReason::DropOldest => "drop_oldest",
            DropReason::DropNewest => "drop_newest",
            DropReason::Degrade => "degrade",
            DropReason::BlockTimeout => "block_timeout",
            DropReason::Unsubscribed => "unsubscribed",
            DropReason::Shutdown => "shutdown",
        }
    }
}

/// A subscriber's counters, as returned by [`EventBus::stats`](super::EventBus::stats).
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct SubscriberStats {
    pub name: String,
    pub delivered: u64,
    pub panics: u64,
    /// Per [`DropReason`], in `DropReason::ALL` order.
    pub dropped: [u64; 6],
    pub queued: usize,
}

impl SubscriberStats {
    pub fn dropped_total(&self) -> u64 {
        self.dropped.iter().sum()
    }

    pub fn dropped(&self, r: DropReason) -> u64 {
        self.dropped[r as usize]
    }
}

pub(super) type Handler = Box<dyn FnMut(&Arc<Envelope>) + Send + 'static>;

/// The part of a subscriber guarded by its lock. Held only for queue operations: never across
/// an await, a handler call or a channel send.
pub(super) struct MailboxState {
    pub queue: VecDeque<Arc<Envelope>>,
    /// True while the subscriber is in the ready queue or a worker is running its batch.
    pub scheduled: bool,
    /// Taken by the worker running a batch, put back after it.
    pub handler: Option<Handler>,
}

/// What a full mailbox decided for the incoming event.
pub(super) enum Offer {
    Accepted {
        schedule: bool,
    },
    Dropped(DropReason),
    /// The publisher must wait for space (`block`, or `degrade` with a lifecycle event).
    Wait,
    /// The subscriber is closed (unsubscribed, or its bus shut down): nothing was queued and
    /// the caller counts the drop with the right reason.
    Closed,
}

pub(super) struct Subscriber {
    pub id: u64,
    pub name: String,
    pub capacity: usize,
    pub policy: Backpressure,
    /// `block` with no timeout.
    pub lossless: bool,
    /// Injected fault: never scheduled, so its handler never runs (`SubscribeOptions::stuck`).
    pub stuck: bool,
    /// Injected slowness: each invocation takes this long (`SubscribeOptions::slow`).
    pub dwell: Option<std::time::Duration>,
    pub kinds: super::event::KindSet,
    pub state: Mutex<MailboxState>,
    /// Set by unsubscribe and shutdown; checked before every invocation and every offer.
    pub closed: AtomicBool,
    /// Set by a worker before the first invocation of a batch and cleared after the last
    /// (Dekker pair with `closed`: unsubscribe waits while it is set). The handler itself
    /// may be dropped just after `unsubscribe` returns, never called.
    pub in_flight: AtomicBool,
    /// Signalled when a batch ends (unsubscribe waits on it).
    pub idle: Notify,
    /// Signalled when a batch made room (blocked publishers wait on it).
    pub space: Notify,
    pub delivered: Counter,
    pub panics: Counter,
    pub dropped: [Counter; 6],
    /// Queue length, updated on every enqueue and every batch taken.
    pub depth: Gauge,
    pub latency_us: Histogram,
    /// Offers that found the mailbox full and made their publisher wait (`block`, or
    /// `degrade` with a lifecycle event): how often this subscriber held its publishers back.
    pub waits: Counter,
}

/// A subscription's resolved settings (bus defaults applied).
pub(super) struct SubscriberSpec {
    pub id: u64,
    pub name: String,
    pub capacity: usize,
    pub policy: Backpressure,
    pub kinds: super::event::KindSet,
    pub lossless: bool,
    pub stuck: bool,
    pub dwell: Option<std::time::Duration>,
}

impl Subscriber {
    pub fn new(spec: SubscriberSpec, handler: Handler, metrics: &Metrics) -> Self {
        let SubscriberSpec { id, name, capacity, policy, kinds, lossless, stuck, dwell } = spec;
        let label = format!("{name}#{id}");
        Subscriber {
            id,
            capacity,
            policy,
            lossless,
            stuck,
            dwell,
            kinds,
            state: Mutex::new(MailboxState {
                queue: VecDeque::with_capacity(capacity.min(1024)),
                scheduled: false,
                handler: Some(handler),
            }),
            closed: AtomicBool::new(false),
            in_flight: AtomicBool::new(false),
            idle: Notify::new(),
            space: Notify::new(),
            delivered: metrics.counter("bus.delivered", &label),
            panics: metrics.counter("bus.handler_panics", &label),
            dropped: DropReason::ALL.map(|r| metrics.counter("bus.dropped", &format!("{label}:{}", r.name()))),
            depth: metrics.gauge("bus.queue_depth", &label),
            latency_us: metrics.histogram("bus.handler_latency_us", &label),
            waits: metrics.counter("bus.publish_waits", &label),
            name,
        }
    }

    pub fn lock(&self) -> MutexGuard<'_, MailboxState> {
        // Handlers never run under this lock, so poisoning can only come from a panic in the
        // few lines of queue code below; the queue is still structurally sound.
        self.state.lock().unwrap_or_else(|e| e.into_inner())
    }

    pub fn count_drop(&self, r: DropReason, n: u64) {
        if n > 0 {
            self.dropped[r as usize].add(n);
        }
    }

    /// Takes the leading events of `envs` that fit in the mailbox, under one lock: what
    /// offering each in turn does while there is room (each accepted). Returns how many it
    /// took (none once closed) and whether the subscriber must be scheduled.
    pub fn offer_fitting(&self, envs: &[&Arc<Envelope>]) -> (usize, bool) {
        let mut st = self.lock();
        if self.is_closed() {
            return (0, false);
        }
        let n = self.capacity.saturating_sub(st.queue.len()).min(envs.len());
        if n == 0 {
            return (0, false);
        }
        st.queue.extend(envs[..n].iter().map(|e| Arc::clone(e)));
        self.depth.set(st.queue.len() as i64);
        let schedule = !st.scheduled && !self.stuck;
        st.scheduled = true;
        (n, schedule)
    }

    /// Offers `env` to the mailbox, applying the backpressure policy if it is full. `patient`
    /// is false on a publisher's retry after its block timeout ran out.
    pub fn offer(&self, env: &Arc<Envelope>, patient: bool) -> Offer {
        let mut st = self.lock();
        // Checked under the lock: unsubscribe and shutdown set `closed` before they take the
        // lock to empty the queue, so an offer either lands before that (and is counted
        // there) or sees `closed` here. Nothing slips into an emptied mailbox.
        if self.is_closed() {
            return Offer::Closed;
        }
        if st.queue.len() < self.capacity {
            st.queue.push_back(env.clone());
            self.depth.set(st.queue.len() as i64);
            // A stuck subscriber stays marked scheduled without ever being queued to run.
            let schedule = !st.scheduled && !self.stuck;
            st.scheduled = true;
            return Offer::Accepted { schedule };
        }
        let outcome = match self.policy {
            Backpressure::DropNewest => Offer::Dropped(DropReason::DropNewest),
            Backpressure::DropOldest => {
                st.queue.pop_front();
                st.queue.push_back(env.clone());
                if !crate::mutants::active(crate::mutants::UNCOUNTED_DROP) {
                    self.count_drop(DropReason::DropOldest, 1);
                }
                Offer::Accepted { schedule: false }
            }
            Backpressure::Block if patient => Offer::Wait,
            Backpressure::Block => Offer::Dropped(DropReason::BlockTimeout),
            Backpressure::Degrade => {
                let incoming = env.event.priority();
                match incoming {
                    Priority::Low => Offer::Dropped(DropReason::Degrade),
                    Priority::Normal | Priority::Lifecycle => {
                        // Evict the oldest event of the lowest priority below the incoming one.
                        let victim = [Priority::Low, Priority::Normal]
                            .into_iter()
                            .filter(|p| *p < incoming)
                            .find_map(|p| st.queue.iter().position(|e| e.event.priority() == p));
                        match victim {
                            Some(i) => {
                                st.queue.remove(i);
                                st.queue.push_back(env.clone());
                                self.count_drop(DropReason::Degrade, 1);
                                Offer::Accepted { schedule: false }
                            }
                            None if incoming == Priority::Lifecycle => Offer::Wait,
                            None => Offer::Dropped(DropReason::Degrade),
                        }
                    }
                }
            }
        };
        drop(st);
        if let Offer::Dropped(r) = outcome {
            self.count_drop(r, 1);
        }
        outcome
    }

    pub fn stats(&self) -> SubscriberStats {
        let queued = self.lock().queue.len();
        SubscriberStats {
            name: self.name.clone(),
            delivered: self.delivered.get(),
            panics: self.panics.get(),
            dropped: std::array::from_fn(|i| self.dropped[i].get()),
            queued,
        }
    }

    pub fn is_closed(&self) -> bool {
        self.closed.load(Ordering::SeqCst)
    }
}
