#!/usr/bin/python3
# SPDX-License-Identifier: GPL-2.0-or-later
#
# Shared-folder benchmark: boots the test guest (tests/guest/) once per
# configuration, all on the same host directory, and runs fio and
# metadata jobs in the mounted share (tests/guest/scenarios/bench-fs.sh):
#
#   ours            our in-process virtio-fs-pci on the fastio build, on an
#                   iothread with poll-max-ns=0, cache=auto,
#                   security-model=mapped-xattr
#   ours-poll       the same with the iothread's default adaptive polling
#   ours-passthrough  security-model=passthrough (not run by default)
#   ours-inline     "ours" with thread-mode=inline: every request handled in
#                   the queue's iothread
#   ours-pool       "ours" with thread-mode=pool: every request handed to
#                   the iothread's thread pool ("ours" is the default,
#                   hybrid: inline while the queue is shallow)
#   ours-2q         "ours" with two request queues on two iothreads
#                   (iothread-vq-mapping); needs a guest kernel 6.11+
#                   (--kernel backports)
#   ours-dax        "ours" with a 512 MiB DAX window (cache-size), the guest
#                   mounts with dax=always
#   9p              virtio-9p-pci on the stock build (local fsdev,
#                   security_model=mapped-xattr; guest msize=512000,
#                   cache=mmap)
#   virtiofsd-c     Debian bookworm's C virtiofsd (qemu-system-common 7.2)
#                   through vhost-user-fs-pci on the stock build
#   virtiofsd-rust  Debian trixie's Rust virtiofsd through
#                   vhost-user-fs-pci on the stock build; skipped (and
#                   reported so) when it cannot be downloaded
#
# Under TCG the guest limits throughput, so the figure that judges the
# device is host CPU per request of the device side: every QEMU thread
# but the vCPUs, plus the whole virtiofsd process tree, sampled when the
# guest prints FASTIO-JOB-BEGIN/END.  Throughput and fio's p99 latency
# are reported too, each also as a ratio to "ours".  It asserts nothing
# about speed; it exits non-zero, naming the configuration, when a
# configuration that should run does not.

import argparse
import glob
import hashlib
import io
import json
import os
import queue
import random
import re
import shutil
import signal
import statistics
import subprocess
import sys
import tarfile
import tempfile
import threading
import time

from guestconsole import GuestConsole
from qemucpu import qemu_cpu, tree_cpu

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
CACHE = os.environ.get("QEMU_FASTIO_CACHE") or os.path.join(
    os.environ.get("XDG_CACHE_HOME") or os.path.expanduser("~/.cache"),
    "qemu-fastio")
KEYRING = "/usr/share/keyrings/debian-archive-keyring.gpg"
GUEST_MEM_MIB = 1024
TAG = "share"

# Jobs of tests/guest/scenarios/bench-fs.sh.  A group runs as one unit in
# the guest and gives several result rows.
FIO_JOBS = ("randread-4k-psync", "randread-4k-libaio-qd16",
            "randwrite-4k-psync", "randwrite-4k-libaio-qd16",
            "randread-4k-libaio-2x8", "seqread-1m", "seqwrite-1m")
GROUPS = {"meta": ("meta-create", "meta-stat", "meta-rename", "meta-delete"),
          "untar": ("untar", "rm-rf")}
JOBS = FIO_JOBS + tuple(GROUPS)

CONFIGS = ("ours", "ours-poll", "ours-passthrough", "ours-inline",
           "ours-pool", "ours-2q", "ours-dax", "9p", "virtiofsd-c",
           "virtiofsd-rust")
DEFAULT_CONFIGS = ("ours", "ours-inline", "ours-pool", "ours-2q", "ours-dax",
                   "9p", "virtiofsd-c", "virtiofsd-rust")
DAX_WINDOW = 512 << 20   # bytes (JSON -device takes a number)
BASELINE = "ours"


class ConfigError(Exception):
    """A configuration that should have run did not."""


class Skip(Exception):
    """A configuration that cannot be had here (reported, not fatal)."""


def log(msg):
    print(f"fsbench: {msg}", file=sys.stderr, flush=True)


# ------------------------------------------------------------ virtiofsd

