//! The trace of a simulation run: ordered entries with virtual timestamps, rendered as stable
//! text and hashed with FNV-1a (a fixed algorithm, unlike `DefaultHasher`).

use std::fmt;
use std::sync::{Arc, Mutex, MutexGuard};

use brum_core::rt::Mono;

/// Entries a trace keeps; a run that records more is cut off and flagged, so a runaway
/// scenario cannot exhaust memory during a sweep.
pub const TRACE_ENTRIES_MAX: usize = 100_000;

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TraceEntry {
    pub seq: u64,
    pub at: Mono,
    pub component: &'static str,
    pub kind: &'static str,
    pub detail: String,
}

impl fmt::Display for TraceEntry {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{:>5} {:>7}ms {:<8} {:<10} {}",
            self.seq,
            self.at.as_millis(),
            self.component,
            self.kind,
            self.detail
        )
    }
}

#[derive(Debug, Default)]
struct TraceState {
    entries: Vec<TraceEntry>,
    truncated: u64,
}

/// A shared, append-only trace.
#[derive(Debug, Clone, Default)]
pub struct Trace(Arc<Mutex<TraceState>>);

impl Trace {
    pub fn new() -> Self {
        Trace::default()
    }

    fn lock(&self) -> MutexGuard<'_, TraceState> {
        self.0.lock().unwrap_or_else(|e| e.into_inner())
    }

    pub fn record(&self, at: Mono, component: &'static str, kind: &'static str, detail: impl Into<String>) {
        let mut st = self.lock();
        if st.entries.len() >= TRACE_ENTRIES_MAX {
            st.truncated += 1;
            return;
        }
        let seq = st.entries.len() as u64 + 1;
        st.entries.push(TraceEntry { seq, at, component, kind, detail: detail.into() });
    }

    pub fn entries(&self) -> Vec<TraceEntry> {
        self.lock().entries.clone()
    }

    pub fn len(&self) -> usize {
        self.lock().entries.len()
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    pub fn truncated(&self) -> u64 {
        self.lock().truncated
    }

    /// The whole trace as text, one entry per line.
    pub fn render(&self) -> String {
        let st = self.lock();
        let mut s = String::new();
        for e in &st.entries {
            s.push_str(&e.to_string());
            s.push('\n');
        }
        if st.truncated > 0 {
            s.push_str(&format!("... {} entries over the {TRACE_ENTRIES_MAX}-entry limit not kept\n", st.truncated));
        }
        s
    }

    pub fn hash(&self) -> u64 {
        fnv1a(self.render().as_bytes())
    }
}

/// 64-bit FNV-1a.
pub fn fnv1a(bytes: &[u8]) -> u64 {
    let mut h: u64 = 0xcbf2_9ce4_8422_2325;
    for b in bytes {
        h ^= u64::from(*b);
        h = h.wrapping_mul(0x0100_0000_01b3);
    }
    h
}

/// The first differing line of two renderings, with up to five lines of context each side.
pub fn first_divergence(a: &str, b: &str) -> Option<String> {
    let al: Vec<&str> = a.lines().collect();
    let bl: Vec<&str> = b.lines().collect();
    let i = (0..al.len().max(bl.len())).find(|&i| al.get(i) != bl.get(i))?;
    let lo = i.saturating_sub(5);
    let mut out = format!("first difference at line {}:\n", i + 1);
    for (name, lines) in [("run 1", &al), ("run 2", &bl)] {
        out.push_str(&format!("--- {name}\n"));
        for (j, l) in lines.iter().enumerate().skip(lo).take(11) {
            let mark = if j == i { ">" } else { " " };
            out.push_str(&format!("{mark} {l}\n"));
        }
    }
    Some(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fnv1a_matches_reference_vectors() {
        assert_eq!(fnv1a(b""), 0xcbf2_9ce4_8422_2325);
        assert_eq!(fnv1a(b"a"), 0xaf63_dc4c_8601_ec8c);
        assert_eq!(fnv1a(b"foobar"), 0x8594_4171_f739_67e8);
    }

    #[test]
    fn divergence_points_at_first_differing_line() {
        let d = first_divergence("a\nb\nc\n", "a\nx\nc\n").expect("traces differ");
        assert!(d.starts_with("first difference at line 2"), "{d}");
        assert!(first_divergence("a\n", "a\n").is_none());
    }
}
