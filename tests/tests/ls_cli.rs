//! `brum ls` end to end: the real binary over the projects in `tests/fixtures/projects/`, with
//! an empty home directory so no personal `.brum.toml` leaks in. Paths are relative (`-C
//! fixtures/projects/X` from this package's directory, and the listing shows paths relative to
//! the project); the one absolute path, the JSON `root`, is filtered to `[FIXTURES]`.

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use brum_tests::{brum_bin, stderr, stdout};

/// This package's directory; the fixtures are under it.
fn package_dir() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

/// Runs `brum` in `dir` with `HOME` set to an empty directory.
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

/// `brum ls [extra] -C fixtures/projects/<name>`.
fn ls(name: &str, extra: &[&str]) -> Output {
    let project = format!("fixtures/projects/{name}");
    let mut args = vec!["ls"];
    args.extend(extra);
    args.extend(["-C", &project]);
    brum_in(&package_dir(), &args)
}

/// Runs `f` with the absolute fixtures directory filtered out of snapshots.
fn with_stable_paths(f: impl FnOnce()) {
    let fixtures = package_dir().join("fixtures").join("projects").display().to_string();
    let mut settings = insta::Settings::clone_current();
    settings.add_filter(&regex_lite::escape(&fixtures), "[FIXTURES]");
    settings.bind(f);
}

/// The text listing and what went to stderr, for one snapshot.
fn text_snapshot(o: &Output) -> String {
    format!("exit: {:?}\n--- stdout\n{}--- stderr\n{}", o.status.code(), stdout(o), stderr(o))
}

fn json(o: &Output) -> serde_json::Value {
    serde_json::from_slice(&o.stdout).unwrap_or_else(|e| panic!("ls --json prints JSON ({e}):\n{}", stdout(o)))
}

macro_rules! text_fixture {
    ($test:ident, $name:literal) => {
        #[test]
        fn $test() {
            let o = ls($name, &[]);
            assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
            with_stable_paths(|| insta::assert_snapshot!(text_snapshot(&o)));
        }
    };
}

text_fixture!(ls_pnpm_monorepo, "pnpm-monorepo");
text_fixture!(ls_npm_workspaces, "npm-workspaces");
text_fixture!(ls_yarn_workspaces, "yarn-workspaces");
text_fixture!(ls_bun_app, "bun-app");
text_fixture!(ls_lerna, "lerna");
text_fixture!(ls_nx, "nx");
text_fixture!(ls_turbo, "turbo");
text_fixture!(ls_polyglot, "polyglot");

#[test]
fn ls_pnpm_monorepo_json() {
    let o = ls("pnpm-monorepo", &["--json"]);
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    assert_eq!(stderr(&o), "");
    let doc = json(&o);
    let names: Vec<&str> = doc["sources"]
        .as_array()
        .expect("sources")
        .iter()
        .flat_map(|s| s["scripts"].as_array().expect("scripts"))
        .map(|s| s["name"].as_str().expect("name"))
        .collect();
    assert_eq!(
        names,
        vec![
            "dev",
            "build",
            "lint",
            "api:dev",
            "api:build",
            "api:start",
            "web:dev",
            "web:build",
            "web:preview",
            "ui:build",
            "ui:test"
        ]
    );
    assert_eq!(doc["sources"][0]["package_manager"]["manager"], "pnpm");
    with_stable_paths(|| insta::assert_snapshot!(stdout(&o)));
}

#[test]
fn ls_polyglot_json() {
    let o = ls("polyglot", &["--json"]);
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    let doc = json(&o);
    let web = doc["sources"][0]["scripts"]
        .as_array()
        .expect("scripts")
        .iter()
        .find(|s| s["name"] == "web")
        .expect("the .brum.toml process keeps `web`");
    assert_eq!(web["source"], "brum_toml");
    assert_eq!(web["restart"], "always");
    assert_eq!(web["env"]["PORT"], "3000");
    assert_eq!(doc["renames"][0]["name"], "procfile:web");
    with_stable_paths(|| insta::assert_snapshot!(stdout(&o)));
}

#[test]
fn ls_broken_lists_the_makefile_and_names_the_error_position() {
    let o = ls("broken", &[]);
    assert_eq!(o.status.code(), Some(0), "the Makefile's targets were found");
    assert!(stdout(&o).contains("make:build"), "{}", stdout(&o));
    assert!(
        stderr(&o).contains("error: package.json:5:5: expected `,` or `}` after an object member, found `\"`"),
        "{}",
        stderr(&o)
    );
    insta::assert_snapshot!(text_snapshot(&o));
}

