"""The lessons: each runs top to bottom on a fresh kernel without an error or a word on
stderr, and each is stored clean (no outputs, normalised metadata), links to the next one and
appears in the README's lesson map.

Lessons are found by glob, so a new notebook in lessons/ is tested the moment it lands.
"""

import ast
import json
import re
import sys
import tomllib
from importlib.metadata import packages_distributions

import nbformat
import pytest

from conftest import ROOT, NotebookRuns
from autograder import notebooks
from w2s import sweep_cache

LESSONS = notebooks.lesson_paths()
IDS = [p.stem for p in LESSONS]
LINK = re.compile(r"\]\(([^)\s]+)\)")


def _read(path):
    return nbformat.read(path, as_version=4)


def _markdown(nb):
    return [c.source for c in nb.cells if c.cell_type == "markdown"]


def _python(source):
    """A code cell's source without IPython magics and shell escapes, ready for ast.parse."""
    return "\n".join(line for line in source.splitlines()
                     if not line.lstrip().startswith(("%", "!")))


def test_there_are_lessons():
    assert len(LESSONS) >= 4, f"expected the course's lessons in {notebooks.LESSONS_DIR}"


@pytest.mark.slow
@pytest.mark.parametrize("path", LESSONS, ids=IDS)
def test_lesson_runs_cleanly_on_a_fresh_kernel(path, notebook_runs):
    """Executed once per run on a fresh kernel (conftest's notebook_runs); other tests that
    inspect the executed lesson read the same run."""
    run = notebook_runs.get(path)
    print(f"{path.name}: {run.seconds:.1f} s on a fresh kernel")
    if run.failure:
        pytest.fail(f"{path.name} stopped ({run.failure})")
    problems = notebooks.output_problems(run.nb)
    assert not problems, f"{path.name} wrote errors or to stderr:\n" + "\n".join(problems)


@pytest.mark.slow
def test_a_notebook_asked_for_twice_at_once_is_executed_once(tmp_path):
    """What makes "each lesson once per run" hold under xdist: two asks at the same time
    (threads here, workers in `make test`) share one kernel's run; a failure is shared too."""
    from concurrent.futures import ThreadPoolExecutor

    tiny = tmp_path / "tiny.ipynb"
    nbformat.write(nbformat.v4.new_notebook(cells=[nbformat.v4.new_code_cell(
        "import os\nprint(os.getpid())")]), tiny)
    broken = tmp_path / "broken.ipynb"
    nbformat.write(nbformat.v4.new_notebook(cells=[nbformat.v4.new_code_cell("1 / 0")]), broken)
    runs = NotebookRuns(tmp_path / "runs")
    with ThreadPoolExecutor(2) as pool:
        first, second = pool.map(runs.get, [tiny, tiny])
    assert first.failure is None and second.failure is None
    kernels = {run.nb.cells[0].outputs[0].text for run in (first, second)}
    assert len(kernels) == 1, f"two kernels ran {tiny.name}: {kernels}"
    failed = [runs.get(broken), runs.get(broken)]
    assert all("ZeroDivisionError" in run.failure for run in failed)


@pytest.mark.parametrize("path", LESSONS, ids=IDS)
def test_lesson_is_stored_without_outputs_and_with_normalised_metadata(path):
    nb = _read(path)
    nbformat.validate(nb)
    problems = notebooks.hygiene_problems(nb)
    assert not problems, (f"{path.name} is not stored clean: {'; '.join(problems)}. "
                          "Run `.venv/bin/python -m autograder.notebooks strip lessons/*.ipynb`.")


def test_hygiene_check_catches_outputs_counts_and_editor_metadata():
    nb = _read(LESSONS[0])
    code_cell = next(c for c in nb.cells if c.cell_type == "code")
    code_cell.outputs = [nbformat.v4.new_output("stream", name="stdout", text="hi\n")]
    code_cell.execution_count = 3
    code_cell.metadata["collapsed"] = True
    nb.metadata["language_info"]["version"] = "3.12.1"
    problems = " ".join(notebooks.hygiene_problems(nb))
    for expected in ("outputs", "execution count", "collapsed", "notebook metadata"):
        assert expected in problems
    assert not notebooks.hygiene_problems(notebooks.strip(nb))


def test_output_check_catches_errors_stderr_and_widget_errors():
    nb = nbformat.v4.new_notebook()
    nb.cells = [nbformat.v4.new_code_cell("x")]
    nb.cells[0].outputs = [nbformat.v4.new_output("stream", name="stdout", text="fine\n")]
    assert notebooks.output_problems(nb) == []
    nb.cells[0].outputs.append(nbformat.v4.new_output("stream", name="stderr", text="Warning\n"))
    nb.cells[0].outputs.append(nbformat.v4.new_output("error", ename="ValueError", evalue="bad",
                                                      traceback=[]))
    nb.metadata["widgets"] = {"application/vnd.jupyter.widget-state+json": {"state": {
        "abc123": {"state": {"outputs": [{"output_type": "error", "ename": "KeyError",
                                          "evalue": "0.3", "traceback": []}]}}}}}
    problems = " ".join(notebooks.output_problems(nb))
    assert "stderr" in problems and "ValueError" in problems and "KeyError" in problems


