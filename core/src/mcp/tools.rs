//! The tools' behaviour: each reads its arguments, asks the session, and answers with
//! structured content and its text mirror.

use std::fmt::Write as _;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use serde_json::{Map, Value, json};

use super::args::Args;
use super::wait::Watch;
use super::{CallError, ToolOutput, Tools};
use crate::bus::{Envelope, Event, EventKind, KindSet};
use crate::detect::ErrorKind;
use crate::findings::{ErrorEntry, ErrorFilter, GroupId};
use crate::logs::{EntryId, Filter, Level, LevelSet, LogEntry, ProcessFilter, Query, TextQuery};
use crate::process::{Location, ProcessRef, Stream};
use crate::rt::{Exit, Runtime};
use crate::script::{Command, RestartPolicy, Script, SourceKind};
use crate::supervisor::{ProcState, ProcessInfo, Started, SupervisorError, Target};

/// `scripts_run`'s and `scripts_restart`'s wait when `timeout_ms` is not given.
pub const WAIT_TIMEOUT_DEFAULT: Duration = Duration::from_secs(30);
/// The longest wait a call may ask for (`timeout_ms`), so a forgotten call ends.
pub const WAIT_TIMEOUT_MAX_MS: u64 = 300_000;
/// `logs_stream`'s follow wait when `timeout_ms` is not given.
pub const FOLLOW_TIMEOUT_DEFAULT: Duration = Duration::from_secs(10);
/// Lines per `logs_stream` page by default, and at most.
pub const STREAM_LIMIT_DEFAULT: u64 = 100;
pub const STREAM_LIMIT_MAX: u64 = 1000;
/// Matches per `logs_search` page by default, and at most.
pub const SEARCH_LIMIT_DEFAULT: u64 = 50;
pub const SEARCH_LIMIT_MAX: u64 = 500;
/// Context lines before and after a search match, at most.
pub const CONTEXT_LINES_MAX: u64 = 20;
/// Error groups per `errors_list` page by default, and at most.
pub const ERRORS_LIMIT_DEFAULT: u64 = 20;
pub const ERRORS_LIMIT_MAX: u64 = 200;
/// Errors a `scripts_run` answer lists (the rest are counted).
pub const RUN_ERRORS_MAX: usize = 10;
/// Lines of source shown above and below an error's line in a code frame.
pub const CODE_FRAME_CONTEXT: u32 = 3;
/// Source files larger than this get no code frame (a generated bundle is not worth quoting).
pub const CODE_FRAME_FILE_BYTES_MAX: usize = 1024 * 1024;
/// A code frame's line is cut to this many characters.
pub const CODE_FRAME_LINE_CHARS_MAX: usize = 240;
/// Stack frames an error's answer lists (the rest are counted).
pub const FRAMES_MAX: usize = 20;
/// How often a follow re-reads the store after the bus announced a line the store has not
/// indexed yet (the store is another subscriber): a few ticks of the runtime's clock.
const FOLLOW_RECHECK: Duration = Duration::from_millis(5);

/// What `wait_for` asks for.
#[derive(Debug)]
pub(crate) enum WaitFor {
    None,
    Url,
    Exit,
    Line(String, Box<crate::logs::Matcher>),
}

impl WaitFor {
    fn name(&self) -> &'static str {
        match self {
            WaitFor::None => "none",
            WaitFor::Url => "url",
            WaitFor::Exit => "exit",
            WaitFor::Line(..) => "regex",
        }
    }

    fn pattern(&self) -> Option<String> {
        match self {
            WaitFor::Line(p, _) => Some(p.clone()),
            _ => None,
        }
    }

    pub(crate) fn parse(args: &Args<'_>) -> Result<WaitFor, CallError> {
        let regex = |pattern: &str| -> Result<WaitFor, CallError> {
            crate::logs::Matcher::new(&TextQuery::Regex(pattern.to_string()))
                .map(|m| WaitFor::Line(pattern.to_string(), Box::new(m)))
                .map_err(|e| args.invalid(format!("`wait_for` regex: {}", error_chain(&e))))
        };
        match args.value("wait_for") {
            None => Ok(WaitFor::None),
            Some(Value::String(s)) => match s.as_str() {
                "none" => Ok(WaitFor::None),
                "url" => Ok(WaitFor::Url),
                "exit" => Ok(WaitFor::Exit),
                other => match other.strip_prefix("regex:") {
                    Some(p) => regex(p),
                    None => Err(args.invalid(format!(
                        "`wait_for` must be \"none\", \"url\", \"exit\", \"regex:PATTERN\" or {{\"regex\": \"PATTERN\"}}, not \"{other}\""
                    ))),
                },
            },
            Some(Value::Object(o)) => match (o.get("regex"), o.len()) {
                (Some(Value::String(p)), 1) => regex(p),
                _ => Err(args.invalid("`wait_for` as an object must be {\"regex\": \"PATTERN\"}")),
            },
            Some(_) => Err(args.invalid("`wait_for` must be a string or {\"regex\": \"PATTERN\"}")),
        }
    }
}

fn error_chain(e: &dyn std::error::Error) -> String {
    let mut s = e.to_string();
    let mut src = e.source();
    while let Some(inner) = src {
        let _ = write!(s, ": {inner}");
        src = inner.source();
    }
    s
}

fn quoted_list(names: &[String]) -> String {
    names.iter().map(|n| format!("'{n}'")).collect::<Vec<_>>().join(", ")
}

/// `no script named 'dve'; did you mean 'dev'? scripts_list shows all`.
fn unknown_text(what: &str, name: &str, suggestions: &[String], see: &str) -> String {
    match suggestions {
        [] => format!("no {what} named '{name}'; {see} shows all"),
        [one] => format!("no {what} named '{name}'; did you mean '{one}'? {see} shows all"),
        many => format!("no {what} named '{name}'; did you mean one of {}? {see} shows all", quoted_list(many)),
    }
}

/// `exit code 3`, `signal 9`.
fn exit_text(e: Exit) -> String {
    match e {
        Exit::Code(c) => format!("exit code {c}"),
        Exit::Signaled(s) => format!("signal {s}"),
    }
}

fn exit_json(exit: Option<Exit>) -> Value {
    match exit {
        Some(Exit::Code(c)) => json!({"code": c, "signal": null}),
        Some(Exit::Signaled(s)) => json!({"code": null, "signal": s}),
        None => Value::Null,
    }
}

fn state_exit(state: ProcState) -> Option<Exit> {
    match state {
        ProcState::Stopped { exit } | ProcState::Failed { exit } => exit,
        ProcState::Exited => Some(Exit::Code(0)),
        _ => None,
    }
}

fn location_json(l: &Location) -> Value {
    json!({"file": l.file, "line": l.line, "column": l.column})
}

