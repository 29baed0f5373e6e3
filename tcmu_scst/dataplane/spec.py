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
class DeviceSpec:
    name: str  # the SCST device name, also the LIO storage object name
    handler: str  # vdisk_fileio, vdisk_nullio, ...
    hba: int  # N of core/user_N
    params: dict[str, str] = field(default_factory=dict)
    configfs: str = DEFAULT_CONFIGFS

    @property
    def backstore_dir(self) -> Path:
        return Path(self.configfs) / "target" / "core" / f"user_{self.hba}" / self.name


def specs_to_json(specs: list[DeviceSpec]) -> str:
    return json.dumps([asdict(spec) for spec in specs])


def specs_from_json(text: str) -> list[DeviceSpec]:
    return [DeviceSpec(**entry) for entry in json.loads(text)]
