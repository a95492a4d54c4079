#!/usr/bin/env python3
"""Decode one kernel-matrix guest's result channel and judge the run.

The guest (ci/kernel-matrix/init.sh) writes framed, base64-encoded files to its
second serial port, which QEMU stores in a file:

    TCPSEM-FRAME-BEGIN <name> <bytes> <sha256> [gzip]
    <base64 lines>
    TCPSEM-FRAME-END <name>
    ...
    TCPSEM-DONE

This script checks every frame's size and SHA-256, writes the files into
--outdir, counts the gtest results, and writes --outdir/summary.json with one
verdict: passed, failed, not-run, hung, panicked or crashed. A run is "passed"
only if the result stream is complete and intact, the suite exited 0, and
gtest reports at least one test and no failure.

stdlib only. Exit status: 0 always when the summary was written (the verdict is
in the summary), 2 on bad arguments.
"""

import argparse
import base64
import binascii
import gzip
import zlib
import hashlib
import json
import os
import re
import sys

BEGIN = re.compile(r"^TCPSEM-FRAME-BEGIN (\S+) (\d+) ([0-9a-f]{64})( gzip)?$")
ALLOWED_NAMES = {"meta.txt", "suite.log", "gtest.json", "record.json",
                 "modules.log", "results.json", "journal.jsonl", "tests.txt"}
UNFINISHED = ("hung", "crashed", "not_run")


def parse_frames(raw):
    """Returns (files {name: bytes}, errors [str], done bool)."""
    files, errors, done = {}, [], False
    current = None  # (name, size, sha, [lines])
    for line in raw.replace(b"\r", b"").split(b"\n"):
        text = line.decode("ascii", "replace").strip()
        if current is None:
            if text == "TCPSEM-DONE":
                done = True
                continue
            m = BEGIN.match(text)
            if m:
                current = (m.group(1), int(m.group(2)), m.group(3), [],
                           bool(m.group(4)))
            elif text:
                errors.append("stray line outside a frame: %r" % text[:80])
            continue
        name, size, sha, lines, gzipped = current
        if text == "TCPSEM-FRAME-END " + name:
            try:
                data = base64.b64decode("".join(lines), validate=True)
                if gzipped:
                    data = gzip.decompress(data)
            except (binascii.Error, ValueError) as e:
                errors.append("%s: bad base64 (%s)" % (name, e))
                data = None
            except (OSError, EOFError, zlib.error) as e:
                errors.append("%s: bad gzip data (%s)" % (name, e))
                data = None
            if data is not None:
                if len(data) != size:
                    errors.append("%s: %d bytes, frame says %d"
                                  % (name, len(data), size))
                elif hashlib.sha256(data).hexdigest() != sha:
                    errors.append("%s: SHA-256 mismatch" % name)
                elif name not in ALLOWED_NAMES:
                    errors.append("%s: unexpected file name" % name)
                else:
                    files[name] = data
            current = None
        elif text.startswith("TCPSEM-"):
            errors.append("%s: frame cut short by %r" % (name, text[:40]))
            current = None
        else:
            lines.append(text)
    if current is not None:
        errors.append("%s: frame never ended" % current[0])
    return files, errors, done


def parse_meta(data):
    meta = {}
    for line in data.decode("utf-8", "replace").splitlines():
        key, sep, value = line.partition("=")
        if sep:
            meta[key.strip()] = value.strip()
    return meta


def gtest_counts(data):
    """pass/fail/skip/disabled counts from gtest's --gtest_output=json."""
    doc = json.loads(data.decode("utf-8"))
    counts = {"tests": 0, "passed": 0, "failed": 0, "skipped": 0,
              "disabled": 0}
    failed_names = []
    for suite in doc.get("testsuites", []):
        for test in suite.get("testsuite", []):
            counts["tests"] += 1
            name = "%s.%s" % (test.get("classname", "?"), test.get("name", "?"))
            if test.get("failures"):
                counts["failed"] += 1
                failed_names.append(name)
            elif test.get("status") == "NOTRUN":
                counts["disabled"] += 1
            elif test.get("result") == "SKIPPED":
                counts["skipped"] += 1
            else:
                counts["passed"] += 1
    return counts, failed_names


def empty_counts():
    return {"tests": 0, "passed": 0, "failed": 0, "skipped": 0,
            "hung": 0, "crashed": 0, "not_run": 0}


def results_counts(data):
    """Counts and names from the watchdog's results.json (tools/tcpsem_run)."""
    doc = json.loads(data.decode("utf-8"))
    counts = empty_counts()
    failed, hung = [], []
    for test in doc.get("tests", []):
        result = test.get("result", "")
        counts["tests"] += 1
        if result in counts:
            counts[result] += 1
        if result in ("failed", "crashed"):
            failed.append(test.get("name", "?"))
        elif result == "hung":
            hung.append(test.get("name", "?"))
    return counts, failed, hung


