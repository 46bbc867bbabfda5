//! Reading a child's output: one task per stream splits bytes into lines and publishes them.
//!
//! The splitting is [`LineSplitter`], pure and synchronous; [`Reader`] feeds it the bytes each
//! read returns and publishes what it yields. What a line is, as a terminal would show it:
//!
//! - `\n` ends a line, and so does `\r\n`: no line ever contains a `\r` or a `\n`.
//! - A bare `\r` returns to the start of the line, so the text before it (a *segment*) is
//!   overdrawn by the text after it. A line publishes its last non-empty segment:
//!   `abc\rdef\n` publishes `def`, and `abc\r\n` and `abc\r\r\n` publish `abc` (an empty
//!   segment overdraws nothing). That is what a terminal shows when each redraw covers the one
//!   before, as progress bars make sure it does (they pad, or erase with `ESC[K`). A shorter
//!   redraw over a longer one (`abcdef\rxy\n`, `xycdef` on a terminal) publishes `xy`: the
//!   newer text, not a merge of the two.
//! - Progress that never prints a newline is still seen: when a read leaves the current line
//!   unfinished after a `\r`, its latest complete non-empty segment is published at once, and
//!   the text after the last `\r` stays pending as the start of the next segment. The segments
//!   that one overdrew are not published but counted (`supervisor.lines_overdrawn`), so a fast
//!   progress bar cannot flood the log with a line per redraw. If the line then ends with
//!   nothing new (a `\n` right after the `\r`, as when a `\r\n` falls across two reads),
//!   nothing more is published: the segment already shown was the line.
//! - Overdrawn segments still go to detection. Publishing only what a terminal shows must not
//!   lose an error message that a progress redraw covered, and which segments are overdrawn
//!   depends on where the pipe's reads happen to fall. So detection reads every non-empty
//!   segment exactly once, in order, published or overdrawn: what it finds does not depend on
//!   the reads (only which intermediate redraws are published does).
//! - A segment longer than `max_line` bytes is cut on a character boundary into pieces of at
//!   most `max_line` bytes, each published as a line as soon as it is full
//!   (`supervisor.lines_split` counts the cuts). The `\r` and `\n` that end a line never count
//!   toward the limit: a line of exactly `max_line` bytes is one line whatever ends it.
//! - Invalid UTF-8 is replaced (U+FFFD) per line; a character split across two reads is
//!   joined first, since a line is only decoded once it is complete.

use std::borrow::Cow;
use std::sync::Arc;

use tokio::io::{AsyncRead, AsyncReadExt};
use tokio::sync::mpsc;

use super::READ_CHUNK_BYTES;
use super::dispatch::Msg;
use crate::bus::{Event, EventBus, ProcessRef, Stream};
use crate::detect::{Detection, Detector, UrlSet};
use crate::lines::{BATCH_BYTES_MAX, LineBatch};
use crate::metrics::Counter;
use crate::rt::Runtime;

/// Where a line ends: the longest prefix of `bytes` no longer than `max` that does not split a
/// UTF-8 character (a lone over-long sequence is cut at `max`).
fn cut(bytes: &[u8], max: usize) -> usize {
    if bytes.len() <= max {
        return bytes.len();
    }
    let mut i = max;
    while i > 0 && (bytes[i] & 0xC0) == 0x80 {
        i -= 1;
    }
    if i == 0 { max } else { i }
}

/// What a piece [`LineSplitter`] yields is for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Piece {
    /// A line to publish (detection reads it too).
    Line,
    /// A segment a later one overdrew before it was published: for detection only.
    Overdrawn,
}

/// What [`LineSplitter`] counted since [`LineSplitter::take_counts`] last asked.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub(crate) struct SplitCounts {
    /// Cuts of segments longer than `max_line` (each adds one line).
    pub cuts: u64,
    /// Segments overdrawn before they were published.
    pub overdrawn: u64,
}

/// The pieces one call yields, in stream order, in one buffer reused from call to call.
#[derive(Debug, Default)]
struct Output {
    bytes: Vec<u8>,
    /// Each piece's kind and where it ends in `bytes` (it starts where the previous one ends).
    ends: Vec<(Piece, usize)>,
}

impl Output {
    fn push(&mut self, kind: Piece, text: &[u8]) {
        self.bytes.extend_from_slice(text);
        self.ends.push((kind, self.bytes.len()));
    }
}

/// The pieces of one [`LineSplitter::push`] or [`LineSplitter::finish`], in stream order.
#[derive(Debug)]
pub(crate) struct Pieces<'a> {
    bytes: &'a [u8],
    ends: std::slice::Iter<'a, (Piece, usize)>,
    start: usize,
}

/// Pieces' bytes back to back, and each piece's kind and where it ends in them.
type Flat<'a> = (&'a [u8], &'a [(Piece, usize)]);

impl<'a> Pieces<'a> {
    /// When every piece is a line (no overdrawn segment), and none was taken yet: their bytes
    /// back to back, and where each ends in them.
    fn all_lines(&self) -> Option<Flat<'a>> {
        let ends = self.ends.as_slice();
        (self.start == 0 && ends.iter().all(|(k, _)| *k == Piece::Line)).then_some((self.bytes, ends))
    }
}

