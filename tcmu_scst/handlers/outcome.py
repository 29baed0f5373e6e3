"""What executing a command produces: an immediate answer, or I/O to run (maybe elsewhere).

Emulated commands answer at once.  Backend I/O comes back as :class:`Deferred`, which the
worker first runs inline without blocking (``nowait``), and hands to an I/O thread only when
the kernel says the data is not at hand, so page-cache hits never pay for a thread switch.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import NamedTuple

from .sense import GOOD


class Outcome(NamedTuple):
    """A response.  ``data_in_length`` is how many Data-In bytes the command produced; the
    rest of the buffer is cut off or zeroed.  Only a command whose buffer carried Data-Out
    says None, since the kernel never copies that buffer back."""

    status: int = GOOD
    sense: bytes = b""
    data_in_length: int | None = 0


# No data produced; should the initiator have given a Data-In buffer anyway, it gets zeros.
NO_DATA = Outcome()
# The buffer held the initiator's Data-Out: nothing of it goes back.
DATA_OUT_CONSUMED = Outcome(data_in_length=None)


class Deferred:
    """Backend I/O for one command; ``run(nowait)`` raises BlockingIOError to ask for a thread."""

    __slots__ = ("run",)

    def __init__(self, run: Callable[[bool], Outcome]):
        self.run = run
