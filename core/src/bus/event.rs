//! The typed events that flow through the [`EventBus`](super::EventBus).

use std::fmt;
use std::sync::Arc;

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

/// A supervised process instance: counter id plus script name.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct ProcessRef {
    pub id: u64,
    pub name: Arc<str>,
}

impl fmt::Display for ProcessRef {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}#{}", self.name, self.id)
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Stream {
    Stdout,
    Stderr,
}

/// Every event brum publishes. Payloads are immutable once published: subscribers share one
/// `Arc<Envelope>` (race S-E8 cannot happen).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Event {
    ProcessStarted {
        process: ProcessRef,
        pid: u32,
    },
    /// The instance could not be started (no such program, no such working directory, ...).
    SpawnFailed {
        process: ProcessRef,
        error: Arc<str>,
    },
    LogLine {
        process: ProcessRef,
        stream: Stream,
        line: Arc<str>,
    },
    ProcessExited {
        process: ProcessRef,
        exit: Exit,
    },
    ErrorDetected {
        process: ProcessRef,
        kind: &'static str,
        message: Arc<str>,
        location: Option<SourceLocation>,
    },
    UrlDetected {
        process: ProcessRef,
        url: Arc<str>,
    },
    BuildEvent {
        process: ProcessRef,
        outcome: Arc<str>,
    },
    TestResult {
        process: ProcessRef,
        passed: u32,
        failed: u32,
    },
    ProxyRequest {
        method: Arc<str>,
        url: Arc<str>,
        status: u16,
    },
    McpActivity {
        session: Arc<str>,
        method: Arc<str>,
    },
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
    LogLine,
    ProcessExited,
    ErrorDetected,
    UrlDetected,
    BuildEvent,
    TestResult,
    ProxyRequest,
    McpActivity,
    SpawnFailed,
}

impl EventKind {
    pub const ALL: [EventKind; 10] = [
        EventKind::ProcessStarted,
        EventKind::LogLine,
        EventKind::ProcessExited,
        EventKind::ErrorDetected,
        EventKind::UrlDetected,
        EventKind::BuildEvent,
        EventKind::TestResult,
        EventKind::ProxyRequest,
        EventKind::McpActivity,
        EventKind::SpawnFailed,
    ];

    pub fn name(self) -> &'static str {
        match self {
            EventKind::ProcessStarted => "started",
            EventKind::LogLine => "log",
            EventKind::ProcessExited => "exited",
            EventKind::ErrorDetected => "error",
            EventKind::UrlDetected => "url",
            EventKind::BuildEvent => "build",
            EventKind::TestResult => "test",
            EventKind::ProxyRequest => "request",
            EventKind::McpActivity => "mcp",
            EventKind::SpawnFailed => "spawn_failed",
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
            Event::LogLine { .. } => EventKind::LogLine,
            Event::ProcessExited { .. } => EventKind::ProcessExited,
            Event::ErrorDetected { .. } => EventKind::ErrorDetected,
            Event::UrlDetected { .. } => EventKind::UrlDetected,
            Event::BuildEvent { .. } => EventKind::BuildEvent,
            Event::TestResult { .. } => EventKind::TestResult,
            Event::ProxyRequest { .. } => EventKind::ProxyRequest,
            Event::McpActivity { .. } => EventKind::McpActivity,
            Event::SpawnFailed { .. } => EventKind::SpawnFailed,
        }
    }

    pub fn priority(&self) -> Priority {
        match self {
            Event::LogLine { .. } | Event::McpActivity { .. } => Priority::Low,
            Event::UrlDetected { .. }
            | Event::BuildEvent { .. }
            | Event::TestResult { .. }
            | Event::ProxyRequest { .. } => Priority::Normal,
            Event::ProcessStarted { .. }
            | Event::SpawnFailed { .. }
            | Event::ProcessExited { .. }
            | Event::ErrorDetected { .. } => Priority::Lifecycle,
        }
    }

    /// The process this event is about, if any.
    pub fn process(&self) -> Option<&ProcessRef> {
        match self {
            Event::ProcessStarted { process, .. }
            | Event::SpawnFailed { process, .. }
            | Event::LogLine { process, .. }
            | Event::ProcessExited { process, .. }
            | Event::ErrorDetected { process, .. }
            | Event::UrlDetected { process, .. }
            | Event::BuildEvent { process, .. }
            | Event::TestResult { process, .. } => Some(process),
            Event::ProxyRequest { .. } | Event::McpActivity { .. } => None,
        }
    }
}

impl fmt::Display for Event {
    /// A short, stable, one-line rendering (used by traces and snapshots).
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Event::ProcessStarted { process, pid } => write!(f, "started {process} pid={pid}"),
            Event::SpawnFailed { process, error } => write!(f, "spawn_failed {process} {error}"),
            Event::LogLine { process, stream, line } => {
                let s = if *stream == Stream::Stdout { "out" } else { "err" };
                write!(f, "log {process} {s} {line}")
            }
            Event::ProcessExited { process, exit } => write!(f, "exited {process} {exit}"),
            Event::ErrorDetected { process, kind, message, location } => {
                write!(f, "error {process} {kind}")?;
                if let Some(l) = location {
                    write!(f, " {l}")?;
                }
                write!(f, " {message}")
            }
            Event::UrlDetected { process, url } => write!(f, "url {process} {url}"),
            Event::BuildEvent { process, outcome } => write!(f, "build {process} {outcome}"),
            Event::TestResult { process, passed, failed } => {
                write!(f, "test {process} passed={passed} failed={failed}")
            }
            Event::ProxyRequest { method, url, status } => write!(f, "request {method} {url} {status}"),
            Event::McpActivity { session, method } => write!(f, "mcp {session} {method}"),
        }
    }
}

/// Where an error points: file, and line and column when the tool printed them.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SourceLocation {
    pub file: Arc<str>,
    pub line: Option<u32>,
    pub column: Option<u32>,
}

impl fmt::Display for SourceLocation {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.file)?;
        if let Some(l) = self.line {
            write!(f, ":{l}")?;
            if let Some(c) = self.column {
                write!(f, ":{c}")?;
            }
        }
        Ok(())
    }
}

/// An event as delivered: its id, the runtime time it was published at, and the event.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Envelope {
    pub id: EventId,
    pub at: Mono,
    pub event: Event,
}
