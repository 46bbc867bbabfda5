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
    let all: Vec<_> = SCENARIOS.iter().collect();
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

/// Why the madsim backend wraps its streams (`MadsimStream`): madsim's own stream fails a
/// flush with nothing to send once the peer's end is dropped, where a kernel socket's flush
/// does nothing. hyper flushes often with nothing to send, so C-http failed under madsim on
/// every seed (`BodyWrite` / `ConnectionReset` on whichever side flushed after the other had
/// let the connection go). The wrapper's empty flush succeeds; bytes written to the departed
/// peer still fail, as on a kernel socket. If madsim's own empty flush starts succeeding, the
/// first assertion shows it and the wrapper can go.
#[test]
fn an_empty_flush_after_the_peer_left_succeeds_and_a_write_fails() {
    use brum_core::rt::{Listener, Network};
    use brum_sim::rt::{Madsim, MadsimRuntime, MadsimStream, Noise};
    use tokio::io::AsyncWriteExt;

    let sim = madsim::runtime::Runtime::with_seed_and_config(1, madsim::Config::default());
    sim.block_on(async {
        let rt = MadsimRuntime::new(Madsim::new(), 1, Noise::default());
        let l = rt.bind("127.0.0.1:0".parse().unwrap()).await.unwrap();
        let addr = l.local_addr().unwrap();
        // Two connections whose server ends are dropped at once: one checked raw, one wrapped.
        let mut raw = rt.connect(addr).await.unwrap().into_inner();
        drop(l.accept().await.unwrap());
        let mut wrapped: MadsimStream = rt.connect(addr).await.unwrap();
        drop(l.accept().await.unwrap());

        let e = raw.flush().await.expect_err("madsim's empty flush to a departed peer succeeds now");
        assert_eq!(e.kind(), std::io::ErrorKind::ConnectionReset);
        wrapped.flush().await.expect("an empty flush does nothing, as on a kernel socket");
        wrapped.write_all(b"GET / HTTP/1.1\r\n\r\n").await.unwrap();
        let e = wrapped.flush().await.expect_err("bytes to a departed peer are an error");
        assert_eq!(e.kind(), std::io::ErrorKind::ConnectionReset);
    });
}
