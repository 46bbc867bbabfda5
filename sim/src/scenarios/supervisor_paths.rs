//! Supervisor and session paths: status reads during lifecycle writes (S-P1), a slow stop
//! beside other control (S-P2), the snapshot against the events (S-P6), stop-all racing
//! restart-all (S-S3), and three paths with no race of their own: a grandchild holding the
//! pipes after SIGKILL (S-G1), lines split across reads and at the length limit (S-R1), and a
//! failed `wait()` (S-W1). Each has a planted mutant in `brum_core::mutants` it catches.

use std::collections::BTreeMap;
use std::future::Future;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use brum_core::bus::{Event, SubscribeOptions};
use brum_core::rt::{Exit, Runtime, Signal, spawn};
use brum_core::script::RestartPolicy;
use brum_core::supervisor::{
    EOF_AFTER_KILL, ProcState, ProcessInfo, Started, Supervisor, SupervisorConfig, SupervisorError, Target,
};

use super::supervisor_races::{Timeline, config, finish, script, session, setup, state_line, table};
use super::{Cx, Outcome, violation};
use crate::conformance::Programs;
use crate::ensure;
use crate::procs::{Program, SimProcessTable, Step};

/// How long the `drainer` program takes to shut down after SIGTERM: under the scenarios'
/// 100 ms stop grace, so it ends on its own, slowly.
const DRAIN: Duration = Duration::from_millis(60);

/// S-P14's ticker: lines, and the time between them.
const TICKS: u32 = 40;
const TICK: Duration = Duration::from_millis(10);
/// S-P14's slow spawn.
const SLOW_EXEC: Duration = Duration::from_millis(200);

/// How late signals reach S-P2's slow process.
const SIGNAL_LATENCY: Duration = Duration::from_millis(20);

/// The line-length limit of S-R1's supervisor.
const R1_MAX_LINE: usize = 64;

/// Registers the scripted programs these scenarios run (called from
/// `supervisor_races::register_programs`).
pub(crate) fn register_programs(t: &SimProcessTable) {
    let ms = Duration::from_millis;
    t.register("drainer", Program::new(vec![Step::Out("up".into()), Step::Hang]).draining_on_term(DRAIN));
    // S-P2's slow stop: signals reach it 20 ms late, then it drains.
    t.register(
        "slow-stopper",
        Program::new(vec![Step::Out("up".into()), Step::Hang]).draining_on_term(DRAIN).slow_signals(SIGNAL_LATENCY),
    );
    // The leader starts a daemon (its own group, the leader's pipes) and runs until stopped.
    t.register(
        "pipe-holder",
        Program::new(vec![Step::Out("parent up".into()), Step::SpawnDetached("daemon".into()), Step::Hang]),
    );
    t.register(
        "daemon",
        Program::new(vec![
            Step::Jitter(ms(5)),
            Step::Out("daemon up".into()),
            Step::Sleep(ms(150)),
            Step::Out("daemon tick".into()),
            // After its instance ended (the EOF deadline, about 2.1 s in): never published.
            Step::Sleep(ms(2300)),
            Step::Out("daemon late".into()),
            Step::Hang,
        ]),
    );
    // S-R1: a line in two reads, one in three across the limit, one of exactly the limit, one
    // over it (cut once).
    let exact = "x".repeat(R1_MAX_LINE);
    let over = format!("{}{}", "y".repeat(R1_MAX_LINE), "tail");
    t.register(
        "splitter",
        Program::new(vec![
            Step::OutRaw("first half of a ".into()),
            Step::Sleep(ms(1)),
            Step::Jitter(ms(4)),
            Step::OutRaw("line\n".into()),
            Step::OutRaw(exact[..20].to_string()),
            Step::Sleep(ms(1)),
            Step::OutRaw(exact[20..50].to_string()),
            Step::Jitter(ms(3)),
            Step::OutRaw(format!("{}\n", &exact[50..])),
            Step::Out(over),
            Step::OutRaw("no newline at the end".into()),
            Step::Exit(0),
        ]),
    );
    // S-W1: children whose wait() fails once they have ended.
    t.register(
        "wait-fails",
        Program::new(vec![Step::Out("working".into()), Step::Jitter(ms(20)), Step::Exit(0)]).failing_wait(),
    );
    t.register("wait-fails-server", Program::new(vec![Step::Out("serving".into()), Step::Hang]).failing_wait());
    // S-P14: a ticker printing every 10 ms, and a program whose exec takes 200 ms.
    let mut ticks = vec![Step::Jitter(ms(5))];
    for i in 1..=TICKS {
        ticks.push(Step::Out(format!("tick {i}")));
        ticks.push(Step::Sleep(TICK));
    }
    ticks.push(Step::Exit(0));
    t.register("ticker", Program::new(ticks));
    t.register("slow-exec", Program::new(vec![Step::Out("slow up".into()), Step::Hang]).slow_exec(SLOW_EXEC));
    // S-O1: leaders that leave a background job in their group and exit.
    t.register(
        "bg-leader",
        Program::new(vec![
            Step::Out("leader up".into()),
            Step::SpawnBackground("bg-worker".into()),
            Step::Jitter(ms(10)),
            Step::Exit(0),
        ]),
    );
    t.register(
        "bg-leader-stubborn",
        Program::new(vec![
            Step::Out("leader up".into()),
            Step::SpawnBackground("bg-stubborn".into()),
            Step::Jitter(ms(10)),
            Step::Exit(0),
        ]),
    );
    t.register("bg-worker", Program::new(vec![Step::Hang]));
    t.register("bg-stubborn", Program::new(vec![Step::Hang]).ignoring_term());
    // S-S4: a job that succeeds beside the crasher.
    t.register("ok-job", Program::new(vec![Step::Jitter(ms(10)), Step::Out("done".into()), Step::Exit(0)]));
    // S-D2: a dev server announcing its URL on both streams (once split across reads), then
    // again, and reporting two errors.
    t.register(
        "vite-dev",
        Program::new(vec![
            Step::Jitter(ms(3)),
            Step::Out("  VITE v5.0.0  ready in 312 ms".into()),
            Step::OutRaw("  Local:   http://local".into()),
            Step::Sleep(ms(1)),
            Step::OutRaw("host:5173/\n".into()),
            Step::Out("  Network: http://192.168.1.10:5173/".into()),
            Step::Err("[vite] dev server running at http://localhost:5173/".into()),
            Step::Jitter(ms(5)),
            Step::Err("TypeError: Cannot read properties of undefined (reading 'id')".into()),
            Step::Err("    at handler (/app/src/routes.js:12:7)".into()),
            Step::Err("    at Layer.handle (/app/node_modules/express/lib/router/layer.js:95:5)".into()),
            Step::Jitter(ms(300)),
            Step::Err("error: build failed in module auth".into()),
            Step::Out("  Local:   http://localhost:5173/".into()),
            Step::Hang,
        ]),
    );
}

