//! `brum --settings` end to end, with a real home directory and project tree.

use std::process::Command;

use brum_tests::{brum_bin, stderr, stdout};

fn run_in(home: &std::path::Path, project: &std::path::Path) -> std::process::Output {
    Command::new(brum_bin()).arg("--settings").arg("-C").arg(project).env("HOME", home).output().unwrap()
}

#[test]
fn settings_print_every_value_with_its_source() {
    let tmp = tempfile::tempdir().unwrap();
    let home = tmp.path().join("home");
    let project = tmp.path().join("work").join("app");
    std::fs::create_dir_all(&home).unwrap();
    std::fs::create_dir_all(&project).unwrap();
    std::fs::write(home.join(".brum.toml"), "[concurrency]\nbus_workers = 8\nlog_store_bytes = \"128MiB\"\n").unwrap();
    std::fs::write(tmp.path().join("work").join(".brum.toml"), "[concurrency]\nbus_workers = 6\n").unwrap();
    std::fs::write(project.join(".brum.toml"), "# project\n[concurrency]\nbus_backpressure = \"drop_oldest\"\n")
        .unwrap();
    let o = run_in(&home, &project);
    assert!(o.status.success(), "{}", stderr(&o));
    let text = stdout(&o).replace(&tmp.path().display().to_string(), "[TMP]");
    assert!(text.contains("bus_workers                    = 6"), "{text}");
    insta::with_settings!({ filters => vec![(r"(?m)^#   /[^\n]*\.brum\.toml \(not found\)\n", "")] }, {
        insta::assert_snapshot!(text);
    });
}

#[test]
fn settings_errors_name_file_line_and_key_and_exit_2() {
    let tmp = tempfile::tempdir().unwrap();
    std::fs::write(
        tmp.path().join(".brum.toml"),
        "[concurrency]\nbus_wrokers = 4\nbus_batch = 0\nbus_backpressure = \"dorp_oldest\"\n",
    )
    .unwrap();
    let o = run_in(tmp.path(), tmp.path());
    assert_eq!(o.status.code(), Some(2));
    let err = stderr(&o).replace(&tmp.path().display().to_string(), "[TMP]");
    insta::assert_snapshot!(err);
}

/// `HOME=""` once made `.brum.toml` in the current directory the home layer: an empty path
/// joined with the file name is a relative path. The project is elsewhere, so nothing from the
/// current directory may be consulted.
#[test]
fn empty_home_does_not_load_the_current_directory_as_home() {
    let tmp = tempfile::tempdir().unwrap();
    let cwd = tmp.path().join("cwd");
    let project = tmp.path().join("project");
    std::fs::create_dir_all(&cwd).unwrap();
    std::fs::create_dir_all(&project).unwrap();
    std::fs::write(cwd.join(".brum.toml"), "[concurrency]\nbus_batch = 77\n").unwrap();
    let o = Command::new(brum_bin())
        .arg("--settings")
        .arg("-C")
        .arg(&project)
        .current_dir(&cwd)
        .env("HOME", "")
        .output()
        .unwrap();
    assert!(o.status.success(), "{}", stderr(&o));
    let text = stdout(&o);
    let consulted: Vec<&str> = text.lines().filter(|l| l.ends_with("(found)") || l.ends_with("(not found)")).collect();
    assert!(consulted.iter().all(|l| l.starts_with("#   /")), "only absolute project ancestors: {consulted:?}");
    assert!(!consulted.iter().any(|l| l.contains(&cwd.display().to_string())), "{consulted:?}");
    let batch = text.lines().find(|l| l.starts_with("bus_batch ")).expect("bus_batch line");
    assert!(batch.ends_with("# default") && batch.contains("= 256"), "{batch}");
}
