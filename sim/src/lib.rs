//! brum-sim: deterministic simulation of brum's core.
//!
//! - [`rt`]: the turmoil runtime and, in `--cfg madsim` builds, the madsim runtime;
//! - [`procs`]: the simulated process table both share;
//! - [`faults`]: wall-clock jumps and drift, crashes and delays at named checkpoints;
//! - [`trace`]: the ordered, virtually timestamped record of a run, and its hash;
//! - [`scenarios`]: the race catalogue as scenarios with their oracles;
//! - [`harness`]: run, sweep and replay, as used by `brum sim`;
//! - [`state_machine`]: generated operation sequences against the session, with a reference model.

pub mod conformance;
pub mod faults;
pub mod faulty;
pub mod harness;
pub mod procs;
pub mod rt;
pub mod scenarios;
pub mod state_machine;
pub mod trace;
