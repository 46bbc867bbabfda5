//! `brum serve` (headless: MCP over HTTP until Ctrl-C), `brum mcp stdio`, `brum mcp config`, and
//! the MCP side of `brum run --mcp`: building a session for MCP clients and serving it.

use std::io::Write;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use brum_core::config::Settings;
use brum_core::discovery::{DiscoveryPrefs, discover};
use brum_core::findings::FindingsConfig;
use brum_core::mcp::ServerInfo;
use brum_core::session::{CATALOGUE_POLL, Session, SessionConfig, SessionHandle};

use crate::args::{McpCommand, ServeArgs};
use crate::errors::{CliError, exit, system};
use crate::guardian::Guardian;
use crate::mcp::http::{HttpOptions, McpHttp};
use crate::mcp::registry::{self, Instance, Registration};
use crate::mcp::{ToolsSetup, VERSION, client_config};
use crate::project_fs::StdFs;
use crate::rt::TokioRuntime;
use crate::run_cmd::Signals;

/// `brum serve`: prints `mcp: URL` on `out` once it listens, then serves until a signal.
pub fn serve(args: ServeArgs, project: &Path, out: &mut dyn Write) -> Result<i32, CliError> {
    crate::run_cmd::runtime()?.block_on(async move {
        let mut signals = Signals::install().map_err(system("install the signal handlers"))?;
        let settings = load_settings(project)?;
        let token = token(args.token, &settings)?;
        let session = headless_session(project, &settings).await?;
        let served = match start_http(session.handle(), project, &settings, args.port, token).await {
            Ok(served) => served,
            Err(e) => {
                session.shutdown().await;
                return Err(e);
            }
        };
        let printed = writeln!(out, "mcp: {}", served.http.url).and_then(|()| out.flush());
        if printed.is_ok() {
            signals.recv().await;
        }
        served.stop().await;
        session.shutdown().await;
        printed?;
        Ok(exit::OK)
    })
}

/// `brum mcp stdio` and `brum mcp config`.
pub fn mcp(cmd: McpCommand, project: &Path, out: &mut dyn Write) -> Result<i32, CliError> {
    match cmd {
        McpCommand::Config { client, port } => {
            let url = format!("http://127.0.0.1:{port}{}", crate::mcp::http::MCP_PATH);
            let project = std::fs::canonicalize(project).unwrap_or_else(|_| project.to_path_buf());
            out.write_all(client_config::render(client, &url, &project).as_bytes())?;
            Ok(exit::OK)
        }
        McpCommand::Stdio => crate::run_cmd::runtime()?.block_on(async move {
            let mut signals = Signals::install().map_err(system("install the signal handlers"))?;
            let settings = load_settings(project)?;
            let session = headless_session(project, &settings).await?;
            let setup = tools_setup(session.handle(), project, &settings);
            let served = crate::mcp::stdio::serve(setup, async move {
                signals.recv().await;
            })
            .await;
            session.shutdown().await;
            served.map_err(system("serve MCP on stdin and stdout"))?;
            Ok(exit::OK)
        }),
    }
}

fn load_settings(project: &Path) -> Result<Settings, CliError> {
    let home = std::env::var_os("HOME").filter(|h| !h.is_empty()).map(PathBuf::from);
    Ok(crate::settings::load(home.as_deref(), project)?.0)
}

fn tools_setup(session: SessionHandle<TokioRuntime>, project: &Path, settings: &Settings) -> ToolsSetup {
    let project = std::fs::canonicalize(project).unwrap_or_else(|_| project.to_path_buf());
    let info = ServerInfo {
        version: VERSION.to_string(),
        project: project.display().to_string(),
        mcp_url: None,
        proxy_url: None,
    };
    ToolsSetup { session, info, project, allow_adhoc: allow_adhoc(settings), wait_default: settings.mcp_tool_timeout() }
}

/// Whether MCP clients may run shell commands of their own (`scripts_run` with `command`):
/// only when the user's `.brum.toml` says `[mcp] allow_adhoc = true`.
fn allow_adhoc(settings: &Settings) -> bool {
    settings.mcp_allow_adhoc()
}

/// A session with nothing started: a log service indexing every line (the MCP log tools read
/// it; copied to `.brum/logs` with `log_persist`), and the script catalogue kept current.
async fn headless_session(project: &Path, settings: &Settings) -> Result<Session<TokioRuntime>, CliError> {
    let cores = std::thread::available_parallelism().map_or(1, |n| n.get());
    let guardian = Guardian::spawn(settings.process_stop_grace()).map_err(system("start the orphan guardian"))?;
    let rt = TokioRuntime::with_guardian(guardian);
    let sink = if settings.log_persist() {
        let files =
            crate::log_files::LogFiles::create(project, crate::log_files::LogFilesConfig::from_settings(settings))
                .map_err(system("create the log directory .brum/logs"))?;
        Some(Box::new(files) as Box<dyn brum_core::logs::LogSink + Send>)
    } else {
        None
    };
    let session = Session::new(
        rt,
        SessionConfig {
            bus: settings.bus_config(cores),
            supervisor: crate::run_cmd::supervisor_config(settings, false),
            logs: Some((settings.log_store_config(), sink)),
            findings: FindingsConfig::from_settings(settings),
        },
    )?;
    watch_catalogue(&session, project, settings).await;
    Ok(session)
}

