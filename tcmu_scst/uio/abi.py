"""The TCMU ring ABI: compiled layout, ordered index accessors and the protocol's constants.

Offsets are asserted at import against the kernel's layout (uapi ``target_core_user.h``,
mailbox version 2), so a build that disagrees with the kernel never gets to touch a ring.
"""

from __future__ import annotations

from ._ring_abi import ffi, lib

MAILBOX_VERSION = 2

# mailbox flags (capabilities the kernel offers)
CAP_OOOC = 0x1  # out-of-order completion, matched by cmd_id
CAP_READ_LEN = 0x2  # rsp.read_len honoured for Data-In
CAP_TMR = 0x4  # TMR notification entries
CAP_KEEP_BUF = 0x8

# entry opcodes (low three bits of len_op)
OP_PAD = 0
OP_CMD = 1
OP_TMR = 2
OP_MASK = 0x7
ENTRY_ALIGN = 8

# uflags (user to kernel)
UFLAG_UNKNOWN_OP = 0x1
UFLAG_READ_LEN = 0x2
UFLAG_KEEP_BUF = 0x4

SENSE_BUFFER_SIZE = 96
IOV_OFFSET = 48  # the iovec array follows the request header
TMR_IDS_OFFSET = 32  # the aborted command ids follow the TMR header
IOVEC_SIZE = 16
CMD_ENTRY_SIZE = 112

# task management function codes carried by TMR entries
TMR_NAMES = {
    0: "UNKNOWN", 1: "ABORT_TASK", 2: "ABORT_TASK_SET", 3: "CLEAR_ACA", 4: "CLEAR_TASK_SET",
    5: "LUN_RESET", 6: "TARGET_WARM_RESET", 7: "TARGET_COLD_RESET", 128: "LUN_RESET_PRO",
}

KERNEL_LAYOUT = {
    ("struct ring_mailbox", ("version",)): 0,
    ("struct ring_mailbox", ("flags",)): 2,
    ("struct ring_mailbox", ("cmdr_off",)): 4,
    ("struct ring_mailbox", ("cmdr_size",)): 8,
    ("struct ring_mailbox", ("cmd_head",)): 12,
    ("struct ring_mailbox", ("cmd_tail",)): 64,
    ("struct ring_entry_hdr", ("cmd_id",)): 4,
    ("struct ring_entry_hdr", ("kflags",)): 6,
    ("struct ring_entry_hdr", ("uflags",)): 7,
    ("struct ring_cmd_entry", ("req", "iov_cnt")): 8,
    ("struct ring_cmd_entry", ("req", "iov_bidi_cnt")): 12,
    ("struct ring_cmd_entry", ("req", "iov_dif_cnt")): 16,
    ("struct ring_cmd_entry", ("req", "cdb_off")): 24,
    ("struct ring_cmd_entry", ("rsp", "scsi_status")): 8,
    ("struct ring_cmd_entry", ("rsp", "read_len")): 12,
    ("struct ring_cmd_entry", ("rsp", "sense_buffer")): 16,
    ("struct ring_tmr_entry", ("tmr_type",)): 8,
    ("struct ring_tmr_entry", ("cmd_cnt",)): 12,
}
KERNEL_SIZES = {
    "struct ring_mailbox": 128,
    "struct ring_entry_hdr": 8,
    "struct ring_iovec": IOVEC_SIZE,
    "struct ring_cmd_entry": CMD_ENTRY_SIZE,
    "struct ring_cmd_request": IOV_OFFSET - 8,
    "struct ring_tmr_entry": TMR_IDS_OFFSET,
}


class AbiMismatchError(ImportError):
    """The compiled layout differs from the kernel's; rebuild the package."""


def verify_layout() -> None:
    for (struct, fields), expected in KERNEL_LAYOUT.items():
        actual = ffi.offsetof(struct, *fields)
        if actual != expected:
            raise AbiMismatchError(f"{struct}.{'.'.join(fields)} at {actual}, kernel: {expected}")
    for struct, expected in KERNEL_SIZES.items():
        if ffi.sizeof(struct) != expected:
            raise AbiMismatchError(f"sizeof({struct}) = {ffi.sizeof(struct)}, kernel: {expected}")


verify_layout()

__all__ = ["ffi", "lib"]
