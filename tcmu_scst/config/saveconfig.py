"""Moving a configuration between an SCST tree and rtslib's ``saveconfig.json``.

targetcli users keep their LIO configuration in ``/etc/target/saveconfig.json`` and restore
it with ``targetcli restoreconfig`` (or ``targetctl restore``); SCST users keep an scst.conf.
This module converts in both directions:

* :func:`export_saveconfig` reads an SCST tree (ours or a real SCST kernel's) through the file
  system and writes a document that rtslib restores on a machine *without* tcmu-scstd: the
  vdisk devices become LIO's own in-kernel backstores (``fileio``, ``block``, ``ramdisk``),
  not TCMU ones, because nothing would serve a TCMU ring there.  Targets are laid out as
  tcmu-scstd lays them out in LIO (README, "The management tree"): an iSCSI target is TPG 1
  on ``0.0.0.0:3260``; its default LUN set is demo mode with TPG LUN k = SCST LUN k; an
  initiator group is a set of node ACLs tagged with the group name, whose mapped LUNs point
  at TPG LUNs (a device the default set already exports is shared, any other one gets a TPG
  LUN from ``GROUP_LUN_BASE`` up, beyond SCST's LUN range so it cannot be mistaken for a
  default-set LUN when the document comes back).
* :func:`import_saveconfig` turns such a document (anyone's, validated first) into scst.conf
  text for the config tool: ``fileio`` → ``vdisk_fileio``, ``block`` → ``vdisk_blockio``,
  ``ramdisk`` → ``vdisk_nullio``; each node ACL (or set of ACLs sharing a tag and the same
  mapped LUNs) → an initiator group; CHAP → ``IncomingUser``/``OutgoingUser``.

Neither direction is lossless; :data:`UNEXPRESSIBLE` lists what is lost in general and each
conversion returns the concrete losses as ``warnings`` (one line each, starting with the tree
path or the JSON path of the item).  Malformed documents raise :class:`SaveconfigError`
naming the JSON path of the offending item.

The rtslib facts used here (which keys each storage-object class takes as keyword arguments,
WWN patterns, plugin names ``block``/``ramdisk`` in LUN paths, kernel defaults of TPG
attributes) are from rtslib-fb 2.1.75 (Debian 12) and 2.2.4; keys only newer versions know
(``exclusive`` for ``block``) are not written, so both restore the export.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import sys
import tempfile
import zlib
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

from ..compat_sysfs.names import COPY_MANAGER, WILDCARDS
from ..lio.access_plan import DEMO, GroupSpec, LunExport, plan_access
from .sysfs import AttributeValue, ScstSysfs, SysfsError

SCST_MAX_LUN = 16383  # SCST_MAX_LUN: LUN numbers an SCST LUN set can hold
LIO_MAX_LUN = 65535
ISCSI_PORTAL = ("0.0.0.0", 3260)
LIO_BLOCK_SIZES = (512, 1024, 2048, 4096)
SCST_DEVICE_NAME_MAX = 64
SCST_USN_MAX = 20
SCST_MIN_SECRET = 12  # iscsi-scstd refuses shorter CHAP secrets
ACL_TAG_MAX = 63  # what tcmu-scstd accepts as a LIO ACL tag (a group name)

# SCST's iSCSI target keys that LIO keeps as TPG parameters of the same name, with SCST's
# defaults (scst_sysfs.md 5.6); tcmu-scstd writes exactly these into tpgt_1/param/.
SCST_SHARED_KEYS = {
    "InitialR2T": "No", "ImmediateData": "Yes", "MaxRecvDataSegmentLength": "1048576",
    "MaxXmitDataSegmentLength": "1048576", "MaxBurstLength": "1048576",
    "FirstBurstLength": "65536", "MaxOutstandingR2T": "32", "HeaderDigest": "None",
    "DataDigest": "None",
}
# iscsi-scstd's own settings without an LIO counterpart (tcmu-scstd keeps them in the tree)
SCST_ONLY_KEYS = {"QueuedCommands": "32", "RspTimeout": "90", "NopInInterval": "30",
                  "NopInTimeout": "30", "MaxSessions": "0"}
# LIO TPG parameters SCST has no file for, with the kernel's defaults (lio_configfs.md 2.3)
LIO_ONLY_PARAMETERS = {
    "MaxConnections": "1", "TargetAlias": "LIO Target", "DefaultTime2Wait": "2",
    "DefaultTime2Retain": "20", "ErrorRecoveryLevel": "0", "DataPDUInOrder": "Yes",
    "DataSequenceInOrder": "Yes", "IFMarker": "No", "OFMarker": "No", "IFMarkInt": "Reject",
    "OFMarkInt": "Reject", "RDMAExtensions": "No",
    "InitiatorRecvDataSegmentLength": "262144", "TargetRecvDataSegmentLength": "8192",
}
# Kernel defaults of the iSCSI TPG attributes an import has to interpret (lio_configfs.md
# 2.2): a document that leaves one out gets the kernel's value on restore.
TPG_DEFAULTS = {"generate_node_acls": 0, "demo_mode_write_protect": 1,
                "prod_mode_write_protect": 0, "authentication": 1}
TPG_IGNORED = ("cache_dynamic_acls", "demo_mode_discovery", "tpg_enabled_sendtargets",
               "login_timeout", "netif_timeout", "login_keys_workaround", "default_cmdsn_depth",
               "default_erl", "t10_pi", "fabric_prot_type")
# Node-ACL attributes (lio_configfs.md 2.5) with the values kernels use as defaults
ACL_ATTRIBUTE_DEFAULTS = {
    "dataout_timeout": (3,), "dataout_timeout_retries": (5,), "default_erl": (0,),
    "nopin_timeout": (5, 15), "nopin_response_timeout": (5, 30),
    "random_datain_pdu_offsets": (0,), "random_datain_seq_offsets": (0,),
    "random_r2t_offsets": (0,),
}
# Storage-object attributes whose non-default value changes what an initiator gets and that
# no vdisk parameter expresses (value = LIO's default).
SO_SEMANTIC_DEFAULTS = {"pi_prot_type": 0, "emulate_caw": 1, "emulate_3pc": 1,
                        "emulate_pr": 1, "emulate_fua_write": 1, "emulate_tas": 1,
                        "emulate_ua_intlck_ctrl": 0, "unmap_zeroes_data": 0}

# rtslib's WWN rules (utils.normalize_wwn) restated: what it accepts per fabric.
_IQN = re.compile(r"iqn\.[0-9]{4}-[0-1][0-9]\..*\..*")
_NAA = re.compile(r"naa\.[125][0-9a-f]{15}")
_EUI = re.compile(r"eui\.[0-9a-f]{16}")
_COLON_WWPN = re.compile(r"[0-9a-f]{2}(?::[0-9a-f]{2}){7}")
_USER_FILE = re.compile(r"(IncomingUser|OutgoingUser)[0-9]*")

STORAGE_PLUGINS = {"fileio": "fileio", "block": "block", "iblock": "block",
                   "ramdisk": "ramdisk", "rd_mcp": "ramdisk", "pscsi": "pscsi", "user": "user"}
_SO_KEYS = {
    "fileio": {"dev", "size", "wwn", "write_back", "aio", "index"},
    "block": {"dev", "wwn", "readonly", "write_back", "exclusive", "index"},
    "ramdisk": {"size", "wwn", "nullio", "index"},
    "pscsi": {"dev", "index"},
    "user": {"config", "size", "wwn", "hw_max_sectors", "control", "index"},
}
_SO_COMMON_KEYS = {"name", "plugin", "attributes", "alua_tpgs", "exists", "buffered_mode"}
CHAP_KEYS = ("chap_userid", "chap_password", "chap_mutual_userid", "chap_mutual_password")
_FABRIC_DRIVERS = {"iscsi": "iscsi", "loopback": "scst_local", "tcm_fc": "fcst"}

UNEXPRESSIBLE: dict[str, tuple[str, ...]] = {
    "export": (
        "vcdrom devices: LIO has no CD-ROM backstore; the device and its LUNs are left out.",
        "vdisk_nullio becomes a ramdisk with nullio=true: no memory, writes are discarded "
        "(as SCST), but what a READ returns is whatever LIO leaves in the buffer, not the "
        "zeros SCST's read_zero=1 promises; dummy=1 is dropped.",
        "INQUIRY identity: LIO answers vendor LIO-ORG, product = the backstore name "
        "(emulate_model_alias=1, as SCST's default prod_id), its own revision, and builds "
        "VPD page 0x83 from the unit serial: the serial (usn) is kept as the storage "
        "object's wwn, t10_dev_id, t10_vend_id, prod_id, prod_rev_lvl, eui64_id, naa_id, "
        "vend_specific_id, inq_vend_specific and scsi_device_name are not.",
        "nv_cache, o_direct, removable, tst, lb_per_pb_exp, opt_trans_len and the other "
        "vdisk settings without a fileio/block counterpart; read_only of a fileio or "
        "nullio device becomes write protection of every LUN that maps it.",
        "blocksize other than 512, 1024, 2048 or 4096 (LIO's block_size choices).",
        "A target whose groups export a device that its default LUN set does not is exported "
        "without demo mode (access_mode acl-only, as tcmu-scstd does): initiators in no "
        "group cannot log in at all, since demo mode would show them the group-only LUNs "
        "too (SCST lets them in to the default LUN set).",
        "A mix of read-only and writable LUNs in a target's default set: demo mode has one "
        "write-protect switch, so all of them become read-only.",
        "More than one IncomingUser per target or per driver (LIO keeps one account per TPG "
        "or ACL); the target's account is also given to every ACL, as SCST checks it for "
        "every initiator.",
        "allowed_portal, per_portal_acl, redirect, alias and iscsi-scstd's own keys "
        "(QueuedCommands, RspTimeout, NopInInterval, NopInTimeout, MaxSessions); the "
        "portal is always 0.0.0.0:3260.",
        "rel_tgt_id (LIO assigns its own relative port ids; rtslib does not save them).",
        "Wildcard initiator patterns, initiators in several groups of one target (the first "
        "group keeps it), groups without initiators, names rtslib refuses (an IQN with '_').",
        "scst_local: a target without a session is left out (a loopback target always has a "
        "nexus, i.e. a local disk), only one session, no groups, no read_only LUNs; the "
        "LIO WWN is the target name if it is an naa. name, else one derived from it.",
        "fcst: LUNs of the default set are reachable by no one (tcm_fc has no demo mode); "
        "ports nothing is configured on are left out.",
        "copy_manager: left out, as it has no rtslib object: LIO carries out EXTENDED COPY "
        "itself between the backstores of one kernel (emulate_3pc), with no copy manager "
        "LUNs to give, no allow_not_connected_copy and no way to take a device out of "
        "reach.",
        "Other target drivers (qla2x00t, ib_srpt, ...), device groups (ALUA), "
        "setup_id and the iSCSI driver's iSNS settings.",
    ),
    "import": (
        "Backstores other than fileio, block and ramdisk: user:<handler> (tcmu-runner: qcow, "
        "rbd, glfs, zbc, file ...) and pscsi are left out, with the LUNs that export them.",
        "A ramdisk keeps what is written to it; vdisk_nullio discards it (nullio=true "
        "ramdisks match).",
        "The unit serial (wwn) becomes usn only when it fits SCST's 20 characters; rtslib's "
        "generated serials (UUIDs) do not, so those devices get SCST's generated identity.",
        "fileio size: SCST takes the size of the file, which must exist (LIO creates and "
        "sizes it); block write_back and exclusive (the device decides); attributes "
        "without a vdisk parameter (pi_prot_type, emulate_caw=0, emulate_3pc=0, ...).",
        "Several TPGs per target (only the first is converted), portals (SCST listens on "
        "every address; iSER and offload are not offered), TargetAlias and the other "
        "negotiation keys SCST has no file for, TPG and node-ACL attributes such as "
        "default_cmdsn_depth, nopin_timeout and tcq_depth.",
        "TPG LUNs numbered above 16383 (SCST's LUN range) in demo mode: initiators without an "
        "ACL saw them in LIO; in SCST they are reachable only through the groups that map "
        "them.  Without demo mode an initiator without an ACL cannot log in to LIO; in SCST "
        "it logs in to the target's (then empty) default LUN set.",
        "CHAP: SCST's accounts are per target, not per initiator, so each ACL's account "
        "becomes one more IncomingUser of the target (any of them may log in as any "
        "initiator) and only one OutgoingUser is kept; credentials LIO does not enforce "
        "(authentication=0) are left out, and secrets shorter than 12 characters are "
        "written but refused by iscsi-scstd and tcmu-scstd.",
        "ACLs sharing a tag but not the same mapped LUNs become separate groups.",
        "loopback: the nexus WWN is not saved by rtslib; each loopback target becomes an "
        "scst_local target named by its WWN with one session 'lio_nexus'.",
        "tcm_fc: targets are hardware ports that must exist; TPG LUNs no ACL maps are "
        "dropped (no one could reach them).",
        "Fabrics other than iscsi, loopback and tcm_fc (qla2xxx, srpt, vhost, ...), ALUA "
        "groups, and discovery credentials that are not enforced.",
    ),
}


class SaveconfigError(ValueError):
    """A document (or tree) that cannot be converted; ``path`` names the offending item."""

    def __init__(self, path: str, message: str):
        super().__init__(f"{path}: {message}")
        self.path = path
        self.message = message


class SaveconfigDocument(dict):  # type: ignore[type-arg]
    """An exported saveconfig.json document, with what the export could not express."""

    def __init__(self, content: Mapping[str, Any], warnings: Iterable[str] = ()):
        super().__init__(content)
        self.warnings: list[str] = list(warnings)


class ScstConfText(str):
    """scst.conf text made by an import, with what the import could not express."""

    warnings: list[str]

    def __new__(cls, text: str, warnings: Iterable[str] = ()) -> ScstConfText:
        made = super().__new__(cls, text)
        made.warnings = list(warnings)
        return made


# --------------------------------------------------------------------------------------------
# export: SCST tree -> saveconfig.json
# --------------------------------------------------------------------------------------------


def loopback_wwn(name: str) -> str:
    """The LIO loopback WWN for an scst_local target: its name if rtslib takes it as an naa.
    WWN, else ``naa.5001405`` and 9 hex digits derived from the name (stable across runs,
    so exporting twice gives the same document)."""
    if _NAA.fullmatch(name):
        return name
    return f"naa.5001405{zlib.crc32(name.encode()) & 0xFFFFFFFFF:09x}"


def iscsi_wwn(name: str) -> str | None:
    """``name`` as rtslib will store it (iSCSI names are case-insensitive, rtslib lowers them),
    or None if rtslib refuses it (an IQN with '_' or a blank, say)."""
    lowered = name.strip().lower()
    if _IQN.fullmatch(lowered) and " " not in lowered and "_" not in lowered:
        return lowered
    if _NAA.fullmatch(lowered) or _EUI.fullmatch(lowered):
        return lowered
    return None


def fc_wwn(colon_wwpn: str) -> str | None:
    """``20:00:...`` → rtslib's ``naa.2000...`` (None when rtslib would refuse it)."""
    value = colon_wwpn.strip().lower()
    if not _COLON_WWPN.fullmatch(value):
        return None
    wwn = "naa." + value.replace(":", "")
    return wwn if _NAA.fullmatch(wwn) else None


