//! [`LogStore`]: the byte-budgeted, single-writer store of captured lines.

use std::borrow::Cow;
use std::collections::{BTreeMap, VecDeque};
use std::ops::ControlFlow;
use std::sync::Arc;
use std::time::SystemTime;

use super::chunk::{Chunk, Record, SLOT_MAX};
use super::entry::{EntryId, EntryRef, LogEntry, mono_to_nanos, wall_to_nanos};
use super::level::guess_level;
use super::query::{Filter, ResolvedFilter};
use crate::lines::LineBatch;
use crate::process::{ProcessRef, Stream};
use crate::rt::Mono;

/// The default byte budget, the schema default of `concurrency.log_store_bytes` (a test checks):
/// hours of chatty dev-server output, small next to the servers themselves.
pub const LOG_STORE_BYTES_DEFAULT: u64 = 64 * 1024 * 1024;

/// The default line limit, the schema default of `concurrency.log_max_line_bytes` (a test
/// checks): longer than any readable line, short enough that a minified bundle cannot flood the
/// store.
pub const LOG_MAX_LINE_BYTES_DEFAULT: usize = 64 * 1024;

/// The smallest budget a store accepts; smaller ones are raised to it. The config key's minimum
/// is 1 MiB, so this floor only matters for direct construction (tests use tiny budgets to
/// exercise eviction). At 4 KiB a store still holds a few chunks of 256 bytes.
pub const LOG_STORE_BYTES_MIN: u64 = 4 * 1024;

/// A store splits its budget into at least this many chunks. Eviction drops one whole chunk, so
/// a full store keeps at least 15/16 of its budget's worth of lines.
pub const CHUNKS_PER_BUDGET: u64 = 16;

/// Upper bound of a chunk's text arena. Big enough that scanning is one long `memchr`/regex run
/// and per-chunk costs vanish; small enough that eviction frees memory in modest steps and that
/// arena offsets fit a `u32` with room to spare.
pub const CHUNK_BYTES_MAX: usize = 1024 * 1024;

/// Lower bound of a chunk's text arena (for budgets under 4 MiB: budget / 16, but never less).
pub const CHUNK_BYTES_MIN: usize = 256;

/// A chunk holds at most one record per this many bytes of arena capacity. Lines shorter than
/// that (empty lines, one-word lines) seal a chunk before its arena is full, which bounds a
/// chunk's record memory at twice its arena even for a flood of empty lines.
pub const ARENA_BYTES_PER_RECORD_MIN: usize = 16;

/// Initial record capacity of a chunk: one per this many arena bytes, the typical length of a
/// dev-server line. The vector grows (by doubling, up to the chunk's record limit) for shorter
/// lines and is trimmed when the chunk is sealed.
const RECORD_CAPACITY_HINT_BYTES: usize = 128;

/// Estimated bytes of one entry in the `ProcessRef -> slot` map: a B-tree node holds up to 11
/// keys and values plus edges; 64 bytes per entry covers its share with node slack. The name's
/// `Arc<str>` is shared with the supervisor and not counted.
const PROCESS_MAP_ENTRY_BYTES: u64 = 64;

/// The store's settings.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct LogStoreConfig {
    /// Bytes the store may hold: text arenas, records, chunk summaries and the process table
    /// (see docs/design/logstore.md, "Budget accounting").
    pub budget_bytes: u64,
    /// Longer lines are cut at a character boundary and marked truncated. The store lowers this
    /// to half a chunk when the budget is small (see [`LogStore::max_line_bytes`]).
    pub max_line_bytes: usize,
}

impl Default for LogStoreConfig {
    fn default() -> Self {
        LogStoreConfig { budget_bytes: LOG_STORE_BYTES_DEFAULT, max_line_bytes: LOG_MAX_LINE_BYTES_DEFAULT }
    }
}

