//! [`Settings`]: the effective value of every key and where it came from.

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::time::Duration;

use super::error::{ConfigError, ConfigProblem};
use super::load::check_layer;
use super::processes::ProcessDecl;
use super::schema::{KeySpec, SECTIONS, Value};
use crate::bus::{Backpressure, BusConfig};
use crate::logs::LogStoreConfig;

/// One config file's contents. Core does no I/O: the caller reads the files.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Layer {
    /// Where the text came from; used in sources and error messages only.
    pub path: PathBuf,
    pub text: String,
}

/// Where a setting's effective value came from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Source {
    /// No file set the key.
    Default,
    /// The last file that set the key, and the 1-based line of the key.
    File { path: PathBuf, line: usize },
}

/// One key's effective value.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Setting {
    pub(crate) value: Value,
    pub(crate) source: Source,
}

/// The effective configuration: every key of every section, from defaults and layered files.
///
/// Built only by [`Settings::defaults`] and [`Settings::from_layers`], so every key of the
/// schema is present and its value is within the key's range.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Settings {
    /// Keyed by (section, key), both from the schema.
    values: BTreeMap<(&'static str, &'static str), Setting>,
    /// `[processes.NAME]` by name; a later layer's table replaces an earlier one's whole.
    processes: BTreeMap<String, ProcessDecl>,
}

impl Default for Settings {
    fn default() -> Self {
        Self::defaults()
    }
}

impl Settings {
    /// Every key at its default.
    pub fn defaults() -> Settings {
        let values = SECTIONS
            .iter()
            .flat_map(|section| section.keys.iter().map(move |key| (section.name, key)))
            .map(|(section, key)| ((section, key.name), Setting { value: key.default, source: Source::Default }))
            .collect();
        Settings { values, processes: BTreeMap::new() }
    }

    /// Applies `layers` in order over the defaults; a later layer overrides an earlier one key by
    /// key, and a process table by name (the whole table). Every layer is checked in full: the
    /// error lists every problem of every file, and on error nothing is applied.
    pub fn from_layers(layers: &[Layer]) -> Result<Settings, ConfigError> {
        let mut settings = Settings::defaults();
        let mut problems: Vec<ConfigProblem> = Vec::new();
        for layer in layers {
            let mut layer_problems = Vec::new();
            let checked = check_layer(layer, &mut layer_problems);
            // Stable sort: problems on one line keep their discovery order.
            layer_problems.sort_by_key(|p| p.line());
            problems.extend(layer_problems);
            for a in checked.assignments {
                let source = Source::File { path: layer.path.clone(), line: a.line };
                settings.values.insert((a.section, a.key.name), Setting { value: a.value, source });
            }
            for process in checked.processes {
                settings.processes.insert(process.name.clone(), process);
            }
        }
        if problems.is_empty() { Ok(settings) } else { Err(ConfigError::Invalid { problems }) }
    }

    /// Where the effective value of `section.key` came from; `None` for a key not in the schema.
    pub fn source(&self, section: &str, key: &str) -> Option<&Source> {
        self.values.iter().find(|((s, k), _)| *s == section && *k == key).map(|(_, setting)| &setting.source)
    }

    pub(crate) fn setting(&self, section: &'static str, key: &KeySpec) -> &Setting {
        self.values
            .get(&(section, key.name))
            .unwrap_or_else(|| panic!("Settings lacks `{section}.{}`: every schema key gets a default", key.name))
    }

    fn concurrency(&self, key: &'static str) -> Value {
        match self.values.get(&("concurrency", key)) {
            Some(setting) => setting.value,
            None => panic!("Settings lacks `concurrency.{key}`: a getter names a key the schema does not have"),
        }
    }

    /// An integer-valued key (count, milliseconds or bytes).
    fn integer(&self, key: &'static str) -> u64 {
        match self.concurrency(key) {
            Value::Integer(n) => n,
            other => panic!("`concurrency.{key}` holds {other:?}; its schema kind is numeric"),
        }
    }

