#!/usr/bin/env bash
# Everything CI checks, in order. `.ci/run`, `just ci` and the README all run this script.
# Needs a Rust toolchain (with rustfmt and clippy), Node.js with npm, Python 3.10+ with pip, and a
# POSIX shell.
set -euo pipefail
cd "$(dirname "$0")/.."

step() { printf '\n==> %s\n' "$*"; }

# The end-to-end tests run a real pnpm workspace; pnpm comes from the npm registry (Node.js
# and npm are on the machine).
if ! command -v pnpm >/dev/null 2>&1; then
  step "installing pnpm (npm install -g pnpm@9)"
  npm install -g --no-audit --no-fund pnpm@9 >/dev/null
fi

# The MCP tests drive brum with the official Python SDK (tests/mcp/client.py); they fail, never
# skip, without it.
if ! python3 -c 'import mcp' >/dev/null 2>&1; then
  step "installing the Python MCP SDK (pip install mcp==2.3.0)"
  python3 -m pip install --quiet --disable-pip-version-check mcp==2.3.0
fi

step "format"
cargo fmt --all -- --check

step "clippy (warnings denied)"
cargo clippy --locked --workspace --all-targets -- -D warnings

step "docs (warnings denied)"
RUSTDOCFLAGS="-D warnings" cargo doc --locked --workspace --no-deps --quiet

step "tests"
cargo test --locked --workspace

step "simulation sweep: every scenario, 500 seeds, each run twice and compared (turmoil)"
cargo run --locked --quiet -p brum -- sim sweep --scenario all --seeds 500 --check-determinism

step "madsim build and tests (its own target dir): 100 seeds of every scenario, determinism, faulty-bus catch"
RUSTFLAGS="--cfg madsim" CARGO_TARGET_DIR=target/madsim BRUM_MADSIM_SEEDS=100 \
  cargo test --locked -p brum-sim --test madsim

step "madsim sweep through the CLI: every scenario, as many seeds as turmoil's, each run twice and compared"
RUSTFLAGS="--cfg madsim" CARGO_TARGET_DIR=target/madsim \
  cargo run --locked --quiet -p brum -- sim sweep --scenario all --seeds 500 --backend madsim --check-determinism

echo
echo "ci: all checks passed"
