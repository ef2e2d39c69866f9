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


# The kernel the grader starts in every sandbox (the machine's own kernelspecs are not read).
SANDBOX_KERNEL_SPEC = KernelSpec(
    argv=[sys.executable, "-m", "ipykernel_launcher", "-f", "{connection_file}",
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
