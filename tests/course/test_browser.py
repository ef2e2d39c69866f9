"""The course as a student meets it: JupyterLab in headless Chromium.

Lesson 01 is run with Run All Cells and every cell must finish without an error and show its
plots; an exercise is checked with nbgrader's Validate button in the notebook toolbar. The
server runs on 127.0.0.1 with a token, on a copy of the course in a temporary folder (Validate
saves the notebook, and the committed notebooks must never change), with its own Jupyter
config, runtime, settings and workspace folders, so nothing of the user's is read or written.
Screenshots of what the browser showed go to test-artifacts/ (ignored by git).
"""

import json
import os
import secrets
import shutil
import socket
import subprocess
import time
import urllib.request
from contextlib import contextmanager
from pathlib import Path

import nbformat
import pytest

from conftest import BIN, ROOT

pytestmark = [pytest.mark.slow, pytest.mark.browser]

LESSON = "lessons/01-the-weak-to-strong-setup.ipynb"
CHROMIUM = Path("/usr/bin/chromium")  # Debian's package; a browser is never downloaded
CHROMIUM_FLAGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
                  "--disable-component-update", "--no-first-run", "--disable-sync"]
ARTIFACTS = ROOT / "test-artifacts"
NEWS_QUESTION = "official Jupyter news"  # the toast JupyterLab shows unless told not to
RUN_TIMEOUT_S = 240  # a lesson must run in 60 s; the rest is headroom for a loaded machine
# The course's source; module-level so a developer can point it at a scratch course.
COURSE_SOURCE = ROOT


def _course_files(source: Path) -> list[Path]:
    """Every file of the course as git sees it (tracked or new, never ignored)."""
    if not (source / ".git").exists():
        return [p.relative_to(source) for p in source.rglob("*") if p.is_file()]
    listing = subprocess.run(["git", "ls-files", "-z", "--cached", "--others", "--exclude-standard"],
                             cwd=source, capture_output=True, check=True).stdout
    return [Path(name) for name in listing.decode().split("\0") if name]


def _copy_course(source: Path, dest: Path) -> None:
    for rel in _course_files(source):
        if (source / rel).is_file():  # a tracked file deleted in the work tree is skipped
            (dest / rel).parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(source / rel, dest / rel)


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class Lab:
    """A running JupyterLab server on a course copy."""

    def __init__(self, url: str, token: str, course: Path, log: Path):
        self.url, self.token, self.course, self.log = url, token, course, log

    def api(self, path: str) -> dict:
        request = urllib.request.Request(f"{self.url}/{path}",
                                         headers={"Authorization": f"token {self.token}"})
        with urllib.request.urlopen(request, timeout=10) as response:
            return json.load(response)

    def log_tail(self, lines: int = 40) -> str:
        return "\n".join(self.log.read_text(errors="replace").splitlines()[-lines:])


def jupyter_env(home: Path) -> dict:
    """The environment of a JupyterLab that reads and writes nothing of the user's."""
    env = dict(os.environ)
    env["PATH"] = f"{BIN}{os.pathsep}{env.get('PATH', '')}"  # nbgrader runs `alembic` by name
    for var, sub in (("JUPYTER_CONFIG_DIR", "config"), ("JUPYTER_DATA_DIR", "data"),
                     ("JUPYTER_RUNTIME_DIR", "runtime"), ("JUPYTERLAB_SETTINGS_DIR", "settings"),
                     ("JUPYTERLAB_WORKSPACES_DIR", "workspaces"), ("IPYTHONDIR", "ipython")):
        env[var] = str(home / sub)
    env.pop("JUPYTER_PATH", None)
    return env


