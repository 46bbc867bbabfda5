#!/usr/bin/env python3
"""How long `brum run` takes to stop everything when its reader misbehaves (issue 6).

    bash benches/compare/stop.sh [RUNS]

Three cases, RUNS times each (default 10), release build, process_stop_grace_ms = 500:
  stalled-sigint:  stdout is a pipe nobody reads (brum's writer blocked on it), then SIGINT;
  stalled-sigterm: the same with SIGTERM;
  head-1:          `| head -1`: the reader takes one line and closes the pipe.
Each run reports the time from the signal (or the close) until brum has exited. Timings live
here, not in the tests (tests/tests/reliability.rs checks the behaviour, not the clock).
"""
import os, signal, statistics, subprocess, sys, tempfile, time

brum = sys.argv[1]
runs = int(sys.argv[2]) if len(sys.argv) > 2 else 10


def writer_blocked(pid):
    try:
        for tid in os.listdir(f"/proc/{pid}/task"):
            base = f"/proc/{pid}/task/{tid}"
            if open(f"{base}/comm").read().strip() == "brum-stdout" and "pipe_write" in open(f"{base}/wchan").read():
                return True
    except OSError:
        pass
    return False


def run(case, project):
    p = subprocess.Popen([brum, "-C", project, "run", "-c", "x=yes"], stdout=subprocess.PIPE,
                         stderr=subprocess.DEVNULL, stdin=subprocess.DEVNULL)
    if case == "head-1":
        p.stdout.readline()
        start = time.monotonic()
        p.stdout.close()
    else:
        while not writer_blocked(p.pid):
            time.sleep(0.005)
        start = time.monotonic()
        p.send_signal(signal.SIGINT if case == "stalled-sigint" else signal.SIGTERM)
    p.wait(timeout=30)
    took = time.monotonic() - start
    p.stdout.close()
    return took


with tempfile.TemporaryDirectory() as project:
    with open(os.path.join(project, ".brum.toml"), "w") as f:
        f.write("[concurrency]\nprocess_stop_grace_ms = 500\n")
    print(f"{'case':<16} {'runs':>5} {'median ms':>10} {'max ms':>8}")
    for case in ["stalled-sigint", "stalled-sigterm", "head-1"]:
        times = [run(case, project) * 1000 for _ in range(runs)]
        print(f"{case:<16} {runs:>5} {statistics.median(times):>10.0f} {max(times):>8.0f}")
