"""SCST's ``copy_manager`` target driver: one fixed target, ``copy_manager_tgt``, whose LUN
set names the devices EXTENDED COPY may use.

Management: no ``mgmt`` file, no ``enabled`` switches (SCST counts its target as enabled),
no initiator groups; its files are made by :mod:`tcmu_scst.compat_sysfs.copy_manager`.

LIO: nothing.  Our handlers carry out the copies in the data plane, so its LUN set becomes
each device's entry in the reach directory the workers read (``lio`` is None).
"""

from __future__ import annotations

from ..compat_sysfs.names import COPY_MANAGER
from .base import TargetDriver

COPY_MANAGER_DRIVER = TargetDriver(name=COPY_MANAGER, lio=None, target_switch=False,
                                   copy_reach=True)
