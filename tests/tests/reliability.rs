//! `brum run` tried the way people and agents use it, adversarially: readers that stall or
//! go away, signals at random moments during startup, scripts that leave processes behind,
//! bad names and arguments. Each test is named after the bug it pins (issue 6) and runs the
//! real binary with real children and real signals.

use std::io::{BufRead, BufReader, Read};
use std::os::unix::process::ExitStatusExt;
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::Duration;

use brum_tests::{alive, brum_bin, eventually, read_until, signal, wait_exit};
use rustix::process::Signal;

/// Failure bound for "brum stops": far above what a stop takes (a few hundred milliseconds),
/// far below "never" (the bugs these tests pin hang for ever).
const STOP_LIMIT: Duration = Duration::from_secs(20);

/// A project directory with a short stop grace, plus `extra` config lines.
fn project(extra: &str) -> tempfile::TempDir {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join(".brum.toml"), format!("[concurrency]\nprocess_stop_grace_ms = 500\n{extra}"))
        .unwrap();
    dir
}

fn brum_cmd(dir: &Path, args: &[&str]) -> Command {
    let mut c = Command::new(brum_bin());
    c.arg("-C").arg(dir).arg("run").args(args).env("HOME", dir).env("NO_COLOR", "1").current_dir(dir);
    c
}

fn spawn(dir: &Path, args: &[&str]) -> Child {
    brum_cmd(dir, args).stdin(Stdio::null()).stdout(Stdio::piped()).stderr(Stdio::piped()).spawn().unwrap()
}

/// Watches `pids` for their ends: a pidfd each, opened while they run (so a reused pid is
/// never mistaken for one of them), readable once its process has ended.
fn watch_ends(pids: &[i32]) -> Vec<(i32, rustix::fd::OwnedFd)> {
    use rustix::process::{Pid, PidfdFlags, pidfd_open};
    pids.iter().filter_map(|&pid| Some((pid, pidfd_open(Pid::from_raw(pid)?, PidfdFlags::empty()).ok()?))).collect()
}

/// Waits on the pidfds of [`watch_ends`] until every process has ended, or until none ends
/// for `limit`; returns the pids still alive.
fn still_alive_after(watched: &[(i32, rustix::fd::OwnedFd)], limit: Duration) -> Vec<i32> {
    use rustix::event::{PollFd, PollFlags, Timespec, poll};
    let limit = Timespec::try_from(limit).expect("a limit poll takes");
    let mut waiting: Vec<&(i32, rustix::fd::OwnedFd)> = watched.iter().collect();
    while !waiting.is_empty() {
        let mut fds: Vec<PollFd<'_>> = waiting.iter().map(|(_, fd)| PollFd::new(fd, PollFlags::IN)).collect();
        match poll(&mut fds, Some(&limit)) {
            Ok(0) => break,
            Ok(_) => {
                let ended: Vec<bool> = fds.iter().map(|f| !f.revents().is_empty()).collect();
                let mut ended = ended.into_iter();
                waiting.retain(|_| !ended.next().unwrap_or(false));
            }
            Err(rustix::io::Errno::INTR) => {}
            Err(e) => panic!("poll on pidfds: {e}"),
        }
    }
    watched.iter().map(|(pid, _)| *pid).filter(|&pid| alive(pid)).collect()
}

/// Live processes whose command line contains `marker`.
fn processes_with(marker: &str) -> Vec<i32> {
    let mut pids = Vec::new();
    for entry in std::fs::read_dir("/proc").unwrap().flatten() {
        let Some(pid) = entry.file_name().to_str().and_then(|n| n.parse::<i32>().ok()) else { continue };
        let Ok(cmdline) = std::fs::read(format!("/proc/{pid}/cmdline")) else { continue };
        // Not brum itself, whose own command line quotes the scripts.
        let cmdline = String::from_utf8_lossy(&cmdline);
        let program = cmdline.split('\0').next().unwrap_or("");
        if cmdline.contains(marker) && !program.ends_with("brum") && alive(pid) {
            pids.push(pid);
        }
    }
    pids
}

