//! `[processes.NAME]` tables: processes declared in `.brum.toml` itself, with `command`
//! (required), `cwd`, `env` and `restart`. Checked with the same care as the fixed sections:
//! every problem names the file, the line and the dotted key.

use std::path::PathBuf;

use toml_edit::{Item, TableLike};

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

/// A key as TOML would need it written: bare when it can be, else quoted.
pub(crate) fn quote_key(key: &str) -> String {
    if !key.is_empty() && key.chars().all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '-') {
        key.to_owned()
    } else {
        toml_string(key)
    }
}

/// `s` as a TOML basic string.
pub(crate) fn toml_string(s: &str) -> String {
    let mut out = String::from("\"");
    for c in s.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            '\t' => out.push_str("\\t"),
            '\r' => out.push_str("\\r"),
            c if c.is_control() => out.push_str(&format!("\\u{:04X}", u32::from(c))),
            c => out.push(c),
        }
    }
    out.push('"');
    out
}
