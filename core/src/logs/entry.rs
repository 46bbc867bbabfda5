//! Entry identity and the two views of a stored line: [`EntryRef`] (borrowed, free) and
//! [`LogEntry`] (owned, for sending out of the store's owner).

use std::fmt;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use super::chunk::{Chunk, Record};
use super::level::Level;
use super::store::LogStore;
use crate::process::{ProcessRef, Stream};
use crate::rt::Mono;

/// An entry's id: from the store's counter, starting at 1, increasing in append order and never
/// reused (not after eviction, not after `clear`). Search cursors are entry ids.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct EntryId(pub u64);

impl fmt::Display for EntryId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "l{}", self.0)
    }
}

/// A stored line, owned.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LogEntry {
    pub id: EntryId,
    pub process: ProcessRef,
    pub stream: Stream,
    pub level: Level,
    /// The acceptance time: the `mono` given to `append`, raised to the previous entry's if it
    /// was earlier (see `LogStoreStats::mono_clamped`).
    pub mono: Mono,
    /// Wall-clock time for display, as given to `append` (nanosecond precision, clamped to
    /// 1970..=2554).
    pub wall: SystemTime,
    /// The line as printed, ANSI escapes kept (after truncation).
    pub text: String,
    /// The line was longer than the store's line limit and was cut at a character boundary.
    pub truncated: bool,
}

impl LogEntry {
    /// The text search runs over: [`crate::ansi::plain`] of [`LogEntry::text`].
    pub fn plain(&self) -> std::borrow::Cow<'_, str> {
        crate::ansi::plain(&self.text)
    }
}

/// A stored line, borrowed from the store: no allocation. Obtained from [`LogStore::get`] and
/// [`LogStore::iter`]; the form a [`super::LogSink`] receives.
#[derive(Clone, Copy)]
pub struct EntryRef<'a> {
    pub(crate) store: &'a LogStore,
    pub(crate) chunk: &'a Chunk,
    pub(crate) index: usize,
}

impl fmt::Debug for EntryRef<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("EntryRef")
            .field("id", &self.id())
            .field("process", self.process())
            .field("stream", &self.stream())
            .field("level", &self.level())
            .field("text", &self.text())
            .finish()
    }
}

impl<'a> EntryRef<'a> {
    fn record(&self) -> &'a Record {
        &self.chunk.records[self.index]
    }

    pub fn id(&self) -> EntryId {
        EntryId(self.record().id)
    }

    pub fn process(&self) -> &'a ProcessRef {
        self.store.slot_process(self.record().slot())
    }

    pub fn stream(&self) -> Stream {
        self.record().stream()
    }

    pub fn level(&self) -> Level {
        self.record().level()
    }

    pub fn mono(&self) -> Mono {
        Mono(Duration::from_nanos(self.record().mono))
    }

    pub fn wall(&self) -> SystemTime {
        wall_from_nanos(self.record().wall)
    }

    /// The line as printed, ANSI escapes kept.
    pub fn text(&self) -> &'a str {
        &self.chunk.text[self.chunk.raw_span(self.index)]
    }

    /// The line as searched: ANSI escapes and overdraws stripped, newlines turned into spaces.
    pub fn plain(&self) -> &'a str {
        &self.chunk.text[self.chunk.plain_span(self.index)]
    }

    pub fn truncated(&self) -> bool {
        self.record().truncated()
    }

    pub fn to_entry(&self) -> LogEntry {
        LogEntry {
            id: self.id(),
            process: self.process().clone(),
            stream: self.stream(),
            level: self.level(),
            mono: self.mono(),
            wall: self.wall(),
            text: self.text().to_owned(),
            truncated: self.truncated(),
        }
    }

    pub(crate) fn record_ref(&self) -> &'a Record {
        self.record()
    }
}

/// Nanoseconds since the Unix epoch, saturating: before 1970 is 0, after 2554 is `u64::MAX`.
pub(crate) fn wall_to_nanos(wall: SystemTime) -> u64 {
    wall.duration_since(UNIX_EPOCH).map_or(0, |d| u64::try_from(d.as_nanos()).unwrap_or(u64::MAX))
}

pub(crate) fn wall_from_nanos(nanos: u64) -> SystemTime {
    UNIX_EPOCH.checked_add(Duration::from_nanos(nanos)).unwrap_or(UNIX_EPOCH)
}

/// A monotonic time in nanoseconds, saturating after 584 years.
pub(crate) fn mono_to_nanos(mono: Mono) -> u64 {
    u64::try_from(mono.0.as_nanos()).unwrap_or(u64::MAX)
}
