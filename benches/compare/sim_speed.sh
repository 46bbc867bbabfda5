#!/usr/bin/env bash
# Simulation speed: seeds per second per core for every scenario, against issue 9's targets
# (EventBus scenarios at least 1,000 seeds/s per core, supervisor and session ones 200).
#
#   bash benches/compare/sim_speed.sh [SEEDS]
#
# Builds brum in release, sweeps every scenario SEEDS times (default 500) on one thread under
# turmoil, and prints each scenario's rate and its ratio to its target. A rate is measured,
# never asserted: these machines are shared and noisy.
set -euo pipefail
cd "$(dirname "$0")/../.."
seeds="${1:-500}"
cargo build --locked --release --quiet -p brum
out=$(./target/release/brum sim sweep --scenario all --seeds "$seeds" --jobs 1 --speed)
echo "$out" | head -1
printf '%-9s %14s %8s %7s\n' scenario "seeds/s/core" target ratio
echo "$out" | awk '/^speed /{
  name=$2; rate=$3;
  if (name ~ /^S-E/) target=1000; else if (name ~ /^S-/) target=200; else next;
  printf "%-9s %14.0f %8d %6.2fx%s\n", name, rate, target, rate/target, (rate < target ? "  below" : "")
}'
