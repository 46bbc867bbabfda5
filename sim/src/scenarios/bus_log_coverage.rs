//! EventBus, log-store and findings races the first scenarios left out: S-E1 (a slow handler
//! costs no task per event), S-E3 (one event per line; a lifecycle subscriber never queues
//! lines), S-E8 (one shared immutable payload), S-L4 (an append's id is the stored entry's),
//! S-L6 (readers query the store while it appends), S-L7 (a URL printed on both streams is
//! listed once, in order) and S-L8 (the log service's file sink gets every stored line in
//! order, across a restart's clear).

use std::collections::{BTreeMap, BTreeSet};
use std::path::PathBuf;
use std::sync::atomic::{AtomicI64, AtomicU64, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Duration;

use brum_core::bus::{
    Backpressure, Envelope, Event, EventBus, EventKind, KindSet, ProcessRef, Stream, SubscribeOptions,
};
use brum_core::detect::Url;
use brum_core::lines::LineBatch;
use brum_core::logs::{EntryRef, Filter, LogService, LogSink, LogStoreConfig, ProcessFilter};
use brum_core::rt::{Exit, Mono, Runtime, spawn};
use brum_core::script::{Command, RestartLimits, RestartPolicy, Script, SourceKind};

use super::bus_races::{counter_sum, sub_totals};
use super::log_races::{line_no, order_of, store_order};
use super::{Cx, Outcome, violation};
use crate::conformance::Programs;
use crate::ensure;
use crate::procs::{Program, Step};

fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|e| e.into_inner())
}

fn process(id: u64) -> ProcessRef {
    ProcessRef::new(id, format!("p{id}"))
}

fn numbered(p: &ProcessRef, i: u64) -> Event {
    Event::log_line(p.clone(), Stream::Stdout, &format!("{} line {i}", p.name))
}

fn budget_all() -> LogStoreConfig {
    LogStoreConfig { budget_bytes: 64 * 1024 * 1024, max_line_bytes: 4096 }
}

/// A seeded moment: sleeps 0..`max_us` microseconds on the runtime's clock.
async fn moment<R: Runtime>(rt: &R, max_us: u64) {
    rt.sleep(Duration::from_micros(rt.below(max_us))).await;
}

/// `1 1 2 3 1`-style run of who delivered what, compacted to `1x2 2 3 1`.
fn runs(ids: &[u64]) -> String {
    let mut out: Vec<String> = Vec::new();
    let mut i = 0;
    while i < ids.len() {
        let mut j = i;
        while j < ids.len() && ids[j] == ids[i] {
            j += 1;
        }
        out.push(if j - i > 1 { format!("{}x{}", ids[i], j - i) } else { ids[i].to_string() });
        i = j;
    }
    out.join(" ")
}

/// S-E1: three publishers at seeded moments into a handler that takes 2 ms per event, beside a
/// fast one. However far the slow handler falls behind, the bus runs on its workers alone: no
/// task per event or per invocation (I1), the slow mailbox holds its publishers back instead
/// (lossless), and every event reaches both subscribers in each publisher's order. Mutant
/// `bus.task_per_delivery` (a busy handler's deliveries handed to a task each) spawns tasks.
pub async fn s_e1<R: Runtime>(cx: &Cx<R>) -> Outcome {
    const PUBLISHERS: u64 = 3;
    const EACH: u64 = 40;
    let cfg = cx.bus_config();
    let workers = cfg.workers as u64;
    let bus = EventBus::new(cx.rt.clone(), cfg);
    let metrics = cx.rt.metrics().clone();
    let peak = Arc::new(AtomicI64::new(0));
    let slow_seen = Arc::new(Mutex::new(Vec::<(u64, u64)>::new()));
    let fast_seen = Arc::new(Mutex::new(Vec::<(u64, u64)>::new()));
    let who = |e: &Arc<Envelope>| match &e.event {
        Event::LogLines { process, lines, .. } => (process.id.0, lines.iter().next().map_or(0, |l| line_no(l.text))),
        _ => (0, 0),
    };
    let (seen, pk, m) = (slow_seen.clone(), peak.clone(), metrics.clone());
    let slow = bus
        .subscribe(SubscribeOptions::named("slow").lossless().capacity(8).slow(Duration::from_millis(2)), move |e| {
            pk.fetch_max(m.gauge_total("tasks.live"), Ordering::SeqCst);
            lock(&seen).push(who(e));
        })
        .map_err(|_| violation("setup", "bus closed"))?;
    let seen = fast_seen.clone();
    let fast = bus
        .subscribe(SubscribeOptions::named("fast").capacity(1024), move |e| lock(&seen).push(who(e)))
        .map_err(|_| violation("setup", "bus closed"))?;
    let publishers: Vec<_> = (1..=PUBLISHERS)
        .map(|k| {
            let (bus, rt, pk, m) = (bus.clone(), cx.rt.clone(), peak.clone(), metrics.clone());
            spawn(&cx.rt, "scenario.publisher", async move {
                let p = process(k);
                let mut refused = 0u64;
                for i in 1..=EACH {
                    moment(&rt, 3000).await;
                    refused += u64::from(bus.publish(numbered(&p, i)).await.is_err());
                    pk.fetch_max(m.gauge_total("tasks.live"), Ordering::SeqCst);
                }
                refused
            })
        })
        .collect();
    let mut refused = 0;
    for t in publishers {
        refused += t.join().await.map_err(|e| violation("publisher", e.to_string()))?;
    }
    let report = bus.shutdown().await;
    cx.log("bus", "shutdown", report.to_string());
    let slow_order: Vec<u64> = lock(&slow_seen).iter().map(|(p, _)| *p).collect();
    cx.log("deliver", "slow", format!("publishers in delivery order: {}", runs(&slow_order)));
    let waits = counter_sum(&metrics, "bus.publish_waits", &format!("slow#{}", slow.0));
    let spawned = counter_sum(&metrics, "tasks.spawned", "");
    let peak = peak.load(Ordering::SeqCst) as u64;
    cx.log("oracle", "tasks", format!("spawned={spawned} peak_live={peak} slow_publish_waits={waits}"));
    // The race's window: a publish found the slow handler busy with a full mailbox (where
    // Brummer's bus spawned a goroutine for it).
    let window = if waits > 0 { "hit" } else { "miss" };
    cx.log("window", window, format!("{waits} publishes found the slow handler busy and its mailbox full"));
    ensure!(refused == 0, "I2 the open bus takes every event", "{refused} publishes refused");
    ensure!(
        spawned == workers + PUBLISHERS,
        "I1 no task per event",
        "{spawned} tasks spawned for {} events (the workers and publishers are {})",
        PUBLISHERS * EACH,
        workers + PUBLISHERS
    );
    ensure!(
        peak <= workers + PUBLISHERS,
        "I1 bounded execution",
        "{peak} tasks live at once, bound {}",
        workers + PUBLISHERS
    );
    for (name, id, seen) in [("slow", slow, &slow_seen), ("fast", fast, &fast_seen)] {
        let (delivered, dropped) = sub_totals(&metrics, name, id.0);
        ensure!(
            delivered == PUBLISHERS * EACH && dropped == 0,
            "I2 conservation",
            "{name}: delivered {delivered}, dropped {dropped} of {}",
            PUBLISHERS * EACH
        );
        let seen = lock(seen).clone();
        for k in 1..=PUBLISHERS {
            let lines: Vec<u64> = seen.iter().filter(|(p, _)| *p == k).map(|(_, n)| *n).collect();
            ensure!(
                lines.iter().copied().eq(1..=EACH),
                "I3 per-subscriber FIFO",
                "{name} saw p{k}'s lines as {lines:?}"
            );
        }
    }
    Ok(())
}

