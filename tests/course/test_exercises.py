"""The graded assignments, end to end through nbgrader, plus `w2s release` and `w2s check`.

One session fixture builds a throw-away nbgrader course per assignment (``make_course``),
submits a solved notebook, the untouched release, and the wrong-answer batches of
``exercise_wrong_answers`` as separate students, and runs plain ``nbgrader autograde`` on
them; the `w2s check` runs go through the same pool of two workers. The tests then read the
scores from each course's gradebook.
"""

from __future__ import annotations

import ast
import html as html_module
import json
import os
import re
import shutil
import subprocess
import sys
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import nbformat
import pytest

from conftest import BIN, ROOT
from exercise_wrong_answers import BATCHES
from autograder.feedback import visible_source
from autograder.release import assignment_names, make_course, normalise_notebook

pytestmark = pytest.mark.timeout(1800)

ASSIGNMENTS = assignment_names()
LESSONS = ["01-the-weak-to-strong-setup", "02-fine-tuning-on-weak-labels",
           "03-confidence-loss-and-distillation", "04-scaling-and-bootstrapping",
           "05-data-selection-with-weak-models", "06-cascading-inference",
           "07-combining-small-and-large-models"]
W2S = str(BIN / "w2s")
ENV = {**os.environ, "PATH": f"{BIN}{os.pathsep}{os.environ.get('PATH', '')}",
       "W2S_THREADS": "1", "PYTHONWARNINGS": "ignore"}
WORKERS = 2
PARTIAL_CREDIT = "_t_points"  # the name a partial-credit test cell ends with


# ---------------------------------------------------------------- notebooks


def nbg(cell) -> dict:
    return cell.get("metadata", {}).get("nbgrader", {}) or {}


def is_test(cell) -> bool:
    return cell.cell_type == "code" and nbg(cell).get("grade") and not nbg(cell).get("solution")


def solution_path(assignment: str) -> Path:
    return ROOT / "solutions" / assignment / f"{assignment}.ipynb"


def release_path(assignment: str) -> Path:
    return ROOT / "exercises" / assignment / f"{assignment}.ipynb"


def read(path: Path):
    return nbformat.read(path, as_version=4)


def _question_text(assignment: str, grade_id: str) -> str:
    """The markdown of the question a test cell belongs to (every cell since the last heading)."""
    text = []
    for cell in read(solution_path(assignment)).cells:
        if cell.cell_type == "markdown":
            text = [cell.source] if cell.source.lstrip().startswith("## ") else text + [cell.source]
        if nbg(cell).get("grade_id") == grade_id:
            return "\n".join(text)
    raise KeyError(grade_id)


def graded_test_ids(assignment: str) -> list[str]:
    return [nbg(c)["grade_id"] for c in read(solution_path(assignment)).cells if is_test(c)]


def submission(assignment: str, answers: dict | None = None):
    """The released notebook with every answer cell filled in, some with ``answers``."""
    sources = {nbg(c)["grade_id"]: c.source for c in read(solution_path(assignment)).cells
               if nbg(c).get("solution")}
    sources.update(answers or {})
    nb = read(release_path(assignment))
    for cell in nb.cells:
        if nbg(cell).get("solution"):
            cell.source = sources[nbg(cell)["grade_id"]].strip("\n")
    return nb


# ---------------------------------------------------------------- the graded course


def _run(cmd, cwd=None, timeout=900):
    proc = subprocess.run(cmd, cwd=cwd, env=ENV, capture_output=True, text=True, timeout=timeout)
    return proc.returncode, proc.stdout, proc.stderr


def _autograde(root: Path, assignment: str):
    return _run([str(BIN / "nbgrader"), "autograde", assignment, "--force"], cwd=root)


