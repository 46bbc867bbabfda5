//! Generated operation sequences against the real session: a sequence of [`Op`]s (start, stop,
//! restart, print, crash, kill, subscribe, unsubscribe, search, clear, Ctrl-C) runs against
//! brum's session, supervisor, bus, log service and findings under a simulated runtime, next to
//! a reference [`Model`] in plain Rust that says what should be true. After every step the run
//! waits for the system to settle (on the runtime's clock, never real time) and checks every
//! oracle that applies (docs/design/simulation.md, "The state machine", lists them).
//! `sim/tests/state_machine.rs` generates the sequences with proptest, which shrinks a failure
//! to a minimal one.
//!
//! The processes run [`Step::Remote`]: they print a URL, then print, start a background child
//! and exit when the run tells them to, so a `print` or a `crash` is one operation.

use std::collections::{BTreeMap, BTreeSet};
use std::fmt;
use std::panic::{AssertUnwindSafe, catch_unwind};
use std::path::PathBuf;
use std::str::FromStr;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use brum_core::bus::{Backpressure, BusConfig, Envelope, Event, EventBus, Stream, SubscribeOptions, SubscriptionId};
use brum_core::findings::FindingsConfig;
use brum_core::logs::{Filter, LogService, LogStoreConfig, ProcessFilter, Query, TextQuery};
use brum_core::rt::{Clock, Exit, Runtime, Signal, Task, spawn};
use brum_core::script::{Command, RestartLimits, RestartPolicy, Script, SourceKind};
use brum_core::session::{Session, SessionConfig};
use brum_core::supervisor::{
    Leftovers, ProcState, ProcessInfo, Started, Supervisor, SupervisorConfig, SupervisorError,
};

use crate::procs::{Program, Remote, SimProcessTable, Step};
use crate::rt::{Noise, SimBackend, SimRuntime};
use crate::scenarios::{Violation, check_task_leaks, violation};

/// The scripts an operation names: `a` and `b` end on SIGTERM, `s` ignores it (a stop of `s`
/// escalates to SIGKILL after the grace); `b` restarts on failure (at most
/// [`MAX_RESTARTS`] times in a row), the others never.
pub const SCRIPTS: [&str; 3] = ["a", "b", "s"];

/// The searches a `search` operation runs (substring, case-insensitive): every line, some
/// lines, none.
pub const SEARCHES: [(&str, bool); 7] = [
    ("", false),
    ("out 1", false),
    ("a#", false),
    ("ERR", true),
    ("crash", false),
    ("listening", false),
    ("zzz", false),
];

/// Consecutive automatic restarts of `b`.
pub const MAX_RESTARTS: u32 = 1;

/// Filters a `search` combines with its text: none, by script name, by instance, by stream.
pub const SEARCH_FILTERS: usize = 4;

/// SIGTERM to SIGKILL in these runs.
pub const STOP_GRACE: Duration = Duration::from_millis(100);

/// How long a step may take to settle (virtual time) before the oracles run anyway and report
/// what is missing.
pub const SETTLE_MAX: Duration = Duration::from_secs(5);

/// After a step that stops or kills, the run also waits this long (virtual), so timers the
/// step left behind (a stop's grace timer) fire before the oracles run.
/// Longer than the grace and the longest restart backoff (200 ms).
pub const QUIET_AFTER_STOP: Duration = Duration::from_millis(250);

/// After any other step.
pub const QUIET: Duration = Duration::from_millis(3);

/// One generated operation. Script operands index [`SCRIPTS`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Op {
    /// `start a`: start the script (a second start of a running one returns it).
    Start(u8),
    /// `stop a`: stop the script's current instance and wait until it ended.
    Stop(u8),
    /// `restart a`: stop it if running, start a new instance.
    Restart(u8),
    /// `print a 3 out`: the running instance prints `n` lines on stdout (`err`: stderr).
    Print { script: u8, n: u8, err: bool },
    /// `crash a 2 5 3`: the running instance starts a background child that prints `bg` lines
    /// on stdout after a seeded delay of up to 5 ms (none if 0), prints a stack of `lines` lines
    /// on stderr and exits with `code` at once. The instance ends when the child is done.
    Crash { script: u8, code: u8, lines: u8, bg: u8 },
    /// `kill a`: SIGKILL to its process group, from outside brum.
    Kill(u8),
    /// `stop+crash a 2`: a stop and a crash (a two-line stack, then exit `code`) of the running
    /// instance at once, each after a seeded 0-2 ms: either may win. The stop ends it
    /// `stopped` (with SIGTERM's exit or, if the crash got there first, the code) unless the
    /// instance had already ended `failed`; a signal may cut the stack short (a prefix of it
    /// arrives). The run checks the outcome is one of these, then holds every consumer to it.
    StopCrash { script: u8, code: u8 },
    /// `subscribe`: a new lossless bus subscriber.
    Subscribe,
    /// `unsubscribe 1`: unsubscribe one of the live subscribers (index modulo their count).
    Unsubscribe(u8),
    /// `search 9`: run [`SEARCHES`]`[i % 7]` with filter `i / 7 % 4` (none, script `a`, `b`'s
    /// newest instance, stderr) through every page.
    Search(u8),
    /// `clear a`: clear the log store of the script's generations so far.
    Clear(u8),
    /// `ctrl-c`: the session's shutdown.
    CtrlC,
    /// `ctrl-c ctrl-c`: the shutdown, and a second Ctrl-C (SIGKILL to everything) a seeded
    /// 0-2 ms into it.
    DoubleCtrlC,
}

fn script_name(i: u8) -> &'static str {
    SCRIPTS[i as usize % SCRIPTS.len()]
}

impl fmt::Display for Op {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match *self {
            Op::Start(s) => write!(f, "start {}", script_name(s)),
            Op::Stop(s) => write!(f, "stop {}", script_name(s)),
            Op::Restart(s) => write!(f, "restart {}", script_name(s)),
            Op::Print { script, n, err } => {
                write!(f, "print {} {n} {}", script_name(script), if err { "err" } else { "out" })
            }
            Op::Crash { script, code, lines, bg } => write!(f, "crash {} {code} {lines} {bg}", script_name(script)),
            Op::Kill(s) => write!(f, "kill {}", script_name(s)),
            Op::StopCrash { script, code } => write!(f, "stop+crash {} {code}", script_name(script)),
            Op::Subscribe => f.write_str("subscribe"),
            Op::Unsubscribe(i) => write!(f, "unsubscribe {i}"),
            Op::Search(i) => write!(f, "search {i}"),
            Op::Clear(s) => write!(f, "clear {}", script_name(s)),
            Op::CtrlC => f.write_str("ctrl-c"),
            Op::DoubleCtrlC => f.write_str("ctrl-c ctrl-c"),
        }
    }
}

impl FromStr for Op {
    type Err = String;
    fn from_str(s: &str) -> Result<Op, String> {
        let words: Vec<&str> = s.split_whitespace().collect();
        let script = |w: Option<&&str>| -> Result<u8, String> {
            let w = w.ok_or_else(|| format!("`{s}`: which script?"))?;
            SCRIPTS.iter().position(|n| n == w).map(|i| i as u8).ok_or_else(|| format!("`{s}`: no script `{w}`"))
        };
        let num = |w: Option<&&str>| -> Result<u8, String> {
            w.ok_or_else(|| format!("`{s}`: a number is missing"))?.parse().map_err(|_| format!("`{s}`: not a number"))
        };
        Ok(match words.first().copied() {
            Some("start") => Op::Start(script(words.get(1))?),
            Some("stop") => Op::Stop(script(words.get(1))?),
            Some("restart") => Op::Restart(script(words.get(1))?),
            Some("print") => Op::Print {
                script: script(words.get(1))?,
                n: num(words.get(2))?,
                err: match words.get(3).copied() {
                    Some("err") => true,
                    Some("out") | None => false,
                    Some(o) => return Err(format!("`{s}`: `{o}` is not out or err")),
                },
            },
            Some("crash") => {
                let (code, lines, bg) = (num(words.get(2))?, num(words.get(3))?, num(words.get(4))?);
                Op::Crash { script: script(words.get(1))?, code, lines, bg }
            }
            Some("kill") => Op::Kill(script(words.get(1))?),
            Some("stop+crash") => Op::StopCrash { script: script(words.get(1))?, code: num(words.get(2))? },
            Some("subscribe") => Op::Subscribe,
            Some("unsubscribe") => Op::Unsubscribe(num(words.get(1))?),
            Some("search") => Op::Search(num(words.get(1))?),
            Some("clear") => Op::Clear(script(words.get(1))?),
            Some("ctrl-c") if words.get(1) == Some(&"ctrl-c") => Op::DoubleCtrlC,
            Some("ctrl-c") => Op::CtrlC,
            _ => return Err(format!("unknown operation `{s}`")),
        })
    }
}

