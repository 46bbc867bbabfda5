//! brum's MCP server with real clients: the official Python SDK (tests/mcp/client.py) in both
//! protocol eras and over stdio, and raw HTTP for the status codes of bad requests. Each test
//! runs the real `brum serve` on a copy of examples/demo (a tiny node dev server).
//!
//! The Python tests need `python3` with the `mcp` package (`pip install mcp`, as scripts/ci.sh
//! does): without it they fail, saying so.

use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpStream;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};
use std::time::Duration;

use brum_tests::{brum_bin, signal, wait_exit};

/// A failure timeout, far above what any step takes.
const LIMIT: Duration = Duration::from_secs(60);

fn repo() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).parent().expect("tests/ is in the repository").to_path_buf()
}

/// A script that dies of a TypeError, with a stack pointing into the project (line 3).
const CRASH_JS: &str = "// Crashes with a stack.\nfunction total(cart) {\n  return cart.items.reduce((a, b) => a + b, 0);\n}\nconsole.log(\"computing the total\");\ntotal(undefined);\n";

/// A copy of examples/demo plus a `crash` script, with quick stops, and a private runtime dir
/// for the registry.
fn demo() -> tempfile::TempDir {
    let dir = tempfile::tempdir().unwrap();
    for f in ["server.js", "watcher.js", "test.js"] {
        std::fs::copy(repo().join("examples/demo").join(f), dir.path().join(f)).unwrap();
    }
    let manifest = std::fs::read_to_string(repo().join("examples/demo/package.json")).unwrap();
    let mut manifest: serde_json::Value = serde_json::from_str(&manifest).unwrap();
    manifest["scripts"]["crash"] = "node crash.js".into();
    manifest["scripts"]["quiet"] = "node -e \"console.log('quiet up'); setInterval(() => {}, 1 << 30)\"".into();
    std::fs::write(dir.path().join("package.json"), manifest.to_string()).unwrap();
    std::fs::write(dir.path().join("crash.js"), CRASH_JS).unwrap();
    std::fs::write(dir.path().join(".brum.toml"), "[concurrency]\nprocess_stop_grace_ms = 500\n").unwrap();
    std::fs::create_dir(dir.path().join("run")).unwrap();
    dir
}

/// A running `brum serve`: stopped with SIGINT when dropped.
struct Serve {
    child: Child,
    url: String,
    port: u16,
    stderr: Option<std::process::ChildStderr>,
}

impl Serve {
    fn start(dir: &Path, args: &[&str], env: &[(&str, &str)]) -> Serve {
        let mut cmd = Command::new(brum_bin());
        cmd.arg("-C")
            .arg(dir)
            .arg("serve")
            .args(args)
            .env("HOME", dir)
            .env("XDG_RUNTIME_DIR", dir.join("run"))
            .env_remove("BRUM_MCP_TOKEN")
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped());
        for (k, v) in env {
            cmd.env(k, v);
        }
        let mut child = cmd.spawn().unwrap();
        let mut out = BufReader::new(child.stdout.take().unwrap());
        let mut line = String::new();
        out.read_line(&mut line).unwrap();
        let url = line.trim().strip_prefix("mcp: ").unwrap_or_else(|| panic!("first line {line:?}")).to_string();
        assert!(url.starts_with("http://127.0.0.1:") && url.ends_with("/mcp"), "{url}");
        let port = url["http://127.0.0.1:".len()..url.len() - "/mcp".len()].parse().unwrap();
        let stderr = child.stderr.take();
        Serve { child, url, port, stderr }
    }

    /// Stops brum with SIGINT and returns its exit code and stderr.
    fn stop(mut self) -> (i32, String) {
        signal(self.child.id(), rustix::process::Signal::INT);
        let status = wait_exit(&mut self.child, LIMIT);
        let mut err = String::new();
        if let Some(mut e) = self.stderr.take() {
            e.read_to_string(&mut err).unwrap();
        }
        (status.code().unwrap_or(-1), err)
    }
}

impl Drop for Serve {
    fn drop(&mut self) {
        if matches!(self.child.try_wait(), Ok(None)) {
            signal(self.child.id(), rustix::process::Signal::INT);
            let _ = wait_exit(&mut self.child, LIMIT);
        }
    }
}