/// S-E3: a chatty process floods 300 lines (one event per line) while a quick one starts,
/// prints three lines and exits at a seeded moment. A `status` subscriber that asked only for
/// lifecycle events (a 4-slot mailbox, a 1 ms handler) gets exactly the four lifecycle events,
/// never a line, drops nothing and sees the exit within I9's 100 ms; the store holds every
/// line once, and a slow TUI (all kinds, degrade) keeps all four lifecycle events however far
/// behind it falls. Mutant `bus.kinds_at_delivery` (kinds filtered by the worker, after queueing)
/// fills the status mailbox with lines.
pub async fn s_e3<R: Runtime>(cx: &Cx<R>) -> Outcome {
    const LINES: u64 = 300;
    let bus = EventBus::new(cx.rt.clone(), cx.bus_config());
    let service =
        LogService::attach(cx.rt.clone(), &bus, budget_all()).map_err(|_| violation("setup", "bus closed"))?;
    let status_seen = Arc::new(Mutex::new(Vec::<(String, Mono, Mono)>::new()));
    let (seen, rt) = (status_seen.clone(), cx.rt.clone());
    let lifecycle = KindSet::of(&[EventKind::ProcessStarted, EventKind::ProcessExited]);
    let status = bus
        .subscribe(
            SubscribeOptions::named("status").kinds(lifecycle).capacity(4).slow(Duration::from_millis(1)),
            move |e| {
                let what = match &e.event {
                    Event::ProcessStarted { process, .. } => format!("{} started", process.name),
                    Event::ProcessExited { process, .. } => format!("{} exited", process.name),
                    other => format!("{} {}", other.kind().name(), e.id),
                };
                lock(&seen).push((what, e.at, rt.now()));
            },
        )
        .map_err(|_| violation("setup", "bus closed"))?;
    let tui_lifecycle = Arc::new(AtomicU64::new(0));
    let t = tui_lifecycle.clone();
    // A TUI that renders every event, slower than the flood: its mailbox stays behind.
    let tui_opts = SubscribeOptions::named("tui")
        .capacity(64)
        .backpressure(Backpressure::Degrade)
        .slow(Duration::from_micros(200));
    bus.subscribe(tui_opts, move |e| {
        if e.event.kind() != EventKind::LogLines {
            t.fetch_add(1, Ordering::SeqCst);
        }
    })
    .map_err(|_| violation("setup", "bus closed"))?;
    let chatty = {
        let (bus, rt) = (bus.clone(), cx.rt.clone());
        spawn(&cx.rt, "scenario.chatty", async move {
            let p = process(1);
            let mut refused =
                u64::from(bus.publish(Event::ProcessStarted { process: p.clone(), pid: 101 }).await.is_err());
            // Bursts of 5 to 29 lines (one read of a pipe each), a seeded pause after each.
            let mut burst = 0;
            for i in 1..=LINES {
                refused += u64::from(bus.publish(numbered(&p, i)).await.is_err());
                if burst == 0 {
                    burst = 5 + rt.below(25);
                    moment(&rt, 1500).await;
                }
                burst -= 1;
            }
            refused +=
                u64::from(bus.publish(Event::ProcessExited { process: p.clone(), exit: Exit::Code(0) }).await.is_err());
            refused
        })
    };
    let quick = {
        let (bus, rt) = (bus.clone(), cx.rt.clone());
        spawn(&cx.rt, "scenario.quick", async move {
            let p = process(2);
            moment(&rt, 15_000).await;
            let mut refused =
                u64::from(bus.publish(Event::ProcessStarted { process: p.clone(), pid: 102 }).await.is_err());
            moment(&rt, 5000).await;
            for i in 1..=3 {
                refused += u64::from(bus.publish(numbered(&p, i)).await.is_err());
            }
            // What the exit has ahead of it in the line subscribers' mailboxes.
            let ahead: usize = bus.stats().iter().filter(|(_, s)| s.name != "status").map(|(_, s)| s.queued).sum();
            refused +=
                u64::from(bus.publish(Event::ProcessExited { process: p.clone(), exit: Exit::Code(0) }).await.is_err());
            (refused, ahead)
        })
    };
    let refused_chatty = chatty.join().await.map_err(|e| violation("chatty", e.to_string()))?;
    let (refused_quick, ahead) = quick.join().await.map_err(|e| violation("quick", e.to_string()))?;
    let report = bus.shutdown().await;
    cx.log("bus", "shutdown", report.to_string());
    let seen = lock(&status_seen).clone();
    for (what, at, now) in &seen {
        cx.log(
            "deliver",
            "status",
            format!("{what} published {}ms delivered +{}us", at.as_millis(), now.saturating_since(*at).as_micros()),
        );
    }
    // The window: p1's flood still queued ahead of p2's exit (more than p2's own 3 lines in
    // the tui's and the store's mailboxes), the exit Brummer's FIFO made wait.
    let window = if ahead > 2 * 3 { "hit" } else { "miss" };
    cx.log("window", window, format!("p2's exit was published with {ahead} events queued ahead in the line mailboxes"));
    ensure!(refused_chatty + refused_quick == 0, "I2 the open bus takes every event", "publishes refused");
    let m = cx.rt.metrics();
    let (delivered, dropped) = sub_totals(m, "status", status.0);
    ensure!(
        dropped == 0 && delivered == 4,
        "I2 a subscriber gets what it asked for, nothing dropped",
        "status: delivered {delivered}, dropped {dropped} (it asked for 4 lifecycle events)"
    );
    let whats: Vec<&str> = seen.iter().map(|(w, _, _)| w.as_str()).collect();
    for p in ["p1", "p2"] {
        let mine: Vec<&str> = whats.iter().copied().filter(|w| w.starts_with(&format!("{p} "))).collect();
        let want = [format!("{p} started"), format!("{p} exited")];
        ensure!(mine == want, "I2/I14 status sees each lifecycle event once, in order", "{p}: {mine:?}");
    }
    for (what, at, now) in &seen {
        let late = now.saturating_since(*at);
        ensure!(
            late <= Duration::from_millis(100),
            "I9 an exit never waits behind lines",
            "status got `{what}` {}ms after it was published",
            late.as_millis()
        );
    }
    let tui = tui_lifecycle.load(Ordering::SeqCst);
    ensure!(tui == 4, "degrade never drops lifecycle events", "tui saw {tui} of 4 lifecycle events");
    // One event per output line: the store holds each line once, and the bus carried exactly
    // the lines and the four lifecycle events (nobody republished a line).
    let published = bus.published();
    ensure!(
        published == LINES + 3 + 4,
        "I2 one event per output line",
        "{published} events published for {} lines and 4 lifecycle events",
        LINES + 3
    );
    let entries = service.entries();
    for (k, n) in [(1u64, LINES), (2, 3)] {
        let lines: Vec<u64> = entries.iter().filter(|e| e.process.id == k).map(|e| line_no(&e.text)).collect();
        ensure!(
            lines.iter().copied().eq(1..=n),
            "I21/I22 each line stored once, in order",
            "p{k}: {} stored",
            lines.len()
        );
    }
    service.close().await;
    Ok(())
}