fn stream_of(args: &Args<'_>) -> Result<Option<Stream>, CallError> {
    Ok(args
        .choice("stream", &["stdout", "stderr"])?
        .map(|s| if s == "stdout" { Stream::Stdout } else { Stream::Stderr }))
}

/// `3`, `#3` or `dev#3`: an instance id.
fn parse_instance(s: &str) -> Option<u64> {
    let digits = s.rsplit_once('#').map_or(s, |(_, n)| n);
    if s.contains('#') || s.chars().all(|c| c.is_ascii_digit()) { digits.parse().ok() } else { None }
}

pub(crate) fn entry_json(e: &LogEntry) -> Value {
    json!({
        "id": e.id.0,
        "process": &*e.process.name,
        "instance": e.process.id.0,
        "stream": e.stream.name(),
        "level": e.level.name(),
        "at_ms": e.mono.as_millis() as u64,
        "text": e.plain(),
        "truncated": e.truncated,
    })
}

pub(crate) fn entry_line(e: &LogEntry) -> String {
    let err = if e.stream == Stream::Stderr { "!" } else { " " };
    format!("[{}#{} {:>6}]{err} {}", e.process.name, e.process.id.0, e.id.0, e.plain())
}

fn parse_since(s: &str) -> Option<Duration> {
    let s = s.trim();
    let split = s.find(|c: char| !c.is_ascii_digit())?;
    let (n, unit) = s.split_at(split);
    let n: u64 = n.parse().ok()?;
    match unit {
        "ms" => Some(Duration::from_millis(n)),
        "s" => Some(Duration::from_secs(n)),
        "m" => n.checked_mul(60).map(Duration::from_secs),
        "h" => n.checked_mul(3600).map(Duration::from_secs),
        _ => None,
    }
}

fn level_of(name: &str) -> Option<Level> {
    Level::ALL.into_iter().find(|l| l.name() == name)
}

impl<R: Runtime> Tools<R> {
    fn now_ms(&self) -> u64 {
        self.session.rt.now().as_millis() as u64
    }

    /// Every name a client might mean: the catalogue's scripts and the names that ran.
    pub(crate) fn known_names(&self) -> Vec<String> {
        let mut names: Vec<String> = self.session.catalogue().scripts().map(|s| s.name.clone()).collect();
        for p in self.session.supervisor.status().iter() {
            if !names.contains(&p.script) {
                names.push(p.script.clone());
            }
        }
        names
    }

    fn unknown_process(&self, name: &str, what: &str, see: &str) -> ToolOutput {
        let names = self.known_names();
        let refs: Vec<&str> = names.iter().map(String::as_str).collect();
        ToolOutput::error(unknown_text(what, name, &crate::discovery::suggest_script(&refs, name), see))
    }

    pub(crate) fn unknown_process_text(&self, name: &str) -> String {
        self.unknown_process(name, "script", "scripts_list").text
    }

    fn no_logs(&self) -> ToolOutput {
        ToolOutput::error(
            "this brum session keeps no logs (it was started without a log store); restart brum with logs enabled",
        )
    }

    // ---- scripts_list

    pub(crate) fn scripts_list(&self, args: &Map<String, Value>) -> Result<ToolOutput, CallError> {
        Args::new("scripts_list", args, &[])?;
        let catalogue = self.session.catalogue();
        let status = self.session.supervisor.status();
        let mut scripts = Vec::new();
        let mut text = String::new();
        for s in catalogue.scripts() {
            let current = status.iter().rev().find(|p| p.script == s.name);
            let state = current.map_or("not started", |p| p.state.name());
            let command = match &s.command {
                Command::Shell { line } => line.clone(),
                Command::Exec { program, args } => std::iter::once(program.as_str())
                    .chain(args.iter().map(String::as_str))
                    .collect::<Vec<_>>()
                    .join(" "),
            };
            let _ = writeln!(text, "{:<24} {:<12} {}  ({})", s.name, state, command, s.source.name());
            scripts.push(json!({
                "name": s.name,
                "source": s.source.name(),
                "file": s.file.display().to_string(),
                "command": command,
                "detail": s.detail,
                "cwd": s.cwd.display().to_string(),
                "restart": s.restart.name(),
                "state": state,
                "instance": current.map(|p| p.id),
            }));
        }
        if scripts.is_empty() {
            text = format!(
                "no scripts found in {}; add a package.json script, a Makefile target or a .brum.toml process",
                catalogue.root.display()
            );
        }
        let n = scripts.len();
        Ok(ToolOutput::ok(
            json!({"root": catalogue.root.display().to_string(), "scripts": scripts, "count": n}),
            text.trim_end().to_string(),
        ))
    }

    // ---- scripts_run / scripts_restart

    /// The script `scripts_run` names, or its failure.
    fn script_to_run(&self, a: &Args<'_>) -> Result<Result<Script, ToolOutput>, CallError> {
        let extra = a.str_list("args")?.unwrap_or_default();
        if let Some(line) = a.str("command")? {
            if !self.allow_adhoc {
                return Ok(Err(ToolOutput::error(
                    "ad-hoc commands are disabled: scripts_run runs only the project's scripts (scripts_list shows them); \
                     the user can allow commands with `[mcp] allow_adhoc = true` in .brum.toml",
                )));
            }
            let name = a.str("name")?.unwrap_or("adhoc").to_string();
            let root = self.session.catalogue().root.clone();
            return Ok(Ok(Script {
                name,
                source: SourceKind::BrumToml,
                file: root.join(".brum.toml"),
                command: Command::Shell { line: line.to_string() }.with_args(&extra),
                cwd: root,
                env: Vec::new(),
                restart: RestartPolicy::Never,
                detail: Some(format!("ad-hoc: {line}")),
            }));
        }
        let name = a.req_str("name")?;
        let catalogue = self.session.catalogue();
        match catalogue.find(name) {
            Ok(s) => {
                let mut s = s.clone();
                s.command = s.command.with_args(&extra);
                Ok(Ok(s))
            }
            Err(unknown) => {
                Ok(Err(ToolOutput::error(unknown_text("script", name, &unknown.suggestions, "scripts_list"))))
            }
        }
    }

    fn timeout(&self, a: &Args<'_>, default: Duration) -> Result<Duration, CallError> {
        Ok(a.u64("timeout_ms", WAIT_TIMEOUT_MAX_MS)?.map_or(default, Duration::from_millis))
    }

    pub(crate) async fn scripts_run(&self, args: &Map<String, Value>) -> Result<ToolOutput, CallError> {
        let a = Args::new("scripts_run", args, &["name", "args", "force", "wait_for", "timeout_ms", "command"])?;
        let force = a.bool("force")?.unwrap_or(false);
        let wait = WaitFor::parse(&a)?;
        let timeout = self.timeout(&a, self.wait_default)?;
        let script = match self.script_to_run(&a)? {
            Ok(s) => s,
            Err(out) => return Ok(out),
        };
        let name = script.name.clone();
        let sup = self.session.supervisor.clone();
        self.start_and_wait(&name, wait, timeout, async move { sup.start(script, force).await }).await
    }