/// Runs tests/mcp/client.py; fails (never skips) when python3 or its `mcp` package is missing.
fn python(args: &[&str]) -> serde_json::Value {
    let script = repo().join("tests/mcp/client.py");
    let out: Output = Command::new("python3")
        .arg(&script)
        .args(args)
        .output()
        .unwrap_or_else(|e| panic!("cannot run python3 (needed with `pip install mcp`): {e}"));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        !stderr.contains("No module named 'mcp'"),
        "the Python MCP SDK is missing: `pip install mcp` (scripts/ci.sh installs it)\n{stderr}"
    );
    assert!(out.status.success(), "client.py {args:?} failed ({}):\n{stderr}", out.status);
    serde_json::from_slice(&out.stdout).unwrap_or_else(|e| panic!("client.py printed no JSON ({e}):\n{stderr}"))
}

/// One raw HTTP/1.1 request; returns the status and the body. `Connection: close`, so the
/// body ends when brum closes the connection.
fn raw(port: u16, method: &str, headers: &[(&str, &str)], body: &[u8]) -> (u16, String) {
    let mut s = TcpStream::connect(("127.0.0.1", port)).unwrap();
    s.set_read_timeout(Some(LIMIT)).unwrap();
    let mut req = format!("{method} /mcp HTTP/1.1\r\nConnection: close\r\nContent-Length: {}\r\n", body.len());
    if !headers.iter().any(|(k, _)| k.eq_ignore_ascii_case("host")) {
        req.push_str(&format!("Host: 127.0.0.1:{port}\r\n"));
    }
    for (k, v) in headers {
        req.push_str(&format!("{k}: {v}\r\n"));
    }
    req.push_str("\r\n");
    s.write_all(req.as_bytes()).unwrap();
    // A refused body may be closed on before it is all written.
    let _ = s.write_all(body);
    let mut resp = Vec::new();
    let _ = s.read_to_end(&mut resp);
    let resp = String::from_utf8_lossy(&resp).to_string();
    let status = resp.split(' ').nth(1).and_then(|c| c.parse().ok()).unwrap_or_else(|| panic!("no status: {resp:?}"));
    let body = resp.split_once("\r\n\r\n").map(|(_, b)| b.to_string()).unwrap_or_default();
    (status, body)
}

const JSON_HEADERS: [(&str, &str); 2] =
    [("Content-Type", "application/json"), ("Accept", "application/json, text/event-stream")];

/// A 2026-07-28 (stateless) `tools/call`: the headers and `_meta` that era requires.
fn modern_call(port: u16, tool: &str, args: serde_json::Value, extra: &[(&str, &str)]) -> (u16, String) {
    let body = serde_json::json!({
        "jsonrpc": "2.0", "id": 1, "method": "tools/call",
        "params": {
            "name": tool, "arguments": args,
            "_meta": {
                "io.modelcontextprotocol/protocolVersion": "2026-07-28",
                "io.modelcontextprotocol/clientCapabilities": {},
                "io.modelcontextprotocol/clientInfo": {"name": "raw", "version": "0"},
            },
        },
    });
    let mut headers: Vec<(&str, &str)> = JSON_HEADERS.to_vec();
    headers.extend([("MCP-Protocol-Version", "2026-07-28"), ("Mcp-Method", "tools/call"), ("Mcp-Name", tool)]);
    headers.extend_from_slice(extra);
    raw(port, "POST", &headers, body.to_string().as_bytes())
}

/// The server still answers a well-formed call.
fn still_answers(port: u16, extra: &[(&str, &str)]) {
    let (status, body) = modern_call(port, "about", serde_json::json!({}), extra);
    assert_eq!(status, 200, "{body}");
    assert!(body.contains("\"result\""), "{body}");
}

fn check_flow(out: &serde_json::Value) {
    let tools: Vec<&str> = out["tools"].as_array().unwrap().iter().filter_map(|t| t.as_str()).collect();
    for t in ["scripts_list", "scripts_run", "scripts_stop", "logs_stream", "logs_search", "errors_list", "about"] {
        assert!(tools.contains(&t), "{t} missing from {tools:?}");
    }
    let run = out["run"].to_string();
    assert!(run.contains("http://localhost:"), "scripts_run waited for the URL: {run}");
    assert!(out["logs"].to_string().contains("demo dev server ready"), "{}", out["logs"]);
    assert!(out["search"].to_string().contains("ready"), "{}", out["search"]);
    let errors = out["errors"].to_string();
    assert!(errors.contains("TypeError"), "errors_list shows the crash: {errors}");
    assert!(errors.contains("crash.js:3"), "errors_list shows the stack into crash.js: {errors}");
    let first = &out["errors"]["errors"][0];
    assert!(first["frames"].as_array().is_some_and(|f| f.len() >= 2), "the stack's frames: {first}");
    assert!(first["code_frame"]["lines"].is_array(), "the code around the error: {first}");
}

