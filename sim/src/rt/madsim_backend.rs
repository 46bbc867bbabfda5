use std::future::Future;
use std::io;
use std::net::SocketAddr;
use std::pin::Pin;
use std::task::{Context, Poll};
use std::time::Duration;

use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};

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
    type Stream = MadsimStream;

    async fn accept(&self) -> io::Result<(MadsimStream, SocketAddr)> {
        let (stream, peer) = self.0.accept().await?;
        Ok((MadsimStream::new(stream), peer))
    }

    fn local_addr(&self) -> io::Result<SocketAddr> {
        self.0.local_addr()
    }
}

/// A madsim TCP stream whose flush, with nothing written since the last one, does nothing, as
/// a kernel socket's does. madsim's own `poll_flush` sends whatever it buffered, an empty
/// payload included, and fails with `ConnectionReset` once the peer's end is dropped. hyper
/// flushes often with nothing to send, so a connection whose peer had closed (a client's
/// keep-alive connection it let go, a server's answer to `Connection: close`) ended in a
/// spurious `BodyWrite` error on whichever side flushed last. Bytes written to a departed peer
/// still fail, as they do on a kernel socket.
pub struct MadsimStream {
    inner: madsim::net::TcpStream,
    /// Bytes were written since the last flush.
    unflushed: bool,
}

impl MadsimStream {
    pub fn new(inner: madsim::net::TcpStream) -> Self {
        MadsimStream { inner, unflushed: false }
    }

    /// madsim's stream, whose empty flush fails once the peer is gone (for the test that pins
    /// why this wrapper exists).
    pub fn into_inner(self) -> madsim::net::TcpStream {
        self.inner
    }
}

impl AsyncRead for MadsimStream {
    fn poll_read(self: Pin<&mut Self>, cx: &mut Context<'_>, buf: &mut ReadBuf<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.get_mut().inner).poll_read(cx, buf)
    }
}

impl AsyncWrite for MadsimStream {
    fn poll_write(self: Pin<&mut Self>, cx: &mut Context<'_>, buf: &[u8]) -> Poll<io::Result<usize>> {
        let this = self.get_mut();
        let n = std::task::ready!(Pin::new(&mut this.inner).poll_write(cx, buf))?;
        this.unflushed |= n > 0;
        Poll::Ready(Ok(n))
    }

    fn poll_flush(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        let this = self.get_mut();
        if !this.unflushed {
            return Poll::Ready(Ok(()));
        }
        std::task::ready!(Pin::new(&mut this.inner).poll_flush(cx))?;
        this.unflushed = false;
        Poll::Ready(Ok(()))
    }

    fn poll_shutdown(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        // A shutdown sends what was written first, as a kernel's FIN follows the data.
        std::task::ready!(self.as_mut().poll_flush(cx))?;
        Pin::new(&mut self.get_mut().inner).poll_shutdown(cx)
    }
}

impl SimBackend for Madsim {
    type Stream = MadsimStream;
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

    async fn connect(&self, addr: SocketAddr) -> io::Result<MadsimStream> {
        madsim::net::TcpStream::connect(addr).await.map(MadsimStream::new)
    }

    /// madsim's DNS table (`NetSim::add_dns_record`).
    async fn resolve(&self, host: &str, port: u16) -> io::Result<Vec<SocketAddr>> {
        Ok(madsim::net::lookup_host((host, port)).await?.collect())
    }
}
