//! brum's own output streams, built so that a reader that stops reading (or goes away) can
//! never hold up signal handling or supervision.
//!
//! - [`Stdout`]: `brum run`'s output. Handlers append to a bounded in-memory outbox; a
//!   thread of its own (`brum-stdout`) writes the outbox to file descriptor 1 with blocking
//!   writes. No runtime worker ever blocks in `write(2)`. While brum runs, a full outbox makes
//!   the appending handler wait (off the runtime's workers, through `block_in_place`), so a
//!   slow terminal slows the children through their pipes and no line is lost. Once brum is
//!   stopping, an outbox that has not moved for [`STALL_AFTER`] means nobody reads stdout any
//!   more: the rest is counted and dropped, so the children can still be stopped and reaped.
//!   A closed stdout (`EPIPE`, or `POLLERR` on an idle pipe) is reported through
//!   [`Stdout::closed`] so `brum run` stops everything, quietly, as `| head -1` expects.
//! - [`stderr_line`]: brum's own messages (warnings, notes, errors). A write happens only when
//!   stderr accepts it within [`STDERR_WAIT`]; otherwise the message is counted in
//!   [`stderr_dropped`] and dropped, so `2>&1 | sleep 30` cannot wedge brum either.

use std::io;
use std::os::fd::BorrowedFd;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Condvar, Mutex, MutexGuard};
use std::thread::JoinHandle;
use std::time::Duration;

/// Bytes the outbox holds before an appending handler waits: a few hundred milliseconds of a
/// fast terminal, large enough that a flood is written in big blocks (64 KiB pipe writes),
/// small enough that brum's memory stays flat when stdout is slow.
pub const OUTBOX_BYTES_MAX: usize = 1024 * 1024;

/// While brum is stopping: an outbox that stayed full with no byte written for this long
/// belongs to a reader that stopped reading. Long enough for a busy terminal or a pager to
/// catch up, short next to the stop grace, so a stalled reader costs a Ctrl-C this much.
pub const STALL_AFTER: Duration = Duration::from_millis(300);

/// How often the idle writer looks for a closed stdout (`POLLERR` on a pipe whose reader
/// exited), so `brum run quiet-server | head -1` ends without waiting for more output.
pub const IDLE_CHECK: Duration = Duration::from_millis(100);

/// How long one of brum's own messages may wait for stderr to accept it.
/// After a write, the writer waits this long for more before it sleeps until woken: during a
/// flood it then writes every millisecond what the handlers appended meanwhile, instead of
/// being woken for every append (perf: 94,000 context switches for 10 M lines, most of them
/// this handshake). A line that arrives while the writer sleeps wakes it at once, so output
/// after a quiet spell is not delayed; a line within a millisecond of the last write may be.
pub const WRITER_LINGER: Duration = Duration::from_millis(1);

/// Bytes that wake a lingering writer at once (see [`WRITER_LINGER`]).
pub const LINGER_WAKE_BYTES: usize = 256 * 1024;

pub const STDERR_WAIT: Duration = Duration::from_millis(200);

static STDERR_DROPPED: AtomicU64 = AtomicU64::new(0);

/// brum's messages dropped because stderr did not accept them in time.
pub fn stderr_dropped() -> u64 {
    STDERR_DROPPED.load(Ordering::Relaxed)
}

/// Writes `text` to stderr if stderr accepts it within [`STDERR_WAIT`]; counts it otherwise.
pub fn stderr_write(text: &[u8]) {
    let fd = rustix::stdio::stderr();
    if !writable(fd, STDERR_WAIT) || write_all(fd, text, Some(STDERR_WAIT)).is_err() {
        STDERR_DROPPED.fetch_add(1, Ordering::Relaxed);
    }
}

/// One line of brum's own on stderr: `{line}\n`.
pub fn stderr_line(line: &str) {
    let mut text = String::with_capacity(line.len() + 1);
    text.push_str(line);
    text.push('\n');
    stderr_write(text.as_bytes());
}

/// Whether `fd` can take a write within `wait` (a file, a terminal or a pipe with room).
fn writable(fd: BorrowedFd<'_>, wait: Duration) -> bool {
    use rustix::event::{PollFd, PollFlags, Timespec, poll};
    let mut fds = [PollFd::new(&fd, PollFlags::OUT)];
    let timeout = Timespec::try_from(wait).ok();
    match poll(&mut fds, timeout.as_ref()) {
        Ok(n) => n > 0 && fds[0].revents().contains(PollFlags::OUT),
        // A descriptor poll cannot look at: let the write decide.
        Err(_) => true,
    }
}