/// What one S-E8 subscriber got: each envelope and when.
type Deliveries = Vec<(Arc<Envelope>, Mono)>;

/// S-E8: one publisher, three subscribers (one slow, with a 4-slot lossless mailbox that holds
/// the publisher back). Every subscriber gets the same allocation for each event (one shared,
/// immutable envelope: I7), the publisher's own line batch inside it (no copy), and its text
/// unchanged after every handler ran. Mutant `bus.copy_per_subscriber` (a defensive copy per
/// subscriber, stamped when offered) hands them different events.
pub async fn s_e8<R: Runtime>(cx: &Cx<R>) -> Outcome {
    const EVENTS: u64 = 60;
    let bus = EventBus::new(cx.rt.clone(), cx.bus_config());
    let names = ["a", "slow", "c"];
    let mut seen: Vec<Arc<Mutex<Deliveries>>> = Vec::new();
    for name in names {
        let got = Arc::new(Mutex::new(Vec::new()));
        let (g, rt) = (got.clone(), cx.rt.clone());
        let opts = if name == "slow" {
            SubscribeOptions::named(name).lossless().capacity(4).slow(Duration::from_millis(1))
        } else {
            SubscribeOptions::named(name).capacity(1024)
        };
        bus.subscribe(opts, move |e| lock(&g).push((e.clone(), rt.now())))
            .map_err(|_| violation("setup", "bus closed"))?;
        seen.push(got);
    }
    let publisher = {
        let (bus, rt) = (bus.clone(), cx.rt.clone());
        spawn(&cx.rt, "scenario.publisher", async move {
            let p = process(1);
            let mut sent: Vec<(Arc<LineBatch>, String)> = Vec::new();
            let mut refused = 0u64;
            for i in 1..=EVENTS {
                // Bursts between seeded pauses: a burst longer than the slow mailbox waits.
                if rt.below(3) == 0 {
                    moment(&rt, 4000).await;
                }
                let text = format!("p1 line {i}");
                let lines = Arc::new(LineBatch::one(&text));
                let e = Event::LogLines { process: p.clone(), stream: Stream::Stdout, lines: lines.clone() };
                refused += u64::from(bus.publish(e).await.is_err());
                sent.push((lines, text));
            }
            (sent, refused)
        })
    };
    let (sent, refused) = publisher.join().await.map_err(|e| violation("publisher", e.to_string()))?;
    bus.shutdown().await;
    ensure!(refused == 0, "I2 the open bus takes every event", "{refused} refused");
    let seen: Vec<Deliveries> = seen.iter().map(|s| lock(s).clone()).collect();
    for (name, got) in names.iter().zip(&seen) {
        ensure!(got.len() as u64 == EVENTS, "I2 conservation", "{name} got {} of {EVENTS} events", got.len());
    }
    let mut staggered = 0;
    let mut spread = Vec::new();
    for i in 0..EVENTS as usize {
        let first = &seen[0][i].0;
        let times: Vec<Mono> = seen.iter().map(|s| s[i].1).collect();
        if times.iter().any(|t| *t != times[0]) {
            staggered += 1;
        }
        if i % 10 == 9 {
            spread.push(format!(
                "{}:+{}ms",
                first.id,
                times.iter().max().map_or(0, |t| t.saturating_since(times[0]).as_millis())
            ));
        }
        for (name, got) in names.iter().zip(&seen).skip(1) {
            ensure!(
                Arc::ptr_eq(first, &got[i].0),
                "I7 one shared immutable payload",
                "{name} got its own copy of event {} (id {}, at {}ms; a got id {}, at {}ms)",
                i + 1,
                got[i].0.id,
                got[i].0.at.as_millis(),
                first.id,
                first.at.as_millis()
            );
        }
        let Event::LogLines { lines, .. } = &first.event else {
            return Err(violation("I7 one shared immutable payload", format!("event {} is not the line sent", i + 1)));
        };
        let (mine, text) = &sent[i];
        ensure!(
            Arc::ptr_eq(lines, mine),
            "I7 zero-copy payload",
            "event {} carries a copy of the publisher's batch",
            i + 1
        );
        let now: Vec<&str> = lines.iter().map(|l| l.text).collect();
        ensure!(now == [text.as_str()], "I7 payload unchanged after delivery", "event {}: {now:?}", i + 1);
    }
    cx.log(
        "deliver",
        "spread",
        format!("{staggered} events reached the subscribers at different instants; every 10th: {}", spread.join(" ")),
    );
    // The window: the slow subscriber held the publisher back, so several shared envelopes
    // were alive at once, queued for one subscriber while others had handled them (where a
    // copy made at offer time diverges, and a mutable payload could be changed under a reader).
    let waits = counter_sum(cx.rt.metrics(), "bus.publish_waits", "slow#");
    let window = if waits > 0 { "hit" } else { "miss" };
    cx.log("window", window, format!("{waits} publishes waited for the slow subscriber"));
    Ok(())
}