def journal_counts(journal, tests_txt):
    """Counts from the journal when the watchdog itself did not finish: the
    finished tests, the one that was running (hung), and the rest of
    tests.txt (not run)."""
    counts = empty_counts()
    finished, running, cells, context = {}, None, [], None
    for line in journal.decode("utf-8", "replace").splitlines():
        try:
            event = json.loads(line)
        except ValueError:
            continue
        kind = event.get("event")
        if kind == "program_start":
            running = None
            if context is None:
                context = event.get("record")
        elif kind == "start":
            running = event.get("test")
        elif kind == "end":
            name = event.get("test")
            finished.setdefault(name, event.get("result", "failed"))
            cells.extend((event.get("record") or {}).get("cells", []))
            if running == name:
                running = None
    listed = [t for t in tests_txt.decode("utf-8", "replace").splitlines()
              if t.strip()]
    failed, hung = [], []
    for name in listed or list(finished):
        counts["tests"] += 1
        result = finished.get(name)
        if result is None:
            result = "hung" if name == running else "not_run"
        counts[result if result in counts else "failed"] += 1
        if result == "failed":
            failed.append(name)
        elif result == "hung":
            hung.append(name)
    record = None
    if context is not None:
        record = dict(context)
        record["cells"] = cells
    return counts, failed, hung, record


def console_counts(text):
    """What the console's mirror of the suite output says finished (the guest
    never reported: the tests it did not reach are unknown)."""
    counts = empty_counts()
    failed = []
    for m in re.finditer(r"\[ +(OK|FAILED|SKIPPED) +\] (\S+) \(", text):
        counts["tests"] += 1
        kind = {"OK": "passed", "FAILED": "failed", "SKIPPED": "skipped"}
        counts[kind[m.group(1)]] += 1
        if m.group(1) == "FAILED":
            failed.append(m.group(2))
    return counts, failed


def last_started_test(text):
    """The gtest test that was running when the output stops, or None."""
    running = None
    for line in text.splitlines():
        m = re.search(r"\[ RUN      \] (\S+)", line)
        if m:
            running = m.group(1)
            continue
        m = re.search(r"\[ +(OK|FAILED|SKIPPED) +\] (\S+)", line)
        if m and m.group(2) == running:
            running = None
    return running


# The run header the harness prints (tests/harness/tcpsem_main.cc):
# "tcpsem: kernel 6.1.192 (from uname -v: Debian 6.1.192-3), release ...".
HEADER = re.compile(r"tcpsem: kernel (\d+\.\d+\.\d+) \(from ([^)]*)\)")


def upstream_kernel(files, console):
    """(upstream version, its source) as the suite resolved it: from the run
    header in suite.log (or the console's mirror of it), else from the
    record's kernel.upstream; (None, None) when neither says."""
    for text in (files.get("suite.log", b"").decode("utf-8", "replace"),
                 console):
        m = HEADER.search(text)
        if m:
            return m.group(1), m.group(2)
    try:
        kernel = json.loads(files.get("record.json", b"")).get("kernel", {})
        if kernel.get("upstream"):
            return kernel["upstream"], kernel.get("upstream_source")
    except (ValueError, AttributeError):
        pass
    return None, None


def describe(counts):
    if not counts:
        return "no results"
    parts = ["%d %s" % (counts[k], k.replace("_", " "))
             for k in ("failed", "hung", "crashed", "not_run") if counts.get(k)]
    return ", ".join(parts) if parts else "%d passed" % counts["passed"]


def to_float(value):
    try:
        return float(value)
    except (TypeError, ValueError):
        return None


