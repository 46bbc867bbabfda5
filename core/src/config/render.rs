//! The text of `brum --settings`: the effective configuration as a valid `.brum.toml`, each
//! value annotated with its source and each key with the reason for its default.

use std::path::PathBuf;

use super::processes::{quote_key, toml_string};
use super::schema::{Kind, SECTIONS, Value};
use super::settings::{Settings, Source};

/// Renders `settings` for `brum --settings`. `files` are the config files consulted, in order,
/// with whether each existed; `cores` resolves `"auto"`. Deterministic: the output depends only
/// on the arguments.
pub fn render_settings(settings: &Settings, files: &[(PathBuf, bool)], cores: usize) -> String {
    let mut out = String::new();
    out.push_str("# Effective brum settings.\n");
    out.push_str("# Files consulted, in order; a later file overrides an earlier one key by key:\n");
    if files.is_empty() {
        out.push_str("#   (none)\n");
    }
    for (path, found) in files {
        let state = if *found { "found" } else { "not found" };
        out.push_str(&format!("#   {} ({state})\n", path.display()));
    }
    out.push_str("# Each key is preceded by why its default is what it is and what it accepts.\n");

    for section in SECTIONS {
        let lines: Vec<(&str, String, String, String)> = section
            .keys
            .iter()
            .map(|key| {
                let setting = settings.setting(section.name, key);
                let mut source = match &setting.source {
                    Source::Default => "default".to_owned(),
                    Source::File { path, line } => format!("{}:{line}", path.display()),
                };
                if let (Value::Auto, Kind::AutoOrInteger { auto, .. }) = (setting.value, key.kind) {
                    source.push_str(&format!(" (auto = {} on {cores} cores)", auto(cores)));
                }
                let about = format!("{} (accepts {})", key.why, key.kind.range());
                (key.name, setting.value.to_toml(key.kind), source, about)
            })
            .collect();
        let key_width = lines.iter().map(|(k, ..)| k.len()).max().unwrap_or(0);
        let value_width = lines.iter().map(|(_, v, ..)| v.len()).max().unwrap_or(0);
        out.push_str(&format!("\n[{}]\n", section.name));
        for (key, value, source, about) in lines {
            out.push_str(&format!("# {about}\n"));
            out.push_str(&format!("{key:key_width$} = {value:value_width$}  # {source}\n"));
        }
    }
    for process in settings.processes() {
        out.push_str(&format!(
            "\n[processes.{}]  # {}:{}\n",
            quote_key(&process.name),
            process.file.display(),
            process.line
        ));
        out.push_str(&format!("command = {}\n", toml_string(&process.command)));
        if let Some(cwd) = &process.cwd {
            out.push_str(&format!("cwd     = {}\n", toml_string(cwd)));
        }
        if !process.env.is_empty() {
            let pairs: Vec<String> =
                process.env.iter().map(|(k, v)| format!("{} = {}", quote_key(k), toml_string(v))).collect();
            out.push_str(&format!("env     = {{ {} }}\n", pairs.join(", ")));
        }
        out.push_str(&format!("restart = \"{}\"\n", process.restart.name()));
    }
    out
}
