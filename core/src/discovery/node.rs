//! package.json scripts, the package manager that runs them, and monorepo workspaces (pnpm,
//! npm, yarn and bun workspaces, lerna, nx, turbo) with every package's scripts.

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};

use super::cx::{Cx, script};
use super::glob;
use super::json::{self, Dialect, Json};
use super::model::{ManagerChoice, ManagerReason, PackageManager, SourceReport, Workspace, WorkspaceTool};
use super::yaml;
use crate::script::{Script, SourceKind};

/// Lockfiles in detection order: the first one present in the project root decides the
/// package manager (after `.brum.toml` and the `packageManager` field).
pub const LOCKFILES: &[(&str, PackageManager)] = &[
    ("bun.lock", PackageManager::Bun),
    ("bun.lockb", PackageManager::Bun),
    ("pnpm-lock.yaml", PackageManager::Pnpm),
    ("yarn.lock", PackageManager::Yarn),
    ("package-lock.json", PackageManager::Npm),
    ("npm-shrinkwrap.json", PackageManager::Npm),
];

/// Workspace packages listed at most. Real monorepos reach 2,000 packages, and every one of
/// them must be listed or its scripts cannot be run (the old bound of 1,000 made `brum run`
/// say `unknown script` for the rest). Five times that still bounds a glob gone wrong (`**`
/// over a home directory): discovery grows linearly, 0.18 s for 2,000 packages and 0.97 s for
/// 10,000 on a loaded 2-core machine (`benches/benches/discovery.rs`, BENCHMARKS.md).
pub const WORKSPACE_PACKAGES_MAX: usize = 10_000;

/// The package globs nx uses when nothing else names the packages.
const NX_DEFAULT_PATTERNS: &[&str] = &["apps/*", "libs/*", "packages/*"];

/// The package globs lerna uses when lerna.json has no `packages`.
const LERNA_DEFAULT_PATTERNS: &[&str] = &["packages/*"];

/// The fields of a package.json that discovery reads.
struct PackageJson {
    file: PathBuf,
    name: Option<String>,
    /// Script names and their text, in file order.
    scripts: Vec<(String, String)>,
    /// The `packageManager` field and its byte offset.
    package_manager: Option<(String, usize)>,
    /// The `workspaces` globs (array form or `{ "packages": [...] }`).
    workspaces: Vec<String>,
    text: String,
}

/// A pattern source's globs.
struct Patterns {
    tools: BTreeSet<WorkspaceTool>,
    globs: Vec<String>,
    /// Packages named explicitly (nx workspace.json), relative to the root.
    explicit: Vec<PathBuf>,
    /// The file that declared the workspace first, for errors about it.
    declared_in: Option<PathBuf>,
}

