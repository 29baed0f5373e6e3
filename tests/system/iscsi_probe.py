#!/usr/bin/env python3
"""What an iSCSI target shows one initiator name: discovery, login, REPORT LUNS and READs.

Run inside a guest with Debian's python3 (ctypes over libiscsi.so.7, which libiscsi-bin
brings), since no libiscsi tool reads a chosen LUN as a chosen initiator name::

    iscsi_probe.py INITIATOR IQN [--chap USER:SECRET] [--read 0,1,20000]

prints one line per question, for tests to judge::

    discover INITIATOR: listed | hidden | refused (why)
    login INITIATOR: ok | refused (why)
    luns INITIATOR: 0 1            (REPORT LUNS; raw 16-bit LUN fields, as iscsi-ls prints)
    read INITIATOR 1: <the first 16 bytes of LBA 0, as text> | fail (sense)

Unit attentions (each new session gets REPORTED LUNS DATA HAS CHANGED) are retried.  LIO
answers LUN 0 for everyone (a virtual LUN when nothing is mapped there), so a READ of LUN 0
proves nothing by itself: judge by the data read.
"""

from __future__ import annotations

import argparse
import ctypes
import sys

PORTAL = b"127.0.0.1:3260"
DISCOVERY, NORMAL = 1, 2  # enum iscsi_session_type
GOOD, CHECK_CONDITION = 0, 2
READ10 = bytes([0x28, 0, 0, 0, 0, 0, 0, 0, 1, 0])
REPORT_LUNS = bytes([0xA0, 0, 0, 0, 0, 0, 0, 0, 0x10, 0, 0, 0])

lib = ctypes.CDLL("libiscsi.so.7")
pointer = ctypes.c_void_p
for name, result, arguments in (
        ("iscsi_create_context", pointer, [ctypes.c_char_p]),
        ("iscsi_get_error", ctypes.c_char_p, [pointer]),
        ("iscsi_set_targetname", ctypes.c_int, [pointer, ctypes.c_char_p]),
        ("iscsi_set_session_type", ctypes.c_int, [pointer, ctypes.c_int]),
        ("iscsi_set_header_digest", ctypes.c_int, [pointer, ctypes.c_int]),
        ("iscsi_set_initiator_username_pwd", ctypes.c_int,
         [pointer, ctypes.c_char_p, ctypes.c_char_p]),
        ("iscsi_set_noautoreconnect", None, [pointer, ctypes.c_int]),
        ("iscsi_full_connect_sync", ctypes.c_int, [pointer, ctypes.c_char_p, ctypes.c_int]),
        ("iscsi_connect_sync", ctypes.c_int, [pointer, ctypes.c_char_p]),
        ("iscsi_login_sync", ctypes.c_int, [pointer]),
        ("iscsi_discovery_sync", pointer, [pointer]),
        ("iscsi_free_discovery_data", None, [pointer, pointer]),
        ("iscsi_logout_sync", ctypes.c_int, [pointer]),
        ("iscsi_destroy_context", ctypes.c_int, [pointer]),
        ("scsi_create_task", pointer, [ctypes.c_int, ctypes.c_char_p, ctypes.c_int,
                                       ctypes.c_int]),
        ("scsi_task_set_iov_in", None, [pointer, pointer, ctypes.c_int]),
        ("iscsi_scsi_command_sync", pointer, [pointer, ctypes.c_int, pointer, pointer]),
        ("scsi_free_scsi_task", None, [pointer])):
    function = getattr(lib, name)
    function.restype, function.argtypes = result, arguments


class ScsiIovec(ctypes.Structure):
    _fields_ = [("iov_base", pointer), ("iov_len", ctypes.c_size_t)]


class DiscoveryAddress(ctypes.Structure):
    pass


DiscoveryAddress._fields_ = [("next", ctypes.POINTER(DiscoveryAddress)),
                             ("target_name", ctypes.c_char_p), ("portals", pointer)]


def error(context: int) -> str:
    return (lib.iscsi_get_error(context) or b"").decode(errors="replace")


def context(initiator: str, chap: str | None, session_type: int) -> int:
    made = lib.iscsi_create_context(initiator.encode())
    lib.iscsi_set_session_type(made, session_type)
    lib.iscsi_set_header_digest(made, 0)
    lib.iscsi_set_noautoreconnect(made, 1)
    if chap:
        user, _, secret = chap.partition(":")
        lib.iscsi_set_initiator_username_pwd(made, user.encode(), secret.encode())
    return made


def discover(initiator: str, iqn: str, chap: str | None) -> str:
    made = context(initiator, chap, DISCOVERY)
    if lib.iscsi_connect_sync(made, PORTAL) or lib.iscsi_login_sync(made):
        return f"refused ({error(made)})"
    found = lib.iscsi_discovery_sync(made)
    names = []
    entry = ctypes.cast(found, ctypes.POINTER(DiscoveryAddress))
    while entry:
        names.append(entry.contents.target_name.decode())
        entry = entry.contents.next
    if found:
        lib.iscsi_free_discovery_data(made, found)
    lib.iscsi_logout_sync(made)
    return "listed" if iqn in names else "hidden"


def command(session: int, lun: int, cdb: bytes, length: int) -> tuple[int | None, bytes, str]:
    """(status, data, error) of one command; unit attentions are retried."""
    status: int | None = None
    for _ in range(4):
        buffer = ctypes.create_string_buffer(length)
        task = lib.scsi_create_task(len(cdb), cdb, 1, length)
        vector = ScsiIovec(ctypes.cast(buffer, pointer), length)
        lib.scsi_task_set_iov_in(task, ctypes.byref(vector), 1)
        done = lib.iscsi_scsi_command_sync(session, lun, task, None)
        if not done:
            lib.scsi_free_scsi_task(task)
            return None, b"", f"transport: {error(session)}"
        status = ctypes.c_int.from_address(done).value
        lib.scsi_free_scsi_task(task)
        why = error(session) if status != GOOD else ""
        if status == CHECK_CONDITION and "UNIT_ATTENTION" in why:
            continue
        return status, buffer.raw, why
    return status, b"", "unit attentions did not stop"


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("initiator")
    parser.add_argument("iqn")
    parser.add_argument("--chap", help="USER:SECRET")
    parser.add_argument("--read", default="", help="comma-separated LUN numbers to READ")
    args = parser.parse_args()
    name = args.initiator
    print(f"discover {name}: {discover(name, args.iqn, args.chap)}", flush=True)
    session = context(name, args.chap, NORMAL)
    lib.iscsi_set_targetname(session, args.iqn.encode())
    if lib.iscsi_full_connect_sync(session, PORTAL, -1):
        print(f"login {name}: refused ({error(session)})")
        return 0
    print(f"login {name}: ok")
    status, data, why = command(session, 0, REPORT_LUNS, 4096)
    if status == GOOD:
        count = int.from_bytes(data[:4], "big") // 8
        luns = [int.from_bytes(data[8 + 8 * index:10 + 8 * index], "big")
                for index in range(count)]
        print(f"luns {name}: {' '.join(map(str, sorted(luns)))}")
    else:
        print(f"luns {name}: fail ({status} {why})")
    for lun in [int(text) for text in args.read.split(",") if text]:
        status, data, why = command(session, lun, READ10, 512)
        text = data[:16].rstrip(b"\0").decode(errors="replace") or "<zeros>"
        print(f"read {name} {lun}: {text if status == GOOD else f'fail ({status} {why})'}")
    lib.iscsi_logout_sync(session)
    lib.iscsi_destroy_context(session)
    return 0


if __name__ == "__main__":
    sys.exit(main())
