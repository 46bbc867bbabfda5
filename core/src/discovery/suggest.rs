//! "unknown script `x`; did you mean `dev`?": the closest script names.

use crate::config::suggest::edit_distance;

/// At most this many names are suggested: enough to show every package's `dev` in a small
/// monorepo, few enough to read at a glance.
pub const SUGGESTIONS_MAX: usize = 5;

/// The names in `names` closest to `wanted`, best first, at most [`SUGGESTIONS_MAX`]:
///
/// 1. a name equal to `wanted` ignoring case (`Dev` for `dev`);
/// 2. names whose last `:` segment is `wanted` (`web:dev`, `api:dev` for `dev`), and names
///    that start with `wanted:` (`web:dev` for `web`), in the order given;
/// 3. names within a likely-typo edit distance (at most one edit per three characters, and at
///    least one), nearest first, ties in the order given.
///
/// Deterministic: the answer depends only on the arguments.
pub fn suggest_script(names: &[&str], wanted: &str) -> Vec<String> {
    let lowered = wanted.to_lowercase();
    let limit = (lowered.chars().count() / 3).max(1);
    let mut out: Vec<String> = Vec::new();
    let push = |name: &str, out: &mut Vec<String>| {
        if name != wanted && !out.iter().any(|n| n == name) {
            out.push(name.to_owned());
        }
    };
    for name in names {
        if name.to_lowercase() == lowered {
            push(name, &mut out);
        }
    }
    for name in names {
        let lower = name.to_lowercase();
        let last = lower.rsplit(':').next().unwrap_or(&lower);
        if lower.contains(':') && (last == lowered || lower.starts_with(&format!("{lowered}:"))) {
            push(name, &mut out);
        }
    }
    let mut near: Vec<(usize, usize, &str)> = names
        .iter()
        .enumerate()
        .filter_map(|(i, name)| {
            let d = edit_distance(&lowered, &name.to_lowercase());
            (d <= limit).then_some((d, i, *name))
        })
        .collect();
    near.sort();
    for (_, _, name) in near {
        push(name, &mut out);
    }
    out.truncate(SUGGESTIONS_MAX);
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    const NAMES: &[&str] = &["dev", "build", "web:dev", "web:build", "api:dev", "make:test", "cargo:build"];

    #[test]
    fn a_typo_suggests_the_close_name() {
        assert_eq!(suggest_script(NAMES, "dve"), vec!["dev"]);
        assert_eq!(suggest_script(NAMES, "biuld"), vec!["build"]);
        assert_eq!(suggest_script(NAMES, "web:dve"), vec!["web:dev"]);
    }

    #[test]
    fn a_bare_name_suggests_every_package_that_has_it() {
        assert_eq!(suggest_script(&["web:dev", "api:dev", "lint"], "dev"), vec!["web:dev", "api:dev"]);
        assert_eq!(suggest_script(NAMES, "test"), vec!["make:test"]);
        assert_eq!(suggest_script(NAMES, "web"), vec!["web:dev", "web:build"]);
    }

    #[test]
    fn case_differences_come_first() {
        assert_eq!(suggest_script(NAMES, "DEV")[0], "dev");
    }

    #[test]
    fn nothing_close_suggests_nothing() {
        assert!(suggest_script(NAMES, "deploy-production").is_empty());
        assert!(suggest_script(&[], "dev").is_empty());
        assert!(suggest_script(NAMES, "").is_empty());
    }

    #[test]
    fn at_most_five_in_a_stable_order() {
        let names: Vec<String> = (0..9).map(|i| format!("p{i}:dev")).collect();
        let names: Vec<&str> = names.iter().map(String::as_str).collect();
        let got = suggest_script(&names, "dev");
        assert_eq!(got, vec!["p0:dev", "p1:dev", "p2:dev", "p3:dev", "p4:dev"]);
        assert_eq!(got, suggest_script(&names, "dev"));
    }
}