/// Loads the session's script catalogue (what `scripts_list` shows) before any client can ask,
/// then keeps it current.
pub(crate) async fn watch_catalogue(session: &Session<TokioRuntime>, project: &Path, settings: &Settings) {
    let prefs = DiscoveryPrefs::from_settings(settings);
    session.refresh(discover(&StdFs, project, &prefs)).await;
    session.watch(Arc::new(StdFs), project.to_path_buf(), prefs, CATALOGUE_POLL);
}

/// A token must be something a client can send in a header.
fn checked_token(token: Option<String>) -> Result<Option<String>, CliError> {
    match token {
        Some(t) if t.is_empty() || !t.bytes().all(|b| b.is_ascii_graphic()) => Err(CliError::BadToken),
        t => Ok(t),
    }
}

/// The bearer token MCP clients must send: `--token`, else `BRUM_MCP_TOKEN` (clap reads both
/// into `flag`), else `[mcp] token`; with where it came from, for the instance file's hint.
pub(crate) fn token(flag: Option<String>, settings: &Settings) -> Result<Option<Token>, CliError> {
    let (value, hint) = match flag {
        Some(t) => {
            let from_env = std::env::var("BRUM_MCP_TOKEN").is_ok_and(|e| e == t);
            (Some(t), if from_env { "$BRUM_MCP_TOKEN" } else { "the --token given to brum" })
        }
        None => (settings.mcp_token().map(str::to_string), "[mcp] token in .brum.toml"),
    };
    Ok(checked_token(value)?.map(|value| Token { value, hint: format!("Authorization: Bearer <{hint}>") }))
}

/// A bearer token and where a client finds it (never the token itself).
#[derive(Debug, Clone)]
pub(crate) struct Token {
    pub value: String,
    pub hint: String,
}

/// The HTTP server and its instance file: both end on [`Served::stop`].
pub(crate) struct Served {
    pub http: McpHttp,
    registration: Option<Registration>,
}

impl Served {
    /// Stops serving, removes the instance file, and says on stderr what the gate refused, if
    /// anything was.
    pub async fn stop(self) {
        drop(self.registration);
        let stats = self.http.stats.clone();
        self.http.stop().await;
        if let Some(line) = refusals(&stats) {
            crate::output::stderr_line(&line);
        }
    }
}

/// `brum: mcp refused: 2 foreign Origin, 1 wrong or missing token`, or `None` when nothing was.
fn refusals(stats: &crate::mcp::http::HttpStats) -> Option<String> {
    let counts = [
        (stats.bad_host.get(), "foreign Host"),
        (stats.bad_origin.get(), "foreign Origin"),
        (stats.bad_token.get(), "wrong or missing token"),
        (stats.too_large.get(), "body too large"),
        (stats.sessions_full.get(), "initialize over mcp_sessions_max"),
        (stats.refused_connections.get(), "connection over the limit"),
    ];
    let parts: Vec<String> = counts.iter().filter(|(n, _)| *n > 0).map(|(n, what)| format!("{n} {what}")).collect();
    (!parts.is_empty()).then(|| format!("brum: mcp refused: {}", parts.join(", ")))
}

/// Serves `session` over HTTP on `port` (or a free one, said on stderr) and registers the
/// instance.
pub(crate) async fn start_http(
    session: SessionHandle<TokioRuntime>,
    project: &Path,
    settings: &Settings,
    port: u16,
    token: Option<Token>,
) -> Result<Served, CliError> {
    let token_hint = token.as_ref().map(|t| t.hint.clone());
    let token = token.map(|t| t.value);
    let opts = HttpOptions {
        port,
        token,
        session_idle: settings.mcp_session_timeout(),
        sessions_max: settings.mcp_sessions_max(),
        nice: settings.mcp_nice(),
        ..HttpOptions::default()
    };
    let http = crate::mcp::http::start(tools_setup(session, project, settings), opts)
        .await
        .map_err(system("listen for MCP clients on 127.0.0.1"))?;
    if let Some(asked) = http.fallback_from {
        crate::output::stderr_line(&format!(
            "brum: port {asked} is taken; serving MCP on port {} instead",
            http.addr.port()
        ));
    }
    let inst = Instance {
        pid: std::process::id(),
        start_time: registry::own_start_time(),
        project: std::fs::canonicalize(project).unwrap_or_else(|_| project.to_path_buf()),
        mcp_url: http.url.clone(),
        token_hint,
    };
    // The registry is for finding brum, not for serving: a failure is said, not fatal. Stale
    // files of brums that died without cleaning up go first.
    let _ = registry::list(&registry::dir(), registry::probe);
    let registration = match registry::register(&registry::dir(), &inst) {
        Ok(r) => Some(r),
        Err(e) => {
            crate::output::stderr_line(&format!(
                "warning: cannot write the instance file in {}: {e}",
                registry::dir().display()
            ));
            None
        }
    };
    Ok(Served { http, registration })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn refusals_are_summed_up_only_when_there_were_some() {
        let stats = crate::mcp::http::HttpStats::new(&brum_core::metrics::Metrics::new());
        assert_eq!(refusals(&stats), None);
        stats.bad_origin.add(2);
        stats.bad_token.inc();
        assert_eq!(refusals(&stats).as_deref(), Some("brum: mcp refused: 2 foreign Origin, 1 wrong or missing token"));
    }

    #[test]
    fn a_token_that_cannot_go_in_a_header_is_refused() {
        assert!(matches!(checked_token(Some(String::new())), Err(CliError::BadToken)));
        assert!(matches!(checked_token(Some("a b".into())), Err(CliError::BadToken)));
        assert_eq!(checked_token(Some("s3cr3t-_.".into())).expect("valid"), Some("s3cr3t-_.".into()));
        assert_eq!(checked_token(None).expect("valid"), None);
    }
}