def _scores(root: Path, assignment: str) -> dict[str, dict[str, tuple[float, float, bool]]]:
    """``{student: {grade_id: (score, max_score, autograded)}}`` from the gradebook."""
    from nbgrader.api import Gradebook

    out = {}
    with Gradebook(f"sqlite:///{root / 'gradebook.db'}") as gb:
        for sub in gb.assignment_submissions(assignment):
            notebook = gb.find_submission_notebook(assignment, assignment, sub.student.id)
            out[sub.student.id] = {g.name: (float(g.score), float(g.max_score),
                                            g.auto_score is not None) for g in notebook.grades}
    return out


@pytest.fixture(scope="session")
def graded(tmp_path_factory):
    """Autograde every assignment's submissions and run the `w2s check` cases."""
    base = tmp_path_factory.mktemp("exercises")
    jobs = {}
    for assignment in ASSIGNMENTS:
        root = make_course(base / assignment, [assignment])
        students = {"solved": submission(assignment), "untouched": read(release_path(assignment))}
        for i, batch in enumerate(BATCHES.get(assignment, []), 1):
            students[f"wrong-{i}"] = submission(assignment, batch["answers"])
        for student, nb in students.items():
            folder = root / "submitted" / student / assignment
            folder.mkdir(parents=True)
            nbformat.write(nb, folder / f"{assignment}.ipynb")
        jobs[("grade", assignment)] = (_autograde, root, assignment)

        checked = base / "check" / assignment
        checked.mkdir(parents=True)
        nbformat.write(submission(assignment), checked / f"{assignment}.ipynb")
        jobs[("check-solved", assignment)] = (_run, [W2S, "check", str(checked / f"{assignment}.ipynb")])
        jobs[("check-release", assignment)] = (_run, [W2S, "check", str(release_path(assignment))])
    ps1 = "ps1-measuring-weak-to-strong"
    wrong = base / "check-wrong" / ps1
    wrong.mkdir(parents=True)
    nbformat.write(submission(ps1, BATCHES[ps1][1]["answers"]), wrong / f"{ps1}.ipynb")
    jobs[("check-wrong", ps1)] = (_run, [W2S, "check", str(wrong / f"{ps1}.ipynb")])

    jobs.update(_check_edge_cases(base / "check-cases"))

    # the slowest jobs first, so the two workers finish together
    order = sorted(jobs, key=lambda k: (k[0] != "grade", "ps1" in k[1], k[0] == "case"))
    with ThreadPoolExecutor(WORKERS) as pool:
        futures = {k: pool.submit(jobs[k][0], *jobs[k][1:]) for k in order}
        results = {k: f.result() for k, f in futures.items()}
    scores = {}
    for assignment in ASSIGNMENTS:
        rc, out, err = results[("grade", assignment)]
        assert rc == 0, f"nbgrader autograde {assignment} failed:\n{out[-3000:]}\n{err[-3000:]}"
        scores[assignment] = _scores(base / assignment, assignment)
    return {"base": base, "scores": scores, "runs": results}


def _autograded(scores: dict, assignment: str) -> dict[str, tuple[float, float]]:
    """The test cells' grades (nbgrader also auto-scores an unchanged written answer: 0)."""
    tests = set(graded_test_ids(assignment))
    missing = tests - set(scores)
    assert not missing, f"{assignment}: test cells without a grade: {sorted(missing)}"
    return {gid: (s, m) for gid, (s, m, auto) in scores.items() if gid in tests and auto}


@pytest.mark.slow
@pytest.mark.parametrize("assignment", ASSIGNMENTS)
def test_a_solved_notebook_gets_full_autograded_marks(graded, assignment):
    scores = _autograded(graded["scores"][assignment]["solved"], assignment)
    assert set(scores) == set(graded_test_ids(assignment)), "every test cell is autograded"
    lost = {gid: s for gid, (s, m) in scores.items() if s != m}
    assert not lost, f"{assignment}: the solution loses points on {lost}"
    assert sum(m for _, m in scores.values()) > 0


@pytest.mark.slow
@pytest.mark.parametrize("assignment", ASSIGNMENTS)
def test_the_untouched_release_gets_zero(graded, assignment):
    scores = _autograded(graded["scores"][assignment]["untouched"], assignment)
    assert set(scores) == set(graded_test_ids(assignment))
    earned = {gid: s for gid, (s, m) in scores.items() if s != 0}
    assert not earned, f"{assignment}: an untouched notebook earns points on {earned}"


