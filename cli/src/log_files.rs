//! Rotating log files under `<project>/.brum/logs/`: the real [`LogSink`].
//!
//! One file per process name (every run of a script shares it): `<name>.log` is written,
//! `<name>.1.log` is the one before it, up to `<name>.<files_max - 1>.log`; the oldest is
//! deleted when a rotation would exceed `files_max` files. A file rotates before a line would
//! take it past `file_bytes` (a single line longer than that still gets a file of its own), and
//! once when a name is first written in a session, so each brum run starts a fresh file.
//!
//! Each line is `<wall time, RFC 3339 UTC> <name>#<id> <out|err> <level> <text>`, with the ANSI
//! escapes stripped (files are for grep and editors) and ` [truncated]` after a line the store
//! cut. Persistence is off unless `concurrency.log_persist = true`.

use std::collections::{BTreeMap, BTreeSet};
use std::fs::{self, File, OpenOptions};
use std::io::{self, BufWriter, Write};
use std::path::{Path, PathBuf};
use std::time::SystemTime;

use brum_core::bus::Stream;
use brum_core::config::Settings;
use brum_core::logs::{EntryRef, LogSink};

/// Where the files go, relative to the project directory.
pub const LOG_DIR: &str = ".brum/logs";

/// Files held open at once. A monorepo runs dozens of scripts; past this the least recently
/// written file is flushed and closed (and reopened on its next line), so brum never runs into
/// the process's file-descriptor limit (often 256 on macOS).
pub const OPEN_FILES_MAX: usize = 32;

/// Longest file name stem taken from a process name: keeps names well inside every file
/// system's 255-byte limit with room for `.NNN.log`.
pub const STEM_BYTES_MAX: usize = 64;

/// Sizes and counts of the rotation.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct LogFilesConfig {
    /// A file rotates before a line would take it past this (`concurrency.log_file_bytes`).
    pub file_bytes: u64,
    /// Files kept per process name, the one being written included (`concurrency.log_files_max`).
    pub files_max: usize,
}

impl LogFilesConfig {
    pub fn from_settings(settings: &Settings) -> LogFilesConfig {
        LogFilesConfig { file_bytes: settings.log_file_bytes(), files_max: settings.log_files_max() }
    }
}

/// What the files have seen. Counters only grow.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct LogFilesStats {
    pub lines_written: u64,
    pub bytes_written: u64,
    /// Times a file was moved aside for a fresh one.
    pub rotations: u64,
    /// Old files deleted to stay within `files_max`.
    pub files_deleted: u64,
    /// Files closed to stay within [`OPEN_FILES_MAX`].
    pub files_closed: u64,
    /// Writes, flushes, renames or deletions that failed.
    pub errors: u64,
}

#[derive(Debug)]
struct OpenFile {
    writer: BufWriter<File>,
    /// Bytes in the file, written or buffered.
    len: u64,
    /// `LogFiles::tick` when last written, for closing the least recently used.
    used: u64,
}

/// Rotating files, one per process name.
#[derive(Debug)]
pub struct LogFiles {
    dir: PathBuf,
    config: LogFilesConfig,
    open: BTreeMap<String, OpenFile>,
    /// Stems written in this session: their first write rotated any file left by an earlier run.
    seen: BTreeSet<String>,
    tick: u64,
    stats: LogFilesStats,
}

impl LogFiles {
    /// Creates `<project>/.brum/logs` if needed.
    pub fn create(project: &Path, config: LogFilesConfig) -> io::Result<LogFiles> {
        let dir = project.join(LOG_DIR);
        fs::create_dir_all(&dir)?;
        Ok(LogFiles {
            dir,
            config: LogFilesConfig { file_bytes: config.file_bytes.max(1), files_max: config.files_max.max(1) },
            open: BTreeMap::new(),
            seen: BTreeSet::new(),
            tick: 0,
            stats: LogFilesStats::default(),
        })
    }

    pub fn dir(&self) -> &Path {
        &self.dir
    }

    pub fn stats(&self) -> LogFilesStats {
        self.stats
    }

