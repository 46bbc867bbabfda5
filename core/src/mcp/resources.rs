//! Resources (`brum://logs/{process}`, `brum://errors`, `brum://urls`), the two prompts, and
//! the change feed the adapter turns into `notifications/resources/updated`,
//! `notifications/resources/list_changed` and `notifications/tools/list_changed`.

use std::collections::BTreeSet;
use std::fmt::Write as _;
use std::sync::{Arc, Mutex, MutexGuard};

use serde_json::{Map, Value};
use tokio::sync::Notify;

use super::Tools;
use super::tools::entry_line;
use crate::bus::{Backpressure, Closed, Event, EventBus, EventKind, KindSet, SubscribeOptions, SubscriptionId};
use crate::logs::{Filter, ProcessFilter};
use crate::metrics::Counter;
use crate::process::Stream;
use crate::rt::Runtime;

/// Distinct changes a feed holds before its reader takes them; more are dropped and counted
/// (`mcp.changes_dropped`). Changes coalesce (a thousand lines of `dev` are one
/// `brum://logs/dev` update), so only a reader stalled across hundreds of scripts reaches it.
pub const CHANGES_PENDING_MAX: usize = 256;

/// Lines a `brum://logs/{process}` read returns (the newest).
pub const RESOURCE_LOG_LINES: usize = 200;

/// Lines of a failing script's output the `diagnose` prompt quotes.
const PROMPT_LOG_LINES: usize = 60;

/// A concrete resource, as `resources/list` shows it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ResourceSpec {
    pub uri: String,
    pub name: String,
    pub title: String,
    pub description: String,
    pub mime_type: &'static str,
}

/// A resource template, as `resources/templates/list` shows it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ResourceTemplateSpec {
    pub uri_template: &'static str,
    pub name: &'static str,
    pub title: &'static str,
    pub description: &'static str,
    pub mime_type: &'static str,
}

/// A resource's contents.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ResourceContent {
    pub uri: String,
    pub mime_type: &'static str,
    pub text: String,
}

/// A resource or prompt that does not exist, or a prompt argument that is wrong.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ResourceError {
    #[error("no resource `{uri}`: {hint}")]
    NotFound { uri: String, hint: String },
    #[error("no prompt `{name}`; prompts: diagnose, summarize_servers")]
    UnknownPrompt { name: String },
    #[error("prompt `{prompt}`: {message}")]
    InvalidArgument { prompt: String, message: String },
}

/// A prompt's argument.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PromptArgument {
    pub name: &'static str,
    pub description: &'static str,
    pub required: bool,
}

/// A prompt, as `prompts/list` shows it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PromptSpec {
    pub name: &'static str,
    pub title: &'static str,
    pub description: &'static str,
    pub arguments: Vec<PromptArgument>,
}

/// Something a client may want to re-read.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
pub enum Change {
    /// The tool list changed (`scripts_run`'s schema lists the scripts).
    ToolsListChanged,
    /// Resources were added or removed (a script appeared or went).
    ResourcesListChanged,
    /// This resource's contents changed.
    ResourceUpdated(String),
}

struct Pending {
    set: Mutex<BTreeSet<Change>>,
    notify: Notify,
    dropped: Counter,
}

fn lock(m: &Mutex<BTreeSet<Change>>) -> MutexGuard<'_, BTreeSet<Change>> {
    // Only inserts and a take run under this lock.
    m.lock().unwrap_or_else(|e| e.into_inner())
}

/// A change feed (see [`Tools::changes`]). Unsubscribes when dropped.
pub struct Changes<R: Runtime> {
    bus: EventBus<R>,
    id: SubscriptionId,
    pending: Arc<Pending>,
}

impl<R: Runtime> std::fmt::Debug for Changes<R> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Changes").field("id", &self.id).finish_non_exhaustive()
    }
}

impl<R: Runtime> Changes<R> {
    /// Waits for changes and takes every one pending, in a fixed order (tool list, resource
    /// list, then updates by URI). Cancel-safe.
    pub async fn next(&mut self) -> Vec<Change> {
        loop {
            let taken = std::mem::take(&mut *lock(&self.pending.set));
            if !taken.is_empty() {
                return taken.into_iter().collect();
            }
            self.pending.notify.notified().await;
        }
    }

