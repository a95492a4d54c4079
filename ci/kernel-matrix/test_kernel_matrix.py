#!/usr/bin/env python3
"""Tests of compare.py and collect.py (stdlib unittest; no VM needed).

Run: python3 ci/kernel-matrix/test_kernel_matrix.py
"""

import base64
import gzip
import hashlib
import io
import json
import os
import sys
import tempfile
import unittest
from contextlib import redirect_stderr, redirect_stdout

sys.dont_write_bytecode = True  # keep the source tree clean
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import collect  # noqa: E402
import compare  # noqa: E402


def record(release, cells):
    return {"kernel": {"release": release},
            "cells": [{"name": n, "witnesses": w} for n, w in cells.items()]}


def frame(name, data, compress=True):
    sha = hashlib.sha256(data).hexdigest()
    payload = gzip.compress(data) if compress else data
    b64 = base64.encodebytes(payload).decode()
    return "TCPSEM-FRAME-BEGIN %s %d %s%s\n%sTCPSEM-FRAME-END %s\n" % (
        name, len(data), sha, " gzip" if compress else "", b64, name)


GTEST_OK = json.dumps({"testsuites": [{"testsuite": [
    {"classname": "A", "name": "x", "status": "RUN", "result": "COMPLETED"},
    {"classname": "A", "name": "y", "status": "RUN", "result": "SKIPPED"},
]}]}).encode()
GTEST_FAIL = json.dumps({"testsuites": [{"testsuite": [
    {"classname": "A", "name": "x", "status": "RUN", "result": "COMPLETED",
     "failures": [{"failure": "boom"}]},
]}]}).encode()
META = (b"kernel_release=6.1.0-56-cloud-amd64\nboot_uptime=2.5\n"
        b"suite_start_uptime=3.0\nsuite_end_uptime=43.0\nsuite_rc=0\n"
        b"status=ran\ntracefs=yes\ntcp_send_reset_reason=no\n")


class Tmp(unittest.TestCase):
    def setUp(self):
        self._tmp = tempfile.TemporaryDirectory()
        self.dir = self._tmp.name

    def tearDown(self):
        self._tmp.cleanup()

    def write(self, name, content):
        path = os.path.join(self.dir, name)
        mode = "wb" if isinstance(content, bytes) else "w"
        with open(path, mode) as f:
            f.write(content)
        return path


