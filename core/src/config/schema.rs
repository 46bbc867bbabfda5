//! The static description of every configuration key: its kind, range, default and the reason
//! for that default. Loading, validation, `brum --settings` and docs/design/configuration.md are
//! all driven by this table, so a key is added in exactly one place.
//!
//! To add a section with fixed keys, add a [`Section`] to [`SECTIONS`] and typed getters to
//! `Settings`. Sections whose table names are open (`[processes.NAME]`) need their own branch
//! in the loader's top-level dispatch (`load::check_layer`).

use super::processes::toml_string;
use super::size::{GIB, KIB, MIB, format_size};
use crate::bus::BusConfig;

/// What values a key accepts. Every numeric range is inclusive.
#[derive(Debug, Clone, Copy)]
pub(crate) enum Kind {
    /// A plain count.
    Integer { min: u64, max: u64 },
    /// A duration in milliseconds, written as an integer (the key name ends in `_ms`).
    Millis { min: u64, max: u64 },
    /// A byte size: an integer number of bytes or a string with a unit (`"64MiB"`).
    Bytes { min: u64, max: u64 },
    /// One of a fixed set of strings.
    Choice { allowed: &'static [&'static str] },
    /// The string `"auto"` or an integer; `auto` resolves `"auto"` for a number of cores.
    AutoOrInteger { min: u64, max: u64, auto: fn(usize) -> usize },
    /// `true` or `false`.
    Bool,
    /// A string that is a secret (a token): read like any string, never printed back
    /// (`brum --settings` shows whether it is set, not what it is).
    Secret,
}

impl Kind {
    /// What the key expects, as a fragment for "expected ..." messages.
    pub(crate) fn expected(self) -> &'static str {
        match self {
            Kind::Integer { .. } => "an integer",
            Kind::Millis { .. } => "an integer number of milliseconds",
            Kind::Bytes { .. } => "a byte size (an integer or a string like \"64MiB\")",
            Kind::Choice { .. } => "a string",
            Kind::AutoOrInteger { .. } => "an integer or \"auto\"",
            Kind::Bool => "a boolean",
            Kind::Secret => "a string",
        }
    }

    /// The accepted values, for messages and docs: `1..=64`, `"auto" or 1..=64`,
    /// `1MiB..=4GiB`, `block | degrade`.
    pub(crate) fn range(self) -> String {
        match self {
            Kind::Integer { min, max } => format!("{min}..={max}"),
            Kind::Millis { min, max } => format!("{min}..={max} ms"),
            Kind::Bytes { min, max } => format!("{}..={}", format_size(min), format_size(max)),
            Kind::Choice { allowed } => allowed.join(" | "),
            Kind::AutoOrInteger { min, max, .. } => format!("\"auto\" or {min}..={max}"),
            Kind::Bool => "true | false".to_owned(),
            Kind::Secret => "any string, never printed".to_owned(),
        }
    }

    /// The accepted numbers, for "out of range" messages: like [`Kind::range`], but an
    /// auto-or-integer key leads with its numbers (`1..=64 (or "auto")`).
    pub(crate) fn number_range(self) -> String {
        match self {
            Kind::AutoOrInteger { min, max, .. } => format!("{min}..={max} (or \"auto\")"),
            other => other.range(),
        }
    }
}

/// A key's effective value. Sizes and durations are plain integers (bytes, milliseconds); the
/// [`Kind`] says how to read and print them. `Debug` hides secrets.
#[derive(Clone, Copy, PartialEq, Eq)]
pub(crate) enum Value {
    Integer(u64),
    /// One of [`Kind::Choice`]'s `allowed` strings.
    Choice(&'static str),
    /// `"auto"` of [`Kind::AutoOrInteger`].
    Auto,
    Bool(bool),
    /// [`Kind::Secret`]'s string; `""` when unset. Leaked on load (one small string per
    /// configured secret, for the life of the process) so `Value` stays `Copy`.
    Secret(&'static str),
}

impl Value {
    /// The value as TOML source text, in the form a user would write it: sizes with a unit,
    /// strings quoted. Parsing it back yields the same value.
    pub(crate) fn to_toml(self, kind: Kind) -> String {
        match (self, kind) {
            (Value::Integer(n), Kind::Bytes { .. }) => toml_string(&format_size(n)),
            (Value::Integer(n), _) => n.to_string(),
            (Value::Choice(s), _) => toml_string(s),
            (Value::Auto, _) => toml_string("auto"),
            (Value::Bool(b), _) => b.to_string(),
            // Printing a secret would put it in terminals and logs: an unset one reads back
            // as unset, a set one as a placeholder that is visibly not the token.
            (Value::Secret(""), _) => toml_string(""),
            (Value::Secret(_), _) => toml_string(SECRET_SHOWN),
        }
    }
}

impl std::fmt::Debug for Value {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Value::Integer(n) => f.debug_tuple("Integer").field(n).finish(),
            Value::Choice(s) => f.debug_tuple("Choice").field(s).finish(),
            Value::Auto => f.write_str("Auto"),
            Value::Bool(b) => f.debug_tuple("Bool").field(b).finish(),
            Value::Secret("") => f.write_str("Secret(unset)"),
            Value::Secret(_) => f.write_str("Secret(set)"),
        }
    }
}

