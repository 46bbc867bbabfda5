#!/usr/bin/env python3
"""brum's contract tests with a real MCP client: the official Python SDK (`pip install mcp`).

Driven by tests/tests/mcp_clients.rs, which starts `brum serve` (or lets this script start
`brum mcp stdio`) on a copy of examples/demo. Each command prints one JSON object on stdout
(what the Rust test checks) and exits non-zero on the first thing that is wrong, saying what.
A missing SDK is an ImportError, hence a failure, never a skip.

  client.py flow URL MODE [TOKEN]   run dev, wait for its URL, read/search logs, errors, stop
  client.py stdio BRUM PROJECT MODE the same flow over `BRUM -C PROJECT mcp stdio`
  client.py bad URL MODE            unknown tool, wrong argument types; then still answers
  client.py extras URL MODE DIR     resources, prompts, and the change notification that
                                    follows adding a script to DIR/package.json
"""

import json
import sys

import anyio
import httpx2
import mcp
from mcp.client.stdio import StdioServerParameters
from mcp.client.streamable_http import streamable_http_client
from mcp.shared.exceptions import MCPError


def fail(what):
    print(f"client.py: {what}", file=sys.stderr)
    sys.exit(1)


def structured(result, what):
    """The structured content of a successful tool result."""
    if result.is_error:
        text = " ".join(getattr(c, "text", "") for c in result.content)
        fail(f"{what} failed: {text}")
    if result.structured_content is None:
        fail(f"{what}: no structured content")
    if not any(getattr(c, "text", None) for c in result.content):
        fail(f"{what}: no text mirror")
    return result.structured_content


async def flow(client):
    """What an agent does with a dev server: start it, wait for its URL, read and search its
    logs, list its errors, stop it."""
    out = {}
    listed = await client.list_tools()
    out["tools"] = sorted(t.name for t in listed.tools)
    for t in listed.tools:
        if not t.input_schema or t.output_schema is None:
            fail(f"tool {t.name} lacks an input or output schema")
    out["scripts"] = structured(await client.call_tool("scripts_list", {}), "scripts_list")
    run = structured(
        await client.call_tool("scripts_run", {"name": "dev", "wait_for": "url", "timeout_ms": 30000}),
        "scripts_run dev wait_for url",
    )
    out["run"] = run
    out["status"] = structured(await client.call_tool("scripts_status", {"name": "dev"}), "scripts_status")
    out["logs"] = structured(await client.call_tool("logs_stream", {"process": "dev", "limit": 50}), "logs_stream")
    out["search"] = structured(
        await client.call_tool("logs_search", {"query": "ready", "process": "dev"}), "logs_search"
    )
    out["urls"] = structured(await client.call_tool("urls_list", {}), "urls_list")
    out["stop"] = structured(await client.call_tool("scripts_stop", {"name": "dev"}), "scripts_stop")
    # A script that crashes with a stack: its error, grouped, with the stack and a code frame.
    out["crash"] = structured(
        await client.call_tool("scripts_run", {"name": "crash", "wait_for": "exit", "timeout_ms": 30000}),
        "scripts_run crash wait_for exit",
    )
    out["errors"] = structured(await client.call_tool("errors_list", {}), "errors_list")
    out["about"] = structured(await client.call_tool("about", {}), "about")
    return out


async def bad(client):
    """Bad calls get the right error, and the server still answers after each."""
    out = {}
    try:
        r = await client.call_tool("no_such_tool", {})
        out["unknown_tool"] = {"is_error": r.is_error}
    except MCPError as e:
        out["unknown_tool"] = {"code": e.code, "message": e.message}
    await client.list_tools()
    try:
        r = await client.call_tool("scripts_run", {"name": 42, "wait_for": ["not", "a", "string"]})
        text = " ".join(getattr(c, "text", "") for c in r.content)
        out["wrong_types"] = {"is_error": r.is_error, "text": text}
    except MCPError as e:
        out["wrong_types"] = {"code": e.code, "message": e.message}
    out["about_after"] = structured(await client.call_tool("about", {}), "about after bad calls")
    return out


