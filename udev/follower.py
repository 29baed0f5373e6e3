"""What the daemon does about a settled batch of udev events for one disk.

``vdisk_blockio`` devices are followed by the identity of the disk behind them, learnt when
the device is added: its WWN or serial (from the udev database), and the node it is open
at.  For each batch (see ``debounce``) of one disk:

* a disk we export ourselves is ignored (``ownership``);
* a followed disk that is gone: its device goes offline (the worker answers NOT READY), or,
  if the auto-export policy made the device, the device and its LUNs are deleted;
* a followed disk that is there after being gone (in this batch or before), or under
  another node: the worker opens it again (at the device's ``filename`` when udev lists it
  among the disk's links, else at the new node, which then becomes the ``filename``), the
  device is back online, the initiator gets a unit attention;
* a followed disk whose size changed: ``resync_size``, the initiator gets CAPACITY DATA HAS
  CHANGED, the tree shows the new size;
* any other disk that appears: the first auto-export rule that matches it exports it.

A disk is "the same" only by WWN or serial.  A device over a disk that has neither (a loop
device, say) goes offline when its node goes, but is not reattached automatically: nothing
proves the disk that turns up later holds the same data.

All tree changes are made under the tree's lock, through the same tree API as the FUSE
front end (``mgmt`` writes for devices and LUNs); worker requests go through the realizer,
so the tree, LIO and the workers stay in step.
"""

from __future__ import annotations

import errno
import logging
import time
from collections.abc import Callable
from dataclasses import dataclass

from ..compat_sysfs.devices import Device
from ..compat_sysfs.scst import ScstSystem
from ..handlers.block_hotplug import BACKING
from ..handlers.registry import device_identity
from ..handlers.vdisk_blockio import HANDLER
from .events import DiskEvent
from .ownership import is_own_export
from .policy import AutoExportRule, HotplugConfig

log = logging.getLogger(__name__)

Resolver = Callable[[str], "DiskEvent | None"]  # a path -> the disk there now, from udev
RETRIES = 5  # a worker that is restarting answers EAGAIN for a moment
RETRY_DELAY = 0.2


@dataclass
class Followed:
    """The disk behind one ``vdisk_blockio`` device."""

    name: str
    wwn: str | None
    serial: str | None
    node: str | None  # where it is open now; None while it is gone

    @property
    def identified(self) -> bool:
        return bool(self.wwn or self.serial)

    def same_disk(self, event: DiskEvent) -> bool:
        if self.wwn and event.wwn:
            return self.wwn == event.wwn
        if self.serial and event.serial:
            return self.serial == event.serial
        # without an identity on one side, only the node it is open at can tell
        return self.node is not None and event.devname == self.node


