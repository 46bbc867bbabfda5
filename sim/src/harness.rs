//! Run, sweep and replay scenarios. Everything a run prints is a function of the commit, the
//! scenario, the seed, the backend and the bus: no wall-clock time, no pids, no addresses.

use std::collections::BTreeMap;
use std::fmt;
use std::ops::ControlFlow;
use std::panic::{AssertUnwindSafe, catch_unwind};
use std::str::FromStr;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use crate::trace::fnv1a;
use brum_core::metrics::MetricsSnapshot;
use brum_core::rt::Runtime;

use crate::conformance::Programs;
use crate::rt::{Noise, SimBackend, SimRuntime};
use crate::scenarios::{self, BusKind, Cx, Outcome, Scenario, check_task_leaks, violation};
use crate::trace::Trace;

/// Which simulator runs a scenario.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Backend {
    Turmoil,
    Madsim,
}

impl Backend {
    pub fn name(self) -> &'static str {
        match self {
            Backend::Turmoil => "turmoil",
            Backend::Madsim => "madsim",
        }
    }

    /// Whether this build can run the backend (madsim needs a `--cfg madsim` build).
    pub fn available(self) -> bool {
        match self {
            Backend::Turmoil => true,
            Backend::Madsim => cfg!(madsim),
        }
    }
}

impl fmt::Display for Backend {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

impl FromStr for Backend {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, String> {
        match s {
            "turmoil" => Ok(Backend::Turmoil),
            "madsim" => Ok(Backend::Madsim),
            _ => Err(format!("unknown backend `{s}` (expected turmoil or madsim)")),
        }
    }
}

impl FromStr for BusKind {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, String> {
        match s {
            "real" => Ok(BusKind::Real),
            "faulty" => Ok(BusKind::Faulty),
            _ => Err(format!("unknown bus `{s}` (expected real or faulty)")),
        }
    }
}

/// One run's inputs.
#[derive(Debug, Clone, Copy)]
pub struct RunSpec {
    pub scenario: &'static Scenario,
    pub seed: u64,
    pub backend: Backend,
    pub bus: BusKind,
    /// A planted bug switched on for this run (`brum_core::mutants`), or none.
    pub mutant: Option<&'static str>,
}

/// One run's outputs.
#[derive(Debug, Clone)]
pub struct RunResult {
    pub spec: RunSpec,
    pub trace: String,
    pub hash: u64,
    pub outcome: Outcome,
    pub metrics: MetricsSnapshot,
}

/// Why a run could not start.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum HarnessError {
    #[error("unknown scenario `{name}`; known: {known}")]
    UnknownScenario { name: String, known: String },
    #[error(
        "the madsim backend needs a madsim build: RUSTFLAGS=\"--cfg madsim\" CARGO_TARGET_DIR=target/madsim cargo run -p brum -- sim ..."
    )]
    MadsimUnavailable,
    #[error("cannot parse failure line `{line}`: {reason}")]
    BadFailureLine { line: String, reason: String },
    #[error("unknown mutant `{name}`; known: {known}")]
    UnknownMutant { name: String, known: String },
}

pub fn scenario(name: &str) -> Result<&'static Scenario, HarnessError> {
    scenarios::find(name).ok_or_else(|| HarnessError::UnknownScenario {
        name: name.to_string(),
        known: scenarios::SCENARIOS.iter().map(|s| s.name).collect::<Vec<_>>().join(", "),
    })
}

fn panic_text(p: &(dyn std::any::Any + Send)) -> String {
    p.downcast_ref::<&str>()
        .map(|s| s.to_string())
        .or_else(|| p.downcast_ref::<String>().cloned())
        .unwrap_or_else(|| "non-string panic".to_string())
}

