/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * virtio-fs requests: the FUSE messages a Linux guest sends.
 *
 * The share holds (bench/vqbench.py makes it):
 *   data      the known pattern, read by read-4k
 *   wdata     the known pattern, written by write-4k and read back
 *   dir/      files f0000..f0999, file fN is N bytes long
 *   tmp/      empty; create-unlink makes and removes files there
 * FORGETs go on the hiprio queue, as Linux sends them.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "vqbench.h"

enum {
    FUSE_LOOKUP = 1, FUSE_FORGET = 2, FUSE_GETATTR = 3, FUSE_UNLINK = 10,
    FUSE_OPEN = 14, FUSE_READ = 15, FUSE_WRITE = 16, FUSE_RELEASE = 18,
    FUSE_INIT = 26, FUSE_OPENDIR = 27, FUSE_CREATE = 35,
    FUSE_READDIRPLUS = 44,
};

#define FUSE_ASYNC_READ     (1u << 0)
#define FUSE_BIG_WRITES     (1u << 5)
#define FUSE_DO_READDIRPLUS (1u << 13)
#define FUSE_MAX_PAGES      (1u << 22)

struct fuse_in_header {
    uint32_t len, opcode;
    uint64_t unique, nodeid;
    uint32_t uid, gid, pid;
    uint16_t total_extlen, padding;
};

struct fuse_out_header {
    uint32_t len;
    int32_t error;
    uint64_t unique;
};

struct fuse_attr {
    uint64_t ino, size, blocks, atime, mtime, ctime;
    uint32_t atimensec, mtimensec, ctimensec, mode, nlink, uid, gid, rdev;
    uint32_t blksize, flags;
};

struct fuse_entry_out {
    uint64_t nodeid, generation, entry_valid, attr_valid;
    uint32_t entry_valid_nsec, attr_valid_nsec;
    struct fuse_attr attr;
};

struct fuse_attr_out {
    uint64_t attr_valid;
    uint32_t attr_valid_nsec, dummy;
    struct fuse_attr attr;
};

struct fuse_init_in {
    uint32_t major, minor, max_readahead, flags, flags2, unused[11];
};

struct fuse_init_out {
    uint32_t major, minor, max_readahead, flags;
    uint16_t max_background, congestion_threshold;
    uint32_t max_write, time_gran;
    uint16_t max_pages, map_alignment;
    uint32_t flags2, max_stack_depth, unused[6];
};

struct fuse_open_in {
    uint32_t flags, open_flags;
};

struct fuse_open_out {
    uint64_t fh;
    uint32_t open_flags;
    int32_t backing_id;
};

struct fuse_create_in {
    uint32_t flags, mode, umask, open_flags;
};

struct fuse_release_in {
    uint64_t fh;
    uint32_t flags, release_flags;
    uint64_t lock_owner;
};

struct fuse_rw_in {             /* fuse_read_in and fuse_write_in */
    uint64_t fh, offset;
    uint32_t size, rw_flags;
    uint64_t lock_owner;
    uint32_t flags, padding;
};

struct fuse_write_out {
    uint32_t size, padding;
};

struct fuse_getattr_in {
    uint32_t getattr_flags, dummy;
    uint64_t fh;
};

struct fuse_forget_in {
    uint64_t nlookup;
};

struct fuse_dirent {
    uint64_t ino, off;
    uint32_t namelen, type;
    char name[];
};

#define NDIR        1000
#define IN_OFF      0           /* in header, arguments, name */
#define OUT_OFF     1024        /* out header, reply arguments */
#define ARG_OFF     (OUT_OFF + sizeof(struct fuse_out_header))

typedef struct FsState {
    uint64_t unique;
    uint64_t data_node, data_fh, data_size;
    uint64_t wdata_node, wdata_fh;
    uint64_t dir_node, tmp_node;
    uint64_t *dir_fh;           /* one per slot */
    uint64_t *dir_off;          /* where its next READDIRPLUS starts */
    uint8_t (*seen)[NDIR];      /* readdirplus: names seen this pass */
    uint32_t *nseen;
    uint64_t passes;
    uint64_t created;
} FsState;

