#!/usr/bin/python3
# SPDX-License-Identifier: GPL-2.0-or-later
#
# vqbench: the devices' own cost per request, without a guest.
#
# bench/vqbench/ is a C program that starts QEMU with -accel qtest and its
# guest RAM in a shared file on /dev/shm, and plays the guest driver:
# PCI setup and doorbells over the qtest socket, descriptors, rings and
# buffers in the mapped RAM.  It checks every answer (status, used length,
# data against a known pattern, FUSE errors) and prints a JSON line per
# job.  This script builds it, makes the backing files and the share,
# starts virtiofsd where needed, samples the CPU time of QEMU's threads
# and of the daemon at each job's begin and end, runs alternating pairs
# (ours, stock, ours, stock...), and writes vqbench.md and vqbench.json.
#
# Device-side CPU per request: utime+stime of every QEMU thread but the
# main loop and the (idle) vCPU, i.e. iothreads, worker threads, io_uring
# workers, plus the whole virtiofsd process tree; the main loop (it serves
# the qtest doorbells, and delivers the MSI-X messages) is reported apart.
# See docs/vqbench.md.

import argparse
import json
import os
import re
import resource
import shutil
import statistics
import subprocess
import sys
import tempfile
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from qemucpu import qemu_cpu, task_runtimes, thread_cpu  # noqa: E402
from qemucpu import tree_runtimes  # noqa: E402
import fsbench  # noqa: E402  (virtiofsd downloads, process-tree CPU)
sys.path.insert(0, os.path.join(os.path.dirname(os.path.dirname(
    os.path.abspath(__file__))), "tests", "guest"))
from testlib import Qmp  # noqa: E402

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
SRC = os.path.join(ROOT, "bench", "vqbench")
BUILD = os.path.join(ROOT, "build", "vqbench")
OURS = os.path.join(ROOT, "build", "fastio", "obj", "qemu-system-x86_64")
STOCK = os.path.join(ROOT, "build", "stock", "obj", "qemu-system-x86_64")

BLK_OPS = ("randread-4k", "randwrite-4k", "seqwrite-64k", "flush")
FS_OPS = ("read-4k", "write-4k", "getattr", "nop", "lookup",
          "lookup-known", "create-unlink", "readdirplus")
WRITES = ("randwrite-4k", "seqwrite-64k", "write-4k")
DISK_BYTES = 64 << 20
# The allocating writer beside a reader (the -writer configs): a mirror
# of this many bytes onto a sparse file on the host disk, rate-limited so
# that it costs little CPU and lasts longer than a job
WRITER_BYTES = 2 << 30
WRITER_SPEED = 128 << 20
FS_DATA_BYTES = 128 << 20
FS_WDATA_BYTES = 32 << 20
MEM_MIB = 256
FS_CONFIG = "iothread, mapped-xattr, inline"
FS_HYBRID = "iothread, mapped-xattr, hybrid"
FS_POOL = "iothread, mapped-xattr, pool"
VFSD_CONFIG = "vhost-user, daemon defaults"
# Rust virtiofsd with a thread pool, against ours in thread-mode=pool
VFSD_POOL_THREADS = 64
VFSD_POOL_CONFIG = f"vhost-user, --thread-pool-size={VFSD_POOL_THREADS}"


def log(msg):
    print(f"vqbench: {msg}", file=sys.stderr, flush=True)


class RunError(Exception):
    pass


def build_driver():
    """Compile the driver into build/vqbench/ when a source is newer."""
    os.makedirs(BUILD, exist_ok=True)
    out = os.path.join(BUILD, "vqbench")
    srcs = sorted(os.path.join(SRC, f) for f in os.listdir(SRC)
                  if f.endswith((".c", ".h")))
    if os.path.exists(out) and os.path.getmtime(out) >= max(
            os.path.getmtime(s) for s in srcs):
        return out
    cmd = [os.environ.get("CC", "cc"), "-O2", "-g", "-Wall", "-Wextra",
           "-Wno-unused-parameter", "-o", out + ".tmp"] + \
        [s for s in srcs if s.endswith(".c")]
    r = subprocess.run(cmd, capture_output=True, text=True)
    if r.returncode:
        sys.exit(f"vqbench: building the driver failed:\n{r.stderr}")
    os.replace(out + ".tmp", out)
    return out


# --------------------------------------------------------------- files

class Files:
    """Backing files and the share, on /dev/shm (and one on the disk)."""

    def __init__(self, driver, disk_dir):
        self.driver = driver
        self.dir = tempfile.mkdtemp(prefix="vqb-", dir="/dev/shm")
        self.disk_dir = tempfile.mkdtemp(prefix="vqb-", dir=disk_dir)
        self.share = os.path.join(self.dir, "share")
        self.dirty = set()

    def fill(self, path, size):
        subprocess.run([self.driver, "fill", path, str(size)], check=True)

    def disk(self, on_disk):
        path = os.path.join(self.disk_dir if on_disk else self.dir,
                            "disk.img")
        if path in self.dirty or not os.path.exists(path):
            # a run that wrote leaves other generations of the pattern
            self.fill(path, DISK_BYTES)
            self.dirty.discard(path)
        return path

    def make_share(self):
        if os.path.exists(self.share):
            shutil.rmtree(os.path.join(self.share, "tmp"))
            os.mkdir(os.path.join(self.share, "tmp"))
            return self.share
        os.makedirs(os.path.join(self.share, "dir"))
        os.mkdir(os.path.join(self.share, "tmp"))
        self.fill(os.path.join(self.share, "data"), FS_DATA_BYTES)
        self.fill(os.path.join(self.share, "wdata"), FS_WDATA_BYTES)
        for i in range(1000):
            with open(os.path.join(self.share, "dir", f"f{i:04d}"),
                      "w") as f:
                f.truncate(i)
        return self.share

    def writer_files(self):
        """The allocating writer's source (data, on /dev/shm) and a new,
        sparse target on the host disk."""
        src = os.path.join(self.dir, "writer-src.img")
        dst = os.path.join(self.disk_dir, "writer-dst.img")
        if not os.path.exists(src):
            self.fill(src, WRITER_BYTES)
        if os.path.exists(dst):
            os.unlink(dst)
        with open(dst, "w") as f:
            f.truncate(WRITER_BYTES)
        return src, dst

    def host_copy(self, on_disk):
        """A file for fio, so that its writes leave our pattern alone."""
        path = os.path.join(self.disk_dir if on_disk else self.dir,
                            "fio.img")
        if not os.path.exists(path):
            self.fill(path, DISK_BYTES)
        return path

    def cleanup(self):
        shutil.rmtree(self.dir, ignore_errors=True)
        shutil.rmtree(self.disk_dir, ignore_errors=True)


