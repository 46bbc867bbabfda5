//! `brum run SCRIPT...`: run scripts side by side, print their output prefixed with their
//! names, and exit with the code of the first one that failed (concurrently-style).

use std::collections::BTreeMap;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use tokio::signal::unix::{Signal, SignalKind, signal};

use brum_core::ansi;
use brum_core::bus::{Envelope, Event, EventKind, KindSet, SubscribeOptions};
use brum_core::config::Settings;
use brum_core::findings::FindingsConfig;
use brum_core::rt::Exit;
use brum_core::script::{Command, RestartPolicy, Script, SourceKind};
use brum_core::session::{Session, SessionConfig};
use brum_core::supervisor::{ProcState, ProcessInfo, Supervisor, SupervisorConfig, SupervisorError};

use crate::args::RunArgs;
use crate::errors::{CliError, exit, system};
use crate::guardian::Guardian;
use crate::output::Stdout;
use crate::rt::TokioRuntime;

/// Mailbox of the printer subscription, in events (a batch of lines is one event, about
/// `BATCH_BYTES_MAX` of text at most, so this holds about 16 MiB at most): lossless (`block` with no
/// timeout), so no line is ever dropped while brum runs; a slow terminal slows the children
/// instead (through their pipes). Once brum is stopping, a stdout nobody reads is given up on
/// (see `output::Stdout`), so this never holds up a shutdown.
const PRINTER_MAILBOX: usize = 128;

const PALETTE: [&str; 10] = ["36", "35", "33", "32", "34", "96", "95", "93", "92", "94"];

/// Formats events for the terminal or as JSON lines, into brum's stdout outbox.
struct Printer {
    out: Arc<Stdout>,
    json: bool,
    /// The `name | ` prefix of each script, padded and coloured once, not per line.
    prefixes: BTreeMap<String, String>,
}

impl Printer {
    fn new(names: &[&str], json: bool, colour: bool, out: Arc<Stdout>) -> Printer {
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
        Printer { out, json, prefixes }
    }

    fn prefix(&self, name: &str) -> std::borrow::Cow<'_, str> {
        match self.prefixes.get(name) {
            Some(p) => std::borrow::Cow::Borrowed(p),
            None => std::borrow::Cow::Owned(format!("{name} | ")),
        }
    }

    /// Prints one event with one append to the outbox: a batch of lines is one write of all
    /// its lines.
    fn print(&self, env: &Envelope) {
        if self.json {
            let lines = env.event.width();
            self.out.append(lines, |buf| {
                if let Err(e) = env.write_json(buf) {
                    // Serializing brum's own types cannot fail; say so rather than print nothing.
                    let _ = writeln!(buf, "{{\"type\":\"error\",\"serialize_failed\":{:?}}}", e.to_string());
                }
            });
            return;
        }
        match &env.event {
            Event::LogLines { process, lines, .. } => {
                let prefix = self.prefix(&process.name);
                let prefix = Prefix::new(prefix.as_bytes());
                self.out.append(lines.len() as u64, |buf| {
                    buf.reserve(lines.bytes() + lines.len() * (PREFIX_PAD + 1));
                    for (i, (printed, styled)) in lines.printed().enumerate() {
                        prefix.write(buf);
                        match styled.then(|| lines.get(i)).flatten() {
                            Some(line) => {
                                // Escapes that would move the cursor or clear the screen are
                                // dropped: one process must not wipe the others' lines.
                                let (text, sgr) = ansi::for_prefixed_view(line.text);
                                buf.extend_from_slice(text.as_bytes());
                                if sgr {
                                    buf.extend_from_slice(SGR_RESET);
                                }
                                buf.push(b'\n');
                            }
                            None => buf.extend_from_slice(printed),
                        }
                    }
                });
            }
            Event::ProcessExited { process, exit } => {
                let prefix = self.prefix(&process.name);
                self.out.append(1, |buf| {
                    let _ = writeln!(buf, "{prefix}exited with {exit}");
                });
            }
            _ => {}
        }
    }
}

/// Bytes a prefix is padded to so that it is copied with a copy of fixed size (which the
/// compiler does inline) rather than a call to `memcpy` for each line.
const PREFIX_PAD: usize = 32;

/// A line prefix, written before every line of a batch.
enum Prefix<'a> {
    /// Its bytes, padded, and its length.
    Padded([u8; PREFIX_PAD], usize),
    Long(&'a [u8]),
}

impl<'a> Prefix<'a> {
    fn new(bytes: &'a [u8]) -> Self {
        match bytes.len() {
            n if n <= PREFIX_PAD => {
                let mut padded = [0; PREFIX_PAD];
                padded[..n].copy_from_slice(bytes);
                Prefix::Padded(padded, n)
            }
            _ => Prefix::Long(bytes),
        }
    }

