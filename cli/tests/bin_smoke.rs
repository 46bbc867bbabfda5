//! Smoke test of the built binary. Its presence also makes `cargo test` build the `brum`
//! binary, which brum-tests' end-to-end tests run.

use std::process::Command;

#[test]
fn help_names_the_sim_command() {
    let out = Command::new(env!("CARGO_BIN_EXE_brum")).arg("--help").output().unwrap();
    assert!(out.status.success());
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(text.contains("sim"), "{text}");
    assert!(text.contains("--settings"), "{text}");
}
