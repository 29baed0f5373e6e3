"""State the emulated kernel keeps outside configfs: UIO devices, SCSI hosts and disks.

The loopback fabric makes SCSI disks appear; when a sysfs directory is given they are also
written there (``class/scsi_device/H:C:T:L/device/block/sdX``) so the code that looks for
``/dev/sdX`` runs unchanged against the emulation.
"""

from __future__ import annotations

import shutil
import string
from dataclasses import dataclass, field
from pathlib import Path


@dataclass
class KernelState:
    release: str = "6.1.0-emulated"
    sysfs: Path | None = None
    uio_names: list[str] = field(default_factory=list)
    scsi_hosts: set[int] = field(default_factory=set)
    disks: dict[str, str] = field(default_factory=dict)  # "H:C:T:L" -> "sdX"
    next_hba_index: int = 1
    online_cpus: int = 2  # CPUs 0..online_cpus-1 (what cmd_completion_affinity accepts)

    def add_uio(self, name: str) -> None:
        self.uio_names.append(name)

    def remove_uio(self, name: str) -> None:
        if name in self.uio_names:
            self.uio_names.remove(name)

    def allocate_hba_index(self) -> int:
        index = self.next_hba_index
        self.next_hba_index += 1
        return index

    def add_scsi_host(self) -> int:
        number = 0
        while number in self.scsi_hosts:
            number += 1
        self.scsi_hosts.add(number)
        return number

    def remove_scsi_host(self, number: int) -> None:
        self.scsi_hosts.discard(number)

    def add_disk(self, address: str) -> str:
        used = set(self.disks.values())
        name = next(f"sd{letter}" for letter in string.ascii_lowercase if f"sd{letter}" not in used)
        self.disks[address] = name
        if self.sysfs is not None:
            (self.sysfs / "class" / "scsi_device" / address / "device" / "block" / name).mkdir(
                parents=True)
        return name

    def remove_disk(self, address: str) -> None:
        self.disks.pop(address, None)
        if self.sysfs is not None:
            shutil.rmtree(self.sysfs / "class" / "scsi_device" / address, ignore_errors=True)
