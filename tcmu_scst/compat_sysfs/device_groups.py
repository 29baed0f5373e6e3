"""``device_groups/``: SCST's ALUA device groups, their devices and target groups.

The tree is SCST's (scst_sysfs.c, scst_tg.c): ``device_groups/mgmt`` creates and deletes
device groups; ``<dg>/devices/`` holds links to the devices of the group (a device is in
one group at most); ``<dg>/target_groups/<tg>/`` has ``group_id``, ``state`` and
``preferred`` and one entry per member: a local target as a link to its directory, any
other name as a directory with that remote port's ``rel_tgt_id``.  Errors are SCST's:
EEXIST for a duplicate (a device in a second group, a name in a second target group of the
same device group), EINVAL for an unknown name, verb or value.

Every device of a group answers ALUA from the same layout (:func:`alua_groups.layout`).
A command validates, builds the group it would leave behind, hands the realizer the new
layout of each device whose layout changes (``None`` for a device that leaves) and stores
the new group only when all of them were taken; if one is refused, those already sent get
their old layout back and the command fails with the realizer's errno, leaving the tree
unchanged.  The same happens when something outside changes a layout: a member target's
``rel_tgt_id`` changes (also when its first enable assigns one), a member target is deleted
(SCST takes it out of its target groups) or a device of a group is deleted (it leaves the
group before its LUNs go).
"""

from __future__ import annotations

import contextlib
import errno
import logging
from collections.abc import Callable, Mapping
from dataclasses import replace

from .alua_groups import DeviceGroup, Member, TargetGroup, layout
from .devices import Device, DeviceRegistry
from .entry_names import check_entry_name
from .grammar import c_integer, invalid, next_word, split_command, words
from .help_text import (
    DEVICE_GROUP_DEVICES_USAGE,
    DEVICE_GROUPS_USAGE,
    TARGET_GROUPS_USAGE,
    target_group_usage,
)
from .nodes import Attribute, Directory, Link, Node, ObjectDirectory, constant, fixed
from .realizer import ALUA_STATES, AluaLayout, Realizer
from .targets import Target, Targets

log = logging.getLogger(__name__)
MAX_PORT_NUMBER = 0xFFFF  # group_id and rel_tgt_id are 16-bit and never 0 once written


def _command(text: str, verbs: tuple[str, ...], what: str) -> tuple[str, str]:
    """``VERB NAME`` with VERB one of ``verbs`` (SCST's ``add`` creates, as ``create`` does)."""
    verb, rest = split_command(text)
    if verb not in verbs:
        raise invalid(f"Unknown action {verb!r}: use {' or '.join(verbs)} (read this mgmt "
                      "file for the usage)")
    name, tail = next_word(rest)
    if name is None:
        raise invalid(f"{verb} needs a {what} name: {verb} NAME")
    if words(tail):
        raise invalid(f"Syntax error: {verb} takes only a {what} name, not {tail.strip()!r}")
    return "create" if verb == "add" and "create" in verbs else verb, name


def _port_number(text: str, what: str) -> int:
    number = c_integer(text, what)
    if not 1 <= number <= MAX_PORT_NUMBER:
        raise invalid(f"{what} {number}: use 1..{MAX_PORT_NUMBER}")
    return number


def _gone(what: str) -> OSError:
    """A node outlived its object (a reader held it across a deletion)."""
    return OSError(errno.ENOENT, f"{what} no longer exists")


