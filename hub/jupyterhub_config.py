"""JupyterHub for the course: one Unix account per person, nbgrader's exchange, the course's venv.

Started by ``make hub`` (``hub/manage.py up``) as root; every value a sysadmin may change is
at the top. Read hub/README.md for the layout and the permissions.

- Who may log in: members of the Unix groups ``w2s-students`` and ``w2s-instructors``
  (``make hub`` creates them, and the accounts in hub/roster.csv; ``make hub-add-student
  NAME=...`` adds one). Passwords are the accounts' own, checked by PAM.
- Who is instructor: members of ``w2s-instructors``. Their JupyterLab has the formgrader and
  the course in ``~/w2s-course``; students' has the Assignments tab only.
- Each single-user server runs as its user (LocalProcessSpawner) from the course's .venv, so
  the notebook kernel is the course's Python; memory and process limits per user are held by
  a cgroup where the machine lets root create one.
"""

import grp
import os
import sys
from pathlib import Path

from jupyterhub.spawner import LocalProcessSpawner

c = get_config()  # noqa: F821 - injected by JupyterHub

REPO = Path(__file__).resolve().parent.parent
VENV_BIN = Path(sys.executable).parent  # the hub runs from the course's .venv, as do the users
HUB_DIR = Path(os.environ.get("W2S_HUB_DIR", "/srv/w2s-hub"))  # exchange/, jupyter/, state/
STATE = HUB_DIR / "state"  # root only: hub database, cookie secret, logs
EXCHANGE = HUB_DIR / "exchange"  # nbgrader's exchange (mode 1777)
GRADED_COURSE = "grades_out/nbgrader"  # `w2s grade submitted --out grades_out` writes it
STUDENTS, INSTRUCTORS = "w2s-students", "w2s-instructors"
MEMORY_LIMIT = os.environ.get("W2S_HUB_MEMORY", "4G")  # per user: server, kernels, terminals
MAX_PROCESSES = 1024  # per user (threads count too: a torch kernel starts a few dozen)

# Where the hub listens: localhost only. `make hub` picks the ports (HUB_PORT=8000 by default).
c.JupyterHub.bind_url = f"http://127.0.0.1:{os.environ.get('W2S_HUB_PORT', '8000')}"
c.JupyterHub.hub_bind_url = f"http://127.0.0.1:{os.environ.get('W2S_HUB_API_PORT', '8081')}"
c.ConfigurableHTTPProxy.api_url = f"http://127.0.0.1:{os.environ.get('W2S_PROXY_API_PORT', '8001')}"
c.ConfigurableHTTPProxy.command = [os.environ.get(
    "W2S_PROXY_COMMAND", str(REPO / ".venv/node/node_modules/.bin/configurable-http-proxy"))]
c.ConfigurableHTTPProxy.pid_file = str(STATE / "proxy.pid")
c.JupyterHub.db_url = f"sqlite:///{STATE / 'jupyterhub.sqlite'}"
c.JupyterHub.cookie_secret_file = str(STATE / "jupyterhub_cookie_secret")
c.JupyterHub.pid_file = str(STATE / "jupyterhub.pid")
c.JupyterHub.cleanup_servers = True  # stopping the hub stops every user's server

# Authentication: the machine's own accounts through PAM.
c.JupyterHub.authenticator_class = "pam"
c.PAMAuthenticator.allowed_groups = {STUDENTS, INSTRUCTORS}
c.PAMAuthenticator.open_sessions = False  # no systemd-logind session per server
c.Authenticator.admin_users = set()  # nobody administers the hub through the web page


def is_instructor(username: str) -> bool:
    try:
        return username in grp.getgrnam(INSTRUCTORS).gr_mem
    except KeyError:
        return False


class CourseSpawner(LocalProcessSpawner):
    """LocalProcessSpawner that puts each user's server (and its kernels) in a cgroup."""

    def make_preexec_fn(self, name):
        from autograder.sandbox import GIB, Cgroup, Limits

        become_user = super().make_preexec_fn(name)
        memory = int(float(MEMORY_LIMIT.rstrip("G")) * GIB)
        self.cgroup = Cgroup.create(Limits(memory_bytes=memory, max_processes=MAX_PROCESSES))
        if self.cgroup is None:
            self.log.warning("no cgroup for %s: memory and process limits are not enforced", name)
        cgroup = self.cgroup

        def preexec():
            if cgroup is not None:
                cgroup.join()
            become_user()

        return preexec

    async def stop(self, now=False):
        await super().stop(now=now)
        cgroup = getattr(self, "cgroup", None)
        if cgroup is not None:
            cgroup.kill_all()  # a kernel that outlived its server
            cgroup.remove()
            self.cgroup = None


c.JupyterHub.spawner_class = CourseSpawner
c.Spawner.cmd = [str(VENV_BIN / "jupyterhub-singleuser")]
c.Spawner.default_url = "/lab"
c.Spawner.notebook_dir = "~"
c.Spawner.mem_limit = MEMORY_LIMIT  # also shown to the server as MEM_LIMIT
c.Spawner.start_timeout = 180  # a loaded machine needs a while to start JupyterLab
c.Spawner.http_timeout = 180
c.Spawner.environment = {
    # the venv first: a terminal's `w2s`, `nbgrader` and `python` are the course's, and
    # nbgrader runs `alembic` by name
    "PATH": f"{VENV_BIN}:/usr/local/bin:/usr/bin:/bin",
    "OMP_NUM_THREADS": "1",
    "MKL_NUM_THREADS": "1",
    "W2S_THREADS": "1",
}


def role_config(spawner):
    """Each role's Jupyter configuration (nbgrader exchange, which extensions are on)."""
    role = "instructor" if is_instructor(spawner.user.name) else "student"
    env = {"JUPYTER_CONFIG_PATH": str(HUB_DIR / "jupyter" / role)}
    if role == "instructor":  # read by the course's nbgrader_config.py
        env.update(W2S_EXCHANGE_ROOT=str(EXCHANGE), W2S_GRADED_COURSE=GRADED_COURSE)
    spawner.environment = {**spawner.environment, **env}


c.Spawner.pre_spawn_hook = role_config
