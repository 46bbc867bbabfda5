//! rmcp's [`ServerHandler`] over brum's tools: every MCP method brum answers is mapped here onto
//! [`brum_core::mcp::Tools`], which decides what the tools are and do. Nothing in this file
//! knows a tool by name.

use std::sync::Arc;

use brum_core::mcp::{CallError, ToolOutput, ToolSpec, Tools};
use rmcp::model::{
    CallToolRequestParams, CallToolResponse, CallToolResult, ContentBlock, Implementation, ListToolsResult,
    PaginatedRequestParams, ServerCapabilities, ServerConfig, Tool,
};
use rmcp::service::RequestContext;
use rmcp::{ErrorData, RoleServer, ServerHandler};
use serde_json::json;

use crate::rt::TokioRuntime;

/// How long a client may cache `tools/list` (2026-07-28 `ttlMs`): the catalogue of tools is
/// fixed for the life of the server, and a change would be announced by `list_changed`.
const TOOLS_LIST_TTL_MS: u64 = 60_000;

/// What brum tells a client about itself in `initialize` and `server/discover`.
const INSTRUCTIONS: &str = "brum runs this project's dev scripts. Start one with scripts_run \
(wait_for: url to get its URL), read output with logs_stream and logs_search, and see errors \
with their stacks with errors_list. scripts_list shows every script.";

/// One client's view of the server: cheap to clone, one per MCP session.
#[derive(Clone)]
pub(crate) struct Handler {
    tools: Tools<TokioRuntime>,
    /// `tools/list`'s answer, built once from [`Tools::specs`].
    listed: Arc<[Tool]>,
    version: String,
}

impl Handler {
    pub(crate) fn new(tools: Tools<TokioRuntime>, version: &str) -> Handler {
        let listed = tools.specs().into_iter().map(tool_of).collect();
        Handler { tools, listed, version: version.to_string() }
    }
}

/// A core tool spec as rmcp lists it.
fn tool_of(spec: ToolSpec) -> Tool {
    Tool::new(spec.name, spec.description, Arc::new(spec.input_schema))
        .with_title(spec.title)
        .with_raw_output_schema(Arc::new(spec.output_schema))
}

/// A tool's answer as a `tools/call` result: the structured content, the same as text for
/// clients that read only text, and `isError` for a tool that failed.
pub(crate) fn result_of(out: ToolOutput) -> CallToolResult {
    let text = vec![ContentBlock::text(out.text)];
    let mut result = if out.is_error { CallToolResult::error(text) } else { CallToolResult::success(text) };
    // Peers before 2026-07-28 accept objects only (rmcp drops anything else for them).
    if !out.structured.is_null() {
        result.structured_content = Some(out.structured);
    }
    result
}

/// A call the protocol refuses, as its JSON-RPC error: both kinds are `-32602` (invalid
/// params), which is what the MCP specification gives for an unknown tool too; `data` names the
/// tool and, for a misspelt one, the closest name.
pub(crate) fn error_of(e: CallError) -> ErrorData {
    let data = match &e {
        CallError::UnknownTool { name, suggestion } => json!({ "tool": name, "suggestion": suggestion }),
        CallError::InvalidParams { tool, .. } => json!({ "tool": tool }),
    };
    ErrorData::invalid_params(e.to_string(), Some(data))
}

impl ServerHandler for Handler {
    fn get_info(&self) -> ServerConfig {
        let mut info = ServerConfig::new(ServerCapabilities::builder().enable_tools().build());
        info.server_info = Implementation::new("brum", self.version.clone());
        info.instructions = Some(INSTRUCTIONS.to_string());
        info
    }

    async fn list_tools(
        &self,
        request: Option<PaginatedRequestParams>,
        _context: RequestContext<RoleServer>,
    ) -> Result<ListToolsResult, ErrorData> {
        // One page holds every tool, so no cursor brum hands out exists to come back.
        if let Some(cursor) = request.and_then(|r| r.cursor) {
            return Err(ErrorData::invalid_params(
                format!("invalid cursor {cursor:?}: tools/list has a single page; call it without a cursor"),
                None,
            ));
        }
        Ok(ListToolsResult::with_all_items(self.listed.to_vec()).with_ttl_ms(TOOLS_LIST_TTL_MS))
    }

    async fn call_tool(
        &self,
        request: CallToolRequestParams,
        _context: RequestContext<RoleServer>,
    ) -> Result<CallToolResponse, ErrorData> {
        let args = request.arguments.unwrap_or_default();
        match self.tools.call(&request.name, args).await {
            Ok(out) => Ok(result_of(out).into()),
            Err(e) => Err(error_of(e)),
        }
    }
}

#[cfg(test)]
mod tests {
    use serde_json::Value;

    use super::*;

    #[test]
    fn a_failed_tool_is_an_error_result_with_its_text_and_structure() {
        let out = ToolOutput {
            structured: json!({ "error": "no script named 'dve'" }),
            text: "no script named 'dve'; did you mean 'dev'?".into(),
            is_error: true,
        };
        let r = serde_json::to_value(result_of(out)).expect("serializable");
        assert_eq!(r["isError"], Value::Bool(true));
        assert_eq!(r["content"][0]["text"], "no script named 'dve'; did you mean 'dev'?");
        assert_eq!(r["structuredContent"]["error"], "no script named 'dve'");
    }

    #[test]
    fn an_unknown_tool_is_invalid_params_naming_the_tool_and_the_closest_name() {
        let e =
            error_of(CallError::UnknownTool { name: "scripts_lst".into(), suggestion: Some("scripts_list".into()) });
        assert_eq!(e.code.0, -32602);
        assert!(e.message.contains("scripts_lst"), "{}", e.message);
        assert_eq!(e.data.expect("data")["suggestion"], "scripts_list");
    }
}
