//! Multi-line error groups: how each format's group starts, which lines continue it, and where
//! it ends. Each open group is a small state machine (`Phase`); [`step`] decides for one line
//! whether it belongs to the group. Nothing here allocates unless a line is kept.

use super::model::{ErrorGroup, ErrorKind, FailedTest, Frame, Location};
use super::outcome::Probe;
use super::scan::{
    blank, clean_file, file_line_col, file_paren_line_col, indented, is_error_word_start, is_user_file, js_error_line,
    js_frame_parts, leading_num, num, skip_log_prefix, truncate,
};
use super::{FRAMES_MAX, GROUP_LINES_MAX, LINE_BYTES_MAX, MESSAGE_BYTES_MAX};
use crate::process::Stream;

/// The most lines a Node uncaught-exception header (`file:line`, source, caret, blank) may wait
/// for its error line before it is given up as not an error.
const NODE_HEADER_WAIT_MAX: u8 = 5;

/// Where an open group is in its format.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Phase {
    /// rustc's diagnostic body: `-->`, `|` gutters, `= note`, `help:`; ends at a blank line.
    Rustc,
    /// Every non-blank line continues (webpack's `ERROR in` block); a blank line ends it.
    UntilBlank,
    /// Indented lines continue; anything else ends it (tsc plain, Go compile, generic).
    Indented,
    /// tsc `--pretty` and `Failed to compile.`: header, blank, code frame, blank, indented
    /// related information; two blank lines or an unindented line end it.
    Frame {
        blanks: u8,
    },
    /// Node's uncaught report before its error line.
    NodeHeader {
        waited: u8,
    },
    /// A JavaScript error line waiting for its first `at` frame.
    JsErrorLine,
    NodeFrames,
    NodeObject,
    NodeTail,
    PyFrames,
    PyAfterException,
    PyChain,
    PanicMessage,
    PanicBody,
    PanicBacktrace,
    GoPanic {
        blanks: u8,
    },
    ViteDev,
    ViteBuild {
        frames: bool,
    },
    Esbuild {
        blanks: u8,
    },
    Next {
        blanks: u8,
    },
    /// One line: the next line closes it (linters' one-line reports).
    Single,
    /// Ruff's full format after its `F401 [*] msg` header: ` --> file:l:c` confirms it, then
    /// its code frame and `help:` run to a blank line.
    RuffFull {
        located: bool,
    },
    /// cargo test's `---- name stdout ----` section before its panic or `Error:` line.
    CargoTest,
    /// go test's `--- FAIL: TestX` and its indented `file_test.go:12: msg` lines.
    GoTest,
    /// jest's `  ● suite › test` block: message, code frame, `at` frames.
    Jest,
    /// vitest's ` FAIL  file > suite > test` block, up to its `⎯⎯⎯` rule.
    Vitest,
    /// mocha's `  1) suite` title lines, until the one ending in `:`.
    MochaTitle,
    /// mocha's failure body: message, diff, `at` frames; a blank line after the frames ends it.
    MochaBody {
        frames: bool,
    },
    /// node --test's TAP `not ok N - name` YAML block, up to its `...`.
    Tap {
        /// Inside `error: |-` (the message is the next line) or `stack: |-` (frames).
        block: TapBlock,
    },
    /// node --test's spec reporter `✖ name (1ms)` block: lines indented deeper than the header.
    NodeSpec {
        indent: u8,
    },
    /// The spec reporter's recap (`test at file:L:C`) before its repeated `✖` block.
    NodeRecap,
    /// pytest's `____ test_x ____` section, up to the next section or `===` line.
    Pytest,
}

/// Which multi-line YAML value a TAP block is in.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum TapBlock {
    None,
    Error,
    Stack,
}

/// What happens to a group when it closes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Fate {
    /// Reported.
    Emit,
    /// Reported as this kind if it never confirmed (an `Error: x` line with no stack is a
    /// generic error), otherwise dropped.
    Tentative { fallback: Option<ErrorKind> },
    /// Consumed and never reported: warnings, whose bodies must not start errors.
    Suppress,
}

/// How a group takes the next line.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Step {
    /// The line belongs to the group.
    Take,
    /// The line belongs to the group, which ends with it.
    TakeClose,
    /// The line ends the group (a blank separator): consumed, not kept.
    End,
    /// The line is not the group's: close the group, then read the line afresh.
    Close,
}

/// Where the location comes from when the group closes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Frames {
    /// The header's location only.
    None,
    /// The first frame in user code (JavaScript, Go: innermost first).
    FirstUser,
    /// The last frame in user code (Python: innermost last).
    LastUser,
}

#[derive(Debug, Clone)]
pub(crate) struct Open {
    pub(crate) kind: ErrorKind,
    pub(crate) phase: Phase,
    pub(crate) fate: Fate,
    message: String,
    /// A location the format states outright (`-->`, `File:`, `,-[`); wins over frames.
    location: Option<Location>,
    /// A location from the header that frames may improve on (Node's `file:line`).
    header_location: Option<Location>,
    frames: Frames,
    frame_user: Option<Location>,
    frame_any: Option<Location>,
    /// The parsed stack, in the order printed (innermost first except Python's), at most
    /// `FRAMES_MAX` (the innermost kept).
    stack: Vec<Frame>,
    pub(crate) frames_dropped: u32,
    /// No more frames: Go's dump has moved on to another goroutine.
    stack_done: bool,
    /// A function line waiting for its location line (Rust backtraces, Go dumps).
    pending_fn: Option<String>,
    /// The failing test's name (`test_failure` groups).
    test: Option<String>,
    message_pending: bool,
    lines: Vec<String>,
    pub(crate) lines_dropped: u32,
    pub(crate) span: u32,
    pub(crate) bytes_truncated: u64,
    stream: Stream,
}

impl Open {
    fn new(kind: ErrorKind, phase: Phase, stream: Stream) -> Self {
        Open {
            kind,
            phase,
            fate: Fate::Emit,
            message: String::new(),
            location: None,
            header_location: None,
            frames: Frames::None,
            frame_user: None,
            frame_any: None,
            stack: Vec::new(),
            frames_dropped: 0,
            stack_done: false,
            pending_fn: None,
            test: None,
            message_pending: false,
            lines: Vec::new(),
            lines_dropped: 0,
            span: 0,
            bytes_truncated: 0,
            stream,
        }
    }

    fn message(mut self, m: &str) -> Self {
        self.set_message(m);
        self
    }

    fn set_message(&mut self, m: &str) {
        let (m, cut) = truncate(m.trim(), MESSAGE_BYTES_MAX);
        self.bytes_truncated += cut as u64;
        self.message.clear();
        self.message.push_str(m);
        self.message_pending = false;
    }

    fn at(mut self, l: Option<Location>) -> Self {
        self.location = l;
        self
    }

    fn fate(mut self, f: Fate) -> Self {
        self.fate = f;
        self
    }

