//! EventBus races S-E2, S-E4, S-E5, S-E6, S-E7 and S-E9.

use std::collections::BTreeMap;
use std::sync::atomic::{AtomicBool, AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};

use brum_core::bus::{
    Backpressure, Closed, Envelope, Event, EventBus, EventKind, ProcessRef, Stream, SubscribeOptions,
};
use brum_core::detect::{ErrorGroup, ErrorKind, Url};
use brum_core::metrics::{MetricValue, Metrics};
use brum_core::rt::{Exit, Runtime, spawn};
use tokio::sync::mpsc;

use super::{BusKind, Cx, Outcome};
use crate::ensure;
use crate::faulty::{FaultyBus, SharedHandler};

/// What a recording handler saw.
#[derive(Default)]
struct Recorder {
    seen: Mutex<Vec<Arc<Envelope>>>,
    inside: AtomicBool,
    overlaps: AtomicU64,
    /// For a slow handler (each invocation takes `dwell`): when the invocation running now
    /// ends. An invocation that starts before then overlaps it.
    busy_until: Mutex<Option<brum_core::rt::Mono>>,
    dwell: Option<std::time::Duration>,
}

impl Recorder {
    fn seen(&self) -> Vec<Arc<Envelope>> {
        self.seen.lock().unwrap_or_else(|e| e.into_inner()).clone()
    }
}

/// A handler that records every delivery (and, if `trace_every` > 0, traces every n-th).
fn recording<R: Runtime>(cx: &Cx<R>, name: &'static str, rec: &Arc<Recorder>, trace_every: u64) -> SharedHandler {
    let rec = rec.clone();
    let trace = cx.trace.clone();
    let rt = cx.rt.clone();
    let count = AtomicU64::new(0);
    Arc::new(move |env: &Arc<Envelope>| {
        if rec.inside.swap(true, Ordering::SeqCst) {
            rec.overlaps.fetch_add(1, Ordering::SeqCst);
        }
        if let Some(dwell) = rec.dwell {
            // A synchronous handler cannot interleave with itself on one simulated thread;
            // a slow one (its invocation lasting `dwell` of virtual time, waited out by the
            // worker running it) can, if the bus runs it on two workers at once.
            let now = rt.now();
            let mut busy = rec.busy_until.lock().unwrap_or_else(|e| e.into_inner());
            if busy.is_some_and(|until| now < until) {
                rec.overlaps.fetch_add(1, Ordering::SeqCst);
            }
            *busy = Some(now + dwell);
        }
        let n = count.fetch_add(1, Ordering::Relaxed) + 1;
        let lifecycle = env.event.priority() == brum_core::bus::Priority::Lifecycle;
        if trace_every > 0 && (n.is_multiple_of(trace_every) || lifecycle) {
            trace.record(rt.now(), "deliver", name, format!("{} {}", env.id, env.event));
        }
        rec.seen.lock().unwrap_or_else(|e| e.into_inner()).push(env.clone());
        rec.inside.store(false, Ordering::SeqCst);
    })
}

fn process(id: u64) -> ProcessRef {
    ProcessRef::new(id, format!("p{id}"))
}

fn line(p: &ProcessRef, text: String) -> Event {
    Event::log_line(p.clone(), Stream::Stdout, &text)
}

/// Sum of a counter over the labels that start with `label_prefix`.
pub(super) fn counter_sum(m: &Metrics, name: &str, label_prefix: &str) -> u64 {
    m.snapshot()
        .rows
        .iter()
        .filter(|r| r.name == name && r.label.starts_with(label_prefix))
        .map(|r| match r.value {
            MetricValue::Counter(v) => v,
            _ => 0,
        })
        .sum()
}

/// (delivered, dropped) of subscription `name#id`, from the registry (survives shutdown).
pub(super) fn sub_totals(m: &Metrics, name: &str, id: u64) -> (u64, u64) {
    let label = format!("{name}#{id}");
    (counter_sum(m, "bus.delivered", &label), counter_sum(m, "bus.dropped", &format!("{label}:")))
}

