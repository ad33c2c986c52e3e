/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * vqbench: drive a virtio device's virtqueues at full speed without a
 * guest and check every answer.  See docs/vqbench.md.
 *
 *   vqbench fill FILE BYTES [--seed N]
 *       write the known pattern into FILE
 *   vqbench run --qemu BIN --device blk|fs --mem-path FILE [options]
 *               --job OP:QD [--job ...] [-- QEMU-ARGS...]
 *       start QEMU with -accel qtest and the device in QEMU-ARGS, run
 *       each job, print one JSON line per event on stdout
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <sched.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "vqbench.h"

QTest qt_global;
static const char *mem_path;
static const char *sock;
static bool mem_created;

static void cleanup(void)
{
    qt_quit(&qt_global);
    if (sock) {
        unlink(sock);
    }
    if (mem_created) {
        unlink(mem_path);
        mem_created = false;
    }
}

static void json_str(FILE *f, const char *s)
{
    fputc('"', f);
    for (; *s; s++) {
        if (*s == '"' || *s == '\\') {
            fputc('\\', f);
            fputc(*s, f);
        } else if ((unsigned char)*s < 0x20) {
            fprintf(f, "\\u%04x", *s);
        } else {
            fputc(*s, f);
        }
    }
    fputc('"', f);
}

static void __attribute__((noreturn))
fail(const char *kind, const char *fmt, va_list ap)
{
    char msg[512];

    vsnprintf(msg, sizeof(msg), fmt, ap);
    fprintf(stderr, "vqbench: %s: %s\n", kind, msg);
    printf("{\"event\":\"error\",\"kind\":\"%s\",\"msg\":", kind);
    json_str(stdout, msg);
    printf("}\n");
    fflush(stdout);
    cleanup();
    exit(kind[0] == 'w' ? 3 : 2);
}

void die(const char *fmt, ...)
{
    va_list ap;

    va_start(ap, fmt);
    fail("error", fmt, ap);
}

void wrong(const char *fmt, ...)
{
    va_list ap;

    va_start(ap, fmt);
    fail("wrong answer", fmt, ap);
}

const Op *op_find(const Op *ops, size_t n, const char *name)
{
    for (size_t i = 0; i < n; i++) {
        if (!strcmp(ops[i].name, name)) {
            return &ops[i];
        }
    }
    return NULL;
}

uint64_t now_ns(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_MONOTONIC, &ts);
    return ts.tv_sec * 1000000000ull + ts.tv_nsec;
}

static double thread_cpu_s(void)
{
    struct rusage ru;

    getrusage(RUSAGE_SELF, &ru);
    return ru.ru_utime.tv_sec + ru.ru_stime.tv_sec +
           (ru.ru_utime.tv_usec + ru.ru_stime.tv_usec) / 1e6;
}

static void on_signal(int sig)
{
    cleanup();
    signal(sig, SIG_DFL);
    raise(sig);
}

/* ------------------------------------------------------------ pattern */

uint64_t pat_seed = 1, pat_expect_seed = 1;

static inline uint64_t mix64(uint64_t x)
{
    x ^= x >> 33;
    x *= 0xff51afd7ed558ccdull;
    x ^= x >> 33;
    x *= 0xc4ceb9fe1a85ec53ull;
    x ^= x >> 33;
    return x;
}

static inline uint64_t pat_base(uint64_t seed, uint64_t blk, uint8_t gen)
{
    return mix64(blk ^ (seed << 48) ^ ((uint64_t)gen << 40));
}

#define PAT_STEP 0x9e3779b97f4a7c15ull

/* off and len are multiples of 4096 */
void pat_fill(uint8_t *p, uint64_t off, uint32_t len, uint8_t gen)
{
    for (uint32_t b = 0; b < len / 4096; b++) {
        uint64_t base = pat_base(pat_seed, off / 4096 + b, gen);
        uint64_t *w = (uint64_t *)(p + 4096 * b);

        for (unsigned i = 0; i < 512; i++) {
            w[i] = base ^ (i * PAT_STEP);
        }
    }
}

void pat_check(const uint8_t *p, uint64_t off, uint32_t len,
               const uint8_t *gens, const char *what)
{
    for (uint32_t b = 0; b < len / 4096; b++) {
        uint8_t gen = gens ? gens[b] : 0;
        uint64_t base = pat_base(pat_expect_seed, off / 4096 + b, gen);
        const uint64_t *w = (const uint64_t *)(p + 4096 * b);

        for (unsigned i = 0; i < 512; i++) {
            if (w[i] != (base ^ (i * PAT_STEP))) {
                wrong("%s: data at offset %llu (generation %u) differs: "
                      "0x%016llx, expected 0x%016llx", what,
                      (unsigned long long)(off + 4096 * b + 8 * i), gen,
                      (unsigned long long)w[i],
                      (unsigned long long)(base ^ (i * PAT_STEP)));
            }
        }
    }
}

