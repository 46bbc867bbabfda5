//! Configuration errors: one [`ConfigProblem`] per bad key or file, gathered into a
//! [`ConfigError`] so a user sees every problem at once. Each is also a
//! [`Diagnostic`], the type discovery reports its problems with.

use std::fmt;
use std::path::PathBuf;

use super::size::SizeError;
use crate::diagnostic::Diagnostic;

/// Why configuration could not be loaded.
#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    /// A config file exists but could not be read. Produced by the loader that does the I/O
    /// (the CLI); core itself reads no files.
    #[error("failed to read config file `{}`", path.display())]
    Read {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    /// One or more files are invalid; `problems` lists every one, in file then line order,
    /// and is never empty. No setting of any file was applied.
    #[error("{}", Problems(problems))]
    Invalid { problems: Vec<ConfigProblem> },
}

impl ConfigError {
    /// Every problem as a [`Diagnostic`]: one for a file that cannot be read, one per problem
    /// of invalid files.
    pub fn diagnostics(&self) -> Vec<Diagnostic> {
        match self {
            ConfigError::Read { path, source } => {
                vec![Diagnostic::error(path.clone(), format!("cannot read the file: {source}"))]
            }
            ConfigError::Invalid { problems } => problems.iter().map(ConfigProblem::diagnostic).collect(),
        }
    }

    /// The problems of an [`ConfigError::Invalid`]; empty for a read error.
    pub fn problems(&self) -> &[ConfigProblem] {
        match self {
            ConfigError::Read { .. } => &[],
            ConfigError::Invalid { problems } => problems,
        }
    }
}

struct Problems<'a>(&'a [ConfigProblem]);

impl fmt::Display for Problems<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let n = self.0.len();
        write!(f, "invalid configuration ({n} problem{}):", if n == 1 { "" } else { "s" })?;
        for problem in self.0 {
            write!(f, "\n  {problem}")?;
        }
        Ok(())
    }
}

