//! The log store's guarantees as properties against a model, plus unit tests of the edges.
//!
//! - I20/I21/I26 `no_accepted_line_is_lost_or_duplicated`
//! - I23 `budget_is_never_exceeded`
//! - I24 `index_matches_a_recount_after_every_operation`
//! - I25 `clear_is_linearizable`
//! - search `search_equals_a_naive_search_across_pages`
//! - collapsing `collapsed_equals_naive_run_folding`

use std::sync::Arc;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use proptest::prelude::*;

use super::*;
use crate::process::{ProcessRef, Stream};
use crate::rt::Mono;

fn processes() -> Vec<ProcessRef> {
    // `web` runs twice (a restart): same name, new id.
    [(1, "web"), (2, "api"), (3, "web"), (4, "worker")]
        .into_iter()
        .map(|(id, name)| ProcessRef::new(id, Arc::from(name)))
        .collect()
}

fn wall(ms: u64) -> SystemTime {
    UNIX_EPOCH + Duration::from_secs(1_800_000_000) + Duration::from_millis(ms)
}

fn mono(ms: u64) -> Mono {
    Mono(Duration::from_millis(ms))
}

fn store(budget: u64) -> LogStore {
    LogStore::new(LogStoreConfig { budget_bytes: budget, max_line_bytes: LOG_MAX_LINE_BYTES_DEFAULT })
}

/// Fragments lines are built from: level markers, ANSI colours, overdraws, embedded newlines,
/// multi-byte characters, and words that search patterns look for.
const FRAGMENTS: &[&str] = &[
    "error",
    "Error",
    "warn",
    "INFO",
    "debug",
    "GET",
    "/api/users",
    " ",
    " ",
    "x",
    "a",
    "b",
    "ab",
    "é",
    "ÉTÉ",
    "€",
    "0",
    "42",
    "\u{1b}[31m",
    "\u{1b}[0m",
    "\r",
    "\n",
    "\t",
    "ready",
    "hmr update",
    // Long needles whose case-insensitive search uses a window of them as prefilter, and the
    // characters simple case folding adds to `s` and `k` (long s, Kelvin sign).
    "/api/items/42 ",
    "/API/Items/42 ",
    "/items/42 ",
    "ſk",
    "s\u{212a}",
];

fn line() -> impl Strategy<Value = String> {
    prop_oneof![
        10 => prop::collection::vec(prop::sample::select(FRAGMENTS), 0..8).prop_map(|f| f.concat()),
        1 => (1usize..400).prop_map(|n| "é".repeat(n / 2) + &"x".repeat(n % 7)),
    ]
}

#[derive(Debug, Clone)]
enum Op {
    Append {
        process: usize,
        stderr: bool,
        text: String,
        dt_ms: u64,
    },
    /// `None` clears everything; `Some(i)` one process filter from `process_filters()`.
    Clear(Option<usize>),
}

fn process_filters() -> Vec<ProcessFilter> {
    vec![ProcessFilter::Id(1), ProcessFilter::Id(2), ProcessFilter::Name("web".into()), ProcessFilter::Id(99)]
}

fn append_op() -> impl Strategy<Value = Op> {
    (0usize..4, any::<bool>(), line(), prop_oneof![5 => 0u64..50, 1 => Just(u64::MAX)])
        .prop_map(|(process, stderr, text, dt_ms)| Op::Append { process, stderr, text, dt_ms })
}