void fill_file(const char *path, uint64_t size)
{
    static uint8_t chunk[1 << 20];
    int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0644);

    if (fd < 0) {
        die("%s: %s", path, strerror(errno));
    }
    for (uint64_t off = 0; off < size; off += sizeof(chunk)) {
        uint32_t n = size - off < sizeof(chunk) ? size - off : sizeof(chunk);

        n &= ~4095u;
        pat_fill(chunk, off, n, 0);
        if (pwrite(fd, chunk, n, off) != n) {
            die("%s: write: %s", path, strerror(errno));
        }
    }
    if (fsync(fd) < 0 || close(fd) < 0) {
        die("%s: %s", path, strerror(errno));
    }
}

/* ------------------------------------------------------------ blocks */

uint64_t rnd(Bench *b)
{
    /* xorshift64* */
    b->rng ^= b->rng >> 12;
    b->rng ^= b->rng << 25;
    b->rng ^= b->rng >> 27;
    return b->rng * 2685821657736338717ull;
}

/*
 * A run of nblk 4k blocks to access: random or the next sequential one;
 * never one with a write in flight.  Returns the first block.
 */
int blocks_pick(Bench *b, Blocks *bl, uint64_t nblk, bool rand)
{
    uint64_t slots = bl->n / nblk;

    for (int tries = 0; tries < 1000; tries++) {
        uint64_t i;
        bool busy = false;

        if (rand) {
            i = (rnd(b) % slots) * nblk;
        } else {
            i = (b->cursor++ % slots) * nblk;
        }
        for (uint64_t k = 0; k < nblk; k++) {
            busy |= bl->busy[i + k];
        }
        if (!busy) {
            memset(bl->busy + i, 1, nblk);
            return i;
        }
    }
    die("no free block to write");
}

void blocks_done(Blocks *bl, int blk, unsigned nblk, bool wrote)
{
    memset(bl->busy + blk, 0, nblk);
    if (wrote) {
        bl->written += nblk;
    }
}

/* ---------------------------------------------------------- the loop */

/* latency histogram: 100 ns steps up to 1 ms, then 10 us steps to 1 s */
#define HIST_FINE    10000
#define HIST_BUCKETS (HIST_FINE + 100000)

typedef struct Stats {
    uint64_t ops, kicks, publishes;
    double seconds, busy_seconds, cpu;
    uint32_t *hist;
    uint64_t over;
} Stats;

static void hist_add(Stats *st, uint64_t ns)
{
    uint64_t i = ns / 100;

    if (i >= HIST_FINE) {
        i = HIST_FINE + (ns - 1000000) / 10000;
    }
    if (i >= HIST_BUCKETS) {
        st->over++;
    } else {
        st->hist[i]++;
    }
}

static double hist_us(uint64_t i)
{
    if (i < HIST_FINE) {
        return (i + 0.5) * 0.1;
    }
    return 1000 + (i - HIST_FINE + 0.5) * 10;
}

static double hist_pct(Stats *st, double pct)
{
    uint64_t want = (uint64_t)(st->ops * pct / 100.0), seen = 0;

    for (uint64_t i = 0; i < HIST_BUCKETS; i++) {
        seen += st->hist[i];
        if (seen > want) {
            return hist_us(i);
        }
    }
    return 1e6;
}

/*
 * Keep qd operations in flight until the time or the count is up (or the
 * op has nothing left to do), then let the last ones finish.
 */
