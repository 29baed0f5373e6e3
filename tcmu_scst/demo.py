"""The README's main job: the SCST announcement's example, end to end, on the real stack.

On a host whose kernel has LIO, TCMU and configfs, it runs right here; otherwise (like the
machines this project is built on) in a VM running Debian's kernel, where the host's tools and
this project are visible read-only.  Either way the same script does the work:
``tcmu_scst/vm/guest/announcement.sh``.
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
from pathlib import Path

from .vm import Vm, VmConfig, guest_library
from .vm.initramfs import guest_script

CONFIGFS_TARGET = Path("/sys/kernel/config/target")


def host_has_lio() -> bool:
    """LIO with TCMU loaded or loadable, and configfs mounted."""
    if os.geteuid() != 0:
        return False
    loaded = subprocess.run(["modprobe", "-a", "target_core_user", "iscsi_target_mod", "fuse"],
                            check=False, capture_output=True).returncode == 0
    return loaded and CONFIGFS_TARGET.is_dir()


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="demo", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--where", choices=("auto", "host", "vm"), default="auto")
    parser.add_argument("--timeout", type=int, default=900, help="VM run limit in seconds")
    arguments = parser.parse_args(argv)
    script = guest_library() + guest_script("announcement.sh")
    where = arguments.where
    if where == "auto":
        where = "host" if host_has_lio() else "vm"
    if where == "host":
        print("demo: running on this host's kernel", flush=True)
        environment = {**os.environ, "TCMU_VM_PYTHON": sys.executable}
        return subprocess.run(["bash", "-c", script], check=False, env=environment).returncode
    print("demo: this kernel has no LIO/TCMU; running in a VM with Debian's kernel "
          "(about two minutes)", flush=True)
    result = Vm(VmConfig(memory_mb=2048)).run(script, timeout=arguments.timeout)
    print(result.output, end="")
    return result.returncode


if __name__ == "__main__":
    sys.exit(main())
