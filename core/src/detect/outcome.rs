//! Build outcomes and test summaries: one line each, recognised by the tool's own closing words.

use super::model::{BuildTool, Location, TestFramework, TestSummary};
use super::scan::{leading_num, num, truncate};

/// How far into a line tsc's watch-mode `HH:MM:SS AM - Found` may start (a 12-hour stamp with
/// its separator is 14 bytes; 24 leaves room for locales).
const TSC_WATCH_HEAD: usize = 24;

/// Substrings looked for once per line (one memchr pass over their bytes), so each recogniser that needs one is
/// skipped outright on the many lines without it.
#[derive(Debug, Clone, Copy, Default)]
pub(crate) struct Probe {
    /// `[vite] `: Vite's dev-server lines.
    pub(crate) vite: bool,
    /// `error TS`: tsc diagnostics.
    pub(crate) ts: bool,
    /// `.go:`: Go compile errors.
    pub(crate) go: bool,
    /// A `:`, which every URL has (`http://`, `https://`).
    pub(crate) colon: bool,
}

impl Probe {
    pub(crate) fn of(line: &str) -> Self {
        // Each probed substring holds one of these bytes (`[` in `[vite] `, `S` in `error TS`,
        // `:` in `.go:`), and so does every URL: most lines hold none, and one SIMD pass then
        // settles all four, where four substring searches cost a tenth of a flood's time.
        // One pass settles all four: each substring is looked for only where its byte is.
        let b = line.as_bytes();
        let mut p = Probe::default();
        for i in memchr::memchr3_iter(b'[', b'S', b':', b) {
            match b[i] {
                b'[' => p.vite |= b[i..].starts_with(VITE_TAG.as_bytes()),
                b'S' => p.ts |= b[..=i].ends_with(b"error TS"),
                _ => {
                    p.colon = true;
                    p.go |= b[..i].ends_with(b".go");
                }
            }
        }
        p
    }
}

/// What leads Vite's dev-server lines.
const VITE_TAG: &str = "[vite] ";

/// What follows the first `[vite] ` in `line`, if it holds one (the `[` looked for with
/// memchr, where a substring search would first build its searcher).
pub(crate) fn after_vite(line: &str) -> Option<&str> {
    memchr::memchr_iter(b'[', line.as_bytes())
        .find(|&i| line.as_bytes()[i..].starts_with(VITE_TAG.as_bytes()))
        .map(|i| &line[i + VITE_TAG.len()..])
}

/// A line that ends a build, before the detector decides between `Compiled` and `Rebuilt`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum BuildLine {
    /// Finished without errors.
    Success(BuildTool),
    /// An incremental update was applied (Vite HMR): always a rebuild.
    Update(BuildTool),
    Failed(BuildTool),
}

