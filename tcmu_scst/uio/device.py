"""An open TCMU UIO device: the exclusive fd, the whole-map mmap, wait and doorbell.

The kernel allows one opener per device (EBUSY for the next) and insists that the mapping
covers exactly ``maps/map0/size`` bytes from offset 0.  Waiting is a 4-byte read (or poll);
the doorbell that makes the kernel look at ``cmd_tail`` is a 4-byte write.
"""

from __future__ import annotations

import mmap
import os

from .discovery import UioDevice
from .mailbox import MailboxSnapshot

EVENT_BYTES = b"\0\0\0\0"


class OpenUioDevice:
    def __init__(self, device: UioDevice):
        self.device = device
        self.size = device.map_size()
        self.fd = os.open(device.node, os.O_RDWR | os.O_NONBLOCK | os.O_CLOEXEC)
        try:
            self.map = mmap.mmap(self.fd, self.size, mmap.MAP_SHARED,
                                 mmap.PROT_READ | mmap.PROT_WRITE)
        except BaseException:
            os.close(self.fd)
            raise

    def fileno(self) -> int:
        return self.fd

    def mailbox(self) -> MailboxSnapshot:
        return MailboxSnapshot.read(self.map)

    def acknowledge(self) -> bool:
        """Consume the pending event, so the next poll sleeps until the kernel posts again.

        Call before fetching: a command published after this read raises a new event.
        """
        try:
            os.read(self.fd, 4)
        except BlockingIOError:
            return False
        return True

    def notify(self) -> None:
        """Doorbell: the kernel processes completions up to the published tail."""
        os.write(self.fd, EVENT_BYTES)

    def close(self) -> None:
        self.map.close()
        os.close(self.fd)

    def __enter__(self) -> OpenUioDevice:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()
