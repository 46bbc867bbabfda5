//! `brum run` end to end: real children, real signals, the real binary.

use std::io::{BufRead, BufReader};
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use brum_tests::{alive, brum, brum_bin, eventually, read_until, signal, stderr, stdout};

/// A project directory whose `.brum.toml` makes stops quick.
fn project() -> tempfile::TempDir {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join(".brum.toml"), "[concurrency]\nprocess_stop_grace_ms = 300\n").unwrap();
    dir
}

fn spawn_brum(dir: &Path, args: &[&str]) -> Child {
    Command::new(brum_bin())
        .arg("-C")
        .arg(dir)
        .arg("run")
        .args(args)
        .env("HOME", dir)
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap()
}

/// Reads stdout lines until one contains `marker`; returns them. Fails if `limit` passes
/// first: for output that must arrive while the child still runs (its exit would flush it
/// anyway). `limit` is a failure timeout, far above the time the output takes.
fn read_until_within(out: impl BufRead + Send + 'static, marker: &str, limit: Duration) -> Vec<String> {
    let (tx, rx) = std::sync::mpsc::channel();
    // Ends when brum's stdout closes (the test stops brum) or the receiver is gone.
    std::thread::spawn(move || {
        for l in out.lines() {
            if tx.send(l).is_err() {
                break;
            }
        }
    });
    let deadline = Instant::now() + limit;
    let mut lines = Vec::new();
    loop {
        match rx.recv_timeout(deadline.saturating_duration_since(Instant::now())) {
            Ok(l) => {
                let l = l.expect("brum's stdout is readable");
                let done = l.contains(marker);
                lines.push(l);
                if done {
                    return lines;
                }
            }
            Err(std::sync::mpsc::RecvTimeoutError::Timeout) => panic!("no `{marker}` within {limit:?}: {lines:?}"),
            Err(std::sync::mpsc::RecvTimeoutError::Disconnected) => {
                panic!("stdout closed before `{marker}`: {lines:?}")
            }
        }
    }
}

/// Bug: progress drawn with `\r` and no newline was invisible until a newline or the end of
/// the output. The latest redraw shows while the child is still running (sleeping far longer
/// than the failure timeout, so only a shown redraw passes).
#[test]
fn cr_only_progress_is_shown_before_any_newline() {
    let dir = project();
    let mut brum = Running(spawn_brum(dir.path(), &["-c", "p=printf '10%%\\r20%%\\r'; exec sleep 1000"]));
    let out = BufReader::new(brum.0.stdout.take().unwrap());
    let lines = read_until_within(out, "20%", Duration::from_secs(20));
    assert_eq!(lines.last().map(String::as_str), Some("p | 20%"), "the latest redraw, alone: {lines:?}");
}

/// A running `brum`, stopped as by Ctrl-C (which stops its children) when dropped, so that a
/// failing test leaves nothing running.
struct Running(Child);

impl Drop for Running {
    fn drop(&mut self) {
        if let Ok(None) = self.0.try_wait() {
            signal(self.0.id(), rustix::process::Signal::INT);
            let _ = self.0.wait();
        }
    }
}

/// Bug: a line of exactly `log_max_line_bytes` followed by CRLF came out as the line and an
/// empty line (split at the limit with the `\r` counted, then the lone `\r` stripped).
#[test]
fn line_of_exactly_max_line_then_crlf_is_one_line_not_two() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join(".brum.toml"), "[concurrency]\nlog_max_line_bytes = 1024\n").unwrap();
    let o = brum(&["-C", dir.path().to_str().unwrap(), "run", "--json", "-c", "wide=printf '%1024s\\r\\n' x"]);
    assert!(o.status.success(), "{}", stderr(&o));
    let events: Vec<serde_json::Value> = stdout(&o).lines().map(|l| serde_json::from_str(l).unwrap()).collect();
    let lines: Vec<&str> = events.iter().filter(|e| e["type"] == "log").map(|e| e["line"].as_str().unwrap()).collect();
    assert_eq!(lines, [format!("{:>1024}", "x")], "one line of 1024 bytes, nothing after it");
}

