//! Workspace package globs (`apps/*`, `packages/**`, `!**/test/**`) expanded against the project
//! tree. `*` and `?` match within one path segment, `**` matches any number of segments.
//! Wildcards never enter `node_modules` or hidden directories (unless the pattern segment
//! itself starts with `.`); literal segments are followed as written.
//!
//! Symlinks: `**` matches a symlinked directory but does not walk on through it; the rest of
//! the pattern still applies inside it. That is what bash's globstar does, and the `glob`
//! package npm expands workspaces with does not crawl symlinked directories under `**` either.
//! (pnpm expands them with fast-glob, which follows links.) So a loop (`packages/a/loop -> ..`)
//! is entered at most once instead of walked round to the depth limit. When a wildcard did go
//! through a link, a directory reached by two paths (through the link and directly) is listed
//! once, under the path without the link if there is one.

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

use super::fs::ProjectFs;

/// `**` descends at most this many directories below where it appears: deeper than any real
/// monorepo layout, shallow enough that a `**` over a deep tree ends quickly. (Symlink loops do
/// not depend on it: `**` does not walk through links.)
pub const GLOB_DEPTH_MAX: usize = 8;

/// Directories listed while expanding one project's globs. A `**` over a big tree stops here
/// instead of walking it all; the expansion reports that it was cut short. `packages/**` lists
/// every directory of every package outside `node_modules`: a 2,000-package monorepo with a
/// handful of source directories each needs over 10,000 (the old limit, which cut it short).
/// A `**` gone wrong pays about 1.6 s to walk to this limit on a loaded 2-core machine
/// (BENCHMARKS.md, "Discovery"): slow enough to notice, bounded, and rare.
pub const GLOB_DIRS_MAX: usize = 100_000;

/// Directories that wildcards never enter.
const SKIPPED_DIRS: &[&str] = &["node_modules"];

/// The directories the patterns matched, relative to the root, sorted; the root itself is never
/// included.
#[derive(Debug, Default, PartialEq, Eq)]
pub(crate) struct Expansion {
    pub(crate) dirs: Vec<PathBuf>,
    /// The walk stopped at [`GLOB_DIRS_MAX`].
    pub(crate) truncated: bool,
}

/// Expands `patterns` (a leading `!` excludes) under `root`. Patterns that climb out of the
/// root (`../x`) or are absolute match nothing.
pub(crate) fn expand(fs: &dyn ProjectFs, root: &Path, patterns: &[String]) -> Expansion {
    let mut walker = Walker { fs, root, found: BTreeMap::new(), listed: 0, truncated: false };
    let mut excludes: Vec<Vec<String>> = Vec::new();
    for pattern in patterns {
        match pattern.strip_prefix('!') {
            Some(negated) => excludes.extend(segments(negated)),
            None => {
                if let Some(segs) = segments(pattern) {
                    walker.walk(PathBuf::new(), &segs, 0, false);
                }
            }
        }
    }
    let found = if walker.found.values().any(|via_link| *via_link) {
        once_each(fs, root, walker.found)
    } else {
        walker.found.into_keys().collect()
    };
    let dirs = found
        .into_iter()
        .filter(|dir| !dir.as_os_str().is_empty())
        .filter(|dir| {
            let parts: Vec<&str> = dir.iter().filter_map(|c| c.to_str()).collect();
            !excludes.iter().any(|ex| {
                let ex: Vec<&str> = ex.iter().map(String::as_str).collect();
                match_segments(&ex, &parts)
            })
        })
        .collect();
    Expansion { dirs, truncated: walker.truncated }
}

/// The segments of a pattern: `./apps/*/` is `["apps", "*"]`. `None` for patterns that leave
/// the root.
fn segments(pattern: &str) -> Option<Vec<String>> {
    if pattern.starts_with('/') {
        return None;
    }
    let segs: Vec<String> = pattern.split('/').filter(|s| !s.is_empty() && *s != ".").map(str::to_owned).collect();
    if segs.iter().any(|s| s == "..") { None } else { Some(segs) }
}

/// The directories of `found` (each with whether a wildcard reached it through a symlink),
/// one per real directory: the first path without a link, else the first path. A link back to
/// the root is dropped (the root is never a package). Directories that cannot be resolved
/// (missing, dangling) are kept as they are.
fn once_each(fs: &dyn ProjectFs, root: &Path, found: BTreeMap<PathBuf, bool>) -> BTreeSet<PathBuf> {
    let real_root = fs.canonicalize(root).unwrap_or_else(|_| root.to_path_buf());
    let mut chosen: BTreeMap<PathBuf, (bool, PathBuf)> = BTreeMap::new();
    for (dir, via_link) in found {
        let real = fs.canonicalize(&root.join(&dir)).unwrap_or_else(|_| root.join(&dir));
        if real == real_root {
            continue;
        }
        match chosen.get(&real) {
            Some((false, _)) => {}
            Some((true, _)) if via_link => {}
            _ => {
                chosen.insert(real, (via_link, dir));
            }
        }
    }
    chosen.into_values().map(|(_, dir)| dir).collect()
}