fn op(clears: bool) -> impl Strategy<Value = Op> {
    let weight = if clears { 1 } else { 0 };
    prop_oneof![
        30 => append_op(),
        weight => prop::option::of(0usize..4).prop_map(Op::Clear),
    ]
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum State {
    Present,
    Evicted,
    Cleared,
}

#[derive(Debug, Clone)]
struct Expected {
    id: EntryId,
    process: usize,
    stream: Stream,
    text: String,
    truncated: bool,
    mono: Mono,
    wall: SystemTime,
    state: State,
}

/// What the store must hold: every accepted line and what became of it.
#[derive(Debug)]
struct Model {
    store: LogStore,
    processes: Vec<ProcessRef>,
    expected: Vec<Expected>,
    /// The time the next append passes (it may go backwards: `dt_ms == u64::MAX` steps back).
    clock_ms: u64,
    /// The store's time so far (the clamp).
    accepted_ms: u64,
}

impl Model {
    fn new(budget: u64) -> Model {
        Model { store: store(budget), processes: processes(), expected: Vec::new(), clock_ms: 1000, accepted_ms: 0 }
    }

    fn apply(&mut self, op: &Op) {
        match op {
            Op::Append { process, stderr, text, dt_ms } => {
                self.clock_ms =
                    if *dt_ms == u64::MAX { self.clock_ms.saturating_sub(30) } else { self.clock_ms + dt_ms };
                let stream = if *stderr { Stream::Stderr } else { Stream::Stdout };
                let id = self
                    .store
                    .append(&self.processes[*process], stream, mono(self.clock_ms), wall(self.clock_ms), text)
                    .expect("an open store accepts every line");
                let mut kept = text.as_str();
                let max = self.store.max_line_bytes();
                if kept.len() > max {
                    let mut end = max;
                    while !kept.is_char_boundary(end) {
                        end -= 1;
                    }
                    kept = &kept[..end];
                }
                if let Some(last) = self.expected.last() {
                    assert!(id > last.id, "ids must increase: {id} after {}", last.id);
                }
                self.accepted_ms = self.accepted_ms.max(self.clock_ms);
                self.expected.push(Expected {
                    id,
                    process: *process,
                    stream,
                    text: kept.to_owned(),
                    truncated: kept.len() < text.len(),
                    mono: mono(self.accepted_ms),
                    wall: wall(self.clock_ms),
                    state: State::Present,
                });
            }
            Op::Clear(which) => {
                let filter = which.and_then(|i| process_filters().get(i).cloned());
                let removed = self.store.clear(filter.as_ref());
                let mut want = 0;
                for e in &mut self.expected {
                    let selected = filter.as_ref().is_none_or(|f| f.matches(&self.processes[e.process]));
                    if e.state == State::Present && selected {
                        e.state = State::Cleared;
                        want += 1;
                    }
                }
                assert_eq!(removed, want, "clear({filter:?}) removed the wrong number of entries");
            }
        }
        self.check();
    }

    /// Compares the store with the model; marks newly evicted entries.
    fn check(&mut self) {
        self.store.check_invariants();
        let held: Vec<EntryId> = self.store.iter().map(|e| e.id()).collect();
        let present: Vec<usize> =
            (0..self.expected.len()).filter(|&i| self.expected[i].state == State::Present).collect();
        // The store holds a suffix of the entries the model says are present: the rest were
        // evicted, and they must be the oldest.
        assert!(held.len() <= present.len(), "store holds {} entries, only {} were kept", held.len(), present.len());
        let evicted_now = present.len() - held.len();
        for &i in &present[..evicted_now] {
            self.expected[i].state = State::Evicted;
        }
        for (&i, id) in present[evicted_now..].iter().zip(&held) {
            assert_eq!(self.expected[i].id, *id, "held entries are not the newest accepted ones (I20, I21)");
        }
        let stats = self.store.stats();
        let count = |s| self.expected.iter().filter(|e| e.state == s).count() as u64;
        assert_eq!(stats.evicted_entries, count(State::Evicted), "evictions not counted");
        assert_eq!(stats.cleared_entries, count(State::Cleared), "clears not counted");
        assert_eq!(stats.appended, self.expected.len() as u64);
        for e in &self.expected {
            let got = self.store.get(e.id);
            if e.state != State::Present {
                assert!(got.is_none(), "{} is {:?} but still retrievable", e.id, e.state);
                continue;
            }
            let got = got.unwrap_or_else(|| panic!("{} is present but get() misses it", e.id));
            assert_eq!(got.id(), e.id);
            assert_eq!(got.process(), &self.processes[e.process]);
            assert_eq!(got.stream(), e.stream);
            assert_eq!(got.text(), e.text, "display text of {}", e.id);
            assert_eq!(got.plain(), crate::ansi::plain(&e.text), "plain text of {}", e.id);
            assert_eq!(got.level(), guess_level(&crate::ansi::plain(&e.text)));
            assert_eq!(got.truncated(), e.truncated);
            assert_eq!((got.mono(), got.wall()), (e.mono, e.wall));
            assert_eq!(got.to_entry().plain(), got.plain());
        }
    }
}

/// The entries `filter` selects, by a plain scan of every entry (the reference for the index).
fn naive<'s>(store: &'s LogStore, filter: &Filter) -> Vec<EntryRef<'s>> {
    store
        .iter()
        .filter(|e| filter.process.as_ref().is_none_or(|p| p.matches(e.process())))
        .filter(|e| filter.stream.is_none_or(|s| s == e.stream()))
        .filter(|e| filter.levels.contains(e.level()))
        .filter(|e| filter.since.is_none_or(|t| e.mono() >= t))
        .filter(|e| filter.until.is_none_or(|t| e.mono() < t))
        .collect()
}

