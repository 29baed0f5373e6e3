"""A real SCST tree of ours, FUSE-mounted in a temporary directory, for the tools that work on
SCST trees through the file system (the config tool, the shell).

The tree runs over a recording realizer: everything but LIO is real (handlers open their
backing files, the FUSE mount is the kernel's), and the realizer's log shows what would have
reached configfs.
"""

from __future__ import annotations

import os
import shutil
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from tcmu_scst.compat_sysfs import fuse_mount
from tcmu_scst.compat_sysfs.scst import ScstSystem
from tcmu_scst.testing.recording_realizer import RecordingRealizer


def fuse_unavailable() -> str | None:
    """Why a FUSE mount cannot be made here (None when it can)."""
    if not os.path.exists("/dev/fuse"):
        return "no /dev/fuse in this environment"
    if os.geteuid() != 0:
        return "mounting with allow_other needs root"
    try:
        fuse_mount._load_mfusepy()
    except fuse_mount.MountError as error:
        return str(error)
    return None


@dataclass
class MountedScst:
    system: ScstSystem
    realizer: Any  # the RecordingRealizer, unless the caller gave a system of its own
    root: Path


@contextmanager
def mounted_scst(system: ScstSystem | None = None) -> Iterator[MountedScst]:
    """Mount ``system``'s tree (default: a new one over a recording realizer)."""
    # Not under pytest's tmp_path: its parent is 0700 and non-root readers must reach the mount.
    mountpoint = Path(tempfile.mkdtemp(prefix="scst-tree-"))
    mountpoint.chmod(0o755)
    system = system or ScstSystem(RecordingRealizer())
    handle = fuse_mount.mount(system.tree, str(mountpoint))
    try:
        yield MountedScst(system, system.realizer, mountpoint)
    finally:
        handle.unmount()
        if os.path.ismount(mountpoint):
            fuse_mount._detach(str(mountpoint), lazy=True)
        shutil.rmtree(mountpoint, ignore_errors=True)
