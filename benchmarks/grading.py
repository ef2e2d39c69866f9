"""Throughput of `w2s grade` (sandboxed, parallel; local pool and Dask cluster) against plain
sequential `nbgrader autograde`.

    .venv/bin/python benchmarks/grading.py                 # 4 submissions of each assignment
    .venv/bin/python benchmarks/grading.py --per-assignment 2 --assignment ps1-measuring-weak-to-strong
    .venv/bin/python benchmarks/grading.py --cluster tcp://hostA:8786   # a real cluster's row

Both graders get the same generated submissions: every assignment of the course solved
(the instructor's answers, as ``tests/course/fixtures/make_submissions.py`` writes them), copied
under N student names. Plain nbgrader runs in a private course folder exactly as an
instructor would run it (``nbgrader generate_assignment`` then ``nbgrader autograde``, one
assignment after another, no sandbox, no feedback); ``w2s grade`` runs with its defaults
(sandboxed, one worker per core, feedback included), then once more with ``--cluster``
(default ``local:2``: a Dask LocalCluster of 2 worker processes, the same parallelism as the
pool on the 2-core machine, so its row shows the cluster's own overhead). Prints the
wall-clock times, the submissions per minute, the ratio, whether every submission got full
marks, and whether the cluster's cells.csv equals the pool's.
Goal: ratio >= 1.5 on the 2-core course machine.
"""

from __future__ import annotations

import argparse
import csv
import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO / "tests" / "course" / "fixtures"))

import make_submissions  # noqa: E402

BIN = Path(sys.executable).parent
NBGRADER_CONFIG = '''c = get_config()  # noqa: F821
c.CourseDirectory.root = {root!r}
c.Execute.timeout = 60
c.Execute.interrupt_on_timeout = True
'''


def generate(root: Path, assignments: list[str], per_assignment: int) -> int:
    """root/submitted/<student>/<assignment>/<assignment>.ipynb; returns the count."""
    import nbformat

    count = 0
    for assignment in assignments:
        nb = make_submissions.solved(assignment)
        for i in range(per_assignment):
            folder = root / "submitted" / f"student{i:02d}" / assignment
            folder.mkdir(parents=True, exist_ok=True)
            nbformat.write(nb, folder / f"{assignment}.ipynb")
            count += 1
    return count


def clean_env() -> dict:
    """No activated venv: both commands are called by their .venv path, as documented."""
    env = {k: v for k, v in os.environ.items() if k not in ("VIRTUAL_ENV", "PYTHONPATH")}
    env["PATH"] = os.pathsep.join(p for p in env.get("PATH", "").split(os.pathsep)
                                  if Path(p).resolve() != BIN.resolve())
    return env


def time_nbgrader(root: Path, assignments: list[str]) -> tuple[float, dict]:
    course = root / "nbgrader-course"
    course.mkdir()
    (course / "nbgrader_config.py").write_text(NBGRADER_CONFIG.format(root=str(course)))
    for a in assignments:
        shutil.copytree(REPO / "solutions" / a, course / "source" / a)
    shutil.copytree(root / "submitted", course / "submitted")
    env = clean_env()
    env["PATH"] = f"{BIN}{os.pathsep}{env['PATH']}"  # nbgrader itself needs alembic on PATH
    for a in assignments:
        subprocess.run([BIN / "nbgrader", "generate_assignment", a, "--force"], cwd=course,
                       env=env, check=True, capture_output=True)
    start = time.perf_counter()
    for a in assignments:
        done = subprocess.run([BIN / "nbgrader", "autograde", a], cwd=course, env=env,
                              capture_output=True, text=True)
        if done.returncode != 0:
            print(done.stdout[-2000:], done.stderr[-2000:], file=sys.stderr)
            raise SystemExit(f"nbgrader autograde {a} failed")
    seconds = time.perf_counter() - start
    return seconds, nbgrader_scores(course)