    /// The file `n` rotations back of `stem`: `stem.log`, `stem.1.log`, ...
    pub fn path(&self, stem: &str, n: usize) -> PathBuf {
        if n == 0 { self.dir.join(format!("{stem}.log")) } else { self.dir.join(format!("{stem}.{n}.log")) }
    }

    fn write_line(&mut self, stem: &str, line: &[u8]) -> io::Result<()> {
        self.tick += 1;
        if self.seen.insert(stem.to_owned()) && fs::metadata(self.path(stem, 0)).is_ok_and(|m| m.len() > 0) {
            self.rotate(stem)?;
        }
        let len = line.len() as u64;
        let limit = self.config.file_bytes;
        let full = |f: &OpenFile| f.len > 0 && f.len + len > limit;
        if !self.open.contains_key(stem) {
            self.open_file(stem)?;
        }
        if self.open.get(stem).is_some_and(full) {
            self.rotate(stem)?;
            self.open_file(stem)?;
        }
        let tick = self.tick;
        let Some(file) = self.open.get_mut(stem) else { unreachable!("`{stem}` was opened above") };
        file.writer.write_all(line)?;
        file.len += len;
        file.used = tick;
        self.stats.lines_written += 1;
        self.stats.bytes_written += len;
        Ok(())
    }

    fn open_file(&mut self, stem: &str) -> io::Result<()> {
        if self.open.len() >= OPEN_FILES_MAX {
            let lru = self.open.iter().min_by_key(|(_, f)| f.used).map(|(s, _)| s.clone());
            if let Some(mut file) = lru.and_then(|s| self.open.remove(&s)) {
                self.stats.files_closed += 1;
                file.writer.flush()?;
            }
        }
        let file = OpenOptions::new().create(true).append(true).open(self.path(stem, 0))?;
        let len = file.metadata()?.len();
        self.open.insert(stem.to_owned(), OpenFile { writer: BufWriter::new(file), len, used: self.tick });
        Ok(())
    }

    /// Moves `stem.log` aside: shifts `stem.k.log` to `stem.(k+1).log` and deletes what would
    /// be the `files_max`-th file.
    fn rotate(&mut self, stem: &str) -> io::Result<()> {
        if let Some(mut file) = self.open.remove(stem) {
            file.writer.flush()?;
        }
        let max = self.config.files_max;
        let oldest = self.path(stem, max - 1);
        if max == 1 || oldest.exists() {
            let doomed = if max == 1 { self.path(stem, 0) } else { oldest };
            match fs::remove_file(&doomed) {
                Ok(()) => self.stats.files_deleted += 1,
                Err(e) if e.kind() == io::ErrorKind::NotFound => {}
                Err(e) => return Err(e),
            }
        }
        for k in (0..max.saturating_sub(1)).rev() {
            let from = self.path(stem, k);
            if from.exists() {
                fs::rename(&from, self.path(stem, k + 1))?;
            }
        }
        self.stats.rotations += 1;
        Ok(())
    }
}

impl LogSink for LogFiles {
    fn write(&mut self, entry: &EntryRef<'_>) -> io::Result<()> {
        let stream = if entry.stream() == Stream::Stdout { "out" } else { "err" };
        let process = entry.process();
        let mut line = format!(
            "{} {}#{} {stream} {:<7} {}",
            rfc3339(entry.wall()),
            process.name,
            process.id.0,
            entry.level(),
            entry.plain()
        );
        if entry.truncated() {
            line.push_str(" [truncated]");
        }
        line.push('\n');
        let result = self.write_line(&file_stem(&process.name), line.as_bytes());
        if result.is_err() {
            self.stats.errors += 1;
        }
        result
    }

    fn flush(&mut self) -> io::Result<()> {
        let mut result = Ok(());
        for file in self.open.values_mut() {
            if let Err(e) = file.writer.flush() {
                self.stats.errors += 1;
                result = result.and(Err(e));
            }
        }
        result
    }
}

