"""Emulated loopback fabric (``tcm_loop``): a local SCSI host per target, disks per LUN.

As on Debian 12's kernel:

* target names must contain ``naa.``, ``fc.`` or ``iqn.`` (the emulated protocol); each one
  takes the lowest free SCSI host number, shown in ``tpgt_N/address`` as ``host:0:N``.
* ``nexus`` reads ENODEV until written; it takes an initiator name with the target's prefix
  (EINVAL otherwise), once (EEXIST); ``NULL`` drops it (ENODEV without one, EPERM while LUNs
  hold ports).  An ``fc.`` nexus reads back without its prefix.
* a LUN linked while a nexus exists becomes SCSI device ``host:0:N:lun`` (a disk ``sdX``,
  given a device that answers the scan);
  a LUN linked *before* the nexus never does, and its port is never given back when it is
  unlinked, so that nexus can no longer be dropped (EPERM).  The TPG can still be removed,
  but the nexus (and the lost port) outlives it: a new ``tpgt_N`` of the same target finds
  it in place (EEXIST on writing another) until the target itself is removed.
* ``np/`` has no portals (ENOSYS).
"""

from __future__ import annotations

import errno
from dataclasses import dataclass

from .fabric import Fabric, Lun, Tpg, Wwn
from .nodes import Group, parse_int, refuse

PREFIXES = ("naa.", "fc.", "iqn.")


def _prefix(name: str) -> str | None:
    return next((prefix for prefix in PREFIXES if prefix in name), None)


class LoopbackFabric(Fabric):
    def __init__(self, name: str, parent: Group):
        super().__init__(name, parent)
        self.constant("version", "TCM Loopback Fabric module v2.1-rc2\n")

    def check_wwn(self, name: str) -> None:
        if _prefix(name) is None:
            refuse(errno.EINVAL, f"{name!r}: no naa., fc. or iqn. prefix")

    def wwn_item(self, name: str) -> Wwn:
        return LoopbackWwn(name, self)


@dataclass
class Nexus:
    """What tcm_loop keeps per TPG tag in the target (it survives the TPG's rmdir)."""

    initiator: str | None = None
    ports: int = 0  # LUNs linked, minus those whose SCSI device went away cleanly


class LoopbackWwn(Wwn):
    def __init__(self, name: str, parent: LoopbackFabric):
        super().__init__(name, parent)
        self.prefix = _prefix(name)
        self.host = self.kernel.add_scsi_host()
        self.nexuses: dict[int, Nexus] = {}

    def tpg_item(self, name: str, tag: int) -> Tpg:
        return LoopbackTpg(name, self, tag)

    def dropped(self) -> None:
        self.kernel.remove_scsi_host(self.host)


class LoopbackTpg(Tpg):
    def __init__(self, name: str, parent: LoopbackWwn, tag: int):
        super().__init__(name, parent, tag)
        self.loop_wwn = parent
        self.state = parent.nexuses.setdefault(tag, Nexus())
        self.online = True
        self.attrib.value("fabric_prot_type", "0",
                          lambda text: str(parse_int(text, 0, 3, what="fabric_prot_type")))
        self.attribute("nexus", self._show_nexus, self._store_nexus)
        self.attribute("address", lambda: f"{parent.host}:0:{tag}\n")
        self.attribute("transport_status", lambda: "online\n" if self.online else "offline\n",
                       self._store_status)

    def _show_nexus(self) -> str:
        nexus = self.state.initiator
        if nexus is None:
            refuse(errno.ENODEV, "nexus: none")
        return f"{nexus[3:] if nexus.startswith('fc.') else nexus}\n"

    def _store_nexus(self, text: str) -> None:
        name = text.rstrip("\n")
        if name == "NULL":
            if self.state.initiator is None:
                refuse(errno.ENODEV, "nexus: none to drop")
            self._drop_nexus()
            return
        if self.state.initiator is not None:
            refuse(errno.EEXIST, "nexus: already set")
        if self.loop_wwn.prefix not in name:
            refuse(errno.EINVAL, f"nexus: {name!r} lacks the target's {self.loop_wwn.prefix} "
                                 "prefix")
        self.state.initiator = name

    def _drop_nexus(self) -> None:
        if self.state.ports:
            refuse(errno.EPERM, f"nexus: {self.state.ports} LUN port(s) still active")
        self.state.initiator = None

    def dropped(self) -> None:
        if not self.state.ports:  # otherwise the kernel fails to drop it, quietly
            self.state.initiator = None

    def _store_status(self, text: str) -> None:
        status = text.rstrip("\n")
        if status not in ("online", "offline"):
            refuse(errno.EINVAL, "transport_status: online or offline")
        self.online = status == "online"

    def address(self, lun: Lun) -> str:
        return f"{self.loop_wwn.host}:0:{self.tag}:{lun.number}"

    def lun_linked(self, lun: Lun) -> None:
        self.state.ports += 1
        if self.state.initiator is not None:
            self.kernel.add_disk(self.address(lun))

    def lun_unlinked(self, lun: Lun) -> None:
        address = self.address(lun)
        if address in self.kernel.disks:
            self.kernel.remove_disk(address)
            self.state.ports -= 1
