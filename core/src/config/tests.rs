//! Loading, precedence, error messages and `--settings` rendering. Paths are fake and stable:
//! core does no I/O, so a layer's path is only a label.

use std::path::PathBuf;
use std::time::Duration;

use proptest::prelude::*;

use super::schema::{CONCURRENCY, Kind, SECTIONS};
use super::*;
use crate::bus::{Backpressure, BusConfig};
use crate::script::RestartPolicy;

const HOME: &str = "/home/u/.brum.toml";
const PARENT: &str = "/home/u/work/.brum.toml";
const PROJECT: &str = "/home/u/work/app/.brum.toml";

fn layer(path: &str, text: &str) -> Layer {
    Layer { path: PathBuf::from(path), text: text.to_owned() }
}

fn load(text: &str) -> Result<Settings, ConfigError> {
    Settings::from_layers(&[layer(PROJECT, text)])
}

fn problems(text: &str) -> Vec<ConfigProblem> {
    match load(text) {
        Ok(settings) => panic!("expected problems, loaded {settings:?}"),
        Err(e) => e.problems().to_vec(),
    }
}

/// The message of the single problem `text` has.
fn message(text: &str) -> String {
    let problems = problems(text);
    assert_eq!(problems.len(), 1, "expected one problem: {problems:?}");
    problems[0].to_string()
}

fn file(path: &str, line: usize) -> Source {
    Source::File { path: PathBuf::from(path), line }
}

// ---------------------------------------------------------------------------------------------
// Defaults and getters

#[test]
fn defaults_match_the_bus_defaults() {
    for cores in [1, 2, 4, 8, 13, 64, 256] {
        assert_eq!(Settings::defaults().bus_config(cores), BusConfig::with_cores(cores), "cores = {cores}");
    }
}

#[test]
fn auto_workers_follow_the_core_count() {
    let settings = Settings::defaults();
    assert_eq!(settings.bus_workers(1), 4);
    assert_eq!(settings.bus_workers(2), 5);
    assert_eq!(settings.bus_workers(4), 10);
    assert_eq!(settings.bus_workers(64), 32);
    let Kind::AutoOrInteger { auto, .. } = CONCURRENCY.key("bus_workers").expect("schema has bus_workers").kind else {
        panic!("bus_workers is auto-or-integer");
    };
    for cores in 0..200 {
        assert_eq!(auto(cores), BusConfig::default_workers(cores));
    }
}

#[test]
fn default_getters_return_the_documented_defaults() {
    let s = Settings::defaults();
    assert_eq!(s.process_start_concurrency(), 10);
    assert_eq!(s.process_stop_grace(), Duration::from_millis(5000));
    assert_eq!(s.process_restart_max(), 5);
    assert_eq!(s.process_restart_backoff(), Duration::from_millis(500));
    assert_eq!(s.process_restart_backoff_max(), Duration::from_secs(30));
    assert_eq!(s.log_store_bytes(), 64 * 1024 * 1024);
    assert_eq!(s.log_batch_lines(), 4096);
    assert_eq!(s.log_max_line_bytes(), 65_536);
    assert_eq!(s.log_files_max(), 5);
    assert_eq!(s.log_file_bytes(), 10 * 1024 * 1024);
    assert!(!s.log_persist());
    assert_eq!(s.errors_max(), 500);
    assert_eq!(s.urls_max(), 100);
    assert_eq!(s.proxy_request_history(), 1000);
    assert_eq!(s.proxy_body_capture_bytes(), 16 * 1024);
    assert_eq!(s.proxy_connect_timeout(), Duration::from_secs(5));
    assert_eq!(s.proxy_idle_timeout(), Duration::from_secs(60));
    assert_eq!(s.proxy_port_base(), 20_888);
    assert_eq!(s.mcp_sessions_max(), 64);
    assert_eq!(s.mcp_session_timeout(), Duration::from_secs(300));
    assert_eq!(s.mcp_tool_timeout(), Duration::from_secs(30));
    assert_eq!(s.tui_mailbox_capacity(), 4096);
    assert!(!s.mcp_allow_adhoc());
    assert_eq!(s.mcp_token(), None);
    assert_eq!(s.source("concurrency", "urls_max"), Some(&Source::Default));
    assert_eq!(s.source("concurrency", "nope"), None);
}

