//! MCP over Streamable HTTP on brum's own hyper listener: a gate that checks Host, Origin, the
//! bearer token and the body size before anything reaches rmcp, then rmcp's streamable HTTP
//! service at `/mcp`. Both protocol eras share the endpoint: rmcp answers `initialize`
//! clients with sessions (`Mcp-Session-Id`, the GET stream) and 2026-07-28 clients
//! (`server/discover`, `_meta` on every request) statelessly.

use std::convert::Infallible;
use std::io;
use std::net::{Ipv4Addr, SocketAddr};
use std::sync::Arc;
use std::time::Duration;

use http_body_util::combinators::BoxBody;
use http_body_util::{BodyExt, Full};
use hyper::body::{Bytes, Incoming};
use hyper::header::{AUTHORIZATION, CONTENT_LENGTH, CONTENT_TYPE, HOST, ORIGIN, WWW_AUTHENTICATE};
use hyper::{Request, Response, StatusCode};
use hyper_util::rt::TokioIo;
use rmcp::transport::StreamableHttpServerConfig;
use rmcp::transport::StreamableHttpService;
use rmcp::transport::streamable_http_server::session::SessionManager;
use rmcp::transport::streamable_http_server::session::local::LocalSessionManager;
use tokio::net::TcpListener;
use tokio::sync::{Semaphore, watch};
use tokio::task::JoinSet;

use brum_core::mcp::{HTTP_REFUSAL_REASONS, HTTP_REFUSED, ServerInfo};
use brum_core::metrics::{Counter, Metrics};
use brum_core::rt::Runtime;

use super::ToolsSetup;
use super::conn::{Shared, peer_closed};
use super::handler::Handler;

/// The path the MCP endpoint is mounted at.
pub const MCP_PATH: &str = "/mcp";

/// The port `brum serve` asks for when none is given.
pub const DEFAULT_PORT: u16 = 7777;

/// The largest request body accepted: a JSON-RPC message from an agent is a few KiB at most
/// (tool arguments are names, regexes and numbers), so 1 MiB leaves room for any honest call and
/// refuses a flood with 413 before it is buffered.
pub const BODY_BYTES_MAX: usize = 1024 * 1024;

/// Open connections at once: many agents and editors each keep one or two, far below this; a
/// client that opens more is refused (and counted in [`HttpStats::refused_connections`]) rather
/// than allowed to exhaust file descriptors.
pub const CONNECTIONS_MAX: usize = 256;

/// SSE keep-alive comments on long streams (the GET stream, a long follow), so proxies and
/// clients do not close an idle stream.
const SSE_KEEP_ALIVE: Duration = Duration::from_secs(15);

/// The pause after a failed `accept` (out of file descriptors): long enough not to spin, short
/// enough that service resumes promptly once connections close.
const ACCEPT_BACKOFF: Duration = Duration::from_millis(50);

/// How long open connections get to finish their requests once the server is stopping.
const SHUTDOWN_GRACE: Duration = Duration::from_secs(2);

/// Worker threads of the runtime that serves MCP requests.
pub const SERVE_THREADS: usize = 2;

/// The hosts a request may name (with brum's port): loopback only, the DNS-rebinding defence.
const LOOPBACK_HOSTS: [&str; 3] = ["localhost", "127.0.0.1", "[::1]"];

/// How the HTTP front end is set up.
#[derive(Debug, Clone)]
pub struct HttpOptions {
    /// The port to ask for (0: any free port). If it is taken, a free one is used instead.
    pub port: u16,
    /// Clients must send `Authorization: Bearer <token>` when set.
    pub token: Option<String>,
    /// Requests with a larger body get 413.
    pub body_limit: usize,
    /// Idle legacy MCP sessions are dropped after this.
    pub session_idle: Duration,
    /// Legacy MCP sessions open at once (`mcp_sessions_max`); an `initialize` beyond gets 503.
    pub sessions_max: usize,
    /// How many nice steps below brum the serving threads run (`mcp_nice`, Linux only).
    /// Requests are served on their own runtime so that, when the CPU is saturated, the path
    /// from a child's pipe to the log store keeps its share: an ingest that falls behind fills
    /// the pipes and slows the dev servers themselves, while an agent's call can wait a
    /// little. Without contention it makes no difference. At 19 the scheduler weighs a serving
    /// thread at 15 against 1024 for each of brum's others; at 10, 110.
    pub nice: i32,
}