@dataclass
class _TargetLuns:
    """An SCST target's LUN sets read from the tree: LUN → (device, read only)."""

    default: dict[int, tuple[str, bool]] = field(default_factory=dict)
    groups: dict[str, dict[int, tuple[str, bool]]] = field(default_factory=dict)
    initiators: dict[str, list[str]] = field(default_factory=dict)


class _Exporter:
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
        for driver in self.fs.subdirectories("targets"):
            if driver == "iscsi":
                targets += self.iscsi_targets()
            elif driver == "scst_local":
                targets += self.local_targets()
            elif driver == "fcst":
                targets += self.fc_targets()
            elif driver != COPY_MANAGER and self.fs.subdirectories(f"targets/{driver}"):
                # (the copy manager is SCST's own, on every SCST host: a note, no warning)
                self.warn(f"targets/{driver}", "this target driver has no LIO fabric "
                              "rtslib restores here; its targets are left out")
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

    def tpg_layout(self, luns: _TargetLuns, demo_capable: bool = True,
                   ) -> tuple[list[dict[str, Any]], dict[str, dict[int, tuple[int, bool]]], str]:
        """TPG LUNs, per group with initiators mapped LUN → (TPG LUN, write protect), and
        the access mode: exactly the layout tcmu-scstd makes (:mod:`tcmu_scst.lio.access_plan`)."""
        plan = plan_access(
            {lun: LunExport(device, read_only) for lun, (device, read_only)
             in luns.default.items()},
            {group: GroupSpec(tuple(luns.initiators.get(group, ())),
                              {lun: LunExport(device, read_only) for lun, (device, read_only)
                               in entries.items()})
             for group, entries in sorted(luns.groups.items())},
            demo_capable)
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
            match = _USER_FILE.fullmatch(name)
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

    def iscsi_targets(self) -> list[dict[str, Any]]:
        driver_enabled = self.value("targets/iscsi/enabled", "1").strip() == "1"
        targets = []
        for name in self.fs.subdirectories("targets/iscsi"):
            base = f"targets/iscsi/{name}"
            wwn = iscsi_wwn(name)
            if wwn is None:
                self.warn(base, "rtslib refuses this target name (an IQN needs the "
                          "iqn.yyyy-mm.domain form without '_'); left out")
                continue
            if wwn != name:
                self.warn(base, f"iSCSI names are case-insensitive: rtslib stores {wwn}")
            targets.append(self.iscsi_target(base, wwn, driver_enabled))
        return targets

    def iscsi_target(self, base: str, wwn: str, driver_enabled: bool) -> dict[str, Any]:
        luns = self.target_luns(base)
        tpg_luns, mapped, mode = self.tpg_layout(luns)
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
        for key in SCST_SHARED_KEYS:
            found = self.attribute(f"{base}/{key}")
            if found is not None and found.value:
                parameters[key] = found.value
        handled = {"enabled", "rel_tgt_id", *SCST_SHARED_KEYS}
        for key, value in sorted(self.key_attributes(base).items()):
            if key in handled or _USER_FILE.fullmatch(key):
                continue
            self.warn(f"{base}/{key}", f"{value!r} cannot be expressed in LIO; dropped")
        tpg: dict[str, Any] = {
            "tag": 1,
            "enable": driver_enabled and self.value(f"{base}/enabled", "0").strip() == "1",
            "attributes": attributes,
            "parameters": parameters,
            "luns": tpg_luns,
            "portals": [{"ip_address": ISCSI_PORTAL[0], "port": ISCSI_PORTAL[1],
                         "iser": False, "offload": False}],
            "node_acls": node_acls,
        }
        tpg.update(chap)
        return {"fabric": "iscsi", "wwn": wwn, "tpgs": [tpg]}

    def discovery_auth(self) -> dict[str, Any] | None:
        if not self.fs.is_dir("targets/iscsi"):
            return None
        incoming, outgoing = self.users("targets/iscsi")
        if incoming is None:
            if outgoing is not None:
                self.warn("targets/iscsi/OutgoingUser", "mutual discovery CHAP without an "
                          "IncomingUser cannot be enforced by LIO; dropped")
            return None
        module: dict[str, Any] = {"name": "iscsi", "discovery_enable_auth": True,
                                  "discovery_userid": incoming[0],
                                  "discovery_password": incoming[1]}
        if outgoing is not None:
            module["discovery_mutual_userid"], module["discovery_mutual_password"] = outgoing
        return module

    # -- scst_local and fcst ---------------------------------------------------------------

    def local_targets(self) -> list[dict[str, Any]]:
        targets = []
        for name in self.fs.subdirectories("targets/scst_local"):
            base = f"targets/scst_local/{name}"
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
                self.warn(base, f"scst_local names are free text, LIO wants a WWN: "
                          f"exported as {wwn}")
            tpg = {"tag": 1, "enable": True, "portals": [], "node_acls": [],
                   "luns": [{"index": lun, "storage_object": self.objects[device],
                             "alua_tg_pt_gp_name": "default_tg_pt_gp"}
                            for lun, (device, _) in sorted(luns.default.items())]}
            targets.append({"fabric": "loopback", "wwn": wwn, "tpgs": [tpg]})
        return targets

    def fc_targets(self) -> list[dict[str, Any]]:
        targets = []
        for name in self.fs.subdirectories("targets/fcst"):
            base = f"targets/fcst/{name}"
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
            tpg_luns, mapped, _ = self.tpg_layout(luns, demo_capable=False)
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
            targets.append({"fabric": "tcm_fc", "wwn": wwn, "tpgs": [tpg]})
        return targets


