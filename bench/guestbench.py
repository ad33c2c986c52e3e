#!/usr/bin/python3
# SPDX-License-Identifier: GPL-2.0-or-later
#
# Guest-side virtio-blk benchmark: boots the test guest (tests/guest/) on
# the fastio and the stock build, each with aio=threads, aio=native and
# aio=io_uring on an iothread, runs fio jobs in the guest against a disk
# backed by a file on /dev/shm, and measures the host CPU time of QEMU's
# device side (every thread but the vCPUs) per guest I/O.
#
# Under TCG the guest, not the device, limits IOPS, so the figure that
# judges device code is device-side CPU per I/O; IOPS and latency are
# reported too.  It asserts nothing about speed; it fails if a
# configuration does not run.

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time

from guestconsole import GuestConsole
from qemucpu import qemu_cpu

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))

# fio jobs, defined in tests/guest/scenarios/bench-blk.sh
JOBS = ("randread-qd1", "randread-qd32", "randwrite-qd1", "randwrite-qd32",
        "seqwrite-64k-qd1")

# The RWF_NOWAIT case: a QD1 reader on /dev/vda while a writer fills the
# sparse /dev/vdb, both disks on one iothread, backed by files on the
# host's real disk (not tmpfs) so that the writes allocate blocks.
ALLOC_JOB = "qd1read-allocwrite"

CONFIGS = {  # name -> (aio, iothreads, queues)
    "threads": ("threads", 1, 1),
    "native": ("native", 1, 1),
    "io_uring": ("io_uring", 1, 1),
    "native-2q": ("native", 2, 2),
    "alloc-native": ("native", 1, 1),
}


def qemu_cmd(qemu, guest, disk, cfg, accel, jobs, runtime, poll_max_ns):
    aio, iothreads, queues = CONFIGS[cfg]
    cmd = [qemu, "-name", "bench,debug-threads=on", "-nodefaults",
           "-display", "none", "-no-reboot", "-m", "1024", "-smp", "2",
           "-serial", "stdio", "-monitor", "none"] + accel
    iothread_ids = []
    for i in range(iothreads):
        opts = f"iothread,id=io{i}"
        if poll_max_ns is not None:
            opts += f",poll-max-ns={poll_max_ns}"
        cmd += ["-object", opts]
        iothread_ids.append(f"io{i}")
    cmd += ["-blockdev",
            f"driver=file,filename={disk},node-name=file0,aio={aio},"
            "cache.direct=on",
            "-blockdev", "driver=raw,file=file0,node-name=disk0"]
    if cfg.startswith("alloc-"):
        cmd += ["-blockdev",
                f"driver=file,filename={disk}.sparse,node-name=file1,"
                f"aio={aio},cache.direct=on",
                "-blockdev", "driver=raw,file=file1,node-name=disk1",
                "-device", "virtio-blk-pci,drive=disk1,iothread=io0"]
    dev = f"virtio-blk-pci,drive=disk0,num-queues={queues}"
    if iothreads == 1:
        dev += ",iothread=io0"
        cmd += ["-device", dev]
    else:
        mapping = {"driver": "virtio-blk-pci", "drive": "disk0",
                   "num-queues": queues,
                   "iothread-vq-mapping": [{"iothread": i}
                                           for i in iothread_ids]}
        cmd += ["-device", json.dumps(mapping)]
    cmd += ["-kernel", f"{guest}/vmlinuz", "-initrd",
            f"{guest}/initramfs.img", "-append",
            "console=ttyS0 panic=-1 quiet fastio.scenario=bench-blk "
            f"fastio.bench.jobs={','.join(jobs)} "
            f"fastio.bench.runtime={runtime}"]
    return cmd


