#!/usr/bin/python3
# SPDX-License-Identifier: GPL-2.0-or-later
#
# virtio-fs live migration with a running guest: the guest (scenario
# vfs-migrate) writes, reads back and fio-verifies files on an in-process
# virtio-fs share, with one file open and flock()ed from the start, while
# the VM migrates from QEMU to QEMU on this host several times (each
# destination shares the same folder; thread-mode alternates between
# inline and pool, which need not match).  After each switch-over the
# source must have stopped and quit and the guest must go on working on
# the destination; on the last one a host process must find the guest's
# flock() held.  Then the host makes "done" in the share, and the guest
# checks the file it kept open and its lock and powers off.  Pass: the
# consoles, joined, end in exactly one "FASTIO-RESULT PASS vfs-migrate".
# Runs twice: without a DAX window, and with one (cache-size=64M) that
# the guest mounts with dax=always, so that file data moves through
# mappings that must be made again on each destination.
#
# Usage: migrate.py [--qemu BIN] [--migrations N]
# Appends "pass|fail<TAB>name" lines to $FASTIO_RESULTS.

import argparse
import fcntl
import os
import re
import subprocess
import sys
import tempfile
import time

from testlib import Qmp, record

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(os.path.dirname(HERE))
BOOT_TIMEOUT = 150
STEP_TIMEOUT = 120
TAG = "fastio"
# libvirt's default seccomp sandbox (as tests/guest/run.sh)
SANDBOX = "on,obsolete=deny,elevateprivileges=deny,spawn=deny,resourcecontrol=deny"


class Failed(Exception):
    pass


class Vm:
    """One QEMU process of the migrating VM."""

    def __init__(self, n, base, work, mode, incoming, dax):
        self.console = os.path.join(work, f"vm{n}.console")
        self.log = os.path.join(work, f"vm{n}.qemu")
        qmp = os.path.join(work, f"vm{n}.qmp")
        cmd = base + [
            "-serial", f"file:{self.console}",
            "-qmp", f"unix:{qmp},server=on,wait=off",
            "-device", f"virtio-fs-pci,id=vfs,tag={TAG},source=@SHARE@,"
            f"security-model=mapped-xattr,iothread=io0,thread-mode={mode}"
            + (",cache-size=64M" if dax else ""),
        ]
        if incoming:
            cmd += ["-incoming", "defer"]
        self.cmd = [a.replace("@SHARE@", base.share) for a in cmd]
        with open(self.log, "w") as log:
            log.write(" ".join(self.cmd) + "\n")
            log.flush()
            self.proc = subprocess.Popen(self.cmd, stdin=subprocess.DEVNULL,
                                         stdout=log, stderr=log)
        self.qmp = Qmp(qmp, error=Failed, connect_timeout=30,
                       timeout=STEP_TIMEOUT)

    def text(self):
        try:
            with open(self.console, "rb") as f:
                return f.read().decode(errors="replace").replace("\r", "")
        except FileNotFoundError:
            return ""

    def last_iter(self):
        found = re.findall(r"^FASTIO-MIGRATE iter (\d+)$", self.text(), re.M)
        return int(found[-1]) if found else 0

    def wait_for(self, what, pred, timeout):
        deadline = time.monotonic() + timeout
        while not pred():
            if self.proc.poll() is not None:
                raise Failed(f"QEMU exited (status {self.proc.returncode}) "
                             f"while waiting for {what}")
            if time.monotonic() > deadline:
                raise Failed(f"no {what} within {timeout} s")
            time.sleep(0.1)

    def stop(self):
        if self.proc.poll() is None:
            self.proc.kill()
        self.proc.wait()
        self.qmp.close()


class Base(list):
    share = ""


def migrate(src, dst, sock):
    for vm in (src, dst):
        vm.qmp.command("migrate-set-capabilities", capabilities=[
            {"capability": "return-path", "state": True}])
    dst.qmp.command("migrate-incoming", uri=f"unix:{sock}")
    src.qmp.command("migrate", uri=f"unix:{sock}")
    deadline = time.monotonic() + STEP_TIMEOUT
    while True:
        info = src.qmp.command("query-migrate")
        status = info.get("status")
        if status == "completed":
            break
        if status in ("failed", "cancelled"):
            raise Failed(f"migration {status}: {info.get('error-desc', '')}")
        if time.monotonic() > deadline:
            raise Failed(f"migration still {status} after {STEP_TIMEOUT} s")
        time.sleep(0.05)
    if src.qmp.command("query-status")["running"]:
        raise Failed("the source still runs after the migration")
    dst.wait_for("the destination running",
                 lambda: dst.qmp.command("query-status")["running"], 30)


def host_can_flock(path):
    fd = os.open(path, os.O_RDONLY | os.O_CLOEXEC)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        return True
    except BlockingIOError:
        return False
    finally:
        os.close(fd)


