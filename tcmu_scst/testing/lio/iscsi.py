"""Emulated iSCSI fabric (``iscsi_target_mod``): TPG attributes, parameters, CHAP, portals.

What it does as Debian 12's kernel does (proven in ``tests/system/test_lio_vm.py``):

* target names up to 223 bytes, anything else allowed; TPG tags 0..65535; no ``rtpi``.
* ``enable`` takes 0 or 1 (rewriting the same value is fine) and needs no portal.
* ``attrib/`` values are range-checked (EINVAL); ``generate_node_acls=1`` forces
  ``cache_dynamic_acls`` to 1; ``authentication`` adds or drops ``None`` in
  ``param/AuthMethod``; nothing in ``attrib/`` or ``param/`` is refused while enabled.
* ``param/`` values are checked like login keys (case-sensitive Yes/No, RFC 3720 ranges,
  digest and auth-method lists) and read back with a newline, the written one stripped.
* ``auth/`` files keep exactly what was written (a trailing newline included) and read it
  back with one more; ``NULL`` is kept as text but counts as unset.  Over 255 bytes is
  EINVAL for ACLs and discovery, silently cut to 255 for TPGs.
* portals are ``a.b.c.d:port`` or ``[v6]:port``; a portal is shared by TPGs of different
  targets, refused in a second TPG of the same target, and refused where its port is already
  bound by a wildcard address that covers it (``0.0.0.0`` covers IPv4, ``[::]`` everything).

* an ACL's ``cmdsn_depth`` takes 0..512, 0 as 1; a depth other than the current one ends
  every session of that ACL (writing the same depth changes nothing).

Sessions cannot come from a configfs write: :mod:`.iscsi_player` plays initiators, and
:mod:`.iscsi_session` shows their sessions as the kernel does.  Who may log in and what it
sees follows the kernel's node-ACL rules (``target_core_tpg.c``), which configfs does not show:

* an initiator without an explicit ACL logs in only with ``generate_node_acls=1``; it gets a
  *dynamic* ACL holding every TPG LUN at its own number (read-only for disks when
  ``demo_mode_write_protect=1``), and TPG LUNs added later while demo mode is on join it;
* the dynamic ACL is kept after logout (``cache_dynamic_acls``, forced on in demo mode) and
  admits its initiator again even after demo mode was switched off;
* ``mkdir acls/<name>`` for a name that has a dynamic ACL converts it: the new explicit ACL
  keeps the dynamic LUN entries (none of them in configfs) and their sessions; only
  ``rmdir`` of the ACL drops them;
* SendTargets offers a TPG to an initiator unless ``generate_node_acls=0`` and
  ``demo_mode_discovery=0`` and the initiator has no ACL (explicit or dynamic).
"""

from __future__ import annotations

import errno
import ipaddress
import itertools
import re
from dataclasses import dataclass, field

from .fabric import Acl, Fabric, Lun, Tpg, Wwn
from .iscsi_session import SESSION_PARAMETERS, Session, session_info
from .nodes import Group, parse_int, refuse

IQN_MAX = 223
AUTH_MAX = 255
AUTH_FILES = ("userid", "password", "userid_mutual", "password_mutual")
YES_NO = ("Yes", "No")
DATA_LENGTH = (512, 16777215)

TPG_ATTRIBUTES: dict[str, tuple[int, tuple[int, int]]] = {  # name: (default, (low, high))
    "authentication": (1, (0, 1)),
    "cache_dynamic_acls": (0, (0, 1)),
    "default_cmdsn_depth": (64, (1, 512)),
    "default_erl": (0, (0, 2)),
    "demo_mode_discovery": (1, (0, 1)),
    "demo_mode_write_protect": (1, (0, 1)),
    "fabric_prot_type": (0, (0, 3)),
    "generate_node_acls": (0, (0, 1)),
    "login_keys_workaround": (1, (0, 1)),
    "login_timeout": (15, (5, 30)),
    "netif_timeout": (2, (2, 15)),
    "prod_mode_write_protect": (0, (0, 1)),
    "t10_pi": (0, (0, 1)),
    "tpg_enabled_sendtargets": (1, (0, 1)),
}

