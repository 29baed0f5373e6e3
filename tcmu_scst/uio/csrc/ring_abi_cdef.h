/* What Python sees of ring_abi.c: the cffi cdef of tcmu_scst.uio._ring_abi.
 *
 * Not a C header (nothing includes it): abi_build.py hands this text to ffibuilder.cdef().
 * In cffi's dialect "...;" at the end of a struct means "the compiler fills in the rest":
 * cffi takes the named fields' offsets and the struct's size from the definitions in
 * ring_abi.c, so only the fields Python touches are named here.  Every declaration must
 * match ring_abi.c; a mismatch fails the build, not a ring.
 */

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

struct ring_scan_record {
    uint64_t cdb_off;
    uint64_t first_base;
    uint64_t data_length;
    uint32_t position;
    uint32_t length;
    uint32_t opcode;
    uint32_t cmd_id;
    uint32_t cdb_length;
    uint32_t iov_cnt;
    uint32_t iov_bidi_cnt;
    uint32_t reserved;
};

struct fast_lane {
    uint8_t *store;
    uint64_t store_bytes;
    uint64_t blocks;
    uint32_t block_shift;
    uint32_t allow;
    uint64_t served;
};

struct ring_state {
    uint8_t *map;
    uint64_t map_size;
    uint32_t ring_off;
    uint32_t ring_size;
    uint32_t next;
    uint32_t tail;
    struct fast_lane *lane;
};

#define LANE_READ 1
#define LANE_WRITE 2

struct ring_watch {
    int64_t quiet_ns;
    int64_t hold_ns;
    int64_t deadline;
    int64_t limit;
    uint32_t *io_finished;
    uint32_t io_seen;
    uint32_t holding;
    uint32_t held;
    uint32_t peak;
    uint32_t releases;
    uint32_t ring;
    int64_t release_at;
    int64_t release_by;
};

#define WATCH_QUIET 0
#define WATCH_ENTRY 1
#define WATCH_PUBLISH 2
#define WATCH_IO 3

int ring_watch(struct ring_state **rings, int count, struct ring_watch *watch);
int watch_note(struct ring_watch *watch, uint32_t taken);
void watch_release(struct ring_watch *watch);
int64_t watch_clock(void);

int ring_scan(struct ring_state *state, uint32_t head, struct ring_scan_record *records,
              int max_records);
int64_t ring_respond(struct ring_state *state, uint32_t slot, uint64_t response);

uint32_t ring_load_head(struct ring_mailbox *mailbox);
void ring_store_head(struct ring_mailbox *mailbox, uint32_t head);
uint32_t ring_load_tail(struct ring_mailbox *mailbox);
void ring_store_tail(struct ring_mailbox *mailbox, uint32_t tail);