/// How a step's log line starts its result when the operation had nothing to act on (the
/// script not running, no subscriber, ...).
pub const NO_OP: [&str; 6] =
    ["nothing running", "no subscriber", "not found", "no generation", "refused", "already shut down"];

/// A sequence in the form [`parse_ops`] reads: `start a, print a 3 out, restart a`.
pub fn format_ops(ops: &[Op]) -> String {
    ops.iter().map(Op::to_string).collect::<Vec<_>>().join(", ")
}

pub fn parse_ops(s: &str) -> Result<Vec<Op>, String> {
    s.split(',').map(str::trim).filter(|w| !w.is_empty()).map(str::parse).collect()
}

/// Why a sequence failed: the step (an index into the sequence; `None` for the Ctrl-C and
/// the checks at the end) and the oracle.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Failure {
    pub step: Option<usize>,
    pub violation: Violation,
    /// What each step did, one line each, up to the failure.
    pub log: Vec<String>,
}

impl fmt::Display for Failure {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.step {
            Some(s) => write!(f, "step {s}: {}", self.violation),
            None => write!(f, "at the end: {}", self.violation),
        }
    }
}

/// The command that replays `ops` with `seed` (the test `replay` in `sim/tests/state_machine.rs`).
pub fn replay_command(seed: u64, ops: &[Op], mutant: Option<&str>) -> String {
    let m = mutant.map(|m| format!(" BRUM_SM_MUTANT={m}")).unwrap_or_default();
    format!(
        "BRUM_SM_SEED={seed} BRUM_SM_OPS=\"{}\"{m} cargo test -p brum-sim --test state_machine replay -- --nocapture",
        format_ops(ops)
    )
}

/// Runs `ops` in a fresh turmoil simulation seeded with `seed` (turmoil's RNG, the runtime's
/// scheduling noise and the process table's jitter all come from it). Returns what each step
/// did.
pub fn run_turmoil(seed: u64, ops: &[Op]) -> Result<Vec<String>, Failure> {
    crate::harness::quiet_intentional_panics();
    let slot: Arc<Mutex<Option<Result<(), Failure>>>> = Arc::default();
    let log: Arc<Mutex<Vec<String>>> = Arc::default();
    let mut sim = turmoil::Builder::new()
        .rng_seed(seed)
        .epoch(std::time::UNIX_EPOCH + Duration::from_secs(crate::rt::SIM_EPOCH_SECS))
        .simulation_duration(Duration::from_secs(3600))
        .tick_duration(Duration::from_millis(1))
        .build();
    let (out, ops2, log2) = (slot.clone(), ops.to_vec(), log.clone());
    sim.client("brum", async move {
        let rt = SimRuntime::new(crate::rt::Turmoil::new(), seed, Noise::default());
        let r = run(rt, &ops2, log2).await;
        *out.lock().unwrap_or_else(|e| e.into_inner()) = Some(r);
        Ok(())
    });
    let ran = catch_unwind(AssertUnwindSafe(|| sim.run()));
    let result = slot.lock().unwrap_or_else(|e| e.into_inner()).take();
    let log = log.lock().unwrap_or_else(|e| e.into_inner()).clone();
    let step = if log.last().is_some_and(|l| l.starts_with("end")) { None } else { log.len().checked_sub(1) };
    let fail = |v: Violation| Err(Failure { step, violation: v, log: log.clone() });
    match (ran, result) {
        (Ok(Ok(())), Some(r)) => r.map(|()| log),
        (Ok(Err(e)), _) => fail(violation("I39 liveness", format!("simulation did not finish: {e}"))),
        (Err(p), _) => fail(violation("panic", panic_text(&*p))),
        (Ok(Ok(())), None) => fail(violation("harness", "client finished without a result")),
    }
}

fn panic_text(p: &(dyn std::any::Any + Send)) -> String {
    p.downcast_ref::<&str>()
        .map(|s| s.to_string())
        .or_else(|| p.downcast_ref::<String>().cloned())
        .unwrap_or_else(|| "non-string panic".to_string())
}

/// What a process's events should be, in order, per instance: the oracle compares these with
/// what a subscriber got.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Item {
    Started,
    Line(Stream, String),
    Exited(Exit),
}

impl fmt::Display for Item {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Item::Started => f.write_str("started"),
            Item::Line(s, t) => write!(f, "{}:{t:?}", if *s == Stream::Stdout { "out" } else { "err" }),
            Item::Exited(e) => write!(f, "exited({e})"),
        }
    }
}

/// One instance, as the model sees it.
#[derive(Debug, Clone)]
struct Inst {
    script: u8,
    pid: u32,
    /// `Running`, or the terminal state it must be in.
    state: ProcState,
    /// Every event it must have published, in order.
    items: Vec<Item>,
    /// Lines printed so far (numbers the next line).
    printed: u32,
    /// Consecutive automatic restarts that led to it.
    restarts: u32,
    /// The step that printed each of its lines, in the order of `items`.
    line_steps: Vec<usize>,
}

impl Inst {
    fn lines(&self) -> impl Iterator<Item = (Stream, &str)> {
        self.items.iter().filter_map(|i| match i {
            Item::Line(s, t) => Some((*s, t.as_str())),
            _ => None,
        })
    }
}

/// A test subscriber and what it must receive.
struct Sub {
    id: SubscriptionId,
    seen: Arc<Mutex<Vec<Arc<Envelope>>>>,
    /// Set as soon as `unsubscribe` returned (or the session shut down).
    gone: Arc<AtomicBool>,
    /// Invocations that started after `gone`.
    late: Arc<AtomicU64>,
    active: bool,
    /// Per instance, the events published while it was subscribed.
    expected: BTreeMap<u64, Vec<Item>>,
}

/// The reference model: plain state, updated by each operation with what must follow.
#[derive(Default)]
pub struct Model {
    insts: BTreeMap<u64, Inst>,
    current: [Option<u64>; 3],
    /// Per script: its generations up to this id were cleared (their later lines are dropped).
    cleared_through: [Option<u64>; 3],
    /// Lines that must have been dropped because their generation was cleared.
    dropped_after_clear: u64,
    subs: Vec<Sub>,
    shut_down: bool,
    /// An automatic restart that must come: (script, the instance that failed, the new one's
    /// restart count). The run adopts the new instance when it appears.
    restart_due: Option<(u8, u64, u32)>,
    /// The automatic restart adopted during the last settle.
    adopted: Option<u64>,
    /// The step being run (lines remember it: eviction must take earlier steps' lines first).
    step: usize,
    /// Lines the store must have accepted (all but those of cleared generations).
    accepted_lines: u64,
    /// Entries the clears removed.
    cleared_removed: u64,
}

impl Model {
    fn running(&self, script: u8) -> Option<u64> {
        self.current[script as usize].filter(|id| self.insts[id].state == ProcState::Running)
    }