/// Whether the reader of `fd` is gone (a pipe or socket whose other end closed).
fn reader_gone(fd: BorrowedFd<'_>) -> bool {
    use rustix::event::{PollFd, PollFlags, Timespec, poll};
    let mut fds = [PollFd::new(&fd, PollFlags::empty())];
    let zero = Timespec { tv_sec: 0, tv_nsec: 0 };
    matches!(poll(&mut fds, Some(&zero)), Ok(1) if fds[0].revents().contains(PollFlags::ERR))
}

/// Writes all of `buf`; with `deadline`, gives up (`TimedOut`) when the descriptor stops
/// accepting bytes for that long. Counts progress in `written`.
fn write_all(fd: BorrowedFd<'_>, mut buf: &[u8], patience: Option<Duration>) -> io::Result<()> {
    while !buf.is_empty() {
        if let Some(p) = patience
            && !writable(fd, p)
        {
            return Err(io::ErrorKind::TimedOut.into());
        }
        match rustix::io::write(fd, buf) {
            Ok(0) => return Err(io::ErrorKind::WriteZero.into()),
            Ok(n) => buf = &buf[n..],
            Err(rustix::io::Errno::INTR) => {}
            Err(e) => return Err(e.into()),
        }
    }
    Ok(())
}

#[derive(Debug, Default)]
struct State {
    /// Bytes waiting for the writer thread.
    buf: Vec<u8>,
    /// The writer holds a block taken from `buf` and is writing it.
    writing: bool,
    /// The reader is gone (`EPIPE`, `POLLERR`): everything from now on is dropped.
    closed: bool,
    /// brum is stopping: a full outbox that does not move is declared stalled.
    finishing: bool,
    /// Nobody reads stdout any more (decided while finishing): everything is dropped.
    stalled: bool,
    /// The writer thread ends once `buf` is empty.
    done: bool,
    /// Lines dropped because stdout was closed or stalled.
    dropped_lines: u64,
    /// The writer waits on `more` for a short linger after a write ([`WRITER_LINGER`]): only
    /// an outbox of [`LINGER_WAKE_BYTES`] wakes it early.
    writer_lingering: bool,
    /// The writer waits on `more`: an append must wake it. (Waking it only then, and `room`
    /// only when someone waits there, saves a futex call per batch on each side: perf showed
    /// this handshake as most of a flood's context switches.)
    writer_waiting: bool,
    /// Threads waiting on `room` (appenders with a full outbox, and `finish`).
    room_waiters: u32,
}

#[derive(Debug)]
struct Shared {
    state: Mutex<State>,
    /// The writer waits here for bytes.
    more: Condvar,
    /// Appenders (and `finish`) wait here for room.
    room: Condvar,
    /// Bytes written to stdout so far: how appenders tell a slow reader from a stalled one.
    written: AtomicU64,
    /// Woken once when the reader is found gone.
    closed: tokio::sync::Notify,
}

impl Shared {
    fn lock(&self) -> MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(|e| e.into_inner())
    }
}

/// What became of `brum run`'s output, for the closing report.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct OutputReport {
    pub dropped_lines: u64,
    pub closed: bool,
    pub stalled: bool,
}

/// `brum run`'s stdout (see the module documentation).
#[derive(Debug)]
pub struct Stdout {
    shared: Arc<Shared>,
    thread: Mutex<Option<JoinHandle<()>>>,
}

impl Stdout {
    /// Starts the writer thread for file descriptor 1.
    pub fn start() -> io::Result<Stdout> {
        let shared = Arc::new(Shared {
            state: Mutex::new(State::default()),
            more: Condvar::new(),
            room: Condvar::new(),
            written: AtomicU64::new(0),
            closed: tokio::sync::Notify::new(),
        });
        let s = shared.clone();
        let thread = std::thread::Builder::new().name("brum-stdout".into()).spawn(move || writer(&s))?;
        Ok(Stdout { shared, thread: Mutex::new(Some(thread)) })
    }

    /// Appends `lines` lines of output, written by `fill` into the outbox. Waits while the
    /// outbox is full, except once stopping and stdout stalled; drops them (counted) when stdout
    /// is closed or stalled.
    pub fn append(&self, lines: u64, fill: impl FnOnce(&mut Vec<u8>)) {
        let mut st = self.shared.lock();
        loop {
            if st.closed || st.stalled {
                st.dropped_lines += lines;
                return;
            }
            if st.buf.len() < OUTBOX_BYTES_MAX {
                fill(&mut st.buf);
                if st.writer_waiting || st.writer_lingering && st.buf.len() >= LINGER_WAKE_BYTES {
                    st.writer_waiting = false;
                    st.writer_lingering = false;
                    self.shared.more.notify_one();
                }
                return;
            }
            st = self.wait_for_room(st);
        }
    }

