"""Sessions on the emulated kernel: what LIO shows of them, and closing exactly one.

The emulation plays the kernel as observed on Debian 12's 6.1 (``emulation/iscsi_session``);
``tests/system/test_sessions_vm.py`` shows the same outcomes with open-iscsi on the real one.
"""

from __future__ import annotations

import errno

import pytest

from tcmu_scst.lio import IscsiTarget, UserBackstore, create_user_backstore
from tcmu_scst.lio.session_close import close_session
from tcmu_scst.lio.sessions import session_count
from tcmu_scst.lio.snapshot import snapshot
from tcmu_scst.testing.lio import (
    EmulatedConfigfs,
    busy,
    emulated_lio,
    login,
    sessions_of,
    visible_luns,
)

IQN = "iqn.2003-01.org.example:t1"
MEMBER = "iqn.1994-05.com.example:member"
OTHER_MEMBER = "iqn.1994-05.com.example:member2"
GUEST = "iqn.1994-05.com.example:guest"
OTHER_GUEST = "iqn.1994-05.com.example:guest2"
SECOND_ISID = 0x00023D000002


@pytest.fixture
def fs() -> EmulatedConfigfs:
    return emulated_lio()


@pytest.fixture
def target(fs: EmulatedConfigfs) -> IscsiTarget:
    """Demo mode with one LUN, and explicit ACLs for the two members."""
    disk: UserBackstore = create_user_backstore("d0", 0, "vdisk_fileio", "d0", 1 << 20,
                                                configfs=fs)
    target = IscsiTarget(IQN, fs)
    target.create()
    target.add_lun(0, disk)
    target.add_portal()
    target.set_demo_mode(True)
    target.set_params({"InitialR2T": "No", "MaxOutstandingR2T": "32"})
    for member in (MEMBER, OTHER_MEMBER):
        target.add_acl(member, {0: 0})
    target.enable()
    return target


def everyone(fs: EmulatedConfigfs) -> dict[str, int]:
    """Initiator -> session id of every session the kernel holds."""
    for name in (MEMBER, OTHER_MEMBER, GUEST, OTHER_GUEST):
        login(fs, IQN, name)
    return live(fs)


def live(fs: EmulatedConfigfs) -> dict[str, int]:
    return {name: session.session_id
            for name in (MEMBER, OTHER_MEMBER, GUEST, OTHER_GUEST)
            for session in sessions_of(fs, IQN, name)}


def test_what_lio_shows_of_a_session(fs: EmulatedConfigfs, target: IscsiTarget) -> None:
    everyone(fs)
    busy(fs, IQN, MEMBER, 5)
    member = next(session for session in target.sessions() if session.initiator == MEMBER)
    # negotiated with open-iscsi's offer: InitialR2T No and No, MaxOutstandingR2T min(32, 1)
    assert member.negotiated["InitialR2T"] == "No"
    assert member.negotiated["ImmediateData"] == "Yes"
    assert member.negotiated["MaxOutstandingR2T"] == "1"
    assert member.commands == 5 and member.cmdsn_window == 64
    assert member.isid_bytes == bytes.fromhex("00023d000001")
    guests = [session for session in target.sessions() if session.dynamic]
    assert [session.initiator for session in guests] == [GUEST, OTHER_GUEST]
    assert guests[0].negotiated == {} and guests[0].commands is None
    assert fs.read(f"{target.tpg_path}/dynamic_sessions") == f"{GUEST}\n\0{OTHER_GUEST}\n\0"
    assert session_count(fs, target.wwn_path) == 4


def test_only_the_latest_session_of_an_acl_shows(fs: EmulatedConfigfs,
                                                 target: IscsiTarget) -> None:
    first = login(fs, IQN, MEMBER)
    second = login(fs, IQN, MEMBER, isid=SECOND_ISID)
    shown = [session for session in target.sessions() if session.initiator == MEMBER]
    assert [session.session_id for session in shown] == [second] and first != second
    assert session_count(fs, target.wwn_path) == 2
    assert login(fs, IQN, MEMBER, isid=SECOND_ISID)  # same ISID: reinstatement, still two
    assert session_count(fs, target.wwn_path) == 2


