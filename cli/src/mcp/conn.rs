//! An accepted MCP connection that notices when its client goes away.
//!
//! hyper's HTTP/1 server reads a connection only while it parses a request, so a client that
//! disconnects while its call is running (a `logs_stream` follow, a `scripts_run` wait) goes
//! unnoticed until the call ends, minutes later. [`Shared`] gives hyper the socket through an
//! `Arc`, so [`peer_closed`] can peek at it meanwhile: end of stream means the client is
//! gone, and the connection (with its call) is dropped at once.
//!
//! A client that shuts down its sending side and still waits for the answer is taken as gone,
//! as hyper's own default (`half_close(false)`) does when it reads the end of stream.

use std::io;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll, ready};

use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tokio::net::TcpStream;
use tokio::sync::Notify;

/// The socket of one connection, shared between hyper and the watcher.
#[derive(Debug, Clone)]
pub(crate) struct Shared {
    stream: Arc<TcpStream>,
    /// Signalled (a stored permit) whenever hyper has read bytes, so the watcher looks again
    /// only after what it saw was consumed.
    consumed: Arc<Notify>,
}

impl Shared {
    pub(crate) fn new(stream: TcpStream) -> Shared {
        Shared { stream: Arc::new(stream), consumed: Arc::new(Notify::new()) }
    }
}

/// Completes when the client has closed the connection (or it failed). Bytes the client sent
/// that hyper has not read yet (a pipelined request) are not an end: the watcher waits until
/// hyper read them, then peeks again, so it never spins on them.
pub(crate) async fn peer_closed(io: &Shared) {
    let mut byte = [0u8; 1];
    loop {
        match io.stream.peek(&mut byte).await {
            Ok(0) | Err(_) => return,
            Ok(_) => io.consumed.notified().await,
        }
    }
}

impl AsyncRead for Shared {
    fn poll_read(self: Pin<&mut Self>, cx: &mut Context<'_>, buf: &mut ReadBuf<'_>) -> Poll<io::Result<()>> {
        loop {
            ready!(self.stream.poll_read_ready(cx))?;
            let unfilled = buf.initialize_unfilled();
            match self.stream.try_read(unfilled) {
                Ok(n) => {
                    buf.advance(n);
                    if n > 0 {
                        self.consumed.notify_one();
                    }
                    return Poll::Ready(Ok(()));
                }
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => continue,
                Err(e) => return Poll::Ready(Err(e)),
            }
        }
    }
}

impl AsyncWrite for Shared {
    fn poll_write(self: Pin<&mut Self>, cx: &mut Context<'_>, buf: &[u8]) -> Poll<io::Result<usize>> {
        loop {
            ready!(self.stream.poll_write_ready(cx))?;
            match self.stream.try_write(buf) {
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => continue,
                done => return Poll::Ready(done),
            }
        }
    }

    fn poll_flush(self: Pin<&mut Self>, _: &mut Context<'_>) -> Poll<io::Result<()>> {
        // Writes go straight to the socket.
        Poll::Ready(Ok(()))
    }

    fn poll_shutdown(self: Pin<&mut Self>, _: &mut Context<'_>) -> Poll<io::Result<()>> {
        Poll::Ready(rustix::net::shutdown(&*self.stream, rustix::net::Shutdown::Write).map_err(io::Error::from))
    }
}
