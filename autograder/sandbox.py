"""The sandbox one submission's kernel runs in: bubblewrap plus memory, process and time limits.

The kernel sees a read-only system, Python and ``.venv``, the ``w2s`` library and its
``data/``, and nothing else of the machine: not ``solutions/``, not the gradebook, not the
other students. Its only writable places are its own home folder (a copy of the submission)
and a private ``/tmp``. It has no network and its own process tree, so every process it
starts, daemons included, dies when the sandbox is torn down.

Memory and process limits use a cgroup where this machine lets us create one (cgroup v2 or
v1), and otherwise ``RLIMIT_AS`` per process plus a watchdog (see ``execute.py``).
"""

from __future__ import annotations

import os
import resource
import shutil
import signal
import subprocess
import sys
import time
import uuid
from dataclasses import dataclass
from pathlib import Path

SANDBOX_HOME = "/home/student"
GIB = 1024**3

# /etc entries the dynamic loader, fontconfig and Python need; the rest of /etc stays hidden.
ETC_ENTRIES = ("ld.so.cache", "ld.so.conf", "ld.so.conf.d", "nsswitch.conf", "localtime",
               "fonts", "mime.types", "alternatives")
THREAD_ENV = ("W2S_THREADS", "OMP_NUM_THREADS", "MKL_NUM_THREADS", "OPENBLAS_NUM_THREADS",
              "NUMEXPR_NUM_THREADS")


UID_BASE = 200_000
# Run as the first command inside a privileged sandbox: cap processes, become `uid`, exec.
DROP_PRIVILEGES = """import os, resource, sys
uid, nproc = int(sys.argv[1]), int(sys.argv[2])
resource.setrlimit(resource.RLIMIT_NPROC, (nproc, nproc))
os.setgroups([])
os.setgid(uid)
os.setuid(uid)
os.execv(sys.argv[3], sys.argv[3:])
"""


class SandboxUnavailable(RuntimeError):
    """bubblewrap is missing or cannot create a sandbox on this machine."""


@dataclass(frozen=True)
class Limits:
    """Resource limits for one submission."""

    memory_bytes: int = 2 * GIB
    max_processes: int = 128
    notebook_seconds: float = 300.0
    cell_seconds: float = 60.0
    max_file_bytes: int = GIB
    tmp_bytes: int = 512 * 1024**2


def readonly_paths() -> list[Path]:
    """What a kernel needs to read: the interpreter, the venv, the w2s library and its data."""
    import w2s
    from w2s.data import DATA_DIR

    paths = {Path(sys.base_prefix).resolve(), Path(sys.prefix).resolve(),
             Path(sys.executable).resolve().parent.parent,
             Path(w2s.__file__).resolve().parent, DATA_DIR.resolve()}
    return sorted(p for p in paths if p.exists())


def bwrap_path() -> str | None:
    return shutil.which("bwrap")


def check_available() -> None:
    """Raise SandboxUnavailable with a message that says what to do, or return."""
    bwrap = bwrap_path()
    if bwrap is None:
        raise SandboxUnavailable(
            "bubblewrap (bwrap) is not installed, so submissions cannot be sandboxed. "
            "Install it (Debian/Ubuntu: `sudo apt-get install bubblewrap`, or `make system-deps` "
            "as root), or pass --no-sandbox to run student code with your own rights.")
    probe = [bwrap, *_system_binds(), "--unshare-all", "--unshare-user", "--die-with-parent",
             "--cap-drop", "ALL", "--", "/usr/bin/true"]
    try:
        done = subprocess.run(probe, capture_output=True, text=True, timeout=30)
    except (OSError, subprocess.TimeoutExpired) as exc:
        raise SandboxUnavailable(f"bubblewrap could not start: {exc}") from exc
    if done.returncode != 0:
        raise SandboxUnavailable(
            "bubblewrap is installed but cannot create a sandbox here "
            f"({done.stderr.strip() or 'exit status ' + str(done.returncode)}). "
            "It needs user namespaces (or a setuid bwrap); inside a container, run the "
            "container with them allowed, or pass --no-sandbox to run student code unconfined.")


