"""A class on the course's JupyterHub, driven in headless Chromium as its people use it.

`hub/manage.py up` (what `make hub` runs) starts the hub on free localhost ports with three
real Unix accounts of its own (w2s-test-teacher, w2s-test-alice, w2s-test-bob: recreated
every run, so the test is repeatable and never touches `make hub`'s demo accounts). The
teacher releases ps1 from the formgrader; both students fetch it in the Assignments tab;
alice submits twice (an untouched notebook, then a solved one: the latest counts), bob
submits one wrong answer and two untouched questions. The teacher collects, grades with
`w2s grade` (sandboxed, as the teacher), hand-grades the written answer in the formgrader,
generates and releases feedback; each student fetches their own feedback. From bob's
notebook and shell, alice's work, the gradebook and the sources with hidden tests are
refused. Screenshots of every step go to test-artifacts/hub-*.png.
"""

import csv
import html
import os
import pwd
import re
import shutil
import signal
import subprocess
import time
from pathlib import Path

import nbformat
import pytest

from conftest import BIN, ROOT
from test_browser import CHROMIUM, CHROMIUM_FLAGS, _free_port, click_menu

pytestmark = [pytest.mark.slow, pytest.mark.browser]

ASSIGNMENT = "ps1-measuring-weak-to-strong"
NOTEBOOK = f"{ASSIGNMENT}.ipynb"
TEACHER, ALICE, BOB = "w2s-test-teacher", "w2s-test-alice", "w2s-test-bob"
HUB_DIR = Path("/tmp/w2s-hub-test")  # fixed, so a crashed run's hub is found and stopped
PROXY = ROOT / ".venv" / "node" / "node_modules" / ".bin" / "configurable-http-proxy"
ARTIFACTS = ROOT / "test-artifacts"
WAIT_MS = 240_000  # spawning JupyterLab on a loaded 2-core machine takes a while
BOB_WRONG = {"interpretation-answer": 'interpretation_85 = "A"'}
BOB_UNTOUCHED = {"gain-answer", "written-85"}  # gain-test scores 0, written-85 graded 0 by hand
ROSTER = f"""username,role,name,sis_user_id,sis_login_id,section
{TEACHER},instructor,Test Teacher,,,
{ALICE},student,"Test, Alice",SIS-9001,alice@example.edu,Section 1
{BOB},student,"Test, Bob",SIS-9002,bob@example.edu,Section 1
"""


def manage(*args, check=True) -> subprocess.CompletedProcess:
    done = subprocess.run([str(BIN / "python"), str(ROOT / "hub" / "manage.py"), *args],
                          env={**os.environ, "W2S_HUB_DIR": str(HUB_DIR)},
                          capture_output=True, text=True, timeout=600)
    if check and done.returncode != 0:
        pytest.fail(f"hub/manage.py {' '.join(args)} failed:\n{done.stdout}\n{done.stderr}")
    return done


def user_pids(name: str) -> list[int]:
    done = subprocess.run(["pgrep", "-u", name], capture_output=True, text=True)
    return [int(p) for p in done.stdout.split()]


def remove_account(name: str) -> None:
    """A previous run's account goes, with its home and any process it left."""
    try:
        pwd.getpwnam(name)
    except KeyError:
        return
    for pid in user_pids(name):
        os.kill(pid, signal.SIGKILL)
    subprocess.run(["userdel", "--remove", name], capture_output=True)


def as_user(name: str, *cmd: str, cwd=None, role="student", timeout=600):
    """Run a command as `name`, with the environment the hub gives that role's servers."""
    home = pwd.getpwnam(name).pw_dir
    env = [f"HOME={home}", f"PATH={BIN}:/usr/bin:/bin", "OMP_NUM_THREADS=1", "W2S_THREADS=1",
           f"JUPYTER_CONFIG_PATH={HUB_DIR / 'jupyter' / role}"]
    if role == "instructor":
        env += [f"W2S_EXCHANGE_ROOT={HUB_DIR / 'exchange'}", "W2S_GRADED_COURSE=grades_out/nbgrader"]
    return subprocess.run(["runuser", "-u", name, "--", "env", *env, *cmd], cwd=cwd or home,
                          capture_output=True, text=True, timeout=timeout)


