"""Our data plane on the real kernel: a vdisk_fileio device behind tcm_loop, driven by fio.

fio writes random 4 KiB blocks with crc32c checksums and then reads everything back and
verifies it; the second test kills the worker with SIGKILL in the middle of the write phase.
"""

from __future__ import annotations

import re

from tcmu_scst.vm import guest_library
from tcmu_scst.vm.pytest_plugin import GuestRunner

HELPERS = guest_library()
FIO_VERIFY = (
    "fio --name=verify --filename=$disk --rw=randwrite --bs=4k --size=64M --iodepth=16 "
    "--ioengine=libaio --direct=1 --verify=crc32c --do_verify=1 --verify_fatal=1 "
    "--output=/tmp/fio.out"
)


def fio_summary(output: str) -> str:
    match = re.search(r"=== fio ===\n(.*?)=== end ===", output, re.DOTALL)
    assert match, output
    return match.group(1)


def assert_everything_written_and_verified(summary: str) -> None:
    """64 MiB written, then 64 MiB read back and checked, with no error."""
    assert re.search(r"err= 0", summary), summary
    assert re.search(r"write: IOPS=\S+ BW=.*\(64\.0MiB/", summary), summary
    assert re.search(r"read: IOPS=\S+ BW=.*\(64\.0MiB/", summary), summary


def test_fio_verify_on_our_fileio_disk(vm: GuestRunner) -> None:
    result = vm.check(HELPERS + f"""
        disk=$(ours_export disk1 /tmp/disk1.img 256M)
        sg_inq "$disk" | grep -E "Vendor|Product"
        {FIO_VERIFY}
        echo "fio-exit=$?"
        echo "=== fio ==="; cat /tmp/fio.out; echo "=== end ==="
        ours_stop disk1
        echo "io-errors=$(dmesg | grep -c 'I/O error' || true)"
        test ! -e /sys/kernel/config/target/core/user_100/disk1 && echo "torn-down"
    """, timeout=600)
    summary = fio_summary(result.output)
    assert "fio-exit=0" in result.output
    assert re.search(r"err= 0", summary), summary
    assert_everything_written_and_verified(summary)
    assert "Vendor identification: SCST_FIO" in result.output
    assert "io-errors=0" in result.output
    assert "torn-down" in result.output


def test_worker_killed_mid_write_recovers_without_io_error(vm: GuestRunner) -> None:
    result = vm.check(HELPERS + f"""
        disk=$(ours_export disk1 /tmp/disk1.img 256M)
        first=$(worker_pids)
        echo "first-worker=$first"
        {FIO_VERIFY} &
        fio_pid=$!
        sleep 4
        kill -0 $fio_pid && echo "fio-still-writing"
        kill -9 $first
        echo "killed $first"
        wait $fio_pid
        echo "fio-exit=$?"
        second=$(worker_pids)
        echo "second-worker=$second"
        echo "=== fio ==="; cat /tmp/fio.out; echo "=== end ==="
        echo "io-errors=$(dmesg | grep -c 'I/O error' || true)"
        echo "ring-broken=$(dmesg | grep -c 'ring is broken' || true)"
        grep -E "died|restarted" /tmp/disk1.log
        ours_stop disk1
    """, timeout=600)
    first = re.search(r"first-worker=(\d+)", result.output)
    second = re.search(r"second-worker=(\d+)", result.output)
    assert first and second and first.group(1) != second.group(1), result.output
    assert "fio-still-writing" in result.output  # the kill did land in the write phase
    assert "fio-exit=0" in result.output, result.output
    assert_everything_written_and_verified(fio_summary(result.output))
    assert "io-errors=0" in result.output, result.output
    assert "ring-broken=0" in result.output, result.output
    assert "restarted as pid" in result.output