impl Default for HttpOptions {
    fn default() -> Self {
        HttpOptions {
            port: DEFAULT_PORT,
            token: None,
            body_limit: BODY_BYTES_MAX,
            session_idle: Duration::from_secs(300),
            sessions_max: 64,
            nice: 19,
        }
    }
}

/// What the gate refused, and the connections turned away: the counters
/// `mcp.http_refused{reason}` of the session's metrics, which `about` reports.
#[derive(Debug, Clone)]
pub struct HttpStats {
    pub refused_connections: Counter,
    pub bad_host: Counter,
    pub bad_origin: Counter,
    pub bad_token: Counter,
    pub too_large: Counter,
    /// `initialize` refused because `sessions_max` sessions were open.
    pub sessions_full: Counter,
}

impl HttpStats {
    /// The counters in `metrics`, one per reason of [`HTTP_REFUSAL_REASONS`].
    pub fn new(metrics: &Metrics) -> HttpStats {
        let c = |reason: &str| {
            debug_assert!(HTTP_REFUSAL_REASONS.contains(&reason), "{reason} is not a documented reason");
            metrics.counter(HTTP_REFUSED, reason)
        };
        HttpStats {
            bad_host: c("host"),
            bad_origin: c("origin"),
            bad_token: c("token"),
            too_large: c("too_large"),
            sessions_full: c("sessions_full"),
            refused_connections: c("connections"),
        }
    }
}

/// A running HTTP front end. [`McpHttp::stop`] ends it.
pub struct McpHttp {
    /// `http://127.0.0.1:PORT/mcp`.
    pub url: String,
    pub addr: SocketAddr,
    /// The port asked for, when it was taken and another was used.
    pub fallback_from: Option<u16>,
    pub stats: Arc<HttpStats>,
    stop: watch::Sender<bool>,
    task: tokio::task::JoinHandle<()>,
    /// The runtime the requests are served on (see [`HttpOptions::nice`]); `None` once shut down.
    serving: Option<tokio::runtime::Runtime>,
}

impl McpHttp {
    /// Stops accepting, ends the MCP sessions and their streams, and waits (a short grace) for
    /// the open requests.
    pub async fn stop(mut self) {
        let _ = self.stop.send(true);
        let _ = (&mut self.task).await;
        // The accept loop closed every session and waited for its worker; what is left of rmcp's
        // tasks ends here.
        if let Some(rt) = self.serving.take() {
            rt.shutdown_background();
        }
    }
}

impl Drop for McpHttp {
    fn drop(&mut self) {
        // Dropping a runtime from async code panics; this neither blocks nor waits.
        if let Some(rt) = self.serving.take() {
            rt.shutdown_background();
        }
    }
}

/// The runtime MCP requests are served on: [`SERVE_THREADS`] workers, each lowered by `nice`
/// steps when it starts.
fn serving_runtime(nice: i32) -> io::Result<tokio::runtime::Runtime> {
    tokio::runtime::Builder::new_multi_thread()
        .worker_threads(SERVE_THREADS)
        .thread_name("brum-mcp")
        .on_thread_start(move || lower_this_thread(nice))
        .enable_all()
        .build()
}

/// Lowers the calling thread's priority by `steps` (Linux keeps a nice value per thread, and
/// `setpriority` on the caller's own id sets only its own). Elsewhere, and if it fails, the
/// thread keeps brum's priority.
fn lower_this_thread(steps: i32) {
    #[cfg(target_os = "linux")]
    if steps > 0 {
        use rustix::process::{getpriority_process, setpriority_process};
        let lowered = getpriority_process(None).and_then(|nice| setpriority_process(None, (nice + steps).min(19)));
        if let Err(e) = lowered {
            tracing::debug!(error = %e, "an MCP serving thread keeps brum's priority");
        }
    }
    #[cfg(not(target_os = "linux"))]
    let _ = steps;
}

