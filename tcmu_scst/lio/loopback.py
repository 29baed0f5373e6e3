"""tcm_loop exports: a backstore as a local SCSI disk (``/dev/sdX``) through LIO's loopback.

The I_T nexus must exist before a LUN is linked, or the kernel never scans the LUN.
"""

from __future__ import annotations

import os
import time
from pathlib import Path

from ..dataplane.spec import DEFAULT_CONFIGFS


class LoopbackExport:
    def __init__(self, wwn: str, configfs: str | Path = DEFAULT_CONFIGFS):
        self.wwn = wwn
        self.tpg = Path(configfs) / "target" / "loopback" / wwn / "tpgt_1"

    def create(self, initiator_wwn: str) -> None:
        self.tpg.mkdir(parents=True)
        (self.tpg / "nexus").write_text(initiator_wwn)

    def link_lun(self, lun: int, backstore_path: Path) -> None:
        lun_dir = self.tpg / "lun" / f"lun_{lun}"
        lun_dir.mkdir()
        os.symlink(backstore_path, lun_dir / backstore_path.name)

    def scsi_address(self, lun: int) -> str:
        return f"{(self.tpg / 'address').read_text().strip()}:{lun}"

    def wait_for_disk(self, lun: int, timeout: float = 30.0) -> Path:
        """The block device node the kernel made for ``lun`` (after its scan finished)."""
        block_dir = Path("/sys/bus/scsi/devices") / self.scsi_address(lun) / "block"
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if block_dir.is_dir():
                names = os.listdir(block_dir)
                if names and Path("/dev", names[0]).exists():
                    return Path("/dev", names[0])
            time.sleep(0.05)
        raise TimeoutError(f"no disk appeared for {self.wwn} LUN {lun} within {timeout:g} s")

    def unlink_lun(self, lun: int) -> None:
        lun_dir = self.tpg / "lun" / f"lun_{lun}"
        for entry in lun_dir.iterdir():
            if entry.is_symlink():
                entry.unlink()
        lun_dir.rmdir()

    def remove(self) -> None:
        for lun_dir in (self.tpg / "lun").glob("lun_*"):
            self.unlink_lun(int(lun_dir.name[4:]))
        (self.tpg / "nexus").write_text("NULL")
        self.tpg.rmdir()
        self.tpg.parent.rmdir()