/// Kills what a failed test left behind, so one failure does not leak into the next.
fn cleanup(marker: &str) {
    for pid in processes_with(marker) {
        signal(pid as u32, Signal::KILL);
    }
}

/// A marker unique to this test run, for `sleep` arguments: `sleep 1000.<marker>`.
fn marker(test: u32) -> String {
    format!("{}{:03}", std::process::id() % 100_000, test)
}

/// Whether brum's stdout writer thread is blocked writing to a full pipe: the reader has
/// stalled, as far as brum can tell.
fn writer_blocked(brum: u32) -> bool {
    let Ok(tasks) = std::fs::read_dir(format!("/proc/{brum}/task")) else { return false };
    tasks.flatten().any(|t| {
        let comm = std::fs::read_to_string(t.path().join("comm")).unwrap_or_default();
        let wchan = std::fs::read_to_string(t.path().join("wchan")).unwrap_or_default();
        comm.trim() == "brum-stdout" && wchan.contains("pipe_write")
    })
}

/// Item 1: brum's stdout is a pipe nobody reads (an agent's `Popen(stdout=PIPE)` that
/// stopped reading). SIGINT and SIGTERM must still stop brum and its children.
#[test]
fn stalled_reader_does_not_block_sigint_or_sigterm() {
    for (sig, code) in [(Signal::INT, 130), (Signal::TERM, 143)] {
        let dir = project("");
        let mut child = spawn(dir.path(), &["-c", "x=echo $$ > yes.pid; exec yes"]);
        let out = child.stdout.take().unwrap();
        // Stalled: the pipe to us is full (64 KiB) and we never read it.
        eventually("brum's writer to block on the full pipe", STOP_LIMIT, || writer_blocked(child.id()));
        eventually("yes to start", STOP_LIMIT, || dir.path().join("yes.pid").exists());
        let yes: i32 = std::fs::read_to_string(dir.path().join("yes.pid")).unwrap().trim().parse().unwrap();
        signal(child.id(), sig);
        let status = wait_exit(&mut child, STOP_LIMIT);
        assert_eq!(status.code(), Some(code), "{sig:?}: brum should exit through its handler: {status:?}");
        assert!(!alive(yes), "{sig:?}: `yes` ({yes}) outlived brum");
        let mut err = String::new();
        child.stderr.take().unwrap().read_to_string(&mut err).unwrap();
        assert!(err.contains("stdout was not being read"), "{err}");
        drop(out);
    }
}

/// Item 1, the flood: four producers, a consumer slower than them that then stops reading;
/// SIGTERM still stops everything, and what was read arrived whole and in order.
#[test]
fn slow_consumer_that_stops_reading_still_lets_sigterm_stop_everything() {
    let dir = project("");
    let mut child = spawn(
        dir.path(),
        &["-c", "a=seq 1 50000000", "-c", "b=seq 1 50000000", "-c", "c=seq 1 50000000", "-c", "d=seq 1 50000000"],
    );
    let mut out = BufReader::with_capacity(512, child.stdout.take().unwrap());
    let mut next = std::collections::BTreeMap::<String, u64>::new();
    // Slow: small reads, line by line, for 200,000 lines (the producers print millions).
    for _ in 0..200_000 {
        let mut l = String::new();
        assert!(out.read_line(&mut l).unwrap() > 0);
        let (name, n) = l.trim_end().split_once(" | ").unwrap();
        let n: u64 = n.parse().unwrap();
        let expect = next.entry(name.to_string()).or_insert(1);
        assert_eq!(n, *expect, "{name}: line {n} after {}", *expect - 1);
        *expect += 1;
    }
    // Now stop reading altogether.
    eventually("brum's writer to block on the full pipe", STOP_LIMIT, || writer_blocked(child.id()));
    signal(child.id(), Signal::TERM);
    let status = wait_exit(&mut child, STOP_LIMIT);
    assert!(processes_with("seq 1 50000000").is_empty(), "a producer outlived brum");
    assert_eq!(status.code(), Some(143));
}