/// A file setting every key to `pick(min, max)` of its range (the first value for choices).
fn every_key(pick: fn(u64, u64) -> u64) -> String {
    let mut text = String::from("[concurrency]\n");
    for key in CONCURRENCY.keys {
        let value = match key.kind {
            Kind::Integer { min, max }
            | Kind::Millis { min, max }
            | Kind::Bytes { min, max }
            | Kind::AutoOrInteger { min, max, .. } => pick(min, max).to_string(),
            Kind::Choice { allowed } => format!("{:?}", allowed[0]),
            Kind::Bool => (pick(0, 1) == 1).to_string(),
            Kind::Secret => "\"s3cret\"".to_string(),
        };
        text.push_str(&format!("{} = {value}\n", key.name));
    }
    text
}

#[test]
fn every_getter_accepts_the_extremes_of_its_range() {
    for pick in [|min, _| min, |_, max| max] {
        let s = load(&every_key(pick)).expect("extremes are valid");
        let _ = s.bus_config(2);
        let _ = (s.process_start_concurrency(), s.process_stop_grace(), s.process_restart_max());
        let _ = (s.process_restart_backoff(), s.process_restart_backoff_max(), s.log_store_bytes());
        let _ = (s.log_batch_lines(), s.log_max_line_bytes(), s.log_files_max(), s.log_file_bytes());
        let _ = (s.log_persist(), s.log_store_config());
        let _ = (s.errors_max(), s.urls_max(), s.proxy_request_history(), s.proxy_body_capture_bytes());
        let _ = (s.proxy_connect_timeout(), s.proxy_idle_timeout(), s.proxy_port_base());
        let _ = (s.mcp_sessions_max(), s.mcp_session_timeout(), s.mcp_tool_timeout(), s.tui_mailbox_capacity());
    }
    let max = load(&every_key(|_, max| max)).expect("maxima are valid");
    assert_eq!(max.proxy_port_base(), 65_535);
    assert_eq!(max.bus_workers(2), 64);
    assert_eq!(max.log_store_bytes(), 16 << 30);
    assert!(max.log_persist());
    let min = load(&every_key(|min, _| min)).expect("minima are valid");
    assert_eq!(min.process_restart_max(), 0);
    assert!(!min.log_persist());
    assert_eq!(min.bus_config(8).backpressure, Backpressure::Block);
}

// ---------------------------------------------------------------------------------------------
// Values

#[test]
fn reads_every_kind_of_value() {
    let s = load(
        r#"
[concurrency]
bus_workers = 12
bus_backpressure = "drop_oldest"
bus_drain_timeout_ms = 0
log_store_bytes = "512MiB"
log_file_bytes = 1048576
log_max_line_bytes = "10MB"
proxy_body_capture_bytes = "0"
"#,
    )
    .expect("valid");
    let bus = s.bus_config(2);
    assert_eq!(bus.workers, 12);
    assert_eq!(bus.backpressure, Backpressure::DropOldest);
    assert_eq!(bus.drain_timeout, Duration::ZERO);
    assert_eq!(s.log_store_bytes(), 512 * 1024 * 1024);
    assert_eq!(s.log_file_bytes(), 1 << 20);
    assert_eq!(s.log_max_line_bytes(), 10_000_000);
    assert_eq!(s.proxy_body_capture_bytes(), 0);
}

#[test]
fn explicit_auto_resolves_like_the_default() {
    let s = load("[concurrency]\nbus_workers = \"auto\"\n").expect("valid");
    assert_eq!(s.bus_workers(2), 5);
    assert_eq!(s.bus_workers(100), 32);
    assert_eq!(s.source("concurrency", "bus_workers"), Some(&file(PROJECT, 2)));
}

#[test]
fn dotted_and_inline_forms_are_the_same_keys() {
    let s = load("concurrency.bus_batch = 8\n").expect("dotted key");
    assert_eq!(s.bus_config(2).batch, 8);
    assert_eq!(s.source("concurrency", "bus_batch"), Some(&file(PROJECT, 1)));
    let s = load("\n\nconcurrency = { bus_batch = 9, urls_max = 7 }\n").expect("inline table");
    assert_eq!(s.bus_config(2).batch, 9);
    assert_eq!(s.urls_max(), 7);
    assert_eq!(s.source("concurrency", "urls_max"), Some(&file(PROJECT, 3)));
}

