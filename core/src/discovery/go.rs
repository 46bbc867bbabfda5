//! go.mod: `go:build`, `go:test`, `go:run` when the module root is a main package, and
//! `go:run:<name>` for every `cmd/<name>` directory with Go files.

use super::cx::{Cx, exec, script};
use super::model::SourceReport;
use crate::script::SourceKind;

pub(crate) fn discover(cx: &mut Cx) -> Option<SourceReport> {
    if !cx.has_file("go.mod") {
        return None;
    }
    let file = cx.root.join("go.mod");
    let text = cx.read(&file)?;
    let has_module = text.lines().any(|l| {
        let l = l.trim_start();
        l.strip_prefix("module").is_some_and(|rest| rest.starts_with([' ', '\t']) && !rest.trim().is_empty())
    });
    if !has_module {
        cx.error(&file, Some((1, 1)), "go.mod has no `module` directive");
    }
    let cwd = cx.root.to_path_buf();
    let mut scripts = vec![
        script("go:build".into(), SourceKind::Go, &file, exec("go", &["build", "./..."]), cwd.clone()),
        script("go:test".into(), SourceKind::Go, &file, exec("go", &["test", "./..."]), cwd.clone()),
    ];
    let is_go = |f: &String| f.ends_with(".go") && !f.ends_with("_test.go");
    if cx.root_files.iter().any(is_go) {
        scripts.push(script("go:run".into(), SourceKind::Go, &file, exec("go", &["run", "."]), cwd.clone()));
    }
    let cmd = cx.root.join("cmd");
    let (commands, _) = cx.list(&cmd);
    for name in commands {
        if cx.list(&cmd.join(&name)).1.iter().any(is_go) {
            let target = format!("./cmd/{name}");
            scripts.push(script(
                format!("go:run:{name}"),
                SourceKind::Go,
                &file,
                exec("go", &["run", &target]),
                cwd.clone(),
            ));
        }
    }
    Some(SourceReport { kind: SourceKind::Go, file, scripts, package_manager: None })
}
