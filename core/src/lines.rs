//! A batch of log lines: what one read of one stream completed, published as one event.
//!
//! The read chunk is the unit of ingest. A reader decodes each line and strips its ANSI
//! escapes once, here, into a [`LineBatch`]; detection, the log store and the printers read
//! the plain text from the batch instead of stripping again, the bus carries one envelope per
//! batch, the store appends it under one lock and a printer writes it with one write. Every
//! line still has its own sequence number: the bus reserves one per line (see
//! [`crate::bus::Envelope::seq`]).
//!
//! A batch is bounded (`log_batch_lines`, [`BATCH_BYTES_MAX`]), so a subscriber's mailbox
//! of N events holds at most N batches of that size.

use std::borrow::Cow;

/// Lines one batch holds at most by default (the config key `log_batch_lines`): a read that
/// completes more is published as several batches.
pub const BATCH_LINES_DEFAULT: usize = 4096;

/// Text one batch holds at most (the lines as printed, plus the plain text of the lines that
/// had escapes), give or take its last line: a batch is full once it reaches this.
pub const BATCH_BYTES_MAX: usize = 256 * 1024;

/// Where a line ends in the batch's two buffers, and whether it had escapes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct Span {
    end: u32,
    /// Where its plain text ends in `plain` (only lines with escapes store plain text).
    plain_end: u32,
    styled: bool,
}

/// Lines of one stream of one process instance, in order. Immutable once published.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct LineBatch {
    /// Each line's text as printed (escapes kept), back to back.
    text: String,
    /// The plain text of the lines that had escapes, back to back.
    plain: String,
    spans: Vec<Span>,
}

/// One line of a batch.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Line<'a> {
    /// As printed, escapes kept (never a `\n`).
    pub text: &'a str,
    /// What search and detection see: [`crate::ansi::plain`] of `text`.
    pub plain: &'a str,
    /// `text` had escapes or other characters `plain` removed; when false, `plain == text`.
    pub styled: bool,
}

fn offset(n: usize) -> u32 {
    // A batch holds BATCH_BYTES_MAX plus one line, and a line is at most the configured line
    // limit: far below u32::MAX.
    u32::try_from(n).unwrap_or_else(|_| panic!("batch of {n} bytes exceeds u32"))
}

impl LineBatch {
    pub fn new() -> Self {
        Self::default()
    }

    /// A batch of one line.
    pub fn one(text: &str) -> Self {
        let mut b = LineBatch::new();
        b.push(text);
        b
    }