#[test]
fn a_million_line_flood_arrives_complete_and_in_order() {
    let dir = project();
    let o = Command::new(brum_bin())
        .arg("-C")
        .arg(dir.path())
        .args(["run", "-c", "flood=seq 1 1000000"])
        .env("HOME", dir.path())
        .output()
        .unwrap();
    assert!(o.status.success(), "{}", stderr(&o));
    let text = stdout(&o);
    let mut expected = 1u64;
    for line in text.lines() {
        let Some(rest) = line.strip_prefix("flood | ") else { panic!("unprefixed line {line:?}") };
        if rest.starts_with("exited") {
            continue;
        }
        assert_eq!(rest.parse::<u64>().unwrap(), expected, "line out of order or lost");
        expected += 1;
    }
    assert_eq!(expected, 1_000_001, "lines missing");
    assert!(text.ends_with("flood | exited with code 0\n"), "exit line last");
}

#[test]
fn exits_with_the_code_of_the_first_failure() {
    let dir = project();
    let o = brum(&["-C", dir.path().to_str().unwrap(), "run", "-c", "a=sleep 0.05; exit 3", "-c", "b=echo fine"]);
    assert_eq!(o.status.code(), Some(3), "{}{}", stdout(&o), stderr(&o));
    let o = brum(&["-C", dir.path().to_str().unwrap(), "run", "-c", "ok=true"]);
    assert_eq!(o.status.code(), Some(0));
    let o = brum(&["-C", dir.path().to_str().unwrap(), "run", "-c", "killed=kill -9 $$"]);
    assert_eq!(o.status.code(), Some(137), "a signal death reports 128 + n");
}

#[test]
fn kill_others_on_fail_stops_the_rest() {
    let dir = project();
    let o = brum(&[
        "-C",
        dir.path().to_str().unwrap(),
        "run",
        "--kill-others-on-fail",
        "-c",
        "bad=sleep 0.1; exit 4",
        "-c",
        "server=exec sleep 100",
    ]);
    assert_eq!(o.status.code(), Some(4));
    let text = stdout(&o);
    assert!(text.contains("server | exited with signal SIGTERM"), "{text}");
}

#[test]
fn json_output_has_one_object_per_event() {
    let dir = project();
    let o = brum(&["-C", dir.path().to_str().unwrap(), "run", "--json", "-c", "a=echo one; echo two >&2; exit 2"]);
    assert_eq!(o.status.code(), Some(2));
    let events: Vec<serde_json::Value> = stdout(&o).lines().map(|l| serde_json::from_str(l).unwrap()).collect();
    let kinds: Vec<&str> = events.iter().map(|e| e["type"].as_str().unwrap()).collect();
    assert_eq!(kinds.first(), Some(&"started"));
    assert_eq!(kinds.last(), Some(&"exited"));
    assert_eq!(events.last().unwrap()["code"], 2);
    let lines: Vec<(&str, &str)> = events
        .iter()
        .filter(|e| e["type"] == "log")
        .map(|e| (e["stream"].as_str().unwrap(), e["line"].as_str().unwrap()))
        .collect();
    assert!(lines.contains(&("stdout", "one")) && lines.contains(&("stderr", "two")), "{lines:?}");
}

/// Starts `brum run` on a script whose child starts a grandchild that ignores SIGTERM and
/// prints its pid; returns once the grandchild is running, with its pid.
fn start_stubborn_family() -> (tempfile::TempDir, Child, BufReader<std::process::ChildStdout>, i32) {
    let dir = project();
    let script = "fam=sh -c 'trap \"\" TERM; echo \"grandchild $$\"; exec sleep 1000' & wait";
    let mut child = spawn_brum(dir.path(), &["-c", script]);
    let mut out = BufReader::new(child.stdout.take().unwrap());
    let lines = read_until(&mut out, "fam | grandchild ");
    let gc = lines.last().and_then(|l| l.trim().rsplit(' ').next()).and_then(|p| p.parse().ok()).expect("a pid");
    assert!(alive(gc));
    (dir, child, out, gc)
}

#[test]
fn ctrl_c_leaves_nothing_running_not_even_a_grandchild_ignoring_sigterm() {
    let (_dir, mut child, mut out, gc) = start_stubborn_family();
    signal(child.id(), rustix::process::Signal::INT);
    let rest = read_until(&mut out, "exited with");
    let status = child.wait().unwrap();
    assert_eq!(status.code(), Some(130), "Ctrl-C exits 130: {rest:?}");
    // SIGKILLed, its pipes closed (brum saw EOF): the kernel may still be tearing it down
    // when brum exits, so look for a bounded moment rather than once.
    eventually("the grandchild to be gone after Ctrl-C", Duration::from_secs(5), || !alive(gc));
}

