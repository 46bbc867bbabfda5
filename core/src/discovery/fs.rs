//! The file system as discovery sees it: read a file, list a directory. Core does no I/O of its
//! own; the CLI passes a `std::fs` implementation (`cli/src/project_fs.rs`) and tests pass
//! [`MemFs`].

use std::collections::{BTreeMap, BTreeSet};
use std::io;
use std::ops::Bound;
use std::path::{Path, PathBuf};

use super::text::join_clean;

/// One entry of a directory listing.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
pub struct DirEntry {
    /// The file name (one path component). Entries whose names are not UTF-8 are left out by
    /// implementations: no script source has such a name.
    pub name: String,
    /// Whether the entry is a directory (following symlinks).
    pub is_dir: bool,
    /// Whether the entry itself is a symbolic link (to a directory or anything else). A `**`
    /// glob does not walk through a linked directory, so a link loop is not walked round.
    pub is_symlink: bool,
}

/// Read access to a project tree. Discovery only reads: it never writes or creates.
///
/// A missing file or directory must be an error of kind [`io::ErrorKind::NotFound`]: discovery
/// treats that as "this source is absent" and any other error as a problem to report.
pub trait ProjectFs {
    /// The whole file as UTF-8 text.
    fn read_to_string(&self, path: &Path) -> io::Result<String>;
    /// The entries of a directory, in any order (discovery sorts them).
    fn read_dir(&self, path: &Path) -> io::Result<Vec<DirEntry>>;
    /// `path` with every symlink resolved: two paths to the same file or directory give the
    /// same answer. Discovery asks only when a glob went through a symlink, to list a directory
    /// reached by two paths once.
    fn canonicalize(&self, path: &Path) -> io::Result<PathBuf>;
}

/// Symlinks resolved in one path at most, as Linux's `MAXSYMLINKS`: past that, [`MemFs`] fails
/// the way the kernel does (a loop would resolve forever).
const SYMLINK_HOPS_MAX: usize = 40;

/// An in-memory [`ProjectFs`] for tests: files with their text, directories implied by the
/// files' paths, symlinks, and optionally files that fail to read. Paths should be absolute.
#[derive(Debug, Clone, Default)]
pub struct MemFs {
    files: BTreeMap<PathBuf, String>,
    dirs: BTreeSet<PathBuf>,
    unreadable: BTreeSet<PathBuf>,
    /// Link path to target (absolute, or relative to the link's directory).
    links: BTreeMap<PathBuf, PathBuf>,
}

impl MemFs {
    pub fn new() -> MemFs {
        MemFs::default()
    }

    /// Adds a file (and its parent directories).
    pub fn file(mut self, path: impl Into<PathBuf>, text: &str) -> MemFs {
        let path = path.into();
        self.add_parents(&path);
        self.files.insert(path, text.to_owned());
        self
    }

    /// Adds an empty directory (and its parents).
    pub fn dir(mut self, path: impl Into<PathBuf>) -> MemFs {
        let path = path.into();
        self.add_parents(&path);
        self.dirs.insert(path);
        self
    }

    /// Adds a file that exists but fails to read with `PermissionDenied`.
    pub fn unreadable(mut self, path: impl Into<PathBuf>) -> MemFs {
        let path = path.into();
        self.add_parents(&path);
        self.unreadable.insert(path);
        self
    }

    /// Adds a symbolic link at `path` (and its parents) to `target`, which is absolute or
    /// relative to the link's directory, and need not exist.
    pub fn symlink(mut self, path: impl Into<PathBuf>, target: impl Into<PathBuf>) -> MemFs {
        let path = path.into();
        self.add_parents(&path);
        self.links.insert(path, target.into());
        self
    }

    /// `path` with every link resolved, component by component.
    fn resolve(&self, path: &Path) -> io::Result<PathBuf> {
        let mut hops = 0;
        self.resolve_counting(path, &mut hops)
    }

    fn resolve_counting(&self, path: &Path, hops: &mut usize) -> io::Result<PathBuf> {
        let mut out = PathBuf::new();
        for component in path.components() {
            out = join_clean(&out, Path::new(component.as_os_str()));
            if let Some(target) = self.links.get(&out) {
                *hops += 1;
                if *hops > SYMLINK_HOPS_MAX {
                    return Err(io::Error::other("too many levels of symbolic links"));
                }
                let parent = out.parent().unwrap_or(Path::new("/")).to_path_buf();
                out = self.resolve_counting(&join_clean(&parent, target), hops)?;
            }
        }
        Ok(out)
    }

    fn add_parents(&mut self, path: &Path) {
        for ancestor in path.ancestors().skip(1) {
            if !ancestor.as_os_str().is_empty() {
                self.dirs.insert(ancestor.to_path_buf());
            }
        }
    }
}

impl ProjectFs for MemFs {
    fn read_to_string(&self, path: &Path) -> io::Result<String> {
        let resolved = self.resolve(path)?;
        let path = resolved.as_path();
        if self.unreadable.contains(path) {
            return Err(io::Error::new(io::ErrorKind::PermissionDenied, "permission denied"));
        }
        if self.dirs.contains(path) {
            return Err(io::Error::new(io::ErrorKind::IsADirectory, "is a directory"));
        }
        self.files.get(path).cloned().ok_or_else(|| io::Error::new(io::ErrorKind::NotFound, "not found"))
    }

