//! justfile recipes as `just:<recipe>`. Private recipes (a leading `_` or a `[private]`
//! attribute) are skipped, as `just --list` skips them. The detail is the recipe's first body
//! line.

use std::collections::BTreeSet;

use super::cx::{Cx, exec, script};
use super::model::SourceReport;
use crate::script::SourceKind;

pub(crate) fn discover(cx: &mut Cx) -> Option<SourceReport> {
    // just finds `justfile` in any letter case, or `.justfile`.
    let name = cx.root_files.iter().find(|f| matches!(f.to_lowercase().as_str(), "justfile" | ".justfile"))?.clone();
    let file = cx.root.join(name);
    let text = cx.read(&file)?;
    let cwd = cx.root.to_path_buf();
    let scripts = recipes(&text)
        .into_iter()
        .map(|(recipe, detail)| {
            let mut s =
                script(format!("just:{recipe}"), SourceKind::Justfile, &file, exec("just", &[&recipe]), cwd.clone());
            s.detail = detail;
            s
        })
        .collect();
    Some(SourceReport { kind: SourceKind::Justfile, file, scripts, package_manager: None })
}

/// Top-level statements that are not recipes.
const KEYWORDS: &[&str] = &["set", "alias", "export", "import", "mod", "unexport"];

/// The public recipes in file order, each with its first body line.
pub(crate) fn recipes(text: &str) -> Vec<(String, Option<String>)> {
    let mut out: Vec<(String, Option<String>)> = Vec::new();
    // The names in `out`, for the duplicate check: scanning `out` made a long justfile
    // quadratic.
    let mut seen: BTreeSet<&str> = BTreeSet::new();
    let mut private_attr = false;
    // Index into `out` of the recipe whose body follows, until its first line is seen.
    let mut open: Option<usize> = None;
    let mut in_body = false;
    let mut fence: Option<&str> = None;
    for line in text.lines() {
        if let Some(f) = fence {
            if line.contains(f) {
                fence = None;
            }
            continue;
        }
        if line.starts_with([' ', '\t']) {
            if in_body && let Some(i) = open.take() {
                let body = line.trim().trim_start_matches(['@', '-']).trim();
                if !body.is_empty() {
                    out[i].1 = Some(body.to_owned());
                } else {
                    open = Some(i);
                }
            }
            continue;
        }
        let trimmed = line.trim();
        if trimmed.is_empty() || trimmed.starts_with('#') {
            continue;
        }
        open = None;
        in_body = false;
        if let Some(attrs) = trimmed.strip_prefix('[').and_then(|a| a.strip_suffix(']')) {
            private_attr |= attrs.split(',').any(|a| a.trim() == "private");
            continue;
        }
        let was_private = std::mem::take(&mut private_attr);
        // A multi-line string in an assignment: skip to its end.
        for f in ["'''", "\"\"\"", "```"] {
            if trimmed.matches(f).count() % 2 == 1 {
                fence = Some(f);
            }
        }
        if fence.is_some() || KEYWORDS.contains(&trimmed.split_whitespace().next().unwrap_or_default()) {
            continue;
        }
        let Some(name) = recipe_name(trimmed) else { continue };
        in_body = true;
        if was_private || name.starts_with('_') || !seen.insert(name) {
            continue;
        }
        out.push((name.to_owned(), None));
        open = Some(out.len() - 1);
    }
    out
}

/// The name of a recipe header (`@name param *rest: deps`); `None` for assignments and
/// anything else.
fn recipe_name(line: &str) -> Option<&str> {
    let line = line.strip_prefix('@').unwrap_or(line);
    let end = line.find(|c: char| !(c.is_ascii_alphanumeric() || c == '_' || c == '-')).unwrap_or(line.len());
    let name = &line[..end];
    if name.is_empty() || !name.starts_with(|c: char| c.is_ascii_alphabetic() || c == '_') {
        return None;
    }
    let rest = line[end..].trim_start();
    if rest.starts_with(":=") || rest.starts_with('=') {
        return None;
    }
    // The header ends at a `:` that does not start `:=`, after any parameters.
    let colon = rest.find(':')?;
    (!rest[colon..].starts_with(":=")).then_some(name)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn names(text: &str) -> Vec<String> {
        recipes(text).into_iter().map(|(r, _)| r).collect()
    }

    #[test]
    fn public_recipes_only() {
        let text = "\
set shell := [\"bash\", \"-c\"]
export RUST_LOG := \"info\"
version := `git describe`
alias b := build
import 'other.just'

# Build everything
build target='debug': _prep
    cargo build --profile {{target}}

_prep:
    mkdir -p out

[private]
secret:
    echo no

[group('dev'), private]
also-secret:
    echo no

[linux]
@serve port=\"8080\" *args:
    python -m http.server {{port}}

test *flags: build
    cargo test {{flags}}
";
        assert_eq!(names(text), vec!["build", "serve", "test"]);
    }

    #[test]
    fn details_are_first_body_lines() {
        let text = "build:\n\n    @cargo build\n    echo done\ntest:\nlint: build\n  -cargo clippy\n";
        assert_eq!(
            recipes(text),
            vec![
                ("build".into(), Some("cargo build".into())),
                ("test".into(), None),
                ("lint".into(), Some("cargo clippy".into())),
            ]
        );
    }

    /// Each recipe's duplicate check scanned every earlier recipe: a long justfile was
    /// quadratic. benches/benches/discovery.rs measures it; this pins the result at 100k.
    #[test]
    fn justfile_of_100k_recipes_quadratic_duplicate_check() {
        const RECIPES: usize = 100_000;
        let mut text = String::new();
        for i in 0..RECIPES {
            // Every tenth recipe repeats an earlier name; the first one is kept.
            let name = if i % 10 == 9 { i - 5 } else { i };
            text.push_str(&format!("r{name}:\n    echo {i}\n"));
        }
        let got = recipes(&text);
        assert_eq!(got.len(), RECIPES - RECIPES / 10);
        assert_eq!(got[0], ("r0".to_owned(), Some("echo 0".to_owned())));
        assert_eq!(got[4], ("r4".to_owned(), Some("echo 4".to_owned())));
        assert_eq!(got.last(), Some(&(format!("r{}", RECIPES - 2), Some(format!("echo {}", RECIPES - 2)))));
    }

    #[test]
    fn multi_line_strings_are_skipped() {
        let text = "doc := '''\nnot: a recipe\n'''\nreal:\n    echo\n";
        assert_eq!(names(text), vec!["real"]);
    }
}