    pub(crate) async fn scripts_restart(&self, args: &Map<String, Value>) -> Result<ToolOutput, CallError> {
        let a = Args::new("scripts_restart", args, &["name", "wait_for", "timeout_ms"])?;
        let wait = WaitFor::parse(&a)?;
        let timeout = self.timeout(&a, self.wait_default)?;
        let name = a.req_str("name")?;
        let (target, script) = match parse_instance(name) {
            Some(id) => match self.session.supervisor.status().iter().find(|p| p.id == id) {
                Some(p) => (Target::Id(id), p.script.clone()),
                None => {
                    return Ok(ToolOutput::error(format!("no instance #{id}; scripts_status shows every instance")));
                }
            },
            None => (Target::Script(name.to_string()), name.to_string()),
        };
        let ran = self.session.supervisor.status().iter().any(|p| p.script == script);
        if !ran {
            // Never started: a restart is a start, if the catalogue has it.
            return match self.session.catalogue().find(&script) {
                Ok(s) => {
                    let (sup, s) = (self.session.supervisor.clone(), s.clone());
                    self.start_and_wait(&script, wait, timeout, async move { sup.start(s, false).await }).await
                }
                Err(_) => Ok(self.unknown_process(&script, "script", "scripts_list")),
            };
        }
        let sup = self.session.supervisor.clone();
        self.start_and_wait(&script, wait, timeout, async move { sup.restart(target).await }).await
    }

    /// Starts (through `start`) and waits as `wait` asks, subscribed before the start so no
    /// event of the new instance is missed.
    async fn start_and_wait(
        &self,
        script: &str,
        wait: WaitFor,
        timeout: Duration,
        start: impl std::future::Future<Output = Result<Started, SupervisorError>>,
    ) -> Result<ToolOutput, CallError> {
        let rt = &self.session.rt;
        let began = rt.now();
        let kinds = match &wait {
            WaitFor::None => None,
            WaitFor::Url => {
                Some(KindSet::of(&[EventKind::UrlDetected, EventKind::ProcessExited, EventKind::SpawnFailed]))
            }
            WaitFor::Exit => Some(KindSet::of(&[EventKind::ProcessExited, EventKind::SpawnFailed])),
            WaitFor::Line(..) => {
                Some(KindSet::of(&[EventKind::LogLines, EventKind::ProcessExited, EventKind::SpawnFailed]))
            }
        };
        let mut watch = match kinds {
            None => None,
            Some(k) => {
                let wanted: Arc<str> = script.into();
                let keep = move |env: &Envelope| env.event.process().is_some_and(|p| p.name == wanted);
                match Watch::open(&self.session.bus, rt, "scripts_run", k, keep) {
                    Ok(w) => Some(w),
                    Err(_) => return Ok(ToolOutput::error("brum is shutting down; no script can start now")),
                }
            }
        };
        let started = match start.await {
            Ok(s) => s,
            Err(e) => {
                let text = match e {
                    SupervisorError::Spawn { script, message } => {
                        format!("could not start '{script}': {message}; check its command with scripts_list")
                    }
                    SupervisorError::NotFound { target } => {
                        format!("no running instance '{target}'; scripts_status shows what runs")
                    }
                    SupervisorError::ShutDown => "brum is shutting down; no script can start now".to_string(),
                    SupervisorError::RestartCancelled { script } => {
                        format!("the restart of '{script}' was cancelled by a stop that came meanwhile")
                    }
                };
                return Ok(ToolOutput::error(text));
            }
        };
        let process = started.process().clone();
        let already = matches!(started, Started::AlreadyRunning(_));
        let mut answer = RunAnswer {
            condition: wait.name(),
            pattern: wait.pattern(),
            status: "started",
            url: None,
            exit: None,
            line: None,
        };
        if let Some(w) = watch.as_mut() {
            answer = self.wait_on(w, &process, &wait, began + timeout, already).await;
        }
        let dropped = watch.as_ref().map_or(0, Watch::dropped);
        if let Some(w) = watch.take() {
            w.close().await;
        }
        Ok(self.run_output(&process, already, &answer, timeout, rt.now().saturating_since(began), dropped))
    }

    async fn wait_on(
        &self,
        watch: &mut Watch<R>,
        process: &ProcessRef,
        wait: &WaitFor,
        deadline: crate::rt::Mono,
        already: bool,
    ) -> RunAnswer {
        let rt = &self.session.rt;
        let mut answer = RunAnswer {
            condition: wait.name(),
            pattern: wait.pattern(),
            status: "timed_out",
            url: None,
            exit: None,
            line: None,
        };
        // What holds already (an instance that was running, or events the queue dropped).
        let check = |answer: &mut RunAnswer| -> bool {
            let status = self.session.supervisor.status();
            let info = status.iter().find(|p| p.id == process.id.0);
            // A line the instance printed before: its newest match in the store.
            if let WaitFor::Line(pattern, _) = wait
                && let Some(logs) = &self.session.logs
                && let Ok(page) = logs.search(&Query {
                    text: TextQuery::Regex(pattern.clone()),
                    filter: Filter { process: Some(ProcessFilter::Id(process.id.0)), ..Filter::default() },
                    limit: 1,
                    cursor: None,
                })
                && let Some(line) = page.entries.first()
            {
                answer.status = "met";
                answer.line = Some(line.plain().into_owned());
                return true;
            }
            if let WaitFor::Url = wait
                && let Some(u) = self
                    .session
                    .findings(|f| f.urls(Some(&process.name)))
                    .into_iter()
                    .find(|u| u.process.id == process.id)
            {
                answer.status = "met";
                answer.url = Some(u.url.url.clone());
                return true;
            }
            if let Some(info) = info
                && info.state.is_terminal()
            {
                answer.exit = Some(state_exit(info.state));
                answer.status = if matches!(wait, WaitFor::Exit) {
                    "met"
                } else if info.pid.is_none() {
                    "failed_to_start"
                } else {
                    "exited"
                };
                return true;
            }
            false
        };
        if (already || watch.dropped() > 0) && check(&mut answer) {
            return answer;
        }
        let mut seen_drops = watch.dropped();
        loop {
            let left = deadline.saturating_since(rt.now());
            if left.is_zero() {
                let _ = check(&mut answer);
                if answer.status == "timed_out" || answer.status == "started" {
                    answer.status = "timed_out";
                }
                return answer;
            }
            let sleep = rt.sleep(left);
            let env = tokio::select! {
                biased;
                env = watch.next() => env,
                () = sleep => continue,
            };
            let Some(env) = env else {
                answer.status = "shut_down";
                return answer;
            };
            match &env.event {
                Event::UrlDetected { process: p, url } if p.id == process.id => {
                    answer.status = "met";
                    answer.url = Some(url.url.clone());
                    return answer;
                }
                Event::LogLines { process: p, lines, .. } if p.id == process.id => {
                    if let WaitFor::Line(_, m) = wait
                        && let Some(l) = lines.iter().find(|l| m.is_match(l.plain))
                    {
                        answer.status = "met";
                        answer.line = Some(l.plain.to_string());
                        return answer;
                    }
                }
                Event::ProcessExited { process: p, exit } if p.id == process.id => {
                    answer.exit = Some(Some(*exit));
                    answer.status = if matches!(wait, WaitFor::Exit) { "met" } else { "exited" };
                    return answer;
                }
                Event::SpawnFailed { process: p, .. } if p.id == process.id => {
                    answer.status = "failed_to_start";
                    return answer;
                }
                _ => {}
            }
            if watch.dropped() != seen_drops {
                seen_drops = watch.dropped();
                if check(&mut answer) {
                    return answer;
                }
            }
        }
    }

