//! S-M12: Brummer's untracked fan-out applied to MCP clients (and S-E6 to their waits). Many
//! clients call the core tools at once (`scripts_run` with `wait_for`, `logs_stream` with
//! `follow`), some slow, some abandoning their call mid-wait (the future dropped, as when an
//! HTTP client disconnects). No subscription or task may outlive its client, and every client
//! that waited gets a correct answer.

use std::path::PathBuf;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use brum_core::bus::SubscribeOptions;
use brum_core::discovery::{Discovery, SourceReport};
use brum_core::findings::FindingsConfig;
use brum_core::logs::LogStoreConfig;
use brum_core::mcp::{ServerInfo, ToolOutput, Tools};
use brum_core::rt::{Runtime, spawn};
use brum_core::script::{Command, RestartPolicy, Script, SourceKind};
use brum_core::session::{Session, SessionConfig};
use serde_json::{Map, Value, json};

use super::supervisor_races::config;
use super::{Cx, Outcome, violation};
use crate::conformance::Programs;
use crate::procs::{Program, Step};
use crate::scenarios::check_task_leaks;

/// Concurrent clients in S-M12.
const CLIENTS: usize = 8;

/// The project root of the MCP fixtures.
pub const MCP_ROOT: &str = "/proj";

/// A catalogue script `name` that runs program `program`.
pub fn script(name: &str, program: &str) -> Script {
    Script {
        name: name.to_string(),
        source: SourceKind::BrumToml,
        file: PathBuf::from(MCP_ROOT).join(".brum.toml"),
        command: Command::Exec { program: program.to_string(), args: Vec::new() },
        cwd: PathBuf::from(MCP_ROOT),
        env: Vec::new(),
        restart: RestartPolicy::Never,
        detail: None,
    }
}

/// A catalogue of `scripts`, as discovery would report them from one `.brum.toml`.
pub fn catalogue(scripts: Vec<Script>) -> Discovery {
    Discovery {
        root: PathBuf::from(MCP_ROOT),
        sources: vec![SourceReport {
            kind: SourceKind::BrumToml,
            file: PathBuf::from(MCP_ROOT).join(".brum.toml"),
            scripts,
            package_manager: None,
        }],
        ..Discovery::default()
    }
}

/// A session with a log store and findings, for the MCP tools.
pub fn mcp_session<R: Runtime>(rt: &R) -> Result<Session<R>, super::Violation> {
    let bus = brum_core::bus::BusConfig {
        workers: 4,
        mailbox_capacity: 64,
        backpressure: brum_core::bus::Backpressure::Degrade,
        block_timeout: Duration::from_millis(100),
        drain_timeout: Duration::from_secs(5),
        batch: 8,
    };
    Session::new(
        rt.clone(),
        SessionConfig {
            bus,
            supervisor: config(),
            logs: Some((LogStoreConfig { budget_bytes: 16 * 1024 * 1024, max_line_bytes: 4096 }, None)),
            findings: FindingsConfig { errors_max: 64, urls_max: 16 },
        },
    )
    .map_err(|_| violation("setup", "bus closed"))
}

/// The S-M12 dev server: prints a few lines at seeded moments, announces its URL, keeps
/// printing a heartbeat until stopped.
fn server(rt: &impl Runtime) -> Program {
    let mut steps = vec![Step::Out("starting".into())];
    for i in 0..3 {
        steps.push(Step::Jitter(Duration::from_millis(4)));
        steps.push(Step::Out(format!("compiling {i}")));
    }
    steps.push(Step::Jitter(Duration::from_millis(4)));
    steps.push(Step::Out("  Local:   http://localhost:5173/".into()));
    for i in 0..(20 + rt.below(20)) {
        steps.push(Step::Sleep(Duration::from_millis(5)));
        steps.push(Step::Out(format!("heartbeat {i}")));
    }
    steps.push(Step::Hang);
    Program::new(steps)
}

/// The S-M12 job: prints lines, a line saying it is done, and exits 3.
fn job() -> Program {
    let mut steps = Vec::new();
    for i in 0..4 {
        steps.push(Step::Jitter(Duration::from_millis(3)));
        steps.push(Step::Out(format!("step {i}")));
    }
    steps.push(Step::Out("job done".into()));
    steps.push(Step::Jitter(Duration::from_millis(2)));
    steps.push(Step::Exit(3));
    Program::new(steps)
}

/// [`server`] as a shell script, for the real runtime.
fn server_sh(rt: &impl Runtime) -> String {
    let beats = 20 + rt.below(20);
    format!(
        "echo starting; for i in 0 1 2; do sleep 0.004; echo compiling $i; done; sleep 0.004; \
         echo '  Local:   http://localhost:5173/'; i=0; while [ $i -lt {beats} ]; do sleep 0.005; \
         echo heartbeat $i; i=$((i+1)); done; exec sleep 60"
    )
}

/// [`job`] as a shell script, for the real runtime.
const JOB_SH: &str = "for i in 0 1 2 3; do sleep 0.003; echo step $i; done; echo job done; sleep 0.002; exit 3";

