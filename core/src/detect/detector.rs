//! The per-process [`Detector`]: feeds lines through the open group, then the one-line
//! recognisers (build, test, URL), and reports what it finds.

use super::group::{self, Open, Step};
use super::model::{Build, BuildOutcome, Detection, ErrorKind, FailedTest, Location, TestSummary};
use super::outcome::{self, BuildLine, GoTally, NodeTally, Probe};
use super::scan::blank;
use super::url;
use super::{FAILURES_MAX, GROUP_SPAN_MAX};
use crate::ansi;
use crate::lines::LineBatch;
use crate::process::Stream;

/// After `Failed to compile.`, the location line (`./app/page.tsx:5:9`) must come within this
/// many lines (Next.js and create-react-app print one blank line between).
const FAILED_TO_COMPILE_WAIT: u8 = 3;

/// What one detector has seen and dropped: every limit has its counter here.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct DetectorStats {
    /// Lines fed.
    pub lines: u64,
    pub errors: u64,
    pub urls: u64,
    pub builds: u64,
    pub tests: u64,
    /// Lines that belonged to a group but were over [`GROUP_LINES_MAX`](super::GROUP_LINES_MAX).
    pub group_lines_dropped: u64,
    /// Groups closed because they reached [`GROUP_SPAN_MAX`] lines.
    pub groups_cut: u64,
    /// Bytes cut from kept lines and messages over
    /// [`LINE_BYTES_MAX`](super::LINE_BYTES_MAX) / [`MESSAGE_BYTES_MAX`](super::MESSAGE_BYTES_MAX).
    pub bytes_truncated: u64,
    /// Groups that looked like errors but never confirmed (a Node `file:line` header with no
    /// error line after it, a `TypeError: x` line with no stack).
    pub tentative_dropped: u64,
    /// Warning groups consumed so their bodies cannot start errors.
    pub warnings_suppressed: u64,
    /// Groups reported because their stream went quiet ([`Detector::close_quiet`]).
    pub quiet_closes: u64,
    /// Stack frames parsed but not kept, over [`FRAMES_MAX`](super::FRAMES_MAX) per error.
    pub frames_dropped: u64,
    /// Failing tests not listed in their summary, over [`FAILURES_MAX`].
    pub failures_dropped: u64,
    /// Failure reports a runner repeats in its recap (jest's `Summary of all failing tests`,
    /// node's `✖ failing tests:`), consumed and not reported again.
    pub test_recaps_skipped: u64,
    /// Lines passed over by the inert-line gate (`detector::inert`; included in `lines`).
    pub lines_inert: u64,
}

/// Detection state for one output stream of a process, in arrival order (the supervisor runs
/// one per stream).
///
/// Feed every line with [`Detector::feed`]; call [`Detector::finish`] at EOF so a group still
/// open is reported. A group closes on the first line that does not continue it (or a blank
/// line, where the format ends on one), or after [`GROUP_SPAN_MAX`] lines. No clock: a group
/// left open by a process that prints nothing more is reported at `finish`.
#[derive(Debug, Default, Clone)]
pub struct Detector {
    open: Option<Open>,
    /// Build outcomes seen: after the first, a success is a rebuild.
    builds_seen: u64,
    /// The process printed Next.js's banner: `Failed to compile.` is Next's.
    next_seen: bool,
    /// The stream printed a tsc diagnostic (`error TS`): a bare `Found 4 errors.` is tsc's,
    /// not Ruff's.
    tsc_seen: bool,
    /// The path ESLint's stylish format printed last, until a blank line: its messages follow.
    eslint_file: Option<String>,
    /// Lines left in which a `Failed to compile.` location may come.
    expect_location: u8,
    go: GoTally,
    node: NodeTally,
    /// mocha's counts, printed before its failure reports: reported once every failure has
    /// been read (or the stream ends or goes quiet), so the summary lists them.
    mocha: Option<TestSummary>,
    /// Failing tests since the last test summary, for the next one: at most [`FAILURES_MAX`].
    failures: Vec<FailedTest>,
    /// Inside jest's `Summary of all failing tests`: its `●` blocks repeat earlier ones.
    jest_recap: bool,
    /// Every line takes the whole chain of recognisers, [`inert`] or not (the differential
    /// tests compare the two).
    #[cfg(test)]
    pub(crate) ungated: bool,
    /// Lines [`Detector::feed_batch`] passed over in runs (not one by one), for the tests.
    #[cfg(test)]
    pub(crate) passed_in_runs: u64,
    stats: DetectorStats,
}

