//! The supervisor under the real runtime: restart-all, stop-all, restart policies with
//! backoff, environment and colour forcing, with real `sh` children.

use std::sync::{Arc, Mutex};
use std::time::Duration;

use brum::rt::TokioRuntime;
use brum_core::bus::{BusConfig, Event, EventBus, SubscribeOptions};
use brum_core::script::{RestartLimits, RestartPolicy, Script};
use brum_core::supervisor::{ProcState, Started, Supervisor, SupervisorConfig, SupervisorError, Target};

fn script(name: &str, line: &str, restart: RestartPolicy, env: &[(&str, &str)]) -> Script {
    Script {
        restart,
        env: env.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect(),
        ..brum_tests::shell_script(name, line)
    }
}

fn config(force_colour: bool) -> SupervisorConfig {
    SupervisorConfig {
        stop_grace: Duration::from_millis(500),
        restart: RestartLimits {
            max_restarts: 2,
            backoff: Duration::from_millis(20),
            backoff_max: Duration::from_millis(100),
        },
        max_line_bytes: 4096,
        batch_lines: brum_core::lines::BATCH_LINES_DEFAULT,
        force_colour,
        leftovers: brum_core::supervisor::Leftovers::Stop,
    }
}

/// Lines printed by each script name.
fn capture(bus: &EventBus<TokioRuntime>) -> Arc<Mutex<Vec<(String, String)>>> {
    let lines: Arc<Mutex<Vec<(String, String)>>> = Arc::default();
    let l = lines.clone();
    bus.subscribe(SubscribeOptions::named("capture").backpressure(brum_core::bus::Backpressure::Block), move |e| {
        if let Event::LogLines { process, lines, .. } = &e.event {
            l.lock().unwrap().extend(lines.iter().map(|line| (process.name.to_string(), line.text.to_string())));
        }
    })
    .unwrap();
    lines
}

async fn until_all_ended(sup: &Supervisor<TokioRuntime>) {
    let mut w = sup.clone();
    while !sup.status().iter().all(|i| i.state.is_terminal() && !i.restart_scheduled) {
        assert!(w.changed().await, "supervisor ended early");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn restart_all_replaces_every_running_instance_and_stop_all_ends_them() {
    let rt = TokioRuntime::with_seed(5);
    let bus = EventBus::new(rt.clone(), BusConfig::with_cores(2));
    let (sup, task) = Supervisor::new(rt.clone(), bus.clone(), config(false));
    let a = sup.start(script("a", "exec sleep 100", RestartPolicy::Never, &[]), false).await.unwrap();
    let b = sup.start(script("b", "exec sleep 100", RestartPolicy::Never, &[]), false).await.unwrap();
    let restarted = sup.restart_all().await.unwrap();
    assert_eq!(restarted.len(), 2);
    let new_ids: Vec<u64> = restarted.iter().map(|s| s.process().id.0).collect();
    assert!(!new_ids.contains(&a.process().id.0) && !new_ids.contains(&b.process().id.0), "{new_ids:?}");
    let status = sup.status();
    for old in [a.process().id.0, b.process().id.0] {
        let s = status.iter().find(|i| i.id == old).unwrap().state;
        assert!(matches!(s, ProcState::Stopped { .. }), "old instance #{old} is {s}");
    }
    let stopped = sup.stop_all().await.unwrap();
    assert_eq!(stopped.len(), 2);
    assert!(stopped.iter().all(|i| matches!(i.state, ProcState::Stopped { .. })));
    sup.shutdown().await;
    task.join().await.unwrap();
    bus.shutdown().await;
}

/// Bug: a stop that landed while a restart waited for the old generation to end (inside the
/// grace of a script ignoring SIGTERM) was lost: the replacement started after the stop had
/// returned. The stop now cancels the restart (the simulation's S-S3 pins the race).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn stop_landing_during_a_restart_cancels_it() {
    let rt = TokioRuntime::with_seed(9);
    let bus = EventBus::new(rt.clone(), BusConfig::with_cores(2));
    let (sup, task) = Supervisor::new(rt.clone(), bus.clone(), config(false));
    let line = "trap '' TERM; echo ready; while :; do sleep 0.05; done";
    let first = sup.start(script("t", line, RestartPolicy::Never, &[]), false).await.unwrap();
    tokio::time::sleep(Duration::from_millis(100)).await;
    let restart = {
        let sup = sup.clone();
        let id = first.process().id.0;
        tokio::spawn(async move { sup.restart(Target::Id(id)).await })
    };
    // Inside the 500 ms grace: the old generation ignores SIGTERM, the restart waits for it.
    tokio::time::sleep(Duration::from_millis(100)).await;
    let stopped = sup.stop(Target::Script("t".into())).await.unwrap();
    assert!(matches!(stopped.state, ProcState::Stopped { .. }), "{stopped:?}");
    let restarted = restart.await.unwrap();
    assert!(matches!(restarted, Err(SupervisorError::RestartCancelled { .. })), "{restarted:?}");
    let running: Vec<_> = sup.status().iter().filter(|i| !i.state.is_terminal()).cloned().collect();
    assert!(running.is_empty(), "running after the stop returned: {running:?}");
    sup.shutdown().await;
    task.join().await.unwrap();
    bus.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn on_failure_restarts_with_backoff_up_to_the_maximum() {
    let rt = TokioRuntime::with_seed(6);
    let bus = EventBus::new(rt.clone(), BusConfig::with_cores(2));
    let lines = capture(&bus);
    let (sup, task) = Supervisor::new(rt.clone(), bus.clone(), config(false));
    let first = sup.start(script("crash", "echo attempt; exit 1", RestartPolicy::OnFailure, &[]), false).await.unwrap();
    assert!(matches!(first, Started::New(_)));
    until_all_ended(&sup).await;
    let status = sup.status();
    assert_eq!(status.len(), 3, "one start and max_restarts = 2 restarts: {status:?}");
    assert_eq!(status.iter().map(|i| i.restarts).collect::<Vec<_>>(), [0, 1, 2]);
    assert!(status.iter().all(|i| matches!(i.state, ProcState::Failed { .. })));
    // A clean exit is not restarted on-failure.
    sup.start(script("ok", "echo fine", RestartPolicy::OnFailure, &[]), false).await.unwrap();
    until_all_ended(&sup).await;
    assert_eq!(sup.status().iter().filter(|i| i.script == "ok").count(), 1);
    sup.shutdown().await;
    task.join().await.unwrap();
    bus.shutdown().await;
    assert_eq!(lines.lock().unwrap().iter().filter(|(n, l)| n == "crash" && l == "attempt").count(), 3);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn children_inherit_the_environment_plus_config_and_colour_is_forced_on_request() {
    let inherited = std::env::var("PATH").unwrap();
    let rt = TokioRuntime::with_seed(7);
    let bus = EventBus::new(rt.clone(), BusConfig::with_cores(2));
    let lines = capture(&bus);
    let (sup, task) = Supervisor::new(rt.clone(), bus.clone(), config(true));
    sup.start(
        script(
            "env",
            "echo \"path=$PATH\"; echo \"foo=$FOO\"; echo \"force=$FORCE_COLOR\"",
            RestartPolicy::Never,
            &[("FOO", "bar")],
        ),
        false,
    )
    .await
    .unwrap();
    until_all_ended(&sup).await;
    sup.shutdown().await;
    task.join().await.unwrap();
    bus.shutdown().await;
    let got: Vec<String> = lines.lock().unwrap().iter().map(|(_, l)| l.clone()).collect();
    assert_eq!(got, [format!("path={inherited}"), "foo=bar".to_string(), "force=1".to_string()]);
}