ACL_ATTRIBUTES: dict[str, tuple[int, tuple[int, int]]] = {
    "authentication": (-1, (-1, 1)),
    "dataout_timeout": (3, (2, 60)),
    "dataout_timeout_retries": (5, (1, 15)),
    "default_erl": (0, (0, 2)),
    "nopin_response_timeout": (30, (3, 60)),
    "nopin_timeout": (15, (3, 60)),
    "random_datain_pdu_offsets": (0, (0, 1)),
    "random_datain_seq_offsets": (0, (0, 1)),
    "random_r2t_offsets": (0, (0, 1)),
}

# name: (default, kind, detail): kind "yesno", "range" (low, high), "list" (choices), "text"
TPG_PARAMETERS: dict[str, tuple[str, str, tuple]] = {
    "AuthMethod": ("CHAP", "list", ("CHAP", "None", "KRB5", "SPKM1", "SPKM2", "SRP")),
    "DataDigest": ("CRC32C,None", "list", ("CRC32C", "None")),
    "DataPDUInOrder": ("Yes", "yesno", ()),
    "DataSequenceInOrder": ("Yes", "yesno", ()),
    "DefaultTime2Retain": ("20", "range", (0, 3600)),
    "DefaultTime2Wait": ("2", "range", (0, 3600)),
    "ErrorRecoveryLevel": ("0", "range", (0, 2)),
    "FirstBurstLength": ("65536", "range", DATA_LENGTH),
    "HeaderDigest": ("CRC32C,None", "list", ("CRC32C", "None")),
    "IFMarkInt": ("Reject", "text", ()),
    "IFMarker": ("No", "yesno", ()),
    "ImmediateData": ("Yes", "yesno", ()),
    "InitialR2T": ("Yes", "yesno", ()),
    "MaxBurstLength": ("262144", "range", DATA_LENGTH),
    "MaxConnections": ("1", "range", (1, 65535)),
    "MaxOutstandingR2T": ("1", "range", (1, 65535)),
    "MaxRecvDataSegmentLength": ("8192", "range", DATA_LENGTH),
    "MaxXmitDataSegmentLength": ("262144", "range", DATA_LENGTH),
    "OFMarkInt": ("Reject", "text", ()),
    "OFMarker": ("No", "yesno", ()),
    "TargetAlias": ("LIO Target", "text", ()),
}

NO_SESSION = "No Active iSCSI Session\n"


def strtoul(text: str) -> int:
    """The number at the start of ``text`` as the kernel's ``simple_strtoul(text, 0)`` reads it:
    ``0x`` hex, leading ``0`` octal, else decimal; it stops at the first other character and
    is 0 without digits (so ``abc``, ``-5`` and `` 7`` all read as 0)."""
    base, body = 10, text
    if text[:2].lower() == "0x":
        base, body = 16, text[2:]
    elif text.startswith("0"):
        base = 8
    digits = "0123456789abcdef"[:base]
    end = 0
    while end < len(body) and body[end].lower() in digits:
        end += 1
    return int(body[:end], base) if end else 0


def _check_parameter(name: str, text: str) -> str:
    _, kind, detail = TPG_PARAMETERS[name]
    value = text[:-1] if text.endswith("\n") else text
    if kind == "yesno" and value not in YES_NO:
        refuse(errno.EINVAL, f"{name}: {value!r} is neither Yes nor No")
    if kind == "range" and not detail[0] <= strtoul(value) <= detail[1]:
        # the kernel checks the number it reads at the start, and keeps the text as written
        refuse(errno.EINVAL, f"{name}: {value!r} outside {detail[0]}..{detail[1]}")
    if kind == "list" and not all(entry in detail for entry in value.split(",")):
        refuse(errno.EINVAL, f"{name}: {value!r} not a list of {detail}")
    return value


