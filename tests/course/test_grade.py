"""`w2s grade` end to end on the fixture corpus (tests/course/fixtures/submissions, built from the real
assignments by tests/course/fixtures/make_submissions.py): every submission's per-question scores and
status, the CSVs, the feedback, the sandbox's walls, and a re-run that changes nothing.

The corpus (with the pointer submissions of ``make_submissions.make_pointers`` created beside
a copy of it) is graded once per session (about three minutes on the 2-core course machine);
the tests below read what that run wrote. A subset is graded again on a Dask LocalCluster,
which must write the same cells.
"""

from __future__ import annotations

import csv
import json
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import nbformat
import pytest

REPO = Path(__file__).resolve().parents[2]
FIXTURES = REPO / "tests" / "course" / "fixtures"
CORPUS = FIXTURES / "submissions"
EXPECTED = json.loads((FIXTURES / "expected_scores.json").read_text())
W2S = REPO / ".venv" / "bin" / "w2s"
sys.path.insert(0, str(FIXTURES))

import make_submissions  # noqa: E402

pytestmark = pytest.mark.skipif(shutil.which("bwrap") is None,
                                reason="bubblewrap is not installed: run `make system-deps` as root")
MANUAL = ("needs manual grading",)


def clean_env() -> dict:
    """The instructor's shell: no activated venv, .venv/bin not on PATH."""
    venv_bin = str(REPO / ".venv" / "bin")
    env = {k: v for k, v in os.environ.items() if k not in ("VIRTUAL_ENV", "PYTHONPATH")}
    env["PATH"] = os.pathsep.join(p for p in env.get("PATH", "").split(os.pathsep)
                                  if p.rstrip("/") != venv_bin)
    return env


def grade(submitted: Path, out: Path, *extra: str, env=None, timeout=900):
    cmd = [str(W2S), "grade", str(submitted), "--out", str(out), "--no-progress",
           "--cell-timeout", "30", "--timeout", "180", *extra]
    return subprocess.run(cmd, env=env or clean_env(), capture_output=True, text=True,
                          timeout=timeout)


def read_csv(path: Path) -> list[dict]:
    with path.open() as f:
        return list(csv.DictReader(f))


def daemons() -> list[int]:
    found = []
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                if make_submissions.DAEMON_MARKER.encode() in (entry / "cmdline").read_bytes():
                    found.append(int(entry.name))
            except OSError:
                pass
    return found


def is_refusal(status: str) -> bool:
    return status.startswith("refused")


def status_matches(got: str, want: str) -> bool:
    """A refusal names its target (a path that depends on the checkout); the rest is exact."""
    return got.startswith(want) if is_refusal(want) else got == want


@pytest.fixture(scope="module")
def graded(tmp_path_factory):
    out = tmp_path_factory.mktemp("grades")
    submitted = tmp_path_factory.mktemp("class") / "submitted"
    shutil.copytree(CORPUS, submitted)
    make_submissions.make_pointers(submitted, submitted.parent / "outside")
    done = grade(submitted, out)
    results = {}
    for path in (out / "nbgrader" / ".w2s" / "results").glob("*/*.json"):
        result = json.loads(path.read_text())
        results[result["student"]] = result
    return {"out": out, "run": done, "results": results, "submitted": submitted,
            "cells": read_csv(out / "cells.csv") if (out / "cells.csv").exists() else [],
            "grades": read_csv(out / "grades.csv") if (out / "grades.csv").exists() else []}


def test_corpus_is_current_with_the_assignments():
    assert make_submissions.main(["--check"]) == 0, \
        "run .venv/bin/python tests/course/fixtures/make_submissions.py after changing solutions/"


def test_corpus_covers_every_case():
    assert len(EXPECTED) >= 20
    statuses = {e["status"] for e in EXPECTED.values()}
    assert {"ok", "kernel died", "memory limit", "process limit", "cell time limit",
            "tampering", "corrupt notebook", "missing notebook", "refused: symlink to",
            "refused: hard link", "refused: folder", "refused: FIFO"} <= statuses
    assert {e["assignment"] for e in EXPECTED.values()} == {
        make_submissions.PS1, make_submissions.PS2, make_submissions.PS3, make_submissions.PS4}


@pytest.mark.slow
def test_run_exits_zero_and_reports_problems(graded):
    run = graded["run"]
    assert run.returncode == 0, run.stdout[-3000:] + run.stderr[-3000:]
    assert "Traceback" not in run.stdout + run.stderr
    assert "to look at" in run.stdout
    for student, e in EXPECTED.items():
        if e["status"] != "ok":
            assert re.search(rf"{student}/\S+: {re.escape(e['status'])}", run.stdout), student


