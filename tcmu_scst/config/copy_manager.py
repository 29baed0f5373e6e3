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
* with ``force``, as scstadmin's ``-config -force``: the LUNs the file lacks are deleted
  before any device is created (:func:`remove_unlisted`), all of them for a target the
  file has no block for; scstadmin reads the tree again only after it re-creates a
  device, so the automatic LUNs of devices created up to then are deleted too, and those
  of devices created after that are kept (:func:`apply_luns`).  A LUN at a number the
  copy manager gives another device that may go is replaced.  Where scstadmin would fail,
  this does not: the automatic LUN of a read-only device whose LUN in the file is refused
  is never deleted (the device would lose its reach).

Without ``force`` a file without the block leaves the copy manager alone (its LUNs come
and go with the devices), and nothing about it is ever reported as missing from the file.
"""

from __future__ import annotations

import errno
from typing import TYPE_CHECKING

from ..compat_sysfs.names import COPY_MANAGER
from .model import Driver, Lun, ScstConfig, Target
from .scst_conf import ConfigError

if TYPE_CHECKING:
    from .apply import Applier


def check_target(target: Target, source: str) -> None:
    """What the copy manager would refuse halfway through: initiator groups."""
    for group in target.groups.values():
        raise ConfigError(f"{COPY_MANAGER}/{target.name}: GROUP {group.name}: the copy manager "
                          "has no initiator groups; remove the GROUP block", group.line, source)


def _matches(wanted: dict[int, Lun], number: int, device: str) -> bool:
    return number in wanted and wanted[number].device == device


def _file_luns(config: ScstConfig, target: str) -> dict[int, Lun]:
    """The file's LUNs for a copy manager target (none when it has no block for it)."""
    driver = config.drivers.get(COPY_MANAGER)
    found = driver.targets.get(target) if driver is not None else None
    return found.luns if found is not None else {}


def _has_block(config: ScstConfig, target: str) -> bool:
    return target in config.drivers.get(COPY_MANAGER, Driver(COPY_MANAGER)).targets


def remove_unlisted(applier: Applier, config: ScstConfig, running: ScstConfig) -> None:
    """``-force``, with the other removals, before any device is created: scstadmin's
    first removal pass deletes every copy manager LUN the file does not have (number and
    device), all of them when the file has no block.  A LUN whose device the file names at
    another number waits for :func:`apply_luns` (the copy manager may refuse that one, and
    then the device keeps its reach).  The LUNs are forgotten in ``running`` too, which
    later steps consult."""
    driver = running.drivers.get(COPY_MANAGER)
    for target in driver.targets.values() if driver is not None else ():
        wanted = _file_luns(config, target.name)
        elsewhere = {lun.device for lun in wanted.values()}
        directory = f"targets/{COPY_MANAGER}/{target.name}/luns"
        if target.luns and not _has_block(config, target.name):
            applier.warn(f"{directory}: the file has no {COPY_MANAGER} block for "
                         f"{target.name}; -force deletes its LUNs as scstadmin does, which "
                         "takes those devices out of EXTENDED COPY's reach (-write_config "
                         "writes the block)")
        for number, lun in sorted(target.luns.items()):
            if _matches(wanted, number, lun.device) or lun.device in elsewhere:
                continue
            applier.write(f"{directory}/mgmt", f"del {number}")
            del target.luns[number]


def apply_unlisted(applier: Applier, config: ScstConfig, running: ScstConfig) -> None:
    """``-force`` with a file that has no block for a copy manager target: after the
    devices, the second pass of :func:`apply_luns` (with no LUNs wanted)."""
    driver = running.drivers.get(COPY_MANAGER)
    for target in driver.targets.values() if driver is not None else ():
        if not _has_block(config, target.name):
            apply_luns(applier, f"targets/{COPY_MANAGER}/{target.name}/luns", {},
                       target.luns)


def apply_luns(applier: Applier, directory: str, wanted: dict[int, Lun],
               seen_at_start: dict[int, Lun]) -> None:
    """Bring the copy manager's ``luns/`` at ``directory`` to the file's (module doc).

    With ``force`` this is scstadmin's second removal pass and its additions: it re-reads
    the tree only after it re-creates a device, so the LUNs it may delete here are those
    of devices that were there before the run (the first pass, :func:`remove_unlisted`,
    left them for this one) and of devices created up to its last re-reading
    (``applier.rescanned``); a device created after that keeps its automatic LUN."""
    if applier.dry_run:
        live = {number: lun.device for number, lun in seen_at_start.items()}
    else:  # read again: the devices created by this run got their LUNs meanwhile
        live = applier.tree.luns(directory)
    where = {}  # device -> a LUN the copy manager has for it
    for number, device in sorted(live.items(), reverse=True):
        where[device] = number

    def removable(number: int, device: str) -> bool:
        return applier.force and not _matches(wanted, number, device) and (
            device not in applier.created or device in applier.rescanned)

    refused: set[str] = set()
    for number, lun in sorted(wanted.items()):
        current = live.get(number)
        if current == lun.device:
            continue
        if applier.dry_run and lun.device in applier.created:
            continue  # it is given a LUN as it is created; its number is the tree's
        if current is not None and not removable(number, current):
            also = (f"; it reaches {lun.device} at LUN {where[lun.device]}"
                    if lun.device in where else "")
            applier.warn(f"{directory}/{number} is {current}'s (numbered as the device was "
                         f"created), not {lun.device}'s: left as it is{also}" + (
                             "" if applier.force else
                             " (-force makes the copy manager's LUNs the file's)"))
            continue
        verb = "add" if current is None else "replace"
        if not _write(applier, f"{directory}/mgmt", f"{verb} {lun.device} {number}"):
            refused.add(lun.device)
    for number in sorted(set(live) - set(wanted)):
        if removable(number, live[number]) and live[number] not in refused:
            applier.write(f"{directory}/mgmt", f"del {number}")


def _write(applier: Applier, path: str, text: str) -> bool:
    """One write the copy manager may refuse (EINVAL: a read-only device): then a warning."""
    return applier.write(path, text, warn_on=(
        errno.EINVAL, "refused by the copy manager; SCST gives a read-only device a copy "
        "manager LUN only as it is created"))