#[test]
fn empty_and_comment_only_files_change_nothing() {
    assert_eq!(load("").expect("empty"), Settings::defaults());
    assert_eq!(load("# nothing here\n\n[concurrency]\n# still nothing\n").expect("comments"), Settings::defaults());
}

#[test]
fn lines_count_from_one_and_survive_crlf() {
    let s = load("# a\r\n\r\n[concurrency]\r\nurls_max = 3\r\n").expect("crlf");
    assert_eq!(s.source("concurrency", "urls_max"), Some(&file(PROJECT, 4)));
}

// ---------------------------------------------------------------------------------------------
// Precedence

#[test]
fn later_layers_override_earlier_ones_key_by_key() {
    let home = layer(HOME, "[concurrency]\nurls_max = 1\nerrors_max = 1\nbus_batch = 1\n");
    let parent = layer(PARENT, "[concurrency]\n\nerrors_max = 2\nbus_batch = 2\n");
    let project = layer(PROJECT, "[concurrency]\n\n\nbus_batch = 3\n");
    let s = Settings::from_layers(&[home, parent, project]).expect("valid");

    assert_eq!(s.urls_max(), 1);
    assert_eq!(s.source("concurrency", "urls_max"), Some(&file(HOME, 2)));
    assert_eq!(s.errors_max(), 2);
    assert_eq!(s.source("concurrency", "errors_max"), Some(&file(PARENT, 3)));
    assert_eq!(s.bus_config(2).batch, 3);
    assert_eq!(s.source("concurrency", "bus_batch"), Some(&file(PROJECT, 4)));
    // Untouched keys keep their defaults.
    assert_eq!(s.tui_mailbox_capacity(), 4096);
    assert_eq!(s.source("concurrency", "tui_mailbox_capacity"), Some(&Source::Default));
}

#[test]
fn order_of_layers_decides_not_paths() {
    let a = layer(PROJECT, "[concurrency]\nurls_max = 10\n");
    let b = layer(HOME, "[concurrency]\nurls_max = 20\n");
    assert_eq!(Settings::from_layers(&[a.clone(), b.clone()]).expect("valid").urls_max(), 20);
    assert_eq!(Settings::from_layers(&[b, a]).expect("valid").urls_max(), 10);
}

#[test]
fn a_bad_layer_applies_nothing_and_problems_come_from_every_file() {
    let home = layer(HOME, "[concurrency]\nurls_max = 0\n");
    let project = layer(PROJECT, "[concurrency]\nerrors_max = 5\nbus_batch = \"many\"\n");
    let err = Settings::from_layers(&[home, project]).expect_err("both files are bad");
    let where_: Vec<_> = err.problems().iter().map(|p| (p.path().to_owned(), p.line())).collect();
    assert_eq!(where_, vec![(PathBuf::from(HOME), Some(2)), (PathBuf::from(PROJECT), Some(3))]);
}

// ---------------------------------------------------------------------------------------------
// Problems: each kind, with its message pinned

#[test]
fn syntax_error_names_file_and_line() {
    let problems = problems("[concurrency]\nurls_max = 3\nbus_batch = = 4\n");
    assert!(matches!(&problems[..], [ConfigProblem::Syntax { line: Some(3), .. }]), "{problems:?}");
    insta::assert_snapshot!("syntax", problems[0].to_string());
}

/// A duplicate key was reported as `invalid TOML: duplicate key`, without saying which key.
#[test]
fn duplicate_key_error_did_not_name_the_key() {
    let problems = problems("[concurrency]\nurls_max = 3\nurls_max = 4\n");
    assert_eq!(
        problems,
        vec![ConfigProblem::DuplicateKey {
            path: PROJECT.into(),
            line: 3,
            key: "concurrency.urls_max".into(),
            first_line: Some(2)
        }]
    );
    insta::assert_snapshot!("duplicate_key", problems[0].to_string());
    insta::assert_snapshot!(
        "duplicate_table",
        message("[concurrency]\nurls_max = 3\n\n[concurrency]\nbus_batch = 4\n")
    );
    insta::assert_snapshot!(
        "duplicate_process_env_key",
        message("[processes.web]\ncommand = \"vite\"\nenv = { PORT = \"1\", PORT = \"2\" }\n")
    );
}