    fn cleared(&self, id: u64) -> bool {
        let inst = &self.insts[&id];
        self.cleared_through[inst.script as usize].is_some_and(|t| id <= t)
    }

    /// Records that `id` publishes `item` now: on the recorder and every active subscriber.
    fn publish(&mut self, id: u64, item: Item) {
        for s in self.subs.iter_mut().filter(|s| s.active) {
            s.expected.entry(id).or_default().push(item.clone());
        }
        let inst = self.insts.get_mut(&id).expect("a known instance");
        if let Item::Line(..) = item {
            inst.line_steps.push(self.step);
            if self.cleared_through[inst.script as usize].is_some_and(|t| id <= t) {
                self.dropped_after_clear += 1;
            } else {
                self.accepted_lines += 1;
            }
        }
        inst.items.push(item);
    }

    /// `id` ends in `state` with `exit`; `b` failing schedules its restart within the limit.
    fn end(&mut self, id: u64, state: ProcState, exit: Exit) {
        let inst = self.insts.get_mut(&id).expect("a known instance");
        inst.state = state;
        let (script, restarts) = (inst.script, inst.restarts);
        if script_name(script) == "b"
            && matches!(state, ProcState::Failed { .. })
            && !self.shut_down
            && restarts < MAX_RESTARTS
        {
            self.restart_due = Some((script, id, restarts + 1));
        }
        self.publish(id, Item::Exited(exit));
    }

    /// A new instance of `script` runs as `id` with `pid`.
    fn started(&mut self, script: u8, id: u64, pid: u32, restarts: u32) {
        let inst = Inst {
            script,
            pid,
            state: ProcState::Running,
            items: Vec::new(),
            printed: 0,
            restarts,
            line_steps: Vec::new(),
        };
        self.insts.insert(id, inst);
        self.current[script as usize] = Some(id);
        self.publish(id, Item::Started);
        self.publish(id, Item::Line(Stream::Stdout, announcement(script)));
    }

    /// The exit a stop gives script `s`'s running instance.
    fn stop_exit(script: u8) -> Exit {
        if script_name(script) == "s" { Exit::Signaled(Signal::Kill.number()) } else { Exit::Signaled(15) }
    }

    /// What the store must hold, per instance, in order.
    /// (stream, text, the step that printed it); the oldest may have been evicted.
    fn stored(&self) -> BTreeMap<u64, Vec<(Stream, String, usize)>> {
        self.insts
            .iter()
            .filter(|(id, _)| !self.cleared(**id))
            .map(|(id, i)| {
                let lines = i.lines().zip(&i.line_steps).map(|((s, t), step)| (s, t.to_string(), *step));
                (*id, lines.collect::<Vec<_>>())
            })
            .filter(|(_, l)| !l.is_empty())
            .collect()
    }
}

fn script(i: u8) -> Script {
    Script {
        name: script_name(i).to_string(),
        source: SourceKind::BrumToml,
        file: PathBuf::from(".brum.toml"),
        command: Command::Exec { program: format!("remote-{}", script_name(i)), args: Vec::new() },
        cwd: PathBuf::from("."),
        env: Vec::new(),
        restart: if script_name(i) == "b" { RestartPolicy::OnFailure } else { RestartPolicy::Never },
        detail: None,
    }
}

/// The line each process prints first: a URL the findings store lists while it runs.
fn announcement(script: u8) -> String {
    format!("listening on http://localhost:{}/", 3000 + u16::from(script))
}

/// The programs the scripts run.
pub fn register_programs(t: &SimProcessTable) {
    for (i, name) in SCRIPTS.iter().enumerate() {
        let p = Program::new(vec![Step::Out(announcement(i as u8)), Step::Remote]);
        t.register(format!("remote-{name}"), if *name == "s" { p.ignoring_term() } else { p });
    }
}

fn session_config() -> SessionConfig {
    SessionConfig {
        bus: BusConfig {
            workers: 4,
            mailbox_capacity: 64,
            backpressure: Backpressure::Degrade,
            block_timeout: Duration::from_millis(100),
            drain_timeout: Duration::from_secs(5),
            batch: 8,
        },
        supervisor: SupervisorConfig {
            stop_grace: STOP_GRACE,
            restart: RestartLimits {
                max_restarts: MAX_RESTARTS,
                backoff: Duration::from_millis(20),
                backoff_max: Duration::from_millis(200),
            },
            max_line_bytes: 4096,
            batch_lines: brum_core::lines::BATCH_LINES_DEFAULT,
            force_colour: false,
            leftovers: Leftovers::Stop,
        },
        // The smallest budget: a long sequence fills it, so eviction is exercised too.
        logs: Some((LogStoreConfig { budget_bytes: brum_core::logs::LOG_STORE_BYTES_MIN, max_line_bytes: 4096 }, None)),
        findings: FindingsConfig { errors_max: 16, urls_max: 16 },
    }
}

type Seen = Arc<Mutex<Vec<Arc<Envelope>>>>;

fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|e| e.into_inner())
}

/// Per instance, the lifecycle and line events in `seen`, in order; and per instance, the
/// other events (detections) that came after its exit.
fn items_of(seen: &[Arc<Envelope>]) -> (BTreeMap<u64, Vec<Item>>, BTreeMap<u64, Vec<String>>) {
    let mut per: BTreeMap<u64, Vec<Item>> = BTreeMap::new();
    let mut after_exit: BTreeMap<u64, Vec<String>> = BTreeMap::new();
    for e in seen {
        match &e.event {
            Event::ProcessStarted { process, .. } => per.entry(process.id.0).or_default().push(Item::Started),
            Event::LogLines { process, stream, lines } => per
                .entry(process.id.0)
                .or_default()
                .extend(lines.iter().map(|l| Item::Line(*stream, l.text.to_string()))),
            Event::ProcessExited { process, exit } => per.entry(process.id.0).or_default().push(Item::Exited(*exit)),
            other => {
                if let Some(p) = other.process()
                    && per.get(&p.id.0).is_some_and(|v| v.iter().any(|i| matches!(i, Item::Exited(_))))
                {
                    after_exit.entry(p.id.0).or_default().push(other.kind().name().to_string());
                }
            }
        }
    }
    (per, after_exit)
}

/// Compares what subscriber `who` got with what it must have got, per instance: one
/// `ProcessStarted` first, one `ProcessExited` (the expected exit) last, and on each stream the
/// expected lines exactly once, in order (lines of different streams, or of two processes
/// sharing a pipe, may interleave: the model fixes only each stream's order, and a step writes
/// one stream from one process at a time).
fn compare_items(who: &str, got: &BTreeMap<u64, Vec<Item>>, want: &BTreeMap<u64, Vec<Item>>) -> Result<(), Violation> {
    let ids: BTreeSet<u64> = got.keys().chain(want.keys()).copied().collect();
    let stream = |v: &[Item], s: Stream| -> Vec<String> {
        v.iter()
            .filter_map(|i| match i {
                Item::Line(st, t) if *st == s => Some(t.clone()),
                _ => None,
            })
            .collect()
    };
    let exits = |v: &[Item]| -> Vec<Exit> {
        v.iter()
            .filter_map(|i| match i {
                Item::Exited(e) => Some(*e),
                _ => None,
            })
            .collect()
    };
    for id in ids {
        let g = got.get(&id).map(Vec::as_slice).unwrap_or_default();
        let w = want.get(&id).map(Vec::as_slice).unwrap_or_default();
        let render = |v: &[Item]| v.iter().map(Item::to_string).collect::<Vec<_>>().join(" ");
        let detail = || format!("{who}, instance #{id}: got [{}], want [{}]", render(g), render(w));
        crate::ensure!(
            want.contains_key(&id) || !got.contains_key(&id),
            "I19 restart policy and limit: no instance the model does not expect",
            "{}",
            detail()
        );
        let starts = g.iter().filter(|i| **i == Item::Started).count();
        let want_starts = w.iter().filter(|i| **i == Item::Started).count();
        let (ge, we) = (exits(g), exits(w));
        crate::ensure!(
            starts == want_starts && ge.len() <= 1,
            "I14 one ProcessStarted and one ProcessExited per instance",
            "{}",
            detail()
        );
        crate::ensure!(
            want_starts == 0 || g.first() == Some(&Item::Started),
            "I14 ProcessStarted first",
            "{}",
            detail()
        );
        crate::ensure!(
            ge.is_empty() || matches!(g.last(), Some(Item::Exited(_))),
            "I14/I15 no line after its instance's exit",
            "{}",
            detail()
        );
        crate::ensure!(ge == we, "I12 each instance ends as the model expects", "{}", detail());
        for s in [Stream::Stdout, Stream::Stderr] {
            crate::ensure!(
                stream(g, s) == stream(w, s),
                "I2/I15 every line delivered exactly once, in order",
                "{}",
                detail()
            );
        }
    }
    Ok(())
}

