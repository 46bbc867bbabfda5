//! The MCP tools in core over a live session under turmoil: every tool's happy path and its
//! error texts, `wait_for` url/exit/regex/timeout, cursors, follow, code frames, resources,
//! prompts and the change feed.

mod common;

use std::sync::Arc;
use std::time::Duration;

use brum_core::discovery::MemFs;
use brum_core::mcp::{CallError, Change, ServerInfo, TOOL_NAMES, ToolOutput, Tools};
use brum_core::rt::{Clock, Runtime};
use brum_core::session::Session;
use brum_sim::procs::{Program, Remote, Step};
use brum_sim::rt::TurmoilRuntime;
use brum_sim::scenarios::{mcp_catalogue, mcp_script, mcp_session};
use serde_json::{Map, Value, json};

use common::in_turmoil;

type Rt = TurmoilRuntime;

const TS_ERROR: &str = "src/a.ts(4,7): error TS2339: Property 'nme' does not exist on type 'User'.";

fn source() -> String {
    (1..=8).map(|i| format!("const line{i} = {i};\n")).collect()
}

/// A session with the fixture programs and catalogue (web, job, slow, remote), and its tools
/// (code frames from an in-memory project).
async fn fixture(rt: &Rt, adhoc: bool) -> (Session<Rt>, Tools<Rt>) {
    let t = rt.processes();
    t.register(
        "server",
        Program::new(vec![
            Step::Out("starting".into()),
            Step::Err(TS_ERROR.into()),
            Step::Sleep(Duration::from_millis(20)),
            Step::Out("  Local:   http://localhost:5173/".into()),
            Step::Out("Ready in 20 ms".into()),
            Step::Hang,
        ]),
    );
    t.register(
        "job",
        Program::new(vec![
            Step::Out("step one".into()),
            Step::Out("✓ built in 256ms".into()),
            Step::Out(
                "test result: FAILED. 2 passed; 1 failed; 0 ignored; 0 measured; 0 filtered out; finished in 0.01s"
                    .into(),
            ),
            Step::Sleep(Duration::from_millis(5)),
            Step::Out("JOB DONE".into()),
            Step::Sleep(Duration::from_millis(5)),
            Step::Exit(3),
        ]),
    );
    t.register("slow", Program::new(vec![Step::Out("thinking".into()), Step::Hang]));
    t.register("remote", Program::new(vec![Step::Remote]));
    t.register("sh", Program::new(vec![Step::Out("adhoc ran".into()), Step::Exit(0)]));
    let session = mcp_session(rt).unwrap();
    session
        .refresh(mcp_catalogue(vec![
            mcp_script("web", "server"),
            mcp_script("job", "job"),
            mcp_script("slow", "slow"),
            mcp_script("remote", "remote"),
            mcp_script("broken", "no-such-program"),
        ]))
        .await;
    let fs = MemFs::new().file("/proj/src/a.ts", &source()).file("/elsewhere/a.ts", &source());
    let tools = Tools::new(
        session.handle(),
        ServerInfo {
            version: "0.1.0".into(),
            project: "/proj".into(),
            mcp_url: Some("http://127.0.0.1:7777/mcp".into()),
            proxy_url: None,
        },
    )
    .with_source(Arc::new(fs), "/proj".into())
    .allow_adhoc(adhoc);
    (session, tools)
}

fn args(v: Value) -> Map<String, Value> {
    match v {
        Value::Object(m) => m,
        other => panic!("not an object: {other}"),
    }
}

/// Calls a tool, and checks its structured content against the tool's output schema.
async fn call(tools: &Tools<Rt>, name: &str, a: Value) -> ToolOutput {
    let out = tools.call(name, args(a)).await.unwrap_or_else(|e| panic!("{name}: {e}"));
    let spec = tools.specs().into_iter().find(|s| s.name == name).unwrap();
    if let Err(e) = conforms(&Value::Object(spec.output_schema), &out.structured, "$") {
        panic!("{name}: its output does not fit its schema: {e}\n{}", out.structured);
    }
    out
}

