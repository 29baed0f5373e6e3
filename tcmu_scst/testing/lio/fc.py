"""Emulated FCoE fabric (``tcm_fc``, configfs name ``fc``).

As on Debian 12's kernel: target and ACL names are WWPNs written as eight lower-case hex
bytes joined with ``:`` (EINVAL otherwise); only ``tpgt_1`` exists (EINVAL); the TPG has no
``enable`` and empty ``attrib/``, ``auth/`` and ``param/``; ``np/`` has no portals (ENOSYS);
ACLs show ``port_name`` and ``node_name`` and refuse writes to them (EPERM).
"""

from __future__ import annotations

import errno
import re

from .fabric import Acl, Fabric, Tpg, Wwn
from .nodes import Group, refuse

WWPN = re.compile(r"[0-9a-f]{2}(:[0-9a-f]{2}){7}")


def check_wwpn(name: str) -> None:
    if not WWPN.fullmatch(name):
        refuse(errno.EINVAL, f"{name!r}: expected 8 lower-case hex bytes joined with ':'")


class FcFabric(Fabric):
    def __init__(self, name: str, parent: Group):
        super().__init__(name, parent)
        self.constant("version", f"TCM FC 0.4 on Linux/x86_64 on {self.kernel.release}\n")

    def check_wwn(self, name: str) -> None:
        check_wwpn(name)

    def wwn_item(self, name: str) -> Wwn:
        return FcWwn(name, self)


class FcWwn(Wwn):
    def check_tag(self, tag: int) -> None:
        if tag != 1:
            refuse(errno.EINVAL, "tcm_fc has a single TPG, tpgt_1")

    def tpg_item(self, name: str, tag: int) -> Tpg:
        return FcTpg(name, self, tag)


class FcTpg(Tpg):
    def check_acl_name(self, name: str) -> None:
        check_wwpn(name)

    def acl_item(self, name: str) -> Acl:
        return FcAcl(name, self.acls, self)


class FcAcl(Acl):
    def __init__(self, name: str, parent: Group, tpg: Tpg):
        super().__init__(name, parent, tpg)  # type: ignore[arg-type]
        self.attribute("port_name", lambda: f"{name}\n", self._refuse)
        self.attribute("node_name", lambda: "00:00:00:00:00:00:00:00\n", self._refuse)

    @staticmethod
    def _refuse(text: str) -> None:
        refuse(errno.EPERM, "port_name and node_name are set by the fabric")
