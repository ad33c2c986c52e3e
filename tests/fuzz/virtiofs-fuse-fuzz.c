/*
 * SPDX-License-Identifier: GPL-2.0-or-later
 *
 * libFuzzer target for the in-process virtio-fs FUSE server
 * (hw/virtiofs/fuse-server.c and passthrough.c), built by
 * tests/fuzz/run.sh with -fsanitize=fuzzer,address,undefined.
 *
 * The server is driven the way virtio-fs.c drives it: one request as an
 * array of device-readable buffers, room for the reply as an array of
 * device-writable buffers.  Every buffer is its own heap block of exactly
 * its size, so that ASan sees any byte read or written past a descriptor.
 *
 * Input layout (all little endian):
 *
 *   u8  config   bits 0-1 security model (0 mapped-xattr, 1 none,
 *                2 passthrough if QEMU could use it, else mapped-xattr),
 *                bit 2 readonly, bit 3 writeback, bit 4 no xattr,
 *                bits 5-6 cache mode, bit 7 no automatic INIT
 *   u8  fdlimit  bits 0-6: max-open-fds is 4 + (fdlimit & 127) % 61,
 *                bit 7: two threads (below)
 *   then up to FUZZ_MAX_REQS records:
 *     u8  split  low nibble: request buffers - 1, high: reply buffers - 1
 *     u8  flags  bit 0: keep the in header's len as given (else it is
 *                set to the request size), bit 1: keep unique as given,
 *                bit 2: second stream, bit 3: sched_yield() first (both
 *                only with two threads), bit 4: migrate first (one
 *                thread only; below)
 *     u32 room   reply bytes (at most FUZZ_MAX_ROOM)
 *     u16 size   request bytes that follow
 *
 * Each input starts from a fresh server, with a 4 MiB DAX window, on a
 * freshly populated share (node ids and file handles are then the same
 * on every run: the root is 1, the first LOOKUP gets 2, the first OPEN
 * fh 1), so the seed corpus can use fixed ids.
 *
 * With one thread the records run in order.  With two, the records with
 * flags bit 2 clear form one stream and those with it set another; each
 * stream runs in order in its own thread, both against the same server
 * at the same time, as two virtqueues served by two iothreads would.
 * Which of the two modes runs is a bit of the input rather than always
 * two threads: the one-thread mode is deterministic, so libFuzzer's
 * coverage feedback is exact and every crash reproduces from its input,
 * and it spends no time on threads; the two-thread mode finds the races
 * between requests that the first cannot, on the sequences the first
 * has grown, by flipping one bit.  A two-thread crash may need several
 * runs of its input to reproduce.
 *
 * Migration: before a record with flags bit 4, the server's state is
 * saved (fuse_server_save()) and loaded into a new server on the same
 * share with the other of two DAX windows, which then serves the rest,
 * as a destination QEMU would; the old server is freed after the load,
 * as the source QEMU quits after the switch-over.  A save may fail (an
 * open file was deleted); a load that fails right after a save on the
 * same share, with nothing changed in between, is a bug.
 *
 * The harness checks that:
 *   - every reply is well formed: its length is what the server said, at
 *     most the room, its unique matches, its error a small negative errno
 *     and an error reply carries no payload.  Each request has its own
 *     reply buffers and a unique of its own, so this holds however the
 *     two streams interleave, and each thread checks its own replies as
 *     they come;
 *   - every page of the DAX window can be read: no page maps a file past
 *     its end (a guest access there would be a SIGBUS in QEMU), after
 *     each request with one thread and once both streams are done with
 *     two (in between, a request of one stream may be half done);
 *   - no granule of the window is still mapped through a file handle
 *     that is no longer open (RELEASE and DESTROY drop those mappings);
 *   - freeing the server gives back every host fd, and leaves no file
 *     mapped in the DAX window (after a migration: in either window);
 *   - a state that was saved loads, and its DAX mappings show the same
 *     files at the same places in the new window;
 *   - nothing outside the share changed (a sibling directory with a
 *     secret file that symlinks in the share point to).
 * A violation abort()s, which libFuzzer reports as a crash.
 */

#include "qemu/osdep.h"
#include "qapi/error.h"
#include "qemu/bswap.h"
#include "qemu/units.h"
#include "qemu/thread.h"
#include "hw/virtiofs/fuse-server.h"
#include "standard-headers/linux/fuse.h"
#include "dax.h"
#include "passthrough.h"