static FsState fs;

/* The request in r->buf: header + arg + name, and where the reply goes */
static void fs_req(Req *r, uint32_t opcode, uint64_t nodeid,
                   const void *arg, uint32_t arglen, const char *name,
                   uint32_t wdata, uint32_t outlen, uint32_t rdata)
{
    struct fuse_in_header *h = (struct fuse_in_header *)(r->buf + IN_OFF);
    uint32_t len = sizeof(*h) + arglen;

    memset(h, 0, sizeof(*h));
    if (arglen) {
        memcpy(h + 1, arg, arglen);
    }
    if (name) {
        strcpy((char *)(h + 1) + arglen, name);
        len += strlen(name) + 1;
    }
    h->len = len + wdata;
    h->opcode = opcode;
    h->unique = ++fs.unique;
    h->nodeid = nodeid;
    h->pid = 1;
    memset(r->buf + OUT_OFF, 0xa5, sizeof(struct fuse_out_header) + outlen);
    req_reset(r);
    req_out(r, IN_OFF, len);
    if (wdata) {
        req_out(r, REQ_DATA_OFF, wdata);
    }
    if (opcode != FUSE_FORGET) {
        req_in(r, OUT_OFF, sizeof(struct fuse_out_header) + outlen);
    }
    if (rdata) {
        memset(r->buf + REQ_DATA_OFF, 0xa5, rdata);
        req_in(r, REQ_DATA_OFF, rdata);
    }
    r->expect = opcode;
}

/* Check a reply: unique, error, lengths; returns the reply's length */
/* The reply's header: its request's unique, and the length used; its error */
static int32_t fs_reply_header(Req *r, uint32_t used, const char *what)
{
    struct fuse_in_header *h = (struct fuse_in_header *)(r->buf + IN_OFF);
    struct fuse_out_header *o = (struct fuse_out_header *)(r->buf + OUT_OFF);

    if (o->unique != h->unique) {
        wrong("%s: reply unique %llu, request %llu", what,
              (unsigned long long)o->unique, (unsigned long long)h->unique);
    }
    if (o->len != used) {
        wrong("%s: reply length %u, used length %u", what, o->len, used);
    }
    return o->error;
}

static uint32_t fs_reply(Req *r, uint32_t used, uint32_t want,
                         const char *what)
{
    int32_t error = fs_reply_header(r, used, what);

    if (error) {
        wrong("%s: FUSE error %d", what, error);
    }
    if (want && used != want) {
        wrong("%s: reply of %u bytes, expected %u", what, used, want);
    }
    return used;
}

static void *reply_arg(Req *r)
{
    return r->buf + ARG_OFF;
}

static void fs_send(Bench *b, Req *r)
{
    r->vq = r->home;
}

/* ------------------------------------------------------- the ops */

static void prep_read(Bench *b, Req *r, uint64_t node, uint64_t fh,
                      uint64_t off)
{
    struct fuse_rw_in in = {
        .fh = fh, .offset = off, .size = 4096, .flags = O_RDWR,
    };

    r->off = off;
    fs_req(r, FUSE_READ, node, &in, sizeof(in), NULL, 0, 0, 4096);
    fs_send(b, r);
}

static bool read_prep(Bench *b, Req *r)
{
    prep_read(b, r, fs.data_node, fs.data_fh,
              (rnd(b) % (fs.data_size / 4096)) * 4096);
    return true;
}

static int read_done(Bench *b, Req *r, uint32_t len)
{
    fs_reply(r, len, sizeof(struct fuse_out_header) + 4096, "READ");
    pat_check(r->buf + REQ_DATA_OFF, r->off, 4096, NULL, "virtio-fs READ");
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
    r->blk = b->cursor++;
    prep_read(b, r, fs.wdata_node, fs.wdata_fh, (uint64_t)r->blk * 4096);
    return true;
}

static int readback_done(Bench *b, Req *r, uint32_t len)
{
    fs_reply(r, len, sizeof(struct fuse_out_header) + 4096, "READ back");
    pat_check(r->buf + REQ_DATA_OFF, r->off, 4096, &b->wb.gen[r->blk],
              "virtio-fs READ of a written block");
    return 0;
}

