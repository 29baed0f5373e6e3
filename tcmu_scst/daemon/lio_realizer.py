"""The realizer that makes the SCST tree real: LIO configfs objects and data-plane workers.

Mapping (DESIGN.md): a device is a TCMU user backstore ``core/user_N/<name>`` served by a
worker process of its own; an iSCSI target is ``iscsi/<iqn>/tpgt_1`` listening on all
addresses; the target's default LUN set is LIO demo mode (TPG LUN k = SCST LUN k, seen by
every initiator without an explicit ACL); an initiator group is a set of explicit node ACLs
tagged with the group's name, whose mapped LUNs point at TPG LUNs numbered from
GROUP_LUN_BASE up; an ``scst_local`` session is a tcm_loop nexus; an ``fcst`` target is
``fc/<wwpn>/tpgt_1``.

What LIO cannot express is refused or documented, never silently approximated: a LUN-level
``read_only`` in the default set (demo mode has one write-protect switch per TPG), wildcard
initiator patterns, ``allowed_portal``.  Every operation undoes its own steps if a later one
fails, so a failed command changes nothing.
"""

from __future__ import annotations

import contextlib
import errno
import logging
from dataclasses import dataclass, field
from pathlib import Path

from ..compat_sysfs.declarations import INERT
from ..compat_sysfs.realizer import ConnectionInfo, DeviceRequest, LunMapping, SessionInfo
from ..dataplane.spec import DeviceSpec
from ..dataplane.supervisor import Supervisor
from ..lio import (
    Chap,
    FcTarget,
    IscsiTarget,
    LoopbackExport,
    MappedLun,
    TargetPortalGroup,
    as_configfs,
    create_user_backstore,
    local_port_wwpns,
    random_naa,
    remove_user_backstore,
    set_discovery_chap,
    unused_hba_index,
)
from ..lio.backstore import UserBackstore
from .connections import peers

log = logging.getLogger(__name__)

GROUP_LUN_BASE = 20000  # TPG LUNs behind initiator-group LUNs start here
HBA_BASE = 100  # core/user_N indexes we allocate from (targetcli starts at 0)
ISCSI_PORTAL = ("0.0.0.0", 3260)
# SCST's local defaults for the negotiation keys LIO keeps too (tree and kernel agree)
SCST_ISCSI_DEFAULTS = {
    "InitialR2T": "No", "ImmediateData": "Yes", "MaxRecvDataSegmentLength": "1048576",
    "MaxXmitDataSegmentLength": "1048576", "MaxBurstLength": "1048576",
    "FirstBurstLength": "65536", "MaxOutstandingR2T": "32", "HeaderDigest": "None",
    "DataDigest": "None",
}
LIO_ONLY_IN_SCST = ("QueuedCommands", "RspTimeout", "NopInInterval", "NopInTimeout",
                    "MaxSessions")
CD_BLOCK = 2048


def unsupported(message: str) -> OSError:
    return OSError(errno.EINVAL, message)


@dataclass
class _Device:
    backstore: UserBackstore
    spec: DeviceSpec


@dataclass
class _Target:
    driver: str
    name: str
    tpg: TargetPortalGroup | None
    # (group or None, SCST LUN) -> (TPG LUN, device, read only)
    luns: dict[tuple[str | None, int], tuple[int, str, bool]] = field(default_factory=dict)
    groups: dict[str, set[str]] = field(default_factory=dict)
    local_wwn: str | None = None  # scst_local: the tcm_loop WWN behind the SCST name


