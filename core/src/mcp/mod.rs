//! brum's MCP tools, resources and prompts over the session: their names, argument and result
//! types, and behaviour. The protocol (JSON-RPC, Streamable HTTP, stdio, sessions) is the rmcp
//! adapter's in the CLI; everything an agent can ask of brum is decided here, so a simulation
//! can call the tools directly under a simulated runtime.
//!
//! The adapter's whole interface:
//! - [`Tools::specs`]: each tool's name, description, input and output JSON Schemas;
//! - [`Tools::call`]: runs a tool on a JSON object of arguments. A protocol problem (an unknown
//!   tool, arguments that do not fit the schema) is a [`CallError`], which the adapter answers
//!   with a JSON-RPC error; anything else, including a tool that failed (no such script), is a
//!   [`ToolOutput`] with `is_error` set and a text that says what to do next.

mod args;
mod resources;
mod schema;
mod tools;
mod wait;

#[cfg(test)]
mod tests;

use std::path::PathBuf;
use std::sync::Arc;

use serde_json::{Map, Value};

use crate::discovery::ProjectFs;
use crate::rt::Runtime;
use crate::session::SessionHandle;

pub use resources::{
    CHANGES_PENDING_MAX, Change, Changes, PromptArgument, PromptSpec, ResourceContent, ResourceError, ResourceSpec,
    ResourceTemplateSpec,
};
pub use tools::{
    CODE_FRAME_CONTEXT, CODE_FRAME_FILE_BYTES_MAX, CodeFrame, FOLLOW_TIMEOUT_DEFAULT, WAIT_TIMEOUT_DEFAULT,
    WAIT_TIMEOUT_MAX_MS, code_frame,
};
pub use wait::{WAIT_MAILBOX, WAIT_QUEUE_MAX};

/// Every tool's name, in the order `tools/list` shows them.
pub const TOOL_NAMES: [&str; 11] = [
    "scripts_list",
    "scripts_run",
    "scripts_stop",
    "scripts_restart",
    "scripts_status",
    "logs_stream",
    "logs_search",
    "errors_list",
    "errors_clear",
    "urls_list",
    "about",
];

/// A tool as `tools/list` shows it.
#[derive(Debug, Clone, PartialEq)]
pub struct ToolSpec {
    pub name: &'static str,
    pub title: &'static str,
    pub description: &'static str,
    /// A JSON Schema object (`"type": "object"`).
    pub input_schema: Map<String, Value>,
    /// A JSON Schema object describing `ToolOutput::structured`.
    pub output_schema: Map<String, Value>,
}

/// A tool's answer: structured content, its text mirror, and whether the tool failed.
#[derive(Debug, Clone, PartialEq)]
pub struct ToolOutput {
    pub structured: Value,
    pub text: String,
    pub is_error: bool,
}

impl ToolOutput {
    pub fn ok(structured: Value, text: String) -> Self {
        ToolOutput { structured, text, is_error: false }
    }

    /// A failed call: `text` says what was wrong and what to do next; the structured content
    /// is `{"error": text}`.
    pub fn error(text: impl Into<String>) -> Self {
        let text = text.into();
        ToolOutput { structured: serde_json::json!({ "error": text }), text, is_error: true }
    }
}

/// A call the protocol itself must refuse.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum CallError {
    #[error("unknown tool `{name}`{}", suggestion.as_ref().map(|s| format!("; did you mean `{s}`?")).unwrap_or_default())]
    UnknownTool { name: String, suggestion: Option<String> },
    #[error("invalid arguments for `{tool}`: {message}")]
    InvalidParams { tool: String, message: String },
}

/// What `about` reports of the server around the tools (set by the front end).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ServerInfo {
    pub version: String,
    pub project: String,
    /// `http://127.0.0.1:7777/mcp`, when served over HTTP.
    pub mcp_url: Option<String>,
    pub proxy_url: Option<String>,
}

/// Reads source files for code frames (`errors_list`): the CLI passes the real file system,
/// tests an in-memory one. Only files under the project root are read.
pub type SourceReader = Arc<dyn ProjectFs + Send + Sync>;

