"""Run the tests that interrupt, kill or time out N times in a row and print how each fared.

    .venv/bin/python benchmarks/repeat_races.py            # 10 rounds
    .venv/bin/python benchmarks/repeat_races.py --rounds 3

These tests synchronise on events the code under test signals (the grader's event pipe,
its start events, the limits' own reports), never on sleeps; this script is the evidence
that they hold on this machine, whatever its speed: one Markdown row per round, then how
many rounds passed. Exit status 1 if any round failed.
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import time
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
RACES = [
    # SIGINT once the first grade is on disk (the grader's event pipe), then a resumed run
    "tests/course/test_grade_parts.py::test_interrupted_run_keeps_grades_and_resumes",
    # a Dask worker killed while it grades (told by the grader's start event)
    "tests/course/test_grade_parts.py::test_cluster_survives_a_killed_worker_and_grades_nothing_twice",
    # fork and memory bombs stopped by limits and the watchdog, with and without a cgroup
    "tests/course/test_grade_parts.py::test_no_cgroup_fallback_contains_bombs",
    "tests/course/test_grade_parts.py::test_sandbox_caps_processes",
    "tests/course/test_grade_parts.py::test_sandbox_caps_memory",
    # `w2s check`: a cell stopped at its time limit
    "tests/course/test_grade_parts.py::test_check_stops_a_cell_at_its_time_limit",
]


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=10)
    args = parser.parse_args(argv)
    missing = [t for t in RACES if not (REPO / t.split("::")[0]).exists()]
    if missing:
        raise SystemExit(f"repeat_races: these test files are gone, update RACES: {missing}")
    tests = RACES
    env = {**os.environ, "OMP_NUM_THREADS": "1", "W2S_THREADS": "1"}
    print(f"{len(tests)} tests, {args.rounds} rounds, load average {os.getloadavg()[0]:.1f}\n")
    print("| round | result | seconds |")
    print("|---|---|---|")
    failed = 0
    for round_ in range(1, args.rounds + 1):
        start = time.monotonic()
        done = subprocess.run([sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider",
                               *tests], cwd=REPO, env=env, capture_output=True, text=True)
        last = (done.stdout.strip().splitlines() or ["(no output)"])[-1]
        failed += done.returncode != 0
        print(f"| {round_} | {last} | {time.monotonic() - start:.0f} |", flush=True)
        if done.returncode != 0:
            print(done.stdout[-3000:], done.stderr[-2000:], sep="\n")
    print(f"\n{args.rounds - failed} of {args.rounds} rounds passed")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