impl<'a> Iterator for Pieces<'a> {
    type Item = (Piece, &'a [u8]);

    fn next(&mut self) -> Option<Self::Item> {
        let &(kind, end) = self.ends.next()?;
        let text = &self.bytes[self.start..end];
        self.start = end;
        Some((kind, text))
    }
}

/// The state of the current line, apart from the segment being read.
#[derive(Debug)]
struct LineState {
    max_line: usize,
    /// The latest complete non-empty segment of the current line, not yet published
    /// (meaningful only when `has_held`). At most `max_line` bytes: longer segments are cut.
    held: Vec<u8>,
    has_held: bool,
    /// A segment of the current line was published when a read ended: if the line ends with
    /// nothing new, it was the line.
    shown: bool,
    out: Output,
    counts: SplitCounts,
}

impl LineState {
    /// Publishes the pieces of `seg` over `max_line` as lines; returns the rest.
    fn cut_long<'s>(&mut self, mut seg: &'s [u8]) -> &'s [u8] {
        while seg.len() > self.max_line {
            let at = cut(seg, self.max_line);
            self.counts.cuts += 1;
            self.out.push(Piece::Line, &seg[..at]);
            seg = &seg[at..];
        }
        seg
    }

    fn overdraw_held(&mut self) {
        if self.has_held {
            self.out.push(Piece::Overdrawn, &self.held);
            self.counts.overdrawn += 1;
            self.has_held = false;
        }
    }

    /// A segment ended with a `\r`.
    fn end_segment(&mut self, seg: &[u8]) {
        if seg.is_empty() {
            return;
        }
        // Overdrawn before any piece of the new segment is published: order is stream order.
        self.overdraw_held();
        let seg = self.cut_long(seg);
        self.held.clear();
        self.held.extend_from_slice(seg);
        self.has_held = true;
    }

    /// A line ended with a `\n` (or the stream ended); `seg` is its last segment.
    fn end_line(&mut self, seg: &[u8]) {
        if !seg.is_empty() {
            self.overdraw_held();
            let seg = self.cut_long(seg);
            self.out.push(Piece::Line, seg);
        } else if self.has_held {
            self.out.push(Piece::Line, &self.held);
        } else if !self.shown {
            self.out.push(Piece::Line, b"");
        }
        self.has_held = false;
        self.shown = false;
    }
}

/// Splits a stream of bytes, arriving in chunks of any size, into lines (see the module doc).
///
/// Memory is bounded whatever the input: the pending segment and the held one are each at
/// most `max_line` bytes after every call, and the output buffer holds one call's pieces.
#[derive(Debug)]
pub(crate) struct LineSplitter {
    /// The segment being read: the bytes since the last `\r` or `\n`.
    seg: Vec<u8>,
    line: LineState,
}

impl LineSplitter {
    /// `max_line` is at least 1 (a zero limit would cut forever).
    pub fn new(max_line: usize) -> Self {
        LineSplitter {
            seg: Vec::new(),
            line: LineState {
                max_line: max_line.max(1),
                held: Vec::new(),
                has_held: false,
                shown: false,
                out: Output::default(),
                counts: SplitCounts::default(),
            },
        }
    }

    fn pieces(&self) -> Pieces<'_> {
        Pieces { bytes: &self.line.out.bytes, ends: self.line.out.ends.iter(), start: 0 }
    }

    /// Takes the next chunk of the stream; returns what it completed.
    pub fn push(&mut self, chunk: &[u8]) -> Pieces<'_> {
        self.line.out.bytes.clear();
        self.line.out.ends.clear();
        let mut rest = chunk;
        while let Some(i) = memchr::memchr2(b'\r', b'\n', rest) {
            let tail = &rest[..i];
            let seg: &[u8] = if self.seg.is_empty() {
                tail
            } else {
                self.seg.extend_from_slice(tail);
                &self.seg
            };
            if rest[i] == b'\n' {
                self.line.end_line(seg);
            } else {
                self.line.end_segment(seg);
            }
            self.seg.clear();
            rest = &rest[i + 1..];
        }
        // The latest redraw first: it came before the pending text.
        if self.line.has_held {
            self.line.out.push(Piece::Line, &self.line.held);
            self.line.has_held = false;
            self.line.shown = true;
        }
        self.seg.extend_from_slice(rest);
        if crate::mutants::active(crate::mutants::SPLIT_LINE_UNJOINED) && !self.seg.is_empty() {
            // Each read taken as whole lines: the unfinished line ends here.
            let seg = std::mem::take(&mut self.seg);
            self.line.end_line(&seg);
        }
        let kept = self.line.cut_long(&self.seg).len();
        let done = self.seg.len() - kept;
        self.seg.drain(..done);
        self.pieces()
    }

    /// Moves the start of a line pending from the last read into `buf` (empty), so that the
    /// next read, appended to it, holds that line whole: what
    /// [`LineSplitter::take_whole_lines`] needs. Only when nothing else of the line is pending
    /// (no redraw held or shown): pushing `buf` then is pushing the pending text and the read in
    /// turn. [`LineSplitter::unlend`] takes it back if no read follows.
    pub fn lend_pending(&mut self, buf: &mut Vec<u8>) {
        if buf.is_empty() && self.only_text_pending() {
            buf.extend_from_slice(&self.seg);
            self.seg.clear();
        }
    }

    /// The bytes [`LineSplitter::lend_pending`] would move.
    pub fn lendable(&self) -> usize {
        if self.only_text_pending() { self.seg.len() } else { 0 }
    }

    /// No redraw of the current line is held or was shown: all that is pending is `seg`.
    fn only_text_pending(&self) -> bool {
        !self.line.has_held && !self.line.shown
    }

    /// Takes back what [`LineSplitter::lend_pending`] moved into `buf` (no read followed).
    pub fn unlend(&mut self, buf: &[u8]) {
        let mut seg = buf.to_vec();
        seg.extend_from_slice(&self.seg);
        self.seg = seg;
    }

    /// [`LineSplitter::push`] for the common case, without its machinery, taking the read's
    /// buffer as the lines' own: nothing is pending (see [`LineSplitter::lend_pending`]), and
    /// `read` is whole lines, all valid UTF-8 with no `\r`, each at most `max_line` bytes, then
    /// perhaps the start of the next line (kept, as `push` keeps it). Returns the lines as
    /// batches of at most `max_lines` ([`LineBatch::from_read`]), or, for any other read, the
    /// read back with nothing changed.
    pub fn take_whole_lines(&mut self, mut read: Vec<u8>, max_lines: usize) -> Result<Vec<LineBatch>, Vec<u8>> {
        if !self.seg.is_empty()
            || !self.only_text_pending()
            || crate::mutants::active(crate::mutants::SPLIT_LINE_UNJOINED)
        {
            return Err(read);
        }
        let Some(last) = memchr::memrchr(b'\n', &read) else { return Err(read) };
        let rest = &read[last + 1..];
        if rest.len() > self.line.max_line || memchr::memchr(b'\r', rest).is_some() {
            return Err(read);
        }
        let rest = read.split_off(last + 1);
        match LineBatch::from_read(read, max_lines, self.line.max_line) {
            Ok(batches) => {
                self.seg = rest;
                Ok(batches)
            }
            Err(mut read) => {
                read.extend_from_slice(&rest);
                Err(read)
            }
        }
    }

    /// The stream ended: returns the unfinished line, if there is one.
    pub fn finish(&mut self) -> Pieces<'_> {
        self.line.out.bytes.clear();
        self.line.out.ends.clear();
        if !self.seg.is_empty() || self.line.has_held {
            let seg = std::mem::take(&mut self.seg);
            self.line.end_line(&seg);
        }
        self.pieces()
    }

    /// The counts since the last call.
    pub fn take_counts(&mut self) -> SplitCounts {
        std::mem::take(&mut self.line.counts)
    }
}