/// An integer too large for TOML's 64 bits was reported as `invalid TOML: integer number
/// overflowed`, without saying which key.
#[test]
fn integer_overflow_error_did_not_name_the_key() {
    let problems = problems("[concurrency]\nurls_max = 3\nbus_batch = 99999999999999999999\n");
    assert_eq!(
        problems,
        vec![ConfigProblem::OutOfRange {
            path: PROJECT.into(),
            line: 3,
            key: "concurrency.bus_batch".into(),
            value: "99999999999999999999".into(),
            range: "1..=65536".into(),
        }]
    );
    insta::assert_snapshot!("integer_overflow", problems[0].to_string());
    insta::assert_snapshot!(
        "integer_overflow_process_env",
        message("[processes.web]\ncommand = \"vite\"\nenv.PORT = -99999999999999999999\n")
    );
}

#[test]
fn unknown_key_suggests_a_close_one() {
    let problems = problems("[concurrency]\nbus_wrokers = 4\n");
    assert_eq!(
        problems,
        vec![ConfigProblem::UnknownKey {
            path: PROJECT.into(),
            line: 2,
            key: "concurrency.bus_wrokers".into(),
            section: Some("concurrency"),
            suggestion: Some("bus_workers".into()),
            valid: CONCURRENCY.keys.iter().map(|k| k.name).collect(),
        }]
    );
    insta::assert_snapshot!("unknown_key_suggestion", problems[0].to_string());
}

#[test]
fn unknown_key_without_a_close_one_lists_the_section() {
    let text = "[concurrency]\nfrobnicate = 4\n";
    assert!(matches!(&problems(text)[..], [ConfigProblem::UnknownKey { suggestion: None, .. }]));
    insta::assert_snapshot!("unknown_key_list", message(text));
}

#[test]
fn unknown_top_level_table_suggests_the_section() {
    let text = "[concurency]\nbus_workers = 4\n";
    assert!(matches!(
        &problems(text)[..],
        [ConfigProblem::UnknownKey { line: 1, section: None, suggestion: Some(s), .. }] if s == "concurrency"
    ));
    insta::assert_snapshot!("unknown_table_suggestion", message(text));
}

#[test]
fn section_key_at_the_top_level_suggests_the_dotted_form() {
    let text = "bus_workers = 4\n";
    assert!(matches!(
        &problems(text)[..],
        [ConfigProblem::UnknownKey { suggestion: Some(s), .. }] if s == "concurrency.bus_workers"
    ));
    insta::assert_snapshot!("unknown_top_level_key", message(text));
}

#[test]
fn unknown_top_level_key_without_a_close_one_lists_the_tables() {
    let text = "[servers.web]\ncmd = \"npm run dev\"\n";
    assert!(matches!(&problems(text)[..], [ConfigProblem::UnknownKey { suggestion: None, .. }]));
    insta::assert_snapshot!("unknown_top_level_list", message(text));
}

#[test]
fn wrong_type_says_what_was_expected_and_found() {
    let cases = [
        ("bus_workers = \"many\"", "an integer or \"auto\"", "a string (\"many\")"),
        ("bus_workers = \"AUTO\"", "an integer or \"auto\"", "a string (\"AUTO\")"),
        ("bus_batch = 2.5", "an integer", "a float (2.5)"),
        ("bus_block_timeout_ms = \"100ms\"", "an integer number of milliseconds", "a string (\"100ms\")"),
        ("bus_backpressure = 3", "a string", "an integer (3)"),
        ("log_store_bytes = true", "a byte size (an integer or a string like \"64MiB\")", "a boolean (true)"),
        ("log_persist = \"yes\"", "a boolean", "a string (\"yes\")"),
        ("log_persist = 1", "a boolean", "an integer (1)"),
        ("urls_max = [1, 2]", "an integer", "an array"),
        ("urls_max = { a = 1 }", "an integer", "an inline table"),
        ("urls_max = 1979-05-27", "an integer", "a datetime"),
    ];
    for (line, want_expected, want_found) in cases {
        match &problems(&format!("[concurrency]\n{line}\n"))[..] {
            [ConfigProblem::WrongType { line: 2, expected, found, .. }] => {
                assert_eq!((*expected, found.as_str()), (want_expected, want_found), "{line}");
            }
            other => panic!("{line}: {other:?}"),
        }
    }
    insta::assert_snapshot!("wrong_type", message("[concurrency]\nbus_workers = \"many\"\n"));
}

