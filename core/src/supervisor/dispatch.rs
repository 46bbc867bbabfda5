//! The dispatcher loop: the only owner of process state.

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Duration;

use std::collections::VecDeque;

use tokio::sync::{Notify, mpsc, oneshot, watch};

use super::output::{LinePublisher, Reader};
use super::{Leftovers, ProcState, ProcessInfo, Reply, Request, Started, SupervisorConfig, SupervisorError, Target};
use crate::bus::{Event, EventBus, ProcessRef, Stream};
use crate::metrics::{Counter, Gauge};
use crate::rt::{ChildProcess, Exit, ProcessSpec, Runtime, Signal, Task, spawn};
use crate::script::{RestartPolicy, Script};

/// Everything the dispatcher reacts to: requests, and reports from its own tasks. Reports
/// carry the instance id they belong to; the dispatcher ignores any that no longer apply.
pub(crate) enum Msg {
    Request(Request),
    Eof {
        id: u64,
        stream: Stream,
    },
    Waited {
        id: u64,
        exit: Result<Exit, String>,
    },
    GraceExpired {
        id: u64,
    },
    EofDeadline {
        id: u64,
    },
    RestartDue {
        id: u64,
    },
    /// The grace period of the SIGTERM sent to what instance `id` left running is over.
    LeftoversDue {
        id: u64,
    },
    /// Only the `LINES_THROUGH_DISPATCHER` mutant sends this: a publisher asking leave to
    /// publish, answered at once.
    LinesGate {
        reply: oneshot::Sender<()>,
    },
}

struct Instance {
    info: ProcessInfo,
    process: ProcessRef,
    script: Script,
    eof: [bool; 2],
    waited: Option<Exit>,
    stop_requested: bool,
    stop_waiters: Vec<Reply<ProcessInfo>>,
    /// Restart requests waiting for this instance to end.
    then_start: Vec<Reply<Started>>,
    timers: Vec<Task<()>>,
    readers: Vec<Task<()>>,
    /// The SIGKILL timer for what this instance left in its group when it ended; unlike
    /// `timers` it outlives the instance's end. Its group stays tracked until it fires.
    leftovers: Option<Task<()>>,
}

impl Instance {
    fn terminal(&self) -> bool {
        self.info.state.is_terminal()
    }

    /// Aborts this instance's timers; they are joined when the dispatcher ends, so no task
    /// outlives the supervisor.
    fn cancel_timers(&mut self, dying: &mut Vec<Task<()>>) {
        for t in self.timers.drain(..) {
            t.abort();
            dying.push(t);
        }
    }
}

pub(crate) struct Dispatcher<R: Runtime> {
    rt: R,
    bus: EventBus<R>,
    cfg: SupervisorConfig,
    tx: mpsc::Sender<Msg>,
    status: watch::Sender<Arc<Vec<ProcessInfo>>>,
    instances: BTreeMap<u64, Instance>,
    /// Script name -> its newest instance.
    current: BTreeMap<String, u64>,
    next_id: u64,
    stop_all: Vec<(Vec<u64>, Reply<Vec<ProcessInfo>>)>,
    shutdown: Option<Vec<Reply<Vec<ProcessInfo>>>>,
    /// Aborted tasks, joined before the dispatcher returns.
    dying: Vec<Task<()>>,
    /// Lifecycle events on their way to the bus, and the task that publishes them.
    outbox: Arc<Outbox>,
    publisher: Option<Task<()>>,
}

/// An event for the publisher, and the readers to release once it is published.
struct OutItem {
    event: Event,
    then: Vec<oneshot::Sender<()>>,
}

/// The dispatcher's ordered outbox (see [`super::SUPERVISOR_OUTBOX_MAX`]).
struct Outbox {
    state: std::sync::Mutex<OutboxState>,
    /// Signalled when an item is pushed or the outbox is closed.
    ready: Notify,
    /// Signalled once when the publisher has ended.
    done: Notify,
    dropped: Counter,
    undelivered: Counter,
    depth: Gauge,
}

#[derive(Default)]
struct OutboxState {
    items: VecDeque<OutItem>,
    closed: bool,
}

