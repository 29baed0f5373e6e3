"""iSCSI targets in LIO configfs: one TPG (tag 1), LUNs, a portal, demo-mode access.

Order matters: LUNs, portal and attributes first, ``enable`` last, so an initiator never
logs in to a half-built target.
"""

from __future__ import annotations

import os
from pathlib import Path

from ..dataplane.spec import DEFAULT_CONFIGFS

DEMO_MODE_ATTRIBUTES = {
    "generate_node_acls": "1",  # any initiator may log in and sees the TPG's LUNs
    "cache_dynamic_acls": "1",
    "authentication": "0",
    "demo_mode_write_protect": "0",
}


class IscsiTarget:
    def __init__(self, iqn: str, configfs: str | Path = DEFAULT_CONFIGFS):
        self.iqn = iqn
        self.tpg = Path(configfs) / "target" / "iscsi" / iqn / "tpgt_1"

    def create(self) -> None:
        self.tpg.mkdir(parents=True)

    def link_lun(self, lun: int, backstore_path: Path) -> None:
        lun_dir = self.tpg / "lun" / f"lun_{lun}"
        lun_dir.mkdir()
        os.symlink(backstore_path, lun_dir / backstore_path.name)

    def add_portal(self, address: str = "127.0.0.1", port: int = 3260) -> None:
        (self.tpg / "np" / f"{address}:{port}").mkdir()

    def open_access(self) -> None:
        """Demo mode: no ACLs and no CHAP (tests and benchmarks on the loopback address)."""
        for name, value in DEMO_MODE_ATTRIBUTES.items():
            (self.tpg / "attrib" / name).write_text(value)

    def enable(self, enabled: bool = True) -> None:
        (self.tpg / "enable").write_text("1" if enabled else "0")

    def remove(self) -> None:
        self.enable(False)
        for portal in (self.tpg / "np").iterdir():
            portal.rmdir()
        for lun_dir in (self.tpg / "lun").glob("lun_*"):
            for entry in lun_dir.iterdir():
                if entry.is_symlink():
                    entry.unlink()
            lun_dir.rmdir()
        self.tpg.rmdir()
        self.tpg.parent.rmdir()
