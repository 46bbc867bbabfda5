//! Faults through the runtime's hooks (`crate::faults`): S-C1, a crash of brum at a seeded
//! named checkpoint; S-C2, wall-clock jumps and drift; S-C3, slow workers, a stuck and a lossy
//! subscriber under floods.

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use brum_core::bus::{Backpressure, Event, EventKind, KindSet, SubscribeOptions};
use brum_core::logs::{Filter, ProcessFilter, Query, TextQuery};
use brum_core::rt::{Mono, Runtime};
use brum_core::script::RestartPolicy;
use brum_core::supervisor::{Started, Target};

use super::supervisor_races::{Timeline, script, session, session_with, table};
use super::{Cx, Outcome, violation};
use crate::conformance::Programs;
use crate::ensure;
use crate::faults::{CHECKPOINTS, Faults};
use crate::procs::{Program, SimProcessTable, Step};

const TICKS: u32 = 60;

/// Registers the programs these scenarios run.
pub fn register_programs(t: &SimProcessTable) {
    let mut ticker = Vec::new();
    for i in 0..TICKS {
        ticker.push(Step::Out(format!("tick {i}")));
        ticker.push(Step::Sleep(Duration::from_millis(2)));
    }
    ticker.push(Step::Hang);
    t.register("clock-ticker", Program::new(ticker));
}

fn faults_of<R: Runtime>(cx: &Cx<R>) -> Result<&Arc<Faults>, super::Violation> {
    cx.faults.as_ref().ok_or_else(|| violation("setup", "fault scenarios need a simulated runtime"))
}

/// S-C1: brum crashes at a seeded named checkpoint (any of `CHECKPOINTS`, at its first to
/// fourth pass) while it starts, restarts, stops and shuts down scripts, one of which leaves a
/// grandchild printing after its leader exits. From the crash on none of brum's tasks runs;
/// the processes do. The orphan guardian then kills every group brum had not released. Oracle:
/// nothing is left running, so no live process was in a group brum had already let go of.
/// The window: the crash happened (the checkpoint was reached that often). Mutant
/// `supervisor.release_before_eof` (the group released with its leader) leaves the grandchild
/// running when the crash lands before it ends.
pub async fn s_c1<R: Runtime>(cx: &Cx<R>, programs: &Programs) -> Outcome {
    let table = table(programs)?;
    let faults = faults_of(cx)?;
    let at = CHECKPOINTS[cx.rt.below(CHECKPOINTS.len() as u64) as usize];
    let occurrence = cx.rt.below(4) as u32;
    faults.crash_at(at, occurrence);
    let session = session(cx, true, 16)?;
    let _timeline = Timeline::attach(session.bus(), &cx.trace);
    let sup = session.supervisor().clone();
    let work = async {
        for (name, program, restart) in [
            ("gc", "tail-grandchild", RestartPolicy::Never),
            ("web", "server", RestartPolicy::Never),
            ("crash", "crasher", RestartPolicy::OnFailure),
            ("stubborn", "stubborn", RestartPolicy::Never),
        ] {
            let started = sup.start(script(name, program, restart), false).await;
            ensure!(matches!(started, Ok(Started::New(_))), "S-C1 starts", "{name}: {started:?}");
        }
        cx.rt.sleep(Duration::from_millis(cx.rt.below(20))).await;
        let restarted = sup.restart(Target::Script("web".into())).await;
        ensure!(matches!(restarted, Ok(Started::New(_))), "S-C1 restart", "{restarted:?}");
        let stopped = sup.stop(Target::Script("stubborn".into())).await;
        ensure!(stopped.is_ok(), "S-C1 stop", "{stopped:?}");
        cx.rt.sleep(Duration::from_millis(cx.rt.below(40))).await;
        Ok(())
    };
    let crashed = tokio::select! {
        biased;
        () = faults.until_crash() => true,
        done = work => { done?; false }
    };
    let crashed = crashed || {
        // No crash yet: shut down, which passes more checkpoints.
        tokio::select! {
            biased;
            () = faults.until_crash() => true,
            _ = session.shutdown() => false,
        }
    };
    if !crashed {
        cx.log("window", "miss", format!("{at} was not passed {} time(s)", occurrence + 1));
        let live = table.live_pids();
        ensure!(live.is_empty(), "I11 no orphans after shutdown", "simulated processes still running: {live:?}");
        return Ok(());
    }
    cx.log("window", "hit", format!("brum crashed at {at} (pass {occurrence})"));
    let unknown = table.orphans();
    let killed = table.guardian_kill();
    cx.log("guardian", "kill", format!("{} group(s) brum had not released", killed.len()));
    // Let the SIGKILLs land.
    cx.rt.sleep(Duration::from_millis(10)).await;
    let live = table.live_pids();
    ensure!(
        unknown.is_empty() && live.is_empty(),
        "I11 after a crash the guardian stops everything",
        "crash at {at} pass {occurrence}: pids {unknown:?} were in released groups; still running: {live:?}"
    );
    Ok(())
}