struct Walker<'a> {
    fs: &'a dyn ProjectFs,
    root: &'a Path,
    /// Each matched directory, with whether a wildcard reached it through a symlink.
    found: BTreeMap<PathBuf, bool>,
    listed: usize,
    truncated: bool,
}

impl Walker<'_> {
    /// Matches `segs` from `dir`; `via_link` is whether a wildcard reached `dir` through a link.
    fn walk(&mut self, dir: PathBuf, segs: &[String], depth: usize, via_link: bool) {
        let Some((first, rest)) = segs.split_first() else {
            let seen = self.found.entry(dir).or_insert(via_link);
            *seen &= via_link;
            return;
        };
        if first == "**" {
            self.walk(dir.clone(), rest, depth, via_link);
            if depth < GLOB_DEPTH_MAX {
                for (name, is_link) in self.subdirs(&dir, false) {
                    if is_link {
                        // Matched, and the rest applies inside, but `**` stops here: walking
                        // on through links is how a loop lists one package dozens of times.
                        self.walk(dir.join(name), rest, depth + 1, true);
                    } else {
                        self.walk(dir.join(name), segs, depth + 1, via_link);
                    }
                }
            }
        } else if first.contains(['*', '?']) {
            for (name, is_link) in self.subdirs(&dir, first.starts_with('.')) {
                if wildcard_match(first, &name) {
                    self.walk(dir.join(name), rest, depth, via_link || is_link);
                }
            }
        } else {
            self.walk(dir.join(first), rest, depth, via_link);
        }
    }

    /// The subdirectories of `dir` a wildcard may enter, sorted, each with whether it is a
    /// symlink.
    fn subdirs(&mut self, dir: &Path, hidden_ok: bool) -> Vec<(String, bool)> {
        if self.listed >= GLOB_DIRS_MAX {
            self.truncated = true;
            return Vec::new();
        }
        self.listed += 1;
        // A directory that cannot be listed has no packages to offer; the literal paths that
        // matter are reported when their package.json is read.
        let mut names: Vec<(String, bool)> = self
            .fs
            .read_dir(&self.root.join(dir))
            .unwrap_or_default()
            .into_iter()
            .filter(|e| e.is_dir && !SKIPPED_DIRS.contains(&e.name.as_str()) && (hidden_ok || !e.name.starts_with('.')))
            .map(|e| (e.name, e.is_symlink))
            .collect();
        names.sort();
        names
    }
}

/// Whether the path `parts` matches the pattern `pattern` segment by segment.
pub(crate) fn match_segments(pattern: &[&str], parts: &[&str]) -> bool {
    match pattern.split_first() {
        None => parts.is_empty(),
        Some((&"**", rest)) => (0..=parts.len()).any(|i| match_segments(rest, &parts[i..])),
        Some((seg, rest)) => {
            parts.split_first().is_some_and(|(p, tail)| wildcard_match(seg, p) && match_segments(rest, tail))
        }
    }
}

