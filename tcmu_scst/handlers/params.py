"""Settings of the vdisk handlers, made from their parsed parameters.

Each parameter is parsed and checked by its declaration (``declaration.Param.parse``, the
parsers in ``values``); this module turns the parsed values every disk handler shares into
:class:`DiskSettings` and the INQUIRY :class:`Identity`, and holds the rules across them.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from .disk import DiskSettings
from .identity import DEFAULT_REVISION, Identity
from .values import invalid, whole_number

# the flags of DiskSettings that parameters of the same name set
FLAG_PARAMETERS = ("read_only", "write_through", "nv_cache", "removable", "rotational",
                   "thin_provisioned", "o_direct", "lb_per_pb_exp")
IDENTITY_LIMITS = {"t10_vend_id": 8, "prod_id": 16, "prod_rev_lvl": 4, "t10_dev_id": 25,
                   "usn": 20}
# SCST's defaults of the disk settings, the source of the declared defaults
DISK_DEFAULTS = DiskSettings()


def disk_settings(params: Mapping[str, Any]) -> DiskSettings:
    """The settings of a disk from its parsed parameters (``declaration.Parameters``);
    a flag the handler does not declare, or declares without a default, keeps SCST's
    default (or is left for the handler to find, e.g. blockio's rotational)."""
    settings = DiskSettings()
    if params.get("blocksize") is not None:
        settings.block_size = params["blocksize"]
    for name in FLAG_PARAMETERS:
        if params.get(name) is not None:
            setattr(settings, name, params[name])
    if params.get("tst") is not None:
        settings.tst = params["tst"]
    return settings


def read_only_excludes_caching(params: Mapping[str, Any]) -> None:
    """A check of the disk handlers: a read-only disk has no writes to cache or flush."""
    if params.get("read_only") and (params.get("write_through") or params.get("nv_cache")):
        raise invalid("read_only=1 cannot be combined with write_through=1 or nv_cache=1")


def identity(name: str, params: Mapping[str, Any], vendor: str) -> Identity:
    """The INQUIRY identity: SCST's generated defaults unless parameters override them
    (the lengths are checked by the parameters' parsers)."""
    setup_id = params.get("setup_id")
    return Identity(name, vendor=params.get("t10_vend_id") or vendor,
                    product=params.get("prod_id") or "",
                    revision=params.get("prod_rev_lvl") or DEFAULT_REVISION,
                    t10_dev_id=params.get("t10_dev_id") or "",
                    usn=params.get("usn") or "",
                    setup_id=whole_number("setup_id", setup_id) if setup_id else 0)