class DeviceGroups:
    def __init__(self, devices: DeviceRegistry, targets: Targets, realizer: Realizer):
        self.devices = devices
        self.targets = targets
        self.realizer = realizer
        self.groups: dict[str, DeviceGroup] = {}
        # first, before its LUNs go (SCST's order): a refusal leaves the device as it was
        devices.before_delete.insert(0, self._device_deleted)
        targets.before_delete.append(self._target_deleted)
        targets.before_relative_id.append(self._relative_id_changing)
        self._directory = ObjectDirectory(
            fixed({"mgmt": Attribute(read=constant(DEVICE_GROUPS_USAGE), write=self.mgmt)}),
            lambda: self.groups, lambda name, group: self._group_directory(name))

    # --- realising ------------------------------------------------------------------------

    def _local_id(self, member: Member) -> int:
        target = self.targets.targets.get(member.driver or "", {}).get(member.name)
        return target.rel_tgt_id if target is not None else 0

    def _layouts(self, group: DeviceGroup | None,
                 local_id: Callable[[Member], int]) -> dict[str, AluaLayout]:
        if group is None or not group.devices:
            return {}
        shared = layout(group, local_id)
        return dict.fromkeys(group.devices, shared)

    def _commit(self, changed: Mapping[str, DeviceGroup | None],
                local_id: Callable[[Member], int] | None = None) -> None:
        """Store ``changed`` (None: deleted) once every device whose layout differs has its
        new one; ``local_id`` gives the members' rel_tgt_id after the change."""
        plan: list[tuple[str, AluaLayout | None, AluaLayout | None]] = []
        for name, new in changed.items():
            before = self._layouts(self.groups.get(name), self._local_id)
            after = self._layouts(new, local_id or self._local_id)
            for device in dict.fromkeys([*before, *after]):
                if before.get(device) != after.get(device):
                    plan.append((device, before.get(device), after.get(device)))
        sent: list[tuple[str, AluaLayout | None]] = []
        try:
            for device, old, new_layout in plan:
                self.realizer.set_alua(device, new_layout)
                sent.append((device, old))
        except OSError:
            for device, old in reversed(sent):
                with contextlib.suppress(OSError):  # best effort: the refusal is the news
                    self.realizer.set_alua(device, old)
            raise
        for name, new in changed.items():
            if new is None:
                self.groups.pop(name, None)
            else:
                self.groups[name] = new

    # --- what others change ---------------------------------------------------------------

    def group_of_device(self, device: str) -> DeviceGroup | None:
        return next((group for group in self.groups.values() if device in group.devices),
                    None)

    def _device_deleted(self, device: Device) -> None:
        group = self.group_of_device(device.name)
        if group is not None:
            self._commit({group.name: replace(group, devices=tuple(
                name for name in group.devices if name != device.name))})
            log.info("Device %s removed from device group %s", device.name, group.name)

    def _target_deleted(self, target: Target) -> None:
        self._commit({name: group.without_local(target.driver, target.name)
                      for name, group in self.groups.items()
                      if group.has_local(target.driver, target.name)})

    def _relative_id_changing(self, target: Target, number: int) -> None:
        def local_id(member: Member) -> int:
            return number if member.is_target(target.driver, target.name) else (
                self._local_id(member))

        self._commit({name: group for name, group in self.groups.items()
                      if group.has_local(target.driver, target.name)}, local_id)

    # --- commands -------------------------------------------------------------------------

    def _existing(self, name: str) -> DeviceGroup:
        group = self.groups.get(name)
        if group is None:
            raise _gone(f"device group {name!r}")
        return group

    def _target_group(self, group_name: str, name: str) -> TargetGroup:
        found = self._existing(group_name).target_group(name)
        if found is None:
            raise _gone(f"target group {group_name}/{name}")
        return found

    def mgmt(self, text: str) -> None:
        verb, name = _command(text, ("create", "add", "del"), "device group")
        if verb == "create":
            check_entry_name("device group", name, self._directory, self.groups)
            if name in self.groups:
                raise OSError(errno.EEXIST, f"device group {name!r} already exists")
            self._commit({name: DeviceGroup(name)})
            log.info("Added device group %s", name)
        else:
            if name not in self.groups:
                raise invalid(f"device group {name!r} not found")
            self._commit({name: None})
            log.info("Deleted device group %s", name)

    def devices_mgmt(self, group_name: str, text: str) -> None:
        verb, device = _command(text, ("add", "del"), "device")
        group = self._existing(group_name)
        if verb == "add":
            other = self.group_of_device(device)
            if other is not None:
                raise OSError(errno.EEXIST, f"device {device!r} is already in device group "
                              f"{other.name!r}; a device is in one device group at most")
            if device not in self.devices.devices:
                raise invalid(f"device {device!r} not found")
            self._commit({group.name: replace(group, devices=(*group.devices, device))})
            log.info("Device %s added to device group %s", device, group.name)
        else:
            if device not in group.devices:
                raise invalid(f"device {device!r} is not in device group {group.name!r}")
            self._commit({group.name: replace(group, devices=tuple(
                name for name in group.devices if name != device))})
            log.info("Device %s removed from device group %s", device, group.name)

    def target_groups_mgmt(self, group_name: str, text: str) -> None:
        verb, name = _command(text, ("create", "add", "del"), "target group")
        group = self._existing(group_name)
        if verb == "create":
            check_entry_name("target group", name, self._target_groups_directory(group_name),
                             [each.name for each in group.target_groups])
            if group.target_group(name) is not None:
                raise OSError(errno.EEXIST, f"target group {name!r} already exists in "
                              f"{group.name!r}")
            self._commit({group.name: group.with_target_group(TargetGroup(name))})
        else:
            if group.target_group(name) is None:
                raise invalid(f"target group {name!r} not found in {group.name!r}")
            self._commit({group.name: group.without_target_group(name)})

    def target_group_mgmt(self, group_name: str, target_group: str, text: str) -> None:
        verb, name = _command(text, ("add", "del"), "target")
        group = self._existing(group_name)
        current = self._target_group(group_name, target_group)
        if verb == "add":
            holder = group.holding(name)
            if holder is not None:
                raise OSError(errno.EEXIST, f"target {name!r} is already in target group "
                              f"{holder.name!r} of {group.name!r}")
            check_entry_name("target", name, self._target_group_directory(
                group_name, target_group), [member.name for member in current.members])
            target = self.targets.find(name)
            member = Member(name, target.driver) if target is not None else Member(name)
            changed = current.with_member(member)
        else:
            if current.member(name) is None:
                raise invalid(f"target {name!r} is not in target group {target_group!r}")
            changed = current.without_member(name)
        self._commit({group.name: group.with_target_group(changed)})

    def _set(self, group_name: str, changed: TargetGroup) -> None:
        self._commit({group_name: self._existing(group_name).with_target_group(changed)})

    def write_group_id(self, group_name: str, name: str, text: str) -> None:
        number = _port_number(text, "group_id")
        self._set(group_name, replace(self._target_group(group_name, name), group_id=number))

    def write_preferred(self, group_name: str, name: str, text: str) -> None:
        value = c_integer(text, "preferred")
        if value not in (0, 1):
            raise invalid(f"preferred {value}: write 0 or 1")
        self._set(group_name, replace(self._target_group(group_name, name),
                                      preferred=bool(value)))

    def write_state(self, group_name: str, name: str, text: str) -> None:
        state = text.split("\n", 1)[0]  # compared exactly, as SCST does
        if state not in ALUA_STATES:
            raise invalid(f"state {state!r}: one of {', '.join(ALUA_STATES)}")
        current = self._target_group(group_name, name)
        self._set(group_name, replace(current, state=state))
        if state != current.state:
            log.info("Changed ALUA state of %s/%s into %s", group_name, name, state)

    def write_remote_id(self, group_name: str, name: str, member: str, text: str) -> None:
        number = _port_number(text, "rel_tgt_id")
        current = self._target_group(group_name, name)
        port = current.member(member)
        if port is None or port.driver is not None:
            raise _gone(f"port {member!r} of {group_name}/{name}")
        self._set(group_name, current.with_member(replace(port, rel_tgt_id=number)))

    # --- tree -----------------------------------------------------------------------------

    def directory(self) -> Directory:
        return self._directory

    def _group_directory(self, name: str) -> Directory:
        return Directory(fixed({"devices": self._devices_directory(name),
                                "target_groups": self._target_groups_directory(name)}))

    def _devices_directory(self, name: str) -> Directory:
        return ObjectDirectory(
            fixed({"mgmt": Attribute(read=constant(DEVICE_GROUP_DEVICES_USAGE),
                                     write=lambda text: self.devices_mgmt(name, text))}),
            lambda: dict.fromkeys(self._existing(name).devices, True),
            lambda device, _: Link(f"../../../devices/{device}"),
            objects_are_directories=False)

    def _target_groups_directory(self, name: str) -> Directory:
        return ObjectDirectory(
            fixed({"mgmt": Attribute(read=constant(TARGET_GROUPS_USAGE),
                                     write=lambda text: self.target_groups_mgmt(name, text))}),
            lambda: {group.name: group for group in self._existing(name).target_groups},
            lambda group, _: self._target_group_directory(name, group))

    def _target_group_directory(self, group_name: str, name: str) -> Directory:
        def current() -> TargetGroup:
            return self._target_group(group_name, name)

        own: dict[str, Node] = {
            "mgmt": Attribute(read=constant(target_group_usage(ALUA_STATES)),
                              write=lambda text: self.target_group_mgmt(group_name, name, text)),
            "group_id": Attribute(read=lambda: f"{current().group_id}\n[key]\n",
                                  write=lambda text: self.write_group_id(group_name, name,
                                                                         text)),
            "preferred": Attribute(read=lambda: "1\n[key]\n" if current().preferred else "0\n",
                                   write=lambda text: self.write_preferred(group_name, name,
                                                                           text)),
            "state": Attribute(read=lambda: f"{current().state}\n[key]\n",
                               write=lambda text: self.write_state(group_name, name, text)),
        }

        def entries() -> dict[str, Node]:
            children = dict(own)
            for member in current().members:
                children[member.name] = self._member_node(group_name, name, member)
            return children

        return Directory(entries)

    def _member_node(self, group_name: str, name: str, member: Member) -> Node:
        if member.driver is not None:
            return Link(f"../../../../targets/{member.driver}/{member.name}")

        def read() -> str:
            port = self._target_group(group_name, name).member(member.name)
            if port is None:
                raise _gone(f"port {member.name!r} of {group_name}/{name}")
            return f"{port.rel_tgt_id}\n[key]\n"

        return Directory(fixed({"rel_tgt_id": Attribute(
            read=read, write=lambda text: self.write_remote_id(group_name, name, member.name,
                                                               text))}))