impl Outbox {
    fn lock(&self) -> std::sync::MutexGuard<'_, OutboxState> {
        // Only push/pop/close run under this lock: a poisoned one still holds a sound queue.
        self.state.lock().unwrap_or_else(|e| e.into_inner())
    }

    fn push(&self, item: OutItem) {
        let mut st = self.lock();
        if st.items.len() >= super::SUPERVISOR_OUTBOX_MAX {
            self.dropped.inc();
            return;
        }
        st.items.push_back(item);
        self.depth.set(st.items.len() as i64);
        drop(st);
        self.ready.notify_one();
    }

    fn close(&self) {
        self.lock().closed = true;
        self.ready.notify_one();
    }
}

/// The publisher task: publishes the outbox in order, then releases the readers waiting on
/// each event. Ends when the outbox is closed and empty.
async fn publish_outbox<R: Runtime>(bus: EventBus<R>, outbox: Arc<Outbox>) {
    loop {
        let ready = outbox.ready.notified();
        tokio::pin!(ready);
        ready.as_mut().enable();
        let next = {
            let mut st = outbox.lock();
            let item = st.items.pop_front();
            outbox.depth.set(st.items.len() as i64);
            (item, st.closed)
        };
        match next {
            (Some(item), _) => {
                let _ = bus.publish(item.event).await;
                for gate in item.then {
                    let _ = gate.send(());
                }
            }
            (None, true) => break,
            (None, false) => ready.await,
        }
    }
    outbox.done.notify_one();
}

fn stream_index(s: Stream) -> usize {
    match s {
        Stream::Stdout => 0,
        Stream::Stderr => 1,
    }
}

impl<R: Runtime> Dispatcher<R> {
    pub(crate) fn new(
        rt: R,
        bus: EventBus<R>,
        cfg: SupervisorConfig,
        tx: mpsc::Sender<Msg>,
        status: watch::Sender<Arc<Vec<ProcessInfo>>>,
    ) -> Self {
        let m = rt.metrics();
        let outbox = Arc::new(Outbox {
            state: std::sync::Mutex::new(OutboxState::default()),
            ready: Notify::new(),
            done: Notify::new(),
            dropped: m.counter("supervisor.outbox_dropped", ""),
            undelivered: m.counter("supervisor.outbox_undelivered", ""),
            depth: m.gauge("supervisor.outbox_depth", ""),
        });
        let publisher = spawn(&rt, "supervisor.publish", publish_outbox(bus.clone(), outbox.clone()));
        Dispatcher {
            rt,
            bus,
            cfg,
            tx,
            status,
            instances: BTreeMap::new(),
            current: BTreeMap::new(),
            next_id: 1,
            stop_all: Vec::new(),
            shutdown: None,
            dying: Vec::new(),
            outbox,
            publisher: Some(publisher),
        }
    }

    pub(crate) async fn run(mut self, mut rx: mpsc::Receiver<Msg>) {
        while let Some(msg) = rx.recv().await {
            // The mutant republishes the snapshot only after requests, not after the reports
            // of the instances' own tasks.
            let report = matches!(msg, Msg::Eof { .. } | Msg::Waited { .. });
            self.handle(msg).await;
            if !(report && crate::mutants::active(crate::mutants::SNAPSHOT_MISSES_ENDS)) {
                self.publish_status();
            }
            if self.shutdown.is_some() && self.instances.values().all(Instance::terminal) {
                let infos = self.infos();
                for r in self.shutdown.take().unwrap_or_default() {
                    let _ = r.send(Ok(infos.clone()));
                }
                break;
            }
        }
        let mut dying = std::mem::take(&mut self.dying);
        for inst in self.instances.values_mut() {
            inst.cancel_timers(&mut dying);
            // Groups with leftovers stay tracked: brum's exit (its orphan guardian) stops them.
            if let Some(t) = inst.leftovers.take() {
                t.abort();
                dying.push(t);
            }
        }
        // Requests that raced the end get a clear answer instead of a dropped reply.
        rx.close();
        while let Ok(msg) = rx.try_recv() {
            if let Msg::Request(r) = msg {
                refuse(r);
            }
        }
        for t in dying {
            // Cancelled is the expected outcome; a panic in a timer would be a bug worth a log.
            if let Err(brum_core_join @ crate::rt::JoinError::Panicked { .. }) = t.join().await {
                tracing::error!(error = %brum_core_join, "supervisor task panicked");
            }
        }
        // Publish what is left (the last exits), unless a stuck subscriber holds it up.
        self.outbox.close();
        if let Some(mut publisher) = self.publisher.take() {
            let done = self.outbox.done.notified();
            tokio::pin!(done);
            done.as_mut().enable();
            if !publisher.is_finished() {
                tokio::select! {
                    biased;
                    _ = &mut done => {}
                    _ = self.rt.sleep(self.bus.config().drain_timeout) => {
                        publisher.abort();
                        let left = self.outbox.lock().items.len() as u64;
                        self.outbox.undelivered.add(left);
                        tracing::warn!(events = left, "lifecycle events not published: a subscriber is stuck");
                    }
                }
            }
            if let Err(e @ crate::rt::JoinError::Panicked { .. }) = publisher.join().await {
                tracing::error!(error = %e, "supervisor publisher panicked");
            }
        }
    }

