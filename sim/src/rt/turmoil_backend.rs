use std::future::Future;
use std::io;
use std::net::SocketAddr;
use std::pin::Pin;
use std::time::Duration;

use brum_core::rt::{AbortHandle, BoxFuture, Listener};

use super::SimBackend;

/// turmoil: a host's tokio runtime with paused time; `turmoil::net` sockets.
#[derive(Debug, Clone)]
pub struct Turmoil {
    start: tokio::time::Instant,
}

impl Turmoil {
    /// Must be called inside a turmoil host or client.
    pub fn new() -> Self {
        Turmoil { start: tokio::time::Instant::now() }
    }
}

impl Default for Turmoil {
    fn default() -> Self {
        Self::new()
    }
}

pub struct TurmoilListener(turmoil::net::TcpListener);

impl Listener for TurmoilListener {
    type Stream = turmoil::net::TcpStream;

    fn accept(&self) -> impl Future<Output = io::Result<(Self::Stream, SocketAddr)>> + Send {
        self.0.accept()
    }

    fn local_addr(&self) -> io::Result<SocketAddr> {
        self.0.local_addr()
    }
}

impl SimBackend for Turmoil {
    type Stream = turmoil::net::TcpStream;
    type Listener = TurmoilListener;

    fn elapsed(&self) -> Duration {
        tokio::time::Instant::now() - self.start
    }

    fn sleep(&self, d: Duration) -> Pin<Box<dyn Future<Output = ()> + Send + 'static>> {
        Box::pin(tokio::time::sleep(d))
    }

    fn spawn(&self, fut: BoxFuture) -> AbortHandle {
        let h = tokio::task::spawn(fut).abort_handle();
        AbortHandle::new(move || h.abort())
    }

    async fn bind(&self, addr: SocketAddr) -> io::Result<TurmoilListener> {
        turmoil::net::TcpListener::bind(addr).await.map(TurmoilListener)
    }

    fn connect(&self, addr: SocketAddr) -> impl Future<Output = io::Result<Self::Stream>> + Send {
        turmoil::net::TcpStream::connect(addr)
    }

    /// turmoil's table of host names (`sim.host("name", ..)`): one address per host, and a
    /// `NotFound` error for a name that is not a host. (`turmoil::lookup` would instead invent
    /// an address for an unknown name.)
    async fn resolve(&self, host: &str, port: u16) -> io::Result<Vec<SocketAddr>> {
        Ok(turmoil::net::lookup_host((host, port)).await?.collect())
    }
}