/// The part of a run that is the same under every simulator.
async fn drive<B: SimBackend + Clone>(backend: B, spec: RunSpec, trace: Trace) -> (Outcome, MetricsSnapshot) {
    let rt = SimRuntime::new(backend, spec.seed, Noise::default());
    let programs = Programs::simulated(rt.processes());
    let cx = Cx { rt: rt.clone(), trace, seed: spec.seed, bus: spec.bus, faults: Some(rt.faults().clone()) };
    let baseline = rt.metrics().gauge_total("tasks.live");
    let mut outcome = scenarios::body(spec.scenario.name, &cx, &programs).await;
    // After a crash brum's tasks are frozen where they were, as in a dead process: only what
    // the scenario's guardian left running counts.
    if outcome.is_ok() && !rt.faults().crashed() {
        outcome = check_task_leaks(rt.metrics(), baseline);
    }
    if outcome.is_ok() {
        let live = rt.processes().live_pids();
        if !live.is_empty() {
            outcome = Err(violation("I11 no orphans", format!("simulated processes still running: {live:?}")));
        }
    }
    cx.log(
        "scenario",
        "end",
        match &outcome {
            Ok(()) => "pass".to_string(),
            Err(v) => format!("FAIL {v}"),
        },
    );
    (outcome, rt.metrics().snapshot())
}

fn run_turmoil(spec: RunSpec, trace: Trace) -> (Outcome, MetricsSnapshot) {
    let slot: Arc<Mutex<Option<(Outcome, MetricsSnapshot)>>> = Arc::default();
    let mut sim = turmoil::Builder::new()
        .rng_seed(spec.seed)
        .epoch(std::time::UNIX_EPOCH + Duration::from_secs(crate::rt::SIM_EPOCH_SECS))
        .simulation_duration(spec.scenario.budget)
        .tick_duration(Duration::from_millis(1))
        .build();
    let out = slot.clone();
    sim.client("brum", async move {
        let r = drive(crate::rt::Turmoil::new(), spec, trace).await;
        *out.lock().unwrap_or_else(|e| e.into_inner()) = Some(r);
        Ok(())
    });
    let ran = catch_unwind(AssertUnwindSafe(|| sim.run()));
    let result = slot.lock().unwrap_or_else(|e| e.into_inner()).take();
    match (ran, result) {
        (Ok(Ok(())), Some(r)) => r,
        (Ok(Err(e)), _) => {
            (Err(violation("I39 liveness", format!("simulation did not finish: {e}"))), MetricsSnapshot::default())
        }
        (Err(p), _) => (Err(violation("panic", panic_text(&*p))), MetricsSnapshot::default()),
        (Ok(Ok(())), None) => {
            (Err(violation("harness", "client finished without a result")), MetricsSnapshot::default())
        }
    }
}

#[cfg(madsim)]
fn run_madsim(spec: RunSpec, trace: Trace) -> (Outcome, MetricsSnapshot) {
    let mut rt = madsim::runtime::Runtime::with_seed_and_config(spec.seed, madsim::Config::default());
    rt.set_time_limit(spec.scenario.budget);
    match catch_unwind(AssertUnwindSafe(|| {
        rt.block_on(async move { drive(crate::rt::Madsim::new(), spec, trace).await })
    })) {
        Ok(r) => r,
        Err(p) => (Err(violation("I39 liveness / panic", panic_text(&*p))), MetricsSnapshot::default()),
    }
}

/// Scenarios panic on purpose (S-E9, C-spawn) to prove isolation; keep those off stderr,
/// and leave every other panic to the previous hook.
pub fn quiet_intentional_panics() {
    static ONCE: std::sync::Once = std::sync::Once::new();
    ONCE.call_once(|| {
        let previous = std::panic::take_hook();
        std::panic::set_hook(Box::new(move |info| {
            let msg = info
                .payload()
                .downcast_ref::<String>()
                .map(String::as_str)
                .or_else(|| info.payload().downcast_ref::<&str>().copied())
                .unwrap_or("");
            if !msg.contains("intentional panic") {
                previous(info);
            }
        }));
    });
}

