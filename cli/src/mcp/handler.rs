//! rmcp's [`ServerHandler`] over brum's tools: every MCP method brum answers is mapped here onto
//! [`brum_core::mcp::Tools`], which decides what the tools are and do. Nothing in this file
//! knows a tool by name.

use std::collections::BTreeSet;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use brum_core::mcp::CallError;
use brum_core::mcp::{Change, Changes, ResourceError, ToolOutput, ToolSpec, Tools};
use rmcp::model::{
    CallToolRequestParams, CallToolResponse, CallToolResult, ContentBlock, GetPromptRequestParams, GetPromptResponse,
    GetPromptResult, Implementation, ListPromptsResult, ListResourceTemplatesResult, ListResourcesResult,
    ListToolsResult, PaginatedRequestParams, Prompt, PromptArgument, PromptMessage, ReadResourceRequestParams,
    ReadResourceResponse, ReadResourceResult, Resource, ResourceContents, ResourceTemplate,
    ResourceUpdatedNotificationParam, Role, ServerCapabilities, ServerConfig, SubscribeRequestParams,
    SubscriptionFilter, Tool, UnsubscribeRequestParams,
};
use rmcp::service::{NotificationContext, RequestContext, SubscriptionContext};
use rmcp::{ErrorData, Peer, RoleServer, ServerHandler};
use serde_json::json;
use tokio::sync::watch;

use crate::rt::TokioRuntime;

/// How long a client may cache a list (2026-07-28 `ttlMs`): the lists change only with the
/// script catalogue, which is announced by `list_changed`; a minute bounds a missed one.
const LIST_TTL_MS: u64 = 60_000;

/// How long one change notification may take to go out before it is dropped (and counted in
/// [`NotifyStats::dropped`]): a client that does not read its stream must not hold a task
/// forever, and a notification is only a hint to re-read.
const NOTIFY_SEND_TIMEOUT: Duration = Duration::from_secs(5);

/// Resources one legacy session may subscribe to: one per script's logs plus errors and URLs;
/// far above any project's script count, and a bound on a client that subscribes in a loop.
const SUBSCRIPTIONS_MAX: usize = 1024;

/// What brum tells a client about itself in `initialize` and `server/discover`.
const INSTRUCTIONS: &str = "brum runs this project's dev scripts. Start one with scripts_run \
(wait_for: url to get its URL), read output with logs_stream and logs_search, and see errors \
with their stacks with errors_list. scripts_list shows every script.";

/// Change notifications not sent, across every session.
#[derive(Debug, Default)]
pub(crate) struct NotifyStats {
    pub(crate) dropped: AtomicU64,
}

/// One client's view of the server. [`Handler::for_session`] gives each MCP session (and each
/// stateless request) its own: its resource subscriptions, and a signal, sent when rmcp drops
/// the session's handler, that ends the session's notification task.
#[derive(Clone)]
pub(crate) struct Handler {
    tools: Tools<TokioRuntime>,
    version: String,
    stats: Arc<NotifyStats>,
    session: Arc<SessionState>,
}

struct SessionState {
    /// `resources/subscribe`d URIs (legacy era). Never held across an await.
    subscribed: Arc<Mutex<BTreeSet<String>>>,
    /// Dropped with the session's last handler: the notification task then ends.
    alive: watch::Sender<()>,
}

impl SessionState {
    fn new() -> Arc<SessionState> {
        Arc::new(SessionState { subscribed: Arc::default(), alive: watch::channel(()).0 })
    }
}

impl Handler {
    pub(crate) fn new(tools: Tools<TokioRuntime>, version: &str) -> Handler {
        Handler { tools, version: version.to_string(), stats: Arc::default(), session: SessionState::new() }
    }