/// A line that is only a source file's path, as ESLint's stylish format prints before a file's
/// messages: no space, a directory, a JavaScript or TypeScript extension.
fn is_source_path(line: &str) -> bool {
    const EXTENSIONS: [&str; 11] =
        [".js", ".jsx", ".ts", ".tsx", ".mjs", ".cjs", ".mts", ".cts", ".vue", ".svelte", ".astro"];
    !line.contains(' ') && line.contains('/') && EXTENSIONS.iter().any(|e| line.ends_with(e))
}

/// Whether no recogniser of [`Detector::fresh`] can find anything in `line` or change any state
/// for it, on a detector [at rest](Detector::at_rest). Most lines of a flood are such lines
/// (request logs, progress chatter), and this gate passes them over in one pass over their
/// bytes instead of the twenty recognisers' (see BENCHMARKS.md, ingest).
///
/// It is conservative, and every clause names what it keeps out; a line it lets through is
/// one that every recogniser rejects on its first check. (The differential tests in
/// `detect/tests.rs` compare a gated detector with an ungated one; each clause below, taken
/// out, fails them.)
/// - **No `:`**: URLs, `file:line` locations (Node's header, mypy, Ruff, Go, tsc's
///   `(4,26):`, a `Failed to compile.` location), `error:`/`Error:`/`fatal:`/`panic:` words,
///   `test result:`, `Tests:`, `--- FAIL:`.
/// - **No `[`**: `[vite] ` anywhere in a line (HMR updates, Vite's errors), `error[E0308]`,
///   `warning[...]`, and the `[tag]` prefixes [`skip_log_prefix`](super::scan::skip_log_prefix)
///   skips.
/// - **A space**: ESLint's stylish format prints a file's path alone on its line.
/// - **No `error TS`**: tsc's diagnostics anywhere in a line (the stream is then tsc's).
/// - **The first byte** (the recognisers dispatch on it) is none of: whitespace (indented
///   formats, frames, mocha's counts, ESLint's messages), a byte of a non-ASCII character
///   (every glyph a recogniser looks for, `✓` `✗` `⨯` `✖` `✘` `●` `ℹ` `▲`, leads its line), a
///   control character, a digit (timestamps, pytest's and tsc --watch's summaries), `-` `_`
///   `=` `#` (Go's `--- PASS`, cargo's `---- `, Next's `- error`, pytest's `____` sections,
///   `=== RUN`, TAP's `# tests`), or a letter that starts a recognised word without a colon:
///   `n` `o` `t` `w` (`not ok`, `npm ERR!`, `ok`, `thread '`, `webpack`) and `C` `E` `F` `S`
///   `T` `U` `W` (`Compiled`, `ERROR`, `FATAL`, `Failed`, `Finished`, `Found`, `FAILED`,
///   `Summary of all failing tests`, `Traceback`, `Tests`, `Uncaught`, `WARNING in`); nor is
///   the line led by an `AM `/`PM ` stamp.
/// - **Other capitals** do not start a Ruff rule code (`B006 Do not use ...`).
pub(crate) fn inert(line: &str) -> bool {
    let b = line.as_bytes();
    inert_lead(b)
        && memchr::memchr2(b':', b'[', b).is_none()
        && !memchr::memchr_iter(b'S', b).any(|i| error_ts_at(b, i))
}

/// Whether `b[..=i]` ends with `error TS`.
#[inline]
fn error_ts_at(b: &[u8], i: usize) -> bool {
    i >= 7 && &b[i - 7..=i] == b"error TS"
}

