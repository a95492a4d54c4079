#!/usr/bin/env python3
"""Compare N tcpsem records (one per kernel) and print a Markdown table.

Usage: compare.py [--title TEXT] RECORD [RECORD ...]

Each RECORD is a path to a record JSON written by the suite
(`--tcpsem_record=<path>`), optionally prefixed with a column label:
`6.1=/tmp/a.json`. Without a label the column is named after the record's
upstream kernel version (kernel.upstream, schema tcpsem-record/2), else its
kernel.release.

When every column is an upstream version (x.y.z), the columns are put in
version order and each pattern of differences says, per behaviour, the first
and last version showing it ("FIN on 6.1.170..6.1.192; RST on
6.12.100..6.12.117"; a behaviour that comes back after another is listed as
several runs).

A record looks like
    {"kernel": {"release": "6.1.0-56-cloud-amd64", ...},
     "cells": [{"name": "V4_Unread1_LingerOff_NoShutdown_PeerOpen",
                "witnesses": {"wire.close": "RST", ...}, ...}, ...]}

The table has one row per scenario and witness whose observed value is not the
same on every kernel, then a short list of the patterns (the same change across
many scenarios counted once).

"Changed" means what it means to tcpsem_diff (fixtures/reports/record_diff.cc,
DiffRecords), so the two never disagree: witness values are strings compared
exactly; a witness a cell does not report is "(absent)" and a difference,
unless the cell says its kernel cannot observe it (schema 2's "unobservable",
or "reset_reasons_unavailable" for reset.reasons on a kernel whose
tcp_send_reset tracepoint has no `reason` field): then it is "(not
observable)", only the kernels that report it are compared, and it is listed
under the table. A cell that a kernel did not run at all is
"(no cell)" and a difference. Scripted-peer tests (cells of kind "scripted",
schema tcpsem-record/2) are compared like the matrix's cells; so are the
scenario suites' tests (kind "scenario"), whose verdict is compared as a
witness "verdict" as well.
test_kernel_matrix.py checks the agreement against the tcpsem_diff binary
when it has been built.

stdlib only. Exit status: 0 when no scenario differs, 1 when some do, 2 on bad
input (a missing file, not JSON, not a record).
"""

import collections
import json
import re
import sys

NO_CELL = "(no cell)"
UNFINISHED = ("hung", "crashed", "not_run")
ABSENT = "(absent)"
UNOBSERVABLE = "(not observable)"


class BadInput(Exception):
    pass


def load(arg):
    label, sep, path = arg.partition("=")
    if not sep or "/" in label:  # a plain path (which may contain '=')
        label, path = None, arg
    try:
        with open(path, encoding="utf-8") as f:
            doc = json.load(f)
    except OSError as e:
        raise BadInput("%s: cannot read: %s" % (path, e.strerror))
    except ValueError as e:
        raise BadInput("%s: not JSON: %s" % (path, e))
    if not isinstance(doc, dict) or not isinstance(doc.get("cells"), list):
        raise BadInput("%s: not a tcpsem record (no \"cells\" list)" % path)
    kernel = doc.get("kernel") if isinstance(doc.get("kernel"), dict) else {}
    if label is None:
        label = str(kernel.get("upstream") or kernel.get("release") or path)
    cells = {}
    for i, cell in enumerate(doc["cells"]):
        if not isinstance(cell, dict) or not isinstance(cell.get("name"), str):
            raise BadInput("%s: cells[%d] has no name" % (path, i))
        witnesses = cell.get("witnesses", {})
        if not isinstance(witnesses, dict):
            raise BadInput("%s: cells[%d] (%s): witnesses is not an object"
                           % (path, i, cell["name"]))
        for witness, value in witnesses.items():
            if not isinstance(value, str):  # tcpsem_diff refuses it too
                raise BadInput("%s: cells[%d] (%s): witness %s is not a string"
                               % (path, i, cell["name"], witness))
        if cell["name"] in cells:
            raise BadInput("%s: cell %s appears twice" % (path, cell["name"]))
        # A cell whose test hung, crashed or never ran (tools/tcpsem_run) has
        # no witnesses; its "run" witness makes it a difference of its own.
        verdict = cell.get("verdict")
        witnesses = dict(witnesses,
                         run=verdict if verdict in UNFINISHED else "finished")
        # A scenario test's witnesses are only its EXPECT_WITNESS calls: its
        # verdict is compared too (record_diff.h, kVerdictWitness).
        if cell.get("kind") == "scenario" and verdict not in UNFINISHED:
            witnesses["verdict"] = verdict
        # Witnesses the record says this kernel cannot observe (schema 2's
        # "unobservable", the matrix's reset-reason note).
        unobservable = cell.get("unobservable")
        declared = set(unobservable) if isinstance(unobservable, dict) else set()
        if cell.get("reset_reasons_unavailable"):
            declared.add("reset.reasons")
        for witness in declared - set(witnesses):
            witnesses[witness] = UNOBSERVABLE
        cells[cell["name"]] = witnesses
    return label, cells


def version_key(label):
    """(major, minor, patch) of a label that is an upstream version, else
    None."""
    m = re.fullmatch(r"(\d+)\.(\d+)(?:\.(\d+))?", label)
    return (int(m.group(1)), int(m.group(2)), int(m.group(3) or 0)) if m else None


def runs(labels, values):
    """{value: [(first label, last label), ...]}: the consecutive runs of
    columns (in column order) showing each value."""
    out = collections.OrderedDict()
    for i, value in enumerate(values):
        spans = out.setdefault(value, [])
        if i > 0 and values[i - 1] == value:
            spans[-1] = (spans[-1][0], labels[i])
        else:
            spans.append((labels[i], labels[i]))
    return out