    fn frames(mut self, f: Frames) -> Self {
        self.frames = f;
        self
    }

    /// Keeps a line (bounded) and counts it in the span.
    pub(crate) fn push(&mut self, line: &str) {
        self.span = self.span.saturating_add(1);
        if self.lines.len() >= GROUP_LINES_MAX {
            self.lines_dropped = self.lines_dropped.saturating_add(1);
            return;
        }
        let (kept, cut) = truncate(line, LINE_BYTES_MAX);
        self.bytes_truncated += cut as u64;
        self.lines.push(kept.to_string());
    }

    /// Lines kept so far.
    pub(crate) fn kept(&self) -> usize {
        self.lines.len()
    }

    /// Counts a consumed line that is not kept (a separator).
    pub(crate) fn skip(&mut self) {
        self.span = self.span.saturating_add(1);
    }

    /// Records one frame: the location candidates, and the frame itself (bounded; Python's
    /// outermost frames are dropped first, the others' outermost are not kept).
    fn frame_fn(&mut self, loc: Option<Location>, function: Option<&str>) {
        let Some(loc) = loc else { return };
        let user = is_user_file(&loc.file);
        if !self.stack_done && self.frames != Frames::None {
            if self.stack.len() >= FRAMES_MAX {
                self.frames_dropped = self.frames_dropped.saturating_add(1);
                if self.frames == Frames::LastUser {
                    self.stack.remove(0);
                }
            }
            if self.stack.len() < FRAMES_MAX {
                let function = function.map(|f| truncate(f.trim(), LINE_BYTES_MAX).0.to_string());
                let mut location = loc.clone();
                location.file.truncate(truncate(&loc.file, LINE_BYTES_MAX).0.len());
                self.stack.push(Frame { location, function, own: user });
            }
        }
        match self.frames {
            Frames::None => {}
            Frames::FirstUser => {
                if user && self.frame_user.is_none() {
                    self.frame_user = Some(loc.clone());
                }
                if self.frame_any.is_none() {
                    self.frame_any = Some(loc);
                }
            }
            Frames::LastUser => {
                if user {
                    self.frame_user = Some(loc.clone());
                }
                self.frame_any = Some(loc);
            }
        }
    }

    /// The group as reported, and the failing test it reports, or `None` if it is not to be
    /// reported.
    pub(crate) fn finish(self) -> Option<(ErrorGroup, Option<FailedTest>)> {
        let kind = match self.fate {
            Fate::Emit => self.kind,
            Fate::Tentative { fallback: Some(k) } => k,
            Fate::Tentative { fallback: None } | Fate::Suppress => return None,
        };
        // A stated location in the standard library or a dependency (a panic inside std)
        // yields to the first frame in the project's own code.
        let stated = self.location.filter(|l| is_user_file(&l.file) || self.frame_user.is_none());
        let location = stated.or(self.frame_user).or(self.frame_any).or(self.header_location);
        let assertion = (!self.message.is_empty()).then(|| self.message.clone());
        let mut message = if self.message.is_empty() {
            self.lines.first().map(|l| truncate(l.trim(), MESSAGE_BYTES_MAX).0.to_string()).unwrap_or_default()
        } else {
            self.message
        };
        let mut frames = self.stack;
        if self.frames == Frames::LastUser {
            frames.reverse();
        }
        let failed = self.test.map(|name| {
            let full = match &assertion {
                Some(m) => format!("{name}: {m}"),
                None => name.clone(),
            };
            message = truncate(&full, MESSAGE_BYTES_MAX).0.to_string();
            // Where the test failed: its own line in a test file (the call that threw, the
            // assertion), while the error itself points at the first own frame, where the
            // exception came from (the two differ when a test calls code that throws).
            let in_test = frames.iter().find(|f| f.own && is_test_file(&f.location.file)).map(|f| f.location.clone());
            FailedTest { name, location: in_test.or_else(|| location.clone()), message: assertion }
        });
        let mut lines = self.lines;
        while lines.last().is_some_and(|l| blank(l)) {
            lines.pop();
        }
        Some((
            ErrorGroup {
                kind,
                message,
                location,
                lines,
                lines_dropped: self.lines_dropped,
                stream: self.stream,
                frames,
            },
            failed,
        ))
    }
}

/// Starts a group if `line` (ANSI-stripped, not blank) opens one.
pub(crate) fn start(line: &str, stream: Stream, probe: &Probe) -> Option<Open> {
    let first = *line.as_bytes().first()?;
    if first == b' ' || first == b'\t' {
        return start_indented(line, stream);
    }
    // Column-0 formats, dispatched on their first byte.
    let col0 = match first {
        b'T' if line.starts_with("Traceback (most recent call last)") => {
            Some(Open::new(ErrorKind::PythonTraceback, Phase::PyFrames, stream).frames(Frames::LastUser))
        }
        b't' if line.starts_with("thread '") => rust_panic(line, stream),
        b't' if line.starts_with("test at ") => Some(test_open(Phase::NodeRecap, stream, "").fate(Fate::Suppress)),
        b'-' if line.starts_with("---- ") => cargo_test(line, stream),
        b'_' => pytest_section(line, stream),
        b'n' if line.starts_with("not ok ") => tap(line, stream),
        b'p' if line.starts_with("panic: ") => Some(go_panic(line, stream)),
        b'f' if line.starts_with("fatal error: ") => Some(go_panic(line, stream)),
        b'e' => {
            if line.starts_with("error[E") {
                Some(Open::new(ErrorKind::Rustc, Phase::Rustc, stream).message(line))
            } else if line.starts_with("error TS") {
                Some(Open::new(ErrorKind::Typescript, Phase::Indented, stream).message(line))
            } else if line.starts_with("error during build:") {
                let mut g = Open::new(ErrorKind::Vite, Phase::ViteBuild { frames: false }, stream);
                g.message_pending = true;
                Some(g)
            } else {
                None
            }
        }
        b'w' if line.starts_with("warning:") || line.starts_with("warning[") => {
            Some(Open::new(ErrorKind::Rustc, Phase::Rustc, stream).fate(Fate::Suppress))
        }
        b'W' if line.starts_with("WARNING in ") => {
            Some(Open::new(ErrorKind::Webpack, Phase::UntilBlank, stream).fate(Fate::Suppress))
        }
        b'E' if line.starts_with("ERROR in ") => Some(webpack(line.get(9..).unwrap_or(""), stream)),
        b'[' if line.starts_with("[tsl] ERROR in ") => Some(webpack(line.get(15..).unwrap_or(""), stream)),
        b'-' if line.starts_with("- error ") => Some(next_header(line.get(8..).unwrap_or(""), stream)),
        _ => None,
    };
    if col0.is_some() {
        return col0;
    }
    if let Some(g) = lint_line(line, stream, probe) {
        return Some(g);
    }
    // Next.js 16 prints its `⨯` at the start of the line (15 indented it by a space).
    if let Some(rest) = line.strip_prefix("⨯ ") {
        return Some(next_header(rest, stream));
    }
    if line.starts_with("✖ ") {
        return node_spec(line, 0, stream);
    }
    if line.starts_with("✘ [ERROR] ") {
        let msg = line.get("✘ [ERROR] ".len()..).unwrap_or("");
        return Some(Open::new(ErrorKind::Vite, Phase::Esbuild { blanks: 0 }, stream).message(msg));
    }
    if probe.vite
        && let Some(g) = vite_dev(line, stream)
    {
        return Some(g);
    }
    if probe.ts
        && let Some(g) = typescript(line, stream)
    {
        return Some(g);
    }
    if probe.go
        && let Some(g) = go_compile(line, stream)
    {
        return Some(g);
    }
    if let Some(g) = node_header(line, stream) {
        return Some(g);
    }
    if let Some(generic) = js_error_line(line) {
        let fallback = generic.then_some(ErrorKind::Generic);
        return Some(
            Open::new(ErrorKind::NodeStack, Phase::JsErrorLine, stream)
                .message(line)
                .frames(Frames::FirstUser)
                .fate(Fate::Tentative { fallback }),
        );
    }
    let body = skip_log_prefix(line);
    if is_error_word_start(body) && !is_outcome_restatement(body) {
        return Some(Open::new(ErrorKind::Generic, Phase::Indented, stream).message(body));
    }
    None
}