    /// A batch of the given lines (for tests and simulations; readers push as they split).
    pub fn of<'a>(lines: impl IntoIterator<Item = &'a str>) -> Self {
        let mut b = LineBatch::new();
        for l in lines {
            b.push(l);
        }
        b
    }

    /// Appends one line (its text as printed; a `\n` in it becomes a space in the plain
    /// text), stripping its escapes once; returns the line as stored.
    pub fn push(&mut self, text: &str) -> Line<'_> {
        let start = self.text.len();
        let plain_start = self.plain.len();
        self.text.push_str(text);
        let styled = match crate::ansi::plain(text) {
            Cow::Borrowed(_) => false,
            Cow::Owned(p) => {
                self.plain.push_str(&p);
                true
            }
        };
        self.spans.push(Span { end: offset(self.text.len()), plain_end: offset(self.plain.len()), styled });
        let text = &self.text[start..];
        let plain = if styled { &self.plain[plain_start..] } else { text };
        Line { text, plain, styled }
    }

    /// A batch of the lines of `text`, line `i` ending at the `i`th of `ends` (increasing, the
    /// last at most `text.len()`), each stripped once. `None` if an end is not on a character
    /// boundary.
    pub fn from_lines(text: &str, ends: impl ExactSizeIterator<Item = usize>) -> Option<LineBatch> {
        let mut b = LineBatch { text: String::new(), plain: String::new(), spans: Vec::with_capacity(ends.len()) };
        let mut start = 0;
        for end in ends {
            let line = text.get(start..end)?;
            let styled = match crate::ansi::plain(line) {
                Cow::Borrowed(_) => false,
                Cow::Owned(p) => {
                    b.plain.push_str(&p);
                    true
                }
            };
            b.spans.push(Span { end: offset(end), plain_end: offset(b.plain.len()), styled });
            start = end;
        }
        b.text = text.get(..start)?.to_owned();
        Some(b)
    }

    /// A new batch of lines `range` of this one (copied; their plain text is not stripped again).
    pub fn slice(&self, range: std::ops::Range<usize>) -> LineBatch {
        let spans = &self.spans[range.clone()];
        let (start, plain_start) = match range.start {
            0 => (0, 0),
            i => (self.spans[i - 1].end, self.spans[i - 1].plain_end),
        };
        let (end, plain_end) = spans.last().map_or((start, plain_start), |s| (s.end, s.plain_end));
        LineBatch {
            text: self.text[start as usize..end as usize].to_string(),
            plain: self.plain[plain_start as usize..plain_end as usize].to_string(),
            spans: spans
                .iter()
                .map(|s| Span { end: s.end - start, plain_end: s.plain_end - plain_start, styled: s.styled })
                .collect(),
        }
    }

    pub fn len(&self) -> usize {
        self.spans.len()
    }

    pub fn is_empty(&self) -> bool {
        self.spans.is_empty()
    }

    /// Text bytes held (as printed plus plain copies).
    pub fn bytes(&self) -> usize {
        self.text.len() + self.plain.len()
    }

    /// At `max_lines` lines or [`BATCH_BYTES_MAX`] bytes: publish it before pushing more.
    pub fn is_full(&self, max_lines: usize) -> bool {
        self.spans.len() >= max_lines || self.bytes() >= BATCH_BYTES_MAX
    }

    /// Empties the batch, keeping its buffers.
    pub fn clear(&mut self) {
        self.text.clear();
        self.plain.clear();
        self.spans.clear();
    }

    /// Takes the lines out in buffers of their exact size, leaving this batch empty with its
    /// buffers kept for the next read. (Handing over the buffers themselves would make each
    /// next batch grow fresh ones, and a growing buffer past 64 KiB costs page faults: perf
    /// showed them at a twelfth of a flood's time.)
    pub fn take(&mut self) -> LineBatch {
        let taken = LineBatch { text: self.text.clone(), plain: self.plain.clone(), spans: self.spans.clone() };
        self.clear();
        taken
    }

    /// The lines, in order.
    pub fn iter(&self) -> Lines<'_> {
        Lines { batch: self, i: 0, start: 0, plain_start: 0 }
    }

    /// Line `i`, if there is one.
    pub fn get(&self, i: usize) -> Option<Line<'_>> {
        let span = *self.spans.get(i)?;
        let (start, plain_start) =
            if i == 0 { (0, 0) } else { (self.spans[i - 1].end as usize, self.spans[i - 1].plain_end as usize) };
        Some(self.line(span, start, plain_start))
    }

    #[inline]
    fn line(&self, span: Span, start: usize, plain_start: usize) -> Line<'_> {
        let text = &self.text[start..span.end as usize];
        let plain = if span.styled { &self.plain[plain_start..span.plain_end as usize] } else { text };
        Line { text, plain, styled: span.styled }
    }
}

/// The lines of a [`LineBatch`], in order.
#[derive(Debug, Clone)]
pub struct Lines<'a> {
    batch: &'a LineBatch,
    i: usize,
    start: usize,
    plain_start: usize,
}

impl<'a> Iterator for Lines<'a> {
    type Item = Line<'a>;