/// Recognises a build-closing line. `next_seen` says the process printed Next.js's banner,
/// which decides whose `Failed to compile.` it is.
///
/// `tsc_seen` says this stream printed a tsc diagnostic (`error TS`): only then is a bare
/// `Found 4 errors.` tsc's, since Ruff prints the same words (and mypy `Found 4 errors in 2
/// files (checked 9 source files)`).
pub(crate) fn build_line(line: &str, next_seen: bool, tsc_seen: bool, probe: &Probe) -> Option<BuildLine> {
    let t = line.trim_start();
    let first = *t.as_bytes().first()?;
    match first {
        b'F' => {
            if t.starts_with("Finished ") && t.contains(" target(s) in ") {
                return Some(BuildLine::Success(BuildTool::Cargo));
            }
            if t.starts_with("Failed to compile") {
                return Some(BuildLine::Failed(if next_seen { BuildTool::Nextjs } else { BuildTool::Webpack }));
            }
            // Next.js 16.2 and later, when the build compiled but type checking failed.
            if t.starts_with("Failed to type check") {
                return Some(BuildLine::Failed(BuildTool::Nextjs));
            }
            if let Some(rest) = t.strip_prefix("Found ") {
                return tsc_found(rest, tsc_seen);
            }
        }
        b'e' if t.starts_with("error: could not compile `") => return Some(BuildLine::Failed(BuildTool::Cargo)),
        b'w' => {
            if let Some(rest) = t.strip_prefix("webpack ") {
                // `webpack 5.113.0 compiled successfully in 36 ms`, `webpack compiled with 1 error`.
                let rest = rest.split_once(' ').filter(|(v, _)| v.starts_with(|c: char| c.is_ascii_digit()));
                let rest = rest.map_or(t.get(8..).unwrap_or(""), |(_, r)| r);
                if rest.starts_with("compiled successfully") {
                    return Some(BuildLine::Success(BuildTool::Webpack));
                }
                if let Some(r) = rest.strip_prefix("compiled with ") {
                    let errors = r
                        .split(" and ")
                        .any(|p| leading_num(p).is_some_and(|(n, w)| n > 0 && w.trim_start().starts_with("error")));
                    return Some(if errors {
                        BuildLine::Failed(BuildTool::Webpack)
                    } else {
                        BuildLine::Success(BuildTool::Webpack)
                    });
                }
            }
        }
        b'C' if t.starts_with("Compiled successfully") || t.starts_with("Compiled with warnings") => {
            return Some(BuildLine::Success(if next_seen { BuildTool::Nextjs } else { BuildTool::Webpack }));
        }
        _ => {}
    }
    // Glyph-led lines: `✓ built in 256ms`, `✗ Build failed in 108ms` (vite), ` ✓ Compiled / in
    // 11.4s` (Next.js).
    if let Some(r) = t.strip_prefix("✓ ") {
        if r.starts_with("built in ") {
            return Some(BuildLine::Success(BuildTool::Vite));
        }
        if r.starts_with("Compiled ") {
            return Some(BuildLine::Success(BuildTool::Nextjs));
        }
    }
    if t.starts_with("✗ Build failed") {
        return Some(BuildLine::Failed(BuildTool::Vite));
    }
    // tsc --watch: `06:20:08 PM - Found 4 errors. Watching for file changes.` The timestamp is
    // short, so only the line's head is searched.
    if first.is_ascii_digit()
        && truncate(t, TSC_WATCH_HEAD).0.contains(" - Found ")
        && let Some((_, rest)) = t.split_once(" - Found ")
    {
        return tsc_found(rest, tsc_seen);
    }
    // Vite dev: `6:20:35 PM [vite] (client) hmr update /src/App.tsx` or `page reload`.
    if probe.vite
        && let Some(rest) = after_vite(t)
    {
        let rest = rest.strip_prefix("(client) ").or_else(|| rest.strip_prefix("(ssr) ")).unwrap_or(rest);
        if rest.starts_with("hmr update ") || rest.starts_with("page reload ") {
            return Some(BuildLine::Update(BuildTool::Vite));
        }
    }
    None
}

/// The rest of tsc's `Found N error(s)...` line.
fn tsc_found(rest: &str, tsc_seen: bool) -> Option<BuildLine> {
    let (n, rest) = leading_num(rest)?;
    // tsc's exact forms: `Found 1 error.`, `Found 4 errors. Watching ...`, `Found 4 errors in the
    // same file, starting at: a.ts:4`, `Found 1 error in a.ts:4`, `Found 9 errors in 3 files.`
    // The bare `Found 4 errors.` is also Ruff's, so it counts only after a tsc diagnostic; and
    // `in 3 files.` must end there (mypy goes on: `in 3 files (checked 9 source files)`).
    let in_files = |r: &str| leading_num(r).is_some_and(|(_, w)| w.trim_end() == " files." || w.trim_end() == " file.");
    let bare = rest.starts_with(" error.") || rest.starts_with(" errors.");
    let ok = bare && (tsc_seen || rest.contains("Watching for file changes"))
        || rest.starts_with(" errors in the same file")
        || rest.strip_prefix(" error in ").is_some_and(|r| super::scan::file_line_col(r.trim_end()).is_some())
        || rest.strip_prefix(" errors in ").is_some_and(in_files);
    if !ok {
        return None;
    }
    Some(if n == 0 { BuildLine::Success(BuildTool::Tsc) } else { BuildLine::Failed(BuildTool::Tsc) })
}