#include <dirent.h>
#include <ftw.h>
#include <sys/uio.h>
#include <sys/resource.h>
#include <sys/xattr.h>

#define FUZZ_MAX_REQS 64
#define FUZZ_MAX_ROOM (1 * MiB + 4096)
#define FUZZ_MAX_SEGS 16
#define FUZZ_FILE_LIMIT (16 * MiB)

int LLVMFuzzerInitialize(int *argc, char ***argv);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static char *fuzz_root;         /* holds "share" and "outside" */
static char *fuzz_share;
static char *fuzz_outside;
static bool fuzz_have_passthrough;
static struct stat fuzz_secret_st;

static const char fuzz_secret[] = "SECRET outside the share\n";

/*
 * The DAX window every server gets: two 2 MiB granules, 2 MiB aligned;
 * a migration moves the server to the other one
 */
#define FUZZ_DAX_SIZE (4 * 1024 * 1024)
static uint8_t *fuzz_windows[2];
static uint8_t *fuzz_dax;       /* the one in use */

/*
 * The window and the backend of the server under test, for the checks
 * that need more than its replies.  run.sh links with --wrap for both
 * constructors; fuse_server_new() calls each once.
 */
static FuseDax *fuzz_dax_state;
static FusePt *fuzz_pt;

/* With two threads, both streams start together to make them overlap */
static QemuMutex fuzz_start_lock;
static QemuCond fuzz_start_cond;
static unsigned int fuzz_started;

FuseDax *__real_fuse_dax_new(void *host, uint64_t size, FuseDaxOpenFn open_fn,
                             void *opaque);
FuseDax *__wrap_fuse_dax_new(void *host, uint64_t size, FuseDaxOpenFn open_fn,
                             void *opaque);
FusePt *__real_fuse_pt_new(const FuseServerConfig *cfg, Error **errp);
FusePt *__wrap_fuse_pt_new(const FuseServerConfig *cfg, Error **errp);

FuseDax *__wrap_fuse_dax_new(void *host, uint64_t size, FuseDaxOpenFn open_fn,
                             void *opaque)
{
    fuzz_dax_state = __real_fuse_dax_new(host, size, open_fn, opaque);
    return fuzz_dax_state;
}

FusePt *__wrap_fuse_pt_new(const FuseServerConfig *cfg, Error **errp)
{
    fuzz_pt = __real_fuse_pt_new(cfg, errp);
    return fuzz_pt;
}

static G_NORETURN void fuzz_fail(const char *why)
{
    fprintf(stderr, "virtiofs-fuse-fuzz: %s\n", why);
    abort();
}

static int count_fds(void)
{
    DIR *d = opendir("/proc/self/fd");
    int n = 0;

    if (!d) {
        fuzz_fail("cannot list /proc/self/fd");
    }
    while (readdir(d)) {
        n++;
    }
    closedir(d);
    return n;
}

static int rm_one(const char *path, const struct stat *st, int flag,
                  struct FTW *ftw)
{
    if (ftw->level == 0) {
        return 0;
    }
    if (remove(path) < 0 && errno != ENOENT) {
        fprintf(stderr, "virtiofs-fuse-fuzz: remove %s: %s\n", path,
                strerror(errno));
        abort();
    }
    return 0;
}

static int chmod_dir(const char *path, const struct stat *st, int flag,
                     struct FTW *ftw)
{
    if (flag == FTW_D || flag == FTW_DNR) {
        chmod(path, 0700);
    }
    return 0;
}

/* Empty @dir, whatever modes the guest left on its subdirectories */
static void empty_dir(const char *dir)
{
    nftw(dir, chmod_dir, 16, FTW_PHYS);
    if (nftw(dir, rm_one, 16, FTW_DEPTH | FTW_PHYS) < 0) {
        fuzz_fail("cannot empty the share");
    }
}

static void put_file(const char *dir, const char *name, const char *data)
{
    g_autofree char *p = g_build_filename(dir, name, NULL);

    if (!g_file_set_contents(p, data, -1, NULL)) {
        fuzz_fail("cannot write a fixture file");
    }
}

static void put_symlink(const char *dir, const char *name, const char *to)
{
    g_autofree char *p = g_build_filename(dir, name, NULL);

    if (symlink(to, p) < 0) {
        fuzz_fail("cannot make a fixture symlink");
    }
}