@pytest.mark.parametrize("path", LESSONS, ids=IDS)
def test_relative_links_resolve(path):
    broken = [target for text in _markdown(_read(path)) for target in LINK.findall(text)
              if not re.match(r"[a-z]+:", target) and not target.startswith("#")
              and not (path.parent / target.split("#")[0]).exists()]
    assert not broken, f"{path.name} links to missing files: {broken}"


@pytest.mark.parametrize("index", range(len(LESSONS) - 1), ids=IDS[:-1])
def test_each_lesson_ends_by_linking_to_the_next(index):
    last = _markdown(_read(LESSONS[index]))[-1]
    assert f"]({LESSONS[index + 1].name})" in last, (
        f"{LESSONS[index].name}'s last markdown cell should link to {LESSONS[index + 1].name}")


def test_readme_lesson_map_lists_every_lesson():
    readme = (ROOT / "README.md").read_text()
    section = readme.split("<!-- BEGIN lessons -->")[1].split("<!-- END lessons -->")[0]
    missing = [p.name for p in LESSONS if f"lessons/{p.name}" not in section]
    assert not missing, f"README lesson map misses {missing}"


def _declared_distributions():
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    names = {re.split(r"[\s<>=!~\[;]", spec, maxsplit=1)[0] for spec in project["dependencies"]}
    return {n.lower().replace("_", "-") for n in names} | {"w2s"}


# IPython is the kernel the lessons run in; ipykernel (declared) is what installs it.
PROVIDED_BY_THE_KERNEL = {"IPython"}


@pytest.mark.parametrize("path", LESSONS, ids=IDS)
def test_lessons_import_only_declared_dependencies(path):
    declared = _declared_distributions()
    owners = packages_distributions()
    undeclared = set()
    for cell in _read(path).cells:
        if cell.cell_type != "code":
            continue
        for node in ast.walk(ast.parse(_python(cell.source))):
            if isinstance(node, ast.Import):
                modules = [alias.name for alias in node.names]
            elif isinstance(node, ast.ImportFrom) and node.level == 0:
                modules = [node.module]
            else:
                continue
            for module in modules:
                top = module.split(".")[0]
                if top in sys.stdlib_module_names or top in PROVIDED_BY_THE_KERNEL or top == "w2s":
                    continue
                dists = {d.lower().replace("_", "-") for d in owners.get(top, [top])}
                if not dists & declared:
                    undeclared.add(top)
    assert not undeclared, f"{path.name} imports undeclared packages: {sorted(undeclared)}"


@pytest.mark.parametrize("path", LESSONS, ids=IDS)
def test_lesson_follows_the_template(path):
    """STYLE.md: objectives -> one setup cell -> concepts with "Try it" -> check your
    understanding (answers folded away) -> summary -> further reading -> next lesson."""
    nb = _read(path)
    text = "\n".join(_markdown(nb))
    assert re.search(r"after this lesson|learning objectives", text, re.I), "no learning objectives"
    for heading in ("Check your understanding", "Summary", "Further reading"):
        assert re.search(rf"^#+\s.*{heading}", text, re.M | re.I), f"no '{heading}' heading"
    assert re.search(r"try it", text, re.I), "no 'Try it' exercise"
    assert "<details>" in text and "<summary>" in text, "answers are not folded away in <details>"
    code = [c.source for c in nb.cells if c.cell_type == "code"]
    importing = [i for i, src in enumerate(code)
                 if any(isinstance(node, (ast.Import, ast.ImportFrom))
                        for node in ast.parse(_python(src)).body)]
    assert importing[:1] == [0] and len(importing) == 1, (
        f"imports belong in the one setup cell (the first code cell); code cells {importing} import")


LESSON_DATA = ROOT / "lessons" / "data"


def _config(stored: dict):
    """The Config a cache recorded (``Config.as_dict`` plus bookkeeping fields)."""
    from w2s.experiment import Config

    return Config(**{k: v for k, v in stored.items() if k in Config.__dataclass_fields__})


def _assert_cached_seed_matches(stored, index, live, what, cache_name, command):
    """``stored``'s per-seed accuracies at ``index`` equal ``live``'s (a Result)."""
    for metric in ("p_weak", "p_ceiling", "p_weak_to_strong"):
        assert stored[metric]["per_seed"][index] == pytest.approx(getattr(live, metric)), (
            f"lessons/data/{cache_name} is stale ({what}, {metric}); regenerate it with "
            f"`{command}`")


