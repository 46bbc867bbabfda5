//! Small text and path helpers shared by the source parsers: positions, lexical path joining and
//! shell quoting.

use std::path::{Component, Path, PathBuf};

/// 1-based line and column (in characters) of byte `offset` in `text`. An offset past the end,
/// or inside a character, counts as the nearest earlier position.
pub(crate) fn line_col(text: &str, offset: usize) -> (usize, usize) {
    let mut end = offset.min(text.len());
    while !text.is_char_boundary(end) {
        end -= 1;
    }
    let before = &text[..end];
    let line = before.bytes().filter(|b| *b == b'\n').count() + 1;
    let line_start = before.rfind('\n').map_or(0, |i| i + 1);
    let column = before[line_start..].chars().count() + 1;
    (line, column)
}

/// `base` joined with `rel`, with `.` removed and `..` applied lexically where it can be (a
/// leading `..` that climbs out of `base`'s components is kept). Symlinks are not resolved:
/// discovery reads no metadata.
pub(crate) fn join_clean(base: &Path, rel: &Path) -> PathBuf {
    let mut out = PathBuf::new();
    for component in base.join(rel).components() {
        match component {
            Component::CurDir => {}
            Component::ParentDir => {
                let last_is_normal = matches!(out.components().next_back(), Some(Component::Normal(_)));
                if last_is_normal {
                    out.pop();
                } else if !matches!(out.components().next_back(), Some(Component::RootDir)) {
                    out.push("..");
                }
            }
            other => out.push(other.as_os_str()),
        }
    }
    if out.as_os_str().is_empty() {
        out.push(".");
    }
    out
}

/// `arg` quoted for `sh` if it needs it: unchanged when it is made only of characters the shell
/// does not interpret, otherwise in single quotes (with `'` written as `'\''`).
pub(crate) fn shell_quote(arg: &str) -> String {
    let safe =
        !arg.is_empty() && arg.chars().all(|c| c.is_ascii_alphanumeric() || "_-./:=@%+,".contains(c) || !c.is_ascii());
    if safe { arg.to_owned() } else { format!("'{}'", arg.replace('\'', r"'\''")) }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn positions_count_lines_and_characters_from_one() {
        let text = "ab\ncdé\n\nx";
        assert_eq!(line_col(text, 0), (1, 1));
        assert_eq!(line_col(text, 1), (1, 2));
        assert_eq!(line_col(text, 2), (1, 3));
        assert_eq!(line_col(text, 3), (2, 1));
        // `é` is two bytes; the byte after it is column 4.
        assert_eq!(line_col(text, 7), (2, 4));
        // Inside `é`: its own column.
        assert_eq!(line_col(text, 6), (2, 3));
        assert_eq!(line_col(text, 9), (4, 1));
        assert_eq!(line_col(text, 1000), (4, 2));
        assert_eq!(line_col("", 5), (1, 1));
    }

    #[test]
    fn join_clean_is_lexical() {
        assert_eq!(join_clean(Path::new("/p"), Path::new("apps/web")), PathBuf::from("/p/apps/web"));
        assert_eq!(join_clean(Path::new("/p"), Path::new("./apps/./web/")), PathBuf::from("/p/apps/web"));
        assert_eq!(join_clean(Path::new("/p/a"), Path::new("../b")), PathBuf::from("/p/b"));
        assert_eq!(join_clean(Path::new("/p"), Path::new("../../..")), PathBuf::from("/"));
        assert_eq!(join_clean(Path::new("/p"), Path::new("/abs/x")), PathBuf::from("/abs/x"));
        assert_eq!(join_clean(Path::new("rel"), Path::new("../../x")), PathBuf::from("../x"));
        assert_eq!(join_clean(Path::new("a"), Path::new("..")), PathBuf::from("."));
        assert_eq!(join_clean(Path::new("/p"), Path::new("")), PathBuf::from("/p"));
    }

    #[test]
    fn shell_quote_leaves_plain_words_alone() {
        assert_eq!(shell_quote("--port=3000"), "--port=3000");
        assert_eq!(shell_quote("src/main.rs"), "src/main.rs");
        assert_eq!(shell_quote("two words"), "'two words'");
        assert_eq!(shell_quote("it's"), r"'it'\''s'");
        assert_eq!(shell_quote(""), "''");
        assert_eq!(shell_quote("$HOME"), "'$HOME'");
    }
}
