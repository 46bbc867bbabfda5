//! [`CliError`], the one error type of brum's commands, and the exit codes it maps to.
//!
//! Every code brum exits with by itself is a constant here, each with what it means; the table
//! in README.md ("Exit codes") lists the same names and values, and a test below keeps the two
//! in step. `brum run` also exits with codes that are not brum's: the code of the first script
//! that failed.

use std::io;
use std::path::PathBuf;

use brum_core::bus::Closed;
use brum_core::config::ConfigError;
use brum_core::discovery::UnknownScript;
use brum_sim::harness::{HarnessError, SeedsError};

/// Declares the exit codes as constants and lists them in [`ALL`], in the order written.
macro_rules! exit_codes {
    ($($(#[doc = $doc:literal])* $name:ident = $value:literal,)*) => {
        $($(#[doc = $doc])* pub const $name: i32 = $value;)*
        /// Every named exit code with its name, in the order of the README's table.
        pub const ALL: &[(&str, i32)] = &[$((stringify!($name), $name)),*];
    };
}

/// brum's exit codes (the table in README.md, "Exit codes").
pub mod exit {
    exit_codes! {
        /// Everything asked for succeeded.
        OK = 0,
        /// A simulation found a failure (a scenario's oracle, or a seed of a sweep), or
        /// `brum ls` found nothing runnable (an empty folder, files that define no scripts, or
        /// files with errors only).
        FAILURE = 1,
        /// The input is wrong, so nothing ran: the command line (clap's own errors exit 2 too),
        /// an unknown script, the project directory, or a `.brum.toml`. Fix what the message
        /// names and try again.
        USAGE = 2,
        /// brum could not do its own work: the system refused it something (a thread, a pipe,
        /// the orphan guardian, the log directory, the current directory), or its output could
        /// not be written. Not the input's fault. 71 is `EX_OSERR` of sysexits.h, well above
        /// the small codes scripts usually exit with.
        SYSTEM = 71,
        /// `brum run`: a script could not be started (its program is missing or not
        /// executable), as a shell reports `command not found`.
        SPAWN_FAILED = 127,
        /// `brum run`: added to the number of the signal that ended a script or stopped brum
        /// (130 after Ctrl-C, 143 after SIGTERM, 129 after SIGHUP), as a shell does.
        SIGNAL_BASE = 128,
    }
}

/// Why a brum command failed. Its message is a lowercase fragment naming the object (main
/// prints it after `error: `, then each source after `: `); [`CliError::exit_code`] says
/// which code brum exits with.
#[derive(Debug, thiserror::Error)]
pub enum CliError {
    /// `-C DIR` (or the current directory) does not exist.
    #[error("no such project directory `{}`", path.display())]
    NoProjectDir { path: PathBuf },
    /// `-C DIR` names something that is not a directory.
    #[error("project path `{}` is not a directory", path.display())]
    NotADirectory { path: PathBuf },
    /// `-C DIR` exists but cannot be read.
    #[error("cannot open project directory `{}`", path.display())]
    ProjectDirUnreadable {
        path: PathBuf,
        #[source]
        source: io::Error,
    },
    /// The current directory (the default project) cannot be determined: it was deleted, or
    /// is out of reach.
    #[error("cannot determine the current directory")]
    CurrentDir {
        #[source]
        source: io::Error,
    },
    /// A `.brum.toml` cannot be read or is invalid: every problem, each naming file and line.
    #[error(transparent)]
    Config(#[from] ConfigError),
    /// `brum run NAME` where discovery found no `NAME`; with the closest names.
    #[error(transparent)]
    UnknownScript(#[from] UnknownScript),
    /// `brum run -c X` where X is not `NAME=COMMAND`.
    #[error("bad --cmd `{arg}`: expected NAME=COMMAND")]
    BadCommand { arg: String },
    /// `brum run -c NAME=...` with a name that cannot be shown as a prefix.
    #[error("bad --cmd name {name:?}: a name may not contain spaces or control characters")]
    BadName { name: String },
    /// `brum run` given the same name twice.
    #[error("script `{name}` is named twice; each name runs once (give ad-hoc commands different names)")]
    DuplicateName { name: String },
    /// `brum run A B -- ARGS`: arguments after `--` go to one script only.
    #[error(
        "arguments after `--` go to one script, but {count} were named; use `brum run SCRIPT -- {}`",
        args.join(" ")
    )]
    PassthroughNeedsOne { count: usize, args: Vec<String> },
    /// `brum serve --token` (or BRUM_MCP_TOKEN) empty, or with characters a header cannot carry.
    #[error(
        "bad MCP token: it must be non-empty printable ASCII without spaces (it is sent as `Authorization: Bearer TOKEN`)"
    )]
    BadToken,
    /// `brum run` with neither a script nor `--cmd`.
    #[error("nothing to run: name scripts (see `brum ls`) or give --cmd NAME=COMMAND")]
    NothingToRun,
    /// `brum sim ...` asked for an unknown scenario or mutant, a backend this build lacks, or
    /// gave a failure line that does not parse.
    #[error(transparent)]
    Sim(#[from] HarnessError),
    /// `brum sim sweep` asked for seeds past `u64::MAX`, or more than a sweep runs.
    #[error(transparent)]
    Seeds(#[from] SeedsError),
    /// The system refused brum something it needs: `action` names it (``start the orphan
    /// guardian``).
    #[error("cannot {action}")]
    System {
        action: &'static str,
        #[source]
        source: io::Error,
    },
    /// brum's event bus refused a subscription while brum was starting: it is never shut
    /// down before brum stops, so this is a bug.
    #[error("cannot set up brum's event bus: it is already shut down (a bug)")]
    BusClosed(#[from] Closed),
    /// Writing brum's own output (the listing, the trace) failed. A closed pipe is not
    /// reported (see [`CliError::is_broken_pipe`]).
    #[error("cannot write the output")]
    Output(#[source] io::Error),
}

impl From<io::Error> for CliError {
    /// An unqualified I/O error in a command is a failed write of its output: every other I/O
    /// a command does is mapped where it happens, to what it was doing.
    fn from(e: io::Error) -> CliError {
        CliError::Output(e)
    }
}

impl CliError {
    /// The exit code brum ends with (one of [`exit::ALL`]).
    pub fn exit_code(&self) -> i32 {
        match self {
            CliError::NoProjectDir { .. }
            | CliError::NotADirectory { .. }
            | CliError::ProjectDirUnreadable { .. }
            | CliError::Config(_)
            | CliError::UnknownScript(_)
            | CliError::BadCommand { .. }
            | CliError::BadName { .. }
            | CliError::DuplicateName { .. }
            | CliError::PassthroughNeedsOne { .. }
            | CliError::NothingToRun
            | CliError::BadToken
            | CliError::Sim(_)
            | CliError::Seeds(_) => exit::USAGE,
            CliError::CurrentDir { .. } | CliError::System { .. } | CliError::BusClosed(_) | CliError::Output(_) => {
                exit::SYSTEM
            }
        }
    }

    /// Whether this is a write to a pipe nobody reads any more (`brum sim list | head`):
    /// brum then exits 0, quietly.
    pub fn is_broken_pipe(&self) -> bool {
        matches!(self, CliError::Output(e) if e.kind() == io::ErrorKind::BrokenPipe)
    }

    /// The message and every source, joined by `: `; what main prints after `error: `.
    pub fn chain(&self) -> String {
        let mut text = self.to_string();
        let mut source = std::error::Error::source(self);
        while let Some(s) = source {
            text.push_str(": ");
            text.push_str(&s.to_string());
            source = s.source();
        }
        text
    }
}

/// An I/O failure of the system, as a [`CliError::System`] naming what brum was doing.
pub(crate) fn system(action: &'static str) -> impl FnOnce(io::Error) -> CliError {
    move |source| CliError::System { action, source }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The rows of README.md's exit-code table: `` | `0` | `OK` | ... | ``.
    fn documented() -> Vec<(String, i32)> {
        let readme = include_str!("../../README.md");
        let section = readme.split("\n## Exit codes\n").nth(1).expect("README.md has a `## Exit codes` section");
        let section = section.split("\n## ").next().unwrap_or(section);
        section
            .lines()
            .filter_map(|line| {
                let cells: Vec<&str> = line.split('|').map(str::trim).collect();
                let code = cells.get(1)?.strip_prefix('`')?.strip_suffix('`')?.parse().ok()?;
                let name = cells.get(2)?.strip_prefix('`')?.strip_suffix('`')?;
                Some((name.to_owned(), code))
            })
            .collect()
    }

    #[test]
    fn readme_exit_code_table_matches_the_constants() {
        let constants: Vec<(String, i32)> = exit::ALL.iter().map(|(n, c)| ((*n).to_owned(), *c)).collect();
        assert_eq!(documented(), constants, "README.md's exit-code table and `exit::ALL` disagree");
    }

    #[test]
    fn exit_codes_are_distinct() {
        let mut codes: Vec<i32> = exit::ALL.iter().map(|(_, c)| *c).collect();
        codes.sort_unstable();
        codes.dedup();
        assert_eq!(codes.len(), exit::ALL.len(), "{:?}", exit::ALL);
    }

    fn io(kind: io::ErrorKind) -> io::Error {
        io::Error::new(kind, "oops")
    }

    #[test]
    fn input_errors_exit_usage() {
        let unknown = UnknownScript { name: "dve".into(), suggestions: vec!["dev".into()], root: "/p".into() };
        let usage = [
            CliError::NoProjectDir { path: "/nope".into() },
            CliError::NotADirectory { path: "/p/package.json".into() },
            CliError::ProjectDirUnreadable { path: "/p".into(), source: io(io::ErrorKind::PermissionDenied) },
            CliError::Config(ConfigError::Invalid { problems: Vec::new() }),
            CliError::UnknownScript(unknown),
            CliError::BadCommand { arg: "x".into() },
            CliError::BadName { name: "a b".into() },
            CliError::DuplicateName { name: "dev".into() },
            CliError::PassthroughNeedsOne { count: 2, args: vec!["--watch".into()] },
            CliError::NothingToRun,
            CliError::BadToken,
            CliError::Sim(HarnessError::MadsimUnavailable),
            CliError::Seeds(SeedsError::TooMany { count: u64::MAX }),
        ];
        for e in usage {
            assert_eq!(e.exit_code(), exit::USAGE, "{e:?}");
        }
    }

    #[test]
    fn system_errors_exit_system() {
        let system = [
            CliError::CurrentDir { source: io(io::ErrorKind::NotFound) },
            CliError::System { action: "start the orphan guardian", source: io(io::ErrorKind::Other) },
            CliError::BusClosed(Closed),
            CliError::Output(io(io::ErrorKind::WriteZero)),
        ];
        for e in system {
            assert_eq!(e.exit_code(), exit::SYSTEM, "{e:?}");
            assert!(!e.is_broken_pipe());
        }
    }

    #[test]
    fn a_closed_pipe_is_told_apart() {
        assert!(CliError::from(io(io::ErrorKind::BrokenPipe)).is_broken_pipe());
        let read = ConfigError::Read { path: "/p/.brum.toml".into(), source: io(io::ErrorKind::BrokenPipe) };
        assert!(!CliError::Config(read).is_broken_pipe(), "only brum's own output counts");
    }

    #[test]
    fn chain_joins_every_source() {
        let e = CliError::Config(ConfigError::Read {
            path: "/p/.brum.toml".into(),
            source: io(io::ErrorKind::PermissionDenied),
        });
        assert_eq!(e.chain(), "failed to read config file `/p/.brum.toml`: oops");
        let e = system("start the orphan guardian")(io(io::ErrorKind::Other));
        assert_eq!(e.chain(), "cannot start the orphan guardian: oops");
        assert_eq!(CliError::NothingToRun.chain(), CliError::NothingToRun.to_string());
    }
}