    /// Hands a lifecycle event to the publisher (never waits on the bus), to be published in
    /// order; `then` are released once it is. The `PUBLISH_INLINE` mutant awaits the bus here.
    async fn emit(&self, event: Event, then: Vec<oneshot::Sender<()>>) {
        if crate::mutants::active(crate::mutants::PUBLISH_INLINE) {
            let _ = self.bus.publish(event).await;
            for gate in then {
                let _ = gate.send(());
            }
            return;
        }
        self.outbox.push(OutItem { event, then });
    }

    fn infos(&self) -> Vec<ProcessInfo> {
        self.instances.values().map(|i| i.info.clone()).collect()
    }

    fn publish_status(&self) {
        self.status.send_replace(Arc::new(self.infos()));
    }

    fn now_ms(&self) -> u64 {
        self.rt.now().as_millis() as u64
    }

    fn timer(&self, name: &'static str, after: Duration, msg: Msg) -> Task<()> {
        let (rt, tx) = (self.rt.clone(), self.tx.clone());
        spawn(&self.rt, name, async move {
            rt.sleep(after).await;
            let _ = tx.send(msg).await;
        })
    }

    fn resolve(&self, target: &Target) -> Result<u64, SupervisorError> {
        let id = match target {
            Target::Id(id) => Some(*id).filter(|id| self.instances.contains_key(id)),
            Target::Script(name) => self.current.get(name).copied(),
        };
        id.ok_or_else(|| SupervisorError::NotFound { target: target.to_string() })
    }

