#!/usr/bin/python3
# SPDX-License-Identifier: GPL-2.0-or-later
#
# CPU time of a QEMU process started with -name X,debug-threads=on, split
# into its vCPU threads, its iothreads and the rest; shared by the guest
# benchmarks.

import os
import re

TICK = os.sysconf("SC_CLK_TCK")


def qemu_cpu(pid):
    """CPU seconds of the whole QEMU process and of its vCPU threads.

    Worker threads come and go; an exited thread's time stays in the
    process total, so the device side is the total less the vCPUs.
    """
    with open(f"/proc/{pid}/stat") as f:
        fields = f.read().rsplit(")", 1)[1].split()
    total = (int(fields[11]) + int(fields[12])) / TICK
    vcpu = iothread = 0.0
    groups = {}
    for tid in os.listdir(f"/proc/{pid}/task"):
        try:
            with open(f"/proc/{pid}/task/{tid}/comm") as f:
                comm = f.read().strip()
            with open(f"/proc/{pid}/task/{tid}/stat") as f:
                tf = f.read().rsplit(")", 1)[1].split()
        except (FileNotFoundError, ProcessLookupError):
            continue
        secs = (int(tf[11]) + int(tf[12])) / TICK
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
    with open(f"/proc/{pid}/task/{tid or pid}/stat") as f:
        fields = f.read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / TICK


def task_runtimes(pid):
    """{tid: (name, seconds)} of the live threads of PID, from
    /proc/PID/task/TID/schedstat: the scheduler's nanosecond run time,
    where utime+stime come in clock ticks (10 ms) that a short job of a
    slow device barely moves.  Threads that exited are not listed."""
    out = {}
    for tid in os.listdir(f"/proc/{pid}/task"):
        try:
            with open(f"/proc/{pid}/task/{tid}/comm") as f:
                comm = f.read().strip()
            with open(f"/proc/{pid}/task/{tid}/schedstat") as f:
                ns = int(f.read().split()[0])
        except (FileNotFoundError, ProcessLookupError):
            continue
        out[int(tid)] = (comm, ns / 1e9)
    return out


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