static bool write_prep(Bench *b, Req *r)
{
    struct fuse_rw_in in = { .fh = fs.wdata_fh, .size = 4096,
                             .flags = O_RDWR };

    r->blk = blocks_pick(b, &b->wb, 1, true);
    r->off = in.offset = (uint64_t)r->blk * 4096;
    pat_fill(r->buf + REQ_DATA_OFF, r->off, 4096,
             b->wb.gen[r->blk] % 255 + 1);
    fs_req(r, FUSE_WRITE, fs.wdata_node, &in, sizeof(in), NULL, 4096,
           sizeof(struct fuse_write_out), 0);
    fs_send(b, r);
    return true;
}

static int write_done(Bench *b, Req *r, uint32_t len)
{
    struct fuse_write_out *o = reply_arg(r);

    fs_reply(r, len, sizeof(struct fuse_out_header) + sizeof(*o), "WRITE");
    if (o->size != 4096) {
        wrong("WRITE at %llu: wrote %u bytes", (unsigned long long)r->off,
              o->size);
    }
    b->wb.gen[r->blk] = b->wb.gen[r->blk] % 255 + 1;
    blocks_done(&b->wb, r->blk, 1, true);
    return 0;
}

static bool getattr_prep(Bench *b, Req *r)
{
    struct fuse_getattr_in in = { 0 };

    fs_req(r, FUSE_GETATTR, fs.data_node, &in, sizeof(in), NULL, 0,
           sizeof(struct fuse_attr_out), 0);
    fs_send(b, r);
    return true;
}

static int getattr_done(Bench *b, Req *r, uint32_t len)
{
    struct fuse_attr_out *o = reply_arg(r);

    fs_reply(r, len, sizeof(struct fuse_out_header) + sizeof(*o),
             "GETATTR");
    if (o->attr.size != fs.data_size || !S_ISREG(o->attr.mode)) {
        wrong("GETATTR: size %llu mode 0%o, expected %llu and a file",
              (unsigned long long)o->attr.size, o->attr.mode,
              (unsigned long long)fs.data_size);
    }
    return 0;
}

/*
 * A node id no server hands out: GETATTR of it is answered with an error
 * before any file system work, so the job costs what the transport does.
 */
#define NOP_NODE (UINT64_C(1) << 62)

static bool nop_prep(Bench *b, Req *r)
{
    struct fuse_getattr_in in = { 0 };

    fs_req(r, FUSE_GETATTR, NOP_NODE, &in, sizeof(in), NULL, 0,
           sizeof(struct fuse_attr_out), 0);
    fs_send(b, r);
    return true;
}

static int nop_done(Bench *b, Req *r, uint32_t len)
{
    int32_t error = fs_reply_header(r, len, "GETATTR of no node");

    if (len != sizeof(struct fuse_out_header)) {
        wrong("GETATTR of no node: reply of %u bytes, expected a header",
              len);
    }
    if (error != -EBADF && error != -ENOENT) {
        wrong("GETATTR of no node: error %d, expected EBADF or ENOENT",
              error);
    }
    return 0;
}

static void prep_forget(Bench *b, Req *r, uint64_t node)
{
    struct fuse_forget_in in = { .nlookup = 1 };

    fs_req(r, FUSE_FORGET, node, &in, sizeof(in), NULL, 0, 0, 0);
    r->vq = b->hiprio;
}

static void check_forget(Req *r, uint32_t len)
{
    if (len != 0) {
        wrong("FORGET: used length %u, expected 0", len);
    }
}

static void check_entry(struct fuse_entry_out *e, uint64_t size,
                        const char *what)
{
    if (!e->nodeid || !S_ISREG(e->attr.mode) || e->attr.size != size) {
        wrong("%s: node %llu mode 0%o size %llu, expected a file of %llu",
              what, (unsigned long long)e->nodeid, e->attr.mode,
              (unsigned long long)e->attr.size, (unsigned long long)size);
    }
}

