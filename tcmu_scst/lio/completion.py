"""On which CPU LIO finishes a command our worker completed (``cmd_completion_affinity``).

Every LUN this project exports is a TCMU device.  The worker completes commands by writing to
the UIO file, on its own CPU; the kernel then queues the rest of each completion as work
(the fabric's status, the SCSI mid-layer and block layer completion, the initiator's wake-up).
By default (``-1``) that work runs on the CPU that *submitted* the command, the initiator's,
which at queue depth 16 is the busiest CPU in the path: it also does every submission and,
for writes, copies the data into the ring.  ``-2`` runs the work on the CPU that completed the
command, the worker's, which spends most of its time watching an empty ring.  In one VM run
(bench/RESULTS.md, 2026-12-06) that moved our 4 KiB QD16 writes from 13,900 to 17,100 IOPS and
QD1 reads from 4,900 to 5,600; tcmu-runner gained on writes and lost on reads with it.

The setting belongs to the target (WWN), so it is written once, when this project makes the
WWN; a WWN someone else made keeps what its owner chose.  ``TCMU_SCST_COMPLETION_AFFINITY``
chooses: ``worker`` (the default, ``-2``), ``initiator`` (the kernel's default, ``-1``) or a
CPU number.  Kernels before 5.14 have no such file and nothing is written.
"""

from __future__ import annotations

import logging
import os
from pathlib import PurePosixPath

from .configfs import Configfs, invalid

ENVIRONMENT = "TCMU_SCST_COMPLETION_AFFINITY"
ON_SUBMITTING_CPU = -1  # the kernel's default
ON_COMPLETING_CPU = -2
NAMED = {"worker": ON_COMPLETING_CPU, "initiator": ON_SUBMITTING_CPU}
DEFAULT = "worker"

log = logging.getLogger(__name__)


def completion_affinity(setting: str | None = None) -> int:
    """The value for ``cmd_completion_affinity`` that ``setting`` (or the environment) names.

    Raises OSError (EINVAL) for anything else, so a typo in the environment stops the
    exporter at once instead of silently running untuned.
    """
    text = (os.environ.get(ENVIRONMENT, DEFAULT) if setting is None else setting).strip()
    if text in NAMED:
        return NAMED[text]
    if text.isdigit():
        return int(text)
    raise invalid(f"{ENVIRONMENT}={text!r}: use worker, initiator or a CPU number")


def place_completions(fs: Configfs, wwn_path: PurePosixPath, value: int) -> bool:
    """Write ``value`` into the WWN's ``param/cmd_completion_affinity`` if the kernel has it.

    Returns whether it was written.  The kernel refuses a CPU that is not online (EINVAL);
    that error reaches the caller, who asked for that CPU.
    """
    path = wwn_path / "param" / "cmd_completion_affinity"
    if not fs.exists(path):
        log.debug("%s: no cmd_completion_affinity in this kernel", wwn_path)
        return False
    fs.write(path, str(value))
    log.debug("%s: command completions on %s", wwn_path,
              {ON_COMPLETING_CPU: "the completing (worker's) CPU",
               ON_SUBMITTING_CPU: "the submitting CPU"}.get(value, f"CPU {value}"))
    return True
