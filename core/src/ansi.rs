//! ANSI escape sequences: kept for display, stripped for search and detection.

/// Removes ANSI escape sequences (CSI `ESC [ ... final`, OSC `ESC ] ... BEL|ESC \`, and
/// two-byte `ESC x` forms) and carriage-return overdraws (`a\rb` keeps `b`). Borrows when
/// there is nothing to strip, which is the common case.
pub fn strip(s: &str) -> std::borrow::Cow<'_, str> {
    if !s.bytes().any(|b| b == 0x1b || b == b'\r') {
        return std::borrow::Cow::Borrowed(s);
    }
    let mut out = String::with_capacity(s.len());
    let mut chars = s.chars().peekable();
    while let Some(c) = chars.next() {
        match c {
            '\u{1b}' => match chars.peek() {
                Some('[') => {
                    chars.next();
                    // Parameters and intermediates, then one final byte in 0x40..=0x7e.
                    for c in chars.by_ref() {
                        if ('\u{40}'..='\u{7e}').contains(&c) {
                            break;
                        }
                    }
                }
                Some(']') => {
                    chars.next();
                    while let Some(c) = chars.next() {
                        if c == '\u{7}' {
                            break;
                        }
                        if c == '\u{1b}' && chars.peek() == Some(&'\\') {
                            chars.next();
                            break;
                        }
                    }
                }
                // Character-set designations take one more byte: ESC ( B.
                Some('(' | ')' | '*' | '+') => {
                    chars.next();
                    chars.next();
                }
                Some(_) => {
                    chars.next();
                }
                None => {}
            },
            // A bare CR redraws the line: keep what was written last. A CR before the end
            // (a CRLF line ending with the LF already split off) is just dropped.
            '\r' => {
                if chars.peek().is_some() {
                    out.clear();
                }
            }
            c => out.push(c),
        }
    }
    std::borrow::Cow::Owned(out)
}

#[cfg(test)]
mod tests {
    use super::strip;

    #[test]
    fn strips_colours_cursor_moves_osc_links_and_overdraws() {
        assert_eq!(strip("plain"), "plain");
        assert!(matches!(strip("plain"), std::borrow::Cow::Borrowed(_)));
        assert_eq!(strip("\u{1b}[31merror\u{1b}[0m: x"), "error: x");
        assert_eq!(strip("\u{1b}[1;38;5;196mbold\u{1b}[22m"), "bold");
        assert_eq!(strip("\u{1b}[2K\u{1b}[1Gdone"), "done");
        assert_eq!(strip("\u{1b}]8;;http://x\u{7}link\u{1b}]8;;\u{1b}\\"), "link");
        assert_eq!(strip("10%\r50%\r100%"), "100%");
        assert_eq!(strip("line\r"), "line");
        assert_eq!(strip("\u{1b}(Bx"), "x");
    }
}
