"""Shared test set-up: the repository root and the venv's executables, one torch thread per
process, notebooks executed once per run, and how the suite shares the machine's cores.

`make test` runs pytest-xdist with two workers and ``--dist loadscope``, refined here
(``work_unit``): the tests of one work unit run on one worker, one after another.

- A test module is one unit, so a module- or session-scoped fixture of its own (a graded
  class, a running JupyterLab, a clone) is built once per run, not once per worker.
- The tests that keep both cores busy on their own (grading a class with a worker pool)
  form one unit across modules, so they never overlap one another; so do those that start
  JupyterLab with a fresh Jupyter set-up in Chromium or a fresh clone (the browser, the
  hub, the newcomer's fresh clone).
- A lesson's run is a unit of its own: it shares through ``notebook_runs`` (files and a
  lock), so lessons spread over both workers.

Units are handed out longest first (``_start_order``; `make test` passes
--no-loadscope-reorder so xdist keeps that order); short ones fill in around them.
(xdist's own ``xdist_group`` marks do not work with pytest 9.2: they rename node ids through
an attribute pytest no longer reads.)
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

# Tests (node id prefixes) that keep the machine busy on their own, and the unit each runs in.
MACHINE_UNITS = {
    "tests/course/test_newcomer.py::test_readme_quick_start_on_a_fresh_clone": "jupyterlab",
    "tests/course/test_browser.py": "jupyterlab",
    "tests/course/test_hub.py": "jupyterlab",  # JupyterHub, its users' servers and Chromium
    "tests/course/test_exercises.py": "grading",  # nbgrader autograde, two at a time
    "tests/course/test_grade.py": "grading",  # `w2s grade` with one worker per core
    "tests/course/test_fair_variants.py": "grading",  # `w2s grade` of the fair-variant corpus, two workers
    "tests/course/test_grade_parts.py::test_interrupted_run": "grading",
    "tests/course/test_grade_parts.py::test_no_cgroup_fallback": "grading",
    "tests/course/test_grade_parts.py::test_no_sandbox_runs": "grading",
}
# Tests that share nothing expensive but files (notebook_runs): each is a unit of its own.
SPREAD = ("tests/course/test_lessons.py::test_lesson_runs_cleanly_on_a_fresh_kernel",)


def work_unit(nodeid: str) -> str:
    """The xdist work unit of a test: its machine unit, itself, or its module."""
    for prefix, unit in MACHINE_UNITS.items():
        if nodeid.startswith(prefix):
            return unit
    if nodeid.startswith(SPREAD):
        return nodeid
    return nodeid.split("::", 1)[0]


@pytest.fixture
def fast(monkeypatch):
    """W2S_FAST=1: shrink training without changing the code path."""
    monkeypatch.setenv("W2S_FAST", "1")


try:
    from xdist.scheduler import LoadScopeScheduling
except ImportError:  # a plain `pytest` without the dev extras: nothing to schedule
    LoadScopeScheduling = None

if LoadScopeScheduling is not None:
    class _Scheduling(LoadScopeScheduling):
        def _split_scope(self, nodeid: str) -> str:
            return work_unit(nodeid)

    def pytest_xdist_make_scheduler(config, log):
        if config.getvalue("dist") == "loadscope":
            return _Scheduling(config, log)
        return None  # another --dist mode: xdist's own


def _start_order(item) -> int:
    """The fresh clone first, then the rest of its unit, the grading unit, slow tests, quick
    tests (a module's unit starts where its first test lands)."""
    unit = work_unit(item.nodeid)
    if unit == "jupyterlab":
        return 0 if item.nodeid.startswith("tests/course/test_newcomer.py") else 1
    if unit == "grading":
        return 2
    return 3 if item.get_closest_marker("slow") else 4


def pytest_collection_modifyitems(config, items):
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
