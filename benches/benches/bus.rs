//! EventBus publish-to-delivery throughput with 1, 4 and 16 subscribers, against bare
//! `tokio::sync::mpsc` channels (one per subscriber, same capacity) in the same run.
//!
//! Each iteration publishes `EVENTS` log-line events from one task and waits until every
//! subscriber has handled every event (the bus's `shutdown` drains; the baseline's consumers
//! run until their channel closes). Throughput counts deliveries: events x subscribers.
//! `block` backpressure so nothing is dropped and both sides deliver everything.
//!
//!     cargo bench -p brum-benches --bench bus
//!
//! BENCHMARKS.md records the figures and their ratio.

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use brum::rt::TokioRuntime;
use brum_core::bus::{
    Backpressure, BusConfig, Envelope, Event, EventBus, EventId, ProcessRef, Stream, SubscribeOptions,
};
use brum_core::lines::LineBatch;
use brum_core::rt::Mono;
use criterion::{BenchmarkId, Criterion, Throughput, criterion_group, criterion_main};

const EVENTS: u64 = 100_000;
const CAPACITY: usize = 1024;

fn runtime() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_multi_thread().worker_threads(2).enable_all().build().expect("tokio runtime")
}

fn event(i: u64, p: &ProcessRef, line: &Arc<LineBatch>) -> Event {
    let _ = i;
    Event::LogLines { process: p.clone(), stream: Stream::Stdout, lines: line.clone() }
}

async fn bus_run(subscribers: usize) -> Duration {
    let rt = TokioRuntime::with_seed(1);
    let cfg = BusConfig { mailbox_capacity: CAPACITY, backpressure: Backpressure::Block, ..BusConfig::with_cores(2) };
    let bus = EventBus::new(rt, cfg);
    let count = Arc::new(AtomicU64::new(0));
    for s in 0..subscribers {
        let c = count.clone();
        let mut local = 0u64;
        bus.subscribe(SubscribeOptions::named(format!("s{s}")), move |e: &Arc<Envelope>| {
            local += 1;
            std::hint::black_box(e.id);
            if local.is_multiple_of(1024) {
                c.fetch_add(1024, Ordering::Relaxed);
            }
        })
        .expect("bus open");
    }
    let p = ProcessRef::new(1, Arc::from("bench"));
    let line = Arc::new(LineBatch::one("GET /api/items 200 3.2ms"));
    let start = Instant::now();
    for i in 0..EVENTS {
        bus.publish(event(i, &p, &line)).await.expect("bus open");
    }
    let report = bus.shutdown().await;
    let took = start.elapsed();
    assert_eq!(report.delivered, EVENTS * subscribers as u64, "{report}");
    took
}

async fn mpsc_run(subscribers: usize) -> Duration {
    let p = ProcessRef::new(1, Arc::from("bench"));
    let line = Arc::new(LineBatch::one("GET /api/items 200 3.2ms"));
    let mut txs = Vec::new();
    let mut consumers = Vec::new();
    for _ in 0..subscribers {
        let (tx, mut rx) = tokio::sync::mpsc::channel::<Arc<Envelope>>(CAPACITY);
        txs.push(tx);
        consumers.push(tokio::spawn(async move {
            let mut n = 0u64;
            while let Some(e) = rx.recv().await {
                std::hint::black_box(e.id);
                n += 1;
            }
            n
        }));
    }
    let start = Instant::now();
    for i in 0..EVENTS {
        let env = Arc::new(Envelope {
            id: EventId(i),
            at: Mono::ZERO,
            wall: std::time::SystemTime::UNIX_EPOCH,
            event: event(i, &p, &line),
        });
        for tx in &txs {
            tx.send(env.clone()).await.expect("consumer alive");
        }
    }
    drop(txs);
    let mut delivered = 0;
    for c in consumers {
        delivered += c.await.expect("consumer");
    }
    let took = start.elapsed();
    assert_eq!(delivered, EVENTS * subscribers as u64);
    took
}

fn throughput(c: &mut Criterion) {
    let rt = runtime();
    let mut g = c.benchmark_group("publish_to_delivery");
    g.sample_size(10).measurement_time(Duration::from_secs(4)).warm_up_time(Duration::from_secs(1));
    for subs in [1usize, 4, 16] {
        g.throughput(Throughput::Elements(EVENTS * subs as u64));
        g.bench_with_input(BenchmarkId::new("eventbus", subs), &subs, |b, &subs| {
            b.iter_custom(|iters| {
                let mut total = Duration::ZERO;
                for _ in 0..iters {
                    total += rt.block_on(async { tokio::spawn(bus_run(subs)).await.expect("bench task") });
                }
                total
            })
        });
        g.bench_with_input(BenchmarkId::new("mpsc_baseline", subs), &subs, |b, &subs| {
            b.iter_custom(|iters| {
                let mut total = Duration::ZERO;
                for _ in 0..iters {
                    total += rt.block_on(async { tokio::spawn(mpsc_run(subs)).await.expect("bench task") });
                }
                total
            })
        });
    }
    g.finish();
}

criterion_group!(benches, throughput);
criterion_main!(benches);