def export_saveconfig(sysfs: ScstSysfs) -> SaveconfigDocument:
    """The SCST tree behind ``sysfs`` as an rtslib saveconfig.json document (a dict; its
    ``warnings`` list what could not be expressed)."""
    return _Exporter(sysfs).run()


# --------------------------------------------------------------------------------------------
# import: saveconfig.json -> scst.conf
# --------------------------------------------------------------------------------------------


def _type_name(value: object) -> str:
    return {dict: "an object", list: "a list", str: "a string", bool: "true/false",
            int: "a number", float: "a number", type(None): "null"}.get(type(value),
                                                                        type(value).__name__)


class _Checker:
    """Typed access to a JSON document that fails with the path of the offending item."""

    @staticmethod
    def object(value: object, path: str) -> dict[str, Any]:
        if not isinstance(value, dict):
            raise SaveconfigError(path, f"expected an object, found {_type_name(value)}")
        return value

    @staticmethod
    def array(value: object, path: str) -> list[Any]:
        if not isinstance(value, list):
            raise SaveconfigError(path, f"expected a list, found {_type_name(value)}")
        return value

    @staticmethod
    def string(item: Mapping[str, Any], key: str, path: str, required: bool = False,
               default: str | None = None) -> str | None:
        if key not in item or item[key] is None:
            if required:
                raise SaveconfigError(f"{path}.{key}", "missing")
            return default
        value = item[key]
        if not isinstance(value, str):
            raise SaveconfigError(f"{path}.{key}", f"expected a string, found "
                                  f"{_type_name(value)}")
        return value

    @staticmethod
    def integer(item: Mapping[str, Any], key: str, path: str, required: bool = False,
                low: int = 0, high: int | None = None,
                default: int | None = None) -> int | None:
        if key not in item or item[key] is None:
            if required:
                raise SaveconfigError(f"{path}.{key}", "missing")
            return default
        value = item[key]
        if isinstance(value, str) and value.strip().isdigit():
            value = int(value)
        if isinstance(value, bool) or not isinstance(value, int):
            raise SaveconfigError(f"{path}.{key}", f"expected a whole number, found "
                                  f"{_type_name(value)}")
        if value < low or (high is not None and value > high):
            limit = f"{low}..{high}" if high is not None else f"at least {low}"
            raise SaveconfigError(f"{path}.{key}", f"{value} is out of range ({limit})")
        return value

    @staticmethod
    def boolean(item: Mapping[str, Any], key: str, path: str, default: bool) -> bool:
        value = item.get(key)
        if value is None:
            return default
        if isinstance(value, bool):
            return value
        if isinstance(value, int) and value in (0, 1):
            return bool(value)
        raise SaveconfigError(f"{path}.{key}", f"expected true or false, found {value!r}")


