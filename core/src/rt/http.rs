//! hyper over the seam: an executor that spawns through [`spawn`] and an IO adapter from the
//! runtime's tokio-io streams to `hyper::rt::{Read, Write}`. No hyper `Timer`: every timeout
//! is a `Clock::sleep` in a `biased` `select!` (docs/design/seam.md says why).

use std::fmt;
use std::future::Future;
use std::io;
use std::pin::Pin;
use std::task::{Context, Poll, ready};

use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};

use super::{Runtime, spawn};

/// Spawns hyper's background futures (HTTP/2 streams, `hyper-util`'s auto connections) as
/// named tasks of `R`: counted in `tasks.live{name}`, their panics captured and counted in
/// `tasks.panicked{name}`. Nobody joins them: a panic shows in the metrics only.
pub struct HyperExecutor<R> {
    rt: R,
    name: &'static str,
}

impl<R: Runtime> HyperExecutor<R> {
    /// Every task this executor spawns is called `name`.
    pub fn new(rt: R, name: &'static str) -> Self {
        HyperExecutor { rt, name }
    }
}

impl<R: Clone> Clone for HyperExecutor<R> {
    fn clone(&self) -> Self {
        HyperExecutor { rt: self.rt.clone(), name: self.name }
    }
}

impl<R> fmt::Debug for HyperExecutor<R> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("HyperExecutor").field("name", &self.name).finish()
    }
}

impl<R, F> hyper::rt::Executor<F> for HyperExecutor<R>
where
    R: Runtime,
    F: Future + Send + 'static,
    F::Output: Send + 'static,
{
    fn execute(&self, fut: F) {
        // Dropping the handle detaches the task; it runs to its end.
        drop(spawn(&self.rt, self.name, fut));
    }
}

/// The most bytes one read of [`HyperIo`] hands to hyper. Reads go through a buffer of this
/// size owned by the adapter (one copy into hyper's buffer), because filling hyper's
/// uninitialised buffer in place takes `unsafe`, which core does not use. hyper's HTTP/1 reads
/// start at 8 KiB and double while reads fill them (up to about 400 KiB); 64 KiB lets that
/// growth pay off for large bodies (a proxied bundle) while a connection costs 64 KiB more,
/// allocated on its first read: a dev proxy holds tens of connections, not thousands.
pub const HYPER_IO_READ_CHUNK: usize = 64 * 1024;

/// A runtime stream (`AsyncRead + AsyncWrite`) as `hyper::rt::Read + Write`.
///
/// `hyper_util::rt::TokioIo` does the same without the copy, but `hyper-util`'s `tokio`
/// feature turns on tokio's `rt` and `time` features, which core must not have.
pub struct HyperIo<S> {
    inner: S,
    /// Allocated on the first read.
    chunk: Vec<u8>,
}

impl<S> HyperIo<S> {
    pub fn new(inner: S) -> Self {
        HyperIo { inner, chunk: Vec::new() }
    }

    pub fn get_ref(&self) -> &S {
        &self.inner
    }

    pub fn into_inner(self) -> S {
        self.inner
    }
}

impl<S> fmt::Debug for HyperIo<S> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("HyperIo")
    }
}

impl<S: AsyncRead + Unpin> hyper::rt::Read for HyperIo<S> {
    fn poll_read(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        mut buf: hyper::rt::ReadBufCursor<'_>,
    ) -> Poll<io::Result<()>> {
        let this = self.get_mut();
        if this.chunk.is_empty() {
            this.chunk = vec![0; HYPER_IO_READ_CHUNK];
        }
        let n = buf.remaining().min(this.chunk.len());
        let mut chunk = ReadBuf::new(&mut this.chunk[..n]);
        ready!(Pin::new(&mut this.inner).poll_read(cx, &mut chunk))?;
        buf.put_slice(chunk.filled());
        Poll::Ready(Ok(()))
    }
}

impl<S: AsyncWrite + Unpin> hyper::rt::Write for HyperIo<S> {
    fn poll_write(self: Pin<&mut Self>, cx: &mut Context<'_>, buf: &[u8]) -> Poll<io::Result<usize>> {
        Pin::new(&mut self.get_mut().inner).poll_write(cx, buf)
    }

    fn poll_flush(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.get_mut().inner).poll_flush(cx)
    }

    fn poll_shutdown(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.get_mut().inner).poll_shutdown(cx)
    }

    fn is_write_vectored(&self) -> bool {
        self.inner.is_write_vectored()
    }

    fn poll_write_vectored(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[io::IoSlice<'_>],
    ) -> Poll<io::Result<usize>> {
        Pin::new(&mut self.get_mut().inner).poll_write_vectored(cx, bufs)
    }
}
