//! `[processes.NAME]` tables of `.brum.toml`, already read and checked by the config module:
//! each is a shell line under its bare name, with its cwd (relative to the file that declares
//! it), environment and restart policy.

use std::path::{Path, PathBuf};

use super::cx::{Cx, script};
use super::model::SourceReport;
use super::text::join_clean;
use crate::script::{Command, SourceKind};

/// One report per declaring file, in the order the files first appear.
pub(crate) fn discover(cx: &Cx) -> Vec<SourceReport> {
    let mut reports: Vec<SourceReport> = Vec::new();
    for decl in &cx.prefs.processes {
        let dir = decl.file.parent().unwrap_or(Path::new("/"));
        let cwd = join_clean(dir, &decl.cwd.as_deref().map(PathBuf::from).unwrap_or_default());
        let mut s = script(
            decl.name.clone(),
            SourceKind::BrumToml,
            &decl.file,
            Command::Shell { line: decl.command.clone() },
            cwd,
        );
        s.env.clone_from(&decl.env);
        s.restart = decl.restart;
        match reports.iter_mut().find(|r| r.file == decl.file) {
            Some(report) => report.scripts.push(s),
            None => reports.push(SourceReport {
                kind: SourceKind::BrumToml,
                file: decl.file.clone(),
                scripts: vec![s],
                package_manager: None,
            }),
        }
    }
    reports
}
