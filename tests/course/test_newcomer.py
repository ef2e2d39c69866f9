"""A newcomer's first hour, tested: the README's commands on a fresh clone, the outputs it
quotes, and the links a self-study learner follows from lesson to lesson.

The clone test runs, in README order, every command of the sections a newcomer starts from
(NEWCOMER_SECTIONS) in a `git clone` of HEAD with a fresh .venv: `make lab` is started, probed
over HTTP and stopped; each `$ command` of a ```console block must exit 0 and print what the
README quotes under it (a line `...` stands for any lines, `...` inside a line for any text).
`make test` itself is the suite this test belongs to (CI runs it on a fresh clone); the clone
runs the README's quick tests, `make test-fast`, which leave the slow tests, this one
included, out, so nothing recurses.
"""

import json
import os
import re
import signal
import subprocess
import time
import urllib.parse
import urllib.request
from dataclasses import dataclass
from pathlib import Path

import nbformat
import pytest

from conftest import ROOT

README = ROOT / "README.md"
NEWCOMER_SECTIONS = ("Start here", "Running the tests and contributing")
FIRST_LESSON = "lessons/01-the-weak-to-strong-setup.ipynb"
CLONE_MARKER = "W2S_NEWCOMER_CLONE"  # set in the clone's environment, to catch recursion
SETUP_TIMEOUT_S = 1800  # a fresh .venv: about 2 min from local wheels, longer over the network
COMMAND_TIMEOUT_S = 900
ANSI = re.compile(r"\x1b\[[0-9;?]*[A-Za-z]")
LINK = re.compile(r"\]\(\s*<?([^)\s>]+)>?(?:\s+\"[^\"]*\")?\s*\)|(?:href|src)=\"([^\"]+)\"")


# --- links a self-study learner follows --------------------------------------------------

def _lessons() -> list[Path]:
    return sorted((ROOT / "lessons").glob("[0-9][0-9]-*.ipynb"))


def _exercises() -> list[Path]:
    return sorted((ROOT / "exercises").glob("*/*.ipynb"))


def _markdown(path: Path) -> str:
    if path.suffix == ".md":
        return path.read_text()
    nb = nbformat.read(path, as_version=4)
    return "\n".join(c.source for c in nb.cells if c.cell_type == "markdown")


def _relative_links(path: Path) -> list[tuple[str, Path]]:
    """(as written, resolved file) for every link that points into the repository."""
    links = []
    for match in LINK.finditer(_markdown(path)):
        target = match.group(1) or match.group(2)
        if re.match(r"^[a-z][a-z0-9+.-]*:", target, re.I) or target.startswith("#"):
            continue  # a web address, mailto: or an anchor on the same page
        file_part = urllib.parse.unquote(target.split("#", 1)[0].split("?", 1)[0])
        links.append((target, (path.parent / file_part).resolve()))
    return links


def test_lessons_are_numbered_01_to_n_without_gaps():
    numbers = [int(p.name[:2]) for p in _lessons()]
    assert numbers, "no lessons/NN-*.ipynb"
    assert numbers == list(range(1, len(numbers) + 1)), f"lesson numbers {numbers}"
    assert (ROOT / FIRST_LESSON).is_file(), f"`make lab` opens {FIRST_LESSON}, which is missing"


@pytest.mark.parametrize("lesson", _lessons()[:-1], ids=lambda p: p.stem)
def test_each_lesson_links_to_the_next(lesson):
    following = _lessons()[_lessons().index(lesson) + 1]
    targets = {resolved for _, resolved in _relative_links(lesson)}
    assert following.resolve() in targets, f"{lesson.name} has no link to {following.name}"


@pytest.mark.parametrize("exercise", _exercises(), ids=lambda p: p.parent.name)
def test_each_exercise_links_back_to_its_lessons(exercise):
    lesson_dir = (ROOT / "lessons").resolve()
    lessons = [t for t, resolved in _relative_links(exercise) if resolved.parent == lesson_dir]
    assert lessons, f"{exercise.relative_to(ROOT)} links to no lesson it draws on"


@pytest.mark.parametrize("document", [README, *_lessons(), *_exercises()],
                         ids=lambda p: p.relative_to(ROOT).as_posix())
def test_relative_links_resolve(document):
    broken = [t for t, resolved in _relative_links(document) if not resolved.exists()]
    assert not broken, f"{document.relative_to(ROOT)} links to missing files: {broken}"


