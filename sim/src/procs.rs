//! The simulated process table, shared by the turmoil and madsim runtimes.
//!
//! Programs are scripts (data, not closures, so a failing seed prints what ran): print lines on
//! stdout or stderr, sleep a fixed or seeded time, spawn a grandchild into the same process
//! group, ignore SIGTERM, exit with a code. Pipes are `tokio::io::duplex` pairs whose write
//! ends are shared by a process and every grandchild it spawns, so, as with real pipes, the
//! reader sees EOF only when the last writer in the group is gone.

use std::collections::BTreeMap;
use std::future::Future;
use std::io;
use std::pin::{Pin, pin};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Duration;

use brum_core::rt::{ChildProcess, Exit, ProcessSpec, SeededRng, Signal};
use tokio::io::{AsyncWriteExt, DuplexStream};
use tokio::sync::{mpsc, oneshot};

/// Bytes a simulated pipe buffers before the writer waits (Linux's default pipe size).
pub const SIM_PIPE_BYTES: usize = 64 * 1024;

/// Signals queued for one simulated process; more than this and the sender drops them (a
/// real kernel coalesces pending signals too).
const SIM_SIGNAL_QUEUE: usize = 8;

/// One step of a scripted program.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Step {
    Out(String),
    Err(String),
    /// `n` numbered stdout lines `prefix 1` .. `prefix n`.
    OutMany {
        prefix: String,
        n: u32,
    },
    Sleep(Duration),
    /// Sleeps a seeded duration in `0..=max`.
    Jitter(Duration),
    /// Spawns the named program in the same process group, sharing this process's pipes.
    SpawnGrandchild(String),
    /// Spawns the named program in a process group of its own (`setsid`, a daemon), still
    /// holding this process's pipes: group signals to the parent's group never reach it.
    SpawnDetached(String),
    /// Writes the text to stdout without a newline: a line that arrives in several reads.
    OutRaw(String),
    /// Spawns the named program in the same process group with its output sent elsewhere
    /// (`cmd > log 2>&1 &`): it keeps the group alive but not the pipes.
    SpawnBackground(String),
    /// Waits until a signal ends the process.
    Hang,
    Exit(i32),
    /// Obeys [`SimProcessTable::remote`] until told to exit (a signal still ends it): a test
    /// decides when this process prints and when it exits.
    Remote,
}

/// What [`SimProcessTable::remote`] tells a process in [`Step::Remote`] to do.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Remote {
    /// Print these lines on stdout.
    Out(Vec<String>),
    /// Print these lines on stderr.
    Err(Vec<String>),
    /// Exit with this code.
    Exit(i32),
    /// Start this program in the background: a grandchild in the same process group, sharing
    /// the pipes (`cmd &` in a shell script).
    Spawn(Program),
}

/// A scripted program.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Program {
    pub steps: Vec<Step>,
    /// SIGTERM and SIGINT do nothing (SIGKILL still ends it).
    pub ignore_term: bool,
    /// On SIGTERM (or SIGINT), the program shuts down gracefully: prints `draining`, takes
    /// this long, and exits 0 (a SIGKILL meanwhile still ends it at once). A slow stop.
    pub term_delay: Option<Duration>,
    /// `wait()` on this child fails (`ECHILD`, as when something else reaped it) once the
    /// process has ended: its exit status is lost.
    pub wait_fails: bool,
    /// How long the spawn takes (exec of a large binary, a slow file system): the caller of
    /// `spawn_process` is held that long, through the `supervisor.spawn` checkpoint.
    pub exec_delay: Option<Duration>,
    /// Signals reach this process this long after they were sent (a loaded machine, a process
    /// in uninterruptible sleep): `signal_group` returns at once, delivery comes later.
    pub signal_latency: Option<Duration>,
}

impl Program {
    pub fn new(steps: Vec<Step>) -> Self {
        Program {
            steps,
            ignore_term: false,
            term_delay: None,
            wait_fails: false,
            exec_delay: None,
            signal_latency: None,
        }
    }

    pub fn ignoring_term(mut self) -> Self {
        self.ignore_term = true;
        self
    }

    /// See [`Program::term_delay`].
    pub fn draining_on_term(mut self, d: Duration) -> Self {
        self.term_delay = Some(d);
        self
    }

    /// See [`Program::signal_latency`].
    pub fn slow_signals(mut self, d: Duration) -> Self {
        self.signal_latency = Some(d);
        self
    }