fn filter() -> impl Strategy<Value = Filter> {
    let levels = prop_oneof![
        Just(LevelSet::ALL),
        prop::sample::select(Level::ALL.to_vec()).prop_map(LevelSet::only),
        prop::sample::select(Level::ALL.to_vec()).prop_map(LevelSet::at_least),
    ];
    let times = prop::option::of(0u64..3000).prop_map(|t| t.map(|ms| mono(1000 + ms)));
    (
        prop::option::of(prop::sample::select(process_filters())),
        prop::option::of(prop::sample::select(vec![Stream::Stdout, Stream::Stderr])),
        levels,
        times.clone(),
        times,
    )
        .prop_map(|(process, stream, levels, since, until)| Filter { process, stream, levels, since, until })
}

/// Patterns covering anchors (line and haystack), classes that include `\n`, dot-all, a
/// literal newline, Unicode, case-insensitivity and empty matches.
const PATTERNS: &[&str] = &[
    "error",
    "(?i)err",
    "^GET",
    "x$",
    r"\Aa",
    r"b\z",
    r"\berror\b",
    "a.b",
    "(?s)a.*b",
    r"a\s+b",
    "[^a]",
    r"a\nb",
    "é+",
    r"\d",
    "",
    "(?m)^x",
    "^$",
    r"\w+ \w+",
    "a|b",
    "(?i)été",
    "(?-m)^x|b$",
];

fn text_query() -> impl Strategy<Value = TextQuery> {
    prop_oneof![
        (prop::sample::select(FRAGMENTS), any::<bool>())
            .prop_map(|(t, ci)| TextQuery::Substring { text: t.to_owned(), case_insensitive: ci }),
        (prop::collection::vec(prop::sample::select(FRAGMENTS), 0..3), any::<bool>())
            .prop_map(|(t, ci)| TextQuery::Substring { text: t.concat(), case_insensitive: ci }),
        prop::sample::select(PATTERNS).prop_map(|p| TextQuery::Regex(p.to_owned())),
    ]
}

/// The reference matcher: the regex crate (or `str::contains`) on each line on its own.
fn reference(query: &TextQuery) -> impl Fn(&str) -> bool {
    let re = match query {
        TextQuery::Substring { text, case_insensitive: false } => {
            let text = text.clone();
            return Box::new(move |line: &str| line.contains(&text)) as Box<dyn Fn(&str) -> bool>;
        }
        TextQuery::Substring { text, case_insensitive: true } => {
            regex::RegexBuilder::new(&regex::escape(text)).case_insensitive(true).build()
        }
        TextQuery::Regex(p) => regex::Regex::new(p),
    }
    .expect("test patterns are valid");
    Box::new(move |line: &str| re.is_match(line))
}

fn naive_search(store: &LogStore, query: &TextQuery, filter: &Filter) -> Vec<EntryId> {
    let matches = reference(query);
    let mut ids: Vec<EntryId> =
        naive(store, filter).into_iter().filter(|e| matches(e.plain())).map(|e| e.id()).collect();
    ids.reverse();
    ids
}

