"""``python -m tcmu_scst.config.saveconfig``: export a tree, or import a document, from the shell.

The command line around :func:`.export_saveconfig` and :func:`.import_saveconfig`: it reads
and writes the files, prints each warning on stderr, and turns a refused document or an
unreadable tree into one error line and exit status 1.  Both outputs can carry CHAP secrets,
so both are written 0600, atomically; ``-`` writes to stdout.
"""

from __future__ import annotations

import argparse
import json
import sys

from ..atomic_file import PRIVATE, write_atomically
from ..sysfs import ScstSysfs
from .exporter import export_saveconfig
from .importer import import_saveconfig
from .results import SaveconfigError


def _write(path: str, text: str) -> None:
    if path == "-":
        sys.stdout.write(text)
    else:
        write_atomically(path, text, PRIVATE)


def main(argv: list[str] | None = None) -> int:
    """Run one conversion; 0 on success (warnings or not), 1 when it was refused."""
    parser = argparse.ArgumentParser(
        prog="python -m tcmu_scst.config.saveconfig",
        description="Convert between an SCST tree and rtslib's saveconfig.json, or between "
                    "saveconfig.json and scst.conf.")
    commands = parser.add_subparsers(dest="command", required=True)
    export = commands.add_parser("export", help="SCST tree → saveconfig.json ('-' = stdout)")
    export.add_argument("--root", help="the SCST tree (default: $SCST_SYSFS_ROOT, "
                        "/run/scst_tgt, /sys/kernel/scst_tgt)")
    export.add_argument("file")
    importing = commands.add_parser("import", help="saveconfig.json → scst.conf")
    importing.add_argument("file")
    importing.add_argument("out")
    arguments = parser.parse_args(argv)
    try:
        if arguments.command == "export":
            document = export_saveconfig(ScstSysfs(arguments.root))
            warnings = document.warnings
            _write(arguments.file, json.dumps(document, sort_keys=True, indent=2) + "\n")
        else:
            with open(arguments.file, encoding="utf-8") as file:
                try:
                    loaded = json.load(file)
                except json.JSONDecodeError as error:
                    raise SaveconfigError(arguments.file, f"not JSON: {error}") from None
            text = import_saveconfig(loaded)
            warnings = text.warnings
            _write(arguments.out, str(text))
    except (SaveconfigError, OSError) as error:
        print(f"saveconfig: error: {error}", file=sys.stderr)
        return 1
    for warning in warnings:
        print(f"saveconfig: warning: {warning}", file=sys.stderr)
    return 0
