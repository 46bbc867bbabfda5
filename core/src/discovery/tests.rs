//! `discover` over in-memory projects: every source, manager detection, workspaces, naming,
//! collisions and errors. Parsers' own edge cases are tested beside them.

use std::path::{Path, PathBuf};

use proptest::prelude::*;

use super::*;
use crate::config::ProcessDecl;
use crate::diagnostic::Severity;
use crate::script::{Command, RestartPolicy, Script, SourceKind};

const ROOT: &str = "/p";

fn fs(files: &[(&str, &str)]) -> MemFs {
    files.iter().fold(MemFs::new().dir(ROOT), |fs, (path, text)| fs.file(Path::new(ROOT).join(path), text))
}

fn run(files: &[(&str, &str)]) -> Discovery {
    discover(&fs(files), Path::new(ROOT), &DiscoveryPrefs::default())
}

fn run_with(files: &[(&str, &str)], prefs: &DiscoveryPrefs) -> Discovery {
    discover(&fs(files), Path::new(ROOT), prefs)
}

fn names(d: &Discovery) -> Vec<&str> {
    d.scripts().map(|s| s.name.as_str()).collect()
}

/// `name => command` for every script.
fn commands(d: &Discovery) -> Vec<String> {
    d.scripts().map(|s| format!("{} => {}", s.name, s.command)).collect()
}

fn get<'a>(d: &'a Discovery, name: &str) -> &'a Script {
    d.script(name).unwrap_or_else(|| panic!("no script `{name}` in {:?}", names(d)))
}

fn p(rel: &str) -> PathBuf {
    if rel.is_empty() { PathBuf::from(ROOT) } else { Path::new(ROOT).join(rel) }
}

/// `file:line:column: message` for every diagnostic (`warning: ` first for a warning), the
/// file relative to the root.
fn errors(d: &Discovery) -> Vec<String> {
    d.diagnostics
        .iter()
        .map(|e| {
            let file = e.file.strip_prefix(ROOT).unwrap_or(&e.file).display().to_string();
            let severity = if e.severity == Severity::Warning { "warning: " } else { "" };
            format!("{severity}{file}:{}:{}: {}", e.line.unwrap_or(0), e.column.unwrap_or(0), e.message)
        })
        .collect()
}

fn manager(d: &Discovery) -> (PackageManager, ManagerReason) {
    let choice = d.sources.iter().find_map(|s| s.package_manager.clone()).expect("a package manager");
    (choice.manager, choice.reason)
}

const PKG: &str = r#"{ "name": "app", "scripts": { "dev": "vite", "build": "vite build" } }"#;

// ---------------------------------------------------------------------------------------------
// package.json and the package manager

#[test]
fn package_json_scripts_run_through_npm_by_default() {
    let d = run(&[("package.json", PKG)]);
    assert_eq!(commands(&d), vec!["dev => npm run dev", "build => npm run build"]);
    let dev = get(&d, "dev");
    assert_eq!(dev.source, SourceKind::PackageJson);
    assert_eq!(dev.file, p("package.json"));
    assert_eq!(dev.cwd, p(""));
    assert_eq!(dev.detail.as_deref(), Some("vite"));
    assert_eq!(dev.command, Command::Exec { program: "npm".into(), args: vec!["run".into(), "dev".into()] });
    assert_eq!(manager(&d), (PackageManager::Npm, ManagerReason::Default));
    assert!(d.diagnostics.is_empty() && d.workspace.is_none() && d.renames.is_empty());
}

#[test]
fn lockfiles_are_checked_in_order() {
    let order = [
        ("bun.lock", PackageManager::Bun),
        ("bun.lockb", PackageManager::Bun),
        ("pnpm-lock.yaml", PackageManager::Pnpm),
        ("yarn.lock", PackageManager::Yarn),
        ("package-lock.json", PackageManager::Npm),
    ];
    // With every lockfile from position i on present, the i-th wins.
    for i in 0..order.len() {
        let mut files = vec![("package.json", PKG)];
        files.extend(order[i..].iter().map(|(f, _)| (*f, "")));
        let d = run(&files);
        assert_eq!(manager(&d), (order[i].1, ManagerReason::Lockfile { file: order[i].0.into() }), "{files:?}");
        assert_eq!(get(&d, "dev").command.to_string(), format!("{} run dev", order[i].1));
    }
    assert_eq!(LOCKFILES.iter().map(|(f, _)| *f).take(5).collect::<Vec<_>>(), order.map(|(f, _)| f));
}

#[test]
fn the_package_manager_field_beats_lockfiles() {
    let pkg = r#"{ "packageManager": "yarn@4.1.0+sha224.abc", "scripts": { "dev": "vite" } }"#;
    let d = run(&[("package.json", pkg), ("pnpm-lock.yaml", "")]);
    assert_eq!(
        manager(&d),
        (PackageManager::Yarn, ManagerReason::PackageManagerField { value: "yarn@4.1.0+sha224.abc".into() })
    );
    assert_eq!(get(&d, "dev").command.to_string(), "yarn run dev");
}

