//! Filters, text queries, and search with cursor pagination.
//!
//! Search scans each chunk's arena as one string (memchr's `memmem` for substrings, a regex
//! engine for patterns) and maps every match offset back to its entry by binary search over the
//! chunk's records; filters are checked on the fixed-size records. Patterns are rewritten to
//! match within one line (below), so scanning many lines at once finds exactly the lines that
//! match on their own.

use std::ops::Range;

use memchr::memmem;
use regex_automata::meta;
use regex_automata::nfa::thompson::WhichCaptures;
use regex_automata::util::prefilter::Prefilter;
use regex_automata::{MatchKind, Span};
use regex_syntax::hir::{
    self, Class, ClassBytes, ClassBytesRange, ClassUnicode, ClassUnicodeRange, Hir, HirKind, Look,
};

use super::chunk::{Chunk, Record, filter_bits};
use super::entry::{EntryId, EntryRef, LogEntry, mono_to_nanos};
use super::level::{Level, LevelSet};
use super::store::LogStore;
use crate::bus::{ProcessRef, Stream};
use crate::rt::Mono;

/// Entries one page (of `search`, `tail` or `collapsed`) returns at most. A page goes to an
/// agent or a screen: 10,000 lines is more than either reads at once, and bounds the copy a
/// query makes (about 1 MiB of typical lines).
pub const PAGE_ENTRIES_MAX: usize = 10_000;

/// Size limit of a compiled pattern's automaton (regex-automata's NFA limit; the regex crate's
/// default is 10 MiB). Patterns come from agents and users: a pathological one such as
/// `\w{1000}{1000}` fails to compile with an error instead of allocating without bound, while
/// ordinary patterns need a few KiB.
pub const REGEX_COMPILED_BYTES_MAX: usize = 4 * 1024 * 1024;

/// Capacity of the lazy DFA's state cache per search (the regex crate's default): enough for
/// patterns to run at full speed; past it the engine clears the cache or falls back to slower
/// engines rather than growing.
pub const REGEX_CACHE_BYTES_MAX: usize = 2 * 1024 * 1024;

/// Records a newest-first search scans per step within a chunk. The engines only search
/// forward, so a search walks blocks from the newest backwards and scans each block forward:
/// a page of the newest matches costs about one block (~100 KiB of text), not a whole chunk.
const SEARCH_BLOCK_RECORDS: usize = 1024;

/// A chunk whose filter-matching records are fewer than one in this many is searched line by
/// line (matching only the candidates) instead of scanning the whole arena.
const PROBE_RATIO: u64 = 8;

/// The most spellings a case-insensitive substring's prefilter window may have (the product,
/// over its characters, of each one's case-fold variants). Up to 64 literals are searched
/// together by one vectorised scan (regex-automata's Teddy); more would need a slower
/// automaton.
const FOLD_SPELLINGS_MAX: usize = 64;

/// The shortest prefilter window of a case-insensitive substring (unless the substring is
/// shorter): shorter literals match too often to save work.
const FOLD_WINDOW_BYTES_MIN: usize = 4;

/// The longest prefilter window: a longer literal rules out hardly any more lines.
const FOLD_WINDOW_BYTES_MAX: usize = 64;

/// Which processes a filter selects.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ProcessFilter {
    /// One run of a process: [`ProcessRef::id`].
    Id(u64),
    /// Every run of a script: [`ProcessRef::name`].
    Name(String),
}

impl ProcessFilter {
    pub fn matches(&self, process: &ProcessRef) -> bool {
        match self {
            ProcessFilter::Id(id) => process.id == *id,
            ProcessFilter::Name(name) => *process.name == **name,
        }
    }
}

/// Which entries a query looks at. The default selects everything.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Filter {
    pub process: Option<ProcessFilter>,
    pub stream: Option<Stream>,
    pub levels: LevelSet,
    /// Entries accepted at or after this time.
    pub since: Option<Mono>,
    /// Entries accepted before this time.
    pub until: Option<Mono>,
}

