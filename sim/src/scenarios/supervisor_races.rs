//! Process-supervisor races S-P3, S-P4, S-P5, S-P8, S-P9, S-P10, S-P12 and S-P13, and the
//! session's shutdown, S-S1, and its findings, S-F1.

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use brum_core::bus::{Envelope, Event, EventBus, EventKind, KindSet, SubscribeOptions};
use brum_core::rt::{Exit, Runtime, Signal, spawn};
use brum_core::script::{Command, RestartLimits, RestartPolicy, Script, SourceKind};
use brum_core::supervisor::{ProcState, ProcessInfo, Started, Supervisor, SupervisorConfig, SupervisorError, Target};
use brum_core::util::yield_now;

use super::{Cx, Outcome, violation};
use crate::conformance::Programs;
use crate::ensure;
use crate::procs::{Program, SimProcessTable, Step};

const ANNOUNCERS: u32 = 6;
pub(crate) const FLOOD_BURSTS: u32 = 30;
pub(crate) const FLOOD_BURST_LINES: u32 = 100;

/// Registers the scripted programs these scenarios run.
pub fn register_programs(t: &SimProcessTable) {
    super::fault_races::register_programs(t);
    super::supervisor_paths::register_programs(t);
    let ms = Duration::from_millis;
    t.register(
        "tail",
        Program::new(vec![
            Step::OutMany { prefix: "out".into(), n: 200 },
            Step::Err("err 1".into()),
            Step::Err("err 2".into()),
            Step::Exit(0),
        ]),
    );
    t.register(
        "tail-grandchild",
        Program::new(vec![Step::Out("parent up".into()), Step::SpawnGrandchild("gc-printer".into()), Step::Exit(0)]),
    );
    t.register(
        "gc-printer",
        Program::new(vec![
            Step::Jitter(ms(10)),
            Step::OutMany { prefix: "gc".into(), n: 25 },
            Step::Jitter(ms(3)),
            Step::OutMany { prefix: "gc late".into(), n: 25 },
            Step::Exit(0),
        ]),
    );
    t.register("quick-exit", Program::new(vec![Step::Jitter(ms(20)), Step::Out("bye".into()), Step::Exit(3)]));
    // Says goodbye, then exits a seeded few milliseconds later (S-P3 stops it in between).
    t.register(
        "lingering-exit",
        Program::new(vec![Step::Jitter(ms(5)), Step::Out("bye".into()), Step::Jitter(ms(4)), Step::Exit(3)]),
    );
    t.register("server", Program::new(vec![Step::Out("listening on http://localhost:3000".into()), Step::Hang]));
    t.register("stubborn", Program::new(vec![Step::Out("ready".into()), Step::Hang]).ignoring_term());
    t.register("crasher", Program::new(vec![Step::Jitter(ms(5)), Step::Err("boom".into()), Step::Exit(1)]));
    // 30 bursts of 100 lines, a millisecond apart: a Ctrl-C in the first 15 ms lands mid-flood.
    let mut flood = vec![Step::Jitter(ms(3)), Step::Out("listening on http://localhost:4000".into())];
    for b in 0..FLOOD_BURSTS {
        flood.push(Step::OutMany { prefix: format!("b{b}"), n: FLOOD_BURST_LINES });
        flood.push(Step::Sleep(ms(1)));
    }
    flood.push(Step::Hang);
    t.register("flood", Program::new(flood));
    // Dev servers that print a stack and go quiet (S-D1): one for good, one until a seeded
    // request line that may come before or after the quiet period.
    let stack = [
        "TypeError: Cannot read properties of undefined (reading 'id')",
        "    at handler (/app/src/routes.js:12:7)",
        "    at Layer.handle (/app/node_modules/express/lib/router/layer.js:95:5)",
    ];
    let mut quiet = vec![Step::Jitter(ms(5))];
    quiet.extend(stack.iter().map(|l| Step::Err(l.to_string())));
    let mut then_request = quiet.clone();
    quiet.push(Step::Hang);
    then_request.push(Step::Jitter(ms(300)));
    then_request.push(Step::Err("GET /api/items 500 3.1ms".into()));
    then_request.push(Step::Hang);
    t.register("stack-quiet", Program::new(quiet));
    t.register("stack-then-request", Program::new(then_request));
    // Servers that announce a URL and an error, then exit at a seeded time (S-F1).
    for k in 0..ANNOUNCERS {
        t.register(
            format!("announcer{k}"),
            Program::new(vec![
                Step::Jitter(ms(5)),
                Step::Out(format!("Local: http://localhost:{}/", 5173 + k)),
                Step::Err(format!("error: build failed in module {}", k % 3)),
                Step::Jitter(ms(20)),
                Step::Exit(1),
            ]),
        );
    }
}

pub(crate) fn script(name: &str, program: &str, restart: RestartPolicy) -> Script {
    Script {
        name: name.to_string(),
        source: SourceKind::BrumToml,
        file: PathBuf::from(".brum.toml"),
        command: Command::Exec { program: program.to_string(), args: Vec::new() },
        cwd: PathBuf::from("."),
        env: Vec::new(),
        restart,
        detail: None,
    }
}

pub(crate) fn config() -> SupervisorConfig {
    SupervisorConfig {
        stop_grace: Duration::from_millis(100),
        restart: RestartLimits {
            max_restarts: 3,
            backoff: Duration::from_millis(20),
            backoff_max: Duration::from_millis(200),
        },
        max_line_bytes: 4096,
        batch_lines: brum_core::lines::BATCH_LINES_DEFAULT,
        force_colour: false,
        leftovers: brum_core::supervisor::Leftovers::Stop,
    }
}

pub(crate) fn table(programs: &Programs) -> Result<&SimProcessTable, super::Violation> {
    programs.table.as_ref().ok_or_else(|| violation("setup", "supervisor scenarios need the simulated process table"))
}

/// Records every event of every process, and checks bracketing per instance.
#[derive(Default)]
pub(crate) struct Timeline {
    events: Mutex<Vec<Arc<Envelope>>>,
    /// Signalled after every event, for waits that must let simulated time pass (a yield
    /// loop would keep turmoil from ever advancing its clock).
    pub(crate) arrived: tokio::sync::Notify,
}

/// Writes `e` into the trace: one entry per event, and one per line of a batch (kind `log` for
/// a batch's first line, `log+` for the lines after it in the same batch), each with its own
/// sequence number, so a trace pins both the order of the lines and how they were batched.
fn record_event(trace: &crate::trace::Trace, e: &Envelope) {
    match &e.event {
        Event::LogLines { process, stream, lines } => {
            let s = if *stream == brum_core::process::Stream::Stdout { "out" } else { "err" };
            for (i, l) in lines.iter().enumerate() {
                let kind = if i == 0 { "log" } else { "log+" };
                trace.record(e.at, "event", kind, format!("e{} log {process} {s} {}", e.seq(i), l.text));
            }
        }
        event => trace.record(e.at, "event", event.kind().name(), format!("{} {event}", e.id)),
    }
}

impl Timeline {
    /// Subscribes a recorder that also writes every event into the scenario's trace, so a
    /// failing run's trace shows the ordering that broke.
    pub(crate) fn attach<R: Runtime>(bus: &EventBus<R>, trace: &crate::trace::Trace) -> Arc<Timeline> {
        let t = Arc::new(Timeline::default());
        let (t2, trace) = (t.clone(), trace.clone());
        bus.subscribe(
            SubscribeOptions::named("timeline").backpressure(brum_core::bus::Backpressure::Block).capacity(256),
            move |e| {
                record_event(&trace, e);
                t2.events.lock().unwrap_or_else(|p| p.into_inner()).push(e.clone());
                t2.arrived.notify_waiters();
            },
        )
        .expect("bus open during setup");
        t
    }

    /// Waits until this timeline has seen instance `id`'s ProcessExited (the supervisor's
    /// status flips when the event is published, which can be before a subscriber ran).
    pub(crate) async fn await_exit(&self, id: u64) -> Option<Exit> {
        loop {
            let mut arrived = std::pin::pin!(self.arrived.notified());
            arrived.as_mut().enable();
            if let Some(e) = self.exit_of(id) {
                return Some(e);
            }
            arrived.await;
        }
    }

