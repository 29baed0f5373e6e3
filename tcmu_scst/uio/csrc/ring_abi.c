/* The compiled ring helpers of tcmu_scst.uio._ring_abi, built by cffi (abi_build.py).
 *
 * The TCMU shared-memory layout in our own words, and the helpers that are cheaper in C
 * than in Python under emulation:
 *
 * - ordered loads/stores of the ring indices (the kernel publishes cmd_head with a release
 *   store and reads cmd_tail after our response bytes, so plain Python accesses are only
 *   safe on x86 by accident);
 * - the per-entry bookkeeping of the ring (ring_scan, ring_respond), pure byte shuffling
 *   paid for every command;
 * - the fast lane, in which ring_scan completes plain READ/WRITE(10/16) of a disk whose
 *   store is memory or nothing, when the Python side has said it may;
 * - the watch between wake-ups (ring_watch).
 *
 * What Python may call is declared again, in cffi's dialect, in ring_abi_cdef.h: keep the
 * two in step.  When the kernel's uapi header is available at build time, the end of this
 * file makes the compiler check every offset declared here against the kernel's.
 */

#include <stddef.h>
#include <stdint.h>
#include <string.h>
#include <time.h>

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

/* What ring_scan reports about one entry.  PAD and TMR entries get a record too, because
 * the in-order completion mode must account for every slot. */
struct ring_scan_record {
    uint64_t cdb_off;         /* CMD: where the CDB starts (offset from the mapping) */
    uint64_t first_base;      /* CMD: offset of the first Data iovec (0 when none) */
    uint64_t data_length;     /* CMD: sum of the Data iovecs (bidirectional ones excluded) */
    uint32_t position;        /* the entry's offset in the command ring */
    uint32_t length;
    uint32_t opcode;          /* low three bits of len_op */
    uint32_t cmd_id;
    uint32_t cdb_length;      /* CMD: from the opcode's group, cut at the end of the entry */
    uint32_t iov_cnt;
    uint32_t iov_bidi_cnt;
    uint32_t reserved;
};

#define RING_OP_PAD 0
#define RING_OP_CMD 1
#define RING_OP_TMR 2
#define RING_UFLAG_UNKNOWN_OP 1
#define RING_IOV_OFFSET 48
#define RING_SCAN_BAD_ENTRY (-1)

static uint32_t load_u32(const uint8_t *at) { uint32_t v; memcpy(&v, at, 4); return v; }
static uint64_t load_u64(const uint8_t *at) { uint64_t v; memcpy(&v, at, 8); return v; }

/* SPC: the CDB length follows from the opcode's group (top three bits); opcode 0x7f
 * (variable length) carries its additional length in byte 7. */
static uint32_t cdb_length_of(const uint8_t *cdb, uint64_t available)
{
    static const uint8_t by_group[8] = {6, 10, 10, 12, 16, 12, 10, 10};
    uint32_t length = by_group[cdb[0] >> 5];
    if (cdb[0] == 0x7f && available > 7)
        length = 8 + cdb[7];
    return length < available ? length : (uint32_t)available;
}

/* The consumer's view of one ring, kept in C memory so that the per-command calls below take
 * two or three arguments (each argument costs a conversion in the cffi call). */
struct ring_state {
    uint8_t *map;             /* the whole shared mapping */
    uint64_t map_size;
    uint32_t ring_off;        /* the mailbox's cmdr_off and cmdr_size */
    uint32_t ring_size;
    uint32_t next;            /* first entry not yet scanned */
    uint32_t tail;            /* first slot not yet answered (out-of-order mode) */
    struct fast_lane *lane;   /* NULL, or READ/WRITEs ring_scan may serve itself */
};

/* The fast lane: plain READ(10/16) and WRITE(10/16) of a disk whose store is memory (a
 * mapped tmpfs file) or nothing (nullio) are a bounds check and a copy.  Under emulation the
 * Python path costs tens of microseconds per command for exactly that, so ring_scan
 * completes such commands itself, GOOD, and reports only the others.  The owner (Python)
 * decides before every scan what the lane may do: nothing while a unit attention is pending
 * or the medium is not ready, no writes on a read-only or write-through device or while
 * COMPARE AND WRITE holds the write lock.  Anything unusual in a command (protection
 * information, FUA writes, a Data buffer of another size than the blocks named, a range
 * outside the device or the store) leaves it to Python, which answers it as before. */
#define LANE_READ 1
#define LANE_WRITE 2