/// Binds 127.0.0.1:`port` (or a free port when it is taken) and serves MCP on it over `session`.
pub async fn start(setup: ToolsSetup, opts: HttpOptions) -> io::Result<McpHttp> {
    let serving = serving_runtime(opts.nice)?;
    let (listener, fallback_from) = bind(opts.port)?;
    // Registered with the serving runtime's reactor, as the connections it accepts will be.
    let listener = {
        let _in = serving.enter();
        TcpListener::from_std(listener)?
    };
    let addr = listener.local_addr()?;
    let url = format!("http://{addr}{MCP_PATH}");
    let version = setup.info.version.clone();
    let info = ServerInfo { mcp_url: Some(url.clone()), ..setup.info.clone() };
    let stats = HttpStats::new(setup.session.rt.metrics());
    let handler = Handler::new(ToolsSetup { info, ..setup }.build(), &version);
    let mut manager = LocalSessionManager::default();
    manager.session_config.keep_alive = Some(opts.session_idle);
    let config = StreamableHttpServerConfig::default()
        // The gate checks both first; rmcp's own checks stay on as a second line.
        .with_allowed_hosts(["localhost", "127.0.0.1", "::1"])
        .with_allowed_origins(loopback_origins())
        .with_max_request_body_bytes(opts.body_limit)
        .with_sse_keep_alive(Some(SSE_KEEP_ALIVE));
    let manager = Arc::new(manager);
    let mcp = StreamableHttpService::new(move || Ok(handler.for_session()), manager.clone(), config);
    let gate = Arc::new(Gate {
        port: addr.port(),
        token: opts.token,
        body_limit: opts.body_limit,
        sessions_max: opts.sessions_max,
        sessions: manager,
    });
    let stats = Arc::new(stats);
    let (stop, stopped) = watch::channel(false);
    let task = serving.spawn(accept_loop(listener, gate, mcp, stats.clone(), stopped));
    Ok(McpHttp { url, addr, fallback_from, stats, stop, task, serving: Some(serving) })
}

/// Origins a browser page on this machine sends (any port: the MCP Inspector and the user's own
/// dev pages), in rmcp's pattern syntax.
fn loopback_origins() -> Vec<String> {
    ["http", "https"]
        .iter()
        .flat_map(|scheme| LOOPBACK_HOSTS.iter().map(move |h| format!("{scheme}://{h}:*")))
        .collect()
}

/// 127.0.0.1:`port`, or any free port when `port` is taken (returned as the fallback's cause).
/// Non-blocking, for tokio. (Binding does not block.)
fn bind(port: u16) -> io::Result<(std::net::TcpListener, Option<u16>)> {
    let (listener, fallback) = match std::net::TcpListener::bind((Ipv4Addr::LOCALHOST, port)) {
        Ok(l) => (l, None),
        Err(e) if port != 0 && e.kind() == io::ErrorKind::AddrInUse => {
            (std::net::TcpListener::bind((Ipv4Addr::LOCALHOST, 0))?, Some(port))
        }
        Err(e) => return Err(e),
    };
    listener.set_nonblocking(true)?;
    Ok((listener, fallback))
}

type Mcp = StreamableHttpService<Handler, LocalSessionManager>;

