"""The hotplug configuration: debounce timing and the opt-in auto-export rules.

Read from a TOML file given to ``tcmu-scstd --hotplug-config``.  Without rules nothing is
exported automatically; the watcher then only follows the block devices of existing
``vdisk_blockio`` devices.  Example::

    debounce_seconds = 0.5          # a disk's events settle this long before acting
    debounce_patience = 5.0         # ... but never longer than this after the first

    [[auto_export]]
    # every udev property named here must match (shell patterns, as udev's own rules)
    match = { ID_BUS = "scsi", ID_SERIAL = "35000c500*" }
    driver = "scst_local"           # the target that gets a LUN for the disk
    target = "local"
    group = ""                      # an initiator group of that target, or none
    name = "hp_{ID_SERIAL_SHORT}"   # device name; {PROPERTY} from udev, {kernel} = sdb
    params = "blocksize=4096"       # more add_device parameters

The first rule that matches a disk exports it: a ``vdisk_blockio`` device over the disk's
``/dev/disk/by-id`` link (its node when it has none) and a LUN for it, the lowest free
number in the target or group.  When the disk goes, the LUN and the device go with it.
Disks that are already present when the daemon starts are exported too, if their target
exists by then; ``udevadm trigger --subsystem-match=block --action=add`` replays them later.
"""

from __future__ import annotations

import errno
import fnmatch
import re
import tomllib
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from .debounce import DEFAULT_PATIENCE, DEFAULT_QUIET
from .events import DiskEvent

DEFAULT_NAME = "hp_{ID_SERIAL}"
NAME_LIMIT = 64  # DEVICE_NAME_LIMIT of the tree
_UNSAFE = re.compile(r"[^A-Za-z0-9_.:-]+")
_FIELD = re.compile(r"\{([A-Za-z0-9_]+)\}")


def config_error(message: str) -> OSError:
    return OSError(errno.EINVAL, message)


@dataclass(frozen=True)
class AutoExportRule:
    match: Mapping[str, str]
    driver: str
    target: str
    group: str = ""
    name: str = DEFAULT_NAME
    params: str = ""

    def matches(self, event: DiskEvent) -> bool:
        return all(fnmatch.fnmatchcase(event.properties.get(key, ""), pattern)
                   for key, pattern in self.match.items())

    def device_name(self, event: DiskEvent) -> str:
        """The template filled in from the disk's properties, made a safe SCST name.  A
        property the disk lacks falls back to its kernel name."""
        def value(found: re.Match[str]) -> str:
            key = found.group(1)
            if key == "kernel":
                return event.sys_name
            return event.properties.get(key) or event.sys_name

        name = _UNSAFE.sub("_", _FIELD.sub(value, self.name)).strip("_")
        return name[:NAME_LIMIT] or event.sys_name

    @property
    def luns_path(self) -> str:
        base = f"/targets/{self.driver}/{self.target}"
        return f"{base}/ini_groups/{self.group}/luns" if self.group else f"{base}/luns"


@dataclass(frozen=True)
class HotplugConfig:
    quiet: float = DEFAULT_QUIET
    patience: float = DEFAULT_PATIENCE
    rules: tuple[AutoExportRule, ...] = field(default_factory=tuple)

    def rule_for(self, event: DiskEvent) -> AutoExportRule | None:
        return next((rule for rule in self.rules if rule.matches(event)), None)


def _rule(number: int, entry: Any) -> AutoExportRule:
    where = f"auto_export rule {number}"
    if not isinstance(entry, dict):
        raise config_error(f"{where}: a table is expected")
    unknown = set(entry) - {"match", "driver", "target", "group", "name", "params"}
    if unknown:
        raise config_error(f"{where}: unknown keys {', '.join(sorted(unknown))}")
    match = entry.get("match")
    if not isinstance(match, dict) or not match or \
            not all(isinstance(value, str) for value in match.values()):
        raise config_error(f"{where}: match needs at least one PROPERTY = \"pattern\" "
                           "(an empty match would export every disk)")
    for key in ("driver", "target"):
        if not isinstance(entry.get(key), str) or not entry[key]:
            raise config_error(f"{where}: {key} is required")
    texts = {key: entry.get(key, default) for key, default in
             (("group", ""), ("name", DEFAULT_NAME), ("params", ""))}
    if not all(isinstance(value, str) for value in texts.values()):
        raise config_error(f"{where}: group, name and params are strings")
    return AutoExportRule(dict(match), entry["driver"], entry["target"], **texts)


def parse_config(data: Mapping[str, Any]) -> HotplugConfig:
    unknown = set(data) - {"debounce_seconds", "debounce_patience", "auto_export"}
    if unknown:
        raise config_error(f"unknown settings: {', '.join(sorted(unknown))}")
    quiet = data.get("debounce_seconds", DEFAULT_QUIET)
    patience = data.get("debounce_patience", DEFAULT_PATIENCE)
    if not all(isinstance(value, int | float) and value >= 0 for value in (quiet, patience)):
        raise config_error("debounce_seconds and debounce_patience are seconds (>= 0)")
    rules = data.get("auto_export", [])
    if not isinstance(rules, list):
        raise config_error("auto_export is a list of tables ([[auto_export]])")
    return HotplugConfig(float(quiet), float(patience),
                         tuple(_rule(number, entry) for number, entry in enumerate(rules, 1)))


def load_config(path: str | Path) -> HotplugConfig:
    with open(path, "rb") as source:
        try:
            data = tomllib.load(source)
        except tomllib.TOMLDecodeError as error:
            raise config_error(f"{path}: {error}") from None
    return parse_config(data)
