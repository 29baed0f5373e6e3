"""Move a TPG from one :class:`~.access_plan.AccessPlan` to the next, never granting more.

The steps are ordered so that no initiator can see a LUN it must not see at any moment in
between, and so that what the kernel keeps out of configfs cannot leak:

1. demo mode off first when the new plan is ``acl-only`` (a TPG LUN added while it is on
   joins every dynamic ACL);
2. ACLs, mapped LUNs and TPG LUNs that go are removed (mappings before the TPG LUNs they
   point at); removing an ACL ends its initiator's sessions;
3. TPG LUNs, mappings and ACL changes that come are made;
4. a new ACL is made *clean*: with demo mode off for the moment, ``mkdir`` + ``rmdir`` first
   frees a dynamic ACL the initiator may have from an earlier demo-mode login (the kernel
   would otherwise convert it and keep every default LUN in it, unseen), then the real ACL;
5. demo mode on last when the new plan is ``demo``.

Every step registers its inverse, so a refusal part-way leaves the TPG as it was.
"""

from __future__ import annotations

from collections.abc import Callable

from .access_plan import ACL_ONLY, DEMO, AccessPlan, AclPlan
from .backstore import Backstore
from .rollback import Rollback
from .tpg import MappedLun, TargetPortalGroup

BackstoreOf = Callable[[str], Backstore]
AclHook = Callable[[str], None]


def apply_access(tpg: TargetPortalGroup, old: AccessPlan, new: AccessPlan,
                 backstore_of: BackstoreOf, configure_acl: AclHook | None = None) -> None:
    """Change ``tpg`` from ``old`` (what it holds now) to ``new``; all or nothing.

    ``configure_acl(initiator)`` runs after a new ACL got its LUNs (iSCSI puts the target's
    CHAP account there); ``backstore_of(device)`` names the storage object of a device.
    """
    demo_capable = tpg.supports_demo_mode
    with Rollback() as undo:
        if demo_capable and old.mode == DEMO and new.mode == ACL_ONLY:
            tpg.set_demo_mode(False)
            undo.add(tpg.set_demo_mode, True)
        _remove_what_goes(tpg, old, new, backstore_of, configure_acl, undo)
        for number, device in sorted(new.tpg_luns.items()):
            if old.tpg_luns.get(number) != device:
                tpg.add_lun(number, backstore_of(device))
                undo.add(tpg.remove_lun, number)
        for initiator, acl in new.acls.items():
            before = old.acls.get(initiator)
            if before is None:
                add_clean_acl(tpg, initiator, acl, undo)
                if configure_acl is not None:
                    configure_acl(initiator)
            else:
                _update_acl(tpg, initiator, before, acl, undo,
                            relinked=lambda number: _relinked(old, new, number))
        if demo_capable and old.mode == ACL_ONLY and new.mode == DEMO:
            tpg.set_demo_mode(True)
            undo.add(tpg.set_demo_mode, False)


def _remove_what_goes(tpg: TargetPortalGroup, old: AccessPlan, new: AccessPlan,
                      backstore_of: BackstoreOf, configure_acl: AclHook | None,
                      undo: Rollback) -> None:
    for initiator, acl in old.acls.items():
        after = new.acls.get(initiator)
        if after is None:
            tpg.remove_acl(initiator)
            undo.add(_restore_acl, tpg, initiator, acl, configure_acl)
            continue
        for lun, (tpg_lun, read_only) in acl.mapped.items():
            if after.mapped.get(lun, (None, None))[0] != tpg_lun or \
                    _relinked(old, new, tpg_lun):
                tpg.unmap_lun(initiator, lun)
                undo.add(tpg.map_lun, initiator, lun, tpg_lun, read_only)
    for number, device in sorted(old.tpg_luns.items()):
        if new.tpg_luns.get(number) != device:
            tpg.remove_lun(number)
            undo.add(tpg.add_lun, number, backstore_of(device))


def _relinked(old: AccessPlan, new: AccessPlan, tpg_lun: int) -> bool:
    """Whether TPG LUN ``tpg_lun`` links to something else in ``new`` (its mappings go with
    the old link and are made again on the new one)."""
    return tpg_lun in old.tpg_luns and old.tpg_luns.get(tpg_lun) != new.tpg_luns.get(tpg_lun)


def _update_acl(tpg: TargetPortalGroup, initiator: str, before: AclPlan, after: AclPlan,
                undo: Rollback, relinked: Callable[[int], bool]) -> None:
    for lun, (tpg_lun, read_only) in sorted(after.mapped.items()):
        old = before.mapped.get(lun)
        if old is None or old[0] != tpg_lun or relinked(tpg_lun):
            tpg.map_lun(initiator, lun, tpg_lun, read_only)
            undo.add(tpg.unmap_lun, initiator, lun)
        elif old[1] != read_only:
            tpg.set_read_only(initiator, lun, read_only)
            undo.add(tpg.set_read_only, initiator, lun, old[1])
    if before.group != after.group:
        tpg.set_acl_tag(initiator, after.group)
        undo.add(tpg.set_acl_tag, initiator, before.group)


def _mapped(acl: AclPlan) -> dict[int, MappedLun]:
    return {lun: MappedLun(tpg_lun, read_only) for lun, (tpg_lun, read_only)
            in acl.mapped.items()}


def add_clean_acl(tpg: TargetPortalGroup, initiator: str, acl: AclPlan,
                  undo: Rollback) -> None:
    """An explicit ACL that holds exactly ``acl``'s LUNs, whatever the kernel kept before.

    With demo mode on, the kernel may hold a *dynamic* ACL for this name (from a login
    before it joined a group; kept after logout), which ``mkdir`` would convert, keeping its
    LUN entries unseen; so it is freed first (:meth:`~.tpg.TargetPortalGroup.free_dynamic_acl`,
    which ends the initiator's sessions).  Demo mode is off meanwhile, so that no login can
    make a new dynamic ACL between that and the real ``mkdir``.
    """
    tpg.check_initiator(initiator)
    demo = tpg.supports_demo_mode and tpg.demo_mode()
    if demo:
        tpg.set_demo_mode(False)
    try:
        if tpg.supports_demo_mode:
            tpg.free_dynamic_acl(initiator)
        tpg.add_acl(initiator, _mapped(acl), tag=acl.group)
    finally:
        if demo:
            tpg.set_demo_mode(True)
    undo.add(tpg.remove_acl, initiator)


def _restore_acl(tpg: TargetPortalGroup, initiator: str, acl: AclPlan,
                 configure_acl: AclHook | None) -> None:
    tpg.add_acl(initiator, _mapped(acl), tag=acl.group)
    if configure_acl is not None:
        configure_acl(initiator)
