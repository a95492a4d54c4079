#!/usr/bin/env bash
# Installs the Debian 12 packages tcpsem builds and runs with. Idempotent:
# does nothing when everything is present. Needs root (apt-get).
set -euo pipefail

packages=(
  cmake g++ make pkg-config            # build
  libgtest-dev libgmock-dev googletest # GoogleTest, GoogleMock
  libabsl-dev                          # abseil
  libpcap-dev                          # the wire witness
  libmnl-dev                           # the sock_diag witness
  nlohmann-json3-dev                   # the record's JSON (fixtures/reports)
  libbenchmark-dev                     # bench/
  clang-format                         # the tree is kept formatted
  iproute2                             # ip, for ci/host-untouched.sh
  procps                               # sysctl, for ci/restore-global-sysctls.sh
  python3-tap                          # tests/cli/tap_parse_check.py
  lava-common                          # tests/cli/lava_schema_check.py
  nlohmann-json3-dev                   # the run journal (tools/tcpsem_run)
)

missing=()
for p in "${packages[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" \
    || missing+=("$p")
done
if [ ${#missing[@]} -eq 0 ]; then
  exit 0
fi
if [ "$(id -u)" -ne 0 ]; then
  echo "tcpsem: missing packages ${missing[*]}; run this script as root" >&2
  exit 1
fi
echo "tcpsem: installing ${missing[*]}"
export DEBIAN_FRONTEND=noninteractive
apt-get update -qq
apt-get install -y -qq --no-install-recommends "${missing[@]}"