/*
 * The share every input starts from.  Keep in sync with gen-corpus.py:
 *   file        "hello, world\n"
 *   dir/        with dir/sub "nested\n"
 *   link        -> file
 *   escape      -> ../outside/secret
 *   escdir      -> ../outside
 *   abs         -> /etc/passwd
 *   fifo        a FIFO
 *   empty       an empty file
 */
static void populate_share(void)
{
    g_autofree char *dir = g_build_filename(fuzz_share, "dir", NULL);
    g_autofree char *fifo = g_build_filename(fuzz_share, "fifo", NULL);

    empty_dir(fuzz_share);
    chmod(fuzz_share, 0755);
    put_file(fuzz_share, "file", "hello, world\n");
    put_file(fuzz_share, "empty", "");
    if (mkdir(dir, 0755) < 0 || mkfifo(fifo, 0644) < 0) {
        fuzz_fail("cannot make the fixture directory or FIFO");
    }
    put_file(dir, "sub", "nested\n");
    put_symlink(fuzz_share, "link", "file");
    put_symlink(fuzz_share, "escape", "../outside/secret");
    put_symlink(fuzz_share, "escdir", "../outside");
    put_symlink(fuzz_share, "abs", "/etc/passwd");
}

static int count_entries(const char *dir)
{
    GDir *d = g_dir_open(dir, 0, NULL);
    int n = 0;

    if (!d) {
        return -1;
    }
    while (g_dir_read_name(d)) {
        n++;
    }
    g_dir_close(d);
    return n;
}

/* Nothing outside the share may be created, removed, changed or read */
static void check_outside(void)
{
    g_autofree char *secret = g_build_filename(fuzz_outside, "secret", NULL);
    char data[sizeof(fuzz_secret)];
    struct stat st, rst;
    ssize_t len = -1;
    int fd;

    /* O_NOATIME: a read by the server would show in st_atim */
    fd = open(secret, O_RDONLY | O_NOATIME | O_NOFOLLOW | O_CLOEXEC);
    if (fd >= 0) {
        len = read(fd, data, sizeof(data));
        close(fd);
    }
    if (lstat(secret, &st) < 0 ||
        len != strlen(fuzz_secret) || memcmp(data, fuzz_secret, len) ||
        st.st_ino != fuzz_secret_st.st_ino ||
        st.st_mode != fuzz_secret_st.st_mode ||
        st.st_uid != fuzz_secret_st.st_uid ||
        st.st_gid != fuzz_secret_st.st_gid ||
        st.st_nlink != fuzz_secret_st.st_nlink ||
        st.st_atim.tv_sec != fuzz_secret_st.st_atim.tv_sec ||
        st.st_atim.tv_nsec != fuzz_secret_st.st_atim.tv_nsec ||
        st.st_mtim.tv_sec != fuzz_secret_st.st_mtim.tv_sec ||
        st.st_mtim.tv_nsec != fuzz_secret_st.st_mtim.tv_nsec ||
        listxattr(secret, NULL, 0) > 0) {
        fuzz_fail("the file outside the share was changed or read");
    }
    if (count_entries(fuzz_outside) != 1) {
        fuzz_fail("something was created outside the share");
    }
    if (count_entries(fuzz_root) != 2 || lstat(fuzz_root, &rst) < 0 ||
        (rst.st_mode & 07777) != 0700) {
        fuzz_fail("the directory above the share was changed");
    }
}

