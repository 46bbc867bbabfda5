//! A tool's wait on the bus (`scripts_run`'s `wait_for`, `logs_stream`'s `follow`): a
//! subscription whose handler copies the events a filter keeps into a bounded queue, owned by a
//! guard that unsubscribes when it is dropped. A client that goes away mid-wait drops the call's
//! future, and with it the guard: no subscription outlives its call (race S-M12).

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

use tokio::sync::mpsc;

use crate::bus::{Backpressure, Closed, Envelope, EventBus, KindSet, SubscribeOptions, SubscriptionId};
use crate::metrics::{Counter, Gauge};
use crate::rt::Runtime;

/// Events one wait queues before it drops (and counts) more. A wait reads its queue as events
/// come, and what it waits for is one event of one instance, so this absorbs any burst of a
/// chatty process's lines; a wait that lost events re-checks the supervisor and findings.
pub const WAIT_QUEUE_MAX: usize = 256;

/// The bus mailbox of a wait's subscription: lifecycle events are never dropped from it
/// (`degrade`); lines go first under pressure.
pub const WAIT_MAILBOX: usize = 256;

/// A live subscription for one wait (see the module documentation).
pub(crate) struct Watch<R: Runtime> {
    bus: EventBus<R>,
    id: SubscriptionId,
    rx: mpsc::Receiver<Arc<Envelope>>,
    dropped: Arc<AtomicU64>,
    live: Gauge,
    /// Unsubscribed by [`Watch::close`].
    closed: bool,
}

impl<R: Runtime> Watch<R> {
    /// Subscribes to `kinds`, keeping the events `keep` accepts.
    pub fn open(
        bus: &EventBus<R>,
        rt: &R,
        name: &str,
        kinds: KindSet,
        keep: impl Fn(&Envelope) -> bool + Send + 'static,
    ) -> Result<Watch<R>, Closed> {
        let (tx, rx) = mpsc::channel(WAIT_QUEUE_MAX);
        let dropped = Arc::new(AtomicU64::new(0));
        let d = dropped.clone();
        let counter: Counter = rt.metrics().counter("mcp.wait_events_dropped", "");
        let id = bus.subscribe(
            SubscribeOptions::named(format!("mcp.{name}"))
                .capacity(WAIT_MAILBOX)
                .backpressure(Backpressure::Degrade)
                .kinds(kinds),
            move |env| {
                if keep(env) && tx.try_send(env.clone()).is_err() {
                    d.fetch_add(1, Ordering::Relaxed);
                    counter.inc();
                }
            },
        )?;
        let live = rt.metrics().gauge("mcp.waits_live", "");
        live.add(1);
        Ok(Watch { bus: bus.clone(), id, rx, dropped, live, closed: false })
    }

    /// The next kept event; `None` once the bus shut down.
    pub async fn next(&mut self) -> Option<Arc<Envelope>> {
        self.rx.recv().await
    }

    /// Ends the wait that got its answer: unsubscribes, waiting until the handler is idle.
    pub async fn close(mut self) {
        self.closed = true;
        self.bus.unsubscribe(self.id).await;
    }

    /// Events this wait's queue was too full to keep.
    pub fn dropped(&self) -> u64 {
        self.dropped.load(Ordering::Relaxed)
    }
}

impl<R: Runtime> Drop for Watch<R> {
    fn drop(&mut self) {
        self.live.add(-1);
        // An abandoned wait (its caller dropped the call) unsubscribes here. The mutant
        // forgets to: the abandoned wait's handler lives on.
        if self.closed || crate::mutants::active(crate::mutants::MCP_WAIT_LEAKS_SUBSCRIPTION) {
            return;
        }
        self.bus.unsubscribe_now(self.id);
    }
}
