"""SCST's copy manager: ``targets/copy_manager/copy_manager_tgt``, the devices that EXTENDED
COPY may name.

SCST carries out EXTENDED COPY through an internal target of its own: a copy may use a
device only if that target has a LUN for it, so every new device gets one there (SCST's
``auto_cm_assignment``, numbered from a counter that keeps counting past deleted devices),
and deleting that LUN takes the device out of reach.  Read-only devices are given a LUN by
that assignment only; ``luns/mgmt`` refuses them, and the target has no initiator groups.
While ``allow_not_connected_copy`` is 0, SCST lets an initiator copy only between devices
it reaches directly through some target.

Here the copies are made by our handlers in the data plane, one worker process per device,
so the copy manager needs nothing in LIO: its LUN set is realised as each device's
:class:`~tcmu_scst.compat_sysfs.realizer.CopyReach` (in the copy manager or not, and who
reaches it), which the realizer hands to the workers.  TCMU never tells the handler which
initiator sent a command, so the data plane applies SCST's rule to every initiator that
can reach the device the copy was sent to (see ``handlers/copy_reach``).
"""

from __future__ import annotations

import errno
import logging

from ..drivers import COPY_MANAGER_DRIVER, driver_of
from ..handlers.registry import declaration_of
from .devices import Device, DeviceRegistry
from .grammar import c_integer, invalid, next_word, split_command, words
from .help_text import INI_GROUPS_USAGE
from .luns import MAX_LUN, LunManager, LunSet
from .names import (
    ALLOW_NOT_CONNECTED_COPY,
    COPY_MANAGER,
    COPY_MANAGER_SESSION,
    COPY_MANAGER_TARGET,
)
from .nodes import Attribute, Directory, Link, fixed
from .realizer import CopyReach, Realizer
from .targets import Group, Target, Targets

log = logging.getLogger(__name__)



