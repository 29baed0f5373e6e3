"""``python -m tcmu_scst.uio``: list TCMU UIO devices with their mapping and mailbox.

A diagnostic for administrators ("is the kernel side of my device there, and what ring did it
get?").  A device held by a running worker is reported as busy rather than opened.
"""

from __future__ import annotations

import argparse
import errno
import json
import sys
from dataclasses import asdict

from .device import OpenUioDevice
from .discovery import list_tcmu_devices


def describe_devices() -> list[dict[str, object]]:
    described: list[dict[str, object]] = []
    for device in list_tcmu_devices():
        entry: dict[str, object] = {
            "uio": device.node.name,
            "name": device.name,
            "map_size": device.map_size(),
            **asdict(device.tcmu_name),
        }
        try:
            with OpenUioDevice(device) as mapped:
                entry["mailbox"] = asdict(mapped.mailbox())
        except OSError as error:
            if error.errno != errno.EBUSY:
                raise
            entry["mailbox"] = "busy: held open by another process"
        described.append(entry)
    return described


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m tcmu_scst.uio", description=__doc__)
    parser.add_argument("--json", action="store_true", help="machine-readable output")
    arguments = parser.parse_args(argv)
    devices = describe_devices()
    if arguments.json:
        json.dump(devices, sys.stdout, indent=2)
        sys.stdout.write("\n")
        return 0
    if not devices:
        print("no TCMU UIO devices")
    for entry in devices:
        print(f"{entry['uio']}: {entry['name']} map={entry['map_size']:#x} "
              f"mailbox={entry['mailbox']}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
