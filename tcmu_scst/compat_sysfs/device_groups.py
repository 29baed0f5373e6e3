"""``device_groups/``: SCST's ALUA tree, present so that SCST's tools can read the tree.

SCST always has this directory, and scstadmin reads it before any command; without it every
scstadmin command fails.  Its groups are not realised in LIO yet (one ALUA target port group
per SCST target group on each device, the states enforced): until they are, the directory is
empty and ``create`` is refused, so that no one believes a standby path is standby.  Its
``mgmt`` help text therefore offers no command, which tells the config tool to refuse
``DEVICE_GROUP`` blocks before it writes anything.
"""

from __future__ import annotations

from .grammar import invalid, split_command
from .nodes import Attribute, Directory, Node

NOT_REALISED = ("ALUA device groups are not realised in LIO by tcmu-scstd yet: nothing can "
                "be created here (remove the DEVICE_GROUP blocks from the configuration)")
DEVICE_GROUPS_HELP = f"{NOT_REALISED}\n"


def _refuse(text: str) -> None:
    verb, _ = split_command(text)
    raise invalid(f"{verb or 'command'}: {NOT_REALISED}")


def device_groups_directory() -> Directory:
    def entries() -> dict[str, Node]:
        return {"mgmt": Attribute(read=lambda: DEVICE_GROUPS_HELP, write=_refuse)}

    return Directory(entries)