/// Rows by folding runs forward: the reference for `collapsed`.
fn naive_collapsed(store: &LogStore, filter: &Filter, n: usize) -> Vec<(EntryId, EntryId, u64, String)> {
    let mut rows: Vec<(EntryId, EntryId, u64, String, Stream)> = Vec::new();
    let mut current: std::collections::BTreeMap<u64, usize> = std::collections::BTreeMap::new();
    for e in naive(store, filter) {
        let key = e.process().id.0;
        if let Some(&r) = current.get(&key) {
            let row = &mut rows[r];
            if row.3 == e.text() && row.4 == e.stream() {
                row.1 = e.id();
                row.2 += 1;
                continue;
            }
        }
        rows.push((e.id(), e.id(), 1, e.text().to_owned(), e.stream()));
        current.insert(key, rows.len() - 1);
    }
    rows.sort_by_key(|r| r.1);
    let skip = rows.len().saturating_sub(n);
    rows.into_iter().skip(skip).map(|(first, last, count, text, _)| (first, last, count, text)).collect()
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 64, ..ProptestConfig::default() })]

    /// A batch appended under one call stores exactly what appending its lines one by one
    /// stores: the same entries (text, plain text, level, truncation, ids), the same evictions
    /// and the same accounting, with the plain text taken from the batch instead of stripped
    /// again. Lines over the line limit (truncated, so stripped again) included.
    #[test]
    fn a_batch_stores_what_its_lines_appended_one_by_one_store(
        budget in 4096u64..40_000,
        max_line in prop_oneof![Just(LOG_MAX_LINE_BYTES_DEFAULT), 4usize..40],
        batches in prop::collection::vec((0usize..4, any::<bool>(), prop::collection::vec(line(), 1..20)), 1..30),
    ) {
        let cfg = LogStoreConfig { budget_bytes: budget, max_line_bytes: max_line };
        let (mut one, mut batched) = (LogStore::new(cfg), LogStore::new(cfg));
        let ps = processes();
        let mut stored = Vec::new();
        for (i, (p, stderr, lines)) in batches.iter().enumerate() {
            let stream = if *stderr { Stream::Stderr } else { Stream::Stdout };
            let at = mono(i as u64);
            for l in lines {
                one.append(&ps[*p], stream, at, wall(i as u64), l).unwrap();
            }
            let batch = crate::lines::LineBatch::of(lines.iter().map(String::as_str));
            batched
                .append_batch(&ps[*p], stream, at, wall(i as u64), &batch, |e| stored.push(e.id()))
                .unwrap();
        }
        let entries = |s: &LogStore| s.iter().map(|e| (e.to_entry(), e.plain().to_string(), e.level())).collect::<Vec<_>>();
        prop_assert_eq!(entries(&batched), entries(&one));
        prop_assert_eq!(batched.stats(), one.stats());
        // The callback saw every stored line, in order.
        let appended = one.stats().appended as usize;
        prop_assert_eq!(stored.len(), appended);
        prop_assert!(stored.windows(2).all(|w| w[0] < w[1]));
    }

    /// I20, I21, I22, I26: every accepted line is held (in append order, so per-process FIFO,
    /// with the id `append` returned, exactly once) or counted evicted, and the evicted ones
    /// are exactly the oldest.
    #[test]
    fn no_accepted_line_is_lost_or_duplicated(budget in 4096u64..40_000, ops in prop::collection::vec(append_op(), 1..300)) {
        let mut model = Model::new(budget);
        for op in &ops {
            model.apply(op);
        }
        // Per-process order: each process's held lines are its accepted lines' newest suffix.
        for p in 0..4 {
            let held: Vec<EntryId> = model.store.iter().filter(|e| e.process().id == processes()[p].id).map(|e| e.id()).collect();
            let accepted: Vec<EntryId> = model.expected.iter().filter(|e| e.process == p).map(|e| e.id).collect();
            prop_assert!(accepted.ends_with(&held), "process {p}: held {held:?} is not a suffix of {accepted:?}");
        }
    }

    /// I23: after every append the bytes held (by the store's accounting, which
    /// `check_invariants` recomputes from the capacities) are within the budget.
    #[test]
    fn budget_is_never_exceeded(budget in 4096u64..200_000, ops in prop::collection::vec(append_op(), 1..400)) {
        let mut model = Model::new(budget);
        for op in &ops {
            model.apply(op);
            let stats = model.store.stats();
            prop_assert!(stats.held_bytes <= stats.budget_bytes, "{} held, budget {}", stats.held_bytes, stats.budget_bytes);
        }
    }

    /// I24: the index (chunk summaries, time and id order) gives the same entries as a scan,
    /// for every filter, after every operation.
    #[test]
    fn index_matches_a_recount_after_every_operation(
        budget in 4096u64..20_000,
        ops in prop::collection::vec(op(true), 1..200),
        filters in prop::collection::vec(filter(), 1..6),
    ) {
        let mut model = Model::new(budget);
        for op in &ops {
            model.apply(op);
            for f in &filters {
                let want: Vec<EntryId> = naive(&model.store, f).iter().map(|e| e.id()).collect();
                prop_assert_eq!(model.store.ids(f), want.clone(), "ids({:?})", f);
                let n = want.len().min(7);
                let tail: Vec<EntryId> = model.store.tail(f, 7).iter().map(|e| e.id).collect();
                prop_assert_eq!(tail, want[want.len() - n..].to_vec(), "tail({:?}, 7)", f);
                // A forward page from a cursor (logs_stream): the oldest selected entries at or
                // after it, and whether more follow.
                let from = want.get(want.len() / 2).copied().unwrap_or(EntryId(0));
                let after: Vec<EntryId> = want.iter().copied().filter(|id| *id >= from).collect();
                let (page, more) = model.store.forward(f, from, 3);
                let page: Vec<EntryId> = page.iter().map(|e| e.id).collect();
                prop_assert_eq!(page, after.iter().copied().take(3).collect::<Vec<_>>(), "forward({:?}, {:?}, 3)", f, from);
                prop_assert_eq!(more, after.len() > 3, "forward({:?}, {:?}, 3) more", f, from);
            }
        }
    }

    /// I25: `clear` removes exactly the selected entries accepted before it, and keeps every
    /// entry accepted after it (the model checks the held set after every step).
    #[test]
    fn clear_is_linearizable(budget in 4096u64..40_000, ops in prop::collection::vec(op(true), 1..300)) {
        let mut model = Model::new(budget);
        for op in &ops {
            model.apply(op);
        }
    }

    /// A snapshot answers every query as the store did when it was taken, whatever the store
    /// does afterwards (appends into the chunk the snapshot copied, evictions of chunks it
    /// shares, clears), and the store's own answers and invariants are unaffected by it.
    #[test]
    fn a_snapshot_answers_as_the_store_did_when_taken(
        budget in 4096u64..20_000,
        before in prop::collection::vec(op(true), 1..150),
        after in prop::collection::vec(op(true), 1..150),
        text in text_query(),
        filter in filter(),
    ) {
        let mut model = Model::new(budget);
        for op in &before {
            model.apply(op);
        }
        let query = Query { text, filter: filter.clone(), limit: 5, cursor: None };
        let page = model.store.search(&query).expect("valid");
        let ids = model.store.ids(&filter);
        let all: Vec<LogEntry> = model.store.iter().map(|e| e.to_entry()).collect();
        let snapshot = model.store.snapshot();
        for op in &after {
            model.apply(op);
        }
        prop_assert_eq!(snapshot.search(&query).expect("valid"), page);
        prop_assert_eq!(snapshot.ids(&filter), ids);
        prop_assert_eq!(snapshot.iter().map(|e| e.to_entry()).collect::<Vec<_>>(), all);
        prop_assert!(snapshot.is_closed());
        // The store still equals the model (its `apply` checks every held entry).
        let want: Vec<EntryId> = naive(&model.store, &filter).iter().map(|e| e.id()).collect();
        prop_assert_eq!(model.store.ids(&filter), want);
    }

    /// Search equals a line-by-line reference search with the same filters, page by page,
    /// also when lines are appended (and old ones evicted) between pages.
    #[test]
    fn search_equals_a_naive_search_across_pages(
        budget in 4096u64..30_000,
        ops in prop::collection::vec(op(true), 1..250),
        text in text_query(),
        filter in filter(),
        limit in 1usize..12,
        between in prop::collection::vec(prop::collection::vec(append_op(), 0..6), 0..8),
    ) {
        let mut model = Model::new(budget);
        for op in &ops {
            model.apply(op);
        }
        let want = naive_search(&model.store, &text, &filter);
        let query = Query { text: text.clone(), filter: filter.clone(), limit, cursor: None };
        prop_assert_eq!(model.store.count(&query).expect("valid"), want.len() as u64);

        // Without appends between pages: exactly the reference, in order.
        let mut got = Vec::new();
        let mut cursor = None;
        loop {
            let page = model.store.search(&Query { cursor, ..query.clone() }).expect("valid");
            prop_assert!(page.entries.len() <= limit);
            prop_assert!(page.next_cursor.is_none() || page.entries.len() == limit);
            got.extend(page.entries.iter().map(|e| e.id));
            match page.next_cursor {
                Some(c) => cursor = Some(c),
                None => break,
            }
        }
        prop_assert_eq!(&got, &want);

        // With appends (and evictions) between pages: no duplicates, newest first, nothing new,
        // every page a slice of the reference at its time, and nothing still held is skipped.
        let mut got: Vec<EntryId> = Vec::new();
        let mut cursor = None;
        let mut rounds = between.iter();
        loop {
            let page = model.store.search(&Query { cursor, ..query.clone() }).expect("valid");
            let now = naive_search(&model.store, &text, &filter);
            let ids: Vec<EntryId> = page.entries.iter().map(|e| e.id).collect();
            let from = now.iter().position(|id| Some(*id) < cursor.or(Some(EntryId(u64::MAX)))).unwrap_or(now.len());
            prop_assert_eq!(ids.len(), limit.min(now.len() - from), "page is short or long");
            prop_assert_eq!(&ids[..], &now[from..(from + ids.len()).min(now.len())], "page is not the reference's next slice");
            got.extend(ids);
            match page.next_cursor {
                Some(c) => cursor = Some(c),
                None => break,
            }
            for op in rounds.next().into_iter().flatten() {
                model.apply(op);
            }
        }
        prop_assert!(got.windows(2).all(|w| w[0] > w[1]), "pages overlap or are out of order: {got:?}");
        prop_assert!(got.first().is_none_or(|first| want.first().is_some_and(|w| first <= w)));
        for id in &want {
            if model.store.get(*id).is_some() {
                prop_assert!(got.contains(id), "{id} is still held but no page returned it");
            }
        }
    }

    /// `collapsed` folds exactly the runs a forward pass folds, and keeps the newest rows.
    #[test]
    fn collapsed_equals_naive_run_folding(
        budget in 4096u64..20_000,
        ops in prop::collection::vec(
            (0usize..3, prop::sample::select(vec!["same", "same", "same", "other", "\u{1b}[31msame\u{1b}[0m"]), any::<bool>()),
            1..200,
        ),
        filter in filter(),
        n in 0usize..15,
    ) {
        let mut store = store(budget);
        let processes = processes();
        for (i, (p, text, stderr)) in ops.iter().enumerate() {
            let stream = if *stderr { Stream::Stderr } else { Stream::Stdout };
            store.append(&processes[*p], stream, mono(1000 + i as u64), wall(i as u64), text).expect("open");
        }
        let got: Vec<(EntryId, EntryId, u64, String)> = store
            .collapsed(&filter, n)
            .into_iter()
            .map(|r| (r.first.id, r.last.id, r.count, r.text))
            .collect();
        prop_assert_eq!(got, naive_collapsed(&store, &filter, n));
    }
}