#[test]
fn sigkill_of_brum_leaves_nothing_running() {
    let (_dir, mut child, _out, gc) = start_stubborn_family();
    signal(child.id(), rustix::process::Signal::KILL);
    child.wait().unwrap();
    // The guardian sees brum's end of its socket close, sends SIGTERM (ignored), waits the 300 ms grace,
    // then SIGKILLs the group. The grandchild is not our child, so its death can only be
    // observed by looking: a bounded poll of /proc.
    eventually("the guardian to kill the grandchild", Duration::from_secs(10), || !alive(gc));
}

#[test]
fn missing_project_and_nothing_to_run_are_clear_errors() {
    let o = brum(&["-C", "/definitely/not/here", "run", "dev"]);
    assert_eq!(o.status.code(), Some(2));
    assert!(stderr(&o).contains("no such project directory `/definitely/not/here`"), "{}", stderr(&o));
    let dir = project();
    let o = brum(&["-C", dir.path().to_str().unwrap(), "run", "-c", "novalue"]);
    assert_eq!(o.status.code(), Some(2));
    assert!(stderr(&o).contains("expected NAME=COMMAND"), "{}", stderr(&o));
}

#[test]
fn a_pnpm_workspace_is_discovered_and_run_with_detections_on_ingest() {
    let pnpm = Command::new("pnpm").arg("--version").output();
    assert!(pnpm.is_ok_and(|o| o.status.success()), "pnpm is required for this test (.ci/run installs it)");
    let fixture = Path::new(env!("CARGO_MANIFEST_DIR")).join("fixtures/projects/pnpm-run");
    let tsc = "tsc=echo \"src/app.ts(3,7): error TS2322: Type 'string' is not assignable to type 'number'.\"";
    let o = Command::new(brum_bin())
        .arg("-C")
        .arg(&fixture)
        .args(["run", "--json", "web:dev", "ui:test", "-c", tsc])
        .output()
        .unwrap();
    assert!(o.status.success(), "{}{}", stdout(&o), stderr(&o));
    let events: Vec<serde_json::Value> = stdout(&o).lines().map(|l| serde_json::from_str(l).unwrap()).collect();
    let find = |ty: &str, process: &str| events.iter().find(|e| e["type"] == ty && e["process"] == process).cloned();
    let url = find("url", "web:dev").expect("web:dev's announced URL");
    assert_eq!(url["url"], "http://localhost:5173/");
    let test = find("test", "ui:test").expect("ui:test's summary");
    assert_eq!((test["passed"].as_u64(), test["failed"].as_u64()), (Some(2), Some(0)));
    let err = find("error", "tsc").expect("the TypeScript error");
    assert_eq!(
        (err["location"]["file"].as_str(), err["location"]["line"].as_u64(), err["location"]["column"].as_u64()),
        (Some("src/app.ts"), Some(3), Some(7))
    );
    // pnpm itself ran the workspace package's script.
    assert!(events.iter().any(|e| e["type"] == "log" && e["line"].as_str().is_some_and(|l| l.contains("web ready"))));
    for p in ["web:dev", "ui:test", "tsc"] {
        assert_eq!(find("exited", p).map(|e| e["code"].clone()), Some(serde_json::json!(0)), "{p}");
    }
}

#[test]
fn unknown_script_names_the_closest_ones() {
    let fixture = Path::new(env!("CARGO_MANIFEST_DIR")).join("fixtures/projects/pnpm-run");
    let o = Command::new(brum_bin()).arg("-C").arg(&fixture).args(["run", "web:dve"]).output().unwrap();
    assert_eq!(o.status.code(), Some(2));
    assert!(stderr(&o).contains("unknown script `web:dve`; did you mean `web:dev`?"), "{}", stderr(&o));
}

#[test]
fn log_persist_writes_every_line_to_rotating_files_under_dot_brum() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join(".brum.toml"), "[concurrency]\nlog_persist = true\n").unwrap();
    let o = brum(&["-C", dir.path().to_str().unwrap(), "run", "-c", "api=seq 1 500; echo oops >&2"]);
    assert!(o.status.success(), "{}", stderr(&o));
    let text = std::fs::read_to_string(dir.path().join(".brum/logs/api.log")).expect("api.log written");
    let lines: Vec<&str> = text.lines().collect();
    assert_eq!(lines.len(), 501, "every line persisted");
    // stdout and stderr are read by separate tasks, so only each stream's own order is fixed.
    let first_out = lines.iter().find(|l| l.contains("api#1 out")).expect("stdout persisted");
    assert!(first_out.ends_with(" 1"), "{first_out}");
    assert!(lines.iter().any(|l| l.contains(" err ") && l.ends_with("oops")), "stderr persisted");
}