/// Lines that restate what brum reports another way: cargo's `error: test failed` (the test
/// summary), `error: process didn't exit successfully` (the exit event), rustc's `error:
/// aborting due to N previous errors` (the errors themselves).
fn is_outcome_restatement(s: &str) -> bool {
    s.starts_with("error: test failed, to rerun")
        || s.starts_with("error: process didn't exit successfully")
        || s.starts_with("error: aborting due to")
        || s.starts_with("error: could not compile")
}

fn start_indented(line: &str, stream: Stream) -> Option<Open> {
    let t = line.trim_start();
    if t.starts_with("File \"") && line.starts_with("  File \"") {
        // Python prints a SyntaxError raised while compiling the main script without a
        // `Traceback` header. Confirmed only if an exception line follows.
        let mut g = Open::new(ErrorKind::PythonTraceback, Phase::PyFrames, stream)
            .frames(Frames::LastUser)
            .fate(Fate::Tentative { fallback: None });
        python_frame(&mut g, t);
        return Some(g);
    }
    if let Some(rest) = t.strip_prefix("⨯ ") {
        return Some(next_header(rest, stream));
    }
    let indent = line.len() - t.len();
    if let Some(name) = t.strip_prefix("● ") {
        // jest; `● Console` heads captured console output, not a failure.
        return (indent == 2 && name != "Console").then(|| test_open(Phase::Jest, stream, name));
    }
    if let Some(rest) = t.strip_prefix("FAIL  ") {
        return vitest(rest, stream);
    }
    if t.starts_with("not ok ") {
        return tap(t, stream);
    }
    if t.starts_with("✖ ") {
        return node_spec(t, indent, stream);
    }
    if indent == 2 && t.as_bytes().first().is_some_and(u8::is_ascii_digit) {
        return mocha(t, stream);
    }
    None
}

/// A `test_failure` group for the test `name`, its stack innermost first.
fn test_open(phase: Phase, stream: Stream, name: &str) -> Open {
    let mut g = Open::new(ErrorKind::TestFailure, phase, stream).frames(Frames::FirstUser);
    g.test = Some(truncate(name.trim(), MESSAGE_BYTES_MAX).0.to_string());
    g.message_pending = true;
    g
}

/// cargo test's `---- tests::adds stdout ----`: the test's captured output, then its panic or
/// `Error:` line. Confirmed by either (a passing test's output under `--show-output` is not).
fn cargo_test(line: &str, stream: Stream) -> Option<Open> {
    let name = line.strip_prefix("---- ")?.strip_suffix(" stdout ----")?;
    Some(test_open(Phase::CargoTest, stream, name).fate(Fate::Tentative { fallback: None }))
}

/// go test's `--- FAIL: TestX (0.00s)`, with the location and message `-v` printed before it
/// (`pending`), if any.
pub(crate) fn go_test(line: &str, stream: Stream, pending: Option<(Location, &str)>) -> Option<Open> {
    let rest = line.strip_prefix("--- FAIL: ")?;
    let name = rest.rsplit_once(" (").map_or(rest, |(n, _)| n);
    let mut g = test_open(Phase::GoTest, stream, name);
    if let Some((loc, msg)) = pending {
        g.location = Some(loc);
        g.set_message(msg);
    }
    Some(g)
}

/// `    calc_test.go:13: Add(-2, 1) = -1, want -3`: a go test's `t.Error` line (trimmed).
pub(crate) fn go_test_message(t: &str) -> Option<(Location, &str)> {
    let (head, msg) = t.split_once(": ")?;
    if !head.contains(".go:") {
        return None;
    }
    let loc = file_line_col(head)?;
    Some((loc, msg))
}

/// pytest's `_____ test_total ______` section header (`_ _ _` separators are not).
fn pytest_section(line: &str, stream: Stream) -> Option<Open> {
    if !line.starts_with("___") || !line.trim_end().ends_with("___") || line.contains("_ _") {
        return None;
    }
    let name = line.trim_matches(|c| c == '_' || c == ' ');
    if name.is_empty() {
        return None;
    }
    Some(test_open(Phase::Pytest, stream, name).frames(Frames::LastUser))
}

/// vitest's ` FAIL  src/a.test.ts > suite > test` (`rest` after `FAIL  `); a file that failed
/// to load (` FAIL  src/a.test.ts [ src/a.test.ts ]`) is named by its file.
fn vitest(rest: &str, stream: Stream) -> Option<Open> {
    let rest = rest.trim();
    let (file, name) = match rest.split_once(" > ") {
        Some((f, n)) => (f, n),
        None => {
            let f = rest.split_once(" [").map_or(rest, |(f, _)| f);
            (f, f)
        }
    };
    if file.is_empty() || file.contains(' ') {
        return None;
    }
    let mut g = test_open(Phase::Vitest, stream, name);
    g.header_location = Some(Location { file: file.to_string(), line: None, column: None });
    Some(g)
}

/// mocha's `1) suite` (two spaces in): the title runs until a line ending in `:`. The progress
/// list's `1) test` has no colon, so the group stays tentative until the colon comes.
fn mocha(t: &str, stream: Stream) -> Option<Open> {
    let (_, title) = leading_num(t)?;
    let title = title.strip_prefix(") ")?;
    let mut g = test_open(Phase::MochaTitle, stream, title.trim_end_matches(':'));
    if title.ends_with(':') {
        g.phase = Phase::MochaBody { frames: false };
    } else {
        g.fate = Fate::Tentative { fallback: None };
    }
    Some(g)
}