/// What text a search looks for. Both forms match the plain text of one line (ANSI stripped),
/// never across lines.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum TextQuery {
    /// A literal substring; the empty string matches every line. `case_insensitive` uses
    /// Unicode simple case folding.
    Substring { text: String, case_insensitive: bool },
    /// A regular expression in the syntax of the `regex` crate. It is matched against each
    /// line on its own: `^`, `$`, `\A` and `\z` all match at the line's start and end, and
    /// nothing matches a newline.
    Regex(String),
}

/// A search: text, filter, page size and position.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Query {
    pub text: TextQuery,
    pub filter: Filter,
    /// Entries per page, clamped to `1..=PAGE_ENTRIES_MAX`.
    pub limit: usize,
    /// `None` for the first page; then the previous page's `next_cursor`.
    pub cursor: Option<EntryId>,
}

/// One page of search results, newest first.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Page {
    /// Matching entries in descending id order (newest first).
    pub entries: Vec<LogEntry>,
    /// Pass as `Query::cursor` for the next (older) page; `None` when no older entry matched
    /// when this page was made.
    pub next_cursor: Option<EntryId>,
}

/// Why a search could not run.
#[derive(Debug, thiserror::Error)]
pub enum SearchError {
    #[error("invalid regex `{pattern}`")]
    InvalidRegex {
        pattern: String,
        #[source]
        source: RegexError,
    },
    /// A case-insensitive substring compiles to a pattern; a huge one can exceed
    /// [`REGEX_COMPILED_BYTES_MAX`].
    #[error("case-insensitive search text of {bytes} bytes is too large")]
    SubstringTooLarge {
        bytes: usize,
        #[source]
        source: RegexError,
    },
}

/// What was wrong with a pattern: its syntax, or compiling it (usually a size limit).
#[derive(Debug, thiserror::Error)]
pub enum RegexError {
    #[error(transparent)]
    Syntax(Box<regex_syntax::Error>),
    #[error(transparent)]
    Compile(Box<meta::BuildError>),
}

/// A compiled text query.
#[derive(Debug)]
#[expect(clippy::large_enum_variant, reason = "one matcher per query, built once and kept on the stack")]
pub(crate) enum Matcher {
    Literal(memmem::Finder<'static>),
    Pattern(meta::Regex),
    /// A case-insensitive substring: `spellings` finds every spelling of a window of it (see
    /// [`fold_spellings`]), and `pattern`, the whole
    /// substring, checks the line each candidate falls in. The regex engine's own prefilter
    /// only uses a pattern's prefix, and a needle with many letters has too many spellings
    /// for that: `(?i)/api/items/42` scanned at ~0.5 GB/s instead of several.
    Folded {
        spellings: Prefilter,
        pattern: meta::Regex,
    },
    /// A substring with a newline: no line has one.
    Never,
}

impl Matcher {
    pub(crate) fn new(query: &TextQuery) -> Result<Matcher, SearchError> {
        match query {
            TextQuery::Substring { text, .. } if text.contains('\n') => Ok(Matcher::Never),
            // Case folding cannot change a needle without letters.
            TextQuery::Substring { text, case_insensitive }
                if !case_insensitive || !text.chars().any(char::is_alphabetic) =>
            {
                Ok(Matcher::Literal(memmem::Finder::new(text.as_bytes()).into_owned()))
            }
            TextQuery::Substring { text, .. } => {
                let mut parser = regex_syntax::ParserBuilder::new().case_insensitive(true).build();
                let compiled = parser
                    .parse(&regex_syntax::escape(text))
                    .map_err(|e| RegexError::Syntax(Box::new(e)))
                    .and_then(|hir| compile(&hir));
                let pattern =
                    compiled.map_err(|source| SearchError::SubstringTooLarge { bytes: text.len(), source })?;
                Ok(match fold_spellings(text).and_then(|s| Prefilter::new(MatchKind::LeftmostFirst, &s)) {
                    Some(spellings) => Matcher::Folded { spellings, pattern },
                    None => Matcher::Pattern(pattern),
                })
            }
            TextQuery::Regex(pattern) => {
                let compiled = regex_syntax::Parser::new()
                    .parse(pattern)
                    .map_err(|e| RegexError::Syntax(Box::new(e)))
                    .and_then(|hir| compile(&hir));
                compiled
                    .map(Matcher::Pattern)
                    .map_err(|source| SearchError::InvalidRegex { pattern: pattern.clone(), source })
            }
        }
    }

