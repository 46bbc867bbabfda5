//! Configuration errors: one [`ConfigProblem`] per bad key or file, gathered into a
//! [`ConfigError`] so a user sees every problem at once.

use std::fmt;
use std::path::PathBuf;

use super::size::SizeError;

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
/// `line` is 1-based.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ConfigProblem {
    /// The file is not valid TOML. `line` is `None` only if the parser gave no position.
    #[error("{}{}: invalid TOML: {message}", path.display(), at_line(*.line))]
    Syntax { path: PathBuf, line: Option<usize>, message: String },
    /// A key or table brum does not know.
    #[error("{}:{line}: unknown key `{key}`; {}", path.display(), unknown_key_help(*.section, suggestion.as_deref(), valid))]
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
    #[error("{}:{line}: wrong type for `{key}`: expected {expected}, found {found}", path.display())]
    WrongType { path: PathBuf, line: usize, key: String, expected: &'static str, found: String },
    /// A key set twice in one file (a table header written twice counts too). `first_line` is
    /// where it was set first, when that can be told.
    #[error(
        "{}:{line}: duplicate key `{key}`: {}",
        path.display(),
        first_line.map_or_else(|| "a key may be set once per file".to_owned(), |l| format!("it is already set on line {l}"))
    )]
    DuplicateKey { path: PathBuf, line: usize, key: String, first_line: Option<usize> },
    /// A number or size outside the key's range (an integer too large for TOML's 64 bits
    /// included).
    #[error("{}:{line}: `{key}` is out of range: {value} is not in {range}", path.display())]
    OutOfRange { path: PathBuf, line: usize, key: String, value: String, range: String },
    /// A string that is not one of the key's allowed values.
    #[error(
        "{}:{line}: invalid value {value:?} for `{key}`: expected one of {}{}",
        path.display(),
        allowed.join(", "),
        suggestion.map(|s| format!("; did you mean `{s}`?")).unwrap_or_default()
    )]
    BadChoice {
        path: PathBuf,
        line: usize,
        key: String,
        value: String,
        allowed: &'static [&'static str],
        suggestion: Option<&'static str>,
    },
    /// A size string that does not parse.
    #[error("{}:{line}: invalid size {value:?} for `{key}`: {reason}", path.display())]
    BadSize { path: PathBuf, line: usize, key: String, value: String, reason: SizeError },
    /// A required key is absent (`command` of a `[processes.NAME]` table). `line` is the
    /// table's.
    #[error("{}:{line}: missing key `{key}`: {why}", path.display())]
    MissingKey { path: PathBuf, line: usize, key: String, why: &'static str },
    /// A table or key name that cannot be used as one (a process name with spaces, an
    /// environment variable name with `=`).
    #[error("{}:{line}: invalid name {name:?} in `{key}`: {reason}", path.display())]
    InvalidName { path: PathBuf, line: usize, key: String, name: String, reason: &'static str },
}

impl ConfigProblem {
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

fn at_line(line: Option<usize>) -> String {
    line.map(|l| format!(":{l}")).unwrap_or_default()
}

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
