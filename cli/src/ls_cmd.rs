//! `brum ls [--json]`: the project's scripts, grouped by the file they come from.
//!
//! Exit codes: `OK` when the listing has at least one script (even with problems in some
//! files, which are printed after it on stderr), `FAILURE` when nothing runnable was found (an
//! empty folder, files that define no scripts, or only files with errors; the text form says
//! `no scripts found in <dir>` on stderr), `USAGE` when the project directory is missing or
//! not a directory.

use std::io::{self, Write};
use std::path::Path;

use brum_core::diagnostic::{Diagnostic, Severity};
use brum_core::discovery::{
    Discovery, DiscoveryPrefs, ManagerChoice, ManagerReason, SourceReport, WorkspaceTool, discover,
};
use brum_core::script::{Command, RestartPolicy, Script, SourceKind};

use crate::args::LsArgs;
use crate::diagnostics;
use crate::errors::{CliError, exit};
use crate::project_fs::{StdFs, project_dir};
use crate::settings;

/// Runs `brum ls` for the project `project` (`-C`, default the current directory), with config
/// from `home` and the project's ancestors. Writes the listing to `out` and problems to `err`;
/// fails only when there is no project directory to list (or the output cannot be written).
pub fn run(
    args: &LsArgs,
    project: Option<&Path>,
    home: Option<&Path>,
    out: &mut dyn Write,
    err: &mut dyn Write,
) -> Result<i32, CliError> {
    let root = project_dir(project)?;
    let (prefs, mut problems) = match settings::load(home, &root) {
        Ok((settings, _)) => (DiscoveryPrefs::from_settings(&settings), Vec::new()),
        // A bad config file is one more file with problems: list the rest with the defaults.
        Err(e) => (DiscoveryPrefs::default(), e.diagnostics()),
    };
    let discovery = discover(&StdFs, &root, &prefs);
    problems.extend(discovery.diagnostics.iter().cloned());
    if args.json {
        // Through a `Value`, whose objects keep their keys sorted: the document's layout
        // does not depend on the order fields are declared in.
        let doc = serde_json::to_value(to_json(&discovery, &problems)).map_err(io::Error::from)?;
        serde_json::to_writer_pretty(&mut *out, &doc).map_err(io::Error::from)?;
        writeln!(out)?;
    } else {
        let shown = project.map_or_else(|| ".".to_owned(), |p| p.display().to_string());
        write_text(&discovery, out)?;
        for rename in &discovery.renames {
            writeln!(
                err,
                "note: `{}` from {} is listed as `{}`: {} has `{}`",
                rename.original,
                relative(&root, &rename.file),
                rename.name,
                relative(&root, &rename.taken_by),
                rename.original
            )?;
        }
        diagnostics::write(err, &root, &problems)?;
        if discovery.is_empty() {
            writeln!(err, "{}", nothing_found(&discovery, &shown))?;
        }
    }
    // A script asking "is there anything to run here?" gets its answer from the exit code,
    // whatever the reason there is nothing.
    Ok(if discovery.is_empty() { exit::FAILURE } else { exit::OK })
}

/// What `brum ls` says on stderr when it finds no script in `shown_root`.
fn nothing_found(d: &Discovery, shown_root: &str) -> String {
    if d.sources.is_empty() {
        format!(
            "no scripts found in {shown_root} (looked for .brum.toml processes, package.json, Procfile, deno.json, \
             composer.json, pyproject.toml, Cargo.toml, go.mod, Makefile, justfile and .vscode/tasks.json)"
        )
    } else {
        format!("no scripts found in {shown_root}")
    }
}

/// `path` relative to `root` when it is inside it (`.` for the root), else as it is.
fn relative(root: &Path, path: &Path) -> String {
    match path.strip_prefix(root) {
        Ok(rel) if rel.as_os_str().is_empty() => ".".to_owned(),
        Ok(rel) => rel.display().to_string(),
        Err(_) => path.display().to_string(),
    }
}

/// The listing on stdout; nothing when no file was found (the caller says so on stderr).
fn write_text(d: &Discovery, out: &mut dyn Write) -> io::Result<()> {
    let count = d.scripts().count();
    if d.sources.is_empty() {
        return Ok(());
    }
    // The package manager is the same for every package.json; it is shown on the first.
    let first_managed = d.sources.iter().position(|r| r.package_manager.is_some());
    for (i, report) in d.sources.iter().enumerate() {
        if i > 0 {
            writeln!(out)?;
        }
        writeln!(out, "{}", header(d, report, first_managed == Some(i)))?;
        if report.scripts.is_empty() {
            writeln!(out, "  (no scripts)")?;
        }
        let rows: Vec<(String, String, String)> =
            report.scripts.iter().map(|s| (s.name.clone(), s.command.to_string(), row_extras(d, report, s))).collect();
        let name_width = rows.iter().map(|r| r.0.chars().count()).max().unwrap_or(0);
        let command_width = rows.iter().filter(|r| !r.2.is_empty()).map(|r| r.1.chars().count()).max().unwrap_or(0);
        for (name, command, extras) in rows {
            let line = if extras.is_empty() {
                format!("  {name:name_width$}  {command}")
            } else {
                format!("  {name:name_width$}  {command:command_width$}  {extras}")
            };
            writeln!(out, "{}", line.trim_end())?;
        }
    }
    let files = d.sources.len();
    writeln!(out, "\n{count} script{} from {files} file{}", plural(count), plural(files))?;
    Ok(())
}