struct fast_lane {
    uint8_t *store;           /* the backing file's mapping; NULL: zeros, writes dropped */
    uint64_t store_bytes;     /* bytes reachable through store */
    uint64_t blocks;          /* capacity in logical blocks */
    uint32_t block_shift;     /* log2 of the logical block size */
    uint32_t allow;           /* LANE_READ | LANE_WRITE, set by the owner before each scan */
    uint64_t served;          /* commands completed here, for the worker's statistics */
};

static uint64_t load_be(const uint8_t *at, int bytes)
{
    uint64_t value = 0;
    for (int i = 0; i < bytes; i++)
        value = value << 8 | at[i];
    return value;
}

int64_t ring_respond(struct ring_state *state, uint32_t slot, uint64_t response);

/* Serve one CMD entry in the fast lane if it qualifies (see struct fast_lane); returns 1
 * when the data moved, 0 when the command is left to Python (nothing was touched then). */
static int lane_serve(const struct ring_state *state, const uint8_t *entry, const uint8_t *cdb,
                      uint32_t cdb_length, uint32_t iov_cnt, uint64_t total)
{
    struct fast_lane *lane = state->lane;
    uint64_t lba, blocks;
    int writing = cdb[0] == 0x2a || cdb[0] == 0x8a;
    if (cdb[0] == 0x28 || cdb[0] == 0x2a) {
        if (cdb_length < 10)
            return 0;
        lba = load_be(cdb + 2, 4);
        blocks = load_be(cdb + 7, 2);
    } else if (cdb[0] == 0x88 || cdb[0] == 0x8a) {
        if (cdb_length < 16)
            return 0;
        lba = load_be(cdb + 2, 8);
        blocks = load_be(cdb + 10, 4);
    } else {
        return 0;
    }
    if (!(lane->allow & (writing ? LANE_WRITE : LANE_READ)))
        return 0;
    if (cdb[1] & 0xe0 || (writing && cdb[1] & 0x08))
        return 0;             /* RDPROTECT/WRPROTECT, or FUA (written through by Python) */
    if (blocks == 0 || lba >= lane->blocks || blocks > lane->blocks - lba)
        return 0;
    uint64_t offset = lba << lane->block_shift;
    uint64_t bytes = blocks << lane->block_shift;
    if (bytes != total)
        return 0;
    if (lane->store && (offset > lane->store_bytes || bytes > lane->store_bytes - offset))
        return 0;
    uint64_t data_start = (uint64_t)state->ring_off + state->ring_size;
    for (uint32_t i = 0; i < iov_cnt; i++) {
        uint64_t base = load_u64(entry + RING_IOV_OFFSET + 16 * i);
        uint64_t len = load_u64(entry + RING_IOV_OFFSET + 16 * i + 8);
        if (base < data_start || base > state->map_size || len > state->map_size - base)
            return 0;
    }
    for (uint32_t i = 0; i < iov_cnt; i++) {
        uint8_t *buffer = state->map + load_u64(entry + RING_IOV_OFFSET + 16 * i);
        uint64_t len = load_u64(entry + RING_IOV_OFFSET + 16 * i + 8);
        if (!lane->store) {
            if (!writing)
                memset(buffer, 0, len);
        } else if (writing) {
            memcpy(lane->store + offset, buffer, len);
        } else {
            memcpy(buffer, lane->store + offset, len);
        }
        offset += len;
    }
    return 1;
}

/* Walk the entries from state->next up to head, one record each, at most max_records.
 * Returns the number of records and advances state->next past them; returns
 * RING_SCAN_BAD_ENTRY with state->next at the offending entry when an entry cannot be what
 * the kernel writes (zero length, crossing the ring's end, its iovecs or CDB outside it).
 * Entries with an unknown opcode get UNKNOWN_OP in their uflags, as the protocol asks.
 * With a lane (out-of-order mode only) the commands it serves are answered here and get no
 * record.  records == NULL asks for the lane's commands only: the walk stops, untouched, at
 * the first entry that needs a record (state->next then points at it) and returns 0. */