class Hub:
    def __init__(self, url: str, passwords: dict[str, str]):
        self.url, self.passwords = url, passwords

    def log_tail(self, lines: int = 40) -> str:
        log = HUB_DIR / "state" / "jupyterhub.log"
        return "\n".join(log.read_text(errors="replace").splitlines()[-lines:])


@pytest.fixture(scope="module")
def hub():
    if os.geteuid() != 0:
        pytest.skip("the hub test creates Unix accounts and starts servers as them: run it as root")
    if not CHROMIUM.exists():
        pytest.skip(f"Chromium is not installed ({CHROMIUM}): `make system-deps` installs it (root)")
    if not PROXY.exists():
        pytest.skip(f"configurable-http-proxy is not installed ({PROXY}): `make test` or `make hub` "
                    "installs it with npm")
    if shutil.which("bwrap") is None:
        pytest.skip("bubblewrap is not installed (the grader's sandbox): `make system-deps`")
    if HUB_DIR.exists():
        manage("down", check=False)
        shutil.rmtree(HUB_DIR)
    for name in (TEACHER, ALICE, BOB):
        remove_account(name)
    HUB_DIR.mkdir(mode=0o755)
    (HUB_DIR / "roster.csv").write_text(ROSTER)
    port = _free_port()
    try:
        up = manage("up", "--roster", str(HUB_DIR / "roster.csv"), "--port", str(port),
                    "--hub-api-port", str(_free_port()), "--proxy-api-port", str(_free_port()),
                    "--wait", "180")
        print(up.stdout)
        passwords = dict(line.split(":", 1) for line in
                         (HUB_DIR / "state" / "initial-passwords.txt").read_text().split())
        yield Hub(f"http://127.0.0.1:{port}", passwords)
    finally:
        manage("down", check=False)
        left = {name: user_pids(name) for name in (TEACHER, ALICE, BOB)}
        for pids in left.values():
            for pid in pids:
                os.kill(pid, signal.SIGKILL)
        assert not any(left.values()), f"`manage.py down` left processes running: {left}"


@pytest.fixture(scope="module")
def browser(hub):
    from playwright.sync_api import sync_playwright

    with sync_playwright() as pw:
        chromium = pw.chromium.launch(executable_path=str(CHROMIUM), headless=True,
                                      args=CHROMIUM_FLAGS)
        yield chromium
        chromium.close()


PAGES = {}  # everyone's tab, for a screenshot of each when the test fails


def snapshot(page, name: str) -> None:
    ARTIFACTS.mkdir(exist_ok=True)
    page.screenshot(path=str(ARTIFACTS / f"hub-{name}.png"))


def log_in(browser, hub: Hub, name: str):
    """A browser context of its own (cookies) per person; returns their JupyterLab tab."""
    context = browser.new_context(viewport={"width": 1400, "height": 900})
    context.route("**/*", lambda route: route.continue_() if route.request.url.startswith(hub.url)
                  else route.abort())
    page = context.new_page()
    page.set_default_timeout(WAIT_MS)
    PAGES[name] = page
    page.goto(f"{hub.url}/hub/login")
    page.fill("#username_input", name)
    page.fill("#password_input", hub.passwords[name])
    page.click("#login_submit")
    page.wait_for_url(f"**/user/{name}/lab**")
    page.locator(".jp-LabShell, #jp-main-dock-panel").first.wait_for()
    page.locator(".lm-MenuBar-itemLabel", has_text="Nbgrader").wait_for()
    return page


def formgrader(page, hub: Hub, name: str, path: str = "manage_assignments") -> None:
    page.goto(f"{hub.url}/user/{name}/formgrader/{path}")


