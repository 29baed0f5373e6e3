"""The kernel's recovery switches for a TCMU device (configfs ``action/``).

A worker that died left commands on the ring, some perhaps half-answered.  Before a new
worker reads the ring, the device is blocked (the kernel reaps what was already published and
holds new commands back), the ring is reset with level 1 (every command still on it completes
with BUSY, which initiators retry, so no I/O error and no double completion), and once the new
worker serves the ring the device is unblocked.
"""

from __future__ import annotations

import logging
from pathlib import Path

log = logging.getLogger(__name__)

RESET_RETRYABLE = "1"


def _write(path: Path, value: str) -> None:
    with open(path, "w") as handle:
        handle.write(value)


def has_recovery_actions(backstore_dir: Path) -> bool:
    action = backstore_dir / "action"
    return (action / "block_dev").exists() and (action / "reset_ring").exists()


def block_and_reset(backstore_dir: Path) -> bool:
    """Block the device and reset its ring; False on kernels without the actions."""
    if not has_recovery_actions(backstore_dir):
        log.warning("%s has no action/block_dev or reset_ring: ring not reset", backstore_dir)
        return False
    action = backstore_dir / "action"
    _write(action / "block_dev", "1")
    _write(action / "reset_ring", RESET_RETRYABLE)
    return True


def unblock(backstore_dir: Path) -> None:
    _write(backstore_dir / "action" / "block_dev", "0")
