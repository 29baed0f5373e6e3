"""Connection addresses from the kernel's TCP tables (a recorded table, and this host's)."""

from __future__ import annotations

import socket
from pathlib import Path

from tcmu_scst.daemon.connections import peers, unclaimed

TCP = """  sl  local_address rem_address   st tx_queue rx_queue tr tm->when retrnsmt   uid  timeout inode
   0: 00000000:0CBC 00000000:0000 0A 00000000:00000000 00:00000000 00000000     0        0 1 1
   1: 0100007F:0CBC 0100007F:A2C4 01 00000000:00000000 00:00000000 00000000     0        0 2 1
   2: 0100007F:A2C4 0100007F:0CBC 01 00000000:00000000 00:00000000 00000000     0        0 3 1
   3: 0200A8C0:0CBC 0A00A8C0:D431 06 00000000:00000000 00:00000000 00000000     0        0 4 1
   4: 0100007F:0CBC 0100007F:A2C6 01 00000000:00000000 00:00000000 00000000     0        0 5 1
"""
TCP6 = """  sl  local_address                         remote_address                        st
   0: 00000000000000000000000001000000:0CBC 00000000000000000000000001000000:B3B0 01 0
   1: 0000000000000000FFFF00000200A8C0:0CBC 0000000000000000FFFF00000500A8C0:B3B2 01 0
"""


def test_established_peers_of_a_port(tmp_path: Path) -> None:
    (tmp_path / "net").mkdir()
    (tmp_path / "net" / "tcp").write_text(TCP)
    (tmp_path / "net" / "tcp6").write_text(TCP6)
    # listening (0A) and TIME_WAIT (06) rows are skipped, as is the client side of row 2;
    # an address comes once per connection
    assert peers(3260, tmp_path) == ["127.0.0.1", "127.0.0.1", "::1", "192.168.0.5"]
    assert peers(80, tmp_path) == []


def test_the_one_unclaimed_connection(tmp_path: Path) -> None:
    (tmp_path / "net").mkdir()
    (tmp_path / "net" / "tcp").write_text(TCP)
    assert unclaimed(3260, [], tmp_path) is None  # two connections: whose is whose?
    assert unclaimed(3260, ["127.0.0.1"], tmp_path) == "127.0.0.1"
    (tmp_path / "net" / "tcp6").write_text(TCP6)
    assert unclaimed(3260, ["127.0.0.1", "::1"], tmp_path) is None
    assert unclaimed(3260, ["127.0.0.1", "::1", "192.168.0.5"], tmp_path) == "127.0.0.1"


def test_this_hosts_table() -> None:
    with socket.socket() as server:
        server.bind(("127.0.0.1", 0))
        server.listen()
        with socket.create_connection(server.getsockname()):
            connection, _ = server.accept()
            with connection:
                assert "127.0.0.1" in peers(server.getsockname()[1])
