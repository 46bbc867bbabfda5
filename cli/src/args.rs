//! The command line.

use std::path::PathBuf;

use clap::{Args, Parser, Subcommand};

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
    /// List the project's scripts, grouped by the file they come from.
    Ls(LsArgs),
    /// Deterministic simulation: list, run, sweep and replay race scenarios.
    #[command(subcommand)]
    Sim(SimCommand),
}

#[derive(Debug, Args)]
pub struct LsArgs {
    /// Print one JSON document (sources, scripts, errors) instead of the listing.
    #[arg(long)]
    pub json: bool,
}

#[derive(Debug, Subcommand)]
pub enum SimCommand {
    /// List the scenarios.
    List,
    /// Run one scenario with one seed and print its trace.
    Run(RunArgs),
    /// Run many seeds of one or all scenarios.
    Sweep(SweepArgs),
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
    #[arg(long, short)]
    pub scenario: String,
    #[arg(long, default_value_t = 0)]
    pub seed: u64,
    #[arg(long, default_value = "turmoil", value_parser = ["turmoil", "madsim"])]
    pub backend: String,
    /// `faulty` swaps in Brummer's shared-queue bus, to see an oracle fail.
    #[arg(long, default_value = "real", value_parser = ["real", "faulty"])]
    pub bus: String,
    /// Print the metrics snapshot after the trace.
    #[arg(long)]
    pub metrics: bool,
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
    #[arg(long, default_value = "turmoil", value_parser = ["turmoil", "madsim"])]
    pub backend: String,
    #[arg(long, default_value = "real", value_parser = ["real", "faulty"])]
    pub bus: String,
    /// Worker threads (default: the number of cores; madsim sweeps always use one).
    #[arg(long)]
    pub jobs: Option<usize>,
}
