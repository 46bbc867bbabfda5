//! The `brum` binary's library: the real runtime, the command line, and the commands.
//! `main.rs` only wires these together.

pub mod args;
pub mod diagnostics;
pub mod errors;
pub mod guardian;
pub mod log_files;
pub mod ls_cmd;
pub mod mcp;
pub mod output;
pub mod project_fs;
pub mod rt;
pub mod run_cmd;
pub mod scripts;
pub mod serve_cmd;
pub mod settings;
pub mod sim_cmd;

/// The commit this binary was built from (`unknown` outside a git checkout).
pub const COMMIT: &str = env!("BRUM_COMMIT");

pub use errors::{CliError, exit};

/// Runs the parsed command line; returns the exit code (see [`exit`]).
pub fn dispatch(cli: args::Cli, out: &mut dyn std::io::Write) -> Result<i32, CliError> {
    if cli.settings {
        let project = project_fs::project_dir(cli.project.as_deref())?;
        let home = std::env::var_os("HOME").map(std::path::PathBuf::from);
        let cores = std::thread::available_parallelism().map_or(1, |n| n.get());
        let text = settings::render(home.as_deref(), &project, cores)?;
        out.write_all(text.as_bytes())?;
        return Ok(exit::OK);
    }
    match cli.command {
        Some(args::Command::Guardian { grace_ms }) => Ok(guardian::run(std::time::Duration::from_millis(grace_ms))),
        Some(args::Command::Ls(ls)) => {
            let home = std::env::var_os("HOME").map(std::path::PathBuf::from);
            ls_cmd::run(&ls, cli.project.as_deref(), home.as_deref(), out, &mut std::io::stderr().lock())
        }
        Some(args::Command::Sim(cmd)) => sim_cmd::run(cmd, out),
        Some(args::Command::Serve(a)) => {
            let project = project_fs::project_dir(cli.project.as_deref())?;
            serve_cmd::serve(a, &project, out)
        }
        Some(args::Command::Mcp(cmd)) => {
            let project = project_fs::project_dir(cli.project.as_deref())?;
            serve_cmd::mcp(cmd, &project, out)
        }
        Some(args::Command::Run(a)) => {
            use std::io::IsTerminal;
            let project = project_fs::project_dir(cli.project.as_deref())?;
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
