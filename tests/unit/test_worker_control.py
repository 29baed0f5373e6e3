"""The worker's control channel: requests applied between commands in the data-plane loop,
and ``Supervisor.set_attribute`` talking to a worker process.

A real worker needs a TCMU kernel for its rings, so the loop tests serve the device on a
RingEmulator in this process, and the supervisor tests run a stand-in worker process that is
the real worker minus the UIO attach: the same devices (built from the specs it is given),
the same DataPlane and ControlChannel on its stdin and stdout.
"""

from __future__ import annotations

import errno
import json
import os
import select
import signal
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tcmu_scst.dataplane.io_threads import IoThreads
from tcmu_scst.dataplane.server import DataPlane, DeviceServer
from tcmu_scst.dataplane.spec import DeviceSpec, PortRing, ports_to_json
from tcmu_scst.dataplane.supervisor import Supervisor
from tcmu_scst.dataplane.worker import PORTS_REQUEST, ControlChannel, apply_request
from tcmu_scst.handlers import vcdrom
from tcmu_scst.testing.ring_emulator import Completion, RingEmulator
from tests.unit.test_supervisor import wait_until
from tests.unit.test_vcdrom import BLOCK, MEDIUM_CHANGED, NOT_PRESENT, make_image, prevent, read10

TUR = bytes(6)


def sense(completion: Completion) -> tuple[int, int, int]:
    assert completion.status == 0x02, completion
    return completion.sense[2] & 0xF, completion.sense[12], completion.sense[13]


class Loop:
    """One CD served by a DataPlane on a RingEmulator, with a control channel on pipes."""

    def __init__(self) -> None:
        self.io = IoThreads(1)
        self.plane = DataPlane(self.io)
        self.emulator = RingEmulator(scatter=True, seed=11)
        self.device = vcdrom.create("cd1", {})
        self.plane.add(DeviceServer("cd1", self.emulator, self.emulator.ring(), self.device,
                                    self.io))
        self.requests, self.request_writer = os.pipe()
        self.answer_reader, answer_writer = os.pipe()
        self.received = b""
        self.channel = ControlChannel({"cd1": self.device}, self.requests,
                                      os.fdopen(answer_writer, "wb"))
        assert self.channel.attach(self.plane)

    def send(self, raw: bytes) -> None:
        os.write(self.request_writer, raw)

    def answer(self) -> dict[str, Any]:
        for _ in range(50):
            if b"\n" in self.received:
                line, self.received = self.received.split(b"\n", 1)
                return json.loads(line)
            if select.select([self.answer_reader], [], [], 0)[0]:
                self.received += os.read(self.answer_reader, 65536)
            else:
                self.plane.run_once(0.1)
        raise AssertionError("no answer from the control channel")

    def ask(self, **request: Any) -> dict[str, Any]:
        self.send(json.dumps(request).encode() + b"\n")
        return self.answer()

    def scsi(self, cdb: bytes, data_in_length: int = 0) -> Completion:
        self.emulator.submit(cdb, data_in_length=data_in_length)
        for _ in range(50):
            self.plane.run_once(0.1)
            done = self.emulator.reap()
            if done:
                return done[0]
        raise AssertionError("the command was not served")

    def close(self) -> None:
        self.channel.close()
        self.channel.answers.close()
        for fd in (self.requests, self.request_writer, self.answer_reader):
            os.close(fd)
        self.io.stop()
        self.plane.close()
        self.emulator.close()


@pytest.fixture
def loop() -> Iterator[Loop]:
    served = Loop()
    yield served
    served.close()


def test_media_inserted_between_commands(loop: Loop, tmp_path: Path) -> None:
    data = make_image(tmp_path / "a.iso", 8, 0x5A)
    assert sense(loop.scsi(TUR)) == NOT_PRESENT
    assert loop.ask(id=1, device="cd1", set="filename", value=str(tmp_path / "a.iso")) == {
        "id": 1, "ok": True}
    assert sense(loop.scsi(TUR)) == MEDIUM_CHANGED
    reply = loop.scsi(read10(7, 1), BLOCK)
    assert reply.status == 0 and reply.data_in == data[7 * BLOCK :]
    assert loop.ask(id=2, device="cd1", set="filename", value="") == {"id": 2, "ok": True}
    assert sense(loop.scsi(TUR)) == NOT_PRESENT