/// A piece's text: a line is decoded once, when complete, so a character split across reads
/// is joined first. Valid UTF-8 (the common case) is checked with the fast validator and
/// borrowed.
fn text(bytes: &[u8]) -> Cow<'_, str> {
    match std::str::from_utf8(bytes) {
        Ok(s) => Cow::Borrowed(s),
        Err(_) => String::from_utf8_lossy(bytes),
    }
}

/// Reads what is already waiting in `src` into `buf`'s spare room, without waiting for more:
/// a child that floods often has written more by the time a read returns (a pipe read
/// returns as soon as one page is in), and taking it now makes one batch of what would be
/// several, each with its wake-ups downstream. Stops at the first read that would wait, at the
/// end of the stream or an error (the next read reports those), or when `buf` is full.
async fn read_ready(src: &mut (impl AsyncRead + Unpin), buf: &mut Vec<u8>) {
    while buf.len() < buf.capacity() {
        let got = std::future::poll_fn(|cx| {
            let read = std::pin::pin!(src.read_buf(&mut *buf));
            match read.poll(cx) {
                std::task::Poll::Ready(Ok(n)) => std::task::Poll::Ready(n),
                // Would wait (the waker it registered at most polls this task once more), or
                // failed: stop here. (A `read_buf` dropped before it is ready read nothing.)
                std::task::Poll::Ready(Err(_)) | std::task::Poll::Pending => std::task::Poll::Ready(0),
            }
        })
        .await;
        if got == 0 {
            break;
        }
    }
}

/// What the reading stage hands the detecting stage, in stream order.
#[derive(Debug, PartialEq)]
pub(crate) enum Split {
    /// Lines to publish (detection reads them first).
    Lines(LineBatch),
    /// A segment a later one overdrew: for detection only.
    Overdrawn(String),
}

/// The first stage of a stream: reads the pipe, splits the bytes into lines, and decodes and
/// strips each line once, into batches; hands each read's batches to the [`LinePublisher`].
/// Two stages so that, on a flood, reading and splitting run beside detection and publishing
/// instead of before them (they take about the same time per line).
pub(crate) struct Reader {
    pub process: ProcessRef,
    pub max_line: usize,
    /// Lines a batch holds at most (`log_batch_lines`).
    pub batch_lines: usize,
    pub split: Counter,
    pub overdrawn: Counter,
    /// To the publisher: at most [`super::DETECT_QUEUE_READS`] reads ahead.
    pub tx: mpsc::Sender<Vec<Split>>,
}

/// One read (after [`LineSplitter::lend_pending`]), as batches and overdrawn segments in
/// stream order: whole lines (the common case) take the read's buffer as theirs, leaving `read`
/// empty; anything else goes through [`LineSplitter::push`], leaving `read` cleared with its
/// room kept. `batch` is the carry of the general path, empty between calls.
fn split_read(
    splitter: &mut LineSplitter,
    batch: &mut LineBatch,
    read: &mut Vec<u8>,
    max_line: usize,
    max_lines: usize,
) -> Vec<Split> {
    match splitter.take_whole_lines(std::mem::take(read), max_lines) {
        Ok(batches) => batches.into_iter().map(Split::Lines).collect(),
        Err(back) => {
            *read = back;
            let out = collect(splitter.push(read), batch, max_line, max_lines);
            read.clear();
            out
        }
    }
}

