//! `[processes.NAME]` tables: processes declared in `.brum.toml` itself, with `command`
//! (required), `cwd`, `env` and `restart`. Checked with the same care as the fixed sections:
//! every problem names the file, the line and the dotted key.

use std::path::PathBuf;

use toml_edit::{Item, TableLike};
use toml_writer::{ToTomlKey as _, ToTomlValue as _};

use super::error::ConfigProblem;
use super::load::{convert, describe, key_line};
use super::schema::{Kind, PROCESSES, RESTART_NAMES, Value};
use super::settings::Layer;
use super::suggest::closest;
use crate::script::RestartPolicy;

/// A process declared in a `.brum.toml`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ProcessDecl {
    /// The table name, `web` in `[processes.web]`; the script's name.
    pub name: String,
    /// A shell command line.
    pub command: String,
    /// The working directory as written, relative to the declaring file's directory (or
    /// absolute); `None` means that directory.
    pub cwd: Option<String>,
    /// Added to the inherited environment, in file order.
    pub env: Vec<(String, String)>,
    pub restart: RestartPolicy,
    /// The declaring file and the 1-based line of the table.
    pub file: PathBuf,
    pub line: usize,
}

/// The keys of a process table, in the order `brum --settings` prints them.
pub(crate) const PROCESS_KEYS: &[&str] = &["command", "cwd", "env", "restart"];

/// Names other tools use for these keys; suggested before edit distance is tried (`cmd` is
/// one edit from `cwd`, but means `command`).
const ALIASES: &[(&str, &str)] = &[
    ("cmd", "command"),
    ("run", "command"),
    ("script", "command"),
    ("exec", "command"),
    ("dir", "cwd"),
    ("workdir", "cwd"),
    ("working_dir", "cwd"),
    ("directory", "cwd"),
    ("environment", "env"),
    ("restart_policy", "restart"),
    ("autorestart", "restart"),
];

/// What `section` says in an unknown-key message for a process table.
const SECTION_LABEL: &str = "processes.NAME";

/// Checks the `processes` item of one layer (declared on `line`); the valid processes, in file
/// order.
pub(crate) fn check(layer: &Layer, item: &Item, line: usize, problems: &mut Vec<ConfigProblem>) -> Vec<ProcessDecl> {
    let text = layer.text.as_str();
    let Some(table) = item.as_table_like() else {
        problems.push(wrong_type(layer, line, PROCESSES.to_owned(), "a table of processes", item));
        return Vec::new();
    };
    let mut out = Vec::new();
    for (name, item) in table.iter() {
        let line = key_line(text, table.key(name), item);
        let key = format!("{PROCESSES}.{}", quote_key(name));
        if let Some(reason) = bad_process_name(name) {
            problems.push(ConfigProblem::InvalidName {
                path: layer.path.clone(),
                line,
                key: PROCESSES.to_owned(),
                name: name.to_owned(),
                reason,
            });
            continue;
        }
        let Some(process) = item.as_table_like() else {
            problems.push(wrong_type(layer, line, key, "a table", item));
            continue;
        };
        if let Some(decl) = check_process(layer, name, &key, process, line, problems) {
            out.push(decl);
        }
    }
    out
}

fn check_process(
    layer: &Layer,
    name: &str,
    key: &str,
    table: &dyn TableLike,
    line: usize,
    problems: &mut Vec<ConfigProblem>,
) -> Option<ProcessDecl> {
    let text = layer.text.as_str();
    let before = problems.len();
    let mut command = None;
    let mut cwd = None;
    let mut env = Vec::new();
    let mut restart = RestartPolicy::Never;
    for (field, item) in table.iter() {
        let field_line = key_line(text, table.key(field), item);
        let dotted = format!("{key}.{}", quote_key(field));
        match field {
            "command" => match item.as_str() {
                Some(s) if !s.trim().is_empty() => command = Some(s.to_owned()),
                _ => problems.push(wrong_type(layer, field_line, dotted, "a non-empty string (a shell command)", item)),
            },
            "cwd" => match item.as_str() {
                Some(s) => cwd = Some(s.to_owned()),
                None => problems.push(wrong_type(layer, field_line, dotted, "a string (a directory)", item)),
            },
            "env" => env = check_env(layer, &dotted, item, field_line, problems),
            "restart" => match convert(Kind::Choice { allowed: RESTART_NAMES }, item) {
                Ok(Value::Choice(choice)) => restart = RestartPolicy::parse(choice).unwrap_or_default(),
                Ok(other) => panic!("`{dotted}`: a Kind::Choice converted to {other:?}, not a Value::Choice"),
                Err(invalid) => problems.push(invalid.into_problem(layer, field_line, dotted)),
            },
            _ => problems.push(ConfigProblem::UnknownKey {
                path: layer.path.clone(),
                line: field_line,
                key: dotted,
                section: Some(SECTION_LABEL),
                suggestion: ALIASES
                    .iter()
                    .find(|(alias, _)| field.eq_ignore_ascii_case(alias))
                    .map(|(_, key)| *key)
                    .or_else(|| closest(field, PROCESS_KEYS.iter().copied()))
                    .map(str::to_owned),
                valid: PROCESS_KEYS.to_vec(),
            }),
        }
    }
    if command.is_none() && table.get("command").is_none() {
        problems.push(ConfigProblem::MissingKey {
            path: layer.path.clone(),
            line,
            key: format!("{key}.command"),
            why: "every process needs a shell command to run",
        });
    }
    let command = command?;
    (problems.len() == before).then(|| ProcessDecl {
        name: name.to_owned(),
        command,
        cwd,
        env,
        restart,
        file: layer.path.clone(),
        line,
    })
}