def _system_binds() -> list[str]:
    args = ["--ro-bind", "/usr", "/usr"]
    for name in ("bin", "sbin", "lib", "lib32", "lib64", "libx32"):
        top = Path("/") / name
        if top.is_symlink():
            args += ["--symlink", os.readlink(top), str(top)]
        elif top.is_dir():
            args += ["--ro-bind", str(top), str(top)]
    for entry in ETC_ENTRIES:
        if (Path("/etc") / entry).exists():
            args += ["--ro-bind", f"/etc/{entry}", f"/etc/{entry}"]
    return args


def _user_tasks() -> int:
    uid, count = os.getuid(), 0
    for entry in os.scandir("/proc"):
        if entry.name.isdigit():
            try:
                if os.stat(entry.path).st_uid == uid:
                    count += len(os.listdir(f"{entry.path}/task"))
            except OSError:
                pass
    return count


def _parent_dirs(paths: list[Path]) -> list[str]:
    """Create the folders above mount points world-traversable (bubblewrap makes them 0700)."""
    parents = sorted({a for p in paths for a in p.parents if a != Path("/")},
                     key=lambda a: len(a.parts))
    return [arg for parent in parents for arg in ("--perms", "0755", "--dir", str(parent))]


class Cgroup:
    """A cgroup (v2, or v1 memory+pids) holding one sandbox, if this machine allows it."""

    def __init__(self, dirs: dict[str, Path]):
        self.dirs = dirs

    @classmethod
    def create(cls, limits: Limits) -> "Cgroup | None":
        """A fresh cgroup with the limits set, or None where cgroups are not writable here."""
        if os.environ.get("W2S_GRADE_NO_CGROUP"):
            return None
        name = f"w2s-grade-{os.getpid()}-{uuid.uuid4().hex[:8]}"
        try:
            cls._remove_stale()
            return cls._create_v2(name, limits) or cls._create_v1(name, limits)
        except OSError:
            return None

    @classmethod
    def _remove_stale(cls) -> None:
        """Groups left by graders that were killed (their worker's pid is gone)."""
        own = cls._own()
        parents = [Path("/sys/fs/cgroup") / own[""].lstrip("/")] if "" in own else []
        parents += [Path("/sys/fs/cgroup") / c / own[c].lstrip("/") for c in ("memory", "pids")
                    if c in own]
        for parent in parents:
            for d in parent.glob("w2s-grade-*-*") if parent.is_dir() else []:
                pid = d.name.split("-")[2]
                if pid.isdigit() and not Path(f"/proc/{pid}").exists():
                    stale = cls({"": d})
                    stale.kill_all()
                    stale.remove()

    @classmethod
    def _own(cls) -> dict[str, str]:
        own = {}
        for line in Path("/proc/self/cgroup").read_text().splitlines():
            _, controllers, path = line.split(":", 2)
            for c in controllers.split(",") if controllers else [""]:
                own[c] = path
        return own

    @classmethod
    def _create_v2(cls, name: str, limits: Limits) -> "Cgroup | None":
        own = cls._own().get("")
        root = Path("/sys/fs/cgroup")
        if own is None or not (root / "cgroup.controllers").exists():
            return None
        parent = root / own.lstrip("/")
        if not {"memory", "pids"} <= set((parent / "cgroup.subtree_control").read_text().split()):
            return None
        d = parent / name
        d.mkdir()
        group = cls({"": d})
        try:
            (d / "memory.max").write_text(str(limits.memory_bytes))
            if (d / "memory.swap.max").exists():
                (d / "memory.swap.max").write_text("0")
            (d / "pids.max").write_text(str(limits.max_processes))
        except OSError:
            group.remove()
            return None
        return group

    @classmethod
    def _create_v1(cls, name: str, limits: Limits) -> "Cgroup | None":
        own = cls._own()
        dirs = {}
        for controller in ("memory", "pids"):
            base = Path("/sys/fs/cgroup") / controller
            if controller not in own or not base.is_dir():
                return None
            dirs[controller] = base / own[controller].lstrip("/") / name
        group = cls({})
        try:
            for controller, d in dirs.items():
                d.mkdir()
                group.dirs[controller] = d
            mem = dirs["memory"]
            (mem / "memory.limit_in_bytes").write_text(str(limits.memory_bytes))
            if (mem / "memory.memsw.limit_in_bytes").exists():
                (mem / "memory.memsw.limit_in_bytes").write_text(str(limits.memory_bytes))
            (dirs["pids"] / "pids.max").write_text(str(limits.max_processes))
        except OSError:
            group.remove()
            return None
        return group

    def join(self) -> None:
        """Move the calling process into the group (run in the child before exec)."""
        for d in self.dirs.values():
            (d / "cgroup.procs").write_text(str(os.getpid()))

    def oom_killed(self) -> bool:
        """Whether the kernel's memory limit killed a process in this group."""
        for key, d in self.dirs.items():
            for fname in ("memory.events", "memory.oom_control"):
                f = d / fname
                if key in ("", "memory") and f.exists():
                    for line in f.read_text().splitlines():
                        field, _, value = line.partition(" ")
                        if field == "oom_kill" and int(value) > 0:
                            return True
            f = d / "memory.failcnt"
            if f.exists() and int(f.read_text() or 0) > 0:
                return True
        return False

    def pids_exhausted(self) -> bool:
        for key, d in self.dirs.items():
            f = d / "pids.events"
            if key in ("", "pids") and f.exists():
                for line in f.read_text().splitlines():
                    field, _, value = line.partition(" ")
                    if field == "max" and int(value) > 0:
                        return True
        return False

    def process_count(self) -> int:
        """Processes and threads in the group now."""
        for key in ("", "pids"):
            if key in self.dirs:
                try:
                    return int((self.dirs[key] / "pids.current").read_text())
                except (OSError, ValueError):
                    return 0
        return 0

    def kill_all(self) -> None:
        for _ in range(20):
            pids = set()
            for d in self.dirs.values():
                try:
                    pids |= {int(p) for p in (d / "cgroup.procs").read_text().split()}
                except OSError:
                    pass
            if not pids:
                return
            for pid in pids:
                try:
                    os.kill(pid, signal.SIGKILL)
                except OSError:
                    pass
            time.sleep(0.05)

    def remove(self) -> None:
        for d in self.dirs.values():
            for _ in range(50):
                try:
                    d.rmdir()
                    break
                except FileNotFoundError:
                    break
                except OSError:
                    time.sleep(0.05)


