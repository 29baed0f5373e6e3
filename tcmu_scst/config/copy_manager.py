"""The copy manager's block of a configuration (``TARGET_DRIVER copy_manager``).

SCST numbers the copy manager's LUNs itself: every device gets one when it is created, at
the next number of a counter that keeps counting past deleted devices, so a file written by
``-write_config`` rarely has the numbers a new system gives the same devices.  Its LUNs are
seen by no initiator (they say which devices EXTENDED COPY may use), and scstadmin applies
them as SCST takes them, which is what is done here:

* a LUN the tree already has, with that device, is matched;
* a LUN at a number the copy manager gives another device is left as it is (scstadmin
  skips it: the copy manager reaches the file's device through its own LUN), with a
  warning;
* a LUN at a free number is added, so the device may have two, as on SCST;
* the copy manager refuses read-only devices at a LUN of the file's choosing (they get
  theirs only when created): such a refusal is a warning, not a failure;
* with ``force`` the set is made the file's: other devices' LUNs are replaced, LUNs the
  file lacks are deleted (but never the automatic LUN of a device whose own was refused).

A file without the block leaves the copy manager alone (its LUNs come and go with the
devices), and nothing about it is ever reported as missing from the file.
"""

from __future__ import annotations

import errno
from typing import TYPE_CHECKING

from ..compat_sysfs.copy_manager import COPY_MANAGER
from .model import Lun, Target
from .scst_conf import ConfigError

if TYPE_CHECKING:
    from .apply import Applier


def check_target(target: Target, source: str) -> None:
    """What the copy manager would refuse halfway through: initiator groups."""
    for group in target.groups.values():
        raise ConfigError(f"{COPY_MANAGER}/{target.name}: GROUP {group.name}: the copy manager "
                          "has no initiator groups; remove the GROUP block", group.line, source)


def apply_luns(applier: Applier, directory: str, wanted: dict[int, Lun],
               seen_at_start: dict[int, Lun]) -> None:
    """Bring the copy manager's ``luns/`` at ``directory`` to the file's (module doc)."""
    if applier.dry_run:
        live = {number: lun.device for number, lun in seen_at_start.items()}
    else:  # read again: the devices created by this run got their LUNs meanwhile
        live = applier.tree.luns(directory)
    where = {}  # device -> a LUN the copy manager has for it
    for number, device in sorted(live.items(), reverse=True):
        where[device] = number
    refused: set[str] = set()
    for number, lun in sorted(wanted.items()):
        current = live.get(number)
        if current == lun.device:
            continue
        if applier.dry_run and lun.device in applier.created:
            continue  # it is given a LUN as it is created; its number is the tree's
        if current is not None and not applier.force:
            also = (f"; it reaches {lun.device} at LUN {where[lun.device]}"
                    if lun.device in where else "")
            applier.warn(f"{directory}/{number} is {current}'s (numbered as the device was "
                         f"created), not {lun.device}'s: left as it is{also} (-force makes "
                         "the copy manager's LUNs the file's)")
            continue
        verb = "add" if current is None else "replace"
        if not _write(applier, f"{directory}/mgmt", f"{verb} {lun.device} {number}"):
            refused.add(lun.device)
    if not applier.force:
        return
    for number in sorted(set(live) - set(wanted)):
        if live[number] not in refused:
            applier.write(f"{directory}/mgmt", f"del {number}")


def _write(applier: Applier, path: str, text: str) -> bool:
    """One write the copy manager may refuse (EINVAL: a read-only device): then a warning."""
    return applier.write(path, text, warn_on=(
        errno.EINVAL, "refused by the copy manager; SCST gives a read-only device a copy "
        "manager LUN only as it is created"))
