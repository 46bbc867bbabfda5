//! composer.json `scripts` as `composer:<script>`, run with `composer run-script <script>`.
//! Composer's event hooks (`post-install-cmd`, ...) are left out: composer runs them itself.

use super::cx::{Cx, exec, script};
use super::json::{Dialect, Json};
use super::model::SourceReport;
use super::node::read_json;
use crate::script::SourceKind;

/// Composer's script events, which run on composer commands rather than by name.
const EVENTS: &[&str] = &[
    "pre-install-cmd",
    "post-install-cmd",
    "pre-update-cmd",
    "post-update-cmd",
    "pre-status-cmd",
    "post-status-cmd",
    "pre-archive-cmd",
    "post-archive-cmd",
    "pre-autoload-dump",
    "post-autoload-dump",
    "post-root-package-install",
    "post-create-project-cmd",
    "pre-operations-exec",
    "pre-package-install",
    "post-package-install",
    "pre-package-update",
    "post-package-update",
    "pre-package-uninstall",
    "post-package-uninstall",
    "init",
    "command",
    "pre-file-download",
    "post-file-download",
    "pre-command-run",
    "pre-pool-create",
];

pub(crate) fn discover(cx: &mut Cx) -> Option<SourceReport> {
    if !cx.has_file("composer.json") {
        return None;
    }
    let file = cx.root.join("composer.json");
    let (text, doc) = read_json(cx, &file, Dialect::Json)?;
    let mut scripts = Vec::new();
    if let Some(value) = doc.get("scripts") {
        match value.unique_members() {
            Some(members) => {
                for m in members.into_iter().filter(|m| !EVENTS.contains(&m.key.as_str())) {
                    // A command, or a list of commands run in order.
                    let detail = match (m.value.as_str(), m.value.as_array()) {
                        (Some(s), _) => s.to_owned(),
                        (None, Some(items)) if items.iter().all(|i| i.as_str().is_some()) => {
                            items.iter().filter_map(Json::as_str).collect::<Vec<_>>().join(" && ")
                        }
                        _ => {
                            cx.error_at(
                                &file,
                                &text,
                                m.value.at,
                                format!(
                                    "script `{}` should be a string or an array of strings, found {}",
                                    m.key,
                                    m.value.kind()
                                ),
                            );
                            continue;
                        }
                    };
                    let mut s = script(
                        format!("composer:{}", m.key),
                        SourceKind::Composer,
                        &file,
                        exec("composer", &["run-script", &m.key]),
                        cx.root.to_path_buf(),
                    );
                    s.detail = Some(detail);
                    scripts.push(s);
                }
            }
            None => {
                cx.error_at(&file, &text, value.at, format!("`scripts` should be an object, found {}", value.kind()))
            }
        }
    }
    Some(SourceReport { kind: SourceKind::Composer, file, scripts, package_manager: None })
}
