"""Our data plane on the real kernel: a vdisk_fileio device behind tcm_loop, driven by fio.

fio writes random 4 KiB blocks with crc32c checksums and then reads everything back and
verifies it; the second test kills the worker with SIGKILL in the middle of the write phase.
Each runs twice: with the image on the guest's root file system (reads and writes by system
calls) and on a tmpfs of its own (the compiled fast lane copies through the mapping).
"""

from __future__ import annotations

import re

import pytest

from tcmu_scst.vm import guest_library
from tcmu_scst.vm.pytest_plugin import GuestRunner

HELPERS = guest_library()
FIO_VERIFY = (
    "fio --name=verify --filename=$disk --rw=randwrite --bs=4k --size=64M --iodepth=16 "
    "--ioengine=libaio --direct=1 --verify=crc32c --do_verify=1 --verify_fatal=1 "
    "--output=/tmp/fio.out"
)


# where the image lives: the guest's root file system, or a tmpfs of its own
STORES = {
    "system-calls": "mkdir -p /tmp/images",
    "fast-lane": "mkdir -p /tmp/images && mount -t tmpfs -o size=300m tmpfs /tmp/images",
}


# the write phase paced to 2,000 writes/s (8 s for 64 MiB), so that a kill 3 s in lands in
# it however fast the data path is; the verify reads are not paced
FIO_PACED_WRITES = FIO_VERIFY + " --rate_iops=,2000"


def served_after_restart(output: str) -> int:
    """Commands the restarted worker answered (from its log line at exit)."""
    match = re.search(r"served (\d+) commands", output)
    assert match, output
    return int(match.group(1))


def lane_commands(output: str) -> int:
    """Commands the worker answered in the fast lane (from its log line at exit)."""
    match = re.search(r"served \d+ commands \((\d+) in the fast lane\)", output)
    assert match, output
    return int(match.group(1))


def check_store_path(store: str, output: str, at_least: int) -> None:
    """The fast lane served ``at_least`` commands on tmpfs, none on the root file system."""
    if store == "fast-lane":
        assert lane_commands(output) >= at_least, output
    else:
        assert lane_commands(output) == 0, output


def fio_summary(output: str) -> str:
    match = re.search(r"=== fio ===\n(.*?)=== end ===", output, re.DOTALL)
    assert match, output
    return match.group(1)


def assert_everything_written_and_verified(summary: str) -> None:
    """64 MiB written, then 64 MiB read back and checked, with no error."""
    assert re.search(r"err= 0", summary), summary
    assert re.search(r"write: IOPS=\S+ BW=.*\(64\.0MiB/", summary), summary
    assert re.search(r"read: IOPS=\S+ BW=.*\(64\.0MiB/", summary), summary


@pytest.mark.parametrize("store", STORES)
def test_fio_verify_on_our_fileio_disk(vm: GuestRunner, store: str) -> None:
    result = vm.check(HELPERS + f"""
        {STORES[store]}
        disk=$(ours_export disk1 /tmp/images/disk1.img 256M)
        sg_inq "$disk" | grep -E "Vendor|Product"
        {FIO_VERIFY}
        echo "fio-exit=$?"
        echo "=== fio ==="; cat /tmp/fio.out; echo "=== end ==="
        ours_stop disk1
        grep "fast lane" /tmp/disk1.log
        echo "io-errors=$(dmesg | grep -c 'I/O error' || true)"
        test ! -e /sys/kernel/config/target/core/user_100/disk1 && echo "torn-down"
    """, timeout=600)
    summary = fio_summary(result.output)
    check_store_path(store, result.output, 2 * 16384)  # every 4 KiB write and read
    assert "fio-exit=0" in result.output
    assert re.search(r"err= 0", summary), summary
    assert_everything_written_and_verified(summary)
    assert "Vendor identification: SCST_FIO" in result.output
    assert "io-errors=0" in result.output
    assert "torn-down" in result.output


@pytest.mark.parametrize("store", STORES)
def test_worker_killed_mid_write_recovers_without_io_error(vm: GuestRunner, store: str) -> None:
    result = vm.check(HELPERS + f"""
        {STORES[store]}
        disk=$(ours_export disk1 /tmp/images/disk1.img 256M)
        first=$(worker_pids)
        echo "first-worker=$first"
        {FIO_PACED_WRITES} &
        fio_pid=$!
        sleep 3
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
        grep "fast lane" /tmp/disk1.log
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
    # the kill landed in the write phase: the new worker took writes as well as the 16,384
    # verify reads
    assert served_after_restart(result.output) > 16384 + 1000, result.output
    # the restarted worker's share: at least the verify phase's 16,384 reads
    check_store_path(store, result.output, 16384)
