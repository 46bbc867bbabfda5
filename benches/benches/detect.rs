//! Detector throughput in lines per second, over logs shaped like a dev session.
//!
//! - `mixed`: 100,000 lines: request logs and Vite HMR chatter (a tenth coloured; each HMR update
//!   is a `Rebuilt` build detection, about 30% of lines), with a URL announcement, a webpack build
//!   line and an error report (tsc, a Node stack, a Rust panic, a Python traceback, in turn) every
//!   250 lines: about 2% of lines belong to an error group.
//! - `plain_requests`: 100,000 request-log lines only, the common case.
//! - `corpus`: every sample of `core/tests/fixtures/detect` concatenated (error-dense: about
//!   half its lines are in groups).
//!
//! One fresh `Detector` per iteration; every detection is consumed with `black_box`. The
//! product target is 1,000,000 lines/s with detection on.
//!
//!     cargo bench -p brum-benches --bench detect
//!
//! BENCHMARKS.md records the figures.

use std::hint::black_box;
use std::path::Path;
use std::time::Duration;

use brum_core::bus::Stream;
use brum_core::detect::Detector;
use criterion::{Criterion, Throughput, criterion_group, criterion_main};

const LINES: usize = 100_000;

const ERRORS: [&str; 4] = [
    "src/api.ts(4,26): error TS2339: Property 'nmae' does not exist on type 'User'.",
    "TypeError: Cannot read properties of undefined (reading 'profile')
    at getUser (/app/server.js:4:20)
    at Server.<anonymous> (/app/server.js:8:11)
    at Server.emit (node:events:524:28)
    at parserOnIncoming (node:_http_server:1139:12)
",
    "thread 'main' (11564) panicked at src/main.rs:18:30:
index out of bounds: the len is 3 but the index is 7
note: run with `RUST_BACKTRACE=1` environment variable to display a backtrace",
    "Traceback (most recent call last):
  File \"/app/worker.py\", line 21, in main
    log.info(\"job done: %s\", handle(job))
  File \"/app/worker.py\", line 14, in handle
    return job[\"payload\"][\"user\"][\"id\"]
KeyError: 'user'",
];

fn mixed() -> Vec<String> {
    let mut out = Vec::with_capacity(LINES + 64);
    let mut i = 0usize;
    while out.len() < LINES {
        i += 1;
        match i % 250 {
            0 => out.extend(ERRORS[(i / 250) % ERRORS.len()].lines().map(str::to_string)),
            100 => out.push("  \u{1b}[32m➜\u{1b}[39m  \u{1b}[1mLocal\u{1b}[22m:   \u{1b}[36mhttp://localhost:5173/\u{1b}[39m".into()),
            200 => out.push("webpack 5.113.0 compiled successfully in 36 ms".into()),
            n if n % 10 == 3 => out.push(format!("\u{1b}[2m6:20:{:02} PM\u{1b}[22m \u{1b}[36;1m[vite]\u{1b}[0m \u{1b}[32mhmr update \u{1b}[0m\u{1b}[2m/src/components/Item{n}.tsx\u{1b}[22m", i % 60)),
            n if n % 4 == 1 => out.push(format!("6:20:{:02} PM [vite] (client) hmr update /src/App.tsx, /src/index.css", i % 60)),
            n if n % 7 == 2 => out.push(format!("[api] {:>5} POST /api/orders/{i} 201 {}.{}ms - 48", i % 99999, n % 40, i % 10)),
            n => out.push(format!("GET /api/items/{i}?page={} 200 {}.{} ms - {}", n % 9, n % 50, i % 10, 100 + n)),
        }
    }
    out
}

fn plain_requests() -> Vec<String> {
    (0..LINES)
        .map(|i| format!("127.0.0.1 - - [27/Nov/2026 18:32:53] \"GET /api/items/{i} HTTP/1.1\" 200 {}", i % 997))
        .collect()
}

fn corpus() -> Vec<String> {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("../core/tests/fixtures/detect");
    let mut files: Vec<_> = std::fs::read_dir(&dir)
        .expect("the detection corpus")
        .map(|e| e.expect("dir entry").path())
        .filter(|p| p.extension().is_some_and(|x| x == "log"))
        .collect();
    files.sort();
    files
        .iter()
        .flat_map(|p| std::fs::read_to_string(p).expect("a sample").lines().map(str::to_string).collect::<Vec<_>>())
        .collect()
}

fn run(lines: &[String]) -> usize {
    let mut d = Detector::new();
    let mut found = 0;
    for (i, l) in lines.iter().enumerate() {
        let stream = if i % 5 == 0 { Stream::Stderr } else { Stream::Stdout };
        for det in d.feed(l, stream) {
            black_box(&det);
            found += 1;
        }
    }
    found + d.finish().len()
}

fn throughput(c: &mut Criterion) {
    let mut g = c.benchmark_group("detect");
    g.sample_size(20).measurement_time(Duration::from_secs(4)).warm_up_time(Duration::from_secs(1));
    for (name, lines) in [("mixed", mixed()), ("plain_requests", plain_requests()), ("corpus", corpus())] {
        let found = run(&lines);
        println!("detect/{name}: {} lines, {found} detections", lines.len());
        g.throughput(Throughput::Elements(lines.len() as u64));
        g.bench_function(name, |b| b.iter(|| run(black_box(&lines))));
    }
    g.finish();
}

criterion_group!(benches, throughput);
criterion_main!(benches);