/// The pieces of one read, as batches and overdrawn segments in stream order.
fn collect(pieces: Pieces<'_>, batch: &mut LineBatch, max_line: usize, max_lines: usize) -> Vec<Split> {
    // Whole lines of valid UTF-8 that fit one batch (what `take_whole_lines` leaves to this
    // path: lines cut at `max_line`, the last line at EOF): the lines are taken at once (one
    // UTF-8 check) instead of one by one. Pieces are cut
    // at `\r`, `\n` or a character boundary, so each piece of valid text is valid text;
    // a `max_line` under 4 could cut a character, so it takes the general path.
    if let Some((bytes, ends)) = pieces.all_lines()
        && batch.is_empty()
        && max_line >= 4
        && bytes.len() < BATCH_BYTES_MAX + max_line
        && let Ok(text) = std::str::from_utf8(bytes)
    {
        // At most `max_lines` lines a batch: more make several, each from its own part.
        let mut start = 0;
        let mut out = Vec::new();
        for group in ends.chunks(max_lines.max(1)) {
            let end = group.last().map_or(start, |(_, e)| *e);
            let part = text.get(start..end).expect("pieces of valid UTF-8 end on character boundaries");
            let b = LineBatch::from_lines(part, group.iter().map(|(_, e)| e - start))
                .expect("pieces of valid UTF-8 end on character boundaries");
            out.push(Split::Lines(b));
            start = end;
        }
        return out;
    }
    let mut out = Vec::new();
    for (kind, bytes) in pieces {
        match kind {
            Piece::Line => {
                batch.push(&text(bytes));
                if batch.is_full(max_lines) {
                    out.push(Split::Lines(batch.take()));
                }
            }
            Piece::Overdrawn => {
                if !batch.is_empty() {
                    out.push(Split::Lines(batch.take()));
                }
                out.push(Split::Overdrawn(text(bytes).into_owned()));
            }
        }
    }
    if !batch.is_empty() {
        out.push(Split::Lines(batch.take()));
    }
    out
}

impl Reader {
    fn count(&self, splitter: &mut LineSplitter) {
        let counts = splitter.take_counts();
        self.split.add(counts.cuts);
        self.overdrawn.add(counts.overdrawn);
    }

    /// Reads `src` to EOF (a final line without a newline included); the publisher ends when
    /// this drops its sender.
    pub async fn run(self, mut src: impl AsyncRead + Unpin) {
        let mut splitter = LineSplitter::new(self.max_line);
        let mut batch = LineBatch::new();
        let mut buf = Vec::new();
        loop {
            // Room for the line pending from the last read, then one read: whole lines take
            // the buffer as theirs, so most reads start a new one.
            if buf.is_empty() {
                let room = splitter.lendable() + READ_CHUNK_BYTES;
                if buf.capacity() < room {
                    buf = Vec::with_capacity(room);
                }
                splitter.lend_pending(&mut buf);
            }
            match src.read_buf(&mut buf).await {
                Ok(0) => break,
                Ok(_) => {}
                Err(e) if e.kind() == std::io::ErrorKind::Interrupted => continue,
                Err(e) => {
                    tracing::warn!(process = %self.process, error = %e, "reading child output failed");
                    break;
                }
            }
            read_ready(&mut src, &mut buf).await;
            let out = split_read(&mut splitter, &mut batch, &mut buf, self.max_line, self.batch_lines);
            self.count(&mut splitter);
            if !out.is_empty() && self.tx.send(out).await.is_err() {
                return;
            }
        }
        // What was lent for a read that never came.
        splitter.unlend(&buf);
        let out = collect(splitter.finish(), &mut batch, self.max_line, self.batch_lines);
        self.count(&mut splitter);
        if !out.is_empty() {
            let _ = self.tx.send(out).await;
        }
    }
}

/// The second stage of a stream: runs detection over each line's plain text and publishes the
/// lines and what detection found, then tells the dispatcher the stream is done.
pub(crate) struct LinePublisher<R: Runtime> {
    /// Its clock times the quiet period that closes an open error group.
    pub rt: R,
    pub bus: EventBus<R>,
    pub process: ProcessRef,
    pub stream: Stream,
    pub tx: mpsc::Sender<Msg>,
    pub lines: Counter,
    /// Detection on ingest: errors, URLs, build and test events, per stream.
    pub detector: Detector,
    /// URLs this instance already announced, on either stream (each is published once).
    pub urls: std::sync::Arc<std::sync::Mutex<UrlSet>>,
    pub found: Vec<Detection>,
    /// Resolves once the instance's `ProcessStarted` is published: no line may reach the bus
    /// before it. (A dropped sender also releases the publisher.)
    pub started: Option<tokio::sync::oneshot::Receiver<()>>,
    /// The events of the current read, published together.
    pub out: Vec<Event>,
}

