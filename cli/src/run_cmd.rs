//! `brum run SCRIPT...`: run scripts side by side, print their output prefixed with their
//! names, and exit with the code of the first one that failed (concurrently-style).

use std::collections::BTreeMap;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use brum_core::bus::{Envelope, Event, EventBus, Stream, SubscribeOptions};
use brum_core::config::Settings;
use brum_core::rt::{Clock, Exit};
use brum_core::script::{Command, RestartPolicy, Script, SourceKind};
use brum_core::supervisor::{ProcState, ProcessInfo, Supervisor, SupervisorConfig, SupervisorError};

use crate::args::RunArgs;
use crate::guardian::Guardian;
use crate::rt::TokioRuntime;

/// How long buffered output may wait before it is written, so a quiet process's last lines
/// show promptly while a flood is written in large blocks.
const FLUSH_EVERY: Duration = Duration::from_millis(50);

/// Output buffered before a handler writes it out itself: large enough that a flood is
/// written in few syscalls, small enough to stay in cache.
const PRINT_BUFFER_BYTES: usize = 256 * 1024;

/// Mailbox of the printer subscription: deep, and lossless (`block` with no timeout), so no
/// line is ever dropped; a slow terminal slows the children instead (through their pipes).
const PRINTER_MAILBOX: usize = 8192;

const PALETTE: [&str; 10] = ["36", "35", "33", "32", "34", "96", "95", "93", "92", "94"];

/// Why `brum run` could not start.
#[derive(Debug, thiserror::Error)]
pub enum RunError {
    #[error("no such project directory `{}`", path.display())]
    NoProject { path: PathBuf },
    #[error("unknown script `{name}`{}", hint(suggestions))]
    UnknownScript { name: String, suggestions: Vec<String> },
    #[error("bad --cmd `{arg}`: expected NAME=COMMAND")]
    BadCommand { arg: String },
    #[error("nothing to run: name scripts (see `brum ls`) or give --cmd NAME=COMMAND")]
    Nothing,
    #[error(transparent)]
    Config(#[from] brum_core::config::ConfigError),
}

fn hint(s: &[String]) -> String {
    match s {
        [] => String::new(),
        [one] => format!("; did you mean `{one}`?"),
        many => {
            format!("; did you mean one of {}?", many.iter().map(|s| format!("`{s}`")).collect::<Vec<_>>().join(", "))
        }
    }
}

/// Formats events for the terminal or as JSON lines.
struct Printer {
    out: Mutex<std::io::BufWriter<std::io::Stdout>>,
    json: bool,
    /// The `name | ` prefix of each script, padded and coloured once, not per line.
    prefixes: BTreeMap<String, String>,
}

impl Printer {
    fn new(names: &[&str], json: bool, colour: bool) -> Printer {
        let width = names.iter().map(|n| n.len()).max().unwrap_or(0);
        let prefixes = names
            .iter()
            .enumerate()
            .map(|(i, name)| {
                let padded = format!("{name:<width$}");
                let prefix = if colour {
                    format!("\x1b[{}m{padded} |\x1b[0m ", PALETTE[i % PALETTE.len()])
                } else {
                    format!("{padded} | ")
                };
                (name.to_string(), prefix)
            })
            .collect();
        Printer {
            out: Mutex::new(std::io::BufWriter::with_capacity(PRINT_BUFFER_BYTES * 2, std::io::stdout())),
            json,
            prefixes,
        }
    }

    fn prefix(&self, name: &str) -> std::borrow::Cow<'_, str> {
        match self.prefixes.get(name) {
            Some(p) => std::borrow::Cow::Borrowed(p),
            None => std::borrow::Cow::Owned(format!("{name} | ")),
        }
    }

    fn render(&self, env: &Envelope) -> Option<String> {
        if self.json {
            return Some(json_line(env));
        }
        match &env.event {
            Event::LogLine { process, line, .. } => Some(format!("{}{}\n", self.prefix(&process.name), line)),
            Event::ProcessExited { process, exit } => {
                Some(format!("{}exited with {exit}\n", self.prefix(&process.name)))
            }
            _ => None,
        }
    }

