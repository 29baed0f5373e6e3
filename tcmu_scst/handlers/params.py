"""Creation parameters shared by the vdisk handlers, parsed from SCST's strings.

Values arrive as SCST's mgmt grammar produces them (``blocksize=4096``); the management layer
decides which names a handler accepts, this module turns accepted ones into settings.
Flags keep only their lowest bit, as SCST's one-bit fields do (``2`` means off).
"""

from __future__ import annotations

from collections.abc import Mapping

from .disk import DiskSettings
from .identity import Identity

FLAG_PARAMETERS = ("read_only", "write_through", "nv_cache", "removable", "rotational",
                   "thin_provisioned")


def flag(params: Mapping[str, str], name: str, default: bool = False) -> bool:
    if name not in params:
        return default
    return bool(int(params[name], 0) & 1)


def disk_settings(params: Mapping[str, str]) -> DiskSettings:
    settings = DiskSettings()
    if "blocksize" in params:
        settings.block_size = int(params["blocksize"])
    for name in FLAG_PARAMETERS:
        if name in params:
            setattr(settings, name, flag(params, name))
    if "tst" in params:
        settings.tst = int(params["tst"])
    return settings


def identity(name: str, params: Mapping[str, str], vendor: str) -> Identity:
    """The INQUIRY identity: SCST's generated defaults unless parameters override them."""
    return Identity(name, vendor=params.get("t10_vend_id", vendor),
                    product=params.get("prod_id", ""),
                    revision=params.get("prod_rev_lvl", "3110"),
                    t10_dev_id=params.get("t10_dev_id", ""),
                    usn=params.get("usn", ""),
                    setup_id=int(params.get("setup_id", "0"), 0))