@pytest.mark.slow
@pytest.mark.parametrize("assignment,batch", [(a, i) for a in ASSIGNMENTS
                                              for i in range(len(BATCHES.get(a, [])))])
def test_wrong_answers_lose_exactly_their_questions_points(graded, assignment, batch):
    spec = BATCHES[assignment][batch]
    scores = _autograded(graded["scores"][assignment][f"wrong-{batch + 1}"], assignment)
    kept = {gid for gid, (s, m) in scores.items() if s == m and m > 0}
    lost = {gid for gid, (s, m) in scores.items() if s == 0}
    should_fail = set(spec["fails"])
    partial = spec.get("partial", {})
    should_pass = set(scores) - should_fail - set(partial) - set(spec.get("ignore", []))
    assert should_fail <= lost, f"wrong answers still earn points on {sorted(should_fail - lost)}"
    assert should_pass <= kept, f"correct answers lose points on {sorted(should_pass - kept)}"
    wrong_share = {gid: scores[gid][0] for gid, points in partial.items()
                   if abs(scores[gid][0] - points) > 1e-6}
    assert not wrong_share, f"per-letter credit differs from {partial}: got {wrong_share}"


def test_every_autograded_question_has_a_wrong_answer_that_loses_its_points():
    for assignment in ASSIGNMENTS:
        covered = {gid for batch in BATCHES.get(assignment, [])
                   for gid in [*batch["fails"], *batch.get("partial", {})]}
        missing = set(graded_test_ids(assignment)) - covered
        assert not missing, f"{assignment}: no wrong answer is tried on {sorted(missing)}"
        for batch in BATCHES[assignment]:
            answer_ids = {nbg(c)["grade_id"] for c in read(solution_path(assignment)).cells
                          if nbg(c).get("solution")}
            assert set(batch["answers"]) <= answer_ids, "wrong answers replace real answer cells"


@pytest.mark.slow
def test_feedback_shows_scores_but_not_the_hidden_tests(graded):
    assignment = ASSIGNMENTS[0]
    root = graded["base"] / assignment
    rc, out, err = _run([str(BIN / "nbgrader"), "generate_feedback", assignment, "--force"],
                        cwd=root, timeout=300)
    assert rc == 0, err[-2000:]
    hidden_lines = set()
    for cell in read(solution_path(assignment)).cells:
        if is_test(cell) and "### BEGIN HIDDEN TESTS" in cell.source:
            region = cell.source.split("### BEGIN HIDDEN TESTS", 1)[1].split("### END HIDDEN TESTS")[0]
            hidden_lines |= {line.strip() for line in region.splitlines() if len(line.strip()) > 25}
    assert hidden_lines
    for student in ("solved", "untouched", "wrong-1"):
        html = (root / "feedback" / student / assignment / f"{assignment}.html").read_text()
        assert "HIDDEN TESTS" not in html
        text = html_module.unescape(re.sub(r"<[^>]+>", "", html))
        leaked = [line for line in hidden_lines if line in text]
        assert not leaked, f"feedback for {student} shows hidden test source: {leaked[:2]}"
    wrong_text = (root / "feedback" / "wrong-1" / assignment / f"{assignment}.html").read_text()
    assert "AssertionError" in wrong_text, "a failing test's message is shown"


# ---------------------------------------------------------------- w2s check


@pytest.mark.slow
@pytest.mark.parametrize("assignment", ASSIGNMENTS)
def test_check_passes_a_solved_notebook(graded, assignment):
    rc, out, err = graded["runs"][("check-solved", assignment)]
    assert rc == 0, out + err
    for gid in graded_test_ids(assignment):
        assert re.search(rf"passed\s+{re.escape(gid)}\b", out), f"{gid} not reported as passed"
    assert err == ""