/// S-L4: three producers append directly at seeded moments while a fourth's lines come
/// through the bus. Every append's id names the entry stored for it (checked at once and at
/// the end: I26); ids are unique and increase in call order; the store holds exactly what
/// was accepted, nothing fabricated, nothing lost (I20). Mutant `logs.fabricated_id` (the id
/// of the next line returned) is caught at the first append.
pub async fn s_l4<R: Runtime>(cx: &Cx<R>, _programs: &Programs) -> Outcome {
    const EACH: u64 = 50;
    let bus = EventBus::new(cx.rt.clone(), cx.bus_config());
    let service =
        LogService::attach(cx.rt.clone(), &bus, budget_all()).map_err(|_| violation("setup", "bus closed"))?;
    let direct: Vec<_> = (1..=3u64)
        .map(|k| {
            let (service, rt) = (service.clone(), cx.rt.clone());
            spawn(&cx.rt, "scenario.producer", async move {
                let p = process(k);
                let mut got: Vec<(u64, u64)> = Vec::new();
                let mut wrong = Vec::new();
                for i in 1..=EACH {
                    moment(&rt, 800).await;
                    let text = format!("{} line {i}", p.name);
                    match service.append_direct(&p, &text, rt.now()) {
                        Ok(id) => {
                            let stored = service.get(id).map(|e| (e.process.id.0, e.text));
                            if stored != Some((k, text.clone())) {
                                wrong.push(format!("{text} got id {} which holds {stored:?}", id.0));
                            }
                            got.push((id.0, i));
                        }
                        Err(e) => wrong.push(format!("{text} refused: {e}")),
                    }
                }
                (got, wrong)
            })
        })
        .collect();
    let via_bus = {
        let (bus, rt) = (bus.clone(), cx.rt.clone());
        spawn(&cx.rt, "scenario.producer", async move {
            let p = process(4);
            let mut refused = 0u64;
            for i in 1..=EACH {
                moment(&rt, 800).await;
                refused += u64::from(bus.publish(numbered(&p, i)).await.is_err());
            }
            refused
        })
    };
    let mut returned: BTreeMap<u64, (u64, u64)> = BTreeMap::new();
    for (k, t) in (1u64..).zip(direct) {
        let (got, wrong) = t.join().await.map_err(|e| violation("producer", e.to_string()))?;
        ensure!(wrong.is_empty(), "I26 an append returns the stored entry's id", "p{k}: {}", wrong.join("; "));
        ensure!(
            got.windows(2).all(|w| w[0].0 < w[1].0),
            "I26 ids increase in call order",
            "p{k} got ids {:?}",
            got.iter().map(|g| g.0).collect::<Vec<_>>()
        );
        for (id, i) in got {
            let dup = returned.insert(id, (k, i));
            ensure!(dup.is_none(), "I26 unique ids", "id {id} returned to p{k} line {i} and to {dup:?}");
        }
    }
    let refused = via_bus.join().await.map_err(|e| violation("producer", e.to_string()))?;
    ensure!(refused == 0, "I2 the open bus takes every event", "{refused} refused");
    bus.shutdown().await;
    let entries = service.entries();
    cx.log("logs", "order", store_order(&entries));
    // Every held entry is one a producer was told about (or a bus line), and vice versa.
    for e in &entries {
        let k = e.process.id.0;
        if k == 4 {
            continue;
        }
        let want = returned.get(&e.id.0).map(|(p, i)| format!("p{p} line {i}"));
        ensure!(
            want.as_deref() == Some(e.text.as_str()),
            "I26 no fabricated entry",
            "entry {} `{}` was never returned by an append (returned: {want:?})",
            e.id.0,
            e.text
        );
    }
    ensure!(
        entries.len() as u64 == 4 * EACH,
        "I20 no lost accepted line",
        "{} entries held, {} accepted",
        entries.len(),
        4 * EACH
    );
    let bus_lines: Vec<u64> = entries.iter().filter(|e| e.process.id == 4).map(|e| line_no(&e.text)).collect();
    ensure!(bus_lines.iter().copied().eq(1..=EACH), "I22 per-producer FIFO", "p4 (the bus) stored {bus_lines:?}");
    // The window: a direct append was handed an id between two lines of the bus path.
    let ids4: Vec<u64> = entries.iter().filter(|e| e.process.id == 4).map(|e| e.id.0).collect();
    let between = returned
        .keys()
        .filter(|id| ids4.first().is_some_and(|f| f < id) && ids4.last().is_some_and(|l| *id < l))
        .count();
    let window = if between > 0 { "hit" } else { "miss" };
    cx.log("window", window, format!("{between} direct appends got ids between the bus path's lines"));
    service.close().await;
    Ok(())
}

