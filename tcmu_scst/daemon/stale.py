"""What a killed daemon left behind in LIO, cleared before a new daemon starts.

A daemon stopped with SIGTERM removes its LIO objects and workers.  One that was SIGKILLed
(or crashed) cannot: its iSCSI/tcm_loop/tcm_fc targets and TCMU backstores stay in configfs,
and its workers keep serving their rings (they outlive the supervisor on purpose, so I/O
goes on until someone takes over).  The new daemon restores the saved configuration under
the same names, which LIO would refuse (EEXIST), so it first removes what is recognisably
ours: backstores on ``core/user_N`` with N >= our HBA base, every fabric target exporting
one of them or named in the saved configuration, and the orphaned workers serving them.
Initiators see their connection drop and log in again once the restored targets are up; the
data is in the backing files, which nothing here touches.
"""

from __future__ import annotations

import contextlib
import errno
import json
import logging
import os
import re
import signal
import time
from collections.abc import Iterable
from pathlib import Path

from ..compat_sysfs.fuse_mount import _detach
from ..drivers import lio_drivers
from ..lio import as_configfs, list_backstores, remove_backstore
from ..lio.configfs import Configfs, ConfigfsError
from ..lio.tpg import TargetPortalGroup

log = logging.getLogger(__name__)

_USER_HBA = re.compile(r"user_(\d+)")
WORKER_MODULE = "tcmu_scst.dataplane.worker"
DAEMON_MARKERS = ("tcmu_scst.daemon", "tcmu-scstd")
WORKER_STOP_SECONDS = 10.0


def _ours(path: object, hba_base: int) -> bool:
    return any((match := _USER_HBA.fullmatch(part)) and int(match.group(1)) >= hba_base
               for part in Path(str(path)).parts)


def _fabric_targets(fs: Configfs) -> list[TargetPortalGroup]:
    """Every TPG of the fabrics our target drivers use."""
    found: list[TargetPortalGroup] = []
    for driver in lio_drivers():
        assert driver.lio is not None
        found += driver.lio.tpgs_in(fs)
    return found


def _cmdline(pid: int) -> list[str]:
    try:
        return Path(f"/proc/{pid}/cmdline").read_bytes().decode(errors="replace").split("\0")
    except OSError:
        return []


def _parent(pid: int) -> int:
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return 0
    return int(stat.rsplit(")", 1)[1].split()[1])


def orphaned_workers(configfs: str, hba_base: int) -> list[int]:
    """Workers serving our HBAs whose supervisor (a tcmu-scstd) is gone."""
    found = []
    for entry in os.listdir("/proc"):
        if not entry.isdigit() or int(entry) == os.getpid():
            continue
        command = _cmdline(int(entry))
        if WORKER_MODULE not in command or "--specs" not in command:
            continue
        try:
            specs = json.loads(command[command.index("--specs") + 1])
        except (ValueError, IndexError):
            continue
        if not any(spec.get("configfs") == configfs and int(spec.get("hba", -1)) >= hba_base
                   for spec in specs if isinstance(spec, dict)):
            continue
        parent = " ".join(_cmdline(_parent(int(entry))))
        if any(marker in parent for marker in DAEMON_MARKERS):
            continue  # a live daemon's worker
        found.append(int(entry))
    return found


def _stop(pids: Iterable[int]) -> None:
    pids = list(pids)
    for pid in pids:
        with contextlib.suppress(ProcessLookupError):
            os.kill(pid, signal.SIGTERM)  # a worker finishes what is in flight, then exits
    deadline = time.monotonic() + WORKER_STOP_SECONDS
    while pids and time.monotonic() < deadline:
        pids = [pid for pid in pids if Path(f"/proc/{pid}").exists()
                and "Z" not in Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1][:3]]
        time.sleep(0.1)
    for pid in pids:
        with contextlib.suppress(ProcessLookupError):
            os.kill(pid, signal.SIGKILL)


def release_dead_mount(mountpoint: str) -> bool:
    """Detach the tree a killed daemon left mounted (it answers ENOTCONN, and a new mount on
    top of it would fail); True if there was one."""
    try:
        os.stat(mountpoint)
    except OSError as error:
        if error.errno != errno.ENOTCONN:
            return False
        _detach(mountpoint, lazy=True)
        log.warning("detached %s, left mounted by a daemon that was killed", mountpoint)
        return True
    return False


def clean_stale(configfs: str | Path, hba_base: int, names: set[str]) -> list[str]:
    """Remove a killed daemon's LIO objects and workers; returns what was removed."""
    fs = as_configfs(configfs)
    removed: list[str] = []
    if not fs.is_dir("target/core"):
        return removed
    for tpg in _fabric_targets(fs):
        try:
            exported = tpg.luns().values()
        except OSError:
            continue
        if tpg.wwn in names or any(_ours(path, hba_base) for path in exported if path):
            try:
                tpg.remove()
                removed.append(f"{tpg.fabric}/{tpg.wwn}")
            except (OSError, ConfigfsError) as error:
                log.warning("cannot remove stale %s/%s: %s", tpg.fabric, tpg.wwn, error)
    workers = orphaned_workers(str(configfs), hba_base)
    if workers:
        log.info("stopping orphaned workers %s", workers)
        _stop(workers)
        removed += [f"worker {pid}" for pid in workers]
    for backstore in list_backstores(fs, "user"):
        if _ours(backstore.cfs_path, hba_base):
            try:
                remove_backstore(backstore)
                removed.append(str(backstore.cfs_path))
            except (OSError, ConfigfsError) as error:
                log.warning("cannot remove stale %s: %s", backstore.cfs_path, error)
    return removed

