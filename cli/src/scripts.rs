//! Resolving script names given on the command line to runnable scripts.

use std::path::Path;

use brum_core::script::Script;

use crate::run_cmd::RunError;

/// The scripts named `names` in the project at `project`.
pub fn resolve(_project: &Path, names: &[String]) -> Result<Vec<Script>, RunError> {
    match names.first() {
        None => Ok(Vec::new()),
        Some(n) => Err(RunError::UnknownScript { name: n.clone(), suggestions: Vec::new() }),
    }
}
