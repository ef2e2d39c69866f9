"""One torch thread for tiny models, restored afterwards. Used by every training loop.

Measured on the course machine: alone, two threads beat one only modestly; beside another
busy process (a second kernel, a parallel grader), two threads ran 10-60x slower. The
models here are tiny, so one thread per process is the safe default. ``W2S_THREADS``
overrides it.
"""

from __future__ import annotations

import os
from contextlib import contextmanager


@contextmanager
def torch_threads(n: int | None = None):
    """Run the block with ``n`` torch threads (default: $W2S_THREADS or 1), then restore."""
    import torch

    n = int(n or os.environ.get("W2S_THREADS", "1"))
    previous = torch.get_num_threads()
    torch.set_num_threads(n)
    try:
        yield
    finally:
        torch.set_num_threads(previous)
