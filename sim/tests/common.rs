//! Shared by the sim crate's test binaries: run an async body inside a turmoil simulation.

use std::future::Future;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use brum_sim::rt::{Noise, Turmoil, TurmoilRuntime};

/// Runs `body` on a fresh turmoil runtime seeded with `seed`; returns its value.
pub fn in_turmoil<T, F, Fut>(seed: u64, body: F) -> T
where
    T: 'static,
    F: FnOnce(TurmoilRuntime) -> Fut + 'static,
    Fut: Future<Output = T> + 'static,
{
    let slot: Arc<Mutex<Option<T>>> = Arc::new(Mutex::new(None));
    let out = slot.clone();
    let mut sim = turmoil::Builder::new()
        .rng_seed(seed)
        .simulation_duration(Duration::from_secs(120))
        .epoch(std::time::UNIX_EPOCH)
        .build();
    sim.client("test", async move {
        let rt = TurmoilRuntime::new(Turmoil::new(), seed, Noise::default());
        let v = body(rt).await;
        *out.lock().unwrap() = Some(v);
        Ok(())
    });
    sim.run().expect("simulation finished within its budget");
    let v = slot.lock().unwrap().take();
    v.expect("body produced a value")
}
