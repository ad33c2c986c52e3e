#!/usr/bin/python3
# SPDX-License-Identifier: GPL-2.0-or-later
#
# Side-by-side block-layer benchmark: `qemu-img bench` of the fastio build
# against the stock build of the same tarball, and host-native fio on the
# same file, in one run.  Reports IOPS and CPU seconds per million I/O
# (user + system time of the process), as medians of alternating pairs,
# with each figure as a ratio to stock and to host-native.
#
# It asserts nothing about speed; it fails if a configuration does not run.

import argparse
import json
import os
import re
import resource
import statistics
import subprocess
import sys
import tempfile
import time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))

ENGINES = ("native", "io_uring")
JOBS = (  # (name, write, depth)
    ("read-qd1", False, 1),
    ("read-qd32", False, 32),
    ("write-qd1", True, 1),
    ("write-qd32", True, 32),
)


def run_measured(cmd):
    """Run cmd; return (stdout, wall seconds, cpu seconds of the child)."""
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    start = time.monotonic()
    proc = subprocess.run(cmd, capture_output=True, text=True)
    wall = time.monotonic() - start
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    if proc.returncode != 0:
        raise RuntimeError(f"{' '.join(cmd)} failed: {proc.stderr.strip()}")
    cpu = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
    return proc.stdout, wall, cpu


def img_bench(qemu_img, path, engine, write, depth, count):
    cmd = [qemu_img, "bench", "-f", "raw", "-t", "none", "-i", engine,
           "-c", str(count), "-d", str(depth), "-s", "4096"]
    if write:
        cmd.append("-w")
    cmd.append(path)
    out, wall, cpu = run_measured(cmd)
    m = re.search(r"Run completed in ([0-9.]+) seconds", out)
    if not m:
        raise RuntimeError(f"unexpected qemu-img bench output: {out!r}")
    secs = float(m.group(1))
    return {"iops": count / secs, "cpu_us": cpu / count * 1e6}


def host_fio(path, write, depth, seconds):
    cmd = ["fio", "--name=host", f"--filename={path}", "--direct=1",
           "--ioengine=libaio", f"--rw={'write' if write else 'read'}",
           "--bs=4k", f"--iodepth={depth}", f"--runtime={seconds}",
           "--time_based", "--output-format=json"]
    out, wall, cpu = run_measured(cmd)
    job = json.loads(out)["jobs"][0]
    side = job["write" if write else "read"]
    ios = side["total_ios"]
    return {"iops": side["iops"], "cpu_us": cpu / ios * 1e6}


def median_of(samples, key):
    return statistics.median(s[key] for s in samples)


def spread(samples, key):
    vals = [s[key] for s in samples]
    mid = statistics.median(vals)
    return (max(vals) - min(vals)) / mid if mid else 0.0


def main():
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--ours", default=f"{ROOT}/build/fastio/obj/qemu-img")
    ap.add_argument("--stock", default=f"{ROOT}/build/stock/obj/qemu-img")
    ap.add_argument("--dir", default="/dev/shm",
                    help="folder of the backing file (tmpfs takes O_DIRECT)")
    ap.add_argument("--size-mb", type=int, default=256)
    ap.add_argument("--count", type=int, default=200000,
                    help="I/O per qemu-img bench run")
    ap.add_argument("--pairs", type=int, default=5,
                    help="alternating stock/ours pairs per configuration")
    ap.add_argument("--fio-seconds", type=int, default=3)
    ap.add_argument("--out", required=True, help="results folder")
    args = ap.parse_args()

    for binary in (args.ours, args.stock):
        if not os.access(binary, os.X_OK):
            sys.exit(f"imgbench: {binary} missing: run ./build.sh "
                     f"{'--stock ' if binary == args.stock else ''}first")
    os.makedirs(args.out, exist_ok=True)
    fd, path = tempfile.mkstemp(prefix="fastio-bench-", dir=args.dir)
    os.close(fd)
    rows = []
    try:
        # A preallocated file: reads hit data, writes do not allocate.
        with open(path, "wb") as f:
            chunk = os.urandom(1 << 20)
            for _ in range(args.size_mb):
                f.write(chunk)
        count = args.count  # qemu-img bench wraps around at the end
        for name, write, depth in JOBS:
            host = [host_fio(path, write, depth, args.fio_seconds)
                    for _ in range(3)]
            for engine in ENGINES:
                stock, ours = [], []
                for i in range(args.pairs):
                    # Alternate which build goes first to cancel drift.
                    order = [("stock", args.stock), ("ours", args.ours)]
                    if i % 2:
                        order.reverse()
                    for label, binary in order:
                        r = img_bench(binary, path, engine, write, depth,
                                      count)
                        (stock if label == "stock" else ours).append(r)
                rows.append({
                    "job": name, "engine": engine,
                    "ours_iops": median_of(ours, "iops"),
                    "stock_iops": median_of(stock, "iops"),
                    "host_iops": median_of(host, "iops"),
                    "ours_cpu_us": median_of(ours, "cpu_us"),
                    "stock_cpu_us": median_of(stock, "cpu_us"),
                    "host_cpu_us": median_of(host, "cpu_us"),
                    "ours_spread": spread(ours, "cpu_us"),
                    "stock_spread": spread(stock, "cpu_us"),
                    "samples": {"ours": ours, "stock": stock, "host": host},
                })
                r = rows[-1]
                print(f"imgbench: {name:10s} {engine:8s} "
                      f"ours {r['ours_iops']:9.0f} IOPS {r['ours_cpu_us']:5.2f} us/IO  "
                      f"stock {r['stock_iops']:9.0f} IOPS {r['stock_cpu_us']:5.2f} us/IO",
                      flush=True)
    finally:
        os.unlink(path)

    with open(os.path.join(args.out, "imgbench.json"), "w") as f:
        json.dump({"pairs": args.pairs, "count": count, "rows": rows}, f,
                  indent=1)
    lines = [
        "| job | aio | ours IOPS | stock IOPS | host fio IOPS | "
        "ours CPU us/IO | stock CPU us/IO | host CPU us/IO | "
        "I/O per CPU-s ours/stock | ours/host | spread ours, stock |",
        "|---|---|---:|---:|---:|---:|---:|---:|---:|---:|---|",
    ]
    for r in rows:
        lines.append(
            f"| {r['job']} | {r['engine']} | {r['ours_iops']:.0f} | "
            f"{r['stock_iops']:.0f} | {r['host_iops']:.0f} | "
            f"{r['ours_cpu_us']:.2f} | {r['stock_cpu_us']:.2f} | "
            f"{r['host_cpu_us']:.2f} | "
            f"{r['stock_cpu_us'] / r['ours_cpu_us']:.2f}x | "
            f"{r['host_cpu_us'] / r['ours_cpu_us']:.2f}x | "
            f"{r['ours_spread'] * 100:.0f}%, {r['stock_spread'] * 100:.0f}% |")
    table = "\n".join(lines) + "\n"
    with open(os.path.join(args.out, "imgbench.md"), "w") as f:
        f.write(table)
    print(table)


if __name__ == "__main__":
    main()
