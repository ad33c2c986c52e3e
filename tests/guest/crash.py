#!/usr/bin/python3
# SPDX-License-Identifier: GPL-2.0-or-later
#
# Nothing lost: the guest (scenario blk-records) writes numbered records
# to a virtio-blk disk on an iothread and flushes after every batch of 8,
# printing the last flushed record.  QEMU is killed with SIGKILL at a
# random moment; every record up to the last one the guest saw flushed
# must then read back intact from the backing file on the host.
# Runs for aio=native and aio=io_uring, at several kill points, on an
# allocated image and on a sparse one (where aio=native's writes that
# allocate go from the direct path to a worker thread).  Just before the
# kill, QMP must say that the disk's requests took the direct path.
#
# Usage: crash.py [--qemu BIN] [--kills N] [--seed S]
# Appends "pass|fail<TAB>name" lines to $FASTIO_RESULTS.

import argparse
import os
import random
import re
import signal
import subprocess
import sys
import tempfile
import time

from testlib import Qmp, record

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(os.path.dirname(HERE))
BS = 4096
BOOT_TIMEOUT = 120


def expected(n):
    head = f"FASTIO-REC {n}\n".encode()
    body = (f"{n:08d}" * 60).encode()
    data = head + body
    return data + b"\0" * (BS - len(data))


def direct_requests(path):
    """The disk's x-direct-requests, from QEMU's QMP socket at path."""
    qmp = Qmp(path, connect_timeout=0, timeout=10)
    try:
        return qmp.command("qom-get", path="/machine/peripheral/vb/"
                           "virtio-backend", property="x-direct-requests")
    finally:
        qmp.close()


def one_run(qemu, guest, aio, accel, kill_after, workdir, sparse):
    disk = os.path.join(workdir, f"records-{aio}.raw")
    qmp = os.path.join(workdir, f"qmp-{aio}.sock")
    with open(disk, "wb") as f:
        if sparse:
            f.truncate(64 << 20)
        else:
            os.posix_fallocate(f.fileno(), 0, 64 << 20)
    cmd = [qemu, "-nodefaults", "-display", "none", "-no-reboot",
           "-m", "512", "-serial", "stdio", "-monitor", "none",
           "-qmp", f"unix:{qmp},server=on,wait=off",
           "-accel", accel, "-cpu", "max",
           "-object", "iothread,id=io0",
           "-blockdev", f"driver=file,filename={disk},node-name=f0,"
           f"aio={aio},cache.direct=on",
           "-blockdev", "driver=raw,file=f0,node-name=d0",
           "-device", "virtio-blk-pci,drive=d0,iothread=io0,id=vb",
           "-kernel", f"{guest}/vmlinuz", "-initrd", f"{guest}/initramfs.img",
           "-append", "console=ttyS0 panic=-1 quiet "
           "fastio.scenario=blk-records"]
    proc = subprocess.Popen(cmd, stdout=subprocess.PIPE,
                            stderr=subprocess.STDOUT)
    os.set_blocking(proc.stdout.fileno(), False)
    flushed, first_flush, buf, log = -1, None, b"", []
    start = time.monotonic()
    killed = False
    direct = None
    try:
        while True:
            now = time.monotonic()
            if first_flush is None and now - start > BOOT_TIMEOUT:
                return None, "the guest never flushed a batch", log
            if first_flush is not None and now - first_flush >= kill_after:
                try:
                    direct = direct_requests(qmp)
                except (OSError, ValueError, RuntimeError) as e:
                    direct = f"QMP: {e}"
                proc.send_signal(signal.SIGKILL)
                killed = True
                break
            if proc.poll() is not None:
                break
            try:
                chunk = proc.stdout.read()
            except BlockingIOError:
                chunk = None
            if chunk:
                buf += chunk
                *lines, buf = buf.split(b"\n")
                for line in lines:
                    text = line.decode(errors="replace").rstrip("\r")
                    log.append(text)
                    m = re.match(r"FASTIO-FLUSHED (\d+)$", text)
                    if m:
                        flushed = int(m.group(1))
                        if first_flush is None:
                            first_flush = time.monotonic()
            else:
                time.sleep(0.005)
    finally:
        if proc.poll() is None:
            proc.kill()
        proc.wait()
    if not killed:
        return None, f"QEMU exited before the kill (status {proc.returncode})", log
    if not isinstance(direct, int) or direct == 0:
        return None, f"the disk did not use the direct path ({direct})", log
    # Anything the guest printed after the kill was never seen: the count
    # is what the guest knew durable when QEMU died.
    bad = []
    with open(disk, "rb") as f:
        for n in range(flushed + 1):
            f.seek(n * BS)
            if f.read(BS) != expected(n):
                bad.append(n)
    if bad:
        return None, f"records {bad[:5]} of 0..{flushed} lost or torn", log
    return flushed, f"{direct} requests on the direct path", log


def main():
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--qemu", default=os.environ.get(
        "QEMU", f"{ROOT}/build/fastio/obj/qemu-system-x86_64"))
    ap.add_argument("--kills", type=int, default=2,
                    help="kill points per AIO engine")
    ap.add_argument("--seed", type=int, default=int(time.time()))
    args = ap.parse_args()
    rng = random.Random(args.seed)
    print(f"crash: seed {args.seed}", flush=True)

    guest = subprocess.run([f"{HERE}/build-initramfs.sh"], check=True,
                           capture_output=True, text=True).stdout.strip()
    accel = "kvm" if os.environ.get("FASTIO_GUEST_ACCEL") == "kvm" else "tcg"
    logdir = os.path.join(ROOT, "build", "test-logs", "guest")
    shm = "/dev/shm" if os.access("/dev/shm", os.W_OK) else None
    failed = 0
    with tempfile.TemporaryDirectory(dir=shm) as work:
        for aio in ("native", "io_uring"):
            for k in range(args.kills):
                kill_after = rng.uniform(0.2, 4.0)
                sparse = k % 2 == 1
                image = "sparse" if sparse else "allocated"
                name = (f"guest: nothing lost, aio={aio}, {image} image, "
                        f"SIGKILL {kill_after:.2f} s after the first flush")
                flushed, why, log = one_run(args.qemu, guest, aio, accel,
                                            kill_after, work, sparse)
                if flushed is None:
                    failed += 1
                    os.makedirs(logdir, exist_ok=True)
                    path = os.path.join(logdir, f"crash-{aio}-{k}.console")
                    with open(path, "w") as f:
                        f.write("\n".join(log))
                    record("fail", name, f"{why} (console: {path})")
                else:
                    record("pass", f"{name}: records 0..{flushed} intact, "
                           f"{why}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