def test_refusals_carry_the_errno(loop: Loop, tmp_path: Path) -> None:
    make_image(tmp_path / "a.iso", 8, 1)
    assert loop.scsi(prevent(1)).status == 0
    busy = loop.ask(id=7, device="cd1", set="filename", value=str(tmp_path / "a.iso"))
    assert busy["id"] == 7 and busy["errno"] == errno.EBUSY and "prevented" in busy["message"]
    assert loop.scsi(prevent(0)).status == 0
    missing = loop.ask(id=8, device="cd1", set="filename", value=str(tmp_path / "no.iso"))
    assert missing["errno"] == errno.ENOENT
    assert loop.ask(id=9, device="cd2", set="filename", value="/x")["errno"] == errno.ENODEV
    assert loop.ask(id=10, device="cd1", set="blocksize", value="512")["errno"] == errno.EINVAL
    assert loop.ask(id=11, device="cd1")["errno"] == errno.EINVAL
    loop.send(b"{not json\n")
    assert loop.answer() == {"id": None, "errno": errno.EINVAL, "message": "not JSON"}


def test_requests_may_arrive_in_pieces(loop: Loop, tmp_path: Path) -> None:
    make_image(tmp_path / "a.iso", 8, 1)
    line = json.dumps({"id": 3, "device": "cd1", "set": "filename",
                       "value": str(tmp_path / "a.iso")}).encode()
    loop.send(line[:10])
    loop.plane.run_once(0.1)
    loop.send(line[10:] + b"\n" + json.dumps({"id": 4, "device": "cd1", "set": "filename",
                                              "value": ""}).encode() + b"\n")
    assert loop.answer() == {"id": 3, "ok": True}
    assert loop.answer() == {"id": 4, "ok": True}


def test_end_of_control_input_leaves_the_device_served(loop: Loop) -> None:
    os.close(loop.request_writer)
    loop.request_writer = os.open(os.devnull, os.O_WRONLY)  # for close()
    loop.plane.run_once(0.1)
    assert loop.channel._plane is None  # the reader is gone from the loop
    assert sense(loop.scsi(TUR)) == NOT_PRESENT


def test_unpollable_input_means_no_channel(loop: Loop) -> None:
    with open(os.devnull, "rb") as null:
        channel = ControlChannel({}, null.fileno(), sys.stdout.buffer)
        assert not channel.attach(loop.plane)


# --- through the supervisor, with a worker process --------------------------------------------

STAND_IN_WORKER = """
import json, signal, sys
from tcmu_scst.dataplane.io_threads import IoThreads
from tcmu_scst.dataplane.server import DataPlane
from tcmu_scst.dataplane.spec import specs_from_json
from tcmu_scst.dataplane.worker import ATTACH, OPENED, READY, ControlChannel
from tcmu_scst.handlers.registry import open_scsi_device

specs = specs_from_json(sys.argv[sys.argv.index("--specs") + 1])
with open(sys.argv[1], "a") as log:
    log.write(json.dumps({spec.name: spec.params for spec in specs}) + "\\n")
devices = {spec.name: open_scsi_device(spec.handler, spec.name, spec.params) for spec in specs}
plane = DataPlane(IoThreads(1))
signal.signal(signal.SIGTERM, lambda *_: plane.stop())
print(OPENED, json.dumps({name: {} for name in devices}), flush=True)
assert sys.stdin.readline().strip() == ATTACH
print(READY, flush=True)
ControlChannel(devices, sys.stdin.fileno(), sys.stdout.buffer).attach(plane)
plane.run()
"""


def stand_in(tmp_path: Path, body: str = STAND_IN_WORKER) -> tuple[list[str], Path]:
    script = tmp_path / "worker.py"
    script.write_text(body)
    log = tmp_path / "starts.log"
    return [sys.executable, str(script), str(log)], log


def starts(log: Path) -> list[dict[str, dict[str, str]]]:
    return [json.loads(line) for line in log.read_text().splitlines()]


@pytest.fixture
def discs(tmp_path: Path) -> tuple[str, str]:
    make_image(tmp_path / "a.iso", 4, 1)
    make_image(tmp_path / "b.iso", 4, 2)
    return str(tmp_path / "a.iso"), str(tmp_path / "b.iso")


def test_set_attribute_changes_the_worker_and_survives_its_restart(
        tmp_path: Path, discs: tuple[str, str]) -> None:
    a, b = discs
    command, log = stand_in(tmp_path)
    supervisor = Supervisor(worker_command=command)
    spec = DeviceSpec("cd1", "vcdrom", 7, {"filename": a})
    worker = supervisor.start("cd1", [spec, DeviceSpec("cd2", "vcdrom", 7, {})])
    try:
        supervisor.set_attribute("cd1", "filename", b)
        assert worker.specs[0].params == {"filename": b}
        supervisor.set_attribute("cd2", "filename", a)
        first = worker.pid
        assert first is not None
        os.kill(first, signal.SIGKILL)
        wait_until(lambda: worker.restarts == 1 and worker.channel is not None
                   and worker.channel.process is worker.process)
        assert starts(log) == [{"cd1": {"filename": a}, "cd2": {}},
                               {"cd1": {"filename": b}, "cd2": {"filename": a}}]
        supervisor.set_attribute("cd1", "filename", "")  # the new worker listens too
        assert worker.specs[0].params == {"filename": ""}
    finally:
        supervisor.stop_all()


