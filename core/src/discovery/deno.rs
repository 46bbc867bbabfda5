//! deno.json / deno.jsonc `tasks` as `deno:<task>`, run with `deno task <task>`. Both files
//! may hold comments (Deno reads them as JSONC).

use super::cx::{Cx, exec, script};
use super::json::{Dialect, Json};
use super::model::SourceReport;
use super::node::read_json;
use crate::script::SourceKind;

pub(crate) fn discover(cx: &mut Cx) -> Option<SourceReport> {
    let name = cx.first_file(&["deno.json", "deno.jsonc"])?;
    let file = cx.root.join(name);
    let (text, doc) = read_json(cx, &file, Dialect::Jsonc)?;
    let mut scripts = Vec::new();
    if let Some(tasks) = doc.get("tasks") {
        match tasks.unique_members() {
            Some(members) => {
                for m in members {
                    // A task is a command line, or (Deno 2) an object with `command` and/or
                    // `dependencies`.
                    let detail = match (&m.value.as_str(), m.value.members()) {
                        (Some(command), _) => Some((*command).to_owned()),
                        (None, Some(_)) => {
                            let command = m.value.get("command").and_then(Json::as_str);
                            let deps: Vec<&str> = m
                                .value
                                .get("dependencies")
                                .and_then(Json::as_array)
                                .unwrap_or_default()
                                .iter()
                                .filter_map(Json::as_str)
                                .collect();
                            match (command, deps.is_empty()) {
                                (Some(c), _) => Some(c.to_owned()),
                                (None, false) => Some(format!("depends on {}", deps.join(", "))),
                                (None, true) => {
                                    cx.error_at(
                                        &file,
                                        &text,
                                        m.value.at,
                                        format!("task `{}` has neither `command` nor `dependencies`", m.key),
                                    );
                                    continue;
                                }
                            }
                        }
                        (None, None) => {
                            cx.error_at(
                                &file,
                                &text,
                                m.value.at,
                                format!("task `{}` should be a string or an object, found {}", m.key, m.value.kind()),
                            );
                            continue;
                        }
                    };
                    let mut s = script(
                        format!("deno:{}", m.key),
                        SourceKind::Deno,
                        &file,
                        exec("deno", &["task", &m.key]),
                        cx.root.to_path_buf(),
                    );
                    s.detail = detail;
                    scripts.push(s);
                }
            }
            None => cx.error_at(&file, &text, tasks.at, format!("`tasks` should be an object, found {}", tasks.kind())),
        }
    }
    Some(SourceReport { kind: SourceKind::Deno, file, scripts, package_manager: None })
}
