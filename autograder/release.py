"""Regenerate the student version ``exercises/`` from the nbgrader source ``solutions/``.

``w2s release`` runs nbgrader's own ``generate_assignment`` (solutions replaced by stubs,
hidden tests removed, cells locked and check-summed) in a throw-away course directory, so no
gradebook is left behind, then normalises the notebooks (no outputs, no execution counts,
stable metadata) so that regenerating is byte-for-byte stable. ``w2s release --check``
changes nothing and exits 1, naming the files, when ``exercises/`` has drifted.

The helpers here also build grading course directories for the tests and the autograder:
``make_course(root)`` lays out a complete nbgrader course (source, release, gradebook) in
``root``, configured from the repository's ``nbgrader_config.py``; ``nbgrader_api(root)``
returns nbgrader's Python API on it.
"""

from __future__ import annotations

import os
import shutil
import sys
import tempfile
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
CONFIG_FILE = REPO / "nbgrader_config.py"
SOURCE_DIR = "solutions"
RELEASE_DIR = "exercises"
IGNORED_NAMES = {".ipynb_checkpoints", "__pycache__", ".DS_Store"}
KEPT_CELL_METADATA = ("deletable", "editable", "nbgrader", "tags")


class ReleaseError(RuntimeError):
    """nbgrader could not generate an assignment; the message says which and why."""


def ensure_venv_on_path() -> None:
    """nbgrader runs ``alembic`` by name: make this interpreter's scripts findable."""
    bindir = str(Path(sys.executable).parent)
    parts = os.environ.get("PATH", "").split(os.pathsep)
    if bindir not in parts:
        os.environ["PATH"] = os.pathsep.join([bindir, *[p for p in parts if p]])


def assignment_names(source: Path | None = None) -> list[str]:
    """The assignments of the course: folders of ``solutions/`` that hold a notebook."""
    source = Path(source or REPO / SOURCE_DIR)
    if not source.is_dir():
        return []
    return sorted(d.name for d in source.iterdir()
                  if d.is_dir() and d.name not in IGNORED_NAMES and any(d.glob("*.ipynb")))


def course_config(root: Path):
    """The repository's nbgrader configuration, pointed at the course directory ``root``."""
    from traitlets.config.loader import PyFileConfigLoader

    config = PyFileConfigLoader(CONFIG_FILE.name, path=str(CONFIG_FILE.parent)).load_config()
    root = Path(root).resolve()
    config.CourseDirectory.root = str(root)
    config.CourseDirectory.db_url = f"sqlite:///{root / 'gradebook.db'}"
    config.Exchange.root = str(root / "exchange")
    return config


def write_course_config(root: Path) -> Path:
    """``root/nbgrader_config.py``: the course's configuration with ``root`` as the course
    directory, so that plain ``nbgrader`` commands run in ``root`` work on it."""
    root = Path(root).resolve()
    (root / "exchange").mkdir(parents=True, exist_ok=True)
    path = root / "nbgrader_config.py"
    path.write_text(
        "# Written by autograder.release.make_course: the course's configuration, moved to this folder.\n"
        "c = get_config()  # noqa: F821\n"
        f"load_subconfig({str(CONFIG_FILE)!r})  # noqa: F821\n"
        f"c.CourseDirectory.root = {str(root)!r}\n"
        f"c.CourseDirectory.db_url = {'sqlite:///' + str(root / 'gradebook.db')!r}\n"
        f"c.Exchange.root = {str(root / 'exchange')!r}\n")
    return path


def nbgrader_api(root: Path):
    """nbgrader's Python API on the course directory ``root`` (quiet: logs are captured)."""
    import logging

    from nbgrader.apps import NbGraderAPI
    from nbgrader.coursedir import CourseDirectory

    ensure_venv_on_path()
    config = course_config(root)
    api = NbGraderAPI(coursedir=CourseDirectory(config=config), config=config)
    api.log.setLevel(logging.ERROR)
    api.log.propagate = False
    return api


def make_course(root: Path, assignments=None, source: Path | None = None) -> Path:
    """Lay out an nbgrader course in ``root`` and generate its assignments.

    Copies ``solutions/<assignment>`` (or ``source/<assignment>``) to
    ``root/solutions/<assignment>`` and runs nbgrader's ``generate_assignment`` on each, which
    writes ``root/exercises/<assignment>`` and records every cell, its points and its source
    in ``root/gradebook.db``. Submissions then go to
    ``root/submitted/<student>/<assignment>/<notebook>.ipynb`` and
    ``nbgrader_api(root).autograde(assignment, student)`` grades them.
    """
    source = Path(source or REPO / SOURCE_DIR)
    names = list(assignments) if assignments is not None else assignment_names(source)
    unknown = [n for n in names if not (source / n).is_dir()]
    if unknown:
        raise ReleaseError(f"no such assignment in {source}: {', '.join(unknown)} "
                           f"(known: {', '.join(assignment_names(source)) or 'none'})")
    root = Path(root)
    write_course_config(root)
    for name in names:
        shutil.copytree(source / name, root / SOURCE_DIR / name, dirs_exist_ok=True,
                        ignore=shutil.ignore_patterns(*IGNORED_NAMES))
    api = nbgrader_api(root)
    for name in names:
        result = api.generate_assignment(name, force=True, create=True)
        if not result.get("success"):
            detail = (result.get("log") or "") + (result.get("error") or "")
            raise ReleaseError(f"nbgrader could not generate {name}:\n{detail.strip()}")
    return root