/// `fut`'s output, or `None` once `bound` of virtual time has passed.
async fn within<R: Runtime, T>(rt: &R, bound: Duration, fut: impl Future<Output = T>) -> Option<T> {
    let sleep = rt.sleep(bound);
    tokio::pin!(fut);
    tokio::pin!(sleep);
    tokio::select! {
        biased;
        v = &mut fut => Some(v),
        () = &mut sleep => None,
    }
}

/// I13: what one snapshot row may never show (a torn write).
fn torn(i: &ProcessInfo) -> Option<&'static str> {
    if i.state.is_terminal() != i.ended_ms.is_some() {
        return Some("terminal iff it has an end time");
    }
    if matches!(i.state, ProcState::Running | ProcState::Stopping) && i.pid.is_none() {
        return Some("a running instance has a pid");
    }
    if i.restart_scheduled && !i.state.is_terminal() {
        return Some("a restart is scheduled only after the end");
    }
    if matches!(i.state, ProcState::Failed { exit: None }) && i.error.is_none() {
        return Some("a failed spawn says why");
    }
    None
}

/// S-P1: status readers never lock up or see a torn snapshot while starts, stops, restarts,
/// natural exits and automatic restarts write it. Three readers wait on every change and check
/// each row; the writers act at seeded moments. Mutant `supervisor.torn_status` (the terminal
/// state published before its end time, the dispatcher yielding in between) is seen torn.
pub async fn s_p1<R: Runtime>(cx: &Cx<R>, _programs: &Programs) -> Outcome {
    let (bus, timeline, sup, task) = setup(cx);
    /// What the readers saw: snapshots read, torn rows, reads right behind an end.
    #[derive(Default)]
    struct Seen {
        reads: u64,
        torn: Vec<String>,
        behind_end: u64,
    }
    let seen = Arc::new(Mutex::new(Seen::default()));
    let readers: Vec<_> = (0..3)
        .map(|_| {
            let (mut w, seen, rt) = (sup.clone(), seen.clone(), cx.rt.clone());
            spawn(&cx.rt, "scenario.reader", async move {
                while w.changed().await {
                    let now = rt.now().as_millis() as u64;
                    let snap = w.status();
                    let mut s = seen.lock().unwrap_or_else(|p| p.into_inner());
                    s.reads += 1;
                    for i in snap.iter() {
                        if let Some(rule) = torn(i) {
                            s.torn.push(format!(
                                "#{} {} {:?} ended_ms={:?}: {rule}",
                                i.id, i.script, i.state, i.ended_ms
                            ));
                        }
                        s.behind_end += u64::from(i.ended_ms == Some(now));
                    }
                }
            })
        })
        .collect();
    let start = |name: &str, program: &str, policy| sup.start(script(name, program, policy), false);
    for (name, program, policy) in [
        ("quick", "quick-exit", RestartPolicy::Never),
        ("crash", "crasher", RestartPolicy::OnFailure),
        ("web", "server", RestartPolicy::Never),
        ("api", "drainer", RestartPolicy::Never),
    ] {
        let r = start(name, program, policy).await;
        ensure!(matches!(r, Ok(Started::New(_))), "S-P1 starts", "{name}: {r:?}");
        cx.rt.sleep(Duration::from_millis(cx.rt.below(8))).await;
    }
    cx.rt.sleep(Duration::from_millis(cx.rt.below(25))).await;
    let r = sup.restart(Target::Script("web".into())).await;
    ensure!(matches!(r, Ok(Started::New(_))), "S-P1 restart", "{r:?}");
    cx.rt.sleep(Duration::from_millis(cx.rt.below(25))).await;
    let stopped = sup.stop(Target::Script("api".into())).await;
    ensure!(stopped.is_ok(), "S-P1 stop answers", "{stopped:?}");
    let missing = sup.start(script("ghost", "no-such-program", RestartPolicy::Never), false).await;
    ensure!(missing.is_err(), "S-P1 a failed spawn is reported", "{missing:?}");
    cx.rt.sleep(Duration::from_millis(300)).await; // the crasher's restarts run out
    let res = finish(cx, &sup, task, &bus, &timeline).await;
    drop(sup);
    for r in readers {
        r.join().await.map_err(|e| violation("reader", e.to_string()))?;
    }
    res?;
    let seen = std::mem::take(&mut *seen.lock().unwrap_or_else(|p| p.into_inner()));
    ensure!(seen.torn.is_empty(), "I13 no torn status read", "{}", seen.torn.join("; "));
    ensure!(seen.reads > 0, "S-P1 the readers read", "no snapshot read");
    let window = if seen.behind_end > 0 { "hit" } else { "miss" };
    cx.log("window", window, format!("{} reads in the millisecond an instance ended", seen.behind_end));
    cx.log("scenario", "reads", format!("{} snapshots read, none torn", seen.reads));
    Ok(())
}