static void run_phase(Bench *b, const Op *op, unsigned qd, double secs,
                      uint64_t maxops, Stats *st)
{
    VDev *d = &b->dev;
    Req *ready[1024];
    unsigned nready = 0, active = 0;
    uint64_t started = 0, t, start, deadline, last_progress, idle_since = 0;
    double cpu0 = thread_cpu_s();
    uint64_t kicks0 = 0, pub0 = 0, idle_ns = 0;
    bool stop = false;
    unsigned spins = 0;

    for (unsigned i = 0; i < d->nvqs; i++) {
        kicks0 += d->vq[i].kicks;
        pub0 += d->vq[i].publishes;
    }
    for (unsigned i = 0; i < qd; i++) {
        b->req[i].stage = 0;
        ready[nready++] = &b->req[i];
    }
    start = last_progress = now_ns();
    deadline = start + (uint64_t)(secs * 1e9);
    t = start;
    for (;;) {
        bool progress = false;

        if (!stop && ((secs > 0 && t >= deadline) ||
                      (maxops && started >= maxops))) {
            stop = true;
        }
        while (nready) {
            Req *r = ready[--nready];

            if (r->stage == 0) {
                if (stop) {
                    continue;
                }
                if (!op->prep(b, r)) {
                    stop = true;
                    continue;
                }
                r->t0 = t;
                started++;
                active++;
            } else if (!op->prep(b, r)) {
                die("%s: stage %u could not be prepared", op->name,
                    r->stage);
            }
            r->busy = true;
            vring_push(r->vq, r);
        }
        for (unsigned i = 0; i < d->nvqs; i++) {
            vring_publish(d, &d->vq[i]);
        }
        for (unsigned i = 0; i < d->nvqs; i++) {
            VRing *vq = &d->vq[i];
            uint32_t id, len;

            while (vring_pop(vq, &id, &len)) {
                Req *r;
                int rc;

                if (!progress) {
                    t = now_ns();
                    progress = true;
                    if (idle_since) {
                        idle_ns += t - idle_since;
                        idle_since = 0;
                    }
                }
                if (id >= b->nreqs || !b->req[id].busy ||
                    b->req[id].vq != vq) {
                    wrong("queue %u: used id %u is not in flight there",
                          vq->index, id);
                }
                r = &b->req[id];
                r->busy = false;
                rc = op->done(b, r, len);
                b->checked++;
                if (rc == 0) {
                    hist_add(st, t - r->t0);
                    st->ops++;
                    active--;
                    r->stage = 0;
                } else {
                    r->stage = rc;
                }
                ready[nready++] = r;
            }
        }
        if (progress) {
            for (unsigned i = 0; i < d->nvqs; i++) {
                vring_enable_cb(d, &d->vq[i]);
            }
            last_progress = t;
            continue;
        }
        if (stop && !active && !nready) {
            break;
        }
        if (!idle_since) {
            idle_since = now_ns();
        }
        if (++spins % 64 == 0) {
            /* give way to whatever shares this core */
            sched_yield();
        } else {
            cpu_relax();
        }
        qt_drain(&qt_global);
        t = now_ns();
        if (t - last_progress > 10ull * 1000000000) {
            char state[512];
            int n = 0;

            for (unsigned i = 0; i < d->nvqs && n < 400; i++) {
                VRing *vq = &d->vq[i];

                n += snprintf(state + n, sizeof(state) - n,
                              " [queue %u: avail %u, used %u, in flight %u,"
                              " avail_event %u, used flags %u]", i,
                              vq->avail_idx, vq->used_hdr[1], vq->inflight,
                              *vq->avail_event, vq->used_hdr[0]);
            }
            wrong("%s: %u requests got no answer in 10 s;%s", op->name,
                  active, state);
        }
    }
    t = now_ns();
    if (idle_since) {
        idle_ns += t - idle_since;
    }
    st->seconds = (t - start) / 1e9;
    st->busy_seconds = st->seconds - idle_ns / 1e9;
    st->cpu = thread_cpu_s() - cpu0;
    for (unsigned i = 0; i < d->nvqs; i++) {
        st->kicks += d->vq[i].kicks;
        st->publishes += d->vq[i].publishes;
    }
    st->kicks -= kicks0;
    st->publishes -= pub0;
}

/* ------------------------------------------------------------ main */

static void sync_point(bool sync, const char *event, const char *op,
                       unsigned qd)
{
    printf("{\"event\":\"%s\",\"op\":\"%s\",\"qd\":%u}\n", event, op, qd);
    fflush(stdout);
    if (sync) {
        char line[64];

        if (!fgets(line, sizeof(line), stdin)) {
            die("stdin closed at %s", event);
        }
    }
}

static void usage(void)
{
    fprintf(stderr,
        "usage: vqbench fill FILE BYTES [--seed N]\n"
        "       vqbench run --qemu BIN --device blk|fs --mem-path FILE\n"
        "               [--mem-mib N] [--sock PATH] [--log FILE]\n"
        "               [--qemu-cpu N] [--driver-cpu N] [--sync]\n"
        "               [--seconds S] [--requests N] [--seed N]\n"
        "               --job OP:QD [--job OP:QD...] [-- QEMU-ARGS...]\n");
    exit(2);
}

