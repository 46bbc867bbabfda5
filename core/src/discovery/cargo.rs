//! Cargo.toml: `cargo:build`, `cargo:check`, `cargo:test`, and `cargo:run` / `cargo:run:<bin>`
//! for the binaries of the root package and of every workspace member.

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};

use toml_edit::{Item, TableLike};

use super::cx::{Cx, exec, script};
use super::model::SourceReport;
use super::{glob, toml};
use crate::script::SourceKind;

/// One binary target.
#[derive(Debug, PartialEq, Eq)]
struct Bin {
    name: String,
    /// The member package, for `cargo run -p <package> --bin <name>`; `None` for the root
    /// package.
    package: Option<String>,
}

pub(crate) fn discover(cx: &mut Cx) -> Option<SourceReport> {
    if !cx.has_file("Cargo.toml") {
        return None;
    }
    let file = cx.root.join("Cargo.toml");
    let text = cx.read(&file)?;
    let doc = toml::parse(cx, &file, &text)?;
    let root = doc.as_table();
    let package = root.get("package").and_then(Item::as_table_like);
    let workspace = root.get("workspace").and_then(Item::as_table_like);
    if package.is_none() && workspace.is_none() {
        cx.error(&file, Some((1, 1)), "expected a `[package]` or `[workspace]` table");
        return None;
    }
    let mut bins = Vec::new();
    let mut default_run = false;
    if let Some(package) = package {
        default_run = package.get("default-run").and_then(Item::as_str).is_some();
        let name = package.get("name").and_then(Item::as_str).unwrap_or_default().to_owned();
        bins.extend(
            package_bins(cx, &file, &text, root, package, &name, cx.root.to_path_buf())
                .into_iter()
                .map(|name| Bin { name, package: None }),
        );
    }
    if let Some(workspace) = workspace {
        for (member_dir, member) in members(cx, &file, &text, workspace) {
            bins.extend(member_bins(cx, &member_dir, &member));
        }
    }
    let mut seen = BTreeSet::new();
    bins.retain(|b| seen.insert(b.name.clone()));

    let cwd = cx.root.to_path_buf();
    let mut scripts = vec![
        script("cargo:build".into(), SourceKind::Cargo, &file, exec("cargo", &["build"]), cwd.clone()),
        script("cargo:check".into(), SourceKind::Cargo, &file, exec("cargo", &["check"]), cwd.clone()),
        script("cargo:test".into(), SourceKind::Cargo, &file, exec("cargo", &["test"]), cwd.clone()),
    ];
    // `cargo run` needs a single binary or a `default-run` to know what to run.
    if bins.len() == 1 || (default_run && !bins.is_empty()) {
        scripts.push(script("cargo:run".into(), SourceKind::Cargo, &file, exec("cargo", &["run"]), cwd.clone()));
    }
    if bins.len() > 1 {
        for bin in &bins {
            let command = match &bin.package {
                None => exec("cargo", &["run", "--bin", &bin.name]),
                Some(package) => exec("cargo", &["run", "-p", package, "--bin", &bin.name]),
            };
            scripts.push(script(format!("cargo:run:{}", bin.name), SourceKind::Cargo, &file, command, cwd.clone()));
        }
    }
    Some(SourceReport { kind: SourceKind::Cargo, file, scripts, package_manager: None })
}

/// The binaries of one package: `[[bin]]` tables, then (unless `autobins = false`)
/// `src/main.rs` (named after the package) and `src/bin/<name>.rs` / `src/bin/<name>/main.rs`.
fn package_bins(
    cx: &mut Cx,
    file: &Path,
    text: &str,
    root: &dyn TableLike,
    package: &dyn TableLike,
    name: &str,
    dir: PathBuf,
) -> Vec<String> {
    let mut bins = Vec::new();
    if let Some(item) = root.get("bin") {
        match item.as_array_of_tables() {
            Some(tables) => {
                for table in tables.iter() {
                    match table.get("name").and_then(Item::as_str) {
                        Some(n) => bins.push(n.to_owned()),
                        None => {
                            cx.error_at(file, text, table.span().map_or(0, |s| s.start), "a `[[bin]]` needs a `name`")
                        }
                    }
                }
            }
            None => cx.error_at(
                file,
                text,
                toml::offset(item),
                format!("`bin` should be an array of tables (`[[bin]]`), found {}", toml::kind(item)),
            ),
        }
    }
    if package.get("autobins").and_then(Item::as_bool) == Some(false) {
        return bins;
    }
    let (src_dirs, src_files) = cx.list(&dir.join("src"));
    if src_files.iter().any(|f| f == "main.rs") && !name.is_empty() {
        bins.push(name.to_owned());
    }
    if src_dirs.iter().any(|d| d == "bin") {
        let bin_dir = dir.join("src").join("bin");
        let (dirs, files) = cx.list(&bin_dir);
        bins.extend(files.iter().filter_map(|f| f.strip_suffix(".rs")).map(str::to_owned));
        for d in dirs {
            if cx.list(&bin_dir.join(&d)).1.iter().any(|f| f == "main.rs") {
                bins.push(d);
            }
        }
    }
    bins
}

/// The workspace members (globs of `members`, minus `exclude`) that have a Cargo.toml, with
/// its text.
fn members(cx: &mut Cx, file: &Path, text: &str, workspace: &dyn TableLike) -> Vec<(PathBuf, String)> {
    let strings = |cx: &mut Cx, key: &str| -> Vec<String> {
        let Some(item) = workspace.get(key) else { return Vec::new() };
        match item.as_array() {
            Some(array) => array.iter().filter_map(|v| v.as_str()).map(str::to_owned).collect(),
            None => {
                cx.error_at(
                    file,
                    text,
                    toml::offset(item),
                    format!("`workspace.{key}` should be an array of paths, found {}", toml::kind(item)),
                );
                Vec::new()
            }
        }
    };
    let mut patterns = strings(cx, "members");
    patterns.extend(strings(cx, "exclude").into_iter().map(|e| format!("!{e}")));
    let expansion = glob::expand(cx.fs, cx.root, &patterns);
    let mut out = Vec::new();
    for dir in expansion.dirs {
        let manifest = cx.root.join(&dir).join("Cargo.toml");
        if let Some(text) = cx.read(&manifest) {
            out.push((dir, text));
        }
    }
    out
}

fn member_bins(cx: &mut Cx, dir: &Path, text: &str) -> Vec<Bin> {
    let file = cx.root.join(dir).join("Cargo.toml");
    let Some(doc) = toml::parse(cx, &file, text) else { return Vec::new() };
    let root = doc.as_table();
    let Some(package) = root.get("package").and_then(Item::as_table_like) else { return Vec::new() };
    let name = package.get("name").and_then(Item::as_str).unwrap_or_default().to_owned();
    let abs = cx.root.join(dir);
    package_bins(cx, &file, text, root, package, &name, abs)
        .into_iter()
        .map(|bin| Bin { name: bin, package: Some(name.clone()) })
        .collect()
}
