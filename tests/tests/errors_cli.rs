//! brum's errors end to end: each input problem exits with its documented code
//! (`brum::exit`, README.md "Exit codes") and one message naming what was wrong. The stderr
//! of each is pinned, with the temporary directory filtered to `[TMP]`.

use std::path::Path;
use std::process::{Command, Output};

use brum::exit;
use brum_tests::{brum_bin, stderr, stdout};

/// Runs `brum args...` in `dir`, with an empty home directory so no personal `.brum.toml`
/// counts.
fn brum_in(dir: &Path, args: &[&str]) -> Output {
    let home = tempfile::tempdir().expect("temp home");
    Command::new(brum_bin())
        .args(args)
        .current_dir(dir)
        .env("HOME", home.path())
        .env("NO_COLOR", "1")
        .output()
        .expect("brum runs")
}

/// A project with a Procfile defining `dev` and `worker`.
fn project() -> tempfile::TempDir {
    let dir = tempfile::tempdir().expect("temp dir");
    std::fs::write(dir.path().join("Procfile"), "dev: echo dev\nworker: echo worker\n").expect("write Procfile");
    dir
}

/// The exit code and stderr, with `tmp` shown as `[TMP]`.
fn report(o: &Output, tmp: &Path) -> String {
    let err = stderr(o).replace(&tmp.display().to_string(), "[TMP]");
    format!("exit: {:?}\n--- stderr\n{err}", o.status.code())
}

#[test]
fn unknown_script_exits_usage_with_the_closest_name() {
    let dir = project();
    let o = brum_in(dir.path(), &["run", "dve"]);
    assert_eq!(o.status.code(), Some(exit::USAGE), "{}", stderr(&o));
    assert_eq!(stdout(&o), "", "nothing ran");
    assert_eq!(stderr(&o), "error: unknown script `dve`; did you mean `dev`?\n");
    // With nothing close, the message says where to look.
    let o = brum_in(dir.path(), &["run", "zzzzzz"]);
    assert_eq!(o.status.code(), Some(exit::USAGE));
    insta::assert_snapshot!("unknown_script_nothing_close", report(&o, dir.path()));
}

#[test]
fn missing_project_dir_exits_usage_naming_the_path_as_given_in_every_command() {
    let tmp = tempfile::tempdir().expect("temp dir");
    for args in
        [&["-C", "no/such/dir", "run", "dev"][..], &["ls", "-C", "no/such/dir"], &["--settings", "-C", "no/such/dir"]]
    {
        let o = brum_in(tmp.path(), args);
        assert_eq!(o.status.code(), Some(exit::USAGE), "{args:?}: {}", stderr(&o));
        assert_eq!(stderr(&o), "error: no such project directory `no/such/dir`\n", "{args:?}");
    }
    let dir = project();
    let o = brum_in(tmp.path(), &["-C", &dir.path().join("Procfile").display().to_string(), "run", "dev"]);
    assert_eq!(o.status.code(), Some(exit::USAGE));
    assert_eq!(
        report(&o, dir.path()),
        "exit: Some(2)\n--- stderr\nerror: project path `[TMP]/Procfile` is not a directory\n"
    );
}

#[test]
fn malformed_brum_toml_exits_usage_naming_file_and_line() {
    let dir = project();
    std::fs::write(dir.path().join(".brum.toml"), "[concurrency]\nbus_workers = \n").expect("write .brum.toml");
    let o = brum_in(dir.path(), &["run", "dev"]);
    assert_eq!(o.status.code(), Some(exit::USAGE), "{}", stderr(&o));
    assert_eq!(stdout(&o), "", "nothing ran");
    let want = format!("{}:2: invalid TOML", dir.path().join(".brum.toml").display());
    assert!(stderr(&o).contains(&want), "{want} in:\n{}", stderr(&o));
    insta::assert_snapshot!("malformed_brum_toml_run", report(&o, dir.path()));
    // `--settings` says the same, with the same code.
    let settings = brum_in(dir.path(), &["--settings"]);
    assert_eq!(settings.status.code(), Some(exit::USAGE));
    assert_eq!(stderr(&settings), stderr(&o));
}

/// `brum ls` lists the project anyway; the config problem is one more diagnostic, printed like
/// discovery's, with the file relative to the project.
#[test]
fn ls_prints_config_and_discovery_problems_alike() {
    let dir = project();
    std::fs::write(dir.path().join(".brum.toml"), "[concurrency]\nbus_wrokers = 4\n").expect("write .brum.toml");
    std::fs::write(dir.path().join("package.json"), "{\"scripts\": {\"build\": 1}}").expect("write package.json");
    let o = brum_in(dir.path(), &["ls"]);
    assert_eq!(o.status.code(), Some(exit::OK), "{}", stderr(&o));
    insta::assert_snapshot!("ls_config_and_discovery_problems", report(&o, dir.path()));
}
