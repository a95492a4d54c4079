#!/usr/bin/python3
"""Validates the LAVA files of ci/lava/ with lava-common's own schemas (the
ones lava-server and lava-run apply): the job definition (strict, as the
server does on submission), the QEMU device configuration and the test
definition (strict: no key LAVA does not know). Each schema is first shown
to reject a broken copy, so the check can fail.

Usage: lava_schema_check.py REPO
"""

import copy
import sys

import yaml
from voluptuous import Invalid, MultipleInvalid, Schema

try:
    from lava_common.schemas import validate as validate_job
    from lava_common.schemas.device import validate as validate_device
    from lava_common.schemas.test.testdef import testdef
except ImportError as exc:  # lava-common is in ci/install-deps.sh
    sys.exit(f"lava schema: lava-common is not installed ({exc})")


def validate_testdef(data):
    Schema(testdef())(data)


def check(name, validate, data, broken):
    try:
        validate(broken)
    except (Invalid, MultipleInvalid):
        pass
    else:
        print(f"lava schema: {name}: a broken copy was accepted")
        return False
    try:
        validate(data)
    except (Invalid, MultipleInvalid) as exc:
        print(f"lava schema: {name}: {exc}")
        return False
    print(f"lava schema: {name}: valid")
    return True


def main(repo):
    load = lambda p: yaml.safe_load(open(f"{repo}/ci/lava/{p}", encoding="utf-8"))
    job, device, testdef_data = (
        load("qemu-job.yaml"), load("qemu-device.yaml"), load("tcpsem.yaml"))
    broken_job = copy.deepcopy(job)
    del broken_job["actions"][0]["deploy"]["to"]
    broken_device = copy.deepcopy(device)
    del broken_device["actions"]["boot"]
    broken_testdef = copy.deepcopy(testdef_data)
    broken_testdef["run"]["step"] = broken_testdef["run"].pop("steps")
    ok = all([
        check("qemu-job.yaml", lambda d: validate_job(d, strict=True), job,
              broken_job),
        check("qemu-device.yaml", validate_device, device, broken_device),
        check("tcpsem.yaml", validate_testdef, testdef_data, broken_testdef),
    ])
    return 0 if ok else 1


if __name__ == "__main__":
    if len(sys.argv) != 2:
        sys.exit(__doc__)
    sys.exit(main(sys.argv[1]))
