"""Port rings: how a device of an SCST device group is laid out in LIO.

A TCMU ring entry does not say through which target port a command came, yet ALUA answers
(VPD 0x83, and the state the kernel enforces) belong to a port.  So while a device is in a
device group, each target that exports it links its LUNs to a TCMU device of its own, a
*port ring* ``core/user_N/<device>@p<k>`` on the device's HBA, served by the device's worker
through the same device object (``docs/alua-on-tcmu.md``).  The port ring's LIO default
target port group carries the state of the SCST target group its target is in, so the
kernel refuses media access on a standby or unavailable port before the ring is reached.

LIO keeps persistent reservations per TCMU device, and each port has its own: a
reservation made through one port would not bind the others.  Port rings are therefore
made with ``emulate_pr=0``: the kernel refuses PERSISTENT RESERVE and RESERVE/RELEASE on a
device in a device group (ILLEGAL REQUEST) instead of granting what it cannot keep.
"""

from __future__ import annotations

from dataclasses import dataclass

from ..compat_sysfs.realizer import AluaLayout, AluaTargetGroup
from ..dataplane.spec import PortRing
from ..handlers.alua import STATE_CODES, AluaView, PortGroup
from ..lio.backstore import UserBackstore

# SCST state -> the state LIO enforces: the SPC code the worker reports, except that LIO's
# own "offline" fails every command, INQUIRY and REPORT TARGET PORT GROUPS included;
# unavailable refuses media access and still lets the initiator ask why, which is what
# SCST's offline group does.
KERNEL_STATES = {state: STATE_CODES["unavailable"] if state == "offline" else code
                 for state, code in STATE_CODES.items()}
GROUP_DIR = "alua/default_tg_pt_gp"
PERSISTENT_RESERVATIONS_OFF = {"emulate_pr": "0"}


def port_key(device: str, index: int) -> str:
    """The name an access plan uses for a port ring ('/' is in no SCST device name, so it
    never collides with a device's own)."""
    return f"{device}/{index}"


def port_backstore_name(device: str, index: int) -> str:
    return f"{device}@p{index}"


@dataclass(frozen=True)
class PortPlace:
    """Where a target's port stands in a device's layout."""

    relative_id: int  # 0: unknown (the target is in no target group, or not yet enabled)
    state: str
    preferred: bool


def place_of(layout: AluaLayout, driver: str, target: str) -> PortPlace:
    """A local target's place; a target in no target group is active (LIO's default)."""
    for group in layout.target_groups:
        for port in group.ports:
            if port.driver == driver and port.target == target:
                return PortPlace(port.rel_tgt_id, group.state, group.preferred)
    return PortPlace(0, "active", False)


def view_of(layout: AluaLayout) -> AluaView:
    """What the device answers REPORT TARGET PORT GROUPS with: every group, every port that
    has an id (remote ones included)."""
    return AluaView(tuple(_group(group) for group in layout.target_groups))


def _group(group: AluaTargetGroup) -> PortGroup:
    return PortGroup(group.group_id, group.state, group.preferred,
                     tuple(port.rel_tgt_id for port in group.ports if port.rel_tgt_id))


@dataclass
class Port:
    """One port ring of a device, as the realizer made it."""

    index: int
    key: str
    backstore: UserBackstore
    protocol: int  # what its target's driver reports (TargetDriver.lio.protocol)
    place: PortPlace

    def ring(self) -> PortRing:
        return PortRing(self.backstore.name, self.place.relative_id, self.protocol)

    def set_kernel_state(self, place: PortPlace) -> None:
        """The state LIO enforces on this port's LUNs, then the PREF bit it keeps."""
        group = self.backstore.cfs_path / GROUP_DIR
        fs = self.backstore.fs
        fs.write(group / "alua_access_state", str(KERNEL_STATES[place.state]))
        fs.write(group / "preferred", "1" if place.preferred else "0")
