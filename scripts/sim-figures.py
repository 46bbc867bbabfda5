#!/usr/bin/env python3
"""Measures and prints the tables of docs/simulation.md, in Markdown.

    python3 scripts/sim-figures.py TURMOIL_BRUM [MADSIM_BRUM]

TURMOIL_BRUM is a normal brum binary (target/debug/brum); MADSIM_BRUM, if given, the one
built with RUSTFLAGS="--cfg madsim" CARGO_TARGET_DIR=target/madsim cargo build -p brum.

1. The scenario catalogue: each race scenario's race (`brum sim list`), the invariants its
   oracles check (read from its body), its window (sim/tests/explore.rs), and its distinct
   orderings and window hits over seeds 0-99 on each backend (`brum sim explore`).
2. The mutant table: for every row of CATCHERS in sim/tests/mutants.rs, the first seed that
   catches the mutant and how many of seeds 0-49 do, on each backend (`brum sim sweep
   --mutant`).
"""
import re
import subprocess
import sys
from pathlib import Path

root = Path(__file__).resolve().parent.parent
binaries = [("turmoil", sys.argv[1])] + ([("madsim", sys.argv[2])] if len(sys.argv) > 2 else [])


def sim(brum, *args):
    return subprocess.run([brum, "sim", *args], capture_output=True, text=True).stdout


def explore(backend, brum):
    out = {}
    for line in sim(brum, "explore", "--scenario", "all", "--seeds", "100", "--backend", backend).splitlines():
        m = re.match(r"explored (\S+) .*?(\d+) failures, (\d+) distinct orderings, (.*)", line)
        if m:
            name, failures, orderings, window = m.groups()
            hits = re.search(r"window hit in (\d+)", window)
            fail = "" if failures == "0" else f" ({failures} failing)"
            out[name] = f"{orderings} / {hits.group(1) if hits else '-'}{fail}"
    return out


def races(brum):
    lines = sim(brum, "list").splitlines()
    return {l.split()[0]: l[10:].strip() for l in lines if l[:1] != " " and l.startswith("S-")}


def invariants():
    """Oracle names each scenario's body checks, read from its source."""
    dispatch = re.findall(r'"(S-\w+)" => Box::pin\((\w+)::(\w+)\(', (root / "sim/src/scenarios/mod.rs").read_text())
    out = {}
    for name, module, fn in dispatch:
        text = (root / f"sim/src/scenarios/{module}.rs").read_text()
        start = text.find(f"pub async fn {fn}<")
        end = text.find("\n}\n", start)
        body = text[start:end]
        found = re.findall(r'"((?:I\d+|S-[A-Z]\d+)\b[^"]*)"', body)
        seen = []
        for f in found:
            if f not in seen:
                seen.append(f)
        out[name] = "; ".join(seen)
    return out


windows = dict(re.findall(r'\("(S-\w+)", "([^"]+)"\)', (root / "sim/tests/explore.rs").read_text()))
figures = {backend: explore(backend, brum) for backend, brum in binaries}
race = races(binaries[0][1])
inv = invariants()
heads = " | ".join(f"orderings / hits ({b})" for b, _ in binaries)
print(f"| scenario | race | oracles (besides I40 no task leaks, I11 no orphans) | window | {heads} |")
print("|---|---|---|---|" + "---|" * len(binaries))
for name in race:
    cells = " | ".join(figures[b].get(name, "n/a") for b, _ in binaries)
    print(f"| {name} | {race[name]} | {inv.get(name, '')} | {windows.get(name, 'not a race (no window)')} | {cells} |")

consts = dict(re.findall(r'pub const (\w+): &str = "([^"]+)";', (root / "core/src/mutants.rs").read_text()))
rows = re.findall(r'\(brum_core::mutants::(\w+), "([^"]+)", (\d+)\)', (root / "sim/tests/mutants.rs").read_text())
print()
heads = " | ".join(f"{b}: first, caught in 0-49" for b, _ in binaries)
print(f"| mutant | caught by | {heads} | CI budget (turmoil seeds) |")
print("|---|---|" + "---|" * len(binaries) + "---|")
for const, scenario, budget in rows:
    mutant = consts[const]
    cells = []
    for backend, brum in binaries:
        out = sim(brum, "sweep", "--scenario", scenario, "--seeds", "50", "--mutant", mutant, "--backend", backend, "--jobs", "1")
        caught = re.search(r"(\d+) failures", out)
        first = re.search(r"^FAIL \S+ seed=(\d+)", out, re.M)
        cells.append(f"{first.group(1) if first else 'never'}, {caught.group(1) if caught else '?'}/50")
    print(f"| `{mutant}` | {scenario} | {' | '.join(cells)} | {budget} |")
