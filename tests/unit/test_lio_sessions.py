"""Parsing LIO's session files, with text captured from Debian 12's kernel (6.1)."""

from __future__ import annotations

from tcmu_scst.lio.sessions import (
    IscsiConnection,
    IscsiSession,
    parse_acl_info,
    parse_dynamic_sessions,
)

# acls/<initiator>/info while iscsiadm was logged in over 127.0.0.1 (guest of the VM tests)
LOGGED_IN = """\
InitiatorName: iqn.1994-05.com.x:ini1
InitiatorAlias: tcmu-scst-vm
LIO Session ID: 2   ISID: 0x00 02 3d 00 00 03  TSIH: 3  SessionType: Normal
Session State: TARG_SESS_STATE_LOGGED_IN
---------------------[iSCSI Session Values]-----------------------
  CmdSN/WR  :  CmdSN/WC  :  ExpCmdSN  :  MaxCmdSN  :     ITT    :     TTT
 0x00000040   0x00000040   0x00000013   0x00000052   0x00000013   0x00000011
----------------------[iSCSI Connections]-------------------------
CID: 0  Connection State: TARG_CONN_STATE_LOGGED_IN
   Address 127.0.0.1 TCP  StatSN: 0xf61f4bb4
"""


def test_a_logged_in_acl() -> None:
    assert parse_acl_info(LOGGED_IN, tag="group1") == IscsiSession(
        initiator="iqn.1994-05.com.x:ini1", dynamic=False, tag="group1", session_id=2,
        isid="0x00 02 3d 00 00 03", tsih=3, session_type="Normal",
        state="TARG_SESS_STATE_LOGGED_IN", alias="tcmu-scst-vm",
        connections=(IscsiConnection(0, "TARG_CONN_STATE_LOGGED_IN", "127.0.0.1", "TCP"),),
        cmdsn_window=64, cmdsn_left=64)


def test_commands_in_flight_and_the_isid() -> None:
    """The window line while fio kept 16 reads queued through the kernel initiator."""
    busy = LOGGED_IN.replace(
        " 0x00000040   0x00000040   0x00000013   0x00000052   0x00000013   0x00000011",
        " 0x00000040   0x00000031   0x00000600   0x00000630   0x0000000c   0x000005fe")
    session = parse_acl_info(busy)
    assert session is not None and session.commands == 15
    idle = parse_acl_info(LOGGED_IN)
    assert idle is not None and idle.commands == 0
    assert idle.isid_bytes == bytes([0x00, 0x02, 0x3D, 0x00, 0x00, 0x03])


def test_several_connections_and_ipv6_addresses() -> None:
    text = LOGGED_IN + ("CID: 1  Connection State: TARG_CONN_STATE_LOGGED_IN\n"
                        "   Address [::1] TCP  StatSN: 0x00000001\n")
    session = parse_acl_info(text)
    assert session is not None and session.addresses == ("127.0.0.1", "::1")


def test_no_session() -> None:
    text = "No active iSCSI Session for Initiator Endpoint: iqn.1994-05.com.x:ini1\n"
    assert parse_acl_info(text) is None


def test_dynamic_sessions_end_each_with_a_nul_byte() -> None:
    assert parse_dynamic_sessions("") == []
    assert parse_dynamic_sessions("iqn.1994-05.com.x:ini1\n\0") == ["iqn.1994-05.com.x:ini1"]
    # two demo-mode sessions of one name (two open-iscsi ifaces), as the kernel listed them
    assert parse_dynamic_sessions("iqn.2024-01.init:dyn2\n\0iqn.2024-01.init:dyn2\n\0") == [
        "iqn.2024-01.init:dyn2", "iqn.2024-01.init:dyn2"]
