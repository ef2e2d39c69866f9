"""Repository hygiene: one dependency list, pinned torch, the files a user relies on."""

import re
import subprocess
import tomllib

from conftest import ROOT


def _normalise(spec: str) -> str:
    return re.sub(r"\s+", "", spec).lower()


def _pyproject_specs() -> set[str]:
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    specs = list(project["dependencies"])
    for extra in project.get("optional-dependencies", {}).values():
        specs += extra
    return {_normalise(s) for s in specs}


def _environment_specs() -> set[str]:
    specs, in_pip = set(), False
    for line in (ROOT / "environment.yml").read_text().splitlines():
        stripped = line.split("#", 1)[0].strip()
        if stripped == "- pip:":
            in_pip = True
            continue
        if in_pip and stripped.startswith("- "):
            spec = stripped[2:].strip()
            if not spec.startswith("-e"):
                specs.add(_normalise(spec))
    return specs


def test_environment_yml_lists_the_same_dependencies_as_pyproject():
    assert _environment_specs() == _pyproject_specs(), (
        f"only in environment.yml: {_environment_specs() - _pyproject_specs()}; "
        f"only in pyproject.toml: {_pyproject_specs() - _environment_specs()}")


def test_torch_is_pinned_exactly():
    # any other spec pulls several GB of CUDA packages on the course machine
    assert "torch==2.13.0" in _pyproject_specs()
    assert not any(s.startswith("torch") and s != "torch==2.13.0" for s in _pyproject_specs())


def test_every_dependency_has_a_tested_range():
    for spec in _pyproject_specs():
        assert re.search(r"(==|<)", spec), f"{spec} has no upper bound or pin"


def test_ci_runs_make_test_and_nothing_cleverer():
    script = (ROOT / ".ci/run").read_text()
    commands = [l for l in script.splitlines() if l.strip() and not l.lstrip().startswith("#")]
    assert commands[-1].strip() in ("make test", "exec make test")


def test_no_generated_junk_is_tracked():
    tracked = subprocess.run(["git", "ls-files"], cwd=ROOT, capture_output=True, text=True,
                             check=True).stdout.splitlines()
    junk = [p for p in tracked if re.search(
        r"(^|/)(\.venv|__pycache__|\.ipynb_checkpoints|\.pytest_cache)/|gradebook\.db$|\.pyc$", p)]
    assert not junk, junk


def test_citation_cites_the_paper():
    text = (ROOT / "CITATION.cff").read_text()
    assert "cff-version" in text and "2312.09390" in text and "Burns" in text