/// Runs one scenario with one seed.
/// What `explore` measured over a range of seeds.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Exploration {
    pub runs: u64,
    pub failures: u64,
    /// Distinct event orderings: traces compared without their times.
    pub orderings: usize,
    /// Runs whose trace records the scenario's race window as hit (`window hit`), if the
    /// scenario measures one.
    pub window_hits: Option<u64>,
}

/// A trace without its times: what `explore` counts distinct orderings of.
pub fn ordering_of(trace: &str) -> String {
    trace
        .lines()
        .map(|l| {
            let mut parts = l.split_whitespace();
            let seq = parts.next().unwrap_or("");
            let _time = parts.next();
            format!("{seq} {}", parts.collect::<Vec<_>>().join(" "))
        })
        .collect::<Vec<_>>()
        .join("\n")
}

/// Runs `seeds` seeds of `scenario` from `from` and counts distinct orderings and how often
/// the race's window was hit (a scenario states its own measure with `cx.log("window", "hit",
/// ..)`).
pub fn explore(
    scenario: &'static Scenario,
    backend: Backend,
    bus: BusKind,
    from: u64,
    seeds: u64,
) -> Result<Exploration, HarnessError> {
    let mut orderings = std::collections::BTreeSet::new();
    let (mut failures, mut hits, mut measured) = (0u64, 0u64, false);
    for seed in from..from + seeds {
        let r = run(RunSpec { scenario, seed, backend, bus, mutant: None })?;
        failures += u64::from(r.outcome.is_err());
        orderings.insert(fnv1a(ordering_of(&r.trace).as_bytes()));
        // A trace line: `seq time component kind detail`.
        let window: Vec<Option<&str>> = r
            .trace
            .lines()
            .filter(|l| l.split_whitespace().nth(2) == Some("window"))
            .map(|l| l.split_whitespace().nth(3))
            .collect();
        measured |= !window.is_empty();
        hits += u64::from(window.contains(&Some("hit")));
    }
    Ok(Exploration { runs: seeds, failures, orderings: orderings.len(), window_hits: measured.then_some(hits) })
}

pub fn run(spec: RunSpec) -> Result<RunResult, HarnessError> {
    quiet_intentional_panics();
    let trace = Trace::new();
    let (outcome, metrics) = brum_core::mutants::with(spec.mutant, || match spec.backend {
        Backend::Turmoil => Ok(run_turmoil(spec, trace.clone())),
        #[cfg(madsim)]
        Backend::Madsim => Ok(run_madsim(spec, trace.clone())),
        #[cfg(not(madsim))]
        Backend::Madsim => Err(HarnessError::MadsimUnavailable),
    })?;
    Ok(RunResult { spec, hash: trace.hash(), trace: trace.render(), outcome, metrics })
}

/// The command that replays `spec`.
pub fn replay_command(spec: &RunSpec) -> String {
    let mut cmd =
        format!("brum sim run --scenario {} --seed {} --backend {}", spec.scenario.name, spec.seed, spec.backend);
    if spec.bus != BusKind::Real {
        cmd.push_str(&format!(" --bus {}", spec.bus.name()));
    }
    if let Some(m) = spec.mutant {
        cmd.push_str(&format!(" --mutant {m}"));
    }
    if spec.backend == Backend::Madsim {
        cmd = format!("RUSTFLAGS=\"--cfg madsim\" CARGO_TARGET_DIR=target/madsim cargo run -p brum -- {}", &cmd[5..]);
    }
    cmd
}

/// One line naming a failed run; `brum sim replay` takes it back.
pub fn failure_line(spec: &RunSpec, commit: &str, why: &str) -> String {
    let mutant = spec.mutant.map(|m| format!(" mutant={m}")).unwrap_or_default();
    format!(
        "FAIL {} seed={} backend={} bus={}{mutant} commit={}: {}",
        spec.scenario.name,
        spec.seed,
        spec.backend,
        spec.bus.name(),
        commit,
        why.replace('\n', " ")
    )
}