#[test]
fn append_after_close_is_refused_and_counted() {
    let mut store = store(1 << 20);
    let p = &processes()[0];
    let id = store.append(p, Stream::Stdout, mono(0), wall(0), "before").expect("open");
    store.close();
    store.close();
    assert_eq!(store.append(p, Stream::Stdout, mono(1), wall(1), "after"), Err(AppendError::Closed));
    assert!(store.is_closed());
    assert_eq!(store.get(id).map(|e| e.text().to_owned()), Some("before".to_owned()));
    assert_eq!(store.stats().rejected_closed, 1);
    assert_eq!(store.stats().appended, 1);
}

#[test]
fn long_lines_are_truncated_marked_and_counted() {
    let mut store = store(1 << 20);
    let p = &processes()[0];
    let max = store.max_line_bytes();
    let line = "é".repeat(max); // 2 bytes per char: twice the limit
    let id = store.append(p, Stream::Stdout, mono(0), wall(0), &line).expect("open");
    let entry = store.get(id).expect("held");
    assert!(entry.truncated());
    assert!(entry.text().len() <= max && entry.text().len() > max - 2);
    assert!(line.starts_with(entry.text()));
    let stats = store.stats();
    assert_eq!(stats.truncated_lines, 1);
    assert_eq!(stats.truncated_bytes, (line.len() - entry.text().len()) as u64);
    let short = store.append(p, Stream::Stdout, mono(0), wall(0), "short").expect("open");
    assert!(!store.get(short).expect("held").truncated());
}

