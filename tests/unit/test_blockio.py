"""vdisk_blockio without a block device: the backend's code paths over a regular file.

The block layer's answers (size, logical block size, discard limits) are injected through the
backend's ``probe``, and BLKDISCARD and BLKZEROOUT through its ``discard`` and ``zeroout``;
everything else is real: the file
is opened with O_DIRECT (on file systems that allow it), and the same alignment checks,
preadv/pwritev calls and bounce buffers run as on a device.  What only a real device can show
(the ioctls, sysfs, discard reaching the medium) is in tests/system/test_blockio_vm.py.
"""

from __future__ import annotations

import errno
import logging
import os
from collections.abc import Iterator
from pathlib import Path

import pytest

from tcmu_scst.handlers import block_backend, vdisk_blockio
from tcmu_scst.handlers.block_backend import (
    BOUNCE_BYTES,
    BlockBackend,
    BlockGeometry,
    BouncePool,
    probe_block_device,
    queue_limits,
)
from tcmu_scst.handlers.disk import DiskSettings
from tcmu_scst.handlers.sense import CheckCondition
from tests.unit.scsi_harness import Harness

DEVICE_BLOCK = 4096  # larger than any file system's O_DIRECT alignment
SIZE = 4 << 20


def geometry_of(**overrides: int | bool) -> BlockGeometry:
    values: dict = {"size": SIZE, "logical_block_size": DEVICE_BLOCK,
                    "physical_block_size": DEVICE_BLOCK}
    values.update(overrides)
    return BlockGeometry(**values)


class Discards:
    """Stands in for BLKDISCARD or BLKZEROOUT: records the ranges, or fails with an errno."""

    def __init__(self, fail: int = 0):
        self.ranges: list[tuple[int, int]] = []
        self.fail = fail

    def __call__(self, fd: int, offset: int, length: int) -> None:
        if self.fail:
            raise OSError(self.fail, os.strerror(self.fail))
        self.ranges.append((offset, length))


def open_backend(path: Path, read_only: bool = False, **geometry: int | bool) -> BlockBackend:
    backend = BlockBackend(path, read_only=read_only, probe=lambda fd: geometry_of(**geometry),
                           discard=Discards(), zeroout=Discards())
    if not backend.direct:
        backend.close()
        pytest.skip(f"the file system under {path} refuses O_DIRECT")
    return backend


@pytest.fixture
def image(tmp_path: Path) -> Path:
    path = tmp_path / "device.img"
    path.write_bytes(os.urandom(SIZE))
    return path


@pytest.fixture
def backend(image: Path) -> Iterator[BlockBackend]:
    backend = open_backend(image)
    yield backend
    backend.close()


class PathSpy:
    """Counts how transfers were done: straight from the buffers or through a bounce."""

    def __init__(self, backend: BlockBackend, monkeypatch: pytest.MonkeyPatch):
        self.bounced = 0
        for name in ("_bounce_read", "_bounce_write"):
            original = getattr(backend, name)

            def counted(*args: object, _original=original) -> None:
                self.bounced += 1
                _original(*args)

            monkeypatch.setattr(backend, name, counted)


def unaligned(length: int, fill: bytes = b"") -> memoryview:
    """A writable buffer that starts one byte past an allocation, so never block aligned."""
    storage = bytearray(length + 1)
    view = memoryview(storage)[1:]
    if fill:
        view[:] = fill
    return view


# --- transfers ---------------------------------------------------------------------------

def test_ring_iovecs_go_straight_to_the_device(backend: BlockBackend, image: Path,
                                               monkeypatch: pytest.MonkeyPatch) -> None:
    spy = PathSpy(backend, monkeypatch)
    disk = Harness(vdisk_blockio.open_device(
        "bio1", str(image), DiskSettings(block_size=DEVICE_BLOCK), backend=backend))
    payload = os.urandom(16 * DEVICE_BLOCK)
    write_10 = bytes([0x2A, 0, 0, 0, 0, 8, 0, 0, 16, 0])
    read_10 = bytes([0x28, 0, 0, 0, 0, 8, 0, 0, 16, 0])
    assert disk(write_10, data_out=payload).status == 0
    assert disk(read_10, data_in_length=len(payload)).data_in == payload
    assert image.read_bytes()[8 * DEVICE_BLOCK : 24 * DEVICE_BLOCK] == payload
    assert spy.bounced == 0  # page-aligned data area, page-multiple lengths
    inquiry = disk(bytes([0x12, 0, 0, 0, 96, 0]), data_in_length=96).data_in
    assert inquiry is not None and inquiry[8:16] == b"SCST_BIO"
    disk.close()