class AuthFiles:
    """``auth/`` or ``discovery_auth/``: CHAP names and secrets, stored as written."""

    def __init__(self, group: Group, truncate: bool):
        self.values = dict.fromkeys(AUTH_FILES, "")
        self.truncate = truncate
        for name in AUTH_FILES:
            group.attribute(name, lambda name=name: self.values[name] + "\n",
                            lambda text, name=name: self._store(name, text))
        group.attribute("authenticate_target", lambda: f"{int(self.mutual)}\n")

    def _store(self, name: str, text: str) -> None:
        if len(text) > AUTH_MAX:
            if not self.truncate:
                refuse(errno.EINVAL, f"{name}: longer than {AUTH_MAX} bytes")
            text = text[:AUTH_MAX]
        self.values[name] = text

    def is_set(self, name: str) -> bool:
        return bool(self.values[name]) and not self.values[name].startswith("NULL")

    @property
    def mutual(self) -> bool:
        return self.is_set("userid_mutual") and self.is_set("password_mutual")


class IscsiFabric(Fabric):
    def __init__(self, name: str, parent: Group):
        super().__init__(name, parent)
        self.constant("lio_version", "Datera Inc. iSCSI Target v4.1.0\n")
        self.value("cpus_allowed_list", "0-1")
        self.discovery = AuthFiles(self.discovery_auth, truncate=False)
        self.enforce_discovery_auth = 0
        self.discovery_auth.attribute(
            "enforce_discovery_auth", lambda: f"{self.enforce_discovery_auth}\n",
            self._store_enforce)
        self.session_ids = itertools.count(1)

    def _store_enforce(self, text: str) -> None:
        self.enforce_discovery_auth = parse_int(text, 0, 1, what="enforce_discovery_auth")

    def check_wwn(self, name: str) -> None:
        if len(name.encode()) > IQN_MAX:
            refuse(errno.EINVAL, f"target name longer than {IQN_MAX} bytes")

    def wwn_item(self, name: str) -> Wwn:
        return IscsiWwn(name, self)

    def portals(self):
        """Every (TPG, address, port) bound by any iSCSI TPG."""
        for wwn in self.children.values():
            if isinstance(wwn, IscsiWwn):
                for tpg in wwn.children.values():
                    if isinstance(tpg, IscsiTpg):
                        for portal in tpg.portals.children.values():
                            if isinstance(portal, NetworkPortal):
                                yield tpg, portal.address, portal.port


class IscsiWwn(Wwn):
    def __init__(self, name: str, parent: IscsiFabric):
        super().__init__(name, parent)
        for entry in ("iscsi_instance", "iscsi_login_stats", "iscsi_logout_stats",
                      "iscsi_sess_err", "iscsi_tgt_attr"):
            self.statistics.group(entry)
        instance = self.statistics.children["iscsi_instance"]
        assert isinstance(instance, Group)
        instance.attribute("sessions", lambda: f"{len(self.sessions())}\n")

    def sessions(self) -> list[Session]:
        """Every normal session of this target, on any of its TPGs."""
        return [session for tpg in self.children.values() if isinstance(tpg, IscsiTpg)
                for session in tpg.sessions]

    def tpg_item(self, name: str, tag: int) -> Tpg:
        return IscsiTpg(name, self, tag)


@dataclass
class DynamicAcl:
    """A demo-mode node ACL: TPG LUN N seen as LUN N, with its read-only flag."""

    initiator: str
    entries: dict[int, tuple[Lun, bool]] = field(default_factory=dict)