#[test]
fn ls_broken_json_carries_the_errors() {
    let o = ls("broken", &["--json"]);
    assert_eq!(o.status.code(), Some(0));
    let doc = json(&o);
    assert_eq!(
        doc["errors"][0],
        serde_json::json!({
            "severity": "error",
            "file": "package.json",
            "line": 5,
            "column": 5,
            "message": "expected `,` or `}` after an object member, found `\"`",
            "hint": null,
        })
    );
    assert_eq!(doc["errors"][1]["file"], "Procfile");
    with_stable_paths(|| insta::assert_snapshot!(stdout(&o)));
}

#[test]
fn ls_missing_project_exits_2() {
    let o = ls("does-not-exist", &[]);
    assert_eq!(o.status.code(), Some(2));
    assert_eq!(stdout(&o), "");
    assert_eq!(stderr(&o), "error: no such project directory `fixtures/projects/does-not-exist`\n");
    let o = ls("bun-app/package.json", &[]);
    assert_eq!(o.status.code(), Some(2));
    assert_eq!(stderr(&o), "error: project path `fixtures/projects/bun-app/package.json` is not a directory\n");
}

#[test]
fn ls_without_c_uses_the_current_directory_and_c_works_before_the_subcommand() {
    let dir = package_dir().join("fixtures/projects/bun-app");
    let here = brum_in(&dir, &["ls"]);
    assert_eq!(here.status.code(), Some(0), "{}", stderr(&here));
    let before = brum_in(&package_dir(), &["-C", "fixtures/projects/bun-app", "ls"]);
    assert_eq!(stdout(&here), stdout(&before));
    assert!(stdout(&here).contains("bun run dev"), "{}", stdout(&here));
}

/// The README promised exit 1 when `brum ls` finds nothing runnable, but an empty folder
/// exited 0 with the message on stdout.
#[test]
fn ls_in_an_empty_folder_exits_1_with_no_scripts_found_on_stderr() {
    let tmp = tempfile::tempdir().expect("temp dir");
    let o = brum_in(tmp.path(), &["ls"]);
    assert_eq!(o.status.code(), Some(1), "{}", stdout(&o));
    assert_eq!(stdout(&o), "");
    assert!(
        stderr(&o).starts_with("no scripts found in . (looked for .brum.toml processes, package.json"),
        "{}",
        stderr(&o)
    );
    let o = brum_in(&package_dir(), &["ls", "--json", "-C", &tmp.path().display().to_string()]);
    assert_eq!(o.status.code(), Some(1), "{}", stderr(&o));
    assert_eq!(json(&o)["sources"], serde_json::json!([]));
    assert_eq!(stderr(&o), "", "--json keeps stderr for a bad project directory");
}

#[test]
fn ls_with_files_that_define_no_scripts_or_only_errors_exits_1() {
    let tmp = tempfile::tempdir().expect("temp dir");
    std::fs::write(tmp.path().join("package.json"), "{}").expect("write");
    let o = brum_in(tmp.path(), &["ls"]);
    assert_eq!(o.status.code(), Some(1), "{}", stdout(&o));
    assert!(stdout(&o).contains("(no scripts)"), "{}", stdout(&o));
    assert_eq!(stderr(&o), "no scripts found in .\n");

    std::fs::remove_file(tmp.path().join("package.json")).expect("remove");
    std::fs::write(tmp.path().join("Procfile"), "not a process line\n").expect("write");
    let o = brum_in(tmp.path(), &["ls"]);
    assert_eq!(o.status.code(), Some(1), "{}", stdout(&o));
    assert_eq!(stderr(&o), "error: Procfile:1:1: expected `name: command`\nno scripts found in .\n");
}

