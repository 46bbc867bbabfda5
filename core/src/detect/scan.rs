//! Small, allocation-free text helpers shared by the recognisers. None of them panics: every
//! index comes from a `find` on the same string or is checked with `get`.

use super::model::Location;

/// Parses a decimal `u32` that is the whole of `s`.
pub(crate) fn num(s: &str) -> Option<u32> {
    if s.is_empty() || s.len() > 9 || !s.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    s.parse().ok()
}

/// The leading decimal number of `s` and the rest.
pub(crate) fn leading_num(s: &str) -> Option<(u32, &str)> {
    let end = s.bytes().position(|b| !b.is_ascii_digit()).unwrap_or(s.len());
    Some((num(s.get(..end)?)?, s.get(end..)?))
}

/// Removes a `file://` scheme so a file reads the same however the runtime printed it.
pub(crate) fn clean_file(file: &str) -> String {
    file.strip_prefix("file://").unwrap_or(file).to_string()
}

/// `path:line:col` or `path:line` (the whole of `s`). The path must be non-empty and contain
/// no whitespace.
pub(crate) fn file_line_col(s: &str) -> Option<Location> {
    let (head, last) = s.rsplit_once(':')?;
    let last = num(last)?;
    let (file, line, column) = match head.rsplit_once(':') {
        Some((file, mid)) if num(mid).is_some() => (file, num(mid), Some(last)),
        _ => (head, Some(last), None),
    };
    if file.is_empty() || file.bytes().any(|b| b.is_ascii_whitespace()) {
        return None;
    }
    Some(Location { file: clean_file(file), line, column })
}

/// `path(line,col)`, tsc's plain form (the whole of `s`).
pub(crate) fn file_paren_line_col(s: &str) -> Option<Location> {
    let inner = s.strip_suffix(')')?;
    let (file, pos) = inner.rsplit_once('(')?;
    let (line, col) = pos.split_once(',')?;
    if file.is_empty() {
        return None;
    }
    Some(Location { file: clean_file(file), line: Some(num(line)?), column: Some(num(col)?) })
}

/// A JavaScript stack frame (`at fn (file:1:2)`, `at file:1:2`, `at async fn (file:1:2)`)
/// after its `at ` (TAP's `stack:` block prints frames without it): the
/// function, if named, and the location. `async ` is dropped from the function; a frame with no
/// file (`new Promise (<anonymous>)`, `async Promise.all (index 0)`) is `None`.
pub(crate) fn js_frame_parts(rest: &str) -> Option<(Option<&str>, Location)> {
    let rest = rest.strip_prefix("async ").unwrap_or(rest);
    let (function, target) = match rest.strip_suffix(')') {
        Some(inner) => match inner.split_once(" (") {
            Some((f, loc)) => (Some(f), loc),
            None => (None, inner.rsplit_once('(').map_or(inner, |(_, loc)| loc)),
        },
        None => (None, rest.rsplit_once(' ').map_or(rest, |(_, loc)| loc)),
    };
    Some((function.filter(|f| !f.is_empty()), file_line_col(target)?))
}

/// Whether a frame's file is the user's code rather than the runtime's or a dependency's. A
/// served bundle (`http://localhost:3000/static/js/bundle.js`) is not: a file on disk is what
/// the user can open. Not own: Node's `node:` and `internal/` modules and `node_modules`;
/// Python's `site-packages` and standard library (`/lib/pythonX.Y/`, `<frozen ...>`); Rust's
/// standard library (`/rustc/<hash>/library/...`, `~/.rustup`) and crates from
/// `~/.cargo/registry` or `~/.cargo/git`; Go's GOROOT (`/usr/local/go`, `/usr/lib/go-X`,
/// `.../src/runtime/`, or `runtime/` and `testing/` under `-trimpath`) and the module cache
/// (`/pkg/mod/`).
pub(crate) fn is_user_file(file: &str) -> bool {
    !(file.starts_with("node:")
        || file.starts_with("http://")
        || file.starts_with("https://")
        || file.starts_with("internal/")
        || file.starts_with('<')
        || file.contains("/node_modules/")
        || file.contains("/site-packages/")
        || file.contains("/lib/python")
        || file.contains("/src/runtime/")
        || file.starts_with("/usr/lib/go")
        || file.starts_with("/usr/local/go/")
        || file.contains("/.rustup/")
        || file.contains("/.cargo/registry/")
        || file.contains("/.cargo/git/")
        || file.contains("/pkg/mod/")
        || file.starts_with("runtime/")
        || file.starts_with("testing/")
        || file.starts_with("/rustc/"))
}

