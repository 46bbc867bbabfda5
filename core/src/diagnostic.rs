//! [`Diagnostic`]: one problem found in one of the user's files, as config and discovery
//! report it. Both produce the same type, so a front end has one way to print them.

use std::fmt;
use std::path::{Path, PathBuf};

/// How bad a [`Diagnostic`] is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, serde::Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Severity {
    /// Something in the file is wrong; what it would have said is missing (a script, a
    /// setting).
    Error,
    /// The file is fine, but not all of it was used (a limit of brum's was reached).
    Warning,
}

impl Severity {
    /// `error`, `warning`: the word a front end prefixes the diagnostic with.
    pub fn name(self) -> &'static str {
        match self {
            Severity::Error => "error",
            Severity::Warning => "warning",
        }
    }
}

impl fmt::Display for Severity {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// One problem in one file, with its position when there is one.
///
/// `Display` gives `file:line:column: message; hint` (the position as far as it is known, the
/// hint when there is one), without the severity: the front end says `error:` or `warning:`.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct Diagnostic {
    pub severity: Severity,
    pub file: PathBuf,
    /// 1-based; `None` when the problem is the whole file (it could not be read).
    pub line: Option<usize>,
    /// 1-based, in characters; `None` when only the line is known.
    pub column: Option<usize>,
    /// A lowercase fragment naming the object: ``unknown key `bus_wrokers` ``.
    pub message: String,
    /// What to do about it, when brum can tell: ``did you mean `bus_workers`?``.
    pub hint: Option<String>,
}

impl Diagnostic {
    /// An error about the whole of `file`.
    pub fn error(file: impl Into<PathBuf>, message: impl Into<String>) -> Diagnostic {
        Diagnostic {
            severity: Severity::Error,
            file: file.into(),
            line: None,
            column: None,
            message: message.into(),
            hint: None,
        }
    }

    /// A warning about the whole of `file`.
    pub fn warning(file: impl Into<PathBuf>, message: impl Into<String>) -> Diagnostic {
        Diagnostic { severity: Severity::Warning, ..Diagnostic::error(file, message) }
    }

    /// At `line` (1-based).
    pub fn at_line(self, line: usize) -> Diagnostic {
        Diagnostic { line: Some(line), column: None, ..self }
    }

    /// At `line` and `column` (1-based).
    pub fn at(self, line: usize, column: usize) -> Diagnostic {
        Diagnostic { line: Some(line), column: Some(column), ..self }
    }

    /// With a hint (see [`Diagnostic::hint`]).
    pub fn with_hint(self, hint: impl Into<String>) -> Diagnostic {
        Diagnostic { hint: Some(hint.into()), ..self }
    }

    /// `:line:column`, `:line` or nothing.
    pub fn position(&self) -> String {
        match (self.line, self.column) {
            (Some(l), Some(c)) => format!(":{l}:{c}"),
            (Some(l), None) => format!(":{l}"),
            _ => String::new(),
        }
    }

    /// Displays as [`Diagnostic`]'s `Display` does, with the file relative to `root` when it is
    /// inside it (`.` for `root` itself).
    pub fn display_from<'a>(&'a self, root: &'a Path) -> impl fmt::Display + 'a {
        Shown { d: self, root: Some(root) }
    }
}

impl fmt::Display for Diagnostic {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        Shown { d: self, root: None }.fmt(f)
    }
}

struct Shown<'a> {
    d: &'a Diagnostic,
    root: Option<&'a Path>,
}

impl fmt::Display for Shown<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let d = self.d;
        match self.root.map(|r| d.file.strip_prefix(r)) {
            Some(Ok(rel)) if rel.as_os_str().is_empty() => f.write_str(".")?,
            Some(Ok(rel)) => write!(f, "{}", rel.display())?,
            _ => write!(f, "{}", d.file.display())?,
        }
        write!(f, "{}: {}", d.position(), d.message)?;
        if let Some(hint) = &d.hint {
            write!(f, "; {hint}")?;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn displays_file_position_message_and_hint() {
        let d = Diagnostic::error("/p/package.json", "bad");
        assert_eq!(d.clone().at(3, 7).to_string(), "/p/package.json:3:7: bad");
        assert_eq!(d.clone().at_line(3).to_string(), "/p/package.json:3: bad");
        assert_eq!(d.to_string(), "/p/package.json: bad");
        let d = Diagnostic::error("/p/.brum.toml", "unknown key `x`").at_line(2).with_hint("did you mean `y`?");
        assert_eq!(d.to_string(), "/p/.brum.toml:2: unknown key `x`; did you mean `y`?");
    }

    #[test]
    fn display_from_a_root_shortens_paths_inside_it_only() {
        let d = Diagnostic::warning("/p/apps/package.json", "too many").at_line(1);
        assert_eq!(d.display_from(Path::new("/p")).to_string(), "apps/package.json:1: too many");
        assert_eq!(d.display_from(Path::new("/q")).to_string(), "/p/apps/package.json:1: too many");
        let whole = Diagnostic::error("/p", "cannot list the project directory: denied");
        assert_eq!(whole.display_from(Path::new("/p")).to_string(), ".: cannot list the project directory: denied");
        assert_eq!(Severity::Warning.to_string(), "warning");
    }
}
