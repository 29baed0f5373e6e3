"""Ending one live iSCSI session on LIO, and no other (SCST's ``force_close``).

LIO has no file that closes a session.  What does, found on Debian 12's kernel (6.1), where
the initiator then logs in again as after any lost connection:

* a session through an explicit ACL: writing a *different* ``cmdsn_depth`` into the ACL
  ends every session of that ACL (the kernel wants them to log in again with the new CmdSN
  window; the same value changes nothing).  The old depth is written back at once, unless
  the initiator has logged in again meanwhile, which that second write would end too;
* a demo-mode session: :meth:`~.tpg.TargetPortalGroup.free_dynamic_acl` (``mkdir`` and
  ``rmdir`` of its name under ``acls/``) ends every session of its dynamic ACL, and nothing
  else; demo mode lets it in again.

Both end *all* sessions of one initiator name on the TPG.  Where that would be more than
the one asked for, nothing is done (EBUSY): two demo-mode sessions of one name show in
``dynamic_sessions``, and a second session through one ACL shows only in the target's
session count (:func:`~.sessions.session_count`), which then exceeds the sessions listed.
"""

from __future__ import annotations

import errno
import logging

from .iscsi import IscsiTarget
from .sessions import IscsiSession, parse_acl_info, session_count

log = logging.getLogger(__name__)

CMDSN_DEPTH_MAX = 512


def close_session(tpg: IscsiTarget, initiator: str) -> None:
    """End ``initiator``'s session on ``tpg``; OSError (nothing done) where that would end
    another session too, or where there is none."""
    sessions = tpg.sessions()
    mine = [session for session in sessions if session.initiator == initiator]
    if not mine:
        raise OSError(errno.ENOENT, f"{initiator} has no session on {tpg.iqn} (it logged "
                      "out meanwhile)")
    if len(mine) > 1:
        raise OSError(errno.EBUSY, f"{initiator} has {len(mine)} sessions on {tpg.iqn}, and "
                      "LIO ends an initiator's demo-mode sessions only all together: log "
                      "the others out on the initiator first")
    session = mine[0]
    if session.dynamic:
        tpg.free_dynamic_acl(initiator)
    else:
        hidden = session_count(tpg.fs, tpg.wwn_path) - len(sessions)
        if hidden > 0:
            raise OSError(errno.EBUSY, f"{tpg.iqn} has {hidden} session(s) LIO does not "
                          "show: an initiator logged in more than once through one ACL, and "
                          "LIO ends an ACL's sessions only all together; log the extra "
                          "sessions out on the initiator first")
        _renew_window(tpg, initiator, session)
    log.info("%s: session of %s closed", tpg.iqn, initiator)


def _renew_window(tpg: IscsiTarget, initiator: str, session: IscsiSession) -> None:
    """Change the ACL's ``cmdsn_depth`` and back: the kernel ends the ACL's sessions."""
    path = tpg.acl_path(initiator) / "cmdsn_depth"
    depth = int(tpg.fs.read(path).strip())
    tpg.fs.write(path, str(depth + 1 if depth < CMDSN_DEPTH_MAX else depth - 1))
    again = parse_acl_info(tpg.fs.read(tpg.acl_path(initiator) / "info"))
    if again is not None and again.tsih != session.tsih:
        log.info("%s: %s logged in again at once; its cmdsn_depth stays %s",
                 tpg.iqn, initiator, tpg.fs.read(path).strip())
        return
    tpg.fs.write(path, str(depth))
