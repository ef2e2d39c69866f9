"""The grader's parts, without grading a class: rebuilding a tampered notebook from the
release, the sandbox's walls and limits (a few seconds each), hiding hidden tests, the
command line's messages, and the fallback limits where no cgroup is available."""

from __future__ import annotations

import copy
import os
import re
import shutil
import signal
import select
import subprocess
import sys
from pathlib import Path

import nbformat
import pytest
from nbformat.v4 import new_code_cell, new_markdown_cell, new_notebook

from autograder.execute import names_bound
from autograder.feedback import strip_hidden_tests
from autograder.restore import rebuild
from autograder.sandbox import Limits, Sandbox

REPO = Path(__file__).resolve().parents[2]
FIXTURES = REPO / "tests" / "course" / "fixtures"
W2S = REPO / ".venv" / "bin" / "w2s"
sys.path.insert(0, str(FIXTURES))

import make_submissions  # noqa: E402
from test_grade import clean_env, read_csv  # noqa: E402

needs_bwrap = pytest.mark.skipif(shutil.which("bwrap") is None,
                                 reason="bubblewrap is not installed: run `make system-deps`")


def meta(gid, **flags):
    nbgrader = {"grade": False, "grade_id": gid, "locked": False, "schema_version": 3,
                "solution": False, "task": False}
    nbgrader.update(flags)
    return {"nbgrader": nbgrader}


def release_nb():
    return new_notebook(cells=[
        new_markdown_cell("Intro"),
        new_code_cell("import math", metadata=meta("setup", locked=True)),
        new_code_cell("# YOUR CODE HERE", metadata=meta("answer", solution=True)),
        new_code_cell("assert f() == 1", metadata=meta("test", grade=True, locked=True, points=2)),
        new_markdown_cell("YOUR ANSWER HERE", metadata=meta("written", grade=True, solution=True,
                                                            points=1)),
    ])


def gid(cell):
    return cell.metadata.get("nbgrader", {}).get("grade_id")


def ids(nb):
    return [gid(c) for c in nb.cells]


# -- rebuild ---------------------------------------------------------------------------------
def test_rebuild_restores_deleted_edited_and_moved_cells():
    release = release_nb()
    student = copy.deepcopy(release)
    student.cells[2].source = "def f():\n    return 1"
    student.cells[3].source = "pass"                             # edited test
    del student.cells[1]                                         # deleted setup
    student.cells.insert(0, student.cells.pop())                 # moved written answer
    rebuilt = rebuild(student, release)
    # release order; the plain intro stays after the cell it followed in the student's copy
    assert ids(rebuilt) == ["setup", "answer", "test", "written", None]
    assert rebuilt.cells[0].source == "import math"
    assert rebuilt.cells[1].source == "def f():\n    return 1"
    assert rebuilt.cells[2].source == "assert f() == 1"


def test_rebuild_keeps_student_cells_after_the_cell_they_followed():
    release = release_nb()
    student = copy.deepcopy(release)
    student.cells.insert(3, new_code_cell("def helper():\n    return 1"))
    student.cells.insert(0, new_code_cell("x = 0"))
    rebuilt = rebuild(student, release)
    assert [c.source for c in rebuilt.cells][:5] == [
        "x = 0", "Intro", "import math", "# YOUR CODE HERE", "def helper():\n    return 1"]
    assert all("nbgrader" not in c.metadata for c in rebuilt.cells if c.source == "x = 0")


def test_rebuild_takes_the_release_metadata_and_the_last_copy_of_an_answer():
    release = release_nb()
    student = copy.deepcopy(release)
    student.cells[3].metadata.nbgrader.update(points=100, grade=False, locked=False)
    student.cells[3].cell_type = "markdown"
    first = copy.deepcopy(student.cells[2])
    first.source = "def f():\n    return 0"
    student.cells[2].source = "def f():\n    return 1"
    student.cells.insert(2, first)
    rebuilt = rebuild(student, release)
    test = next(c for c in rebuilt.cells if gid(c) == "test")
    assert test.cell_type == "code" and test.metadata.nbgrader["points"] == 2
    assert test.metadata.nbgrader["locked"] and test.metadata.nbgrader["grade"]
    answers = [c.source for c in rebuilt.cells if gid(c) == "answer"]
    assert answers == ["def f():\n    return 1"]