    /// The first match in `hay`, as a byte range.
    fn find(&self, hay: &str) -> Option<Range<usize>> {
        match self {
            Matcher::Literal(finder) => finder.find(hay.as_bytes()).map(|at| at..at + finder.needle().len()),
            Matcher::Pattern(re) => re.find(hay).map(|m| m.range()),
            Matcher::Folded { spellings, pattern } => {
                let bytes = hay.as_bytes();
                let mut pos = 0;
                while let Some(hit) = spellings.find(bytes, Span::from(pos..bytes.len())) {
                    // The line the candidate falls in: patterns match within one line.
                    let start = memchr::memrchr(b'\n', &bytes[..hit.start]).map_or(0, |i| i + 1);
                    let end = memchr::memchr(b'\n', &bytes[hit.start..]).map_or(bytes.len(), |i| hit.start + i);
                    if let Some(m) = pattern.find(&hay[start..end]) {
                        return Some(start + m.start()..start + m.end());
                    }
                    pos = end;
                }
                None
            }
            Matcher::Never => None,
        }
    }

    pub(crate) fn is_match(&self, line: &str) -> bool {
        match self {
            Matcher::Literal(finder) => finder.find(line.as_bytes()).is_some(),
            Matcher::Pattern(re) | Matcher::Folded { pattern: re, .. } => re.is_match(line),
            Matcher::Never => false,
        }
    }
}

/// Every spelling, under simple case folding (what a case-insensitive pattern matches), of the
/// window of `text` that is cheapest to scan for: of the windows at least
/// [`FOLD_WINDOW_BYTES_MIN`] long (or all of `text` if shorter), the one with the fewest
/// spellings, and of those the longest (at most [`FOLD_WINDOW_BYTES_MAX`]). Letters multiply
/// the spellings and digits and punctuation do not, so `/api/items/42 ` gives the one
/// spelling `/42 ` (a plain substring scan) and `error` the 16 of `erro`. `None` when `text` is
/// shorter than 2 bytes or every window has more than [`FOLD_SPELLINGS_MAX`] spellings. Any
/// line that contains `text` case-insensitively contains one of them.
fn fold_spellings(text: &str) -> Option<Vec<String>> {
    let chars: Vec<(char, Vec<char>)> = text
        .chars()
        .map(|c| {
            let mut class = ClassUnicode::new([ClassUnicodeRange::new(c, c)]);
            class.case_fold_simple();
            (c, class.iter().flat_map(|r| r.start()..=r.end()).collect())
        })
        .collect();
    if text.len() < 2 {
        return None;
    }
    let min_bytes = FOLD_WINDOW_BYTES_MIN.min(text.len());
    // (spellings, bytes, window); each window is at most FOLD_WINDOW_BYTES_MAX bytes, so this
    // is linear in the needle's length.
    let mut best: Option<(usize, usize, Range<usize>)> = None;
    for lo in 0..chars.len() {
        let (mut spellings, mut bytes) = (1usize, 0);
        for (hi, (c, variants)) in chars.iter().enumerate().skip(lo) {
            spellings *= variants.len();
            bytes += c.len_utf8();
            if spellings > FOLD_SPELLINGS_MAX || bytes > FOLD_WINDOW_BYTES_MAX {
                break;
            }
            let better = best.as_ref().is_none_or(|(s, b, _)| spellings < *s || (spellings == *s && bytes > *b));
            if bytes >= min_bytes && better {
                best = Some((spellings, bytes, lo..hi + 1));
            }
        }
    }
    let (_, _, window) = best?;
    let mut spellings = vec![String::new()];
    for (_, variants) in &chars[window] {
        spellings = spellings.iter().flat_map(|prefix| variants.iter().map(move |v| format!("{prefix}{v}"))).collect();
    }
    Some(spellings)
}

fn compile(hir: &Hir) -> Result<meta::Regex, RegexError> {
    let config = meta::Config::new()
        .nfa_size_limit(Some(REGEX_COMPILED_BYTES_MAX))
        .hybrid_cache_capacity(REGEX_CACHE_BYTES_MAX)
        .which_captures(WhichCaptures::Implicit);
    meta::Builder::new()
        .configure(config)
        .build_from_hir(&within_line(hir))
        .map_err(|e| RegexError::Compile(Box::new(e)))
}

/// Rewrites a pattern so that it matches within one line, as ripgrep does: `\n` is removed
/// from every class (`.` under `(?s)`, `\s`, `[^a]`), a literal containing `\n` can never
/// match, and the haystack anchors `\A` / `\z` (and `^` / `$` outside multi-line mode) become
/// line anchors. Stored lines contain no `\n`, so matching one line with the rewritten pattern
/// is the same as with the original; scanning many `\n`-separated lines at once then cannot
/// produce a match that spans two of them, and every line's matches are found where the line
/// sits in the arena.
fn within_line(hir: &Hir) -> Hir {
    match hir.kind() {
        HirKind::Empty => Hir::empty(),
        HirKind::Literal(hir::Literal(bytes)) => {
            if bytes.contains(&b'\n') {
                Hir::fail()
            } else {
                hir.clone()
            }
        }
        HirKind::Class(Class::Unicode(class)) => {
            let mut class = class.clone();
            class.difference(&ClassUnicode::new([ClassUnicodeRange::new('\n', '\n')]));
            Hir::class(Class::Unicode(class))
        }
        HirKind::Class(Class::Bytes(class)) => {
            let mut class = class.clone();
            class.difference(&ClassBytes::new([ClassBytesRange::new(b'\n', b'\n')]));
            Hir::class(Class::Bytes(class))
        }
        HirKind::Look(look) => Hir::look(match look {
            Look::Start => Look::StartLF,
            Look::End => Look::EndLF,
            other => *other,
        }),
        HirKind::Repetition(rep) => Hir::repetition(hir::Repetition {
            min: rep.min,
            max: rep.max,
            greedy: rep.greedy,
            sub: Box::new(within_line(&rep.sub)),
        }),
        HirKind::Capture(cap) => Hir::capture(hir::Capture {
            index: cap.index,
            name: cap.name.clone(),
            sub: Box::new(within_line(&cap.sub)),
        }),
        HirKind::Concat(subs) => Hir::concat(subs.iter().map(within_line).collect()),
        HirKind::Alternation(subs) => Hir::alternation(subs.iter().map(within_line).collect()),
    }
}

/// A [`Filter`] resolved against the store's process slots, checked per record.
#[derive(Debug)]
pub(crate) struct ResolvedFilter {
    /// Accepted slots, indexed by slot; `None` accepts every slot.
    slots: Option<Vec<bool>>,
    /// Accepted (stream, level) combinations, indexed by the record's filter bits.
    bits: u16,
    since: u64,
    /// Exclusive; `None` for no upper bound.
    until: Option<u64>,
}

impl ResolvedFilter {
    pub(crate) fn new<'a>(filter: &Filter, slots: impl Iterator<Item = Option<&'a ProcessRef>>) -> ResolvedFilter {
        let slots = filter.process.as_ref().map(|pf| slots.map(|p| p.is_some_and(|p| pf.matches(p))).collect());
        let mut bits = 0u16;
        for stream in [Stream::Stdout, Stream::Stderr] {
            if filter.stream.is_some_and(|s| s != stream) {
                continue;
            }
            for level in Level::ALL {
                if filter.levels.contains(level) {
                    bits |= 1 << filter_bits(stream, level);
                }
            }
        }
        ResolvedFilter {
            slots,
            bits,
            since: filter.since.map_or(0, mono_to_nanos),
            until: filter.until.map(mono_to_nanos),
        }
    }