/// node --test TAP's `not ok 2 - subtracts` (trimmed). Tentative: a parent whose subtests
/// failed (`failureType: 'subtestsFailed'`) is not itself a failure.
fn tap(t: &str, stream: Stream) -> Option<Open> {
    let (_, name) = t.strip_prefix("not ok ")?.split_once(" - ")?;
    let name = name.split_once(" # ").map_or(name, |(n, _)| n);
    Some(test_open(Phase::Tap { block: TapBlock::None }, stream, name).fate(Fate::Tentative { fallback: None }))
}

/// node --test spec's `✖ subtracts (0.2ms)` (trimmed), `indent` spaces in. Tentative until its
/// error line: a parent whose subtests failed prints none.
fn node_spec(t: &str, indent: usize, stream: Stream) -> Option<Open> {
    let name = t.strip_prefix("✖ ")?;
    if name.starts_with("failing tests:") {
        return None;
    }
    let name = name.rsplit_once(" (").filter(|(_, d)| d.ends_with("ms)")).map_or(name, |(n, _)| n);
    let indent = u8::try_from(indent).unwrap_or(u8::MAX);
    Some(test_open(Phase::NodeSpec { indent }, stream, name).fate(Fate::Tentative { fallback: None }))
}

fn rust_panic(line: &str, stream: Stream) -> Option<Open> {
    let (_, rest) = line.split_once(" panicked at ")?;
    if let Some(quoted) = rest.strip_prefix('\'') {
        // Before Rust 1.73: `thread 'main' panicked at 'msg', src/main.rs:18:30`.
        let (msg, loc) = quoted.rsplit_once("', ")?;
        let g = Open::new(ErrorKind::RustPanic, Phase::PanicBody, stream).message(msg).at(file_line_col(loc.trim()));
        return Some(g);
    }
    let loc = file_line_col(rest.trim_end().trim_end_matches(':'));
    let mut g = Open::new(ErrorKind::RustPanic, Phase::PanicMessage, stream).at(loc).frames(Frames::FirstUser);
    g.message_pending = true;
    Some(g)
}

fn go_panic(line: &str, stream: Stream) -> Open {
    Open::new(ErrorKind::GoPanic, Phase::GoPanic { blanks: 0 }, stream).message(line).frames(Frames::FirstUser)
}

/// webpack's `ERROR in ./src/a.js 2:23`, `ERROR in ./src/a.js 1:0-26`, `ERROR in ./src/a.ts:4:26`,
/// ts-loader's `ERROR in /abs/a.ts(4,26)`; `rest` is the text after `ERROR in `.
fn webpack(rest: &str, stream: Stream) -> Open {
    let rest = rest.trim();
    let loc = match rest.split_once(' ') {
        Some((file, pos)) => {
            let pos = pos.split_once(['-', ' ']).map_or(pos, |(p, _)| p);
            let (line, col) = pos.split_once(':').unwrap_or((pos, ""));
            let line = num(line);
            if line.is_some() {
                Some(Location { file: file.to_string(), line, column: num(col) })
            } else {
                Some(Location { file: file.to_string(), line: None, column: None })
            }
        }
        None => file_paren_line_col(rest)
            .or_else(|| file_line_col(rest))
            .or_else(|| (!rest.is_empty()).then(|| Location { file: rest.to_string(), line: None, column: None })),
    };
    let mut g = Open::new(ErrorKind::Webpack, Phase::UntilBlank, stream).at(loc);
    g.message_pending = true;
    g
}

/// Next.js's ` ⨯ <what>`: an error line (`TypeError: ...`) or a file whose error follows.
fn next_header(rest: &str, stream: Stream) -> Open {
    let rest = rest.trim();
    let mut g = Open::new(ErrorKind::Nextjs, Phase::Next { blanks: 0 }, stream).frames(Frames::FirstUser);
    let is_path = (rest.starts_with("./") || rest.starts_with('/')) && !rest.contains(' ');
    if is_path {
        g.header_location =
            file_line_col(rest).or_else(|| Some(Location { file: rest.to_string(), line: None, column: None }));
        g.message_pending = true;
    } else {
        g.set_message(rest);
    }
    g
}

/// `./app/page.tsx:5:9` after `Failed to compile.` (Next.js build, create-react-app).
pub(crate) fn failed_to_compile_location(line: &str, stream: Stream, next_seen: bool) -> Option<Open> {
    if !(line.starts_with("./") || line.starts_with('/')) || line.contains(' ') {
        return None;
    }
    let loc = file_line_col(line).or_else(|| Some(Location { file: line.to_string(), line: None, column: None }));
    let kind = if next_seen { ErrorKind::Nextjs } else { ErrorKind::Webpack };
    let mut g = Open::new(kind, Phase::Frame { blanks: 0 }, stream).at(loc);
    g.message_pending = true;
    Some(g)
}

fn vite_dev(line: &str, stream: Stream) -> Option<Open> {
    let rest = super::outcome::after_vite(line)?;
    let rest = rest.strip_prefix("(client) ").or_else(|| rest.strip_prefix("(ssr) ")).unwrap_or(rest);
    let is_error = rest.starts_with("Internal server error: ")
        || rest.starts_with("Pre-transform error: ")
        || rest.starts_with("error while ")
        || rest.starts_with("[plugin:");
    is_error.then(|| Open::new(ErrorKind::Vite, Phase::ViteDev, stream).message(rest))
}

/// A test file, by the names runners look for: `*.test.*`, `*.spec.*`, `*_test.*`, `test_*.py`,
/// or a file under `test/`, `tests/`, `__tests__/` or `spec/`.
fn is_test_file(path: &str) -> bool {
    let name = path.rsplit(['/', '\\']).next().unwrap_or(path);
    name.contains(".test.")
        || name.contains(".spec.")
        || name.contains("_test.")
        || name.starts_with("test_")
        || ["test/", "tests/", "__tests__/", "spec/"]
            .iter()
            .any(|d| path.starts_with(d) || path.contains(&format!("/{d}")))
}

/// A linter's rule code: one to four capitals then one to five digits (`F401`, `E402`, `UP006`,
/// `PLR0913`, `RUF100`).
pub(crate) fn rule_code(s: &str) -> bool {
    let letters = s.bytes().take_while(u8::is_ascii_uppercase).count();
    let digits = s.len() - letters;
    (1..=4).contains(&letters) && (1..=5).contains(&digits) && s.bytes().skip(letters).all(|b| b.is_ascii_digit())
}