/// Counter `mcp.http_refused{reason}`: what an HTTP front end refused before it reached MCP, by
/// reason (the labels below). The front end counts in the runtime's registry; `about` reports.
pub const HTTP_REFUSED: &str = "mcp.http_refused";

/// The reasons of [`HTTP_REFUSED`]: a foreign Host, a foreign Origin, a missing or wrong token,
/// a body over the limit, an `initialize` over `mcp_sessions_max`, a connection over the limit.
pub const HTTP_REFUSAL_REASONS: [&str; 6] = ["host", "origin", "token", "too_large", "sessions_full", "connections"];

/// The tools over one session. Cheap to clone: one per client connection.
#[derive(Clone)]
pub struct Tools<R: Runtime> {
    session: SessionHandle<R>,
    info: ServerInfo,
    /// Where code frames come from, and the project root they must be under.
    source: Option<(SourceReader, PathBuf)>,
    /// `scripts_run` may run a `command` the client sent (the user's config allows it).
    allow_adhoc: bool,
    /// How long `scripts_run` and `scripts_restart` wait when the call gives no `timeout_ms`
    /// (`mcp_tool_timeout_ms`).
    wait_default: std::time::Duration,
}

impl<R: Runtime> std::fmt::Debug for Tools<R> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Tools")
            .field("info", &self.info)
            .field("allow_adhoc", &self.allow_adhoc)
            .finish_non_exhaustive()
    }
}

impl<R: Runtime> Tools<R> {
    pub fn new(session: SessionHandle<R>, info: ServerInfo) -> Self {
        Tools { session, info, source: None, allow_adhoc: false, wait_default: WAIT_TIMEOUT_DEFAULT }
    }

    /// Code frames in `errors_list`: source files under `root`, read through `reader`.
    pub fn with_source(mut self, reader: SourceReader, root: PathBuf) -> Self {
        self.source = Some((reader, root));
        self
    }

    /// Lets `scripts_run` run a shell `command` sent by the client. Off unless the user's
    /// configuration says so: an agent should run the project's scripts, not arbitrary code.
    pub fn allow_adhoc(mut self, allow: bool) -> Self {
        self.allow_adhoc = allow;
        self
    }

    /// How long a wait lasts when the call gives no `timeout_ms` (the user's
    /// `mcp_tool_timeout_ms`; [`WAIT_TIMEOUT_DEFAULT`] otherwise). At most
    /// [`WAIT_TIMEOUT_MAX_MS`].
    pub fn wait_default(mut self, wait: std::time::Duration) -> Self {
        self.wait_default = wait.min(std::time::Duration::from_millis(WAIT_TIMEOUT_MAX_MS));
        self
    }

    pub fn session(&self) -> &SessionHandle<R> {
        &self.session
    }

    pub fn info(&self) -> &ServerInfo {
        &self.info
    }

    /// Every tool, in a fixed order ([`TOOL_NAMES`]).
    pub fn specs(&self) -> Vec<ToolSpec> {
        schema::specs(self)
    }

    /// Runs tool `name` with `args`. Cancel-safe: dropping the future mid-wait leaves no
    /// subscription behind.
    pub async fn call(&self, name: &str, args: Map<String, Value>) -> Result<ToolOutput, CallError> {
        match name {
            "scripts_list" => self.scripts_list(&args),
            "scripts_run" => self.scripts_run(&args).await,
            "scripts_stop" => self.scripts_stop(&args).await,
            "scripts_restart" => self.scripts_restart(&args).await,
            "scripts_status" => self.scripts_status(&args),
            "logs_stream" => self.logs_stream(&args).await,
            "logs_search" => self.logs_search(&args),
            "errors_list" => self.errors_list(&args),
            "errors_clear" => self.errors_clear(&args),
            "urls_list" => self.urls_list(&args),
            "about" => self.about(&args),
            other => Err(CallError::UnknownTool {
                name: other.to_string(),
                suggestion: crate::discovery::suggest_script(&TOOL_NAMES, other).into_iter().next(),
            }),
        }
    }
}
