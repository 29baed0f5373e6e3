"""Export: an SCST tree (ours or a real SCST kernel's) → an rtslib ``saveconfig.json``.

The document is for a machine *without* tcmu-scstd, restored by ``targetcli restoreconfig``:
the vdisk devices become LIO's own in-kernel backstores (``fileio``, ``block``, ``ramdisk``),
not TCMU ones, because nothing would serve a TCMU ring there.  Targets are laid out as
tcmu-scstd lays them out in LIO (README, "The management tree"): an iSCSI target is TPG 1 on
``0.0.0.0:3260``; its default LUN set is demo mode with TPG LUN k = SCST LUN k; an initiator
group is a set of node ACLs tagged with the group name, whose mapped LUNs point at TPG LUNs
(the one access plan, :mod:`tcmu_scst.lio.access_plan`).  The tree is read through the file
system only, so the same code exports a real SCST host.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

from ...compat_sysfs.names import WILDCARDS
from ...drivers import (
    DRIVERS,
    FCST_DRIVER,
    ISCSI_DRIVER,
    ISCSI_LAYOUT,
    LOCAL_DRIVER,
    LioLayout,
    TargetDriver,
)
from ...lio.access_plan import DEMO, GroupSpec, LunExport
from ..sysfs import AttributeValue, ScstSysfs, SysfsError
from .facts import ACL_TAG_MAX, LIO_BLOCK_SIZES
from .results import SaveconfigDocument
from .wwn import fc_wwn, iscsi_wwn, loopback_wwn

# the files of a directory that hold CHAP accounts (IncomingUser, IncomingUser1, ...)
USER_FILE = re.compile(r"(IncomingUser|OutgoingUser)[0-9]*")


@dataclass
class _TargetLuns:
    """An SCST target's LUN sets read from the tree: LUN → (device, read only)."""

    default: dict[int, tuple[str, bool]] = field(default_factory=dict)
    groups: dict[str, dict[int, tuple[str, bool]]] = field(default_factory=dict)
    initiators: dict[str, list[str]] = field(default_factory=dict)


