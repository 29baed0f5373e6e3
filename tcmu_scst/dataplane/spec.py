"""What a worker is told about a device it serves: enough to find it and rebuild it.

Plain data, passed to the worker process as JSON, so a restarted worker needs nothing from
the process that died.
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass, field
from pathlib import Path

DEFAULT_CONFIGFS = "/sys/kernel/config"


@dataclass(frozen=True)
class PortRing:
    """One more ring of a device in an ALUA device group: the TCMU device ``core/user_N/
    <name>`` (same HBA as the device's own) that one target port's LUNs link to."""

    name: str
    relative_id: int  # the port's relative target port identifier
    protocol: int  # SCSI protocol identifier of its fabric (iSCSI 5, FC 0, SAS 6)


@dataclass(frozen=True)
class DeviceSpec:
    name: str  # the SCST device name, also the LIO storage object name
    handler: str  # vdisk_fileio, vdisk_nullio, ...
    hba: int  # N of core/user_N
    params: dict[str, str] = field(default_factory=dict)
    configfs: str = DEFAULT_CONFIGFS
    ports: tuple[PortRing, ...] = ()

    @property
    def backstore_dir(self) -> Path:
        return self.backstore_dir_of(self.name)

    def backstore_dir_of(self, name: str) -> Path:
        """The configfs directory of this device's storage object ``name`` (its own or a
        port ring's)."""
        return Path(self.configfs) / "target" / "core" / f"user_{self.hba}" / name


def specs_to_json(specs: list[DeviceSpec]) -> str:
    return json.dumps([asdict(spec) for spec in specs])


def ports_to_json(ports: tuple[PortRing, ...]) -> str:
    return json.dumps([asdict(port) for port in ports])


def ports_from_json(text: str) -> tuple[PortRing, ...]:
    """Port rings as the daemon sends them; ValueError for anything else."""
    try:
        entries = json.loads(text)
        if not isinstance(entries, list):
            raise TypeError("expected a list")
        ports = tuple(PortRing(str(entry["name"]), int(entry["relative_id"]),
                               int(entry["protocol"])) for entry in entries)
    except (TypeError, KeyError, ValueError) as error:
        raise ValueError(f"not a list of port rings: {error!r}") from None
    if len({port.name for port in ports}) != len(ports):
        raise ValueError("two port rings with one name")
    return ports


def specs_from_json(text: str) -> list[DeviceSpec]:
    specs = []
    for entry in json.loads(text):
        ports = ports_from_json(json.dumps(entry.pop("ports", [])))
        specs.append(DeviceSpec(**entry, ports=ports))
    return specs
