"""vdisk_blockio on the real kernel: loop devices over sparse files, exported through tcm_loop.

The first test writes and verifies 64 MiB with fio through our data plane onto a loop device,
releases one 512-byte block with WRITE SAME (UNMAP) and checks that it reads as zeros although
it is smaller than the discard granule, then discards the whole initiator-side disk and checks
that the discard reached the loop's backing file (its allocated blocks shrink: loop turns
discards into hole punches).  The
second checks what the unit tests can only inject: the ioctl and sysfs answers of a real
device with 4 KiB logical blocks, the bounce path against it, and the block size rules.  The
third measures what RWF_NOWAIT does to O_DIRECT reads on a slow device, the fact behind
sending every direct transfer to an I/O thread.
"""

from __future__ import annotations

import re

from tcmu_scst.vm import guest_library
from tcmu_scst.vm.pytest_plugin import GuestRunner

from .test_dataplane_vm import FIO_VERIFY, assert_everything_written_and_verified, fio_summary

HELPERS = guest_library()


def report(output: str, *keys: str) -> None:
    """Print the lines worth reading on success (``pytest -rP`` shows them)."""
    for line in output.splitlines():
        if line.strip().startswith(keys):
            print(line.strip())


def value(output: str, key: str) -> str:
    match = re.search(rf"^{re.escape(key)}=(.*)$", output, re.MULTILINE)
    assert match, f"no {key}= in:\n{output}"
    return match.group(1).strip()


def test_fio_verify_and_discard_through_a_loop_device(vm: GuestRunner) -> None:
    result = vm.check(HELPERS + f"""
        truncate -s 256M /tmp/backing.img
        loop=$(losetup --find --show /tmp/backing.img)
        queue=/sys/block/${{loop#/dev/}}/queue
        echo "loop-facts=$(blockdev --getss "$loop") $(cat $queue/discard_granularity)" \\
             "$(cat $queue/discard_max_bytes) $(cat $queue/rotational)"
        disk=$(ours_export_handler bio1 vdisk_blockio "$(blockdev --getsize64 "$loop")" \\
               "filename=$loop")
        sg_inq "$disk" | grep -E "Vendor|Product"
        echo "initiator-discard-max=$(cat /sys/block/${{disk#/dev/}}/queue/discard_max_bytes)"
        {FIO_VERIFY}
        echo "fio-exit=$?"
        echo "bounced=$(grep -c 'copied through an aligned buffer' /tmp/bio1.log || true)"
        echo "=== fio ==="; cat /tmp/fio.out; echo "=== end ==="
        # WRITE SAME of a zero block with UNMAP, one 512-byte block inside a 4 KiB granule
        sg_write_same --unmap --lba=1 --num=1 "$disk"
        echo "lba1-non-zero-bytes=$(dd if="$disk" bs=512 skip=1 count=1 iflag=direct \\
              status=none | tr -d '\\0' | wc -c)"
        echo "lba0-non-zero-bytes=$(dd if="$disk" bs=512 count=1 iflag=direct \\
              status=none | tr -d '\\0' | wc -c)"
        sync
        echo "allocated-before=$(stat -c %b /tmp/backing.img)"
        blkdiscard "$disk" && echo "blkdiscard-exit=0" || echo "blkdiscard-exit=$?"
        echo "allocated-after=$(stat -c %b /tmp/backing.img)"
        echo "non-zero-bytes-after-discard=$(dd if="$disk" bs=1M count=64 iflag=direct \\
              status=none | tr -d '\\0' | wc -c)"
        ours_stop bio1
        losetup -d "$loop"
        echo "io-errors=$(dmesg | grep -c 'I/O error' || true)"
        grep "logical block" /tmp/bio1.log || true
    """, timeout=600)
    output = result.output
    report(output, "loop-facts", "Vendor", "initiator-discard", "fio-exit", "read:", "write:",
           "verify:", "lba", "allocated-", "blkdiscard-", "non-zero", "io-errors", "bounced",
           "20")
    assert "Vendor identification: SCST_BIO" in output, output
    assert value(output, "fio-exit") == "0", output
    assert_everything_written_and_verified(fio_summary(output))
    assert value(output, "io-errors") == "0", output
    # fio's I/O went straight between the data area and the device (WRITE SAME's pattern
    # buffer, later, may bounce)
    assert value(output, "bounced") == "0", output
    assert "O_DIRECT" in output, output
    # discard: the initiator sees it offered, and it reaches the loop's backing file
    assert int(value(output, "initiator-discard-max")) > 0, output
    assert value(output, "lba1-non-zero-bytes") == "0", output  # released blocks read zeros
    assert int(value(output, "lba0-non-zero-bytes")) > 0, output  # its neighbour kept fio's
    assert value(output, "blkdiscard-exit") == "0", output
    before = int(value(output, "allocated-before"))
    after = int(value(output, "allocated-after"))
    assert before >= 64 * 2048, output  # fio's 64 MiB, in 512-byte blocks
    assert after < before // 16, output
    assert value(output, "non-zero-bytes-after-discard") == "0", output