/// I40: every task a scenario spawned has ended (the live-task gauge is back at `baseline`).
pub fn check_task_leaks(m: &Metrics, baseline: i64) -> Outcome {
    let live = m.gauge_total("tasks.live");
    if live != baseline {
        let leaked: Vec<String> = m
            .snapshot()
            .rows
            .iter()
            .filter(|r| r.name == "tasks.live" && r.value != MetricValue::Gauge(0))
            .map(|r| format!("{}={:?}", r.label, r.value))
            .collect();
        return Err(super::violation(
            "I40 no task leaks",
            format!("{live} tasks live after shutdown, baseline {baseline}: {}", leaked.join(", ")),
        ));
    }
    Ok(())
}

/// Checks that, in `seen`, each process's events are exactly `Started, line 1..=n, Exited`.
fn check_bracketing(who: &str, seen: &[Arc<Envelope>], procs: &[ProcessRef], n: usize) -> Outcome {
    for p in procs {
        let mine: Vec<String> = seen
            .iter()
            .filter(|e| e.event.process() == Some(p))
            .flat_map(|e| match &e.event {
                Event::ProcessStarted { .. } => vec!["started".to_string()],
                Event::LogLines { lines, .. } => lines.iter().map(|l| l.text.to_string()).collect(),
                Event::ProcessExited { .. } => vec!["exited".to_string()],
                other => vec![other.kind().name().to_string()],
            })
            .collect();
        let mut want = vec!["started".to_string()];
        want.extend((1..=n).map(|i| format!("line {i}")));
        want.push("exited".to_string());
        if mine != want {
            let at = mine.iter().zip(&want).position(|(a, b)| a != b).unwrap_or(mine.len().min(want.len()));
            return Err(super::violation(
                "I3/I14 per-subscriber FIFO, started < lines < exited",
                format!(
                    "{who} saw {p}'s events out of order: at position {at} got {:?}, expected {:?} ({} events seen, {} expected)",
                    mine.get(at),
                    want.get(at),
                    mine.len(),
                    want.len()
                ),
            ));
        }
    }
    Ok(())
}

/// brum's bus or Brummer's, behind one face.
enum AnyBus<R: Runtime> {
    Real(EventBus<R>),
    Faulty(FaultyBus<R>),
}

impl<R: Runtime> Clone for AnyBus<R> {
    fn clone(&self) -> Self {
        match self {
            AnyBus::Real(b) => AnyBus::Real(b.clone()),
            AnyBus::Faulty(b) => AnyBus::Faulty(b.clone()),
        }
    }
}

impl<R: Runtime> AnyBus<R> {
    /// Subscribes a handler each invocation of which takes `dwell` of virtual time.
    fn subscribe_slow(&self, name: &str, h: SharedHandler, dwell: std::time::Duration) {
        match self {
            AnyBus::Real(b) => {
                b.subscribe(SubscribeOptions::named(name).capacity(1024).slow(dwell), move |e| h(e))
                    .expect("bus open during setup");
            }
            AnyBus::Faulty(b) => b.subscribe_slow(h, dwell),
        }
    }

    async fn publish(&self, e: Event) {
        match self {
            AnyBus::Real(b) => {
                b.publish(e).await.expect("bus open while publishing");
            }
            AnyBus::Faulty(b) => {
                b.publish(e).await;
            }
        }
    }

    async fn shutdown(&self) {
        match self {
            AnyBus::Real(b) => {
                b.shutdown().await;
            }
            AnyBus::Faulty(b) => b.shutdown().await,
        }
    }
}

/// How long each S-E4 handler invocation takes: long enough that the next event of the same
/// subscriber is ready before it ends, so a bus that runs one subscriber on two workers at
/// once is seen overlapping it.
const S_E4_DWELL: std::time::Duration = std::time::Duration::from_micros(500);