def test_names_bound_sees_every_binding_at_notebook_level():
    source = ("import numpy as np, os.path\nfrom math import log as ln\nfor i in range(3):\n"
              "    x = i\ndef f(y):\n    z = y\nclass C:\n    w = 1\nwith open('f') as fh:\n"
              "    pass\n[q for q in range(3)]\n")
    assert names_bound(source) == ["np", "os", "ln", "i", "x", "f", "C", "fh"]
    assert names_bound("%timeit 1") == []


def test_strip_hidden_tests_removes_code_and_quoting_tracebacks():
    cell = new_code_cell('"""doc"""\nassert a == 1\n### BEGIN HIDDEN TESTS\nassert a != 42, '
                         '"secret"\n### END HIDDEN TESTS',
                         metadata=meta("t", grade=True, locked=True, points=1))
    cell.outputs = [nbformat.NotebookNode(output_type="error", ename="AssertionError",
                                          evalue="wrong", traceback=["---> 4 assert a != 42"])]
    nb = strip_hidden_tests(new_notebook(cells=[cell]))
    assert "42" not in nb.cells[0].source and "HIDDEN" not in nb.cells[0].source
    assert nb.cells[0].outputs[0].traceback[0] == "AssertionError: wrong"
    assert not any("42" in line for line in nb.cells[0].outputs[0].traceback)


# -- the sandbox -----------------------------------------------------------------------------
PROBE = """
import os, socket, sys
print("uid", os.getuid())
print("solutions", os.path.exists(sys.argv[1]))
print("repo", sorted(os.listdir(sys.argv[2])))
open("written.txt", "w").write("ok")
try:
    open(sys.argv[3], "w")
    print("venv writable")
except OSError:
    print("venv read-only")
try:
    socket.create_connection(("1.1.1.1", 53), timeout=2)
    print("network up")
except OSError:
    print("network down")
print("pids", sorted(int(p) for p in os.listdir("/proc") if p.isdigit())[:3])
"""


def run_in_sandbox(tmp_path, code, *args, limits=Limits(), env=None):
    if env:
        os.environ.update(env)
    try:
        sandbox = Sandbox(tmp_path / "sb", limits)
        sandbox.open()
        work = sandbox.workdir("a")
        work.mkdir(parents=True)
        sandbox.chdir = sandbox.inside(work)
        cmd = sandbox.wrap([sys.executable, "-c", code, *args])
        done = subprocess.run(cmd, capture_output=True, text=True, timeout=120,
                              preexec_fn=sandbox.preexec())
        sandbox.close()
    finally:
        for key in env or {}:
            os.environ.pop(key)
    return done, work


@needs_bwrap
@pytest.mark.parametrize("cgroup", ["cgroup", "no cgroup"])
def test_sandbox_walls(tmp_path, cgroup):
    env = {"W2S_GRADE_NO_CGROUP": "1"} if cgroup == "no cgroup" else None
    done, work = run_in_sandbox(tmp_path, PROBE, str(REPO / "solutions"), str(REPO),
                                str(REPO / ".venv" / "x"), env=env)
    assert done.returncode == 0, done.stderr
    out = done.stdout
    assert "uid 0" not in out
    assert "solutions False" in out
    assert "repo ['.venv', 'data', 'w2s']" in out
    assert "venv read-only" in out and "network down" in out
    assert "pids [1, 2" in out                      # its own process tree
    assert (work / "written.txt").read_text() == "ok"


FORK_BOMB = """
import os, time
n = 0
try:
    while True:
        if os.fork() == 0:
            time.sleep(3)
            os._exit(0)
        n += 1
except OSError:
    print("forks", n)
"""


@needs_bwrap
@pytest.mark.parametrize("cgroup", ["cgroup", "no cgroup"])
def test_sandbox_caps_processes(tmp_path, cgroup):
    env = {"W2S_GRADE_NO_CGROUP": "1"} if cgroup == "no cgroup" else None
    done, _ = run_in_sandbox(tmp_path, FORK_BOMB, limits=Limits(max_processes=40), env=env)
    forks = int(done.stdout.split("forks")[1])
    assert 0 < forks < 40