#[test]
fn ansi_is_kept_for_display_and_stripped_for_search_and_level() {
    let mut store = store(1 << 20);
    let p = &processes()[0];
    let id = store.append(p, Stream::Stderr, mono(0), wall(0), "\u{1b}[31mERROR\u{1b}[0m: boom").expect("open");
    let e = store.get(id).expect("held");
    assert_eq!(e.text(), "\u{1b}[31mERROR\u{1b}[0m: boom");
    assert_eq!(e.plain(), "ERROR: boom");
    assert_eq!(e.level(), Level::Error);
    let find = |q: &str| {
        let query = Query {
            text: TextQuery::Substring { text: q.to_owned(), case_insensitive: false },
            filter: Filter::default(),
            limit: 10,
            cursor: None,
        };
        store.count(&query).expect("valid")
    };
    assert_eq!(find("ERROR: boom"), 1);
    assert_eq!(find("[31m"), 0, "escape sequences are not searchable");
    let plain = store.append(p, Stream::Stderr, mono(0), wall(0), "compiling...").expect("open");
    assert_eq!(store.get(plain).expect("held").level(), Level::Unknown, "stderr alone is not an error");
}

#[test]
fn eviction_drops_the_oldest_and_counts_them() {
    let mut store = store(64 * 1024);
    let p = &processes()[1];
    let mut ids = Vec::new();
    for i in 0..5000 {
        ids.push(
            store.append(p, Stream::Stdout, mono(i), wall(i), &format!("GET /api/users/{i} 200 3ms")).expect("open"),
        );
    }
    let stats = store.stats();
    assert!(stats.evicted_entries > 0 && stats.evicted_chunks > 0);
    assert_eq!(stats.evicted_entries + stats.entries, 5000);
    let oldest = store.iter().next().expect("some held").id();
    for id in &ids {
        assert_eq!(store.get(*id).is_some(), *id >= oldest);
    }
    assert!(stats.held_bytes <= stats.budget_bytes);
    // A full store keeps at least 15/16 of its budget (whole-chunk eviction) minus one chunk's
    // slack, which at this size is more than half.
    assert!(stats.held_bytes > stats.budget_bytes / 2, "{stats:?}");
}

