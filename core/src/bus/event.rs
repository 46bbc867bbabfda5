//! The typed events that flow through the [`EventBus`](super::EventBus).

use std::fmt;
use std::sync::Arc;
use std::time::SystemTime;

use crate::detect::{Build, Detection, ErrorGroup, TestSummary, Url};
use crate::lines::LineBatch;
use crate::rt::{Exit, Mono};

/// An event's id: from the bus's counter, unique and increasing in publish order per bus.
/// Never derived from a clock (two publishes in one tick must not collide: race S-E7).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct EventId(pub u64);

impl fmt::Display for EventId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "e{}", self.0)
    }
}

pub use crate::process::{InstanceId, Location, ProcessRef, Stream};

/// Every event brum publishes. Payloads are immutable once published: subscribers share one
/// `Arc<Envelope>` (race S-E8 cannot happen). They carry brum's own types, and serialize as
/// one JSON object each (`brum run --json`, MCP): the `type` tag, the process and instance
/// where there is one, then the payload's fields (see docs/events.md).
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum Event {
    #[serde(rename = "started")]
    ProcessStarted {
        #[serde(flatten)]
        process: ProcessRef,
        pid: u32,
    },
    /// The instance could not be started (no such program, no such working directory, ...).
    SpawnFailed {
        #[serde(flatten)]
        process: ProcessRef,
        error: Arc<str>,
    },
    /// Lines one read of one stream completed, in order (see [`crate::lines`]). Each line has
    /// its own sequence number ([`Envelope::seq`]); JSON prints one `log` object per line.
    #[serde(rename = "log")]
    LogLines {
        #[serde(flatten)]
        process: ProcessRef,
        stream: Stream,
        lines: Arc<LineBatch>,
    },
    #[serde(rename = "exited")]
    ProcessExited {
        #[serde(flatten)]
        process: ProcessRef,
        #[serde(flatten)]
        exit: Exit,
    },
    /// An error group, with its lines and (when parsed) its stack.
    #[serde(rename = "error")]
    ErrorDetected {
        #[serde(flatten)]
        process: ProcessRef,
        #[serde(flatten)]
        error: Arc<ErrorGroup>,
    },
    /// A URL the process announced (once per instance).
    #[serde(rename = "url")]
    UrlDetected {
        #[serde(flatten)]
        process: ProcessRef,
        #[serde(flatten)]
        url: Arc<Url>,
    },
    #[serde(rename = "build")]
    BuildEvent {
        #[serde(flatten)]
        process: ProcessRef,
        #[serde(flatten)]
        build: Build,
    },
    /// A test run's closing summary.
    #[serde(rename = "test")]
    TestResult {
        #[serde(flatten)]
        process: ProcessRef,
        #[serde(flatten)]
        summary: Arc<TestSummary>,
    },
    /// The script catalogue changed (a manifest or `.brum.toml` was edited): script names
    /// added, removed, and changed (another command, directory, environment or policy).
    ScriptsChanged { added: Vec<String>, removed: Vec<String>, changed: Vec<String> },
    #[serde(rename = "request")]
    ProxyRequest { method: Arc<str>, url: Arc<str>, status: u16 },
    #[serde(rename = "mcp")]
    McpActivity { session: Arc<str>, method: Arc<str> },
}

impl Event {
    /// A batch of one line.
    pub fn log_line(process: ProcessRef, stream: Stream, text: &str) -> Event {
        Event::LogLines { process, stream, lines: Arc::new(LineBatch::one(text)) }
    }

    /// Sequence numbers the event takes: one per line of a batch (at least one), one for any
    /// other event.
    pub fn width(&self) -> u64 {
        match self {
            Event::LogLines { lines, .. } => lines.len().max(1) as u64,
            _ => 1,
        }
    }

    /// The event for what detection found in `process`'s output.
    pub fn detected(process: ProcessRef, d: Detection) -> Event {
        match d {
            Detection::Error(g) => Event::ErrorDetected { process, error: Arc::new(g) },
            Detection::Url(u) => Event::UrlDetected { process, url: Arc::new(u) },
            Detection::Build(build) => Event::BuildEvent { process, build },
            Detection::Test(t) => Event::TestResult { process, summary: Arc::new(t) },
        }
    }
}

