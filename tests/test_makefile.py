"""Every Makefile target runs: cheap ones for real, the others as ``make -n`` (what they would
run), with every repository file they name checked to exist.

A new target fails ``test_every_target_is_covered`` until it is added to ``HOW`` below.
"""

import os
import re
import shutil
import subprocess

import pytest

from conftest import ROOT

# target -> "run" (cheap: run it for real) or "dry" (expensive, recursive or long-lived)
HOW = {
    "venv": "run",          # a no-op when .venv is up to date (make test builds it first)
    "system-deps": "run",   # a no-op when bubblewrap and chromium are installed
    "lab": "dry",           # starts a server
    "test": "dry",          # the whole suite: this test runs inside it
    "test-fast": "dry",
    "release": "dry",       # rewrites exercises/ (tests/course/test_exercises.py runs `w2s release --check`)
    "benchmarks": "dry",    # minutes
    "clean": "dry",         # deletes .venv; run for real on a copy below
    "hub": "dry",           # starts JupyterHub
    "hub-stop": "dry",
    "hub-add-student": "dry",  # adds an account
}
# a path in a recipe: folder/file.ext, or a top-level file with a known extension
PATH_IN_RECIPE = re.compile(r"(?<![\w./$-])((?:[\w.-]+/)+[\w.-]+\.(?:py|ipynb|json|toml|yml|cfg|sh)|"
                            r"[\w-]+\.(?:py|toml|yml))(?![\w/])")


def _targets(makefile: str) -> list[str]:
    return sorted(set(re.findall(r"^([a-z][\w-]*):(?!=)", makefile, flags=re.M)))


def _env() -> dict:
    # pytest may run under `make test`: do not inherit its make state
    return {k: v for k, v in os.environ.items() if k not in ("MAKEFLAGS", "MFLAGS", "MAKELEVEL")}


def test_every_target_is_covered():
    targets = _targets((ROOT / "Makefile").read_text())
    assert {"lab", "test", "venv", "benchmarks"} <= set(targets)
    missing = [t for t in targets if t not in HOW]
    assert not missing, f"Makefile targets this test does not run: {missing}; add them to HOW"


def _make(*args, cwd=ROOT, timeout=600):
    return subprocess.run(["make", "--no-print-directory", *args], cwd=cwd, capture_output=True,
                          text=True, env=_env(), timeout=timeout)


@pytest.mark.parametrize("target", _targets((ROOT / "Makefile").read_text()))
def test_target_runs(target):
    dry = HOW.get(target, "dry") == "dry"
    proc = _make(*(["-n"] if dry else []), target)
    assert proc.returncode == 0, proc.stdout[-2000:] + proc.stderr[-2000:]
    if dry:
        named = {m for m in PATH_IN_RECIPE.findall(proc.stdout) if not m.startswith(".venv/")}
        absent = sorted(p for p in named if not (ROOT / p).exists())
        assert not absent, f"`make {target}` would run files that do not exist: {absent}"


def test_the_path_check_sees_a_missing_script():
    assert PATH_IN_RECIPE.findall(".venv/bin/python benchmarks/run_all.py") == [
        "benchmarks/run_all.py"]


def test_clean_removes_the_working_state(tmp_path):
    shutil.copy(ROOT / "Makefile", tmp_path)
    for folder in (".venv/bin", ".pytest_cache"):
        (tmp_path / folder).mkdir(parents=True)
    (tmp_path / "gradebook.db").write_text("")
    proc = _make("clean", cwd=tmp_path)
    assert proc.returncode == 0, proc.stderr
    assert sorted(p.name for p in tmp_path.iterdir()) == ["Makefile"]
