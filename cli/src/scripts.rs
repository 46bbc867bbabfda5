//! Resolving script names given on the command line to runnable scripts, through discovery.

use std::path::Path;

use brum_core::config::Settings;
use brum_core::discovery::{DiscoveryPrefs, discover};
use brum_core::script::Script;

use crate::diagnostics;
use crate::errors::CliError;
use crate::project_fs::StdFs;

/// The scripts named `names` in the project at `project`, in the order given. When a name is
/// unknown, the problems discovery found (a malformed file may be why) are printed on stderr
/// before the error is returned.
pub fn resolve(project: &Path, names: &[String], settings: &Settings) -> Result<Vec<Script>, CliError> {
    if names.is_empty() {
        return Ok(Vec::new());
    }
    let found = discover(&StdFs, project, &DiscoveryPrefs::from_settings(settings));
    let mut scripts = Vec::new();
    for name in names {
        match found.find(name) {
            Ok(s) => scripts.push(s.clone()),
            Err(unknown) => {
                for d in &found.diagnostics {
                    crate::output::stderr_line(&diagnostics::line(project, d));
                }
                return Err(CliError::UnknownScript(unknown));
            }
        }
    }
    Ok(scripts)
}