/// `*` matches any run of characters, `?` exactly one; everything else matches itself.
pub(crate) fn wildcard_match(pattern: &str, name: &str) -> bool {
    let p: Vec<char> = pattern.chars().collect();
    let n: Vec<char> = name.chars().collect();
    let (mut pi, mut ni) = (0, 0);
    let mut star: Option<(usize, usize)> = None;
    while ni < n.len() {
        if pi < p.len() && (p[pi] == '?' || p[pi] == n[ni]) && p[pi] != '*' {
            pi += 1;
            ni += 1;
        } else if pi < p.len() && p[pi] == '*' {
            star = Some((pi, ni));
            pi += 1;
        } else if let Some((sp, sn)) = star {
            pi = sp + 1;
            ni = sn + 1;
            star = Some((sp, sn + 1));
        } else {
            return false;
        }
    }
    p[pi..].iter().all(|c| *c == '*')
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::discovery::fs::MemFs;

    fn tree() -> MemFs {
        MemFs::new()
            .file("/p/apps/web/package.json", "{}")
            .file("/p/apps/api/package.json", "{}")
            .file("/p/apps/.cache/package.json", "{}")
            .file("/p/packages/ui/package.json", "{}")
            .file("/p/packages/tools/eslint/package.json", "{}")
            .file("/p/packages/tools/test/fixture/package.json", "{}")
            .file("/p/packages/ui/node_modules/dep/package.json", "{}")
            .file("/p/README.md", "")
    }

    fn expand_strs(fs: &MemFs, patterns: &[&str]) -> Vec<String> {
        let patterns: Vec<String> = patterns.iter().map(|p| (*p).to_owned()).collect();
        expand(fs, Path::new("/p"), &patterns).dirs.iter().map(|d| d.display().to_string()).collect()
    }

    #[test]
    fn single_star_matches_one_level() {
        assert_eq!(expand_strs(&tree(), &["apps/*"]), vec!["apps/api", "apps/web"]);
        assert_eq!(expand_strs(&tree(), &["./apps/*/"]), vec!["apps/api", "apps/web"]);
        assert_eq!(expand_strs(&tree(), &["apps/w?b"]), vec!["apps/web"]);
        assert_eq!(expand_strs(&tree(), &["apps/.*"]), vec!["apps/.cache"]);
    }

    #[test]
    fn double_star_matches_any_depth_but_not_node_modules() {
        assert_eq!(
            expand_strs(&tree(), &["packages/**"]),
            vec![
                "packages",
                "packages/tools",
                "packages/tools/eslint",
                "packages/tools/test",
                "packages/tools/test/fixture",
                "packages/ui"
            ]
        );
    }

    #[test]
    fn negations_exclude() {
        assert_eq!(
            expand_strs(&tree(), &["packages/**", "!**/test/**", "!packages/tools"]),
            vec!["packages", "packages/tools/eslint", "packages/ui"]
        );
    }

    #[test]
    fn literal_paths_are_taken_as_written_and_the_root_is_never_a_package() {
        assert_eq!(expand_strs(&tree(), &["packages/ui", "missing", "."]), vec!["missing", "packages/ui"]);
        assert!(expand_strs(&tree(), &["../other/*", "/abs/*"]).is_empty());
    }

    #[test]
    fn wildcards_match_within_a_segment() {
        assert!(wildcard_match("*", "web"));
        assert!(wildcard_match("we*", "web"));
        assert!(wildcard_match("*b", "web"));
        assert!(wildcard_match("a*b*c", "axxbyyc"));
        assert!(!wildcard_match("a*b*c", "axxbyy"));
        assert!(wildcard_match("", ""));
        assert!(!wildcard_match("", "a"));
        assert!(wildcard_match("?", "é"));
        assert!(match_segments(&["**", "test", "**"], &["a", "test", "b", "c"]));
        assert!(match_segments(&["**"], &[]));
        assert!(!match_segments(&["a", "*"], &["a"]));
    }

    /// A symlink loop under `packages/**` listed the same two packages 87 times: `**` walked
    /// round the loop until the depth limit, each lap a new path.
    #[test]
    fn symlink_loop_in_double_star_lists_each_real_directory_once() {
        let fs = MemFs::new()
            .file("/p/packages/a/package.json", "{}")
            .file("/p/packages/b/package.json", "{}")
            .symlink("/p/packages/a/loop", "..")
            .symlink("/p/packages/b/root", "/p")
            .symlink("/p/packages/b/self", ".")
            .symlink("/p/packages/c", "a");
        assert_eq!(expand_strs(&fs, &["packages/**"]), vec!["packages", "packages/a", "packages/b"]);
        // A link a wildcard reaches is still followed one step: a linked package is listed, once.
        let fs = MemFs::new().file("/p/shared/x/package.json", "{}").symlink("/p/packages/x", "../shared/x");
        assert_eq!(expand_strs(&fs, &["packages/*"]), vec!["packages/x"]);
        assert_eq!(expand_strs(&fs, &["packages/**"]), vec!["packages", "packages/x"]);
        assert_eq!(expand_strs(&fs, &["packages/*", "shared/*"]), vec!["shared/x"]);
    }

    #[test]
    fn a_huge_tree_stops_at_the_listing_limit() {
        // 50 * 50 * 50 leaves and their parents: more listings than GLOB_DIRS_MAX.
        let mut fs = MemFs::new();
        for i in 0..50 {
            for j in 0..50 {
                for k in 0..50 {
                    fs = fs.dir(format!("/p/d{i}/e{j}/f{k}"));
                }
            }
        }
        let expansion = expand(&fs, Path::new("/p"), &["**".to_owned()]);
        assert!(expansion.truncated);
        // Every listed directory and the children of the last ones listed, not the whole tree.
        assert!(expansion.dirs.len() < 50 * 50 * 50, "{}", expansion.dirs.len());
    }
}