@contextmanager
def running_lab(course: Path, home: Path):
    token, port = secrets.token_hex(16), _free_port()
    cmd = [str(BIN / "jupyter"), "lab", "--no-browser", "--ip=127.0.0.1", f"--port={port}",
           "--ServerApp.port_retries=0", f"--IdentityProvider.token={token}",
           f"--ServerApp.root_dir={course}"]
    if os.geteuid() == 0:
        cmd.append("--allow-root")
    log = home / "jupyterlab.log"
    with open(log, "w") as log_file:
        proc = subprocess.Popen(cmd, cwd=course, env=jupyter_env(home), stdout=log_file,
                                stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
                                start_new_session=True)
    lab = Lab(f"http://127.0.0.1:{port}", token, course, log)
    try:
        deadline = time.monotonic() + 90
        while True:
            if proc.poll() is not None:
                pytest.fail(f"JupyterLab exited with {proc.returncode}:\n{lab.log_tail()}")
            try:
                lab.api("api/status")
                break
            except OSError:
                if time.monotonic() > deadline:
                    pytest.fail(f"JupyterLab did not answer within 90 s:\n{lab.log_tail()}")
                time.sleep(0.5)
        yield lab
    finally:
        proc.terminate()  # the server shuts its kernels down on SIGTERM
        try:
            proc.wait(timeout=30)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


@pytest.fixture(scope="module")
def lab(tmp_path_factory):
    if not CHROMIUM.exists():
        pytest.skip(f"Chromium is not installed ({CHROMIUM} missing) and could not be installed "
                    "here: `make system-deps` installs the Debian package `chromium` (needs root)")
    course = tmp_path_factory.mktemp("course")
    _copy_course(COURSE_SOURCE, course)
    with running_lab(course, tmp_path_factory.mktemp("jupyter-home")) as server:
        yield server


@pytest.fixture(scope="module")
def browser(lab, tmp_path_factory):
    """One headless Chromium with a fresh profile; every request that leaves this machine
    is blocked and recorded (the course works offline)."""
    from playwright.sync_api import sync_playwright

    with sync_playwright() as pw:
        context = pw.chromium.launch_persistent_context(
            str(tmp_path_factory.mktemp("chromium-profile")), executable_path=str(CHROMIUM),
            headless=True, args=CHROMIUM_FLAGS, viewport={"width": 1400, "height": 1000})
        context.outside_requests = []

        def keep_local(route):
            if route.request.url.startswith(lab.url):
                route.continue_()
            else:
                context.outside_requests.append(route.request.url)
                route.abort()

        context.route("**/*", keep_local)
        yield context
        context.close()


@pytest.fixture
def page(browser, request):
    """A tab; a screenshot of it lands in test-artifacts/ (marked FAILED when the test failed)."""
    failures_before = request.session.testsfailed
    tab = browser.new_page()
    tab.set_default_timeout(60_000)
    yield tab
    failed = request.session.testsfailed > failures_before
    snapshot(tab, request.node.name + ("-FAILED" if failed else ""))
    tab.close()


def snapshot(page, name: str) -> None:
    ARTIFACTS.mkdir(exist_ok=True)
    shot = ARTIFACTS / f"browser-{name}.png"
    page.screenshot(path=str(shot))
    print(f"screenshot: {shot}")


def open_notebook(page, lab: Lab, path: str, workspace: str) -> None:
    """Open `path` in a workspace of its own and wait for its kernel to be idle."""
    page.goto(f"{lab.url}/lab/workspaces/{workspace}/tree/{path}?token={lab.token}")
    page.locator(".jp-NotebookPanel:visible").wait_for()
    deadline = time.monotonic() + 120
    while not any(s["path"] == path and s["kernel"]["execution_state"] == "idle"
                  for s in lab.api("api/sessions")):
        if time.monotonic() > deadline:
            pytest.fail(f"no idle kernel for {path} after 120 s:\n{lab.log_tail()}")
        page.wait_for_timeout(500)  # not time.sleep: the page serves its requests meanwhile
    page.locator(".jp-NotebookPanel:visible .jp-Notebook-ExecutionIndicator[data-status='idle']"
                 ).wait_for()