static void cleanup(void)
{
    if (fuzz_share) {
        empty_dir(fuzz_root);
        rmdir(fuzz_root);
    }
}

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
    g_autofree char *secret = NULL;
    struct rlimit rl = { FUZZ_FILE_LIMIT, FUZZ_FILE_LIMIT };
    FuseServerConfig cfg = { .max_open_fds = 16, .max_pages = 256,
                             .security_model = FUSE_SM_PASSTHROUGH };
    FuseServer *s;
    Error *err = NULL;
    int i;

    /* glib's slice allocator would hide leaks and overflows */
    g_setenv("G_SLICE", "always-malloc", TRUE);
    /* a guest may grow files: EFBIG past the limit, not SIGXFSZ */
    signal(SIGXFSZ, SIG_IGN);
    if (setrlimit(RLIMIT_FSIZE, &rl) < 0) {
        fuzz_fail("cannot limit the file size");
    }
    umask(022);

    fuzz_root = g_dir_make_tmp("virtiofs-fuzz-XXXXXX", NULL);
    if (!fuzz_root) {
        fuzz_fail("cannot make a temporary directory");
    }
    fuzz_share = g_build_filename(fuzz_root, "share", NULL);
    fuzz_outside = g_build_filename(fuzz_root, "outside", NULL);
    secret = g_build_filename(fuzz_outside, "secret", NULL);
    if (mkdir(fuzz_share, 0755) < 0 || mkdir(fuzz_outside, 0755) < 0) {
        fuzz_fail("cannot make the share");
    }
    put_file(fuzz_outside, "secret", fuzz_secret);
    if (lstat(secret, &fuzz_secret_st) < 0) {
        fuzz_fail("cannot stat the secret");
    }
    atexit(cleanup);

    /* passthrough needs capabilities; without them it is not fuzzed */
    cfg.source = fuzz_share;
    s = fuse_server_new(&cfg, &err);
    fuzz_have_passthrough = s != NULL;
    fuse_server_free(s);
    error_free(err);

    /* reserve twice each window, keep a 2 MiB aligned part */
    for (i = 0; i < 2; i++) {
        uint8_t *w = mmap(NULL, 2 * FUZZ_DAX_SIZE, PROT_READ | PROT_WRITE,
                          MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1,
                          0);

        if (w == MAP_FAILED) {
            fuzz_fail("cannot reserve the DAX window");
        }
        fuzz_windows[i] = QEMU_ALIGN_PTR_UP(w, 2 * 1024 * 1024);
    }
    qemu_mutex_init(&fuzz_start_lock);
    qemu_cond_init(&fuzz_start_cond);
    return 0;
}

/* Cut @len bytes into @n heap blocks of (nearly) equal size */
static unsigned int make_segs(struct iovec *iov, unsigned int n,
                              const uint8_t *src, size_t len)
{
    size_t off = 0;
    unsigned int i;

    for (i = 0; i < n; i++) {
        size_t part = len / n + (i < len % n ? 1 : 0);

        /* g_malloc(0) is NULL, which a descriptor never is */
        iov[i].iov_base = g_malloc(part ? part : 1);
        iov[i].iov_len = part;
        if (src && part) {
            memcpy(iov[i].iov_base, src + off, part);
        } else if (part) {
            memset(iov[i].iov_base, 0xa5, part);
        }
        off += part;
    }
    return n;
}

static void free_segs(struct iovec *iov, unsigned int n)
{
    unsigned int i;

    for (i = 0; i < n; i++) {
        g_free(iov[i].iov_base);
    }
}

static void check_reply(const uint8_t *req, size_t req_len,
                        struct iovec *in, unsigned int in_num,
                        size_t room, size_t used)
{
    struct fuse_out_header oh;
    struct fuse_in_header ih;

    if (used == 0) {
        return;
    }
    if (used == FUSE_SERVER_WAIT) {
        /* only SETLKW and SYNCFS wait; the device hands them again */
        if (req_len < sizeof(ih)) {
            fuzz_fail("a request without a header waits");
        }
        memcpy(&ih, req, sizeof(ih));
        if (ih.opcode != FUSE_SETLKW && ih.opcode != FUSE_SYNCFS) {
            fuzz_fail("a request other than SETLKW or SYNCFS waits");
        }
        return;
    }
    if (used > room || used < sizeof(oh)) {
        fuzz_fail("reply length outside the reply buffers");
    }
    iov_to_buf(in, in_num, 0, &oh, sizeof(oh));
    if (oh.len != used) {
        fuzz_fail("out header len is not what the server returned");
    }
    if (oh.error > 0 || oh.error <= -4096) {
        fuzz_fail("reply error is not a negative errno");
    }
    if (oh.error && used != sizeof(oh)) {
        fuzz_fail("error reply with a payload");
    }
    if (req_len >= sizeof(ih)) {
        memcpy(&ih, req, sizeof(ih));
        if (oh.unique != ih.unique) {
            fuzz_fail("reply unique does not match the request");
        }
    }
}