def _number(value: object) -> int | None:
    """An attribute value as rtslib dumps it (a number, or text where it is not one)."""
    if isinstance(value, bool):
        return int(value)
    if isinstance(value, int):
        return value
    if isinstance(value, str):
        try:
            return int(value.strip(), 0)
        except ValueError:
            return None
    return None


@dataclass
class _Device:
    handler: str
    name: str
    lines: list[tuple[str, str]]


@dataclass
class _ConfLun:
    number: int
    device: str
    read_only: bool


@dataclass
class _ConfGroup:
    name: str
    luns: list[_ConfLun]
    initiators: list[str]


@dataclass
class _ConfTarget:
    driver: str
    name: str
    lines: list[tuple[str, str]] = field(default_factory=list)
    luns: list[_ConfLun] = field(default_factory=list)
    groups: list[_ConfGroup] = field(default_factory=list)
    hardware: bool = False


class _Importer:
    def __init__(self, document: object):
        self.document = document
        self.check = _Checker()
        self.warnings: list[str] = []
        self.devices: list[_Device] = []
        # "/backstores/<plugin>/<name>" → SCST device name, or None when it was left out
        self.objects: dict[str, str | None] = {}
        self.targets: list[_ConfTarget] = []
        self.driver_lines: dict[str, list[tuple[str, str]]] = {}

    def warn(self, path: str, message: str) -> None:
        self.warnings.append(f"{path}: {message}")

    def run(self) -> ScstConfText:
        document = self.check.object(self.document, "$")
        for key in document:
            if key not in ("storage_objects", "targets", "fabric_modules"):
                self.warn(f"$.{key}", "unknown key ignored")
        for index, item in enumerate(self.check.array(document.get("storage_objects", []),
                                                     "$.storage_objects")):
            self.storage_object(item, f"$.storage_objects[{index}]")
        seen: dict[tuple[str, str], str] = {}
        for index, item in enumerate(self.check.array(document.get("targets", []),
                                                     "$.targets")):
            self.target(item, f"$.targets[{index}]", seen)
        for index, item in enumerate(self.check.array(document.get("fabric_modules", []),
                                                     "$.fabric_modules")):
            self.fabric_module(item, f"$.fabric_modules[{index}]")
        return ScstConfText(self.render(), self.warnings)

    # -- storage objects -------------------------------------------------------------------

    def storage_object(self, item: object, path: str) -> None:
        so = self.check.object(item, path)
        name = self.check.string(so, "name", path, required=True) or ""
        if not name or any(character.isspace() for character in name) or "/" in name:
            raise SaveconfigError(f"{path}.name", f"{name!r}: a storage object name is "
                                  "non-empty, without '/' or blanks")
        given_plugin = self.check.string(so, "plugin", path, required=True) or ""
        plugin = STORAGE_PLUGINS.get(given_plugin)
        if plugin is None:
            raise SaveconfigError(f"{path}.plugin", f"unknown plugin {given_plugin!r} (known: "
                                  f"{', '.join(sorted(STORAGE_PLUGINS))})")
        reference = f"/backstores/{plugin}/{name}"
        if reference in self.objects:
            raise SaveconfigError(path, f"a second storage object {plugin}/{name}")
        for key in sorted(set(so) - _SO_KEYS[plugin] - _SO_COMMON_KEYS):
            self.warn(f"{path}.{key}", f"not a key of {plugin} storage objects; ignored")
        attributes = self.check.object(so.get("attributes", {}), f"{path}.attributes")
        wwn = self.check.string(so, "wwn", path)
        if plugin == "user":
            config = self.check.string(so, "config", path, required=True) or ""
            self.check.integer(so, "size", path, required=True)
            subtype = config.split("/", 1)[0]
            self.warn(path, f"user:{subtype} (a TCMU handler such as tcmu-runner's) has no "
                      "SCST vdisk counterpart; left out with its LUNs")
            self.objects[reference] = None
            return
        if plugin == "pscsi":
            self.check.string(so, "dev", path, required=True)
            self.warn(path, "pscsi pass-through has no vdisk counterpart; left out with its "
                      "LUNs")
            self.objects[reference] = None
            return
        scst_name = name
        if any(device.name == name for device in self.devices):
            scst_name = f"{name}_{plugin}"
            self.warn(path, f"SCST device names are unique across handlers: named "
                      f"{scst_name}")
        if len(scst_name) > SCST_DEVICE_NAME_MAX:
            raise SaveconfigError(f"{path}.name", f"SCST device names have at most "
                                  f"{SCST_DEVICE_NAME_MAX} characters")
        block_size = _number(attributes.get("block_size", 512)) or 512
        if block_size not in LIO_BLOCK_SIZES:
            raise SaveconfigError(f"{path}.attributes.block_size",
                                  f"{block_size}: not a block size LIO offers")
        if plugin in ("fileio", "block"):
            handler, lines = self.backed_device(so, plugin, block_size, path)
        else:
            handler, lines = self.null_device(so, block_size, path)
        lines += self.attribute_lines(attributes, handler, path)
        if wwn:
            if len(wwn) <= SCST_USN_MAX and wwn.isprintable() and " " not in wwn:
                lines.append(("usn", wwn))
            else:
                self.warn(f"{path}.wwn", f"the unit serial {wwn!r} does not fit SCST's usn "
                          f"({SCST_USN_MAX} characters); SCST generates one")
        self.devices.append(_Device(handler, scst_name, lines))
        self.objects[reference] = scst_name

    def backed_device(self, so: dict[str, Any], plugin: str, block_size: int,
                      path: str) -> tuple[str, list[tuple[str, str]]]:
        """fileio → vdisk_fileio, block → vdisk_blockio: the DEVICE lines."""
        dev = self.check.string(so, "dev", path, required=True) or ""
        if not dev.startswith("/"):
            raise SaveconfigError(f"{path}.dev", f"{dev!r}: an absolute path is needed")
        write_back = self.check.boolean(so, "write_back", path, False)
        lines = [("filename", dev)]
        if block_size != 512:
            lines.append(("blocksize", str(block_size)))
        if plugin == "fileio":
            size = self.check.integer(so, "size", path)
            if self.check.boolean(so, "aio", path, False):
                lines.append(("async", "1"))
            if size:
                self.warn(f"{path}.size", f"SCST takes the size from the file: {dev} "
                          f"must exist with {size} bytes (LIO creates it)")
            handler = "vdisk_fileio"
        else:
            if self.check.boolean(so, "readonly", path, False):
                lines.append(("read_only", "1"))
            self.check.boolean(so, "exclusive", path, True)
            # LIO reports the block device's own write cache whatever write_back says, and
            # so does vdisk_blockio unless told write_through: nothing to write
            return "vdisk_blockio", lines
        if not write_back:
            lines.append(("write_through", "1"))
        return handler, lines

    def null_device(self, so: dict[str, Any], block_size: int,
                    path: str) -> tuple[str, list[tuple[str, str]]]:
        """ramdisk → vdisk_nullio (same capacity, nothing kept)."""
        size = self.check.integer(so, "size", path, required=True, low=1) or 0
        if not self.check.boolean(so, "nullio", path, False):
            self.warn(path, "a ramdisk keeps written data; vdisk_nullio discards it")
        lines = []
        if block_size != 512:
            lines.append(("blocksize", str(block_size)))
        if size % block_size:
            size -= size % block_size
            self.warn(f"{path}.size", f"rounded down to {size}, a multiple of the block "
                      "size")
        lines.append(("size", str(size)))
        return "vdisk_nullio", lines

    def attribute_lines(self, attributes: Mapping[str, Any], handler: str,
                        path: str) -> list[tuple[str, str]]:
        """The storage-object attributes a vdisk parameter expresses; warnings for the rest
        that change what an initiator gets."""
        lines = []
        if _number(attributes.get("emulate_tpu")) == 1 or \
                _number(attributes.get("emulate_tpws")) == 1:
            if handler == "vdisk_nullio":
                self.warn(f"{path}.attributes", "thin provisioning is not offered by "
                          "vdisk_nullio; dropped")
            else:
                lines.append(("thin_provisioned", "1"))
        if _number(attributes.get("is_nonrot")) == 1:
            lines.append(("rotational", "0"))
        for attribute, default in SO_SEMANTIC_DEFAULTS.items():
            value = attributes.get(attribute)
            if value is not None and _number(value) != default:
                self.warn(f"{path}.attributes.{attribute}", f"{value!r} has no vdisk "
                          "counterpart; dropped")
        return lines

    # -- targets ---------------------------------------------------------------------------

    def target(self, item: object, path: str, seen: dict[tuple[str, str], str]) -> None:
        target = self.check.object(item, path)
        wwn = self.check.string(target, "wwn", path, required=True) or ""
        fabric = self.check.string(target, "fabric", path, required=True) or ""
        if not wwn:
            raise SaveconfigError(f"{path}.wwn", "empty")
        if (fabric, wwn) in seen:
            raise SaveconfigError(path, f"the same target as {seen[(fabric, wwn)]}")
        seen[(fabric, wwn)] = path
        tpg_items = self.check.array(target.get("tpgs", []), f"{path}.tpgs")
        tpgs = [self.tpg(tpg, f"{path}.tpgs[{index}]")
                for index, tpg in enumerate(tpg_items)]
        driver = _FABRIC_DRIVERS.get(fabric)
        if driver is None:
            self.warn(path, f"fabric {fabric!r} has no SCST target driver here; left out")
            return
        if len(tpgs) > 1:
            self.warn(f"{path}.tpgs", f"an SCST target has one port: only "
                      f"{path}.tpgs[0] (tag {tpgs[0]['tag']}) is converted")
        tpg = tpgs[0] if tpgs else None
        tpg_path = f"{path}.tpgs[0]"
        if driver == "iscsi":
            self.iscsi_target(wwn, tpg, tpg_path)
        elif driver == "scst_local":
            self.local_target(wwn, tpg, tpg_path)
        else:
            self.fc_target(wwn, tpg, tpg_path)

    def tpg(self, item: object, path: str) -> dict[str, Any]:
        """Validate one TPG; returns it with the LUN, portal and ACL lists checked."""
        tpg = self.check.object(item, path)
        tag = self.check.integer(tpg, "tag", path, low=1, high=65535, default=1)
        attributes = self.check.object(tpg.get("attributes", {}), f"{path}.attributes")
        parameters = self.check.object(tpg.get("parameters", {}), f"{path}.parameters")
        for key, value in parameters.items():
            if not isinstance(value, str):
                raise SaveconfigError(f"{path}.parameters.{key}", "expected a string, found "
                                      f"{_type_name(value)}")
        for key in CHAP_KEYS:
            self.check.string(tpg, key, path)
        luns = self.tpg_luns(tpg, path)
        portals = []
        for index, portal_item in enumerate(self.check.array(tpg.get("portals", []),
                                                             f"{path}.portals")):
            portal_path = f"{path}.portals[{index}]"
            portal = self.check.object(portal_item, portal_path)
            address = self.check.string(portal, "ip_address", portal_path, required=True)
            port = self.check.integer(portal, "port", portal_path, required=True, high=65535)
            iser = self.check.boolean(portal, "iser", portal_path, False)
            offload = self.check.boolean(portal, "offload", portal_path, False)
            portals.append((address, port, iser, offload, portal_path))
        acls = []
        names: set[str] = set()
        for index, acl_item in enumerate(self.check.array(tpg.get("node_acls", []),
                                                          f"{path}.node_acls")):
            acl = self.node_acl(acl_item, f"{path}.node_acls[{index}]", luns, path)
            if acl["node_wwn"].lower() in names:
                raise SaveconfigError(f"{acl['path']}.node_wwn",
                                      f"a second ACL for {acl['node_wwn']}")
            names.add(acl["node_wwn"].lower())
            acls.append(acl)
        return {"tag": tag, "enable": self.check.boolean(tpg, "enable", path, True),
                "attributes": attributes, "parameters": parameters, "luns": luns,
                "portals": portals, "acls": acls, "raw": tpg}

    def tpg_luns(self, tpg: Mapping[str, Any], path: str) -> dict[int, str]:
        """TPG LUN number → the storage object reference it exports."""
        luns: dict[int, str] = {}
        for index, lun_item in enumerate(self.check.array(tpg.get("luns", []),
                                                          f"{path}.luns")):
            lun_path = f"{path}.luns[{index}]"
            lun = self.check.object(lun_item, lun_path)
            number = self.check.integer(lun, "index", lun_path, required=True,
                                        high=LIO_MAX_LUN)
            assert number is not None
            reference = self.check.string(lun, "storage_object", lun_path,
                                          required=True) or ""
            if reference not in self.objects:
                raise SaveconfigError(f"{lun_path}.storage_object", f"{reference!r} names no "
                                      "storage object of $.storage_objects "
                                      "(/backstores/<plugin>/<name>)")
            if number in luns:
                raise SaveconfigError(f"{lun_path}.index", f"TPG LUN {number} is listed twice")
            luns[number] = reference
        return luns

    def node_acl(self, item: object, path: str, luns: Mapping[int, str],
                 tpg_path: str) -> dict[str, Any]:
        acl = self.check.object(item, path)
        node = self.check.string(acl, "node_wwn", path, required=True) or ""
        if not node or any(character.isspace() for character in node):
            raise SaveconfigError(f"{path}.node_wwn", f"{node!r} is no initiator name")
        tag = self.check.string(acl, "tag", path)
        chap = {key: self.check.string(acl, key, path) or "" for key in CHAP_KEYS}
        self.check.object(acl.get("attributes", {}), f"{path}.attributes")
        mapped: dict[int, tuple[int, bool | None]] = {}
        for index, mapped_item in enumerate(self.check.array(acl.get("mapped_luns", []),
                                                             f"{path}.mapped_luns")):
            mapped_path = f"{path}.mapped_luns[{index}]"
            mapped_lun = self.check.object(mapped_item, mapped_path)
            number = self.check.integer(mapped_lun, "index", mapped_path, required=True,
                                        high=LIO_MAX_LUN)
            tpg_lun = self.check.integer(mapped_lun, "tpg_lun", mapped_path, required=True,
                                         high=LIO_MAX_LUN)
            assert number is not None and tpg_lun is not None
            if tpg_lun not in luns:
                raise SaveconfigError(f"{mapped_path}.tpg_lun", f"TPG LUN {tpg_lun} is not in "
                                      f"{tpg_path}.luns")
            if number in mapped:
                raise SaveconfigError(f"{mapped_path}.index", f"mapped LUN {number} is listed "
                                      "twice")
            write_protect = None
            if mapped_lun.get("write_protect") is not None:
                write_protect = self.check.boolean(mapped_lun, "write_protect", mapped_path,
                                                   False)
            mapped[number] = (tpg_lun, write_protect)
        return {"node_wwn": node, "tag": tag, "chap": chap, "mapped": mapped,
                "attributes": acl.get("attributes", {}), "tcq_depth": acl.get("tcq_depth"),
                "path": path}

    def device_of(self, reference: str, path: str) -> str | None:
        device = self.objects[reference]
        if device is None:
            self.warn(path, f"{reference} was left out; so is this LUN")
        return device

    def groups(self, tpg: dict[str, Any], write_protect_default: bool,
               name_of: Callable[[str, str], str | None]) -> list[_ConfGroup]:
        """Node ACLs → SCST groups: ACLs with one tag and equal mapped LUNs share a group."""
        built: list[tuple[_ConfGroup, str | None, tuple[tuple[int, str, bool], ...]]] = []
        used: set[str] = set()
        for acl in tpg["acls"]:
            luns = []
            for number, (tpg_lun, protect) in sorted(acl["mapped"].items()):
                mapped_path = f"{acl['path']}.mapped_luns"
                if number > SCST_MAX_LUN:
                    self.warn(mapped_path, f"mapped LUN {number} is beyond SCST's "
                              f"0..{SCST_MAX_LUN}; left out")
                    continue
                device = self.device_of(tpg["luns"][tpg_lun], mapped_path)
                if device is not None:
                    read_only = write_protect_default if protect is None else protect
                    luns.append((number, device, read_only))
            signature = tuple(luns)
            tag = acl["tag"]
            initiator = name_of(acl["node_wwn"], acl["path"])
            if initiator is None:
                continue
            if tag:
                match = next((group for group, group_tag, group_luns in built
                              if group_tag == tag and group_luns == signature), None)
                if match is not None:
                    match.initiators.append(initiator)
                    continue
                if any(group_tag == tag for _, group_tag, _ in built):
                    self.warn(acl["path"], f"ACLs tagged {tag!r} map different LUNs: this one "
                              "gets a group of its own")
            name = _group_name(tag or initiator, used)
            used.add(name)
            built.append((_ConfGroup(name, [_ConfLun(*lun) for lun in luns], [initiator]),
                          tag, signature))
        return [group for group, _, _ in built]

    def iscsi_target(self, wwn: str, tpg: dict[str, Any] | None, path: str) -> None:
        target = _ConfTarget("iscsi", wwn)
        self.targets.append(target)
        self.driver_lines.setdefault("iscsi", [("enabled", "1")])
        if tpg is None:
            target.lines.append(("enabled", "0"))
            return
        attributes = {key: _number(tpg["attributes"].get(key, default))
                      for key, default in TPG_DEFAULTS.items()}
        demo = attributes["generate_node_acls"] == 1
        target.lines += self.iscsi_chap(tpg, path, demo, attributes["authentication"] == 1)
        target.lines += self.iscsi_parameters(tpg, path)
        self.iscsi_unexpressed(tpg, path)
        if demo:
            read_only = attributes["demo_mode_write_protect"] == 1
            lun_path = f"{path}.luns"
            for number, reference in sorted(tpg["luns"].items()):
                if number > SCST_MAX_LUN:
                    self.warn(lun_path, f"TPG LUN {number} is beyond SCST's LUN range: "
                              "initiators without an ACL do not get it (groups that map it "
                              "keep it)")
                    continue
                device = self.device_of(reference, lun_path)
                if device is not None:
                    target.luns.append(_ConfLun(number, device, read_only))
                    if read_only:
                        self.warn(lun_path, f"LUN {number} is read-only for demo-mode "
                                  "initiators (demo_mode_write_protect=1); tcmu-scstd refuses "
                                  "read-only LUNs in a default set")
        elif tpg["luns"]:
            self.warn(f"{path}.luns", "no demo mode: initiators without an ACL cannot log in, "
                      "so the target's default LUN set is left empty (only the groups' LUNs "
                      "are kept; SCST would show the default set to everyone)")

        def initiator_name(node: str, acl_path: str) -> str | None:
            if any(character in node for character in "*?!#\"\\"):
                self.warn(acl_path, f"{node!r} would be read as an SCST pattern; left out")
                return None
            return node

        target.groups = self.groups(tpg, attributes["prod_mode_write_protect"] == 1,
                                    initiator_name)
        target.lines.append(("enabled", "1" if tpg["enable"] else "0"))

    def iscsi_chap(self, tpg: dict[str, Any], path: str, demo: bool,
                   authenticate: bool) -> list[tuple[str, str]]:
        """IncomingUser/OutgoingUser lines: the TPG's account serves demo-mode initiators,
        each ACL's its own initiator; SCST has only target-wide accounts."""
        accounts: list[tuple[str, str, str]] = []  # (user, secret, where)
        mutual: list[tuple[str, str, str]] = []
        sources = [(tpg["raw"], path)] if demo else []
        sources += [(acl["chap"], acl["path"]) for acl in tpg["acls"]]
        for chap, where in sources:
            user, secret = chap.get("chap_userid") or "", chap.get("chap_password") or ""
            if user and secret:
                accounts.append((user, secret, where))
            mutual_user = chap.get("chap_mutual_userid") or ""
            mutual_secret = chap.get("chap_mutual_password") or ""
            if mutual_user and mutual_secret:
                mutual.append((mutual_user, mutual_secret, where))
        if not demo and tpg["raw"].get("chap_userid"):
            self.warn(f"{path}.chap_userid", "without demo mode LIO never uses the TPG's "
                      "account; dropped")
        if (accounts or mutual) and not authenticate:
            self.warn(f"{path}.attributes.authentication", "0: LIO does not enforce the CHAP "
                      "accounts of this TPG; they are left out")
            return []
        if authenticate and not accounts:
            self.warn(f"{path}.attributes.authentication", "1 without accounts: LIO lets no "
                      "one in, SCST without IncomingUser lets everyone in")
        lines = []
        written: set[tuple[str, str]] = set()
        for user, secret, where in accounts:
            if (user, secret) in written:
                continue
            if any(user == other for other, _ in written):
                self.warn(where, f"CHAP user {user} with another secret: SCST keeps one "
                          "secret per user; left out")
                continue
            written.add((user, secret))
            lines.append(("IncomingUser", f"{user} {secret}"))
            if len(written) == 2:
                self.warn(path, "SCST's CHAP accounts are per target: every IncomingUser may "
                          "log in as any initiator")
            if len(secret) < SCST_MIN_SECRET:
                self.warn(where, f"CHAP secret of {user} is shorter than {SCST_MIN_SECRET} "
                          "characters: iscsi-scstd and tcmu-scstd refuse it")
        if mutual:
            user, secret, _ = mutual[0]
            lines.append(("OutgoingUser", f"{user} {secret}"))
            for other_user, other_secret, where in mutual[1:]:
                if (other_user, other_secret) != (user, secret):
                    self.warn(where, "SCST has one OutgoingUser per target; this mutual "
                              "account is left out")
        return lines

    def iscsi_parameters(self, tpg: dict[str, Any], path: str) -> list[tuple[str, str]]:
        """The negotiation keys SCST shares with LIO, where they differ from SCST's defaults."""
        parameters = tpg["parameters"]
        lines = [(key, parameters[key]) for key in SCST_SHARED_KEYS
                 if key in parameters and not _same_value(key, parameters[key],
                                                          SCST_SHARED_KEYS[key])]
        for key, value in parameters.items():
            if key in SCST_SHARED_KEYS:
                continue
            if key in LIO_ONLY_PARAMETERS:
                if not _same_value(key, value, LIO_ONLY_PARAMETERS[key]):
                    self.warn(f"{path}.parameters.{key}", f"{value!r}: SCST has no such "
                              "target setting; dropped")
            elif key != "AuthMethod":  # follows attributes.authentication
                self.warn(f"{path}.parameters.{key}", "unknown parameter; dropped")
        return lines

    def iscsi_unexpressed(self, tpg: dict[str, Any], path: str) -> None:
        """Warnings for TPG attributes, portals and ACL settings SCST has no place for."""
        for key, value in tpg["attributes"].items():
            if key not in TPG_DEFAULTS and key not in TPG_IGNORED:
                self.warn(f"{path}.attributes.{key}", f"{value!r}: no SCST counterpart; "
                          "dropped")
            elif key == "default_cmdsn_depth" and _number(value) not in (None, 64, 16):
                self.warn(f"{path}.attributes.{key}", "closest in SCST is QueuedCommands "
                          "(not the same thing); dropped")
        for address, port, iser, offload, portal_path in tpg["portals"]:
            if address.strip("[]") not in ("0.0.0.0", "::0", "::") or port != 3260:
                self.warn(portal_path, f"{address}:{port}: SCST's iSCSI target listens on "
                          "every address at port 3260 (iscsi-scstd); the portal is dropped")
            if iser or offload:
                self.warn(portal_path, "iSER and offload are not offered; dropped")
        for acl in tpg["acls"]:
            if acl["tcq_depth"] not in (None, "", 16, 64, "16", "64"):
                self.warn(f"{acl['path']}.tcq_depth", "no per-initiator queue depth in SCST; "
                          "dropped")
            changed = [key for key, value in sorted(acl["attributes"].items())
                       if _number(value) not in ACL_ATTRIBUTE_DEFAULTS.get(key, ())]
            if changed:
                self.warn(f"{acl['path']}.attributes", f"{', '.join(changed)}: no "
                          "per-initiator settings in SCST (its timers are per target: "
                          "NopInInterval, NopInTimeout, RspTimeout); dropped")

    def local_target(self, wwn: str, tpg: dict[str, Any] | None, path: str) -> None:
        target = _ConfTarget("scst_local", wwn, [("session_name", "lio_nexus")])
        self.targets.append(target)
        if tpg is None:
            return
        for number, reference in sorted(tpg["luns"].items()):
            if number > SCST_MAX_LUN:
                self.warn(f"{path}.luns", f"LUN {number} is beyond SCST's LUN range; left out")
                continue
            device = self.device_of(reference, f"{path}.luns")
            if device is not None:
                target.luns.append(_ConfLun(number, device, False))
        if tpg["acls"]:
            self.warn(f"{path}.node_acls", "loopback targets have no ACLs; ignored")

    def fc_target(self, wwn: str, tpg: dict[str, Any] | None, path: str) -> None:
        digits = wwn.lower().removeprefix("naa.").removeprefix("0x").replace(":", "")
        if not re.fullmatch(r"[0-9a-f]{16}", digits):
            raise SaveconfigError(path.rsplit(".tpgs", 1)[0] + ".wwn",
                                  f"{wwn!r} is not an FC port name")
        name = _colonize(digits)
        target = _ConfTarget("fcst", name, hardware=True)
        self.targets.append(target)
        target.lines.append(("enabled", "1"))
        if tpg is None:
            return
        mapped = {tpg_lun for acl in tpg["acls"] for tpg_lun, _ in acl["mapped"].values()}
        for number in sorted(set(tpg["luns"]) - mapped):
            self.warn(f"{path}.luns", f"TPG LUN {number} is mapped by no ACL (tcm_fc has no "
                      "demo mode, no one reaches it); left out")

        def initiator_name(node: str, acl_path: str) -> str | None:
            node_digits = node.lower().removeprefix("naa.").replace(":", "")
            if not re.fullmatch(r"[0-9a-f]{16}", node_digits):
                self.warn(acl_path, f"{node!r} is not an FC port name; left out")
                return None
            return _colonize(node_digits)

        target.groups = self.groups(tpg, False, initiator_name)

    def fabric_module(self, item: object, path: str) -> None:
        module = self.check.object(item, path)
        name = self.check.string(module, "name", path, required=True)
        keys = ("discovery_userid", "discovery_password", "discovery_mutual_userid",
                "discovery_mutual_password")
        values = {key: self.check.string(module, key, path) or "" for key in keys}
        enforced = self.check.boolean(module, "discovery_enable_auth", path, False)
        if name != "iscsi":
            if any(values.values()) or enforced:
                self.warn(path, f"discovery settings of {name!r}: no SCST counterpart")
            return
        if not enforced:
            if any(values.values()):
                self.warn(path, "discovery credentials are not enforced "
                          "(discovery_enable_auth false); left out")
            return
        lines = self.driver_lines.setdefault("iscsi", [("enabled", "1")])
        if values["discovery_userid"] and values["discovery_password"]:
            lines.insert(0, ("IncomingUser", f"{values['discovery_userid']} "
                                             f"{values['discovery_password']}"))
        else:
            self.warn(path, "discovery authentication without an account; left out")
        if values["discovery_mutual_userid"] and values["discovery_mutual_password"]:
            lines.insert(1, ("OutgoingUser", f"{values['discovery_mutual_userid']} "
                                             f"{values['discovery_mutual_password']}"))

    # -- text ------------------------------------------------------------------------------

    def render(self) -> str:
        out = ["# scst.conf converted from an rtslib saveconfig.json by "
               "tcmu_scst.config.saveconfig"]
        if self.warnings:
            out.append("# Not expressible in SCST, or changed on the way:")
            out += [f"#   {warning}" for warning in self.warnings]
        for handler in ("vdisk_fileio", "vdisk_blockio", "vdisk_nullio"):
            devices = [device for device in self.devices if device.handler == handler]
            if not devices:
                continue
            out += ["", f"HANDLER {handler} {{"]
            for device in devices:
                out.append(f"\tDEVICE {device.name} {{")
                out += [f"\t\t{name} {conf_value(value)}" for name, value in device.lines]
                out.append("\t}")
            out.append("}")
        for driver in ("iscsi", "scst_local", "fcst"):
            targets = [target for target in self.targets if target.driver == driver]
            lines = self.driver_lines.get(driver, [])
            if not targets and not lines:
                continue
            out += ["", f"TARGET_DRIVER {driver} {{"]
            out += [f"\t{name} {conf_value(value)}" for name, value in lines]
            for number, target in enumerate(targets):
                out += ([""] if lines or number else []) + [f"\tTARGET {target.name} {{"]
                if target.hardware:
                    out.append("\t\tHW_TARGET")
                out += [f"\t\t{name} {conf_value(value)}" for name, value in target.lines]
                out += _lun_lines(target.luns, "\t\t")
                for group in target.groups:
                    out += ["", f"\t\tGROUP {group.name} {{"]
                    out += _lun_lines(group.luns, "\t\t\t")
                    out += [f"\t\t\tINITIATOR {conf_value(name)}" for name in group.initiators]
                    out.append("\t\t}")
                out.append("\t}")
            out.append("}")
        return "\n".join(out) + "\n"