MEMORY_HOG = """
blocks = []
try:
    for _ in range(64):
        blocks.append(bytearray(128 * 1024 * 1024))
        blocks[-1][::4096] = b"x" * len(blocks[-1][::4096])
    print("allocated 8 GiB")
except MemoryError:
    print("MemoryError at", len(blocks) * 128, "MiB")
"""


@needs_bwrap
@pytest.mark.parametrize("cgroup", ["cgroup", "no cgroup"])
def test_sandbox_caps_memory(tmp_path, cgroup):
    env = {"W2S_GRADE_NO_CGROUP": "1"} if cgroup == "no cgroup" else None
    done, _ = run_in_sandbox(tmp_path, MEMORY_HOG, limits=Limits(memory_bytes=512 * 1024**2),
                             env=env)
    assert "allocated 8 GiB" not in done.stdout
    # with a cgroup the kernel's OOM killer ends the process (bwrap exits 128 + 9); without
    # one, RLIMIT_AS makes malloc fail
    assert done.returncode == 137 or "MemoryError at" in done.stdout, (done.returncode, done.stdout)


# -- the command line ------------------------------------------------------------------------
def w2s(*args, env=None, timeout=600):
    return subprocess.run([str(W2S), "grade", *map(str, args)], env=env or clean_env(),
                          capture_output=True, text=True, timeout=timeout)


def test_refuses_without_bubblewrap(tmp_path):
    env = clean_env()
    env["PATH"] = str(tmp_path)                       # no bwrap to be found
    done = w2s(FIXTURES / "submissions", "--out", tmp_path / "out", env=env)
    assert done.returncode == 2
    assert "bubblewrap" in done.stderr and "--no-sandbox" in done.stderr
    assert "Traceback" not in done.stderr


@needs_bwrap
def test_bad_input_gets_a_message(tmp_path):
    done = w2s(tmp_path / "nowhere", "--out", tmp_path / "out")
    assert done.returncode == 2 and "is not a folder" in done.stderr
    done = w2s(FIXTURES / "submissions", "--out", tmp_path / "out", "--assignment", "ps9")
    assert done.returncode == 2 and "unknown assignment ps9" in done.stderr
    (tmp_path / "empty").mkdir()
    done = w2s(tmp_path / "empty", "--out", tmp_path / "out")
    assert done.returncode == 2 and "no submissions" in done.stderr
    done = w2s(FIXTURES / "submissions", "--out", REPO / "data" / "grades")
    assert done.returncode == 2 and "every sandbox can read" in done.stderr
    assert "Traceback" not in done.stderr


def _class(tmp_path, students: dict[str, str]) -> Path:
    root = tmp_path / "submitted"
    for name, source in students.items():
        shutil.copytree(FIXTURES / "submissions" / source, root / name)
    return root


@needs_bwrap
@pytest.mark.slow
def test_interrupted_run_keeps_grades_and_resumes(tmp_path):
    """SIGINT once the first result is on disk (the grader says so on a pipe), with three
    submissions still to go: the run stops with 130, keeps what it recorded, and a re-run
    grades only the rest."""
    root = _class(tmp_path, {f"student{i}": "s01-correct" for i in range(4)})
    out = tmp_path / "out"
    cmd = [str(W2S), "grade", str(root), "--out", str(out), "--workers", "1", "--no-progress"]
    events, announce = os.pipe()
    env = {**clean_env(), "W2S_GRADE_EVENTS_FD": str(announce)}
    # Ctrl-C's default action even where this test was started in the background, whose
    # children inherit an ignored SIGINT (the grader then finished all four: exit 0)
    process = subprocess.Popen(cmd, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                               text=True, pass_fds=(announce,),
                               preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL))
    os.close(announce)
    with os.fdopen(events) as pipe:
        # the limit only guards against a hung grader; the signal waits on the event
        ready, _, _ = select.select([pipe], [], [], 900)
        first = pipe.readline() if ready else ""
        if first.startswith("recorded "):
            process.send_signal(signal.SIGINT)
        else:
            process.kill()
        stdout, stderr = process.communicate(timeout=300)
    assert first.startswith("recorded "), f"no result was recorded:\n{stdout}{stderr}"
    assert process.returncode == 130, stdout + stderr
    assert "Interrupted" in stderr and "Traceback" not in stderr
    kept = read_csv(out / "grades.csv")
    assert 1 <= len(kept) < 4 and all(r["score"] == "18" for r in kept)
    again = subprocess.run(cmd, env=clean_env(), capture_output=True, text=True, timeout=600)
    assert again.returncode == 0
    assert f"{len(kept)} unchanged since the last run" in again.stdout
    assert [r["score"] for r in read_csv(out / "grades.csv")] == ["18"] * 4