async fn accept_loop(
    listener: TcpListener,
    gate: Arc<Gate>,
    mcp: Mcp,
    stats: Arc<HttpStats>,
    mut stopped: watch::Receiver<bool>,
) {
    let slots = Arc::new(Semaphore::new(CONNECTIONS_MAX));
    let mut conns = JoinSet::new();
    loop {
        tokio::select! {
            biased;
            _ = until_stopped(&mut stopped) => break,
            accepted = listener.accept() => {
                let Ok((stream, _)) = accepted else {
                    // Out of file descriptors, most likely: let connections close first
                    // rather than spin on the error.
                    tokio::time::sleep(ACCEPT_BACKOFF).await;
                    continue;
                };
                // Answers are small and a client waits for each: without TCP_NODELAY the
                // response's last segment waits on the client's delayed ACK (40 ms a call).
                if let Err(e) = stream.set_nodelay(true) {
                    tracing::debug!(error = %e, "TCP_NODELAY not set on an MCP connection");
                }
                let Ok(slot) = slots.clone().try_acquire_owned() else {
                    stats.refused_connections.inc();
                    drop(stream);
                    continue;
                };
                let (gate, mcp, stats, mut stopped) = (gate.clone(), mcp.clone(), stats.clone(), stopped.clone());
                conns.spawn(async move {
                    let service = hyper::service::service_fn(move |req| {
                        let (gate, mcp, stats) = (gate.clone(), mcp.clone(), stats.clone());
                        async move { Ok::<_, Infallible>(route(req, &gate, &mcp, &stats).await) }
                    });
                    let io = Shared::new(stream);
                    let conn = hyper::server::conn::http1::Builder::new().serve_connection(TokioIo::new(io.clone()), service);
                    let mut conn = std::pin::pin!(conn);
                    tokio::select! {
                        biased;
                        _ = until_stopped(&mut stopped) => {
                            conn.as_mut().graceful_shutdown();
                            let _ = tokio::time::timeout(SHUTDOWN_GRACE, conn).await;
                        }
                        _ = conn.as_mut() => {}
                        // The client is gone: dropping the connection drops the call it was
                        // waiting for (its wait, subscription and streams end with it).
                        () = peer_closed(&io) => {}
                    }
                    drop(slot);
                });
            }
            Some(_) = conns.join_next(), if !conns.is_empty() => {}
        }
    }
    // Ends every MCP session and its streams, so the connections can close.
    mcp.config.cancellation_token.cancel();
    while conns.join_next().await.is_some() {}
    // Then the sessions themselves, each waiting for its worker to end (within the grace).
    let ids: Vec<_> = gate.sessions.sessions.read().await.keys().cloned().collect();
    let close = async {
        for id in &ids {
            if let Err(e) = gate.sessions.close_session(id).await {
                tracing::debug!(error = %e, "an MCP session did not close cleanly");
            }
        }
    };
    let _ = tokio::time::timeout(SHUTDOWN_GRACE, close).await;
}

/// Completes once the server is stopping (or its handle is gone).
async fn until_stopped(stopped: &mut watch::Receiver<bool>) {
    // The guard `wait_for` returns is dropped here, never held across an await.
    let _ = stopped.wait_for(|s| *s).await;
}

type Body = BoxBody<Bytes, Infallible>;

/// One request: the gate; then its body, read up to the limit and checked to be JSON (rmcp
/// would answer malformed JSON with a bare 415, not JSON-RPC's -32700); then rmcp.
async fn route(req: Request<Incoming>, gate: &Gate, mcp: &Mcp, stats: &HttpStats) -> Response<Body> {
    match admit(req, gate).await {
        Ok(req) => {
            let delete = req.method() == hyper::Method::DELETE;
            let mut resp = mcp.handle(req).await;
            // rmcp ends a session with 202; clients expect 200 or 204 (the Python SDK warns
            // "Session termination failed: 202"). Nothing follows a DELETE, so 204 says it all.
            if delete && resp.status() == StatusCode::ACCEPTED {
                *resp.status_mut() = StatusCode::NO_CONTENT;
            }
            resp
        }
        Err(refusal) => {
            let counter = match refusal {
                Refusal::Host(_) => Some(&stats.bad_host),
                Refusal::Origin(_) => Some(&stats.bad_origin),
                Refusal::TokenMissing | Refusal::TokenWrong => Some(&stats.bad_token),
                Refusal::TooLarge { .. } => Some(&stats.too_large),
                Refusal::SessionsFull { .. } => Some(&stats.sessions_full),
                Refusal::NotFound(_) | Refusal::Malformed(_) | Refusal::BodyUnread(_) => None,
            };
            if let Some(c) = counter {
                c.inc();
            }
            refusal.response()
        }
    }
}

