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
