//! Workspace package globs (`apps/*`, `packages/{ui,api}`, `apps/[ab]*`, `!**/test/**`) expanded
//! against the project tree. `**` matches any number of segments (none included); every other
//! segment with a wildcard (`*`, `?`, `[...]`, `{a,b}`) matches one directory name, with
//! globset's syntax. The walk is brum's own, one segment at a time, so it lists only the
//! directories a pattern can reach and keeps the limits below; globset only matches names.
//! Wildcards never enter `node_modules` or hidden directories (unless the pattern segment
//! itself starts with `.`); literal segments are followed as written. A segment that is not a
//! valid glob (`[abc` with no `]`) is taken as before globset: its `*` and `?` are wildcards,
//! the rest literal. A brace alternative with a `/` in it (`{apps/web,tools}`) cannot match one
//! name: only its one-segment alternatives do.
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

use globset::{GlobBuilder, GlobMatcher};

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
    let mut excludes: Vec<Vec<Segment>> = Vec::new();
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
            !excludes.iter().any(|ex| match_segments(ex, &parts))
        })
        .collect();
    Expansion { dirs, truncated: walker.truncated }
}

/// One `/`-separated segment of a pattern.
#[derive(Debug)]
enum Segment {
    /// `**`: any number of directories, none included.
    AnyDirs,
    /// A name followed as written.
    Literal(String),
    /// A name pattern (`*`, `w?b`, `[ab]*`, `{ui,api}`).
    Wild {
        matcher: NameMatcher,
        /// The segment starts with `.`, so it may match hidden directories.
        hidden_ok: bool,
    },
}

#[derive(Debug)]
enum NameMatcher {
    /// Only `*` and `?`: matched character by character ([`wildcard_match`]). globset matches
    /// bytes, so its `?` would not match a non-ASCII name like `é`; this keeps `?` one
    /// character, as it was and as npm's glob has it.
    Simple(String),
    /// Classes and braces, compiled by globset once per expansion.
    Glob(GlobMatcher),
}

impl NameMatcher {
    fn is_match(&self, name: &str) -> bool {
        match self {
            NameMatcher::Simple(pattern) => wildcard_match(pattern, name),
            NameMatcher::Glob(matcher) => matcher.is_match(name),
        }
    }
}

impl Segment {
    fn parse(text: &str) -> Segment {
        if text == "**" {
            return Segment::AnyDirs;
        }
        let hidden_ok = text.starts_with('.');
        if text.contains(['[', '{']) {
            // `literal_separator`: `*` never matches a `/` (names have none; it keeps `{a/b,c}`
            // from matching across segments). `empty_alternates`: `{,-legacy}` as in bash.
            let glob = GlobBuilder::new(text).literal_separator(true).empty_alternates(true).build();
            if let Ok(glob) = glob {
                return Segment::Wild { matcher: NameMatcher::Glob(glob.compile_matcher()), hidden_ok };
            }
        }
        if text.contains(['*', '?']) {
            return Segment::Wild { matcher: NameMatcher::Simple(text.to_owned()), hidden_ok };
        }
        Segment::Literal(text.to_owned())
    }

    /// Whether the directory name `name` matches this one-name segment (`**` matches any).
    fn matches(&self, name: &str) -> bool {
        match self {
            Segment::AnyDirs => true,
            Segment::Literal(literal) => literal == name,
            Segment::Wild { matcher, .. } => matcher.is_match(name),
        }
    }
}

/// The segments of a pattern: `./apps/*/` is `["apps", "*"]`. `None` for patterns that leave
/// the root. A `/` inside `{...}` or `[...]` does not split.
fn segments(pattern: &str) -> Option<Vec<Segment>> {
    if pattern.starts_with('/') {
        return None;
    }
    let texts = split_segments(pattern);
    let texts: Vec<&str> = texts.into_iter().filter(|s| !s.is_empty() && *s != ".").collect();
    if texts.contains(&"..") { None } else { Some(texts.into_iter().map(Segment::parse).collect()) }
}