    /// Waits until this timeline has seen a line `text` of instance `id`.
    async fn await_line(&self, id: u64, text: &str) {
        loop {
            let mut arrived = std::pin::pin!(self.arrived.notified());
            arrived.as_mut().enable();
            if self.lines_of(id).iter().any(|l| l == text) {
                return;
            }
            arrived.await;
        }
    }

    pub(crate) fn events(&self) -> Vec<Arc<Envelope>> {
        self.events.lock().unwrap_or_else(|p| p.into_inner()).clone()
    }

    /// I14/I15: per instance, exactly one Started first, exactly one Exited last, lines between;
    /// or, when the spawn failed, one SpawnFailed alone.
    pub(crate) fn check_bracketing(&self) -> Outcome {
        let mut per: BTreeMap<u64, Vec<EventKind>> = BTreeMap::new();
        for e in self.events() {
            if let Some(p) = e.event.process() {
                per.entry(p.id.0).or_default().push(e.event.kind());
            }
        }
        for (id, kinds) in &per {
            if kinds.contains(&EventKind::SpawnFailed) {
                // A spawn that failed: that one event and nothing else about the instance.
                ensure!(
                    kinds.as_slice() == [EventKind::SpawnFailed],
                    "I14 a failed spawn is one SpawnFailed",
                    "instance #{id}: {kinds:?}"
                );
                continue;
            }
            let starts = kinds.iter().filter(|k| **k == EventKind::ProcessStarted).count();
            let exits = kinds.iter().filter(|k| **k == EventKind::ProcessExited).count();
            ensure!(
                starts == 1 && exits == 1,
                "I14 exactly one started and one exited",
                "instance #{id}: {starts} started, {exits} exited"
            );
            ensure!(
                kinds.first() == Some(&EventKind::ProcessStarted),
                "I14 started first",
                "instance #{id} began with {:?}",
                kinds.first()
            );
            ensure!(
                kinds.last() == Some(&EventKind::ProcessExited),
                "I14/I15 exited after every line",
                "instance #{id} ended with {:?}",
                kinds.last()
            );
        }
        Ok(())
    }

    pub(crate) fn lines_of(&self, id: u64) -> Vec<String> {
        self.events()
            .iter()
            .flat_map(|e| match &e.event {
                Event::LogLines { process, lines, .. } if process.id == id => {
                    lines.iter().map(|l| l.text.to_string()).collect()
                }
                _ => Vec::new(),
            })
            .collect()
    }

    pub(crate) fn exit_of(&self, id: u64) -> Option<Exit> {
        self.events().iter().find_map(|e| match &e.event {
            Event::ProcessExited { process, exit } if process.id == id => Some(*exit),
            _ => None,
        })
    }
}

/// Common end of every supervisor scenario: shut down the supervisor and the bus, then check
/// bracketing and that every instance ended.
pub(crate) async fn finish<R: Runtime>(
    cx: &Cx<R>,
    sup: &Supervisor<R>,
    task: brum_core::rt::Task<()>,
    bus: &EventBus<R>,
    timeline: &Timeline,
) -> Outcome {
    let infos = sup.shutdown().await;
    task.join().await.map_err(|e| violation("supervisor task", e.to_string()))?;
    bus.shutdown().await;
    for i in &infos {
        ensure!(i.state.is_terminal(), "I39 shutdown ends every instance", "#{} is {} after shutdown", i.id, i.state);
        ensure!(i.ended_ms.is_some(), "I12/I13 terminal has an end time", "#{} terminal without ended_ms", i.id);
    }
    for i in &infos {
        cx.log("supervisor", "final", state_line(i));
    }
    timeline.check_bracketing()
}

pub(crate) fn setup<R: Runtime>(cx: &Cx<R>) -> (EventBus<R>, Arc<Timeline>, Supervisor<R>, brum_core::rt::Task<()>) {
    setup_with(cx, cx.bus_config())
}

fn setup_with<R: Runtime>(
    cx: &Cx<R>,
    bus: brum_core::bus::BusConfig,
) -> (EventBus<R>, Arc<Timeline>, Supervisor<R>, brum_core::rt::Task<()>) {
    let bus = EventBus::new(cx.rt.clone(), bus);
    let timeline = Timeline::attach(&bus, &cx.trace);
    let (sup, task) = Supervisor::new(cx.rt.clone(), bus.clone(), config());
    (bus, timeline, sup, task)
}

pub(crate) fn state_line(i: &ProcessInfo) -> String {
    format!("#{} {} {}", i.id, i.script, i.state)
}

/// S-P3: user stops race processes' own exits. Three scripts say goodbye and exit a seeded
/// few milliseconds later; each is stopped a seeded moment after its goodbye, so the stop lands
/// before the exit, with it, or after it was published. Each must end once, in one terminal
/// state that matches its one ProcessExited, and stay there. The window: a stop asked after
/// the goodbye and before its ProcessExited reached subscribers (the stop raced the exit).
pub async fn s_p3<R: Runtime>(cx: &Cx<R>, _programs: &Programs) -> Outcome {
    const RACERS: usize = 3;
    let (bus, timeline, sup, task) = setup(cx);
    let mut racers = Vec::new();
    for k in 0..RACERS {
        let started = sup.start(script(&format!("quick{k}"), "lingering-exit", RestartPolicy::Never), false).await;
        let Ok(Started::New(p)) = started else { return Err(violation("start", format!("{started:?}"))) };
        let (sup, rt, timeline, delay) = (sup.clone(), cx.rt.clone(), timeline.clone(), cx.rt.below(6));
        racers.push(spawn(&cx.rt, "scenario.stopper", async move {
            timeline.await_line(p.id.0, "bye").await;
            rt.sleep(Duration::from_millis(delay)).await;
            let raced = timeline.exit_of(p.id.0).is_none();
            (p.id.0, raced, sup.stop(Target::Id(p.id.0)).await)
        }));
    }
    let mut raced = 0;
    for r in racers {
        let (id, in_window, stopped) = r.join().await.map_err(|e| violation("stopper", e.to_string()))?;
        raced += usize::from(in_window);
        let info = stopped.map_err(|e| violation("I12 stop of an ended process is not an error", e.to_string()))?;
        cx.log("scenario", "stopped", format!("{} (stop raced the exit: {in_window})", state_line(&info)));
        let exit = timeline.await_exit(id).await;
        let ok = match info.state {
            ProcState::Stopped { exit: e } => e == exit,
            ProcState::Failed { exit: Some(Exit::Code(3)) } => exit == Some(Exit::Code(3)),
            _ => false,
        };
        ensure!(
            ok,
            "I12 one terminal state, matching the exit event",
            "#{id}: final {} but ProcessExited said {exit:?}",
            info.state
        );
        let again = sup.stop(Target::Id(id)).await.map_err(|e| violation("stop twice", e.to_string()))?;
        ensure!(
            again.state == info.state,
            "I12 terminal states are absorbing",
            "{} became {}",
            info.state,
            again.state
        );
    }
    cx.log("window", if raced > 0 { "hit" } else { "miss" }, format!("{raced} of {RACERS} stops raced their exit"));
    finish(cx, &sup, task, &bus, &timeline).await
}