class _Exporter:
    """One export of one tree; collects the warnings as it goes."""

    def __init__(self, sysfs: ScstSysfs):
        self.fs = sysfs
        self.warnings: list[str] = []
        self.objects: dict[str, str] = {}  # SCST device → "/backstores/<plugin>/<name>"
        self.read_only_devices: set[str] = set()

    def warn(self, path: str, message: str) -> None:
        self.warnings.append(f"{path}: {message}")

    # -- reading the tree ----------------------------------------------------------------

    def attribute(self, path: str) -> AttributeValue | None:
        if not self.fs.exists(path) or self.fs.is_dir(path):
            return None
        try:
            return self.fs.attribute(path)
        except SysfsError as error:
            self.warn(path, f"cannot be read ({error.strerror}); left out")
            return None

    def value(self, path: str, default: str = "") -> str:
        found = self.attribute(path)
        return found.value if found is not None else default

    def flag(self, path: str) -> bool:
        text = self.value(path, "0").strip() or "0"
        try:
            return bool(int(text, 0) & 1)
        except ValueError:
            return False

    def key_attributes(self, path: str) -> dict[str, str]:
        try:
            return self.fs.key_attributes(path)
        except SysfsError:
            return {}

    # -- the document --------------------------------------------------------------------

    def run(self) -> SaveconfigDocument:
        self.fs.check()
        storage_objects = []
        for name in self.fs.subdirectories("devices"):
            made = self.device(name)
            if made is not None:
                storage_objects.append(made)
        targets: list[dict[str, Any]] = []
        for name in self.fs.subdirectories("targets"):
            driver = DRIVERS.get(name)
            if driver is None:
                if self.fs.subdirectories(f"targets/{name}"):
                    self.warn(f"targets/{name}", "this target driver has no LIO fabric "
                              "rtslib restores here; its targets are left out")
            elif driver.lio is not None:
                # (the copy manager has no LIO object; it is SCST's own, on every SCST host:
                # left out without a warning)
                targets += _TARGET_EXPORTS[driver](self, driver, driver.lio)
        document: dict[str, Any] = {"storage_objects": storage_objects, "targets": targets}
        discovery = self.discovery_auth()
        document["fabric_modules"] = [discovery] if discovery else []
        return SaveconfigDocument(document, self.warnings)

    # -- devices -------------------------------------------------------------------------

    def device(self, name: str) -> dict[str, Any] | None:
        base = f"devices/{name}"
        handler = self.fs.readlink(f"{base}/handler") if self.fs.is_link(f"{base}/handler") \
            else ""
        if handler not in ("vdisk_fileio", "vdisk_blockio", "vdisk_nullio"):
            self.warn(base, f"{handler or 'unknown'} devices have no LIO backstore that works "
                      "without tcmu-scstd; the device and its LUNs are left out")
            return None
        if any(character.isspace() for character in name) or "/" in name:
            self.warn(base, "rtslib refuses storage object names with blanks; left out")
            return None
        keys = self.key_attributes(base)
        handled = {"filename", "size", "blocksize", "write_through", "read_only", "usn",
                   "thin_provisioned", "rotational", "async"}
        write_back = not self.flag(f"{base}/write_through")
        read_only = self.flag(f"{base}/read_only")
        attributes: dict[str, int] = {}
        so: dict[str, Any]
        if handler == "vdisk_fileio":
            so = {"plugin": "fileio", "name": name, "dev": self.value(f"{base}/filename"),
                  "size": int(self.value(f"{base}/size", "0") or 0),
                  "write_back": write_back, "aio": self.flag(f"{base}/async")}
            attributes["emulate_write_cache"] = int(write_back)
        elif handler == "vdisk_blockio":
            so = {"plugin": "block", "name": name, "dev": self.value(f"{base}/filename"),
                  "readonly": read_only, "write_back": write_back}
        else:
            size = int(self.value(f"{base}/size", "0") or 0)
            so = {"plugin": "ramdisk", "name": name, "size": size, "nullio": True}
            self.warn(base, "vdisk_nullio becomes a ramdisk with nullio=true: writes are "
                      "discarded, reads are not promised to return zeros")
            if size % 4096:
                self.warn(base, f"size {size} is rounded to whole 4 KiB pages by rtslib")
        if read_only and handler != "vdisk_blockio":
            self.read_only_devices.add(name)
            self.warn(base, "read_only: LIO's fileio and ramdisk backstores have no read-only "
                      "switch; every LUN of this device is exported write-protected")
        block_size = int(self.value(f"{base}/blocksize", "512") or 512)
        if block_size in LIO_BLOCK_SIZES:
            attributes["block_size"] = block_size
        else:
            self.warn(f"{base}/blocksize", f"{block_size}: LIO takes 512, 1024, 2048 or 4096 "
                      "only; left at 512")
        if self.flag(f"{base}/thin_provisioned"):
            attributes["emulate_tpu"] = 1
            attributes["emulate_tpws"] = 1
        if self.attribute(f"{base}/rotational") is not None and \
                not self.flag(f"{base}/rotational"):
            attributes["is_nonrot"] = 1
        if "prod_id" not in keys:
            attributes["emulate_model_alias"] = 1  # product id = name, as SCST's default
        usn = self.value(f"{base}/usn")
        if usn:
            so["wwn"] = usn
        so["attributes"] = attributes
        if handler == "vdisk_nullio" and self.flag(f"{base}/dummy"):
            handled.add("dummy")
            self.warn(f"{base}/dummy", "LIO has no 'not connected' device; exported as a "
                      "working ramdisk")
        for key in sorted(set(keys) - handled):
            self.warn(f"{base}/{key}", f"{keys[key]!r} cannot be expressed in "
                      "saveconfig.json; dropped")
        self.objects[name] = f"/backstores/{so['plugin']}/{name}"
        return so

    # -- LUN sets and groups ---------------------------------------------------------------

    def lun_set(self, path: str) -> dict[int, tuple[str, bool]]:
        found: dict[int, tuple[str, bool]] = {}
        for entry in self.fs.subdirectories(path):
            if not entry.isdigit() or not self.fs.is_link(f"{path}/{entry}/device"):
                continue
            device = self.fs.readlink(f"{path}/{entry}/device")
            if device not in self.objects:
                self.warn(f"{path}/{entry}", f"device {device} is not exported; LUN left out")
                continue
            read_only = self.flag(f"{path}/{entry}/read_only") or \
                device in self.read_only_devices
            found[int(entry)] = (device, read_only)
        return found

    def target_luns(self, base: str) -> _TargetLuns:
        luns = _TargetLuns(self.lun_set(f"{base}/luns"))
        seen: dict[str, str] = {}
        for group in self.fs.subdirectories(f"{base}/ini_groups"):
            path = f"{base}/ini_groups/{group}"
            luns.groups[group] = self.lun_set(f"{path}/luns")
            members = []
            for initiator in self.fs.files(f"{path}/initiators"):
                if initiator == "mgmt":
                    continue
                name = self.value(f"{path}/initiators/{initiator}", initiator) or initiator
                if any(character in name for character in WILDCARDS):
                    self.warn(f"{path}/initiators/{initiator}", "wildcard patterns cannot be "
                              "expressed (LIO ACLs name one initiator); left out")
                elif name.lower() in seen:
                    self.warn(f"{path}/initiators/{initiator}", f"already in group "
                              f"{seen[name.lower()]} (LIO has one ACL per initiator); left out")
                else:
                    seen[name.lower()] = group
                    members.append(name)
            luns.initiators[group] = members
            if not members:
                self.warn(path, "a group without initiators has no LIO counterpart; left out")
        return luns

    def tpg_layout(self, luns: _TargetLuns, layout: LioLayout,
                   ) -> tuple[list[dict[str, Any]], dict[str, dict[int, tuple[int, bool]]], str]:
        """TPG LUNs, per group with initiators mapped LUN → (TPG LUN, write protect), and
        the access mode: exactly the layout tcmu-scstd makes (the driver's access plan,
        :mod:`tcmu_scst.lio.access_plan`)."""
        plan = layout.plan(
            {lun: LunExport(device, read_only) for lun, (device, read_only)
             in luns.default.items()},
            {group: GroupSpec(tuple(luns.initiators.get(group, ())),
                              {lun: LunExport(device, read_only) for lun, (device, read_only)
                               in entries.items()})
             for group, entries in sorted(luns.groups.items())})
        mapped = {acl.group: dict(acl.mapped) for acl in plan.acls.values()}
        listed = [{"index": lun, "storage_object": self.objects[device],
                   "alua_tg_pt_gp_name": "default_tg_pt_gp"}
                  for lun, device in sorted(plan.tpg_luns.items())]
        return listed, mapped, plan.mode

    @staticmethod
    def acl(initiator: str, group: str, mapping: dict[int, tuple[int, bool]],
            chap: Mapping[str, str]) -> dict[str, Any]:
        made: dict[str, Any] = {
            "node_wwn": initiator, "tag": group,
            "mapped_luns": [{"index": lun, "tpg_lun": tpg_lun, "write_protect": read_only}
                            for lun, (tpg_lun, read_only) in sorted(mapping.items())],
        }
        made.update(chap)
        return made

    # -- iSCSI ---------------------------------------------------------------------------

    def users(self, path: str) -> tuple[tuple[str, str] | None, tuple[str, str] | None]:
        """The first IncomingUser account and the OutgoingUser account of a directory."""
        incoming: list[tuple[str, tuple[str, str]]] = []
        outgoing = None
        for name in self.fs.files(path):
            match = USER_FILE.fullmatch(name)
            if not match:
                continue
            user, _, secret = self.value(f"{path}/{name}").partition(" ")
            if not user:
                continue
            if match.group(1) == "IncomingUser":
                incoming.append((name, (user, secret.strip())))
            else:
                outgoing = (user, secret.strip())
        incoming.sort(key=lambda item: (len(item[0]), item[0]))
        for name, _ in incoming[1:]:
            self.warn(f"{path}/{name}", "LIO keeps one CHAP account per TPG or ACL; only "
                      f"{incoming[0][0]} is exported")
        return (incoming[0][1] if incoming else None), outgoing

    def iscsi_targets(self, driver: TargetDriver, layout: LioLayout) -> list[dict[str, Any]]:
        driver_enabled = self.value(f"targets/{driver.name}/enabled", "1").strip() == "1"
        targets = []
        for name in self.fs.subdirectories(f"targets/{driver.name}"):
            base = f"targets/{driver.name}/{name}"
            wwn = iscsi_wwn(name)
            if wwn is None:
                self.warn(base, "rtslib refuses this target name (an IQN needs the "
                          "iqn.yyyy-mm.domain form without '_'); left out")
                continue
            if wwn != name:
                self.warn(base, f"iSCSI names are case-insensitive: rtslib stores {wwn}")
            targets.append(self.iscsi_target(base, wwn, driver_enabled, layout))
        return targets

    def iscsi_target(self, base: str, wwn: str, driver_enabled: bool,
                     layout: LioLayout) -> dict[str, Any]:
        luns = self.target_luns(base)
        tpg_luns, mapped, mode = self.tpg_layout(luns, layout)
        incoming, outgoing = self.users(base)
        chap: dict[str, str] = {}
        if incoming:
            chap["chap_userid"], chap["chap_password"] = incoming
        if outgoing:
            chap["chap_mutual_userid"], chap["chap_mutual_password"] = outgoing
        node_acls = []
        for group, mapping in mapped.items():
            if len(group.encode()) > ACL_TAG_MAX or group.startswith("NULL"):
                self.warn(f"{base}/ini_groups/{group}", "not usable as a LIO ACL tag; the "
                          "ACLs are exported untagged")
            for initiator in luns.initiators[group]:
                node_wwn = iscsi_wwn(initiator)
                path = f"{base}/ini_groups/{group}/initiators/{initiator}"
                if node_wwn is None:
                    self.warn(path, "rtslib refuses this initiator name; left out")
                    continue
                if node_wwn != initiator:
                    self.warn(path, f"iSCSI names are case-insensitive: rtslib stores "
                              f"{node_wwn}")
                acl = self.acl(node_wwn, group, mapping, chap)
                if len(group.encode()) > ACL_TAG_MAX or group.startswith("NULL"):
                    del acl["tag"]
                node_acls.append(acl)
        demo = mode == DEMO
        read_only = [lun for lun, (_, ro) in luns.default.items() if ro]
        if read_only and len(read_only) != len(luns.default):
            writable = sorted(set(luns.default) - set(read_only))
            self.warn(f"{base}/luns", f"demo mode has one write-protect switch: LUNs "
                      f"{', '.join(map(str, writable))} become read-only as "
                      f"{', '.join(map(str, sorted(read_only)))} are")
        if not demo:
            self.warn(f"{base}/luns", "LUNs exported only through groups: exported without "
                      "demo mode (acl-only), so initiators in no group cannot log in" + (
                          f" nor see the {len(luns.default)} default LUN(s)"
                          if luns.default else ""))
        attributes = {
            "authentication": int(incoming is not None),
            "generate_node_acls": int(demo),
            "cache_dynamic_acls": int(demo),
            "demo_mode_write_protect": int(bool(read_only)),
        }
        parameters = {}
        shared = ISCSI_LAYOUT.lio_keys
        for key in shared:
            found = self.attribute(f"{base}/{key}")
            if found is not None and found.value:
                parameters[key] = found.value
        handled = {"enabled", "rel_tgt_id", *shared}
        for key, value in sorted(self.key_attributes(base).items()):
            if key in handled or USER_FILE.fullmatch(key):
                continue
            self.warn(f"{base}/{key}", f"{value!r} cannot be expressed in LIO; dropped")
        tpg: dict[str, Any] = {
            "tag": 1,
            "enable": driver_enabled and self.value(f"{base}/enabled", "0").strip() == "1",
            "attributes": attributes,
            "parameters": parameters,
            "luns": tpg_luns,
            "portals": [{"ip_address": ISCSI_LAYOUT.portal[0], "port": ISCSI_LAYOUT.portal[1],
                         "iser": False, "offload": False}],
            "node_acls": node_acls,
        }
        tpg.update(chap)
        return {"fabric": layout.saveconfig_fabric, "wwn": wwn, "tpgs": [tpg]}

    def discovery_auth(self) -> dict[str, Any] | None:
        """The iSCSI driver's discovery accounts, as rtslib's iSCSI fabric module."""
        base = f"targets/{ISCSI_DRIVER.name}"
        if not self.fs.is_dir(base):
            return None
        incoming, outgoing = self.users(base)
        if incoming is None:
            if outgoing is not None:
                self.warn(f"{base}/OutgoingUser", "mutual discovery CHAP without an "
                          "IncomingUser cannot be enforced by LIO; dropped")
            return None
        module: dict[str, Any] = {"name": ISCSI_LAYOUT.saveconfig_fabric,
                                  "discovery_enable_auth": True,
                                  "discovery_userid": incoming[0],
                                  "discovery_password": incoming[1]}
        if outgoing is not None:
            module["discovery_mutual_userid"], module["discovery_mutual_password"] = outgoing
        return module

    # -- scst_local and fcst ---------------------------------------------------------------

    def local_targets(self, driver: TargetDriver, layout: LioLayout) -> list[dict[str, Any]]:
        targets = []
        for name in self.fs.subdirectories(f"targets/{driver.name}"):
            base = f"targets/{driver.name}/{name}"
            sessions = self.fs.subdirectories(f"{base}/sessions")
            if not sessions:
                self.warn(base, "no session: left out (an LIO loopback target always has a "
                          "nexus, i.e. a local disk)")
                continue
            if len(sessions) > 1:
                self.warn(f"{base}/sessions", "tcm_loop has one nexus per target; one local "
                          "disk per LUN is exported")
            luns = self.target_luns(base)
            for group in luns.groups:
                self.warn(f"{base}/ini_groups/{group}", "loopback targets have no ACLs; the "
                          "group is left out")
            for lun, (_, read_only) in sorted(luns.default.items()):
                if read_only:
                    self.warn(f"{base}/luns/{lun}", "loopback LUNs cannot be read-only; "
                              "exported writable")
            wwn = loopback_wwn(name)
            if wwn != name:
                self.warn(base, f"{driver.name} names are free text, LIO wants a WWN: "
                          f"exported as {wwn}")
            tpg = {"tag": 1, "enable": True, "portals": [], "node_acls": [],
                   "luns": [{"index": lun, "storage_object": self.objects[device],
                             "alua_tg_pt_gp_name": "default_tg_pt_gp"}
                            for lun, (device, _) in sorted(luns.default.items())]}
            targets.append({"fabric": layout.saveconfig_fabric, "wwn": wwn, "tpgs": [tpg]})
        return targets

    def fc_targets(self, driver: TargetDriver, layout: LioLayout) -> list[dict[str, Any]]:
        targets = []
        for name in self.fs.subdirectories(f"targets/{driver.name}"):
            base = f"targets/{driver.name}/{name}"
            luns = self.target_luns(base)
            if not luns.default and not luns.groups:
                continue  # a port nothing is configured on stays an initiator port
            wwn = fc_wwn(name)
            if wwn is None:
                self.warn(base, "rtslib takes FC port names naa.[125]...; left out")
                continue
            if luns.default:
                self.warn(f"{base}/luns", "tcm_fc has no demo mode: the default LUN set is "
                          "reachable by no initiator (use groups)")
            tpg_luns, mapped, _ = self.tpg_layout(luns, layout)
            node_acls = []
            for group, mapping in mapped.items():
                for initiator in luns.initiators[group]:
                    node_wwn = fc_wwn(initiator)
                    if node_wwn is None:
                        self.warn(f"{base}/ini_groups/{group}/initiators/{initiator}",
                                  "not an FC WWPN (aa:bb:...); left out")
                        continue
                    node_acls.append(self.acl(node_wwn, group, mapping, {}))
            tpg = {"tag": 1, "enable": True, "portals": [], "luns": tpg_luns,
                   "node_acls": node_acls}
            targets.append({"fabric": layout.saveconfig_fabric, "wwn": wwn, "tpgs": [tpg]})
        return targets


# the export of each driver LIO holds: its targets as rtslib targets (given the driver and
# its layout)
_TARGET_EXPORTS: dict[TargetDriver, Callable[[_Exporter, TargetDriver, LioLayout],
                                             list[dict[str, Any]]]] = {
    ISCSI_DRIVER: _Exporter.iscsi_targets,
    LOCAL_DRIVER: _Exporter.local_targets,
    FCST_DRIVER: _Exporter.fc_targets,
}


def export_saveconfig(sysfs: ScstSysfs) -> SaveconfigDocument:
    """The SCST tree behind ``sysfs`` as an rtslib saveconfig.json document (a dict; its
    ``warnings`` list what could not be expressed)."""
    return _Exporter(sysfs).run()
