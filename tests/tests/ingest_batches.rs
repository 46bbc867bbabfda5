//! Ingest in batches, with real children: the lines of one read travel as one event, each line
//! keeps its own sequence number, a detection sits right after the line that completed it,
//! and `brum run`'s prefixed view keeps one process from clearing the others' lines.

use std::sync::{Arc, Mutex};
use std::time::Duration;

use brum::rt::TokioRuntime;
use brum_core::bus::{BusConfig, Envelope, Event, EventBus, SubscribeOptions};
use brum_core::lines::{BATCH_BYTES_MAX, BATCH_LINES_DEFAULT};
use brum_core::script::{RestartLimits, Script};
use brum_core::supervisor::{Supervisor, SupervisorConfig};
use brum_tests::{brum, stdout};

const MAX_LINE: usize = 4096;

fn script(name: &str, line: &str) -> Script {
    brum_tests::shell_script(name, line)
}

fn config() -> SupervisorConfig {
    config_batching(BATCH_LINES_DEFAULT)
}

fn config_batching(batch_lines: usize) -> SupervisorConfig {
    SupervisorConfig {
        stop_grace: Duration::from_millis(500),
        restart: RestartLimits {
            max_restarts: 0,
            backoff: Duration::from_millis(20),
            backoff_max: Duration::from_millis(100),
        },
        max_line_bytes: MAX_LINE,
        batch_lines,
        force_colour: false,
        leftovers: brum_core::supervisor::Leftovers::Stop,
    }
}

/// Runs `line` to its end under a real supervisor; returns every envelope, in bus order.
async fn run_script(line: &str, seed: u64) -> Vec<Arc<Envelope>> {
    run_script_with(line, seed, config()).await
}

async fn run_script_with(line: &str, seed: u64, cfg: SupervisorConfig) -> Vec<Arc<Envelope>> {
    let rt = TokioRuntime::with_seed(seed);
    let bus = EventBus::new(rt.clone(), BusConfig::with_cores(2));
    let seen: Arc<Mutex<Vec<Arc<Envelope>>>> = Arc::default();
    let s = seen.clone();
    bus.subscribe(SubscribeOptions::named("capture").lossless(), move |e| s.lock().unwrap().push(e.clone())).unwrap();
    let (sup, task) = Supervisor::new(rt.clone(), bus.clone(), cfg);
    sup.start(script("flood", line), false).await.unwrap();
    let mut w = sup.clone();
    while !sup.status().iter().all(|i| i.state.is_terminal()) {
        assert!(w.changed().await, "supervisor ended early");
    }
    sup.shutdown().await;
    task.join().await.unwrap();
    bus.shutdown().await;
    seen.lock().unwrap().clone()
}

