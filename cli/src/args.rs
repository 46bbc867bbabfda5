//! The command line.

use std::path::PathBuf;

use brum_sim::harness::Backend;
use brum_sim::scenarios::BusKind;
use clap::{Args, Parser, Subcommand, ValueEnum};

/// brum: run a project's dev processes, watch their output, and serve it all to AI agents.
#[derive(Debug, Parser)]
#[command(name = "brum", version = concat!(env!("CARGO_PKG_VERSION"), " (", env!("BRUM_COMMIT"), ")"))]
pub struct Cli {
    /// Print every effective setting with the file it came from, then exit.
    #[arg(long)]
    pub settings: bool,

    /// The project directory (default: the current directory).
    #[arg(long, short = 'C', value_name = "DIR", global = true)]
    pub project: Option<PathBuf>,

    #[command(subcommand)]
    pub command: Option<Command>,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Run scripts side by side, their output prefixed with their names; exits with the code
    /// of the first one that failed.
    Run(RunArgs),
    /// List the project's scripts, grouped by the file they come from.
    Ls(LsArgs),
    /// Run headless: serve the project to MCP clients over HTTP until Ctrl-C; prints
    /// `mcp: URL` on a line of its own once it listens.
    Serve(ServeArgs),
    /// The MCP server on stdio, and client configuration snippets.
    #[command(subcommand)]
    Mcp(McpCommand),
    /// Deterministic simulation: list, run, sweep and replay race scenarios.
    #[command(subcommand)]
    Sim(SimCommand),
    /// Internal: the orphan guardian brum starts for itself (see `guardian.rs`).
    #[command(name = "__guardian", hide = true)]
    Guardian {
        /// Milliseconds between SIGTERM and SIGKILL when cleaning up.
        grace_ms: u64,
    },
}

#[derive(Debug, Args)]
pub struct ServeArgs {
    /// The port to listen on (127.0.0.1 only); 0 picks a free one. If the port is taken, a
    /// free one is used and brum says so on stderr.
    #[arg(long, short = 'p', value_name = "PORT", default_value_t = crate::mcp::http::DEFAULT_PORT)]
    pub port: u16,
    /// Require `Authorization: Bearer TOKEN` from MCP clients (also: BRUM_MCP_TOKEN).
    #[arg(long, value_name = "TOKEN", env = "BRUM_MCP_TOKEN", hide_env_values = true)]
    pub token: Option<String>,
}

#[derive(Debug, Subcommand)]
pub enum McpCommand {
    /// Serve MCP on stdin and stdout, for a client that starts brum itself.
    Stdio,
    /// Print the configuration snippet an MCP client needs (its HTTP and stdio forms).
    Config {
        #[arg(value_enum)]
        client: crate::mcp::client_config::Client,
        /// The port of the HTTP form (as given to `brum serve -p`).
        #[arg(long, short = 'p', value_name = "PORT", default_value_t = crate::mcp::http::DEFAULT_PORT)]
        port: u16,
    },
}

#[derive(Debug, Args)]
pub struct LsArgs {
    /// Print one JSON document (sources, scripts, errors) instead of the listing.
    #[arg(long)]
    pub json: bool,
}

#[derive(Debug, Subcommand)]
pub enum SimCommand {
    /// List the scenarios (or, with `--mutants`, the planted bugs `--mutant` takes).
    List {
        /// List the mutants instead, one name a line.
        #[arg(long)]
        mutants: bool,
    },
    /// Run one scenario with one seed and print its trace.
    Run(SimRunArgs),
    /// Run many seeds of one or all scenarios.
    Sweep(SweepArgs),
    /// Measure how much of a scenario's race the seeds explore: distinct event orderings, and
    /// how often the race's window was hit (where the scenario measures it).
    Explore(ExploreArgs),
    /// Re-run the run a failure line names (as printed by `run` or `sweep`).
    Replay {
        /// The whole failure line, quoted.
        line: String,
        /// Also print the metrics snapshot.
        #[arg(long)]
        metrics: bool,
    },
}