    fn print(&self, env: &Envelope) {
        // The hot path, a plain log line: no formatting, three writes into the buffer.
        if let (false, Event::LogLine { process, line, .. }) = (self.json, &env.event) {
            let prefix = self.prefix(&process.name);
            let mut out = self.out.lock().unwrap_or_else(|e| e.into_inner());
            let _ = out.write_all(prefix.as_bytes());
            let _ = out.write_all(line.as_bytes());
            let _ = out.write_all(b"\n");
            if out.buffer().len() >= PRINT_BUFFER_BYTES {
                let _ = out.flush();
            }
            return;
        }
        let Some(text) = self.render(env) else { return };
        let mut out = self.out.lock().unwrap_or_else(|e| e.into_inner());
        // Errors writing to stdout (a closed pipe) are not the children's problem: keep them
        // running and supervised; the exit code still reports them.
        let _ = out.write_all(text.as_bytes());
        if out.buffer().len() >= PRINT_BUFFER_BYTES || matches!(env.event, Event::ProcessExited { .. }) {
            let _ = out.flush();
        }
    }

    fn flush(&self) {
        let _ = self.out.lock().unwrap_or_else(|e| e.into_inner()).flush();
    }
}

fn json_line(env: &Envelope) -> String {
    let v = match &env.event {
        Event::LogLine { process, stream, line } => serde_json::json!({
            "type": "log", "process": &*process.name, "instance": process.id,
            "stream": if *stream == Stream::Stdout { "stdout" } else { "stderr" }, "line": &**line,
        }),
        Event::ProcessStarted { process, pid } => {
            serde_json::json!({"type": "started", "process": &*process.name, "instance": process.id, "pid": pid})
        }
        Event::ProcessExited { process, exit } => {
            let (code, signal) = match exit {
                Exit::Code(c) => (Some(*c), None),
                Exit::Signaled(s) => (None, Some(*s)),
            };
            serde_json::json!({"type": "exited", "process": &*process.name, "instance": process.id, "code": code, "signal": signal})
        }
        Event::ErrorDetected { process, kind, message, location } => serde_json::json!({
            "type": "error", "process": &*process.name, "instance": process.id, "kind": kind, "message": &**message,
            "file": location.as_ref().map(|l| &*l.file), "line": location.as_ref().and_then(|l| l.line),
            "column": location.as_ref().and_then(|l| l.column),
        }),
        Event::UrlDetected { process, url } => {
            serde_json::json!({"type": "url", "process": &*process.name, "instance": process.id, "url": &**url})
        }
        Event::BuildEvent { process, outcome } => {
            serde_json::json!({"type": "build", "process": &*process.name, "instance": process.id, "outcome": &**outcome})
        }
        Event::TestResult { process, passed, failed } => serde_json::json!({
            "type": "test", "process": &*process.name, "instance": process.id, "passed": passed, "failed": failed,
        }),
        other => serde_json::json!({"type": other.kind().name(), "event": other.to_string()}),
    };
    let mut s = v.to_string();
    s.push('\n');
    s
}

/// The exit code `brum run` reports for an instance that failed, if it failed.
fn failure_code(i: &ProcessInfo) -> Option<i32> {
    match i.state {
        ProcState::Failed { exit: Some(Exit::Code(c)) } => Some(c),
        ProcState::Failed { exit: Some(Exit::Signaled(s)) } => Some(128 + s),
        ProcState::Failed { exit: None } => Some(127),
        _ => None,
    }
}

/// Ad-hoc `--cmd NAME=COMMAND` scripts.
fn ad_hoc(cmds: &[String], project: &Path) -> Result<Vec<Script>, RunError> {
    cmds.iter()
        .map(|c| {
            let (name, line) = c.split_once('=').ok_or_else(|| RunError::BadCommand { arg: c.clone() })?;
            if name.trim().is_empty() || line.trim().is_empty() {
                return Err(RunError::BadCommand { arg: c.clone() });
            }
            Ok(Script {
                name: name.trim().to_string(),
                source: SourceKind::BrumToml,
                file: PathBuf::from("--cmd"),
                command: Command::Shell { line: line.to_string() },
                cwd: project.to_path_buf(),
                env: Vec::new(),
                restart: RestartPolicy::Never,
                detail: None,
            })
        })
        .collect()
}

pub fn supervisor_config(settings: &Settings, force_colour: bool) -> SupervisorConfig {
    SupervisorConfig {
        stop_grace: settings.process_stop_grace(),
        restart: brum_core::script::RestartLimits {
            max_restarts: settings.process_restart_max(),
            backoff: settings.process_restart_backoff(),
            backoff_max: settings.process_restart_backoff_max(),
        },
        max_line_bytes: usize::try_from(settings.log_max_line_bytes()).unwrap_or(usize::MAX),
        force_colour,
    }
}

