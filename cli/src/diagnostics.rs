//! The one printer of [`Diagnostic`]s, config's and discovery's alike:
//! `error: package.json:4:5: message; hint`, the file relative to the project.

use std::io::{self, Write};
use std::path::Path;

use brum_core::diagnostic::Diagnostic;

/// `severity: file:line:column: message; hint`, the file relative to `root` when it is inside
/// it.
pub fn line(root: &Path, d: &Diagnostic) -> String {
    format!("{}: {}", d.severity, d.display_from(root))
}

/// Writes each of `diagnostics` as a [`line()`], in order.
pub fn write(out: &mut dyn Write, root: &Path, diagnostics: &[Diagnostic]) -> io::Result<()> {
    for d in diagnostics {
        writeln!(out, "{}", line(root, d))?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn one_line_each_with_severity_and_relative_file() {
        let ds = [
            Diagnostic::error("/p/package.json", "expected a value, found `}`").at(4, 5),
            Diagnostic::error("/home/u/.brum.toml", "unknown key `bus_wrokers`")
                .at_line(2)
                .with_hint("did you mean `bus_workers`?"),
            Diagnostic::warning("/p/pnpm-workspace.yaml", "more than 2000 workspace packages"),
        ];
        let mut out = Vec::new();
        write(&mut out, Path::new("/p"), &ds).expect("write to a Vec");
        assert_eq!(
            String::from_utf8(out).expect("UTF-8"),
            "error: package.json:4:5: expected a value, found `}`\n\
             error: /home/u/.brum.toml:2: unknown key `bus_wrokers`; did you mean `bus_workers`?\n\
             warning: pnpm-workspace.yaml: more than 2000 workspace packages\n"
        );
    }
}