#[test]
fn wrong_type_for_the_section_itself_and_for_nested_tables() {
    assert!(matches!(&problems("concurrency = 3\n")[..], [ConfigProblem::WrongType { expected: "a table", .. }]));
    assert!(matches!(
        &problems("[[concurrency]]\nurls_max = 3\n")[..],
        [ConfigProblem::WrongType { expected: "a table", .. }]
    ));
    match &problems("[concurrency.urls_max]\nx = 1\n")[..] {
        [ConfigProblem::WrongType { key, found, line: 1, .. }] => {
            assert_eq!((key.as_str(), found.as_str()), ("concurrency.urls_max", "a table"));
        }
        other => panic!("{other:?}"),
    }
    insta::assert_snapshot!("wrong_type_section", message("concurrency = 3\n"));
}

#[test]
fn long_strings_are_shortened_in_messages() {
    let long = "x".repeat(500);
    let msg = message(&format!("[concurrency]\nbus_batch = \"{long}\"\n"));
    assert!(msg.len() < 200, "{msg}");
    assert!(msg.contains(&format!("\"{}...\"", "x".repeat(40))), "{msg}");
}

#[test]
fn out_of_range_states_the_range() {
    let cases = [
        ("bus_workers = 0", "0", "1..=64 (or \"auto\")"),
        ("bus_workers = 65", "65", "1..=64 (or \"auto\")"),
        ("urls_max = -1", "-1", "1..=10000"),
        ("bus_block_timeout_ms = 0", "0", "1..=60000 ms"),
        ("proxy_port_base = 80", "80", "1024..=65535"),
        ("log_store_bytes = 1024", "1024", "1MiB..=16GiB"),
        ("log_store_bytes = \"1KiB\"", "\"1KiB\"", "1MiB..=16GiB"),
        ("log_store_bytes = \"17179869185\"", "\"17179869185\"", "1MiB..=16GiB"),
        ("urls_max = 9223372036854775807", "9223372036854775807", "1..=10000"),
    ];
    for (line, want_value, want_range) in cases {
        match &problems(&format!("[concurrency]\n{line}\n"))[..] {
            [ConfigProblem::OutOfRange { line: 2, value, range, .. }] => {
                assert_eq!((value.as_str(), range.as_str()), (want_value, want_range), "{line}");
            }
            other => panic!("{line}: {other:?}"),
        }
    }
    insta::assert_snapshot!("out_of_range", message("[concurrency]\nbus_workers = 0\n"));
    insta::assert_snapshot!("out_of_range_millis", message("[concurrency]\nbus_block_timeout_ms = 0\n"));
    insta::assert_snapshot!("out_of_range_size", message("[concurrency]\nlog_store_bytes = \"1KiB\"\n"));
}

#[test]
fn bad_choice_lists_the_allowed_values() {
    match &problems("[concurrency]\nbus_backpressure = \"drop-oldest\"\n")[..] {
        [ConfigProblem::BadChoice { value, suggestion, allowed, .. }] => {
            assert_eq!(value, "drop-oldest");
            assert_eq!(*suggestion, Some("drop_oldest"));
            assert_eq!(allowed.len(), 4);
        }
        other => panic!("{other:?}"),
    }
    insta::assert_snapshot!("bad_choice_suggestion", message("[concurrency]\nbus_backpressure = \"drop-oldest\"\n"));
    let text = "[concurrency]\nbus_backpressure = \"fast\"\n";
    assert!(matches!(&problems(text)[..], [ConfigProblem::BadChoice { suggestion: None, .. }]));
    insta::assert_snapshot!("bad_choice_list", message(text));
}

#[test]
fn bad_size_says_what_is_wrong() {
    let cases = [
        ("\"10mb\"", SizeError::UnknownUnit { unit: "mb".into(), suggestion: Some("MB") }),
        ("\"10 megabytes\"", SizeError::UnknownUnit { unit: "megabytes".into(), suggestion: None }),
        ("\"1.5GiB\"", SizeError::Fraction),
        ("\"lots\"", SizeError::NoNumber),
        ("\"99999999999TiB\"", SizeError::TooLarge),
    ];
    for (value, want) in cases {
        match &problems(&format!("[concurrency]\nlog_store_bytes = {value}\n"))[..] {
            [ConfigProblem::BadSize { reason, line: 2, .. }] => assert_eq!(reason, &want, "{value}"),
            other => panic!("{value}: {other:?}"),
        }
    }
    insta::assert_snapshot!("bad_size_unit", message("[concurrency]\nlog_store_bytes = \"10mb\"\n"));
    insta::assert_snapshot!("bad_size_unknown_unit", message("[concurrency]\nlog_store_bytes = \"10 megabytes\"\n"));
    insta::assert_snapshot!("bad_size_fraction", message("[concurrency]\nlog_store_bytes = \"1.5GiB\"\n"));
}