# -------------------------------------------------------------- configs

def writer_args(src, dst, qmp):
    """Nodes for the allocating writer (a mirror job, started over QMP
    in the disk's iothread) and the QMP socket."""
    args = []
    for name, path in (("wsrc", src), ("wdst", dst)):
        node = {"driver": "file", "node-name": name, "filename": path,
                "aio": "native", "cache": {"direct": True}}
        args += ["-blockdev", json.dumps(node, separators=(",", ":"))]
    return args + ["-qmp", f"unix:{qmp},server=on,wait=off"]


def blk_config(config, poll, disk):
    """QEMU arguments of a virtio-blk configuration name."""
    aio = config.split("-")[0]
    two = "-2q" in config
    p = ",poll-max-ns=0" if poll == "off" else ""
    args = ["-object", "iothread,id=io0" + p]
    dev = {"driver": "virtio-blk-pci", "drive": "d0"}
    if two:
        args += ["-object", "iothread,id=io1" + p]
        dev["num-queues"] = 2
        dev["iothread-vq-mapping"] = [{"iothread": "io0"},
                                      {"iothread": "io1"}]
    else:
        dev["iothread"] = "io0"
    node = {"driver": "raw", "node-name": "d0", "cache": {"direct": True},
            "file": {"driver": "file", "filename": disk, "aio": aio}}
    args += ["-blockdev", json.dumps(node, separators=(",", ":")),
             "-device", json.dumps(dev, separators=(",", ":"))]
    return args


def fs_config(target, config, poll, share, sock, daemons):
    """(QEMU arguments, daemon argv or None) of a virtio-fs target."""
    if target == "ours":
        p = ",poll-max-ns=0" if poll == "off" else ""
        dev = {"driver": "virtio-fs-pci", "tag": "share", "source": share,
               "iothread": "fsio"}
        if config == FS_HYBRID:
            dev["thread-mode"] = "hybrid"
        elif config == FS_POOL:
            dev["thread-mode"] = "pool"
        return (["-object", "iothread,id=fsio" + p,
                 "-device", json.dumps(dev, separators=(",", ":"))], None)
    prefix = daemons[target]
    if target == "virtiofsd-c":
        daemon = prefix + [f"--socket-path={sock}", "-o", f"source={share}"]
    else:
        daemon = prefix + [f"--socket-path={sock}", f"--shared-dir={share}"]
        if config == VFSD_POOL_CONFIG:
            daemon.append(f"--thread-pool-size={VFSD_POOL_THREADS}")
    return (["-chardev", f"socket,id=vfs0,path={sock}",
             "-device", "vhost-user-fs-pci,chardev=vfs0,tag=share"], daemon)


# ------------------------------------------------------------- one run

