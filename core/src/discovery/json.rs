//! A small JSON parser that remembers where every value starts, so a problem with a value
//! (`"scripts": 3`) names its line and column, not just a syntax error's. [`Dialect::Jsonc`]
//! also accepts `//` and `/* */` comments and trailing commas, as VS Code's tasks.json and
//! deno.jsonc do. serde_json gives neither, so this exists; a property test checks it agrees
//! with serde_json on every valid document.
//!
//! jsonc-parser (0.34) was weighed against it: its AST does keep byte ranges, but in strict
//! mode it still accepts raw control characters inside strings (`"a<newline>b"`, which
//! `JSON.parse` and npm reject), its nesting limit is fixed at 512 (not [`JSON_DEPTH_MAX`]), and
//! its errors are generic (`Expected comma` at the end of the previous value, `Unterminated
//! array`) where this parser says what it found and where an unclosed container opened.

use super::text::line_col;

/// Objects and arrays nest at most this deep. Real manifests nest a handful of levels; the
/// limit keeps a hostile file from overflowing the parser's stack.
pub const JSON_DEPTH_MAX: usize = 128;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Dialect {
    /// RFC 8259 (package.json, composer.json).
    Json,
    /// JSON with comments and trailing commas.
    Jsonc,
}

/// A value and the byte offset where it starts.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct Json {
    pub(crate) at: usize,
    pub(crate) value: Value,
}

#[derive(Debug, Clone, PartialEq)]
pub(crate) enum Value {
    Null,
    Bool(bool),
    /// The number as written; discovery never computes with numbers.
    Number(String),
    String(String),
    Array(Vec<Json>),
    /// Members in file order, duplicates included ([`Json::get`] takes the last, as
    /// `JSON.parse` does).
    Object(Vec<Member>),
}

#[derive(Debug, Clone, PartialEq)]
pub(crate) struct Member {
    pub(crate) key: String,
    pub(crate) key_at: usize,
    pub(crate) value: Json,
}

/// A syntax error at byte offset `at`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct JsonError {
    pub(crate) at: usize,
    pub(crate) message: String,
}

impl Json {
    /// The member `key` of an object (the last one, if repeated).
    pub(crate) fn get(&self, key: &str) -> Option<&Json> {
        self.members()?.iter().rev().find(|m| m.key == key).map(|m| &m.value)
    }

    /// The members of an object.
    pub(crate) fn members(&self) -> Option<&[Member]> {
        match &self.value {
            Value::Object(members) => Some(members),
            _ => None,
        }
    }

    /// The members of an object with repeated keys removed: the last value of each key, at the
    /// place of its first occurrence.
    pub(crate) fn unique_members(&self) -> Option<Vec<&Member>> {
        let members = self.members()?;
        let mut out: Vec<&Member> = Vec::new();
        for m in members {
            match out.iter_mut().find(|o| o.key == m.key) {
                Some(slot) => *slot = m,
                None => out.push(m),
            }
        }
        Some(out)
    }

    pub(crate) fn as_str(&self) -> Option<&str> {
        match &self.value {
            Value::String(s) => Some(s),
            _ => None,
        }
    }

    pub(crate) fn as_array(&self) -> Option<&[Json]> {
        match &self.value {
            Value::Array(items) => Some(items),
            _ => None,
        }
    }

    /// The kind of value, for messages: `a string`, `an object`.
    pub(crate) fn kind(&self) -> &'static str {
        match self.value {
            Value::Null => "null",
            Value::Bool(_) => "a boolean",
            Value::Number(_) => "a number",
            Value::String(_) => "a string",
            Value::Array(_) => "an array",
            Value::Object(_) => "an object",
        }
    }
}

