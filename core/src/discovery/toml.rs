//! Reading TOML manifests (Cargo.toml, pyproject.toml) with positions for errors.

use std::path::Path;

use toml_edit::{Document, Item};

use super::cx::Cx;

/// Parses `text`, the contents of `file`; a syntax error is recorded at its position.
pub(crate) fn parse<'t>(cx: &mut Cx, file: &Path, text: &'t str) -> Option<Document<&'t str>> {
    match Document::parse(text) {
        Ok(doc) => Some(doc),
        Err(e) => {
            let at = e.span().map_or(0, |s| s.start);
            cx.error_at(file, text, at, format!("invalid TOML: {}", e.message().trim_end()));
            None
        }
    }
}

/// Where `item` starts (0 if the parser kept no span, as for implicit tables).
pub(crate) fn offset(item: &Item) -> usize {
    item.span().map_or(0, |s| s.start)
}

/// The TOML type of `item`, for messages.
pub(crate) fn kind(item: &Item) -> &'static str {
    use toml_edit::Value as V;
    match item {
        Item::None => "nothing",
        Item::Table(_) => "a table",
        Item::ArrayOfTables(_) => "an array of tables",
        Item::Value(V::String(_)) => "a string",
        Item::Value(V::Integer(_)) => "an integer",
        Item::Value(V::Float(_)) => "a float",
        Item::Value(V::Boolean(_)) => "a boolean",
        Item::Value(V::Datetime(_)) => "a datetime",
        Item::Value(V::Array(_)) => "an array",
        Item::Value(V::InlineTable(_)) => "an inline table",
    }
}