class Runner:
    def __init__(self, args, driver, files):
        self.args = args
        self.driver = driver
        self.files = files
        self.daemons = {}
        self.pin = not args.no_pin and (os.cpu_count() or 1) >= 2
        self.logdir = args.logdir
        self.nrun = 0

    def binary(self, target):
        return self.args.stock if target in ("stock", "virtiofsd-rust",
                                             "virtiofsd-c") else \
            self.args.ours

    def start_daemon(self, argv, sock, logf):
        def pin():
            if self.pin:
                os.sched_setaffinity(0, {1})
        proc = subprocess.Popen(argv, stdout=logf, stderr=subprocess.STDOUT,
                                stdin=subprocess.DEVNULL, preexec_fn=pin)
        deadline = time.monotonic() + 15
        while not os.path.exists(sock):
            if proc.poll() is not None or time.monotonic() > deadline:
                proc.kill()
                proc.wait()
                raise RunError(f"virtiofsd did not start: {argv[-3:]}")
            time.sleep(0.02)
        return proc

    def run(self, device, target, config, poll, jobs, seconds,
            requests=None, expect_seed=None, wrap=None):
        """One QEMU (and daemon) with jobs [(op, qd)]; a list of records."""
        self.nrun += 1
        tag = f"{self.nrun:03d}-{device}-{target}"
        qlog = os.path.join(self.logdir, f"qemu-{tag}.log")
        mem = os.path.join(self.files.dir, f"mem-{self.nrun}")
        sock = os.path.join(self.files.dir, f"vfs-{self.nrun}.sock")
        daemon = dlog = None
        qmp = None
        if device == "virtio-blk":
            on_disk = config.endswith("-disk")
            writer = config.endswith("-writer")
            disk = self.files.disk(on_disk)
            base = re.sub(r"-(disk|reader|writer)$", "", config)
            qargs = blk_config(base, poll, disk)
            if writer:
                qmp = os.path.join(self.files.dir, f"qmp-{self.nrun}.sock")
                qargs += writer_args(*self.files.writer_files(), qmp)
            if any(op in WRITES for op, _ in jobs):
                self.files.dirty.add(disk)
        else:
            share = self.files.make_share()
            if target.startswith("virtiofsd") and target not in self.daemons:
                fetch = fsbench.fetch_rust_virtiofsd \
                    if target == "virtiofsd-rust" else \
                    fsbench.fetch_c_virtiofsd
                self.daemons[target], version = fetch()
                log(f"{target}: {version}")
            qargs, dargv = fs_config(target, config, poll, share, sock,
                                     self.daemons)
            if dargv:
                dlog = open(os.path.join(self.logdir, f"daemon-{tag}.log"),
                            "w")
                daemon = self.start_daemon(dargv, sock, dlog)
        cmd = [self.driver, "run", "--qemu", wrap or self.binary(target),
               "--device", "blk" if device == "virtio-blk" else "fs",
               "--mem-path", mem, "--mem-mib", str(MEM_MIB), "--log", qlog,
               "--sync", "--seconds", str(seconds)]
        if requests:
            cmd += ["--requests", str(requests)]
        if expect_seed is not None:
            cmd += ["--expect-seed", str(expect_seed)]
        if self.pin:
            cmd += ["--driver-cpu", "0", "--qemu-cpu", "1"]
        for op, qd in jobs:
            cmd += ["--job", f"{op}:{qd}"]
        cmd += ["--"] + qargs
        with open(os.path.join(self.logdir, f"cmdline-{tag}.txt"), "w") as f:
            f.write(" ".join(cmd) + "\n")
        try:
            return self.drive(cmd, daemon, device, target, config, poll,
                              jobs[-1] if wrap else None, qmp)
        finally:
            if daemon:
                daemon.terminate()
                try:
                    daemon.wait(10)
                except subprocess.TimeoutExpired:
                    daemon.kill()
                    daemon.wait()
                dlog.close()
            for p in (mem, sock) + ((qmp,) if qmp else ()):
                if os.path.exists(p):
                    os.unlink(p)

    def sample(self, pid, daemon):
        """CPU seconds so far: utime+stime (ticks, exited threads too),
        and each live thread's precise run time."""
        total, vcpu, io, _ = qemu_cpu(pid)
        return {"stat": total - vcpu - thread_cpu(pid),
                "tasks": task_runtimes(pid),
                "daemon": tree_runtimes(daemon.pid) if daemon else {}}

    @staticmethod
    def delta(begin, end, pid):
        """Seconds of CPU in the window: device side, its iothreads, the
        main loop, the daemon; a thread born inside counts from 0."""
        d = {"device": 0.0, "iothread": 0.0, "main": 0.0, "daemon": 0.0}
        for tid, (comm, secs) in end["tasks"].items():
            spent = secs - begin["tasks"].get(tid, (comm, 0.0))[1]
            if tid == pid:
                d["main"] += spent
            elif not re.match(r"CPU \d+/", comm):
                d["device"] += spent
                if comm.startswith("IO "):
                    d["iothread"] += spent
        for tid, (comm, secs) in end["daemon"].items():
            d["daemon"] += secs - begin["daemon"].get(tid, (comm, 0.0))[1]
        d["stat"] = end["stat"] - begin["stat"]
        return d

    def drive(self, cmd, daemon, device, target, config, poll,
              callgrind=None, qmp_path=None):
        proc = subprocess.Popen(cmd, stdin=subprocess.PIPE,
                                stdout=subprocess.PIPE, text=True)
        pid = None
        begin = end = None
        out, error = [], None
        qmp = None
        try:
            for line in proc.stdout:
                ev = json.loads(line)
                kind = ev["event"]
                if kind == "started":
                    pid = ev["pid"]
                elif kind in ("begin", "end"):
                    if qmp_path and kind == "begin":
                        # a writer that allocates blocks on the host disk,
                        # in the iothread of the disk the driver reads
                        qmp = Qmp(qmp_path, error=RunError)
                        qmp.command("x-blockdev-set-iothread", **{
                            "node-name": "wsrc", "iothread": "io0"})
                        qmp.command("blockdev-mirror", **{
                            "job-id": "writer", "device": "wsrc",
                            "target": "wdst", "sync": "full",
                            "speed": WRITER_SPEED})
                        time.sleep(0.2)     # let it get going
                    elif qmp and kind == "end":
                        qmp.command("block-job-cancel", device="writer",
                                force=True)
                        qmp.close()
                        qmp = None
                    if callgrind == (ev["op"], ev["qd"]):
                        # instrument the last job's timed phase only
                        subprocess.run(["callgrind_control", "-i",
                                        "on" if kind == "begin" else "off",
                                        str(pid)], check=True,
                                       capture_output=True)
                    s = self.sample(pid, daemon)
                    if kind == "begin":
                        begin = s
                    else:
                        end = s
                    proc.stdin.write("go\n")
                    proc.stdin.flush()
                elif kind == "result":
                    n = ev["requests"]
                    d = {k: v * 1e6 / n
                         for k, v in self.delta(begin, end, pid).items()}
                    ev.update({
                        "device": device, "target": target,
                        "config": config, "poll": poll,
                        "cpu_us_per_req": d["device"] + d["daemon"],
                        "qemu_us_per_req": d["device"],
                        "iothread_us_per_req": d["iothread"],
                        "daemon_us_per_req": d["daemon"],
                        "main_us_per_req": d["main"],
                        # utime+stime, 10 ms ticks: a cross-check
                        "qemu_stat_us_per_req": d["stat"],
                    })
                    del ev["event"]
                    out.append(ev)
                elif kind == "error":
                    error = f"{ev['kind']}: {ev['msg']}"
        finally:
            if qmp:
                qmp.close()
            proc.stdin.close()
            rc = proc.wait()
        if error or rc:
            raise RunError(f"{device} {target} {config}: "
                           f"{error or f'driver exit status {rc}'} "
                           f"(QEMU log: {cmd[cmd.index('--log') + 1]})")
        return out

    def fio(self, device, op, qd, seconds):
        """Host fio, libaio, O_DIRECT, on a file beside the device's."""
        if device == "virtio-blk":
            path, size = self.files.host_copy(False), DISK_BYTES
        else:
            share = self.files.make_share()
            path = os.path.join(share, "data" if op == "read-4k" else "wdata")
            size = FS_DATA_BYTES if op == "read-4k" else FS_WDATA_BYTES
        rw, bs = {"randread-4k": ("randread", "4k"),
                  "read-4k": ("randread", "4k"),
                  "randwrite-4k": ("randwrite", "4k"),
                  "write-4k": ("randwrite", "4k"),
                  "seqwrite-64k": ("write", "64k")}[op]
        cmd = ["fio", "--name=host", f"--filename={path}", "--direct=1",
               "--ioengine=libaio", f"--rw={rw}", f"--bs={bs}",
               f"--iodepth={qd}", f"--size={size}", "--time_based",
               f"--runtime={max(1, round(seconds))}",
               "--lat_percentiles=1", "--output-format=json"]
        if self.pin:
            cmd.append("--cpus_allowed=1")
        before = resource.getrusage(resource.RUSAGE_CHILDREN)
        r = subprocess.run(cmd, capture_output=True, text=True)
        after = resource.getrusage(resource.RUSAGE_CHILDREN)
        if r.returncode:
            raise RunError(f"fio failed: {r.stderr.strip()[-200:]}")
        job = json.loads(r.stdout[r.stdout.index("{"):])["jobs"][0]
        ios = job["read"]["total_ios"] + job["write"]["total_ios"]
        cpu = (after.ru_utime - before.ru_utime +
               after.ru_stime - before.ru_stime)
        secs = job["job_runtime"] / 1000.0
        lat = job["read" if "read" in rw else "write"]["lat_ns"]
        pct = lat.get("percentile", {})
        return [{"device": device, "target": "host",
                 "config": "fio libaio direct", "poll": "off", "op": op,
                 "qd": qd, "requests": ios, "iops": ios / secs,
                 "cpu_us_per_req": cpu * 1e6 / ios,
                 "lat_p50_us": pct.get("50.000000", 0) / 1000.0,
                 "lat_p99_us": pct.get("99.000000", 0) / 1000.0,
                 "verified": False}]