/// S-C2: the wall clock jumps back an hour and forward two at seeded moments, and drifts by up
/// to 5%, while a ticker prints a line every 2 ms and a crasher restarts with backoff. brum
/// keeps time with the monotonic clock: every stored line carries its event's monotonic time,
/// the store never had to clamp a time that went back, a time filter equals a scan, and restart
/// times keep their order. The wall clock is for display: the stored wall times show the jumps.
/// The window: lines were stored on both sides of the jump back. Mutant `logs.wall_clock`
/// (the store times lines by the wall clock) breaks the first three.
pub async fn s_c2<R: Runtime>(cx: &Cx<R>, programs: &Programs) -> Outcome {
    const HOUR_NANOS: i128 = 3_600_000_000_000;
    let table = table(programs)?;
    let faults = faults_of(cx)?;
    let ppm = cx.rt.below(100_001) as i64 - 50_000;
    faults.drift_wall(cx.rt.now().0, ppm);
    let session = session(cx, true, 16)?;
    let timeline = Timeline::attach(session.bus(), &cx.trace);
    let sup = session.supervisor().clone();
    let ticker = match sup.start(script("ticker", "clock-ticker", RestartPolicy::Never), false).await {
        Ok(Started::New(p)) => p,
        other => return Err(violation("setup", format!("ticker: {other:?}"))),
    };
    let crasher = sup.start(script("crash", "crasher", RestartPolicy::OnFailure), false).await;
    ensure!(matches!(crasher, Ok(Started::New(_))), "S-C2 starts", "crash: {crasher:?}");
    cx.rt.sleep(Duration::from_millis(5 + cx.rt.below(50))).await;
    let back_at = cx.rt.now();
    faults.jump_wall(-HOUR_NANOS);
    cx.log("clock", "jump", "wall clock back 1 h");
    cx.rt.sleep(Duration::from_millis(1 + cx.rt.below(40))).await;
    faults.jump_wall(2 * HOUR_NANOS);
    cx.log("clock", "jump", "wall clock forward 2 h");
    // Wait for every tick.
    loop {
        let mut arrived = std::pin::pin!(timeline.arrived.notified());
        arrived.as_mut().enable();
        if timeline.lines_of(ticker.id.0).len() == TICKS as usize {
            break;
        }
        arrived.await;
    }
    // Each tick's event time, by its text.
    let mut event_at: BTreeMap<String, Mono> = BTreeMap::new();
    for e in timeline.events() {
        if let Event::LogLines { process, lines, .. } = &e.event
            && process.id == ticker.id.0
        {
            for l in lines.iter() {
                event_at.insert(l.text.to_string(), e.at);
            }
        }
    }
    let logs = session.logs().ok_or_else(|| violation("setup", "no log service"))?;
    // The store takes lines from its own subscription: wait until it has every tick too.
    let ticks_of = |since: Option<Mono>| {
        let q = Query {
            text: TextQuery::Substring { text: "tick ".into(), case_insensitive: false },
            filter: Filter { process: Some(ProcessFilter::Id(ticker.id.0)), since, ..Filter::default() },
            limit: 1_000,
            cursor: None,
        };
        logs.search(&q).map(|p| p.entries)
    };
    let stored = loop {
        let stored = ticks_of(None).map_err(|e| violation("search", e.to_string()))?;
        if stored.len() == TICKS as usize {
            break stored;
        }
        cx.rt.sleep(Duration::from_millis(1)).await;
    };
    for e in &stored {
        let want = event_at.get(&e.text).copied();
        ensure!(
            want == Some(e.mono),
            "I22 a stored line keeps its event's monotonic time",
            "`{}` stored at {:?}, its event at {want:?} (wall drift {ppm} ppm)",
            e.text,
            e.mono
        );
    }
    let clamped = logs.stats().mono_clamped;
    ensure!(clamped == 0, "I22 the store's clock never goes back", "{clamped} line times clamped");
    let since = ticks_of(Some(back_at)).map_err(|e| violation("search", e.to_string()))?;
    let scan: Vec<_> = stored.iter().filter(|e| event_at[&e.text] >= back_at).map(|e| e.id).collect();
    let got: Vec<_> = since.iter().map(|e| e.id).collect();
    ensure!(
        got == scan,
        "I24 a time filter equals a scan",
        "since the jump: {} lines, a scan {}",
        got.len(),
        scan.len()
    );
    // Display: the wall times show the jump back (some line's wall time is before the one
    // stored before it).
    let mut by_id = stored.clone();
    by_id.sort_by_key(|e| e.id);
    let went_back = by_id.windows(2).any(|w| w[1].wall < w[0].wall);
    let (before, after) = (stored.len() - scan.len(), scan.len());
    cx.log("logs", "ticks", format!("{before} before the jump back, {after} after; wall went back: {went_back}"));
    cx.log(
        "window",
        if before > 0 && after > 0 { "hit" } else { "miss" },
        format!("ticks stored on both sides of the jump back: {}", before > 0 && after > 0),
    );
    let report = session.shutdown().await;
    let crashes: Vec<u64> = report.processes.iter().filter(|i| i.script == "crash").map(|i| i.started_ms).collect();
    ensure!(crashes.windows(2).all(|w| w[0] <= w[1]), "I12 restart times in order", "crasher started at {crashes:?}");
    let live = table.live_pids();
    ensure!(live.is_empty(), "I11 no orphans after shutdown", "simulated processes still running: {live:?}");
    timeline.check_bracketing()
}