    fn count<T: TryFrom<u64>>(&self, key: &'static str) -> T {
        let n = self.integer(key);
        T::try_from(n).unwrap_or_else(|_| {
            panic!(
                "`concurrency.{key}` = {n} does not fit {}; its schema range is too wide",
                std::any::type_name::<T>()
            )
        })
    }

    fn millis(&self, key: &'static str) -> Duration {
        Duration::from_millis(self.integer(key))
    }

    /// Handler workers of the bus: the configured number, or for `"auto"`
    /// [`BusConfig::default_workers`] of `cores`.
    pub fn bus_workers(&self, cores: usize) -> usize {
        match self.concurrency("bus_workers") {
            // The schema's `auto` for this key is the same function (a test checks).
            Value::Auto => BusConfig::default_workers(cores),
            Value::Integer(_) => self.count("bus_workers"),
            other => panic!("`concurrency.bus_workers` holds {other:?}; its schema kind is auto-or-integer"),
        }
    }

    /// The bus's configuration, resolving `bus_workers = "auto"` for `cores`.
    pub fn bus_config(&self, cores: usize) -> BusConfig {
        let backpressure = match self.concurrency("bus_backpressure") {
            Value::Choice(name) => name.parse::<Backpressure>().unwrap_or_else(|()| {
                panic!("`concurrency.bus_backpressure` = {name:?} is in the schema but not a Backpressure")
            }),
            other => panic!("`concurrency.bus_backpressure` holds {other:?}; its schema kind is a choice"),
        };
        BusConfig {
            workers: self.bus_workers(cores),
            mailbox_capacity: self.count("bus_mailbox_capacity"),
            backpressure,
            block_timeout: self.millis("bus_block_timeout_ms"),
            drain_timeout: self.millis("bus_drain_timeout_ms"),
            batch: self.count("bus_batch"),
        }
    }

    /// Processes started at once.
    pub fn process_start_concurrency(&self) -> usize {
        self.count("process_start_concurrency")
    }

    /// Time between SIGTERM and SIGKILL.
    pub fn process_stop_grace(&self) -> Duration {
        self.millis("process_stop_grace_ms")
    }

    /// Consecutive restarts before giving up; 0 disables restarts.
    pub fn process_restart_max(&self) -> u32 {
        self.count("process_restart_max")
    }

    /// First restart delay (doubled per retry).
    pub fn process_restart_backoff(&self) -> Duration {
        self.millis("process_restart_backoff_ms")
    }

    /// Cap on the restart delay.
    pub fn process_restart_backoff_max(&self) -> Duration {
        self.millis("process_restart_backoff_max_ms")
    }

    /// Bytes of log output kept in memory.
    pub fn log_store_bytes(&self) -> u64 {
        self.integer("log_store_bytes")
    }

    /// Log lines coalesced into one bus event.
    pub fn log_batch_lines(&self) -> usize {
        self.count("log_batch_lines")
    }

    /// Longer log lines are truncated.
    pub fn log_max_line_bytes(&self) -> u64 {
        self.integer("log_max_line_bytes")
    }

    /// The log store's configuration: `log_store_bytes` and `log_max_line_bytes`.
    pub fn log_store_config(&self) -> LogStoreConfig {
        LogStoreConfig { budget_bytes: self.log_store_bytes(), max_line_bytes: self.count("log_max_line_bytes") }
    }

    /// Whether accepted lines are also written to rotating files under `.brum/logs`.
    pub fn log_persist(&self) -> bool {
        match self.concurrency("log_persist") {
            Value::Bool(b) => b,
            other => panic!("`concurrency.log_persist` holds {other:?}; its schema kind is a boolean"),
        }
    }

    /// Rotated log files kept per process.
    pub fn log_files_max(&self) -> usize {
        self.count("log_files_max")
    }

    /// Size at which a log file rotates.
    pub fn log_file_bytes(&self) -> u64 {
        self.integer("log_file_bytes")
    }