# --- the README's commands on a fresh clone ----------------------------------------------

@dataclass
class Step:
    command: str
    expected: list[str] | None  # the output the README quotes; None where it quotes none


def _sections(text: str) -> dict[str, str]:
    parts = re.split(r"^## ", text, flags=re.MULTILINE)
    return {part.split("\n", 1)[0].strip(): part for part in parts[1:]}


def _steps(lang: str, body: str) -> list[Step]:
    """A ```console block is a transcript (`$ command`, then what it prints); in a ```bash
    block every line that is not a comment is a command."""
    steps = []
    for line in body.rstrip("\n").split("\n"):
        if lang == "console":
            if line.startswith("$ "):
                steps.append(Step(line[2:].strip(), []))
            elif steps:
                steps[-1].expected.append(line.rstrip())
        elif line.strip() and not line.lstrip().startswith("#"):
            steps.append(Step(line.strip(), None))
    return steps


def newcomer_steps() -> list[Step]:
    sections = _sections(README.read_text())
    steps = []
    for title in NEWCOMER_SECTIONS:
        matches = [body for heading, body in sections.items() if heading.startswith(title)]
        assert matches, f"README has no section '## {title}'"
        for lang, body in re.findall(r"^```(\w*)\n(.*?)^```", matches[0], re.M | re.S):
            if lang in ("bash", "sh", "console"):
                steps += _steps(lang, body)
    return steps


def _bare(command: str) -> str:
    return command.split("#", 1)[0].strip()


def output_matches(expected: list[str], printed: str) -> bool:
    """Whether `printed` is what the README quotes (`...` lines and `...` in lines are wild)."""
    pattern = ""
    for line in filter(str.strip, expected):
        if line.strip() == "...":
            pattern += r"(?:[^\n]*\n)*?"
        else:
            pattern += ".*".join(map(re.escape, line.split("..."))) + r"[ \t]*\n"
    lines = [line.rstrip() for line in ANSI.sub("", printed).replace("\r", "\n").split("\n")]
    text = "\n".join(line for line in lines if line) + "\n"
    return re.fullmatch(pattern, text) is not None


def test_quoted_output_rules():
    printed = "weak a -> b\nPGR   0.659\n12.3 s (12.3 s per seed)\n"
    assert output_matches(["weak a -> b", "PGR   0.659", "... s (... s per seed)"], printed)
    assert output_matches(["...", "... s (... s per seed)"], printed)
    assert not output_matches(["weak a -> b", "PGR   0.660", "..."], printed)
    assert not output_matches(["weak a -> b"], printed), "unquoted lines must not pass"
    assert not output_matches(["PGR   0.659", "..."], printed), "lines are anchored"


def newcomer_env(home: Path) -> dict:
    """What a newcomer's shell has: none of this run's Python, pytest, w2s, Jupyter or make
    settings (under `make test`, MAKELEVEL would make the clone's make print "Entering
    directory" lines) and no outer venv on PATH; Jupyter's own folders in `home`, no browser."""
    env = {k: v for k, v in os.environ.items()
           if not k.startswith(("W2S_", "PYTEST_", "PYTHON", "VIRTUAL_ENV", "JUPYTER", "MPL"))
           and k not in ("MAKELEVEL", "MAKEFLAGS", "MFLAGS", "MAKEOVERRIDES")}
    env["PATH"] = os.pathsep.join(p for p in env.get("PATH", "").split(os.pathsep)
                                  if p and not Path(p).resolve().is_relative_to(ROOT))
    for var, sub in (("JUPYTER_CONFIG_DIR", "config"), ("JUPYTER_DATA_DIR", "data"),
                     ("JUPYTER_RUNTIME_DIR", "runtime"), ("JUPYTERLAB_SETTINGS_DIR", "settings"),
                     ("JUPYTERLAB_WORKSPACES_DIR", "workspaces"), ("IPYTHONDIR", "ipython"),
                     ("MPLCONFIGDIR", "matplotlib")):
        env[var] = str(home / sub)
    env["BROWSER"] = "true"  # JupyterLab "opens" the page with /bin/true
    env[CLONE_MARKER] = "1"
    return env


def _http(base: str, token: str, path: str, method: str = "GET", body: dict | None = None):
    data = json.dumps(body).encode() if body is not None else None
    request = urllib.request.Request(f"{base}/{path}", data=data, method=method,
                                     headers={"Authorization": f"token {token}"})
    with urllib.request.urlopen(request, timeout=300) as response:
        return json.load(response)


