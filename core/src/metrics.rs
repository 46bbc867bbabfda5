//! A small metrics registry: counters, gauges and histograms keyed by `(name, label)`.
//!
//! Registration takes a lock (once per handle); updates are single atomic operations, so the
//! hot paths (bus publish, log ingest) never contend on the registry. Snapshots are sorted by
//! key, so they print the same way every run.

use std::collections::BTreeMap;
use std::fmt;
use std::sync::atomic::{AtomicI64, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};

/// Histogram buckets: bucket 0 holds zero, bucket i (1..N-1) holds values below 2^i, and
/// the last also holds everything larger (so its quantiles print as 2^(N-1) - 1).
pub const HISTOGRAM_BUCKETS: usize = 32;

/// Distinct `(name, label)` series a registry keeps. Labels carry subscription and task
/// names, so a long-lived brum that sees many short sessions must not grow without bound:
/// past this, new series still work for their holder but are not registered, and
/// `metrics.series_dropped` counts them. 10,000 is far above what a dev session creates
/// (ten series per subscription) while staying a few hundred KiB.
pub const METRIC_SERIES_MAX: usize = 10_000;

#[derive(Debug, Clone, Default)]
pub struct Counter(Arc<AtomicU64>);

impl Counter {
    pub fn inc(&self) {
        self.0.fetch_add(1, Ordering::Relaxed);
    }
    pub fn add(&self, n: u64) {
        self.0.fetch_add(n, Ordering::Relaxed);
    }
    pub fn get(&self) -> u64 {
        self.0.load(Ordering::Relaxed)
    }
}

#[derive(Debug, Clone, Default)]
pub struct Gauge(Arc<AtomicI64>);

impl Gauge {
    pub fn add(&self, n: i64) {
        self.0.fetch_add(n, Ordering::Relaxed);
    }
    pub fn set(&self, v: i64) {
        self.0.store(v, Ordering::Relaxed);
    }
    pub fn get(&self) -> i64 {
        self.0.load(Ordering::Relaxed)
    }
}

#[derive(Debug)]
struct HistogramInner {
    buckets: [AtomicU64; HISTOGRAM_BUCKETS],
    count: AtomicU64,
    sum: AtomicU64,
    max: AtomicU64,
}

/// A log2-bucketed histogram of `u64` samples (microseconds, bytes, depths).
#[derive(Debug, Clone)]
pub struct Histogram(Arc<HistogramInner>);

impl Default for Histogram {
    fn default() -> Self {
        Histogram(Arc::new(HistogramInner {
            buckets: std::array::from_fn(|_| AtomicU64::new(0)),
            count: AtomicU64::new(0),
            sum: AtomicU64::new(0),
            max: AtomicU64::new(0),
        }))
    }
}

impl Histogram {
    pub fn record(&self, v: u64) {
        let idx = if v == 0 { 0 } else { (64 - v.leading_zeros() as usize).min(HISTOGRAM_BUCKETS - 1) };
        self.0.buckets[idx].fetch_add(1, Ordering::Relaxed);
        self.0.count.fetch_add(1, Ordering::Relaxed);
        self.0.sum.fetch_add(v, Ordering::Relaxed);
        self.0.max.fetch_max(v, Ordering::Relaxed);
    }

    pub fn summary(&self) -> HistogramSummary {
        let count = self.0.count.load(Ordering::Relaxed);
        let buckets: Vec<u64> = self.0.buckets.iter().map(|b| b.load(Ordering::Relaxed)).collect();
        let quantile = |q: f64| -> u64 {
            if count == 0 {
                return 0;
            }
            let target = ((count as f64) * q).ceil() as u64;
            let mut seen = 0;
            for (i, n) in buckets.iter().enumerate() {
                seen += n;
                if seen >= target {
                    // Upper bound of bucket i.
                    return if i == 0 { 0 } else { (1u64 << i) - 1 };
                }
            }
            u64::MAX
        };
        HistogramSummary {
            count,
            sum: self.0.sum.load(Ordering::Relaxed),
            max: self.0.max.load(Ordering::Relaxed),
            p50: quantile(0.5),
            p99: quantile(0.99),
        }
    }
}

/// Count, sum, max and bucket-upper-bound quantiles of a histogram.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct HistogramSummary {
    pub count: u64,
    pub sum: u64,
    pub max: u64,
    pub p50: u64,
    pub p99: u64,
}

#[derive(Debug, Default)]
struct Registry {
    counters: BTreeMap<(String, String), Counter>,
    gauges: BTreeMap<(String, String), Gauge>,
    histograms: BTreeMap<(String, String), Histogram>,
    series_dropped: Counter,
}

impl Registry {
    fn full(&self) -> bool {
        self.counters.len() + self.gauges.len() + self.histograms.len() >= METRIC_SERIES_MAX
    }
}

/// The handle for `key` in `map`, registering it unless the registry is full.
fn series<T: Clone + Default>(
    map: &mut BTreeMap<(String, String), T>,
    full: bool,
    dropped: &Counter,
    key: (String, String),
) -> T {
    if let Some(h) = map.get(&key) {
        return h.clone();
    }
    if full {
        dropped.inc();
        return T::default();
    }
    map.entry(key).or_default().clone()
}

/// The registry. Cheap to clone (an `Arc`).
#[derive(Debug, Clone, Default)]
pub struct Metrics(Arc<Mutex<Registry>>);

fn key(name: &str, label: &str) -> (String, String) {
    (name.to_string(), label.to_string())
}

impl Metrics {
    pub fn new() -> Self {
        Metrics::default()
    }

