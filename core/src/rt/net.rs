use std::fmt;
use std::future::Future;
use std::io;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr};

use tokio::io::{AsyncRead, AsyncWrite};

/// A bound listener from [`Network::bind`].
pub trait Listener: Send + Sync + 'static {
    type Stream: AsyncRead + AsyncWrite + Unpin + Send + 'static;
    fn accept(&self) -> impl Future<Output = io::Result<(Self::Stream, SocketAddr)>> + Send;
    fn local_addr(&self) -> io::Result<SocketAddr>;
}

/// Sockets, real or simulated. Streams speak tokio's `AsyncRead`/`AsyncWrite`; hyper runs
/// over them through [`HyperIo`](super::HyperIo).
pub trait Network: Send + Sync + 'static {
    type Stream: AsyncRead + AsyncWrite + Unpin + Send + 'static;
    type Listener: Listener<Stream = Self::Stream>;
    fn bind(&self, addr: SocketAddr) -> impl Future<Output = io::Result<Self::Listener>> + Send;
    fn connect(&self, addr: SocketAddr) -> impl Future<Output = io::Result<Self::Stream>> + Send;

    /// The addresses the name service gives for `host`, in its order (the real runtime asks
    /// the OS resolver; a simulator its table of host names). [`Network::connect_host`] calls
    /// it only for names: IP literals and `localhost` never reach it.
    fn resolve(&self, host: &str, port: u16) -> impl Future<Output = io::Result<Vec<SocketAddr>>> + Send;

    /// Connects to `host:port`, trying each address `host` stands for in order; the first
    /// connection wins. `host` is an IP literal (`127.0.0.1`, `::1`, `[::1]`), `localhost`
    /// (or a name under `.localhost`), which is `[::1, 127.0.0.1]` without asking the resolver
    /// (see [`loopback_addrs`]), or a name for [`Network::resolve`]. A failure names the host,
    /// the port and every address tried with its error.
    ///
    /// No timeout: a caller that needs one races this against `Clock::sleep` in a `biased`
    /// `select!` (docs/design/seam.md).
    fn connect_host(&self, host: &str, port: u16) -> impl Future<Output = Result<Self::Stream, ConnectError>> + Send {
        async move {
            let addrs = match host_addrs(host, port) {
                Some(addrs) => addrs,
                None => self.resolve(host, port).await.map_err(|source| ConnectError::Resolve {
                    host: host.to_string(),
                    port,
                    source,
                })?,
            };
            if addrs.is_empty() {
                return Err(ConnectError::NoAddress { host: host.to_string(), port });
            }
            let mut attempts = Vec::with_capacity(addrs.len());
            for addr in addrs {
                match self.connect(addr).await {
                    Ok(stream) => return Ok(stream),
                    Err(error) => attempts.push(Attempt { addr, error }),
                }
            }
            Err(ConnectError::Unreachable { host: host.to_string(), port, attempts })
        }
    }
}

/// `localhost` and the names under `.localhost`, as addresses: IPv6 loopback first, then IPv4.
///
/// RFC 6761 (section 6.3) reserves these names for loopback, and curl and the browsers answer
/// them without the resolver. brum does the same because dev servers differ in which loopback
/// they listen on (Node 17+ and Vite follow the OS resolver's order, often `::1` only) while
/// `/etc/hosts` may list just one of them: on a machine whose hosts file maps `localhost` to
/// `127.0.0.1` only, asking the resolver would never try `::1`.
pub fn loopback_addrs(host: &str, port: u16) -> Option<[SocketAddr; 2]> {
    let host = host.strip_suffix('.').unwrap_or(host);
    let is_localhost = host.eq_ignore_ascii_case("localhost")
        || host.len() > ".localhost".len()
            && host.is_char_boundary(host.len() - ".localhost".len())
            && host[host.len() - ".localhost".len()..].eq_ignore_ascii_case(".localhost");
    is_localhost.then(|| {
        [SocketAddr::new(IpAddr::V6(Ipv6Addr::LOCALHOST), port), SocketAddr::new(IpAddr::V4(Ipv4Addr::LOCALHOST), port)]
    })
}

/// The addresses of `host` when no resolver is needed: an IP literal (brackets allowed, as in
/// URLs) or a loopback name.
fn host_addrs(host: &str, port: u16) -> Option<Vec<SocketAddr>> {
    let literal = host.strip_prefix('[').and_then(|h| h.strip_suffix(']')).unwrap_or(host);
    if let Ok(ip) = literal.parse::<IpAddr>() {
        return Some(vec![SocketAddr::new(ip, port)]);
    }
    loopback_addrs(host, port).map(Vec::from)
}

