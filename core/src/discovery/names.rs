//! Name collisions across sources. Sources are visited in precedence order (the order of
//! [`super::Discovery::sources`]); the first script with a name keeps it. A later script with a
//! taken name is listed as `<qualifier>:<name>`, where the qualifier names its source
//! ([`qualifier`]); if that is taken too, `~2`, `~3`, ... is appended. Every rename is
//! returned, so `brum ls` can say what happened.

use std::collections::BTreeMap;
use std::path::PathBuf;

use super::model::{Rename, SourceReport};
use crate::script::SourceKind;

/// The word put before a renamed script's name.
pub fn qualifier(kind: SourceKind) -> &'static str {
    match kind {
        SourceKind::BrumToml => "brum",
        SourceKind::PackageJson => "pkg",
        SourceKind::NxProject => "nx",
        SourceKind::Procfile => "procfile",
        SourceKind::Deno => "deno",
        SourceKind::Composer => "composer",
        SourceKind::Pyproject => "py",
        SourceKind::Cargo => "cargo",
        SourceKind::Go => "go",
        SourceKind::Makefile => "make",
        SourceKind::Justfile => "just",
        SourceKind::VscodeTasks => "vscode",
    }
}

/// Makes every script name unique across `reports`, in order; returns the renames.
pub(crate) fn resolve(reports: &mut [SourceReport]) -> Vec<Rename> {
    let mut taken: BTreeMap<String, PathBuf> = BTreeMap::new();
    let mut renames = Vec::new();
    for report in reports.iter_mut() {
        for s in &mut report.scripts {
            if let Some(owner) = taken.get(&s.name) {
                let base = format!("{}:{}", qualifier(report.kind), s.name);
                let mut name = base.clone();
                let mut n = 2;
                while taken.contains_key(&name) {
                    name = format!("{base}~{n}");
                    n += 1;
                }
                renames.push(Rename {
                    original: s.name.clone(),
                    name: name.clone(),
                    file: report.file.clone(),
                    taken_by: owner.clone(),
                });
                s.name = name;
            }
            taken.insert(s.name.clone(), report.file.clone());
        }
    }
    renames
}