/// A catalogue script `name` that runs `sh -c script` in a directory that exists.
fn shell_script(name: &str, script: &str) -> Script {
    Script {
        command: Command::Exec { program: "sh".into(), args: vec!["-c".into(), script.into()] },
        cwd: std::env::temp_dir(),
        ..self::script(name, "sh")
    }
}

fn args(v: Value) -> Map<String, Value> {
    match v {
        Value::Object(m) => m,
        _ => Map::new(),
    }
}

/// What a client asked, and how it behaves.
#[derive(Debug, Clone, Copy)]
enum Ask {
    ServerUrl,
    JobExit,
    JobLine,
    Follow,
}

/// A client's result: its number, what it asked, and the answer (None: it abandoned the call).
type Answer = (usize, Ask, Option<Result<ToolOutput, String>>, Option<u64>);

/// Checks one answer of a client that waited to the end.
fn check_answer(who: usize, ask: Ask, out: &ToolOutput, cursor: Option<u64>) -> Outcome {
    let s = &out.structured;
    let fail = |m: String| {
        Err(violation("M2 every client that waited gets a correct answer", format!("client {who} ({ask:?}): {m}")))
    };
    if out.is_error {
        return fail(format!("error: {}", out.text));
    }
    match ask {
        Ask::ServerUrl => {
            if s["status"] != "met" || s["url"].as_str().is_none_or(|u| !u.contains("localhost:5173")) {
                return fail(format!("status {} url {}: {}", s["status"], s["url"], out.text));
            }
        }
        Ask::JobExit => {
            if s["status"] != "met" || s["exit"]["code"] != 3 {
                return fail(format!("status {} exit {}: {}", s["status"], s["exit"], out.text));
            }
        }
        Ask::JobLine => {
            // The line, or (when the job had ended before) the exit; never a timeout.
            let line_ok = s["status"] == "met" && s["line"] == "job done";
            if !line_ok {
                return fail(format!("status {} line {}: {}", s["status"], s["line"], out.text));
            }
        }
        Ask::Follow => {
            let entries = s["entries"].as_array().cloned().unwrap_or_default();
            let c = cursor.unwrap_or(0);
            if entries.iter().any(|e| e["id"].as_u64().is_none_or(|id| id < c)) {
                return fail(format!("a line before cursor {c}: {}", out.text));
            }
            if entries.is_empty() && s["timed_out"] != true {
                return fail(format!("no lines and no timeout: {}", out.text));
            }
        }
    }
    Ok(())
}