impl<R: Runtime> LinePublisher<R> {
    /// Detection over one batch, into `self.out`: the batch is cut right after each line that
    /// completed a detection, whose events come next. So a detection always follows the line
    /// that completed it and precedes the lines after it, and the lines keep consecutive
    /// sequence numbers between detections. A batch with no detection is published whole.
    fn detect(&mut self, batch: LineBatch) {
        let (mut start, mut i) = (0, 0);
        let deferred = crate::mutants::active(crate::mutants::DETECTIONS_AFTER_READ);
        while i < batch.len() {
            i = self.detector.feed_batch(&batch, i, self.stream, &mut self.found);
            if !self.found.is_empty() && !deferred {
                self.push_lines(batch.slice(start..i));
                self.push_found();
                start = i;
            }
        }
        match start {
            0 => self.push_lines(batch),
            s if s < batch.len() => self.push_lines(batch.slice(s..batch.len())),
            _ => {}
        }
    }

    fn push_lines(&mut self, lines: LineBatch) {
        self.lines.add(lines.len() as u64);
        self.out.push(Event::LogLines { process: self.process.clone(), stream: self.stream, lines: Arc::new(lines) });
    }

    fn push_found(&mut self) {
        for d in std::mem::take(&mut self.found) {
            if let Detection::Url(u) = &d
                && !self.urls.lock().unwrap_or_else(|e| e.into_inner()).insert(u)
            {
                continue;
            }
            self.out.push(Event::detected(self.process.clone(), d));
        }
    }

    /// Publishes what one read produced, in one pass over the subscribers.
    async fn publish(&mut self) {
        if crate::mutants::active(crate::mutants::LINES_THROUGH_DISPATCHER) && !self.out.is_empty() {
            let (reply, leave) = tokio::sync::oneshot::channel();
            if self.tx.send(Msg::LinesGate { reply }).await.is_ok() {
                // A dispatcher that ended answers no more: publish anyway.
                let _ = leave.await;
            }
        }
        // A closed bus means brum is shutting down; the rest of the output has nowhere to go.
        let _ = self.bus.publish_all(std::mem::take(&mut self.out)).await;
    }

    /// Publishes every read the [`Reader`] hands over until it ends, then what detection still
    /// held, then tells the dispatcher this stream is done.
    pub async fn run(mut self, mut rx: mpsc::Receiver<Vec<Split>>) {
        if let Some(started) = self.started.take()
            && !crate::mutants::active(crate::mutants::READERS_UNGATED)
        {
            let _ = started.await;
        }
        loop {
            // An error group waits for the line that ends it; a stream that goes quiet for
            // QUIET_CLOSE reports it as it is (dev servers go quiet right after a stack).
            let quiet = self.detector.has_open_group() && !crate::mutants::active(crate::mutants::NO_QUIET_CLOSE);
            let read = if quiet {
                tokio::select! {
                    biased;
                    read = rx.recv() => read,
                    _ = self.rt.sleep(crate::detect::QUIET_CLOSE) => {
                        self.found = self.detector.close_quiet();
                        self.push_found();
                        self.publish().await;
                        continue;
                    }
                }
            } else {
                rx.recv().await
            };
            let Some(read) = read else { break };
            for split in read {
                match split {
                    Split::Lines(batch) => self.detect(batch),
                    Split::Overdrawn(text) => {
                        self.detector.feed_into(&text, self.stream, &mut self.found);
                        self.push_found();
                    }
                }
            }
            // Only the mutant leaves detections here: the real publisher cut after each.
            self.push_found();
            self.publish().await;
        }
        self.found = self.detector.finish();
        self.push_found();
        self.publish().await;
        let _ = self.tx.send(Msg::Eof { id: self.process.id.0, stream: self.stream }).await;
    }
}

#[cfg(test)]
mod tests {
    use proptest::prelude::*;

    use super::{LineSplitter, Piece, SplitCounts, cut};
    use crate::lines::LineBatch;

    /// Feeds `chunks` (then EOF) through a splitter; returns every piece and the counts.
    fn split(max_line: usize, chunks: &[&[u8]]) -> (Vec<(Piece, String)>, SplitCounts) {
        let mut s = LineSplitter::new(max_line);
        let mut out = Vec::new();
        let mut counts = SplitCounts::default();
        let text = |(k, b): (Piece, &[u8])| (k, String::from_utf8_lossy(b).into_owned());
        for c in chunks {
            out.extend(s.push(c).map(text));
            counts = add(counts, s.take_counts());
        }
        out.extend(s.finish().map(text));
        counts = add(counts, s.take_counts());
        (out, counts)
    }

    fn add(a: SplitCounts, b: SplitCounts) -> SplitCounts {
        SplitCounts { cuts: a.cuts + b.cuts, overdrawn: a.overdrawn + b.overdrawn }
    }

    /// The published lines only.
    fn lines(max_line: usize, chunks: &[&[u8]]) -> Vec<String> {
        split(max_line, chunks).0.into_iter().filter(|(k, _)| *k == Piece::Line).map(|(_, l)| l).collect()
    }

    /// Every way to cut `input` into two chunks, and one chunk per byte.
    fn chunkings(input: &[u8]) -> Vec<Vec<&[u8]>> {
        let mut all: Vec<Vec<&[u8]>> = (0..=input.len()).map(|i| vec![&input[..i], &input[i..]]).collect();
        all.push(input.chunks(1).collect());
        all
    }

