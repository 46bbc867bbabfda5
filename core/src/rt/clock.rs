use std::future::Future;
use std::time::{Duration, SystemTime};

/// A monotonic instant: the offset from the runtime's own epoch. Never a std `Instant`, so a
/// simulated runtime can start every run at zero and traces carry virtual times.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Default)]
pub struct Mono(pub Duration);

impl Mono {
    pub const ZERO: Mono = Mono(Duration::ZERO);

    /// Time from `earlier` to `self`, zero if `earlier` is later.
    pub fn saturating_since(self, earlier: Mono) -> Duration {
        self.0.saturating_sub(earlier.0)
    }

    pub fn as_millis(self) -> u128 {
        self.0.as_millis()
    }
}

impl std::ops::Add<Duration> for Mono {
    type Output = Mono;
    fn add(self, rhs: Duration) -> Mono {
        Mono(self.0 + rhs)
    }
}

/// Time, read and waited on through the runtime.
pub trait Clock: Send + Sync + 'static {
    /// Monotonic time since the runtime's epoch.
    fn now(&self) -> Mono;
    /// Wall-clock time, for log timestamps and display only (it may jump in simulation).
    fn wall(&self) -> SystemTime;
    /// Completes after `d` of this runtime's time has passed.
    fn sleep(&self, d: Duration) -> impl Future<Output = ()> + Send + 'static;
}

impl serde::Serialize for Mono {
    /// Milliseconds since the runtime started, as the JSON event stream's `time_ms`.
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_u64(self.as_millis() as u64)
    }
}