/// The clauses of [`inert`] that do not look for a mark (`:`, `[`, `error TS`): the first
/// byte and the space.
#[inline]
pub(super) fn inert_lead(b: &[u8]) -> bool {
    let Some(&first) = b.first() else { return false };
    let first_ok = match first {
        b'n' | b'o' | b't' | b'w' => false,
        b'a'..=b'z' => true,
        b'C' | b'E' | b'F' | b'S' | b'T' | b'U' | b'W' => false,
        b'A' | b'P' if b.get(1..3) == Some(b"M ") => false,
        b'A'..=b'Z' => !ruff_rule_led(b),
        b'!' | b'"' | b'$' | b'%' | b'&' | b'\'' | b'(' | b')' | b'*' | b'+' | b',' | b'.' | b'/' | b';' | b'<'
        | b'>' | b'?' | b'@' | b'\\' | b'^' | b'`' | b'{' | b'|' | b'}' | b'~' => true,
        _ => false,
    };
    first_ok && has_space(b)
}

/// Whether `b` holds a space: looked for byte by byte in the first 16 bytes, where it most
/// often is a few bytes in (`GET /`), before a call to memchr for the rest.
#[inline]
fn has_space(b: &[u8]) -> bool {
    let lead = b.len().min(16);
    for &c in &b[..lead] {
        if c == b' ' {
            return true;
        }
    }
    memchr::memchr(b' ', &b[lead..]).is_some()
}

/// A line's lead up to and including its first space, when that space is in its first eight
/// bytes, as the mask of those bytes and their value (the eight bytes read as one word): all
/// that [`inert_lead`] reads of such a line. (Its first byte and `AM `/`PM ` are in the lead;
/// the Ruff-code check reads past it only for a digit that, outside the first word, cannot
/// make a code; the space is found.) So two lines with the same key get the same verdict.
#[inline]
pub(super) fn lead_key(line: &[u8]) -> Option<(u64, u64)> {
    const ONES: u64 = u64::from_le_bytes([0x01; 8]);
    let word = u64::from_le_bytes(line.get(..8)?.try_into().ok()?);
    let x = word ^ (ONES * u64::from(b' '));
    // The lowest byte flagged here is the first zero byte of `x` exactly (the classic test's
    // false flags are only above a true one): the first space.
    let spaces = x.wrapping_sub(ONES) & !x & (ONES * 0x80);
    if spaces == 0 {
        return None;
    }
    let bytes = spaces.trailing_zeros() / 8 + 1;
    let mask = u64::MAX >> (64 - 8 * bytes);
    Some((mask, word & mask))
}

/// Text [`Detector::feed_batch`] looks through for marks at once: how far a line that
/// completes nothing can make it look again.
const MARK_WINDOW_BYTES: usize = 4096;

/// A line led by a capital whose first word is a Ruff rule code (`B006 Do not use mutable
/// data structures`), which [`inert`] must not pass over. (An exception's name, `KeyError`,
/// needs a `:` after it, a `[` or the line to itself, all kept out already.)
#[inline]
fn ruff_rule_led(b: &[u8]) -> bool {
    // A code has a digit by its fifth byte (most capitalised lines do not: a quick no).
    if !b.get(1..b.len().min(5)).is_some_and(|w| w.iter().any(u8::is_ascii_digit)) {
        return false;
    }
    // The first word, looked for only as far as a code can reach: four letters, five digits.
    let end = b.iter().take(10).position(|&c| c == b' ').unwrap_or(b.len());
    end <= 9 && std::str::from_utf8(&b[..end]).is_ok_and(super::group::rule_code)
}

impl Detector {
    pub fn new() -> Self {
        Self::default()
    }

    /// Reads one line (without its newline; ANSI escapes allowed) and returns what it completed:
    /// usually nothing, sometimes the group it closed and what the line itself announces.
    /// `stream` is recorded in error groups; it never makes an error.
    pub fn feed(&mut self, line: &str, stream: Stream) -> Vec<Detection> {
        let mut out = Vec::new();
        self.feed_into(line, stream, &mut out);
        out
    }

    /// [`Detector::feed`] into a caller's buffer (appends).
    pub fn feed_into(&mut self, line: &str, stream: Stream, out: &mut Vec<Detection>) {
        self.feed_plain(&ansi::strip(line), stream, out);
    }

