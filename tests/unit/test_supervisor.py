"""Worker supervision with a stand-in worker program (the real one needs a TCMU kernel)."""

from __future__ import annotations

import os
import signal
import sys
import time
from collections.abc import Callable
from pathlib import Path

import pytest

from tcmu_scst.dataplane.spec import DeviceSpec, specs_from_json, specs_to_json
from tcmu_scst.dataplane.supervisor import DeviceOpenError, Supervisor, WorkerStartError

FAKE_WORKER = """
import sys, time, signal, os
log = open(sys.argv[1], "a")
log.write(f"start {os.getpid()} {' '.join(sys.argv[2:])}\\n"); log.flush()
signal.signal(signal.SIGTERM, lambda *_: (log.write(f"term {os.getpid()}\\n"), sys.exit(0)))
print('OPENED {"disk1": {"size": "4096", "blocksize": "4096"}}', flush=True)
assert sys.stdin.readline().strip() == "ATTACH"
print("READY", flush=True)
while True:
    time.sleep(1)
"""
SPEC = DeviceSpec("disk1", "vdisk_fileio", 3, {"filename": "/tmp/d", "blocksize": "4096"})


def fake_worker(tmp_path: Path, body: str = FAKE_WORKER) -> tuple[list[str], Path]:
    script = tmp_path / "worker.py"
    script.write_text(body)
    log = tmp_path / "log"
    return [sys.executable, str(script), str(log)], log


def wait_until(predicate: Callable[[], bool], timeout: float = 10.0) -> None:
    deadline = time.monotonic() + timeout
    while not predicate():
        assert time.monotonic() < deadline, "condition not reached in time"
        time.sleep(0.05)


def test_specs_round_trip_through_json() -> None:
    assert specs_from_json(specs_to_json([SPEC])) == [SPEC]
    assert SPEC.backstore_dir == Path("/sys/kernel/config/target/core/user_3/disk1")


def test_killed_worker_is_restarted_with_the_same_devices(tmp_path: Path) -> None:
    command, log = fake_worker(tmp_path)
    supervisor = Supervisor(worker_command=command)
    worker = supervisor.start("disk1", [SPEC])
    first_pid = worker.pid
    assert first_pid is not None
    os.kill(first_pid, signal.SIGKILL)
    wait_until(lambda: worker.restarts == 1)
    assert worker.pid != first_pid
    starts = [line for line in log.read_text().splitlines() if line.startswith("start")]
    assert len(starts) == 2
    assert starts[0].split(" ", 2)[2] == starts[1].split(" ", 2)[2]  # same specs both times
    assert '"filename": "/tmp/d"' in starts[1]
    supervisor.stop("disk1")
    assert f"term {worker.pid}" in log.read_text()
    assert "disk1" not in supervisor.workers


def test_stopped_worker_is_not_restarted(tmp_path: Path) -> None:
    command, log = fake_worker(tmp_path)
    supervisor = Supervisor(worker_command=command)
    supervisor.start("a", [SPEC])
    supervisor.stop_all()
    time.sleep(0.5)
    assert log.read_text().count("start") == 1


def test_worker_that_fails_to_start_is_an_error(tmp_path: Path) -> None:
    command, _ = fake_worker(tmp_path, "import sys; print('cannot open /dev/uio0'); sys.exit(3)")
    supervisor = Supervisor(worker_command=command, start_timeout=10)
    with pytest.raises(WorkerStartError, match="cannot open"):
        supervisor.start("bad", [SPEC])
    assert supervisor.workers == {}


def test_the_backstore_is_made_between_opening_and_attaching(tmp_path: Path) -> None:
    """on_opened gets the devices' values before the worker is told to attach; the
    worker's report is kept for the tree."""
    command, _ = fake_worker(tmp_path)
    supervisor = Supervisor(worker_command=command)
    seen: list[dict[str, dict[str, str]]] = []
    worker = supervisor.start("disk1", [SPEC], on_opened=seen.append)
    try:
        assert seen == [{"disk1": {"size": "4096", "blocksize": "4096"}}]
        assert worker.facts == seen[0]
        assert worker.channel is not None
    finally:
        supervisor.stop_all()


def test_a_device_that_cannot_be_opened_fails_with_the_handlers_errno(tmp_path: Path) -> None:
    body = ("import sys\nprint('FAILED {\"errno\": 2, \"message\": \"No such file: /x\"}', "
            "flush=True)\nsys.exit(1)\n")
    command, _ = fake_worker(tmp_path, body)
    supervisor = Supervisor(worker_command=command)
    with pytest.raises(DeviceOpenError) as raised:
        supervisor.start("disk1", [SPEC])
    assert (raised.value.errno, raised.value.strerror) == (2, "No such file: /x")
    assert supervisor.workers == {}


def test_a_failed_backstore_stops_the_opened_worker(tmp_path: Path) -> None:
    command, log = fake_worker(tmp_path)
    supervisor = Supervisor(worker_command=command)

    def refuse(_: object) -> None:
        raise OSError(28, "no room for the backstore")

    with pytest.raises(OSError, match="no room"):
        supervisor.start("disk1", [SPEC], on_opened=refuse)
    pid = int(log.read_text().split()[1])
    wait_until(lambda: not Path(f"/proc/{pid}").exists()
               or "zombie" in Path(f"/proc/{pid}/status").read_text().lower())
    assert supervisor.workers == {}


def test_duplicate_worker_names_are_refused(tmp_path: Path) -> None:
    command, _ = fake_worker(tmp_path)
    supervisor = Supervisor(worker_command=command)
    supervisor.start("a", [SPEC])
    try:
        with pytest.raises(ValueError, match="already"):
            supervisor.start("a", [SPEC])
    finally:
        supervisor.stop_all()


def test_workers_copy_with_vector_moves_unless_told_otherwise() -> None:
    from tcmu_scst.dataplane.supervisor import (  # noqa: PLC0415
        COPY_TUNABLES,
        IMPORT_ROOT,
        worker_environment,
    )

    assert worker_environment({"PATH": "/bin"}) == {
        "PATH": "/bin", "GLIBC_TUNABLES": COPY_TUNABLES, "PYTHONPATH": IMPORT_ROOT}
    assert worker_environment({"GLIBC_TUNABLES": "glibc.malloc.check=3"})["GLIBC_TUNABLES"] == (
        "glibc.malloc.check=3")


def test_workers_import_the_daemons_own_package() -> None:
    import tcmu_scst  # noqa: PLC0415
    from tcmu_scst.dataplane.supervisor import IMPORT_ROOT, worker_environment  # noqa: PLC0415

    assert Path(tcmu_scst.__file__).resolve().parent.parent == Path(IMPORT_ROOT)
    assert worker_environment({"PYTHONPATH": "/opt/x"})["PYTHONPATH"] == \
        f"{IMPORT_ROOT}{os.pathsep}/opt/x"


def test_workers_are_told_the_copy_managers_reach(tmp_path: Path) -> None:
    """Every worker (a restarted one too) gets the reach directory of the daemon."""
    command, log = fake_worker(tmp_path)
    supervisor = Supervisor(worker_command=command, copy_reach="/run/x/copy-reach")
    supervisor.start("disk1", [SPEC])
    supervisor.stop_all()
    assert "--copy-reach /run/x/copy-reach" in log.read_text()
