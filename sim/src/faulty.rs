//! A deliberately broken event bus, for proving the oracles can fail. Test-only: no scenario
//! uses it unless asked (`--bus faulty`).
//!
//! It is Brummer's design (`pkg/events/events.go`): one shared queue of (event, handler) jobs
//! and several workers popping from it. A worker may be descheduled between taking a job and
//! running it, so a later event for the same subscriber can overtake an earlier one, and a
//! handler can run concurrently with itself (races S-E4 and I3).

use std::collections::VecDeque;
use std::pin::pin;
use std::sync::atomic::{AtomicBool, AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Duration;

use brum_core::bus::{Envelope, Event, EventId};
use brum_core::rt::{Runtime, Task, spawn};
use tokio::sync::Notify;

pub type SharedHandler = Arc<dyn Fn(&Arc<Envelope>) + Send + Sync + 'static>;

/// One queued delivery: the event, the handler, and how long the handler takes.
type Job = (Arc<Envelope>, SharedHandler, Option<Duration>);

struct Inner<R: Runtime> {
    rt: R,
    next_id: AtomicU64,
    /// Each handler, and how long each invocation takes (a slow handler, as
    /// `SubscribeOptions::slow` injects on the real bus).
    handlers: Mutex<Vec<(SharedHandler, Option<Duration>)>>,
    jobs: Mutex<VecDeque<Job>>,
    work: Notify,
    idle: Notify,
    running: AtomicUsize,
    stopped: AtomicBool,
    workers: Mutex<Vec<Task<()>>>,
}

fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|e| e.into_inner())
}

/// Brummer's shared-queue bus.
pub struct FaultyBus<R: Runtime> {
    inner: Arc<Inner<R>>,
}

impl<R: Runtime> Clone for FaultyBus<R> {
    fn clone(&self) -> Self {
        FaultyBus { inner: self.inner.clone() }
    }
}

impl<R: Runtime> FaultyBus<R> {
    pub fn new(rt: R, workers: usize) -> Self {
        let inner = Arc::new(Inner {
            rt,
            next_id: AtomicU64::new(1),
            handlers: Mutex::new(Vec::new()),
            jobs: Mutex::new(VecDeque::new()),
            work: Notify::new(),
            idle: Notify::new(),
            running: AtomicUsize::new(0),
            stopped: AtomicBool::new(false),
            workers: Mutex::new(Vec::new()),
        });
        let tasks = (0..workers).map(|_| spawn(&inner.rt, "faulty.worker", worker(inner.clone()))).collect();
        *lock(&inner.workers) = tasks;
        FaultyBus { inner }
    }

    pub fn subscribe(&self, h: SharedHandler) {
        lock(&self.inner.handlers).push((h, None));
    }

    /// A handler whose every invocation takes `dwell` of virtual time (the worker running it
    /// waits that long before it takes another job).
    pub fn subscribe_slow(&self, h: SharedHandler, dwell: Duration) {
        lock(&self.inner.handlers).push((h, Some(dwell)));
    }

    pub async fn publish(&self, event: Event) -> EventId {
        let id = EventId(self.inner.next_id.fetch_add(1, Ordering::Relaxed));
        let env = Arc::new(Envelope { id, at: self.inner.rt.now(), wall: self.inner.rt.wall(), event });
        let handlers = lock(&self.inner.handlers).clone();
        for (h, dwell) in handlers {
            lock(&self.inner.jobs).push_back((env.clone(), h, dwell));
            self.inner.work.notify_one();
        }
        id
    }

    /// Waits for the queue to empty, then stops the workers.
    pub async fn shutdown(&self) {
        loop {
            let mut idle = pin!(self.inner.idle.notified());
            idle.as_mut().enable();
            if lock(&self.inner.jobs).is_empty() && self.inner.running.load(Ordering::SeqCst) == 0 {
                break;
            }
            idle.await;
        }
        self.inner.stopped.store(true, Ordering::SeqCst);
        self.inner.work.notify_waiters();
        let workers = std::mem::take(&mut *lock(&self.inner.workers));
        for w in workers {
            let _ = w.join().await;
        }
    }
}

async fn worker<R: Runtime>(inner: Arc<Inner<R>>) {
    loop {
        let mut work = pin!(inner.work.notified());
        work.as_mut().enable();
        if inner.stopped.load(Ordering::SeqCst) {
            return;
        }
        let job = {
            let mut jobs = lock(&inner.jobs);
            let job = jobs.pop_front();
            if job.is_some() {
                inner.running.fetch_add(1, Ordering::SeqCst);
            }
            job
        };
        let Some((env, h, dwell)) = job else {
            inner.idle.notify_waiters();
            work.await;
            continue;
        };
        // The flaw: between taking the job and running it, another worker may take and run
        // the next job for the same handler.
        inner.rt.checkpoint("faulty.before_handler").await;
        h(&env);
        if let Some(d) = dwell {
            inner.rt.sleep(d).await;
        }
        inner.running.fetch_sub(1, Ordering::SeqCst);
        inner.idle.notify_waiters();
    }
}