def describe_runs(labels, values):
    parts = []
    for value, spans in runs(labels, values).items():
        parts.append("%s on %s" % (value, ", ".join(
            a if a == b else "%s..%s" % (a, b) for a, b in spans)))
    return "; ".join(parts)


def show(value):
    return value.replace("|", "\\|").replace("\n", " ")


def lookup(witnesses, witness):
    """The value of `witness`, UNOBSERVABLE when the cell declares it or its
    family unobservable ("reset reason" covers "reset reason: from port" and
    "reset reason #2", as scenario_record.h's UnobservableKeyCovers), else
    ABSENT."""
    if witness in witnesses:
        return witnesses[witness]
    for key, value in witnesses.items():
        if value == UNOBSERVABLE and (witness.startswith(key + ":") or
                                      witness.startswith(key + " #")):
            return UNOBSERVABLE
    return ABSENT


def compare(records):
    """records: [(label, {scenario: {witness: value}})] -> (scenarios, rows,
    absent).

    Each row is (scenario, witness, [value per record]); only rows whose values
    differ are returned, sorted by scenario then witness. absent counts, per
    (witness, record index), the cells where that record did not report it.
    """
    scenarios = sorted(set().union(*(cells.keys() for _, cells in records)))
    rows = []
    absent = collections.Counter()
    for scenario in scenarios:
        per_kernel = [cells.get(scenario) for _, cells in records]
        witnesses = sorted(set().union(
            *(w.keys() for w in per_kernel if w is not None)))
        missing_somewhere = any(w is None for w in per_kernel)
        for witness in witnesses:
            values = [NO_CELL if w is None else lookup(w, witness)
                      for w in per_kernel]
            for i, w in enumerate(per_kernel):
                if w is not None and lookup(w, witness) == UNOBSERVABLE:
                    absent[(witness, i)] += 1
            reported = [v for v in values if v != UNOBSERVABLE]
            if len(set(reported)) > 1:
                rows.append((scenario, witness, values))
        if missing_somewhere and not witnesses:
            rows.append((scenario, "(cell)",
                         [NO_CELL if w is None else "(ran)" for w in per_kernel]))
    return scenarios, rows, absent


def render(records, title=None):
    by_version = all(version_key(label) for label, _ in records)
    if by_version:
        records = sorted(records, key=lambda r: version_key(r[0]))
    labels = [label for label, _ in records]
    # Same label twice (two records of one kernel): number them.
    seen = collections.Counter(labels)
    if any(n > 1 for n in seen.values()):
        count = collections.Counter()
        for i, label in enumerate(labels):
            if seen[label] > 1:
                count[label] += 1
                labels[i] = "%s #%d" % (label, count[label])
    scenarios, rows, absent = compare(records)
    out = []
    if title:
        out += ["## " + title, ""]
    notes = []
    for (witness, i), n in sorted(absent.items()):
        notes.append("- `%s` not observable on %s in %d cell(s)"
                     % (witness, labels[i], n))
    if notes:
        notes = ["", "Witnesses some kernels cannot observe (not counted as "
                 "differences):", ""] + notes
    if not rows:
        out.append("No scenario differs between the %d record(s) (%s); "
                   "%d scenario(s) compared."
                   % (len(records), ", ".join(labels), len(scenarios)))
        return "\n".join(out + notes) + "\n", 0
    differing = sorted({r[0] for r in rows})
    out.append("%d of %d scenario(s) differ between %s (%d witness value(s)):"
               % (len(differing), len(scenarios), ", ".join(labels), len(rows)))
    out.append("")
    out.append("| scenario | witness | " + " | ".join(show(l) for l in labels)
               + " |")
    out.append("|---|---|" + "---|" * len(labels))
    for scenario, witness, values in rows:
        out.append("| %s | %s | %s |" % (show(scenario), show(witness),
                                         " | ".join(show(v) for v in values)))
    patterns = collections.Counter(
        (witness, tuple(show(v) for v in values))
        for _, witness, values in rows)
    out.append("")
    out.append("Patterns (same change across scenarios):")
    out.append("")
    for (witness, values), n in sorted(patterns.items(),
                                       key=lambda kv: (-kv[1], kv[0])):
        change = " / ".join("%s: %s" % (l, v) for l, v in zip(labels, values))
        out.append("- %d scenario(s): `%s` %s" % (n, witness, change))
    if by_version:
        out += ["", "First and last version showing each behaviour:", ""]
        for (witness, values), n in sorted(patterns.items(),
                                           key=lambda kv: (-kv[1], kv[0])):
            out.append("- %d scenario(s): `%s`: %s"
                       % (n, witness, describe_runs(labels, list(values))))
    return "\n".join(out + notes) + "\n", 1


def main(argv):
    title = None
    args = list(argv)
    while args[:1] == ["--title"]:
        if len(args) < 2:
            print("compare.py: --title needs a value", file=sys.stderr)
            return 2
        title, args = args[1], args[2:]
    if not args or args[0] in ("-h", "--help"):
        print(__doc__.strip(), file=sys.stderr if not args else sys.stdout)
        return 2 if not args else 0
    try:
        records = [load(a) for a in args]
    except BadInput as e:
        print("compare.py: %s" % e, file=sys.stderr)
        return 2
    text, status = render(records, title)
    sys.stdout.write(text)
    return status


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