    fn read_dir(&self, path: &Path) -> io::Result<Vec<DirEntry>> {
        let resolved = self.resolve(path)?;
        let path = resolved.as_path();
        if !self.dirs.contains(path) {
            let kind =
                if self.files.contains_key(path) { io::ErrorKind::NotADirectory } else { io::ErrorKind::NotFound };
            return Err(io::Error::new(kind, "cannot list"));
        }
        // Paths order component by component, so a directory's descendants follow it.
        let after = (Bound::Excluded(path), Bound::Unbounded);
        let is_child = |p: &&PathBuf| p.parent() == Some(path);
        let entry = |p: &PathBuf, is_dir: bool, is_symlink: bool| DirEntry {
            name: p.file_name().map(|n| n.to_string_lossy().into_owned()).unwrap_or_default(),
            is_dir,
            is_symlink,
        };
        let dirs = self.dirs.range::<Path, _>(after).take_while(|p| p.starts_with(path)).filter(is_child);
        let files = self.files.range::<Path, _>(after).map(|(p, _)| p).take_while(|p| p.starts_with(path));
        let unreadable = self.unreadable.range::<Path, _>(after).take_while(|p| p.starts_with(path));
        let links = self.links.range::<Path, _>(after).map(|(p, _)| p).take_while(|p| p.starts_with(path));
        let link_is_dir = |p: &PathBuf| self.resolve(p).is_ok_and(|r| self.dirs.contains(&r));
        let mut entries: Vec<DirEntry> = dirs
            .map(|p| entry(p, true, false))
            .chain(files.chain(unreadable).filter(is_child).map(|p| entry(p, false, false)))
            .chain(links.filter(is_child).map(|p| entry(p, link_is_dir(p), true)))
            .collect();
        // Reverse order on purpose: discovery must not rely on a listing's order.
        entries.sort();
        entries.reverse();
        Ok(entries)
    }

    fn canonicalize(&self, path: &Path) -> io::Result<PathBuf> {
        let real = self.resolve(path)?;
        let exists = self.dirs.contains(&real) || self.files.contains_key(&real) || self.unreadable.contains(&real);
        if exists { Ok(real) } else { Err(io::Error::new(io::ErrorKind::NotFound, "not found")) }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn mem_fs_lists_implied_directories() {
        let fs = MemFs::new().file("/p/a/package.json", "{}").file("/p/Makefile", "").dir("/p/empty");
        let mut names: Vec<_> =
            fs.read_dir(Path::new("/p")).expect("dir").into_iter().map(|e| (e.name, e.is_dir)).collect();
        names.sort();
        assert_eq!(names, vec![("Makefile".into(), false), ("a".into(), true), ("empty".into(), true)]);
        assert_eq!(fs.read_to_string(Path::new("/p/a/package.json")).expect("file"), "{}");
        assert_eq!(fs.read_to_string(Path::new("/p/nope")).expect_err("missing").kind(), io::ErrorKind::NotFound);
        assert_eq!(fs.read_dir(Path::new("/q")).expect_err("missing").kind(), io::ErrorKind::NotFound);
        assert!(fs.read_dir(Path::new("/p/empty")).expect("empty dir").is_empty());
        assert_ne!(fs.read_to_string(Path::new("/p/a")).expect_err("a dir").kind(), io::ErrorKind::NotFound);
    }

    #[test]
    fn mem_fs_symlinks_resolve_and_loops_fail() {
        let fs = MemFs::new()
            .file("/p/a/package.json", "{}")
            .symlink("/p/a/up", "..")
            .symlink("/p/b", "/p/a")
            .symlink("/p/dangling", "nope")
            .symlink("/p/x", "y")
            .symlink("/p/y", "x");
        let mut entries = fs.read_dir(Path::new("/p")).expect("dir");
        entries.sort();
        let got: Vec<_> = entries.iter().map(|e| (e.name.as_str(), e.is_dir, e.is_symlink)).collect();
        assert_eq!(
            got,
            vec![
                ("a", true, false),
                ("b", true, true),
                ("dangling", false, true),
                ("x", false, true),
                ("y", false, true)
            ]
        );
        assert_eq!(fs.read_to_string(Path::new("/p/b/up/b/package.json")).expect("through links"), "{}");
        assert_eq!(fs.canonicalize(Path::new("/p/a/up/b")).expect("a dir"), PathBuf::from("/p/a"));
        assert_eq!(fs.canonicalize(Path::new("/p/dangling")).expect_err("dangling").kind(), io::ErrorKind::NotFound);
        assert!(fs.read_dir(Path::new("/p/x")).is_err());
    }

    #[test]
    fn mem_fs_unreadable_files_fail_but_are_listed() {
        let fs = MemFs::new().unreadable("/p/package.json");
        let err = fs.read_to_string(Path::new("/p/package.json")).expect_err("unreadable");
        assert_eq!(err.kind(), io::ErrorKind::PermissionDenied);
        assert_eq!(fs.read_dir(Path::new("/p")).expect("dir").len(), 1);
    }
}
