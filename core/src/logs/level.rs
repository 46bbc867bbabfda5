//! A guess at a line's severity from the markers tools commonly print.

use std::fmt;

/// A line's severity, guessed on ingest from its text (never from its stream: many tools write
/// ordinary progress to stderr, which is why Brummer's "stderr means error" was wrong).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Level {
    Error,
    Warn,
    Info,
    Debug,
    /// No marker found: ordinary output.
    Unknown,
}

impl Level {
    pub const ALL: [Level; 5] = [Level::Error, Level::Warn, Level::Info, Level::Debug, Level::Unknown];

    pub fn name(self) -> &'static str {
        match self {
            Level::Error => "error",
            Level::Warn => "warn",
            Level::Info => "info",
            Level::Debug => "debug",
            Level::Unknown => "unknown",
        }
    }

    /// The 3-bit code stored in a record.
    pub(crate) fn code(self) -> u8 {
        match self {
            Level::Error => 0,
            Level::Warn => 1,
            Level::Info => 2,
            Level::Debug => 3,
            Level::Unknown => 4,
        }
    }

    /// The inverse of [`Level::code`]; codes are only ever written by `code`.
    pub(crate) fn from_code(code: u8) -> Level {
        match code {
            0 => Level::Error,
            1 => Level::Warn,
            2 => Level::Info,
            3 => Level::Debug,
            _ => Level::Unknown,
        }
    }
}

impl fmt::Display for Level {
    /// The name; honours width and alignment (`{:<7}`).
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.pad(self.name())
    }
}

/// A set of levels, for filters. The default is every level.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct LevelSet(u8);

impl Default for LevelSet {
    fn default() -> Self {
        LevelSet::ALL
    }
}

impl LevelSet {
    pub const ALL: LevelSet = LevelSet(0b1_1111);
    pub const NONE: LevelSet = LevelSet(0);

    pub fn only(level: Level) -> LevelSet {
        LevelSet(1 << level.code())
    }

    /// `level` and everything more severe, by `Debug < Info < Warn < Error`. Unmarked output
    /// ([`Level::Unknown`]) counts as ordinary output: `at_least(Info)` includes it,
    /// `at_least(Warn)` does not.
    pub fn at_least(level: Level) -> LevelSet {
        match level {
            Level::Error => LevelSet::only(Level::Error),
            Level::Warn => LevelSet::only(Level::Error).with(Level::Warn),
            Level::Info | Level::Unknown => LevelSet::at_least(Level::Warn).with(Level::Info).with(Level::Unknown),
            Level::Debug => LevelSet::ALL,
        }
    }

    #[must_use]
    pub fn with(self, level: Level) -> LevelSet {
        LevelSet(self.0 | 1 << level.code())
    }

    pub fn contains(self, level: Level) -> bool {
        self.0 & 1 << level.code() != 0
    }
}

/// Bytes of a line examined for a level marker. Tools print the level first (`ERROR`,
/// `warning:`, `[info]`, `npm ERR!`); a marker past this point is almost always part of a
/// message, and the bound keeps ingest cost flat for long lines.
pub const LEVEL_SCAN_BYTES: usize = 256;

/// Guesses the level of `plain` (ANSI already stripped): the first level word decides, so
/// `INFO retrying after error` is info. Words are ASCII letter runs compared case-insensitively,
/// plus CamelCase suffixes (`TypeError`, `DeprecationWarning`). A plural or `failed` preceded by
/// `0` or `no` (`0 errors`, `no warnings`) is not a marker.
pub fn guess_level(plain: &str) -> Level {
    let bytes = plain.as_bytes();
    let bytes = &bytes[..bytes.len().min(LEVEL_SCAN_BYTES)];
    let mut i = 0;
    // The previous word (or number), lowercased only when it matters: `0` or `no`.
    let mut negated = false;
    while i < bytes.len() {
        if !bytes[i].is_ascii_alphanumeric() {
            i += 1;
            continue;
        }
        let start = i;
        while i < bytes.len() && bytes[i].is_ascii_alphanumeric() {
            i += 1;
        }
        let word = &bytes[start..i];
        if word[0].is_ascii_digit() {
            negated = word == b"0";
            continue;
        }
        if let Some(level) = word_level(word, negated) {
            return level;
        }
        negated = word.eq_ignore_ascii_case(b"no");
    }
    Level::Unknown
}