/// What S-C3's lossless printer saw.
#[derive(Debug, Default)]
struct Seen {
    events: u64,
    /// `LogLines` events among them.
    log_events: u64,
    /// Which instance each `LogLines` event came from, in delivery order, run-length coded.
    runs: Vec<(u64, u32)>,
    lines: BTreeMap<u64, Vec<String>>,
    exits: u64,
}

/// S-C3: bus workers slowed by a seeded delay after every batch, two processes flooding
/// 3,001 lines each, and four subscribers: a lossless printer, a `drop_oldest` agent with 8
/// slots, a `degrade` lifecycle watcher with 4, and a stuck `drop_newest` one. The printer
/// gets every line in order; the watcher every start and exit; for each lossy subscriber,
/// what it was offered is accounted for, delivered + dropped + queued. The window: the agent's
/// mailbox overflowed. Mutant `bus.uncounted_drop` (an eviction not counted) breaks the
/// accounting.
pub async fn s_c3<R: Runtime>(cx: &Cx<R>, programs: &Programs) -> Outcome {
    const FLOODS: usize = 2;
    let table = table(programs)?;
    let faults = faults_of(cx)?;
    faults.delay_at("bus.worker.batch_done", Duration::from_millis(1 + cx.rt.below(3)));
    let session = session_with(cx, false, 16, cx.bus_config_never_drained())?;
    let bus = session.bus().clone();
    let seen: Arc<Mutex<Seen>> = Arc::default();
    let s2 = seen.clone();
    bus.subscribe(SubscribeOptions::named("printer").lossless().capacity(64), move |e| {
        let mut s = s2.lock().unwrap_or_else(|p| p.into_inner());
        s.events += 1;
        match &e.event {
            Event::LogLines { process, lines, .. } => {
                s.log_events += 1;
                match s.runs.last_mut() {
                    Some((id, n)) if *id == process.id.0 => *n += 1,
                    _ => s.runs.push((process.id.0, 1)),
                }
                s.lines.entry(process.id.0).or_default().extend(lines.iter().map(|l| l.text.to_string()))
            }
            Event::ProcessExited { .. } => s.exits += 1,
            _ => {}
        }
    })
    .map_err(|_| violation("setup", "bus closed"))?;
    let agent = bus
        .subscribe(SubscribeOptions::named("agent").backpressure(Backpressure::DropOldest).capacity(8), |_| {})
        .map_err(|_| violation("setup", "bus closed"))?;
    let lifecycle = Arc::new(Mutex::new(Vec::<EventKind>::new()));
    let l2 = lifecycle.clone();
    let watcher = bus
        .subscribe(SubscribeOptions::named("watcher").backpressure(Backpressure::Degrade).capacity(4), move |e| {
            if matches!(e.event.kind(), EventKind::ProcessStarted | EventKind::ProcessExited) {
                l2.lock().unwrap_or_else(|p| p.into_inner()).push(e.event.kind());
            }
        })
        .map_err(|_| violation("setup", "bus closed"))?;
    let stuck = bus
        .subscribe(
            SubscribeOptions::named("stuck")
                .backpressure(Backpressure::DropNewest)
                .capacity(4)
                .kinds(KindSet::of(&[EventKind::LogLines]))
                .stuck(),
            |_| {},
        )
        .map_err(|_| violation("setup", "bus closed"))?;
    let sup = session.supervisor().clone();
    let mut floods = Vec::new();
    for i in 0..FLOODS {
        match sup.start(script(&format!("flood{i}"), "flood", RestartPolicy::Never), false).await {
            Ok(Started::New(p)) => floods.push(p),
            other => return Err(violation("setup", format!("flood{i}: {other:?}"))),
        }
    }
    // Every flood line printed (the printer is lossless), then stop them and wait for the
    // exits: after that nothing more is published.
    let full = 1 + (super::supervisor_races::FLOOD_BURSTS * super::supervisor_races::FLOOD_BURST_LINES) as usize;
    let printed = |s: &Seen| floods.iter().all(|p| s.lines.get(&p.id.0).is_some_and(|l| l.len() == full));
    while !printed(&seen.lock().unwrap_or_else(|p| p.into_inner())) {
        cx.rt.sleep(Duration::from_millis(1)).await;
    }
    sup.stop_all().await.map_err(|e| violation("stop_all", e.to_string()))?;
    while seen.lock().unwrap_or_else(|p| p.into_inner()).exits < FLOODS as u64 {
        cx.rt.sleep(Duration::from_millis(1)).await;
    }
    let stats: BTreeMap<_, _> = bus.stats().into_iter().collect();
    let (offered, log_events) = {
        let s = seen.lock().unwrap_or_else(|p| p.into_inner());
        for p in &floods {
            let lines = &s.lines[&p.id.0];
            let expected = (0..super::supervisor_races::FLOOD_BURSTS)
                .flat_map(|b| (1..=super::supervisor_races::FLOOD_BURST_LINES).map(move |i| format!("b{b} {i}")));
            ensure!(
                lines.iter().skip(1).zip(expected).all(|(l, e)| *l == e),
                "I3 the lossless printer gets every line in order",
                "{p}: {:?}",
                &lines[..lines.len().min(4)]
            );
        }
        // The ordering that matters: how the two floods' batches interleaved at the printer.
        let runs: Vec<String> = s.runs.iter().map(|(id, n)| format!("#{id}x{n}")).collect();
        cx.log("printer", "batches", runs.join(" "));
        (s.events, s.log_events)
    };
    let mut agent_dropped = 0;
    for (id, name, kinds_offered) in [(agent, "agent", offered), (stuck, "stuck", log_events)] {
        let st = stats.get(&id).ok_or_else(|| violation("stats", format!("no stats for {name}")))?;
        let accounted = st.delivered + st.dropped_total() + st.queued as u64;
        cx.log("bus", "accounting", format!("{name}: delivered+dropped+queued {accounted}, offered {kinds_offered}"));
        ensure!(
            accounted == kinds_offered,
            "I9 every drop is counted",
            "{name}: delivered {} + dropped {} + queued {} = {accounted}, offered {kinds_offered}",
            st.delivered,
            st.dropped_total(),
            st.queued
        );
        if name == "agent" {
            agent_dropped = st.dropped_total();
        }
    }
    let kinds = lifecycle.lock().unwrap_or_else(|p| p.into_inner()).clone();
    let (starts, exits) = (
        kinds.iter().filter(|k| **k == EventKind::ProcessStarted).count(),
        kinds.iter().filter(|k| **k == EventKind::ProcessExited).count(),
    );
    let w = stats.get(&watcher).map_or(0, |s| s.queued);
    ensure!(
        starts == FLOODS && exits + w >= FLOODS,
        "I2 degrade keeps lifecycle events",
        "watcher saw {starts} starts and {exits} exits ({w} queued)"
    );
    cx.log(
        "window",
        if agent_dropped > 0 { "hit" } else { "miss" },
        format!("the agent's mailbox overflowed: {}", agent_dropped > 0),
    );
    let report = session.shutdown().await;
    ensure!(
        report.processes.iter().all(|i| i.state.is_terminal()),
        "I39 shutdown ends every instance",
        "not all ended"
    );
    let live = table.live_pids();
    ensure!(live.is_empty(), "I11 no orphans after shutdown", "simulated processes still running: {live:?}");
    Ok(())
}