#[test]
fn a_legacy_client_runs_dev_waits_for_its_url_reads_searches_and_stops_it() {
    let dir = demo();
    let serve = Serve::start(dir.path(), &["-p", "0"], &[]);
    let out = python(&["flow", &serve.url, "legacy"]);
    check_flow(&out);
    assert_eq!(out["protocol_version"], "2025-11-25", "{out}");
    let (code, err) = serve.stop();
    assert_eq!(code, 0, "{err}");
}

#[test]
fn a_2026_client_does_the_same_statelessly() {
    let dir = demo();
    let serve = Serve::start(dir.path(), &["-p", "0"], &[]);
    let out = python(&["flow", &serve.url, "2026-07-28"]);
    check_flow(&out);
    assert_eq!(out["protocol_version"], "2026-07-28", "{out}");
    // `auto` probes server/discover and takes the modern era.
    let out = python(&["bad", &serve.url, "auto"]);
    assert!(out["about_after"].is_object(), "{out}");
}

#[test]
fn a_stdio_client_does_the_same_in_both_eras() {
    for (mode, era) in [("legacy", "2025-11-25"), ("auto", "2026-07-28")] {
        let dir = demo();
        let out = python(&["stdio", brum_bin().to_str().unwrap(), dir.path().to_str().unwrap(), mode]);
        check_flow(&out);
        assert_eq!(out["protocol_version"], era, "{mode}: {out}");
    }
}

#[test]
fn resources_prompts_and_the_change_notification_in_both_eras() {
    for mode in ["legacy", "2026-07-28"] {
        let dir = demo();
        let serve = Serve::start(dir.path(), &["-p", "0"], &[]);
        let out = python(&["extras", &serve.url, mode, dir.path().to_str().unwrap()]);
        let resources = out["resources"].to_string();
        for uri in ["brum://errors", "brum://urls", "brum://logs/dev"] {
            assert!(resources.contains(uri), "{mode}: {uri} missing: {resources}");
        }
        assert_eq!(out["templates"][0], "brum://logs/{process}", "{out}");
        assert!(out["read_logs_dev"].as_str().unwrap().contains("demo dev server ready"), "{out}");
        // Resource not found: -32002 before 2026-07-28, -32602 from it.
        let expected = if mode == "legacy" { -32002 } else { -32602 };
        assert_eq!(out["read_unknown"]["code"], expected, "{mode}: {out}");
        assert_eq!(out["prompts"], serde_json::json!(["diagnose", "summarize_servers"]), "{out}");
        assert!(out["prompt_text"].as_str().unwrap().contains("dev#1 running"), "{out}");
        assert!(out["notified"].as_str().unwrap().to_lowercase().contains("tools"), "{mode}: {out}");
        assert_eq!(out["scripts_run_schema_lists_added"], true, "{mode}: {out}");
        let (code, err) = serve.stop();
        assert_eq!(code, 0, "{err}");
    }
}

#[test]
fn unknown_tools_and_wrong_argument_types_get_errors_and_the_server_still_answers() {
    let dir = demo();
    let serve = Serve::start(dir.path(), &["-p", "0"], &[]);
    for mode in ["legacy", "2026-07-28"] {
        let out = python(&["bad", &serve.url, mode]);
        assert_eq!(out["unknown_tool"]["code"], -32602, "{mode}: {out}");
        assert!(out["unknown_tool"]["message"].as_str().unwrap().contains("no_such_tool"), "{out}");
        let wrong = &out["wrong_types"];
        assert!(wrong["code"] == -32602 || wrong["is_error"] == true, "{mode}: {out}");
        assert!(out["about_after"].is_object(), "{out}");
    }
}

#[test]
fn malformed_json_gets_a_parse_error_and_the_server_still_answers() {
    let dir = demo();
    let serve = Serve::start(dir.path(), &["-p", "0"], &[]);
    let (status, body) = raw(serve.port, "POST", &JSON_HEADERS, b"{\"jsonrpc\": \"2.0\", \"id\": 1, \"method\": ");
    assert_eq!(status, 400, "{body}");
    assert!(body.contains("-32700"), "{body}");
    still_answers(serve.port, &[]);
}

#[test]
fn an_oversized_body_gets_413_and_the_server_still_answers() {
    let dir = demo();
    let serve = Serve::start(dir.path(), &["-p", "0"], &[]);
    let big = vec![b' '; 2 * 1024 * 1024];
    let (status, body) = raw(serve.port, "POST", &JSON_HEADERS, &big);
    assert_eq!(status, 413, "{body}");
    assert!(body.contains("larger than the limit"), "{body}");
    still_answers(serve.port, &[]);
    assert_eq!(about(serve.port)["health"]["mcp"]["http_refused"]["too_large"], 1);
}