# --------------------------------------------------------------- plans

class Unit:
    """One configuration, its jobs, and the targets it compares."""

    def __init__(self, device, config, poll, targets, jobs, seconds,
                 pairs, self_noise=False):
        self.device, self.config, self.poll = device, config, poll
        self.targets, self.jobs, self.seconds = targets, jobs, seconds
        self.pairs = pairs
        self.self_noise = self_noise


def writer_units(args):
    """A depth-1 reader alone, then beside an allocating writer on the
    host disk in the same iothread: aio=native must not stall the reader
    (RWF_NOWAIT).  Long jobs, for the 99.9th percentile."""
    jobs = [("randread-4k", 1)]
    return [Unit("virtio-blk", cfg, "off", ["ours", "stock"], jobs,
                 args.seconds_writer, args.pairs)
            for cfg in ("native-iothread-reader", "native-iothread-writer")]


def plan(args):
    units = []
    if args.writer:
        return writer_units(args)
    s_blk, s_fs, pairs = args.seconds_blk, args.seconds_fs, args.pairs
    if args.quick:
        jobs = [("randread-4k", 1), ("randread-4k", 32)]
        for cfg in ("native-iothread", "io_uring-iothread"):
            units.append(Unit("virtio-blk", cfg, "off", ["ours", "stock"],
                              jobs, s_blk, pairs))
        units.append(Unit("virtio-fs", None, "off",
                          ["ours", "virtiofsd-rust"],
                          [("read-4k", 1), ("read-4k", 16), ("getattr", 1),
                           ("getattr", 16)], s_fs, pairs))
        units.append(Unit("virtio-blk", "native-iothread", "off",
                          ["ours", "ours"], jobs, s_blk, 1, True))
        units.append(Unit("virtio-blk", None, "off", ["host"], jobs, s_blk,
                          1))
        return units
    all_blk = [(op, qd) for op in BLK_OPS for qd in (1, 32, 128)]
    short = [(op, qd) for op in ("randread-4k", "randwrite-4k")
             for qd in (1, 32)]
    for cfg in ("native-iothread", "io_uring-iothread", "threads-iothread",
                "native-2q-2iothreads"):
        units.append(Unit("virtio-blk", cfg, "off", ["ours", "stock"],
                          all_blk, s_blk, pairs))
    for cfg in ("native-iothread", "io_uring-iothread"):
        units.append(Unit("virtio-blk", cfg, "default", ["ours", "stock"],
                          short, s_blk, pairs))
    units.append(Unit("virtio-blk", "native-iothread-disk", "off",
                      ["ours", "stock"],
                      short + [("flush", 1), ("seqwrite-64k", 32)],
                      s_blk, pairs))
    units += writer_units(args)
    fs_jobs = [(op, qd) for op in FS_OPS for qd in (1, 16)]
    units.append(Unit("virtio-fs", None, "off",
                      ["ours", "virtiofsd-rust", "virtiofsd-c"], fs_jobs,
                      s_fs, pairs))
    units.append(Unit("virtio-fs", None, "default", ["ours"],
                      [("read-4k", 16), ("getattr", 16)], s_fs, pairs))
    # not the default: a kick that finds two requests or more hands them
    # to the thread pool (the default before December 2026)
    # both sides with a thread pool: ours in thread-mode=pool (the size
    # of the iothread's pool), Rust virtiofsd with --thread-pool-size
    units.append(Unit("virtio-fs", FS_POOL, "off", ["ours", "virtiofsd-rust"],
                      [(op, qd) for op in ("read-4k", "write-4k", "getattr")
                       for qd in (1, 16)], s_fs, pairs))
    units.append(Unit("virtio-fs", FS_HYBRID, "off", ["ours"],
                      [(op, qd) for op in FS_OPS for qd in (1, 16)], s_fs,
                      pairs))
    units.append(Unit("virtio-blk", "native-iothread", "off",
                      ["ours", "ours"], short, s_blk, pairs, True))
    units.append(Unit("virtio-fs", None, "off", ["ours", "ours"],
                      [("read-4k", 16), ("getattr", 16)], s_fs, pairs, True))
    units.append(Unit("virtio-blk", None, "off", ["host"],
                      [(op, qd) for op in BLK_OPS if op != "flush"
                       for qd in (1, 32, 128)], s_blk, 1))
    units.append(Unit("virtio-fs", None, "off", ["host"],
                      [("read-4k", 1), ("read-4k", 16), ("write-4k", 16)],
                      s_fs, 1))
    if args.fs_only:
        units = [u for u in units if u.device == "virtio-fs"]
    return units


