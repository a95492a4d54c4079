#!/usr/bin/env bash
# Runs the tcpsem LAVA job end to end on this machine with the real LAVA
# dispatcher (Debian's lava-dispatcher, `lava-run`), a QEMU device under TCG
# (ci/lava/qemu-device.yaml) and a Debian rootfs built from the archive with
# the tcpsem .deb inside (ci/lava/build-rootfs.sh). Then checks what LAVA
# reported:
#   1. the whole suite: every test the suite lists is one LAVA test case,
#      nothing else is, each case's result is the suite's own TAP verdict
#      (ok -> pass, SKIP -> skip, not ok -> fail), and the suite verdict
#      (tcpsem-suite) is fail exactly when a case failed (what fails on the
#      guest's kernel is that kernel's behaviour, listed, not a LAVA error);
#   2. one test forced to fail (--tcpsem_inject_drain_fault on a filter of an
#      RST cell and a FIN cell): the RST cell is `fail`, the FIN cell `pass`,
#      and the suite verdict `fail`.
# Heavy (a Debian bootstrap, two TCG guests): not part of .ci/run.
#
#   ci/lava-local.sh [--kernel-package PKG] [--no-install] [--check-only]
#
# --check-only: no jobs, only the checks, on the outputs of the last run.
# Uses the build in ${TCPSEM_BUILD_DIR:-build} (cpack -G DEB there) and
# commits HEAD as the test definition's revision: LAVA clones the repository,
# so uncommitted changes to ci/lava/ are not what runs. Output:
# <build>/lava/{pass,fail}/ (job log, results.tsv, the guest's TAP and record).
# Exit 0 when both checks hold.
set -euo pipefail
repo=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
build=$(readlink -f "${TCPSEM_BUILD_DIR:-$repo/build}")
kernel_package=linux-image-cloud-amd64
install=1
check_only=0
while (($#)); do
  case $1 in
    --check-only) check_only=1; shift ;;
    --kernel-package) kernel_package=${2:?}; shift 2 ;;
    --no-install) install=0; shift ;;
    *) echo "lava-local: unknown argument $1" >&2; exit 64 ;;
  esac
done
log() { printf 'lava-local: %s\n' "$*" >&2; }
die() { printf 'lava-local: error: %s\n' "$*" >&2; exit 1; }