/// Whether `to` can follow `from` (status snapshots coalesce, so this is reachability).
fn reachable(from: ProcState, to: ProcState) -> bool {
    use ProcState::*;
    let legal = matches!(
        (from, to),
        (Pending, Running)
            | (Pending, Failed { .. })
            | (Running, Stopping)
            | (Running, Exited)
            | (Running, Failed { .. })
            | (Stopping, Stopped { .. })
    ) || from == to;
    legal || matches!((from, to), (Pending, Stopping) | (Pending | Running, Stopped { .. }) | (Pending, Exited))
}

/// The system under test, and the handles that outlive the session.
struct World<R: Runtime> {
    rt: R,
    table: SimProcessTable,
    session: Option<Session<R>>,
    bus: EventBus<R>,
    sup: Supervisor<R>,
    logs: LogService<R>,
    all: Seen,
    transitions: Arc<Mutex<BTreeMap<u64, Vec<ProcState>>>>,
    watcher: Option<Task<()>>,
    /// Subscribers on the bus that are not the test's (the recorder, findings, log store).
    base_subscribers: usize,
    next_sub: u32,
}

/// Runs `ops` on `rt` (inside its simulation); `log` gets one line per step.
pub async fn run<B: SimBackend + Clone>(
    rt: SimRuntime<B>,
    ops: &[Op],
    log: Arc<Mutex<Vec<String>>>,
) -> Result<(), Failure> {
    let baseline = rt.metrics().gauge_total("tasks.live");
    let table = rt.processes().clone();
    register_programs(&table);
    let fail = |step: Option<usize>, v: Violation| Failure { step, violation: v, log: lock(&log).clone() };
    let session =
        Session::new(rt.clone(), session_config()).map_err(|_| fail(None, violation("setup", "bus closed")))?;
    let bus = session.bus().clone();
    let all: Seen = Arc::default();
    let a = all.clone();
    bus.subscribe(SubscribeOptions::named("recorder").lossless().capacity(256), move |e| lock(&a).push(e.clone()))
        .map_err(|_| fail(None, violation("setup", "bus closed")))?;
    let transitions: Arc<Mutex<BTreeMap<u64, Vec<ProcState>>>> = Arc::default();
    let sup = session.supervisor().clone();
    let watcher = {
        let (mut w, seen) = (sup.clone(), transitions.clone());
        spawn(&rt, "sm.watcher", async move {
            loop {
                for i in w.status().iter() {
                    let mut s = lock(&seen);
                    let v = s.entry(i.id).or_default();
                    if v.last() != Some(&i.state) {
                        v.push(i.state);
                    }
                }
                if !w.changed().await {
                    break;
                }
            }
        })
    };
    let logs = session.logs().expect("the session has a log service").clone();
    let base_subscribers = bus.subscriber_count();
    let mut world = World {
        rt: rt.clone(),
        table,
        session: Some(session),
        bus,
        sup,
        logs,
        all,
        transitions,
        watcher: Some(watcher),
        base_subscribers,
        next_sub: 0,
    };
    let mut model = Model::default();
    for (step, op) in ops.iter().enumerate() {
        model.step = step;
        let line = apply(&mut world, &mut model, *op).await.map_err(|v| {
            lock(&log).push(format!("{step}: {op} -> FAIL"));
            fail(Some(step), v)
        })?;
        let t = world.rt.now().as_millis();
        lock(&log).push(format!("{step}: {op} -> {line} [t={t}ms]"));
        let stops = matches!(
            op,
            Op::Stop(_)
                | Op::Restart(_)
                | Op::Kill(_)
                | Op::Crash { .. }
                | Op::StopCrash { .. }
                | Op::CtrlC
                | Op::DoubleCtrlC
        );
        let settled = settle(&world, &mut model, stops).await;
        if let Some(note) = &settled.note
            && let Some(last) = lock(&log).last_mut()
        {
            last.push_str(note);
        }
        check_step(&world, &model).map_err(|v| fail(Some(step), v))?;
        if settled.timed_out {
            return Err(fail(Some(step), settle_timeout()));
        }
    }
    // The end: Ctrl-C if the sequence did not, then nothing may be left.
    let end = None;
    if !model.shut_down {
        model.step = ops.len();
        let line = apply(&mut world, &mut model, Op::CtrlC).await.map_err(|v| fail(end, v))?;
        let t = world.rt.now().as_millis();
        lock(&log).push(format!("end: ctrl-c -> {line} [t={t}ms]"));
        let settled = settle(&world, &mut model, true).await;
        check_step(&world, &model).map_err(|v| fail(end, v))?;
        if settled.timed_out {
            return Err(fail(end, settle_timeout()));
        }
    }
    if let Some(w) = world.watcher.take() {
        w.join().await.map_err(|e| fail(end, violation("watcher", e.to_string())))?;
    }
    // What every run of this sequence and seed must reproduce: every event with its time.
    let events: String = lock(&world.all).iter().map(|e| format!("{e:?}\n")).collect();
    let n = lock(&world.all).len();
    lock(&log).push(format!("events: {n}, hash {:016x}", crate::trace::fnv1a(events.as_bytes())));
    let rt = world.rt.clone();
    drop(world);
    check_task_leaks(rt.metrics(), baseline).map_err(|v| fail(end, v))
}