def _lun_lines(luns: list[_ConfLun], indent: str) -> list[str]:
    lines = []
    for lun in luns:
        if lun.read_only:
            lines += [f"{indent}LUN {lun.number} {lun.device} {{",
                      f"{indent}\tread_only 1", f"{indent}}}"]
        else:
            lines.append(f"{indent}LUN {lun.number} {lun.device}")
    return lines


def _same_value(key: str, value: str, default: str) -> bool:
    if key in ("HeaderDigest", "DataDigest"):
        return {part.strip().lower() for part in value.split(",")} == \
            {part.strip().lower() for part in default.split(",")}
    return value.strip() == default


def _colonize(digits: str) -> str:
    return ":".join(digits[index:index + 2] for index in range(0, len(digits), 2))


def _group_name(base: str, used: set[str]) -> str:
    """A group name tcmu-scstd can keep as an LIO ACL tag: at most 63 bytes, unique."""
    name = base if not base.startswith("NULL") else f"acl-{base}"
    if len(name.encode()) > ACL_TAG_MAX:
        name = f"{name[:ACL_TAG_MAX - 9]}-{zlib.crc32(base.encode()):08x}"
    candidate, number = name, 2
    while candidate in used:
        candidate = f"{name[:ACL_TAG_MAX - 4]}-{number}"
        number += 1
    return candidate


