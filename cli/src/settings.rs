//! Config file discovery and reading for `brum` and `brum --settings`. The layering, validation
//! and rendering are brum-core's (`brum_core::config`); this module only finds and reads files.

use std::io;
use std::path::{Path, PathBuf};

use brum_core::config::{ConfigError, Layer, Settings, render_settings};

/// The name of a config file, in the home directory and in every directory above the project.
const FILE_NAME: &str = ".brum.toml";

/// The config files to consult, lowest precedence first: `home/.brum.toml`, then `.brum.toml` in
/// every directory from the filesystem root down to `project`. A path already listed is not
/// listed again (when `project` is under `home`, home's file keeps its first place).
///
/// An empty `home` (`HOME=""`) means no home directory, as `None` does: joined with the file
/// name it would name `.brum.toml` in the current directory, which is not a home layer.
/// Callers pass `HOME` as they find it, so this is the one place that check lives.
///
/// `project` should be absolute; a relative path yields only the directories it names.
/// Comparison is by path, without resolving symlinks.
pub fn config_paths(home: Option<&Path>, project: &Path) -> Vec<PathBuf> {
    let home = home.filter(|h| !h.as_os_str().is_empty());
    let mut paths: Vec<PathBuf> = home.map(|h| h.join(FILE_NAME)).into_iter().collect();
    let mut dirs: Vec<&Path> = project.ancestors().filter(|d| !d.as_os_str().is_empty()).collect();
    dirs.reverse();
    for dir in dirs {
        let path = dir.join(FILE_NAME);
        if !paths.contains(&path) {
            paths.push(path);
        }
    }
    paths
}

/// Reads the files of [`config_paths`] that exist and layers them. Returns the settings and
/// every consulted path with whether it existed. A missing file is skipped; one that exists but
/// cannot be read (permissions, a directory, not UTF-8) is an error naming it.
pub fn load(home: Option<&Path>, project: &Path) -> Result<(Settings, Vec<(PathBuf, bool)>), ConfigError> {
    let mut layers = Vec::new();
    let mut consulted = Vec::new();
    for path in config_paths(home, project) {
        match std::fs::read_to_string(&path) {
            Ok(text) => {
                layers.push(Layer { path: path.clone(), text });
                consulted.push((path, true));
            }
            Err(e) if e.kind() == io::ErrorKind::NotFound => consulted.push((path, false)),
            Err(source) => return Err(ConfigError::Read { path, source }),
        }
    }
    let settings = Settings::from_layers(&layers)?;
    Ok((settings, consulted))
}

/// The text of `brum --settings` for a project: the files consulted and every effective value
/// with its source. `cores` resolves `bus_workers = "auto"`.
pub fn render(home: Option<&Path>, project: &Path, cores: usize) -> Result<String, ConfigError> {
    let (settings, consulted) = load(home, project)?;
    Ok(render_settings(&settings, &consulted, cores))
}

#[cfg(test)]
mod tests {
    use std::fs;
    use std::time::Duration;

    use brum_core::config::{ConfigProblem, Source};

    use super::*;

    #[test]
    fn paths_go_from_home_then_root_down_to_the_project() {
        let paths = config_paths(Some(Path::new("/home/u")), Path::new("/srv/app"));
        let want: Vec<PathBuf> =
            ["/home/u/.brum.toml", "/.brum.toml", "/srv/.brum.toml", "/srv/app/.brum.toml"].map(PathBuf::from).into();
        assert_eq!(paths, want);
    }

    #[test]
    fn home_file_is_listed_once_when_the_project_is_inside_home() {
        let paths = config_paths(Some(Path::new("/home/u")), Path::new("/home/u/work/app"));
        let want: Vec<PathBuf> = [
            "/home/u/.brum.toml",
            "/.brum.toml",
            "/home/.brum.toml",
            "/home/u/work/.brum.toml",
            "/home/u/work/app/.brum.toml",
        ]
        .map(PathBuf::from)
        .into();
        assert_eq!(paths, want);
        // The project is home itself.
        let paths = config_paths(Some(Path::new("/home/u")), Path::new("/home/u"));
        let want: Vec<PathBuf> = ["/home/u/.brum.toml", "/.brum.toml", "/home/.brum.toml"].map(PathBuf::from).into();
        assert_eq!(paths, want);
    }

    #[test]
    fn no_home_means_only_the_ancestors() {
        let paths = config_paths(None, Path::new("/a"));
        assert_eq!(paths, vec![PathBuf::from("/.brum.toml"), PathBuf::from("/a/.brum.toml")]);
    }

    #[test]
    fn empty_home_is_no_home_not_the_current_directory() {
        let paths = config_paths(Some(Path::new("")), Path::new("/a"));
        assert_eq!(paths, vec![PathBuf::from("/.brum.toml"), PathBuf::from("/a/.brum.toml")]);
    }

