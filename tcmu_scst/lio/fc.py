"""tcm_fc (FCoE) targets: ``target/fc/<wwpn>/tpgt_1`` with LUNs and explicit ACLs.

tcm_fc has no demo mode, so every initiator needs a node ACL with mapped LUNs, and a single
TPG (tag 1) with no ``enable``: the target is live as soon as it exists.  Create it before
the FCoE port is enabled, or the remote port never learns it is a target.  WWPNs are written
as eight lower-case hex bytes joined with ``:`` (the kernel parses no other form);
:func:`colon_wwpn` converts the ``0x...`` of sysfs and the ``naa.`` of rtslib.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path

from .configfs import DEFAULT_CONFIGFS, Configfs, invalid
from .tpg import TargetPortalGroup

DEFAULT_SYSFS = "/sys"
_HEX16 = re.compile(r"(?:0x|naa\.)?([0-9a-fA-F]{16})")
_COLONS = re.compile(r"[0-9a-fA-F]{2}(?::[0-9a-fA-F]{2}){7}")


def colon_wwpn(text: str) -> str:
    """``20:00:00:19:99:a8:34:bc`` from that form, ``0x2000001999a834bc`` or ``naa.2000...``."""
    value = text.strip()
    if _COLONS.fullmatch(value):
        return value.lower()
    match = _HEX16.fullmatch(value)
    if not match:
        raise invalid(f"{text!r}: not a WWPN")
    digits = match.group(1).lower()
    return ":".join(digits[index:index + 2] for index in range(0, 16, 2))


@dataclass(frozen=True)
class FcPort:
    """A local FC port: its SCSI host (``host3``) and WWPN (colon form)."""

    host: str
    wwpn: str


def local_ports(sysfs: str | Path = DEFAULT_SYSFS) -> list[FcPort]:
    """This host's FC ports (``class/fc_host/*/port_name``), by host name."""
    hosts = Path(sysfs) / "class" / "fc_host"
    if not hosts.is_dir():
        return []
    ports = []
    for host in sorted(hosts.iterdir(), key=lambda entry: (len(entry.name), entry.name)):
        try:
            ports.append(FcPort(host.name, colon_wwpn((host / "port_name").read_text())))
        except OSError:
            continue
    return ports


def local_port_wwpns(sysfs: str | Path = DEFAULT_SYSFS) -> list[str]:
    """WWPNs of this host's FC ports, colon form, sorted: what ``fc/`` targets are named."""
    return sorted(port.wwpn for port in local_ports(sysfs))


class FcTarget(TargetPortalGroup):
    """``target/fc/<wwpn>/tpgt_1``."""

    fabric = "fc"

    def __init__(self, wwpn: str, configfs: Configfs | str | Path = DEFAULT_CONFIGFS):
        super().__init__(colon_wwpn(wwpn), configfs, tag=1)

    @property
    def wwpn(self) -> str:
        return self.wwn

    def check_initiator(self, initiator: str) -> None:
        if colon_wwpn(initiator) != initiator:
            raise invalid(f"{initiator!r}: write FC initiators as {colon_wwpn(initiator)}")