@pytest.mark.slow
@pytest.mark.parametrize("student", sorted(EXPECTED))
def test_per_question_scores(graded, student):
    expected = EXPECTED[student]
    rows = {r["grade_id"]: r for r in graded["cells"] if r["student"] == student}
    assert set(rows) == set(expected["scores"]), f"{student}: graded cells differ"
    for grade_id, want in expected["scores"].items():
        row = rows[grade_id]
        if want is None:
            assert row["status"] in MANUAL and float(row["score"]) == 0, (student, row)
        else:
            assert float(row["score"]) == want, (student, grade_id, row)
    assert status_matches(graded["results"][student]["status"], expected["status"]), \
        (student, graded["results"][student]["status"], graded["results"][student]["detail"])


@pytest.mark.slow
def test_grades_csv_adds_up(graded):
    assert [r["student"] for r in graded["grades"]] == sorted(EXPECTED)
    for row in graded["grades"]:
        cells = [r for r in graded["cells"] if r["student"] == row["student"]]
        # each CSV number is printed to six significant digits, so sums agree to that
        cell_sum = sum(float(c["score"]) for c in cells)
        assert float(row["score"]) == pytest.approx(cell_sum, abs=1e-3)
        assert float(row["max_score"]) == sum(float(c["max_score"]) for c in cells)
        assert row["assignment"] == EXPECTED[row["student"]]["assignment"]
    assert list(graded["grades"][0]) == ["student", "assignment", "score", "max_score"]
    assert list(graded["cells"][0]) == ["student", "assignment", "notebook", "grade_id",
                                        "score", "max_score", "status"]


@pytest.mark.slow
def test_pointers_earn_nothing_and_files_beside_are_left_out(graded):
    """Each kind of pointer is refused (0 points, its reason in the summary); a correct
    notebook with a fake w2s/, numpy.py and torch.py beside it gets full marks."""
    out = graded["run"].stdout
    pointers = [s for s, e in EXPECTED.items() if is_refusal(e["status"])]
    assert len(pointers) == 6
    for student in pointers:
        row = next(r for r in graded["grades"] if r["student"] == student)
        assert float(row["score"]) == 0, student
    assert re.search(r"p01-symlink-absolute/\S+: refused: symlink to /\S+/solutions/", out)
    assert re.search(r"p02-symlink-relative/\S+: refused: symlink to \.\./\S+/solutions/", out)
    assert "refused: symlink to ../../s01-correct/" in out
    shadow = graded["results"][make_submissions.SHADOWING]
    assert shadow["status"] == "ok"
    assert sorted(shadow["ignored"]) == sorted(f"ignored: extra file {f}"
                                               for f in make_submissions.SHADOWS)
    assert "ignored: extra file numpy.py" in out.split("were left out:", 1)[1]
    # the honest student whose notebook p05 links to keeps exactly their own marks
    assert graded["results"]["s01-correct"]["status"] == "ok"


@pytest.mark.slow
def test_metadata_cannot_change_the_points(graded):
    row = next(r for r in graded["grades"] if r["student"] == "a08-metadata-rewritten")
    assert float(row["max_score"]) == 20
    metrics = next(r for r in graded["cells"]
                   if r["student"] == "a08-metadata-rewritten" and r["grade_id"] == "metrics-test")
    assert float(metrics["max_score"]) == 2 and float(metrics["score"]) == 2


@pytest.mark.slow
def test_tampering_is_reported(graded):
    restored = {s: sum((nb["restored"] for nb in r["notebooks"].values()), [])
                for s, r in graded["results"].items()}
    assert "builtins.abs" in restored["a02-patched-builtins"]
    assert {"math.log", "torch.nn.functional.cross_entropy"} <= set(restored["a03-patched-torch-and-math"])
    assert "math" in restored["a04-shadowed-math-module"]
    assert "input_transformers_cleanup" in restored["a11-ipython-transformer"]
    assert not restored["s01-correct"] and not restored["s06-correct"]


def _outputs(out: Path, student: str, assignment: str) -> str:
    path = out / "nbgrader" / "autograded" / student / assignment / f"{assignment}.ipynb"
    nb = nbformat.read(path, as_version=4)
    return "\n".join(o.get("text", "") for c in nb.cells if c.cell_type == "code"
                     for o in c.outputs if o.get("output_type") == "stream")


