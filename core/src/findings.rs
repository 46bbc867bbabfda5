//! What detection found, kept for every front end to read: errors grouped by signature, the
//! URLs each live instance announced, and the latest build and test outcome per script.
//!
//! A pure, synchronous, single-writer structure (like the log store): [`Findings::apply`]
//! takes the bus's envelopes in order, queries read it. Bounded: at most `errors_max` groups
//! (the least recently seen group goes first) and `urls_max` URLs (the oldest goes first),
//! each eviction counted.
//!
//! Guarantees (each has a test below):
//! - one group per signature (kind, message, location): a repeat raises its count and its
//!   last-seen time, and adds the instance it came from;
//! - a URL is kept only while its instance runs: its `ProcessExited` removes it;
//! - the limits hold after every event, and every eviction is counted.

use std::collections::{BTreeMap, BTreeSet};
use std::sync::Arc;

use crate::bus::{Envelope, Event};
use crate::detect::{Build, ErrorGroup, ErrorKind, TestSummary, Url};
use crate::process::{InstanceId, Location, ProcessRef};
use crate::rt::Mono;

/// Instances remembered per error group: enough to say "dev#3, dev#4 and 30 more", bounded so a
/// crash-looping script cannot grow one group without end (the count still counts every one).
pub const GROUP_INSTANCES_MAX: usize = 32;

/// Sizes of the store (the `[concurrency]` keys `errors_max` and `urls_max`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct FindingsConfig {
    pub errors_max: usize,
    pub urls_max: usize,
}

impl FindingsConfig {
    /// `errors_max` and `urls_max` from `[concurrency]`.
    pub fn from_settings(s: &crate::config::Settings) -> Self {
        FindingsConfig { errors_max: s.errors_max(), urls_max: s.urls_max() }
    }
}

/// An error group's stable id: from a counter, in first-seen order; cursors are these.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, serde::Serialize)]
#[serde(transparent)]
pub struct GroupId(pub u64);

/// What makes two errors the same group.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
struct Signature {
    kind: ErrorKind,
    message: String,
    location: Option<Location>,
}

/// One kept error group.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct ErrorEntry {
    pub id: GroupId,
    /// The latest occurrence (its lines and frames).
    pub latest: Arc<ErrorGroup>,
    pub count: u64,
    pub first_seen: Mono,
    pub last_seen: Mono,
    /// The instances it came from, oldest first, at most [`GROUP_INSTANCES_MAX`].
    pub instances: Vec<ProcessRef>,
}

/// A URL of a running instance.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct UrlEntry {
    pub process: ProcessRef,
    pub url: Arc<Url>,
    pub seen: Mono,
}

/// The latest build or test outcome of a script.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct Latest<T> {
    pub process: ProcessRef,
    pub value: T,
    pub seen: Mono,
}

/// Which error groups a query wants.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ErrorFilter {
    /// Only groups seen from this script.
    pub script: Option<String>,
    pub kind: Option<ErrorKind>,
}

/// One page of error groups, in first-seen order; `next` continues after the last one.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ErrorPage {
    pub groups: Vec<ErrorEntry>,
    pub next: Option<GroupId>,
}

/// Counters of what the store did.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct FindingsStats {
    pub errors_seen: u64,
    pub groups_evicted: u64,
    pub urls_seen: u64,
    pub urls_evicted: u64,
    pub urls_ended: u64,
}

/// The store (see the module documentation).
#[derive(Debug)]
pub struct Findings {
    cfg: FindingsConfig,
    next_group: u64,
    by_signature: BTreeMap<Signature, GroupId>,
    groups: BTreeMap<GroupId, (Signature, ErrorEntry)>,
    /// (last seen, id) of every group: the least recently seen is first.
    recency: BTreeSet<(Mono, GroupId)>,
    /// URLs by the order they were seen (a counter), and the keys of each instance's.
    urls: BTreeMap<u64, UrlEntry>,
    urls_of: BTreeMap<InstanceId, Vec<u64>>,
    next_url: u64,
    builds: BTreeMap<Arc<str>, Latest<Build>>,
    tests: BTreeMap<Arc<str>, Latest<Arc<TestSummary>>>,
    stats: FindingsStats,
}

impl Findings {
    pub fn new(cfg: FindingsConfig) -> Self {
        Findings {
            cfg: FindingsConfig { errors_max: cfg.errors_max.max(1), urls_max: cfg.urls_max.max(1) },
            next_group: 1,
            by_signature: BTreeMap::new(),
            groups: BTreeMap::new(),
            recency: BTreeSet::new(),
            urls: BTreeMap::new(),
            urls_of: BTreeMap::new(),
            next_url: 0,
            builds: BTreeMap::new(),
            tests: BTreeMap::new(),
            stats: FindingsStats::default(),
        }
    }