def run_config(args, qemu, guest, disk, cfg, poll_max_ns):
    jobs = [ALLOC_JOB] if cfg.startswith("alloc-") else args.jobs
    if cfg.startswith("alloc-"):
        # A new sparse file each run, so that every write allocates.
        with open(f"{disk}.sparse", "wb") as f:
            f.truncate(8 << 30)
    cmd = qemu_cmd(qemu, guest, disk, cfg, args.accel, jobs,
                   args.runtime, poll_max_ns)
    proc = subprocess.Popen(cmd, stdout=subprocess.PIPE,
                            stderr=subprocess.STDOUT, text=True,
                            errors="replace")

    def on_job(name, begin, end):
        (tot0, vcpu0, io0), (tot1, vcpu1, io1) = begin, end
        return {"device_cpu": (tot1 - tot0) - (vcpu1 - vcpu0),
                "iothread_cpu": io1 - io0}

    parser = GuestConsole(lambda: qemu_cpu(proc.pid)[:3], on_job)
    results, console = parser.results, []
    deadline = time.monotonic() + 120 + len(jobs) * (args.runtime + 30)
    try:
        for line in proc.stdout:
            line = line.rstrip("\r\n")
            console.append(line)
            if time.monotonic() > deadline:
                raise RuntimeError("timed out")
            if parser.feed(line):
                continue
            if line.startswith("FASTIO-RESULT FAIL"):
                raise RuntimeError(line)
    finally:
        if proc.poll() is None:
            proc.kill()
        proc.wait()
    missing = [j for j in jobs
               if "fio" not in results.get(j, {})
               or "device_cpu" not in results.get(j, {})]
    if missing:
        log = os.path.join(args.out, f"console-{cfg}.log")
        with open(log, "w") as f:
            f.write("\n".join(console))
        raise RuntimeError(f"{cfg}: jobs {missing} gave no result; "
                           f"console in {log}")
    out = {}
    for job in jobs:
        r = results[job]
        j = r["fio"]["jobs"][0]
        side = j["write"] if "write" in job and job != ALLOC_JOB else j["read"]
        ios = side["total_ios"]
        pct = side.get("clat_ns", {}).get("percentile", {})
        out[job] = {
            "iops": side["iops"],
            "lat_mean_us": side["clat_ns"]["mean"] / 1000,
            "lat_p99_us": pct.get("99.000000", 0) / 1000,
            "lat_p999_us": pct.get("99.900000", 0) / 1000,
            "ios": ios,
            "cpu_us_per_io": r["device_cpu"] / ios * 1e6 if ios else 0,
            "iothread_us_per_io": r["iothread_cpu"] / ios * 1e6 if ios else 0,
        }
    return out


