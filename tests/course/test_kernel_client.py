"""The course's notebook client: waits on a kernel channel poll in slices (see
autograder/kernel_client.py for the stall it prevents)."""

import asyncio
import time
from queue import Empty

import pytest

from autograder import check, execute, notebooks
from autograder.kernel_client import NotebookClient, sliced_get_msg


class Channel:
    """A channel whose first ``misses`` polls see nothing, however long they wait (the lost
    wake-up), and whose next poll finds the message already there."""

    def __init__(self, misses: int):
        self.misses, self.polls = misses, []

    async def get_msg(self, timeout=None):
        self.polls.append(timeout)
        if len(self.polls) <= self.misses:
            await asyncio.sleep(min(timeout, 0.05) if timeout is not None else 0.05)
            raise Empty
        return {"msg_type": "execute_reply"}


def test_a_missed_wake_up_costs_one_slice_not_the_whole_timeout():
    channel = Channel(misses=2)
    get_msg = sliced_get_msg(channel.get_msg, slice_s=0.05)
    start = time.monotonic()
    assert asyncio.run(get_msg(timeout=600)) == {"msg_type": "execute_reply"}
    assert time.monotonic() - start < 5
    assert len(channel.polls) == 3 and all(t <= 0.05 for t in channel.polls)


def test_the_whole_timeout_still_ends_in_empty():
    channel = Channel(misses=10**6)
    get_msg = sliced_get_msg(channel.get_msg, slice_s=0.05)
    start = time.monotonic()
    with pytest.raises(Empty):
        asyncio.run(get_msg(timeout=0.3))
    assert 0.25 <= time.monotonic() - start < 3


def test_no_timeout_waits_in_slices_until_a_message_comes():
    channel = Channel(misses=4)
    assert asyncio.run(sliced_get_msg(channel.get_msg, slice_s=0.01)(timeout=None))
    assert channel.polls == [0.01] * 5


def test_every_runner_of_the_course_uses_it():
    # lessons in the tests, `w2s check` and `w2s grade` all run notebooks through it
    assert execute.NotebookClient is NotebookClient
    for module in (check, notebooks):
        source = open(module.__file__).read()
        assert "from autograder.kernel_client import NotebookClient" in source
        assert "from nbclient import NotebookClient" not in source