    #[test]
    fn cut_never_splits_a_character() {
        assert_eq!(cut(b"abcdef", 4), 4);
        assert_eq!(cut(b"ab", 4), 2);
        let s = "aé€x".as_bytes(); // a(1) é(2) €(3) x(1)
        assert_eq!(cut(s, 2), 1);
        assert_eq!(cut(s, 3), 3);
        assert_eq!(cut(s, 5), 3);
        assert_eq!(cut(s, 6), 6);
    }

    #[test]
    fn lines_end_at_newline_and_the_last_line_needs_none() {
        assert_eq!(lines(64, &[b"one\ntwo\n\nthree"]), ["one", "two", "", "three"]);
        assert_eq!(lines(64, &[b"one\r\ntwo\r\n"]), ["one", "two"]);
        assert_eq!(lines(64, &[b"\n"]), [""]);
        assert_eq!(lines(64, &[b"\r\n"]), [""]);
        assert!(lines(64, &[b""]).is_empty());
        assert!(lines(64, &[]).is_empty());
    }

    /// Bug: a line of exactly `max_line` bytes followed by CRLF published the line and then an
    /// empty one (the carry held the line plus the `\r`, one byte over the limit, so it was cut
    /// into the line and a lone `\r`, stripped to nothing). Every chunking, including the one
    /// with the `\r` and the `\n` in different reads.
    #[test]
    fn line_of_exactly_max_line_then_crlf_is_one_line_not_two() {
        let input = b"12345678\r\n";
        for chunks in chunkings(input) {
            let (pieces, counts) = split(8, &chunks);
            assert_eq!(pieces, [(Piece::Line, "12345678".to_string())], "chunks {chunks:?}");
            assert_eq!(counts, SplitCounts::default(), "chunks {chunks:?}");
        }
        // The same at EOF without the \n, and with a line after it.
        assert_eq!(lines(8, &[b"12345678\r"]), ["12345678"]);
        assert_eq!(lines(8, &[b"12345678\r\nnext\n"]), ["12345678", "next"]);
    }

    #[test]
    fn a_line_over_max_line_is_cut_into_pieces_and_the_cuts_counted() {
        for chunks in chunkings(b"123456789\r\n") {
            let (pieces, counts) = split(8, &chunks);
            let want = [(Piece::Line, "12345678".to_string()), (Piece::Line, "9".to_string())];
            assert_eq!(pieces, want, "chunks {chunks:?}");
            assert_eq!(counts.cuts, 1);
        }
        // Output that never prints a newline is published in pieces as it fills.
        let mut s = LineSplitter::new(4);
        let got: Vec<_> = s.push(b"abcdefghij").map(|(_, b)| b.to_vec()).collect();
        assert_eq!(got, [b"abcd".to_vec(), b"efgh".to_vec()]);
        assert_eq!(s.take_counts().cuts, 2);
        let got: Vec<_> = s.finish().map(|(_, b)| b.to_vec()).collect();
        assert_eq!(got, [b"ij".to_vec()]);
        // A long segment overdrawing a short one: the short one comes out first (found by the
        // proptest below).
        let (pieces, _) = split(4, &["a\r😀😀\r".as_bytes()]);
        let want = [(Piece::Overdrawn, "a"), (Piece::Line, "😀"), (Piece::Line, "😀")].map(|(k, t)| (k, t.to_string()));
        assert_eq!(pieces, want);
    }

    /// Bug: `\r`-only progress (`printf '10%\r20%\r30%\r'`, then silence) was invisible until a
    /// newline came. The latest redraw is published when the read ends; the ones it overdrew in
    /// the same read are counted, not published.
    #[test]
    fn cr_only_progress_is_shown_before_any_newline() {
        let mut s = LineSplitter::new(64);
        let got: Vec<_> =
            s.push(b"10%\r20%\r30%\r").map(|(k, b)| (k, String::from_utf8_lossy(b).into_owned())).collect();
        assert_eq!(
            got,
            [(Piece::Overdrawn, "10%".into()), (Piece::Overdrawn, "20%".into()), (Piece::Line, "30%".into())]
        );
        assert_eq!(s.take_counts(), SplitCounts { cuts: 0, overdrawn: 2 });
        // A redraw split across reads: the first read shows the last complete one and keeps
        // the rest as the start of the next.
        let got: Vec<_> = s.push(b"40%\r5").map(|(k, b)| (k, b.to_vec())).collect();
        assert_eq!(got, [(Piece::Line, b"40%".to_vec())]);
        let got: Vec<_> = s.push(b"0%\r").map(|(k, b)| (k, b.to_vec())).collect();
        assert_eq!(got, [(Piece::Line, b"50%".to_vec())]);
        // The bar finishes with a newline: the final text is the line, nothing repeats.
        let got: Vec<_> = s.push(b"done\n").map(|(k, b)| (k, b.to_vec())).collect();
        assert_eq!(got, [(Piece::Line, b"done".to_vec())]);
        assert!(s.finish().next().is_none());
    }

    #[test]
    fn a_shown_redraw_ended_by_a_newline_in_the_next_read_is_not_repeated() {
        assert_eq!(lines(64, &[b"100%\r", b"\n", b"next\n"]), ["100%", "next"]);
        assert_eq!(lines(64, &[b"100%\r", b"\r\n"]), ["100%"]);
        assert_eq!(lines(64, &[b"100%\r"]), ["100%"], "EOF after a shown redraw adds nothing");
    }