/// S-P4: the last lines (and a grandchild's lines after its parent exited) come before exit.
pub async fn s_p4<R: Runtime>(cx: &Cx<R>, _programs: &Programs) -> Outcome {
    let (bus, timeline, sup, task) = setup(cx);
    let a = sup.start(script("tail", "tail", RestartPolicy::Never), false).await;
    cx.rt.sleep(Duration::from_millis(cx.rt.below(3))).await;
    let b = sup.start(script("gc", "tail-grandchild", RestartPolicy::Never), false).await;
    let (Ok(Started::New(a)), Ok(Started::New(b))) = (a, b) else {
        return Err(violation("start", "could not start the tail scripts"));
    };
    timeline.await_exit(a.id.0).await;
    timeline.await_exit(b.id.0).await;
    let lines = timeline.lines_of(a.id.0);
    let want: Vec<String> = (1..=200).map(|i| format!("out {i}")).chain(["err 1".into(), "err 2".into()]).collect();
    let mut sorted_out: Vec<&String> = lines.iter().filter(|l| l.starts_with("out ")).collect();
    sorted_out.dedup();
    ensure!(lines.len() == 202, "I15 every line delivered", "tail: {} of 202 lines", lines.len());
    ensure!(
        lines.iter().filter(|l| l.starts_with("out ")).eq(want.iter().take(200)),
        "I15 per-stream order",
        "tail stdout out of order"
    );
    let gc = timeline.lines_of(b.id.0);
    ensure!(gc.len() == 51, "I15 grandchild lines before exit", "gc: {} of 51 lines before ProcessExited", gc.len());
    cx.log("scenario", "lines", format!("tail={} gc={}", lines.len(), gc.len()));
    // The window: `tail`'s leader was reaped while its streams were still open, so its exit
    // had to wait for the last lines.
    let waited = match cx.rt.metrics().snapshot().get("supervisor.exits_waiting_for_eof", "tail") {
        Some(brum_core::metrics::MetricValue::Counter(n)) => *n,
        _ => 0,
    };
    cx.log("window", if waited > 0 { "hit" } else { "miss" }, format!("tail reaped before its streams' EOF: {waited}"));
    finish(cx, &sup, task, &bus, &timeline).await
}

/// S-P5: concurrent starts of one script, and forced starts.
pub async fn s_p5<R: Runtime>(cx: &Cx<R>, _programs: &Programs) -> Outcome {
    let (bus, timeline, sup, task) = setup(cx);
    // How many of the starts are in flight at once, and the most ever.
    let in_flight = Arc::new((AtomicU64::new(0), AtomicU64::new(0)));
    let starters: Vec<_> = (0..4)
        .map(|_| {
            let (sup, in_flight) = (sup.clone(), in_flight.clone());
            spawn(&cx.rt, "scenario.starter", async move {
                let now = in_flight.0.fetch_add(1, Ordering::SeqCst) + 1;
                in_flight.1.fetch_max(now, Ordering::SeqCst);
                let started = sup.start(script("web", "server", RestartPolicy::Never), false).await;
                in_flight.0.fetch_sub(1, Ordering::SeqCst);
                started
            })
        })
        .collect();
    let mut new = Vec::new();
    let mut existing = Vec::new();
    for s in starters {
        match s.join().await.map_err(|e| violation("starter", e.to_string()))? {
            Ok(Started::New(p)) => new.push(p.id),
            Ok(Started::AlreadyRunning(p)) => existing.push(p.id),
            Err(e) => return Err(violation("start", e.to_string())),
        }
    }
    ensure!(
        new.len() == 1,
        "I18 one running instance per script",
        "{} new instances from 4 concurrent starts",
        new.len()
    );
    ensure!(existing.iter().all(|id| *id == new[0]), "I18 duplicates get the running id", "{existing:?} vs {new:?}");
    let most = in_flight.1.load(Ordering::SeqCst);
    cx.log(
        "window",
        if most >= 2 { "hit" } else { "miss" },
        format!("at most {most} starts of `web` in flight at once"),
    );
    let forced: Vec<_> = (0..3)
        .map(|_| {
            let sup = sup.clone();
            spawn(&cx.rt, "scenario.starter", async move {
                sup.start(script("web", "server", RestartPolicy::Never), true).await
            })
        })
        .collect();
    let mut ids = vec![new[0]];
    for f in forced {
        match f.join().await.map_err(|e| violation("starter", e.to_string()))? {
            Ok(Started::New(p)) => ids.push(p.id),
            other => return Err(violation("forced start", format!("{other:?}"))),
        }
    }
    let distinct: std::collections::BTreeSet<_> = ids.iter().collect();
    ensure!(distinct.len() == ids.len(), "I10 unique process ids", "{ids:?}");
    let running = sup.status().iter().filter(|i| i.state == ProcState::Running).count();
    ensure!(running == 4, "I11 every started child is tracked", "{running} running, 4 started");
    cx.log("scenario", "ids", format!("{:?}", ids.iter().map(|i| i.0).collect::<Vec<_>>()));
    finish(cx, &sup, task, &bus, &timeline).await
}

/// Whether `to` can follow `from` through legal transitions. Status snapshots coalesce (a
/// watcher may miss `stopping` between `running` and `stopped`), so the oracle checks
/// reachability in the transition graph, not single steps.
fn reachable(from: ProcState, to: ProcState) -> bool {
    use ProcState::*;
    legal(from, to)
        || matches!((from, to), (Pending, Stopping) | (Pending | Running, Stopped { .. }) | (Pending, Exited))
}

/// Legal single transitions (I12).
fn legal(from: ProcState, to: ProcState) -> bool {
    use ProcState::*;
    matches!(
        (from, to),
        (Pending, Running)
            | (Pending, Failed { .. })
            | (Running, Stopping)
            | (Running, Exited)
            | (Running, Failed { .. })
            | (Stopping, Stopped { .. })
    ) || from == to
}

/// S-P8: every observed transition is legal and terminal states are absorbing.
pub async fn s_p8<R: Runtime>(cx: &Cx<R>, _programs: &Programs) -> Outcome {
    let (bus, timeline, sup, task) = setup(cx);
    let seen: Arc<Mutex<BTreeMap<u64, Vec<ProcState>>>> = Arc::default();
    let watcher = {
        let (mut w, seen) = (sup.clone(), seen.clone());
        spawn(&cx.rt, "scenario.watcher", async move {
            loop {
                for i in w.status().iter() {
                    let mut s = seen.lock().unwrap_or_else(|p| p.into_inner());
                    let v = s.entry(i.id).or_default();
                    if v.last() != Some(&i.state) {
                        v.push(i.state);
                    }
                }
                if !w.changed().await {
                    break;
                }
            }
        })
    };
    sup.start(script("crash", "crasher", RestartPolicy::OnFailure), false)
        .await
        .map_err(|e| violation("start", e.to_string()))?;
    sup.start(script("web", "server", RestartPolicy::Never), false)
        .await
        .map_err(|e| violation("start", e.to_string()))?;
    sup.start(script("quick", "quick-exit", RestartPolicy::Never), false)
        .await
        .map_err(|e| violation("start", e.to_string()))?;
    let missing = sup.start(script("ghost", "no-such-program", RestartPolicy::Never), false).await;
    ensure!(matches!(missing, Err(SupervisorError::Spawn { .. })), "spawn errors are reported", "{missing:?}");
    cx.rt.sleep(Duration::from_millis(cx.rt.below(30))).await;
    let restarted = sup.restart(Target::Script("web".into())).await;
    ensure!(matches!(restarted, Ok(Started::New(_))), "S-P8 the restart starts a new web", "{restarted:?}");
    // `quick` may have exited already (then nothing is running to stop): both are fine.
    let stopped = sup.stop(Target::Script("quick".into())).await;
    ensure!(
        matches!(stopped, Ok(_) | Err(SupervisorError::NotFound { .. })),
        "S-P8 stopping quick answers",
        "{stopped:?}"
    );
    // The window: the stop found `quick` still running (it was stopped), racing its own
    // failing exit; otherwise the exit came first and the stop answered its failure.
    let raced = matches!(&stopped, Ok(i) if matches!(i.state, ProcState::Stopped { .. }));
    cx.log("window", if raced { "hit" } else { "miss" }, format!("the stop found quick before its exit: {raced}"));
    cx.rt.sleep(Duration::from_millis(400)).await; // let the crasher exhaust its restarts
    let res = finish(cx, &sup, task, &bus, &timeline).await;
    let status = sup.status();
    drop(sup);
    watcher.join().await.map_err(|e| violation("watcher", e.to_string()))?;
    res?;
    let seen = seen.lock().unwrap_or_else(|p| p.into_inner()).clone();
    for (id, states) in &seen {
        for w in states.windows(2) {
            ensure!(reachable(w[0], w[1]), "I12 legal transitions only", "#{id}: {} -> {}", w[0], w[1]);
            ensure!(!w[0].is_terminal(), "I12 terminal states are absorbing", "#{id}: left {} for {}", w[0], w[1]);
            // No program here dies of a signal by itself: a signal death without a stop is a
            // kill nobody asked for (a stale timer's, a stray group signal).
            let unasked =
                matches!((w[0], w[1]), (ProcState::Running, ProcState::Failed { exit: Some(Exit::Signaled(_)) }));
            ensure!(!unasked, "I17 no kill nobody asked for", "#{id}: {} -> {}", w[0], w[1]);
        }
    }
    let crash_instances = sup_count(&seen);
    cx.log("scenario", "transitions", format!("{} instances observed, {crash_instances} transitions", seen.len()));
    // Restart policies: `crash` (on-failure) runs once plus `max_restarts` restarts, `quick`
    // (never) once although it fails, `web` twice (the explicit restart).
    let count = |name: &str| status.iter().filter(|i| i.script == name).count();
    let want = [("crash", 1 + config().restart.max_restarts as usize), ("quick", 1), ("web", 2)];
    for (name, n) in want {
        ensure!(count(name) == n, "I19 restart policy and limit", "{name}: {} instances, want {n}", count(name));
    }
    Ok(())
}