def click_menu(page, menu: str, item: str) -> None:
    page.locator(".lm-MenuBar-itemLabel", has_text=menu).first.click()
    page.locator(".lm-Menu-itemLabel").get_by_text(item, exact=True).click()


def wait_until_executed(page, timeout_s: float) -> None:
    """Wait until Run All has started (the first code cell has a number), no cell is queued or
    running, and the kernel is idle again. A cell that fails stops the run; the cells after
    it keep an empty prompt, which the caller reports."""
    deadline = time.monotonic() + timeout_s
    panel = page.locator(".jp-NotebookPanel:visible")
    while True:
        prompts = panel.locator(".jp-CodeCell .jp-InputArea-prompt").all_text_contents()
        idle = panel.locator(".jp-Notebook-ExecutionIndicator[data-status='idle']").count() == 1
        started = bool(prompts) and any(ch.isdigit() for ch in prompts[0])
        if started and idle and not any("*" in p for p in prompts):
            return
        if time.monotonic() > deadline:
            pytest.fail(f"the notebook was still running after {timeout_s} s: prompts {prompts}")
        page.wait_for_timeout(500)


def save_notebook(page) -> None:
    page.locator(".jp-NotebookPanel:visible .jp-Notebook").click(position={"x": 5, "y": 5})
    page.keyboard.press("Control+s")
    page.locator(".jp-mod-dirty").wait_for(state="detached")


def assert_no_news_popup(page, lab: Lab) -> None:
    setting = lab.api("lab/api/settings/@jupyterlab/apputils-extension:notification")
    # overrides.json arrives as the schema's defaults; user settings would come on top
    effective = {name: setting["settings"].get(name, prop.get("default"))
                 for name, prop in setting["schema"]["properties"].items()}
    assert effective["fetchNews"] == "false" and effective["checkForUpdates"] is False, (
        "the course's Lab settings must switch the news feed off: run `make venv`, which installs "
        "lab-settings/overrides.json into .venv")
    assert page.get_by_text(NEWS_QUESTION).count() == 0, "JupyterLab asked about its news feed"


def test_lesson_01_runs_all_cells_in_jupyterlab(lab, page, browser):
    assert (COURSE_SOURCE / LESSON).is_file(), f"{LESSON} is missing"
    committed = (COURSE_SOURCE / LESSON).read_bytes()
    open_notebook(page, lab, LESSON, "lesson01")
    started = time.monotonic()
    click_menu(page, "Run", "Run All Cells")
    wait_until_executed(page, RUN_TIMEOUT_S)
    print(f"{LESSON}: Run All Cells took {time.monotonic() - started:.1f} s in the browser")
    save_notebook(page)  # the copy in the temporary course, so its outputs can be read exactly

    nb = nbformat.read(lab.course / LESSON, as_version=4)
    code = [c for c in nb.cells if c.cell_type == "code" and c.source.strip()]
    errors = [f"cell {i}: {o.ename}: {o.evalue}" for i, c in enumerate(code)
              for o in c.outputs if o.output_type == "error"]
    assert not errors, f"cells ended in an error: {errors}"
    not_run = [i for i, c in enumerate(code) if c.execution_count is None]
    assert not not_run, f"Run All did not reach code cells {not_run}"

    plots = sum(1 for c in code for o in c.outputs
                if o.output_type in ("display_data", "execute_result")
                and ("image/png" in o.data or "image/svg+xml" in o.data))
    assert plots >= 1, "lesson 01 shows no plot"
    shown = page.evaluate("""() => [...document.querySelectorAll(
        '.jp-NotebookPanel:not(.lm-mod-hidden) .jp-OutputArea-output img')]
        .filter(img => img.complete && img.naturalWidth > 0).length""")
    assert shown >= plots, f"{plots} plots in the outputs but {shown} images drawn in the page"

    widget_views = sum(1 for c in code for o in c.outputs
                       if "application/vnd.jupyter.widget-view+json" in o.get("data", {}))
    panel = page.locator(".jp-NotebookPanel:visible")
    assert panel.locator(".jp-OutputArea-output .jupyter-widgets").count() >= widget_views
    assert panel.get_by_text("Error displaying widget").count() == 0

    assert_no_news_popup(page, lab)
    assert not browser.outside_requests, f"the page reached outside: {browser.outside_requests}"
    assert (COURSE_SOURCE / LESSON).read_bytes() == committed, "the committed lesson was modified"
    # the screenshot taken after the test shows the first plot (drawn a moment after scrolling)
    page.locator(".jp-OutputArea-output img").first.scroll_into_view_if_needed()
    page.wait_for_timeout(1000)


