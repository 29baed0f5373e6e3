"""Watching rings between wake-ups, in compiled code (``ring_watch`` in csrc/ring_abi.c).

Why: after a batch the worker keeps looking at its rings for a short while instead of
sleeping (a sleeping worker pays a full wake-up per command at low queue depth).  Done in
Python, every arrival cost a service call even when the fast lane answered the command in C,
and under emulation that call was most of the worker's time per command.  The compiled loop
looks, lets the lane serve, decides when to publish (the adaptive holding described there)
and comes back to Python only for an entry the lane leaves to it, completions to publish,
finished I/O or the end of watching.
"""

from __future__ import annotations

from typing import Any

from .abi import ffi, lib
from .ring import Ring

QUIET = lib.WATCH_QUIET      # nothing new for a while, or the burst limit: sleep again
ENTRY = lib.WATCH_ENTRY      # ``ring_index`` has an entry for the Python path
PUBLISH = lib.WATCH_PUBLISH  # store the tails and ring the doorbells now
IO = lib.WATCH_IO            # the I/O threads finished something


class RingWatch:
    """The watch's settings and its holding state, kept across wake-ups."""

    def __init__(self, quiet_ns: int, hold_ns: int, io_finished: Any = None):
        """``io_finished``: a C ``uint32_t *`` the I/O threads bump (or None)."""
        self.struct = ffi.new("struct ring_watch *")
        self.struct.quiet_ns = quiet_ns
        self.struct.hold_ns = hold_ns
        self.struct.peak = 2
        self._io_finished = io_finished
        if io_finished is not None:
            self.struct.io_finished = io_finished
        self._rings: list[Ring] = []
        self._array: Any = ffi.NULL

    @property
    def holding(self) -> bool:
        """Whether completions are being gathered."""
        return bool(self.struct.holding)

    @property
    def held(self) -> int:
        """Completions gathered and not yet published."""
        return self.struct.held

    @property
    def ring_index(self) -> int:
        """After ENTRY: the position in ``begin``'s list of the ring that has it."""
        return self.struct.ring

    def begin(self, rings: list[Ring], limit_ns: int) -> None:
        """Watch ``rings`` from now on, for at most ``limit_ns``."""
        if rings != self._rings:  # Ring compares by identity
            self._rings = list(rings)
            self._array = ffi.new("struct ring_state *[]", [ring.scan_state for ring in rings])
        now = lib.watch_clock()
        self.struct.limit = now + limit_ns
        self.struct.deadline = min(now + self.struct.quiet_ns, self.struct.limit)

    def note(self, taken: int) -> bool:
        """A batch of ``taken`` commands was served by Python: True when its completions are
        to be published now, False when they are held."""
        return bool(lib.watch_note(self.struct, taken))

    def taking_io(self) -> None:
        """The owner is about to take every finished I/O: IO reports only later ones."""
        if self._io_finished is not None:
            self.struct.io_seen = self._io_finished[0]

    def wait(self) -> int:
        """Look until something needs Python; one of QUIET, ENTRY, PUBLISH, IO."""
        reason = lib.ring_watch(self._array, len(self._rings), self.struct)
        for ring in self._rings:
            ring.caught_up()
        return reason

    def release(self) -> None:
        """The held completions are being published (adapts the holding)."""
        lib.watch_release(self.struct)

    def forget(self) -> None:
        """Drop the references to the rings watched last (one of them is going away)."""
        self._rings = []
        self._array = ffi.NULL
