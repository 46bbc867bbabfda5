//! The state one discovery run threads through the source parsers: the file system, the
//! root's listing, the preferences, and the diagnostics so far.

use std::collections::BTreeSet;
use std::io;
use std::path::{Path, PathBuf};

use super::fs::ProjectFs;
use super::model::DiscoveryPrefs;
use super::text::line_col;
use crate::diagnostic::Diagnostic;
use crate::script::{Command, RestartPolicy, Script, SourceKind};

pub(crate) struct Cx<'a> {
    pub(crate) fs: &'a dyn ProjectFs,
    pub(crate) root: &'a Path,
    pub(crate) prefs: &'a DiscoveryPrefs,
    /// Names of the regular files in the root.
    pub(crate) root_files: BTreeSet<String>,
    pub(crate) diagnostics: Vec<Diagnostic>,
}

impl<'a> Cx<'a> {
    pub(crate) fn new(fs: &'a dyn ProjectFs, root: &'a Path, prefs: &'a DiscoveryPrefs) -> Cx<'a> {
        Cx { fs, root, prefs, root_files: BTreeSet::new(), diagnostics: Vec::new() }
    }

    /// Whether the root has a file named exactly `name`.
    pub(crate) fn has_file(&self, name: &str) -> bool {
        self.root_files.contains(name)
    }

    /// The first of `names` the root has (in the order given).
    pub(crate) fn first_file<'n>(&self, names: &[&'n str]) -> Option<&'n str> {
        names.iter().copied().find(|n| self.has_file(n))
    }

    /// The text of `path`; `None` if it does not exist, and also (after recording an error)
    /// if it cannot be read.
    pub(crate) fn read(&mut self, path: &Path) -> Option<String> {
        match self.fs.read_to_string(path) {
            Ok(text) => Some(text),
            Err(e) if e.kind() == io::ErrorKind::NotFound => None,
            Err(e) => {
                let message = match e.kind() {
                    io::ErrorKind::InvalidData => "cannot read the file: it is not UTF-8 text".to_owned(),
                    _ => format!("cannot read the file: {e}"),
                };
                self.error(path, None, message);
                None
            }
        }
    }

    /// The subdirectory and file names of `dir`, sorted; empty if it cannot be listed.
    pub(crate) fn list(&self, dir: &Path) -> (Vec<String>, Vec<String>) {
        let mut entries = self.fs.read_dir(dir).unwrap_or_default();
        entries.sort();
        let (dirs, files): (Vec<_>, Vec<_>) = entries.into_iter().partition(|e| e.is_dir);
        (dirs.into_iter().map(|e| e.name).collect(), files.into_iter().map(|e| e.name).collect())
    }

    /// An error in `file`, at `(line, column)` when given.
    pub(crate) fn error(&mut self, file: &Path, line_column: Option<(usize, usize)>, message: impl Into<String>) {
        let d = Diagnostic::error(file, message);
        self.diagnostics.push(match line_column {
            Some((line, column)) => d.at(line, column),
            None => d,
        });
    }

    /// A warning about the whole of `file`: it is fine, but brum did not use all of it.
    pub(crate) fn warning(&mut self, file: &Path, message: impl Into<String>) {
        self.diagnostics.push(Diagnostic::warning(file, message));
    }

    /// An error at byte `offset` of `text`, the contents of `file`.
    pub(crate) fn error_at(&mut self, file: &Path, text: &str, offset: usize, message: impl Into<String>) {
        self.error(file, Some(line_col(text, offset)), message);
    }
}

/// A script with no environment, no restarts and no detail.
pub(crate) fn script(name: String, source: SourceKind, file: &Path, command: Command, cwd: PathBuf) -> Script {
    Script {
        name,
        source,
        file: file.to_path_buf(),
        command,
        cwd,
        env: Vec::new(),
        restart: RestartPolicy::Never,
        detail: None,
    }
}

/// `program args...` as a [`Command::Exec`].
pub(crate) fn exec(program: &str, args: &[&str]) -> Command {
    Command::Exec { program: program.to_owned(), args: args.iter().map(|a| (*a).to_owned()).collect() }
}