class CompareTest(Tmp):
    def run_compare(self, *args):
        out, err = io.StringIO(), io.StringIO()
        with redirect_stdout(out), redirect_stderr(err):
            status = compare.main(list(args))
        return status, out.getvalue(), err.getvalue()

    def test_identical_records_have_no_rows(self):
        cells = {"S1": {"wire.close": "RST"}, "S2": {"wire.close": "FIN"}}
        a = self.write("a.json", json.dumps(record("6.1", cells)))
        b = self.write("b.json", json.dumps(record("6.12", cells)))
        status, out, _ = self.run_compare(a, b)
        self.assertEqual(status, 0)
        self.assertIn("No scenario differs", out)
        self.assertIn("2 scenario(s) compared", out)

    def test_differing_witness_is_one_row_with_every_kernel(self):
        a = self.write("a.json", json.dumps(record("6.1", {
            "S1": {"wire.close": "RST", "peer.recv": "ECONNRESET"},
            "S2": {"wire.close": "FIN"}})))
        b = self.write("b.json", json.dumps(record("6.12", {
            "S1": {"wire.close": "FIN then RST", "peer.recv": "ECONNRESET"},
            "S2": {"wire.close": "FIN"}})))
        status, out, _ = self.run_compare(a, b)
        self.assertEqual(status, 1)
        self.assertIn("| scenario | witness | 6.1 | 6.12 |", out)
        self.assertIn("| S1 | wire.close | RST | FIN then RST |", out)
        self.assertNotIn("peer.recv |", out)
        self.assertNotIn("| S2 |", out)
        self.assertIn("1 of 2 scenario(s) differ", out)

    def test_labels(self):
        a = self.write("a.json", json.dumps(record("r", {"S": {"n": "1"}})))
        b = self.write("b.json", json.dumps(record("r", {"S": {"n": "2|3"}})))
        status, out, _ = self.run_compare("old=" + a, "new=" + b)
        self.assertEqual(status, 1)
        self.assertIn("| S | n | 1 | 2\\|3 |", out)

    def test_versions_are_ordered_and_each_behaviour_has_first_and_last(self):
        def rec(version, close):
            r = record("6.1.0-47-cloud-amd64", {"S1": {"wire.close": close}})
            r["kernel"]["upstream"] = version
            return r
        paths = [self.write("%s.json" % v, json.dumps(rec(v, c)))
                 for v, c in [("6.12.117", "RST"), ("6.1.170", "FIN"),
                              ("6.12.100", "RST"), ("6.1.192", "FIN"),
                              ("6.1.180", "RST")]]
        status, out, _ = self.run_compare(*paths)
        self.assertEqual(status, 1)
        # Columns in version order, named by the upstream version.
        self.assertIn("| scenario | witness | 6.1.170 | 6.1.180 | 6.1.192 | "
                      "6.12.100 | 6.12.117 |", out)
        self.assertIn("First and last version showing each behaviour:", out)
        # A behaviour that comes back is listed as two runs.
        self.assertIn("- 1 scenario(s): `wire.close`: FIN on 6.1.170, "
                      "6.1.192; RST on 6.1.180, 6.12.100..6.12.117", out)

    def test_no_version_ranges_when_a_label_is_not_a_version(self):
        a = self.write("a.json", json.dumps(record("r1", {"S": {"w": "A"}})))
        b = self.write("b.json", json.dumps(record("r2", {"S": {"w": "B"}})))
        status, out, _ = self.run_compare(a, b)
        self.assertEqual(status, 1)
        self.assertNotIn("First and last version", out)

    def test_non_string_witness_is_bad_input_as_for_tcpsem_diff(self):
        a = self.write("a.json", json.dumps(record("r", {"S": {"n": 1}})))
        status, _, err = self.run_compare(a, a)
        self.assertEqual(status, 2)
        self.assertIn("witness n is not a string", err)

    def test_same_release_twice_gets_numbered_columns(self):
        a = self.write("a.json", json.dumps(record("r", {"S": {"w": "A"}})))
        b = self.write("b.json", json.dumps(record("r", {"S": {"w": "B"}})))
        _, out, _ = self.run_compare(a, b)
        self.assertIn("| r #1 | r #2 |", out)

    def test_unobservable_witness_is_not_a_difference_as_for_tcpsem_diff(self):
        old = record("6.1", {"S": {"wire.close": "RST"}})
        old["cells"][0]["reset_reasons_unavailable"] = "no reason field"
        a = self.write("a.json", json.dumps(old))
        b = self.write("b.json", json.dumps(record("6.12", {
            "S": {"wire.close": "RST", "reset.reasons": "TCP_ABORT_ON_CLOSE"}})))
        status, out, _ = self.run_compare(a, b)
        self.assertEqual(status, 0)
        self.assertNotIn("| S | reset.reasons |", out)
        self.assertIn("`reset.reasons` not observable on 6.1 in 1 cell(s)", out)

    def test_absent_on_one_kernel_still_compares_the_others(self):
        recs = [record("a", {"S": {}}), record("b", {"S": {"r": "X"}}),
                record("c", {"S": {"r": "Y"}})]
        paths = [self.write("%d.json" % i, json.dumps(r))
                 for i, r in enumerate(recs)]
        status, out, _ = self.run_compare(*paths)
        self.assertEqual(status, 1)
        self.assertIn("| S | r | (absent) | X | Y |", out)

    def test_missing_cell_is_a_difference(self):
        a = self.write("a.json", json.dumps(record("6.1", {
            "S1": {"w": "RST"}, "S2": {"w": "RST"}})))
        b = self.write("b.json", json.dumps(record("6.12", {"S1": {"w": "RST"}})))
        status, out, _ = self.run_compare(a, b)
        self.assertEqual(status, 1)
        self.assertIn("| S2 | w | RST | (no cell) |", out)

    def test_bad_input_exits_2_with_a_message(self):
        good = self.write("g.json", json.dumps(record("r", {})))
        cases = {
            os.path.join(self.dir, "nope.json"): "cannot read",
            self.write("bad.json", "{not json"): "not JSON",
            self.write("list.json", "[]"): "not a tcpsem record",
            self.write("nocells.json", '{"kernel": {}}'): "not a tcpsem record",
            self.write("noname.json", '{"cells": [{}]}'): "has no name",
        }
        for path, message in cases.items():
            status, out, err = self.run_compare(good, path)
            self.assertEqual(status, 2, path)
            self.assertIn(message, err)
            self.assertEqual(out, "")
        self.assertEqual(self.run_compare()[0], 2)


