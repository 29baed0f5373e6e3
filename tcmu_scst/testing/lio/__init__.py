"""An in-memory emulation of LIO's configfs, for unit tests of everything above it.

``emulated_lio()`` returns an :class:`EmulatedConfigfs` whose ``target/`` behaves like Debian
12's kernel (6.1) with ``target_core_user``, ``iscsi_target_mod``, ``tcm_loop`` and
``tcm_fc`` loaded: ``mkdir`` of a known object creates its default groups and attributes,
attribute writes are validated with the kernel's errnos, symlinks follow the fabric rules,
and removal is refused where the kernel refuses it.  ``tests/system/test_lio_vm.py`` runs the
same scenario here and on the real kernel and compares every outcome.

Not emulated: statistics (the files exist, empty; the iSCSI instance's session count
excepted) and PR contents, ALUA groups, backstores other than ``user`` beyond their common
files, CHAP during logins, and netlink.
"""

from __future__ import annotations

from pathlib import Path

from .core import TargetRoot
from .fabric import Fabric
from .fc import FcFabric
from .filesystem import EmulatedConfigfs, Operation
from .iscsi import IscsiFabric
from .iscsi_player import busy, discoverable, login, logout, sessions_of, visible_luns
from .kernel import KernelState
from .loopback import LoopbackFabric
from .nodes import Group

FABRICS: dict[str, type[Fabric]] = {
    "iscsi": IscsiFabric,
    "loopback": LoopbackFabric,
    "fc": FcFabric,
}

__all__ = ["EmulatedConfigfs", "KernelState", "Operation", "busy", "discoverable",
           "emulated_lio", "login", "logout", "sessions_of", "visible_luns"]


def emulated_lio(sysfs: Path | None = None, fabrics: tuple[str, ...] = tuple(FABRICS),
                 release: str = "6.1.0-emulated") -> EmulatedConfigfs:
    """A fresh emulated configfs with LIO's ``target/`` (and the given fabric modules).

    With ``sysfs``, disks that the loopback fabric creates also appear under that directory
    as ``class/scsi_device/H:C:T:L/device/block/sdX``.
    """
    kernel = KernelState(release=release, sysfs=sysfs)
    top = Group("", None, default=True)
    top.adopt(TargetRoot(top, kernel, {name: FABRICS[name] for name in fabrics}))
    return EmulatedConfigfs(top, kernel)
