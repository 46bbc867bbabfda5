//! `brum sim ...`.

use std::io::Write;
use std::ops::ControlFlow;
use std::time::Instant;

use brum_sim::harness::{self, Backend, RunResult, RunSpec, Seeds};
use brum_sim::scenarios::{BusKind, SCENARIOS};

use crate::COMMIT;
use crate::args::{SimCommand, SimRunArgs, SweepArgs};
use crate::errors::{CliError, exit};

/// Runs a `brum sim` command, writing to `out`; returns the exit code.
pub fn run(cmd: SimCommand, out: &mut dyn Write) -> Result<i32, CliError> {
    match cmd {
        SimCommand::List { mutants: true } => {
            for m in brum_core::mutants::ALL {
                writeln!(out, "{m}")?;
            }
            Ok(exit::OK)
        }
        SimCommand::List { mutants: false } => {
            for s in SCENARIOS {
                writeln!(out, "{:<9} {}", s.name, s.race)?;
                writeln!(out, "{:<9} {}", "", s.summary)?;
            }
            Ok(exit::OK)
        }
        SimCommand::Run(a) => run_one(a, out),
        SimCommand::Sweep(a) => sweep(a, out),
        SimCommand::Explore(a) => {
            let backend: Backend = a.backend.into();
            // `all`: every race scenario (the conformance bodies have no race to explore).
            let scenarios: Vec<_> = if a.scenario.eq_ignore_ascii_case("all") {
                SCENARIOS.iter().filter(|s| s.name.starts_with("S-")).collect()
            } else {
                vec![harness::scenario(&a.scenario)?]
            };
            let mut failures = 0;
            for scenario in scenarios {
                let e = harness::explore(scenario, backend, BusKind::Real, a.from, a.seeds)?;
                let window = match e.window_hits {
                    Some(h) => format!("window hit in {h} ({:.0}%)", 100.0 * h as f64 / e.runs.max(1) as f64),
                    None => "window not measured by this scenario".to_string(),
                };
                writeln!(
                    out,
                    "explored {} x seeds {}..{} on {}: {} runs, {} failures, {} distinct orderings, {window}",
                    scenario.name,
                    a.from,
                    a.from + a.seeds,
                    backend,
                    e.runs,
                    e.failures,
                    e.orderings
                )?;
                failures += e.failures;
            }
            Ok(if failures == 0 { exit::OK } else { exit::FAILURE })
        }
        SimCommand::Replay { line, metrics } => {
            let (spec, commit) = harness::parse_failure_line(&line)?;
            if commit != COMMIT {
                writeln!(
                    out,
                    "note: the line names commit {commit}, this is {COMMIT}; a seed replays exactly only on its own commit"
                )?;
            }
            print_run(spec, metrics, out)
        }
    }
}

fn run_one(a: SimRunArgs, out: &mut dyn Write) -> Result<i32, CliError> {
    let spec = RunSpec {
        scenario: harness::scenario(&a.scenario)?,
        seed: a.seed,
        backend: a.backend.into(),
        bus: a.bus.into(),
        mutant: a.mutant.as_deref().map(harness::mutant_named).transpose()?,
    };
    print_run(spec, a.metrics, out)
}

/// Prints a run: a pure function of commit, scenario, seed, backend and bus.
fn print_run(spec: RunSpec, metrics: bool, out: &mut dyn Write) -> Result<i32, CliError> {
    let r: RunResult = harness::run(spec)?;
    let s = r.spec;
    writeln!(
        out,
        "scenario {} ({}) seed {} backend {} bus {} commit {COMMIT}",
        s.scenario.name,
        s.scenario.race,
        s.seed,
        s.backend,
        s.bus.name()
    )?;
    writeln!(out, "--- trace: {} lines, hash {:016x}", r.trace.lines().count(), r.hash)?;
    out.write_all(r.trace.as_bytes())?;
    if metrics {
        writeln!(out, "--- metrics")?;
        write!(out, "{}", r.metrics)?;
    }
    match &r.outcome {
        Ok(()) => {
            writeln!(out, "pass")?;
            Ok(exit::OK)
        }
        Err(v) => {
            writeln!(out, "{}", harness::failure_line(&s, COMMIT, &v.to_string()))?;
            writeln!(out, "  replay: {}", harness::replay_command(&s))?;
            Ok(exit::FAILURE)
        }
    }
}

