//! Faults injected through the simulated runtime's hooks, not by editing the code under test:
//!
//! - the wall clock jumps (forwards or back) and drifts, while the monotonic clock keeps time;
//! - brum crashes at a named checkpoint (`Hooks::checkpoint`): from that moment none of its
//!   tasks runs again, while the processes it started carry on, as after a real crash. The
//!   scenario then plays brum's orphan guardian, which kills every group brum had not released;
//! - a checkpoint is slowed by a delay on each pass (slow bus workers, slow supervisor steps).
//!
//! A scenario reaches the plan through `Cx::faults`; the harness gives every simulated run one
//! (empty unless the scenario sets it), and the real runtime none.

use std::collections::BTreeMap;
use std::future::Future;
use std::pin::Pin;
use std::sync::Mutex;
use std::sync::atomic::{AtomicBool, Ordering};
use std::task::{Context, Poll};
use std::time::Duration;

/// Every named checkpoint in brum's core (`rt.checkpoint(NAME)`), the places a crash or a
/// delay can be planted. `sim/tests/faults.rs` checks each is reached.
pub const CHECKPOINTS: &[&str] = &[
    "bus.worker.batch_done",
    "supervisor.spawn",
    "supervisor.reaped",
    "supervisor.request",
    "supervisor.ended",
    "session.supervisor_down",
];

/// What happens at a checkpoint.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AtCheckpoint {
    Go,
    Delay(Duration),
    /// brum has crashed: the task never runs again.
    Crash,
}

#[derive(Debug, Default)]
struct Plan {
    /// Nanoseconds added to the wall clock by jumps.
    jumped_nanos: i128,
    /// Parts per million the wall clock runs fast (negative: slow), and from when.
    drift_ppm: i64,
    drift_from: Duration,
    /// Drift accumulated before the current rate was set.
    drifted_nanos: i128,
    /// Crash at the n-th pass (from 0) of this checkpoint.
    crash_at: Option<(&'static str, u32)>,
    delays: BTreeMap<&'static str, Duration>,
    /// Passes per checkpoint so far.
    passes: BTreeMap<&'static str, u32>,
    crashed_at: Option<(&'static str, u32)>,
}

/// One run's fault plan. Cheap to share (`Arc`).
#[derive(Debug, Default)]
pub struct Faults {
    plan: Mutex<Plan>,
    crashed: AtomicBool,
    crash: tokio::sync::Notify,
}

impl Faults {
    fn plan(&self) -> std::sync::MutexGuard<'_, Plan> {
        self.plan.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Moves the wall clock by `by` (negative: back). The monotonic clock does not move.
    pub fn jump_wall(&self, by_nanos: i128) {
        self.plan().jumped_nanos += by_nanos;
    }

    /// From `now` (the simulation's elapsed time) on, the wall clock runs `ppm` parts per
    /// million fast (negative: slow).
    pub fn drift_wall(&self, now: Duration, ppm: i64) {
        let mut p = self.plan();
        p.drifted_nanos += drift(p.drift_ppm, now.saturating_sub(p.drift_from));
        p.drift_ppm = ppm;
        p.drift_from = now;
    }

    /// The wall clock's offset from the simulation's true time at `now`, in nanoseconds.
    pub fn wall_offset(&self, now: Duration) -> i128 {
        let p = self.plan();
        p.jumped_nanos + p.drifted_nanos + drift(p.drift_ppm, now.saturating_sub(p.drift_from))
    }

    /// Crash brum at the `occurrence`-th pass (from 0) of checkpoint `at`.
    pub fn crash_at(&self, at: &'static str, occurrence: u32) {
        self.plan().crash_at = Some((at, occurrence));
    }

    /// Delay every pass of checkpoint `at` by `by`.
    pub fn delay_at(&self, at: &'static str, by: Duration) {
        self.plan().delays.insert(at, by);
    }

    /// Counts a pass of checkpoint `at` and says what to do there.
    pub fn on_checkpoint(&self, at: &'static str) -> AtCheckpoint {
        if self.crashed() {
            return AtCheckpoint::Crash;
        }
        let mut p = self.plan();
        let pass = p.passes.entry(at).or_default();
        let n = *pass;
        *pass += 1;
        if p.crash_at == Some((at, n)) {
            p.crashed_at = Some((at, n));
            drop(p);
            self.crashed.store(true, Ordering::SeqCst);
            self.crash.notify_waiters();
            return AtCheckpoint::Crash;
        }
        p.delays.get(at).map_or(AtCheckpoint::Go, |d| AtCheckpoint::Delay(*d))
    }

    pub fn crashed(&self) -> bool {
        self.crashed.load(Ordering::SeqCst)
    }

    /// Where brum crashed, if it did.
    pub fn crashed_at(&self) -> Option<(&'static str, u32)> {
        self.plan().crashed_at
    }

    /// Passes per checkpoint so far, by name.
    pub fn passes(&self) -> BTreeMap<&'static str, u32> {
        self.plan().passes.clone()
    }

    /// Resolves when brum crashes (at once if it has).
    pub async fn until_crash(&self) {
        loop {
            let mut n = std::pin::pin!(self.crash.notified());
            n.as_mut().enable();
            if self.crashed() {
                return;
            }
            n.await;
        }
    }
}

fn drift(ppm: i64, over: Duration) -> i128 {
    over.as_nanos() as i128 * ppm as i128 / 1_000_000
}

/// A brum task: polled as usual until brum crashes, never again after.
pub(crate) struct UntilCrash<F> {
    pub(crate) fut: F,
    pub(crate) faults: std::sync::Arc<Faults>,
}

impl<F: Future<Output = ()> + Unpin> Future for UntilCrash<F> {
    type Output = ();
    fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<()> {
        if self.faults.crashed() {
            return Poll::Pending;
        }
        Pin::new(&mut self.fut).poll(cx)
    }
}