@pytest.mark.slow
def test_sandbox_hides_solutions_gradebook_and_other_students(graded):
    text = _outputs(graded["out"], "a09-reads-answers-from-disk", make_submissions.PS1)
    visible = json.loads(text.split("VISIBLE ", 1)[1].splitlines()[0])
    paths = sorted(set(sum(visible.values(), [])))
    assert paths, "the attack saw nothing at all: it did not run"
    for path in paths:
        assert "solutions" not in path and "gradebook" not in path and "exercises" not in path, path
        assert not any(s in path for s in EXPECTED if s != "a09-reads-answers-from-disk"), path
        assert str(graded["out"]) not in path
    assert "/home/student" in visible["/home/*"]
    assert visible["/work/*/solutions/*/*.ipynb"] == [] and visible["/work/*/gradebook.db"] == []


@pytest.mark.slow
def test_sandbox_has_no_network(graded):
    text = _outputs(graded["out"], "a10-network", make_submissions.PS1)
    assert "NETWORK False" in text


@pytest.mark.slow
def test_daemons_end_with_their_submission(graded):
    assert graded["results"]["f07-daemon"]["status"] == "ok"
    assert daemons() == []


@pytest.mark.slow
def test_feedback_never_shows_hidden_tests(graded):
    source = REPO / "solutions" / make_submissions.PS1 / f"{make_submissions.PS1}.ipynb"
    hidden = []
    for c in nbformat.read(source, as_version=4).cells:
        inside = False
        for line in c.source.splitlines():
            if "BEGIN HIDDEN TESTS" in line:
                inside = True
            elif "END HIDDEN TESTS" in line:
                inside = False
            elif inside and len(line.strip()) > 20:
                hidden.append(line.strip())
    assert hidden
    for student, e in EXPECTED.items():
        feedback = graded["out"] / "feedback" / student / e["assignment"] / f"{e['assignment']}.html"
        assert feedback.exists(), student
        if e["assignment"] != make_submissions.PS1:
            continue
        html = feedback.read_text()
        import html as html_lib
        plain = html_lib.unescape(re.sub(r"<[^>]+>", "", html))
        for line in hidden:
            assert line not in plain, (student, line)
    html = (graded["out"] / "feedback" / "s03-partly-wrong" / make_submissions.PS1 /
            f"{make_submissions.PS1}.html").read_text()
    assert "metric_order is not in the right order" in html  # a hidden test's message is shown
    assert "metric_order lists the three metric names" in html  # the visible test's docstring


@pytest.mark.slow
def test_feedback_runs_no_student_script(graded):
    html = (graded["out"] / "feedback" / "a15-script-in-feedback" / make_submissions.PS1 /
            f"{make_submissions.PS1}.html").read_text()
    assert "W2S_XSS" in html                              # the student's code is shown...
    assert "<img src=x onerror" not in html               # ...but their HTML output is inert
    assert '<script>document.title' not in html and "<script" not in html.split("</head>", 1)[1]


@pytest.mark.slow
def test_rerun_is_idempotent_and_quick(graded, tmp_path):
    before = (graded["out"] / "cells.csv").read_text(), (graded["out"] / "grades.csv").read_text()
    again = grade(graded["submitted"], graded["out"])
    assert again.returncode == 0, again.stderr[-2000:]
    assert f"{len(EXPECTED)} unchanged since the last run" in again.stdout
    assert ((graded["out"] / "cells.csv").read_text(),
            (graded["out"] / "grades.csv").read_text()) == before


# Attacks, limits and pointers graded again on a Dask LocalCluster of 2 worker processes.
CLUSTER_SUBSET = ("s01-correct", "a09-reads-answers-from-disk", "a10-network", "f04-memory-bomb",
                  "f05-fork-bomb", "f07-daemon", "p01-symlink-absolute", "p04-hard-link",
                  "p05-link-to-another-student")


@pytest.mark.slow
def test_cluster_grades_equal_the_local_pool(graded, tmp_path):
    out = tmp_path / "cluster"
    args = [a for s in CLUSTER_SUBSET for a in ("--student", s)]
    done = grade(graded["submitted"], out, "--cluster", "local:2", *args)
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
    assert "Dask cluster local:2 (2 worker(s))" in done.stdout
    local = [r for r in graded["cells"] if r["student"] in CLUSTER_SUBSET]
    assert read_csv(out / "cells.csv") == local
    assert read_csv(out / "grades.csv") == [r for r in graded["grades"]
                                            if r["student"] in CLUSTER_SUBSET]
    text = _outputs(out, "a10-network", make_submissions.PS1)
    assert "NETWORK False" in text
    assert daemons() == []
