"""SCST's target drivers, one object each: what management sees of it and how LIO holds it.

A target driver is the directory ``targets/<driver>/`` of the SCST tree.  Each one here is a
:class:`~.base.TargetDriver` (``iscsi``, ``scst_local``, ``fcst`` and ``copy_manager``), and
everything that differs between drivers is a field or a method of it, in two parts:

* the **management side**, on the driver object itself: which ``mgmt`` verbs it takes
  (``add_target``, ``add_attribute``, ``add_session`` ...) and so its help text, what
  ``add_target`` accepts, its account attributes, whether the driver and its targets have an
  ``enabled`` switch, the attribute files a target shows (iSCSI's negotiation keys, with the
  defaults of :data:`~tcmu_scst.compat_sysfs.iscsi_params.ISCSI_KEYS`), a group's knobs, and
  where its targets and sessions come from (``fcst``: the host's FC ports; ``scst_local``:
  sessions made by ``add_session``);
* the **LIO side**, on ``driver.lio`` (a :class:`~.lio_layout.LioLayout`, None for the copy
  manager, which our data plane realises without an LIO object): the fabric's TPG class, how
  a target's TPG is made (iSCSI: the portal, demo mode, SCST's keys), the SPC protocol its
  ports report, whether it has demo mode, the rule for who sees which LUN (the access plan,
  with its group LUN numbering; ``scst_local``: its one session's LUN set as it is), whether
  a read-only LUN in a target's own set can be expressed, and where CHAP accounts go.

The tree (``compat_sysfs/targets.py``, ``copy_manager.py``), the LIO realizer, the crash
clean-up and the port rings all ask these objects, so a driver's facts are stated here once.
One object with two parts, rather than two registries linked by name, because every caller
that knows a driver's name wants one answer for it; the parts stay apart so that each side
reads like what it describes.

Importing this package loads no LIO fabric module (a layout loads its TPG class on first
use) and nothing of the tree beyond its grammar, help texts and knob tables, so the config
tool and the saveconfig export can use it too; the data-plane workers never need it.
"""

from __future__ import annotations

import errno
from collections.abc import Iterator

from .base import Creation, TargetDriver
from .copy_manager import COPY_MANAGER_DRIVER
from .fcst import FCST_DRIVER
from .iscsi import ISCSI_DRIVER, ISCSI_LAYOUT
from .lio_layout import LioLayout
from .scst_local import LOCAL_DRIVER

# in the order targets/ lists them
DRIVERS: dict[str, TargetDriver] = {driver.name: driver for driver in (
    ISCSI_DRIVER, LOCAL_DRIVER, FCST_DRIVER, COPY_MANAGER_DRIVER)}

__all__ = ["COPY_MANAGER_DRIVER", "DRIVERS", "FCST_DRIVER", "ISCSI_DRIVER", "ISCSI_LAYOUT",
           "LOCAL_DRIVER", "Creation", "LioLayout", "TargetDriver", "driver_of",
           "lio_drivers"]


def driver_of(name: str) -> TargetDriver:
    """The driver called ``name``; EINVAL for a driver this target does not have."""
    driver = DRIVERS.get(name)
    if driver is None:
        raise OSError(errno.EINVAL, f"target driver {name!r} is not available")
    return driver


def lio_drivers() -> Iterator[TargetDriver]:
    """The drivers whose targets are LIO targets (all but the copy manager), in order."""
    return (driver for driver in DRIVERS.values() if driver.lio is not None)
