//! Discovery time as inputs grow, to show it stays linear and quick.
//!
//! - `procfile/10k`, `procfile/100k`: a Procfile of that many entries (every tenth a duplicate
//!   name) through `discover` over an in-memory tree. The duplicate check once scanned every
//!   earlier entry: 100,000 entries took 21 s. Linear means 100k takes about ten times 10k.
//! - `justfile/10k`, `justfile/100k`: the same for justfile recipes.
//! - `workspace/2000`, `workspace/10000`: an npm workspace (`packages/**`) of that many packages
//!   on the real file system (a temp dir, warm cache), each package with three source
//!   directories, through `discover` with the CLI's `StdFs`. 10,000 is `WORKSPACE_PACKAGES_MAX`.
//! - `glob_limit`: a `**` over a tree of more directories than `GLOB_DIRS_MAX`: the cost of the
//!   walk a glob gone wrong pays before it stops.
//!
//!     cargo bench -p brum-benches --bench discovery
//!
//! BENCHMARKS.md records the figures.

use std::fmt::Write as _;
use std::hint::black_box;
use std::path::Path;
use std::time::Duration;

use brum::project_fs::StdFs;
use brum_core::discovery::{Discovery, DiscoveryPrefs, GLOB_DIRS_MAX, MemFs, ProjectFs, discover};
use criterion::{BenchmarkId, Criterion, Throughput, criterion_group, criterion_main};

const SIZES: [(&str, usize); 2] = [("10k", 10_000), ("100k", 100_000)];

fn procfile(entries: usize) -> MemFs {
    let mut text = String::new();
    for i in 0..entries {
        let name = if i % 10 == 9 { i - 5 } else { i };
        writeln!(text, "p{name}: ./serve --port {i}").expect("write to a String");
    }
    MemFs::new().file("/p/Procfile", &text)
}

fn justfile(recipes: usize) -> MemFs {
    let mut text = String::new();
    for i in 0..recipes {
        let name = if i % 10 == 9 { i - 5 } else { i };
        writeln!(text, "r{name}:\n    echo {i}").expect("write to a String");
    }
    MemFs::new().file("/p/justfile", &text)
}

/// An npm workspace of `n` packages under `dir`.
fn workspace(dir: &Path, n: usize) {
    std::fs::write(dir.join("package.json"), r#"{ "private": true, "workspaces": ["packages/**"] }"#).expect("write");
    for i in 0..n {
        let pkg = dir.join(format!("packages/pkg-{i:05}"));
        for sub in ["src/lib", "src/ui", "test"] {
            std::fs::create_dir_all(pkg.join(sub)).expect("mkdir");
        }
        let json = format!(r#"{{ "name": "pkg-{i:05}", "scripts": {{ "dev": "vite", "build": "tsc -b" }} }}"#);
        std::fs::write(pkg.join("package.json"), json).expect("write");
    }
}

fn run(fs: &dyn ProjectFs, root: &Path) -> Discovery {
    discover(fs, root, &DiscoveryPrefs::default())
}

fn parsers(c: &mut Criterion) {
    for (group, make) in [("procfile", procfile as fn(usize) -> MemFs), ("justfile", justfile)] {
        let mut g = c.benchmark_group(group);
        g.sample_size(10).measurement_time(Duration::from_secs(3)).warm_up_time(Duration::from_secs(1));
        for (label, n) in SIZES {
            let fs = make(n);
            let found = run(&fs, Path::new("/p")).scripts().count();
            assert_eq!(found, n - n / 10, "{group}/{label}: every tenth entry is a duplicate");
            g.throughput(Throughput::Elements(n as u64));
            g.bench_function(BenchmarkId::from_parameter(label), |b| {
                b.iter(|| run(black_box(&fs), Path::new("/p")).sources.len())
            });
        }
        g.finish();
    }
}

fn workspaces(c: &mut Criterion) {
    let mut g = c.benchmark_group("workspace");
    g.sample_size(10).measurement_time(Duration::from_secs(5)).warm_up_time(Duration::from_secs(1));
    for n in [2_000, 10_000] {
        let tmp = tempfile::tempdir().expect("temp dir");
        workspace(tmp.path(), n);
        let d = run(&StdFs, tmp.path());
        assert!(d.diagnostics.is_empty(), "{:?}", d.diagnostics);
        assert_eq!(d.workspace.as_ref().map(|w| w.packages.len()), Some(n));
        g.throughput(Throughput::Elements(n as u64));
        g.bench_function(BenchmarkId::from_parameter(n), |b| {
            b.iter(|| run(&StdFs, black_box(tmp.path())).sources.len())
        });
    }
    g.finish();
}

fn glob_limit(c: &mut Criterion) {
    let tmp = tempfile::tempdir().expect("temp dir");
    std::fs::write(tmp.path().join("package.json"), r#"{ "workspaces": ["**"] }"#).expect("write");
    // 60 * 60 * 30 leaves and their parents: more than GLOB_DIRS_MAX listings.
    for i in 0..60 {
        for j in 0..60 {
            for k in 0..30 {
                std::fs::create_dir_all(tmp.path().join(format!("d{i}/e{j}/f{k}"))).expect("mkdir");
            }
        }
    }
    let d = run(&StdFs, tmp.path());
    assert!(d.diagnostics.iter().any(|e| e.message.contains("GLOB_DIRS_MAX")), "{:?}", d.diagnostics);
    let mut g = c.benchmark_group("glob_limit");
    g.sample_size(10).measurement_time(Duration::from_secs(10)).warm_up_time(Duration::from_secs(1));
    g.throughput(Throughput::Elements(GLOB_DIRS_MAX as u64));
    g.bench_function("100k_dirs", |b| b.iter(|| run(&StdFs, black_box(tmp.path())).diagnostics.len()));
    g.finish();
}

criterion_group!(benches, parsers, workspaces, glob_limit);
criterion_main!(benches);
