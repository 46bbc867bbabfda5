//! The real file system for discovery (`brum_core::discovery::ProjectFs` over `std::fs`), and
//! the check that a project directory exists.

use std::io;
use std::path::{Path, PathBuf};

use brum_core::discovery::{DirEntry, ProjectFs};

use crate::errors::CliError;

/// `std::fs`, read-only.
#[derive(Debug, Clone, Copy, Default)]
pub struct StdFs;

impl ProjectFs for StdFs {
    fn read_to_string(&self, path: &Path) -> io::Result<String> {
        std::fs::read_to_string(path)
    }

    fn read_dir(&self, path: &Path) -> io::Result<Vec<DirEntry>> {
        let mut entries = Vec::new();
        for entry in std::fs::read_dir(path)? {
            let entry = entry?;
            // No script source has a name that is not UTF-8.
            let Ok(name) = entry.file_name().into_string() else { continue };
            let file_type = entry.file_type()?;
            // A symlink counts as what it points to (pnpm links packages; a dangling link is
            // neither).
            let is_dir = if file_type.is_symlink() {
                std::fs::metadata(entry.path()).is_ok_and(|m| m.is_dir())
            } else {
                file_type.is_dir()
            };
            entries.push(DirEntry { name, is_dir, is_symlink: file_type.is_symlink() });
        }
        Ok(entries)
    }

    fn canonicalize(&self, path: &Path) -> io::Result<PathBuf> {
        std::fs::canonicalize(path)
    }
}

/// The absolute project directory: `given` (`-C DIR`) or the current directory, checked to be
/// a directory. Every command resolves its project here. Errors name the path as the user
/// wrote it.
pub fn project_dir(given: Option<&Path>) -> Result<PathBuf, CliError> {
    let (shown, absolute) = match given {
        Some(p) => (p.to_path_buf(), std::path::absolute(p).map_err(|source| CliError::CurrentDir { source })?),
        None => {
            let cwd = std::env::current_dir().map_err(|source| CliError::CurrentDir { source })?;
            (cwd.clone(), cwd)
        }
    };
    match std::fs::metadata(&absolute) {
        Ok(m) if m.is_dir() => Ok(absolute),
        Ok(_) => Err(CliError::NotADirectory { path: shown }),
        Err(e) if e.kind() == io::ErrorKind::NotFound => Err(CliError::NoProjectDir { path: shown }),
        Err(source) => Err(CliError::ProjectDirUnreadable { path: shown, source }),
    }
}

#[cfg(test)]
mod tests {
    use brum_core::discovery::{DiscoveryPrefs, discover};

    use super::*;

    #[test]
    fn lists_files_and_directories_and_follows_symlinks() {
        let tmp = tempfile::tempdir().expect("temp dir");
        std::fs::create_dir(tmp.path().join("apps")).expect("mkdir");
        std::fs::write(tmp.path().join("Makefile"), "build:\n").expect("write");
        std::os::unix::fs::symlink(tmp.path().join("apps"), tmp.path().join("linked")).expect("symlink");
        std::os::unix::fs::symlink(tmp.path().join("gone"), tmp.path().join("dangling")).expect("symlink");
        let mut entries = StdFs.read_dir(tmp.path()).expect("list");
        entries.sort();
        let got: Vec<_> = entries.iter().map(|e| (e.name.as_str(), e.is_dir)).collect();
        assert_eq!(got, vec![("Makefile", false), ("apps", true), ("dangling", false), ("linked", true)]);
        let err = StdFs.read_to_string(&tmp.path().join("nope")).expect_err("missing");
        assert_eq!(err.kind(), io::ErrorKind::NotFound);
    }

    #[test]
    fn discovery_reads_through_std_fs() {
        let tmp = tempfile::tempdir().expect("temp dir");
        std::fs::write(tmp.path().join("Makefile"), "build:\n\tcc main.c\n").expect("write");
        let d = discover(&StdFs, tmp.path(), &DiscoveryPrefs::default());
        assert_eq!(d.scripts().map(|s| s.name.as_str()).collect::<Vec<_>>(), vec!["make:build"]);
        assert!(d.diagnostics.is_empty(), "{:?}", d.diagnostics);
    }

    #[test]
    fn non_utf8_file_is_an_error_for_that_file_only() {
        let tmp = tempfile::tempdir().expect("temp dir");
        std::fs::write(tmp.path().join("package.json"), b"{\"scripts\": {\"a\": \"\xff\"}}").expect("write");
        std::fs::write(tmp.path().join("Procfile"), "web: ./server\n").expect("write");
        let d = discover(&StdFs, tmp.path(), &DiscoveryPrefs::default());
        assert_eq!(d.scripts().map(|s| s.name.as_str()).collect::<Vec<_>>(), vec!["web"]);
        assert_eq!(d.diagnostics.len(), 1);
        assert_eq!(d.diagnostics[0].file, tmp.path().join("package.json"));
        assert_eq!(d.diagnostics[0].message, "cannot read the file: it is not UTF-8 text");
    }

    #[test]
    fn project_dir_errors_name_the_given_path() {
        let tmp = tempfile::tempdir().expect("temp dir");
        let missing = tmp.path().join("nope");
        let err = project_dir(Some(&missing)).expect_err("missing");
        assert_eq!(err.to_string(), format!("no such project directory `{}`", missing.display()));
        let relative = Path::new("no/such/dir");
        let err = project_dir(Some(relative)).expect_err("missing");
        assert_eq!(err.to_string(), "no such project directory `no/such/dir`", "named as given, not made absolute");
        let file = tmp.path().join("file");
        std::fs::write(&file, "").expect("write");
        let err = project_dir(Some(&file)).expect_err("a file");
        assert!(matches!(err, CliError::NotADirectory { .. }), "{err:?}");
        assert_eq!(project_dir(Some(tmp.path())).expect("a dir"), tmp.path());
    }
}
