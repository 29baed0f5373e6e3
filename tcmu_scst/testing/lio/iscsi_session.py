"""An emulated iSCSI session: what it negotiated and how the kernel prints it in configfs.

What Debian 12's kernel (6.1) shows of a session, observed with open-iscsi logged in
(``tests/system/test_sessions_vm.py`` reads the same files on the real kernel):

* ``acls/<name>/info`` shows the ACL's latest session: ``LIO Session ID``, ``ISID``
  (six bytes), ``TSIH`` (which equalled the session id in every login seen), the state, the
  CmdSN window (``CmdSN/WR`` is the window the session got, ``CmdSN/WC`` what is left of it:
  their difference is the commands received and not answered yet) and one ``CID`` /
  ``Address`` pair per connection.
* ``acls/<name>/param/<key>`` shows the session's *negotiated* session-wide keys, numbers
  throughout (``InitialR2T`` 0 for No); the per-connection keys (data segment lengths,
  digests) are nowhere in configfs.
* ``<tpg>/dynamic_sessions`` lists demo-mode sessions, each as ``name\\n`` and a NUL byte.
* ``<iqn>/fabric_statistics/iscsi_instance/sessions`` counts the target's normal sessions,
  also those an ACL's ``info`` does not show (a second session of the same initiator name).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

# an ACL's param/: the session-wide keys, as negotiated by its latest session
SESSION_PARAMETERS = ("DataPDUInOrder", "DataSequenceInOrder", "DefaultTime2Retain",
                      "DefaultTime2Wait", "ErrorRecoveryLevel", "FirstBurstLength",
                      "ImmediateData", "InitialR2T", "MaxBurstLength", "MaxConnections",
                      "MaxOutstandingR2T")
# open-iscsi's login offer for them (Debian 12, iscsid.conf defaults)
OPEN_ISCSI_OFFER = {
    "InitialR2T": "No", "ImmediateData": "Yes", "FirstBurstLength": "262144",
    "MaxBurstLength": "16776192", "MaxOutstandingR2T": "1", "MaxConnections": "1",
    "DefaultTime2Wait": "2", "DefaultTime2Retain": "0", "ErrorRecoveryLevel": "0",
    "DataPDUInOrder": "Yes", "DataSequenceInOrder": "Yes",
}
# RFC 7143's result functions for those keys
_OR = ("InitialR2T", "DataPDUInOrder", "DataSequenceInOrder")
_AND = ("ImmediateData",)
_MAX = ("DefaultTime2Wait",)
OPEN_ISCSI_ISID = 0x00023D000001  # the ISID of open-iscsi's first session on an iface


def negotiate(target: Mapping[str, str], initiator: Mapping[str, str]) -> dict[str, str]:
    """The values an ACL's ``param/`` shows: each key's result, booleans as 1 or 0
    (``initiator``: its offer, open-iscsi's for the keys it leaves out)."""
    result = {}
    for key in SESSION_PARAMETERS:
        mine, offered = target[key], initiator.get(key, OPEN_ISCSI_OFFER[key])
        if key in _OR:
            value = str(int("Yes" in (mine, offered)))
        elif key in _AND:
            value = str(int(mine == offered == "Yes"))
        elif key in _MAX:
            value = str(max(int(mine), int(offered)))
        else:
            value = str(min(int(mine), int(offered)))
        result[key] = value
    return result


@dataclass
class Session:
    """One logged-in initiator; ``acl`` None: through a dynamic (demo-mode) ACL."""

    initiator: str
    session_id: int
    address: str
    alias: str | None
    acl: Any  # the IscsiAcl it belongs to, or None
    dynamic: Any = None  # the DynamicAcl, for demo-mode sessions
    isid: int = OPEN_ISCSI_ISID
    window: int = 64  # the ACL's cmdsn_depth at login
    negotiated: dict[str, str] = field(default_factory=dict)
    in_flight: int = 0  # commands the initiator sent that the target has not answered

    @property
    def tsih(self) -> int:
        return self.session_id


def session_info(session: Session) -> str:
    """An ACL's ``info`` while ``session`` is its latest, laid out as the kernel does."""
    isid = " ".join(f"{byte:02x}" for byte in session.isid.to_bytes(6, "big"))
    expected = 0x13 + session.in_flight
    maximum = expected + session.window - session.in_flight - 1
    lines = [f"InitiatorName: {session.initiator}"]
    if session.alias:
        lines.append(f"InitiatorAlias: {session.alias}")
    lines += [
        f"LIO Session ID: {session.session_id}   ISID: 0x{isid}  TSIH: {session.tsih}  "
        "SessionType: Normal",
        "Session State: TARG_SESS_STATE_LOGGED_IN",
        "---------------------[iSCSI Session Values]-----------------------",
        "  CmdSN/WR  :  CmdSN/WC  :  ExpCmdSN  :  MaxCmdSN  :     ITT    :     TTT",
        f" 0x{session.window:08x}   0x{maximum - expected + 1:08x}   0x{expected:08x}   "
        f"0x{maximum:08x}   0x00000013   0x00000011",
        "----------------------[iSCSI Connections]-------------------------",
        "CID: 0  Connection State: TARG_CONN_STATE_LOGGED_IN",
        f"   Address {session.address} TCP  StatSN: 0x00000001",
    ]
    return "\n".join(lines) + "\n"
