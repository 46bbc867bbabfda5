//! What the detector reports: error groups, announced URLs, build outcomes and test summaries.
//!
//! Every type renders to one stable line with `Display` (traces, snapshots, `ErrorDetected`).

use std::fmt;

use crate::process::Stream;

/// Which tool's format an error group was recognised in.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, serde::Serialize)]
#[serde(rename_all = "snake_case")]
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
    /// Ruff: concise `src/app.py:1:8: F401 [*] msg`, or full `F401 [*] msg` then ` --> file:l:c`.
    Ruff,
    /// mypy: `src/app.py:3: error: msg  [code]`.
    Mypy,
    /// ESLint's stylish format: a file's path, then `  1:7  error  msg  rule` lines.
    Eslint,
    /// A line that says it is an error (`error: ...`, `ERROR ...`, `[ERROR] ...`, `npm ERR! ...`).
    Generic,
    /// A failing test as its runner reported it (jest `●`, vitest `FAIL`, mocha `1)`, node's
    /// `not ok` / `✖`, pytest's `____ test ____`, go's `--- FAIL:`, cargo's `---- t stdout ----`):
    /// the message names the test, then gives the assertion's message.
    TestFailure,
}

impl ErrorKind {
    pub const ALL: [ErrorKind; 15] = [
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
        ErrorKind::Ruff,
        ErrorKind::Mypy,
        ErrorKind::Eslint,
        ErrorKind::Generic,
        ErrorKind::TestFailure,
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
            ErrorKind::Ruff => "ruff",
            ErrorKind::Mypy => "mypy",
            ErrorKind::Eslint => "eslint",
            ErrorKind::Generic => "generic",
            ErrorKind::TestFailure => "test_failure",
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

pub use crate::process::Location;

/// One frame of a stack: where, in which function, and whether it is the project's own code
/// (not a dependency, the standard library or the runtime: `docs/design/detection.md`, "Stacks").
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash, serde::Serialize)]
pub struct Frame {
    pub location: Location,
    pub function: Option<String>,
    /// The project's own code, not a dependency, the standard library or the runtime.
    pub own: bool,
}

/// One error as the tool printed it: possibly many lines, grouped.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
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
    /// The stack, innermost first, where the tool printed one: at most
    /// [`FRAMES_MAX`](super::FRAMES_MAX) frames, the innermost kept. Frames printed without a
    /// file (`at new Promise (<anonymous>)`) are left out.
    pub frames: Vec<Frame>,
}

impl ErrorGroup {
    /// A group of one message, with no location, lines or frames (tests and scenarios).
    pub fn new(kind: ErrorKind, message: impl Into<String>) -> Self {
        ErrorGroup {
            kind,
            message: message.into(),
            location: None,
            lines: Vec::new(),
            lines_dropped: 0,
            stream: Stream::Stdout,
            frames: Vec::new(),
        }
    }
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
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash, serde::Serialize)]
pub struct Url {
    /// As announced, ANSI and trailing punctuation removed.
    pub url: String,
    /// The same URL with a wildcard host (`0.0.0.0`, `[::]`) replaced by `localhost`: what a
    /// browser or the proxy should open.
    pub browse: String,
    /// `http` or `https`.
    pub scheme: String,
    /// As announced: `localhost`, `127.0.0.1`, `0.0.0.0`, `[::]`, a LAN address.
    pub host: String,
    pub port: u16,
    /// The path after the port, `/` when there is none.
    pub path: String,
}

impl Url {
    /// A URL from its parts as announced (tests and scenarios; detection parses them).
    pub fn parse_announced(text: &str) -> Option<Url> {
        super::url::parse_one(text)
    }
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

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, serde::Serialize)]
#[serde(rename_all = "snake_case")]
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

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, serde::Serialize)]
#[serde(rename_all = "snake_case")]
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

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, serde::Serialize)]
pub struct Build {
    pub outcome: BuildOutcome,
    pub tool: BuildTool,
}

impl fmt::Display for Build {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} {}", self.tool.name(), self.outcome.name())
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, serde::Serialize)]
#[serde(rename_all = "snake_case")]
pub enum TestFramework {
    Jest,
    Vitest,
    Cargo,
    #[serde(rename = "go")]
    GoTest,
    Pytest,
    Mocha,
    /// node's built-in runner (`node --test`).
    Node,
}

impl TestFramework {
    pub fn name(self) -> &'static str {
        match self {
            TestFramework::Jest => "jest",
            TestFramework::Vitest => "vitest",
            TestFramework::Cargo => "cargo",
            TestFramework::GoTest => "go",
            TestFramework::Pytest => "pytest",
            TestFramework::Mocha => "mocha",
            TestFramework::Node => "node",
        }
    }
}

/// A test that failed: its name, and where and why, as far as the runner said.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash, serde::Serialize)]
pub struct FailedTest {
    pub name: String,
    pub location: Option<Location>,
    pub message: Option<String>,
}

/// A test run's closing counts. `None` where the runner did not say (`go test` without `-v`
/// names only its failures).
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash, serde::Serialize)]
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
    /// The failing tests reported since the previous summary on this stream, in order (each
    /// also reported as a `test_failure` error): at most
    /// [`FAILURES_MAX`](super::FAILURES_MAX).
    pub failures: Vec<FailedTest>,
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
