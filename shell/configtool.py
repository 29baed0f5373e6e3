"""``saveconfig``/``restoreconfig``: the scstadmin-compatible config tool, run as a program.

The shell does not re-implement scst.conf: the config tool owns that format and its
"apply only the differences" logic.  Running it as a subprocess (with this interpreter, on
the same tree) keeps the two independent and shows the user exactly the tool's own
messages; a failure becomes one error line with the tool's last complaint.
"""

from __future__ import annotations

import subprocess
import sys
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from configshell.node import ExecutionError

DEFAULT_CONFIG = "/etc/scst.conf"
TOOL_MODULE = "tcmu_scst.config.cli"


@dataclass
class ConfigTool:
    root: Path
    python: str = sys.executable

    def command(self, option: str, config_file: str) -> list[str]:
        return [self.python, "-m", TOOL_MODULE, option, config_file,
                "--root", str(self.root), "-noprompt"]

    def _run(self, action: str, option: str, config_file: str | None,
             show: Callable[[str], None]) -> None:
        path = config_file or DEFAULT_CONFIG
        try:
            done = subprocess.run(self.command(option, path), capture_output=True, text=True,
                                  check=False)
        except OSError as error:
            raise ExecutionError(f"{action} {path}: cannot run the config tool: "
                                 f"{error.strerror}") from None
        for line in done.stdout.splitlines():
            show(line)
        if done.returncode != 0:
            complaints = [line.strip() for line in done.stderr.splitlines() if line.strip()]
            reason = complaints[-1] if complaints else "no message"
            raise ExecutionError(f"{action} {path}: the config tool failed "
                                 f"(exit {done.returncode}): {reason}")
        show(f"{action}: done ({path})")

    def save(self, config_file: str | None, show: Callable[[str], None]) -> None:
        self._run("saveconfig", "-write_config", config_file, show)

    def restore(self, config_file: str | None, show: Callable[[str], None]) -> None:
        self._run("restoreconfig", "-config", config_file, show)
