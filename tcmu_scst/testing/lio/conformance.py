"""Run :mod:`.scenario` against a configfs and compare kernel and emulation step by step.

In the test VM: ``python -m tcmu_scst.testing.lio.conformance --json OUT`` runs the script
on ``/sys/kernel/config`` (which must hold no LIO objects yet) and saves every outcome; the
host then runs it on a fresh emulation and :func:`compare` lists each step whose outcome
differs.  Values that differ between hosts (kernel version strings, HBA indexes, CPU lists)
and contents the emulation leaves out (statistics, PR and ALUA details) are not compared.
"""

from __future__ import annotations

import argparse
import errno
import json
import os
import sys
import tempfile
from pathlib import Path
from typing import Any

from ...lio.configfs import Configfs, ConfigfsError, RealConfigfs
from ...lio.snapshot import snapshot
from . import emulated_lio
from .filesystem import EmulatedConfigfs
from .scenario import Step, steps

SKIP = ("*statistics/*/*", "alua/*", "*/alua/*")
MASK = ("version", "*/version", "*hba_info", "*cpus_allowed_list", "pr/*", "*/pr/*",
        "*wwn/vpd_*", "*alua_tg_pt_*")
Outcome = Any


def _uio_names(fs: Configfs, sysfs: Path) -> list[str]:
    if isinstance(fs, EmulatedConfigfs):
        return sorted(fs.kernel.uio_names)
    names = []
    for entry in sorted((sysfs / "class" / "uio").glob("uio*")):
        name = (entry / "name").read_text().strip()
        if name.startswith("tcm-user/"):
            names.append(name)
    return sorted(names)


def _scsi_devices(sysfs: Path) -> list[str]:
    directory = sysfs / "class" / "scsi_device"
    return sorted(os.listdir(directory)) if directory.is_dir() else []


def run_step(fs: Configfs, sysfs: Path, step: Step) -> Outcome:
    """The outcome of one step: ``"OK"``, the value read, or ``"<ERRNO>"``."""
    kind, *args = step
    paths = [f"target/{arg}".rstrip("/") if index < _path_count(kind) else arg
             for index, arg in enumerate(args)]
    try:
        if kind == "snapshot":
            return snapshot(fs, paths[0], skip=SKIP, mask=MASK)
        if kind == "uio":
            return _uio_names(fs, sysfs)
        if kind == "scsi_devices":
            return _scsi_devices(sysfs)
        if kind == "file":
            if not isinstance(fs, EmulatedConfigfs):  # the emulation opens no backing file
                with open(args[0], "wb") as image:
                    image.truncate(1 << 20)
            return "OK"
        if kind == "readlink":
            return str(fs.readlink(paths[0]))
        result = getattr(fs, kind)(*paths)
    except ConfigfsError as error:
        return f"<{errno.errorcode.get(error.errno or 0, error.errno)}>"
    return "OK" if result is None else result


def _path_count(kind: str) -> int:
    return {"symlink": 2, "file": 0}.get(kind, 1)


def run(fs: Configfs, sysfs: Path) -> list[Outcome]:
    return [run_step(fs, sysfs, step) for step in steps()]


def run_emulated() -> list[Outcome]:
    with tempfile.TemporaryDirectory() as sysfs:
        return run(emulated_lio(sysfs=Path(sysfs)), Path(sysfs))


def compare(kernel: list[Outcome], emulated: list[Outcome]) -> list[str]:
    """One line per step whose outcomes differ (snapshots: per differing entry)."""
    problems: list[str] = []
    for number, (step, real, ours) in enumerate(zip(steps(), kernel, emulated, strict=True)):
        if real == ours:
            continue
        where = f"step {number} {' '.join(repr(part) for part in step)}"
        if isinstance(real, dict) and isinstance(ours, dict):
            for key in sorted(set(real) | set(ours)):
                if real.get(key) != ours.get(key):
                    problems.append(f"{where}: {key}: kernel {real.get(key)!r}, "
                                    f"emulation {ours.get(key)!r}")
        else:
            problems.append(f"{where}: kernel {real!r}, emulation {ours!r}")
    return problems


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--configfs", default="/sys/kernel/config")
    parser.add_argument("--sysfs", type=Path, default=Path("/sys"))
    parser.add_argument("--json", type=Path, help="save the kernel's outcomes here")
    arguments = parser.parse_args(argv)
    outcomes = run(RealConfigfs(arguments.configfs), arguments.sysfs)
    if arguments.json:
        arguments.json.write_text(json.dumps(outcomes, indent=1))
    problems = compare(outcomes, run_emulated())
    for problem in problems:
        print(problem)
    print(f"{len(outcomes)} steps, {len(problems)} differences from the emulation")
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main())