/// Cuts `s` to at most `max` bytes on a char boundary, returning the kept part and how many
/// bytes were cut.
pub(crate) fn truncate(s: &str, max: usize) -> (&str, usize) {
    if s.len() <= max {
        return (s, 0);
    }
    let mut end = max;
    while end > 0 && !s.is_char_boundary(end) {
        end -= 1;
    }
    (s.get(..end).unwrap_or(""), s.len() - end)
}

/// Skips a log line's leading timestamp and up to two `[tag]` prefixes (`2024-01-02 10:00:00,123`,
/// `6:20:38 PM`, `[web]`, `[12:00:00]`), so level words can be found where loggers put them.
pub(crate) fn skip_log_prefix(s: &str) -> &str {
    let mut rest = s;
    // A timestamp: digits and separators, then an optional AM/PM. Only taken if it holds a digit
    // and ends at a space, so a word is never eaten.
    // Date and time may be two such runs (`2024-01-02 10:00:00`).
    for _ in 0..2 {
        let stamp_len = rest.bytes().take_while(|b| b.is_ascii_digit() || b"-:/.,TZ+".contains(b)).count();
        if stamp_len > 0
            && rest.as_bytes().first().is_some_and(u8::is_ascii_digit)
            && rest.as_bytes().get(stamp_len) == Some(&b' ')
        {
            rest = rest.get(stamp_len + 1..).unwrap_or("");
        } else {
            break;
        }
    }
    for ampm in ["AM ", "PM "] {
        if let Some(r) = rest.strip_prefix(ampm) {
            rest = r;
        }
    }
    if rest.len() < s.len() {
        rest = rest.strip_prefix("- ").unwrap_or(rest);
    }
    for _ in 0..2 {
        if rest.starts_with('[') {
            // Only a short tag that does not itself look like a level word: `[ERROR]` is kept.
            if let Some(close) = rest.find("] ") {
                let tag = rest.get(1..close).unwrap_or("");
                if close <= 40 && !is_level_word(tag) {
                    rest = rest.get(close + 2..).unwrap_or("");
                    continue;
                }
            }
        }
        break;
    }
    rest
}

fn is_level_word(tag: &str) -> bool {
    tag.eq_ignore_ascii_case("error") || tag.eq_ignore_ascii_case("fatal") || tag.eq_ignore_ascii_case("err")
}

/// Whether the text after a log prefix says the line is an error: `error:`, `Error:`,
/// `ERROR:`, `ERROR <msg>`, `[ERROR]`, `[error]`, `fatal:`, `FATAL`, `npm ERR!`, `npm error`.
/// Words must be whole: `errors`, `ERROR_CODE`, `error-handler.js` and `error TS` do not count.
pub(crate) fn is_error_word_start(s: &str) -> bool {
    let b = s.as_bytes();
    let after = |n: usize| b.get(n).copied();
    if s.starts_with("error:") || s.starts_with("Error:") || s.starts_with("ERROR:") || s.starts_with("fatal:") {
        return true;
    }
    if s.starts_with("FATAL") {
        return matches!(after(5), Some(b':' | b' ' | b']'));
    }
    if s.starts_with("ERROR ") {
        // `ERROR in` is webpack's and handled by its own recogniser.
        return !s.starts_with("ERROR in ");
    }
    if s.starts_with("[ERROR]") || s.starts_with("[error]") || s.starts_with("[FATAL]") {
        return true;
    }
    s.starts_with("npm ERR!") || s.starts_with("npm error ")
}

/// Whether a line is blank (empty or whitespace only).
pub(crate) fn blank(s: &str) -> bool {
    s.bytes().all(|b| b.is_ascii_whitespace())
}

/// Whether a line starts with whitespace (a continuation in most formats).
pub(crate) fn indented(s: &str) -> bool {
    matches!(s.as_bytes().first(), Some(b' ' | b'\t'))
}

