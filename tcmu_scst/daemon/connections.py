"""Established TCP connections to a local port, from the kernel's /proc/net/tcp{,6} tables.

LIO shows a demo-mode (dynamic) iSCSI session only by the initiator's name: there is no
configfs directory for it and so no connection address.  SCST shows the session's TCP
connections by initiator address, and tools expect the directory; the address is taken
from the kernel's TCP table, where the connections to the portal's port are, but only where
that is certain (:func:`unclaimed`).
"""

from __future__ import annotations

import ipaddress
from pathlib import Path

ESTABLISHED = "01"


def _address(text: str) -> str:
    """/proc/net/tcp hex ``ADDR:PORT`` address part → dotted or colon notation."""
    raw = bytes.fromhex(text)
    if len(raw) == 4:
        return str(ipaddress.IPv4Address(raw[::-1]))
    # IPv6: four 32-bit words, each in host (little-endian) order
    words = b"".join(raw[index : index + 4][::-1] for index in range(0, 16, 4))
    address = ipaddress.IPv6Address(words)
    return str(address.ipv4_mapped or address)


def peers(port: int, proc: str | Path = "/proc") -> list[str]:
    """The remote address of each established connection whose local port is ``port``
    (an address as often as it has connections)."""
    found: list[str] = []
    for table in ("net/tcp", "net/tcp6"):
        try:
            lines = (Path(proc) / table).read_text().splitlines()[1:]
        except OSError:
            continue
        for line in lines:
            fields = line.split()
            if len(fields) < 4 or fields[3] != ESTABLISHED:
                continue
            local, remote = fields[1], fields[2]
            if int(local.rsplit(":", 1)[1], 16) != port:
                continue
            found.append(_address(remote.rsplit(":", 1)[0]))
    return found


def unclaimed(port: int, claimed: list[str], proc: str | Path = "/proc") -> str | None:
    """The address of the one connection to ``port`` that no listed session claims, or None.

    The portal's port is shared by every target on the host, so a connection nobody claims
    could be any demo-mode session's, or a login or discovery under way.  Only when exactly
    one is left over, and the caller knows of exactly one session without an address, does
    that connection certainly belong to it; otherwise the session shows no address.
    """
    left = peers(port, proc)
    for address in claimed:
        if address in left:
            left.remove(address)
    return left[0] if len(left) == 1 else None