/// The subset of JSON Schema the tools' schemas use: type (one or a list), enum, properties
/// (every key of an object must be declared), items, anyOf, allOf.
fn conforms(schema: &Value, v: &Value, at: &str) -> Result<(), String> {
    let type_ok = |t: &str| match t {
        "object" => v.is_object(),
        "array" => v.is_array(),
        "string" => v.is_string(),
        "integer" => v.is_i64() || v.is_u64(),
        "number" => v.is_number(),
        "boolean" => v.is_boolean(),
        "null" => v.is_null(),
        other => panic!("schema type {other} at {at}"),
    };
    match schema.get("type") {
        Some(Value::String(t)) if !type_ok(t) => return Err(format!("{at}: {v} is not {t}")),
        Some(Value::Array(ts)) if !ts.iter().any(|t| type_ok(t.as_str().unwrap())) => {
            return Err(format!("{at}: {v} is none of {ts:?}"));
        }
        _ => {}
    }
    if let Some(Value::Array(choices)) = schema.get("enum")
        && !choices.contains(v)
    {
        return Err(format!("{at}: {v} not in {choices:?}"));
    }
    if let Some(Value::Array(any)) = schema.get("anyOf")
        && !any.iter().any(|s| conforms(s, v, at).is_ok())
    {
        return Err(format!("{at}: {v} fits no anyOf branch"));
    }
    if let Some(Value::Array(all)) = schema.get("allOf") {
        let props: Map<String, Value> =
            all.iter().filter_map(|s| s["properties"].as_object()).flat_map(|m| m.clone()).collect();
        return conforms(&json!({"type": "object", "properties": props}), v, at);
    }
    if let (Some(Value::Object(props)), Value::Object(o)) = (schema.get("properties"), v) {
        for (k, x) in o {
            let sub = props.get(k).ok_or_else(|| format!("{at}.{k} is not in the schema"))?;
            conforms(sub, x, &format!("{at}.{k}"))?;
        }
    }
    if let (Some(items), Value::Array(xs)) = (schema.get("items"), v) {
        for (i, x) in xs.iter().enumerate() {
            conforms(items, x, &format!("{at}[{i}]"))?;
        }
    }
    Ok(())
}

async fn settle(rt: &Rt) {
    rt.sleep(Duration::from_millis(50)).await;
}

#[test]
fn specs_are_objects_whose_properties_every_tool_accepts_and_unknown_tools_get_a_suggestion() {
    in_turmoil(1, |rt| async move {
        let (session, tools) = fixture(&rt, false).await;
        let specs = tools.specs();
        assert_eq!(specs.iter().map(|s| s.name).collect::<Vec<_>>(), TOOL_NAMES);
        for s in &specs {
            assert!(!s.description.is_empty() && !s.title.is_empty(), "{}", s.name);
            for schema in [&s.input_schema, &s.output_schema] {
                assert_eq!(schema.get("type"), Some(&json!("object")), "{}", s.name);
                assert!(schema.get("properties").is_some_and(Value::is_object), "{}", s.name);
            }
            // Every property the input schema names is an argument the tool takes.
            for key in s.input_schema["properties"].as_object().unwrap().keys() {
                let mut a = Map::new();
                a.insert(key.clone(), Value::Null);
                if let Err(CallError::InvalidParams { message, .. }) = tools.call(s.name, a).await {
                    assert!(!message.contains("unknown argument"), "{}: {message}", s.name)
                }
            }
        }
        let run = specs.iter().find(|s| s.name == "scripts_run").unwrap();
        assert!(run.input_schema["properties"]["name"]["description"].as_str().unwrap().contains("web, job, slow"));
        assert!(run.input_schema["properties"].get("command").is_none(), "no ad-hoc command unless allowed");
        assert_eq!(
            tools.call("script_run", Map::new()).await,
            Err(CallError::UnknownTool { name: "script_run".into(), suggestion: Some("scripts_run".into()) })
        );
        assert_eq!(
            tools.call("scripts_run", args(json!({"name": "web", "wait": "url"}))).await,
            Err(CallError::InvalidParams {
                tool: "scripts_run".into(),
                message: "unknown argument `wait`; did you mean `wait_for`? (it takes: name, args, force, wait_for, timeout_ms, command)".into()
            })
        );
        assert_eq!(
            tools.call("logs_stream", args(json!({"limit": "ten"}))).await,
            Err(CallError::InvalidParams {
                tool: "logs_stream".into(),
                message: "`limit` must be a non-negative integer, not a string".into()
            })
        );
        let about = call(&tools, "about", json!({})).await;
        assert_eq!(about.structured["version"], "0.1.0");
        assert_eq!(about.structured["mcp_url"], "http://127.0.0.1:7777/mcp");
        assert!(about.structured["health"]["tasks_live"].as_i64().unwrap() > 0);
        assert!(about.structured["health"]["bus"]["subscribers"].as_u64().unwrap() >= 2);
        assert!(about.text.starts_with("brum 0.1.0 serving /proj\nmcp: http://127.0.0.1:7777/mcp"), "{}", about.text);
        drop(tools);
        session.shutdown().await;
    });
}