/// S-M12 (see the module documentation). Oracles: M1 the bus's subscriptions and the live
/// waits are back at their baseline once the clients are gone, and no aborted call's task
/// lives on (the mutant
/// `mcp.wait_leaks_subscription` leaves an abandoned wait subscribed); M2 every client that
/// waited got the answer it waited for; I40 no task outlives the session.
pub async fn s_m12<R: Runtime>(cx: &Cx<R>, programs: &Programs) -> Outcome {
    // Simulated programs where there is a simulated process table; under the real runtime,
    // the same lines from `sh`.
    let scripts = match programs.table.as_ref() {
        Some(t) => {
            t.register("server", server(&cx.rt));
            t.register("job", job());
            vec![script("web", "server"), script("job", "job")]
        }
        None => vec![shell_script("web", &server_sh(&cx.rt)), shell_script("job", JOB_SH)],
    };
    let tasks_baseline = cx.rt.metrics().gauge_total("tasks.live");
    let session = mcp_session(&cx.rt)?;
    session.refresh(catalogue(scripts)).await;
    let tools = Tools::new(
        session.handle(),
        ServerInfo { version: "sim".into(), project: "proj".into(), ..ServerInfo::default() },
    );
    // A printer-like subscriber, so the baseline is not just the session's own.
    let printer = session
        .bus()
        .subscribe(SubscribeOptions::named("printer"), |_| {})
        .map_err(|_| violation("setup", "bus closed"))?;
    let subs_baseline = session.bus().subscriber_count();
    let answers: Arc<Mutex<Vec<Answer>>> = Arc::new(Mutex::new(Vec::new()));
    let abandoned_mid_wait = Arc::new(Mutex::new(Vec::<String>::new()));
    let mut clients = Vec::new();
    for c in 0..CLIENTS {
        let ask = match c % 4 {
            0 => Ask::ServerUrl,
            1 => Ask::JobExit,
            2 => Ask::JobLine,
            _ => Ask::Follow,
        };
        // Seeded: about a third abandon their call after a seeded moment; some start late
        // (slow clients).
        let abandon = (cx.rt.below(3) == 0).then(|| (Duration::from_micros(cx.rt.below(40_000)), cx.rt.below(2) == 0));
        let start_delay = Duration::from_micros(cx.rt.below(15_000));
        let (tools, rt, answers, abandoned) =
            (tools.clone(), cx.rt.clone(), answers.clone(), abandoned_mid_wait.clone());
        let trace = cx.trace.clone();
        clients.push(spawn(&cx.rt, "scenario.mcp_client", async move {
            rt.sleep(start_delay).await;
            let mut cursor = None;
            let (tool, a) = match ask {
                Ask::ServerUrl => ("scripts_run", json!({"name": "web", "wait_for": "url", "timeout_ms": 5000})),
                Ask::JobExit => ("scripts_run", json!({"name": "job", "force": true, "wait_for": "exit", "timeout_ms": 5000})),
                Ask::JobLine => ("scripts_run", json!({"name": "job", "force": true, "wait_for": {"regex": "^job done$"}, "timeout_ms": 5000})),
                Ask::Follow => {
                    let now = tools.call("logs_stream", args(json!({"limit": 1}))).await;
                    let c = now.ok().and_then(|o| o.structured["next_cursor"].as_u64()).unwrap_or(0);
                    cursor = Some(c);
                    ("logs_stream", json!({"cursor": c, "follow": true, "timeout_ms": 30, "limit": 5}))
                }
            };
            let out = match abandon {
                None => Some(tools.call(tool, args(a)).await.map_err(|e| e.to_string())),
                // The call's future is dropped mid-wait (an HTTP client that disconnected).
                Some((after, false)) => {
                    let call = tools.call(tool, args(a));
                    let sleep = rt.sleep(after);
                    tokio::select! {
                        biased;
                        out = call => Some(out.map_err(|e| e.to_string())),
                        () = sleep => {
                            if rt.metrics().gauge_total("mcp.waits_live") > 0 {
                                abandoned.lock().unwrap_or_else(|e| e.into_inner()).push(format!("client {c} ({ask:?}) dropped"));
                            }
                            None
                        }
                    }
                }
                // The call runs as a task of its own, aborted mid-wait (the adapter's request
                // task cancelled).
                Some((after, true)) => {
                    let t = tools.clone();
                    let mut inner = spawn(&rt, "scenario.mcp_call", async move { t.call(tool, args(a)).await });
                    rt.sleep(after).await;
                    if !inner.is_finished() {
                        if rt.metrics().gauge_total("mcp.waits_live") > 0 {
                            abandoned.lock().unwrap_or_else(|e| e.into_inner()).push(format!("client {c} ({ask:?}) aborted"));
                        }
                        inner.abort();
                    }
                    inner.join().await.ok().map(|r| r.map_err(|e| e.to_string()))
                }
            };
            let what = match &out {
                None => "abandoned".to_string(),
                Some(Ok(o)) => {
                    let s = &o.structured;
                    let status = s["status"].as_str().map(str::to_string).unwrap_or_else(|| {
                        if s["timed_out"] == true { "timed_out".into() } else { format!("{} lines", s["entries"].as_array().map_or(0, Vec::len)) }
                    });
                    format!("answered {status}")
                }
                Some(Err(e)) => format!("refused {e}"),
            };
            trace.record(rt.now(), "mcp", "client", format!("{c} {ask:?} {what}"));
            answers.lock().unwrap_or_else(|e| e.into_inner()).push((c, ask, out, cursor));
        }));
    }
    for c in clients {
        c.join().await.map_err(|e| violation("setup", format!("client task: {e}")))?;
    }
    let abandoned = abandoned_mid_wait.lock().unwrap_or_else(|e| e.into_inner()).clone();
    cx.log(
        "window",
        if abandoned.is_empty() { "miss" } else { "hit" },
        format!("calls abandoned while a wait was subscribed: {}", abandoned.join(", ")),
    );
    // M1: right after the clients are gone, nothing of theirs is left on the bus.
    let subs = session.bus().subscriber_count();
    let waits = cx.rt.metrics().gauge_total("mcp.waits_live");
    let calls_live = cx.rt.metrics().gauge("tasks.live", "scenario.mcp_call").get();
    crate::ensure!(
        calls_live == 0,
        "M1 no task outlives its client",
        "{calls_live} aborted call tasks still live after their clients left"
    );
    let answers = answers.lock().unwrap_or_else(|e| e.into_inner()).clone();
    let answered = answers.iter().filter(|a| a.2.is_some()).count();
    cx.log("mcp", "clients", format!("{answered} answered, {} abandoned", answers.len() - answered));
    crate::ensure!(
        subs == subs_baseline && waits == 0,
        "M1 no subscription outlives its client",
        "{subs} subscriptions after the clients left (baseline {subs_baseline}), {waits} waits live; abandoned mid-wait: {abandoned:?}"
    );
    for (who, ask, out, cursor) in &answers {
        match out {
            None => {}
            Some(Err(e)) => {
                return Err(violation(
                    "M2 every client that waited gets a correct answer",
                    format!("client {who}: {e}"),
                ));
            }
            Some(Ok(o)) => check_answer(*who, *ask, o, *cursor)?,
        }
    }
    session.bus().unsubscribe(printer).await;
    drop(tools);
    let report = session.shutdown().await;
    crate::ensure!(
        report.processes.iter().all(|i| i.state.is_terminal()),
        "I39 shutdown ends every instance",
        "not all ended"
    );
    check_task_leaks(cx.rt.metrics(), tasks_baseline)
}