/// Counts parsed from a summary's `N word` parts.
#[derive(Debug, Default, Clone)]
struct Counts {
    passed: u32,
    failed: u32,
    skipped: u32,
    total: Option<u32>,
    any: bool,
    skipped_seen: bool,
}

impl Counts {
    /// Adds one `N word` part; false if the word is not a count word.
    fn add(&mut self, n: u32, word: &str) -> bool {
        let word = word.trim_end_matches([',', '.', ';']);
        match word {
            "passed" | "passing" => self.passed = self.passed.saturating_add(n),
            "failed" | "failing" | "error" | "errors" => self.failed = self.failed.saturating_add(n),
            "skipped" | "ignored" | "pending" | "todo" | "xfailed" => {
                self.skipped = self.skipped.saturating_add(n);
                self.skipped_seen = true;
            }
            "xpassed" => self.passed = self.passed.saturating_add(n),
            "total" => self.total = Some(n),
            "deselected" | "warning" | "warnings" | "rerun" | "snapshot" | "snapshots" | "measured" | "filtered" => {}
            _ => return false,
        }
        self.any = true;
        true
    }

    fn summary(self, framework: TestFramework) -> Option<TestSummary> {
        if !self.any {
            return None;
        }
        let total = self.total.or(Some(self.passed.saturating_add(self.failed).saturating_add(self.skipped)));
        Some(TestSummary {
            framework,
            passed: Some(self.passed),
            failed: self.failed,
            // A count the runner did not print is unknown, not zero (jest and vitest print
            // `skipped` only when some were).
            skipped: self.skipped_seen.then_some(self.skipped),
            total,
            suite: None,
            failures: Vec::new(),
        })
    }
}

/// node --test's closing counts, one a line (`ℹ tests 3` in the spec reporter, `# tests 3` in
/// TAP), ending with `duration_ms`: the summary is complete then.
#[derive(Debug, Default, Clone)]
pub(crate) struct NodeTally {
    counts: Option<Counts>,
}

impl NodeTally {
    pub(crate) fn feed(&mut self, line: &str) -> Option<TestSummary> {
        let rest = line.strip_prefix("ℹ ").or_else(|| line.strip_prefix("# "))?;
        let (key, n) = rest.split_once(' ')?;
        if key == "duration_ms" {
            return self.counts.take().and_then(|c| c.summary(TestFramework::Node));
        }
        let n: u32 = n.trim().parse().ok()?;
        let c = self.counts.get_or_insert_with(Counts::default);
        match key {
            "tests" => c.total = Some(n),
            "pass" => c.add(n, "passed").then_some(())?,
            "fail" | "cancelled" => c.add(n, "failed").then_some(())?,
            "skipped" | "todo" => c.add(n, "skipped").then_some(())?,
            "suites" => {}
            _ => {
                self.counts = None;
                return None;
            }
        }
        None
    }
}

/// mocha's counts, printed before its failure reports: `  1 passing (4ms)`, `  2 failing`,
/// `  1 pending`. Returns the counts so far, or `None` for another line.
pub(crate) fn mocha_count(line: &str, counts: &mut Option<TestSummary>) -> bool {
    let t = line.trim();
    let Some((n, rest)) = leading_num(t) else { return false };
    let word = rest.trim_start();
    let (word, after) = word.split_once(' ').unwrap_or((word, ""));
    let first = word == "passing" && after.starts_with('(') && after.ends_with(')');
    if !first && !matches!((word, after), ("failing" | "pending", "")) {
        return false;
    }
    if !first && counts.is_none() {
        return false;
    }
    let s = counts.get_or_insert_with(|| TestSummary {
        framework: TestFramework::Mocha,
        passed: Some(0),
        failed: 0,
        skipped: None,
        total: None,
        suite: None,
        failures: Vec::new(),
    });
    match word {
        "passing" => s.passed = Some(n),
        "failing" => s.failed = n,
        _ => s.skipped = Some(n),
    }
    true
}

