//! The instance registry: each running `brum serve` / `brum run --mcp` leaves a file saying
//! where its MCP server is, so a hub (or a person) can find every brum on the machine.
//!
//! Files live in `$XDG_RUNTIME_DIR/brum/instances` (else `/tmp/brum-$UID/instances`), the
//! directory 0700 and each file 0600, one per process, named after its pid. A file whose pid is
//! dead, or whose pid now belongs to another process (its start time differs), is stale: it
//! is skipped and removed when the registry is read.

use std::fs;
use std::io::{self, Write};
use std::os::unix::fs::{DirBuilderExt, OpenOptionsExt, PermissionsExt};
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

/// Instance files read at most: far more brums than anyone runs; a directory with more is
/// not brum's doing, and the rest are left alone (counted in [`Listing::skipped`]).
pub const INSTANCES_MAX: usize = 1024;

/// What an instance file records. Never the token: only where it came from.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Instance {
    pub pid: u32,
    /// The process's start time as the system counts it (clock ticks since boot on Linux),
    /// which tells a live brum from a new process that reused its pid.
    pub start_time: Option<u64>,
    pub project: PathBuf,
    pub mcp_url: String,
    /// How a client gets the token, when one is required (`BRUM_MCP_TOKEN`, `--token`).
    pub token_hint: Option<String>,
}

/// The registry directory: `$XDG_RUNTIME_DIR/brum/instances`, else `/tmp/brum-$UID/instances`.
pub fn dir() -> PathBuf {
    match std::env::var_os("XDG_RUNTIME_DIR").filter(|d| !d.is_empty()) {
        Some(runtime) => PathBuf::from(runtime).join("brum").join("instances"),
        None => std::env::temp_dir().join(format!("brum-{}", rustix::process::getuid().as_raw())).join("instances"),
    }
}

/// This process's start time (see [`Instance::start_time`]).
pub fn own_start_time() -> Option<u64> {
    start_time_of(std::process::id())
}

/// The start time of process `pid`, if it is alive and the system says (field 22 of
/// `/proc/PID/stat` on Linux; `None` elsewhere, where only liveness is checked).
pub fn start_time_of(pid: u32) -> Option<u64> {
    let stat = fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    // The command name (field 2) is in parentheses and may contain spaces: count after it.
    let after_name = &stat[stat.rfind(')')? + 1..];
    after_name.split_whitespace().nth(19)?.parse().ok()
}

fn alive(pid: u32) -> bool {
    let Some(pid) = rustix::process::Pid::from_raw(pid as i32) else { return false };
    match rustix::process::test_kill_process(pid) {
        Ok(()) => true,
        // Alive, but another user's.
        Err(e) => e == rustix::io::Errno::PERM,
    }
}

/// What the system says about a pid now: alive, and since when.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Probe {
    pub alive: bool,
    pub start_time: Option<u64>,
}

/// The real probe of `pid`.
pub fn probe(pid: u32) -> Probe {
    Probe { alive: alive(pid), start_time: start_time_of(pid) }
}

/// Whether `inst` still describes a running process, given what the system says of its pid.
pub fn is_live(inst: &Instance, now: Probe) -> bool {
    if !now.alive {
        return false;
    }
    match (inst.start_time, now.start_time) {
        (Some(recorded), Some(current)) => recorded == current,
        // Where start times are unknown, a live pid is all there is to go on.
        _ => true,
    }
}

/// A registered instance: its file is removed when this is dropped.
#[derive(Debug)]
pub struct Registration {
    path: PathBuf,
}

impl Registration {
    pub fn path(&self) -> &Path {
        &self.path
    }
}

impl Drop for Registration {
    fn drop(&mut self) {
        let _ = fs::remove_file(&self.path);
    }
}

/// Writes `inst`'s file into `dir` (created 0700 if missing), 0600, atomically (a reader never
/// sees half a file).
pub fn register(dir: &Path, inst: &Instance) -> io::Result<Registration> {
    fs::DirBuilder::new().recursive(true).mode(0o700).create(dir)?;
    // An existing directory keeps its mode; make sure nobody else can read it.
    fs::set_permissions(dir, fs::Permissions::from_mode(0o700))?;
    let path = dir.join(format!("{}.json", inst.pid));
    let tmp = dir.join(format!(".{}.json.tmp", inst.pid));
    {
        let mut f = fs::OpenOptions::new().write(true).create(true).truncate(true).mode(0o600).open(&tmp)?;
        let text = serde_json::to_string_pretty(inst).map_err(io::Error::other)?;
        f.write_all(text.as_bytes())?;
        f.write_all(b"\n")?;
    }
    fs::rename(&tmp, &path)?;
    Ok(Registration { path })
}