def run_quiet(cmd, cwd=None):
    r = subprocess.run(cmd, cwd=cwd, capture_output=True, text=True)
    if r.returncode:
        tail = (r.stderr or r.stdout).strip().splitlines()[-3:]
        raise RuntimeError(f"{' '.join(cmd[:3])}... failed: "
                           f"{' / '.join(tail)}")
    return r.stdout


def apt_user_opts():
    # As root, apt drops to user _apt, which cannot write to our folders.
    return ["-o", "APT::Sandbox::User=root"] if os.geteuid() == 0 else []


def fetch_c_virtiofsd():
    """Bookworm's C virtiofsd (qemu-system-common 7.2); path and version."""
    base = os.path.join(CACHE, "virtiofsd", "c")
    binary = os.path.join(base, "root", "usr", "lib", "qemu", "virtiofsd")
    if not os.access(binary, os.X_OK):
        shutil.rmtree(base, ignore_errors=True)
        os.makedirs(os.path.join(base, "debs"))
        log("downloading qemu-system-common/bookworm for the C virtiofsd")
        run_quiet(["apt-get", "-q"] + apt_user_opts() +
                  ["download", "qemu-system-common/bookworm"],
                  cwd=os.path.join(base, "debs"))
        for deb in glob.glob(os.path.join(base, "debs", "*.deb")):
            run_quiet(["dpkg-deb", "-x", deb, os.path.join(base, "root")])
    if not os.access(binary, os.X_OK):
        raise RuntimeError("qemu-system-common has no usr/lib/qemu/virtiofsd")
    out = run_quiet([binary, "--version"])
    return [binary], out.splitlines()[0].strip()


def archive_uri():
    """The URI of the machine's main Debian archive, from its apt sources
    (read by ci/lib.sh, deb822 or one-line)."""
    uri = run_quiet(["bash", "-c", '. "$1" && c=$(debian_codename) && '
                     'apt_mirror "${c}"', "lib.sh",
                     os.path.join(ROOT, "ci", "lib.sh")]).strip()
    if not uri:
        raise RuntimeError("no apt source for this Debian release found")
    return uri


def fetch_rust_virtiofsd():
    """Trixie's Rust virtiofsd and its libraries in one folder.

    Uses a private apt configuration (its own sources.list, lists and
    cache); the machine's apt sources are not touched.
    """
    base = os.path.join(CACHE, "virtiofsd", "rust")
    root = os.path.join(base, "root")
    binary = os.path.join(root, "usr", "libexec", "virtiofsd")
    ldso = os.path.join(root, "usr", "lib", "x86_64-linux-gnu",
                        "ld-linux-x86-64.so.2")
    libpath = ":".join(os.path.join(root, d) for d in (
        "usr/lib/x86_64-linux-gnu", "lib/x86_64-linux-gnu"))
    cmd = [ldso, "--library-path", libpath, binary]
    if not (os.access(binary, os.X_OK) and os.path.exists(ldso)):
        shutil.rmtree(base, ignore_errors=True)
        apt = os.path.join(base, "apt")
        for d in ("lists/partial", "parts", "cache/archives/partial",
                  "debs"):
            os.makedirs(os.path.join(apt, d))
        with open(os.path.join(apt, "sources.list"), "w") as f:
            signed = f" [signed-by={KEYRING}]" if os.path.exists(KEYRING) \
                else ""
            f.write(f"deb{signed} {archive_uri()} trixie main\n")
        opts = apt_user_opts() + [
            "-o", f"Dir::Etc::SourceList={apt}/sources.list",
            "-o", f"Dir::Etc::SourceParts={apt}/parts",
            "-o", f"Dir::State::Lists={apt}/lists",
            "-o", f"Dir::Cache={apt}/cache",
            "-o", "Dir::State::status=/dev/null"]
        log("fetching trixie's virtiofsd with a private apt configuration")
        run_quiet(["apt-get", "-q"] + opts + ["update"])
        run_quiet(["apt-get", "-q"] + opts +
                  ["download", "virtiofsd", "libc6", "libseccomp2",
                   "libcap-ng0"], cwd=os.path.join(apt, "debs"))
        for deb in sorted(glob.glob(os.path.join(apt, "debs", "*.deb"))):
            run_quiet(["dpkg-deb", "-x", deb, root])
        shutil.rmtree(os.path.join(apt, "lists"), ignore_errors=True)
        shutil.rmtree(os.path.join(apt, "cache"), ignore_errors=True)
    out = run_quiet(cmd + ["--version"])
    return cmd, out.splitlines()[0].strip()