    #[test]
    fn a_line_publishes_what_a_terminal_shows_and_detection_reads_the_rest() {
        let (pieces, counts) = split(64, &[b"abc\rdef\n"]);
        assert_eq!(pieces, [(Piece::Overdrawn, "abc".to_string()), (Piece::Line, "def".to_string())]);
        assert_eq!(counts.overdrawn, 1);
        // Empty segments overdraw nothing: a leading \r, \r\r\n.
        assert_eq!(lines(64, &[b"\rabc\n"]), ["abc"]);
        assert_eq!(lines(64, &[b"abc\r\r\n"]), ["abc"]);
        assert_eq!(lines(64, &[b"\r\r\n"]), [""]);
        // An error a progress redraw covered still reaches detection.
        let (pieces, _) = split(64, &[b"error: disk full\r 50% \n"]);
        assert_eq!(pieces[0], (Piece::Overdrawn, "error: disk full".to_string()));
        assert_eq!(pieces[1], (Piece::Line, " 50% ".to_string()));
    }

    #[test]
    fn characters_split_across_reads_are_joined() {
        let input = "aé€😀\n€€\n".as_bytes();
        for chunks in chunkings(input) {
            assert_eq!(lines(64, &chunks), ["aé€😀", "€€"], "chunks {chunks:?}");
        }
        // Cut pieces never split a character either, whatever the reads.
        let input = "€€€😀😀\n".as_bytes(); // 3+3+3+4+4 bytes
        for chunks in chunkings(input) {
            assert_eq!(lines(7, &chunks), ["€€", "€😀", "😀"], "chunks {chunks:?}");
        }
    }

    #[test]
    fn pending_memory_stays_under_max_line_for_endless_output_without_newlines() {
        let mut s = LineSplitter::new(16);
        for _ in 0..1000 {
            let _ = s.push(&[b'x'; 1000]).count();
            let _ = s.push(b"\rprogress\r").count();
            assert!(s.seg.len() <= 16 && s.line.held.len() <= 16, "{} {}", s.seg.len(), s.line.held.len());
        }
    }

