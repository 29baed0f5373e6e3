"""What the SCST object model asks of the system below it (LIO configfs and our workers).

The model validates a command completely, then calls the realizer; a realizer call either
does all of its work or raises OSError having undone its own steps, and the model commits its
new state only after the call returned.  So a failed command leaves both the tree and LIO as
they were.  The daemon uses the LIO one; unit tests use
:class:`tcmu_scst.testing.recording_realizer.RecordingRealizer`.
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