    /// See [`Program::exec_delay`].
    pub fn slow_exec(mut self, d: Duration) -> Self {
        self.exec_delay = Some(d);
        self
    }

    /// See [`Program::wait_fails`].
    pub fn failing_wait(mut self) -> Self {
        self.wait_fails = true;
        self
    }
}

/// Drives scripted programs: the two things a program needs from its simulator.
pub trait SimSched: Send + Sync + 'static {
    fn sleep(&self, d: Duration) -> Pin<Box<dyn Future<Output = ()> + Send>>;
    fn spawn(&self, name: &'static str, fut: Pin<Box<dyn Future<Output = ()> + Send>>);
}

/// What a running process receives: signals, and its remote control.
struct Inbox {
    signals: mpsc::Receiver<Signal>,
    remote: mpsc::UnboundedReceiver<Remote>,
}

struct Entry {
    pgid: u32,
    signals: mpsc::Sender<Signal>,
    remote: mpsc::UnboundedSender<Remote>,
    /// See [`Program::signal_latency`].
    latency: Option<Duration>,
}

struct TableState {
    programs: BTreeMap<String, Program>,
    live: BTreeMap<u32, Entry>,
    next_pid: u32,
    rng: SeededRng,
    spawned: u64,
    reaped: u64,
    signals_dropped: u64,
    released: std::collections::BTreeSet<u32>,
    /// Every group signal sent, in order (oracles check kills hit the right generation).
    signal_log: Vec<(u32, Signal)>,
    /// Processes started by `Step::SpawnDetached`, in order (each leads its own group).
    detached: Vec<u32>,
    /// The exec time of the last spawn, until the spawner's checkpoint takes it.
    pending_exec: Option<Duration>,
}

/// The table. Cheap to clone.
#[derive(Clone)]
pub struct SimProcessTable {
    state: Arc<Mutex<TableState>>,
    sched: Arc<dyn SimSched>,
}

impl std::fmt::Debug for SimProcessTable {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("SimProcessTable")
    }
}

type Pipe = Arc<tokio::sync::Mutex<DuplexStream>>;

impl SimProcessTable {
    pub fn new(seed: u64, sched: Arc<dyn SimSched>) -> Self {
        SimProcessTable {
            state: Arc::new(Mutex::new(TableState {
                programs: BTreeMap::new(),
                live: BTreeMap::new(),
                next_pid: 1000,
                rng: SeededRng::new(seed ^ 0x5052_4f43),
                spawned: 0,
                reaped: 0,
                signals_dropped: 0,
                released: std::collections::BTreeSet::new(),
                signal_log: Vec::new(),
                detached: Vec::new(),
                pending_exec: None,
            })),
            sched,
        }
    }

