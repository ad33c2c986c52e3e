#!/usr/bin/python3
# SPDX-License-Identifier: GPL-2.0-or-later
#
# Run the QEMU meson tests that tests/meson-tests.list names for a stage,
# building only what they depend on, and count every TAP subtest.
#
# Usage: meson-tests.py BUILD_DIR STAGE
# Appends "pass|fail|skip<TAB>name" lines to $FASTIO_RESULTS.

import json
import os
import re
import subprocess
import sys

HERE = os.path.dirname(os.path.abspath(__file__))


def listed(stage):
    names = []
    with open(os.path.join(HERE, "meson-tests.list"), encoding="utf-8") as f:
        for line in f:
            line = line.split("#", 1)[0].split()
            if len(line) == 2 and line[0] == stage:
                names.append(line[1])
    return names


def introspect(build, what):
    out = subprocess.run(["meson", "introspect", build, what],
                         check=True, capture_output=True, text=True).stdout
    return json.loads(out)


def record(status, name):
    with open(os.environ.get("FASTIO_RESULTS", os.devnull), "a",
              encoding="utf-8") as f:
        f.write(f"{status}\t{name}\n")


def main():
    build, stage = sys.argv[1], sys.argv[2]
    names = listed(stage)
    if not names:
        print(f"skip    {stage}: no tests listed in meson-tests.list")
        record("skip", f"{stage}: none listed")
        return 0

    tests = {t["name"]: t for t in introspect(build, "--tests")}
    missing = [n for n in names if n not in tests]
    for n in missing:
        print(f"FAIL    {stage}: meson knows no test '{n}'")
        record("fail", f"{stage}: {n} exists")
    names = [n for n in names if n in tests]

    # Build the dependencies of just these tests.
    ids = {d for n in names for d in tests[n]["depends"]}
    outputs = []
    for t in introspect(build, "--targets"):
        if t["id"] in ids:
            outputs += [os.path.relpath(f, build) for f in t["filename"]]
    env = dict(os.environ)
    if os.path.isdir("/usr/lib/ccache"):
        env["PATH"] = "/usr/lib/ccache:" + env["PATH"]
    subprocess.run(["ninja", "-C", build] + sorted(set(outputs)),
                   check=True, env=env, stdout=subprocess.DEVNULL)

    log = os.path.join(build, "meson-logs", "testlog.json")
    if os.path.exists(log):
        os.unlink(log)
    # Upstream sized qos-test's 120 s limit for its own cases; the series
    # adds some 40 virtio-fs cases (the DAX ones map and read back a
    # window), and two tests share 2 cores here: 3x, so that a hang is
    # still caught but a busy machine does not fail a passing run.
    subprocess.run(["meson", "test", "-C", build, "--no-rebuild",
                    "--print-errorlogs", "--num-processes", "2",
                    "--timeout-multiplier", "3"] + names,
                   env=env)

    failed = 0
    seen = set()
    with open(log, encoding="utf-8") as f:
        for line in f:
            t = json.loads(line)
            # testlog names are "project:suites / name".
            seen.add(t["name"].rsplit(" / ", 1)[-1])
            counts = {"pass": 0, "fail": 0, "skip": 0}
            for tap in t.get("stdout", "").splitlines():
                m = re.match(r"^(not ok|ok)\s+\d+\s*-?\s*(.*)$", tap)
                if not m:
                    continue
                desc = m.group(2)
                if re.search(r"#\s*SKIP", desc, re.I):
                    status = "skip"
                elif m.group(1) == "ok":
                    status = "pass"
                else:
                    status = "fail"
                counts[status] += 1
                record(status, f"{t['name']} {desc}")
                if status == "fail":
                    print(f"FAIL    {t['name']}: {desc}")
            if t["result"] not in ("OK", "SKIP", "EXPECTEDFAIL") or \
                    counts["pass"] + counts["fail"] == 0 and t["result"] != "SKIP":
                # A crash, a timeout or no TAP at all is a failure too.
                record("fail", f"{t['name']} ran to completion")
                print(f"FAIL    {t['name']}: {t['result']} "
                      f"({counts['pass']} subtests passed)")
                failed += 1
            else:
                print(f"ok      {t['name']}: {counts['pass']} passed, "
                      f"{counts['fail']} failed, {counts['skip']} skipped "
                      f"({t['duration']:.0f} s)")
            failed += counts["fail"]
    for n in names:
        if n not in seen:
            record("fail", f"{n} ran")
            failed += 1
    return 1 if failed or missing else 0


if __name__ == "__main__":
    sys.exit(main())
