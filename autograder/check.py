"""Check an assignment notebook before handing it in: ``w2s check NOTEBOOK``.

Runs a copy of the notebook top to bottom on a fresh kernel (your file is not modified), with
a time limit per cell, and prints one line per question: passed, failed (with the test's
message), not attempted (the ``raise NotImplementedError()`` stub is still there) or graded by
hand. It runs only the tests you can see — hidden tests on fresh inputs run when the
notebook is graded — and needs no nbgrader database. Exit status 0 means every visible test
passed; 1 means at least one did not; 2 means the notebook could not be checked at all.

Test cells are taken from the released version in ``exercises/`` when it can be found, so an
accidentally edited test still checks the real thing.
"""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap
import time
from dataclasses import dataclass, field
from pathlib import Path

from nbgrader.utils import is_solution

from .cells import is_manual_cell, is_test_cell
from .feedback import visible_source
from .intake import Refused, take_notebook

REPO = Path(__file__).resolve().parent.parent
DEFAULT_CELL_TIMEOUT = 60
STUB_ERRORS = ("NotImplementedError",)
TEXT_STUB = "YOUR ANSWER HERE"


class CheckError(Exception):
    """The notebook cannot be checked; the message says why and what to do."""


@dataclass
class Question:
    """One graded cell of the notebook and what happened to it."""
    grade_id: str
    points: float
    description: str
    manual: bool = False
    answer_ids: list[str] = field(default_factory=list)
    status: str = "not run"      # passed | failed | not attempted | not run | graded by hand
    message: str = ""


def _nbgrader(cell) -> dict:
    return cell.get("metadata", {}).get("nbgrader", {}) or {}


def docstring(source: str) -> str:
    """The first line of a test cell's docstring (what the test checks)."""
    text = source.lstrip()
    for quote in ('"""', "'''"):
        if text.startswith(quote):
            body = text[3:].split(quote, 1)[0].strip()
            return body.splitlines()[0] if body else ""
    return ""


def read_notebook(path: Path):
    """The notebook at ``path``, or a CheckError that says what is wrong and how to fix it."""
    import nbformat

    if not path.exists():
        raise CheckError(f"no such notebook: {path}. Give the path to your .ipynb file, e.g. "
                         "exercises/ps1-measuring-weak-to-strong/ps1-measuring-weak-to-strong.ipynb")
    if path.is_dir():
        found = sorted(p.name for p in path.glob("*.ipynb"))
        hint = f" (it holds {', '.join(found)})" if found else ""
        raise CheckError(f"{path} is a folder{hint}; give the path to the notebook file itself")
    if path.suffix != ".ipynb":
        raise CheckError(f"{path} is not a notebook (.ipynb) file")
    try:
        nb = nbformat.reads(take_notebook(path).decode("utf-8"), as_version=4)
    except Refused as exc:
        raise CheckError(f"{path} is not a plain notebook file ({exc}). w2s check, like the "
                         "grader, reads only a notebook file of your own: copy the notebook "
                         "itself there (cp --dereference) and check the copy") from None
    except (UnicodeDecodeError, ValueError, KeyError, TypeError, AttributeError,
            nbformat.ValidationError) as exc:
        raise CheckError(
            f"{path} is not a readable notebook ({type(exc).__name__}: {str(exc)[:200]}). "
            "If you edited it outside JupyterLab, restore a copy: JupyterLab's File > "
            "Revert Notebook to Checkpoint, or a fresh copy from exercises/") from None
    except OSError as exc:
        raise CheckError(f"cannot read {path}: {exc.strerror}") from None
    if not isinstance(nb.get("cells"), list):
        raise CheckError(f"{path} has no list of cells; it is not a valid notebook")
    for cell in nb.cells:
        # nbgrader's helpers read cell.metadata.nbgrader: drop it where it is not a mapping
        if not isinstance(cell.metadata.get("nbgrader", {}), dict):
            del cell.metadata["nbgrader"]
    return nb


def find_release(path: Path, release_root: Path | None = None) -> Path | None:
    """The released notebook of the same name under ``exercises/``, if there is one."""
    release_root = release_root or REPO / "exercises"
    try:
        if path.resolve().is_relative_to(release_root.resolve()):
            return None  # checking the release itself: nothing to restore from
    except OSError:
        return None
    matches = sorted(release_root.glob(f"*/{path.name}")) if release_root.is_dir() else []
    return matches[0] if len(matches) == 1 else None


