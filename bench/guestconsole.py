#!/usr/bin/python3
# SPDX-License-Identifier: GPL-2.0-or-later
#
# The console protocol of the benchmark guests (tests/guest/scenarios/
# bench-*.sh), shared by guestbench and fsbench: FASTIO-JOB-BEGIN/END NAME
# around each job, FASTIO-JSON-BEGIN/END NAME around fio's JSON output.

import json
import re


class GuestConsole:
    """Reads the guest's console lines one at a time.

    At each job marker it calls SAMPLE() (what to measure on the host, such
    as CPU times); at the end of a job it calls ON_JOB(name, begin_sample,
    end_sample), whose dict goes into results[name].  fio's JSON output goes
    into results[name]["fio"].
    """

    def __init__(self, sample, on_job):
        self.sample = sample
        self.on_job = on_job
        self.results = {}
        self._begin = {}
        self._json = None

    def feed(self, line):
        """Takes one console LINE; True if it was part of the protocol."""
        m = re.match(r"FASTIO-JOB-(BEGIN|END) (\S+)", line)
        if m:
            sample = self.sample()
            if m.group(1) == "BEGIN":
                self._begin[m.group(2)] = sample
            else:
                self.results.setdefault(m.group(2), {}).update(
                    self.on_job(m.group(2), self._begin[m.group(2)], sample))
            return True
        m = re.match(r"FASTIO-JSON-(BEGIN|END) (\S+)", line)
        if m:
            if m.group(1) == "BEGIN":
                self._json = []
            else:
                self.results.setdefault(m.group(2), {})["fio"] = json.loads(
                    "\n".join(self._json))
                self._json = None
            return True
        if self._json is not None:
            self._json.append(line)
            return True
        return False