#[test]
fn time_going_backwards_is_clamped_and_counted() {
    let mut store = store(1 << 20);
    let p = &processes()[0];
    store.append(p, Stream::Stdout, mono(100), wall(100), "a").expect("open");
    let b = store.append(p, Stream::Stdout, mono(50), wall(50), "b").expect("open");
    let e = store.get(b).expect("held");
    assert_eq!(e.mono(), mono(100));
    assert_eq!(e.wall(), wall(50), "wall time is display-only and kept as given");
    assert_eq!(store.stats().mono_clamped, 1);
}

#[test]
fn cursor_survives_eviction_of_its_own_entry() {
    let mut store = store(32 * 1024);
    let p = &processes()[0];
    for i in 0..50 {
        store.append(p, Stream::Stdout, mono(i), wall(i), &format!("needle {i}")).expect("open");
    }
    let query = Query {
        text: TextQuery::Substring { text: "needle".into(), case_insensitive: false },
        filter: Filter::default(),
        limit: 10,
        cursor: None,
    };
    let first = store.search(&query).expect("valid");
    let cursor = first.next_cursor.expect("more pages");
    assert_eq!(first.entries[0].text, "needle 49");
    // Flood until the cursor's entry and everything older is gone.
    for i in 0..5000 {
        store.append(p, Stream::Stdout, mono(100 + i), wall(i), "filler line without the word").expect("open");
    }
    assert!(store.get(cursor).is_none());
    let next = store.search(&Query { cursor: Some(cursor), ..query.clone() }).expect("valid");
    assert_eq!(next, Page { entries: Vec::new(), next_cursor: None });
}