/// Why an append was refused. An `Ok` append is stored; nothing is refused silently.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum AppendError {
    /// The store was closed; the line was not stored.
    #[error("log store is closed")]
    Closed,
    /// More distinct processes have lines in the store than a record can name.
    #[error("log store holds lines of {max} processes, the most it can tell apart")]
    TooManyProcesses { max: u32 },
}

/// Counters and gauges of a store. Counters only grow.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct LogStoreStats {
    /// The budget in force (the configured one, raised to [`LOG_STORE_BYTES_MIN`]).
    pub budget_bytes: u64,
    /// Bytes held now, by the accounting the budget uses. Never above `budget_bytes` after an
    /// append returns.
    pub held_bytes: u64,
    /// Entries held now.
    pub entries: u64,
    /// Arena bytes in use: plain text, display copies and separators of the entries held.
    pub text_bytes: u64,
    pub chunks: u64,
    /// Processes with at least one entry held.
    pub processes: u64,
    /// Lines accepted (appends that returned `Ok`).
    pub appended: u64,
    /// Entries evicted to stay within the budget, oldest first.
    pub evicted_entries: u64,
    /// Arena bytes of the evicted entries.
    pub evicted_bytes: u64,
    /// Whole chunks evicted.
    pub evicted_chunks: u64,
    /// Accepted lines cut to the line limit.
    pub truncated_lines: u64,
    /// Bytes cut off those lines.
    pub truncated_bytes: u64,
    /// Entries removed by `clear`.
    pub cleared_entries: u64,
    /// Appends whose `mono` was earlier than the previous entry's and was raised to it, so
    /// that the store stays sorted by time.
    pub mono_clamped: u64,
    /// Appends refused because the store was closed.
    pub rejected_closed: u64,
    /// The id the next accepted line gets.
    pub next_id: u64,
}

#[derive(Debug, Clone)]
struct Slot {
    /// `None` while the slot is free.
    process: Option<ProcessRef>,
    /// Entries of this process held now.
    entries: u64,
}

/// The log store. Single writer: every mutation takes `&mut self`; the owning task serialises
/// appends, clears and queries through its mailbox, so the order of calls is the order of
/// effects (no fallback path can reorder or duplicate a line: races S-L1..S-L4).
///
/// Guarantees (each pinned by a property test in `logs/tests.rs`):
/// - an `Ok(id)` append is stored with that id, once, and stays retrievable until it is
///   evicted (oldest first, counted) or cleared (I20, I21, I26);
/// - entries keep append order, so each process's lines stay in order (I22);
/// - after every append, [`LogStoreStats::held_bytes`] is at most the budget (I23);
/// - the per-chunk index always equals a recount of the records (I24);
/// - `clear` removes exactly the entries accepted before it (I25).
pub struct LogStore {
    budget: u64,
    chunk_bytes: usize,
    max_line_bytes: usize,
    records_per_chunk: usize,
    /// Oldest first. Only the last chunk may be unsealed. Sealed chunks never change, so
    /// [`LogStore::snapshot`] shares them; the unsealed one is never shared (a snapshot copies
    /// it), so appends write to it in place.
    chunks: VecDeque<Arc<Chunk>>,
    slots: Vec<Slot>,
    free_slots: Vec<u32>,
    slot_of: BTreeMap<ProcessRef, u32>,
    /// Sum of `Chunk::held_bytes` over `chunks`.
    chunks_held: u64,
    last_mono: u64,
    closed: bool,
    stats: LogStoreStats,
}

impl std::fmt::Debug for LogStore {
    /// The counters, not the text: a full store holds 64 MiB of it.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("LogStore")
            .field("stats", &self.stats())
            .field("max_line_bytes", &self.max_line_bytes)
            .field("closed", &self.closed)
            .finish_non_exhaustive()
    }
}