/// Performs `op` on the system and the model; checks what the call itself returned. Returns a
/// line describing what happened.
async fn apply<R: Runtime>(w: &mut World<R>, m: &mut Model, op: Op) -> Result<String, Violation> {
    match op {
        Op::Start(s) => {
            let res = w.sup.start(script(s), false).await;
            if m.shut_down {
                crate::ensure!(
                    matches!(res, Err(SupervisorError::ShutDown)),
                    "I36 start after shutdown is refused",
                    "{res:?}"
                );
                return Ok("refused".into());
            }
            match (m.running(s), res) {
                (Some(id), Ok(Started::AlreadyRunning(p))) if p.id == id => Ok(format!("already #{id}")),
                (None, Ok(Started::New(p))) => {
                    let id = p.id.0;
                    crate::ensure!(!m.insts.contains_key(&id), "I10 unique process ids", "#{id} reused");
                    let pid = w.sup.status().iter().find(|i| i.id == id).and_then(|i| i.pid);
                    let Some(pid) = pid else {
                        return Err(violation("I13 status shows a start at once", format!("#{id} has no pid")));
                    };
                    m.started(s, id, pid, 0);
                    Ok(format!("new #{id}"))
                }
                (running, res) => Err(violation(
                    "I18 one instance per script",
                    format!("start {}: running {running:?}, got {res:?}", script_name(s)),
                )),
            }
        }
        Op::Stop(s) => {
            let res = w.sup.stop(brum_core::supervisor::Target::Script(script_name(s).into())).await;
            if m.shut_down {
                crate::ensure!(
                    matches!(res, Err(SupervisorError::ShutDown)),
                    "I36 stop after shutdown is refused",
                    "{res:?}"
                );
                return Ok("refused".into());
            }
            let Some(id) = m.current[s as usize] else {
                crate::ensure!(
                    matches!(res, Err(SupervisorError::NotFound { .. })),
                    "stop of a script never started",
                    "{res:?}"
                );
                return Ok("not found".into());
            };
            if m.insts[&id].state == ProcState::Running {
                let exit = Model::stop_exit(s);
                m.end(id, ProcState::Stopped { exit: Some(exit) }, exit);
            }
            let want = m.insts[&id].state;
            let got = res.as_ref().map(|i| (i.id, i.state));
            crate::ensure!(
                got == Ok((id, want)),
                "I12 a stop ends the instance stopped (terminal states absorbing)",
                "stop {}: got {res:?}, want #{id} {want}",
                script_name(s)
            );
            Ok(format!("#{id} {want}"))
        }
        Op::Restart(s) => {
            let res = w.sup.restart(brum_core::supervisor::Target::Script(script_name(s).into())).await;
            if m.shut_down {
                crate::ensure!(
                    matches!(res, Err(SupervisorError::ShutDown)),
                    "I36 restart after shutdown is refused",
                    "{res:?}"
                );
                return Ok("refused".into());
            }
            let Some(old) = m.current[s as usize] else {
                crate::ensure!(
                    matches!(res, Err(SupervisorError::NotFound { .. })),
                    "restart of a script never started",
                    "{res:?}"
                );
                return Ok("not found".into());
            };
            if m.insts[&old].state == ProcState::Running {
                let exit = Model::stop_exit(s);
                m.end(old, ProcState::Stopped { exit: Some(exit) }, exit);
            }
            let Ok(Started::New(p)) = res else {
                return Err(violation("restart starts a new instance", format!("{res:?}")));
            };
            let id = p.id.0;
            crate::ensure!(!m.insts.contains_key(&id), "I10 unique process ids", "#{id} reused");
            let pid = w.sup.status().iter().find(|i| i.id == id).and_then(|i| i.pid);
            let Some(pid) = pid else {
                return Err(violation("I13 status shows a start at once", format!("#{id} has no pid")));
            };
            m.started(s, id, pid, 0);
            Ok(format!("#{old} -> #{id}"))
        }
        Op::Print { script: s, n, err } => {
            let Some(id) = m.running(s).filter(|_| !m.shut_down) else { return Ok("nothing running".into()) };
            let inst = m.insts.get_mut(&id).expect("running");
            let (stream, word) = if err { (Stream::Stderr, "err") } else { (Stream::Stdout, "out") };
            let lines: Vec<String> = (0..n)
                .map(|_| {
                    inst.printed += 1;
                    format!("{}#{id} {word} {}", script_name(s), inst.printed)
                })
                .collect();
            let pid = inst.pid;
            for l in &lines {
                m.publish(id, Item::Line(stream, l.clone()));
            }
            let cmd = if err { Remote::Err(lines) } else { Remote::Out(lines) };
            crate::ensure!(w.table.remote(pid, cmd), "I11 a running instance's process is live", "#{id} pid {pid}");
            Ok(format!("#{id} printed {n}"))
        }
        Op::Crash { script: s, code, lines, bg } => {
            let Some(id) = m.running(s).filter(|_| !m.shut_down) else { return Ok("nothing running".into()) };
            let code = i32::from(code.max(1));
            let pid = m.insts[&id].pid;
            let name = script_name(s);
            let stack: Vec<String> =
                (1..=lines.max(1)).map(|k| format!("{name}#{id} crash {code} at frame {k}")).collect();
            let background: Vec<String> = (1..=bg).map(|k| format!("{name}#{id} bg {k}")).collect();
            for l in &background {
                m.publish(id, Item::Line(Stream::Stdout, l.clone()));
            }
            for l in &stack {
                m.publish(id, Item::Line(Stream::Stderr, l.clone()));
            }
            m.end(id, ProcState::Failed { exit: Some(Exit::Code(code)) }, Exit::Code(code));
            let mut sent = true;
            if bg > 0 {
                let mut steps = vec![Step::Jitter(Duration::from_millis(5))];
                steps.extend(background.into_iter().map(Step::Out));
                steps.push(Step::Exit(0));
                sent &= w.table.remote(pid, Remote::Spawn(Program::new(steps)));
            }
            sent &= w.table.remote(pid, Remote::Err(stack)) && w.table.remote(pid, Remote::Exit(code));
            crate::ensure!(sent, "I11 a running instance's process is live", "#{id} pid {pid}");
            Ok(format!("#{id} prints {} lines, {bg} in the background, exits {code}", lines.max(1)))
        }
        Op::StopCrash { script: s, code } => stop_crash(w, m, s, code).await,
        Op::Kill(s) => {
            let Some(id) = m.running(s).filter(|_| !m.shut_down) else { return Ok("nothing running".into()) };
            let pid = m.insts[&id].pid;
            let exit = Exit::Signaled(Signal::Kill.number());
            m.end(id, ProcState::Failed { exit: Some(exit) }, exit);
            let sent = w.table.signal_group(pid, Signal::Kill);
            crate::ensure!(sent.is_ok(), "I11 a running instance's process is live", "#{id} pid {pid}: {sent:?}");
            Ok(format!("#{id} SIGKILL"))
        }
        Op::Subscribe => {
            let seen: Seen = Arc::default();
            let gone = Arc::new(AtomicBool::new(false));
            let late = Arc::new(AtomicU64::new(0));
            let (s2, g2, l2) = (seen.clone(), gone.clone(), late.clone());
            w.next_sub += 1;
            let res = w.bus.subscribe(
                SubscribeOptions::named(format!("sub{}", w.next_sub)).lossless().capacity(64),
                move |e| {
                    if g2.load(Ordering::SeqCst) {
                        l2.fetch_add(1, Ordering::SeqCst);
                    }
                    lock(&s2).push(e.clone());
                },
            );
            if m.shut_down {
                crate::ensure!(res.is_err(), "I8 subscribe after shutdown is refused", "{res:?}");
                return Ok("refused".into());
            }
            let id = res.map_err(|_| violation("subscribe", "the bus refused a subscriber while open"))?;
            m.subs.push(Sub { id, seen, gone, late, active: true, expected: BTreeMap::new() });
            Ok(format!("sub #{}", id.0))
        }
        Op::Unsubscribe(i) => {
            let active: Vec<usize> = (0..m.subs.len()).filter(|k| m.subs[*k].active).collect();
            if active.is_empty() || m.shut_down {
                return Ok("no subscriber".into());
            }
            let sub = &mut m.subs[active[i as usize % active.len()]];
            let removed = w.bus.unsubscribe(sub.id).await;
            // Nothing runs between the return and this store (one task, no await).
            sub.gone.store(true, Ordering::SeqCst);
            sub.active = false;
            crate::ensure!(removed, "I4 unsubscribe of a live subscriber", "sub #{} was not found", sub.id.0);
            Ok(format!("sub #{}", sub.id.0))
        }
        Op::Search(i) => {
            let (text, ci) = SEARCHES[i as usize % SEARCHES.len()];
            // The filter: none, script a's instances, b's newest instance, stderr only.
            let filter = match i as usize / SEARCHES.len() % SEARCH_FILTERS {
                0 => Filter::default(),
                1 => Filter { process: Some(ProcessFilter::Name("a".into())), ..Filter::default() },
                2 => {
                    let newest_b = m.insts.iter().rev().find(|(_, i)| script_name(i.script) == "b").map(|(id, _)| *id);
                    Filter { process: Some(ProcessFilter::Id(newest_b.unwrap_or(0))), ..Filter::default() }
                }
                _ => Filter { stream: Some(Stream::Stderr), ..Filter::default() },
            };
            let n = check_search(w, text, ci, &filter)?;
            let label = match (&filter.process, filter.stream) {
                (Some(ProcessFilter::Name(n)), _) => format!(" in {n}"),
                (Some(ProcessFilter::Id(id)), _) => format!(" in #{id}"),
                (None, Some(_)) => " on stderr".to_string(),
                (None, None) => String::new(),
            };
            Ok(format!("{text:?}{label} -> {n}"))
        }
        Op::Clear(s) => {
            let ids: Vec<u64> = m.insts.iter().filter(|(_, i)| i.script == s).map(|(id, _)| *id).collect();
            let Some(&through) = ids.last() else { return Ok("no generation".into()) };
            let want: u64 = ids.iter().filter(|id| !m.cleared(**id)).map(|id| m.insts[id].lines().count() as u64).sum();
            let held = w
                .logs
                .entries()
                .iter()
                .filter(|e| *e.process.name == *script_name(s) && e.process.id.0 <= through)
                .count() as u64;
            let evicted = w.logs.stats().evicted_entries;
            let got = w.logs.clear_generations(script_name(s), through);
            m.cleared_through[s as usize] = Some(through);
            m.cleared_removed += got;
            crate::ensure!(
                got == held && (got == want || evicted > 0),
                "I25 clear removes exactly the generations' lines",
                "clear {} through #{through}: removed {got}, the store held {held}, the model {want} ({evicted} evicted)",
                script_name(s)
            );
            Ok(format!("through #{through}: {got} removed"))
        }
        Op::CtrlC => shutdown(w, m, false).await,
        Op::DoubleCtrlC => shutdown(w, m, true).await,
    }
}