class CopyManager:
    """The copy manager's target, its LUN set and the reach of every device."""

    def __init__(self, devices: DeviceRegistry, luns: LunManager, targets: Targets,
                 realizer: Realizer):
        self.devices = devices
        self.luns = luns
        self.targets = targets
        self.realizer = realizer
        path = f"targets/{COPY_MANAGER}/{COPY_MANAGER_TARGET}/luns"
        self.lun_set = LunSet(COPY_MANAGER, COPY_MANAGER_TARGET, None, path,
                              len(path.split("/")), realized=False, admit=self._admit)
        # no enable switch, so SCST counts it as enabled: rel_tgt_id 0 is refused
        self.target = Target(COPY_MANAGER, COPY_MANAGER_TARGET, self.lun_set,
                             enabled=not COPY_MANAGER_DRIVER.target_switch)
        targets.targets[COPY_MANAGER] = {COPY_MANAGER_TARGET: self.target}
        targets.drivers[COPY_MANAGER] = self._driver_directory()
        luns.sets.append(self.lun_set)
        self.next_lun = 0
        self.allow_not_connected_copy = False
        self._told: dict[str, CopyReach] = {}  # what the realizer was last told, per device
        devices.after_add.append(self._assign)
        devices.after_delete.append(lambda device: self._told.pop(device.name, None))
        luns.mapped.append(self._refresh)
        targets.members_changed.append(self._group_changed)

    # --- LUNs -----------------------------------------------------------------------------

    def _assign(self, device: Device) -> None:
        """A new device's LUN, at the next number of SCST's counter that is free."""
        self.luns.add(self.lun_set, self._next_free_lun(), device, read_only=False)

    def _next_free_lun(self) -> int:
        for _ in range(MAX_LUN):
            lun = self.next_lun
            # SCST's counter wraps before MAX_LUN, which it keeps for "no LUN"
            self.next_lun = lun + 1 if lun + 1 < MAX_LUN else 0
            if lun not in self.lun_set.entries:
                return lun
        raise OSError(errno.ENOSPC, f"{COPY_MANAGER_TARGET} has a LUN at every number; "
                      "delete devices first")

    def _admit(self, device: Device, read_only: bool) -> None:
        if read_only or device.read_only or declaration_of(device.handler).always_read_only:
            raise invalid(f"{COPY_MANAGER_TARGET}: the copy manager does not take read-only "
                          f"devices ({device.name}); only their automatic LUN, given when "
                          "they are created, puts them in its reach")

    # --- reach ----------------------------------------------------------------------------

    def reach(self, device: Device) -> CopyReach:
        """Whether a copy may name ``device``, and who SCST lets name it (the initiators
        that reach it through a target, or anyone when a target's own LUN set has it)."""
        in_copy_manager, anyone, names = False, False, set()
        for export in device.exports:
            driver, target_name, group_name = export.owner
            if driver_of(driver).copy_reach:
                in_copy_manager = True
            elif group_name is None:
                anyone = True
            else:
                target = self.targets.targets.get(driver, {}).get(target_name)
                group = target.groups.get(group_name) if target is not None else None
                if group is not None:
                    names.update(initiator.lower() for initiator in group.initiators)
        return CopyReach(in_copy_manager, None if anyone else frozenset(names))

    def _refresh(self, name: str) -> None:
        device = self.devices.devices.get(name)
        if device is None:
            return
        reach = self.reach(device)
        if self._told.get(name) != reach:
            self.realizer.set_copy_reach(name, reach)
            self._told[name] = reach

    def _group_changed(self, group: Group) -> None:
        for entry in list(group.luns.entries.values()):
            self._refresh(entry.device)

    # --- tree -----------------------------------------------------------------------------

    def set_allow_not_connected_copy(self, text: str) -> None:
        value = c_integer(text, ALLOW_NOT_CONNECTED_COPY)
        if value < 0:
            raise invalid(f"{ALLOW_NOT_CONNECTED_COPY}: write 0 or 1")
        allowed = value != 0  # SCST keeps it as a bool
        self.realizer.set_driver_attribute(COPY_MANAGER, ALLOW_NOT_CONNECTED_COPY,
                                           str(int(allowed)))
        self.allow_not_connected_copy = allowed

    def _driver_directory(self) -> Directory:
        """No ``mgmt`` (SCST makes one only for drivers that add targets), no
        ``enabled``, no ``trace_level``; ``dif_capabilities`` is left out (no DIF here)."""
        def allowed() -> str:
            value = int(self.allow_not_connected_copy)
            return f"{value}\n" + ("[key]\n" if value else "")

        return Directory(fixed({
            ALLOW_NOT_CONNECTED_COPY: Attribute(read=allowed,
                                                write=self.set_allow_not_connected_copy),
            COPY_MANAGER_TARGET: self._target_directory(),
        }))

    def _target_directory(self) -> Directory:
        target = self.target
        session = Directory(fixed({
            "initiator_name": Attribute(read=lambda: f"{COPY_MANAGER_SESSION}\n"),
            "luns": Link("../../luns"),
        }))
        return Directory(fixed({
            "rel_tgt_id": Attribute(
                read=lambda: f"{target.rel_tgt_id}\n" + ("[key]\n" if target.rel_tgt_id
                                                         else ""),
                write=lambda text: self.targets.set_relative_id(target, text)),
            "luns": self.luns.directory(self.lun_set),
            "ini_groups": Directory(fixed({
                "mgmt": Attribute(read=lambda: INI_GROUPS_USAGE, write=self._groups_mgmt)})),
            "sessions": Directory(fixed({COPY_MANAGER_SESSION: session})),
        }))

    @staticmethod
    def _groups_mgmt(text: str) -> None:
        verb, rest = split_command(text)
        name, tail = next_word(rest)
        if verb not in ("create", "del"):
            raise invalid(f"Unknown action {verb!r}: use create or del")
        if name is None or words(tail):
            raise invalid(f"{verb} takes one group name")
        if verb == "create":
            raise invalid(f"{COPY_MANAGER_TARGET} has no initiator groups (SCST's copy "
                          "manager does not support them); its LUNs serve EXTENDED COPY only")
        raise invalid(f"group {name!r} not found")

