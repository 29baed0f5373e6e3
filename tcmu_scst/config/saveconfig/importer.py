"""Import: an rtslib ``saveconfig.json`` (anyone's, validated first) → scst.conf text.

The document becomes the scst.conf model (:mod:`tcmu_scst.config.model`) and is written by
the one scst.conf writer, :func:`tcmu_scst.config.scst_conf.format_config`, the one
``-write_config`` uses: so the text has scstadmin's layout and quoting, and the config tool
reads back exactly what was converted.  Backstores become vdisk devices
(:mod:`.import_devices`); each node ACL (or set of ACLs sharing a tag and the same mapped
LUNs) becomes an initiator group; CHAP becomes ``IncomingUser``/``OutgoingUser``
(:mod:`.iscsi_settings`).  What cannot be expressed is a warning, in the result and in the
file's header comment.
"""

from __future__ import annotations

import re
import zlib
from collections.abc import Callable
from typing import Any

from ...drivers import FCST_DRIVER, ISCSI_DRIVER, LOCAL_DRIVER, TargetDriver
from ..model import Driver, Group, Lun, ScstConfig, Target
from ..scst_conf import format_config
from .facts import ACL_TAG_MAX, FABRIC_DRIVERS, SCST_MAX_LUN, TPG_DEFAULTS
from .import_devices import import_storage_object
from .iscsi_settings import iscsi_chap, iscsi_parameters, iscsi_unexpressed
from .results import SaveconfigError, ScstConfText
from .validate import Checker, checked_tpg, numeric
from .wwn import colonize

HEADER = "# scst.conf converted from an rtslib saveconfig.json by tcmu_scst.config.saveconfig"


