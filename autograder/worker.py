"""Grade one submission (one student, one assignment): restore, run sandboxed, score, feedback.

Runs in a worker process. It never writes the course gradebook: it scores with nbgrader's
own preprocessors (``SaveAutoGrades``, ``AssignLatePenalties``, ``GetGrades``) against a
private copy of the assignment-only template gradebook, and returns plain data that the
main process records, so parallel workers cannot corrupt the gradebook.
"""

from __future__ import annotations

import copy
import json
import re
import shutil
import time
import traceback
from dataclasses import asdict, dataclass
from pathlib import Path

import nbformat
from nbformat import NotebookNode

from .execute import Execution, cell_kind, execute
from .restore import rebuild, sanitize
from .sandbox import Limits, Sandbox

# Files a submission folder may carry that are never copied into the sandbox.
SKIP_FILES = {"timestamp.txt"}
# What nbgrader's exchange puts next to a submission; kept with the autograded notebook.
EXCHANGE_FILES = ("timestamp.txt", "submission_secret.txt")
MAX_COPY_BYTES = 200 * 1024**2
ANSI = re.compile(r"\x1b\[[0-9;]*[A-Za-z]")


@dataclass(frozen=True)
class Job:
    student: str
    assignment: str
    notebooks: tuple[str, ...]
    submission_dir: str
    course_root: str
    template_db: str
    work_dir: str
    feedback_dir: str
    autograded_dir: str
    limits: Limits
    sandboxed: bool = True


def fast_scratch_databases() -> None:
    """The per-submission gradebooks are scratch copies: skip SQLite's fsync on every commit."""
    from sqlalchemy import event
    from sqlalchemy.engine import Engine

    @event.listens_for(Engine, "connect")
    def _no_sync(connection, _record):
        cursor = connection.cursor()
        cursor.execute("PRAGMA synchronous=OFF")
        cursor.execute("PRAGMA journal_mode=MEMORY")
        cursor.close()


def grade(job: Job) -> dict:
    """Grade ``job``; never raises: a failure becomes a status in the result."""
    start = time.monotonic()
    work = Path(job.work_dir)
    try:
        result = _grade(job, work)
    except Exception as exc:  # noqa: BLE001 - one broken submission must not stop the class
        result = {"status": "grader error", "detail": f"{type(exc).__name__}: {exc}",
                  "traceback": traceback.format_exc(), "notebooks": {}}
    finally:
        shutil.rmtree(work, ignore_errors=True)
    result.update(student=job.student, assignment=job.assignment,
                  seconds=round(time.monotonic() - start, 2))
    return result


def _grade(job: Job, work: Path) -> dict:
    from nbgrader.api import Gradebook
    from nbgrader.coursedir import CourseDirectory

    work.mkdir(parents=True, exist_ok=True)
    db_path = work / "gradebook.db"
    shutil.copyfile(job.template_db, db_path)
    db_url = f"sqlite:///{db_path}"
    submission = Path(job.submission_dir)
    timestamp = CourseDirectory().get_existing_timestamp(str(submission))
    with Gradebook(db_url) as gb:
        gb.update_or_create_student(job.student)
        gb.update_or_create_submission(job.assignment, job.student, timestamp=timestamp)

    notebooks = {}
    for name in job.notebooks:
        notebooks[name] = _grade_notebook(job, name, work, db_url)
    statuses = [nb["status"] for nb in notebooks.values() if nb["status"] != "ok"]
    details = [f"{name}: {nb['detail']}" for name, nb in notebooks.items() if nb["detail"]]
    return {"status": statuses[0] if statuses else "ok", "detail": "; ".join(details),
            "timestamp": timestamp.isoformat() if timestamp else None, "notebooks": notebooks}


