"""Saving an scst.conf: where it goes, and private when it holds CHAP secrets.

``IncomingUser``/``OutgoingUser`` lines carry CHAP secrets, so a file with any is written
0600, one without 0644; the directory is made when missing (the daemon's
``/var/lib/tcmu-scst`` on a first start).  The writing itself, atomic, is
:func:`tcmu_scst.config.atomic_file.write_atomically`.
"""

from __future__ import annotations

import os

from .atomic_file import PRIVATE, SHARED, write_atomically
from .model import Attributes, ScstConfig

SECRET_ATTRIBUTES = ("IncomingUser", "OutgoingUser")


def _secret(attributes: Attributes) -> bool:
    return any(name.rstrip("0123456789") in SECRET_ATTRIBUTES for name in attributes.names())


def has_secrets(config: ScstConfig) -> bool:
    """True when any block carries a CHAP account."""
    if _secret(config.attributes):
        return True
    for driver in config.drivers.values():
        if _secret(driver.attributes):
            return True
        for target in driver.targets.values():
            if _secret(target.attributes) or any(_secret(group.attributes)
                                                 for group in target.groups.values()):
                return True
    return False


def save_atomically(path: str, text: str, secret: bool) -> None:
    """Replace the scst.conf at ``path`` with ``text`` in one step, 0600 if ``secret``."""
    os.makedirs(os.path.dirname(os.path.abspath(path)), exist_ok=True)
    write_atomically(path, text, PRIVATE if secret else SHARED)