/// Recognises a test runner's closing summary. `go test` is handled by [`GoTally`]: its counts
/// come from many lines.
pub(crate) fn test_summary(line: &str) -> Option<TestSummary> {
    let t = line.trim_start();
    let first = *t.as_bytes().first()?;
    match first {
        // cargo: `test result: FAILED. 2 passed; 3 failed; 1 ignored; 0 measured; 0 filtered out; ...`
        b't' => {
            let rest = t.strip_prefix("test result: ")?;
            let (_, rest) = rest.split_once(". ")?;
            let mut c = Counts::default();
            for part in rest.split("; ") {
                let Some((n, word)) = leading_num(part) else { break };
                let word = word.trim_start().split(' ').next().unwrap_or("");
                if !c.add(n, word) {
                    break;
                }
            }
            c.summary(TestFramework::Cargo)
        }
        // jest: `Tests:       2 failed, 1 skipped, 2 passed, 5 total`
        // vitest: `Tests  2 failed | 3 passed | 1 skipped (6)`
        b'T' => {
            if let Some(rest) = t.strip_prefix("Tests:") {
                let mut c = Counts::default();
                for part in rest.split(',') {
                    let (n, word) = leading_num(part.trim())?;
                    if !c.add(n, word.trim()) {
                        return None;
                    }
                }
                c.summary(TestFramework::Jest)
            } else if let Some(rest) = t.strip_prefix("Tests  ") {
                let (counts, total) = rest.rsplit_once(" (")?;
                let mut c = Counts::default();
                for part in counts.split(" | ") {
                    let (n, word) = leading_num(part.trim())?;
                    if !c.add(n, word.trim()) {
                        return None;
                    }
                }
                c.total = num(total.strip_suffix(')')?);
                c.summary(TestFramework::Vitest)
            } else {
                None
            }
        }
        // pytest: `=== 2 failed, 3 passed, 1 skipped in 0.26s ===` or, with -q,
        // `3 passed, 1 skipped, 2 deselected in 0.07s`.
        b'=' | b'0'..=b'9' => {
            // Cheap rejection first: the line must end in a duration (`in 0.26s`).
            let tail = t.trim_end_matches(['=', ' ']);
            // Runs over a minute add the clock time: `in 61.10s (0:01:01)`.
            let tail = tail.rsplit_once(" (").filter(|(_, r)| r.ends_with(')')).map_or(tail, |(h, _)| h);
            let before_s = tail.strip_suffix('s')?.as_bytes().last()?;
            if !before_s.is_ascii_digit() {
                return None;
            }
            let body = t.trim_matches(|c| c == '=' || c == ' ');
            let (counts, time) = body.rsplit_once(" in ")?;
            let time = time.split(' ').next().unwrap_or("");
            if !time.ends_with('s') || !time.starts_with(|c: char| c.is_ascii_digit()) {
                return None;
            }
            let mut c = Counts::default();
            for part in counts.split(", ") {
                let (n, word) = leading_num(part)?;
                if !word.starts_with(' ') || !c.add(n, word.trim()) {
                    return None;
                }
            }
            c.summary(TestFramework::Pytest)
        }
        _ => None,
    }
}

/// `go test` prints no counts: it names each top-level test's outcome (`--- FAIL: TestX`, and
/// with `-v` every `--- PASS`/`--- SKIP` too), then one `ok`/`FAIL` line per package. The tally
/// counts those lines and closes at the package line.
#[derive(Debug, Default, Clone)]
pub(crate) struct GoTally {
    verbose: bool,
    passed: u32,
    failed: u32,
    skipped: u32,
    /// With `-v`, the test running (`=== RUN   TestX`) and its first `t.Error` line, which go
    /// prints before the test's `--- FAIL:` line.
    running: String,
    pending: Option<(Location, String)>,
}

