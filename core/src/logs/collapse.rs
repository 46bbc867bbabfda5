//! Display rows with consecutive duplicate lines folded: a dev server that prints
//! `watching for file changes...` two hundred times shows one row with a count.

use std::collections::BTreeMap;
use std::fmt;
use std::ops::ControlFlow;
use std::time::{SystemTime, UNIX_EPOCH};

use super::entry::{EntryId, EntryRef};
use super::level::Level;
use super::query::{Filter, PAGE_ENTRIES_MAX};
use super::store::LogStore;
use crate::process::{ProcessRef, Stream};
use crate::rt::Mono;

/// When one occurrence of a collapsed line was stored.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Seen {
    pub id: EntryId,
    pub mono: Mono,
    pub wall: SystemTime,
}

impl Seen {
    fn of(e: &EntryRef<'_>) -> Seen {
        Seen { id: e.id(), mono: e.mono(), wall: e.wall() }
    }
}

/// A run of identical consecutive lines of one process, shown once.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CollapsedRow {
    pub process: ProcessRef,
    pub stream: Stream,
    pub level: Level,
    /// The line as printed, ANSI kept.
    pub text: String,
    /// Occurrences folded into this row (at least 1).
    pub count: u64,
    pub first: Seen,
    pub last: Seen,
}

impl fmt::Display for CollapsedRow {
    /// `12:00:05.250 dev#1 out warn    text (×3 since 12:00:01.000)`, times in UTC.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let stream = if self.stream == Stream::Stdout { "out" } else { "err" };
        write!(f, "{} {} {stream} {:<7} {}", ClockTime(self.last.wall), self.process, self.level, self.text)?;
        if self.count > 1 {
            write!(f, " (×{} since {})", self.count, ClockTime(self.first.wall))?;
        }
        Ok(())
    }
}

/// `HH:MM:SS.mmm` of a wall time, in UTC.
struct ClockTime(SystemTime);

impl fmt::Display for ClockTime {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let since = self.0.duration_since(UNIX_EPOCH).unwrap_or_default();
        let secs = since.as_secs() % 86_400;
        write!(f, "{:02}:{:02}:{:02}.{:03}", secs / 3600, secs / 60 % 60, secs % 60, since.subsec_millis())
    }
}

impl LogStore {
    /// The newest `n` display rows (at most [`PAGE_ENTRIES_MAX`]) of the entries `filter`
    /// selects, oldest row first. A row folds a run of consecutive lines of one process with
    /// the same stream and text (other processes' lines in between do not break the run); it
    /// sits at the position of its newest line, so a line that keeps repeating stays at the
    /// bottom with a growing count.
    ///
    /// Counts are exact: once it has `n` rows the walk goes on only until every run it has
    /// started is closed, which in the worst case (one line repeated through the whole store)
    /// reads every record.
    pub fn collapsed(&self, filter: &Filter, n: usize) -> Vec<CollapsedRow> {
        let n = n.min(PAGE_ENTRIES_MAX);
        if n == 0 {
            return Vec::new();
        }
        // (newest, oldest, count), newest row first.
        let mut rows: Vec<(EntryRef<'_>, EntryRef<'_>, u64)> = Vec::new();
        // The row each process's run is extending, by process slot.
        let mut open: BTreeMap<u32, usize> = BTreeMap::new();
        let _ = self.walk_rev(&self.resolve(filter), u64::MAX, |e| {
            let slot = e.record_ref().slot();
            if let Some(&r) = open.get(&slot) {
                let (newest, oldest, count) = &mut rows[r];
                if newest.stream() == e.stream() && newest.text() == e.text() {
                    *oldest = e;
                    *count += 1;
                    return ControlFlow::Continue(());
                }
                open.remove(&slot);
            }
            if rows.len() == n {
                return if open.is_empty() { ControlFlow::Break(()) } else { ControlFlow::Continue(()) };
            }
            rows.push((e, e, 1));
            open.insert(slot, rows.len() - 1);
            ControlFlow::Continue(())
        });
        rows.iter()
            .rev()
            .map(|(newest, oldest, count)| CollapsedRow {
                process: newest.process().clone(),
                stream: newest.stream(),
                level: newest.level(),
                text: newest.text().to_owned(),
                count: *count,
                first: Seen::of(oldest),
                last: Seen::of(newest),
            })
            .collect()
    }
}
