//! Procfile entries (`name: command`), each run as a shell line under its bare name.

use super::cx::{Cx, script};
use super::model::SourceReport;
use crate::script::{Command, SourceKind};

pub(crate) fn discover(cx: &mut Cx) -> Option<SourceReport> {
    if !cx.has_file("Procfile") {
        return None;
    }
    let file = cx.root.join("Procfile");
    let text = cx.read(&file)?;
    let mut scripts: Vec<crate::script::Script> = Vec::new();
    let mut first_line: Vec<usize> = Vec::new();
    for (index, raw) in text.lines().enumerate() {
        let line_no = index + 1;
        let line = raw.trim();
        if line.is_empty() || line.starts_with('#') {
            continue;
        }
        let indent = raw.len() - raw.trim_start().len();
        let column = raw[..indent].chars().count() + 1;
        let Some((name, command)) = line.split_once(':') else {
            cx.error(&file, Some((line_no, column)), "expected `name: command`");
            continue;
        };
        if name.is_empty() || !name.chars().all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '-') {
            cx.error(
                &file,
                Some((line_no, column)),
                format!("invalid process name {name:?}: use letters, digits, `_` and `-`"),
            );
            continue;
        }
        let command = command.trim();
        if command.is_empty() {
            cx.error(&file, Some((line_no, column)), format!("process `{name}` has no command"));
            continue;
        }
        if let Some(i) = scripts.iter().position(|s| s.name == name) {
            cx.error(
                &file,
                Some((line_no, column)),
                format!("process `{name}` is defined twice; the one on line {} is used", first_line[i]),
            );
            continue;
        }
        scripts.push(script(
            name.to_owned(),
            SourceKind::Procfile,
            &file,
            Command::Shell { line: command.to_owned() },
            cx.root.to_path_buf(),
        ));
        first_line.push(line_no);
    }
    Some(SourceReport { kind: SourceKind::Procfile, file, scripts, package_manager: None })
}