def _first_exercise() -> str:
    notebooks = sorted((COURSE_SOURCE / "exercises").glob("*/*.ipynb"))
    assert notebooks, "no exercise notebook in exercises/<assignment>/"
    return notebooks[0].relative_to(COURSE_SOURCE).as_posix()


def _graded_cells(nb) -> list:
    """Test cells and written answers: what nbgrader marks, and reports while unsolved."""
    return [c for c in nb.cells if c.metadata.get("nbgrader", {}).get("grade")]


def _press_validate(page) -> tuple[str, list[str]]:
    """Press Validate; return the result dialog's kind and the sources of the cells it lists."""
    started = time.monotonic()
    page.locator(".jp-NotebookPanel:visible .validate-button").click()
    dialog = page.locator(".jp-Dialog", has_text="Validation Results")
    dialog.wait_for(timeout=RUN_TIMEOUT_S * 1000)
    print(f"Validate answered in {time.monotonic() - started:.1f} s")
    message = dialog.locator("#validation-message")
    kinds = [k for k in message.get_attribute("class").split() if k.startswith("validation-")]
    failed_sources = message.locator(".jp-RenderedText pre").all_inner_texts()[0::2]
    return (kinds[0] if kinds else "?"), failed_sources


def _solved_copy(course: Path, exercise: str) -> str:
    """The release notebook with every answer cell filled in from solutions/ (as a student
    who solved it would have it); returns its path in the course."""
    release = nbformat.read(course / exercise, as_version=4)
    source_path = course / "solutions" / Path(exercise).relative_to("exercises")
    answers = {c.metadata["nbgrader"]["grade_id"]: c.source
               for c in nbformat.read(source_path, as_version=4).cells
               if c.metadata.get("nbgrader", {}).get("solution")}
    for cell in release.cells:
        meta = cell.metadata.get("nbgrader", {})
        if meta.get("solution"):
            cell.source = answers[meta["grade_id"]]
    solved = Path(exercise).with_name(Path(exercise).stem + "-solved.ipynb").as_posix()
    nbformat.write(release, course / solved)
    return solved


def test_validate_button_reports_unsolved_questions(lab, page):
    exercise = _first_exercise()
    committed = (COURSE_SOURCE / exercise).read_bytes()
    graded = _graded_cells(nbformat.read(COURSE_SOURCE / exercise, as_version=4))
    assert graded, f"{exercise} has no graded cells"

    open_notebook(page, lab, exercise, "exercise")
    kind, failed = _press_validate(page)
    snapshot(page, "validate-unsolved")
    assert kind == "validation-failed", f"Validate on the untouched {exercise} said {kind}"
    assert sorted(failed) == sorted(c.source.strip() for c in graded), (
        "the dialog should list every graded question of the unsolved exercise")
    page.locator(".jp-Dialog .jp-Dialog-button.jp-mod-accept").click()
    assert (COURSE_SOURCE / exercise).read_bytes() == committed, "the committed exercise changed"

    solved = _solved_copy(lab.course, exercise)
    open_notebook(page, lab, solved, "solved")
    kind, failed = _press_validate(page)
    assert kind == "validation-success" and not failed, (
        f"Validate on {exercise} with the solutions filled in said {kind}: {failed}")
    assert_no_news_popup(page, lab)
