"""``tcmu-scst-vm``: run a command or a script in the test VM from the shell.

Handy for poking at the real kernel stack by hand, and the entry point that the demo and the
benchmarks use.  Exits with the guest job's exit status (124 on timeout, 125 on a VM failure).
"""

from __future__ import annotations

import argparse
import logging
import shlex
import sys
from pathlib import Path

from .runner import Vm, VmConfig, VmError, VmTimeout

EXIT_TIMEOUT = 124
EXIT_VM_FAILURE = 125


def parse_arguments(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        prog="tcmu-scst-vm",
        description="Boot Debian's kernel under qemu with the host root shared read-only and "
        "run a job inside it (LIO, TCMU, tcm_loop, iSCSI, FCoE modules loaded).",
    )
    parser.add_argument("--timeout", type=float, default=600, help="seconds, boot included")
    parser.add_argument("--memory", type=int, default=2048, help="guest memory in MiB")
    parser.add_argument("--cpus", type=int, default=2)
    parser.add_argument("--script", type=Path, help="bash script to run in the guest")
    parser.add_argument("--run-dir", type=Path, help="keep console log and share here")
    parser.add_argument("--console", action="store_true", help="print the guest console too")
    parser.add_argument("command", nargs=argparse.REMAINDER, help="command to run instead")
    arguments = parser.parse_args(argv)
    if bool(arguments.script) == bool(arguments.command):
        parser.error("give either --script FILE or a command")
    return arguments


def main(argv: list[str] | None = None) -> int:
    logging.basicConfig(level=logging.INFO, format="%(name)s: %(message)s")
    arguments = parse_arguments(argv)
    command = arguments.command[1:] if arguments.command[:1] == ["--"] else arguments.command
    script = arguments.script.read_text() if arguments.script else shlex.join(command) + "\n"
    vm = Vm(VmConfig(memory_mb=arguments.memory, cpus=arguments.cpus))
    try:
        result = vm.run(script, timeout=arguments.timeout, run_dir=arguments.run_dir)
    except VmError as error:
        print(error, file=sys.stderr)
        return EXIT_TIMEOUT if isinstance(error, VmTimeout) else EXIT_VM_FAILURE
    if arguments.console:
        sys.stderr.write(result.console)
    sys.stdout.write(result.output)
    return result.returncode


if __name__ == "__main__":
    sys.exit(main())