def restore_tests(nb, release_nb) -> tuple[list[str], list[str]]:
    """Give ``nb`` the released test cells; returns (notes, grade ids of missing tests)."""
    notes = []
    released = {_nbgrader(c).get("grade_id"): c for c in release_nb.cells if is_test_cell(c)}
    present = set()
    for cell in nb.cells:
        grade_id = _nbgrader(cell).get("grade_id")
        if grade_id in released and cell.cell_type == "code":
            present.add(grade_id)
            original = released[grade_id].source
            if not _same_test(cell.source, original):
                notes.append(f"test cell {grade_id} was edited; checked with the original test")
            cell.source = original
            cell.metadata.setdefault("nbgrader", {}).update(_nbgrader(released[grade_id]))
    for grade_id in released:
        if grade_id not in present:
            notes.append(f"test cell {grade_id} is missing from your notebook; copy it back "
                         "from the notebook in exercises/ (it will be restored when graded)")
    return notes, [g for g in released if g not in present]


def _same_test(source: str, original: str) -> bool:
    try:
        return visible_source(source) == visible_source(original)
    except RuntimeError:  # unbalanced hidden-test markers typed into the cell
        return False


def collect_questions(nb, missing=()) -> list[Question]:
    """Every graded cell in order, each with the answer cells that come before it."""
    questions, pending = [], []
    for cell in nb.cells:
        meta = _nbgrader(cell)
        if is_manual_cell(cell):
            questions.append(Question(meta.get("grade_id", "?"), float(meta.get("points", 0)),
                                      "written answer", manual=True))
        elif is_solution(cell):
            pending.append(meta.get("grade_id", "?"))
        elif is_test_cell(cell):
            questions.append(Question(meta.get("grade_id", "?"), float(meta.get("points", 0)),
                                      docstring(cell.source), answer_ids=pending))
            pending = []
    for grade_id in missing:
        questions.append(Question(grade_id, 0.0, "", status="failed",
                                  message="test cell missing from your notebook"))
    return questions


def _error(cell):
    for out in cell.get("outputs", []):
        if out.get("output_type") == "error":
            return out.get("ename", "Error"), out.get("evalue", "")
    return None


def _one_line(text: str, width: int = 240) -> str:
    text = " ".join(str(text).split())
    return text if len(text) <= width else text[: width - 1] + "…"


def execute(nb, cwd: Path, cell_timeout: int, total_timeout: int) -> tuple[set[int], str]:
    """Run the code cells in place; returns (indices that ran, why execution stopped or "")."""
    from autograder.kernel_client import NotebookClient
    from nbclient.exceptions import CellTimeoutError, DeadKernelError

    client = NotebookClient(nb, timeout=cell_timeout, kernel_name="python3", allow_errors=True,
                            interrupt_on_timeout=False, shutdown_kernel="immediate",
                            resources={"metadata": {"path": str(cwd)}})
    ran, stopped = set(), ""
    deadline = time.monotonic() + total_timeout
    code_cells = [(i, c) for i, c in enumerate(nb.cells) if c.cell_type == "code"]
    try:
        # The kernel's own chatter (e.g. transport warnings) is not the student's business.
        # As in grading: nothing beside the notebook can stand in for a module it imports.
        safe_env = {**os.environ, "PYTHONSAFEPATH": "1", "PYTHONNOUSERSITE": "1"}
        client.extra_arguments = ["--InteractiveShellApp.ignore_cwd=True"]
        with client.setup_kernel(stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                                 env=safe_env):
            for index, cell in code_cells:
                left = deadline - time.monotonic()
                if left <= 0:
                    stopped = f"the whole notebook took longer than {total_timeout} s"
                    break
                client.timeout = int(max(1, min(cell_timeout, left)))
                try:
                    client.execute_cell(cell, index)
                except CellTimeoutError:
                    stopped = (f"cell {index + 1} ran longer than {client.timeout} s "
                               "(an endless loop?); the cells after it were not run")
                    cell.outputs = [{"output_type": "error", "ename": "TimeoutError",
                                     "evalue": f"cell ran longer than {client.timeout} s",
                                     "traceback": []}]
                    ran.add(index)
                    break
                except DeadKernelError:
                    stopped = (f"the Python kernel died in cell {index + 1} (did the code call "
                               "exit() or run out of memory?); the cells after it were not run")
                    cell.outputs = [{"output_type": "error", "ename": "DeadKernelError",
                                     "evalue": "the kernel died while running this cell",
                                     "traceback": []}]
                    ran.add(index)
                    break
                ran.add(index)
    except (CellTimeoutError, DeadKernelError) as exc:  # raised while shutting down
        stopped = stopped or f"the kernel stopped responding ({type(exc).__name__})"
    except RuntimeError as exc:
        if not ran:
            raise CheckError(f"could not start a Python kernel: {exc}") from None
        stopped = stopped or f"the kernel failed: {exc}"
    return ran, stopped


