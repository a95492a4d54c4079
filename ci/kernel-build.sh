#!/usr/bin/env bash
# Kernel build: a lean kernel for the kernel matrix, from a Linux source tree,
# with optional patches (e.g. a teardown regression) and the repo's config
# fragment. Its output goes straight to ci/kernel-matrix.sh --kernel.
#
# Usage: ci/kernel-build.sh [options]
#
#   --source PATH     a Linux source tree (directory) or tarball (.tar.xz,
#                     .tar.gz); default /usr/src/linux-source-6.12.tar.xz,
#                     Debian's linux-source-6.12 (installed when missing)
#   --patch FILE      a patch (-p1) to apply on top (repeatable, in order)
#   --config FILE     config fragment merged onto tinyconfig (repeatable;
#                     default ci/kernel-config/tcpsem.config)
#   --name NAME       label of this build (default: "stock", or the names of
#                     the patches); the release is <version>-tcpsem-<NAME>
#   --out DIR         where builds go (default ${TCPSEM_BUILD_DIR:-<repo>/build}/kernel-build);
#                     one shared source and object tree (so a rebuild after
#                     a patch recompiles only what the patch touches), and
#                     DIR/<NAME>/{vmlinuz,lib/modules/<release>} per build
#   --cache DIR       unpacked source tarballs (default
#                     ${XDG_CACHE_HOME:-$HOME/.cache}/tcpsem/kernel-src)
#   --jobs N          make -j (default: CPUs)
#   --fresh           start the work tree over (e.g. after editing a --source
#                     tree with an editor that replaces files)
#   --no-install      never call apt-get (fail if a tool is missing)
#
# On success prints one line, the --kernel argument for ci/kernel-matrix.sh:
#   DIR/<NAME>/vmlinuz:DIR/<NAME>/lib/modules/<release>
# Exit status: 0 built; 1 the build failed (log in DIR/<NAME>.log);
# 2 bad arguments, a missing tool, a missing source, or a patch that does not
# apply (one line on stderr; nothing is built).
set -euo pipefail
shopt -s inherit_errexit

REPO=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
BUILD_DIR=${TCPSEM_BUILD_DIR:-$REPO/build}
SOURCE=/usr/src/linux-source-6.12.tar.xz
DEFAULT_SOURCE=1
PATCHES=()
CONFIGS=()
NAME=""
OUT=$BUILD_DIR/kernel-build
CACHE=${XDG_CACHE_HOME:-$HOME/.cache}/tcpsem/kernel-src
JOBS=$(nproc)
INSTALL=1
FRESH=0

die() { printf 'kernel-build: %s\n' "$1" >&2; exit "${2:-2}"; }
log() { printf 'kernel-build: %s\n' "$*" >&2; }
need_arg() { (($# >= 2)) && [[ -n $2 ]] || die "$1 needs an argument"; }

while (($#)); do
  case $1 in
    --source) need_arg "$@"; SOURCE=$2; DEFAULT_SOURCE=0; shift 2 ;;
    --patch) need_arg "$@"; PATCHES+=("$2"); shift 2 ;;
    --config) need_arg "$@"; CONFIGS+=("$2"); shift 2 ;;
    --name) need_arg "$@"; NAME=$2; shift 2 ;;
    --out) need_arg "$@"; OUT=$2; shift 2 ;;
    --cache) need_arg "$@"; CACHE=$2; shift 2 ;;
    --jobs) need_arg "$@"; JOBS=$2; shift 2 ;;
    --fresh) FRESH=1; shift ;;
    --no-install) INSTALL=0; shift ;;
    -h|--help) sed -n '/^# Kernel build:/,/^set -euo/{/^set -euo/d;s/^# \{0,1\}//;p}' "$0"; exit 0 ;;
    *) die "unknown argument: $1 (see --help)" ;;
  esac