impl LogStore {
    pub fn new(config: LogStoreConfig) -> LogStore {
        let budget = config.budget_bytes.max(LOG_STORE_BYTES_MIN);
        let per_chunk = usize::try_from(budget / CHUNKS_PER_BUDGET).unwrap_or(usize::MAX);
        let chunk_bytes = per_chunk.clamp(CHUNK_BYTES_MIN, CHUNK_BYTES_MAX);
        // An entry holds its plain text and at most one display copy, each with a `\n`, and must
        // fit one chunk.
        let max_line_bytes = config.max_line_bytes.min((chunk_bytes - 2) / 2);
        LogStore {
            budget,
            chunk_bytes,
            max_line_bytes,
            records_per_chunk: chunk_bytes / ARENA_BYTES_PER_RECORD_MIN,
            chunks: VecDeque::new(),
            slots: Vec::new(),
            free_slots: Vec::new(),
            slot_of: BTreeMap::new(),
            chunks_held: 0,
            last_mono: 0,
            closed: false,
            stats: LogStoreStats { budget_bytes: budget, next_id: 1, ..LogStoreStats::default() },
        }
    }

    /// The line limit in force: the configured one, lowered to half a chunk for small budgets.
    pub fn max_line_bytes(&self) -> usize {
        self.max_line_bytes
    }

    /// Stores one line and returns its id. A line over the line limit is cut at a character
    /// boundary and marked truncated (and counted), not refused. When the budget is exceeded
    /// the oldest chunks are evicted.
    pub fn append(
        &mut self,
        process: &ProcessRef,
        stream: Stream,
        mono: Mono,
        wall: SystemTime,
        text: &str,
    ) -> Result<EntryId, AppendError> {
        self.append_line(process, stream, mono, wall, text, None)
    }

    /// Stores every line of `batch` in order, as [`LogStore::append`] would one by one, using
    /// the plain text the batch already holds (each line is stripped once, by the reader).
    /// Calls `stored` with each entry right after it is stored (the persistence sink).
    /// Returns the id of the last line stored; on an error the lines before it are stored.
    pub fn append_batch(
        &mut self,
        process: &ProcessRef,
        stream: Stream,
        mono: Mono,
        wall: SystemTime,
        batch: &LineBatch,
        mut stored: impl FnMut(&EntryRef<'_>),
    ) -> Result<Option<EntryId>, AppendError> {
        let mut last = None;
        for line in batch {
            let plain = if line.styled { Some(line.plain) } else { None };
            let id = self.append_line(process, stream, mono, wall, line.text, Some(plain))?;
            if let Some(entry) = self.get(id) {
                stored(&entry);
            }
            last = Some(id);
        }
        Ok(last)
    }

    /// `plain`: the line's plain text when the caller has it (`Some(None)`: the same as
    /// `text`); used unless the line is truncated.
    fn append_line(
        &mut self,
        process: &ProcessRef,
        stream: Stream,
        mono: Mono,
        wall: SystemTime,
        text: &str,
        plain: Option<Option<&str>>,
    ) -> Result<EntryId, AppendError> {
        if self.closed {
            self.stats.rejected_closed += 1;
            return Err(AppendError::Closed);
        }
        let raw = truncate(text, self.max_line_bytes);
        let truncated = raw.len() < text.len();
        let plain: Cow<'_, str> = match plain {
            Some(Some(p)) if !truncated => Cow::Borrowed(p),
            Some(None) if !truncated => Cow::Borrowed(raw),
            _ => crate::ansi::plain(raw),
        };
        let has_raw = plain != raw;
        let need = plain.len() + 1 + if has_raw { raw.len() + 1 } else { 0 };
        let level = guess_level(&plain);
        let slot = self.slot_for(process)?;

        let fits = self.chunks.back().is_some_and(|c| {
            !c.sealed && c.text.capacity() - c.text.len() >= need && c.records.len() < self.records_per_chunk
        });
        if !fits {
            self.seal_last();
            let chunk = Chunk::new(self.chunk_bytes, self.chunk_bytes / RECORD_CAPACITY_HINT_BYTES);
            self.chunks_held += chunk.held_bytes();
            self.chunks.push_back(Arc::new(chunk));
        }
        let mono = mono_to_nanos(mono);
        if mono < self.last_mono {
            self.stats.mono_clamped += 1;
        }
        self.last_mono = self.last_mono.max(mono);
        let id = self.stats.next_id;
        let records_per_chunk = self.records_per_chunk;
        let Some(chunk) = self.chunks.back_mut().and_then(Arc::get_mut) else {
            unreachable!("no unshared open chunk after opening one for the line (snapshots copy it)")
        };
        let before = chunk.held_bytes();
        if chunk.records.len() == chunk.records.capacity() {
            // Double, but never past the chunk's record limit.
            let grow = chunk.records.len().max(1).min(records_per_chunk - chunk.records.len());
            chunk.records.reserve_exact(grow);
        }
        // Arenas are at most CHUNK_BYTES_MAX (1 MiB), far below u32::MAX.
        let off = u32::try_from(chunk.text.len())
            .unwrap_or_else(|_| panic!("arena offset {} exceeds u32: chunks are at most 1 MiB", chunk.text.len()));
        let record = Record {
            id,
            mono: self.last_mono,
            wall: wall_to_nanos(wall),
            off,
            tag: Record::tag(slot, stream, level, truncated, has_raw),
        };
        chunk.text.push_str(&plain);
        chunk.text.push('\n');
        if has_raw {
            chunk.text.push_str(raw);
            chunk.text.push('\n');
        }
        chunk.records.push(record);
        chunk.summary_add(record.key());
        self.chunks_held = self.chunks_held - before + chunk.held_bytes();

        self.slots[slot as usize].entries += 1;
        self.stats.next_id += 1;
        self.stats.appended += 1;
        self.stats.entries += 1;
        self.stats.text_bytes += need as u64;
        if truncated {
            self.stats.truncated_lines += 1;
            self.stats.truncated_bytes += (text.len() - raw.len()) as u64;
        }
        self.evict_to_budget();
        if crate::mutants::active(crate::mutants::LOGS_FABRICATED_ID) {
            // The id the next line will get: a caller holding it finds another entry, or none.
            return Ok(EntryId(self.stats.next_id));
        }
        Ok(EntryId(id))
    }

