"""Refusals of the tree, also in the kernel log, where SCST's own tools send users.

On SCST a refused ``mgmt`` write fails with an errno and the reason is in the kernel log
(scstadmin says ``See "dmesg"``).  tcmu-scstd logs the reason in its own log and, through
this module, as one line in the kernel log, named after the daemon, so that advice works
here too.  Writing there is best effort: without ``/dev/kmsg`` (a container) the daemon's
log still has the line.
"""

from __future__ import annotations

import logging
import os
import threading

log = logging.getLogger(__name__)

KMSG = "/dev/kmsg"
WARNING_LEVEL = 4  # KERN_WARNING: a refused command is not an error of the system
MAX_LINE = 900  # the kernel cuts a record at about 1 KiB


class KernelLog:
    """Appends ``<4>tcmu-scstd: ...`` lines to ``path`` (the kernel log by default)."""

    def __init__(self, path: str = KMSG, name: str = "tcmu-scstd"):
        self.path = path
        self.name = name
        self._lock = threading.Lock()
        self._descriptor: int | None = None
        self._unusable = False

    def refusal(self, message: str) -> None:
        """One line; control characters and an overlong reason are cut, never the write."""
        text = "".join(character if character.isprintable() else "?" for character in message)
        record = f"<{WARNING_LEVEL}>{self.name}: {text[:MAX_LINE]}\n".encode()
        with self._lock:
            if self._unusable:
                return
            try:
                if self._descriptor is None:
                    self._descriptor = os.open(self.path, os.O_WRONLY | os.O_APPEND
                                               | os.O_CLOEXEC | os.O_NONBLOCK)
                os.write(self._descriptor, record)
            except OSError as error:
                self._unusable = True
                log.info("%s: cannot write refusals to the kernel log: %s", self.path, error)

    def close(self) -> None:
        with self._lock:
            if self._descriptor is not None:
                os.close(self._descriptor)
                self._descriptor = None