    /// A handler for a new MCP session: the same tools, its own session state.
    pub(crate) fn for_session(&self) -> Handler {
        Handler { session: SessionState::new(), ..self.clone() }
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

/// A resource or prompt that does not exist: resource-not-found (rmcp sends -32602 to
/// 2026-07-28 peers, -32002 to older ones) or invalid params.
fn resource_error_of(e: ResourceError) -> ErrorData {
    match &e {
        ResourceError::NotFound { uri, .. } => {
            ErrorData::resource_not_found(e.to_string(), Some(json!({ "uri": uri })))
        }
        ResourceError::UnknownPrompt { .. } | ResourceError::InvalidArgument { .. } => {
            ErrorData::invalid_params(e.to_string(), None)
        }
    }
}

/// Pagination: every list is one page, so no cursor brum hands out exists to come back.
fn no_cursor(request: Option<PaginatedRequestParams>, what: &str) -> Result<(), ErrorData> {
    match request.and_then(|r| r.cursor) {
        Some(cursor) => Err(ErrorData::invalid_params(
            format!("invalid cursor {cursor:?}: {what} has a single page; call it without a cursor"),
            None,
        )),
        None => Ok(()),
    }
}

/// Sends one notification, or gives up after [`NOTIFY_SEND_TIMEOUT`]; false once the peer is
/// gone.
async fn send_within<E>(stats: &NotifyStats, send: impl Future<Output = Result<(), E>>) -> bool {
    match tokio::time::timeout(NOTIFY_SEND_TIMEOUT, send).await {
        Ok(Ok(())) => true,
        Ok(Err(_)) => false,
        Err(_) => {
            stats.dropped.fetch_add(1, Ordering::Relaxed);
            true
        }
    }
}

/// A legacy session's notifications: the change feed, onto the session's GET stream, until
/// the session ends or the peer goes.
async fn notify_legacy(
    mut changes: Changes<TokioRuntime>,
    peer: Peer<RoleServer>,
    subscribed: Arc<Mutex<BTreeSet<String>>>,
    mut alive: watch::Receiver<()>,
    stats: Arc<NotifyStats>,
) {
    loop {
        let batch = tokio::select! {
            biased;
            _ = alive.changed() => return,
            batch = changes.next() => batch,
        };
        for change in batch {
            let sent = match change {
                Change::ToolsListChanged => send_within(&stats, peer.notify_tool_list_changed()).await,
                Change::ResourcesListChanged => send_within(&stats, peer.notify_resource_list_changed()).await,
                Change::ResourceUpdated(uri) => {
                    let wanted = subscribed.lock().unwrap_or_else(|e| e.into_inner()).contains(&uri);
                    !wanted
                        || send_within(&stats, peer.notify_resource_updated(ResourceUpdatedNotificationParam::new(uri)))
                            .await
                }
            };
            if !sent {
                return;
            }
        }
    }
}

impl ServerHandler for Handler {
    fn get_info(&self) -> ServerConfig {
        let capabilities = ServerCapabilities::builder()
            .enable_prompts()
            .enable_resources()
            .enable_resources_list_changed()
            .enable_resources_subscribe()
            .enable_tools()
            .enable_tool_list_changed()
            .build();
        let mut info = ServerConfig::new(capabilities);
        info.server_info = Implementation::new("brum", self.version.clone());
        info.instructions = Some(INSTRUCTIONS.to_string());
        info
    }

    async fn on_initialized(&self, context: NotificationContext<RoleServer>) {
        // Legacy sessions only (2026-07-28 clients use subscriptions/listen).
        let Ok(changes) = self.tools.changes() else { return };
        let alive = self.session.alive.subscribe();
        tokio::spawn(notify_legacy(changes, context.peer, self.session.subscribed.clone(), alive, self.stats.clone()));
    }

    async fn list_tools(
        &self,
        request: Option<PaginatedRequestParams>,
        _context: RequestContext<RoleServer>,
    ) -> Result<ListToolsResult, ErrorData> {
        no_cursor(request, "tools/list")?;
        // Built per call: `scripts_run`'s schema lists the scripts, which change.
        let tools = self.tools.specs().into_iter().map(tool_of).collect();
        Ok(ListToolsResult::with_all_items(tools).with_ttl_ms(LIST_TTL_MS))
    }

    async fn call_tool(
        &self,
        request: CallToolRequestParams,
        context: RequestContext<RoleServer>,
    ) -> Result<CallToolResponse, ErrorData> {
        let args = request.arguments.unwrap_or_default();
        // rmcp cancels the token when the client sends `notifications/cancelled` or goes away
        // mid-call; the call (a wait, a follow) ends then rather than at its timeout.
        let called = tokio::select! {
            biased;
            () = context.ct.cancelled() => {
                return Err(ErrorData::internal_error(format!("the call to {} was cancelled", request.name), None));
            }
            called = self.tools.call(&request.name, args) => called,
        };
        match called {
            Ok(out) => Ok(result_of(out).into()),
            Err(e) => Err(error_of(e)),
        }
    }

    async fn list_resources(
        &self,
        request: Option<PaginatedRequestParams>,
        _context: RequestContext<RoleServer>,
    ) -> Result<ListResourcesResult, ErrorData> {
        no_cursor(request, "resources/list")?;
        let resources = self
            .tools
            .resources()
            .into_iter()
            .map(|r| {
                Resource::new(r.uri, r.name)
                    .with_title(r.title)
                    .with_description(r.description)
                    .with_mime_type(r.mime_type)
            })
            .collect();
        Ok(ListResourcesResult::with_all_items(resources).with_ttl_ms(LIST_TTL_MS))
    }

    async fn list_resource_templates(
        &self,
        request: Option<PaginatedRequestParams>,
        _context: RequestContext<RoleServer>,
    ) -> Result<ListResourceTemplatesResult, ErrorData> {
        no_cursor(request, "resources/templates/list")?;
        let templates = self
            .tools
            .resource_templates()
            .into_iter()
            .map(|t| {
                ResourceTemplate::new(t.uri_template, t.name)
                    .with_title(t.title)
                    .with_description(t.description)
                    .with_mime_type(t.mime_type)
            })
            .collect();
        Ok(ListResourceTemplatesResult::with_all_items(templates).with_ttl_ms(LIST_TTL_MS))
    }

    async fn read_resource(
        &self,
        request: ReadResourceRequestParams,
        _context: RequestContext<RoleServer>,
    ) -> Result<ReadResourceResponse, ErrorData> {
        let content = self.tools.read_resource(&request.uri).map_err(resource_error_of)?;
        let contents = vec![ResourceContents::text(content.text, content.uri).with_mime_type(content.mime_type)];
        Ok(ReadResourceResult::new(contents).into())
    }

    /// `resources/subscribe`: how clients before 2026-07-28 subscribe (deprecated in rmcp for
    /// 2026-07-28, which uses `listen`).
    async fn subscribe(
        &self,
        request: SubscribeRequestParams,
        _context: RequestContext<RoleServer>,
    ) -> Result<(), ErrorData> {
        let mut subscribed = self.session.subscribed.lock().unwrap_or_else(|e| e.into_inner());
        if subscribed.len() >= SUBSCRIPTIONS_MAX && !subscribed.contains(&request.uri) {
            return Err(ErrorData::invalid_params(
                format!("too many subscriptions: at most {SUBSCRIPTIONS_MAX} per session; unsubscribe first"),
                None,
            ));
        }
        subscribed.insert(request.uri);
        Ok(())
    }

    /// `resources/unsubscribe` (clients before 2026-07-28).
    async fn unsubscribe(
        &self,
        request: UnsubscribeRequestParams,
        _context: RequestContext<RoleServer>,
    ) -> Result<(), ErrorData> {
        self.session.subscribed.lock().unwrap_or_else(|e| e.into_inner()).remove(&request.uri);
        Ok(())
    }

    fn accepted_subscription_filter(&self, requested: &SubscriptionFilter) -> Option<SubscriptionFilter> {
        // Everything brum can announce; rmcp intersects it with what was asked.
        Some(requested.clone())
    }

    async fn listen(&self, context: SubscriptionContext) -> Result<(), ErrorData> {
        let Ok(mut changes) = self.tools.changes() else { return Ok(()) };
        let accepted = context.accepted().clone();
        let sink = context.sink();
        loop {
            let batch = tokio::select! {
                biased;
                _ = context.cancelled() => return Ok(()),
                batch = changes.next() => batch,
            };
            for change in batch {
                let sent = match change {
                    Change::ToolsListChanged if accepted.tools_list_changed == Some(true) => {
                        send_within(&self.stats, sink.notify_tool_list_changed()).await
                    }
                    Change::ResourcesListChanged if accepted.resources_list_changed == Some(true) => {
                        send_within(&self.stats, sink.notify_resource_list_changed()).await
                    }
                    Change::ResourceUpdated(uri)
                        if accepted.resource_subscriptions.as_ref().is_some_and(|uris| uris.contains(&uri)) =>
                    {
                        send_within(&self.stats, sink.notify_resource_updated(uri)).await
                    }
                    _ => true,
                };
                if !sent {
                    return Ok(());
                }
            }
        }
    }

    async fn list_prompts(
        &self,
        request: Option<PaginatedRequestParams>,
        _context: RequestContext<RoleServer>,
    ) -> Result<ListPromptsResult, ErrorData> {
        no_cursor(request, "prompts/list")?;
        let prompts = self
            .tools
            .prompts()
            .into_iter()
            .map(|p| {
                let args = p
                    .arguments
                    .iter()
                    .map(|a| PromptArgument::new(a.name).with_description(a.description).with_required(a.required))
                    .collect();
                Prompt::new(p.name, Some(p.description), Some(args)).with_title(p.title)
            })
            .collect();
        Ok(ListPromptsResult::with_all_items(prompts).with_ttl_ms(LIST_TTL_MS))
    }

    async fn get_prompt(
        &self,
        request: GetPromptRequestParams,
        _context: RequestContext<RoleServer>,
    ) -> Result<GetPromptResponse, ErrorData> {
        let args = request.arguments.unwrap_or_default();
        let (description, text) = self.tools.get_prompt(&request.name, &args).map_err(resource_error_of)?;
        let result =
            GetPromptResult::new(vec![PromptMessage::new_text(Role::User, text)]).with_description(description);
        Ok(result.into())
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