#[test]
fn a_foreign_origin_or_host_gets_403_and_loopback_pages_pass() {
    let dir = demo();
    let serve = Serve::start(dir.path(), &["-p", "0"], &[]);
    let (status, body) = modern_call(serve.port, "about", serde_json::json!({}), &[("Origin", "http://evil.example")]);
    assert_eq!(status, 403, "{body}");
    assert!(body.contains("evil.example"), "{body}");
    let (status, body) = modern_call(serve.port, "about", serde_json::json!({}), &[("Host", "evil.example")]);
    assert_eq!(status, 403, "{body}");
    still_answers(serve.port, &[("Origin", "http://localhost:6274")]);
    still_answers(serve.port, &[]);
    // `about` counts what the gate refused, by reason.
    let refused = &about(serve.port)["health"]["mcp"]["http_refused"];
    let want =
        serde_json::json!({"host": 1, "origin": 1, "token": 0, "too_large": 0, "sessions_full": 0, "connections": 0});
    assert_eq!(refused, &want);
    let (code, err) = serve.stop();
    assert_eq!(code, 0);
    assert!(err.contains("brum: mcp refused: 1 foreign Host, 1 foreign Origin"), "{err}");
}

#[test]
fn with_a_token_a_missing_or_wrong_one_gets_401_and_the_right_one_works() {
    let dir = demo();
    let serve = Serve::start(dir.path(), &["-p", "0"], &[("BRUM_MCP_TOKEN", "s3cret")]);
    let (status, body) = modern_call(serve.port, "about", serde_json::json!({}), &[]);
    assert_eq!(status, 401, "{body}");
    assert!(body.contains("Authorization: Bearer"), "{body}");
    let (status, _) = modern_call(serve.port, "about", serde_json::json!({}), &[("Authorization", "Bearer nope")]);
    assert_eq!(status, 401);
    still_answers(serve.port, &[("Authorization", "Bearer s3cret")]);
    let out = python(&["flow", &serve.url, "legacy", "s3cret"]);
    check_flow(&out);
}

/// The JSON-RPC message of a (single-message) SSE or JSON response body.
fn message(body: &str) -> serde_json::Value {
    let json = body.lines().filter_map(|l| l.strip_prefix("data: ")).find(|d| d.starts_with('{')).unwrap_or(body);
    serde_json::from_str(json).unwrap_or_else(|e| panic!("no JSON-RPC message ({e}) in {body:?}"))
}

/// `about`'s structured content.
fn about(port: u16) -> serde_json::Value {
    let (status, body) = modern_call(port, "about", serde_json::json!({}), &[]);
    assert_eq!(status, 200, "{body}");
    message(&body)["result"]["structuredContent"].clone()
}

/// Polls `about` until `cond` holds of it (a failure timeout, not a wait for time to pass).
fn until_about(port: u16, what: &str, cond: impl Fn(&serde_json::Value) -> bool) -> serde_json::Value {
    let deadline = std::time::Instant::now() + LIMIT;
    loop {
        let a = about(port);
        if cond(&a) {
            return a;
        }
        assert!(std::time::Instant::now() < deadline, "never {what}: {a}");
        // A poll interval, so the polling does not crowd out the server on a small machine.
        std::thread::sleep(Duration::from_millis(20));
    }
}

/// Starts `quiet` (it prints one line and then nothing) and returns the cursor after its lines.
fn quiet_cursor(port: u16) -> serde_json::Value {
    // Anchored: npm's banner (`> node -e "console.log('quiet up'); ..."`) also holds the words.
    let run = serde_json::json!({"name": "quiet", "wait_for": "regex:^quiet up$"});
    let (_, body) = modern_call(port, "scripts_run", run, &[]);
    assert_eq!(message(&body)["result"]["structuredContent"]["status"], "met", "{body}");
    let (_, body) = modern_call(port, "logs_stream", serde_json::json!({"process": "quiet"}), &[]);
    let cursor = message(&body)["result"]["structuredContent"]["next_cursor"].clone();
    assert!(cursor.is_u64(), "{body}");
    cursor
}

