//! Log search over 1,000,000 stored lines against ripgrep over the same text in a file.
//!
//! Builds a `LogStore` of `LINES` generated dev-server lines (`brum_benches::corpus`) under a
//! budget that keeps them all, writes the same plain text (what the store searches: ANSI
//! stripped) to a temporary file, then times, for each pattern, `LogStore::count` (every
//! matching line in the store) against `rg -c` on the file, `REPS` times each, and reports the
//! medians and their ratio. The counts must agree. The rg side is skipped with a message when
//! `rg` is not installed (`apt-get install ripgrep`).
//!
//!     cargo bench -p brum-benches --bench logsearch
//!
//! BENCHMARKS.md records the figures.

use std::fs::File;
use std::io::{BufWriter, Write};
use std::path::Path;
use std::process::Command;
use std::sync::Arc;
use std::time::{Duration, Instant, SystemTime};

use brum_benches::corpus::{Corpus, PROCESSES};
use brum_core::bus::{ProcessRef, Stream};
use brum_core::logs::{Filter, LogStore, LogStoreConfig, Query, TextQuery};
use brum_core::rt::Mono;

const LINES: usize = 1_000_000;
const REPS: usize = 5;

struct Case {
    name: &'static str,
    text: TextQuery,
    /// The same search as rg arguments (before the file name).
    rg: &'static [&'static str],
}

fn cases() -> Vec<Case> {
    let sub = |t: &str, ci| TextQuery::Substring { text: t.to_owned(), case_insensitive: ci };
    let re = |p: &str| TextQuery::Regex(p.to_owned());
    vec![
        Case { name: "substring /api/orders/", text: sub("/api/orders/", false), rg: &["-F", "-e", "/api/orders/"] },
        Case {
            name: "substring rare: connection reset",
            text: sub("connection reset", false),
            rg: &["-F", "-e", "connection reset"],
        },
        Case { name: "substring -i error", text: sub("error", true), rg: &["-i", "-F", "-e", "error"] },
        Case {
            name: "substring -i Connection Reset",
            text: sub("Connection Reset", true),
            rg: &["-i", "-F", "-e", "Connection Reset"],
        },
        Case {
            name: r"regex -> [45]\d\d in \d+\.\dms",
            text: re(r"-> [45]\d\d in \d+\.\dms"),
            rg: &["-e", r"-> [45]\d\d in \d+\.\dms"],
        },
        Case {
            name: r"regex \w+Error: .*\(reading '\w+'\)",
            text: re(r"\w+Error: .*\(reading '\w+'\)"),
            rg: &["-e", r"\w+Error: .*\(reading '\w+'\)"],
        },
        Case { name: r"regex (?i)warn\w*", text: re(r"(?i)warn\w*"), rg: &["-e", r"(?i)warn\w*"] },
    ]
}

fn median(mut v: Vec<Duration>) -> Duration {
    v.sort();
    v[v.len() / 2]
}

fn ms(d: Duration) -> f64 {
    d.as_secs_f64() * 1e3
}

fn rg_available() -> bool {
    Command::new("rg").arg("--version").output().is_ok_and(|o| o.status.success())
}

/// Runs `rg --no-config -c <args> <file>` and returns (count, elapsed wall time).
fn rg_count(args: &[&str], file: &Path) -> (u64, Duration) {
    let start = Instant::now();
    let out = Command::new("rg").arg("--no-config").arg("-c").args(args).arg(file).output().expect("run rg");
    let elapsed = start.elapsed();
    // rg exits 1 when nothing matched.
    let text = String::from_utf8_lossy(&out.stdout);
    (text.trim().parse().unwrap_or(0), elapsed)
}

fn main() {
    let processes: Vec<ProcessRef> =
        PROCESSES.iter().enumerate().map(|(i, n)| ProcessRef::new(i as u64 + 1, Arc::from(*n))).collect();
    let mut store = LogStore::new(LogStoreConfig { budget_bytes: 1 << 30, max_line_bytes: 64 * 1024 });
    let wall = SystemTime::UNIX_EPOCH + Duration::from_secs(1_800_000_000);
    // Generated first, so the append timing is the store's alone.
    let lines: Vec<_> = Corpus::new(1).take(LINES).collect();
    let raw_bytes: u64 = lines.iter().map(|l| l.text.len() as u64).sum();
    let start = Instant::now();
    for (i, line) in lines.iter().enumerate() {
        let stream = if line.stderr { Stream::Stderr } else { Stream::Stdout };
        let t = Duration::from_millis(i as u64 * 5);
        store.append(&processes[line.process], stream, Mono(t), wall + t, &line.text).expect("open store");
    }
    let append = start.elapsed();
    drop(lines);
    let stats = store.stats();
    assert_eq!(stats.entries, LINES as u64, "the budget must keep every line: {stats:?}");
    println!(
        "built store: {LINES} lines, {:.1} MB raw text, {:.1} MB held, appended in {:.0} ms ({:.2} M lines/s)",
        raw_bytes as f64 / 1e6,
        stats.held_bytes as f64 / 1e6,
        ms(append),
        LINES as f64 / append.as_secs_f64() / 1e6
    );

    let dir = tempfile::tempdir().expect("temp dir");
    let path = dir.path().join("logs.txt");
    let mut file = BufWriter::new(File::create(&path).expect("create file"));
    for e in store.iter() {
        writeln!(file, "{}", e.plain()).expect("write");
    }
    file.into_inner().expect("flush").sync_all().expect("sync");
    let file_bytes = std::fs::metadata(&path).expect("stat").len();
    println!("wrote {} ({:.1} MB, the plain text the store searches)", path.display(), file_bytes as f64 / 1e6);

    let rg = rg_available();
    if !rg {
        println!("rg not found: skipping the ripgrep side (install it: apt-get install ripgrep)");
    } else {
        // Warm the page cache.
        let _ = rg_count(&["-F", "-e", "warm"], &path);
    }

    println!();
    println!("| search | matches | LogStore::count (median of {REPS}) | rg -c (median of {REPS}) | store / rg |");
    println!("|---|---:|---:|---:|---:|");
    for case in cases() {
        let query = Query { text: case.text.clone(), filter: Filter::default(), limit: 100, cursor: None };
        let mut times = Vec::new();
        let mut count = 0;
        for _ in 0..REPS {
            let start = Instant::now();
            count = store.count(&query).expect("valid query");
            times.push(start.elapsed());
        }
        let ours = median(times);
        if rg {
            let mut times = Vec::new();
            let mut rg_matches = 0;
            for _ in 0..REPS {
                let (n, t) = rg_count(case.rg, &path);
                rg_matches = n;
                times.push(t);
            }
            let theirs = median(times);
            assert_eq!(count, rg_matches, "{}: store and rg disagree", case.name);
            println!(
                "| `{}` | {count} | {:.1} ms | {:.1} ms | {:.2}x |",
                case.name,
                ms(ours),
                ms(theirs),
                ours.as_secs_f64() / theirs.as_secs_f64()
            );
        } else {
            println!("| `{}` | {count} | {:.1} ms | (no rg) | - |", case.name, ms(ours));
        }
    }

    // A first page of the newest matches, as an agent asks for it.
    println!();
    for case in cases() {
        let query = Query { text: case.text.clone(), filter: Filter::default(), limit: 100, cursor: None };
        let mut times = Vec::new();
        for _ in 0..REPS {
            let start = Instant::now();
            let page = store.search(&query).expect("valid query");
            times.push(start.elapsed());
            std::hint::black_box(page);
        }
        println!("first page of 100 newest, `{}`: {:.3} ms", case.name, ms(median(times)));
    }
}