def fs_config_name(unit, target):
    if target == "ours":
        return unit.config or FS_CONFIG
    return VFSD_POOL_CONFIG if unit.config == FS_POOL else VFSD_CONFIG


def execute(runner, units):
    """Alternating pairs; samples[(unit index, slot, op, qd)] = [run...]."""
    samples = {}
    npairs = max(u.pairs for u in units)
    for p in range(npairs):
        for ui, u in enumerate(units):
            if p >= u.pairs:
                continue
            for slot, target in enumerate(u.targets):
                config = u.config if u.device == "virtio-blk" else \
                    fs_config_name(u, target)
                if target == "host":
                    recs = []
                    for op, qd in u.jobs:
                        recs += runner.fio(u.device, op, qd, u.seconds)
                else:
                    log(f"pair {p + 1}/{u.pairs}: {u.device} {target} "
                        f"{config} poll={u.poll}")
                    recs = runner.run(u.device, target, config, u.poll,
                                      u.jobs, u.seconds)
                for r in recs:
                    samples.setdefault((ui, slot, r["op"], r["qd"]),
                                       []).append(r)
    return samples


def median(xs):
    return statistics.median(xs) if xs else None


def spread(xs):
    m = median(xs)
    return (max(xs) - min(xs)) / m if xs and m else None


def rnd3(v):
    return None if v is None else round(v, 3)


def aggregate(units, samples):
    records = []
    keys = ("iops", "cpu_us_per_req", "lat_p50_us", "lat_p99_us",
            "lat_p999_us",
            "qemu_us_per_req", "iothread_us_per_req", "daemon_us_per_req",
            "main_us_per_req", "driver_cpu_us_per_req",
            "driver_busy_us_per_req", "kicks_per_req")
    for ui, u in enumerate(units):
        for op, qd in u.jobs:
            base = samples.get((ui, 0, op, qd), [])
            for slot, target in enumerate(u.targets):
                runs = samples.get((ui, slot, op, qd), [])
                if not runs or (u.self_noise and slot == 1):
                    continue
                rec = {"device": u.device,
                       "target": "self" if u.self_noise else target,
                       "config": runs[0]["config"], "op": op, "qd": qd,
                       "poll": u.poll,
                       "requests": sum(r["requests"] for r in runs)}
                for k in keys:
                    vals = [r[k] for r in runs if k in r]
                    if vals:
                        rec[k] = round(median(vals), 3)
                cpu = [r["cpu_us_per_req"] for r in runs]
                rec["pairs"] = len(runs)
                rec["spread"] = rnd3(spread(cpu))
                rec["verified"] = all(r.get("verified") is True
                                      for r in runs)
                other = samples.get((ui, 1, op, qd), []) \
                    if u.self_noise else base
                if (u.self_noise or slot > 0) and other:
                    if u.self_noise:
                        ratios = [b["cpu_us_per_req"] / a["cpu_us_per_req"]
                                  for a, b in zip(runs, other)
                                  if a["cpu_us_per_req"] > 0]
                    else:
                        ratios = [r["cpu_us_per_req"] / b["cpu_us_per_req"]
                                  for r, b in zip(runs, other)
                                  if b["cpu_us_per_req"] > 0]
                    rec["ratio"] = rnd3(median(ratios))
                    rec["ratio_spread"] = rnd3(spread(ratios))
                records.append(rec)
    return records


# ------------------------------------------------------------- report

fmt = fsbench.fmt


def pct(v):
    return "-" if v is None else f"{v * 100:.0f}%"