/// [`Op::CtrlC`], and with `second` [`Op::DoubleCtrlC`]: the session's shutdown, and a second
/// Ctrl-C (`Supervisor::kill_all`) a seeded 0-2 ms into it.
async fn shutdown<R: Runtime>(w: &mut World<R>, m: &mut Model, second: bool) -> Result<String, Violation> {
    let Some(session) = w.session.take() else { return Ok("already shut down".into()) };
    let running: Vec<u64> = m.insts.iter().filter(|(_, i)| i.state == ProcState::Running).map(|(id, _)| *id).collect();
    m.shut_down = true;
    let t0 = w.rt.now();
    let (report, killed) = if second {
        let task = spawn(&w.rt, "sm.shutdown", session.run(std::future::ready(())));
        w.rt.sleep(Duration::from_millis(w.rt.below(3))).await;
        let killed = w.sup.kill_all().await;
        (task.join().await.map_err(|e| violation("shutdown", e.to_string()))?, Some(killed))
    } else {
        (session.run(std::future::ready(())).await, None)
    };
    let took = w.rt.now().saturating_since(t0);
    // A stop ends `a` and `b` on SIGTERM and `s` on SIGKILL after the grace; a second Ctrl-C
    // may SIGKILL any of them first.
    for id in running {
        let script = m.insts[&id].script;
        let got = report.processes.iter().find(|i| i.id == id).map(|i| i.state);
        let stop = Model::stop_exit(script);
        let kill = Exit::Signaled(Signal::Kill.number());
        let exit = match got {
            Some(ProcState::Stopped { exit: Some(e) }) if e == stop || (second && e == kill) => e,
            other => {
                return Err(violation(
                    "I12/I39 Ctrl-C stops every running instance",
                    format!("#{id} ({}) ended {other:?}", script_name(script)),
                ));
            }
        };
        m.end(id, ProcState::Stopped { exit: Some(exit) }, exit);
    }
    for s in m.subs.iter_mut() {
        s.gone.store(true, Ordering::SeqCst);
        s.active = false;
    }
    crate::ensure!(
        report.bus.undelivered.is_empty() && !report.bus.timed_out,
        "I8 shutdown drains every accepted event",
        "{}",
        report.bus
    );
    check_status(&report.processes, m, "shutdown report")?;
    if let Some(Ok(_)) = &killed {
        // The second Ctrl-C reached the supervisor while it was stopping: nothing waits for
        // the grace after it.
        crate::ensure!(
            took < STOP_GRACE,
            "I39 a second Ctrl-C cuts the grace short",
            "shutdown took {} ms (grace {} ms)",
            took.as_millis(),
            STOP_GRACE.as_millis()
        );
    }
    let live = w.table.live_pids();
    crate::ensure!(live.is_empty(), "I11/I39 no live process after Ctrl-C", "still running: {live:?}");
    let late = w.bus.publish(Event::ScriptsChanged { added: vec![], removed: vec![], changed: vec![] }).await;
    crate::ensure!(late.is_err(), "I8 publish after shutdown is refused", "{late:?}");
    let evicted = w.logs.stats().evicted_entries;
    let second = match killed {
        Some(Ok(k)) => format!("; the second Ctrl-C killed {}", k.len()),
        Some(Err(_)) => "; the second Ctrl-C came after the end".to_string(),
        None => String::new(),
    };
    Ok(format!(
        "{} instances ended in {} ms{second}; {}; evicted={evicted}",
        report.processes.len(),
        took.as_millis(),
        report.bus
    ))
}

/// [`Op::StopCrash`]: runs the race, checks its outcome is a legal one, and makes it the
/// model's.
async fn stop_crash<R: Runtime>(w: &mut World<R>, m: &mut Model, s: u8, code: u8) -> Result<String, Violation> {
    let Some(id) = m.running(s).filter(|_| !m.shut_down) else { return Ok("nothing running".into()) };
    let code = i32::from(code.max(1));
    let pid = m.insts[&id].pid;
    let name = script_name(s);
    let stack: Vec<String> = (1..=2).map(|k| format!("{name}#{id} crash {code} at frame {k}")).collect();
    let crash = {
        let (table, rt, stack) = (w.table.clone(), w.rt.clone(), stack.clone());
        let delay = Duration::from_millis(w.rt.below(3));
        spawn(&w.rt, "sm.crash", async move {
            rt.sleep(delay).await;
            // The stop may have ended it already: then there is nobody to tell.
            let _ = table.remote(pid, Remote::Err(stack)) && table.remote(pid, Remote::Exit(code));
        })
    };
    w.rt.sleep(Duration::from_millis(w.rt.below(3))).await;
    let res = w.sup.stop(brum_core::supervisor::Target::Script(name.into())).await;
    crash.join().await.map_err(|e| violation("stop+crash", e.to_string()))?;
    let info = res.map_err(|e| violation("I12 a stop of a running instance answers", e.to_string()))?;
    // What the recorder saw of the stack (ProcessExited follows the last line; wait for it).
    let deadline = w.rt.now() + SETTLE_MAX;
    let exited = loop {
        let exit = lock(&w.all).iter().find_map(|e| match &e.event {
            Event::ProcessExited { process, exit } if process.id == id => Some(*exit),
            _ => None,
        });
        if exit.is_some() || w.rt.now() >= deadline {
            break exit;
        }
        w.rt.sleep(Duration::from_millis(1)).await;
    };
    let (got, _) = items_of(&lock(&w.all));
    let printed: Vec<String> = got
        .get(&id)
        .map(|v| {
            v.iter()
                .filter_map(|i| match i {
                    Item::Line(Stream::Stderr, t) if t.contains(" crash ") => Some(t.clone()),
                    _ => None,
                })
                .collect()
        })
        .unwrap_or_default();
    let prefix = printed.len() <= stack.len() && stack[..printed.len()] == printed[..];
    let full = printed.len() == stack.len();
    let signal = Model::stop_exit(s);
    let legal = match info.state {
        ProcState::Stopped { exit: Some(e) } if e == signal => prefix,
        ProcState::Stopped { exit: Some(Exit::Code(c)) } | ProcState::Failed { exit: Some(Exit::Code(c)) } => {
            c == code && full
        }
        _ => false,
    };
    crate::ensure!(
        legal && info.id == id,
        "I12 a stop racing a crash ends one legal way",
        "#{id}: stop answered {} with {} of {} stack lines {printed:?}",
        info.state,
        printed.len(),
        stack.len()
    );
    let exit = match info.state {
        ProcState::Stopped { exit: Some(e) } | ProcState::Failed { exit: Some(e) } => e,
        _ => unreachable!("checked above"),
    };
    crate::ensure!(
        exited == Some(exit),
        "I12 one terminal state, matching the exit event",
        "#{id}: stop answered {}, ProcessExited said {exited:?}",
        info.state
    );
    for l in printed {
        m.publish(id, Item::Line(Stream::Stderr, l));
    }
    m.end(id, info.state, exit);
    // A stop of an instance that already failed cancels its automatic restart (stop means
    // stop); the stop here always comes within the restart's backoff.
    if matches!(info.state, ProcState::Failed { .. }) {
        m.restart_due = None;
    }
    let winner = match info.state {
        ProcState::Failed { .. } => "the crash ended it before the stop came",
        ProcState::Stopped { exit: Some(Exit::Code(_)) } => "the stop came first, the crash ended it",
        _ => "the stop's signal ended it",
    };
    Ok(format!("#{id} {} ({winner})", info.state))
}

