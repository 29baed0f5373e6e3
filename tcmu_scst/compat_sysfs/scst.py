"""The whole SCST tree: root files, ``handlers/``, ``devices/``, ``targets/``,
``device_groups/``.

``ScstSystem`` owns the object model and the realizer, and its :class:`Tree` records the
result of every write in ``last_sysfs_mgmt_res`` (``0`` or a negative errno), which SCST's
tools read after a write.
"""

from __future__ import annotations

import logging
from collections.abc import Callable

from .copy_manager import CopyManager
from .device_groups import DeviceGroups
from .devices import DeviceRegistry
from .fixed_knobs import ROOT_KNOBS
from .grammar import c_integer, invalid
from .luns import LunManager
from .names import TRACE_LEVEL, VERSION
from .nodes import Attribute, Directory, Node, Tree, fixed
from .realizer import Realizer
from .targets import Targets

log = logging.getLogger(__name__)


class ScstTree(Tree):
    """A Tree that remembers the last write's result, as SCST's sysfs does, and counts its
    changes (``generation``: a reader that saw the same number before and after it read
    the tree piece by piece saw one state)."""

    def __init__(self, root: Directory):
        super().__init__(root)
        self.last_result = 0
        self.generation = 0
        # told the path of every write that succeeded (the daemon saves its config then)
        self.on_change: Callable[[str], None] | None = None

    def finished(self, path: str, error: OSError | None) -> None:
        if error is not None:
            self.last_result = -(error.errno or 5)
            log.debug("%s: %s", path, error.strerror or error)  # the front end logs it
            return
        self.last_result = 0
        self.changed(path)

    def changed(self, path: str) -> None:
        """The configuration changed at ``path`` (a write, or the udev watcher following a
        disk); call with the tree's lock held."""
        self.generation += 1
        if self.on_change is not None:
            self.on_change(path)


class ScstSystem:
    def __init__(self, realizer: Realizer):
        self.realizer = realizer
        self.devices = DeviceRegistry(realizer)
        self.luns = LunManager(self.devices, realizer)
        self.targets = Targets(self.devices, self.luns, realizer)
        self.device_groups = DeviceGroups(self.devices, self.targets, realizer)
        self.copy_manager = CopyManager(self.devices, self.luns, self.targets, realizer)
        self.setup_id = 0
        # the root's entries are always the same nodes (their contents change): built once,
        # not at every lookup of every path
        self.tree = ScstTree(Directory(fixed(self._root_entries())))
        # a device's worker starts with readers let in (see Tree.unlocked)
        self.devices.outside_lock = self.tree.unlocked

    def _root_entries(self) -> dict[str, Node]:
        return {
            "version": Attribute(read=lambda: f"SCST version: {VERSION}\n"),
            "last_sysfs_mgmt_res": Attribute(read=lambda: f"{self.tree.last_result}\n"),
            "setup_id": Attribute(read=self._read_setup_id, write=self._write_setup_id),
            **{knob.name: knob.node() for knob in ROOT_KNOBS},
            "trace_level": Attribute(read=lambda: f"{TRACE_LEVEL}\n"),
            "handlers": self.devices.handlers_directory(),
            "devices": self.devices.devices_directory(),
            "targets": self.targets.directory(),
            "device_groups": self.device_groups.directory(),
        }

    def _read_setup_id(self) -> str:
        return f"{self.setup_id:#x}\n" + ("[key]\n" if self.setup_id else "")

    def _write_setup_id(self, text: str) -> None:
        value = c_integer(text, "setup_id")
        if not 0 <= value <= 0xFFFFFFFF:
            raise invalid("setup_id is an unsigned 32-bit number")
        self.setup_id = value
