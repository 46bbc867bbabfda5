//! `brum sim ...` end to end: the real binary, its output and exit codes.

use brum_tests::{brum, stderr, stdout};

/// Hides the commit, which changes with every commit and is not what these tests pin.
fn stable(s: &str) -> String {
    let re = regex_lite::Regex::new(r"commit[ =][0-9a-f]{7,40}|commit[ =]unknown").unwrap();
    re.replace_all(s, "commit [COMMIT]").into_owned()
}

#[test]
fn sim_list_names_every_scenario() {
    let o = brum(&["sim", "list"]);
    assert!(o.status.success(), "{}", stderr(&o));
    insta::assert_snapshot!(stdout(&o));
}

/// One mutant name a line, each accepted by `--mutant`.
#[test]
fn sim_list_mutants_names_one_a_line_and_run_takes_each() {
    let o = brum(&["sim", "list", "--mutants"]);
    assert!(o.status.success(), "{}", stderr(&o));
    let names: Vec<String> = stdout(&o).lines().map(str::to_string).collect();
    assert_eq!(names, brum_core::mutants::ALL);
    let o = brum(&["sim", "run", "--scenario", "S-P10", "--seed", "0", "--mutant", "supervisor.stale_kill_timer"]);
    assert!(!o.status.success(), "S-P10 passed with its mutant planted:\n{}", stdout(&o));
    assert!(stdout(&o).contains("mutant=supervisor.stale_kill_timer"), "{}", stdout(&o));
}

#[test]
fn sim_run_output_is_a_pure_function_of_its_inputs() {
    let a = brum(&["sim", "run", "--scenario", "S-E4", "--seed", "11", "--metrics"]);
    let b = brum(&["sim", "run", "--scenario", "S-E4", "--seed", "11", "--metrics"]);
    assert!(a.status.success(), "{}", stderr(&a));
    assert_eq!(stdout(&a), stdout(&b), "two processes, same inputs, different output");
    let c = brum(&["sim", "run", "--scenario", "S-E4", "--seed", "12", "--metrics"]);
    assert_ne!(stdout(&a), stdout(&c), "the seed does not reach the output");
}

#[test]
fn sim_run_prints_trace_and_metrics() {
    let o = brum(&["sim", "run", "--scenario", "S-E9", "--seed", "1", "--metrics"]);
    assert!(o.status.success(), "{}", stderr(&o));
    insta::assert_snapshot!(stable(&stdout(&o)));
}

#[test]
fn failing_run_prints_seed_scenario_commit_and_replay_command_and_replay_reproduces_it() {
    let o = brum(&["sim", "run", "--scenario", "S-E4", "--seed", "5", "--bus", "faulty"]);
    assert_eq!(o.status.code(), Some(1), "a failed scenario exits 1");
    let out = stdout(&o);
    let line = out.lines().find(|l| l.starts_with("FAIL ")).expect("a FAIL line").to_string();
    assert!(line.contains("S-E4") && line.contains("seed=5") && line.contains("commit="), "{line}");
    let replay = out.lines().find(|l| l.trim_start().starts_with("replay: ")).expect("a replay line");
    assert!(replay.contains("brum sim run --scenario S-E4 --seed 5 --backend turmoil --bus faulty"), "{replay}");
    let again = brum(&["sim", "replay", &line]);
    assert_eq!(again.status.code(), Some(1));
    assert_eq!(stdout(&again), out, "replaying the failure line reproduces the run byte for byte");
}

#[test]
fn sweep_summarises_and_lists_failures() {
    let ok = brum(&["sim", "sweep", "--scenario", "all", "--seeds", "5", "--check-determinism"]);
    assert!(ok.status.success(), "{}{}", stdout(&ok), stderr(&ok));
    let text = stdout(&ok);
    let runs = format!("{} runs", brum_sim::scenarios::SCENARIOS.len() * 5);
    assert!(text.contains(&runs) && text.contains("0 failures") && text.contains("seeds/s"), "{text}");
    let bad = brum(&["sim", "sweep", "--scenario", "S-E4", "--seeds", "3", "--bus", "faulty"]);
    assert_eq!(bad.status.code(), Some(1));
    let text = stdout(&bad);
    assert!(text.contains("3 failures") && text.matches("FAIL S-E4").count() == 3, "{text}");
}

