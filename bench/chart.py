#!/usr/bin/python3
# SPDX-License-Identifier: GPL-2.0-or-later
#
# Bar charts of a bench results folder: CPU per I/O, ours against stock
# (and host-native fio for qemu-img bench), and for shared folders CPU per
# request of each configuration.  Usage: chart.py RESULTS_DIR

import json
import os
import sys

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402


def bars(ax, labels, series, title, ylabel, yscale="linear"):
    width = 0.8 / len(series)
    for i, (name, values) in enumerate(series):
        xs = [x + i * width for x in range(len(labels))]
        ax.bar(xs, values, width, label=name)
    ax.set_xticks([x + width * (len(series) - 1) / 2
                   for x in range(len(labels))])
    ax.set_xticklabels(labels, rotation=30, ha="right", fontsize=7)
    ax.set_title(title, fontsize=9)
    ax.set_ylabel(ylabel, fontsize=8)
    ax.set_yscale(yscale)
    if yscale == "log":
        # a figure within a clock tick of zero has no bar, not a huge one
        ax.set_ylim(bottom=0.1)
    ax.legend(fontsize=7, ncol=2)


def main():
    out = sys.argv[1]
    panels = []
    img = os.path.join(out, "imgbench.json")
    if os.path.exists(img):
        rows = json.load(open(img))["rows"]
        panels.append((
            [f"{r['job']} {r['engine']}" for r in rows],
            [("ours", [r["ours_cpu_us"] for r in rows]),
             ("stock", [r["stock_cpu_us"] for r in rows]),
             ("host fio", [r["host_cpu_us"] for r in rows])],
            "qemu-img bench, 4k, tmpfs: CPU per I/O (lower is better)",
            "us"))
    guest = os.path.join(out, "guestbench.json")
    if os.path.exists(guest):
        rows = json.load(open(guest))["rows"]
        panels.append((
            [f"{r['config']} {r['job']} poll={r['poll']}" for r in rows],
            [("ours", [r["ours_iothread_us_per_io"] for r in rows]),
             ("stock", [r["stock_iothread_us_per_io"] for r in rows])],
            "guest fio on virtio-blk: iothread CPU per I/O (lower is better)",
            "us"))
    fs = os.path.join(out, "fsbench.json")
    if os.path.exists(fs):
        rows = json.load(open(fs))["rows"]
        jobs = list(dict.fromkeys(r["job"] for r in rows))
        configs = list(dict.fromkeys(r["config"] for r in rows))
        cpu = {(r["job"], r["config"]): r["cpu_us_per_op"] for r in rows}
        panels.append((
            jobs,
            [(c, [max(cpu.get((j, c)) or 0, 0) for j in jobs])
             for c in configs],
            "shared folder in the guest: device-side host CPU per request "
            "(QEMU non-vCPU threads + virtiofsd; lower is better, log scale)",
            "us", "log"))
    vq = os.path.join(out, "vqbench.json")
    if os.path.exists(vq):
        def key(r):
            cfg = r["config"] if r["device"] == "virtio-blk" else \
                ("inline" if "inline" in r["config"] else "")
            return (r["device"], cfg, r["op"], r["qd"], r["poll"])
        rows = [r for r in json.load(open(vq)) if r["target"] != "self"]
        jobs = list(dict.fromkeys(key(r) for r in rows
                                  if r["target"] == "ours"))
        targets = list(dict.fromkeys(r["target"] for r in rows))
        cpu = {(key(r), r["target"]): r["cpu_us_per_req"] for r in rows}
        host = {(r["device"], r["op"], r["qd"]): r["cpu_us_per_req"]
                for r in rows if r["target"] == "host"}
        panels.append((
            [f"{d[7:]} {c.replace('-iothread', '')} {o} qd{q}"
             + (" poll" if p == "default" else "")
             for d, c, o, q, p in jobs],
            [(t, [max((host.get((j[0], j[2], j[3])) if t == "host"
                       else cpu.get((j, t))) or 0, 0) for j in jobs])
             for t in targets],
            "vqbench, no guest: device-side CPU per request (QEMU threads "
            "but the main loop, + virtiofsd; lower is better, log scale)",
            "us", "log"))
    if not panels:
        sys.exit(f"chart: no imgbench.json, guestbench.json, fsbench.json "
                 f"or vqbench.json in {out}")
    fig, axes = plt.subplots(len(panels), 1,
                             figsize=(11, 4.5 * len(panels)), squeeze=False)
    for ax, panel in zip(axes[:, 0], panels):
        bars(ax, *panel)
    fig.tight_layout()
    fig.savefig(os.path.join(out, "chart.png"), dpi=110)
    print(os.path.join(out, "chart.png"))


if __name__ == "__main__":
    main()
