#!/usr/bin/env bash
# Whole-program ingest comparison: one child floods 1,000,000 log lines; how long until the
# runner has taken every line through to its output (sent to /dev/null)?
#
#   bash benches/compare/ingest.sh [LINES]
#
# Compared in one hyperfine run: the bare pipe (`cat` to /dev/null), `brum run` (detection on,
# as always), and concurrently (npm). mprocs is a full-screen TUI with no headless mode, so it
# cannot be timed on a pipe; see BENCHMARKS.md. Needs hyperfine (apt) and npm (for
# concurrently, installed into target/bench-node on first use).
set -euo pipefail
cd "$(dirname "$0")/../.."
lines=${1:-1000000}
work=target/bench-ingest
mkdir -p "$work"
cargo build --release --quiet -p brum
brum=$PWD/target/release/brum

flood="$work/flood-$lines.log"
if [ ! -s "$flood" ]; then
  # Realistic dev-server chatter: requests, HMR updates, a warning now and then, a rare
  # TypeScript-style error; about 70 bytes a line.
  awk -v n="$lines" 'BEGIN {
    for (i = 1; i <= n; i++) {
      r = i % 50
      if (r == 0) printf "[vite] hmr update /src/components/Cart%d.tsx\n", i % 97
      else if (r == 17) printf "warning: unused variable `item_%d` in src/lib.rs\n", i
      else if (i % 10007 == 0) printf "src/app.ts(%d,7): error TS2322: Type string is not assignable to type number.\n", i % 400
      else printf "GET /api/items/%d 200 %d.%dms request_id=%08x\n", i % 1000, i % 37, i % 10, i * 2654435761 % 4294967296
    }
  }' > "$flood"
fi

node_dir=target/bench-node
if [ ! -x "$node_dir/node_modules/.bin/concurrently" ]; then
  mkdir -p "$node_dir"
  (cd "$node_dir" && npm init -y >/dev/null && npm install --no-audit --no-fund concurrently@9 >/dev/null)
fi
concurrently=$PWD/$node_dir/node_modules/.bin/concurrently

hyperfine --warmup 2 --runs 10 --export-json "$work/ingest.json" \
  -n "bare pipe (cat > /dev/null)" "cat $flood > /dev/null" \
  -n "brum run" "$brum run -c 'flood=cat $flood' > /dev/null" \
  -n "concurrently" "$concurrently --raw=false 'cat $flood' > /dev/null"

python3 - "$work/ingest.json" "$lines" <<'PY'
import json, sys
data = json.load(open(sys.argv[1]))
lines = int(sys.argv[2])
base = {r["command"]: r["mean"] for r in [dict(command=x["command"], mean=x["mean"]) for x in data["results"]]}
bare = data["results"][0]["mean"]
print()
print(f"{'runner':<32} {'mean s':>8} {'lines/s':>14} {'vs bare pipe':>13}")
for r in data["results"]:
    print(f"{r['command'][:32]:<32} {r['mean']:>8.3f} {lines / r['mean']:>14,.0f} {r['mean'] / bare:>12.1f}x")
PY
