"""iSCSI targets in LIO configfs: TPG, portals, demo mode, parameters, CHAP, sessions.

Order matters: LUNs, portals and attributes first, ``enable`` last, so an initiator never
logs in to a half-built target; :meth:`IscsiTarget.remove` disables first.

SCST's target-level LUN set (seen by initiators in no group) is LIO's demo mode:
``generate_node_acls=1`` gives any initiator without an explicit ACL a dynamic one that
sees every TPG LUN, read-only unless ``demo_mode_write_protect=0``; ``cache_dynamic_acls``
keeps it across logins (the kernel forces it on in demo mode).  CHAP is then checked against
the TPG's ``auth/`` when ``authentication=1``; explicit ACLs use their own ``auth/``.
"""

from __future__ import annotations

import ipaddress
from collections.abc import Mapping
from pathlib import Path, PurePosixPath

from .chap import NO_CHAP, Chap, check_chap, read_chap, write_chap
from .configfs import DEFAULT_CONFIGFS, Configfs, as_configfs, invalid
from .rollback import Rollback
from .sessions import IscsiSession, list_sessions
from .tpg import MappedLun, TargetPortalGroup

ISCSI = PurePosixPath("target/iscsi")
DISCOVERY_AUTH = ISCSI / "discovery_auth"
IQN_MAX = 223

DEMO_MODE_ATTRIBUTES = {
    "generate_node_acls": "1",  # any initiator may log in and sees the TPG's LUNs
    "cache_dynamic_acls": "1",
    "authentication": "0",
    "demo_mode_write_protect": "0",
}

# The negotiation keys SCST exposes per target, all of which LIO keeps in tpgt_N/param/.
SCST_PARAMETERS = (
    "InitialR2T", "ImmediateData", "MaxRecvDataSegmentLength", "MaxXmitDataSegmentLength",
    "MaxBurstLength", "FirstBurstLength", "MaxOutstandingR2T", "HeaderDigest", "DataDigest",
    "DefaultTime2Wait", "DefaultTime2Retain", "ErrorRecoveryLevel", "MaxConnections",
    "DataPDUInOrder", "DataSequenceInOrder", "TargetAlias", "AuthMethod",
)


def portal_name(address: str, port: int) -> str:
    """``np/`` directory name: ``a.b.c.d:port`` or ``[v6]:port`` (EINVAL on anything else)."""
    try:
        parsed = ipaddress.ip_address(address.strip("[]"))
    except ValueError:
        raise invalid(f"{address!r}: not an IP address") from None
    if not 0 <= port <= 0xFFFF:
        raise invalid(f"port {port}: outside 0..65535")
    return f"[{parsed}]:{port}" if parsed.version == 6 else f"{parsed}:{port}"


def parse_portal_name(name: str) -> tuple[str, int]:
    address, _, port = name.rpartition(":")
    return address.strip("[]"), int(port)