    /// Refuses further appends. Idempotent; reads keep working. Every append that returned
    /// `Ok` before is stored (there is no queue inside the store to drain).
    pub fn close(&mut self) {
        self.closed = true;
    }

    pub fn is_closed(&self) -> bool {
        self.closed
    }

    /// Removes every entry of the processes `filter` selects (all entries for `None`) and
    /// returns how many. Linearizable: entries appended before the call are gone, entries
    /// appended after it are kept (I25). Clearing one process compacts the chunks that held its
    /// lines, so the memory is returned at once.
    pub fn clear(&mut self, process: Option<&super::ProcessFilter>) -> u64 {
        let Some(process) = process else {
            let removed = self.stats.entries;
            self.chunks.clear();
            self.chunks_held = 0;
            self.reset_slots();
            self.stats.entries = 0;
            self.stats.text_bytes = 0;
            self.stats.cleared_entries += removed;
            return removed;
        };
        let doomed: Vec<bool> =
            self.slots.iter().map(|s| s.process.as_ref().is_some_and(|p| process.matches(p))).collect();
        if !doomed.contains(&true) {
            return 0;
        }
        let mut removed = 0;
        let mut removed_bytes = 0;
        let chunks = std::mem::take(&mut self.chunks);
        let count = chunks.len();
        for (n, chunk) in chunks.into_iter().enumerate() {
            self.chunks_held -= chunk.held_bytes();
            if !chunk.summary.iter().any(|(key, _)| doomed[(key >> 8) as usize]) {
                self.chunks_held += chunk.held_bytes();
                self.chunks.push_back(chunk);
                continue;
            }
            let keep_open = n + 1 == count && !chunk.sealed;
            let mut text = String::with_capacity(if keep_open { chunk.text.capacity() } else { 0 });
            let mut records = Vec::with_capacity(if keep_open { chunk.records.capacity() } else { 0 });
            for (i, record) in chunk.records.iter().enumerate() {
                let region = &chunk.text[chunk.start(i)..chunk.end(i)];
                if doomed[record.slot() as usize] {
                    removed += 1;
                    removed_bytes += region.len() as u64;
                    continue;
                }
                let off = u32::try_from(text.len())
                    .unwrap_or_else(|_| panic!("compacted offset {} exceeds u32: chunks shrink", text.len()));
                text.push_str(region);
                records.push(Record { off, ..*record });
            }
            if records.is_empty() && !keep_open {
                continue;
            }
            let summary = Chunk::summary_of(&records);
            let mut rebuilt = Chunk { text, records, summary, sealed: chunk.sealed };
            if !keep_open {
                rebuilt.seal();
            }
            self.chunks_held += rebuilt.held_bytes();
            self.chunks.push_back(Arc::new(rebuilt));
        }
        for (slot, doomed) in doomed.iter().enumerate() {
            if *doomed {
                self.free_slot(slot as u32);
            }
        }
        self.release_slots_if_unused();
        self.stats.entries -= removed;
        self.stats.text_bytes -= removed_bytes;
        self.stats.cleared_entries += removed;
        removed
    }

