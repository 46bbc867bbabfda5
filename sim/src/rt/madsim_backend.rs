use std::future::Future;
use std::io;
use std::net::SocketAddr;
use std::pin::Pin;
use std::time::Duration;

use brum_core::rt::{AbortHandle, BoxFuture, Listener};

use super::SimBackend;

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

    async fn bind(&self, addr: SocketAddr) -> io::Result<MadsimListener> {
        madsim::net::TcpListener::bind(addr).await.map(MadsimListener)
    }

    fn connect(&self, addr: SocketAddr) -> impl Future<Output = io::Result<Self::Stream>> + Send {
        madsim::net::TcpStream::connect(addr)
    }

    /// madsim's DNS table (`NetSim::add_dns_record`).
    async fn resolve(&self, host: &str, port: u16) -> io::Result<Vec<SocketAddr>> {
        Ok(madsim::net::lookup_host((host, port)).await?.collect())
    }
}