#[test]
fn search_reports_an_invalid_regex_by_its_pattern() {
    let store = store(1 << 20);
    let query = Query { text: TextQuery::Regex("a(b".into()), filter: Filter::default(), limit: 5, cursor: None };
    let err = store.search(&query).expect_err("invalid");
    assert_eq!(err.to_string(), "invalid regex `a(b`");
    assert!(matches!(store.count(&query), Err(SearchError::InvalidRegex { pattern, .. }) if pattern == "a(b"));
}

#[test]
fn clearing_one_process_returns_its_memory() {
    let mut store = store(1 << 20);
    let [web, api, ..] = &processes()[..] else { unreachable!("four processes") };
    for i in 0..2000 {
        let p = if i % 2 == 0 { web } else { api };
        store
            .append(p, Stream::Stdout, mono(i), wall(i), "a line of ordinary length, about sixty bytes")
            .expect("open");
    }
    let before = store.stats();
    assert_eq!(store.clear(Some(&ProcessFilter::Name("web".into()))), 1000);
    let after = store.stats();
    assert_eq!((after.entries, after.cleared_entries, after.processes), (1000, 1000, 1));
    assert!(after.text_bytes * 2 <= before.text_bytes + 100, "{before:?} -> {after:?}");
    assert_eq!(store.clear(None), 1000);
    assert_eq!(store.stats().held_bytes, 0);
    assert!(store.is_empty());
}

#[test]
fn collapsed_display() {
    let mut store = store(1 << 20);
    let [web, api, ..] = &processes()[..] else { unreachable!("four processes") };
    let lines: &[(&ProcessRef, Stream, &str)] = &[
        (web, Stream::Stdout, "  VITE v5.0.0  ready in 312 ms"),
        (web, Stream::Stdout, "[vite] hmr update /src/App.tsx"),
        (api, Stream::Stdout, "GET /api/users 200 3ms"),
        (web, Stream::Stdout, "[vite] hmr update /src/App.tsx"),
        (api, Stream::Stdout, "GET /api/users 200 3ms"),
        (web, Stream::Stdout, "[vite] hmr update /src/App.tsx"),
        (api, Stream::Stderr, "warning: slow query (212ms)"),
        (api, Stream::Stderr, "warning: slow query (212ms)"),
        (web, Stream::Stderr, "\u{1b}[31mError\u{1b}[39m: Cannot find module './Foo'"),
        (api, Stream::Stdout, "GET /api/users 200 3ms"),
        (web, Stream::Stdout, "[vite] hmr update /src/App.tsx"),
    ];
    for (i, (p, stream, text)) in lines.iter().enumerate() {
        let t = 1000 * i as u64 + 250;
        store.append(p, *stream, mono(t), wall(t), text).expect("open");
    }
    // ESC shown as `\e` so the snapshot is readable; the row itself keeps the raw escape.
    let render =
        |rows: Vec<CollapsedRow>| rows.iter().map(|r| format!("{r}\n").replace('\u{1b}', "\\e")).collect::<String>();
    insta::assert_snapshot!("collapsed_all", render(store.collapsed(&Filter::default(), 50)));
    let api_only = Filter { process: Some(ProcessFilter::Name("api".into())), ..Filter::default() };
    insta::assert_snapshot!("collapsed_api", render(store.collapsed(&api_only, 50)));
    insta::assert_snapshot!("collapsed_newest_two", render(store.collapsed(&Filter::default(), 2)));
}

/// Found by `clear_is_linearizable`: clearing every line of the newest chunk leaves it open and
/// empty, and `get` must still find entries in the chunks before it.
#[test]
fn get_finds_entries_when_the_newest_chunk_is_empty() {
    let mut store = store(4096);
    let [web, api, ..] = &processes()[..] else { unreachable!("four processes") };
    let first = store.append(api, Stream::Stdout, mono(0), wall(0), &("é".repeat(58) + "xxxx")).expect("open");
    store.append(web, Stream::Stdout, mono(0), wall(0), &("é".repeat(61) + "xxx")).expect("open");
    store.append(web, Stream::Stdout, mono(0), wall(0), "/api/users").expect("open");
    assert_eq!(store.stats().chunks, 2, "the third line opens a second chunk");
    assert_eq!(store.clear(Some(&ProcessFilter::Id(web.id.0))), 2);
    assert_eq!(store.get(first).map(|e| e.process().id), Some(api.id));
    store.check_invariants();
}