    fn instance_errors(&self, process: &ProcessRef) -> (Vec<ErrorEntry>, usize) {
        let mut all = Vec::new();
        let mut after = None;
        loop {
            let filter = ErrorFilter { script: Some(process.name.to_string()), kind: None };
            let page = self.session.findings(|f| f.errors(&filter, after, ERRORS_LIMIT_MAX as usize));
            all.extend(page.groups.into_iter().filter(|g| g.instances.contains(process)));
            match page.next {
                Some(n) => after = Some(n),
                None => break,
            }
        }
        let total = all.len();
        all.truncate(RUN_ERRORS_MAX);
        (all, total)
    }

    fn run_output(
        &self,
        process: &ProcessRef,
        already: bool,
        answer: &RunAnswer,
        timeout: Duration,
        waited: Duration,
        dropped: u64,
    ) -> ToolOutput {
        let status = self.session.supervisor.status();
        let info = status.iter().find(|p| p.id == process.id.0);
        let (errors, errors_total) = self.instance_errors(process);
        let state = info.map_or("pending", |p| p.state.name());
        let pid = info.and_then(|p| p.pid);
        let exit = answer.exit.flatten();
        let mut text = match answer.status {
            "started" if already => format!("{process} is already running (pass force: true to start another)"),
            "started" => format!("started {process}; scripts_status and logs_stream show how it goes"),
            "met" => match (&answer.url, &answer.line, exit) {
                (Some(u), _, _) => format!("{process} is up at {u}"),
                (_, Some(l), _) => format!("{process} printed: {l}"),
                (_, _, Some(Exit::Code(0))) => format!("{process} exited with code 0"),
                (_, _, Some(e)) => format!("{process} failed: {}; errors_list and logs_search show why", exit_text(e)),
                _ => format!("{process} ended"),
            },
            "exited" => format!(
                "{process} ended ({}) before {}; errors_list and logs_stream show why",
                exit.map_or_else(|| "no exit status".to_string(), exit_text),
                match answer.condition {
                    "url" => "announcing a URL".to_string(),
                    _ => format!("printing a line matching `{}`", answer.pattern.as_deref().unwrap_or_default()),
                }
            ),
            "failed_to_start" => format!(
                "{process} could not start: {}",
                info.and_then(|p| p.error.clone()).unwrap_or_else(|| "spawn failed".to_string())
            ),
            "shut_down" => format!("brum shut down while waiting for {process}"),
            _ => format!(
                "{process} is still running ({state}) after {} ms without {}; it was not stopped: call again to wait longer, or read logs_stream",
                timeout.as_millis(),
                match answer.condition {
                    "url" => "announcing a URL".to_string(),
                    "exit" => "exiting".to_string(),
                    _ => format!("printing a line matching `{}`", answer.pattern.as_deref().unwrap_or_default()),
                }
            ),
        };
        if errors_total > 0 {
            let _ = write!(text, "\n{errors_total} error(s) so far:");
            for e in &errors {
                let at = e.latest.location.as_ref().map(|l| format!(" at {l}")).unwrap_or_default();
                let _ = write!(text, "\n  [{}] {}{at}", e.latest.kind.name(), e.latest.message);
            }
        }
        let errors_json: Vec<Value> = errors
            .iter()
            .map(|e| {
                json!({
                    "id": e.id.0,
                    "kind": e.latest.kind.name(),
                    "message": e.latest.message,
                    "location": e.latest.location.as_ref().map(location_json),
                    "count": e.count,
                })
            })
            .collect();
        let is_error = answer.status == "failed_to_start" || answer.status == "shut_down";
        ToolOutput {
            structured: json!({
                "script": &*process.name,
                "instance": process.id.0,
                "pid": pid,
                "already_running": already,
                "wait_for": answer.condition,
                "status": answer.status,
                "state": state,
                "url": answer.url,
                "exit": exit_json(exit),
                "line": answer.line,
                "pattern": answer.pattern,
                "waited_ms": waited.as_millis() as u64,
                "errors": errors_json,
                "errors_total": errors_total,
                "events_dropped": dropped,
            }),
            text,
            is_error,
        }
    }

    // ---- scripts_stop

    pub(crate) async fn scripts_stop(&self, args: &Map<String, Value>) -> Result<ToolOutput, CallError> {
        let a = Args::new("scripts_stop", args, &["name"])?;
        let name = a.req_str("name")?;
        let target = match parse_instance(name) {
            Some(id) => Target::Id(id),
            None => Target::Script(name.to_string()),
        };
        match self.session.supervisor.stop(target).await {
            Ok(info) => {
                let text = format!("stopped {}#{}: {}", info.script, info.id, info.state);
                Ok(ToolOutput::ok(json!({"instance": status_json(self, &info)}), text))
            }
            Err(SupervisorError::NotFound { .. }) => match parse_instance(name) {
                Some(id) => Ok(ToolOutput::error(format!("no instance #{id}; scripts_status shows every instance"))),
                None if self.known_names().iter().any(|n| n == name) => {
                    Ok(ToolOutput::error(format!("'{name}' is not running; scripts_status shows what runs")))
                }
                None => Ok(self.unknown_process(name, "script", "scripts_status")),
            },
            Err(e) => Ok(ToolOutput::error(format!("could not stop '{name}': {e}"))),
        }
    }

    // ---- scripts_status