    /// Cuts `input` into chunks at the given (sorted, deduplicated) positions.
    fn chunk_at<'a>(input: &'a [u8], cuts: &[usize]) -> Vec<&'a [u8]> {
        let mut at: Vec<usize> = cuts.iter().map(|c| c % (input.len() + 1)).collect();
        at.sort_unstable();
        at.dedup();
        let mut out = Vec::new();
        let mut start = 0;
        for a in at {
            out.push(&input[start..a]);
            start = a;
        }
        out.push(&input[start..]);
        out
    }

    /// Every line (its text, plain text and whether it was styled) and overdrawn segment the
    /// reads of `chunks` yield, through [`super::split_read`] or, with `whole_lines` off, the
    /// general path alone.
    fn reads(chunks: &[&[u8]], max_line: usize, max_lines: usize, whole_lines: bool) -> Vec<String> {
        use super::{Split, collect, split_read};
        let mut s = LineSplitter::new(max_line);
        let mut batch = LineBatch::new();
        let mut out = Vec::new();
        let flat = |out: &mut Vec<String>, splits: Vec<Split>| {
            for split in splits {
                match split {
                    Split::Lines(b) => {
                        assert!(!b.is_empty() && b.len() <= max_lines.max(1), "a batch of {} lines", b.len());
                        out.extend(b.iter().map(|l| format!("line {:?} {:?} {}", l.text, l.plain, l.styled)));
                    }
                    Split::Overdrawn(t) => out.push(format!("overdrawn {t:?}")),
                }
            }
        };
        for c in chunks {
            let splits = if whole_lines {
                // As the reader reads: the pending line lent to the buffer, the read after it.
                let mut read = Vec::new();
                s.lend_pending(&mut read);
                read.extend_from_slice(c);
                split_read(&mut s, &mut batch, &mut read, max_line, max_lines)
            } else {
                collect(s.push(c), &mut batch, max_line, max_lines)
            };
            flat(&mut out, splits);
            // Which read a line comes out of is part of what must match.
            out.push("end of read".to_owned());
        }
        flat(&mut out, collect(s.finish(), &mut batch, max_line, max_lines));
        out
    }

    /// A read of whole lines takes the one-pass path, in the read's own buffer, and it yields
    /// what the general path does: the same lines, stripped the same, in batches of the same
    /// bound; a read with a `\r`, a long line or invalid UTF-8 does not take it.
    #[test]
    fn whole_lines_take_one_pass_and_yield_what_the_general_path_does() {
        let read = |s: &mut LineSplitter, bytes: &[u8], max_lines: usize| {
            let mut buf = Vec::new();
            s.lend_pending(&mut buf);
            buf.extend_from_slice(bytes);
            let at = buf.as_ptr();
            s.take_whole_lines(buf, max_lines).inspect(|b| {
                // No copy: the first batch's text is where the read was.
                assert_eq!(b[0].get(0).map(|l| l.text.as_ptr()), Some(at), "the read's own buffer");
            })
        };
        let mut s = LineSplitter::new(64);
        let b = read(&mut s, b"one\ntwo \x1b[31mred\x1b[0m\nthr", 1).expect("whole lines");
        assert_eq!(b.len(), 2);
        assert_eq!(b[1].get(0).map(|l| (l.plain, l.styled)), Some(("two red", true)));
        // The line pending from the last read is lent to the next read's buffer.
        let b = read(&mut s, b"ee\nfour\n", 4).expect("a pending line, then whole lines");
        assert_eq!(b.iter().flat_map(|b| b.iter().map(|l| l.text)).collect::<Vec<_>>(), ["three", "four"]);
        // Not when the pending line and its end are too long together, or not valid UTF-8
        // together: the read comes back whole.
        let mut s = LineSplitter::new(8);
        assert!(read(&mut s, b"x\n01234", 4).is_ok());
        assert_eq!(read(&mut s, b"5678\n", 4).expect_err("nine bytes"), b"012345678\n");
        let mut s = LineSplitter::new(8);
        assert!(read(&mut s, b"x\n\xe2\x82", 4).is_ok());
        assert_eq!(read(&mut s, b"x\n", 4).expect_err("a cut character, not finished"), b"\xe2\x82x\n");
        for chunk in [&b"a\rb\n"[..], b"a\nb\r", b"0123456789\n", b"\xff\n", b"no newline"] {
            assert_eq!(LineSplitter::new(8).take_whole_lines(chunk.to_vec(), 4).expect_err("general"), chunk);
        }
        // Nothing is lent while a redraw is pending, and the read is not taken then.
        let mut s = LineSplitter::new(8);
        let _ = s.push(b"50%\r");
        let mut buf = Vec::new();
        s.lend_pending(&mut buf);
        assert!(buf.is_empty() && s.lendable() == 0);
        assert!(s.take_whole_lines(b"done\n".to_vec(), 4).is_err());
        // A lent line with no read after it is taken back.
        let mut s = LineSplitter::new(8);
        let _ = s.push(b"par");
        let mut buf = Vec::new();
        s.lend_pending(&mut buf);
        assert_eq!(buf, b"par");
        s.unlend(&buf);
        let lines: Vec<Vec<u8>> = s.finish().map(|(_, t)| t.to_vec()).collect();
        assert_eq!(lines, [b"par".to_vec()]);
        // Over BATCH_BYTES_MAX: batches close at the byte bound too, sharing the read's buffer.
        let line = "x".repeat(999);
        let big = format!("{line}\n").repeat(600);
        let b = LineSplitter::new(1000).take_whole_lines(big.clone().into_bytes(), 4096).expect("whole lines");
        assert_eq!(b.iter().map(LineBatch::len).sum::<usize>(), 600);
        assert!(b.len() >= 3, "{} batches", b.len());
        assert!(b.iter().all(|b| b.bytes() <= super::BATCH_BYTES_MAX + 1000), "each batch within the bound");
        let general = reads(&[big.as_bytes()], 1000, 4096, false);
        assert_eq!(reads(&[big.as_bytes()], 1000, 4096, true), general);
    }

    proptest! {
        /// However the reads fall, the one-pass path and the general path yield the same.
        #[test]
        fn split_read_matches_the_general_path_under_any_chunking(
            input in "([a-c€😀 ]|\r|\n|\x1b\\[3[12]m|\x1b\\[2J|\x07){0,80}",
            cuts in proptest::collection::vec(0usize..200, 0..8),
            max_line in 4usize..12,
            max_lines in 1usize..5,
        ) {
            let chunks = chunk_at(input.as_bytes(), &cuts);
            prop_assert_eq!(
                reads(&chunks, max_line, max_lines, true),
                reads(&chunks, max_line, max_lines, false)
            );
        }

        /// Without `\r`, the lines are `input.split('\n')` (no final empty line after a final
        /// `\n`), however the reads fall.
        #[test]
        fn without_cr_lines_are_split_on_newline_under_any_chunking(
            input in "[a-z€😀\\n]{0,60}",
            cuts in proptest::collection::vec(0usize..100, 0..8),
        ) {
            let chunks = chunk_at(input.as_bytes(), &cuts);
            let mut want: Vec<&str> = input.split('\n').collect();
            if input.is_empty() || input.ends_with('\n') {
                want.pop();
            }
            let (pieces, counts) = split(input.len().max(1), &chunks);
            prop_assert!(pieces.iter().all(|(k, _)| *k == Piece::Line));
            prop_assert_eq!(pieces.iter().map(|(_, l)| l.as_str()).collect::<Vec<_>>(), want);
            prop_assert_eq!(counts, SplitCounts::default());
        }

        /// With `\r` and a small limit: no byte is lost or repeated (every non-empty segment
        /// comes out once, published or overdrawn), pieces respect the limit and hold no line
        /// ending, and what detection reads does not depend on the reads.
        #[test]
        fn every_segment_comes_out_once_under_any_chunking(
            input in "[a-c€😀\\r\\n]{0,60}",
            cuts in proptest::collection::vec(0usize..100, 0..8),
            max_line in 4usize..10,
        ) {
            let chunks = chunk_at(input.as_bytes(), &cuts);
            let (pieces, _) = split(max_line, &chunks);
            let joined: String = pieces.iter().map(|(_, l)| l.as_str()).collect();
            prop_assert_eq!(joined, input.replace(['\r', '\n'], ""));
            for (_, l) in &pieces {
                prop_assert!(l.len() <= max_line && !l.contains(['\r', '\n']), "{:?}", l);
            }
            let (whole, _) = split(max_line, &[input.as_bytes()]);
            let texts = |p: &[(Piece, String)]| p.iter().map(|(_, l)| l.clone()).collect::<Vec<_>>();
            prop_assert_eq!(texts(&pieces), texts(&whole));
        }
    }
}
