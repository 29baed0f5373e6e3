"""``targets/<driver>/<target>/sessions/``: a directory per live session, as SCST shows it.

Each file is there only where LIO gives its value (README, "Sessions", has the table):

* ``initiator_name``, ``luns`` (a link to the LUN set the session sees) and ``force_close``
  (write-only: any write closes the session, as SCST's);
* ``sid``: SCST's session id, built as iscsi-scstd builds it (:func:`scst_sid`), and
  ``commands``: the commands received and not yet answered; both where LIO shows the
  session (through an explicit ACL: groups' members);
* the iSCSI keys (:data:`SESSION_KEYS`): the session's negotiated value where LIO shows it
  (the session-wide keys of a session through an explicit ACL), the target's offer
  otherwise (the per-connection keys of every session, every key of a demo-mode session);
* one directory per connection, named by the initiator's address (``_1``, ... for more
  connections from one address, as SCST), with ``ip``, and ``cid`` and ``state`` (LIO's
  connection state, in LIO's words) where LIO shows them.

SCST's ``active_commands``, ``reinstating``, ``thread_pid``, I/O statistics, ``latency/``
and ``lun<N>/`` have no counterpart in LIO and are left out.
"""

from __future__ import annotations

from collections.abc import Callable

from .iscsi_params import ISCSI_KEYS
from .nodes import Attribute, Directory, Link, Node
from .realizer import ConnectionInfo, SessionInfo

SESSION_KEYS = ("InitialR2T", "ImmediateData", "MaxRecvDataSegmentLength",
                "MaxXmitDataSegmentLength", "MaxBurstLength", "FirstBurstLength",
                "MaxOutstandingR2T", "HeaderDigest", "DataDigest")

Close = Callable[[SessionInfo], None]


def scst_sid(isid: bytes, tsih: int) -> int:
    """iscsi-scstd's session id: the six ISID bytes from the lowest byte up, TSIH on top."""
    return int.from_bytes(isid[:6], "little") | tsih << 48


def key_value(session: SessionInfo, key: str) -> str | None:
    """The session's value of iSCSI ``key`` where LIO shows one, else the target's offer
    (digests as SCST writes them, ``None`` first)."""
    value = session.negotiated.get(key, session.offered.get(key))
    if value is not None and key.endswith("Digest"):
        value = ISCSI_KEYS[key].normalise(value)
    return value


def unique_name(name: str, taken: object) -> str:
    """``name``, or SCST's ``name_1``, ``name_2`` ... when ``taken`` holds it already."""
    candidate, suffix = name, 1
    while candidate in taken:  # type: ignore[operator]
        candidate = f"{name}_{suffix}"
        suffix += 1
    return candidate


def sessions_directory(listed: Callable[[], list[SessionInfo]], close: Close) -> Directory:
    """The ``sessions/`` directory: ``listed()`` gives the live sessions at each lookup."""
    def entries() -> dict[str, Node]:
        children: dict[str, Node] = {}
        for session in listed():
            children[unique_name(session.initiator, children)] = session_directory(
                session, close)
        return children

    return Directory(entries)


def session_directory(session: SessionInfo, close: Close) -> Directory:
    luns = f"../../ini_groups/{session.group}/luns" if session.group else "../../luns"
    children: dict[str, Node] = {
        "initiator_name": Attribute(read=lambda: f"{session.initiator}\n"),
        "luns": Link(luns),
        "force_close": Attribute(write=lambda text: close(session)),
    }
    if session.sid is not None:
        children["sid"] = Attribute(read=lambda: f"{session.sid:x}\n")
    if session.commands is not None:
        children["commands"] = Attribute(read=lambda: f"{session.commands}\n")
    for key in SESSION_KEYS:
        value = key_value(session, key)
        if value is not None:
            children[key] = Attribute(read=lambda v=value: f"{v}\n")
    connections: dict[str, Node] = {}
    for connection in session.connections or tuple(ConnectionInfo(address)
                                                   for address in session.addresses):
        connections[unique_name(connection.address, connections)] = Directory(
            lambda c=connection: _connection_entries(c))  # type: ignore[misc]
    return Directory(lambda: {**children, **connections})


def _connection_entries(connection: ConnectionInfo) -> dict[str, Node]:
    children: dict[str, Node] = {"ip": Attribute(read=lambda: f"{connection.address}\n")}
    if connection.cid is not None:
        children["cid"] = Attribute(read=lambda: f"{connection.cid}\n")
    if connection.state is not None:
        children["state"] = Attribute(read=lambda: f"{connection.state}\n")
    return children