/// The mutant called `name` (see `brum_core::mutants::ALL`).
pub fn mutant_named(name: &str) -> Result<&'static str, HarnessError> {
    brum_core::mutants::ALL.iter().copied().find(|m| *m == name).ok_or_else(|| HarnessError::UnknownMutant {
        name: name.to_string(),
        known: brum_core::mutants::ALL.join(", "),
    })
}

/// Parses a failure line back into a run spec, and the commit it names.
pub fn parse_failure_line(line: &str) -> Result<(RunSpec, String), HarnessError> {
    let bad = |reason: &str| HarnessError::BadFailureLine { line: line.to_string(), reason: reason.to_string() };
    let head = line.split(": ").next().unwrap_or(line);
    let mut words = head.split_whitespace();
    let first = words.next().ok_or_else(|| bad("it is empty"))?;
    let name = if first == "FAIL" { words.next().ok_or_else(|| bad("no scenario after FAIL"))? } else { first };
    let scenario = scenario(name).map_err(|e| bad(&e.to_string()))?;
    let (mut seed, mut backend, mut bus, mut commit) = (None, Backend::Turmoil, BusKind::Real, String::from("unknown"));
    let mut mutant = None;
    for w in words {
        let (k, v) = w.split_once('=').ok_or_else(|| bad(&format!("`{w}` is not key=value")))?;
        match k {
            "seed" => seed = Some(v.parse::<u64>().map_err(|_| bad(&format!("seed `{v}` is not a number")))?),
            "backend" => backend = v.parse().map_err(|e: String| bad(&e))?,
            "bus" => bus = v.parse().map_err(|e: String| bad(&e))?,
            "commit" => commit = v.to_string(),
            "mutant" => mutant = Some(mutant_named(v).map_err(|e| bad(&e.to_string()))?),
            _ => return Err(bad(&format!("unknown field `{k}`"))),
        }
    }
    let seed = seed.ok_or_else(|| bad("no seed=N"))?;
    Ok((RunSpec { scenario, seed, backend, bus, mutant }, commit))
}

/// Seeds one sweep may run per scenario: 2^40, about 1.1 * 10^12. The fastest scenario
/// (C-sleep) sweeps about 4,400 seeds/s on one core of a debug build, so that is some eight
/// core-years: above it a count is a typo (such as `--seeds 18446744073709551615`), not a
/// plan, and gets a usage error instead of a sweep that runs until killed. Times the few dozen
/// scenarios of `--scenario all`, the run count stays far inside a `u64`.
pub const SWEEP_SEEDS_MAX: u64 = 1 << 40;

/// Failures a sweep keeps to report: the first this many by (scenario, seed). The rest are
/// counted in [`SweepSummary::failures_not_kept`]. A broken scenario fails every seed, and two
/// hundred lines (each failure prints its replay command too) is more than anyone reads; the
/// cap keeps a sweep's memory the same for any number of seeds.
pub const SWEEP_FAILURES_KEPT: usize = 100;

/// The seeds a sweep runs: `count` seeds from `first`, the last at most `u64::MAX`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Seeds {
    first: u64,
    count: u64,
}

/// Why a seed range cannot be swept. The messages name the `brum sim sweep` flags.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SeedsError {
    #[error(
        "--from {from} --seeds {count} runs past the last seed, {last}: at most {room} seeds start at {from}",
        last = u64::MAX,
        room = u128::from(u64::MAX - .from) + 1
    )]
    PastLastSeed { from: u64, count: u64 },
    #[error("--seeds {count} is more than a sweep runs (at most {SWEEP_SEEDS_MAX} seeds per scenario)")]
    TooMany { count: u64 },
}

impl Seeds {
    /// `count` seeds from `first`; the last must fit in a `u64`.
    pub fn new(first: u64, count: u64) -> Result<Seeds, SeedsError> {
        if count > SWEEP_SEEDS_MAX {
            return Err(SeedsError::TooMany { count });
        }
        if count > 0 && first.checked_add(count - 1).is_none() {
            return Err(SeedsError::PastLastSeed { from: first, count });
        }
        Ok(Seeds { first, count })
    }