/* One request; @req may be modified (len, unique) */
static void run_one(FuseServer *s, uint8_t split, uint8_t flags,
                    size_t room, uint8_t *req, size_t req_len,
                    uint64_t unique)
{
    struct iovec out[FUZZ_MAX_SEGS], in[FUZZ_MAX_SEGS];
    unsigned int out_num = (split & 0xf) + 1;
    unsigned int in_num = (split >> 4) + 1;
    struct fuse_in_header *ih = (void *)req;
    size_t used;

    if (req_len >= sizeof(*ih)) {
        if (!(flags & 1)) {
            ih->len = req_len;
        }
        if (!(flags & 2)) {
            ih->unique = unique;
        }
        /* keep within what the temporary directory may hold */
        if (ih->opcode == FUSE_FALLOCATE &&
            req_len >= sizeof(*ih) + sizeof(struct fuse_fallocate_in)) {
            struct fuse_fallocate_in *fa = (void *)(ih + 1);

            if (fa->offset > FUZZ_FILE_LIMIT ||
                fa->length > FUZZ_FILE_LIMIT - fa->offset) {
                fa->length = 4096;
                fa->offset &= FUZZ_FILE_LIMIT - 1;
            }
        }
    }
    if (room == 0) {
        in_num = 0;
    }
    make_segs(out, out_num, req, req_len);
    make_segs(in, in_num, NULL, room);

    used = fuse_server_handle(s, out, out_num, in, in_num);
    /* each thread checks its own replies: nothing else writes to @in */
    check_reply(req, req_len, in, in_num, room, used);

    free_segs(out, out_num);
    free_segs(in, in_num);
}

static void auto_init(FuseServer *s)
{
    struct {
        struct fuse_in_header ih;
        struct fuse_init_in in;
    } QEMU_PACKED req = {
        .ih = { .len = sizeof(req), .opcode = FUSE_INIT, .unique = 1 },
        .in = {
            .major = FUSE_KERNEL_VERSION, .minor = 36,
            .max_readahead = 128 * KiB,
            .flags = FUSE_ASYNC_READ | FUSE_POSIX_LOCKS |
                     FUSE_ATOMIC_O_TRUNC | FUSE_BIG_WRITES |
                     FUSE_DO_READDIRPLUS | FUSE_READDIRPLUS_AUTO |
                     FUSE_PARALLEL_DIROPS | FUSE_MAX_PAGES |
                     FUSE_WRITEBACK_CACHE | FUSE_INIT_EXT,
        },
    };

    run_one(s, 0, 3, sizeof(struct fuse_out_header) +
            sizeof(struct fuse_init_out), (uint8_t *)&req, sizeof(req), 1);
}

/*
 * Once the server is gone, no file may stay mapped in the DAX window (it
 * would keep a host file open and visible to the next guest).
 */
static void check_dax_window(const uint8_t *win)
{
    uintptr_t start = (uintptr_t)win, end = start + FUZZ_DAX_SIZE;
    FILE *f = fopen("/proc/self/maps", "r");
    char line[512];

    if (!f) {
        fuzz_fail("cannot read /proc/self/maps");
    }
    while (fgets(line, sizeof(line), f)) {
        unsigned long lo, hi, ino;
        unsigned int major, minor;

        if (sscanf(line, "%lx-%lx %*s %*s %x:%x %lu", &lo, &hi, &major,
                   &minor, &ino) != 5) {
            continue;
        }
        if (lo < end && hi > start && ino != 0) {
            fclose(f);
            fuzz_fail("a file is still mapped in the DAX window");
        }
    }
    fclose(f);
}

/*
 * Every page of the window must be readable, as a guest may touch any of
 * them at any time: a page that maps a file past its end would be a
 * SIGBUS.  process_vm_readv() on ourselves reads the first byte of each
 * page and stops with EFAULT at such a page instead of faulting.  A
 * window without mappings is all anonymous memory: nothing to read.
 */
static void check_dax_pages(void)
{
    size_t page = qemu_real_host_page_size();
    size_t npages = FUZZ_DAX_SIZE / page, i, done;
    struct iovec local[1024], remote[1024];
    char sink[1024];

    if (fuzz_dax_state && !fuse_dax_count(fuzz_dax_state, NULL)) {
        return;
    }
    for (done = 0; done < npages; done += i) {
        ssize_t got;

        for (i = 0; i < ARRAY_SIZE(remote) && done + i < npages; i++) {
            local[i] = (struct iovec) { sink + i, 1 };
            remote[i] = (struct iovec) { fuzz_dax + (done + i) * page, 1 };
        }
        got = process_vm_readv(getpid(), local, i, remote, i, 0);
        if (got < 0 && errno == ENOSYS) {
            return;
        }
        if (got != (ssize_t)i) {
            fprintf(stderr, "virtiofs-fuse-fuzz: DAX window page at offset "
                    "0x%zx cannot be read\n",
                    (done + MAX(got, 0)) * page);
            fuzz_fail("a DAX window page maps a file past its end");
        }
    }
}