#[test]
fn scripts_run_waits_for_the_url_and_reports_errors_then_status_urls_errors_and_stop_agree() {
    in_turmoil(2, |rt| async move {
        let (session, tools) = fixture(&rt, false).await;
        let list = call(&tools, "scripts_list", json!({})).await;
        assert_eq!(list.structured["count"], 5);
        assert!(list.text.contains("web") && list.text.contains("not started"), "{}", list.text);
        let typo = call(&tools, "scripts_run", json!({"name": "wbe"})).await;
        assert!(typo.is_error);
        assert_eq!(typo.text, "no script named 'wbe'; did you mean 'web'? scripts_list shows all");
        assert_eq!(typo.structured["error"], typo.text);

        let began = rt.now();
        let run = call(&tools, "scripts_run", json!({"name": "web", "wait_for": "url", "timeout_ms": 5000})).await;
        assert!(!run.is_error, "{}", run.text);
        let s = &run.structured;
        assert_eq!(s["status"], "met", "{}", run.text);
        assert_eq!(s["url"], "http://localhost:5173/");
        assert_eq!(s["state"], "running");
        assert!(s["pid"].is_u64());
        assert!(rt.now().saturating_since(began) >= Duration::from_millis(20), "answered before the URL was printed");
        assert!(run.text.starts_with("web#1 is up at http://localhost:5173/"), "{}", run.text);
        // The error group closes once the server has been quiet a while.
        rt.sleep(Duration::from_millis(500)).await;
        // A line it printed before the call also meets a regex wait.
        let ready = call(&tools, "scripts_run", json!({"name": "web", "wait_for": "regex:^Ready in \\d+"})).await;
        assert_eq!(ready.structured["already_running"], true);
        assert_eq!((&ready.structured["status"], &ready.structured["line"]), (&json!("met"), &json!("Ready in 20 ms")));
        // A second run finds it running.
        let again = call(&tools, "scripts_run", json!({"name": "web", "wait_for": "url"})).await;
        assert_eq!(again.structured["already_running"], true);
        assert_eq!(again.structured["status"], "met");
        assert_eq!(again.structured["instance"], s["instance"]);
        assert_eq!(again.structured["errors_total"], 1, "{}", again.text);
        assert!(
            again.text.contains("1 error(s) so far:\n  [typescript] error TS2339: Property 'nme' does not exist"),
            "{}",
            again.text
        );

        let status = call(&tools, "scripts_status", json!({"name": "web"})).await;
        let p = &status.structured["processes"][0];
        assert_eq!(p["state"], "running");
        assert_eq!(p["urls"], json!(["http://localhost:5173/"]));
        assert!(p["uptime_ms"].as_u64().unwrap() >= 50);
        assert!(status.text.starts_with("web#1 running pid "), "{}", status.text);
        let none = call(&tools, "scripts_status", json!({"name": "job"})).await;
        assert_eq!(none.text, "'job' has not been started; scripts_run starts it");

        let urls = call(&tools, "urls_list", json!({})).await;
        assert_eq!(urls.structured["urls"][0]["browse"], "http://localhost:5173/");
        assert_eq!(urls.text, "web#1 http://localhost:5173/");

        let errors = call(&tools, "errors_list", json!({"script": "web"})).await;
        let e = &errors.structured["errors"][0];
        assert_eq!(e["kind"], "typescript");
        assert_eq!(e["location"], json!({"file": "src/a.ts", "line": 4, "column": 7}));
        assert_eq!(e["processes"], json!(["web#1"]));
        let frame = &e["code_frame"];
        assert_eq!(frame["line"], 4);
        assert_eq!(
            frame["lines"].as_array().unwrap().iter().map(|l| l["line"].as_u64().unwrap()).collect::<Vec<_>>(),
            vec![1, 2, 3, 4, 5, 6, 7]
        );
        assert_eq!(frame["lines"][3]["text"], "const line4 = 4;");
        assert!(errors.text.contains("  > 4 | const line4 = 4;\n      |       ^\n"), "{}", errors.text);
        let bad_kind = tools.call("errors_list", args(json!({"kind": "tsc"}))).await;
        assert!(
            matches!(bad_kind, Err(CallError::InvalidParams { message, .. }) if message.starts_with("`kind` must be one of typescript, node_stack"))
        );
        let cleared = call(&tools, "errors_clear", json!({"script": "web"})).await;
        assert_eq!(cleared.structured["cleared"], 1);
        assert_eq!(call(&tools, "errors_list", json!({})).await.text, "no errors");

        let stop_typo = call(&tools, "scripts_stop", json!({"name": "wbe"})).await;
        assert_eq!(stop_typo.text, "no script named 'wbe'; did you mean 'web'? scripts_status shows all");
        let not_running = call(&tools, "scripts_stop", json!({"name": "job"})).await;
        assert_eq!(not_running.text, "'job' is not running; scripts_status shows what runs");
        let stopped = call(&tools, "scripts_stop", json!({"name": "web"})).await;
        assert!(!stopped.is_error, "{}", stopped.text);
        assert_eq!(stopped.structured["instance"]["state"], "stopped");
        settle(&rt).await;
        assert_eq!(call(&tools, "urls_list", json!({})).await.structured["count"], 0);
        let restarted = call(&tools, "scripts_restart", json!({"name": "web", "wait_for": "url"})).await;
        assert_eq!(restarted.structured["status"], "met", "{}", restarted.text);
        assert_eq!(restarted.structured["instance"], 2);
        let missing = call(&tools, "scripts_restart", json!({"name": "#99"})).await;
        assert_eq!(missing.text, "no instance #99; scripts_status shows every instance");
        drop(tools);
        session.shutdown().await;
    });
}