/// Item 2: a signal at a random moment while brum starts 100 scripts. Whatever the moment,
/// no script's process survives brum, and SIGINT/SIGTERM end brum through its handler once
/// it got far enough to start anything. Seeded, so a failing trial can be replayed.
#[test]
fn signal_during_startup_leaves_no_process_behind() {
    let seed: u64 = std::env::var("BRUM_TRIAL_SEED").ok().and_then(|s| s.parse().ok()).unwrap_or(0x5eed);
    let mut rng = brum_core::rt::SeededRng::new(seed);
    let dir = project("");
    let m = marker(2);
    let scripts: Vec<String> = (0..100).map(|i| format!("s{i}=exec sleep 1000.{m}{i:03}")).collect();
    let mut args: Vec<&str> = Vec::new();
    for s in &scripts {
        args.extend(["-c", s]);
    }
    let (mut by_handler, mut by_default, mut killed) = (0, 0, 0);
    for trial in 0..30 {
        let sig = [Signal::TERM, Signal::INT, Signal::KILL][trial % 3];
        let delay = Duration::from_micros(rng.below(40_000));
        let mut child = brum_cmd(dir.path(), &args).stdout(Stdio::null()).stderr(Stdio::null()).spawn().unwrap();
        std::thread::sleep(delay); // the random moment: this sleep is the test's input, not a wait
        signal(child.id(), sig);
        let status = wait_exit(&mut child, STOP_LIMIT);
        match (sig, status.signal()) {
            (Signal::KILL, _) => killed += 1,
            (_, None) => by_handler += 1,
            (_, Some(_)) => by_default += 1,
        }
        // SIGKILL: the guardian cleans up after brum, so give it its grace. Otherwise brum
        // exits only once everything is stopped.
        if sig == Signal::KILL {
            eventually(&format!("trial {trial} (seed {seed}): the guardian to clean up"), STOP_LIMIT, || {
                processes_with(&format!("1000.{m}")).is_empty()
            });
        } else {
            let left = processes_with(&format!("1000.{m}"));
            cleanup(&format!("1000.{m}"));
            assert!(
                left.is_empty(),
                "trial {trial} (seed {seed}, {sig:?} after {delay:?}): {} processes outlived brum ({status:?})",
                left.len()
            );
        }
    }
    eprintln!(
        "30 trials (seed {seed}): {by_handler} ended by brum's handler, {by_default} by the default action before \
         the handlers were installed (nothing spawned yet), {killed} SIGKILLed; 0 processes left"
    );
    assert!(by_handler > 0, "no trial reached brum's signal handler");
}

/// Item 2: a SIGINT the shell passed down as ignored (`trap '' INT`, a background job) and
/// sent while brum is still starting its scripts is handled, not lost: brum stops.
#[test]
fn sigint_inherited_as_ignored_still_stops_brum() {
    let dir = project("");
    let m = marker(3);
    // The first script says when startup is under way; 199 more keep brum starting.
    let mut scripts = vec![format!("s0=echo ready; exec sleep 1000.{m}000")];
    scripts.extend((1..200).map(|i| format!("s{i}=exec sleep 1000.{m}{i:03}")));
    let quoted: Vec<String> = scripts.iter().map(|s| format!("-c '{s}'")).collect();
    let line =
        format!("trap '' INT; exec '{}' -C '{}' run {}", brum_bin().display(), dir.path().display(), quoted.join(" "));
    let mut child = Command::new("sh")
        .args(["-c", &line])
        .env("HOME", dir.path())
        .env("NO_COLOR", "1")
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let mut out = BufReader::new(child.stdout.take().unwrap());
    read_until(&mut out, "ready");
    signal(child.id(), Signal::INT);
    let status = wait_exit(&mut child, STOP_LIMIT);
    let left = processes_with(&format!("1000.{m}"));
    cleanup(&format!("1000.{m}"));
    assert_eq!(status.code(), Some(130), "{status:?}");
    assert!(left.is_empty(), "{} processes outlived brum", left.len());
}

