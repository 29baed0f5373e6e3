"""Field extraction from CDBs: big-endian integers and the READ/WRITE family's LBA and length."""

from __future__ import annotations

from .sense import invalid_field_in_cdb


def be(cdb: bytes, start: int, length: int) -> int:
    return int.from_bytes(cdb[start : start + length], "big")


def rw_lba_and_blocks(cdb: bytes) -> tuple[int, int]:
    """LBA and transfer length in blocks of a READ/WRITE/VERIFY-style CDB of any size."""
    size = len(cdb)
    if size == 6:
        lba = ((cdb[1] & 0x1F) << 16) | (cdb[2] << 8) | cdb[3]
        return lba, cdb[4] or 256  # a zero length means 256 blocks in the 6-byte CDBs
    if size == 10:
        return be(cdb, 2, 4), be(cdb, 7, 2)
    if size == 12:
        return be(cdb, 2, 4), be(cdb, 6, 4)
    if size == 16:
        return be(cdb, 2, 8), be(cdb, 10, 4)
    raise invalid_field_in_cdb(0)
