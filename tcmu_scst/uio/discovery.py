"""Find the UIO device that the kernel created for a TCMU backstore, by its name.

``target_core_user`` names each device ``tcm-user/<hba>/<object>/<dev_config>`` and, by the
convention every TCMU userspace follows, ``dev_config`` is ``<subtype>/<handler config>``.
Matching on that name (rather than on the UIO index, which is allocation order) is what lets a
restarted worker find its devices again.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

UIO_SYSFS = Path("/sys/class/uio")
TCMU_NAME_PREFIX = "tcm-user/"


class NotTcmuDeviceError(ValueError):
    """The UIO device does not belong to target_core_user."""


@dataclass(frozen=True)
class TcmuName:
    """The parts of a ``tcm-user/...`` UIO name."""

    hba: int
    object_name: str
    subtype: str
    config: str

    @classmethod
    def parse(cls, name: str) -> TcmuName:
        if not name.startswith(TCMU_NAME_PREFIX):
            raise NotTcmuDeviceError(f"not a TCMU UIO name: {name!r}")
        parts = name[len(TCMU_NAME_PREFIX) :].split("/", 3)
        if len(parts) < 2 or not parts[0].isdigit():
            raise NotTcmuDeviceError(f"malformed TCMU UIO name: {name!r}")
        subtype = parts[2] if len(parts) > 2 else ""
        config = parts[3] if len(parts) > 3 else ""
        return cls(hba=int(parts[0]), object_name=parts[1], subtype=subtype, config=config)


@dataclass(frozen=True)
class UioDevice:
    """One ``/sys/class/uio/uioN`` entry."""

    index: int
    name: str
    sysfs: Path

    @property
    def node(self) -> Path:
        return Path("/dev") / f"uio{self.index}"

    @property
    def tcmu_name(self) -> TcmuName:
        return TcmuName.parse(self.name)

    def map_size(self, map_index: int = 0) -> int:
        """Size of the mapping in bytes; the kernel refuses an mmap of any other length."""
        text = (self.sysfs / "maps" / f"map{map_index}" / "size").read_text()
        return int(text.strip(), 0)


def list_uio_devices(sysfs: Path = UIO_SYSFS) -> list[UioDevice]:
    devices = []
    if not sysfs.is_dir():
        return devices
    for entry in sysfs.iterdir():
        if not entry.name.startswith("uio") or not entry.name[3:].isdigit():
            continue
        try:
            name = (entry / "name").read_text().rstrip("\n")
        except OSError:
            continue  # removed while we looked
        devices.append(UioDevice(index=int(entry.name[3:]), name=name, sysfs=entry))
    return sorted(devices, key=lambda device: device.index)


def list_tcmu_devices(sysfs: Path = UIO_SYSFS) -> list[UioDevice]:
    return [d for d in list_uio_devices(sysfs) if d.name.startswith(TCMU_NAME_PREFIX)]


def find_tcmu_device(hba: int, object_name: str, sysfs: Path = UIO_SYSFS) -> UioDevice:
    """The UIO device of backstore ``core/user_<hba>/<object_name>``."""
    for device in list_tcmu_devices(sysfs):
        tcmu = device.tcmu_name
        if tcmu.hba == hba and tcmu.object_name == object_name:
            return device
    raise FileNotFoundError(f"no UIO device for core/user_{hba}/{object_name} in {sysfs}")
