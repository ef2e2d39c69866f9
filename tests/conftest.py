"""Shared test set-up: the repository root and the venv's executables, one torch thread per
process, notebooks executed once per run, and how the suite shares the machine's cores.

`make test` runs pytest-xdist with two workers and ``--dist loadgroup``. Tests in one
``xdist_group`` run on one worker, one after another:

- every test of a module that builds a module- or session-scoped fixture of its own (a graded
  class, a running JupyterLab, a clone) is put in that module's group, so the fixture is
  built once per run, not once per worker;
- the tests that keep both cores busy on their own (grading a class with a worker pool) share
  one group and never overlap one another; so do the two that start JupyterLab with a fresh
  Jupyter set-up (the browser, the newcomer's fresh clone).

The longest runs are handed out first (``_start_order``); single tests fill in around them.
"""

import fcntl
import json
import os
import re
import sys
from pathlib import Path

# Set before torch is imported anywhere (notebook kernels and subprocesses inherit it): on a
# 2-core machine two workers with two torch threads each run many times slower than with one.
for _var in ("OMP_NUM_THREADS", "MKL_NUM_THREADS", "W2S_THREADS"):
    os.environ.setdefault(_var, "1")

import pytest  # noqa: E402

ROOT = Path(__file__).resolve().parent.parent
BIN = Path(sys.executable).parent

# Tests (node id prefixes) that keep the machine busy on their own, and the group each runs in.
MACHINE_GROUPS = {
    "tests/test_exercises.py": "grading",  # nbgrader autograde, two at a time
    "tests/test_grade.py": "grading",  # `w2s grade` with one worker per core
    "tests/test_grade_parts.py::test_interrupted_run": "grading",
    "tests/test_grade_parts.py::test_no_cgroup_fallback": "grading",
    "tests/test_grade_parts.py::test_no_sandbox_runs": "grading",
    "tests/test_browser.py": "jupyterlab",
    "tests/test_newcomer.py::test_readme_quick_start_on_a_fresh_clone": "jupyterlab",
}


@pytest.fixture
def fast(monkeypatch):
    """W2S_FAST=1: shrink training without changing the code path."""
    monkeypatch.setenv("W2S_FAST", "1")


def _own_shared_fixture(item) -> str | None:
    """The test module of the first module- or session-scoped fixture this test uses that is
    defined in a test module (not pytest's own, not this file's, which share through files)."""
    info = getattr(item, "_fixtureinfo", None)
    for defs in (info.name2fixturedefs.values() if info else ()):
        for fixturedef in defs:
            if fixturedef.scope in ("module", "session") and fixturedef.baseid.endswith(".py"):
                return fixturedef.baseid.split("::")[0]
    return None


def xdist_group_of(item) -> str | None:
    nodeid = item.nodeid
    for prefix, group in MACHINE_GROUPS.items():
        if nodeid.startswith(prefix):
            return group
    return _own_shared_fixture(item)


def pytest_configure(config):
    # pytest-xdist registers it too; without xdist (a plain `pytest`) the mark is a no-op
    config.addinivalue_line("markers", "xdist_group(name): run on one xdist worker with its group")


def _start_order(item) -> tuple[int, int]:
    """Longest first, so that no long run starts last (`make test` passes
    --no-loadscope-reorder, so xdist hands work out in this order): the fresh clone, then
    the rest of its group, the grading group, other groups, slow tests, quick tests."""
    group = xdist_group_of(item)
    if group == "jupyterlab":
        return (0, 0 if item.nodeid.startswith("tests/test_newcomer.py") else 1)
    if group == "grading":
        return (1, 0)
    if group:
        return (2, 0)
    return (3, 0) if item.get_closest_marker("slow") else (4, 0)


def pytest_collection_modifyitems(config, items):
    for item in items:
        group = xdist_group_of(item)
        if group and not item.get_closest_marker("xdist_group"):
            item.add_marker(pytest.mark.xdist_group(group))
    items.sort(key=_start_order)  # stable: collection order within each rank


# --- notebooks executed once per run ----------------------------------------------------

def _run_folder(tmp_path_factory) -> Path:
    """A folder every xdist worker of this run shares (the workers' base temp's parent)."""
    base = tmp_path_factory.getbasetemp()
    return base.parent if os.environ.get("PYTEST_XDIST_WORKER") else base


class NotebookRuns:
    """Each notebook executed at most once per pytest run, top to bottom on a fresh kernel;
    every test (on any worker) that asks for it gets that run's notebook and seconds.

    The runs live in files under the run's temporary folder, behind a lock per notebook, so
    two workers asking at once wait for one execution instead of making two."""

    def __init__(self, folder: Path):
        self.folder = folder
        folder.mkdir(parents=True, exist_ok=True)

    def get(self, path: Path, timeout: int = 600) -> "NotebookRun":
        import nbformat

        path = Path(path).resolve()
        key = re.sub(r"[^\w.-]+", "_", str(path.relative_to(ROOT) if path.is_relative_to(ROOT)
                                          else path))
        stored, meta = self.folder / f"{key}.ipynb", self.folder / f"{key}.json"
        with open(self.folder / f"{key}.lock", "w") as lock:
            fcntl.flock(lock, fcntl.LOCK_EX)
            if not meta.exists():
                nb, seconds, failure = self._execute(path, timeout)
                nbformat.write(nb, stored)
                meta.write_text(json.dumps({"seconds": seconds, "failure": failure,
                                            "worker": os.environ.get("PYTEST_XDIST_WORKER")}))
        info = json.loads(meta.read_text())
        return NotebookRun(path, nbformat.read(stored, as_version=4), info["seconds"],
                           info["failure"])

    @staticmethod
    def _execute(path: Path, timeout: int):
        import time

        import nbformat
        from nbclient.exceptions import CellExecutionError, DeadKernelError

        from autograder import notebooks

        started = time.perf_counter()
        try:
            nb, seconds = notebooks.execute(path, timeout=timeout)
            return nb, seconds, None
        except (CellExecutionError, DeadKernelError) as exc:
            return (nbformat.read(path, as_version=4), time.perf_counter() - started,
                    f"{type(exc).__name__}:\n{str(exc)[-3000:]}")


class NotebookRun:
    def __init__(self, path: Path, nb, seconds: float, failure: str | None):
        self.path, self.nb, self.seconds, self.failure = path, nb, seconds, failure


@pytest.fixture(scope="session")
def notebook_runs(tmp_path_factory) -> NotebookRuns:
    """``notebook_runs.get(path)``: the notebook executed once this run (see NotebookRuns)."""
    return NotebookRuns(_run_folder(tmp_path_factory) / "executed-notebooks")