    /// [`Detector::feed_into`] for a line already stripped of its escapes (the plain text of a
    /// [`crate::lines::LineBatch`] line): the ingest path strips each line once.
    pub fn feed_plain(&mut self, line: &str, stream: Stream, out: &mut Vec<Detection>) {
        self.stats.lines += 1;
        let line = line.trim_end_matches(['\n', '\r']);
        if self.at_rest() && inert(line) {
            self.stats.lines_inert += 1;
            return;
        }
        if let Some(mut g) = self.open.take() {
            match group::step(&mut g, line) {
                Step::Take => {
                    g.push(line);
                    if g.span as usize >= GROUP_SPAN_MAX {
                        self.stats.groups_cut += 1;
                        self.close(g, out);
                    } else {
                        self.open = Some(g);
                    }
                    return;
                }
                Step::TakeClose => {
                    g.push(line);
                    self.close(g, out);
                    return;
                }
                Step::End => {
                    g.skip();
                    self.close(g, out);
                    return;
                }
                Step::Close => self.close(g, out),
            }
        }
        self.fresh(line, stream, out);
    }

    /// Feeds lines `from..` of `batch` in order, as [`Detector::feed_plain`] would one by one,
    /// until a line completes something (appended to `out`); returns the index after the last
    /// line fed. At rest, runs of lines without escapes are looked through for marks (`:`,
    /// `[`, `S`) in one pass, 4 KiB at a time, and the lines no recogniser can read passed
    /// over (the inert-line gate, `detector::inert`): what a flood of request logs costs.
    pub fn feed_batch(&mut self, batch: &LineBatch, from: usize, stream: Stream, out: &mut Vec<Detection>) -> usize {
        let before = out.len();
        let mut i = from;
        while i < batch.len() {
            if self.at_rest() {
                i += self.pass_inert(batch, i);
            }
            let Some(line) = batch.get(i) else { break };
            self.feed_plain(line.plain, stream, out);
            i += 1;
            if out.len() > before {
                break;
            }
        }
        i
    }

    /// Passes over the [`inert`] lines that start lines `from..` of `batch` (at rest, without
    /// escapes), counted as [`Detector::feed_plain`] counts them; returns how many.
    fn pass_inert(&mut self, batch: &LineBatch, from: usize) -> usize {
        let mut passed = 0;
        // The lead of the last line found inert (see `lead_key`): a flood's lines mostly
        // start alike (`GET /`), and a line led the same way is too.
        let mut inert_key = None;
        loop {
            let (b, ends) = batch.unstyled_run(from + passed, MARK_WINDOW_BYTES);
            let mut marks = memchr::memchr3_iter(b':', b'[', b'S', b).peekable();
            let (mut start, mut run, mut stopped) = (0, 0, false);
            for end in ends {
                let line = &b[start..end];
                let key = lead_key(line);
                if key.is_none() || key != inert_key {
                    if !inert_lead(line) {
                        stopped = true;
                        break;
                    }
                    inert_key = key;
                }
                let mut marked = false;
                while let Some(&p) = marks.peek().filter(|&&p| p < end) {
                    marks.next();
                    marked |= b[p] != b'S' || error_ts_at(&b[start..], p - start);
                }
                if marked {
                    stopped = true;
                    break;
                }
                run += 1;
                start = end + 1;
            }
            passed += run;
            self.stats.lines += run as u64;
            self.stats.lines_inert += run as u64;
            #[cfg(test)]
            {
                self.passed_in_runs += run as u64;
            }
            // Stopped by a line, or nothing more in reach (the end of the batch, a line with
            // escapes, a line too long for a window): the caller feeds the next line.
            if stopped || run == 0 {
                return passed;
            }
        }
    }

    /// Reports the group still open at EOF, if any. The detector can be fed again afterwards.
    pub fn finish(&mut self) -> Vec<Detection> {
        let mut out = Vec::new();
        if let Some(g) = self.open.take() {
            self.close(g, &mut out);
        }
        self.mocha_flush(&mut out);
        self.expect_location = 0;
        out
    }

    /// Reports the open group, if any, as it stands: its stream went quiet for
    /// [`QUIET_CLOSE`](super::QUIET_CLOSE). Unlike [`Detector::finish`], the rest of the state
    /// (a pending `Failed to compile` location, the build count, the Go tally) stays.
    pub fn close_quiet(&mut self) -> Vec<Detection> {
        let mut out = Vec::new();
        if let Some(g) = self.open.take() {
            self.stats.quiet_closes += 1;
            self.close(g, &mut out);
        }
        self.mocha_flush(&mut out);
        out
    }

