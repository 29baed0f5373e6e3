"""``tcmu-scst-shell``: interactive, one command, or a script file; exit status 1 on error."""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence
from typing import TextIO

from tcmu_scst.config.sysfs import ROOT_ENVIRONMENT, ScstSysfs, SysfsError

from .app import ScstShell, describe_error, preferences_directory

PROGRAM = "tcmu-scst-shell"


def parser() -> argparse.ArgumentParser:
    parse = argparse.ArgumentParser(
        prog=PROGRAM,
        description="Interactive shell for an SCST sysfs tree (tcmu-scstd's or a real "
                    "SCST's): nodes, commands and completion come from the tree itself.")
    parse.add_argument("--root", help=f"the tree's root (default: ${ROOT_ENVIRONMENT}, else "
                       "/run/scst_tgt when mounted, else /sys/kernel/scst_tgt)")
    parse.add_argument("-f", "--file", metavar="SCRIPT",
                       help="run the commands in SCRIPT ('-' for stdin), one per line, "
                       "stopping at the first error")
    parse.add_argument("--prefs-dir", metavar="DIR",
                       help="bookmarks and history (default: $TCMU_SCST_SHELL_HOME or "
                       "~/.tcmu_scst_shell; '' for none)")
    parse.add_argument("command", nargs=argparse.REMAINDER,
                       help="one command line to run instead of the interactive shell")
    return parse


def main(argv: Sequence[str] | None = None, stdout: TextIO | None = None,
         stderr: TextIO | None = None) -> int:
    arguments = parser().parse_args(argv)
    errors = stderr or sys.stderr
    sysfs = ScstSysfs(arguments.root)
    try:
        sysfs.check()
        shell = ScstShell(sysfs, preferences_directory(arguments.prefs_dir), stdout, stderr)
    except (SysfsError, OSError, ValueError) as error:
        errors.write(f"Error: {describe_error(error)}\n")
        return 1
    if arguments.file and arguments.command:
        errors.write("Error: give either a script (-f) or a command, not both\n")
        return 2
    if arguments.command:
        return 0 if shell.run_line(" ".join(arguments.command)) else 1
    if arguments.file:
        try:
            if arguments.file == "-":
                return 0 if shell.run_lines(sys.stdin, "<stdin>") else 1
            with open(arguments.file, encoding="utf-8") as script:
                return 0 if shell.run_lines(script, arguments.file) else 1
        except OSError as error:
            errors.write(f"Error: {arguments.file}: {error.strerror}\n")
            return 1
    if not sys.stdin.isatty():
        return 0 if shell.run_lines(sys.stdin, "<stdin>") else 1
    return 0 if shell.interact() else 1


if __name__ == "__main__":
    sys.exit(main())
