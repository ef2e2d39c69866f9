"""A Jupyter kernel manager whose kernel runs inside a submission's sandbox.

The grader (outside) talks to the kernel (inside) over Unix sockets in the sandbox's
``kernel/`` folder: Unix sockets cross the network namespace that keeps the kernel offline.
Interrupts travel as messages, because the kernel is not in our process group.

The kernel's import path starts with the course's own: Python runs with ``-P`` (no script
folder or working directory on ``sys.path``) and ``-s`` (no user site), and IPython with
``ignore_cwd``, so no file beside the notebook (a ``w2s/`` package, a ``numpy.py``) can stand
in for a module that the setup cell or a test imports.
"""

from __future__ import annotations

import sys

from jupyter_client.kernelspec import KernelSpec
from jupyter_client.manager import AsyncKernelManager

from .sandbox import Sandbox

SAFE_PATH_FLAGS = ("-P", "-s")                              # python: no cwd, no user site
SAFE_PATH_ARGS = ("--InteractiveShellApp.ignore_cwd=True",)  # IPython: no cwd either


# The kernel the grader starts in every sandbox (the machine's own kernelspecs are not read).
SANDBOX_KERNEL_SPEC = KernelSpec(
    argv=[sys.executable, *SAFE_PATH_FLAGS, "-m", "ipykernel_launcher",
          "-f", "{connection_file}", *SAFE_PATH_ARGS,
          "--HistoryManager.hist_file=:memory:", "--IPKernelApp.quiet=True"],
    display_name="Python 3 (sandboxed)", language="python", interrupt_mode="message",
)


def make_kernel_manager(sandbox: Sandbox) -> AsyncKernelManager:
    km = SandboxKernelManager(transport="ipc", ip=str(sandbox.kernel_dir / "k"),
                              connection_file=str(sandbox.kernel_dir / "kernel.json"))
    km.sandbox = sandbox
    return km


class SandboxKernelManager(AsyncKernelManager):
    sandbox: Sandbox

    @property
    def kernel_spec(self) -> KernelSpec:
        return SANDBOX_KERNEL_SPEC

    def format_kernel_cmd(self, extra_arguments=None):
        return self.sandbox.wrap(super().format_kernel_cmd(extra_arguments))