/// A one-line linter report at column 0, or the header of Ruff's full format:
/// - mypy: `src/app.py:3: error: msg  [assignment]` (`:col` too with `--show-column-numbers`);
/// - Ruff concise: `src/app.py:1:8: F401 [*] msg`;
/// - Ruff full: `F401 [*] msg`, confirmed by ` --> src/app.py:1:8` on the next line.
fn lint_line(line: &str, stream: Stream, probe: &Probe) -> Option<Open> {
    let first = *line.as_bytes().first()?;
    if first.is_ascii_uppercase() {
        let (code, msg) = line.split_once(' ')?;
        if !rule_code(code) {
            return None;
        }
        return Some(
            Open::new(ErrorKind::Ruff, Phase::RuffFull { located: false }, stream)
                .message(msg.strip_prefix("[*] ").unwrap_or(msg))
                .fate(Fate::Tentative { fallback: None }),
        );
    }
    if !probe.colon {
        return None;
    }
    let (head, rest) = line.split_once(": ")?;
    if head.contains(' ') || !(head.contains(".py:") || head.contains(".pyi:")) {
        return None;
    }
    let loc = file_line_col(head)?;
    if let Some(msg) = rest.strip_prefix("error: ") {
        return Some(Open::new(ErrorKind::Mypy, Phase::Single, stream).message(msg).at(Some(loc)));
    }
    let (code, msg) = rest.split_once(' ')?;
    rule_code(code).then(|| {
        Open::new(ErrorKind::Ruff, Phase::Single, stream).message(msg.strip_prefix("[*] ").unwrap_or(msg)).at(Some(loc))
    })
}

/// ESLint's stylish line under a file's path: `  1:7  error  'x' is never used  no-unused-vars`.
/// Warnings are not errors.
pub(crate) fn eslint_message(file: &str, line: &str, stream: Stream) -> Option<Open> {
    let t = line.trim_start();
    if t.len() == line.len() {
        return None;
    }
    let (pos, rest) = t.split_once(char::is_whitespace)?;
    let (l, c) = pos.split_once(':')?;
    let rest = rest.trim_start().strip_prefix("error")?;
    if !rest.starts_with(char::is_whitespace) {
        return None;
    }
    let rest = rest.trim();
    // The rule id follows the message after two spaces or more; a core rule may be absent.
    let msg = rest.rsplit_once("  ").map_or(rest, |(m, _)| m).trim_end();
    let loc = Location { file: file.to_string(), line: Some(num(l)?), column: Some(num(c)?) };
    Some(Open::new(ErrorKind::Eslint, Phase::Single, stream).message(msg).at(Some(loc)))
}

/// Vite 8 (Rolldown, Oxc) announces its diagnostics with `Build failed with 1 error:` or
/// `Transform failed with 2 errors:`, a blank line, then each diagnostic: that message is a
/// preamble, and the blank line after it does not end the report.
fn awaits_detail(message: &str) -> bool {
    let Some((_, tail)) = message.rsplit_once("failed with ") else { return false };
    leading_num(tail).is_some_and(|(_, w)| w == " error:" || w == " errors:")
}

/// Rolldown's and Oxc's code frame header, `╭─[ src/App.tsx:9:18 ]`: the diagnostic's location.
fn rolldown_frame(t: &str) -> Option<Location> {
    let inner = t.strip_prefix("╭─[")?.strip_suffix(']')?;
    file_line_col(inner.trim())
}

/// What Vite's reports share since Vite 8: a blank line ends the report unless it follows a
/// `failed with N errors:` preamble (then the next line is the message), and a `╭─[ file:L:C ]`
/// frame gives the location. `None`: the phase decides.
fn rolldown_step(g: &mut Open, line: &str, t: &str, blank: bool) -> Option<Step> {
    if blank {
        if awaits_detail(&g.message) {
            g.message_pending = true;
            return Some(Step::Take);
        }
        return Some(Step::End);
    }
    if g.message_pending {
        g.set_message(line);
        return Some(Step::Take);
    }
    if g.location.is_none()
        && let Some(loc) = rolldown_frame(t)
    {
        g.location = Some(loc);
        return Some(Step::Take);
    }
    None
}

/// The rest of such a code frame: `│`, ` 3 │ code`, `───╯`.
fn is_frame_border(t: &str) -> bool {
    t.starts_with('│')
        || t.starts_with('─')
        || t.split_once(" │").is_some_and(|(n, _)| !n.is_empty() && n.bytes().all(|b| b.is_ascii_digit()))
}

/// `src/a.ts(4,26): error TS2339: msg` or `src/a.ts:4:26 - error TS2339: msg`.
fn typescript(line: &str, stream: Stream) -> Option<Open> {
    if let Some((head, msg)) = line.split_once("): error TS") {
        let loc = file_paren_line_col(&format!("{head})"))?;
        let msg = line.get(head.len() + 3..).unwrap_or(msg);
        return Some(Open::new(ErrorKind::Typescript, Phase::Indented, stream).message(msg).at(Some(loc)));
    }
    let (head, _) = line.split_once(" - error TS")?;
    let loc = file_line_col(head)?;
    let msg = line.get(head.len() + 3..).unwrap_or("");
    Some(Open::new(ErrorKind::Typescript, Phase::Frame { blanks: 0 }, stream).message(msg).at(Some(loc)))
}

/// `./main.go:10:18: cannot use ...` at column 0.
fn go_compile(line: &str, stream: Stream) -> Option<Open> {
    let at = line.find(".go:")?;
    let file = line.get(..at + 3)?;
    if file.contains(' ') {
        return None;
    }
    let rest = line.get(at + 4..)?;
    let (l, rest) = leading_num(rest)?;
    let rest = rest.strip_prefix(':')?;
    let (c, rest) = leading_num(rest)?;
    let msg = rest.strip_prefix(": ")?;
    let loc = Location { file: file.to_string(), line: Some(l), column: Some(c) };
    Some(Open::new(ErrorKind::GoCompile, Phase::Indented, stream).message(msg).at(Some(loc)))
}

/// Node's uncaught-exception header: a bare `file:line` (`/app/server.js:4`,
/// `node:internal/fs/promises:637`, `file:///app/a.mjs:7`).
fn node_header(line: &str, stream: Stream) -> Option<Open> {
    let starts = line.starts_with('/')
        || line.starts_with("file://")
        || line.starts_with("node:")
        || line.starts_with("./")
        || line.as_bytes().get(1..3) == Some(b":\\");
    if !starts || line.contains(' ') {
        return None;
    }
    let loc = file_line_col(line)?;
    if loc.column.is_some() {
        return None;
    }
    let mut g = Open::new(ErrorKind::NodeStack, Phase::NodeHeader { waited: 0 }, stream)
        .frames(Frames::FirstUser)
        .fate(Fate::Tentative { fallback: None });
    g.header_location = Some(loc);
    Some(g)
}

/// `File "/app/x.py", line 14, in handle`: one Python frame (`t` trimmed), recorded in `g`.
fn python_frame(g: &mut Open, t: &str) {
    let Some(rest) = t.strip_prefix("File \"") else { return };
    let Some((file, rest)) = rest.split_once("\", line ") else { return };
    let Some((line, rest)) = leading_num(rest) else { return };
    let function = rest.strip_prefix(", in ");
    g.frame_fn(Some(Location { file: file.to_string(), line: Some(line), column: None }), function);
}