class IscsiTarget(TargetPortalGroup):
    """``target/iscsi/<iqn>/tpgt_<tag>``."""

    fabric = "iscsi"

    def __init__(self, iqn: str, configfs: Configfs | str | Path = DEFAULT_CONFIGFS,
                 tag: int = 1):
        super().__init__(iqn, configfs, tag)
        if len(iqn.encode()) > IQN_MAX:
            raise invalid(f"target name longer than {IQN_MAX} bytes")

    @property
    def iqn(self) -> str:
        return self.wwn

    # -- enable ----------------------------------------------------------------------------

    def enable(self, enabled: bool = True) -> None:
        self.fs.write(self.tpg_path / "enable", "1" if enabled else "0")

    def is_enabled(self) -> bool:
        return self.fs.read(self.tpg_path / "enable").strip() == "1"

    def before_remove(self) -> None:
        self.enable(False)

    # -- portals ---------------------------------------------------------------------------

    def portal_path(self, address: str, port: int) -> PurePosixPath:
        return self.tpg_path / "np" / portal_name(address, port)

    def add_portal(self, address: str = "127.0.0.1", port: int = 3260) -> None:
        self.fs.mkdir(self.portal_path(address, port))

    def remove_portal(self, address: str, port: int = 3260) -> None:
        self.fs.rmdir(self.portal_path(address, port))

    def portals(self) -> list[tuple[str, int]]:
        return [parse_portal_name(name) for name in self.fs.subdirs(self.tpg_path / "np")]

    def remove_portals(self) -> None:
        for name in self.fs.subdirs(self.tpg_path / "np"):
            self.fs.rmdir(self.tpg_path / "np" / name)

    # -- access: demo mode and CHAP --------------------------------------------------------

    supports_demo_mode = True

    def set_demo_mode(self, enabled: bool, write_protect: bool = False) -> None:
        """Whether initiators without an explicit ACL may log in and see every TPG LUN.

        Off also hides the target from their SendTargets discovery
        (``demo_mode_discovery=0``).  On, write protection is set before the switch, so no
        dynamic ACL is ever made with the wrong one.
        """
        if enabled:
            values = {"demo_mode_write_protect": "1" if write_protect else "0",
                      "cache_dynamic_acls": "1", "demo_mode_discovery": "1",
                      "generate_node_acls": "1"}
        else:
            # cache off: a dynamic ACL left from demo mode (it still admits its initiator)
            # is freed at that initiator's next logout
            values = {"generate_node_acls": "0", "demo_mode_discovery": "0",
                      "cache_dynamic_acls": "0"}
        self.set_attributes(values)

    def demo_mode(self) -> bool:
        return self.get_attribute("generate_node_acls") == "1"

    def set_authentication(self, required: bool) -> None:
        """Whether logins must pass CHAP (``attrib/authentication``, also edits AuthMethod)."""
        self.set_attribute("authentication", "1" if required else "0")

    def open_access(self) -> None:
        """Demo mode, writable LUNs, no CHAP (tests and benchmarks on the loopback address)."""
        self.set_attributes(DEMO_MODE_ATTRIBUTES)

    def chap(self) -> Chap:
        """The TPG's credentials (those demo-mode initiators must present)."""
        return read_chap(self.fs, self.tpg_path / "auth")

    def set_chap(self, chap: Chap | None) -> None:
        write_chap(self.fs, self.tpg_path / "auth", chap or NO_CHAP)

    def acl_chap(self, initiator: str) -> Chap:
        return read_chap(self.fs, self.acl_path(initiator) / "auth")

    def set_acl_chap(self, initiator: str, chap: Chap | None) -> None:
        write_chap(self.fs, self.acl_path(initiator) / "auth", chap or NO_CHAP)

    def add_acl(self, initiator: str,
                mapped_luns: Mapping[int, MappedLun | int] | None = None,
                tag: str | None = None, chap: Chap | None = None) -> None:
        """As :meth:`TargetPortalGroup.add_acl`, plus the initiator's own CHAP credentials."""
        if chap is not None:
            check_chap(chap)
        with Rollback() as undo:
            super().add_acl(initiator, mapped_luns, tag)
            undo.add(super().remove_acl, initiator)
            if chap is not None and not chap.is_empty:
                self.set_acl_chap(initiator, chap)

    # -- negotiation parameters ------------------------------------------------------------

    def get_param(self, name: str) -> str:
        return self.fs.read(self.tpg_path / "param" / name).rstrip("\n")

    def set_param(self, name: str, value: str) -> None:
        self.fs.write(self.tpg_path / "param" / name, value)

    def set_params(self, values: Mapping[str, str]) -> None:
        """Several parameters; if the kernel refuses one, the others get their old values."""
        self._set_files(self.tpg_path / "param", values)

    def params(self) -> dict[str, str]:
        directory = self.tpg_path / "param"
        return {name: self.get_param(name) for name in self.fs.listdir(directory)}

    # -- sessions --------------------------------------------------------------------------

    def sessions(self) -> list[IscsiSession]:
        return list_sessions(self.fs, self.tpg_path)


def list_targets(configfs: Configfs | str | Path = DEFAULT_CONFIGFS) -> list[IscsiTarget]:
    """Every iSCSI TPG in configfs."""
    fs = as_configfs(configfs)
    if not fs.is_dir(ISCSI):
        return []
    return [IscsiTarget(iqn, fs, int(tpg[5:]))
            for iqn in fs.subdirs(ISCSI) if iqn != "discovery_auth"
            for tpg in fs.subdirs(ISCSI / iqn) if tpg.startswith("tpgt_")]


def discovery_chap(configfs: Configfs | str | Path = DEFAULT_CONFIGFS) -> tuple[Chap, bool]:
    """SendTargets discovery credentials and whether discovery must authenticate."""
    fs = as_configfs(configfs)
    enforced = fs.read(DISCOVERY_AUTH / "enforce_discovery_auth").strip() == "1"
    return read_chap(fs, DISCOVERY_AUTH), enforced


def set_discovery_chap(chap: Chap | None, enforce: bool,
                       configfs: Configfs | str | Path = DEFAULT_CONFIGFS) -> None:
    """Credentials for discovery sessions (SCST's IncomingUser/OutgoingUser on the driver)."""
    fs = as_configfs(configfs)
    if not fs.is_dir(ISCSI):
        fs.mkdir(ISCSI)
    old_chap = read_chap(fs, DISCOVERY_AUTH)
    old_enforce = fs.read(DISCOVERY_AUTH / "enforce_discovery_auth").strip()
    with Rollback() as undo:
        write_chap(fs, DISCOVERY_AUTH, chap or NO_CHAP)
        undo.add(write_chap, fs, DISCOVERY_AUTH, old_chap)
        fs.write(DISCOVERY_AUTH / "enforce_discovery_auth", "1" if enforce else "0")
        undo.add(fs.write, DISCOVERY_AUTH / "enforce_discovery_auth", old_enforce)