#[test]
fn every_problem_of_a_file_is_reported_in_line_order() {
    let text = r#"[concurrency]
bus_wrokers = 4
bus_batch = 0
bus_backpressure = "fast"
urls_max = 3
log_store_bytes = "10 parsecs"
bus_workers = "many"
"#;
    let err = load(text).expect_err("five problems");
    let lines: Vec<_> = err.problems().iter().map(ConfigProblem::line).collect();
    assert_eq!(lines, vec![Some(2), Some(3), Some(4), Some(6), Some(7)]);
    insta::assert_snapshot!("all_problems", err.to_string());
}

#[test]
fn read_error_names_the_path() {
    let err = ConfigError::Read {
        path: PROJECT.into(),
        source: std::io::Error::new(std::io::ErrorKind::PermissionDenied, "permission denied"),
    };
    assert_eq!(err.to_string(), "failed to read config file `/home/u/work/app/.brum.toml`");
    assert!(err.problems().is_empty());
    assert!(std::error::Error::source(&err).is_some());
}

// ---------------------------------------------------------------------------------------------
// [discovery] and [processes.NAME]

#[test]
fn package_manager_preference() {
    assert_eq!(Settings::defaults().package_manager(), None);
    assert_eq!(load("[discovery]\npackage_manager = \"auto\"\n").expect("valid").package_manager(), None);
    let s = load("\n[discovery]\npackage_manager = \"pnpm\"\n").expect("valid");
    assert_eq!(s.package_manager(), Some("pnpm"));
    assert_eq!(s.source("discovery", "package_manager"), Some(&file(PROJECT, 3)));
    match &problems("[discovery]\npackage_manager = \"pnmp\"\n")[..] {
        [ConfigProblem::BadChoice { suggestion: Some("pnpm"), line: 2, .. }] => {}
        other => panic!("{other:?}"),
    }
    insta::assert_snapshot!("bad_package_manager", message("[discovery]\npackage_manager = \"pnmp\"\n"));
}

#[test]
fn processes_are_read_with_every_key() {
    let s = load(
        r#"
[processes.api]
command = "cargo run -p api"
cwd = "services/api"
env = { PORT = 4000, RUST_LOG = "debug", DEBUG = true }
restart = "on-failure"

[processes."web-2"]
command = "npm run dev"

[processes.worker.env]
QUEUE = "default"
[processes.worker]
command = "bin/worker"
"#,
    )
    .expect("valid");
    let procs: Vec<_> = s.processes().cloned().collect();
    let env =
        |pairs: &[(&str, &str)]| pairs.iter().map(|(k, v)| ((*k).to_owned(), (*v).to_owned())).collect::<Vec<_>>();
    assert_eq!(
        procs,
        vec![
            ProcessDecl {
                name: "api".into(),
                command: "cargo run -p api".into(),
                cwd: Some("services/api".into()),
                env: env(&[("PORT", "4000"), ("RUST_LOG", "debug"), ("DEBUG", "true")]),
                restart: RestartPolicy::OnFailure,
                file: PROJECT.into(),
                line: 2,
            },
            ProcessDecl {
                name: "web-2".into(),
                command: "npm run dev".into(),
                cwd: None,
                env: Vec::new(),
                restart: RestartPolicy::Never,
                file: PROJECT.into(),
                line: 8,
            },
            ProcessDecl {
                name: "worker".into(),
                command: "bin/worker".into(),
                cwd: None,
                env: env(&[("QUEUE", "default")]),
                restart: RestartPolicy::Never,
                file: PROJECT.into(),
                line: 13,
            },
        ]
    );
}

#[test]
fn a_later_layer_replaces_a_process_whole() {
    let home =
        layer(HOME, "[processes.web]\ncommand = \"a\"\ncwd = \"x\"\n[processes.docs]\ncommand = \"mkdocs serve\"\n");
    let project = layer(PROJECT, "[processes.web]\ncommand = \"b\"\n");
    let s = Settings::from_layers(&[home, project]).expect("valid");
    let procs: Vec<_> =
        s.processes().map(|p| (p.name.as_str(), p.command.as_str(), p.cwd.clone(), p.file.clone())).collect();
    assert_eq!(procs, vec![("docs", "mkdocs serve", None, HOME.into()), ("web", "b", None, PROJECT.into())]);
}

