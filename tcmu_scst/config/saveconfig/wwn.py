"""rtslib's WWN rules (``utils.normalize_wwn``) restated, and the names each side gives a port.

An SCST target name becomes an LIO WWN on export and an LIO WWN becomes an SCST target or
initiator name on import; both directions need to know what rtslib accepts per fabric, or a
document would be written that ``targetcli restoreconfig`` refuses halfway through.
"""

from __future__ import annotations

import re
import zlib

IQN = re.compile(r"iqn\.[0-9]{4}-[0-1][0-9]\..*\..*")
NAA = re.compile(r"naa\.[125][0-9a-f]{15}")
EUI = re.compile(r"eui\.[0-9a-f]{16}")
COLON_WWPN = re.compile(r"[0-9a-f]{2}(?::[0-9a-f]{2}){7}")


def loopback_wwn(name: str) -> str:
    """The LIO loopback WWN for an scst_local target: its name if rtslib takes it as an naa.
    WWN, else ``naa.5001405`` and 9 hex digits derived from the name (stable across runs,
    so exporting twice gives the same document)."""
    if NAA.fullmatch(name):
        return name
    return f"naa.5001405{zlib.crc32(name.encode()) & 0xFFFFFFFFF:09x}"


def iscsi_wwn(name: str) -> str | None:
    """``name`` as rtslib will store it (iSCSI names are case-insensitive, rtslib lowers them),
    or None if rtslib refuses it (an IQN with '_' or a blank, say)."""
    lowered = name.strip().lower()
    if IQN.fullmatch(lowered) and " " not in lowered and "_" not in lowered:
        return lowered
    if NAA.fullmatch(lowered) or EUI.fullmatch(lowered):
        return lowered
    return None


def fc_wwn(colon_wwpn: str) -> str | None:
    """``20:00:...`` → rtslib's ``naa.2000...`` (None when rtslib would refuse it)."""
    value = colon_wwpn.strip().lower()
    if not COLON_WWPN.fullmatch(value):
        return None
    wwn = "naa." + value.replace(":", "")
    return wwn if NAA.fullmatch(wwn) else None



def colonize(digits: str) -> str:
    """16 hex digits as SCST names an FC port: ``20:00:00:...``."""
    return ":".join(digits[index:index + 2] for index in range(0, len(digits), 2))
