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

/// Alive means running or sleeping; a zombie (exited, not yet reaped by its new parent)
/// counts as dead.
pub fn alive(pid: i32) -> bool {
    match std::fs::read_to_string(format!("/proc/{pid}/stat")) {
        Ok(s) => {
            let state = s.rsplit(')').next().and_then(|r| r.split_whitespace().next()).unwrap_or("X");
            state != "Z" && state != "X"
        }
        Err(_) => false,
    }
}

/// Waits (bounded) for `cond`, checking every few milliseconds. Only for conditions no event
/// announces: the death of a process that is not our child, a thread blocked in the kernel.
pub fn eventually(what: &str, limit: std::time::Duration, mut cond: impl FnMut() -> bool) {
    let start = std::time::Instant::now();
    while !cond() {
        assert!(start.elapsed() < limit, "timed out after {limit:?} waiting for {what}");
        std::thread::sleep(std::time::Duration::from_millis(5));
    }
}

/// Sends `sig` to process `pid`; a process already gone is not an error.
pub fn signal(pid: u32, sig: rustix::process::Signal) {
    let pid = rustix::process::Pid::from_raw(pid as i32).expect("a pid is positive");
    let _ = rustix::process::kill_process(pid, sig);
}

/// Reads lines until one contains `marker`; returns them.
pub fn read_until(out: &mut impl std::io::BufRead, marker: &str) -> Vec<String> {
    let mut lines = Vec::new();
    loop {
        let mut l = String::new();
        assert!(out.read_line(&mut l).unwrap() > 0, "closed before `{marker}`: {lines:?}");
        let done = l.contains(marker);
        lines.push(l);
        if done {
            return lines;
        }
    }
}

/// Waits for `child` to exit: woken by its pidfd (an event, no polling), bounded by `limit`,
/// past which the child is killed and the test fails.
pub fn wait_exit(child: &mut std::process::Child, limit: std::time::Duration) -> std::process::ExitStatus {
    use rustix::event::{PollFd, PollFlags, Timespec, poll};
    use rustix::process::{Pid, PidfdFlags, pidfd_open};
    let pid = Pid::from_child(child);
    let fd = pidfd_open(pid, PidfdFlags::empty()).expect("pidfd_open (Linux 5.3 or later)");
    let timeout = Timespec::try_from(limit).expect("a representable limit");
    loop {
        let mut fds = [PollFd::new(&fd, PollFlags::IN)];
        match poll(&mut fds, Some(&timeout)) {
            Ok(0) => {
                let _ = child.kill();
                let _ = child.wait();
                panic!("process {} did not exit within {limit:?}", child.id());
            }
            Ok(_) => return child.wait().expect("the child is reaped"),
            Err(rustix::io::Errno::INTR) => continue,
            Err(e) => panic!("poll on the pidfd failed: {e}"),
        }
    }
}

/// A `.brum.toml`-style script that runs `line` in a shell from the temp directory, never
/// restarted: what the supervisor tests start.
pub fn shell_script(name: &str, line: &str) -> brum_core::script::Script {
    use brum_core::script::{Command, RestartPolicy, Script, SourceKind};
    Script {
        name: name.into(),
        source: SourceKind::BrumToml,
        file: std::path::PathBuf::from(".brum.toml"),
        command: Command::Shell { line: line.into() },
        cwd: std::env::temp_dir(),
        env: Default::default(),
        restart: RestartPolicy::Never,
        detail: None,
    }
}