    #[inline]
    fn write(&self, buf: &mut Vec<u8>) {
        match self {
            Prefix::Padded(padded, n) => {
                let at = buf.len();
                buf.extend_from_slice(padded);
                buf.truncate(at + n);
            }
            Prefix::Long(bytes) => buf.extend_from_slice(bytes),
        }
    }
}

/// Resets colours and attributes after a line that set some, so they cannot bleed into the
/// next line's prefix.
const SGR_RESET: &[u8] = b"\x1b[0m";

/// The exit code `brum run` reports for an instance that failed, if it failed.
fn failure_code(i: &ProcessInfo) -> Option<i32> {
    match i.state {
        ProcState::Failed { exit: Some(Exit::Code(c)) } => Some(c),
        ProcState::Failed { exit: Some(Exit::Signaled(s)) } => Some(exit::SIGNAL_BASE + s),
        ProcState::Failed { exit: None } => Some(exit::SPAWN_FAILED),
        _ => None,
    }
}

/// Ad-hoc `--cmd NAME=COMMAND` scripts.
fn ad_hoc(cmds: &[String], project: &Path) -> Result<Vec<Script>, CliError> {
    cmds.iter()
        .map(|c| {
            let (name, line) = c.split_once('=').ok_or_else(|| CliError::BadCommand { arg: c.clone() })?;
            if name.trim().is_empty() || line.trim().is_empty() {
                return Err(CliError::BadCommand { arg: c.clone() });
            }
            let name = name.trim();
            if name.chars().any(|ch| ch.is_control() || ch.is_whitespace()) {
                return Err(CliError::BadName { name: name.to_string() });
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
        batch_lines: settings.log_batch_lines(),
        force_colour,
        leftovers: settings.process_leftovers(),
    }
}

/// The signals that stop `brum run` (and `brum serve`), listened to from before anything is
/// spawned.
pub(crate) struct Signals {
    interrupt: Signal,
    terminate: Signal,
    hangup: Signal,
}

impl Signals {
    /// Installs the handlers. From here on SIGINT, SIGTERM and SIGHUP are brum's to handle
    /// (even a SIGINT the shell passed down as ignored), never the default action.
    pub(crate) fn install() -> std::io::Result<Signals> {
        Ok(Signals {
            interrupt: signal(SignalKind::interrupt())?,
            terminate: signal(SignalKind::terminate())?,
            hangup: signal(SignalKind::hangup())?,
        })
    }

    /// The next signal's number.
    pub(crate) async fn recv(&mut self) -> i32 {
        tokio::select! {
            biased;
            _ = self.interrupt.recv() => 2,
            _ = self.terminate.recv() => 15,
            _ = self.hangup.recv() => 1,
        }
    }
}

/// The tokio runtime brum's commands run on: at least two threads, so a handler waiting on a
/// slow terminal never stalls everything.
pub(crate) fn runtime() -> Result<tokio::runtime::Runtime, CliError> {
    let cores = std::thread::available_parallelism().map_or(1, |n| n.get());
    tokio::runtime::Builder::new_multi_thread()
        .worker_threads(cores.max(2))
        .enable_all()
        .build()
        .map_err(system("start the async runtime"))
}

/// `brum run` in `project`, an existing directory (see `project_fs::project_dir`).
pub fn run(args: RunArgs, project: &Path, out_is_terminal: bool) -> Result<i32, CliError> {
    let cores = std::thread::available_parallelism().map_or(1, |n| n.get());
    runtime()?.block_on(async move {
        // First of all: a signal during startup must find brum's handlers, not the default
        // action (which would leave whatever was being spawned running).
        let signals = Signals::install().map_err(system("install the signal handlers"))?;
        let home = std::env::var_os("HOME").filter(|h| !h.is_empty()).map(PathBuf::from);
        let (settings, _) = crate::settings::load(home.as_deref(), project)?;
        let scripts = collect(&args, project, &settings)?;
        let colour = !args.json && out_is_terminal && std::env::var_os("NO_COLOR").is_none_or(|v| v.is_empty());
        run_scripts(scripts, args, settings, colour, cores, project.to_path_buf(), signals).await
    })
}

/// The scripts to run: the named ones (with the arguments after `--`), then the ad-hoc ones;
/// each name once.
fn collect(args: &RunArgs, project: &Path, settings: &Settings) -> Result<Vec<Script>, CliError> {
    if !args.passthrough.is_empty() && args.scripts.len() + args.cmd.len() != 1 {
        return Err(CliError::PassthroughNeedsOne {
            count: args.scripts.len() + args.cmd.len(),
            args: args.passthrough.clone(),
        });
    }
    let mut scripts = crate::scripts::resolve(project, &args.scripts, settings)?;
    scripts.extend(ad_hoc(&args.cmd, project)?);
    if scripts.is_empty() {
        return Err(CliError::NothingToRun);
    }
    for s in &mut scripts {
        s.command = s.command.with_args(&args.passthrough);
    }
    let mut seen = std::collections::BTreeSet::new();
    for s in &scripts {
        if !seen.insert(s.name.as_str()) {
            return Err(CliError::DuplicateName { name: s.name.clone() });
        }
    }
    Ok(scripts)
}

/// Why `brum run` is stopping everything.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum StopReason {
    /// SIGINT, SIGTERM or SIGHUP, by number.
    Signal(i32),
    /// Nobody reads brum's output any more (`| head -1`).
    StdoutClosed,
    /// `--kill-others` or `--kill-others-on-fail`.
    KillOthers,
}

/// Starts `scripts` one after another; returns the exit code to report for the ones that
/// could not be spawned.
async fn start_all(sup: Supervisor<TokioRuntime>, scripts: Vec<Script>) -> Option<i32> {
    let mut failure = None;
    for s in scripts {
        if let Err(e) = sup.start(s, false).await {
            crate::output::stderr_line(&format!("error: {e}"));
            if let SupervisorError::Spawn { .. } = e {
                failure.get_or_insert(exit::SPAWN_FAILED);
            }
        }
    }
    failure
}

fn names_of(infos: &[ProcessInfo]) -> String {
    let names: Vec<&str> = infos.iter().map(|i| i.script.as_str()).collect();
    names.join(", ")
}

async fn run_scripts(
    scripts: Vec<Script>,
    args: RunArgs,
    settings: Settings,
    colour: bool,
    cores: usize,
    project: PathBuf,
    mut signals: Signals,
) -> Result<i32, CliError> {
    let grace = settings.process_stop_grace();
    // Checked before anything starts: a bad token is the user's to fix.
    let token = if args.mcp { crate::serve_cmd::token(args.token.clone(), &settings)? } else { None };
    // The guardian, then the runtime that registers every child with it: both before the
    // first spawn.
    let guardian = Guardian::spawn(grace).map_err(system("start the orphan guardian"))?;
    let rt = TokioRuntime::with_guardian(guardian);
    // With `log_persist`, every line is also indexed and copied to `.brum/logs`; with `--mcp`,
    // indexed for the MCP log tools.
    let logs = if settings.log_persist() {
        let files =
            crate::log_files::LogFiles::create(&project, crate::log_files::LogFilesConfig::from_settings(&settings))
                .map_err(system("create the log directory .brum/logs"))?;
        Some((settings.log_store_config(), Some(Box::new(files) as Box<dyn brum_core::logs::LogSink + Send>)))
    } else if args.mcp {
        Some((settings.log_store_config(), None))
    } else {
        None
    };
    let session = Session::new(
        rt.clone(),
        SessionConfig {
            bus: settings.bus_config(cores),
            supervisor: supervisor_config(&settings, colour),
            logs,
            findings: FindingsConfig::from_settings(&settings),
        },
    )?;
    let served = if args.mcp {
        crate::serve_cmd::watch_catalogue(&session, &project, &settings).await;
        match crate::serve_cmd::start_http(session.handle(), &project, &settings, crate::mcp::http::DEFAULT_PORT, token)
            .await
        {
            Ok(served) => {
                crate::output::stderr_line(&format!("brum: mcp: {}", served.http.url));
                Some(served)
            }
            Err(e) => {
                session.shutdown().await;
                return Err(e);
            }
        }
    } else {
        None
    };
    let names: Vec<&str> = scripts.iter().map(|s| s.name.as_str()).collect();
    let out = Arc::new(Stdout::start().map_err(system("start the stdout writer"))?);
    let printer = Printer::new(&names, args.json, colour, out.clone());
    // The terminal view prints lines and exits only: the detections are for the other front ends.
    let kinds = if args.json { KindSet::ALL } else { KindSet::of(&[EventKind::LogLines, EventKind::ProcessExited]) };
    session
        .bus()
        .subscribe(SubscribeOptions::named("printer").lossless().capacity(PRINTER_MAILBOX).kinds(kinds), move |e| {
            printer.print(e)
        })?;
    let sup = session.supervisor().clone();
    let mut first_failure: Option<i32> = None;
    let mut starting = Some(Box::pin(start_all(sup.clone(), scripts)));
    let mut watch = sup.clone();
    let mut stop: Option<StopReason> = None;
    let mut killed = false;
    let mut stdout_closed = false;
    loop {
        let status = sup.status();
        for i in status.iter() {
            if let Some(c) = failure_code(i) {
                first_failure.get_or_insert(c);
            }
        }
        let all_ended = status.iter().all(|i| i.state.is_terminal() && !i.restart_scheduled);
        if starting.is_none() {
            let any_ended = status.iter().any(|i| i.state.is_terminal() && !i.restart_scheduled);
            let any_failed = status.iter().any(|i| failure_code(i).is_some());
            if stop.is_none() && ((args.kill_others && any_ended) || (args.kill_others_on_fail && any_failed)) {
                stop = Some(StopReason::KillOthers);
                begin_stop(&sup, &out);
            }
            if all_ended {
                break;
            }
        }
        tokio::select! {
            biased;
            signo = signals.recv() => {
                let running: Vec<ProcessInfo> =
                    sup.status().iter().filter(|i| !i.state.is_terminal()).cloned().collect();
                if stop.is_none() {
                    stop = Some(StopReason::Signal(signo));
                    // Nothing more starts; what was started is stopped.
                    starting = None;
                    begin_stop(&sup, &out);
                    if !running.is_empty() {
                        crate::output::stderr_line(&format!(
                            "brum: stopping {} (SIGTERM, then SIGKILL after {} ms); press Ctrl-C again to kill now",
                            names_of(&running),
                            grace.as_millis()
                        ));
                    }
                } else if !killed {
                    killed = true;
                    crate::output::stderr_line(&format!("brum: killing {} (SIGKILL)", names_of(&running)));
                    let s = sup.clone();
                    tokio::spawn(async move { s.kill_all().await });
                }
            }
            _ = out.closed(), if !stdout_closed => {
                stdout_closed = true;
                if stop.is_none() {
                    stop = Some(StopReason::StdoutClosed);
                    starting = None;
                    begin_stop(&sup, &out);
                }
            }
            failed = async { starting.as_mut().expect("polled only while starting").await }, if starting.is_some() => {
                starting = None;
                if let Some(c) = failed {
                    first_failure.get_or_insert(c);
                }
            }
            changed = watch.changed() => if !changed { break },
        }
    }
    // MCP clients first (nothing new starts), then supervisor, then bus, then log files: every
    // accepted line reaches the printer.
    if let Some(served) = served {
        served.stop().await;
    }
    session.shutdown().await;
    let report = out.finish();
    if report.dropped_lines > 0 && !report.closed {
        crate::output::stderr_line(&format!(
            "warning: stdout was not being read; {} lines were not printed",
            report.dropped_lines
        ));
    }
    Ok(match (first_failure, stop) {
        (Some(c), _) => c,
        (None, Some(StopReason::Signal(signo))) => exit::SIGNAL_BASE + signo,
        (None, _) => exit::OK,
    })
}

/// Stops every instance without waiting here (the main loop watches the status), and tells
/// the output that a stdout nobody reads may now be given up on.
fn begin_stop(sup: &Supervisor<TokioRuntime>, out: &Stdout) {
    out.stopping();
    let s = sup.clone();
    tokio::spawn(async move { s.stop_all().await });
}

#[cfg(test)]
mod tests {
    use std::path::PathBuf;

    /// A prefix is written as its bytes, whatever its length, after what the buffer held.
    #[test]
    fn a_prefix_writes_its_bytes_short_or_long() {
        for n in [0, 1, 7, super::PREFIX_PAD - 1, super::PREFIX_PAD, super::PREFIX_PAD + 1, 100] {
            let bytes: Vec<u8> = (0..n).map(|i| b'a' + (i % 26) as u8).collect();
            let mut buf = b"before".to_vec();
            super::Prefix::new(&bytes).write(&mut buf);
            super::Prefix::new(&bytes).write(&mut buf);
            assert_eq!(buf, [&b"before"[..], &bytes, &bytes].concat(), "a prefix of {n} bytes");
        }
    }

    use brum_core::config::{Layer, Settings};

    /// Keys that shape ingest reach the supervisor: `log_batch_lines` caps a batch's lines,
    /// `log_max_line_bytes` cuts long lines.
    #[test]
    fn the_supervisor_takes_the_batch_and_line_limits_from_the_settings() {
        let text = "[concurrency]\nlog_batch_lines = 7\nlog_max_line_bytes = \"2KiB\"\n";
        let layer = Layer { path: PathBuf::from(".brum.toml"), text: text.into() };
        let settings = Settings::from_layers(&[layer]).expect("valid settings");
        let cfg = super::supervisor_config(&settings, false);
        assert_eq!((cfg.batch_lines, cfg.max_line_bytes), (7, 2048));
        let defaults = super::supervisor_config(&Settings::defaults(), false);
        assert_eq!(defaults.batch_lines, brum_core::lines::BATCH_LINES_DEFAULT);
    }
}
