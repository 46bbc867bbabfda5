# Thin recipes over cargo. `just ci` runs exactly what .ci/run runs.

# Everything CI checks: fmt, clippy, docs, tests, the simulation sweeps, the madsim build.
ci:
    bash scripts/ci.sh

test:
    cargo test --workspace

# Sweep every scenario over N seeds on turmoil, checking determinism.
sweep seeds="1000":
    cargo run --release -p brum -- sim sweep --scenario all --seeds {{seeds}} --check-determinism

# The madsim backend: its own build and target dir.
madsim seeds="100":
    RUSTFLAGS="--cfg madsim" CARGO_TARGET_DIR=target/madsim BRUM_MADSIM_SEEDS={{seeds}} cargo test -p brum-sim --test madsim

bench:
    cargo bench -p brum-benches

# Review changed insta snapshots.
review:
    cargo insta review

# The long simulation run: 100,000 seeds of every scenario on turmoil, checking determinism.
sim-long seeds="100000":
    cargo run --release -p brum -- sim sweep --scenario all --seeds {{seeds}} --check-determinism --speed

# Simulation speed per scenario against its target (benches/compare/sim_speed.sh).
sim-speed seeds="500":
    bash benches/compare/sim_speed.sh {{seeds}}