/// S-L6: two readers (a TUI pane and an MCP resource, like Brummer's `getRecentLogs(100)` on
/// every line) query the log store from their handlers on every line, while the store's own
/// handler appends and copies to its sink under the store lock, and a clear lands at a seeded
/// moment. Nothing calls out under the store lock except the sink, so the run ends (no
/// deadlock: I27, I39) and every read sees a consistent store: each producer's lines a
/// contiguous, increasing run (I22, I24).
///
/// No mutant: brum has no inline (synchronous) publish path and the store publishes nothing,
/// so Brummer's shape (a publish under the store lock reaching a handler that reads the
/// store) cannot be planted without inventing one; and a planted re-entrant lock would hang
/// the simulator's OS thread (std's mutex) instead of failing an oracle.
pub async fn s_l6<R: Runtime>(cx: &Cx<R>, _programs: &Programs) -> Outcome {
    const EACH: u64 = 120;
    let bus = EventBus::new(cx.rt.clone(), cx.bus_config());
    let file = Arc::new(MemFile::default());
    // `tui` subscribes before the store and `mcp` after it, so a worker may run a reader
    // before or after the store's own handler for the same line.
    let shared: Arc<std::sync::OnceLock<LogService<R>>> = Arc::new(std::sync::OnceLock::new());
    let bad = Arc::new(Mutex::new(Vec::<String>::new()));
    let reads = Arc::new(AtomicU64::new(0));
    let mid_append = Arc::new(AtomicU64::new(0));
    let mut service = None;
    for name in ["tui", "logstore", "mcp"] {
        if name == "logstore" {
            let sink = MemSink { buf: Vec::new(), file: file.clone() };
            service = Some(
                LogService::attach_with_sink(cx.rt.clone(), &bus, budget_all(), Some(Box::new(sink)))
                    .map_err(|_| violation("setup", "bus closed"))?,
            );
            continue;
        }
        let (shared, bad, reads, mid) = (shared.clone(), bad.clone(), reads.clone(), mid_append.clone());
        bus.subscribe(
            SubscribeOptions::named(name).capacity(256).kinds(KindSet::of(&[EventKind::LogLines])),
            move |e| {
                let (Some(p), Some(service)) = (e.event.process(), shared.get()) else { return };
                let filter = Filter { process: Some(ProcessFilter::Id(p.id.0)), ..Filter::default() };
                let tail: Vec<u64> = service.tail(&filter, 100).iter().map(|l| line_no(&l.text)).collect();
                reads.fetch_add(1, Ordering::SeqCst);
                let Event::LogLines { lines, .. } = &e.event else { return };
                let this = lines.iter().next().map_or(0, |l| line_no(l.text));
                // The store's handler has not stored this line yet: the reader ran between the
                // publish and the append.
                if !tail.contains(&this) {
                    mid.fetch_add(1, Ordering::SeqCst);
                }
                if !tail.windows(2).all(|w| w[1] == w[0] + 1) {
                    lock(&bad).push(format!("{name} read {p}'s tail as {tail:?}"));
                }
            },
        )
        .map_err(|_| violation("setup", "bus closed"))?;
    }
    let service = service.ok_or_else(|| violation("setup", "no log service"))?;
    if shared.set(service.clone()).is_err() {
        return Err(violation("setup", "the readers' store was set twice"));
    }
    let producers: Vec<_> = (1..=2u64)
        .map(|k| {
            let (bus, rt) = (bus.clone(), cx.rt.clone());
            spawn(&cx.rt, "scenario.producer", async move {
                let p = process(k);
                let mut refused = 0u64;
                for i in 1..=EACH {
                    refused += u64::from(bus.publish(numbered(&p, i)).await.is_err());
                    if rt.below(3) == 0 {
                        moment(&rt, 1000).await;
                    }
                }
                refused
            })
        })
        .collect();
    moment(&cx.rt, 30_000).await;
    let cleared = service.clear_all();
    cx.log("logs", "clear", format!("cleared {cleared} lines"));
    let mut refused = 0;
    for t in producers {
        refused += t.join().await.map_err(|e| violation("producer", e.to_string()))?;
    }
    bus.shutdown().await;
    service.close().await;
    ensure!(refused == 0, "I2 the open bus takes every event", "{refused} refused");
    let bad = lock(&bad).clone();
    ensure!(bad.is_empty(), "I24 reads under appends see a consistent store", "{}", bad.join("; "));
    let st = service.stats();
    ensure!(
        st.appended == 2 * EACH && st.entries + cleared == 2 * EACH,
        "I20/I25 every line stored; the clear took exactly what was there",
        "appended {}, held {}, cleared {cleared}",
        st.appended,
        st.entries
    );
    let written = lock(&file.lines).len() as u64;
    ensure!(written == st.appended, "I20 the sink got every stored line", "{written} written, {} stored", st.appended);
    let (reads, mid) = (reads.load(Ordering::SeqCst), mid_append.load(Ordering::SeqCst));
    cx.log("logs", "reads", format!("{reads} reads, {mid} before their own line was stored"));
    cx.log("logs", "order", store_order(&service.entries()));
    // The window: a reader queried the store while the line it was handed was still on its
    // way to the store (reader and appender racing on one lock).
    let window = if mid > 0 && cleared > 0 { "hit" } else { "miss" };
    cx.log("window", window, format!("{mid} reads raced their line's append; the clear took {cleared}"));
    Ok(())
}