fn plural(n: usize) -> &'static str {
    if n == 1 { "" } else { "s" }
}

/// `package.json (pnpm from pnpm-lock.yaml; pnpm workspace, turbo: 3 packages)`.
fn header(d: &Discovery, report: &SourceReport, show_manager: bool) -> String {
    let mut notes = Vec::new();
    match report.package_manager.as_ref().filter(|_| show_manager) {
        Some(ManagerChoice { manager, reason: ManagerReason::Default }) => notes.push(format!("{manager} by default")),
        Some(ManagerChoice { manager, reason }) => notes.push(format!("{manager} from {reason}")),
        None => {}
    }
    if let Some(ws) = &d.workspace
        && report.file == d.root.join("package.json")
    {
        let tools: Vec<&str> = ws.tools.iter().map(|t| t.name()).collect();
        let n = ws.packages.len();
        notes.push(format!("{}: {n} package{}", tools.join(", "), plural(n)));
    }
    let file = relative(&d.root, &report.file);
    if notes.is_empty() { file } else { format!("{file} ({})", notes.join("; ")) }
}

/// What follows a script's command: its cwd when it is neither the file's directory nor the
/// project root, its environment and restart policy when set, then `# detail`.
fn row_extras(d: &Discovery, report: &SourceReport, s: &Script) -> String {
    let mut parts = Vec::new();
    if Some(s.cwd.as_path()) != report.file.parent() && s.cwd != d.root {
        parts.push(format!("cwd {}", relative(&d.root, &s.cwd)));
    }
    for (k, v) in &s.env {
        parts.push(format!("{k}={v}"));
    }
    if s.restart != Default::default() {
        parts.push(format!("restart {}", s.restart.name()));
    }
    let mut out = if parts.is_empty() { String::new() } else { format!("[{}]", parts.join(", ")) };
    if let Some(detail) = s.detail.as_deref().filter(|d| *d != s.command.to_string()) {
        if !out.is_empty() {
            out.push_str("  ");
        }
        out.push_str(&format!("# {detail}"));
    }
    out
}

/// The `--json` document: discovery's own types, serialized, with paths inside the project
/// made relative to `root` and each script's command also shown as one line (`display`).
#[derive(serde::Serialize)]
struct LsJson<'a> {
    root: String,
    workspace: Option<WorkspaceJson<'a>>,
    sources: Vec<SourceJson<'a>>,
    renames: Vec<RenameJson<'a>>,
    errors: Vec<ErrorJson<'a>>,
}

#[derive(serde::Serialize)]
struct WorkspaceJson<'a> {
    tools: &'a [WorkspaceTool],
    patterns: &'a [String],
    packages: Vec<String>,
}

#[derive(serde::Serialize)]
struct SourceJson<'a> {
    kind: SourceKind,
    file: String,
    package_manager: &'a Option<ManagerChoice>,
    scripts: Vec<ScriptJson<'a>>,
}

#[derive(serde::Serialize)]
struct ScriptJson<'a> {
    name: &'a str,
    source: SourceKind,
    file: String,
    command: &'a Command,
    display: String,
    cwd: String,
    env: std::collections::BTreeMap<&'a str, &'a str>,
    restart: RestartPolicy,
    detail: &'a Option<String>,
}

#[derive(serde::Serialize)]
struct RenameJson<'a> {
    original: &'a str,
    name: &'a str,
    file: String,
    taken_by: String,
}

/// A config or discovery [`Diagnostic`], listed under `errors` whatever its severity.
#[derive(serde::Serialize)]
struct ErrorJson<'a> {
    severity: Severity,
    file: String,
    line: Option<usize>,
    column: Option<usize>,
    message: &'a str,
    hint: &'a Option<String>,
}

fn to_json<'a>(d: &'a Discovery, problems: &'a [Diagnostic]) -> LsJson<'a> {
    let rel = |p: &Path| relative(&d.root, p);
    let script = |s: &'a Script| ScriptJson {
        name: &s.name,
        source: s.source,
        file: rel(&s.file),
        command: &s.command,
        display: s.command.to_string(),
        cwd: rel(&s.cwd),
        env: s.env.iter().map(|(k, v)| (k.as_str(), v.as_str())).collect(),
        restart: s.restart,
        detail: &s.detail,
    };
    LsJson {
        root: d.root.display().to_string(),
        workspace: d.workspace.as_ref().map(|w| WorkspaceJson {
            tools: &w.tools,
            patterns: &w.patterns,
            packages: w.packages.iter().map(|p| p.display().to_string()).collect(),
        }),
        sources: d
            .sources
            .iter()
            .map(|r| SourceJson {
                kind: r.kind,
                file: rel(&r.file),
                package_manager: &r.package_manager,
                scripts: r.scripts.iter().map(script).collect(),
            })
            .collect(),
        renames: d
            .renames
            .iter()
            .map(|r| RenameJson {
                original: &r.original,
                name: &r.name,
                file: rel(&r.file),
                taken_by: rel(&r.taken_by),
            })
            .collect(),
        errors: problems
            .iter()
            .map(|e| ErrorJson {
                severity: e.severity,
                file: rel(&e.file),
                line: e.line,
                column: e.column,
                message: &e.message,
                hint: &e.hint,
            })
            .collect(),
    }
}
