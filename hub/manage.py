"""Set up, start and stop the course's JupyterHub; add a student. Run as root (``make hub``).

    python hub/manage.py up [--roster hub/roster.csv] [--port 8000]
    python hub/manage.py down
    python hub/manage.py add-student NAME [--roster FILE --sis-id ID --sis-login LOGIN --section S]

``up`` is idempotent: accounts, folders and the instructor's course that already exist are
kept (a course the instructor has worked in is never overwritten), and a running hub is left
running. Everything the hub writes lives in W2S_HUB_DIR (default /srv/w2s-hub).
"""

from __future__ import annotations

import argparse
import csv
import grp
import json
import os
import pwd
import re
import secrets
import shutil
import signal
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
VENV_BIN = REPO / ".venv" / "bin"
CONFIG = REPO / "hub" / "jupyterhub_config.py"
PROXY = REPO / ".venv" / "node" / "node_modules" / ".bin" / "configurable-http-proxy"
STUDENTS, INSTRUCTORS = "w2s-students", "w2s-instructors"
COURSE_DIR = "w2s-course"  # the instructor's course, in their home folder
COURSE_FILES = ("nbgrader_config.py", "solutions", "exercises")
USERNAME = re.compile(r"^[a-z][a-z0-9-]{0,30}$")
# The Lab extensions that are the instructor's: hidden from students (their server does not
# load the formgrader either; what really keeps students out is the Unix permissions).
INSTRUCTOR_ONLY_LAB = ("@jupyter/nbgrader:formgrader", "@jupyter/nbgrader:create-assignment",
                       "@jupyter/nbgrader:course-list")
INSTRUCTOR_ONLY_SERVER = ("nbgrader.server_extensions.formgrader",
                          "nbgrader.server_extensions.course_list")


class HubError(RuntimeError):
    """Something the person running the command can fix (the message says how)."""


def hub_dir() -> Path:
    return Path(os.environ.get("W2S_HUB_DIR", "/srv/w2s-hub"))


def course_id() -> str:
    from traitlets.config.loader import PyFileConfigLoader

    config = PyFileConfigLoader("nbgrader_config.py", str(REPO)).load_config()
    return config.CourseDirectory.course_id


def read_roster(path: Path) -> list[dict]:
    try:
        with path.open(newline="") as f:
            rows = list(csv.DictReader(f))
    except OSError as exc:
        raise HubError(f"cannot read the roster {path}: {exc.strerror}") from None
    for i, row in enumerate(rows, start=2):
        name, role = (row.get("username") or "").strip(), (row.get("role") or "").strip()
        if not USERNAME.match(name):
            raise HubError(f"{path}, line {i}: {name!r} is not a valid account name "
                           "(lower-case letters, digits and '-', starting with a letter)")
        if role not in ("student", "instructor"):
            raise HubError(f"{path}, line {i}: role must be 'student' or 'instructor', not {role!r}")
    return rows


def run(cmd: list[str], **kw) -> subprocess.CompletedProcess:
    done = subprocess.run(cmd, capture_output=True, text=True, **kw)
    if done.returncode != 0:
        raise HubError(f"{' '.join(cmd)} failed: {(done.stderr or done.stdout).strip()}")
    return done


def ensure_group(name: str) -> None:
    try:
        grp.getgrnam(name)
    except KeyError:
        run(["groupadd", name])


def ensure_account(name: str, group: str) -> str | None:
    """Create the Unix account if missing (returns its new random password), and put it in
    `group`. Its home folder is private (0700)."""
    password = None
    try:
        pwd.getpwnam(name)
    except KeyError:
        run(["useradd", "--create-home", "--shell", "/bin/bash", name])
        password = secrets.token_urlsafe(12)
        run(["chpasswd"], input=f"{name}:{password}\n")
    if name not in grp.getgrnam(group).gr_mem:
        run(["usermod", "--append", "--groups", group, name])
    os.chmod(pwd.getpwnam(name).pw_dir, 0o700)
    return password