    pub(crate) fn scripts_status(&self, args: &Map<String, Value>) -> Result<ToolOutput, CallError> {
        let a = Args::new("scripts_status", args, &["name", "all_instances"])?;
        let name = a.str("name")?;
        let all = a.bool("all_instances")?.unwrap_or(false);
        let status = self.session.supervisor.status();
        let mut chosen: Vec<&ProcessInfo> = Vec::new();
        for p in status.iter() {
            if name.is_some_and(|n| n != p.script && parse_instance(n) != Some(p.id)) {
                continue;
            }
            if !all && let Some(pos) = chosen.iter().position(|q| q.script == p.script) {
                // The newest instance of each script (status is oldest first).
                chosen[pos] = p;
                continue;
            }
            chosen.push(p);
        }
        if chosen.is_empty() {
            return Ok(match name {
                Some(n) if self.session.catalogue().script(n).is_some() => ToolOutput::ok(
                    json!({"processes": [], "count": 0}),
                    format!("'{n}' has not been started; scripts_run starts it"),
                ),
                Some(n) => self.unknown_process(n, "script", "scripts_list"),
                None => ToolOutput::ok(
                    json!({"processes": [], "count": 0}),
                    "nothing has been started; scripts_run starts a script (scripts_list shows them)".to_string(),
                ),
            });
        }
        let mut text = String::new();
        let items: Vec<Value> = chosen
            .iter()
            .map(|p| {
                let v = status_json(self, p);
                let _ = write!(text, "{}#{} {}", p.script, p.id, p.state);
                if let Some(pid) = p.pid {
                    let _ = write!(text, " pid {pid}");
                }
                if let Some(up) = v["uptime_ms"].as_u64() {
                    let _ = write!(text, " up {}s", up / 1000);
                }
                if p.restarts > 0 {
                    let _ = write!(text, " restarts {}", p.restarts);
                }
                for u in v["urls"].as_array().into_iter().flatten() {
                    let _ = write!(text, " {}", u.as_str().unwrap_or_default());
                }
                if let Some(b) = v["last_build"]["outcome"].as_str() {
                    let _ = write!(text, " build {b}");
                }
                if let Some(f) = v["last_test"]["failed"].as_u64() {
                    let _ = write!(text, " tests failed {f}");
                }
                if let Some(e) = &p.error {
                    let _ = write!(text, " ({e})");
                }
                text.push('\n');
                v
            })
            .collect();
        let n = items.len();
        Ok(ToolOutput::ok(json!({"processes": items, "count": n}), text.trim_end().to_string()))
    }

    // ---- logs_stream

    fn log_filter(&self, a: &Args<'_>) -> Result<Result<Filter, ToolOutput>, CallError> {
        let mut filter = Filter { stream: stream_of(a)?, ..Filter::default() };
        if let Some(p) = a.str("process")? {
            filter.process = Some(match parse_instance(p) {
                Some(id) => ProcessFilter::Id(id),
                None => {
                    if !self.known_names().iter().any(|n| n == p) {
                        return Ok(Err(self.unknown_process(p, "process", "scripts_list")));
                    }
                    ProcessFilter::Name(p.to_string())
                }
            });
        }
        Ok(Ok(filter))
    }

    pub(crate) async fn logs_stream(&self, args: &Map<String, Value>) -> Result<ToolOutput, CallError> {
        let a = Args::new("logs_stream", args, &["process", "stream", "cursor", "limit", "follow", "timeout_ms"])?;
        let limit = a.u64("limit", STREAM_LIMIT_MAX)?.unwrap_or(STREAM_LIMIT_DEFAULT).max(1) as usize;
        let cursor = a.u64("cursor", u64::MAX)?.map(EntryId);
        let follow = a.bool("follow")?.unwrap_or(false);
        let timeout = self.timeout(&a, FOLLOW_TIMEOUT_DEFAULT)?;
        let filter = match self.log_filter(&a)? {
            Ok(f) => f,
            Err(out) => return Ok(out),
        };
        let Some(logs) = self.session.logs.clone() else { return Ok(self.no_logs()) };
        let rt = &self.session.rt;
        let began = rt.now();
        // (entries, more, missed); cursor 0 asks for the oldest kept, so nothing is missed.
        let read = |cursor: Option<EntryId>| match cursor {
            Some(EntryId(0)) => {
                let page = logs.forward(&filter, EntryId(0), limit);
                (page.entries, page.more, 0)
            }
            Some(c) => {
                let page = logs.forward(&filter, c, limit);
                (page.entries, page.more, page.missed)
            }
            None => (logs.tail(&filter, limit), false, 0),
        };
        let (mut entries, mut more, mut missed) = read(cursor);
        let mut timed_out = false;
        // Following with no line yet and no cursor: wait for the first line from now on.
        let cursor = match cursor {
            None if follow && entries.is_empty() => Some(EntryId(logs.stats().next_id)),
            c => c,
        };
        if entries.is_empty() && follow {
            // Subscribed, then re-read: a line stored between the read and the subscription
            // is found by the re-read; one after it wakes the wait.
            let pf = filter.process.clone();
            let stream = filter.stream;
            let keep = move |env: &Envelope| match &env.event {
                Event::LogLines { process, stream: s, .. } => {
                    pf.as_ref().is_none_or(|f| f.matches(process)) && stream.is_none_or(|st| st == *s)
                }
                _ => false,
            };
            let mut watch =
                match Watch::open(&self.session.bus, rt, "logs_stream", KindSet::of(&[EventKind::LogLines]), keep) {
                    Ok(w) => w,
                    Err(_) => return Ok(ToolOutput::error("brum is shutting down; no more lines will come")),
                };
            let deadline = began + timeout;
            let mut announced = false;
            loop {
                (entries, more, missed) = read(cursor);
                if !entries.is_empty() {
                    break;
                }
                let left = deadline.saturating_since(rt.now());
                if left.is_zero() {
                    timed_out = true;
                    break;
                }
                // Once the bus announced a line, the store (another subscriber) has it within
                // a few ticks: re-read on the clock rather than wait for the next line.
                let nap = if announced { left.min(FOLLOW_RECHECK) } else { left };
                let sleep = rt.sleep(nap);
                tokio::select! {
                    biased;
                    env = watch.next() => {
                        if env.is_none() {
                            break;
                        }
                        announced = true;
                    }
                    () = sleep => {}
                }
            }
            watch.close().await;
        }
        let next = entries.last().map(|e| e.id.0 + 1).or(cursor.map(|c| c.0));
        let mut text: String = entries.iter().map(entry_line).collect::<Vec<_>>().join("\n");
        if entries.is_empty() {
            text = if timed_out {
                format!(
                    "no new lines within {} ms; call again with the same cursor to keep following",
                    timeout.as_millis()
                )
            } else {
                "no lines yet".to_string()
            };
        }
        if missed > 0 {
            let from = cursor.map_or(0, |c| c.0);
            text = format!(
                "({missed} lines from cursor {from} on were evicted or cleared before this read: the store keeps the newest log_store_bytes of output; read more often or raise it)\n{text}"
            );
        }
        if let Some(n) = next {
            let _ = write!(text, "\n(next cursor: {n}{})", if more { "; more lines follow" } else { "" });
        }
        Ok(ToolOutput::ok(
            json!({
                "entries": entries.iter().map(entry_json).collect::<Vec<_>>(),
                "next_cursor": next,
                "more": more,
                "timed_out": timed_out,
                "missed": missed,
            }),
            text,
        ))
    }

