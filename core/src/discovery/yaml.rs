//! The part of YAML that `pnpm-workspace.yaml` uses for its package list: the top-level
//! `packages:` key with a block sequence (`- 'apps/*'`) or a flow sequence (`['apps/*']`) of
//! plain, single- or double-quoted scalars. Other top-level keys (`catalog:`,
//! `onlyBuiltDependencies:`, ...) are skipped. A full YAML parser would be a large dependency
//! for one list; anything outside this subset under `packages:` is reported, not guessed.

/// One package glob and the byte offset where it was written.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Item {
    pub(crate) value: String,
    pub(crate) at: usize,
}

/// A problem at byte offset `at`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct YamlError {
    pub(crate) at: usize,
    pub(crate) message: String,
}

/// The `packages` list of a pnpm-workspace.yaml; `None` when the key is absent.
pub(crate) fn packages(text: &str) -> Result<Option<Vec<Item>>, YamlError> {
    let lines = lines(text);
    let Some(index) = lines.iter().position(|(_, l)| is_packages_key(l)) else {
        return Ok(None);
    };
    let (start, line) = lines[index];
    let after_colon = line.find(':').map_or(line.len(), |i| i + 1);
    let rest = strip_comment(&line[after_colon..]);
    let rest_at = start + after_colon + (line[after_colon..].len() - line[after_colon..].trim_start().len());
    if rest.trim().starts_with('[') {
        // A flow sequence, possibly over several lines: take the text up to the closing `]`.
        let from = rest_at;
        let tail = &text[from..];
        let close = flow_end(tail).ok_or(YamlError { at: from, message: "unterminated `[` list".to_owned() })?;
        return flow_items(&text[from + 1..from + close], from + 1).map(Some);
    }
    if !rest.trim().is_empty() {
        return Err(YamlError { at: rest_at, message: "`packages` should be a list of globs".to_owned() });
    }
    let mut items = Vec::new();
    for &(line_at, line) in &lines[index + 1..] {
        let body = strip_comment(line);
        if body.trim().is_empty() {
            continue;
        }
        let indent = line.len() - line.trim_start_matches([' ', '\t']).len();
        let trimmed = body.trim_start_matches([' ', '\t']);
        if indent == 0 && !trimmed.starts_with('-') {
            break; // the next top-level key
        }
        let Some(after_dash) = trimmed.strip_prefix('-') else {
            return Err(YamlError {
                at: line_at + indent,
                message: "expected a `- glob` item in the `packages` list".to_owned(),
            });
        };
        let value_at = line_at + indent + 1 + (after_dash.len() - after_dash.trim_start().len());
        items.push(scalar(after_dash.trim(), value_at)?);
    }
    Ok(Some(items))
}

/// Every line with the byte offset where it starts (`\r\n` endings keep their `\r` out).
fn lines(text: &str) -> Vec<(usize, &str)> {
    let mut out = Vec::new();
    let mut at = 0;
    for line in text.split('\n') {
        out.push((at, line.strip_suffix('\r').unwrap_or(line)));
        at += line.len() + 1;
    }
    out
}

fn is_packages_key(line: &str) -> bool {
    ["packages", "'packages'", "\"packages\""]
        .iter()
        .any(|k| line.strip_prefix(k).is_some_and(|rest| rest.trim_start().starts_with(':')))
}

/// The line without a trailing `# comment` (a `#` outside quotes, after whitespace or at the
/// start).
fn strip_comment(line: &str) -> &str {
    let mut quote: Option<char> = None;
    let mut previous = ' ';
    for (i, c) in line.char_indices() {
        match quote {
            Some(q) if c == q => quote = None,
            Some(_) => {}
            None if c == '\'' || c == '"' => quote = Some(c),
            None if c == '#' && previous.is_whitespace() => return &line[..i],
            None => {}
        }
        previous = c;
    }
    line
}

/// The offset of the `]` closing the flow sequence that `tail` starts with.
fn flow_end(tail: &str) -> Option<usize> {
    let mut quote: Option<char> = None;
    for (i, c) in tail.char_indices() {
        match quote {
            Some(q) if c == q => quote = None,
            Some(_) => {}
            None if c == '\'' || c == '"' => quote = Some(c),
            None if c == ']' => return Some(i),
            None => {}
        }
    }
    None
}

