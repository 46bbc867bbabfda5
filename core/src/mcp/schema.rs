//! Each tool's description and its input and output JSON Schemas (hand-written: every field
//! named here is one the tool reads or writes; tests check both agree).

use serde_json::{Map, Value, json};

use super::tools::{
    CONTEXT_LINES_MAX, ERRORS_LIMIT_DEFAULT, ERRORS_LIMIT_MAX, SEARCH_LIMIT_DEFAULT, SEARCH_LIMIT_MAX,
    STREAM_LIMIT_DEFAULT, STREAM_LIMIT_MAX, WAIT_TIMEOUT_MAX_MS,
};
use super::{ToolSpec, Tools};
use crate::rt::Runtime;

/// Script names listed in `scripts_run`'s description, at most.
const NAMES_IN_DESCRIPTION_MAX: usize = 40;

fn object(props: Value, required: &[&str]) -> Map<String, Value> {
    let mut m = Map::new();
    m.insert("type".into(), json!("object"));
    m.insert("properties".into(), props);
    if !required.is_empty() {
        m.insert("required".into(), json!(required));
    }
    m
}

/// An output schema: the tool's fields, plus the `error` text a failed call carries instead.
fn output(mut props: Value) -> Map<String, Value> {
    props["error"] = json!({"type": "string", "description": "Set (alone) when the call failed: what was wrong and what to do next."});
    object(props, &[])
}

fn nullable(t: &str) -> Value {
    json!({"type": [t, "null"]})
}

fn location() -> Value {
    json!({"type": ["object", "null"], "properties": {
        "file": {"type": "string"}, "line": nullable("integer"), "column": nullable("integer")}})
}

fn exit() -> Value {
    json!({"type": ["object", "null"], "description": "How the instance ended: an exit code or a signal number.",
        "properties": {"code": nullable("integer"), "signal": nullable("integer")}})
}

fn entry() -> Value {
    json!({"type": "object", "properties": {
        "id": {"type": "integer", "description": "The line's id (ids increase in arrival order)."},
        "process": {"type": "string"}, "instance": {"type": "integer"},
        "stream": {"enum": ["stdout", "stderr"]},
        "level": {"enum": ["error", "warn", "info", "debug", "unknown"]},
        "at_ms": {"type": "integer", "description": "When brum read it, in ms since brum started."},
        "text": {"type": "string", "description": "The line, ANSI escapes removed."},
        "truncated": {"type": "boolean"}}})
}

fn wait_for() -> Value {
    json!({
        "description": "What to wait for before answering: \"none\" (default: answer at once with the instance id), \"url\" (the first URL the instance announces), \"exit\" (its exit code), or a log line: {\"regex\": \"PATTERN\"} or the string \"regex:PATTERN\" (Rust regex syntax, matched against each new line of the instance, ANSI removed). On timeout the answer says it is still running; the instance is never stopped by a timeout.",
        "anyOf": [
            {"enum": ["none", "url", "exit"]},
            {"type": "string", "pattern": "^regex:"},
            {"type": "object", "properties": {"regex": {"type": "string"}}, "required": ["regex"], "additionalProperties": false}
        ]
    })
}

fn timeout(default_ms: u64) -> Value {
    json!({"type": "integer", "minimum": 0, "maximum": WAIT_TIMEOUT_MAX_MS, "default": default_ms,
        "description": "How long to wait, in ms (brum's clock)."})
}

fn process_arg() -> Value {
    json!({"type": "string", "description": "A script name (`dev`: all its runs), or an instance (`dev#3`, `#3`)."})
}

fn status_item() -> Value {
    json!({"type": "object", "properties": {
        "script": {"type": "string"}, "instance": {"type": "integer"},
        "state": {"enum": ["pending", "running", "stopping", "stopped", "exited", "failed"]},
        "pid": nullable("integer"), "exit": exit(), "uptime_ms": nullable("integer"),
        "restarts": {"type": "integer"}, "restart_scheduled": {"type": "boolean"}, "error": nullable("string"),
        "urls": {"type": "array", "items": {"type": "string"}},
        "last_build": {"type": ["object", "null"]}, "last_test": {"type": ["object", "null"]}}})
}

