//! ANSI escape sequences: kept for display, stripped for search and detection.

use std::borrow::Cow;

/// Removes ANSI escape sequences (CSI `ESC [ ... final`, OSC `ESC ] ... BEL|ESC \`, and
/// two-byte `ESC x` forms), carriage-return overdraws (`a\rb` keeps `b`) and the other C0
/// controls but tab and newline (backspace, bell, form feed). Borrows when there is nothing
/// to strip, which is the common case.
pub fn strip(s: &str) -> Cow<'_, str> {
    if !has_controls(s.as_bytes()) {
        return Cow::Borrowed(s);
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
            c if c < '\u{20}' && c != '\t' && c != '\n' => {}
            c => out.push(c),
        }
    }
    Cow::Owned(out)
}

/// A C0 control other than tab and newline: what [`strip`] removes or starts a sequence with.
fn is_control(b: u8) -> bool {
    (b < 0x20) & (b != b'\t') & (b != b'\n')
}

/// Whether `s` holds a byte [`strip`] would act on. Every batch ingested is checked (its
/// lines' newlines included), and almost none has one, so the check reads 32 bytes at a time
/// as four words: first whether any byte is below 0x20 (the classic "has less than" test,
/// exact as a yes or no), and only then, as a block with a newline or a tab says yes,
/// exactly which (`controls_in`). Single bytes are looked at only in the tail.
pub fn has_controls(s: &[u8]) -> bool {
    let mut blocks = s.chunks_exact(32);
    for block in &mut blocks {
        let words = block.chunks_exact(8).map(|w| u64::from_ne_bytes(w.try_into().unwrap_or([0; 8])));
        let low = words.clone().fold(0, |m, x| m | (x.wrapping_sub(ONES * 0x20) & !x & HIGHS));
        if low != 0 && words.fold(0, |m, x| m | controls_in(x)) != 0 {
            return true;
        }
    }
    blocks.remainder().iter().any(|&b| is_control(b))
}

const ONES: u64 = u64::from_ne_bytes([0x01; 8]);
const LOW7: u64 = ONES * 0x7f;
const HIGHS: u64 = ONES * 0x80;

/// The bytes of `x` that are [controls](is_control), as the high bit of each: exact per byte,
/// since no sum or difference below carries or borrows across a byte.
#[inline]
fn controls_in(x: u64) -> u64 {
    // Below 0x20: `(b & 0x7f) + 0x60` reaches 0x80 from 0x20 on (at most 0xdf), and a byte of
    // 0x80 or more has its own high bit, which the `| x` keeps.
    let below_space = !(((x & LOW7) + ONES * 0x60) | x) & HIGHS;
    // Tab and newline (0x09, 0x0a) are the bytes below 0x80 with `(b | 0x80) - 9` equal to
    // 0x80 or 0x81, that is `& 0x7e` zero (no borrow: `b | 0x80` is at least 0x80); a zero
    // byte `t` is one where `t + 0x7f` (at most 0xfd) stays below 0x80.
    let t = ((x | HIGHS) - ONES * 9) & (ONES * 0x7e);
    let tab_or_newline = !(t + LOW7) & HIGHS;
    below_space & !tab_or_newline
}

#[cfg(test)]
#[test]
fn has_controls_finds_every_control_in_any_position_and_nothing_else() {
    // Past two blocks of 32, so every position of a block and of the tail is tried, among
    // neighbours at the edges of what the word arithmetic tells apart (no carry may cross).
    for fill in [b'a', b'\n', b'\t', b' ', 0x80, 0xff] {
        for len in 0..66 {
            for at in 0..len {
                for c in 0u8..=0xff {
                    let mut s = vec![fill; len];
                    s[at] = c;
                    assert_eq!(has_controls(&s), is_control(c), "byte {c:#x} at {at} of {len} among {fill:#x}");
                }
            }
        }
    }
    assert!(!has_controls("é€😀 tab\there".as_bytes()));
}

/// The text search, level detection and detection see: [`strip`] (escapes and carriage-return
/// overdraws removed), with any newline turned into a space so that a stored line is one line.
/// Borrows when there is nothing to change.
pub fn plain(raw: &str) -> Cow<'_, str> {
    match strip(raw) {
        Cow::Borrowed(s) if !s.contains('\n') => Cow::Borrowed(s),
        Cow::Borrowed(s) => Cow::Owned(s.replace('\n', " ")),
        Cow::Owned(s) if s.contains('\n') => Cow::Owned(s.replace('\n', " ")),
        owned => owned,
    }
}