    pub fn first(self) -> u64 {
        self.first
    }

    pub fn count(self) -> u64 {
        self.count
    }

    /// One past the last seed (a `u128`: the range may end at `u64::MAX`).
    pub fn end(self) -> u128 {
        self.first as u128 + self.count as u128
    }

    /// The seeds in order, made one at a time.
    pub fn iter(self) -> impl Iterator<Item = u64> + Clone + Send {
        // No overflow: `new` checked that the last seed fits.
        (0..self.count).map(move |i| self.first + i)
    }
}

/// How a sweep runs its seeds.
#[derive(Debug, Clone, Copy)]
pub struct SweepOptions {
    pub backend: Backend,
    pub bus: BusKind,
    /// A planted bug switched on in every run, or none.
    pub mutant: Option<&'static str>,
    /// Run each seed twice and compare the traces.
    pub check_determinism: bool,
    /// Worker threads.
    pub jobs: usize,
}

impl SweepOptions {
    /// One thread, the real bus, no mutant, no determinism check.
    pub fn on(backend: Backend) -> Self {
        SweepOptions { backend, bus: BusKind::Real, mutant: None, check_determinism: false, jobs: 1 }
    }
}

/// What a sweep found.
#[derive(Debug, Clone, Default)]
pub struct SweepSummary {
    pub runs: u64,
    /// The failures kept (at most [`SWEEP_FAILURES_KEPT`]: the first by scenario name, then
    /// seed), in that order.
    pub failures: Vec<(RunSpec, String)>,
    /// Failures found beyond the ones kept.
    pub failures_not_kept: u64,
    /// Each scenario's runs and the time its runs took, by name (wall-clock time: for the
    /// report's seeds/s only, never in a trace).
    pub per_scenario: Vec<ScenarioSpeed>,
}

/// How fast a sweep ran one scenario.
#[derive(Debug, Clone, Copy)]
pub struct ScenarioSpeed {
    pub name: &'static str,
    pub runs: u64,
    /// The time its runs took, summed over the worker threads.
    pub busy: Duration,
}

impl ScenarioSpeed {
    /// Seeds per second on one core (each seed once, even when checked for determinism: the
    /// second run is counted in `busy`, so a checked sweep reports half the rate).
    pub fn seeds_per_core_second(&self) -> f64 {
        self.runs as f64 / self.busy.as_secs_f64().max(1e-9)
    }
}

impl SweepSummary {
    /// Every failure found, kept or not.
    pub fn failure_count(&self) -> u64 {
        self.failures.len() as u64 + self.failures_not_kept
    }
}

/// The failures of a sweep: the first `keep` by (scenario name, seed), and a count of the rest.
/// Which ones are kept does not depend on the order they arrive in, so the report does not
/// depend on thread timing.
#[derive(Debug)]
struct Failures {
    keep: usize,
    kept: BTreeMap<(&'static str, u64), (RunSpec, String)>,
    not_kept: u64,
}

impl Failures {
    fn new(keep: usize) -> Self {
        Failures { keep, kept: BTreeMap::new(), not_kept: 0 }
    }