fn sup_count(seen: &BTreeMap<u64, Vec<ProcState>>) -> usize {
    seen.values().map(|v| v.len().saturating_sub(1)).sum()
}

/// S-P9: shutdown races concurrent starts; nothing is left running.
pub async fn s_p9<R: Runtime>(cx: &Cx<R>, programs: &Programs) -> Outcome {
    let table = table(programs)?;
    let (bus, timeline, sup, task) = setup(cx);
    let refused = Arc::new(AtomicU64::new(0));
    let starters: Vec<_> = (0..3)
        .map(|k| {
            let (sup, rt, refused) = (sup.clone(), cx.rt.clone(), refused.clone());
            spawn(&cx.rt, "scenario.starter", async move {
                for i in 0..10 {
                    let prog = if (i + k) % 2 == 0 { "server" } else { "stubborn" };
                    match sup.start(script(&format!("s{k}-{i}"), prog, RestartPolicy::Always), false).await {
                        Err(SupervisorError::ShutDown) => {
                            refused.fetch_add(1, Ordering::SeqCst);
                        }
                        Err(e) => panic!("unexpected start error: {e}"),
                        Ok(_) => {}
                    }
                    rt.checkpoint("scenario.starter").await;
                    yield_now().await;
                }
            })
        })
        .collect();
    // Shut down once a seeded number of instances exist, while the starters keep going.
    let after = 1 + cx.rt.below(20) as usize;
    let mut watch = sup.clone();
    while sup.status().len() < after && refused.load(Ordering::SeqCst) == 0 {
        if !watch.changed().await {
            break;
        }
    }
    let res = finish(cx, &sup, task, &bus, &timeline).await;
    for s in starters {
        s.join().await.map_err(|e| violation("starter", e.to_string()))?;
    }
    res?;
    let live = table.live_pids();
    ensure!(live.is_empty(), "I11 no orphans after shutdown", "simulated processes still running: {live:?}");
    let after_start = sup.start(script("late", "server", RestartPolicy::Never), false).await;
    ensure!(
        matches!(after_start, Err(SupervisorError::ShutDown)),
        "I36 start after shutdown is refused",
        "{after_start:?}"
    );
    let refused = refused.load(Ordering::SeqCst);
    cx.log("scenario", "refused", format!("{refused} starts refused by shutdown"));
    // The window: shutdown landed while the starters were still starting.
    cx.log("window", if refused > 0 { "hit" } else { "miss" }, format!("{refused} start(s) met the shutdown"));
    Ok(())
}

/// S-P10: kills and timers of one generation never reach the next. `dev` exits on SIGTERM,
/// so each restart ends its generation well before the stop's grace runs out, and the grace
/// timer is still pending when the next generation runs: three generations, restarted at
/// seeded moments inside each other's grace, then every timer left to fire. The newest
/// generation must still run, untouched by any signal, and the earlier ones must have ended on
/// SIGTERM. A SIGTERM-ignoring script beside them checks the escalation to SIGKILL. Mutant
/// `supervisor.stale_kill_timer` (the timer finds its process by script name) kills the newest
/// generation.
pub async fn s_p10<R: Runtime>(cx: &Cx<R>, programs: &Programs) -> Outcome {
    let table = table(programs)?;
    let (bus, timeline, sup, task) = setup(cx);
    let grace = config().stop_grace;
    let stubborn = sup.start(script("stubborn", "stubborn", RestartPolicy::Never), false).await;
    let Ok(Started::New(stubborn)) = stubborn else { return Err(violation("start", format!("{stubborn:?}"))) };
    let g1 = sup.start(script("dev", "server", RestartPolicy::Never), false).await;
    let Ok(Started::New(g1)) = g1 else { return Err(violation("start", format!("{g1:?}"))) };
    // The stubborn stop begins at a seeded moment, so its SIGKILL lands anywhere among the
    // restarts.
    let stop = {
        let (sup, rt) = (sup.clone(), cx.rt.clone());
        let id = stubborn.id.0;
        let delay = Duration::from_millis(cx.rt.below(grace.as_millis() as u64 * 2));
        spawn(&cx.rt, "scenario.stop", async move {
            rt.sleep(delay).await;
            sup.stop(Target::Id(id)).await.map(|_| ())
        })
    };
    let mut generations = vec![g1];
    let mut inside_grace = 0;
    for _ in 0..2 {
        // Inside the previous restart's grace (two stale timers pending at once) or after it.
        let wait = Duration::from_millis(cx.rt.below(grace.as_millis() as u64 * 2));
        inside_grace += u32::from(wait < grace && generations.len() > 1);
        cx.rt.sleep(wait).await;
        let last = generations.last().expect("a generation").id.0;
        match sup.restart(Target::Id(last)).await {
            Ok(Started::New(g)) => generations.push(g),
            other => return Err(violation("restart", format!("{other:?}"))),
        }
    }
    cx.rt.sleep(grace * 3 + Duration::from_millis(cx.rt.below(50))).await;
    // Every restart leaves a stale grace timer behind; the window measured is the harder case,
    // two of them pending at once (the second restart inside the first's grace).
    let window = if inside_grace > 0 { "hit" } else { "miss" };
    cx.log("window", window, format!("{inside_grace} restart(s) inside the previous generation's grace"));
    let newest = generations.last().expect("a generation").clone();
    let status = sup.status();
    let info = status.iter().find(|i| i.id == newest.id.0).cloned();
    ensure!(
        info.as_ref().is_some_and(|i| i.state == ProcState::Running),
        "I17 a late kill never hits a restarted process",
        "the newest generation {newest} is {:?}",
        info.map(|i| i.state)
    );
    let pid = info.and_then(|i| i.pid).unwrap_or(0);
    let hits: Vec<(u32, Signal)> = table.signal_log().into_iter().filter(|(pg, _)| *pg == pid).collect();
    ensure!(hits.is_empty(), "I17 generation-scoped signals", "{newest} (pgid {pid}) received {hits:?}");
    for g in &generations[..generations.len() - 1] {
        let exit = timeline.await_exit(g.id.0).await;
        ensure!(
            exit == Some(Exit::Signaled(15)),
            "I17 a restart ends its generation with SIGTERM",
            "{g} ended {exit:?}"
        );
    }
    match stop.join().await {
        Ok(Ok(())) => {}
        other => return Err(violation("stop", format!("the stubborn stop: {other:?}"))),
    }
    let exit = timeline.await_exit(stubborn.id.0).await;
    ensure!(exit == Some(Exit::Signaled(9)), "stop escalates to SIGKILL", "the stubborn script ended {exit:?}");
    // Pin which signal reached which generation, in order.
    let by_pid: BTreeMap<u32, String> =
        sup.status().iter().filter_map(|i| i.pid.map(|p| (p, format!("{}#{}", i.script, i.id)))).collect();
    for (pgid, sig) in table.signal_log() {
        let to = by_pid.get(&pgid).cloned().unwrap_or_else(|| format!("pgid {pgid}"));
        cx.log("signal", sig.name(), to);
    }
    let ids: Vec<String> = generations.iter().map(|g| g.to_string()).collect();
    cx.log("scenario", "generations", format!("{} restarted inside each other's grace; the last runs", ids.join(", ")));
    finish(cx, &sup, task, &bus, &timeline).await
}