async def resources_and_prompts(client):
    out = {}
    listed = await client.list_resources()
    out["resources"] = sorted(r.uri for r in listed.resources)
    templates = await client.list_resource_templates()
    out["templates"] = [t.uri_template for t in templates.resource_templates]
    read = await client.read_resource("brum://logs/dev")
    out["read_logs_dev"] = read.contents[0].text
    try:
        await client.read_resource("brum://nope")
        fail("reading brum://nope succeeded")
    except MCPError as e:
        out["read_unknown"] = {"code": e.code, "message": e.message}
    prompts = await client.list_prompts()
    out["prompts"] = sorted(p.name for p in prompts.prompts)
    got = await client.get_prompt("summarize_servers", {})
    out["prompt_text"] = got.messages[0].content.text
    return out


def add_script(project):
    """Adds a script to the project's package.json: the catalogue, hence the tool list, changes."""
    path = f"{project}/package.json"
    with open(path) as f:
        manifest = json.load(f)
    manifest["scripts"]["added"] = "node -e 1"
    with open(path, "w") as f:
        json.dump(manifest, f)


def http_client(url, mode, token=None, message_handler=None):
    headers = {"Authorization": f"Bearer {token}"} if token else {}
    transport = streamable_http_client(url, http_client=httpx2.AsyncClient(headers=headers, timeout=60))
    return mcp.Client(transport, mode=mode, message_handler=message_handler)


async def main(argv):
    if len(argv) < 2:
        fail(__doc__)
    cmd = argv[1]
    if cmd == "flow":
        url, mode = argv[2], argv[3]
        token = argv[4] if len(argv) > 4 else None
        async with http_client(url, mode, token) as client:
            out = await flow(client)
            out["protocol_version"] = str(client.protocol_version)
    elif cmd == "stdio":
        brum, project, mode = argv[2], argv[3], argv[4]
        params = StdioServerParameters(command=brum, args=["-C", project, "mcp", "stdio"], env={"HOME": project})
        async with mcp.Client(params, mode=mode) as client:
            out = await flow(client)
            out["protocol_version"] = str(client.protocol_version)
    elif cmd == "bad":
        url, mode = argv[2], argv[3]
        async with http_client(url, mode) as client:
            out = await bad(client)
    elif cmd == "extras":
        url, mode, project = argv[2], argv[3], argv[4]
        seen = []
        changed = anyio.Event()

        async def on_message(message):
            if not isinstance(message, Exception):
                method = getattr(getattr(message, "root", message), "method", None)
                seen.append(method)
                if method == "notifications/tools/list_changed":
                    changed.set()

        async with http_client(url, mode, message_handler=on_message) as client:
            structured(await client.call_tool("scripts_run", {"name": "dev", "wait_for": "url"}), "scripts_run dev")
            out = await resources_and_prompts(client)
            # A failure timeout: the catalogue is re-read every second.
            with anyio.fail_after(30):
                if mode == "legacy":
                    add_script(project)
                    await changed.wait()
                    out["notified"] = "notifications/tools/list_changed"
                else:
                    async with client.listen(tools_list_changed=True) as sub:
                        add_script(project)
                        async for event in sub:
                            out["notified"] = type(event).__name__
                            break
            tools = await client.list_tools()
            run = next(t for t in tools.tools if t.name == "scripts_run")
            out["scripts_run_schema_lists_added"] = "added" in json.dumps(run.input_schema)
            structured(await client.call_tool("scripts_stop", {"name": "dev"}), "scripts_stop dev")
    else:
        fail(f"unknown command {cmd!r}\n{__doc__}")
    print(json.dumps(out))


if __name__ == "__main__":
    anyio.run(main, sys.argv)
