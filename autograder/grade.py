"""Autograde a class: every SUBMITTED_DIR/<student>/<assignment>/<notebook>.ipynb, sandboxed.

Writes OUT_DIR/grades.csv (student, assignment, score, max_score), OUT_DIR/cells.csv (one
row per graded cell, with a status) and OUT_DIR/feedback/<student>/<assignment>/*.html,
and keeps an nbgrader course in OUT_DIR/nbgrader/ (gradebook, autograded notebooks) for
hand-grading written answers. Each notebook runs in a bubblewrap sandbox with time, memory
and process limits; a submission that crashes, hangs or cheats gets the points it earned
and a status, and never stops the others. Re-running skips submissions already graded
(unless they changed), so an interrupted run picks up where it stopped.
"""

from __future__ import annotations

import csv
import hashlib
import json
import os
import re
import shutil
import signal
import sys
import tempfile
import time
from concurrent.futures import FIRST_COMPLETED, ProcessPoolExecutor, wait
from dataclasses import asdict
from multiprocessing import get_context
from pathlib import Path

from .course import Course, CourseError, prepare_nbgrader
from .sandbox import GIB, Limits, SandboxUnavailable, check_available, readonly_paths
from .worker import Job, write_json

GRADER_VERSION = "1"
REPO = Path(__file__).resolve().parent.parent
STUDENT_ID = re.compile(r"^[A-Za-z0-9_.@+-]+$")


def add_arguments(parser) -> None:
    parser.add_argument("submitted", type=Path, metavar="SUBMITTED_DIR",
                        help="folder laid out as <student>/<assignment>/<notebook>.ipynb")
    parser.add_argument("--out", type=Path, default=Path("grades_out"), metavar="OUT_DIR",
                        help="where grades.csv, cells.csv and feedback/ go (default grades_out)")
    parser.add_argument("--workers", type=int, default=os.cpu_count() or 1, metavar="N",
                        help="submissions graded at once (default: number of cores)")
    parser.add_argument("--assignment", action="append", metavar="A",
                        help="grade only this assignment (repeatable)")
    parser.add_argument("--student", action="append", metavar="S",
                        help="grade only this student (repeatable)")
    parser.add_argument("--source", type=Path, default=REPO / "solutions", metavar="DIR",
                        help="nbgrader source folder, one subfolder per assignment "
                             "(default: the course's solutions/)")
    parser.add_argument("--timeout", type=float, default=300, metavar="SECONDS",
                        help="wall-clock limit for a whole notebook (default 300)")
    parser.add_argument("--cell-timeout", type=float, default=None, metavar="SECONDS",
                        help="limit per cell (default: the course's nbgrader Execute.timeout, "
                             "else 60)")
    parser.add_argument("--memory", type=float, default=2.0, metavar="GIB",
                        help="memory limit per submission in GiB (default 2)")
    parser.add_argument("--force", action="store_true",
                        help="regrade every submission, even those already graded unchanged")
    parser.add_argument("--no-sandbox", action="store_true",
                        help="run student code WITHOUT bubblewrap (it can then read anything "
                             "you can: use only where bwrap cannot run and you trust the code)")
    parser.add_argument("--no-progress", action="store_true", help="hide the progress bar")


def run(args) -> int:
    try:
        return _run(args)
    except GradeError as exc:
        print(f"w2s grade: {exc}", file=sys.stderr)
        return 2


class GradeError(RuntimeError):
    """A problem with the command line or the machine, explained for the instructor."""