def write(path: Path, text: str, mode: int = 0o644) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text)
    path.chmod(mode)


def write_role_configs(root: Path, exchange: Path) -> None:
    """The Jupyter configuration each role's server reads first (JUPYTER_CONFIG_PATH)."""
    student, instructor = root / "jupyter" / "student", root / "jupyter" / "instructor"
    write(student / "nbgrader_config.py",
          '"""nbgrader for a student: where the exchange is, which course."""\n'
          "c = get_config()  # noqa: F821\n"
          f"c.Exchange.root = {str(exchange)!r}\n"
          f"c.CourseDirectory.course_id = {course_id()!r}\n")
    write(student / "jupyter_server_config.json", json.dumps(
        {"ServerApp": {"jpserver_extensions": {e: False for e in INSTRUCTOR_ONLY_SERVER}}},
        indent=2) + "\n")
    write(student / "labconfig" / "page_config.json", json.dumps(
        {"disabledExtensions": {e: True for e in INSTRUCTOR_ONLY_LAB}}, indent=2) + "\n")
    write(instructor / "nbgrader_config.py",
          f'"""nbgrader for an instructor: the course is ~/{COURSE_DIR} (its own nbgrader_config.py\n'
          'is read after this file; the hub sets W2S_EXCHANGE_ROOT and W2S_GRADED_COURSE for it)."""\n'
          "import os\n\n"
          "c = get_config()  # noqa: F821\n"
          f'c.CourseDirectory.root = os.path.expanduser("~/{COURSE_DIR}")\n')


def setup_course(instructor: str, roster: Path) -> Path:
    """Copy the course into the instructor's home (once), readable by them only, with the
    roster (its SIS ids are for `w2s export`)."""
    user = pwd.getpwnam(instructor)
    course = Path(user.pw_dir) / COURSE_DIR
    if not course.exists():
        course.mkdir()
        for name in COURSE_FILES:
            src = REPO / name
            if src.is_dir():
                shutil.copytree(src, course / name,
                                ignore=shutil.ignore_patterns(".ipynb_checkpoints", "__pycache__"))
            else:
                shutil.copy2(src, course / name)
    shutil.copyfile(roster, course / "roster.csv")
    (course / "grades_out" / "nbgrader").mkdir(parents=True, exist_ok=True)
    for path in [course, *course.rglob("*")]:
        os.chown(path, user.pw_uid, user.pw_gid, follow_symlinks=False)
    course.chmod(0o700)
    return course


def let_groups_reach(paths: list[Path]) -> None:
    """Users run the course's .venv: where its interpreter or the course sits under a private
    folder (pyenv in /root, say), give the course's groups traverse-only permission (x, never
    read) on each such folder with an ACL, and say so."""
    blocked = set()
    for path in paths:
        for folder in [path, *path.parents] if path.is_dir() else path.parents:
            if not folder.stat().st_mode & 0o001:
                blocked.add(folder)
    for folder in sorted(blocked):
        if not shutil.which("setfacl"):
            raise HubError(f"{folder} is not open to other users, so students cannot run the course's "
                           "Python below it. Install `acl` (`make system-deps`) or rebuild .venv "
                           "with a system Python: `rm -rf .venv && make venv PYTHON=/usr/bin/python3`.")
        run(["setfacl", "-m", f"g:{STUDENTS}:x,g:{INSTRUCTORS}:x", str(folder)])
        print(f"granted {STUDENTS} and {INSTRUCTORS} traverse-only (x) access to {folder}")


def hide_course_sources() -> None:
    """Students run the checkout's .venv, so they can reach the checkout: its solutions/ (the
    hidden tests) and its git history (which holds them too) become root's only, and the
    checkout itself can be passed through but not listed."""
    git_dirs = []
    for flag in ("--git-dir", "--git-common-dir"):
        done = subprocess.run(["git", "-C", str(REPO), "rev-parse", "--path-format=absolute", flag],
                              capture_output=True, text=True)
        if done.returncode == 0:
            git_dirs.append(Path(done.stdout.strip()))
    for path, mode in [(REPO / "solutions", 0o700), *[(d, 0o700) for d in git_dirs], (REPO, 0o711)]:
        if path.is_dir() and path.stat().st_mode & 0o7777 != mode:
            path.chmod(mode)
            print(f"{path}: mode {mode:o} (the hub's users must not read the course's sources)")


