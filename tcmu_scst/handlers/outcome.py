"""What executing a command produces: an immediate answer, or I/O to run (maybe elsewhere).

Emulated commands answer at once.  Backend I/O comes back as a *deferred operation*: a plain
function ``run(nowait) -> Outcome`` that the worker first calls inline without blocking, and
hands to an I/O thread only when it raises BlockingIOError (the data is not at hand), so
page-cache hits never pay for a thread switch.  A plain function, not an object wrapping
one, because this is paid on every READ and WRITE.  READ and WRITE go one step further: they
make the non-blocking attempt themselves and build a deferred operation only when it fails
(the worker's own attempt then fails again at once, and the I/O thread does the work).
"""

from __future__ import annotations

from collections.abc import Callable
from types import FunctionType
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


Deferred = Callable[[bool], Outcome]
DEFERRED_TYPE = FunctionType  # what ``type(result) is`` tests for a deferred operation


# GOOD outcomes by Data-In length, shared (they are immutable); the hot path looks here first
DATA_IN_DONE: dict[int, Outcome] = {}


def data_in_done(length: int) -> Outcome:
    """The (shared, immutable) GOOD outcome with ``length`` bytes of Data-In."""
    outcome = DATA_IN_DONE.get(length)
    if outcome is None:
        outcome = DATA_IN_DONE[length] = Outcome(data_in_length=length)
    return outcome