def formgrader_action(page, column: str, success: str) -> None:
    """Press an assignment's button in Manage Assignments; the dialog must report success."""
    row = page.locator("tr", has=page.locator("td.name", has_text=ASSIGNMENT))
    row.locator(f"td.{column} a").click()
    dialog = page.locator(".modal-dialog").filter(has_text=ASSIGNMENT)
    dialog.wait_for()
    text = dialog.inner_text()
    assert success in text, f"formgrader {column}: {text}"
    dialog.locator(".modal-footer button").first.click()
    dialog.wait_for(state="detached")


def assignments_tab(page) -> None:
    click_menu(page, "Nbgrader", "Assignment List")
    page.locator("#released_assignments_list").wait_for()


def press_in_list(page, list_id: str, label: str, refresh=True) -> None:
    """Press `label` on the assignment's row in one of the Assignments tab's lists."""
    deadline = time.monotonic() + WAIT_MS / 1000
    button = page.locator(f"#{list_id} button", has_text=label).first
    while not button.is_visible():
        if time.monotonic() > deadline:
            pytest.fail(f"no {label!r} button in {list_id}")
        if refresh:
            page.locator("#refresh_assignments_list").click()
        page.wait_for_timeout(1000)
    button.click()


def wait_for_file(path: Path, timeout_s: float = WAIT_MS / 1000, page=None) -> Path:
    deadline = time.monotonic() + timeout_s
    while not path.exists():
        if time.monotonic() > deadline:
            pytest.fail(f"{path} did not appear within {timeout_s:.0f} s")
        if page is not None:
            page.wait_for_timeout(500)  # not time.sleep: the page keeps serving its requests
        else:
            time.sleep(0.5)
    return path


def wait_for_submissions(inbound: Path, count: int, page) -> None:
    deadline = time.monotonic() + WAIT_MS / 1000
    while not inbound.is_dir() or len(list(inbound.iterdir())) < count:
        if time.monotonic() > deadline:
            pytest.fail(f"{count} submission(s) expected in {inbound}")
        page.wait_for_timeout(500)


def answer_sources() -> dict[str, str]:
    nb = nbformat.read(ROOT / "solutions" / ASSIGNMENT / NOTEBOOK, as_version=4)
    return {c.metadata["nbgrader"]["grade_id"]: c.source for c in nb.cells
            if c.metadata.get("nbgrader", {}).get("solution")}


def hidden_test_lines() -> list[str]:
    """Lines only the hidden tests hold (a line the visible code repeats may show)."""
    nb = nbformat.read(ROOT / "solutions" / ASSIGNMENT / NOTEBOOK, as_version=4)
    hidden_re = r"### BEGIN HIDDEN TESTS\n(.*?)### END HIDDEN TESTS"
    lines, visible = [], set()
    for cell in nb.cells:
        block = re.findall(hidden_re, cell.source, re.S)
        lines += [line.strip() for part in block for line in part.splitlines()
                  if len(line.strip()) > 12]
        visible.update(line.strip() for line in re.sub(hidden_re, "", cell.source, flags=re.S)
                       .splitlines())
    return [line for line in lines if line not in visible]


def fill_answers(path: Path, answers: dict[str, str]) -> None:
    """Write answers into a student's fetched notebook, as that student would have."""
    stat = path.stat()
    nb = nbformat.read(path, as_version=4)
    for cell in nb.cells:
        grade_id = cell.metadata.get("nbgrader", {}).get("grade_id")
        if grade_id in answers:
            cell.source = answers[grade_id]
    nbformat.write(nb, path)
    os.chown(path, stat.st_uid, stat.st_gid)


def gradebook_scores(db: Path, student: str) -> dict[str, tuple]:
    """grade id -> (auto score, manual score) of the student's ps1, from nbgrader's gradebook."""
    from nbgrader.api import Gradebook

    with Gradebook(f"sqlite:///{db}") as gb:
        notebook = gb.find_submission_notebook(Path(NOTEBOOK).stem, ASSIGNMENT, student)
        return {g.name: (g.auto_score, g.manual_score) for g in notebook.grades}