/// S-P12: agent sessions follow a process's log. Two follow it to its exit; two close after
/// a seeded number of lines, while lines are still flowing to them. No callback runs after its
/// session closed, what a closing session got is the start of the stream in order, and
/// subscriptions return to zero. The window: a session closed while the bus still had events
/// for it (queued in its mailbox, or its process's exit still to come).
pub async fn s_p12<R: Runtime>(cx: &Cx<R>, _programs: &Programs) -> Outcome {
    const SESSIONS: usize = 4;
    const FOLLOWERS: usize = 2;
    let (bus, timeline, sup, task) = setup(cx);
    let baseline = bus.subscriber_count();
    let violations = Arc::new(Mutex::new(Vec::<String>::new()));
    let (ready_tx, mut ready_rx) = tokio::sync::mpsc::channel::<()>(8);
    let sessions: Vec<_> = (0..SESSIONS)
        .map(|s| {
            let (bus, v, ready) = (bus.clone(), violations.clone(), ready_tx.clone());
            // Followers read to the exit; the others close after a seeded count of lines.
            let close_after = if s < FOLLOWERS { usize::MAX } else { 1 + cx.rt.below(201) as usize };
            spawn(&cx.rt, "scenario.session", async move {
                let (tx, mut rx) = tokio::sync::mpsc::channel::<Arc<Envelope>>(512);
                let closed = Arc::new(AtomicBool::new(false));
                let (c2, v2) = (closed.clone(), v.clone());
                let kinds = KindSet::of(&[EventKind::LogLines, EventKind::ProcessExited]);
                let id = bus
                    .subscribe(SubscribeOptions::named(format!("session{s}")).kinds(kinds).capacity(512), move |e| {
                        if c2.load(Ordering::SeqCst) {
                            v2.lock()
                                .unwrap_or_else(|p| p.into_inner())
                                .push(format!("session{s}: callback after close"));
                        }
                        // The session's queue is as deep as its mailbox: a full one would be
                        // a lost event, which the oracle reports. A closed session's receiver
                        // is gone, and the send fails: that is the callback-after-close above.
                        if tx.try_send(e.clone()).is_err() && !c2.load(Ordering::SeqCst) {
                            v2.lock().unwrap_or_else(|p| p.into_inner()).push(format!("session{s}: event lost"));
                        }
                    })
                    .expect("bus open");
                if ready.send(()).await.is_err() {
                    v.lock()
                        .unwrap_or_else(|p| p.into_inner())
                        .push(format!("session{s}: the scenario stopped waiting"));
                }
                let mut out = Vec::new();
                let mut lines = 0;
                let mut saw_exit = false;
                'read: while let Some(e) = rx.recv().await {
                    match &e.event {
                        Event::LogLines { lines: batch, stream, .. } => {
                            for l in batch.iter() {
                                lines += 1;
                                if *stream == brum_core::process::Stream::Stdout {
                                    out.push(l.text.to_string());
                                }
                                if lines >= close_after {
                                    break 'read;
                                }
                            }
                        }
                        Event::ProcessExited { .. } => {
                            saw_exit = true;
                            break;
                        }
                        _ => {}
                    }
                }
                let queued = bus.stats().into_iter().find(|(sid, _)| *sid == id).map_or(0, |(_, st)| st.queued);
                bus.unsubscribe(id).await;
                closed.store(true, Ordering::SeqCst);
                drop(rx);
                // Events the bus still had for this session when it closed: those queued in
                // its mailbox, and the exit, which comes after every line.
                (lines, out, queued + usize::from(!saw_exit))
            })
        })
        .collect();
    drop(ready_tx);
    for _ in 0..SESSIONS {
        ready_rx.recv().await;
    }
    let p = sup.start(script("tail", "tail", RestartPolicy::Never), false).await;
    let Ok(Started::New(p)) = p else { return Err(violation("start", format!("{p:?}"))) };
    let mut counts = Vec::new();
    let mut closed_busy = 0;
    for (k, s) in sessions.into_iter().enumerate() {
        let (lines, out, queued) = s.join().await.map_err(|e| violation("session", e.to_string()))?;
        let want: Vec<String> = (1..=out.len()).map(|i| format!("out {i}")).collect();
        ensure!(out == want, "I3 a session's lines are the stream's, in order", "session{k}: {out:?}");
        if k >= FOLLOWERS && queued > 0 {
            closed_busy += 1;
        }
        cx.log(
            "scenario",
            "session",
            format!("session{k}: {lines} lines, {queued} event(s) still to come when it closed"),
        );
        counts.push(lines);
    }
    // Let every line and the exit reach the bus's workers after the sessions closed.
    timeline.await_exit(p.id.0).await;
    let v = violations.lock().unwrap_or_else(|p| p.into_inner()).clone();
    ensure!(v.is_empty(), "I19 no callback after its sink closed", "{}", v.join("; "));
    let left = bus.subscriber_count();
    ensure!(
        left == baseline,
        "I40 subscriptions bounded by live sessions",
        "{left} subscriptions, baseline {baseline}"
    );
    ensure!(
        counts[..FOLLOWERS].iter().all(|c| *c == 202),
        "I2/I15 every following session saw every line before the exit",
        "{counts:?}"
    );
    cx.log(
        "window",
        if closed_busy > 0 { "hit" } else { "miss" },
        format!("{closed_busy} session(s) closed with events still queued for them"),
    );
    finish(cx, &sup, task, &bus, &timeline).await
}