/// The request, its body read, if the gate lets it through.
async fn admit(req: Request<Incoming>, gate: &Gate) -> Result<Request<Full<Bytes>>, Refusal> {
    gate.check(&req)?;
    let (parts, body) = req.into_parts();
    let bytes = match http_body_util::Limited::new(body, gate.body_limit).collect().await {
        Ok(collected) => collected.to_bytes(),
        Err(e) if e.is::<http_body_util::LengthLimitError>() => {
            return Err(Refusal::TooLarge { length: None, limit: gate.body_limit });
        }
        Err(e) => return Err(Refusal::BodyUnread(e.to_string())),
    };
    if parts.method == hyper::Method::POST {
        let message =
            serde_json::from_slice::<serde_json::Value>(&bytes).map_err(|e| Refusal::Malformed(e.to_string()))?;
        if message.get("method").and_then(|m| m.as_str()) == Some("initialize") {
            // Read and released at once: the lock is never held across an await.
            let open = gate.sessions.sessions.read().await.len();
            if open >= gate.sessions_max {
                return Err(Refusal::SessionsFull { max: gate.sessions_max });
            }
        }
    }
    Ok(Request::from_parts(parts, Full::new(bytes)))
}

/// The checks made before rmcp sees a request.
pub(crate) struct Gate {
    pub(crate) port: u16,
    pub(crate) token: Option<String>,
    pub(crate) body_limit: usize,
    pub(crate) sessions_max: usize,
    /// rmcp's legacy sessions, counted before an `initialize` opens another.
    pub(crate) sessions: Arc<LocalSessionManager>,
}

/// Why the gate refused a request.
#[derive(Debug, PartialEq, Eq)]
pub(crate) enum Refusal {
    /// A Host that is not loopback with brum's port (DNS rebinding), or none: 403.
    Host(String),
    /// An Origin that is not a loopback page: 403.
    Origin(String),
    /// A path other than `/mcp`: 404.
    NotFound(String),
    /// A token is required and none was sent: 401.
    TokenMissing,
    /// The token sent is not the one required: 401.
    TokenWrong,
    /// A body above the limit (its `Content-Length` when declared): 413.
    TooLarge { length: Option<u64>, limit: usize },
    /// A POST body that is not JSON: 400 with JSON-RPC's parse error, -32700.
    Malformed(String),
    /// The body could not be read (the client went away): 400.
    BodyUnread(String),
    /// An `initialize` while `max` legacy sessions are open: 503.
    SessionsFull { max: usize },
}

impl Gate {
    pub(crate) fn check<B>(&self, req: &Request<B>) -> Result<(), Refusal> {
        let headers = req.headers();
        let host = headers.get(HOST).and_then(|h| h.to_str().ok()).unwrap_or("");
        if !self.host_allowed(host) {
            return Err(Refusal::Host(host.to_string()));
        }
        if let Some(origin) = headers.get(ORIGIN) {
            let origin = origin.to_str().unwrap_or("<not ASCII>");
            if !origin_allowed(origin) {
                return Err(Refusal::Origin(origin.to_string()));
            }
        }
        if req.uri().path() != MCP_PATH {
            return Err(Refusal::NotFound(req.uri().path().to_string()));
        }
        if let Some(token) = &self.token {
            let sent = headers.get(AUTHORIZATION).and_then(|v| v.to_str().ok()).and_then(bearer);
            match sent {
                None => return Err(Refusal::TokenMissing),
                Some(sent) if !same_secret(sent.as_bytes(), token.as_bytes()) => return Err(Refusal::TokenWrong),
                Some(_) => {}
            }
        }
        let length = headers.get(CONTENT_LENGTH).and_then(|v| v.to_str().ok()).and_then(|v| v.parse::<u64>().ok());
        if let Some(length) = length.filter(|l| *l > self.body_limit as u64) {
            return Err(Refusal::TooLarge { length: Some(length), limit: self.body_limit });
        }
        Ok(())
    }

