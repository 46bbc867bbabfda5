//! Workspace package globs (`apps/*`, `packages/**`, `!**/test/**`) expanded against the project
//! tree. `*` and `?` match within one path segment, `**` matches any number of segments.
//! Wildcards never enter `node_modules` or hidden directories (unless the pattern segment
//! itself starts with `.`); literal segments are followed as written.

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};

use super::fs::ProjectFs;

/// `**` descends at most this many directories below where it appears: deeper than any real
/// monorepo layout, shallow enough that a symlink loop ends quickly.
pub const GLOB_DEPTH_MAX: usize = 8;

/// Directories listed while expanding one project's globs. A `**` over a big tree stops here
/// instead of walking it all; the expansion reports that it was cut short.
pub const GLOB_DIRS_MAX: usize = 10_000;

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
    let mut walker = Walker { fs, root, found: BTreeSet::new(), listed: 0, truncated: false };
    let mut excludes: Vec<Vec<String>> = Vec::new();
    for pattern in patterns {
        match pattern.strip_prefix('!') {
            Some(negated) => excludes.extend(segments(negated)),
            None => {
                if let Some(segs) = segments(pattern) {
                    walker.walk(PathBuf::new(), &segs, 0);
                }
            }
        }
    }
    let dirs = walker
        .found
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

struct Walker<'a> {
    fs: &'a dyn ProjectFs,
    root: &'a Path,
    found: BTreeSet<PathBuf>,
    listed: usize,
    truncated: bool,
}

impl Walker<'_> {
    fn walk(&mut self, dir: PathBuf, segs: &[String], depth: usize) {
        let Some((first, rest)) = segs.split_first() else {
            self.found.insert(dir);
            return;
        };
        if first == "**" {
            self.walk(dir.clone(), rest, depth);
            if depth < GLOB_DEPTH_MAX {
                for name in self.subdirs(&dir, false) {
                    self.walk(dir.join(name), segs, depth + 1);
                }
            }
        } else if first.contains(['*', '?']) {
            for name in self.subdirs(&dir, first.starts_with('.')) {
                if wildcard_match(first, &name) {
                    self.walk(dir.join(name), rest, depth);
                }
            }
        } else {
            self.walk(dir.join(first), rest, depth);
        }
    }

    /// The subdirectories of `dir` a wildcard may enter, sorted.
    fn subdirs(&mut self, dir: &Path, hidden_ok: bool) -> Vec<String> {
        if self.listed >= GLOB_DIRS_MAX {
            self.truncated = true;
            return Vec::new();
        }
        self.listed += 1;
        // A directory that cannot be listed has no packages to offer; the literal paths that
        // matter are reported when their package.json is read.
        let mut names: Vec<String> = self
            .fs
            .read_dir(&self.root.join(dir))
            .unwrap_or_default()
            .into_iter()
            .filter(|e| e.is_dir && !SKIPPED_DIRS.contains(&e.name.as_str()) && (hidden_ok || !e.name.starts_with('.')))
            .map(|e| e.name)
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

    #[test]
    fn a_huge_tree_stops_at_the_listing_limit() {
        let mut fs = MemFs::new();
        for i in 0..40 {
            for j in 0..40 {
                for k in 0..8 {
                    fs = fs.dir(format!("/p/d{i}/e{j}/f{k}"));
                }
            }
        }
        let expansion = expand(&fs, Path::new("/p"), &["**".to_owned()]);
        assert!(expansion.truncated);
        // Every listed directory and the children of the last ones listed, not the whole tree.
        assert!(expansion.dirs.len() < 40 * 40 * 8, "{}", expansion.dirs.len());
    }
}