/// S-P2: a slow stop (signals reach a server 20 ms late, and it drains for 60 ms after
/// SIGTERM) never blocks readers or the control of other processes: a start and a stop of
/// others issued at a seeded moment, often while the slow stop is in flight, complete in
/// bounded virtual time. Mutant
/// `supervisor.stop_waits_inline` (the dispatcher waits out the grace itself, as Brummer's
/// stop slept and ran `pgrep` under the process lock) makes them wait.
pub async fn s_p2<R: Runtime>(cx: &Cx<R>, _programs: &Programs) -> Outcome {
    /// Far above the few scheduler steps a start or a stop of a prompt process takes, far
    /// below the stop grace a blocked dispatcher would add.
    const CONTROL_BOUND: Duration = Duration::from_millis(10);
    let (bus, timeline, sup, task) = setup(cx);
    let slow = match sup.start(script("slow", "slow-stopper", RestartPolicy::Never), false).await {
        Ok(Started::New(p)) => p,
        other => return Err(violation("setup", format!("slow: {other:?}"))),
    };
    let other = match sup.start(script("other", "server", RestartPolicy::Never), false).await {
        Ok(Started::New(p)) => p,
        other => return Err(violation("setup", format!("other: {other:?}"))),
    };
    cx.rt.sleep(Duration::from_millis(1 + cx.rt.below(5))).await;
    let slow_stop = {
        let sup = sup.clone();
        let id = slow.id.0;
        spawn(&cx.rt, "scenario.stop", async move { sup.stop(Target::Id(id)).await })
    };
    // Inside the slow stop (before it drained) or after it.
    let slow_stop_ms = (SIGNAL_LATENCY + DRAIN).as_millis() as u64;
    cx.rt.sleep(Duration::from_millis(cx.rt.below(slow_stop_ms * 3 / 2))).await;
    let in_flight = sup.status().iter().any(|i| i.id == slow.id.0 && i.state == ProcState::Stopping);
    // The start and the stop of the others, in a seeded order with a seeded gap between them
    // (the slow stop may end in the gap).
    let start_first = cx.rt.below(2) == 0;
    let gap = Duration::from_millis(cx.rt.below(40));
    for step in 0..2 {
        if step == 1 {
            cx.rt.sleep(gap).await;
        }
        let t0 = cx.rt.now();
        if (step == 0) == start_first {
            let started =
                within(&cx.rt, CONTROL_BOUND, sup.start(script("late", "server", RestartPolicy::Never), false)).await;
            ensure!(
                matches!(started, Some(Ok(Started::New(_)))),
                "I16 a slow stop does not hold up other starts",
                "start of `late` after {:?}: {started:?}",
                cx.rt.now().saturating_since(t0)
            );
        } else {
            let stopped = within(&cx.rt, CONTROL_BOUND, sup.stop(Target::Id(other.id.0))).await;
            ensure!(
                matches!(&stopped, Some(Ok(i)) if i.state.is_terminal()),
                "I16 a slow stop does not hold up other stops",
                "stop of {other} after {:?}: {stopped:?}",
                cx.rt.now().saturating_since(t0)
            );
        }
    }
    let status = sup.status();
    cx.log(
        "window",
        if in_flight { "hit" } else { "miss" },
        format!("the other start and stop came {} the slow stop ended", if in_flight { "before" } else { "after" }),
    );
    let slow_info = match slow_stop.join().await {
        Ok(Ok(i)) => i,
        other => return Err(violation("stop", format!("the slow stop: {other:?}"))),
    };
    ensure!(
        slow_info.state == (ProcState::Stopped { exit: Some(Exit::Code(0)) }),
        "I12 a graceful stop ends stopped with the program's code",
        "{}",
        state_line(&slow_info)
    );
    ensure!(
        timeline.lines_of(slow.id.0).last().map(String::as_str) == Some("draining"),
        "I15 the draining line precedes the exit",
        "{:?}",
        timeline.lines_of(slow.id.0)
    );
    cx.log("scenario", "status", format!("{} rows read during the stops", status.len()));
    finish(cx, &sup, task, &bus, &timeline).await
}

/// S-P6: the two views of a process's end, the status snapshot and the events (and a stop's
/// answer), never diverge. Five short-lived processes exit on their own while stops land at
/// seeded moments; a subscriber reads the snapshot as each `ProcessExited` arrives. The
/// snapshot must already show that instance ended, with that exit; a stop's answer must
/// match the event too. Mutant `supervisor.snapshot_misses_ends` (ends from the readers and
/// the reaper not republished) leaves the snapshot saying running.
pub async fn s_p6<R: Runtime>(cx: &Cx<R>, _programs: &Programs) -> Outcome {
    let (bus, timeline, sup, task) = setup(cx);
    /// Per `ProcessExited` seen: the instance, the event's exit, and the snapshot's state then.
    type AtExit = Vec<(u64, Exit, Option<ProcState>)>;
    let at_exit: Arc<Mutex<AtExit>> = Arc::default();
    {
        let (at_exit, sup) = (at_exit.clone(), sup.clone());
        let kinds = brum_core::bus::KindSet::of(&[brum_core::bus::EventKind::ProcessExited]);
        bus.subscribe(SubscribeOptions::named("view").lossless().capacity(64).kinds(kinds), move |e| {
            if let Event::ProcessExited { process, exit } = &e.event {
                let state = sup.status().iter().find(|i| i.id == process.id.0).map(|i| i.state);
                at_exit.lock().unwrap_or_else(|p| p.into_inner()).push((process.id.0, *exit, state));
            }
        })
        .map_err(|_| violation("setup", "bus closed"))?;
    }
    let mut ids = Vec::new();
    for k in 0..5 {
        match sup.start(script(&format!("q{k}"), "quick-exit", RestartPolicy::Never), false).await {
            Ok(Started::New(p)) => ids.push(p.id.0),
            other => return Err(violation("setup", format!("q{k}: {other:?}"))),
        }
    }
    // Stops of three of them at seeded moments, concurrently: each may land before, during
    // or after the natural exit.
    let stops: Vec<_> = ids
        .iter()
        .take(3)
        .map(|&id| {
            let (sup, rt, delay) = (sup.clone(), cx.rt.clone(), Duration::from_millis(cx.rt.below(25)));
            spawn(&cx.rt, "scenario.stop", async move {
                rt.sleep(delay).await;
                sup.stop(Target::Id(id)).await
            })
        })
        .collect();
    let mut answers = Vec::new();
    for s in stops {
        match s.join().await {
            Ok(Ok(info)) => answers.push(info),
            other => return Err(violation("stop", format!("{other:?}"))),
        }
    }
    for &id in &ids {
        timeline.await_exit(id).await;
    }
    // The view subscriber may trail the timeline: wait (in virtual time) until it saw all.
    let all = within(&cx.rt, Duration::from_secs(1), async {
        while at_exit.lock().unwrap_or_else(|p| p.into_inner()).len() < ids.len() {
            cx.rt.sleep(Duration::from_millis(1)).await;
        }
    })
    .await;
    ensure!(all.is_some(), "I2 every exit reaches the view", "{:?}", at_exit.lock().map(|v| v.len()));
    let seen = at_exit.lock().unwrap_or_else(|p| p.into_inner()).clone();
    for (id, exit, state) in &seen {
        let agrees = match state {
            Some(ProcState::Stopped { exit: e } | ProcState::Failed { exit: e }) => *e == Some(*exit),
            Some(ProcState::Exited) => exit.success(),
            _ => false,
        };
        ensure!(agrees, "I13 the snapshot agrees with ProcessExited", "#{id}: event {exit}, snapshot {state:?}");
    }
    let mut raced = 0;
    for a in &answers {
        let exit = timeline.exit_of(a.id);
        let agrees = match a.state {
            ProcState::Stopped { exit: e } | ProcState::Failed { exit: e } => e == exit,
            ProcState::Exited => exit.is_some_and(|e| e.success()),
            _ => false,
        };
        ensure!(agrees, "I13 a stop's answer agrees with ProcessExited", "{}: event {exit:?}", state_line(a));
        // The stop's SIGTERM did not decide the end: the process ended on its own first.
        raced += u32::from(a.state != (ProcState::Stopped { exit: Some(Exit::Signaled(15)) }));
    }
    // The race: a stop and the process's own exit both writing its end.
    let window = if raced > 0 { "hit" } else { "miss" };
    cx.log("window", window, format!("{raced} of 3 stops raced the natural exit"));
    let views: BTreeMap<u64, String> =
        seen.iter().map(|(id, e, s)| (*id, format!("{e} / {}", s.map_or("-".into(), |s| s.to_string())))).collect();
    cx.log("scenario", "views", format!("{views:?}"));
    finish(cx, &sup, task, &bus, &timeline).await
}