/// A JavaScript error line: `TypeError: msg`, `Error: msg`, `Error [ERR_X]: msg`,
/// `Uncaught RangeError: msg`. Returns whether the name is exactly `Error` (a line that is
/// also a generic error when no stack follows).
pub(crate) fn js_error_line(s: &str) -> Option<bool> {
    let s = s.strip_prefix("Uncaught ").unwrap_or(s);
    let name_len = s.bytes().take_while(|b| b.is_ascii_alphanumeric() || *b == b'_' || *b == b'$').count();
    let name = s.get(..name_len)?;
    if !(name.ends_with("Error") || name.ends_with("Exception")) || !name.starts_with(|c: char| c.is_ascii_uppercase())
    {
        return None;
    }
    let rest = s.get(name_len..)?;
    let rest = match rest.strip_prefix(" [") {
        Some(r) => r.split_once("]")?.1,
        None => rest,
    };
    if rest.starts_with(": ") || rest == ":" || rest.is_empty() && name != "Error" {
        Some(name == "Error")
    } else {
        None
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn locations_parse_in_every_printed_form() {
        let l = file_line_col("/tmp/a/server.js:4:20").unwrap();
        assert_eq!((l.file.as_str(), l.line, l.column), ("/tmp/a/server.js", Some(4), Some(20)));
        let l = file_line_col("file:///tmp/a/esm.mjs:7:1").unwrap();
        assert_eq!(l.file, "/tmp/a/esm.mjs");
        let l = file_line_col("node:internal/fs/promises:637").unwrap();
        assert_eq!((l.file.as_str(), l.line, l.column), ("node:internal/fs/promises", Some(637), None));
        assert!(file_line_col("no numbers here").is_none());
        assert!(file_line_col(":4:5").is_none());
        let l = file_paren_line_col("src/api.ts(4,26)").unwrap();
        assert_eq!((l.line, l.column), (Some(4), Some(26)));
        let (f, l) = js_frame_parts("Object.<anonymous> (/tmp/r.js:6:1)").unwrap();
        assert_eq!((f, l.to_string().as_str()), (Some("Object.<anonymous>"), "/tmp/r.js:6:1"));
        let (f, l) = js_frame_parts("async file:///tmp/esm.mjs:7:1").unwrap();
        assert_eq!((f, l.to_string().as_str()), (None, "/tmp/esm.mjs:7:1"));
        let (f, _) = js_frame_parts("async handler (file:///tmp/esm.mjs:7:1)").unwrap();
        assert_eq!(f, Some("handler"));
        assert!(js_frame_parts("new Promise (<anonymous>)").is_none());
    }

    #[test]
    fn log_prefixes_are_skipped_but_words_are_not() {
        assert_eq!(skip_log_prefix("2026-11-27 18:18:46,263 ERROR worker: x"), "ERROR worker: x");
        assert_eq!(skip_log_prefix("6:20:38 PM [vite] error: x"), "error: x");
        assert_eq!(skip_log_prefix("[web] [ERROR] boom"), "[ERROR] boom");
        assert_eq!(skip_log_prefix("2 errors generated."), "errors generated.");
        assert!(!is_error_word_start("errors generated."));
        assert!(!is_error_word_start("ERROR_CODE = 42"));
        assert!(!is_error_word_start("error-handler.js"));
        assert!(is_error_word_start("ERROR worker: job failed"));
        assert!(is_error_word_start("npm ERR! code ELIFECYCLE"));
    }

    #[test]
    fn js_error_lines() {
        assert_eq!(js_error_line("TypeError: x"), Some(false));
        assert_eq!(js_error_line("Error: x"), Some(true));
        assert_eq!(js_error_line("Error [ERR_MODULE_NOT_FOUND]: x"), Some(true));
        assert_eq!(js_error_line("errorHandler: x"), None);
        assert_eq!(js_error_line("ERROR_CODE: x"), None);
    }

    #[test]
    fn truncation_respects_char_boundaries() {
        assert_eq!(truncate("héllo", 2), ("h", 5));
        assert_eq!(truncate("abc", 5), ("abc", 0));
    }
}
