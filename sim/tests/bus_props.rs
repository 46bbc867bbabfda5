//! Property tests for every EventBus guarantee, under the turmoil runtime (deterministic, so a
//! failing case replays from proptest's seed). The guarantees that need true parallelism
//! (non-reentrance, the worker-pool bound, block timeouts) are checked under real tokio in
//! brum-tests `bus_real.rs`.

mod common;

use std::collections::BTreeMap;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use brum_core::bus::{
    Backpressure, BusConfig, Closed, DropReason, Envelope, Event, EventBus, Priority, ProcessRef, Stream,
    SubscribeOptions,
};
use brum_core::detect::{ErrorGroup, ErrorKind, Url};
use brum_core::rt::{Exit, Hooks, Runtime, spawn};
use brum_core::util::yield_now;
use common::in_turmoil;
use proptest::prelude::*;

fn cfg(workers: usize, batch: usize) -> BusConfig {
    BusConfig {
        workers,
        mailbox_capacity: 64,
        backpressure: Backpressure::Degrade,
        block_timeout: Duration::from_millis(100),
        drain_timeout: Duration::from_secs(5),
        batch,
    }
}

fn proc_ref(id: u64) -> ProcessRef {
    ProcessRef::new(id, format!("p{id}"))
}

/// An event of the given shape: 0 = log line, 1 = url (normal), 2 = lifecycle.
fn event(publisher: u64, seq: u64, shape: u8) -> Event {
    let process = proc_ref(publisher);
    match shape % 3 {
        0 => Event::log_line(process, Stream::Stdout, &format!("{seq}")),
        1 => Event::UrlDetected {
            process,
            url: Arc::new(Url::parse_announced(&format!("http://localhost:3000/{seq}")).expect("a URL")),
        },
        _ => Event::ErrorDetected { process, error: Arc::new(ErrorGroup::new(ErrorKind::Generic, format!("{seq}"))) },
    }
}

fn seq_of(e: &Event) -> u64 {
    match e {
        Event::LogLines { lines, .. } => lines.get(0).unwrap().text.parse().unwrap(),
        Event::UrlDetected { url, .. } => url.url.rsplit('/').next().unwrap().parse().unwrap(),
        Event::ErrorDetected { error, .. } => error.message.parse().unwrap(),
        _ => 0,
    }
}

type Seen = Arc<Mutex<Vec<Arc<Envelope>>>>;

fn recorder() -> (Seen, impl FnMut(&Arc<Envelope>) + Send + 'static) {
    let seen: Seen = Arc::default();
    let s = seen.clone();
    (seen, move |e: &Arc<Envelope>| s.lock().unwrap().push(e.clone()))
}