@pytest.mark.slow
@pytest.mark.parametrize("assignment", ASSIGNMENTS)
def test_check_fails_the_release_and_names_every_question(graded, assignment):
    rc, out, err = graded["runs"][("check-release", assignment)]
    assert rc == 1, out + err
    for gid in graded_test_ids(assignment):
        assert re.search(rf"not attempted\s+{re.escape(gid)}\b", out), f"{gid}:\n{out}"
    assert "0 of" in out


@pytest.mark.slow
def test_check_names_the_failing_questions_with_their_messages(graded):
    rc, out, err = graded["runs"][("check-wrong", "ps1-measuring-weak-to-strong")]
    assert rc == 1
    # percentages fail the visible test of question 1; the rest pass their visible tests
    assert re.search(r"FAILED\s+metrics-test\s.*fractions in \[0, 1\]", out), out
    assert re.search(r"passed\s+metric-order-test", out), out
    # no checks in pgr: the visible error case says so; the swapped table formula only
    # shows up in the hidden tests
    assert re.search(r"FAILED\s+pgr-errors-test\s.*should raise ValueError", out), out
    assert re.search(r"passed\s+table-test", out), out


def _tiny_notebook(path: Path, test_source: str, answer_source: str = "x = 1") -> Path:
    nb = nbformat.v4.new_notebook()
    nb.metadata = {"kernelspec": {"name": "python3", "display_name": "Python 3 (ipykernel)",
                                  "language": "python"}}
    answer = nbformat.v4.new_code_cell(answer_source)
    answer.metadata["nbgrader"] = {"grade": False, "grade_id": "answer", "locked": False,
                                   "schema_version": 3, "solution": True, "task": False}
    test = nbformat.v4.new_code_cell(test_source)
    test.metadata["nbgrader"] = {"grade": True, "grade_id": "the-test", "locked": True,
                                 "points": 1, "schema_version": 3, "solution": False,
                                 "task": False}
    nb.cells = [answer, test]
    nbformat.write(nb, path)
    return path


def _check_edge_cases(folder: Path) -> dict:
    """`w2s check` jobs on notebooks that loop forever, kill their kernel, and so on."""
    folder.mkdir(parents=True)
    cases = {
        "loop": (_tiny_notebook(folder / "loop.ipynb", '"""never ends"""\nwhile True:\n    pass'),
                 ["--timeout", "3"]),
        "dies": (_tiny_notebook(folder / "dies.ipynb", '"""dies"""\nassert x == 1',
                                answer_source="import os\nos._exit(1)"), []),
        "stub": (_tiny_notebook(folder / "stub.ipynb", '"""uses x"""\nassert x == 1',
                                answer_source="# YOUR CODE HERE\nraise NotImplementedError()"), []),
        "ok": (_tiny_notebook(folder / "ok.ipynb", '"""checks x"""\nassert x == 1, "x is 1"'), []),
    }
    # a ps1 submission whose visible test was weakened and another test deleted
    ps1 = "ps1-measuring-weak-to-strong"
    nb = submission(ps1, {"interpretation-answer": "interpretation_85 = 'Z'"})
    for cell in nb.cells:
        if nbg(cell).get("grade_id") == "interpretation-test":
            cell.source = '"""weakened"""\npass'
    nb.cells = [c for c in nb.cells if nbg(c).get("grade_id") != "misconception-test"]
    (folder / "edited").mkdir()
    nbformat.write(nb, folder / "edited" / f"{ps1}.ipynb")
    cases["edited"] = (folder / "edited" / f"{ps1}.ipynb", [])
    return {("case", name): (_run, [W2S, "check", *extra, str(path)])
            for name, (path, extra) in cases.items()}


@pytest.mark.slow
def test_check_stops_an_endless_loop_and_reports_it(graded):
    rc, out, err = graded["runs"][("case", "loop")]
    assert rc == 1 and "longer than 3 s" in out and "the-test" in out, out + err


@pytest.mark.slow
def test_check_survives_a_dying_kernel(graded):
    rc, out, err = graded["runs"][("case", "dies")]
    assert rc == 1 and "kernel died" in out and re.search(r"not run\s+the-test", out), out + err