/// S-E4: three processes' lifecycles published concurrently at seeded moments; two slow
/// subscribers. Each sees each process's events in order, and never runs twice at once
/// (Brummer's shared-queue bus, `--bus faulty`, does both wrong).
pub async fn s_e4<R: Runtime>(cx: &Cx<R>) -> Outcome {
    const LINES: usize = 40;
    let bus = match cx.bus {
        BusKind::Real => AnyBus::Real(EventBus::new(cx.rt.clone(), cx.bus_config())),
        BusKind::Faulty => AnyBus::Faulty(FaultyBus::new(cx.rt.clone(), cx.bus_config().workers)),
    };
    let slow = || Arc::new(Recorder { dwell: Some(S_E4_DWELL), ..Recorder::default() });
    let recs: Vec<(&'static str, Arc<Recorder>)> = vec![("tui", slow()), ("mcp", slow())];
    for (name, rec) in &recs {
        bus.subscribe_slow(name, recording(cx, name, rec, 1), S_E4_DWELL);
    }
    let procs: Vec<ProcessRef> = (1..=3).map(process).collect();
    let publishers: Vec<_> = procs
        .iter()
        .map(|p| {
            let bus = bus.clone();
            let p = p.clone();
            let rt = cx.rt.clone();
            spawn(&cx.rt, "scenario.publisher", async move {
                bus.publish(Event::ProcessStarted { process: p.clone(), pid: 100 + p.id.0 as u32 }).await;
                for i in 1..=LINES {
                    bus.publish(line(&p, format!("line {i}"))).await;
                    if rt.below(4) == 0 {
                        rt.sleep(std::time::Duration::from_micros(rt.below(1500))).await;
                    }
                }
                bus.publish(Event::ProcessExited { process: p.clone(), exit: Exit::Code(0) }).await;
            })
        })
        .collect();
    for t in publishers {
        t.join().await.map_err(|e| super::violation("publisher", e.to_string()))?;
    }
    bus.shutdown().await;
    // The window: one subscriber's events of different processes interleaved (publishers
    // racing into one mailbox), where a shared-queue bus can reorder them.
    let switches = recs[0].1.seen().windows(2).filter(|w| w[0].event.process() != w[1].event.process()).count();
    let window = if switches > 3 { "hit" } else { "miss" };
    cx.log("window", window, format!("tui's events switched process {switches} times"));
    for (name, rec) in &recs {
        let overlaps = rec.overlaps.load(Ordering::SeqCst);
        ensure!(
            overlaps == 0,
            "I3 handler never runs concurrently with itself",
            "{name} overlapped itself {overlaps} times"
        );
        check_bracketing(name, &rec.seen(), &procs, LINES)?;
    }
    cx.log(
        "scenario",
        "done",
        format!("{} deliveries checked", recs.iter().map(|(_, r)| r.seen().len()).sum::<usize>()),
    );
    Ok(())
}

/// S-E2: a burst far larger than the mailboxes. Phase one: 1,005 events (thirty times the
/// 32-slot mailboxes) at drop_oldest, drop_newest and degrade subscribers with nobody holding
/// the publisher back. Phase two: a `block` subscriber joins and 252 more events follow; it
/// throttles the publisher instead.
pub async fn s_e2<R: Runtime>(cx: &Cx<R>) -> Outcome {
    const BURST: u64 = 1000;
    const TAIL: u64 = 250;
    let cfg = cx.bus_config();
    let workers = cfg.workers as u64;
    let bus = EventBus::new(cx.rt.clone(), cfg);
    let max_live = Arc::new(AtomicU64::new(0));
    let subscribe = |name: &'static str, policy: Backpressure, cap: usize| {
        let rec = Arc::new(Recorder::default());
        let h = recording(cx, name, &rec, 500);
        let metrics = cx.rt.metrics().clone();
        let max_live = max_live.clone();
        bus.subscribe(SubscribeOptions::named(name).backpressure(policy).capacity(cap), move |e| {
            max_live.fetch_max(metrics.gauge_total("tasks.live") as u64, Ordering::Relaxed);
            h(e)
        })
        .map(|id| (name, policy, cap, id, rec))
        .map_err(|_| super::violation("setup", "bus closed during setup"))
    };
    let mut subs = vec![
        subscribe("mcp", Backpressure::DropOldest, 32)?,
        subscribe("audit", Backpressure::DropNewest, 32)?,
        subscribe("tui", Backpressure::Degrade, 64)?,
    ];
    let p = process(1);
    let publisher = |from: u64, to: u64, last: Option<Event>| {
        let (bus, p, rt) = (bus.clone(), p.clone(), cx.rt.clone());
        spawn(&cx.rt, "scenario.publisher", async move {
            let mut published = 0u64;
            let mut queued = Vec::new();
            if from == 1 {
                bus.publish(Event::ProcessStarted { process: p.clone(), pid: 101 }).await.ok();
                published += 1;
            }
            for i in from..=to {
                bus.publish(line(&p, format!("line {i}"))).await.ok();
                published += 1;
                if i % 250 == 0 {
                    let error = Arc::new(ErrorGroup::new(ErrorKind::Generic, format!("error after line {i}")));
                    bus.publish(Event::ErrorDetected { process: p.clone(), error }).await.ok();
                    published += 1;
                    queued.extend(bus.stats().into_iter().map(|(_, s)| (s.name, s.queued)));
                    rt.checkpoint("scenario.burst").await;
                }
            }
            if let Some(e) = last {
                bus.publish(e).await.ok();
                published += 1;
            }
            (published, queued)
        })
    };
    let join = |r: Result<(u64, Vec<(String, usize)>), brum_core::rt::JoinError>| {
        r.map_err(|e| super::violation("publisher", e.to_string()))
    };
    let (burst, mut samples) = join(publisher(1, BURST, None).join().await)?;
    subs.push(subscribe("store", Backpressure::Block, 16)?);
    let exited = Event::ProcessExited { process: p.clone(), exit: Exit::Code(1) };
    let (tail, more) = join(publisher(BURST + 1, BURST + TAIL, Some(exited)).join().await)?;
    samples.extend(more);
    let report = bus.shutdown().await;
    cx.log("bus", "shutdown", report.to_string());
    let m = cx.rt.metrics();

    // I1: no task per event: the workers and the two publishers are all that was spawned.
    let spawned = counter_sum(m, "tasks.spawned", "");
    ensure!(
        spawned == workers + 2,
        "I1 bounded execution",
        "{spawned} tasks spawned for {} events (expected {})",
        burst + tail,
        workers + 2
    );
    let peak = max_live.load(Ordering::Relaxed);
    ensure!(peak <= workers + 1, "I1 bounded execution", "{peak} tasks live during the burst, bound {}", workers + 1);
    for (name, queued) in &samples {
        let cap = subs.iter().find(|s| s.0 == name).map_or(0, |s| s.2);
        ensure!(*queued <= cap, "I1 bounded mailboxes", "{name} held {queued} events, capacity {cap}");
    }
    let mut total_dropped = 0;
    for (name, policy, _, id, rec) in &subs {
        let offered = if *policy == Backpressure::Block { tail } else { burst + tail };
        let (delivered, dropped) = sub_totals(m, name, id.0);
        total_dropped += dropped;
        let seen = rec.seen();
        cx.log(
            "oracle",
            "totals",
            format!("{name} ({policy}) offered={offered} delivered={delivered} dropped={dropped}"),
        );
        // I2: delivered + dropped == offered, and the handler saw exactly `delivered`.
        ensure!(
            delivered + dropped == offered,
            "I2 conservation",
            "{name}: delivered {delivered} + dropped {dropped} != offered {offered}"
        );
        ensure!(
            seen.len() as u64 == delivered,
            "I2 no duplicate delivery",
            "{name}: handler ran {} times, delivered counter {delivered}",
            seen.len()
        );
        ensure!(seen.windows(2).all(|w| w[0].id < w[1].id), "I3 per-subscriber FIFO", "{name} saw ids out of order");
        match policy {
            Backpressure::Block => {
                ensure!(dropped == 0, "block loses nothing while the handler keeps up", "{name} dropped {dropped}");
            }
            Backpressure::Degrade => {
                // ProcessStarted, an error every 250 lines, ProcessExited.
                let want = 2 + (BURST + TAIL) / 250;
                let lifecycle = seen.iter().filter(|e| e.event.kind() != EventKind::LogLines).count() as u64;
                ensure!(
                    lifecycle == want,
                    "degrade never drops lifecycle events",
                    "{name} saw {lifecycle} of {want} lifecycle events"
                );
            }
            Backpressure::DropOldest => {
                let last = seen.last().map(|e| e.event.kind());
                ensure!(
                    last == Some(EventKind::ProcessExited),
                    "drop_oldest keeps the newest",
                    "{name} last saw {last:?}"
                );
            }
            Backpressure::DropNewest => {
                let first = seen.first().map(|e| e.event.kind());
                ensure!(
                    first == Some(EventKind::ProcessStarted),
                    "drop_newest keeps the oldest",
                    "{name} first saw {first:?}"
                );
            }
        }
    }
    // The window: a lifecycle event met the full degrade mailbox and pushed a line out for
    // its place (where Brummer's pool-full fallback spawned a goroutine).
    let tui = subs.iter().find(|s| s.0 == "tui").map_or(0, |s| s.3.0);
    let evicted = counter_sum(m, "bus.dropped", &format!("tui#{tui}:degrade"));
    let window = if evicted > 0 && total_dropped > 0 { "hit" } else { "miss" };
    cx.log("window", window, format!("tui's full mailbox dropped {evicted} lines under degrade"));
    // The scenario must actually overflow something, or it proves nothing about drops.
    ensure!(total_dropped > 0, "scenario precondition", "the burst never filled a mailbox");
    ensure!(!report.timed_out, "I8 shutdown drains", "{report}");
    Ok(())
}