#[test]
fn bad_input_gets_a_clear_error() {
    let o = brum(&["sim", "run", "--scenario", "S-E99"]);
    assert_eq!(o.status.code(), Some(2));
    insta::assert_snapshot!("unknown_scenario", stderr(&o));
    let o = brum(&["sim", "replay", "FAIL S-E4 seed=x"]);
    assert_eq!(o.status.code(), Some(2));
    insta::assert_snapshot!("bad_failure_line", stderr(&o));
}

#[cfg(not(madsim))]
#[test]
fn madsim_backend_in_a_normal_build_says_how_to_get_one() {
    let o = brum(&["sim", "run", "--scenario", "S-E4", "--backend", "madsim"]);
    assert_eq!(o.status.code(), Some(2));
    assert!(stderr(&o).contains("--cfg madsim"), "{}", stderr(&o));
}

/// Bug: `--seeds 18446744073709551615` panicked with a capacity overflow (the sweep collected
/// every run before the first). Counts over `SWEEP_SEEDS_MAX` are a usage error that names the
/// flag and the limit.
#[test]
fn sweep_of_u64_max_seeds_is_a_usage_error_not_a_capacity_overflow_panic() {
    let o = brum(&["sim", "sweep", "--scenario", "S-E4", "--seeds", "18446744073709551615"]);
    assert_eq!(o.status.code(), Some(2), "{}{}", stdout(&o), stderr(&o));
    insta::assert_snapshot!("sweep_too_many_seeds", stderr(&o));
    let max = brum_sim::harness::SWEEP_SEEDS_MAX;
    assert!(stderr(&o).contains(&format!("at most {max} seeds")), "{}", stderr(&o));
}

/// Bug: `--from 18446744073709551610 --seeds 10` computed `from + seeds` past `u64::MAX`: a
/// release build wrapped it to an empty range and reported 0 runs with exit 0 (a debug build
/// panicked). A range that does not fit is a usage error naming both flags and how many seeds
/// fit; asking for exactly those runs them, up to and including `u64::MAX`. An error rather than
/// running the 6 that fit: a sweep that silently runs fewer seeds than asked reads as "10 seeds
/// passed".
#[test]
fn sweep_past_the_last_seed_is_a_usage_error_not_zero_runs() {
    let o = brum(&["sim", "sweep", "--scenario", "S-E4", "--from", "18446744073709551610", "--seeds", "10"]);
    assert_eq!(o.status.code(), Some(2), "{}{}", stdout(&o), stderr(&o));
    insta::assert_snapshot!("sweep_past_the_last_seed", stderr(&o));
    let o = brum(&["sim", "sweep", "--scenario", "C-sleep", "--from", "18446744073709551610", "--seeds", "6"]);
    assert!(o.status.success(), "{}{}", stdout(&o), stderr(&o));
    let text = stdout(&o);
    assert!(text.contains("seeds 18446744073709551610..18446744073709551616") && text.contains(": 6 runs"), "{text}");
}

/// A sweep keeps the first `SWEEP_FAILURES_KEPT` failures by scenario and seed (its memory does
/// not grow with the seeds) and counts the rest in the summary and a closing line.
#[test]
fn sweep_lists_the_first_failures_and_counts_the_rest() {
    let kept = brum_sim::harness::SWEEP_FAILURES_KEPT;
    let seeds = (kept + 20).to_string();
    let o = brum(&["sim", "sweep", "--scenario", "S-E4", "--seeds", &seeds, "--bus", "faulty", "--jobs", "2"]);
    assert_eq!(o.status.code(), Some(1), "{}", stderr(&o));
    let text = stdout(&o);
    let fails: Vec<u64> = text
        .lines()
        .filter_map(|l| l.strip_prefix("FAIL S-E4 seed="))
        .map(|l| l.split(' ').next().unwrap().parse().unwrap())
        .collect();
    assert_eq!(fails.len(), kept, "{text}");
    assert!(fails.windows(2).all(|w| w[0] < w[1]), "listed by seed: {fails:?}");
    let more = text.lines().find_map(|l| l.strip_prefix("... and ")).expect("a line counting the rest");
    let more: usize = more.split(' ').next().unwrap().parse().unwrap();
    assert!(more > 0 && text.contains(&format!(", {} failures\n", kept + more)), "{text}");
}
