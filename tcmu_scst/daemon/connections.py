"""Established TCP connections to a local port, from the kernel's /proc/net/tcp{,6} tables.

LIO shows a demo-mode (dynamic) iSCSI session only by the initiator's name: there is no
configfs directory for it and so no connection address.  SCST shows the session's TCP
connections by initiator address, and tools expect the directory; the address is taken
from the kernel's TCP table, where the connections to the portal's port are.
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
    """Remote addresses of established connections whose local port is ``port``."""
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
            address = _address(remote.rsplit(":", 1)[0])
            if address not in found:
                found.append(address)
    return found