/// How much an event matters when a mailbox is full. Only `degrade` backpressure looks at it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Priority {
    /// Log lines and activity pings: the first to go under pressure.
    Low,
    /// Detections, build and proxy events.
    Normal,
    /// Process lifecycle and errors: never dropped by `degrade`.
    Lifecycle,
}

/// The kind of an event without its payload, for filters and traces.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum EventKind {
    ProcessStarted,
    LogLines,
    ProcessExited,
    ErrorDetected,
    UrlDetected,
    BuildEvent,
    TestResult,
    ProxyRequest,
    McpActivity,
    SpawnFailed,
    ScriptsChanged,
}

impl EventKind {
    pub const ALL: [EventKind; 11] = [
        EventKind::ProcessStarted,
        EventKind::LogLines,
        EventKind::ProcessExited,
        EventKind::ErrorDetected,
        EventKind::UrlDetected,
        EventKind::BuildEvent,
        EventKind::TestResult,
        EventKind::ProxyRequest,
        EventKind::McpActivity,
        EventKind::SpawnFailed,
        EventKind::ScriptsChanged,
    ];

    pub fn name(self) -> &'static str {
        match self {
            EventKind::ProcessStarted => "started",
            EventKind::LogLines => "log",
            EventKind::ProcessExited => "exited",
            EventKind::ErrorDetected => "error",
            EventKind::UrlDetected => "url",
            EventKind::BuildEvent => "build",
            EventKind::TestResult => "test",
            EventKind::ProxyRequest => "request",
            EventKind::McpActivity => "mcp",
            EventKind::SpawnFailed => "spawn_failed",
            EventKind::ScriptsChanged => "scripts_changed",
        }
    }

    fn bit(self) -> u32 {
        1 << (self as u32)
    }
}

/// A set of event kinds a subscriber wants.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct KindSet(u32);

impl KindSet {
    pub const ALL: KindSet = KindSet(u32::MAX);

    pub fn of(kinds: &[EventKind]) -> Self {
        KindSet(kinds.iter().fold(0, |acc, k| acc | k.bit()))
    }

    pub fn contains(self, k: EventKind) -> bool {
        self.0 & k.bit() != 0
    }
}

impl Event {
    pub fn kind(&self) -> EventKind {
        match self {
            Event::ProcessStarted { .. } => EventKind::ProcessStarted,
            Event::LogLines { .. } => EventKind::LogLines,
            Event::ProcessExited { .. } => EventKind::ProcessExited,
            Event::ErrorDetected { .. } => EventKind::ErrorDetected,
            Event::UrlDetected { .. } => EventKind::UrlDetected,
            Event::BuildEvent { .. } => EventKind::BuildEvent,
            Event::TestResult { .. } => EventKind::TestResult,
            Event::ProxyRequest { .. } => EventKind::ProxyRequest,
            Event::McpActivity { .. } => EventKind::McpActivity,
            Event::SpawnFailed { .. } => EventKind::SpawnFailed,
            Event::ScriptsChanged { .. } => EventKind::ScriptsChanged,
        }
    }

    pub fn priority(&self) -> Priority {
        match self {
            Event::LogLines { .. } | Event::McpActivity { .. } => Priority::Low,
            Event::UrlDetected { .. }
            | Event::BuildEvent { .. }
            | Event::TestResult { .. }
            | Event::ProxyRequest { .. } => Priority::Normal,
            Event::ProcessStarted { .. }
            | Event::SpawnFailed { .. }
            | Event::ScriptsChanged { .. }
            | Event::ProcessExited { .. }
            | Event::ErrorDetected { .. } => Priority::Lifecycle,
        }
    }

