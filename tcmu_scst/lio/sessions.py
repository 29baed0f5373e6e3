"""Live iSCSI sessions of a TPG, parsed from what LIO shows in configfs.

LIO shows two kinds (Debian 12's kernel, 6.1; layouts in
:mod:`tcmu_scst.testing.lio.iscsi_session`):

* a session through an explicit node ACL: the ACL's ``info`` has its id, ISID, TSIH, state,
  CmdSN window and one ``CID`` / ``Address <ip> TCP`` pair per connection, and the ACL's
  ``param/`` its negotiated session-wide keys.  Both show only the ACL's *latest* session:
  a second session of the same initiator name (another ISID) is counted in the target's
  ``fabric_statistics/iscsi_instance/sessions`` and nowhere else;
* a session through demo mode (``generate_node_acls=1``): only its initiator's name, in the
  TPG's ``dynamic_sessions`` (each ``name\n`` and a NUL byte); nothing else of it, not even
  its address, is in configfs.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from pathlib import PurePosixPath

from .configfs import Configfs, ConfigfsError

NO_SESSION = "No active iSCSI Session"
_SESSION = re.compile(r"LIO Session ID: (\d+)\s+ISID: (0x[0-9a-f ]+?)\s+TSIH: (\d+)\s+"
                      r"SessionType: (\S+)")
_CONNECTION = re.compile(r"CID: (\d+)\s+Connection State: (\S+)")
_ADDRESS = re.compile(r"Address (\S+) (\S+)")
_WINDOW = re.compile(r"(0x[0-9a-f]+)\s+(0x[0-9a-f]+)\s+0x[0-9a-f]+\s+0x[0-9a-f]+\s+"
                     r"0x[0-9a-f]+\s+0x[0-9a-f]+")
ENDED = "No Active iSCSI Session"  # what an ACL's param/ files read without a session
BOOLEAN_KEYS = ("InitialR2T", "ImmediateData", "DataPDUInOrder", "DataSequenceInOrder")
INSTANCE_SESSIONS = PurePosixPath("fabric_statistics/iscsi_instance/sessions")


@dataclass(frozen=True)
class IscsiConnection:
    cid: int
    state: str
    address: str
    transport: str


@dataclass(frozen=True)
class IscsiSession:
    """One logged-in initiator; ``dynamic`` ones are known by name only."""

    initiator: str
    dynamic: bool
    tag: str | None = None  # the explicit ACL's group tag
    session_id: int | None = None
    isid: str | None = None
    tsih: int | None = None
    session_type: str | None = None
    state: str | None = None
    alias: str | None = None
    connections: tuple[IscsiConnection, ...] = ()
    cmdsn_window: int | None = None  # CmdSN/WR: the window the session got at login
    cmdsn_left: int | None = None  # CmdSN/WC: what is left of it
    negotiated: Mapping[str, str] = field(default_factory=dict)  # ACL param/, as login keys

    @property
    def addresses(self) -> tuple[str, ...]:
        return tuple(connection.address for connection in self.connections)

    @property
    def commands(self) -> int | None:
        """Commands the target has received and not answered yet: the part of the CmdSN
        window in use (LIO widens MaxCmdSN again as it answers; immediate commands, which
        open-iscsi sends only for task management and NOP-Outs, take no part of it)."""
        if self.cmdsn_window is None or self.cmdsn_left is None:
            return None
        return self.cmdsn_window - self.cmdsn_left

    @property
    def isid_bytes(self) -> bytes | None:
        """The ISID's six bytes (``info`` prints ``0x00 02 3d 00 00 01``)."""
        if self.isid is None:
            return None
        return bytes.fromhex(self.isid.removeprefix("0x").replace(" ", ""))


def parse_dynamic_sessions(text: str) -> list[str]:
    """Initiator names from a TPG's ``dynamic_sessions``."""
    return [line.strip() for line in text.replace("\0", "").splitlines() if line.strip()]


def parse_acl_info(text: str, tag: str | None = None) -> IscsiSession | None:
    """The session in an ACL's ``info``, or None when its initiator is not logged in."""
    if text.startswith(NO_SESSION):
        return None
    fields: dict[str, str] = {}
    connections: list[IscsiConnection] = []
    pending: tuple[int, str] | None = None
    window: tuple[int, int] | None = None
    for line in text.splitlines():
        stripped = line.strip()
        if stripped.startswith(("InitiatorName:", "InitiatorAlias:", "Session State:")):
            key, _, value = stripped.partition(":")
            fields[key] = value.strip()
        elif match := _SESSION.search(stripped):
            fields.update(sid=match.group(1), isid=match.group(2), tsih=match.group(3),
                          type=match.group(4))
        elif window is None and (match := _WINDOW.fullmatch(stripped)):
            window = (int(match.group(1), 16), int(match.group(2), 16))
        elif match := _CONNECTION.match(stripped):
            pending = (int(match.group(1)), match.group(2))
        elif (match := _ADDRESS.match(stripped)) and pending is not None:
            address = match.group(1)
            if address.startswith("[") and address.endswith("]"):
                address = address[1:-1]
            connections.append(IscsiConnection(pending[0], pending[1], address, match.group(2)))
            pending = None
    if "InitiatorName" not in fields:
        return None
    return IscsiSession(
        initiator=fields["InitiatorName"], dynamic=False, tag=tag,
        session_id=int(fields["sid"]) if "sid" in fields else None,
        isid=fields.get("isid"), tsih=int(fields["tsih"]) if "tsih" in fields else None,
        session_type=fields.get("type"), state=fields.get("Session State"),
        alias=fields.get("InitiatorAlias"), connections=tuple(connections),
        cmdsn_window=window[0] if window else None, cmdsn_left=window[1] if window else None)


def read_negotiated(fs: Configfs, acl: PurePosixPath) -> dict[str, str] | None:
    """The ACL's ``param/`` as login keys (LIO prints the booleans as 1 and 0), or None when
    its session ended meanwhile."""
    values = {}
    for name in fs.listdir(acl / "param"):
        text = fs.read(acl / "param" / name).strip()
        if text.startswith(ENDED):
            return None
        values[name] = ("Yes" if text == "1" else "No") if name in BOOLEAN_KEYS else text
    return values


def session_count(fs: Configfs, wwn: PurePosixPath) -> int:
    """The target's normal sessions as the kernel counts them, also those no file shows."""
    return int(fs.read(wwn / INSTANCE_SESSIONS).strip())


def list_sessions(fs: Configfs, tpg: PurePosixPath) -> list[IscsiSession]:
    """Every live session of the iSCSI TPG at ``tpg``: explicit ACLs first, then dynamic."""
    sessions: list[IscsiSession] = []
    for initiator in fs.subdirs(tpg / "acls"):
        acl = tpg / "acls" / initiator
        try:
            tag = fs.read(acl / "tag").rstrip("\n") or None
            session = parse_acl_info(fs.read(acl / "info"), tag)
            negotiated = read_negotiated(fs, acl) if session is not None else None
        except ConfigfsError:  # the ACL went away while we looked
            continue
        if session is not None and negotiated is not None:
            sessions.append(replace(session, negotiated=negotiated))
    for initiator in parse_dynamic_sessions(fs.read(tpg / "dynamic_sessions")):
        sessions.append(IscsiSession(initiator=initiator, dynamic=True))
    return sessions
