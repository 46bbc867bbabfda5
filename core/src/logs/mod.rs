//! The log store: every line the supervised processes print, held within a byte budget and
//! searchable.
//!
//! - [`LogStore`]: a pure, synchronous, single-writer structure (`&mut self` to write; the task
//!   that owns it serialises access). No I/O, no clock: callers pass the times in.
//! - Layout: text in append-only arenas of up to 1 MiB ("chunks") with a 32-byte record per
//!   line; eviction drops the oldest whole chunk. Budget accounting counts every byte the
//!   chunks and the process table hold.
//! - Index: per-chunk summaries of (process, stream, level), and time and id order (records
//!   are sorted by both), so filters skip chunks and binary-search ranges.
//! - Search: [`LogStore::search`] and [`LogStore::count`] scan whole arenas with `memmem` or a
//!   regex rewritten to match within a line, over ANSI-stripped text; pages are newest first
//!   and the cursor is an entry id.
//! - [`LogStore::collapsed`]: display rows with consecutive duplicates folded.
//! - [`LogSink`]: the hook for persistence, called by the owner.
//!
//! docs/design/logstore.md describes the design in full.

mod chunk;
mod collapse;
mod entry;
mod level;
mod query;
mod service;
mod sink;
mod store;
#[cfg(test)]
mod tests;

pub use collapse::{CollapsedRow, Seen};
pub use entry::{EntryId, EntryRef, LogEntry};
pub use level::{LEVEL_SCAN_BYTES, Level, LevelSet, guess_level};
pub(crate) use query::Matcher;
pub use query::{
    Filter, PAGE_ENTRIES_MAX, Page, ProcessFilter, Query, REGEX_CACHE_BYTES_MAX, REGEX_COMPILED_BYTES_MAX, RegexError,
    SearchError, TextQuery,
};
pub use service::{ForwardPage, LOG_SERVICE_MAILBOX, LogService};
pub use sink::LogSink;
pub use store::{
    ARENA_BYTES_PER_RECORD_MIN, AppendError, CHUNK_BYTES_MAX, CHUNK_BYTES_MIN, CHUNKS_PER_BUDGET,
    LOG_MAX_LINE_BYTES_DEFAULT, LOG_STORE_BYTES_DEFAULT, LOG_STORE_BYTES_MIN, LogStore, LogStoreConfig, LogStoreStats,
};
