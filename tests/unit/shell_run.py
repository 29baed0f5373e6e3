"""Running tcmu-scst-shell in this process, as a user would from a terminal or a script."""

from __future__ import annotations

import io
from dataclasses import dataclass
from pathlib import Path

from tcmu_scst.shell import cli


@dataclass
class ShellRun:
    status: int
    out: str
    err: str


def run_shell(root: Path, *words: str, script: Path | None = None,
              prefs: Path | None = None) -> ShellRun:
    """``tcmu-scst-shell --root ROOT [-f SCRIPT] WORDS...`` with captured output."""
    out, err = io.StringIO(), io.StringIO()
    argv = ["--root", str(root), "--prefs-dir", str(prefs) if prefs else ""]
    if script is not None:
        argv += ["-f", str(script)]
    status = cli.main([*argv, *words], stdout=out, stderr=err)
    return ShellRun(status, out.getvalue(), err.getvalue())