def full_record(release, cells):
    """A record tcpsem_diff accepts (schema tcpsem-record/2, every field)."""
    out = []
    for name, witnesses in cells.items():
        # "why:<witness>" keys declare a witness this kernel cannot observe;
        # "@kind" and "@verdict" set the cell's kind and verdict.
        unobservable = {k[4:]: v for k, v in witnesses.items()
                        if k.startswith("why:")}
        kind = witnesses.get("@kind", "matrix")
        verdict = witnesses.get("@verdict", "pass")
        witnesses = {k: v for k, v in witnesses.items()
                     if not k.startswith("why:") and not k.startswith("@")}
        out.append({"name": name, "family": "V4", "unread": "Unread1",
                    "linger": "LingerOff", "shutdown": "NoShutdown",
                    "peer": "PeerOpen", "verdict": verdict, "mismatches": [],
                    "witnesses": witnesses, "expected": {}, "counters": {},
                    "bytes_sent_by_peer": 1, "unread_at_close": 1,
                    "close_duration_us": 1, "reset_reasons_unavailable": "",
                    "kind": kind, "suite": "",
                    "unobservable": unobservable})
    return {"schema": "tcpsem-record/2",
            "kernel": {"release": release, "version": "#1",
                       "upstream": "6.12.117",
                       "upstream_source": "uname -r: " + release},
            "profile": {"name": "default", "sysctls": {}}, "cells": out}


TCPSEM_DIFF = os.environ.get("TCPSEM_DIFF") or os.path.join(
    os.path.dirname(os.path.abspath(__file__)), "..", "..", "build", "tools",
    "tcpsem_diff")


class OneDefinitionOfChangedTest(Tmp):
    """compare.py and tcpsem_diff call the same pairs of records different."""

    PAIRS = [
        ({"S": {"w": "RST"}}, {"S": {"w": "RST"}}),
        ({"S": {"w": "RST"}}, {"S": {"w": "FIN"}}),
        ({"S": {"w": "RST"}}, {"S": {"w": "RST", "reset.reasons": "X"}}),
        ({"S": {"w": "RST", "r": "X"}}, {"S": {"w": "RST"}}),
        ({"S": {"w": "RST", "why:reset.reasons": "no field"}},
         {"S": {"w": "RST", "reset.reasons": "X"}}),
        ({"S": {"w": "RST"}, "T": {"w": "FIN"}}, {"S": {"w": "RST"}}),
        ({"S": {}}, {"S": {}}),
        # Scenario tests: the verdict counts; a family of witnesses
        # ("reset reason") declared unobservable covers its members.
        ({"S": {"w": "A", "@kind": "scenario"}},
         {"S": {"w": "A", "@kind": "scenario", "@verdict": "fail"}}),
        ({"S": {"w": "A", "@kind": "scenario"}},
         {"S": {"w": "A", "@kind": "scenario", "@verdict": "hung"}}),
        ({"S": {"@kind": "scenario", "why:reset reason": "old kernel"}},
         {"S": {"@kind": "scenario", "reset reason": "X",
                "reset reason: from port": "closer", "reset reason #2": "Y"}}),
        ({"S": {"@kind": "scenario"}},
         {"S": {"@kind": "scenario", "reset reason: from port": "closer"}}),
    ]

    def test_same_verdict_as_tcpsem_diff(self):
        if not os.access(TCPSEM_DIFF, os.X_OK):
            self.skipTest("tcpsem_diff not built (%s); set TCPSEM_DIFF"
                          % TCPSEM_DIFF)
        import subprocess
        for i, (old, new) in enumerate(self.PAIRS):
            a = self.write("old%d.json" % i, json.dumps(full_record("a", old)))
            b = self.write("new%d.json" % i, json.dumps(full_record("b", new)))
            diff = subprocess.run([TCPSEM_DIFF, a, b], capture_output=True,
                                  text=True)
            with redirect_stdout(io.StringIO()), redirect_stderr(io.StringIO()):
                status = compare.main([a, b])
            self.assertIn(diff.returncode, (0, 1), diff.stderr)
            self.assertEqual(status, diff.returncode,
                             "pair %d: %s -> %s" % (i, old, new))