def run(args, guest, work, share, dax):
    base = Base([args.qemu, "-machine", "q35", "-accel", args.accel,
                 "-cpu", "max", "-m", "512M", "-nodefaults",
                 "-no-user-config", "-display", "none", "-no-reboot",
                 "-name", "fastio-vfs-migrate,debug-threads=on",
                 "-sandbox", SANDBOX, "-object", "iothread,id=io0",
                 "-kernel", f"{guest}/vmlinuz",
                 "-initrd", f"{guest}/initramfs.img",
                 "-append", "console=ttyS0 panic=-1 quiet "
                 f"fastio.scenario=vfs-migrate fastio.vfs.tag={TAG}"
                 + (" fastio.vfs.opts=dax=always" if dax else "")])
    base.share = share
    vms = [Vm(0, base, work, "inline", False, dax)]
    try:
        vm = vms[0]
        vm.wait_for("FASTIO-MIGRATE READY and a first round",
                    lambda: vm.last_iter() > 0, BOOT_TIMEOUT)
        for k in range(1, args.migrations + 1):
            src = vms[-1]
            dst = Vm(k, base, work, "pool" if k % 2 else "inline", True,
                     dax)
            vms.append(dst)
            migrate(src, dst, os.path.join(work, f"mig{k}.sock"))
            seen = src.last_iter()
            src.qmp.command("quit")
            src.proc.wait(timeout=30)
            dst.wait_for(f"a round after migration {k} (the source "
                         f"reached round {seen})",
                         lambda: dst.last_iter() > seen, STEP_TIMEOUT)
        keep = os.path.join(share, "work", "keep")
        if host_can_flock(keep):
            raise Failed("a host process could take the guest's flock() "
                         "after the migrations")
        open(os.path.join(share, "done"), "w").close()
        last = vms[-1]
        try:
            last.proc.wait(timeout=STEP_TIMEOUT)
        except subprocess.TimeoutExpired:
            raise Failed(f"the guest did not finish within {STEP_TIMEOUT} s")
        if last.proc.returncode != 0:
            raise Failed(f"QEMU exited with status {last.proc.returncode}")
    finally:
        for vm in vms:
            vm.stop()
    text = "".join(vm.text() for vm in vms)
    lines = [ln for ln in text.split("\n")
             if ln.strip() and not ln.startswith("kmsg: ")]
    results = [ln for ln in lines if ln.startswith("FASTIO-RESULT")]
    end = [ln for ln in lines if ln.startswith("FASTIO-END vfs-migrate ")]
    if results != ["FASTIO-RESULT PASS vfs-migrate"] or \
            end != ["FASTIO-END vfs-migrate rc=0"]:
        raise Failed("the guest said: " + (results[-1] if results else
                                           "no result"))
    rounds = re.findall(r"^FASTIO-MIGRATE rounds (\d+)$", text, re.M)
    return f"{rounds[-1] if rounds else '?'} rounds"


def main():
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--qemu", default=os.environ.get(
        "QEMU", f"{ROOT}/build/fastio/obj/qemu-system-x86_64"))
    ap.add_argument("--migrations", type=int, default=3)
    args = ap.parse_args()
    args.accel = "kvm" if os.environ.get("FASTIO_GUEST_ACCEL") == "kvm" \
        else "tcg"
    guest = subprocess.run([f"{HERE}/build-initramfs.sh"], check=True,
                           capture_output=True, text=True).stdout.strip()
    logdir = os.path.join(ROOT, "build", "test-logs", "guest")
    shm = "/dev/shm" if os.access("/dev/shm", os.W_OK) else None
    for dax in (False, True):
        name = (f"guest: vfs-migrate{'-dax' if dax else ''} "
                f"({args.migrations} live migrations while the guest "
                "writes, reads and fio-verifies on the share"
                f"{', mounted dax=always on a 64 MiB DAX window' if dax else ''}"
                "; a file kept open and flock()ed across them)")
        prefix = f"migrate{'-dax' if dax else ''}"
        with tempfile.TemporaryDirectory(dir=shm) as work:
            share = os.path.join(work, "share")
            os.mkdir(share)
            try:
                detail = run(args, guest, work, share, dax)
            except (Failed, OSError, subprocess.SubprocessError) as e:
                os.makedirs(logdir, exist_ok=True)
                for f in sorted(os.listdir(work)):
                    if f.endswith((".console", ".qemu")):
                        with open(os.path.join(work, f), "rb") as src, \
                                open(os.path.join(logdir,
                                                  f"{prefix}-{f}.log"),
                                     "wb") as dst:
                            dst.write(src.read())
                record("fail", name, f"{e} (logs: {logdir}/{prefix}-vm*)")
                continue
        record("pass", f"{name}: {detail}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