/// package.json reports (the root first, then every workspace package in path order) and the
/// workspace, if the project is a monorepo.
pub(crate) fn discover(cx: &mut Cx) -> (Vec<SourceReport>, Option<Workspace>) {
    let root_file = cx.root.join("package.json");
    let has_root = cx.has_file("package.json");
    let root_pkg =
        if has_root { cx.read(&root_file).and_then(|text| parse_package(cx, root_file.clone(), text)) } else { None };
    let js_project = has_root || cx.has_file("pnpm-workspace.yaml");
    if !js_project {
        return (Vec::new(), None);
    }
    let manager = detect_manager(cx, root_pkg.as_ref());
    let patterns = workspace_patterns(cx, root_pkg.as_ref(), manager.manager);

    let mut reports = Vec::new();
    if let Some(pkg) = &root_pkg {
        let scripts = pkg
            .scripts
            .iter()
            .map(|(name, text)| run_script(name.clone(), name, text, &pkg.file, cx.root.to_path_buf(), manager.manager))
            .collect();
        reports.push(SourceReport {
            kind: SourceKind::PackageJson,
            file: pkg.file.clone(),
            scripts,
            package_manager: Some(manager.clone()),
        });
    }
    if patterns.tools.is_empty() && patterns.globs.is_empty() {
        return (reports, None);
    }

    let expansion = glob::expand(cx.fs, cx.root, &patterns.globs);
    let mut dirs: BTreeSet<PathBuf> = expansion.dirs.into_iter().collect();
    dirs.extend(patterns.explicit.iter().cloned());
    let declared_in = patterns.declared_in.clone().unwrap_or_else(|| root_file.clone());
    if expansion.truncated {
        cx.warning(
            &declared_in,
            format!(
                "the workspace globs cover more than {} directories (brum's limit, GLOB_DIRS_MAX); packages \
                 past them are not listed",
                glob::GLOB_DIRS_MAX
            ),
        );
    }
    let nx = patterns.tools.contains(&WorkspaceTool::Nx);
    let mut packages = Vec::new();
    for dir in dirs {
        let Some(package) = read_package_dir(cx, &dir, nx) else { continue };
        // Counted when a package is found: directories the globs matched that hold no package
        // (`packages/**` matches every `src`) do not make a full workspace look too big.
        if packages.len() == WORKSPACE_PACKAGES_MAX {
            cx.warning(
                &declared_in,
                format!(
                    "more than {WORKSPACE_PACKAGES_MAX} workspace packages (brum's limit, WORKSPACE_PACKAGES_MAX); \
                     `{}` and the packages after it are not listed",
                    dir.display()
                ),
            );
            break;
        }
        packages.push(package);
    }
    let prefixes = prefixes(&packages);
    for (package, prefix) in packages.iter().zip(&prefixes) {
        let cwd = cx.root.join(&package.dir);
        let mut names: BTreeSet<&str> = BTreeSet::new();
        if let Some(pkg) = &package.json {
            let scripts = pkg
                .scripts
                .iter()
                .map(|(name, text)| {
                    names.insert(name);
                    run_script(format!("{prefix}:{name}"), name, text, &pkg.file, cwd.clone(), manager.manager)
                })
                .collect();
            reports.push(SourceReport {
                kind: SourceKind::PackageJson,
                file: pkg.file.clone(),
                scripts,
                package_manager: Some(manager.clone()),
            });
        }
        if let Some(project) = &package.nx {
            // nx also runs package.json scripts as targets; the script is the one listed.
            let scripts = project
                .targets
                .iter()
                .filter(|(target, _)| !names.contains(target.as_str()))
                .map(|(target, detail)| {
                    let address = format!("{}:{target}", project.name);
                    let mut s = script(
                        format!("{prefix}:{target}"),
                        SourceKind::NxProject,
                        &project.file,
                        manager.manager.exec("nx", &["run", &address]),
                        cx.root.to_path_buf(),
                    );
                    s.detail.clone_from(detail);
                    s
                })
                .collect();
            reports.push(SourceReport {
                kind: SourceKind::NxProject,
                file: project.file.clone(),
                scripts,
                package_manager: Some(manager.clone()),
            });
        }
    }
    let workspace = Workspace {
        tools: patterns.tools.into_iter().collect(),
        patterns: patterns.globs,
        packages: packages.into_iter().map(|p| p.dir).collect(),
    };
    (reports, Some(workspace))
}

fn run_script(
    name: String,
    script_name: &str,
    text: &str,
    file: &Path,
    cwd: PathBuf,
    manager: PackageManager,
) -> Script {
    let mut s = script(name, SourceKind::PackageJson, file, manager.run_script(script_name), cwd);
    s.detail = Some(text.to_owned());
    s
}

