//! Checks that keep core honest, run as tests so CI cannot skip them.

use std::path::{Path, PathBuf};
use std::process::Command;

fn repo() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).parent().unwrap().to_path_buf()
}

fn rust_files(dir: &Path, out: &mut Vec<PathBuf>) {
    for e in std::fs::read_dir(dir).unwrap() {
        let p = e.unwrap().path();
        if p.is_dir() {
            rust_files(&p, out);
        } else if p.extension().is_some_and(|x| x == "rs") {
            out.push(p);
        }
    }
}

/// An unbiased `select!` picks a branch at random: a simulation would not replay.
#[test]
fn every_select_is_biased() {
    let mut files = Vec::new();
    for d in ["core/src", "sim/src", "cli/src"] {
        rust_files(&repo().join(d), &mut files);
    }
    let mut offenders = Vec::new();
    let mut seen = 0;
    for f in &files {
        let text = std::fs::read_to_string(f).unwrap();
        let lines: Vec<&str> = text.lines().collect();
        for (i, l) in lines.iter().enumerate() {
            if l.contains("select! {") && !l.trim_start().starts_with("//") {
                seen += 1;
                let next = lines.get(i + 1).map(|n| n.trim()).unwrap_or("");
                if next != "biased;" {
                    offenders.push(format!("{}:{}", f.display(), i + 1));
                }
            }
        }
    }
    assert!(seen > 0, "found no select! at all: the scan is broken");
    assert!(offenders.is_empty(), "select! without `biased;` first: {offenders:?}");
}

/// core/clippy.toml's bans fire: clippy with core's configuration rejects a crate that does
/// everything they forbid, naming each banned path.
#[test]
fn core_clippy_bans_fire() {
    let repo = repo();
    let out = Command::new(env!("CARGO"))
        .args(["clippy", "--quiet", "--manifest-path"])
        .arg(repo.join("tests/fixtures/ban-probe/Cargo.toml"))
        .args(["--", "-D", "warnings"])
        .env("CLIPPY_CONF_DIR", repo.join("core"))
        .env("CARGO_TARGET_DIR", repo.join("target/ban-probe"))
        .output()
        .expect("cargo clippy runs");
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(!out.status.success(), "clippy accepted the probe:\n{err}");
    for banned in [
        "std::time::Instant::now",
        "std::time::SystemTime::now",
        "std::thread::spawn",
        "std::thread::sleep",
        "std::process::Command::new",
        "std::collections::HashMap",
        "std::collections::HashSet",
        "tokio::task::spawn",
        "tokio::time::sleep",
        "tokio::net::TcpListener",
        "tokio::process::Command",
        "tokio::net::lookup_host",
        "std::net::ToSocketAddrs::to_socket_addrs",
        "std::net::TcpStream",
    ] {
        assert!(err.contains(&format!("`{banned}`")), "the ban on `{banned}` did not fire:\n{err}");
    }
}
