//! Scenarios: each reproduces a race from the catalogue (reference/brummer-concurrency.md §2)
//! against brum's real components, records a trace, and checks its invariants with oracles.

mod bus_log_coverage;
mod bus_races;
mod fault_races;
mod log_races;
mod mcp_races;
mod supervisor_paths;
mod supervisor_races;

use std::fmt;
use std::future::Future;
use std::pin::Pin;
use std::time::Duration;

use brum_core::bus::{Backpressure, BusConfig};
use brum_core::rt::Runtime;

use crate::trace::Trace;

pub use bus_races::check_task_leaks;
pub use mcp_races::{MCP_ROOT, catalogue as mcp_catalogue, mcp_session, script as mcp_script};
pub use supervisor_races::register_programs;

/// Which bus a scenario drives.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Default)]
pub enum BusKind {
    /// brum's EventBus.
    #[default]
    Real,
    /// The planted mutants, to prove the oracles catch them: Brummer's shared-queue bus
    /// ([`crate::faulty`]) for the bus scenarios; for C-http, a server that answers `/echo`
    /// without the body it was sent.
    Faulty,
}

impl BusKind {
    pub fn name(self) -> &'static str {
        match self {
            BusKind::Real => "real",
            BusKind::Faulty => "faulty",
        }
    }
}

/// An invariant a run broke.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Violation {
    /// The invariant's name in the catalogue, e.g. `I3 per-subscriber FIFO`.
    pub oracle: &'static str,
    pub message: String,
}

impl fmt::Display for Violation {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}: {}", self.oracle, self.message)
    }
}

pub type Outcome = Result<(), Violation>;

/// What a scenario body gets.
pub struct Cx<R: Runtime> {
    pub rt: R,
    pub trace: Trace,
    pub seed: u64,
    pub bus: BusKind,
    /// The run's fault plan under a simulator (`None` on the real runtime).
    pub faults: Option<std::sync::Arc<crate::faults::Faults>>,
}

impl<R: Runtime> Cx<R> {
    pub fn log(&self, component: &'static str, kind: &'static str, detail: impl Into<String>) {
        self.trace.record(self.rt.now(), component, kind, detail);
    }

    /// The DST bus configuration, in the spirit of Brummer's "testing" template: few workers,
    /// small mailboxes and batches, so overflow and interleaving paths are reached quickly.
    pub fn bus_config(&self) -> BusConfig {
        BusConfig {
            workers: 4,
            mailbox_capacity: 64,
            backpressure: Backpressure::Degrade,
            block_timeout: Duration::from_millis(100),
            drain_timeout: Duration::from_secs(5),
            batch: 8,
        }
    }
}

impl<R: Runtime> Cx<R> {
    /// [`Cx::bus_config`] for a scenario with a subscriber that never drains (stuck): its
    /// shutdown would only wait out the drain timeout, so that is short, which keeps the run's
    /// virtual time (and so its cost in simulator ticks) down.
    pub fn bus_config_never_drained(&self) -> BusConfig {
        BusConfig { drain_timeout: Duration::from_millis(100), ..self.bus_config() }
    }
}

pub fn violation(oracle: &'static str, message: impl Into<String>) -> Violation {
    Violation { oracle, message: message.into() }
}

/// Fails the scenario with `oracle` unless `cond` holds.
#[macro_export]
macro_rules! ensure {
    ($cond:expr, $oracle:expr, $($fmt:tt)+) => {
        if !$cond {
            return Err($crate::scenarios::violation($oracle, format!($($fmt)+)));
        }
    };
}

pub type BoxOutcome<'a> = Pin<Box<dyn Future<Output = Outcome> + 'a>>;

/// A catalogued scenario.
#[derive(Debug, Clone, Copy)]
pub struct Scenario {
    pub name: &'static str,
    /// The catalogue entry it reproduces.
    pub race: &'static str,
    pub summary: &'static str,
    /// Virtual time after which a run that has not finished counts as hung.
    pub budget: Duration,
}

