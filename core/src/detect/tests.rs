//! Unit tests: one per format (short excerpts of real output; the full samples are the corpus
//! in `core/tests/fixtures/detect`), the false-positive guards, the grouping rules and the limits.

use proptest::prelude::*;

use super::*;
use crate::process::Stream;

/// Feeds `text` line by line (all on stderr, which must not matter) and renders what is found.
fn run(text: &str) -> Vec<String> {
    detections(text).iter().map(ToString::to_string).collect()
}

fn detections(text: &str) -> Vec<Detection> {
    let mut d = Detector::new();
    let mut out = Vec::new();
    for line in text.lines() {
        out.extend(d.feed(line, Stream::Stderr));
    }
    out.extend(d.finish());
    out
}

fn errors(text: &str) -> Vec<ErrorGroup> {
    detections(text)
        .into_iter()
        .filter_map(|d| match d {
            Detection::Error(g) => Some(g),
            _ => None,
        })
        .collect()
}

#[test]
fn typescript_plain_and_pretty() {
    assert_eq!(
        run("src/api.ts(4,26): error TS2339: Property 'nmae' does not exist on type 'User'."),
        ["error typescript src/api.ts:4:26 error TS2339: Property 'nmae' does not exist on type 'User'."]
    );
    let pretty = "\u{1b}[96msrc/api.ts\u{1b}[0m:\u{1b}[93m4\u{1b}[0m:\u{1b}[93m26\u{1b}[0m - \u{1b}[91merror\u{1b}[0m\u{1b}[90m TS2339: \u{1b}[0mProperty 'nmae' does not exist.

\u{1b}[7m4\u{1b}[0m   return user.nmae;
\u{1b}[7m \u{1b}[0m \u{1b}[91m              ~~~~\u{1b}[0m

  src/b.ts:1:16 - 'name' is declared here.
    1 type User = { name: string }
                   ~~~~

Found 1 error in src/api.ts\u{1b}[90m:4\u{1b}[0m
";
    let g = errors(pretty);
    assert_eq!(g.len(), 1);
    assert_eq!(g[0].to_string(), "typescript src/api.ts:4:26 error TS2339: Property 'nmae' does not exist.");
    assert_eq!(g[0].lines.len(), 8, "header, frame and related information: {:#?}", g[0].lines);
    assert_eq!(run(pretty).last().map(String::as_str), Some("build tsc failed"));
    assert_eq!(
        run("error TS5023: Unknown compiler option 'foo'."),
        ["error typescript - error TS5023: Unknown compiler option 'foo'."]
    );
}

#[test]
fn node_uncaught_exception_points_at_the_first_user_frame() {
    let log = "/app/server.js:4
  return users[id].profile.name;
                   ^

TypeError: Cannot read properties of undefined (reading 'profile')
    at getUser (/app/server.js:4:20)
    at Server.emit (node:events:524:28)

Node.js v20.20.2
after";
    let g = errors(log);
    assert_eq!(g.len(), 1);
    assert_eq!(
        g[0].to_string(),
        "node_stack /app/server.js:4:20 TypeError: Cannot read properties of undefined (reading 'profile')"
    );
    assert_eq!(g[0].lines.last().map(String::as_str), Some("Node.js v20.20.2"));
    // Internals first: the user frame wins, `file://` is dropped, the object block is kept.
    let log = "Error: ENOENT: no such file or directory, open './schema.json'
    at async open (node:internal/fs/promises:637:25)
    at async loadSchema (file:///app/esm.mjs:4:15)
    at async file:///app/esm.mjs:7:1 {
  errno: -2,
  code: 'ENOENT'
}";
    assert_eq!(
        run(log),
        ["error node_stack /app/esm.mjs:4:15 Error: ENOENT: no such file or directory, open './schema.json'"]
    );
}

#[test]
fn node_header_without_an_error_line_is_not_an_error() {
    let log = "/app/routes.js:12\nloaded\nGET / 200\nGET /a 200\nGET /b 200\nGET /c 200\nGET /d 200";
    let mut d = Detector::new();
    let found: Vec<_> = log.lines().flat_map(|l| d.feed(l, Stream::Stdout)).collect();
    assert!(found.is_empty(), "{found:?}");
    assert_eq!(d.stats().tentative_dropped, 1);
}

#[test]
fn js_error_line_needs_a_stack_unless_it_says_error() {
    assert!(run("TypeError: Cannot read properties of null (reading 'name')\n ❯ src/a.test.ts:7:62").is_empty());
    assert_eq!(run("Error: \"connection refused\"\n"), ["error generic - Error: \"connection refused\""]);
}

#[test]
fn vite_dev_errors_take_the_file_line() {
    let log = "6:20:38 PM [vite] Internal server error: Transform failed with 1 error:
/app/src/greet.ts:2:0: ERROR: Unterminated string literal
  Plugin: vite:esbuild
  File: /app/src/greet.ts:2:0
  
  Unterminated string literal
      at failureErrorWithLog (/app/node_modules/esbuild/lib/main.js:1752:15)
6:20:40 PM [vite] (client) page reload src/greet.ts";
    assert_eq!(
        run(log),
        [
            "error vite /app/src/greet.ts:2:0 Internal server error: Transform failed with 1 error:",
            "build vite rebuilt",
        ]
    );
    let build = "✗ Build failed in 108ms
error during build:
Could not resolve \"./nowhere\" from \"src/greet.ts\"
file: /app/src/greet.ts
    at getRollupError (file:///app/node_modules/rollup/dist/es/shared/parseAst.js:355:41)";
    assert_eq!(
        run(build),
        ["build vite failed", "error vite /app/src/greet.ts Could not resolve \"./nowhere\" from \"src/greet.ts\""]
    );
    let esbuild = "✘ [ERROR] Could not resolve \"./x\"\n\n    src/a.ts:1:21:\n      1 │ import './x'\n        ╵        ~~~~~\n\n1 error";
    assert_eq!(run(esbuild), ["error vite src/a.ts:1:21 Could not resolve \"./x\""]);
}

#[test]
fn webpack_error_blocks() {
    let log = "ERROR in ./src/label.js 2:23
Module parse failed: Unexpected token (2:23)
You may need an appropriate loader. See https://webpack.js.org/concepts#loaders
> 2 | export const broken = (;

webpack 5.113.0 compiled with 1 error in 76 ms";
    assert_eq!(
        run(log),
        ["error webpack ./src/label.js:2:23 Module parse failed: Unexpected token (2:23)", "build webpack failed"]
    );
    assert_eq!(
        run("[tsl] ERROR in /app/src/a.ts(4,26)\n      TS2339: Property 'x' does not exist\n"),
        ["error webpack /app/src/a.ts:4:26 TS2339: Property 'x' does not exist"]
    );
    // webpack's warnings are consumed whole, so their bodies cannot start errors.
    assert_eq!(run("WARNING in ./src/a.js\nerror: this text is inside a warning\n\n"), Vec::<String>::new());
}

/// Vite 8 (Rolldown, Oxc), captured from `vite build` and the dev server (vite 8.4.0): the
/// report ended at the blank line after `Build failed with 1 error:`, with that line as its
/// message and no location, which is only in the `╭─[ file:line:col ]` frame.
#[test]
fn vite8_rolldown_diagnostics_carry_their_message_and_location() {
    let build = "vite v8.4.0 building client environment for production...
transforming...
✓ 3 modules transformed.
✗ Build failed in 37ms
error during build:
Build failed with 1 error:

[builtin:vite-transform] Unexpected token
   ╭─[ src/App.tsx:3:13 ]
   │
 3 │   return 1 +;
   │             ┬  
   │             ╰── 
───╯

    at aggregateBindingErrorsIntoJsError (file:///app/node_modules/rolldown/dist/shared/error-z4CTM_u3.mjs:110:18)
    at unwrapBindingResult (file:///app/node_modules/rolldown/dist/shared/error-z4CTM_u3.mjs:78:128)
    at #build (file:///app/node_modules/rolldown/dist/shared/rolldown-Ccx9Bd9G.mjs:147:34)
    at async buildEnvironment (file:///app/node_modules/vite/dist/node/chunks/node.js:35414:66)
    at async Object.build (file:///app/node_modules/vite/dist/node/chunks/node.js:35850:19)
    at async Object.buildApp (file:///app/node_modules/vite/dist/node/chunks/node.js:35847:153)
    at async CAC.<anonymous> (file:///app/node_modules/vite/dist/node/cli.js:1032:3) {
  errors: [Getter/Setter]
}
";
    assert_eq!(
        run(build),
        ["build vite failed", "error vite src/App.tsx:3:13 [builtin:vite-transform] Unexpected token"]
    );
    let dev = "12:27:32 AM [vite] Internal server error: Transform failed with 1 error:

[PARSE_ERROR] Unexpected token
   ╭─[ src/App.tsx:3:13 ]
   │
 3 │   return 1 +;
   │             ┬  
   │             ╰── 
───╯

  Plugin: vite:oxc
  File: /app/src/App.tsx
      at transformWithOxc (file:///app/node_modules/vite/dist/node/chunks/node.js:7249:19)
      at TransformPluginContext.transform (file:///app/node_modules/vite/dist/node/chunks/node.js:7323:26)
      at TransformPluginContext.<anonymous> (file:///app/node_modules/vite/dist/node/chunks/node.js:34813:27)
      at EnvironmentPluginContainer.transform (file:///app/node_modules/vite/dist/node/chunks/node.js:8764:51)
      at async loadAndTransform (file:///app/node_modules/vite/dist/node/chunks/node.js:19302:26)
";
    assert_eq!(run(dev), ["error vite src/App.tsx:3:13 [PARSE_ERROR] Unexpected token"]);
}

#[test]
fn nextjs_overlays_and_failed_to_compile() {
    let dev = "   ▲ Next.js 15.5.29
 ⨯ TypeError: Cannot read properties of undefined (reading 'map')
    at Broken (app/broken/page.tsx:5:21)
> 5 |   return <ul>{items.map((i) => <li key={i.id}>{i.title}</li>)}</ul>;
 GET /broken 500 in 4938ms
 ⨯ ./app/syntax/page.tsx
Error:   x Expected '}', got '<eof>'
   ,-[/app/app/syntax/page.tsx:1:1]
 1 | export default function Syntax() { return <div>ok</div>;

Caused by:
    Syntax Error
 ✓ Compiled /_error in 1438ms (528 modules)";
    assert_eq!(
        run(dev),
        [
            "error nextjs app/broken/page.tsx:5:21 TypeError: Cannot read properties of undefined (reading 'map')",
            "error nextjs /app/app/syntax/page.tsx:1:1 Expected '}', got '<eof>'",
            "build nextjs compiled",
        ]
    );
    // Next.js 16: the same reports with `⨯` at the start of the line.
    let dev16 = dev.replace("   ▲ Next.js 15.5.29", "   ▲ Next.js 16.0.3").replace("\n ⨯ ", "\n⨯ ");
    assert!(dev16.contains("\n⨯ TypeError") && dev16.contains("\n⨯ ./app/syntax"));
    assert_eq!(
        run(&dev16),
        [
            "error nextjs app/broken/page.tsx:5:21 TypeError: Cannot read properties of undefined (reading 'map')",
            "error nextjs /app/app/syntax/page.tsx:1:1 Expected '}', got '<eof>'",
            "build nextjs compiled",
        ]
    );
    // Captured from `next dev` 16.4.6 (Turbopack): `⨯` at column 0.
    let captured = "▲ Next.js 16.4.6 (Turbopack)
- Local:         http://localhost:5288
- Network:       http://192.0.2.2:5288
✓ Ready in 602ms
✓ Running next.config took 10ms

○ Compiling /broken ...
⨯ TypeError: Cannot read properties of undefined (reading 'map')
    at Broken (app/broken/page.js:3:21)
  1 | export default function Broken() {
  2 |   const items = undefined;
> 3 |   return <ul>{items.map((i) => <li key={i}>{i}</li>)}</ul>;
    |                     ^
  4 | }
  5 | {
  digest: '725487718'
}
 GET /broken 500 in 372ms (next.js: 199ms, application-code: 173ms)
⨯ ./app/syntax/page.js:2:1
Error: Expected '}', got '<eof>'
  \u{1b}[90m1 |\u{1b}[0m \u{1b}[36mexport\u{1b}[0m \u{1b}[36mdefault\u{1b}[0m \u{1b}[36mfunction\u{1b}[0m \u{1b}[33mSyntax\u{1b}[0m() { \u{1b}[36mreturn\u{1b}[0m <div>ok</div>;
\u{1b}[31m\u{1b}[1m>\u{1b}[0m \u{1b}[90m2 |\u{1b}[0m
  \u{1b}[90m  |\u{1b}[0m \u{1b}[31m\u{1b}[1m^\u{1b}[0m

Parsing ecmascript source code failed


React encountered an empty buffer when writing in an environment that does not support ArrayBuffer.prototype.detached. This could be a security issue if the buffer was not actually empty. Please use a modern Edge runtime that supports ArrayBuffer.prototype.detached.
 GET /syntax 500 in 1854ms (next.js: 1727ms, application-code: 127ms)
";
    assert_eq!(
        run(captured),
        [
            "url http://localhost:5288",
            "url http://192.0.2.2:5288",
            "error nextjs app/broken/page.js:3:21 TypeError: Cannot read properties of undefined (reading 'map')",
            "error nextjs ./app/syntax/page.js:2:1 Expected '}', got '<eof>'",
        ]
    );
    let build = "   ▲ Next.js 15.5.29\nFailed to compile.\n\n./app/broken/page.tsx:5:9\nType error: Type 'string' is not assignable to type 'number'.\n\n  3 | x\n> 5 | y\nNext.js build worker exited with code: 1 and signal: null";
    assert_eq!(
        run(build),
        [
            "build nextjs failed",
            "error nextjs ./app/broken/page.tsx:5:9 Type error: Type 'string' is not assignable to type 'number'.",
        ]
    );
    // Next.js 16.2: the build compiles, then type checking fails; the last build event is the
    // failure, with the error's location (it used to end on "compiled").
    let build16 = "▲ Next.js 16.2.0 (Turbopack)\n\n  Creating an optimized production build ...\n✓ Compiled successfully in 5.7s\n  Running TypeScript  ...\nFailed to type check.\n\n./app/page.tsx:3:5\nType error: Type 'string' is not assignable to type 'number'.\n\n  1 | import Nav from \"../components/Nav\";\n> 3 | let x: number = 'abc'\n    |     ^\nNext.js build worker exited with code: 1 and signal: null";
    assert_eq!(
        run(build16),
        [
            "build nextjs compiled",
            "build nextjs failed",
            "error nextjs ./app/page.tsx:3:5 Type error: Type 'string' is not assignable to type 'number'.",
        ]
    );
    // create-react-app prints the same shape from webpack.
    assert_eq!(
        run("Failed to compile.\n\n./src/App.js\nModule not found: Can't resolve './x' in '/app/src'\n"),
        ["build webpack failed", "error webpack ./src/App.js Module not found: Can't resolve './x' in '/app/src'",]
    );
    assert_eq!(
        run("- error ./app/page.tsx:3:1\nSyntax error: Unexpected token\n"),
        ["error nextjs ./app/page.tsx:3:1 Syntax error: Unexpected token"]
    );
}

#[test]
fn rustc_errors_and_warnings() {
    let log = "error[E0425]: cannot find value `undefined_var` in this scope
  --> src/main.rs:11:20
   |
11 |     println!(\"{}\", undefined_var);
   |                    ^^^^^^^^^^^^^ not found in this scope

warning: unused variable: `e`
 --> src/lib.rs:3:9
  |
3 |     let e = \"error: inside a warning\";
  |         ^ help: prefix it with an underscore
  = note: `#[warn(unused_variables)]` on by default
    Finished `dev` profile [unoptimized + debuginfo] target(s) in 1.20s
error: could not compile `app` (bin \"app\") due to 1 previous error";
    assert_eq!(
        run(log),
        [
            "error rustc src/main.rs:11:20 error[E0425]: cannot find value `undefined_var` in this scope",
            "build cargo compiled",
            "build cargo failed",
        ]
    );
    // `error:` without a code is rustc's when `-->` follows, generic otherwise.
    assert_eq!(
        run("error: cannot find macro `foo` in this scope\n --> src/main.rs:2:5\n  |\n"),
        ["error rustc src/main.rs:2:5 error: cannot find macro `foo` in this scope"]
    );
    assert_eq!(
        run("error: linking with `cc` failed: exit status: 1\n  |\n  = note: ld: cannot find -lssl"),
        ["error generic - error: linking with `cc` failed: exit status: 1"]
    );
}

#[test]
fn rust_panics_new_and_old_format() {
    let log = "thread 'main' (11564) panicked at src/main.rs:18:30:
index out of bounds: the len is 3 but the index is 7
note: run with `RUST_BACKTRACE=1` environment variable to display a backtrace
listening on http://127.0.0.1:8080";
    assert_eq!(
        run(log),
        [
            "error rust_panic src/main.rs:18:30 index out of bounds: the len is 3 but the index is 7",
            "url http://127.0.0.1:8080",
        ]
    );
    assert_eq!(
        run("thread 'main' panicked at 'called `Option::unwrap()` on a `None` value', src/main.rs:3:7"),
        ["error rust_panic src/main.rs:3:7 called `Option::unwrap()` on a `None` value"]
    );
    let assert = "thread 'tests::a' (1) panicked at src/lib.rs:8:34:\nassertion `left == right` failed\n  left: -1\n right: -3\n\n";
    let g = errors(assert);
    assert_eq!(g[0].lines.len(), 4);
}

#[test]
fn go_compile_errors_and_panics() {
    assert_eq!(
        run(
            "# example.com/app\n./main.go:11:29: undefined: undefinedName\n./main.go:6:2: \"os\" imported and not used"
        ),
        [
            "error go_compile ./main.go:11:29 undefined: undefinedName",
            "error go_compile ./main.go:6:2 \"os\" imported and not used",
        ]
    );
    let panic = "panic: runtime error: integer divide by zero [recovered]
\tpanic: runtime error: integer divide by zero

goroutine 9 [running]:
testing.tRunner.func1.2({0x508da0, 0x5fda60})
\t/usr/lib/go-1.19/src/testing/testing.go:1396 +0x24e
panic({0x508da0, 0x5fda60})
\t/usr/lib/go-1.19/src/runtime/panic.go:884 +0x212
example.com/app/calc.Div(...)
\t/app/calc/calc.go:4
exit status 2
FAIL\texample.com/app/calc\t0.006s";
    assert_eq!(
        run(panic),
        [
            "error go_panic /app/calc/calc.go:4 panic: runtime error: integer divide by zero [recovered]",
            "test go passed=? failed=0 skipped=? total=? suite=example.com/app/calc",
        ]
    );
    assert_eq!(
        run(
            "fatal error: all goroutines are asleep - deadlock!\n\ngoroutine 1 [chan receive]:\nmain.main()\n\t/app/main.go:5 +0x2d\n"
        ),
        ["error go_panic /app/main.go:5 fatal error: all goroutines are asleep - deadlock!"]
    );
}

#[test]
fn python_tracebacks_chained_and_headerless() {
    let log = "Traceback (most recent call last):
  File \"/app/chained.py\", line 9, in get_user
    return query(uid)
ConnectionRefusedError: [Errno 111] Connection refused

During handling of the above exception, another exception occurred:

Traceback (most recent call last):
  File \"/app/chained.py\", line 11, in get_user
    raise DatabaseError(\"could not load user\")
  File \"/usr/lib/python3.11/logging/__init__.py\", line 1, in error
    pass
DatabaseError: could not load user
after";
    assert_eq!(run(log), ["error python_traceback /app/chained.py:11 DatabaseError: could not load user"]);
    assert_eq!(
        run("  File \"/app/bad.py\", line 1\n    def f(:\n          ^\nSyntaxError: invalid syntax"),
        ["error python_traceback /app/bad.py:1 SyntaxError: invalid syntax"]
    );
    // A logged error that introduces its traceback is one error.
    assert_eq!(
        run(
            "2026-11-27 18:18:46,263 ERROR worker: job failed\nTraceback (most recent call last):\n  File \"/app/w.py\", line 3, in h\n    x()\nKeyError: 'user'"
        ),
        ["error python_traceback /app/w.py:3 KeyError: 'user'"]
    );
}

#[test]
fn generic_error_lines() {
    assert_eq!(
        run("error: connect ECONNREFUSED 127.0.0.1:5432"),
        ["error generic - error: connect ECONNREFUSED 127.0.0.1:5432"]
    );
    assert_eq!(
        run("[web] [ERROR] Failed to load plugin 'react'"),
        ["error generic - [ERROR] Failed to load plugin 'react'"]
    );
    assert_eq!(run("2024-05-01T10:00:00Z ERROR db: pool exhausted"), ["error generic - ERROR db: pool exhausted"]);
    let npm = "npm ERR! code ELIFECYCLE\nnpm ERR! errno 1\nnpm ERR! app@1.0.0 dev: `node server.js`";
    let g = errors(npm);
    assert_eq!(g.len(), 1);
    assert_eq!(g[0].lines.len(), 3);
}

/// Linters people run in watch mode, captured from eslint 10.15, ruff 0.17.6 (full and concise)
/// and mypy: each error is one report at its file:line:col; warnings are not errors; the
/// summaries are neither errors nor builds.
#[test]
fn eslint_ruff_and_mypy_reports_are_errors_at_their_locations() {
    let eslint = "
/app/web/a.js
  1:7   error    'x' is assigned a value but never used  no-unused-vars
  2:1   error    'console' is not defined                no-undef
  2:1   warning  Unexpected console statement            no-console
  2:13  error    'foo' is not defined                    no-undef

/app/web/b.js
  1:5  error    'y' is assigned a value but never used  no-unused-vars
  2:1  error    'console' is not defined                no-undef
  2:1  warning  Unexpected console statement            no-console

✖ 7 problems (5 errors, 2 warnings)

";
    assert_eq!(
        run(eslint),
        [
            "error eslint /app/web/a.js:1:7 'x' is assigned a value but never used",
            "error eslint /app/web/a.js:2:1 'console' is not defined",
            "error eslint /app/web/a.js:2:13 'foo' is not defined",
            "error eslint /app/web/b.js:1:5 'y' is assigned a value but never used",
            "error eslint /app/web/b.js:2:1 'console' is not defined",
        ]
    );
    let want = [
        "error ruff src/app.py:1:1 Import block is un-sorted or un-formatted",
        "error ruff src/app.py:1:8 `os` imported but unused",
        "error ruff src/app.py:2:8 `sys` imported but unused",
        "error ruff src/app.py:5:16 Undefined name `undefined_name`",
    ];
    assert_eq!(
        run("I001 [*] Import block is un-sorted or un-formatted
 --> src/app.py:1:1
  |
1 | / import os
2 | | import sys
  | |__________^
3 |   x: int = \"a\"
4 |   def f(a):
  |
help: Organize imports
  |
2 | import sys
3 +
4 | x: int = \"a\"
  |

F401 [*] `os` imported but unused
 --> src/app.py:1:8
  |
1 | import os
  |        ^^
2 | import sys
3 | x: int = \"a\"
  |
help: Remove unused import: `os`
  |
  - import os
1 | import sys
  |

F401 [*] `sys` imported but unused
 --> src/app.py:2:8
  |
1 | import os
2 | import sys
  |        ^^^
3 | x: int = \"a\"
4 | def f(a):
  |
help: Remove unused import: `sys`
  |
1 | import os
  - import sys
2 | x: int = \"a\"
  |

F821 Undefined name `undefined_name`
 --> src/app.py:5:16
  |
3 | x: int = \"a\"
4 | def f(a):
5 |     return a + undefined_name
  |                ^^^^^^^^^^^^^^

Found 4 errors.
[*] 3 fixable with `--fix`.
"),
        want,
        "ruff full"
    );
    assert_eq!(
        run("src/app.py:1:1: I001 [*] Import block is un-sorted or un-formatted
src/app.py:1:8: F401 [*] `os` imported but unused
src/app.py:2:8: F401 [*] `sys` imported but unused
src/app.py:5:16: F821 Undefined name `undefined_name`
Found 4 errors.
[*] 3 fixable with `--fix`.
"),
        want,
        "ruff concise"
    );
    assert_eq!(
        run("src/app.py:3: error: Incompatible types in assignment (expression has type \"str\", variable has type \"int\")  [assignment]
Found 1 error in 1 file (checked 1 source file)
"),
        ["error mypy src/app.py:3 Incompatible types in assignment (expression has type \"str\", variable has type \"int\")  [assignment]"]
    );
    // A capital code alone is not a report: Ruff's full header needs its ` --> ` line.
    assert!(run("E2E tests done\nA1 sauce\nplain line\nGET /api 200").is_empty());
}

/// node --test's closing counts (spec `ℹ` and TAP `#`) and mocha's (printed before its failure
/// reports, so reported once they are read, or at the next line when nothing failed).
#[test]
fn node_test_and_mocha_summaries() {
    let spec = "ℹ tests 3\nℹ suites 0\nℹ pass 2\nℹ fail 1\nℹ cancelled 0\nℹ skipped 0\nℹ todo 0\nℹ duration_ms 41.2";
    assert_eq!(run(spec), ["test node passed=2 failed=1 skipped=0 total=3"]);
    let tap = spec.replace("ℹ ", "# ");
    assert_eq!(run(&tap), ["test node passed=2 failed=1 skipped=0 total=3"]);
    // Not a summary: a comment that is not a count, or counts without their closing line.
    assert!(run("# building docs\n# tests are flaky").is_empty());
    let green = "  cart\n    ✔ sums items\n\n  3 passing (4ms)\n  1 pending\nDone.";
    assert_eq!(run(green), ["test mocha passed=3 failed=0 skipped=1 total=?"]);
    let red = "  1 passing (4ms)\n  1 failing\n\n  1) cart\n       sums two items:\n     AssertionError: expected 7 to equal 8\n      at Context.<anonymous> (test/cart.test.js:10:12)\n";
    assert_eq!(
        run(red),
        [
            "error test_failure test/cart.test.js:10:12 cart sums two items: AssertionError: expected 7 to equal 8",
            "test mocha passed=1 failed=1 skipped=? total=?",
        ]
    );
}

/// Ruff's and mypy's summaries are not tsc builds (ruff's `Found 4 errors.` was taken for a
/// failed tsc build); after a tsc diagnostic the same words are tsc's.
#[test]
fn ruff_and_mypy_summaries_are_not_tsc_builds() {
    let ruff = "src/app.py:1:8: F401 [*] `os` imported but unused\nsrc/app.py:3:1: E402 Module level import not at top of file\nFound 2 errors.\n[*] 1 fixable with the `--fix` option.";
    assert!(!detections(ruff).iter().any(|d| matches!(d, Detection::Build(_))), "{:?}", detections(ruff));
    let mypy = "src/app.py:3: error: Incompatible types in assignment  [assignment]\nFound 1 error in 1 file (checked 4 source files)";
    assert!(!detections(mypy).iter().any(|d| matches!(d, Detection::Build(_))), "{:?}", detections(mypy));
    let tsc = "src/a.ts(1,2): error TS2322: x\nFound 1 error.";
    assert!(detections(tsc).iter().any(|d| matches!(d, Detection::Build(b) if b.outcome == BuildOutcome::Failed)));
}

#[test]
fn false_positive_guards() {
    let bait = "Found 0 errors. Watching for file changes.
GET /static/js/error-handler.js 200 1.1 ms
GET http://localhost:3000/static/error-handler.js 200
const ERROR_CODE = 'E_USER_MISSING';
ERROR_CODE_MAP loaded (42 codes)
errorHandler middleware registered
  console.error(\"error: this is source code, not output\")
    > 7 |   test('logs', () => { console.error('error: simulated') })
✖ 0 problems (0 errors, 0 warnings)
warning: unused variable: `x`
2 errors generated.
metrics_errors_total{route=\"/api\"} 0
Docs: https://expressjs.com/en/guide/error-handling.html
[HPM] Proxy created: /api  -> http://localhost:8080";
    // Only the tsc line is something (a build): no errors, no URLs.
    assert_eq!(run(bait), ["build tsc compiled"]);
}

#[test]
fn stderr_alone_never_makes_an_error() {
    let mut d = Detector::new();
    let mut found = Vec::new();
    for l in ["Compiling app v0.1.0", "Downloading crates ...", "npm warn deprecated inflight@1.0.6", "> app@1.0.0 dev"]
    {
        found.extend(d.feed(l, Stream::Stderr));
    }
    found.extend(d.finish());
    assert!(found.is_empty(), "{found:?}");
}

#[test]
fn urls_are_reported_with_their_browse_form() {
    let found = detections("  ➜  Network: http://0.0.0.0:5173/\u{1b}[0m.");
    let [Detection::Url(u)] = found.as_slice() else { panic!("{found:?}") };
    assert_eq!((u.url.as_str(), u.browse.as_str(), u.port), ("http://0.0.0.0:5173/", "http://localhost:5173/", 5173));
}

#[test]
fn urls_inside_error_groups_are_not_announcements() {
    let log = "TypeError: fetch failed\n    at http://localhost:3000/static/js/bundle.js:12:5\n    at main (/app/src/a.js:1:1)";
    assert_eq!(run(log), ["error node_stack /app/src/a.js:1:1 TypeError: fetch failed"]);
}

#[test]
fn first_build_compiles_later_ones_rebuild() {
    let log = "webpack 5.1.0 compiled successfully in 10 ms
webpack 5.1.0 compiled with 1 error in 10 ms
webpack 5.1.0 compiled successfully in 10 ms";
    assert_eq!(run(log), ["build webpack compiled", "build webpack failed", "build webpack rebuilt"]);
    assert_eq!(
        run(
            "06:20:08 PM - Found 4 errors. Watching for file changes.\n06:20:12 PM - Found 0 errors. Watching for file changes."
        ),
        ["build tsc failed", "build tsc rebuilt"]
    );
}

#[test]
fn finish_flushes_the_open_group_and_only_once() {
    let mut d = Detector::new();
    assert!(d.feed("error[E0308]: mismatched types", Stream::Stderr).is_empty());
    assert!(d.feed("  --> src/a.rs:1:2", Stream::Stderr).is_empty());
    assert!(d.has_open_group());
    let out = d.finish();
    assert_eq!(out.len(), 1);
    assert!(d.finish().is_empty());
    assert!(!d.has_open_group());
}

#[test]
fn a_group_that_never_ends_is_cut_at_the_span_limit() {
    let mut d = Detector::new();
    let mut found = d.feed("ERROR worker: crashed", Stream::Stdout);
    for i in 0..GROUP_SPAN_MAX * 2 {
        found.extend(d.feed(&format!("    detail {i}"), Stream::Stdout));
        assert!(d.open_group_lines() <= GROUP_LINES_MAX);
    }
    found.extend(d.finish());
    let Detection::Error(g) = &found[0] else { panic!("{found:?}") };
    assert_eq!(g.lines.len(), GROUP_LINES_MAX);
    assert_eq!(g.lines_dropped as usize, GROUP_SPAN_MAX - GROUP_LINES_MAX);
    assert_eq!(d.stats().groups_cut, 1);
    assert_eq!(d.stats().group_lines_dropped, (GROUP_SPAN_MAX - GROUP_LINES_MAX) as u64);
}

#[test]
fn long_lines_and_messages_are_truncated_and_counted() {
    let long = format!("Error: {}\n    at f (/app/a.js:1:1)", "x".repeat(5000));
    let mut d = Detector::new();
    let mut found = Vec::new();
    for l in long.lines() {
        found.extend(d.feed(l, Stream::Stdout));
    }
    found.extend(d.finish());
    let Detection::Error(g) = &found[0] else { panic!("{found:?}") };
    assert_eq!(g.message.len(), MESSAGE_BYTES_MAX);
    assert_eq!(g.lines[0].len(), LINE_BYTES_MAX);
    assert_eq!(d.stats().bytes_truncated, (5007 - MESSAGE_BYTES_MAX + 5007 - LINE_BYTES_MAX) as u64);
}

#[test]
fn test_summaries_from_the_detector() {
    assert_eq!(
        run("test result: ok. 2 passed; 0 failed; 1 ignored; 0 measured; 0 filtered out; finished in 0.00s"),
        ["test cargo passed=2 failed=0 skipped=1 total=3"]
    );
    assert_eq!(
        run("Tests:       2 failed, 1 skipped, 2 passed, 5 total"),
        ["test jest passed=2 failed=2 skipped=1 total=5"]
    );
}

#[test]
fn detections_map_to_one_line_bus_events() {
    use crate::bus::{Event, ProcessRef};
    use std::sync::Arc;
    let p = ProcessRef::new(3, Arc::from("web"));
    let found = detections(
        "Local: http://0.0.0.0:3000/\nsrc/a.ts(1,2): error TS2322: x\nFound 1 error.\nTests:       1 failed, 2 passed, 3 total",
    );
    let events: Vec<String> = found.iter().map(|d| Event::detected(p.clone(), d.clone()).to_string()).collect();
    assert_eq!(
        events,
        [
            "url web#3 http://localhost:3000/",
            "error web#3 typescript src/a.ts:1:2 error TS2322: x",
            "build web#3 tsc failed",
            "test web#3 passed=2 failed=1",
        ]
    );
    assert!(matches!(Event::detected(p, found[1].clone()), Event::ErrorDetected { .. }));
}

#[test]
fn kind_names_round_trip() {
    for k in ErrorKind::ALL {
        assert_eq!(ErrorKind::from_name(k.name()), Some(k));
    }
}

/// Lines that open, continue and close every kind of group, mixed with arbitrary text.
fn line_strategy() -> impl Strategy<Value = String> {
    let fragments = prop::sample::select(vec![
        "Traceback (most recent call last):",
        "  File \"/a.py\", line 3, in f",
        "KeyError: 'x'",
        "thread 'main' panicked at src/a.rs:1:2:",
        "panic: boom",
        "goroutine 1 [running]:",
        "\t/a/main.go:4 +0x1",
        "error[E0308]: mismatched types",
        "  --> src/a.rs:1:2",
        "warning: unused",
        "ERROR in ./src/a.js 1:2",
        "error during build:",
        "✘ [ERROR] x",
        " ⨯ ./app/page.tsx",
        "Failed to compile.",
        "./app/page.tsx:1:2",
        "/app/a.js:3",
        "TypeError: x",
        "    at f (/a.js:1:2)",
        "    at g (/a.js:1:2) {",
        "}",
        "Node.js v20.0.0",
        "6:00:00 PM [vite] Internal server error: x",
        "  File: /a.ts:1:2",
        "src/a.ts(1,2): error TS1: x",
        "src/a.ts:1:2 - error TS1: x",
        "./main.go:1:2: x",
        "ERROR worker: x",
        "npm ERR! x",
        "Local: http://0.0.0.0:3000/",
        "http://[::]:1/",
        "test result: ok. 1 passed; 0 failed; 0 ignored",
        "--- FAIL: TestX (0.00s)",
        "FAIL\tpkg\t0.1s",
        "",
        "    ",
        "\u{1b}[31m",
    ]);
    prop_oneof![
        3 => fragments.prop_map(str::to_string),
        1 => any::<String>(),
        1 => "[ -~\\t\u{1b}\r]{0,80}",
    ]
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(2048))]

    /// Two lines with one lead key get one verdict from the gate's first clauses: what lets
    /// `pass_inert` reuse the last verdict for a line led the same way. Heads that share a
    /// prefix and differ after it (digits of a Ruff code, `M ` of a stamp, a space early or
    /// late) are where a key that read too little would collide.
    #[test]
    fn lines_with_one_lead_key_get_one_lead_verdict(
        head in "[AMPGBFa-c0-9 ]{1,9}",
        a in "[AMa-c0-9 :]{0,8}",
        b in "[AMa-c0-9 :]{0,8}",
    ) {
        let (x, y) = (format!("{head}{a}"), format!("{head}{b}"));
        let key = detector::lead_key(x.as_bytes());
        if key.is_some() && key == detector::lead_key(y.as_bytes()) {
            prop_assert_eq!(detector::inert_lead(x.as_bytes()), detector::inert_lead(y.as_bytes()), "{:?} {:?}", x, y);
        }
        // And the key is that of the lead up to the first space, when it is in the first 8.
        let space = x.bytes().take(8).position(|c| c == b' ');
        prop_assert_eq!(key.is_some(), x.len() >= 8 && space.is_some());
    }
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(512))]

    /// The probe's one-pass shortcut answers what the four substring searches would.
    #[test]
    fn the_probe_equals_its_substring_searches(line in "([a-z ]|\\[vite\\] |error TS|\\.go:|http://x|S|:|\\[){0,12}") {
        let p = outcome::Probe::of(&line);
        prop_assert_eq!(
            (p.vite, p.ts, p.go, p.colon),
            (line.contains("[vite] "), line.contains("error TS"), line.contains(".go:"), line.contains(':'))
        );
        prop_assert_eq!(outcome::after_vite(&line), line.split_once("[vite] ").map(|(_, rest)| rest));
    }

    /// Whatever the input, the detector never panics, never holds more than `GROUP_LINES_MAX`
    /// lines, and every group it reports respects the line, byte and message limits.
    #[test]
    fn arbitrary_input_never_panics_and_stays_bounded(lines in prop::collection::vec(line_strategy(), 0..400)) {
        let mut d = Detector::new();
        let mut found = Vec::new();
        for (i, l) in lines.iter().enumerate() {
            let stream = if i % 3 == 0 { Stream::Stderr } else { Stream::Stdout };
            found.extend(d.feed(l, stream));
            prop_assert!(d.open_group_lines() <= GROUP_LINES_MAX);
        }
        found.extend(d.finish());
        prop_assert!(!d.has_open_group());
        for f in &found {
            let one_line = f.to_string();
            prop_assert!(!one_line.contains('\n'), "Display must be one line: {one_line:?}");
            if let Detection::Error(g) = f {
                prop_assert!(g.lines.len() <= GROUP_LINES_MAX);
                prop_assert!(g.lines.iter().all(|l| l.len() <= LINE_BYTES_MAX));
                prop_assert!(g.message.len() <= MESSAGE_BYTES_MAX);
            }
        }
        prop_assert_eq!(d.stats().lines, lines.len() as u64);
    }
}

/// `file:line:col function own` for each frame, innermost first.
fn frames(g: &ErrorGroup) -> Vec<String> {
    g.frames
        .iter()
        .map(|f| {
            format!("{} {} {}", f.location, f.function.as_deref().unwrap_or("-"), if f.own { "own" } else { "lib" })
        })
        .collect()
}

#[test]
fn node_stack_frames_cjs_esm_and_internal() {
    let log = "TypeError: Cannot read properties of undefined (reading 'id')
    at Object.first (/app/node_modules/lodash/first.js:3:10)
    at getUser (/app/src/users.js:4:20)
    at async handler (file:///app/src/server.mjs:12:5)
    at new Promise (<anonymous>)
    at file:///app/src/server.mjs:20:1
    at process.processTicksAndRejections (node:internal/process/task_queues:95:5)";
    let g = errors(log);
    assert_eq!(g.len(), 1);
    assert_eq!(
        frames(&g[0]),
        [
            "/app/node_modules/lodash/first.js:3:10 Object.first lib",
            "/app/src/users.js:4:20 getUser own",
            "/app/src/server.mjs:12:5 handler own",
            "/app/src/server.mjs:20:1 - own",
            "node:internal/process/task_queues:95:5 process.processTicksAndRejections lib",
        ]
    );
    assert_eq!(g[0].location.as_ref().map(ToString::to_string).as_deref(), Some("/app/src/users.js:4:20"));
}

#[test]
fn python_frames_innermost_first_and_primary_is_innermost_own() {
    let log = "Traceback (most recent call last):
  File \"/app/web.py\", line 30, in handle
    return order(req)
  File \"/app/web.py\", line 11, in order
    return json.loads(body)
  File \"/usr/lib/python3.11/json/__init__.py\", line 346, in loads
    return _default_decoder.decode(s)
json.decoder.JSONDecodeError: Expecting value: line 1 column 1 (char 0)";
    let g = errors(log);
    assert_eq!(
        frames(&g[0]),
        ["/usr/lib/python3.11/json/__init__.py:346 loads lib", "/app/web.py:11 order own", "/app/web.py:30 handle own",]
    );
    assert_eq!(g[0].location.as_ref().map(ToString::to_string).as_deref(), Some("/app/web.py:11"));
}

#[test]
fn rust_backtrace_frames_std_and_registry_are_not_own() {
    let log = "thread 'main' panicked at /home/u/.cargo/registry/src/index.crates.io-6f17d22bba15001f/serde_json-1.0.1/src/de.rs:10:5:
called `Result::unwrap()` on an `Err` value: Eof
stack backtrace:
   0: __rustc::rust_begin_unwind
             at /rustc/4d91de4e48198da2e33413efdcd9cd2cc0c46688/library/std/src/panicking.rs:697:5
   1: serde_json::de::from_str
             at /home/u/.cargo/registry/src/index.crates.io-6f17d22bba15001f/serde_json-1.0.1/src/de.rs:10:5
   2: app::load
             at ./src/main.rs:18:30
   3: app::main
             at ./src/main.rs:5:5
note: Some details are omitted, run with `RUST_BACKTRACE=full` for a verbose backtrace.";
    let g = errors(log);
    assert_eq!(g.len(), 1);
    assert_eq!(
        frames(&g[0]),
        [
            "/rustc/4d91de4e48198da2e33413efdcd9cd2cc0c46688/library/std/src/panicking.rs:697:5 __rustc::rust_begin_unwind lib",
            "/home/u/.cargo/registry/src/index.crates.io-6f17d22bba15001f/serde_json-1.0.1/src/de.rs:10:5 serde_json::de::from_str lib",
            "./src/main.rs:18:30 app::load own",
            "./src/main.rs:5:5 app::main own",
        ]
    );
    // The panic is in a dependency: the first own frame is where to look.
    assert_eq!(g[0].location.as_ref().map(ToString::to_string).as_deref(), Some("./src/main.rs:18:30"));
}

#[test]
fn go_panic_frames_stop_at_the_next_goroutine() {
    let log = "panic: runtime error: integer divide by zero [recovered]
\tpanic: runtime error: integer divide by zero

goroutine 9 [running]:
testing.tRunner.func1.2({0x508da0, 0x5fda60})
\t/usr/lib/go-1.19/src/testing/testing.go:1396 +0x24e
panic({0x508da0, 0x5fda60})
\t/usr/local/go/src/runtime/panic.go:884 +0x212
example.com/app/calc.Div(...)
\t/tmp/dc/go/app/calc/calc.go:4
example.com/app/calc.TestDivZero.func2(0xc000007d40?)
\t/tmp/dc/go/app/calc/calc_test.go:18 +0x12
created by testing.(*T).Run in goroutine 1
\t/usr/lib/go-1.19/src/testing/testing.go:1493 +0x35f

goroutine 1 [chan receive]:
main.wait()
\t/tmp/dc/go/app/main.go:9 +0x1";
    let g = errors(log);
    assert_eq!(g.len(), 1);
    assert_eq!(
        frames(&g[0]),
        [
            "/usr/lib/go-1.19/src/testing/testing.go:1396 testing.tRunner.func1.2 lib",
            "/usr/local/go/src/runtime/panic.go:884 panic lib",
            "/tmp/dc/go/app/calc/calc.go:4 example.com/app/calc.Div own",
            "/tmp/dc/go/app/calc/calc_test.go:18 example.com/app/calc.TestDivZero.func2 own",
            "/usr/lib/go-1.19/src/testing/testing.go:1493 testing.(*T).Run lib",
        ]
    );
    assert_eq!(g[0].location.as_ref().map(ToString::to_string).as_deref(), Some("/tmp/dc/go/app/calc/calc.go:4"));
}

#[test]
fn frames_are_bounded_and_counted() {
    let mut log = String::from("Traceback (most recent call last):\n");
    for i in 0..(FRAMES_MAX + 10) {
        log.push_str(&format!("  File \"/app/r.py\", line {i}, in f\n    f()\n"));
    }
    log.push_str("RecursionError: maximum recursion depth exceeded\n");
    let mut d = Detector::new();
    let mut out = Vec::new();
    for l in log.lines() {
        out.extend(d.feed(l, Stream::Stderr));
    }
    out.extend(d.finish());
    let Some(Detection::Error(g)) = out.first() else { panic!("{out:?}") };
    assert_eq!(g.frames.len(), FRAMES_MAX);
    // Python's innermost frames are kept: the last printed is first.
    assert_eq!(g.frames[0].location.line, Some(u32::try_from(FRAMES_MAX + 9).unwrap()));
    assert_eq!(d.stats().frames_dropped, 10);
}

/// The test failures and the summaries, rendered `name @ location: message`.
fn failures(text: &str) -> (Vec<String>, Vec<String>) {
    let found = detections(text);
    let errs = found
        .iter()
        .filter_map(|d| match d {
            Detection::Error(g) if g.kind == ErrorKind::TestFailure => Some(g.to_string()),
            _ => None,
        })
        .collect();
    let listed = found
        .iter()
        .filter_map(|d| match d {
            Detection::Test(s) => Some(s),
            _ => None,
        })
        .flat_map(|s| s.failures.iter())
        .map(|f| {
            let loc = f.location.as_ref().map_or_else(|| "-".to_string(), ToString::to_string);
            format!("{} @ {loc}: {}", f.name, f.message.as_deref().unwrap_or("-"))
        })
        .collect();
    (errs, listed)
}

#[test]
fn jest_failures_and_recap() {
    // jest 30, captured here.
    let log = "FAIL m/calc2.test.js
  ✕ top level
  calc
    ✕ first name

  ● calc › first name

    TypeError: Cannot read properties of undefined (reading 'name')

      1 | function add(a, b) { return a + b + 1 }
    > 2 | function first(xs) { return xs[0].name }
        |                                   ^

      at name (calc.js:2:35)
      at Object.first (calc2.test.js:8:28)

  ● top level

    expect(received).toBeTruthy()

    Received: false

    > 10 | it('top level', () => { expect(false).toBeTruthy(); });
         |                                       ^

      at Object.toBeTruthy (calc2.test.js:10:39)

Summary of all failing tests
FAIL m/calc2.test.js
  ● top level

    expect(received).toBeTruthy()

      at Object.toBeTruthy (calc2.test.js:10:39)

Test Suites: 1 failed, 1 total
Tests:       2 failed, 2 passed, 4 total";
    let (errs, listed) = failures(log);
    assert_eq!(
        errs,
        [
            "test_failure calc.js:2:35 calc › first name: TypeError: Cannot read properties of undefined (reading 'name')",
            "test_failure calc2.test.js:10:39 top level: expect(received).toBeTruthy()",
        ]
    );
    assert_eq!(
        listed,
        [
            "calc › first name @ calc2.test.js:8:28: TypeError: Cannot read properties of undefined (reading 'name')",
            "top level @ calc2.test.js:10:39: expect(received).toBeTruthy()",
        ]
    );
    // jest's console blocks are not failures.
    assert!(failures("  ● Console\n\n    console.log\n      hi\n").0.is_empty());
}

#[test]
fn vitest_failures() {
    // vitest 3.2, from the corpus.
    let log = " FAIL  src/greet.test.ts > greet > handles empty
AssertionError: expected 'hello ' to be 'hello' // Object.is equality

Expected: \"hello\"
Received: \"hello \"

 ❯ src/greet.test.ts:5:49
      3| describe('greet', () => {
      5|   it('handles empty', () => { expect(greet('')).toBe('hello') })
       |                                                 ^

⎯⎯⎯⎯⎯⎯⎯⎯⎯⎯⎯⎯⎯⎯⎯⎯⎯⎯⎯⎯⎯⎯⎯⎯[1/2]⎯

 FAIL  src/greet.test.ts > greet > throws on null
TypeError: Cannot read properties of null (reading 'name')
 ❯ src/greet.test.ts:7:62

⎯⎯⎯⎯⎯⎯⎯⎯⎯⎯⎯⎯⎯⎯⎯⎯⎯⎯⎯⎯⎯⎯⎯⎯[2/2]⎯


 Test Files  1 failed | 1 passed (2)
      Tests  2 failed | 3 passed | 1 skipped (6)";
    let (errs, listed) = failures(log);
    assert_eq!(
        errs,
        [
            "test_failure src/greet.test.ts:5:49 greet > handles empty: AssertionError: expected 'hello ' to be 'hello' // Object.is equality",
            "test_failure src/greet.test.ts:7:62 greet > throws on null: TypeError: Cannot read properties of null (reading 'name')",
        ]
    );
    assert_eq!(listed.len(), 2);
}

#[test]
fn mocha_failures_after_its_progress_list() {
    // mocha 11, captured here: the progress list's `1) top level` has no colon.
    let log = "
  1) top level
  calc
    2) first name

  1 passing (4ms)
  2 failing

  1) top level:

      AssertionError [ERR_ASSERTION]: nope
      + expected - actual

      -false
      +true
      
      at Context.<anonymous> (m/calc.test.js:10:32)
      at process.processImmediate (node:internal/timers:483:21)

  2) calc
       first name:
     TypeError: Cannot read properties of undefined (reading 'name')
      at first (m/calc.js:2:35)
      at Context.<anonymous> (m/calc.test.js:8:28)
      at process.processImmediate (node:internal/timers:483:21)

";
    let found = errors(log);
    let shown: Vec<String> = found.iter().map(ToString::to_string).collect();
    assert_eq!(
        shown,
        [
            "test_failure m/calc.test.js:10:32 top level: AssertionError [ERR_ASSERTION]: nope",
            "test_failure m/calc.js:2:35 calc first name: TypeError: Cannot read properties of undefined (reading 'name')",
        ]
    );
    assert_eq!(frames(&found[1]).len(), 3);
}

#[test]
fn node_test_runner_tap_and_spec() {
    // node 20 --test-reporter=tap, captured here: the parent of a failing subtest is not a failure.
    let tap = "TAP version 13
# Subtest: adds
not ok 1 - adds
  ---
  duration_ms: 3.063522
  location: '/tmp/t/test.js:4:1'
  failureType: 'testCodeFailure'
  error: |-
    Expected values to be strictly equal:
    
    4 !== 3
    
  code: 'ERR_ASSERTION'
  name: 'AssertionError'
  stack: |-
    TestContext.<anonymous> (/tmp/t/test.js:5:10)
    Test.runInAsyncScope (node:async_hooks:206:9)
  ...
# Subtest: math
    # Subtest: subtracts
    not ok 2 - subtracts
      ---
      duration_ms: 0.342109
      location: '/tmp/t/test.js:9:11'
      failureType: 'testCodeFailure'
      error: 'nope'
      code: 'ERR_ASSERTION'
      stack: |-
        TestContext.<anonymous> (/tmp/t/test.js:9:44)
      ...
    1..2
not ok 2 - math
  ---
  duration_ms: 1.250903
  location: '/tmp/t/test.js:7:1'
  failureType: 'subtestsFailed'
  error: '1 subtest failed'
  ...
1..2
# tests 4";
    let shown: Vec<String> = errors(tap).iter().map(ToString::to_string).collect();
    assert_eq!(
        shown,
        [
            "test_failure /tmp/t/test.js:5:10 adds: Expected values to be strictly equal:",
            "test_failure /tmp/t/test.js:9:44 subtracts: nope",
        ]
    );
    // The spec reporter (node 20's default on a terminal); its recap repeats each failure.
    let spec = "✖ adds (2.481676ms)
  AssertionError [ERR_ASSERTION]: Expected values to be strictly equal:
  
  4 !== 3
  
      at TestContext.<anonymous> (/tmp/t/test.js:5:10)
      at Test.runInAsyncScope (node:async_hooks:206:9) {
    generatedMessage: true,
    code: 'ERR_ASSERTION'
  }

▶ math
  ✔ passes (0.171325ms)
  ✖ subtracts (0.20143ms)
    AssertionError [ERR_ASSERTION]: nope
        at TestContext.<anonymous> (/tmp/t/test.js:9:44)
        at async Test.run (node:internal/test_runner/test:797:9) {
      code: 'ERR_ASSERTION'
    }

✖ math (0.814062ms)
ℹ tests 4
ℹ fail 3

✖ failing tests:

test at test.js:4:1
✖ adds (2.481676ms)
  AssertionError [ERR_ASSERTION]: Expected values to be strictly equal:
      at TestContext.<anonymous> (/tmp/t/test.js:5:10)
  }
";
    let mut d = Detector::new();
    let mut out = Vec::new();
    for l in spec.lines() {
        out.extend(d.feed(l, Stream::Stdout));
    }
    out.extend(d.finish());
    let shown: Vec<String> = out.iter().map(ToString::to_string).collect();
    assert_eq!(
        shown,
        [
            "error test_failure /tmp/t/test.js:5:10 adds: AssertionError [ERR_ASSERTION]: Expected values to be strictly equal:",
            "error test_failure /tmp/t/test.js:9:44 subtracts: AssertionError [ERR_ASSERTION]: nope",
        ]
    );
    assert_eq!(d.stats().test_recaps_skipped, 1);
}

#[test]
fn pytest_sections_and_short_summary() {
    // pytest 9, from the corpus (shortened).
    let log = "=================================== FAILURES ===================================
_____________________________ test_total_discount ______________________________

    def test_total_discount():
>       assert total([{\"price\": 10, \"qty\": 1}]) == 9
E       AssertionError: assert 10 == 9
E        +  where 10 = total([{'price': 10, 'qty': 1}])

tests/test_cart.py:13: AssertionError
____________________________ test_total_missing_qty ____________________________

    def test_total_missing_qty():
>       assert total([{\"price\": 10}]) == 10

tests/test_cart.py:16: 
_ _ _ _ _ _ _ _ _ _ _ _ _ _ _ _ _ _ _ _ _ _ _ _ _ _ _ _ _ _ _ _ _ _ _ _ _ _ _ _ 
src/cart.py:4: in total
    return sum(i[\"price\"] * i[\"qty\"] for i in items)
_ _ _ _ _ _ _ _ _ _ _ _ _ _ _ _ _ _ _ _ _ _ _ _ _ _ _ _ _ _ _ _ _ _ _ _ _ _ _ _ 

>   return sum(i[\"price\"] * i[\"qty\"] for i in items)
E   KeyError: 'qty'

src/cart.py:4: KeyError
=========================== short test summary info ============================
FAILED tests/test_cart.py::test_total_discount - AssertionError: assert 10 == 9
FAILED tests/test_cart.py::test_total_missing_qty - KeyError: 'qty'
FAILED tests/test_other.py::TestX::test_y - ValueError: no section (--tb=no)
==================== 3 failed, 3 passed, 1 skipped in 0.26s ====================";
    let (errs, listed) = failures(log);
    assert_eq!(
        errs,
        [
            "test_failure tests/test_cart.py:13 test_total_discount: AssertionError: assert 10 == 9",
            "test_failure src/cart.py:4 test_total_missing_qty: KeyError: 'qty'",
            "test_failure tests/test_other.py tests/test_other.py::TestX::test_y: ValueError: no section (--tb=no)",
        ]
    );
    assert_eq!(
        listed,
        [
            "tests/test_cart.py::test_total_discount @ tests/test_cart.py:13: AssertionError: assert 10 == 9",
            "tests/test_cart.py::test_total_missing_qty @ tests/test_cart.py:16: KeyError: 'qty'",
            "tests/test_other.py::TestX::test_y @ tests/test_other.py: ValueError: no section (--tb=no)",
        ]
    );
}

#[test]
fn go_test_failures_verbose_and_quiet() {
    // go test -v prints the message before `--- FAIL`; without -v, after it (corpus samples).
    let verbose = "=== RUN   TestAdd
--- PASS: TestAdd (0.00s)
=== RUN   TestAddNegative
    calc_test.go:13: Add(-2, 1) = -1, want -3
--- FAIL: TestAddNegative (0.00s)
=== RUN   TestSkipped
    calc_test.go:17: needs database
--- SKIP: TestSkipped (0.00s)
FAIL
FAIL\texample.com/app/calc\t0.006s";
    let quiet = "--- FAIL: TestAddNegative (0.00s)
    calc_test.go:13: Add(-2, 1) = -1, want -3
FAIL
FAIL\texample.com/app/calc\t0.007s";
    for log in [verbose, quiet] {
        let (errs, listed) = failures(log);
        assert_eq!(errs, ["test_failure calc_test.go:13 TestAddNegative: Add(-2, 1) = -1, want -3"], "{log}");
        assert_eq!(listed, ["TestAddNegative @ calc_test.go:13: Add(-2, 1) = -1, want -3"]);
    }
    let sub = "--- FAIL: TestDiv (0.00s)
    --- FAIL: TestDiv/by_zero (0.00s)
        calc_test.go:18: got 0
FAIL\texample.com/app/calc\t0.007s";
    assert_eq!(failures(sub).0, ["test_failure calc_test.go:18 TestDiv/by_zero: got 0"]);
}

#[test]
fn cargo_test_failures() {
    // cargo test, from the corpus.
    let log = "failures:

---- tests::adds_negative stdout ----

thread 'tests::adds_negative' (11843) panicked at src/lib.rs:8:34:
assertion `left == right` failed
  left: -1
 right: -3
note: run with `RUST_BACKTRACE=1` environment variable to display a backtrace

---- tests::result_err stdout ----
Error: \"connection refused\"

---- tests::quiet stdout ----
just some output


failures:
    tests::adds_negative
    tests::result_err

test result: FAILED. 2 passed; 2 failed; 1 ignored; 0 measured; 0 filtered out; finished in 0.02s";
    let (errs, listed) = failures(log);
    assert_eq!(
        errs,
        [
            "test_failure src/lib.rs:8:34 tests::adds_negative: assertion `left == right` failed",
            "test_failure - tests::result_err: \"connection refused\"",
        ]
    );
    assert_eq!(listed.len(), 2);
    assert_eq!(listed[0], "tests::adds_negative @ src/lib.rs:8:34: assertion `left == right` failed");
}

#[test]
fn failures_listed_per_summary_are_bounded() {
    let mut log = String::new();
    for i in 0..(FAILURES_MAX + 3) {
        log.push_str(&format!("--- FAIL: Test{i} (0.00s)\n    a_test.go:{}: bad\n", i + 1));
    }
    log.push_str("FAIL\tex.com/a\t0.1s\n");
    let mut d = Detector::new();
    let mut out = Vec::new();
    for l in log.lines() {
        out.extend(d.feed(l, Stream::Stdout));
    }
    let Some(Detection::Test(s)) = out.last() else { panic!() };
    assert_eq!(s.failures.len(), FAILURES_MAX);
    assert_eq!(d.stats().failures_dropped, 3);
    assert_eq!(s.failed, u32::try_from(FAILURES_MAX + 3).unwrap());
}

/// Feeds `lines` to a detector with [`detector::inert`]'s gate and to one without it; both
/// must find the same things in the same order and count the same, apart from the gate's own
/// count. Returns how many lines the gate passed over.
fn gate_agrees(lines: &[&str]) -> Result<u64, String> {
    let mut gated = Detector::new();
    let mut full = Detector::new();
    full.ungated = true;
    let (mut a, mut b) = (Vec::new(), Vec::new());
    for (i, line) in lines.iter().enumerate() {
        let stream = if i % 3 == 0 { Stream::Stderr } else { Stream::Stdout };
        gated.feed_plain(line, stream, &mut a);
        full.feed_plain(line, stream, &mut b);
        if a != b {
            return Err(format!("after line {i} {line:?}: gated {a:?}, full {b:?}"));
        }
    }
    a.extend(gated.finish());
    b.extend(full.finish());
    let inert = gated.stats().lines_inert;
    let mut s = gated.stats();
    s.lines_inert = 0;
    if a != b || s != full.stats() {
        return Err(format!("at the end: gated {a:?} {s:?}, full {b:?} {:?}", full.stats()));
    }
    batch_agrees(lines)?;
    Ok(inert)
}

thread_local! {
    /// Lines [`batch_agrees`] saw passed over, for the corpus test to check.
    static BATCH_PASSED: std::cell::Cell<u64> = const { std::cell::Cell::new(0) };
}

/// [`gate_agrees`] for [`Detector::feed_batch`]: the lines in batches of 200, 1, 7 and 3 (so
/// runs cross [`MARK_WINDOW_BYTES`](detector) and batch ends), fed as the publisher feeds
/// them, against an ungated detector fed line by line; the same detections after the same
/// lines, the same counts.
fn batch_agrees(lines: &[&str]) -> Result<(), String> {
    let mut gated = Detector::new();
    let mut full = Detector::new();
    full.ungated = true;
    let (mut a, mut b) = (Vec::new(), Vec::new());
    let (mut at, mut k) = (0, 0);
    while at < lines.len() {
        let n = [200, 1, 7, 3][k % 4].min(lines.len() - at);
        let stream = if k % 3 == 0 { Stream::Stderr } else { Stream::Stdout };
        let batch = crate::lines::LineBatch::of(lines[at..at + n].iter().copied());
        let mut i = 0;
        while i < batch.len() {
            let one_by_one = gated.stats().lines_inert - gated.passed_in_runs;
            let next = gated.feed_batch(&batch, i, stream, &mut a);
            // An inert line at rest is passed over in a run unless it has escapes (its plain
            // text is elsewhere) or is too long for a window: line by line, never otherwise.
            let excused = batch.iter().skip(i).take(next.saturating_sub(i)).filter(|l| l.styled || l.text.len() > 4096);
            if gated.stats().lines_inert - gated.passed_in_runs - one_by_one > excused.count() as u64 {
                return Err(format!("lines {}..{} were passed over one by one, not in a run", at + i, at + next));
            }
            if next <= i {
                return Err(format!("feed_batch at line {} went nowhere", at + i));
            }
            // It stops right after a line that completed something, and only there.
            let mut stop = batch.len();
            for (j, line) in batch.iter().enumerate().skip(i) {
                let before = b.len();
                full.feed_plain(line.plain, stream, &mut b);
                if b.len() > before {
                    stop = j + 1;
                    break;
                }
            }
            if next != stop {
                return Err(format!("feed_batch from line {} stopped at {next}, not {stop}", at + i));
            }
            i = next;
            if a != b {
                return Err(format!("by line {}: batched {a:?}, full {b:?}", at + i - 1));
            }
        }
        at += n;
        k += 1;
    }
    a.extend(gated.finish());
    b.extend(full.finish());
    let mut s = gated.stats();
    BATCH_PASSED.with(|p| p.set(p.get() + gated.passed_in_runs));
    s.lines_inert = 0;
    if a != b || s != full.stats() {
        return Err(format!("at the end: batched {a:?} {s:?}, full {b:?} {:?}", full.stats()));
    }
    Ok(())
}

/// Lines the gate must pass over, and lines one character away from a recogniser's.
const GATE_NOISE: [&str; 8] = [
    "GET /api/items/42 200 3.4ms request_id=0a1b2c3d",
    "POST /api/orders 201 12ms",
    "hmr update /src/App.tsx",
    "Listening on port 3000",
    "compiled client and server successfully in 1208 ms (312 modules)",
    "Ready in 1.2s",
    "Got Error in handler",
    "\"GET / HTTP/1.1\" 200 1234",
];

/// Every sample of the corpus, alone and with request-log noise between its lines: the gate
/// changes nothing detection reports, and it does pass the noise over.
#[test]
fn the_inert_gate_changes_nothing_on_the_corpus() {
    let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/detect");
    let mut files: Vec<_> = std::fs::read_dir(&dir)
        .expect("fixtures/detect")
        .map(|e| e.expect("dir entry").path())
        .filter(|p| p.extension().is_some_and(|x| x == "log"))
        .collect();
    files.sort();
    assert!(files.len() >= 50, "the corpus: {} logs", files.len());
    let mut passed_over = 0;
    for f in &files {
        let text = crate::ansi::strip(&std::fs::read_to_string(f).expect("a sample")).into_owned();
        let lines: Vec<&str> = text.lines().collect();
        gate_agrees(&lines).unwrap_or_else(|e| panic!("{}: {e}", f.display()));
        let mut noisy = Vec::new();
        for (i, l) in lines.iter().enumerate() {
            noisy.push(*l);
            noisy.push(GATE_NOISE[i % GATE_NOISE.len()]);
        }
        passed_over += gate_agrees(&noisy).unwrap_or_else(|e| panic!("{} with noise: {e}", f.display()));
    }
    assert!(passed_over > 1000, "the gate passed over only {passed_over} lines");
    let batched = BATCH_PASSED.with(std::cell::Cell::get);
    assert!(batched > passed_over / 2, "runs passed over {batched} lines, the gate {passed_over}");
}

/// What [`detector::inert`] passes over, and what it keeps, one clause at a time.
#[test]
fn the_inert_gate_keeps_what_a_recogniser_reads() {
    for l in GATE_NOISE.iter().filter(|l| !l.starts_with("Got")) {
        assert!(detector::inert(l), "{l}");
    }
    for l in [
        "",
        "  indented",
        "6 passed in 0.2s",
        "F401 [*] `os` imported but unused",
        "UP006 Use `list` instead of `List`",
        "B006 Do not use mutable data structures for argument defaults",
        "KeyError",
        "RangeError [ERR_X]",
        "ok  \texample.com/a\t0.1s",
        "webpack compiled successfully",
        "Tests  2 failed | 3 passed (5)",
        "foo error TS2322 bar",
        "x [vite] hmr update /a.ts",
        "see http://x",
        "src/a/b.tsx",
        "✓ built in 2s",
        "npm ERR! code 1",
        "PM ERROR boom",
        "not ok 1 - adds",
        "Uncaught TypeError",
        "WARNING in ./src/a.js",
        "- error failed",
        "---- tests::a stdout ----",
        "=== RUN   TestA",
        "thread 'main' panicked at 'boom'",
        "\u{a0}GET / 200",
        "# tests 3",
        "--- PASS TestA",
        "_____ test_x _____",
    ] {
        assert!(!detector::inert(l), "{l:?} must take the recognisers");
    }
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(3000))]
    /// Lines built from the pieces recognisers look for, and from the noise around them: the
    /// gate changes nothing, whatever comes before a line.
    #[test]
    fn the_inert_gate_changes_nothing_on_built_lines(
        lines in proptest::collection::vec(
            proptest::collection::vec(proptest::sample::select(vec![
                "GET ", "/api/items/42", " 200 ", "3.4ms", "x", "Go", "Listening", "hmr update ",
                "Error", "TypeError", "Exception", "Uncaught ", "F401", "E501", "UP006", " [*] ",
                "ok ", "not ok ", "\t", "  ", " ", "error", "error TS2322", " TS", "[vite] ", "[",
                ":", ": ", "src/a.ts", "(4,26)", "12", "passed", "failing", " in 0.2s", "Tests  ",
                "ERROR ", "FATAL ", "npm ERR!", "npm error ", "warning", "webpack ", "compiled",
                "✓ ", "ℹ ", "# ", "--- PASS: ", "--- FAIL: ", "=== RUN ", "Found 4 errors.",
                "Failed to compile.", "Traceback", "thread 'main'", "panic: ", "FAILED ", "6:20:35 PM ",
                "AM ", "- ", "http://localhost:5173/", "Summary of all failing tests", "Compiled ",
                "at f (/a.js:1:2)", "}", "\"", "@", "|", "<", "./app/page.tsx:5:9", "src/a.tsx",
                "WARNING in ", "- error ", "---- tests::a stdout ----", "_____ ", "# tests 3",
                "FAIL\t", "Finished ", " target(s) in 1s", "▲ Next.js 15", "errors", "fatal ",
                "Compiled successfully", "ERROR in ", "/a.js", "./", "\u{a0}", "B006", "PLR0913", "RUF100",
                "D100", "I001", "3 passed in 0.2s", "1 passing (4ms)", "0",
                " panicked at ", "test at ", "ok  \texample.com/app\t0.1s",
            ]), 0..7).prop_map(|p| p.concat()),
            1..40,
        )
    ) {
        let lines: Vec<&str> = lines.iter().map(String::as_str).collect();
        if let Err(e) = gate_agrees(&lines) {
            prop_assert!(false, "{}", e);
        }
    }
}

/// A run keeps the verdict of the last lead it judged (`lead_key`), and reuses it only for
/// a line led the same way: a line led almost alike (a Ruff code, a `PM ` stamp, a space one
/// byte later) that the gate keeps out is never passed over.
#[test]
fn a_line_led_almost_alike_is_judged_on_its_own() {
    let lines = [
        "GET /api/items/1 200 ok",
        "GE1 rest of the line",
        "PMx is a name here",
        "PM ERROR boom here",
        "Bxxx Do not use this",
        "B006 Do not use this",
        "UPxxx Use list here",
        "UP006 Use list here",
        "ab cdefgh ij kl",
        "ab\tcdefgh ij kl",
        "abcdefg hij klm",
        "abcdefgh ijk lmn",
    ];
    for a in lines {
        for b in lines {
            let inert = lines_inert(&[a, b]);
            let mut d = Detector::new();
            d.feed_batch(&crate::lines::LineBatch::of([a, b]), 0, Stream::Stdout, &mut Vec::new());
            assert!(d.passed_in_runs <= inert, "{a:?} then {b:?}: {} passed over, {inert} inert", d.passed_in_runs);
        }
    }
}

fn lines_inert(lines: &[&str]) -> u64 {
    lines.iter().filter(|l| detector::inert(l)).count() as u64
}

/// A run's marks belong to the line they are in: `error TS` split across two lines marks
/// neither, and both are passed over in the run.
#[test]
fn a_mark_split_across_lines_marks_neither() {
    let lines = ["see the erro", "r TS1 here", "GET / 200 e", "rror TS2 x"];
    assert!(lines.iter().all(|l| detector::inert(l)));
    batch_agrees(&lines).unwrap_or_else(|e| panic!("{e}"));
    let mut d = Detector::new();
    let batch = crate::lines::LineBatch::of(lines);
    assert_eq!(d.feed_batch(&batch, 0, Stream::Stdout, &mut Vec::new()), 4);
    assert_eq!(d.passed_in_runs, 4);
}