def main():
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--ours", default=f"{ROOT}/build/fastio/obj/qemu-system-x86_64")
    ap.add_argument("--stock", default=f"{ROOT}/build/stock/obj/qemu-system-x86_64")
    ap.add_argument("--configs", default="threads,native,io_uring,native-2q")
    ap.add_argument("--jobs", default=",".join(JOBS))
    ap.add_argument("--runtime", type=int, default=8)
    ap.add_argument("--rounds", type=int, default=1,
                    help="alternating stock/ours rounds per configuration")
    ap.add_argument("--poll", choices=("off", "default", "both"),
                    default="both",
                    help="iothread poll-max-ns=0 (device cost), default "
                         "adaptive polling, or both")
    ap.add_argument("--out", required=True)
    args = ap.parse_args()
    args.jobs = args.jobs.split(",")
    for j in args.jobs:
        if j not in JOBS:
            sys.exit(f"guestbench: unknown job {j}")
    os.makedirs(args.out, exist_ok=True)

    guest = subprocess.run([f"{ROOT}/tests/guest/build-initramfs.sh"],
                           check=True, capture_output=True,
                           text=True).stdout.strip()
    accel = os.environ.get("FASTIO_GUEST_ACCEL", "tcg")
    args.accel = ["-accel", accel, "-cpu", "max"]

    polls = {"off": [0], "default": [None], "both": [0, None]}[args.poll]
    fd, disk = tempfile.mkstemp(prefix="fastio-guestbench-", dir="/dev/shm")
    os.close(fd)
    # The alloc-* configurations need a real filesystem, not tmpfs.
    os.makedirs(f"{ROOT}/build", exist_ok=True)
    fd, disk_alloc = tempfile.mkstemp(prefix="guestbench-", dir=f"{ROOT}/build")
    os.close(fd)
    rows = []
    try:
        chunk = os.urandom(1 << 20)
        for path in (disk, disk_alloc):
            with open(path, "wb") as f:
                for _ in range(256):
                    f.write(chunk)
        for cfg in args.configs.split(","):
            for poll in polls:
                samples = {"stock": [], "ours": []}
                for rnd in range(args.rounds):
                    order = [("stock", args.stock), ("ours", args.ours)]
                    if rnd % 2:
                        order.reverse()
                    for label, qemu in order:
                        samples[label].append(
                            run_config(args, qemu, guest,
                                       disk_alloc if cfg.startswith("alloc-")
                                       else disk, cfg, poll))
                for job in ([ALLOC_JOB] if cfg.startswith("alloc-")
                            else args.jobs):
                    row = {"config": cfg, "poll": "off" if poll == 0 else
                           "default", "job": job}
                    for label in ("stock", "ours"):
                        for key in ("iops", "lat_mean_us", "lat_p99_us",
                                    "lat_p999_us", "cpu_us_per_io",
                                    "iothread_us_per_io"):
                            row[f"{label}_{key}"] = statistics.median(
                                s[job][key] for s in samples[label])
                    rows.append(row)
                    print(f"guestbench: {cfg:9s} poll={row['poll']:7s} "
                          f"{job:16s} stock {row['stock_cpu_us_per_io']:6.1f} "
                          f"us/IO p99.9 {row['stock_lat_p999_us']:7.0f} us  "
                          f"ours {row['ours_cpu_us_per_io']:6.1f} us/IO "
                          f"p99.9 {row['ours_lat_p999_us']:7.0f} us",
                          flush=True)
    finally:
        for path in (disk, disk_alloc, f"{disk_alloc}.sparse"):
            if os.path.exists(path):
                os.unlink(path)

    with open(os.path.join(args.out, "guestbench.json"), "w") as f:
        json.dump({"accel": accel, "runtime": args.runtime,
                   "rounds": args.rounds, "rows": rows}, f, indent=1)
    lines = ["| config | iothread polling | job | ours IOPS | stock IOPS | "
             "ours p99 us | stock p99 us | ours p99.9 us | stock p99.9 us | "
             "ours device CPU us/IO | "
             "stock device CPU us/IO | ours/stock | ours iothread us/IO | "
             "stock iothread us/IO | ours/stock |",
             "|---|---|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|"]
    for r in rows:
        ratio = (r["ours_cpu_us_per_io"] / r["stock_cpu_us_per_io"]
                 if r["stock_cpu_us_per_io"] else 0)
        io_ratio = (r["ours_iothread_us_per_io"] /
                    r["stock_iothread_us_per_io"]
                    if r["stock_iothread_us_per_io"] else 0)
        lines.append(
            f"| {r['config']} | {r['poll']} | {r['job']} | "
            f"{r['ours_iops']:.0f} | {r['stock_iops']:.0f} | "
            f"{r['ours_lat_p99_us']:.0f} | {r['stock_lat_p99_us']:.0f} | "
            f"{r['ours_lat_p999_us']:.0f} | {r['stock_lat_p999_us']:.0f} | "
            f"{r['ours_cpu_us_per_io']:.1f} | {r['stock_cpu_us_per_io']:.1f} | "
            f"{ratio:.2f}x | {r['ours_iothread_us_per_io']:.1f} | "
            f"{r['stock_iothread_us_per_io']:.1f} | "
            f"{io_ratio:.2f}x |")
    table = "\n".join(lines) + "\n"
    with open(os.path.join(args.out, "guestbench.md"), "w") as f:
        f.write(table)
    print(table)


if __name__ == "__main__":
    main()
