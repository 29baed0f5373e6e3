"""The realizer that makes the SCST tree real: LIO configfs objects and data-plane workers.

Mapping (DESIGN.md): a device is a TCMU user backstore ``core/user_N/<name>`` served by a
worker process of its own; an iSCSI target is ``iscsi/<iqn>/tpgt_1`` listening on all
addresses; an ``scst_local`` session is a tcm_loop nexus; an ``fcst`` target is
``fc/<wwpn>/tpgt_1``.  How each driver's targets are laid out (their TPG, demo mode, access
plan, CHAP placement, protocol) is its :class:`~tcmu_scst.drivers.LioLayout`; this module
does what is common to all of them.

Who sees which LUN is one :class:`~..lio.access_plan.AccessPlan` per target, recomputed
after every change of LUNs, groups or initiators and applied as a difference
(:mod:`..lio.access_apply`): an initiator group is a set of explicit node ACLs tagged with
the group's name; initiators in no group see the default LUN set through LIO's demo mode
only while that is exact, and are refused otherwise (``access_mode acl-only``, logged as a
warning).  An ``scst_local`` target has exactly one initiator, its session, so
its TPG simply holds the LUN set that session's name selects.

SCST's copy manager (``targets/copy_manager``) has no LIO object: our handlers carry out
EXTENDED COPY, so its LUN set becomes each device's entry in the reach directory the
workers read (:mod:`..handlers.copy_reach`).

What LIO cannot express is refused or documented, never silently approximated: a LUN-level
``read_only`` in the default set (demo mode has one write-protect switch per TPG), wildcard
initiator patterns, one initiator in two groups, ``allowed_portal``.  Every operation undoes
its own steps if a later one fails, so a failed command changes nothing.
"""

from __future__ import annotations

import contextlib
import errno
import logging
from dataclasses import dataclass, field, replace
from pathlib import Path

from ..compat_sysfs.names import ALLOW_NOT_CONNECTED_COPY, COPY_MANAGER
from ..compat_sysfs.realizer import (
    AluaLayout,
    ConnectionInfo,
    CopyReach,
    DeviceRequest,
    LunMapping,
    OpenedDevice,
    SessionInfo,
)
from ..compat_sysfs.sessions import scst_sid
from ..dataplane.spec import DeviceSpec
from ..dataplane.supervisor import DeviceOpenError, Supervisor
from ..drivers import DRIVERS, ISCSI_LAYOUT, LOCAL_DRIVER, LioLayout, driver_of
from ..drivers.lio_layout import unsupported
from ..handlers.alua import ALUA_ATTRIBUTE
from ..handlers.copy_reach import ReachEntry, ReachWriter
from ..handlers.declaration import without_inert
from ..handlers.registry import device_identity
from ..lio import (
    IscsiTarget,
    LoopbackExport,
    TargetPortalGroup,
    as_configfs,
    create_user_backstore,
    local_port_wwpns,
    random_naa,
    remove_user_backstore,
    unused_hba_index,
)
from ..lio.access_apply import apply_access
from ..lio.access_plan import (
    DEMO,
    EMPTY_PLAN,
    AccessPlan,
    GroupSpec,
    LunExport,
    consequence,
)
from ..lio.backstore import UserBackstore
from ..lio.session_close import close_session
from ..lio.sessions import IscsiSession
from .connections import unclaimed
from .port_rings import (
    PERSISTENT_RESERVATIONS_OFF,
    Port,
    place_of,
    port_backstore_name,
    port_key,
    view_of,
)

log = logging.getLogger(__name__)

HBA_BASE = 100  # core/user_N indexes we allocate from (targetcli starts at 0)
CD_BLOCK = 2048


def session_info(session: IscsiSession, offered: dict[str, str]) -> SessionInfo:
    """What the tree shows of an LIO session; ``offered``: the TPG's ``param/``."""
    isid = session.isid_bytes
    sid = scst_sid(isid, session.tsih) if isid is not None and session.tsih is not None else None
    return SessionInfo(
        session.initiator, session.addresses, sid, session.tag,
        tuple(ConnectionInfo(item.address, item.cid, item.state)
              for item in session.connections),
        negotiated=dict(session.negotiated), offered=offered, commands=session.commands)