pub const SCENARIOS: &[Scenario] = &[
    Scenario {
        name: "S-E1",
        race: "a task per handler invocation (a slow handler grows the task count without bound)",
        summary: "three publishers at seeded moments into a 2 ms handler beside a fast one: no task spawned per event, the slow mailbox holds its publishers back, both get every event in order",
        budget: Duration::from_secs(60),
    },
    Scenario {
        name: "S-E2",
        race: "pool-full fallback spawns a task per event",
        summary: "bursts 1,005 events at drop_oldest, drop_newest and degrade mailboxes, then 252 more with a block subscriber: tasks stay bounded, every drop is counted, degrade keeps every lifecycle event",
        budget: Duration::from_secs(60),
    },
    Scenario {
        name: "S-E3",
        race: "two events per line; an exit waits behind a flood of lines",
        summary: "300 lines flood while a quick process exits at a seeded moment: a lifecycle-only subscriber gets exactly its four events within 100 ms, never a line; one event per line, each stored once",
        budget: Duration::from_secs(60),
    },
    Scenario {
        name: "S-E4",
        race: "no per-subscriber ordering",
        summary: "three processes publish started, 40 lines, exited concurrently at seeded moments to two slow subscribers: each sees each process's events in order, and never runs twice at once",
        budget: Duration::from_secs(60),
    },
    Scenario {
        name: "S-E5",
        race: "shutdown loses queued events; publish after shutdown half-accepted",
        summary: "shutdown races a publisher: every accepted event is delivered or reported, publish after shutdown fails, no handler runs after it",
        budget: Duration::from_secs(60),
    },
    Scenario {
        name: "S-E6",
        race: "no unsubscribe: dead sessions' handlers keep firing",
        summary: "eight sessions subscribe and unsubscribe while events flow: no handler runs after unsubscribe returns, subscriptions return to baseline",
        budget: Duration::from_secs(60),
    },
    Scenario {
        name: "S-E7",
        race: "event id collisions under a frozen clock",
        summary: "four publishers publish 100 events each in one virtual instant: ids are unique, gap-free and increasing per publisher",
        budget: Duration::from_secs(60),
    },
    Scenario {
        name: "S-E8",
        race: "shared mutable payload",
        summary: "60 events to three subscribers, one slow and holding the publisher back: all get the same immutable envelope, carrying the publisher's own batch, unchanged",
        budget: Duration::from_secs(60),
    },
    Scenario {
        name: "S-E9",
        race: "handler panic isolation",
        summary: "one subscriber panics on every third event: the others get everything, panics are counted, the worker pool keeps its size",
        budget: Duration::from_secs(60),
    },
    Scenario {
        name: "S-P3",
        race: "stop races a natural exit: two exits, status overwritten",
        summary: "a user stop races the child's own exit: one terminal state, one ProcessExited, matching each other",
        budget: Duration::from_secs(60),
    },
    Scenario {
        name: "S-P4",
        race: "exit published before the last lines",
        summary: "202 tail lines, and a grandchild's lines after its parent exited, all arrive before ProcessExited",
        budget: Duration::from_secs(60),
    },
    Scenario {
        name: "S-P5",
        race: "id collisions and a non-atomic duplicate check",
        summary: "four concurrent starts of one script make one instance; forced starts get unique ids",
        budget: Duration::from_secs(60),
    },
    Scenario {
        name: "S-P8",
        race: "illegal transitions: terminal states not absorbing",
        summary: "starts, stops, restarts, crashes with restart policy and a failed spawn: every observed transition is legal",
        budget: Duration::from_secs(60),
    },
    Scenario {
        name: "S-P9",
        race: "shutdown races concurrent starts: orphans",
        summary: "shutdown lands while three tasks keep starting scripts (some ignore SIGTERM): nothing is left running",
        budget: Duration::from_secs(60),
    },
    Scenario {
        name: "S-P10",
        race: "delayed killers hit the restarted generation",
        summary: "restart a SIGTERM-ignoring process, then restart again at once: no signal or timer of an old generation reaches the new one",
        budget: Duration::from_secs(60),
    },
    Scenario {
        name: "S-P11",
        race: "restart clears the new generation's logs",
        summary: "an old generation's late lines race the new generation and a clear of the old: the new generation keeps every line, the old none",
        budget: Duration::from_secs(60),
    },
    Scenario {
        name: "S-P12",
        race: "log callbacks outlive their session",
        summary: "agent sessions follow a process's log and close at its exit: no callback after close, subscriptions back to zero",
        budget: Duration::from_secs(60),
    },
    Scenario {
        name: "S-P13",
        race: "stop waits on the slowest subscriber (the dispatcher awaits publish)",
        summary: "a subscriber stuck for ever, then starts and a stop of every process: the stop completes in bounded virtual time, the stuck backlog and the unpublished lifecycle events are counted",
        budget: Duration::from_secs(60),
    },
    Scenario {
        name: "S-S1",
        race: "shutdown order loses the tail (the bus closed before the processes stopped)",
        summary: "brum run's shape on the session: a lossless printer, floods, Ctrl-C at a seeded moment: every accepted line printed in order, one exit each after its last line, nothing left running",
        budget: Duration::from_secs(60),
    },
    Scenario {
        name: "S-S2",
        race: "script list goes stale (manifest edits never reach the front ends)",
        summary: "the session watches package.json while it is edited at seeded moments: one ScriptsChanged per edit naming what was added, removed and changed, and the catalogue follows",
        budget: Duration::from_secs(60),
    },
    Scenario {
        name: "S-D1",
        race: "an error group waits for the next line (a dev server's stack shows only when it prints again)",
        summary: "two servers print a Node stack and go quiet, one until a seeded request line: each error is reported once, while it runs, within QUIET_CLOSE of its last line, at the project's frame",
        budget: Duration::from_secs(60),
    },
    Scenario {
        name: "S-F1",
        race: "findings outlive their process (URLs of dead servers listed, groups unbounded)",
        summary: "six servers announce a URL and an error and exit at seeded times, one keeps running: findings stay bounded, one group per signature, no URL of an ended instance",
        budget: Duration::from_secs(60),
    },
    Scenario {
        name: "S-P1",
        race: "status reads lock up or see torn state while lifecycle writers run",
        summary: "three readers check every status snapshot while starts, a restart, a slow stop, natural exits, automatic restarts and a failed spawn write it: no row is ever torn",
        budget: Duration::from_secs(60),
    },
    Scenario {
        name: "S-P2",
        race: "a slow stop blocks readers and other processes' control (kill under the process lock)",
        summary: "signals reach a server 20 ms late and it drains for 60 ms after SIGTERM; a start and a stop of other processes at a seeded moment complete within 10 ms of virtual time",
        budget: Duration::from_secs(60),
    },
    Scenario {
        name: "S-P6",
        race: "two views of a process's state diverge after concurrent updates",
        summary: "five processes exit on their own while stops land at seeded moments: at each ProcessExited the snapshot already shows that end, and each stop's answer matches the event",
        budget: Duration::from_secs(60),
    },
    Scenario {
        name: "S-S3",
        race: "stop-all races restart-all: two live generations of a script",
        summary: "restart-all and stop-all through the session at seeded moments over a slow-draining, a SIGTERM-ignoring and a prompt script: never two live generations of one script, everything ends; a stop landing during a restart cancels it",
        budget: Duration::from_secs(60),
    },
    Scenario {
        name: "S-S4",
        race: "brum run's watcher finishes while a restart is still due",
        summary: "brum run's watch loop on the session over a job that succeeds, one that fails and one that crashes with an on-failure policy: it finishes only after the restarts ran out, with the first failure's exit code",
        budget: Duration::from_secs(60),
    },
    Scenario {
        name: "S-D2",
        race: "path: detection on ingest announces a URL per stream or an error per line",
        summary: "a dev server prints its URL on both streams (once split across reads) and again, a second URL, a stack and a build error: one UrlDetected per URL, one ErrorDetected per report",
        budget: Duration::from_secs(60),
    },
    Scenario {
        name: "S-P14",
        race: "a slow spawn (fork/exec under the manager's lock) stalls every process's log streaming",
        summary: "a ticker prints every 10 ms while another program's exec takes 200 ms at a seeded moment: no two ticks arrive more than 30 ms apart, the status answers meanwhile",
        budget: Duration::from_secs(60),
    },
    Scenario {
        name: "S-O1",
        race: "leftovers of an ended script outlive it (the orphan guardian's groups)",
        summary: "leaders exit leaving background jobs (one ignores SIGTERM): with leftovers=stop they are stopped and released only when empty, with keep they stay tracked and the guardian stops them at exit; no live process in a released group at any seeded sample",
        budget: Duration::from_secs(60),
    },
    Scenario {
        name: "S-G1",
        race: "path: a grandchild outside the group holds the pipes after SIGKILL",
        summary: "a stopped instance's daemon keeps its pipes open: the EOF deadline ends it within grace + EOF_AFTER_KILL, once, with the reason, and none of the daemon's later lines is published",
        budget: Duration::from_secs(60),
    },
    Scenario {
        name: "S-R1",
        race: "path: lines split across reads and at the line-length limit",
        summary: "a line in two reads and one of exactly the limit in three are one line each, a longer one is cut once and counted, a last line without newline arrives, all before the exit",
        budget: Duration::from_secs(60),
    },
    Scenario {
        name: "S-W1",
        race: "path: the child's wait() fails",
        summary: "two children whose wait() fails: the one exiting alone ends failed, the stopped one stopped, each once, with the reason, nothing left running",
        budget: Duration::from_secs(60),
    },
    Scenario {
        name: "S-L1",
        race: "timeout-then-fallback double append",
        summary: "four producers at seeded moments through the bus into the log store's 16-slot lossless mailbox: every accepted line stored exactly once, in order; the trace pins the store's order",
        budget: Duration::from_secs(60),
    },
    Scenario {
        name: "S-L2",
        race: "async/sync order inversion when the queue is full",
        summary: "the same through a 2-slot store mailbox, full for most of the burst (its waits traced): per-producer order holds",
        budget: Duration::from_secs(60),
    },
    Scenario {
        name: "S-L3",
        race: "accepted then lost on close",
        summary: "close races a producer: every accepted line is stored, appends and publishes after close fail",
        budget: Duration::from_secs(60),
    },
    Scenario {
        name: "S-L4",
        race: "fire-and-forget append returns a fabricated entry; loss accepted",
        summary: "three producers append directly at seeded moments while a fourth goes through the bus: each returned id names its stored line, ids unique and increasing, nothing lost or invented",
        budget: Duration::from_secs(60),
    },
    Scenario {
        name: "S-L5",
        race: "unbounded index growth and index skew",
        summary: "3,000 lines into a 32 KiB budget: memory bounded, oldest evicted first and counted, index equals a scan",
        budget: Duration::from_secs(60),
    },
    Scenario {
        name: "S-L6",
        race: "callout under the store lock (a reader in a handler deadlocks the store)",
        summary: "two readers query the store from their handlers on every line while it appends, copies to its sink and is cleared at a seeded moment: no deadlock, every read consistent",
        budget: Duration::from_secs(60),
    },
    Scenario {
        name: "S-L7",
        race: "URL list race (stdout and stderr announce at once)",
        summary: "a dev server prints five URLs on both streams at seeded moments: each announced once, the findings list holds the newest three in order, none after it stops",
        budget: Duration::from_secs(60),
    },
    Scenario {
        name: "S-L8",
        race: "log_persist: the file misses or reorders what the store holds",
        summary: "a file sink under a restart's clear at a seeded moment: every stored line reaches the file once, in store order, the cleared generation's late lines never",
        budget: Duration::from_secs(60),
    },
    Scenario {
        name: "S-C1",
        race: "a crash of brum leaves children nobody will stop (groups released too early)",
        summary: "brum crashes at a seeded named checkpoint while it starts, restarts, stops and shuts down scripts: the orphan guardian finds and stops every process left",
        budget: Duration::from_secs(60),
    },
    Scenario {
        name: "S-C2",
        race: "wall-clock jumps and drift reorder time (timestamps from the wall clock)",
        summary: "the wall clock jumps back 1 h and forward 2 h and drifts up to 5% under a ticker and a crashing script: stored lines keep their events' monotonic times, time filters equal a scan, restarts keep order",
        budget: Duration::from_secs(60),
    },
    Scenario {
        name: "S-C3",
        race: "slow and stuck subscribers under floods (drops unreported, lifecycle lost)",
        summary: "slowed bus workers, two floods, a lossless printer, a drop_oldest agent, a degrade watcher and a stuck subscriber: every line printed in order, every drop counted, every start and exit kept",
        budget: Duration::from_secs(60),
    },
    Scenario {
        name: "S-M12",
        race: "untracked fan-out: an MCP client's wait outlives it (S-E6 applied to MCP sessions)",
        summary: "eight MCP clients at seeded moments wait on scripts_run (url, exit, a line) and logs_stream follow, a third abandoning their call mid-wait: subscriptions and waits back at baseline, every client that waited gets its answer, no task leaks",
        budget: Duration::from_secs(60),
    },
    Scenario {
        name: "C-sleep",
        race: "conformance: sleep ordering",
        summary: "three tasks sleeping 30, 10 and 20 ms wake in time order",
        budget: Duration::from_secs(10),
    },
    Scenario {
        name: "C-spawn",
        race: "conformance: spawn and join",
        summary: "a spawned task's value and panic come back through join; live tasks return to baseline",
        budget: Duration::from_secs(10),
    },
    Scenario {
        name: "C-tcp",
        race: "conformance: TCP echo",
        summary: "a listener on loopback echoes what a client sends",
        budget: Duration::from_secs(10),
    },
    Scenario {
        name: "C-child",
        race: "conformance: a child prints and exits",
        summary: "a child prints on stdout and stderr and exits with code 3",
        budget: Duration::from_secs(10),
    },
    Scenario {
        name: "C-signal",
        race: "conformance: a child killed by signal",
        summary: "SIGTERM ends a child; a child ignoring SIGTERM survives it and dies of SIGKILL",
        budget: Duration::from_secs(30),
    },
    Scenario {
        name: "C-http",
        race: "conformance: hyper over the seam",
        summary: "a hyper HTTP/1 server on 127.0.0.1 and a client dialling `localhost` (::1 refused first): three keep-alive requests and one with Connection: close get the expected statuses and bodies, a 96 KiB echo comes back intact, every connection task ends; `--bus faulty` plants a server that drops the echoed body",
        budget: Duration::from_secs(10),
    },
];

