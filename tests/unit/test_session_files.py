"""``targets/<driver>/<target>/sessions/``: SCST's files from what LIO shows, and force_close.

First over the recording realizer (the tree's own rules), then through the daemon's realizer
on the emulated kernel, where initiators log in with the emulation's player.
"""

from __future__ import annotations

import errno
import stat
from pathlib import Path

import pytest

from tcmu_scst.compat_sysfs.realizer import ConnectionInfo, SessionInfo
from tcmu_scst.compat_sysfs.scst import ScstSystem
from tcmu_scst.compat_sysfs.sessions import scst_sid
from tcmu_scst.daemon.lio_realizer import LioRealizer
from tcmu_scst.testing.lio import EmulatedConfigfs, busy, emulated_lio, login, sessions_of
from tcmu_scst.testing.recording_realizer import RecordingRealizer

from .test_daemon_realizer import FakeSupervisor

IQN = "iqn.2006-10.net.vlnb:tgt"
TARGET = f"/targets/iscsi/{IQN}"
SESSIONS = f"{TARGET}/sessions"
HOST = "iqn.2005-03.org.open-iscsi:cacdcd2520"
MEMBER = "iqn.1994-05.com.example:member"
GUEST = "iqn.1994-05.com.example:guest"
SCST_KEYS = ["DataDigest", "FirstBurstLength", "HeaderDigest", "ImmediateData", "InitialR2T",
             "MaxBurstLength", "MaxOutstandingR2T", "MaxRecvDataSegmentLength",
             "MaxXmitDataSegmentLength"]
OFFER = {"InitialR2T": "No", "ImmediateData": "Yes", "MaxRecvDataSegmentLength": "1048576",
         "MaxXmitDataSegmentLength": "1048576", "MaxBurstLength": "1048576",
         "FirstBurstLength": "65536", "MaxOutstandingR2T": "32",
         "HeaderDigest": "CRC32C,None", "DataDigest": "None", "TargetAlias": "LIO Target"}


def example(scst: ScstSystem, disk: Path) -> None:
    scst.tree.write("/handlers/vdisk_fileio/mgmt", f"add_device disk1 filename={disk}")
    scst.tree.write("/targets/iscsi/mgmt", f"add_target {IQN}")
    scst.tree.write(f"{TARGET}/luns/mgmt", "add disk1 0")
    scst.tree.write(f"{TARGET}/enabled", "1")
    scst.tree.write("/targets/iscsi/enabled", "1")


def refused(scst: ScstSystem, path: str, code: int, words: str = "") -> None:
    with pytest.raises(OSError) as caught:
        scst.tree.write(path, "1")
    assert caught.value.errno == code, caught.value
    assert words in str(caught.value)
    assert scst.tree.read("/last_sysfs_mgmt_res") == f"-{code}\n"


@pytest.fixture
def disk(tmp_path: Path) -> Path:
    path = tmp_path / "disk1"
    path.write_bytes(bytes(1 << 20))
    return path


# --- the tree's rules ---------------------------------------------------------------------

@pytest.fixture
def realizer() -> RecordingRealizer:
    return RecordingRealizer()


@pytest.fixture
def recorded(realizer: RecordingRealizer, disk: Path) -> ScstSystem:
    scst = ScstSystem(realizer)
    example(scst, disk)
    return scst


def full_session(initiator: str = HOST) -> SessionInfo:
    """A group member's session, as the LIO realizer makes it from an ACL's files."""
    return SessionInfo(
        initiator, ("10.170.75.2",), scst_sid(bytes.fromhex("00023d000001"), 1), None,
        (ConnectionInfo("10.170.75.2", 0, "TARG_CONN_STATE_LOGGED_IN"),),
        negotiated={"InitialR2T": "Yes", "MaxOutstandingR2T": "1"}, offered=OFFER,
        commands=3)