/// Parses a package.json, recording every problem. `None` if it is not a JSON object.
fn parse_package(cx: &mut Cx, file: PathBuf, text: String) -> Option<PackageJson> {
    let doc = match json::parse(&text, Dialect::Json) {
        Ok(doc) => doc,
        Err(e) => {
            cx.error_at(&file, &text, e.at, e.message);
            return None;
        }
    };
    if doc.members().is_none() {
        cx.error_at(&file, &text, doc.at, format!("expected an object at the top level, found {}", doc.kind()));
        return None;
    }
    let name = match doc.get("name") {
        None => None,
        Some(v) => match v.as_str() {
            Some(s) if !s.is_empty() => Some(s.to_owned()),
            _ => {
                cx.error_at(&file, &text, v.at, format!("`name` should be a non-empty string, found {}", v.kind()));
                None
            }
        },
    };
    let scripts = doc.get("scripts").map_or_else(Vec::new, |v| string_map(cx, &file, &text, v, "scripts", "script"));
    let package_manager = doc.get("packageManager").and_then(|v| match v.as_str() {
        Some(s) => Some((s.to_owned(), v.at)),
        None => {
            cx.error_at(
                &file,
                &text,
                v.at,
                format!("`packageManager` should be a string like \"pnpm@9.1.0\", found {}", v.kind()),
            );
            None
        }
    });
    let workspaces = match doc.get("workspaces") {
        None => Vec::new(),
        Some(v) => {
            let list = v.as_array().or_else(|| v.get("packages").and_then(Json::as_array));
            match list {
                Some(items) => string_list(cx, &file, &text, items, "workspaces"),
                None if v.members().is_some() && v.get("packages").is_none() => Vec::new(),
                None => {
                    cx.error_at(
                        &file,
                        &text,
                        v.at,
                        format!(
                            "`workspaces` should be an array of globs or {{ \"packages\": [...] }}, found {}",
                            v.kind()
                        ),
                    );
                    Vec::new()
                }
            }
        }
    };
    Some(PackageJson { file, name, scripts, package_manager, workspaces, text })
}

/// An object of strings (package.json `scripts`, composer `scripts` after its own checks):
/// its members in file order, each non-string value reported and skipped.
pub(crate) fn string_map(
    cx: &mut Cx,
    file: &Path,
    text: &str,
    value: &Json,
    field: &str,
    what: &str,
) -> Vec<(String, String)> {
    let Some(members) = value.unique_members() else {
        cx.error_at(file, text, value.at, format!("`{field}` should be an object of strings, found {}", value.kind()));
        return Vec::new();
    };
    let mut out = Vec::new();
    for m in members {
        match m.value.as_str() {
            Some(s) => out.push((m.key.clone(), s.to_owned())),
            None => cx.error_at(
                file,
                text,
                m.value.at,
                format!("{what} `{}` should be a string, found {}", m.key, m.value.kind()),
            ),
        }
    }
    out
}

/// An array of strings; each other item is reported and skipped.
fn string_list(cx: &mut Cx, file: &Path, text: &str, items: &[Json], field: &str) -> Vec<String> {
    let mut out = Vec::new();
    for item in items {
        match item.as_str() {
            Some(s) => out.push(s.to_owned()),
            None => {
                cx.error_at(file, text, item.at, format!("`{field}` items should be strings, found {}", item.kind()))
            }
        }
    }
    out
}

/// The package manager: `.brum.toml`, then `packageManager`, then lockfiles, then npm.
fn detect_manager(cx: &mut Cx, root: Option<&PackageJson>) -> ManagerChoice {
    let field = root.and_then(|pkg| {
        let (value, at) = pkg.package_manager.as_ref()?;
        let name = value.split('@').next().unwrap_or_default();
        match PackageManager::parse(name) {
            Some(manager) => Some(ManagerChoice { manager, reason: ManagerReason::PackageManagerField { value: value.clone() } }),
            None => {
                cx.error_at(
                    &pkg.file,
                    &pkg.text,
                    *at,
                    format!("unknown package manager {value:?} in `packageManager`; expected npm, pnpm, yarn or bun (like \"pnpm@9.1.0\")"),
                );
                None
            }
        }
    });
    if let Some(manager) = cx.prefs.package_manager {
        return ManagerChoice { manager, reason: ManagerReason::Preference };
    }
    if let Some(choice) = field {
        return choice;
    }
    for (file, manager) in LOCKFILES {
        if cx.has_file(file) {
            return ManagerChoice { manager: *manager, reason: ManagerReason::Lockfile { file: (*file).to_owned() } };
        }
    }
    ManagerChoice { manager: PackageManager::Npm, reason: ManagerReason::Default }
}

