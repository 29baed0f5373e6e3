"""A data-plane worker process: ``python -m tcmu_scst.dataplane.worker --specs JSON``.

Starting takes two steps, because the kernel's backstore must be told the size the
device finds.  First the worker opens every device with its handler and prints ``OPENED``
and, as JSON, each device's effective attribute values (``size``, ``blocksize`` and what
it found on the disk: what the tree shows), or ``FAILED`` and ``{"errno", "message"}`` when
a device cannot be opened (the errno ``add_device`` fails with).  It then waits for a line
``ATTACH`` on stdin: the supervisor sends it once the backstore exists.  The worker
recovers each device's ring (block, reset, open, serve, unblock), prints ``READY`` once
every ring is served (the supervisor links LUNs only after that, because the kernel scans
a new LUN at once), and serves until SIGTERM, when it finishes in-flight I/O.

After ``READY`` stdin and stdout are the control channel: one JSON object per line each way.
A request ``{"id": 1, "device": "cd1", "set": "filename", "value": "/x.iso"}`` changes an
attribute of a device this worker serves; the answer is ``{"id": 1, "ok": true}`` or
``{"id": 1, "errno": 16, "message": "..."}`` (the errno a sysfs write would fail with).
Requests run in the data-plane loop between two batches of commands, so a device never
changes under a command it is executing.  ``"set": "ports"`` is the worker's own: its value
(JSON, see ``spec.ports_to_json``) is the device's full list of port rings (ALUA), which the
worker opens and closes to match.
"""

from __future__ import annotations

import argparse
import contextlib
import cProfile
import errno
import gc
import json
import logging
import os
import signal
import sys
from contextlib import ExitStack
from typing import Any, BinaryIO

from ..handlers.alua import ALUA_ATTRIBUTE, TargetPort
from ..handlers.disk import ScsiDevice
from ..handlers.registry import effective_values, open_disk, open_scsi_device
from ..handlers.spc_copy import configure_reach
from ..uio.device import OpenUioDevice
from ..uio.discovery import find_tcmu_device
from ..uio.ring import Ring
from . import kernel_actions
from .io_threads import IoThreads
from .server import DataPlane, DeviceServer
from .spec import DeviceSpec, PortRing, ports_from_json, specs_from_json

log = logging.getLogger("tcmu_scst.worker")
OPENED = "OPENED"
FAILED = "FAILED"
ATTACH = "ATTACH"
READY = "READY"
DEFAULT_POLL_MICROSECONDS = 200
DEFAULT_HOLD_MICROSECONDS = 100
MAX_REQUEST_BYTES = 1 << 16
PORTS_REQUEST = "ports"
# attributes a worker is given at start that are not creation parameters of the handler
RUN_TIME_ONLY = (ALUA_ATTRIBUTE,)


class PortRings:
    """The extra rings of devices in ALUA device groups, one per target port.

    Each is served like the device's own ring, by the same device object (so every port
    sees the same data, state and unit attentions), with the ring's :class:`TargetPort` for
    the answers that depend on the port.  A ring is closed only after the daemon unlinked
    its LUNs, which the kernel completes only when no command is left on them.
    """

    def __init__(self, plane: DataPlane, io: IoThreads):
        self.plane = plane
        self.io = io
        self.open: dict[tuple[str, str], tuple[DeviceServer, ExitStack]] = {}

    def set_ports(self, spec: DeviceSpec, device: ScsiDevice,
                  ports: tuple[PortRing, ...]) -> None:
        wanted = {port.name: port for port in ports}
        for (owner, name) in list(self.open):
            if owner == spec.name and name not in wanted:
                self.close(owner, name)
        for port in ports:
            served = self.open.get((spec.name, port.name))
            if served is None:
                self._attach(spec, device, port)
            else:
                served[0].ring.port = TargetPort(port.relative_id, port.protocol)

    def _attach(self, spec: DeviceSpec, device: ScsiDevice, port: PortRing) -> None:
        stack = ExitStack()
        backstore = spec.backstore_dir_of(port.name)
        recovered = kernel_actions.block_and_reset(backstore)
        try:
            uio = stack.enter_context(OpenUioDevice(find_tcmu_device(spec.hba, port.name)))
            ring = Ring(uio.map, uio.notify)
            stack.callback(ring.close)
            ring.port = TargetPort(port.relative_id, port.protocol)
            server = DeviceServer(port.name, uio, ring, device, self.io)
            self.plane.add(server)
        except BaseException:
            stack.close()
            raise
        finally:
            if recovered:
                kernel_actions.unblock(backstore)
        self.open[(spec.name, port.name)] = (server, stack)
        log.info("serving %s port %d on %s", spec.name, port.relative_id, uio.device.node)

    def close(self, owner: str, name: str) -> None:
        server, stack = self.open.pop((owner, name))
        self.plane.remove(server)
        stack.close()
        log.info("%s: port ring %s closed", owner, name)

    def close_all(self) -> None:
        """At exit, after the loop released every server: close the rings and UIOs."""
        for key in list(self.open):
            self.open.pop(key)[1].close()