@pytest.mark.slow
def test_check_reports_stubs_as_not_attempted_and_passes_a_correct_answer(graded):
    rc, out, err = graded["runs"][("case", "stub")]
    assert rc == 1 and re.search(r"not attempted\s+the-test", out), out + err
    rc, out, err = graded["runs"][("case", "ok")]
    assert rc == 0 and re.search(r"passed\s+the-test", out), out + err


@pytest.mark.slow
def test_check_uses_the_released_tests_when_a_test_was_edited_or_deleted(graded):
    rc, out, err = graded["runs"][("case", "edited")]
    assert rc == 1
    assert re.search(r"FAILED\s+interpretation-test", out), out
    assert "interpretation-test was edited" in out
    assert re.search(r"FAILED\s+misconception-test.*missing", out), out


def test_check_explains_a_missing_notebook_on_the_command_line(tmp_path):
    rc, out, err = _run([W2S, "check", str(tmp_path / "nope.ipynb")])
    assert rc == 2 and "no such notebook" in err and "Traceback" not in err


def test_check_explains_folders_corrupt_and_foreign_notebooks(tmp_path, capsys):
    import argparse

    from autograder import check

    def run(path):
        return check.run(argparse.Namespace(notebook=path, timeout=60, total_timeout=900))

    assert run(tmp_path) == 2 and "folder" in capsys.readouterr().err
    corrupt = tmp_path / "corrupt.ipynb"
    corrupt.write_text('{"cells": [ this is not json')
    assert run(corrupt) == 2 and "not a readable notebook" in capsys.readouterr().err
    plain = tmp_path / "plain.ipynb"
    nbformat.write(nbformat.v4.new_notebook(cells=[nbformat.v4.new_code_cell("1 + 1")]), plain)
    assert run(plain) == 2 and "no autograded tests" in capsys.readouterr().err
    text = tmp_path / "notes.txt"
    text.write_text("hello")
    assert run(text) == 2 and "not a notebook" in capsys.readouterr().err
    no_metadata = json.loads(plain.read_text())
    del no_metadata["cells"][0]["metadata"]
    (tmp_path / "no-metadata.ipynb").write_text(json.dumps(no_metadata))
    assert run(tmp_path / "no-metadata.ipynb") == 2
    assert "not a readable notebook" in capsys.readouterr().err


def test_check_reads_a_notebook_whose_nbgrader_metadata_was_mangled(tmp_path):
    from autograder import check

    nb = json.loads(release_path(ASSIGNMENTS[0]).read_text())
    graded = [c for c in nb["cells"] if c["metadata"].get("nbgrader", {}).get("grade")]
    graded[0]["metadata"]["nbgrader"] = "not a mapping"
    path = tmp_path / "mangled.ipynb"
    path.write_text(json.dumps(nb))
    questions = check.collect_questions(check.read_notebook(path))
    assert len(questions) == len(graded) - 1


# ---------------------------------------------------------------- lint


def test_there_are_at_least_four_assignments_with_release_copies():
    assert len(ASSIGNMENTS) >= 4
    for assignment in ASSIGNMENTS:
        assert release_path(assignment).is_file(), f"run `.venv/bin/w2s release` ({assignment})"


