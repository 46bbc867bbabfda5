//! The EventBus: typed events, counter ids, bounded per-subscriber mailboxes drained by a
//! bounded worker pool.
//!
//! Guarantees (each has a property test in brum-sim `tests/bus_props.rs` and a simulation oracle in brum-sim):
//! - ids come from a counter: unique, increasing in publish order;
//! - each subscriber sees the events of one publisher in publish order (per-subscriber FIFO);
//! - a handler never runs concurrently with itself;
//! - after [`EventBus::unsubscribe`] returns, the handler is not running and never runs again;
//! - a panicking handler is isolated (the others still get every event) and counted;
//! - a full mailbox applies its subscriber's [`Backpressure`], and every drop is counted;
//! - at most `workers` handler invocations run at once, and no task is ever spawned per event;
//! - [`EventBus::shutdown`] drains (or reports what it could not deliver), after which
//!   `publish` fails with [`Closed`] and no handler runs.

mod event;
mod eventbus;
mod mailbox;

pub use event::{Envelope, Event, EventId, EventKind, InstanceId, KindSet, Location, Priority, ProcessRef, Stream};
pub use eventbus::{BusConfig, Closed, EventBus, ShutdownReport, SubscribeOptions, SubscriptionId, Undelivered};
pub use mailbox::{Backpressure, DropReason, SubscriberStats};
