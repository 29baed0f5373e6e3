"""Creation parameters shared by the vdisk handlers, parsed from SCST's strings.

Values arrive as SCST's mgmt grammar produces them (``blocksize=4096``); the management layer
decides which names a handler accepts, this module turns accepted ones into settings and
refuses values SCST refuses, with OSError(EINVAL) and a message saying what would be right.
Flags keep only their lowest bit, as SCST's one-bit fields do (``2`` means off).
"""

from __future__ import annotations

import errno
import logging
from collections.abc import Mapping

from .disk import DiskSettings
from .identity import DEFAULT_REVISION, Identity

log = logging.getLogger(__name__)

FLAG_PARAMETERS = ("read_only", "write_through", "nv_cache", "removable", "rotational",
                   "thin_provisioned", "o_direct")
MIN_BLOCK_SIZE = 512
IDENTITY_LIMITS = {"t10_vend_id": 8, "prod_id": 16, "prod_rev_lvl": 4, "t10_dev_id": 25,
                   "usn": 20}


def invalid(message: str) -> OSError:
    return OSError(errno.EINVAL, message)


def number(params: Mapping[str, str], name: str) -> int:
    text = params[name].strip()
    try:
        return int(text, 0)
    except ValueError:
        raise invalid(f"{name}={text!r} is not a number") from None


def flag(params: Mapping[str, str], name: str, default: bool = False) -> bool:
    if name not in params:
        return default
    return bool(number(params, name) & 1)


def block_size(params: Mapping[str, str], default: int = MIN_BLOCK_SIZE) -> int:
    """SCST's rule: bytes, 0 means 512, below 512 refused, other values rounded down to a
    power of two (SCST warns; so do we)."""
    if "blocksize" not in params:
        return default
    value = number(params, "blocksize")
    if value == 0:
        return MIN_BLOCK_SIZE
    if value < MIN_BLOCK_SIZE:
        raise invalid(f"blocksize={value} is too small: give bytes, a power of two of at "
                      f"least {MIN_BLOCK_SIZE} (512, 1024, 2048, 4096, ...)")
    rounded = 1 << (value.bit_length() - 1)
    if rounded != value:
        log.warning("blocksize=%d is not a power of two; using %d", value, rounded)
    return rounded


def disk_settings(params: Mapping[str, str]) -> DiskSettings:
    settings = DiskSettings(block_size=block_size(params))
    for name in FLAG_PARAMETERS:
        if name in params:
            setattr(settings, name, flag(params, name))
    if settings.read_only and (settings.write_through or settings.nv_cache):
        raise invalid("read_only=1 cannot be combined with write_through=1 or nv_cache=1")
    if "tst" in params:
        settings.tst = number(params, "tst")
        if settings.tst not in (0, 1):
            raise invalid(f"tst={settings.tst}: use 0 or 1")
    return settings


def identity(name: str, params: Mapping[str, str], vendor: str) -> Identity:
    """The INQUIRY identity: SCST's generated defaults unless parameters override them."""
    for key, limit in IDENTITY_LIMITS.items():
        if len(params.get(key, "")) > limit:
            raise invalid(f"{key} is longer than {limit} characters")
    return Identity(name, vendor=params.get("t10_vend_id", vendor),
                    product=params.get("prod_id", ""),
                    revision=params.get("prod_rev_lvl", DEFAULT_REVISION),
                    t10_dev_id=params.get("t10_dev_id", ""),
                    usn=params.get("usn", ""),
                    setup_id=int(params.get("setup_id", "0"), 0))
