//! Reading a child's output: one task per stream splits bytes into lines and publishes them.

use std::sync::Arc;

use tokio::io::{AsyncRead, AsyncReadExt};
use tokio::sync::mpsc;

use super::READ_CHUNK_BYTES;
use super::dispatch::Msg;
use crate::bus::{Event, EventBus, ProcessRef, Stream};
use crate::detect::{Detection, Detector, UrlSet};
use crate::metrics::Counter;
use crate::rt::Runtime;

/// Where a line ends: the longest prefix of `bytes` no longer than `max` that does not split a
/// UTF-8 character (a lone over-long sequence is cut at `max`).
fn cut(bytes: &[u8], max: usize) -> usize {
    if bytes.len() <= max {
        return bytes.len();
    }
    let mut i = max;
    while i > 0 && (bytes[i] & 0xC0) == 0x80 {
        i -= 1;
    }
    if i == 0 { max } else { i }
}

pub(crate) struct Reader<R: Runtime> {
    pub bus: EventBus<R>,
    pub process: ProcessRef,
    pub stream: Stream,
    pub max_line: usize,
    pub tx: mpsc::Sender<Msg>,
    pub lines: Counter,
    pub split: Counter,
    /// Detection on ingest: errors, URLs, build and test events, per stream.
    pub detector: Detector,
    /// URLs this instance already announced, on either stream (each is published once).
    pub urls: std::sync::Arc<std::sync::Mutex<UrlSet>>,
    pub found: Vec<Detection>,
}

impl<R: Runtime> Reader<R> {
    async fn emit(&mut self, mut bytes: &[u8]) {
        if let [rest @ .., b'\r'] = bytes {
            bytes = rest;
        }
        let line: Arc<str> = match std::str::from_utf8(bytes) {
            Ok(s) => Arc::from(s),
            Err(_) => Arc::from(String::from_utf8_lossy(bytes).as_ref()),
        };
        self.lines.inc();
        self.detector.feed_into(&line, self.stream, &mut self.found);
        // A closed bus means brum is shutting down; the rest of the output has nowhere to go.
        let _ = self.bus.publish(Event::LogLine { process: self.process.clone(), stream: self.stream, line }).await;
        self.publish_found().await;
    }

    /// Publishes what detection found, after the line that completed it.
    async fn publish_found(&mut self) {
        for d in std::mem::take(&mut self.found) {
            if let Detection::Url(u) = &d
                && !self.urls.lock().unwrap_or_else(|e| e.into_inner()).insert(u)
            {
                continue;
            }
            let _ = self.bus.publish(d.to_event(self.process.clone())).await;
        }
    }

    /// Reads `src` to EOF, publishing every line (a final line without a newline included),
    /// then tells the dispatcher this stream is done.
    pub async fn run(mut self, mut src: impl AsyncRead + Unpin) {
        let mut buf = vec![0u8; READ_CHUNK_BYTES];
        let mut carry: Vec<u8> = Vec::new();
        loop {
            let n = match src.read(&mut buf).await {
                Ok(0) => break,
                Ok(n) => n,
                Err(e) if e.kind() == std::io::ErrorKind::Interrupted => continue,
                Err(e) => {
                    tracing::warn!(process = %self.process, error = %e, "reading child output failed");
                    break;
                }
            };
            let mut chunk = &buf[..n];
            while let Some(pos) = chunk.iter().position(|b| *b == b'\n') {
                if carry.is_empty() {
                    self.emit_split(&chunk[..pos]).await;
                } else {
                    carry.extend_from_slice(&chunk[..pos]);
                    let line = std::mem::take(&mut carry);
                    self.emit_split(&line).await;
                }
                chunk = &chunk[pos + 1..];
            }
            carry.extend_from_slice(chunk);
            while carry.len() > self.max_line {
                let at = cut(&carry, self.max_line);
                self.split.inc();
                let head: Vec<u8> = carry.drain(..at).collect();
                self.emit(&head).await;
            }
        }
        if !carry.is_empty() {
            self.emit_split(&carry).await;
        }
        self.found = self.detector.finish();
        self.publish_found().await;
        let _ = self.tx.send(Msg::Eof { id: self.process.id, stream: self.stream }).await;
    }

    async fn emit_split(&mut self, mut line: &[u8]) {
        while line.len() > self.max_line {
            let at = cut(line, self.max_line);
            self.split.inc();
            self.emit(&line[..at]).await;
            line = &line[at..];
        }
        self.emit(line).await;
    }
}

#[cfg(test)]
mod tests {
    use super::cut;

    #[test]
    fn cut_never_splits_a_character() {
        assert_eq!(cut(b"abcdef", 4), 4);
        assert_eq!(cut(b"ab", 4), 2);
        let s = "aé€x".as_bytes(); // a(1) é(2) €(3) x(1)
        assert_eq!(cut(s, 2), 1);
        assert_eq!(cut(s, 3), 3);
        assert_eq!(cut(s, 5), 3);
        assert_eq!(cut(s, 6), 6);
    }
}