/// What `brum --settings` prints for a secret that is set.
pub(crate) const SECRET_SHOWN: &str = "<set, not shown>";

/// One key of a section.
#[derive(Debug, Clone, Copy)]
pub(crate) struct KeySpec {
    pub(crate) name: &'static str,
    pub(crate) kind: Kind,
    pub(crate) default: Value,
    /// One line: why the default is what it is. Shown by `brum --settings` and in the docs.
    pub(crate) why: &'static str,
}

/// A TOML table with a fixed set of keys.
#[derive(Debug)]
pub(crate) struct Section {
    pub(crate) name: &'static str,
    pub(crate) keys: &'static [KeySpec],
}

impl Section {
    pub(crate) fn key(&self, name: &str) -> Option<&'static KeySpec> {
        self.keys.iter().find(|k| k.name == name)
    }
}

/// Every fixed-key top-level table brum reads, in the order `brum --settings` prints them. The
/// open-named `[processes.NAME]` tables are checked by `processes.rs`.
pub(crate) static SECTIONS: &[Section] = &[CONCURRENCY, DISCOVERY, MCP];

/// The top-level name of the `[processes.NAME]` tables.
pub(crate) const PROCESSES: &str = "processes";

pub(crate) fn section(name: &str) -> Option<&'static Section> {
    SECTIONS.iter().find(|s| s.name == name)
}

/// The values of `bus_backpressure`; they are `Backpressure::name`s (a test checks they agree).
pub(crate) const BACKPRESSURE_NAMES: &[&str] = &["block", "drop_oldest", "drop_newest", "degrade"];

/// The values of `discovery.package_manager`: `auto` and the `PackageManager` names (a test
/// checks they agree).
pub(crate) const PACKAGE_MANAGER_NAMES: &[&str] = &["auto", "npm", "pnpm", "yarn", "bun"];

/// The values of `concurrency.process_leftovers`; they are `Leftovers::name`s (a test checks).
pub(crate) const LEFTOVERS_NAMES: &[&str] = &["stop", "keep"];

/// The values of `processes.NAME.restart`; they are `RestartPolicy::name`s (a test checks).
pub(crate) const RESTART_NAMES: &[&str] = &["never", "on-failure", "always"];

/// The `[discovery]` section: how brum finds and runs a project's scripts.
pub(crate) const DISCOVERY: Section = Section {
    name: "discovery",
    keys: &[KeySpec {
        name: "package_manager",
        kind: Kind::Choice { allowed: PACKAGE_MANAGER_NAMES },
        default: Value::Choice("auto"),
        why: "auto = the packageManager field, then the lockfile (bun, pnpm, yarn, npm), then npm: what the \
              project itself uses",
    }],
};

/// The `[mcp]` section: what MCP clients may do.
pub(crate) const MCP: Section = Section {
    name: "mcp",
    keys: &[
        KeySpec {
            name: "allow_adhoc",
            kind: Kind::Bool,
            default: Value::Bool(false),
            why: "off: an agent runs the project's own scripts, never a shell command it made up, \
                  unless the user allows it",
        },
        KeySpec {
            name: "token",
            kind: Kind::Secret,
            default: Value::Secret(""),
            why: "empty = no token: the server listens on loopback only; set one (or BRUM_MCP_TOKEN, \
                  or --token) so other local users' programs cannot call it",
        },
    ],
};

