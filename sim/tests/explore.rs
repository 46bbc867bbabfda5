//! Exploration, measured: every race scenario reaches at least [`ORDERINGS_MIN`] distinct event
//! orderings over [`SEEDS`] seeds and hits its race's window (its trace says `window hit`) in at
//! least [`HITS_MIN`] of them. docs/simulation.md holds the measured figures; a scenario whose
//! schedule stops varying, or whose race stops happening, fails CI here.

use brum_sim::harness::{self, Backend};
use brum_sim::scenarios::BusKind;

const SEEDS: u64 = 100;
const ORDERINGS_MIN: usize = 5;
/// A tenth of the seeds.
const HITS_MIN: u64 = 10;

/// Each race scenario and what its window is (the scenario logs `window hit` or `window miss`).
const WINDOWS: &[(&str, &str)] = &[
    ("S-P10", "the second restart lands inside the first's grace: two stale timers pending at once"),
    ("S-P11", "the clear lands between two lines of the old generation"),
    ("S-P1", "a reader reads the snapshot in the millisecond an instance ended"),
    ("S-P2", "the other start and stop come while the slow stop is in flight"),
    ("S-P6", "a stop races the process's own exit (the SIGTERM did not decide the end)"),
    ("S-S3", "stop-all comes while restart-all's restarts wait on old generations"),
    ("S-S4", "brum run's watcher reads a crash ended with its restart coming"),
    ("S-P14", "the slow spawn holds the dispatcher while the ticker prints"),
    ("S-O1", "a sample finds leftovers alive after their leader ended"),
];

fn explores(name: &str) {
    let scenario = harness::scenario(name).unwrap();
    let e = harness::explore(scenario, Backend::Turmoil, BusKind::Real, 0, SEEDS).unwrap();
    assert_eq!(e.failures, 0, "{name}: {e:?}");
    assert!(e.orderings >= ORDERINGS_MIN, "{name}: {} distinct orderings in {SEEDS} seeds", e.orderings);
    let hits = e.window_hits.unwrap_or_else(|| panic!("{name} does not state its window"));
    assert!(hits >= HITS_MIN, "{name}: its window was hit in {hits} of {SEEDS} seeds");
}

#[test]
fn every_race_scenario_explores_its_race() {
    for (name, _window) in WINDOWS {
        explores(name);
    }
}
