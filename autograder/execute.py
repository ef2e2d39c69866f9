"""Execute one restored notebook in its sandbox, cell by cell, and say what happened.

nbclient runs the cells (as nbgrader's own Execute preprocessor does); around it this module
adds what nbgrader lacks: a wall-clock limit for the whole notebook, a check that a cell
which timed out really stopped, the kernel guard before every locked cell, and a clear end
when the kernel dies. Whatever happens, the cells that ran keep their outputs and every test
cell that did not run gets an error output saying why, so it scores zero, never full marks.
"""

from __future__ import annotations

import ast
import asyncio
import json
import os
import secrets
import signal
import subprocess
import time
from dataclasses import dataclass, field
from pathlib import Path
from queue import Empty

from autograder.kernel_client import NotebookClient
from nbclient.exceptions import DeadKernelError
from nbformat import NotebookNode

from .cells import cell_kind
from .kernel import make_kernel_manager
from .sandbox import Sandbox

GUARD_SOURCE = (Path(__file__).parent / "kernel_guard.py").read_text()
# Libraries whose IPython hooks and threads the guard accepts (they install them themselves).
TRUSTED_MODULES = ("IPython", "ipykernel", "ipywidgets", "comm", "matplotlib",
                   "matplotlib_inline", "tqdm", "torch", "sklearn", "joblib", "threadpoolctl",
                   "concurrent", "asyncio", "zmq", "jupyter_client", "tornado", "w2s")
ALWAYS_PREIMPORT = ("numpy", "numpy.testing", "math", "w2s")
GUARD_SECONDS = 60


@dataclass
class Execution:
    """What happened when a notebook ran."""

    status: str = "ok"  # ok | time limit | kernel died | memory limit | ... (see _stop)
    detail: str = ""
    seconds: float = 0.0
    restored: list[str] = field(default_factory=list)
    cells_run: int = 0


