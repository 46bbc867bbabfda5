//! Generated operation sequences against the real session under turmoil (see
//! `brum_sim::state_machine` and docs/design/simulation.md, "The state machine").
//!
//! proptest generates `(ops, seed)`: up to `MAX_OPS` operations and the seed of the case's
//! simulation. Each case is one turmoil run; after every step the run settles and checks every
//! oracle against the reference model. A failure shrinks (shorter sequences, simpler
//! operations, smaller seeds) and prints the minimal sequence with its replay command.
//!
//! - `BRUM_SM_CASES=N`: run N cases instead of `CI_CASES`;
//! - `BRUM_SM_RNG_SEED=N`: generate from another proptest seed (CI uses `RNG_SEED`);
//! - `BRUM_SM_SEED=S BRUM_SM_OPS="start a, restart a" [BRUM_SM_MUTANT=M]`: the `replay` test
//!   runs that sequence.

use std::collections::BTreeMap;
use std::sync::Mutex;

use brum_sim::state_machine::{self, Op, format_ops, parse_ops, replay_command};
use proptest::prelude::*;
use proptest::strategy::ValueTree;
use proptest::test_runner::{Config, RngSeed, TestCaseError, TestError, TestRunner};

/// Cases CI runs (one turmoil simulation each).
const CI_CASES: u32 = 256;
/// proptest's seed in CI: the same sequences every run.
const RNG_SEED: u64 = 0x6272_756d_736d;
/// Operations per sequence, at most.
const MAX_OPS: usize = 24;

fn op() -> impl Strategy<Value = Op> {
    let s = || 0u8..state_machine::SCRIPTS.len() as u8;
    prop_oneof![
        18 => s().prop_map(Op::Start),
        6 => s().prop_map(Op::Stop),
        6 => s().prop_map(Op::Restart),
        12 => (s(), 1u8..=4, any::<bool>()).prop_map(|(script, n, err)| Op::Print { script, n, err }),
        // Bursts: a few fill the log store's 4 KiB budget, so eviction is exercised.
        3 => (s(), 20u8..=120, any::<bool>()).prop_map(|(script, n, err)| Op::Print { script, n, err }),
        6 => (s(), 1u8..=3, 1u8..=5, 0u8..=8).prop_map(|(script, code, lines, bg)| Op::Crash { script, code, lines, bg }),
        4 => s().prop_map(Op::Kill),
        4 => (s(), 1u8..=3).prop_map(|(script, code)| Op::StopCrash { script, code }),
        6 => Just(Op::Subscribe),
        5 => (0u8..4).prop_map(Op::Unsubscribe),
        6 => (0u8..(state_machine::SEARCHES.len() * state_machine::SEARCH_FILTERS) as u8).prop_map(Op::Search),
        5 => s().prop_map(Op::Clear),
        // Rare: after a Ctrl-C, operations only check that they are refused.
        1 => Just(Op::CtrlC),
        1 => Just(Op::DoubleCtrlC),
    ]
}

/// A case: the operations first, so shrinking works on them before the seed.
fn case() -> impl Strategy<Value = (Vec<Op>, u64)> {
    (proptest::collection::vec(op(), 1..=MAX_OPS), any::<u64>())
}

fn env_u64(name: &str) -> Option<u64> {
    std::env::var(name).ok().map(|v| v.parse().unwrap_or_else(|_| panic!("{name}={v} is not a number")))
}

fn config(cases: u32) -> Config {
    Config {
        cases,
        rng_seed: RngSeed::Fixed(env_u64("BRUM_SM_RNG_SEED").unwrap_or(RNG_SEED)),
        failure_persistence: None,
        max_shrink_iters: 512,
        ..Config::default()
    }
}

/// What the passing cases did: per operation, (steps, steps that acted on something), and the
/// virtual time they took.
#[derive(Debug, Default)]
struct Coverage {
    ops: BTreeMap<String, (u64, u64)>,
    virtual_ms: u64,
    /// Cases whose log store evicted lines.
    evicting_cases: u64,
}

static COVERAGE: Mutex<Option<Coverage>> = Mutex::new(None);