fn run_output() -> Map<String, Value> {
    output(json!({
        "script": {"type": "string"}, "instance": {"type": "integer"}, "pid": nullable("integer"),
        "already_running": {"type": "boolean"},
        "wait_for": {"enum": ["none", "url", "exit", "regex"]},
        "status": {"enum": ["started", "met", "timed_out", "exited", "failed_to_start", "shut_down"],
            "description": "started: no wait; met: the condition held; timed_out: still running, condition not seen; exited: ended before the condition; failed_to_start; shut_down: brum is stopping."},
        "state": {"type": "string"}, "url": nullable("string"), "exit": exit(), "line": nullable("string"),
        "pattern": nullable("string"),
        "waited_ms": {"type": "integer"},
        "errors": {"type": "array", "items": {"type": "object", "properties": {
            "id": {"type": "integer"}, "kind": {"type": "string"}, "message": {"type": "string"},
            "location": location(), "count": {"type": "integer"}}}},
        "errors_total": {"type": "integer"},
        "events_dropped": {"type": "integer", "description": "Events the wait's queue could not keep (it re-checked the state instead)."}
    }))
}

pub(crate) fn specs<R: Runtime>(tools: &Tools<R>) -> Vec<ToolSpec> {
    let catalogue = tools.session.catalogue();
    let names: Vec<&str> = catalogue.scripts().map(|s| s.name.as_str()).collect();
    let listed = if names.is_empty() {
        "none found yet".to_string()
    } else if names.len() > NAMES_IN_DESCRIPTION_MAX {
        format!("{}, ... ({} in all; scripts_list)", names[..NAMES_IN_DESCRIPTION_MAX].join(", "), names.len())
    } else {
        names.join(", ")
    };
    let mut run_props = json!({
        "name": {"type": "string", "description": format!("The script's name, as scripts_list shows it. Scripts: {listed}.")},
        "args": {"type": "array", "items": {"type": "string"}, "description": "Extra arguments appended to the script's command."},
        "force": {"type": "boolean", "default": false, "description": "Start another instance even if one is running."},
        "wait_for": wait_for(),
        "timeout_ms": timeout(tools.wait_default.as_millis() as u64),
    });
    if tools.allow_adhoc {
        run_props["command"] = json!({"type": "string", "description": "A shell command to run instead of a script (allowed by this project's configuration); `name` names it."});
    }
    vec![
        ToolSpec {
            name: "scripts_list",
            title: "List scripts",
            description: "List every script brum found in the project (package.json, Cargo, make, just, Procfile, .brum.toml...), with its command and whether it runs.",
            input_schema: object(json!({}), &[]),
            output_schema: output(json!({
                "root": {"type": "string"},
                "count": {"type": "integer"},
                "scripts": {"type": "array", "items": {"type": "object", "properties": {
                    "name": {"type": "string"}, "source": {"type": "string"}, "file": {"type": "string"},
                    "command": {"type": "string"}, "detail": nullable("string"), "cwd": {"type": "string"},
                    "restart": {"type": "string"}, "state": {"type": "string"}, "instance": nullable("integer")}}}
            })),
        },
        ToolSpec {
            name: "scripts_run",
            title: "Run a script",
            description: "Start one of the project's scripts (without blocking) and optionally wait until it serves a URL, exits, or prints a matching line. Returns the instance id, and what was awaited: the URL, the exit code or the line, with the errors seen so far.",
            input_schema: object(run_props, if tools.allow_adhoc { &[] } else { &["name"] }),
            output_schema: run_output(),
        },
        ToolSpec {
            name: "scripts_stop",
            title: "Stop a script",
            description: "Stop a running script (SIGTERM, then SIGKILL after the grace period) and wait until it has ended; returns its final status.",
            input_schema: object(json!({"name": process_arg()}), &["name"]),
            output_schema: output(json!({"instance": status_item()})),
        },
        ToolSpec {
            name: "scripts_restart",
            title: "Restart a script",
            description: "Stop a script and start it again (or start it if it never ran); can wait like scripts_run.",
            input_schema: object(
                json!({"name": process_arg(), "wait_for": wait_for(), "timeout_ms": timeout(tools.wait_default.as_millis() as u64)}),
                &["name"],
            ),
            output_schema: run_output(),
        },
        ToolSpec {
            name: "scripts_status",
            title: "Script status",
            description: "State of the scripts that ran (or of one): state, pid, exit code, uptime, restarts, URLs, last build and test outcome.",
            input_schema: object(
                json!({"name": process_arg(),
                    "all_instances": {"type": "boolean", "default": false, "description": "Every instance, not only the newest of each script."}}),
                &[],
            ),
            output_schema: output(
                json!({"count": {"type": "integer"}, "processes": {"type": "array", "items": status_item()}}),
            ),
        },
        ToolSpec {
            name: "logs_stream",
            title: "Read logs",
            description: "Read log lines in order. Without a cursor: the newest `limit` lines. With a cursor (the previous answer's next_cursor): the lines after it, oldest first; with follow, waits up to timeout_ms for new ones.",
            input_schema: object(
                json!({
                    "process": process_arg(),
                    "stream": {"enum": ["stdout", "stderr"]},
                    "cursor": {"type": "integer", "minimum": 0, "description": "The first line id to read: the previous answer's next_cursor (0: from the oldest kept)."},
                    "limit": {"type": "integer", "minimum": 1, "maximum": STREAM_LIMIT_MAX, "default": STREAM_LIMIT_DEFAULT},
                    "follow": {"type": "boolean", "default": false, "description": "When there are no lines (after the cursor, or at all): wait up to timeout_ms for new ones."},
                    "timeout_ms": timeout(super::FOLLOW_TIMEOUT_DEFAULT.as_millis() as u64)
                }),
                &[],
            ),
            output_schema: output(json!({
                "entries": {"type": "array", "items": entry()},
                "next_cursor": nullable("integer"),
                "more": {"type": "boolean", "description": "More lines follow these: call again with next_cursor."},
                "timed_out": {"type": "boolean"},
                "missed": {"type": "integer", "minimum": 0, "description": "Lines (of every process) from the cursor on that were evicted or cleared before this read."}
            })),
        },
        ToolSpec {
            name: "logs_search",
            title: "Search logs",
            description: "Search the retained log lines, newest first, with context lines around each match; page with cursor.",
            input_schema: object(
                json!({
                    "query": {"type": "string", "description": "Text to find (a regex with regex: true); \"\" matches every line."},
                    "regex": {"type": "boolean", "default": false},
                    "case_sensitive": {"type": "boolean", "default": false},
                    "process": process_arg(),
                    "stream": {"enum": ["stdout", "stderr"]},
                    "level": {"enum": ["error", "warn", "info", "debug"], "description": "This level or more severe."},
                    "since": {"type": "string", "description": "Only lines of the last ..., e.g. 500ms, 30s, 5m, 2h."},
                    "before": {"type": "integer", "minimum": 0, "maximum": CONTEXT_LINES_MAX, "default": 0, "description": "Lines of context before each match (same instance)."},
                    "after": {"type": "integer", "minimum": 0, "maximum": CONTEXT_LINES_MAX, "default": 0, "description": "Lines of context after each match (same instance)."},
                    "limit": {"type": "integer", "minimum": 1, "maximum": SEARCH_LIMIT_MAX, "default": SEARCH_LIMIT_DEFAULT},
                    "cursor": {"type": "integer", "minimum": 0, "description": "The previous page's next_cursor: older matches."}
                }),
                &["query"],
            ),
            output_schema: output(json!({
                "count": {"type": "integer"},
                "next_cursor": nullable("integer"),
                "matches": {"type": "array", "items": {"allOf": [entry(), {"type": "object", "properties": {
                    "before": {"type": "array", "items": entry()}, "after": {"type": "array", "items": entry()}}}]}}
            })),
        },
        ToolSpec {
            name: "errors_list",
            title: "List errors",
            description: "Errors brum detected in the output (compiler errors, stack traces, failing tests), grouped: kind, message, file:line:col, stack, count, first and last seen, the processes, and the code around the location when the file is in the project.",
            input_schema: object(
                json!({
                    "script": {"type": "string"},
                    "kind": {"type": "string", "description": "typescript, node_stack, vite, webpack, nextjs, rustc, rust_panic, go_compile, go_panic, python_traceback, ruff, mypy, eslint, generic, test_failure"},
                    "limit": {"type": "integer", "minimum": 1, "maximum": ERRORS_LIMIT_MAX, "default": ERRORS_LIMIT_DEFAULT},
                    "cursor": {"type": "integer", "minimum": 0}
                }),
                &[],
            ),
            output_schema: output(json!({
                "count": {"type": "integer"},
                "next_cursor": nullable("integer"),
                "errors": {"type": "array", "items": {"type": "object", "properties": {
                    "id": {"type": "integer"}, "kind": {"type": "string"}, "message": {"type": "string"},
                    "location": location(), "stream": {"type": "string"},
                    "frames": {"type": "array", "items": {"type": "object", "properties": {
                        "file": {"type": "string"}, "line": nullable("integer"), "column": nullable("integer"),
                        "function": nullable("string"), "own": {"type": "boolean"}}}},
                    "frames_total": {"type": "integer"},
                    "lines": {"type": "array", "items": {"type": "string"}},
                    "count": {"type": "integer"}, "first_seen_ms": {"type": "integer"}, "last_seen_ms": {"type": "integer"},
                    "last_seen_ago_ms": {"type": "integer"},
                    "processes": {"type": "array", "items": {"type": "string"}}, "script": nullable("string"),
                    "code_frame": {"type": ["object", "null"], "properties": {
                        "file": {"type": "string"}, "line": {"type": "integer"}, "column": nullable("integer"),
                        "lines": {"type": "array", "items": {"type": "object", "properties": {
                            "line": {"type": "integer"}, "text": {"type": "string"}}}}}}}}}
            })),
        },
        ToolSpec {
            name: "errors_clear",
            title: "Clear errors",
            description: "Forget the detected errors (all, or one script's), e.g. after fixing them.",
            input_schema: object(json!({"script": {"type": "string"}}), &[]),
            output_schema: output(json!({"cleared": {"type": "integer"}})),
        },
        ToolSpec {
            name: "urls_list",
            title: "List URLs",
            description: "URLs the running scripts announced (dev servers), newest last.",
            input_schema: object(json!({"script": {"type": "string"}}), &[]),
            output_schema: output(
                json!({"count": {"type": "integer"}, "urls": {"type": "array", "items": {"type": "object", "properties": {
                "url": {"type": "string"}, "browse": {"type": "string"}, "process": {"type": "string"},
                "instance": {"type": "integer"}, "seen_ms": {"type": "integer"}}}}}),
            ),
        },
        ToolSpec {
            name: "about",
            title: "About brum",
            description: "brum's version, project, MCP and proxy URLs, and health: tasks, bus queue depths and drops, log store use and evictions.",
            input_schema: object(json!({}), &[]),
            output_schema: output(json!({
                "version": {"type": "string"}, "project": {"type": "string"},
                "mcp_url": nullable("string"), "proxy_url": nullable("string"),
                "scripts": {"type": "integer"}, "processes_running": {"type": "integer"},
                "health": {"type": "object"}
            })),
        },
    ]
}
