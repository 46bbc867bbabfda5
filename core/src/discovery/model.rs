//! What discovery produces: [`Discovery`], one [`SourceReport`] per file, the
//! [`Diagnostic`]s of malformed files, and the package manager it chose.

use std::fmt;
use std::path::{Path, PathBuf};

use super::suggest::suggest_script;
use crate::config::{ProcessDecl, Settings};
use crate::diagnostic::Diagnostic;
use crate::script::{Command, Script, SourceKind};

/// A JavaScript package manager: how package.json scripts are run.
#[derive(
    Debug,
    Clone,
    Copy,
    PartialEq,
    Eq,
    PartialOrd,
    Ord,
    Hash,
    serde::Serialize,
    strum::IntoStaticStr,
    strum::EnumString,
    strum::VariantArray,
)]
#[serde(rename_all = "snake_case")]
#[strum(serialize_all = "snake_case")]
pub enum PackageManager {
    Npm,
    Pnpm,
    Yarn,
    Bun,
}

impl PackageManager {
    pub const ALL: &[PackageManager] = <PackageManager as strum::VariantArray>::VARIANTS;

    pub fn name(self) -> &'static str {
        self.into()
    }

    pub fn parse(name: &str) -> Option<PackageManager> {
        name.parse().ok()
    }

    /// `<manager> run <script>`, the same form for all four.
    pub fn run_script(self, script: &str) -> Command {
        Command::Exec { program: self.name().to_owned(), args: vec!["run".to_owned(), script.to_owned()] }
    }

    /// Runs a binary installed in the project (`npx nx ...`, `pnpm exec nx ...`).
    pub fn exec(self, program: &str, args: &[&str]) -> Command {
        let (runner, lead): (&str, &[&str]) = match self {
            PackageManager::Npm => ("npx", &[]),
            PackageManager::Pnpm => ("pnpm", &["exec"]),
            PackageManager::Yarn => ("yarn", &[]),
            PackageManager::Bun => ("bunx", &[]),
        };
        let args = lead.iter().chain(&[program]).chain(args).map(|a| (*a).to_owned()).collect();
        Command::Exec { program: runner.to_owned(), args }
    }
}

impl fmt::Display for PackageManager {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// The package manager chosen for a project, and why.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct ManagerChoice {
    pub manager: PackageManager,
    pub reason: ManagerReason,
}

/// Why a package manager was chosen; the variants are the detection order.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "snake_case", tag = "from")]
pub enum ManagerReason {
    /// `[discovery] package_manager` in `.brum.toml`.
    Preference,
    /// The root package.json's `packageManager` field, as written (`"pnpm@9.1.0"`).
    PackageManagerField { value: String },
    /// A lockfile in the project root (the first of [`super::LOCKFILES`] present).
    Lockfile { file: String },
    /// Nothing said otherwise: npm.
    Default,
}

impl fmt::Display for ManagerReason {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ManagerReason::Preference => f.write_str(".brum.toml"),
            ManagerReason::PackageManagerField { value } => write!(f, "packageManager {value:?}"),
            ManagerReason::Lockfile { file } => f.write_str(file),
            ManagerReason::Default => f.write_str("default"),
        }
    }
}

/// A tool that makes the project a monorepo of several packages.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, serde::Serialize)]
#[serde(rename_all = "snake_case")]
pub enum WorkspaceTool {
    /// `pnpm-workspace.yaml`.
    Pnpm,
    /// package.json `workspaces`, named after the package manager that reads it.
    Npm,
    Yarn,
    Bun,
    /// `lerna.json`.
    Lerna,
    /// `nx.json`.
    Nx,
    /// `turbo.json` (turbo runs over the package manager's workspaces).
    Turbo,
}

impl WorkspaceTool {
    pub fn name(self) -> &'static str {
        match self {
            WorkspaceTool::Pnpm => "pnpm workspace",
            WorkspaceTool::Npm => "npm workspaces",
            WorkspaceTool::Yarn => "yarn workspaces",
            WorkspaceTool::Bun => "bun workspaces",
            WorkspaceTool::Lerna => "lerna",
            WorkspaceTool::Nx => "nx",
            WorkspaceTool::Turbo => "turbo",
        }
    }
}

impl fmt::Display for WorkspaceTool {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// The project's workspace, when it is a monorepo.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct Workspace {
    /// Every tool found, in [`WorkspaceTool`] order.
    pub tools: Vec<WorkspaceTool>,
    /// The package globs, from every tool, in the order read (`!` marks an exclusion).
    pub patterns: Vec<String>,
    /// The package directories found, sorted.
    pub packages: Vec<PathBuf>,
}

/// The scripts of one file.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct SourceReport {
    pub kind: SourceKind,
    pub file: PathBuf,
    /// In the file's order; names are unique across the whole [`Discovery`].
    pub scripts: Vec<Script>,
    /// For package.json and nx projects: the manager their scripts run through.
    pub package_manager: Option<ManagerChoice>,
}