class IscsiTpg(Tpg):
    def __init__(self, name: str, parent: IscsiWwn, tag: int):
        super().__init__(name, parent, tag)
        self.fabric: IscsiFabric = parent.fabric  # type: ignore[assignment]
        self.enabled = False
        self.sessions: list[Session] = []
        self.attributes = {name: default for name, (default, _) in TPG_ATTRIBUTES.items()}
        for attribute in TPG_ATTRIBUTES:
            self.attrib.attribute(attribute, lambda name=attribute: f"{self.attributes[name]}\n",
                                  lambda text, name=attribute: self._store_attribute(name, text))
        self.parameters = {name: default for name, (default, _, _) in TPG_PARAMETERS.items()}
        for parameter in TPG_PARAMETERS:
            self.param.attribute(parameter, lambda name=parameter: self.parameters[name] + "\n",
                                 lambda text, name=parameter: self._store_parameter(name, text))
        self.chap = AuthFiles(self.auth, truncate=True)
        self.attribute("enable", lambda: f"{int(self.enabled)}\n", self._store_enable)
        self.attribute("dynamic_sessions", self._show_dynamic_sessions)
        self.dynamic_acls: dict[str, DynamicAcl] = {}

    def _store_attribute(self, name: str, text: str) -> None:
        low, high = TPG_ATTRIBUTES[name][1]
        value = parse_int(text, low, high, what=name)
        if name == "fabric_prot_type" and value == 2:
            refuse(errno.EINVAL, "fabric_prot_type: 0, 1 or 3")
        if name == "cache_dynamic_acls" and self.attributes["generate_node_acls"]:
            value = 1  # demo mode always caches its dynamic ACLs
        self.attributes[name] = value
        if name == "generate_node_acls" and value:
            self.attributes["cache_dynamic_acls"] = 1
        if name == "authentication":
            methods = [entry for entry in self.parameters["AuthMethod"].split(",")
                       if entry != "None" or not value]
            if not value and "None" not in methods:
                methods.append("None")
            self.parameters["AuthMethod"] = ",".join(methods or ["None"])

    def _store_parameter(self, name: str, text: str) -> None:
        self.parameters[name] = _check_parameter(name, text)

    def _store_enable(self, text: str) -> None:
        self.enabled = bool(parse_int(text, 0, 1, what="enable"))
        if not self.enabled:
            self.sessions.clear()

    def _show_dynamic_sessions(self) -> str:
        return "".join(f"{session.initiator}\n\0" for session in self.sessions
                       if session.acl is None)

    def make_portal(self, name: str) -> Group:
        address, port = parse_portal(name)
        for tpg, other, other_port in self.fabric.portals():
            if other_port != port:
                continue
            shared = other == address or (_is_any(other, 6) and _is_any(address, 4))
            if shared and tpg is not self and tpg.wwn is self.wwn:
                refuse(errno.EINVAL, f"{name}: already a portal of {tpg.path}")
            if not shared and _bind_conflict(address, other):
                refuse(errno.EINVAL, f"{name}: port {port} already bound to {other}")
        return NetworkPortal(name, self.portals, address, port)

    def acl_item(self, name: str) -> Acl:
        acl = IscsiAcl(name, self.acls, self)
        dynamic = self.dynamic_acls.pop(name, None)
        if dynamic is not None:  # converted: the demo-mode entries and sessions stay
            acl.hidden = dict(dynamic.entries)
            for session in self.sessions:
                if session.dynamic is dynamic:
                    session.acl, session.dynamic = acl, None
        return acl

    def demo_entry(self, lun: Lun) -> tuple[Lun, bool]:
        """(the LUN, read-only) for a dynamic ACL; every emulated device counts as a disk
        (the kernel exempts only optical drives from ``demo_mode_write_protect``)."""
        return lun, bool(self.attributes["demo_mode_write_protect"])

    def dynamic_acl(self, initiator: str) -> DynamicAcl:
        """A new demo-mode ACL holding every TPG LUN that has a device."""
        dynamic = DynamicAcl(initiator)
        for lun in self.luns.children.values():
            if isinstance(lun, Lun) and lun.device is not None:
                dynamic.entries[lun.number] = self.demo_entry(lun)
        self.dynamic_acls[initiator] = dynamic
        return dynamic

    def lun_linked(self, lun: Lun) -> None:
        if self.attributes["generate_node_acls"]:
            for dynamic in self.dynamic_acls.values():
                dynamic.entries[lun.number] = self.demo_entry(lun)

    def lun_unlinked(self, lun: Lun) -> None:
        for dynamic in self.dynamic_acls.values():
            if dynamic.entries.get(lun.number, (None,))[0] is lun:
                del dynamic.entries[lun.number]
        for acl in self.acls.children.values():
            if isinstance(acl, IscsiAcl) and acl.hidden.get(lun.number, (None,))[0] is lun:
                del acl.hidden[lun.number]

    def new_mapping_write_protect(self) -> bool:
        return bool(self.attributes["prod_mode_write_protect"])

    def dropped(self) -> None:
        self.sessions.clear()


