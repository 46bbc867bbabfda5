//! `.vscode/tasks.json` (JSONC) tasks as `vscode:<label>`: `shell` tasks run as a shell line
//! (the command followed by its quoted arguments), `process` tasks run directly, and `npm`
//! tasks run their script through the project's package manager. `${workspaceFolder}` and
//! `${workspaceFolderBasename}` are replaced, and `${env:NAME}` becomes `$NAME` in shell tasks.
//! Tasks using a variable only VS Code can fill in (`${file}`, `${input:...}`, ...) are left
//! out, as are tasks with no command (`dependsOn` groups) and other task types.

use std::path::{Path, PathBuf};

use super::cx::{Cx, script};
use super::json::{Dialect, Json};
use super::model::{PackageManager, SourceReport};
use super::node::read_json;
use super::text::{join_clean, shell_quote};
use crate::script::{Command, Script, SourceKind};

pub(crate) fn discover(cx: &mut Cx, manager: PackageManager) -> Option<SourceReport> {
    let file = cx.root.join(".vscode").join("tasks.json");
    let (text, doc) = read_json(cx, &file, Dialect::Jsonc)?;
    let mut scripts: Vec<Script> = Vec::new();
    let Some(tasks) = doc.get("tasks") else {
        return Some(SourceReport { kind: SourceKind::VscodeTasks, file, scripts, package_manager: None });
    };
    let Some(tasks) = tasks.as_array() else {
        cx.error_at(&file, &text, tasks.at, format!("`tasks` should be an array, found {}", tasks.kind()));
        return Some(SourceReport { kind: SourceKind::VscodeTasks, file, scripts, package_manager: None });
    };
    let vars = Vars { root: cx.root };
    for task in tasks {
        if task.members().is_none() {
            cx.error_at(&file, &text, task.at, format!("a task should be an object, found {}", task.kind()));
            continue;
        }
        match read_task(task, &vars, manager) {
            Ok(Some(mut s)) => {
                if scripts.iter().any(|t| t.name == s.name) {
                    continue; // VS Code runs the first task with a label
                }
                s.file.clone_from(&file);
                scripts.push(s);
            }
            Ok(None) => {}
            Err((at, message)) => cx.error_at(&file, &text, at, message),
        }
    }
    Some(SourceReport { kind: SourceKind::VscodeTasks, file, scripts, package_manager: None })
}

/// Replaces the variables discovery can know.
struct Vars<'a> {
    root: &'a Path,
}

impl Vars<'_> {
    /// `text` with variables replaced; `None` if one is left that only VS Code can fill in.
    fn expand(&self, text: &str, shell: bool) -> Option<String> {
        let root = self.root.display().to_string();
        let base = self.root.file_name().map(|n| n.to_string_lossy().into_owned()).unwrap_or_default();
        let mut out = text
            .replace("${workspaceFolder}", &root)
            .replace("${workspaceRoot}", &root)
            .replace("${workspaceFolderBasename}", &base)
            .replace("${pathSeparator}", "/")
            .replace("${/}", "/");
        if shell {
            while let Some(start) = out.find("${env:") {
                let end = out[start..].find('}')? + start;
                let name = out[start + 6..end].to_owned();
                out.replace_range(start..=end, &format!("${{{name}}}"));
                if name.is_empty() {
                    return None;
                }
            }
        }
        // `${NAME}` from `${env:NAME}` is the shell's own; anything else with a colon or a
        // known VS Code name is not ours to fill.
        let leftover = out.match_indices("${").any(|(i, _)| {
            let inner = out[i + 2..].split('}').next().unwrap_or_default();
            !shell
                || inner.contains(':')
                || !inner.chars().all(|c| c.is_ascii_alphanumeric() || c == '_')
                || is_vscode_var(inner)
        });
        (!leftover).then_some(out)
    }
}

fn is_vscode_var(name: &str) -> bool {
    name.starts_with("file")
        || name.starts_with("relativeFile")
        || name.starts_with("selected")
        || name.starts_with("line")
        || matches!(name, "cwd" | "execPath" | "defaultBuildTask" | "userHome" | "workspaceFolder")
}

type TaskError = (usize, String);

