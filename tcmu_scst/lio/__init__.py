"""LIO configfs operations (target core backstores and fabrics), rooted at a parameter.

Every operation goes through :class:`~tcmu_scst.lio.configfs.Configfs`: pass a
:class:`RealConfigfs` (or just its mount point) for the kernel, or the emulation from
:func:`tcmu_scst.testing.lio.emulated_lio` in unit tests.

The names below are loaded on first use (PEP 562), not when the package is imported: the
config tool needs only :mod:`.access_plan`, and loading every fabric module cost each of
its runs a third of its start (seconds in a TCG guest).
"""

from __future__ import annotations

import importlib
from typing import Any

_EXPORTS = {  # name: the submodule that defines it
    "Backstore": "backstore",
    "UserBackstore": "backstore",
    "create_fileio_backstore": "backstore",
    "create_user_backstore": "backstore",
    "list_backstores": "backstore",
    "remove_backstore": "backstore",
    "remove_user_backstore": "backstore",
    "unused_hba_index": "backstore",
    "Chap": "chap",
    "DEFAULT_CONFIGFS": "configfs",
    "Configfs": "configfs",
    "ConfigfsError": "configfs",
    "RealConfigfs": "configfs",
    "as_configfs": "configfs",
    "FcPort": "fc",
    "FcTarget": "fc",
    "colon_wwpn": "fc",
    "local_port_wwpns": "fc",
    "local_ports": "fc",
    "IscsiTarget": "iscsi",
    "discovery_chap": "iscsi",
    "list_targets": "iscsi",
    "set_discovery_chap": "iscsi",
    "LoopbackExport": "loopback",
    "random_naa": "loopback",
    "IscsiConnection": "sessions",
    "IscsiSession": "sessions",
    "MappedLun": "tpg",
    "NodeAcl": "tpg",
    "TargetPortalGroup": "tpg",
}

__all__ = sorted(_EXPORTS)  # noqa: PLE0605 (the names are stated once, in the table)


def __getattr__(name: str) -> Any:
    module = _EXPORTS.get(name)
    if module is None:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    value = getattr(importlib.import_module(f".{module}", __name__), name)
    globals()[name] = value  # once loaded, an ordinary attribute
    return value


def __dir__() -> list[str]:
    return sorted([*globals(), *_EXPORTS])