done
((${#CONFIGS[@]})) || CONFIGS=("$REPO/ci/kernel-config/tcpsem.config")
[[ $JOBS =~ ^[1-9][0-9]*$ ]] || die "--jobs must be a positive integer"
for p in "${PATCHES[@]}"; do [[ -f $p && -r $p ]] || die "no such patch: $p"; done
for c in "${CONFIGS[@]}"; do [[ -f $c && -r $c ]] || die "no such config fragment: $c"; done
if [[ -z $NAME ]]; then
  if ((${#PATCHES[@]})); then
    for p in "${PATCHES[@]}"; do b=$(basename "$p"); NAME+=${NAME:++}${b%.patch}; done
  else
    NAME=stock
  fi
fi
NAME=${NAME//[^A-Za-z0-9._+-]/_}; NAME=${NAME:0:48}
[[ $NAME =~ ^[A-Za-z0-9] ]] || die "--name must start with a letter or digit"

# --------------------------------------------------------------- source ----
# Every check of what the user named comes before any tool is looked for or
# installed: a mistyped --source or a stale patch costs no apt-get. (The
# default source is itself a package: when it is missing, these checks come
# right after it is installed.)
check_source() {
  [[ -e $SOURCE ]] || die "no such source: $SOURCE"
  SOURCE=$(readlink -f "$SOURCE")
  if [[ -d $SOURCE ]]; then
    PRISTINE=$SOURCE
    [[ -f $SOURCE/Makefile && -d $SOURCE/arch/x86 && -f $SOURCE/net/ipv4/tcp.c ]] ||
      die "not a Linux source tree (no Makefile, arch/x86, net/ipv4/tcp.c): $SOURCE"
  else
    case $SOURCE in
      *.tar.xz|*.tar.gz|*.tgz|*.tar.bz2|*.tar) ;;
      *) die "source is neither a directory nor a tarball: $SOURCE" ;;
    esac
    key=$(stat -c '%s %Y' "$SOURCE" | sha256sum | cut -c1-12)
    PRISTINE=$CACHE/$(basename "${SOURCE%%.tar*}")-$key
  fi
  mkdir -p "$OUT" || die "cannot create $OUT"
  OUT=$(readlink -f "$OUT")
}

# Every patch must apply, in order, before anything is unpacked or built: the
# files they touch are copied from the pristine tree (or the tarball) into a
# scratch directory and patched there.
check_patches() {
  local scratch files f p
  scratch=$(mktemp -d "$OUT/.patch-check.XXXXXX")
  trap 'rm -rf "$scratch"' EXIT
  files=$(sed -n 's|^+++ [^/]*/\([^[:space:]]*\).*|\1|p' "${PATCHES[@]}" | sort -u)
  [[ -n $files ]] || die "no file to patch in: ${PATCHES[*]}"
  if [[ -d $SOURCE ]]; then
    for f in $files; do
      [[ -f $SOURCE/$f ]] && install -D -m 0644 "$SOURCE/$f" "$scratch/$f"
    done
  elif [[ -d $PRISTINE/.complete ]]; then
    for f in $files; do
      [[ -f $PRISTINE/$f ]] && install -D -m 0644 "$PRISTINE/$f" "$scratch/$f"
    done
  else
    local top
    top=$(tar tf "$SOURCE" 2>/dev/null | head -n1 | cut -d/ -f1) || true
    [[ -n $top ]] || die "cannot read tarball: $SOURCE"
    (cd "$scratch" && tar xf "$SOURCE" --strip-components=1 --wildcards $(printf "$top/%s " $files) 2>/dev/null) || true
  fi
  for p in "${PATCHES[@]}"; do
    patch -d "$scratch" -p1 --forward --batch --silent <"$p" >"$scratch/.out" 2>&1 ||
      die "patch does not apply: $p ($(grep -m1 -iE 'fail|can.t|not|reversed' "$scratch/.out" || head -n1 "$scratch/.out"))"
  done
  rm -rf "$scratch"
  trap - EXIT
}
# A patch that does not apply is found before anything is installed too,
# when patch(1) and tar are here; otherwise right after they are.
SOURCE_CHECKED=0 PATCHES_CHECKED=0
if ! ((DEFAULT_SOURCE)) || [[ -f $SOURCE ]]; then
  check_source; SOURCE_CHECKED=1
  if ((${#PATCHES[@]})) && command -v patch >/dev/null && command -v tar >/dev/null; then
    check_patches; PATCHES_CHECKED=1
  fi
fi

# ---------------------------------------------------------------- tools ----
# What a tinyconfig-based x86-64 build needs (objtool needs libelf headers).
missing=()
for t in make gcc flex bison bc perl xz tar patch; do
  command -v "$t" >/dev/null || missing+=("$t")
done
[[ -e /usr/include/gelf.h ]] || missing+=(libelf-dev)
if ((DEFAULT_SOURCE)) && [[ ! -f $SOURCE ]]; then missing+=(linux-source-6.12); fi
if ((${#missing[@]})); then
  ((INSTALL)) || die "missing: ${missing[*]} (run without --no-install, or apt-get install them)"
  pkgs=()
  for m in "${missing[@]}"; do
    case $m in
      gcc) pkgs+=(gcc) ;; xz) pkgs+=(xz-utils) ;; *) pkgs+=("$m") ;;
    esac
  done
  log "installing ${pkgs[*]}"
  export DEBIAN_FRONTEND=noninteractive
  { apt-get update -qq && apt-get install -y -qq --no-install-recommends "${pkgs[@]}"; } </dev/null >/dev/null 2>&1 ||
    die "apt-get install ${pkgs[*]} failed"
fi

((SOURCE_CHECKED)) || check_source
((${#PATCHES[@]} == 0 || PATCHES_CHECKED)) || check_patches

exec 9>"$OUT/.lock"
flock -w 3600 9 || die "another kernel-build holds $OUT/.lock"

if [[ ! -d $SOURCE && ! -d $PRISTINE/.complete ]]; then
  log "unpacking $SOURCE into $PRISTINE"
  mkdir -p "$CACHE"
  rm -rf "$PRISTINE" "$PRISTINE.tmp"; mkdir -p "$PRISTINE.tmp"
  tar xf "$SOURCE" -C "$PRISTINE.tmp" --strip-components=1
  mkdir "$PRISTINE.tmp/.complete"
  mv "$PRISTINE.tmp" "$PRISTINE"
fi

# The compiler's temporary files stay under OUT, not /tmp (root never writes
# where other users can).
mkdir -p "$OUT/tmp"
export TMPDIR=$OUT/tmp

# The work tree: hard links to the pristine tree (made once, in seconds;
# `make O=` never writes into the source tree, and patch(1) replaces the
# files it changes instead of writing through the link). The files the
# previous build's patches replaced are copied back from the pristine tree
# (their new times make make rebuild them), then this build's patches are
# applied: a build after another patch recompiles only what the patches
# touch. --fresh (or a pristine tree that changed) starts the work tree over.
SRC=$OUT/src OBJ=$OUT/obj
t0=$(date +%s)
mkdir -p "$OBJ"
if ((FRESH)) || [[ ! -f $SRC/.tcpsem-source || $(cat "$SRC/.tcpsem-source") != "$PRISTINE" ]]; then
  log "linking the work tree to $PRISTINE"
  rm -rf "$SRC" "$SRC.tmp"
  cp -al "$PRISTINE" "$SRC.tmp" 2>/dev/null || cp -a "$PRISTINE" "$SRC.tmp"
  rm -rf "$SRC.tmp/.complete"
  echo "$PRISTINE" >"$SRC.tmp/.tcpsem-source"
  mv "$SRC.tmp" "$SRC"
elif [[ -f $SRC/.tcpsem-patched ]]; then
  while IFS= read -r f; do
    rm -f "$SRC/$f"
    if [[ -f $PRISTINE/$f ]]; then cp "$PRISTINE/$f" "$SRC/$f"; fi
  done <"$SRC/.tcpsem-patched"
fi
: >"$SRC/.tcpsem-patched"
for p in "${PATCHES[@]}"; do
  log "applying $(basename "$p")"
  # Copies, not links, of the files it changes: the pristine tree must
  # never see a patch, whatever patch(1) does with links.
  while IFS= read -r f; do
    echo "$f" >>"$SRC/.tcpsem-patched"
    if [[ -L $SRC/$f || -f $SRC/$f ]]; then
      cp --remove-destination "$SRC/$f" "$SRC/$f.tcpsem-copy" && mv -f "$SRC/$f.tcpsem-copy" "$SRC/$f"
    fi
  done < <(sed -n 's|^+++ [^/]*/\([^[:space:]]*\).*|\1|p' "$p")
  patch -d "$SRC" -p1 --forward --batch --silent <"$p" >&2 || die "patch failed in the work tree: $p" 1
done

# ---------------------------------------------------------------- build ----
LOGF=$OUT/$NAME.log
: >"$LOGF"
run() { "$@" >>"$LOGF" 2>&1 || { tail -n 30 "$LOGF" >&2; die "failed: $* (log: $LOGF)" 1; }; }
LV=-tcpsem-$NAME
log "configuring (tinyconfig + ${CONFIGS[*]##*/})"
# The fragment is merged into a candidate config, compared with the current
# one, and only a real change reaches .config (so an unchanged config does not
# trigger a full rebuild).
cp "$OBJ/.config" "$OBJ/.config.prev" 2>/dev/null || : >"$OBJ/.config.prev"
run make -C "$SRC" O="$OBJ" tinyconfig
run "$SRC/scripts/kconfig/merge_config.sh" -m -O "$OBJ" "$OBJ/.config" "${CONFIGS[@]}"
run make -C "$SRC" O="$OBJ" olddefconfig
# Every option the fragment asks for must have survived Kconfig's dependencies.
lost=()
while IFS= read -r line; do
  case $line in
    CONFIG_*=*) grep -qxF "$line" "$OBJ/.config" || lost+=("$line") ;;
    "# CONFIG_"*" is not set") grep -Eq "^${line:2:-11}=[ym]" "$OBJ/.config" && lost+=("$line") ;;
  esac
done < <(cat "${CONFIGS[@]}")
((${#lost[@]} == 0)) || die "config options not satisfiable (dependencies): ${lost[*]}" 1
if cmp -s "$OBJ/.config" "$OBJ/.config.prev"; then
  touch -r "$OBJ/.config.prev" "$OBJ/.config" 2>/dev/null || true
fi
log "building $NAME (make -j$JOBS; log $LOGF)"
run make -C "$SRC" O="$OBJ" -j"$JOBS" LOCALVERSION="$LV" bzImage modules
REL=$(make -s -C "$SRC" O="$OBJ" LOCALVERSION="$LV" kernelrelease 2>/dev/null | tail -n1)
[[ -n $REL ]] || die "cannot read the kernel release" 1
DEST=$OUT/$NAME
rm -rf "$DEST.tmp"; mkdir -p "$DEST.tmp"
run make -C "$SRC" O="$OBJ" LOCALVERSION="$LV" INSTALL_MOD_PATH="$DEST.tmp" modules_install
cp "$OBJ/arch/x86/boot/bzImage" "$DEST.tmp/vmlinuz"
cp "$OBJ/.config" "$DEST.tmp/config-$REL"
cp "$OBJ/.config" "$DEST.tmp/lib/modules/$REL/config"
rm -f "$DEST.tmp/lib/modules/$REL/build" "$DEST.tmp/lib/modules/$REL/source"
{
  echo "source $SOURCE"
  for p in "${PATCHES[@]}"; do echo "patch $(readlink -f "$p") $(sha256sum <"$p" | cut -c1-16)"; done
  for c in "${CONFIGS[@]}"; do echo "config $(readlink -f "$c")"; done
  echo "release $REL"
} >"$DEST.tmp/build-info.txt"
rm -rf "$DEST"; mv "$DEST.tmp" "$DEST"
log "built $REL in $(($(date +%s) - t0)) s"
echo "$DEST/vmlinuz:$DEST/lib/modules/$REL"