/// The comma-separated scalars between `[` and `]`; `at` is the offset of `inner`.
fn flow_items(inner: &str, at: usize) -> Result<Vec<Item>, YamlError> {
    let mut items = Vec::new();
    let mut quote: Option<char> = None;
    let mut start = 0;
    let mut pieces = Vec::new();
    for (i, c) in inner.char_indices() {
        match quote {
            Some(q) if c == q => quote = None,
            Some(_) => {}
            None if c == '\'' || c == '"' => quote = Some(c),
            None if c == ',' => {
                pieces.push((start, &inner[start..i]));
                start = i + 1;
            }
            None => {}
        }
    }
    pieces.push((start, &inner[start..]));
    for (offset, piece) in pieces {
        let value = piece.trim();
        if value.is_empty() {
            continue; // `[a, b,]` and `[]`
        }
        let lead = piece.len() - piece.trim_start().len();
        items.push(scalar(value, at + offset + lead)?);
    }
    Ok(items)
}

/// A plain, single- or double-quoted scalar at offset `at`.
fn scalar(text: &str, at: usize) -> Result<Item, YamlError> {
    let unterminated = || YamlError { at, message: "unterminated quoted string".to_owned() };
    let value = if let Some(inner) = text.strip_prefix('\'') {
        inner.strip_suffix('\'').ok_or_else(unterminated)?.replace("''", "'")
    } else if let Some(inner) = text.strip_prefix('"') {
        let inner = inner.strip_suffix('"').ok_or_else(unterminated)?;
        if inner.contains('\\') {
            return Err(YamlError { at, message: "escapes in double-quoted globs are not supported".to_owned() });
        }
        inner.to_owned()
    } else if text.starts_with(['[', '{', '&', '*', '|', '>']) {
        return Err(YamlError { at, message: format!("expected a glob string, found `{text}`") });
    } else {
        text.to_owned()
    };
    Ok(Item { value, at })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn values(text: &str) -> Vec<String> {
        packages(text).expect("valid").expect("has packages").into_iter().map(|i| i.value).collect()
    }

    #[test]
    fn block_lists_in_every_quoting() {
        let text = "# pnpm\npackages:\n  - 'apps/*'\n  - \"packages/**\"\n  - tools/cli # the cli\n  - '!**/test/**'\n\ncatalog:\n  react: ^18\n";
        assert_eq!(values(text), vec!["apps/*", "packages/**", "tools/cli", "!**/test/**"]);
    }

    #[test]
    fn block_list_at_the_key_indentation() {
        assert_eq!(values("packages:\n- apps/*\n- libs/*\nother: 1\n"), vec!["apps/*", "libs/*"]);
    }

    #[test]
    fn flow_lists_on_one_or_more_lines() {
        assert_eq!(values("packages: ['apps/*', 'packages/*']\n"), vec!["apps/*", "packages/*"]);
        assert_eq!(values("packages: [\n  \"a/*\",\n  b,\n]\n"), vec!["a/*", "b"]);
        assert_eq!(values("packages: []\n"), Vec::<String>::new());
    }

    #[test]
    fn item_offsets_point_at_the_values() {
        let text = "packages:\n  - 'apps/*'\n";
        let items = packages(text).expect("valid").expect("list");
        assert_eq!(&text[items[0].at..items[0].at + 3], "'ap");
        let text = "packages: [x, 'y']\r\n";
        let items = packages(text).expect("valid").expect("list");
        assert_eq!(items.iter().map(|i| &text[i.at..i.at + 1]).collect::<Vec<_>>(), vec!["x", "'"]);
    }

    #[test]
    fn absent_key_is_none() {
        assert_eq!(packages("catalog:\n  react: ^18\n").expect("valid"), None);
        assert_eq!(packages("").expect("valid"), None);
    }

    #[test]
    fn problems_have_offsets() {
        let e = packages("packages: apps/*\n").expect_err("scalar");
        assert_eq!((e.at, e.message.as_str()), (10, "`packages` should be a list of globs"));
        let e = packages("packages:\n  - 'apps/*\n").expect_err("quote");
        assert_eq!((e.at, e.message.as_str()), (14, "unterminated quoted string"));
        let e = packages("packages:\n  apps: 1\n").expect_err("map");
        assert_eq!((e.at, e.message.as_str()), (12, "expected a `- glob` item in the `packages` list"));
        let e = packages("packages: ['a',\n").expect_err("flow");
        assert_eq!((e.at, e.message.as_str()), (10, "unterminated `[` list"));
    }
}
