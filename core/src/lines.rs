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
    /// Where its text ends in `text`: its `\n` is there, and the next line starts after it.
    end: u32,
    /// Where its plain text ends in `plain` (only lines with escapes store plain text).
    plain_end: u32,
    styled: bool,
}

/// The buffers behind one or more [`LineBatch`]es.
#[derive(Debug, Clone, Default)]
struct Buf {
    /// Each line's text as printed (escapes kept), each followed by a `\n`: a read of whole
    /// lines is taken as it is ([`LineBatch::from_read`]), and printed with one copy a line.
    text: String,
    /// The plain text of the lines that had escapes, back to back.
    plain: String,
    spans: Vec<Span>,
}

impl Buf {
    /// Where line `i` starts in `text` and in `plain`.
    #[inline]
    fn starts(&self, i: usize) -> (usize, usize) {
        match i {
            0 => (0, 0),
            i => (self.spans[i - 1].end as usize + 1, self.spans[i - 1].plain_end as usize),
        }
    }
}

impl Buf {
    /// A batch of lines not yet stripped (every span unstyled): the lines that had escapes or
    /// other controls get their plain text. Text with no control at all (the common case) is
    /// taken as it is.
    fn stripped(self) -> LineBatch {
        match crate::ansi::has_controls(self.text.as_bytes()) {
            true => self.stripped_each(),
            false => LineBatch::from_buf(self),
        }
    }

    /// [`Buf::stripped`], looking at every line.
    fn stripped_each(mut self) -> LineBatch {
        let mut start = 0;
        for span in &mut self.spans {
            let line = &self.text[start..span.end as usize];
            if let Cow::Owned(p) = crate::ansi::plain(line) {
                self.plain.push_str(&p);
                span.styled = true;
            }
            span.plain_end = offset(self.plain.len());
            start = span.end as usize + 1;
        }
        LineBatch::from_buf(self)
    }
}

/// Lines of one stream of one process instance, in order. Immutable once published.
///
/// A batch is a range of lines of a shared buffer: [`LineBatch::slice`] makes another batch of
/// some of its lines without copying them (the publisher cuts a read's batch after each line
/// that completed a detection). Building (`push`, `clear`) works on a batch that is the whole
/// of its buffer and not shared, and copies otherwise.
#[derive(Debug, Clone, Default)]
pub struct LineBatch {
    buf: std::sync::Arc<Buf>,
    /// The lines of `buf` this batch holds: `start..end`.
    start: usize,
    end: usize,
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

    fn from_buf(buf: Buf) -> LineBatch {
        let end = buf.spans.len();
        LineBatch { buf: std::sync::Arc::new(buf), start: 0, end }
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

    /// The buffer, for building: this batch's lines alone in a buffer of its own (copied if
    /// it was shared or held other lines).
    fn own(&mut self) -> &mut Buf {
        if self.start != 0 || self.end != self.buf.spans.len() {
            *self = LineBatch::from_buf(self.copy());
        }
        std::sync::Arc::make_mut(&mut self.buf)
    }

    /// This batch's lines in a buffer of their exact size.
    fn copy(&self) -> Buf {
        let (start, plain_start) = self.buf.starts(self.start);
        let (end, plain_end) = self.buf.starts(self.end);
        Buf {
            text: self.buf.text[start..end].to_string(),
            plain: self.buf.plain[plain_start..plain_end].to_string(),
            spans: self.buf.spans[self.start..self.end]
                .iter()
                .map(|s| Span {
                    end: s.end - start as u32,
                    plain_end: s.plain_end - plain_start as u32,
                    styled: s.styled,
                })
                .collect(),
        }
    }

    /// Appends one line (its text as printed; a `\n` in it becomes a space in the plain
    /// text), stripping its escapes once; returns the line as stored.
    pub fn push(&mut self, text: &str) -> Line<'_> {
        let buf = self.own();
        let start = buf.text.len();
        let plain_start = buf.plain.len();
        buf.text.push_str(text);
        let end = buf.text.len();
        buf.text.push('\n');
        let styled = match crate::ansi::plain(text) {
            Cow::Borrowed(_) => false,
            Cow::Owned(p) => {
                buf.plain.push_str(&p);
                true
            }
        };
        buf.spans.push(Span { end: offset(end), plain_end: offset(buf.plain.len()), styled });
        self.end += 1;
        let buf = &*self.buf;
        let text = &buf.text[start..end];
        let plain = if styled { &buf.plain[plain_start..] } else { text };
        Line { text, plain, styled }
    }