/// `at fn (file:L:C)`, `at file:L:C`, `at async fn (file:///...)` (`t` trimmed, with or without
/// the `at `): one JavaScript frame, recorded in `g`.
fn js_frame(g: &mut Open, t: &str) {
    let t = t.trim_end_matches(" {");
    let t = t.strip_prefix("at ").unwrap_or(t);
    if let Some((function, loc)) = js_frame_parts(t) {
        g.frame_fn(Some(loc), function);
    }
}

/// A Rust backtrace line (`t` trimmed): `12: app::main` (or the full form `12: 0x55d1 -
/// app::main`) names the function, `at ./src/main.rs:5:5` gives its place.
fn rust_frame(g: &mut Open, t: &str) {
    if let Some(rest) = t.strip_prefix("at ") {
        let f = g.pending_fn.take();
        g.frame_fn(file_line_col(rest.trim()), f.as_deref());
        return;
    }
    if let Some(f) = leading_num(t).and_then(|(_, rest)| rest.strip_prefix(": ")) {
        let f = f.split_once(" - ").filter(|(a, _)| a.trim_start().starts_with("0x")).map_or(f, |(_, f)| f);
        g.pending_fn = Some(truncate(f.trim(), LINE_BYTES_MAX).0.to_string());
    }
}

/// A Python exception line: `KeyError: 'user'`, `json.decoder.JSONDecodeError: ...`, `KeyboardInterrupt`.
fn python_exception(line: &str) -> bool {
    let name_len = line.bytes().take_while(|b| b.is_ascii_alphanumeric() || *b == b'_' || *b == b'.').count();
    name_len > 0
        && line.starts_with(|c: char| c.is_ascii_alphabetic() || c == '_')
        && (line.len() == name_len || line.get(name_len..).is_some_and(|r| r.starts_with(": ") || r == ":"))
}

/// A line of rustc's diagnostic body.
fn rustc_body(line: &str) -> bool {
    let t = line.trim_start();
    if t.starts_with("-->")
        || t.starts_with(":::")
        || t.starts_with('|')
        || t.starts_with("= ")
        || t.starts_with("...")
        || line.starts_with("help:")
        || line.starts_with("note:")
        || line.starts_with("suggestion:")
    {
        return true;
    }
    // A numbered source line: `11 |     println!(...)`.
    let digits = t.bytes().take_while(u8::is_ascii_digit).count();
    digits > 0 && t.get(digits..).is_some_and(|r| r.trim_start().starts_with('|'))
}

/// A Next.js status line that starts the next thing: ` ✓ Compiled`, ` ⨯ ...`, ` GET /x 200`.
fn next_boundary(line: &str) -> bool {
    let t = line.trim_start();
    ["✓ ", "○ ", "⨯ ", "⚠ ", "▲ ", "- ready", "- wait", "- event", "- error", "- warn"].iter().any(|p| t.starts_with(p))
        || ["GET /", "POST /", "PUT /", "PATCH /", "DELETE /", "HEAD /", "OPTIONS /"].iter().any(|p| t.starts_with(p))
}

