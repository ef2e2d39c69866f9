"""Every `w2s` command the README quotes runs as written (W2S_FAST=1 keeps it quick).

They run in a throwaway clone with its own data/, so `w2s pretrain` never rewrites the
repository's weights.
"""

import os
import re
import shlex
import subprocess

import pytest

from conftest import BIN, ROOT

pytestmark = pytest.mark.slow


def readme_w2s_commands():
    text = (ROOT / "README.md").read_text()
    commands = []
    for block in re.findall(r"```bash\n(.*?)```", text, flags=re.S):
        for line in block.splitlines():
            line = line.split("#", 1)[0].strip()
            if line.startswith(".venv/bin/w2s ") and "SUBMITTED" not in line:
                commands.append(line)
    return commands


def test_readme_quotes_the_experiment_commands():
    quoted = " ".join(readme_w2s_commands())
    for sub in ("w2s run", "w2s sweep", "w2s pretrain"):
        assert sub in quoted


@pytest.fixture(scope="module")
def clone(tmp_path_factory):
    path = tmp_path_factory.mktemp("clone") / "course"
    subprocess.run(["git", "clone", "-q", str(ROOT), str(path)], check=True)
    # uncommitted library changes under test belong in the clone too
    subprocess.run(f"cp -r {shlex.quote(str(ROOT / 'w2s'))} {shlex.quote(str(path))}/",
                   shell=True, check=True)
    return path


@pytest.mark.parametrize("command", [c for c in readme_w2s_commands()
                                     if re.match(r"\.venv/bin/w2s (run|sweep|pretrain)\b", c)])
def test_readme_command_runs(command, clone):
    env = dict(os.environ, W2S_FAST="1", PYTHONPATH=str(clone), PATH="/usr/bin:/bin")
    argv = shlex.split(command)
    argv[0] = str(BIN / "w2s")
    if argv[1] in ("run", "sweep"):
        argv += ["--seeds", "1"]  # the last --seeds wins: one seed is enough to check it runs
    proc = subprocess.run(argv, cwd=clone, env=env, capture_output=True, text=True, timeout=600)
    assert proc.returncode == 0, proc.stderr[-2000:]
    assert "Traceback" not in proc.stderr
    if argv[1] == "pretrain":
        sums = (clone / "data/SHA256SUMS").read_text()
        assert "pretrained/digits-mlp-large.pt" in sums
        check = subprocess.run([str(BIN / "python"), "-c",
                                "from w2s.experiment import Config, run_experiment; "
                                "print(run_experiment(Config(), 0).p_ceiling)"],
                               cwd=clone, env=env, capture_output=True, text=True, timeout=300)
        assert check.returncode == 0, check.stderr[-2000:]
