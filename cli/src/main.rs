//! `brum`: wires the command line to the commands. Nothing else lives here.

use std::io::Write;
use std::process::ExitCode;

use clap::Parser;

/// mimalloc: brum allocates a few small objects per output line on several threads, where
/// glibc's malloc spent a sixth of the time of a flood (perf, `benches/compare/ingest.sh`).
#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

fn main() -> ExitCode {
    let cli = brum::args::Cli::parse();
    // Simulations plant panics and faults on purpose; their oracles report what matters.
    // rmcp warns about every JSON-RPC error it sends (an agent's misspelt tool): the client gets
    // the error; brum's terminal is not the place for it. Its service loop reports as errors a
    // client that went away mid-call (an answer it can no longer send, a closed sink): brum
    // cancels the call then, and nothing is wrong.
    let level = if matches!(cli.command, Some(brum::args::Command::Sim(_))) {
        "error"
    } else {
        "warn,rmcp=error,rmcp::service=off"
    };
    brum::output::init_tracing(level);
    // Not `stdout().lock()`: `brum run` prints from several threads, and a lock held here
    // for the whole command would deadlock them.
    let mut out = std::io::stdout();
    let code = match brum::dispatch(cli, &mut out) {
        Ok(code) => code,
        // A closed pipe (`brum sim list | head`) is not an error.
        Err(e) if e.is_broken_pipe() => return ExitCode::SUCCESS,
        Err(e) => {
            let _ = out.flush();
            brum::output::stderr_line(&format!("error: {}", e.chain()));
            e.exit_code()
        }
    };
    let _ = out.flush();
    ExitCode::from(code as u8)
}