    async fn handle(&mut self, msg: Msg) {
        match msg {
            Msg::Request(r) => self.request(r).await,
            Msg::Eof { id, stream } => {
                if let Some(inst) = self.instances.get_mut(&id) {
                    inst.eof[stream_index(stream)] = true;
                }
                self.maybe_finish(id).await;
            }
            Msg::Waited { id, exit } => {
                if crate::mutants::active(crate::mutants::RELEASE_BEFORE_EOF)
                    && let Some(pid) = self.instances.get(&id).and_then(|i| i.info.pid)
                {
                    // The mutant forgets the group with its leader, whoever is left in it.
                    self.rt.release_group(pid);
                }
                self.rt.checkpoint("supervisor.reaped").await;
                if let Some(inst) = self.instances.get_mut(&id) {
                    if !inst.eof.iter().all(|e| *e) {
                        // The leader is gone with output still unread: its exit waits for the
                        // last lines (the simulation's S-P4 counts on this to see its race).
                        self.rt.metrics().counter("supervisor.exits_waiting_for_eof", &inst.info.script).inc();
                    }
                    match exit {
                        Ok(e) => inst.waited = Some(e),
                        Err(_) if crate::mutants::active(crate::mutants::WAIT_ERROR_IGNORED) => {}
                        Err(message) => {
                            // wait() itself failed: the child is gone from our view; treat its
                            // status as unknown (-1) rather than waiting forever.
                            inst.info.error = Some(format!("wait failed: {message}"));
                            inst.waited = Some(Exit::Code(-1));
                        }
                    }
                }
                self.maybe_finish(id).await;
            }
            Msg::GraceExpired { id } => {
                let Some(inst) = self.instances.get_mut(&id) else { return };
                if inst.terminal() {
                    if crate::mutants::active(crate::mutants::STALE_KILL_TIMER) {
                        // Brummer's S-P10: the timer finds its process by script name, so an
                        // ended generation's grace kills the one that replaced it.
                        let script = inst.info.script.clone();
                        let newest = self.instances.values().rev().find(|i| i.info.script == script && !i.terminal());
                        if let Some(pid) = newest.and_then(|i| i.info.pid) {
                            let _ = self.rt.signal_group(pid, Signal::Kill);
                        }
                    }
                    return;
                }
                if let Some(pid) = inst.info.pid {
                    let _ = self.rt.signal_group(pid, Signal::Kill);
                }
                if crate::mutants::active(crate::mutants::NO_EOF_DEADLINE) {
                    return;
                }
                let t = self.timer("supervisor.timer", super::EOF_AFTER_KILL, Msg::EofDeadline { id });
                if let Some(inst) = self.instances.get_mut(&id) {
                    inst.timers.push(t);
                }
            }
            Msg::EofDeadline { id } => {
                let Some(inst) = self.instances.get_mut(&id) else { return };
                if inst.terminal() {
                    return;
                }
                if inst.waited.is_none() {
                    // The leader is not reaped yet (SIGKILL lands, the kernel is slow): look
                    // again later rather than give up on this instance.
                    let t = self.timer("supervisor.timer", super::EOF_AFTER_KILL, Msg::EofDeadline { id });
                    if let Some(inst) = self.instances.get_mut(&id) {
                        inst.timers.push(t);
                    }
                    return;
                }
                // Something outside the group still holds the pipes: stop reading them.
                for r in inst.readers.drain(..) {
                    r.abort();
                    self.dying.push(r);
                }
                inst.eof = [true, true];
                inst.info.error = Some("output pipes still open after SIGKILL; stopped reading them".into());
                self.maybe_finish(id).await;
            }
            Msg::LeftoversDue { id } => {
                let Some(inst) = self.instances.get_mut(&id) else { return };
                if let Some(t) = inst.leftovers.take() {
                    self.dying.push(t);
                }
                let Some(pid) = inst.info.pid else { return };
                if self.rt.group_alive(pid) {
                    // SIGKILL lands when the kernel gets to it: the group stays tracked (the
                    // orphan guardian's) until it is seen empty.
                    let _ = self.rt.signal_group(pid, Signal::Kill);
                    inst.leftovers = Some(leftovers_check(&self.rt, &self.tx, id, super::LEFTOVERS_RECHECK));
                } else {
                    self.rt.release_group(pid);
                }
            }
            Msg::LinesGate { reply } => {
                // The publisher may have given up waiting; nothing to do then.
                let _ = reply.send(());
            }
            Msg::RestartDue { id } => {
                let Some(inst) = self.instances.get_mut(&id) else { return };
                if !inst.info.restart_scheduled || self.shutdown.is_some() {
                    return;
                }
                inst.info.restart_scheduled = false;
                let (script, restarts) = (inst.script.clone(), inst.info.restarts + 1);
                if self.current.get(&script.name) != Some(&id) {
                    return; // someone started the script again meanwhile
                }
                if let Err(e) = self.start(script, false, restarts).await {
                    tracing::warn!(error = %e, "automatic restart failed");
                }
            }
        }
    }

