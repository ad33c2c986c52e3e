/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * vqbench: a guest-free virtqueue load generator.
 *
 * QEMU runs with -accel qtest and its guest RAM in a shared file; vqbench
 * maps that file and plays the guest driver: PCI and virtio-pci setup and
 * doorbells go through the qtest socket, descriptors, rings and data
 * buffers are read and written in the mapping directly.
 */
#ifndef VQBENCH_H
#define VQBENCH_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#define ARRAY_SIZE(a) (sizeof(a) / sizeof((a)[0]))
#define ALIGN_UP(x, a) (((x) + (a) - 1) & ~((uint64_t)(a) - 1))

/* x86: stores are not reordered with stores, loads not with loads */
#define barrier()   __asm__ __volatile__("" ::: "memory")
#define wmb()       barrier()
#define rmb()       barrier()
#define mb()        __atomic_thread_fence(__ATOMIC_SEQ_CST)
#define cpu_relax() __asm__ __volatile__("pause" ::: "memory")

void die(const char *fmt, ...) __attribute__((format(printf, 1, 2),
                                               noreturn));
/* A wrong answer from the device: reported, and the run fails */
void wrong(const char *fmt, ...) __attribute__((format(printf, 1, 2),
                                                noreturn));
uint64_t now_ns(void);

/* ------------------------------------------------------------ qtest.c */

typedef struct QTest {
    int fd;
    pid_t pid;
    int pending;                /* replies to posted commands not yet read */
    size_t len;
    char buf[8192];
} QTest;

extern QTest qt_global;

void qt_launch(QTest *qt, char **argv, const char *sock, const char *log,
               int cpu);
void qt_quit(QTest *qt);
uint64_t qt_cmd(QTest *qt, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));
void qt_post(QTest *qt, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));
void qt_drain(QTest *qt);

/* ------------------------------------------------------------ virtio.c */

/* guest memory: the shared file, guest physical address == file offset */
typedef struct GuestMem {
    uint8_t *base;
    uint64_t size;
    uint64_t next;              /* bump allocator */
} GuestMem;

extern GuestMem gm;

void *gm_alloc(uint64_t size, uint64_t align, uint64_t *gpa);

struct vdesc {
    uint64_t addr;
    uint32_t len;
    uint16_t flags;
    uint16_t next;
};

#define VDESC_F_NEXT        1
#define VDESC_F_WRITE       2
#define VDESC_F_INDIRECT    4
#define VRING_USED_F_NO_NOTIFY 1

struct vused_elem {
    uint32_t id;
    uint32_t len;
};

typedef struct VRing {
    uint16_t index;             /* queue number */
    uint16_t num;
    volatile struct vdesc *desc;
    volatile uint16_t *avail;   /* flags, idx, ring[num], used_event */
    volatile uint16_t *used_hdr; /* flags, idx */
    volatile struct vused_elem *used;
    volatile uint16_t *avail_event;
    uint64_t notify_addr;
    uint16_t avail_idx;         /* shadow of avail->idx */
    uint16_t last_used;
    uint16_t added;             /* since the last publish */
    unsigned inflight;
    uint64_t kicks;
    uint64_t publishes;
} VRing;

typedef struct VDev {
    QTest *qt;
    uint32_t cfgaddr;           /* 0xcf8 value of the function */
    uint16_t device_id;
    uint64_t common, notify, devcfg, isr;
    uint32_t notify_mult;
    uint64_t features;
    uint64_t msi_gpa;           /* MSI-X messages land here, in RAM */
    uint64_t msix_table;
    unsigned msix_vectors;
    bool event_idx;
    unsigned nvqs;
    VRing *vq;
} VDev;

#define VIRTIO_F_VERSION_1          32
#define VIRTIO_RING_F_INDIRECT_DESC 28
#define VIRTIO_RING_F_EVENT_IDX     29

void vdev_init(VDev *d, QTest *qt, uint64_t want);
void vdev_setup_vqs(VDev *d, unsigned nvqs);
void vdev_driver_ok(VDev *d);
uint32_t vdev_cfg_read(VDev *d, unsigned off, unsigned size);

/* One descriptor chain, kept in its own indirect table */
typedef struct Req {
    uint16_t id;                /* head descriptor, the same in every vq */
    uint8_t stage;              /* of a multi-request operation */
    uint8_t nd;
    bool busy;                  /* made available, not yet used */
    VRing *vq;                  /* where its current stage goes */
    VRing *home;                /* its request queue */
    struct vdesc *ind;          /* its indirect table */
    uint64_t ind_gpa;
    uint8_t *buf;               /* headers and data */
    uint64_t buf_gpa;
    uint64_t t0;                /* when the operation was made available */
    uint64_t off;               /* workload state */
    uint64_t arg;
    uint32_t expect;
    int blk;                    /* locked 4k block or -1 */
} Req;

#define REQ_BUF_SIZE  (68 * 1024)
#define REQ_DATA_OFF  4096
#define REQ_MAX_DESC  8

void req_reset(Req *r);
void req_out(Req *r, uint32_t off, uint32_t len);
void req_in(Req *r, uint32_t off, uint32_t len);
void vring_push(VRing *vq, Req *r);
void vring_publish(VDev *d, VRing *vq);
bool vring_pop(VRing *vq, uint32_t *id, uint32_t *len);
void vring_enable_cb(VDev *d, VRing *vq);
uint32_t vring_call(VDev *d, Req *r);

/* ------------------------------------------------------- vqbench.c */

/* the known pattern: 4k blocks, each word from (seed, generation, offset) */
extern uint64_t pat_seed, pat_expect_seed;
void pat_fill(uint8_t *p, uint64_t off, uint32_t len, uint8_t gen);
void pat_check(const uint8_t *p, uint64_t off, uint32_t len,
               const uint8_t *gens, const char *what);
void fill_file(const char *path, uint64_t size);

/* a file the workload writes: generation of each 4k block, busy bits */
typedef struct Blocks {
    uint64_t n;
    uint8_t *gen;
    uint8_t *busy;
    uint64_t written;
} Blocks;

typedef struct Bench Bench;

typedef struct Op {
    const char *name;
    /* fill r for its current stage (sets r->vq); false: nothing to do */
    bool (*prep)(Bench *b, Req *r);
    /* check the answer; 0: operation done, >0: next stage, to resubmit */
    int (*done)(Bench *b, Req *r, uint32_t len);
} Op;

struct Bench {
    VDev dev;
    unsigned qd;
    unsigned nreqs;
    Req *req;
    unsigned nqueues;           /* request queues */
    VRing *rq;                  /* the first request queue */
    VRing *hiprio;              /* virtio-fs */
    uint64_t rng;
    Blocks wb;                  /* blocks written by this run */
    uint64_t file_size;         /* of the file the I/O goes to */
    uint64_t checked;
    uint64_t cursor;            /* sequential ops and read-back */
    bool readback;
    void *priv;
};

uint64_t rnd(Bench *b);
int blocks_pick(Bench *b, Blocks *bl, uint64_t nblk, bool rand);
void blocks_done(Blocks *bl, int blk, unsigned nblk, bool wrote);

/* ------------------------------------------------------- blk.c, fs.c */

void blk_setup(Bench *b);
/* The operation called @name in @ops[@n], or NULL */
const Op *op_find(const Op *ops, size_t n, const char *name);
const Op *blk_op(const char *name);
const Op *blk_readback_op(void);

void fs_setup(Bench *b);
const Op *fs_op(const char *name);
const Op *fs_readback_op(void);

#endif
