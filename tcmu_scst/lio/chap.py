"""CHAP credentials in LIO's ``auth/`` and ``discovery_auth/`` directories.

The kernel keeps exactly the bytes written (a newline would become part of the secret) and
has no way to clear a value except writing ``NULL``, which it keeps as text but treats as
unset; so ``NULL`` is what an empty credential is written as, and read back as empty.
Over 255 bytes the kernel refuses (ACLs, discovery) or silently truncates (TPGs), so longer
values are refused here before anything is written.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import PurePosixPath

from .configfs import Configfs, invalid
from .rollback import Rollback

UNSET = "NULL"
FIELDS = ("userid", "password", "userid_mutual", "password_mutual")
MAX_LENGTH = 255


@dataclass(frozen=True)
class Chap:
    """Incoming credentials (the initiator proves itself) and optional mutual ones."""

    userid: str = ""
    password: str = ""
    userid_mutual: str = ""
    password_mutual: str = ""

    def values(self) -> dict[str, str]:
        return {name: getattr(self, name) for name in FIELDS}

    @property
    def is_empty(self) -> bool:
        return not any(self.values().values())


NO_CHAP = Chap()


def check_chap(chap: Chap) -> None:
    """Refuse (EINVAL) credentials the kernel would mangle or that make no sense."""
    for name, value in chap.values().items():
        if "\n" in value or value.startswith(UNSET) or len(value.encode()) > MAX_LENGTH:
            raise invalid(f"CHAP {name}: one line of at most {MAX_LENGTH} bytes, "
                          f"not starting with {UNSET!r}")
    if bool(chap.userid) != bool(chap.password):
        raise invalid("CHAP userid and password go together")
    if bool(chap.userid_mutual) != bool(chap.password_mutual):
        raise invalid("CHAP userid_mutual and password_mutual go together")


def _decode(text: str) -> str:
    value = text[:-1] if text.endswith("\n") else text
    return "" if value.startswith(UNSET) else value


def read_chap(fs: Configfs, directory: PurePosixPath) -> Chap:
    """The credentials in ``directory`` (reading needs root, as the files are secret)."""
    return Chap(**{name: _decode(fs.read(directory / name)) for name in FIELDS})


def write_chap(fs: Configfs, directory: PurePosixPath, chap: Chap) -> None:
    """Replace the credentials in ``directory``; on a refused write the old ones come back."""
    check_chap(chap)
    old = read_chap(fs, directory)
    with Rollback() as undo:
        for name, value in chap.values().items():
            if value == getattr(old, name):
                continue
            fs.write(directory / name, value or UNSET)
            undo.add(fs.write, directory / name, getattr(old, name) or UNSET)
