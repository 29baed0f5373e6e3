"""Who sees which LUN: SCST's LUN masking expressed in LIO's node ACLs, or refused.

SCST gives an initiator that is in an initiator group exactly that group's LUNs, and one in
no group the target's default LUN set (``luns/``).  LIO has two ways to admit an initiator:
an explicit node ACL (its mapped LUNs point at TPG LUNs) and, with ``generate_node_acls=1``
("demo mode"), a dynamic ACL for anyone else that holds **every** TPG LUN at its own number.
Demo mode has no way to leave a TPG LUN out, so it expresses SCST exactly only when every
TPG LUN belongs to the default set.  This module decides, from the SCST configuration alone:

* TPG LUN ``k`` exports default LUN ``k``;
* a group LUN whose device is also in the default set points at that TPG LUN (so it adds
  nothing a dynamic ACL could see); a group LUN whose device is not gets a TPG LUN of its
  own from :data:`GROUP_LUN_BASE` up (beyond SCST's LUN range), once the group has members;
* ``demo`` mode when no such group-only TPG LUN exists, otherwise ``acl-only``: demo mode off,
  target hidden from discovery, and initiators in no group refused, since showing them the
  default set would show them the group-only LUNs too.  Refusing is the safe side.

The plan is a pure function of the configuration (plus the previous plan, so that TPG LUN
numbers of group-only devices stay put), used by the daemon's LIO realizer, the tree's
``access_mode`` attribute, ``-check_config`` and the saveconfig.json export alike.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field

GROUP_LUN_BASE = 20000  # TPG LUNs of devices exported only through groups start here

DEMO = "demo"  # initiators in no group see the default LUN set (LIO demo mode)
ACL_ONLY = "acl-only"  # only initiators in a group may log in; the rest are refused


@dataclass(frozen=True)
class LunExport:
    """One SCST LUN: the device behind it and whether it is read-only there."""

    device: str
    read_only: bool = False


@dataclass(frozen=True)
class GroupSpec:
    """An SCST initiator group: its exact initiator names and its LUN set."""

    initiators: tuple[str, ...] = ()
    luns: Mapping[int, LunExport] = field(default_factory=dict)


@dataclass(frozen=True)
class AclPlan:
    """What one explicit node ACL holds: its group (the ACL tag) and LUN -> (TPG LUN, ro)."""

    group: str
    mapped: Mapping[int, tuple[int, bool]]


@dataclass(frozen=True)
class AccessPlan:
    """The LIO side of one target: its mode, TPG LUNs (number -> device) and ACLs."""

    mode: str = DEMO
    tpg_luns: Mapping[int, str] = field(default_factory=dict)
    acls: Mapping[str, AclPlan] = field(default_factory=dict)
    group_only: tuple[str, ...] = ()  # devices that only groups export (why acl-only)

    @property
    def admits_outsiders(self) -> bool:
        return self.mode == DEMO


EMPTY_PLAN = AccessPlan()


def plan_access(default: Mapping[int, LunExport], groups: Mapping[str, GroupSpec],
                demo_capable: bool = True, previous: AccessPlan = EMPTY_PLAN) -> AccessPlan:
    """The ACL layout that gives every initiator what SCST gives it, or refuses it.

    ``demo_capable`` is False for fabrics without demo mode (tcm_fc): they are always
    ``acl-only``.  ``previous`` keeps group-only devices on the TPG LUNs they already have.
    """
    tpg_luns: dict[int, str] = {number: lun.device for number, lun in sorted(default.items())}
    shared = {}
    for number, device in tpg_luns.items():
        shared.setdefault(device, number)
    kept = {device: number for number, device in previous.tpg_luns.items()
            if number >= GROUP_LUN_BASE}
    own: dict[str, int] = {}
    group_only: list[str] = []
    for spec in groups.values():
        if not spec.initiators:
            continue  # nobody could see its LUNs: they need no TPG LUN yet
        for lun in spec.luns.values():
            if lun.device in shared or lun.device in own:
                continue
            number = kept.get(lun.device)
            if number is None or number in tpg_luns:
                number = GROUP_LUN_BASE
                while number in tpg_luns or number in kept.values():
                    number += 1
            tpg_luns[number] = lun.device
            own[lun.device] = number
            group_only.append(lun.device)
    acls: dict[str, AclPlan] = {}
    for name, spec in groups.items():
        mapped = {number: (shared.get(lun.device, own.get(lun.device, -1)), lun.read_only)
                  for number, lun in sorted(spec.luns.items())}
        for initiator in spec.initiators:
            acls[initiator] = AclPlan(name, mapped)
    mode = DEMO if demo_capable and not group_only else ACL_ONLY
    return AccessPlan(mode, tpg_luns, acls, tuple(group_only))


def consequence(target: str, plan: AccessPlan, default: Mapping[int, LunExport]) -> str | None:
    """The one warning line a user must see about ``plan``, or None when SCST is matched.

    ``acl-only`` with LUNs in the default set means initiators in no group lose them; with an
    empty default set it still means they cannot log in (SCST would let them in to an empty
    LUN list), which is the safe side of the same thing.
    """
    if plan.mode != ACL_ONLY:
        return None
    if plan.group_only:
        why = (f"LUNs of {', '.join(sorted(set(plan.group_only)))} exist only in initiator "
               "groups and LIO's demo mode cannot hide them from other initiators")
    else:
        why = "this fabric has no demo mode"
    if default:
        return (f"target {target}: access_mode acl-only: initiators in no group are refused "
                f"and do not see the target's {len(default)} default LUN(s) ({why}); add them "
                "to a group, or put every group's devices in the target's LUNs too")
    return (f"target {target}: access_mode acl-only: initiators in no group are refused at "
            f"login and discovery ({why})")