def conf_value(value: str) -> str:
    """A value as scst.conf writes it: ``\\`` and ``#`` escaped, quoted if it has blanks."""
    escaped = value.replace("\\", "\\\\").replace("#", "\\#").replace('"', '\\"')
    if not value or any(character.isspace() for character in value):
        return f'"{escaped}"'
    return escaped


def import_saveconfig(document: Any) -> ScstConfText:
    """scst.conf text for a saveconfig.json document (a str; its ``warnings`` list what
    could not be expressed).  Raises :class:`SaveconfigError` with the JSON path of the
    first malformed item; nothing is written anywhere."""
    return _Importer(document).run()


# --------------------------------------------------------------------------------------------
# command line
# --------------------------------------------------------------------------------------------


def _write_atomically(path: str, text: str) -> None:
    """Temp file, fsync, rename, mode 0600: saveconfig.json and scst.conf carry secrets."""
    if path == "-":
        sys.stdout.write(text)
        return
    directory = os.path.dirname(os.path.abspath(path))
    fd, temporary = tempfile.mkstemp(prefix=".saveconfig-", dir=directory)
    try:
        os.fchmod(fd, 0o600)
        with os.fdopen(fd, "w", encoding="utf-8") as file:
            file.write(text)
            file.flush()
            os.fsync(file.fileno())
        os.replace(temporary, path)
    except BaseException:
        if os.path.exists(temporary):
            os.unlink(temporary)
        raise


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m tcmu_scst.config.saveconfig",
        description="Convert between an SCST tree and rtslib's saveconfig.json, or between "
                    "saveconfig.json and scst.conf.")
    commands = parser.add_subparsers(dest="command", required=True)
    export = commands.add_parser("export", help="SCST tree → saveconfig.json ('-' = stdout)")
    export.add_argument("--root", help="the SCST tree (default: $SCST_SYSFS_ROOT, "
                        "/run/scst_tgt, /sys/kernel/scst_tgt)")
    export.add_argument("file")
    importing = commands.add_parser("import", help="saveconfig.json → scst.conf")
    importing.add_argument("file")
    importing.add_argument("out")
    arguments = parser.parse_args(argv)
    try:
        if arguments.command == "export":
            document = export_saveconfig(ScstSysfs(arguments.root))
            warnings = document.warnings
            _write_atomically(arguments.file,
                              json.dumps(document, sort_keys=True, indent=2) + "\n")
        else:
            with open(arguments.file, encoding="utf-8") as file:
                try:
                    loaded = json.load(file)
                except json.JSONDecodeError as error:
                    raise SaveconfigError(arguments.file, f"not JSON: {error}") from None
            text = import_saveconfig(loaded)
            warnings = text.warnings
            _write_atomically(arguments.out, str(text))
    except (SaveconfigError, OSError) as error:
        print(f"saveconfig: error: {error}", file=sys.stderr)
        return 1
    for warning in warnings:
        print(f"saveconfig: warning: {warning}", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
