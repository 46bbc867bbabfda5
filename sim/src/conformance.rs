//! Conformance scenarios: the same bodies run against the real tokio runtime (brum-tests),
//! turmoil and madsim, proving the three implementations of the seam agree.

use std::sync::{Arc, Mutex};
use std::time::Duration;

use brum_core::rt::{
    ChildProcess, Exit, HYPER_IO_READ_CHUNK, HyperExecutor, HyperIo, JoinError, Listener, ProcessSpec, Runtime, Signal,
    spawn,
};
use brum_core::util::yield_now;
use http_body_util::{BodyExt, Full};
use hyper::body::{Bytes, Incoming};
use hyper::service::service_fn;
use hyper::{Method, Request, Response, StatusCode};
use tokio::io::{AsyncBufReadExt, AsyncReadExt, AsyncWriteExt, BufReader};

use crate::ensure;
use crate::procs::{Program, SimProcessTable, Step};
use crate::scenarios::{BusKind, Cx, Outcome, violation};

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

/// The C-http mutant's bug, planted when the scenario runs with `--bus faulty`: the server
/// answers `/echo` with `200 OK` and an empty body, as a proxy that drops request bodies would.
fn http_mutant<R: Runtime>(cx: &Cx<R>) -> bool {
    cx.bus == BusKind::Faulty
}

/// Bytes the C-http client posts to `/echo`: more than one [`HYPER_IO_READ_CHUNK`], so the
/// adapter's reads are cut and hyper reassembles them; seeded, so a lost or reordered byte
/// cannot go unnoticed.
const HTTP_ECHO_BYTES: usize = HYPER_IO_READ_CHUNK + HYPER_IO_READ_CHUNK / 2 + 7;

/// Connections the C-http server accepts: a keep-alive one carrying three requests, then one
/// closed by the client's `Connection: close`.
const HTTP_CONNECTIONS: usize = 2;

type HttpBody = Full<Bytes>;

/// The C-http server's routes.
async fn http_route(req: Request<Incoming>, drop_body: bool) -> Result<Response<HttpBody>, hyper::Error> {
    let reply = |status: StatusCode, body: Bytes| {
        let mut resp = Response::new(Full::new(body));
        *resp.status_mut() = status;
        resp
    };
    Ok(match (req.method(), req.uri().path()) {
        (&Method::GET, "/hello") => reply(StatusCode::OK, Bytes::from_static(b"hello from brum")),
        (&Method::POST, "/echo") => {
            let body = req.into_body().collect().await?.to_bytes();
            reply(StatusCode::OK, if drop_body { Bytes::new() } else { body })
        }
        _ => reply(StatusCode::NOT_FOUND, Bytes::from_static(b"no route")),
    })
}

/// One request over `sender`: the status and the whole body.
async fn http_call(
    sender: &mut hyper::client::conn::http1::SendRequest<HttpBody>,
    req: Request<HttpBody>,
) -> Result<(StatusCode, Bytes), crate::scenarios::Violation> {
    sender.ready().await.map_err(|e| io_violation("client ready", e))?;
    let resp = sender.send_request(req).await.map_err(|e| io_violation("send request", format!("{e:?}")))?;
    let status = resp.status();
    let body = resp.into_body().collect().await.map_err(|e| io_violation("response body", e))?.to_bytes();
    Ok((status, body))
}

fn http_request(method: Method, path: &str, body: Bytes, close: bool) -> Request<HttpBody> {
    let mut b = Request::builder().method(method).uri(path).header(hyper::header::HOST, "localhost");
    if close {
        b = b.header(hyper::header::CONNECTION, "close");
    }
    b.body(Full::new(body)).expect("a request built from literals")
}

