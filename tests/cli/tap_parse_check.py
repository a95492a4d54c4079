#!/usr/bin/python3
"""Runs tcpsem_matrix on a small filter with TAP output and checks the TAP
with a real parser (python3-tap, Debian's `tap` module) against gtest's own
JSON report: same number of tests, passes, failures and skips, a plan that
matches, a kselftest Totals line, and the kselftest exit code.

Usage: tap_parse_check.py PATH/TO/tcpsem_matrix [GTEST_FILTER]
"""

import json
import os
import re
import subprocess
import sys
import tempfile

from tap.parser import Parser

DEFAULT_FILTER = "Rfc2525/*V4_Unread1_*_NoShutdown_*:SelfTest/*"


def fail(msg):
    print("tap_parse_check: FAIL: " + msg)
    sys.exit(1)


def main():
    if len(sys.argv) < 2:
        fail("usage: tap_parse_check.py BINARY [FILTER]")
    binary = sys.argv[1]
    gfilter = sys.argv[2] if len(sys.argv) > 2 else DEFAULT_FILTER
    # In the working directory (ctest's: the build tree), not /tmp: root
    # writes nothing where other users can plant links.
    with tempfile.TemporaryDirectory(prefix="tcpsem-tap-", dir=os.getcwd()) as tmp:
        tap_path = os.path.join(tmp, "out.tap")
        json_path = os.path.join(tmp, "gtest.json")
        env = dict(os.environ)
        env.setdefault("TCPSEM_ARTIFACTS", os.path.join(tmp, "artifacts"))
        env.pop("TCPSEM_TAP", None)
        cmd = [binary, "--gtest_filter=" + gfilter,
               "--gtest_output=json:" + json_path, "--tcpsem_tap=" + tap_path]
        proc = subprocess.run(cmd, env=env, stdout=subprocess.PIPE,
                              stderr=subprocess.STDOUT, text=True)
        with open(tap_path) as f:
            tap_text = f.read()
        with open(json_path) as f:
            report = json.load(f)

    # gtest's view, test by test.
    g_pass = g_fail = g_skip = 0
    for suite in report["testsuites"]:
        for case in suite["testsuite"]:
            if case.get("status") != "RUN":
                continue
            if case.get("failures"):
                g_fail += 1
            elif case.get("result") == "SKIPPED":
                g_skip += 1
            else:
                g_pass += 1
    g_total = g_pass + g_fail + g_skip

    # The TAP parser's view.
    lines = list(Parser().parse_text(tap_text))
    cats = [l.category for l in lines]
    if not lines or cats[0] != "version" or lines[0].version != 13:
        fail("first line is not 'TAP version 13'")
    plans = [l for l in lines if l.category == "plan"]
    if len(plans) != 1:
        fail("expected one plan line, got %d" % len(plans))
    tests = [l for l in lines if l.category == "test"]
    t_skip = sum(1 for t in tests if t.ok and t.skip)
    t_pass = sum(1 for t in tests if t.ok and not t.skip)
    t_fail = sum(1 for t in tests if not t.ok)
    numbers = [t.number for t in tests]
    if numbers != list(range(1, len(tests) + 1)):
        fail("test numbers are not 1..%d in order" % len(tests))
    if plans[0].expected_tests != len(tests):
        fail("plan says %d tests, TAP has %d" %
             (plans[0].expected_tests, len(tests)))
    m = re.search(r"^# Totals: pass:(\d+) fail:(\d+) xfail:0 xpass:0 "
                  r"skip:(\d+) error:0$", tap_text, re.M)
    if not m:
        fail("no kselftest '# Totals:' line")
    totals = tuple(int(x) for x in m.groups())

    print("gtest: total=%d pass=%d fail=%d skip=%d" %
          (g_total, g_pass, g_fail, g_skip))
    print("tap:   total=%d pass=%d fail=%d skip=%d (plan 1..%d)" %
          (len(tests), t_pass, t_fail, t_skip, plans[0].expected_tests))
    print("totals line: pass=%d fail=%d skip=%d; exit code %d" %
          (totals + (proc.returncode,)))
    if g_total == 0:
        fail("filter %r selected no tests" % gfilter)
    if (len(tests), t_pass, t_fail, t_skip) != (g_total, g_pass, g_fail,
                                                g_skip):
        fail("TAP counts differ from gtest's")
    if totals != (t_pass, t_fail, t_skip):
        fail("Totals line differs from the test lines")
    want_rc = 1 if t_fail else (4 if t_pass == 0 and t_skip else 0)
    if proc.returncode != want_rc:
        print(proc.stdout[-4000:])
        fail("exit code %d, kselftest convention says %d" %
             (proc.returncode, want_rc))
    print("tap_parse_check: OK")


if __name__ == "__main__":
    main()
