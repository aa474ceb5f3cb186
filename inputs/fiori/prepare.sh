#!/bin/bash
# inputs/fiori/prepare.sh - fetch and convert the real-data demo input (see shared DATA.md section 1b).
#
# Source: the npm package @sap-ux/fiori-docs-embeddings@1.2.6 (Apache-2.0): 778 real
# Xenova/all-MiniLM-L6-v2 sentence embeddings (384-d float32, data/embeddings/embeddings.bin) of SAP
# Fiori documentation chunks, one JSON record per vector (data/embeddings/records.jsonl: id, content,
# title, category, ...). Fetched with `npm pack` (a tarball only: no node_modules, no install scripts).
#
# Usage: inputs/fiori/prepare.sh [DATA_DIR [IMPORT_PROGRAM]]
#   DATA_DIR        where the files go (default: <repo>/data/fiori; data/ is git-ignored)
#   IMPORT_PROGRAM  the converter built by make (default: $FIORI_IMPORT, else
#                   ${top_builddir:-<repo>}/inputs/fiori/fiori-import)
#   FIORI_IMPORT_ARGS  extra converter options, e.g. "-fiori_n_targets 30 -fiori_seed 3"
#
# Produces in DATA_DIR:
#   embeddings.bin records.jsonl metadata.json package.json LICENSE   (verbatim from the package)
#   fiori.h5     /candidates/{embedding,id,label,source_row}, /targets/{...} (DESIGN.md section 6);
#                targets = 20 records of "Fiori Development Portal" (seed 7), pool = the other 758
#   pool.jsonl   the pool's original records, line i = candidate i
# Idempotent: a verified download is not fetched again, and the conversion is skipped while its
# outputs are newer than its inputs and the converter and were made with the same options.
# Exit status: 0 on success, 1 with a message on any failure (network, size/checksum mismatch, converter).
set -euo pipefail

PKG=@sap-ux/fiori-docs-embeddings
VER=1.2.6
N_RECORDS=778
DIM=384
EMB_BYTES=$((N_RECORDS * DIM * 4)) # 1,195,008
# Checksums of the files inside the 1.2.6 tarball (npm versions are immutable).
SHA_EMB=379f1c1d91bd5e3ff27aadbf8bc093636ee1b5236a61a491d751dada5c0c3c53
SHA_REC=a8b669f6d52d630266b61af5bb11f21813ca9bc6468380b3828e24143199c0be

here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
repo=$(cd "$here/../.." && pwd)
data=${1:-$repo/data/fiori}
prog=${2:-${FIORI_IMPORT:-${top_builddir:-$repo}/inputs/fiori/fiori-import}}
extra=${FIORI_IMPORT_ARGS:-}

say() { printf '[%s] fiori: %s\n' "$(date +%H:%M:%S)" "$*"; }
die() {
  printf '[%s] fiori: ERROR: %s\n' "$(date +%H:%M:%S)" "$*" >&2
  exit 1
}

# verify DIR: prints nothing and returns 0 when embeddings.bin and records.jsonl are the expected ones;
# otherwise prints the reason and returns 1.
verify() {
  local dir=$1 size lines
  [ -f "$dir/embeddings.bin" ] || { echo "$dir/embeddings.bin is missing"; return 1; }
  [ -f "$dir/records.jsonl" ] || { echo "$dir/records.jsonl is missing"; return 1; }
  size=$(stat -c %s "$dir/embeddings.bin")
  [ "$size" -eq "$EMB_BYTES" ] || { echo "$dir/embeddings.bin has $size bytes; expected $N_RECORDS x $DIM x 4 = $EMB_BYTES"; return 1; }
  lines=$(awk 'END { print NR }' "$dir/records.jsonl") # counts a last line without newline too
  [ "$lines" -eq "$N_RECORDS" ] || { echo "$dir/records.jsonl has $lines lines; expected $N_RECORDS"; return 1; }
  echo "$SHA_EMB  $dir/embeddings.bin" | sha256sum -c --status || { echo "$dir/embeddings.bin has the right size but the wrong SHA-256 (expected $SHA_EMB)"; return 1; }
  echo "$SHA_REC  $dir/records.jsonl" | sha256sum -c --status || { echo "$dir/records.jsonl has the right length but the wrong SHA-256 (expected $SHA_REC)"; return 1; }
  return 0
}

mkdir -p "$data"

# ---- 1. fetch ------------------------------------------------------------------------------------
if why=$(verify "$data"); then
  say "$PKG@$VER already in $data (sizes and checksums verified)"
else
  say "fetching $PKG@$VER with npm pack ($why)"
  command -v npm >/dev/null || die "npm is not installed: install Node.js/npm (Debian: apt-get install npm) and re-run"
  tmp=$(mktemp -d "${TMPDIR:-/tmp}/winnow-fiori.XXXXXX")
  trap 'rm -rf "$tmp"' EXIT
  if ! (cd "$tmp" && npm pack --silent "$PKG@$VER" >npm-pack.out 2>npm-pack.err); then
    cat "$tmp/npm-pack.err" >&2 || true
    die "npm pack $PKG@$VER failed (is the npm registry reachable?)"
  fi
  tgz=("$tmp"/*.tgz)
  [ -f "${tgz[0]}" ] || die "npm pack produced no tarball in $tmp"
  tar -xzf "${tgz[0]}" -C "$tmp" || die "cannot unpack ${tgz[0]}"
  src=$tmp/package/data/embeddings
  why=$(verify "$src") || die "the downloaded package is not the expected one: $why"
  for f in embeddings.bin records.jsonl metadata.json; do cp "$src/$f" "$data/$f.tmp" && mv "$data/$f.tmp" "$data/$f"; done
  for f in package.json LICENSE README.md; do
    [ -f "$tmp/package/$f" ] && cp "$tmp/package/$f" "$data/$f"
  done
  rm -rf "$tmp"
  trap - EXIT
  verify "$data" >/dev/null || die "copy into $data failed verification"
  say "saved embeddings.bin ($EMB_BYTES bytes), records.jsonl ($N_RECORDS records), metadata, LICENSE in $data"
fi

# ---- 2. convert ----------------------------------------------------------------------------------
[ -x "$prog" ] || die "the converter $prog is not built: run 'make' (or ./setup.sh) first, or pass its path as the second argument"
stamp=$data/.import-args
args="$extra"
up_to_date=yes
for out in "$data/fiori.h5" "$data/pool.jsonl" "$stamp"; do
  [ -f "$out" ] || { up_to_date=no; break; }
  for in in "$data/embeddings.bin" "$data/records.jsonl" "$prog"; do
    [ "$out" -nt "$in" ] || { up_to_date=no; break 2; }
  done
done
if [ "$up_to_date" = yes ] && [ "$(cat "$stamp")" = "$args" ]; then
  say "fiori.h5 and pool.jsonl are up to date in $data"
  exit 0
fi
say "converting with $prog ${args:+($args)}"
rm -f "$stamp"
# shellcheck disable=SC2086 # FIORI_IMPORT_ARGS is a list of options
"$prog" -fiori_dir "$data" -fiori_output "$data/fiori.h5" -fiori_pool_jsonl "$data/pool.jsonl" $extra ||
  die "conversion failed (see the message above)"
printf '%s' "$args" >"$stamp"
say "ready: $data/fiori.h5 and $data/pool.jsonl"