/// S-S3: stop-all and restart-all through the session, racing. Three scripts (one drains
/// slowly on SIGTERM, one ignores it until SIGKILL, one exits at once); restart-all at a
/// seeded moment, stop-all at another, often while the restarts wait for their old
/// generations. A watcher checks every snapshot, and the process table, for two live
/// generations of one script (I18). Mutant `supervisor.restart_overlap` (the replacement
/// starts while the old generation is still stopping) is seen with two.
pub async fn s_s3<R: Runtime>(cx: &Cx<R>, programs: &Programs) -> Outcome {
    let table = table(programs)?.clone();
    let session = session(cx, false, 16)?;
    let timeline = Timeline::attach(session.bus(), &cx.trace);
    let sup = session.supervisor().clone();
    let doubles = Arc::new(Mutex::new(Vec::<String>::new()));
    let watcher = {
        let (mut w, doubles, table) = (sup.clone(), doubles.clone(), table.clone());
        spawn(&cx.rt, "scenario.watcher", async move {
            while w.changed().await {
                let snap = w.status();
                let mut live: BTreeMap<&str, Vec<u64>> = BTreeMap::new();
                let mut groups: BTreeMap<&str, Vec<u32>> = BTreeMap::new();
                for i in snap.iter() {
                    if !i.state.is_terminal() {
                        live.entry(&i.script).or_default().push(i.id);
                    }
                    if let Some(pid) = i.pid.filter(|p| table.group_alive(*p)) {
                        groups.entry(&i.script).or_default().push(pid);
                    }
                }
                let mut d = doubles.lock().unwrap_or_else(|p| p.into_inner());
                for (name, ids) in live.iter().filter(|(_, v)| v.len() > 1) {
                    d.push(format!("{name}: instances {ids:?} live at once"));
                }
                for (name, pids) in groups.iter().filter(|(_, v)| v.len() > 1) {
                    d.push(format!("{name}: process groups {pids:?} alive at once"));
                }
            }
        })
    };
    // Started in a seeded rotation, so restart-all takes them in different orders.
    let mut scripts = [("api", "drainer"), ("worker", "stubborn"), ("web", "server")];
    scripts.rotate_left(cx.rt.below(3) as usize);
    for (name, program) in scripts {
        let r = sup.start(script(name, program, RestartPolicy::Never), false).await;
        ensure!(matches!(r, Ok(Started::New(_))), "S-S3 starts", "{name}: {r:?}");
        // Seeded gaps: the old generations' ends (drain, grace) fall apart differently.
        cx.rt.sleep(Duration::from_millis(cx.rt.below(20))).await;
    }
    let mut restart_all = {
        let (sup, rt, delay) = (sup.clone(), cx.rt.clone(), Duration::from_millis(cx.rt.below(10)));
        spawn(&cx.rt, "scenario.restart_all", async move {
            rt.sleep(delay).await;
            sup.restart_all().await
        })
    };
    let grace = config().stop_grace.as_millis() as u64;
    cx.rt.sleep(Duration::from_millis(cx.rt.below(grace * 3))).await;
    let pending = !restart_all.is_finished() && sup.status().iter().any(|i| i.state == ProcState::Stopping);
    let stopped = sup.stop_all().await.map_err(|e| violation("stop_all", e.to_string()))?;
    ensure!(
        stopped.iter().all(|i| i.state.is_terminal()),
        "I12 stop-all answers when what it stopped has ended",
        "{:?}",
        stopped.iter().map(state_line).collect::<Vec<_>>()
    );
    cx.log("window", if pending { "hit" } else { "miss" }, "stop-all came while restarts waited on old generations");
    let restarted = restart_all.join().await.map_err(|e| violation("restart_all", e.to_string()))?;
    // A restart whose old generation stop-all reached first is cancelled; any other answer
    // is a new generation per running script.
    match &restarted {
        Ok(r) => {
            ensure!(
                r.iter().all(|s| matches!(s, Started::New(_))),
                "S-S3 every restart makes a new generation",
                "{r:?}"
            );
            cx.log("scenario", "restarted", format!("{} restarted, stop-all ended {}", r.len(), stopped.len()));
        }
        Err(SupervisorError::RestartCancelled { script }) => {
            cx.log("scenario", "restarted", format!("restart of {script} cancelled by stop-all"));
        }
        Err(e) => return Err(violation("S-S3 restart-all answers", e.to_string())),
    }
    // Whatever the race left running is stopped now, and nothing of it may survive.
    let again = sup.stop_all().await.map_err(|e| violation("stop_all", e.to_string()))?;
    ensure!(again.iter().all(|i| i.state.is_terminal()), "I12 stop-all ends everything", "{again:?}");
    // A stop that lands while a restart waits (inside the SIGTERM-ignoring script's grace)
    // wins: the restart is cancelled, and nothing of the script runs once both answered.
    let solo = match sup.start(script("solo", "stubborn", RestartPolicy::Never), false).await {
        Ok(Started::New(p)) => p,
        other => return Err(violation("setup", format!("solo: {other:?}"))),
    };
    let restart = {
        let sup = sup.clone();
        let id = solo.id.0;
        spawn(&cx.rt, "scenario.restart", async move { sup.restart(Target::Id(id)).await })
    };
    cx.rt.sleep(Duration::from_millis(1 + cx.rt.below(grace / 2))).await;
    let stop = sup.stop(Target::Script("solo".into())).await.map_err(|e| violation("stop", e.to_string()))?;
    let restart = restart.join().await.map_err(|e| violation("restart", e.to_string()))?;
    let live: Vec<String> =
        sup.status().iter().filter(|i| i.script == "solo" && !i.state.is_terminal()).map(state_line).collect();
    cx.log("scenario", "stop-in-restart", format!("stop: {}; restart: {restart:?}", state_line(&stop)));
    ensure!(
        live.is_empty() && matches!(restart, Err(SupervisorError::RestartCancelled { .. })),
        "I12 a stop that lands during a restart wins",
        "after the stop returned: restart {restart:?}, running {live:?}"
    );
    let report = session.shutdown().await;
    ensure!(
        report.processes.iter().all(|i| i.state.is_terminal()),
        "I39 shutdown ends every instance",
        "{:?}",
        report.processes.iter().map(state_line).collect::<Vec<_>>()
    );
    drop(sup);
    watcher.join().await.map_err(|e| violation("watcher", e.to_string()))?;
    let d = doubles.lock().unwrap_or_else(|p| p.into_inner()).clone();
    ensure!(d.is_empty(), "I18 one live generation per script", "{}", d.join("; "));
    let live = table.live_pids();
    ensure!(live.is_empty(), "I11 no orphans after shutdown", "simulated processes still running: {live:?}");
    timeline.check_bracketing()
}

