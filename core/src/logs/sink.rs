//! [`LogSink`]: where the store's owner copies accepted lines for persistence.

use std::io;

use super::entry::EntryRef;

/// A destination for accepted lines, such as the rotating files under `.brum/logs` (the CLI's
/// `log_files` module). The store never calls a sink: it does no I/O. Its owner appends, then
/// hands the stored entry to the sink, so a file holds exactly the lines the store accepted, in
/// the same order, with the same truncation:
///
/// ```ignore
/// let id = store.append(&process, stream, mono, wall, line)?;
/// if let Some(entry) = store.get(id) {
///     sink.write(&entry)?; // an error is counted by the owner; the line stays in memory
/// }
/// ```
pub trait LogSink {
    /// Records one entry. May buffer; [`LogSink::flush`] makes buffered entries durable.
    fn write(&mut self, entry: &EntryRef<'_>) -> io::Result<()>;

    /// Writes out anything buffered.
    fn flush(&mut self) -> io::Result<()>;
}
