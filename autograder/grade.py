"""Autograde a class: every SUBMITTED_DIR/<student>/<assignment>/<notebook>.ipynb, sandboxed.

Writes OUT_DIR/grades.csv (student, assignment, score, max_score), OUT_DIR/cells.csv (one
row per graded cell, with a status) and OUT_DIR/feedback/<student>/<assignment>/*.html,
and keeps an nbgrader course in OUT_DIR/nbgrader/ (gradebook, autograded notebooks) for
hand-grading written answers. A submission's files are taken in first (``intake.py``: plain
files of the student's own only, the assignment's notebooks only); each notebook then runs in
a bubblewrap sandbox with time, memory and process limits, in a local process pool or on a
Dask cluster (``--cluster``, see ``executors.py``). A submission that crashes, hangs or
cheats gets the points it earned and a status, and never stops the others. Only this process
writes the gradebook, the CSVs and the feedback. Re-running skips submissions already graded
(unless they changed), so an interrupted run picks up where it stopped.
"""

from __future__ import annotations

import csv
import hashlib
import json
import os
import shutil
import sys
import time
from dataclasses import asdict
from pathlib import Path

from .course import Course, CourseError, prepare_nbgrader
from .executors import ExecutorError, make_executor
from .intake import Submission, name_problem, take_submission
from .sandbox import GIB, Limits, SandboxUnavailable, check_available, readonly_paths
from .worker import Job, write_json

GRADER_VERSION = "2"
REPO = Path(__file__).resolve().parent.parent


def add_arguments(parser) -> None:
    parser.add_argument("submitted", type=Path, metavar="SUBMITTED_DIR",
                        help="folder laid out as <student>/<assignment>/<notebook>.ipynb")
    parser.add_argument("--out", type=Path, default=Path("grades_out"), metavar="OUT_DIR",
                        help="where grades.csv, cells.csv and feedback/ go (default grades_out)")
    parser.add_argument("--workers", type=int, default=None, metavar="N",
                        help="submissions graded at once on this machine (default: number of "
                             "cores)")
    parser.add_argument("--cluster", metavar="ADDRESS",
                        help="grade on a Dask cluster instead: tcp://HOST:PORT of a running "
                             "`dask scheduler`, or local:N for N worker processes here")
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
    if args.workers is not None and args.workers < 1:
        raise GradeError("--workers must be at least 1")
    if args.workers is not None and args.cluster:
        raise GradeError("--workers sizes the local process pool; with --cluster the "
                         "cluster's workers grade (one submission per worker thread). "
                         "Pass one of the two.")
    for name in (args.student or []) + (args.assignment or []):
        problem = name_problem(name)
        if problem:
            raise GradeError(f"{name!r} {problem}: pass a student's or an assignment's folder "
                             "name as it appears in the submissions folder")
    _check_out_dir(out, submitted)
    if args.no_sandbox:
        print("w2s grade: WARNING: --no-sandbox: student code runs with your rights and can "
              "read solutions/, the gradebook and other students' work.", file=sys.stderr)
    else:
        try:
            check_available()
        except SandboxUnavailable as exc:
            raise GradeError(str(exc)) from None

    limits = Limits(memory_bytes=int(args.memory * GIB), notebook_seconds=args.timeout,
                    cell_seconds=args.cell_timeout or _course_cell_timeout(args.source) or 60)
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

    results_dir = course.templates / "results"
    materials = {a: course.material(a, template) for a in assignments}
    jobs, results, fingerprints, exchange = [], {}, {}, {}
    digest = template.stem
    for student, assignment in found:
        taken = take_submission(submitted, student, assignment, course.notebooks(assignment),
                                set(materials[assignment].files))
        fingerprint = _fingerprint(taken, digest, limits, not args.no_sandbox)
        previous = _load(results_dir / student / f"{assignment}.json")
        if previous and previous.get("fingerprint") == fingerprint and not args.force:
            results[(student, assignment)] = previous
            continue
        fingerprints[(student, assignment)] = fingerprint
        exchange[(student, assignment)] = taken.exchange
        jobs.append(Job(student=student, assignment=assignment,
                        notebooks=tuple(course.notebooks(assignment)), submission=taken,
                        limits=limits, sandboxed=not args.no_sandbox))

    executor = make_executor(args.cluster, args.workers or os.cpu_count() or 1,
                             sandboxed=not args.no_sandbox)
    interrupted = False
    try:
        if jobs:
            executor.start()
        reused = len(results)
        print(f"Grading {len(jobs)} submission(s) of {', '.join(assignments)} with "
              f"{executor.describe(len(jobs))}"
              + (f"; {reused} unchanged since the last run" if reused else "")
              + ("" if args.no_sandbox else f"; sandboxed, {args.memory:g} GiB, "
                 f"{limits.notebook_seconds:g} s per notebook, {limits.cell_seconds:g} s per cell"),
              flush=True)
        for result in _progress(executor.results(jobs, materials), len(jobs),
                                _show_progress(args)):
            key = (result["student"], result["assignment"])
            if key in results:
                continue  # already recorded in this run: never graded twice into the gradebook
            result["fingerprint"] = fingerprints[key]
            _write_outputs(out, course, result, exchange[key])
            course.record(result)
            write_json(results_dir / key[0] / f"{key[1]}.json", result)
            results[key] = result
            _announce_recorded(result)
    except ExecutorError as exc:
        executor.close(cancel=True)
        raise GradeError(str(exc)) from None
    except KeyboardInterrupt:
        interrupted = True
        executor.close(cancel=True)
    except BaseException:
        executor.close(cancel=True)
        raise
    else:
        executor.close()

    rows = write_csvs(out, course, found, results)
    print_class_report(rows, results, found, time.monotonic() - started, out)
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
    """(student, assignment) pairs in ``submitted``, and why other folders were skipped.

    Folders are listed, never followed: a linked assignment folder is found here and refused
    when its files are taken in (``intake.take_submission``); a linked student folder is
    skipped, with its reason."""
    found, skipped = [], []
    for entry in sorted(os.scandir(submitted), key=lambda e: e.name):
        student = entry.name
        if student.startswith(".") or (students and student not in students):
            continue
        if entry.is_symlink():
            skipped.append(f"{entry.path}: refused: the student folder is a symlink to "
                           f"{os.readlink(entry.path)}")
            continue
        if not entry.is_dir(follow_symlinks=False):
            continue
        problem = name_problem(student)
        if problem:
            skipped.append(f"{entry.path!r}: refused: the folder name {problem}; rename it")
            continue
        for sub in sorted(os.scandir(entry.path), key=lambda e: e.name):
            if sub.name in assignments and (sub.is_symlink() or sub.is_dir(follow_symlinks=False)):
                found.append((student, sub.name))
            elif sub.is_dir(follow_symlinks=False) and not sub.name.startswith("."):
                skipped.append(f"{sub.path!r}: no assignment named {sub.name!r}")
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
    from traitlets.config.loader import ConfigFileNotFound, PyFileConfigLoader

    try:
        config = PyFileConfigLoader(config_file.name, str(config_file.parent)).load_config()
    except ConfigFileNotFound:
        return None
    except Exception as exc:  # noqa: BLE001 - the file runs as code: any error is reported
        raise GradeError(f"{config_file} could not be read ({type(exc).__name__}: {exc}). "
                         "Fix it, or pass --cell-timeout to set the limit per cell.") from None
    timeout = config.Execute.timeout if "timeout" in config.Execute else None
    if timeout is None:
        return None
    try:
        timeout = float(timeout)
    except (TypeError, ValueError):
        raise GradeError(f"{config_file} sets c.Execute.timeout = {timeout!r}, which is not "
                         "a number of seconds. Fix it, or pass --cell-timeout.") from None
    return timeout if timeout > 0 else None


