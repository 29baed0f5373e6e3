"""A udev event as the watcher keeps it: plain, immutable data captured at once.

A pyudev ``Device`` reads sysfs lazily, and after ``remove`` sysfs is gone; the watcher
therefore copies what it needs (udev properties, size, links, ancestry) in the observer
thread, the moment the event arrives, and works on that copy later.  Everything after this
module sees only :class:`DiskEvent`, which tests build directly.
"""

from __future__ import annotations

import time
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from types import MappingProxyType
from typing import Any

SECTOR = 512  # sysfs "size" counts 512-byte sectors whatever the logical block size
LINK_PREFERENCE = ("/dev/disk/by-id/wwn-", "/dev/disk/by-id/scsi-", "/dev/disk/by-id/")
# the parent driver and bus of the SCSI hosts tcm_loop registers for our own exports
TCM_LOOP_DRIVER, TCM_LOOP_BUS = "tcm_loop", "tcm_loop_bus"


@dataclass(frozen=True)
class DiskEvent:
    """One udev event of a whole block disk (not a partition)."""

    action: str  # add, remove, change, online, offline, bind, ... (unknown ones tolerated)
    sys_name: str  # sdb
    devname: str | None = None  # /dev/sdb
    properties: Mapping[str, str] = field(default_factory=dict)
    size: int | None = None  # bytes; None when sysfs could not say (after remove)
    links: tuple[str, ...] = ()
    under_tcm_loop: bool = False  # a disk of a tcm_loop host: one of our own exports
    received: float = field(default_factory=time.monotonic)

    def __post_init__(self) -> None:
        object.__setattr__(self, "properties", MappingProxyType(dict(self.properties)))

    @property
    def wwn(self) -> str | None:
        return self.properties.get("ID_WWN_WITH_EXTENSION") or self.properties.get("ID_WWN")

    @property
    def serial(self) -> str | None:
        return self.properties.get("ID_SERIAL") or None

    @property
    def key(self) -> str:
        """What makes two events about the same physical disk: its WWN or serial where the
        disk has one (a disk that returns under another node keeps them), else its node."""
        if self.wwn:
            return f"wwn:{self.wwn}"
        if self.serial:
            return f"serial:{self.serial}"
        return f"node:{self.devname or self.sys_name}"

    @property
    def present(self) -> bool:
        """Whether the disk is there after this event (media gone counts as not there)."""
        return self.action != "remove" and self.size != 0

    def stable_path(self) -> str | None:
        """The best name for the disk that survives re-plugging: a ``by-id`` link (WWN
        first), else the node."""
        for prefix in LINK_PREFERENCE:
            for link in sorted(self.links):
                if link.startswith(prefix):
                    return link
        return self.devname


def _size_of(device: Any) -> int | None:
    try:
        return int(device.attributes.asint("size")) * SECTOR
    except (KeyError, ValueError, OSError, AttributeError):
        return None


def _under_tcm_loop(device: Any) -> bool:
    if f"/{TCM_LOOP_DRIVER}_" in (getattr(device, "sys_path", "") or ""):
        return True
    try:
        return any(parent.driver == TCM_LOOP_DRIVER or parent.subsystem == TCM_LOOP_BUS
                   for parent in device.ancestors)
    except (OSError, AttributeError, KeyError):
        return False


def capture(device: Any, action: str | None = None) -> DiskEvent:
    """Copy a pyudev ``Device`` (or anything with its attributes) into a DiskEvent.
    ``action`` names what a device found by enumeration stands for (``add``)."""
    properties = dict(device.properties.items())
    links: Iterable[str] = getattr(device, "device_links", ()) or ()
    return DiskEvent(
        action=action or device.action or "change",
        sys_name=device.sys_name,
        devname=device.device_node or properties.get("DEVNAME"),
        properties=properties,
        size=_size_of(device) if (action or device.action) != "remove" else None,
        links=tuple(links),
        under_tcm_loop=_under_tcm_loop(device),
    )


def is_whole_disk(device: Any) -> bool:
    return device.subsystem == "block" and device.device_type == "disk"