def write_report(args, records, out, started, pin):
    find = {}
    for r in records:
        find[(r["device"], r["target"], r["config"], r["op"], r["qd"],
              r["poll"])] = r
    host = {(r["device"], r["op"], r["qd"]): r for r in records
            if r["target"] == "host"}
    lines = ["# vqbench", "",
             f"Started {started} UTC on {os.cpu_count()} CPUs; "
             + ("driver pinned to CPU 0, QEMU and virtiofsd to CPU 1. "
                if pin else "nothing pinned. ")
             + "CPU figures are microseconds per request (lower is "
             "better): device = QEMU's threads but the main loop and the "
             "idle vCPU, plus the whole virtiofsd; main = QEMU's main loop "
             "(qtest doorbells, MSI-X delivery), apart. Medians of the "
             "pairs; spread = (max - min) / median of the CPU figure; "
             "ratio = median of the pairs' ratios. `verified`: every "
             "answer checked.", ""]
    for name, path in (("ours", args.ours), ("stock", args.stock)):
        if path in args.built:
            now = os.path.getmtime(path)
            lines.append(f"- {name}: `{os.path.relpath(path, ROOT)}`, built "
                         + time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime(
                             args.built[path]))
                         + ("" if now == args.built[path] else
                            ", REBUILT during the run at " + time.strftime(
                                "%H:%M UTC", time.gmtime(now))))
    lines.append("")
    blk = [r for r in records if r["device"] == "virtio-blk"
           and r["target"] == "ours"]
    if blk:
        lines += ["## virtio-blk: ours against stock", "",
                  "| config | poll | op | qd | device ours | device stock | "
                  "stock/ours | iothread ours, stock | main ours, stock | "
                  "IOPS ours, stock | p50 / p99 us ours | p50 / p99 us "
                  "stock | spread ours, stock | host fio | driver | "
                  "verified |",
                  "|---|---|---|---:|---:|---:|---:|---|---|---|---|---|"
                  "---|---:|---:|---|"]
        for r in blk:
            s = find.get(("virtio-blk", "stock", r["config"], r["op"],
                          r["qd"], r["poll"]), {})
            # fio ran on /dev/shm only
            h = {} if r["config"].endswith("-disk") else \
                host.get(("virtio-blk", r["op"], r["qd"]), {})
            lines.append(
                f"| {r['config']} | {r['poll']} | {r['op']} | {r['qd']} | "
                f"{fmt(r['cpu_us_per_req'], 2)} | "
                f"{fmt(s.get('cpu_us_per_req'), 2)} | "
                f"{fmt(s.get('ratio'), 2)}x | "
                f"{fmt(r.get('iothread_us_per_req'), 2)}, "
                f"{fmt(s.get('iothread_us_per_req'), 2)} | "
                f"{fmt(r.get('main_us_per_req'), 2)}, "
                f"{fmt(s.get('main_us_per_req'), 2)} | "
                f"{fmt(r['iops'] / 1000)}k, "
                f"{fmt((s.get('iops') or 0) / 1000)}k | "
                f"{fmt(r['lat_p50_us'])} / {fmt(r['lat_p99_us'])} | "
                f"{fmt(s.get('lat_p50_us'))} / {fmt(s.get('lat_p99_us'))} | "
                f"{pct(r['spread'])}, {pct(s.get('spread'))} | "
                f"{fmt(h.get('cpu_us_per_req'), 2)} | "
                f"{fmt(r.get('driver_cpu_us_per_req'), 2)} | "
                f"{'yes' if r['verified'] and s.get('verified') else 'NO'} |")
        lines.append("")
    wr = [r for r in records if r["device"] == "virtio-blk" and
          r["target"] == "ours" and r["op"] == "randread-4k" and
          r["qd"] == 1 and r["config"] in ("native-iothread-reader",
                                          "native-iothread-writer")
          and "lat_p999_us" in r]
    if any(r["config"].endswith("-writer") for r in wr):
        lines += ["## A depth-1 reader beside an allocating writer", "",
                  "aio=native, one iothread; `-reader`: the reader alone; "
                  "`-writer`: a mirror job in "
                  "the same iothread writes a sparse file on the host disk "
                  f"at {WRITER_SPEED >> 20} MiB/s while the driver reads. "
                  "Latency as the driver sees it, microseconds.", "",
                  "| config | p50 ours, stock | p99 ours, stock | "
                  "p99.9 ours, stock | IOPS ours, stock | requests |",
                  "|---|---|---|---|---|---:|"]
        for r in wr:
            st = find.get(("virtio-blk", "stock", r["config"], r["op"],
                           r["qd"], r["poll"]), {})
            lines.append(
                f"| {r['config']} | {fmt(r['lat_p50_us'])}, "
                f"{fmt(st.get('lat_p50_us'))} | {fmt(r['lat_p99_us'])}, "
                f"{fmt(st.get('lat_p99_us'))} | {fmt(r['lat_p999_us'])}, "
                f"{fmt(st.get('lat_p999_us'))} | "
                f"{fmt(r['iops'] / 1000)}k, "
                f"{fmt((st.get('iops') or 0) / 1000)}k | "
                f"{r['requests']} |")
        lines.append("")
    fs = [r for r in records if r["device"] == "virtio-fs"
          and r["target"] == "ours"]
    if fs:
        others = [t for t in ("virtiofsd-rust", "virtiofsd-c")
                  if any(r["target"] == t for r in records)]
        head = "| ours config | op | qd | poll | device ours |" + "".join(
            f" {t} | {t}/ours |" for t in others) + \
            " main ours" + "".join(f", {t}" for t in others) + \
            " | IOPS ours" + "".join(f", {t}" for t in others) + \
            " | p50 / p99 us ours | spread ours" + "".join(
                f", {t}" for t in others) + " | host fio | verified |"
        lines += ["## virtio-fs: ours against virtiofsd", "",
                  f"ours: `virtio-fs-pci` on the fastio build ({FS_CONFIG});"
                  f" virtiofsd: `vhost-user-fs-pci` on the stock build, "
                  "the daemon with its defaults (its CPU included). Rows "
                  f"`pool`: ours with `thread-mode=pool` against Rust "
                  f"virtiofsd with `--thread-pool-size={VFSD_POOL_THREADS}`"
                  ".", "",
                  head, "|" + "---|" * (head.count("|") - 1)]
        for r in fs:
            vcfg = VFSD_POOL_CONFIG if r["config"] == FS_POOL else \
                VFSD_CONFIG
            os_ = [find.get(("virtio-fs", t, vcfg, r["op"], r["qd"],
                             r["poll"]), {}) for t in others]
            h = host.get(("virtio-fs", r["op"], r["qd"]), {})
            ok = r["verified"] and all(o.get("verified", True) for o in os_)
            # ratios are pairs of runs with ours' default configuration
            dflt = r["config"] in (FS_CONFIG, FS_POOL)
            lines.append(
                f"| {r['config'].split(', ')[-1]} | "
                f"{r['op']} | {r['qd']} | {r['poll']} | "
                f"{fmt(r['cpu_us_per_req'], 2)} |" + "".join(
                    f" {fmt(o.get('cpu_us_per_req'), 2)} | "
                    f"{fmt(o.get('ratio') if dflt else None, 2)}x |"
                    for o in os_) +
                f" {fmt(r.get('main_us_per_req'), 2)}" + "".join(
                    f", {fmt(o.get('main_us_per_req'), 2)}" for o in os_) +
                f" | {fmt(r['iops'] / 1000)}k" + "".join(
                    f", {fmt((o.get('iops') or 0) / 1000)}k" for o in os_) +
                f" | {fmt(r['lat_p50_us'])} / {fmt(r['lat_p99_us'])} | "
                f"{pct(r['spread'])}" + "".join(
                    f", {pct(o.get('spread'))}" for o in os_) +
                f" | {fmt(h.get('cpu_us_per_req'), 2)} | "
                f"{'yes' if ok else 'NO'} |")
        lines.append("")
    selfs = [r for r in records if r["target"] == "self"]
    if selfs:
        lines += ["## Noise: the same binary (ours) against itself", "",
                  "| device | config | op | qd | poll | device us/req | "
                  "ratio | ratio spread | pairs |",
                  "|---|---|---|---:|---|---:|---:|---:|---:|"]
        for r in selfs:
            lines.append(
                f"| {r['device']} | {r['config']} | {r['op']} | {r['qd']} | "
                f"{r['poll']} | {fmt(r['cpu_us_per_req'], 2)} | "
                f"{fmt(r.get('ratio'), 2)}x | {pct(r.get('ratio_spread'))} "
                f"| {r['pairs']} |")
        lines.append("")
    hosts = [r for r in records if r["target"] == "host"]
    if hosts:
        lines += ["## Host reference: fio libaio O_DIRECT on a file beside "
                  "the device's (/dev/shm)", "",
                  "| device | op | qd | CPU us per I/O | IOPS | p50 / p99 us |",
                  "|---|---|---:|---:|---:|---|"]
        for r in hosts:
            lines.append(
                f"| {r['device']} | {r['op']} | {r['qd']} | "
                f"{fmt(r['cpu_us_per_req'], 2)} | {fmt(r['iops'] / 1000)}k "
                f"| {fmt(r['lat_p50_us'])} / {fmt(r['lat_p99_us'])} |")
        lines.append("")
    with open(os.path.join(out, "vqbench.md"), "w") as f:
        f.write("\n".join(lines))
    with open(os.path.join(out, "vqbench.json"), "w") as f:
        json.dump(records, f, indent=1)
        f.write("\n")