static bool lookup_prep(Bench *b, Req *r)
{
    char name[16];

    if (r->stage == 1) {
        prep_forget(b, r, r->arg);
        return true;
    }
    r->off = rnd(b) % NDIR;
    snprintf(name, sizeof(name), "f%04u", (unsigned)r->off);
    fs_req(r, FUSE_LOOKUP, fs.dir_node, NULL, 0, name, 0,
           sizeof(struct fuse_entry_out), 0);
    fs_send(b, r);
    return true;
}

/*
 * LOOKUP of a name the guest holds already, without FORGET: what the
 * guest sends when a cached dentry's entry timeout has passed (the
 * prep is LOOKUP's first stage)
 */
static int lookup_known_done(Bench *b, Req *r, uint32_t len)
{
    struct fuse_entry_out *e = reply_arg(r);

    fs_reply(r, len, sizeof(struct fuse_out_header) + sizeof(*e), "LOOKUP");
    check_entry(e, r->off, "LOOKUP");
    return 0;
}

static int lookup_done(Bench *b, Req *r, uint32_t len)
{
    if (r->stage == 1) {
        check_forget(r, len);
        return 0;
    }
    lookup_known_done(b, r, len);
    r->arg = ((struct fuse_entry_out *)reply_arg(r))->nodeid;
    return 1;
}

static bool create_prep(Bench *b, Req *r)
{
    char name[40];

    snprintf(name, sizeof(name), "c%u_%llu", r->id,
             (unsigned long long)r->off);
    switch (r->stage) {
    case 0: {
        struct fuse_create_in in = {
            .flags = O_RDWR | O_CREAT | O_EXCL, .mode = S_IFREG | 0644,
            .umask = 022,
        };

        r->off = ++fs.created;
        snprintf(name, sizeof(name), "c%u_%llu", r->id,
                 (unsigned long long)r->off);
        fs_req(r, FUSE_CREATE, fs.tmp_node, &in, sizeof(in), name, 0,
               sizeof(struct fuse_entry_out) + sizeof(struct fuse_open_out),
               0);
        break;
    }
    case 1: {
        struct fuse_release_in in = { .fh = r->blk, .flags = O_RDWR };

        fs_req(r, FUSE_RELEASE, r->arg, &in, sizeof(in), NULL, 0, 0, 0);
        break;
    }
    case 2:
        fs_req(r, FUSE_UNLINK, fs.tmp_node, NULL, 0, name, 0, 0, 0);
        break;
    case 3:
        prep_forget(b, r, r->arg);
        return true;
    }
    fs_send(b, r);
    return true;
}

static int create_done(Bench *b, Req *r, uint32_t len)
{
    struct fuse_entry_out *e = reply_arg(r);
    struct fuse_open_out *o = (struct fuse_open_out *)(e + 1);
    uint32_t hdr = sizeof(struct fuse_out_header);

    switch (r->stage) {
    case 0:
        fs_reply(r, len, hdr + sizeof(*e) + sizeof(*o), "CREATE");
        check_entry(e, 0, "CREATE");
        r->arg = e->nodeid;
        /* the handle, kept in the block field for RELEASE */
        r->blk = o->fh;
        if ((uint64_t)r->blk != o->fh) {
            die("CREATE: file handle 0x%llx too large for vqbench",
                (unsigned long long)o->fh);
        }
        return 1;
    case 1:
        fs_reply(r, len, hdr, "RELEASE");
        return 2;
    case 2:
        fs_reply(r, len, hdr, "UNLINK");
        return 3;
    default:
        check_forget(r, len);
        return 0;
    }
}

static bool readdirplus_prep(Bench *b, Req *r)
{
    struct fuse_rw_in in = {
        .fh = fs.dir_fh[r->id], .offset = fs.dir_off[r->id], .size = 4096,
    };

    fs_req(r, FUSE_READDIRPLUS, fs.dir_node, &in, sizeof(in), NULL, 0, 0,
           4096);
    fs_send(b, r);
    return true;
}

