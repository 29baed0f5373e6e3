"""Import, iSCSI TPG settings: LIO's CHAP accounts, negotiation keys and attributes in SCST.

LIO keeps CHAP per TPG (for demo-mode initiators) and per node ACL; SCST keeps accounts per
target only, so the accounts of one TPG merge into the target's ``IncomingUser`` lines, with a
warning for what that grants.  Of the negotiation keys only those SCST shares with LIO carry
over; the rest of the TPG (portals, attributes, per-ACL timers) has no SCST counterpart and is
reported, not silently dropped.  Each function returns scst.conf attribute lines as
``(name, value)`` pairs for the target block.
"""

from __future__ import annotations

from typing import Any

from ...compat_sysfs.iscsi_params import MIN_SECRET
from ...drivers import ISCSI_LAYOUT
from .facts import ACL_ATTRIBUTE_DEFAULTS, LIO_ONLY_PARAMETERS, TPG_DEFAULTS, TPG_IGNORED
from .results import Warn
from .validate import numeric


def iscsi_chap(tpg: dict[str, Any], path: str, demo: bool, authenticate: bool,
               warn: Warn) -> list[tuple[str, str]]:
    """IncomingUser/OutgoingUser lines: the TPG's account serves demo-mode initiators,
    each ACL's its own initiator; SCST has only target-wide accounts."""
    accounts: list[tuple[str, str, str]] = []  # (user, secret, where)
    mutual: list[tuple[str, str, str]] = []
    sources = [(tpg["raw"], path)] if demo else []
    sources += [(acl["chap"], acl["path"]) for acl in tpg["acls"]]
    for chap, where in sources:
        user, secret = chap.get("chap_userid") or "", chap.get("chap_password") or ""
        if user and secret:
            accounts.append((user, secret, where))
        mutual_user = chap.get("chap_mutual_userid") or ""
        mutual_secret = chap.get("chap_mutual_password") or ""
        if mutual_user and mutual_secret:
            mutual.append((mutual_user, mutual_secret, where))
    if not demo and tpg["raw"].get("chap_userid"):
        warn(f"{path}.chap_userid", "without demo mode LIO never uses the TPG's "
             "account; dropped")
    if (accounts or mutual) and not authenticate:
        warn(f"{path}.attributes.authentication", "0: LIO does not enforce the CHAP "
             "accounts of this TPG; they are left out")
        return []
    if authenticate and not accounts:
        warn(f"{path}.attributes.authentication", "1 without accounts: LIO lets no "
             "one in, SCST without IncomingUser lets everyone in")
    lines = []
    written: set[tuple[str, str]] = set()
    for user, secret, where in accounts:
        if (user, secret) in written:
            continue
        if any(user == other for other, _ in written):
            warn(where, f"CHAP user {user} with another secret: SCST keeps one "
                 "secret per user; left out")
            continue
        written.add((user, secret))
        lines.append(("IncomingUser", f"{user} {secret}"))
        if len(written) == 2:
            warn(path, "SCST's CHAP accounts are per target: every IncomingUser may "
                 "log in as any initiator")
        if len(secret) < MIN_SECRET:
            warn(where, f"CHAP secret of {user} is shorter than {MIN_SECRET} "
                 "characters: iscsi-scstd and tcmu-scstd refuse it")
    if mutual:
        user, secret, _ = mutual[0]
        lines.append(("OutgoingUser", f"{user} {secret}"))
        for other_user, other_secret, where in mutual[1:]:
            if (other_user, other_secret) != (user, secret):
                warn(where, "SCST has one OutgoingUser per target; this mutual "
                     "account is left out")
    return lines


def iscsi_parameters(tpg: dict[str, Any], path: str, warn: Warn) -> list[tuple[str, str]]:
    """The negotiation keys SCST shares with LIO, where they differ from SCST's defaults."""
    parameters = tpg["parameters"]
    shared = ISCSI_LAYOUT.lio_keys
    lines = [(key, parameters[key]) for key in shared
             if key in parameters and not _same_value(key, parameters[key], shared[key])]
    for key, value in parameters.items():
        if key in shared:
            continue
        if key in LIO_ONLY_PARAMETERS:
            if not _same_value(key, value, LIO_ONLY_PARAMETERS[key]):
                warn(f"{path}.parameters.{key}", f"{value!r}: SCST has no such "
                     "target setting; dropped")
        elif key != "AuthMethod":  # follows attributes.authentication
            warn(f"{path}.parameters.{key}", "unknown parameter; dropped")
    return lines


def iscsi_unexpressed(tpg: dict[str, Any], path: str, warn: Warn) -> None:
    """Warnings for TPG attributes, portals and ACL settings SCST has no place for."""
    for key, value in tpg["attributes"].items():
        if key not in TPG_DEFAULTS and key not in TPG_IGNORED:
            warn(f"{path}.attributes.{key}", f"{value!r}: no SCST counterpart; "
                 "dropped")
        elif key == "default_cmdsn_depth" and numeric(value) not in (None, 64, 16):
            warn(f"{path}.attributes.{key}", "closest in SCST is QueuedCommands "
                 "(not the same thing); dropped")
    any_address, iscsi_port = ISCSI_LAYOUT.portal
    for address, port, iser, offload, portal_path in tpg["portals"]:
        if address.strip("[]") not in (any_address, "::0", "::") or port != iscsi_port:
            warn(portal_path, f"{address}:{port}: SCST's iSCSI target listens on "
                 f"every address at port {iscsi_port} (iscsi-scstd); the portal is dropped")
        if iser or offload:
            warn(portal_path, "iSER and offload are not offered; dropped")
    for acl in tpg["acls"]:
        if acl["tcq_depth"] not in (None, "", 16, 64, "16", "64"):
            warn(f"{acl['path']}.tcq_depth", "no per-initiator queue depth in SCST; "
                 "dropped")
        changed = [key for key, value in sorted(acl["attributes"].items())
                   if numeric(value) not in ACL_ATTRIBUTE_DEFAULTS.get(key, ())]
        if changed:
            warn(f"{acl['path']}.attributes", f"{', '.join(changed)}: no "
                 "per-initiator settings in SCST (its timers are per target: "
                 "NopInInterval, NopInTimeout, RspTimeout); dropped")


def _same_value(key: str, value: str, default: str) -> bool:
    """Whether a negotiation key has its default; digests are lists, in any order."""
    if key in ("HeaderDigest", "DataDigest"):
        return {part.strip().lower() for part in value.split(",")} == \
            {part.strip().lower() for part in default.split(",")}
    return value.strip() == default