def apply_request(devices: dict[str, ScsiDevice], request: Any,
                  specs: dict[str, DeviceSpec] | None = None,
                  ports: PortRings | None = None) -> dict[str, Any]:
    """Carry out one control request; the answer (without its id) as a dict."""
    if not isinstance(request, dict) or not isinstance(request.get("set"), str):
        return {"errno": errno.EINVAL, "message": "a request needs \"device\" and \"set\""}
    name = request.get("device")
    device = devices.get(name) if isinstance(name, str) else None
    if device is None:
        return {"errno": errno.ENODEV, "message": f"no device {request.get('device')!r} here"}
    value = request.get("value", "")
    value = value if isinstance(value, str) else str(value)
    try:
        if request["set"] == PORTS_REQUEST:
            if ports is None or specs is None:
                raise OSError(errno.EOPNOTSUPP, "this worker serves no port rings")
            try:
                wanted = ports_from_json(value)
            except ValueError as error:
                raise OSError(errno.EINVAL, str(error)) from None
            ports.set_ports(specs[name], device, wanted)
        else:
            device.set_attribute(request["set"], value)
    except OSError as error:
        return {"errno": error.errno or errno.EIO, "message": error.strerror or str(error)}
    except Exception as error:  # a bug must not end the worker: report it as EIO
        log.exception("control request %r failed", request)
        return {"errno": errno.EIO, "message": repr(error)}
    return {"ok": True}


class ControlChannel:
    """JSON-lines requests on a pipe (the worker's stdin), answered on another (stdout).

    Registered in the data-plane loop, so it reads only when a line may be waiting and
    costs the command path nothing.  End of input (the supervisor went away) only closes
    the channel: the devices keep being served.
    """

    def __init__(self, devices: dict[str, ScsiDevice], source: int, answers: BinaryIO,
                 specs: dict[str, DeviceSpec] | None = None, ports: PortRings | None = None):
        self.devices = devices
        self.specs = specs
        self.ports = ports
        self.source = source
        self.answers = answers
        self._pending = b""
        self._plane: DataPlane | None = None

    def attach(self, plane: DataPlane) -> bool:
        """Start listening; False when the source cannot be polled (e.g. /dev/null)."""
        os.set_blocking(self.source, False)
        try:
            plane.add_reader(self.source, self.on_readable)
        except PermissionError:
            log.info("stdin cannot be polled: no control channel")
            return False
        self._plane = plane
        return True

    def on_readable(self) -> None:
        try:
            chunk = os.read(self.source, MAX_REQUEST_BYTES)
        except BlockingIOError:
            return
        if not chunk:
            self.close()
            return
        self._pending += chunk
        *lines, self._pending = self._pending.split(b"\n")
        if len(self._pending) > MAX_REQUEST_BYTES:
            log.error("control request longer than %d bytes dropped", MAX_REQUEST_BYTES)
            self._pending = b""
        for line in lines:
            if line.strip():
                self.handle(line)

    def handle(self, line: bytes) -> None:
        try:
            request = json.loads(line)
        except ValueError:
            request_id, answer = None, {"errno": errno.EINVAL, "message": "not JSON"}
        else:
            request_id = request.get("id") if isinstance(request, dict) else None
            answer = apply_request(self.devices, request, self.specs, self.ports)
        log.info("control %s -> %s", line.decode(errors="replace").strip(), answer)
        try:
            self.answers.write(json.dumps({"id": request_id, **answer}).encode() + b"\n")
            self.answers.flush()
        except (BrokenPipeError, ValueError):  # nobody listens any more
            self.close()

    def close(self) -> None:
        if self._plane is not None:
            self._plane.remove_reader(self.source)
            self._plane = None


def open_device(spec: DeviceSpec) -> ScsiDevice:
    """The device of ``spec``, built by its handler (nothing of the kernel's yet)."""
    creation = {key: value for key, value in spec.params.items() if key not in RUN_TIME_ONLY}
    device = open_scsi_device(spec.handler, spec.name, creation)
    for key in RUN_TIME_ONLY:
        if spec.params.get(key):
            device.set_attribute(key, spec.params[key])
    return device


def failure_report(error: BaseException) -> dict[str, Any]:
    """What ``FAILED`` says: the errno and a message that names the cause."""
    if isinstance(error, OSError) and error.errno:
        message = error.strerror or str(error)
        if error.filename:
            message = f"{message}: {error.filename}"
        return {"errno": error.errno, "message": message}
    return {"errno": errno.EIO, "message": f"{type(error).__name__}: {error}"}


