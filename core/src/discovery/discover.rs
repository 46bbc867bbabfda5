//! [`discover`]: every source, in precedence order.

use std::path::Path;

use super::cx::Cx;
use super::fs::ProjectFs;
use super::model::{Discovery, DiscoveryPrefs, PackageManager};
use super::{brum_toml, cargo, composer, deno, go, just, make, names, node, procfile, python, vscode};

/// Finds every script of the project at `root`.
///
/// Sources are read in this order, which is also their precedence when two scripts want the
/// same name (the earlier keeps it; a later one is renamed with its [`qualifier`](super::qualifier)):
///
/// 1. `[processes.NAME]` of `.brum.toml` (from `prefs`), by name;
/// 2. the root package.json, then each workspace package (path order): its package.json, then
///    its nx project.json;
/// 3. Procfile;
/// 4. deno.json / deno.jsonc, composer.json, pyproject.toml, Cargo.toml, go.mod, the makefile,
///    the justfile, .vscode/tasks.json (their scripts carry a prefix, so they rarely collide).
///
/// A file that is absent is skipped; a file that is malformed adds an error
/// [`Diagnostic`](crate::diagnostic::Diagnostic) naming its position, and the other files are
/// still read. Never panics on file contents.
/// Deterministic: the result depends only on the files, not on listing order.
pub fn discover(fs: &dyn ProjectFs, root: &Path, prefs: &DiscoveryPrefs) -> Discovery {
    let mut cx = Cx::new(fs, root, prefs);
    match fs.read_dir(root) {
        Ok(entries) => cx.root_files = entries.into_iter().filter(|e| !e.is_dir).map(|e| e.name).collect(),
        Err(e) => cx.error(root, None, format!("cannot list the project directory: {e}")),
    }
    let mut sources = brum_toml::discover(&cx);
    let (node, workspace) = node::discover(&mut cx);
    let manager = node.iter().find_map(|r| r.package_manager.as_ref()).map_or(PackageManager::Npm, |c| c.manager);
    sources.extend(node);
    sources.extend(procfile::discover(&mut cx));
    sources.extend(deno::discover(&mut cx));
    sources.extend(composer::discover(&mut cx));
    sources.extend(python::discover(&mut cx));
    sources.extend(cargo::discover(&mut cx));
    sources.extend(go::discover(&mut cx));
    sources.extend(make::discover(&mut cx));
    sources.extend(just::discover(&mut cx));
    sources.extend(vscode::discover(&mut cx, manager));
    let renames = names::resolve(&mut sources);
    Discovery { root: root.to_path_buf(), sources, diagnostics: cx.diagnostics, workspace, renames }
}
