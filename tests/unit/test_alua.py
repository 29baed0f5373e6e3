"""ALUA answers of a device in a device group: INQUIRY's TPGS bits, VPD 0x83's port
designators per ring, REPORT TARGET PORT GROUPS, and the view the daemon sends."""

from __future__ import annotations

import errno
from collections.abc import Iterator

import pytest

from tcmu_scst.compat_sysfs.realizer import ALUA_STATES
from tcmu_scst.handlers import vdisk_nullio
from tcmu_scst.handlers.alua import (
    ALUA_ATTRIBUTE,
    PROTOCOL_ISCSI,
    STATE_CODES,
    AluaView,
    PortGroup,
    TargetPort,
)
from tests.unit.scsi_harness import Harness, sense_of

VIEW = AluaView((PortGroup(1, "active", True, (1,)),
                 PortGroup(2, "standby", False, (2, 7)),
                 PortGroup(3, "offline", False, ())))


@pytest.fixture
def disk() -> Iterator[Harness]:
    harness = Harness(vdisk_nullio.DECLARATION.build("n1", {"size_mb": "1"}))
    yield harness
    harness.close()


def rtpg(extended: bool = False, allocation: int = 1024) -> bytes:
    return bytes([0xA3, 0x0A | (0x20 if extended else 0), 0, 0, 0, 0]) + \
        allocation.to_bytes(4, "big") + bytes(2)


def designators(page: bytes) -> dict[int, bytes]:
    """VPD 0x83's designators by type (the last of a type wins)."""
    found, offset = {}, 4
    while offset < len(page):
        length = page[offset + 3]
        found[page[offset + 1] & 0x0F] = page[offset:offset + 4 + length]
        offset += 4 + length
    return found


def vpd83(disk: Harness) -> bytes:
    return disk(bytes([0x12, 0x01, 0x83, 0x01, 0x00, 0x00]), data_in_length=256).data_in


def test_outside_a_device_group_nothing_is_claimed(disk: Harness) -> None:
    standard = disk(bytes([0x12, 0, 0, 0, 96, 0]), data_in_length=96).data_in
    assert standard[5] & 0x30 == 0
    assert not {4, 5} & set(designators(vpd83(disk)))
    assert sense_of(disk(rtpg())) == (0x05, 0x24, 0x00)


def test_tpgs_says_implicit_only(disk: Harness) -> None:
    disk.device.set_attribute(ALUA_ATTRIBUTE, VIEW.to_json())
    standard = disk(bytes([0x12, 0, 0, 0, 96, 0]), data_in_length=96).data_in
    assert standard[5] & 0x30 == 0x10


def test_each_ring_reports_its_own_port_and_group(disk: Harness) -> None:
    disk.device.set_attribute(ALUA_ATTRIBUTE, VIEW.to_json())
    disk.ring.port = TargetPort(7, PROTOCOL_ISCSI)
    found = designators(vpd83(disk))
    # PIV=1, association target port, iSCSI protocol identifier, binary code set
    assert found[4] == bytes([0x51, 0x94, 0, 4, 0, 0, 0, 7])
    assert found[5] == bytes([0x51, 0x95, 0, 4, 0, 0, 0, 2])
    disk.ring.port = TargetPort(1, PROTOCOL_ISCSI)
    assert designators(vpd83(disk))[5][-2:] == b"\x00\x01"
    # a port in no group: its relative port only; an id not given yet: nothing
    disk.ring.port = TargetPort(9, PROTOCOL_ISCSI)
    assert set(designators(vpd83(disk))) & {4, 5} == {4}
    disk.ring.port = TargetPort(0, PROTOCOL_ISCSI)
    assert not set(designators(vpd83(disk))) & {4, 5}


def test_report_target_port_groups_lists_every_group_and_port(disk: Harness) -> None:
    disk.device.set_attribute(ALUA_ATTRIBUTE, VIEW.to_json())
    data = disk(rtpg(), data_in_length=1024).data_in
    assert int.from_bytes(data[0:4], "big") == len(data) - 4
    first, second, third = data[4:16], data[16:32], data[32:40]
    assert first == bytes([0x80, 0xCF, 0, 1, 0, 0, 0, 1, 0, 0, 0, 1])
    assert second[:8] == bytes([0x02, 0xCF, 0, 2, 0, 0, 0, 2])
    assert second[8:] == bytes([0, 0, 0, 2, 0, 0, 0, 7])
    assert third == bytes([0x0E, 0xCF, 0, 3, 0, 0, 0, 0])
    assert len(data) == 40


def test_extended_header_and_allocation_length(disk: Harness) -> None:
    disk.device.set_attribute(ALUA_ATTRIBUTE, VIEW.to_json())
    data = disk(rtpg(extended=True), data_in_length=1024).data_in
    assert data[4] == 0x10 and int.from_bytes(data[0:4], "big") == len(data) - 4 == 40
    cut = disk(rtpg(allocation=6), data_in_length=1024)
    assert cut.data_in == data[:6] or len(cut.data_in) == 6


def test_set_target_port_groups_is_refused(disk: Harness) -> None:
    """States change through the tree only (TPGS says implicit)."""
    disk.device.set_attribute(ALUA_ATTRIBUTE, VIEW.to_json())
    parameters = bytes(4) + bytes([0x00, 0, 0, 2])
    stpg = bytes([0xA4, 0x0A, 0, 0, 0, 0]) + len(parameters).to_bytes(4, "big") + bytes(2)
    assert sense_of(disk(stpg, data_out=parameters))[0] == 0x05


def test_view_leaves_with_the_empty_value(disk: Harness) -> None:
    disk.device.set_attribute(ALUA_ATTRIBUTE, VIEW.to_json())
    disk.device.set_attribute(ALUA_ATTRIBUTE, "")
    assert disk.device.alua is None


@pytest.mark.parametrize("text", ["{}", "[[1, \"sleepy\", false, []]]",
                                  "[[70000, \"active\", false, []]]",
                                  "[[1, \"active\", false, [0]]]", "not json"])
def test_a_malformed_view_is_refused_and_the_old_one_kept(disk: Harness, text: str) -> None:
    disk.device.set_attribute(ALUA_ATTRIBUTE, VIEW.to_json())
    with pytest.raises(OSError) as refused:
        disk.device.set_attribute(ALUA_ATTRIBUTE, text)
    assert refused.value.errno == errno.EINVAL
    assert disk.device.alua == VIEW


def test_view_round_trips_through_json() -> None:
    assert AluaView.from_json(VIEW.to_json()) == VIEW


def test_every_state_the_tree_offers_has_an_spc_code() -> None:
    assert tuple(STATE_CODES) == ALUA_STATES