/// The file a [`MemSink`] writes: what reached "disk", in order.
#[derive(Default)]
struct MemFile {
    lines: Mutex<Vec<(u64, String)>>,
}

/// [`brum_core::logs::LogSink`] over memory, buffered like the CLI's rotating files: entries
/// reach the file [`SINK_BUFFER_ENTRIES`] at a time, and on flush.
struct MemSink {
    buf: Vec<(u64, String)>,
    file: Arc<MemFile>,
}

/// Entries a [`MemSink`] buffers before it writes them to its file (a `BufWriter`'s role).
const SINK_BUFFER_ENTRIES: usize = 64;

impl LogSink for MemSink {
    fn write(&mut self, entry: &EntryRef<'_>) -> std::io::Result<()> {
        self.buf.push((entry.id().0, format!("{}#{} {}", entry.process().name, entry.process().id.0, entry.text())));
        if self.buf.len() >= SINK_BUFFER_ENTRIES {
            self.flush()?;
        }
        Ok(())
    }

    fn flush(&mut self) -> std::io::Result<()> {
        lock(&self.file.lines).append(&mut self.buf);
        Ok(())
    }
}

/// S-L8, `log_persist`: the log service with a file sink while `dev` restarts (its old
/// generation still printing when the restart's clear lands, at a seeded moment) and `api`
/// keeps printing. The file gets every line the store accepted, once, in the store's order
/// (ids gap-free from 1), lines cleared from memory included, late lines of the cleared
/// generation not at all; what memory still holds is the file's tail order. Mutant
/// `logs.close_unflushed` (close leaves the sink's buffer unwritten) loses the last lines.
pub async fn s_l8<R: Runtime>(cx: &Cx<R>, _programs: &Programs) -> Outcome {
    let bus = EventBus::new(cx.rt.clone(), cx.bus_config());
    let file = Arc::new(MemFile::default());
    let sink = MemSink { buf: Vec::new(), file: file.clone() };
    let service = LogService::attach_with_sink(cx.rt.clone(), &bus, budget_all(), Some(Box::new(sink)))
        .map_err(|_| violation("setup", "bus closed"))?;
    let old = ProcessRef::new(1, Arc::from("dev"));
    let new = ProcessRef::new(2, Arc::from("dev"));
    let api = ProcessRef::new(3, Arc::from("api"));
    let producer = |p: ProcessRef, n: u64, start_us: u64| {
        let (bus, rt) = (bus.clone(), cx.rt.clone());
        spawn(&cx.rt, "scenario.producer", async move {
            rt.sleep(Duration::from_micros(start_us)).await;
            let mut refused = 0u64;
            for i in 1..=n {
                refused += u64::from(
                    bus.publish(Event::log_line(p.clone(), Stream::Stdout, &format!("{} line {i}", p.name)))
                        .await
                        .is_err(),
                );
                if rt.below(3) == 0 {
                    moment(&rt, 300).await;
                }
            }
            refused
        })
    };
    let tasks =
        [producer(old.clone(), 40, 0), producer(new.clone(), 40, 1 + cx.rt.below(2000)), producer(api.clone(), 30, 0)];
    moment(&cx.rt, 4000).await;
    let cleared = service.clear_generations("dev", old.id.0);
    cx.log("logs", "clear", format!("restart cleared {cleared} lines of dev#1"));
    let mut refused = 0;
    for t in tasks {
        refused += t.join().await.map_err(|e| violation("producer", e.to_string()))?;
    }
    bus.shutdown().await;
    service.close().await;
    ensure!(refused == 0, "I2 the open bus takes every event", "{refused} refused");
    let late = service.dropped_after_clear();
    let st = service.stats();
    let written = lock(&file.lines).clone();
    let ids: Vec<u64> = written.iter().map(|(id, _)| *id).collect();
    let who = |text: &str| -> u64 {
        text.split(' ').next().and_then(|w| w.rsplit('#').next()).and_then(|n| n.parse().ok()).unwrap_or(0)
    };
    let per: BTreeMap<u64, Vec<u64>> = written.iter().fold(BTreeMap::new(), |mut m, (_, text)| {
        m.entry(who(text)).or_insert_with(Vec::new).push(line_no(text));
        m
    });
    cx.log("sink", "order", order_of(written.iter().map(|(_, text)| (who(text), line_no(text)))));
    let compact: Vec<String> = per.iter().map(|(k, v)| format!("#{k}:{}", v.len())).collect();
    cx.log("sink", "file", format!("{} lines: {}; {late} late dev#1 lines dropped", written.len(), compact.join(" ")));
    let window = if cleared > 0 && late > 0 { "hit" } else { "miss" };
    cx.log("window", window, format!("{cleared} dev#1 lines cleared, {late} arrived after the clear"));
    ensure!(
        ids.iter().copied().eq(1..=st.appended),
        "I20 every stored line reaches the file once, in store order",
        "the file holds {} lines (ids {:?}..{:?}), the store accepted {}",
        ids.len(),
        ids.first(),
        ids.last(),
        st.appended
    );
    for (k, lines) in &per {
        ensure!(lines.windows(2).all(|w| w[0] < w[1]), "I22 per-producer FIFO in the file", "#{k}: {lines:?}");
    }
    ensure!(
        per.get(&1).map_or(0, Vec::len) as u64 == cleared,
        "I25 the cleared generation's late lines never reach the file",
        "dev#1: {} lines in the file, {cleared} were stored before the clear",
        per.get(&1).map_or(0, Vec::len)
    );
    ensure!(
        per.get(&2).map_or(0, Vec::len) == 40 && per.get(&3).map_or(0, Vec::len) == 30,
        "I20 the new generation and api are in the file whole",
        "{compact:?}"
    );
    let held: Vec<(u64, String)> = service
        .entries()
        .iter()
        .map(|e| (e.id.0, format!("{}#{} {}", e.process.name, e.process.id.0, e.text)))
        .collect();
    let tail: Vec<(u64, String)> =
        written.iter().filter(|(id, _)| held.iter().any(|(h, _)| h == id)).cloned().collect();
    ensure!(tail == held, "I20 memory and file agree", "{} held lines differ from the file", held.len());
    Ok(())
}

