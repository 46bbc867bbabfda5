//! EventBus guarantees that need real parallelism: under tokio's multi-thread scheduler a
//! handler could only run concurrently with itself, or more handlers than workers run at once,
//! if the bus were wrong. Simulations (brum-sim) cover the rest deterministically.

use std::sync::atomic::{AtomicBool, AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Condvar, Mutex};
use std::time::Duration;

use brum::rt::TokioRuntime;
use brum_core::bus::{Backpressure, BusConfig, Event, EventBus, ProcessRef, Stream, SubscribeOptions};
use brum_core::rt::{Runtime, spawn};

fn cfg(workers: usize) -> BusConfig {
    BusConfig {
        workers,
        mailbox_capacity: 256,
        backpressure: Backpressure::Block,
        block_timeout: Duration::from_millis(50),
        drain_timeout: Duration::from_secs(10),
        batch: 16,
    }
}

fn line(p: u64, i: u64) -> Event {
    Event::log_line(ProcessRef::new(p, Arc::from("p")), Stream::Stdout, &i.to_string())
}

/// Burns a little CPU so invocations overlap in time if the bus lets them.
fn work() -> u64 {
    (0..300u64).fold(0, |a, b| a.wrapping_mul(31).wrapping_add(std::hint::black_box(b)))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn handlers_never_overlap_themselves_and_the_pool_bounds_concurrency() {
    const WORKERS: usize = 2;
    let rt = TokioRuntime::with_seed(3);
    let bus = EventBus::new(rt.clone(), cfg(WORKERS));
    let running = Arc::new(AtomicUsize::new(0));
    let peak = Arc::new(AtomicUsize::new(0));
    let mut subs = Vec::new();
    for s in 0..6 {
        let inside = Arc::new(AtomicBool::new(false));
        let overlaps = Arc::new(AtomicU64::new(0));
        let order_breaks = Arc::new(AtomicU64::new(0));
        let last = Arc::new(Mutex::new([0u64; 5]));
        let (i2, o2, b2, l2, r2, p2) =
            (inside.clone(), overlaps.clone(), order_breaks.clone(), last.clone(), running.clone(), peak.clone());
        bus.subscribe(SubscribeOptions::named(format!("s{s}")), move |e| {
            let now = r2.fetch_add(1, Ordering::SeqCst) + 1;
            p2.fetch_max(now, Ordering::SeqCst);
            if i2.swap(true, Ordering::SeqCst) {
                o2.fetch_add(1, Ordering::SeqCst);
            }
            let Event::LogLines { process, lines, .. } = &e.event else { unreachable!() };
            let seq: u64 = lines.get(0).unwrap().text.parse().unwrap();
            let mut l = l2.lock().unwrap();
            if seq <= l[process.id.0 as usize] {
                b2.fetch_add(1, Ordering::SeqCst);
            }
            l[process.id.0 as usize] = seq;
            drop(l);
            std::hint::black_box(work());
            i2.store(false, Ordering::SeqCst);
            r2.fetch_sub(1, Ordering::SeqCst);
        })
        .unwrap();
        subs.push((overlaps, order_breaks));
    }
    let publishers: Vec<_> = (1..=4u64)
        .map(|p| {
            let bus = bus.clone();
            spawn(&rt, "test.publisher", async move {
                for i in 1..=3000 {
                    bus.publish(line(p, i)).await.unwrap();
                }
            })
        })
        .collect();
    for p in publishers {
        p.join().await.unwrap();
    }
    let report = bus.shutdown().await;
    assert!(!report.timed_out, "{report}");
    assert_eq!(report.delivered, 4 * 3000 * 6, "{report}");
    for (i, (overlaps, breaks)) in subs.iter().enumerate() {
        assert_eq!(overlaps.load(Ordering::SeqCst), 0, "s{i} ran concurrently with itself");
        assert_eq!(breaks.load(Ordering::SeqCst), 0, "s{i} saw a publisher's events out of order");
    }
    let peak = peak.load(Ordering::SeqCst);
    assert!(peak <= WORKERS, "{peak} handlers ran at once with {WORKERS} workers");
    assert_eq!(rt.metrics().gauge_total("tasks.live"), 0, "tasks left after shutdown");
}

/// A stuck handler: its `block` mailbox fills, the publisher waits `block_timeout` per event,
/// then drops it and counts `block_timeout`; other subscribers are not held back (the
/// publisher is, by design: that is what `block` means).
#[tokio::test(flavor = "multi_thread", worker_threads = 3)]
async fn block_times_out_and_counts_drops_when_a_handler_is_stuck() {
    let rt = TokioRuntime::with_seed(4);
    let bus = EventBus::new(rt.clone(), cfg(2));
    let gate = Arc::new((Mutex::new(false), Condvar::new()));
    let entered = Arc::new(tokio::sync::Notify::new());
    let (g, en) = (gate.clone(), entered.clone());
    let stuck = bus
        .subscribe(SubscribeOptions::named("stuck").capacity(4).backpressure(Backpressure::Block), move |_e| {
            en.notify_one();
            let (lock, cv) = &*g;
            let mut open = lock.lock().unwrap();
            while !*open {
                open = cv.wait(open).unwrap();
            }
        })
        .unwrap();
    let fast_seen = Arc::new(AtomicU64::new(0));
    let f = fast_seen.clone();
    bus.subscribe(SubscribeOptions::named("fast").capacity(64), move |_e| {
        f.fetch_add(1, Ordering::SeqCst);
    })
    .unwrap();
    bus.publish(line(1, 1)).await.unwrap();
    entered.notified().await; // the stuck handler holds event 1
    for i in 2..=10 {
        bus.publish(line(1, i)).await.unwrap();
    }
    // Events 2..=5 fill the 4-slot mailbox; 6..=10 each waited 50ms and were dropped.
    let m = rt.metrics();
    assert_eq!(m.counter("bus.dropped", &format!("stuck#{}:block_timeout", stuck.0)).get(), 5);
    {
        let (lock, cv) = &*gate;
        *lock.lock().unwrap() = true;
        cv.notify_all();
    }
    let report = bus.shutdown().await;
    assert!(!report.timed_out, "{report}");
    assert_eq!(m.counter("bus.delivered", &format!("stuck#{}", stuck.0)).get(), 5);
    assert_eq!(fast_seen.load(Ordering::SeqCst), 10);
}

/// `lossless` is `block` without the timeout: with the handler stuck far past the block
/// timeout, the publisher waits instead of dropping, and everything arrives once released.
#[tokio::test(flavor = "multi_thread", worker_threads = 3)]
async fn lossless_waits_past_the_block_timeout_and_drops_nothing() {
    let rt = TokioRuntime::with_seed(8);
    let bus = EventBus::new(rt.clone(), cfg(2));
    let gate = Arc::new((Mutex::new(false), Condvar::new()));
    let entered = Arc::new(tokio::sync::Notify::new());
    let seen = Arc::new(AtomicU64::new(0));
    let (g, en, s) = (gate.clone(), entered.clone(), seen.clone());
    let id = bus
        .subscribe(SubscribeOptions::named("store").capacity(2).lossless(), move |_e| {
            en.notify_one();
            let (lock, cv) = &*g;
            let mut open = lock.lock().unwrap();
            while !*open {
                open = cv.wait(open).unwrap();
            }
            s.fetch_add(1, Ordering::SeqCst);
        })
        .unwrap();
    let publisher = {
        let bus = bus.clone();
        spawn(&rt, "test.publisher", async move {
            for i in 1..=10 {
                bus.publish(line(1, i)).await.unwrap();
            }
        })
    };
    entered.notified().await;
    // Absence of a drop can only be shown by waiting past the timeout (50 ms) several times.
    tokio::time::sleep(Duration::from_millis(300)).await;
    let m = rt.metrics();
    assert_eq!(m.counter("bus.dropped", &format!("store#{}:block_timeout", id.0)).get(), 0, "lossless dropped");
    {
        let (lock, cv) = &*gate;
        *lock.lock().unwrap() = true;
        cv.notify_all();
    }
    publisher.join().await.unwrap();
    bus.shutdown().await;
    assert_eq!(seen.load(Ordering::SeqCst), 10);
}