#[test]
fn wait_for_exit_regex_and_timeout_answer_with_what_was_seen() {
    in_turmoil(3, |rt| async move {
        let (session, tools) = fixture(&rt, false).await;
        let exit = call(&tools, "scripts_run", json!({"name": "job", "wait_for": "exit"})).await;
        assert_eq!(exit.structured["status"], "met", "{}", exit.text);
        assert_eq!(exit.structured["exit"], json!({"code": 3, "signal": null}));
        assert_eq!(exit.text, "job#1 failed: exit code 3; errors_list and logs_search show why");
        settle(&rt).await;
        let status = call(&tools, "scripts_status", json!({"name": "job"})).await;
        let p = &status.structured["processes"][0];
        assert_eq!(p["exit"], json!({"code": 3, "signal": null}));
        assert_eq!(p["state"], "failed");
        assert_eq!(p["last_build"]["outcome"], "compiled", "{}", status.text);
        assert_eq!((p["last_test"]["passed"].as_u64(), p["last_test"]["failed"].as_u64()), (Some(2), Some(1)));
        assert!(status.text.ends_with("build compiled tests failed 1"), "{}", status.text);

        let line = call(&tools, "scripts_run", json!({"name": "job", "wait_for": {"regex": "(?i)job done"}})).await;
        assert_eq!(line.structured["status"], "met", "{}", line.text);
        assert_eq!(line.structured["line"], "JOB DONE");
        assert_eq!(line.structured["instance"], 2);
        let line2 = call(&tools, "scripts_run", json!({"name": "job", "force": true, "wait_for": "regex:^step"})).await;
        assert_eq!(line2.structured["line"], "step one");

        // The job ends before any URL: the answer says so.
        let no_url = call(&tools, "scripts_run", json!({"name": "job", "force": true, "wait_for": "url"})).await;
        assert_eq!(no_url.structured["status"], "exited", "{}", no_url.text);
        assert!(no_url.text.starts_with("job#4 ended (exit code 3) before announcing a URL"), "{}", no_url.text);

        let began = rt.now();
        let slow = call(&tools, "scripts_run", json!({"name": "slow", "wait_for": "url", "timeout_ms": 300})).await;
        let waited = rt.now().saturating_since(began);
        assert!(!slow.is_error, "a timeout is not an error: {}", slow.text);
        assert_eq!(slow.structured["status"], "timed_out");
        assert_eq!(slow.structured["state"], "running");
        assert!(waited >= Duration::from_millis(300) && waited < Duration::from_millis(400), "{waited:?}");
        assert_eq!(
            slow.text,
            "slow#5 is still running (running) after 300 ms without announcing a URL; it was not stopped: call again to wait longer, or read logs_stream"
        );
        let status = call(&tools, "scripts_status", json!({"name": "slow"})).await;
        assert_eq!(status.structured["processes"][0]["state"], "running", "the instance is not lost");
        // Without `timeout_ms` the wait is the configured one (`mcp_tool_timeout_ms`), and the
        // schema says so.
        let configured = tools.clone().wait_default(Duration::from_millis(700));
        let spec = configured.specs().into_iter().find(|t| t.name == "scripts_run").expect("scripts_run");
        assert_eq!(spec.input_schema["properties"]["timeout_ms"]["default"], 700);
        let began = rt.now();
        let waited = call(&configured, "scripts_run", json!({"name": "slow", "force": true, "wait_for": "url"})).await;
        let took = rt.now().saturating_since(began);
        assert_eq!(waited.structured["status"], "timed_out", "{}", waited.text);
        assert!(took >= Duration::from_millis(700) && took < Duration::from_millis(800), "{took:?}");
        let none = call(&tools, "scripts_run", json!({"name": "remote"})).await;
        assert_eq!(none.structured["status"], "started");
        assert_eq!(none.text, "started remote#7; scripts_status and logs_stream show how it goes");
        let broken = call(&tools, "scripts_run", json!({"name": "broken", "wait_for": "url"})).await;
        assert!(broken.is_error);
        assert!(broken.text.starts_with("could not start 'broken': "), "{}", broken.text);
        assert!(broken.text.ends_with("; check its command with scripts_list"), "{}", broken.text);
        let too_long = tools.call("scripts_run", args(json!({"name": "slow", "timeout_ms": 300_001}))).await;
        assert!(
            matches!(too_long, Err(CallError::InvalidParams { message, .. }) if message == "`timeout_ms` must be at most 300000, not 300001")
        );
        assert_eq!(
            session.bus().stats().iter().filter(|(_, s)| s.name.starts_with("mcp.")).count(),
            0,
            "no wait left subscribed"
        );
        drop(tools);
        session.shutdown().await;
    });
}