/*
 * RELEASE drops the mappings made through its handle, DESTROY all of
 * them: no granule may stay mapped through a handle that is closed (it
 * would keep the file open and mapped behind the guest's back).  File
 * handles count up from 1 and are never used again, and each request
 * opens at most one, so probing 1..FUZZ_MAX_REQS + 1 covers them all;
 * a handle whose FLUSH says EBADF is closed, and dropping its mappings
 * must find none.  With two threads this runs after both are done.
 */
static void check_dax_handles(void)
{
    uint64_t fh;

    if (!fuzz_dax_state || !fuzz_pt || !fuse_dax_count(fuzz_dax_state, NULL)) {
        return;
    }
    for (fh = 1; fh <= FUZZ_MAX_REQS + 1; fh++) {
        unsigned int before;

        /* a lock owner of all ones: a probe, at the end of the input */
        if (fuse_pt_flush(fuzz_pt, fh, UINT64_MAX) != -EBADF) {
            continue;
        }
        before = fuse_dax_count(fuzz_dax_state, NULL);
        fuse_dax_drop_fh(fuzz_dax_state, fh);
        if (fuse_dax_count(fuzz_dax_state, NULL) != before) {
            fprintf(stderr, "virtiofs-fuse-fuzz: fh %" PRIu64 " is closed "
                    "but still maps %u granule(s)\n", fh,
                    before - fuse_dax_count(fuzz_dax_state, NULL));
            fuzz_fail("a DAX mapping outlived its file handle");
        }
    }
}

typedef struct FuzzRec {
    uint8_t split;
    uint8_t flags;
    size_t room;
    uint8_t *req;
    size_t len;
    uint64_t unique;
} FuzzRec;

typedef struct FuzzStream {
    FuseServer *s;
    FuseServerConfig *cfg;      /* for a migration's new server */
    FuzzRec *recs[FUZZ_MAX_REQS];
    unsigned int n;
    bool check_pages;           /* after each request (one thread only) */
    QemuThread thread;
} FuzzStream;

/*
 * Move @st's server to a new one, as a live migration does; the DAX
 * mappings must show the same bytes in the new window.  Context: one
 * thread.
 */
static void fuzz_migrate(FuzzStream *st)
{
    g_autoptr(GByteArray) state = g_byte_array_new();
    uint8_t *old_win = fuzz_dax;
    Error *err = NULL;
    FuseServer *d;
    uint64_t mapped, now;

    if (!fuse_server_save(st->s, state, true, &err)) {
        error_free(err);        /* an open file deleted: stays here */
        return;
    }
    fuse_dax_count(fuzz_dax_state, &mapped);

    fuzz_dax = fuzz_windows[fuzz_dax == fuzz_windows[0]];
    st->cfg->dax_window = fuzz_dax;
    d = fuse_server_new(st->cfg, &err);
    if (!d) {
        fuzz_fail(error_get_pretty(err));
    }
    if (!fuse_server_load(d, state->data, state->len, &err)) {
        fprintf(stderr, "virtiofs-fuse-fuzz: load after save: %s\n",
                error_get_pretty(err));
        fuzz_fail("a saved state does not load on the same share");
    }
    /*
     * Nothing stores to the windows here, so the new one must show what
     * the old one does, byte for byte: the same files at the same places
     * and zeroes elsewhere.
     */
    check_dax_pages();
    fuse_dax_count(fuzz_dax_state, &now);
    if (now != mapped || memcmp(old_win, fuzz_dax, FUZZ_DAX_SIZE)) {
        fprintf(stderr, "virtiofs-fuse-fuzz: %" PRIu64 " file bytes "
                "mapped before, %" PRIu64 " after\n", mapped, now);
        fuzz_fail("the DAX window did not come over");
    }
    fuse_server_free(st->s);
    check_dax_window(old_win);
    st->s = d;
}

static void stream_run(FuzzStream *st)
{
    unsigned int i;

    for (i = 0; i < st->n; i++) {
        FuzzRec *r = st->recs[i];

        if (!st->check_pages && (r->flags & 8)) {
            sched_yield();
        }
        if (st->check_pages && (r->flags & 16)) {
            fuzz_migrate(st);
        }
        run_one(st->s, r->split, r->flags, r->room, r->req, r->len,
                r->unique);
        if (st->check_pages) {
            check_dax_pages();
        }
    }
}

