/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * QEMU under -accel qtest: start it, speak the qtest text protocol.
 *
 * vqbench listens on a unix socket and QEMU connects to it (-qtest
 * unix:PATH).  Each command gets one "OK [value]" line back; "IRQ ..."
 * lines may come in between and are skipped.  Doorbells are posted
 * without waiting: their replies are read when the next command needs
 * the socket, or by qt_drain().
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <sched.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <unistd.h>

#include "vqbench.h"

static void qt_send(QTest *qt, const char *fmt, va_list ap)
{
    char line[256];
    int n = vsnprintf(line, sizeof(line), fmt, ap);
    ssize_t off = 0;

    if (n < 0 || n >= (int)sizeof(line) - 1) {
        die("qtest command too long");
    }
    line[n++] = '\n';
    while (off < n) {
        ssize_t w = write(qt->fd, line + off, n - off);
        if (w < 0) {
            if (errno == EINTR) {
                continue;
            }
            die("qtest: write: %s (QEMU gone?)", strerror(errno));
        }
        off += w;
    }
}

/* One reply line into out (without the newline); false if none is ready */
static bool qt_line(QTest *qt, char *out, size_t cap, bool block)
{
    for (;;) {
        char *nl = memchr(qt->buf, '\n', qt->len);
        ssize_t r;

        if (nl) {
            size_t n = nl - qt->buf;

            if (n >= cap) {
                die("qtest: reply line too long");
            }
            memcpy(out, qt->buf, n);
            out[n] = 0;
            memmove(qt->buf, nl + 1, qt->len - n - 1);
            qt->len -= n + 1;
            if (!strncmp(out, "IRQ", 3)) {
                continue;
            }
            return true;
        }
        if (qt->len == sizeof(qt->buf)) {
            die("qtest: reply too long");
        }
        r = recv(qt->fd, qt->buf + qt->len, sizeof(qt->buf) - qt->len,
                 block ? 0 : MSG_DONTWAIT);
        if (r == 0) {
            die("qtest: QEMU closed the socket");
        }
        if (r < 0) {
            if (errno == EINTR) {
                continue;
            }
            if (!block && (errno == EAGAIN || errno == EWOULDBLOCK)) {
                return false;
            }
            die("qtest: read: %s", strerror(errno));
        }
        qt->len += r;
    }
}

static uint64_t qt_reply(QTest *qt, char *line, size_t cap)
{
    qt_line(qt, line, cap, true);
    if (strncmp(line, "OK", 2)) {
        die("qtest: unexpected reply '%s'", line);
    }
    return line[2] == ' ' ? strtoull(line + 3, NULL, 0) : 0;
}

static void qt_wait_pending(QTest *qt)
{
    char line[256];

    while (qt->pending) {
        qt_reply(qt, line, sizeof(line));
        qt->pending--;
    }
}

uint64_t qt_cmd(QTest *qt, const char *fmt, ...)
{
    char line[256];
    va_list ap;

    qt_wait_pending(qt);
    va_start(ap, fmt);
    qt_send(qt, fmt, ap);
    va_end(ap);
    return qt_reply(qt, line, sizeof(line));
}

void qt_post(QTest *qt, const char *fmt, ...)
{
    va_list ap;

    va_start(ap, fmt);
    qt_send(qt, fmt, ap);
    va_end(ap);
    qt->pending++;
    /* keep the socket buffers from filling up */
    if (qt->pending > 64) {
        qt_wait_pending(qt);
    }
}

/* Read the replies that have arrived, without blocking */
void qt_drain(QTest *qt)
{
    char line[256];

    while (qt->pending && qt_line(qt, line, sizeof(line), false)) {
        if (strncmp(line, "OK", 2)) {
            die("qtest: unexpected reply '%s'", line);
        }
        qt->pending--;
    }
}

void qt_launch(QTest *qt, char **argv, const char *sock, const char *log,
               int cpu)
{
    struct sockaddr_un sa = { .sun_family = AF_UNIX };
    struct pollfd pfd;
    uint64_t deadline;
    int lfd;

    memset(qt, 0, sizeof(*qt));
    if (strlen(sock) >= sizeof(sa.sun_path)) {
        die("socket path too long: %s", sock);
    }
    strcpy(sa.sun_path, sock);
    unlink(sock);
    lfd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (lfd < 0 || bind(lfd, (struct sockaddr *)&sa, sizeof(sa)) < 0 ||
        listen(lfd, 1) < 0) {
        die("qtest socket %s: %s", sock, strerror(errno));
    }

    qt->pid = fork();
    if (qt->pid < 0) {
        die("fork: %s", strerror(errno));
    }
    if (qt->pid == 0) {
        int fd = open(log ? log : "/dev/null",
                      O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);

        /* never outlive the driver, however it ends */
        prctl(PR_SET_PDEATHSIG, SIGTERM);
        if (cpu >= 0) {
            cpu_set_t set;

            CPU_ZERO(&set);
            CPU_SET(cpu, &set);
            sched_setaffinity(0, sizeof(set), &set);
        }
        if (fd >= 0) {
            dup2(fd, 1);
            dup2(fd, 2);
        }
        execv(argv[0], argv);
        fprintf(stderr, "vqbench: exec %s: %s\n", argv[0], strerror(errno));
        _exit(127);
    }

    deadline = now_ns() + 120ull * 1000000000;
    pfd.fd = lfd;
    pfd.events = POLLIN;
    for (;;) {
        int status;

        if (poll(&pfd, 1, 100) > 0) {
            break;
        }
        if (waitpid(qt->pid, &status, WNOHANG) == qt->pid) {
            qt->pid = 0;
            die("QEMU exited (status 0x%x) before connecting; see %s",
                status, log ? log : "its output");
        }
        if (now_ns() > deadline) {
            die("QEMU did not connect to %s in 120 s", sock);
        }
    }
    qt->fd = accept4(lfd, NULL, NULL, SOCK_CLOEXEC);
    if (qt->fd < 0) {
        die("accept: %s", strerror(errno));
    }
    close(lfd);
    unlink(sock);
}

void qt_quit(QTest *qt)
{
    int status;
    uint64_t deadline;

    if (qt->pid <= 0) {
        return;
    }
    kill(qt->pid, SIGTERM);
    /* long enough for a QEMU under valgrind to write its profile */
    deadline = now_ns() + 60ull * 1000000000;
    while (waitpid(qt->pid, &status, WNOHANG) != qt->pid) {
        if (now_ns() > deadline) {
            kill(qt->pid, SIGKILL);
            waitpid(qt->pid, &status, 0);
            break;
        }
        usleep(10000);
    }
    qt->pid = 0;
    if (qt->fd > 0) {
        close(qt->fd);
        qt->fd = -1;
    }
}
