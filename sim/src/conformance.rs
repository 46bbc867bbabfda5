//! Conformance scenarios: the same bodies run against the real tokio runtime (brum-tests),
//! turmoil and madsim, proving the three implementations of the seam agree.

use std::sync::{Arc, Mutex};
use std::time::Duration;

use brum_core::rt::{ChildProcess, Exit, JoinError, Listener, ProcessSpec, Runtime, Signal, spawn};
use brum_core::util::yield_now;
use tokio::io::{AsyncBufReadExt, AsyncReadExt, AsyncWriteExt, BufReader};

use crate::ensure;
use crate::procs::{Program, SimProcessTable, Step};
use crate::scenarios::{Cx, Outcome, violation};

/// The programs the child scenarios run, per backend.
#[derive(Debug, Clone)]
pub struct Programs {
    /// Prints `one` on stdout and `two` on stderr, exits with code 3.
    pub print_exit: ProcessSpec,
    /// Prints `ready`, then runs until signalled.
    pub sleeper: ProcessSpec,
    /// Ignores SIGTERM, prints `ready`, then runs until SIGKILL.
    pub term_ignorer: ProcessSpec,
    /// The simulated process table, when these are simulated programs (supervisor scenarios
    /// register and inspect programs through it).
    pub table: Option<SimProcessTable>,
}

impl Programs {
    /// Real programs through `sh`.
    pub fn shell() -> Self {
        let sh = |script: &str| ProcessSpec::new("sh").arg("-c").arg(script);
        Programs {
            print_exit: sh("echo one; echo two >&2; exit 3"),
            sleeper: sh("echo ready; exec sleep 30"),
            term_ignorer: sh("trap '' TERM; echo ready; sleep 30; sleep 30"),
            table: None,
        }
    }

    /// Scripted equivalents, registered in `table`.
    pub fn simulated(table: &SimProcessTable) -> Self {
        table.register(
            "print-exit",
            Program::new(vec![Step::Out("one".into()), Step::Err("two".into()), Step::Exit(3)]),
        );
        table.register("sleeper", Program::new(vec![Step::Out("ready".into()), Step::Hang]));
        table.register("term-ignorer", Program::new(vec![Step::Out("ready".into()), Step::Hang]).ignoring_term());
        crate::scenarios::register_programs(table);
        Programs {
            print_exit: ProcessSpec::new("print-exit"),
            sleeper: ProcessSpec::new("sleeper"),
            term_ignorer: ProcessSpec::new("term-ignorer"),
            table: Some(table.clone()),
        }
    }
}

fn io_violation(what: &str, e: impl std::fmt::Display) -> crate::scenarios::Violation {
    violation("runtime conformance", format!("{what}: {e}"))
}

/// Three tasks sleeping 30, 10 and 20 ms wake in time order, each no earlier than asked.
pub async fn sleep_ordering<R: Runtime>(cx: &Cx<R>) -> Outcome {
    let woke = Arc::new(Mutex::new(Vec::new()));
    let start = cx.rt.now();
    let tasks: Vec<_> = [30u64, 10, 20]
        .into_iter()
        .map(|ms| {
            let (rt, woke) = (cx.rt.clone(), woke.clone());
            spawn(&cx.rt, "conformance.sleeper", async move {
                rt.sleep(Duration::from_millis(ms)).await;
                let at = rt.now().saturating_since(start);
                woke.lock().unwrap_or_else(|e| e.into_inner()).push((ms, at));
            })
        })
        .collect();
    for t in tasks {
        t.join().await.map_err(|e| io_violation("join", e))?;
    }
    let woke = woke.lock().unwrap_or_else(|e| e.into_inner()).clone();
    let order: Vec<u64> = woke.iter().map(|(ms, _)| *ms).collect();
    cx.log("conformance", "woke", format!("{order:?}"));
    ensure!(order == [10, 20, 30], "sleep ordering", "woke in order {order:?}");
    for (ms, at) in woke {
        ensure!(at >= Duration::from_millis(ms), "sleep ordering", "sleep({ms}ms) woke after {at:?}");
    }
    Ok(())
}

/// A task's value, panic and cancellation come back through join; live tasks return to
/// their baseline.
pub async fn spawn_join<R: Runtime>(cx: &Cx<R>) -> Outcome {
    let m = cx.rt.metrics().clone();
    let baseline = m.gauge_total("tasks.live");
    let v = spawn(&cx.rt, "conformance.value", async { 6 * 7 }).join().await;
    ensure!(v == Ok(42), "spawn/join value", "join gave {v:?}");
    let p = spawn(&cx.rt, "conformance.panic", async {
        if true {
            panic!("intentional panic (C-spawn)");
        }
    })
    .join()
    .await;
    let ok = matches!(&p, Err(JoinError::Panicked { message, .. }) if message.contains("intentional panic"));
    ensure!(ok, "spawn/join surfaces panics", "join gave {p:?}");
    let hung = spawn(&cx.rt, "conformance.hung", std::future::pending::<()>());
    hung.abort();
    let a = hung.join().await;
    ensure!(matches!(a, Err(JoinError::Cancelled { .. })), "abort cancels", "join gave {a:?}");
    // On a multi-threaded runtime the aborted future is dropped on another thread; give it
    // a bounded number of turns.
    for _ in 0..1000 {
        if m.gauge_total("tasks.live") == baseline {
            break;
        }
        yield_now().await;
    }
    let live = m.gauge_total("tasks.live");
    ensure!(live == baseline, "live tasks return to baseline", "{live} live, baseline {baseline}");
    ensure!(
        m.counter("tasks.panicked", "conformance.panic").get() == 1,
        "panics counted",
        "tasks.panicked not incremented"
    );
    cx.log("conformance", "spawn", "value, panic and abort observed");
    Ok(())
}