/// One problem in one config file. `key` is the full dotted key (`concurrency.bus_workers`);
/// `line` is 1-based. It displays as its [`ConfigProblem::diagnostic`] does:
/// `file:line: message; hint`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ConfigProblem {
    /// The file is not valid TOML. `line` is `None` only if the parser gave no position.
    Syntax { path: PathBuf, line: Option<usize>, message: String },
    /// A key or table brum does not know.
    UnknownKey {
        path: PathBuf,
        line: usize,
        key: String,
        /// The table the key is in; `None` at the top level.
        section: Option<&'static str>,
        /// A close valid key, as it should be written at that place.
        suggestion: Option<String>,
        /// The keys valid at that place.
        valid: Vec<&'static str>,
    },
    /// The value has the wrong TOML type.
    WrongType { path: PathBuf, line: usize, key: String, expected: &'static str, found: String },
    /// A key set twice in one file (a table header written twice counts too). `first_line` is
    /// where it was set first, when that can be told.
    DuplicateKey { path: PathBuf, line: usize, key: String, first_line: Option<usize> },
    /// A number or size outside the key's range (an integer too large for TOML's 64 bits
    /// included).
    OutOfRange { path: PathBuf, line: usize, key: String, value: String, range: String },
    /// A string that is not one of the key's allowed values.
    BadChoice {
        path: PathBuf,
        line: usize,
        key: String,
        value: String,
        allowed: &'static [&'static str],
        suggestion: Option<&'static str>,
    },
    /// A size string that does not parse.
    BadSize { path: PathBuf, line: usize, key: String, value: String, reason: SizeError },
    /// A required key is absent (`command` of a `[processes.NAME]` table). `line` is the
    /// table's.
    MissingKey { path: PathBuf, line: usize, key: String, why: &'static str },
    /// A table or key name that cannot be used as one (a process name with spaces, an
    /// environment variable name with `=`).
    InvalidName { path: PathBuf, line: usize, key: String, name: String, reason: &'static str },
}

impl ConfigProblem {
    /// The problem as a [`Diagnostic`] (always an error), as discovery reports its own.
    pub fn diagnostic(&self) -> Diagnostic {
        let message = match self {
            ConfigProblem::Syntax { message, .. } => format!("invalid TOML: {message}"),
            ConfigProblem::UnknownKey { key, .. } => format!("unknown key `{key}`"),
            ConfigProblem::WrongType { key, expected, found, .. } => {
                format!("wrong type for `{key}`: expected {expected}, found {found}")
            }
            ConfigProblem::DuplicateKey { key, first_line, .. } => format!(
                "duplicate key `{key}`: {}",
                first_line.map_or_else(
                    || "a key may be set once per file".to_owned(),
                    |l| format!("it is already set on line {l}")
                )
            ),
            ConfigProblem::OutOfRange { key, value, range, .. } => {
                format!("`{key}` is out of range: {value} is not in {range}")
            }
            ConfigProblem::BadChoice { key, value, allowed, .. } => {
                format!("invalid value {value:?} for `{key}`: expected one of {}", allowed.join(", "))
            }
            ConfigProblem::BadSize { key, value, reason, .. } => {
                format!("invalid size {value:?} for `{key}`: {reason}")
            }
            ConfigProblem::MissingKey { key, why, .. } => format!("missing key `{key}`: {why}"),
            ConfigProblem::InvalidName { key, name, reason, .. } => {
                format!("invalid name {name:?} in `{key}`: {reason}")
            }
        };
        let hint = match self {
            ConfigProblem::UnknownKey { section, suggestion, valid, .. } => {
                Some(unknown_key_help(*section, suggestion.as_deref(), valid))
            }
            ConfigProblem::BadChoice { suggestion, .. } => suggestion.map(|s| format!("did you mean `{s}`?")),
            _ => None,
        };
        let d = Diagnostic::error(self.path(), message);
        let d = match self.line() {
            Some(line) => d.at_line(line),
            None => d,
        };
        match hint {
            Some(hint) => d.with_hint(hint),
            None => d,
        }
    }

    /// The file the problem is in.
    pub fn path(&self) -> &std::path::Path {
        match self {
            ConfigProblem::Syntax { path, .. }
            | ConfigProblem::UnknownKey { path, .. }
            | ConfigProblem::WrongType { path, .. }
            | ConfigProblem::DuplicateKey { path, .. }
            | ConfigProblem::OutOfRange { path, .. }
            | ConfigProblem::BadChoice { path, .. }
            | ConfigProblem::BadSize { path, .. }
            | ConfigProblem::MissingKey { path, .. }
            | ConfigProblem::InvalidName { path, .. } => path,
        }
    }

    /// The 1-based line of the problem, if known.
    pub fn line(&self) -> Option<usize> {
        match self {
            ConfigProblem::Syntax { line, .. } => *line,
            ConfigProblem::UnknownKey { line, .. }
            | ConfigProblem::WrongType { line, .. }
            | ConfigProblem::DuplicateKey { line, .. }
            | ConfigProblem::OutOfRange { line, .. }
            | ConfigProblem::BadChoice { line, .. }
            | ConfigProblem::BadSize { line, .. }
            | ConfigProblem::MissingKey { line, .. }
            | ConfigProblem::InvalidName { line, .. } => Some(*line),
        }
    }
}

impl fmt::Display for ConfigProblem {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.diagnostic().fmt(f)
    }
}

impl std::error::Error for ConfigProblem {}

fn unknown_key_help(section: Option<&str>, suggestion: Option<&str>, valid: &[&str]) -> String {
    match (suggestion, section) {
        (Some(s), _) => format!("did you mean `{s}`?"),
        (None, Some(section)) => format!("valid keys of `[{section}]`: {}", valid.join(", ")),
        (None, None) => {
            let tables: Vec<String> = valid.iter().map(|v| format!("`[{v}]`")).collect();
            format!("valid top-level tables: {}", tables.join(", "))
        }
    }
}