/// The S-L7 dev server: announces five URLs, each on both streams (one as `0.0.0.0`, the same
/// server as `localhost`), then runs until stopped. Per URL a seeded choice: stdout first,
/// stderr first (both in one write round), or stdout then stderr a seeded moment apart.
fn vite(rt: &impl Runtime) -> Program {
    let pairs = [
        ("  Local:   http://localhost:5173/", "listening on http://0.0.0.0:5173"),
        ("  Network: http://192.168.1.5:5173/", "  Network: http://192.168.1.5:5173/"),
        ("listening on http://localhost:5174", "listening on http://localhost:5174/"),
        ("ready at http://localhost:5175", "ready at http://localhost:5175/"),
        ("serving http://localhost:5176", "serving http://localhost:5176"),
    ];
    let mut steps = Vec::new();
    for (out, err) in pairs {
        steps.push(Step::Jitter(Duration::from_millis(3)));
        let (out, err) = (Step::Out(out.into()), Step::Err(err.into()));
        match rt.below(3) {
            0 => steps.extend([out, err]),
            1 => steps.extend([err, out]),
            _ => steps.extend([out, Step::Jitter(Duration::from_millis(2)), err]),
        }
    }
    steps.push(Step::Hang);
    Program::new(steps)
}

/// Findings kept per URL list in S-L7: fewer than the five the server announces, so eviction
/// runs.
const S_L7_URLS_MAX: usize = 3;

