//! Regression tests: bug reports turned into named tests (docs/simulation.md, "From a bug
//! report to a regression test"). Each names the scenario and seed the report gave, and the
//! oracle that caught the bug. The fixed code must pass at that seed; with the bug planted again
//! (its mutant in `brum_core::mutants`), the same seed must fail, and by that oracle, not by a
//! snapshot. A seed replays exactly only on its own commit; the mutant keeps the test biting on
//! every later one.

use brum_sim::harness::{self, Backend, RunSpec};
use brum_sim::scenarios::BusKind;

struct Regression {
    scenario: &'static str,
    seed: u64,
    /// The bug, planted again.
    mutant: &'static str,
    /// The oracle the report's failure line named.
    oracle: &'static str,
}

fn holds(r: Regression) {
    let spec = |mutant| RunSpec {
        scenario: harness::scenario(r.scenario).unwrap(),
        seed: r.seed,
        backend: Backend::Turmoil,
        bus: BusKind::Real,
        mutant,
    };
    let fixed = harness::run(spec(None)).unwrap();
    assert!(fixed.outcome.is_ok(), "{} seed {}: the fix no longer holds: {:?}", r.scenario, r.seed, fixed.outcome);
    let bug = harness::run(spec(Some(r.mutant))).unwrap();
    match bug.outcome {
        Err(v) => assert_eq!(v.oracle, r.oracle, "{} seed {}: caught by another oracle: {v}", r.scenario, r.seed),
        Ok(()) => panic!("{} seed {}: the oracle no longer catches {}\n{}", r.scenario, r.seed, r.mutant, bug.trace),
    }
}

/// Brummer's S-P10: a stop's grace timer, left running when its generation ended on SIGTERM,
/// found its process by script name and SIGKILLed the restarted dev server.
#[test]
fn a_stale_grace_timer_never_kills_the_restarted_generation() {
    holds(Regression {
        scenario: "S-P10",
        seed: 0,
        mutant: brum_core::mutants::STALE_KILL_TIMER,
        oracle: "I17 a late kill never hits a restarted process",
    });
}

/// A crash of brum right after a leader was reaped left its grandchild running: the group had
/// been released with its leader, so the orphan guardian did not know it.
#[test]
fn a_crash_after_a_reap_leaves_no_grandchild_behind() {
    holds(Regression {
        scenario: "S-C1",
        seed: 0,
        mutant: brum_core::mutants::RELEASE_BEFORE_EOF,
        oracle: "I11 after a crash the guardian stops everything",
    });
}

/// `brum run` lost every exit and the last lines on Ctrl-C: the session closed the bus before
/// the supervisor had stopped the processes.
#[test]
fn ctrl_c_prints_every_exit() {
    holds(Regression {
        scenario: "S-S1",
        seed: 0,
        mutant: brum_core::mutants::SESSION_BUS_FIRST,
        oracle: "S-S1 one exit each, printed",
    });
}

/// Log times taken from the wall clock: after the clock jumped, the store's time axis and its
/// time filters were wrong.
#[test]
fn a_wall_clock_jump_leaves_log_times_alone() {
    holds(Regression {
        scenario: "S-C2",
        seed: 1,
        mutant: brum_core::mutants::LOGS_WALL_CLOCK,
        oracle: "I22 a stored line keeps its event's monotonic time",
    });
}