fn policy() -> impl Strategy<Value = Backpressure> {
    prop_oneof![
        Just(Backpressure::Block),
        Just(Backpressure::DropOldest),
        Just(Backpressure::DropNewest),
        Just(Backpressure::Degrade),
    ]
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 48, ..ProptestConfig::default() })]

    /// Ids come from a counter: unique, gap-free, increasing in each publisher's order.
    #[test]
    fn ids_are_unique_gap_free_and_increase_per_publisher(seed in any::<u64>(), publishers in 1u64..5, each in 1u64..60) {
        let seen = in_turmoil(seed, move |rt| async move {
            let bus = EventBus::new(rt.clone(), cfg(4, 8));
            let (seen, h) = recorder();
            bus.subscribe(SubscribeOptions::named("ids").capacity(4096), h).unwrap();
            let tasks: Vec<_> = (1..=publishers).map(|p| {
                let bus = bus.clone();
                spawn(&rt, "test.publisher", async move {
                    for i in 1..=each { bus.publish(event(p, i, 1)).await.unwrap(); yield_now().await; }
                })
            }).collect();
            for t in tasks { t.join().await.unwrap(); }
            bus.shutdown().await;
            seen.lock().unwrap().clone()
        });
        let ids: Vec<u64> = seen.iter().map(|e| e.id.0).collect();
        let mut sorted = ids.clone();
        sorted.sort_unstable();
        prop_assert_eq!(sorted, (1..=publishers * each).collect::<Vec<_>>());
        let mut last: BTreeMap<u64, (u64, u64)> = BTreeMap::new();
        for e in &seen {
            let p = e.event.process().unwrap().id.0;
            let (prev_id, prev_seq) = last.insert(p, (e.id.0, seq_of(&e.event))).unwrap_or((0, 0));
            prop_assert!(e.id.0 > prev_id && seq_of(&e.event) > prev_seq);
        }
    }

    /// Mailboxes stay within capacity under every policy, and for every subscriber
    /// delivered + dropped == offered, with the handler called exactly `delivered` times.
    #[test]
    fn mailboxes_are_bounded_and_every_drop_is_counted(
        seed in any::<u64>(),
        subs in proptest::collection::vec((policy(), 1usize..40), 1..5),
        shapes in proptest::collection::vec(0u8..3, 1..400),
        workers in 1usize..6,
        batch in 1usize..16,
    ) {
        let n = shapes.len() as u64;
        let subs2 = subs.clone();
        let lifecycle = shapes.iter().filter(|s| **s % 3 == 2).count();
        let (results, over) = in_turmoil(seed, move |rt| async move {
            let bus = EventBus::new(rt.clone(), cfg(workers, batch));
            let mut handles = Vec::new();
            for (i, (p, cap)) in subs2.iter().enumerate() {
                let (seen, h) = recorder();
                let id = bus.subscribe(SubscribeOptions::named(format!("s{i}")).backpressure(*p).capacity(*cap), h).unwrap();
                handles.push((id, seen));
            }
            let mut over = Vec::new();
            for (i, shape) in shapes.iter().enumerate() {
                bus.publish(event(1, i as u64 + 1, *shape)).await.unwrap();
                for ((_, s), (_, cap)) in bus.stats().iter().zip(&subs2) {
                    if s.queued > *cap { over.push((s.name.clone(), s.queued, *cap)); }
                }
            }
            let mut results = Vec::new();
            let before = bus.stats();
            for ((id, seen), (_, s)) in handles.iter().zip(before) {
                let _ = s;
                results.push((*id, seen.clone()));
            }
            bus.shutdown().await;
            let m = rt.metrics().snapshot();
            let totals: Vec<(u64, u64, usize, Vec<Arc<Envelope>>)> = results.iter().enumerate().map(|(i, (id, seen))| {
                let label = format!("s{i}#{}", id.0);
                let get = |name: &str, prefix: &str| -> u64 {
                    m.rows.iter().filter(|r| r.name == name && r.label.starts_with(prefix)).map(|r| match r.value {
                        brum_core::metrics::MetricValue::Counter(v) => v,
                        _ => 0,
                    }).sum()
                };
                let seen = seen.lock().unwrap().clone();
                (get("bus.delivered", &label), get("bus.dropped", &format!("{label}:")), seen.len(), seen)
            }).collect();
            (totals, over)
        });
        prop_assert!(over.is_empty(), "mailbox over capacity: {:?}", over);
        for ((delivered, dropped, calls, seen), (p, _)) in results.iter().zip(&subs) {
            prop_assert_eq!(delivered + dropped, n, "policy {}", p);
            prop_assert_eq!(*calls as u64, *delivered);
            prop_assert!(seen.windows(2).all(|w| w[0].id < w[1].id), "FIFO broken under {}", p);
            if *p == Backpressure::Degrade {
                let got = seen.iter().filter(|e| e.event.priority() == Priority::Lifecycle).count();
                prop_assert_eq!(got, lifecycle, "degrade dropped a lifecycle event");
            }
            if *p == Backpressure::Block {
                prop_assert_eq!(*dropped, 0, "block dropped with a live handler");
            }
        }
    }

    /// `publish_all` (what fits under one lock, the rest one by one) queues and drops what
    /// publishing the same events one at a time does, under every policy, for subscribers
    /// whose mailboxes never drain (stuck), so the outcome does not depend on timing: the
    /// same number queued and the same drops for the same reasons.
    #[test]
    fn publish_all_queues_and_drops_as_publishing_one_at_a_time_does(
        seed in any::<u64>(),
        subs in proptest::collection::vec((policy(), 1usize..12), 1..4),
        shapes in proptest::collection::vec(0u8..2, 1..40),
        chunk in 1usize..20,
    ) {
        let run = |all: bool| {
            let (subs, shapes) = (subs.clone(), shapes.clone());
            in_turmoil(seed, move |rt| async move {
                let bus = EventBus::new(rt.clone(), cfg(2, 4));
                for (i, (p, cap)) in subs.iter().enumerate() {
                    let opts = SubscribeOptions::named(format!("s{i}")).backpressure(*p).capacity(*cap).stuck();
                    bus.subscribe(opts, |_: &Arc<Envelope>| {}).unwrap();
                }
                let events: Vec<Event> = shapes.iter().enumerate().map(|(i, s)| event(1, i as u64 + 1, *s)).collect();
                if all {
                    let mut events = events.into_iter().peekable();
                    while events.peek().is_some() {
                        bus.publish_all(events.by_ref().take(chunk).collect()).await.unwrap();
                    }
                } else {
                    for e in events { bus.publish(e).await.unwrap(); }
                }
                let stats: Vec<(usize, [u64; 6])> = bus.stats().into_iter().map(|(_, s)| (s.queued, s.dropped)).collect();
                stats
            })
        };
        let (batched, single) = (run(true), run(false));
        prop_assert_eq!(batched, single);
    }

    /// Each subscriber sees each publisher's events in publish order, even with several
    /// workers and concurrent publishers.
    #[test]
    fn each_subscriber_sees_each_publishers_events_in_order(
        seed in any::<u64>(), publishers in 1u64..5, each in 1u64..50, subscribers in 1usize..4, workers in 1usize..6,
    ) {
        let seen = in_turmoil(seed, move |rt| async move {
            let bus = EventBus::new(rt.clone(), cfg(workers, 4));
            let seen: Vec<Seen> = (0..subscribers).map(|i| {
                let (seen, h) = recorder();
                bus.subscribe(SubscribeOptions::named(format!("s{i}")).backpressure(Backpressure::Block).capacity(8), h).unwrap();
                seen
            }).collect();
            let tasks: Vec<_> = (1..=publishers).map(|p| {
                let (bus, rt2) = (bus.clone(), rt.clone());
                spawn(&rt, "test.publisher", async move {
                    bus.publish(Event::ProcessStarted { process: proc_ref(p), pid: p as u32 }).await.unwrap();
                    for i in 1..=each { bus.publish(event(p, i, 0)).await.unwrap(); rt2.checkpoint("test").await; }
                    bus.publish(Event::ProcessExited { process: proc_ref(p), exit: Exit::Code(0) }).await.unwrap();
                })
            }).collect();
            for t in tasks { t.join().await.unwrap(); }
            bus.shutdown().await;
            seen.iter().map(|s| s.lock().unwrap().clone()).collect::<Vec<_>>()
        });
        for sub in &seen {
            for p in 1..=publishers {
                let mine: Vec<String> = sub.iter().filter(|e| e.event.process().unwrap().id == p).map(|e| match &e.event {
                    Event::ProcessStarted { .. } => "start".into(),
                    Event::ProcessExited { .. } => "exit".into(),
                    other => seq_of(other).to_string(),
                }).collect();
                let mut want = vec!["start".to_string()];
                want.extend((1..=each).map(|i| i.to_string()));
                want.push("exit".into());
                prop_assert_eq!(mine, want);
            }
        }
    }

    /// After `unsubscribe` returns, the handler never runs again, and its queued events are
    /// counted as `unsubscribed`.
    #[test]
    fn no_invocation_after_unsubscribe_returns(seed in any::<u64>(), after in 0u64..60, total in 60u64..200) {
        let (late, delivered, dropped, published) = in_turmoil(seed, move |rt| async move {
            let bus = EventBus::new(rt.clone(), cfg(3, 4));
            let gone = Arc::new(AtomicBool::new(false));
            let late = Arc::new(AtomicU64::new(0));
            let (g, l) = (gone.clone(), late.clone());
            let id = bus.subscribe(SubscribeOptions::named("s").capacity(16).backpressure(Backpressure::DropOldest), move |_e| {
                if g.load(Ordering::SeqCst) { l.fetch_add(1, Ordering::SeqCst); }
            }).unwrap();
            let publisher = {
                let (bus, rt2) = (bus.clone(), rt.clone());
                spawn(&rt, "test.publisher", async move {
                    for i in 1..=total { bus.publish(event(1, i, 0)).await.unwrap(); rt2.checkpoint("test").await; yield_now().await; }
                })
            };
            while bus.published() < after { yield_now().await; }
            assert!(bus.unsubscribe(id).await);
            gone.store(true, Ordering::SeqCst);
            publisher.join().await.unwrap();
            let stats = rt.metrics().snapshot();
            bus.shutdown().await;
            let c = |name: &str, label: &str| rt.metrics().counter(name, label).get();
            let _ = stats;
            (late.load(Ordering::SeqCst), c("bus.delivered", &format!("s#{}", id.0)), c("bus.dropped", &format!("s#{}:unsubscribed", id.0)), bus.published())
        });
        prop_assert_eq!(late, 0);
        prop_assert!(delivered + dropped <= published);
    }

    /// A panicking handler is isolated: the others get every event, its panics are counted,
    /// and the worker pool keeps its size.
    #[test]
    fn panics_are_isolated_and_counted(seed in any::<u64>(), pattern in proptest::collection::vec(any::<bool>(), 1..120)) {
        let n = pattern.len() as u64;
        let expect_panics = pattern.iter().filter(|b| **b).count() as u64;
        let (good, panics, delivered, workers_live) = in_turmoil(seed, move |rt| async move {
            let bus = EventBus::new(rt.clone(), cfg(3, 4));
            let (seen, h) = recorder();
            bus.subscribe(SubscribeOptions::named("good").capacity(1024), h).unwrap();
            let pattern = Arc::new(pattern);
            let p2 = pattern.clone();
            let bad = bus.subscribe(SubscribeOptions::named("bad").capacity(1024), move |e| {
                if p2[(e.id.0 - 1) as usize] { panic!("intentional panic (property test) at {}", e.id); }
            }).unwrap();
            for i in 1..=pattern.len() as u64 { bus.publish(event(1, i, 1)).await.unwrap(); }
            while bus.stats().iter().any(|(_, s)| s.queued > 0) { yield_now().await; }
            let workers_live = rt.metrics().gauge("tasks.live", "bus.worker").get();
            bus.shutdown().await;
            let m = rt.metrics();
            let good = seen.lock().unwrap().len() as u64;
            (good, m.counter("bus.handler_panics", &format!("bad#{}", bad.0)).get(), m.counter("bus.delivered", &format!("bad#{}", bad.0)).get(), workers_live)
        });
        prop_assert_eq!(good, n);
        prop_assert_eq!(panics, expect_panics);
        prop_assert_eq!(delivered, n);
        prop_assert_eq!(workers_live, 3);
    }

    /// Shutdown drains every accepted event; afterwards publish fails and no handler runs.
    #[test]
    fn shutdown_drains_then_refuses(seed in any::<u64>(), before in 0u64..300, policy in policy()) {
        let (accepted, delivered, dropped, late_calls, refused, report) = in_turmoil(seed, move |rt| async move {
            let bus = EventBus::new(rt.clone(), cfg(2, 8));
            let stopped = Arc::new(AtomicBool::new(false));
            let late = Arc::new(AtomicU64::new(0));
            let (st, l) = (stopped.clone(), late.clone());
            let id = bus.subscribe(SubscribeOptions::named("s").capacity(32).backpressure(policy), move |_e| {
                if st.load(Ordering::SeqCst) { l.fetch_add(1, Ordering::SeqCst); }
            }).unwrap();
            let mut accepted = 0;
            for i in 1..=before { if bus.publish(event(1, i, (i % 3) as u8)).await.is_ok() { accepted += 1; } }
            let report = bus.shutdown().await;
            stopped.store(true, Ordering::SeqCst);
            let refused = bus.publish(event(1, 0, 0)).await == Err(Closed);
            let m = rt.metrics();
            let label = format!("s#{}", id.0);
            let dropped: u64 = DropReason::ALL.iter().map(|r| m.counter("bus.dropped", &format!("{label}:{}", r.name())).get()).sum();
            (accepted, m.counter("bus.delivered", &label).get(), dropped, late.load(Ordering::SeqCst), refused, report)
        });
        prop_assert_eq!(delivered + dropped, accepted);
        prop_assert_eq!(late_calls, 0);
        prop_assert!(refused);
        prop_assert!(!report.timed_out, "{}", report);
        prop_assert_eq!(report.delivered, delivered);
    }
}

