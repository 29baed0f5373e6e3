"""Live iSCSI sessions of a TPG, parsed from what LIO shows in configfs.

LIO shows two kinds: initiators logged in through an explicit node ACL appear in that ACL's
``info`` file with the full session (id, ISID, state, one ``Address <ip> TCP`` line per
connection); initiators logged in through demo mode (``generate_node_acls=1``) appear only by
name in the TPG's ``dynamic_sessions`` (one per line, the text ending in a NUL byte) — their
addresses are not shown anywhere in configfs.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import PurePosixPath

from .configfs import Configfs, ConfigfsError

NO_SESSION = "No active iSCSI Session"
_SESSION = re.compile(r"LIO Session ID: (\d+)\s+ISID: (0x[0-9a-f ]+?)\s+TSIH: (\d+)\s+"
                      r"SessionType: (\S+)")
_CONNECTION = re.compile(r"CID: (\d+)\s+Connection State: (\S+)")
_ADDRESS = re.compile(r"Address (\S+) (\S+)")


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

    @property
    def addresses(self) -> tuple[str, ...]:
        return tuple(connection.address for connection in self.connections)


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
    for line in text.splitlines():
        stripped = line.strip()
        if stripped.startswith(("InitiatorName:", "InitiatorAlias:", "Session State:")):
            key, _, value = stripped.partition(":")
            fields[key] = value.strip()
        elif match := _SESSION.search(stripped):
            fields.update(sid=match.group(1), isid=match.group(2), tsih=match.group(3),
                          type=match.group(4))
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
        alias=fields.get("InitiatorAlias"), connections=tuple(connections))


def list_sessions(fs: Configfs, tpg: PurePosixPath) -> list[IscsiSession]:
    """Every live session of the iSCSI TPG at ``tpg``: explicit ACLs first, then dynamic."""
    sessions: list[IscsiSession] = []
    for initiator in fs.subdirs(tpg / "acls"):
        acl = tpg / "acls" / initiator
        try:
            tag = fs.read(acl / "tag").rstrip("\n") or None
            session = parse_acl_info(fs.read(acl / "info"), tag)
        except ConfigfsError:  # the ACL went away while we looked
            continue
        if session is not None:
            sessions.append(session)
    for initiator in parse_dynamic_sessions(fs.read(tpg / "dynamic_sessions")):
        sessions.append(IscsiSession(initiator=initiator, dynamic=True))
    return sessions