/// Item 3: `brum run -c 'y=yes' | head -1` ends, quietly, with `yes` stopped.
#[test]
fn broken_pipe_stops_brum_quietly() {
    let dir = project("");
    let mut child = spawn(dir.path(), &["-c", "y=echo $$ > y.pid; exec yes"]);
    let mut out = BufReader::new(child.stdout.take().unwrap());
    let mut first = String::new();
    out.read_line(&mut first).unwrap();
    assert_eq!(first, "y | y\n");
    drop(out); // what `head -1` does after its line
    let status = wait_exit(&mut child, STOP_LIMIT);
    let mut err = String::new();
    child.stderr.take().unwrap().read_to_string(&mut err).unwrap();
    assert_eq!(status.code(), Some(0), "{status:?}: {err}");
    assert_eq!(err, "", "a closed stdout is not an error");
    let yes: i32 = std::fs::read_to_string(dir.path().join("y.pid")).unwrap().trim().parse().unwrap();
    assert!(!alive(yes), "`yes` outlived brum");
}

/// Item 3, quiet variant: the script printed its line and went quiet; brum notices the closed
/// pipe without needing more output.
#[test]
fn closed_stdout_of_a_quiet_script_stops_brum() {
    let dir = project("");
    let m = marker(4);
    let script = format!("q=echo hello; exec sleep 1000.{m}");
    let mut child = spawn(dir.path(), &["-c", &script]);
    let mut out = BufReader::new(child.stdout.take().unwrap());
    read_until(&mut out, "hello");
    drop(out);
    let status = wait_exit(&mut child, STOP_LIMIT);
    let left = processes_with(&format!("1000.{m}"));
    cleanup(&format!("1000.{m}"));
    assert_eq!(status.code(), Some(0));
    assert!(left.is_empty());
}

/// Item 4: 200 background sleeps left by a script that exited normally are stopped.
#[test]
fn leftover_background_children_are_stopped_when_their_script_exits() {
    let dir = project("");
    let m = marker(5);
    let script = format!("f=for i in $(seq 200); do sleep 1000.{m} >/dev/null 2>&1 & done; echo started 200; exit 0");
    let mut child = spawn(dir.path(), &["-c", &script]);
    let status = wait_exit(&mut child, STOP_LIMIT);
    let left = processes_with(&format!("1000.{m}"));
    cleanup(&format!("1000.{m}"));
    assert!(status.success(), "{status:?}");
    assert!(left.is_empty(), "{} of 200 background processes outlived brum", left.len());
}

/// Item 4 then Ctrl-C: a script exited normally leaving background processes, another
/// keeps brum running, and Ctrl-C ends brum: none of them is left.
#[test]
fn leftover_background_children_are_stopped_after_ctrl_c() {
    let dir = project("");
    let m = marker(6);
    let bg = format!("f=for i in $(seq 200); do sleep 1000.{m} >/dev/null 2>&1 & done; exit 0");
    let mut child = spawn(dir.path(), &["-c", &bg, "-c", "w=echo waiting; exec sleep 1001"]);
    let mut out = BufReader::new(child.stdout.take().unwrap());
    read_until(&mut out, "f | exited with code 0");
    signal(child.id(), Signal::INT);
    let status = wait_exit(&mut child, STOP_LIMIT);
    let left = processes_with(&format!("1000.{m}"));
    cleanup(&format!("1000.{m}"));
    assert!(left.is_empty(), "{} of 200 background processes outlived brum", left.len());
    assert_eq!(status.code(), Some(130));
}

/// Item 4 with `process_leftovers = "keep"`: they run on while brum runs, and stop with it.
#[test]
fn leftovers_kept_by_config_run_until_brum_exits() {
    let dir = project("process_leftovers = \"keep\"\n");
    let m = marker(7);
    let bg = format!("f=for i in $(seq 20); do sleep 1000.{m} >/dev/null 2>&1 & done; exit 0");
    let mut child = spawn(dir.path(), &["-c", &bg, "-c", "w=echo waiting; exec sleep 1001"]);
    let mut out = BufReader::new(child.stdout.take().unwrap());
    read_until(&mut out, "f | exited with code 0");
    let kept = processes_with(&format!("1000.{m}"));
    let watched = watch_ends(&kept);
    signal(child.id(), Signal::INT);
    let status = wait_exit(&mut child, STOP_LIMIT);
    // The guardian has signalled them when brum exits; a signalled process still takes a
    // moment to die: wait for their ends, bounded.
    let left = still_alive_after(&watched, STOP_LIMIT);
    cleanup(&format!("1000.{m}"));
    assert_eq!(kept.len(), 20, "keep: the background processes should run while brum runs");
    assert_eq!(status.code(), Some(130));
    assert!(left.is_empty(), "{} kept processes outlived brum", left.len());
}