/// `(sequence number, text)` of every line, in bus order.
fn lines_of(events: &[Arc<Envelope>]) -> Vec<(u64, String)> {
    let mut out = Vec::new();
    for e in events {
        if let Event::LogLines { lines, .. } = &e.event {
            out.extend(lines.iter().enumerate().map(|(i, l)| (e.seq(i), l.text.to_string())));
        }
    }
    out
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_flood_travels_in_bounded_batches_and_every_line_keeps_its_own_sequence_number() {
    let n = 50_000;
    let events = run_script(&format!("seq 1 {n}"), 11).await;
    let lines = lines_of(&events);
    let want: Vec<String> = (1..=n).map(|i| i.to_string()).collect();
    assert_eq!(lines.iter().map(|(_, t)| t.clone()).collect::<Vec<_>>(), want, "every line, in order");
    // Sequence numbers: one per line, increasing, and no other event took any between the
    // lines (nothing was detected), so they are consecutive.
    let first = lines[0].0;
    for (i, (seq, _)) in lines.iter().enumerate() {
        assert_eq!(*seq, first + i as u64, "line {i}");
    }
    let batches: Vec<usize> = events
        .iter()
        .filter_map(|e| match &e.event {
            Event::LogLines { lines, .. } => {
                assert!(lines.bytes() < BATCH_BYTES_MAX + MAX_LINE, "a batch of {} bytes", lines.bytes());
                Some(lines.len())
            }
            _ => None,
        })
        .collect();
    assert!(batches.iter().all(|&b| (1..=BATCH_LINES_DEFAULT).contains(&b)), "{batches:?}");
    // `seq` writes whole 4 KiB blocks (about 700 of these lines): the reads carry hundreds of
    // lines each, so a per-line publisher would fail this by a factor of a hundred.
    assert!(batches.len() * 20 < n as usize, "{} events for {n} lines: not batched", batches.len());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn log_batch_lines_caps_the_lines_of_a_batch() {
    let n = 5_000;
    let events = run_script_with(&format!("seq 1 {n}"), 13, config_batching(10)).await;
    let sizes: Vec<usize> = events
        .iter()
        .filter_map(|e| match &e.event {
            Event::LogLines { lines, .. } => Some(lines.len()),
            _ => None,
        })
        .collect();
    assert_eq!(sizes.iter().sum::<usize>(), n);
    assert!(sizes.iter().all(|&s| (1..=10).contains(&s)), "{sizes:?}");
    assert!(sizes.iter().filter(|&&s| s == 10).count() > 100, "reads of hundreds of lines are cut at 10: {sizes:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_detection_comes_right_after_the_line_that_completed_it_within_one_read() {
    // One write: 300 lines, a URL announcement, 300 more lines.
    let events = run_script(
        "awk 'BEGIN { for (i = 1; i <= 300; i++) print \"before \" i; print \"  Local: http://localhost:5173/\"; \
         for (i = 1; i <= 300; i++) print \"after \" i }'",
        12,
    )
    .await;
    let lines = lines_of(&events);
    assert_eq!(lines.len(), 601);
    let (url_line_seq, _) = lines.iter().find(|(_, t)| t.contains("http://localhost:5173/")).unwrap().clone();
    let url_event = events.iter().find(|e| matches!(e.event, Event::UrlDetected { .. })).expect("the URL detected");
    assert_eq!(url_event.id.0, url_line_seq + 1, "the URL event comes right after its line");
    let (next_seq, next_text) = lines.iter().find(|(s, _)| *s > url_line_seq).unwrap().clone();
    assert_eq!((next_seq, next_text.as_str()), (url_event.id.0 + 1, "after 1"), "and right before the next line");
    // The line that completed the detection ends its batch.
    let batch_end = events.iter().any(|e| match &e.event {
        Event::LogLines { lines, .. } => e.seq(lines.len() - 1) == url_line_seq,
        _ => false,
    });
    assert!(batch_end, "the URL line is the last line of its batch");
}

/// A dev server that prints a stack and goes quiet (an Express 500, a syntax error on reload):
/// the error is reported while it still runs, after `QUIET_CLOSE`, not when it next prints.
/// Before, no error event came until the server printed again or exited.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_stack_is_reported_once_its_stream_goes_quiet() {
    let rt = TokioRuntime::with_seed(14);
    let bus = EventBus::new(rt.clone(), BusConfig::with_cores(2));
    let (tx, mut rx) = tokio::sync::mpsc::unbounded_channel();
    bus.subscribe(SubscribeOptions::named("errors").lossless(), move |e| {
        if let Event::ErrorDetected { error, .. } = &e.event {
            let _ = tx.send(error.clone());
        }
    })
    .unwrap();
    let (sup, task) = Supervisor::new(rt.clone(), bus.clone(), config());
    let server = "printf \"TypeError: Cannot read properties of undefined (reading 'id')\\n    at handler                   (/app/src/routes.js:12:7)\\n    at Layer.handle (/app/node_modules/express/lib/router/layer.js:95:5)\\n\" >&2;                   exec sleep 60";
    sup.start(script("api", server), false).await.unwrap();
    // A failure timeout only: the error is due 100 ms after the stack.
    let error = tokio::time::timeout(Duration::from_secs(20), rx.recv())
        .await
        .expect("no error event while the server stays quiet")
        .expect("the bus is open");
    assert_eq!(error.message, "TypeError: Cannot read properties of undefined (reading 'id')");
    assert_eq!(error.location.as_ref().map(|l| l.to_string()).as_deref(), Some("/app/src/routes.js:12:7"));
    assert!(sup.status().iter().all(|i| !i.state.is_terminal()), "reported while the server runs");
    sup.stop_all().await.unwrap();
    sup.shutdown().await;
    task.join().await.unwrap();
    bus.shutdown().await;
    assert!(rx.try_recv().is_err(), "reported once");
}

/// A project whose two scripts print at once: one clears the screen and moves the cursor
/// before every line (as `tsc --watch` does each round), the other prints plain lines.
#[test]
fn in_the_prefixed_view_one_process_cannot_clear_or_overwrite_the_others_lines() {
    let dir = tempfile::tempdir().unwrap();
    let p = dir.path().to_str().unwrap();
    let clear = "printf '\\033[2J\\033[3J\\033[HStarting compilation\\n\\033cReset\\n\\033[1A\\033[2Kup\\033[5;1Hhome\\n'; \
                 printf '\\033[31mred\\n'; printf 'bell\\007 back\\010space\\n'";
    let o = brum(&["-C", p, "run", "-c", &format!("tsc={clear}"), "-c", "api=echo one; echo two"]);
    let out = stdout(&o);
    assert!(o.status.success(), "{out}");
    for seq in ["\x1b[2J", "\x1b[3J", "\x1b[H", "\x1bc", "\x1b[1A", "\x1b[2K", "\x1b[5;1H", "\x07", "\x08"] {
        assert!(!out.contains(seq), "{seq:?} reached the terminal:\n{out:?}");
    }
    let lines: Vec<&str> = out.lines().collect();
    for want in [
        "tsc | Starting compilation",
        "tsc | Reset",
        "tsc | uphome",
        "tsc | \x1b[31mred\x1b[0m",
        "tsc | bell backspace",
        "api | one",
        "api | two",
    ] {
        assert!(lines.contains(&want), "no line {want:?} in\n{out:?}");
    }
    // `--json` prints each line as the process wrote it: the escapes are its content.
    let o = brum(&["-C", p, "run", "--json", "-c", "tsc=printf '\\033[2Jcleared\\n'"]);
    assert!(stdout(&o).contains(r#""line":"\u001b[2Jcleared""#), "{}", stdout(&o));
}