/// S-P13: a subscriber stuck for ever (its handler never returns), then a stop of every
/// process. The dispatcher hands lifecycle events to its ordered outbox instead of waiting on
/// the bus, so starts and the stop complete in bounded virtual time, and what the stuck
/// subscriber holds up is counted: its backlog at bus shutdown, the outbox's unpublished
/// events at supervisor shutdown. Mutant `supervisor.publish_inline` (the dispatcher awaits
/// the bus itself) hangs on the third start and exceeds the budget.
pub async fn s_p13<R: Runtime>(cx: &Cx<R>, programs: &Programs) -> Outcome {
    use brum_core::bus::Backpressure;
    // Seeded: how many lifecycle events the stuck subscriber takes before it blocks for ever.
    let stuck_capacity = 1 + cx.rt.below(3) as usize;
    let table = table(programs)?;
    let (bus, _timeline, sup, task) = setup_with(cx, cx.bus_config_never_drained());
    bus.subscribe(
        SubscribeOptions::named("stuck").backpressure(Backpressure::Degrade).capacity(stuck_capacity).stuck(),
        |_| {},
    )
    .map_err(|_| violation("setup", "bus closed"))?;
    // Degrade keeps lifecycle events: the first Started fill the stuck mailbox; the next cannot
    // be delivered, ever.
    let servers = stuck_capacity + 1 + cx.rt.below(3) as usize;
    for i in 0..servers {
        let started = sup.start(script(&format!("srv{i}"), "server", RestartPolicy::Never), false).await;
        ensure!(matches!(started, Ok(Started::New(_))), "S-P13 starts complete", "srv{i}: {started:?}");
        // Seeded gaps: starts, output and the stuck point interleave differently per seed.
        cx.rt.sleep(Duration::from_millis(cx.rt.below(3))).await;
    }
    cx.rt.sleep(Duration::from_millis(cx.rt.below(10))).await;
    // The window: the stop is asked while lifecycle events wait in the outbox behind the stuck
    // subscriber (a dispatcher that awaited the bus would be stuck there too).
    let held = match cx.rt.metrics().snapshot().get("supervisor.outbox_depth", "") {
        Some(brum_core::metrics::MetricValue::Gauge(n)) => *n,
        _ => 0,
    };
    cx.log(
        "window",
        if held > 0 { "hit" } else { "miss" },
        format!("{held} lifecycle event(s) held in the outbox when the stop was asked"),
    );
    let t0 = cx.rt.now();
    let stopped = sup.stop_all().await.map_err(|e| violation("stop_all", e.to_string()))?;
    let took = cx.rt.now().saturating_since(t0);
    cx.log("scenario", "stop_all", format!("{} stopped in {} ms", stopped.len(), took.as_millis()));
    let bound = config().stop_grace + brum_core::supervisor::EOF_AFTER_KILL + Duration::from_secs(1);
    ensure!(took <= bound, "S-P13 stop bounded", "stop_all took {took:?} (bound {bound:?})");
    ensure!(
        stopped.len() == servers && stopped.iter().all(|i| i.state.is_terminal()),
        "S-P13 stop ends every instance",
        "{:?}",
        stopped.iter().map(state_line).collect::<Vec<_>>()
    );
    let backlog = bus.stats().into_iter().map(|(_, s)| s).find(|s| s.name == "stuck").map(|s| s.queued as u64);
    ensure!(
        backlog == Some(stuck_capacity as u64),
        "S-P13 stuck backlog visible",
        "stuck subscriber's queue: {backlog:?}, expected {stuck_capacity}"
    );
    let infos = sup.shutdown().await;
    task.join().await.map_err(|e| violation("supervisor task", e.to_string()))?;
    let report = bus.shutdown().await;
    cx.log("bus", "shutdown", report.to_string());
    let counted = report.undelivered.iter().find(|u| u.name == "stuck").map(|u| u.count);
    ensure!(
        counted == Some(stuck_capacity as u64),
        "S-P13 stuck backlog counted at shutdown",
        "undelivered to stuck: {counted:?}"
    );
    let unpublished = match cx.rt.metrics().snapshot().get("supervisor.outbox_undelivered", "") {
        Some(brum_core::metrics::MetricValue::Counter(n)) => *n,
        _ => 0,
    };
    // Every instance's exit, and the Started of those behind the stuck one, never reached
    // the bus: all counted.
    ensure!(
        unpublished >= servers as u64,
        "S-P13 unpublished events counted",
        "supervisor.outbox_undelivered = {unpublished}, expected at least {servers}"
    );
    for i in &infos {
        ensure!(i.state.is_terminal(), "I39 shutdown ends every instance", "#{} is {}", i.id, i.state);
        cx.log("supervisor", "final", state_line(i));
    }
    let live = table.live_pids();
    ensure!(live.is_empty(), "I11 no orphans after shutdown", "simulated processes still running: {live:?}");
    Ok(())
}

/// A session on the scenario's runtime with the scenarios' supervisor config; with a log
/// store (no files) if `logs`, and findings bounded at `errors_max` groups (16 URLs).
pub(crate) fn session<R: Runtime>(
    cx: &Cx<R>,
    logs: bool,
    errors_max: usize,
) -> Result<brum_core::session::Session<R>, super::Violation> {
    session_with(cx, logs, errors_max, cx.bus_config())
}

/// [`session`] with its own bus configuration.
pub(crate) fn session_with<R: Runtime>(
    cx: &Cx<R>,
    logs: bool,
    errors_max: usize,
    bus: brum_core::bus::BusConfig,
) -> Result<brum_core::session::Session<R>, super::Violation> {
    use brum_core::findings::FindingsConfig;
    use brum_core::logs::LogStoreConfig;
    use brum_core::session::{Session, SessionConfig};
    let logs = logs.then(|| (LogStoreConfig { budget_bytes: 64 * 1024 * 1024, max_line_bytes: 4096 }, None));
    Session::new(
        cx.rt.clone(),
        SessionConfig { bus, supervisor: config(), logs, findings: FindingsConfig { errors_max, urls_max: 16 } },
    )
    .map_err(|_| violation("setup", "bus closed"))
}

/// S-D1: two dev servers print a Node stack on stderr and go quiet; one stays quiet, the other
/// prints a request line after a seeded 0-300 ms. Each error is reported once, while its server
/// still runs, within `QUIET_CLOSE` (and a millisecond) of its last stack line, with the
/// location of the first frame in the project's code. Mutant `detect.no_quiet_close` (a group
/// waits for the next line however long) leaves the quiet server's error unreported.
pub async fn s_d1<R: Runtime>(cx: &Cx<R>, programs: &Programs) -> Outcome {
    use brum_core::detect::QUIET_CLOSE;
    let table = table(programs)?;
    let session = session(cx, false, 16)?;
    let timeline = Timeline::attach(session.bus(), &cx.trace);
    let sup = session.supervisor().clone();
    let mut servers = Vec::new();
    for (name, program) in [("quiet", "stack-quiet"), ("chatty", "stack-then-request")] {
        match sup.start(script(name, program, RestartPolicy::Never), false).await {
            Ok(Started::New(p)) => servers.push(p),
            other => return Err(violation("setup", format!("{name}: {other:?}"))),
        }
    }
    // Wait (in virtual time, bounded) for an error from each server.
    let deadline = cx.rt.now() + Duration::from_secs(2);
    let errors = loop {
        let events = timeline.events();
        let errors: Vec<Arc<Envelope>> =
            events.iter().filter(|e| matches!(e.event, Event::ErrorDetected { .. })).cloned().collect();
        let all = servers.iter().all(|p| errors.iter().any(|e| e.event.process() == Some(p)));
        if all || cx.rt.now() >= deadline {
            break errors;
        }
        cx.rt.sleep(Duration::from_millis(1)).await;
    };
    let events = timeline.events();
    for p in &servers {
        let mine: Vec<&Arc<Envelope>> = errors.iter().filter(|e| e.event.process() == Some(p)).collect();
        ensure!(mine.len() == 1, "S-D1 one error per stack, while the server runs", "{p}: {} errors", mine.len());
        let Event::ErrorDetected { error, .. } = &mine[0].event else { unreachable!("filtered on kind") };
        let location = error.location.as_ref().map(|l| l.to_string());
        ensure!(
            location.as_deref() == Some("/app/src/routes.js:12:7"),
            "S-D1 the error points at the project's frame",
            "{p}: {location:?}"
        );
        // The last stack line: the newest line of this server before the error.
        let last_line = events
            .iter()
            .filter(|e| e.id < mine[0].id && e.event.process() == Some(p))
            .filter(|e| matches!(e.event, Event::LogLines { .. }))
            .map(|e| e.at)
            .max();
        let waited = last_line.map(|at| mine[0].at.saturating_since(at));
        cx.log("detect", "waited", format!("{p}: error {waited:?} after its last line"));
        ensure!(
            waited.is_some_and(|w| w <= QUIET_CLOSE + Duration::from_millis(1)),
            "S-D1 reported within QUIET_CLOSE of the last line",
            "{p}: waited {waited:?}"
        );
    }
    // The window: the chatty server's next line came inside the quiet period, racing the
    // quiet close to end its stack.
    let chatty = &servers[1];
    let request = events.iter().find(|e| {
        e.event.process() == Some(chatty)
            && matches!(&e.event, Event::LogLines { lines, .. } if lines.iter().any(|l| l.text.starts_with("GET ")))
    });
    let error_id = errors.iter().find(|e| e.event.process() == Some(chatty)).map(|e| e.id);
    let raced = request.is_some_and(|r| error_id.is_some_and(|id| r.id < id));
    cx.log("window", if raced { "hit" } else { "miss" }, format!("the next line beat the quiet close: {raced}"));
    let report = session.shutdown().await;
    ensure!(
        report.processes.iter().all(|i| i.state.is_terminal()),
        "I39 shutdown ends every instance",
        "not all ended"
    );
    timeline.check_bracketing()?;
    let live = table.live_pids();
    ensure!(live.is_empty(), "I11 no orphans after shutdown", "simulated processes still running: {live:?}");
    Ok(())
}

