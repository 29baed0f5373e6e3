"""CHAP accounts as SCST's iSCSI driver takes them: ``USER SECRET`` values in files named
``IncomingUser``, ``IncomingUser1`` ... (one file per account), secrets of a minimum length.

Used when ``add_target`` names accounts and by ``add_attribute``/``add_target_attribute``.
"""

from __future__ import annotations

from collections.abc import Collection

from ..compat_sysfs.grammar import invalid
from ..compat_sysfs.iscsi_params import MIN_SECRET


def secret_parts(values: list[str], what: str) -> tuple[str, str]:
    """``[user, secret]`` checked: iscsi-scstd refuses a secret shorter than MIN_SECRET."""
    if len(values) != 2:
        raise invalid(f"{what} needs a user name and a secret: {what} USER SECRET")
    user, secret = values
    if len(secret) < MIN_SECRET:
        raise invalid(f"{what}: the secret must be at least {MIN_SECRET} characters")
    return user, secret


def instance_name(existing: Collection[str], base: str) -> str:
    """SCST's multi-instance files: Name, then Name1, Name2, ..."""
    if base not in existing:
        return base
    number = 1
    while f"{base}{number}" in existing:
        number += 1
    return f"{base}{number}"
