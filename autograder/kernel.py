"""A Jupyter kernel manager whose kernel runs inside a submission's sandbox.

The grader (outside) talks to the kernel (inside) over Unix sockets in the sandbox's
``kernel/`` folder: Unix sockets cross the network namespace that keeps the kernel offline.
Interrupts travel as messages, because the kernel is not in our process group.
"""

from __future__ import annotations

import sys

from jupyter_client.kernelspec import KernelSpec
from jupyter_client.manager import AsyncKernelManager

from .sandbox import Sandbox


def make_kernel_manager(sandbox: Sandbox) -> AsyncKernelManager:
    km = SandboxKernelManager(transport="ipc", ip=str(sandbox.kernel_dir / "k"),
                              connection_file=str(sandbox.kernel_dir / "kernel.json"))
    km.sandbox = sandbox
    km._kernel_spec = KernelSpec(
        argv=[sys.executable, "-m", "ipykernel_launcher", "-f", "{connection_file}",
              "--HistoryManager.hist_file=:memory:", "--IPKernelApp.quiet=True"],
        display_name="Python 3 (sandboxed)", language="python", interrupt_mode="message",
    )
    return km


class SandboxKernelManager(AsyncKernelManager):
    sandbox: Sandbox

    def format_kernel_cmd(self, extra_arguments=None):
        return self.sandbox.wrap(super().format_kernel_cmd(extra_arguments))