/// Parses a whole document. A leading byte-order mark is skipped.
pub(crate) fn parse(text: &str, dialect: Dialect) -> Result<Json, JsonError> {
    let start = if text.starts_with('\u{feff}') { '\u{feff}'.len_utf8() } else { 0 };
    let mut p = Parser { text, bytes: text.as_bytes(), pos: start, dialect };
    p.skip_ws()?;
    let value = p.value(0)?;
    p.skip_ws()?;
    if p.pos < p.bytes.len() {
        return Err(p.error(format!("unexpected {} after the JSON value", p.found())));
    }
    Ok(value)
}

struct Parser<'a> {
    text: &'a str,
    bytes: &'a [u8],
    pos: usize,
    dialect: Dialect,
}

impl Parser<'_> {
    fn error(&self, message: String) -> JsonError {
        JsonError { at: self.pos, message }
    }

    fn peek(&self) -> Option<u8> {
        self.bytes.get(self.pos).copied()
    }

    /// What is at the current position, for "found ..." messages.
    fn found(&self) -> String {
        match self.text[self.pos..].chars().next() {
            None => "end of file".to_owned(),
            Some(c) if c.is_control() => format!("character U+{:04X}", u32::from(c)),
            Some(c) => format!("`{c}`"),
        }
    }

    fn skip_ws(&mut self) -> Result<(), JsonError> {
        loop {
            match self.peek() {
                Some(b' ' | b'\t' | b'\n' | b'\r') => self.pos += 1,
                Some(b'/') if matches!(self.bytes.get(self.pos + 1), Some(b'/' | b'*')) => {
                    if self.dialect == Dialect::Json {
                        return Err(self.error("comments are not allowed in JSON".to_owned()));
                    }
                    if self.bytes[self.pos + 1] == b'/' {
                        while self.peek().is_some_and(|b| b != b'\n') {
                            self.pos += 1;
                        }
                    } else {
                        let open = self.pos;
                        match self.text[self.pos + 2..].find("*/") {
                            Some(i) => self.pos += 2 + i + 2,
                            None => {
                                self.pos = open;
                                return Err(self.error("unterminated `/*` comment".to_owned()));
                            }
                        }
                    }
                }
                _ => return Ok(()),
            }
        }
    }

    fn value(&mut self, depth: usize) -> Result<Json, JsonError> {
        let at = self.pos;
        let value = match self.peek() {
            Some(b'{') => self.object(depth)?,
            Some(b'[') => self.array(depth)?,
            Some(b'"') => Value::String(self.string()?),
            Some(b'-' | b'0'..=b'9') => self.number()?,
            Some(b't') => self.literal("true", Value::Bool(true))?,
            Some(b'f') => self.literal("false", Value::Bool(false))?,
            Some(b'n') => self.literal("null", Value::Null)?,
            Some(b'\'') => return Err(self.error("strings must use double quotes".to_owned())),
            _ => return Err(self.error(format!("expected a value, found {}", self.found()))),
        };
        Ok(Json { at, value })
    }

    fn enter(&self, depth: usize) -> Result<usize, JsonError> {
        if depth >= JSON_DEPTH_MAX {
            Err(self.error(format!("values nest deeper than {JSON_DEPTH_MAX} levels")))
        } else {
            Ok(depth + 1)
        }
    }

    /// The end of file inside a container opened at `open`.
    fn unclosed(&self, what: &str, open: usize) -> JsonError {
        let (line, column) = line_col(self.text, open);
        self.error(format!("unexpected end of file: the {what} opened at line {line}, column {column} is not closed"))
    }

    /// After a `,`: whether a closing `close` follows (a trailing comma), which only JSONC
    /// accepts.
    fn trailing_comma(&mut self, comma: usize, close: u8) -> Result<bool, JsonError> {
        if self.peek() != Some(close) {
            return Ok(false);
        }
        if self.dialect == Dialect::Json {
            return Err(JsonError { at: comma, message: "trailing comma is not allowed in JSON".to_owned() });
        }
        self.pos += 1;
        Ok(true)
    }

    fn object(&mut self, depth: usize) -> Result<Value, JsonError> {
        let depth = self.enter(depth)?;
        let open = self.pos;
        self.pos += 1;
        let mut members = Vec::new();
        self.skip_ws()?;
        if self.peek() == Some(b'}') {
            self.pos += 1;
            return Ok(Value::Object(members));
        }
        loop {
            match self.peek() {
                Some(b'"') => {}
                None => return Err(self.unclosed("object", open)),
                _ => return Err(self.error(format!("expected a string key, found {}", self.found()))),
            }
            let key_at = self.pos;
            let key = self.string()?;
            self.skip_ws()?;
            match self.peek() {
                Some(b':') => self.pos += 1,
                None => return Err(self.unclosed("object", open)),
                _ => return Err(self.error(format!("expected `:` after the key {key:?}, found {}", self.found()))),
            }
            self.skip_ws()?;
            if self.peek().is_none() {
                return Err(self.unclosed("object", open));
            }
            let value = self.value(depth)?;
            members.push(Member { key, key_at, value });
            self.skip_ws()?;
            match self.peek() {
                Some(b',') => {
                    let comma = self.pos;
                    self.pos += 1;
                    self.skip_ws()?;
                    if self.trailing_comma(comma, b'}')? {
                        return Ok(Value::Object(members));
                    }
                }
                Some(b'}') => {
                    self.pos += 1;
                    return Ok(Value::Object(members));
                }
                None => return Err(self.unclosed("object", open)),
                _ => {
                    return Err(
                        self.error(format!("expected `,` or `}}` after an object member, found {}", self.found()))
                    );
                }
            }
        }
    }

    fn array(&mut self, depth: usize) -> Result<Value, JsonError> {
        let depth = self.enter(depth)?;
        let open = self.pos;
        self.pos += 1;
        let mut items = Vec::new();
        self.skip_ws()?;
        if self.peek() == Some(b']') {
            self.pos += 1;
            return Ok(Value::Array(items));
        }
        loop {
            if self.peek().is_none() {
                return Err(self.unclosed("array", open));
            }
            items.push(self.value(depth)?);
            self.skip_ws()?;
            match self.peek() {
                Some(b',') => {
                    let comma = self.pos;
                    self.pos += 1;
                    self.skip_ws()?;
                    if self.trailing_comma(comma, b']')? {
                        return Ok(Value::Array(items));
                    }
                }
                Some(b']') => {
                    self.pos += 1;
                    return Ok(Value::Array(items));
                }
                None => return Err(self.unclosed("array", open)),
                _ => return Err(self.error(format!("expected `,` or `]` after an array item, found {}", self.found()))),
            }
        }
    }

    fn string(&mut self) -> Result<String, JsonError> {
        let open = self.pos;
        self.pos += 1;
        let mut out = String::new();
        loop {
            let run = self.pos;
            while self.peek().is_some_and(|b| b != b'"' && b != b'\\' && b >= 0x20) {
                self.pos += 1;
            }
            // The run stops at an ASCII byte or the end, both character boundaries.
            out.push_str(&self.text[run..self.pos]);
            match self.peek() {
                Some(b'"') => {
                    self.pos += 1;
                    return Ok(out);
                }
                Some(b'\\') => out.push(self.escape()?),
                Some(_) => return Err(self.error(format!("{} in a string must be escaped", self.found()))),
                None => {
                    self.pos = open;
                    return Err(self.error("unterminated string".to_owned()));
                }
            }
        }
    }

    fn escape(&mut self) -> Result<char, JsonError> {
        let at = self.pos;
        self.pos += 1;
        let c = match self.peek() {
            Some(b'"') => '"',
            Some(b'\\') => '\\',
            Some(b'/') => '/',
            Some(b'b') => '\u{8}',
            Some(b'f') => '\u{c}',
            Some(b'n') => '\n',
            Some(b'r') => '\r',
            Some(b't') => '\t',
            Some(b'u') => {
                self.pos += 1;
                let high = self.hex4(at)?;
                let code = if (0xD800..0xDC00).contains(&high) {
                    if !self.text[self.pos..].starts_with("\\u") {
                        return Err(JsonError { at, message: "unpaired surrogate in a \\u escape".to_owned() });
                    }
                    self.pos += 2;
                    let low = self.hex4(at)?;
                    if !(0xDC00..0xE000).contains(&low) {
                        return Err(JsonError { at, message: "unpaired surrogate in a \\u escape".to_owned() });
                    }
                    0x10000 + ((high - 0xD800) << 10) + (low - 0xDC00)
                } else {
                    high
                };
                return char::from_u32(code)
                    .ok_or_else(|| JsonError { at, message: "unpaired surrogate in a \\u escape".to_owned() });
            }
            _ => {
                self.pos = at;
                return Err(self.error("invalid escape in a string".to_owned()));
            }
        };
        self.pos += 1;
        Ok(c)
    }

    fn hex4(&mut self, escape_at: usize) -> Result<u32, JsonError> {
        let digits = self.bytes.get(self.pos..self.pos + 4).filter(|d| d.iter().all(u8::is_ascii_hexdigit));
        let Some(digits) = digits else {
            return Err(JsonError { at: escape_at, message: "a \\u escape needs four hex digits".to_owned() });
        };
        let value = digits.iter().fold(0, |acc, d| acc * 16 + char::from(*d).to_digit(16).unwrap_or(0));
        self.pos += 4;
        Ok(value)
    }

    fn number(&mut self) -> Result<Value, JsonError> {
        let start = self.pos;
        let digits = |p: &mut Self| {
            let from = p.pos;
            while p.peek().is_some_and(|b| b.is_ascii_digit()) {
                p.pos += 1;
            }
            p.pos > from
        };
        if self.peek() == Some(b'-') {
            self.pos += 1;
        }
        match self.peek() {
            Some(b'0') => {
                self.pos += 1;
                if self.peek().is_some_and(|b| b.is_ascii_digit()) {
                    return Err(self.error("numbers cannot have leading zeros".to_owned()));
                }
            }
            Some(b'1'..=b'9') => {
                digits(self);
            }
            _ => return Err(self.error(format!("expected a digit, found {}", self.found()))),
        }
        if self.peek() == Some(b'.') {
            self.pos += 1;
            if !digits(self) {
                return Err(self.error(format!("expected a digit after `.`, found {}", self.found())));
            }
        }
        if matches!(self.peek(), Some(b'e' | b'E')) {
            self.pos += 1;
            if matches!(self.peek(), Some(b'+' | b'-')) {
                self.pos += 1;
            }
            if !digits(self) {
                return Err(self.error(format!("expected a digit in the exponent, found {}", self.found())));
            }
        }
        Ok(Value::Number(self.text[start..self.pos].to_owned()))
    }

    fn literal(&mut self, word: &str, value: Value) -> Result<Value, JsonError> {
        if self.text[self.pos..].starts_with(word) {
            self.pos += word.len();
            Ok(value)
        } else {
            Err(self.error(format!("expected a value, found {}", self.found())))
        }
    }
}