def test_the_announcements_session_files(recorded: ScstSystem,
                                         realizer: RecordingRealizer) -> None:
    """The seed's sample tree, less what LIO has no counterpart for."""
    realizer.live_sessions[("iscsi", IQN)] = [full_session()]
    session = f"{SESSIONS}/{HOST}"
    assert recorded.tree.listdir(session) == sorted(
        ["10.170.75.2", *SCST_KEYS, "commands", "force_close", "initiator_name", "luns", "sid"])
    assert recorded.tree.listdir(f"{session}/10.170.75.2") == ["cid", "ip", "state"]
    assert recorded.tree.read(f"{session}/10.170.75.2/cid") == "0\n"
    assert recorded.tree.read(f"{session}/10.170.75.2/state") == "TARG_CONN_STATE_LOGGED_IN\n"
    assert recorded.tree.read(f"{session}/sid") == "10100003d0200\n"
    assert recorded.tree.read(f"{session}/commands") == "3\n"
    # negotiated where LIO shows it, the target's offer otherwise (digests None first)
    assert recorded.tree.read(f"{session}/InitialR2T") == "Yes\n"
    assert recorded.tree.read(f"{session}/MaxOutstandingR2T") == "1\n"
    assert recorded.tree.read(f"{session}/MaxXmitDataSegmentLength") == "1048576\n"
    assert recorded.tree.read(f"{session}/HeaderDigest") == "None,CRC32C\n"
    assert recorded.tree.lookup(f"{session}/force_close").mode == stat.S_IFREG | 0o200
    with pytest.raises(OSError) as caught:
        recorded.tree.read(f"{session}/force_close")
    assert caught.value.errno == errno.EACCES


def test_scst_sid_is_iscsi_scstds_layout() -> None:
    assert scst_sid(bytes([0x80, 1, 2, 3, 4, 5]), 0x1234) == 0x1234_0504_0302_0180


def test_connections_from_one_address_get_suffixes(recorded: ScstSystem,
                                                   realizer: RecordingRealizer) -> None:
    realizer.live_sessions[("iscsi", IQN)] = [SessionInfo(
        HOST, ("10.0.0.1", "10.0.0.1"), connections=(ConnectionInfo("10.0.0.1", 0),
                                                     ConnectionInfo("10.0.0.1", 1)))]
    session = f"{SESSIONS}/{HOST}"
    assert "10.0.0.1_1" in recorded.tree.listdir(session)
    assert recorded.tree.read(f"{session}/10.0.0.1_1/cid") == "1\n"


def test_force_close(recorded: ScstSystem, realizer: RecordingRealizer) -> None:
    realizer.live_sessions[("iscsi", IQN)] = [full_session(), full_session("iqn.x:other")]
    recorded.tree.write(f"{SESSIONS}/{HOST}/force_close", "1")
    assert ("close_session", ("iscsi", IQN, HOST)) in realizer.calls
    assert recorded.tree.listdir(SESSIONS) == ["iqn.x:other"]
    realizer.fail_on["close_session"] = OSError(errno.EBUSY, "two sessions")
    refused(recorded, f"{SESSIONS}/iqn.x:other/force_close", errno.EBUSY, "two sessions")
    assert recorded.tree.listdir(SESSIONS) == ["iqn.x:other"]


def test_force_close_of_an_scst_local_session_removes_it(recorded: ScstSystem,
                                                         realizer: RecordingRealizer) -> None:
    """As SCST's scst_local: the session (the local SCSI host) is gone, not reconnected."""
    recorded.tree.write("/targets/scst_local/mgmt", "add_target local1 session_name=s1")
    sessions = "/targets/scst_local/local1/sessions"
    assert recorded.tree.listdir(f"{sessions}/s1") == ["force_close", "initiator_name", "luns"]
    recorded.tree.write(f"{sessions}/s1/force_close", "1")
    assert ("remove_local_session", ("local1", "s1")) in realizer.calls
    assert recorded.tree.listdir(sessions) == []
    assert "local1" in recorded.tree.listdir("/targets/scst_local")


# --- on the emulated kernel -----------------------------------------------------------------

@pytest.fixture
def fs() -> EmulatedConfigfs:
    return emulated_lio()


@pytest.fixture
def daemon(fs: EmulatedConfigfs, disk: Path) -> ScstSystem:
    """The example with a group ``hosts`` holding MEMBER (an explicit ACL in LIO); both
    MEMBER and GUEST (demo mode) logged in with open-iscsi's offer."""
    scst = ScstSystem(LioRealizer(configfs=fs, supervisor=FakeSupervisor()))  # type: ignore[arg-type]
    example(scst, disk)
    scst.tree.write(f"{TARGET}/ini_groups/mgmt", "create hosts")
    scst.tree.write(f"{TARGET}/ini_groups/hosts/initiators/mgmt", f"add {MEMBER}")
    scst.tree.write(f"{TARGET}/ini_groups/hosts/luns/mgmt", "add disk1 0")
    login(fs, IQN, MEMBER, "192.0.2.7")
    login(fs, IQN, GUEST, "192.0.2.8")
    return scst