def parse_portal(name: str) -> tuple[ipaddress.IPv4Address | ipaddress.IPv6Address, int]:
    match = re.fullmatch(r"\[([^\]]+)\]:([0-9]+)|([0-9.]+):([0-9]+)", name)
    if not match:
        refuse(errno.EINVAL, f"{name!r}: expected address:port or [address]:port")
    text, port = (match.group(1), match.group(2)) if match.group(1) else match.group(3, 4)
    try:
        address = (ipaddress.IPv6Address(text) if match.group(1)
                   else ipaddress.IPv4Address(text))
    except ValueError:
        refuse(errno.EINVAL, f"{name!r}: not an IP address")
    return address, parse_int(port, 0, 0xFFFF, what="port")


def _is_any(address, version: int) -> bool:
    return address.version == version and address.is_unspecified


def _bind_conflict(new, existing) -> bool:
    """Whether listening on ``new`` fails because ``existing`` listens on the same port.

    As observed: a wildcard keeps the addresses it covers from binding (``[::]`` covers
    IPv4 too); ``[::]`` binds over IPv4 addresses but not over IPv6 ones or ``0.0.0.0``;
    ``0.0.0.0`` binds over IPv4 addresses, and over ``[::]`` it is taken for the same portal
    (the kernel compares the IPv4 fields of an IPv6 address).
    """
    if _is_any(existing, 6):
        return True
    if _is_any(existing, 4):
        return new.version == 4 or _is_any(new, 6)
    return _is_any(new, 6) and existing.version == 6


class NetworkPortal(Group):
    def __init__(self, name: str, parent: Group, address, port: int):
        super().__init__(name, parent)
        self.address = address
        self.port = port
        for driver in ("iser", "cxgbit"):
            self.value(driver, "0", self._store_driver(driver))

    @staticmethod
    def _store_driver(driver: str):
        def parse(text: str) -> str:
            if parse_int(text, 0, 1, what=driver):
                refuse(errno.EINVAL, f"{driver}: transport not available")
            return "0"

        return parse


class IscsiAcl(Acl):
    def __init__(self, name: str, parent: Group, tpg: IscsiTpg):
        super().__init__(name, parent, tpg)  # type: ignore[arg-type]
        self.iscsi_tpg = tpg
        self.statistics.group("iscsi_sess_stats")
        self.cmdsn_depth = tpg.attributes["default_cmdsn_depth"]
        self.attribute("cmdsn_depth", lambda: f"{self.cmdsn_depth}\n", self._store_depth)
        self.attribute("info", self._show_info)
        self.values = {name: default for name, (default, _) in ACL_ATTRIBUTES.items()}
        for attribute in ACL_ATTRIBUTES:
            self.attrib.attribute(attribute, lambda name=attribute: f"{self.values[name]}\n",
                                  lambda text, name=attribute: self._store_attribute(name, text))
        self.chap = AuthFiles(self.auth, truncate=False)
        self.hidden: dict[int, tuple[Lun, bool]] = {}  # kept from a converted dynamic ACL
        for parameter in SESSION_PARAMETERS:
            self.param.attribute(parameter, lambda name=parameter: self._show_param(name))

    def _store_attribute(self, name: str, text: str) -> None:
        low, high = ACL_ATTRIBUTES[name][1]
        self.values[name] = parse_int(text, low, high, signed=low < 0, what=name)

    def _store_depth(self, text: str) -> None:
        """As the kernel: 0 becomes 1, and a new depth ends the ACL's sessions (so that the
        initiator logs in again with the new CmdSN window); the same depth changes nothing."""
        depth = parse_int(text, 0, 512, what="cmdsn_depth") or 1
        if depth != self.cmdsn_depth:
            self.cmdsn_depth = depth
            self.end_sessions()

    def session(self) -> Session | None:
        """The session ``info`` and ``param/`` show: the latest of the ACL's sessions."""
        return next((entry for entry in reversed(self.iscsi_tpg.sessions)
                     if entry.acl is self), None)

    def _show_param(self, name: str) -> str:
        session = self.session()
        return f"{session.negotiated[name]}\n" if session else NO_SESSION

    def _show_info(self) -> str:
        session = self.session()
        if session is None:
            return f"No active iSCSI Session for Initiator Endpoint: {self.name}\n"
        return session_info(session)

    def end_sessions(self) -> None:
        self.iscsi_tpg.sessions = [entry for entry in self.iscsi_tpg.sessions
                                   if entry.acl is not self]

    def dropped(self) -> None:
        self.end_sessions()

