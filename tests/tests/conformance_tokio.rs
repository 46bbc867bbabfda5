//! The conformance scenario bodies against the real runtime: tokio's multi-thread scheduler,
//! real sockets, real `sh` children. The same bodies pass under turmoil and madsim (brum-sim).

use brum::rt::TokioRuntime;
use brum_core::rt::{Listener, Network};
use brum_sim::conformance::{self, Programs};
use brum_sim::scenarios::{BusKind, Cx};
use brum_sim::trace::Trace;
use tokio::io::{AsyncReadExt, AsyncWriteExt};

fn cx() -> Cx<TokioRuntime> {
    Cx { rt: TokioRuntime::with_seed(1), trace: Trace::new(), seed: 1, bus: BusKind::Real, faults: None }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sleep_ordering() {
    conformance::sleep_ordering(&cx()).await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn spawn_join() {
    brum_sim::harness::quiet_intentional_panics();
    conformance::spawn_join(&cx()).await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn tcp_echo() {
    conformance::tcp_echo(&cx()).await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn child_prints_and_exits() {
    conformance::child_prints_and_exits(&cx(), &Programs::shell()).await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn child_killed_by_signal() {
    conformance::child_killed_by_signal(&cx(), &Programs::shell()).await.unwrap();
}

/// The bus scenarios' bodies run under the real runtime too.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bus_scenarios_pass_under_real_tokio() {
    brum_sim::harness::quiet_intentional_panics();
    for name in ["S-E2", "S-E4", "S-E5", "S-E6", "S-E9"] {
        let cx = cx();
        let programs = Programs::shell();
        let r = brum_sim::scenarios::body(brum_sim::harness::scenario(name).unwrap().name, &cx, &programs).await;
        assert!(r.is_ok(), "{name}: {r:?}");
    }
}

/// The log scenarios' bodies (and the EventBus ones added since) run under the real runtime
/// too, where they need no simulated process table. Not S-E7: it needs a frozen clock, which
/// only a simulator has. S-L7, S-L8 and the supervisor ones run simulated programs.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn log_scenarios_pass_under_real_tokio() {
    for name in ["S-L1", "S-L2", "S-L3", "S-L4", "S-L5", "S-L6", "S-E1", "S-E3", "S-E8"] {
        let cx = cx();
        let programs = Programs::shell();
        let r = brum_sim::scenarios::body(brum_sim::harness::scenario(name).unwrap().name, &cx, &programs).await;
        assert!(r.is_ok(), "{name}: {r:?}");
    }
}

/// S-M12 (many MCP clients, some abandoning their waits) with real `sh` children: no
/// subscription, wait or task outlives its client, and every client that waited got its answer.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn mcp_clients_scenario_passes_under_real_tokio() {
    for seed in 1..=3 {
        let cx = Cx { rt: TokioRuntime::with_seed(seed), seed, ..cx() };
        let r = brum_sim::scenarios::body(brum_sim::harness::scenario("S-M12").unwrap().name, &cx, &Programs::shell())
            .await;
        assert!(r.is_ok(), "seed {seed}: {r:?}");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn http_roundtrip() {
    conformance::http_roundtrip(&cx()).await.unwrap();
}

/// The C-http oracle fails on real sockets too when the server drops the echoed body.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn http_roundtrip_oracle_catches_a_server_that_drops_the_body() {
    let cx = Cx { bus: BusKind::Faulty, ..cx() };
    let v = conformance::http_roundtrip(&cx).await.expect_err("the oracle missed the body-dropping server");
    assert_eq!(v.oracle, "H1 http round trip", "{v}");
}

/// A port nothing listens on, on either loopback (bound, then released).
async fn free_port(rt: &TokioRuntime) -> u16 {
    let l = rt.bind("127.0.0.1:0".parse().unwrap()).await.unwrap();
    l.local_addr().unwrap().port()
}

async fn read_greeting(rt: &TokioRuntime, host: &str, port: u16) -> String {
    let mut s = rt.connect_host(host, port).await.unwrap();
    let mut got = String::new();
    s.read_to_string(&mut got).await.unwrap();
    got
}

async fn greet_once(listener: impl Listener + 'static) {
    let (mut s, _) = listener.accept().await.unwrap();
    s.write_all(b"hi").await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn localhost_reaches_a_server_listening_only_on_ipv4_loopback() {
    let rt = TokioRuntime::with_seed(1);
    let listener = rt.bind("127.0.0.1:0".parse().unwrap()).await.unwrap();
    let port = listener.local_addr().unwrap().port();
    let server = tokio::spawn(greet_once(listener));
    assert_eq!(read_greeting(&rt, "localhost", port).await, "hi");
    server.await.unwrap();
}

/// `localhost` reaches `::1` even where the resolver would not offer it (this machine's
/// /etc/hosts maps `localhost` to 127.0.0.1 only).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn localhost_reaches_a_server_listening_only_on_ipv6_loopback() {
    let rt = TokioRuntime::with_seed(1);
    let listener = match rt.bind("[::1]:0".parse().unwrap()).await {
        Ok(l) => l,
        Err(e) => {
            eprintln!("SKIPPED: this machine cannot bind the IPv6 loopback [::1]: {e}");
            return;
        }
    };
    let port = listener.local_addr().unwrap().port();
    let resolver: Vec<_> = rt.resolve("localhost", port).await.unwrap();
    eprintln!("the OS resolver gives localhost as {resolver:?}");
    let server = tokio::spawn(greet_once(listener));
    assert_eq!(read_greeting(&rt, "localhost", port).await, "hi");
    server.await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn nothing_listening_names_host_port_and_every_address_tried() {
    let rt = TokioRuntime::with_seed(1);
    let port = free_port(&rt).await;
    let e = rt.connect_host("localhost", port).await.map(|_| ()).unwrap_err();
    let msg = e.to_string();
    assert!(msg.starts_with(&format!("cannot connect to `localhost` port {port}: tried [::1]:{port} (")), "{msg}");
    assert!(msg.ends_with(&format!(", 127.0.0.1:{port} (connection refused)")), "{msg}");
    let both: [std::net::SocketAddr; 2] = [format!("[::1]:{port}").parse().unwrap(), ([127, 0, 0, 1], port).into()];
    assert_eq!(e.tried(), both);
    assert_eq!(std::io::Error::from(e).kind(), std::io::ErrorKind::ConnectionRefused);
}

/// Names other than `localhost` go to the OS resolver (tokio's `lookup_host`).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn other_names_go_through_the_os_resolver() {
    let rt = TokioRuntime::with_seed(1);
    let addrs = rt.resolve("localhost", 80).await.unwrap();
    assert!(addrs.contains(&([127, 0, 0, 1], 80).into()), "{addrs:?}");
    let listener = rt.bind("127.0.0.1:0".parse().unwrap()).await.unwrap();
    let port = listener.local_addr().unwrap().port();
    let server = tokio::spawn(greet_once(listener));
    assert_eq!(read_greeting(&rt, "127.0.0.1", port).await, "hi");
    server.await.unwrap();
}