@needs_bwrap
@pytest.mark.slow
def test_no_cgroup_fallback_contains_bombs(tmp_path):
    """Where no cgroup can be made, rlimits, a uid of the sandbox's own and a watchdog hold."""
    root = _class(tmp_path, {"fork": "f05-fork-bomb", "memory": "f04-memory-bomb"})
    env = clean_env()
    env["W2S_GRADE_NO_CGROUP"] = "1"
    done = w2s(root, "--out", tmp_path / "out", "--cell-timeout", "30", "--no-progress", env=env)
    assert done.returncode == 0, done.stdout + done.stderr
    rows = {(r["student"], r["grade_id"]): r for r in read_csv(tmp_path / "out" / "cells.csv")}
    for student in ("fork", "memory"):           # points earned before the bomb are kept
        assert rows[(student, "pgr-errors-test")]["status"] == "passed"
    assert rows[("fork", "table-test")]["status"] == "not run"
    assert "fork/ps1-measuring-weak-to-strong: process limit" in done.stdout
    assert "memory/ps1-measuring-weak-to-strong: memory limit" in done.stdout


@needs_bwrap
@pytest.mark.slow
def test_no_sandbox_runs_but_warns(tmp_path):
    root = _class(tmp_path, {"s": "s01-correct"})
    done = w2s(root, "--out", tmp_path / "out", "--no-sandbox", "--no-progress")
    assert done.returncode == 0 and "WARNING: --no-sandbox" in done.stderr
    assert read_csv(tmp_path / "out" / "grades.csv")[0]["score"] == "18"


# -- taking submissions in (intake.py) -------------------------------------------------------
from autograder.intake import Refused, name_problem, take_notebook, take_submission  # noqa: E402

NB = "hw"


def _submission(tmp_path, student="alice", assignment="a1"):
    folder = tmp_path / "submitted" / student / assignment
    folder.mkdir(parents=True)
    return folder


def test_intake_takes_plain_files_and_leaves_the_rest_out(tmp_path):
    folder = _submission(tmp_path)
    (folder / f"{NB}.ipynb").write_text("{}")
    (folder / "numpy.py").write_text("raise ImportError")
    (folder / "w2s").mkdir()
    (folder / "w2s" / "__init__.py").write_text("")
    (folder / "data.csv").write_text("1,2")
    (folder / "timestamp.txt").write_text("2026-01-01 10:00:00\n")
    (folder / ".ipynb_checkpoints").mkdir()
    taken = take_submission(tmp_path / "submitted", "alice", "a1", [NB], {"data.csv"})
    assert taken.notebooks == {NB: b"{}"} and not taken.refused and taken.problem is None
    assert taken.timestamp == "2026-01-01 10:00:00"
    assert sorted(taken.ignored) == ["ignored: extra file numpy.py",
                                     "ignored: extra file w2s/__init__.py"]


@pytest.mark.parametrize("kind", ["absolute symlink", "relative symlink", "hard link", "fifo",
                                  "socket", "symlinked folder", "other student"])