    /// Detected errors kept.
    pub fn errors_max(&self) -> usize {
        self.count("errors_max")
    }

    /// Detected URLs kept.
    pub fn urls_max(&self) -> usize {
        self.count("urls_max")
    }

    /// Proxied requests kept for inspection.
    pub fn proxy_request_history(&self) -> usize {
        self.count("proxy_request_history")
    }

    /// Bytes of each proxied body kept.
    pub fn proxy_body_capture_bytes(&self) -> u64 {
        self.integer("proxy_body_capture_bytes")
    }

    /// Timeout for connecting to an upstream.
    pub fn proxy_connect_timeout(&self) -> Duration {
        self.millis("proxy_connect_timeout_ms")
    }

    /// Idle proxied connections close after this.
    pub fn proxy_idle_timeout(&self) -> Duration {
        self.millis("proxy_idle_timeout_ms")
    }

    /// First port the proxy allocates from.
    pub fn proxy_port_base(&self) -> u16 {
        self.count("proxy_port_base")
    }

    /// `[mcp] allow_adhoc`: MCP clients may run shell commands of their own (`scripts_run`
    /// with `command`).
    pub fn mcp_allow_adhoc(&self) -> bool {
        match self.values.get(&("mcp", "allow_adhoc")) {
            Some(Setting { value: Value::Bool(b), .. }) => *b,
            other => panic!("`mcp.allow_adhoc` holds {other:?}; its schema kind is a boolean"),
        }
    }

    /// `[mcp] token`: the bearer token MCP clients must send over HTTP; `None` when unset.
    pub fn mcp_token(&self) -> Option<&'static str> {
        match self.values.get(&("mcp", "token")) {
            Some(Setting { value: Value::Secret(t), .. }) => Some(*t).filter(|t| !t.is_empty()),
            other => panic!("`mcp.token` holds {other:?}; its schema kind is a secret"),
        }
    }

    /// Concurrent MCP sessions.
    pub fn mcp_sessions_max(&self) -> usize {
        self.count("mcp_sessions_max")
    }

    /// How many nice steps below brum the threads serving MCP requests run (Linux).
    pub fn mcp_nice(&self) -> i32 {
        self.count("mcp_nice")
    }

    /// Idle MCP sessions are dropped after this.
    pub fn mcp_session_timeout(&self) -> Duration {
        self.millis("mcp_session_timeout_ms")
    }

    /// An MCP tool call fails after this.
    pub fn mcp_tool_timeout(&self) -> Duration {
        self.millis("mcp_tool_timeout_ms")
    }

    /// What happens to processes a script leaves running in its group when it ends.
    pub fn process_leftovers(&self) -> crate::supervisor::Leftovers {
        match self.concurrency("process_leftovers") {
            Value::Choice(name) => crate::supervisor::Leftovers::parse(name).unwrap_or_else(|| {
                panic!("`concurrency.process_leftovers` = {name:?} is in the schema but not a Leftovers")
            }),
            other => panic!("`concurrency.process_leftovers` holds {other:?}; its schema kind is a choice"),
        }
    }

    /// `[discovery] package_manager`: a package manager name, or `None` for `"auto"` (detect).
    pub fn package_manager(&self) -> Option<&'static str> {
        match self.values.get(&("discovery", "package_manager")).map(|s| s.value) {
            Some(Value::Choice("auto")) => None,
            Some(Value::Choice(name)) => Some(name),
            other => panic!("`discovery.package_manager` holds {other:?}; its schema kind is a choice"),
        }
    }

    /// The processes declared in `[processes.NAME]` tables, by name.
    pub fn processes(&self) -> impl Iterator<Item = &ProcessDecl> {
        self.processes.values()
    }

    /// Capacity of the TUI's bus mailbox, in events.
    pub fn tui_mailbox_capacity(&self) -> usize {
        self.count("tui_mailbox_capacity")
    }
}
