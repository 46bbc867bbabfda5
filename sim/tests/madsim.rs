//! The madsim backend: a separate build (`RUSTFLAGS="--cfg madsim"`, its own target dir).
//! madsim picks a random ready task at every step, so these runs explore interleavings
//! inside one process that turmoil never does.
#![cfg(madsim)]

use std::ops::ControlFlow;

use brum_sim::harness::{self, Backend, RunSpec, Seeds};
use brum_sim::scenarios::{BusKind, SCENARIOS};

fn seeds() -> u64 {
    std::env::var("BRUM_MADSIM_SEEDS").ok().and_then(|s| s.parse().ok()).unwrap_or(100)
}

#[test]
fn every_scenario_passes_and_replays_identically_over_the_seed_range() {
    let all: Vec<_> = SCENARIOS.iter().collect();
    let n = seeds();
    let summary = harness::sweep(&all, Seeds::new(0, n).unwrap(), Backend::Madsim, BusKind::Real, true, 1, &|_| {
        ControlFlow::Continue(())
    })
    .unwrap();
    let lines: Vec<String> =
        summary.failures.iter().map(|(s, why)| harness::failure_line(s, "madsim-test", why)).collect();
    assert!(lines.is_empty(), "{} failures:\n{}", lines.len(), lines.join("\n"));
    assert_eq!(summary.runs, all.len() as u64 * n);
}

/// The oracle can fail: Brummer's shared-queue bus must be caught within 200 seeds.
#[test]
fn faulty_bus_is_caught_by_the_s_e4_sweep_within_200_seeds() {
    let s = harness::scenario("S-E4").unwrap();
    let first = (0..200).find_map(|seed| {
        let r =
            harness::run(RunSpec { scenario: s, seed, backend: Backend::Madsim, bus: BusKind::Faulty, mutant: None })
                .unwrap();
        r.outcome.err().map(|v| (seed, v))
    });
    let (seed, v) = first.expect("the S-E4 oracle missed the faulty bus on 200 seeds");
    assert!(v.oracle.starts_with("I3"), "seed {seed}: unexpected oracle {v}");
}

#[test]
fn event_orderings_of_fixed_seeds() {
    for s in SCENARIOS.iter().filter(|s| s.name.starts_with("S-")) {
        for seed in [1u64, 2] {
            let r =
                harness::run(RunSpec { scenario: s, seed, backend: Backend::Madsim, bus: BusKind::Real, mutant: None })
                    .unwrap();
            assert!(r.outcome.is_ok(), "{} seed {seed}: {:?}", s.name, r.outcome);
            insta::with_settings!({ snapshot_suffix => format!("{}_madsim_seed{seed}", s.name) }, {
                insta::assert_snapshot!("ordering", r.trace);
            });
        }
    }
}