    fn accepts_key(&self, key: u32) -> bool {
        self.bits & 1 << (key & super::chunk::FILTER_BITS) != 0
            && self.slots.as_ref().is_none_or(|s| s.get((key >> 8) as usize).copied().unwrap_or(false))
    }

    /// Whether the record passes the process, stream and level conditions (time is checked
    /// through [`ResolvedFilter::range`]).
    pub(crate) fn accepts(&self, record: &Record) -> bool {
        self.accepts_key(record.key())
    }

    /// Records of `chunk` that pass the process, stream and level conditions, from its summary.
    pub(crate) fn candidates(&self, chunk: &Chunk) -> u64 {
        chunk.summary.iter().filter(|(key, _)| self.accepts_key(*key)).map(|(_, n)| u64::from(*n)).sum()
    }

    /// The records of `chunk` within the time bounds and with id below `upper`: records are in
    /// id and time order, so this is three binary searches.
    pub(crate) fn range(&self, chunk: &Chunk, upper: u64) -> Range<usize> {
        let records = &chunk.records;
        let lo = records.partition_point(|r| r.mono < self.since);
        let hi = match self.until {
            Some(until) => records.partition_point(|r| r.mono < until),
            None => records.len(),
        };
        let hi = hi.min(records.partition_point(|r| r.id < upper));
        lo..hi.max(lo)
    }
}

