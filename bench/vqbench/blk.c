/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * virtio-blk requests: 4k random reads and writes, 64k sequential
 * writes, flushes.  The disk holds the known pattern (vqbench fill);
 * reads are compared with it, writes put a new generation of it into
 * each block and are read back after the job.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "vqbench.h"

#define VIRTIO_BLK_F_FLUSH  9
#define VIRTIO_BLK_F_MQ     12

#define VIRTIO_BLK_T_IN     0
#define VIRTIO_BLK_T_OUT    1
#define VIRTIO_BLK_T_FLUSH  4

struct blk_hdr {
    uint32_t type;
    uint32_t ioprio;
    uint64_t sector;
};

#define HDR_OFF     0
#define STATUS_OFF  64

static void blk_hdr(Req *r, uint32_t type, uint64_t off)
{
    struct blk_hdr *h = (struct blk_hdr *)(r->buf + HDR_OFF);

    h->type = type;
    h->ioprio = 0;
    h->sector = off / 512;
    r->buf[STATUS_OFF] = 0xff;
    r->vq = r->home;
    req_reset(r);
    req_out(r, HDR_OFF, sizeof(*h));
}

static void check_status(Req *r, uint32_t len, uint32_t want_len,
                         const char *what)
{
    if (r->buf[STATUS_OFF] != 0) {
        wrong("%s at %llu: status %u", what, (unsigned long long)r->off,
              r->buf[STATUS_OFF]);
    }
    if (len != want_len) {
        wrong("%s at %llu: used length %u, expected %u", what,
              (unsigned long long)r->off, len, want_len);
    }
}

static void prep_read(Bench *b, Req *r, uint64_t blk)
{
    r->off = blk * 4096;
    r->blk = blk;
    blk_hdr(r, VIRTIO_BLK_T_IN, r->off);
    memset(r->buf + REQ_DATA_OFF, 0xa5, 4096);
    req_in(r, REQ_DATA_OFF, 4096);
    req_in(r, STATUS_OFF, 1);
}

static bool randread_prep(Bench *b, Req *r)
{
    prep_read(b, r, rnd(b) % b->wb.n);
    return true;
}

static int read_done(Bench *b, Req *r, uint32_t len)
{
    check_status(r, len, 4096 + 1, "read");
    pat_check(r->buf + REQ_DATA_OFF, r->off, 4096, &b->wb.gen[r->blk],
              "virtio-blk read");
    return 0;
}

static bool readback_prep(Bench *b, Req *r)
{
    while (b->cursor < b->wb.n && !b->wb.gen[b->cursor]) {
        b->cursor++;
    }
    if (b->cursor >= b->wb.n) {
        return false;
    }
    prep_read(b, r, b->cursor++);
    return true;
}

static void prep_write(Bench *b, Req *r, unsigned nblk, bool rand)
{
    int blk = blocks_pick(b, &b->wb, nblk, rand);

    r->blk = blk;
    r->arg = nblk;
    r->off = (uint64_t)blk * 4096;
    blk_hdr(r, VIRTIO_BLK_T_OUT, r->off);
    for (unsigned k = 0; k < nblk; k++) {
        pat_fill(r->buf + REQ_DATA_OFF + 4096 * k, r->off + 4096 * k, 4096,
                 b->wb.gen[blk + k] % 255 + 1);
    }
    req_out(r, REQ_DATA_OFF, 4096 * nblk);
    req_in(r, STATUS_OFF, 1);
}

static bool randwrite_prep(Bench *b, Req *r)
{
    prep_write(b, r, 1, true);
    return true;
}

static bool seqwrite_prep(Bench *b, Req *r)
{
    prep_write(b, r, 16, false);
    return true;
}

static int write_done(Bench *b, Req *r, uint32_t len)
{
    check_status(r, len, 1, "write");
    for (unsigned k = 0; k < r->arg; k++) {
        b->wb.gen[r->blk + k] = b->wb.gen[r->blk + k] % 255 + 1;
    }
    blocks_done(&b->wb, r->blk, r->arg, true);
    return 0;
}

static bool flush_prep(Bench *b, Req *r)
{
    r->off = 0;
    blk_hdr(r, VIRTIO_BLK_T_FLUSH, 0);
    req_in(r, STATUS_OFF, 1);
    return true;
}

static int flush_done(Bench *b, Req *r, uint32_t len)
{
    check_status(r, len, 1, "flush");
    return 0;
}

static const Op blk_ops[] = {
    { "randread-4k", randread_prep, read_done },
    { "randwrite-4k", randwrite_prep, write_done },
    { "seqwrite-64k", seqwrite_prep, write_done },
    { "flush", flush_prep, flush_done },
};

static const Op blk_readback = { "read-back", readback_prep, read_done };

const Op *blk_op(const char *name)
{
    return op_find(blk_ops, ARRAY_SIZE(blk_ops), name);
}

const Op *blk_readback_op(void)
{
    return &blk_readback;
}

void blk_setup(Bench *b)
{
    VDev *d = &b->dev;
    uint64_t capacity;

    vdev_init(d, &qt_global, 1ull << VIRTIO_BLK_F_FLUSH |
              1ull << VIRTIO_BLK_F_MQ);
    if (!(d->features & (1ull << VIRTIO_BLK_F_FLUSH))) {
        die("virtio-blk without VIRTIO_BLK_F_FLUSH");
    }
    capacity = vdev_cfg_read(d, 0, 4) |
               (uint64_t)vdev_cfg_read(d, 4, 4) << 32;
    b->file_size = capacity * 512;
    b->nqueues = d->features & (1ull << VIRTIO_BLK_F_MQ) ?
                 vdev_cfg_read(d, 34, 2) : 1;
    vdev_setup_vqs(d, b->nqueues);
    vdev_driver_ok(d);
    b->rq = &d->vq[0];

    b->wb.n = b->file_size / 4096;
    if (b->wb.n < 1024) {
        die("disk too small: %llu bytes", (unsigned long long)b->file_size);
    }
    b->wb.gen = calloc(b->wb.n, 1);
    b->wb.busy = calloc(b->wb.n, 1);

    b->nreqs = b->qd;
    b->req = calloc(b->nreqs, sizeof(Req));
    for (unsigned i = 0; i < b->nreqs; i++) {
        Req *r = &b->req[i];

        r->id = i;
        r->home = &d->vq[i % b->nqueues];
        if (i >= r->home->num) {
            die("depth %u exceeds queue size %u", b->qd, r->home->num);
        }
        r->ind = gm_alloc(REQ_MAX_DESC * sizeof(struct vdesc), 64,
                          &r->ind_gpa);
        r->buf = gm_alloc(REQ_BUF_SIZE, 4096, &r->buf_gpa);
    }
}
