"""Undo for multi-step configfs operations: a failed step takes back the steps before it.

The SCST tree commits its own state only after LIO accepted the whole command, so every LIO
operation must either finish or leave configfs as it found it.  Each step registers its
inverse; on an exception the inverses run newest first, and the original error propagates.
An inverse that fails too is logged, never raised, so it cannot hide the original error.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from types import TracebackType

log = logging.getLogger(__name__)


class Rollback:
    """``with Rollback() as undo: step(); undo.add(inverse, *args); ...``"""

    def __init__(self) -> None:
        self._steps: list[tuple[Callable[..., object], tuple[object, ...]]] = []

    def add(self, inverse: Callable[..., object], *args: object) -> None:
        self._steps.append((inverse, args))

    def __enter__(self) -> Rollback:
        return self

    def __exit__(self, kind: type[BaseException] | None, error: BaseException | None,
                 traceback: TracebackType | None) -> None:
        if error is None:
            return
        for inverse, args in reversed(self._steps):
            try:
                inverse(*args)
            except Exception as failure:  # must not mask the original error
                log.error("undo %s%r after %s failed: %s", getattr(inverse, "__name__", inverse),
                          args, error, failure)
        self._steps.clear()
