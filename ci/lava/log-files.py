#!/usr/bin/python3
"""Reads a LAVA job log (YAML, as lava-run prints it or as `lavacli jobs logs
--raw JOB` fetches it from a server) and writes what tcpsem put in it:

  OUT_DIR/results.tsv   one line per LAVA test case: name, result
  OUT_DIR/<file>        each file ci/lava/tcpsem-run.sh framed into the log
                        (tcpsem.tap, record.json), checked against its size
                        and SHA-256

Usage: log-files.py JOB_LOG OUT_DIR. Exit 1 when a framed file is cut short
or does not match its checksum.
"""

import base64
import gzip
import hashlib
import os
import sys

import yaml


def main(log_path, out_dir):
    loader = getattr(yaml, "CSafeLoader", yaml.SafeLoader)
    os.makedirs(out_dir, exist_ok=True)
    cases = []
    lines = []
    with open(log_path, encoding="utf-8", errors="replace") as f:
        raw = f.readlines()
    # One flow mapping per line: "{dt: ..., lvl: ..., msg: ...}" as lava-run
    # prints it, "- {...}" as a server serves the log.
    for text in raw:
        text = text.strip()
        if text.startswith("- "):
            text = text[2:]
        if not text.startswith("{"):
            continue
        try:
            entry = yaml.load(text, Loader=loader)
        except yaml.YAMLError:
            continue
        if not isinstance(entry, dict):
            continue
        msg = entry.get("msg")
        if entry.get("lvl") == "results" and isinstance(msg, dict):
            if msg.get("definition") != "lava":
                cases.append((str(msg.get("case")), str(msg.get("result"))))
        elif entry.get("lvl") == "target" and isinstance(msg, str):
            lines.append(msg.strip())
    with open(os.path.join(out_dir, "results.tsv"), "w", encoding="utf-8") as f:
        for name, result in cases:
            f.write(f"{name}\t{result}\n")
    status = 0
    current = None
    for line in lines:
        if line.startswith("TCPSEM-FILE-BEGIN "):
            _, name, size, digest = line.split()
            current = (os.path.basename(name), int(size), digest, [])
        elif line.startswith("TCPSEM-FILE-END ") and current:
            name, size, digest, chunks = current
            data = gzip.decompress(base64.b64decode("".join(chunks)))
            if len(data) != size or hashlib.sha256(data).hexdigest() != digest:
                print(f"log-files: {name}: {len(data)} bytes, checksum mismatch "
                      f"(framed as {size} bytes)", file=sys.stderr)
                status = 1
            else:
                with open(os.path.join(out_dir, name), "wb") as f:
                    f.write(data)
            current = None
        elif current:
            current[3].append(line)
    if current:
        print(f"log-files: {current[0]}: cut short (no TCPSEM-FILE-END)",
              file=sys.stderr)
        status = 1
    return status


if __name__ == "__main__":
    if len(sys.argv) != 3:
        sys.exit(__doc__)
    sys.exit(main(sys.argv[1], sys.argv[2]))