/// `brum run`.
pub fn run(args: RunArgs, project: &Path, out_is_terminal: bool) -> anyhow::Result<i32> {
    if !project.is_dir() {
        return Err(RunError::NoProject { path: project.to_path_buf() }.into());
    }
    let home = std::env::var_os("HOME").map(PathBuf::from);
    let (settings, _) = crate::settings::load(home.as_deref(), project).map_err(RunError::from)?;
    let mut scripts = crate::scripts::resolve(project, &args.scripts, &settings)?;
    scripts.extend(ad_hoc(&args.cmd, project)?);
    if scripts.is_empty() {
        return Err(RunError::Nothing.into());
    }
    let colour = !args.json && out_is_terminal && std::env::var_os("NO_COLOR").is_none_or(|v| v.is_empty());
    let cores = std::thread::available_parallelism().map_or(1, |n| n.get());
    // At least two threads, so a handler writing to a slow terminal never stalls everything.
    let rt = tokio::runtime::Builder::new_multi_thread().worker_threads(cores.max(2)).enable_all().build()?;
    rt.block_on(run_scripts(scripts, args, settings, colour, cores, project.to_path_buf()))
}

async fn run_scripts(
    scripts: Vec<Script>,
    args: RunArgs,
    settings: Settings,
    colour: bool,
    cores: usize,
    project: PathBuf,
) -> anyhow::Result<i32> {
    let grace = settings.process_stop_grace();
    let guardian = Guardian::spawn(grace)?;
    let rt = TokioRuntime::with_guardian(guardian);
    let bus = EventBus::new(rt.clone(), settings.bus_config(cores));
    let names: Vec<&str> = scripts.iter().map(|s| s.name.as_str()).collect();
    let printer = Arc::new(Printer::new(&names, args.json, colour));
    let p = printer.clone();
    bus.subscribe(SubscribeOptions::named("printer").lossless().capacity(PRINTER_MAILBOX), move |e| p.print(e))?;
    let flusher = {
        let (p, rt2) = (printer.clone(), rt.clone());
        brum_core::rt::spawn(&rt, "run.flush", async move {
            loop {
                rt2.sleep(FLUSH_EVERY).await;
                p.flush();
            }
        })
    };
    // With `log_persist`, every line is also indexed and copied to `.brum/logs`.
    let logs = if settings.log_persist() {
        let files =
            crate::log_files::LogFiles::create(&project, crate::log_files::LogFilesConfig::from_settings(&settings))?;
        Some(brum_core::logs::LogService::attach_with_sink(
            rt.clone(),
            &bus,
            settings.log_store_config(),
            Some(Box::new(files)),
        )?)
    } else {
        None
    };
    let (sup, dispatcher) = Supervisor::new(rt.clone(), bus.clone(), supervisor_config(&settings, colour));
    let mut code = 0;
    let mut first_failure: Option<i32> = None;
    for s in scripts {
        if let Err(e) = sup.start(s, false).await {
            eprintln!("error: {e}");
            if let SupervisorError::Spawn { .. } = e {
                first_failure.get_or_insert(127);
            }
        }
    }
    let mut watch = sup.clone();
    let mut interrupted = false;
    let mut stopping = false;
    let mut term = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate())?;
    loop {
        let status = sup.status();
        for i in status.iter() {
            if let Some(c) = failure_code(i) {
                first_failure.get_or_insert(c);
            }
        }
        let any_ended = status.iter().any(|i| i.state.is_terminal() && !i.restart_scheduled);
        let any_failed = status.iter().any(|i| failure_code(i).is_some());
        if !stopping && ((args.kill_others && any_ended) || (args.kill_others_on_fail && any_failed)) {
            stopping = true;
            let _ = sup.stop_all().await;
        }
        if status.iter().all(|i| i.state.is_terminal() && !i.restart_scheduled) {
            break;
        }
        tokio::select! {
            biased;
            _ = tokio::signal::ctrl_c() => { interrupted = true; }
            _ = term.recv() => { interrupted = true; }
            changed = watch.changed() => if !changed { break },
        }
        if interrupted {
            let _ = sup.stop_all().await;
            break;
        }
    }
    sup.shutdown().await;
    let _ = dispatcher.join().await;
    bus.shutdown().await;
    if let Some(logs) = logs {
        logs.close().await;
    }
    flusher.abort();
    printer.flush();
    if let Some(c) = first_failure {
        code = c;
    }
    if interrupted && code == 0 {
        code = 130;
    }
    Ok(code)
}
