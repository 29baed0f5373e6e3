"""The copy manager's reach, shared by the daemon and its workers as files.

One worker process serves each device, so an EXTENDED COPY between two devices is carried
out by the worker of the device it was sent to, which opens the other device's backing
store itself (files and block devices are coherent between processes: the page cache, or
O_DIRECT on both sides).  Which devices a copy may name, and for whom, is SCST's copy
manager (``targets/copy_manager``); the daemon writes it into a directory:

    allow_not_connected_copy       "0" or "1"
    devices/<name>.json            {"handler", "params", "copy_manager", "initiators"}
    designators/<type>.<hex>       a symbolic link to <name>, for a designator one device has

Each file is replaced in one rename, and a worker reads the few it needs for each copy (no
cache to go stale): an access withdrawn in the tree is withdrawn for the next copy.

SCST lets an initiator copy only between devices it reaches through some target, unless
``allow_not_connected_copy`` is 1.  TCMU does not say which initiator sent a command, so a
copy is allowed only when *every* initiator that reaches the device it was sent to reaches
each device the copy names: exactly SCST's rule where one initiator uses a device, stricter
where several with different access do, never wider.
"""

from __future__ import annotations

import contextlib
import json
import logging
import os
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from .disk import BlockDevice

# opens a device's disk from its handler, name and parameters (raises OSError, or
# ValueError for a device that is no disk): handlers.registry.open_disk
DiskOpener = Callable[[str, str, Mapping[str, str]], "BlockDevice"]

log = logging.getLogger(__name__)

ALLOW_FILE = "allow_not_connected_copy"
DEVICES, DESIGNATORS = "devices", "designators"


def designator_file(designator_type: int, value: bytes) -> str:
    return f"{designator_type}.{value.hex()}"


@dataclass(frozen=True)
class ReachEntry:
    """One device as the daemon described it."""

    name: str
    handler: str
    params: dict[str, str]
    copy_manager: bool
    initiators: frozenset[str] | None  # None: anyone

    def admits(self, audience: frozenset[str] | None) -> bool:
        """Whether everyone in ``audience`` (None: anyone) may use this device."""
        if self.initiators is None:
            return True
        return audience is not None and audience <= self.initiators

    def to_json(self) -> str:
        return json.dumps({"handler": self.handler, "params": self.params,
                           "copy_manager": self.copy_manager,
                           "initiators": None if self.initiators is None
                           else sorted(self.initiators)}, sort_keys=True)

    @classmethod
    def from_json(cls, name: str, text: str) -> ReachEntry:
        data: dict[str, Any] = json.loads(text)
        initiators = data.get("initiators")
        return cls(name, str(data["handler"]), dict(data.get("params") or {}),
                   bool(data.get("copy_manager")),
                   None if initiators is None else frozenset(initiators))


def _replace(path: Path, text: str) -> None:
    temporary = path.with_name(f".{path.name}.new")
    temporary.write_text(text)
    os.replace(temporary, path)


def _link(path: Path, target: str) -> None:
    temporary = path.with_name(f".{path.name}.new")
    with contextlib.suppress(FileNotFoundError):
        temporary.unlink()
    os.symlink(target, temporary)
    os.replace(temporary, path)