fn sweep(a: SweepArgs, out: &mut dyn Write) -> Result<i32, CliError> {
    // Checked before anything runs: a range past u64::MAX would wrap, and a huge count would
    // run until killed.
    let seeds = Seeds::new(a.from, a.seeds)?;
    let backend = Backend::from(a.backend);
    let bus = BusKind::from(a.bus);
    let mutant = a.mutant.as_deref().map(harness::mutant_named).transpose()?;
    let scenarios: Vec<_> = if a.scenario.eq_ignore_ascii_case("all") {
        SCENARIOS.iter().collect()
    } else {
        vec![harness::scenario(&a.scenario)?]
    };
    let jobs = match backend {
        // madsim's executor is per-thread but its libc overrides are process-wide: one job.
        Backend::Madsim => 1,
        Backend::Turmoil => a.jobs.unwrap_or_else(|| std::thread::available_parallelism().map_or(1, |n| n.get())),
    };
    // No overflow: at most SWEEP_SEEDS_MAX (2^40) seeds for each of a few dozen scenarios.
    let total = scenarios.len() as u64 * seeds.count();
    let bar = indicatif::ProgressBar::new(total);
    bar.set_style(
        indicatif::ProgressStyle::with_template("{spinner} sweep [{bar:30}] {pos}/{len} runs {per_sec} eta {eta}")
            .unwrap_or_else(|_| indicatif::ProgressStyle::default_bar())
            .progress_chars("=> "),
    );
    if std::env::var_os("CI").is_some() {
        bar.set_draw_target(indicatif::ProgressDrawTarget::hidden());
    }
    let started = Instant::now();
    let opts = harness::SweepOptions { backend, bus, mutant, check_determinism: a.check_determinism, jobs };
    let summary = harness::sweep(&scenarios, seeds, opts, &|n| {
        bar.inc(n);
        ControlFlow::Continue(())
    })?;
    bar.finish_and_clear();
    let secs = started.elapsed().as_secs_f64();
    let names: Vec<&str> = scenarios.iter().map(|s| s.name).collect();
    writeln!(
        out,
        "swept {} x seeds {}..{} on {backend} (bus {}{}{}): {} runs in {secs:.1}s, {:.0} seeds/s, {} failures",
        names.join(","),
        seeds.first(),
        seeds.end(),
        bus.name(),
        mutant.map(|m| format!(", mutant {m}")).unwrap_or_default(),
        if a.check_determinism { ", each seed twice, traces compared" } else { "" },
        summary.runs,
        summary.runs as f64 / secs.max(1e-9),
        summary.failure_count()
    )?;
    if a.speed {
        for s in &summary.per_scenario {
            writeln!(
                out,
                "speed {:<9} {:>8.0} seeds/s per core ({} seeds in {:.2}s of runs)",
                s.name,
                s.seeds_per_core_second(),
                s.runs,
                s.busy.as_secs_f64()
            )?;
        }
    }
    for (spec, why) in &summary.failures {
        writeln!(out, "{}", harness::failure_line(spec, COMMIT, why))?;
        writeln!(out, "  replay: {}", harness::replay_command(spec))?;
    }
    if summary.failures_not_kept > 0 {
        writeln!(
            out,
            "... and {} more failures, not listed (the first {} by scenario and seed are)",
            summary.failures_not_kept,
            summary.failures.len()
        )?;
    }
    Ok(if summary.failure_count() == 0 { exit::OK } else { exit::FAILURE })
}