@dataclass
class _Device:
    backstore: UserBackstore
    spec: DeviceSpec
    request: DeviceRequest
    opened: OpenedDevice  # what the worker reported when it opened the device
    alua: AluaLayout | None = None  # set while the device is in an SCST device group
    ports: dict[tuple[str, str], Port] = field(default_factory=dict)  # (driver, target)


@dataclass
class _Target:
    """What the daemon asked of one target, and what its TPG holds now (``plan``)."""

    driver: str
    name: str
    layout: LioLayout
    tpg: TargetPortalGroup | None
    default: dict[int, LunExport] = field(default_factory=dict)  # the target's luns/
    group_luns: dict[str, dict[int, LunExport]] = field(default_factory=dict)
    members: dict[str, list[str]] = field(default_factory=dict)  # group -> initiators
    plan: AccessPlan = EMPTY_PLAN
    session: str | None = None  # scst_local: the one session (tcm_loop nexus)
    local_wwn: str | None = None  # scst_local: the tcm_loop WWN behind the SCST name

    def group_of(self, initiator: str) -> str | None:
        return next((group for group, names in self.members.items() if initiator in names),
                    None)


class LioRealizer:
    def __init__(self, configfs: str | Path = "/sys/kernel/config",
                 supervisor: Supervisor | None = None, copy_reach: str | Path | None = None):
        """``copy_reach``: the directory the workers learn the copy manager from; None
        leaves each worker to copy within its own devices."""
        self.root = str(configfs)
        self.fs = as_configfs(configfs)
        self.reach = ReachWriter(copy_reach) if copy_reach is not None else None
        if self.reach is not None:
            self.reach.reset()
        self.supervisor = supervisor or Supervisor(
            copy_reach=str(copy_reach) if copy_reach is not None else None)
        self.devices: dict[str, _Device] = {}
        self.targets: dict[tuple[str, str], _Target] = {}
        self._reaches: dict[str, CopyReach] = {}

    # --- devices --------------------------------------------------------------------------

    def create_device(self, request: DeviceRequest) -> OpenedDevice:
        """The worker opens the device first (its handler finds the size and what the disk
        is); the backstore is made with that size before the worker attaches to it."""
        params = without_inert(request.params)
        hba = unused_hba_index(self.fs, start=HBA_BASE)
        spec = DeviceSpec(request.name, request.handler, hba, params, self.root)
        made: list[UserBackstore] = []

        def make_backstore(reports: dict[str, dict[str, str]]) -> None:
            opened = OpenedDevice(reports[request.name])
            size = opened.size or opened.block_size  # an empty CD-ROM still needs a size
            made.append(create_user_backstore(request.name, hba, request.handler,
                                              request.name, size, opened.block_size,
                                              configfs=self.fs))

        try:
            worker = self.supervisor.start(request.name, [spec], on_opened=make_backstore)
        except BaseException as error:
            for backstore in made:
                remove_user_backstore(backstore)
            if isinstance(error, DeviceOpenError):
                raise OSError(error.errno, f"{request.name}: {error.strerror}") from error
            raise OSError(errno.EIO, f"{request.name}: the data-plane worker did not start: "
                          f"{error}") from error
        opened = OpenedDevice(worker.facts[request.name])
        self.devices[request.name] = _Device(made[0], spec, request, opened)
        log.info("device %s: %s on core/user_%d, worker started", request.name,
                 request.handler, hba)
        return opened

    def delete_device(self, name: str) -> None:
        device = self.devices.pop(name)
        if self._reaches.pop(name, None) is not None and self.reach is not None:
            self._forget_reach(name)
        self.supervisor.stop(name)
        for port in device.ports.values():
            remove_user_backstore(port.backstore)
        remove_user_backstore(device.backstore)

    def set_device_attribute(self, name: str, attribute: str, value: str) -> None:
        self.supervisor.set_attribute(name, attribute, value)
        device = self.devices[name]
        device.spec = replace(device.spec, params={**device.spec.params, attribute: value})
        self._write_reach(name)  # its identity may have changed (t10_dev_id ...)

    # --- the copy manager: no LIO object, the workers' reach ------------------------------

    def set_copy_reach(self, device: str, reach: CopyReach) -> None:
        if device in self.devices:
            self._reaches[device] = reach
            self._write_reach(device)

    def _write_reach(self, name: str) -> None:
        reach = self._reaches.get(name)
        if self.reach is None or reach is None:
            return
        spec = self.devices[name].spec
        try:
            designators = device_identity(spec.handler, name, spec.params).designators()
            self.reach.write(ReachEntry(name, spec.handler, dict(spec.params),
                                        reach.copy_manager, reach.initiators),
                             designators.items())
        except (OSError, ValueError) as error:  # never fails the command: copies do
            log.error("device %s: its copy manager entry could not be written (EXTENDED "
                      "COPY cannot name it): %s", name, error)

    def _forget_reach(self, name: str) -> None:
        assert self.reach is not None
        try:
            self.reach.remove(name)
        except OSError as error:
            log.error("device %s: its copy manager entry could not be removed: %s", name,
                      error)

    # --- targets --------------------------------------------------------------------------

    def create_target(self, driver: str, name: str, params: dict[str, str]) -> None:
        layout = driver_of(driver).lio
        if layout is None:
            raise unsupported(f"target driver {driver!r} has no LIO targets")
        tpg = layout.make_tpg(name, self.fs, params)
        self.targets[(driver, name)] = _Target(driver, name, layout, tpg,
                                               plan=layout.initial_plan)

    def delete_target(self, driver: str, name: str) -> None:
        target = self.targets.pop((driver, name))
        if target.tpg is not None and target.tpg.exists():
            target.tpg.remove()
        target.plan = EMPTY_PLAN
        self._remove_idle_ports(target)

    def enable_target(self, driver: str, name: str, enabled: bool) -> None:
        target = self.targets[(driver, name)]
        if isinstance(target.tpg, IscsiTarget):
            target.tpg.enable(enabled)
        elif target.tpg is not None and self.fs.exists(target.tpg.tpg_path / "enable"):
            self.fs.write(target.tpg.tpg_path / "enable", "1" if enabled else "0")

    def set_target_attribute(self, driver: str, name: str, attribute: str, value: str) -> None:
        target = self.targets[(driver, name)]
        target.layout.set_target_attribute(target.tpg, attribute, value,
                                           [initiator for initiators in target.members.values()
                                            for initiator in initiators])

    # --- LUNs, groups and initiators: one access plan per target ----------------------------

    def add_lun(self, mapping: LunMapping) -> None:
        target = self.targets[(mapping.driver, mapping.target)]
        if mapping.device not in self.devices:
            raise OSError(errno.ENODEV, f"device {mapping.device!r} has no backstore")
        if mapping.group is None and mapping.read_only and \
                not target.layout.default_set_read_only:
            raise unsupported("read_only LUNs in a target's default LUN set cannot be "
                              "expressed in LIO (demo mode has one write-protect switch); "
                              "use an initiator group, or read_only=1 on the device")
        export = LunExport(mapping.device, mapping.read_only)
        default, groups = self._wanted(target)
        (default if mapping.group is None else groups[mapping.group])[mapping.lun] = export
        self._sync(target, default, groups, target.members)

    def remove_lun(self, mapping: LunMapping) -> None:
        target = self.targets[(mapping.driver, mapping.target)]
        default, groups = self._wanted(target)
        (default if mapping.group is None else groups[mapping.group]).pop(mapping.lun)
        self._sync(target, default, groups, target.members)

    def create_group(self, driver: str, target: str, group: str) -> None:
        record = self.targets[(driver, target)]
        record.group_luns.setdefault(group, {})
        record.members.setdefault(group, [])

    def delete_group(self, driver: str, target: str, group: str) -> None:
        record = self.targets[(driver, target)]
        default, groups = self._wanted(record)
        groups.pop(group, None)
        members = {name: list(names) for name, names in record.members.items() if name != group}
        self._sync(record, default, groups, members)

    def add_initiator(self, driver: str, target: str, group: str, initiator: str) -> None:
        record = self.targets[(driver, target)]
        other = record.group_of(initiator)
        if other is not None:
            raise OSError(errno.EEXIST, f"initiator {initiator!r} is already in group "
                          f"{other!r} of this target; LIO keeps one ACL per initiator "
                          "(use move)")
        members = {name: list(names) for name, names in record.members.items()}
        members.setdefault(group, []).append(initiator)
        self._sync(record, *self._wanted(record), members)

    def remove_initiator(self, driver: str, target: str, group: str, initiator: str) -> None:
        record = self.targets[(driver, target)]
        members = {name: [entry for entry in names if name != group or entry != initiator]
                   for name, names in record.members.items()}
        self._sync(record, *self._wanted(record), members)

    def move_initiator(self, driver: str, target: str, initiator: str, source: str,
                       destination: str) -> None:
        """One change of plan: the ACL stays, its LUNs and tag become the new group's."""
        record = self.targets[(driver, target)]
        members = {name: [entry for entry in names if entry != initiator]
                   for name, names in record.members.items()}
        members.setdefault(destination, []).append(initiator)
        self._sync(record, *self._wanted(record), members)

    @staticmethod
    def _wanted(target: _Target) -> tuple[dict[int, LunExport], dict[str, dict[int, LunExport]]]:
        """Copies of the target's LUN sets, to change and hand to :meth:`_sync`."""
        return dict(target.default), {name: dict(luns)
                                      for name, luns in target.group_luns.items()}

    def _plan(self, target: _Target, default: dict[int, LunExport],
              groups: dict[str, dict[int, LunExport]],
              members: dict[str, list[str]]) -> AccessPlan:
        specs = {name: GroupSpec(tuple(members.get(name, ())), luns)
                 for name, luns in groups.items()}
        return target.layout.plan(default, specs, target.session, target.plan)

    def _sync(self, target: _Target, default: dict[int, LunExport],
              groups: dict[str, dict[int, LunExport]], members: dict[str, list[str]]) -> None:
        """Realise the new LUN sets and groups in LIO, then commit them; all or nothing.

        LUNs of a device in a device group link to the device's port ring for this target
        (made here when it is the first), all others to the device's own TCMU device."""
        made = self._make_ports(target, default, groups) if target.tpg is not None else []
        try:
            plan = self._plan(target, *self._linked(target, default, groups), members)
            if target.tpg is not None:
                apply_access(target.tpg, target.plan, plan, self._backstore,
                             lambda initiator: self._configure_acl(target, initiator))
                self._report_access(target, target.plan, plan, default)
                target.plan = plan
        except BaseException:
            self._remove_ports(target, made)
            raise
        target.default, target.group_luns, target.members = default, groups, members
        self._remove_idle_ports(target)

    def _backstore(self, key: str) -> UserBackstore:
        """The storage object an access plan names: a device, or one of its port rings."""
        device, _, index = key.partition("/")
        record = self.devices[device]
        if not index:
            return record.backstore
        return next(port.backstore for port in record.ports.values() if port.key == key)

    # --- ALUA: port rings -------------------------------------------------------------------

    def set_alua(self, device: str, layout: AluaLayout | None) -> None:
        """Lay ``device`` out for its device group (port rings, states, the worker's view),
        or back on its own TCMU device (``None``); all or nothing."""
        record = self.devices.get(device)
        if record is None:
            raise OSError(errno.ENODEV, f"device {device!r} has no backstore")
        old = record.alua
        record.alua = layout
        try:
            self._lay_out(record)
        except BaseException:
            record.alua = old
            with contextlib.suppress(OSError):
                self._lay_out(record)
            raise
        if old is None and layout is not None:
            log.warning("device %s joined device group %s: PERSISTENT RESERVE and RESERVE "
                        "are refused on it while it is in a device group (LIO keeps "
                        "reservations per port ring, which could not bind the other ports)",
                        device, layout.device_group)
        elif old is not None and layout is None:
            log.info("device %s left device group %s", device, old.device_group)

    def _lay_out(self, record: _Device) -> None:
        """The worker learns the view before any port ring is linked (an initiator scans a
        new LUN at once, and must see the TPGS bits then), and forgets it only after the
        LUNs are back on the device's own TCMU device."""
        layout = record.alua
        name = record.spec.name
        if layout is not None:
            self.supervisor.set_state(name, ALUA_ATTRIBUTE, view_of(layout).to_json())
        for target in self._targets_exporting(name):
            self._sync(target, target.default, target.group_luns, target.members)
        if layout is None:
            self.supervisor.set_state(name, ALUA_ATTRIBUTE, "")
            return
        moved = False
        for (driver, target_name), port in record.ports.items():
            place = place_of(layout, driver, target_name)
            if place != port.place:
                port.set_kernel_state(place)
                moved |= place.relative_id != port.place.relative_id
                port.place = place
        if moved:
            self._tell_ports(record)

    def _targets_exporting(self, device: str) -> list[_Target]:
        return [target for target in self.targets.values()
                if any(lun.device == device for luns in (target.default,
                                                         *target.group_luns.values())
                       for lun in luns.values())]

    def _linked(self, target: _Target, default: dict[int, LunExport],
                groups: dict[str, dict[int, LunExport]]
                ) -> tuple[dict[int, LunExport], dict[str, dict[int, LunExport]]]:
        """The LUN sets with each device replaced by what this target's LUNs link to."""
        def link(lun: LunExport) -> LunExport:
            record = self.devices.get(lun.device)
            if record is None or record.alua is None:
                return lun
            port = record.ports.get((target.driver, target.name))
            return lun if port is None else LunExport(port.key, lun.read_only)

        return ({number: link(lun) for number, lun in default.items()},
                {name: {number: link(lun) for number, lun in luns.items()}
                 for name, luns in groups.items()})

    def _make_ports(self, target: _Target, default: dict[int, LunExport],
                    groups: dict[str, dict[int, LunExport]]) -> list[str]:
        """Port rings this target needs and does not have yet (its devices in groups);
        the names of the devices that got one."""
        made: list[str] = []
        wanted = {lun.device for luns in (default, *groups.values()) for lun in luns.values()}
        try:
            for device in sorted(wanted):
                record = self.devices.get(device)
                if record is None or record.alua is None or \
                        (target.driver, target.name) in record.ports:
                    continue
                self._make_port(record, target)
                made.append(device)
        except BaseException:
            self._remove_ports(target, made)
            raise
        return made

    def _remove_ports(self, target: _Target, devices: list[str]) -> None:
        """Undo :meth:`_make_ports` (nothing links to those rings yet)."""
        for device in devices:
            with contextlib.suppress(OSError, KeyError):
                self._remove_port(device, (target.driver, target.name))

    def _make_port(self, record: _Device, target: _Target) -> Port:
        assert record.alua is not None
        used = {port.index for port in record.ports.values()}
        index = next(number for number in range(1, len(used) + 2) if number not in used)
        request = record.request
        backstore = create_user_backstore(
            port_backstore_name(request.name, index), record.spec.hba, request.handler,
            request.name, record.opened.size or record.opened.block_size,
            record.opened.block_size,
            configfs=self.fs, attributes=PERSISTENT_RESERVATIONS_OFF)
        place = place_of(record.alua, target.driver, target.name)
        port = Port(index, port_key(request.name, index), backstore,
                    target.layout.protocol, place)
        key = (target.driver, target.name)
        try:
            port.set_kernel_state(place)
            record.ports[key] = port
            self._tell_ports(record)
        except BaseException:
            record.ports.pop(key, None)
            remove_user_backstore(backstore)
            raise
        log.info("device %s: port ring %s for %s %s (relative port %d, %s)", request.name,
                 backstore.name, target.driver, target.name, place.relative_id, place.state)
        return port

    def _tell_ports(self, record: _Device) -> None:
        rings = tuple(port.ring() for port in sorted(record.ports.values(),
                                                      key=lambda port: port.index))
        self.supervisor.set_ports(record.spec.name, rings)

    def _remove_port(self, device: str, key: tuple[str, str]) -> None:
        """Close a port ring whose LUNs are gone, then remove its TCMU device."""
        record = self.devices[device]
        port = record.ports.pop(key)
        try:
            self._tell_ports(record)
        except BaseException:
            record.ports[key] = port
            raise
        remove_user_backstore(port.backstore)

    def _remove_idle_ports(self, target: _Target) -> None:
        """Port rings of this target that no LUN links to any more (or whose device left
        its device group); a failure is logged, the LUNs are already elsewhere."""
        key = (target.driver, target.name)
        linked = set(target.plan.tpg_luns.values())
        for name, record in self.devices.items():
            port = record.ports.get(key)
            if port is not None and port.key not in linked:
                try:
                    self._remove_port(name, key)
                except OSError as error:
                    log.warning("device %s: port ring %s not removed: %s", name,
                                port.backstore.name, error)

    @staticmethod
    def _configure_acl(target: _Target, initiator: str) -> None:
        if target.tpg is not None:
            target.layout.configure_acl(target.tpg, initiator)

    @staticmethod
    def _report_access(target: _Target, old: AccessPlan, new: AccessPlan,
                       default: dict[int, LunExport]) -> None:
        before = consequence(target.name, old, target.default)
        after = consequence(target.name, new, default)
        if after is not None and after != before:
            log.warning("%s", after)
        elif after is None and before is not None:
            log.info("target %s: access_mode %s: initiators in no group see the target's "
                     "LUNs again", target.name, new.mode)

    def access_mode(self, driver: str, target: str) -> str:
        record = self.targets.get((driver, target))
        return record.plan.mode if record is not None else DEMO

    def set_driver_attribute(self, driver: str, name: str, value: str) -> None:
        if (driver, name) == (COPY_MANAGER, ALLOW_NOT_CONNECTED_COPY):
            if self.reach is not None:
                self.reach.set_allow_not_connected(value == "1")
            return
        kind = DRIVERS.get(driver)
        if kind is None or kind.lio is None or \
                name.rstrip("0123456789") not in kind.driver_attributes:
            raise unsupported(f"{driver} attribute {name!r} is not offered")
        kind.lio.set_driver_attribute(self.fs, name, value)

    # --- scst_local -----------------------------------------------------------------------

    def add_local_session(self, target: str, session: str) -> None:
        """The tcm_loop TPG and nexus, then the LUNs the session sees (SCST matches the
        session's name against the groups' initiators, so the set is known exactly)."""
        record = self.targets[(LOCAL_DRIVER.name, target)]
        if record.tpg is not None:
            raise unsupported("tcm_loop offers one session (nexus) per scst_local target")
        wwn = random_naa()
        export = LoopbackExport(wwn, self.fs)
        export.create()
        record.session = session
        made = self._make_ports(record, record.default, record.group_luns)
        try:
            plan = self._plan(record, *self._linked(record, record.default, record.group_luns),
                              record.members)
            apply_access(export, EMPTY_PLAN, plan, self._backstore)
        except BaseException:
            record.session = None
            export.remove()
            self._remove_ports(record, made)
            raise
        record.tpg, record.local_wwn, record.plan = export, wwn, plan

    def remove_local_session(self, target: str, session: str) -> None:
        record = self.targets[(LOCAL_DRIVER.name, target)]
        if record.tpg is not None:
            record.tpg.remove()
        record.tpg, record.session, record.plan = None, None, record.layout.initial_plan
        self._remove_idle_ports(record)

    # --- read-back ------------------------------------------------------------------------

    def sessions(self, driver: str, target: str) -> list[SessionInfo]:
        record = self.targets.get((driver, target))
        if record is None or not isinstance(record.tpg, IscsiTarget):
            return []
        try:
            sessions = record.tpg.sessions()
            offered = record.tpg.params() if sessions else {}
        except OSError as error:
            log.warning("%s: cannot read sessions: %s", target, error)
            return []
        found = [session_info(session, offered) for session in sessions]
        dynamic = [index for index, session in enumerate(sessions) if session.dynamic]
        if len(dynamic) == 1:
            # the one demo-mode session owns the portal connection no ACL session claims,
            # where there is exactly one such connection on the whole host
            address = unclaimed(ISCSI_LAYOUT.portal[1], [address for session in sessions
                                                         for address in session.addresses])
            if address is not None:
                found[dynamic[0]] = replace(found[dynamic[0]], addresses=(address,),
                                            connections=(ConnectionInfo(address),))
        return found

    def close_session(self, driver: str, target: str, initiator: str) -> None:
        record = self.targets.get((driver, target))
        if record is None or not isinstance(record.tpg, IscsiTarget):
            raise OSError(errno.EOPNOTSUPP, f"{driver} target {target}: closing sessions is "
                          "offered for iSCSI and scst_local targets")
        close_session(record.tpg, initiator)

    def fc_ports(self) -> list[str]:
        return local_port_wwpns()


    def shutdown(self) -> None:
        """Remove everything this daemon made, targets first, then devices and workers."""
        for key in list(self.targets):
            with contextlib.suppress(OSError, KeyError):
                self.delete_target(*key)
        for name in list(self.devices):
            try:
                self.delete_device(name)
            except OSError as error:
                log.warning("device %s: %s", name, error)
        self.supervisor.stop_all()
        if self.reach is not None:
            with contextlib.suppress(OSError):
                self.reach.remove_all()