#[test]
fn adhoc_commands_are_refused_unless_the_config_allows_them() {
    in_turmoil(4, |rt| async move {
        let (session, tools) = fixture(&rt, false).await;
        let refused = call(&tools, "scripts_run", json!({"command": "rm -rf /"})).await;
        assert!(refused.is_error);
        assert!(
            refused.text.starts_with("ad-hoc commands are disabled: scripts_run runs only the project's scripts"),
            "{}",
            refused.text
        );
        assert!(session.supervisor().status().is_empty(), "nothing ran");
        drop(tools);
        session.shutdown().await;
        let (session, tools) = fixture(&rt, true).await;
        assert!(tools.specs()[1].input_schema["properties"].get("command").is_some());
        let ran = call(&tools, "scripts_run", json!({"command": "echo hi", "name": "hi", "wait_for": "exit"})).await;
        assert_eq!(ran.structured["status"], "met", "{}", ran.text);
        assert_eq!(ran.structured["script"], "hi");
        drop(tools);
        session.shutdown().await;
    });
}

#[test]
fn logs_stream_pages_with_cursors_and_follow_waits_for_new_lines_up_to_its_timeout() {
    in_turmoil(5, |rt| async move {
        let (session, tools) = fixture(&rt, false).await;
        let remote = call(&tools, "scripts_run", json!({"name": "remote"})).await;
        let id = remote.structured["instance"].as_u64().unwrap();
        let pid = remote.structured["pid"].as_u64().unwrap() as u32;
        let texts = |o: &ToolOutput| -> Vec<String> {
            o.structured["entries"]
                .as_array()
                .unwrap()
                .iter()
                .map(|e| e["text"].as_str().unwrap().to_string())
                .collect()
        };
        // No line yet and no cursor: follow waits for the first.
        let t = rt.processes().clone();
        let first_line = brum_core::rt::spawn(&rt, "test.printer", {
            let rt = rt.clone();
            async move {
                rt.sleep(Duration::from_millis(30)).await;
                t.remote(pid, Remote::Out(vec!["hello".into()]));
            }
        });
        let hello = call(&tools, "logs_stream", json!({"process": "remote", "follow": true, "timeout_ms": 5000})).await;
        assert_eq!(texts(&hello), ["hello"]);
        first_line.join().await.unwrap();
        let lines: Vec<String> = (1..=5).map(|i| format!("line {i}")).collect();
        rt.processes().remote(pid, Remote::Out(lines));
        settle(&rt).await;
        let tail = call(&tools, "logs_stream", json!({"process": "remote", "limit": 2})).await;
        assert_eq!(texts(&tail), ["line 4", "line 5"]);
        // From the start, two at a time.
        let first = tail.structured["entries"][0]["id"].as_u64().unwrap() - 3;
        let p1 = call(&tools, "logs_stream", json!({"process": "remote", "cursor": first, "limit": 2})).await;
        assert_eq!(texts(&p1), ["line 1", "line 2"]);
        assert_eq!(p1.structured["more"], true);
        let c = p1.structured["next_cursor"].as_u64().unwrap();
        let p2 = call(&tools, "logs_stream", json!({"process": "remote", "cursor": c, "limit": 2})).await;
        assert_eq!(texts(&p2), ["line 3", "line 4"]);
        let c = p2.structured["next_cursor"].as_u64().unwrap();
        let p3 = call(&tools, "logs_stream", json!({"process": format!("remote#{id}"), "cursor": c, "limit": 2})).await;
        assert_eq!(texts(&p3), ["line 5"]);
        assert_eq!(p3.structured["more"], false);
        let end = p3.structured["next_cursor"].as_u64().unwrap();
        // Nothing new: follow waits its timeout, on the runtime's clock.
        let began = rt.now();
        let idle =
            call(&tools, "logs_stream", json!({"process": "remote", "cursor": end, "follow": true, "timeout_ms": 200}))
                .await;
        assert_eq!(idle.structured["timed_out"], true);
        assert_eq!(idle.structured["next_cursor"], end);
        let waited = rt.now().saturating_since(began);
        assert!(waited >= Duration::from_millis(200) && waited < Duration::from_millis(250), "{waited:?}");
        assert!(idle.text.starts_with("no new lines within 200 ms"), "{}", idle.text);
        // A line printed mid-wait ends the wait early.
        let t = rt.processes().clone();
        let printer = brum_core::rt::spawn(&rt, "test.printer", {
            let rt = rt.clone();
            async move {
                rt.sleep(Duration::from_millis(30)).await;
                t.remote(pid, Remote::Out(vec!["late".into()]));
            }
        });
        let began = rt.now();
        let woke = call(
            &tools,
            "logs_stream",
            json!({"process": "remote", "cursor": end, "follow": true, "timeout_ms": 5000}),
        )
        .await;
        assert_eq!(texts(&woke), ["late"]);
        assert_eq!(woke.structured["timed_out"], false);
        assert!(rt.now().saturating_since(began) < Duration::from_millis(100));
        printer.join().await.unwrap();
        assert_eq!(woke.structured["missed"], 0);
        // Lines dropped before the reader came back (cleared here; evicted alike): the answer
        // says how many ids from its cursor on it can no longer read, then the rest.
        let resume = woke.structured["next_cursor"].as_u64().unwrap();
        rt.processes().remote(pid, Remote::Out(vec!["gone 1".into(), "gone 2".into()]));
        settle(&rt).await;
        let cleared = session.logs().expect("a log service").clear_all();
        assert!(cleared >= 9, "hello, 5 lines, late and 2 gone at least: {cleared}");
        rt.processes().remote(pid, Remote::Out(vec!["after".into()]));
        settle(&rt).await;
        let gap = call(&tools, "logs_stream", json!({"process": "remote", "cursor": resume})).await;
        assert_eq!(texts(&gap), ["after"]);
        assert_eq!(gap.structured["missed"], 2, "{}", gap.text);
        assert!(
            gap.text.starts_with(&format!("(2 lines from cursor {resume} on were evicted or cleared")),
            "{}",
            gap.text
        );
        let oldest = call(&tools, "logs_stream", json!({"process": "remote", "cursor": 0})).await;
        assert_eq!((texts(&oldest), &oldest.structured["missed"]), (vec!["after".to_string()], &json!(0)));
        let unknown = call(&tools, "logs_stream", json!({"process": "remtoe"})).await;
        assert_eq!(unknown.text, "no process named 'remtoe'; did you mean 'remote'? scripts_list shows all");
        assert_eq!(session.bus().stats().iter().filter(|(_, s)| s.name.starts_with("mcp.")).count(), 0);
        drop(tools);
        session.shutdown().await;
    });
}

