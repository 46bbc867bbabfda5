#!/usr/bin/env bash
# Everything CI checks, in order. `.ci/run`, `just ci` and the README all run this script.
# Needs only a Rust toolchain (with rustfmt and clippy) and a POSIX shell.
set -euo pipefail
cd "$(dirname "$0")/.."

step() { printf '\n==> %s\n' "$*"; }

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

step "madsim sweep through the CLI"
RUSTFLAGS="--cfg madsim" CARGO_TARGET_DIR=target/madsim \
  cargo run --locked --quiet -p brum -- sim sweep --scenario all --seeds 100 --backend madsim --check-determinism

echo
echo "ci: all checks passed"