/// Item 5: a second `-c` with the same name is an error, not silently dropped.
#[test]
fn duplicate_cmd_name_is_refused() {
    let dir = project("");
    let o = brum_cmd(dir.path(), &["-c", "x=true", "-c", "x=exit 3"]).output().unwrap();
    let err = String::from_utf8_lossy(&o.stderr);
    assert_eq!(o.status.code(), Some(2), "{err}");
    assert!(err.contains("script `x` is named twice"), "{err}");
}

/// Item 6: warnings reach stderr (here: the orphan guardian was killed, then a restart
/// needs it), formatted like brum's other messages; `BRUM_LOG=error` hides them.
#[test]
fn warnings_reach_stderr_and_brum_log_sets_the_level() {
    for (level, shown) in [(None, true), (Some("error"), false)] {
        let dir = project("process_restart_max = 1\nprocess_restart_backoff_ms = 10\n");
        std::fs::write(
            dir.path().join(".brum.toml"),
            std::fs::read_to_string(dir.path().join(".brum.toml")).unwrap()
                + "\n[processes.flaky]\ncommand = \"echo ready; while [ ! -e go ]; do sleep 0.01; done; exit 1\"\nrestart = \"on-failure\"\n",
        )
        .unwrap();
        let mut cmd = brum_cmd(dir.path(), &["flaky"]);
        if let Some(l) = level {
            cmd.env("BRUM_LOG", l);
        }
        let mut child = cmd.stdout(Stdio::piped()).stderr(Stdio::piped()).spawn().unwrap();
        let mut out = BufReader::new(child.stdout.take().unwrap());
        read_until(&mut out, "ready");
        let guardian = guardian_of(child.id());
        signal(guardian as u32, Signal::KILL);
        eventually("the guardian to die", STOP_LIMIT, || !alive(guardian));
        std::fs::write(dir.path().join("go"), "").unwrap();
        let mut rest = String::new();
        out.read_to_string(&mut rest).unwrap();
        let status = wait_exit(&mut child, STOP_LIMIT);
        let mut err = String::new();
        child.stderr.take().unwrap().read_to_string(&mut err).unwrap();
        assert_eq!(status.code(), Some(1), "{err}");
        let warned = err.contains("warning: the orphan guardian is gone");
        assert_eq!(warned, shown, "BRUM_LOG={level:?}: stderr was {err:?}");
    }
}

/// The pid of brum's orphan guardian (a child of brum running `__guardian`).
fn guardian_of(brum: u32) -> i32 {
    for task in std::fs::read_dir(format!("/proc/{brum}/task")).unwrap().flatten() {
        let children = std::fs::read_to_string(task.path().join("children")).unwrap_or_default();
        for pid in children.split_whitespace().filter_map(|p| p.parse::<i32>().ok()) {
            let cmdline = std::fs::read(format!("/proc/{pid}/cmdline")).unwrap_or_default();
            if String::from_utf8_lossy(&cmdline).contains("__guardian") {
                return pid;
            }
        }
    }
    panic!("brum {brum} has no guardian child");
}

