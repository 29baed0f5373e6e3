"""The LIO side of a target driver: its fabric, how its targets' TPGs are made, who sees
which LUN.

A layout names its TPG class (in :mod:`tcmu_scst.lio`) and loads it only when the daemon asks
for a TPG, so that the tree and the config tool can read the layout's facts without loading
LIO's fabric modules.  The base class is a fabric whose targets are one TPG each, made when
the target is (tcm_fc); :mod:`.iscsi` and :mod:`.scst_local` refine it.
"""

from __future__ import annotations

import contextlib
import errno
import importlib
from collections.abc import Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING

from ..lio.access_plan import EMPTY_PLAN, AccessPlan, GroupSpec, LunExport, plan_access

if TYPE_CHECKING:
    from ..lio.configfs import Configfs
    from ..lio.tpg import TargetPortalGroup


def unsupported(message: str) -> OSError:
    """What SCST asks and LIO cannot express: refused, never approximated."""
    return OSError(errno.EINVAL, message)


@dataclass(frozen=True, eq=False)  # one instance each: compared by identity
class LioLayout:
    """How one driver's targets are held in LIO configfs (the fabric's own rules)."""

    tpg_class: str  # the name of its TPG class in tcmu_scst.lio
    saveconfig_fabric: str  # rtslib's name of the fabric in saveconfig.json
    protocol: int  # the SPC protocol identifier its target ports report (port rings)
    demo_capable: bool  # LIO's demo mode: initiators in no group can be let in
    # a LUN-level read_only in the target's own LUN set is taken; refused where that set is
    # served by demo mode, which has one write-protect switch per TPG, not one per LUN
    default_set_read_only: bool = False

    # --- TPGs -------------------------------------------------------------------------------

    def tpg_type(self) -> type[TargetPortalGroup]:
        tpg_type: type[TargetPortalGroup] = getattr(importlib.import_module("tcmu_scst.lio"),
                                                    self.tpg_class)
        return tpg_type

    @property
    def fabric(self) -> str:
        """The fabric's directory under ``target/`` (loads the TPG class)."""
        return self.tpg_type().fabric

    def tpg(self, wwn: str, fs: Configfs) -> TargetPortalGroup:
        """The TPG of target ``wwn`` (not made)."""
        return self.tpg_type()(wwn, fs)

    def make_tpg(self, name: str, fs: Configfs, params: Mapping[str, str]) -> \
            TargetPortalGroup | None:
        """Make a new target's TPG as this fabric needs it (None: it is made later); all or
        nothing.  ``params``: what ``add_target`` was given."""
        tpg = self.tpg(name, fs)
        tpg.create()
        return tpg

    def tpgs_in(self, fs: Configfs) -> list[TargetPortalGroup]:
        """Every TPG of this fabric in configfs (a killed daemon's among them)."""
        base = f"target/{self.fabric}"
        found: list[TargetPortalGroup] = []
        if not fs.is_dir(base):
            return found
        for wwn in fs.subdirs(base):
            with contextlib.suppress(OSError, ValueError):
                found.append(self.tpg(wwn, fs))
        return found

    # --- who sees which LUN ----------------------------------------------------------------

    def plan(self, default: Mapping[int, LunExport], groups: Mapping[str, GroupSpec],
             session: str | None = None, previous: AccessPlan = EMPTY_PLAN) -> AccessPlan:
        """The TPG's LUNs and ACLs for SCST's LUN sets (:mod:`tcmu_scst.lio.access_plan`:
        group-only devices get TPG LUNs from ``GROUP_LUN_BASE``; without demo mode always
        ``acl-only``).  ``session``: the one session of a fabric that has only one."""
        return plan_access(default, groups, self.demo_capable, previous)

    @property
    def initial_plan(self) -> AccessPlan:
        """What a new target's TPG holds: nothing, in the mode an empty target has."""
        return self.plan({}, {})

    # --- accounts ----------------------------------------------------------------------------

    def configure_acl(self, tpg: TargetPortalGroup, initiator: str) -> None:
        """Give a new explicit ACL what the target's accounts require (nothing here)."""

    def set_target_attribute(self, tpg: TargetPortalGroup | None, attribute: str, value: str,
                             initiators: list[str]) -> None:
        """A target attribute set from mgmt (accounts, keys); ``initiators``: every group
        member of the target.  This fabric has none."""
        raise unsupported(f"{attribute}: not an iSCSI target")

    def set_driver_attribute(self, fs: Configfs, name: str, value: str) -> None:
        """A driver attribute set from mgmt (discovery accounts).  This fabric has none."""
        raise unsupported(f"attribute {name!r} is not offered")