    #[inline]
    fn next(&mut self) -> Option<Line<'a>> {
        let span = *self.batch.spans.get(self.i)?;
        let line = self.batch.line(span, self.start, self.plain_start);
        self.i += 1;
        self.start = span.end as usize;
        self.plain_start = span.plain_end as usize;
        Some(line)
    }

    fn size_hint(&self) -> (usize, Option<usize>) {
        let n = self.batch.spans.len() - self.i;
        (n, Some(n))
    }
}

impl ExactSizeIterator for Lines<'_> {}

impl<'a> IntoIterator for &'a LineBatch {
    type Item = Line<'a>;
    type IntoIter = Lines<'a>;

    fn into_iter(self) -> Lines<'a> {
        self.iter()
    }
}

impl serde::Serialize for LineBatch {
    /// The lines as printed, as a JSON array of strings. (`brum run --json` prints one object
    /// per line instead; see [`crate::bus::Envelope::write_json`].)
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.collect_seq(self.iter().map(|l| l.text))
    }
}

#[cfg(test)]
mod tests {
    use super::{BATCH_LINES_DEFAULT, LineBatch};

    #[test]
    fn lines_come_back_in_order_with_their_plain_text() {
        let b = LineBatch::of(["plain", "\u{1b}[31mred\u{1b}[0m", "", "\u{1b}[2J", "tail"]);
        let got: Vec<_> = b.iter().map(|l| (l.text, l.plain, l.styled)).collect();
        assert_eq!(
            got,
            [
                ("plain", "plain", false),
                ("\u{1b}[31mred\u{1b}[0m", "red", true),
                ("", "", false),
                ("\u{1b}[2J", "", true),
                ("tail", "tail", false),
            ]
        );
        for (i, l) in b.iter().enumerate() {
            assert_eq!(b.get(i), Some(l));
        }
        assert_eq!(b.get(5), None);
        assert_eq!(b.iter().len(), 5);
    }

    #[test]
    fn a_batch_from_lines_equals_one_pushed_line_by_line() {
        let lines = ["a", "\u{1b}[1mb\u{1b}[0m", "", "é€", "\u{1b}[2Jd"];
        let text: String = lines.concat();
        let mut ends = Vec::new();
        let mut at = 0;
        for l in lines {
            at += l.len();
            ends.push(at);
        }
        assert_eq!(LineBatch::from_lines(&text, ends.iter().copied()), Some(LineBatch::of(lines)));
        assert_eq!(LineBatch::from_lines("é", [1].into_iter()), None, "mid-character end");
    }

    #[test]
    fn a_slice_holds_those_lines_with_their_plain_text() {
        let b = LineBatch::of(["a", "\u{1b}[1mb\u{1b}[0m", "c", "\u{1b}[2Jd"]);
        for start in 0..=4 {
            for end in start..=4 {
                let s = b.slice(start..end);
                let want: Vec<_> = b.iter().skip(start).take(end - start).collect();
                assert_eq!(s.iter().collect::<Vec<_>>(), want, "{start}..{end}");
            }
        }
    }

    #[test]
    fn a_batch_is_full_at_its_line_limit_and_take_leaves_it_empty() {
        let mut b = LineBatch::new();
        for i in 0..BATCH_LINES_DEFAULT {
            assert!(!b.is_full(BATCH_LINES_DEFAULT), "full after {i} lines");
            b.push("x");
        }
        assert!(b.is_full(BATCH_LINES_DEFAULT));
        let taken = b.take();
        assert_eq!(taken.len(), BATCH_LINES_DEFAULT);
        assert!(b.is_empty() && !b.is_full(1));
        // Or at its byte bound, whatever the line limit.
        b.push(&"x".repeat(super::BATCH_BYTES_MAX));
        assert!(b.is_full(BATCH_LINES_DEFAULT));
    }

    #[test]
    fn a_newline_inside_a_pushed_line_is_a_space_in_the_plain_text() {
        let b = LineBatch::one("a\nb");
        let l = b.get(0).expect("one line");
        assert_eq!((l.text, l.plain, l.styled), ("a\nb", "a b", true));
    }
}