# ------------------------------------------------------------ selftest

def selftest(runner, negative):
    """Tiny runs of every op against our build; True when all pass."""
    if negative:
        # The device answers right, the driver expects another pattern:
        # each run must fail, naming the wrong data.
        ok = True
        for device, config, job in (
                ("virtio-blk", "native-iothread", ("randread-4k", 1)),
                ("virtio-fs", FS_CONFIG, ("read-4k", 1))):
            try:
                runner.run(device, "ours", config, "off", [job], 0,
                           requests=50, expect_seed=2)
            except RunError as e:
                if "wrong answer" in str(e) and "differs" in str(e):
                    log(f"negative control failed as it must: {e}")
                    continue
                log(f"negative control failed for another reason: {e}")
            else:
                log(f"negative control: {device} did not notice a wrong "
                    "pattern")
            ok = False
        return ok
    # A fresh QEMU's first aio=native job is a batch: on tmpfs it used to
    # hang for good (io_submit() refusing RWF_NOWAIT for the first
    # request of a batch stranded the rest).
    runs = [("virtio-blk", "native-iothread",
             [(op, qd) for op in BLK_OPS for qd in (32, 1)], 2000),
            ("virtio-blk", "io_uring-iothread",
             [("randread-4k", 32), ("randwrite-4k", 32)], 1000),
            ("virtio-blk", "native-2q-2iothreads",
             [("randread-4k", 32), ("randwrite-4k", 32)], 1000),
            ("virtio-fs", FS_CONFIG,
             [(op, qd) for op in FS_OPS for qd in (1, 16)], 300)]
    ok = True
    for device, config, jobs, n in runs:
        try:
            recs = runner.run(device, "ours", config, "off", jobs, 0,
                              requests=n)
        except RunError as e:
            log(f"FAIL {e}")
            ok = False
            continue
        for r in recs:
            good = r["verified"] and r["requests"] >= n
            ok &= good
            log(f"{'ok' if good else 'FAIL'} {device} {config} {r['op']} "
                f"qd{r['qd']}: {r['requests']} requests, "
                f"{r['checked']} answers checked, "
                f"{r['blocks_read_back']} blocks read back")
        if len(recs) != len(jobs):
            log(f"FAIL {device} {config}: {len(recs)} of {len(jobs)} jobs")
            ok = False
    return ok


# ------------------------------------------------------------ profile

PROFILES = (("virtio-blk", "native-iothread",
             [("randread-4k", 1), ("randread-4k", 32)], 20000),
            ("virtio-fs", FS_CONFIG, [("getattr", 16)], 20000),
            ("virtio-fs", FS_CONFIG, [("read-4k", 16)], 20000))