    async fn request(&mut self, r: Request) {
        self.rt.checkpoint("supervisor.request").await;
        if self.shutdown.is_some() {
            match r {
                Request::Shutdown { reply } => self.shutdown.get_or_insert_with(Vec::new).push(reply),
                // A second Ctrl-C during shutdown must still cut the grace short.
                Request::KillAll { reply } => self.kill_all(reply),
                other => refuse(other),
            }
            return;
        }
        match r {
            Request::Start { script, force, reply } => {
                let res = self.start(*script, force, 0).await;
                // Callers read `status()` right after the reply: it must already show this.
                self.publish_status();
                let _ = reply.send(res);
            }
            Request::Stop { target, reply } => match self.resolve(&target) {
                Err(e) => {
                    let _ = reply.send(Err(e));
                }
                Ok(id) => {
                    self.cancel_restarts(id);
                    self.stop(id, Some(reply));
                    if crate::mutants::active(crate::mutants::STOP_WAITS_INLINE) {
                        // Waits out the grace "under the lock": nothing else is handled meanwhile.
                        self.rt.sleep(self.cfg.stop_grace).await;
                    }
                }
            },
            Request::Restart { target, reply } => match self.resolve(&target) {
                Err(e) => {
                    let _ = reply.send(Err(e));
                }
                Ok(id) => {
                    let inst = self.instances.get_mut(&id).expect("resolved instance exists");
                    inst.info.restart_scheduled = false;
                    if inst.terminal() {
                        let script = inst.script.clone();
                        let res = self.start(script, true, 0).await;
                        self.publish_status();
                        let _ = reply.send(res);
                    } else if crate::mutants::active(crate::mutants::RESTART_OVERLAP) {
                        // Stop and start at once: the replacement runs beside the old one.
                        let script = inst.script.clone();
                        self.stop(id, None);
                        let res = self.start(script, true, 0).await;
                        self.publish_status();
                        let _ = reply.send(res);
                    } else {
                        inst.then_start.push(reply);
                        self.stop(id, None);
                    }
                }
            },
            Request::StopAll { reply } => {
                let ids: Vec<u64> = self.instances.iter().filter(|(_, i)| !i.terminal()).map(|(id, _)| *id).collect();
                for inst in self.instances.values_mut() {
                    inst.info.restart_scheduled = false;
                }
                for id in &ids {
                    self.cancel_restarts(*id);
                    self.stop(*id, None);
                }
                self.stop_all.push((ids, reply));
                self.settle_stop_all();
            }
            Request::KillAll { reply } => self.kill_all(reply),
            Request::Shutdown { reply } => {
                self.shutdown = Some(vec![reply]);
                let ids: Vec<u64> = self.instances.iter().filter(|(_, i)| !i.terminal()).map(|(id, _)| *id).collect();
                for inst in self.instances.values_mut() {
                    inst.info.restart_scheduled = false;
                }
                for id in ids {
                    self.stop(id, None);
                }
            }
        }
    }