/// Every workspace tool of the root and the package globs they name.
fn workspace_patterns(cx: &mut Cx, root: Option<&PackageJson>, manager: PackageManager) -> Patterns {
    let mut p = Patterns { tools: BTreeSet::new(), globs: Vec::new(), explicit: Vec::new(), declared_in: None };
    let add = |p: &mut Patterns, glob: &str| {
        if !p.globs.iter().any(|g| g == glob) {
            p.globs.push(glob.to_owned());
        }
    };
    if cx.has_file("pnpm-workspace.yaml") {
        let file = cx.root.join("pnpm-workspace.yaml");
        if let Some(text) = cx.read(&file) {
            p.tools.insert(WorkspaceTool::Pnpm);
            p.declared_in.get_or_insert(file.clone());
            match yaml::packages(&text) {
                Ok(items) => items.unwrap_or_default().iter().for_each(|i| add(&mut p, &i.value)),
                Err(e) => cx.error_at(&file, &text, e.at, e.message),
            }
        }
    }
    if let Some(pkg) = root.filter(|pkg| !pkg.workspaces.is_empty()) {
        p.tools.insert(match manager {
            PackageManager::Yarn => WorkspaceTool::Yarn,
            PackageManager::Bun => WorkspaceTool::Bun,
            PackageManager::Npm | PackageManager::Pnpm => WorkspaceTool::Npm,
        });
        p.declared_in.get_or_insert(pkg.file.clone());
        pkg.workspaces.iter().for_each(|g| add(&mut p, g));
    }
    let mut lerna_globs = None;
    if cx.has_file("lerna.json") {
        let file = cx.root.join("lerna.json");
        if let Some(doc) = read_json(cx, &file, Dialect::Json) {
            p.tools.insert(WorkspaceTool::Lerna);
            p.declared_in.get_or_insert(file.clone());
            lerna_globs = Some(match doc.1.get("packages") {
                Some(v) => match v.as_array() {
                    Some(items) => string_list(cx, &file, &doc.0, items, "packages"),
                    None => {
                        cx.error_at(
                            &file,
                            &doc.0,
                            v.at,
                            format!("`packages` should be an array of globs, found {}", v.kind()),
                        );
                        Vec::new()
                    }
                },
                None => Vec::new(),
            });
        }
    }
    if let Some(globs) = &lerna_globs {
        globs.iter().for_each(|g| add(&mut p, g));
    }
    if cx.has_file("nx.json") {
        p.tools.insert(WorkspaceTool::Nx);
        p.declared_in.get_or_insert(cx.root.join("nx.json"));
        if cx.has_file("workspace.json") {
            let file = cx.root.join("workspace.json");
            if let Some((text, doc)) = read_json(cx, &file, Dialect::Jsonc) {
                match doc.get("projects").and_then(Json::unique_members) {
                    Some(projects) => {
                        for project in projects {
                            let path =
                                project.value.as_str().or_else(|| project.value.get("root").and_then(Json::as_str));
                            match path {
                                Some(path) => p.explicit.push(PathBuf::from(path)),
                                None => cx.error_at(
                                    &file,
                                    &text,
                                    project.value.at,
                                    format!("project `{}` has no root path", project.key),
                                ),
                            }
                        }
                    }
                    None => cx.error_at(&file, &text, doc.at, "expected a `projects` object"),
                }
            }
        }
    }
    if cx.has_file("turbo.json") {
        p.tools.insert(WorkspaceTool::Turbo);
    }
    // Defaults apply only when no tool named any package.
    if p.globs.is_empty() && p.explicit.is_empty() {
        if lerna_globs.is_some() {
            LERNA_DEFAULT_PATTERNS.iter().for_each(|g| add(&mut p, g));
        } else if p.tools.contains(&WorkspaceTool::Nx) {
            NX_DEFAULT_PATTERNS.iter().for_each(|g| add(&mut p, g));
        }
    }
    p
}