    /// Waits once for the writer to make room (or for the state to change).
    fn wait_for_room<'a>(&'a self, st: MutexGuard<'a, State>) -> MutexGuard<'a, State> {
        let shared = &self.shared;
        if st.finishing {
            let before = shared.written.load(Ordering::Acquire);
            let (mut st, timeout) = room_wait_timeout(shared, st, STALL_AFTER);
            if timeout.timed_out()
                && shared.written.load(Ordering::Acquire) == before
                && st.buf.len() >= OUTBOX_BYTES_MAX
            {
                st.stalled = true;
            }
            return st;
        }
        // Off the runtime's workers: tokio moves this worker's other tasks to a new thread,
        // so signal handling and supervision keep running while the terminal is slow.
        let wait = move || {
            let mut st = st;
            st.room_waiters += 1;
            let mut st = shared.room.wait(st).unwrap_or_else(|e| e.into_inner());
            st.room_waiters -= 1;
            st
        };
        match tokio::runtime::Handle::try_current() {
            Ok(h) if h.runtime_flavor() == tokio::runtime::RuntimeFlavor::MultiThread => {
                tokio::task::block_in_place(wait)
            }
            _ => wait(),
        }
    }

    /// Resolves once stdout's reader is found gone.
    pub async fn closed(&self) {
        if self.shared.lock().closed {
            return;
        }
        self.shared.closed.notified().await;
    }

    /// brum is stopping: from now on a stdout that stops moving is declared stalled, and what
    /// cannot be written is dropped instead of holding up the shutdown.
    pub fn stopping(&self) {
        self.shared.lock().finishing = true;
        self.shared.room.notify_all();
    }

    /// Writes out what is left, unless stdout is closed or stalls for [`STALL_AFTER`]; then
    /// stops the writer thread (left blocked in `write` if stdout is stalled: it ends with
    /// the process).
    pub fn finish(&self) -> OutputReport {
        let shared = &self.shared;
        let mut st = shared.lock();
        st.finishing = true;
        st.done = true;
        shared.more.notify_one();
        shared.room.notify_all();
        while !st.closed && !st.stalled && (st.writing || !st.buf.is_empty()) {
            let before = shared.written.load(Ordering::Acquire);
            let (next, timeout) = room_wait_timeout(shared, st, STALL_AFTER);
            st = next;
            if timeout.timed_out() && shared.written.load(Ordering::Acquire) == before {
                st.stalled = true;
            }
        }
        if st.stalled {
            let pending = st.buf.iter().filter(|b| **b == b'\n').count() as u64;
            st.dropped_lines += pending;
            st.buf.clear();
        }
        let report = OutputReport { dropped_lines: st.dropped_lines, closed: st.closed, stalled: st.stalled };
        let stalled = st.stalled;
        drop(st);
        if !stalled && let Some(t) = self.thread.lock().unwrap_or_else(|e| e.into_inner()).take() {
            let _ = t.join();
        }
        report
    }
}

/// The writer thread: takes the whole outbox, writes it, repeats.
fn writer(shared: &Shared) {
    let fd = rustix::stdio::stdout();
    let mut block = Vec::with_capacity(OUTBOX_BYTES_MAX);
    let mut wrote = false;
    loop {
        {
            let mut st = shared.lock();
            st.writing = false;
            wake_room(shared, &st);
            if wrote && st.buf.len() < LINGER_WAKE_BYTES && st.room_waiters == 0 && !st.done && !st.closed {
                st.writer_lingering = true;
                let (next, _) = shared.more.wait_timeout(st, WRITER_LINGER).unwrap_or_else(|e| e.into_inner());
                st = next;
                st.writer_lingering = false;
            }
            while st.buf.is_empty() && !st.done && !st.closed {
                st.writer_waiting = true;
                let (next, timeout) = shared.more.wait_timeout(st, IDLE_CHECK).unwrap_or_else(|e| e.into_inner());
                st = next;
                st.writer_waiting = false;
                if timeout.timed_out() && st.buf.is_empty() && reader_gone(fd) {
                    mark_closed(shared, &mut st);
                }
            }
            if st.closed || (st.done && st.buf.is_empty()) {
                return;
            }
            std::mem::swap(&mut st.buf, &mut block);
            st.writing = true;
            wake_room(shared, &st);
        }
        let mut rest = &block[..];
        let mut failed = false;
        while !rest.is_empty() {
            match rustix::io::write(fd, rest) {
                Ok(0) => {
                    failed = true;
                    break;
                }
                Ok(n) => {
                    rest = &rest[n..];
                    shared.written.fetch_add(n as u64, Ordering::Release);
                }
                Err(rustix::io::Errno::INTR) => {}
                Err(_) => {
                    // EPIPE (the reader exited) or any other write error: stdout is gone.
                    failed = true;
                    break;
                }
            }
        }
        if failed {
            let mut st = shared.lock();
            let lost = rest.iter().filter(|b| **b == b'\n').count() as u64;
            st.dropped_lines += lost;
            mark_closed(shared, &mut st);
            st.writing = false;
            shared.room.notify_all();
            return;
        }
        block.clear();
        wrote = true;
    }
}