/// A file name stem for a process name: ASCII letters, digits, `-`, `_` and `.` kept, anything
/// else `_`, no leading dot, at most [`STEM_BYTES_MAX`] bytes. Distinct names can share a
/// stem (`a:b`, `a/b`); their lines then share a file and are told apart by the name field.
pub fn file_stem(name: &str) -> String {
    let mut stem: String = name
        .chars()
        .map(|c| if c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.') { c } else { '_' })
        .take(STEM_BYTES_MAX)
        .collect();
    if stem.starts_with('.') {
        stem.replace_range(..1, "_");
    }
    if stem.is_empty() {
        stem.push('_');
    }
    stem
}

/// `2026-11-27T08:00:00.250Z`. An entry's wall time lies in 1970..=2554 (`wall_from_nanos`
/// saturates), inside the years humantime formats (1970..=9999), so this neither panics nor
/// fails.
fn rfc3339(wall: SystemTime) -> humantime::Rfc3339Timestamp {
    humantime::format_rfc3339_millis(wall)
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;
    use std::time::{Duration, UNIX_EPOCH};

    use brum_core::bus::ProcessRef;
    use brum_core::logs::{LogStore, LogStoreConfig};
    use brum_core::rt::Mono;

    use super::*;

    fn at(ms: u64) -> SystemTime {
        UNIX_EPOCH + Duration::from_secs(1_800_000_000) + Duration::from_millis(ms)
    }

    fn process(id: u64, name: &str) -> ProcessRef {
        ProcessRef::new(id, Arc::from(name))
    }

    /// Appends to the store and copies to the sink, as the store's owner does.
    fn log(store: &mut LogStore, files: &mut LogFiles, p: &ProcessRef, stream: Stream, ms: u64, text: &str) {
        let id = store.append(p, stream, Mono(Duration::from_millis(ms)), at(ms), text).expect("open store");
        files.write(&store.get(id).expect("just appended")).expect("write");
    }

    fn read(path: &Path) -> String {
        fs::read_to_string(path).unwrap_or_else(|e| panic!("read {}: {e}", path.display()))
    }

    #[test]
    fn lines_are_formatted_with_time_process_stream_level_and_plain_text() {
        let dir = tempfile::tempdir().expect("temp dir");
        let mut store = LogStore::new(LogStoreConfig { budget_bytes: 1 << 20, max_line_bytes: 40 });
        let mut files =
            LogFiles::create(dir.path(), LogFilesConfig { file_bytes: 1 << 20, files_max: 3 }).expect("create");
        let web = process(1, "web");
        log(&mut store, &mut files, &web, Stream::Stdout, 250, "  VITE v5.0.0  ready in 312 ms");
        log(&mut store, &mut files, &web, Stream::Stderr, 1250, "\u{1b}[31mError\u{1b}[39m: Cannot find module");
        log(&mut store, &mut files, &web, Stream::Stdout, 2250, &"x".repeat(100));
        files.flush().expect("flush");
        insta::assert_snapshot!(read(&files.path("web", 0)));
        assert_eq!(files.dir(), dir.path().join(".brum/logs"));
    }

    #[test]
    fn files_rotate_at_the_size_limit_and_keep_at_most_files_max() {
        let dir = tempfile::tempdir().expect("temp dir");
        let mut store = LogStore::new(LogStoreConfig::default());
        let config = LogFilesConfig { file_bytes: 400, files_max: 3 };
        let mut files = LogFiles::create(dir.path(), config).expect("create");
        let (web, api) = (process(1, "web"), process(2, "api"));
        for i in 0..100 {
            log(&mut store, &mut files, &web, Stream::Stdout, i, &format!("hmr update /src/App{i:03}.tsx"));
            if i % 10 == 0 {
                log(&mut store, &mut files, &api, Stream::Stdout, i, &format!("GET /api/{i}"));
            }
        }
        files.flush().expect("flush");
        let mut names: Vec<String> = fs::read_dir(files.dir())
            .expect("list")
            .map(|e| e.expect("entry").file_name().into_string().expect("utf-8"))
            .collect();
        names.sort();
        assert_eq!(names, ["api.1.log", "api.log", "web.1.log", "web.2.log", "web.log"]);
        let mut kept = Vec::new();
        for n in (0..3).rev() {
            let text = read(&files.path("web", n));
            assert!(text.len() as u64 <= config.file_bytes, "web.{n}: {} bytes", text.len());
            kept.extend(text.lines().map(|l| l.rsplit(' ').next().expect("a field").to_owned()));
        }
        // The files hold the newest lines, oldest file first, in order and without gaps.
        let first: usize = kept[0][8..11].parse().expect("a number");
        let want: Vec<String> = (first..100).map(|i| format!("/src/App{i:03}.tsx")).collect();
        assert_eq!(kept, want);
        let stats = files.stats();
        assert_eq!(stats.lines_written, 110);
        assert!(stats.rotations >= 3 && stats.files_deleted >= 1, "{stats:?}");
        assert_eq!(stats.rotations - stats.files_deleted, 3, "three files were created beyond the first per name");
        assert_eq!(stats.errors, 0);
    }

    #[test]
    fn a_new_session_starts_a_fresh_file() {
        let dir = tempfile::tempdir().expect("temp dir");
        let config = LogFilesConfig { file_bytes: 1 << 20, files_max: 2 };
        let p = process(1, "web");
        for session in 0..3 {
            let mut store = LogStore::new(LogStoreConfig::default());
            let mut files = LogFiles::create(dir.path(), config).expect("create");
            log(&mut store, &mut files, &p, Stream::Stdout, 0, &format!("session {session}"));
            log(&mut store, &mut files, &p, Stream::Stdout, 1, &format!("session {session} again"));
            files.flush().expect("flush");
        }
        let files = LogFiles::create(dir.path(), config).expect("create");
        assert!(read(&files.path("web", 0)).contains("session 2\n"));
        assert!(read(&files.path("web", 1)).contains("session 1 again\n"));
        assert!(!files.path("web", 2).exists());
    }

    #[test]
    fn at_most_open_files_max_files_stay_open() {
        let dir = tempfile::tempdir().expect("temp dir");
        let mut store = LogStore::new(LogStoreConfig::default());
        let mut files =
            LogFiles::create(dir.path(), LogFilesConfig { file_bytes: 1 << 20, files_max: 2 }).expect("create");
        let names = OPEN_FILES_MAX + 8;
        for round in 0..2 {
            for i in 0..names {
                let p = process(i as u64, &format!("svc{i}"));
                log(&mut store, &mut files, &p, Stream::Stdout, 0, &format!("round {round}"));
            }
        }
        files.flush().expect("flush");
        assert!(files.open.len() <= OPEN_FILES_MAX);
        assert!(files.stats().files_closed >= 8);
        for i in 0..names {
            let text = read(&files.path(&format!("svc{i}"), 0));
            assert_eq!(text.lines().count(), 2, "svc{i}: {text}");
        }
        assert_eq!(files.stats().rotations, 0, "a reopened file is not a new session");
    }

    #[test]
    fn stems_are_safe_file_names() {
        assert_eq!(file_stem("web"), "web");
        assert_eq!(file_stem("@app/web:dev"), "_app_web_dev");
        assert_eq!(file_stem("../etc/passwd"), "_._etc_passwd");
        assert_eq!(file_stem(".hidden"), "_hidden");
        assert_eq!(file_stem(""), "_");
        assert_eq!(file_stem("é"), "_");
        assert_eq!(file_stem(&"a".repeat(300)).len(), STEM_BYTES_MAX);
    }

    #[test]
    fn dates_are_gregorian() {
        assert_eq!(rfc3339(UNIX_EPOCH).to_string(), "1970-01-01T00:00:00.000Z");
        assert_eq!(
            rfc3339(UNIX_EPOCH + Duration::from_millis(951_782_400_123)).to_string(),
            "2000-02-29T00:00:00.123Z"
        );
        assert_eq!(rfc3339(at(250)).to_string(), "2027-01-15T08:00:00.250Z");
        assert_eq!(rfc3339(UNIX_EPOCH + Duration::from_secs(4_102_444_799)).to_string(), "2099-12-31T23:59:59.000Z");
        // The latest wall time an entry can hold formats too.
        assert_eq!(rfc3339(UNIX_EPOCH + Duration::from_nanos(u64::MAX)).to_string(), "2554-07-21T23:34:33.709Z");
    }
}
