//! Tests of the parts that need no runtime: schemas, argument errors, code frames, `wait_for`
//! parsing. The tools over a live session are tested under the simulator (sim/tests/mcp.rs).

use std::path::Path;

use serde_json::{Map, Value, json};

use super::CallError;
use super::args::Args;
use super::tools::{WaitFor, code_frame};
use crate::discovery::MemFs;
use crate::process::Location;

fn map(v: Value) -> Map<String, Value> {
    match v {
        Value::Object(m) => m,
        _ => panic!("not an object"),
    }
}

fn wait_for(v: Value) -> Result<WaitFor, CallError> {
    let m = map(json!({ "wait_for": v }));
    let a = Args::new("scripts_run", &m, &["wait_for"])?;
    WaitFor::parse(&a)
}

#[test]
fn wait_for_takes_the_three_words_and_both_regex_forms_and_refuses_the_rest() {
    assert!(matches!(wait_for(json!("none")), Ok(WaitFor::None)));
    assert!(matches!(wait_for(json!("url")), Ok(WaitFor::Url)));
    assert!(matches!(wait_for(json!("exit")), Ok(WaitFor::Exit)));
    assert!(matches!(wait_for(json!("regex:ready in \\d+")), Ok(WaitFor::Line(p, _)) if p == "ready in \\d+"));
    assert!(matches!(wait_for(json!({"regex": "listening"})), Ok(WaitFor::Line(p, _)) if p == "listening"));
    let err = |v: Value| match wait_for(v) {
        Err(CallError::InvalidParams { tool, message }) => {
            assert_eq!(tool, "scripts_run");
            message
        }
        other => panic!("expected InvalidParams, got {other:?}"),
    };
    assert!(err(json!("port")).contains("must be \"none\", \"url\", \"exit\""), "{}", err(json!("port")));
    assert!(
        err(json!({"regex": "("})).starts_with("`wait_for` regex: invalid regex `(`"),
        "{}",
        err(json!({"regex": "("}))
    );
    assert!(err(json!({"pattern": "x"})).contains("{\"regex\": \"PATTERN\"}"));
    assert!(err(json!(3)).contains("must be a string or"));
}

#[test]
fn arguments_of_the_wrong_type_or_unknown_name_the_argument_and_what_it_must_be() {
    let m = map(json!({"name": 3, "force": "yes", "timeout_ms": -1, "args": ["a", 2]}));
    let a = Args::new("scripts_run", &m, &["name", "force", "timeout_ms", "args"]).unwrap();
    let msg = |r: Result<(), CallError>| match r {
        Err(CallError::InvalidParams { message, .. }) => message,
        other => panic!("expected InvalidParams, got {other:?}"),
    };
    assert_eq!(msg(a.str("name").map(drop)), "`name` must be a string, not a number");
    assert_eq!(msg(a.bool("force").map(drop)), "`force` must be a boolean, not a string");
    assert_eq!(msg(a.u64("timeout_ms", 10).map(drop)), "`timeout_ms` must be a non-negative integer, not -1");
    assert_eq!(msg(a.str_list("args").map(drop)), "`args` must be an array of strings; found a number");
    let m = map(json!({"timeout_ms": 11}));
    let a = Args::new("t", &m, &["timeout_ms"]).unwrap();
    assert_eq!(msg(a.u64("timeout_ms", 10).map(drop)), "`timeout_ms` must be at most 10, not 11");
    let m = map(json!({"wait-for": "url"}));
    let e = Args::new("scripts_run", &m, &["name", "wait_for"]).map(drop);
    assert_eq!(msg(e), "unknown argument `wait-for`; did you mean `wait_for`? (it takes: name, wait_for)");
    // Null is absent.
    let m = map(json!({"name": null}));
    let a = Args::new("t", &m, &["name"]).unwrap();
    assert_eq!(a.str("name").unwrap(), None);
    assert_eq!(msg(a.req_str("name").map(drop)), "`name` is required");
}

fn project() -> MemFs {
    let src: String = (1..=10).map(|i| format!("line {i}\n")).collect();
    MemFs::new().file("/p/src/a.ts", &src).file("/other/b.ts", &src).symlink("/p/link.ts", "/other/b.ts")
}

#[test]
fn code_frames_quote_lines_around_the_location_inside_the_project_only() {
    let fs = project();
    let at = |file: &str, line: Option<u32>| Location { file: file.into(), line, column: Some(3) };
    let f = code_frame(&fs, Path::new("/p"), Path::new("/p"), &at("src/a.ts", Some(5)))
        .expect("relative path inside the project");
    assert_eq!(f.line, 5);
    assert_eq!(f.lines.iter().map(|(n, _)| *n).collect::<Vec<_>>(), vec![2, 3, 4, 5, 6, 7, 8]);
    assert_eq!(f.lines[3].1, "line 5");
    let f =
        code_frame(&fs, Path::new("/p"), Path::new("/p"), &at("/p/src/a.ts", Some(1))).expect("absolute path inside");
    assert_eq!(f.lines.first().map(|l| l.0), Some(1));
    let f = code_frame(&fs, Path::new("/p"), Path::new("/p"), &at("src/a.ts", Some(10))).expect("last line");
    assert_eq!(f.lines.last().map(|l| l.0), Some(10));
    assert_eq!(
        code_frame(&fs, Path::new("/p"), Path::new("/p"), &at("/other/b.ts", Some(5))),
        None,
        "outside the project"
    );
    assert_eq!(code_frame(&fs, Path::new("/p"), Path::new("/p"), &at("../other/b.ts", Some(5))), None, "escapes by ..");
    assert_eq!(
        code_frame(&fs, Path::new("/p"), Path::new("/p"), &at("link.ts", Some(5))),
        None,
        "escapes by a symlink"
    );
    assert_eq!(code_frame(&fs, Path::new("/p"), Path::new("/p"), &at("src/a.ts", None)), None, "no line");
    assert_eq!(code_frame(&fs, Path::new("/p"), Path::new("/p"), &at("src/a.ts", Some(11))), None, "past the end");
    assert_eq!(code_frame(&fs, Path::new("/p"), Path::new("/p"), &at("src/missing.ts", Some(1))), None, "missing file");
    // Relative to a package's directory, still inside the project.
    let fs = fs.file("/p/packages/web/src/b.ts", "one\ntwo\n");
    let f = code_frame(&fs, Path::new("/p"), Path::new("/p/packages/web"), &at("src/b.ts", Some(2))).expect("package");
    assert_eq!(f.lines, vec![(1, "one".to_string()), (2, "two".to_string())]);
    assert_eq!(
        code_frame(&fs, Path::new("/p/packages"), Path::new("/p/packages/web"), &at("../../src/a.ts", Some(2))),
        None,
        "a package-relative path that leaves the root"
    );
}

#[test]
fn error_kind_names_are_the_serialized_ones() {
    for k in crate::detect::ErrorKind::ALL {
        assert_eq!(json!(k.name()), serde_json::to_value(k).unwrap());
    }
}
