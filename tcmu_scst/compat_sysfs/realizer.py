"""What the SCST object model asks of the system below it (LIO configfs and our workers).

The model validates a command completely, then calls the realizer; a realizer call either
does all of its work or raises OSError having undone its own steps, and the model commits its
new state only after the call returned.  So a failed command leaves both the tree and LIO as
they were.  Unit tests use :class:`RecordingRealizer`; the daemon uses the LIO one.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Protocol

from ..handlers.declaration import OpenedDevice


@dataclass(frozen=True)
class DeviceRequest:
    name: str
    handler: str
    params: dict[str, str]  # creation parameters as given (validated by the declaration)


@dataclass(frozen=True)
class LunMapping:
    driver: str
    target: str
    group: str | None  # None: the target's default LUN set
    lun: int
    device: str
    read_only: bool


@dataclass(frozen=True)
class CopyReach:
    """What EXTENDED COPY may do with one device (SCST's copy manager, realised in the
    data plane, not in LIO: see :mod:`tcmu_scst.compat_sysfs.copy_manager`).

    ``copy_manager``: the device has a LUN in ``copy_manager_tgt``, so a copy may name it.
    ``initiators``: who SCST lets use it in a copy while ``allow_not_connected_copy`` is 0,
    the initiators that reach it through some target (lower-cased names); None for anyone
    (it is in a target's own LUN set, which every initiator may log in to).
    """

    copy_manager: bool
    initiators: frozenset[str] | None = frozenset()


@dataclass(frozen=True)
class ConnectionInfo:
    """One TCP connection of a session; what LIO does not say stays None."""

    address: str
    cid: int | None = None
    state: str | None = None


@dataclass(frozen=True)
class SessionInfo:
    """A live initiator session read from LIO; what LIO does not say stays None or empty.

    ``negotiated`` holds the iSCSI keys LIO shows as the session's result, ``offered`` the
    target's offer (``compat_sysfs.sessions`` says which one each file shows).
    """

    initiator: str
    addresses: tuple[str, ...] = ()
    sid: int | None = None  # SCST's session id (compat_sysfs.sessions.scst_sid)
    group: str | None = None
    connections: tuple[ConnectionInfo, ...] = ()
    negotiated: Mapping[str, str] = field(default_factory=dict)
    offered: Mapping[str, str] = field(default_factory=dict)
    commands: int | None = None  # received and not yet answered


# SCST's ALUA states, in the order of SCSI's asymmetric access state codes (offline last but one)
ALUA_STATES = ("active", "nonoptimized", "standby", "unavailable", "offline", "transitioning")


@dataclass(frozen=True)
class AluaPort:
    """A target port in an SCST target group: a local target (``driver`` set) or a remote one
    (a directory with ``rel_tgt_id`` in the tree, a port of another node)."""

    target: str
    rel_tgt_id: int  # 0: a local target not yet enabled (SCST assigns the id then)
    driver: str | None = None  # None: remote

    @property
    def local(self) -> bool:
        return self.driver is not None


@dataclass(frozen=True)
class AluaTargetGroup:
    name: str
    group_id: int  # 0: not set yet (SCST's default)
    state: str  # one of ALUA_STATES
    preferred: bool
    ports: tuple[AluaPort, ...] = ()


@dataclass(frozen=True)
class AluaLayout:
    """Everything a device's ALUA answers depend on: its device group's target groups.

    The model hands the realizer a new layout for every device of a device group whenever
    anything in it changes (a target group, its state, id or members, a member target's
    ``rel_tgt_id``), and ``None`` when the device leaves the group.
    """

    device_group: str
    target_groups: tuple[AluaTargetGroup, ...] = ()


class Realizer(Protocol):
    def create_device(self, request: DeviceRequest) -> OpenedDevice: ...
    def delete_device(self, name: str) -> None: ...
    def set_device_attribute(self, name: str, attribute: str, value: str) -> None: ...
    def create_target(self, driver: str, target: str, params: dict[str, str]) -> None: ...
    def delete_target(self, driver: str, target: str) -> None:
        """The target goes with everything it still has (LUNs, groups, initiators,
        accounts): the model forgets those afterwards without asking for each."""
        ...

    def enable_target(self, driver: str, target: str, enabled: bool) -> None: ...
    def set_target_attribute(self, driver: str, target: str, name: str, value: str) -> None: ...
    def add_lun(self, mapping: LunMapping) -> None: ...
    def remove_lun(self, mapping: LunMapping) -> None: ...
    def create_group(self, driver: str, target: str, group: str) -> None: ...
    def delete_group(self, driver: str, target: str, group: str) -> None: ...
    def add_initiator(self, driver: str, target: str, group: str, initiator: str) -> None: ...
    def remove_initiator(self, driver: str, target: str, group: str,
                         initiator: str) -> None: ...
    def move_initiator(self, driver: str, target: str, initiator: str, source: str,
                       destination: str) -> None: ...
    def set_driver_attribute(self, driver: str, name: str, value: str) -> None: ...
    def sessions(self, driver: str, target: str) -> list[SessionInfo]: ...
    def close_session(self, driver: str, target: str, initiator: str) -> None: ...
    def add_local_session(self, target: str, session: str) -> None: ...
    def remove_local_session(self, target: str, session: str) -> None: ...
    def fc_ports(self) -> list[str]: ...
    def set_alua(self, device: str, layout: AluaLayout | None) -> None: ...
    # never fails (a copy that cannot be checked is refused by the data plane); called
    # whenever a device's reach changes, and once for a new device before any copy
    def set_copy_reach(self, device: str, reach: CopyReach) -> None: ...


@dataclass
class RecordingRealizer:
    """Records every call; ``fail_on`` makes the named operation raise (tests of undo)."""

    calls: list[tuple[str, tuple]] = field(default_factory=list)
    fail_on: dict[str, OSError] = field(default_factory=dict)
    live_sessions: dict[tuple[str, str], list[SessionInfo]] = field(default_factory=dict)
    ports: list[str] = field(default_factory=list)
    # the copy reach of each device as last told (not in ``calls``: it follows every LUN
    # change, and tests of those look at the LIO operations)
    copy_reach: dict[str, CopyReach] = field(default_factory=dict)

    def _record(self, operation: str, *arguments: object) -> None:
        error = self.fail_on.get(operation)
        if error is not None:
            raise error
        self.calls.append((operation, arguments))

    def create_device(self, request: DeviceRequest) -> OpenedDevice:
        """Opens the device in this process, as its worker would, for what it reports (a
        device that cannot be opened is refused before the call is recorded)."""
        from ..handlers.registry import effective_values, open_scsi_device  # noqa: PLC0415

        device = open_scsi_device(request.handler, request.name, request.params)
        try:
            opened = OpenedDevice(effective_values(device))
        finally:
            device.close()
        self._record("create_device", request)
        return opened

    def delete_device(self, name: str) -> None:
        self._record("delete_device", name)
        self.copy_reach.pop(name, None)  # as the LIO realizer forgets it

    def set_device_attribute(self, name: str, attribute: str, value: str) -> None:
        self._record("set_device_attribute", name, attribute, value)

    def create_target(self, driver: str, target: str, params: dict[str, str]) -> None:
        self._record("create_target", driver, target, params)

    def delete_target(self, driver: str, target: str) -> None:
        self._record("delete_target", driver, target)

    def enable_target(self, driver: str, target: str, enabled: bool) -> None:
        self._record("enable_target", driver, target, enabled)

    def set_target_attribute(self, driver: str, target: str, name: str, value: str) -> None:
        self._record("set_target_attribute", driver, target, name, value)

    def add_lun(self, mapping: LunMapping) -> None:
        self._record("add_lun", mapping)

    def remove_lun(self, mapping: LunMapping) -> None:
        self._record("remove_lun", mapping)

    def create_group(self, driver: str, target: str, group: str) -> None:
        self._record("create_group", driver, target, group)

    def delete_group(self, driver: str, target: str, group: str) -> None:
        self._record("delete_group", driver, target, group)

    def add_initiator(self, driver: str, target: str, group: str, initiator: str) -> None:
        self._record("add_initiator", driver, target, group, initiator)

    def remove_initiator(self, driver: str, target: str, group: str, initiator: str) -> None:
        self._record("remove_initiator", driver, target, group, initiator)

    def move_initiator(self, driver: str, target: str, initiator: str, source: str,
                       destination: str) -> None:
        self._record("move_initiator", driver, target, initiator, source, destination)

    def set_driver_attribute(self, driver: str, name: str, value: str) -> None:
        self._record("set_driver_attribute", driver, name, value)

    def sessions(self, driver: str, target: str) -> list[SessionInfo]:
        return self.live_sessions.get((driver, target), [])

    def close_session(self, driver: str, target: str, initiator: str) -> None:
        """Records the call and ends the first live session of ``initiator``."""
        self._record("close_session", driver, target, initiator)
        live = self.live_sessions.get((driver, target), [])
        index = next(index for index, item in enumerate(live) if item.initiator == initiator)
        del live[index]

    def add_local_session(self, target: str, session: str) -> None:
        self._record("add_local_session", target, session)

    def remove_local_session(self, target: str, session: str) -> None:
        self._record("remove_local_session", target, session)

    def fc_ports(self) -> list[str]:
        return list(self.ports)

    def set_alua(self, device: str, layout: AluaLayout | None) -> None:
        self._record("set_alua", device, layout)

    def set_copy_reach(self, device: str, reach: CopyReach) -> None:
        self.copy_reach[device] = reach
