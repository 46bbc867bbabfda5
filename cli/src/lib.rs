//! The `brum` binary's library: the real runtime, the command line, and the commands.
//! `main.rs` only wires these together.

pub mod args;
pub mod guardian;
pub mod log_files;
pub mod ls_cmd;
pub mod output;
pub mod project_fs;
pub mod rt;
pub mod run_cmd;
pub mod scripts;
pub mod settings;
pub mod sim_cmd;

/// The commit this binary was built from (`unknown` outside a git checkout).
pub const COMMIT: &str = env!("BRUM_COMMIT");

/// Documented exit codes.
pub mod exit {
    /// Everything asked for succeeded.
    pub const OK: i32 = 0;
    /// A scenario failed or a sweep found failures; `brum ls` found nothing runnable (an empty
    /// folder, files that define no scripts, or files with errors only).
    pub const FAILURE: i32 = 1;
    /// Bad usage, configuration or input (including a missing project directory).
    pub const USAGE: i32 = 2;
}

/// Runs the parsed command line; returns the exit code.
pub fn dispatch(cli: args::Cli, out: &mut dyn std::io::Write) -> anyhow::Result<i32> {
    if cli.settings {
        let project = match cli.project {
            Some(p) => std::path::absolute(&p)?,
            None => std::env::current_dir()?,
        };
        let home = std::env::var_os("HOME").map(std::path::PathBuf::from);
        let cores = std::thread::available_parallelism().map_or(1, |n| n.get());
        return match settings::render(home.as_deref(), &project, cores) {
            Ok(text) => {
                out.write_all(text.as_bytes())?;
                Ok(exit::OK)
            }
            Err(e) => {
                let mut msg = e.to_string();
                let mut source = std::error::Error::source(&e);
                while let Some(s) = source {
                    msg.push_str(&format!(": {s}"));
                    source = s.source();
                }
                eprintln!("error: {msg}");
                Ok(exit::USAGE)
            }
        };
    }
    match cli.command {
        Some(args::Command::Guardian { grace_ms }) => Ok(guardian::run(std::time::Duration::from_millis(grace_ms))),
        Some(args::Command::Ls(ls)) => {
            let home = std::env::var_os("HOME").map(std::path::PathBuf::from);
            Ok(ls_cmd::run(&ls, cli.project.as_deref(), home.as_deref(), out, &mut std::io::stderr().lock())?)
        }
        Some(args::Command::Sim(cmd)) => sim_cmd::run(cmd, out),
        Some(args::Command::Run(a)) => {
            use std::io::IsTerminal;
            let project = match &cli.project {
                Some(p) => p.clone(),
                None => std::env::current_dir()?,
            };
            out.flush()?;
            run_cmd::run(a, &project, std::io::stdout().is_terminal())
        }
        None => {
            writeln!(
                out,
                "brum {} ({COMMIT}): nothing to run yet; try `brum sim list` or `brum --help`",
                env!("CARGO_PKG_VERSION")
            )?;
            Ok(exit::OK)
        }
    }
}
