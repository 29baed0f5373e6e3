"""The configuration of an SCST system as scst.conf describes it, independent of any file.

The same model holds a parsed file and the state read from a running tree, so applying a
file is a comparison of two models and writing the running configuration is formatting one.

Attributes are kept as ordered ``(name, value)`` pairs, not a dict, because scst.conf allows a
name to repeat (``IncomingUser`` once per account, multi-instance attributes saved under their
stripped name); line numbers are kept so that every later complaint can point into the file.
"""

from __future__ import annotations

from dataclasses import dataclass, field


@dataclass
class Attributes:
    """Ordered attribute lines of one block; a name may occur more than once."""

    items: list[tuple[str, str]] = field(default_factory=list)
    # first line of each name in a file; not part of the configuration
    lines: dict[str, int] = field(default_factory=dict, compare=False)

    def add(self, name: str, value: str, line: int = 0) -> None:
        self.items.append((name, value))
        self.lines.setdefault(name, line)

    def names(self) -> list[str]:
        return list(dict.fromkeys(name for name, _ in self.items))

    def values(self, name: str) -> list[str]:
        return [value for item, value in self.items if item == name]

    def get(self, name: str) -> str | None:
        found = self.values(name)
        return found[-1] if found else None

    def single(self) -> dict[str, str]:
        """Name -> value, the last one winning (for attributes that occur once)."""
        return dict(self.items)

    def without(self, *names: str) -> Attributes:
        kept = Attributes()
        for name, value in self.items:
            if name not in names:
                kept.add(name, value, self.lines.get(name, 0))
        return kept

    def __eq__(self, other: object) -> bool:
        """Same configuration: the same lines in any order (scst.conf order carries nothing)."""
        if not isinstance(other, Attributes):
            return NotImplemented
        return sorted(self.items) == sorted(other.items)

    __hash__ = None  # type: ignore[assignment]

    def __bool__(self) -> bool:
        return bool(self.items)

    def __len__(self) -> int:
        return len(self.items)


@dataclass
class Device:
    name: str
    attributes: Attributes = field(default_factory=Attributes)
    line: int = field(default=0, compare=False)


@dataclass
class Handler:
    name: str
    attributes: Attributes = field(default_factory=Attributes)
    devices: dict[str, Device] = field(default_factory=dict)
    line: int = field(default=0, compare=False)


@dataclass
class Lun:
    number: int
    device: str
    attributes: Attributes = field(default_factory=Attributes)
    line: int = field(default=0, compare=False)


@dataclass
class Group:
    name: str
    attributes: Attributes = field(default_factory=Attributes)
    luns: dict[int, Lun] = field(default_factory=dict)
    initiators: list[str] = field(default_factory=list)
    line: int = field(default=0, compare=False)


@dataclass
class Target:
    name: str
    hardware: bool = False
    attributes: Attributes = field(default_factory=Attributes)
    luns: dict[int, Lun] = field(default_factory=dict)
    groups: dict[str, Group] = field(default_factory=dict)
    line: int = field(default=0, compare=False)


@dataclass
class Driver:
    name: str
    attributes: Attributes = field(default_factory=Attributes)
    targets: dict[str, Target] = field(default_factory=dict)
    line: int = field(default=0, compare=False)


@dataclass
class GroupTarget:
    """``TARGET <t>`` in a TARGET_GROUP: a local target, or a port of another node with its
    ``rel_tgt_id``."""

    name: str
    attributes: Attributes = field(default_factory=Attributes)
    line: int = field(default=0, compare=False)


@dataclass
class TargetGroup:
    """``TARGET_GROUP <tg>``: one ALUA target port group (group_id, state, preferred)."""

    name: str
    attributes: Attributes = field(default_factory=Attributes)
    targets: dict[str, GroupTarget] = field(default_factory=dict)
    line: int = field(default=0, compare=False)


@dataclass
class DeviceGroup:
    """``DEVICE_GROUP <dg>``: devices (named, defined elsewhere) sharing target groups."""

    name: str
    attributes: Attributes = field(default_factory=Attributes)  # none in stock SCST
    devices: list[str] = field(default_factory=list)
    target_groups: dict[str, TargetGroup] = field(default_factory=dict)
    line: int = field(default=0, compare=False)
    device_lines: dict[str, int] = field(default_factory=dict, compare=False)


@dataclass
class ScstConfig:
    attributes: Attributes = field(default_factory=Attributes)  # root (setup_id, ...)
    handlers: dict[str, Handler] = field(default_factory=dict)
    drivers: dict[str, Driver] = field(default_factory=dict)
    alua: Attributes = field(default_factory=Attributes)  # the ALUA block: device_groups/
    device_groups: dict[str, DeviceGroup] = field(default_factory=dict)

    def device(self, name: str) -> tuple[Handler, Device] | None:
        for handler in self.handlers.values():
            if name in handler.devices:
                return handler, handler.devices[name]
        return None

    def device_names(self) -> set[str]:
        return {name for handler in self.handlers.values() for name in handler.devices}

    def device_group_of(self, device: str) -> DeviceGroup | None:
        return next((group for group in self.device_groups.values()
                     if device in group.devices), None)
