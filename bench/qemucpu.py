#!/usr/bin/python3
# SPDX-License-Identifier: GPL-2.0-or-later
#
# CPU time of a QEMU process started with -name X,debug-threads=on, split
# into its vCPU threads, its iothreads and the rest; shared by the guest
# benchmarks.

import os
import re

TICK = os.sysconf("SC_CLK_TCK")


def proc_stat(path):
    """The fields of a /proc/PID[/task/TID]/stat file after the command
    name (which may hold spaces and parentheses): [0] is the state, [1]
    the parent pid, [11:15] utime, stime, cutime, cstime in clock ticks."""
    with open(path) as f:
        return stat_fields(f.read())


def stat_fields(text):
    """proc_stat() of the TEXT of a stat file."""
    return text.rsplit(")", 1)[1].split()


def cpu_seconds(fields, children=False):
    """utime+stime of proc_stat() FIELDS in seconds; with CHILDREN, plus
    the time of the waited-for children."""
    return sum(int(x) for x in fields[11:15 if children else 13]) / TICK


def tasks(pid, name):
    """(tid, comm, text of /proc/PID/task/TID/NAME) of each live thread."""
    for tid in os.listdir(f"/proc/{pid}/task"):
        try:
            with open(f"/proc/{pid}/task/{tid}/comm") as f:
                comm = f.read().strip()
            with open(f"/proc/{pid}/task/{tid}/{name}") as f:
                text = f.read()
        except (FileNotFoundError, ProcessLookupError):
            continue
        yield tid, comm, text


def qemu_cpu(pid):
    """CPU seconds of the whole QEMU process and of its vCPU threads.

    Worker threads come and go; an exited thread's time stays in the
    process total, so the device side is the total less the vCPUs.
    """
    total = cpu_seconds(proc_stat(f"/proc/{pid}/stat"))
    vcpu = iothread = 0.0
    groups = {}
    for _, comm, text in tasks(pid, "stat"):
        secs = cpu_seconds(stat_fields(text))
        group = re.sub(r"\d+", "N", comm)
        groups[group] = groups.get(group, 0.0) + secs
        if re.match(r"CPU \d+/", comm):
            vcpu += secs
        elif comm.startswith("IO "):
            iothread += secs
    groups["(exited threads)"] = total - sum(groups.values())
    return total, vcpu, iothread, groups


def thread_cpu(pid, tid=None):
    """CPU seconds of one thread of PID; by default its main thread (the
    main loop, which also serves the qtest socket under -accel qtest)."""
    return cpu_seconds(proc_stat(f"/proc/{pid}/task/{tid or pid}/stat"))


def task_runtimes(pid):
    """{tid: (name, seconds)} of the live threads of PID, from
    /proc/PID/task/TID/schedstat: the scheduler's nanosecond run time,
    where utime+stime come in clock ticks (10 ms) that a short job of a
    slow device barely moves.  Threads that exited are not listed."""
    return {int(tid): (comm, int(text.split()[0]) / 1e9)
            for tid, comm, text in tasks(pid, "schedstat")}


def tree_runtimes(root):
    """task_runtimes() of ROOT and of all its descendants, in one dict."""
    out, todo = {}, [root]
    while todo:
        pid = todo.pop()
        try:
            tids = os.listdir(f"/proc/{pid}/task")
        except FileNotFoundError:
            continue
        out.update(task_runtimes(pid))
        for tid in tids:
            try:
                with open(f"/proc/{pid}/task/{tid}/children") as f:
                    todo += [int(c) for c in f.read().split()]
            except FileNotFoundError:
                continue
    return out


def tree_cpu(root):
    """CPU seconds of process ROOT and all its descendants.

    Each live process counts utime+stime (all its threads, live or gone)
    plus cutime+cstime (its children that exited and were reaped).
    """
    if root is None:
        return 0.0
    stats = {}
    for d in os.listdir("/proc"):
        if not d.isdigit():
            continue
        try:
            fields = proc_stat(f"/proc/{d}/stat")
        except (FileNotFoundError, ProcessLookupError):
            continue
        stats[int(d)] = (int(fields[1]), cpu_seconds(fields, children=True))
    members, todo = set(), [root]
    while todo:
        p = todo.pop()
        if p in members or p not in stats:
            continue
        members.add(p)
        todo += [c for c, (ppid, _) in stats.items() if ppid == p]
    return sum(stats[p][1] for p in members)