int ring_scan(struct ring_state *state, uint32_t head, struct ring_scan_record *records,
              int max_records)
{
    uint8_t *map = state->map;
    uint32_t ring_size = state->ring_size;
    uint32_t position = state->next;
    int count = 0;
    if ((uint64_t)state->ring_off + ring_size > state->map_size)
        return RING_SCAN_BAD_ENTRY;
    while (position != head && (count < max_records || !records)) {
        if (position >= ring_size || position % 8)
            return RING_SCAN_BAD_ENTRY;
        uint64_t entry = (uint64_t)state->ring_off + position;
        uint8_t *at = map + entry;
        uint32_t len_op = load_u32(at);
        uint32_t length = len_op & ~7u;
        uint32_t opcode = len_op & 7u;
        if (length == 0 || (uint64_t)position + length > ring_size)
            return RING_SCAN_BAD_ENTRY;
        struct ring_scan_record scratch;
        struct ring_scan_record *record = records ? &records[count] : &scratch;
        memset(record, 0, sizeof(*record));
        record->position = position;
        record->length = length;
        record->opcode = opcode;
        if (opcode == RING_OP_CMD) {
            uint32_t iov_cnt = load_u32(at + 8);
            uint32_t bidi_cnt = load_u32(at + 12);
            uint64_t cdb_off = load_u64(at + 24);
            uint64_t end = entry + length;
            if (length < RING_IOV_OFFSET
                || RING_IOV_OFFSET + 16 * ((uint64_t)iov_cnt + bidi_cnt) > length
                || cdb_off < entry || cdb_off >= end)
                return RING_SCAN_BAD_ENTRY;
            record->cmd_id = (uint32_t)at[4] | (uint32_t)at[5] << 8;
            record->cdb_off = cdb_off;
            record->cdb_length = cdb_length_of(map + cdb_off, end - cdb_off);
            record->iov_cnt = iov_cnt;
            record->iov_bidi_cnt = bidi_cnt;
            uint64_t total = 0;
            for (uint32_t i = 0; i < iov_cnt; i++)
                total += load_u64(at + RING_IOV_OFFSET + 16 * i + 8);
            record->data_length = total;
            if (iov_cnt)
                record->first_base = load_u64(at + RING_IOV_OFFSET);
            if (state->lane && state->lane->allow && !bidi_cnt
                && lane_serve(state, at, map + cdb_off, record->cdb_length, iov_cnt, total)) {
                position = (position + length) % ring_size;
                state->next = position;
                /* GOOD, no sense: the response words do not reach this or any other
                 * entry's iovecs or CDB, which Python may still have to read */
                if (ring_respond(state, UINT32_MAX, record->cmd_id) < 0)
                    return RING_SCAN_BAD_ENTRY;
                state->lane->served++;
                continue;
            }
        }
        if (!records)
            return 0;         /* left for the caller's next full scan */
        if (opcode != RING_OP_CMD && opcode != RING_OP_PAD && opcode != RING_OP_TMR)
            at[7] = RING_UFLAG_UNKNOWN_OP;
        count++;
        position = (position + length) % ring_size;
        state->next = position;
    }
    return count;
}

/* Write a response: ``response`` packs cmd_id (bits 0-15), uflags (16-23), SCSI status
 * (24-31) and read_len (32-63).  slot == UINT32_MAX asks for out-of-order completion: the
 * response goes into the oldest CMD slot between state->tail and state->next (PAD and TMR
 * slots there are skipped, the kernel reclaims them with the tail) and state->tail moves
 * past it.  Otherwise it goes into the command's own slot and the tail is the caller's
 * business.  Returns the slot used (where the sense data go), or -1 when there is no CMD
 * slot left to answer in (a completion for a command that was never fetched). */
int64_t ring_respond(struct ring_state *state, uint32_t slot, uint64_t response)
{
    uint32_t ring_size = state->ring_size;
    uint8_t *ring = state->map + state->ring_off;
    uint32_t position = slot;
    if (slot == UINT32_MAX) {
        uint32_t length;
        position = state->tail;
        for (;;) {
            if (position == state->next || position >= ring_size)
                return -1;
            uint32_t len_op = load_u32(ring + position);
            length = len_op & ~7u;
            if (length == 0)
                return -1;
            if ((len_op & 7u) == RING_OP_CMD)
                break;
            position = (position + length) % ring_size;
        }
        state->tail = (position + length) % ring_size;
    } else if (position >= ring_size) {
        return -1;
    }
    uint8_t *at = ring + position;
    uint16_t cmd_id = (uint16_t)response;
    uint32_t read_len = (uint32_t)(response >> 32);
    memcpy(at + 4, &cmd_id, 2);
    at[6] = 0;                /* kflags: the kernel's to set */
    at[7] = (uint8_t)(response >> 16);
    at[8] = (uint8_t)(response >> 24);
    memset(at + 9, 0, 3);
    memcpy(at + 12, &read_len, 4);
    return position;
}