    /// A temporary tree `home/work/app` with config files in `home` and `app`.
    struct Tree {
        dir: tempfile::TempDir,
        home: PathBuf,
        work: PathBuf,
        app: PathBuf,
    }

    fn tree() -> Tree {
        let dir = tempfile::tempdir().expect("create temp dir");
        let home = dir.path().join("home");
        let work = home.join("work");
        let app = work.join("app");
        fs::create_dir_all(&app).expect("create dirs");
        fs::write(home.join(".brum.toml"), "[concurrency]\nurls_max = 1\nerrors_max = 1\n").expect("write home");
        fs::write(app.join(".brum.toml"), "# app\n[concurrency]\nerrors_max = 3\nbus_workers = \"auto\"\n")
            .expect("write app");
        Tree { dir, home, work, app }
    }

    #[test]
    fn load_reads_existing_files_in_precedence_order() {
        let t = tree();
        fs::write(t.work.join(".brum.toml"), "[concurrency]\nerrors_max = 2\nprocess_stop_grace_ms = 100\n")
            .expect("write work");
        let (settings, consulted) = load(Some(&t.home), &t.app).expect("valid files");

        assert_eq!(settings.urls_max(), 1);
        assert_eq!(settings.errors_max(), 3);
        assert_eq!(settings.process_stop_grace(), Duration::from_millis(100));
        assert_eq!(settings.bus_workers(2), 5);
        let home_file = t.home.join(".brum.toml");
        let app_file = t.app.join(".brum.toml");
        assert_eq!(
            settings.source("concurrency", "urls_max"),
            Some(&Source::File { path: home_file.clone(), line: 2 })
        );
        assert_eq!(
            settings.source("concurrency", "errors_max"),
            Some(&Source::File { path: app_file.clone(), line: 3 })
        );
        assert_eq!(settings.source("concurrency", "bus_batch"), Some(&Source::Default));

        // Home first, then every ancestor of the project, each exactly once.
        assert_eq!(consulted.first(), Some(&(home_file.clone(), true)));
        assert_eq!(consulted.iter().filter(|(p, _)| *p == home_file).count(), 1);
        let tail: Vec<_> = consulted.iter().rev().take(2).rev().cloned().collect();
        assert_eq!(tail, vec![(t.work.join(".brum.toml"), true), (app_file, true)]);
        assert_eq!(consulted.len(), config_paths(Some(&t.home), &t.app).len());
    }

    #[test]
    fn load_with_no_files_gives_the_defaults() {
        let dir = tempfile::tempdir().expect("create temp dir");
        let (settings, consulted) = load(None, dir.path()).expect("no files");
        assert_eq!(settings, Settings::defaults());
        assert_eq!(consulted.last(), Some(&(dir.path().join(".brum.toml"), false)));
    }

    #[test]
    fn an_unreadable_file_is_an_error_naming_it() {
        let t = tree();
        // A directory where a file should be cannot be read, even by root.
        let bad = t.work.join(".brum.toml");
        fs::create_dir(&bad).expect("create dir");
        match load(Some(&t.home), &t.app) {
            Err(ConfigError::Read { path, .. }) => assert_eq!(path, bad),
            other => panic!("expected a read error, got {other:?}"),
        }
    }

    #[test]
    fn non_utf8_file_is_a_read_error() {
        let t = tree();
        let bad = t.work.join(".brum.toml");
        fs::write(&bad, b"[concurrency]\nurls_max = \xff\n").expect("write");
        let err = load(Some(&t.home), &t.app).expect_err("not UTF-8");
        assert!(matches!(&err, ConfigError::Read { path, .. } if *path == bad), "{err:?}");
    }

    #[test]
    fn problems_name_the_real_file() {
        let t = tree();
        fs::write(t.work.join(".brum.toml"), "[concurrency]\nurls_max = 0\n").expect("write work");
        let err = load(Some(&t.home), &t.app).expect_err("out of range");
        match err.problems() {
            [ConfigProblem::OutOfRange { path, line: 2, .. }] => {
                assert_eq!(*path, t.work.join(".brum.toml"))
            }
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn render_shows_files_and_sources() {
        let t = tree();
        let text = render(Some(&t.home), &t.app, 2).expect("valid files");
        let root = t.dir.path().to_str().expect("temp path is UTF-8");
        let mut settings = insta::Settings::clone_current();
        settings.add_filter(&regex_escape(root), "[TMP]");
        // The temp dir's own ancestors depend on the machine; keep the lines about our tree.
        settings.add_filter(r"(?m)^#   /[^\n]*\(not found\)\n", "");
        settings.bind(|| insta::assert_snapshot!("render_temp_tree", text));
    }

    fn regex_escape(s: &str) -> String {
        s.chars()
            .flat_map(|c| {
                let special = "\\.+*?()|[]{}^$#&-~".contains(c);
                special.then_some('\\').into_iter().chain(std::iter::once(c))
            })
            .collect()
    }
}
