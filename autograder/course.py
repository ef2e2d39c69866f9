"""The grader's private nbgrader course folder: assignments, gradebook, autograded notebooks.

It lives in ``OUT_DIR/nbgrader/`` - outside anything a sandbox can see - and is an ordinary
nbgrader course (``source/``, ``release/``, ``autograded/``, ``gradebook.db`` and an
``nbgrader_config.py``), so ``nbgrader formgrader`` and ``nbgrader export`` work on it for
hand-grading the written answers. Only the main process writes its gradebook.
"""

from __future__ import annotations

import hashlib
import io
import logging
import os
import shutil
import sys
import warnings
from contextlib import redirect_stdout
from datetime import datetime
from pathlib import Path

CONFIG = '''"""nbgrader configuration written by `w2s grade` for hand-grading its results."""
c = get_config()  # noqa: F821
c.CourseDirectory.root = {root!r}
'''


class CourseError(RuntimeError):
    """The assignments cannot be loaded (the message says what to fix)."""


def prepare_nbgrader() -> None:
    """Make nbgrader usable from ``.venv/bin/w2s`` without an activated venv, and quiet.

    nbgrader runs ``alembic`` by name, so this interpreter's scripts go on PATH; SQLAlchemy's
    warnings about nbgrader's own session use and nbgrader's info logging are noise here.
    """
    scripts = str(Path(sys.executable).parent)
    if scripts not in os.environ.get("PATH", "").split(os.pathsep):
        os.environ["PATH"] = scripts + os.pathsep + os.environ.get("PATH", "")
    from sqlalchemy.exc import SAWarning

    warnings.filterwarnings("ignore", category=SAWarning)
    for name in ("traitlets", "nbgrader", "NbGraderAPI"):
        logging.getLogger(name).setLevel(logging.ERROR)


def source_hash(folders: list[Path]) -> str:
    digest = hashlib.sha256()
    for folder in folders:
        for path in sorted(p for p in folder.rglob("*") if p.is_file()):
            if ".ipynb_checkpoints" in path.parts:
                continue
            digest.update(str(path.relative_to(folder.parent)).encode())
            digest.update(path.read_bytes())
    return digest.hexdigest()[:16]


class Course:
    def __init__(self, out_dir: Path, source_dir: Path):
        self.root = (out_dir / "nbgrader").resolve()
        self.source_dir = source_dir.resolve()
        self.db_path = self.root / "gradebook.db"
        self.db_url = f"sqlite:///{self.db_path}"
        self.templates = self.root / ".w2s"

    def assignments_available(self) -> list[str]:
        if not self.source_dir.is_dir():
            return []
        return sorted(p.name for p in self.source_dir.iterdir()
                      if p.is_dir() and any(p.glob("*.ipynb")))

    def prepare(self, assignments: list[str]) -> Path:
        """Copy the sources in, generate them with nbgrader; return the template gradebook."""
        prepare_nbgrader()
        self.root.mkdir(parents=True, exist_ok=True)
        (self.root / "nbgrader_config.py").write_text(CONFIG.format(root=str(self.root)))
        folders = [self.source_dir / a for a in assignments]
        digest = source_hash(folders)
        template = self.templates / f"template-{digest}.db"
        for a in assignments:
            dest = self.root / "source" / a
            if dest.exists():
                shutil.rmtree(dest)
            shutil.copytree(self.source_dir / a, dest,
                            ignore=shutil.ignore_patterns(".ipynb_checkpoints", "__pycache__"))
        if not template.exists():
            self.templates.mkdir(parents=True, exist_ok=True)
            partial = template.with_suffix(".partial")
            partial.unlink(missing_ok=True)
            self._generate(assignments, f"sqlite:///{partial}")
            partial.replace(template)
        stamp = self.templates / "gradebook-source"
        if not self.db_path.exists():
            shutil.copyfile(template, self.db_path)
        elif not stamp.exists() or stamp.read_text() != digest:
            self._generate(assignments, self.db_url)
        stamp.write_text(digest)
        return template

    def _generate(self, assignments: list[str], db_url: str) -> None:
        from nbgrader.apps.api import NbGraderAPI
        from nbgrader.coursedir import CourseDirectory
        from traitlets.config import Config

        config = Config()
        config.CourseDirectory.root = str(self.root)
        config.CourseDirectory.db_url = db_url
        config.GenerateAssignment.force = True
        api = NbGraderAPI(coursedir=CourseDirectory(config=config), config=config)
        for a in assignments:
            with redirect_stdout(io.StringIO()):
                result = api.generate_assignment(a, force=True, create=True)
            if not result["success"]:
                log = (result.get("error") or result.get("log") or "").strip().splitlines()
                raise CourseError(f"nbgrader could not generate assignment {a!r} from "
                                  f"{self.source_dir / a}: {log[-1] if log else 'unknown error'}")

    def notebooks(self, assignment: str) -> list[str]:
        return sorted(p.stem for p in (self.root / "release" / assignment).glob("*.ipynb"))

    def material(self, assignment: str, template: Path):
        """What a worker needs to grade ``assignment``, as data (see ``worker.Material``)."""
        from .worker import Material

        release = self.root / "release" / assignment
        files = {str(p.relative_to(release)): p.read_bytes() for p in sorted(release.rglob("*"))
                 if p.is_file() and p.suffix != ".ipynb" and ".ipynb_checkpoints" not in p.parts}
        return Material(assignment=assignment,
                        release={n: (release / f"{n}.ipynb").read_bytes()
                                 for n in self.notebooks(assignment)},
                        files=files, template_db=template.read_bytes())

    def record(self, result: dict) -> None:
        """Write one graded submission into the course gradebook (main process only)."""
        from nbgrader.api import Gradebook, MissingEntry

        student, assignment = result["student"], result["assignment"]
        timestamp = result.get("timestamp")
        with Gradebook(self.db_url) as gb:
            gb.update_or_create_student(student)
            submission = gb.update_or_create_submission(
                assignment, student,
                **({"timestamp": datetime.fromisoformat(timestamp)} if timestamp else {}))
            for name, nb in result["notebooks"].items():
                notebook = gb.find_submission_notebook(name, assignment, student)
                for row in nb["cells"]:
                    grade = gb.find_grade(row["grade_id"], name, assignment, student)
                    grade.auto_score = row["auto_score"]
                    grade.needs_manual_grade = (row["auto_score"] is None
                                                or grade.manual_score is not None)
                    if row.get("comment") is not None or row["grade_id"] in {
                            c.name for c in notebook.comments}:
                        try:
                            comment = gb.find_comment(row["grade_id"], name, assignment, student)
                        except MissingEntry:  # test cells have no comment row
                            continue
                        comment.auto_comment = row.get("comment")
                late = next((r["late_penalty"] for r in nb["cells"]), None)
                notebook.late_submission_penalty = late
            gb.db.commit()
            del submission

    def scores(self, student: str, assignment: str) -> dict[tuple[str, str], tuple]:
        """(notebook, grade_id) -> (score, max_score, graded by hand) from the gradebook."""
        from nbgrader.api import Gradebook, MissingEntry

        out = {}
        with Gradebook(self.db_url) as gb:
            try:
                submission = gb.find_submission(assignment, student)
            except MissingEntry:
                return out
            for notebook in submission.notebooks:
                for grade in notebook.grades:
                    out[(notebook.name, grade.name)] = (grade.score, grade.max_score,
                                                        grade.manual_score is not None)
        return out