    pub fn stats(&self) -> LogStoreStats {
        LogStoreStats {
            held_bytes: self.held_bytes(),
            chunks: self.chunks.len() as u64,
            processes: self.slot_of.len() as u64,
            ..self.stats
        }
    }

    pub fn len(&self) -> usize {
        usize::try_from(self.stats.entries).unwrap_or(usize::MAX)
    }

    pub fn is_empty(&self) -> bool {
        self.stats.entries == 0
    }

    /// The entry with this id, if it is still held.
    pub fn get(&self, id: EntryId) -> Option<EntryRef<'_>> {
        // Chunks are in id order; only the newest may be empty, and its `first_id` is MAX.
        let c = self.chunks.partition_point(|c| c.first_id() <= id.0).checked_sub(1)?;
        let chunk = self.chunks.get(c)?;
        let index = chunk.index_of(id.0)?;
        Some(EntryRef { store: self, chunk, index })
    }

    /// Every entry held, oldest first.
    pub fn iter(&self) -> impl Iterator<Item = EntryRef<'_>> + '_ {
        self.chunks
            .iter()
            .flat_map(move |chunk| (0..chunk.records.len()).map(move |index| EntryRef { store: self, chunk, index }))
    }

    /// The ids of the entries `filter` selects, oldest first, found through the index (chunk
    /// summaries and time order) rather than by scanning every record.
    pub fn ids(&self, filter: &Filter) -> Vec<EntryId> {
        let mut ids = Vec::new();
        let _ = self.walk_rev(&self.resolve(filter), u64::MAX, |e| {
            ids.push(e.id());
            ControlFlow::Continue(())
        });
        ids.reverse();
        ids
    }

    /// The newest `n` entries `filter` selects (at most [`super::PAGE_ENTRIES_MAX`]), oldest
    /// first, as `tail -n` prints them.
    pub fn tail(&self, filter: &Filter, n: usize) -> Vec<LogEntry> {
        let n = n.min(super::PAGE_ENTRIES_MAX);
        let mut out = Vec::with_capacity(n.min(1024));
        if n > 0 {
            let _ = self.walk_rev(&self.resolve(filter), u64::MAX, |e| {
                out.push(e.to_entry());
                if out.len() == n { ControlFlow::Break(()) } else { ControlFlow::Continue(()) }
            });
        }
        out.reverse();
        out
    }

    /// The oldest `limit` entries `filter` selects with an id at or above `from` (at most
    /// [`super::PAGE_ENTRIES_MAX`]), oldest first, and whether more such entries follow them:
    /// a forward page, as `logs_stream` reads from its cursor.
    pub fn forward(&self, filter: &Filter, from: EntryId, limit: usize) -> (Vec<LogEntry>, bool) {
        let limit = limit.clamp(1, super::PAGE_ENTRIES_MAX);
        let filter = self.resolve(filter);
        // Walked oldest first from the chunk that holds `from` (chunks are in id order), so a
        // page costs what it reads, however many entries are newer.
        let first = self.chunks.partition_point(|c| c.first_id() <= from.0).saturating_sub(1);
        let mut page = Vec::with_capacity(limit.min(1024));
        for chunk in self.chunks.iter().skip(first) {
            if filter.candidates(chunk) == 0 {
                continue;
            }
            let range = filter.range(chunk, u64::MAX);
            let start = range.start.max(chunk.records.partition_point(|r| r.id < from.0));
            for index in start..range.end.max(start) {
                if filter.accepts(&chunk.records[index]) {
                    if page.len() == limit {
                        return (page, true);
                    }
                    page.push(EntryRef { store: self, chunk, index }.to_entry());
                }
            }
        }
        (page, false)
    }

    /// The id of the oldest entry held, if any: ids below it were evicted or cleared.
    pub fn oldest_id(&self) -> Option<EntryId> {
        self.chunks.front().map(|c| c.first_id()).filter(|id| *id != u64::MAX).map(EntryId)
    }

    /// A read-only copy of the store as it is now, for queries that run without the owner's
    /// lock: it shares the sealed chunks (no copy) and copies only the open one (at most one
    /// chunk's arena, [`CHUNK_BYTES_MAX`]). Appends to the store do not show in it; the store
    /// may evict chunks the snapshot still holds, whose memory is freed when the snapshot is
    /// dropped. The snapshot is closed: appends to it fail.
    pub fn snapshot(&self) -> LogStore {
        let chunks =
            self.chunks.iter().map(|c| if c.sealed { Arc::clone(c) } else { Arc::new(Chunk::clone(c)) }).collect();
        LogStore {
            budget: self.budget,
            chunk_bytes: self.chunk_bytes,
            max_line_bytes: self.max_line_bytes,
            records_per_chunk: self.records_per_chunk,
            chunks,
            slots: self.slots.clone(),
            free_slots: self.free_slots.clone(),
            slot_of: self.slot_of.clone(),
            chunks_held: self.chunks_held,
            last_mono: self.last_mono,
            closed: true,
            stats: self.stats,
        }
    }

    pub(crate) fn chunks(&self) -> &VecDeque<Arc<Chunk>> {
        &self.chunks
    }

    pub(crate) fn resolve(&self, filter: &Filter) -> ResolvedFilter {
        ResolvedFilter::new(filter, self.slots.iter().map(|s| s.process.as_ref()))
    }

    /// Calls `f` on each entry `filter` accepts with id below `upper`, newest first, until it
    /// breaks. Skips chunks whose summary has no accepted key, and uses time order to bound
    /// each chunk's record range.
    pub(crate) fn walk_rev<'s>(
        &'s self,
        filter: &ResolvedFilter,
        upper: u64,
        mut f: impl FnMut(EntryRef<'s>) -> ControlFlow<()>,
    ) -> ControlFlow<()> {
        for chunk in self.chunks.iter().rev() {
            if chunk.first_id() >= upper || filter.candidates(chunk) == 0 {
                continue;
            }
            let range = filter.range(chunk, upper);
            for index in range.rev() {
                if filter.accepts(&chunk.records[index]) {
                    f(EntryRef { store: self, chunk, index })?;
                }
            }
        }
        ControlFlow::Continue(())
    }

    pub(crate) fn slot_process(&self, slot: u32) -> &ProcessRef {
        match self.slots.get(slot as usize).and_then(|s| s.process.as_ref()) {
            Some(p) => p,
            None => panic!(
                "record names process slot {slot}, which is free: slots are freed only when no record names them"
            ),
        }
    }

    /// Bytes held, by the budget's accounting: the chunks plus the process table.
    fn held_bytes(&self) -> u64 {
        let slots = self.slots.capacity() * size_of::<Slot>() + self.free_slots.capacity() * size_of::<u32>();
        self.chunks_held + slots as u64 + self.slot_of.len() as u64 * PROCESS_MAP_ENTRY_BYTES
    }

    fn slot_for(&mut self, process: &ProcessRef) -> Result<u32, AppendError> {
        if let Some(slot) = self.slot_of.get(process) {
            return Ok(*slot);
        }
        let slot = match self.free_slots.pop() {
            Some(slot) => {
                self.slots[slot as usize] = Slot { process: Some(process.clone()), entries: 0 };
                slot
            }
            None => {
                let slot = u32::try_from(self.slots.len()).unwrap_or(u32::MAX);
                if slot > SLOT_MAX {
                    return Err(AppendError::TooManyProcesses { max: SLOT_MAX + 1 });
                }
                self.slots.push(Slot { process: Some(process.clone()), entries: 0 });
                slot
            }
        };
        self.slot_of.insert(process.clone(), slot);
        Ok(slot)
    }

    fn free_slot(&mut self, slot: u32) {
        let entry = &mut self.slots[slot as usize];
        if let Some(process) = entry.process.take() {
            self.slot_of.remove(&process);
            entry.entries = 0;
            self.free_slots.push(slot);
        }
    }

    /// Returns the process table's memory once no process has lines left (the table otherwise
    /// keeps the capacity of the most processes ever held at once).
    fn release_slots_if_unused(&mut self) {
        if self.slot_of.is_empty() && !self.slots.is_empty() {
            self.reset_slots();
        }
    }

    fn reset_slots(&mut self) {
        self.slots = Vec::new();
        self.free_slots = Vec::new();
        self.slot_of.clear();
    }

    fn seal_last(&mut self) {
        if let Some(chunk) = self.chunks.back_mut().filter(|c| !c.sealed).and_then(Arc::get_mut) {
            let before = chunk.held_bytes();
            chunk.seal();
            self.chunks_held = self.chunks_held - before + chunk.held_bytes();
        }
    }

    /// Evicts the oldest chunks until the budget holds. The sizing in `new` (a chunk is at most
    /// a budget/16 arena plus twice that in records) means the newest chunk always fits, so the
    /// line just appended is never the one evicted.
    fn evict_to_budget(&mut self) {
        while self.held_bytes() > self.budget {
            // The mutant takes the wrong end of the deque: the newest chunk goes.
            let chunk = if crate::mutants::active(crate::mutants::LOGS_EVICT_NEWEST) {
                self.chunks.pop_back()
            } else {
                self.chunks.pop_front()
            };
            let Some(chunk) = chunk else { break };
            self.chunks_held -= chunk.held_bytes();
            let entries = chunk.records.len() as u64;
            self.stats.entries -= entries;
            self.stats.text_bytes -= chunk.text.len() as u64;
            self.stats.evicted_entries += entries;
            self.stats.evicted_bytes += chunk.text.len() as u64;
            self.stats.evicted_chunks += 1;
            for (key, count) in &chunk.summary {
                let slot = key >> 8;
                let entry = &mut self.slots[slot as usize];
                entry.entries -= u64::from(*count);
                if entry.entries == 0 {
                    self.free_slot(slot);
                }
            }
            self.release_slots_if_unused();
        }
    }

    /// Checks every internal invariant against a recount; panics naming the broken one. Tests
    /// call it after every operation.
    #[cfg(test)]
    pub(crate) fn check_invariants(&self) {
        let mut held = 0;
        let mut entries = 0;
        let mut text_bytes = 0;
        let mut per_slot = vec![0u64; self.slots.len()];
        let mut last: Option<&Record> = None;
        for (n, chunk) in self.chunks.iter().enumerate() {
            held += chunk.held_bytes();
            assert!(!chunk.records.is_empty() || n + 1 == self.chunks.len(), "chunk {n} is empty");
            assert!(chunk.sealed || n + 1 == self.chunks.len(), "unsealed chunk {n} is not the newest");
            assert_eq!(chunk.summary, Chunk::summary_of(&chunk.records), "summary of chunk {n} is stale (I24)");
            assert!(chunk.records.len() <= self.records_per_chunk, "chunk {n} has too many records");
            for (i, r) in chunk.records.iter().enumerate() {
                if let Some(prev) = last {
                    assert!(prev.id < r.id, "ids out of order: {} then {}", prev.id, r.id);
                    assert!(prev.mono <= r.mono, "time out of order at id {}", r.id);
                }
                assert!(chunk.start(i) < chunk.end(i), "entry {} has an empty region", r.id);
                assert!(!chunk.text[chunk.plain_span(i)].contains('\n'), "plain text of {} has a newline", r.id);
                per_slot[r.slot() as usize] += 1;
                last = Some(r);
            }
            entries += chunk.records.len() as u64;
            text_bytes += chunk.text.len() as u64;
        }
        assert_eq!(held, self.chunks_held, "chunk byte accounting drifted");
        assert!(self.held_bytes() <= self.budget, "held {} over budget {}", self.held_bytes(), self.budget);
        assert_eq!(entries, self.stats.entries, "entry count drifted");
        assert_eq!(text_bytes, self.stats.text_bytes, "text byte count drifted");
        for (slot, s) in self.slots.iter().enumerate() {
            assert_eq!(s.entries, per_slot[slot], "slot {slot} entry count drifted");
            assert_eq!(s.process.is_some(), s.entries > 0, "slot {slot} live without entries, or free with");
            if let Some(p) = &s.process {
                assert_eq!(self.slot_of.get(p), Some(&(slot as u32)), "slot map misses {p}");
            }
        }
        assert_eq!(self.slot_of.len(), self.slots.iter().filter(|s| s.process.is_some()).count());
        assert_eq!(
            self.stats.appended,
            self.stats.entries + self.stats.evicted_entries + self.stats.cleared_entries,
            "appended != held + evicted + cleared"
        );
    }
}