def attach(spec: DeviceSpec, device: ScsiDevice, plane: DataPlane, io: IoThreads,
           stack: ExitStack, ports: PortRings | None = None) -> ScsiDevice:
    """Open the UIO of ``device`` and start serving its rings, recovering them from a dead
    worker."""
    recovered = kernel_actions.block_and_reset(spec.backstore_dir)
    try:
        uio = stack.enter_context(OpenUioDevice(find_tcmu_device(spec.hba, spec.name)))
        ring = Ring(uio.map, uio.notify)
        stack.callback(ring.close)
        plane.add(DeviceServer(spec.name, uio, ring, device, io))
    finally:
        if recovered:
            kernel_actions.unblock(spec.backstore_dir)
    log.info("serving %s (%s) on %s", spec.name, spec.handler, uio.device.node)
    if spec.ports:
        if ports is None:
            raise RuntimeError(f"{spec.name} has port rings but nobody to serve them")
        ports.set_ports(spec, device, spec.ports)
    return device


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="tcmu-scst-worker", description=__doc__)
    parser.add_argument("--specs", required=True, help="JSON list of device specs")
    parser.add_argument("--io-threads", type=int, default=4)
    # TCMU_SCST_POLL_US: for experiments (bench/vm-fio --variant nopoll:TCMU_SCST_POLL_US=0)
    parser.add_argument("--poll-us", type=int,
                        default=int(os.environ.get("TCMU_SCST_POLL_US", DEFAULT_POLL_MICROSECONDS)),
                        help="watch the rings this long after serving before sleeping")
    # TCMU_SCST_HOLD_US: likewise (bench/vm-fio --variant hold50:TCMU_SCST_HOLD_US=50)
    parser.add_argument("--hold-us", type=int,
                        default=int(os.environ.get("TCMU_SCST_HOLD_US", DEFAULT_HOLD_MICROSECONDS)),
                        help="while watching, ring the doorbell after this long without "
                             "new commands")
    # TCMU_SCST_WORKER_CPUS: likewise (e.g. "1": the worker's threads on CPU 1 only)
    parser.add_argument("--cpus", default=os.environ.get("TCMU_SCST_WORKER_CPUS", ""),
                        help="comma-separated CPUs the worker runs on (default: any)")
    parser.add_argument("--copy-reach", metavar="DIR",
                        help="the daemon's copy manager reach (EXTENDED COPY between "
                             "devices of several workers); default: this worker's devices")
    arguments = parser.parse_args(argv)
    configure_reach(arguments.copy_reach, open_disk)
    if arguments.cpus:
        os.sched_setaffinity(0, {int(cpu) for cpu in arguments.cpus.split(",")})
    logging.basicConfig(level=logging.INFO, stream=sys.stderr,
                        format="%(asctime)s worker: %(message)s")
    specs = specs_from_json(arguments.specs)
    io = IoThreads(arguments.io_threads)
    plane = DataPlane(io, arguments.poll_us, arguments.hold_us)
    # A worker spawned from a thread that blocks signals (a FUSE request thread of the daemon)
    # inherits that mask; unblock what we handle or SIGTERM would never arrive.
    signal.pthread_sigmask(signal.SIG_UNBLOCK, {signal.SIGTERM, signal.SIGINT})
    signal.signal(signal.SIGTERM, lambda *_: plane.stop())
    signal.signal(signal.SIGINT, lambda *_: plane.stop())
    with ExitStack() as stack:
        opened: dict[str, ScsiDevice] = {}
        try:
            for spec in specs:
                opened[spec.name] = open_device(spec)
        except Exception as error:
            log.error("cannot open %s: %s", spec.name, error)
            print(FAILED, json.dumps(failure_report(error)), flush=True)
            return 1
        print(OPENED, json.dumps({spec.name: effective_values(opened[spec.name])
                                  for spec in specs}), flush=True)
        if sys.stdin.readline().strip() != ATTACH:
            log.error("the supervisor went away before the backstores were made")
            return 1
        ports = PortRings(plane, io)
        stack.callback(ports.close_all)
        devices = {spec.name: attach(spec, opened[spec.name], plane, io, stack, ports)
                   for spec in specs}
        # The hot path allocates short-lived, acyclic objects by the thousand per second:
        # keep the cyclic collector from scanning them over and over.
        gc.freeze()
        gc.set_threshold(100_000, 50, 50)
        print(READY, flush=True)
        if sys.stdin is not None:
            ControlChannel(devices, sys.stdin.fileno(), sys.stdout.buffer,
                           {spec.name: spec for spec in specs}, ports).attach(plane)
        profile_path = os.environ.get("TCMU_SCST_PROFILE")
        if profile_path:  # developers: where does a worker spend its time?
            cProfile.runctx("plane.run()", globals(), {"plane": plane},
                            f"{profile_path}.{os.getpid()}")
        else:
            plane.run()
        io.stop()
        plane.close()
    log.info("stopped")
    return 0


def exit_now(code: int) -> None:
    """Leave without the interpreter's teardown: everything the worker owns is closed by
    then (rings, backing files, I/O threads; data went to the kernel with each write), and
    tearing down a heap frozen for the hot path only delays the ``del_device`` or daemon
    stop that waits for this exit (a fifth of a second each under TCG)."""
    logging.shutdown()
    for stream in (sys.stdout, sys.stderr):
        with contextlib.suppress(OSError, ValueError):  # the daemon may have closed its end
            stream.flush()
    os._exit(code)


if __name__ == "__main__":
    exit_now(main())