/// A line as brum's prefixed view prints it, after another process's prefix: what could move
/// the cursor, clear the screen or the line, or reset the terminal is removed, so one process
/// cannot wipe or overwrite the others' lines (`tsc --watch` clears the screen every round).
/// Kept: SGR (`ESC [ ... m`: colours, bold), OSC (`ESC ] ...`: hyperlinks, titles) and tabs.
/// Removed: every other CSI sequence (cursor moves, `ESC [2J`, `ESC [K`, scrolling), two-byte
/// escapes (`ESC c` reset, `ESC 7`/`ESC 8` cursor save and restore), and the C0 controls
/// other than tab (backspace, form feed, a bare carriage return).
///
/// The second value says whether the kept text has an SGR sequence: the printer then resets
/// the attributes after the line, so a colour left on cannot bleed into the next prefix.
pub fn for_prefixed_view(s: &str) -> (Cow<'_, str>, bool) {
    let unsafe_byte = |b: u8| b < 0x20 && b != b'\t';
    if !s.bytes().any(unsafe_byte) {
        return (Cow::Borrowed(s), false);
    }
    let mut out = String::with_capacity(s.len());
    let mut sgr = false;
    let mut rest = s;
    while let Some(i) = rest.bytes().position(unsafe_byte) {
        out.push_str(&rest[..i]);
        let tail = &rest[i..];
        let b = tail.as_bytes();
        if b[0] != 0x1b {
            rest = &tail[1..];
            continue;
        }
        let taken = match b.get(1) {
            Some(b'[') => {
                // Parameters and intermediates (0x20..=0x3f), then one final byte (0x40..=0x7e).
                let end = b[2..].iter().position(|c| !(0x20..=0x3f).contains(c)).map(|p| p + 2);
                match end {
                    Some(e) if (0x40..=0x7e).contains(&b[e]) => {
                        if b[e] == b'm' {
                            out.push_str(&tail[..=e]);
                            sgr = true;
                        }
                        e + 1
                    }
                    // Malformed or cut short: drop the introducer only.
                    _ => 2,
                }
            }
            Some(b']') => {
                // Up to BEL or ESC \ (kept whole); unterminated, it is dropped to the end.
                let mut end = None;
                for (j, &c) in b.iter().enumerate().skip(2) {
                    if c == 0x07 {
                        end = Some(j + 1);
                        break;
                    }
                    if c == 0x1b && b.get(j + 1) == Some(&b'\\') {
                        end = Some(j + 2);
                        break;
                    }
                }
                match end {
                    Some(e) => {
                        out.push_str(&tail[..e]);
                        e
                    }
                    None => tail.len(),
                }
            }
            // Character-set designations take one more byte: ESC ( B.
            Some(b'(' | b')' | b'*' | b'+') => 3.min(tail.len()),
            // Two-byte escapes; the second byte is ASCII, or the escape ends the text.
            Some(c) if c.is_ascii() => 2,
            _ => 1,
        };
        rest = &tail[taken..];
    }
    out.push_str(rest);
    (Cow::Owned(out), sgr)
}

#[cfg(test)]
mod tests {
    use super::{for_prefixed_view, strip};

    #[test]
    fn the_prefixed_view_keeps_colours_and_links_and_drops_what_moves_or_clears() {
        let view = |s| for_prefixed_view(s);
        assert!(matches!(view("plain\ttext"), (std::borrow::Cow::Borrowed("plain\ttext"), false)));
        // tsc --watch clears the screen and homes the cursor before each round.
        assert_eq!(
            view("\u{1b}[2J\u{1b}[3J\u{1b}[H12:00:00 - Starting compilation"),
            ("12:00:00 - Starting compilation".into(), false)
        );
        assert_eq!(view("\u{1b}cReset"), ("Reset".into(), false));
        assert_eq!(view("\u{1b}[2K\u{1b}[1Gdone\u{1b}[K"), ("done".into(), false));
        assert_eq!(view("\u{1b}[1A\u{1b}[10;5Hup\u{1b}7\u{1b}8\u{8}\u{c}!"), ("up!".into(), false));
        assert_eq!(view("\u{1b}[31merror\u{1b}[0m: x"), ("\u{1b}[31merror\u{1b}[0m: x".into(), true));
        assert_eq!(view("\u{1b}[1;38;5;196mb\u{1b}[2Jc"), ("\u{1b}[1;38;5;196mbc".into(), true));
        let link = "\u{1b}]8;;http://x\u{7}link\u{1b}]8;;\u{1b}\\";
        assert_eq!(view(link), (link.into(), false));
        // Cut short or malformed: nothing of it is printed raw, the text around it is kept.
        assert_eq!(view("a\u{1b}[12"), ("a12".into(), false));
        assert_eq!(view("a\u{1b}"), ("a".into(), false));
        assert_eq!(view("a\u{1b}]0;title"), ("a".into(), false));
        assert_eq!(view("é\u{1b}(Bè"), ("éè".into(), false));
        assert_eq!(view("\u{1b}é"), ("é".into(), false));
    }

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
        assert_eq!(strip("a\u{8}\u{7}\u{c}b\tc"), "ab\tc");
    }
}