    /// Changes dropped because the feed was full.
    pub fn dropped(&self) -> u64 {
        self.pending.dropped.get()
    }
}

impl<R: Runtime> Drop for Changes<R> {
    fn drop(&mut self) {
        self.bus.unsubscribe_now(self.id);
    }
}

pub(crate) fn logs_uri(process: &str) -> String {
    let mut s = String::from("brum://logs/");
    for b in process.bytes() {
        if b.is_ascii_alphanumeric() || b"-_.:@+".contains(&b) {
            s.push(b as char);
        } else {
            let _ = write!(s, "%{b:02X}");
        }
    }
    s
}

fn percent_decode(s: &str) -> Option<String> {
    let bytes = s.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i] == b'%' {
            let hex = s.get(i + 1..i + 3)?;
            out.push(u8::from_str_radix(hex, 16).ok()?);
            i += 3;
        } else {
            out.push(bytes[i]);
            i += 1;
        }
    }
    String::from_utf8(out).ok()
}

impl<R: Runtime> Tools<R> {
    /// A feed of changes to resources and the tool list, for one client session; bounded and
    /// coalescing (see [`CHANGES_PENDING_MAX`]). Dropping it unsubscribes.
    pub fn changes(&self) -> Result<Changes<R>, Closed> {
        let pending = Arc::new(Pending {
            set: Mutex::new(BTreeSet::new()),
            notify: Notify::new(),
            dropped: self.session.rt.metrics().counter("mcp.changes_dropped", ""),
        });
        let p = pending.clone();
        let kinds = KindSet::of(&[
            EventKind::ScriptsChanged,
            EventKind::ProcessStarted,
            EventKind::LogLines,
            EventKind::ErrorDetected,
            EventKind::UrlDetected,
            EventKind::ProcessExited,
            EventKind::SpawnFailed,
        ]);
        let id = self.session.bus.subscribe(
            SubscribeOptions::named("mcp.changes")
                .capacity(super::WAIT_MAILBOX)
                .backpressure(Backpressure::Degrade)
                .kinds(kinds),
            move |env| {
                let changes: Vec<Change> = match &env.event {
                    Event::ScriptsChanged { .. } => vec![
                        Change::ToolsListChanged,
                        Change::ResourcesListChanged,
                        Change::ResourceUpdated("brum://scripts".into()),
                    ],
                    Event::ProcessStarted { .. } => vec![Change::ResourceUpdated("brum://processes".into())],
                    Event::LogLines { process, .. } => vec![Change::ResourceUpdated(logs_uri(&process.name))],
                    Event::ErrorDetected { .. } => vec![Change::ResourceUpdated("brum://errors".into())],
                    Event::UrlDetected { .. } => vec![Change::ResourceUpdated("brum://urls".into())],
                    // An end changes the process list and takes the instance's URLs away.
                    Event::ProcessExited { .. } | Event::SpawnFailed { .. } => vec![
                        Change::ResourceUpdated("brum://processes".into()),
                        Change::ResourceUpdated("brum://urls".into()),
                    ],
                    _ => Vec::new(),
                };
                let mut added = false;
                {
                    let mut set = lock(&p.set);
                    for c in changes {
                        if set.contains(&c) {
                            continue;
                        }
                        if set.len() >= CHANGES_PENDING_MAX {
                            p.dropped.inc();
                            continue;
                        }
                        set.insert(c);
                        added = true;
                    }
                }
                if added {
                    p.notify.notify_one();
                }
            },
        )?;
        Ok(Changes { bus: self.session.bus.clone(), id, pending })
    }