/// Sends a `logs_stream` follow of `quiet` from `cursor` that would wait the longest a call
/// may (300 s, five times the tests' failure timeout: only something else can end it in time)
/// on a connection of its own, and returns the connection once the wait is live.
fn follow_forever(port: u16, cursor: &serde_json::Value, session: Option<&str>) -> TcpStream {
    let args = serde_json::json!({"process": "quiet", "cursor": cursor, "follow": true, "timeout_ms": 300_000});
    let (params, headers) = match session {
        None => (
            serde_json::json!({"name": "logs_stream", "arguments": args, "_meta": {
                "io.modelcontextprotocol/protocolVersion": "2026-07-28",
                "io.modelcontextprotocol/clientCapabilities": {},
            }}),
            "MCP-Protocol-Version: 2026-07-28\r\nMcp-Method: tools/call\r\nMcp-Name: logs_stream\r\n".to_string(),
        ),
        Some(id) => (
            serde_json::json!({"name": "logs_stream", "arguments": args}),
            format!("MCP-Protocol-Version: 2025-11-25\r\nMcp-Session-Id: {id}\r\n"),
        ),
    };
    let body = serde_json::json!({"jsonrpc": "2.0", "id": 7, "method": "tools/call", "params": params}).to_string();
    let mut s = TcpStream::connect(("127.0.0.1", port)).unwrap();
    write!(
        s,
        "POST /mcp HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\nContent-Type: application/json\r\nAccept: application/json, text/event-stream\r\n{headers}Content-Length: {}\r\n\r\n{body}",
        body.len()
    )
    .unwrap();
    until_about(port, "the follow is waiting", |a| a["health"]["mcp"]["waits_live"] == 1);
    s
}

/// A 2025-11-25 session (initialized), by raw HTTP; returns its id.
fn legacy_session(port: u16) -> String {
    let init = r#"{"jsonrpc":"2.0","id":1,"method":"initialize","params":{"protocolVersion":"2025-11-25","capabilities":{},"clientInfo":{"name":"raw","version":"0"}}}"#;
    let mut s = TcpStream::connect(("127.0.0.1", port)).unwrap();
    write!(
        s,
        "POST /mcp HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\nConnection: close\r\nContent-Type: application/json\r\nAccept: application/json, text/event-stream\r\nContent-Length: {}\r\n\r\n{init}",
        init.len()
    )
    .unwrap();
    let mut resp = String::new();
    let _ = s.read_to_string(&mut resp);
    let id =
        resp.lines().find_map(|l| l.strip_prefix("mcp-session-id: ")).unwrap_or_else(|| panic!("no session: {resp}"));
    let id = id.trim().to_string();
    let note = br#"{"jsonrpc":"2.0","method":"notifications/initialized"}"#;
    let (status, body) = raw(port, "POST", &legacy_headers(&id), note);
    assert_eq!(status, 202, "{body}");
    id
}

fn legacy_headers(id: &str) -> Vec<(&str, &str)> {
    let mut h = JSON_HEADERS.to_vec();
    h.extend([("MCP-Protocol-Version", "2025-11-25"), ("Mcp-Session-Id", id)]);
    h
}

#[test]
fn a_client_that_disconnects_in_the_middle_of_a_follow_leaves_the_server_answering() {
    let dir = demo();
    let serve = Serve::start(dir.path(), &["-p", "0"], &[]);
    let baseline = about(serve.port)["health"].clone();
    let cursor = quiet_cursor(serve.port);
    // A 2026-07-28 call is cancelled when its client goes: the wait ends at once, not in 300 s.
    let s = follow_forever(serve.port, &cursor, None);
    drop(s);
    let after = until_about(serve.port, "the follow's wait ended", |a| a["health"]["mcp"]["waits_live"] == 0);
    assert_eq!(after["health"]["bus"]["subscribers"], baseline["bus"]["subscribers"], "{after}");
    let (_, body) = modern_call(serve.port, "scripts_status", serde_json::json!({"name": "quiet"}), &[]);
    assert_eq!(message(&body)["result"]["structuredContent"]["processes"][0]["state"], "running", "{body}");
    let (code, err) = serve.stop();
    assert_eq!(code, 0, "{err}");
    assert!(!err.contains("error"), "{err}");
}

