#!/usr/bin/env python3
"""Counts, per witness, the tests that asked it in one run of the suites.

Reads the JSON that `tcpsem_matrix --gtest_output=json:FILE` writes: every
scenario test records witness.<name> = "asked" or "n/a: <why>"
(tests/harness/witness_registry.h). Tests that were skipped count apart.

  ci/witness-count.py run.json
"""
import collections
import json
import sys

WITNESSES = ["wire", "peer_api", "counters", "sock_diag", "reset_reason"]


def main(path):
    with open(path) as f:
        run = json.load(f)
    asked = collections.Counter()
    not_applicable = collections.Counter()
    ran = skipped = 0
    for suite in run["testsuites"]:
        for test in suite["testsuite"]:
            if test.get("result") == "SKIPPED" or test.get("status") != "RUN":
                skipped += 1
                continue
            ran += 1
            for witness in WITNESSES:
                use = test.get("witness." + witness)
                if use == "asked":
                    asked[witness] += 1
                elif use is not None:
                    not_applicable[witness] += 1
    print(f"tests run: {ran} (skipped or not run: {skipped})")
    print(f"{'witness':14} {'asked':>6} {'n/a':>6}")
    for witness in WITNESSES:
        print(f"{witness:14} {asked[witness]:6} {not_applicable[witness]:6}")


if __name__ == "__main__":
    if len(sys.argv) != 2:
        sys.exit(__doc__)
    main(sys.argv[1])