    /// The process this event is about, if any.
    pub fn process(&self) -> Option<&ProcessRef> {
        match self {
            Event::ProcessStarted { process, .. }
            | Event::SpawnFailed { process, .. }
            | Event::LogLines { process, .. }
            | Event::ProcessExited { process, .. }
            | Event::ErrorDetected { process, .. }
            | Event::UrlDetected { process, .. }
            | Event::BuildEvent { process, .. }
            | Event::TestResult { process, .. } => Some(process),
            Event::ProxyRequest { .. } | Event::McpActivity { .. } | Event::ScriptsChanged { .. } => None,
        }
    }
}

impl fmt::Display for Event {
    /// A short, stable, one-line rendering (used by traces and snapshots).
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Event::ProcessStarted { process, pid } => write!(f, "started {process} pid={pid}"),
            Event::SpawnFailed { process, error } => write!(f, "spawn_failed {process} {error}"),
            Event::LogLines { process, stream, lines } => {
                let s = if *stream == Stream::Stdout { "out" } else { "err" };
                write!(f, "log {process} {s} ")?;
                for (i, l) in lines.iter().enumerate() {
                    let sep = if i == 0 { "" } else { " \u{23ce} " };
                    write!(f, "{sep}{}", l.text)?;
                }
                Ok(())
            }
            Event::ProcessExited { process, exit } => write!(f, "exited {process} {exit}"),
            Event::ErrorDetected { process, error } => {
                write!(f, "error {process} {}", error.kind)?;
                if let Some(l) = &error.location {
                    write!(f, " {l}")?;
                }
                write!(f, " {}", error.message)
            }
            Event::UrlDetected { process, url } => write!(f, "url {process} {}", url.browse),
            Event::BuildEvent { process, build } => write!(f, "build {process} {build}"),
            Event::TestResult { process, summary } => {
                write!(f, "test {process} passed={} failed={}", summary.passed.unwrap_or(0), summary.failed)
            }
            Event::ScriptsChanged { added, removed, changed } => {
                write!(f, "scripts_changed added={added:?} removed={removed:?} changed={changed:?}")
            }
            Event::ProxyRequest { method, url, status } => write!(f, "request {method} {url} {status}"),
            Event::McpActivity { session, method } => write!(f, "mcp {session} {method}"),
        }
    }
}

/// An event as delivered: its sequence number, the runtime's monotonic time and the wall
/// time it was published at, and the event.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Envelope {
    pub id: EventId,
    pub at: Mono,
    pub wall: SystemTime,
    pub event: Event,
}

impl Envelope {
    /// The sequence number of line `i` of a batch (the envelope's id is its first line's);
    /// for any other event, `seq(0)` is the id.
    pub fn seq(&self, i: usize) -> u64 {
        self.id.0 + i as u64
    }

    /// Appends the event as JSON lines (docs/events.md): one object per line of a batch,
    /// one for any other event. `{"seq": 7, "time_ms": 1234, "wall_ms": 1764536400000,
    /// "type": ..., ...}`: the event's own fields follow the three the bus adds.
    pub fn write_json(&self, out: &mut Vec<u8>) -> serde_json::Result<()> {
        #[derive(serde::Serialize)]
        struct Flat<'a> {
            seq: u64,
            time_ms: u64,
            wall_ms: u64,
            #[serde(flatten)]
            event: &'a Event,
        }
        #[derive(serde::Serialize)]
        struct LineJson<'a> {
            seq: u64,
            time_ms: u64,
            wall_ms: u64,
            #[serde(rename = "type")]
            kind: &'static str,
            #[serde(flatten)]
            process: &'a ProcessRef,
            stream: Stream,
            line: &'a str,
        }
        let time_ms = self.at.as_millis() as u64;
        let wall_ms = self.wall.duration_since(SystemTime::UNIX_EPOCH).map_or(0, |d| d.as_millis() as u64);
        match &self.event {
            Event::LogLines { process, stream, lines } => {
                for (i, l) in lines.iter().enumerate() {
                    let line = LineJson {
                        seq: self.seq(i),
                        time_ms,
                        wall_ms,
                        kind: EventKind::LogLines.name(),
                        process,
                        stream: *stream,
                        line: l.text,
                    };
                    serde_json::to_writer(&mut *out, &line)?;
                    out.push(b'\n');
                }
            }
            event => {
                serde_json::to_writer(&mut *out, &Flat { seq: self.id.0, time_ms, wall_ms, event })?;
                out.push(b'\n');
            }
        }
        Ok(())
    }
}