fn record(log: &[String]) {
    let mut c = COVERAGE.lock().unwrap();
    let c = c.get_or_insert_with(Coverage::default);
    for line in log {
        // `N: op args -> result [t=Tms]` or `end: ctrl-c -> result [t=Tms]`.
        let Some((head, result)) = line.split_once(" -> ") else { continue };
        let text = head.split_once(": ").map_or(head, |(_, op)| op);
        let op = if text == "ctrl-c ctrl-c" { text } else { text.split(' ').next().unwrap_or("") };
        let op = if head.starts_with("end") { "ctrl-c (end)" } else { op };
        let e = c.ops.entry(op.to_string()).or_default();
        e.0 += 1;
        e.1 += u64::from(!state_machine::NO_OP.iter().any(|n| result.starts_with(n)));
    }
    let evicted =
        log.iter().find_map(|l| l.split_once("evicted=")).and_then(|(_, n)| n.split(' ').next()?.parse().ok());
    c.evicting_cases += u64::from(evicted.unwrap_or(0u64) > 0);
    let t = log.iter().rev().find_map(|l| l.rsplit_once("[t=")).and_then(|(_, t)| t.split("ms]").next()?.parse().ok());
    c.virtual_ms += t.unwrap_or(0);
}

/// One case, with `mutant` planted.
fn check(ops: &[Op], seed: u64, mutant: Option<&'static str>) -> Result<(), TestCaseError> {
    match brum_core::mutants::with(mutant, || state_machine::run_turmoil(seed, ops)) {
        Ok(log) => {
            if mutant.is_none() {
                record(&log);
            }
            Ok(())
        }
        Err(f) => Err(TestCaseError::fail(format!("{f}\n  steps:\n    {}", f.log.join("\n    ")))),
    }
}

/// Seeds tried per candidate when shrinking further.
const SHRINK_SEEDS: u64 = 16;

/// Runs `cases` generated cases; the minimal failure if one fails.
fn explore(cases: u32, mutant: Option<&'static str>) -> Result<u32, (Vec<Op>, u64, String)> {
    let mut runner = TestRunner::new(config(cases));
    match runner.run(&case(), |(ops, seed)| check(&ops, seed, mutant)) {
        Ok(()) => Ok(cases),
        Err(TestError::Fail(why, (ops, seed))) => Err(shrink_further(ops, seed, why.to_string(), mutant)),
        Err(TestError::Abort(why)) => panic!("proptest aborted: {why}"),
    }
}

/// proptest shrinks the operations under one seed, but a race needs its schedule: without an
/// operation the same seed may schedule differently and pass. This goes on where proptest
/// stopped: it drops one operation at a time and keeps the shorter sequence if it fails under
/// its seed or one of seeds `0..SHRINK_SEEDS`.
fn shrink_further(
    mut ops: Vec<Op>,
    mut seed: u64,
    mut why: String,
    mutant: Option<&'static str>,
) -> (Vec<Op>, u64, String) {
    'shorter: while ops.len() > 1 {
        for i in 0..ops.len() {
            let mut candidate = ops.clone();
            candidate.remove(i);
            for s in std::iter::once(seed).chain(0..SHRINK_SEEDS) {
                if let Err(e) = check(&candidate, s, mutant) {
                    (ops, seed, why) = (candidate, s, e.to_string().trim_start_matches("Case failed: ").to_string());
                    continue 'shorter;
                }
            }
        }
        break;
    }
    (ops, seed, why)
}

fn report(ops: &[Op], seed: u64, why: &str, mutant: Option<&str>) -> String {
    format!(
        "minimal failing sequence ({} ops): {}\n  seed: {seed}\n  failure: {why}\n  replay: {}",
        ops.len(),
        format_ops(ops),
        replay_command(seed, ops, mutant)
    )
}

/// The property: every generated sequence keeps every oracle.
#[test]
fn generated_sequences_keep_every_oracle() {
    let cases = env_u64("BRUM_SM_CASES").map_or(CI_CASES, |n| n as u32);
    match explore(cases, None) {
        Ok(n) => println!("state machine: {n} cases passed"),
        Err((ops, seed, why)) => panic!("{}", report(&ops, seed, &why, None)),
    }
    let c = COVERAGE.lock().unwrap().take().unwrap_or_default();
    println!(
        "  {} s of virtual time; {} cases evicted lines; per operation (steps, of which acted on something):",
        c.virtual_ms / 1000,
        c.evicting_cases
    );
    for (op, (n, acted)) in &c.ops {
        println!("    {op:<14} {n:>5} {acted:>5}");
    }
    // A property that never reaches its operations cannot fail: each must have acted.
    for op in
        ["start", "stop", "restart", "print", "crash", "kill", "subscribe", "unsubscribe", "search", "clear", "ctrl-c"]
    {
        let acted = c.ops.get(op).map_or(0, |e| e.1);
        assert!(acted > 0, "no generated `{op}` ever acted on something in {cases} cases");
    }
}

/// The property bites: each planted mutant fails it, and the failure shrinks to a short
/// sequence.
fn caught(mutant: &'static str, max_ops: usize) {
    assert!(brum_core::mutants::ALL.contains(&mutant), "unknown mutant {mutant}");
    match explore(CI_CASES, Some(mutant)) {
        Ok(n) => panic!("mutant {mutant} survived {n} cases: an oracle is missing"),
        Err((ops, seed, why)) => {
            println!("mutant {mutant} caught; {}", report(&ops, seed, &why, Some(mutant)));
            assert!(
                ops.len() <= max_ops,
                "mutant {mutant}: the failure shrank only to {} ops (want at most {max_ops}): {}",
                ops.len(),
                format_ops(&ops)
            );
        }
    }
}

