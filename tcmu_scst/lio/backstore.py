"""TCMU (``user``) backstores in LIO configfs.

Created without the netlink reply protocol (``nl_reply_supported=-1``), with every attribute
set before the first LUN links to them, and with a large ``hw_max_sectors`` so the initiator
may send big I/Os.
"""

from __future__ import annotations

import contextlib
import os
from dataclasses import dataclass
from pathlib import Path

from ..dataplane.spec import DEFAULT_CONFIGFS

DEFAULT_MAX_SECTORS = 2048


@dataclass(frozen=True)
class UserBackstore:
    configfs: Path
    hba: int
    name: str

    @property
    def path(self) -> Path:
        return self.configfs / "target" / "core" / f"user_{self.hba}" / self.name


def _write(path: Path, value: str) -> None:
    with open(path, "w") as handle:
        handle.write(value)


def create_user_backstore(name: str, hba: int, subtype: str, config: str, size: int,
                          block_size: int = 512, max_sectors: int = DEFAULT_MAX_SECTORS,
                          configfs: str | Path = DEFAULT_CONFIGFS,
                          cmd_time_out: int | None = None) -> UserBackstore:
    """mkdir, control string, attributes, enable; removes what it made if a step fails."""
    if "," in config or ":" in config:
        raise ValueError(f"TCMU handler config may contain neither ',' nor ':': {config!r}")
    backstore = UserBackstore(Path(configfs), hba, name)
    path = backstore.path
    path.mkdir(parents=True)
    try:
        _write(path / "control",
               f"dev_config={subtype}/{config},dev_size={size},hw_block_size={block_size},"
               f"hw_max_sectors={max_sectors},nl_reply_supported=-1")
        if cmd_time_out is not None:
            _write(path / "attrib" / "cmd_time_out", str(cmd_time_out))
        _write(path / "enable", "1")
    except OSError:
        remove_user_backstore(backstore)
        raise
    return backstore


def remove_user_backstore(backstore: UserBackstore) -> None:
    os.rmdir(backstore.path)
    with contextlib.suppress(OSError):  # other storage objects may live on this HBA
        os.rmdir(backstore.path.parent)
