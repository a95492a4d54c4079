#!/bin/sh
# Keeps fixtures/ layered as README.md's "Layout" says: a file includes only
# its own folder and the folders listed before it, so data flows one way.
# Usage: layering_check.sh SOURCE_DIR
# One awk over every file (not a process per file and include).
set -eu
cd "$1/fixtures"
layers="base isolation config witnesses staging peers rules reports gtest"
find . \( -name '*.h' -o -name '*.cc' \) | sort | xargs awk -v layers="$layers" '
  function folder(path, parts) { split(path, parts, "/"); return parts[2] }
  function rank(name) { return (name in ranks) ? ranks[name] : 99 }
  BEGIN {
    n = split(layers, names, " ")
    for (i = 1; i <= n; i++) ranks[names[i]] = i
    status = 0
    for (i = 1; i < ARGC; i++) {
      own = folder(ARGV[i])
      if (rank(own) == 99) {
        printf "fixtures/%s: folder '\''%s'\'' is not a layer (%s)\n", substr(ARGV[i], 3), own, layers
        status = 1
      }
    }
  }
  /^#include "fixtures\/[a-z_]*\// {
    own = folder(FILENAME)
    if (rank(own) == 99) next
    used = $0
    sub(/^#include "fixtures\//, "", used)
    sub(/\/.*/, "", used)
    if (rank(used) > rank(own) && !((FILENAME, used) in told)) {
      told[FILENAME, used] = 1
      printf "fixtures/%s: %s includes %s, a later layer\n", substr(FILENAME, 3), own, used
      status = 1
    }
  }
  END {
    if (status == 0) print "layering: every include points to its own or an earlier layer"
    exit status
  }' || exit 1
