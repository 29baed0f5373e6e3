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
    status: int = GOOD
    sense: bytes = b""
    data_in_length: int | None = None  # Data-In bytes produced; None: no Data-In


NO_DATA = Outcome()


class Deferred:
    """Backend I/O for one command; ``run(nowait)`` raises BlockingIOError to ask for a thread."""

    __slots__ = ("run",)

    def __init__(self, run: Callable[[bool], Outcome]):
        self.run = run