    async fn start(&mut self, script: Script, force: bool, restarts: u32) -> Result<Started, SupervisorError> {
        if !force
            && let Some(id) = self.current.get(&script.name)
            && let Some(inst) = self.instances.get(id)
            && !inst.terminal()
        {
            return Ok(Started::AlreadyRunning(inst.process.clone()));
        }
        if let Some(prev) = self.current.get(&script.name).and_then(|id| self.instances.get_mut(id)) {
            prev.info.restart_scheduled = false;
        }
        let id = self.next_id;
        self.next_id += 1;
        let process = ProcessRef::new(id, script.name.as_str());
        let (program, args) = script.command.argv();
        let mut env = Vec::new();
        if self.cfg.force_colour {
            env.push(("FORCE_COLOR".to_string(), "1".to_string()));
            env.push(("CLICOLOR_FORCE".to_string(), "1".to_string()));
        }
        env.extend(script.env.iter().cloned());
        let spec = ProcessSpec { program, args, cwd: script.cwd.clone(), env };
        let now = self.now_ms();
        let mut info = ProcessInfo {
            id,
            script: script.name.clone(),
            pid: None,
            state: ProcState::Pending,
            restarts,
            started_ms: now,
            ended_ms: None,
            error: None,
            restart_scheduled: false,
        };
        self.current.insert(script.name.clone(), id);
        let mut child = match self.rt.spawn_process(&spec) {
            Ok(c) => c,
            Err(e) => {
                let err = SupervisorError::Spawn { script: script.name.clone(), message: e.to_string() };
                info.state = ProcState::Failed { exit: None };
                info.ended_ms = Some(now);
                info.error = Some(err.to_string());
                self.instances.insert(id, new_instance(info, process.clone(), script));
                self.emit(Event::SpawnFailed { process, error: Arc::from(e.to_string()) }, Vec::new()).await;
                return Err(err);
            }
        };
        // The spawn returns only once the child has exec'd (or failed to): in a simulation a
        // slow exec takes its time here, holding the dispatcher as it would in a real one.
        self.rt.checkpoint("supervisor.spawn").await;
        let pid = child.pid();
        info.pid = Some(pid);
        info.state = ProcState::Running;
        let mut gates = Vec::new();
        let mut inst = new_instance(info, process.clone(), script);
        let m = self.rt.metrics();
        // One set per instance, shared by its two streams: a URL is announced once.
        let urls = Arc::new(std::sync::Mutex::new(crate::detect::UrlSet::new()));
        for (stream, out) in [(Stream::Stdout, child.take_stdout()), (Stream::Stderr, child.take_stderr())] {
            let urls = if crate::mutants::active(crate::mutants::URLS_PER_STREAM) {
                Arc::new(std::sync::Mutex::new(crate::detect::UrlSet::new()))
            } else {
                urls.clone()
            };
            let Some(out) = out else {
                inst.eof[stream_index(stream)] = true;
                continue;
            };
            let (lines_tx, lines_rx) = mpsc::channel(super::DETECT_QUEUE_READS);
            let reader = Reader {
                process: process.clone(),
                max_line: self.cfg.max_line_bytes.max(1),
                batch_lines: self.cfg.batch_lines.max(1),
                split: m.counter("supervisor.lines_split", &process.name),
                overdrawn: m.counter("supervisor.lines_overdrawn", &process.name),
                tx: lines_tx,
            };
            let publisher = LinePublisher {
                rt: self.rt.clone(),
                bus: self.bus.clone(),
                process: process.clone(),
                stream,
                tx: self.tx.clone(),
                lines: m.counter("supervisor.lines", &process.name),
                detector: crate::detect::Detector::new(),
                urls,
                found: Vec::new(),
                started: {
                    let (tx, rx) = oneshot::channel();
                    gates.push(tx);
                    Some(rx)
                },
                out: Vec::new(),
            };
            inst.readers.push(spawn(&self.rt, "supervisor.reader", reader.run(out)));
            inst.readers.push(spawn(&self.rt, "supervisor.publisher", publisher.run(lines_rx)));
        }
        let tx = self.tx.clone();
        // Detached: it ends when the child is reaped, which every path guarantees (a stop
        // escalates to SIGKILL).
        let _waiter = spawn(&self.rt, "supervisor.wait", async move {
            let exit = child.wait().await.map_err(|e| e.to_string());
            let _ = tx.send(Msg::Waited { id, exit }).await;
        });
        self.instances.insert(id, inst);
        self.emit(Event::ProcessStarted { process: process.clone(), pid }, gates).await;
        Ok(Started::New(process))
    }

    /// SIGKILL now: every instance not yet ended is marked stopped and its group killed; the
    /// grace timers already running stay (their SIGKILL is then a no-op), and the usual EOF
    /// deadline follows. Groups with leftovers are killed and released too.
    fn kill_all(&mut self, reply: Reply<Vec<ProcessInfo>>) {
        let mut killed = Vec::new();
        let ids: Vec<u64> = self.instances.keys().copied().collect();
        for id in ids {
            // A kill is a stop too: it wins over a restart waiting for this instance.
            self.cancel_restarts(id);
            let Some(inst) = self.instances.get_mut(&id) else { continue };
            inst.info.restart_scheduled = false;
            let Some(pid) = inst.info.pid else { continue };
            if inst.terminal() {
                if let Some(t) = inst.leftovers.take() {
                    t.abort();
                    self.dying.push(t);
                    let _ = self.rt.signal_group(pid, Signal::Kill);
                    // Released once seen empty, as after the grace.
                    inst.leftovers = Some(leftovers_check(&self.rt, &self.tx, id, super::LEFTOVERS_RECHECK));
                }
                continue;
            }
            inst.stop_requested = true;
            inst.info.state = ProcState::Stopping;
            let _ = self.rt.signal_group(pid, Signal::Kill);
            killed.push(inst.info.clone());
            let t = self.timer("supervisor.timer", super::EOF_AFTER_KILL, Msg::EofDeadline { id });
            if let Some(inst) = self.instances.get_mut(&id) {
                inst.timers.push(t);
            }
        }
        let _ = reply.send(Ok(killed));
    }

