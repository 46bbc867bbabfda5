#!/usr/bin/env bash
# Time for `brum run` to stop everything when its reader stalls or goes away (issue 6): see
# stop.py. Needs python3.
set -euo pipefail
cd "$(dirname "$0")/../.."
cargo build --release --quiet -p brum
python3 benches/compare/stop.py "$PWD/target/release/brum" "${1:-10}"
