//! Memory held by the log store per retained line, against the raw bytes of those lines.
//!
//! A counting global allocator measures the heap the store holds after appending `LINES`
//! generated dev-server lines (`brum_benches::corpus`), once under a budget that keeps them
//! all and once under the default 64 MiB budget (which evicts). It reports heap bytes per
//! retained line, the ratio to the raw text retained (what the processes printed, ANSI
//! included), the store's own accounting (`LogStoreStats::held_bytes`) next to the allocator's
//! figure, and the resident-set growth from /proc/self/statm.
//!
//!     cargo bench -p brum-benches --bench logmem
//!
//! BENCHMARKS.md records the figures.

use std::alloc::{GlobalAlloc, Layout, System};
use std::sync::Arc;
use std::sync::atomic::{AtomicIsize, Ordering};
use std::time::{Duration, SystemTime};

use brum_benches::corpus::{Corpus, PROCESSES};
use brum_core::bus::{ProcessRef, Stream};
use brum_core::logs::{LOG_STORE_BYTES_DEFAULT, LogStore, LogStoreConfig};
use brum_core::rt::Mono;

const LINES: usize = 1_000_000;

/// Bytes currently allocated through the global allocator.
static HEAP: AtomicIsize = AtomicIsize::new(0);

struct Counting;

#[expect(unsafe_code, reason = "a GlobalAlloc is unsafe by definition; this one only forwards to System and counts")]
// SAFETY: every method forwards to `System` with the caller's arguments unchanged, so it upholds
// exactly the contract `System` does; the counter is a side effect that cannot affect it.
unsafe impl GlobalAlloc for Counting {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        HEAP.fetch_add(layout.size() as isize, Ordering::Relaxed);
        // SAFETY: forwarded unchanged (see the impl).
        unsafe { System.alloc(layout) }
    }

    unsafe fn alloc_zeroed(&self, layout: Layout) -> *mut u8 {
        HEAP.fetch_add(layout.size() as isize, Ordering::Relaxed);
        // SAFETY: forwarded unchanged (see the impl).
        unsafe { System.alloc_zeroed(layout) }
    }

    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        HEAP.fetch_sub(layout.size() as isize, Ordering::Relaxed);
        // SAFETY: forwarded unchanged (see the impl).
        unsafe { System.dealloc(ptr, layout) }
    }

    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        HEAP.fetch_add(new_size as isize - layout.size() as isize, Ordering::Relaxed);
        // SAFETY: forwarded unchanged (see the impl).
        unsafe { System.realloc(ptr, layout, new_size) }
    }
}

#[global_allocator]
static ALLOCATOR: Counting = Counting;

fn heap() -> isize {
    HEAP.load(Ordering::Relaxed)
}

/// Resident set size in bytes (Linux), or 0 elsewhere.
fn rss() -> u64 {
    std::fs::read_to_string("/proc/self/statm")
        .ok()
        .and_then(|s| s.split_whitespace().nth(1).and_then(|p| p.parse::<u64>().ok()))
        .map_or(0, |pages| pages * 4096)
}

fn run(label: &str, budget: u64, processes: &[ProcessRef], fresh_process: bool) {
    let wall = SystemTime::UNIX_EPOCH + Duration::from_secs(1_800_000_000);
    let (heap_before, rss_before) = (heap(), rss());
    let mut store = LogStore::new(LogStoreConfig { budget_bytes: budget, max_line_bytes: 64 * 1024 });
    for (i, line) in Corpus::new(1).take(LINES).enumerate() {
        let stream = if line.stderr { Stream::Stderr } else { Stream::Stdout };
        let t = Duration::from_millis(i as u64 * 5);
        store.append(&processes[line.process], stream, Mono(t), wall + t, &line.text).expect("open store");
    }
    let held = (heap() - heap_before) as u64;
    let rss_growth = rss().saturating_sub(rss_before);
    let stats = store.stats();
    let raw: u64 = store.iter().map(|e| e.text().len() as u64).sum();
    let plain: u64 = store.iter().map(|e| e.plain().len() as u64).sum();
    let per_million = |bytes: u64| bytes as f64 / stats.entries as f64 * 1e6 / (1 << 20) as f64;
    println!("## {label}: budget {} MiB", budget >> 20);
    println!("retained lines:          {} of {LINES} (evicted {})", stats.entries, stats.evicted_entries);
    println!(
        "raw text retained:       {:.1} MiB ({:.1} B/line; plain {:.1} MiB)",
        mib(raw),
        raw as f64 / stats.entries as f64,
        mib(plain)
    );
    println!(
        "heap held by the store:  {:.1} MiB ({:.1} B/line, {:.1} MiB per million lines)",
        mib(held),
        held as f64 / stats.entries as f64,
        per_million(held)
    );
    println!(
        "store accounting:        {:.1} MiB (held_bytes; allocator / accounting = {:.3})",
        mib(stats.held_bytes),
        held as f64 / stats.held_bytes as f64
    );
    if fresh_process {
        println!(
            "resident-set growth:     {:.1} MiB ({:.1} MiB per million lines)",
            mib(rss_growth),
            per_million(rss_growth)
        );
        println!("RSS growth / raw:        {:.2}x", rss_growth as f64 / raw as f64);
    }
    println!("heap / raw retained:     {:.2}x", held as f64 / raw as f64);
    println!();
    drop(store);
}

fn mib(bytes: u64) -> f64 {
    bytes as f64 / (1 << 20) as f64
}

fn main() {
    let processes: Vec<ProcessRef> =
        PROCESSES.iter().enumerate().map(|(i, n)| ProcessRef::new(i as u64 + 1, Arc::from(*n))).collect();
    // RSS is only meaningful for the first run: the allocator keeps freed pages for the next.
    run("every line kept", 1 << 30, &processes, true);
    run("default budget", LOG_STORE_BYTES_DEFAULT, &processes, false);
}