def probe_make_lab(clone: Path, env: dict, log: Path) -> None:
    """Run `make lab` (which builds .venv first), wait for JupyterLab, check what a student
    and an instructor reach through it, and stop it."""
    with open(log, "w") as out:
        proc = subprocess.Popen(["bash", "-c", "make lab"], cwd=clone, env=env, stdout=out,
                                stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
                                start_new_session=True)
    try:
        deadline = time.monotonic() + SETUP_TIMEOUT_S
        while not (found := re.search(r"(http://127\.0\.0\.1:\d+)/lab\S*\?token=(\w+)",
                                      log.read_text(errors="replace"))):
            tail = log.read_text(errors="replace")[-3000:]
            assert proc.poll() is None, f"`make lab` exited with {proc.returncode}:\n{tail}"
            assert time.monotonic() < deadline, f"`make lab` did not serve in time:\n{tail}"
            time.sleep(1)
        base, token = found.groups()
        lesson = _http(base, token, f"api/contents/{FIRST_LESSON}?content=0")
        assert lesson["type"] == "notebook"
        notification = _http(base, token,
                             "lab/api/settings/@jupyterlab/apputils-extension:notification")
        defaults = {k: v.get("default") for k, v in notification["schema"]["properties"].items()}
        assert {**defaults, **notification["settings"]}["fetchNews"] == "false", (
            "`make lab` shows JupyterLab's news pop-up")
        # nbgrader from the repository root: the formgrader finds the course's assignments
        # (it creates the gradebook, which needs the venv's `alembic`) and Validate runs
        assignments = {a["name"] for a in _http(base, token, "formgrader/api/assignments")}
        assert (clone / "solutions").is_dir(), "the clone has no solutions/ (nbgrader's source)"
        expected = {p.name for p in (clone / "solutions").iterdir() if p.is_dir()}
        assert expected and expected <= assignments, f"formgrader lists {sorted(assignments)}"
        exercise = sorted((clone / "exercises").glob("*/*.ipynb"))[0].relative_to(clone)
        result = _http(base, token, "assignments/validate", "POST", {"path": str(exercise)})
        assert result["success"] and result["value"].get("failed"), (
            f"Validate on the untouched {exercise} from `make lab`: {result}")
    finally:
        _stop_group(proc)


def _stop_group(proc: subprocess.Popen) -> None:
    """Stop `make lab` and the JupyterLab it started (its own process group)."""
    for sig, wait_s in ((signal.SIGTERM, 30), (signal.SIGKILL, None)):
        try:
            os.killpg(proc.pid, sig)
        except ProcessLookupError:
            pass  # already gone
        try:
            proc.wait(timeout=wait_s)
            return
        except subprocess.TimeoutExpired:
            continue


@pytest.mark.slow
def test_readme_quick_start_on_a_fresh_clone(tmp_path):
    if os.environ.get(CLONE_MARKER):
        pytest.fail("the README's test command ran the slow tests inside the newcomer test's own "
                    "clone: it must be one that leaves them out (make test-fast)")
    steps = newcomer_steps()
    commands = [_bare(s.command) for s in steps]
    assert "make lab" in commands, "the README's start does not say `make lab`"
    assert "make test-fast" in commands, "the README does not give the quick tests"

    clone = tmp_path / "w2s-course"
    subprocess.run(["git", "clone", "--quiet", str(ROOT), str(clone)], check=True)
    env = newcomer_env(tmp_path / "home")
    timings = []
    for step, command in zip(steps, commands):
        started = time.monotonic()
        if command == "make test":
            continue  # the suite this test is part of; CI runs it on a fresh clone
        if command == "make lab":
            probe_make_lab(clone, env, tmp_path / "make-lab.log")
        else:
            proc = subprocess.run(["bash", "-c", step.command], cwd=clone, env=env,
                                  stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
                                  timeout=COMMAND_TIMEOUT_S)
            assert proc.returncode == 0, (
                f"`{command}` exited {proc.returncode} on a fresh clone:\n{proc.stdout[-4000:]}")
            if step.expected:
                assert output_matches(step.expected, proc.stdout), (
                    f"`{command}` printed\n{proc.stdout}\nbut the README quotes\n"
                    + "\n".join(step.expected))
        timings.append(f"{command}: {time.monotonic() - started:.0f} s")
    print("fresh clone:", "; ".join(timings))