#[cfg(test)]
mod tests {
    use proptest::prelude::*;

    use super::*;

    fn err(text: &str, dialect: Dialect) -> (usize, usize, String) {
        let e = parse(text, dialect).expect_err("invalid");
        let (line, column) = line_col(text, e.at);
        (line, column, e.message)
    }

    /// Our value as a serde_json value, to compare with serde_json's parse.
    fn to_serde(j: &Json) -> serde_json::Value {
        match &j.value {
            Value::Null => serde_json::Value::Null,
            Value::Bool(b) => serde_json::Value::Bool(*b),
            Value::Number(n) => serde_json::from_str(n).expect("our numbers are JSON numbers"),
            Value::String(s) => serde_json::Value::String(s.clone()),
            Value::Array(items) => serde_json::Value::Array(items.iter().map(to_serde).collect()),
            Value::Object(_) => serde_json::Value::Object(
                j.unique_members()
                    .unwrap_or_default()
                    .into_iter()
                    .map(|m| (m.key.clone(), to_serde(&m.value)))
                    .collect(),
            ),
        }
    }

    #[test]
    fn parses_values_with_their_offsets() {
        let text = "{\n  \"name\": \"web\",\n  \"scripts\": {\"dev\": \"vite\"},\n  \"n\": [1, -2.5e3, true, null]\n}";
        let j = parse(text, Dialect::Json).expect("valid");
        let scripts = j.get("scripts").expect("scripts");
        assert_eq!(line_col(text, scripts.at), (3, 14));
        assert_eq!(scripts.get("dev").and_then(Json::as_str), Some("vite"));
        assert_eq!(j.get("name").map(Json::kind), Some("a string"));
        let n = j.get("n").and_then(Json::as_array).expect("array");
        assert_eq!(n[1].value, Value::Number("-2.5e3".into()));
        assert_eq!(n[2].value, Value::Bool(true));
    }