def test_cached_sweep_matches_what_the_library_computes(monkeypatch):
    """Lesson 04 draws lessons/data/sweep.json; rerun two of its cells for seed 0 and compare
    exactly (training is seeded and deterministic). Fails when the library has changed
    since the cache was written: regenerate it with the command in the message."""
    from dataclasses import replace

    from w2s.experiment import run_experiment

    monkeypatch.delenv("W2S_FAST", raising=False)
    sweep = sweep_cache.load_cached_sweep()
    assert sweep["config"]["fast"] is False and 0 in sweep["seeds"]
    base = _config(sweep["config"])
    rows = {(r["weak"], r["strong"], r["loss"]): r for r in sweep["rows"]}
    seed_index = sweep["seeds"].index(0)
    for weak, strong, loss in [(sweep["weak_order"][0], sweep["strong_order"][-1], "conf"),
                               (sweep["weak_order"][-1], sweep["strong_order"][0], "xent")]:
        live = run_experiment(replace(base, weak=weak, strong=strong, loss=loss), seed=0)
        _assert_cached_seed_matches(rows[(weak, strong, loss)], seed_index, live,
                                    f"{weak} -> {strong}, {loss}", "sweep.json",
                                    sweep_cache.SWEEP_COMMAND)




def test_lesson02_cache_matches_what_the_library_computes(monkeypatch):
    """Lesson 02 reads lessons/data/lesson02.json; rerun its two probe rows of the ablation
    (pretrained and random init) for seed 0 and compare exactly. The fine-tunes and training
    curves, which would add tens of seconds, come from the same script and code."""
    from w2s.experiment import run_experiment

    monkeypatch.delenv("W2S_FAST", raising=False)
    cached = json.loads((LESSON_DATA / "lesson02.json").read_text())
    seed_index = cached["seeds"].index(0)
    cache = {}
    for row in cached["ablation"]:
        if row["mode"] != "probe":
            continue
        assert row["config"]["fast"] is False, "lesson02.json was written with W2S_FAST set"
        config = _config(row["config"])
        live = run_experiment(config, seed=0, cache=cache)
        _assert_cached_seed_matches(row, seed_index, live, f"{row['pretrain']} {row['mode']}",
                                    "lesson02.json", cached["command"])


def test_lesson03_cache_matches_what_the_library_computes(monkeypatch):
    """Lesson 03 reads lessons/data/lesson03.json and re-checks the default supervisor's
    rows live; rerun two confidence-loss entries it does not check, for seed 0 (the weakest
    supervisor of the gap sweep, the largest alpha_max of the alpha series), and compare
    exactly: its conf entries are the ones that once went stale unnoticed."""
    from dataclasses import replace

    from w2s.experiment import run_experiment

    monkeypatch.delenv("W2S_FAST", raising=False)
    cached = json.loads((LESSON_DATA / "lesson03.json").read_text())
    gap = cached["gap"]
    assert gap["config"]["fast"] is False, "lesson03.json was written with W2S_FAST set"
    base = _config(gap["config"])
    cache = {}
    weak = gap["weak_order"][0]
    row = next(r for r in gap["rows"] if (r["weak"], r["loss"]) == (weak, "conf"))
    live = run_experiment(replace(base, weak=weak, strong=row["strong"], loss="conf"), seed=0,
                          cache=cache)
    _assert_cached_seed_matches(row, gap["seeds"].index(0), live, f"gap: {weak}, conf",
                                "lesson03.json", cached["command"])
    alpha = max(cached["alpha"], key=lambda r: r["alpha_max"])
    live = run_experiment(replace(base, loss="conf", alpha_max=alpha["alpha_max"]), seed=0,
                          cache=cache)
    _assert_cached_seed_matches(alpha, cached["alpha_seeds"].index(0), live,
                                f"alpha_max {alpha['alpha_max']}", "lesson03.json",
                                cached["command"])


CACHED_LESSONS = [p for p in LESSONS if p.name.startswith(("02-", "03-", "04-"))]


@pytest.mark.slow
@pytest.mark.parametrize("path", CACHED_LESSONS, ids=[p.stem for p in CACHED_LESSONS])
def test_executed_lesson_finds_its_cache_current(path, notebook_runs):
    """Lessons 02-04 re-run cached entries live and print whether the cache matches; their
    verdict counts. Reads the run that test_lesson_runs_cleanly_on_a_fresh_kernel made."""
    run = notebook_runs.get(path)
    if run.failure:
        pytest.fail(f"{path.name} stopped ({run.failure})")
    printed = "".join(output.get("text", "") for cell in run.nb.cells if cell.cell_type == "code"
                      for output in cell.outputs if output.output_type == "stream")
    stale = [line for line in printed.splitlines()
             if re.search(r"\bdiffers?\b", line) or "regenerate it with" in line]
    assert not stale, f"{path.name} found its cache stale:\n" + "\n".join(stale)
    assert re.search(r"\bmatch(es)?\b", printed), (
        f"{path.name} printed no verdict on its cache (expected 'matches')")


def test_missing_or_broken_sweep_cache_says_how_to_regenerate(tmp_path):
    with pytest.raises(FileNotFoundError, match="w2s sweep --seeds 5"):
        sweep_cache.load_cached_sweep(tmp_path / "nope.json")
    broken = tmp_path / "broken.json"
    broken.write_text("{not json")
    with pytest.raises(ValueError, match="w2s sweep --seeds 5"):
        sweep_cache.load_cached_sweep(broken)