/// Wakes whoever waits for room, if anyone does.
fn wake_room(shared: &Shared, st: &State) {
    if st.room_waiters > 0 {
        shared.room.notify_all();
    }
}

/// Waits on `room` for at most `wait`, counted in `room_waiters` so the writer wakes it.
fn room_wait_timeout<'a>(
    shared: &'a Shared,
    mut st: MutexGuard<'a, State>,
    wait: Duration,
) -> (MutexGuard<'a, State>, std::sync::WaitTimeoutResult) {
    st.room_waiters += 1;
    let (mut st, timeout) = shared.room.wait_timeout(st, wait).unwrap_or_else(|e| e.into_inner());
    st.room_waiters -= 1;
    (st, timeout)
}

fn mark_closed(shared: &Shared, st: &mut State) {
    if !st.closed {
        st.closed = true;
        st.dropped_lines += st.buf.iter().filter(|b| **b == b'\n').count() as u64;
        st.buf = Vec::new();
        shared.closed.notify_one();
        shared.room.notify_all();
    }
}

/// Installs the tracing subscriber: messages at `default` and above (or what `BRUM_LOG`, else
/// `RUST_LOG`, asks for) on stderr as `warning: message field=value`, like brum's other
/// messages.
pub fn init_tracing(default: &str) {
    use tracing_subscriber::EnvFilter;
    let (var, spec) = match (std::env::var("BRUM_LOG"), std::env::var("RUST_LOG")) {
        (Ok(v), _) if !v.is_empty() => ("BRUM_LOG", v),
        (_, Ok(v)) if !v.is_empty() => ("RUST_LOG", v),
        _ => ("", default.to_string()),
    };
    let filter = EnvFilter::try_new(&spec).unwrap_or_else(|e| {
        stderr_line(&format!("warning: ignoring {var}={spec:?}: {e}"));
        EnvFilter::new(default)
    });
    let _ = tracing_subscriber::fmt()
        .with_env_filter(filter)
        // Plain field names: stderr may be a file or a pipe.
        .with_ansi(false)
        .event_format(BrumFormat)
        .with_writer(|| StderrWriter)
        .try_init();
}

/// `level: message field=value ...`, no timestamps or targets: brum's message style.
struct BrumFormat;

impl<S, N> tracing_subscriber::fmt::FormatEvent<S, N> for BrumFormat
where
    S: tracing::Subscriber + for<'a> tracing_subscriber::registry::LookupSpan<'a>,
    N: for<'a> tracing_subscriber::fmt::FormatFields<'a> + 'static,
{
    fn format_event(
        &self,
        ctx: &tracing_subscriber::fmt::FmtContext<'_, S, N>,
        mut writer: tracing_subscriber::fmt::format::Writer<'_>,
        event: &tracing::Event<'_>,
    ) -> std::fmt::Result {
        let level = match *event.metadata().level() {
            tracing::Level::ERROR => "error",
            tracing::Level::WARN => "warning",
            tracing::Level::INFO => "info",
            tracing::Level::DEBUG => "debug",
            tracing::Level::TRACE => "trace",
        };
        write!(writer, "{level}: ")?;
        ctx.field_format().format_fields(writer.by_ref(), event)?;
        writeln!(writer)
    }
}

/// tracing's writer: each formatted event is one [`stderr_write`].
struct StderrWriter;

impl io::Write for StderrWriter {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        stderr_write(buf);
        Ok(buf.len())
    }

    fn flush(&mut self) -> io::Result<()> {
        Ok(())
    }
}
