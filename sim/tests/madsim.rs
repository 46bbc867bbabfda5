//! The madsim backend: a separate build (`RUSTFLAGS="--cfg madsim"`, its own target dir).
//! madsim picks a random ready task at every step, so these runs explore interleavings
//! inside one process that turmoil never does.
#![cfg(madsim)]

use std::ops::ControlFlow;

use brum_sim::harness::{self, Backend, RunSpec, Seeds, SweepOptions};
use brum_sim::scenarios::{BusKind, SCENARIOS};

fn seeds() -> u64 {
    std::env::var("BRUM_MADSIM_SEEDS").ok().and_then(|s| s.parse().ok()).unwrap_or(100)
}

#[test]
fn every_scenario_passes_and_replays_identically_over_the_seed_range() {
    // C-http does not pass under madsim yet: see the known-gap test below.
    let all: Vec<_> =
        SCENARIOS.iter().filter(|s| !brum_sim::scenarios::MADSIM_GAPS.iter().any(|(n, _)| *n == s.name)).collect();
    let n = seeds();
    let summary = harness::sweep(
        &all,
        Seeds::new(0, n).unwrap(),
        SweepOptions { check_determinism: true, ..SweepOptions::on(Backend::Madsim) },
        &|_| ControlFlow::Continue(()),
    )
    .unwrap();
    let lines: Vec<String> =
        summary.failures.iter().map(|(s, why)| harness::failure_line(s, "madsim-test", why)).collect();
    assert!(lines.is_empty(), "{} failures:\n{}", lines.len(), lines.join("\n"));
    assert_eq!(summary.runs, all.len() as u64 * n);
}

/// The oracle can fail: Brummer's shared-queue bus must be caught within 200 seeds.
#[test]
fn faulty_bus_is_caught_by_the_s_e4_sweep_within_200_seeds() {
    let s = harness::scenario("S-E4").unwrap();
    let first = (0..200).find_map(|seed| {
        let r =
            harness::run(RunSpec { scenario: s, seed, backend: Backend::Madsim, bus: BusKind::Faulty, mutant: None })
                .unwrap();
        r.outcome.err().map(|v| (seed, v))
    });
    let (seed, v) = first.expect("the S-E4 oracle missed the faulty bus on 200 seeds");
    assert!(v.oracle.starts_with("I3"), "seed {seed}: unexpected oracle {v}");
}

#[test]
fn event_orderings_of_fixed_seeds() {
    for s in SCENARIOS.iter().filter(|s| s.name.starts_with("S-")) {
        for seed in [1u64, 2] {
            let r =
                harness::run(RunSpec { scenario: s, seed, backend: Backend::Madsim, bus: BusKind::Real, mutant: None })
                    .unwrap();
            assert!(r.outcome.is_ok(), "{} seed {seed}: {:?}", s.name, r.outcome);
            insta::with_settings!({ snapshot_suffix => format!("{}_madsim_seed{seed}", s.name) }, {
                insta::assert_snapshot!("ordering", r.trace);
            });
        }
    }
}

/// Regression: madsim gave the listener `127.0.0.1:1` and the client's own end `0.0.0.0:1`,
/// so `connect_host("localhost")`'s first try, `[::1]:1`, connected the client to itself and
/// the stream was reset on its first write (C-http failed on every seed). Listeners at port 0
/// now get a port from the dynamic range.
#[test]
fn localhost_under_madsim_refuses_ipv6_and_reaches_the_ipv4_listener() {
    use brum_core::rt::{Listener, Network, spawn};
    use brum_sim::rt::{Madsim, MadsimRuntime, Noise};
    use tokio::io::{AsyncReadExt, AsyncWriteExt};

    let sim = madsim::runtime::Runtime::with_seed_and_config(1, madsim::Config::default());
    sim.block_on(async {
        let rt = MadsimRuntime::new(Madsim::new(), 1, Noise::default());
        let l = rt.bind("127.0.0.1:0".parse().unwrap()).await.unwrap();
        let port = l.local_addr().unwrap().port();
        let server = spawn(&rt, "greeter", async move {
            let (mut s, _) = l.accept().await.unwrap();
            s.write_all(b"hi").await.unwrap();
            s.flush().await.unwrap();
        });
        let v6 = rt.connect(format!("[::1]:{port}").parse().unwrap()).await.map(|_| ()).map_err(|e| e.kind());
        assert_eq!(v6, Err(std::io::ErrorKind::ConnectionRefused));
        let mut c = rt.connect_host("localhost", port).await.unwrap();
        let mut got = [0u8; 2];
        c.read_exact(&mut got).await.unwrap();
        assert_eq!(&got, b"hi");
        server.join().await.unwrap();
        drop(c);
        let e = rt.connect_host("localhost", port).await.map(|_| ()).unwrap_err();
        assert_eq!(
            e.to_string(),
            format!(
                "cannot connect to `localhost` port {port}: tried [::1]:{port} (connection refused), \
                 127.0.0.1:{port} (connection refused)"
            )
        );
    });
}

/// Known gap, pinned so that a fix shows: under madsim, C-http's first request fails on both
/// sides with `BodyWrite` / `ConnectionReset` (madsim's `poll_flush` finds the peer's receiving
/// end gone), on every seed. It is not the `[::1]` attempt (the same happens dialling
/// `127.0.0.1`) nor the client-port collision fixed above; the cause is not found yet. C-http
/// runs under tokio and turmoil. When this test fails, C-http passes under madsim: delete this
/// test and the filter in `every_scenario_passes_and_replays_identically_over_the_seed_range`.
#[test]
fn known_gap_c_http_under_madsim_resets_the_first_request() {
    let s = harness::scenario("C-http").unwrap();
    for seed in 0..3 {
        let r = harness::run(RunSpec { scenario: s, seed, backend: Backend::Madsim, bus: BusKind::Real, mutant: None })
            .unwrap();
        let v = r.outcome.expect_err("C-http passes under madsim now: remove the known gap");
        assert!(v.message.contains("GET /hello") && v.message.contains("ConnectionReset"), "seed {seed}: {v}");
    }
}