/// S-G1: a stopped instance's leader dies, but a daemon it started in a group of its own
/// still holds the pipes: after the grace and SIGKILL, the EOF deadline ends the instance
/// anyway, once, with the reason recorded, and none of the daemon's later lines is published
/// after the exit. Mutant `supervisor.no_eof_deadline` leaves the stop waiting for ever.
pub async fn s_g1<R: Runtime>(cx: &Cx<R>, programs: &Programs) -> Outcome {
    let table = table(programs)?.clone();
    let (bus, timeline, sup, task) = setup(cx);
    let p = match sup.start(script("holder", "pipe-holder", RestartPolicy::Never), false).await {
        Ok(Started::New(p)) => p,
        other => return Err(violation("setup", format!("{other:?}"))),
    };
    cx.rt.sleep(Duration::from_millis(10 + cx.rt.below(20))).await;
    let t0 = cx.rt.now();
    let bound = config().stop_grace + EOF_AFTER_KILL + Duration::from_millis(100);
    let stopped = within(&cx.rt, bound, sup.stop(Target::Id(p.id.0))).await;
    let took = cx.rt.now().saturating_since(t0);
    let Some(stopped) = stopped else {
        return Err(violation(
            "I39 the EOF deadline ends an instance whose pipes stay open",
            format!("no end after {took:?}"),
        ));
    };
    let info = stopped.map_err(|e| violation("stop", e.to_string()))?;
    cx.log("scenario", "stopped", format!("{} after {} ms", state_line(&info), took.as_millis()));
    ensure!(info.state.is_terminal(), "I12 the stop ends the instance", "{}", state_line(&info));
    ensure!(
        info.error.as_deref().is_some_and(|e| e.contains("pipes still open")),
        "S-G1 the reason is recorded",
        "{:?}",
        info.error
    );
    let exit = timeline.await_exit(p.id.0).await;
    ensure!(exit.is_some(), "I14 the end is published", "no ProcessExited");
    // The daemon keeps printing after the instance ended: let it, then end it as brum's exit
    // (its guardian) would, and check nothing of it was published after the exit.
    cx.rt.sleep(Duration::from_millis(500)).await;
    let daemons = table.detached();
    ensure!(daemons.len() == 1, "S-G1 the daemon ran", "{daemons:?}");
    for d in &daemons {
        table.signal_group(*d, Signal::Kill).map_err(|e| violation("daemon", e.to_string()))?;
    }
    let gone = within(&cx.rt, Duration::from_secs(1), async {
        while !table.live_pids().is_empty() {
            cx.rt.sleep(Duration::from_millis(1)).await;
        }
    })
    .await;
    ensure!(gone.is_some(), "I11 the daemon ends on SIGKILL", "{:?}", table.live_pids());
    finish(cx, &sup, task, &bus, &timeline).await
}

/// S-R1: a line that arrives in two reads is one line; one in three reads of exactly the
/// limit is one line; one over the limit is cut once and the cut counted; the last line
/// without a newline is published at EOF; all before the exit. Mutant
/// `supervisor.split_line_unjoined` (each read taken as whole lines) publishes halves.
pub async fn s_r1<R: Runtime>(cx: &Cx<R>, _programs: &Programs) -> Outcome {
    let bus = brum_core::bus::EventBus::new(cx.rt.clone(), cx.bus_config());
    let timeline = Timeline::attach(&bus, &cx.trace);
    let cfg = SupervisorConfig { max_line_bytes: R1_MAX_LINE, ..config() };
    let (sup, task): (Supervisor<R>, _) = Supervisor::new(cx.rt.clone(), bus.clone(), cfg);
    let p = match sup.start(script("split", "splitter", RestartPolicy::Never), false).await {
        Ok(Started::New(p)) => p,
        other => return Err(violation("setup", format!("{other:?}"))),
    };
    let exit = timeline.await_exit(p.id.0).await;
    ensure!(exit == Some(Exit::Code(0)), "S-R1 the splitter exits 0", "{exit:?}");
    let lines = timeline.lines_of(p.id.0);
    let want = [
        "first half of a line".to_string(),
        "x".repeat(R1_MAX_LINE),
        "y".repeat(R1_MAX_LINE),
        "tail".to_string(),
        "no newline at the end".to_string(),
    ];
    ensure!(lines == want, "I15 lines rejoined across reads and cut at the limit", "{lines:?}");
    let cuts = match cx.rt.metrics().snapshot().get("supervisor.lines_split", "split") {
        Some(brum_core::metrics::MetricValue::Counter(n)) => *n,
        _ => 0,
    };
    ensure!(cuts == 1, "S-R1 every cut is counted", "supervisor.lines_split = {cuts}, want 1");
    cx.log("scenario", "lines", format!("{} lines, {cuts} cut", lines.len()));
    finish(cx, &sup, task, &bus, &timeline).await
}