    fn lock(&self) -> MutexGuard<'_, TableState> {
        self.state.lock().unwrap_or_else(|e| e.into_inner())
    }

    pub fn register(&self, name: impl Into<String>, program: Program) {
        self.lock().programs.insert(name.into(), program);
    }

    /// Pids of processes that have not exited, grandchildren included.
    pub fn live_pids(&self) -> Vec<u32> {
        self.lock().live.keys().copied().collect()
    }

    /// (spawned, reaped) counts over the table's life.
    pub fn counts(&self) -> (u64, u64) {
        let st = self.lock();
        (st.spawned, st.reaped)
    }

    /// Signals not queued because a process already had `SIM_SIGNAL_QUEUE` (8) pending.
    pub fn signals_dropped(&self) -> u64 {
        self.lock().signals_dropped
    }

    /// Starts `spec.program` from the table in a new process group.
    pub fn spawn(&self, spec: &ProcessSpec) -> io::Result<SimChild> {
        let program = self.lock().programs.get(&spec.program).cloned().ok_or_else(|| {
            io::Error::new(io::ErrorKind::NotFound, format!("no simulated program `{}`", spec.program))
        })?;
        self.lock().pending_exec = program.exec_delay;
        let (out_w, out_r) = tokio::io::duplex(SIM_PIPE_BYTES);
        let (err_w, err_r) = tokio::io::duplex(SIM_PIPE_BYTES);
        let (exit_tx, exit_rx) = oneshot::channel();
        let wait_fails = program.wait_fails;
        let pid = self.start(
            program,
            None,
            Arc::new(tokio::sync::Mutex::new(out_w)),
            Arc::new(tokio::sync::Mutex::new(err_w)),
            Some(exit_tx),
        );
        Ok(SimChild {
            pid,
            table: self.clone(),
            stdout: Some(out_r),
            stderr: Some(err_r),
            exit: Some(exit_rx),
            status: None,
            wait_fails,
        })
    }

    fn start(
        &self,
        program: Program,
        pgid: Option<u32>,
        out: Pipe,
        err: Pipe,
        exit_tx: Option<oneshot::Sender<Exit>>,
    ) -> u32 {
        let (sig_tx, sig_rx) = mpsc::channel(SIM_SIGNAL_QUEUE);
        let (remote_tx, remote_rx) = mpsc::unbounded_channel();
        let pid = {
            let mut st = self.lock();
            let pid = st.next_pid;
            st.next_pid += 1;
            st.spawned += 1;
            st.live.insert(
                pid,
                Entry {
                    pgid: pgid.unwrap_or(pid),
                    signals: sig_tx,
                    remote: remote_tx,
                    latency: program.signal_latency,
                },
            );
            pid
        };
        let table = self.clone();
        let fut = async move {
            let inbox = Inbox { signals: sig_rx, remote: remote_rx };
            let exit = table.run(pid, pgid.unwrap_or(pid), program, out, err, inbox).await;
            {
                let mut st = table.lock();
                st.live.remove(&pid);
                st.reaped += 1;
            }
            if let Some(tx) = exit_tx {
                let _ = tx.send(exit);
            }
        };
        self.sched.spawn("sim.process", Box::pin(fut));
        pid
    }

    /// Marks group `pgid` as released by its supervisor. A released group that still has
    /// live members is an orphan: [`SimProcessTable::orphans`] reports it.
    pub fn release_group(&self, pgid: u32) {
        self.lock().released.insert(pgid);
    }

    /// Whether a live process belongs to group `pgid`.
    pub fn group_alive(&self, pgid: u32) -> bool {
        self.lock().live.values().any(|e| e.pgid == pgid)
    }

    /// How long the last spawn's exec takes, once (the runtime's `supervisor.spawn`
    /// checkpoint holds the spawner that long).
    pub fn take_exec_delay(&self) -> Option<Duration> {
        self.lock().pending_exec.take()
    }

    /// Groups with a live member that their supervisor has not released: what brum's orphan
    /// guardian would stop at brum's exit.
    pub fn tracked_groups(&self) -> Vec<u32> {
        let st = self.lock();
        let groups: std::collections::BTreeSet<u32> =
            st.live.values().map(|e| e.pgid).filter(|g| !st.released.contains(g)).collect();
        groups.into_iter().collect()
    }

    /// Pids (and so pgids) of the processes `Step::SpawnDetached` started, in order.
    pub fn detached(&self) -> Vec<u32> {
        self.lock().detached.clone()
    }

    /// Every group signal sent so far: (pgid, signal), in order.
    pub fn signal_log(&self) -> Vec<(u32, Signal)> {
        self.lock().signal_log.clone()
    }

    /// Live processes whose group was already released by its supervisor (I11).
    pub fn orphans(&self) -> Vec<u32> {
        let st = self.lock();
        st.live.iter().filter(|(_, e)| st.released.contains(&e.pgid)).map(|(pid, _)| *pid).collect()
    }

    /// What brum's orphan guardian does when brum dies: SIGKILL every group brum had not
    /// released. Returns those groups. A live process in a released group is out of its
    /// reach: [`SimProcessTable::orphans`].
    pub fn guardian_kill(&self) -> Vec<u32> {
        let groups: std::collections::BTreeSet<u32> = {
            let st = self.lock();
            st.live.values().map(|e| e.pgid).filter(|g| !st.released.contains(g)).collect()
        };
        for g in &groups {
            // A group that emptied meanwhile is fine: nothing to kill.
            let _ = self.signal_group(*g, Signal::Kill);
        }
        groups.into_iter().collect()
    }

    /// Tells live process `pid` what to do next; it obeys when it reaches [`Step::Remote`].
    /// False if `pid` is not live.
    pub fn remote(&self, pid: u32, cmd: Remote) -> bool {
        self.lock().live.get(&pid).is_some_and(|e| e.remote.send(cmd).is_ok())
    }

    /// Sends `sig` to every live process in group `pgid`.
    pub fn signal_group(&self, pgid: u32, sig: Signal) -> io::Result<()> {
        let targets: Vec<(mpsc::Sender<Signal>, Option<Duration>)> = {
            let mut st = self.lock();
            st.signal_log.push((pgid, sig));
            st.live.values().filter(|e| e.pgid == pgid).map(|e| (e.signals.clone(), e.latency)).collect()
        };
        if targets.is_empty() {
            return Err(io::Error::new(io::ErrorKind::NotFound, format!("no process group {pgid}")));
        }
        // Late deliveries go through a task of their own; a full queue then drops the signal
        // as a prompt delivery would.
        let (late, now): (Vec<_>, Vec<_>) = targets.into_iter().partition(|(_, l)| l.is_some());
        for (target, latency) in late {
            let (table, wait) = (self.clone(), self.sched.sleep(latency.unwrap_or_default()));
            self.sched.spawn(
                "sim.signal",
                Box::pin(async move {
                    wait.await;
                    // A process that ended meanwhile just never gets it.
                    if let Err(mpsc::error::TrySendError::Full(_)) = target.try_send(sig) {
                        table.lock().signals_dropped += 1;
                    }
                }),
            );
        }
        let dropped = now.iter().filter(|(t, _)| t.try_send(sig).is_err()).count() as u64;
        if dropped > 0 {
            self.lock().signals_dropped += dropped;
        }
        Ok(())
    }

    async fn run(&self, pid: u32, pgid: u32, program: Program, out: Pipe, err: Pipe, inbox: Inbox) -> Exit {
        let _ = pid;
        let Inbox { signals: mut sig_rx, remote: mut remote_rx } = inbox;
        for step in program.steps {
            let work = self.step(step, pgid, &out, &err, &mut remote_rx);
            let mut work = pin!(work);
            loop {
                tokio::select! {
                    biased;
                    sig = sig_rx.recv() => match sig {
                        Some(Signal::Kill) => return Exit::Signaled(9),
                        Some(_) if !program.ignore_term && program.term_delay.is_some() => {
                            let delay = program.term_delay.unwrap_or_default();
                            return self.drain(delay, &out, &mut sig_rx).await;
                        }
                        Some(s) if !program.ignore_term => return Exit::Signaled(s.number()),
                        // Ignored, or every sender gone (cannot happen while in the table).
                        Some(_) | None => continue,
                    },
                    done = &mut work => match done {
                        Some(exit) => return exit,
                        None => break,
                    },
                }
            }
        }
        Exit::Code(0)
    }

    /// A graceful shutdown after SIGTERM: prints `draining`, exits 0 after `delay` unless a
    /// SIGKILL comes first.
    async fn drain(&self, delay: Duration, out: &Pipe, sig_rx: &mut mpsc::Receiver<Signal>) -> Exit {
        write_line(out, "draining").await;
        let done = self.sched.sleep(delay);
        let mut done = pin!(done);
        loop {
            tokio::select! {
                biased;
                sig = sig_rx.recv() => match sig {
                    Some(Signal::Kill) => return Exit::Signaled(9),
                    Some(_) | None => continue,
                },
                () = &mut done => return Exit::Code(0),
            }
        }
    }

    /// Performs one step; `Some(exit)` ends the program.
    async fn step(
        &self,
        step: Step,
        pgid: u32,
        out: &Pipe,
        err: &Pipe,
        remote: &mut mpsc::UnboundedReceiver<Remote>,
    ) -> Option<Exit> {
        let write = write_line;
        match step {
            Step::Out(l) => write(out, &l).await,
            Step::Err(l) => write(err, &l).await,
            Step::OutMany { prefix, n } => {
                for i in 1..=n {
                    write(out, &format!("{prefix} {i}")).await;
                }
            }
            Step::Sleep(d) => self.sched.sleep(d).await,
            Step::Jitter(max) => {
                let ms = self.lock().rng.below(max.as_millis() as u64 + 1);
                self.sched.sleep(Duration::from_millis(ms)).await
            }
            Step::SpawnGrandchild(name) => {
                let program = self.lock().programs.get(&name).cloned();
                match program {
                    Some(p) => {
                        self.start(p, Some(pgid), out.clone(), err.clone(), None);
                    }
                    None => write(err, &format!("sim: no program `{name}`")).await,
                }
            }
            Step::SpawnDetached(name) => {
                let program = self.lock().programs.get(&name).cloned();
                match program {
                    Some(p) => {
                        let pid = self.start(p, None, out.clone(), err.clone(), None);
                        self.lock().detached.push(pid);
                    }
                    None => write(err, &format!("sim: no program `{name}`")).await,
                }
            }
            Step::SpawnBackground(name) => {
                let program = self.lock().programs.get(&name).cloned();
                match program {
                    Some(p) => {
                        // Its own pipes, whose read ends are gone: output to nowhere.
                        let (o, _) = tokio::io::duplex(SIM_PIPE_BYTES);
                        let (e, _) = tokio::io::duplex(SIM_PIPE_BYTES);
                        let pipe = |d| Arc::new(tokio::sync::Mutex::new(d));
                        self.start(p, Some(pgid), pipe(o), pipe(e), None);
                    }
                    None => write(err, &format!("sim: no program `{name}`")).await,
                }
            }
            Step::OutRaw(text) => {
                let mut w = out.lock().await;
                // As in `write_line`: a closed pipe just ends the printing.
                let _ = w.write_all(text.as_bytes()).await;
            }
            Step::Hang => std::future::pending::<()>().await,
            Step::Exit(c) => return Some(Exit::Code(c)),
            Step::Remote => loop {
                match remote.recv().await {
                    Some(Remote::Out(lines)) => self.print_seeded(out, &lines).await,
                    Some(Remote::Err(lines)) => self.print_seeded(err, &lines).await,
                    Some(Remote::Exit(c)) => return Some(Exit::Code(c)),
                    Some(Remote::Spawn(p)) => {
                        self.start(p, Some(pgid), out.clone(), err.clone(), None);
                    }
                    // The table holds the sender while the process lives.
                    None => std::future::pending::<()>().await,
                }
            },
        }
        None
    }
}