/// Decides what `line` (ANSI-stripped) is to the open group `g`.
pub(crate) fn step(g: &mut Open, line: &str) -> Step {
    let is_blank = blank(line);
    let t = line.trim_start();
    match g.phase {
        Phase::Rustc => {
            if is_blank {
                return Step::End;
            }
            if g.location.is_none()
                && let Some(rest) = t.strip_prefix("--> ")
            {
                g.location = file_line_col(rest.trim());
            }
            if rustc_body(line) { Step::Take } else { Step::Close }
        }
        Phase::UntilBlank => {
            if is_blank {
                return Step::End;
            }
            if g.message_pending {
                g.set_message(line);
            }
            Step::Take
        }
        Phase::Indented => {
            if g.kind == ErrorKind::Generic {
                // A log line saying `ERROR ...` often introduces the structured report.
                if line.starts_with("Traceback (most recent call last)") {
                    g.kind = ErrorKind::PythonTraceback;
                    g.phase = Phase::PyFrames;
                    g.frames = Frames::LastUser;
                    g.message.clear();
                    return Step::Take;
                }
                if let Some(rest) = t.strip_prefix("--> ")
                    && indented(line)
                {
                    g.kind = ErrorKind::Rustc;
                    g.phase = Phase::Rustc;
                    g.location = file_line_col(rest.trim());
                    return Step::Take;
                }
                if t.starts_with("at ") && indented(line) {
                    g.kind = ErrorKind::NodeStack;
                    g.phase = Phase::NodeFrames;
                    g.frames = Frames::FirstUser;
                    js_frame(g, t);
                    return Step::Take;
                }
                if line.starts_with("npm ERR!") || line.starts_with("npm error ") {
                    return Step::Take;
                }
            }
            if !is_blank && indented(line) { Step::Take } else { Step::Close }
        }
        Phase::Frame { blanks } => {
            // A blank line separates header, code frame and related-information blocks; two
            // in a row end the group, as does any line that is not part of a frame.
            if is_blank {
                if blanks >= 1 && !g.message_pending {
                    return Step::End;
                }
                g.phase = Phase::Frame { blanks: blanks.saturating_add(1) };
                return Step::Take;
            }
            g.phase = Phase::Frame { blanks: 0 };
            if g.message_pending {
                g.set_message(line);
                return Step::Take;
            }
            let frame_line = indented(line) || line.starts_with(|c: char| c.is_ascii_digit() || c == '>');
            if frame_line { Step::Take } else { Step::Close }
        }
        Phase::NodeHeader { waited } => {
            if !indented(line) && !is_blank && js_error_line(line).is_some() {
                g.set_message(line);
                g.fate = Fate::Emit;
                g.phase = Phase::NodeFrames;
                return Step::Take;
            }
            if waited >= NODE_HEADER_WAIT_MAX {
                return Step::Close;
            }
            g.phase = Phase::NodeHeader { waited: waited + 1 };
            Step::Take
        }
        Phase::JsErrorLine => {
            if t.starts_with("at ") && indented(line) {
                g.fate = Fate::Emit;
                g.phase = Phase::NodeFrames;
                return step(g, line);
            }
            Step::Close
        }
        Phase::NodeFrames => {
            if is_blank {
                g.phase = Phase::NodeTail;
                return Step::Take;
            }
            if line.starts_with("Node.js v") {
                return Step::TakeClose;
            }
            if t.starts_with("at ") && indented(line) {
                let opens = t.ends_with(" {");
                js_frame(g, t);
                if opens {
                    g.phase = Phase::NodeObject;
                }
                return Step::Take;
            }
            if t == "{" {
                g.phase = Phase::NodeObject;
                return Step::Take;
            }
            // `... 7 lines matching cause stack trace ...`, `[cause]: ...`
            if indented(line) { Step::Take } else { Step::Close }
        }
        Phase::NodeObject => {
            if line.starts_with('}') {
                g.phase = Phase::NodeFrames;
            }
            Step::Take
        }
        Phase::NodeTail => {
            if line.starts_with("Node.js v") {
                Step::TakeClose
            } else if is_blank {
                Step::End
            } else {
                Step::Close
            }
        }
        Phase::PyFrames => {
            if is_blank {
                return Step::Close;
            }
            if indented(line) {
                python_frame(g, t);
                return Step::Take;
            }
            if python_exception(line) {
                g.set_message(line);
                if matches!(g.fate, Fate::Tentative { .. }) {
                    g.fate = Fate::Emit;
                }
                g.phase = Phase::PyAfterException;
                return Step::Take;
            }
            Step::Close
        }
        Phase::PyAfterException => {
            if is_blank {
                return Step::Take;
            }
            if line.starts_with("The above exception was the direct cause")
                || line.starts_with("During handling of the above exception")
            {
                g.phase = Phase::PyChain;
                return Step::Take;
            }
            Step::Close
        }
        Phase::PyChain => {
            if is_blank {
                return Step::Take;
            }
            if line.starts_with("Traceback (most recent call last)") {
                // The chain's frames are the final exception's.
                g.stack.clear();
                g.phase = Phase::PyFrames;
                return Step::Take;
            }
            Step::Close
        }
        Phase::PanicMessage => {
            if is_blank {
                return Step::End;
            }
            g.set_message(line);
            g.phase = Phase::PanicBody;
            Step::Take
        }
        Phase::PanicBody => {
            if is_blank {
                return Step::End;
            }
            if line.starts_with("note: run with `RUST_BACKTRACE") {
                return Step::TakeClose;
            }
            if line.starts_with("stack backtrace:") {
                g.phase = Phase::PanicBacktrace;
                return Step::Take;
            }
            if indented(line) { Step::Take } else { Step::Close }
        }
        Phase::PanicBacktrace => {
            if is_blank {
                return Step::End;
            }
            if line.starts_with("note: Some details are omitted") {
                return Step::TakeClose;
            }
            if indented(line) {
                rust_frame(g, t);
                Step::Take
            } else {
                Step::Close
            }
        }
        Phase::GoPanic { blanks } => {
            if is_blank {
                if blanks >= 1 {
                    return Step::End;
                }
                g.phase = Phase::GoPanic { blanks: 1 };
                return Step::Take;
            }
            g.phase = Phase::GoPanic { blanks: 0 };
            if line.starts_with("exit status ") {
                return Step::TakeClose;
            }
            if line.starts_with('\t') {
                // `\t/app/main.go:22 +0xd9`
                let loc = t.split(' ').next().and_then(file_line_col);
                let f = g.pending_fn.take();
                g.frame_fn(loc, f.as_deref());
                return Step::Take;
            }
            // A function line: `main.main()`, `panic({0x508da0, 0x5fda60})`, `created by ...`.
            let created = line.strip_prefix("created by ");
            let frame_fn = line.ends_with(')') && line.contains('(') || created.is_some();
            if frame_fn {
                let f = match created {
                    // Go 1.21+: `created by main.main in goroutine 1`.
                    Some(c) => c.split_once(" in goroutine ").map_or(c, |(f, _)| f),
                    None => line.rsplit_once('(').map_or(line, |(f, _)| f),
                };
                g.pending_fn = Some(truncate(f, LINE_BYTES_MAX).0.to_string());
                return Step::Take;
            }
            if line.starts_with("goroutine ") {
                // The first goroutine is the one that panicked; the rest of a dump is context.
                g.stack_done = g.stack_done || !g.stack.is_empty();
                return Step::Take;
            }
            if line.starts_with('[') || indented(line) { Step::Take } else { Step::Close }
        }
        Phase::Single => Step::Close,
        Phase::RuffFull { located } => {
            if !located {
                let Some(rest) = t.strip_prefix("--> ") else { return Step::Close };
                g.location = file_line_col(rest.trim());
                g.fate = Fate::Emit;
                g.phase = Phase::RuffFull { located: true };
                return Step::Take;
            }
            if is_blank { Step::End } else { Step::Take }
        }
        Phase::ViteDev => {
            if let Some(step) = rolldown_step(g, line, t, line.is_empty()) {
                return step;
            }
            if is_frame_border(t) {
                return Step::Take;
            }
            if g.location.is_none()
                && let Some(rest) = t.strip_prefix("File: ")
            {
                g.location = file_line_col(rest.trim())
                    .or_else(|| Some(Location { file: clean_file(rest.trim()), line: None, column: None }));
            }
            // esbuild's transform detail sits at column 0: `/app/src/a.ts:2:0: ERROR: ...`.
            if indented(line) || line.contains(": ERROR: ") { Step::Take } else { Step::Close }
        }
        Phase::ViteBuild { frames } => {
            if let Some(step) = rolldown_step(g, line, t, is_blank) {
                return step;
            }
            if let Some(rest) = line.strip_prefix("file: ") {
                g.location = file_line_col(rest.trim())
                    .or_else(|| Some(Location { file: clean_file(rest.trim()), line: None, column: None }));
                return Step::Take;
            }
            if indented(line) {
                if t.starts_with("at ") {
                    g.phase = Phase::ViteBuild { frames: true };
                }
                return Step::Take;
            }
            if frames { Step::Close } else { Step::Take }
        }
        Phase::Esbuild { blanks } => {
            if is_blank {
                if blanks >= 1 {
                    return Step::End;
                }
                g.phase = Phase::Esbuild { blanks: 1 };
                return Step::Take;
            }
            if !indented(line) {
                return Step::Close;
            }
            if g.location.is_none() {
                g.location = file_line_col(t.trim_end_matches(':'));
            }
            Step::Take
        }
        Phase::Next { blanks } => {
            if is_blank {
                if blanks >= 1 {
                    return Step::End;
                }
                g.phase = Phase::Next { blanks: 1 };
                return Step::Take;
            }
            if next_boundary(line) {
                return Step::Close;
            }
            g.phase = Phase::Next { blanks: 0 };
            if g.message_pending {
                // `Error:   x Expected '}', got '<eof>'` (SWC): keep the words.
                let m = t.strip_prefix("Error:").map_or(t, str::trim_start);
                let m = m.strip_prefix("x ").unwrap_or(m);
                g.set_message(m);
                return Step::Take;
            }
            if g.location.is_none()
                && let Some(rest) = t.strip_prefix(",-[")
            {
                g.location = rest.strip_suffix(']').and_then(file_line_col);
            }
            if t.starts_with("at ") {
                js_frame(g, t);
            }
            Step::Take
        }
        Phase::CargoTest => {
            if line.starts_with("---- ")
                || line.starts_with("failures:")
                || line.starts_with("successes:")
                || line.starts_with("test result: ")
            {
                return Step::Close;
            }
            if line.starts_with("thread '")
                && let Some(p) = rust_panic(line, g.stream)
            {
                g.location = p.location;
                g.phase = p.phase;
                g.frames = Frames::FirstUser;
                if p.message_pending {
                    g.message_pending = true;
                } else {
                    g.set_message(&p.message);
                }
                g.fate = Fate::Emit;
                return Step::Take;
            }
            if let Some(m) = line.strip_prefix("Error: ") {
                // A test returning `Err`: `Error: "connection refused"`.
                g.set_message(m);
                g.fate = Fate::Emit;
                g.phase = Phase::PanicBody;
            }
            Step::Take
        }
        Phase::GoTest => {
            if is_blank || !indented(line) {
                return Step::Close;
            }
            if g.message_pending {
                if let Some(sub) = t.strip_prefix("--- FAIL: ") {
                    // The failing subtest: name it rather than its parent.
                    let name = sub.rsplit_once(" (").map_or(sub, |(n, _)| n);
                    g.test = Some(truncate(name, MESSAGE_BYTES_MAX).0.to_string());
                } else if let Some((loc, msg)) = go_test_message(t) {
                    g.location = Some(loc);
                    g.set_message(msg);
                }
            }
            Step::Take
        }
        Phase::Jest => {
            if is_blank {
                return Step::Take;
            }
            if !indented(line) || t.starts_with("● ") {
                return Step::Close;
            }
            if g.message_pending {
                g.set_message(t);
            } else if t.starts_with("at ") {
                js_frame(g, t);
            }
            Step::Take
        }
        Phase::Vitest => {
            if t.starts_with('⎯') {
                return Step::End;
            }
            if t.starts_with("FAIL  ") || t.starts_with("Test Files ") {
                return Step::Close;
            }
            if is_blank {
                return Step::Take;
            }
            if g.message_pending {
                g.set_message(t);
            } else if let Some(rest) = t.strip_prefix("❯ ") {
                // `❯ src/a.test.ts:5:49` or `❯ fn src/a.ts:2:3`.
                let (f, loc) = rest.rsplit_once(' ').map_or((None, rest), |(f, l)| (Some(f), l));
                g.frame_fn(file_line_col(loc), f);
            }
            Step::Take
        }
        Phase::MochaTitle => {
            if is_blank || !indented(line) || line.len() - t.len() <= 2 {
                return Step::Close;
            }
            let part = t.trim_end_matches(':');
            if let Some(name) = g.test.as_mut()
                && name.len() + part.len() < MESSAGE_BYTES_MAX
            {
                name.push(' ');
                name.push_str(part);
            }
            if t.ends_with(':') {
                g.fate = Fate::Emit;
                g.phase = Phase::MochaBody { frames: false };
            }
            Step::Take
        }
        Phase::MochaBody { frames } => {
            if is_blank {
                return if frames { Step::End } else { Step::Take };
            }
            if line.starts_with("  ") && line.len() - t.len() == 2 && t.starts_with(|c: char| c.is_ascii_digit()) {
                return Step::Close;
            }
            if t.starts_with("at ") && indented(line) {
                js_frame(g, t);
                g.phase = Phase::MochaBody { frames: true };
                return Step::Take;
            }
            if frames {
                return Step::Close;
            }
            if g.message_pending {
                g.set_message(t);
            }
            Step::Take
        }
        Phase::Tap { block } => {
            if t == "..." {
                return Step::TakeClose;
            }
            if !is_blank && !indented(line) {
                return Step::Close;
            }
            if let Some(v) = t.strip_prefix("failureType: ") {
                if !v.contains("subtestsFailed") {
                    g.fate = Fate::Emit;
                }
            } else if let Some(v) = t.strip_prefix("location: ") {
                g.header_location = file_line_col(v.trim_matches('\''));
            } else if let Some(v) = t.strip_prefix("error: ") {
                if v.starts_with('|') {
                    g.phase = Phase::Tap { block: TapBlock::Error };
                } else {
                    g.set_message(v.trim_matches(['\'', '"']));
                }
                return Step::Take;
            } else if t.starts_with("stack: |") {
                g.phase = Phase::Tap { block: TapBlock::Stack };
                return Step::Take;
            } else if t.contains(": ") && !t.contains(" (") {
                // Another YAML key (`code: 'ERR_ASSERTION'`) ends a block value.
                g.phase = Phase::Tap { block: TapBlock::None };
                return Step::Take;
            }
            match block {
                TapBlock::Error if g.message_pending && !is_blank => g.set_message(t),
                TapBlock::Stack => js_frame(g, t),
                _ => {}
            }
            Step::Take
        }
        Phase::NodeSpec { indent } => {
            if line.is_empty() {
                return Step::End;
            }
            if !is_blank && line.len() - t.len() <= usize::from(indent) {
                return Step::Close;
            }
            if is_blank {
                return Step::Take;
            }
            if g.message_pending {
                g.set_message(t);
                if matches!(g.fate, Fate::Tentative { .. }) {
                    g.fate = Fate::Emit;
                }
            } else if t.starts_with("at ") {
                js_frame(g, t);
            }
            Step::Take
        }
        Phase::NodeRecap => {
            if line.starts_with("✖ ") {
                g.phase = Phase::NodeSpec { indent: 0 };
                return Step::Take;
            }
            Step::Close
        }
        Phase::Pytest => {
            if line.starts_with("===") || (line.starts_with("___") && !line.contains("_ _")) {
                return Step::Close;
            }
            if g.message_pending
                && let Some(m) = line.strip_prefix('E')
                && (m.starts_with(' ') || m.is_empty())
            {
                g.set_message(m);
                return Step::Take;
            }
            // `tests/test_cart.py:13: AssertionError`, `src/cart.py:4: in total`: one entry of
            // the traceback, outermost first.
            if !indented(line)
                && let Some((head, rest)) = line.split_once(": ").or_else(|| line.strip_suffix(':').map(|h| (h, "")))
                && let Some(loc) = file_line_col(head)
            {
                g.frame_fn(Some(loc), rest.strip_prefix("in "));
            }
            Step::Take
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn python_exception_lines() {
        assert!(python_exception("KeyError: 'user'"));
        assert!(python_exception("json.decoder.JSONDecodeError: Expecting value"));
        assert!(python_exception("KeyboardInterrupt"));
        assert!(!python_exception("2026-01-01 INFO started"));
        assert!(!python_exception("Serving on http://0.0.0.0:8000"));
    }

    #[test]
    fn rustc_body_lines() {
        assert!(rustc_body("  --> src/main.rs:11:20"));
        assert!(rustc_body("11 |     println!(\"{}\", undefined_var);"));
        assert!(rustc_body("   = note: `#[warn(dead_code)]` on by default"));
        assert!(!rustc_body("    Finished `dev` profile [unoptimized + debuginfo] target(s) in 1.20s"));
        assert!(!rustc_body("   Compiling app v0.1.0"));
    }
}
