//! pyproject.toml scripts as `py:<name>`: `[project.scripts]` console scripts, run through
//! the project's tool (`uv run`, `poetry run`, `pdm run`) or directly; `[tool.poetry.scripts]`
//! with `poetry run`; `[tool.pdm.scripts]` with `pdm run`. A name in more than one table is
//! listed once, from the first table in that order.

use toml_edit::{Item, TableLike};

use super::cx::{Cx, exec, script};
use super::model::SourceReport;
use super::toml;
use crate::script::{Command, Script, SourceKind};

pub(crate) fn discover(cx: &mut Cx) -> Option<SourceReport> {
    if !cx.has_file("pyproject.toml") {
        return None;
    }
    let file = cx.root.join("pyproject.toml");
    let text = cx.read(&file)?;
    let doc = toml::parse(cx, &file, &text)?;
    let root = doc.as_table();
    let tool = root.get("tool").and_then(Item::as_table_like);
    let has_tool = |name: &str| tool.is_some_and(|t| t.contains_key(name));
    // The runner for console scripts: the lockfile says which tool manages the environment.
    let runner: Option<&str> = if cx.has_file("uv.lock") || has_tool("uv") {
        Some("uv")
    } else if cx.has_file("poetry.lock") || has_tool("poetry") {
        Some("poetry")
    } else if cx.has_file("pdm.lock") || has_tool("pdm") {
        Some("pdm")
    } else {
        None
    };
    let mut scripts: Vec<Script> = Vec::new();
    let cwd = cx.root.to_path_buf();
    let add = |scripts: &mut Vec<Script>, name: &str, command: Command, detail: Option<String>| {
        if !scripts.iter().any(|s| s.name == format!("py:{name}")) {
            let mut s = script(format!("py:{name}"), SourceKind::Pyproject, &file, command, cwd.clone());
            s.detail = detail;
            scripts.push(s);
        }
    };
    let tables: [(&[&str], Option<&str>); 3] = [
        (&["project", "scripts"], runner),
        (&["tool", "poetry", "scripts"], Some("poetry")),
        (&["tool", "pdm", "scripts"], Some("pdm")),
    ];
    for (path, table_runner) in tables {
        let Some(item) = lookup(root, path) else { continue };
        let Some(table) = item.as_table_like() else {
            cx.error_at(
                &file,
                &text,
                toml::offset(item),
                format!("`{}` should be a table, found {}", path.join("."), toml::kind(item)),
            );
            continue;
        };
        for (name, value) in table.iter() {
            // `[tool.pdm.scripts._]` holds options shared by pdm's scripts.
            if name == "_" && path[1] == "pdm" {
                continue;
            }
            let Ok(detail) = describe(value) else {
                cx.error_at(
                    &file,
                    &text,
                    toml::offset(value),
                    format!("script `{name}` should be a string or a table, found {}", toml::kind(value)),
                );
                continue;
            };
            let command = match table_runner {
                Some(r) => exec(r, &["run", name]),
                None => exec(name, &[]),
            };
            add(&mut scripts, name, command, detail);
        }
    }
    Some(SourceReport { kind: SourceKind::Pyproject, file, scripts, package_manager: None })
}

fn lookup<'a>(root: &'a dyn TableLike, path: &[&str]) -> Option<&'a Item> {
    let (first, rest) = path.split_first()?;
    let mut item = root.get(first)?;
    for key in rest {
        item = item.as_table_like()?.get(key)?;
    }
    Some(item)
}

/// What a script runs, for display: the string, or a table's `cmd`, `shell`, `call`,
/// `reference`, `callable` or `composite` (`Ok(None)` for a table with none of them). `Err` for
/// a value that is neither a string nor a table.
fn describe(value: &Item) -> Result<Option<String>, ()> {
    if let Some(s) = value.as_str() {
        return Ok(Some(s.to_owned()));
    }
    let table = value.as_table_like().ok_or(())?;
    for key in ["cmd", "shell", "call", "reference", "callable"] {
        if let Some(v) = table.get(key) {
            if let Some(s) = v.as_str() {
                return Ok(Some(s.to_owned()));
            }
            if let Some(parts) = v.as_array() {
                return Ok(Some(parts.iter().filter_map(|p| p.as_str()).collect::<Vec<_>>().join(" ")));
            }
        }
    }
    Ok(table
        .get("composite")
        .and_then(Item::as_array)
        .map(|steps| steps.iter().filter_map(|s| s.as_str()).collect::<Vec<_>>().join(" && ")))
}