    /// Takes one event (in bus order); events that carry no finding change nothing.
    pub fn apply(&mut self, env: &Envelope) {
        match &env.event {
            Event::ErrorDetected { process, error } => self.error(process, error, env.at),
            Event::UrlDetected { process, url } => self.url(process, url, env.at),
            Event::ProcessExited { process, .. } | Event::SpawnFailed { process, .. } => self.ended(process.id),
            Event::BuildEvent { process, build } => {
                self.builds
                    .insert(process.name.clone(), Latest { process: process.clone(), value: *build, seen: env.at });
            }
            Event::TestResult { process, summary } => {
                self.tests.insert(
                    process.name.clone(),
                    Latest { process: process.clone(), value: summary.clone(), seen: env.at },
                );
            }
            _ => {}
        }
    }

    fn error(&mut self, process: &ProcessRef, error: &Arc<ErrorGroup>, at: Mono) {
        self.stats.errors_seen += 1;
        let sig = Signature { kind: error.kind, message: error.message.clone(), location: error.location.clone() };
        if let Some(&id) = self.by_signature.get(&sig) {
            let (_, entry) = self.groups.get_mut(&id).expect("by_signature and groups agree");
            self.recency.remove(&(entry.last_seen, id));
            entry.count += 1;
            entry.last_seen = at;
            entry.latest = error.clone();
            if !entry.instances.contains(process) && entry.instances.len() < GROUP_INSTANCES_MAX {
                entry.instances.push(process.clone());
            }
            self.recency.insert((at, id));
            return;
        }
        let id = GroupId(self.next_group);
        self.next_group += 1;
        let entry = ErrorEntry {
            id,
            latest: error.clone(),
            count: 1,
            first_seen: at,
            last_seen: at,
            instances: vec![process.clone()],
        };
        self.by_signature.insert(sig.clone(), id);
        self.groups.insert(id, (sig, entry));
        self.recency.insert((at, id));
        while self.groups.len() > self.cfg.errors_max {
            let Some((seen, oldest)) = self.recency.pop_first() else { break };
            let _ = seen;
            if let Some((sig, _)) = self.groups.remove(&oldest) {
                self.by_signature.remove(&sig);
                self.stats.groups_evicted += 1;
            }
        }
    }

    fn url(&mut self, process: &ProcessRef, url: &Arc<Url>, at: Mono) {
        self.stats.urls_seen += 1;
        let key = self.next_url;
        self.next_url += 1;
        self.urls.insert(key, UrlEntry { process: process.clone(), url: url.clone(), seen: at });
        self.urls_of.entry(process.id).or_default().push(key);
        while self.urls.len() > self.cfg.urls_max {
            // The mutant evicts from the wrong end: the URL just announced goes.
            let evicted = if crate::mutants::active(crate::mutants::FINDINGS_EVICT_NEWEST_URL) {
                self.urls.pop_last()
            } else {
                self.urls.pop_first()
            };
            let Some((old, entry)) = evicted else { break };
            if let Some(keys) = self.urls_of.get_mut(&entry.process.id) {
                keys.retain(|k| *k != old);
                if keys.is_empty() {
                    self.urls_of.remove(&entry.process.id);
                }
            }
            self.stats.urls_evicted += 1;
        }
    }

    fn ended(&mut self, id: InstanceId) {
        if crate::mutants::active(crate::mutants::FINDINGS_KEEP_URLS) {
            return;
        }
        for key in self.urls_of.remove(&id).unwrap_or_default() {
            if self.urls.remove(&key).is_some() {
                self.stats.urls_ended += 1;
            }
        }
    }

    /// Error groups matching `filter`, first-seen order, after `after`, at most `limit`.
    pub fn errors(&self, filter: &ErrorFilter, after: Option<GroupId>, limit: usize) -> ErrorPage {
        let start = after.map_or(std::ops::Bound::Unbounded, std::ops::Bound::Excluded);
        let mut groups = Vec::new();
        let mut more = false;
        for (_, (_, e)) in self.groups.range((start, std::ops::Bound::Unbounded)) {
            let script_ok = filter.script.as_deref().is_none_or(|s| e.instances.iter().any(|p| &*p.name == s));
            if !script_ok || filter.kind.is_some_and(|k| k != e.latest.kind) {
                continue;
            }
            if groups.len() == limit {
                more = true;
                break;
            }
            groups.push(e.clone());
        }
        let next = if more { groups.last().map(|g| g.id) } else { None };
        ErrorPage { groups, next }
    }

    /// URLs of running instances, in the order they were announced; only `script`'s if given.
    pub fn urls(&self, script: Option<&str>) -> Vec<UrlEntry> {
        self.urls.values().filter(|u| script.is_none_or(|s| &*u.process.name == s)).cloned().collect()
    }

