"""The TCMU mailbox: the 128-byte header at offset 0 of the shared mapping.

Layout (``struct tcmu_mailbox`` in the kernel's uapi ``target_core_user.h``): version u16 at
0, flags u16 at 2, cmdr_off u32 at 4, cmdr_size u32 at 8, cmd_head u32 at 12, and cmd_tail u32
alone on the second 64-byte cache line at 64.  All host-endian.
"""

from __future__ import annotations

import mmap
import struct
from dataclasses import dataclass

SUPPORTED_VERSION = 2
MAILBOX_SIZE = 128
_HEAD = struct.Struct("=HHIII")
_TAIL = struct.Struct("=I")
TAIL_OFFSET = 64

FLAG_OUT_OF_ORDER_COMPLETION = 0x1
FLAG_READ_LEN = 0x2
FLAG_TMR = 0x4
FLAG_KEEP_BUF = 0x8


@dataclass(frozen=True)
class MailboxSnapshot:
    """The mailbox fields as read at one instant."""

    version: int
    flags: int
    cmdr_off: int
    cmdr_size: int
    cmd_head: int
    cmd_tail: int

    @property
    def data_off(self) -> int:
        """Start of the data area: the ring ends there, rounded up to a page."""
        end = self.cmdr_off + self.cmdr_size
        return -(-end // mmap.PAGESIZE) * mmap.PAGESIZE

    @classmethod
    def read(cls, buffer: bytes | bytearray | memoryview | mmap.mmap) -> MailboxSnapshot:
        version, flags, cmdr_off, cmdr_size, cmd_head = _HEAD.unpack_from(buffer, 0)
        (cmd_tail,) = _TAIL.unpack_from(buffer, TAIL_OFFSET)
        return cls(version, flags, cmdr_off, cmdr_size, cmd_head, cmd_tail)
