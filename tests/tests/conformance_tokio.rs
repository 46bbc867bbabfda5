//! The conformance scenario bodies against the real runtime: tokio's multi-thread scheduler,
//! real sockets, real `sh` children. The same bodies pass under turmoil and madsim (brum-sim).

use brum::rt::TokioRuntime;
use brum_sim::conformance::{self, Programs};
use brum_sim::scenarios::{BusKind, Cx};
use brum_sim::trace::Trace;

fn cx() -> Cx<TokioRuntime> {
    Cx { rt: TokioRuntime::with_seed(1), trace: Trace::new(), seed: 1, bus: BusKind::Real }
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