    /// A batch of the lines of `text`, line `i` ending at the `i`th of `ends` (increasing, the
    /// last at most `text.len()`), each stripped once. `None` if an end is not on a character
    /// boundary. Text with no control character at all (the common case) is taken without
    /// looking at its lines one by one.
    pub fn from_lines(text: &str, ends: impl ExactSizeIterator<Item = usize>) -> Option<LineBatch> {
        let n = ends.len();
        let mut b =
            Buf { text: String::with_capacity(text.len() + n), plain: String::new(), spans: Vec::with_capacity(n) };
        let mut start = 0;
        for end in ends {
            b.text.push_str(text.get(start..end)?);
            b.spans.push(Span { end: offset(b.text.len()), plain_end: 0, styled: false });
            b.text.push('\n');
            start = end;
        }
        // A newline inside a line is a space in its plain text: strip that line too.
        Some(if memchr::memchr(b'\n', &text.as_bytes()[..start]).is_some() { b.stripped_each() } else { b.stripped() })
    }

    /// The lines of one read, `read` (whole lines, each ended by a `\n`), in `read`'s own
    /// buffer: no line is copied. As batches of at most `max_lines` lines and about
    /// [`BATCH_BYTES_MAX`] bytes that share the buffer, each line stripped once. `read` back if
    /// it is not valid UTF-8, does not end with a `\n`, holds a `\r` (a redraw) or a line
    /// longer than `max_line` bytes (it must be cut): the caller takes the general path.
    pub fn from_read(read: Vec<u8>, max_lines: usize, max_line: usize) -> Result<Vec<LineBatch>, Vec<u8>> {
        // A `\r` is a control: only text with controls (rare) is searched for one.
        let controls = crate::ansi::has_controls(&read);
        if read.last() != Some(&b'\n') || controls && memchr::memchr(b'\r', &read).is_some() {
            return Err(read);
        }
        let mut text = String::from_utf8(read).map_err(std::string::FromUtf8Error::into_bytes)?;
        let max_lines = max_lines.max(1);
        let mut spans = Vec::with_capacity(text.len() / 48 + 16);
        // Where each batch ends, in lines; where the current line and batch start.
        let mut cuts = Vec::new();
        let (mut start, mut from, mut first_line) = (0, 0, 0);
        for nl in memchr::memchr_iter(b'\n', text.as_bytes()) {
            if nl - start > max_line {
                return Err(text.into_bytes());
            }
            spans.push(Span { end: offset(nl), plain_end: 0, styled: false });
            start = nl + 1;
            if spans.len() - first_line >= max_lines || start - from >= BATCH_BYTES_MAX {
                cuts.push(spans.len());
                (from, first_line) = (start, spans.len());
            }
        }
        // A small read does not keep a read's room for long.
        if text.capacity() > 2 * text.len() + 4096 {
            text.shrink_to_fit();
        }
        let buf = Buf { text, plain: String::new(), spans };
        let whole = if controls { buf.stripped_each() } else { LineBatch::from_buf(buf) };
        let n = whole.len();
        if cuts.last() != Some(&n) {
            cuts.push(n);
        }
        let mut first = 0;
        Ok(cuts
            .into_iter()
            .map(|end| {
                let b = whole.slice(first..end);
                first = end;
                b
            })
            .collect())
    }

    /// A batch of lines `range` of this one, sharing its buffer (nothing is copied).
    pub fn slice(&self, range: std::ops::Range<usize>) -> LineBatch {
        assert!(range.start <= range.end && range.end <= self.len(), "lines {range:?} of a batch of {}", self.len());
        LineBatch { buf: self.buf.clone(), start: self.start + range.start, end: self.start + range.end }
    }

    pub fn len(&self) -> usize {
        self.end - self.start
    }

    pub fn is_empty(&self) -> bool {
        self.start == self.end
    }

    /// Text bytes held by this batch's lines: as printed, each with its newline, plus plain copies.
    pub fn bytes(&self) -> usize {
        let (start, plain_start) = self.buf.starts(self.start);
        let (end, plain_end) = self.buf.starts(self.end);
        (end - start) + (plain_end - plain_start)
    }

    /// At `max_lines` lines or [`BATCH_BYTES_MAX`] bytes: publish it before pushing more.
    pub fn is_full(&self, max_lines: usize) -> bool {
        self.len() >= max_lines || self.bytes() >= BATCH_BYTES_MAX
    }

    /// Empties the batch, keeping its buffers when they are its own.
    pub fn clear(&mut self) {
        if self.start == 0
            && self.end == self.buf.spans.len()
            && let Some(buf) = std::sync::Arc::get_mut(&mut self.buf)
        {
            buf.text.clear();
            buf.plain.clear();
            buf.spans.clear();
            self.end = 0;
            return;
        }
        *self = LineBatch::new();
    }

    /// Takes the lines out in buffers of their exact size, leaving this batch empty with its
    /// buffers kept for the next read. (Handing over the buffers themselves would make each
    /// next batch grow fresh ones, and a growing buffer past 64 KiB costs page faults: perf
    /// showed them at a twelfth of a flood's time.)
    pub fn take(&mut self) -> LineBatch {
        let taken = LineBatch::from_buf(self.copy());
        self.clear();
        taken
    }