    /// `localhost`, `127.0.0.1` or `[::1]`, with brum's port or none.
    fn host_allowed(&self, host: &str) -> bool {
        let (name, port) = split_authority(host);
        LOOPBACK_HOSTS.contains(&name) && port.is_none_or(|p| p == self.port.to_string())
    }
}

/// `http(s)://` a loopback host, any port.
fn origin_allowed(origin: &str) -> bool {
    let Some((scheme, authority)) = origin.split_once("://") else { return false };
    let (name, port) = split_authority(authority);
    matches!(scheme, "http" | "https")
        && LOOPBACK_HOSTS.contains(&name)
        && port.is_none_or(|p| !p.is_empty() && p.bytes().all(|b| b.is_ascii_digit()))
}

/// `host:port` → (`host`, `Some(port)`); `[::1]:port` keeps its brackets.
fn split_authority(authority: &str) -> (&str, Option<&str>) {
    if authority.starts_with('[') {
        return match authority.find(']') {
            Some(end) => {
                let (name, rest) = authority.split_at(end + 1);
                (name, rest.strip_prefix(':'))
            }
            None => (authority, None),
        };
    }
    match authority.rsplit_once(':') {
        Some((name, port)) => (name, Some(port)),
        None => (authority, None),
    }
}

/// The token of `Bearer <token>` (the scheme is case-insensitive).
fn bearer(value: &str) -> Option<&str> {
    let (scheme, token) = value.split_once(' ')?;
    scheme.eq_ignore_ascii_case("bearer").then(|| token.trim())
}

/// Compares two secrets in time that depends only on their lengths.
fn same_secret(a: &[u8], b: &[u8]) -> bool {
    a.len() == b.len() && a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}

impl Refusal {
    fn status(&self) -> StatusCode {
        match self {
            Refusal::Host(_) | Refusal::Origin(_) => StatusCode::FORBIDDEN,
            Refusal::NotFound(_) => StatusCode::NOT_FOUND,
            Refusal::TokenMissing | Refusal::TokenWrong => StatusCode::UNAUTHORIZED,
            Refusal::TooLarge { .. } => StatusCode::PAYLOAD_TOO_LARGE,
            Refusal::Malformed(_) | Refusal::BodyUnread(_) => StatusCode::BAD_REQUEST,
            Refusal::SessionsFull { .. } => StatusCode::SERVICE_UNAVAILABLE,
        }
    }

    /// What the client is told: what was wrong, and what would be accepted.
    pub(crate) fn message(&self) -> String {
        match self {
            Refusal::Host(h) => format!(
                "host {h:?} is not allowed: brum's MCP server answers only localhost, 127.0.0.1 and [::1] on its own port"
            ),
            Refusal::Origin(o) => {
                format!("origin {o:?} is not allowed: only pages on localhost, 127.0.0.1 and [::1] may call brum")
            }
            Refusal::NotFound(p) => format!("no endpoint at {p:?}: brum's MCP endpoint is {MCP_PATH}"),
            Refusal::TokenMissing => {
                "this brum requires a token: send `Authorization: Bearer <token>` (see BRUM_MCP_TOKEN)".to_string()
            }
            Refusal::TokenWrong => "wrong token in `Authorization: Bearer`".to_string(),
            Refusal::TooLarge { length: Some(length), limit } => {
                format!("request body of {length} bytes is larger than the limit of {limit} bytes")
            }
            Refusal::TooLarge { length: None, limit } => {
                format!("request body is larger than the limit of {limit} bytes")
            }
            Refusal::Malformed(e) => format!("malformed JSON in the request body: {e}"),
            Refusal::BodyUnread(e) => format!("cannot read the request body: {e}"),
            Refusal::SessionsFull { max } => format!(
                "too many MCP sessions: {max} are open (mcp_sessions_max); end one (DELETE with its Mcp-Session-Id) or raise mcp_sessions_max"
            ),
        }
    }