#[test]
fn mutant_stale_kill_timer_is_caught_and_shrinks() {
    caught(brum_core::mutants::STALE_KILL_TIMER, 4);
}

#[test]
fn mutant_duplicate_exit_is_caught_and_shrinks() {
    caught(brum_core::mutants::DUPLICATE_EXIT, 4);
}

#[test]
fn mutant_clear_forgets_generation_is_caught_and_shrinks() {
    caught(brum_core::mutants::CLEAR_FORGETS_GENERATION, 4);
}

#[test]
fn mutant_exit_before_eof_is_caught_and_shrinks() {
    caught(brum_core::mutants::EXIT_BEFORE_EOF, 4);
}

#[test]
fn mutant_restart_unlimited_is_caught_and_shrinks() {
    // The shortest failure: start b, then fail it once more than the limit allows.
    caught(brum_core::mutants::RESTART_UNLIMITED, 2 + state_machine::MAX_RESTARTS as usize);
}

#[test]
fn mutant_findings_keep_urls_is_caught_and_shrinks() {
    caught(brum_core::mutants::FINDINGS_KEEP_URLS, 4);
}

#[test]
fn mutant_readers_ungated_is_caught_and_shrinks() {
    caught(brum_core::mutants::READERS_UNGATED, 4);
}

#[test]
fn mutant_session_bus_first_is_caught_and_shrinks() {
    caught(brum_core::mutants::SESSION_BUS_FIRST, 4);
}

/// A hand-written sequence with every operation passes (a check of the model itself), or, with
/// `BRUM_SM_OPS` set, the sequence given replays.
#[test]
fn replay() {
    let (ops, seed, mutant) = match std::env::var("BRUM_SM_OPS") {
        Ok(text) => {
            let ops = parse_ops(&text).unwrap_or_else(|e| panic!("BRUM_SM_OPS: {e}"));
            let mutant = std::env::var("BRUM_SM_MUTANT").ok().map(|m| {
                *brum_core::mutants::ALL.iter().find(|n| **n == m).unwrap_or_else(|| panic!("no mutant `{m}`"))
            });
            (ops, env_u64("BRUM_SM_SEED").unwrap_or(0), mutant)
        }
        Err(_) => (
            parse_ops(
                "subscribe, start a, start s, print a 3 out, print s 2 err, search 8, subscribe, restart a, \
                 print a 2 out, clear a, print a 1 err, unsubscribe 0, crash a 2 3 4, start b, kill b, stop+crash s 2, start a, stop+crash a 1, \
                 search 24, search 16, start a, ctrl-c, start a, search 0",
            )
            .expect("a valid sequence"),
            7,
            None,
        ),
    };
    println!("replaying seed {seed}: {}", format_ops(&ops));
    match brum_core::mutants::with(mutant, || state_machine::run_turmoil(seed, &ops)) {
        Ok(log) => println!("pass:\n    {}", log.join("\n    ")),
        Err(f) => panic!("{f}\n  steps:\n    {}", f.log.join("\n    ")),
    }
}

/// The same sequence and seed give the same run (every step's result and time, every event
/// with its time), and the seed reaches the schedule: other seeds change some runs.
#[test]
fn a_sequence_and_seed_replay_exactly() {
    let mut runner = TestRunner::new(config(1));
    let mut differ = 0;
    for _ in 0..16 {
        let (ops, seed) = case().new_tree(&mut runner).expect("a case").current();
        let a = state_machine::run_turmoil(seed, &ops).expect("the case passes");
        let b = state_machine::run_turmoil(seed, &ops).expect("the case passes");
        assert_eq!(a, b, "seed {seed}, {}: two runs differ", format_ops(&ops));
        let c = state_machine::run_turmoil(seed ^ 0x5eed, &ops).expect("the case passes");
        differ += usize::from(a.last() != c.last());
    }
    assert!(differ > 0, "no sequence ran differently under another seed: the seed does not reach the schedule");
    println!("{differ} of 16 sequences ran differently under another seed");
}

#[test]
fn ops_print_and_parse_back() {
    let mut runner = TestRunner::new(config(256));
    runner
        .run(&proptest::collection::vec(op(), 0..20), |ops| {
            prop_assert_eq!(parse_ops(&format_ops(&ops)).map_err(TestCaseError::fail)?, ops);
            Ok(())
        })
        .unwrap();
}