/// In a 2025-11-25 session a disconnect is not a cancellation (the client may resume the
/// stream): the call runs on and the session keeps working. `notifications/cancelled` ends
/// it, and so does ending the session.
#[test]
fn a_session_client_cancels_a_follow_or_ends_its_session_and_the_wait_ends() {
    let dir = demo();
    let serve = Serve::start(dir.path(), &["-p", "0"], &[]);
    let cursor = quiet_cursor(serve.port);
    let id = legacy_session(serve.port);
    let mut s = follow_forever(serve.port, &cursor, Some(&id));
    let cancel = br#"{"jsonrpc":"2.0","method":"notifications/cancelled","params":{"requestId":7,"reason":"the agent moved on"}}"#;
    let (status, body) = raw(serve.port, "POST", &legacy_headers(&id), cancel);
    assert_eq!(status, 202, "{body}");
    until_about(serve.port, "the cancelled follow ended", |a| a["health"]["mcp"]["waits_live"] == 0);
    // The stream ends (its last chunk) without an answer to the cancelled call.
    let mut rest = Vec::new();
    s.set_read_timeout(Some(LIMIT)).unwrap();
    let mut buf = [0u8; 4096];
    while !rest.ends_with(b"\r\n0\r\n\r\n") {
        match s.read(&mut buf) {
            Ok(0) | Err(_) => break,
            Ok(n) => rest.extend_from_slice(&buf[..n]),
        }
    }
    let rest = String::from_utf8_lossy(&rest);
    assert!(rest.starts_with("HTTP/1.1 200") && rest.ends_with("\r\n0\r\n\r\n"), "{rest}");
    assert!(!rest.contains("\"id\":7"), "{rest}");

    // A disconnect leaves the call running, and the session answers meanwhile.
    let s = follow_forever(serve.port, &cursor, Some(&id));
    drop(s);
    let call = br#"{"jsonrpc":"2.0","id":8,"method":"tools/call","params":{"name":"scripts_status","arguments":{"name":"quiet"}}}"#;
    let (status, body) = raw(serve.port, "POST", &legacy_headers(&id), call);
    assert_eq!(status, 200, "{body}");
    assert_eq!(message(&body)["result"]["structuredContent"]["processes"][0]["state"], "running", "{body}");
    assert_eq!(about(serve.port)["health"]["mcp"]["waits_live"], 1);
    // Ending the session ends its call.
    let (status, body) = raw(serve.port, "DELETE", &[("Mcp-Session-Id", id.as_str())], b"");
    assert_eq!(status, 204, "{body}");
    until_about(serve.port, "the session's follow ended", |a| a["health"]["mcp"]["waits_live"] == 0);
    still_answers(serve.port, &[]);
    let (code, err) = serve.stop();
    assert_eq!(code, 0, "{err}");
    assert!(!err.contains("error"), "{err}");
}

#[test]
fn a_shell_command_from_the_client_runs_only_when_the_config_allows_it() {
    let args = serde_json::json!({"name": "probe", "command": "echo adhoc-ran", "wait_for": "exit"});
    let dir = demo();
    let serve = Serve::start(dir.path(), &["-p", "0"], &[]);
    let (_, body) = modern_call(serve.port, "scripts_run", args.clone(), &[]);
    let msg = message(&body);
    let refused = msg["result"]["isError"] == true || msg["error"]["code"] == -32602;
    assert!(refused, "ran a client's command without permission: {body}");
    assert!(body.contains("allow_adhoc"), "the refusal says how to allow it: {body}");
    drop(serve);
    let toml = std::fs::read_to_string(dir.path().join(".brum.toml")).unwrap();
    std::fs::write(dir.path().join(".brum.toml"), format!("{toml}\n[mcp]\nallow_adhoc = true\n")).unwrap();
    let serve = Serve::start(dir.path(), &["-p", "0"], &[]);
    let (_, body) = modern_call(serve.port, "scripts_run", args, &[]);
    let msg = message(&body);
    assert_eq!(msg["result"]["isError"], false, "{body}");
    assert_eq!(msg["result"]["structuredContent"]["status"], "met", "{body}");
}

#[test]
fn run_with_mcp_serves_while_the_scripts_run() {
    let dir = demo();
    let mut child = Command::new(brum_bin())
        .arg("-C")
        .arg(dir.path())
        .args(["run", "--mcp", "dev"])
        .env("HOME", dir.path())
        .env("XDG_RUNTIME_DIR", dir.path().join("run"))
        .env_remove("BRUM_MCP_TOKEN")
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let mut err = BufReader::new(child.stderr.take().unwrap());
    let url = loop {
        let mut line = String::new();
        assert!(err.read_line(&mut line).unwrap() > 0, "stderr closed before the MCP URL");
        if let Some(url) = line.trim().strip_prefix("brum: mcp: ") {
            break url.to_string();
        }
    };
    let port: u16 = url["http://127.0.0.1:".len()..url.len() - "/mcp".len()].parse().unwrap();
    let a = until_about(port, "dev is running", |a| a["processes_running"] == 1);
    assert_eq!(a["mcp_url"], url.as_str(), "{a}");
    let out = python(&["bad", &url, "legacy"]);
    assert!(out["about_after"].is_object(), "{out}");
    signal(child.id(), rustix::process::Signal::INT);
    let status = wait_exit(&mut child, LIMIT);
    assert_eq!(status.code(), Some(130), "brum run ends as after Ctrl-C");
    let left = std::fs::read_dir(dir.path().join("run/brum/instances")).unwrap().count();
    assert_eq!(left, 0, "the instance file is removed on exit");
}

