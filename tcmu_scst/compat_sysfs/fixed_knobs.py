"""SCST's writable knobs that LIO has no counterpart for, shown at their defaults.

SCST has them and tools list them: the root's ``threads`` (global command threads), the
iSCSI driver's ``iSNSServer``, and in an initiator group's directory copies of the
target's ``addr_method``, ``io_grouping_type``, ``black_hole`` and ``cpu_mask`` and, for
iSCSI, ``per_sess_dedicated_tgt_threads`` (scst_sysfs.md 2.1, 2.6, 5.6; scstadmin's
``-list_grp_attr`` finds no group without them).  LIO cannot change any of them: it
reports LUNs with one addressing method, runs each device's commands in its own worker (no
global threads, no I/O grouping, no per-session threads, no CPU mask), does not drop
commands and registers with no iSNS server.  So each file is writable, as SCST's, but
accepts only the value that means "as now" (a no-op) and refuses any other with EINVAL
rather than pretending; their ``[key]`` rule is SCST's ("differs from the default" or
"when set"), so they never carry one.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from dataclasses import dataclass

from .grammar import c_integer, invalid
from .nodes import Attribute


@dataclass(frozen=True)
class FixedKnob:
    name: str
    default: Callable[[], str]  # the text the file shows
    means_default: Callable[[str], bool]  # whether a written value asks for the default
    why: str  # why nothing else can be set

    def node(self) -> Attribute:
        return Attribute(read=lambda: f"{self.default()}\n", write=self.write)

    def write(self, text: str) -> None:
        value = text.strip()
        try:
            accepted = self.means_default(value)
        except (OSError, ValueError):
            accepted = False
        if not accepted:
            raise invalid(f"{self.name} {value!r}: {self.why}; only {self.default()!r} "
                          "is accepted")


def _cpus() -> str:
    return str(os.cpu_count() or 1)


def all_cpus_mask() -> str:
    """Every CPU, as the kernel prints a cpumask (``%*pb``): hex in comma-separated 32-bit
    chunks, the first without leading zeros (``ff``, ``ffffffff,ffffffff``)."""
    digits = f"{(1 << int(_cpus())) - 1:x}"
    chunks = []
    while digits:
        chunks.insert(0, digits[-8:])
        digits = digits[:-8]
    return ",".join(chunks)


def _is_all_cpus(text: str) -> bool:
    return int(text.replace(",", ""), 16) == int(all_cpus_mask().replace(",", ""), 16)


ROOT_KNOBS = (
    FixedKnob("threads", _cpus, lambda text: c_integer(text, "threads") == int(_cpus()),
              "commands run in each device's own worker process, not in SCST's global "
              "threads"),
)
ISCSI_DRIVER_KNOBS = (
    FixedKnob("iSNSServer", lambda: "", lambda text: text == "",
              "this target registers with no iSNS server (an empty write disables it)"),
)
GROUP_KNOBS = (
    FixedKnob("addr_method", lambda: "PERIPHERAL", lambda text: text.upper() == "PERIPHERAL",
              "LIO reports LUNs with one addressing method"),
    FixedKnob("black_hole", lambda: "0", lambda text: text[:1] == "0",
              "LIO cannot drop commands"),
    FixedKnob("cpu_mask", all_cpus_mask, _is_all_cpus,
              "each device's commands run in its own worker process, on any CPU"),
    FixedKnob("io_grouping_type", lambda: "auto", lambda text: text.lower() == "auto",
              "each device's commands run in its own worker process: there is no I/O "
              "grouping"),
)
ISCSI_GROUP_KNOBS = (
    FixedKnob("per_sess_dedicated_tgt_threads", lambda: "0",
              lambda text: c_integer(text, "per_sess_dedicated_tgt_threads") == 0,
              "LIO has no per-session target threads"),
)
