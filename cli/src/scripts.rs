//! Resolving script names given on the command line to runnable scripts, through discovery.

use std::path::Path;

use brum_core::config::Settings;
use brum_core::discovery::{DiscoveryPrefs, discover};
use brum_core::script::Script;

use crate::project_fs::StdFs;
use crate::run_cmd::RunError;

/// The scripts named `names` in the project at `project`, in the order given. Files that
/// could not be read or parsed are reported on stderr; the rest of the project still counts.
pub fn resolve(project: &Path, names: &[String], settings: &Settings) -> Result<Vec<Script>, RunError> {
    if names.is_empty() {
        return Ok(Vec::new());
    }
    let found = discover(&StdFs, project, &DiscoveryPrefs::from_settings(settings));
    let mut scripts = Vec::new();
    for name in names {
        match found.find(name) {
            Ok(s) => scripts.push(s.clone()),
            Err(unknown) => {
                for e in &found.errors {
                    eprintln!("warning: {e}");
                }
                return Err(RunError::UnknownScript { name: unknown.name, suggestions: unknown.suggestions });
            }
        }
    }
    Ok(scripts)
}