#[test]
fn logs_search_finds_with_context_filters_and_pages() {
    in_turmoil(6, |rt| async move {
        let (session, tools) = fixture(&rt, false).await;
        let remote = call(&tools, "scripts_run", json!({"name": "remote"})).await;
        let pid = remote.structured["pid"].as_u64().unwrap() as u32;
        let lines: Vec<String> =
            ["boot", "GET /a 200", "warn: slow query", "GET /b 500", "ERROR db down", "GET /c 200"]
                .map(String::from)
                .to_vec();
        rt.processes().remote(pid, Remote::Out(lines));
        settle(&rt).await;
        let texts = |v: &Value| -> Vec<String> {
            v.as_array().unwrap().iter().map(|e| e["text"].as_str().unwrap().to_string()).collect()
        };
        let get = call(&tools, "logs_search", json!({"query": "get /", "limit": 2})).await;
        assert_eq!(texts(&get.structured["matches"]), ["GET /c 200", "GET /b 500"], "newest first, case-insensitive");
        let older =
            call(&tools, "logs_search", json!({"query": "get /", "limit": 2, "cursor": get.structured["next_cursor"]}))
                .await;
        assert_eq!(texts(&older.structured["matches"]), ["GET /a 200"]);
        assert_eq!(older.structured["next_cursor"], Value::Null);
        let none = call(&tools, "logs_search", json!({"query": "get /", "case_sensitive": true})).await;
        assert_eq!(none.text, "no line matches 'get /'; try a shorter query, regex: false, or drop the filters");
        let re =
            call(&tools, "logs_search", json!({"query": "GET /\\w 5\\d\\d", "regex": true, "before": 1, "after": 2}))
                .await;
        let m = &re.structured["matches"][0];
        assert_eq!(m["text"], "GET /b 500");
        assert_eq!(texts(&m["before"]), ["warn: slow query"]);
        assert_eq!(texts(&m["after"]), ["ERROR db down", "GET /c 200"]);
        assert!(re.text.contains("> [remote#1"), "{}", re.text);
        let errors = call(&tools, "logs_search", json!({"query": "", "level": "error"})).await;
        assert_eq!(texts(&errors.structured["matches"]), ["ERROR db down"]);
        let recent = call(&tools, "logs_search", json!({"query": "boot", "since": "1h"})).await;
        assert_eq!(recent.structured["count"], 1);
        let bad = call(&tools, "logs_search", json!({"query": "(", "regex": true})).await;
        assert!(bad.is_error);
        assert!(bad.text.starts_with("invalid regex `(?i:()`"), "{}", bad.text);
        assert!(bad.text.ends_with("fix the pattern (regex syntax of the Rust regex crate) or pass regex: false"));
        let since = tools.call("logs_search", args(json!({"query": "x", "since": "yesterday"}))).await;
        assert!(
            matches!(since, Err(CallError::InvalidParams { message, .. }) if message.contains("500ms, 30s, 5m or 2h"))
        );
        drop(tools);
        session.shutdown().await;
    });
}

