//! No orphans, even when brum is SIGKILLed: a small guardian process, started by brum in its
//! own process group, that holds the read end of a pipe from brum. brum writes `+PGID` when it
//! starts a child group and `-PGID` when the group is finished with. When the pipe closes
//! (brum exited for any reason, SIGKILL included), the guardian sends SIGTERM to every group
//! still recorded, waits up to the grace period, then SIGKILLs what is left, grandchildren that
//! ignore SIGTERM included. `PR_SET_PDEATHSIG` alone would reach only direct children.

use std::collections::BTreeSet;
use std::io::{BufRead, Write};
use std::process::{Child, ChildStdin, Command, Stdio};
use std::sync::Mutex;
use std::time::{Duration, Instant};

/// How often the guardian checks whether a group is gone during the grace period: short
/// enough that cleanup ends soon after the last member, cheap (one `kill(-pgid, 0)` per group).
const POLL: Duration = Duration::from_millis(20);

/// brum's side: the pipe to the guardian.
#[derive(Debug)]
pub struct Guardian {
    pipe: Mutex<Option<ChildStdin>>,
    child: Mutex<Child>,
}

impl Guardian {
    /// Starts `<this executable> __guardian <grace_ms>` in a new process group, so a Ctrl-C
    /// meant for brum's group does not reach it.
    pub fn spawn(grace: Duration) -> std::io::Result<Guardian> {
        use std::os::unix::process::CommandExt;
        let exe = std::env::current_exe()?;
        let mut child = Command::new(exe)
            .arg("__guardian")
            .arg(grace.as_millis().to_string())
            .stdin(Stdio::piped())
            .stdout(Stdio::null())
            .stderr(Stdio::inherit())
            .process_group(0)
            .spawn()?;
        let pipe = child.stdin.take();
        Ok(Guardian { pipe: Mutex::new(pipe), child: Mutex::new(child) })
    }

    fn send(&self, line: &str) {
        let mut pipe = self.pipe.lock().unwrap_or_else(|e| e.into_inner());
        if let Some(p) = pipe.as_mut() {
            // A guardian that died cannot be helped; the children are still supervised by
            // brum itself while it lives.
            if p.write_all(line.as_bytes()).and_then(|_| p.flush()).is_err() {
                tracing::warn!("the orphan guardian is gone; children will not be cleaned up if brum is killed");
                *pipe = None;
            }
        }
    }

    pub fn track(&self, pgid: u32) {
        self.send(&format!("+{pgid}\n"));
    }

    pub fn release(&self, pgid: u32) {
        self.send(&format!("-{pgid}\n"));
    }

    /// The guardian's pid (for tests).
    pub fn pid(&self) -> u32 {
        self.child.lock().unwrap_or_else(|e| e.into_inner()).id()
    }
}

impl Drop for Guardian {
    fn drop(&mut self) {
        // Closing the pipe tells the guardian to clean up whatever is still recorded and exit.
        self.pipe.lock().unwrap_or_else(|e| e.into_inner()).take();
        let _ = self.child.lock().unwrap_or_else(|e| e.into_inner()).wait();
    }
}

fn group_alive(pgid: u32) -> bool {
    let Some(pid) = i32::try_from(pgid).ok().and_then(rustix::process::Pid::from_raw) else { return false };
    rustix::process::test_kill_process_group(pid).is_ok()
}

/// The guardian process's main loop; returns its exit code.
pub fn run(grace: Duration) -> i32 {
    let mut groups = BTreeSet::new();
    let stdin = std::io::stdin();
    for line in stdin.lock().lines() {
        let Ok(line) = line else { break };
        let (op, n) = line.split_at(line.len().min(1));
        let Ok(pgid) = n.trim().parse::<u32>() else { continue };
        match op {
            "+" => {
                groups.insert(pgid);
            }
            "-" => {
                groups.remove(&pgid);
            }
            _ => {}
        }
    }
    // The pipe closed: brum is gone (or done). Terminate, wait, kill.
    for &g in &groups {
        let _ = crate::rt::signal_group(g, brum_core::rt::Signal::Terminate);
    }
    let deadline = Instant::now() + grace;
    while groups.iter().any(|&g| group_alive(g)) && Instant::now() < deadline {
        std::thread::sleep(POLL);
    }
    for &g in &groups {
        if group_alive(g) {
            let _ = crate::rt::signal_group(g, brum_core::rt::Signal::Kill);
        }
    }
    0
}
