"""Grade one submission (one student, one assignment): restore, run sandboxed, score, feedback.

Runs in a worker process (of the local pool or of a Dask cluster). It writes nothing of the
course: it scores with nbgrader's own preprocessors (``SaveAutoGrades``,
``AssignLatePenalties``, ``GetGrades``) against a private copy of the assignment-only
template gradebook, and returns plain data - scores, the autograded notebook, the feedback
page - that the main process records, so parallel workers cannot corrupt the gradebook and
a run on a cluster writes exactly what a local run writes.
"""

from __future__ import annotations

import copy
import json
import shutil
import tempfile
import time
import traceback
from dataclasses import asdict, dataclass
from pathlib import Path

import nbformat
from nbformat import NotebookNode
from nbgrader.utils import is_grade, is_solution

from .cells import cell_kind
from .execute import Execution, execute
from .feedback import strip_hidden_tests
from .intake import Submission
from .restore import rebuild, sanitize
from .sandbox import Limits, Sandbox


@dataclass(frozen=True)
class Material:
    """What grading one assignment needs from the course, as data: it travels to the workers
    (a process pool here, or a cluster's machines), which then need no course folder."""

    assignment: str
    release: dict[str, bytes]      # notebook name -> the released notebook
    files: dict[str, bytes]        # the release's other files, by relative path
    template_db: bytes             # the assignment-only gradebook, to score against


@dataclass(frozen=True)
class Job:
    student: str
    assignment: str
    notebooks: tuple[str, ...]
    submission: Submission         # the files taken in (see intake.py), not a path
    limits: Limits
    sandboxed: bool = True


_FAST_DATABASES = []


def fast_scratch_databases() -> None:
    """The per-submission gradebooks are scratch copies: skip SQLite's fsync on every commit."""
    from sqlalchemy import event
    from sqlalchemy.engine import Engine

    if _FAST_DATABASES:
        return
    _FAST_DATABASES.append(True)

    @event.listens_for(Engine, "connect")
    def _no_sync(connection, _record):
        cursor = connection.cursor()
        cursor.execute("PRAGMA synchronous=OFF")
        cursor.execute("PRAGMA journal_mode=MEMORY")
        cursor.close()


def grade(job: Job, material: Material) -> dict:
    """Grade ``job``; never raises: a failure becomes a status in the result.

    The result is plain data, autograded notebooks and feedback pages included
    (``outputs``): only the main process writes files of the course.
    """
    start = time.monotonic()
    work = Path(tempfile.mkdtemp(prefix="w2s-grade-"))
    try:
        result = _grade(job, material, work)
    except Exception as exc:  # noqa: BLE001 - one broken submission must not stop the class
        result = {"status": "grader error", "detail": f"{type(exc).__name__}: {exc}",
                  "traceback": traceback.format_exc(), "notebooks": {}}
    finally:
        shutil.rmtree(work, ignore_errors=True)
    result.update(student=job.student, assignment=job.assignment,
                  seconds=round(time.monotonic() - start, 2))
    return result


def _grade(job: Job, material: Material, work: Path) -> dict:
    from nbgrader.api import Gradebook
    from nbgrader.utils import parse_utc

    db_path = work / "gradebook.db"
    db_path.write_bytes(material.template_db)
    db_url = f"sqlite:///{db_path}"
    stamp = job.submission.timestamp
    timestamp = parse_utc(stamp) if stamp else None
    with Gradebook(db_url) as gb:
        gb.update_or_create_student(job.student)
        gb.update_or_create_submission(job.assignment, job.student, timestamp=timestamp)

    notebooks, outputs = {}, {"autograded": {}, "feedback": {}}
    for name in job.notebooks:
        notebooks[name] = _grade_notebook(job, material, name, work, db_url, outputs)
    statuses = [nb["status"] for nb in notebooks.values() if nb["status"] != "ok"]
    details = [f"{name}: {nb['detail']}" for name, nb in notebooks.items() if nb["detail"]]
    return {"status": statuses[0] if statuses else "ok", "detail": "; ".join(details),
            "timestamp": timestamp.isoformat() if timestamp else None, "notebooks": notebooks,
            "ignored": list(job.submission.ignored), "outputs": outputs}


