//! Connect-by-host and the C-http scenario under turmoil: `localhost` tries `[::1]` then
//! `127.0.0.1`, a failure names every address tried, other names resolve through turmoil's
//! host names, and the C-http oracle catches its planted mutant.

mod common;

use std::ops::ControlFlow;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use brum_core::rt::{ConnectError, Listener, Network};
use brum_sim::harness::{self, Backend, RunSpec, Seeds, SweepOptions};
use brum_sim::rt::{Noise, Turmoil, TurmoilRuntime};
use brum_sim::scenarios::BusKind;
use common::in_turmoil;
use tokio::io::{AsyncReadExt, AsyncWriteExt};

#[test]
fn localhost_reaches_a_server_listening_only_on_ipv4_loopback() {
    let (tried_first, got) = in_turmoil(1, |rt| async move {
        let listener = rt.bind("127.0.0.1:5173".parse().unwrap()).await.unwrap();
        let server = tokio::spawn(async move {
            let (mut s, _) = listener.accept().await.unwrap();
            s.write_all(b"hi").await.unwrap();
        });
        // What `localhost` tries first, alone: turmoil refuses it like a real kernel.
        let v6 = rt.connect("[::1]:5173".parse().unwrap()).await.map(|_| ()).map_err(|e| e.kind());
        let mut s = rt.connect_host("localhost", 5173).await.unwrap();
        let mut got = String::new();
        s.read_to_string(&mut got).await.unwrap();
        server.await.unwrap();
        (v6, got)
    });
    assert_eq!(tried_first, Err(std::io::ErrorKind::ConnectionRefused));
    assert_eq!(got, "hi");
}

#[test]
fn nothing_listening_names_host_port_and_every_address_tried() {
    let e = in_turmoil(1, |rt| async move { rt.connect_host("localhost", 5173).await.map(|_| ()).unwrap_err() });
    assert_eq!(
        e.to_string(),
        "cannot connect to `localhost` port 5173: tried [::1]:5173 (connection refused), \
         127.0.0.1:5173 (connection refused)"
    );
    assert_eq!(e.tried(), ["[::1]:5173".parse().unwrap(), "127.0.0.1:5173".parse().unwrap()]);
}

#[test]
fn names_resolve_through_turmoils_hosts_and_unknown_names_fail_resolution() {
    let out: Arc<Mutex<Vec<String>>> = Arc::default();
    let mut sim = turmoil::Builder::new().rng_seed(3).epoch(std::time::UNIX_EPOCH).build();
    sim.host("devserver", || async {
        let rt = TurmoilRuntime::new(Turmoil::new(), 3, Noise::default());
        let listener = rt.bind("0.0.0.0:3000".parse().unwrap()).await?;
        loop {
            let (mut s, _) = listener.accept().await?;
            s.write_all(b"from devserver").await?;
        }
    });
    let o = out.clone();
    sim.client("agent", async move {
        let rt = TurmoilRuntime::new(Turmoil::new(), 3, Noise::default());
        let mut s = rt.connect_host("devserver", 3000).await?;
        let mut got = String::new();
        s.read_to_string(&mut got).await?;
        o.lock().unwrap().push(got);
        let e = rt.connect_host("nowhere", 3000).await.map(|_| ()).unwrap_err();
        assert!(matches!(e, ConnectError::Resolve { .. }), "{e:?}");
        o.lock().unwrap().push(e.to_string());
        Ok(())
    });
    sim.run().unwrap();
    let out = out.lock().unwrap().clone();
    assert_eq!(out[0], "from devserver");
    assert_eq!(out[1], "cannot resolve `nowhere` (port 3000): no ip address found for a hostname: nowhere");
}

fn c_http(seed: u64, bus: BusKind) -> harness::RunResult {
    let spec =
        RunSpec { scenario: harness::scenario("C-http").unwrap(), seed, backend: Backend::Turmoil, bus, mutant: None };
    harness::run(spec).unwrap()
}

#[test]
fn c_http_passes_and_replays_identically() {
    let summary = harness::sweep(
        &[harness::scenario("C-http").unwrap()],
        Seeds::new(0, 32).unwrap(),
        SweepOptions { check_determinism: true, ..SweepOptions::on(Backend::Turmoil) },
        &|_| ControlFlow::Continue(()),
    )
    .unwrap();
    assert_eq!(summary.failure_count(), 0, "{:?}", summary.failures);
    let r = c_http(7, BusKind::Real);
    assert!(r.trace.contains("conn 0 POST /echo: 200 (98311 bytes)"), "{}", r.trace);
    assert!(r.trace.contains("conn 1 GET /hello: 200 (15 bytes)"), "{}", r.trace);
}

/// The oracle can fail: a server that drops the echoed body is caught on every seed.
#[test]
fn c_http_oracle_catches_a_server_that_drops_the_body() {
    for seed in 0..8 {
        let r = c_http(seed, BusKind::Faulty);
        let v = r.outcome.expect_err("the C-http oracle missed the body-dropping server");
        assert_eq!(v.oracle, "H1 http round trip", "seed {seed}: {v}");
        assert!(v.message.starts_with("POST /echo: got 200 with 0 bytes, expected 200 with 98311 bytes"), "{v}");
    }
}

/// Virtual time: the four requests take a handful of simulated milliseconds, not a
/// second of polling.
#[test]
fn c_http_takes_little_virtual_time() {
    let r = c_http(1, BusKind::Real);
    let last = r.trace.lines().last().unwrap().to_string();
    let ms: u64 = last.split_whitespace().nth(1).unwrap().trim_end_matches("ms").parse().unwrap();
    assert!(ms < Duration::from_secs(1).as_millis() as u64, "{last}");
}