def nbgrader_scores(course: Path) -> dict:
    from nbgrader.api import Gradebook

    scores = {}
    with Gradebook(f"sqlite:///{course / 'gradebook.db'}") as gb:
        for assignment in gb.assignments:
            for submission in assignment.submissions:
                auto = sum(g.auto_score or 0 for nb in submission.notebooks for g in nb.grades)
                auto_max = sum(g.max_score for nb in submission.notebooks for g in nb.grades
                               if g.cell.cell_type == "code")
                scores[(submission.student.id, assignment.name)] = (auto, auto_max)
    return scores


def time_w2s(root: Path, assignments: list[str], workers: int | None,
             cluster: str | None = None) -> tuple[float, dict]:
    out = root / ("w2s-cluster-out" if cluster else "w2s-out")
    cmd = [str(BIN / "w2s"), "grade", str(root / "submitted"), "--out", str(out), "--no-progress"]
    if cluster:
        cmd += ["--cluster", cluster]
    elif workers:
        cmd += ["--workers", str(workers)]
    start = time.perf_counter()
    done = subprocess.run(cmd, env=clean_env(), capture_output=True, text=True)
    seconds = time.perf_counter() - start
    if done.returncode != 0:
        print(done.stdout[-3000:], done.stderr[-3000:], file=sys.stderr)
        raise SystemExit("w2s grade failed")
    scores = {}
    with (out / "cells.csv").open() as f:
        for row in csv.DictReader(f):
            key = (row["student"], row["assignment"])
            auto, auto_max = scores.get(key, (0.0, 0.0))
            if row["status"] not in ("needs manual grading", "not attempted", "graded by hand"):
                auto, auto_max = auto + float(row["score"]), auto_max + float(row["max_score"])
            scores[key] = (auto, auto_max)
    return seconds, scores, (out / "cells.csv").read_text()


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--per-assignment", type=int, default=4, metavar="N",
                        help="submissions per assignment (default 4)")
    parser.add_argument("--assignment", action="append", metavar="A",
                        help="only this assignment (repeatable; default: all four)")
    parser.add_argument("--workers", type=int, default=None, help="w2s grade --workers")
    parser.add_argument("--cluster", default="local:2", metavar="ADDRESS",
                        help="w2s grade --cluster for the cluster row (default local:2; "
                             "'none' skips the row)")
    args = parser.parse_args(argv)
    assignments = args.assignment or [make_submissions.PS1, make_submissions.PS2,
                                      make_submissions.PS3, make_submissions.PS4]
    with tempfile.TemporaryDirectory(prefix="w2s-bench-") as tmp:
        root = Path(tmp)
        n = generate(root, assignments, args.per_assignment)
        print(f"{n} submissions ({args.per_assignment} x {len(assignments)} assignments), "
              f"{os.cpu_count()} cores, load average before: {os.getloadavg()[0]:.2f}")
        t_nbgrader, s_nbgrader = time_nbgrader(root, assignments)
        t_w2s, s_w2s, cells = time_w2s(root, assignments, args.workers)
        cluster = None if args.cluster == "none" else args.cluster
        if cluster:
            t_dask, s_dask, cells_dask = time_w2s(root, assignments, None, cluster)
    full = lambda scores: all(a == m for a, m in scores.values()) and len(scores) == n  # noqa: E731
    print(f"\n{'grader':<40} {'seconds':>8} {'per minute':>11}  all full marks")
    print(f"{'nbgrader autograde (sequential)':<40} {t_nbgrader:8.1f} {60 * n / t_nbgrader:11.1f}  "
          f"{full(s_nbgrader)}")
    print(f"{'w2s grade (sandboxed, parallel)':<40} {t_w2s:8.1f} {60 * n / t_w2s:11.1f}  "
          f"{full(s_w2s)}")
    if cluster:
        label = f"w2s grade --cluster {cluster}"
        print(f"{label:<40} {t_dask:8.1f} {60 * n / t_dask:11.1f}  {full(s_dask)}"
              f"  (cells.csv {'equals' if cells_dask == cells else 'DIFFERS from'} the pool's)")
    print(f"\nthroughput ratio w2s / nbgrader: {t_nbgrader / t_w2s:.2f}x (goal >= 1.5x); "
          f"load average after: {os.getloadavg()[0]:.2f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
