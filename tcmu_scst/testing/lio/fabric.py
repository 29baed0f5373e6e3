"""Emulated generic fabric objects: target WWNs, TPGs, LUNs, node ACLs and mapped LUNs.

These are the rules LIO's generic fabric layer applies to every fabric; the iSCSI, loopback
and FC modules subclass them for what their kernel modules add.  Checked on Debian 12's kernel:

* ``lun/lun_<N>`` (N any u64) holds at most one symlink (EEXIST), which must point at a
  storage object (EFAULT otherwise) that is enabled (ENODEV otherwise); its ALUA files read
  ENODEV until then.
* ``acls/<name>/lun_<M>`` holds at most one symlink (EINVAL), which must point at a LUN of
  the same TPG (EFAULT for anything but a LUN, EINVAL for another TPG's LUN or one without a
  device).  ``write_protect`` reads empty until linked, then the TPG's default for new
  explicit mappings; removing the LUN's device drops the mapping (empty again) for good.
* a LUN that a mapped LUN points at cannot be removed (EBUSY, from the generic symlink rule).
* ``<wwn>/param/cmd_completion_affinity`` reads -1; it takes -1, -2 or an online CPU number
  (EINVAL otherwise) and reads back what was written.
"""

from __future__ import annotations

import errno

from .core import StorageObject
from .kernel import KernelState
from .nodes import Group, Link, item_number, parse_int, refuse

U16_MAX = 0xFFFF
U64_MAX = 0xFFFF_FFFF_FFFF_FFFF
ACL_TAG_MAX = 64
ALUA_GROUP = ("TG Port Alias: default_tg_pt_gp\nTG Port Group ID: 0\n"
              "TG Port Primary Access State: Active/Optimized\n"
              "TG Port Primary Access Status: None\nTG Port Secondary Access State: None\n"
              "TG Port Secondary Access Status: None\n")


class Fabric(Group):
    """``target/<fabric>``: target WWNs are made here."""

    def __init__(self, name: str, parent: Group):
        super().__init__(name, parent)
        self.kernel: KernelState = parent.kernel  # type: ignore[attr-defined]
        self.discovery_auth = self.group("discovery_auth")

    def make_item(self, name: str) -> Group:
        self.check_wwn(name)
        return self.wwn_item(name)

    def check_wwn(self, name: str) -> None:
        """Refuse a target name this fabric cannot parse."""

    def wwn_item(self, name: str) -> Wwn:
        return Wwn(name, self)


class Wwn(Group):
    """``target/<fabric>/<wwn>``: TPGs are made here."""

    def __init__(self, name: str, parent: Fabric):
        super().__init__(name, parent)
        self.fabric = parent
        self.kernel = parent.kernel
        self.statistics = self.group("fabric_statistics")
        self.group("param").value("cmd_completion_affinity", "-1", self.parse_affinity)

    def parse_affinity(self, text: str) -> str:
        """-1 (the submitting CPU), -2 (the completing CPU) or an online CPU; EINVAL else."""
        value = parse_int(text, signed=True, what="cmd_completion_affinity")
        if value not in (-1, -2) and not 0 <= value < self.kernel.online_cpus:
            refuse(errno.EINVAL, f"cmd_completion_affinity: {value} is not an online CPU")
        return str(value)

    def make_item(self, name: str) -> Group:
        tag = item_number(name, "tpgt_", U16_MAX)
        self.check_tag(tag)
        return self.tpg_item(name, tag)

    def check_tag(self, tag: int) -> None:
        """Refuse a TPG tag this fabric does not support."""

    def tpg_item(self, name: str, tag: int) -> Tpg:
        return Tpg(name, self, tag)


class Tpg(Group):
    """``<wwn>/tpgt_<N>``: LUNs, portals, ACLs and the TPG's own settings."""

    def __init__(self, name: str, parent: Wwn, tag: int):
        super().__init__(name, parent)
        self.wwn = parent
        self.kernel = parent.kernel
        self.tag = tag
        self.luns = self.adopt(Luns(self))
        self.portals = self.adopt(Portals(self))
        self.acls = self.adopt(Acls(self))
        self.attrib = self.group("attrib")
        self.auth = self.group("auth")
        self.param = self.group("param")

    # fabric hooks
    def make_portal(self, name: str) -> Group:
        refuse(errno.ENOSYS, f"{self.wwn.fabric.name}: no network portals")

    def check_acl_name(self, name: str) -> None:
        """Refuse an initiator name this fabric cannot parse."""

    def acl_item(self, name: str) -> Acl:
        return Acl(name, self.acls, self)

    def new_mapping_write_protect(self) -> bool:
        """Read-only flag a new explicit mapped LUN starts with."""
        return False

    def lun_linked(self, lun: Lun) -> None:
        """A storage object was linked into ``lun``."""

    def lun_unlinked(self, lun: Lun) -> None:
        """``lun`` lost its storage object."""