def test_set_attribute_raises_the_workers_errno(tmp_path: Path, discs: tuple[str, str]) -> None:
    command, _ = stand_in(tmp_path)
    supervisor = Supervisor(worker_command=command)
    worker = supervisor.start("cd1", [DeviceSpec("cd1", "vcdrom", 7, {})])
    try:
        for name, value, code in (("filename", str(tmp_path / "none.iso"), errno.ENOENT),
                                  ("filename", "relative.iso", errno.EINVAL),
                                  ("blocksize", "4096", errno.EINVAL)):
            with pytest.raises(OSError) as refused:
                supervisor.set_attribute("cd1", name, value)
            assert refused.value.errno == code, (name, value)
        assert worker.specs[0].params == {}  # refused changes are not recorded
        supervisor.set_attribute("cd1", "t10_dev_id", "cd-one")  # identities may change
        assert worker.specs[0].params == {"t10_dev_id": "cd-one"}
        with pytest.raises(OSError) as unknown:
            supervisor.set_attribute("cd9", "filename", discs[0])
        assert unknown.value.errno == errno.ENODEV
    finally:
        supervisor.stop_all()


# what a stand-in says to start: its devices opened, then attached on ATTACH
STARTS = ("print('OPENED {}', flush=True)\nsys.stdin.readline()\n"
          "print('READY', flush=True)\n")


def test_silent_worker_times_out(tmp_path: Path) -> None:
    command, _ = stand_in(tmp_path, f"import sys, time\n{STARTS}time.sleep(60)\n")
    supervisor = Supervisor(worker_command=command)
    supervisor.start("cd1", [DeviceSpec("cd1", "vcdrom", 7, {})])
    try:
        with pytest.raises(OSError) as late:
            supervisor.set_attribute("cd1", "filename", "/x.iso", timeout=0.5)
        assert late.value.errno == errno.ETIMEDOUT
    finally:
        supervisor.stop_all()


def test_worker_dying_before_answering_is_an_io_error(tmp_path: Path) -> None:
    body = f"import sys\n{STARTS}sys.stdin.readline()\nsys.exit(1)\n"
    command, _ = stand_in(tmp_path, body)
    supervisor = Supervisor(worker_command=command)
    supervisor.start("cd1", [DeviceSpec("cd1", "vcdrom", 7, {})])
    try:
        with pytest.raises(OSError) as lost:
            supervisor.set_attribute("cd1", "filename", "/x.iso")
        assert lost.value.errno == errno.EIO
    finally:
        supervisor.stop_all()


# --- port rings (ALUA) --------------------------------------------------------------------


class RecordingPorts:
    """Stands in for the worker's PortRings (the real one needs TCMU devices)."""

    def __init__(self) -> None:
        self.calls: list[tuple[str, tuple]] = []

    def set_ports(self, spec: DeviceSpec, device: Any, ports: tuple) -> None:
        self.calls.append((spec.name, ports))


def test_a_ports_request_reaches_the_port_rings_parsed() -> None:
    device = vcdrom.create("cd1", {})
    spec = DeviceSpec("cd1", "vcdrom", 101)
    ports = RecordingPorts()
    wanted = (PortRing("cd1@p1", 1, 5), PortRing("cd1@p2", 2, 5))
    answer = apply_request({"cd1": device}, {"device": "cd1", "set": PORTS_REQUEST,
                                             "value": ports_to_json(wanted)},
                           {"cd1": spec}, ports)  # type: ignore[arg-type]
    assert answer == {"ok": True}
    assert ports.calls == [("cd1", wanted)]


@pytest.mark.parametrize("value", ["{}", "[{\"name\": \"x\"}]", "not json",
                                   "[{\"name\": \"a\", \"relative_id\": 1, \"protocol\": 5},"
                                   " {\"name\": \"a\", \"relative_id\": 2, \"protocol\": 5}]"])
def test_a_malformed_ports_request_is_refused(value: str) -> None:
    ports = RecordingPorts()
    answer = apply_request({"cd1": vcdrom.create("cd1", {})},
                           {"device": "cd1", "set": PORTS_REQUEST, "value": value},
                           {"cd1": DeviceSpec("cd1", "vcdrom", 101)}, ports)  # type: ignore[arg-type]
    assert answer["errno"] == errno.EINVAL
    assert ports.calls == []