def submission_id(db: Path, student: str) -> str:
    from nbgrader.api import Gradebook

    with Gradebook(f"sqlite:///{db}") as gb:
        return gb.find_submission_notebook(Path(NOTEBOOK).stem, ASSIGNMENT, student).id


PROBE = """
import os
targets = {targets!r}
for label, path in targets.items():
    try:
        if os.path.isdir(path):
            os.listdir(path)
        else:
            open(path, 'rb').read(1)
        print('READ', label)
    except OSError as exc:
        print('REFUSED', label, type(exc).__name__)
"""


def run_probe_in_notebook(page, hub: Hub, student: str, targets: dict[str, str]) -> str:
    """Open a notebook in the student's JupyterLab, run the probe cell, return its output."""
    home = Path(pwd.getpwnam(student).pw_dir)
    nb = nbformat.v4.new_notebook(cells=[nbformat.v4.new_code_cell(PROBE.format(targets=targets))])
    nb.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3", "language": "python"}
    probe = home / "probe.ipynb"
    nbformat.write(nb, probe)
    user = pwd.getpwnam(student)
    os.chown(probe, user.pw_uid, user.pw_gid)
    page.goto(f"{hub.url}/user/{student}/lab/tree/probe.ipynb")
    panel = page.locator(".jp-NotebookPanel:visible")
    panel.wait_for()
    sessions = f"{hub.url}/user/{student}/api/sessions"
    deadline = time.monotonic() + WAIT_MS / 1000
    while not any(s["path"] == "probe.ipynb" and s["kernel"]["execution_state"] == "idle"
                  for s in page.request.get(sessions).json()):
        accept = page.locator(".jp-Dialog .jp-mod-accept")
        if accept.count():  # JupyterLab asks for a kernel: its default, the course's Python
            accept.first.click()
        if time.monotonic() > deadline:
            pytest.fail(f"no idle kernel for {student}'s probe.ipynb after {WAIT_MS // 1000} s")
        page.wait_for_timeout(1000)
    click_menu(page, "Run", "Run All Cells")
    output = panel.locator(".jp-OutputArea-output").filter(has_text=list(targets)[-1])
    output.wait_for()
    return panel.locator(".jp-OutputArea").first.inner_text()


def test_a_class_on_the_hub(hub, browser):
    try:
        run_the_class(hub, browser)
    except BaseException:
        for name, page in PAGES.items():
            snapshot(page, f"FAILED-{name}")
        raise