class CollectTest(Tmp):
    def judge(self, raw, console="", timed_out=0, qemu_rc="0"):
        raw_path = self.write("results.raw", raw)
        console_path = self.write("console.log", console)
        out = os.path.join(self.dir, "out")
        args = ["--raw", raw_path, "--console", console_path, "--outdir", out,
                "--label", "k", "--timed-out", str(timed_out), "--timeout",
                "600", "--qemu-rc", qemu_rc, "--wall", "50"]
        with redirect_stdout(io.StringIO()):
            self.assertEqual(collect.main(args), 0)
        with open(os.path.join(out, "summary.json")) as f:
            return json.load(f), out

    def test_complete_stream_passes_and_files_come_back(self):
        raw = (frame("meta.txt", META) + frame("gtest.json", GTEST_OK)
               + frame("record.json", b'{"cells": []}', compress=False)
               + "TCPSEM-DONE\n")
        s, out = self.judge(raw.replace("\n", "\r\n").encode())
        self.assertEqual(s["verdict"], "passed", s)
        self.assertEqual(s["counts"], {"tests": 2, "passed": 1, "failed": 0,
                                       "skipped": 1, "disabled": 0})
        self.assertEqual(s["boot_s"], 2.5)
        self.assertEqual(s["suite_s"], 40.0)
        self.assertEqual(s["tcp_send_reset_reason"], "no")
        with open(os.path.join(out, "record.json")) as f:
            self.assertEqual(f.read(), '{"cells": []}')

    def test_upstream_version_comes_from_the_run_header(self):
        log = (b"tcpsem: kernel 6.1.192 (from uname -v: Debian 6.1.192-3), "
               b"release 6.1.0-57-cloud-amd64; profile default\n")
        raw = (frame("meta.txt", META) + frame("gtest.json", GTEST_OK)
               + frame("suite.log", log) + "TCPSEM-DONE\n")
        s, _ = self.judge(raw.encode())
        self.assertEqual(s["kernel_upstream"], "6.1.192")
        self.assertEqual(s["kernel_upstream_source"],
                         "uname -v: Debian 6.1.192-3")
        # Without a header or a record saying so, it is unknown, not guessed.
        raw = (frame("meta.txt", META) + frame("gtest.json", GTEST_OK)
               + "TCPSEM-DONE\n")
        s, _ = self.judge(raw.encode())
        self.assertIsNone(s["kernel_upstream"])

    def test_failed_test_fails(self):
        raw = (frame("meta.txt", META.replace(b"suite_rc=0", b"suite_rc=1"))
               + frame("gtest.json", GTEST_FAIL) + "TCPSEM-DONE\n")
        s, _ = self.judge(raw.encode())
        self.assertEqual(s["verdict"], "failed")
        self.assertEqual(s["failed_tests"], ["A.x"])

    def test_no_gtest_json_is_a_failure_not_a_pass(self):
        raw = frame("meta.txt", META) + "TCPSEM-DONE\n"
        s, _ = self.judge(raw.encode())
        self.assertEqual(s["verdict"], "failed")

    def test_zero_tests_is_a_failure(self):
        raw = (frame("meta.txt", META) + frame("gtest.json", b'{"testsuites": []}')
               + "TCPSEM-DONE\n")
        s, _ = self.judge(raw.encode())
        self.assertEqual(s["verdict"], "failed")
        self.assertIn("no test", s["reason"])

    def test_corrupt_frame_is_never_a_pass(self):
        for compress in (True, False):
            good = frame("gtest.json", GTEST_OK, compress)
            lines = good.split("\n")
            # Four base64 characters in the middle of the data (not the gzip
            # header's timestamp, which the SHA-256 rightly does not cover).
            line = lines[1]
            lines[1] = line[:40] + ("AAAA" if line[40:44] != "AAAA"
                                    else "BBBB") + line[44:]
            raw = frame("meta.txt", META) + "\n".join(lines) + "TCPSEM-DONE\n"
            s, _ = self.judge(raw.encode())
            self.assertEqual(s["verdict"], "failed", compress)
            self.assertIn("corrupt", s["reason"])

    def test_stray_text_on_the_channel_is_never_a_pass(self):
        raw = (frame("meta.txt", META) + "[ 1.0] some printk\n"
               + frame("gtest.json", GTEST_OK) + "TCPSEM-DONE\n")
        s, _ = self.judge(raw.encode())
        self.assertEqual(s["verdict"], "failed")
        self.assertIn("stray line", s["reason"])

    def test_truncated_stream_with_panic_is_panicked(self):
        raw = frame("meta.txt", META)[:40]
        console = ("[ RUN      ] Suite.Test\n[ 5.0] Oops: int3\n"
                   "[ 5.1] Kernel panic - not syncing: Fatal exception\n")
        s, _ = self.judge(raw.encode(), console)
        self.assertEqual(s["verdict"], "panicked")
        self.assertIn("Fatal exception", s["reason"])
        self.assertIn("last test started: Suite.Test", s["reason"])

    def test_nothing_before_timeout_is_hung(self):
        s, _ = self.judge(b"", "[ RUN      ] A.b\n[       OK ] A.b\n", 1, "124")
        self.assertEqual(s["verdict"], "hung")
        self.assertNotIn("last test", s["reason"])

    def test_early_qemu_exit_is_crashed(self):
        s, _ = self.judge(b"", "", 0, "1")
        self.assertEqual(s["verdict"], "crashed")

    def test_missing_feature_is_not_run(self):
        meta = b"kernel_release=x\nstatus=missing-feature\nmissing=packet-sockets\n"
        s, _ = self.judge((frame("meta.txt", meta) + "TCPSEM-DONE\n").encode())
        self.assertEqual(s["verdict"], "not-run")
        self.assertIn("packet-sockets", s["reason"])

    def test_suite_timeout_in_guest_is_hung(self):
        meta = META.replace(b"status=ran", b"status=suite-timeout")
        log = b"[ RUN      ] A.slow\n"
        raw = frame("meta.txt", meta) + frame("suite.log", log) + "TCPSEM-DONE\n"
        s, _ = self.judge(raw.encode())
        self.assertEqual(s["verdict"], "hung")
        self.assertIn("A.slow", s["reason"])

    def test_watchdog_results_count_hung_and_not_run_as_failed(self):
        results = json.dumps({"tests": [
            {"name": "A.ok", "result": "passed"},
            {"name": "A.hang", "result": "hung"},
            {"name": "A.late", "result": "not_run"},
            {"name": "A.skip", "result": "skipped"}]}).encode()
        raw = (frame("meta.txt", META.replace(b"suite_rc=0", b"suite_rc=1"))
               + frame("results.json", results) + "TCPSEM-DONE\n")
        s, _ = self.judge(raw.encode())
        self.assertEqual(s["verdict"], "failed")
        self.assertEqual(s["counts"]["passed"], 1)
        self.assertEqual(s["counts"]["hung"], 1)
        self.assertEqual(s["counts"]["not_run"], 1)
        self.assertEqual(s["hung_tests"], ["A.hang"])
        self.assertIn("1 hung, 1 not run", s["reason"])

    def test_journal_alone_gives_counts_and_the_partial_record(self):
        meta = META.replace(b"status=ran", b"status=suite-timeout")
        context = {"schema": "tcpsem-record/1", "kernel": {"release": "k"},
                   "cells": []}
        journal = "\n".join(json.dumps(e) for e in [
            {"event": "program_start", "record": context},
            {"event": "start", "test": "A.ok"},
            {"event": "end", "test": "A.ok", "result": "passed",
             "record": {"cells": [{"name": "V4_x", "witnesses": {}}]}},
            {"event": "start", "test": "A.hang"}]).encode() + b"\n"
        raw = (frame("meta.txt", meta) + frame("journal.jsonl", journal)
               + frame("tests.txt", b"A.ok\nA.hang\nA.late\n")
               + "TCPSEM-DONE\n")
        s, out = self.judge(raw.encode())
        self.assertEqual(s["verdict"], "failed")
        self.assertEqual((s["counts"]["passed"], s["counts"]["hung"],
                          s["counts"]["not_run"]), (1, 1, 1))
        with open(os.path.join(out, "record.json")) as f:
            self.assertEqual([c["name"] for c in json.load(f)["cells"]],
                             ["V4_x"])


class UnfinishedCellTest(Tmp):
    def test_hung_cell_is_a_difference(self):
        a = record("a", {"V4_x": {"wire.close": "RST"}})
        b = record("b", {"V4_x": {}})
        b["cells"][0]["verdict"] = "hung"
        _, rows, _ = compare.compare([compare.load(self.write(
            "a.json", json.dumps(a))), compare.load(self.write(
                "b.json", json.dumps(b)))])
        self.assertIn(("V4_x", "run", ["finished", "hung"]), rows)


if __name__ == "__main__":
    unittest.main(verbosity=1)