def setup(roster: Path) -> list[tuple[str, str]]:
    """Accounts, groups, exchange, configuration, the instructor's course. Returns the new
    accounts' passwords."""
    rows = read_roster(roster)
    if not any(r["role"] == "instructor" for r in rows):
        raise HubError(f"{roster} names no instructor (a row with role 'instructor')")
    root = hub_dir()
    for sub, mode in (("", 0o755), ("state", 0o700), ("jupyter", 0o755)):
        (root / sub).mkdir(parents=True, exist_ok=True)
        (root / sub).chmod(mode)
    # nbgrader's documented set-up: an exchange everyone can write to. The sticky bit (not in
    # nbgrader's docs) stops a student from renaming the course folder nbgrader creates in it.
    exchange = root / "exchange"
    exchange.mkdir(exist_ok=True)
    exchange.chmod(0o1777)
    write_role_configs(root, exchange)
    ensure_group(STUDENTS)
    ensure_group(INSTRUCTORS)
    new = []
    for row in rows:
        group = INSTRUCTORS if row["role"] == "instructor" else STUDENTS
        password = ensure_account(row["username"], group)
        if password:
            new.append((row["username"], password))
    let_groups_reach([Path(os.path.realpath(VENV_BIN / "python")), REPO])
    hide_course_sources()
    for row in rows:
        if row["role"] == "instructor":
            setup_course(row["username"], roster)
    if new:
        with (root / "state" / "initial-passwords.txt").open("a") as f:
            f.writelines(f"{name}:{password}\n" for name, password in new)
        (root / "state" / "initial-passwords.txt").chmod(0o600)
    return new


def hub_pid() -> int | None:
    try:
        pid = int((hub_dir() / "state" / "jupyterhub.pid").read_text())
        os.kill(pid, 0)
        return pid
    except (OSError, ValueError):
        return None


def up(args) -> int:
    if not PROXY.exists():
        raise HubError(f"{PROXY} is missing: run `make hub`, which installs configurable-http-proxy")
    new = setup(args.roster)
    state = hub_dir() / "state"
    url = f"http://127.0.0.1:{args.port}"
    if hub_pid():
        print(f"The hub is already running ({url}); `make hub-stop` stops it.")
        return 0
    token_file = state / "proxy_token"
    if not token_file.exists():
        write(token_file, secrets.token_hex(32), 0o600)
    env = {**os.environ, "W2S_HUB_DIR": str(hub_dir()), "W2S_HUB_PORT": str(args.port),
           "W2S_HUB_API_PORT": str(args.hub_api_port), "W2S_PROXY_API_PORT": str(args.proxy_api_port),
           "CONFIGPROXY_AUTH_TOKEN": token_file.read_text().strip(),
           "PATH": f"{VENV_BIN}:{os.environ.get('PATH', '/usr/bin:/bin')}"}
    log = state / "jupyterhub.log"
    with log.open("a") as log_file:
        proc = subprocess.Popen([str(VENV_BIN / "jupyterhub"), "-f", str(CONFIG)], cwd=state,
                                env=env, stdout=log_file, stderr=subprocess.STDOUT,
                                stdin=subprocess.DEVNULL, start_new_session=True)
    deadline = time.monotonic() + args.wait
    while True:
        if proc.poll() is not None:
            tail = "\n".join(log.read_text(errors="replace").splitlines()[-20:])
            raise HubError(f"the hub exited with {proc.returncode}; end of {log}:\n{tail}")
        try:
            with urllib.request.urlopen(f"{url}/hub/api/", timeout=5) as response:
                json.load(response)
            break
        except OSError:
            if time.monotonic() > deadline:
                raise HubError(f"the hub did not answer on {url} within {args.wait} s; see {log}")
            time.sleep(0.5)
    print(f"The course's JupyterHub is running on {url} (log: {log}).")
    for name, password in new:
        print(f"  new account {name}, password {password}")
    if new:
        print(f"  (also in {state / 'initial-passwords.txt'}, readable by root only)")
    print("Stop it with `make hub-stop`.")
    return 0