/// A loopback listener echoes what a client sends.
pub async fn tcp_echo<R: Runtime>(cx: &Cx<R>) -> Outcome {
    let listener =
        cx.rt.bind("127.0.0.1:0".parse().expect("literal address")).await.map_err(|e| io_violation("bind", e))?;
    let addr = listener.local_addr().map_err(|e| io_violation("local_addr", e))?;
    let server = spawn(&cx.rt, "conformance.echo", async move {
        let (mut s, _) = listener.accept().await?;
        let mut buf = vec![0u8; 64];
        let n = s.read(&mut buf).await?;
        s.write_all(&buf[..n]).await?;
        s.flush().await?;
        Ok::<usize, std::io::Error>(n)
    });
    let mut c = cx.rt.connect(addr).await.map_err(|e| io_violation("connect", e))?;
    c.write_all(b"ping\n").await.map_err(|e| io_violation("write", e))?;
    c.flush().await.map_err(|e| io_violation("flush", e))?;
    let mut got = [0u8; 5];
    c.read_exact(&mut got).await.map_err(|e| io_violation("read", e))?;
    let n = server.join().await.map_err(|e| io_violation("server", e))?.map_err(|e| io_violation("server io", e))?;
    ensure!(&got == b"ping\n" && n == 5, "tcp echo", "echoed {:?} ({n} bytes)", String::from_utf8_lossy(&got));
    cx.log("conformance", "echo", "ping echoed over loopback");
    Ok(())
}

/// Reads a whole stream to a string.
async fn read_all(r: Option<impl tokio::io::AsyncRead + Unpin>) -> std::io::Result<String> {
    let mut s = String::new();
    if let Some(mut r) = r {
        r.read_to_string(&mut s).await?;
    }
    Ok(s)
}

/// A child prints on both streams and exits with code 3.
pub async fn child_prints_and_exits<R: Runtime>(cx: &Cx<R>, programs: &Programs) -> Outcome {
    let mut child = cx.rt.spawn_process(&programs.print_exit).map_err(|e| io_violation("spawn", e))?;
    let (out, err) = (child.take_stdout(), child.take_stderr());
    let (out, err, exit) = tokio::join!(read_all(out), read_all(err), child.wait());
    let out = out.map_err(|e| io_violation("stdout", e))?;
    let err = err.map_err(|e| io_violation("stderr", e))?;
    let exit = exit.map_err(|e| io_violation("wait", e))?;
    cx.log("conformance", "child", format!("stdout={out:?} stderr={err:?} {exit}"));
    ensure!(out == "one\n" && err == "two\n", "child output", "stdout {out:?}, stderr {err:?}");
    ensure!(exit == Exit::Code(3), "child exit", "exit {exit}");
    Ok(())
}

async fn wait_ready<C: ChildProcess>(child: &mut C) -> Result<BufReader<C::Out>, crate::scenarios::Violation> {
    let out = child.take_stdout().ok_or_else(|| io_violation("stdout", "missing"))?;
    let mut out = BufReader::new(out);
    let mut line = String::new();
    out.read_line(&mut line).await.map_err(|e| io_violation("read", e))?;
    ensure!(line == "ready\n", "child output", "first line {line:?}");
    Ok(out)
}

/// SIGTERM ends a child; a child ignoring SIGTERM survives it and dies of SIGKILL.
pub async fn child_killed_by_signal<R: Runtime>(cx: &Cx<R>, programs: &Programs) -> Outcome {
    let mut child = cx.rt.spawn_process(&programs.sleeper).map_err(|e| io_violation("spawn", e))?;
    let _out = wait_ready(&mut child).await?;
    child.signal(Signal::Terminate).map_err(|e| io_violation("signal", e))?;
    let exit = child.wait().await.map_err(|e| io_violation("wait", e))?;
    cx.log("conformance", "term", format!("sleeper: {exit}"));
    ensure!(exit == Exit::Signaled(15), "SIGTERM ends a child", "exit {exit}");

    let mut stubborn = cx.rt.spawn_process(&programs.term_ignorer).map_err(|e| io_violation("spawn", e))?;
    let _out = wait_ready(&mut stubborn).await?;
    stubborn.signal(Signal::Terminate).map_err(|e| io_violation("signal", e))?;
    // Absence of an exit can only be shown by waiting a while; wait() is cancel-safe.
    let early = tokio::select! {
        biased;
        r = stubborn.wait() => Some(r),
        _ = cx.rt.sleep(Duration::from_millis(300)) => None,
    };
    if let Some(r) = early {
        return Err(violation("SIGTERM can be ignored", format!("child exited on SIGTERM: {r:?}")));
    }
    stubborn.signal(Signal::Kill).map_err(|e| io_violation("signal", e))?;
    let exit = stubborn.wait().await;
    cx.log("conformance", "kill", format!("term-ignorer: {exit:?}"));
    ensure!(matches!(exit, Ok(Exit::Signaled(9))), "SIGKILL ends a child ignoring SIGTERM", "exit {exit:?}");
    Ok(())
}
