"""Threads that run blocking backend I/O so one slow command never stalls a ring.

The GIL is released inside preadv/pwritev/fdatasync, so these threads overlap real I/O.
Results go back to the ring's own thread through a deque and an eventfd: only that thread
touches the ring, and it publishes many completions with one doorbell.
"""

from __future__ import annotations

import contextlib
import logging
import os
import threading
from collections import deque
from queue import SimpleQueue
from typing import Any

from ..handlers.disk import error_outcome
from ..handlers.outcome import Deferred, Outcome
from ..uio.abi import ffi

log = logging.getLogger(__name__)


class IoThreads:
    def __init__(self, count: int = 4):
        self._queue: SimpleQueue[tuple[Any, Any, Deferred] | None] = SimpleQueue()
        self.finished: deque[tuple[Any, Any, Outcome]] = deque()
        self.wakeup_fd = os.eventfd(0, os.EFD_NONBLOCK | os.EFD_CLOEXEC)
        # bumped after every finished command: the compiled ring watch sees it without a
        # system call (uio/watch.py)
        self.finished_count = ffi.new("uint32_t *")
        self._count_lock = threading.Lock()
        self._threads = [
            threading.Thread(target=self._run, name=f"io-{index}", daemon=True)
            for index in range(count)
        ]
        for thread in self._threads:
            thread.start()

    def submit(self, owner: Any, command: Any, deferred: Deferred) -> None:
        self._queue.put((owner, command, deferred))

    def _run(self) -> None:
        while True:
            item = self._queue.get()
            if item is None:
                return
            owner, command, deferred = item
            try:
                outcome = deferred(False)
            except Exception as error:  # every error must become a SCSI response
                outcome = error_outcome(error)
            self.finished.append((owner, command, outcome))
            with self._count_lock:
                self.finished_count[0] = (self.finished_count[0] + 1) & 0xFFFFFFFF
            # Drop this command's references now, not when the next one arrives: its closure
            # holds the backend, and a block device that went away must be closed once its
            # last command is done (vdisk_blockio hotplug), not after an idle thread's wait.
            del item, owner, command, deferred, outcome
            os.eventfd_write(self.wakeup_fd, 1)

    def take_finished(self) -> list[tuple[Any, Any, Outcome]]:
        """Everything finished so far (call from the ring thread after the eventfd fires)."""
        with contextlib.suppress(BlockingIOError):
            os.eventfd_read(self.wakeup_fd)
        taken = []
        finished = self.finished
        while finished:
            taken.append(finished.popleft())
        return taken

    def stop(self) -> None:
        for _ in self._threads:
            self._queue.put(None)
        for thread in self._threads:
            thread.join(timeout=30)
        os.close(self.wakeup_fd)
