//! The dotted key at a byte offset of a TOML text. toml_edit's "duplicate key" and "integer
//! number overflowed" errors carry a position but no key name; this walks the text's parse
//! events (toml_parser, the parser toml_edit is built on) up to that position and says which
//! key is there, and where a duplicate was first written.

use std::collections::BTreeMap;

use toml_parser::decoder::Encoding;
use toml_parser::parser::EventReceiver;
use toml_parser::{ErrorSink, Source, Span};

/// The key found at an offset.
#[derive(Debug, PartialEq, Eq)]
pub(crate) struct KeyAt {
    /// The full dotted key, table headers included, without quotes: `concurrency.urls_max`.
    pub(crate) key: String,
    /// The byte offset where a key with the same path was written before this one, if any.
    pub(crate) first: Option<usize>,
}

/// The key written at `offset` (inside a key, a table header, or the value of a key); `None`
/// when `offset` is in neither (a comment, whitespace, punctuation).
pub(crate) fn key_at(text: &str, offset: usize) -> Option<KeyAt> {
    let tokens = Source::new(text).lex().into_vec();
    let mut walker = Walker { text, offset, ..Walker::default() };
    // The parser recovers from errors and goes on; the key sought is usually right at one.
    toml_parser::parser::parse_document(&tokens, &mut walker, &mut ());
    walker.found
}

#[derive(Default)]
struct Walker<'t> {
    text: &'t str,
    offset: usize,
    /// The path of the last table header.
    table: Vec<String>,
    /// A header being read, whether it is `[[...]]`, and where it starts.
    header: Option<(Vec<String>, bool, usize)>,
    /// The paths of the inline tables the reader is in, innermost last.
    inline: Vec<Vec<String>>,
    /// The key of the key/value pair being read, and where it starts.
    key: Vec<String>,
    key_start: usize,
    /// The key whose value is being read.
    value_key: Vec<String>,
    /// The key or header being read contains `offset`.
    hit: bool,
    /// Where each key and `[table]` path was first written.
    first: BTreeMap<Vec<String>, usize>,
    found: Option<KeyAt>,
}

impl Walker<'_> {
    fn contains(&self, span: Span) -> bool {
        span.start() <= self.offset && self.offset < span.end()
    }

    fn base(&self) -> &[String] {
        self.inline.last().unwrap_or(&self.table)
    }

    /// A key's path is complete: record it, and report it if it is the one sought.
    fn key_done(&mut self, path: Vec<String>, start: usize, record: bool) {
        if std::mem::take(&mut self.hit) && self.found.is_none() {
            let first = self.first.get(&path).copied().filter(|f| *f != start);
            self.found = Some(KeyAt { key: path.join("."), first });
        }
        if record {
            self.first.entry(path).or_insert(start);
        }
    }

    fn segment(&self, span: Span, encoding: Option<Encoding>) -> String {
        let raw = self.text.get(span.start()..span.end()).unwrap_or_default();
        if encoding.is_none() {
            return raw.to_owned();
        }
        // The quotes, where the lexer found them (an unterminated key has no closing one).
        let inner = raw.strip_prefix(['"', '\'']).unwrap_or(raw);
        inner.strip_suffix(['"', '\'']).unwrap_or(inner).to_owned()
    }
}

impl EventReceiver for Walker<'_> {
    fn std_table_open(&mut self, span: Span, _error: &mut dyn ErrorSink) {
        self.header = Some((Vec::new(), false, span.start()));
    }

    fn array_table_open(&mut self, span: Span, _error: &mut dyn ErrorSink) {
        self.header = Some((Vec::new(), true, span.start()));
    }

    fn std_table_close(&mut self, _span: Span, _error: &mut dyn ErrorSink) {
        self.header_done();
    }

    fn array_table_close(&mut self, _span: Span, _error: &mut dyn ErrorSink) {
        self.header_done();
    }

    fn inline_table_open(&mut self, _span: Span, _error: &mut dyn ErrorSink) -> bool {
        self.inline.push(self.value_key.clone());
        true
    }

    fn inline_table_close(&mut self, _span: Span, _error: &mut dyn ErrorSink) {
        self.inline.pop();
    }

    fn array_open(&mut self, _span: Span, _error: &mut dyn ErrorSink) -> bool {
        true
    }

    fn simple_key(&mut self, span: Span, encoding: Option<Encoding>, _error: &mut dyn ErrorSink) {
        let segment = self.segment(span, encoding);
        self.hit |= self.contains(span);
        match &mut self.header {
            Some((path, ..)) => path.push(segment),
            None => {
                if self.key.is_empty() {
                    self.key_start = span.start();
                }
                self.key.push(segment);
            }
        }
    }

    fn key_val_sep(&mut self, _span: Span, _error: &mut dyn ErrorSink) {
        let mut path = self.base().to_vec();
        path.append(&mut self.key);
        self.value_key.clone_from(&path);
        self.key_done(path, self.key_start, true);
    }

    fn scalar(&mut self, span: Span, _encoding: Option<Encoding>, _error: &mut dyn ErrorSink) {
        if self.found.is_none() && self.contains(span) {
            self.found = Some(KeyAt { key: self.value_key.join("."), first: None });
        }
    }
}

impl Walker<'_> {
    fn header_done(&mut self) {
        let Some((path, is_array, start)) = self.header.take() else { return };
        if is_array {
            // A new element: the keys under it start afresh.
            self.first.retain(|k, _| !(k.len() > path.len() && k.starts_with(&path)));
        }
        self.table.clone_from(&path);
        self.inline.clear();
        // `[[name]]` repeats by design; only `[name]` may be written once.
        self.key_done(path, start, !is_array);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn at(text: &str, needle: &str, nth: usize) -> Option<KeyAt> {
        let offset = text.match_indices(needle).nth(nth).map(|(i, _)| i).expect("needle in text");
        key_at(text, offset)
    }

    fn key(name: &str, first: Option<usize>) -> Option<KeyAt> {
        Some(KeyAt { key: name.to_owned(), first })
    }

    #[test]
    fn keys_values_and_headers_are_named_in_full() {
        let text =
            "top = 1\n[concurrency]\nurls_max = 3\n\"quoted key\" = 4\n[processes.web]\nenv = { PORT = 99 }\na.b = 5\n";
        assert_eq!(at(text, "top", 0), key("top", None));
        assert_eq!(at(text, "urls_max", 0), key("concurrency.urls_max", None));
        assert_eq!(at(text, "3", 0), key("concurrency.urls_max", None));
        assert_eq!(at(text, "quoted", 0), key("concurrency.quoted key", None));
        assert_eq!(at(text, "web", 0), key("processes.web", None));
        assert_eq!(at(text, "PORT", 0), key("processes.web.env.PORT", None));
        assert_eq!(at(text, "99", 0), key("processes.web.env.PORT", None));
        assert_eq!(at(text, "5", 0), key("processes.web.a.b", None));
        assert_eq!(at(text, "=", 0), None);
    }

    #[test]
    fn duplicates_point_at_the_first_one() {
        let text = "[concurrency]\nurls_max = 3\nurls_max = 4\n[concurrency]\n";
        assert_eq!(at(text, "urls_max", 1), key("concurrency.urls_max", Some(14)));
        assert_eq!(at(text, "concurrency", 1), key("concurrency", Some(0)));
        let text = "[[a]]\nx = 1\n[[a]]\nx = 2\n";
        assert_eq!(at(text, "x", 1), key("a.x", None), "each `[[a]]` is a new table");
        assert_eq!(at(text, "a", 1), key("a", None));
    }
}