/// The level a single word marks, if any.
fn word_level(word: &[u8], negated: bool) -> Option<Level> {
    // Markers are at most 10 letters; lower-case into a stack buffer and match once, so that
    // ordinary words cost one length check or one `match`.
    const LONGEST: usize = 10;
    if word.len() <= LONGEST {
        let mut lower = [0u8; LONGEST];
        for (l, b) in lower.iter_mut().zip(word) {
            *l = b.to_ascii_lowercase();
        }
        let level = match &lower[..word.len()] {
            b"error" | b"err" | b"fatal" | b"panic" | b"panicked" | b"exception" | b"critical" | b"crit"
            | b"severe" | b"traceback" | b"uncaught" => Some(Level::Error),
            b"errors" | b"failed" | b"failure" | b"failures" if !negated => Some(Level::Error),
            b"warn" | b"warning" | b"deprecated" => Some(Level::Warn),
            b"warnings" if !negated => Some(Level::Warn),
            b"info" | b"notice" => Some(Level::Info),
            b"debug" | b"dbg" | b"verbose" => Some(Level::Debug),
            // `trace` is an ordinary word ("stack trace:"); only the upper-case level name counts.
            b"trace" if word == b"TRACE" => Some(Level::Debug),
            _ => None,
        };
        if level.is_some() {
            return level;
        }
    }
    // CamelCase type names: `TypeError`, `ReferenceError`, `RuntimeException`,
    // `UnhandledPromiseRejectionWarning`: an upper-case letter starts the suffix.
    let camel = |suffix: &[u8]| {
        word.len() > suffix.len() && {
            let at = word.len() - suffix.len();
            word[at].is_ascii_uppercase() && word[at..].eq_ignore_ascii_case(suffix)
        }
    };
    if camel(b"error") || camel(b"exception") {
        return Some(Level::Error);
    }
    if camel(b"warning") {
        return Some(Level::Warn);
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn guesses_common_markers() {
        let cases = [
            ("ERROR something broke", Level::Error),
            ("error[E0308]: mismatched types", Level::Error),
            ("npm ERR! code ELIFECYCLE", Level::Error),
            ("thread 'main' panicked at src/main.rs:3:5", Level::Error),
            ("TypeError: x is not a function", Level::Error),
            ("Uncaught ReferenceError: y", Level::Error),
            ("Failed to compile.", Level::Error),
            ("Traceback (most recent call last):", Level::Error),
            ("Found 3 errors.", Level::Error),
            ("warning: unused variable `x`", Level::Warn),
            ("[WARN] slow query", Level::Warn),
            ("(node:1) DeprecationWarning: Buffer() is deprecated", Level::Warn),
            ("INFO listening on :3000", Level::Info),
            ("[info] ready", Level::Info),
            ("DEBUG cache hit", Level::Debug),
            ("TRACE span entered", Level::Debug),
            ("stack trace follows", Level::Unknown),
            ("INFO retrying after error", Level::Info),
            ("Compiled with 0 errors and 0 warnings", Level::Unknown),
            ("Tests: 0 failed, 12 passed", Level::Unknown),
            ("no errors found", Level::Unknown),
            ("  VITE v5.0.0  ready in 300 ms", Level::Unknown),
            ("GET /api/users 200 3ms", Level::Unknown),
            ("", Level::Unknown),
            ("terrorist", Level::Unknown),
            ("Errorless", Level::Unknown),
        ];
        for (line, want) in cases {
            assert_eq!(guess_level(line), want, "{line:?}");
        }
    }

    #[test]
    fn looks_only_at_the_head_of_a_line() {
        let late = format!("{}error", "x ".repeat(LEVEL_SCAN_BYTES));
        assert_eq!(guess_level(&late), Level::Unknown);
        let early = format!("error {}", "x ".repeat(10_000));
        assert_eq!(guess_level(&early), Level::Error);
    }

    #[test]
    fn level_sets() {
        assert!(LevelSet::ALL.contains(Level::Unknown));
        assert!(!LevelSet::NONE.contains(Level::Error));
        let warn_up = LevelSet::at_least(Level::Warn);
        assert!(warn_up.contains(Level::Error) && warn_up.contains(Level::Warn));
        assert!(!warn_up.contains(Level::Info) && !warn_up.contains(Level::Unknown));
        assert!(LevelSet::at_least(Level::Info).contains(Level::Unknown));
        assert!(!LevelSet::at_least(Level::Info).contains(Level::Debug));
        assert_eq!(LevelSet::at_least(Level::Debug), LevelSet::ALL);
        for level in Level::ALL {
            assert_eq!(Level::from_code(level.code()), level);
            assert_eq!(LevelSet::only(level), LevelSet::NONE.with(level));
        }
    }
}
