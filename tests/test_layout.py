"""The repository's layout: ``w2s/`` is the science library, ``autograder/`` the course tooling,
imports run one way (``autograder`` may import ``w2s``, never the reverse), the ``w2s`` command
loads a subcommand's module only when it is chosen, and no module imports itself in a circle.
"""

import ast
import subprocess
import sys

import pytest

from conftest import BIN, ROOT

# What the science library must never load: notebook execution and grading.
GRADING_STACK = ("nbformat", "nbclient", "nbconvert", "jupyter_client", "nbgrader", "autograder")
PACKAGES = ("w2s", "autograder")


def _loaded(modules: list[str]) -> list[str]:
    """The grading-stack modules a fresh interpreter holds after importing ``modules``."""
    code = ("import importlib, sys\n"
            f"for name in {modules!r}:\n"
            "    importlib.import_module(name)\n"
            f"print('\\n'.join(sorted(m for m in sys.modules if m.split('.')[0] in {GRADING_STACK!r})))\n")
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                          cwd=ROOT, timeout=120)
    assert proc.returncode == 0, proc.stderr[-2000:]
    return proc.stdout.split()


def _modules(package: str) -> list[str]:
    """Every module of ``package`` by dotted name, found on disk (nothing is imported)."""
    names = []
    for path in sorted((ROOT / package).rglob("*.py")):
        parts = path.relative_to(ROOT).with_suffix("").parts
        names.append(".".join(parts[:-1] if parts[-1] == "__init__" else parts))
    return names


def test_every_w2s_module_imports_without_the_grading_stack():
    modules = _modules("w2s")
    assert "w2s.experiment" in modules and "w2s.cli" in modules
    loaded = _loaded(modules)
    assert not loaded, f"importing the w2s library loaded {loaded}"


def test_the_grading_stack_check_sees_the_course_tooling():
    # the check above can fail: importing one tooling module is seen
    assert "autograder.check" in _loaded(["autograder.check"])


def _imported_at_startup(*argv: str) -> set[str]:
    """Modules the ``w2s`` script imports for ``argv``: those ``-X importtime`` reports (import
    statements) and, since ``importlib.import_module`` bypasses that report, ``sys.modules`` at
    exit."""
    script = str(BIN / "w2s")
    code = ("import atexit, runpy, sys\n"
            "atexit.register(lambda: print('loaded:', *sys.modules, file=sys.stderr))\n"
            f"sys.argv = [{script!r}, *{list(argv)!r}]\n"
            f"runpy.run_path({script!r}, run_name='__main__')\n")
    proc = subprocess.run([sys.executable, "-X", "importtime", "-c", code],
                          capture_output=True, text=True, cwd=ROOT, timeout=120)
    assert proc.returncode == 0, proc.stderr[-2000:]
    lines = proc.stderr.splitlines()
    timed = {line.split("|")[-1].strip() for line in lines if line.startswith("import time:")}
    at_exit = {m for line in lines if line.startswith("loaded:") for m in line.split()[1:]}
    assert "w2s.cli" in timed and "w2s.cli" in at_exit
    return timed | at_exit


@pytest.mark.parametrize("argv", [["--help"], ["run", "--help"], ["sweep", "--help"]])
def test_w2s_help_and_run_start_without_the_grading_stack(argv):
    imported = _imported_at_startup(*argv)
    stack = sorted(m for m in imported if m.split(".")[0] in GRADING_STACK)
    assert not stack, f"`w2s {' '.join(argv)}` imported {stack}"


def test_a_tooling_command_loads_only_its_own_module():
    imported = _imported_at_startup("check", "--help")
    assert "autograder.check" in imported
    assert not {"autograder.grade", "autograder.release", "autograder.worker"} & imported


def test_every_registered_command_resolves(capsys):
    from w2s import cli

    for name, command in cli.COMMANDS.items():
        with pytest.raises(SystemExit) as exit_:
            cli.main([name, "--help"])
        assert exit_.value.code == 0, name
        assert f"usage: w2s {name}" in capsys.readouterr().out