def test_a_members_session_from_the_acls_files(daemon: ScstSystem,
                                               fs: EmulatedConfigfs) -> None:
    busy(fs, IQN, MEMBER, 7)
    member = f"{SESSIONS}/{MEMBER}"
    session = sessions_of(fs, IQN, MEMBER)[0]
    isid = session.isid.to_bytes(6, "big")
    assert daemon.tree.read(f"{member}/sid") == f"{scst_sid(isid, session.tsih):x}\n"
    assert daemon.tree.read(f"{member}/commands") == "7\n"
    assert daemon.tree.lookup(f"{member}/luns").target == "../../ini_groups/hosts/luns"
    assert daemon.tree.read(f"{member}/192.0.2.7/ip") == "192.0.2.7\n"
    # negotiated: the target's MaxOutstandingR2T 32 against open-iscsi's 1
    assert daemon.tree.read(f"{member}/MaxOutstandingR2T") == "1\n"
    assert daemon.tree.read(f"{member}/InitialR2T") == "No\n"
    assert daemon.tree.read(f"{member}/MaxRecvDataSegmentLength") == "1048576\n"  # offer


def test_a_demo_mode_session_shows_the_offer(daemon: ScstSystem) -> None:
    guest = f"{SESSIONS}/{GUEST}"
    entries = daemon.tree.listdir(guest)
    assert "sid" not in entries and "commands" not in entries
    assert {"force_close", "initiator_name", "luns", *SCST_KEYS} <= set(entries)
    assert daemon.tree.read(f"{guest}/MaxOutstandingR2T") == "32\n"


def test_force_close_on_the_kernel(daemon: ScstSystem, fs: EmulatedConfigfs) -> None:
    daemon.tree.write(f"{SESSIONS}/{MEMBER}/force_close", "1")
    assert sessions_of(fs, IQN, MEMBER) == [] and len(sessions_of(fs, IQN, GUEST)) == 1
    assert daemon.tree.listdir(SESSIONS) == [GUEST]
    login(fs, IQN, MEMBER, "192.0.2.7")  # the initiator comes back: a new session
    daemon.tree.write(f"{SESSIONS}/{GUEST}/force_close", "1")
    assert sessions_of(fs, IQN, GUEST) == [] and len(sessions_of(fs, IQN, MEMBER)) == 1
    login(fs, IQN, GUEST, "192.0.2.8")
    login(fs, IQN, GUEST, "192.0.2.9", isid=0x00023D000002)
    assert sorted(daemon.tree.listdir(SESSIONS)) == [GUEST, f"{GUEST}_1", MEMBER]
    refused(daemon, f"{SESSIONS}/{GUEST}_1/force_close", errno.EBUSY,
            "log the others out on the initiator first")
    assert len(sessions_of(fs, IQN, GUEST)) == 2


def test_a_closed_outsider_of_an_acl_only_target_stays_out(daemon: ScstSystem,
                                                           fs: EmulatedConfigfs,
                                                           tmp_path: Path) -> None:
    """GUEST logged in while the target was exact in demo mode; a group-only device then
    makes it acl-only, which leaves GUEST's session as it was.  Closed, it cannot return."""
    (tmp_path / "disk2").write_bytes(bytes(1 << 20))
    daemon.tree.write("/handlers/vdisk_fileio/mgmt", f"add_device disk2 filename={tmp_path}/disk2")
    daemon.tree.write(f"{TARGET}/ini_groups/hosts/luns/mgmt", "add disk2 1")
    assert daemon.tree.read(f"{TARGET}/access_mode") == "acl-only\n"
    assert GUEST in daemon.tree.listdir(SESSIONS)
    daemon.tree.write(f"{SESSIONS}/{GUEST}/force_close", "1")
    assert sessions_of(fs, IQN, GUEST) == []
    with pytest.raises(PermissionError):
        login(fs, IQN, GUEST, "192.0.2.8")
