//! What the detector reports: error groups, announced URLs, build outcomes and test summaries.
//!
//! Every type renders to one stable line with `Display` (traces, snapshots, `ErrorDetected`).

use std::fmt;
use std::sync::Arc;

use crate::bus::{Event, ProcessRef, Stream};

/// Which tool's format an error group was recognised in.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum ErrorKind {
    /// `tsc`: `src/a.ts(4,26): error TS2339: ...` or the pretty `src/a.ts:4:26 - error TS2339: ...`.
    Typescript,
    /// A JavaScript error with `    at ...` frames, including Node's uncaught-exception report.
    NodeStack,
    /// Vite's dev server (`[vite] Internal server error: ...`), `vite build` and esbuild's `✘ [ERROR]`.
    Vite,
    /// webpack's `ERROR in ./src/a.js 2:23` block (also ts-loader's `[tsl] ERROR in`).
    Webpack,
    /// Next.js: ` ⨯ ...` blocks, and `Failed to compile.` followed by a location.
    Nextjs,
    /// rustc's `error[E0425]: ...` with its `--> file:line:col`.
    Rustc,
    /// `thread 'main' panicked at src/main.rs:18:30:` and its message and backtrace.
    RustPanic,
    /// `./main.go:10:18: undefined: x`.
    GoCompile,
    /// `panic: ...` or `fatal error: ...` with goroutine stacks.
    GoPanic,
    /// `Traceback (most recent call last):` through the exception line (chained ones included).
    PythonTraceback,
    /// A line that says it is an error (`error: ...`, `ERROR ...`, `[ERROR] ...`, `npm ERR! ...`).
    Generic,
}

impl ErrorKind {
    pub const ALL: [ErrorKind; 11] = [
        ErrorKind::Typescript,
        ErrorKind::NodeStack,
        ErrorKind::Vite,
        ErrorKind::Webpack,
        ErrorKind::Nextjs,
        ErrorKind::Rustc,
        ErrorKind::RustPanic,
        ErrorKind::GoCompile,
        ErrorKind::GoPanic,
        ErrorKind::PythonTraceback,
        ErrorKind::Generic,
    ];

    /// The stable snake_case name used in snapshots, ground-truth files and events.
    pub fn name(self) -> &'static str {
        match self {
            ErrorKind::Typescript => "typescript",
            ErrorKind::NodeStack => "node_stack",
            ErrorKind::Vite => "vite",
            ErrorKind::Webpack => "webpack",
            ErrorKind::Nextjs => "nextjs",
            ErrorKind::Rustc => "rustc",
            ErrorKind::RustPanic => "rust_panic",
            ErrorKind::GoCompile => "go_compile",
            ErrorKind::GoPanic => "go_panic",
            ErrorKind::PythonTraceback => "python_traceback",
            ErrorKind::Generic => "generic",
        }
    }

    /// The inverse of [`ErrorKind::name`].
    pub fn from_name(name: &str) -> Option<ErrorKind> {
        ErrorKind::ALL.into_iter().find(|k| k.name() == name)
    }
}

impl fmt::Display for ErrorKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// Where an error points: a file as the tool printed it (a `file://` prefix removed), with a
/// line and column when the tool gave them. Lines and columns are the tool's own numbering
/// (webpack's columns are 0-based, everyone else's 1-based).
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Location {
    pub file: String,
    pub line: Option<u32>,
    pub column: Option<u32>,
}

impl fmt::Display for Location {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.file)?;
        if let Some(line) = self.line {
            write!(f, ":{line}")?;
            if let Some(col) = self.column {
                write!(f, ":{col}")?;
            }
        }
        Ok(())
    }
}

/// One error as the tool printed it: possibly many lines, grouped.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ErrorGroup {
    pub kind: ErrorKind,
    /// The error's one-line message (`TypeError: x is undefined`), at most
    /// [`MESSAGE_BYTES_MAX`](super::MESSAGE_BYTES_MAX) bytes.
    pub message: String,
    /// The most useful place to look: the first frame in the user's code where there is a stack.
    pub location: Option<Location>,
    /// The group's lines, ANSI stripped: at most [`GROUP_LINES_MAX`](super::GROUP_LINES_MAX),
    /// each at most [`LINE_BYTES_MAX`](super::LINE_BYTES_MAX) bytes.
    pub lines: Vec<String>,
    /// Lines that belonged to the group but were not kept (over `GROUP_LINES_MAX`).
    pub lines_dropped: u32,
    /// The stream of the group's first line. Recorded, never used to decide anything.
    pub stream: Stream,
}

impl fmt::Display for ErrorGroup {
    /// `rustc src/main.rs:11:20 error[E0425]: cannot find value ...` (the location is `-` when
    /// unknown).
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} ", self.kind)?;
        match &self.location {
            Some(l) => write!(f, "{l} ")?,
            None => f.write_str("- ")?,
        }
        f.write_str(&self.message)
    }
}

