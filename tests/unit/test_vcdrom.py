"""The vcdrom handler: every MMC command it answers, media changes, unit attention, eject."""

from __future__ import annotations

import errno
from collections.abc import Iterator
from pathlib import Path

import pytest

from tcmu_scst.handlers import vcdrom
from tcmu_scst.handlers.mmc import msf
from tcmu_scst.handlers.outcome import DEFERRED_TYPE
from tcmu_scst.handlers.registry import open_scsi_device
from tcmu_scst.handlers.spc_opcodes import supported_commands
from tcmu_scst.handlers.vcdrom import CdromDevice
from tests.unit.scsi_harness import Harness, sense_of

BLOCK = 2048
TUR = bytes(6)
NOT_PRESENT = (2, 0x3A, 0)
MEDIUM_CHANGED = (6, 0x28, 0)


def be(value: int, width: int) -> bytes:
    return value.to_bytes(width, "big")


def make_image(path: Path, blocks: int, seed: int, tail: int = 0) -> bytes:
    """Blocks whose bytes say which image and block they are (plus ``tail`` odd bytes)."""
    data = b"".join(bytes([seed, block & 0xFF]) * (BLOCK // 2) for block in range(blocks))
    data += bytes(tail)
    path.write_bytes(data)
    return data


def read10(lba: int, blocks: int) -> bytes:
    return bytes([0x28, 0]) + be(lba, 4) + bytes([0]) + be(blocks, 2) + bytes([0])


def read12(lba: int, blocks: int) -> bytes:
    return bytes([0xA8, 0]) + be(lba, 4) + be(blocks, 4) + bytes(2)


def read_capacity() -> bytes:
    return bytes([0x25]) + bytes(9)


def get_configuration(rt: int, start: int = 0, allocation: int = 512) -> bytes:
    return bytes([0x46, rt]) + be(start, 2) + bytes(3) + be(allocation, 2) + bytes([0])


def read_toc(form: int = 0, track: int = 0, as_msf: bool = False, allocation: int = 512,
             control: int = 0) -> bytes:
    return bytes([0x43, 0x02 if as_msf else 0, form, 0, 0, 0, track]) + be(allocation, 2) + \
        bytes([control])


def gesn(classes: int = 0x10, polled: bool = True, allocation: int = 8) -> bytes:
    return bytes([0x4A, 1 if polled else 0, 0, 0, classes, 0, 0]) + be(allocation, 2) + bytes(1)


def disc_info(data_type: int = 0, allocation: int = 34) -> bytes:
    return bytes([0x51, data_type]) + bytes(5) + be(allocation, 2) + bytes(1)


def track_info(address_type: int, number: int, allocation: int = 48) -> bytes:
    return bytes([0x52, address_type]) + be(number, 4) + bytes(1) + be(allocation, 2) + bytes(1)


def start_stop(loej: bool, start: bool) -> bytes:
    return bytes([0x1B, 0, 0, 0, (0x02 if loej else 0) | (0x01 if start else 0), 0])


def prevent(value: int) -> bytes:
    return bytes([0x1E, 0, 0, 0, value, 0])


def mode_sense_10(page: int, control: int = 0, allocation: int = 255) -> bytes:
    return bytes([0x5A, 0, (control << 6) | page, 0, 0, 0, 0]) + be(allocation, 2) + bytes(1)


@pytest.fixture
def images(tmp_path: Path) -> dict[str, tuple[Path, bytes]]:
    a, b = tmp_path / "a.iso", tmp_path / "b.iso"
    return {"a": (a, make_image(a, 40, 0xA1)), "b": (b, make_image(b, 25, 0xB2, tail=100))}


@pytest.fixture
def cd() -> Iterator[Harness]:
    harness = Harness(open_scsi_device("vcdrom", "cd01", {}))
    yield harness
    harness.close()


def device_of(harness: Harness) -> CdromDevice:
    assert isinstance(harness.device, CdromDevice)
    return harness.device


def insert(harness: Harness, path: Path) -> None:
    """Insert a disc and consume the unit attention it raises."""
    device_of(harness).set_attribute("filename", str(path))
    assert sense_of(harness(TUR)) == MEDIUM_CHANGED
    assert harness(TUR).status == 0


def test_inquiry_is_a_removable_cdrom_with_scst_identity(cd: Harness) -> None:
    data = cd(bytes([0x12, 0, 0, 0, 96, 0]), data_in_length=96).data_in
    assert data is not None
    assert data[0] == 0x05 and data[1] & 0x80
    assert data[8:16] == b"SCST_FIO" and data[16:32] == b"cd01".ljust(16)
    assert data[58:64] == bytes([0x00, 0xA0, 0x04, 0x60, 0x04, 0x20])  # SAM-5, SPC-4, MMC-5
    serial = cd(bytes([0x12, 1, 0x80, 0, 64, 0]), data_in_length=64).data_in
    assert serial is not None and serial[0] == 0x05


def test_params_override_identity() -> None:
    device = vcdrom.create("cd9", {"t10_vend_id": "ACME", "prod_id": "DISC"})
    assert device.identity.vendor == "ACME" and device.identity.product == "DISC"
    assert not device.ready and device.filename is None


def test_empty_drive_reports_medium_not_present(cd: Harness) -> None:
    assert sense_of(cd(TUR)) == NOT_PRESENT
    assert sense_of(cd(read_capacity(), data_in_length=8)) == NOT_PRESENT
    assert sense_of(cd(read10(0, 1), data_in_length=BLOCK)) == NOT_PRESENT
    assert sense_of(cd(read_toc(), data_in_length=512)) == NOT_PRESENT
    assert sense_of(cd(disc_info(), data_in_length=34)) == NOT_PRESENT
    assert sense_of(cd(track_info(1, 1), data_in_length=48)) == NOT_PRESENT
    sense = cd(bytes([0x03, 0, 0, 0, 18, 0]), data_in_length=18)
    assert sense.status == 0 and sense.data_in is not None
    assert (sense.data_in[2], sense.data_in[12], sense.data_in[13]) == NOT_PRESENT
    # what works without a disc
    assert cd(mode_sense_10(0x2A), data_in_length=255).status == 0
    assert cd(bytes([0xBD]) + bytes(7) + be(8, 2) + bytes(2), data_in_length=8).status == 0


def test_media_change_raises_one_unit_attention(cd: Harness, images: dict) -> None:
    path, _ = images["a"]
    device_of(cd).change_media(str(path))
    # neither INQUIRY, GET CONFIGURATION nor GET EVENT STATUS report or clear it
    assert cd(bytes([0x12, 0, 0, 0, 36, 0]), data_in_length=36).status == 0
    assert cd(get_configuration(0), data_in_length=512).status == 0
    assert cd(gesn(), data_in_length=8).status == 0
    assert sense_of(cd(read_capacity(), data_in_length=8)) == MEDIUM_CHANGED
    assert cd(read_capacity(), data_in_length=8).status == 0
    assert cd(TUR).status == 0


def test_unit_attention_comes_before_an_unknown_opcode(cd: Harness, images: dict) -> None:
    device_of(cd).change_media(str(images["a"][0]))
    assert sense_of(cd(bytes([0xFF, 0, 0, 0, 0, 0]))) == MEDIUM_CHANGED
    assert sense_of(cd(bytes([0xFF, 0, 0, 0, 0, 0]))) == (5, 0x20, 0)


def test_request_sense_reports_and_clears_the_unit_attention(cd: Harness, images: dict) -> None:
    device_of(cd).change_media(str(images["a"][0]))
    reply = cd(bytes([0x03, 0, 0, 0, 18, 0]), data_in_length=18)
    assert reply.status == 0 and reply.data_in is not None
    assert (reply.data_in[2], reply.data_in[12], reply.data_in[13]) == MEDIUM_CHANGED
    assert cd(TUR).status == 0
    reply = cd(bytes([0x03, 0, 0, 0, 18, 0]), data_in_length=18)
    assert reply.data_in is not None and reply.data_in[2] == 0  # NO SENSE
    assert sense_of(cd(bytes([0x03, 1, 0, 0, 18, 0]), data_in_length=18)) == (5, 0x24, 0)


def test_reads_return_the_image(cd: Harness, images: dict) -> None:
    path, data = images["a"]
    insert(cd, path)
    reply = cd(read_capacity(), data_in_length=8)
    assert reply.data_in == be(39, 4) + be(BLOCK, 4)
    reply = cd(read10(3, 4), data_in_length=4 * BLOCK)
    assert reply.status == 0 and reply.data_in == data[3 * BLOCK : 7 * BLOCK]
    reply = cd(read12(39, 1), data_in_length=BLOCK)
    assert reply.data_in == data[39 * BLOCK :]
    assert sense_of(cd(read10(39, 2), data_in_length=2 * BLOCK)) == (5, 0x21, 0)
    assert sense_of(cd(read12(40, 1), data_in_length=BLOCK)) == (5, 0x21, 0)


def test_partial_last_block_is_not_part_of_the_disc(cd: Harness, images: dict) -> None:
    insert(cd, images["b"][0])  # 25 blocks and 100 bytes
    assert cd(read_capacity(), data_in_length=8).data_in == be(24, 4) + be(BLOCK, 4)


def test_writes_are_refused(cd: Harness, images: dict) -> None:
    write10 = bytes([0x2A, 0, 0, 0, 0, 0, 0, 0, 1, 0])
    assert sense_of(cd(write10, data_out=bytes(BLOCK))) == NOT_PRESENT
    insert(cd, images["a"][0])
    assert sense_of(cd(write10, data_out=bytes(BLOCK))) == (7, 0x27, 0)
    write12 = bytes([0xAA, 0, 0, 0, 0, 0, 0, 0, 0, 1, 0, 0])
    assert sense_of(cd(write12, data_out=bytes(BLOCK))) == (7, 0x27, 0)
    assert sense_of(cd(bytes([0x2E, 0, 0, 0, 0, 0, 0, 0, 1, 0]), data_out=bytes(BLOCK))) == (
        7, 0x27, 0)
    assert sense_of(cd(bytes([0x0A, 0, 0, 0, 1, 0]), data_out=bytes(BLOCK))) == (5, 0x20, 0)
    assert sense_of(cd(bytes([0x8A]) + bytes(15), data_out=bytes(BLOCK))) == (5, 0x20, 0)


def _features(data: bytes) -> list[int]:
    codes, position = [], 8
    while position < len(data):
        codes.append(int.from_bytes(data[position : position + 2], "big"))
        position += 4 + data[position + 3]
    return codes


def test_get_configuration_profiles_and_features(cd: Harness, images: dict) -> None:
    empty = cd(get_configuration(0), data_in_length=512).data_in
    assert empty is not None and empty[6:8] == be(0, 2)  # no current profile
    assert _features(empty) == [0x0000, 0x0001, 0x0002, 0x0003, 0x0010, 0x001E]
    assert empty[12:16] == bytes([0x00, 0x08, 0x00, 0x00])  # CD-ROM profile, not current
    current = cd(get_configuration(1), data_in_length=512).data_in
    assert current is not None and _features(current) == [0x0000, 0x0001, 0x0002, 0x0003]
    insert(cd, images["a"][0])
    loaded = cd(get_configuration(0), data_in_length=512).data_in
    assert loaded is not None
    assert int.from_bytes(loaded[0:4], "big") == len(loaded) - 4
    assert loaded[6:8] == be(0x0008, 2) and loaded[14] & 0x01  # CD-ROM current
    core = loaded[16:28]
    assert core[:4] == bytes([0x00, 0x01, 0x0B, 0x08]) and core[4:8] == be(1, 4)
    current = cd(get_configuration(1), data_in_length=512).data_in
    assert current is not None and _features(current)[-2:] == [0x0010, 0x001E]
    from_random = cd(get_configuration(0, 0x10), data_in_length=512).data_in
    assert from_random is not None and _features(from_random) == [0x0010, 0x001E]
    assert from_random[8:12] == bytes([0x00, 0x10, 0x01, 0x08])  # version 0, current
    assert from_random[12:16] == be(BLOCK, 4)
    one = cd(get_configuration(2, 0x1E), data_in_length=512).data_in
    assert one is not None and _features(one) == [0x001E]
    assert one[10] == 0x09  # version 2, current
    missing = cd(get_configuration(2, 0x1F), data_in_length=512).data_in
    assert missing == be(4, 4) + bytes(2) + be(0x0008, 2)
    assert sense_of(cd(get_configuration(3), data_in_length=512)) == (5, 0x24, 0)


def test_get_configuration_is_cut_to_the_allocation_length(cd: Harness) -> None:
    reply = cd(get_configuration(0, allocation=8), data_in_length=512)
    assert reply.data_in is not None and len(reply.data_in) == 8
    assert reply.residual == 512 - 8
    assert int.from_bytes(reply.data_in[0:4], "big") > 4  # says how much there would be
    reply = cd(get_configuration(0, allocation=0), data_in_length=512)
    assert reply.status == 0 and reply.data_in == bytes(512)  # nothing sent: zeros, no stale


def test_read_toc_format_0(cd: Harness, images: dict) -> None:
    insert(cd, images["a"][0])
    toc = cd(read_toc(), data_in_length=512).data_in
    assert toc == be(18, 2) + bytes([1, 1]) + bytes([0, 0x14, 1, 0]) + be(0, 4) + \
        bytes([0, 0x14, 0xAA, 0]) + be(40, 4)
    toc = cd(read_toc(as_msf=True), data_in_length=512).data_in
    assert toc is not None and toc[8:12] == bytes([0, 0, 2, 0])  # 00:02:00
    assert toc[16:20] == msf(40) == bytes([0, 0, 2, 40])
    lead_out = cd(read_toc(track=0xAA), data_in_length=512).data_in
    assert lead_out == be(10, 2) + bytes([1, 1, 0, 0x14, 0xAA, 0]) + be(40, 4)
    assert cd(read_toc(track=1), data_in_length=512).data_in == toc_lba(cd)
    assert sense_of(cd(read_toc(track=2), data_in_length=512)) == (5, 0x24, 0)
    short = cd(read_toc(allocation=4), data_in_length=512)
    assert short.data_in == be(18, 2) + bytes([1, 1]) and short.residual == 508


def toc_lba(cd: Harness) -> bytes | None:
    return cd(read_toc(), data_in_length=512).data_in


def test_read_toc_session_information(cd: Harness, images: dict) -> None:
    insert(cd, images["a"][0])
    expected = be(10, 2) + bytes([1, 1, 0, 0x14, 1, 0]) + be(0, 4)
    assert cd(read_toc(form=1), data_in_length=12).data_in == expected
    # the pre-MMC way Linux asks: format in the top bits of the CONTROL byte
    assert cd(read_toc(control=0x40, allocation=12), data_in_length=12).data_in == expected
    assert cd(read_toc(form=1, as_msf=True), data_in_length=12).data_in == \
        expected[:8] + bytes([0, 0, 2, 0])
    assert sense_of(cd(read_toc(form=2), data_in_length=512)) == (5, 0x24, 0)
    assert sense_of(cd(read_toc(control=0x80), data_in_length=512)) == (5, 0x24, 0)


def test_msf_conversion() -> None:
    assert msf(0) == bytes([0, 0, 2, 0])
    assert msf(75 * 60 - 150) == bytes([0, 1, 0, 0])
    assert msf(10**9) == bytes([0, 255, 59, 74])  # clamped


def test_read_disc_information(cd: Harness, images: dict) -> None:
    insert(cd, images["a"][0])
    info = cd(disc_info(), data_in_length=34).data_in
    assert info is not None and len(info) == 34
    assert info[0:2] == be(32, 2) and info[2] == 0x0E
    assert list(info[3:7]) == [1, 1, 1, 1] and info[8] == 0
    short = cd(disc_info(allocation=2), data_in_length=34)
    assert short.data_in == be(32, 2) and short.residual == 32
    assert sense_of(cd(disc_info(data_type=1), data_in_length=34)) == (5, 0x24, 0)


def test_read_track_information(cd: Harness, images: dict) -> None:
    insert(cd, images["a"][0])
    by_track = cd(track_info(1, 1), data_in_length=48).data_in
    assert by_track is not None and len(by_track) == 48
    assert by_track[0:2] == be(46, 2) and by_track[2] == 1 and by_track[3] == 1
    assert by_track[5] == 0x04 and by_track[6] == 0x01
    assert by_track[8:12] == be(0, 4) and by_track[24:28] == be(40, 4)
    assert cd(track_info(0, 39), data_in_length=48).data_in == by_track
    assert cd(track_info(2, 1), data_in_length=48).data_in == by_track
    assert sense_of(cd(track_info(0, 40), data_in_length=48)) == (5, 0x21, 0)
    assert sense_of(cd(track_info(1, 2), data_in_length=48)) == (5, 0x24, 0)
    assert sense_of(cd(track_info(1, 0), data_in_length=48)) == (5, 0x24, 0)
    assert sense_of(cd(track_info(3, 1), data_in_length=48)) == (5, 0x24, 0)


def test_event_status_reports_each_media_event_once(cd: Harness, images: dict) -> None:
    quiet = cd(gesn(), data_in_length=8).data_in
    assert quiet == be(6, 2) + bytes([4, 0x50]) + bytes([0, 0, 0, 0])  # no disc, no event
    device_of(cd).change_media(str(images["a"][0]))
    assert cd(gesn(), data_in_length=8).data_in == be(6, 2) + bytes([4, 0x50, 2, 2, 0, 0])
    assert cd(gesn(), data_in_length=8).data_in == be(6, 2) + bytes([4, 0x50, 0, 2, 0, 0])
    device_of(cd).change_media("")
    assert cd(gesn(), data_in_length=8).data_in == be(6, 2) + bytes([4, 0x50, 3, 0, 0, 0])


def test_event_status_classes_and_bad_requests(cd: Harness) -> None:
    none = cd(gesn(classes=0x02), data_in_length=8).data_in  # operational change: not offered
    assert none == be(2, 2) + bytes([0x80, 0x50])
    busy = cd(gesn(classes=0x40), data_in_length=8).data_in
    assert busy == be(6, 2) + bytes([6, 0x50, 0, 0, 0, 0])
    assert cd(gesn(classes=0x50), data_in_length=8).data_in[2] == 4  # type: ignore[index]
    short = cd(gesn(allocation=4), data_in_length=8)
    assert short.data_in == be(6, 2) + bytes([4, 0x50])
    reply = cd(gesn(polled=False), data_in_length=8)
    assert sense_of(reply) == (5, 0x24, 0) and reply.sense[15:18] == bytes([0xC8, 0, 1])


def test_mechanism_status_follows_the_tray(cd: Harness, images: dict) -> None:
    status = bytes([0xBD]) + bytes(7) + be(8, 2) + bytes(2)
    assert cd(status, data_in_length=8).data_in == bytes(8)
    insert(cd, images["a"][0])
    assert cd(start_stop(loej=True, start=False)).status == 0
    assert cd(status, data_in_length=8).data_in == bytes([0, 0x10]) + bytes(6)
    assert cd(bytes([0xBD]) + bytes(7) + be(2, 2) + bytes(2), data_in_length=8).data_in == \
        bytes([0, 0x10])


def test_start_stop_ejects_and_reloads_unless_prevented(cd: Harness, images: dict) -> None:
    path, data = images["a"]
    insert(cd, path)
    assert cd(prevent(1)).status == 0
    assert sense_of(cd(start_stop(loej=True, start=False))) == (5, 0x53, 0x02)
    assert cd(prevent(0)).status == 0
    assert cd(start_stop(loej=False, start=False)).status == 0  # stop: no effect
    assert cd(TUR).status == 0
    assert cd(start_stop(loej=True, start=False)).status == 0
    assert sense_of(cd(TUR)) == (2, 0x3A, 0x02)  # tray open
    assert device_of(cd).filename is None
    assert cd(gesn(), data_in_length=8).data_in == be(6, 2) + bytes([4, 0x50, 3, 1, 0, 0])
    assert cd(start_stop(loej=True, start=True)).status == 0  # the same disc comes back
    assert sense_of(cd(TUR)) == MEDIUM_CHANGED
    assert cd(read10(5, 1), data_in_length=BLOCK).data_in == data[5 * BLOCK : 6 * BLOCK]
    assert device_of(cd).filename == str(path)
    assert sense_of(cd(prevent(3))) == (5, 0x24, 0)


def test_prevented_removal_refuses_media_changes(cd: Harness, images: dict) -> None:
    insert(cd, images["a"][0])
    assert cd(prevent(1)).status == 0
    for value in (str(images["b"][0]), ""):
        with pytest.raises(OSError) as refused:
            device_of(cd).set_attribute("filename", value)
        assert refused.value.errno == errno.EBUSY
    assert cd(TUR).status == 0  # the disc stayed, no attention
    assert cd(prevent(0)).status == 0
    device_of(cd).set_attribute("filename", str(images["b"][0]))
    assert sense_of(cd(TUR)) == MEDIUM_CHANGED


def test_swap_and_eject(cd: Harness, images: dict) -> None:
    insert(cd, images["a"][0])
    path, data = images["b"]
    device_of(cd).set_attribute("filename", f"  {path}\n")  # trimmed like the sysfs file
    assert sense_of(cd(read10(0, 1), data_in_length=BLOCK)) == MEDIUM_CHANGED
    assert cd(read10(0, 1), data_in_length=BLOCK).data_in == data[:BLOCK]
    assert cd(read_capacity(), data_in_length=8).data_in == be(24, 4) + be(BLOCK, 4)
    device_of(cd).set_attribute("filename", "")
    assert device_of(cd).filename is None
    assert sense_of(cd(TUR)) == NOT_PRESENT


def test_bad_media_changes_keep_the_disc(cd: Harness, images: dict, tmp_path: Path) -> None:
    insert(cd, images["a"][0])
    device = device_of(cd)
    for value, code in (("a.iso", errno.EINVAL), (str(tmp_path / "none.iso"), errno.ENOENT),
                        (str(tmp_path), errno.EINVAL)):
        with pytest.raises(OSError) as refused:
            device.set_attribute("filename", value)
        assert refused.value.errno == code, value
    assert device.filename == str(images["a"][0])
    assert cd(TUR).status == 0
    with pytest.raises(OSError) as refused:
        device.set_attribute("size", "4096")
    assert refused.value.errno == errno.EINVAL


def test_created_with_a_disc_starts_without_attention(images: dict) -> None:
    path, data = images["a"]
    harness = Harness(open_scsi_device("vcdrom", "cd02", {"filename": str(path)}))
    try:
        assert harness(TUR).status == 0
        assert harness(read10(0, 1), data_in_length=BLOCK).data_in == data[:BLOCK]
        assert harness(gesn(), data_in_length=8).data_in[4] == 0  # type: ignore[index]
    finally:
        harness.close()


def test_a_disc_that_cannot_be_opened_leaves_the_drive_empty(tmp_path: Path) -> None:
    device = vcdrom.create("cd03", {"filename": str(tmp_path / "gone.iso")})
    assert not device.ready and device.filename is None and device.unit_attention is None


def test_a_read_in_flight_finishes_on_the_disc_it_was_issued_for(cd: Harness,
                                                                  images: dict) -> None:
    """The old image stays open for a read still running when the disc changes."""
    path, data = images["a"]
    insert(cd, path)
    cd.emulator.submit(read10(2, 2), data_in_length=2 * BLOCK)
    [command] = cd.ring.fetch()
    backend = device_of(cd).backend
    assert backend is not None
    read_now = backend.read

    def read_needing_a_thread(views, offset, length, nowait):  # the data is not cached
        if nowait:
            raise BlockingIOError
        read_now(views, offset, length, nowait)

    backend.read = read_needing_a_thread  # type: ignore[method-assign]
    deferred = cd.device.execute(command)
    assert type(deferred) is DEFERRED_TYPE
    device_of(cd).set_attribute("filename", str(images["b"][0]))
    outcome = deferred(False)  # type: ignore[operator]
    command.complete(*outcome)
    cd.ring.flush()
    [completion] = cd.emulator.reap()
    assert completion.status == 0 and completion.data_in == data[2 * BLOCK : 4 * BLOCK]


def test_mode_sense_capabilities_page(cd: Harness, images: dict) -> None:
    reply = cd(mode_sense_10(0x2A), data_in_length=255).data_in
    assert reply is not None
    assert reply[6:8] == be(0, 2)  # no block descriptor
    page = reply[8:]
    assert page[0] == 0x2A and page[1] == len(page) - 2
    assert page[3] == 0  # writes nothing
    assert page[6] == 0x29  # tray, eject, lock; not locked
    assert int.from_bytes(page[8:10], "big") // 176 == 40
    assert cd(prevent(1)).status == 0
    locked = cd(mode_sense_10(0x2A), data_in_length=255).data_in
    assert locked is not None and locked[8 + 6] == 0x2B
    every = cd(mode_sense_10(0x3F), data_in_length=255).data_in
    assert every is not None and [every[8], every[8 + 12], every[8 + 20]] == [0x01, 0x0D, 0x2A]
    changeable = cd(mode_sense_10(0x2A, control=1), data_in_length=255).data_in
    assert changeable is not None and changeable[10:] == bytes(len(changeable) - 10)
    six = cd(bytes([0x1A, 0, 0x2A, 0, 255, 0]), data_in_length=255).data_in
    assert six is not None and six[4:] == locked[8:]
    assert sense_of(cd(mode_sense_10(0x08), data_in_length=255)) == (5, 0x24, 0)


def test_cdrom_reports_its_commands_but_no_writes() -> None:
    drive = vcdrom.create("cd-rsoc", {})
    listed = {opcode for opcode, _, _ in supported_commands(drive)}
    assert {0x43, 0x46, 0x4A, 0x51, 0x52, 0xBD, 0x28, 0xA8, 0x25, 0x1B, 0x1E} <= listed
    assert not listed & {0x2A, 0xAA, 0x2E}  # refused writes are not claimed
    for opcode, _, usage in supported_commands(drive):
        assert usage[0] == opcode
        assert len(usage) == {0: 6, 1: 10, 2: 10, 4: 16, 5: 12}[opcode >> 5]
