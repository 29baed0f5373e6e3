"""Initiators played against the emulated iSCSI fabric, by the kernel's rules for who may.

Sessions cannot come from a configfs write: :func:`login` and :func:`logout` stand for an
initiator (open-iscsi's login offer unless told otherwise), so that everything reading
sessions can be tested against the kernel's formats; :func:`visible_luns` and
:func:`discoverable` say what that initiator would be shown.  As on the kernel, a login with
the name and ISID of a live session *reinstates* it (the old session ends); another ISID
makes a second session of the same initiator name.
"""

from __future__ import annotations

from collections.abc import Mapping

from .fabric import Lun, MappedLun
from .filesystem import EmulatedConfigfs
from .iscsi import IscsiAcl, IscsiTpg
from .iscsi_session import OPEN_ISCSI_ISID, OPEN_ISCSI_OFFER, Session, negotiate


def _tpg(fs: EmulatedConfigfs, target: str, tag: int) -> IscsiTpg:
    node = fs.node(f"target/iscsi/{target}/tpgt_{tag}")
    if not isinstance(node, IscsiTpg):
        raise LookupError(f"no iSCSI TPG {target} tag {tag}")
    return node


def login(fs: EmulatedConfigfs, target: str, initiator: str, address: str = "127.0.0.1",
          tag: int = 1, alias: str | None = None, isid: int = OPEN_ISCSI_ISID,
          offer: Mapping[str, str] = OPEN_ISCSI_OFFER) -> int:
    """Play an initiator logging in; returns the session id."""
    tpg = _tpg(fs, target, tag)
    if not tpg.enabled:
        raise ConnectionRefusedError(f"{target} tag {tag} is not enabled")
    acl = tpg.acls.children.get(initiator)
    dynamic = None
    if isinstance(acl, IscsiAcl):
        window = acl.cmdsn_depth
    else:
        acl = None
        dynamic = tpg.dynamic_acls.get(initiator)
        if dynamic is None:
            if not tpg.attributes["generate_node_acls"]:
                raise PermissionError(f"{initiator} has no ACL on {target}")
            dynamic = tpg.dynamic_acl(initiator)
        window = tpg.attributes["default_cmdsn_depth"]
    tpg.sessions = [entry for entry in tpg.sessions  # reinstatement of the same I_T nexus
                    if (entry.initiator, entry.isid) != (initiator, isid)]
    session = Session(initiator, next(tpg.fabric.session_ids), address, alias, acl, dynamic,
                      isid=isid, window=window,
                      negotiated=negotiate(tpg.parameters, offer))
    tpg.sessions.append(session)
    return session.session_id


def logout(fs: EmulatedConfigfs, target: str, initiator: str, tag: int = 1,
           isid: int | None = None) -> None:
    """End ``initiator``'s session with ``isid``, or all of its sessions."""
    tpg = _tpg(fs, target, tag)
    tpg.sessions = [entry for entry in tpg.sessions if entry.initiator != initiator
                    or (isid is not None and entry.isid != isid)]
    still = any(entry.initiator == initiator for entry in tpg.sessions)
    if not tpg.attributes["cache_dynamic_acls"] and not still:
        tpg.dynamic_acls.pop(initiator, None)


def busy(fs: EmulatedConfigfs, target: str, initiator: str, commands: int,
         tag: int = 1) -> None:
    """Give ``initiator``'s latest session ``commands`` commands the target has not answered."""
    tpg = _tpg(fs, target, tag)
    session = next(entry for entry in reversed(tpg.sessions) if entry.initiator == initiator)
    session.in_flight = commands


def sessions_of(fs: EmulatedConfigfs, target: str, initiator: str,
                tag: int = 1) -> list[Session]:
    """What the kernel holds for ``initiator`` (configfs may show less)."""
    return [entry for entry in _tpg(fs, target, tag).sessions if entry.initiator == initiator]


def visible_luns(fs: EmulatedConfigfs, target: str, initiator: str,
                 tag: int = 1) -> dict[int, tuple[int, bool]]:
    """LUN -> (TPG LUN, read-only) as REPORT LUNS shows them to ``initiator``'s session.

    Raises PermissionError when it has no session (say, its ACL was removed).
    """
    tpg = _tpg(fs, target, tag)
    session: Session | None = next(
        (entry for entry in tpg.sessions if entry.initiator == initiator), None)
    if session is None:
        raise PermissionError(f"{initiator} has no session on {target}")
    if session.acl is None:
        entries = dict(session.dynamic.entries) if session.dynamic else {}
    else:
        entries = dict(session.acl.hidden)
        for child in session.acl.children.values():
            if isinstance(child, MappedLun) and child.live:
                link = child.link_in()
                assert link is not None and isinstance(link.target, Lun)
                entries[child.number] = (link.target, child.read_only)
    return {number: (lun.number, read_only) for number, (lun, read_only) in entries.items()}


def discoverable(fs: EmulatedConfigfs, target: str, initiator: str, tag: int = 1) -> bool:
    """Whether SendTargets from ``initiator`` lists this TPG."""
    tpg = _tpg(fs, target, tag)
    if not tpg.enabled:
        return False
    return bool(tpg.attributes["generate_node_acls"] or tpg.attributes["demo_mode_discovery"]
                or isinstance(tpg.acls.children.get(initiator), IscsiAcl)
                or initiator in tpg.dynamic_acls)