def _fingerprint(taken: Submission, digest: str, limits: Limits, sandboxed: bool) -> str:
    """What the grade depends on: the files taken in (and what was refused), the course, limits."""
    h = hashlib.sha256(f"{GRADER_VERSION}|{digest}|{asdict(limits)}|{sandboxed}".encode())
    h.update(json.dumps([taken.refused, taken.renamed, taken.ignored, taken.timestamp,
                         taken.problem], sort_keys=True).encode())
    for name, data in sorted(taken.notebooks.items()):
        h.update(f"{name}:{len(data)}:".encode())
        h.update(data)
    return h.hexdigest()


def _load(path: Path) -> dict | None:
    try:
        return json.loads(path.read_text())
    except (OSError, ValueError):
        return None


def _show_progress(args) -> bool:
    return not args.no_progress and sys.stderr.isatty()


def _progress(results, total: int, progress: bool):
    """Pass results through, showing a progress bar (or one line each without a terminal)."""
    from tqdm import tqdm

    width = shutil.get_terminal_size((100, 20)).columns or 100
    bar = tqdm(total=total, unit="submission", disable=not progress, file=sys.stderr,
               ncols=min(width, 120), desc="grading")
    try:
        for count, (_, result) in enumerate(results, 1):
            line = _result_line(result)
            if progress:
                bar.update(1)
                bar.set_postfix_str(f"{result['student']}/{result['assignment']}")
                if result["status"] != "ok":
                    bar.write(line, file=sys.stderr)
            else:
                print(f"[{count}/{total}] {line}", flush=True)
            yield result
    finally:
        bar.close()


def _write_outputs(out: Path, course: Course, result: dict, exchange: dict[str, bytes]) -> None:
    """The autograded notebooks and feedback pages a worker returned, written here, with the
    exchange's files beside the notebooks (``nbgrader release_feedback`` reads them)."""
    outputs = result.pop("outputs", None) or {}
    student, assignment = result["student"], result["assignment"]
    if exchange:
        autograded = course.root / "autograded" / student / assignment
        autograded.mkdir(parents=True, exist_ok=True)
        for name, data in exchange.items():
            (autograded / name).write_bytes(data)
    for folder, kind, suffix in ((course.root / "autograded", "autograded", ".ipynb"),
                                 (out / "feedback", "feedback", ".html")):
        target = folder / student / assignment
        for name, text in outputs.get(kind, {}).items():
            target.mkdir(parents=True, exist_ok=True)
            (target / f"{name}{suffix}").write_text(text)


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


def print_class_report(rows: list[dict], results: dict, found, seconds: float, out: Path) -> None:
    """Print the per-assignment table, the submissions to look at and where the files are."""
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
    left_out = [(key, res["ignored"]) for key, res in sorted(results.items())
                if res.get("ignored")]
    if left_out:
        print(f"\n{len(left_out)} submission(s) held other files; only the assignment's "
              "notebooks are graded, these were left out:")
        for (student, assignment), ignored in left_out:
            shown = "; ".join(ignored[:5]) + (f"; ... ({len(ignored)} in all)"
                                             if len(ignored) > 5 else "")
            print(f"  {student}/{assignment}: {shown}")
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