    fn with<T>(&self, f: impl FnOnce(&mut Registry) -> T) -> T {
        // A poisoned registry only means a panic elsewhere while registering; the maps are
        // still consistent (every insert is a single call), so keep serving.
        let mut g = self.0.lock().unwrap_or_else(|e| e.into_inner());
        f(&mut g)
    }

    /// The counter `name{label}`, created at zero on first use.
    pub fn counter(&self, name: &str, label: &str) -> Counter {
        self.with(|r| {
            let full = r.full();
            series(&mut r.counters, full, &r.series_dropped, key(name, label))
        })
    }

    pub fn gauge(&self, name: &str, label: &str) -> Gauge {
        self.with(|r| {
            let full = r.full();
            series(&mut r.gauges, full, &r.series_dropped, key(name, label))
        })
    }

    pub fn histogram(&self, name: &str, label: &str) -> Histogram {
        self.with(|r| {
            let full = r.full();
            series(&mut r.histograms, full, &r.series_dropped, key(name, label))
        })
    }

    /// Series not registered because the registry was full (see [`METRIC_SERIES_MAX`]).
    pub fn series_dropped(&self) -> u64 {
        self.with(|r| r.series_dropped.get())
    }

    /// Sum of every gauge called `name`, over all labels (e.g. all live tasks).
    pub fn gauge_total(&self, name: &str) -> i64 {
        self.with(|r| r.gauges.iter().filter(|((n, _), _)| n == name).map(|(_, g)| g.get()).sum())
    }

    /// Every metric's current value, sorted by name then label.
    pub fn snapshot(&self) -> MetricsSnapshot {
        self.with(|r| {
            let mut rows = Vec::new();
            for ((n, l), c) in &r.counters {
                rows.push(MetricRow { name: n.clone(), label: l.clone(), value: MetricValue::Counter(c.get()) });
            }
            for ((n, l), g) in &r.gauges {
                rows.push(MetricRow { name: n.clone(), label: l.clone(), value: MetricValue::Gauge(g.get()) });
            }
            for ((n, l), h) in &r.histograms {
                rows.push(MetricRow { name: n.clone(), label: l.clone(), value: MetricValue::Histogram(h.summary()) });
            }
            if r.series_dropped.get() > 0 {
                rows.push(MetricRow {
                    name: "metrics.series_dropped".to_string(),
                    label: String::new(),
                    value: MetricValue::Counter(r.series_dropped.get()),
                });
            }
            rows.sort_by(|a, b| (&a.name, &a.label).cmp(&(&b.name, &b.label)));
            MetricsSnapshot { rows }
        })
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum MetricValue {
    Counter(u64),
    Gauge(i64),
    Histogram(HistogramSummary),
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MetricRow {
    pub name: String,
    pub label: String,
    pub value: MetricValue,
}

#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct MetricsSnapshot {
    pub rows: Vec<MetricRow>,
}

impl MetricsSnapshot {
    pub fn get(&self, name: &str, label: &str) -> Option<&MetricValue> {
        self.rows.iter().find(|r| r.name == name && r.label == label).map(|r| &r.value)
    }
}

impl fmt::Display for MetricsSnapshot {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for r in &self.rows {
            let key = if r.label.is_empty() { r.name.clone() } else { format!("{}{{{}}}", r.name, r.label) };
            match r.value {
                MetricValue::Counter(v) => writeln!(f, "{key:<44} counter   {v}")?,
                MetricValue::Gauge(v) => writeln!(f, "{key:<44} gauge     {v}")?,
                MetricValue::Histogram(h) => writeln!(
                    f,
                    "{key:<44} histogram count={} sum={} p50<={} p99<={} max={}",
                    h.count, h.sum, h.p50, h.p99, h.max
                )?,
            }
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_full_registry_stops_registering_and_counts_what_it_dropped() {
        let m = Metrics::new();
        for i in 0..METRIC_SERIES_MAX {
            m.counter("c", &i.to_string());
        }
        let extra = m.counter("c", "one too many");
        extra.inc();
        assert_eq!(extra.get(), 1, "an unregistered handle still counts for its holder");
        assert_eq!(m.series_dropped(), 1);
        // Existing series are still served.
        m.counter("c", "0").inc();
        assert_eq!(m.counter("c", "0").get(), 1);
        assert_eq!(m.series_dropped(), 1);
        let s = m.snapshot();
        assert_eq!(s.get("metrics.series_dropped", ""), Some(&MetricValue::Counter(1)));
        assert_eq!(s.rows.len(), METRIC_SERIES_MAX + 1);
    }

    #[test]
    fn handles_share_state_and_snapshot_is_sorted() {
        let m = Metrics::new();
        m.counter("b", "x").inc();
        m.counter("b", "x").add(2);
        m.gauge("a", "y").add(5);
        m.gauge("a", "z").add(-2);
        let h = m.histogram("c", "");
        for v in [0, 1, 3, 100] {
            h.record(v);
        }
        assert_eq!(m.gauge_total("a"), 3);
        let s = m.snapshot();
        let names: Vec<_> = s.rows.iter().map(|r| format!("{}{}", r.name, r.label)).collect();
        assert_eq!(names, ["ay", "az", "bx", "c"]);
        assert_eq!(s.get("b", "x"), Some(&MetricValue::Counter(3)));
        match s.get("c", "") {
            Some(MetricValue::Histogram(h)) => {
                assert_eq!((h.count, h.sum, h.max), (4, 104, 100));
                assert_eq!(h.p50, 1);
                assert_eq!(h.p99, 127);
            }
            other => panic!("expected histogram, got {other:?}"),
        }
    }
}