/// A script listed under another name because an earlier source has its name (see
/// docs/design/discovery.md, "Name collisions").
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct Rename {
    /// The name it would have had.
    pub original: String,
    /// The name it is listed under.
    pub name: String,
    /// The file of the renamed script.
    pub file: PathBuf,
    /// The file of the script that kept the name.
    pub taken_by: PathBuf,
}

/// Everything discovery found in a project.
#[derive(Debug, Clone, Default, PartialEq, Eq, serde::Serialize)]
pub struct Discovery {
    pub root: PathBuf,
    /// One per file that was found, in precedence order (see [`super::discover`]).
    pub sources: Vec<SourceReport>,
    /// Problems with files (errors, and warnings where a limit cut a listing short), in the
    /// order the files were read. Discovery goes on past each (with the other files, and with
    /// the rest of the same file where it can).
    pub diagnostics: Vec<Diagnostic>,
    pub workspace: Option<Workspace>,
    pub renames: Vec<Rename>,
}

impl Discovery {
    /// Every script, in source order.
    pub fn scripts(&self) -> impl Iterator<Item = &Script> {
        self.sources.iter().flat_map(|s| &s.scripts)
    }

    /// The script named `name`, exactly.
    pub fn script(&self, name: &str) -> Option<&Script> {
        self.scripts().find(|s| s.name == name)
    }

    /// The script named `name`, or an error with the closest names.
    pub fn find(&self, name: &str) -> Result<&Script, UnknownScript> {
        self.script(name).ok_or_else(|| {
            let names: Vec<&str> = self.scripts().map(|s| s.name.as_str()).collect();
            UnknownScript { name: name.to_owned(), suggestions: suggest_script(&names, name), root: self.root.clone() }
        })
    }

    /// Whether anything runnable was found.
    pub fn is_empty(&self) -> bool {
        self.scripts().next().is_none()
    }
}

/// A script name that discovery did not find.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("unknown script `{name}`{}", unknown_help(suggestions, root))]
pub struct UnknownScript {
    pub name: String,
    /// The closest names, best first (see [`suggest_script`]).
    pub suggestions: Vec<String>,
    pub root: PathBuf,
}

fn unknown_help(suggestions: &[String], root: &Path) -> String {
    match suggestions {
        [] => format!("; `brum ls` lists the scripts of {}", root.display()),
        [one] => format!("; did you mean `{one}`?"),
        many => {
            let names: Vec<String> = many.iter().map(|n| format!("`{n}`")).collect();
            format!("; did you mean one of {}?", names.join(", "))
        }
    }
}

/// What the user's configuration says about discovery.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct DiscoveryPrefs {
    /// `[discovery] package_manager`; `None` for `"auto"` (detect).
    pub package_manager: Option<PackageManager>,
    /// `[processes.NAME]` tables, in name order.
    pub processes: Vec<ProcessDecl>,
}

impl DiscoveryPrefs {
    pub fn from_settings(settings: &Settings) -> DiscoveryPrefs {
        DiscoveryPrefs {
            package_manager: settings.package_manager().and_then(PackageManager::parse),
            processes: settings.processes().cloned().collect(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn managers_run_scripts_and_binaries() {
        assert_eq!(PackageManager::Pnpm.run_script("dev").to_string(), "pnpm run dev");
        assert_eq!(PackageManager::Bun.run_script("build:css").to_string(), "bun run build:css");
        assert_eq!(PackageManager::Npm.exec("nx", &["run", "web:build"]).to_string(), "npx nx run web:build");
        assert_eq!(PackageManager::Pnpm.exec("nx", &["run", "a:b"]).to_string(), "pnpm exec nx run a:b");
        assert_eq!(PackageManager::Yarn.exec("nx", &["run", "a:b"]).to_string(), "yarn nx run a:b");
        assert_eq!(PackageManager::Bun.exec("nx", &["run", "a:b"]).to_string(), "bunx nx run a:b");
        for &m in PackageManager::ALL {
            assert_eq!(PackageManager::parse(m.name()), Some(m));
        }
        assert_eq!(PackageManager::parse("deno"), None);
    }

    #[test]
    fn unknown_script_messages() {
        let e = |s: &[&str]| UnknownScript {
            name: "dve".into(),
            suggestions: s.iter().map(|s| (*s).to_owned()).collect(),
            root: "/p".into(),
        };
        assert_eq!(e(&["dev"]).to_string(), "unknown script `dve`; did you mean `dev`?");
        assert_eq!(
            e(&["web:dev", "api:dev"]).to_string(),
            "unknown script `dve`; did you mean one of `web:dev`, `api:dev`?"
        );
        assert_eq!(e(&[]).to_string(), "unknown script `dve`; `brum ls` lists the scripts of /p");
    }
}