#[test]
fn process_problems_name_file_line_and_key() {
    let text = r#"[processes.web]
cmd = "npm run dev"
restart = "on_failure"
env = { PORT = [1], "A=B" = "x" }

[processes.api]
cwd = 3

[processes."bad name"]
command = "x"

[processes.empty]
command = ""
"#;
    let err = load(text).expect_err("problems");
    let summary: Vec<_> = err.problems().iter().map(|p| (p.line(), std::mem::discriminant(p))).collect();
    assert_eq!(summary.len(), 9, "{err}");
    assert!(matches!(
        &err.problems()[1],
        ConfigProblem::UnknownKey { key, suggestion: Some(s), .. } if key == "processes.web.cmd" && s == "command"
    ));
    insta::assert_snapshot!("all_process_problems", err.to_string());
}

#[test]
fn processes_must_be_tables() {
    match &problems("processes = 3\n")[..] {
        [ConfigProblem::WrongType { key, expected: "a table of processes", .. }] => assert_eq!(key, "processes"),
        other => panic!("{other:?}"),
    }
    match &problems("[processes]\nweb = \"npm run dev\"\n")[..] {
        [ConfigProblem::WrongType { key, expected: "a table", line: 2, .. }] => assert_eq!(key, "processes.web"),
        other => panic!("{other:?}"),
    }
    assert!(load("[processes]\n").expect("an empty table is fine").processes().next().is_none());
}

#[test]
fn a_misspelt_processes_table_is_suggested() {
    let text = "[process.web]\ncommand = \"x\"\n";
    assert!(matches!(&problems(text)[..], [ConfigProblem::UnknownKey { suggestion: Some(s), .. }] if s == "processes"));
}

#[test]
fn render_shows_processes_and_round_trips() {
    let text = "[processes.api]\ncommand = \"./bin/api --name \\\"x\\\"\"\ncwd = \"services/api\"\nenv = { PORT = 4000 }\nrestart = \"always\"\n[processes.\"web.dev\"]\ncommand = \"npm run dev\"\n";
    let settings = load(text).expect("valid");
    let rendered = render_settings(&settings, &[(PROJECT.into(), true)], 2);
    let tail = &rendered[rendered.find("[processes.").expect("processes rendered")..];
    insta::assert_snapshot!("render_processes", tail);
    let reloaded = load(&rendered).expect("the rendering is valid");
    let strip = |s: &Settings| {
        s.processes()
            .map(|p| (p.name.clone(), p.command.clone(), p.cwd.clone(), p.env.clone(), p.restart))
            .collect::<Vec<_>>()
    };
    assert_eq!(strip(&reloaded), strip(&settings));
}

// ---------------------------------------------------------------------------------------------
// Rendering

fn files() -> Vec<(PathBuf, bool)> {
    vec![
        (PathBuf::from(HOME), true),
        (PathBuf::from("/.brum.toml"), false),
        (PathBuf::from("/home/.brum.toml"), false),
        (PathBuf::from(PARENT), false),
        (PathBuf::from(PROJECT), true),
    ]
}

#[test]
fn render_defaults() {
    let text = render_settings(&Settings::defaults(), &[], 2);
    assert!(text.contains("bus_workers "), "{text}");
    assert!(text.contains("# default (auto = 5 on 2 cores)"), "{text}");
    insta::assert_snapshot!("render_defaults", text);
}

#[test]
fn render_two_layers() {
    let home = layer(HOME, "[concurrency]\nbus_workers = 8\nlog_store_bytes = \"128MiB\"\nurls_max = 50\n");
    let project = layer(
        PROJECT,
        "# project overrides\n[concurrency]\nurls_max = 200\nbus_backpressure = \"block\"\nlog_file_bytes = \"10MB\"\n",
    );
    let settings = Settings::from_layers(&[home, project]).expect("valid");
    let text = render_settings(&settings, &files(), 8);
    assert!(text.contains(&format!("# {HOME}:2\n")), "{text}");
    assert!(text.contains(&format!("# {PROJECT}:3\n")), "{text}");
    insta::assert_snapshot!("render_two_layers", text);
}