def run_the_class(hub, browser):
    course = Path(pwd.getpwnam(TEACHER).pw_dir) / "w2s-course"
    graded_db = course / "grades_out" / "nbgrader" / "gradebook.db"

    # 1. the teacher releases ps1 from the formgrader
    teacher = log_in(browser, hub, TEACHER)
    snapshot(teacher, "01-teacher-lab")
    formgrader(teacher, hub, TEACHER)
    formgrader_action(teacher, "release", "Successfully released")
    snapshot(teacher, "02-teacher-released")

    # 2. both students fetch it in the Assignments tab; a student has no formgrader
    students = {}
    for name in (ALICE, BOB):
        page = log_in(browser, hub, name)
        page.locator(".lm-MenuBar-itemLabel", has_text="Nbgrader").first.click()
        page.locator(".lm-Menu-itemLabel", has_text="Assignment List").wait_for()
        menu_items = page.locator(".lm-Menu-itemLabel").all_inner_texts()
        assert "Formgrader" not in menu_items, f"{name}'s Lab offers the formgrader: {menu_items}"
        page.locator(".lm-Menu-itemLabel").get_by_text("Assignment List", exact=True).click()
        page.locator("#released_assignments_list").wait_for()
        press_in_list(page, "released_assignments_list", "Fetch")
        wait_for_file(Path(pwd.getpwnam(name).pw_dir) / ASSIGNMENT / NOTEBOOK, page=page)
        page.locator("#fetched_assignments_list button", has_text="Submit").first.wait_for()
        snapshot(page, f"03-{name}-fetched")
        students[name] = page

    # 3. alice submits the untouched notebook, then a solved one; bob a wrong/untouched one
    answers = answer_sources()
    alice_nb = Path(pwd.getpwnam(ALICE).pw_dir) / ASSIGNMENT / NOTEBOOK
    bob_nb = Path(pwd.getpwnam(BOB).pw_dir) / ASSIGNMENT / NOTEBOOK
    inbound = HUB_DIR / "exchange" / "w2s-weak-to-strong" / "inbound"
    press_in_list(students[ALICE], "fetched_assignments_list", "Submit", refresh=False)
    wait_for_submissions(inbound, 1, students[ALICE])
    first_submissions = {p.name for p in inbound.iterdir()}
    fill_answers(alice_nb, answers)
    press_in_list(students[ALICE], "fetched_assignments_list", "Submit", refresh=False)
    bob_answers = {k: v for k, v in answers.items() if k not in BOB_UNTOUCHED} | BOB_WRONG
    fill_answers(bob_nb, bob_answers)
    press_in_list(students[BOB], "fetched_assignments_list", "Submit", refresh=False)
    wait_for_submissions(inbound, 3, students[BOB])
    snapshot(students[ALICE], "04-alice-submitted-twice")
    assert len(first_submissions) == 1

    # 4. the teacher collects in the formgrader and grades with `w2s grade`, sandboxed
    formgrader(teacher, hub, TEACHER)
    formgrader_action(teacher, "collect", "Successfully collected")
    collected = nbformat.read(course / "submitted" / ALICE / ASSIGNMENT / NOTEBOOK, as_version=4)
    assert any(c.source == answers["pgr-answer"] for c in collected.cells), (
        "collect kept alice's first submission, not her latest")
    started = time.monotonic()
    graded = as_user(TEACHER, str(BIN / "w2s"), "grade", "submitted", "--out", "grades_out",
                     "--source", "solutions", "--workers", "2", "--no-progress",
                     cwd=course, role="instructor")
    print(graded.stdout[-1500:], f"\nw2s grade took {time.monotonic() - started:.0f} s")
    assert graded.returncode == 0, graded.stderr
    assert "sandboxed" in graded.stdout

    # 5. hand-grade the written answers in the formgrader
    for name, points in ((ALICE, "2"), (BOB, "0")):
        formgrader(teacher, hub, TEACHER, f"submissions/{submission_id(graded_db, name)}/")
        teacher.wait_for_load_state("networkidle")  # the form's scripts have bound its fields
        score = teacher.locator("input.score#written-85")
        deadline = time.monotonic() + WAIT_MS / 1000
        while gradebook_scores(graded_db, name).get("written-85", (None, None))[1] != float(points):
            assert time.monotonic() < deadline, f"the hand grade of {name} was not saved"
            score.fill("")
            score.fill(points)
            score.press("Tab")  # the formgrader saves a score when its field changes
            teacher.wait_for_timeout(5000)
        snapshot(teacher, f"05-teacher-hand-graded-{name}")
    alice_scores, bob_scores = gradebook_scores(graded_db, ALICE), gradebook_scores(graded_db, BOB)
    bob_total = sum((m if m is not None else a or 0) for a, m in bob_scores.values())
    assert all(auto is None or auto > 0 for auto, _ in alice_scores.values()), alice_scores
    zero = {name for name, (auto, manual) in bob_scores.items()
            if (manual if manual is not None else auto) == 0}
    assert zero == {"interpretation-test", "gain-test", "written-85"}, bob_scores

    # 6. feedback: generated and released from the formgrader
    formgrader(teacher, hub, TEACHER)
    formgrader_action(teacher, "generate-feedback", "Successfully generated feedback")
    formgrader_action(teacher, "release-feedback", "Successfully released feedback")
    snapshot(teacher, "06-teacher-feedback-released")

    # 7. each student fetches their own feedback: their scores, no hidden test
    hidden = hidden_test_lines()
    assert hidden, "ps1 has no hidden tests to look for"
    for name, expected in ((ALICE, "20.0 / 20.0"), (BOB, None)):
        page = students[name]
        page.goto(f"{hub.url}/user/{name}/lab")
        assignments_tab(page)
        press_in_list(page, "submitted_assignments_list", "Fetch Feedback", refresh=False)
        folder = Path(pwd.getpwnam(name).pw_dir) / ASSIGNMENT / "feedback"
        wait_for_file(folder, page=page)
        report = wait_for_file(next(folder.iterdir()) / f"{ASSIGNMENT}.html", page=page)
        text = html.unescape(re.sub(r"<[^>]+>", "", report.read_text()))
        total = re.search(rf"{ASSIGNMENT} \(Score: ([\d.]+) / ([\d.]+)\)", text)
        assert total, f"{name}'s feedback shows no total score"
        if expected:
            assert f"{total[1]} / {total[2]}" == expected, f"{name}: {total[0]}"
        else:
            assert float(total[1]) == bob_total, f"{name}: {total[0]}, gradebook {bob_total}"
        leaked = [line for line in hidden if line in text]
        assert not leaked, f"{name}'s feedback shows hidden tests: {leaked[:3]}"
        page.goto(f"{hub.url}/user/{name}/files/{ASSIGNMENT}/feedback/"
                  f"{report.parent.name}/{ASSIGNMENT}.html")
        snapshot(page, f"07-{name}-feedback")
    page = students[ALICE]
    page.goto(f"{hub.url}/user/{ALICE}/lab")
    assignments_tab(page)
    page.locator("#submitted_assignments_list button", has_text="Fetch Feedback").first.wait_for()
    snapshot(page, "08-alice-assignments-tab")

    # 8. bob, from his notebook and his shell, cannot read alice's work or the teacher's
    alice_submission = sorted(p for p in inbound.iterdir() if p.name.startswith(ALICE))[-1]
    targets = {
        "alice's notebook": str(alice_nb),
        "the exchange's inbound listing": str(inbound),
        "the submissions collected": str(course / "submitted"),
        "the gradebook": str(graded_db),
        "the teacher's solutions": str(course / "solutions" / ASSIGNMENT / NOTEBOOK),
        "the checkout's solutions": str(ROOT / "solutions" / ASSIGNMENT / NOTEBOOK),
        "alice's feedback": str(alice_nb.parent / "feedback"),
    }
    shown = run_probe_in_notebook(students[BOB], hub, BOB, targets)
    snapshot(students[BOB], "09-bob-refused-in-notebook")
    for label in targets:
        assert f"REFUSED {label}" in shown, f"bob's notebook could read {label}:\n{shown}"
    for label, path in targets.items():
        shell = as_user(BOB, "bash", "-c", f"ls {path!r} || exit 7" if Path(path).is_dir()
                        else f"head -c1 {path!r} || exit 7")
        assert shell.returncode == 7 and "Permission denied" in shell.stderr, (
            f"bob's shell could read {label}: {shell.stdout[:200]}")
    # nbgrader's design: a submission folder's name is unguessable, not unreadable
    assert alice_submission.name.split("+")[-1], "a submission folder name ends in a random key"

    # 9. the grades, hand grades included, out to Canvas
    regraded = as_user(TEACHER, str(BIN / "w2s"), "grade", "submitted", "--out", "grades_out",
                       "--source", "solutions", "--no-progress", cwd=course, role="instructor")
    assert regraded.returncode == 0, regraded.stderr
    exported = as_user(TEACHER, str(BIN / "w2s"), "export", "--format", "canvas",
                       "--grades", "grades_out/grades.csv", "--roster", "roster.csv",
                       "--out", "grades_out/canvas.csv", cwd=course, role="instructor")
    assert exported.returncode == 0, exported.stderr
    rows = list(csv.DictReader((course / "grades_out" / "canvas.csv").open(newline="")))
    by_sis = {r["SIS User ID"]: r for r in rows[1:]}
    assert by_sis["SIS-9001"][ASSIGNMENT] == "20"
    assert float(by_sis["SIS-9002"][ASSIGNMENT]) == bob_total