#[test]
fn an_initialize_beyond_mcp_sessions_max_gets_503_and_ending_a_session_frees_its_place() {
    let dir = demo();
    let toml = std::fs::read_to_string(dir.path().join(".brum.toml")).unwrap();
    std::fs::write(dir.path().join(".brum.toml"), format!("{toml}mcp_sessions_max = 1\n")).unwrap();
    let serve = Serve::start(dir.path(), &["-p", "0"], &[]);
    let init = br#"{"jsonrpc":"2.0","id":1,"method":"initialize","params":{"protocolVersion":"2025-11-25","capabilities":{},"clientInfo":{"name":"raw","version":"0"}}}"#;
    let session_of = |port: u16| {
        let mut s = TcpStream::connect(("127.0.0.1", port)).unwrap();
        let head = format!(
            "POST /mcp HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\nConnection: close\r\nContent-Type: application/json\r\nAccept: application/json, text/event-stream\r\nContent-Length: {}\r\n\r\n",
            init.len()
        );
        s.write_all(head.as_bytes()).unwrap();
        s.write_all(init).unwrap();
        let mut resp = String::new();
        let _ = s.read_to_string(&mut resp);
        resp
    };
    let first = session_of(serve.port);
    let id = first
        .lines()
        .find_map(|l| l.strip_prefix("mcp-session-id: "))
        .unwrap_or_else(|| panic!("no session id: {first}"))
        .trim()
        .to_string();
    let second = session_of(serve.port);
    assert!(second.starts_with("HTTP/1.1 503"), "{second}");
    assert!(second.contains("mcp_sessions_max"), "{second}");
    let (status, body) = raw(serve.port, "DELETE", &[("Mcp-Session-Id", id.as_str())], b"");
    assert_eq!(status, 204, "{body}");
    let third = session_of(serve.port);
    assert!(third.starts_with("HTTP/1.1 200"), "{third}");
    still_answers(serve.port, &[]);
}

#[test]
fn a_taken_port_falls_back_to_a_free_one_and_says_so() {
    let dir = demo();
    let taken = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let port = taken.local_addr().unwrap().port();
    let serve = Serve::start(dir.path(), &["-p", &port.to_string()], &[]);
    let used = serve.port;
    assert_ne!(used, port);
    still_answers(used, &[]);
    let (code, err) = serve.stop();
    assert_eq!(code, 0);
    assert!(err.contains(&format!("port {port} is taken; serving MCP on port {used}")), "{err}");
}

#[test]
fn the_token_can_come_from_the_config_and_is_never_printed() {
    let dir = demo();
    let toml = std::fs::read_to_string(dir.path().join(".brum.toml")).unwrap();
    std::fs::write(dir.path().join(".brum.toml"), format!("{toml}\n[mcp]\ntoken = \"cfg-s3cret\"\n")).unwrap();
    let serve = Serve::start(dir.path(), &["-p", "0"], &[]);
    let (status, _) = modern_call(serve.port, "about", serde_json::json!({}), &[]);
    assert_eq!(status, 401);
    still_answers(serve.port, &[("Authorization", "Bearer cfg-s3cret")]);
    let file = dir.path().join(format!("run/brum/instances/{}.json", serve.child.id()));
    let text = std::fs::read_to_string(&file).unwrap();
    assert!(!text.contains("cfg-s3cret") && text.contains(".brum.toml"), "{text}");
    // `--token` wins over the config.
    drop(serve);
    let serve = Serve::start(dir.path(), &["-p", "0", "--token", "flag-tok"], &[]);
    let (status, _) =
        modern_call(serve.port, "about", serde_json::json!({}), &[("Authorization", "Bearer cfg-s3cret")]);
    assert_eq!(status, 401);
    still_answers(serve.port, &[("Authorization", "Bearer flag-tok")]);
    drop(serve);
    let settings =
        Command::new(brum_bin()).arg("-C").arg(dir.path()).arg("--settings").env("HOME", dir.path()).output().unwrap();
    let text = String::from_utf8_lossy(&settings.stdout);
    assert!(text.contains("token") && !text.contains("cfg-s3cret"), "{text}");
}