class LioRealizer:
    def __init__(self, configfs: str | Path = "/sys/kernel/config",
                 supervisor: Supervisor | None = None):
        self.root = str(configfs)
        self.fs = as_configfs(configfs)
        self.supervisor = supervisor or Supervisor()
        self.devices: dict[str, _Device] = {}
        self.targets: dict[tuple[str, str], _Target] = {}

    # --- devices --------------------------------------------------------------------------

    def create_device(self, request: DeviceRequest) -> None:
        params = {key: value for key, value in request.params.items() if key not in INERT}
        size = request.size or request.block_size  # an empty CD-ROM still needs a size
        hba = unused_hba_index(self.fs, start=HBA_BASE)
        backstore = create_user_backstore(request.name, hba, request.handler, request.name,
                                          size, request.block_size, configfs=self.fs)
        spec = DeviceSpec(request.name, request.handler, hba, params, self.root)
        try:
            self.supervisor.start(request.name, [spec])
        except BaseException as error:
            remove_user_backstore(backstore)
            raise OSError(errno.EIO, f"{request.name}: the data-plane worker did not start: "
                          f"{error}") from error
        self.devices[request.name] = _Device(backstore, spec)
        log.info("device %s: %s on core/user_%d, worker started", request.name,
                 request.handler, hba)

    def delete_device(self, name: str) -> None:
        device = self.devices.pop(name)
        self.supervisor.stop(name)
        remove_user_backstore(device.backstore)

    def set_device_attribute(self, name: str, attribute: str, value: str) -> None:
        self.supervisor.set_attribute(name, attribute, value)

    # --- targets --------------------------------------------------------------------------

    def create_target(self, driver: str, name: str, params: dict[str, str]) -> None:
        if driver == "iscsi":
            tpg: TargetPortalGroup | None = IscsiTarget(name, self.fs)
            assert isinstance(tpg, IscsiTarget)
            tpg.create()
            try:
                tpg.add_portal(*ISCSI_PORTAL)
                tpg.set_demo_mode(True, write_protect=False)
                tpg.set_authentication(False)
                for key, value in {**SCST_ISCSI_DEFAULTS, **params}.items():
                    if key not in LIO_ONLY_IN_SCST:
                        tpg.set_param(key, value)
            except BaseException:
                tpg.remove()
                raise
        elif driver == "fcst":
            # tcm_fc has no demo mode (no TPG attributes): initiators reach LUNs through
            # explicit ACLs only, i.e. fcst initiator groups
            tpg = FcTarget(name, self.fs)
            tpg.create()
        elif driver == "scst_local":
            tpg = None  # made with its session (tcm_loop has one nexus per TPG)
        else:
            raise unsupported(f"target driver {driver!r} is not available")
        self.targets[(driver, name)] = _Target(driver, name, tpg)

    def delete_target(self, driver: str, name: str) -> None:
        target = self.targets.pop((driver, name))
        if target.tpg is not None and target.tpg.exists():
            target.tpg.remove()

    def enable_target(self, driver: str, name: str, enabled: bool) -> None:
        target = self.targets[(driver, name)]
        if isinstance(target.tpg, IscsiTarget):
            target.tpg.enable(enabled)
        elif target.tpg is not None and self.fs.exists(target.tpg.tpg_path / "enable"):
            self.fs.write(target.tpg.tpg_path / "enable", "1" if enabled else "0")

    def set_target_attribute(self, driver: str, name: str, attribute: str, value: str) -> None:
        target = self.targets[(driver, name)]
        tpg = target.tpg
        if not isinstance(tpg, IscsiTarget):
            raise unsupported(f"{attribute}: not an iSCSI target")
        base = attribute.rstrip("0123456789")
        if base == "IncomingUser":
            if attribute != "IncomingUser":
                raise unsupported("LIO keeps one CHAP account per target: remove "
                                  "IncomingUser before adding another")
            user, _, secret = value.partition(" ")
            old = tpg.chap()
            chap = Chap(user, secret, old.userid_mutual, old.password_mutual)
            try:
                self._set_chap(target, tpg, chap)
                tpg.set_authentication(bool(user))
            except BaseException:
                self._set_chap(target, tpg, old)
                raise
        elif base == "OutgoingUser":
            user, _, secret = value.partition(" ")
            old = tpg.chap()
            chap = Chap(old.userid, old.password, user, secret)
            try:
                self._set_chap(target, tpg, chap)
            except BaseException:
                self._set_chap(target, tpg, old)
                raise
        elif base == "allowed_portal":
            raise unsupported("allowed_portal cannot be expressed in LIO (portals are per "
                              "target, not per initiator address)")
        elif attribute in LIO_ONLY_IN_SCST:
            return  # iscsi-scstd daemon settings without an LIO counterpart: kept in the tree
        else:
            tpg.set_param(attribute, value)

    @staticmethod
    def _set_chap(target: _Target, tpg: IscsiTarget, chap: Chap) -> None:
        """SCST checks a target's accounts for every initiator; LIO checks the TPG's only for
        demo-mode sessions and each explicit ACL's own for its initiator: so the account goes
        to the TPG and to the ACL of every initiator in a group."""
        tpg.set_chap(chap)
        for initiators in target.groups.values():
            for initiator in initiators:
                tpg.set_acl_chap(initiator, chap)

    # --- LUNs -----------------------------------------------------------------------------

    def _tpg_lun(self, target: _Target, mapping: LunMapping) -> int:
        if mapping.group is None:
            return mapping.lun
        used = {tpg_lun for tpg_lun, _, _ in target.luns.values()}
        number = GROUP_LUN_BASE
        while number in used:
            number += 1
        return number

    def add_lun(self, mapping: LunMapping) -> None:
        target = self.targets[(mapping.driver, mapping.target)]
        device = self.devices.get(mapping.device)
        if device is None:
            raise OSError(errno.ENODEV, f"device {mapping.device!r} has no backstore")
        if mapping.group is None and mapping.read_only and mapping.driver != "scst_local":
            raise unsupported("read_only LUNs in a target's default LUN set cannot be "
                              "expressed in LIO (demo mode has one write-protect switch); "
                              "use an initiator group, or read_only=1 on the device")
        tpg_lun = self._tpg_lun(target, mapping)
        if target.tpg is not None:
            target.tpg.add_lun(tpg_lun, device.backstore)
            try:
                for initiator in target.groups.get(mapping.group or "", set()) \
                        if mapping.group else ():
                    target.tpg.map_lun(initiator, mapping.lun, tpg_lun, mapping.read_only)
            except BaseException:
                with contextlib.suppress(OSError):
                    for initiator in target.groups.get(mapping.group or "", set()):
                        target.tpg.unmap_lun(initiator, mapping.lun)
                target.tpg.remove_lun(tpg_lun)
                raise
        target.luns[(mapping.group, mapping.lun)] = (tpg_lun, mapping.device, mapping.read_only)

    def remove_lun(self, mapping: LunMapping) -> None:
        target = self.targets[(mapping.driver, mapping.target)]
        tpg_lun, _, _ = target.luns.pop((mapping.group, mapping.lun))
        if target.tpg is not None:
            if mapping.group:
                for initiator in target.groups.get(mapping.group, set()):
                    target.tpg.unmap_lun(initiator, mapping.lun)
            target.tpg.remove_lun(tpg_lun)

    # --- groups and initiators ------------------------------------------------------------

    def create_group(self, driver: str, target: str, group: str) -> None:
        self.targets[(driver, target)].groups[group] = set()

    def delete_group(self, driver: str, target: str, group: str) -> None:
        self.targets[(driver, target)].groups.pop(group, None)

    def add_initiator(self, driver: str, target: str, group: str, initiator: str) -> None:
        record = self.targets[(driver, target)]
        if record.tpg is None:
            raise unsupported("scst_local targets have no initiator groups in LIO")
        mapped = {lun: MappedLun(tpg_lun, read_only)
                  for (lun_group, lun), (tpg_lun, _, read_only) in record.luns.items()
                  if lun_group == group}
        record.tpg.add_acl(initiator, mapped, tag=group)
        if isinstance(record.tpg, IscsiTarget):
            chap = record.tpg.chap()
            if not chap.is_empty:
                try:
                    record.tpg.set_acl_chap(initiator, chap)
                except BaseException:
                    record.tpg.remove_acl(initiator)
                    raise
        record.groups.setdefault(group, set()).add(initiator)

    def remove_initiator(self, driver: str, target: str, group: str, initiator: str) -> None:
        record = self.targets[(driver, target)]
        if record.tpg is not None:
            record.tpg.remove_acl(initiator)
        record.groups.get(group, set()).discard(initiator)

    def set_driver_attribute(self, driver: str, name: str, value: str) -> None:
        if driver != "iscsi" or name.rstrip("0123456789") not in ("IncomingUser",
                                                                   "OutgoingUser"):
            raise unsupported(f"{driver} attribute {name!r} is not offered")
        user, _, secret = value.partition(" ")
        if name.startswith("IncomingUser"):
            set_discovery_chap(Chap(user, secret) if user else None, bool(user), self.fs)
        else:
            raise unsupported("discovery mutual CHAP (OutgoingUser) is not offered yet")

    # --- scst_local -----------------------------------------------------------------------

    def add_local_session(self, target: str, session: str) -> None:
        record = self.targets[("scst_local", target)]
        if record.tpg is not None:
            raise unsupported("tcm_loop offers one session (nexus) per scst_local target")
        wwn = random_naa()
        export = LoopbackExport(wwn, self.fs)
        export.create()
        try:
            for (group, _), (tpg_lun, device, _) in sorted(record.luns.items(),
                                                           key=lambda item: item[0][1]):
                if group is None:
                    export.add_lun(tpg_lun, self.devices[device].backstore)
        except BaseException:
            export.remove()
            raise
        record.tpg, record.local_wwn = export, wwn

    def remove_local_session(self, target: str, session: str) -> None:
        record = self.targets[("scst_local", target)]
        if record.tpg is not None:
            record.tpg.remove()
        record.tpg = None

    # --- read-back ------------------------------------------------------------------------

    def sessions(self, driver: str, target: str) -> list[SessionInfo]:
        record = self.targets.get((driver, target))
        if record is None or not isinstance(record.tpg, IscsiTarget):
            return []
        try:
            sessions = record.tpg.sessions()
        except OSError as error:
            log.warning("%s: cannot read sessions: %s", target, error)
            return []
        found = [SessionInfo(session.initiator, session.addresses, session.session_id,
                             session.tag, tuple(ConnectionInfo(item.address, item.cid, item.state)
                                                for item in session.connections))
                 for session in sessions]
        dynamic = [index for index, session in enumerate(sessions) if session.dynamic]
        if len(dynamic) == 1:
            # the one demo-mode session owns the portal connections no ACL session claims
            claimed = {address for session in sessions for address in session.addresses}
            addresses = tuple(address for address in peers(ISCSI_PORTAL[1])
                              if address not in claimed)
            session = found[dynamic[0]]
            found[dynamic[0]] = SessionInfo(session.initiator, addresses, session.session_id,
                                            session.group,
                                            tuple(ConnectionInfo(address) for address in addresses))
        return found

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