/// S-W1: `wait()` fails for two children (their status lost): one that exits by itself ends
/// failed, one being stopped ends stopped; each once, with the reason, within bounded virtual
/// time, and nothing is left running. Mutant `supervisor.wait_error_ignored` never ends them.
pub async fn s_w1<R: Runtime>(cx: &Cx<R>, programs: &Programs) -> Outcome {
    let table = table(programs)?.clone();
    let (bus, timeline, sup, task) = setup(cx);
    let mut started = Vec::new();
    for (name, program) in [("job", "wait-fails"), ("srv", "wait-fails-server")] {
        match sup.start(script(name, program, RestartPolicy::Never), false).await {
            Ok(Started::New(p)) => started.push(p),
            other => return Err(violation("setup", format!("{name}: {other:?}"))),
        }
    }
    cx.rt.sleep(Duration::from_millis(cx.rt.below(30))).await;
    let bound = config().stop_grace + EOF_AFTER_KILL + Duration::from_millis(100);
    let stopped = within(&cx.rt, bound, sup.stop(Target::Id(started[1].id.0))).await;
    let Some(stopped) = stopped else {
        return Err(violation("I12 a failed wait still ends the instance", "the stop never returned"));
    };
    let srv = stopped.map_err(|e| violation("stop", e.to_string()))?;
    ensure!(
        matches!(srv.state, ProcState::Stopped { .. }),
        "I12 a stopped instance ends stopped",
        "{}",
        state_line(&srv)
    );
    let job_exit = within(&cx.rt, bound, timeline.await_exit(started[0].id.0)).await.flatten();
    ensure!(job_exit.is_some(), "I12 a failed wait still ends the instance", "`job` never ended");
    let status = sup.status();
    let job = status.iter().find(|i| i.id == started[0].id.0).cloned();
    ensure!(
        job.as_ref().is_some_and(|j| matches!(j.state, ProcState::Failed { .. })),
        "I12 an instance whose status is lost ends failed",
        "{:?}",
        job.map(|j| state_line(&j))
    );
    for i in status.iter() {
        ensure!(
            i.error.as_deref().is_some_and(|e| e.contains("wait failed")),
            "S-W1 the reason is recorded",
            "#{}: {:?}",
            i.id,
            i.error
        );
        cx.log("scenario", "ended", format!("{}: {:?}", state_line(i), i.error));
    }
    let res = finish(cx, &sup, task, &bus, &timeline).await;
    res?;
    let live = table.live_pids();
    ensure!(live.is_empty(), "I11 nothing leaks", "simulated processes still running: {live:?}");
    Ok(())
}

/// `brum run`'s exit code for an instance that failed (cli/src/run_cmd.rs `failure_code`; the
/// signal and spawn-failure codes are the CLI's constants).
fn failure_code(i: &ProcessInfo) -> Option<i32> {
    match i.state {
        ProcState::Failed { exit: Some(Exit::Code(c)) } => Some(c),
        ProcState::Failed { exit: Some(Exit::Signaled(s)) } => Some(128 + s),
        ProcState::Failed { exit: None } => Some(127),
        _ => None,
    }
}

