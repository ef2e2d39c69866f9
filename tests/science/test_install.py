"""The course installs as a package: ``pip install .`` (not editable) into a fresh venv, then
``w2s run --seeds 1`` from a folder outside the checkout, with the source copy deleted.

The fresh venv borrows this venv's dependencies through a ``.pth`` line (nothing is
downloaded; a ``.pth`` line does not run this venv's editable-install hook), and the wheel is
built from a copy of the repository's files, so only what the wheel carries can be used.
"""

import json
import os
import shutil
import subprocess
import sys
import sysconfig
from pathlib import Path

import pytest

from conftest import ROOT


def _repository_files() -> list[str]:
    listed = subprocess.run(["git", "ls-files", "-co", "--exclude-standard"], cwd=ROOT,
                            capture_output=True, text=True, check=True).stdout.splitlines()
    return [f for f in listed if (ROOT / f).is_file()]


def _site_packages(python: Path) -> Path:
    out = subprocess.run([str(python), "-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])"],
                         capture_output=True, text=True, check=True).stdout.strip()
    return Path(out)


@pytest.mark.slow
def test_a_wheel_install_runs_w2s_outside_the_checkout(tmp_path):
    source, venv, elsewhere = tmp_path / "source", tmp_path / "venv", tmp_path / "elsewhere"
    for rel in _repository_files():
        (source / rel).parent.mkdir(parents=True, exist_ok=True)
        shutil.copy2(ROOT / rel, source / rel)
    subprocess.run([sys.executable, "-m", "venv", "--without-pip", str(venv)], check=True)
    python = venv / "bin" / "python"
    site = _site_packages(python)
    (site / "course-deps.pth").write_text(sysconfig.get_paths()["purelib"] + "\n")
    env = {k: v for k, v in os.environ.items() if k not in ("PYTHONPATH", "VIRTUAL_ENV")}
    install = subprocess.run(
        [sys.executable, "-m", "pip", "--python", str(python), "install", "--quiet", "--no-deps",
         "--no-build-isolation", "--no-index", str(source)],
        capture_output=True, text=True, env=env, timeout=300)
    assert install.returncode == 0, install.stderr[-3000:]
    shutil.rmtree(source)  # nothing may refer back to the files it was built from

    elsewhere.mkdir()
    where = subprocess.run(
        [str(python), "-c", "import autograder, w2s, w2s.data as d; "
                            "print(w2s.__file__, autograder.__file__, d.DATA_DIR, sep='\\n')"],
        capture_output=True, text=True, cwd=elsewhere, env=env, check=True).stdout.split("\n")
    assert all(Path(p).is_relative_to(site) for p in where[:3]), where
    data_dir = Path(where[2])
    for rel in _repository_files():
        if rel.startswith("data/"):
            assert (data_dir / rel.removeprefix("data/")).is_file(), f"{rel} is not in the wheel"

    run = subprocess.run(
        [str(venv / "bin" / "w2s"), "run", "--seeds", "1", "--no-progress", "--json", "out.json"],
        capture_output=True, text=True, cwd=elsewhere, timeout=300,
        env={**env, "W2S_FAST": "1", "W2S_THREADS": "1", "OMP_NUM_THREADS": "1"})
    assert run.returncode == 0, run.stderr[-3000:]
    result = json.loads((elsewhere / "out.json").read_text())
    assert 0 <= result["p_ceiling"]["mean"] <= 1 and len(result["p_weak"]["per_seed"]) == 1