/// One task as a script (named and with its command; the caller sets the file); `Ok(None)`
/// for tasks discovery leaves out.
fn read_task(task: &Json, vars: &Vars, manager: PackageManager) -> Result<Option<Script>, TaskError> {
    let kind = match task.get("type") {
        None => "shell",
        Some(t) => t.as_str().ok_or((t.at, format!("`type` should be a string, found {}", t.kind())))?,
    };
    let label = match task.get("label").or_else(|| task.get("taskName")) {
        Some(l) => {
            Some(l.as_str().ok_or((l.at, format!("`label` should be a string, found {}", l.kind())))?.to_owned())
        }
        None => None,
    };
    let cwd = match task.get("options").and_then(|o| o.get("cwd")) {
        None => vars.root.to_path_buf(),
        Some(c) => {
            let raw = c.as_str().ok_or((c.at, format!("`options.cwd` should be a string, found {}", c.kind())))?;
            let Some(dir) = vars.expand(raw, false) else { return Ok(None) };
            join_clean(vars.root, &PathBuf::from(dir))
        }
    };
    let mut env = Vec::new();
    if let Some(e) = task.get("options").and_then(|o| o.get("env")) {
        let members =
            e.unique_members().ok_or((e.at, format!("`options.env` should be an object, found {}", e.kind())))?;
        for m in members {
            let value = m
                .value
                .as_str()
                .ok_or((m.value.at, format!("`options.env.{}` should be a string, found {}", m.key, m.value.kind())))?;
            let Some(value) = vars.expand(value, false) else { return Ok(None) };
            env.push((m.key.clone(), value));
        }
    }
    let (label, command, cwd) = match kind {
        "shell" | "process" => {
            let Some(command) = task.get("command") else { return Ok(None) };
            let command = command
                .as_str()
                .ok_or((command.at, format!("`command` should be a string, found {}", command.kind())))?;
            let label = label.ok_or((task.at, "a task needs a `label`".to_owned()))?;
            let mut args = Vec::new();
            if let Some(a) = task.get("args") {
                let items = a.as_array().ok_or((a.at, format!("`args` should be an array, found {}", a.kind())))?;
                for item in items {
                    // An argument is a string or `{ "value": "...", "quoting": "..." }`.
                    let value = item
                        .as_str()
                        .or_else(|| item.get("value").and_then(Json::as_str))
                        .ok_or((item.at, format!("an argument should be a string, found {}", item.kind())))?;
                    args.push(value.to_owned());
                }
            }
            let shell = kind == "shell";
            let Some(command) = vars.expand(command, shell) else { return Ok(None) };
            let mut expanded = Vec::new();
            for arg in &args {
                let Some(a) = vars.expand(arg, shell) else { return Ok(None) };
                expanded.push(a);
            }
            let command = if shell {
                let mut line = command;
                for a in &expanded {
                    line.push(' ');
                    line.push_str(&shell_quote(a));
                }
                Command::Shell { line }
            } else {
                Command::Exec { program: command, args: expanded }
            };
            (label, command, cwd)
        }
        "npm" => {
            let Some(s) = task.get("script") else { return Ok(None) };
            let name = s.as_str().ok_or((s.at, format!("`script` should be a string, found {}", s.kind())))?;
            let dir = match task.get("path").and_then(Json::as_str) {
                Some(p) => join_clean(vars.root, Path::new(p)),
                None => cwd,
            };
            (label.unwrap_or_else(|| format!("npm: {name}")), manager.run_script(name), dir)
        }
        _ => return Ok(None),
    };
    let mut s = script(format!("vscode:{label}"), SourceKind::VscodeTasks, Path::new(""), command, cwd);
    s.env = env;
    s.detail = task.get("detail").and_then(Json::as_str).map(str::to_owned);
    Ok(Some(s))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn variables() {
        let vars = Vars { root: Path::new("/p/app") };
        assert_eq!(vars.expand("${workspaceFolder}/bin", false).as_deref(), Some("/p/app/bin"));
        assert_eq!(vars.expand("${workspaceFolderBasename}", false).as_deref(), Some("app"));
        assert_eq!(vars.expand("echo ${env:HOME}", true).as_deref(), Some("echo ${HOME}"));
        assert_eq!(vars.expand("echo ${env:HOME}", false), None);
        assert_eq!(vars.expand("tsc ${file}", true), None);
        assert_eq!(vars.expand("run ${input:target}", true), None);
        assert_eq!(vars.expand("plain", false).as_deref(), Some("plain"));
    }
}
