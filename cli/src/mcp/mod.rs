//! The MCP front end: rmcp (the official Rust SDK, pinned exactly in the workspace) over
//! [`brum_core::mcp::Tools`]. This module is the only place brum names rmcp, so an SDK bump
//! touches nothing else.
//!
//! - `handler`: rmcp's `ServerHandler` delegating to the tools;
//! - [`http`]: Streamable HTTP on brum's own listener, behind the Host/Origin/token/body gate;
//! - [`stdio`]: the same server on stdin and stdout (`brum mcp stdio`);
//! - [`client_config`]: the snippets `brum mcp config CLIENT` prints;
//! - [`registry`]: the instance files of running servers.

pub mod client_config;
mod conn;
mod handler;
pub mod http;
pub mod registry;
pub mod stdio;

/// brum's version as MCP clients see it (`serverInfo`).
pub const VERSION: &str = env!("CARGO_PKG_VERSION");

use std::path::PathBuf;
use std::sync::Arc;

use brum_core::mcp::{ServerInfo, Tools};
use brum_core::session::SessionHandle;

use crate::rt::TokioRuntime;

/// What the tools are built from: the session, what `about` says, the project (code frames are
/// read under it), and whether the user's config allows ad-hoc commands.
#[derive(Debug, Clone)]
pub struct ToolsSetup {
    pub session: SessionHandle<TokioRuntime>,
    pub info: ServerInfo,
    pub project: PathBuf,
    pub allow_adhoc: bool,
    /// `mcp_tool_timeout_ms`: how long a `scripts_run` wait lasts unless the call says.
    pub wait_default: std::time::Duration,
}

impl ToolsSetup {
    pub(crate) fn build(self) -> Tools<TokioRuntime> {
        Tools::new(self.session, self.info)
            .with_source(Arc::new(crate::project_fs::StdFs), self.project)
            .allow_adhoc(self.allow_adhoc)
            .wait_default(self.wait_default)
    }
}
