"""Stand-ins for udev and for block devices, for the hotplug tests.

* :class:`FakeMonitor` offers what pyudev's ``MonitorObserver`` uses of a Monitor
  (``start``, ``fileno``, ``poll``, plus ``filter_by``) over a real pipe: emitting an event
  queues a fake device and writes a byte, which wakes the real observer thread's poll.
* :class:`FakeUdevDevice` has the attributes of a pyudev ``Device`` the watcher reads.
* :class:`FakeDisks` plays the block layer: device nodes (``/dev/sdX``, by-id links) that
  point at regular files.  ``vdisk_blockio`` opens them through :class:`FileDisk`, the real
  ``BlockBackend`` over the file with the geometry probe injected, so removing a node makes
  opening it fail and the file's data survives, like a disk that is unplugged and comes
  back.
* :class:`InProcessWorkers` is the realizer: it records the calls like ``RecordingRealizer``
  and serves each device in this process, passing attribute changes through the worker's own
  ``apply_request``, so a test can send SCSI commands to the device the tree controls.
"""

from __future__ import annotations

import collections
import errno
import os
import select
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from tcmu_scst.compat_sysfs.realizer import DeviceRequest, OpenedDevice
from tcmu_scst.dataplane.worker import apply_request
from tcmu_scst.handlers.block_backend import BlockBackend, BlockGeometry
from tcmu_scst.handlers.disk import ScsiDevice
from tcmu_scst.handlers.registry import open_scsi_device
from tcmu_scst.testing.recording_realizer import RecordingRealizer


class FakeMonitor:
    def __init__(self) -> None:
        self._source, self._sink = os.pipe()
        self._queue: collections.deque[Any] = collections.deque()
        self._lock = threading.Lock()
        self.started = False
        self.filters: list[tuple[Any, ...]] = []

    def start(self) -> None:
        self.started = True

    def fileno(self) -> int:
        return self._source

    def filter_by(self, subsystem: str, device_type: str | None = None) -> None:
        self.filters.append((subsystem, device_type))

    def poll(self, timeout: float | None = None) -> Any:
        readable, _, _ = select.select([self._source], [], [], timeout or 0)
        if not readable:
            return None
        os.read(self._source, 1)
        with self._lock:
            return self._queue.popleft()

    def emit(self, device: Any) -> None:
        with self._lock:
            self._queue.append(device)
        os.write(self._sink, b"!")

    @property
    def pending(self) -> int:
        with self._lock:
            return len(self._queue)

    def close(self) -> None:
        os.close(self._source)
        os.close(self._sink)


class _Attributes:
    def __init__(self, values: dict[str, int]):
        self._values = values

    def asint(self, name: str) -> int:
        if name not in self._values:
            raise KeyError(name)
        return self._values[name]


@dataclass
class FakeUdevDevice:
    """What the watcher reads of a pyudev Device."""

    action: str | None
    sys_name: str
    properties: dict[str, str] = field(default_factory=dict)
    size_bytes: int | None = None
    device_links: tuple[str, ...] = ()
    sys_path: str = ""
    subsystem: str = "block"
    device_type: str = "disk"
    ancestors: tuple[Any, ...] = ()

    @property
    def device_node(self) -> str:
        return f"/dev/{self.sys_name}"

    @property
    def attributes(self) -> _Attributes:
        if self.size_bytes is None:
            return _Attributes({})
        return _Attributes({"size": self.size_bytes // 512})


class FakeDisks:
    """Nodes and links of block devices, each pointing at a regular file."""

    def __init__(self, directory: Path):
        self.directory = directory
        self.paths: dict[str, Path] = {}  # /dev/... -> the file holding the disk's data
        self.wwns: dict[Path, str] = {}
        self.serials: dict[Path, str] = {}

    def plug(self, node: str, data: Path, wwn: str, serial: str | None = None,
             vendor: str = "ACME", **extra: str) -> FakeUdevDevice:
        """Make the disk held in ``data`` appear at ``node``; returns its "add" event."""
        link = f"/dev/disk/by-id/wwn-{wwn}"
        self.paths[f"/dev/{node}"] = self.paths[link] = data
        self.wwns[data] = wwn
        self.serials[data] = serial or f"3{wwn[2:]}"
        return self.event("add", node, data, vendor=vendor, serial=serial, **extra)

    def unplug(self, node: str) -> FakeUdevDevice:
        data = self.paths.pop(f"/dev/{node}")
        wwn = self.wwns[data]
        self.paths.pop(f"/dev/disk/by-id/wwn-{wwn}", None)
        event = self.event("remove", node, data)
        event.size_bytes = None
        return event

    def event(self, action: str, node: str, data: Path, vendor: str = "ACME",
              serial: str | None = None, **extra: str) -> FakeUdevDevice:
        wwn = self.wwns[data]
        properties = {"DEVNAME": f"/dev/{node}", "DEVTYPE": "disk", "ID_BUS": "scsi",
                      "ID_VENDOR": vendor, "ID_MODEL": "DISK", "ID_WWN": wwn,
                      "ID_SERIAL": serial or self.serials[data], **extra}
        return FakeUdevDevice(action, node, properties, data.stat().st_size,
                              (f"/dev/disk/by-id/wwn-{wwn}",),
                              f"/sys/devices/pci0000:00/host0/target0:0:0/0:0:0:0/block/{node}")

    def open(self, path: str) -> Path:
        data = self.paths.get(path)
        if data is None:
            raise FileNotFoundError(errno.ENOENT, "No such file or directory", path)
        return data


def file_disk_class(disks: FakeDisks) -> type[BlockBackend]:
    """A BlockBackend that opens ``disks``' nodes: the file behind the node, the geometry
    from the file's size (512-byte blocks), the path as given."""

    class FileDisk(BlockBackend):
        def __init__(self, path: str, read_only: bool = False, **_: Any):
            data = disks.open(str(path))
            super().__init__(data, read_only=read_only, o_direct=False,
                             probe=lambda fd: BlockGeometry(size=os.fstat(fd).st_size))
            self.path = str(path)

    return FileDisk


@dataclass
class InProcessWorkers(RecordingRealizer):
    served: dict[str, ScsiDevice] = field(default_factory=dict)

    def create_device(self, request: DeviceRequest) -> OpenedDevice:
        opened = super().create_device(request)
        self.served[request.name] = open_scsi_device(request.handler, request.name,
                                                     request.params)
        return opened

    def delete_device(self, name: str) -> None:
        super().delete_device(name)
        self.served.pop(name).close()

    def set_device_attribute(self, name: str, attribute: str, value: str) -> None:
        super().set_device_attribute(name, attribute, value)
        answer = apply_request(self.served, {"device": name, "set": attribute,
                                             "value": value})
        if not answer.get("ok"):
            raise OSError(answer["errno"], answer["message"])

    def attribute_calls(self) -> list[tuple]:
        return [arguments for operation, arguments in self.calls
                if operation == "set_device_attribute"]


def wait_until(condition: Any, timeout: float = 10.0) -> None:
    end = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > end:
            raise AssertionError("timed out")
        time.sleep(0.01)