needed=(lava-dispatcher lava-common mmdebstrap git cpio qemu-system-x86)
((check_only)) && needed=()
missing=()
for p in "${needed[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'ok installed' || missing+=("$p")
done
if ((${#missing[@]})); then
  ((install)) || die "missing packages: ${missing[*]}"
  log "installing ${missing[*]}"
  DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends "${missing[@]}" >/dev/null
fi

out=$build/lava
mkdir -p -m 0700 "$out"
if ((!check_only)); then
log "packaging tcpsem (cpack -G DEB in $build)"
(cd "$build" && cpack -G DEB >"$out/cpack.log" 2>&1) || die "cpack failed: see $out/cpack.log"
deb=$(ls -t "$build"/tcpsem_*.deb | head -n 1)
start=$(date +%s)
log "building the rootfs with $(basename "$deb") and $kernel_package"
"$repo/ci/lava/build-rootfs.sh" "$deb" "$out/images" "$kernel_package" >"$out/rootfs.log" 2>&1 ||
  die "rootfs build failed: see $out/rootfs.log"
log "$(tail -n 1 "$out/rootfs.log") in $(($(date +%s) - start)) s"
fi
revision=$(git -C "$repo" rev-parse HEAD)

run_job() {  # run_job NAME FILTER ARGS: writes $out/NAME/{job.yaml,job.log,...}
  local name=$1 filter=$2 args=$3 dir=$out/$1
  if ((check_only)); then
    /usr/bin/python3 "$repo/ci/lava/log-files.py" "$dir/job.log" "$dir" ||
      die "$name: the job log's files are damaged"
    return
  fi
  rm -rf "$dir"
  mkdir -p "$dir"
  /usr/bin/python3 - "$repo/ci/lava/qemu-job.yaml" "$dir/job.yaml" "$out/images" \
    "$repo" "$revision" "$filter" "$args" "$name" <<'EOF'
import sys, yaml
src, dst, images, repo, revision, flt, args, name = sys.argv[1:]
job = yaml.safe_load(open(src))
job["job_name"] += f" ({name}, local)"
deploy = job["actions"][0]["deploy"]["images"]
deploy["kernel"]["url"] = f"file://{images}/vmlinuz"
deploy["initrd"]["url"] = f"file://{images}/rootfs.cpio.gz"
test = job["actions"][2]["test"]["definitions"][0]
test.update(repository=repo, revision=revision)
test["parameters"].update(TCPSEM_FILTER=flt, TCPSEM_ARGS=args)
yaml.safe_dump(job, open(dst, "w"), sort_keys=False)
EOF
  local t0
  t0=$(date +%s)
  log "$name: lava-run (filter '$filter'${args:+, $args})"
  set +e
  lava-run --job-id "$name" --output-dir "$dir/output" \
    --device "$repo/ci/lava/qemu-device.yaml" "$dir/job.yaml" >"$dir/job.log" 2>&1
  local rc=$?
  set -e
  log "$name: lava-run exited $rc after $(($(date +%s) - t0)) s"
  /usr/bin/python3 "$repo/ci/lava/log-files.py" "$dir/job.log" "$dir" ||
    die "$name: the job log's files are damaged"
  grep -E "Job finished correctly|lvl\": \"(error|exception)" "$dir/job.log" | head -n 5 >&2 || true
  [ "$rc" -eq 0 ] || die "$name: lava-run failed (exit $rc): see $dir/job.log"
  [ -f "$dir/tcpsem.tap" ] || die "$name: no TAP came back in the job log"
}

# Each TAP line as "name<TAB>pass|skip|fail", the way tcpsem-run.sh maps it.
tap_verdicts() {
  sed -n -E 's/^(not ok|ok) [0-9]+ ([^#]*[^ #])( # SKIP.*)?$/\1\t\2\t\3/p' "$1" |
    awk -F'\t' '{ print $2 "\t" ($3 != "" ? "skip" : ($1 == "ok" ? "pass" : "fail")) }' | sort
}
# The tests the suite lists for a filter, as "Suite.Name" lines.
listed() {
  "$build/tests/tcpsem_matrix" --gtest_list_tests --gtest_filter="$1" |
    awk '/^[^ ]/ { suite = $1; next } { print suite $1 }' | sort
}

status=0
check() {  # check DESCRIPTION COMMAND...
  local what=$1
  shift
  if "$@"; then log "ok: $what"; else log "FAILED: $what"; status=1; fi
}
same_names() { diff <(cut -f1 "$1") "$2" >/dev/null; }
same_results() { diff "$1" "$2" >/dev/null; }
none_fail() { ! cut -f2 "$1" | grep -qx fail; }
result_is() { grep -qxF "$2	$3" "$1"; }

# 1. The whole suite.
run_job pass '*' ''
grep -v '^tcpsem-suite	' "$out/pass/results.tsv" | sort >"$out/pass/cases.tsv"
listed '*' >"$out/pass/listed.txt"
tap_verdicts "$out/pass/tcpsem.tap" >"$out/pass/tap.tsv"
log "pass: $(wc -l <"$out/pass/listed.txt") tests listed, $(wc -l <"$out/pass/cases.tsv") LAVA cases: $(cut -f2 "$out/pass/cases.tsv" | sort | uniq -c | tr -s ' \n' ' ')"
check "every listed test is exactly one LAVA case" same_names "$out/pass/cases.tsv" "$out/pass/listed.txt"
check "every LAVA result is the suite's TAP verdict" same_results "$out/pass/cases.tsv" "$out/pass/tap.tsv"
if none_fail "$out/pass/cases.tsv"; then
  check "the suite verdict is pass" result_is "$out/pass/results.tsv" tcpsem-suite pass
else
  log "pass: failed on kernel $(cat "$out/images/kernel-release"): $(grep -P '\tfail$' "$out/pass/cases.tsv" | cut -f1 | tr '\n' ' ')"
  check "the suite verdict is fail, as a case failed" result_is "$out/pass/results.tsv" tcpsem-suite fail
fi

# 2. One test forced to fail: the drain fault turns the RST of an unread
# byte into a FIN (RFC 2525 2.17 violated), while the FIN cell is unchanged.
rst_cell='Rfc2525/CloseMatrixTest.AgreesWithRuleTable/V4_Unread1_LingerOff_NoShutdown_PeerOpen'
fin_cell='Rfc2525/CloseMatrixTest.AgreesWithRuleTable/V4_Unread0_LingerOff_NoShutdown_PeerOpen'
run_job fail "$rst_cell:$fin_cell" --tcpsem_inject_drain_fault
log "fail: $(tr '\t\n' '= ' <"$out/fail/results.tsv")"
check "the forced failure is a LAVA fail" result_is "$out/fail/results.tsv" "$rst_cell" fail
check "the untouched test still passes" result_is "$out/fail/results.tsv" "$fin_cell" pass
check "the suite verdict is fail" result_is "$out/fail/results.tsv" tcpsem-suite fail
check "exactly three cases" test "$(wc -l <"$out/fail/results.tsv")" -eq 3

((status == 0)) && log "LAVA end to end: both runs as expected" || log "LAVA end to end: FAILED"
exit $status