def _grade_notebook(job: Job, material: Material, name: str, work: Path, db_url: str,
                    outputs: dict) -> dict:
    resources = {"nbgrader": {"notebook": name, "assignment": job.assignment,
                              "student": job.student, "db_url": db_url},
                 "metadata": {"name": name}}
    release = nbformat.reads(material.release[name].decode("utf-8"), as_version=4)
    taken = job.submission
    refused = taken.problem or taken.refused.get(name)
    execution = Execution()
    if refused:
        submitted, problem = None, (refused, "graded as not submitted")
    elif name not in taken.notebooks:
        submitted, problem = None, ("missing notebook", f"{name}.ipynb was not submitted")
    else:
        submitted, problem = _parse(taken.notebooks[name], name)
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
        _write_release_files(material.files, workdir)
        execution = execute(nb, sandbox, workdir)
    else:
        for cell in nb.cells:
            if cell_kind(cell) == "test":
                cell.outputs = [NotebookNode(output_type="error", ename="NotRun",
                                             evalue=problem[1], traceback=[problem[1]])]
    cells = _score(nb, resources)
    outputs["autograded"][name] = nbformat.writes(nb)
    outputs["feedback"][name] = _feedback_html(nb, resources)
    out = asdict(execution)
    renamed = taken.renamed.get(name)
    if renamed and execution.status == "ok":
        out["status"], out["detail"] = "renamed notebook", f"graded {renamed} as {name}.ipynb"
    out["cells"] = cells
    out["restored"] = [r for r in execution.restored if r not in IGNORED_RESTORES]
    return out


# ipykernel itself swaps these for every execution; restoring them is routine, not tampering.
IGNORED_RESTORES = {"builtins.input", "getpass.getpass", "sys.excepthook"}


def _parse(data: bytes, name: str) -> tuple[NotebookNode | None, tuple[str, str] | None]:
    try:
        nb = nbformat.reads(data.decode("utf-8"), as_version=4)
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
        return None, ("corrupt notebook",
                      f"{name}.ipynb could not be read as a notebook ({reason})")


def _write_release_files(files: dict[str, bytes], dest: Path) -> None:
    """The release's own non-notebook files (data, helpers): the only files beside the notebook."""
    dest.mkdir(parents=True, exist_ok=True)
    for rel, data in files.items():
        target = dest / rel
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_bytes(data)


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
        stubbed, own_stub = _stubs(nb)
        for g in sorted(notebook.grades, key=lambda g: _cell_position(nb, g.name)):
            cell = by_id.get(g.name)
            rows.append({"grade_id": g.name, "score": g.score, "auto_score": g.auto_score,
                         "max_score": g.max_score, "needs_manual_grade": g.needs_manual_grade,
                         "status": _cell_status(cell, g, stubbed, own_stub.get(g.name, False))})
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


def _errors(cell: NotebookNode | None) -> list:
    return [o for o in (cell.outputs if cell is not None and cell.cell_type == "code" else [])
            if o.get("output_type") == "error"]


def _stubs(nb: NotebookNode) -> tuple[bool, dict]:
    """Whether any answer cell still raises the release's NotImplementedError stub, and for
    each test cell whether one of its own answer cells (those since the previous test) does;
    the same rule as `w2s check`."""
    any_stub, own, pending = False, {}, False
    for c in nb.cells:
        if is_solution(c) and not is_grade(c):
            stub = any(e.get("ename") == "NotImplementedError" for e in _errors(c))
            any_stub, pending = any_stub or stub, pending or stub
        elif is_grade(c) and c.cell_type == "code":
            own[c.metadata.nbgrader.get("grade_id")], pending = pending, False
    return any_stub, own


def _cell_status(cell: NotebookNode | None, grade, stubbed: bool = False,
                 own_stub: bool = False) -> str:
    """The words `w2s check` uses too: passed, partial, failed (...), not attempted, not run."""
    errors = _errors(cell)
    if errors and errors[0].get("ename") == "NotRun":
        return "not run"
    if grade.auto_score is None:
        return "needs manual grading"
    if cell is not None and is_solution(cell) and grade.auto_score == 0:
        return "not attempted"
    if grade.auto_score == 0 and errors and (own_stub or errors[0].get("ename") == "NotImplementedError"
                                             or (errors[0].get("ename") == "NameError" and stubbed)):
        return "not attempted"
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


def write_json(path: Path, payload: dict) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(".tmp")
    tmp.write_text(json.dumps(payload, indent=1, default=str))
    tmp.replace(path)
