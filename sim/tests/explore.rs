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
    ("S-P3", "a stop asked after the goodbye line and before its ProcessExited reached subscribers"),
    ("S-P4", "the tail's leader reaped while its streams were still open: the exit waits for the last lines"),
    ("S-P5", "two or more starts of the same script in flight at once"),
    ("S-P8", "the stop of `quick` found it still running, racing its own failing exit"),
    ("S-P9", "shutdown landed while starters were still starting"),
    ("S-P10", "the second restart lands inside the first's grace: two stale timers pending at once"),
    ("S-P11", "the clear lands between two lines of the old generation"),
    ("S-P12", "a session closed while the bus still had events for it (queued, or the exit to come)"),
    ("S-P13", "the stop asked while lifecycle events waited in the outbox behind the stuck subscriber"),
    ("S-S1", "Ctrl-C landed mid-flood"),
    ("S-S2", "two edits within one watch period, announced together as their net change"),
    ("S-D1", "the chatty server's next line beat the quiet close to end its stack"),
    ("S-F1", "an announcer's end published in the millisecond of its URL"),
    ("S-C1", "brum crashed at its seeded checkpoint (it was passed often enough)"),
    ("S-C2", "ticks stored on both sides of the wall clock's jump back"),
    ("S-C3", "the drop_oldest agent's mailbox overflowed under the floods"),
    ("S-E1", "a publish finds the slow handler busy and its mailbox full"),
    ("S-E2", "a lifecycle event meets the full degrade mailbox and pushes a line out"),
    ("S-E3", "the quick process's exit is published with lines queued ahead of it"),
    ("S-E4", "one subscriber's events of different processes interleave"),
    ("S-E5", "shutdown begins with events queued and the publisher still publishing"),
    ("S-E6", "a session unsubscribes with events still queued for it"),
    ("S-E7", "two publishes read the same instant"),
    ("S-E8", "one event reaches the subscribers at different instants"),
    ("S-E9", "a healthy subscriber gets an event after a handler panicked on it"),
    ("S-L1", "a producer finds the store's mailbox full and waits"),
    ("S-L2", "a producer finds the store's two-slot mailbox full and waits"),
    ("S-L3", "the close lands while the producer still has lines to publish"),
    ("S-L4", "a direct append gets an id between two lines of the bus path"),
    ("S-L5", "eviction runs while the producers interleave"),
    ("S-L6", "a reader queries the store before its own line is appended, and the clear lands"),
    ("S-L7", "both streams print the same URL in one instant"),
    ("S-L8", "the restart's clear lands while the old generation still has lines in flight"),
    ("S-P1", "a reader reads the snapshot in the millisecond an instance ended"),
    ("S-P2", "the other start and stop come while the slow stop is in flight"),
    ("S-P6", "a stop races the process's own exit (the SIGTERM did not decide the end)"),
    ("S-S3", "stop-all comes while restart-all's restarts wait on old generations"),
    ("S-S4", "brum run's watcher reads a crash ended with its restart coming"),
    ("S-P14", "the slow spawn holds the dispatcher while the ticker prints"),
    ("S-O1", "a sample finds leftovers alive after their leader ended"),
    ("S-M12", "an MCP client abandons its call while the call's wait is subscribed"),
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
    let failed: Vec<String> = WINDOWS
        .iter()
        .filter_map(|(name, window)| {
            std::panic::catch_unwind(|| explores(name)).err().map(|_| format!("{name} ({window})"))
        })
        .collect();
    assert!(failed.is_empty(), "races not explored: {failed:?}");
}