static int readdirplus_done(Bench *b, Req *r, uint32_t len)
{
    uint32_t hdr = sizeof(struct fuse_out_header), n, pos = 0;
    uint8_t *seen = fs.seen[r->id];
    const uint8_t *p = r->buf + REQ_DATA_OFF;

    fs_reply(r, len, 0, "READDIRPLUS");
    if (len < hdr || len > hdr + 4096) {
        wrong("READDIRPLUS: reply of %u bytes for 4096", len);
    }
    n = len - hdr;
    if (!n) {
        if (fs.nseen[r->id] != NDIR) {
            wrong("READDIRPLUS: a pass saw %u of the %u files",
                  fs.nseen[r->id], NDIR);
        }
        memset(seen, 0, NDIR);
        fs.nseen[r->id] = 0;
        fs.passes++;
        fs.dir_off[r->id] = 0;
        return 0;
    }
    while (pos < n) {
        const struct fuse_entry_out *e = (const void *)(p + pos);
        const struct fuse_dirent *d = (const void *)(e + 1);
        uint32_t size = sizeof(*e) + sizeof(*d);
        unsigned idx;
        char name[8];

        if (pos + size > n || pos + size + d->namelen > n ||
            !d->namelen || d->namelen > 255) {
            wrong("READDIRPLUS: entry at %u overruns the %u-byte reply",
                  pos, n);
        }
        size = (size + d->namelen + 7) & ~7u;
        fs.dir_off[r->id] = d->off;
        if ((d->namelen == 1 && d->name[0] == '.') ||
            (d->namelen == 2 && !memcmp(d->name, "..", 2))) {
            pos += size;
            continue;
        }
        if (d->namelen != 5 || d->name[0] != 'f' ||
            sscanf(d->name + 1, "%4u", &idx) != 1 || idx >= NDIR) {
            wrong("READDIRPLUS: unexpected name '%.*s'", (int)d->namelen,
                  d->name);
        }
        snprintf(name, sizeof(name), "f%04u", idx);
        if (memcmp(name, d->name, 5)) {
            wrong("READDIRPLUS: unexpected name '%.5s'", d->name);
        }
        if (seen[idx]) {
            wrong("READDIRPLUS: %s twice in one pass", name);
        }
        check_entry((struct fuse_entry_out *)e, idx, "READDIRPLUS entry");
        if (e->attr.ino != d->ino) {
            wrong("READDIRPLUS: %s: ino %llu in the entry, %llu in the "
                  "dirent", name, (unsigned long long)e->attr.ino,
                  (unsigned long long)d->ino);
        }
        seen[idx] = 1;
        fs.nseen[r->id]++;
        pos += size;
    }
    if (pos != n) {
        wrong("READDIRPLUS: %u bytes of entries in a %u-byte reply", pos, n);
    }
    return 0;
}

static const Op fs_ops[] = {
    { "read-4k", read_prep, read_done },
    { "write-4k", write_prep, write_done },
    { "getattr", getattr_prep, getattr_done },
    { "nop", nop_prep, nop_done },
    { "lookup", lookup_prep, lookup_done },
    { "lookup-known", lookup_prep, lookup_known_done },
    { "create-unlink", create_prep, create_done },
    { "readdirplus", readdirplus_prep, readdirplus_done },
};

static const Op fs_readback = { "read-back", readback_prep, readback_done };

const Op *fs_op(const char *name)
{
    return op_find(fs_ops, ARRAY_SIZE(fs_ops), name);
}

const Op *fs_readback_op(void)
{
    return &fs_readback;
}

/* ------------------------------------------------------------ setup */

static void *call(Bench *b, Req *r, const char *what)
{
    uint32_t len;

    fs_send(b, r);
    r->busy = true;
    len = vring_call(&b->dev, r);
    r->busy = false;
    fs_reply(r, len, 0, what);
    return reply_arg(r);
}

static struct fuse_entry_out *lookup(Bench *b, Req *r, uint64_t parent,
                                     const char *name)
{
    fs_req(r, FUSE_LOOKUP, parent, NULL, 0, name, 0,
           sizeof(struct fuse_entry_out), 0);
    return call(b, r, name);
}