/// One event of every kind, as `brum run --json` prints them; docs/events.md embeds these
/// lines (a test checks), and an insta snapshot pins them.
#[cfg(test)]
pub(crate) fn json_samples() -> String {
    use crate::detect::{BuildOutcome, BuildTool, ErrorKind, Frame, TestFramework};
    use crate::process::Location;
    let p = ProcessRef::new(3, "web");
    let loc = Location { file: "src/app.ts".into(), line: Some(3), column: Some(7) };
    let error = ErrorGroup {
        kind: ErrorKind::NodeStack,
        message: "TypeError: x is undefined".into(),
        location: Some(loc.clone()),
        lines: vec!["TypeError: x is undefined".into(), "    at render (src/app.ts:3:7)".into()],
        lines_dropped: 0,
        stream: Stream::Stderr,
        frames: vec![Frame { location: loc, function: Some("render".into()), own: true }],
    };
    let url = Url::parse_announced("http://0.0.0.0:5173/app").expect("a URL");
    let summary = TestSummary {
        framework: TestFramework::Vitest,
        passed: Some(41),
        failed: 1,
        skipped: Some(2),
        total: Some(44),
        suite: None,
        failures: vec![crate::detect::FailedTest {
            name: "cart > adds an item".into(),
            location: Some(Location { file: "src/cart.test.ts".into(), line: Some(12), column: Some(5) }),
            message: Some("expected 2 to be 3".into()),
        }],
    };
    let events = vec![
        Event::ProcessStarted { process: p.clone(), pid: 4242 },
        Event::LogLines {
            process: p.clone(),
            stream: Stream::Stdout,
            lines: Arc::new(LineBatch::of(["vite v7.1.2 dev server", "ready in 312 ms"])),
        },
        Event::UrlDetected { process: p.clone(), url: Arc::new(url) },
        Event::ErrorDetected { process: p.clone(), error: Arc::new(error) },
        Event::BuildEvent {
            process: p.clone(),
            build: crate::detect::Build { outcome: BuildOutcome::Failed, tool: BuildTool::Vite },
        },
        Event::TestResult { process: p.clone(), summary: Arc::new(summary) },
        Event::ProcessExited { process: p.clone(), exit: Exit::Code(1) },
        Event::ProcessExited { process: ProcessRef::new(4, "api"), exit: Exit::Signaled(15) },
        Event::SpawnFailed {
            process: ProcessRef::new(5, "docs"),
            error: Arc::from("program `mkdocs` not found (is it installed and on PATH?)"),
        },
        Event::ScriptsChanged { added: vec!["lint".into()], removed: vec![], changed: vec!["dev".into()] },
        Event::ProxyRequest {
            method: Arc::from("GET"),
            url: Arc::from("http://localhost:5173/api/items"),
            status: 200,
        },
        Event::McpActivity { session: Arc::from("s1"), method: Arc::from("tools/call") },
    ];
    let start = SystemTime::UNIX_EPOCH + std::time::Duration::from_millis(1_764_536_400_000);
    let mut out = Vec::new();
    let mut seq = 1;
    for (i, event) in events.into_iter().enumerate() {
        let at = std::time::Duration::from_millis(1200 + 10 * i as u64);
        let width = event.width();
        let env = Envelope { id: EventId(seq), at: Mono::ZERO + at, wall: start + at, event };
        env.write_json(&mut out).expect("events serialize");
        seq += width;
    }
    String::from_utf8(out).expect("JSON is UTF-8")
}

#[cfg(test)]
mod tests {
    #[test]
    fn every_event_kind_serializes_as_documented() {
        let samples = super::json_samples();
        insta::assert_snapshot!("event_json_samples", samples);
        let doc = include_str!("../../../docs/events.md");
        for line in samples.lines() {
            assert!(doc.contains(line), "docs/events.md lacks this sample line:\n{line}");
        }
    }
}