/// The `[concurrency]` section: sizes, limits and timeouts of brum's moving parts.
pub(crate) const CONCURRENCY: Section = Section {
    name: "concurrency",
    keys: &[
        KeySpec {
            name: "bus_workers",
            kind: Kind::AutoOrInteger { min: 1, max: 64, auto: BusConfig::default_workers },
            default: Value::Auto,
            why: "auto = clamp(cores * 2.5, 4, 32): keeps every core busy while a few handlers \
                  wait on slow consumers, without thrashing big machines",
        },
        KeySpec {
            name: "bus_mailbox_capacity",
            kind: Kind::Integer { min: 1, max: 1_048_576 },
            default: Value::Integer(1024),
            why: "absorbs a burst of a thousand log lines per subscriber before backpressure \
                  applies, at about 100 KiB of small events",
        },
        KeySpec {
            name: "bus_backpressure",
            kind: Kind::Choice { allowed: BACKPRESSURE_NAMES },
            default: Value::Choice("degrade"),
            why: "a full mailbox sheds log lines first and never drops lifecycle events, so state \
                  stays right while output lags",
        },
        KeySpec {
            name: "bus_block_timeout_ms",
            kind: Kind::Millis { min: 1, max: 60_000 },
            default: Value::Integer(100),
            why: "rides out a handler hiccup, yet a stuck subscriber cannot stall publishers for \
                  a noticeable time",
        },
        KeySpec {
            name: "bus_drain_timeout_ms",
            kind: Kind::Millis { min: 0, max: 600_000 },
            default: Value::Integer(5000),
            why: "lets subscribers flush the last lines on shutdown without making Ctrl-C feel \
                  hung",
        },
        KeySpec {
            name: "bus_batch",
            kind: Kind::Integer { min: 1, max: 65_536 },
            default: Value::Integer(256),
            why: "amortises scheduling per mailbox turn while one flooding subscriber cannot \
                  starve the others",
        },
        KeySpec {
            name: "process_start_concurrency",
            kind: Kind::Integer { min: 1, max: 1024 },
            default: Value::Integer(10),
            why: "starts a typical monorepo's services quickly without a fork storm that \
                  saturates CPU and disk",
        },
        KeySpec {
            name: "process_stop_grace_ms",
            kind: Kind::Millis { min: 0, max: 600_000 },
            default: Value::Integer(5000),
            why: "time between SIGTERM and SIGKILL: enough for dev servers to close sockets and \
                  flush, short enough that stop feels prompt",
        },
        KeySpec {
            name: "process_leftovers",
            kind: Kind::Choice { allowed: LEFTOVERS_NAMES },
            default: Value::Choice("stop"),
            why: "stop = what a script left running in its process group is stopped when the \
                  script ends (SIGTERM, then SIGKILL after the grace); keep = left running \
                  until brum exits. Nothing brum started outlives brum either way",
        },
        KeySpec {
            name: "process_restart_max",
            kind: Kind::Integer { min: 0, max: 1000 },
            default: Value::Integer(5),
            why: "consecutive restarts before a crash-looping process is left stopped; 0 \
                  disables restarts",
        },
        KeySpec {
            name: "process_restart_backoff_ms",
            kind: Kind::Millis { min: 0, max: 600_000 },
            default: Value::Integer(500),
            why: "first restart delay, doubled per retry: quick recovery from a one-off crash \
                  without spinning on a persistent one",
        },
        KeySpec {
            name: "process_restart_backoff_max_ms",
            kind: Kind::Millis { min: 0, max: 3_600_000 },
            default: Value::Integer(30_000),
            why: "cap on the doubled restart delay, so a fixed file is picked up within half a \
                  minute",
        },
        KeySpec {
            name: "log_store_bytes",
            kind: Kind::Bytes { min: MIB, max: 16 * GIB },
            default: Value::Integer(64 * MIB),
            why: "holds hours of chatty dev-server output in memory while staying small next to \
                  the servers themselves",
        },
        KeySpec {
            name: "log_batch_lines",
            kind: Kind::Integer { min: 1, max: 65_536 },
            default: Value::Integer(4096),
            why: "lines of one read published as one bus event (a batch also ends at 256 KiB of \
                  text and at each detection): cuts per-line overhead under a flood, and a read \
                  is published as soon as it is split, so output shows as promptly",
        },
        KeySpec {
            name: "log_max_line_bytes",
            kind: Kind::Bytes { min: KIB, max: 16 * MIB },
            default: Value::Integer(64 * KIB),
            why: "longer lines are truncated (and marked): longer than any readable log line, \
                  short enough that a minified bundle cannot flood the store",
        },
        KeySpec {
            name: "log_persist",
            kind: Kind::Bool,
            default: Value::Bool(false),
            why: "also write accepted lines to rotating files under .brum/logs; off by default \
                  so brum leaves nothing behind in a project unless asked",
        },
        KeySpec {
            name: "log_files_max",
            kind: Kind::Integer { min: 1, max: 1000 },
            default: Value::Integer(5),
            why: "rotated log files kept per process: a few recent runs for post-mortems \
                  without filling the disk",
        },
        KeySpec {
            name: "log_file_bytes",
            kind: Kind::Bytes { min: 64 * KIB, max: 16 * GIB },
            default: Value::Integer(10 * MIB),
            why: "a log file rotates at this size: small enough to open in an editor, big \
                  enough for a long session",
        },
        KeySpec {
            name: "errors_max",
            kind: Kind::Integer { min: 1, max: 100_000 },
            default: Value::Integer(500),
            why: "detected errors kept: far more than anyone reads, bounded so an error loop \
                  cannot grow memory",
        },
        KeySpec {
            name: "urls_max",
            kind: Kind::Integer { min: 1, max: 10_000 },
            default: Value::Integer(100),
            why: "detected URLs kept: every server of a large monorepo, bounded against a \
                  process that prints URLs in a loop",
        },
        KeySpec {
            name: "proxy_request_history",
            kind: Kind::Integer { min: 0, max: 1_000_000 },
            default: Value::Integer(1000),
            why: "proxied requests kept for inspection: a few minutes of a busy dev session; 0 \
                  keeps none",
        },
        KeySpec {
            name: "proxy_body_capture_bytes",
            kind: Kind::Bytes { min: 0, max: 64 * MIB },
            default: Value::Integer(16 * KIB),
            why: "bytes of each request and response body kept: enough for typical JSON \
                  payloads, not for uploads; 0 captures none",
        },
        KeySpec {
            name: "proxy_connect_timeout_ms",
            kind: Kind::Millis { min: 1, max: 600_000 },
            default: Value::Integer(5000),
            why: "a local upstream answers in milliseconds; five seconds covers a busy machine \
                  and still reports a dead port quickly",
        },
        KeySpec {
            name: "proxy_idle_timeout_ms",
            kind: Kind::Millis { min: 1000, max: 3_600_000 },
            default: Value::Integer(60_000),
            why: "idle proxied connections close after a minute, longer than browsers keep \
                  idle keep-alive connections",
        },
        KeySpec {
            name: "proxy_port_base",
            kind: Kind::Integer { min: 1024, max: 65_535 },
            default: Value::Integer(20_888),
            why: "first port the proxy allocates from: unprivileged, outside common dev-server \
                  ports and below the ephemeral range",
        },
        KeySpec {
            name: "mcp_sessions_max",
            kind: Kind::Integer { min: 1, max: 4096 },
            default: Value::Integer(64),
            why: "concurrent MCP sessions: many agents and editors at once, bounded against a \
                  client that leaks sessions",
        },
        KeySpec {
            name: "mcp_nice",
            kind: Kind::Integer { min: 0, max: 19 },
            default: Value::Integer(19),
            why: "MCP requests are served this many nice steps below brum (Linux): on a busy CPU \
                  an agent's call waits rather than the dev servers, whose pipes back up when \
                  their output is read slowly; 0 serves at brum's priority",
        },
        KeySpec {
            name: "mcp_session_timeout_ms",
            kind: Kind::Millis { min: 1000, max: 86_400_000 },
            default: Value::Integer(300_000),
            why: "an MCP session idle for five minutes is dropped; agents reconnect cheaply",
        },
        KeySpec {
            name: "mcp_tool_timeout_ms",
            kind: Kind::Millis { min: 100, max: 300_000 },
            default: Value::Integer(30_000),
            why: "how long scripts_run and scripts_restart wait for their condition (a URL, an \
                  exit, a line) when the call gives no timeout_ms; covers a server's start",
        },
        KeySpec {
            name: "tui_mailbox_capacity",
            kind: Kind::Integer { min: 1, max: 1_048_576 },
            default: Value::Integer(4096),
            why: "the TUI redraws in frames, so it may fall a few thousand events behind a \
                  flood before lines degrade",
        },
    ],
};