/// S-E5: shutdown races a publisher.
pub async fn s_e5<R: Runtime>(cx: &Cx<R>) -> Outcome {
    let bus = EventBus::new(cx.rt.clone(), cx.bus_config());
    let after_shutdown = Arc::new(AtomicBool::new(false));
    let late_runs = Arc::new(AtomicU64::new(0));
    let mut subs = Vec::new();
    for (name, policy, cap) in [("a", Backpressure::Degrade, 64usize), ("b", Backpressure::Block, 16)] {
        let rec = Arc::new(Recorder::default());
        let h = recording(cx, name, &rec, 50);
        let (flag, late) = (after_shutdown.clone(), late_runs.clone());
        let id = bus
            .subscribe(SubscribeOptions::named(name).backpressure(policy).capacity(cap), move |e| {
                if flag.load(Ordering::SeqCst) {
                    late.fetch_add(1, Ordering::SeqCst);
                }
                h(e)
            })
            .map_err(|_| super::violation("setup", "bus closed during setup"))?;
        subs.push((name, id, rec));
    }
    let accepted = Arc::new(AtomicU64::new(0));
    let publisher = {
        let (bus, accepted, rt) = (bus.clone(), accepted.clone(), cx.rt.clone());
        spawn(&cx.rt, "scenario.publisher", async move {
            let p = process(1);
            let mut refused = 0u64;
            for i in 1..=400u64 {
                match bus.publish(line(&p, format!("line {i}"))).await {
                    Ok(_) => {
                        accepted.fetch_add(1, Ordering::SeqCst);
                    }
                    Err(Closed) => refused += 1,
                }
                if i % 10 == 0 {
                    rt.sleep(std::time::Duration::from_micros(1 + rt.below(2000))).await;
                }
            }
            refused
        })
    };
    // A seeded moment on the runtime's clock (the publisher takes about 40 ms of it), then
    // shut down under the publisher, twice at once.
    cx.rt.sleep(std::time::Duration::from_micros(cx.rt.below(45_000))).await;
    let queued: usize = bus.stats().iter().map(|(_, s)| s.queued).sum();
    let so_far = accepted.load(Ordering::SeqCst);
    cx.log("scenario", "shutdown", format!("after {so_far} accepted, {queued} queued"));
    // The window: shutdown began while the publisher was still publishing (its next publish
    // races the close).
    let window = if so_far > 0 && so_far < 400 { "hit" } else { "miss" };
    cx.log("window", window, format!("shutdown began with {} of 400 events still to publish", 400 - so_far));
    let second = {
        let bus = bus.clone();
        spawn(&cx.rt, "scenario.shutdown2", async move { bus.shutdown().await })
    };
    let report = bus.shutdown().await;
    after_shutdown.store(true, Ordering::SeqCst);
    cx.log("bus", "shutdown", report.to_string());
    let report2 = second.join().await.map_err(|e| super::violation("shutdown task", e.to_string()))?;
    ensure!(report == report2, "I8 shutdown is idempotent", "second shutdown reported `{report2}`, first `{report}`");
    let refused = publisher.join().await.map_err(|e| super::violation("publisher", e.to_string()))?;
    let late_publish = bus.publish(line(&process(1), "late".into())).await;
    ensure!(late_publish == Err(Closed), "I8 publish after shutdown fails", "got {late_publish:?}");
    let accepted = accepted.load(Ordering::SeqCst);
    cx.log("scenario", "publisher", format!("accepted={accepted} refused={refused}"));
    ensure!(accepted + refused == 400, "publisher accounting", "accepted {accepted} + refused {refused} != 400");
    let late = late_runs.load(Ordering::SeqCst);
    ensure!(late == 0, "I8 no handler runs after shutdown", "{late} handler runs after shutdown returned");
    ensure!(!report.timed_out && report.undelivered.is_empty(), "I8 shutdown drains", "{report}");
    let m = cx.rt.metrics();
    for (name, id, rec) in &subs {
        let (delivered, dropped) = sub_totals(m, name, id.0);
        ensure!(
            delivered + dropped == accepted,
            "I2 conservation",
            "{name}: delivered {delivered} + dropped {dropped} != accepted {accepted}"
        );
        ensure!(
            rec.seen().len() as u64 == delivered,
            "I2 no duplicate delivery",
            "{name}: handler ran {} times, delivered {delivered}",
            rec.seen().len()
        );
    }
    Ok(())
}