static void *stream_thread(void *opaque)
{
    qemu_mutex_lock(&fuzz_start_lock);
    fuzz_started++;
    qemu_cond_broadcast(&fuzz_start_cond);
    while (fuzz_started < 2) {
        qemu_cond_wait(&fuzz_start_cond, &fuzz_start_lock);
    }
    qemu_mutex_unlock(&fuzz_start_lock);
    stream_run(opaque);
    return NULL;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static const FuseSecurityModel models[] = {
        FUSE_SM_MAPPED_XATTR, FUSE_SM_NONE, FUSE_SM_PASSTHROUGH,
        FUSE_SM_MAPPED_XATTR,
    };
    FuseServerConfig cfg = {};
    FuzzRec recs[FUZZ_MAX_REQS];
    FuzzStream streams[2] = {};
    bool two;
    FuseServer *s;
    Error *err = NULL;
    uint64_t unique = 1;
    size_t pos = 2;
    unsigned int n, i;
    int base_fds;

    if (size < 2) {
        return -1;      /* not worth adding to the corpus */
    }
    two = data[1] & 128;
    populate_share();
    /*
     * Counted for each input: libFuzzer itself keeps files open in some
     * modes (the control file of -merge=1 and of -fork jobs), opened
     * after LLVMFuzzerInitialize().
     */
    base_fds = count_fds();

    cfg.source = fuzz_share;
    cfg.security_model = models[data[0] & 3];
    if (cfg.security_model == FUSE_SM_PASSTHROUGH && !fuzz_have_passthrough) {
        cfg.security_model = FUSE_SM_MAPPED_XATTR;
    }
    cfg.readonly = data[0] & 4;
    cfg.writeback = data[0] & 8;
    cfg.xattr = !(data[0] & 16);
    cfg.cache = (data[0] >> 5) & 3;
    cfg.max_open_fds = 4 + (data[1] & 127) % 61;
    cfg.max_pages = 256;
    fuzz_dax = fuzz_windows[0];
    cfg.dax_window = fuzz_dax;
    cfg.dax_window_size = FUZZ_DAX_SIZE;

    fuzz_dax_state = NULL;
    fuzz_pt = NULL;
    s = fuse_server_new(&cfg, &err);
    if (!s) {
        fuzz_fail(error_get_pretty(err));
    }
    if (!(data[0] & 128)) {
        auto_init(s);
    }

    /* uniques are given in input order, whichever stream runs them */
    for (n = 0; n < FUZZ_MAX_REQS && size - pos >= 8; n++) {
        FuzzRec *r = &recs[n];
        FuzzStream *st = &streams[two && (data[pos + 1] & 4)];
        size_t len = lduw_le_p(data + pos + 6);

        r->split = data[pos];
        r->flags = data[pos + 1];
        r->room = (uint32_t)ldl_le_p(data + pos + 2) % (FUZZ_MAX_ROOM + 1);
        pos += 8;
        r->len = MIN(len, size - pos);
        r->req = g_memdup2(data + pos, r->len);
        r->unique = ++unique;
        pos += r->len;
        st->recs[st->n++] = r;
    }

    for (i = 0; i < 2; i++) {
        streams[i].s = s;
        streams[i].cfg = &cfg;
        streams[i].check_pages = !two;
    }
    if (two) {
        fuzz_started = 0;
        qemu_thread_create(&streams[1].thread, "fuzz-stream",
                           stream_thread, &streams[1], QEMU_THREAD_JOINABLE);
        stream_thread(&streams[0]);
        qemu_thread_join(&streams[1].thread);
        check_dax_pages();
    } else {
        stream_run(&streams[0]);
        s = streams[0].s;       /* after a migration, the new server */
    }
    check_dax_handles();
    for (i = 0; i < n; i++) {
        g_free(recs[i].req);
    }

    fuse_server_free(s);
    fuzz_dax_state = NULL;
    fuzz_pt = NULL;
    if (count_fds() != base_fds) {
        fuzz_fail("host fds leaked");
    }
    check_dax_window(fuzz_windows[0]);
    check_dax_window(fuzz_windows[1]);
    check_outside();
    return 0;
}
