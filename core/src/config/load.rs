//! Checking one layer against the schema: TOML parsing with spans, key lookup, type and range
//! checks. Pure: text in, assignments and problems out.

use toml_edit::{Item, Key, TableLike};

use super::error::ConfigProblem;
use super::processes::{self, ProcessDecl};
use super::schema::{self, KeySpec, Kind, PROCESSES, SECTIONS, Section, Value};
use super::settings::Layer;
use super::size::parse_size;
use super::suggest::closest;
use super::toml_key::key_at;

/// A valid key of one layer.
#[derive(Debug)]
pub(crate) struct Assignment {
    pub(crate) section: &'static str,
    pub(crate) key: &'static KeySpec,
    pub(crate) value: Value,
    /// 1-based line of the key.
    pub(crate) line: usize,
}

/// What one layer sets: its valid section keys and its valid processes.
#[derive(Debug, Default)]
pub(crate) struct Checked {
    pub(crate) assignments: Vec<Assignment>,
    pub(crate) processes: Vec<ProcessDecl>,
}

/// Checks every key of `layer`, returning what it validly sets and pushing a problem for each
/// invalid key. The caller discards the result if any layer had a problem.
pub(crate) fn check_layer(layer: &Layer, problems: &mut Vec<ConfigProblem>) -> Checked {
    let text = layer.text.as_str();
    let doc = match toml_edit::Document::parse(text) {
        Ok(doc) => doc,
        Err(e) => {
            problems.push(parse_problem(layer, &e));
            return Checked::default();
        }
    };
    let mut checked = Checked::default();
    let root = doc.as_table();
    for (name, item) in root.iter() {
        let line = key_line(text, root.key(name), item);
        // Each top-level name is a section with fixed keys, or the open-named processes.
        if name == PROCESSES {
            checked.processes.extend(processes::check(layer, item, line, problems));
            continue;
        }
        let Some(section) = schema::section(name) else {
            problems.push(unknown_top_level(layer, line, name));
            continue;
        };
        let Some(table) = item.as_table_like() else {
            problems.push(ConfigProblem::WrongType {
                path: layer.path.clone(),
                line,
                key: name.to_owned(),
                expected: "a table",
                found: describe(item),
            });
            continue;
        };
        check_section(layer, section, table, &mut checked.assignments, problems);
    }
    checked
}

/// toml_edit's messages for the two parse errors that are about one key. They carry the key's
/// (or the value's) position but not its name; `parse_problem` names it. The config tests pin
/// both, so a toml_edit upgrade that rewords them fails there.
const DUPLICATE_KEY: &str = "duplicate key";
const INTEGER_OVERFLOW: &str = "integer number overflowed";

/// A TOML parse error as a problem: a duplicate key or an integer too large for 64 bits names
/// its key like every other problem; anything else is a syntax error at a line.
fn parse_problem(layer: &Layer, e: &toml_edit::TomlError) -> ConfigProblem {
    let text = layer.text.as_str();
    let path = layer.path.clone();
    let span = e.span();
    let found = span.as_ref().and_then(|s| Some((s.clone(), key_at(text, s.start)?)));
    match (e.message(), found) {
        (DUPLICATE_KEY, Some((span, at))) => ConfigProblem::DuplicateKey {
            path,
            line: line_of(text, span.start),
            key: at.key,
            first_line: at.first.map(|f| line_of(text, f)),
        },
        (INTEGER_OVERFLOW, Some((span, at))) => {
            let range = known_key(&at.key).map_or_else(
                || "-9223372036854775808..=9223372036854775807 (TOML's integers)".to_owned(),
                |key| key.kind.number_range(),
            );
            ConfigProblem::OutOfRange {
                path,
                line: line_of(text, span.start),
                value: text.get(span.clone()).unwrap_or_default().to_owned(),
                key: at.key,
                range,
            }
        }
        (message, _) => {
            ConfigProblem::Syntax { path, line: span.map(|s| line_of(text, s.start)), message: message.to_owned() }
        }
    }
}

/// The schema's key for a dotted `section.key`.
fn known_key(dotted: &str) -> Option<&'static KeySpec> {
    let (section, key) = dotted.split_once('.')?;
    schema::section(section)?.key(key)
}

fn check_section(
    layer: &Layer,
    section: &'static Section,
    table: &dyn TableLike,
    assignments: &mut Vec<Assignment>,
    problems: &mut Vec<ConfigProblem>,
) {
    let text = layer.text.as_str();
    for (name, item) in table.iter() {
        let line = key_line(text, table.key(name), item);
        let dotted = format!("{}.{name}", section.name);
        let Some(key) = section.key(name) else {
            problems.push(ConfigProblem::UnknownKey {
                path: layer.path.clone(),
                line,
                key: dotted,
                section: Some(section.name),
                suggestion: closest(name, section.keys.iter().map(|k| k.name)).map(str::to_owned),
                valid: section.keys.iter().map(|k| k.name).collect(),
            });
            continue;
        };
        match convert(key.kind, item) {
            Ok(value) => assignments.push(Assignment { section: section.name, key, value, line }),
            Err(invalid) => problems.push(invalid.into_problem(layer, line, dotted)),
        }
    }
}

/// An unknown top-level name. A section key written outside its section (`bus_workers = 4` at
/// the top) gets the dotted form as its suggestion, which is valid at the top level.
fn unknown_top_level(layer: &Layer, line: usize, name: &str) -> ConfigProblem {
    let suggestion = closest(name, top_level_names()).map(str::to_owned).or_else(|| {
        SECTIONS.iter().find_map(|s| closest(name, s.keys.iter().map(|k| k.name)).map(|k| format!("{}.{k}", s.name)))
    });
    ConfigProblem::UnknownKey {
        path: layer.path.clone(),
        line,
        key: name.to_owned(),
        section: None,
        suggestion,
        valid: top_level_names().collect(),
    }
}

