"""Asymmetric logical unit access (SPC-4 5.16) as a device in an SCST device group answers it.

A TCMU ring entry does not say through which target port a command came, so a device of a
device group is served through one ring per target port (``docs/alua-on-tcmu.md``): each
ring knows its :class:`TargetPort`, and the device knows the whole :class:`AluaView` of its
device group (every target group with its state and ports, remote ones included).  From
those two the worker answers what the kernel passes to it for a user backstore:

* standard INQUIRY's TPGS field: implicit ALUA only.  States change through the management
  tree (``device_groups/.../state``), never through SET TARGET PORT GROUPS, which is refused
  as an unsupported service action: an initiator cannot move the state of ports it does not
  own behind the administrator's back;
* VPD page 0x83's relative target port and target port group designators of the ring's port
  (what Linux's ALUA device handler and multipath's ``prio alua`` group paths by);
* REPORT TARGET PORT GROUPS, with every group and port of the view.

The kernel enforces the access state itself before a command reaches the ring (a standby
port refuses media access with NOT READY 04/0B, and so on), from the state the realizer sets
on each port's LIO device; the view here only has to tell the same story.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import TYPE_CHECKING

from .cdb import be
from .outcome import Outcome
from .sense import invalid_field_in_cdb

if TYPE_CHECKING:
    from ..uio.ring import Command
    from .disk import ScsiDevice

# the run-time attribute (worker control channel) that carries a device's AluaView as JSON
ALUA_ATTRIBUTE = "alua"
# SCST state name (compat_sysfs.realizer.ALUA_STATES, in this order) -> SPC asymmetric
# access state code
STATE_CODES = {"active": 0x0, "nonoptimized": 0x1, "standby": 0x2, "unavailable": 0x3,
               "offline": 0xE, "transitioning": 0xF}
# T_SUP, O_SUP, U_SUP, S_SUP, AN_SUP, AO_SUP: every state SCST offers (no LBD)
SUPPORTED_STATES = 0x80 | 0x40 | 0x08 | 0x04 | 0x02 | 0x01
TPGS_IMPLICIT = 0x10  # standard INQUIRY byte 5, TPGS = 01b
REPORT_TARGET_PORT_GROUPS = 0x0A  # MAINTENANCE IN service action
EXTENDED_HEADER_FORMAT = 0x1  # PARAMETER DATA FORMAT 001b in CDB byte 1
ASSOCIATION_TARGET_PORT = 0x1
DESIGNATOR_RELATIVE_PORT, DESIGNATOR_PORT_GROUP = 0x4, 0x5
CODE_SET_BINARY = 0x1
# SCSI protocol identifiers (SPC-4 7.6.1) of the fabrics our target drivers use
PROTOCOL_FC, PROTOCOL_ISCSI, PROTOCOL_SAS = 0x0, 0x5, 0x6


@dataclass(frozen=True)
class TargetPort:
    """The port one ring of a device serves: its relative target port identifier."""

    relative_id: int
    protocol: int = PROTOCOL_ISCSI


@dataclass(frozen=True)
class PortGroup:
    group_id: int
    state: str
    preferred: bool
    relative_ids: tuple[int, ...]

    @property
    def state_code(self) -> int:
        return STATE_CODES[self.state]


@dataclass(frozen=True)
class AluaView:
    """A device group's target groups as the device reports them."""

    groups: tuple[PortGroup, ...]

    def group_of(self, port: TargetPort | None) -> PortGroup | None:
        if port is None:
            return None
        return next((group for group in self.groups if port.relative_id in group.relative_ids),
                    None)

    def to_json(self) -> str:
        return json.dumps([[group.group_id, group.state, group.preferred,
                            list(group.relative_ids)] for group in self.groups])

    @classmethod
    def from_json(cls, text: str) -> AluaView:
        """The view sent by the daemon; ValueError for anything that is not one."""
        try:
            entries = json.loads(text)
            if not isinstance(entries, list):
                raise TypeError("a list of target port groups")
            groups = tuple(PortGroup(int(group_id), str(state), bool(preferred),
                                     tuple(int(port) for port in ports))
                           for group_id, state, preferred, ports in entries)
        except (TypeError, ValueError) as error:
            raise ValueError(f"not an ALUA view: {error}") from None
        for group in groups:
            if group.state not in STATE_CODES:
                raise ValueError(f"unknown ALUA state {group.state!r}")
            if not 0 <= group.group_id <= 0xFFFF or \
                    not all(0 < port <= 0xFFFF for port in group.relative_ids):
                raise ValueError("group ids and relative port ids are 16-bit numbers")
        return cls(groups)


def _port_designator(port: TargetPort, designator_type: int, value: int) -> bytes:
    """A designator of the target port (association 01b) with its protocol (PIV=1)."""
    return bytes([(port.protocol << 4) | CODE_SET_BINARY,
                  0x80 | (ASSOCIATION_TARGET_PORT << 4) | designator_type, 0, 4,
                  0, 0]) + value.to_bytes(2, "big")


def port_designators(view: AluaView | None, port: TargetPort | None) -> bytes:
    """VPD 0x83 designators of the port a command came through (none without ALUA)."""
    if view is None or port is None:
        return b""
    designators = b""
    if port.relative_id:  # 0: the target has no id yet (SCST gives one at first enable)
        designators = _port_designator(port, DESIGNATOR_RELATIVE_PORT, port.relative_id)
    group = view.group_of(port)
    if group is not None:
        designators += _port_designator(port, DESIGNATOR_PORT_GROUP, group.group_id)
    return designators


def _descriptor(group: PortGroup) -> bytes:
    header = bytes([(0x80 if group.preferred else 0) | group.state_code, SUPPORTED_STATES])
    header += group.group_id.to_bytes(2, "big")
    header += bytes([0, 0, 0, len(group.relative_ids)])  # no STPG, hence no status
    return header + b"".join(bytes(2) + port.to_bytes(2, "big")
                             for port in group.relative_ids)


def report_target_port_groups(device: ScsiDevice, command: Command) -> Outcome:
    """REPORT TARGET PORT GROUPS: every group of the device group, remote ports included."""
    view = device.alua
    if view is None:  # not in a device group: the command is not offered
        raise invalid_field_in_cdb(1, 4)
    cdb = command.cdb
    extended = (cdb[1] >> 5) == EXTENDED_HEADER_FORMAT
    body = b"".join(_descriptor(group) for group in view.groups)
    header_extra = bytes([EXTENDED_HEADER_FORMAT << 4, 0, 0, 0]) if extended else b""
    data = (len(header_extra) + len(body)).to_bytes(4, "big") + header_extra + body
    written = command.write_data_in(data[:be(cdb, 6, 4)])
    return Outcome(data_in_length=written)
