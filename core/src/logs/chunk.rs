//! A chunk: one text arena plus one compact record per line, and a summary of which
//! (process, stream, level) combinations it holds. The store is a queue of chunks; eviction
//! drops the oldest whole chunk.
//!
//! Arena layout, per entry, in append order:
//!
//! ```text
//! plain text \n                    (no ANSI escapes in the line)
//! plain text \n raw text \n        (the line had escapes or newlines: the display copy follows)
//! ```
//!
//! A record stores only where its entry starts; the entry ends where the next one starts (or at
//! the arena's end). The plain text never contains `\n`, so it ends at the first `\n` after the
//! start. Search scans the arena as one string and maps match offsets back to entries.

use std::ops::Range;

use crate::process::Stream;

use super::level::Level;

/// Record flag bits (the low byte of `Record::tag`).
const STDERR: u32 = 1;
const LEVEL_SHIFT: u32 = 1;
const LEVEL_MASK: u32 = 0b111 << LEVEL_SHIFT;
const TRUNCATED: u32 = 1 << 4;
const HAS_RAW: u32 = 1 << 5;
/// The bits a filter looks at (stream and level): 4 bits, so 16 combinations.
pub(crate) const FILTER_BITS: u32 = 0xf;
const SLOT_SHIFT: u32 = 8;

/// Process slots fit the 24 bits above the flag byte of `Record::tag`.
pub(crate) const SLOT_MAX: u32 = (1 << 24) - 1;

/// One line's fixed-size record: 32 bytes. The text lives in the chunk's arena.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Record {
    pub(crate) id: u64,
    /// Acceptance time, nanoseconds of `Mono`; non-decreasing in store order.
    pub(crate) mono: u64,
    /// Wall time, nanoseconds since the Unix epoch.
    pub(crate) wall: u64,
    /// Byte offset of the entry in the chunk's arena.
    pub(crate) off: u32,
    /// Process slot (high 24 bits) and flags (low byte: stream, level, truncated, has-raw).
    pub(crate) tag: u32,
}

impl Record {
    pub(crate) fn tag(slot: u32, stream: Stream, level: Level, truncated: bool, has_raw: bool) -> u32 {
        let mut tag = slot << SLOT_SHIFT | u32::from(level.code()) << LEVEL_SHIFT;
        if stream == Stream::Stderr {
            tag |= STDERR;
        }
        if truncated {
            tag |= TRUNCATED;
        }
        if has_raw {
            tag |= HAS_RAW;
        }
        tag
    }

    pub(crate) fn slot(&self) -> u32 {
        self.tag >> SLOT_SHIFT
    }

    pub(crate) fn stream(&self) -> Stream {
        if self.tag & STDERR != 0 { Stream::Stderr } else { Stream::Stdout }
    }

    pub(crate) fn level(&self) -> Level {
        // The mask keeps 3 bits, so the cast cannot truncate.
        Level::from_code(((self.tag & LEVEL_MASK) >> LEVEL_SHIFT) as u8)
    }

    pub(crate) fn truncated(&self) -> bool {
        self.tag & TRUNCATED != 0
    }

    pub(crate) fn has_raw(&self) -> bool {
        self.tag & HAS_RAW != 0
    }

    /// The summary key: slot and the filter bits, flags masked out.
    pub(crate) fn key(&self) -> u32 {
        self.tag & !(0xff & !FILTER_BITS)
    }
}

/// The filter bits of a (stream, level) pair, as in `Record::tag`.
pub(crate) fn filter_bits(stream: Stream, level: Level) -> u32 {
    Record::tag(0, stream, level, false, false)
}

#[derive(Debug, Clone)]
pub(crate) struct Chunk {
    /// The arena. Its capacity is fixed when the chunk is opened; a push never reallocates.
    pub(crate) text: String,
    pub(crate) records: Vec<Record>,
    /// `(key, count)` sorted by key, for every key with a record here. The per-chunk index:
    /// queries skip chunks without a matching key.
    pub(crate) summary: Vec<(u32, u32)>,
    /// No longer appended to; arena and record vector trimmed to their length.
    pub(crate) sealed: bool,
}

impl Chunk {
    pub(crate) fn new(text_bytes: usize, records: usize) -> Chunk {
        Chunk {
            text: String::with_capacity(text_bytes),
            records: Vec::with_capacity(records),
            summary: Vec::new(),
            sealed: false,
        }
    }