def test_intake_refuses_every_pointer(tmp_path, kind):
    secret = tmp_path / "solutions" / f"{NB}.ipynb"
    secret.parent.mkdir()
    secret.write_text('{"answer": 42}')
    root = tmp_path / "submitted"
    honest = _submission(tmp_path, "bob")
    (honest / f"{NB}.ipynb").write_text('{"bob": 1}')
    if kind == "symlinked folder":
        (root / "alice").mkdir()
        (root / "alice" / "a1").symlink_to(secret.parent, target_is_directory=True)
    else:
        path = _submission(tmp_path) / f"{NB}.ipynb"
        if kind == "absolute symlink":
            path.symlink_to(secret)
        elif kind == "relative symlink":
            path.symlink_to(os.path.relpath(secret, path.parent))
        elif kind == "hard link":
            os.link(secret, path)
        elif kind == "fifo":
            os.mkfifo(path)
        elif kind == "socket":
            import socket
            sock = socket.socket(socket.AF_UNIX)
            sock.bind(str(path))
            sock.close()
        elif kind == "other student":
            path.symlink_to(Path("..", "..", "bob", "a1", f"{NB}.ipynb"))
    taken = take_submission(root, "alice", "a1", [NB])
    assert taken.notebooks == {}
    reason = taken.problem or taken.refused[NB]
    want = {"absolute symlink": f"refused: symlink to {secret}",
            "relative symlink": "refused: symlink to ../../../solutions/",
            "hard link": "refused: hard link", "fifo": "refused: FIFO",
            "socket": "refused: socket", "symlinked folder": "refused: folder a1 is a symlink",
            "other student": "refused: symlink to ../../bob/"}[kind]
    assert reason.startswith(want), reason
    # the other student is untouched
    assert take_submission(root, "bob", "a1", [NB]).notebooks == {NB: b'{"bob": 1}'}


def test_intake_refuses_a_symlinked_renamed_download(tmp_path):
    folder = _submission(tmp_path)
    (folder / f"{NB} (1).ipynb").symlink_to("/etc/hostname")
    taken = take_submission(tmp_path / "submitted", "alice", "a1", [NB])
    assert taken.notebooks == {} and taken.refused[NB].startswith("refused: symlink to /etc")
    (folder / f"{NB} (1).ipynb").unlink()
    (folder / f"{NB} (1).ipynb").write_text("{}")
    taken = take_submission(tmp_path / "submitted", "alice", "a1", [NB])
    assert taken.notebooks == {NB: b"{}"} and taken.renamed == {NB: f"{NB} (1).ipynb"}


def test_intake_never_follows_a_link_swapped_in_after_the_look(tmp_path, monkeypatch):
    """The read opens with O_NOFOLLOW: a file replaced by a link after scanning is refused."""
    import autograder.intake as intake

    folder = _submission(tmp_path)
    path = folder / f"{NB}.ipynb"
    path.write_text("{}")
    real_read = intake.read_relative

    def swap_then_read(fd, rel, expected=None):
        path.unlink()
        path.symlink_to("/etc/hostname")
        return real_read(fd, rel, expected)

    monkeypatch.setattr(intake, "read_relative", swap_then_read)
    taken = take_submission(tmp_path / "submitted", "alice", "a1", [NB])
    assert taken.notebooks == {} and taken.refused[NB].startswith("refused: symlink to")


@pytest.mark.parametrize("name", ["..", ".", "", "a/b", "/etc", "tab\there", "bell\x07"])
def test_names_that_are_not_plain_folder_names_are_refused(name):
    assert name_problem(name)


@pytest.mark.parametrize("name", ["Zoë Müller", "ps1 (1)", "o'brien", "李雷", "a.b-c_d@e+f"])
def test_odd_but_legal_names_are_fine(name):
    assert name_problem(name) is None


def test_check_takes_only_a_plain_notebook(tmp_path):
    plain = tmp_path / "nb.ipynb"
    plain.write_text("{}")
    assert take_notebook(plain) == b"{}"
    link = tmp_path / "link.ipynb"
    link.symlink_to(plain)
    with pytest.raises(Refused, match="symlink to"):
        take_notebook(link)


