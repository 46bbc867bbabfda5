//! Faults through the runtime's hooks: every named checkpoint in core is listed and can be
//! crashed at, and the wall clock jumps and drifts while the monotonic clock does not.

use std::collections::BTreeSet;
use std::time::Duration;

use brum_sim::faults::{AtCheckpoint, CHECKPOINTS, Faults};
use brum_sim::harness::{self, Backend, RunSpec};
use brum_sim::scenarios::BusKind;

/// Every `checkpoint("...")` call in core's source, by name.
fn checkpoints_in_core() -> BTreeSet<String> {
    let mut found = BTreeSet::new();
    let mut dirs = vec![std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../core/src")];
    while let Some(dir) = dirs.pop() {
        for entry in std::fs::read_dir(&dir).unwrap() {
            let path = entry.unwrap().path();
            if path.is_dir() {
                dirs.push(path);
            } else if path.extension().is_some_and(|e| e == "rs") {
                let text = std::fs::read_to_string(&path).unwrap();
                for part in text.split("checkpoint(\"").skip(1) {
                    found.insert(part.split('"').next().unwrap().to_string());
                }
            }
        }
    }
    found
}

#[test]
fn the_checkpoint_list_is_every_checkpoint_in_core() {
    let listed: BTreeSet<String> = CHECKPOINTS.iter().map(|s| s.to_string()).collect();
    assert_eq!(listed, checkpoints_in_core(), "brum_sim::faults::CHECKPOINTS and core's checkpoints differ");
}

/// S-C1 crashes brum at a seeded checkpoint: over 100 seeds it crashes at every one of them.
#[test]
fn s_c1_crashes_brum_at_every_named_checkpoint() {
    let scenario = harness::scenario("S-C1").unwrap();
    let mut crashed_at = BTreeSet::new();
    for seed in 0..100 {
        let r = harness::run(RunSpec { scenario, seed, backend: Backend::Turmoil, bus: BusKind::Real, mutant: None })
            .unwrap();
        assert!(r.outcome.is_ok(), "seed {seed}: {:?}\n{}", r.outcome, r.trace);
        for line in r.trace.lines().filter(|l| l.contains("brum crashed at ")) {
            let at = line.split("brum crashed at ").nth(1).unwrap().split(' ').next().unwrap();
            crashed_at.insert(at.to_string());
        }
    }
    let all: BTreeSet<String> = CHECKPOINTS.iter().map(|s| s.to_string()).collect();
    assert_eq!(crashed_at, all, "checkpoints S-C1 never crashed at: {:?}", all.difference(&crashed_at));
}

#[test]
fn the_wall_clock_jumps_and_drifts_from_when_it_is_told() {
    let f = Faults::default();
    let s = Duration::from_secs;
    assert_eq!(f.wall_offset(s(10)), 0);
    f.jump_wall(-3_600_000_000_000);
    assert_eq!(f.wall_offset(s(10)), -3_600_000_000_000);
    // 1% fast from t = 10 s: 100 ms ahead at t = 20 s.
    f.drift_wall(s(10), 10_000);
    assert_eq!(f.wall_offset(s(20)), -3_600_000_000_000 + 100_000_000);
    // Slower from t = 20 s: what drifted so far is kept.
    f.drift_wall(s(20), -10_000);
    assert_eq!(f.wall_offset(s(30)), -3_600_000_000_000);
}

#[test]
fn a_crash_lands_at_the_asked_pass_and_stays() {
    let f = Faults::default();
    f.crash_at("supervisor.reaped", 1);
    f.delay_at("bus.worker.batch_done", Duration::from_millis(2));
    assert_eq!(f.on_checkpoint("bus.worker.batch_done"), AtCheckpoint::Delay(Duration::from_millis(2)));
    assert_eq!(f.on_checkpoint("supervisor.reaped"), AtCheckpoint::Go);
    assert!(!f.crashed());
    assert_eq!(f.on_checkpoint("supervisor.reaped"), AtCheckpoint::Crash);
    assert!(f.crashed());
    assert_eq!(f.crashed_at(), Some(("supervisor.reaped", 1)));
    // After the crash every checkpoint is the end of its task.
    assert_eq!(f.on_checkpoint("bus.worker.batch_done"), AtCheckpoint::Crash);
}