int main(int argc, char **argv)
{
    static const struct option longopts[] = {
        { "qemu", required_argument, NULL, 'q' },
        { "device", required_argument, NULL, 'd' },
        { "mem-path", required_argument, NULL, 'm' },
        { "mem-mib", required_argument, NULL, 'M' },
        { "sock", required_argument, NULL, 's' },
        { "log", required_argument, NULL, 'l' },
        { "qemu-cpu", required_argument, NULL, 'c' },
        { "driver-cpu", required_argument, NULL, 'C' },
        { "sync", no_argument, NULL, 'S' },
        { "seconds", required_argument, NULL, 't' },
        { "requests", required_argument, NULL, 'n' },
        { "seed", required_argument, NULL, 'e' },
        /* negative control: expect another pattern than the one written */
        { "expect-seed", required_argument, NULL, 'E' },
        { "job", required_argument, NULL, 'j' },
        { NULL, 0, NULL, 0 },
    };
    const char *qemu = NULL, *device = NULL, *log = NULL;
    const char *jobs[64];
    unsigned njobs = 0, mem_mib = 512, maxqd = 1;
    int qemu_cpu = -1, driver_cpu = -1, opt, fd;
    bool sync = false, expect_set = false;
    double secs = 2;
    uint64_t maxops = 0;
    char *qargv[256], sockbuf[108], membuf[64], objbuf[512];
    unsigned qargc = 0;
    Bench *b;

    if (argc >= 4 && !strcmp(argv[1], "fill")) {
        optind = 4;
        while ((opt = getopt_long(argc, argv, "", longopts, NULL)) != -1) {
            if (opt != 'e') {
                usage();
            }
            pat_seed = strtoull(optarg, NULL, 0);
        }
        fill_file(argv[2], strtoull(argv[3], NULL, 0));
        return 0;
    }
    if (argc < 2 || strcmp(argv[1], "run")) {
        usage();
    }
    optind = 2;
    while ((opt = getopt_long(argc, argv, "", longopts, NULL)) != -1) {
        switch (opt) {
        case 'q': qemu = optarg; break;
        case 'd': device = optarg; break;
        case 'm': mem_path = optarg; break;
        case 'M': mem_mib = atoi(optarg); break;
        case 's': sock = optarg; break;
        case 'l': log = optarg; break;
        case 'c': qemu_cpu = atoi(optarg); break;
        case 'C': driver_cpu = atoi(optarg); break;
        case 'S': sync = true; break;
        case 't': secs = atof(optarg); break;
        case 'n': maxops = strtoull(optarg, NULL, 0); break;
        case 'e': pat_seed = strtoull(optarg, NULL, 0); break;
        case 'E':
            pat_expect_seed = strtoull(optarg, NULL, 0);
            expect_set = true;
            break;
        case 'j':
            if (njobs == ARRAY_SIZE(jobs)) {
                usage();
            }
            jobs[njobs++] = optarg;
            break;
        default:
            usage();
        }
    }
    if (!expect_set) {
        pat_expect_seed = pat_seed;
    }
    if (!qemu || !device || !mem_path || !njobs ||
        (strcmp(device, "blk") && strcmp(device, "fs"))) {
        usage();
    }
    for (unsigned i = 0; i < njobs; i++) {
        const char *c = strchr(jobs[i], ':');
        unsigned q = c ? atoi(c + 1) : 0;

        if (!q || q > 1024) {
            die("bad job '%s' (OP:QD)", jobs[i]);
        }
        maxqd = q > maxqd ? q : maxqd;
        if (!(!strcmp(device, "blk") ? blk_op : fs_op)(
                strndup(jobs[i], c - jobs[i]))) {
            die("unknown %s job '%s'", device, jobs[i]);
        }
    }

    if (driver_cpu >= 0) {
        cpu_set_t set;

        CPU_ZERO(&set);
        CPU_SET(driver_cpu, &set);
        sched_setaffinity(0, sizeof(set), &set);
    }
    signal(SIGINT, on_signal);
    signal(SIGTERM, on_signal);
    signal(SIGPIPE, SIG_IGN);

    /* guest RAM: the file QEMU maps with share=on, mapped here too */
    gm.size = (uint64_t)mem_mib << 20;
    fd = open(mem_path, O_RDWR | O_CREAT | O_EXCL, 0600);
    if (fd < 0) {
        die("%s: %s", mem_path, strerror(errno));
    }
    mem_created = true;
    if (ftruncate(fd, gm.size) < 0) {
        die("%s: %s", mem_path, strerror(errno));
    }
    gm.base = mmap(NULL, gm.size, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
    if (gm.base == MAP_FAILED) {
        die("mmap %s: %s", mem_path, strerror(errno));
    }
    close(fd);
    gm.next = 1 << 20;          /* above the legacy areas */

    if (!sock) {
        snprintf(sockbuf, sizeof(sockbuf), "/tmp/vqbench-%d.sock", getpid());
        sock = sockbuf;
    }
    snprintf(membuf, sizeof(membuf), "%uM", mem_mib);
    snprintf(objbuf, sizeof(objbuf),
             "memory-backend-file,id=mem,size=%uM,mem-path=%s,share=on",
             mem_mib, mem_path);
    {
        char *fixed[] = {
            (char *)qemu, "-machine", "q35,memory-backend=mem",
            "-accel", "qtest", "-qtest", NULL, "-qtest-log", "none",
            "-m", membuf,
            "-object", objbuf, "-name", "vqb,debug-threads=on",
            "-nodefaults", "-display", "none", "-monitor", "none",
            "-serial", "none",
        };
        static char qtarg[128];

        snprintf(qtarg, sizeof(qtarg), "unix:%s", sock);
        fixed[6] = qtarg;
        for (unsigned i = 0; i < ARRAY_SIZE(fixed); i++) {
            qargv[qargc++] = fixed[i];
        }
        for (int i = optind; i < argc && qargc < ARRAY_SIZE(qargv) - 1; i++) {
            qargv[qargc++] = argv[i];
        }
        qargv[qargc] = NULL;
    }
    qt_launch(&qt_global, qargv, sock, log, qemu_cpu);
    printf("{\"event\":\"started\",\"pid\":%d}\n", (int)qt_global.pid);
    fflush(stdout);

    b = calloc(1, sizeof(*b));
    b->qd = maxqd;
    b->rng = 0x9e3779b97f4a7c15ull ^ (uint64_t)getpid();
    if (!strcmp(device, "blk")) {
        blk_setup(b);
    } else {
        fs_setup(b);
    }

    for (unsigned i = 0; i < njobs; i++) {
        char *name = strndup(jobs[i], strchr(jobs[i], ':') - jobs[i]);
        unsigned qd = atoi(strchr(jobs[i], ':') + 1);
        const Op *op = !strcmp(device, "blk") ? blk_op(name) : fs_op(name);
        const Op *rb = !strcmp(device, "blk") ? blk_readback_op()
                                               : fs_readback_op();
        Stats st = { 0 }, rst = { 0 };
        uint64_t checked0;

        st.hist = calloc(HIST_BUCKETS, sizeof(uint32_t));
        rst.hist = calloc(HIST_BUCKETS, sizeof(uint32_t));
        if (!st.hist || !rst.hist) {
            die("out of memory");
        }
        b->cursor = 0;
        b->wb.written = 0;
        checked0 = b->checked;
        sync_point(sync, "begin", name, qd);
        run_phase(b, op, qd, secs, maxops, &st);
        sync_point(sync, "end", name, qd);
        if (b->wb.written) {
            /* read every block written back through the device */
            b->cursor = 0;
            b->readback = true;
            run_phase(b, rb, qd, 0, 0, &rst);
            b->readback = false;
        }
        printf("{\"event\":\"result\",\"op\":\"%s\",\"qd\":%u,"
               "\"requests\":%llu,\"seconds\":%.4f,\"iops\":%.1f,"
               "\"lat_p50_us\":%.2f,\"lat_p99_us\":%.2f,"
               "\"lat_p999_us\":%.2f,\"lat_over_1s\":%llu,"
               "\"driver_cpu_us_per_req\":%.3f,"
               "\"driver_busy_us_per_req\":%.3f,"
               "\"kicks_per_req\":%.4f,\"publishes_per_req\":%.4f,"
               "\"checked\":%llu,\"blocks_written\":%llu,"
               "\"blocks_read_back\":%llu,\"queues\":%u,"
               "\"verified\":true}\n",
               name, qd, (unsigned long long)st.ops, st.seconds,
               st.ops / st.seconds, hist_pct(&st, 50), hist_pct(&st, 99),
               hist_pct(&st, 99.9), (unsigned long long)st.over,
               st.ops ? st.cpu * 1e6 / st.ops : 0,
               st.ops ? st.busy_seconds * 1e6 / st.ops : 0,
               st.ops ? (double)st.kicks / st.ops : 0,
               st.ops ? (double)st.publishes / st.ops : 0,
               (unsigned long long)(b->checked - checked0),
               (unsigned long long)b->wb.written,
               (unsigned long long)rst.ops, b->nqueues);
        fflush(stdout);
        if (!st.ops) {
            die("%s: no request completed", name);
        }
        free(st.hist);
        free(rst.hist);
        free(name);
    }
    cleanup();
    printf("{\"event\":\"exit\"}\n");
    return 0;
}