class _Importer:
    """One import of one document; builds the scst.conf model and collects the warnings."""

    def __init__(self, document: object):
        self.document = document
        self.check = Checker()
        self.warnings: list[str] = []
        self.config = ScstConfig()
        # "/backstores/<plugin>/<name>" → SCST device name, or None when it was left out
        self.objects: dict[str, str | None] = {}

    def warn(self, path: str, message: str) -> None:
        self.warnings.append(f"{path}: {message}")

    def run(self) -> ScstConfText:
        document = self.check.object(self.document, "$")
        for key in document:
            if key not in ("storage_objects", "targets", "fabric_modules"):
                self.warn(f"$.{key}", "unknown key ignored")
        for index, item in enumerate(self.check.array(document.get("storage_objects", []),
                                                      "$.storage_objects")):
            import_storage_object(item, f"$.storage_objects[{index}]", self.config,
                                  self.objects, self.warn)
        seen: dict[tuple[str, str], str] = {}
        for index, item in enumerate(self.check.array(document.get("targets", []),
                                                      "$.targets")):
            self.target(item, f"$.targets[{index}]", seen)
        for index, item in enumerate(self.check.array(document.get("fabric_modules", []),
                                                      "$.fabric_modules")):
            self.fabric_module(item, f"$.fabric_modules[{index}]")
        return ScstConfText(format_config(self.config, header=self.header()), self.warnings)

    def header(self) -> str:
        """The file's opening comment: where it comes from and what it lost on the way."""
        lines = [HEADER]
        if self.warnings:
            lines.append("# Not expressible in SCST, or changed on the way:")
            lines += [f"#   {warning}" for warning in self.warnings]
        return "\n".join(lines)

    # -- the model -------------------------------------------------------------------------

    def driver(self, kind: TargetDriver) -> Driver:
        """The ``TARGET_DRIVER`` block of ``kind``, made on first use: enabled, if the
        driver has a switch (LIO's fabrics have none, they are always on)."""
        driver = self.config.drivers.get(kind.name)
        if driver is None:
            driver = self.config.drivers[kind.name] = Driver(kind.name)
            if kind.driver_switch:
                driver.attributes.add("enabled", "1")
        return driver

    def add_target(self, kind: TargetDriver, target: Target, path: str) -> Target:
        """``target`` in its driver's block; two LIO targets that name one SCST target (an
        FC port written two ways) are refused, as the config tool would refuse the file."""
        targets = self.driver(kind).targets
        if target.name in targets:
            raise SaveconfigError(path.rsplit(".tpgs", 1)[0] + ".wwn", f"names SCST target "
                                  f"{target.name} again")
        targets[target.name] = target
        return target

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
        tpgs = [checked_tpg(tpg, f"{path}.tpgs[{index}]", self.objects)
                for index, tpg in enumerate(tpg_items)]
        driver = FABRIC_DRIVERS.get(fabric)
        if driver is None:
            self.warn(path, f"fabric {fabric!r} has no SCST target driver here; left out")
            return
        if len(tpgs) > 1:
            self.warn(f"{path}.tpgs", f"an SCST target has one port: only "
                      f"{path}.tpgs[0] (tag {tpgs[0]['tag']}) is converted")
        tpg = tpgs[0] if tpgs else None
        _TARGET_IMPORTS[driver](self, driver, wwn, tpg, f"{path}.tpgs[0]")

    def device_of(self, reference: str, path: str) -> str | None:
        device = self.objects[reference]
        if device is None:
            self.warn(path, f"{reference} was left out; so is this LUN")
        return device

    def groups(self, tpg: dict[str, Any], write_protect_default: bool,
               name_of: Callable[[str, str], str | None]) -> dict[str, Group]:
        """Node ACLs → SCST groups: ACLs with one tag and equal mapped LUNs share a group."""
        built: list[tuple[Group, str | None, tuple[tuple[int, str, bool], ...]]] = []
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
            group = Group(name, luns={lun[0]: _lun(*lun) for lun in luns},
                          initiators=[initiator])
            built.append((group, tag, signature))
        return {group.name: group for group, _, _ in built}

    def iscsi_target(self, driver: TargetDriver, wwn: str, tpg: dict[str, Any] | None,
                     path: str) -> None:
        target = self.add_target(driver, Target(wwn), path)
        if tpg is None:
            target.attributes.add("enabled", "0")
            return
        attributes = {key: numeric(tpg["attributes"].get(key, default))
                      for key, default in TPG_DEFAULTS.items()}
        demo = attributes["generate_node_acls"] == 1
        for name, value in [
                *iscsi_chap(tpg, path, demo, attributes["authentication"] == 1, self.warn),
                *iscsi_parameters(tpg, path, self.warn)]:
            target.attributes.add(name, value)
        iscsi_unexpressed(tpg, path, self.warn)
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
                    target.luns[number] = _lun(number, device, read_only)
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
        target.attributes.add("enabled", "1" if tpg["enable"] else "0")

    def local_target(self, driver: TargetDriver, wwn: str, tpg: dict[str, Any] | None,
                     path: str) -> None:
        target = self.add_target(driver, Target(wwn), path)
        if driver.session_parameter:  # its one session (rtslib keeps no name for the nexus)
            target.attributes.add(driver.session_parameter, "lio_nexus")
        if tpg is None:
            return
        for number, reference in sorted(tpg["luns"].items()):
            if number > SCST_MAX_LUN:
                self.warn(f"{path}.luns", f"LUN {number} is beyond SCST's LUN range; left out")
                continue
            device = self.device_of(reference, f"{path}.luns")
            if device is not None:
                target.luns[number] = _lun(number, device, False)
        if tpg["acls"]:
            self.warn(f"{path}.node_acls", "loopback targets have no ACLs; ignored")

    def fc_target(self, driver: TargetDriver, wwn: str, tpg: dict[str, Any] | None,
                  path: str) -> None:
        digits = wwn.lower().removeprefix("naa.").removeprefix("0x").replace(":", "")
        if not re.fullmatch(r"[0-9a-f]{16}", digits):
            raise SaveconfigError(path.rsplit(".tpgs", 1)[0] + ".wwn",
                                  f"{wwn!r} is not an FC port name")
        name = colonize(digits)
        target = self.add_target(driver, Target(name, hardware=True), path)
        target.attributes.add("enabled", "1")
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
            return colonize(node_digits)

        target.groups = self.groups(tpg, False, initiator_name)

    def fabric_module(self, item: object, path: str) -> None:
        module = self.check.object(item, path)
        name = self.check.string(module, "name", path, required=True)
        keys = ("discovery_userid", "discovery_password", "discovery_mutual_userid",
                "discovery_mutual_password")
        values = {key: self.check.string(module, key, path) or "" for key in keys}
        enforced = self.check.boolean(module, "discovery_enable_auth", path, False)
        driver = FABRIC_DRIVERS.get(name or "")
        if driver is None or not driver.driver_attributes:  # where discovery accounts go
            if any(values.values()) or enforced:
                self.warn(path, f"discovery settings of {name!r}: no SCST counterpart")
            return
        if not enforced:
            if any(values.values()):
                self.warn(path, "discovery credentials are not enforced "
                          "(discovery_enable_auth false); left out")
            return
        attributes = self.driver(driver).attributes
        if values["discovery_userid"] and values["discovery_password"]:
            attributes.add("IncomingUser", f"{values['discovery_userid']} "
                                           f"{values['discovery_password']}")
        else:
            self.warn(path, "discovery authentication without an account; left out")
        if values["discovery_mutual_userid"] and values["discovery_mutual_password"]:
            attributes.add("OutgoingUser", f"{values['discovery_mutual_userid']} "
                                           f"{values['discovery_mutual_password']}")


# the import of each driver LIO holds: one rtslib target (its first TPG, None if it has none)
# into the driver's block, given the driver, the WWN, the TPG and the TPG's JSON path
_TARGET_IMPORTS: dict[TargetDriver, Callable[[_Importer, TargetDriver, str,
                                              dict[str, Any] | None, str], None]] = {
    ISCSI_DRIVER: _Importer.iscsi_target,
    LOCAL_DRIVER: _Importer.local_target,
    FCST_DRIVER: _Importer.fc_target,
}


def _lun(number: int, device: str, read_only: bool) -> Lun:
    lun = Lun(number, device)
    if read_only:
        lun.attributes.add("read_only", "1")
    return lun


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


def import_saveconfig(document: Any) -> ScstConfText:
    """scst.conf text for a saveconfig.json document (a str; its ``warnings`` list what
    could not be expressed).  Raises :class:`SaveconfigError` with the JSON path of the
    first malformed item; nothing is written anywhere."""
    return _Importer(document).run()
