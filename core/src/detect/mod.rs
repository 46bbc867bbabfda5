//! Detection on ingest: error groups with file:line:col, URLs that dev servers announce,
//! build outcomes and test summaries, read from each line a process prints.
//!
//! Pure and synchronous: no I/O, no clock. One [`Detector`] per output stream holds the state of a
//! multi-line group; every buffer it keeps has a named limit below and a counter in
//! [`DetectorStats`]. `docs/design/detection.md` lists each format with an example, the
//! grouping rules and the corpus precision and recall.

mod detector;
mod group;
mod model;
mod outcome;
mod scan;
mod url;

#[cfg(test)]
mod tests;

pub use detector::{Detector, DetectorStats};
pub use model::{
    Build, BuildOutcome, BuildTool, Detection, ErrorGroup, ErrorKind, FailedTest, Frame, Location, TestFramework,
    TestSummary, Url,
};
pub use url::{URLS_PER_LINE_MAX, URLS_PER_PROCESS_MAX, UrlSet};

/// The most lines an error group keeps. 64 holds a whole rustc diagnostic, a Python traceback
/// of a deep web-framework stack or Node's 10-frame default stack with its code frame; a longer
/// group (a webpack resolve dump, a 200-frame recursion) keeps its first 64 lines, which carry
/// the message and the location, and counts the rest in `ErrorGroup::lines_dropped`.
pub const GROUP_LINES_MAX: usize = 64;

/// The most lines one group may consume before it is closed regardless. Lines past
/// `GROUP_LINES_MAX` are not kept, but a group still holds back its report until it closes;
/// this bounds the wait for a format that never ends (a stream of indented lines after an
/// `ERROR` line). Counted in `DetectorStats::groups_cut`.
pub const GROUP_SPAN_MAX: usize = 1024;

/// The most frames an error keeps. Node prints 10 by default, a web framework's Python
/// traceback 20 to 40, a Rust backtrace 10 to 30; a 200-frame recursion keeps its innermost
/// 64, which hold the failing code. Each frame is one line's text at most, so this adds at most
/// as much again as `GROUP_LINES_MAX` to an open group. Counted in `DetectorStats::frames_dropped`.
pub const FRAMES_MAX: usize = 64;

/// The most failing tests remembered for the next test summary. A suite with hundreds of
/// failures is reported error by error anyway; the summary lists the first 64. Counted in
/// `DetectorStats::failures_dropped`.
pub const FAILURES_MAX: usize = 64;

/// The most bytes kept of one line in a group. Minified bundles put whole files on one line
/// and code frames quote them; 1 KiB keeps any real source line. Counted in
/// `DetectorStats::bytes_truncated`.
pub const LINE_BYTES_MAX: usize = 1024;

/// The most bytes of an error's message: one screen line or two, and a bound on what each
/// `ErrorDetected` event carries. Counted in `DetectorStats::bytes_truncated`.
pub const MESSAGE_BYTES_MAX: usize = 512;

/// How long an error group stays open with nothing more printed on its stream before it is
/// reported as it is. A group waits for the line that ends it, and dev servers go quiet right
/// after printing a stack (an Express or uvicorn 500, a syntax error on reload): without this
/// the error would show only when the next request, or the fix, printed something. 100 ms is
/// far longer than the gaps inside one report (a stack is written at once) and short next to a
/// person or an agent waiting for it. Measured on the runtime's clock.
pub const QUIET_CLOSE: std::time::Duration = std::time::Duration::from_millis(100);
