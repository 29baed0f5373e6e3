"""Debouncing: let a disk's burst of events settle, then hand them over in one batch.

A disk that is pulled and pushed back, a multipath map that flaps or a rescan produce a
burst of events for one disk within milliseconds.  Acting on each would reopen the device
over and over and send the initiator a unit attention each time.  Instead events are
grouped by disk (:attr:`DiskEvent.key`); a group is handled once no event has arrived for
it for ``quiet`` seconds, or at the latest ``patience`` seconds after its first event (a
disk that never stops flapping is still followed).

``submit`` only appends to a queue and never waits for the handler: it runs in pyudev's
observer thread, which must keep draining the netlink socket during a storm.  The handler
runs in this object's own thread, one batch at a time, so the daemon talks to workers from
one place, off the data path (the workers are separate processes and see only the final
control request of each batch).
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field

from .events import DiskEvent

log = logging.getLogger(__name__)

DEFAULT_QUIET = 0.5
DEFAULT_PATIENCE = 5.0
Handler = Callable[[list[DiskEvent]], None]


@dataclass
class _Group:
    first: float
    last: float
    events: list[DiskEvent] = field(default_factory=list)


class Debouncer:
    def __init__(self, handler: Handler, quiet: float = DEFAULT_QUIET,
                 patience: float = DEFAULT_PATIENCE,
                 clock: Callable[[], float] = time.monotonic):
        self.handler = handler
        self.quiet = quiet
        self.patience = max(patience, quiet)
        self.clock = clock
        self.batches_handled = 0
        self._groups: dict[str, _Group] = {}
        self._condition = threading.Condition()
        self._stopping = False
        self._busy = False
        self._thread = threading.Thread(target=self._run, name="udev-debounce", daemon=True)

    def start(self) -> None:
        self._thread.start()

    def submit(self, event: DiskEvent) -> None:
        """Queue an event (any thread); returns at once."""
        now = self.clock()
        with self._condition:
            group = self._groups.get(event.key)
            if group is None:
                group = self._groups[event.key] = _Group(now, now)
            group.last = now
            group.events.append(event)
            self._condition.notify()

    def _due(self, now: float) -> tuple[list[list[DiskEvent]], float | None]:
        """The groups that settled, and how long until the next one may."""
        ready, wait = [], None
        for key, group in list(self._groups.items()):
            deadline = min(group.last + self.quiet, group.first + self.patience)
            if deadline <= now:
                ready.append(self._groups.pop(key).events)
            else:
                wait = deadline - now if wait is None else min(wait, deadline - now)
        return ready, wait

    def _run(self) -> None:
        while True:
            with self._condition:
                self._busy = False
                self._condition.notify_all()
                while True:
                    if self._stopping:
                        return
                    batches, wait = self._due(self.clock())
                    if batches:
                        self._busy = True
                        break
                    self._condition.wait(wait)
            for events in batches:
                try:
                    self.handler(events)
                except Exception:  # one bad batch must not end hotplug handling
                    log.exception("handling udev events for %s failed", events[-1].key)
                self.batches_handled += 1

    def settle(self, timeout: float = 10.0) -> bool:
        """Wait until every event submitted so far was handled (tests, shutdown)."""
        end = time.monotonic() + timeout
        with self._condition:
            while self._groups or self._busy:
                remaining = end - time.monotonic()
                if remaining <= 0:
                    return False
                self._condition.notify_all()
                self._condition.wait(min(remaining, 0.05))
        return True

    def stop(self) -> None:
        with self._condition:
            self._stopping = True
            self._condition.notify_all()
        if self._thread.is_alive():
            self._thread.join(5.0)
