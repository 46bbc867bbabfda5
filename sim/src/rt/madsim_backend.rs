use std::future::Future;
use std::io;
use std::net::SocketAddr;
use std::pin::Pin;
use std::time::Duration;

use brum_core::rt::{AbortHandle, BoxFuture, Listener};

use super::SimBackend;

/// The ports a madsim listener bound at port 0 gets, the first free one: the IANA dynamic
/// range, as kernels (and turmoil) use, far above the low ports madsim gives clients.
pub const MADSIM_LISTEN_PORTS: std::ops::RangeInclusive<u16> = 49152..=65535;

/// madsim: its single-threaded executor picks a random ready task at every step, so it
/// explores interleavings inside one process that turmoil never does.
#[derive(Debug, Clone)]
pub struct Madsim {
    start: Duration,
}

impl Madsim {
    /// Must be called inside `madsim::runtime::Runtime::block_on`.
    pub fn new() -> Self {
        // madsim's own virtual clock; std `Instant` is only virtual if its libc override
        // wins at link time, which core never relies on.
        Madsim { start: madsim::time::TimeHandle::current().elapsed() }
    }
}

impl Default for Madsim {
    fn default() -> Self {
        Self::new()
    }
}

pub struct MadsimListener(madsim::net::TcpListener);

impl Listener for MadsimListener {
    type Stream = madsim::net::TcpStream;

    fn accept(&self) -> impl Future<Output = io::Result<(Self::Stream, SocketAddr)>> + Send {
        self.0.accept()
    }

    fn local_addr(&self) -> io::Result<SocketAddr> {
        self.0.local_addr()
    }
}

impl SimBackend for Madsim {
    type Stream = madsim::net::TcpStream;
    type Listener = MadsimListener;

    fn elapsed(&self) -> Duration {
        madsim::time::TimeHandle::current().elapsed().saturating_sub(self.start)
    }

    fn sleep(&self, d: Duration) -> Pin<Box<dyn Future<Output = ()> + Send + 'static>> {
        Box::pin(madsim::time::sleep(d))
    }

    fn spawn(&self, fut: BoxFuture) -> AbortHandle {
        let h = madsim::task::spawn(fut).abort_handle();
        AbortHandle::new(move || h.abort())
    }

    /// A listener asking for any port (`:0`) gets the first free one from
    /// [`MADSIM_LISTEN_PORTS`], not madsim's own choice. madsim gives the lowest free port of
    /// that IP, and its `connect` binds the client's end on `0.0.0.0` at the lowest free port
    /// too, in the same table listeners are looked up in, with `0.0.0.0:port` as the fallback
    /// for any address. So a listener on `127.0.0.1:1` and a client dialling `[::1]:1` (as
    /// `connect_host("localhost")` does first) meet the client's own socket at `0.0.0.0:1`:
    /// the connect "succeeds" to itself and the stream is reset on first write, where a
    /// kernel refuses it. Listening ports above the clients' low ones keep the two apart.
    async fn bind(&self, addr: SocketAddr) -> io::Result<MadsimListener> {
        if addr.port() != 0 {
            return madsim::net::TcpListener::bind(addr).await.map(MadsimListener);
        }
        for port in MADSIM_LISTEN_PORTS {
            match madsim::net::TcpListener::bind(SocketAddr::new(addr.ip(), port)).await {
                Ok(l) => return Ok(MadsimListener(l)),
                Err(e) if e.kind() == io::ErrorKind::AddrInUse => continue,
                Err(e) => return Err(e),
            }
        }
        Err(io::Error::new(io::ErrorKind::AddrInUse, format!("no free port for {addr} in {MADSIM_LISTEN_PORTS:?}")))
    }

    fn connect(&self, addr: SocketAddr) -> impl Future<Output = io::Result<Self::Stream>> + Send {
        madsim::net::TcpStream::connect(addr)
    }

    /// madsim's DNS table (`NetSim::add_dns_record`).
    async fn resolve(&self, host: &str, port: u16) -> io::Result<Vec<SocketAddr>> {
        Ok(madsim::net::lookup_host((host, port)).await?.collect())
    }
}