    #[test]
    fn escapes_decode() {
        let j = parse(r#""a\"b\\c\/\n\t\u00e9\ud83d\ude00""#, Dialect::Json).expect("valid");
        assert_eq!(j.as_str(), Some("a\"b\\c/\n\té😀"));
    }

    #[test]
    fn repeated_keys_take_the_last_value_at_the_first_place() {
        let j = parse(r#"{"a": 1, "b": 2, "a": 3}"#, Dialect::Json).expect("valid");
        assert_eq!(j.get("a").map(|v| v.value.clone()), Some(Value::Number("3".into())));
        let keys: Vec<_> = j.unique_members().expect("object").iter().map(|m| m.key.clone()).collect();
        assert_eq!(keys, vec!["a", "b"]);
    }

    #[test]
    fn syntax_errors_have_positions() {
        let cases: &[(&str, (usize, usize, &str))] = &[
            ("{\n  \"a\": 1\n  \"b\": 2\n}", (3, 3, "expected `,` or `}` after an object member, found `\"`")),
            ("{\"a\": 1,}", (1, 8, "trailing comma is not allowed in JSON")),
            ("[1, 2,]", (1, 6, "trailing comma is not allowed in JSON")),
            ("{\"a\" 1}", (1, 6, "expected `:` after the key \"a\", found `1`")),
            ("{\"a\": }", (1, 7, "expected a value, found `}`")),
            ("{a: 1}", (1, 2, "expected a string key, found `a`")),
            ("{'a': 1}", (1, 2, "expected a string key, found `'`")),
            ("[\n'x']", (2, 1, "strings must use double quotes")),
            ("\"abc", (1, 1, "unterminated string")),
            ("\"a\nb\"", (1, 3, "character U+000A in a string must be escaped")),
            ("\"\\x\"", (1, 2, "invalid escape in a string")),
            ("\"\\u12\"", (1, 2, "a \\u escape needs four hex digits")),
            ("\"\\ud800\"", (1, 2, "unpaired surrogate in a \\u escape")),
            ("01", (1, 2, "numbers cannot have leading zeros")),
            ("1.", (1, 3, "expected a digit after `.`, found end of file")),
            ("-", (1, 2, "expected a digit, found end of file")),
            ("1e", (1, 3, "expected a digit in the exponent, found end of file")),
            ("tru", (1, 1, "expected a value, found `t`")),
            ("{} {}", (1, 4, "unexpected `{` after the JSON value")),
            ("", (1, 1, "expected a value, found end of file")),
            ("// c\n{}", (1, 1, "comments are not allowed in JSON")),
            ("{\n  \"a\": [1,\n", (3, 1, "unexpected end of file: the array opened at line 2, column 8 is not closed")),
            ("{\"a\": 1", (1, 8, "unexpected end of file: the object opened at line 1, column 1 is not closed")),
            ("{\"a\":", (1, 6, "unexpected end of file: the object opened at line 1, column 1 is not closed")),
        ];
        for (text, (line, column, message)) in cases {
            assert_eq!(err(text, Dialect::Json), (*line, *column, (*message).to_owned()), "{text:?}");
        }
    }

    #[test]
    fn jsonc_accepts_comments_and_trailing_commas() {
        let text = "// tasks\n{\n  /* block\n  comment */ \"a\": [1, 2,], // after\n  \"b\": \"//not a comment\",\n}\n";
        let j = parse(text, Dialect::Jsonc).expect("valid JSONC");
        assert_eq!(j.get("b").and_then(Json::as_str), Some("//not a comment"));
        assert_eq!(j.get("a").and_then(Json::as_array).map(<[Json]>::len), Some(2));
        assert_eq!(err("{ /* open", Dialect::Jsonc), (1, 3, "unterminated `/*` comment".to_owned()));
        assert_eq!(err("[1,,]", Dialect::Jsonc), (1, 4, "expected a value, found `,`".to_owned()));
    }

    #[test]
    fn deep_nesting_is_an_error_not_a_crash() {
        let text = "[".repeat(100_000);
        let (_, column, message) = err(&text, Dialect::Json);
        assert_eq!(column, JSON_DEPTH_MAX + 1);
        assert_eq!(message, format!("values nest deeper than {JSON_DEPTH_MAX} levels"));
        let ok = format!("{}{}", "[".repeat(JSON_DEPTH_MAX), "]".repeat(JSON_DEPTH_MAX));
        assert!(parse(&ok, Dialect::Json).is_ok());
    }

    #[test]
    fn a_byte_order_mark_is_skipped() {
        assert!(parse("\u{feff}{}", Dialect::Json).is_ok());
    }

    fn arb_json() -> impl Strategy<Value = serde_json::Value> {
        let leaf = prop_oneof![
            Just(serde_json::Value::Null),
            any::<bool>().prop_map(serde_json::Value::Bool),
            any::<i64>().prop_map(|n| serde_json::json!(n)),
            any::<f64>().prop_filter("finite", |f| f.is_finite()).prop_map(|f| serde_json::json!(f)),
            any::<String>().prop_map(serde_json::Value::String),
        ];
        leaf.prop_recursive(4, 64, 8, |inner| {
            prop_oneof![
                proptest::collection::vec(inner.clone(), 0..8).prop_map(serde_json::Value::Array),
                proptest::collection::btree_map(any::<String>(), inner, 0..8)
                    .prop_map(|m| serde_json::Value::Object(m.into_iter().collect())),
            ]
        })
    }

    proptest! {
        #[test]
        fn agrees_with_serde_json_on_valid_documents(value in arb_json(), pretty in any::<bool>()) {
            let text = if pretty { serde_json::to_string_pretty(&value) } else { serde_json::to_string(&value) };
            let text = text.expect("serialisable");
            // serde_json's own float parsing is not an exact round trip, so compare with what it
            // reads back, not with `value`.
            let theirs: serde_json::Value = serde_json::from_str(&text).expect("serde_json reads its own output");
            for dialect in [Dialect::Json, Dialect::Jsonc] {
                let ours = parse(&text, dialect).map_err(|e| format!("{e:?} in {text}"));
                prop_assert_eq!(ours.map(|j| to_serde(&j)), Ok(theirs.clone()));
            }
        }

        #[test]
        fn never_panics_and_agrees_with_serde_json_on_validity(text in "[\\[\\]{}\",:0-9a-z \\\\.eE+-]{0,40}") {
            let ours = parse(&text, Dialect::Json);
            let theirs = serde_json::from_str::<serde_json::Value>(&text);
            prop_assert_eq!(ours.is_ok(), theirs.is_ok(), "{:?}: ours {:?}", text, ours);
            if let Err(e) = ours {
                prop_assert!(e.at <= text.len());
            }
            let _ = parse(&text, Dialect::Jsonc);
        }

        #[test]
        fn never_panics_on_arbitrary_text(text in "\\PC{0,100}") {
            let _ = parse(&text, Dialect::Json);
            let _ = parse(&text, Dialect::Jsonc);
        }
    }
}