class Luns(Group):
    def __init__(self, tpg: Tpg):
        super().__init__("lun", tpg, default=True)
        self.tpg = tpg

    def make_item(self, name: str) -> Group:
        return Lun(name, self, item_number(name, "lun_", U64_MAX))


class Lun(Group):
    def __init__(self, name: str, parent: Luns, number: int):
        super().__init__(name, parent)
        self.tpg = parent.tpg
        self.number = number
        self.mapped: set[MappedLun] = set()
        for attribute in ("alua_tg_pt_gp", "alua_tg_pt_offline", "alua_tg_pt_status",
                          "alua_tg_pt_write_md"):
            self.attribute(attribute, self._alua_show(attribute), self._alua_store)
        statistics = self.group("statistics")
        for entry in ("scsi_port", "scsi_tgt_port", "scsi_transport"):
            statistics.group(entry)

    @property
    def device(self) -> StorageObject | None:
        link = self.link_in()
        return link.target if link and isinstance(link.target, StorageObject) else None

    def _alua_show(self, attribute: str):
        def show() -> str:
            if self.device is None:
                refuse(errno.ENODEV, f"{attribute}: LUN has no device")
            return ALUA_GROUP if attribute == "alua_tg_pt_gp" else "0\n"

        return show

    def _alua_store(self, text: str) -> None:
        if self.device is None:
            refuse(errno.ENODEV, "alua: LUN has no device")
        refuse(errno.EINVAL, "alua: not emulated")

    def allow_link(self, name: str, target: Group) -> None:
        if not isinstance(target, StorageObject):
            refuse(errno.EFAULT, f"{target.path}: not a storage object")
        if self.link_in() is not None:
            refuse(errno.EEXIST, f"{self.path}: already holds a device")
        if not target.configured:
            refuse(errno.ENODEV, f"{target.path}: not enabled")

    def after_link(self) -> None:
        self.tpg.lun_linked(self)

    def link_dropped(self, link: Link) -> None:
        for mapping in list(self.mapped):
            mapping.live = False
        self.mapped.clear()
        self.tpg.lun_unlinked(self)


class Acls(Group):
    def __init__(self, tpg: Tpg):
        super().__init__("acls", tpg, default=True)
        self.tpg = tpg

    def make_item(self, name: str) -> Group:
        self.tpg.check_acl_name(name)
        return self.tpg.acl_item(name)


class Acl(Group):
    """``acls/<initiator>``: mapped LUNs are made here."""

    def __init__(self, name: str, parent: Acls, tpg: Tpg):
        super().__init__(name, parent)
        self.tpg = tpg
        self.kernel = tpg.kernel
        self.tag = ""
        self.attrib = self.group("attrib")
        self.auth = self.group("auth")
        self.param = self.group("param")
        self.statistics = self.group("fabric_statistics")
        self.attribute("tag", lambda: self.tag, self._store_tag)

    def _store_tag(self, text: str) -> None:
        if text.startswith("NULL"):
            self.tag = ""
            return
        if len(text) >= ACL_TAG_MAX:
            refuse(errno.EINVAL, "tag: too long")
        self.tag = text

    def make_item(self, name: str) -> Group:
        return MappedLun(name, self, item_number(name, "lun_", U64_MAX))


class MappedLun(Group):
    def __init__(self, name: str, parent: Acl, number: int):
        super().__init__(name, parent)
        self.acl = parent
        self.number = number
        self.live = False  # the kernel's device entry exists
        self.read_only = False
        self.attribute("write_protect", self._show, self._store)
        statistics = self.group("statistics")
        for entry in ("scsi_att_intr_port", "scsi_auth_intr"):
            statistics.group(entry)

    def _show(self) -> str:
        return f"{int(self.read_only)}\n" if self.live else ""

    def _store(self, text: str) -> None:
        value = parse_int(text, 0, 1, what="write_protect")
        if self.live:
            self.read_only = bool(value)

    def allow_link(self, name: str, target: Group) -> None:
        if not isinstance(target, Lun):
            refuse(errno.EFAULT, f"{target.path}: not a LUN")
        if self.link_in() is not None:
            refuse(errno.EINVAL, f"{self.path}: already mapped")
        if target.tpg is not self.acl.tpg:
            refuse(errno.EINVAL, f"{target.path}: LUN of another TPG")
        if target.device is None:
            refuse(errno.EINVAL, f"{target.path}: LUN has no device")

    def after_link(self) -> None:
        link = self.link_in()
        assert link is not None and isinstance(link.target, Lun)
        link.target.mapped.add(self)
        self.live = True
        self.read_only = self.acl.tpg.new_mapping_write_protect()

    def link_dropped(self, link: Link) -> None:
        if isinstance(link.target, Lun):
            link.target.mapped.discard(self)
        self.live = False


class Portals(Group):
    def __init__(self, tpg: Tpg):
        super().__init__("np", tpg, default=True)
        self.tpg = tpg

    def make_item(self, name: str) -> Group:
        return self.tpg.make_portal(name)