/// Item 10: a missing working directory and a missing program are named, and a failed spawn
/// is an event in `--json`.
#[test]
fn missing_cwd_and_missing_program_are_named_and_reported_in_json() {
    let dir = project("\n[processes.nocwd]\ncommand = \"echo hi\"\ncwd = \"no/such/dir\"\n");
    let o = brum_cmd(dir.path(), &["nocwd", "--json"]).output().unwrap();
    let err = String::from_utf8_lossy(&o.stderr);
    assert_eq!(o.status.code(), Some(127), "{err}");
    assert!(
        err.contains("working directory") && err.contains("no/such/dir") && err.contains("does not exist"),
        "{err}"
    );
    let events: Vec<serde_json::Value> =
        String::from_utf8_lossy(&o.stdout).lines().map(|l| serde_json::from_str(l).unwrap()).collect();
    let failed = events.iter().find(|e| e["type"] == "spawn_failed").expect("a spawn_failed event");
    assert_eq!(failed["process"], "nocwd");
    assert!(failed["error"].as_str().unwrap().contains("no/such/dir"), "{failed}");

    // A package manager that is not installed: npm, with a PATH where nothing is.
    std::fs::write(dir.path().join("package.json"), r#"{"scripts": {"dev": "echo dev"}}"#).unwrap();
    let o = brum_cmd(dir.path(), &["dev"]).env("PATH", dir.path().join("empty-path")).output().unwrap();
    let err = String::from_utf8_lossy(&o.stderr);
    assert_eq!(o.status.code(), Some(127), "{err}");
    assert!(err.contains("program `npm` not found"), "{err}");
}

/// Item 12: a second Ctrl-C kills at once instead of waiting out the grace, and the first
/// says what brum waits for.
#[test]
fn second_ctrl_c_kills_at_once() {
    let dir = tempfile::tempdir().unwrap();
    // A grace far longer than STOP_LIMIT: only the second Ctrl-C can end this in time.
    std::fs::write(dir.path().join(".brum.toml"), "[concurrency]\nprocess_stop_grace_ms = 600000\n").unwrap();
    let m = marker(8);
    let script = format!("stubborn=trap '' TERM; echo ready; sleep 1000.{m}");
    let mut child = spawn(dir.path(), &["-c", &script]);
    let mut out = BufReader::new(child.stdout.take().unwrap());
    let mut err = BufReader::new(child.stderr.take().unwrap());
    read_until(&mut out, "ready");
    signal(child.id(), Signal::INT);
    let notice = read_until(&mut err, "stopping");
    assert!(
        notice.last().unwrap().contains("stubborn") && notice.last().unwrap().contains("Ctrl-C again"),
        "{notice:?}"
    );
    signal(child.id(), Signal::INT);
    let status = wait_exit(&mut child, STOP_LIMIT);
    let left = processes_with(&format!("1000.{m}"));
    cleanup(&format!("1000.{m}"));
    assert_eq!(status.code(), Some(130));
    assert!(left.is_empty(), "{left:?}");
}

/// Item 12: `-c` names with control characters or spaces are refused.
#[test]
fn cmd_names_with_control_characters_are_refused() {
    let dir = project("");
    for name in ["a\u{1b}[31mb", "a b", "tab\there"] {
        let arg = format!("{name}=true");
        let o = brum_cmd(dir.path(), &["-c", &arg]).output().unwrap();
        let err = String::from_utf8_lossy(&o.stderr);
        assert_eq!(o.status.code(), Some(2), "{name:?}: {err}");
        assert!(err.contains("bad --cmd name"), "{err}");
    }
}

/// Item 12: `brum run SCRIPT -- ARGS` passes ARGS to the script; without one script named,
/// it says so.
#[test]
fn arguments_after_dashdash_reach_the_script() {
    let dir = project("\n[processes.show]\ncommand = \"echo got\"\n");
    let o = brum_cmd(dir.path(), &["show", "--", "--help", "a b"]).output().unwrap();
    let out = String::from_utf8_lossy(&o.stdout);
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    assert!(out.contains("show | got --help a b\n"), "{out}");

    let o = brum_cmd(dir.path(), &["--", "--help"]).output().unwrap();
    let err = String::from_utf8_lossy(&o.stderr);
    assert_eq!(o.status.code(), Some(2), "{err}");
    assert!(err.contains("arguments after `--` go to one script"), "{err}");
}

/// Item 12: children's stdin stays open (tools such as `esbuild --watch` quit when it
/// closes): `cat` waits on it instead of reading EOF at once.
#[test]
fn children_keep_stdin_open() {
    let dir = project("");
    let o = brum_cmd(dir.path(), &["-c", "s=timeout 1 cat; echo cat-status=$?"]).output().unwrap();
    let out = String::from_utf8_lossy(&o.stdout);
    // 124: `timeout` stopped a `cat` still waiting on stdin; 0 would be EOF at once.
    assert!(out.contains("cat-status=124"), "{out}");
}
