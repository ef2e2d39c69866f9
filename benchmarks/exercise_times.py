"""How long each assignment takes to run — the course promises under 60 s each (target 30 s).

    .venv/bin/python benchmarks/exercise_times.py              # every assignment
    .venv/bin/python benchmarks/exercise_times.py ps2          # names containing ps2
    .venv/bin/python benchmarks/exercise_times.py --repeat 3   # best of three runs each

Runs each *solution* notebook top to bottom on a fresh kernel, hidden tests included (what
grading a correct submission runs), and prints one Markdown table: seconds from kernel start
to the last cell, the three slowest cells, and whether the run was clean (no error, nothing
on stderr). The load average is printed too: timings taken while other processes compete
for the CPU are not comparable.
"""

from __future__ import annotations

import argparse
import os
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
LIMIT_S, TARGET_S = 60.0, 30.0


def run(path: Path):
    """Execute ``path`` on a fresh kernel; returns (notebook, seconds)."""
    import nbformat
    from autograder.kernel_client import NotebookClient

    nb = nbformat.read(path, as_version=4)
    client = NotebookClient(nb, timeout=120, kernel_name="python3", allow_errors=True,
                            record_timing=True, resources={"metadata": {"path": str(path.parent)}})
    start = time.perf_counter()
    client.execute()
    return nb, time.perf_counter() - start


def cell_seconds(nb) -> list[tuple[float, str]]:
    from datetime import datetime

    out = []
    for i, cell in enumerate(nb.cells):
        stamps = cell.get("metadata", {}).get("execution", {})
        if "iopub.execute_input" in stamps and "shell.execute_reply" in stamps:
            begin = datetime.fromisoformat(stamps["iopub.execute_input"].replace("Z", "+00:00"))
            end = datetime.fromisoformat(stamps["shell.execute_reply"].replace("Z", "+00:00"))
            name = cell.get("metadata", {}).get("nbgrader", {}).get("grade_id", f"cell {i}")
            out.append(((end - begin).total_seconds(), name))
    return out


def problems(nb) -> list[str]:
    found = []
    for cell in nb.cells:
        for out in cell.get("outputs", []):
            if out.get("output_type") == "error":
                found.append(f"{out.get('ename')}: {out.get('evalue', '')[:60]}")
            elif out.get("output_type") == "stream" and out.get("name") == "stderr":
                found.append("stderr output")
    return found


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("only", nargs="*", help="assignments whose name contains any of these")
    parser.add_argument("--repeat", type=int, default=1, help="runs each; the best counts")
    args = parser.parse_args(argv)
    paths = sorted((ROOT / "solutions").glob("*/*.ipynb"))
    paths = [p for p in paths if not args.only or any(k in p.stem for k in args.only)]
    if not paths:
        print("no assignment matches", file=sys.stderr)
        return 1
    os.environ.setdefault("W2S_THREADS", "1")
    load_before = os.getloadavg()[0]
    rows = []
    for path in paths:
        nb, seconds = min((run(path) for _ in range(max(1, args.repeat))), key=lambda r: r[1])
        slowest = sorted(cell_seconds(nb), reverse=True)[:3]
        issues = problems(nb)
        verdict = ("ok" if seconds <= TARGET_S else "over target" if seconds <= LIMIT_S
                   else "OVER LIMIT")
        rows.append((path.stem, seconds, ", ".join(f"{n}: {s:.1f}" for s, n in slowest),
                     f"{verdict}; " + ("clean" if not issues else "; ".join(issues[:2]))))
    load_after = os.getloadavg()[0]
    print(f"\n## Assignment run times (solutions with hidden tests, fresh kernel, "
          f"{os.cpu_count()} CPUs, best of {args.repeat})\n")
    print("| assignment | seconds | slowest cells (s) | status |")
    print("|---|---:|---|---|")
    for name, seconds, slowest, status in rows:
        print(f"| {name} | {seconds:.1f} | {slowest} | {status} |")
    print(f"\n1-minute load average {load_before:.1f} before, {load_after:.1f} after "
          f"(above {os.cpu_count()} means the CPU was shared)")
    return 0 if all(s <= LIMIT_S and "clean" in st for _, s, _, st in rows) else 1


if __name__ == "__main__":
    sys.exit(main())
