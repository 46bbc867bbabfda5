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

use serde_json::{Map, Value};

use crate::rt::Runtime;
use crate::session::SessionHandle;

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

/// The tools over one session. Cheap to clone: one per client connection.
#[derive(Debug, Clone)]
pub struct Tools<R: Runtime> {
    session: SessionHandle<R>,
    info: ServerInfo,
}

impl<R: Runtime> Tools<R> {
    pub fn new(session: SessionHandle<R>, info: ServerInfo) -> Self {
        Tools { session, info }
    }

    /// Every tool, in a fixed order.
    pub fn specs(&self) -> Vec<ToolSpec> {
        Vec::new()
    }

    /// Runs tool `name` with `args`.
    pub async fn call(&self, name: &str, args: Map<String, Value>) -> Result<ToolOutput, CallError> {
        let _ = (&self.session, &self.info, args);
        Err(CallError::UnknownTool { name: name.to_string(), suggestion: None })
    }
}
