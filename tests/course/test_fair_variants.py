"""Correct answers in other styles get full marks; an honest mistake costs only its question.

The variants of ``fair_variants.py`` are laid out as a class (one student per variant) and
graded once per session through ``w2s grade`` — the instructor's command — so the points
come from the same path as a real class's. Without bubblewrap the run uses ``--no-sandbox``
(the variants are the course's own code; the sandbox has its own tests in ``test_grade``).
"""

from __future__ import annotations

import csv
import os
import shutil
import subprocess

import nbformat
import pytest

from conftest import BIN, ROOT
from fair_variants import VARIANTS

pytestmark = pytest.mark.timeout(2400)


def _nbg(cell) -> dict:
    return cell.get("metadata", {}).get("nbgrader", {}) or {}


def _solution(assignment: str):
    return nbformat.read(ROOT / "solutions" / assignment / f"{assignment}.ipynb", as_version=4)


def _release(assignment: str):
    return nbformat.read(ROOT / "exercises" / assignment / f"{assignment}.ipynb", as_version=4)


def _test_ids(assignment: str) -> list[str]:
    return [_nbg(c)["grade_id"] for c in _solution(assignment).cells
            if c.cell_type == "code" and _nbg(c).get("grade") and not _nbg(c).get("solution")]


def _answer_ids(assignment: str) -> set[str]:
    return {_nbg(c)["grade_id"] for c in _solution(assignment).cells if _nbg(c).get("solution")}


def _student_notebook(assignment: str, answers: dict):
    """The release with every answer filled in: the solution's, or the variant's own."""
    sources = {}
    for cell in _solution(assignment).cells:
        if _nbg(cell).get("solution"):
            sources[_nbg(cell)["grade_id"]] = "\n".join(
                line for line in cell.source.split("\n")
                if "### BEGIN SOLUTION" not in line and "### END SOLUTION" not in line)
    sources.update(answers)
    nb = _release(assignment)
    for cell in nb.cells:
        if _nbg(cell).get("solution"):
            cell.source = sources[_nbg(cell)["grade_id"]].strip("\n")
    return nb


@pytest.fixture(scope="session")
def fair_grades(tmp_path_factory):
    """``{(student, assignment): {grade_id: (score, max_score, status)}}`` from cells.csv."""
    base = tmp_path_factory.mktemp("fair")
    submitted = base / "submitted"
    for assignment, variants in VARIANTS.items():
        for name, variant in variants.items():
            folder = submitted / name / assignment
            folder.mkdir(parents=True, exist_ok=True)
            nbformat.write(_student_notebook(assignment, variant["answers"]),
                           folder / f"{assignment}.ipynb")
        folder = submitted / "untouched" / assignment
        folder.mkdir(parents=True)
        nbformat.write(_release(assignment), folder / f"{assignment}.ipynb")
    cmd = [str(BIN / "w2s"), "grade", str(submitted), "--out", str(base / "out"), "--workers", "2",
           "--no-progress", "--cell-timeout", "120", "--timeout", "600"]
    if shutil.which("bwrap") is None:
        cmd.append("--no-sandbox")
    env = {**os.environ, "W2S_THREADS": "1", "OMP_NUM_THREADS": "1", "MKL_NUM_THREADS": "1"}
    run = subprocess.run(cmd, capture_output=True, text=True, env=env, timeout=2400)
    assert run.returncode == 0, run.stdout[-3000:] + run.stderr[-3000:]
    cells = {}
    with (base / "out" / "cells.csv").open() as f:
        for row in csv.DictReader(f):
            cells.setdefault((row["student"], row["assignment"]), {})[row["grade_id"]] = (
                float(row["score"] or 0), float(row["max_score"]), row["status"])
    return cells


def test_the_corpus_has_three_fair_variants_and_a_mistake_per_assignment():
    assert set(VARIANTS) == {p.parent.name for p in (ROOT / "solutions").glob("*/*.ipynb")}
    for assignment, variants in VARIANTS.items():
        fair = [v for v in variants.values() if not v.get("loses")]
        mistakes = [v for v in variants.values() if v.get("loses")]
        assert len(fair) >= 3 and mistakes, assignment
        for name, variant in variants.items():
            assert set(variant["answers"]) <= _answer_ids(assignment), f"{assignment} {name}"
            assert set(variant.get("loses", {})) <= set(_test_ids(assignment)), f"{assignment} {name}"


@pytest.mark.slow
@pytest.mark.parametrize("assignment,variant", [(a, v) for a, vs in VARIANTS.items() for v in vs])
def test_fair_answers_get_full_marks_and_mistakes_cost_only_their_question(
        fair_grades, assignment, variant):
    cells = fair_grades.get((variant, assignment))
    assert cells, f"{variant} was not graded"
    loses = VARIANTS[assignment][variant].get("loses", {})
    wrong = {}
    for gid in _test_ids(assignment):
        score, max_score, status = cells[gid]
        expected = loses.get(gid, max_score)
        if abs(score - expected) > 1e-3:  # cells.csv rounds partial credit
            wrong[gid] = f"{score:g} of {max_score:g} ({status}), expected {expected:g}"
    assert not wrong, f"{assignment} / {variant}: {wrong}"


@pytest.mark.slow
@pytest.mark.parametrize("assignment", list(VARIANTS))
def test_an_untouched_release_scores_zero_and_every_question_is_not_attempted(fair_grades,
                                                                            assignment):
    """The same word as `w2s check` (test_exercises checks its report of the release)."""
    cells = fair_grades[("untouched", assignment)]
    for gid in _test_ids(assignment):
        score, _, status = cells[gid]
        assert score == 0 and status == "not attempted", f"{gid}: {score:g}, {status}"
    written = [row for gid, row in cells.items() if gid not in _test_ids(assignment)]
    assert all(status == "not attempted" for _, _, status in written), written