#[derive(Debug, Args)]
pub struct RunArgs {
    /// Scripts to run, by name (see `brum ls`).
    pub scripts: Vec<String>,
    /// An ad-hoc command to run too, as NAME=COMMAND (run by `sh -c`). Repeatable.
    #[arg(long = "cmd", short = 'c', value_name = "NAME=COMMAND")]
    pub cmd: Vec<String>,
    /// When any process ends, stop the others.
    #[arg(long)]
    pub kill_others: bool,
    /// When any process fails, stop the others.
    #[arg(long)]
    pub kill_others_on_fail: bool,
    /// Print one JSON object per event instead of prefixed lines.
    #[arg(long)]
    pub json: bool,
    /// Also serve MCP over HTTP while running (on 127.0.0.1:7777, or a free port if taken);
    /// the URL is printed on stderr.
    #[arg(long)]
    pub mcp: bool,
    /// Require `Authorization: Bearer TOKEN` from MCP clients (with `--mcp`; also:
    /// BRUM_MCP_TOKEN).
    #[arg(long, value_name = "TOKEN", env = "BRUM_MCP_TOKEN", hide_env_values = true)]
    pub token: Option<String>,
    /// Arguments after `--` go to the script (exactly one script may be named):
    /// `brum run test -- --watch`.
    #[arg(last = true, value_name = "ARGS")]
    pub passthrough: Vec<String>,
}

#[derive(Debug, Args)]
pub struct SimRunArgs {
    #[arg(long, short)]
    pub scenario: String,
    #[arg(long, default_value_t = 0)]
    pub seed: u64,
    #[arg(long, value_enum, default_value_t)]
    pub backend: BackendArg,
    /// `faulty` plants the scenario's mutant, to see an oracle fail: Brummer's shared-queue
    /// bus, or for C-http a server that drops the echoed body.
    #[arg(long, value_enum, default_value_t)]
    pub bus: BusArg,
    /// Print the metrics snapshot after the trace.
    #[arg(long)]
    pub metrics: bool,
    /// Switch on a planted bug for this run, to see the scenario's oracle catch it
    /// (`supervisor.publish_inline`).
    #[arg(long)]
    pub mutant: Option<String>,
}

#[derive(Debug, Args)]
pub struct SweepArgs {
    /// A scenario name, or `all`.
    #[arg(long, short)]
    pub scenario: String,
    /// How many seeds per scenario.
    #[arg(long, default_value_t = 100)]
    pub seeds: u64,
    /// The first seed.
    #[arg(long, default_value_t = 0)]
    pub from: u64,
    /// Run each seed twice and compare the traces byte for byte.
    #[arg(long)]
    pub check_determinism: bool,
    #[arg(long, value_enum, default_value_t)]
    pub backend: BackendArg,
    #[arg(long, value_enum, default_value_t)]
    pub bus: BusArg,
    /// Worker threads (default: the number of cores; madsim sweeps always use one).
    #[arg(long)]
    pub jobs: Option<usize>,
    /// Switch on a planted bug in every run (see `brum sim list --mutants`): the sweep then
    /// counts the seeds that catch it.
    #[arg(long)]
    pub mutant: Option<String>,
    /// After the summary, print each scenario's seeds/s per core (one line each).
    #[arg(long)]
    pub speed: bool,
}

#[derive(Debug, clap::Args)]
pub struct ExploreArgs {
    /// A scenario name, or `all` (every race scenario).
    #[arg(long, short)]
    pub scenario: String,
    /// How many seeds.
    #[arg(long, default_value_t = 100)]
    pub seeds: u64,
    /// The first seed.
    #[arg(long, default_value_t = 0)]
    pub from: u64,
    #[arg(long, value_enum, default_value_t)]
    pub backend: BackendArg,
}

/// `--backend`: the simulator's [`Backend`], as clap spells it (`turmoil`, `madsim`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, ValueEnum)]
pub enum BackendArg {
    #[default]
    Turmoil,
    Madsim,
}

impl From<BackendArg> for Backend {
    fn from(arg: BackendArg) -> Backend {
        match arg {
            BackendArg::Turmoil => Backend::Turmoil,
            BackendArg::Madsim => Backend::Madsim,
        }
    }
}

/// `--bus`: the simulation's [`BusKind`] (`real`, `faulty`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, ValueEnum)]
pub enum BusArg {
    #[default]
    Real,
    Faulty,
}

impl From<BusArg> for BusKind {
    fn from(arg: BusArg) -> BusKind {
        match arg {
            BusArg::Real => BusKind::Real,
            BusArg::Faulty => BusKind::Faulty,
        }
    }
}
