//! Makefile targets as `make:<target>`. A target is a name before `:` on a rule line; skipped
//! are variable assignments (`=`, `:=`, `::=`, `?=`, `+=`, `!=`), special and hidden targets
//! (leading `.`, such as `.PHONY`), pattern rules (`%`), targets built from variables (`$`),
//! directives (`ifeq`, `include`, `define` blocks, ...) and recipe lines. The detail shown is the
//! `## description` written after the rule, else the rule's first recipe line.

use std::collections::BTreeMap;

use super::cx::{Cx, exec, script};
use super::model::SourceReport;
use crate::script::SourceKind;

/// The names GNU make looks for, in its order.
const MAKEFILES: &[&str] = &["GNUmakefile", "makefile", "Makefile"];

const DIRECTIVES: &[&str] = &[
    "ifeq", "ifneq", "ifdef", "ifndef", "else", "endif", "include", "-include", "sinclude", "override", "export",
    "unexport", "vpath", "undefine", "private", "define", "endef",
];

pub(crate) fn discover(cx: &mut Cx) -> Option<SourceReport> {
    let name = cx.first_file(MAKEFILES)?;
    let file = cx.root.join(name);
    let text = cx.read(&file)?;
    let cwd = cx.root.to_path_buf();
    let scripts = targets(&text)
        .into_iter()
        .map(|(target, detail)| {
            let mut s =
                script(format!("make:{target}"), SourceKind::Makefile, &file, exec("make", &[&target]), cwd.clone());
            s.detail = detail;
            s
        })
        .collect();
    Some(SourceReport { kind: SourceKind::Makefile, file, scripts, package_manager: None })
}

/// The targets of a makefile in order of first appearance, each with its detail.
pub(crate) fn targets(text: &str) -> Vec<(String, Option<String>)> {
    let mut order: Vec<String> = Vec::new();
    let mut details: BTreeMap<String, Option<String>> = BTreeMap::new();
    // Targets of the rule whose recipe lines follow, if they have no detail yet.
    let mut open: Vec<String> = Vec::new();
    let mut in_define = false;
    for line in logical_lines(text) {
        if in_define {
            in_define = first_word(&line) != "endef";
            continue;
        }
        if line.starts_with('\t') {
            let recipe = line.trim().trim_start_matches(['@', '-', '+']).trim();
            if !recipe.is_empty() && !recipe.starts_with('#') {
                for t in open.drain(..) {
                    details.insert(t, Some(recipe.to_owned()));
                }
            }
            continue;
        }
        let (code, comment) = split_comment(&line);
        let code = code.trim();
        if code.is_empty() {
            continue;
        }
        open.clear();
        let word = first_word(code);
        if word == "define" || (word == "override" && code.split_whitespace().nth(1) == Some("define")) {
            in_define = true;
            continue;
        }
        if DIRECTIVES.contains(&word) {
            continue;
        }
        let Some(rule_targets) = rule_targets(code) else { continue };
        let help =
            comment.and_then(|c| c.strip_prefix('#')).map(|c| c.trim()).filter(|c| !c.is_empty()).map(str::to_owned);
        for target in rule_targets.split_whitespace() {
            if target.starts_with('.') || target.contains(['%', '$']) {
                continue;
            }
            if !details.contains_key(target) {
                order.push(target.to_owned());
                details.insert(target.to_owned(), None);
            }
            if help.is_some() {
                details.insert(target.to_owned(), help.clone());
            } else if details.get(target).is_some_and(Option::is_none) {
                open.push(target.to_owned());
            }
        }
    }
    order
        .into_iter()
        .map(|t| {
            let detail = details.remove(&t).flatten();
            (t, detail)
        })
        .collect()
}

/// Lines with backslash continuations joined.
fn logical_lines(text: &str) -> Vec<String> {
    let mut out = Vec::new();
    let mut current = String::new();
    for raw in text.lines() {
        let raw = raw.strip_suffix('\r').unwrap_or(raw);
        match raw.strip_suffix('\\') {
            Some(head) => {
                current.push_str(head);
                current.push(' ');
            }
            None => {
                current.push_str(raw);
                out.push(std::mem::take(&mut current));
            }
        }
    }
    if !current.is_empty() {
        out.push(current);
    }
    out
}

fn first_word(line: &str) -> &str {
    line.split_whitespace().next().unwrap_or_default()
}

/// The line split at its first unescaped `#`: the code and the comment (with its `#`).
fn split_comment(line: &str) -> (&str, Option<&str>) {
    let mut escaped = false;
    for (i, c) in line.char_indices() {
        match c {
            '\\' => escaped = !escaped,
            '#' if !escaped => return (&line[..i], Some(&line[i + 1..])),
            _ => escaped = false,
        }
    }
    (line, None)
}

/// The targets part of a rule line; `None` for assignments and lines that are not rules.
fn rule_targets(code: &str) -> Option<&str> {
    // Parentheses hide `:` and `=` inside function calls such as `$(subst :, ,$(x))`.
    let mut depth = 0usize;
    let bytes = code.as_bytes();
    for (i, &b) in bytes.iter().enumerate() {
        match b {
            b'(' | b'{' => depth += 1,
            b')' | b'}' => depth = depth.saturating_sub(1),
            b'=' if depth == 0 => return None,
            b':' if depth == 0 => {
                let rest = &code[i..];
                if rest.starts_with(":=") || rest.starts_with("::=") || rest.starts_with(":::=") {
                    return None;
                }
                return Some(&code[..i]);
            }
            _ => {}
        }
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    fn names(text: &str) -> Vec<String> {
        targets(text).into_iter().map(|(t, _)| t).collect()
    }

    #[test]
    fn real_targets_only() {
        let text = "\
# Build things
CC := gcc
CFLAGS ?= -O2
LIBS += -lm
NOW != date
VERSION = 1.0
OUT::=out
.PHONY: build test clean
.DEFAULT_GOAL := build

build: deps ## Build the app
\t@$(CC) -o app main.c

test lint: build
\tgo test ./...

%.o: %.c
\t$(CC) -c $<
$(OUT)/app: main.c
\tcp main.c $@
.c.o:
\tcc -c $<
_internal:
\techo hidden-ish but real

ifeq ($(OS),Windows_NT)
win:
\techo windows
endif
define HELP
usage: make build
endef
export PATH := $(PWD)/bin:$(PATH)
clean:
\trm -rf out
build: more-deps
debug: CFLAGS += -g
";
        assert_eq!(names(text), vec!["build", "test", "lint", "_internal", "win", "clean", "debug"]);
    }

    #[test]
    fn details_are_help_comments_or_the_first_recipe_line() {
        let text = "build: ## Build it\n\tcargo build\ntest:\n\t@-cargo test --all\n\tother\nclean:\n";
        assert_eq!(
            targets(text),
            vec![
                ("build".into(), Some("Build it".into())),
                ("test".into(), Some("cargo test --all".into())),
                ("clean".into(), None),
            ]
        );
    }

    #[test]
    fn continuations_and_double_colons() {
        // Without joining, `  -b:c` would read as a rule for `-b`.
        assert_eq!(names("FLAGS = -a \\\n  -b:c\nall: a \\\n  b\ninstall:: all\n\techo\n"), vec!["all", "install"]);
    }

    #[test]
    fn function_calls_are_not_rules() {
        assert_eq!(names("$(foreach t,a b,$(eval $(t): ; echo $(t)))\n$(info x: y)\nreal: ; @echo\n"), vec!["real"]);
    }
}
