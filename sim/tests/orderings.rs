//! Event orderings of two fixed seeds per scenario, pinned with insta (turmoil backend), and
//! the determinism checks: the same seed twice gives the same bytes; different seeds differ.

use std::ops::ControlFlow;

use brum_sim::harness::{self, Backend, RunSpec, Seeds, SweepOptions};
use brum_sim::scenarios::{BusKind, SCENARIOS};

fn run(name: &str, seed: u64) -> harness::RunResult {
    let spec = RunSpec {
        scenario: harness::scenario(name).unwrap(),
        seed,
        backend: Backend::Turmoil,
        bus: BusKind::Real,
        mutant: None,
    };
    harness::run(spec).unwrap()
}

#[test]
fn event_orderings_of_fixed_seeds() {
    for s in SCENARIOS.iter().filter(|s| s.name.starts_with("S-")) {
        for seed in [1u64, 2] {
            let r = run(s.name, seed);
            assert!(r.outcome.is_ok(), "{} seed {seed}: {:?}", s.name, r.outcome);
            insta::with_settings!({ snapshot_suffix => format!("{}_turmoil_seed{seed}", s.name) }, {
                insta::assert_snapshot!("ordering", r.trace);
            });
        }
    }
}

#[test]
fn same_seed_same_trace_bytes() {
    for s in SCENARIOS {
        for seed in 0..8 {
            let (a, b) = (run(s.name, seed), run(s.name, seed));
            assert_eq!(
                a.hash,
                b.hash,
                "{} seed {seed} diverged:\n{}",
                s.name,
                brum_sim::trace::first_divergence(&a.trace, &b.trace).unwrap_or_default()
            );
            assert_eq!(a.trace, b.trace);
        }
    }
}

/// Negative control: the trace records scheduling choices, so seeds must be told apart.
#[test]
fn different_seeds_give_different_traces() {
    for name in ["S-E4", "S-E2", "S-E6"] {
        let hashes: std::collections::BTreeSet<u64> = (0..16).map(|seed| run(name, seed).hash).collect();
        assert!(hashes.len() > 1, "{name}: 16 seeds gave one trace; the seed does not reach the schedule");
    }
}

#[test]
fn faulty_bus_is_caught_by_the_s_e4_oracle_under_turmoil() {
    let s = harness::scenario("S-E4").unwrap();
    let summary = harness::sweep(
        &[s],
        Seeds::new(0, 200).unwrap(),
        SweepOptions { bus: BusKind::Faulty, ..SweepOptions::on(Backend::Turmoil) },
        &|_| ControlFlow::Continue(()),
    )
    .unwrap();
    assert!(!summary.failures.is_empty(), "200 seeds of S-E4 did not catch Brummer's shared-queue bus");
    let (spec, why) = &summary.failures[0];
    assert!(why.contains("I3"), "unexpected oracle: {why}");
    // The failure line round-trips to the same run, which fails the same way.
    let line = harness::failure_line(spec, "test", why);
    let (again, commit) = harness::parse_failure_line(&line).unwrap();
    assert_eq!(
        (again.scenario.name, again.seed, again.backend, again.bus),
        (spec.scenario.name, spec.seed, spec.backend, spec.bus)
    );
    assert_eq!(commit, "test");
    let replayed = harness::run(again).unwrap();
    assert_eq!(replayed.outcome.as_ref().unwrap_err().to_string(), *why);
}

#[test]
fn metrics_snapshot_shows_tasks_back_at_zero() {
    let r = run("S-E4", 3);
    let text = r.metrics.to_string();
    assert!(text.contains("tasks.live{bus.worker}"), "{text}");
    assert!(
        r.metrics
            .rows
            .iter()
            .filter(|row| row.name == "tasks.live")
            .all(|row| row.value == brum_core::metrics::MetricValue::Gauge(0)),
        "{text}"
    );
}