def _import_graph() -> dict[str, set[str]]:
    """``module -> modules it imports`` for w2s and autograder, read from the source (every
    import statement, at module level or inside a function), plus the ``w2s`` command's
    registry of subcommand modules."""
    known = {m for p in PACKAGES for m in _modules(p)}
    graph = {}
    for module in sorted(known):
        is_package = (ROOT / module.replace(".", "/") / "__init__.py").exists()
        path = ROOT / (module.replace(".", "/") + ("/__init__.py" if is_package else ".py"))
        package = module if is_package else module.rpartition(".")[0]
        targets = set()
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.Import):
                targets |= {a.name for a in node.names}
            elif isinstance(node, ast.ImportFrom):
                base = node.module or ""
                if node.level:
                    anchor = package.split(".")[: len(package.split(".")) - node.level + 1]
                    base = ".".join(anchor + ([base] if base else []))
                targets |= {f"{base}.{a.name}" if f"{base}.{a.name}" in known else base
                            for a in node.names}
        graph[module] = set()
        for target in targets:
            # importing a.b.c runs a and a.b first; a module's own packages are already loaded
            parts = target.split(".")
            for i in range(1, len(parts) + 1):
                name = ".".join(parts[:i])
                if name in known and name != module and not module.startswith(name + "."):
                    graph[module].add(name)
    from w2s.cli import COMMANDS

    graph["w2s.cli"] |= {c.module for c in COMMANDS.values() if c.module != "w2s.cli"}
    return graph


def _circles(graph: dict[str, set[str]]) -> list[list[str]]:
    """One path per import circle found by a depth-first walk."""
    found, state = [], {}

    def visit(node, path):
        state[node] = "open"
        for nxt in sorted(graph.get(node, ())):
            if state.get(nxt) == "open":
                found.append(path[path.index(nxt):] + [nxt])
            elif nxt not in state:
                visit(nxt, path + [nxt])
        state[node] = "done"

    for node in sorted(graph):
        if node not in state:
            visit(node, [node])
    return found


def test_no_import_circles():
    graph = _import_graph()
    assert "w2s.data" in graph["w2s.experiment"] and "autograder.feedback" in graph["autograder.check"]
    circles = _circles(graph)
    assert not circles, "import circles: " + "; ".join(" -> ".join(c) for c in circles)


def test_the_circle_finder_finds_a_circle():
    assert _circles({"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"a"}}) == [["a", "b", "c", "a"]]


def test_the_science_library_never_imports_the_tooling():
    graph = _import_graph()
    upward = sorted((m, t) for m, targets in graph.items() if m.startswith("w2s")
                    for t in targets if t.startswith("autograder") and m != "w2s.cli")
    assert not upward, f"w2s imports the course tooling: {upward}"


def test_no_private_attribute_of_another_object_is_used():
    # e.g. nbgrader's ClearHiddenTests._remove_hidden_test_region: private API changes unannounced
    found = []
    for package in PACKAGES:
        for path in sorted((ROOT / package).rglob("*.py")):
            for node in ast.walk(ast.parse(path.read_text())):
                if (isinstance(node, ast.Attribute) and node.attr.startswith("_")
                        and not node.attr.startswith("__")
                        and not (isinstance(node.value, ast.Name) and node.value.id in ("self", "cls"))):
                    found.append(f"{path.relative_to(ROOT)}:{node.lineno} .{node.attr}")
    assert not found, found


def _top_level_imports(path) -> set[str]:
    tree = ast.parse(path.read_text(), filename=str(path))
    names = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            names |= {alias.name.split(".")[0] for alias in node.names}
        elif isinstance(node, ast.ImportFrom) and node.module and not node.level:
            names.add(node.module.split(".")[0])
    return names


def test_tests_live_beside_the_code_they_test():
    # tests/science/ tests the library and, like it, never reaches for the grading stack;
    # the course's tests live in tests/course/, the whole repository's at the top of tests/
    science = sorted((ROOT / "tests" / "science").glob("test_*.py"))
    course = sorted((ROOT / "tests" / "course").glob("test_*.py"))
    assert science and course, "tests/science/ and tests/course/ hold the tests"
    offenders = {p.name: sorted(_top_level_imports(p) & set(GRADING_STACK)) for p in science}
    assert not {k: v for k, v in offenders.items() if v}, \
        f"science tests importing the grading stack (move them to tests/course/): {offenders}"
    names = [p.name for p in ROOT.joinpath("tests").rglob("test_*.py")]
    assert len(names) == len(set(names)), "two test modules share a name (pytest needs unique ones)"
