"""RecordingRealizer: a realizer that writes down what the SCST model asked of it, no LIO.

The model's contract with the system below it (:class:`~tcmu_scst.compat_sysfs.realizer.
Realizer`) is checked through this double: a test builds an :class:`ScstSystem` on it,
drives the tree and then reads ``calls`` to see which LIO operations a command meant, in
which order; ``fail_on`` makes one operation raise, to test that a failed command leaves the
model as it was.  A new device is opened in this process, as its worker would open it, only
for the values it reports.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from ..compat_sysfs.realizer import (
    AluaLayout,
    CopyReach,
    DeviceRequest,
    LunMapping,
    SessionInfo,
)
from ..handlers.declaration import OpenedDevice


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