/// What the printer stand-in of S-S1 saw of one instance.
#[derive(Debug, Default)]
struct Printed {
    lines: Vec<String>,
    /// Each printed line's sequence number, and the text of the URLs detected with the
    /// sequence number of their event.
    seqs: Vec<u64>,
    urls: Vec<(u64, String)>,
    exits: u32,
    after_exit: u32,
}

/// S-S1: `brum run`'s shape on the session: a lossless printer, three processes flooding, and
/// Ctrl-C (the shutdown future) at a seeded moment in the middle of the flood. Every line the
/// bus accepted is printed, in order, each instance's exit after its last line, exactly one exit
/// each, nothing left running, no task outliving the session (the harness's I40). Mutant
/// `session.bus_first` (the bus shut down before the supervisor) loses the exits.
pub async fn s_s1<R: Runtime>(cx: &Cx<R>, programs: &Programs) -> Outcome {
    let table = table(programs)?;
    let session = session(cx, true, 16)?;
    let printed: Arc<Mutex<BTreeMap<u64, Printed>>> = Arc::default();
    let p = printed.clone();
    session
        .bus()
        .subscribe(SubscribeOptions::named("printer").lossless().capacity(64), move |e| {
            let mut p = p.lock().unwrap_or_else(|e| e.into_inner());
            match &e.event {
                Event::LogLines { process, lines, .. } => {
                    let entry = p.entry(process.id.0).or_default();
                    if entry.exits > 0 {
                        entry.after_exit += lines.len() as u32;
                    }
                    entry.lines.extend(lines.iter().map(|l| l.text.to_string()));
                    entry.seqs.extend((0..lines.len()).map(|i| e.seq(i)));
                }
                Event::UrlDetected { process, url } => {
                    p.entry(process.id.0).or_default().urls.push((e.id.0, url.url.clone()));
                }
                Event::ProcessExited { process, .. } => p.entry(process.id.0).or_default().exits += 1,
                _ => {}
            }
        })
        .map_err(|_| violation("setup", "bus closed"))?;
    let n = 2 + cx.rt.below(2) as usize;
    for i in 0..n {
        let started =
            session.supervisor().start(script(&format!("flood{i}"), "flood", RestartPolicy::Never), false).await;
        ensure!(matches!(started, Ok(Started::New(_))), "S-S1 starts", "flood{i}: {started:?}");
    }
    let urls_before = session.findings(|f| f.urls(None).len());
    let delay = Duration::from_millis(1 + cx.rt.below(15));
    let rt = cx.rt.clone();
    let report = session.run(async move { rt.sleep(delay).await }).await;
    cx.log("session", "shutdown", format!("after {} ms: {}", delay.as_millis(), report.bus));
    let printed = std::mem::take(&mut *printed.lock().unwrap_or_else(|e| e.into_inner()));
    ensure!(
        report.processes.len() == n && report.processes.iter().all(|i| i.state.is_terminal()),
        "I39 shutdown ends every instance",
        "{:?}",
        report.processes.iter().map(state_line).collect::<Vec<_>>()
    );
    for info in &report.processes {
        let seen = printed.get(&info.id);
        let (lines, exits, after) = seen.map_or((0, 0, 0), |s| (s.lines.len(), s.exits, s.after_exit));
        cx.log("session", "printed", format!("#{} {lines} lines, {exits} exit", info.id));
        ensure!(exits == 1, "S-S1 one exit each, printed", "#{} printed {exits} exits", info.id);
        ensure!(after == 0, "I14 exit after the last line", "#{}: {after} lines after its exit", info.id);
        if let Some(s) = seen {
            let expected = (0..FLOOD_BURSTS).flat_map(|b| (1..=FLOOD_BURST_LINES).map(move |i| format!("b{b} {i}")));
            let in_order = s.lines.iter().skip(1).zip(expected).all(|(l, e)| *l == e);
            ensure!(
                in_order,
                "S-S1 every accepted line printed in order",
                "#{}: {:?}",
                info.id,
                &s.lines[..s.lines.len().min(4)]
            );
            // A detection comes right after the line that completed it, before the lines after
            // it, however the reads batched them.
            for (id, url) in &s.urls {
                let before = s.seqs.iter().position(|q| q + 1 == *id).map(|i| s.lines[i].as_str());
                ensure!(
                    before.is_some_and(|l| l.contains(url.as_str())),
                    "S-S1 a detection follows its line",
                    "#{}: url event e{id} ({url}) follows {before:?}",
                    info.id
                );
            }
        }
    }
    ensure!(report.bus.undelivered.is_empty(), "S-S1 nothing left undelivered", "{}", report.bus);
    // The window: Ctrl-C landed mid-flood (an instance had printed some of its lines, not all).
    let full = 1 + (FLOOD_BURSTS * FLOOD_BURST_LINES) as usize;
    let cut = printed.values().filter(|p| !p.lines.is_empty() && p.lines.len() < full).count();
    cx.log("window", if cut > 0 { "hit" } else { "miss" }, format!("{cut} flood(s) cut by Ctrl-C mid-way"));
    let live = table.live_pids();
    ensure!(live.is_empty(), "I11 no orphans after shutdown", "simulated processes still running: {live:?}");
    cx.log("session", "urls", format!("{urls_before} URLs while running"));
    Ok(())
}

/// S-F1: the findings store under the session: six servers announce a URL and an error each
/// and exit at seeded times, one server keeps running. Oracles, checked after every exit and at
/// the end: the store stays within `errors_max`, holds one group per signature (three distinct
/// errors, six occurrences), and lists no URL of an instance that ended; the running server's
/// URL is there. Mutant `findings.keep_urls` (instance ends ignored) leaves the exited servers'
/// URLs listed.
pub async fn s_f1<R: Runtime>(cx: &Cx<R>, programs: &Programs) -> Outcome {
    use brum_core::findings::ErrorFilter;
    let table = table(programs)?;
    const ERRORS_MAX: usize = 2;
    let session = session(cx, false, ERRORS_MAX)?;
    let timeline = Timeline::attach(session.bus(), &cx.trace);
    let sup = session.supervisor().clone();
    let server = match sup.start(script("server", "server", RestartPolicy::Never), false).await {
        Ok(Started::New(p)) => p,
        other => return Err(violation("setup", format!("server: {other:?}"))),
    };
    let mut announcers = Vec::new();
    for k in 0..ANNOUNCERS {
        match sup.start(script(&format!("a{k}"), &format!("announcer{k}"), RestartPolicy::Never), false).await {
            Ok(Started::New(p)) => announcers.push(p),
            other => return Err(violation("setup", format!("a{k}: {other:?}"))),
        }
    }
    for p in &announcers {
        timeline.await_exit(p.id.0).await;
    }
    // The findings subscription may trail the timeline's: wait until it has seen every exit
    // (a lossless mailbox, so it will), bounded by the scenario's budget.
    let ended: std::collections::BTreeSet<u64> = announcers.iter().map(|p| p.id.0).collect();
    loop {
        let (urls, groups) = session.findings(|f| (f.urls(None), f.group_count()));
        ensure!(groups <= ERRORS_MAX, "S-F1 findings bounded", "{groups} groups, errors_max {ERRORS_MAX}");
        let stale: Vec<String> =
            urls.iter().filter(|u| ended.contains(&u.process.id.0)).map(|u| u.process.to_string()).collect();
        let errors_seen = session.findings(|f| f.stats().errors_seen);
        if errors_seen == u64::from(ANNOUNCERS) && session.bus().stats().iter().all(|(_, s)| s.queued == 0) {
            ensure!(stale.is_empty(), "S-F1 no URL outlives its instance", "still listed: {stale:?}");
            ensure!(
                urls.iter().any(|u| u.process == server),
                "S-F1 a running server's URL is listed",
                "{:?}",
                urls.iter().map(|u| u.url.url.clone()).collect::<Vec<_>>()
            );
            break;
        }
        cx.rt.sleep(Duration::from_millis(1)).await;
    }
    // The window: an announcer's end was published in the millisecond of its URL (the end
    // and the URL in flight to the findings store together).
    let events = timeline.events();
    let close = announcers
        .iter()
        .filter(|p| {
            let at =
                |kind| events.iter().find(|e| e.event.process() == Some(*p) && e.event.kind() == kind).map(|e| e.at);
            matches!((at(EventKind::UrlDetected), at(EventKind::ProcessExited)), (Some(u), Some(x)) if x == u)
        })
        .count();
    cx.log("window", if close > 0 { "hit" } else { "miss" }, format!("{close} end(s) in the millisecond of their URL"));
    let page = session.findings(|f| f.errors(&ErrorFilter::default(), None, 100));
    let messages: Vec<String> = page.groups.iter().map(|g| format!("{} x{}", g.latest.message, g.count)).collect();
    let distinct: std::collections::BTreeSet<_> = page.groups.iter().map(|g| g.latest.message.clone()).collect();
    ensure!(distinct.len() == page.groups.len(), "S-F1 one group per signature", "{messages:?}");
    let evicted = session.findings(|f| f.stats().groups_evicted);
    cx.log("findings", "errors", format!("{messages:?}, {evicted} evicted"));
    ensure!(
        page.groups.len() + evicted as usize >= 3,
        "S-F1 three distinct errors accounted for",
        "{messages:?} and {evicted} evicted"
    );
    let report = session.shutdown().await;
    ensure!(
        report.processes.iter().all(|i| i.state.is_terminal()),
        "I39 shutdown ends every instance",
        "not all ended"
    );
    let live = table.live_pids();
    ensure!(live.is_empty(), "I11 no orphans after shutdown", "simulated processes still running: {live:?}");
    timeline.check_bracketing()
}

