//! No orphans, even when brum is SIGKILLed: a small guardian process, started by brum in its
//! own process group, that holds one end of a Unix socket pair as its stdin. Every child
//! writes `+PGID` on the other end itself, between fork and exec (so it is known before it
//! can run any user code, whatever happens to brum meanwhile); brum writes `-PGID` when the
//! group is finished with. When the socket reaches EOF (brum exited for any reason, SIGKILL
//! included, and no child is between fork and exec), the guardian sends SIGTERM to every
//! group still recorded, waits up to the grace period, then SIGKILLs what is left,
//! grandchildren that ignore SIGTERM included. `PR_SET_PDEATHSIG` alone would reach only
//! direct children. A socket rather than a pipe: a child's write uses `MSG_NOSIGNAL`, so a
//! guardian that died cannot kill the child with SIGPIPE before it runs.
//!
//! Known limit: a process that leaves its group (`setsid`, a double-forked daemon) is out of
//! reach of group signals, here as in every group-based supervisor.

use std::collections::BTreeSet;
use std::io::{BufRead, Write};
use std::os::unix::net::UnixStream;
use std::process::{Child, Command, Stdio};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

/// How often the guardian checks whether a group is gone during the grace period: short
/// enough that cleanup ends soon after the last member, cheap (one `kill(-pgid, 0)` per group).
const POLL: Duration = Duration::from_millis(20);

/// brum's side: the socket to the guardian.
#[derive(Debug)]
pub struct Guardian {
    channel: Mutex<Option<Arc<UnixStream>>>,
    child: Mutex<Child>,
}

impl Guardian {
    /// Starts `<this executable> __guardian <grace_ms>` in a new process group, so a Ctrl-C
    /// meant for brum's group does not reach it.
    pub fn spawn(grace: Duration) -> std::io::Result<Guardian> {
        use std::os::unix::process::CommandExt;
        let exe = std::env::current_exe()?;
        let (ours, theirs) = UnixStream::pair()?;
        let child = Command::new(exe)
            .arg("__guardian")
            .arg(grace.as_millis().to_string())
            .stdin(Stdio::from(std::os::fd::OwnedFd::from(theirs)))
            .stdout(Stdio::null())
            .stderr(Stdio::inherit())
            .process_group(0)
            .spawn()?;
        Ok(Guardian { channel: Mutex::new(Some(Arc::new(ours))), child: Mutex::new(child) })
    }

    /// The socket children register on (see [`register_self`]); `None` once the guardian is
    /// gone.
    pub fn channel(&self) -> Option<Arc<UnixStream>> {
        self.channel.lock().unwrap_or_else(|e| e.into_inner()).clone()
    }

    fn send(&self, line: &str) {
        let mut channel = self.channel.lock().unwrap_or_else(|e| e.into_inner());
        if let Some(c) = channel.as_ref() {
            // A guardian that died cannot be helped; the children are still supervised by
            // brum itself while it lives.
            if (&**c).write_all(line.as_bytes()).is_err() {
                tracing::warn!("the orphan guardian is gone; children will not be cleaned up if brum is killed");
                *channel = None;
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
        // EOF tells the guardian to clean up whatever is still recorded and exit. Shut the
        // socket down rather than only dropping our handle, so a stray clone cannot hold it.
        if let Some(c) = self.channel.lock().unwrap_or_else(|e| e.into_inner()).take() {
            let _ = c.shutdown(std::net::Shutdown::Write);
        }
        let _ = self.child.lock().unwrap_or_else(|e| e.into_inner()).wait();
    }
}

/// Called in a freshly forked child, before exec: writes `+<own pid>` (its process group,
/// since it leads a new group) to the guardian. Async-signal-safe: `getpid`, digits into a
/// stack buffer, one `send` with `MSG_NOSIGNAL` (at most 12 bytes, so it is atomic and never
/// interleaves with brum's own lines). Failures are ignored: brum still supervises the child.
pub fn register_self(channel: &UnixStream) {
    let pid = rustix::process::getpid().as_raw_nonzero().get().unsigned_abs();
    let mut buf = [0u8; 12];
    let mut digits = [0u8; 10];
    let (mut n, mut v) = (0, pid);
    loop {
        digits[n] = b'0' + (v % 10) as u8;
        n += 1;
        v /= 10;
        if v == 0 {
            break;
        }
    }
    buf[0] = b'+';
    for i in 0..n {
        buf[1 + i] = digits[n - 1 - i];
    }
    buf[n + 1] = b'\n';
    let _ = rustix::net::send(channel, &buf[..n + 2], rustix::net::SendFlags::NOSIGNAL);
}

fn group_alive(pgid: u32) -> bool {
    crate::rt::group_alive(pgid)
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
                // Forget groups that are gone (a spawn that failed after registering, a group
                // emptied by its members' own exits), so a reused pgid is never signalled.
                // Gone, not merely without live members: a group of zombies keeps its number,
                // and a liveness check can be wrong for a moment (see `rt::group_alive`) while
                // the group's leader starts `cmd &` and exits, which would lose the group.
                // Bounded work: brum tracks at most its live groups.
                groups.retain(|&g| crate::rt::group_exists(g));
                groups.insert(pgid);
            }
            "-" => {
                groups.remove(&pgid);
            }
            _ => {}
        }
    }
    // The socket closed: brum is gone (or done). Terminate, wait, kill.
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