def _run(args) -> int:
    started = time.monotonic()
    prepare_nbgrader()
    submitted, out = args.submitted.resolve(), args.out.resolve()
    if not submitted.is_dir():
        raise GradeError(f"{args.submitted} is not a folder. Pass the folder that holds one "
                         "subfolder per student, each with one subfolder per assignment.")
    if args.workers < 1:
        raise GradeError("--workers must be at least 1")
    _check_out_dir(out, submitted)
    if args.no_sandbox:
        print("w2s grade: WARNING: --no-sandbox: student code runs with your rights and can "
              "read solutions/, the gradebook and other students' work.", file=sys.stderr)
    else:
        try:
            check_available()
        except SandboxUnavailable as exc:
            raise GradeError(str(exc)) from None

    course = Course(out, args.source)
    available = course.assignments_available()
    if not available:
        raise GradeError(f"no assignments in {args.source}: it should hold one folder per "
                         "assignment with its nbgrader source notebooks (use --source).")
    wanted = args.assignment or available
    unknown = [a for a in wanted if a not in available]
    if unknown:
        raise GradeError(f"unknown assignment {', '.join(unknown)}; "
                         f"{args.source} has {', '.join(available)}")
    found, skipped = discover(submitted, wanted, args.student)
    for reason in skipped:
        print(f"w2s grade: skipping {reason}", file=sys.stderr)
    if not found:
        raise GradeError(f"no submissions in {submitted} for {', '.join(wanted)} "
                         "(expected <student>/<assignment>/<notebook>.ipynb)")
    assignments = sorted({a for _, a in found})
    try:
        template = course.prepare(assignments)
    except CourseError as exc:
        raise GradeError(str(exc)) from None

    limits = Limits(memory_bytes=int(args.memory * GIB), notebook_seconds=args.timeout,
                    cell_seconds=args.cell_timeout or _course_cell_timeout(args.source) or 60)
    results_dir = course.templates / "results"
    run_dir = Path(tempfile.mkdtemp(prefix="w2s-grade-"))
    jobs, results = [], {}
    digest = template.stem
    for i, (student, assignment) in enumerate(found):
        fingerprint = _fingerprint(submitted / student / assignment, digest, limits,
                                   not args.no_sandbox)
        saved = results_dir / student / f"{assignment}.json"
        previous = _load(saved)
        if previous and previous.get("fingerprint") == fingerprint and not args.force:
            results[(student, assignment)] = previous
            continue
        jobs.append((Job(student=student, assignment=assignment,
                         notebooks=tuple(course.notebooks(assignment)),
                         submission_dir=str(submitted / student / assignment),
                         course_root=str(course.root), template_db=str(template),
                         work_dir=str(run_dir / f"j{i}"),
                         feedback_dir=str(out / "feedback" / student / assignment),
                         autograded_dir=str(course.root / "autograded" / student / assignment),
                         limits=limits, sandboxed=not args.no_sandbox), fingerprint, saved))

    reused = len(results)
    print(f"Grading {len(jobs)} submission(s) of {', '.join(assignments)} with "
          f"{min(args.workers, max(len(jobs), 1))} worker(s)"
          + (f"; {reused} unchanged since the last run" if reused else "")
          + ("" if args.no_sandbox else f"; sandboxed, {args.memory:g} GiB, "
             f"{limits.notebook_seconds:g} s per notebook, {limits.cell_seconds:g} s per cell"))
    interrupted = False
    try:
        for result, fingerprint, saved in _grade_all(jobs, args.workers, _show_progress(args)):
            result["fingerprint"] = fingerprint
            course.record(result)
            write_json(saved, result)
            results[(result["student"], result["assignment"])] = result
            _announce_recorded(result)
    except KeyboardInterrupt:
        interrupted = True
    finally:
        shutil.rmtree(run_dir, ignore_errors=True)

    rows = write_csvs(out, course, found, results)
    summarize(rows, results, found, time.monotonic() - started, out)
    if interrupted:
        left = len(found) - len(results)
        print(f"\nInterrupted: {len(results)} submission(s) recorded, {left} left. Run the same "
              "command again to grade the rest (graded ones are kept).", file=sys.stderr)
        return 130
    return 0


def _announce_recorded(result: dict) -> None:
    """One line per recorded result on the pipe W2S_GRADE_EVENTS_FD names, for a watching
    process (the interrupt test waits on it instead of on a clock)."""
    fd = os.environ.get("W2S_GRADE_EVENTS_FD")
    if fd:
        try:
            os.write(int(fd), f"recorded {result['student']}/{result['assignment']}\n".encode())
        except OSError:
            pass  # nobody is watching any more


def discover(submitted: Path, assignments: list[str], students: list[str] | None):
    found, skipped = [], []
    for student_dir in sorted(p for p in submitted.iterdir() if p.is_dir()):
        student = student_dir.name
        if student.startswith("."):
            continue
        if students and student not in students:
            continue
        if not STUDENT_ID.match(student):
            skipped.append(f"{student_dir}: a student id may hold only letters, digits and . _ - @ +")
            continue
        for sub in sorted(p for p in student_dir.iterdir() if p.is_dir()):
            if sub.name in assignments:
                found.append((student, sub.name))
            elif not sub.name.startswith("."):
                skipped.append(f"{sub}: no assignment named {sub.name!r}")
    return found, skipped