    /// Whether a group is open (its lines are held until it closes).
    pub fn has_open_group(&self) -> bool {
        self.open.is_some()
    }

    /// Lines held by the open group: never more than [`GROUP_LINES_MAX`](super::GROUP_LINES_MAX).
    pub fn open_group_lines(&self) -> usize {
        self.open.as_ref().map_or(0, Open::kept)
    }

    pub fn stats(&self) -> DetectorStats {
        self.stats
    }

    /// No state that a line's mere arrival changes: no open group, no `Failed to compile.`
    /// awaiting its location (each line counts down its wait), no mocha counts awaiting their
    /// failures. Only then may [`inert`] lines skip the recognisers. (A pending ESLint file
    /// does not matter: its messages are indented, and an inert line is not.)
    fn at_rest(&self) -> bool {
        #[cfg(test)]
        if self.ungated {
            return false;
        }
        self.open.is_none() && self.expect_location == 0 && self.mocha.is_none()
    }

    fn close(&mut self, g: Open, out: &mut Vec<Detection>) {
        self.stats.group_lines_dropped += u64::from(g.lines_dropped);
        self.stats.bytes_truncated += g.bytes_truncated;
        self.stats.frames_dropped += u64::from(g.frames_dropped);
        let fate = g.fate;
        let kind = g.kind;
        match g.finish() {
            Some((e, failed)) => {
                self.stats.errors += 1;
                let failure = failed.is_some();
                if let Some(f) = failed {
                    self.failed(f);
                }
                out.push(Detection::Error(e));
                if failure {
                    self.mocha_due(out);
                }
            }
            None => match fate {
                group::Fate::Suppress if kind == ErrorKind::TestFailure => self.stats.test_recaps_skipped += 1,
                group::Fate::Suppress => self.stats.warnings_suppressed += 1,
                _ => self.stats.tentative_dropped += 1,
            },
        }
    }

    /// Remembers a failing test for the next summary.
    fn failed(&mut self, f: FailedTest) {
        if self.failures.len() < FAILURES_MAX {
            self.failures.push(f);
        } else {
            self.stats.failures_dropped += 1;
        }
    }

    /// Reports mocha's summary once it has read as many failures as it counted.
    fn mocha_due(&mut self, out: &mut Vec<Detection>) {
        if self.mocha.as_ref().is_some_and(|s| s.failed > 0 && self.failures.len() >= s.failed as usize)
            && let Some(s) = self.mocha.take()
        {
            self.summary(s, out);
        }
    }

    /// Reports a pending mocha summary as it stands (the stream ended or went quiet).
    fn mocha_flush(&mut self, out: &mut Vec<Detection>) {
        if let Some(s) = self.mocha.take() {
            self.summary(s, out);
        }
    }

    /// Reports a test summary with the failures seen since the last one.
    fn summary(&mut self, mut s: TestSummary, out: &mut Vec<Detection>) {
        self.stats.tests += 1;
        self.jest_recap = false;
        s.failures = std::mem::take(&mut self.failures);
        out.push(Detection::Test(s));
    }

    /// pytest's short summary line `FAILED tests/test_a.py::test_x - AssertionError: ...`.
    /// A test its section already reported gets its full node id; one without a section
    /// (`--tb=no`) is reported here.
    fn pytest_failed(&mut self, rest: &str, stream: Stream, out: &mut Vec<Detection>) {
        let (id, msg) = rest.split_once(" - ").map_or((rest.trim(), None), |(i, m)| (i, Some(m)));
        let (id, _) = super::scan::truncate(id, super::MESSAGE_BYTES_MAX);
        let (file, name) = id.split_once("::").unwrap_or((id, id));
        let short = name.replace("::", ".");
        if let Some(f) = self.failures.iter_mut().find(|f| f.name == short) {
            f.name = id.to_string();
            return;
        }
        let location = Some(Location { file: file.to_string(), line: None, column: None });
        let (m, _) = super::scan::truncate(msg.unwrap_or("").trim(), super::MESSAGE_BYTES_MAX);
        let mut e = super::ErrorGroup::new(
            ErrorKind::TestFailure,
            if m.is_empty() { id.to_string() } else { format!("{id}: {m}") },
        );
        e.message = super::scan::truncate(&e.message, super::MESSAGE_BYTES_MAX).0.to_string();
        e.location = location.clone();
        e.lines = vec![super::scan::truncate(&format!("FAILED {rest}"), super::LINE_BYTES_MAX).0.to_string()];
        e.stream = stream;
        self.failed(FailedTest { name: id.to_string(), location, message: (!m.is_empty()).then(|| m.to_string()) });
        self.stats.errors += 1;
        out.push(Detection::Error(e));
    }