#[test]
fn ls_follows_the_brum_toml_package_manager_and_survives_a_bad_one() {
    let tmp = tempfile::tempdir().expect("temp dir");
    std::fs::write(tmp.path().join("package.json"), r#"{ "scripts": { "dev": "vite" } }"#).expect("write");
    std::fs::write(tmp.path().join("pnpm-lock.yaml"), "").expect("write");
    let o = brum_in(tmp.path(), &["ls"]);
    assert!(stdout(&o).contains("dev  pnpm run dev"), "{}", stdout(&o));

    std::fs::write(tmp.path().join(".brum.toml"), "[discovery]\npackage_manager = \"bun\"\n").expect("write");
    let o = brum_in(tmp.path(), &["ls"]);
    assert!(stdout(&o).contains("package.json (bun from .brum.toml)"), "{}", stdout(&o));
    assert!(stdout(&o).contains("dev  bun run dev"), "{}", stdout(&o));

    std::fs::write(tmp.path().join(".brum.toml"), "[discovery]\npackage_manager = \"pnmp\"\n").expect("write");
    let o = brum_in(tmp.path(), &["ls"]);
    assert_eq!(o.status.code(), Some(0));
    assert!(stdout(&o).contains("dev  pnpm run dev"), "defaults apply: {}", stdout(&o));
    assert_eq!(
        stderr(&o),
        "error: .brum.toml:2: invalid value \"pnmp\" for `discovery.package_manager`: expected one of auto, npm, pnpm, yarn, bun; did you mean `pnpm`?\n"
    );
}

/// Writes an npm workspace (`packages/**`) of `n` packages `packages/pkg-NNNN`, each with a
/// `hello` script and a few source directories, as a real monorepo has.
fn numbered_npm_workspace(dir: &Path, n: usize) {
    std::fs::write(dir.join("package.json"), r#"{ "name": "root", "private": true, "workspaces": ["packages/**"] }"#)
        .expect("write");
    for i in 0..n {
        let pkg = dir.join(format!("packages/pkg-{i:04}"));
        for sub in ["src/lib", "src/ui", "test"] {
            std::fs::create_dir_all(pkg.join(sub)).expect("mkdir");
        }
        std::fs::write(
            pkg.join("package.json"),
            format!(r#"{{ "name": "pkg-{i:04}", "scripts": {{ "hello": "echo ok-{i:04}" }} }}"#),
        )
        .expect("write");
    }
}

/// Packages past the 1,000th were not listed, so `brum run` on their scripts said `unknown
/// script`; a real monorepo can have 2,000.
#[test]
fn ls_and_run_a_2000_package_workspace_past_the_old_1000_limit() {
    let tmp = tempfile::tempdir().expect("temp dir");
    numbered_npm_workspace(tmp.path(), 2000);
    let o = brum_in(tmp.path(), &["ls", "--json"]);
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    let doc = json(&o);
    assert_eq!(doc["errors"], serde_json::json!([]));
    assert_eq!(doc["workspace"]["packages"].as_array().map(Vec::len), Some(2000));
    let names: Vec<&str> = doc["sources"]
        .as_array()
        .expect("sources")
        .iter()
        .flat_map(|s| s["scripts"].as_array().expect("scripts"))
        .filter_map(|s| s["name"].as_str())
        .collect();
    let want: Vec<String> = (0..2000).map(|i| format!("pkg-{i:04}:hello")).collect();
    assert_eq!(names, want);

    let o = brum_in(tmp.path(), &["run", "pkg-1999:hello"]);
    assert_eq!(o.status.code(), Some(0), "{}{}", stdout(&o), stderr(&o));
    assert!(stdout(&o).contains("ok-1999"), "npm ran package #1999's script: {}", stdout(&o));
}

/// A symlink loop under `packages/**` (`packages/a/loop -> ..`) listed two packages 87 times:
/// the glob walked round the loop until its depth limit.
#[test]
fn ls_symlink_loop_in_a_double_star_workspace_lists_each_package_once() {
    let tmp = tempfile::tempdir().expect("temp dir");
    let root = tmp.path();
    std::fs::write(root.join("package.json"), r#"{ "workspaces": ["packages/**"] }"#).expect("write");
    for name in ["a", "b"] {
        std::fs::create_dir_all(root.join("packages").join(name)).expect("mkdir");
        std::fs::write(
            root.join("packages").join(name).join("package.json"),
            format!(r#"{{ "name": "{name}", "scripts": {{ "dev": "echo {name}" }} }}"#),
        )
        .expect("write");
    }
    std::os::unix::fs::symlink("..", root.join("packages/a/loop")).expect("symlink");
    std::os::unix::fs::symlink("../a", root.join("packages/b/to-a")).expect("symlink");
    std::os::unix::fs::symlink("../..", root.join("packages/b/to-root")).expect("symlink");
    let o = brum_in(root, &["ls", "--json"]);
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    let doc = json(&o);
    assert_eq!(doc["workspace"]["packages"], serde_json::json!(["packages/a", "packages/b"]));
    let names: Vec<&str> = doc["sources"]
        .as_array()
        .expect("sources")
        .iter()
        .flat_map(|s| s["scripts"].as_array().expect("scripts"))
        .filter_map(|s| s["name"].as_str())
        .collect();
    assert_eq!(names, vec!["a:dev", "b:dev"]);
    assert_eq!(doc["errors"], serde_json::json!([]));
}