/// `env`: a table whose values are strings (integers and booleans are taken as their text,
/// so `PORT = 3000` works).
fn check_env(
    layer: &Layer,
    key: &str,
    item: &Item,
    line: usize,
    problems: &mut Vec<ConfigProblem>,
) -> Vec<(String, String)> {
    let text = layer.text.as_str();
    let Some(table) = item.as_table_like() else {
        problems.push(wrong_type(layer, line, key.to_owned(), "a table of strings", item));
        return Vec::new();
    };
    let mut out = Vec::new();
    for (name, value) in table.iter() {
        let value_line = key_line(text, table.key(name), value);
        if name.is_empty() || name.contains(['=', '\0']) {
            problems.push(ConfigProblem::InvalidName {
                path: layer.path.clone(),
                line: value_line,
                key: key.to_owned(),
                name: name.to_owned(),
                reason: "environment variable names cannot be empty or contain `=`",
            });
            continue;
        }
        let text_value = value
            .as_str()
            .map(str::to_owned)
            .or_else(|| value.as_integer().map(|n| n.to_string()))
            .or_else(|| value.as_bool().map(|b| b.to_string()));
        match text_value {
            Some(v) if !v.contains('\0') => out.push((name.to_owned(), v)),
            _ => problems.push(wrong_type(layer, value_line, format!("{key}.{}", quote_key(name)), "a string", value)),
        }
    }
    out
}

fn wrong_type(layer: &Layer, line: usize, key: String, expected: &'static str, item: &Item) -> ConfigProblem {
    ConfigProblem::WrongType { path: layer.path.clone(), line, key, expected, found: describe(item) }
}

/// Why `name` cannot name a process, if it cannot: it is the address people type
/// (`brum run web`), so it must be one shell word.
fn bad_process_name(name: &str) -> Option<&'static str> {
    if name.is_empty() {
        Some("process names cannot be empty")
    } else if name.chars().any(|c| c.is_whitespace() || c.is_control()) {
        Some("process names cannot contain spaces or control characters")
    } else {
        None
    }
}

/// A key as TOML would need it written: bare when it can be, else a basic string.
pub(crate) fn quote_key(key: &str) -> String {
    let builder = toml_writer::TomlKeyBuilder::new(key);
    builder.as_unquoted().unwrap_or_else(|| builder.as_basic()).to_toml_key()
}

/// `s` as a one-line TOML basic string: `"`, `\` and control characters are escaped (the C0
/// ones and DEL; C1 controls, being non-ASCII, are written as they are, as TOML allows).
pub(crate) fn toml_string(s: &str) -> String {
    toml_writer::TomlStringBuilder::new(s).as_basic().to_toml_value()
}

#[cfg(test)]
mod tests {
    use proptest::prelude::*;

    use super::*;

    #[test]
    fn keys_are_bare_when_they_can_be() {
        assert_eq!(quote_key("web-2_a"), "web-2_a");
        assert_eq!(quote_key("web.api"), "\"web.api\"");
        assert_eq!(quote_key(""), "\"\"");
        assert_eq!(quote_key("é"), "\"é\"");
        assert_eq!(quote_key("say \"hi\""), r#""say \"hi\"""#);
    }

    #[test]
    fn strings_are_one_line_basic_strings() {
        assert_eq!(toml_string("vite --port 3000"), "\"vite --port 3000\"");
        assert_eq!(toml_string("echo \"a\\b\""), r#""echo \"a\\b\"""#);
        assert_eq!(toml_string("a\nb\tc\r\u{1b}[0m\u{7f}"), r#""a\nb\tc\r\u001B[0m\u007F""#);
    }

    proptest! {
        /// What `brum --settings` writes reads back as the same string and key.
        #[test]
        fn quoted_strings_and_keys_read_back(s in "\\PC*|[\\x00-\\x7f]*") {
            let text = format!("{} = {}\n", quote_key(&s), toml_string(&s));
            prop_assert!(!toml_string(&s).contains('\n'));
            let doc = toml_edit::Document::parse(text.as_str()).map_err(|e| TestCaseError::fail(format!("{e}: {text}")))?;
            let (key, item) = doc.as_table().iter().next().ok_or_else(|| TestCaseError::fail("no key"))?;
            prop_assert_eq!(key, s.as_str());
            prop_assert_eq!(item.as_str(), Some(s.as_str()));
        }
    }
}