    /// The latest build outcome of every script that reported one, by script name.
    pub fn builds(&self) -> impl Iterator<Item = &Latest<Build>> {
        self.builds.values()
    }

    /// The latest test summary of every script that reported one, by script name.
    pub fn tests(&self) -> impl Iterator<Item = &Latest<Arc<TestSummary>>> {
        self.tests.values()
    }

    /// Forgets the error groups (only those seen from `script`, if given) and returns how
    /// many went. Ids keep counting up, so a cursor taken before a clear stays valid.
    pub fn clear_errors(&mut self, script: Option<&str>) -> u64 {
        let gone: Vec<GroupId> = self
            .groups
            .iter()
            .filter(|(_, (_, e))| script.is_none_or(|s| e.instances.iter().any(|p| &*p.name == s)))
            .map(|(id, _)| *id)
            .collect();
        for id in &gone {
            if let Some((sig, entry)) = self.groups.remove(id) {
                self.by_signature.remove(&sig);
                self.recency.remove(&(entry.last_seen, *id));
            }
        }
        gone.len() as u64
    }

    pub fn group_count(&self) -> usize {
        self.groups.len()
    }

    pub fn stats(&self) -> FindingsStats {
        self.stats
    }
}

#[cfg(test)]
mod tests {
    use std::time::{Duration, SystemTime};

    use proptest::prelude::*;

    use super::*;
    use crate::bus::EventId;
    use crate::rt::Exit;

    fn env(n: u64, event: Event) -> Envelope {
        Envelope { id: EventId(n), at: Mono::ZERO + Duration::from_millis(n), wall: SystemTime::UNIX_EPOCH, event }
    }

    fn error(p: &ProcessRef, message: &str, line: u32) -> Event {
        let mut g = ErrorGroup::new(ErrorKind::Typescript, message);
        g.location = Some(Location { file: "src/a.ts".into(), line: Some(line), column: None });
        Event::ErrorDetected { process: p.clone(), error: Arc::new(g) }
    }

    fn url(p: &ProcessRef, port: u16) -> Event {
        let u = Url::parse_announced(&format!("http://localhost:{port}/")).expect("a URL");
        Event::UrlDetected { process: p.clone(), url: Arc::new(u) }
    }

    fn exited(p: &ProcessRef) -> Event {
        Event::ProcessExited { process: p.clone(), exit: Exit::Code(0) }
    }

    fn cfg(errors_max: usize, urls_max: usize) -> FindingsConfig {
        FindingsConfig { errors_max, urls_max }
    }

    #[test]
    fn same_signature_is_one_group_with_a_count_and_its_instances() {
        let (a, b) = (ProcessRef::new(1, "tsc"), ProcessRef::new(2, "tsc"));
        let mut f = Findings::new(cfg(10, 10));
        f.apply(&env(1, error(&a, "TS2322: bad", 3)));
        f.apply(&env(2, error(&a, "TS2322: bad", 3)));
        f.apply(&env(3, error(&b, "TS2322: bad", 3)));
        f.apply(&env(4, error(&b, "TS2322: bad", 4)));
        let page = f.errors(&ErrorFilter::default(), None, 10);
        assert_eq!(page.groups.len(), 2);
        let g = &page.groups[0];
        assert_eq!(
            (g.count, g.first_seen, g.last_seen),
            (3, Mono::ZERO + Duration::from_millis(1), Mono::ZERO + Duration::from_millis(3))
        );
        assert_eq!(g.instances, vec![a, b]);
    }

    #[test]
    fn clearing_errors_forgets_their_groups_and_a_repeat_starts_a_new_one() {
        let (a, b) = (ProcessRef::new(1, "web"), ProcessRef::new(2, "api"));
        let mut f = Findings::new(cfg(10, 10));
        f.apply(&env(1, error(&a, "TS2322: bad", 3)));
        f.apply(&env(2, error(&b, "TS2322: worse", 3)));
        assert_eq!(f.clear_errors(Some("web")), 1);
        let left: Vec<String> =
            f.errors(&ErrorFilter::default(), None, 10).groups.iter().map(|g| g.latest.message.clone()).collect();
        assert_eq!(left, ["TS2322: worse"]);
        f.apply(&env(3, error(&a, "TS2322: bad", 3)));
        let page = f.errors(&ErrorFilter::default(), None, 10);
        assert_eq!(page.groups.len(), 2);
        assert_eq!((page.groups[1].id, page.groups[1].count), (GroupId(3), 1), "a new group, with a new id");
        assert_eq!(f.clear_errors(None), 2);
        assert_eq!(f.group_count(), 0);
        assert!(f.recency.is_empty() && f.by_signature.is_empty());
    }