class ReachWriter:
    """The daemon's side: keeps the directory equal to what it was told."""

    def __init__(self, directory: str | Path):
        self.directory = Path(directory)
        self._designators: dict[str, set[str]] = {}  # designator file -> device names
        self._owned: dict[str, set[str]] = {}  # device -> its designator files

    def reset(self) -> None:
        """Start empty (a previous daemon's files say nothing about this one's devices)."""
        self.remove_all()
        for sub in (DEVICES, DESIGNATORS):
            (self.directory / sub).mkdir(parents=True, exist_ok=True)
        _replace(self.directory / ALLOW_FILE, "0\n")

    def remove_all(self) -> None:
        for sub in (DEVICES, DESIGNATORS):
            folder = self.directory / sub
            if folder.is_dir():
                for item in folder.iterdir():
                    item.unlink()
                folder.rmdir()
        with contextlib.suppress(FileNotFoundError):
            (self.directory / ALLOW_FILE).unlink()
        self._designators.clear()
        self._owned.clear()

    def set_allow_not_connected(self, allowed: bool) -> None:
        _replace(self.directory / ALLOW_FILE, f"{int(allowed)}\n")

    def write(self, entry: ReachEntry, designators: Iterable[tuple[int, bytes]]) -> None:
        _replace(self.directory / DEVICES / f"{entry.name}.json", entry.to_json())
        files = {designator_file(kind, value) for kind, value in designators}
        self._set_designators(entry.name, files)

    def remove(self, name: str) -> None:
        self._set_designators(name, set())
        with contextlib.suppress(FileNotFoundError):
            (self.directory / DEVICES / f"{name}.json").unlink()

    def _set_designators(self, name: str, files: set[str]) -> None:
        """A designator names a device only while exactly one device has it: one that two
        devices share names neither (a copy must never reach the wrong one)."""
        before = self._owned.get(name, set())
        touched = before ^ files
        for file in before - files:
            self._designators[file].discard(name)
        for file in files - before:
            self._designators.setdefault(file, set()).add(name)
        self._owned[name] = files
        if not files:
            del self._owned[name]
        for file in touched:
            owners = self._designators.get(file, set())
            path = self.directory / DESIGNATORS / file
            if len(owners) == 1:
                _link(path, next(iter(owners)))
            else:
                if len(owners) > 1:
                    log.warning("devices %s share the designator %s: EXTENDED COPY cannot "
                                "name them by it", ", ".join(sorted(owners)), file)
                with contextlib.suppress(FileNotFoundError):
                    path.unlink()
            if not owners:
                self._designators.pop(file, None)


class Unreachable(Exception):
    """A copy may not use the device a designator names (the reason is the message)."""


class ReachTable:
    """A worker's side: finds the devices a copy names, and opens the ones other workers
    serve for the copy only (each copy opens them afresh: a device deleted and made again
    under the same name and file is never written through an old descriptor)."""

    def __init__(self, directory: str | Path, opener: DiskOpener):
        self.directory = Path(directory)
        self.opener = opener

    def _entry(self, name: str) -> ReachEntry | None:
        try:
            text = (self.directory / DEVICES / f"{name}.json").read_text()
        except FileNotFoundError:
            return None
        return ReachEntry.from_json(name, text)

    def _allow_not_connected(self) -> bool:
        try:
            return (self.directory / ALLOW_FILE).read_text().strip() == "1"
        except FileNotFoundError:
            return False

    def resolve(self, designator_type: int, value: bytes, receiving: BlockDevice,
                opened: dict[str, BlockDevice]) -> BlockDevice:
        """The device a copy sent to ``receiving`` names; raises Unreachable.  A device
        another worker serves is opened into ``opened`` (by name), which the copy closes
        with :func:`close_disks` when it is done."""
        try:
            name = os.readlink(self.directory / DESIGNATORS /
                               designator_file(designator_type, value))
        except OSError:
            raise Unreachable("no device of the copy manager has this designator") from None
        entry = self._entry(name)
        if entry is None or not entry.copy_manager:
            raise Unreachable(f"{name} has no LUN in copy_manager_tgt")
        if not self._allow_not_connected():
            own = self._entry(receiving.identity.name)
            audience = own.initiators if own is not None else None
            if own is None or not entry.admits(audience):
                raise Unreachable(
                    f"an initiator of {receiving.identity.name} does not reach {name} through "
                    "any target (set allow_not_connected_copy to 1 to allow it)")
        if name == receiving.identity.name:
            return receiving
        if name not in opened:
            try:
                opened[name] = self.opener(entry.handler, entry.name, entry.params)
            except (OSError, ValueError) as error:
                raise Unreachable(f"{entry.name} cannot be opened: {error}") from None
        return opened[name]


def close_disks(opened: dict[str, BlockDevice]) -> None:
    """Close what :meth:`ReachTable.resolve` opened for one copy."""
    for device in opened.values():
        device.close()
    opened.clear()