def test_unaligned_buffers_are_bounced_with_the_right_bytes(
        backend: BlockBackend, image: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    spy = PathSpy(backend, monkeypatch)
    data = os.urandom(3 * DEVICE_BLOCK)
    pieces = [unaligned(1000, data[:1000]), unaligned(len(data) - 1000, data[1000:])]
    assert not backend.aligned(pieces, DEVICE_BLOCK, len(data))
    backend.write(pieces, DEVICE_BLOCK, len(data), nowait=False, sync=False)
    assert image.read_bytes()[DEVICE_BLOCK : 4 * DEVICE_BLOCK] == data
    into = [unaligned(5), unaligned(len(data) - 5)]
    backend.read(into, DEVICE_BLOCK, len(data), nowait=False)
    assert bytes(into[0]) + bytes(into[1]) == data
    assert spy.bounced == 2


def test_read_only_buffers_are_bounced(backend: BlockBackend, image: Path) -> None:
    data = os.urandom(DEVICE_BLOCK)
    view = memoryview(data)  # bytes: aligned or not, O_DIRECT cannot be told its address
    assert not backend.aligned([view], 0, DEVICE_BLOCK)
    backend.write([view], 0, DEVICE_BLOCK, nowait=False, sync=True)
    assert image.read_bytes()[:DEVICE_BLOCK] == data


def test_reads_at_unaligned_offsets_use_the_covering_blocks(backend: BlockBackend,
                                                             image: Path) -> None:
    content = image.read_bytes()
    into = unaligned(700)
    backend.read([into], 5000, 700, nowait=False)
    assert bytes(into) == content[5000:5700]


def test_bounced_transfers_larger_than_the_bounce_buffer(backend: BlockBackend,
                                                          image: Path) -> None:
    length = BOUNCE_BYTES * 2 + 3 * DEVICE_BLOCK
    data = os.urandom(length)
    backend.write([unaligned(length, data)], 0, length, nowait=False, sync=False)
    assert image.read_bytes()[:length] == data
    into = unaligned(length)
    backend.read([into], 0, length, nowait=False)
    assert bytes(into) == data


def test_unaligned_write_ranges_are_refused(backend: BlockBackend, image: Path) -> None:
    before = image.read_bytes()
    with pytest.raises(ValueError, match="logical block size 4096"):
        backend.write([unaligned(512, bytes(512))], 512, 512, nowait=False, sync=False)
    assert image.read_bytes() == before


def test_reads_past_the_end_of_the_medium_are_zeros(tmp_path: Path) -> None:
    path = tmp_path / "short.img"
    path.write_bytes(b"\x5a" * DEVICE_BLOCK)
    backend = open_backend(path, size=4 * DEVICE_BLOCK)  # the "device" claims more
    into = bytearray(b"\xff" * 2 * DEVICE_BLOCK)
    view = memoryview(into)
    backend.read([view], 0, len(into), nowait=False)  # bytearray: may or may not bounce
    assert into == b"\x5a" * DEVICE_BLOCK + bytes(DEVICE_BLOCK)
    backend.close()


def test_direct_io_never_runs_inline(backend: BlockBackend) -> None:
    view = memoryview(bytearray(DEVICE_BLOCK))
    with pytest.raises(BlockingIOError):
        backend.read([view], 0, DEVICE_BLOCK, nowait=True)
    with pytest.raises(BlockingIOError):
        backend.write([view], 0, DEVICE_BLOCK, nowait=True, sync=False)


def test_sync_writes_ask_for_dsync(backend: BlockBackend,
                                   monkeypatch: pytest.MonkeyPatch) -> None:
    seen: list[int] = []
    real = os.pwritev

    def recording(fd: int, buffers: list, offset: int, flags: int = 0) -> int:
        seen.append(flags)
        return real(fd, buffers, offset, flags)

    monkeypatch.setattr(os, "pwritev", recording)
    pool = BouncePool(DEVICE_BLOCK)
    with pool.buffer() as aligned:
        backend.write([aligned[:DEVICE_BLOCK]], 0, DEVICE_BLOCK, nowait=False, sync=True)
        backend.write([aligned[:DEVICE_BLOCK]], 0, DEVICE_BLOCK, nowait=False, sync=False)
    pool.close()
    assert seen == [os.RWF_DSYNC, 0]


def test_io_errors_become_medium_errors(image: Path) -> None:
    backend = open_backend(image, read_only=True)
    view = memoryview(bytearray(DEVICE_BLOCK))
    with pytest.raises(CheckCondition) as caught:
        backend.write([view], 0, DEVICE_BLOCK, nowait=False, sync=False)  # EBADF
    assert (caught.value.key, caught.value.asc) == (0x3, 0x0C)
    os.close(backend.fd)
    with pytest.raises(CheckCondition) as caught:
        backend.read([view], 0, DEVICE_BLOCK, nowait=False)
    assert (caught.value.key, caught.value.asc) == (0x3, 0x11)
    with pytest.raises(CheckCondition):
        backend.flush()
    backend.fd = os.open(image, os.O_RDONLY)
    backend.close()


def test_without_o_direct_the_page_cache_serves_inline(
        image: Path, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture) -> None:
    real_open = os.open

    def no_direct(path: str, flags: int, *args: int) -> int:
        if flags & os.O_DIRECT:
            raise OSError(errno.EINVAL, "Invalid argument")
        return real_open(path, flags, *args)

    monkeypatch.setattr(block_backend.os, "open", no_direct)
    with caplog.at_level(logging.WARNING):
        backend = BlockBackend(image, probe=lambda fd: geometry_of())
    assert not backend.direct
    assert "refuses O_DIRECT" in caplog.text
    data = os.urandom(600)
    backend.write([memoryview(data)], 100, 600, nowait=False, sync=False)
    into = bytearray(600)
    backend.read([memoryview(into)], 100, 600, nowait=True)  # cached: RWF_NOWAIT succeeds
    assert into == data
    backend.close()


def test_bounce_buffers_honour_alignments_beyond_a_page() -> None:
    pool = BouncePool(16384, size=40000)
    with pool.buffer() as first, pool.buffer() as second:
        for view in (first, second):
            assert block_backend._address(view) % 16384 == 0
            assert view.nbytes == 49152
    with pool.buffer() as again:  # reused, not allocated anew
        assert again.nbytes == 49152
    assert len(pool._all) == 2
    pool.close()


# --- discard -----------------------------------------------------------------------------

def test_whole_granules_are_discarded_and_the_rest_zeroed(image: Path) -> None:
    backend = open_backend(image, discard_granularity=65536, discard_max_bytes=1 << 30)
    discards, zeros = backend._discard, backend._zeroout
    assert isinstance(discards, Discards) and isinstance(zeros, Discards)
    assert backend.can_deallocate and backend.deallocate_granularity == 65536
    assert backend.max_deallocate_bytes == 1 << 30
    assert backend.deallocate_zeroes is False
    backend.deallocate(4096, 200_704)  # granules 1 and 2, with partial granules around them
    assert discards.ranges == [(65536, 131072)]
    assert zeros.ranges == [(4096, 61440), (196608, 8192)]
    discards.ranges.clear(), zeros.ranges.clear()
    backend.deallocate(SIZE - 69632, 1 << 40)  # runs past the end: clipped to the device
    assert discards.ranges == [(SIZE - 65536, 65536)] and zeros.ranges == [(SIZE - 69632, 4096)]
    discards.ranges.clear(), zeros.ranges.clear()
    backend.deallocate(4096, 61440)  # no whole granule inside: all of it zeroed
    backend.deallocate(SIZE + 4096, 4096)  # beyond the device: nothing
    assert discards.ranges == [] and zeros.ranges == [(4096, 61440)]
    backend.close()


def test_discard_unsupported_zeroes_instead_and_turns_deallocation_off(image: Path) -> None:
    backend = open_backend(image, discard_granularity=4096, discard_max_bytes=1 << 20)
    zeros = backend._zeroout
    assert isinstance(zeros, Discards)
    backend._discard = Discards(fail=errno.EOPNOTSUPP)
    backend.deallocate(0, 8192)
    assert not backend.can_deallocate
    assert zeros.ranges == [(0, 8192)]  # it still reads as zeros
    backend._discard = Discards(fail=errno.EIO)
    backend.deallocate(0, 8192)  # off now: not even tried
    backend.can_deallocate = True
    with pytest.raises(CheckCondition) as caught:
        backend.deallocate(0, 8192)
    assert caught.value.key == 0x3
    backend._discard = Discards(fail=errno.EOPNOTSUPP)
    backend._zeroout = Discards(fail=errno.EIO)
    backend.can_deallocate = True
    with pytest.raises(CheckCondition) as caught:
        backend.deallocate(0, 8192)  # neither discarded nor zeroed: an error, not success
    assert caught.value.key == 0x3
    backend.close()


def test_real_blkdiscard_on_a_regular_file_is_refused(image: Path) -> None:
    zeros = Discards()
    backend = BlockBackend(image, probe=lambda fd: geometry_of(
        discard_granularity=4096, discard_max_bytes=1 << 20), zeroout=zeros)
    before = image.read_bytes()
    backend.deallocate(0, 8192)  # the kernel answers ENOTTY: not a block device
    assert not backend.can_deallocate
    assert zeros.ranges == [(0, 8192)]
    assert image.read_bytes() == before
    backend.close()


def test_no_discard_limits_or_read_only_means_no_deallocation(image: Path) -> None:
    assert not open_backend(image).can_deallocate
    assert not open_backend(image, read_only=True, discard_max_bytes=1 << 20).can_deallocate


def test_extents_are_all_mapped(backend: BlockBackend) -> None:
    assert backend.extents(0, 1 << 40) == [(0, SIZE, True)]


def test_refresh_size_asks_the_probe_again(image: Path) -> None:
    sizes = iter([SIZE, 2 * SIZE])
    backend = BlockBackend(image, probe=lambda fd: geometry_of(size=next(sizes)))
    assert backend.size == SIZE
    assert backend.refresh_size() == 2 * SIZE and backend.size == 2 * SIZE
    backend.close()


# --- the block device checks -------------------------------------------------------------

def test_queue_limits_of_a_disk_and_of_a_partition(tmp_path: Path) -> None:
    disk = tmp_path / "block" / "sdb"
    (disk / "queue").mkdir(parents=True)
    (disk / "queue" / "discard_granularity").write_text("4096\n")
    (disk / "queue" / "discard_max_bytes").write_text("2147450880\n")
    (disk / "queue" / "rotational").write_text("0\n")
    (disk / "sdb1").mkdir()
    link = tmp_path / "8:17"
    link.symlink_to(disk / "sdb1")
    expected = {"discard_granularity": 4096, "discard_max_bytes": 2147450880, "rotational": 0}
    assert queue_limits(disk) == expected
    assert queue_limits(link) == expected  # a partition reads its disk's queue
    assert queue_limits(tmp_path / "nowhere") == {
        "discard_granularity": 0, "discard_max_bytes": 0, "rotational": 1}


def test_regular_files_are_sent_to_vdisk_fileio(image: Path) -> None:
    with pytest.raises(OSError, match="use vdisk_fileio") as caught:
        vdisk_blockio.DECLARATION.build("bio1", {"filename": str(image)})
    assert caught.value.errno == errno.EINVAL
    fd = os.open(image, os.O_RDONLY)
    try:
        with pytest.raises(OSError, match="not a block device"):
            probe_block_device(fd)
    finally:
        os.close(fd)


def test_missing_filename_and_missing_device() -> None:
    with pytest.raises(OSError) as caught:
        vdisk_blockio.DECLARATION.build("bio1", {})
    assert caught.value.errno == errno.EINVAL
    with pytest.raises(FileNotFoundError):
        vdisk_blockio.DECLARATION.build("bio1", {"filename": "/dev/no-such-device"})


# --- parameters --------------------------------------------------------------------------

def device_with(image: Path, params: dict[str, str], **geometry: int | bool):
    backend = open_backend(image, **geometry)
    parsed = vdisk_blockio.DECLARATION.parse(params, creation=False)
    device = vdisk_blockio.open_device("bio1", str(image), vdisk_blockio.disk_settings(parsed),
                                       given=parsed, backend=backend)
    return device, backend


def test_rotational_and_thin_provisioning_follow_the_device(image: Path) -> None:
    device, _ = device_with(image, {"blocksize": "4096"}, rotational=False,
                            discard_granularity=4096, discard_max_bytes=1 << 20)
    assert device.settings.rotational is False and device.settings.thin_provisioned is True
    device.backend.close()
    device, _ = device_with(image, {"blocksize": "4096"}, rotational=True)
    assert device.settings.rotational is True and device.settings.thin_provisioned is False
    device.backend.close()


def test_explicit_parameters_win_over_the_device(image: Path) -> None:
    params = {"blocksize": "8192", "rotational": "1", "thin_provisioned": "0"}
    device, _ = device_with(image, params, rotational=False, discard_granularity=4096,
                            discard_max_bytes=1 << 20)
    assert device.settings.rotational is True and device.settings.thin_provisioned is False
    assert device.block_size == 8192 and device.blocks == SIZE // 8192
    device.backend.close()


def test_block_size_below_the_device_block_is_refused(image: Path) -> None:
    backend = open_backend(image)
    with pytest.raises(OSError, match="logical block size is 4096") as caught:
        vdisk_blockio.open_device("bio1", str(image), DiskSettings(), backend=backend)
    assert caught.value.errno == errno.EINVAL
    with pytest.raises(OSError):  # closed on the way out
        os.fstat(backend.fd)
