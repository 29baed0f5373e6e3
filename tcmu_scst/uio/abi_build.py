"""cffi build script for ``tcmu_scst.uio._ring_abi`` (run at install time by setuptools).

Declares the TCMU shared-memory layout in our own words and compiles two kinds of helpers:
ordered loads/stores of the ring indices (the kernel publishes ``cmd_head`` with a release
store and reads ``cmd_tail`` after our response bytes, so plain Python accesses are only safe
on x86 by accident), and nothing else: the ring logic itself stays in Python.

When the kernel's uapi header is available at build time, the compiler also checks that every
offset we declare equals the kernel's.
"""

from __future__ import annotations

import cffi

DECLARATIONS = """
struct ring_mailbox {
    uint16_t version;
    uint16_t flags;
    uint32_t cmdr_off;
    uint32_t cmdr_size;
    uint32_t cmd_head;
    uint32_t cmd_tail;
    ...;
};

struct ring_entry_hdr {
    uint32_t len_op;
    uint16_t cmd_id;
    uint8_t kflags;
    uint8_t uflags;
};

struct ring_iovec {
    uint64_t base;
    uint64_t len;
};

struct ring_cmd_request {
    uint32_t iov_cnt;
    uint32_t iov_bidi_cnt;
    uint32_t iov_dif_cnt;
    uint64_t cdb_off;
    ...;
};

struct ring_cmd_response {
    uint8_t scsi_status;
    uint32_t read_len;
    uint8_t sense_buffer[96];
    ...;
};

struct ring_cmd_entry {
    struct ring_entry_hdr hdr;
    union {
        struct ring_cmd_request req;
        struct ring_cmd_response rsp;
    };
    ...;
};

struct ring_tmr_entry {
    struct ring_entry_hdr hdr;
    uint8_t tmr_type;
    uint32_t cmd_cnt;
    ...;
};

uint32_t ring_load_head(struct ring_mailbox *mailbox);
void ring_store_head(struct ring_mailbox *mailbox, uint32_t head);
uint32_t ring_load_tail(struct ring_mailbox *mailbox);
void ring_store_tail(struct ring_mailbox *mailbox, uint32_t tail);
"""

SOURCE = r"""
#include <stddef.h>
#include <stdint.h>

/* The mailbox: four header words, then cmd_tail alone on the next 64-byte line. */
struct ring_mailbox {
    uint16_t version;
    uint16_t flags;
    uint32_t cmdr_off;
    uint32_t cmdr_size;
    uint32_t cmd_head;
    uint8_t reserved_to_line_end[48];
    uint32_t cmd_tail;
    uint8_t reserved_to_struct_end[60];
};

struct ring_entry_hdr {
    uint32_t len_op;          /* low three bits: opcode; the rest: entry length */
    uint16_t cmd_id;
    uint8_t kflags;
    uint8_t uflags;
};

struct ring_iovec {
    uint64_t base;            /* offset from the start of the mapping, not a pointer */
    uint64_t len;
};

/* Naturally aligned (not packed): cdb_off lands on 8 bytes, leaving a hole after dif. */
struct ring_cmd_request {
    uint32_t iov_cnt;
    uint32_t iov_bidi_cnt;
    uint32_t iov_dif_cnt;
    uint32_t alignment_hole;
    uint64_t cdb_off;
    uint64_t reserved[2];
    /* the iovec array follows here, at entry offset 48 */
};

struct ring_cmd_response {
    uint8_t scsi_status;
    uint8_t reserved1;
    uint16_t reserved2;
    uint32_t read_len;
    uint8_t sense_buffer[96];
};

struct ring_cmd_entry {
    struct ring_entry_hdr hdr;
    union {
        struct ring_cmd_request req;
        struct ring_cmd_response rsp;
    };
};

struct ring_tmr_entry {
    struct ring_entry_hdr hdr;
    uint8_t tmr_type;
    uint8_t reserved1;
    uint16_t reserved2;
    uint32_t cmd_cnt;
    uint64_t reserved3[2];
    /* uint16_t cmd_ids[cmd_cnt] follow, at entry offset 32 */
};

uint32_t ring_load_head(struct ring_mailbox *mailbox)
{
    return __atomic_load_n(&mailbox->cmd_head, __ATOMIC_ACQUIRE);
}

void ring_store_head(struct ring_mailbox *mailbox, uint32_t head)
{
    __atomic_store_n(&mailbox->cmd_head, head, __ATOMIC_RELEASE);
}

uint32_t ring_load_tail(struct ring_mailbox *mailbox)
{
    return __atomic_load_n(&mailbox->cmd_tail, __ATOMIC_ACQUIRE);
}

void ring_store_tail(struct ring_mailbox *mailbox, uint32_t tail)
{
    __atomic_store_n(&mailbox->cmd_tail, tail, __ATOMIC_RELEASE);
}

#if defined(__has_include)
#if __has_include(<linux/target_core_user.h>)
#include <linux/target_core_user.h>
#define SAME_OFFSET(ours, field, theirs, their_field) \
    _Static_assert(offsetof(struct ours, field) == offsetof(struct theirs, their_field), \
                   #ours "." #field " differs from the kernel's " #theirs "." #their_field)
SAME_OFFSET(ring_mailbox, cmdr_size, tcmu_mailbox, cmdr_size);
SAME_OFFSET(ring_mailbox, cmd_head, tcmu_mailbox, cmd_head);
SAME_OFFSET(ring_mailbox, cmd_tail, tcmu_mailbox, cmd_tail);
SAME_OFFSET(ring_cmd_entry, hdr.cmd_id, tcmu_cmd_entry, hdr.cmd_id);
SAME_OFFSET(ring_cmd_entry, hdr.uflags, tcmu_cmd_entry, hdr.uflags);
SAME_OFFSET(ring_cmd_entry, req.iov_cnt, tcmu_cmd_entry, req.iov_cnt);
SAME_OFFSET(ring_cmd_entry, req.iov_bidi_cnt, tcmu_cmd_entry, req.iov_bidi_cnt);
SAME_OFFSET(ring_cmd_entry, req.cdb_off, tcmu_cmd_entry, req.cdb_off);
SAME_OFFSET(ring_cmd_entry, rsp.scsi_status, tcmu_cmd_entry, rsp.scsi_status);
SAME_OFFSET(ring_cmd_entry, rsp.read_len, tcmu_cmd_entry, rsp.read_len);
SAME_OFFSET(ring_cmd_entry, rsp.sense_buffer, tcmu_cmd_entry, rsp.sense_buffer);
SAME_OFFSET(ring_tmr_entry, tmr_type, tcmu_tmr_entry, tmr_type);
SAME_OFFSET(ring_tmr_entry, cmd_cnt, tcmu_tmr_entry, cmd_cnt);
_Static_assert(sizeof(struct ring_mailbox) == sizeof(struct tcmu_mailbox), "mailbox size");
_Static_assert(sizeof(struct ring_cmd_entry) == sizeof(struct tcmu_cmd_entry), "entry size");
_Static_assert(offsetof(struct tcmu_cmd_entry, req.iov) == sizeof(struct ring_cmd_request) + 8,
               "iovecs start right after the request header");
_Static_assert(offsetof(struct tcmu_tmr_entry, cmd_ids) == sizeof(struct ring_tmr_entry),
               "TMR command ids start right after the TMR header");
#endif
#endif
"""

ffibuilder = cffi.FFI()
ffibuilder.cdef(DECLARATIONS)
ffibuilder.set_source("tcmu_scst.uio._ring_abi", SOURCE)

if __name__ == "__main__":
    ffibuilder.compile(verbose=True)