    /// Every concrete resource: errors, URLs, and the logs of each known script.
    pub fn resources(&self) -> Vec<ResourceSpec> {
        let mut out = vec![
            ResourceSpec {
                uri: "brum://errors".into(),
                name: "errors".into(),
                title: "Errors".into(),
                description: "Errors brum detected, grouped, with their locations and code frames".into(),
                mime_type: "text/plain",
            },
            ResourceSpec {
                uri: "brum://urls".into(),
                name: "urls".into(),
                title: "URLs".into(),
                description: "URLs the running scripts announced".into(),
                mime_type: "text/plain",
            },
            ResourceSpec {
                uri: "brum://scripts".into(),
                name: "scripts".into(),
                title: "Scripts".into(),
                description: "The project's scripts, their commands and whether they run".into(),
                mime_type: "text/plain",
            },
            ResourceSpec {
                uri: "brum://processes".into(),
                name: "processes".into(),
                title: "Processes".into(),
                description: "Every instance brum started: state, pid, uptime, exit, URLs".into(),
                mime_type: "text/plain",
            },
        ];
        for name in self.known_names() {
            out.push(ResourceSpec {
                uri: logs_uri(&name),
                name: format!("logs/{name}"),
                title: format!("Logs of {name}"),
                description: format!("The newest {RESOURCE_LOG_LINES} log lines of '{name}'"),
                mime_type: "text/plain",
            });
        }
        out
    }

    pub fn resource_templates(&self) -> Vec<ResourceTemplateSpec> {
        vec![ResourceTemplateSpec {
            uri_template: "brum://logs/{process}",
            name: "logs",
            title: "Logs of a process",
            description: "The newest log lines of a script (`dev`) or an instance (`dev#3`)",
            mime_type: "text/plain",
        }]
    }

    /// Reads a resource.
    pub fn read_resource(&self, uri: &str) -> Result<ResourceContent, ResourceError> {
        let empty = Map::new();
        let text = match uri {
            "brum://errors" => self.errors_list(&empty).map(|o| o.text).unwrap_or_default(),
            "brum://urls" => self.urls_list(&empty).map(|o| o.text).unwrap_or_default(),
            "brum://scripts" => self.scripts_list(&empty).map(|o| o.text).unwrap_or_default(),
            "brum://processes" => {
                let mut all = Map::new();
                all.insert("all_instances".into(), Value::Bool(true));
                self.scripts_status(&all).map(|o| o.text).unwrap_or_default()
            }
            _ => {
                let Some(rest) = uri.strip_prefix("brum://logs/") else {
                    return Err(ResourceError::NotFound {
                        uri: uri.to_string(),
                        hint: "resources are brum://errors, brum://urls, brum://scripts, brum://processes and brum://logs/{process}"
                            .into(),
                    });
                };
                let name = percent_decode(rest).filter(|n| !n.is_empty()).ok_or_else(|| ResourceError::NotFound {
                    uri: uri.to_string(),
                    hint: "name a process: brum://logs/dev or brum://logs/dev%233".into(),
                })?;
                let filter = match name.rsplit_once('#').and_then(|(_, n)| n.parse::<u64>().ok()) {
                    Some(id) => ProcessFilter::Id(id),
                    None => {
                        if !self.known_names().contains(&name) {
                            let hint = self.unknown_process_text(&name);
                            return Err(ResourceError::NotFound { uri: uri.to_string(), hint });
                        }
                        ProcessFilter::Name(name.clone())
                    }
                };
                let Some(logs) = self.session.logs.as_ref() else {
                    return Err(ResourceError::NotFound {
                        uri: uri.to_string(),
                        hint: "this brum session keeps no logs".into(),
                    });
                };
                let lines = logs.tail(&Filter { process: Some(filter), ..Filter::default() }, RESOURCE_LOG_LINES);
                lines.iter().map(entry_line).collect::<Vec<_>>().join("\n")
            }
        };
        Ok(ResourceContent { uri: uri.to_string(), mime_type: "text/plain", text })
    }

    pub fn prompts(&self) -> Vec<PromptSpec> {
        vec![
            PromptSpec {
                name: "diagnose",
                title: "Diagnose a failing script",
                description: "What brum saw of a failing script (state, errors with code, recent output), and how to fix and verify it",
                arguments: vec![PromptArgument {
                    name: "script",
                    description: "The script to diagnose; by default the one that failed most recently",
                    required: false,
                }],
            },
            PromptSpec {
                name: "summarize_servers",
                title: "Summarise the dev servers",
                description: "What every running script is doing: state, URLs, builds, tests, errors, recent output",
                arguments: Vec::new(),
            },
        ]
    }

