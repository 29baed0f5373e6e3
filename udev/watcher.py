"""The daemon's udev watcher: pyudev's observer thread feeding the debouncer and follower.

Three threads take part, none of them a data-plane thread:

* pyudev's ``MonitorObserver`` reads the netlink socket (events after udev's rules ran, so
  WWN, serial and ``/dev/disk/by-id`` links are known) and copies each whole-disk event into
  a :class:`DiskEvent` at once (sysfs is gone after ``remove``);
* the :class:`Debouncer` thread waits for each disk's burst to settle and hands the batch to
  the :class:`HotplugFollower`, which changes the tree and tells the device's worker;
* the workers (separate processes) get one control request per settled batch, between two
  batches of SCSI commands.

The monitor filters by subsystem and device type in the kernel (a BPF filter on the socket),
so partitions and other subsystems never wake the observer.  ``99-tcmu-scst.rules`` is not
needed for any of this; where it is installed it marks our own exports for other tools too.
"""

from __future__ import annotations

import logging
from typing import Any

from ..compat_sysfs.scst import ScstSystem
from .debounce import Debouncer
from .events import DiskEvent, capture, is_whole_disk
from .follower import HotplugFollower
from .policy import HotplugConfig

log = logging.getLogger(__name__)


class HotplugWatcher:
    """Follows block disks for ``system``; ``monitor`` and ``context`` replace pyudev's
    (tests drive a fake monitor through the real observer thread)."""

    def __init__(self, system: ScstSystem, config: HotplugConfig | None = None,
                 monitor: Any = None, context: Any = None):
        import pyudev  # noqa: PLC0415 (the daemon runs without hotplug when libudev is missing)

        self.config = config or HotplugConfig()
        self.context = context
        if monitor is None:
            self.context = context or pyudev.Context()
            monitor = pyudev.Monitor.from_netlink(self.context, source="udev")
            monitor.filter_by("block", device_type="disk")
        self.monitor = monitor
        self.follower = HotplugFollower(system, self.config, self.resolve)
        self.debouncer = Debouncer(self.follower.handle, self.config.quiet,
                                   self.config.patience)
        self.observer = pyudev.MonitorObserver(monitor, callback=self.on_device,
                                               name="udev-observer")
        self.events_seen = 0

    def on_device(self, device: Any) -> None:
        """pyudev's callback, in its observer thread: copy and queue, never wait.  It must
        not raise either: an exception would end the observer thread."""
        try:
            if not is_whole_disk(device):
                return
            self.events_seen += 1
            self.debouncer.submit(capture(device))
        except Exception:
            log.exception("udev event %r could not be read", device)

    def resolve(self, path: str) -> DiskEvent | None:
        """The disk at ``path`` now, from the udev database (None when udev does not know
        it, e.g. in a container without udevd)."""
        if self.context is None:
            return None
        import pyudev  # noqa: PLC0415

        try:
            device = pyudev.Devices.from_device_file(self.context, path)
        except (pyudev.DeviceNotFoundError, OSError, ValueError):
            return None
        return capture(device, action="add")

    def coldplug(self) -> int:
        """Queue the whole disks present now, as if they had just been added, so the
        auto-export policy sees them too; returns how many."""
        if self.context is None or not self.config.rules:
            return 0
        count = 0
        for device in self.context.list_devices(subsystem="block", DEVTYPE="disk"):
            try:
                self.debouncer.submit(capture(device, action="add"))
                count += 1
            except Exception:
                log.exception("disk %s could not be read", device)
        return count

    def start(self) -> None:
        self.debouncer.start()
        self.observer.start()
        queued = self.coldplug()
        log.info("udev watcher started (%d disks present queued for auto-export, %d rules)",
                 queued, len(self.config.rules))

    def stop(self) -> None:
        if self.observer.is_alive():
            self.observer.stop()
        self.debouncer.stop()
