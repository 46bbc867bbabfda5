//! Run, sweep and replay scenarios. Everything a run prints is a function of the commit, the
//! scenario, the seed, the backend and the bus: no wall-clock time, no pids, no addresses.

use std::fmt;
use std::panic::{AssertUnwindSafe, catch_unwind};
use std::str::FromStr;
use std::sync::{Arc, Mutex};
use std::time::Duration;

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
    let cx = Cx { rt: rt.clone(), trace, seed: spec.seed, bus: spec.bus };
    let baseline = rt.metrics().gauge_total("tasks.live");
    let mut outcome = scenarios::body(spec.scenario.name, &cx, &programs).await;
    if outcome.is_ok() {
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
pub fn run(spec: RunSpec) -> Result<RunResult, HarnessError> {
    quiet_intentional_panics();
    let trace = Trace::new();
    let (outcome, metrics) = match spec.backend {
        Backend::Turmoil => run_turmoil(spec, trace.clone()),
        #[cfg(madsim)]
        Backend::Madsim => run_madsim(spec, trace.clone()),
        #[cfg(not(madsim))]
        Backend::Madsim => return Err(HarnessError::MadsimUnavailable),
    };
    Ok(RunResult { spec, hash: trace.hash(), trace: trace.render(), outcome, metrics })
}

/// The command that replays `spec`.
pub fn replay_command(spec: &RunSpec) -> String {
    let mut cmd =
        format!("brum sim run --scenario {} --seed {} --backend {}", spec.scenario.name, spec.seed, spec.backend);
    if spec.bus != BusKind::Real {
        cmd.push_str(&format!(" --bus {}", spec.bus.name()));
    }
    if spec.backend == Backend::Madsim {
        cmd = format!("RUSTFLAGS=\"--cfg madsim\" CARGO_TARGET_DIR=target/madsim cargo run -p brum -- {}", &cmd[5..]);
    }
    cmd
}

/// One line naming a failed run; `brum sim replay` takes it back.
pub fn failure_line(spec: &RunSpec, commit: &str, why: &str) -> String {
    format!(
        "FAIL {} seed={} backend={} bus={} commit={}: {}",
        spec.scenario.name,
        spec.seed,
        spec.backend,
        spec.bus.name(),
        commit,
        why.replace('\n', " ")
    )
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
    for w in words {
        let (k, v) = w.split_once('=').ok_or_else(|| bad(&format!("`{w}` is not key=value")))?;
        match k {
            "seed" => seed = Some(v.parse::<u64>().map_err(|_| bad(&format!("seed `{v}` is not a number")))?),
            "backend" => backend = v.parse().map_err(|e: String| bad(&e))?,
            "bus" => bus = v.parse().map_err(|e: String| bad(&e))?,
            "commit" => commit = v.to_string(),
            _ => return Err(bad(&format!("unknown field `{k}`"))),
        }
    }
    let seed = seed.ok_or_else(|| bad("no seed=N"))?;
    Ok((RunSpec { scenario, seed, backend, bus }, commit))
}

/// What a sweep found.
#[derive(Debug, Clone, Default)]
pub struct SweepSummary {
    pub runs: u64,
    pub failures: Vec<(RunSpec, String)>,
}

/// Runs `seeds` on `scenarios`; with `check_determinism`, each seed twice, comparing traces.
/// `jobs` threads share the work; `progress` is called after each seed.
pub fn sweep(
    scenarios: &[&'static Scenario],
    seeds: std::ops::Range<u64>,
    backend: Backend,
    bus: BusKind,
    check_determinism: bool,
    jobs: usize,
    progress: &(dyn Fn(u64) + Sync),
) -> Result<SweepSummary, HarnessError> {
    if !backend.available() {
        return Err(HarnessError::MadsimUnavailable);
    }
    let work: Vec<RunSpec> = scenarios
        .iter()
        .flat_map(|s| seeds.clone().map(move |seed| RunSpec { scenario: s, seed, backend, bus }))
        .collect();
    let next = std::sync::atomic::AtomicUsize::new(0);
    let failures = Mutex::new(Vec::new());
    let one = |spec: RunSpec| -> Option<String> {
        let a = run(spec).ok()?;
        if let Err(v) = &a.outcome {
            return Some(v.to_string());
        }
        if check_determinism {
            let b = run(spec).ok()?;
            if a.hash != b.hash {
                let d = crate::trace::first_divergence(&a.trace, &b.trace).unwrap_or_default();
                return Some(format!("nondeterministic: trace hash {:016x} then {:016x}; {d}", a.hash, b.hash));
            }
        }
        None
    };
    let worker = || loop {
        let i = next.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        let Some(spec) = work.get(i).copied() else { return };
        if let Some(why) = one(spec) {
            failures.lock().unwrap_or_else(|e| e.into_inner()).push((spec, why));
        }
        progress(1);
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
    let mut failures = failures.into_inner().unwrap_or_else(|e| e.into_inner());
    failures.sort_by_key(|(s, _)| (s.scenario.name, s.seed));
    Ok(SweepSummary { runs: work.len() as u64, failures })
}