    // ---- logs_search

    pub(crate) fn logs_search(&self, args: &Map<String, Value>) -> Result<ToolOutput, CallError> {
        let a = Args::new(
            "logs_search",
            args,
            &[
                "query",
                "regex",
                "case_sensitive",
                "process",
                "stream",
                "level",
                "since",
                "before",
                "after",
                "limit",
                "cursor",
            ],
        )?;
        let text_q = a.req_str("query")?;
        let regex = a.bool("regex")?.unwrap_or(false);
        let case_sensitive = a.bool("case_sensitive")?.unwrap_or(false);
        let before = a.u64("before", CONTEXT_LINES_MAX)?.unwrap_or(0) as usize;
        let after = a.u64("after", CONTEXT_LINES_MAX)?.unwrap_or(0) as usize;
        let limit = a.u64("limit", SEARCH_LIMIT_MAX)?.unwrap_or(SEARCH_LIMIT_DEFAULT).max(1) as usize;
        let cursor = a.u64("cursor", u64::MAX)?.map(EntryId);
        let level = match a.choice("level", &["error", "warn", "info", "debug"])? {
            Some(l) => Some(level_of(l).ok_or_else(|| a.invalid("unknown level"))?),
            None => None,
        };
        let since = match a.str("since")? {
            Some(s) => Some(parse_since(s).ok_or_else(|| {
                a.invalid(format!("`since` must be a duration such as 500ms, 30s, 5m or 2h, not `{s}`"))
            })?),
            None => None,
        };
        let mut filter = match self.log_filter(&a)? {
            Ok(f) => f,
            Err(out) => return Ok(out),
        };
        if let Some(l) = level {
            filter.levels = LevelSet::at_least(l);
        }
        if let Some(d) = since {
            let now = self.session.rt.now();
            filter.since = Some(crate::rt::Mono(now.0.saturating_sub(d)));
        }
        let Some(logs) = self.session.logs.clone() else { return Ok(self.no_logs()) };
        let text = if regex {
            TextQuery::Regex(if case_sensitive { text_q.to_string() } else { format!("(?i:{text_q})") })
        } else {
            TextQuery::Substring { text: text_q.to_string(), case_insensitive: !case_sensitive }
        };
        // One snapshot for the page and its context: they agree, and the store's lock is held
        // only to take it.
        let logs = logs.snapshot();
        let page = match logs.search(&Query { text, filter, limit, cursor }) {
            Ok(p) => p,
            Err(e) => {
                return Ok(ToolOutput::error(format!(
                    "{}; fix the pattern (regex syntax of the Rust regex crate) or pass regex: false",
                    error_chain(&e)
                )));
            }
        };
        let mut out = String::new();
        let mut matches = Vec::new();
        for e in &page.entries {
            let own = Filter { process: Some(ProcessFilter::Id(e.process.id.0)), ..Filter::default() };
            let ctx_before: Vec<LogEntry> = if before > 0 {
                let q = Query {
                    text: TextQuery::Substring { text: String::new(), case_insensitive: false },
                    filter: own.clone(),
                    limit: before,
                    cursor: Some(e.id),
                };
                let mut v = logs.search(&q).map(|p| p.entries).unwrap_or_default();
                v.reverse();
                v
            } else {
                Vec::new()
            };
            let ctx_after = if after > 0 { logs.forward(&own, EntryId(e.id.0 + 1), after).0 } else { Vec::new() };
            if before > 0 || after > 0 {
                for c in &ctx_before {
                    let _ = writeln!(out, "  {}", entry_line(c));
                }
                let _ = writeln!(out, "> {}", entry_line(e));
                for c in &ctx_after {
                    let _ = writeln!(out, "  {}", entry_line(c));
                }
                out.push_str("--\n");
            } else {
                let _ = writeln!(out, "{}", entry_line(e));
            }
            let mut m = entry_json(e);
            m["before"] = Value::Array(ctx_before.iter().map(entry_json).collect());
            m["after"] = Value::Array(ctx_after.iter().map(entry_json).collect());
            matches.push(m);
        }
        if matches.is_empty() {
            out = format!("no line matches '{text_q}'; try a shorter query, regex: false, or drop the filters");
        }
        if let Some(n) = page.next_cursor {
            let _ = write!(out, "\n(older matches: pass cursor {})", n.0);
        }
        let n = matches.len();
        Ok(ToolOutput::ok(
            json!({"matches": matches, "count": n, "next_cursor": page.next_cursor.map(|c| c.0)}),
            out.trim_end().to_string(),
        ))
    }

    // ---- errors_list / errors_clear

    pub(crate) fn errors_list(&self, args: &Map<String, Value>) -> Result<ToolOutput, CallError> {
        let a = Args::new("errors_list", args, &["script", "kind", "limit", "cursor"])?;
        let script = a.str("script")?;
        let kind = match a.str("kind")? {
            Some(k) => Some(ErrorKind::ALL.into_iter().find(|x| x.name() == k).ok_or_else(|| {
                let all: Vec<&str> = ErrorKind::ALL.into_iter().map(ErrorKind::name).collect();
                a.invalid(format!("`kind` must be one of {}, not `{k}`", all.join(", ")))
            })?),
            None => None,
        };
        let limit = a.u64("limit", ERRORS_LIMIT_MAX)?.unwrap_or(ERRORS_LIMIT_DEFAULT).max(1) as usize;
        let cursor = a.u64("cursor", u64::MAX)?.map(GroupId);
        if let Some(s) = script
            && !self.known_names().iter().any(|n| n == s)
        {
            return Ok(self.unknown_process(s, "script", "scripts_list"));
        }
        let filter = ErrorFilter { script: script.map(str::to_string), kind };
        let page = self.session.findings(|f| f.errors(&filter, cursor, limit));
        let now = self.session.rt.now();
        let mut text = String::new();
        let groups: Vec<Value> = page
            .groups
            .iter()
            .map(|g| {
                let frame = self.code_frame(g);
                let _ = write!(text, "{}", error_text(g, frame.as_ref()));
                error_json(g, frame.as_ref(), now)
            })
            .collect();
        if groups.is_empty() {
            text = "no errors".to_string();
        }
        if let Some(n) = page.next {
            let _ = write!(text, "\n(more errors: pass cursor {})", n.0);
        }
        let n = groups.len();
        Ok(ToolOutput::ok(
            json!({"errors": groups, "count": n, "next_cursor": page.next.map(|g| g.0)}),
            text.trim_end().to_string(),
        ))
    }