def normalise_notebook(text: str) -> str:
    """The committed form of a notebook: no outputs or counts, stable metadata, one layout."""
    import nbformat

    from .notebooks import strip

    nb = strip(nbformat.reads(text, as_version=4), keep=KEPT_CELL_METADATA)
    out = nbformat.writes(nb, version=4)
    return out if out.endswith("\n") else out + "\n"


def _files(folder: Path) -> dict[str, bytes]:
    """Every file under ``folder`` by relative path (ignoring checkpoints and caches)."""
    out = {}
    if folder.is_dir():
        for path in sorted(folder.rglob("*")):
            rel = path.relative_to(folder)
            if path.is_file() and not IGNORED_NAMES.intersection(rel.parts):
                out[rel.as_posix()] = path.read_bytes()
    return out


def generate(assignments=None, source: Path | None = None) -> dict[str, bytes]:
    """The release of ``assignments`` as ``{"<assignment>/<file>": bytes}``, normalised."""
    with tempfile.TemporaryDirectory(prefix="w2s-release-") as tmp:
        root = make_course(Path(tmp), assignments, source)
        files = _files(root / RELEASE_DIR)
    return {rel: (normalise_notebook(data.decode("utf-8")).encode("utf-8")
                  if rel.endswith(".ipynb") else data)
            for rel, data in files.items()}


def stale_folders(release: Path, known) -> set[str]:
    """Folders of ``release`` that no longer have a source in ``solutions/``."""
    if not release.is_dir():
        return set()
    return {d.name for d in release.iterdir()
            if d.is_dir() and d.name not in IGNORED_NAMES and d.name not in known}


def drift(expected: dict[str, bytes], release: Path, scope: set[str]) -> dict[str, list[str]]:
    """How the assignment folders ``scope`` of ``release`` differ from ``expected``."""
    actual = {rel: data for rel, data in _files(release).items() if rel.split("/")[0] in scope}
    return {
        "changed": sorted(r for r in expected if r in actual and actual[r] != expected[r]),
        "missing": sorted(r for r in expected if r not in actual),
        "stale": sorted(r for r in actual if r not in expected),
    }


def add_arguments(parser) -> None:
    parser.add_argument("assignments", nargs="*", metavar="ASSIGNMENT",
                        help="assignments to release (default: every folder of solutions/)")
    parser.add_argument("--check", action="store_true",
                        help="change nothing; exit 1 and name the files when exercises/ "
                             "differs from what solutions/ generates")


def run(args) -> int:
    known = assignment_names()
    names = list(args.assignments) or known
    unknown = [n for n in names if n not in known]
    if unknown:
        print(f"w2s release: no assignment named {', '.join(unknown)} in {SOURCE_DIR}/ "
              f"(known: {', '.join(known) or 'none'})", file=sys.stderr)
        return 2
    if not names:
        print(f"w2s release: {SOURCE_DIR}/ holds no assignment notebooks", file=sys.stderr)
        return 2
    try:
        expected = generate(names)
    except ReleaseError as exc:
        print(f"w2s release: {exc}", file=sys.stderr)
        return 1
    release = REPO / RELEASE_DIR
    # releasing everything also clears out folders whose source was removed
    scope = set(names) if args.assignments else set(names) | stale_folders(release, known)
    diff = drift(expected, release, scope)
    if args.check:
        if not any(diff.values()):
            print(f"{RELEASE_DIR}/ is up to date with {SOURCE_DIR}/ ({len(names)} assignments)")
            return 0
        print(f"{RELEASE_DIR}/ differs from what {SOURCE_DIR}/ generates:")
        for kind, paths in diff.items():
            for rel in paths:
                print(f"  {kind:<8} {RELEASE_DIR}/{rel}")
        print("Run `.venv/bin/w2s release` to regenerate it, then commit the result.")
        return 1
    for rel in diff["stale"]:
        (release / rel).unlink()
        print(f"removed  {RELEASE_DIR}/{rel}")
    for rel in diff["changed"] + diff["missing"]:
        path = release / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(expected[rel])
        print(f"wrote    {RELEASE_DIR}/{rel}")
    for folder in sorted(stale_folders(release, known)):
        if folder in scope and not _files(release / folder):
            shutil.rmtree(release / folder)
    changed = sum(len(v) for v in diff.values())
    print(f"{RELEASE_DIR}/ {'updated' if changed else 'already up to date'}: "
          f"{len(names)} assignments from {SOURCE_DIR}/")
    return 0