@pytest.mark.parametrize("assignment", ASSIGNMENTS)
def test_grade_ids_are_unique_and_markers_balanced(assignment):
    for path in (solution_path(assignment), release_path(assignment)):
        nb = read(path)
        ids = [nbg(c)["grade_id"] for c in nb.cells if nbg(c)]
        assert len(ids) == len(set(ids)), f"{path.name}: duplicate grade ids"
        for cell in nb.cells:
            for begin, end in (("### BEGIN SOLUTION", "### END SOLUTION"),
                               ("### BEGIN HIDDEN TESTS", "### END HIDDEN TESTS")):
                markers = [line.strip() for line in cell.source.splitlines()
                           if line.strip() in (begin, end)]
                assert markers == [begin, end] * (len(markers) // 2) and len(markers) % 2 == 0, \
                    f"{path.name} {nbg(cell).get('grade_id')}: unbalanced {begin!r}"
            if "### BEGIN SOLUTION" in cell.source:
                assert nbg(cell).get("solution"), "solution markers only in answer cells"
            if "### BEGIN HIDDEN TESTS" in cell.source:
                assert is_test(cell), "hidden tests only in test cells"


@pytest.mark.parametrize("assignment", ASSIGNMENTS)
def test_every_test_cell_has_points_a_docstring_hidden_tests_and_no_trailing_value(assignment):
    for cell in read(solution_path(assignment)).cells:
        if not is_test(cell):
            continue
        gid = nbg(cell)["grade_id"]
        assert nbg(cell).get("points", 0) > 0, f"{gid} has no points"
        assert nbg(cell).get("locked"), f"{gid} is not locked"
        for source in (cell.source, visible_source(cell.source)):
            body = ast.parse(source).body
            assert isinstance(body[0], ast.Expr) and isinstance(body[0].value, ast.Constant) \
                and isinstance(body[0].value.value, str), f"{gid} does not start with a docstring"
            last = body[-1]
            printed = isinstance(last, ast.Expr) and isinstance(last.value, ast.Call) \
                and getattr(last.value.func, "id", "") == "print"
            # per-letter partial credit: the hidden tests end with the points earned, by name
            partial = source == cell.source and isinstance(last, ast.Expr) \
                and isinstance(last.value, ast.Name) and last.value.id == PARTIAL_CREDIT
            assert len(body) > 1 and (printed or partial or not isinstance(last, ast.Expr)), \
                f"{gid} ends with a value (nbgrader would score it)"
        if PARTIAL_CREDIT in cell.source:
            assert "max(0, right - (len(letters) - right))" in cell.source \
                and "right − wrong" in _question_text(assignment, gid), \
                f"{gid}: partial credit is per letter and documented in its question"
        assert "### BEGIN HIDDEN TESTS" in cell.source, f"{gid} has no hidden tests on fresh inputs"
        assert "warnings.warn" not in cell.source and "sys.stderr" not in cell.source


@pytest.mark.parametrize("assignment", ASSIGNMENTS)
def test_notebooks_are_committed_clean_and_normalised(assignment):
    for path in (solution_path(assignment), release_path(assignment)):
        text = path.read_text()
        nb = json.loads(text)
        for cell in nb["cells"]:
            if cell["cell_type"] == "code":
                assert cell["outputs"] == [] and cell["execution_count"] is None, path.name
        assert nb["metadata"]["kernelspec"]["name"] == "python3"
        assert normalise_notebook(text) == text, f"{path} is not normalised"


@pytest.mark.parametrize("assignment", ASSIGNMENTS)
def test_each_assignment_says_what_it_covers_how_long_it_takes_and_links_its_lessons(assignment):
    intro = read(solution_path(assignment)).cells[0].source
    assert re.search(r"\*\*Time:\*\*.*runs top to bottom in about \d+ seconds", intro)
    assert "**Covers:**" in intro and "**Points:**" in intro
    links = re.findall(r"\(\.\./\.\./lessons/([^)]+)\.ipynb\)", intro)
    assert links and set(links) <= set(LESSONS), links
    assert f"w2s check exercises/{assignment}/{assignment}.ipynb" in intro
    points = sum(nbg(c).get("points", 0) for c in read(solution_path(assignment)).cells)
    assert re.search(rf"\*\*Points:\*\* {points:g}\b", intro), f"intro does not say {points:g} points"


@pytest.mark.parametrize("assignment", ASSIGNMENTS)
def test_release_does_not_reveal_answers(assignment):
    release = release_path(assignment).read_text()
    assert "BEGIN SOLUTION" not in release and "BEGIN HIDDEN TESTS" not in release
    for cell in read(solution_path(assignment)).cells:
        if nbg(cell).get("solution") and cell.cell_type == "code":
            answer = cell.source.split("### BEGIN SOLUTION", 1)[1].split("### END SOLUTION")[0]
            for line in answer.splitlines():
                if re.match(r"\s*\w+ = ['\"{\[]", line):  # multiple-choice style answers
                    assert json.dumps(line.strip())[1:-1] not in release, line


def test_nbgrader_config_names_the_course_layout():
    from traitlets.config.loader import PyFileConfigLoader

    config = PyFileConfigLoader("nbgrader_config.py", path=str(ROOT)).load_config()
    assert config.CourseDirectory.source_directory == "solutions"
    assert config.CourseDirectory.release_directory == "exercises"
    assert Path(config.CourseDirectory.root) == ROOT
    assert "NotImplementedError" in config.ClearSolutions.code_stub["python"]
    assert config.Execute.timeout > 0
    assert any("HideHiddenTests" in p for p in config.GenerateFeedback.preprocessors)
    ignored = subprocess.run(["git", "check-ignore", "gradebook.db", "submitted/x", "autograded/x",
                              "feedback/x", "nbgrader_exchange/x", "work/x"],
                             cwd=ROOT, capture_output=True, text=True).stdout.split()
    assert len(ignored) == 6, ignored


def test_reading_nbgrader_config_creates_nothing(tmp_path):
    from traitlets.config.loader import PyFileConfigLoader

    shutil.copy(ROOT / "nbgrader_config.py", tmp_path)
    config = PyFileConfigLoader("nbgrader_config.py", path=str(tmp_path)).load_config()
    assert Path(config.Exchange.root) == tmp_path / "nbgrader_exchange"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["nbgrader_config.py"]


@pytest.mark.slow
def test_release_check_is_clean_and_release_is_byte_stable(tmp_path):
    rc, out, err = _run([W2S, "release", "--check"], cwd=tmp_path, timeout=300)
    assert rc == 0, out + err
    assert "up to date" in out


def test_release_check_names_drifted_files(tmp_path, monkeypatch):
    import argparse

    from autograder import release

    fake = tmp_path / "exercises"
    for assignment in ASSIGNMENTS:
        (fake / assignment).mkdir(parents=True)
        (fake / assignment / f"{assignment}.ipynb").write_bytes(release_path(assignment).read_bytes())
    first = ASSIGNMENTS[0]
    target = fake / first / f"{first}.ipynb"
    target.write_text(target.read_text().replace("Problem set", "Problem  set", 1))
    (fake / "ps0-removed").mkdir()
    (fake / "ps0-removed" / "old.ipynb").write_text("{}")
    generated = {f"{a}/{a}.ipynb": release_path(a).read_bytes() for a in ASSIGNMENTS}
    monkeypatch.setattr(release, "generate", lambda names, source=None: generated)
    monkeypatch.setattr(release, "RELEASE_DIR", "exercises")
    monkeypatch.setattr(release, "REPO", tmp_path)
    monkeypatch.setattr(release, "assignment_names", lambda source=None: list(ASSIGNMENTS))
    args = argparse.Namespace(assignments=[], check=True)
    assert release.run(args) == 1
    args = argparse.Namespace(assignments=[], check=False)
    assert release.run(args) == 0
    assert target.read_bytes() == release_path(first).read_bytes()
    assert not (fake / "ps0-removed").exists()
    assert release.run(argparse.Namespace(assignments=[], check=True)) == 0


def test_readme_exercise_table_states_each_assignments_points():
    readme = (ROOT / "README.md").read_text()
    for assignment in ASSIGNMENTS:
        row = re.search(rf"^\| `{re.escape(assignment)}` \|.*\| (\d+)[^|]*\| ~\d+ s \|$", readme, re.M)
        assert row, f"README's exercise table has no row for {assignment} with its points and time"
        points = sum(nbg(c).get("points", 0) for c in read(solution_path(assignment)).cells)
        assert int(row.group(1)) == points, f"README says {row.group(1)} points for {assignment}, it has {points:g}"