/// Counter-check: a property above must be able to fail. With the faulty bus, per-publisher
/// order breaks (proved by the S-E4 sweep in `faulty_bus.rs`); here, a subscriber that
/// drops must show up in the counters, so a zero-capacity illusion cannot pass.
#[test]
fn drop_newest_with_tiny_mailbox_really_drops() {
    let (delivered, dropped) = in_turmoil(7, |rt| async move {
        let bus = EventBus::new(rt.clone(), cfg(1, 1));
        let (_seen, h) = recorder();
        let id =
            bus.subscribe(SubscribeOptions::named("s").capacity(1).backpressure(Backpressure::DropNewest), h).unwrap();
        for i in 1..=100 {
            bus.publish(event(1, i, 0)).await.unwrap();
        }
        bus.shutdown().await;
        let m = rt.metrics();
        (
            m.counter("bus.delivered", &format!("s#{}", id.0)).get(),
            m.counter("bus.dropped", &format!("s#{}:drop_newest", id.0)).get(),
        )
    });
    assert!(dropped > 0, "a 1-slot mailbox under a 100-event burst must drop");
    assert_eq!(delivered + dropped, 100);
}

/// `subscribe` after (or racing) shutdown is refused, and the subscriber gauge ends at zero.
#[test]
fn subscribe_after_shutdown_is_refused_and_gauge_returns_to_zero() {
    let (refused, gauge) = in_turmoil(9, |rt| async move {
        let bus = EventBus::new(rt.clone(), cfg(2, 4));
        let (_seen, h) = recorder();
        bus.subscribe(SubscribeOptions::named("a"), h).unwrap();
        let racer = {
            let bus = bus.clone();
            spawn(&rt, "test.subscriber", async move {
                let mut refused = 0;
                for _ in 0..50 {
                    if bus.subscribe(SubscribeOptions::named("late"), |_e: &Arc<Envelope>| {}).is_err() {
                        refused += 1;
                    }
                    yield_now().await;
                }
                refused
            })
        };
        bus.shutdown().await;
        let refused = racer.join().await.unwrap();
        let after = bus.subscribe(SubscribeOptions::named("after"), |_e: &Arc<Envelope>| {}).is_err();
        assert!(after, "subscribe after shutdown returned must be refused");
        (refused, rt.metrics().gauge_total("bus.subscribers"))
    });
    assert!(refused > 0, "the racing subscriber never saw the bus closed");
    assert_eq!(gauge, 0, "subscriptions added around shutdown must all be counted out");
}