impl GoTally {
    /// The `-v` message of `test` (or of one of its subtests), if it printed one.
    pub(crate) fn take_pending(&mut self, test: &str) -> Option<(Location, String)> {
        let r = &self.running;
        let ours = r == test || r.strip_prefix(test).is_some_and(|sub| sub.starts_with('/'));
        if ours { self.pending.take() } else { None }
    }

    /// Feeds one line; returns the package's summary at its `ok`/`FAIL` line.
    pub(crate) fn feed(&mut self, line: &str) -> Option<TestSummary> {
        let b = line.as_bytes();
        match b.first()? {
            b'=' if line.starts_with("=== RUN ") => {
                self.verbose = true;
                self.running.clear();
                self.running.push_str(truncate(line.get(8..).unwrap_or("").trim(), super::MESSAGE_BYTES_MAX).0);
                self.pending = None;
            }
            b' ' if self.verbose && self.pending.is_none() => {
                if let Some((loc, msg)) = super::group::go_test_message(line.trim_start()) {
                    let (msg, _) = truncate(msg, super::MESSAGE_BYTES_MAX);
                    self.pending = Some((loc, msg.to_string()));
                }
            }
            b'-' if line.starts_with("--- ") => {
                if line.starts_with("--- PASS: ") {
                    self.passed = self.passed.saturating_add(1);
                } else if line.starts_with("--- FAIL: ") {
                    self.failed = self.failed.saturating_add(1);
                } else if line.starts_with("--- SKIP: ") {
                    self.skipped = self.skipped.saturating_add(1);
                }
            }
            b'o' | b'F' => {
                let rest = line.strip_prefix("ok ").or_else(|| line.strip_prefix("FAIL\t"))?;
                let mut fields = rest.trim_start().split('\t');
                let suite = fields.next().filter(|s| !s.is_empty() && !s.contains(' '))?;
                let time = fields.next()?;
                if !(time.ends_with('s') || time.starts_with("(cached)") || time.starts_with("[")) {
                    return None;
                }
                let tally = std::mem::take(self);
                let exact = tally.verbose;
                return Some(TestSummary {
                    framework: TestFramework::GoTest,
                    passed: exact.then_some(tally.passed),
                    failed: tally.failed,
                    skipped: exact.then_some(tally.skipped),
                    total: exact.then_some(tally.passed.saturating_add(tally.failed).saturating_add(tally.skipped)),
                    suite: Some(suite.to_string()),
                    failures: Vec::new(),
                });
            }
            _ => {}
        }
        None
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn build_lines_of_each_tool() {
        use BuildLine::*;
        let cases = [
            (
                "    Finished `dev` profile [unoptimized + debuginfo] target(s) in 1.20s",
                Some(Success(BuildTool::Cargo)),
            ),
            ("error: could not compile `app` (bin \"app\") due to 3 previous errors", Some(Failed(BuildTool::Cargo))),
            ("webpack 5.113.0 compiled successfully in 1218 ms", Some(Success(BuildTool::Webpack))),
            ("webpack 5.113.0 compiled with 1 error in 76 ms", Some(Failed(BuildTool::Webpack))),
            ("webpack 5.113.0 compiled with 2 warnings in 76 ms", Some(Success(BuildTool::Webpack))),
            ("✓ built in 256ms", Some(Success(BuildTool::Vite))),
            ("✗ Build failed in 108ms", Some(Failed(BuildTool::Vite))),
            (" ✓ Compiled /broken in 3.3s (531 modules)", Some(Success(BuildTool::Nextjs))),
            ("06:20:08 PM - Found 4 errors. Watching for file changes.", Some(Failed(BuildTool::Tsc))),
            ("06:20:12 PM - Found 0 errors. Watching for file changes.", Some(Success(BuildTool::Tsc))),
            ("Found 4 errors in the same file, starting at: src/api.ts:4", Some(Failed(BuildTool::Tsc))),
            ("6:20:35 PM [vite] (client) hmr update /src/App.tsx", Some(Update(BuildTool::Vite))),
            ("Found 0 errors in the logs, all good", None),
            ("Found 1 error in src/api.ts:6", Some(Failed(BuildTool::Tsc))),
            ("Found 9 errors in 3 files.", Some(Failed(BuildTool::Tsc))),
            // Ruff's and mypy's summaries, with no tsc diagnostic before them.
            ("Found 4 errors.", None),
            ("Found 1 error.", None),
            ("Found 4 errors in 2 files (checked 9 source files)", None),
            ("GET /api/build 200", None),
            ("the webpack config compiled fine", None),
        ];
        for (line, want) in cases {
            assert_eq!(build_line(line, false, false, &Probe::of(line)), want, "{line}");
        }
    }

    #[test]
    fn summaries_of_each_runner() {
        let s = test_summary(
            "test result: FAILED. 2 passed; 3 failed; 1 ignored; 0 measured; 0 filtered out; finished in 0.02s",
        )
        .unwrap();
        assert_eq!(s.to_string(), "cargo passed=2 failed=3 skipped=1 total=6");
        let s = test_summary("Tests:       2 failed, 1 skipped, 2 passed, 5 total").unwrap();
        assert_eq!(s.to_string(), "jest passed=2 failed=2 skipped=1 total=5");
        let s = test_summary("      Tests  2 failed | 3 passed | 1 skipped (6)").unwrap();
        assert_eq!(s.to_string(), "vitest passed=3 failed=2 skipped=1 total=6");
        let s =
            test_summary("==================== 2 failed, 3 passed, 1 skipped in 0.26s ====================").unwrap();
        assert_eq!(s.to_string(), "pytest passed=3 failed=2 skipped=1 total=6");
        let s = test_summary("3 passed, 1 skipped, 2 deselected in 0.07s").unwrap();
        assert_eq!(s.to_string(), "pytest passed=3 failed=0 skipped=1 total=4");
        let s = test_summary("======== 1 failed, 40 passed, 2 errors in 61.10s (0:01:01) ========").unwrap();
        assert_eq!(s.to_string(), "pytest passed=40 failed=3 skipped=? total=43", "no skipped count printed: unknown");
        assert!(test_summary(" Test Files  1 failed | 1 passed (2)").is_none());
        assert!(test_summary("3 users signed in in 2s").is_none());
        assert!(test_summary("2024-01-01 10:00:00 served 3 requests in 5s").is_none());
    }

    #[test]
    fn go_tally_counts_verbose_and_quiet_runs() {
        let mut t = GoTally::default();
        for l in ["=== RUN   TestA", "--- PASS: TestA (0.00s)", "--- FAIL: TestB (0.00s)", "--- SKIP: TestC (0.00s)"] {
            assert!(t.feed(l).is_none());
        }
        let s = t.feed("FAIL\texample.com/app/calc\t0.006s").unwrap();
        assert_eq!(s.to_string(), "go passed=1 failed=1 skipped=1 total=3 suite=example.com/app/calc");
        assert!(t.feed("--- FAIL: TestB (0.00s)").is_none());
        let s = t.feed("FAIL\texample.com/app/calc\t0.007s").unwrap();
        assert_eq!(s.to_string(), "go passed=? failed=1 skipped=? total=? suite=example.com/app/calc");
        let s = t.feed("ok  \texample.com/app/util\t(cached)").unwrap();
        assert_eq!(s.failed, 0);
        assert!(t.feed("?   \texample.com/app\t[no test files]").is_none());
        assert!(t.feed("ok so what").is_none());
    }
}
