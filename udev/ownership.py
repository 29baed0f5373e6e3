"""Is a disk one of our own exports?  Then the watcher must never follow or export it.

A LUN we export through tcm_loop (or through iSCSI to this very host) shows up here as a
block disk like any other.  Picking it up again would stack a device on itself, and an
auto-export rule broad enough (``ID_BUS=scsi``) would do so for ever.  A disk is ours when
any of these holds:

* udev marked it (``TCMU_SCST_OWN=1``, from ``99-tcmu-scst.rules``);
* one of its ancestors is a tcm_loop SCSI host (LIO's loopback fabric);
* its INQUIRY vendor is LIO's default (``LIO-ORG``), the default of one of our handlers
  (their declarations say it: ``SCST_BIO``, ``SCST_FIO``, a plugin's) or one an
  administrator gave a device of ours (``t10_vend_id``);
* its unit serial number is one of our devices' ``usn``.
"""

from __future__ import annotations

from collections.abc import Iterable

from ..handlers.registry import declarations
from .events import DiskEvent

OWN_MARK = "TCMU_SCST_OWN"
LIO_VENDOR = "LIO-ORG"


def own_vendors() -> frozenset[str]:
    """LIO's vendor and every handler's default vendor."""
    return frozenset({LIO_VENDOR, *(handler.vendor for handler in declarations().values())})


def _udev_string(text: str) -> str:
    """As udev's ID_VENDOR shows an INQUIRY string: trimmed, inner blanks as ``_``."""
    return "_".join(text.split())


def is_own_export(event: DiskEvent, vendors: Iterable[str] = (),
                  serials: Iterable[str] = ()) -> bool:
    """Whether ``event`` is about a disk we export ourselves (see the module notes)."""
    properties = event.properties
    if properties.get(OWN_MARK) == "1" or event.under_tcm_loop:
        return True
    vendor = _udev_string(properties.get("ID_VENDOR", ""))
    if vendor and vendor in {_udev_string(name) for name in (*own_vendors(), *vendors)}:
        return True
    serial = properties.get("ID_SCSI_SERIAL", "").strip()
    return bool(serial) and serial in set(serials)