def _check_out_dir(out: Path, submitted: Path) -> None:
    if out == submitted or submitted in out.parents:
        raise GradeError(f"--out {out} is inside the submissions folder; choose another folder.")
    for path in readonly_paths():
        if out == path or path in out.parents:
            raise GradeError(f"--out {out} is inside {path}, which every sandbox can read; "
                             "choose a folder elsewhere.")
    try:
        out.mkdir(parents=True, exist_ok=True)
        probe = out / ".w2s-write-test"
        probe.write_text("")
        probe.unlink()
    except OSError as exc:
        raise GradeError(f"cannot write to {out}: {exc.strerror}. Choose a writable --out.")


def _course_cell_timeout(source: Path) -> float | None:
    """The per-cell limit from the course's nbgrader_config.py (Execute.timeout), if set."""
    config_file = source.resolve().parent / "nbgrader_config.py"
    if not config_file.exists():
        return None
    try:
        from traitlets.config.loader import PyFileConfigLoader

        config = PyFileConfigLoader(config_file.name, str(config_file.parent)).load_config()
        timeout = config.Execute.timeout if "timeout" in config.Execute else None
        return float(timeout) if timeout else None
    except Exception:  # noqa: BLE001 - a broken config falls back to the default
        return None


def _fingerprint(folder: Path, digest: str, limits: Limits, sandboxed: bool) -> str:
    h = hashlib.sha256(f"{GRADER_VERSION}|{digest}|{asdict(limits)}|{sandboxed}".encode())
    for path in sorted(p for p in folder.rglob("*") if p.is_file()):
        h.update(str(path.relative_to(folder)).encode())
        try:
            h.update(path.read_bytes())
        except OSError:
            h.update(b"<unreadable>")
    return h.hexdigest()


def _load(path: Path) -> dict | None:
    try:
        return json.loads(path.read_text())
    except (OSError, ValueError):
        return None


def _show_progress(args) -> bool:
    return not args.no_progress and sys.stderr.isatty()


def _worker_init() -> None:
    from .worker import fast_scratch_databases

    signal.signal(signal.SIGINT, signal.SIG_IGN)  # the main process decides when to stop
    prepare_nbgrader()
    fast_scratch_databases()


def _grade_all(jobs, workers: int, progress: bool):
    """Yield (result, fingerprint, path) as submissions finish, showing progress."""
    if not jobs:
        return
    from tqdm import tqdm

    from . import worker

    width = shutil.get_terminal_size((100, 20)).columns or 100
    bar = tqdm(total=len(jobs), unit="submission", disable=not progress, file=sys.stderr,
               ncols=min(width, 120), desc="grading")
    pool = ProcessPoolExecutor(max_workers=min(workers, len(jobs)), mp_context=get_context("spawn"),
                               initializer=_worker_init)
    pending = {pool.submit(worker.grade, job): (job, fp, saved) for job, fp, saved in jobs}
    done_count = 0
    try:
        while pending:
            done, _ = wait(pending, return_when=FIRST_COMPLETED)
            for future in done:
                job, fingerprint, saved = pending.pop(future)
                try:
                    result = future.result()
                except Exception as exc:  # noqa: BLE001 - a dead worker process
                    result = {"student": job.student, "assignment": job.assignment,
                              "status": "grader error", "detail": f"worker failed: {exc}",
                              "notebooks": {}, "seconds": 0}
                done_count += 1
                line = _result_line(result)
                if progress:
                    bar.update(1)
                    bar.set_postfix_str(f"{result['student']}/{result['assignment']}")
                    if result["status"] != "ok":
                        bar.write(line, file=sys.stderr)
                else:
                    print(f"[{done_count}/{len(jobs)}] {line}", flush=True)
                yield result, fingerprint, saved
    except BaseException:
        for future in pending:
            future.cancel()
        for process in list(getattr(pool, "_processes", {}).values()):
            process.terminate()  # its kernels die with it (bubblewrap --die-with-parent)
        pool.shutdown(wait=True, cancel_futures=True)
        bar.close()
        raise
    pool.shutdown(wait=True)
    bar.close()