    /// A prompt's description and its one user message.
    pub fn get_prompt(&self, name: &str, args: &Map<String, Value>) -> Result<(String, String), ResourceError> {
        match name {
            "diagnose" => self.diagnose_prompt(args),
            "summarize_servers" => Ok(self.summarize_prompt()),
            other => Err(ResourceError::UnknownPrompt { name: other.to_string() }),
        }
    }

    fn diagnose_prompt(&self, args: &Map<String, Value>) -> Result<(String, String), ResourceError> {
        let invalid = |m: String| ResourceError::InvalidArgument { prompt: "diagnose".into(), message: m };
        let status = self.session.supervisor.status();
        let script = match args.get("script") {
            Some(Value::String(s)) => s.clone(),
            Some(Value::Null) | None => match status
                .iter()
                .rev()
                .find(|p| matches!(p.state, crate::supervisor::ProcState::Failed { .. }))
                .or_else(|| status.last())
            {
                Some(p) => p.script.clone(),
                None => {
                    return Err(invalid("nothing has run yet; pass `script`, or start one with scripts_run".into()));
                }
            },
            Some(_) => return Err(invalid("`script` must be a string".into())),
        };
        if !self.known_names().contains(&script) {
            return Err(invalid(self.unknown_process_text(&script)));
        }
        let mut one = Map::new();
        one.insert("name".into(), Value::String(script.clone()));
        let state = self.scripts_status(&one).map(|o| o.text).unwrap_or_default();
        let mut by_script = Map::new();
        by_script.insert("script".into(), Value::String(script.clone()));
        let errors = self.errors_list(&by_script).map(|o| o.text).unwrap_or_default();
        let recent = self.session.logs.as_ref().map_or_else(
            || "(no logs kept)".to_string(),
            |l| {
                let f = Filter { process: Some(ProcessFilter::Name(script.clone())), ..Filter::default() };
                l.tail(&f, PROMPT_LOG_LINES).iter().map(entry_line).collect::<Vec<_>>().join("\n")
            },
        );
        let stderr_note = if recent.contains("]! ") { " (lines marked ! are stderr)" } else { "" };
        let text = format!(
            "The script '{script}' of this project is failing. Diagnose it.\n\n\
             State:\n{state}\n\nErrors brum detected:\n{errors}\n\n\
             Its latest output{stderr_note}:\n{recent}\n\n\
             Find the root cause (read the files the errors point at), fix it, then verify: call \
             scripts_restart with name '{script}' and wait_for \"url\" (a server) or \"exit\" (a build or \
             test), and check errors_list is empty. Use logs_search to look further back."
        );
        Ok((format!("Diagnose '{script}'"), text))
    }

    fn summarize_prompt(&self) -> (String, String) {
        let empty = Map::new();
        let status = self.scripts_status(&empty).map(|o| o.text).unwrap_or_default();
        let urls = self.urls_list(&empty).map(|o| o.text).unwrap_or_default();
        let errors = self.errors_list(&empty).map(|o| o.text).unwrap_or_default();
        let mut recent = String::new();
        if let Some(l) = self.session.logs.as_ref() {
            for p in self.session.supervisor.status().iter().filter(|p| !p.state.is_terminal()) {
                let f = Filter { process: Some(ProcessFilter::Id(p.id)), ..Filter::default() };
                let _ = writeln!(recent, "{}#{}:", p.script, p.id);
                for e in l.tail(&f, 10) {
                    let _ = writeln!(recent, "  {}", entry_line(&e));
                }
                let errs = Filter { stream: Some(Stream::Stderr), ..f };
                let n = l.tail(&errs, 1000).len();
                let _ = writeln!(recent, "  ({n} stderr lines retained)");
            }
        }
        let text = format!(
            "Summarise what this project's dev servers and scripts are doing, in a few lines per \
             script: is it up, where (URL), did its last build and tests pass, what errors are open, \
             and anything unusual in its output.\n\nStatus:\n{status}\n\nURLs:\n{urls}\n\nErrors:\n{errors}\n\n\
             Recent output of the running scripts:\n{recent}"
        );
        ("Summary of the running scripts".to_string(), text)
    }
}