GEOMETRY_SCRIPT = r'''
import errno, os, sys
from tcmu_scst.handlers import vdisk_blockio
from tcmu_scst.handlers.block_backend import BlockBackend

device, image = sys.argv[1], sys.argv[2]
try:
    vdisk_blockio.DECLARATION.build("d4k", {"filename": device})
except OSError as error:
    print(f"default-blocksize-error={errno.errorcode[error.errno]} {error.strerror}")
try:
    vdisk_blockio.DECLARATION.build("file", {"filename": image})
except OSError as error:
    print(f"regular-file-error={errno.errorcode[error.errno]} {error.strerror}")
disk = vdisk_blockio.DECLARATION.build("d4k", {"filename": device, "blocksize": "4096"})
backend = disk.backend
g = backend.geometry
print(f"geometry={g.size} {g.logical_block_size} {g.physical_block_size} "
      f"{g.discard_granularity} {g.discard_max_bytes} {int(g.rotational)}")
print(f"direct={int(backend.direct)} thin={int(disk.settings.thin_provisioned)} "
      f"blocks={disk.blocks}")
data = os.urandom(3 * 4096)
source = memoryview(bytearray(len(data) + 1))[1:]
source[:] = data
print(f"source-aligned={int(backend.aligned([source], 8192, len(data)))}")
backend.write([source], 8192, len(data), False, True)
target = memoryview(bytearray(len(data) + 3))[3:]
backend.read([target], 8192, len(data), False)
print(f"bounce-round-trip={int(bytes(target) == data)}")
partial = memoryview(bytearray(700))
backend.read([partial], 8192 + 100, 700, False)
print(f"unaligned-offset-read={int(bytes(partial) == data[100:800])}")
try:
    backend.write([memoryview(bytearray(512))], 512, 512, False, False)
except ValueError as error:
    print(f"unaligned-write-refused={error}")
with open(device, "rb") as check:  # through the page cache, independently of the backend
    check.seek(8192)
    print(f"on-device={int(check.read(len(data)) == data)}")
backend.close()
'''


def test_real_device_geometry_bounce_and_block_size_rules(vm: GuestRunner) -> None:
    result = vm.check(HELPERS + f"""
        truncate -s 64M /tmp/backing4k.img
        loop=$(losetup --find --show --sector-size 4096 /tmp/backing4k.img)
        cat > /tmp/geometry.py <<'PY'
{GEOMETRY_SCRIPT}
PY
        "$TCMU_VM_PYTHON" /tmp/geometry.py "$loop" /tmp/backing4k.img
        losetup -d "$loop"
    """, timeout=300)
    output = result.output
    report(output, "default-", "regular-", "geometry", "direct", "source-", "bounce-",
           "unaligned-", "on-device")
    size, logical, physical, granularity, max_bytes, _rotational = map(
        int, value(output, "geometry").split())
    assert (size, logical) == (64 << 20, 4096), output
    assert physical >= logical and granularity >= 4096 and max_bytes > 0, output
    assert "direct=1 thin=1 blocks=16384" in output, output
    assert value(output, "default-blocksize-error").startswith(
        "EINVAL blocksize 512 does not fit"), output
    assert "use vdisk_fileio" in value(output, "regular-file-error"), output
    assert value(output, "source-aligned") == "0", output
    assert value(output, "bounce-round-trip") == "1", output
    assert value(output, "unaligned-offset-read") == "1", output
    assert "logical block size 4096" in value(output, "unaligned-write-refused"), output
    assert value(output, "on-device") == "1", output


NOWAIT_SCRIPT = r'''
import errno, mmap, os, sys, time

fd = os.open(sys.argv[1], os.O_RDONLY | os.O_DIRECT)
buffer = mmap.mmap(-1, 4096)
for label, flags in (("blocking", 0), ("nowait", os.RWF_NOWAIT)):
    for attempt in range(3):
        offset = (attempt * 2 + (label == "nowait")) * 4096  # never the same block twice
        start = time.monotonic()
        try:
            outcome = f"read {os.preadv(fd, [buffer], offset, flags)}"
        except OSError as error:
            outcome = errno.errorcode[error.errno]
        print(f"{label}-{attempt}={outcome} {time.monotonic() - start:.3f}")
'''


def test_rwf_nowait_does_not_keep_o_direct_reads_from_waiting(vm: GuestRunner) -> None:
    """scsi_debug answers after 200 ms; an O_DIRECT read with RWF_NOWAIT either fails with
    EAGAIN or waits just as long as a plain one, so a worker cannot use it to stay inline."""
    result = vm.check(HELPERS + f"""
        sdebug=/sys/bus/pseudo/drivers/scsi_debug
        echo 1 > $sdebug/add_host
        wait_for compgen -G "$sdebug/adapter*/host*/target*/*:*/block/*" > /dev/null
        blockdir=$(compgen -G "$sdebug/adapter*/host*/target*/*:*/block" | head -1)
        disk=/dev/$(ls "$blockdir")
        wait_for test -b "$disk"
        echo 200000000 > $sdebug/ndelay
        cat > /tmp/nowait.py <<'PY'
{NOWAIT_SCRIPT}
PY
        "$TCMU_VM_PYTHON" /tmp/nowait.py "$disk"
        echo 0 > $sdebug/ndelay
    """, timeout=300)
    output = result.output
    report(output, "blocking-", "nowait-")
    for attempt in range(3):
        outcome, seconds = value(output, f"blocking-{attempt}").rsplit(" ", 1)
        assert outcome == "read 4096" and float(seconds) >= 0.15, output
        outcome, seconds = value(output, f"nowait-{attempt}").rsplit(" ", 1)
        assert outcome == "EAGAIN" or float(seconds) >= 0.15, output