/// S-E6: sessions subscribe and unsubscribe while events flow.
pub async fn s_e6<R: Runtime>(cx: &Cx<R>) -> Outcome {
    const SESSIONS: usize = 8;
    let bus = EventBus::new(cx.rt.clone(), cx.bus_config());
    let violations = Arc::new(Mutex::new(Vec::<String>::new()));
    let done = Arc::new(AtomicUsize::new(0));
    let late_deliveries = Arc::new(AtomicU64::new(0));
    let publisher = {
        let (bus, done, rt) = (bus.clone(), done.clone(), cx.rt.clone());
        spawn(&cx.rt, "scenario.publisher", async move {
            let p = process(1);
            let mut i = 0u64;
            // Bounded so a bug cannot spin forever; sessions need far fewer.
            while done.load(Ordering::SeqCst) < SESSIONS && i < 20_000 {
                i += 1;
                if bus.publish(line(&p, format!("line {i}"))).await.is_err() {
                    break;
                }
                // Bursts between seeded pauses: a session may be handed several events at
                // once and stop reading with some unread.
                if rt.below(3) == 0 {
                    rt.sleep(std::time::Duration::from_micros(1 + rt.below(1000))).await;
                }
            }
            i
        })
    };
    let sessions: Vec<_> = (0..SESSIONS)
        .map(|s| {
            let (bus, violations, done, rt) = (bus.clone(), violations.clone(), done.clone(), cx.rt.clone());
            let want = 5 + cx.rt.below(20);
            let trace = cx.trace.clone();
            let late = late_deliveries.clone();
            spawn(&cx.rt, "scenario.session", async move {
                let (tx, mut rx) = mpsc::channel::<Arc<Envelope>>(1024);
                let unsubscribed = Arc::new(AtomicBool::new(false));
                let (flag, v) = (unsubscribed.clone(), violations.clone());
                let id = bus.subscribe(SubscribeOptions::named(format!("session{s}")), move |e| {
                    if flag.load(Ordering::SeqCst) {
                        v.lock()
                            .unwrap_or_else(|e| e.into_inner())
                            .push(format!("session{s} handler ran after unsubscribe returned ({})", e.id));
                    }
                    if let Err(mpsc::error::TrySendError::Closed(_)) = tx.try_send(e.clone()) {
                        v.lock()
                            .unwrap_or_else(|e| e.into_inner())
                            .push(format!("session{s} handler ran after its session closed ({})", e.id));
                    }
                });
                let Ok(id) = id else {
                    done.fetch_add(1, Ordering::SeqCst);
                    return 0;
                };
                let mut got = 0;
                while got < want {
                    if rx.recv().await.is_none() {
                        break;
                    }
                    got += 1;
                }
                let removed = bus.unsubscribe(id).await;
                unsubscribed.store(true, Ordering::SeqCst);
                // Delivered after the session stopped reading and before unsubscribe returned.
                let mut unread = 0u64;
                while rx.try_recv().is_ok() {
                    unread += 1;
                }
                late.fetch_add(unread, Ordering::SeqCst);
                trace.record(
                    rt.now(),
                    "session",
                    "closed",
                    format!("session{s} after {got} events (removed={removed})"),
                );
                drop(rx);
                done.fetch_add(1, Ordering::SeqCst);
                got
            })
        })
        .collect();
    for s in sessions {
        s.join().await.map_err(|e| super::violation("session", e.to_string()))?;
    }
    let published = publisher.join().await.map_err(|e| super::violation("publisher", e.to_string()))?;
    cx.log("scenario", "publisher", format!("published {published}"));
    let remaining = bus.subscriber_count();
    let gauge = cx.rt.metrics().gauge_total("bus.subscribers");
    let report = bus.shutdown().await;
    cx.log("bus", "shutdown", report.to_string());
    // The window: a session unsubscribed while events for it were still queued (they are
    // dropped and counted, never run).
    let unsubscribed_drops: u64 = cx
        .rt
        .metrics()
        .snapshot()
        .rows
        .iter()
        .filter(|r| r.name == "bus.dropped" && r.label.starts_with("session") && r.label.ends_with(":unsubscribed"))
        .map(|r| match r.value {
            MetricValue::Counter(v) => v,
            _ => 0,
        })
        .sum();
    let late = late_deliveries.load(Ordering::SeqCst);
    let window = if unsubscribed_drops + late > 0 { "hit" } else { "miss" };
    cx.log(
        "window",
        window,
        format!(
            "{late} events reached sessions between their last read and their unsubscribe, {unsubscribed_drops} were still queued"
        ),
    );
    let v = violations.lock().unwrap_or_else(|e| e.into_inner()).clone();
    ensure!(v.is_empty(), "I4/I19 no invocation after unsubscribe", "{}", v.join("; "));
    ensure!(
        remaining == 0 && gauge == 0,
        "I40 subscriptions bounded by live sessions",
        "{remaining} subscriptions (gauge {gauge}) left after every session ended"
    );
    Ok(())
}