    /// A user stop landed on instance `id`: restarts waiting for it to end are cancelled (the
    /// later request wins), and told so. The `STOP_LOST_IN_RESTART` mutant keeps them.
    fn cancel_restarts(&mut self, id: u64) {
        if crate::mutants::active(crate::mutants::STOP_LOST_IN_RESTART) {
            return;
        }
        let Some(inst) = self.instances.get_mut(&id) else { return };
        for r in std::mem::take(&mut inst.then_start) {
            let _ = r.send(Err(SupervisorError::RestartCancelled { script: inst.info.script.clone() }));
        }
    }

    fn stop(&mut self, id: u64, reply: Option<Reply<ProcessInfo>>) {
        let grace = self.cfg.stop_grace;
        let Some(inst) = self.instances.get_mut(&id) else { return };
        inst.info.restart_scheduled = false;
        if inst.terminal() {
            if let Some(r) = reply {
                let _ = r.send(Ok(inst.info.clone()));
            }
            return;
        }
        inst.stop_requested = true;
        inst.stop_waiters.extend(reply);
        if inst.info.state == ProcState::Running {
            inst.info.state = ProcState::Stopping;
            if let Some(pid) = inst.info.pid {
                let _ = self.rt.signal_group(pid, Signal::Terminate);
            }
            let t = self.timer("supervisor.timer", grace, Msg::GraceExpired { id });
            if let Some(inst) = self.instances.get_mut(&id) {
                inst.timers.push(t);
            }
        }
    }

    /// Ends instance `id` once both streams reached EOF and its leader was reaped.
    async fn maybe_finish(&mut self, id: u64) {
        let Some(inst) = self.instances.get_mut(&id) else { return };
        // The mutant ends an instance at its reap, as a naive supervisor does: its last lines
        // can follow its exit.
        let eof_needed = !crate::mutants::active(crate::mutants::EXIT_BEFORE_EOF);
        if inst.terminal() || eof_needed && !inst.eof.iter().all(|e| *e) {
            return;
        }
        let Some(exit) = inst.waited else { return };
        inst.info.state = if inst.stop_requested {
            ProcState::Stopped { exit: Some(exit) }
        } else if exit.success() {
            ProcState::Exited
        } else {
            ProcState::Failed { exit: Some(exit) }
        };
        if crate::mutants::active(crate::mutants::TORN_STATUS) {
            // The terminal state goes out before its end time is written, and the dispatcher
            // yields (as if awaiting the bus) in between.
            self.publish_status();
            crate::util::yield_now().await;
        }
        let Some(inst) = self.instances.get_mut(&id) else { return };
        inst.info.ended_ms = Some(self.rt.now().as_millis() as u64);
        // The mutant keeps an ended instance's timers running, as Brummer did.
        if !crate::mutants::active(crate::mutants::STALE_KILL_TIMER) {
            inst.cancel_timers(&mut self.dying);
        }
        // Keep only tasks not yet gone: bounded by what was cancelled recently.
        self.dying.retain_mut(|t| !t.is_finished());
        if let Some(pid) = inst.info.pid {
            if crate::mutants::active(crate::mutants::RELEASE_AT_REAP) {
                // Finished with the group at the leader's end, whatever is left in it.
                self.rt.release_group(pid);
            } else if !self.rt.group_alive(pid) {
                self.rt.release_group(pid);
            } else if self.cfg.leftovers == Leftovers::Stop {
                // The script left processes running in its group (`cmd &` with its output
                // sent elsewhere): stop them as a stop would, SIGKILL after the grace.
                let _ = self.rt.signal_group(pid, Signal::Terminate);
                inst.leftovers = Some(leftovers_check(&self.rt, &self.tx, id, self.cfg.stop_grace));
            }
            // Leftovers::Keep: the group stays tracked, so brum's exit stops it.
        }
        self.rt.checkpoint("supervisor.ended").await;
        let Some(inst) = self.instances.get_mut(&id) else { return };
        let process = inst.process.clone();
        let info = inst.info.clone();
        let stop_waiters = std::mem::take(&mut inst.stop_waiters);
        // The mutant counts restarts from zero again at each one, so the limit never bites.
        let restarts = if crate::mutants::active(crate::mutants::RESTART_UNLIMITED) { 0 } else { info.restarts };
        let restart = !inst.stop_requested
            && self.shutdown.is_none()
            && match inst.script.restart {
                RestartPolicy::Never => false,
                RestartPolicy::OnFailure => !exit.success(),
                RestartPolicy::Always => true,
            }
            && restarts < self.cfg.restart.max_restarts;
        let then_start = std::mem::take(&mut inst.then_start);
        let script = inst.script.clone();
        // Decide what follows before anyone can see this instance ended: a status showing it
        // terminal with no restart coming would let a watcher (`brum run`) finish early.
        if then_start.is_empty() && restart {
            if crate::mutants::active(crate::mutants::RESTART_DECIDED_LATE) {
                // The end goes out first; the restart is decided after a yield.
                self.publish_status();
                crate::util::yield_now().await;
            }
            let Some(inst) = self.instances.get_mut(&id) else { return };
            inst.info.restart_scheduled = true;
            let limits = self.cfg.restart;
            let factor = 1u32.checked_shl(info.restarts).unwrap_or(u32::MAX);
            let delay = limits.backoff.saturating_mul(factor).min(limits.backoff_max);
            let t = self.timer("supervisor.timer", delay, Msg::RestartDue { id });
            if let Some(inst) = self.instances.get_mut(&id) {
                inst.timers.push(t);
            }
        }
        let info = self.instances.get(&id).map_or(info, |i| i.info.clone());
        if crate::mutants::active(crate::mutants::DUPLICATE_EXIT) {
            // Both the reaper and the EOF path report the end, as in Brummer.
            self.emit(Event::ProcessExited { process: process.clone(), exit }, Vec::new()).await;
        }
        self.emit(Event::ProcessExited { process, exit }, Vec::new()).await;
        if !then_start.is_empty() {
            // The replacement starts before the status is published, for the same reason.
            let res = if self.shutdown.is_some() {
                Err(SupervisorError::ShutDown)
            } else {
                self.start(script, true, 0).await
            };
            self.publish_status();
            for r in then_start {
                let _ = r.send(res.clone());
            }
        } else if !crate::mutants::active(crate::mutants::SNAPSHOT_MISSES_ENDS) {
            self.publish_status();
        }
        for r in stop_waiters {
            let _ = r.send(Ok(info.clone()));
        }
        self.settle_stop_all();
    }