/* Watching the rings between wake-ups.  After a batch the worker keeps looking at the rings
 * for a while (quiet_ns) instead of sleeping, because a sleeping worker pays a full wake-up
 * per command at low queue depth.  Looking from Python costs a service call per arrival even
 * when the lane serves the command; under emulation that was most of the worker's time per
 * lane command.  So the looking, the lane's commands and the decision when to publish are
 * here; the call returns to Python only for what needs it: an entry the lane does not serve
 * (WATCH_ENTRY, ring index in watch->ring), completions to publish (WATCH_PUBLISH: store
 * the tails and ring the doorbells), finished I/O threads (WATCH_IO: *io_finished changed
 * since io_seen), or nothing new for quiet_ns or past the limit (WATCH_QUIET).
 *
 * Gathering ("holding"): each doorbell costs the kernel a completion pass and the initiator
 * a wake-up, so once a batch shows that the initiator keeps a queue (more than one command
 * at once) completions are held and published together: hold_ns after the last new
 * command, 4 x hold_ns after the first one held, or as soon as as many are held as the
 * largest gathering lately (peak; the initiator's queue is then most likely all here).  A
 * gathering of a single command means a queue of one, where waiting is pure latency: holding
 * stops until a batch shows a queue again. */
#define WATCH_QUIET 0
#define WATCH_ENTRY 1
#define WATCH_PUBLISH 2
#define WATCH_IO 3

struct ring_watch {
    int64_t quiet_ns;         /* set by the owner: stop looking after this long idle */
    int64_t hold_ns;          /* 0: publish every batch at once */
    int64_t deadline;         /* when looking stops unless something arrives */
    int64_t limit;            /* when looking stops anyway (the loop's other inputs) */
    uint32_t *io_finished;    /* bumped by the I/O threads, or NULL */
    uint32_t io_seen;         /* the owner's copy of *io_finished when it last looked */
    uint32_t holding;         /* kept across calls: the adaptive gathering */
    uint32_t held;
    uint32_t peak;
    uint32_t releases;
    uint32_t ring;            /* WATCH_ENTRY: which ring */
    int64_t release_at;
    int64_t release_by;
};

int64_t watch_clock(void)
{
    struct timespec now;
    clock_gettime(CLOCK_MONOTONIC, &now);
    return (int64_t)now.tv_sec * 1000000000 + now.tv_nsec;
}

/* A batch of ``taken`` commands was served.  Returns 1 when its completions are to be
 * published now (not holding), 0 when they are held.  Extends the watching. */
int watch_note(struct ring_watch *watch, uint32_t taken)
{
    int64_t now = watch_clock();
    int64_t deadline = now + watch->quiet_ns;
    watch->deadline = deadline < watch->limit ? deadline : watch->limit;
    if (watch->holding) {
        if (!watch->held)
            watch->release_by = now + 4 * watch->hold_ns;
        watch->held += taken;
        watch->release_at = now + watch->hold_ns;
        return 0;
    }
    if (taken > 1 && watch->hold_ns)
        watch->holding = 1;   /* this batch goes out; the next ones are gathered */
    return 1;
}

/* The held completions are being published: adapt the gathering to what it caught. */
void watch_release(struct ring_watch *watch)
{
    uint32_t held = watch->held;
    if (!held)
        return;
    if (held == 1)
        watch->holding = 0;
    watch->releases++;
    uint32_t peak = watch->peak - ((watch->releases & 31) == 0);  /* sinks slowly */
    if (peak < held)
        peak = held;
    watch->peak = peak < 2 ? 2 : peak;
    watch->held = 0;
}

int ring_watch(struct ring_state **rings, int count, struct ring_watch *watch)
{
    for (;;) {
        for (int i = 0; i < count; i++) {
            struct ring_state *state = rings[i];
            uint32_t head = ring_load_head((struct ring_mailbox *)state->map);
            if (head == state->next)
                continue;
            struct fast_lane *lane = state->lane;
            if (lane && lane->allow) {
                uint64_t before = lane->served;
                int scanned = ring_scan(state, head, NULL, 0);
                uint32_t taken = (uint32_t)(lane->served - before);
                if (taken && watch_note(watch, taken))
                    return WATCH_PUBLISH;
                if (scanned < 0 || state->next != head) {
                    watch->ring = (uint32_t)i;
                    return WATCH_ENTRY;   /* Python's fetch reports a bad entry itself */
                }
            } else {
                watch->ring = (uint32_t)i;
                return WATCH_ENTRY;
            }
        }
        int64_t now = watch_clock();
        if (watch->held && (watch->held >= watch->peak || now >= watch->release_at
                            || now >= watch->release_by || now >= watch->deadline)) {
            watch_release(watch);
            return WATCH_PUBLISH;
        }
        if (watch->io_finished
            && __atomic_load_n(watch->io_finished, __ATOMIC_ACQUIRE) != watch->io_seen)
            return WATCH_IO;
        if (now >= watch->deadline)
            return WATCH_QUIET;
        /* No PAUSE here: qemu's TCG (how these machines run a kernel) treats PAUSE as a
         * request to leave translated code for its vCPU loop, a far longer way round than
         * the spin itself; without it the watch stays inside translated code. */
    }
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