#[test]
fn resources_prompts_and_the_change_feed() {
    in_turmoil(7, |rt| async move {
        let (session, tools) = fixture(&rt, false).await;
        let subs = session.bus().subscriber_count();
        let mut changes = tools.changes().unwrap();
        assert_eq!(session.bus().subscriber_count(), subs + 1);
        let uris: Vec<String> = tools.resources().into_iter().map(|r| r.uri).collect();
        assert_eq!(
            uris,
            [
                "brum://errors",
                "brum://urls",
                "brum://scripts",
                "brum://processes",
                "brum://logs/web",
                "brum://logs/job",
                "brum://logs/slow",
                "brum://logs/remote",
                "brum://logs/broken"
            ]
        );
        call(&tools, "scripts_run", json!({"name": "web", "wait_for": "url"})).await;
        let mut got = Vec::new();
        // Coalesced batches, until the error (it closes when the server goes quiet) is in.
        while !got.contains(&Change::ResourceUpdated("brum://errors".into())) {
            got.extend(changes.next().await);
        }
        assert!(got.contains(&Change::ResourceUpdated("brum://logs/web".into())), "{got:?}");
        assert!(got.contains(&Change::ResourceUpdated("brum://urls".into())), "{got:?}");
        assert!(got.contains(&Change::ResourceUpdated("brum://errors".into())), "{got:?}");
        session.handle().refresh(mcp_catalogue(vec![mcp_script("web", "server"), mcp_script("new", "job")])).await;
        settle(&rt).await;
        let got = changes.next().await;
        assert_eq!(&got[..2], [Change::ToolsListChanged, Change::ResourcesListChanged], "{got:?}");
        assert!(got.contains(&Change::ResourceUpdated("brum://scripts".into())), "{got:?}");
        let logs = tools.read_resource("brum://logs/web").unwrap();
        assert!(logs.text.contains("Ready in 20 ms"), "{}", logs.text);
        assert!(tools.read_resource("brum://urls").unwrap().text.contains("http://localhost:5173/"));
        assert!(tools.read_resource("brum://scripts").unwrap().text.contains("web "));
        assert!(tools.read_resource("brum://processes").unwrap().text.starts_with("web#1 running"));
        let missing = tools.read_resource("brum://logs/wbe").unwrap_err();
        assert_eq!(
            missing.to_string(),
            "no resource `brum://logs/wbe`: no script named 'wbe'; did you mean 'web'? scripts_list shows all"
        );
        assert!(tools.read_resource("brum://nothing").is_err());
        assert_eq!(tools.prompts().iter().map(|p| p.name).collect::<Vec<_>>(), ["diagnose", "summarize_servers"]);
        let (title, text) = tools.get_prompt("diagnose", &Map::new()).unwrap();
        assert_eq!(title, "Diagnose 'web'");
        assert!(text.contains("Property 'nme' does not exist") && text.contains("> 4 | const line4"), "{text}");
        let (_, summary) = tools.get_prompt("summarize_servers", &Map::new()).unwrap();
        assert!(summary.contains("web#1 running") && summary.contains("http://localhost:5173/"), "{summary}");
        assert!(tools.get_prompt("diagnose", &args(json!({"script": "nope"}))).is_err());
        assert!(tools.get_prompt("other", &Map::new()).is_err());
        drop(changes);
        assert_eq!(session.bus().subscriber_count(), subs, "the feed unsubscribed on drop");
        drop(tools);
        session.shutdown().await;
    });
}

