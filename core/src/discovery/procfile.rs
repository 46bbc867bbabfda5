//! Procfile entries (`name: command`), each run as a shell line under its bare name.

use std::collections::BTreeMap;

use super::cx::{Cx, script};
use super::model::SourceReport;
use crate::script::{Command, SourceKind};

pub(crate) fn discover(cx: &mut Cx) -> Option<SourceReport> {
    if !cx.has_file("Procfile") {
        return None;
    }
    let file = cx.root.join("Procfile");
    let text = cx.read(&file)?;
    let mut scripts: Vec<crate::script::Script> = Vec::new();
    // Each name's line, for the duplicate check: a map, not a scan of `scripts`, which made a
    // long Procfile quadratic (100,000 entries took 21 s).
    let mut first_line: BTreeMap<&str, usize> = BTreeMap::new();
    for (index, raw) in text.lines().enumerate() {
        let line_no = index + 1;
        let line = raw.trim();
        if line.is_empty() || line.starts_with('#') {
            continue;
        }
        let indent = raw.len() - raw.trim_start().len();
        let column = raw[..indent].chars().count() + 1;
        let Some((name, command)) = line.split_once(':') else {
            cx.error(&file, Some((line_no, column)), "expected `name: command`");
            continue;
        };
        if name.is_empty() || !name.chars().all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '-') {
            cx.error(
                &file,
                Some((line_no, column)),
                format!("invalid process name {name:?}: use letters, digits, `_` and `-`"),
            );
            continue;
        }
        let command = command.trim();
        if command.is_empty() {
            cx.error(&file, Some((line_no, column)), format!("process `{name}` has no command"));
            continue;
        }
        if let Some(first) = first_line.get(name) {
            cx.error(
                &file,
                Some((line_no, column)),
                format!("process `{name}` is defined twice; the one on line {first} is used"),
            );
            continue;
        }
        scripts.push(script(
            name.to_owned(),
            SourceKind::Procfile,
            &file,
            Command::Shell { line: command.to_owned() },
            cx.root.to_path_buf(),
        ));
        first_line.insert(name, line_no);
    }
    Some(SourceReport { kind: SourceKind::Procfile, file, scripts, package_manager: None })
}

#[cfg(test)]
mod tests {
    use std::fmt::Write as _;
    use std::path::Path;

    use crate::discovery::{DiscoveryPrefs, MemFs, discover};
    use crate::script::Command;

    /// 100,000 entries took 21 s: each entry's duplicate check scanned every earlier one. No
    /// timing here (benches/benches/discovery.rs measures 10k against 100k); this pins that the
    /// map that replaced the scan gives the same answers at that size, duplicates included.
    #[test]
    fn procfile_of_100k_entries_quadratic_duplicate_check() {
        const ENTRIES: usize = 100_000;
        let mut text = String::new();
        for i in 0..ENTRIES {
            // Every tenth entry repeats the name of the entry five lines up.
            let name = if i % 10 == 9 { i - 5 } else { i };
            writeln!(text, "p{name}: ./serve --port {i}").expect("write to a String");
        }
        let fs = MemFs::new().file("/p/Procfile", &text);
        let d = discover(&fs, Path::new("/p"), &DiscoveryPrefs::default());
        let scripts: Vec<_> = d.scripts().collect();
        assert_eq!(scripts.len(), ENTRIES - ENTRIES / 10);
        assert_eq!(d.diagnostics.len(), ENTRIES / 10);
        assert_eq!(scripts[0].name, "p0");
        let last = scripts.last().expect("scripts");
        assert_eq!(last.name, format!("p{}", ENTRIES - 2));
        assert_eq!(last.command, Command::Shell { line: format!("./serve --port {}", ENTRIES - 2) });
        let e = d.diagnostics.last().expect("errors");
        assert_eq!(e.line, Some(ENTRIES));
        assert_eq!(
            e.message,
            format!("process `p{}` is defined twice; the one on line {} is used", ENTRIES - 6, ENTRIES - 5)
        );
    }
}