    pub(crate) fn errors_clear(&self, args: &Map<String, Value>) -> Result<ToolOutput, CallError> {
        let a = Args::new("errors_clear", args, &["script"])?;
        let script = a.str("script")?;
        if let Some(s) = script
            && !self.known_names().iter().any(|n| n == s)
        {
            return Ok(self.unknown_process(s, "script", "scripts_list"));
        }
        let cleared = self.session.findings_mut(|f| f.clear_errors(script));
        let whose = script.map(|s| format!(" of '{s}'")).unwrap_or_default();
        Ok(ToolOutput::ok(json!({"cleared": cleared}), format!("cleared {cleared} error group(s){whose}")))
    }

    /// The code around `g`'s location (or its first own stack frame), when the file is inside
    /// the project and readable through the source reader.
    pub(crate) fn code_frame(&self, g: &ErrorEntry) -> Option<CodeFrame> {
        let (fs, root) = self.source.as_ref()?;
        let loc = g
            .latest
            .location
            .as_ref()
            .filter(|l| l.line.is_some())
            .or_else(|| g.latest.frames.iter().find(|f| f.own && f.location.line.is_some()).map(|f| &f.location))?;
        // Tools print paths relative to where they run: the project root, or the script's own
        // directory (a workspace package's `src/a.ts`).
        code_frame(&**fs, root, root, loc).or_else(|| {
            let script = g.instances.last()?;
            let cwd = self.session.catalogue().script(&script.name)?.cwd.clone();
            let cwd = if cwd.is_absolute() { cwd } else { root.join(cwd) };
            (cwd != *root).then(|| code_frame(&**fs, root, &cwd, loc)).flatten()
        })
    }

    // ---- urls_list

    pub(crate) fn urls_list(&self, args: &Map<String, Value>) -> Result<ToolOutput, CallError> {
        let a = Args::new("urls_list", args, &["script"])?;
        let script = a.str("script")?;
        if let Some(s) = script
            && !self.known_names().iter().any(|n| n == s)
        {
            return Ok(self.unknown_process(s, "script", "scripts_list"));
        }
        let urls = self.session.findings(|f| f.urls(script));
        let mut text = String::new();
        let items: Vec<Value> = urls
            .iter()
            .map(|u| {
                let _ = writeln!(text, "{} {}", u.process, u.url.browse);
                json!({
                    "url": u.url.url,
                    "browse": u.url.browse,
                    "process": &*u.process.name,
                    "instance": u.process.id.0,
                    "seen_ms": u.seen.as_millis() as u64,
                })
            })
            .collect();
        if items.is_empty() {
            text = "no URLs: no running script has announced one (scripts_run with wait_for: \"url\" waits for one)"
                .to_string();
        }
        let n = items.len();
        Ok(ToolOutput::ok(json!({"urls": items, "count": n}), text.trim_end().to_string()))
    }

    // ---- about

    pub(crate) fn about(&self, args: &Map<String, Value>) -> Result<ToolOutput, CallError> {
        Args::new("about", args, &[])?;
        let s = &self.session;
        let m = s.rt.metrics();
        let bus_stats = s.bus.stats();
        let queued: usize = bus_stats.iter().map(|(_, st)| st.queued).sum();
        let dropped: u64 = bus_stats.iter().map(|(_, st)| st.dropped_total()).sum();
        let subscribers: Vec<Value> = bus_stats
            .iter()
            .map(|(_, st)| json!({"name": st.name, "queued": st.queued, "delivered": st.delivered, "dropped": st.dropped_total(), "panics": st.panics}))
            .collect();
        let logs = s.logs.as_ref().map(|l| {
            let st = l.stats();
            json!({
                "entries": st.entries,
                "held_bytes": st.held_bytes,
                "budget_bytes": st.budget_bytes,
                "appended": st.appended,
                "evicted_entries": st.evicted_entries,
                "truncated_lines": st.truncated_lines,
            })
        });
        let fstats = s.findings(|f| (f.group_count(), f.stats()));
        let status = s.supervisor.status();
        let running = status.iter().filter(|p| !p.state.is_terminal()).count();
        let tasks = m.gauge_total("tasks.live");
        let waits = m.gauge_total("mcp.waits_live");
        let wait_dropped = m.counter("mcp.wait_events_dropped", "").get();
        let changes_dropped = m.counter("mcp.changes_dropped", "").get();
        let refused: Map<String, Value> = super::HTTP_REFUSAL_REASONS
            .iter()
            .map(|r| (r.to_string(), json!(m.counter(super::HTTP_REFUSED, r).get())))
            .collect();
        let info = &self.info;
        let structured = json!({
            "version": info.version,
            "project": info.project,
            "mcp_url": info.mcp_url,
            "proxy_url": info.proxy_url,
            "scripts": s.catalogue().scripts().count(),
            "processes_running": running,
            "health": {
                "tasks_live": tasks,
                "bus": {
                    "published": s.bus.published(),
                    "subscribers": bus_stats.len(),
                    "queued": queued,
                    "dropped": dropped,
                    "by_subscriber": subscribers,
                },
                "logs": logs,
                "findings": {
                    "error_groups": fstats.0,
                    "groups_evicted": fstats.1.groups_evicted,
                    "urls_evicted": fstats.1.urls_evicted,
                },
                "mcp": {
                    "waits_live": waits,
                    "wait_events_dropped": wait_dropped,
                    "changes_dropped": changes_dropped,
                    "http_refused": refused,
                },
            },
        });
        let mut text = format!("brum {} serving {}", info.version, info.project);
        if let Some(u) = &info.mcp_url {
            let _ = write!(text, "\nmcp: {u}");
        }
        if let Some(u) = &info.proxy_url {
            let _ = write!(text, "\nproxy: {u}");
        }
        let _ = write!(
            text,
            "\n{running} running; tasks {tasks}; bus: {} published, {} subscribers, {queued} queued, {dropped} dropped",
            s.bus.published(),
            bus_stats.len()
        );
        if let Some(l) = s.logs.as_ref() {
            let st = l.stats();
            let _ = write!(
                text,
                "\nlogs: {} lines, {} of {} bytes, {} evicted",
                st.entries, st.held_bytes, st.budget_bytes, st.evicted_entries
            );
        }
        let _ = write!(text, "\nmcp: {waits} waits live, {wait_dropped} wait events dropped");
        Ok(ToolOutput::ok(structured, text))
    }
}