/// A URL a dev server announced (`Local: http://localhost:5173/`).
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Url {
    /// As announced, ANSI and trailing punctuation removed.
    pub url: String,
    /// The same URL with a wildcard host (`0.0.0.0`, `[::]`) replaced by `localhost`: what a
    /// browser or the proxy should open.
    pub browse: String,
    pub port: u16,
}

impl fmt::Display for Url {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.url == self.browse {
            f.write_str(&self.url)
        } else {
            write!(f, "{} (browse {})", self.url, self.browse)
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum BuildOutcome {
    /// The process's first build finished without errors.
    Compiled,
    /// A later build (after an earlier success or failure, or an HMR update) finished without errors.
    Rebuilt,
    /// A build finished with errors.
    Failed,
}

impl BuildOutcome {
    pub fn name(self) -> &'static str {
        match self {
            BuildOutcome::Compiled => "compiled",
            BuildOutcome::Rebuilt => "rebuilt",
            BuildOutcome::Failed => "failed",
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum BuildTool {
    Cargo,
    Tsc,
    Vite,
    Webpack,
    Nextjs,
}

impl BuildTool {
    pub fn name(self) -> &'static str {
        match self {
            BuildTool::Cargo => "cargo",
            BuildTool::Tsc => "tsc",
            BuildTool::Vite => "vite",
            BuildTool::Webpack => "webpack",
            BuildTool::Nextjs => "nextjs",
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Build {
    pub outcome: BuildOutcome,
    pub tool: BuildTool,
}

impl fmt::Display for Build {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} {}", self.tool.name(), self.outcome.name())
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum TestFramework {
    Jest,
    Vitest,
    Cargo,
    GoTest,
    Pytest,
}

impl TestFramework {
    pub fn name(self) -> &'static str {
        match self {
            TestFramework::Jest => "jest",
            TestFramework::Vitest => "vitest",
            TestFramework::Cargo => "cargo",
            TestFramework::GoTest => "go",
            TestFramework::Pytest => "pytest",
        }
    }
}

/// A test run's closing counts. `None` where the runner did not say (`go test` without `-v`
/// names only its failures).
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct TestSummary {
    pub framework: TestFramework,
    pub passed: Option<u32>,
    /// Failed tests, plus errored ones where the runner counts them apart (pytest's `errors`).
    pub failed: u32,
    /// Skipped, ignored, pending and todo tests.
    pub skipped: Option<u32>,
    pub total: Option<u32>,
    /// The suite, where the runner names one per summary (`go test`'s package).
    pub suite: Option<String>,
}

impl fmt::Display for TestSummary {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fn opt(v: Option<u32>) -> String {
            v.map_or_else(|| "?".to_string(), |v| v.to_string())
        }
        write!(
            f,
            "{} passed={} failed={} skipped={} total={}",
            self.framework.name(),
            opt(self.passed),
            self.failed,
            opt(self.skipped),
            opt(self.total)
        )?;
        if let Some(s) = &self.suite {
            write!(f, " suite={s}")?;
        }
        Ok(())
    }
}

/// One thing the detector found.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Detection {
    Error(ErrorGroup),
    Url(Url),
    Build(Build),
    Test(TestSummary),
}

impl fmt::Display for Detection {
    /// `error <group>`, `url <url>`, `build <tool> <outcome>`, `test <summary>`: one line.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Detection::Error(g) => write!(f, "error {g}"),
            Detection::Url(u) => write!(f, "url {u}"),
            Detection::Build(b) => write!(f, "build {b}"),
            Detection::Test(t) => write!(f, "test {t}"),
        }
    }
}

impl Detection {
    /// The bus event for this detection, from `process`.
    ///
    /// The event payloads are the bus's current ones (strings and counts), so the mapping is
    /// lossy: `ErrorDetected` carries the kind, message and location but not the group's lines, `UrlDetected::url` is the [`Url::browse`] form (what the proxy and a browser
    /// connect to), `BuildEvent::outcome` is `tool outcome`, and `TestResult` carries `passed`
    /// (0 when the runner did not say) and `failed`. The full `Detection` stays with the
    /// caller (the log store keeps it for queries).
    pub fn to_event(&self, process: ProcessRef) -> Event {
        match self {
            Detection::Error(g) => Event::ErrorDetected {
                process,
                kind: g.kind.name(),
                message: Arc::from(g.message.as_str()),
                location: g.location.as_ref().map(|l| crate::bus::SourceLocation {
                    file: Arc::from(l.file.as_str()),
                    line: l.line,
                    column: l.column,
                }),
            },
            Detection::Url(u) => Event::UrlDetected { process, url: Arc::from(u.browse.as_str()) },
            Detection::Build(b) => Event::BuildEvent { process, outcome: Arc::from(b.to_string()) },
            Detection::Test(t) => Event::TestResult { process, passed: t.passed.unwrap_or(0), failed: t.failed },
        }
    }
}