    fn fresh(&mut self, line: &str, stream: Stream, out: &mut Vec<Detection>) {
        if blank(line) {
            self.eslint_file = None;
            return;
        }
        if let Some(file) = &self.eslint_file
            && let Some(mut g) = group::eslint_message(file, line, stream)
        {
            g.push(line);
            self.open = Some(g);
            return;
        }
        if is_source_path(line) {
            self.eslint_file = Some(line.to_string());
        }
        let t = line.trim_start();
        if !self.next_seen && t.starts_with("▲ Next.js") {
            self.next_seen = true;
        }
        if let Some(s) = self.go.feed(line) {
            self.summary(s, out);
            return;
        }
        if let Some(s) = self.node.feed(line) {
            self.summary(s, out);
            return;
        }
        if outcome::mocha_count(line, &mut self.mocha) {
            return;
        }
        // Counts with nothing failing are complete at the next line.
        if self.mocha.as_ref().is_some_and(|s| s.failed == 0) {
            self.mocha_flush(out);
        }
        match line.as_bytes().first() {
            Some(b'-') if line.starts_with("--- FAIL: ") => {
                let name = line.get(10..).unwrap_or("");
                let name = name.rsplit_once(" (").map_or(name, |(n, _)| n);
                let pending = self.go.take_pending(name);
                if let Some(mut g) =
                    group::go_test(line, stream, pending.as_ref().map(|(l, m)| (l.clone(), m.as_str())))
                {
                    g.push(line);
                    self.open = Some(g);
                    return;
                }
            }
            Some(b'F') if line.starts_with("FAILED ") => {
                self.pytest_failed(line.get(7..).unwrap_or(""), stream, out);
                return;
            }
            Some(b'S') if line.starts_with("Summary of all failing tests") => {
                self.jest_recap = true;
                return;
            }
            _ => {}
        }
        let probe = Probe::of(line);
        self.tsc_seen |= probe.ts;
        if let Some(b) = outcome::build_line(line, self.next_seen, self.tsc_seen, &probe) {
            if t.starts_with("Failed to compile") || t.starts_with("Failed to type check") {
                self.expect_location = FAILED_TO_COMPILE_WAIT;
            }
            self.build(b, out);
            return;
        }
        if let Some(s) = outcome::test_summary(line) {
            self.summary(s, out);
            return;
        }
        if self.expect_location > 0 {
            self.expect_location -= 1;
            if let Some(mut g) = group::failed_to_compile_location(line, stream, self.next_seen) {
                self.expect_location = 0;
                g.push(line);
                self.open = Some(g);
                return;
            }
        }
        if let Some(mut g) = group::start(line, stream, &probe) {
            if self.jest_recap && g.kind == ErrorKind::TestFailure {
                g.fate = group::Fate::Suppress;
            }
            g.push(line);
            self.open = Some(g);
            return;
        }
        if !probe.colon {
            return;
        }
        let stats = &mut self.stats;
        url::find_urls(line, |u| {
            stats.urls += 1;
            out.push(Detection::Url(u));
        });
    }

    fn build(&mut self, b: BuildLine, out: &mut Vec<Detection>) {
        let (tool, outcome) = match b {
            BuildLine::Success(t) => {
                (t, if self.builds_seen > 0 { BuildOutcome::Rebuilt } else { BuildOutcome::Compiled })
            }
            BuildLine::Update(t) => (t, BuildOutcome::Rebuilt),
            BuildLine::Failed(t) => (t, BuildOutcome::Failed),
        };
        self.builds_seen += 1;
        self.stats.builds += 1;
        out.push(Detection::Build(Build { outcome, tool }));
    }
}