def names_bound(source: str) -> list[str]:
    """Names a cell binds in the notebook's namespace (not inside its functions or classes)."""
    try:
        tree = ast.parse(source)
    except SyntaxError:
        return []
    names: list[str] = []

    def visit(node: ast.AST) -> None:
        for child in ast.iter_child_nodes(node):
            if isinstance(child, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
                names.append(child.name)
                continue
            if isinstance(child, (ast.Lambda, ast.comprehension, ast.ListComp, ast.SetComp,
                                  ast.DictComp, ast.GeneratorExp)):
                continue
            if isinstance(child, (ast.Import, ast.ImportFrom)):
                names.extend((a.asname or a.name).split(".")[0] for a in child.names
                             if a.name != "*")
            elif isinstance(child, ast.Name) and isinstance(child.ctx, ast.Store):
                names.append(child.id)
            visit(child)

    visit(tree)
    return list(dict.fromkeys(names))


def modules_imported(sources: list[str]) -> list[str]:
    found = list(ALWAYS_PREIMPORT)
    for source in sources:
        try:
            tree = ast.parse(source)
        except SyntaxError:
            continue
        for node in ast.walk(tree):
            if isinstance(node, ast.Import):
                found += [a.name for a in node.names]
            elif isinstance(node, ast.ImportFrom) and node.module and not node.level:
                found.append(node.module)
    return list(dict.fromkeys(found))


def error_output(ename: str, evalue: str) -> NotebookNode:
    return NotebookNode(output_type="error", ename=ename, evalue=evalue,
                        traceback=[f"{ename}: {evalue}"])


class _Client(NotebookClient):
    """nbclient's runner, keeping each cell's execute reply (as nbgrader's Execute does)."""

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.replies: dict[int, dict] = {}
        self.on_cell_executed = self._record

    def _record(self, cell, cell_index, execute_reply, **_):
        self.replies[cell_index] = execute_reply
        content = execute_reply.get("content", {})
        if content.get("status") == "error":
            # the reply is the kernel's word that the cell failed: make sure an error shows
            if not any(o.get("output_type") == "error" for o in cell.outputs):
                cell.outputs.append(error_output(content.get("ename", "Error"),
                                                 content.get("evalue", "")))


class NotebookRun:
    def __init__(self, nb: NotebookNode, sandbox: Sandbox, workdir: Path):
        self.nb = nb
        self.sandbox = sandbox
        self.workdir = workdir
        self.limits = sandbox.limits
        self.result = Execution()
        self.token = "W2S-GUARD-" + secrets.token_hex(12) + ":"
        self.km = make_kernel_manager(sandbox)
        self.client = _Client(
            nb, km=self.km, timeout=int(self.limits.cell_seconds), allow_errors=True,
            interrupt_on_timeout=True, raise_on_iopub_timeout=False, iopub_timeout=4,
            startup_timeout=120, record_timing=False, shell_timeout_interval=1,
            error_on_timeout={"ename": "CellTimeoutError",
                              "evalue": f"the cell ran longer than {self.limits.cell_seconds:g} s",
                              "traceback": [f"CellTimeoutError: the cell ran longer than "
                                            f"{self.limits.cell_seconds:g} s and was interrupted"]},
        )
        self.watchdog_reason: str | None = None

    # -- kernel round trips outside nbclient (guard calls, liveness probes) -----------------
    async def _run_code(self, code: str, timeout: float) -> tuple[str, dict | None]:
        """Run ``code`` without history; return (stdout text, reply or None on timeout)."""
        kc = self.client.kc
        msg_id = kc.execute(code, store_history=False, allow_stdin=False)
        deadline = time.monotonic() + timeout
        text, idle, reply = [], False, None
        while not (idle and reply is not None):
            left = deadline - time.monotonic()
            if left <= 0:
                return "".join(text), None
            if not idle:
                try:
                    msg = await kc.get_iopub_msg(timeout=min(left, 1))
                except Empty:
                    if not await self.km.is_alive():
                        raise DeadKernelError("Kernel died")
                    continue
                if msg["parent_header"].get("msg_id") != msg_id:
                    continue
                kind = msg["msg_type"]
                if kind == "stream" and msg["content"].get("name") == "stdout":
                    text.append(msg["content"]["text"])
                elif kind == "status" and msg["content"]["execution_state"] == "idle":
                    idle = True
            else:
                try:
                    msg = await kc.get_shell_msg(timeout=min(left, 1))
                except Empty:
                    if not await self.km.is_alive():
                        raise DeadKernelError("Kernel died")
                    continue
                if msg["parent_header"].get("msg_id") == msg_id:
                    reply = msg
        return "".join(text), reply

    async def _guard(self, call: str) -> dict | None:
        text, reply = await self._run_code(f"__import__('__w2s_guard__').{call}", GUARD_SECONDS)
        for line in text.splitlines():
            if line.startswith(self.token):
                try:
                    return json.loads(line[len(self.token):])
                except ValueError:
                    return None
        return None

    async def _responsive(self) -> bool:
        """After an interrupted cell: does the kernel answer again (or is it stuck)?"""
        kc = self.client.kc
        msg_id = kc.kernel_info()
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline:
            try:
                msg = await kc.get_shell_msg(timeout=1)
            except Empty:
                continue
            if msg["parent_header"].get("msg_id") == msg_id:
                return True
        return False

    async def _watchdog(self) -> None:
        """End the sandbox as soon as its processes reach the process limit (a fork bomb), or,
        where no cgroup caps memory, when together they use more than the memory limit."""
        process = getattr(self.km.provisioner, "process", None)
        if process is None:
            return
        cgroup = self.sandbox.cgroup
        while True:
            await asyncio.sleep(0.25)
            if cgroup is not None:
                count, used = cgroup.process_count(), 0
            else:
                tree = process_tree(process.pid)
                count, used = sum(map(_tasks, tree)), sum(map(_memory_bytes, tree))
            if count >= self.limits.max_processes:
                self.watchdog_reason = "process limit"
            elif used > self.limits.memory_bytes:
                self.watchdog_reason = "memory limit"
            if self.watchdog_reason:
                try:
                    os.killpg(process.pid, signal.SIGKILL)  # the kernel's whole session
                except OSError:
                    process.kill()
                return

    # -- the run ---------------------------------------------------------------------------
    async def run(self) -> Execution:
        start = time.monotonic()
        self.sandbox.open()
        watchdog = None
        try:
            self.sandbox.chdir = self.sandbox.inside(self.workdir)
            await self.km.start_kernel(cwd=str(self.workdir),
                                       env={**os.environ, **self.sandbox.environment()},
                                       preexec_fn=self.sandbox.preexec(),
                                       stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
            watchdog = asyncio.ensure_future(self._watchdog())
            await self.client.async_start_new_kernel_client()
            await self._cells(start)
        except DeadKernelError:
            self._stop(None, "kernel died", "the kernel died while starting")
        except RuntimeError as exc:  # kernel did not start
            self._stop(None, "grader error", f"the kernel did not start: {exc}")
        finally:
            if watchdog is not None:
                watchdog.cancel()
            await self._shutdown()
            self._refine_status()
            self.sandbox.close()
            self.result.seconds = time.monotonic() - start
        return self.result

    async def _cells(self, start: float) -> None:
        locked_sources = [c.source for c in self.nb.cells
                          if c.cell_type == "code" and cell_kind(c) != "student"]
        bootstrap = (GUARD_SOURCE + f"\ninstall({self.token!r}, "
                     f"{modules_imported(locked_sources)!r}, {TRUSTED_MODULES!r})\n")
        text, _ = await self._run_code(
            f"exec(compile({bootstrap!r}, '<w2s-guard>', 'exec'), {{'__name__': 'w2s_guard'}})",
            self.limits.cell_seconds)
        if self.token not in text:
            self._stop(0, "grader error", "the kernel guard did not install")
            return
        for index, cell in enumerate(self.nb.cells):
            if cell.cell_type != "code":
                continue
            kind = cell_kind(cell)
            if kind != "student":
                answer = await self._guard("restore()")
                if answer is None:
                    self._stop(index, "tampering", "the grader's kernel check was disabled "
                               f"by the code before cell {index + 1}")
                    return
                self.result.restored += [r for r in answer["restored"]
                                         if r not in self.result.restored]
                if answer["threads"] and kind == "test":
                    self._stop(index, "tampering", "threads started by the notebook were still "
                               f"running before test cell {index + 1}: "
                               + ", ".join(answer["threads"]))
                    return
            left = self.limits.notebook_seconds - (time.monotonic() - start)
            if left <= 0:
                self._stop(index, "time limit", self._time_limit_text())
                return
            try:
                await asyncio.wait_for(self.client.async_execute_cell(cell, index), left)
            except asyncio.TimeoutError:
                self._stop(index, "time limit", self._time_limit_text(), current=True)
                return
            except DeadKernelError:
                self._stop(index, "kernel died", f"the kernel died while running cell {index + 1}",
                           current=True)
                return
            self.result.cells_run += 1
            reply = self.client.replies.get(index, {}).get("content", {})
            if reply.get("ename") == "CellTimeoutError":
                if not await self._responsive():
                    self._stop(index + 1, "cell time limit",
                               f"cell {index + 1} ran past the {self.limits.cell_seconds:g} s "
                               "cell limit and did not stop when interrupted")
                    return
                self._note("cell time limit", f"cell {index + 1} ran past the "
                           f"{self.limits.cell_seconds:g} s cell limit and was interrupted")
            elif reply.get("ename") == "MemoryError":
                self._note("memory limit", f"cell {index + 1} ran out of memory "
                           f"({self.limits.memory_bytes / 1024**3:g} GiB limit)")
            if kind != "student":
                names = names_bound(cell.source)
                if names and await self._guard(f"capture({names!r})") is None:
                    self._stop(index + 1, "tampering",
                               f"the grader's kernel check was disabled in cell {index + 1}")
                    return

    def _note(self, status: str, detail: str) -> None:
        """Record a problem the notebook survived (the first one wins the status)."""
        if self.result.status == "ok":
            self.result.status, self.result.detail = status, detail

    def _time_limit_text(self) -> str:
        return f"the notebook ran longer than {self.limits.notebook_seconds:g} s"

    def _stop(self, index: int | None, status: str, detail: str, current: bool = False) -> None:
        """End the run: the test cells from ``index`` on did not run (and score zero)."""
        self.result.status, self.result.detail = status, detail
        if index is None:
            index = 0
        for i, cell in enumerate(self.nb.cells):
            if i < index or cell.cell_type != "code":
                continue
            if i == index and current:
                cell.outputs.append(error_output("GradingStopped", detail))
            elif cell_kind(cell) == "test":
                cell.outputs = [error_output("NotRun", f"this test did not run: {detail}")]

    def _refine_status(self) -> None:
        cgroup = self.sandbox.cgroup
        reason = self.watchdog_reason
        if cgroup is not None and self.result.status in ("kernel died", "ok", "time limit",
                                                         "cell time limit"):
            if cgroup.oom_killed():
                reason = "memory limit"
            elif cgroup.pids_exhausted():
                reason = reason or "process limit"
        if reason and self.result.status in ("kernel died", "ok", "time limit", "cell time limit"):
            limit = (f"{self.limits.memory_bytes / 1024**3:g} GiB" if reason == "memory limit"
                     else f"{self.limits.max_processes} processes")
            self.result.status = reason
            self.result.detail = (self.result.detail or "the notebook") + \
                f" (it went over the {limit} limit)"

    async def _shutdown(self) -> None:
        try:
            if self.client.kc is not None:
                self.client.kc.stop_channels()
        except Exception:  # noqa: BLE001 - best effort on the way out
            pass
        try:
            if self.km.has_kernel:
                await self.km.shutdown_kernel(now=True)
        except Exception:  # noqa: BLE001
            process = getattr(self.km.provisioner, "process", None)
            if process is not None:
                process.kill()
        try:
            self.km.cleanup_connection_file()
        except Exception:  # noqa: BLE001
            pass


def process_tree(root: int) -> list[int]:
    """``root`` and all its descendants, from /proc."""
    children: dict[int, list[int]] = {}
    for entry in os.scandir("/proc"):
        if not entry.name.isdigit():
            continue
        try:
            stat = Path(entry.path, "stat").read_text()
        except OSError:
            continue
        ppid = int(stat.rsplit(")", 1)[1].split()[1])
        children.setdefault(ppid, []).append(int(entry.name))
    tree, todo = [], [root]
    while todo:
        pid = todo.pop()
        tree.append(pid)
        todo += children.get(pid, [])
    return tree


def _tasks(pid: int) -> int:
    """Threads of a process: each counts against the process limit, as in a cgroup."""
    try:
        return len(os.listdir(f"/proc/{pid}/task"))
    except OSError:
        return 0


def _memory_bytes(pid: int) -> int:
    """A process's proportional share of memory (PSS: forked copies are not counted twice)."""
    try:
        for line in Path(f"/proc/{pid}/smaps_rollup").read_text().splitlines():
            if line.startswith("Pss:"):
                return int(line.split()[1]) * 1024
    except (OSError, IndexError, ValueError):
        pass
    try:
        return int(Path(f"/proc/{pid}/statm").read_text().split()[1]) * os.sysconf("SC_PAGE_SIZE")
    except (OSError, IndexError, ValueError):
        return 0


def execute(nb: NotebookNode, sandbox: Sandbox, workdir: Path) -> Execution:
    """Run ``nb`` (in place) in ``sandbox`` with ``workdir`` as the kernel's folder."""
    return asyncio.run(NotebookRun(nb, sandbox, workdir).run())