/// Pages through a search and compares it with a scan of the store.
fn check_search<R: Runtime>(w: &World<R>, text: &str, ci: bool, filter: &Filter) -> Result<usize, Violation> {
    let matches =
        |plain: &str| if ci { plain.to_lowercase().contains(&text.to_lowercase()) } else { plain.contains(text) };
    let selected = |e: &brum_core::logs::LogEntry| {
        filter.process.as_ref().is_none_or(|p| p.matches(&e.process)) && filter.stream.is_none_or(|s| s == e.stream)
    };
    let mut want: Vec<u64> =
        w.logs.entries().iter().filter(|e| selected(e) && matches(&e.plain())).map(|e| e.id.0).collect();
    want.reverse();
    let mut got = Vec::new();
    let mut cursor = None;
    loop {
        let q = Query {
            text: TextQuery::Substring { text: text.to_string(), case_insensitive: ci },
            filter: filter.clone(),
            limit: 5,
            cursor,
        };
        let page = w.logs.search(&q).map_err(|e| violation("search", e.to_string()))?;
        got.extend(page.entries.iter().map(|e| e.id.0));
        crate::ensure!(got.len() <= want.len() + 5, "I24 search equals a scan of the store", "search never ends");
        match page.next_cursor {
            Some(c) => cursor = Some(c),
            None => break,
        }
    }
    crate::ensure!(
        got == want,
        "I24 search equals a scan of the store",
        "{text:?} {filter:?}: search {got:?}, scan {want:?}"
    );
    let q = Query {
        text: TextQuery::Substring { text: text.to_string(), case_insensitive: ci },
        filter: filter.clone(),
        limit: 5,
        cursor: None,
    };
    let count = w.logs.count(&q).map_err(|e| violation("count", e.to_string()))?;
    crate::ensure!(
        count as usize == want.len(),
        "I24 count equals a scan",
        "{text:?}: count {count}, scan {}",
        want.len()
    );
    Ok(got.len())
}

/// Supervisor status (or a shutdown report) against the model.
fn check_status(infos: &[ProcessInfo], m: &Model, what: &str) -> Result<(), Violation> {
    let ids: Vec<u64> = infos.iter().map(|i| i.id).collect();
    let want_ids: Vec<u64> = m.insts.keys().copied().collect();
    let unexpected: Vec<String> =
        infos.iter().filter(|i| !m.insts.contains_key(&i.id)).map(|i| format!("#{} {}", i.id, i.script)).collect();
    crate::ensure!(
        unexpected.is_empty(),
        "I19 restart policy and limit: no instance the model does not expect",
        "{what}: {unexpected:?} (model {want_ids:?})"
    );
    crate::ensure!(ids == want_ids, "I13 one status entry per instance", "{what}: {ids:?}, model {want_ids:?}");
    for i in infos {
        let want = m.insts[&i.id].state;
        let restarts = m.insts[&i.id].restarts;
        crate::ensure!(
            i.restarts == restarts,
            "I19 restart count",
            "{what}: #{} has {} restarts, want {restarts}",
            i.id,
            i.restarts
        );
        crate::ensure!(
            i.state == want,
            "I12/I17 each instance in the state the model expects",
            "{what}: #{} ({}) is {}, want {want}",
            i.id,
            i.script,
            i.state
        );
        crate::ensure!(
            i.ended_ms.is_some() == i.state.is_terminal(),
            "I12/I13 ended_ms iff terminal",
            "{what}: #{} is {} with ended_ms {:?}",
            i.id,
            i.state,
            i.ended_ms
        );
    }
    Ok(())
}

/// Whether everything the model expects has happened (not whether it is right: the oracles
/// say that). Things the model does not expect never make this wait.
fn arrived<R: Runtime>(w: &World<R>, m: &Model) -> bool {
    let want: usize = m.insts.values().map(|i| i.items.len()).sum();
    if lock(&w.all).iter().map(|e| count_items(e)).sum::<usize>() < want {
        return false;
    }
    for s in m.subs.iter().filter(|s| s.active) {
        let want: usize = s.expected.values().map(Vec::len).sum();
        if lock(&s.seen).iter().map(|e| count_items(e)).sum::<usize>() < want {
            return false;
        }
    }
    if w.logs.stats().appended < m.accepted_lines || w.logs.dropped_after_clear() < m.dropped_after_clear {
        return false;
    }
    if w.bus.stats().iter().any(|(_, s)| s.queued > 0) {
        return false;
    }
    let status = w.sup.status();
    m.insts.iter().all(|(id, i)| {
        !i.state.is_terminal() || status.iter().find(|s| s.id == *id).is_some_and(|s| s.state.is_terminal())
    })
}

fn count_items(e: &Envelope) -> usize {
    match &e.event {
        Event::ProcessStarted { .. } | Event::ProcessExited { .. } => 1,
        Event::LogLines { lines, .. } => lines.len(),
        _ => 0,
    }
}

/// Waits (virtual time) until what the model expects arrived, then a quiet period (longer
/// after a stop, so its timers fire), bounded by [`SETTLE_MAX`].
/// Returns a note on the automatic restart it adopted, if any.
async fn settle<R: Runtime>(w: &World<R>, m: &mut Model, stops: bool) -> Settled {
    let deadline = w.rt.now() + SETTLE_MAX;
    while !(adopt(w, m) && arrived(w, m)) && w.rt.now() < deadline {
        w.rt.sleep(Duration::from_millis(1)).await;
    }
    w.rt.sleep(if stops { QUIET_AFTER_STOP } else { QUIET }).await;
    let mut done = adopt(w, m) && arrived(w, m);
    while !done && w.rt.now() < deadline {
        w.rt.sleep(Duration::from_millis(1)).await;
        done = adopt(w, m) && arrived(w, m);
    }
    let note = m.adopted.take().map(|id| {
        format!(" ({} restarted itself as #{id}, restart {})", script_name(m.insts[&id].script), m.insts[&id].restarts)
    });
    Settled { note, timed_out: !done }
}

/// What [`settle`] found.
struct Settled {
    /// The automatic restart it adopted, if any.
    note: Option<String>,
    /// What the model expects had not all happened after [`SETTLE_MAX`]. The oracles say what
    /// is wrong first; if they all pass, the model waited for something no oracle checks, and
    /// that is a failure too (a model that waits in vain is a blind spot).
    timed_out: bool,
}