static uint64_t open_node(Bench *b, Req *r, uint64_t node, uint32_t opcode,
                          uint32_t flags)
{
    struct fuse_open_in in = { .flags = flags };
    struct fuse_open_out *o;

    fs_req(r, opcode, node, &in, sizeof(in), NULL, 0, sizeof(*o), 0);
    o = call(b, r, opcode == FUSE_OPEN ? "OPEN" : "OPENDIR");
    return o->fh;
}

void fs_setup(Bench *b)
{
    VDev *d = &b->dev;
    struct fuse_init_in init = {
        .major = 7, .minor = 36, .max_readahead = 131072,
        .flags = FUSE_ASYNC_READ | FUSE_BIG_WRITES | FUSE_DO_READDIRPLUS |
                 FUSE_MAX_PAGES,
    };
    struct fuse_init_out *io;
    struct fuse_entry_out *e;
    Req *r;

    vdev_init(d, &qt_global, 0);
    b->nqueues = vdev_cfg_read(d, 36, 4);
    if (!b->nqueues || b->nqueues > 64) {
        die("virtio-fs with %u request queues", b->nqueues);
    }
    vdev_setup_vqs(d, 1 + b->nqueues);
    vdev_driver_ok(d);
    b->hiprio = &d->vq[0];
    b->rq = &d->vq[1];

    b->nreqs = b->qd;
    b->req = calloc(b->nreqs, sizeof(Req));
    for (unsigned i = 0; i < b->nreqs; i++) {
        r = &b->req[i];
        r->id = i;
        r->home = &b->rq[i % b->nqueues];
        if (i >= r->home->num || i >= b->hiprio->num) {
            die("depth %u exceeds queue size %u", b->qd, r->home->num);
        }
        r->ind = gm_alloc(REQ_MAX_DESC * sizeof(struct vdesc), 64,
                          &r->ind_gpa);
        r->buf = gm_alloc(REQ_BUF_SIZE, 4096, &r->buf_gpa);
    }

    r = &b->req[0];
    fs_req(r, FUSE_INIT, 0, &init, sizeof(init), NULL, 0, sizeof(*io), 0);
    io = call(b, r, "INIT");
    if (io->major != 7 || io->minor < 31) {
        die("INIT: server speaks FUSE %u.%u", io->major, io->minor);
    }
    if (io->max_write && io->max_write < 4096) {
        die("INIT: max_write %u", io->max_write);
    }

    e = lookup(b, r, 1, "data");
    fs.data_node = e->nodeid;
    fs.data_size = e->attr.size & ~4095ull;
    if (fs.data_size < (1 << 20)) {
        die("share: 'data' is %llu bytes", (unsigned long long)e->attr.size);
    }
    fs.data_fh = open_node(b, r, fs.data_node, FUSE_OPEN, O_RDWR);

    e = lookup(b, r, 1, "wdata");
    fs.wdata_node = e->nodeid;
    b->wb.n = e->attr.size / 4096;
    if (b->wb.n < 256) {
        die("share: 'wdata' is %llu bytes",
            (unsigned long long)e->attr.size);
    }
    b->wb.gen = calloc(b->wb.n, 1);
    b->wb.busy = calloc(b->wb.n, 1);
    fs.wdata_fh = open_node(b, r, fs.wdata_node, FUSE_OPEN, O_RDWR);

    e = lookup(b, r, 1, "dir");
    fs.dir_node = e->nodeid;
    fs.dir_fh = calloc(b->nreqs, sizeof(uint64_t));
    fs.dir_off = calloc(b->nreqs, sizeof(uint64_t));
    fs.seen = calloc(b->nreqs, NDIR);
    fs.nseen = calloc(b->nreqs, sizeof(uint32_t));
    for (unsigned i = 0; i < b->nreqs; i++) {
        fs.dir_fh[i] = open_node(b, r, fs.dir_node, FUSE_OPENDIR,
                                 O_RDONLY | O_DIRECTORY);
    }
    e = lookup(b, r, 1, "tmp");
    fs.tmp_node = e->nodeid;
}