/// `pattern` split at each `/` outside braces and brackets.
fn split_segments(pattern: &str) -> Vec<&str> {
    let mut out = Vec::new();
    let (mut braces, mut in_class, mut start) = (0usize, false, 0);
    for (i, c) in pattern.char_indices() {
        match c {
            '[' if !in_class => in_class = true,
            ']' if in_class => in_class = false,
            '{' if !in_class => braces += 1,
            '}' if !in_class => braces = braces.saturating_sub(1),
            '/' if braces == 0 && !in_class => {
                out.push(&pattern[start..i]);
                start = i + 1;
            }
            _ => {}
        }
    }
    out.push(&pattern[start..]);
    out
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
    fn walk(&mut self, dir: PathBuf, segs: &[Segment], depth: usize, via_link: bool) {
        let Some((first, rest)) = segs.split_first() else {
            let seen = self.found.entry(dir).or_insert(via_link);
            *seen &= via_link;
            return;
        };
        match first {
            Segment::AnyDirs => {
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
            }
            Segment::Wild { matcher, hidden_ok } => {
                for (name, is_link) in self.subdirs(&dir, *hidden_ok) {
                    if matcher.is_match(&name) {
                        self.walk(dir.join(name), rest, depth, via_link || is_link);
                    }
                }
            }
            Segment::Literal(name) => self.walk(dir.join(name), rest, depth, via_link),
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
fn match_segments(pattern: &[Segment], parts: &[&str]) -> bool {
    match pattern.split_first() {
        None => parts.is_empty(),
        Some((Segment::AnyDirs, rest)) => (0..=parts.len()).any(|i| match_segments(rest, &parts[i..])),
        Some((seg, rest)) => parts.split_first().is_some_and(|(p, tail)| seg.matches(p) && match_segments(rest, tail)),
    }
}

/// `*` matches any run of characters, `?` exactly one; everything else matches itself.
fn wildcard_match(pattern: &str, name: &str) -> bool {
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

    fn name_matches(segment: &str, name: &str) -> bool {
        Segment::parse(segment).matches(name)
    }

    fn path_matches(pattern: &str, path: &[&str]) -> bool {
        match_segments(&segments(pattern).expect("inside the root"), path)
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
        assert!(name_matches("w?b", "wéb"));
        assert!(path_matches("**/test/**", &["a", "test", "b", "c"]));
        assert!(path_matches("**/test/**", &["a", "test"]));
        assert!(path_matches("**", &[]));
        assert!(!path_matches("a/*", &["a"]));
    }

    #[test]
    fn braces_and_classes_match_within_a_segment() {
        assert!(name_matches("{a,b}", "a"));
        assert!(name_matches("{a,b}", "b"));
        assert!(!name_matches("{a,b}", "c"));
        assert!(!name_matches("{a,b}", "{a,b}"));
        assert!(name_matches("[ab]*", "api"));
        assert!(!name_matches("[ab]*", "web"));
        assert!(name_matches("[!a]*", "web"));
        assert!(!name_matches("[!a]*", "api"));
        assert!(name_matches("pkg-[0-9]", "pkg-7"));
        assert!(name_matches("web{,-legacy}", "web"));
        assert!(name_matches("web{,-legacy}", "web-legacy"));
        // `*` within a brace stays within the name.
        assert!(name_matches("{ui,tools-*}", "tools-lint"));
        // Not a valid glob: the segment is a literal name, as npm's glob takes it.
        assert!(name_matches("[abc", "[abc"));
        assert!(!name_matches("[abc", "a"));
        assert!(name_matches("[abc*", "[abcd"));
    }

    #[test]
    fn packages_in_braces_expand_to_each_alternative() {
        let fs = MemFs::new()
            .file("/p/packages/a/package.json", "{}")
            .file("/p/packages/b/package.json", "{}")
            .file("/p/packages/c/package.json", "{}");
        assert_eq!(expand_strs(&fs, &["packages/{a,b}"]), vec!["packages/a", "packages/b"]);
        assert_eq!(expand_strs(&fs, &["packages/*", "!packages/{a,c}"]), vec!["packages/b"]);
        // Braces may hold a whole path; only the one-segment alternatives can match a name.
        assert_eq!(expand_strs(&fs, &["{packages/a,packages}/{c,x}"]), vec!["packages/c"]);
    }

    #[test]
    fn a_class_picks_directories_by_their_first_letter() {
        let fs = MemFs::new()
            .file("/p/apps/api/package.json", "{}")
            .file("/p/apps/admin/package.json", "{}")
            .file("/p/apps/blog/package.json", "{}")
            .file("/p/apps/web/package.json", "{}")
            .file("/p/apps/.beta/package.json", "{}");
        assert_eq!(expand_strs(&fs, &["apps/[ab]*"]), vec!["apps/admin", "apps/api", "apps/blog"]);
        assert_eq!(expand_strs(&fs, &["apps/*", "!apps/[!w]*"]), vec!["apps/web"]);
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
