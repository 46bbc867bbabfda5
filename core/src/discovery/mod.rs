//! Discovery: every runnable script of a project, from package.json (with its package manager
//! and workspaces), Cargo, Go, make, just, Procfile, Deno, pyproject, composer, VS Code tasks and
//! `.brum.toml` processes.
//!
//! Pure: [`discover`] reads through a [`ProjectFs`] (the CLI passes `std::fs`, tests pass
//! [`MemFs`]) and returns a [`Discovery`]: one [`SourceReport`] per file with its
//! [`Script`](crate::script::Script)s, and a [`Diagnostic`](crate::diagnostic::Diagnostic)
//! (file, line, column) for each malformed file, without stopping at the first. docs/design/discovery.md describes every
//! source, the naming rules and the package-manager detection order.

mod brum_toml;
mod cargo;
mod composer;
mod cx;
mod deno;
mod discover;
mod fs;
mod glob;
mod go;
mod json;
mod just;
mod make;
mod model;
mod names;
mod node;
mod procfile;
mod python;
mod suggest;
#[cfg(test)]
mod tests;
mod text;
mod toml;
mod vscode;
mod yaml;

pub use discover::discover;
pub use fs::{DirEntry, MemFs, ProjectFs};
pub use glob::{GLOB_DEPTH_MAX, GLOB_DIRS_MAX};
pub use json::JSON_DEPTH_MAX;
pub use model::{
    Discovery, DiscoveryPrefs, ManagerChoice, ManagerReason, PackageManager, Rename, SourceReport, UnknownScript,
    Workspace, WorkspaceTool,
};
pub use names::qualifier;
pub use node::{LOCKFILES, WORKSPACE_PACKAGES_MAX};
pub use suggest::{SUGGESTIONS_MAX, suggest_script};