#[test]
fn the_brum_toml_preference_beats_everything() {
    let pkg = r#"{ "packageManager": "yarn@4.1.0", "scripts": { "dev": "vite" } }"#;
    let prefs = DiscoveryPrefs { package_manager: Some(PackageManager::Bun), processes: Vec::new() };
    let d = run_with(&[("package.json", pkg), ("pnpm-lock.yaml", "")], &prefs);
    assert_eq!(manager(&d), (PackageManager::Bun, ManagerReason::Preference));
    assert_eq!(get(&d, "dev").command.to_string(), "bun run dev");
}

#[test]
fn an_unknown_package_manager_is_an_error_and_detection_goes_on() {
    let pkg = "{\n  \"packageManager\": \"deno@2\",\n  \"scripts\": { \"dev\": \"vite\" }\n}";
    let d = run(&[("package.json", pkg), ("yarn.lock", "")]);
    assert_eq!(manager(&d).0, PackageManager::Yarn);
    assert_eq!(
        errors(&d),
        vec![
            "package.json:2:21: unknown package manager \"deno@2\" in `packageManager`; expected npm, pnpm, yarn or bun (like \"pnpm@9.1.0\")"
        ]
    );
}

#[test]
fn script_values_of_the_wrong_type_are_reported_and_skipped() {
    let pkg = "{\n  \"scripts\": {\n    \"dev\": \"vite\",\n    \"bad\": 3,\n    \"dev\": \"vite --host\"\n  }\n}";
    let d = run(&[("package.json", pkg)]);
    assert_eq!(names(&d), vec!["dev"]);
    // A repeated key: the last value wins, as in JSON.parse.
    assert_eq!(get(&d, "dev").detail.as_deref(), Some("vite --host"));
    assert_eq!(errors(&d), vec!["package.json:4:12: script `bad` should be a string, found a number"]);
    let d = run(&[("package.json", "{\"scripts\": [\"dev\"]}")]);
    assert_eq!(errors(&d), vec!["package.json:1:13: `scripts` should be an object of strings, found an array"]);
    let d = run(&[("package.json", "[]")]);
    assert_eq!(errors(&d), vec!["package.json:1:1: expected an object at the top level, found an array"]);
}

// ---------------------------------------------------------------------------------------------
// Workspaces