    /// The JSON-RPC error code of the refusal's body: parse error for malformed JSON, invalid
    /// request for everything else.
    fn code(&self) -> i32 {
        match self {
            Refusal::Malformed(_) => -32700,
            _ => -32600,
        }
    }

    /// An id-less JSON-RPC error with the HTTP status.
    fn response(&self) -> Response<Body> {
        let body = serde_json::json!({
            "jsonrpc": "2.0",
            "id": null,
            "error": { "code": self.code(), "message": self.message() },
        });
        let mut builder = Response::builder().status(self.status()).header(CONTENT_TYPE, "application/json");
        if matches!(self, Refusal::TokenMissing | Refusal::TokenWrong) {
            builder = builder.header(WWW_AUTHENTICATE, "Bearer realm=\"brum\"");
        }
        builder
            .body(Full::new(Bytes::from(body.to_string())).boxed())
            .expect("a status, two static headers and a body make a valid response")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn gate(token: Option<&str>) -> Gate {
        Gate {
            port: 7777,
            token: token.map(str::to_string),
            body_limit: 100,
            sessions_max: 1,
            sessions: Arc::default(),
        }
    }

    fn req(headers: &[(&str, &str)]) -> Request<()> {
        let mut b = Request::builder().method("POST").uri("/mcp");
        for (k, v) in headers {
            b = b.header(*k, *v);
        }
        b.body(()).expect("valid request")
    }

    #[test]
    fn loopback_hosts_on_brums_port_pass_and_others_are_refused() {
        let g = gate(None);
        for ok in ["127.0.0.1:7777", "localhost:7777", "[::1]:7777", "localhost"] {
            assert_eq!(g.check(&req(&[("host", ok)])), Ok(()), "{ok}");
        }
        for bad in ["evil.example:7777", "127.0.0.1:8888", "localhost.evil.example", "", "[::1"] {
            assert!(matches!(g.check(&req(&[("host", bad)])), Err(Refusal::Host(_))), "{bad}");
        }
    }

    #[test]
    fn a_foreign_origin_is_refused_and_an_absent_one_passes() {
        let g = gate(None);
        let host = ("host", "127.0.0.1:7777");
        assert_eq!(g.check(&req(&[host])), Ok(()));
        for ok in ["http://localhost:6274", "http://127.0.0.1:7777", "https://[::1]:3000", "http://localhost"] {
            assert_eq!(g.check(&req(&[host, ("origin", ok)])), Ok(()), "{ok}");
        }
        for bad in ["http://evil.example", "null", "http://localhost.evil.example:80", "file://localhost:1"] {
            assert!(matches!(g.check(&req(&[host, ("origin", bad)])), Err(Refusal::Origin(_))), "{bad}");
        }
    }

    #[test]
    fn the_token_is_required_when_set() {
        let g = gate(Some("s3cret"));
        let host = ("host", "127.0.0.1:7777");
        assert_eq!(g.check(&req(&[host])), Err(Refusal::TokenMissing));
        assert_eq!(g.check(&req(&[host, ("authorization", "Bearer nope")])), Err(Refusal::TokenWrong));
        assert_eq!(g.check(&req(&[host, ("authorization", "Basic s3cret")])), Err(Refusal::TokenMissing));
        assert_eq!(g.check(&req(&[host, ("authorization", "bearer s3cret")])), Ok(()));
    }

    #[test]
    fn a_declared_body_over_the_limit_is_refused_before_it_is_read() {
        let g = gate(None);
        let host = ("host", "127.0.0.1:7777");
        assert_eq!(g.check(&req(&[host, ("content-length", "100")])), Ok(()));
        assert_eq!(
            g.check(&req(&[host, ("content-length", "101")])),
            Err(Refusal::TooLarge { length: Some(101), limit: 100 })
        );
    }
}
