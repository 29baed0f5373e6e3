"""LIO configfs operations (target core backstores and fabrics), rooted at a parameter.

Every operation goes through :class:`~tcmu_scst.lio.configfs.Configfs`: pass a
:class:`RealConfigfs` (or just its mount point) for the kernel, or the emulation from
:func:`tcmu_scst.lio.emulation.emulated_lio` in unit tests.
"""

from .backstore import (
    Backstore,
    UserBackstore,
    create_fileio_backstore,
    create_user_backstore,
    list_backstores,
    remove_backstore,
    remove_user_backstore,
    unused_hba_index,
)
from .chap import Chap
from .configfs import DEFAULT_CONFIGFS, Configfs, ConfigfsError, RealConfigfs, as_configfs
from .fc import FcPort, FcTarget, colon_wwpn, local_port_wwpns, local_ports
from .iscsi import IscsiTarget, discovery_chap, list_targets, set_discovery_chap
from .loopback import LoopbackExport, random_naa
from .sessions import IscsiConnection, IscsiSession
from .tpg import MappedLun, NodeAcl, TargetPortalGroup

__all__ = [
    "DEFAULT_CONFIGFS",
    "Backstore",
    "Chap",
    "Configfs",
    "ConfigfsError",
    "FcPort",
    "FcTarget",
    "IscsiConnection",
    "IscsiSession",
    "IscsiTarget",
    "LoopbackExport",
    "MappedLun",
    "NodeAcl",
    "RealConfigfs",
    "TargetPortalGroup",
    "UserBackstore",
    "as_configfs",
    "colon_wwpn",
    "create_fileio_backstore",
    "create_user_backstore",
    "discovery_chap",
    "list_backstores",
    "list_targets",
    "local_port_wwpns",
    "local_ports",
    "random_naa",
    "remove_backstore",
    "remove_user_backstore",
    "set_discovery_chap",
    "unused_hba_index",
]