@needs_bwrap
@pytest.mark.parametrize("sandboxed", [True, False])
def test_files_beside_the_notebook_never_shadow_the_course(tmp_path, sandboxed):
    """Even placed in the kernel's own folder, a w2s/, numpy.py and torch.py are not imported."""
    from autograder.execute import execute

    sandbox = Sandbox(tmp_path / "sb", Limits(cell_seconds=60), enabled=sandboxed)
    workdir = sandbox.workdir("a")
    for rel, text in make_submissions.SHADOWS.items():
        (workdir / rel).parent.mkdir(parents=True, exist_ok=True)
        (workdir / rel).write_text(text)
    nb = new_notebook(cells=[new_code_cell(
        "import os, sys, numpy, torch, w2s, w2s.data\n"
        "print('FILES', numpy.__file__, torch.__file__, w2s.__file__)\n"
        "print('PATH', [p for p in sys.path if p in ('', '.')\n"
        "               or (os.path.isdir(p) and os.path.abspath(p).startswith(os.getcwd()))])",
        metadata=meta("setup", locked=True))])
    result = execute(nb, sandbox, workdir)
    assert result.status == "ok", result.detail
    text = "".join(o.get("text", "") for o in nb.cells[0].outputs)
    assert "FILES" in text, nb.cells[0].outputs
    files = text.split("FILES", 1)[1].split("PATH", 1)[0].split()
    assert len(files) == 3
    assert not any(f.startswith((str(workdir), "/home/student")) for f in files), files
    assert "PATH []" in text


# -- grading on a Dask cluster ---------------------------------------------------------------
def _free_port() -> int:
    import socket

    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@needs_bwrap
@pytest.mark.slow
def test_cluster_survives_a_killed_worker_and_grades_nothing_twice(tmp_path):
    """A real `dask scheduler` and two `dask worker` processes; the test kills the worker
    that started grading first (told by the grader's start event, not by a sleep)."""
    import threading

    from distributed import Client
    from nbgrader.api import Gradebook

    students = ["Zoë Müller", "student 2 (1)", "carol"]          # odd but legal names
    root = _class(tmp_path, {"Zoë Müller": "s01-correct", "student 2 (1)": "s01-correct",
                             "carol": "f10-missing-notebook"})
    out, port = tmp_path / "out", _free_port()
    address = f"tcp://127.0.0.1:{port}"
    env = clean_env()
    dask = str(REPO / ".venv" / "bin" / "dask")
    log = (tmp_path / "dask.log").open("w")
    processes = [subprocess.Popen([dask, "scheduler", "--host", "127.0.0.1", "--port", str(port),
                                   "--no-dashboard"], env=env, stdout=log, stderr=log)]
    try:
        for _ in range(2):
            processes.append(subprocess.Popen(
                [dask, "worker", address, "--nthreads", "1", "--no-nanny", "--no-dashboard",
                 "--memory-limit", "0", "--local-directory", str(tmp_path / "dask")],
                env=env, stdout=log, stderr=log))
        client = Client(address, timeout=120)
        client.wait_for_workers(2, timeout=300)
        started, first = threading.Event(), []

        def on_start(event):
            first.append(event[1])
            started.set()

        client.subscribe_topic("w2s-grade", on_start)
        cmd = [str(W2S), "grade", str(root), "--out", str(out), "--no-progress",
               "--cluster", address]
        grader = subprocess.Popen(cmd, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                                  text=True)
        # the grader's own start-up (nbgrader generating the assignment) comes first; on a
        # loaded machine that alone can take minutes, hence the generous safety net
        assert started.wait(1200), "no worker started grading"
        os.kill(first[0]["pid"], signal.SIGKILL)              # mid-run: its kernel dies with it
        stdout, stderr = grader.communicate(timeout=1200)
        assert grader.returncode == 0, stdout[-3000:] + stderr[-3000:]
        assert len(client.scheduler_info()["workers"]) == 1  # the other worker did the rest
        client.close()
        rows = read_csv(out / "grades.csv")
        assert sorted(r["student"] for r in rows) == sorted(students)
        assert {r["student"]: r["score"] for r in rows} == {
            "Zoë Müller": "18", "student 2 (1)": "18", "carol": "0"}
        assert len(re.findall(r"^\[\d/3\] ", stdout, re.M)) == 3  # each recorded once
        with Gradebook(f"sqlite:///{out / 'nbgrader' / 'gradebook.db'}") as gb:
            assert sorted(s.id for s in gb.students) == sorted(students)
            assert len(gb.find_assignment(make_submissions.PS1).submissions) == 3
        again = subprocess.run(cmd, env=env, capture_output=True, text=True, timeout=300)
        assert again.returncode == 0 and "3 unchanged since the last run" in again.stdout
    finally:
        for process in reversed(processes):
            process.kill()
            process.wait()
        log.close()


