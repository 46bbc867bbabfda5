//! MCP on stdin and stdout (`brum mcp stdio`): the client starts brum as its child. stdout then
//! carries JSON-RPC only; everything brum says to people goes to stderr.

use std::future::Future;
use std::io;

use rmcp::ServiceExt;

use super::ToolsSetup;
use super::handler::Handler;

/// Why the stdio server ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum StdioEnd {
    /// The client closed stdin (or never sent `initialize`).
    ClientClosed,
    /// `shutdown` completed first.
    Shutdown,
}

/// Serves MCP on stdio over `session` until the client closes stdin or `shutdown` completes.
pub async fn serve(setup: ToolsSetup, shutdown: impl Future<Output = ()>) -> io::Result<StdioEnd> {
    let version = setup.info.version.clone();
    let handler = Handler::new(setup.build(), &version);
    let mut shutdown = std::pin::pin!(shutdown);
    let running = tokio::select! {
        biased;
        _ = shutdown.as_mut() => return Ok(StdioEnd::Shutdown),
        started = handler.serve(rmcp::transport::stdio()) => match started {
            Ok(running) => running,
            // A client that hangs up before or during the handshake.
            Err(e) => {
                tracing::debug!("mcp stdio: the client left during the handshake: {e}");
                return Ok(StdioEnd::ClientClosed);
            }
        },
    };
    let stop = running.cancellation_token();
    let mut waiting = std::pin::pin!(running.waiting());
    tokio::select! {
        biased;
        _ = shutdown => {
            stop.cancel();
            let _ = waiting.await;
            Ok(StdioEnd::Shutdown)
        }
        ended = waiting.as_mut() => {
            ended.map_err(io::Error::other)?;
            Ok(StdioEnd::ClientClosed)
        }
    }
}