def judge(args):
    raw = b""
    if os.path.exists(args.raw):
        with open(args.raw, "rb") as f:
            raw = f.read()
    console = ""
    if os.path.exists(args.console):
        with open(args.console, "rb") as f:
            console = f.read().decode("utf-8", "replace")

    files, errors, done = parse_frames(raw)
    os.makedirs(args.outdir, exist_ok=True)
    for name, data in files.items():
        with open(os.path.join(args.outdir, name), "wb") as f:
            f.write(data)

    meta = parse_meta(files.get("meta.txt", b""))
    upstream, upstream_source = upstream_kernel(files, console)
    summary = {
        "label": args.label,
        "kernel_release": meta.get("kernel_release") or args.release or None,
        "kernel_version": meta.get("kernel_version"),
        "kernel_upstream": upstream,
        "kernel_upstream_source": upstream_source,
        "package": args.package or None,
        "accel": args.accel,
        "wall_s": round(args.wall, 1),
        "boot_s": None, "suite_s": None,
        "tracefs": meta.get("tracefs"),
        "tcp_send_reset": meta.get("tcp_send_reset"),
        "tcp_send_reset_reason": meta.get("tcp_send_reset_reason"),
        "modules_loaded": meta.get("modules_loaded", ""),
        "counts": None, "failed_tests": [],
        "channel_errors": errors,
        "verdict": None, "reason": "",
        "console_log": os.path.abspath(args.console),
    }
    boot = to_float(meta.get("boot_uptime"))
    s0 = to_float(meta.get("suite_start_uptime"))
    s1 = to_float(meta.get("suite_end_uptime"))
    summary["boot_s"] = round(boot, 1) if boot is not None else None
    if s0 is not None and s1 is not None:
        summary["suite_s"] = round(s1 - s0, 1)

    panic = re.search(r"Kernel panic - not syncing:[^\n]*", console)
    status = meta.get("status")

    def verdict(v, reason):
        summary["verdict"], summary["reason"] = v, reason

    if not done or "meta.txt" not in files:
        stuck = last_started_test(console)
        where = "; last test started: %s" % stuck if stuck else ""
        # What finished, as far as the console shows it.
        counts, failed_names = console_counts(console)
        if counts["tests"]:
            if stuck:
                counts["hung"] += 1
                counts["tests"] += 1
                summary["hung_tests"] = [stuck]
            counts["not_run"] = None  # unknown: the list never came back
            summary["counts"] = counts
            summary["failed_tests"] = failed_names
            summary["counts_source"] = "console"
        if panic:
            verdict("panicked", panic.group(0).strip() + where)
        elif args.timed_out:
            verdict("hung", "no result after %ss (guest timeout)%s"
                    % (args.timeout, where))
        elif errors:
            verdict("crashed", "result channel incomplete: " + errors[0])
        else:
            verdict("crashed", "QEMU exited (rc %s) before the guest reported"
                    % args.qemu_rc)
    elif status == "missing-feature":
        verdict("not-run", "kernel lacks: " + meta.get("missing", "?"))
    elif errors:
        verdict("failed", "result channel corrupt: " + "; ".join(errors))
    elif status == "suite-timeout" and "journal.jsonl" not in files:
        stuck = last_started_test(files.get("suite.log", b"").decode(
            "utf-8", "replace"))
        verdict("hung", "suite did not finish within %ss inside the guest%s"
                % (meta.get("suite_timeout", "?"),
                   "; last test started: %s" % stuck if stuck else ""))
    elif "results.json" in files or "journal.jsonl" in files:
        try:
            if "results.json" in files:
                counts, failed_names, hung_names = results_counts(
                    files["results.json"])
                summary["counts_source"] = "results.json"
            else:
                counts, failed_names, hung_names, record = journal_counts(
                    files["journal.jsonl"], files.get("tests.txt", b""))
                summary["counts_source"] = "journal.jsonl"
                if record is not None and "record.json" not in files:
                    with open(os.path.join(args.outdir, "record.json"),
                              "w") as f:
                        json.dump(record, f, indent=1)
                        f.write("\n")
            summary["counts"] = counts
            summary["failed_tests"] = failed_names
            summary["hung_tests"] = hung_names
        except (ValueError, KeyError) as e:
            counts = None
            verdict("failed", "unreadable results: %s" % e)
        rc = meta.get("suite_rc")
        if summary["verdict"]:
            pass
        elif status == "suite-timeout":
            verdict("failed", "the watchdog did not finish within %ss; "
                    "%s" % (meta.get("suite_timeout", "?"),
                            describe(counts)))
        elif counts["tests"] == 0:
            verdict("failed", "the suite ran no test (exit %s)" % rc)
        elif any(counts[k] for k in ("failed",) + UNFINISHED):
            verdict("failed", describe(counts))
        elif rc != "0":
            verdict("failed", "suite exited %s" % rc)
        else:
            verdict("passed", "")
    else:
        if "gtest.json" in files:
            try:
                counts, failed_names = gtest_counts(files["gtest.json"])
                summary["counts"] = counts
                summary["failed_tests"] = failed_names
            except (ValueError, KeyError) as e:
                verdict("failed", "unreadable gtest JSON: %s" % e)
        rc = meta.get("suite_rc")
        counts = summary["counts"]
        if summary["verdict"]:
            pass
        elif counts is None:
            verdict("failed", "suite exited %s without gtest JSON" % rc)
        elif counts["failed"]:
            verdict("failed", "%d test(s) failed" % counts["failed"])
        elif rc != "0":
            verdict("failed", "suite exited %s" % rc)
        elif counts["tests"] == 0:
            verdict("failed", "gtest ran no test")
        else:
            verdict("passed", "")
    with open(os.path.join(args.outdir, "summary.json"), "w") as f:
        json.dump(summary, f, indent=2, sort_keys=True)
        f.write("\n")
    return summary


def main(argv):
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--raw", required=True, help="the result channel file")
    p.add_argument("--console", required=True, help="the console log")
    p.add_argument("--outdir", required=True)
    p.add_argument("--label", required=True)
    p.add_argument("--package", default="")
    p.add_argument("--release", default="",
                   help="the kernel release as the host knows it (fallback)")
    p.add_argument("--accel", default="")
    p.add_argument("--qemu-rc", default="?")
    p.add_argument("--timed-out", type=int, default=0)
    p.add_argument("--timeout", default="?")
    p.add_argument("--wall", type=float, default=0.0)
    args = p.parse_args(argv)
    s = judge(args)
    print(json.dumps({"verdict": s["verdict"], "reason": s["reason"]}))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