def test_cmdsn_depth_ends_the_acls_sessions_when_it_changes(fs: EmulatedConfigfs,
                                                            target: IscsiTarget) -> None:
    everyone(fs)
    depth = target.acl_path(MEMBER) / "cmdsn_depth"
    fs.write(depth, "64")  # the same depth: nothing happens
    assert MEMBER in live(fs)
    fs.write(depth, "0")  # taken as 1, which is a change
    assert fs.read(depth) == "1\n"
    assert set(live(fs)) == {OTHER_MEMBER, GUEST, OTHER_GUEST}
    with pytest.raises(OSError) as refused:
        fs.write(depth, "513")
    assert refused.value.errno == errno.EINVAL


def test_closing_a_members_session_ends_it_and_no_other(fs: EmulatedConfigfs,
                                                        target: IscsiTarget) -> None:
    before = everyone(fs)
    close_session(target, MEMBER)
    assert live(fs) == {name: number for name, number in before.items() if name != MEMBER}
    assert fs.read(target.acl_path(MEMBER) / "cmdsn_depth") == "64\n"  # written back
    again = login(fs, IQN, MEMBER)  # the initiator logs in again, with the old window
    assert sessions_of(fs, IQN, MEMBER)[0].window == 64 and again != before[MEMBER]


def test_closing_a_demo_mode_session_ends_it_and_no_other(fs: EmulatedConfigfs,
                                                          target: IscsiTarget) -> None:
    before = everyone(fs)
    acls = target.acls()
    close_session(target, GUEST)
    assert live(fs) == {name: number for name, number in before.items() if name != GUEST}
    assert target.acls() == acls  # no ACL left behind
    login(fs, IQN, GUEST)  # demo mode lets it in again, with the TPG's LUNs
    assert visible_luns(fs, IQN, GUEST) == {0: (0, False)}


def test_a_second_session_of_a_demo_mode_initiator_is_refused(fs: EmulatedConfigfs,
                                                              target: IscsiTarget) -> None:
    everyone(fs)
    login(fs, IQN, GUEST, isid=SECOND_ISID)
    before, sessions = snapshot(fs), live(fs)
    with pytest.raises(OSError) as refused:
        close_session(target, GUEST)
    assert refused.value.errno == errno.EBUSY and "2 sessions" in str(refused.value)
    assert snapshot(fs) == before and live(fs) == sessions
    assert len(sessions_of(fs, IQN, GUEST)) == 2


def test_a_hidden_second_session_through_an_acl_is_refused(fs: EmulatedConfigfs,
                                                           target: IscsiTarget) -> None:
    everyone(fs)
    login(fs, IQN, OTHER_MEMBER, isid=SECOND_ISID)  # info shows only this one
    before = snapshot(fs)
    for initiator in (MEMBER, OTHER_MEMBER):  # LIO cannot say whose: every ACL close waits
        with pytest.raises(OSError) as refused:
            close_session(target, initiator)
        assert refused.value.errno == errno.EBUSY
        assert "1 session(s) LIO does not show" in str(refused.value)
    assert snapshot(fs) == before and len(sessions_of(fs, IQN, OTHER_MEMBER)) == 2
    close_session(target, GUEST)  # a demo-mode session is its own: closed
    assert GUEST not in live(fs)


def test_no_session_to_close(fs: EmulatedConfigfs, target: IscsiTarget) -> None:
    with pytest.raises(OSError) as refused:
        close_session(target, MEMBER)
    assert refused.value.errno == errno.ENOENT


def test_an_initiator_back_at_once_keeps_its_new_session(fs: EmulatedConfigfs,
                                                         target: IscsiTarget,
                                                         monkeypatch: pytest.MonkeyPatch) -> None:
    """If the initiator logged in again before the old depth is written back, that write
    would end the new session too: the depth stays changed instead."""
    everyone(fs)
    write = fs.write

    def write_then_login(path, text):  # type: ignore[no-untyped-def]
        write(path, text)
        if str(path).endswith("cmdsn_depth"):
            login(fs, IQN, MEMBER)

    monkeypatch.setattr(fs, "write", write_then_login)
    close_session(target, MEMBER)
    monkeypatch.undo()
    assert len(sessions_of(fs, IQN, MEMBER)) == 1
    assert fs.read(target.acl_path(MEMBER) / "cmdsn_depth") == "65\n"