#[test]
fn serve_registers_its_instance_without_the_token_and_removes_it_on_exit() {
    let dir = demo();
    // A brum that died without cleaning up: its pid is gone.
    let instances = dir.path().join("run/brum/instances");
    let mut dead = Command::new("true").spawn().unwrap();
    let dead_pid = dead.id();
    dead.wait().unwrap();
    std::fs::create_dir_all(&instances).unwrap();
    let stale = instances.join(format!("{dead_pid}.json"));
    std::fs::write(
        &stale,
        format!(
            r#"{{"pid":{dead_pid},"start_time":1,"project":"/x","mcp_url":"http://127.0.0.1:1/mcp","token_hint":null}}"#
        ),
    )
    .unwrap();
    let serve = Serve::start(dir.path(), &["-p", "0"], &[("BRUM_MCP_TOKEN", "s3cret")]);
    assert!(!stale.exists(), "the stale instance file of a dead brum is cleaned");
    let file = instances.join(format!("{}.json", serve.child.id()));
    let text = std::fs::read_to_string(&file).unwrap();
    let inst: serde_json::Value = serde_json::from_str(&text).unwrap();
    assert_eq!(inst["mcp_url"], serve.url.as_str());
    assert_eq!(inst["pid"], serve.child.id());
    assert!(!text.contains("s3cret"), "the token leaked into {text}");
    use std::os::unix::fs::PermissionsExt;
    assert_eq!(std::fs::metadata(&instances).unwrap().permissions().mode() & 0o777, 0o700);
    assert_eq!(std::fs::metadata(&file).unwrap().permissions().mode() & 0o777, 0o600);
    let (code, _) = serve.stop();
    assert_eq!(code, 0);
    assert!(!file.exists(), "{} left behind", file.display());
}

#[test]
fn mcp_config_prints_each_clients_snippet() {
    let dir = demo();
    let out = Command::new(brum_bin())
        .args(["-C", dir.path().to_str().unwrap(), "mcp", "config", "vscode", "-p", "7778"])
        .output()
        .unwrap();
    assert!(out.status.success());
    let text = String::from_utf8(out.stdout).unwrap();
    assert!(text.contains("\"url\": \"http://127.0.0.1:7778/mcp\""), "{text}");
    assert!(text.contains("\"args\": [\"mcp\", \"stdio\", \"-C\""), "{text}");
}

/// (thread name, nice value) of every thread of `pid`, from /proc.
#[cfg(target_os = "linux")]
fn thread_nice(pid: u32) -> Vec<(String, i64)> {
    let mut threads = Vec::new();
    for task in std::fs::read_dir(format!("/proc/{pid}/task")).unwrap() {
        let dir = task.unwrap().path();
        let name = std::fs::read_to_string(dir.join("comm")).unwrap().trim().to_string();
        let stat = std::fs::read_to_string(dir.join("stat")).unwrap();
        // Fields after the parenthesised name: state is the 3rd field, nice the 19th.
        let after = &stat[stat.rfind(')').unwrap() + 2..];
        let nice = after.split(' ').nth(16).unwrap().parse().unwrap();
        threads.push((name, nice));
    }
    threads.sort();
    threads
}

/// MCP requests are served on their own threads, `mcp_nice` steps below brum's others, so a
/// busy CPU goes to ingest first (BENCHMARKS.md measures the effect); 0 leaves them level.
#[cfg(target_os = "linux")]
#[test]
fn serving_threads_run_mcp_nice_steps_below_the_rest_of_brum() {
    for (config, want) in [("", 19), ("mcp_nice = 3\n", 3), ("mcp_nice = 0\n", 0)] {
        let dir = demo();
        std::fs::write(dir.path().join(".brum.toml"), format!("[concurrency]\n{config}")).unwrap();
        let serve = Serve::start(dir.path(), &["-p", "0"], &[]);
        // A served call: the serving runtime is up and has answered.
        still_answers(serve.port, &[]);
        // Both workers are lowered once each has run its start (a loaded machine may not have
        // scheduled the second yet): a failure timeout, not a wait for time to pass.
        let deadline = std::time::Instant::now() + LIMIT;
        let threads = loop {
            let threads = thread_nice(serve.child.id());
            let lowered = threads.iter().filter(|(n, v)| n == "brum-mcp" && *v == want).count();
            if lowered >= 2 {
                break threads;
            }
            assert!(
                std::time::Instant::now() < deadline,
                "{config:?}: want 2 serving threads at nice {want}: {threads:?}"
            );
            std::thread::sleep(Duration::from_millis(10));
        };
        let serving: Vec<i64> = threads.iter().filter(|(n, _)| n == "brum-mcp").map(|(_, v)| *v).collect();
        let others: Vec<i64> = threads.iter().filter(|(n, _)| n != "brum-mcp").map(|(_, v)| *v).collect();
        assert!(serving.iter().all(|v| *v == want), "{config:?}: serving threads {threads:?}, want nice {want}");
        assert!(!others.is_empty() && others.iter().all(|v| *v == 0), "{config:?}: the other threads {threads:?}");
        let (code, err) = serve.stop();
        assert_eq!(code, 0, "{err}");
    }
}
