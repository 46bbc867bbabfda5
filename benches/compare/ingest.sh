#!/usr/bin/env bash
# Whole-program ingest comparison: children flood log lines; how long until the runner has
# taken every line through to its output (sent to /dev/null)?
#
#   bash benches/compare/ingest.sh [LINES...]      # default: 1000000 10000000
#
# For each size, one hyperfine run compares, side by side: the bare pipe (`cat` to /dev/null),
# `brum run` (detection on, as always) and concurrently (npm), first with one process printing
# all the lines, then with four processes printing a quarter each at once. Then brum's peak
# RSS on the largest flood, without and with the log store (`log_persist = true`, which also
# writes `.brum/logs`). mprocs is a full-screen TUI with no headless mode, so it cannot be
# timed on a pipe; see BENCHMARKS.md. Ratios are of medians (see `report`). Needs hyperfine
# (apt) and npm (for concurrently, installed into target/bench-node on first use).
set -euo pipefail
cd "$(dirname "$0")/../.."
sizes=("$@")
[ ${#sizes[@]} -gt 0 ] || sizes=(1000000 10000000)
work=$PWD/target/bench-ingest
mkdir -p "$work"
cargo build --release --quiet -p brum
brum=$PWD/target/release/brum

# Realistic dev-server chatter: requests, HMR updates, a warning now and then, a rare
# TypeScript-style error; about 70 bytes a line.
flood_file() {
  local n=$1 f="$work/flood-$1.log"
  if [ ! -s "$f" ]; then
    awk -v n="$n" 'BEGIN {
      for (i = 1; i <= n; i++) {
        r = i % 50
        if (r == 0) printf "[vite] hmr update /src/components/Cart%d.tsx\n", i % 97
        else if (r == 17) printf "warning: unused variable `item_%d` in src/lib.rs\n", i
        else if (i % 10007 == 0) printf "src/app.ts(%d,7): error TS2322: Type string is not assignable to type number.\n", i % 400
        else printf "GET /api/items/%d 200 %d.%dms request_id=%08x\n", i % 1000, i % 37, i % 10, i * 2654435761 % 4294967296
      }
    }' > "$f"
  fi
  echo "$f"
}

node_dir=target/bench-node
if [ ! -x "$node_dir/node_modules/.bin/concurrently" ]; then
  mkdir -p "$node_dir"
  (cd "$node_dir" && npm init -y >/dev/null && npm install --no-audit --no-fund concurrently@9 >/dev/null)
fi
concurrently=$PWD/$node_dir/node_modules/.bin/concurrently

report() { # json lines label
  python3 - "$1" "$2" "$3" <<'PY'
import json, sys
data = json.load(open(sys.argv[1]))
lines, label = int(sys.argv[2]), sys.argv[3]
# Ratios from medians: on a shared machine a neighbour's burst lands on a run or two, and the
# median of each command shrugs it off where the mean does not. The mean is shown beside it.
conc = next(r["median"] for r in data["results"] if r["command"].startswith("concurrently"))
print(f"\n{label}: {lines:,} lines")
print(f"{'runner':<28} {'median s':>9} {'mean s':>8} {'± s':>7} {'lines/s':>14} {'vs concurrently':>16}")
for r in data["results"]:
    print(f"{r['command']:<28} {r['median']:>9.3f} {r['mean']:>8.3f} {r['stddev']:>7.3f} {lines / r['median']:>14,.0f} {conc / r['median']:>15.2f}x")
PY
}
for n in "${sizes[@]}"; do
  f=$(flood_file "$n")
  q=$(flood_file $((n / 4)))
  runs=10; [ "$n" -ge 5000000 ] && runs=7
  hyperfine --warmup 1 --runs "$runs" --export-json "$work/ingest-$n-1.json" --output=null \
    -n "bare pipe (cat)" "cat $f" \
    -n "brum run" "$brum run -c 'flood=cat $f'" \
    -n "concurrently" "$concurrently --raw=false 'cat $f'" > /dev/null
  report "$work/ingest-$n-1.json" "$n" "one process"
  hyperfine --warmup 1 --runs "$runs" --export-json "$work/ingest-$n-4.json" --output=null \
    -n "bare pipe (4 cat)" "cat $q & cat $q & cat $q & cat $q & wait" \
    -n "brum run, 4 processes" "$brum run -c 'a=cat $q' -c 'b=cat $q' -c 'c=cat $q' -c 'd=cat $q'" \
    -n "concurrently, 4 processes" "$concurrently --raw=false 'cat $q' 'cat $q' 'cat $q' 'cat $q'" > /dev/null
  report "$work/ingest-$n-4.json" "$((n / 4 * 4))" "four processes at once"
done

# Peak RSS on the largest flood. GNU time's %M is the largest process of the run's tree, here
# brum (its `sh` and `cat` children take a few MiB).
n=${sizes[-1]}
f=$(flood_file "$n")
proj=$(mktemp -d)
trap 'rm -rf "$proj"' EXIT
rss() { # label, then the command
  local label=$1; shift
  /usr/bin/time -f "%M" -o "$work/rss.txt" "$@" > /dev/null
  python3 -c "import sys; print(f'{sys.argv[1]:<48} {int(sys.argv[2]) / 1024:>8.1f} MiB')" "$label" "$(tail -1 "$work/rss.txt")"
}
echo
echo "peak RSS of brum, $n lines:"
rss "brum run (no log store)" "$brum" -C "$proj" run -c "flood=cat $f"
printf '[concurrency]\nlog_persist = true\n' > "$proj/.brum.toml"
budget=$("$brum" -C "$proj" --settings 2>/dev/null | awk '$1 == "log_store_bytes" { gsub(/"/, "", $3); print $3 }')
rss "brum run, log_persist (log_store_bytes $budget)" "$brum" -C "$proj" run -c "flood=cat $f"