/// S-L7: one dev server prints each of its five URLs on stdout and on stderr, the two streams
/// racing (their readers share one dedupe set). Each URL is announced once (I28), and the
/// findings store lists the newest three in announcement order (the oldest evicted first:
/// I23); after the server stops, none. Mutants: `supervisor.url_set_per_stream` (each stream
/// dedupes alone) lists URLs twice; `findings.evict_newest_url` keeps the stale ones.
pub async fn s_l7<R: Runtime>(cx: &Cx<R>, programs: &Programs) -> Outcome {
    use brum_core::findings::FindingsConfig;
    use brum_core::session::{Session, SessionConfig};
    use brum_core::supervisor::{Leftovers, Started, SupervisorConfig};
    let table = programs.table.as_ref().ok_or_else(|| violation("setup", "S-L7 needs the simulated process table"))?;
    table.register("vite", vite(&cx.rt));
    let supervisor = SupervisorConfig {
        stop_grace: Duration::from_millis(100),
        restart: RestartLimits {
            max_restarts: 0,
            backoff: Duration::from_millis(20),
            backoff_max: Duration::from_millis(20),
        },
        max_line_bytes: 4096,
        batch_lines: brum_core::lines::BATCH_LINES_DEFAULT,
        force_colour: false,
        leftovers: Leftovers::Stop,
    };
    let session = Session::new(
        cx.rt.clone(),
        SessionConfig {
            bus: cx.bus_config(),
            supervisor,
            logs: None,
            findings: FindingsConfig { errors_max: 16, urls_max: S_L7_URLS_MAX },
        },
    )
    .map_err(|_| violation("setup", "bus closed"))?;
    // What the bus carried, in order: each URL announcement, and when each stream's line
    // naming a URL was published.
    let announced = Arc::new(Mutex::new(Vec::<(String, Mono)>::new()));
    let printed = Arc::new(Mutex::new(Vec::<(String, Stream, Mono)>::new()));
    let (a, pr) = (announced.clone(), printed.clone());
    session
        .bus()
        .subscribe(
            SubscribeOptions::named("urls")
                .lossless()
                .kinds(KindSet::of(&[EventKind::UrlDetected, EventKind::LogLines])),
            move |e| match &e.event {
                Event::UrlDetected { url, .. } => lock(&a).push((url_key(url), e.at)),
                Event::LogLines { stream, lines, .. } => {
                    for l in lines.iter() {
                        if let Some(at) = l.text.find("http://") {
                            let u = l.text[at..].trim_end_matches('/').replace("0.0.0.0", "localhost");
                            lock(&pr).push((u, *stream, e.at));
                        }
                    }
                }
                _ => {}
            },
        )
        .map_err(|_| violation("setup", "bus closed"))?;
    let script = Script {
        name: "web".to_string(),
        source: SourceKind::BrumToml,
        file: PathBuf::from(".brum.toml"),
        command: Command::Exec { program: "vite".to_string(), args: Vec::new() },
        cwd: PathBuf::from("."),
        env: Vec::new(),
        restart: RestartPolicy::Never,
        detail: None,
    };
    let web = match session.supervisor().start(script, false).await {
        Ok(Started::New(p)) => p,
        other => return Err(violation("setup", format!("web: {other:?}"))),
    };
    // The server prints everything within 5 jitters of 3 ms and 5 of 2; then let the bus
    // settle.
    cx.rt.sleep(Duration::from_millis(40)).await;
    while session.bus().stats().iter().any(|(_, s)| s.queued > 0) {
        cx.rt.sleep(Duration::from_millis(1)).await;
    }
    let listed: Vec<String> = session.findings(|f| f.urls(None)).iter().map(|u| url_key(&u.url)).collect();
    let announced_now: Vec<String> = lock(&announced).iter().map(|(u, _)| u.clone()).collect();
    cx.log("findings", "announced", announced_now.join(" "));
    cx.log("findings", "listed", listed.join(" "));
    let printed_now = lock(&printed).clone();
    // Which stream's line naming each URL reached the bus first (the race's outcome).
    let mut first: Vec<(String, Stream)> = Vec::new();
    for (u, st, _) in &printed_now {
        if !first.iter().any(|(v, _)| v == u) {
            first.push((u.clone(), *st));
        }
    }
    let first: Vec<String> = first
        .iter()
        .map(|(u, st)| {
            format!("{}:{}", u.trim_start_matches("http://"), if *st == Stream::Stdout { "out" } else { "err" })
        })
        .collect();
    cx.log("findings", "first", format!("first printed on: {}", first.join(" ")));
    // The window: some URL's stdout and stderr lines were published in the same instant, so
    // both streams' publishers held it at once and raced for the dedupe set.
    let mut both_at_once = BTreeSet::new();
    for (u, s, at) in &printed_now {
        if printed_now.iter().any(|(v, t, bt)| v == u && t != s && bt == at) {
            both_at_once.insert(u.clone());
        }
    }
    let window = if both_at_once.is_empty() { "miss" } else { "hit" };
    cx.log("window", window, format!("both streams printed {both_at_once:?} in one instant"));
    // Stop the server; its exit must take its URLs off the list (the findings subscription
    // is lossless, so it will see the exit; wait for it on the clock, within the budget).
    session.supervisor().stop_all().await.map_err(|e| violation("stop", e.to_string()))?;
    let mut after: Vec<String> = Vec::new();
    for _ in 0..1000 {
        after = session.findings(|f| f.urls(None)).iter().map(|u| url_key(&u.url)).collect();
        let ended = session.findings(|f| f.stats().urls_ended);
        if ended > 0 || after.is_empty() {
            break;
        }
        cx.rt.sleep(Duration::from_millis(1)).await;
    }
    let report = session.shutdown().await;
    ensure!(
        report.processes.iter().all(|i| i.state.is_terminal()),
        "I39 shutdown ends every instance",
        "not all ended"
    );
    let distinct: BTreeSet<&String> = announced_now.iter().collect();
    ensure!(
        distinct.len() == announced_now.len(),
        "I28 a URL printed on both streams is announced once",
        "announced {announced_now:?}"
    );
    ensure!(distinct.len() == 5, "S-L7 every URL announced", "announced {announced_now:?}, expected 5 distinct");
    let want: Vec<String> =
        announced_now.iter().skip(announced_now.len().saturating_sub(S_L7_URLS_MAX)).cloned().collect();
    ensure!(
        listed == want,
        "I23 the URL list keeps the newest, in announcement order",
        "listed {listed:?}, announced {announced_now:?}"
    );
    ensure!(after.is_empty(), "S-F1 no URL outlives its instance", "{web} stopped, still listed: {after:?}");
    Ok(())
}

/// A URL as the dedupe set sees it: its browse form without a trailing `/`.
fn url_key(u: &Url) -> String {
    u.browse.trim_end_matches('/').to_string()
}
