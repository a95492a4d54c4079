#!/usr/bin/env bash
# Puts back host-wide sysctls that a killed tcpsem run left changed: replays
# every /tmp/tcpsem-global-restore-<pid> (sysctl.d syntax, written before the
# change) whose process is gone. A run that ends normally restores by itself.
set -euo pipefail
for record in /tmp/tcpsem-global-restore-*; do
  [ -e "$record" ] || continue
  # /tmp is world-writable: replay only a regular file of our own.
  if [ -L "$record" ] || [ ! -f "$record" ] || [ ! -O "$record" ]; then
    echo "tcpsem: ignoring $record (not a regular file owned by $(id -un))" >&2
    continue
  fi
  pid="${record##*-}"
  if kill -0 "$pid" 2>/dev/null; then continue; fi
  echo "tcpsem: restoring host sysctls left by pid $pid from $record"
  sysctl -q -p "$record"
  rm -f "$record"
done
