"""tcm_loop exports: a backstore as a local SCSI disk (``/dev/sdX``) through LIO's loopback.

The I_T nexus must exist before a LUN is linked: a LUN linked earlier is never scanned, and
the kernel then never gives its port back, so the nexus can no longer be dropped.  This
module therefore writes the nexus in :meth:`LoopbackExport.create` and refuses LUNs while
there is none.  The disk appears as SCSI device ``<host>:0:<tag>:<lun>``, where the TPG's
``address`` file gives ``<host>:0:<tag>``.
"""

from __future__ import annotations

import errno
import os
import secrets
import time
from pathlib import Path

from .configfs import DEFAULT_CONFIGFS, Configfs, ConfigfsError, invalid
from .rollback import Rollback
from .tpg import TargetPortalGroup

DEFAULT_SYSFS = "/sys"
NAA_PREFIX = "naa.5001405"  # the IEEE OUI LIO uses for generated names, as rtslib does
PREFIXES = ("naa.", "fc.", "iqn.")


def random_naa() -> str:
    """A fresh NAA-5 name (``naa.5001405`` and nine random hex digits)."""
    return NAA_PREFIX + secrets.token_hex(5)[:9]


class LoopbackExport(TargetPortalGroup):
    """``target/loopback/<wwn>/tpgt_<tag>`` with its nexus: each LUN a local disk."""

    fabric = "loopback"

    def __init__(self, wwn: str, configfs: Configfs | str | Path = DEFAULT_CONFIGFS,
                 tag: int = 1, sysfs: str | Path = DEFAULT_SYSFS):
        super().__init__(wwn, configfs, tag)
        self.prefix = next((prefix for prefix in PREFIXES if wwn.startswith(prefix)), None)
        if self.prefix is None:
            raise invalid(f"{wwn!r}: a loopback name starts with naa., fc. or iqn.")
        self.sysfs = Path(sysfs)
        self.initiator_wwn: str | None = None  # the nexus, once create() wrote it

    def create(self, initiator_wwn: str | None = None) -> None:  # type: ignore[override]
        """The target, its TPG and the nexus (``initiator_wwn``, generated if None)."""
        initiator = initiator_wwn or (random_naa() if self.prefix == "naa." else None)
        if initiator is None or not initiator.startswith(self.prefix or ""):
            raise invalid(f"nexus {initiator_wwn!r}: needs the target's prefix {self.prefix}")
        self.initiator_wwn = initiator
        super().create()

    def after_create(self, undo: Rollback) -> None:
        assert self.initiator_wwn is not None
        self.fs.write(self.tpg_path / "nexus", self.initiator_wwn)

    def nexus(self) -> str | None:
        try:
            return self.fs.read(self.tpg_path / "nexus").strip()
        except ConfigfsError as error:
            if error.errno == errno.ENODEV:
                return None
            raise

    def check_lun_add(self) -> None:
        if self.nexus() is None:
            raise invalid(f"{self.wwn}: write the nexus before linking LUNs")

    def before_remove(self) -> None:
        for lun in self.luns():
            self.remove_lun(lun)
        if self.nexus() is not None:
            self.fs.write(self.tpg_path / "nexus", "NULL")

    # -- the SCSI disk ---------------------------------------------------------------------

    def scsi_address(self, lun: int) -> str:
        """``host:channel:target:lun`` of the SCSI device the kernel makes for ``lun``."""
        return f"{self.fs.read(self.tpg_path / 'address').strip()}:{lun}"

    def find_disk(self, lun: int) -> Path | None:
        """``/dev/sdX`` of ``lun`` once the kernel's scan made it, else None."""
        block = self.sysfs / "class" / "scsi_device" / self.scsi_address(lun) / "device" / "block"
        try:
            names = sorted(os.listdir(block))
        except FileNotFoundError:
            return None
        return Path("/dev", names[0]) if names else None

    def wait_for_disk(self, lun: int, timeout: float = 30.0) -> Path:
        """The block device node the kernel made for ``lun`` (after its scan finished)."""
        deadline = time.monotonic() + timeout
        while True:
            disk = self.find_disk(lun)
            if disk is not None and (disk.exists() or not self._real_devices()):
                return disk
            if time.monotonic() >= deadline:
                raise TimeoutError(f"no disk appeared for {self.wwn} LUN {lun} "
                                   f"within {timeout:g} s")
            time.sleep(0.05)

    def _real_devices(self) -> bool:
        """Whether /dev nodes are to be expected (not when sysfs is a test's stand-in)."""
        return str(self.sysfs) == DEFAULT_SYSFS