pub fn find(name: &str) -> Option<&'static Scenario> {
    SCENARIOS.iter().find(|s| s.name.eq_ignore_ascii_case(name))
}

/// Runs scenario `name`'s body (the caller has checked it exists).
pub fn body<'a, R: Runtime>(
    name: &'static str,
    cx: &'a Cx<R>,
    programs: &'a crate::conformance::Programs,
) -> BoxOutcome<'a> {
    match name {
        "S-E1" => Box::pin(bus_log_coverage::s_e1(cx)),
        "S-E2" => Box::pin(bus_races::s_e2(cx)),
        "S-E3" => Box::pin(bus_log_coverage::s_e3(cx)),
        "S-E8" => Box::pin(bus_log_coverage::s_e8(cx)),
        "S-L4" => Box::pin(bus_log_coverage::s_l4(cx, programs)),
        "S-L6" => Box::pin(bus_log_coverage::s_l6(cx, programs)),
        "S-L7" => Box::pin(bus_log_coverage::s_l7(cx, programs)),
        "S-L8" => Box::pin(bus_log_coverage::s_l8(cx, programs)),
        "S-E4" => Box::pin(bus_races::s_e4(cx)),
        "S-E5" => Box::pin(bus_races::s_e5(cx)),
        "S-E6" => Box::pin(bus_races::s_e6(cx)),
        "S-E7" => Box::pin(bus_races::s_e7(cx)),
        "S-E9" => Box::pin(bus_races::s_e9(cx)),
        "S-P3" => Box::pin(supervisor_races::s_p3(cx, programs)),
        "S-P4" => Box::pin(supervisor_races::s_p4(cx, programs)),
        "S-P5" => Box::pin(supervisor_races::s_p5(cx, programs)),
        "S-P8" => Box::pin(supervisor_races::s_p8(cx, programs)),
        "S-P9" => Box::pin(supervisor_races::s_p9(cx, programs)),
        "S-P10" => Box::pin(supervisor_races::s_p10(cx, programs)),
        "S-P11" => Box::pin(log_races::s_p11(cx, programs)),
        "S-P12" => Box::pin(supervisor_races::s_p12(cx, programs)),
        "S-P13" => Box::pin(supervisor_races::s_p13(cx, programs)),
        "S-S1" => Box::pin(supervisor_races::s_s1(cx, programs)),
        "S-F1" => Box::pin(supervisor_races::s_f1(cx, programs)),
        "S-D1" => Box::pin(supervisor_races::s_d1(cx, programs)),
        "S-S2" => Box::pin(supervisor_races::s_s2(cx, programs)),
        "S-C1" => Box::pin(fault_races::s_c1(cx, programs)),
        "S-C2" => Box::pin(fault_races::s_c2(cx, programs)),
        "S-C3" => Box::pin(fault_races::s_c3(cx, programs)),
        "S-P1" => Box::pin(supervisor_paths::s_p1(cx, programs)),
        "S-P2" => Box::pin(supervisor_paths::s_p2(cx, programs)),
        "S-P6" => Box::pin(supervisor_paths::s_p6(cx, programs)),
        "S-S3" => Box::pin(supervisor_paths::s_s3(cx, programs)),
        "S-S4" => Box::pin(supervisor_paths::s_s4(cx, programs)),
        "S-D2" => Box::pin(supervisor_paths::s_d2(cx, programs)),
        "S-P14" => Box::pin(supervisor_paths::s_p14(cx, programs)),
        "S-O1" => Box::pin(supervisor_paths::s_o1(cx, programs)),
        "S-G1" => Box::pin(supervisor_paths::s_g1(cx, programs)),
        "S-R1" => Box::pin(supervisor_paths::s_r1(cx, programs)),
        "S-W1" => Box::pin(supervisor_paths::s_w1(cx, programs)),
        "S-L1" => Box::pin(log_races::s_l1(cx, programs)),
        "S-L2" => Box::pin(log_races::s_l2(cx, programs)),
        "S-L3" => Box::pin(log_races::s_l3(cx, programs)),
        "S-L5" => Box::pin(log_races::s_l5(cx, programs)),
        "S-M12" => Box::pin(mcp_races::s_m12(cx, programs)),
        "C-sleep" => Box::pin(crate::conformance::sleep_ordering(cx)),
        "C-spawn" => Box::pin(crate::conformance::spawn_join(cx)),
        "C-tcp" => Box::pin(crate::conformance::tcp_echo(cx)),
        "C-child" => Box::pin(crate::conformance::child_prints_and_exits(cx, programs)),
        "C-signal" => Box::pin(crate::conformance::child_killed_by_signal(cx, programs)),
        "C-http" => Box::pin(crate::conformance::http_roundtrip(cx)),
        other => panic!("scenario table and dispatch disagree: no body for `{other}`"),
    }
}