class HotplugFollower:
    def __init__(self, system: ScstSystem, config: HotplugConfig | None = None,
                 resolve: Resolver = lambda path: None):
        self.system = system
        self.config = config or HotplugConfig()
        self.resolve = resolve
        self.followed: dict[str, Followed] = {}
        self.auto_exported: set[str] = set()
        system.devices.after_add.append(self.device_added)

    @property
    def registry(self) -> dict[str, Device]:
        return self.system.devices.devices

    # --- learning what backs a device -----------------------------------------------------

    def device_added(self, device: Device) -> None:
        """Called by the registry after ``add_device``: remember which disk backs it."""
        if device.handler != HANDLER:
            return
        filename = device.params.get("filename", "")
        try:
            disk = self.resolve(filename)
        except Exception:  # the device exists now: never fail its creation over this
            log.exception("%s: cannot look %s up in udev", device.name, filename)
            disk = None
        self.followed[device.name] = self._followed(device.name, filename, disk)
        entry = self.followed[device.name]
        log.info("following %s for device %s (wwn %s, serial %s)", entry.node, device.name,
                 entry.wwn or "-", entry.serial or "-")

    @staticmethod
    def _followed(name: str, filename: str, disk: DiskEvent | None) -> Followed:
        if disk is None:
            return Followed(name, None, None, filename)
        return Followed(name, disk.wwn, disk.serial, disk.devname or filename)

    # --- events -----------------------------------------------------------------------------

    def own_export(self, event: DiskEvent) -> bool:
        vendors, serials = [], []
        for device in self.registry.values():
            ident = device_identity(device.handler, device.name, device.params)
            vendors.append(ident.vendor)
            serials.append(ident.usn)
        return is_own_export(event, vendors, serials)

    def handle(self, events: list[DiskEvent]) -> None:
        """One settled batch of events of one disk, oldest first.

        A management step like a command (``commands``: none runs meanwhile); the devices
        it follows change under the tree's lock, and an auto-export is written after it,
        as commands are, so that readers are let in while the new device's worker starts.
        """
        tree = self.system.tree
        with tree.commands:
            with tree.lock:
                for name in [name for name in self.followed if name not in self.registry]:
                    del self.followed[name]
                    self.auto_exported.discard(name)
                if any(self.own_export(event) for event in events):
                    log.debug("ignoring our own export %s", events[-1].devname)
                    return
                last = events[-1]
                went_away = any(not event.present for event in events[:-1])
                matching = [entry for entry in self.followed.values()
                            if any(entry.same_disk(event) for event in events)]
                for entry in matching:
                    self._adopt(entry, last)
                    self._follow(entry, last, went_away)
            if not matching and last.present and last.action in ("add", "change"):
                self._auto_export(last)

    def _adopt(self, entry: Followed, event: DiskEvent) -> None:
        """A device over this disk with the very name an auto-export rule gives it (one
        restored from a saved configuration, say) is the rule's: it goes with its disk."""
        rule = self.config.rule_for(event)
        if rule is not None and rule.device_name(event) == entry.name and \
                entry.name not in self.auto_exported:
            log.info("device %s: treated as exported by the auto-export rule", entry.name)
            self.auto_exported.add(entry.name)

    def _follow(self, entry: Followed, event: DiskEvent, went_away: bool) -> None:
        device = self.registry[entry.name]
        if not event.present:
            if entry.name in self.auto_exported:
                self._unexport(entry.name, event)
            else:
                self._detach(entry, device)
            return
        moved = entry.node != event.devname
        if device.offline or went_away or moved:
            if not entry.identified:
                log.warning("device %s: a disk without WWN or serial appeared at %s; not "
                            "reattached (nothing proves it is the same disk)", entry.name,
                            event.devname)
                self._detach(entry, device)
                return
            self._reattach(entry, device, event)
        elif event.size is not None and event.size != device.size and \
                self._tell_worker(entry.name, "resync_size", "1"):
            log.info("device %s: size %d -> %d", entry.name, device.size, event.size)
            device.size = event.size

    def _detach(self, entry: Followed, device: Device) -> None:
        if not device.offline and self._tell_worker(entry.name, BACKING, ""):
            device.offline = True
            log.warning("device %s is offline: %s is gone", entry.name, entry.node)
        entry.node = None

    def _reattach(self, entry: Followed, device: Device, event: DiskEvent) -> None:
        filename = device.params.get("filename", "")
        path = filename if filename in (event.devname, *event.links) else event.devname
        if path is None:
            return
        if not self._tell_worker(entry.name, BACKING, path):
            return
        device.offline = False
        entry.node = event.devname
        if path != filename:
            log.info("device %s: its disk is at %s now; filename follows", entry.name, path)
            device.params["filename"] = path
            # a saved configuration names the new node too
            self.system.tree.changed(f"/devices/{entry.name}/filename")
        if event.size:
            device.size = event.size
        log.info("device %s is online again at %s", entry.name, path)

    def _tell_worker(self, name: str, attribute: str, value: str) -> bool:
        for attempt in range(RETRIES):
            try:
                self.system.realizer.set_device_attribute(name, attribute, value)
                return True
            except OSError as error:
                if error.errno == errno.EAGAIN and attempt + 1 < RETRIES:
                    time.sleep(RETRY_DELAY)
                    continue
                log.error("device %s: %s=%r refused: %s", name, attribute, value,
                          error.strerror or error)
                return False
        return False

    # --- auto-export ------------------------------------------------------------------------

    def _auto_export(self, event: DiskEvent) -> None:
        rule = self.config.rule_for(event)
        if rule is None or not event.size:
            return
        name = rule.device_name(event)
        if name in self.registry:
            log.warning("auto-export of %s: a device %s exists already", event.devname, name)
            return
        path = event.stable_path()
        params = f"filename={path}" + (f"; {rule.params}" if rule.params else "")
        tree = self.system.tree
        try:
            tree.write(f"/handlers/{HANDLER}/mgmt", f"add_device {name} {params}")
        except OSError as error:
            log.error("auto-export of %s as %s failed: %s", path, name, error.strerror or error)
            return
        self.followed[name] = Followed(name, event.wwn, event.serial, event.devname)
        self.auto_exported.add(name)
        try:
            lun = self._free_lun(rule)
            tree.write(f"{rule.luns_path}/mgmt", f"add {name} {lun}")
        except OSError as error:
            log.error("auto-export of %s: no LUN in %s (%s); device %s removed again",
                      path, rule.luns_path, error.strerror or error, name)
            self._unexport(name, event)
            return
        log.info("auto-exported %s as device %s, LUN %d of %s", path, name, lun,
                 rule.luns_path)

    def _free_lun(self, rule: AutoExportRule) -> int:
        used = {int(entry) for entry in self.system.tree.listdir(rule.luns_path)
                if entry.isdigit()}
        return next(number for number in range(len(used) + 1) if number not in used)

    def _unexport(self, name: str, event: DiskEvent) -> None:
        """Delete an auto-exported device; the registry unmaps its LUNs first."""
        try:
            self.system.tree.write(f"/handlers/{HANDLER}/mgmt", f"del_device {name}")
        except OSError as error:
            log.error("removing auto-exported device %s failed: %s", name,
                      error.strerror or error)
            return
        self.followed.pop(name, None)
        self.auto_exported.discard(name)
        log.info("auto-exported device %s removed: %s is gone", name, event.devname)