def profile_plan(spec):
    """PROFILES, or the jobs named by --profile as DEVICE:OP:QD,..."""
    if not spec:
        return PROFILES
    plan = []
    for item in spec.split(","):
        try:
            device, op, qd = item.split(":")
            qd = int(qd)
        except ValueError:
            sys.exit(f"vqbench: --profile {item}: want DEVICE:OP:QD")
        ops = FS_OPS if device == "virtio-fs" else BLK_OPS
        if device not in ("virtio-fs", "virtio-blk") or op not in ops:
            sys.exit(f"vqbench: --profile {item}: unknown device or op")
        config = FS_CONFIG if device == "virtio-fs" else "native-iothread"
        plan.append((device, config, [(op, qd)], 20000))
    return plan


def profile(runner, out, spec=None):
    """Our build under callgrind, instrumented during the jobs only: the
    instructions each function costs, per thread, exactly."""
    for device, config, jobs, n in profile_plan(spec):
        name = f"{device}-{jobs[-1][0]}-qd{jobs[-1][1]}"
        wrap = os.path.join(runner.files.dir, f"cg-{name}.sh")
        with open(wrap, "w") as f:
            f.write("#!/bin/sh\nexec valgrind --tool=callgrind "
                    "--instr-atstart=no --separate-threads=yes "
                    f"--callgrind-out-file={out}/callgrind-{name}.%p "
                    f"{runner.args.ours} \"$@\"\n")
        os.chmod(wrap, 0o755)
        log(f"callgrind: {name}, {n} requests")
        recs = runner.run(device, "ours", config, "off", jobs, 0,
                          requests=n, wrap=wrap)
        for r in recs:
            log(f"callgrind: {name}: {r['requests']} requests verified")


# ---------------------------------------------------------------- main

def main():
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--out", help="results folder (default "
                    "results/<stamp>/)")
    ap.add_argument("--writer", action="store_true",
                    help="only the reader beside an allocating writer")
    ap.add_argument("--seconds-writer", type=float, default=4.0)
    ap.add_argument("--fs-only", action="store_true",
                    help="the virtio-fs jobs only (ours, virtiofsd, host)")
    ap.add_argument("--quick", action="store_true",
                    help="blk 4k randread and fs READ/GETATTR only")
    ap.add_argument("--selftest", action="store_true",
                    help="tiny counts, every op, our build only")
    ap.add_argument("--selftest-negative", action="store_true",
                    help="a run expecting the wrong pattern must fail")
    ap.add_argument("--pairs", type=int)
    ap.add_argument("--seconds-blk", type=float)
    ap.add_argument("--seconds-fs", type=float)
    ap.add_argument("--ours", default=OURS)
    ap.add_argument("--stock", default=STOCK)
    ap.add_argument("--disk-dir", default=os.path.join(ROOT, "build"),
                    help="folder on the host disk for the -disk configs")
    ap.add_argument("--no-pin", action="store_true")
    ap.add_argument("--callgrind", action="store_true",
                    help="profile our build under callgrind instead")
    ap.add_argument("--profile", metavar="DEVICE:OP:QD,...",
                    help="with --callgrind: the jobs to profile (default: "
                    "blk randread-4k qd 1 and 32, fs getattr and read-4k "
                    "qd 16)")
    args = ap.parse_args()
    if args.profile and not args.callgrind:
        sys.exit("vqbench: --profile goes with --callgrind")
    if args.pairs is None:
        args.pairs = 3 if args.quick else 4
    if args.seconds_blk is None:
        args.seconds_blk = 1.0 if args.quick else 0.7
    if args.seconds_fs is None:
        args.seconds_fs = 1.0

    driver = build_driver()
    started = time.strftime("%Y-%m-%d %H:%M", time.gmtime())
    if args.selftest or args.selftest_negative:
        args.out = args.out or tempfile.mkdtemp(prefix="vqb-selftest-")
    elif not args.out:
        args.out = os.path.join(ROOT, "results",
                                time.strftime("%Y%m%d-%H%M%S",
                                              time.gmtime()))
    os.makedirs(args.out, exist_ok=True)
    args.logdir = os.path.join(args.out, "vqbench-logs")
    os.makedirs(args.logdir, exist_ok=True)
    for b in [args.ours] + ([] if args.selftest or args.selftest_negative
                            or args.callgrind
                            else [args.stock]):
        if not os.access(b, os.X_OK):
            sys.exit(f"vqbench: {b} is not built")
    args.built = {b: os.path.getmtime(b) for b in (args.ours, args.stock)
                  if os.path.exists(b)}
    files = Files(driver, args.disk_dir)
    runner = Runner(args, driver, files)
    try:
        if args.selftest or args.selftest_negative:
            ok = selftest(runner, args.selftest_negative)
            if ok:
                shutil.rmtree(args.out, ignore_errors=True)
            else:
                log(f"logs in {args.logdir}")
            sys.exit(0 if ok else 1)
        if args.callgrind:
            profile(runner, args.out, args.profile)
            return
        units = plan(args)
        t0 = time.monotonic()
        try:
            samples = execute(runner, units)
        except RunError as e:
            sys.exit(f"vqbench: {e}")
        with open(os.path.join(args.logdir, "runs.json"), "w") as f:
            json.dump([{"unit": k[0], "slot": k[1], "runs": v}
                       for k, v in samples.items()], f, indent=1)
        records = aggregate(units, samples)
        write_report(args, records, args.out, started, runner.pin)
        log(f"{len(records)} records in {time.monotonic() - t0:.0f} s: "
            f"{os.path.join(args.out, 'vqbench.md')}")
        bad = [r for r in records if not r["verified"] and
               r["target"] != "host"]
        if bad:
            sys.exit(f"vqbench: {len(bad)} records not verified")
    finally:
        files.cleanup()


if __name__ == "__main__":
    main()