    fn add(&mut self, spec: RunSpec, why: String) {
        self.kept.insert((spec.scenario.name, spec.seed), (spec, why));
        if self.kept.len() > self.keep {
            self.kept.pop_last();
            self.not_kept += 1;
        }
    }
}

/// What a sweep says of one run (`run` makes it): `None` for a pass, or why it failed. A run
/// the harness could not make is a failure, never a pass.
fn judge(
    spec: RunSpec,
    check_determinism: bool,
    run: &dyn Fn(RunSpec) -> Result<RunResult, HarnessError>,
) -> Option<String> {
    let a = match run(spec) {
        Ok(a) => a,
        Err(e) => return Some(format!("harness: {e}")),
    };
    if let Err(v) = &a.outcome {
        return Some(v.to_string());
    }
    if check_determinism {
        let b = match run(spec) {
            Ok(b) => b,
            Err(e) => return Some(format!("harness: {e}")),
        };
        if a.hash != b.hash {
            let d = crate::trace::first_divergence(&a.trace, &b.trace).unwrap_or_default();
            return Some(format!("nondeterministic: trace hash {:016x} then {:016x}; {d}", a.hash, b.hash));
        }
    }
    None
}

/// Runs `seeds` on `scenarios`; with `check_determinism`, each seed twice, comparing traces.
/// `jobs` threads share the work, taking one run at a time from a lazy iterator: nothing is
/// made per seed before its run, so memory does not grow with the number of seeds.
/// `progress` is called after each run; when it breaks, the workers stop taking runs and the
/// summary covers the runs done.
pub fn sweep(
    scenarios: &[&'static Scenario],
    seeds: Seeds,
    opts: SweepOptions,
    progress: &(dyn Fn(u64) -> ControlFlow<()> + Sync),
) -> Result<SweepSummary, HarnessError> {
    let SweepOptions { backend, bus, mutant, check_determinism, jobs } = opts;
    if !backend.available() {
        return Err(HarnessError::MadsimUnavailable);
    }
    let work = Mutex::new(
        scenarios
            .iter()
            .flat_map(move |s| seeds.iter().map(move |seed| RunSpec { scenario: s, seed, backend, bus, mutant })),
    );
    let stop = AtomicBool::new(false);
    let runs = AtomicU64::new(0);
    let failures = Mutex::new(Failures::new(SWEEP_FAILURES_KEPT));
    let timing: Mutex<BTreeMap<&'static str, (u64, Duration)>> = Mutex::default();
    let one = |spec: RunSpec| judge(spec, check_determinism, &run);
    let worker = || {
        while !stop.load(Ordering::Relaxed) {
            // The lock is held only to take the next spec, never across a run.
            let next = work.lock().unwrap_or_else(|e| e.into_inner()).next();
            let Some(spec) = next else { return };
            let started = std::time::Instant::now();
            let failed = one(spec);
            let took = started.elapsed();
            {
                let mut t = timing.lock().unwrap_or_else(|e| e.into_inner());
                let row = t.entry(spec.scenario.name).or_default();
                row.0 += 1;
                row.1 += took;
            }
            if let Some(why) = failed {
                failures.lock().unwrap_or_else(|e| e.into_inner()).add(spec, why);
            }
            runs.fetch_add(1, Ordering::Relaxed);
            if progress(1).is_break() {
                stop.store(true, Ordering::Relaxed);
            }
        }
    };
    if jobs <= 1 {
        worker();
    } else {
        std::thread::scope(|s| {
            for _ in 0..jobs {
                s.spawn(worker);
            }
        });
    }
    let failures = failures.into_inner().unwrap_or_else(|e| e.into_inner());
    let timing = timing.into_inner().unwrap_or_else(|e| e.into_inner());
    Ok(SweepSummary {
        runs: runs.into_inner(),
        per_scenario: timing.into_iter().map(|(name, (runs, busy))| ScenarioSpeed { name, runs, busy }).collect(),
        failures: failures.kept.into_values().collect(),
        failures_not_kept: failures.not_kept,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn seeds_may_end_at_u64_max_but_not_past_it() {
        let s = Seeds::new(u64::MAX - 5, 6).unwrap();
        assert_eq!(s.iter().collect::<Vec<_>>(), (u64::MAX - 5..=u64::MAX).collect::<Vec<_>>());
        assert_eq!(s.end(), u64::MAX as u128 + 1);
        assert_eq!(Seeds::new(u64::MAX, 1).unwrap().iter().collect::<Vec<_>>(), [u64::MAX]);
        assert_eq!(Seeds::new(u64::MAX, 0).unwrap().iter().count(), 0);
        assert_eq!(
            Seeds::new(u64::MAX - 9, 11).unwrap_err(),
            SeedsError::PastLastSeed { from: u64::MAX - 9, count: 11 }
        );
        assert_eq!(Seeds::new(u64::MAX - 5, 7).unwrap_err(), SeedsError::PastLastSeed { from: u64::MAX - 5, count: 7 });
        assert_eq!(Seeds::new(0, SWEEP_SEEDS_MAX).unwrap().count(), SWEEP_SEEDS_MAX);
        assert_eq!(Seeds::new(0, SWEEP_SEEDS_MAX + 1).unwrap_err(), SeedsError::TooMany { count: SWEEP_SEEDS_MAX + 1 });
    }

    /// Bug: `sweep` collected a `RunSpec` for every (scenario, seed) before the first run, so
    /// `--seeds 100000000` allocated 4.8 GB up front and `--seeds 18446744073709551615` died of
    /// a capacity overflow. Here, 2^40 seeds of every scenario (about 2.5 * 10^13 runs, petabytes
    /// if collected): the sweep starts at once and stops when asked.
    #[test]
    fn sweep_streams_seeds_instead_of_allocating_every_run_up_front() {
        let all: Vec<_> = scenarios::SCENARIOS.iter().collect();
        let seeds = Seeds::new(0, SWEEP_SEEDS_MAX).unwrap();
        for jobs in [1, 2] {
            let done = AtomicU64::new(0);
            let summary = sweep(&all, seeds, SweepOptions { jobs, ..SweepOptions::on(Backend::Turmoil) }, &|n| {
                if done.fetch_add(n, Ordering::Relaxed) + n >= 3 {
                    ControlFlow::Break(())
                } else {
                    ControlFlow::Continue(())
                }
            })
            .unwrap();
            // A worker in the middle of a run when another asks to stop finishes that run.
            assert!((3..3 + jobs as u64).contains(&summary.runs), "jobs {jobs}: {} runs", summary.runs);
            assert_eq!(summary.failure_count(), 0, "{:?}", summary.failures);
        }
    }

    /// The audit found a sweep dropped a run the harness could not make (`run(..).ok()?`):
    /// counted as a pass. Whether it fails first or on the determinism rerun, it is a failure.
    #[test]
    fn a_harness_error_is_a_failure_not_a_pass() {
        let spec = RunSpec {
            scenario: scenario("S-E4").unwrap(),
            seed: 3,
            backend: Backend::Turmoil,
            bus: BusKind::Real,
            mutant: None,
        };
        let broken = |_| Err(HarnessError::MadsimUnavailable);
        let why = judge(spec, false, &broken).expect("a harness error passed");
        assert!(why.starts_with("harness: the madsim backend needs"), "{why}");
        let calls = AtomicU64::new(0);
        let second_breaks =
            |s| if calls.fetch_add(1, Ordering::Relaxed) == 0 { run(s) } else { Err(HarnessError::MadsimUnavailable) };
        assert!(judge(spec, true, &second_breaks).is_some_and(|w| w.starts_with("harness: ")));
        assert_eq!(judge(spec, true, &run), None);
    }

    #[test]
    fn a_sweep_keeps_the_first_failures_by_scenario_and_seed_and_counts_the_rest() {
        let [a, b] = ["S-E4", "S-P3"].map(|n| scenario(n).unwrap());
        let spec = |s: &'static Scenario, seed| RunSpec {
            scenario: s,
            seed,
            backend: Backend::Turmoil,
            bus: BusKind::Real,
            mutant: None,
        };
        let mut f = Failures::new(3);
        // Arrival order (thread timing) must not matter: later-sorting ones first.
        for (s, seed) in [(b, 1), (a, 9), (b, 0), (a, 7), (a, 8), (a, 2)] {
            f.add(spec(s, seed), format!("{} {seed}", s.name));
        }
        let kept: Vec<_> = f.kept.values().map(|(s, why)| (s.scenario.name, s.seed, why.clone())).collect();
        assert_eq!(kept, [("S-E4", 2, "S-E4 2".into()), ("S-E4", 7, "S-E4 7".into()), ("S-E4", 8, "S-E4 8".into())]);
        assert_eq!(f.not_kept, 3);
    }
}