/// S-E7: concurrent publishers in one virtual instant.
pub async fn s_e7<R: Runtime>(cx: &Cx<R>) -> Outcome {
    const PUBLISHERS: u64 = 4;
    const EACH: u64 = 100;
    let bus = EventBus::new(cx.rt.clone(), cx.bus_config());
    let rec = Arc::new(Recorder::default());
    let h = recording(cx, "ids", &rec, 40);
    bus.subscribe(SubscribeOptions::named("ids").capacity(1024), move |e| h(e))
        .map_err(|_| super::violation("setup", "bus closed during setup"))?;
    let start = cx.rt.now();
    let pubs: Vec<_> = (1..=PUBLISHERS)
        .map(|k| {
            let (bus, rt) = (bus.clone(), cx.rt.clone());
            spawn(&cx.rt, "scenario.publisher", async move {
                for i in 1..=EACH {
                    let url =
                        Arc::new(Url::parse_announced(&format!("http://127.0.0.1:{}/{i}", 3000 + k)).expect("a URL"));
                    bus.publish(Event::UrlDetected { process: process(k), url }).await.expect("bus open");
                    rt.checkpoint("scenario.publisher").await;
                }
            })
        })
        .collect();
    for p in pubs {
        p.join().await.map_err(|e| super::violation("publisher", e.to_string()))?;
    }
    bus.shutdown().await;
    let seen = rec.seen();
    let ids: std::collections::BTreeSet<u64> = seen.iter().map(|e| e.id.0).collect();
    ensure!(
        seen.len() as u64 == PUBLISHERS * EACH,
        "I2 conservation",
        "{} of {} events delivered",
        seen.len(),
        PUBLISHERS * EACH
    );
    ensure!(ids.len() == seen.len(), "I6 unique ids", "{} distinct ids among {} events", ids.len(), seen.len());
    ensure!(
        ids.iter().copied().eq(1..=PUBLISHERS * EACH),
        "I6 ids from a counter",
        "ids are not exactly 1..={}",
        PUBLISHERS * EACH
    );
    // A clock-derived id (Brummer's UnixNano) collides whenever two publishes read the same
    // instant; make sure this run had such instants, or it proves nothing.
    let instants: std::collections::BTreeSet<_> = seen.iter().map(|e| e.at).collect();
    cx.log(
        "oracle",
        "instants",
        format!(
            "{} events published in {} distinct instants since {}ms",
            seen.len(),
            instants.len(),
            start.as_millis()
        ),
    );
    // The window: two publishes read the same instant (a clock-derived id collides there).
    let window = if instants.len() < seen.len() { "hit" } else { "miss" };
    cx.log("window", window, format!("{} publishes shared an instant with another", seen.len() - instants.len()));
    ensure!(
        instants.len() < seen.len(),
        "scenario precondition",
        "every publish read a distinct instant; the collision case was not exercised"
    );
    let mut last: BTreeMap<u64, u64> = BTreeMap::new();
    for e in &seen {
        let p = e.event.process().map(|p| p.id.0).unwrap_or(0);
        let prev = last.insert(p, e.id.0).unwrap_or(0);
        ensure!(e.id.0 > prev, "I6 ids increase in publish order", "publisher {p}: {} after e{prev}", e.id);
    }
    Ok(())
}

