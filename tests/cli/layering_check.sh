#!/bin/sh
# Keeps fixtures/ layered as README.md's "Layout" says: a file includes only
# its own folder and the folders listed before it, so data flows one way.
# Usage: layering_check.sh SOURCE_DIR
set -eu
cd "$1/fixtures"
layers="base isolation config witnesses staging peers rules reports gtest"
status=0
rank() {
  i=0
  for l in $layers; do
    [ "$l" = "$1" ] && { echo $i; return; }
    i=$((i + 1))
  done
  echo 99
}
for file in $(find . -name '*.h' -o -name '*.cc' | sort); do
  own=$(echo "$file" | cut -d/ -f2)
  own_rank=$(rank "$own")
  if [ "$own_rank" = 99 ]; then
    echo "fixtures/${file#./}: folder '$own' is not a layer ($layers)"
    status=1
    continue
  fi
  for used in $(sed -n 's|^#include "fixtures/\([a-z_]*\)/.*|\1|p' "$file" | sort -u); do
    if [ "$(rank "$used")" -gt "$own_rank" ]; then
      echo "fixtures/${file#./}: $own includes $used, a later layer"
      status=1
    fi
  done
done
[ $status -eq 0 ] && echo "layering: every include points to its own or an earlier layer"
exit $status
