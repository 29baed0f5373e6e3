"""Serve one device without the management daemon, exported through tcm_loop or iSCSI.

For benchmarks, system tests and debugging:
``python -m tcmu_scst.dataplane.standalone --name d1 --handler vdisk_fileio
--param filename=/tmp/d1.img --size 1G --ready-file /tmp/d1.dev``.  It creates the TCMU
backstore, starts a supervised worker, links LUN 0, writes the ``/dev/sdX`` path (tcm_loop)
or the iSCSI URL (``--iscsi IQN``) to the ready file and serves until SIGTERM, then tears
everything down in reverse order.

``--control-fifo PATH`` lets scripts change attributes at run time (vcdrom media): each line
``ATTRIBUTE=VALUE`` written to the FIFO is applied through the supervisor, and the answer
(``{"ok": true}`` or ``{"errno": N, "message": "..."}``) replaces the file ``PATH.reply``.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import logging
import os
import signal
import sys
import threading
from pathlib import Path

from ..handlers.declaration import OpenedDevice
from ..handlers.registry import declaration_of
from ..lio.backstore import UserBackstore, create_user_backstore, remove_user_backstore
from ..lio.iscsi import IscsiTarget
from ..lio.loopback import LoopbackExport
from .spec import DEFAULT_CONFIGFS, DeviceSpec
from .supervisor import Supervisor

log = logging.getLogger("tcmu_scst.standalone")
SIZE_SUFFIXES = {"K": 1 << 10, "M": 1 << 20, "G": 1 << 30, "T": 1 << 40}


def parse_size(text: str) -> int:
    if text[-1:].upper() in SIZE_SUFFIXES:
        return int(text[:-1]) * SIZE_SUFFIXES[text[-1].upper()]
    return int(text)


def link(export: LoopbackExport | IscsiTarget, backstore_path: Path, portal: str) -> str:
    """Export the backstore as LUN 0; returns where initiators find it."""
    if isinstance(export, IscsiTarget):
        address, port = portal.rsplit(":", 1)
        export.create()
        export.link_lun(0, backstore_path)
        export.add_portal(address, int(port))
        export.open_access()
        export.enable()
        return f"iscsi://{portal}/{export.iqn}/0"
    export.create("naa.5001405c0ffee0ff")
    export.link_lun(0, backstore_path)
    return str(export.wait_for_disk(0))


def apply_control_line(supervisor: Supervisor, device: str, line: str) -> dict[str, object]:
    """One ``ATTRIBUTE=VALUE`` line from the control FIFO, applied; the answer."""
    name, _, value = line.strip().partition("=")
    try:
        supervisor.set_attribute(device, name, value)
    except OSError as error:
        return {"errno": error.errno, "message": error.strerror or str(error)}
    return {"ok": True}


def serve_control_fifo(path: Path, supervisor: Supervisor, device: str) -> None:
    """Apply every line written to the FIFO at ``path``, forever (run on a daemon thread)."""
    reply = path.with_name(path.name + ".reply")
    while True:
        with open(path) as fifo:  # blocks until a writer opens it
            for line in fifo:
                if not line.strip():
                    continue
                answer = apply_control_line(supervisor, device, line)
                log.info("control %s -> %s", line.strip(), answer)
                temporary = reply.with_name(reply.name + ".tmp")
                temporary.write_text(json.dumps(answer) + "\n")
                os.replace(temporary, reply)


def parse_arguments(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="python -m tcmu_scst.dataplane.standalone",
                                     description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--name", required=True)
    parser.add_argument("--handler", default="vdisk_fileio")
    parser.add_argument("--param", action="append", default=[], metavar="KEY=VALUE")
    parser.add_argument("--size", type=parse_size,
                        help="bytes (K/M/G suffix); default: what the device reports")
    parser.add_argument("--hba", type=int, default=100)
    parser.add_argument("--wwn", default="naa.5001405c0ffee001", help="tcm_loop target WWN")
    parser.add_argument("--iscsi", metavar="IQN", help="export over iSCSI instead of tcm_loop")
    parser.add_argument("--portal", default="127.0.0.1:3260", help="iSCSI portal ip:port")
    parser.add_argument("--io-threads", type=int, default=4)
    parser.add_argument("--poll-us", type=int, help="worker's ring watch after serving")
    parser.add_argument("--ready-file", type=Path, help="write the /dev path here when ready")
    parser.add_argument("--configfs", default=DEFAULT_CONFIGFS)
    parser.add_argument("--control-fifo", type=Path,
                        help="apply ATTRIBUTE=VALUE lines written to this FIFO (created)")
    return parser.parse_args(argv)


def main(argv: list[str] | None = None) -> int:
    arguments = parse_arguments(argv)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(name)s: %(message)s")

    params = dict(item.split("=", 1) for item in arguments.param)
    declaration_of(arguments.handler).parse(params, creation=False)  # refused early
    spec = DeviceSpec(arguments.name, arguments.handler, arguments.hba, params,
                      arguments.configfs)
    made: list[UserBackstore] = []

    def make_backstore(reports: dict[str, dict[str, str]]) -> None:
        """Once the worker opened the device: the backstore, with the size it found."""
        opened = OpenedDevice(reports[arguments.name])
        size = arguments.size or opened.size or opened.block_size
        made.append(create_user_backstore(arguments.name, arguments.hba, arguments.handler,
                                          arguments.name, size, opened.block_size,
                                          configfs=arguments.configfs))

    supervisor = Supervisor(io_threads=arguments.io_threads,
                            poll_microseconds=arguments.poll_us)
    export: LoopbackExport | IscsiTarget
    if arguments.iscsi:
        export = IscsiTarget(arguments.iscsi, arguments.configfs)
    else:
        export = LoopbackExport(arguments.wwn, arguments.configfs)
    stop = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: stop.set())
    signal.signal(signal.SIGINT, lambda *_: stop.set())
    try:
        worker = supervisor.start(arguments.name, [spec], on_opened=make_backstore)
        where = link(export, made[0].path, arguments.portal)
        log.info("%s served by worker pid %d as %s", arguments.name, worker.pid, where)
        if arguments.control_fifo:
            os.mkfifo(arguments.control_fifo)
            threading.Thread(target=serve_control_fifo, name="control-fifo", daemon=True,
                             args=(arguments.control_fifo, supervisor, arguments.name)).start()
        if arguments.ready_file:
            arguments.ready_file.write_text(f"{where} {worker.pid}\n")
        stop.wait()
    finally:
        if export.tpg.exists():
            export.remove()
        supervisor.stop_all()
        for backstore in made:
            remove_user_backstore(backstore)
        if arguments.control_fifo:
            with contextlib.suppress(FileNotFoundError):
                arguments.control_fifo.unlink()
    return 0


if __name__ == "__main__":
    sys.exit(main())