/// The outcome of a wait.
#[derive(Debug, Clone)]
pub(crate) struct RunAnswer {
    condition: &'static str,
    pattern: Option<String>,
    /// `started` (no wait), `met`, `timed_out`, `exited` (ended before the condition),
    /// `failed_to_start`, `shut_down`.
    status: &'static str,
    url: Option<String>,
    /// `Some(None)`: ended without an exit status.
    exit: Option<Option<Exit>>,
    line: Option<String>,
}

fn status_json<R: Runtime>(tools: &Tools<R>, p: &ProcessInfo) -> Value {
    let s = &tools.session;
    let now = tools.now_ms();
    let uptime = if p.state.is_terminal() {
        p.ended_ms.map(|e| e.saturating_sub(p.started_ms))
    } else {
        Some(now.saturating_sub(p.started_ms))
    };
    let urls: Vec<String> = s
        .findings(|f| f.urls(Some(&p.script)))
        .into_iter()
        .filter(|u| u.process.id == p.id)
        .map(|u| u.url.browse.clone())
        .collect();
    let build = s.findings(|f| {
        f.builds().find(|b| *b.process.name == *p.script).map(|b| {
            json!({"outcome": b.value.outcome.name(), "tool": b.value.tool.name(), "instance": b.process.id.0, "seen_ms": b.seen.as_millis() as u64})
        })
    });
    let test = s.findings(|f| {
        f.tests().find(|t| *t.process.name == *p.script).map(|t| {
            json!({
                "passed": t.value.passed,
                "failed": t.value.failed,
                "skipped": t.value.skipped,
                "total": t.value.total,
                "failures": t.value.failures.iter().take(10).map(|f| json!({"name": f.name, "location": f.location.as_ref().map(location_json), "message": f.message})).collect::<Vec<_>>(),
                "instance": t.process.id.0,
            })
        })
    });
    json!({
        "script": p.script,
        "instance": p.id,
        "state": p.state.name(),
        "pid": p.pid,
        "exit": exit_json(state_exit(p.state)),
        "uptime_ms": uptime,
        "restarts": p.restarts,
        "restart_scheduled": p.restart_scheduled,
        "error": p.error,
        "urls": urls,
        "last_build": build,
        "last_test": test,
    })
}

/// Lines of a source file around a location.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CodeFrame {
    /// As the error printed it.
    pub file: String,
    pub line: u32,
    pub column: Option<u32>,
    /// (line number, text), consecutive.
    pub lines: Vec<(u32, String)>,
}

/// The frame of `loc` (a relative path taken from `base`), if its file resolves inside `root`
/// (symlinks resolved through `fs`) and is small enough to read.
pub fn code_frame(
    fs: &(dyn crate::discovery::ProjectFs + Send + Sync),
    root: &Path,
    base: &Path,
    loc: &Location,
) -> Option<CodeFrame> {
    let line = loc.line.filter(|l| *l > 0)?;
    let raw = PathBuf::from(&loc.file);
    let path = if raw.is_absolute() { raw } else { base.join(raw) };
    let root_real = fs.canonicalize(root).ok()?;
    let real = fs.canonicalize(&path).ok()?;
    if !real.starts_with(&root_real) {
        return None;
    }
    let text = fs.read_to_string(&real).ok()?;
    if text.len() > CODE_FRAME_FILE_BYTES_MAX {
        return None;
    }
    let first = line.saturating_sub(CODE_FRAME_CONTEXT).max(1);
    let last = line.saturating_add(CODE_FRAME_CONTEXT);
    let lines: Vec<(u32, String)> = text
        .lines()
        .enumerate()
        .map(|(i, l)| (i as u32 + 1, l))
        .filter(|(n, _)| (first..=last).contains(n))
        .map(|(n, l)| (n, l.chars().take(CODE_FRAME_LINE_CHARS_MAX).collect()))
        .collect();
    if !lines.iter().any(|(n, _)| *n == line) {
        return None;
    }
    Some(CodeFrame { file: loc.file.clone(), line, column: loc.column, lines })
}

fn code_frame_json(f: &CodeFrame) -> Value {
    json!({
        "file": f.file,
        "line": f.line,
        "column": f.column,
        "lines": f.lines.iter().map(|(n, t)| json!({"line": n, "text": t})).collect::<Vec<_>>(),
    })
}

fn code_frame_text(f: &CodeFrame) -> String {
    let width = f.lines.last().map_or(1, |(n, _)| n.to_string().len());
    let mut s = String::new();
    for (n, t) in &f.lines {
        let mark = if *n == f.line { '>' } else { ' ' };
        let _ = writeln!(s, "  {mark} {n:>width$} | {t}");
        if *n == f.line
            && let Some(c) = f.column.filter(|c| *c > 0)
        {
            let _ = writeln!(s, "    {:>width$} | {}^", "", " ".repeat(c as usize - 1));
        }
    }
    s
}

fn error_json(g: &ErrorEntry, frame: Option<&CodeFrame>, now: crate::rt::Mono) -> Value {
    let e = &g.latest;
    json!({
        "id": g.id.0,
        "kind": e.kind.name(),
        "message": e.message,
        "location": e.location.as_ref().map(location_json),
        "stream": e.stream.name(),
        "frames": e.frames.iter().take(FRAMES_MAX).map(|f| json!({
            "file": f.location.file,
            "line": f.location.line,
            "column": f.location.column,
            "function": f.function,
            "own": f.own,
        })).collect::<Vec<_>>(),
        "frames_total": e.frames.len(),
        "lines": e.lines,
        "count": g.count,
        "first_seen_ms": g.first_seen.as_millis() as u64,
        "last_seen_ms": g.last_seen.as_millis() as u64,
        "last_seen_ago_ms": now.saturating_since(g.last_seen).as_millis() as u64,
        "processes": g.instances.iter().map(|p| p.to_string()).collect::<Vec<_>>(),
        "script": g.instances.last().map(|p| p.name.to_string()),
        "code_frame": frame.map(code_frame_json),
    })
}

fn error_text(g: &ErrorEntry, frame: Option<&CodeFrame>) -> String {
    let e = &g.latest;
    let mut s = format!("#{} [{}] {}", g.id.0, e.kind.name(), e.message);
    if let Some(l) = &e.location {
        let _ = write!(s, "\n  --> {l}");
    }
    let procs: Vec<String> = g.instances.iter().map(|p| p.to_string()).collect();
    let _ = writeln!(s, "\n  seen {} time(s) in {}", g.count, procs.join(", "));
    if let Some(f) = frame {
        s.push_str(&code_frame_text(f));
    }
    for f in e.frames.iter().take(5) {
        let func = f.function.as_deref().map(|x| format!("{x} ")).unwrap_or_default();
        let _ = writeln!(s, "    at {func}{}", f.location);
    }
    if e.frames.len() > 5 {
        let _ = writeln!(s, "    ... {} more frames", e.frames.len() - 5);
    }
    s
}