/// The valid top-level names: every section, then `processes`.
fn top_level_names() -> impl Iterator<Item = &'static str> {
    SECTIONS.iter().map(|s| s.name).chain([PROCESSES])
}

/// Why a value was rejected, before the file, line and key are attached.
#[derive(Debug, PartialEq, Eq)]
pub(super) enum Invalid {
    WrongType { expected: &'static str, found: String },
    OutOfRange { value: String, range: String },
    BadChoice { value: String, allowed: &'static [&'static str], suggestion: Option<&'static str> },
    BadSize { value: String, reason: super::size::SizeError },
}

impl Invalid {
    pub(super) fn into_problem(self, layer: &Layer, line: usize, key: String) -> ConfigProblem {
        let path = layer.path.clone();
        match self {
            Invalid::WrongType { expected, found } => ConfigProblem::WrongType { path, line, key, expected, found },
            Invalid::OutOfRange { value, range } => ConfigProblem::OutOfRange { path, line, key, value, range },
            Invalid::BadChoice { value, allowed, suggestion } => {
                ConfigProblem::BadChoice { path, line, key, value, allowed, suggestion }
            }
            Invalid::BadSize { value, reason } => ConfigProblem::BadSize { path, line, key, value, reason },
        }
    }
}

/// Reads `item` as a value of `kind`.
pub(super) fn convert(kind: Kind, item: &Item) -> Result<Value, Invalid> {
    let wrong_type = || Invalid::WrongType { expected: kind.expected(), found: describe(item) };
    match kind {
        Kind::Integer { min, max } | Kind::Millis { min, max } => {
            let n = item.as_integer().ok_or_else(wrong_type)?;
            in_range(n, min, max, kind, || n.to_string())
        }
        Kind::AutoOrInteger { min, max, .. } => match (item.as_integer(), item.as_str()) {
            (Some(n), _) => in_range(n, min, max, kind, || n.to_string()),
            (None, Some("auto")) => Ok(Value::Auto),
            _ => Err(wrong_type()),
        },
        Kind::Bytes { min, max } => match (item.as_integer(), item.as_str()) {
            (Some(n), _) => in_range(n, min, max, kind, || n.to_string()),
            (None, Some(s)) => {
                let bytes = parse_size(s).map_err(|reason| Invalid::BadSize { value: s.to_owned(), reason })?;
                if (min..=max).contains(&bytes) {
                    Ok(Value::Integer(bytes))
                } else {
                    Err(Invalid::OutOfRange { value: format!("{s:?}"), range: kind.number_range() })
                }
            }
            _ => Err(wrong_type()),
        },
        Kind::Bool => item.as_bool().map(Value::Bool).ok_or_else(wrong_type),
        Kind::Secret => {
            let s = item.as_str().ok_or_else(wrong_type)?;
            Ok(Value::Secret(if s.is_empty() { "" } else { Box::leak(s.to_owned().into_boxed_str()) }))
        }
        Kind::Choice { allowed } => {
            let s = item.as_str().ok_or_else(wrong_type)?;
            match allowed.iter().find(|a| **a == s) {
                Some(a) => Ok(Value::Choice(a)),
                None => Err(Invalid::BadChoice {
                    value: s.to_owned(),
                    allowed,
                    suggestion: closest(s, allowed.iter().copied()),
                }),
            }
        }
    }
}

fn in_range(n: i64, min: u64, max: u64, kind: Kind, shown: impl Fn() -> String) -> Result<Value, Invalid> {
    match u64::try_from(n) {
        Ok(n) if (min..=max).contains(&n) => Ok(Value::Integer(n)),
        _ => Err(Invalid::OutOfRange { value: shown(), range: kind.number_range() }),
    }
}

/// The TOML type of `item`, with the value when it is short: `a string ("eight")`.
pub(super) fn describe(item: &Item) -> String {
    use toml_edit::Value as V;
    match item {
        Item::None => "nothing".to_owned(),
        Item::Table(_) => "a table".to_owned(),
        Item::ArrayOfTables(_) => "an array of tables".to_owned(),
        Item::Value(V::String(s)) => format!("a string ({:?})", shorten(s.value())),
        Item::Value(V::Integer(i)) => format!("an integer ({})", i.value()),
        Item::Value(V::Float(f)) => format!("a float ({})", f.value()),
        Item::Value(V::Boolean(b)) => format!("a boolean ({})", b.value()),
        Item::Value(V::Datetime(_)) => "a datetime".to_owned(),
        Item::Value(V::Array(_)) => "an array".to_owned(),
        Item::Value(V::InlineTable(_)) => "an inline table".to_owned(),
    }
}

/// At most 40 characters, so a pasted blob does not swamp the message.
fn shorten(s: &str) -> String {
    const MAX_CHARS: usize = 40;
    if s.chars().count() <= MAX_CHARS {
        s.to_owned()
    } else {
        format!("{}...", s.chars().take(MAX_CHARS).collect::<String>())
    }
}

/// The line of a key, falling back to its value's span. The parser records spans for every key
/// and value of a parsed document, so the final fallback (line 1) is not expected to be used.
pub(super) fn key_line(text: &str, key: Option<&Key>, item: &Item) -> usize {
    key.and_then(Key::span).or_else(|| item.span()).map(|span| line_of(text, span.start)).unwrap_or(1)
}

/// 1-based line of byte `offset` in `text`; an offset past the end counts as the last line.
pub(crate) fn line_of(text: &str, offset: usize) -> usize {
    let end = offset.min(text.len());
    text.as_bytes()[..end].iter().filter(|b| **b == b'\n').count() + 1
}