    #[test]
    fn the_least_recently_seen_group_is_evicted_and_counted() {
        let p = ProcessRef::new(1, "dev");
        let mut f = Findings::new(cfg(2, 10));
        f.apply(&env(1, error(&p, "one", 1)));
        f.apply(&env(2, error(&p, "two", 2)));
        f.apply(&env(3, error(&p, "one", 1))); // "one" is now the most recent
        f.apply(&env(4, error(&p, "three", 3)));
        let messages: Vec<String> =
            f.errors(&ErrorFilter::default(), None, 10).groups.iter().map(|g| g.latest.message.clone()).collect();
        assert_eq!(messages, ["one", "three"]);
        assert_eq!(f.stats().groups_evicted, 1);
    }

    #[test]
    fn urls_end_with_their_instance_and_the_oldest_go_past_the_limit() {
        let (a, b) = (ProcessRef::new(1, "web"), ProcessRef::new(2, "api"));
        let mut f = Findings::new(cfg(10, 2));
        f.apply(&env(1, url(&a, 5173)));
        f.apply(&env(2, url(&b, 3000)));
        f.apply(&env(3, url(&b, 3001)));
        assert_eq!(f.urls(None).iter().map(|u| u.url.port).collect::<Vec<_>>(), [3000, 3001]);
        assert_eq!(f.stats().urls_evicted, 1);
        f.apply(&env(4, exited(&b)));
        assert!(f.urls(None).is_empty());
        assert_eq!(f.stats().urls_ended, 2);
    }

    #[test]
    fn pages_follow_the_cursor_and_filters_apply() {
        let (a, b) = (ProcessRef::new(1, "web"), ProcessRef::new(2, "api"));
        let mut f = Findings::new(cfg(100, 10));
        for i in 0..7 {
            f.apply(&env(i, error(if i % 2 == 0 { &a } else { &b }, &format!("e{i}"), 1)));
        }
        let mut seen = Vec::new();
        let mut after = None;
        loop {
            let page = f.errors(&ErrorFilter { script: Some("web".into()), kind: None }, after, 2);
            seen.extend(page.groups.iter().map(|g| g.latest.message.clone()));
            match page.next {
                Some(n) => after = Some(n),
                None => break,
            }
        }
        assert_eq!(seen, ["e0", "e2", "e4", "e6"]);
        let none = f.errors(&ErrorFilter { script: None, kind: Some(ErrorKind::Rustc) }, None, 10);
        assert!(none.groups.is_empty() && none.next.is_none());
    }

    #[test]
    fn latest_build_and_test_per_script() {
        use crate::detect::{BuildOutcome, BuildTool};
        let p = ProcessRef::new(1, "web");
        let mut f = Findings::new(cfg(10, 10));
        for (i, outcome) in [BuildOutcome::Failed, BuildOutcome::Rebuilt].into_iter().enumerate() {
            f.apply(&env(
                i as u64,
                Event::BuildEvent { process: p.clone(), build: Build { outcome, tool: BuildTool::Vite } },
            ));
        }
        assert_eq!(f.builds().map(|b| b.value.outcome).collect::<Vec<_>>(), [BuildOutcome::Rebuilt]);
    }

    proptest! {
        /// Under any sequence of errors, URLs and exits: the limits hold, no two groups share
        /// a signature, no URL belongs to an instance that ended, and every error is accounted
        /// for (kept groups' counts plus evicted ones' never exceed what was seen).
        #[test]
        fn bounded_unique_and_no_url_outlives_its_instance(
            ops in prop::collection::vec((0u8..3, 0u64..4, 0u32..6), 1..300),
            errors_max in 1usize..8,
            urls_max in 1usize..8,
        ) {
            let mut f = Findings::new(cfg(errors_max, urls_max));
            let mut ended = BTreeSet::new();
            for (n, (op, inst, v)) in ops.into_iter().enumerate() {
                // Instances 0..4 of one script; an ended instance id is never reused.
                let id = inst + 4 * ended.iter().filter(|e: &&u64| **e % 4 == inst).count() as u64;
                let p = ProcessRef::new(id, "s");
                let event = match op {
                    0 => error(&p, &format!("m{v}"), v % 3),
                    1 => url(&p, 3000 + v as u16),
                    _ => { ended.insert(id); exited(&p) }
                };
                f.apply(&env(n as u64, event));
                prop_assert!(f.group_count() <= errors_max);
                prop_assert!(f.urls(None).len() <= urls_max);
                let sigs: BTreeSet<_> = f.groups.values().map(|(s, _)| s.clone()).collect();
                prop_assert_eq!(sigs.len(), f.group_count());
                prop_assert_eq!(f.by_signature.len(), f.group_count());
                prop_assert_eq!(f.recency.len(), f.group_count());
                for u in f.urls(None) {
                    prop_assert!(!ended.contains(&u.process.id.0), "URL of ended {}", u.process);
                }
                let kept: u64 = f.groups.values().map(|(_, e)| e.count).sum();
                prop_assert!(kept <= f.stats().errors_seen);
            }
        }
    }
}