fn pnpm_monorepo() -> Vec<(&'static str, &'static str)> {
    vec![
        (
            "package.json",
            r#"{ "name": "acme", "private": true, "scripts": { "dev": "turbo run dev", "lint": "eslint ." } }"#,
        ),
        ("pnpm-workspace.yaml", "packages:\n  - 'apps/*'\n  - 'packages/**'\n"),
        ("pnpm-lock.yaml", "lockfileVersion: '9.0'\n"),
        ("turbo.json", "{}"),
        ("apps/web/package.json", r#"{ "name": "@acme/web", "scripts": { "dev": "vite", "build": "vite build" } }"#),
        ("apps/api/package.json", r#"{ "name": "api", "scripts": { "dev": "tsx watch src/main.ts" } }"#),
        ("apps/docs/README.md", "no package here"),
        ("packages/ui/package.json", r#"{ "name": "@acme/ui", "scripts": { "build": "tsc" } }"#),
        (
            "packages/config/eslint/package.json",
            r#"{ "name": "@acme/eslint-config", "scripts": { "lint": "eslint ." } }"#,
        ),
        ("packages/ui/node_modules/dep/package.json", r#"{ "name": "dep", "scripts": { "x": "y" } }"#),
    ]
}

#[test]
fn pnpm_workspace_packages_are_addressable_by_short_name() {
    let d = run(&pnpm_monorepo());
    assert_eq!(
        commands(&d),
        vec![
            "dev => pnpm run dev",
            "lint => pnpm run lint",
            "api:dev => pnpm run dev",
            "web:dev => pnpm run dev",
            "web:build => pnpm run build",
            "eslint-config:lint => pnpm run lint",
            "ui:build => pnpm run build",
        ]
    );
    assert_eq!(get(&d, "web:dev").cwd, p("apps/web"));
    assert_eq!(get(&d, "web:dev").file, p("apps/web/package.json"));
    assert_eq!(get(&d, "eslint-config:lint").cwd, p("packages/config/eslint"));
    let ws = d.workspace.as_ref().expect("a workspace");
    assert_eq!(ws.tools, vec![WorkspaceTool::Pnpm, WorkspaceTool::Turbo]);
    assert_eq!(ws.patterns, vec!["apps/*", "packages/**"]);
    let packages: Vec<_> = ws.packages.iter().map(|p| p.display().to_string()).collect();
    assert_eq!(packages, vec!["apps/api", "apps/web", "packages/config/eslint", "packages/ui"]);
    assert_eq!(manager(&d), (PackageManager::Pnpm, ManagerReason::Lockfile { file: "pnpm-lock.yaml".into() }));
    assert!(d.sources.iter().all(|s| s.package_manager.as_ref().map(|c| c.manager) == Some(PackageManager::Pnpm)));
    assert!(d.diagnostics.is_empty(), "{:?}", d.diagnostics);
}

/// pnpm and npm expand braces and classes in workspace globs; brum listed no package for them.
#[test]
fn workspace_globs_with_braces_and_classes_find_their_packages() {
    let mut files = pnpm_monorepo();
    files.retain(|(path, _)| *path != "pnpm-workspace.yaml");
    files.push(("pnpm-workspace.yaml", "packages:\n  - 'apps/[aw]*'\n  - 'packages/{ui,config}'\n"));
    let d = run(&files);
    let ws = d.workspace.as_ref().expect("a workspace");
    let packages: Vec<_> = ws.packages.iter().map(|p| p.display().to_string()).collect();
    assert_eq!(packages, vec!["apps/api", "apps/web", "packages/ui"]);
    assert!(d.diagnostics.is_empty(), "{:?}", d.diagnostics);
}

/// A pnpm workspace of `n` packages `packages/pkg-NNNNN`, each with a `dev` script.
fn numbered_workspace(n: usize) -> MemFs {
    (0..n).fold(fs(&[("package.json", "{}"), ("pnpm-workspace.yaml", "packages:\n  - 'packages/*'\n")]), |fs, i| {
        fs.file(
            Path::new(ROOT).join(format!("packages/pkg-{i:05}/package.json")),
            &format!(r#"{{ "name": "pkg-{i:05}", "scripts": {{ "dev": "echo {i}" }} }}"#),
        )
    })
}

/// Packages past the 1,000th were not listed, so `brum run` on their scripts said `unknown
/// script`; real monorepos have 2,000.
#[test]
fn workspace_of_2000_packages_lists_every_package_past_the_old_1000_limit() {
    let d = discover(&numbered_workspace(2000), Path::new(ROOT), &DiscoveryPrefs::default());
    assert!(d.diagnostics.is_empty(), "{:?}", d.diagnostics);
    assert_eq!(d.workspace.as_ref().expect("a workspace").packages.len(), 2000);
    assert_eq!(d.scripts().count(), 2000);
    let last = d.find("pkg-01999:dev").expect("the last package's script resolves");
    assert_eq!(last.cwd, p("packages/pkg-01999"));
    assert_eq!(last.detail.as_deref(), Some("echo 1999"));
}

#[test]
fn workspace_past_the_package_limit_warns_naming_the_limit() {
    let d = discover(&numbered_workspace(WORKSPACE_PACKAGES_MAX + 2), Path::new(ROOT), &DiscoveryPrefs::default());
    assert_eq!(d.workspace.as_ref().expect("a workspace").packages.len(), WORKSPACE_PACKAGES_MAX);
    assert_eq!(
        errors(&d),
        vec![format!(
            "warning: pnpm-workspace.yaml:0:0: more than {WORKSPACE_PACKAGES_MAX} workspace packages (brum's limit, \
             WORKSPACE_PACKAGES_MAX); `packages/pkg-{WORKSPACE_PACKAGES_MAX:05}` and the packages after it are not listed"
        )]
    );
}

/// Found by the discovery benchmark: a workspace of exactly the limit warned that packages were
/// left out when the globs also matched a directory without a package after the last one.
#[test]
fn workspace_at_the_package_limit_with_more_matched_directories_does_not_warn() {
    let fs = numbered_workspace(WORKSPACE_PACKAGES_MAX).dir("/p/packages/zz-no-package");
    let d = discover(&fs, Path::new(ROOT), &DiscoveryPrefs::default());
    assert!(d.diagnostics.is_empty(), "{:?}", d.diagnostics);
    assert_eq!(d.workspace.as_ref().expect("a workspace").packages.len(), WORKSPACE_PACKAGES_MAX);
}

#[test]
fn npm_and_yarn_workspaces_in_both_forms() {
    let npm = run(&[
        ("package.json", r#"{ "workspaces": ["packages/*", "!packages/skip"], "scripts": { "test": "vitest" } }"#),
        ("package-lock.json", ""),
        ("packages/a/package.json", r#"{ "name": "a", "scripts": { "test": "vitest" } }"#),
        ("packages/skip/package.json", r#"{ "name": "skip", "scripts": { "test": "vitest" } }"#),
    ]);
    assert_eq!(names(&npm), vec!["test", "a:test"]);
    assert_eq!(npm.workspace.as_ref().map(|w| w.tools.clone()), Some(vec![WorkspaceTool::Npm]));

    let yarn = run(&[
        ("package.json", r#"{ "workspaces": { "packages": ["packages/*"], "nohoist": ["**/x"] } }"#),
        ("yarn.lock", ""),
        ("packages/a/package.json", r#"{ "name": "a", "scripts": { "start": "node ." } }"#),
    ]);
    assert_eq!(commands(&yarn), vec!["a:start => yarn run start"]);
    assert_eq!(yarn.workspace.as_ref().map(|w| w.tools.clone()), Some(vec![WorkspaceTool::Yarn]));
}

#[test]
fn short_name_collisions_fall_back_to_the_full_name_then_the_path() {
    let d = run(&[
        ("package.json", r#"{ "workspaces": ["apps/*", "packages/*"] }"#),
        ("apps/ui/package.json", r#"{ "name": "@web/ui", "scripts": { "dev": "a" } }"#),
        ("packages/ui/package.json", r#"{ "name": "@lib/ui", "scripts": { "dev": "b" } }"#),
        ("apps/x/package.json", r#"{ "scripts": { "dev": "c" } }"#),
        ("packages/x/package.json", r#"{ "scripts": { "dev": "d" } }"#),
    ]);
    assert_eq!(names(&d), vec!["ui:dev", "x:dev", "@lib/ui:dev", "packages/x:dev"]);
    assert_eq!(get(&d, "@lib/ui:dev").detail.as_deref(), Some("b"));
    assert_eq!(get(&d, "packages/x:dev").detail.as_deref(), Some("d"));
}

#[test]
fn lerna_packages_default_and_explicit() {
    let base = [("package.json", "{}"), ("packages/a/package.json", r#"{ "name": "a", "scripts": { "t": "x" } }"#)];
    let mut files = base.to_vec();
    files.push(("lerna.json", r#"{ "version": "independent" }"#));
    let d = run(&files);
    assert_eq!(names(&d), vec!["a:t"]);
    assert_eq!(
        d.workspace.as_ref().map(|w| (w.tools.clone(), w.patterns.clone())),
        Some((vec![WorkspaceTool::Lerna], vec!["packages/*".to_owned()]))
    );

    let mut files = base.to_vec();
    files.push(("lerna.json", r#"{ "packages": ["modules/*"] }"#));
    files.push(("modules/b/package.json", r#"{ "name": "b", "scripts": { "t": "y" } }"#));
    assert_eq!(names(&run(&files)), vec!["b:t"]);
}

#[test]
fn nx_projects_with_package_json_and_project_json() {
    let d = run(&[
        ("package.json", r#"{ "name": "repo", "scripts": {} }"#),
        ("nx.json", "{}"),
        (
            "apps/shop/project.json",
            "{\n  // nx reads JSONC\n  \"name\": \"shop\",\n  \"targets\": { \"serve\": { \"executor\": \"@nx/vite:dev-server\" }, \"build\": { \"command\": \"vite build\" }, }\n}",
        ),
        ("libs/util/package.json", r#"{ "name": "@repo/util", "scripts": { "test": "vitest" } }"#),
        ("libs/util/project.json", r#"{ "targets": { "test": {}, "lint": { "executor": "@nx/eslint:lint" } } }"#),
    ]);
    assert_eq!(
        commands(&d),
        vec![
            "shop:serve => npx nx run shop:serve",
            "shop:build => npx nx run shop:build",
            "util:test => npm run test",
            "util:lint => npx nx run @repo/util:lint",
        ]
    );
    assert_eq!(get(&d, "shop:serve").source, SourceKind::NxProject);
    assert_eq!(get(&d, "shop:serve").cwd, p(""));
    assert_eq!(get(&d, "shop:serve").detail.as_deref(), Some("@nx/vite:dev-server"));
    assert_eq!(get(&d, "shop:build").detail.as_deref(), Some("vite build"));
    let ws = d.workspace.as_ref().expect("workspace");
    assert_eq!(ws.patterns, vec!["apps/*", "libs/*", "packages/*"]);
}

#[test]
fn nx_workspace_json_names_projects() {
    let d = run(&[
        ("package.json", "{}"),
        ("nx.json", "{}"),
        ("workspace.json", r#"{ "version": 2, "projects": { "site": "sites/main", "api": { "root": "svc/api" } } }"#),
        ("sites/main/project.json", r#"{ "targets": { "serve": {} } }"#),
        ("svc/api/package.json", r#"{ "name": "api", "scripts": { "start": "node ." } }"#),
    ]);
    assert_eq!(names(&d), vec!["main:serve", "api:start"]);
}

#[test]
fn a_broken_workspace_package_does_not_hide_the_others() {
    let mut files = pnpm_monorepo();
    files.push(("apps/zzz/package.json", "{ \"scripts\": { \"dev\": \"x\" }"));
    let d = run(&files);
    assert!(names(&d).contains(&"web:dev"));
    assert_eq!(
        errors(&d),
        vec!["apps/zzz/package.json:1:28: unexpected end of file: the object opened at line 1, column 1 is not closed"]
    );
}

#[test]
fn pnpm_workspace_yaml_errors_have_positions() {
    let d = run(&[("package.json", PKG), ("pnpm-workspace.yaml", "packages:\n  - 'apps/*\n")]);
    assert_eq!(errors(&d), vec!["pnpm-workspace.yaml:2:5: unterminated quoted string"]);
    assert_eq!(names(&d), vec!["dev", "build"]);
}

// ---------------------------------------------------------------------------------------------
// The other sources

#[test]
fn cargo_package_with_several_binaries() {
    let d = run(&[
        ("Cargo.toml", "[package]\nname = \"app\"\n\n[[bin]]\nname = \"extra\"\npath = \"tools/extra.rs\"\n"),
        ("src/main.rs", "fn main() {}"),
        ("src/bin/seed.rs", "fn main() {}"),
        ("src/bin/migrate/main.rs", "fn main() {}"),
    ]);
    assert_eq!(
        commands(&d),
        vec![
            "cargo:build => cargo build",
            "cargo:check => cargo check",
            "cargo:test => cargo test",
            "cargo:run:extra => cargo run --bin extra",
            "cargo:run:app => cargo run --bin app",
            "cargo:run:seed => cargo run --bin seed",
            "cargo:run:migrate => cargo run --bin migrate",
        ]
    );
}

#[test]
fn cargo_single_binary_and_library() {
    let d = run(&[("Cargo.toml", "[package]\nname = \"app\"\n"), ("src/main.rs", "")]);
    assert_eq!(names(&d), vec!["cargo:build", "cargo:check", "cargo:test", "cargo:run"]);
    let d = run(&[("Cargo.toml", "[package]\nname = \"lib\"\n"), ("src/lib.rs", "")]);
    assert_eq!(names(&d), vec!["cargo:build", "cargo:check", "cargo:test"]);
}

#[test]
fn cargo_virtual_workspace_lists_member_binaries() {
    let d = run(&[
        ("Cargo.toml", "[workspace]\nmembers = [\"crates/*\"]\nexclude = [\"crates/old\"]\n"),
        ("crates/cli/Cargo.toml", "[package]\nname = \"tool-cli\"\n"),
        ("crates/cli/src/main.rs", ""),
        ("crates/server/Cargo.toml", "[package]\nname = \"server\"\nautobins = false\n[[bin]]\nname = \"serve\"\n"),
        ("crates/core/Cargo.toml", "[package]\nname = \"core\"\n"),
        ("crates/core/src/lib.rs", ""),
        ("crates/old/Cargo.toml", "[package]\nname = \"old\"\n"),
        ("crates/old/src/main.rs", ""),
    ]);
    assert_eq!(
        commands(&d)[3..],
        [
            "cargo:run:tool-cli => cargo run -p tool-cli --bin tool-cli",
            "cargo:run:serve => cargo run -p server --bin serve"
        ]
    );
}

#[test]
fn cargo_errors_have_positions() {
    let d = run(&[("Cargo.toml", "[package]\nname = \"x\"\n[[bin]]\npath = \"a.rs\"\n")]);
    assert_eq!(errors(&d), vec!["Cargo.toml:3:1: a `[[bin]]` needs a `name`"]);
    let d = run(&[("Cargo.toml", "[package]\nname = = \"x\"\n"), ("Makefile", "all:\n")]);
    assert_eq!(errors(&d).len(), 1);
    assert!(errors(&d)[0].starts_with("Cargo.toml:2:8: invalid TOML: "), "{:?}", errors(&d));
    assert_eq!(names(&d), vec!["make:all"]);
}

#[test]
fn go_module_with_commands() {
    let d = run(&[
        ("go.mod", "module example.com/app\n\ngo 1.22\n"),
        ("main.go", "package main"),
        ("main_test.go", "package main"),
        ("cmd/worker/main.go", "package main"),
        ("cmd/empty/README", ""),
    ]);
    assert_eq!(
        commands(&d),
        vec![
            "go:build => go build ./...",
            "go:test => go test ./...",
            "go:run => go run .",
            "go:run:worker => go run ./cmd/worker"
        ]
    );
    let d = run(&[("go.mod", "go 1.22\n")]);
    assert_eq!(errors(&d), vec!["go.mod:1:1: go.mod has no `module` directive"]);
    assert_eq!(names(&d), vec!["go:build", "go:test"]);
}

#[test]
fn makefile_and_justfile() {
    let d = run(&[
        ("Makefile", ".PHONY: build\nbuild: ## Compile\n\tcc main.c\n%.o: %.c\n\tcc -c $<\nVAR := x\n"),
        (
            "justfile",
            "default:\n    just --list\n_hidden:\n    true\n[private]\nsecret:\n    true\ntest *args:\n    cargo test {{args}}\n",
        ),
    ]);
    assert_eq!(
        commands(&d),
        vec!["make:build => make build", "just:default => just default", "just:test => just test"]
    );
    assert_eq!(get(&d, "make:build").detail.as_deref(), Some("Compile"));
    assert_eq!(get(&d, "just:test").detail.as_deref(), Some("cargo test {{args}}"));
    // GNU make's file order: GNUmakefile, makefile, Makefile.
    let d = run(&[("makefile", "a:\n"), ("Makefile", "b:\n")]);
    assert_eq!(names(&d), vec!["make:a"]);
    let d = run(&[("Justfile", "x:\n")]);
    assert_eq!(names(&d), vec!["just:x"]);
}

#[test]
fn procfile_entries_are_shell_lines_with_bare_names() {
    let d = run(&[(
        "Procfile",
        "# processes\nweb: bundle exec puma -p $PORT\nworker:   bin/worker --queue=default\n\nbroken line\nweb: again\nclock:\n",
    )]);
    assert_eq!(names(&d), vec!["web", "worker"]);
    assert_eq!(get(&d, "web").command, Command::Shell { line: "bundle exec puma -p $PORT".into() });
    assert_eq!(get(&d, "worker").command, Command::Shell { line: "bin/worker --queue=default".into() });
    assert_eq!(
        errors(&d),
        vec![
            "Procfile:5:1: expected `name: command`",
            "Procfile:6:1: process `web` is defined twice; the one on line 2 is used",
            "Procfile:7:1: process `clock` has no command",
        ]
    );
}

#[test]
fn deno_tasks_in_both_forms() {
    let d = run(&[(
        "deno.jsonc",
        "{\n  // tasks\n  \"tasks\": {\n    \"dev\": \"deno run -A --watch main.ts\",\n    \"check\": { \"command\": \"deno check main.ts\", \"description\": \"types\" },\n    \"all\": { \"dependencies\": [\"check\", \"dev\"] },\n    \"bad\": 1,\n  },\n}",
    )]);
    assert_eq!(
        commands(&d),
        vec!["deno:dev => deno task dev", "deno:check => deno task check", "deno:all => deno task all"]
    );
    assert_eq!(get(&d, "deno:all").detail.as_deref(), Some("depends on check, dev"));
    assert_eq!(errors(&d), vec!["deno.jsonc:7:12: task `bad` should be a string or an object, found a number"]);
}

#[test]
fn composer_scripts_without_event_hooks() {
    let d = run(&[(
        "composer.json",
        r#"{ "scripts": { "test": "phpunit", "post-install-cmd": "x", "check": ["@lint", "@test"], "serve": "php -S localhost:8000" } }"#,
    )]);
    assert_eq!(
        commands(&d),
        vec![
            "composer:test => composer run-script test",
            "composer:check => composer run-script check",
            "composer:serve => composer run-script serve",
        ]
    );
    assert_eq!(get(&d, "composer:check").detail.as_deref(), Some("@lint && @test"));
}

#[test]
fn pyproject_tables_and_runners() {
    let text = "[project]\nname = \"app\"\n[project.scripts]\nserve = \"app.main:run\"\n[tool.poetry.scripts]\nserve = \"app.other:run\"\nseed = \"app.db:seed\"\n[tool.pdm.scripts]\n_ = { env_file = \".env\" }\nlint = \"ruff check .\"\ntest = { cmd = [\"pytest\", \"-x\"] }\nall = { composite = [\"lint\", \"test\"] }\n";
    let d = run(&[("pyproject.toml", text), ("uv.lock", "")]);
    assert_eq!(
        commands(&d),
        vec![
            "py:serve => uv run serve",
            "py:seed => poetry run seed",
            "py:lint => pdm run lint",
            "py:test => pdm run test",
            "py:all => pdm run all",
        ]
    );
    assert_eq!(get(&d, "py:serve").detail.as_deref(), Some("app.main:run"));
    assert_eq!(get(&d, "py:test").detail.as_deref(), Some("pytest -x"));
    assert_eq!(get(&d, "py:all").detail.as_deref(), Some("lint && test"));
    // No tool: the console script itself.
    let d = run(&[("pyproject.toml", "[project.scripts]\nserve = \"app.main:run\"\n")]);
    assert_eq!(commands(&d), vec!["py:serve => serve"]);
    let d = run(&[("pyproject.toml", "[project]\nscripts = 3\n")]);
    assert_eq!(errors(&d), vec!["pyproject.toml:2:11: `project.scripts` should be a table, found an integer"]);
}

#[test]
fn vscode_tasks_with_comments_variables_and_types() {
    let tasks = r#"{
  // See https://go.microsoft.com/fwlink/?LinkId=733558
  "version": "2.0.0",
  "tasks": [
    { "label": "serve docs", "type": "shell", "command": "mkdocs serve", "args": ["-a", "localhost:8001", "two words"] },
    { "label": "api", "type": "process", "command": "${workspaceFolder}/bin/api", "args": [{ "value": "--port", "quoting": "escape" }, "4000"],
      "options": { "cwd": "${workspaceFolder}/services/api", "env": { "RUST_LOG": "debug" } } },
    { "type": "npm", "script": "dev", "path": "apps/web" },
    { "label": "home", "type": "shell", "command": "echo ${env:HOME}" },
    { "label": "current file", "type": "shell", "command": "tsc ${file}" },
    { "label": "all", "dependsOn": ["api", "serve docs"] },
    { "label": "gulp", "type": "gulp", "task": "default" },
    { "label": "api", "type": "shell", "command": "duplicate" },
  ],
}"#;
    let d = run(&[(".vscode/tasks.json", tasks), ("bun.lockb", ""), ("package.json", "{}")]);
    assert_eq!(
        commands(&d),
        vec![
            "vscode:serve docs => mkdocs serve -a localhost:8001 'two words'",
            "vscode:api => /p/bin/api --port 4000",
            "vscode:npm: dev => bun run dev",
            "vscode:home => echo ${HOME}",
        ]
    );
    let api = get(&d, "vscode:api");
    assert_eq!(api.cwd, p("services/api"));
    assert_eq!(api.env, vec![("RUST_LOG".to_owned(), "debug".to_owned())]);
    assert_eq!(api.file, p(".vscode/tasks.json"));
    assert_eq!(get(&d, "vscode:npm: dev").cwd, p("apps/web"));
    assert!(d.diagnostics.is_empty(), "{:?}", d.diagnostics);
    let d = run(&[(".vscode/tasks.json", "{ \"tasks\": [ { \"type\": \"shell\", \"command\": \"x\" } ] }")]);
    assert_eq!(errors(&d), vec![".vscode/tasks.json:1:14: a task needs a `label`"]);
}

fn process(name: &str, command: &str, file: &str) -> ProcessDecl {
    ProcessDecl {
        name: name.into(),
        command: command.into(),
        cwd: None,
        env: Vec::new(),
        restart: RestartPolicy::Never,
        file: file.into(),
        line: 1,
    }
}

#[test]
fn brum_toml_processes_resolve_cwd_against_their_file() {
    let mut api = process("api", "./bin/api", "/p/.brum.toml");
    api.cwd = Some("services/../services/api".into());
    api.env = vec![("PORT".into(), "4000".into())];
    api.restart = RestartPolicy::OnFailure;
    let mut shared = process("tunnel", "ngrok http 3000", "/home/u/.brum.toml");
    shared.cwd = Some("/tmp".into());
    let home = process("docs", "mkdocs serve", "/home/u/.brum.toml");
    let prefs = DiscoveryPrefs { package_manager: None, processes: vec![api, home, shared] };
    let d = run_with(&[], &prefs);
    assert_eq!(names(&d), vec!["api", "docs", "tunnel"]);
    let api = get(&d, "api");
    assert_eq!(api.source, SourceKind::BrumToml);
    assert_eq!(api.command, Command::Shell { line: "./bin/api".into() });
    assert_eq!(api.cwd, p("services/api"));
    assert_eq!(api.restart, RestartPolicy::OnFailure);
    assert_eq!(api.env, vec![("PORT".to_owned(), "4000".to_owned())]);
    assert_eq!(get(&d, "docs").cwd, PathBuf::from("/home/u"));
    assert_eq!(get(&d, "tunnel").cwd, PathBuf::from("/tmp"));
    // One report per declaring file.
    let files: Vec<_> = d.sources.iter().map(|s| s.file.display().to_string()).collect();
    assert_eq!(files, vec!["/p/.brum.toml", "/home/u/.brum.toml"]);
}

// ---------------------------------------------------------------------------------------------
// Collisions, errors, determinism

#[test]
fn the_first_source_keeps_a_name_and_later_ones_are_qualified() {
    let prefs = DiscoveryPrefs { package_manager: None, processes: vec![process("dev", "./dev.sh", "/p/.brum.toml")] };
    let d = run_with(
        &[
            ("package.json", r#"{ "scripts": { "dev": "vite", "web": "x", "pkg:web": "y", "make:build": "z" } }"#),
            ("Procfile", "dev: foreman-dev\nweb: puma\n"),
            ("Makefile", "build:\n"),
        ],
        &prefs,
    );
    assert_eq!(
        names(&d),
        vec!["dev", "pkg:dev", "web", "pkg:web", "make:build", "procfile:dev", "procfile:web", "make:make:build"]
    );
    assert_eq!(get(&d, "dev").source, SourceKind::BrumToml);
    assert_eq!(get(&d, "pkg:dev").detail.as_deref(), Some("vite"));
    assert_eq!(get(&d, "procfile:web").command.to_string(), "puma");
    let renames: Vec<_> = d
        .renames
        .iter()
        .map(|r| format!("{} -> {} ({} kept by {})", r.original, r.name, r.file.display(), r.taken_by.display()))
        .collect();
    assert_eq!(
        renames,
        vec![
            "dev -> pkg:dev (/p/package.json kept by /p/.brum.toml)",
            "dev -> procfile:dev (/p/Procfile kept by /p/.brum.toml)",
            "web -> procfile:web (/p/Procfile kept by /p/package.json)",
            "make:build -> make:make:build (/p/Makefile kept by /p/package.json)",
        ]
    );
}

#[test]
fn a_qualified_name_that_is_taken_gets_a_number() {
    let d = run(&[("package.json", r#"{ "scripts": { "web": "a", "procfile:web": "b" } }"#), ("Procfile", "web: c\n")]);
    assert_eq!(names(&d), vec!["web", "procfile:web", "procfile:web~2"]);
}

#[test]
fn a_malformed_package_json_still_lists_the_makefile() {
    let d = run(&[
        ("package.json", "{\n  \"scripts\": {\n    \"dev\": \"vite\"\n    \"build\": \"vite build\"\n  }\n}\n"),
        ("Makefile", "test:\n\tgo test\n"),
    ]);
    assert_eq!(names(&d), vec!["make:test"]);
    assert_eq!(errors(&d), vec!["package.json:4:5: expected `,` or `}` after an object member, found `\"`"]);
    assert_eq!(
        d.diagnostics[0].to_string(),
        "/p/package.json:4:5: expected `,` or `}` after an object member, found `\"`"
    );
}

#[test]
fn unreadable_files_are_errors_without_positions() {
    let fs = MemFs::new().unreadable("/p/package.json").file("/p/Procfile", "web: x\n");
    let d = discover(&fs, Path::new(ROOT), &DiscoveryPrefs::default());
    assert_eq!(names(&d), vec!["web"]);
    assert_eq!(errors(&d), vec!["package.json:0:0: cannot read the file: permission denied"]);
}

#[test]
fn a_missing_root_is_an_error_but_brum_toml_processes_remain() {
    let prefs = DiscoveryPrefs { package_manager: None, processes: vec![process("x", "true", "/home/u/.brum.toml")] };
    let d = discover(&MemFs::new(), Path::new("/nope"), &prefs);
    assert_eq!(names(&d), vec!["x"]);
    assert_eq!(d.diagnostics.len(), 1);
    assert!(d.diagnostics[0].message.starts_with("cannot list the project directory"), "{:?}", d.diagnostics);
}

#[test]
fn an_empty_project_has_nothing() {
    let d = run(&[("README.md", "hi")]);
    assert!(d.is_empty() && d.sources.is_empty() && d.diagnostics.is_empty());
}

#[test]
fn find_suggests_close_names() {
    let d = run(&pnpm_monorepo());
    assert_eq!(d.find("web:dev").map(|s| s.name.as_str()), Ok("web:dev"));
    let err = d.find("build").expect_err("no root build");
    assert_eq!(err.suggestions, vec!["web:build", "ui:build"]);
    assert_eq!(err.to_string(), "unknown script `build`; did you mean one of `web:build`, `ui:build`?");
    assert_eq!(d.find("dve").expect_err("typo").to_string(), "unknown script `dve`; did you mean `dev`?");
}

#[test]
fn listing_order_does_not_matter() {
    // MemFs lists in reverse order; the same files in a different insertion order must give
    // the same result.
    let mut files = pnpm_monorepo();
    let a = run(&files);
    files.reverse();
    let b = run(&files);
    assert_eq!(a, b);
}

/// Every file discovery reads.
const KNOWN_FILES: &[&str] = &[
    "package.json",
    "pnpm-workspace.yaml",
    "lerna.json",
    "nx.json",
    "workspace.json",
    "apps/a/package.json",
    "apps/a/project.json",
    "Procfile",
    "deno.json",
    "composer.json",
    "pyproject.toml",
    "Cargo.toml",
    "go.mod",
    "Makefile",
    "justfile",
    ".vscode/tasks.json",
];

proptest! {
    #[test]
    fn never_panics_and_errors_point_into_their_files(
        texts in proptest::collection::vec(prop_oneof![
            "\\PC{0,60}",
            "[\\[\\]{}\":, a-z0-9\\n]{0,60}",
            Just(r#"{"scripts": {"dev": "x"}, "workspaces": ["apps/*"], "tasks": [{"label": "l", "command": "c"}]}"#.to_owned()),
            Just("[package]\nname = \"x\"\n[[bin]]\n".to_owned()),
            Just("packages:\n  - 'apps/*'\n".to_owned()),
        ], KNOWN_FILES.len())
    ) {
        let files: Vec<(&str, &str)> = KNOWN_FILES.iter().copied().zip(texts.iter().map(String::as_str)).collect();
        let d = run(&files);
        for e in &d.diagnostics {
            let rel = e.file.strip_prefix(ROOT).expect("errors name files in the project");
            let text = files.iter().find(|(f, _)| Path::new(f) == rel).map(|(_, t)| *t).unwrap_or("");
            if let Some(line) = e.line {
                prop_assert!(line >= 1 && line <= text.split('\n').count(), "{e} in {text:?}");
            }
        }
        let mut seen = std::collections::BTreeSet::new();
        for s in d.scripts() {
            prop_assert!(seen.insert(s.name.clone()), "duplicate name {}", s.name);
        }
    }
}