/// One failed connection attempt of [`Network::connect_host`].
#[derive(Debug)]
pub struct Attempt {
    pub addr: SocketAddr,
    pub error: io::Error,
}

impl fmt::Display for Attempt {
    /// `addr (kind)`: the error's kind, so the message reads the same for real and simulated
    /// sockets (turmoil's refusal says only the address); its own text when the kind says
    /// nothing (`other`).
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.error.kind() {
            io::ErrorKind::Other => write!(f, "{} ({})", self.addr, self.error),
            kind => write!(f, "{} ({kind})", self.addr),
        }
    }
}

/// Why [`Network::connect_host`] has no stream.
#[derive(Debug, thiserror::Error)]
pub enum ConnectError {
    #[error("cannot resolve `{host}` (port {port}): {source}")]
    Resolve {
        host: String,
        port: u16,
        #[source]
        source: io::Error,
    },
    #[error("`{host}` (port {port}) resolves to no address")]
    NoAddress { host: String, port: u16 },
    #[error("cannot connect to `{host}` port {port}: tried {}", join_attempts(.attempts))]
    Unreachable { host: String, port: u16, attempts: Vec<Attempt> },
}

fn join_attempts(attempts: &[Attempt]) -> String {
    attempts.iter().map(Attempt::to_string).collect::<Vec<_>>().join(", ")
}

impl ConnectError {
    /// The addresses tried, in order (empty when resolution failed).
    pub fn tried(&self) -> Vec<SocketAddr> {
        match self {
            ConnectError::Unreachable { attempts, .. } => attempts.iter().map(|a| a.addr).collect(),
            _ => Vec::new(),
        }
    }
}

impl From<ConnectError> for io::Error {
    /// Keeps the kind of the last attempt's error (`ConnectionRefused` when nothing
    /// listens), so callers that match on kinds still can; the message is the whole story.
    fn from(e: ConnectError) -> io::Error {
        let kind = match &e {
            ConnectError::Resolve { source, .. } => source.kind(),
            ConnectError::NoAddress { .. } => io::ErrorKind::NotFound,
            ConnectError::Unreachable { attempts, .. } => {
                attempts.last().map_or(io::ErrorKind::NotFound, |a| a.error.kind())
            }
        };
        io::Error::new(kind, e)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn localhost_is_both_loopbacks_ipv6_first() {
        let want: Vec<SocketAddr> = vec!["[::1]:5173".parse().unwrap(), "127.0.0.1:5173".parse().unwrap()];
        for host in ["localhost", "LocalHost", "localhost.", "app.localhost", "a.b.LOCALHOST"] {
            assert_eq!(host_addrs(host, 5173), Some(want.clone()), "{host}");
        }
        for host in ["notlocalhost", "localhost.com", ".localhost", "local", "localhos"] {
            assert_eq!(host_addrs(host, 5173), None, "{host} is a name for the resolver");
        }
    }

    #[test]
    fn ip_literals_need_no_resolver_and_may_be_bracketed() {
        assert_eq!(host_addrs("127.0.0.1", 80), Some(vec!["127.0.0.1:80".parse().unwrap()]));
        assert_eq!(host_addrs("::1", 80), Some(vec!["[::1]:80".parse().unwrap()]));
        assert_eq!(host_addrs("[::1]", 80), Some(vec!["[::1]:80".parse().unwrap()]));
        assert_eq!(host_addrs("[brum]", 80), None);
    }

    #[test]
    fn unreachable_names_host_port_and_every_address_tried() {
        let e = ConnectError::Unreachable {
            host: "localhost".into(),
            port: 5173,
            attempts: vec![
                Attempt { addr: "[::1]:5173".parse().unwrap(), error: io::ErrorKind::ConnectionRefused.into() },
                Attempt { addr: "127.0.0.1:5173".parse().unwrap(), error: io::Error::other("no route, says the test") },
            ],
        };
        assert_eq!(
            e.to_string(),
            "cannot connect to `localhost` port 5173: tried [::1]:5173 (connection refused), \
             127.0.0.1:5173 (no route, says the test)"
        );
        assert_eq!(e.tried().len(), 2);
        assert_eq!(io::Error::from(e).kind(), io::ErrorKind::Other);
    }
}