    /// The lines, in order.
    pub fn iter(&self) -> Lines<'_> {
        let (start, plain_start) = self.buf.starts(self.start);
        Lines { buf: &self.buf, i: self.start, end: self.end, start, plain_start }
    }

    /// A window of `max_bytes` of text from the start of line `from` (less at the end of the
    /// batch), and where each line that ends in it ends, each line's `\n` at its end, up to
    /// the first line with escapes (so these lines' plain text is their text). The window
    /// may hold the start of the next line.
    pub fn unstyled_run(&self, from: usize, max_bytes: usize) -> (&[u8], impl Iterator<Item = usize> + '_) {
        let j = (self.start + from).min(self.end);
        let (start, _) = self.buf.starts(j);
        let (end, _) = self.buf.starts(self.end);
        let window = &self.buf.text.as_bytes()[start..end.min(start.saturating_add(max_bytes))];
        let ends = self.buf.spans[j..self.end]
            .iter()
            .map_while(move |s| (!s.styled).then_some(s.end as usize - start))
            .take_while(move |&e| e < window.len());
        (window, ends)
    }

    /// Each line as printed followed by its `\n`, and whether it had escapes: what a printer
    /// copies, without making a [`Line`] of each.
    pub fn printed(&self) -> impl ExactSizeIterator<Item = (&[u8], bool)> + '_ {
        let text = self.buf.text.as_bytes();
        let mut start = self.buf.starts(self.start).0;
        self.buf.spans[self.start..self.end].iter().map(move |s| {
            let line = &text[start..=s.end as usize];
            start = s.end as usize + 1;
            (line, s.styled)
        })
    }

    /// Line `i`, if there is one.
    pub fn get(&self, i: usize) -> Option<Line<'_>> {
        if i >= self.len() {
            return None;
        }
        let j = self.start + i;
        let (start, plain_start) = self.buf.starts(j);
        Some(line(&self.buf, self.buf.spans[j], start, plain_start))
    }
}

#[inline]
fn line(buf: &Buf, span: Span, start: usize, plain_start: usize) -> Line<'_> {
    let text = &buf.text[start..span.end as usize];
    let plain = if span.styled { &buf.plain[plain_start..span.plain_end as usize] } else { text };
    Line { text, plain, styled: span.styled }
}

impl PartialEq for LineBatch {
    /// The same lines (text and plain text), wherever their buffers are.
    fn eq(&self, other: &LineBatch) -> bool {
        self.len() == other.len() && self.iter().eq(other.iter())
    }
}

impl Eq for LineBatch {}

/// The lines of a [`LineBatch`], in order.
#[derive(Debug, Clone)]
pub struct Lines<'a> {
    buf: &'a Buf,
    /// The next line's index in `buf`, and the end.
    i: usize,
    end: usize,
    start: usize,
    plain_start: usize,
}

impl<'a> Iterator for Lines<'a> {
    type Item = Line<'a>;

    #[inline]
    fn next(&mut self) -> Option<Line<'a>> {
        if self.i >= self.end {
            return None;
        }
        let span = self.buf.spans[self.i];
        let l = line(self.buf, span, self.start, self.plain_start);
        self.i += 1;
        self.start = span.end as usize + 1;
        self.plain_start = span.plain_end as usize;
        Some(l)
    }

    fn size_hint(&self) -> (usize, Option<usize>) {
        let n = self.end - self.i;
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
        // Plain text throughout takes the one-pass path; a newline inside a line does not.
        assert_eq!(LineBatch::from_lines("abcd", [1, 4].into_iter()), Some(LineBatch::of(["a", "bcd"])));
        assert_eq!(LineBatch::from_lines("a\nb", [3].into_iter()), Some(LineBatch::one("a\nb")));
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
    fn building_on_a_slice_or_a_shared_batch_leaves_the_others_alone() {
        let whole = LineBatch::of(["a", "\u{1b}[1mb\u{1b}[0m", "c"]);
        let mut tail = whole.slice(1..3);
        let mut copy = whole.clone();
        tail.push("d");
        copy.push("e");
        assert_eq!(whole, LineBatch::of(["a", "\u{1b}[1mb\u{1b}[0m", "c"]));
        assert_eq!(tail, LineBatch::of(["\u{1b}[1mb\u{1b}[0m", "c", "d"]));
        assert_eq!(copy, LineBatch::of(["a", "\u{1b}[1mb\u{1b}[0m", "c", "e"]));
        assert_eq!(tail.bytes(), whole.slice(1..3).bytes() + 2, "\"d\" and its newline");
        let mut t = tail.clone();
        t.clear();
        assert!(t.is_empty() && tail.len() == 3);
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