/// What reading the registry found.
#[derive(Debug, Default)]
pub struct Listing {
    /// Live instances, by pid.
    pub live: Vec<Instance>,
    /// Stale or unreadable files removed.
    pub removed: usize,
    /// Files not looked at ([`INSTANCES_MAX`]).
    pub skipped: usize,
}

/// The live instances in `dir`; stale files are removed. `probe` says what the system knows
/// of a pid ([`probe`] for the real one).
pub fn list(dir: &Path, probe: impl Fn(u32) -> Probe) -> Listing {
    let mut listing = Listing::default();
    let Ok(entries) = fs::read_dir(dir) else { return listing };
    let mut paths: Vec<PathBuf> = entries
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| p.extension().is_some_and(|x| x == "json"))
        .collect();
    paths.sort();
    if paths.len() > INSTANCES_MAX {
        listing.skipped = paths.len() - INSTANCES_MAX;
        paths.truncate(INSTANCES_MAX);
    }
    for path in paths {
        let parsed = fs::read_to_string(&path).ok().and_then(|t| serde_json::from_str::<Instance>(&t).ok());
        match parsed {
            Some(inst) if is_live(&inst, probe(inst.pid)) => listing.live.push(inst),
            _ => {
                if fs::remove_file(&path).is_ok() {
                    listing.removed += 1;
                }
            }
        }
    }
    listing.live.sort_by_key(|i| i.pid);
    listing
}

#[cfg(test)]
mod tests {
    use super::*;

    fn inst(pid: u32, start: Option<u64>) -> Instance {
        Instance {
            pid,
            start_time: start,
            project: PathBuf::from("/p"),
            mcp_url: "http://127.0.0.1:7777/mcp".into(),
            token_hint: None,
        }
    }

    #[test]
    fn a_dead_pid_is_stale() {
        assert!(!is_live(&inst(42, Some(100)), Probe { alive: false, start_time: None }));
    }

    #[test]
    fn a_reused_pid_with_another_start_time_is_stale() {
        assert!(!is_live(&inst(42, Some(100)), Probe { alive: true, start_time: Some(200) }));
        assert!(is_live(&inst(42, Some(100)), Probe { alive: true, start_time: Some(100) }));
    }

    #[test]
    fn without_start_times_a_live_pid_counts() {
        assert!(is_live(&inst(42, None), Probe { alive: true, start_time: Some(5) }));
        assert!(is_live(&inst(42, Some(5)), Probe { alive: true, start_time: None }));
    }

    #[test]
    fn this_process_is_live_and_has_a_start_time_on_linux() {
        let me = Instance { start_time: own_start_time(), ..inst(std::process::id(), None) };
        assert!(is_live(&me, probe(me.pid)));
        if cfg!(target_os = "linux") {
            assert!(me.start_time.is_some());
        }
    }

    #[test]
    fn listing_keeps_live_files_removes_stale_ones_and_dropping_unregisters() {
        let tmp = tempfile::tempdir().expect("temp dir");
        let dir = tmp.path().join("instances");
        let live = register(&dir, &inst(10, Some(1))).expect("register");
        let _dead = register(&dir, &inst(11, Some(1))).expect("register");
        let _reused = register(&dir, &inst(12, Some(1))).expect("register");
        fs::write(dir.join("13.json"), "not json").expect("write");
        let mode = |p: &Path| fs::metadata(p).expect("metadata").permissions().mode() & 0o777;
        assert_eq!(mode(&dir), 0o700);
        assert_eq!(mode(live.path()), 0o600);
        let listing = list(&dir, |pid| match pid {
            10 => Probe { alive: true, start_time: Some(1) },
            12 => Probe { alive: true, start_time: Some(2) },
            _ => Probe { alive: false, start_time: None },
        });
        assert_eq!(listing.live.iter().map(|i| i.pid).collect::<Vec<_>>(), [10]);
        assert_eq!(listing.removed, 3);
        let path = live.path().to_path_buf();
        drop(live);
        assert!(!path.exists());
    }
}
