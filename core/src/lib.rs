//! brum-core: brum's domain logic, written against the [`rt::Runtime`] seam so the same code
//! runs under real tokio (the `brum` binary) and under deterministic simulators (brum-sim).
//!
//! Core never touches the world directly: no clock reads, threads, sockets, child processes or
//! unseeded randomness except through `R: Runtime`. `core/clippy.toml` enforces it.

pub mod ansi;
pub mod bus;
pub mod config;
pub mod detect;
pub mod diagnostic;
pub mod discovery;
pub mod findings;
pub mod lines;
pub mod logs;
pub mod mcp;
pub mod metrics;
pub mod mutants;
pub mod process;
pub mod rt;
pub mod script;
pub mod session;
pub mod supervisor;
pub mod util;