/// The key reference as a Markdown table, one row per key; docs/design/configuration.md embeds
/// it verbatim (a test checks).
#[cfg(test)]
pub(crate) fn markdown_reference() -> String {
    let mut out = String::new();
    for (i, section) in SECTIONS.iter().enumerate() {
        if i > 0 {
            out.push('\n');
        }
        out.push_str(&format!("### `[{}]`\n\n", section.name));
        out.push_str("| key | default | accepted | why this default |\n");
        out.push_str("| --- | --- | --- | --- |\n");
        for key in section.keys {
            out.push_str(&format!(
                "| `{}` | `{}` | {} | {} |\n",
                key.name,
                key.default.to_toml(key.kind),
                key.kind.range().replace('|', "\\|"),
                key.why
            ));
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeSet;

    use super::*;
    use crate::bus::Backpressure;

    fn in_range(kind: Kind, value: Value) -> bool {
        match (kind, value) {
            (
                Kind::Integer { min, max }
                | Kind::Millis { min, max }
                | Kind::Bytes { min, max }
                | Kind::AutoOrInteger { min, max, .. },
                Value::Integer(n),
            ) => (min..=max).contains(&n),
            (Kind::Choice { allowed }, Value::Choice(s)) => allowed.contains(&s),
            (Kind::AutoOrInteger { .. }, Value::Auto)
            | (Kind::Bool, Value::Bool(_))
            | (Kind::Secret, Value::Secret(_)) => true,
            _ => false,
        }
    }

    #[test]
    fn every_default_is_accepted_by_its_kind() {
        for section in SECTIONS {
            for key in section.keys {
                assert!(in_range(key.kind, key.default), "default of `{}` is invalid", key.name);
                assert!(!key.why.is_empty() && !key.why.contains('\n'), "`{}` needs a one-line why", key.name);
            }
        }
    }

    #[test]
    fn key_and_section_names_are_unique() {
        let sections: BTreeSet<_> = SECTIONS.iter().map(|s| s.name).collect();
        assert_eq!(sections.len(), SECTIONS.len());
        for section in SECTIONS {
            let keys: BTreeSet<_> = section.keys.iter().map(|k| k.name).collect();
            assert_eq!(keys.len(), section.keys.len(), "duplicate key in [{}]", section.name);
        }
    }

    #[test]
    fn concurrency_has_the_documented_keys() {
        let names: Vec<_> = CONCURRENCY.keys.iter().map(|k| k.name).collect();
        assert_eq!(names.len(), 30);
        assert_eq!(names.first(), Some(&"bus_workers"));
        assert_eq!(names.last(), Some(&"tui_mailbox_capacity"));
    }

    #[test]
    fn the_tool_timeout_goes_as_far_as_a_call_may_wait() {
        let key = CONCURRENCY.keys.iter().find(|k| k.name == "mcp_tool_timeout_ms").expect("the key");
        assert!(matches!(key.kind, Kind::Millis { max, .. } if max == crate::mcp::WAIT_TIMEOUT_MAX_MS));
    }

    #[test]
    fn package_manager_names_match_discovery() {
        let managers: Vec<_> = crate::discovery::PackageManager::ALL.iter().map(|m| m.name()).collect();
        assert_eq!(&PACKAGE_MANAGER_NAMES[1..], managers.as_slice());
        assert_eq!(PACKAGE_MANAGER_NAMES[0], "auto");
    }

    #[test]
    fn restart_names_match_the_policy() {
        use crate::script::RestartPolicy;
        let policies: Vec<_> =
            [RestartPolicy::Never, RestartPolicy::OnFailure, RestartPolicy::Always].iter().map(|p| p.name()).collect();
        assert_eq!(RESTART_NAMES, policies.as_slice());
        for name in RESTART_NAMES {
            assert_eq!(RestartPolicy::parse(name).map(RestartPolicy::name), Some(*name));
        }
    }

    #[test]
    fn leftovers_names_match_the_supervisor() {
        use crate::supervisor::Leftovers;
        let names: Vec<_> = [Leftovers::Stop, Leftovers::Keep].iter().map(|l| l.name()).collect();
        assert_eq!(LEFTOVERS_NAMES, names.as_slice());
        for name in LEFTOVERS_NAMES {
            assert_eq!(Leftovers::parse(name).map(Leftovers::name), Some(*name));
        }
    }

    #[test]
    fn backpressure_names_match_the_bus() {
        let bus: Vec<_> = Backpressure::ALL.iter().map(|b| b.name()).collect();
        assert_eq!(BACKPRESSURE_NAMES, bus.as_slice());
    }

    #[test]
    fn ranges_read_like_the_docs() {
        assert_eq!(Kind::Integer { min: 1, max: 64 }.range(), "1..=64");
        assert_eq!(Kind::Millis { min: 0, max: 600_000 }.range(), "0..=600000 ms");
        assert_eq!(Kind::Bytes { min: MIB, max: 16 * GIB }.range(), "1MiB..=16GiB");
        assert_eq!(Kind::AutoOrInteger { min: 1, max: 64, auto: |c| c }.range(), "\"auto\" or 1..=64");
        assert_eq!(Kind::Choice { allowed: &["a", "b"] }.range(), "a | b");
    }

    #[test]
    fn design_doc_embeds_the_current_key_reference() {
        let doc = include_str!("../../../docs/design/configuration.md");
        let reference = markdown_reference();
        assert!(
            doc.contains(&reference),
            "docs/design/configuration.md is out of date; paste this reference into it:\n{reference}"
        );
    }
}