class Sandbox:
    """One submission's sandbox: its folders on this machine and the command that enters it.

    ``root`` (private to the grader) holds ``home/`` (the student's writable home, mounted at
    /home/student) and ``kernel/`` (the kernel's connection file and sockets).
    """

    def __init__(self, root: Path, limits: Limits, enabled: bool = True):
        self.root = root
        self.limits = limits
        self.enabled = enabled
        self.home = root / "home"
        self.kernel_dir = root / "kernel"
        self.cgroup: Cgroup | None = None
        self.chdir = SANDBOX_HOME
        for d in (self.home, self.kernel_dir):
            d.mkdir(parents=True, exist_ok=True)

    def workdir(self, assignment: str) -> Path:
        """The kernel's working folder as this machine sees it."""
        return self.home / assignment

    def inside(self, path: Path) -> str:
        """``path`` (under home) as the sandboxed kernel sees it."""
        if not self.enabled:
            return str(path)
        return str(Path(SANDBOX_HOME) / path.relative_to(self.home))

    def environment(self) -> dict[str, str]:
        home = SANDBOX_HOME if self.enabled else str(self.home)
        env = {
            "PATH": f"{Path(sys.executable).parent}:/usr/local/bin:/usr/bin:/bin",
            "HOME": home, "USER": "student", "LOGNAME": "student", "LANG": "C.UTF-8",
            "TMPDIR": "/tmp", "IPYTHONDIR": f"{home}/.ipython",
            "MPLCONFIGDIR": f"{home}/.config/matplotlib", "XDG_CACHE_HOME": f"{home}/.cache",
            "JUPYTER_CONFIG_DIR": f"{home}/.jupyter", "JUPYTER_DATA_DIR": f"{home}/.local/share/jupyter",
            "JUPYTER_RUNTIME_DIR": str(self.kernel_dir), "PYTHONDONTWRITEBYTECODE": "1",
            "NBGRADER_EXECUTION": "autograde", "MALLOC_ARENA_MAX": "2",
            "PYDEVD_DISABLE_FILE_VALIDATION": "1",
        }
        env.update({name: "1" for name in THREAD_ENV})
        return env

    def wrap(self, argv: list[str]) -> list[str]:
        """The command line that runs ``argv`` inside this sandbox.

        Usually bubblewrap builds the sandbox in a user namespace (uid 1000 inside). Where no
        cgroup can cap the number of processes and we are root, it instead runs privileged
        and drops to a uid of our own before ``argv`` starts, so that ``RLIMIT_NPROC`` stops
        a fork bomb (the kernel ignores that limit for root, also inside a user namespace).
        """
        if not self.enabled:
            return argv
        uid = self.own_uid()
        args = [bwrap_path() or "bwrap"]
        parents = _parent_dirs([*readonly_paths(), Path(SANDBOX_HOME), Path("/etc/passwd")])
        args += parents
        args += _system_binds()
        # The private /tmp comes before the course's own read-only binds, and the folders
        # above them are made again on top of it: a checkout that lives under /tmp (a CI
        # clone, say) must stay visible inside.
        args += ["--proc", "/proc", "--dev", "/dev",
                 "--size", str(self.limits.tmp_bytes), "--tmpfs", "/tmp",
                 "--size", str(self.limits.tmp_bytes), "--tmpfs", "/dev/shm"]
        args += parents
        for p in readonly_paths():
            args += ["--ro-bind", str(p), str(p)]
        inside = uid or 1000
        passwd = self.root / "passwd"
        passwd.write_text(f"student:x:{inside}:{inside}:student:{SANDBOX_HOME}:/bin/sh\n")
        group = self.root / "group"
        group.write_text(f"student:x:{inside}:\n")
        args += [
            "--ro-bind", str(passwd), "/etc/passwd", "--ro-bind", str(group), "/etc/group",
            "--bind", str(self.home), SANDBOX_HOME,
            *_parent_dirs([self.kernel_dir]),
            "--bind", str(self.kernel_dir), str(self.kernel_dir),
            "--unshare-ipc", "--unshare-pid", "--unshare-net", "--unshare-uts",
            "--unshare-cgroup-try", "--hostname", "sandbox",
            "--die-with-parent", "--new-session", "--clearenv", "--chdir", self.chdir,
        ]
        if uid is None:
            args += ["--unshare-user", "--uid", "1000", "--gid", "1000", "--disable-userns",
                     "--cap-drop", "ALL"]
        else:
            for path in [self.home, self.kernel_dir, *self.home.rglob("*"),
                         *self.kernel_dir.glob("*")]:
                os.lchown(path, uid, uid)
            args += ["--cap-drop", "ALL", "--cap-add", "CAP_SETUID", "--cap-add", "CAP_SETGID"]
            argv = [sys.executable, "-c", DROP_PRIVILEGES, str(uid),
                    str(self.limits.max_processes), *argv]
        for key, value in self.environment().items():
            args += ["--setenv", key, value]
        return [*args, "--", *argv]

    def own_uid(self) -> int | None:
        """The unprivileged uid the sandbox runs as, when it needs one (see ``wrap``)."""
        if self.cgroup is not None or os.geteuid() != 0:
            return None
        return UID_BASE + os.getpid()  # unique among the workers running now

    def preexec(self):
        """A function run in the child before exec: join the cgroup or set rlimits."""
        cgroup, limits = self.cgroup, self.limits

        def setup() -> None:
            resource.setrlimit(resource.RLIMIT_CORE, (0, 0))
            resource.setrlimit(resource.RLIMIT_FSIZE, (limits.max_file_bytes,) * 2)
            if cgroup is not None:
                cgroup.join()
                return
            resource.setrlimit(resource.RLIMIT_AS, (limits.memory_bytes,) * 2)
            if os.geteuid() != 0:
                # RLIMIT_NPROC counts all of this user's tasks: allow what runs now plus the
                # sandbox's share (as root, wrap() switches to a uid of the sandbox's own).
                cap = _user_tasks() + limits.max_processes
                resource.setrlimit(resource.RLIMIT_NPROC, (cap, cap))

        return setup

    def open(self) -> None:
        self.cgroup = Cgroup.create(self.limits)

    def close(self) -> None:
        """Tear down: without bubblewrap's process namespace, the cgroup ends stray processes."""
        if self.cgroup is not None:
            self.cgroup.kill_all()
            self.cgroup.remove()
            self.cgroup = None
