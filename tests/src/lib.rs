//! Helpers for brum's end-to-end tests.

use std::path::PathBuf;
use std::process::{Command, Output};

/// The `brum` binary built alongside these tests (`cargo test --workspace` builds it: the cli
/// package has an integration test, which makes cargo build its binary).
pub fn brum_bin() -> PathBuf {
    let exe = std::env::current_exe().expect("test executable path");
    let dir = exe.parent().and_then(|d| d.parent()).expect("target/<profile>/deps");
    let bin = dir.join("brum");
    assert!(bin.exists(), "{} not found: run `cargo build -p brum` (or `cargo test --workspace`)", bin.display());
    bin
}

/// Runs `brum` with `args` in a clean environment (no CI-specific behaviour, no colour).
pub fn brum(args: &[&str]) -> Output {
    Command::new(brum_bin()).args(args).env("NO_COLOR", "1").output().expect("brum runs")
}

pub fn stdout(o: &Output) -> String {
    String::from_utf8_lossy(&o.stdout).into_owned()
}

pub fn stderr(o: &Output) -> String {
    String::from_utf8_lossy(&o.stderr).into_owned()
}