    fn settle_stop_all(&mut self) {
        let instances = &self.instances;
        let (done, waiting): (Vec<_>, Vec<_>) = std::mem::take(&mut self.stop_all)
            .into_iter()
            .partition(|(ids, _)| ids.iter().all(|id| instances.get(id).is_none_or(Instance::terminal)));
        self.stop_all = waiting;
        if !done.is_empty() {
            self.publish_status();
        }
        for (ids, reply) in done {
            let infos = ids.iter().filter_map(|id| self.instances.get(id)).map(|i| i.info.clone()).collect();
            let _ = reply.send(Ok(infos));
        }
    }
}

/// The timer that looks at instance `id`'s leftovers after `after` (`LeftoversDue`). A free
/// function so the dispatcher can arm it while it holds an instance.
fn leftovers_check<R: Runtime>(rt: &R, tx: &mpsc::Sender<Msg>, id: u64, after: Duration) -> Task<()> {
    let (sleeper, tx) = (rt.clone(), tx.clone());
    spawn(rt, "supervisor.leftovers", async move {
        sleeper.sleep(after).await;
        let _ = tx.send(Msg::LeftoversDue { id }).await;
    })
}

fn new_instance(info: ProcessInfo, process: ProcessRef, script: Script) -> Instance {
    Instance {
        info,
        process,
        script,
        eof: [false, false],
        waited: None,
        stop_requested: false,
        stop_waiters: Vec::new(),
        then_start: Vec::new(),
        timers: Vec::new(),
        readers: Vec::new(),
        leftovers: None,
    }
}

fn refuse(r: Request) {
    match r {
        Request::Start { reply, .. } | Request::Restart { reply, .. } => {
            let _ = reply.send(Err(SupervisorError::ShutDown));
        }
        Request::Stop { reply, .. } => {
            let _ = reply.send(Err(SupervisorError::ShutDown));
        }
        Request::StopAll { reply } | Request::Shutdown { reply } | Request::KillAll { reply } => {
            let _ = reply.send(Err(SupervisorError::ShutDown));
        }
    }
}