/// Reads and parses a JSON file, recording problems; the text and the document.
pub(crate) fn read_json(cx: &mut Cx, file: &Path, dialect: Dialect) -> Option<(String, Json)> {
    let text = cx.read(file)?;
    match json::parse(&text, dialect) {
        Ok(doc) if doc.members().is_some() => Some((text, doc)),
        Ok(doc) => {
            cx.error_at(file, &text, doc.at, format!("expected an object at the top level, found {}", doc.kind()));
            None
        }
        Err(e) => {
            cx.error_at(file, &text, e.at, e.message);
            None
        }
    }
}

/// One workspace package: its package.json, its nx project.json, or both.
struct Package {
    dir: PathBuf,
    json: Option<PackageJson>,
    nx: Option<NxProject>,
}

struct NxProject {
    file: PathBuf,
    /// The project's nx name (`nx run <name>:<target>`).
    name: String,
    /// Target names and what they run (executor or command), in file order.
    targets: Vec<(String, Option<String>)>,
}

fn read_package_dir(cx: &mut Cx, dir: &Path, nx: bool) -> Option<Package> {
    let abs = cx.root.join(dir);
    let (_, files) = cx.list(&abs);
    let json = if files.iter().any(|f| f == "package.json") {
        let file = abs.join("package.json");
        let text = cx.read(&file)?;
        Some(parse_package(cx, file, text)?)
    } else {
        None
    };
    let nx = if nx && files.iter().any(|f| f == "project.json") {
        let name_fallback = json.as_ref().and_then(|j| j.name.clone()).unwrap_or_else(|| dir_name(dir));
        read_nx_project(cx, &abs.join("project.json"), name_fallback)
    } else {
        None
    };
    (json.is_some() || nx.is_some()).then(|| Package { dir: dir.to_path_buf(), json, nx })
}

fn read_nx_project(cx: &mut Cx, file: &Path, name_fallback: String) -> Option<NxProject> {
    let (text, doc) = read_json(cx, file, Dialect::Jsonc)?;
    let name = doc.get("name").and_then(Json::as_str).map_or(name_fallback, str::to_owned);
    let mut targets = Vec::new();
    if let Some(v) = doc.get("targets") {
        match v.unique_members() {
            Some(members) => {
                for m in members {
                    let detail = m
                        .value
                        .get("command")
                        .or_else(|| m.value.get("options").and_then(|o| o.get("command")))
                        .or_else(|| m.value.get("executor"))
                        .and_then(Json::as_str)
                        .map(str::to_owned);
                    targets.push((m.key.clone(), detail));
                }
            }
            None => cx.error_at(file, &text, v.at, format!("`targets` should be an object, found {}", v.kind())),
        }
    }
    Some(NxProject { file: file.to_path_buf(), name, targets })
}

fn dir_name(dir: &Path) -> String {
    dir.file_name().map_or_else(|| dir.display().to_string(), |n| n.to_string_lossy().into_owned())
}

/// The prefix of each package's scripts (`web` in `web:dev`): the package name without its
/// scope, else the directory name. A prefix already used by an earlier package (in path order)
/// falls back to the full package name, then to the package's path, which is unique.
fn prefixes(packages: &[Package]) -> Vec<String> {
    let mut used: BTreeSet<String> = BTreeSet::new();
    packages
        .iter()
        .map(|package| {
            let name = package.json.as_ref().and_then(|j| j.name.clone());
            let short = name.as_deref().map(|n| n.rsplit('/').next().unwrap_or(n).to_owned());
            let path = package.dir.to_string_lossy().into_owned();
            let candidates = [short.unwrap_or_else(|| dir_name(&package.dir)), name.unwrap_or_default(), path.clone()];
            let chosen = candidates.into_iter().find(|c| !c.is_empty() && !used.contains(c)).unwrap_or(path);
            used.insert(chosen.clone());
            chosen
        })
        .collect()
}