    /// Heap and inline bytes this chunk holds: arena, records and summary capacities plus the
    /// struct itself. What the budget counts.
    pub(crate) fn held_bytes(&self) -> u64 {
        let bytes = self.text.capacity()
            + self.records.capacity() * size_of::<Record>()
            + self.summary.capacity() * size_of::<(u32, u32)>()
            + size_of::<Chunk>();
        bytes as u64
    }

    pub(crate) fn seal(&mut self) {
        self.text.shrink_to_fit();
        self.records.shrink_to_fit();
        self.summary.shrink_to_fit();
        self.sealed = true;
    }

    pub(crate) fn first_id(&self) -> u64 {
        self.records.first().map_or(u64::MAX, |r| r.id)
    }

    /// Start of entry `i`'s region in the arena.
    pub(crate) fn start(&self, i: usize) -> usize {
        self.records[i].off as usize
    }

    /// End (exclusive) of entry `i`'s region: the next entry's start or the arena's end.
    pub(crate) fn end(&self, i: usize) -> usize {
        self.records.get(i + 1).map_or(self.text.len(), |r| r.off as usize)
    }

    /// The plain (searched) text of entry `i`, without its `\n`.
    pub(crate) fn plain_span(&self, i: usize) -> Range<usize> {
        let start = self.start(i);
        if self.records[i].has_raw() {
            let len = memchr::memchr(b'\n', &self.text.as_bytes()[start..]).unwrap_or(self.end(i) - start);
            start..start + len
        } else {
            start..self.end(i) - 1
        }
    }

    /// The display text of entry `i` (the raw copy when there is one), without its `\n`.
    pub(crate) fn raw_span(&self, i: usize) -> Range<usize> {
        if self.records[i].has_raw() {
            let plain = self.plain_span(i);
            plain.end + 1..self.end(i) - 1
        } else {
            self.plain_span(i)
        }
    }

    /// The entry whose region holds arena offset `pos`, searching `lo..hi`. `pos` must be at
    /// or after entry `lo`'s start.
    pub(crate) fn entry_at(&self, pos: usize, lo: usize, hi: usize) -> usize {
        lo + self.records[lo..hi].partition_point(|r| r.off as usize <= pos) - 1
    }

    pub(crate) fn index_of(&self, id: u64) -> Option<usize> {
        self.records.binary_search_by_key(&id, |r| r.id).ok()
    }

    pub(crate) fn summary_add(&mut self, key: u32) {
        match self.summary.binary_search_by_key(&key, |(k, _)| *k) {
            Ok(i) => self.summary[i].1 += 1,
            Err(i) => self.summary.insert(i, (key, 1)),
        }
    }

    /// The summary recomputed from the records (used after compaction and by invariant checks).
    pub(crate) fn summary_of(records: &[Record]) -> Vec<(u32, u32)> {
        let mut summary: Vec<(u32, u32)> = Vec::new();
        let mut keys: Vec<u32> = records.iter().map(Record::key).collect();
        keys.sort_unstable();
        for key in keys {
            match summary.last_mut() {
                Some((k, n)) if *k == key => *n += 1,
                _ => summary.push((key, 1)),
            }
        }
        summary
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_record_is_32_bytes() {
        // The memory target (2x the raw text for ~80-byte lines) is designed around this.
        assert_eq!(size_of::<Record>(), 32);
    }

    #[test]
    fn tags_round_trip() {
        for stream in [Stream::Stdout, Stream::Stderr] {
            for level in Level::ALL {
                for (truncated, has_raw) in [(false, false), (true, false), (false, true), (true, true)] {
                    let r = Record {
                        id: 1,
                        mono: 0,
                        wall: 0,
                        off: 0,
                        tag: Record::tag(SLOT_MAX, stream, level, truncated, has_raw),
                    };
                    assert_eq!((r.slot(), r.stream(), r.level()), (SLOT_MAX, stream, level));
                    assert_eq!((r.truncated(), r.has_raw()), (truncated, has_raw));
                    assert_eq!(r.key(), SLOT_MAX << SLOT_SHIFT | filter_bits(stream, level));
                }
            }
        }
    }
}
