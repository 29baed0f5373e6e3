"""A data-plane worker process: ``python -m tcmu_scst.dataplane.worker --specs JSON``.

It recovers each device's ring (block, reset, open, serve, unblock), prints ``READY`` on
stdout once every ring is served (the supervisor links LUNs only after that, because the
kernel scans a new LUN at once), and serves until SIGTERM, when it finishes in-flight I/O.
"""

from __future__ import annotations

import argparse
import cProfile
import gc
import logging
import os
import signal
import sys
from contextlib import ExitStack

from ..handlers.registry import open_scsi_device
from ..uio.device import OpenUioDevice
from ..uio.discovery import find_tcmu_device
from ..uio.ring import Ring
from . import kernel_actions
from .io_threads import IoThreads
from .server import DataPlane, DeviceServer
from .spec import DeviceSpec, specs_from_json

log = logging.getLogger("tcmu_scst.worker")
READY = "READY"
DEFAULT_POLL_MICROSECONDS = 200


def attach(spec: DeviceSpec, plane: DataPlane, io: IoThreads, stack: ExitStack) -> None:
    """Open one device's UIO and start serving its ring, recovering it from a dead worker."""
    device = open_scsi_device(spec.handler, spec.name, spec.params)
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


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="tcmu-scst-worker", description=__doc__)
    parser.add_argument("--specs", required=True, help="JSON list of device specs")
    parser.add_argument("--io-threads", type=int, default=4)
    parser.add_argument("--poll-us", type=int, default=DEFAULT_POLL_MICROSECONDS,
                        help="watch the rings this long after serving before sleeping")
    arguments = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, stream=sys.stderr,
                        format="%(asctime)s worker: %(message)s")
    specs = specs_from_json(arguments.specs)
    io = IoThreads(arguments.io_threads)
    plane = DataPlane(io, arguments.poll_us)
    signal.signal(signal.SIGTERM, lambda *_: plane.stop())
    signal.signal(signal.SIGINT, lambda *_: plane.stop())
    with ExitStack() as stack:
        for spec in specs:
            attach(spec, plane, io, stack)
        # The hot path allocates short-lived, acyclic objects by the thousand per second:
        # keep the cyclic collector from scanning them over and over.
        gc.freeze()
        gc.set_threshold(100_000, 50, 50)
        print(READY, flush=True)
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


if __name__ == "__main__":
    sys.exit(main())
