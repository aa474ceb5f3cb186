#!/bin/bash
# bench_featurize.sh - benchmark (not a test) of `winnow featurize` on the whole WordNet corpus, against simply
# reading the same bytes (`cat` to /dev/null, file in the page cache), on 1 and 2 ranks (or $RANKS).
# Holds fixed: the input (data/wordnet/wordnet.jsonl, 117,659 records), d = 256, 2^20 buckets, 100 noun.food
# targets held out. Prints one line per rank count and the ratio featurize time / read time.
# Usage: jobs/bench_featurize.sh [JSONL]      (run ./setup.sh demo or inputs/wordnet/prepare.sh first)
set -euo pipefail
cd "$(dirname "$0")/.."
in=${1:-data/wordnet/wordnet.jsonl}
[ -f "$in" ] || { echo "bench_featurize: $in is missing: run inputs/wordnet/prepare.sh" >&2; exit 1; }
export OMPI_ALLOW_RUN_AS_ROOT=1 OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1 OMPI_MCA_rmaps_base_oversubscribe=1 OMPI_MCA_mpi_yield_when_idle=1
export OPENBLAS_NUM_THREADS=1 HWLOC_HIDE_ERRORS=2
out=$(mktemp -d); trap 'rm -rf "$out"' EXIT
cat "$in" > /dev/null # warm the page cache
best_cat=1e9
for r in 1 2 3; do
  t0=$(date +%s.%N); cat "$in" > /dev/null; t1=$(date +%s.%N)
  best_cat=$(awk -v a="$best_cat" -v t0="$t0" -v t1="$t1" 'BEGIN { b = t1 - t0; print (b < a) ? b : a }')
done
bytes=$(stat -c %s "$in"); records=$(wc -l < "$in")
awk -v f="$in" -v n="$records" -v b="$bytes" -v t="$best_cat" 'BEGIN { printf "input %s: %d records, %.1f MB; cat (best of 3) %.4f s = %.0f MB/s\n", f, n, b / 1e6, t, b / t / 1e6 }'
printf '%5s %10s %12s %10s %14s\n' ranks seconds records/s MB/s "vs cat (x)"
for np in ${RANKS:-1 2}; do
  best=1e9
  for r in 1 2 3; do
    mpirun -n "$np" src/winnow featurize inputs/wordnet_food_featurize.opts -wn_text "$in" -wn_embeddings "$out/f.h5" > "$out/log" 2>&1 || { cat "$out/log"; exit 1; }
    t=$(awk '/^RESULT/ { for (i = 1; i <= NF; i++) if ($i ~ /^featurize_s=/) { sub("featurize_s=", "", $i); print $i } }' "$out/log")
    best=$(awk -v a="$best" -v b="$t" 'BEGIN { print (b < a) ? b : a }')
  done
  awk -v p="$np" -v t="$best" -v n="$records" -v b="$bytes" -v c="$best_cat" 'BEGIN { printf "%5d %10.3f %12.0f %10.1f %14.0f\n", p, t, n / t, b / t / 1e6, t / c }'
done