def test_check_refuses_a_linked_notebook(tmp_path):
    link = tmp_path / f"{make_submissions.PS1}.ipynb"
    link.symlink_to(REPO / "solutions" / make_submissions.PS1 / f"{make_submissions.PS1}.ipynb")
    done = subprocess.run([str(W2S), "check", str(link)], env=clean_env(), capture_output=True,
                          text=True, timeout=300)
    assert done.returncode == 2 and "is not a plain notebook file (symlink to" in done.stderr
    assert "Traceback" not in done.stderr


@pytest.mark.slow
def test_check_is_not_fooled_by_modules_beside_the_notebook(tmp_path):
    """A solved notebook passes `w2s check` with a fake w2s/, numpy.py and torch.py beside it."""
    nb = make_submissions.solved(make_submissions.PS4)
    path = tmp_path / f"{make_submissions.PS4}.ipynb"
    nbformat.write(nb, path)
    for rel, text in make_submissions.SHADOWS.items():
        (tmp_path / rel).parent.mkdir(parents=True, exist_ok=True)
        (tmp_path / rel).write_text(text)
    done = subprocess.run([str(W2S), "check", str(path), "--timeout", "300"], env=clean_env(),
                          capture_output=True, text=True, timeout=900, cwd=tmp_path)
    assert done.returncode == 0, done.stdout[-2000:] + done.stderr[-2000:]
    assert "All visible tests pass" in done.stdout


@pytest.mark.slow
def test_check_stops_a_cell_at_its_time_limit(tmp_path):
    """A cell that never ends is stopped at --timeout (the client's own time limit, no sleep
    in the test), reported by name, and the questions after it are reported as not run."""
    nb = new_notebook(cells=[
        new_code_cell("x = 1", metadata=meta("answer", solution=True)),
        new_code_cell('"""never ends"""\nwhile True:\n    pass',
                      metadata=meta("loop-test", grade=True, locked=True, points=1)),
        new_code_cell('"""checks x"""\nassert x == 1',
                      metadata=meta("after-test", grade=True, locked=True, points=1)),
    ])
    nb.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3", "language": "python"}
    path = tmp_path / "loop.ipynb"
    nbformat.write(nb, path)
    done = subprocess.run([str(W2S), "check", "--timeout", "3", str(path)], env=clean_env(),
                          capture_output=True, text=True, timeout=300, cwd=tmp_path)
    assert done.returncode == 1, done.stdout[-2000:] + done.stderr[-2000:]
    assert "longer than 3 s" in done.stdout and "loop-test" in done.stdout, done.stdout
    assert re.search(r"not run\s+after-test", done.stdout), done.stdout
    assert "stopped: cell 2 ran longer than 3 s" in done.stdout, done.stdout


@needs_bwrap
def test_a_broken_nbgrader_config_is_reported(tmp_path):
    course = tmp_path / "course"
    ps1 = make_submissions.PS1
    shutil.copytree(REPO / "solutions" / ps1, course / "source" / ps1)
    (course / "nbgrader_config.py").write_text("c = get_config()\nc.Execute.timeout = 1 / 0\n")
    done = w2s(FIXTURES / "submissions", "--out", tmp_path / "out", "--source", course / "source")
    assert done.returncode == 2, done.stdout + done.stderr
    assert "nbgrader_config.py could not be read (ZeroDivisionError" in done.stderr
    assert "--cell-timeout" in done.stderr and "Traceback" not in done.stderr


@needs_bwrap
def test_names_and_flags_that_make_no_sense_are_refused(tmp_path):
    done = w2s(FIXTURES / "submissions", "--out", tmp_path / "out", "--student", "../s01-correct")
    assert done.returncode == 2 and "is a path, not a folder name" in done.stderr
    done = w2s(FIXTURES / "submissions", "--out", tmp_path / "out", "--workers", "2",
               "--cluster", "local:2")
    assert done.returncode == 2 and "Pass one of the two" in done.stderr
    assert "Traceback" not in done.stderr