/// Pushes (ascending) the index of every entry in `range` whose plain text matches and whose
/// record passes `filter`.
fn matches_in(
    chunk: &Chunk,
    range: Range<usize>,
    matcher: &Matcher,
    filter: &ResolvedFilter,
    probe: bool,
    out: &mut Vec<usize>,
) {
    if range.is_empty() {
        return;
    }
    if probe {
        for i in range {
            if filter.accepts(&chunk.records[i]) && matcher.is_match(&chunk.text[chunk.plain_span(i)]) {
                out.push(i);
            }
        }
        return;
    }
    let base = chunk.start(range.start);
    let end = chunk.end(range.end - 1);
    let mut pos = base;
    let mut i = range.start;
    while pos < end {
        let Some(m) = matcher.find(&chunk.text[pos..end]) else { break };
        let (start, stop) = (pos + m.start, pos + m.end);
        i = chunk.entry_at(start, i, range.end);
        let plain = chunk.plain_span(i);
        // A match inside the plain text is a match of the line. Elsewhere (in the display copy
        // of a line with escapes, or a literal crossing the separator) the line is checked on
        // its own.
        let matched = stop <= plain.end || matcher.is_match(&chunk.text[plain.clone()]);
        if matched && filter.accepts(&chunk.records[i]) {
            out.push(i);
        }
        pos = chunk.end(i);
        i += 1;
    }
}

/// Whether to match `chunk` line by line (few candidates) rather than scan its arena.
fn probe(chunk: &Chunk, filter: &ResolvedFilter) -> bool {
    filter.candidates(chunk) * PROBE_RATIO < chunk.records.len() as u64
}

