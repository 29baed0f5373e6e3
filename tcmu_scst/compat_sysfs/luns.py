"""LUN sets (a target's default set, or an initiator group's): the ``luns/mgmt`` grammar.

A set belongs to a target or a group; every change goes through the realizer first and is
recorded only when it succeeded, and each mapping shows up as an ``exported/exportN`` link
of its device.  The copy manager's set is not realised in LIO (``realized`` False): its
owner follows the changes through ``mapped``.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field

from .devices import Device, DeviceRegistry, Export
from .grammar import c_integer, invalid, next_word, parameters, split_command, words
from .help_text import LUNS_USAGE
from .nodes import Attribute, Directory, Link, Node, ObjectDirectory
from .realizer import LunMapping, Realizer

log = logging.getLogger(__name__)
MAX_LUN = 16383  # SCST_MAX_LUN


@dataclass
class LunEntry:
    device: str
    read_only: bool
    export: Export


@dataclass
class LunSet:
    driver: str
    target: str
    group: str | None
    path: str  # from the tree root to this luns/ directory
    depth: int  # directories between luns/<N>/ and the root, for relative links
    entries: dict[int, LunEntry] = field(default_factory=dict)
    # called before the first change: an fcst port's target is registered with LIO only
    # once something is configured on it
    prepare: Callable[[], None] | None = None
    realized: bool = True  # its LUNs are LIO LUNs (the copy manager's are not)
    # refuses a device (and read_only) the set cannot take, before anything changes
    admit: Callable[[Device, bool], None] | None = None

    def mapping(self, lun: int, entry: LunEntry) -> LunMapping:
        return LunMapping(self.driver, self.target, self.group, lun, entry.device,
                          entry.read_only)


class NumberedLuns(Mapping[str, LunEntry]):
    """A LUN set's entries by directory name (``"0"``, ``"12"``; no ``"012"``), in order."""

    def __init__(self, entries: dict[int, LunEntry]):
        self._entries = entries

    def __getitem__(self, name: str) -> LunEntry:
        if not (name.isascii() and name.isdigit()) or str(int(name)) != name:
            raise KeyError(name)
        return self._entries[int(name)]

    def __iter__(self) -> Iterator[str]:
        return (str(lun) for lun in sorted(self._entries))

    def __len__(self) -> int:
        return len(self._entries)


class LunManager:
    """Executes luns/mgmt commands on any LunSet and renders its directory."""

    def __init__(self, devices: DeviceRegistry, realizer: Realizer):
        self.devices = devices
        self.realizer = realizer
        # every live set, so a device being deleted can be unmapped everywhere first
        self.sets: list[LunSet] = []
        devices.before_delete.append(self.unmap_device)
        # notified after a mapping changes (sessions of the set see new LUNs)
        self.changed: Callable[[LunSet], None] = lambda lun_set: None
        # told the device of every LUN added or removed, in any set (the copy manager
        # follows who reaches each device)
        self.mapped: list[Callable[[str], None]] = []

    def mgmt(self, lun_set: LunSet, text: str) -> None:
        verb, rest = split_command(text)
        if verb in ("add", "replace", "replace_no_ua"):
            device_name, rest = next_word(rest)
            lun_text, rest = next_word(rest)
            if device_name is None or lun_text is None:
                raise invalid(f"{verb} needs a device and a LUN number: {verb} DEVICE LUN "
                              "[read_only=1]")
            lun = self._lun(lun_text)
            read_only = False
            for name, value in parameters(rest):
                if name != "read_only":
                    raise invalid(f"Unknown parameter {name!r}: the only LUN parameter is "
                                  "read_only")
                read_only = c_integer(value, "read_only") != 0
            device = self.devices.devices.get(device_name)
            if device is None:
                raise invalid(f"Device {device_name!r} not found")
            if lun_set.admit is not None:
                lun_set.admit(device, read_only)
            if verb == "add":
                if lun in lun_set.entries:
                    raise OSError(17, f"LUN {lun} already exists in {lun_set.path}")
                self.add(lun_set, lun, device, read_only)
            else:
                if lun in lun_set.entries:
                    self.remove(lun_set, lun)
                self.add(lun_set, lun, device, read_only)
        elif verb == "del":
            lun_text, rest = next_word(rest)
            if lun_text is None:
                raise invalid("del needs a LUN number: del LUN")
            if words(rest):
                raise invalid(f"Syntax error: del takes only a LUN number, not {rest.strip()!r}")
            lun = self._lun(lun_text)
            if lun not in lun_set.entries:
                raise invalid(f"LUN {lun} does not exist in {lun_set.path}")
            self.remove(lun_set, lun)
        elif verb == "clear":
            if words(rest):
                raise invalid("Syntax error: clear takes no arguments")
            for lun in sorted(lun_set.entries):
                self.remove(lun_set, lun)
        else:
            raise invalid(f"Unknown action {verb!r}: read {lun_set.path}/mgmt for the usage")
        self.changed(lun_set)

    @staticmethod
    def _lun(text: str) -> int:
        lun = c_integer(text, "LUN")
        if not 0 <= lun <= MAX_LUN:
            raise invalid(f"LUN {lun} is out of range 0..{MAX_LUN}")
        return lun

    def add(self, lun_set: LunSet, lun: int, device: Device, read_only: bool) -> None:
        if lun_set.prepare is not None:
            lun_set.prepare()
        export = Export(device.export_counter, f"{lun_set.path}/{lun}",
                        (lun_set.driver, lun_set.target, lun_set.group))
        entry = LunEntry(device.name, read_only, export)
        if lun_set.realized:
            self.realizer.add_lun(lun_set.mapping(lun, entry))
        device.export_counter += 1
        device.exports.append(export)
        lun_set.entries[lun] = entry
        log.info("Added device %s to %s (LUN %d%s)", device.name, lun_set.path, lun,
                 ", read-only" if read_only else "")
        self._mapped(device.name)

    def remove(self, lun_set: LunSet, lun: int, realize: bool = True) -> None:
        """Remove a LUN; from the model only when not ``realize`` (its target is gone from
        LIO already)."""
        entry = lun_set.entries[lun]
        if lun_set.realized and realize:
            self.realizer.remove_lun(lun_set.mapping(lun, entry))
        del lun_set.entries[lun]
        device = self.devices.devices.get(entry.device)
        if device is not None and entry.export in device.exports:
            device.exports.remove(entry.export)
        self._mapped(entry.device)

    def _mapped(self, device: str) -> None:
        for listener in self.mapped:
            listener(device)

    def unmap_device(self, device: Device) -> None:
        for lun_set in self.sets:
            for lun, entry in sorted(lun_set.entries.items()):
                if entry.device == device.name:
                    self.remove(lun_set, lun)
                    self.changed(lun_set)

    def directory(self, lun_set: LunSet) -> Directory:
        def own() -> dict[str, Node]:
            return {"mgmt": Attribute(read=lambda: LUNS_USAGE,
                                      write=lambda text: self.mgmt(lun_set, text))}

        return ObjectDirectory(own, lambda: NumberedLuns(lun_set.entries),
                               lambda name, entry: self._lun_directory(lun_set, entry))

    def _lun_directory(self, lun_set: LunSet, entry: LunEntry) -> Directory:
        def read_only() -> str:
            device = self.devices.devices.get(entry.device)
            if entry.read_only or (device is not None and device.read_only):
                return "1\n[key]\n"
            return "0\n"

        up = "../" * (lun_set.depth + 1)
        return Directory(lambda: {
            "device": Link(f"{up}devices/{entry.device}"),
            "read_only": Attribute(read=read_only),
        })
