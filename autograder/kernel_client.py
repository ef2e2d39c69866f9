"""nbclient's ``NotebookClient`` with one fix, used wherever the course runs a notebook
(lessons in the tests, ``w2s check``, ``w2s grade``).

The fix: every wait on the kernel's shell and IOPub channels polls in one-second slices
until its own deadline. nbclient waits for a cell's execute reply with one poll as long as
the cell's time limit; when a cell displays an ipywidgets Output (lesson 03's slider),
nbclient answers the widget on the same shell socket while that poll is pending, and now
and then the poll never wakes although the reply has arrived: the run then sits idle for
the whole limit (measured here: lesson 03 took 608 s instead of 9 s, in about one run
of ten). A fresh poll sees a message already waiting, so slicing the wait bounds the stall
to a second without changing any time limit. Reported upstream as jupyter/nbclient#312.
"""

from __future__ import annotations

import time
from queue import Empty

from jupyter_core.utils import ensure_async
from nbclient import NotebookClient as _NotebookClient

POLL_SLICE_S = 1.0


def sliced_get_msg(get_msg, slice_s: float = POLL_SLICE_S):
    """``get_msg(timeout)`` as repeated polls of at most ``slice_s`` seconds each, raising
    ``queue.Empty`` only once the whole ``timeout`` has passed (``None``: wait for ever)."""

    async def get_msg_in_slices(timeout: float | None = None):
        deadline = None if timeout is None else time.monotonic() + timeout
        while True:
            wait = slice_s if deadline is None else max(0.0, min(slice_s, deadline - time.monotonic()))
            try:
                return await ensure_async(get_msg(timeout=wait))
            except Empty:
                if deadline is not None and time.monotonic() >= deadline:
                    raise

    get_msg_in_slices.__wrapped__ = get_msg
    return get_msg_in_slices


class NotebookClient(_NotebookClient):
    """``nbclient.NotebookClient`` whose channel waits poll in slices (module docstring)."""

    async def async_start_new_kernel_client(self):
        kc = await super().async_start_new_kernel_client()
        for channel in (kc.shell_channel, kc.iopub_channel):
            if not hasattr(channel.get_msg, "__wrapped__"):
                channel.get_msg = sliced_get_msg(channel.get_msg)
        return kc