def _grade_notebook(job: Job, name: str, work: Path, db_url: str) -> dict:
    resources = {"nbgrader": {"notebook": name, "assignment": job.assignment,
                              "student": job.student, "db_url": db_url},
                 "metadata": {"name": name}}
    release = nbformat.read(Path(job.course_root) / "release" / job.assignment / f"{name}.ipynb",
                            as_version=4)
    path = Path(job.submission_dir) / f"{name}.ipynb"
    renamed = None
    if not path.exists() and len(job.notebooks) == 1:
        # one notebook expected, one other notebook there: a renamed download ("ps1 (1).ipynb")
        others = [p for p in Path(job.submission_dir).glob("*.ipynb") if p.is_file()]
        if len(others) == 1:
            path, renamed = others[0], others[0].name
    execution = Execution()
    submitted, problem = _read(path)
    if submitted is None:
        # Nothing to run: score the release itself, with every test marked as not run.
        execution.status, execution.detail = problem
        submitted = copy.deepcopy(release)
        submitted.cells = [c for c in submitted.cells if cell_kind(c) != "test"]
    nb = sanitize(rebuild(submitted, release), resources)
    if problem is None:
        sandbox = Sandbox(work / f"sb{job.notebooks.index(name)}", job.limits,
                          enabled=job.sandboxed)
        workdir = sandbox.workdir(job.assignment)
        _copy_files(Path(job.submission_dir), Path(job.course_root) / "source" / job.assignment,
                    workdir)
        execution = execute(nb, sandbox, workdir)
    else:
        for cell in nb.cells:
            if cell_kind(cell) == "test":
                cell.outputs = [NotebookNode(output_type="error", ename="NotRun",
                                             evalue=problem[1], traceback=[problem[1]])]
    cells = _score(nb, resources)
    autograded = Path(job.autograded_dir)
    autograded.mkdir(parents=True, exist_ok=True)
    nbformat.write(nb, autograded / f"{name}.ipynb")
    for kept in EXCHANGE_FILES:  # as `nbgrader autograde` does: release_feedback reads them
        if (Path(job.submission_dir) / kept).is_file():
            (autograded / kept).write_bytes((Path(job.submission_dir) / kept).read_bytes())
    feedback = Path(job.feedback_dir)
    feedback.mkdir(parents=True, exist_ok=True)
    (feedback / f"{name}.html").write_text(_feedback_html(nb, resources))
    out = asdict(execution)
    if renamed and execution.status == "ok":
        out["status"], out["detail"] = "renamed notebook", f"graded {renamed} as {name}.ipynb"
    out["cells"] = cells
    out["restored"] = [r for r in execution.restored if r not in IGNORED_RESTORES]
    return out


# ipykernel itself swaps these for every execution; restoring them is routine, not tampering.
IGNORED_RESTORES = {"builtins.input", "getpass.getpass", "sys.excepthook"}


def _read(path: Path) -> tuple[NotebookNode | None, tuple[str, str] | None]:
    if not path.exists():
        return None, ("missing notebook", f"{path.name} was not submitted")
    try:
        nb = nbformat.read(path, as_version=4)
        if not isinstance(nb.get("cells"), list):
            raise ValueError("it has no list of cells")
        for cell in nb.cells:
            if not isinstance(cell, dict) or "cell_type" not in cell:
                raise ValueError("a cell has no type")
            if not isinstance(cell.get("metadata"), dict):
                cell.metadata = NotebookNode()
            source = cell.get("source", "")
            cell.source = "".join(map(str, source)) if isinstance(source, list) else str(source)
        return nb, None
    except Exception as exc:  # noqa: BLE001 - any unreadable file is the same case
        reason = str(exc).splitlines()[0][:200] if str(exc) else type(exc).__name__
        return None, ("corrupt notebook", f"{path.name} could not be read as a notebook ({reason})")


def _copy_files(submission: Path, source: Path, dest: Path) -> None:
    """The student's own files, then the assignment's non-notebook files over them."""
    dest.mkdir(parents=True, exist_ok=True)
    total = 0
    for folder, overwrite in ((submission, False), (source, True)):
        for path in sorted(folder.rglob("*")):
            rel = path.relative_to(folder)
            if (path.is_symlink() or not path.is_file() or path.suffix == ".ipynb"
                    or rel.name in SKIP_FILES or ".ipynb_checkpoints" in rel.parts):
                continue
            total += path.stat().st_size
            if total > MAX_COPY_BYTES and not overwrite:
                continue
            target = dest / rel
            target.parent.mkdir(parents=True, exist_ok=True)
            shutil.copyfile(path, target)