/// S-E9: a panicking handler beside two healthy ones.
pub async fn s_e9<R: Runtime>(cx: &Cx<R>) -> Outcome {
    let cfg = cx.bus_config();
    let workers = cfg.workers as i64;
    let bus = EventBus::new(cx.rt.clone(), cfg);
    let mut recs = Vec::new();
    let mut panicky = None;
    // Events the panicky handler panicked on, and how many of them a good handler got after.
    let panicked = Arc::new(Mutex::new(std::collections::BTreeSet::<u64>::new()));
    let after_panic = Arc::new(AtomicU64::new(0));
    for name in ["good1", "panicky", "good2"] {
        let rec = Arc::new(Recorder::default());
        let h = recording(cx, name, &rec, 25);
        let explode = name == "panicky";
        let (panicked, after) = (panicked.clone(), after_panic.clone());
        let id = bus
            .subscribe(SubscribeOptions::named(name).capacity(256), move |e| {
                h(e);
                let mut set = panicked.lock().unwrap_or_else(|e| e.into_inner());
                if explode && e.id.0 % 3 == 0 {
                    set.insert(e.id.0);
                    drop(set);
                    panic!("intentional panic (S-E9) at {}", e.id);
                }
                if !explode && set.contains(&e.id.0) {
                    after.fetch_add(1, Ordering::SeqCst);
                }
            })
            .map_err(|_| super::violation("setup", "bus closed during setup"))?;
        if explode {
            panicky = Some(id);
        }
        recs.push((name, rec));
    }
    let pubs: Vec<_> = (1..=2u64)
        .map(|k| {
            let (bus, rt) = (bus.clone(), cx.rt.clone());
            spawn(&cx.rt, "scenario.publisher", async move {
                let p = process(k);
                bus.publish(Event::ProcessStarted { process: p.clone(), pid: 100 + k as u32 }).await.expect("bus open");
                for i in 1..=48 {
                    bus.publish(line(&p, format!("line {i}"))).await.expect("bus open");
                    if rt.below(4) == 0 {
                        rt.sleep(std::time::Duration::from_micros(rt.below(1500))).await;
                    }
                }
                bus.publish(Event::ProcessExited { process: p.clone(), exit: Exit::Code(0) }).await.expect("bus open");
            })
        })
        .collect();
    for p in pubs {
        p.join().await.map_err(|e| super::violation("publisher", e.to_string()))?;
    }
    // Let the mailboxes drain before looking at the pool: shutdown drains, but we want the
    // worker gauge while the bus is still up.
    while bus.stats().iter().any(|(_, s)| s.queued > 0) {
        cx.rt.sleep(std::time::Duration::from_millis(1)).await;
    }
    // The window: a healthy subscriber got an event after the panicky one had panicked on it
    // (the panic came first, and isolation had to hold for the rest).
    let after = after_panic.load(Ordering::SeqCst);
    let window = if after > 0 { "hit" } else { "miss" };
    cx.log("window", window, format!("{after} deliveries of an event after a handler panicked on it"));
    let m = cx.rt.metrics();
    let live_workers = m.gauge("tasks.live", "bus.worker").get();
    let report = bus.shutdown().await;
    cx.log("bus", "shutdown", report.to_string());
    ensure!(
        live_workers == workers,
        "I5 failure isolation keeps the pool",
        "{live_workers} workers live after panics, expected {workers}"
    );
    let worker_panics = m.counter("tasks.panicked", "bus.worker").get();
    ensure!(worker_panics == 0, "I5 failure isolation", "{worker_panics} worker tasks died of a handler panic");
    let procs = [process(1), process(2)];
    for (name, rec) in &recs {
        check_bracketing(name, &rec.seen(), &procs, 48)?;
    }
    let id = panicky.map(|i| i.0).unwrap_or(0);
    let panics = m.counter("bus.handler_panics", &format!("panicky#{id}")).get();
    ensure!(panics == 100 / 3, "I5 panics counted", "{panics} panics counted, expected {}", 100 / 3);
    cx.log("oracle", "panics", format!("panicky panicked {panics} times; others unaffected"));
    Ok(())
}