def _wait_gone(pid: int, seconds: float) -> bool:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        try:
            os.kill(pid, 0)
        except OSError:
            return True
        time.sleep(0.2)
    return False


def down(args) -> int:
    pid = hub_pid()
    if pid is None:
        print("The hub is not running.")
    else:
        os.kill(pid, signal.SIGTERM)  # the hub stops every user's server and its proxy
        if not _wait_gone(pid, 60):
            os.kill(pid, signal.SIGKILL)
            _wait_gone(pid, 10)
        print(f"Stopped the hub (pid {pid}).")
    proxy_pid_file = hub_dir() / "state" / "proxy.pid"
    try:
        proxy = int(proxy_pid_file.read_text())
        os.kill(proxy, signal.SIGTERM)
        _wait_gone(proxy, 10)
        print(f"Stopped the proxy (pid {proxy}).")
    except (OSError, ValueError):
        pass
    proxy_pid_file.unlink(missing_ok=True)
    return 0


def add_student(args) -> int:
    name = args.name
    if not USERNAME.match(name or ""):
        raise HubError(f"{name!r} is not a valid account name: use lower-case letters, digits "
                       "and '-', starting with a letter (e.g. NAME=w2s-carol)")
    ensure_group(STUDENTS)
    password = ensure_account(name, STUDENTS)
    if password:
        print(f"Created the account {name} (password {password}); they can log in now.")
    else:
        print(f"{name} already has an account; it is now in {STUDENTS}.")
    rows = read_roster(args.roster) if args.roster.exists() else []
    if all(r["username"] != name for r in rows):
        new_file = not args.roster.exists()
        with args.roster.open("a", newline="") as f:
            writer = csv.writer(f)
            if new_file:
                writer.writerow(["username", "role", "name", "sis_user_id", "sis_login_id", "section"])
            writer.writerow([name, "student", args.full_name or name, args.sis_id or "",
                             args.sis_login or "", args.section or ""])
        print(f"Added {name} to {args.roster}.")
    return 0


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(prog="hub/manage.py", description=__doc__.splitlines()[0])
    sub = parser.add_subparsers(dest="command", required=True)
    p = sub.add_parser("up", help="create the accounts and start the hub")
    p.add_argument("--roster", type=Path, default=REPO / "hub" / "roster.csv")
    p.add_argument("--port", type=int, default=8000, help="the hub's address: 127.0.0.1:PORT")
    p.add_argument("--hub-api-port", type=int, default=8081)
    p.add_argument("--proxy-api-port", type=int, default=8001)
    p.add_argument("--wait", type=float, default=120, help="seconds to wait for the hub")
    p.set_defaults(func=up)
    p = sub.add_parser("down", help="stop the hub, its proxy and every user's server")
    p.set_defaults(func=down)
    p = sub.add_parser("add-student", help="create a student's account and add them to the roster")
    p.add_argument("name")
    p.add_argument("--roster", type=Path, default=REPO / "hub" / "roster.csv")
    p.add_argument("--full-name")
    p.add_argument("--sis-id")
    p.add_argument("--sis-login")
    p.add_argument("--section")
    p.set_defaults(func=add_student)
    args = parser.parse_args(argv)
    if os.geteuid() != 0:
        print("hub/manage.py: run this as root (it creates Unix accounts and starts servers "
              "as their users), e.g. `sudo make hub`.", file=sys.stderr)
        return 2
    try:
        return args.func(args)
    except HubError as exc:
        print(f"hub/manage.py: {exc}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