/// S-S4: `brum run`'s watcher and exit code on the session (cli/src/run_cmd.rs `run_scripts`):
/// after the starts, it reads the status at every change, keeps the first failure's code,
/// and finishes when every instance has ended with no restart coming. A job that succeeds
/// runs beside one that crashes with an on-failure policy: the watcher must finish only after
/// the restarts ran out (1 + max_restarts instances), and report the crash's code. Mutant
/// `supervisor.restart_decided_late` (the end shown before the restart is decided) lets it
/// finish after the first crash.
pub async fn s_s4<R: Runtime>(cx: &Cx<R>, programs: &Programs) -> Outcome {
    let table = table(programs)?.clone();
    let session = session(cx, false, 16)?;
    let timeline = Timeline::attach(session.bus(), &cx.trace);
    let sup = session.supervisor().clone();
    // The watch loop runs as a task of its own, as `brum run`'s main loop is on tokio (the
    // simulators poll a scenario's body less often than its tasks), from before the first
    // start, and decides nothing until the starts are done (brum run's `starting`).
    let (starts_done, mut starting) = tokio::sync::watch::channel(false);
    let watcher = {
        let (sup, mut watch) = (sup.clone(), sup.clone());
        spawn(&cx.rt, "scenario.run_watch", async move {
            let mut first_failure: Option<i32> = None;
            // The failed instances of the first snapshot that showed a failure.
            let mut first_seen: Vec<u64> = Vec::new();
            let mut saw_restart_coming = false;
            loop {
                let status = sup.status();
                for i in status.iter() {
                    if let Some(c) = failure_code(i) {
                        first_failure.get_or_insert(c);
                    }
                    saw_restart_coming |= i.restart_scheduled;
                }
                if first_seen.is_empty() {
                    first_seen = status.iter().filter(|i| failure_code(i).is_some()).map(|i| i.id).collect();
                }
                let done = *starting.borrow();
                let ended = done && status.iter().all(|i| i.state.is_terminal() && !i.restart_scheduled);
                let more = ended
                    || tokio::select! {
                        biased;
                        r = starting.changed(), if !done => r.is_err(),
                        c = watch.changed() => !c,
                    };
                if more {
                    return (status, first_failure, first_seen, saw_restart_coming);
                }
            }
        })
    };
    for (name, program, policy) in [
        ("build", "ok-job", RestartPolicy::Never),
        ("test", "crasher", RestartPolicy::OnFailure),
        ("lint", "quick-exit", RestartPolicy::Never),
    ] {
        let r = sup.start(script(name, program, policy), false).await;
        ensure!(matches!(r, Ok(Started::New(_))), "S-S4 starts", "{name}: {r:?}");
        cx.rt.sleep(Duration::from_millis(cx.rt.below(4))).await;
    }
    starts_done.send_replace(true);
    let finished = within(&cx.rt, Duration::from_secs(5), watcher.join()).await;
    let Some(joined) = finished else {
        return Err(violation("I39 brum run's watcher finishes", "still watching after 5 s"));
    };
    let (at_end, first_failure, first_seen, saw_restart_coming) =
        joined.map_err(|e| violation("watcher", e.to_string()))?;
    let tests = at_end.iter().filter(|i| i.script == "test").count();
    let want = 1 + config().restart.max_restarts as usize;
    cx.log("run", "finished", format!("{tests} test instances, exit code {first_failure:?}"));
    ensure!(
        tests == want,
        "I19 brum run finishes only when no restart is coming",
        "finished with {tests} test instances, the policy makes {want}: {:?}",
        at_end.iter().map(state_line).collect::<Vec<_>>()
    );
    // The first failure on the bus (the dispatcher's order) was in the first snapshot that
    // showed a failure (the status never lags the events), and the code is one of that
    // snapshot's failures (brum run keeps the first it scans).
    let first_on_bus = timeline.events().iter().find_map(|e| match &e.event {
        Event::ProcessExited { process, exit } if !exit.success() => Some(process.id.0),
        _ => None,
    });
    let codes: Vec<i32> = at_end.iter().filter(|i| first_seen.contains(&i.id)).filter_map(failure_code).collect();
    ensure!(
        first_on_bus.is_some_and(|id| first_seen.contains(&id)),
        "I13 brum run sees the first failure",
        "first failure on the bus #{first_on_bus:?}, first failures seen {first_seen:?}"
    );
    ensure!(
        first_failure.is_some_and(|c| codes.contains(&c)),
        "S-S4 the exit code is the first failure's",
        "reported {first_failure:?}, the first failures seen {first_seen:?} have codes {codes:?}"
    );
    cx.log(
        "window",
        if saw_restart_coming { "hit" } else { "miss" },
        "the watcher read a crash ended with its restart coming",
    );
    let report = session.run(async {}).await;
    ensure!(
        report.processes.len() == want + 2,
        "S-S4 no instance after the watcher finished",
        "{:?}",
        report.processes
    );
    timeline.check_bracketing()?;
    let live = table.live_pids();
    ensure!(live.is_empty(), "I11 no orphans after shutdown", "simulated processes still running: {live:?}");
    Ok(())
}