fn settle_timeout() -> Violation {
    violation(
        "I39 every step settles",
        format!("what the model expects had not all happened {} s after the step", SETTLE_MAX.as_secs()),
    )
}

/// Takes the automatic restart the model expects into the model once the supervisor shows
/// it (the model cannot know its id before). False while it is still due.
fn adopt<R: Runtime>(w: &World<R>, m: &mut Model) -> bool {
    let Some((script, failed, restarts)) = m.restart_due else { return true };
    let status = w.sup.status();
    let new = status.iter().find(|i| i.script == script_name(script) && i.id > failed && !m.insts.contains_key(&i.id));
    let Some((id, Some(pid))) = new.map(|i| (i.id, i.pid)) else { return false };
    m.restart_due = None;
    m.adopted = Some(id);
    m.started(script, id, pid, restarts);
    true
}

/// Every oracle that applies after a step.
fn check_step<R: Runtime>(w: &World<R>, m: &Model) -> Result<(), Violation> {
    if let Some((script, failed, _)) = m.restart_due {
        return Err(violation(
            "I19 restart policy: a failed on-failure script restarts",
            format!(
                "#{failed} ({}) failed {} s ago and nothing restarted it",
                script_name(script),
                SETTLE_MAX.as_secs()
            ),
        ));
    }
    // I14/I15 and the exits, on the recorder that saw everything.
    let want: BTreeMap<u64, Vec<Item>> = m.insts.iter().map(|(id, i)| (*id, i.items.clone())).collect();
    let (got, after_exit) = items_of(&lock(&w.all));
    compare_items("recorder", &got, &want)?;
    if let Some((id, kinds)) = after_exit.iter().next() {
        return Err(violation("I14 nothing after ProcessExited", format!("instance #{id}: {kinds:?} after its exit")));
    }
    // I2/I4: each subscriber got exactly what was published while it was subscribed, and
    // nothing started after its unsubscribe returned.
    for s in &m.subs {
        let (got, _) = items_of(&lock(&s.seen));
        compare_items(&format!("subscriber #{}", s.id.0), &got, &s.expected)?;
        let late = s.late.load(Ordering::SeqCst);
        crate::ensure!(late == 0, "I4 no invocation after unsubscribe returns", "sub #{}: {late} late", s.id.0);
    }
    if !m.shut_down {
        let subs = w.bus.subscriber_count();
        let want = w.base_subscribers + m.subs.iter().filter(|s| s.active).count();
        crate::ensure!(subs == want, "I40 subscriptions bounded by live subscribers", "{subs}, want {want}");
    }
    // I20-I22, I25: the store holds every accepted line of uncleared generations exactly once,
    // in order; lines of cleared generations are gone and the late ones counted.
    let entries = w.logs.entries();
    crate::ensure!(
        entries.windows(2).all(|p| p[0].id < p[1].id),
        "I22 store order is acceptance order",
        "entry ids out of order"
    );
    let key = |s: Stream| if s == Stream::Stdout { "out" } else { "err" };
    let mut held: BTreeMap<(u64, &str), Vec<String>> = BTreeMap::new();
    for e in &entries {
        held.entry((e.process.id.0, key(e.stream))).or_default().push(e.text.clone());
    }
    let mut want: BTreeMap<(u64, &str), Vec<(String, usize)>> = BTreeMap::new();
    for (id, lines) in m.stored() {
        for (s, t, step) in lines {
            want.entry((id, key(s))).or_default().push((t, step));
        }
    }
    let stats = w.logs.stats();
    // Eviction takes whole chunks, oldest first: per instance and stream, what is held is a
    // suffix of what was accepted, and no evicted line is newer (by step) than a held one.
    let (mut newest_evicted, mut oldest_held) = (None::<usize>, None::<usize>);
    for k in held.keys().chain(want.keys()).copied().collect::<BTreeSet<_>>() {
        let h = held.get(&k).cloned().unwrap_or_default();
        let wn = want.get(&k).cloned().unwrap_or_default();
        let texts: Vec<&String> = wn.iter().map(|(t, _)| t).collect();
        let suffix = h.len() <= wn.len() && texts[wn.len() - h.len()..].iter().zip(&h).all(|(a, b)| *a == b);
        if !suffix || (h.len() < wn.len() && stats.evicted_entries == 0) {
            let id = k.0;
            let oracle = if wn.is_empty() && m.insts.contains_key(&id) && m.cleared(id) {
                "I25 a cleared generation's lines stay gone"
            } else {
                "I20/I21/I22 every accepted line stored exactly once, in order"
            };
            return Err(violation(oracle, format!("instance #{id} {}: store {h:?}, want {texts:?}", k.1)));
        }
        let cut = wn.len() - h.len();
        newest_evicted = newest_evicted.max(wn[..cut].iter().map(|(_, s)| *s).max());
        oldest_held = match (oldest_held, wn[cut..].iter().map(|(_, s)| *s).min()) {
            (Some(a), Some(b)) => Some(a.min(b)),
            (a, b) => a.or(b),
        };
    }
    if let (Some(e), Some(h)) = (newest_evicted, oldest_held) {
        crate::ensure!(e <= h, "I23 eviction is oldest-first", "a line of step {e} evicted, one of step {h} held");
    }
    crate::ensure!(
        stats.appended == m.accepted_lines,
        "I20/I21 every accepted line appended exactly once",
        "{} appended, {} accepted",
        stats.appended,
        m.accepted_lines
    );
    crate::ensure!(
        stats.entries + stats.evicted_entries + m.cleared_removed == stats.appended,
        "I20/I23 every appended line held, evicted or cleared, and counted",
        "{} held + {} evicted + {} cleared != {} appended",
        stats.entries,
        stats.evicted_entries,
        m.cleared_removed,
        stats.appended
    );
    crate::ensure!(
        stats.held_bytes <= stats.budget_bytes,
        "I23 bounded memory",
        "{} bytes held, budget {}",
        stats.held_bytes,
        stats.budget_bytes
    );
    let dropped = w.logs.dropped_after_clear();
    crate::ensure!(
        dropped == m.dropped_after_clear,
        "I25 late lines of a cleared generation counted",
        "{dropped} dropped after clear, want {}",
        m.dropped_after_clear
    );
    // I12/I13/I17: status against the model; every observed transition legal.
    if !m.shut_down {
        check_status(&w.sup.status(), m, "status")?;
    }
    for (id, states) in lock(&w.transitions).iter() {
        for p in states.windows(2) {
            crate::ensure!(
                !p[0].is_terminal(),
                "I12 terminal states are absorbing",
                "#{id}: left {} for {}",
                p[0],
                p[1]
            );
            crate::ensure!(reachable(p[0], p[1]), "I12 legal transitions only", "#{id}: {} -> {}", p[0], p[1]);
        }
    }
    // S-F1: the findings store lists the URL of every running instance and of no ended one.
    if let Some(session) = &w.session {
        let listed: BTreeSet<u64> = session.findings(|f| f.urls(None)).iter().map(|u| u.process.id.0).collect();
        let running: BTreeSet<u64> =
            m.insts.iter().filter(|(_, i)| i.state == ProcState::Running).map(|(id, _)| *id).collect();
        crate::ensure!(
            listed == running,
            "S-F1 a URL is listed exactly while its instance runs",
            "URLs of {listed:?}, running {running:?}"
        );
    }
    // I11: the live processes are exactly the running instances', and no orphans.
    let live: BTreeSet<u32> = w.table.live_pids().into_iter().collect();
    let running: BTreeSet<u32> = m.insts.values().filter(|i| i.state == ProcState::Running).map(|i| i.pid).collect();
    crate::ensure!(
        live == running,
        "I11 live processes are the running instances'",
        "live {live:?}, running {running:?}"
    );
    let orphans = w.table.orphans();
    crate::ensure!(orphans.is_empty(), "I11 no orphans", "{orphans:?}");
    Ok(())
}