/// A hyper HTTP/1 server and client over the seam: the server binds 127.0.0.1 through
/// `Network::bind` and serves each accepted connection on a [`HyperExecutor`] task; the client
/// dials `localhost` through `Network::connect_host` (so `[::1]` is tried and refused first)
/// and sends three requests on one keep-alive connection, then one on a connection it closes.
/// Oracle: every status and body is the expected one (the echo returns the seeded bytes
/// posted), neither side reports a protocol error, and every connection task ends.
pub async fn http_roundtrip<R: Runtime>(cx: &Cx<R>) -> Outcome {
    let listener =
        cx.rt.bind("127.0.0.1:0".parse().expect("literal address")).await.map_err(|e| io_violation("bind", e))?;
    let port = listener.local_addr().map_err(|e| io_violation("local_addr", e))?.port();
    let conns = HyperExecutor::new(cx.rt.clone(), "conformance.http-conn");
    let server_errors = Arc::new(Mutex::new(Vec::<String>::new()));
    let drop_body = http_mutant(cx);
    let server = {
        let (conns, errors) = (conns.clone(), server_errors.clone());
        spawn(&cx.rt, "conformance.http-server", async move {
            for _ in 0..HTTP_CONNECTIONS {
                let (stream, _) = listener.accept().await?;
                let errors = errors.clone();
                let conn = hyper::server::conn::http1::Builder::new()
                    // hyper would stamp a `Date` from std's `SystemTime::now`, which no
                    // simulator controls, and would time header reads with a hyper `Timer`,
                    // which the seam does not provide.
                    .auto_date_header(false)
                    .header_read_timeout(None)
                    .serve_connection(HyperIo::new(stream), service_fn(move |req| http_route(req, drop_body)));
                hyper::rt::Executor::execute(&conns, async move {
                    if let Err(e) = conn.await {
                        errors.lock().unwrap_or_else(|e| e.into_inner()).push(format!("{e:?}"));
                    }
                });
            }
            Ok::<(), std::io::Error>(())
        })
    };

    let mut payload = vec![0u8; HTTP_ECHO_BYTES];
    for chunk in payload.chunks_mut(8) {
        let n = cx.rt.next_u64().to_le_bytes();
        chunk.copy_from_slice(&n[..chunk.len()]);
    }
    let payload = Bytes::from(payload);
    let mut seen = Vec::new();
    for (conn_no, requests) in [
        vec![
            (Method::GET, "/hello", Bytes::new(), false),
            (Method::POST, "/echo", payload.clone(), false),
            (Method::GET, "/missing", Bytes::new(), false),
        ],
        vec![(Method::GET, "/hello", Bytes::new(), true)],
    ]
    .into_iter()
    .enumerate()
    {
        let stream = cx.rt.connect_host("localhost", port).await.map_err(|e| io_violation("connect localhost", e))?;
        let (mut sender, conn) = hyper::client::conn::http1::handshake(HyperIo::new(stream))
            .await
            .map_err(|e| io_violation("client handshake", e))?;
        let client_conn = spawn(&cx.rt, "conformance.http-client-conn", conn);
        for (method, path, body, close) in requests {
            let (status, got) =
                match http_call(&mut sender, http_request(method.clone(), path, body.clone(), close)).await {
                    Ok(r) => r,
                    // hyper reports a dead connection as a closed channel; its task knows why.
                    Err(v) => {
                        let why = match client_conn.join().await {
                            Ok(Ok(())) => "the connection ended cleanly".to_string(),
                            Ok(Err(e)) => format!("the connection failed: {e:?}"),
                            Err(e) => e.to_string(),
                        };
                        let server = server_errors.lock().unwrap_or_else(|e| e.into_inner()).clone();
                        return Err(violation(
                            v.oracle,
                            format!("{method} {path}: {} ({why}; server errors so far: {server:?})", v.message),
                        ));
                    }
                };
            cx.log(
                "http",
                "response",
                format!("conn {conn_no} {method} {path}: {} ({} bytes)", status.as_u16(), got.len()),
            );
            seen.push((method, path, status, body, got));
        }
        drop(sender);
        client_conn
            .join()
            .await
            .map_err(|e| io_violation("client connection task", e))?
            .map_err(|e| io_violation("client connection", e))?;
    }
    server.join().await.map_err(|e| io_violation("server task", e))?.map_err(|e| io_violation("server accept", e))?;

    // The server's connection tasks end once their clients are gone; give them a bounded
    // stretch of virtual (or real) time to see the end of stream.
    let live = cx.rt.metrics().gauge("tasks.live", "conformance.http-conn");
    for _ in 0..1000 {
        if live.get() == 0 {
            break;
        }
        cx.rt.sleep(Duration::from_millis(1)).await;
    }
    ensure!(live.get() == 0, "H3 http connections end", "{} server connection tasks still live", live.get());
    let spawned = cx.rt.metrics().counter("tasks.spawned", "conformance.http-conn").get();
    ensure!(
        spawned == HTTP_CONNECTIONS as u64,
        "H3 http connections end",
        "the executor spawned {spawned} connection tasks for {HTTP_CONNECTIONS} connections"
    );
    let errors = server_errors.lock().unwrap_or_else(|e| e.into_inner()).clone();
    ensure!(errors.is_empty(), "H2 no protocol errors", "server connections failed: {errors:?}");

    for (method, path, status, sent, got) in seen {
        let (want_status, want_body) = match path {
            "/hello" => (StatusCode::OK, Bytes::from_static(b"hello from brum")),
            "/echo" => (StatusCode::OK, sent),
            _ => (StatusCode::NOT_FOUND, Bytes::from_static(b"no route")),
        };
        ensure!(
            status == want_status && got == want_body,
            "H1 http round trip",
            "{method} {path}: got {} with {} bytes, expected {} with {} bytes{}",
            status.as_u16(),
            got.len(),
            want_status.as_u16(),
            want_body.len(),
            if got.len() == want_body.len() && got != want_body { " (same length, different bytes)" } else { "" }
        );
    }
    cx.log("http", "done", format!("{HTTP_CONNECTIONS} connections, 4 requests, echo of {HTTP_ECHO_BYTES} bytes"));
    Ok(())
}