#[test]
fn render_is_a_valid_config_with_the_same_values() {
    let home = layer(HOME, "[concurrency]\nbus_workers = 8\nlog_store_bytes = 1048577\nlog_file_bytes = \"10MB\"\n");
    let settings = Settings::from_layers(&[home]).expect("valid");
    let rendered = render_settings(&settings, &files(), 2);
    let reloaded = Settings::from_layers(&[layer(PROJECT, &rendered)]).expect("rendered text is valid");
    for section in SECTIONS {
        for key in section.keys {
            assert_eq!(
                reloaded.setting(section.name, key).value,
                settings.setting(section.name, key).value,
                "{}",
                key.name
            );
        }
    }
    assert_eq!(reloaded.log_store_bytes(), 1_048_577);
}

#[test]
fn render_keeps_explicit_auto_visible() {
    let settings = load("[concurrency]\nbus_workers = \"auto\"\n").expect("valid");
    let text = render_settings(&settings, &[(PROJECT.into(), true)], 16);
    assert!(text.contains(&format!("# {PROJECT}:2 (auto = 32 on 16 cores)")), "{text}");
    assert!(text.contains("bus_workers                    = \"auto\""), "{text}");
}

// ---------------------------------------------------------------------------------------------
// Robustness

fn fragment() -> impl Strategy<Value = String> {
    let keys: Vec<String> = CONCURRENCY.keys.iter().map(|k| k.name.to_owned()).chain(["bus_wrkers".into()]).collect();
    let values = prop_oneof![
        any::<i64>().prop_map(|n| n.to_string()),
        "\"[0-9 ]{0,5}[A-Za-z.]{0,4}\"",
        Just("\"auto\"".to_owned()),
        Just("\"degrade\"".to_owned()),
        Just("1.5".to_owned()),
        Just("[1]".to_owned()),
        Just("{ x = 1 }".to_owned()),
        ".{0,6}",
    ];
    let line = (proptest::sample::select(keys), values).prop_map(|(k, v)| format!("{k} = {v}"));
    let header =
        prop_oneof![Just("[concurrency]".to_owned()), Just("[x]".to_owned()), Just("[[concurrency]]".to_owned())];
    proptest::collection::vec(prop_oneof![4 => line, 1 => header], 0..12).prop_map(|lines| lines.join("\n"))
}

proptest! {
    #[test]
    fn loading_never_panics_on_arbitrary_text(text in "\\PC{0,200}") {
        let _ = load(&text);
    }

    #[test]
    fn loading_never_panics_and_problems_point_into_the_file(text in fragment()) {
        let line_count = text.lines().count().max(1);
        match load(&text) {
            Ok(settings) => { let _ = render_settings(&settings, &[], 4); }
            Err(e) => {
                prop_assert!(!e.problems().is_empty());
                for p in e.problems() {
                    prop_assert_eq!(p.path(), std::path::Path::new(PROJECT));
                    if let Some(line) = p.line() {
                        prop_assert!((1..=line_count + 1).contains(&line), "line {} of {}", line, line_count);
                    }
                    let _ = p.to_string();
                }
            }
        }
    }
}

#[test]
fn the_value_type_round_trips_through_toml_for_every_default() {
    for key in CONCURRENCY.keys {
        let text = format!("[concurrency]\n{} = {}\n", key.name, key.default.to_toml(key.kind));
        let s = load(&text).unwrap_or_else(|e| panic!("{}: {e}", key.name));
        assert_eq!(s.setting("concurrency", key).value, key.default, "{}", key.name);
    }
}

/// `[mcp] token` is read like a string, and never shown: neither by `Debug` nor by the rendered
/// settings (which say only that it is set).
#[test]
fn a_secret_is_read_but_never_printed() {
    let s = load("[mcp]\ntoken = \"s3cret-tok\"\nallow_adhoc = true\n").expect("valid");
    assert_eq!(s.mcp_token(), Some("s3cret-tok"));
    assert!(s.mcp_allow_adhoc());
    assert!(!format!("{s:?}").contains("s3cret-tok"));
    let rendered = super::schema::Value::Secret("s3cret-tok").to_toml(super::schema::Kind::Secret);
    assert_eq!(rendered, format!("{:?}", super::schema::SECRET_SHOWN));
    let wrong = load("[mcp]\ntoken = 42\n").expect_err("a number is not a token");
    assert!(wrong.to_string().contains("expected a string"), "{wrong}");
}
