use std::any::Any;
use std::fmt;
use std::future::{Future, poll_fn};
use std::panic::{AssertUnwindSafe, catch_unwind};
use std::pin::Pin;
use std::task::Poll;

use tokio::sync::oneshot;

use super::Runtime;
use crate::metrics::Gauge;

/// A type-erased future, as handed to [`Spawner::spawn_raw`].
pub type BoxFuture = Pin<Box<dyn Future<Output = ()> + Send + 'static>>;

/// Schedules futures. Implementations only schedule: naming, live-task counting and panic
/// capture are done once, for every runtime, by [`spawn`].
pub trait Spawner: Send + Sync + 'static {
    fn spawn_raw(&self, name: &'static str, fut: BoxFuture) -> AbortHandle;
}

/// Cancels a spawned task at its next await point.
pub struct AbortHandle(Box<dyn Fn() + Send + Sync>);

impl AbortHandle {
    pub fn new(abort: impl Fn() + Send + Sync + 'static) -> Self {
        AbortHandle(Box::new(abort))
    }

    pub fn abort(&self) {
        (self.0)()
    }
}

impl fmt::Debug for AbortHandle {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("AbortHandle")
    }
}

/// Why [`Task::join`] has no value.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum JoinError {
    #[error("task `{task}` panicked: {message}")]
    Panicked { task: &'static str, message: String },
    #[error("task `{task}` was aborted or its runtime shut down")]
    Cancelled { task: &'static str },
}

/// A spawned task. Dropping it detaches the task (it keeps running); [`Task::abort`] stops it.
#[derive(Debug)]
pub struct Task<T> {
    name: &'static str,
    rx: oneshot::Receiver<Result<T, JoinError>>,
    abort: AbortHandle,
    /// The outcome, once [`Task::is_finished`] has seen it.
    done: Option<Result<T, JoinError>>,
}

impl<T> Task<T> {
    pub fn name(&self) -> &'static str {
        self.name
    }

    /// Waits for the task. A panic inside it comes back as [`JoinError::Panicked`], never
    /// swallowed.
    pub async fn join(mut self) -> Result<T, JoinError> {
        if let Some(done) = self.done.take() {
            return done;
        }
        match self.rx.await {
            Ok(r) => r,
            Err(_) => Err(JoinError::Cancelled { task: self.name }),
        }
    }

    pub fn abort(&self) {
        self.abort.abort()
    }

    /// Whether the task has ended (completed, panicked or been cancelled), without waiting.
    pub fn is_finished(&mut self) -> bool {
        if self.done.is_some() {
            return true;
        }
        match self.rx.try_recv() {
            Ok(v) => self.done = Some(v),
            Err(oneshot::error::TryRecvError::Empty) => return false,
            Err(oneshot::error::TryRecvError::Closed) => {
                self.done = Some(Err(JoinError::Cancelled { task: self.name }))
            }
        }
        true
    }
}

/// Decrements the live-task gauge when the task's future is dropped: on completion, panic
/// or abort alike, so a leak shows as a gauge that does not return to its baseline.
struct LiveGuard(Gauge);

impl Drop for LiveGuard {
    fn drop(&mut self) {
        self.0.add(-1);
    }
}

fn panic_message(p: &(dyn Any + Send)) -> String {
    if let Some(s) = p.downcast_ref::<&str>() {
        (*s).to_string()
    } else if let Some(s) = p.downcast_ref::<String>() {
        s.clone()
    } else {
        "non-string panic payload".to_string()
    }
}

/// Spawns `fut` as a named task on `rt`, counted in the `tasks.live{name}` gauge (and
/// `tasks.spawned{name}`), with its panic captured for [`Task::join`] and counted in
/// `tasks.panicked{name}`.
pub fn spawn<R, F>(rt: &R, name: &'static str, fut: F) -> Task<F::Output>
where
    R: Runtime,
    F: Future + Send + 'static,
    F::Output: Send + 'static,
{
    let (tx, rx) = oneshot::channel();
    let live = rt.metrics().gauge("tasks.live", name);
    let panicked = rt.metrics().counter("tasks.panicked", name);
    rt.metrics().counter("tasks.spawned", name).inc();
    live.add(1);
    let guard = LiveGuard(live);
    let mut fut = Box::pin(fut);
    let wrapped = async move {
        let res = poll_fn(|cx| match catch_unwind(AssertUnwindSafe(|| fut.as_mut().poll(cx))) {
            Ok(Poll::Ready(v)) => Poll::Ready(Ok(v)),
            Ok(Poll::Pending) => Poll::Pending,
            Err(p) => Poll::Ready(Err(panic_message(&*p))),
        })
        .await;
        let res = res.map_err(|message| {
            panicked.inc();
            JoinError::Panicked { task: name, message }
        });
        // Count the task as ended before a joiner can observe its result.
        drop(guard);
        // The receiver may be gone (a detached task); nothing to report then.
        let _ = tx.send(res);
    };
    let abort = rt.spawn_raw(name, Box::pin(wrapped));
    Task { name, rx, abort, done: None }
}