def grade_visible(nb, questions: list[Question], ran: set[int]) -> list[str]:
    """Fill in each question's status from the executed cells; returns other problems."""
    by_id = {q.grade_id: q for q in questions}
    stub_ids, answer_errors, problems = set(), {}, []
    for index, cell in enumerate(nb.cells):
        meta = _nbgrader(cell)
        grade_id = meta.get("grade_id")
        if is_manual_cell(cell):
            q = by_id[grade_id]
            q.status = "graded by hand"
            answered = cell.source.strip() and TEXT_STUB not in cell.source
            q.message = "answered" if answered else "not attempted"
            continue
        if cell.cell_type != "code":
            continue
        err = _error(cell) if index in ran else None
        if is_solution(cell):
            if err and err[0] in STUB_ERRORS:
                stub_ids.add(grade_id)
            elif err:
                answer_errors[grade_id] = err
        elif is_test_cell(cell):
            q = by_id[grade_id]
            if index not in ran:
                q.status, q.message = "not run", ""
            elif err is None:
                q.status = "passed"
            elif err[0] in STUB_ERRORS or stub_ids.intersection(q.answer_ids) or \
                    (err[0] == "NameError" and stub_ids):
                q.status, q.message = "not attempted", ""
            else:
                q.status = "failed"
                own = [answer_errors[a] for a in q.answer_ids if a in answer_errors]
                if own and err[0] == "NameError":
                    q.message = f"your answer cell raised {own[0][0]}: {_one_line(own[0][1])}"
                else:
                    q.message = f"{err[0]}: {_one_line(err[1])}" if err[1] else err[0]
        elif err and index in ran and err[0] not in STUB_ERRORS and err[0] != "NameError":
            problems.append(f"cell {index + 1} raised {err[0]}: {_one_line(err[1], 160)}")
    return problems


def report(path: Path, questions: list[Question], notes: list[str], stopped: str) -> int:
    auto = [q for q in questions if not q.manual]
    width = max([len(q.grade_id) for q in questions] + [8])
    print(f"Checking {path} (visible tests only; hidden tests run when it is graded)")
    for q in questions:
        label = "FAILED" if q.status == "failed" else q.status
        detail = q.message if q.message else q.description
        line = f"  {label:<15} {q.grade_id:<{width}} {q.points:>4g} pt{'s' if q.points != 1 else ' '}  {detail}"
        print(textwrap.shorten(line, 200, placeholder="…") if len(line) > 200 else line)
    for note in notes:
        print(f"  note: {note}")
    if stopped:
        print(f"  stopped: {stopped}")
    passed = [q for q in auto if q.status == "passed"]
    counts = {s: sum(q.status == s for q in auto) for s in ("failed", "not attempted", "not run")}
    points = sum(q.points for q in passed), sum(q.points for q in auto)
    tail = ", ".join(f"{n} {s}" for s, n in counts.items() if n)
    print(f"{len(passed)} of {len(auto)} autograded questions pass their visible tests "
          f"({points[0]:g} of {points[1]:g} points){'; ' + tail if tail else ''}.")
    manual = [q for q in questions if q.manual]
    if manual:
        print(f"{len(manual)} written answer{' is' if len(manual) == 1 else 's are'} graded by hand.")
    if len(passed) == len(auto):
        print("All visible tests pass. Hidden tests may still find mistakes: re-read the questions.")
        return 0
    return 1


def check(path: Path, cell_timeout: int = DEFAULT_CELL_TIMEOUT, total_timeout: int = 900,
          release_root: Path | None = None) -> int:
    """Check the notebook at ``path`` and print the report; returns the exit status."""
    import nbformat

    nb = read_notebook(path)
    notes, missing = [], []
    release = find_release(path, release_root)
    if release is not None and release.resolve() != path.resolve():
        try:
            notes, missing = restore_tests(nb, nbformat.read(release, as_version=4))
        except (OSError, ValueError):
            pass  # an unreadable release copy only means no restoring
    questions = collect_questions(nb, missing)
    if not any(not q.manual for q in questions):
        raise CheckError(f"{path} has no autograded tests: is it an assignment notebook from "
                         "exercises/ (or solutions/)?")
    ran, stopped = execute(nb, path.resolve().parent, cell_timeout, total_timeout)
    notes += grade_visible(nb, questions, ran)
    return report(path, questions, notes, stopped)


def add_arguments(parser) -> None:
    parser.add_argument("notebook", type=Path, help="the assignment notebook to check")
    parser.add_argument("--timeout", type=int, default=DEFAULT_CELL_TIMEOUT, metavar="SECONDS",
                        help=f"time limit per cell (default {DEFAULT_CELL_TIMEOUT})")
    parser.add_argument("--total-timeout", type=int, default=900, metavar="SECONDS",
                        help="time limit for the whole notebook (default 900)")


def run(args) -> int:
    if args.timeout < 1 or args.total_timeout < 1:
        print("w2s check: time limits must be at least 1 second", file=sys.stderr)
        return 2
    try:
        return check(args.notebook, args.timeout, args.total_timeout)
    except CheckError as exc:
        print(f"w2s check: {exc}", file=sys.stderr)
        return 2