/// A project directory the scenario can edit while the session watches it.
#[derive(Default)]
struct EditableFs(Mutex<brum_core::discovery::MemFs>);

impl EditableFs {
    fn set(&self, fs: brum_core::discovery::MemFs) {
        *self.0.lock().unwrap_or_else(|e| e.into_inner()) = fs;
    }

    fn fs(&self) -> brum_core::discovery::MemFs {
        self.0.lock().unwrap_or_else(|e| e.into_inner()).clone()
    }
}

impl brum_core::discovery::ProjectFs for EditableFs {
    fn read_to_string(&self, path: &std::path::Path) -> std::io::Result<String> {
        self.fs().read_to_string(path)
    }

    fn read_dir(&self, path: &std::path::Path) -> std::io::Result<Vec<brum_core::discovery::DirEntry>> {
        self.fs().read_dir(path)
    }

    fn canonicalize(&self, path: &std::path::Path) -> std::io::Result<PathBuf> {
        self.fs().canonicalize(path)
    }
}

/// S-S2: the session watches the project's manifests; the scenario edits package.json four
/// times at seeded moments, some closer together than the watch's period. Every
/// `ScriptsChanged` names exactly what changed between the catalogue the front ends had and the
/// one that replaced it (edits that land within one period are announced together, as their
/// net change), the announcements replayed from the first catalogue give the current one, and
/// the catalogue follows the last edit. The window: two edits landed within one watch period
/// (one announcement for both). Mutant `catalogue.silent` (a new catalogue taken without the
/// event) leaves the front ends blind: the wait for the announcement runs out the budget.
pub async fn s_s2<R: Runtime>(cx: &Cx<R>, _programs: &Programs) -> Outcome {
    use brum_core::discovery::{DiscoveryPrefs, MemFs};
    const PERIOD: Duration = Duration::from_millis(100);
    let root = PathBuf::from("/work/app");
    let manifests: [&[(&str, &str)]; 5] = [
        &[("dev", "vite")],
        &[("dev", "vite --host"), ("test", "vitest")],
        &[("dev", "vite --host")],
        &[("dev", "vite --host"), ("lint", "eslint")],
        &[("dev", "vite"), ("lint", "eslint .")],
    ];
    let manifest = |scripts: &[(&str, &str)]| {
        let body: Vec<String> = scripts.iter().map(|(k, v)| format!("\"{k}\": \"{v}\"")).collect();
        MemFs::new().file(root.join("package.json"), &format!("{{\"scripts\": {{{}}}}}", body.join(", ")))
    };
    // What an announcement from manifest `a` to manifest `b` names: added, removed, changed.
    let diff = |a: &[(&str, &str)], b: &[(&str, &str)]| {
        let (a, b): (BTreeMap<_, _>, BTreeMap<_, _>) = (a.iter().copied().collect(), b.iter().copied().collect());
        let names = |f: &dyn Fn(&&str) -> bool, m: &BTreeMap<&str, &str>| -> Vec<String> {
            m.keys().filter(|k| f(k)).map(|k| k.to_string()).collect()
        };
        (
            names(&|k| !a.contains_key(k), &b),
            names(&|k| !b.contains_key(k), &a),
            names(&|k| b.get(k).is_some_and(|v| a[k] != *v), &a),
        )
    };
    let fs = Arc::new(EditableFs::default());
    fs.set(manifest(manifests[0]));
    let session = session(cx, false, 8)?;
    let timeline = Timeline::attach(session.bus(), &cx.trace);
    let first = session.refresh(brum_core::discovery::discover(&*fs, &root, &DiscoveryPrefs::default())).await;
    ensure!(first.as_ref().is_some_and(|d| d.added == ["dev"]), "S-S2 the first catalogue is announced", "{first:?}");
    session.watch(fs.clone(), root.clone(), DiscoveryPrefs::default(), PERIOD);
    let mut close = 0;
    for (k, m) in manifests.iter().enumerate().skip(1) {
        let gap = Duration::from_millis(cx.rt.below(160));
        close += u32::from(gap < PERIOD);
        cx.rt.sleep(gap).await;
        fs.set(manifest(m));
        cx.log("scenario", "edit", format!("manifest {k}"));
    }
    // Wait for the announcements to reach the last manifest; each one must be the net change
    // from the manifest announced before it to a later one.
    let last = manifests.len() - 1;
    let mut at = 0;
    let mut announced = 0;
    let mut coalesced = 0;
    while at < last {
        let arrived = timeline.arrived.notified();
        tokio::pin!(arrived);
        arrived.as_mut().enable();
        let changes: Vec<Event> = timeline
            .events()
            .iter()
            .filter(|e| matches!(e.event, Event::ScriptsChanged { .. }))
            .map(|e| e.event.clone())
            .collect();
        for event in changes.iter().skip(1 + announced) {
            let Event::ScriptsChanged { added, removed, changed } = event else { unreachable!("filtered above") };
            let got = (added.clone(), removed.clone(), changed.clone());
            let to = (at + 1..=last).find(|&j| diff(manifests[at], manifests[j]) == got);
            let Some(to) = to else {
                return Err(violation(
                    "S-S2 the event names what changed",
                    format!("from manifest {at}, no later manifest gives {event}"),
                ));
            };
            cx.log("session", "announced", format!("manifest {at} -> {to}"));
            coalesced += u32::from(to > at + 1);
            at = to;
            announced += 1;
        }
        if at < last {
            arrived.await;
        }
    }
    let names: Vec<String> = session.catalogue().scripts().map(|s| s.name.clone()).collect();
    ensure!(names == ["dev", "lint"], "S-S2 the catalogue follows the last edit", "{names:?}");
    ensure!(session.catalogue().find("test").is_err(), "S-S2 a removed script is gone", "test still listed");
    cx.log(
        "window",
        if coalesced > 0 { "hit" } else { "miss" },
        format!("{coalesced} announcement(s) covered two or more edits ({close} within a period of the one before)"),
    );
    session.shutdown().await;
    Ok(())
}
