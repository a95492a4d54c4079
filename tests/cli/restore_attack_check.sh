#!/usr/bin/env bash
# Plays a local user who wants root to apply sysctls of their choosing
# through the restore records: plants one kind of hostile record (or record
# directory) and checks that `tcpsem_sysctl --restore` refuses it with one
# line naming the file and why, exits 1, and applies nothing. Never touches
# the host: the tool writes into a scratch tree standing in for /proc/sys
# (--proc-sys), and the records live in a scratch directory (--dir).
#
#   restore_attack_check.sh TOOL SCRATCH CASE
set -euo pipefail
tool=$1 scratch=$2 case=$3
work="$scratch/$case"
rm -rf "$work"
mkdir -p "$work/proc/net/ipv4"
records="$work/records"
mkdir -m 0700 "$records"
proc="$work/proc"
orphans="$proc/net/ipv4/tcp_max_orphans"
fin="$proc/net/ipv4/tcp_fin_timeout"
echo 4096 >"$orphans"
echo 60 >"$fin"
# A pid that is surely gone: a child that has exited.
dead=$(sh -c 'echo $$')
record="$records/global-restore-$dead"
nobody=$(id -u nobody)

good() {  # good PATH: a record as tcpsem writes it
  printf '# tcpsem\nnet.ipv4.tcp_max_orphans = 65536\n' >"$1"
  chmod 0600 "$1"
}

expect_refused() {  # expect_refused REGEX
  local out err status=0
  out=$(timeout 20 "$tool" --restore --dir="$records" --proc-sys="$proc" \
        2>"$work/stderr") || status=$?
  err=$(cat "$work/stderr")
  if [ "$status" -ne 1 ]; then
    echo "FAIL: exit status $status, expected 1 (stdout: $out; stderr: $err)"; exit 1
  fi
  if [ "$(printf '%s\n' "$err" | wc -l)" -ne 1 ] || ! grep -Eq -- "$1" <<<"$err"; then
    echo "FAIL: expected one line matching /$1/, got: $err"; exit 1
  fi
  if [ "$(cat "$orphans")" != 4096 ] || [ "$(cat "$fin")" != 60 ]; then
    echo "FAIL: a value was applied: tcp_max_orphans=$(cat "$orphans") tcp_fin_timeout=$(cat "$fin")"; exit 1
  fi
  echo "ok: refused, nothing applied: $err"
}

case "$case" in
  planted_by_other_user)
    good "$record"; chown "$nobody" "$record"
    expect_refused "^tcpsem: refused $record: owned by uid $nobody, not 0\$" ;;
  world_writable)
    good "$record"; chmod 0666 "$record"
    expect_refused "^tcpsem: refused $record: mode 0666 is writable by group or others\$" ;;
  symlink)
    good "$work/elsewhere"; ln -s "$work/elsewhere" "$record"
    expect_refused "^tcpsem: refused $record: a symbolic link\$" ;;
  hard_link)
    good "$work/elsewhere"; ln "$work/elsewhere" "$record"
    expect_refused "^tcpsem: refused $record: has 2 links, not 1\$" ;;
  fifo)
    mkfifo -m 0600 "$record"
    expect_refused "^tcpsem: refused $record: not a regular file\$" ;;
  directory)
    mkdir -m 0700 "$record"
    expect_refused "^tcpsem: refused $record: not a regular file\$" ;;
  key_not_on_list)
    printf 'net.ipv4.tcp_fin_timeout = 7\n' >"$record"; chmod 0600 "$record"
    expect_refused "^tcpsem: refused .*/${record#$work/}:1: net.ipv4.tcp_fin_timeout is not on the list of global keys" ;;
  key_outside_net)
    printf 'kernel.core_pattern = |/tmp/evil\n' >"$record"; chmod 0600 "$record"
    expect_refused "^tcpsem: refused .*/${record#$work/}:1: kernel.core_pattern is not on the list of global keys" ;;
  malformed)
    printf 'net.ipv4.tcp_max_orphans 7\n' >"$record"; chmod 0600 "$record"
    expect_refused "^tcpsem: refused .*/${record#$work/}:1: not an assignment" ;;
  one_bad_spoils_all)
    good "$record"
    other="$records/global-restore-$(sh -c 'echo $$')"
    printf 'net.ipv4.tcp_fin_timeout = 7\n' >"$other"; chmod 0600 "$other"
    expect_refused "^tcpsem: refused .*/${other#$work/}:1: net.ipv4.tcp_fin_timeout is not on the list" ;;
  dir_owned_by_other_user)
    chown "$nobody" "$records"; good "$record"
    expect_refused "^tcpsem: refused $records: owned by uid $nobody, not 0\$" ;;
  dir_open_to_others)
    chmod 0777 "$records"; good "$record"
    expect_refused "^tcpsem: refused $records: mode 0777 lets others in \(0077 must be clear\)\$" ;;
  dir_symlink)
    mv "$records" "$work/real"; ln -s "$work/real" "$records"; good "$work/real/global-restore-$dead"
    expect_refused "^tcpsem: refused $records: a symbolic link, not a directory\$" ;;
  trusted_record_applied)
    # The control: a record as tcpsem writes it is applied and removed.
    good "$record"
    "$tool" --restore --dir="$records" --proc-sys="$proc"
    [ "$(cat "$orphans")" = 65536 ] || { echo "FAIL: not applied: $(cat "$orphans")"; exit 1; }
    [ ! -e "$record" ] || { echo "FAIL: record left behind"; exit 1; }
    echo "ok: applied and removed" ;;
  live_process_left)
    record="$records/global-restore-$$"; good "$record"
    "$tool" --restore --dir="$records" --proc-sys="$proc"
    [ "$(cat "$orphans")" = 4096 ] && [ -e "$record" ] || { echo "FAIL: a live run's record was replayed"; exit 1; }
    echo "ok: left alone" ;;
  *) echo "unknown case $case"; exit 2 ;;
esac
rm -rf "$work"
