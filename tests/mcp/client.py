#!/usr/bin/env python3
"""brum's contract tests with a real MCP client: the official Python SDK (`pip install mcp`).

Driven by tests/tests/mcp_clients.rs, which starts `brum serve` (or lets this script start
`brum mcp stdio`) on a copy of examples/demo. Each command prints one JSON object on stdout
(what the Rust test checks) and exits non-zero on the first thing that is wrong, saying what.
A missing SDK is an ImportError, hence a failure, never a skip.

  client.py flow URL MODE [TOKEN]   run dev, wait for its URL, read/search logs, errors, stop
  client.py stdio BRUM PROJECT      the same flow over `BRUM -C PROJECT mcp stdio`
  client.py bad URL MODE            unknown tool, wrong argument types; then still answers
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


def http_client(url, mode, token=None):
    headers = {"Authorization": f"Bearer {token}"} if token else {}
    transport = streamable_http_client(url, http_client=httpx2.AsyncClient(headers=headers, timeout=60))
    return mcp.Client(transport, mode=mode)


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
        brum, project = argv[2], argv[3]
        params = StdioServerParameters(command=brum, args=["-C", project, "mcp", "stdio"], env={"HOME": project})
        async with mcp.Client(params) as client:
            out = await flow(client)
            out["protocol_version"] = str(client.protocol_version)
    elif cmd == "bad":
        url, mode = argv[2], argv[3]
        async with http_client(url, mode) as client:
            out = await bad(client)
    else:
        fail(f"unknown command {cmd!r}\n{__doc__}")
    print(json.dumps(out))


if __name__ == "__main__":
    anyio.run(main, sys.argv)