/// S-D2: detection on ingest through a real child's output: a dev server prints its URL on
/// stdout (split across two reads), on stderr, and again later, a second URL, a Node stack and
/// a build error. One `UrlDetected` per distinct URL, one `ErrorDetected` per report, each
/// after the line that completed it. Mutant `supervisor.urls_per_stream` (a URL set per
/// stream) announces the URL twice.
pub async fn s_d2<R: Runtime>(cx: &Cx<R>, programs: &Programs) -> Outcome {
    let table = table(programs)?.clone();
    let session = session(cx, false, 16)?;
    let timeline = Timeline::attach(session.bus(), &cx.trace);
    let sup = session.supervisor().clone();
    let p = match sup.start(script("dev", "vite-dev", RestartPolicy::Never), false).await {
        Ok(Started::New(p)) => p,
        other => return Err(violation("setup", format!("{other:?}"))),
    };
    // Everything printed and every quiet period over.
    cx.rt.sleep(Duration::from_secs(2)).await;
    let events = timeline.events();
    let mine: Vec<&Event> = events.iter().map(|e| &e.event).filter(|e| e.process() == Some(&p)).collect();
    let urls: Vec<String> = mine
        .iter()
        .filter_map(|e| match e {
            Event::UrlDetected { url, .. } => Some(url.url.clone()),
            _ => None,
        })
        .collect();
    let errors: Vec<String> = mine
        .iter()
        .filter_map(|e| match e {
            Event::ErrorDetected { error, .. } => Some(error.message.to_string()),
            _ => None,
        })
        .collect();
    cx.log("detect", "urls", format!("{urls:?}"));
    cx.log("detect", "errors", format!("{errors:?}"));
    let distinct: std::collections::BTreeSet<&String> = urls.iter().collect();
    ensure!(distinct.len() == urls.len(), "S-D2 one URL per announcement, however often printed", "{urls:?}");
    ensure!(urls.len() == 2, "S-D2 every URL announced", "{urls:?}");
    ensure!(errors.len() == 2, "S-D2 one error per report", "{errors:?}");
    let lines = timeline.lines_of(p.id.0);
    ensure!(
        lines.iter().filter(|l| l.contains("http://localhost:5173/")).count() == 3,
        "I15 the URL lines arrive whole",
        "{lines:?}"
    );
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

/// S-P14: a slow spawn (an exec that takes 200 ms, holding the dispatcher as a real spawn
/// holds its caller) does not stall other processes' output: a ticker printing every 10 ms
/// keeps arriving at that pace, and the status answers meanwhile. The spawn comes at a seeded
/// moment, inside the ticker's run or after it. Mutant `supervisor.lines_through_dispatcher`
/// (each read asks the dispatcher before publishing, as Brummer's lines took the manager's
/// lock) stalls the ticker for the whole exec.
pub async fn s_p14<R: Runtime>(cx: &Cx<R>, _programs: &Programs) -> Outcome {
    /// The most time between two ticks on the bus: the ticker's own 10 ms, and slack for the
    /// reads and the bus, far below the exec time a stall would add.
    const GAP_MAX: Duration = Duration::from_millis(30);
    let (bus, timeline, sup, task) = setup(cx);
    let ticker = match sup.start(script("ticker", "ticker", RestartPolicy::Never), false).await {
        Ok(Started::New(p)) => p,
        other => return Err(violation("setup", format!("ticker: {other:?}"))),
    };
    let run = TICK.as_millis() as u64 * u64::from(TICKS);
    cx.rt.sleep(Duration::from_millis(cx.rt.below(run * 5 / 4))).await;
    let t0 = cx.rt.now();
    cx.log("scenario", "spawn", "the slow exec begins");
    let slow = {
        let sup = sup.clone();
        spawn(&cx.rt, "scenario.slow_start", async move {
            sup.start(script("slow", "slow-exec", RestartPolicy::Never), false).await
        })
    };
    // Status reads answer during the spawn (they never ask the dispatcher).
    cx.rt.sleep(SLOW_EXEC / 2).await;
    let rows = sup.status().len();
    let started = slow.join().await.map_err(|e| violation("start", e.to_string()))?;
    let took = cx.rt.now().saturating_since(t0);
    cx.log("scenario", "spawned", format!("the slow start returned after {} ms", took.as_millis()));
    ensure!(matches!(started, Ok(Started::New(_))), "S-P14 the slow program starts", "{started:?}");
    ensure!(took >= SLOW_EXEC, "S-P14 the spawn was slow", "the start took {took:?}, the exec {SLOW_EXEC:?}");
    let exit = timeline.await_exit(ticker.id.0).await;
    ensure!(exit == Some(Exit::Code(0)), "S-P14 the ticker ran to its end", "{exit:?}");
    let arrivals: Vec<brum_core::rt::Mono> = timeline
        .events()
        .iter()
        .filter_map(|e| match &e.event {
            Event::LogLines { process, lines, .. } if *process == ticker => Some(vec![e.at; lines.len()]),
            _ => None,
        })
        .flatten()
        .collect();
    ensure!(arrivals.len() == TICKS as usize, "I15 every tick arrives", "{} of {TICKS} ticks", arrivals.len());
    let worst = arrivals.windows(2).map(|w| w[1].saturating_since(w[0])).max().unwrap_or_default();
    ensure!(
        worst <= GAP_MAX,
        "I16 a slow spawn does not stall other output",
        "{worst:?} between two ticks (spawn at {t0:?})"
    );
    let (first, last) = (arrivals[0], arrivals[arrivals.len() - 1]);
    let overlapped = t0 < last && first < t0 + SLOW_EXEC;
    cx.log(
        "window",
        if overlapped { "hit" } else { "miss" },
        "the slow spawn held the dispatcher while the ticker printed",
    );
    cx.log("scenario", "ticks", format!("worst gap {} ms; {rows} rows read during the spawn", worst.as_millis()));
    finish(cx, &sup, task, &bus, &timeline).await
}

/// S-O1: what a script leaves in its group when its leader exits. With `leftovers = stop`, the
/// group stays tracked while it has members, gets SIGTERM, SIGKILL after the grace (one job
/// ignores SIGTERM), and is released only once empty: sampled at seeded moments, no live
/// process is ever in a released group. With `leftovers = keep`, the group stays tracked until
/// brum exits, where the orphan guardian (played here by the scenario: SIGTERM, then SIGKILL,
/// to every tracked group) stops it; nothing is left. Mutant `supervisor.release_at_reap`
/// releases the group at the leader's end, leftovers and all.
pub async fn s_o1<R: Runtime>(cx: &Cx<R>, programs: &Programs) -> Outcome {
    use brum_core::supervisor::Leftovers;
    let table = table(programs)?.clone();
    let grace = config().stop_grace;
    let mut leftovers_seen = 0u32;
    for leftovers in [Leftovers::Stop, Leftovers::Keep] {
        let bus = brum_core::bus::EventBus::new(cx.rt.clone(), cx.bus_config());
        let timeline = Timeline::attach(&bus, &cx.trace);
        let cfg = SupervisorConfig { leftovers, ..config() };
        let (sup, task): (Supervisor<R>, _) = Supervisor::new(cx.rt.clone(), bus.clone(), cfg);
        let mut ids = Vec::new();
        for (name, program) in [("jobs", "bg-leader"), ("daemonish", "bg-leader-stubborn")] {
            match sup.start(script(name, program, RestartPolicy::Never), false).await {
                Ok(Started::New(p)) => ids.push(p.id.0),
                other => return Err(violation("setup", format!("{name}: {other:?}"))),
            }
        }
        for id in &ids {
            timeline.await_exit(*id).await;
        }
        // Samples at seeded moments through the grace and past it.
        let mut waited = Duration::ZERO;
        while waited < grace * 3 {
            let step = Duration::from_millis(1 + cx.rt.below(grace.as_millis() as u64 / 4));
            cx.rt.sleep(step).await;
            waited += step;
            let orphans = table.orphans();
            ensure!(
                orphans.is_empty(),
                "I11 no live process in a released group",
                "{} leftovers: {orphans:?}",
                leftovers.name()
            );
            leftovers_seen += u32::from(!table.live_pids().is_empty());
        }
        let tracked = table.tracked_groups();
        cx.log("scenario", "tracked", format!("{} leftovers: groups {tracked:?} after 3 graces", leftovers.name()));
        match leftovers {
            Leftovers::Stop => ensure!(
                table.live_pids().is_empty(),
                "I11 leftovers are stopped within the grace",
                "still running: {:?}",
                table.live_pids()
            ),
            Leftovers::Keep => ensure!(
                tracked.len() == 2,
                "I11 kept leftovers stay tracked for the guardian",
                "tracked groups {tracked:?}, live {:?}",
                table.live_pids()
            ),
        }
        finish(cx, &sup, task, &bus, &timeline).await?;
        // brum's exit: the orphan guardian stops every group still tracked.
        for g in table.tracked_groups() {
            table.signal_group(g, Signal::Terminate).map_err(|e| violation("guardian", e.to_string()))?;
        }
        cx.rt.sleep(grace).await;
        for g in table.tracked_groups() {
            table.signal_group(g, Signal::Kill).map_err(|e| violation("guardian", e.to_string()))?;
        }
        let gone = within(&cx.rt, Duration::from_secs(1), async {
            while !table.live_pids().is_empty() {
                cx.rt.sleep(Duration::from_millis(1)).await;
            }
        })
        .await;
        ensure!(gone.is_some(), "I11 nothing outlives brum's exit", "{:?}", table.live_pids());
        let orphans = table.orphans();
        ensure!(orphans.is_empty(), "I11 no orphans", "{orphans:?}");
    }
    cx.log(
        "window",
        if leftovers_seen > 0 { "hit" } else { "miss" },
        format!("{leftovers_seen} samples with leftovers alive after their leader ended"),
    );
    Ok(())
}
