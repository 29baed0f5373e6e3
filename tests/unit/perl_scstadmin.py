"""Run SCST's own Perl scstadmin, unchanged, against one of our mounted trees.

The program reads ``/sys/kernel/scst_tgt`` only, so it runs in a private mount namespace in
which that path is our tree (a tmpfs on ``/sys/kernel`` holding a bind mount).  Its copy lives
in the shared folder beside the repository (``shared/clients/scstadmin``); it is a client
under test, like libiscsi, never part of the project.
"""

from __future__ import annotations

import shutil
import subprocess
from dataclasses import dataclass
from pathlib import Path

SCSTADMIN = Path(__file__).resolve().parents[3] / "shared" / "clients" / "scstadmin" / \
    "scstadmin.sysfs"
SCST_SYSFS = "/sys/kernel/scst_tgt"


def perl_unavailable() -> str | None:
    """Why the Perl scstadmin cannot run here (None when it can)."""
    if not (SCSTADMIN / "scstadmin").is_file():
        return f"the Perl scstadmin is not at {SCSTADMIN}"
    for program in ("perl", "unshare"):
        if shutil.which(program) is None:
            return f"{program} is not installed"
    return None


@dataclass(frozen=True)
class PerlResult:
    status: int
    output: str


def scstadmin(tree_root: Path, *arguments: str, timeout: float = 120) -> PerlResult:
    """``scstadmin ARGUMENTS`` with our tree at ``/sys/kernel/scst_tgt``."""
    command = " ".join(_quote(word) for word in (
        "perl", "-I", str(SCSTADMIN / "scst-1.0.0" / "lib"), str(SCSTADMIN / "scstadmin"),
        *arguments))
    script = (f"mount -t tmpfs none /sys/kernel && mkdir {SCST_SYSFS} && "
              f"mount --bind {_quote(str(tree_root))} {SCST_SYSFS} && exec {command}")
    result = subprocess.run(["unshare", "-m", "--propagation", "private", "sh", "-c", script],
                            capture_output=True, text=True, timeout=timeout, check=False,
                            stdin=subprocess.DEVNULL)
    return PerlResult(result.returncode, result.stdout + result.stderr)


def _quote(word: str) -> str:
    return "'" + word.replace("'", "'\\''") + "'"
