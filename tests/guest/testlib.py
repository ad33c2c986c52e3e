# SPDX-License-Identifier: GPL-2.0-or-later
#
# What the Python tests of tests/guest (and bench/vqbench.py) share: the
# result lines of tests/lib.sh, and just enough QMP.

import json
import os
import socket
import time


def record(status, name, detail=""):
    """A result line, as tests/lib.sh's result(), for the summary."""
    word = {"pass": "ok     ", "fail": "FAIL   "}[status]
    print(f"{word} {name}{': ' + detail if detail else ''}", flush=True)
    with open(os.environ.get("FASTIO_RESULTS", os.devnull), "a") as f:
        f.write(f"{status}\t{name}\n")


class Qmp:
    """A QMP connection; command() returns "return" or raises @error.

    Waits up to @connect_timeout seconds for the socket to appear; each
    reply may take up to @timeout seconds (None: no limit)."""

    def __init__(self, path, error=RuntimeError, connect_timeout=10,
                 timeout=None):
        self.error = error
        deadline = time.monotonic() + connect_timeout
        while True:
            try:
                self.sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
                self.sock.settimeout(timeout)
                self.sock.connect(path)
                break
            except OSError:
                self.sock.close()
                if time.monotonic() > deadline:
                    raise error(f"no QMP socket at {path}")
                time.sleep(0.05)
        self.f = self.sock.makefile("rw")
        self.f.readline()                       # the greeting
        self.command("qmp_capabilities")

    def command(self, name, **arguments):
        self.f.write(json.dumps({"execute": name, "arguments": arguments})
                     + "\n")
        self.f.flush()
        while True:
            line = self.f.readline()
            if not line:
                raise self.error(f"QMP closed during {name}")
            r = json.loads(line)
            if "return" in r:
                return r["return"]
            if "error" in r:
                raise self.error(f"QMP {name}: {r['error']['desc']}")

    def close(self):
        self.f.close()
        self.sock.close()