def _score(nb: NotebookNode, resources: dict) -> list[dict]:
    """nbgrader's scoring into the private gradebook; one row per graded cell."""
    from nbgrader.api import Gradebook
    from nbgrader.preprocessors import AssignLatePenalties, LimitOutput, SaveAutoGrades

    for preprocessor in (LimitOutput, SaveAutoGrades, AssignLatePenalties):
        nb, resources = preprocessor().preprocess(nb, resources)
    info = resources["nbgrader"]
    rows = []
    by_id = {c.metadata.nbgrader.get("grade_id"): c for c in nb.cells
             if "nbgrader" in c.metadata}
    with Gradebook(info["db_url"]) as gb:
        notebook = gb.find_submission_notebook(info["notebook"], info["assignment"],
                                               info["student"])
        for g in sorted(notebook.grades, key=lambda g: _cell_position(nb, g.name)):
            cell = by_id.get(g.name)
            rows.append({"grade_id": g.name, "score": g.score, "auto_score": g.auto_score,
                         "max_score": g.max_score, "needs_manual_grade": g.needs_manual_grade,
                         "status": _cell_status(cell, g)})
        comments = {c.name: c.auto_comment for c in notebook.comments}
        late = notebook.late_submission_penalty
    for row in rows:
        row["comment"] = comments.get(row["grade_id"])
        row["late_penalty"] = late
    return rows


def _cell_position(nb: NotebookNode, gid: str) -> int:
    for i, cell in enumerate(nb.cells):
        if cell.metadata.get("nbgrader", {}).get("grade_id") == gid:
            return i
    return len(nb.cells)


def _cell_status(cell: NotebookNode | None, grade) -> str:
    errors = [o for o in (cell.outputs if cell is not None and cell.cell_type == "code" else [])
              if o.get("output_type") == "error"]
    if errors and errors[0].get("ename") == "NotRun":
        return "not run"
    if grade.auto_score is None:
        return "needs manual grading"
    if cell is not None and cell.metadata.nbgrader.get("solution") and grade.auto_score == 0:
        return "no answer"
    if grade.auto_score >= grade.max_score:
        return "passed"
    if grade.auto_score > 0:
        return "partial"
    if errors:
        return f"failed ({errors[0].get('ename', 'error')})"
    return "failed"


# -- feedback ---------------------------------------------------------------------------------
_EXPORTER = None


def _feedback_html(nb: NotebookNode, resources: dict) -> str:
    """nbgrader's feedback page, with hidden tests and their tracebacks taken out."""
    global _EXPORTER
    from nbconvert.exporters import HTMLExporter
    from nbconvert.preprocessors import CSSHTMLHeaderPreprocessor
    from nbgrader.preprocessors import GetGrades
    from traitlets.config import Config

    nb = strip_hidden_tests(copy.deepcopy(nb))
    resources = copy.deepcopy(resources)
    nb, resources = GetGrades().preprocess(nb, resources)
    if _EXPORTER is None:
        template_dir = Path(__import__("nbgrader").__file__).parent / "server_extensions" / "formgrader"
        config = Config()
        config.HTMLExporter.template_name = "feedback"
        config.HTMLExporter.sanitize_html = True  # student output must not run script in it
        config.HTMLExporter.extra_template_basedirs = [str(template_dir / "templates")]
        config.HTMLExporter.extra_template_paths = [
            str(template_dir / "static" / "node_modules" / "bootstrap" / "dist" / "css")]
        config.Exporter.default_preprocessors = []
        _EXPORTER = HTMLExporter(config=config)
        _EXPORTER.register_preprocessor(CSSHTMLHeaderPreprocessor(), enabled=True)
    html, _ = _EXPORTER.from_notebook_node(nb, resources=resources)
    return html


def strip_hidden_tests(nb: NotebookNode) -> NotebookNode:
    """Remove hidden test code, and the tracebacks that would quote it, from graded cells."""
    from nbgrader.preprocessors import ClearHiddenTests

    clearer = ClearHiddenTests(enforce_metadata=False)
    for cell in nb.cells:
        if cell.cell_type != "code" or not clearer._remove_hidden_test_region(cell):
            continue
        for out in cell.outputs:
            if out.get("output_type") == "error":
                message = f"{out.get('ename', 'Error')}: {ANSI.sub('', str(out.get('evalue', '')))}"
                hint = _failing_part(out)
                out.traceback = [message.rstrip(": ")] + ([hint] if hint else [])
    return nb


def _failing_part(out: NotebookNode) -> str:
    """Say whether a visible or a hidden test failed, without quoting hidden code."""
    if out.get("ename") in ("NotRun", "GradingStopped", "CellTimeoutError"):
        return ""
    return "(the traceback is not shown because this cell also runs hidden tests)"


def write_json(path: Path, payload: dict) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(".tmp")
    tmp.write_text(json.dumps(payload, indent=1, default=str))
    tmp.replace(path)