impl SimProcessTable {
    /// Prints `lines` with a seeded pause (0-2 ms) after about one line in four, so reads and
    /// batches split differently per seed.
    async fn print_seeded(&self, p: &Pipe, lines: &[String]) {
        for l in lines {
            {
                let mut w = p.lock().await;
                let _ = w.write_all(l.as_bytes()).await;
                let _ = w.write_all(b"\n").await;
            }
            let pause = {
                let mut st = self.lock();
                (st.rng.below(4) == 0).then(|| st.rng.below(3))
            };
            if let Some(ms) = pause {
                self.sched.sleep(Duration::from_millis(ms)).await;
            }
        }
    }
}

/// Writes `line` and a newline. A reader that went away is a closed pipe: a real program would
/// get EPIPE and usually die; the scripted one just stops printing.
async fn write_line(p: &Pipe, line: &str) {
    let mut w = p.lock().await;
    let _ = w.write_all(line.as_bytes()).await;
    let _ = w.write_all(b"\n").await;
}

/// A simulated child: its pipes' read ends and its exit status.
#[derive(Debug)]
pub struct SimChild {
    pid: u32,
    table: SimProcessTable,
    stdout: Option<DuplexStream>,
    stderr: Option<DuplexStream>,
    exit: Option<oneshot::Receiver<Exit>>,
    status: Option<Exit>,
    /// See [`Program::wait_fails`].
    wait_fails: bool,
}

impl ChildProcess for SimChild {
    type Out = DuplexStream;

    fn pid(&self) -> u32 {
        self.pid
    }

    fn take_stdout(&mut self) -> Option<DuplexStream> {
        self.stdout.take()
    }

    fn take_stderr(&mut self) -> Option<DuplexStream> {
        self.stderr.take()
    }

    fn signal(&mut self, sig: Signal) -> io::Result<()> {
        self.table.signal_group(self.pid, sig)
    }

    /// Cancel-safe, like a real child's wait: dropping the future before it completes
    /// leaves the exit status for the next call.
    async fn wait(&mut self) -> io::Result<Exit> {
        if let Some(status) = self.status {
            return Ok(status);
        }
        let Some(rx) = self.exit.as_mut() else {
            return Err(io::Error::other("simulated child has no exit channel"));
        };
        let status = rx.await.map_err(|_| io::Error::other("simulated process vanished without an exit status"))?;
        self.exit = None;
        if self.wait_fails {
            // The status is gone for good: every later wait fails the same way.
            return Err(io::Error::other("no child process (ECHILD)"));
        }
        self.status = Some(status);
        Ok(status)
    }
}