#[test]
fn a_call_dropped_mid_wait_leaves_no_subscription_and_its_instance_runs_on() {
    in_turmoil(8, |rt| async move {
        let (session, tools) = fixture(&rt, false).await;
        let subs = session.bus().subscriber_count();
        for (tool, a) in [
            ("scripts_run", json!({"name": "slow", "wait_for": "url"})),
            ("scripts_run", json!({"name": "slow", "wait_for": {"regex": "never"}})),
            ("logs_stream", json!({"process": "slow", "follow": true, "cursor": 1_000_000})),
        ] {
            let call = tools.call(tool, args(a.clone()));
            let sleep = rt.sleep(Duration::from_millis(50));
            let waited = tokio::select! {
                biased;
                _ = call => false,
                () = sleep => true,
            };
            assert!(waited, "{tool} {a} answered instead of waiting");
            assert_eq!(session.bus().subscriber_count(), subs, "{tool} {a} left its subscription behind");
            assert_eq!(rt.metrics().gauge_total("mcp.waits_live"), 0);
        }
        let status = call(&tools, "scripts_status", json!({"name": "slow"})).await;
        assert_eq!(status.structured["processes"][0]["state"], "running");
        drop(tools);
        session.shutdown().await;
    });
}

#[test]
fn the_output_schema_check_refuses_what_does_not_fit() {
    let schema = json!({"type": "object", "properties": {"n": {"type": "integer"}, "s": {"enum": ["a"]},
        "xs": {"type": "array", "items": {"type": ["string", "null"]}}}});
    assert!(conforms(&schema, &json!({"n": 1, "s": "a", "xs": ["x", null]}), "$").is_ok());
    assert_eq!(conforms(&schema, &json!({"n": "1"}), "$"), Err("$.n: \"1\" is not integer".into()));
    assert_eq!(conforms(&schema, &json!({"s": "b"}), "$"), Err("$.s: \"b\" not in [String(\"a\")]".into()));
    assert!(conforms(&schema, &json!({"xs": [3]}), "$").is_err());
    assert_eq!(conforms(&schema, &json!({"extra": 1}), "$"), Err("$.extra is not in the schema".into()));
}