def _totals(result: dict) -> tuple[float, float]:
    score = total = 0.0
    for nb in result.get("notebooks", {}).values():
        for row in nb["cells"]:
            score += row["score"] or 0
            total += row["max_score"]
    return score, total


def _result_line(result: dict) -> str:
    score, total = _totals(result)
    text = f"{result['student']}/{result['assignment']}: {score:g}/{total:g}"
    if result["status"] != "ok":
        text += f"  [{result['status']}] {result.get('detail', '')}"
    return text


def write_csvs(out: Path, course: Course, found, results) -> list[dict]:
    """grades.csv and cells.csv, with scores as the gradebook has them (hand grades included)."""
    grade_rows, cell_rows = [], []
    for student, assignment in found:
        result = results.get((student, assignment))
        if result is None:
            continue
        scores = course.scores(student, assignment)
        total = max_total = penalty = 0.0
        for name, nb in result["notebooks"].items():
            for row in nb["cells"]:
                score, max_score, by_hand = scores.get(
                    (name, row["grade_id"]), (row["score"], row["max_score"], False))
                status = "graded by hand" if by_hand else row["status"]
                score = score or 0.0
                total += score
                max_total += max_score
                penalty = max(penalty, row.get("late_penalty") or 0)
                cell_rows.append({"student": student, "assignment": assignment,
                                  "notebook": name, "grade_id": row["grade_id"],
                                  "score": _num(score), "max_score": _num(max_score),
                                  "status": status})
        grade_rows.append({"student": student, "assignment": assignment,
                           "score": _num(max(total - penalty, 0.0)), "max_score": _num(max_total),
                           "status": result["status"], "detail": result.get("detail", "")})
    _write_csv(out / "grades.csv", ["student", "assignment", "score", "max_score"], grade_rows)
    _write_csv(out / "cells.csv", ["student", "assignment", "notebook", "grade_id", "score",
                                   "max_score", "status"], cell_rows)
    return grade_rows


def _num(x: float) -> str:
    return f"{x:g}"


def _write_csv(path: Path, fields: list[str], rows: list[dict]) -> None:
    tmp = path.with_suffix(".tmp")
    with tmp.open("w", newline="") as f:
        writer = csv.DictWriter(f, fieldnames=fields, extrasaction="ignore")
        writer.writeheader()
        writer.writerows(rows)
    tmp.replace(path)


def summarize(rows: list[dict], results: dict, found, seconds: float, out: Path) -> None:
    print()
    by_assignment: dict[str, list[dict]] = {}
    for row in rows:
        by_assignment.setdefault(row["assignment"], []).append(row)
    width = max([len(a) for a in by_assignment] + [10])
    print(f"{'assignment':<{width}}  {'graded':>6}  {'mean score':>12}  {'full marks':>10}  problems")
    for assignment, group in sorted(by_assignment.items()):
        scores = [float(r["score"]) for r in group]
        max_score = float(group[0]["max_score"]) if group else 0
        full = sum(1 for s in scores if max_score and s >= max_score)
        problems = sum(1 for r in group if r["status"] != "ok")
        mean = sum(scores) / len(scores) if scores else 0
        print(f"{assignment:<{width}}  {len(group):>6}  {mean:>6.2f} / {max_score:<3g}  "
              f"{full:>10}  {problems}")
    problems = [r for r in rows if r["status"] != "ok"]
    tampering = [(key, nb["restored"]) for key, res in sorted(results.items())
                 for nb in res.get("notebooks", {}).values() if nb.get("restored")]
    if problems:
        print(f"\n{len(problems)} submission(s) to look at (each kept the points it earned "
              "before any problem):")
        for r in problems:
            print(f"  {r['student']}/{r['assignment']}: {r['status']} - {r['detail']}")
    if tampering:
        print(f"\n{len(tampering)} notebook(s) changed what the tests rely on; the grader put "
              "it back before the tests ran:")
        for (student, assignment), restored in tampering:
            shown = ", ".join(restored[:5]) + (" ..." if len(restored) > 5 else "")
            print(f"  {student}/{assignment}: {shown}")
    missing = len(found) - len(rows)
    print(f"\n{len(rows)} submission(s) in {out / 'grades.csv'} and {out / 'cells.csv'}; "
          f"feedback in {out / 'feedback'}/" + (f"; {missing} not graded" if missing else ""))
    print(f"Done in {seconds:.1f} s.")
