"""JupyterLab as installed by `make venv`: nbgrader's extensions enabled and OK, the course's
Lab settings in place (no news pop-up, no update check)."""

import json
import re
import subprocess
import sys
from pathlib import Path

import jsonschema
import nbgrader
import pytest

from conftest import BIN, ROOT

LAB_DIR = Path(sys.prefix) / "share" / "jupyter" / "lab"
COURSE_SETTINGS = ROOT / "lab-settings" / "overrides.json"
NBGRADER_SERVER_EXTENSIONS = {f"nbgrader.server_extensions.{name}" for name in
                              ("formgrader", "validate_assignment", "assignment_list", "course_list")}
ANSI = re.compile(r"\x1b\[[0-9;]*m")


def _jupyter(*args: str) -> str:
    """`jupyter ARGS` from the venv as a user would run it, colours stripped."""
    result = subprocess.run([str(BIN / "jupyter"), *args], capture_output=True, text=True,
                            timeout=120)
    output = ANSI.sub("", result.stdout + result.stderr)
    assert result.returncode == 0, f"jupyter {' '.join(args)} exited {result.returncode}:\n{output}"
    return output


def _status_x(output: str) -> list[str]:
    """Lines where Jupyter reports a problem: a status of X."""
    return [line.strip() for line in output.splitlines() if re.search(r"(^|\s)X(\s|$)", line)]


def test_lab_extensions_are_enabled_and_ok():
    output = _jupyter("labextension", "list")
    assert not _status_x(output), f"a Lab extension is broken:\n{output}"
    listed = {name: status for name, status in
              re.findall(r"^\s+(\S+) v\S+ (\S+ \S+)", output, re.MULTILINE)}
    for name in ("@jupyter/nbgrader", "@jupyter-widgets/jupyterlab-manager"):
        assert listed.get(name) == "enabled OK", f"{name} is not enabled and OK:\n{output}"
    disabled = output.split("Disabled extensions:", 1)[1] if "Disabled extensions:" in output else ""
    assert "nbgrader" not in disabled, f"nbgrader's Lab plugins are partly disabled:\n{output}"
    assert f"@jupyter/nbgrader v{nbgrader.__version__} " in output, (
        f"the Lab extension's version differs from nbgrader {nbgrader.__version__}:\n{output}")


def test_server_extensions_are_enabled_and_ok():
    output = _jupyter("server", "extension", "list")
    assert not _status_x(output), f"a server extension is broken:\n{output}"
    enabled = set(re.findall(r"^\s+(\S+) enabled$", output, re.MULTILINE))
    disabled = set(re.findall(r"^\s+(\S+) disabled$", output, re.MULTILINE))
    validated = set(re.findall(r"^\s+(\S+)\s+(?:\S+\s+)?OK$", output, re.MULTILINE))
    for name in NBGRADER_SERVER_EXTENSIONS | {"jupyterlab", "notebook"}:
        assert name in enabled and name not in disabled, f"{name} is not enabled:\n{output}"
        assert name in validated, f"{name} did not validate OK:\n{output}"


def test_course_lab_settings_are_valid_for_this_jupyterlab():
    """Every override names a real plugin and setting of the installed JupyterLab, with a
    value its schema accepts (a renamed setting in a JupyterLab upgrade fails here)."""
    overrides = json.loads(COURSE_SETTINGS.read_text())
    notification = overrides["@jupyterlab/apputils-extension:notification"]
    assert notification["fetchNews"] == "false" and notification["checkForUpdates"] is False
    for plugin_id, values in overrides.items():
        package, plugin = plugin_id.split(":")
        schema_path = LAB_DIR / "schemas" / package / f"{plugin}.json"
        assert schema_path.is_file(), f"{plugin_id}: no such plugin in JupyterLab's schemas"
        schema = json.loads(schema_path.read_text())
        for name, value in values.items():
            assert name in schema["properties"], f"{plugin_id} has no setting {name!r}"
            jsonschema.validate(value, schema["properties"][name])


def test_course_lab_settings_are_installed_in_the_venv():
    installed = LAB_DIR / "settings" / "overrides.json"
    if not installed.is_file():
        pytest.fail(f"{installed} is missing: `make venv` installs the course's Lab settings")
    assert json.loads(installed.read_text()) == json.loads(COURSE_SETTINGS.read_text()), (
        f"{installed} differs from lab-settings/overrides.json: run `make venv`")