# ----------------------------------------------------------- the share

def make_tree_tar(path, nfiles, seed=1):
    """A source-tree-like tarball; returns (entries, md5 the guest prints)."""
    rnd = random.Random(seed)
    ndirs = max(1, nfiles // 25)
    dirs = ["src"]
    for i in range(ndirs - 1):
        dirs.append(f"{rnd.choice(dirs)}/d{i}")
    files = {}
    for i in range(nfiles):
        size = int(min(65536, max(64, rnd.lognormvariate(8.3, 1.0))))
        name = f"{rnd.choice(dirs)}/file{i}.{rnd.choice('chS')}"
        files[name] = rnd.randbytes(size)
    with tarfile.open(path, "w", format=tarfile.GNU_FORMAT) as tar:
        for d in dirs:
            ti = tarfile.TarInfo(d)
            ti.type, ti.mode, ti.mtime = tarfile.DIRTYPE, 0o755, 1700000000
            tar.addfile(ti)
        for name, data in files.items():
            ti = tarfile.TarInfo(name)
            ti.size, ti.mode, ti.mtime = len(data), 0o644, 1700000000
            tar.addfile(ti, io.BytesIO(data))
    listing = "".join(f"{hashlib.md5(files[n]).hexdigest()}  ./{n}\n"
                      for n in sorted(files))
    return len(dirs) + len(files), hashlib.md5(listing.encode()).hexdigest()


def reset_share(share):
    for name in os.listdir(share):
        if name in ("fio.dat", "src.tar"):
            continue
        p = os.path.join(share, name)
        if os.path.isdir(p) and not os.path.islink(p):
            shutil.rmtree(p)
        else:
            os.unlink(p)


# ------------------------------------------------------------ one boot

class Bench:
    def __init__(self, args):
        self.args = args
        self.daemons = {}      # config -> (argv prefix, version)
        self.expanded = []     # result rows' job names, in order
        for j in args.jobs:
            self.expanded += list(GROUPS.get(j, (j,)))

    def guest_append(self, fstype, opts=""):
        a = self.args
        return ("console=ttyS0 panic=-1 quiet fastio.scenario=bench-fs "
                f"fastio.fs.type={fstype} fastio.fs.tag={TAG} "
                + (f"fastio.fs.opts={opts} " if opts else "") +
                f"fastio.bench.jobs={','.join(['idle'] + a.jobs)} "
                f"fastio.bench.runtime={a.runtime} "
                f"fastio.bench.size={a.size} fastio.bench.files={a.files}")

    def command(self, cfg, share, sock):
        """(qemu argv, daemon argv or None)."""
        a = self.args
        qemu = a.stock if cfg in ("9p", "virtiofsd-c", "virtiofsd-rust") \
            else a.ours
        cmd = [qemu, "-name", f"fsbench-{cfg},debug-threads=on",
               "-nodefaults", "-display", "none", "-no-reboot",
               "-m", str(GUEST_MEM_MIB), "-smp", "2", "-serial", "stdio",
               "-monitor", "none"] + a.accel
        daemon = None
        fstype = "virtiofs"
        opts = ""
        if cfg.startswith("ours"):
            poll = "" if cfg == "ours-poll" else ",poll-max-ns=0"
            dev = {"driver": "virtio-fs-pci", "tag": TAG, "source": share,
                   "security-model": "passthrough"
                   if cfg == "ours-passthrough" else "mapped-xattr",
                   "cache": "auto", "iothread": "fsio"}
            cmd += ["-object", "iothread,id=fsio" + poll]
            if cfg in ("ours-inline", "ours-pool"):
                dev["thread-mode"] = cfg[len("ours-"):]
            elif cfg == "ours-2q":
                cmd += ["-object", "iothread,id=fsio1" + poll]
                del dev["iothread"]
                dev["num-request-queues"] = 2
                dev["iothread-vq-mapping"] = [{"iothread": "fsio"},
                                              {"iothread": "fsio1"}]
            elif cfg == "ours-dax":
                dev["cache-size"] = DAX_WINDOW
                opts = "dax=always"
            cmd += ["-device", json.dumps(dev, separators=(",", ":"))]
        elif cfg == "9p":
            fstype = "9p"
            cmd += ["-fsdev", f"local,id=fs0,path={share},"
                    "security_model=mapped-xattr",
                    "-device", f"virtio-9p-pci,fsdev=fs0,mount_tag={TAG}"]
        else:
            prefix = self.daemons[cfg][0]
            if cfg == "virtiofsd-c":
                daemon = prefix + [f"--socket-path={sock}",
                                   "-o", f"source={share}",
                                   "-o", "cache=auto"]
            else:
                daemon = prefix + [f"--socket-path={sock}",
                                   f"--shared-dir={share}", "--cache=auto"]
            cmd += ["-object", f"memory-backend-memfd,id=mem,"
                    f"size={GUEST_MEM_MIB}M,share=on",
                    "-machine", "memory-backend=mem",
                    "-chardev", f"socket,id=vfs0,path={sock}",
                    "-device", f"vhost-user-fs-pci,chardev=vfs0,tag={TAG}"]
        cmd += ["-kernel", f"{a.guest}/vmlinuz",
                "-initrd", f"{a.guest}/initramfs.img",
                "-append", self.guest_append(fstype, opts)]
        return cmd, daemon

    def timeout(self):
        a = self.args
        t = 150.0 + a.runtime
        for j in a.jobs:
            if j in FIO_JOBS:
                t += a.runtime + 60
            elif j == "meta":
                t += 60 + a.files * 0.1
            elif j == "untar":
                t += 60 + a.tar_files * 0.4
        return t

    def start_daemon(self, cfg, argv, sock, logf):
        proc = subprocess.Popen(argv, stdout=logf, stderr=subprocess.STDOUT,
                                stdin=subprocess.DEVNULL)
        deadline = time.monotonic() + 15
        while not os.path.exists(sock):
            if proc.poll() is not None:
                raise ConfigError(f"{cfg}: virtiofsd exited with status "
                                  f"{proc.returncode} before listening")
            if time.monotonic() > deadline:
                proc.kill()
                proc.wait()
                raise ConfigError(f"{cfg}: virtiofsd did not create {sock}")
            time.sleep(0.05)
        return proc

    def run_once(self, cfg, share, sock, rnd):
        a = self.args
        cmd, daemon_argv = self.command(cfg, share, sock)
        tag = f"{cfg}-r{rnd}"
        console_path = os.path.join(a.out, f"console-{tag}.log")
        daemon_log = os.path.join(a.out, f"virtiofsd-{tag}.log")
        with open(os.path.join(a.out, f"cmdline-{cfg}.txt"), "w") as f:
            if daemon_argv:
                f.write("virtiofsd: " + " ".join(daemon_argv) + "\n")
            f.write("qemu: " + " ".join(cmd) + "\n")
        reset_share(share)
        if a.drop_caches:
            # the share's files come from the host disk, not its page
            # cache: requests that wait for the disk (needs root)
            os.sync()
            with open("/proc/sys/vm/drop_caches", "w") as f:
                f.write("3\n")
        if os.path.exists(sock):
            os.unlink(sock)
        daemon = None
        dlog = None
        if daemon_argv:
            dlog = open(daemon_log, "w")
            daemon = self.start_daemon(cfg, daemon_argv, sock, dlog)
        proc = subprocess.Popen(cmd, stdout=subprocess.PIPE,
                                stderr=subprocess.STDOUT,
                                stdin=subprocess.DEVNULL, text=True,
                                errors="replace")
        lines = queue.Queue()

        def reader():
            for line in proc.stdout:
                lines.put(line.rstrip("\r\n"))
            lines.put(None)

        threading.Thread(target=reader, daemon=True).start()
        dpid = daemon.pid if daemon else None

        def on_job(name, begin, end):
            tot0, vcpu0, io0, g0, d0, w0 = begin
            tot1, vcpu1, io1, g1, d1, w1 = end
            return {"qemu_cpu": (tot1 - tot0) - (vcpu1 - vcpu0),
                    "iothread_cpu": io1 - io0,
                    "daemon_cpu": d1 - d0,
                    "wall": w1 - w0,
                    "threads": {k: round(v - g0.get(k, 0.0), 3)
                                for k, v in g1.items()
                                if abs(v - g0.get(k, 0.0)) >= 0.005}}

        parser = GuestConsole(lambda: qemu_cpu(proc.pid) + (
            tree_cpu(dpid), time.monotonic()), on_job)
        res, console = parser.results, []
        times, tree_sum, outcome = {}, None, None
        deadline = time.monotonic() + self.timeout()
        try:
            while True:
                left = deadline - time.monotonic()
                if left <= 0:
                    raise ConfigError(f"{cfg}: timed out after "
                                      f"{self.timeout():.0f} s")
                try:
                    line = lines.get(timeout=min(left, 5))
                except queue.Empty:
                    continue
                if line is None:
                    break
                console.append(line)
                if parser.feed(line):
                    continue
                m = re.match(r"FASTIO-TIME (\S+) ([\d.]+) ([\d.]+)", line)
                if m:
                    times[m.group(1)] = float(m.group(3)) - float(m.group(2))
                    continue
                m = re.match(r"FASTIO-TREE-SUM (\w+)", line)
                if m:
                    tree_sum = m.group(1)
                    continue
                if line.startswith("FASTIO-RESULT"):
                    outcome = line
        finally:
            if proc.poll() is None:
                proc.kill()
            proc.wait()
            with open(console_path, "w") as f:
                f.write("\n".join(console) + "\n")
            if daemon:
                try:
                    daemon.wait(timeout=10)
                except subprocess.TimeoutExpired:
                    daemon.send_signal(signal.SIGTERM)
                    try:
                        daemon.wait(timeout=5)
                    except subprocess.TimeoutExpired:
                        daemon.kill()
                        daemon.wait()
                dlog.close()
        if outcome != "FASTIO-RESULT PASS bench-fs":
            raise ConfigError(f"{cfg}: guest says "
                              f"{outcome or 'nothing (no FASTIO-RESULT)'}; "
                              f"QEMU exit status {proc.returncode}; console "
                              f"in {console_path}")
        if proc.returncode != 0:
            raise ConfigError(f"{cfg}: QEMU exited with status "
                              f"{proc.returncode}; console in {console_path}")
        if "untar" in a.jobs and tree_sum != a.tree_md5:
            raise ConfigError(f"{cfg}: the untarred tree differs from "
                              f"src.tar (md5 {tree_sum}, expected "
                              f"{a.tree_md5}); console in {console_path}")
        return self.collect(cfg, res, times, console_path)

    def collect(self, cfg, res, times, console_path):
        a = self.args
        idle = res.get("idle", {})
        if "wall" not in idle or idle["wall"] <= 0:
            raise ConfigError(f"{cfg}: the idle job gave no result; "
                              f"console in {console_path}")
        # Host CPU per wall-clock second of the idle guest's device side.
        idle_rate = (idle["qemu_cpu"] + idle["daemon_cpu"]) / idle["wall"]
        out = {"idle": {"cpu_percent": idle_rate * 100,
                        "qemu_percent": idle["qemu_cpu"] / idle["wall"] * 100,
                        "daemon_percent":
                            idle["daemon_cpu"] / idle["wall"] * 100}}
        for job in self.expanded:
            r = res.get(job, {})
            if "qemu_cpu" not in r or (job in FIO_JOBS and "fio" not in r) \
                    or (job not in FIO_JOBS and job not in times):
                raise ConfigError(f"{cfg}: job {job} gave no result; "
                                  f"console in {console_path}")
            row = {"qemu_cpu_s": r["qemu_cpu"], "daemon_cpu_s": r["daemon_cpu"],
                   "iothread_cpu_s": r["iothread_cpu"],
                   "qemu_threads_cpu_s": r["threads"],
                   "wall_s": r["wall"]}
            if job in FIO_JOBS:
                j = r["fio"]["jobs"][0]
                side = j["write"] if "write" in job else j["read"]
                ops = side["total_ios"]
                lat = side.get("clat_ns") or side.get("lat_ns") or {}
                pct = lat.get("percentile", {})
                row["seconds"] = side.get("runtime", 0) / 1000
                if job.endswith("-1m"):
                    row["throughput"] = side["bw_bytes"] / 1e6
                    row["unit"] = "MB/s"
                else:
                    row["throughput"] = side["iops"]
                    row["unit"] = "IOPS"
                row["p99_us"] = pct.get("99.000000", 0) / 1000 or None
                if side.get("short_ios") or j.get("error"):
                    raise ConfigError(f"{cfg}: fio {job} reports error "
                                      f"{j.get('error')}")
            else:
                ops = a.files if job.startswith("meta-") else a.tar_entries
                secs = times[job]
                row["seconds"] = secs
                row["throughput"] = ops / secs if secs > 0 else 0
                row["unit"] = "ops/s"
                row["p99_us"] = None
            if not ops:
                raise ConfigError(f"{cfg}: job {job} did no I/O")
            row["ops"] = ops
            cpu = r["qemu_cpu"] + r["daemon_cpu"]
            row["cpu_us_per_op"] = cpu / ops * 1e6
            row["net_cpu_us_per_op"] = max(
                0.0, cpu - idle_rate * r["wall"]) / ops * 1e6
            row["qemu_us_per_op"] = r["qemu_cpu"] / ops * 1e6
            row["daemon_us_per_op"] = r["daemon_cpu"] / ops * 1e6
            row["iothread_us_per_op"] = r["iothread_cpu"] / ops * 1e6
            out[job] = row
        return out


# --------------------------------------------------------------- report

def ratio(value, base):
    # CPU is counted in clock ticks: a figure within a tick of zero (or
    # below it, after the idle subtraction) has no meaningful ratio.
    if value is None or base is None or value <= 0 or base <= 1e-3:
        return None
    return value / base


def fmt(v, digits=1):
    if v is None:
        return "-"
    if abs(v) >= 100:
        return f"{v:.0f}"
    return f"{v:.{digits}f}"


def fmt_ratio(v):
    return "-" if v is None else f"{v:.2f}x"


def write_report(args, configs, rows, out):
    with open(os.path.join(out, "fsbench.json"), "w") as f:
        json.dump({"accel": args.accel_name, "runtime": args.runtime,
                   "guest_kernel": args.kernel_release,
                   "rounds": args.rounds, "size_mib": args.size,
                   "files": args.files, "tar_files": args.tar_files,
                   "tar_entries": args.tar_entries, "share": args.share_fs,
                   "jobs": args.jobs, "baseline": BASELINE,
                   "configs": configs, "rows": rows}, f, indent=1)
    lines = [
        f"Shared folders, guest Linux {args.kernel_release} under "
        f"{args.accel_name}, share on "
        f"{args.share_fs}; {args.runtime} s per fio job on a "
        f"{args.size} MiB file (O_DIRECT), {args.files} files in the "
        f"metadata job, a tarball of {args.tar_entries} entries; "
        f"{args.rounds} round(s), medians.  CPU = host CPU per request of "
        "the device side (QEMU's non-vCPU threads + virtiofsd's process "
        "tree), sampled at the guest's job markers; \"net\" subtracts "
        "what the same threads use while the guest idles (the config "
        "table's idle CPU) for the job's duration.  Ratios are to `ours`.",
        "",
        "| job | config | throughput | unit | x ours | p99 us | x ours | "
        "CPU us/req | x ours | net CPU us/req | x ours | QEMU us/req | "
        "virtiofsd us/req |",
        "|---|---|---:|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|"]
    for r in rows:
        lines.append(
            f"| {r['job']} | {r['config']} | {fmt(r['throughput'])} | "
            f"{r['unit']} | {fmt_ratio(r['throughput_x_ours'])} | "
            f"{fmt(r['p99_us'])} | {fmt_ratio(r['p99_x_ours'])} | "
            f"{fmt(r['cpu_us_per_op'])} | {fmt_ratio(r['cpu_x_ours'])} | "
            f"{fmt(r['net_cpu_us_per_op'])} | "
            f"{fmt_ratio(r['net_cpu_x_ours'])} | "
            f"{fmt(r['qemu_us_per_op'])} | {fmt(r['daemon_us_per_op'])} |")
    lines += ["", "| config | status | idle CPU % | version / reason |",
              "|---|---|---:|---|"]
    for name, c in configs.items():
        lines.append(f"| {name} | {c['status']} | "
                     f"{fmt(c.get('idle_cpu_percent'))} | "
                     f"{c.get('version') or c.get('reason') or ''} |")
    table = "\n".join(lines) + "\n"
    with open(os.path.join(out, "fsbench.md"), "w") as f:
        f.write(table)
    print(table)


def main():
    ap = argparse.ArgumentParser(
        description="Shared-folder benchmark: our in-process virtio-fs, "
        "virtio-9p, C and Rust virtiofsd in one run.")
    ap.add_argument("--ours",
                    default=f"{ROOT}/build/fastio/obj/qemu-system-x86_64")
    ap.add_argument("--stock",
                    default=f"{ROOT}/build/stock/obj/qemu-system-x86_64")
    ap.add_argument("--configs", default=",".join(DEFAULT_CONFIGS),
                    help=f"comma-separated, of {', '.join(CONFIGS)}")
    ap.add_argument("--jobs", default=",".join(JOBS),
                    help=f"comma-separated, of {', '.join(JOBS)}")
    ap.add_argument("--runtime", type=int, default=6,
                    help="seconds per fio job")
    ap.add_argument("--size", type=int, default=128,
                    help="MiB of the fio file")
    ap.add_argument("--files", type=int, default=5000,
                    help="files of the metadata job")
    ap.add_argument("--tar-files", type=int, default=1000,
                    help="files in the tarball of the untar job")
    ap.add_argument("--rounds", type=int, default=1,
                    help="rounds over all configurations (order reversed "
                    "every other round); medians are reported")
    ap.add_argument("--kernel", choices=("default", "backports"),
                    default="default",
                    help="guest kernel: the release's, or its backports' "
                    "(Linux 6.11+ is needed for ours-2q to use two queues)")
    ap.add_argument("--drop-caches", action="store_true",
                    help="drop the host's page cache before each boot (root; "
                    "with --dir on a disk, requests then wait for it)")
    ap.add_argument("--dir", default="/dev/shm",
                    help="where the shared folder is made")
    ap.add_argument("--out", required=True)
    args = ap.parse_args()
    args.jobs = args.jobs.split(",")
    for j in args.jobs:
        if j not in JOBS:
            sys.exit(f"fsbench: unknown job {j}")
    cfgs = args.configs.split(",")
    for c in cfgs:
        if c not in CONFIGS:
            sys.exit(f"fsbench: unknown configuration {c}")
    os.makedirs(args.out, exist_ok=True)
    for b in ((args.ours,) if any(c.startswith("ours") for c in cfgs)
              else ()) + ((args.stock,) if any(not c.startswith("ours")
                                               for c in cfgs) else ()):
        if not os.access(b, os.X_OK):
            sys.exit(f"fsbench: no QEMU binary {b}")

    args.guest = subprocess.run(
        [f"{ROOT}/tests/guest/build-initramfs.sh"] +
        (["--backports"] if args.kernel == "backports" else []),
        check=True, capture_output=True, text=True).stdout.strip()
    with open(os.path.join(args.guest, "kernel-release")) as f:
        args.kernel_release = f.read().strip()
    log(f"guest kernel {args.kernel_release}")
    args.accel_name = os.environ.get("FASTIO_GUEST_ACCEL", "tcg")
    args.accel = ["-accel", args.accel_name, "-cpu", "max"]
    bench = Bench(args)

    configs, failed = {}, []
    for c in cfgs:
        configs[c] = {"status": "pending"}
        try:
            if c == "ours-2q" and tuple(int(x) for x in re.findall(
                    r"\d+", args.kernel_release)[:2]) < (6, 11):
                raise Skip(f"guest kernel {args.kernel_release} uses one "
                           "request queue (6.11+ needed: --kernel backports)")
            if c == "virtiofsd-c":
                bench.daemons[c] = fetch_c_virtiofsd()
            elif c == "virtiofsd-rust":
                try:
                    bench.daemons[c] = fetch_rust_virtiofsd()
                except (RuntimeError, OSError, AttributeError) as e:
                    raise Skip(f"Rust virtiofsd cannot be had: {e}")
            if c in bench.daemons:
                configs[c]["version"] = bench.daemons[c][1]
                log(f"{c}: {bench.daemons[c][1]}")
        except Skip as e:
            configs[c] = {"status": "skipped", "reason": str(e)}
            log(f"{c}: SKIPPED: {e}")
        except (RuntimeError, OSError) as e:
            configs[c] = {"status": "failed", "reason": str(e)}
            failed.append(f"{c}: {e}")
            log(f"{c}: FAILED: {e}")
    runnable = [c for c in cfgs if configs[c]["status"] == "pending"]

    tmp = tempfile.mkdtemp(prefix="fastio-fsbench-", dir=args.dir)
    share = os.path.join(tmp, "share")
    sock = os.path.join(tmp, "vhost-fs.sock")
    os.mkdir(share)
    samples = {c: [] for c in runnable}
    try:
        args.share_fs = subprocess.run(
            ["stat", "-f", "-c", "%T", share], capture_output=True,
            text=True).stdout.strip() or "?"
        with open(os.path.join(share, "fio.dat"), "wb") as f:
            chunk = os.urandom(1 << 20)
            for _ in range(args.size):
                f.write(chunk)
        args.tar_entries, args.tree_md5 = make_tree_tar(
            os.path.join(share, "src.tar"), args.tar_files)
        for rnd in range(args.rounds):
            order = runnable if rnd % 2 == 0 else runnable[::-1]
            for c in order:
                if configs[c]["status"] == "failed":
                    continue
                log(f"round {rnd + 1}/{args.rounds}: {c}")
                cmd, daemon = bench.command(c, share, sock)
                configs[c]["qemu"] = cmd
                if daemon:
                    configs[c]["virtiofsd"] = daemon
                t0 = time.monotonic()
                try:
                    samples[c].append(bench.run_once(c, share, sock, rnd))
                except ConfigError as e:
                    configs[c].update({"status": "failed", "reason": str(e)})
                    failed.append(str(e))
                    log(f"FAILED: {e}")
                    continue
                log(f"{c}: done in {time.monotonic() - t0:.0f} s")
                configs[c]["status"] = "ok"
    finally:
        shutil.rmtree(tmp, ignore_errors=True)

    for c in cfgs:
        if configs[c]["status"] == "ok":
            configs[c]["idle_cpu_percent"] = statistics.median(
                x["idle"]["cpu_percent"] for x in samples[c])
    for c in cfgs:
        if samples.get(c):
            configs[c]["raw"] = samples[c]
    rows = []
    for job in bench.expanded:
        base = None
        for c in cfgs:
            if configs[c]["status"] != "ok":
                continue
            s = [x[job] for x in samples[c]]
            row = {"job": job, "config": c, "unit": s[0]["unit"]}
            for k in ("throughput", "p99_us", "cpu_us_per_op",
                      "net_cpu_us_per_op",
                      "qemu_us_per_op", "daemon_us_per_op",
                      "iothread_us_per_op", "seconds", "ops"):
                vals = [x[k] for x in s if x[k] is not None]
                row[k] = statistics.median(vals) if vals else None
            if c == BASELINE:
                base = row
            rows.append(row)
        for row in rows:
            if row["job"] != job:
                continue
            for k, name in (("throughput", "throughput_x_ours"),
                            ("p99_us", "p99_x_ours"),
                            ("cpu_us_per_op", "cpu_x_ours"),
                            ("net_cpu_us_per_op", "net_cpu_x_ours")):
                row[name] = ratio(row[k], base[k]) if base else None
    write_report(args, configs, rows, args.out)
    for c in cfgs:
        if configs[c]["status"] == "skipped":
            log(f"{c} skipped: {configs[c]['reason']}")
    if failed:
        for f in failed:
            log(f"FAILED configuration {f}")
        sys.exit(1)


if __name__ == "__main__":
    main()