impl LogStore {
    /// One page of the entries that match `query`, newest first. Runs over the plain text
    /// (ANSI stripped). The cursor is an entry id: the page holds matches older than it, so
    /// pages stay stable while lines are appended (newer ids) or evicted (older ones vanish,
    /// nothing shifts).
    pub fn search(&self, query: &Query) -> Result<Page, SearchError> {
        let matcher = Matcher::new(&query.text)?;
        let filter = self.resolve(&query.filter);
        let limit = query.limit.clamp(1, PAGE_ENTRIES_MAX);
        let upper = query.cursor.map_or(u64::MAX, |c| c.0);
        // One more than the page, to know whether an older page exists.
        let mut found: Vec<EntryRef<'_>> = Vec::with_capacity((limit + 1).min(1024));
        let mut block = Vec::new();
        'chunks: for chunk in self.chunks().iter().rev() {
            if chunk.first_id() >= upper || filter.candidates(chunk) == 0 {
                continue;
            }
            let range = filter.range(chunk, upper);
            let probe = probe(chunk, &filter);
            let mut hi = range.end;
            while hi > range.start {
                let lo = hi.saturating_sub(SEARCH_BLOCK_RECORDS).max(range.start);
                block.clear();
                matches_in(chunk, lo..hi, &matcher, &filter, probe, &mut block);
                for &index in block.iter().rev() {
                    found.push(EntryRef { store: self, chunk, index });
                    if found.len() > limit {
                        break 'chunks;
                    }
                }
                hi = lo;
            }
        }
        let next_cursor = if found.len() > limit {
            found.truncate(limit);
            found.last().map(EntryRef::id)
        } else {
            None
        };
        Ok(Page { entries: found.iter().map(EntryRef::to_entry).collect(), next_cursor })
    }

    /// How many entries match `query` (its limit and cursor are ignored), as `rg -c` counts
    /// matching lines. Scans each chunk in one pass.
    pub fn count(&self, query: &Query) -> Result<u64, SearchError> {
        let matcher = Matcher::new(&query.text)?;
        let filter = self.resolve(&query.filter);
        let mut total = 0;
        let mut hits = Vec::new();
        for chunk in self.chunks() {
            if filter.candidates(chunk) == 0 {
                continue;
            }
            hits.clear();
            matches_in(chunk, filter.range(chunk, u64::MAX), &matcher, &filter, probe(chunk, &filter), &mut hits);
            total += hits.len() as u64;
        }
        Ok(total)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn matches(query: TextQuery, line: &str) -> bool {
        Matcher::new(&query).expect("valid query").is_match(line)
    }

    fn re(p: &str) -> TextQuery {
        TextQuery::Regex(p.to_owned())
    }

    #[test]
    fn patterns_match_within_one_line() {
        assert!(matches(re(r"\Aerror"), "error: x"));
        assert!(matches(re(r"x\z"), "error: x"));
        assert!(matches(re(r"^a$"), "a"));
        assert!(!matches(re(r"a\nb"), "a b"));
        assert!(matches(re(r"(?s)a.b"), "a b"));
        assert!(matches(re(r"a\sb"), "a b"));
        assert!(matches(re(r"[^x]"), "a"));
    }

    #[test]
    fn rewritten_patterns_never_span_lines() {
        for p in [r"a\s+b", r"(?s)a.*b", r"a[^x]*b", r"a$\n^b", r"a\z\n\Ab", r"(?m)a$", r"\Ab"] {
            let matcher = Matcher::new(&re(p)).expect("valid");
            let hay = "xa\nb\n";
            if let Some(m) = matcher.find(hay) {
                assert!(!hay[m.clone()].contains('\n'), "{p} matched {:?}", &hay[m]);
            }
        }
        // The anchors become line anchors, so they match at the second line's start.
        assert_eq!(Matcher::new(&re(r"\Ab")).expect("valid").find("xa\nb\n"), Some(3..4));
    }

    #[test]
    fn invalid_regex_names_the_pattern() {
        let err = Matcher::new(&re("(unclosed")).expect_err("invalid");
        assert_eq!(err.to_string(), "invalid regex `(unclosed`");
        assert!(std::error::Error::source(&err).is_some_and(|s| s.to_string().contains("unclosed group")));
        let huge = Matcher::new(&re(r"\w{1000}{1000}")).expect_err("too big");
        assert!(matches!(huge, SearchError::InvalidRegex { .. }), "{huge:?}");
    }

    #[test]
    fn folded_windows_are_the_longest_with_few_spellings() {
        // Letters multiply the spellings; `s` and `k` have three each (long s, Kelvin sign).
        assert_eq!(fold_spellings("/api/items/42 "), Some(vec!["/42 ".to_string()]));
        let mut ks = fold_spellings("ks/4").expect("a window");
        ks.sort();
        assert_eq!(ks, ["KS/4", "Ks/4", "Kſ/4", "kS/4", "ks/4", "kſ/4", "\u{212a}S/4", "\u{212a}s/4", "\u{212a}ſ/4"]);
        // All letters: the 4-byte window with the fewest spellings.
        assert_eq!(fold_spellings("error").map(|s| s.len()), Some(16));
        assert_eq!(fold_spellings("ab").map(|s| s.len()), Some(4));
        assert_eq!(fold_spellings("x"), None);
        // Every 4-byte window has 81 spellings.
        assert_eq!(fold_spellings("sksksksk"), None);
        // A window that is not a prefix still finds the line, and the whole needle decides.
        let m = Matcher::new(&TextQuery::Substring { text: "/api/items/42 ".into(), case_insensitive: true })
            .expect("valid");
        assert!(matches!(m, Matcher::Folded { .. }));
        let hay = "GET /api/items/42x\nGET /API/ITEMS/42 -> 200\n";
        assert_eq!(m.find(hay), Some(23..37));
        assert_eq!(m.find("GET /api/items/42x\nx/items/42 \n"), None);
    }

    /// Every line of a haystack made of needle pieces is found by a folded matcher exactly
    /// when the regex crate, case-insensitive, matches it on its own.
    #[test]
    fn folded_matchers_agree_with_the_regex_crate_line_by_line() {
        let pieces = ["/api", "/API", "/items/42 ", "/ITEMſ/42 ", "/iTems/42", "x", "\u{212a}", "s", "K", "é", "É"];
        let mut lines = Vec::new();
        for a in pieces {
            for b in pieces {
                for c in ["", "/items/42 ", "sk"] {
                    lines.push(format!("{a}{b}{c}"));
                }
            }
        }
        let hay = lines.join("\n") + "\n";
        for needle in ["/api/items/42 ", "/API/ITEMS/42", "items/42", "ſk", "sK", "éÉ/items"] {
            let m = Matcher::new(&TextQuery::Substring { text: needle.into(), case_insensitive: true }).expect("valid");
            assert!(matches!(m, Matcher::Folded { .. }), "{needle}");
            let reference =
                regex::RegexBuilder::new(&regex::escape(needle)).case_insensitive(true).build().expect("valid");
            let want: Vec<&str> = lines.iter().map(String::as_str).filter(|l| reference.is_match(l)).collect();
            let mut got = Vec::new();
            let mut pos = 0;
            while let Some(r) = m.find(&hay[pos..]) {
                let (start, stop) = (pos + r.start, pos + r.end);
                let line_start = hay[..start].rfind('\n').map_or(0, |i| i + 1);
                let line_end = start + hay[start..].find('\n').expect("lines end with a newline");
                assert!(stop <= line_end, "{needle}: a match spans lines");
                got.push(&hay[line_start..line_end]);
                pos = line_end + 1;
            }
            assert_eq!(got, want, "{needle}");
        }
    }

    #[test]
    fn substrings() {
        let sub = |text: &str, ci| TextQuery::Substring { text: text.to_owned(), case_insensitive: ci };
        assert!(matches(sub("", false), ""));
        assert!(matches(sub("Err", false), "an Error"));
        assert!(!matches(sub("err", false), "an Error"));
        assert!(matches(sub("err", true), "an ERROR"));
        assert!(matches(sub("ÉTÉ", true), "l'été"));
        assert!(matches(sub("[1.2]", true), "v[1.2]"));
        assert!(!matches(sub("a\nb", false), "a\nb"));
    }
}
