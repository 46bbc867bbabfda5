//! What can be run: a script found by discovery or declared in `.brum.toml`, ready for the
//! supervisor.

use std::fmt;
use std::path::PathBuf;
use std::time::Duration;

/// Where a script was found. The variants are in discovery's precedence order: when two
/// scripts want the same name, the one from the earlier source keeps it (see
/// `discovery::discover`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, serde::Serialize, strum::IntoStaticStr)]
#[serde(rename_all = "snake_case")]
#[strum(serialize_all = "snake_case")]
pub enum SourceKind {
    /// `[processes.NAME]` in `.brum.toml`.
    #[strum(serialize = "brum.toml")]
    BrumToml,
    #[strum(serialize = "package.json")]
    PackageJson,
    /// An nx `project.json` target of a workspace package.
    #[strum(serialize = "nx")]
    NxProject,
    Procfile,
    Deno,
    Composer,
    Pyproject,
    Cargo,
    Go,
    Makefile,
    Justfile,
    #[strum(serialize = "vscode")]
    VscodeTasks,
}

impl SourceKind {
    pub fn name(self) -> &'static str {
        self.into()
    }
}

impl fmt::Display for SourceKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// How to start a script's process.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "snake_case", tag = "kind")]
pub enum Command {
    /// A command line for `sh -c` (package.json scripts, Procfile entries, tasks).
    Shell { line: String },
    /// A program and its arguments, run directly (`npm run dev`, `make build`).
    Exec { program: String, args: Vec<String> },
}

impl Command {
    /// The program and arguments to hand to `Processes::spawn_process`.
    pub fn argv(&self) -> (String, Vec<String>) {
        match self {
            Command::Shell { line } => ("sh".to_string(), vec!["-c".to_string(), line.clone()]),
            Command::Exec { program, args } => (program.clone(), args.clone()),
        }
    }
}

impl Command {
    /// This command with `extra` arguments appended, as `brum run SCRIPT -- ARGS` passes them:
    /// shell-quoted onto a shell line, after `--` for `npm run` (npm reads options before it
    /// for itself), and as they are for any other program (pnpm, yarn and bun pass arguments
    /// after the script name through).
    pub fn with_args(&self, extra: &[String]) -> Command {
        if extra.is_empty() {
            return self.clone();
        }
        match self {
            Command::Shell { line } => {
                let mut line = line.clone();
                for a in extra {
                    line.push(' ');
                    line.push_str(&shell_quote(a));
                }
                Command::Shell { line }
            }
            Command::Exec { program, args } => {
                let mut args = args.clone();
                if program == "npm" && !args.iter().any(|a| a == "--") {
                    args.push("--".to_string());
                }
                args.extend(extra.iter().cloned());
                Command::Exec { program: program.clone(), args }
            }
        }
    }
}

/// `s` as one word for `sh`: bare when it is made of safe characters, else in single quotes.
pub fn shell_quote(s: &str) -> String {
    let safe = |c: char| c.is_ascii_alphanumeric() || "-_./:=@%+,".contains(c);
    if !s.is_empty() && s.chars().all(safe) {
        return s.to_string();
    }
    format!("'{}'", s.replace('\'', "'\\''"))
}

impl fmt::Display for Command {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Command::Shell { line } => f.write_str(line),
            Command::Exec { program, args } => {
                f.write_str(program)?;
                for a in args {
                    if a.contains(' ') || a.is_empty() {
                        write!(f, " {a:?}")?;
                    } else {
                        write!(f, " {a}")?;
                    }
                }
                Ok(())
            }
        }
    }
}

/// When the supervisor restarts a process that ended on its own.
#[derive(
    Debug,
    Clone,
    Copy,
    PartialEq,
    Eq,
    PartialOrd,
    Ord,
    Hash,
    Default,
    serde::Serialize,
    strum::IntoStaticStr,
    strum::EnumString,
)]
#[serde(rename_all = "kebab-case")]
#[strum(serialize_all = "kebab-case")]
pub enum RestartPolicy {
    #[default]
    Never,
    OnFailure,
    Always,
}

impl RestartPolicy {
    pub fn name(self) -> &'static str {
        self.into()
    }

    pub fn parse(s: &str) -> Option<Self> {
        s.parse().ok()
    }
}

/// Restart timing: the first delay, doubled per consecutive restart up to `backoff_max`, and
/// at most `max_restarts` in a row.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
pub struct RestartLimits {
    pub max_restarts: u32,
    pub backoff: Duration,
    pub backoff_max: Duration,
}

/// A runnable script.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct Script {
    /// The address people and agents use: `dev`, `web:dev` (workspace package), `make:build`.
    pub name: String,
    pub source: SourceKind,
    /// The file it was found in.
    pub file: PathBuf,
    pub command: Command,
    pub cwd: PathBuf,
    /// Added to the inherited environment.
    pub env: Vec<(String, String)>,
    pub restart: RestartPolicy,
    /// The script as written in its file (for `brum ls`), when it differs from `command`.
    pub detail: Option<String>,
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The names `brum ls` shows and agents filter by; strum derives them from the attributes.
    #[test]
    fn source_kind_and_restart_policy_names_are_the_documented_ones() {
        let kinds = [
            (SourceKind::BrumToml, "brum.toml"),
            (SourceKind::PackageJson, "package.json"),
            (SourceKind::NxProject, "nx"),
            (SourceKind::Procfile, "procfile"),
            (SourceKind::Deno, "deno"),
            (SourceKind::Composer, "composer"),
            (SourceKind::Pyproject, "pyproject"),
            (SourceKind::Cargo, "cargo"),
            (SourceKind::Go, "go"),
            (SourceKind::Makefile, "makefile"),
            (SourceKind::Justfile, "justfile"),
            (SourceKind::VscodeTasks, "vscode"),
        ];
        for (kind, name) in kinds {
            assert_eq!(kind.name(), name);
        }
        for (policy, name) in [
            (RestartPolicy::Never, "never"),
            (RestartPolicy::OnFailure, "on-failure"),
            (RestartPolicy::Always, "always"),
        ] {
            assert_eq!(policy.name(), name);
            assert_eq!(RestartPolicy::parse(name), Some(policy));
        }
        assert_eq!(RestartPolicy::parse("on_failure"), None);
        assert_eq!(RestartPolicy::parse("Never"), None);
    }

    #[test]
    fn passthrough_args_are_quoted_onto_shell_lines_and_follow_dashdash_for_npm() {
        let extra = vec!["--watch".to_string(), "a b".to_string(), "it's".to_string()];
        let shell = Command::Shell { line: "vitest".into() }.with_args(&extra);
        assert_eq!(shell, Command::Shell { line: r#"vitest --watch 'a b' 'it'\''s'"#.into() });
        let npm = Command::Exec { program: "npm".into(), args: vec!["run".into(), "test".into()] }.with_args(&extra);
        assert_eq!(npm.argv().1, ["run", "test", "--", "--watch", "a b", "it's"]);
        let pnpm = Command::Exec { program: "pnpm".into(), args: vec!["run".into(), "test".into()] }.with_args(&extra);
        assert_eq!(pnpm.argv().1, ["run", "test", "--watch", "a b", "it's"]);
    }
}