/// `text` cut to at most `max` bytes at a character boundary.
fn truncate(text: &str, max: usize) -> &str {
    if text.len() <= max {
        return text;
    }
    let mut end = max;
    while !text.is_char_boundary(end) {
        end -= 1;
    }
    &text[..end]
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn truncates_on_a_char_boundary() {
        assert_eq!(truncate("abc", 5), "abc");
        assert_eq!(truncate("abcdef", 3), "abc");
        assert_eq!(truncate("aé", 2), "a");
        assert_eq!(truncate("€€", 5), "€");
        assert_eq!(truncate("€", 0), "");
    }

    #[test]
    fn defaults_match_the_config_schema() {
        let settings = crate::config::Settings::defaults();
        assert_eq!(settings.log_store_config(), LogStoreConfig::default());
    }

    #[test]
    fn small_budgets_shrink_chunks_and_the_line_limit() {
        let store = LogStore::new(LogStoreConfig { budget_bytes: 1, max_line_bytes: 1 << 20 });
        assert_eq!(store.stats().budget_bytes, LOG_STORE_BYTES_MIN);
        assert_eq!(store.chunk_bytes, CHUNK_BYTES_MIN);
        assert_eq!(store.max_line_bytes(), (CHUNK_BYTES_MIN - 2) / 2);
        let big = LogStore::new(LogStoreConfig::default());
        assert_eq!(big.chunk_bytes, CHUNK_BYTES_MAX);
        assert_eq!(big.max_line_bytes(), LOG_MAX_LINE_BYTES_DEFAULT);
    }
}
