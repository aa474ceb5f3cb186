#!/bin/sh
# rank_independence.sh - the same selection (indices, and gains bitwise) on 1, 2, 3 and 4 ranks, for every
# facility-location method, naive and lazy greedy, HDF5 and .npy inputs, N not divisible by the rank count, a
# pool smaller than the rank count (ranks with no rows), and kernels written on one rank count and read on another
# (HDF5 round trip, compared bitwise with h5diff). TAP.
. "${top_srcdir:-.}/tests/mpi/common.sh"
W="$top_builddir/src/winnow"
MK="$top_builddir/tests/tools/mkdata"
dir=$(wn_tmpdir)
nps=${MPI_TEST_NPROCS:-"1 2 3 4"}
"$MK" "$dir/data.h5" -n 203 -m 17 -d 24 -labels 5 -seed 3 -npy "$dir" >/dev/null || { echo "1..0 # SKIP mkdata failed"; exit 0; }
"$MK" "$dir/tiny.h5" -n 3 -m 2 -d 4 -seed 5 >/dev/null

# picks FILE.jsonl -> "index gain" per line (gains printed with 17 significant digits: bitwise for doubles)
picks() { sed -n 's/.*"index": \([0-9]*\),.*"gain": \([^,]*\),.*/\1 \2/p' "$1"; }

methods="fl fl_pool flmi flcg"
count=0
for m in $methods; do count=$((count + 2)); done
count=$((count + 9))
echo "1..$count"
i=0
common="-wn_progress 0 -wn_private_dataset /targets/embedding"
for m in $methods; do
  for g in lazy naive; do
    i=$((i + 1)); ok=1; ref=""; msg=""
    for np in $nps; do
      o="$dir/$m-$g-$np"
      if ! wn_mpirun "$np" "$W" run -wn_candidates "$dir/data.h5" -wn_method "$m" -wn_greedy "$g" -wn_budget 25 -wn_output "$o" $common > "$o.log" 2>&1; then
        ok=0; msg="$msg run failed on $np ranks;"; sed 's/^/# /' "$o.log"; continue
      fi
      picks "$o.jsonl" > "$o.picks"
      [ -s "$o.picks" ] || { ok=0; msg="$msg no picks on $np ranks;"; continue; }
      if [ -z "$ref" ]; then ref="$o.picks"; elif ! cmp -s "$ref" "$o.picks"; then ok=0; msg="$msg $np ranks differ from $(basename "$ref");"; diff "$ref" "$o.picks" | head -5 | sed 's/^/# /'; fi
    done
    # lazy and naive must agree too
    if [ "$g" = naive ] && [ -f "$dir/$m-lazy-1.picks" ] && ! cmp -s "$dir/$m-lazy-1.picks" "$dir/$m-naive-1.picks"; then ok=0; msg="$msg lazy differs from naive;"; fi
    tap $ok $i "$m $g greedy: identical picks and gains on ranks $nps$msg"
  done
done

# .npy inputs give the same selection as HDF5 (same float32 values)
i=$((i + 1)); ok=1
for np in 1 3; do
  o="$dir/npy-$np"
  wn_mpirun "$np" "$W" run -wn_candidates "$dir/candidates.npy" -wn_targets "$dir/targets.npy" -wn_method fl -wn_budget 25 -wn_output "$o" -wn_progress 0 > "$o.log" 2>&1 || { ok=0; sed 's/^/# /' "$o.log"; }
  picks "$o.jsonl" > "$o.picks" 2>/dev/null
  cmp -s "$o.picks" "$dir/fl-lazy-1.picks" || ok=0
done
tap $ok $i ".npy input on 1 and 3 ranks equals HDF5 input"

# a pool smaller than the rank count: ranks with no rows
i=$((i + 1)); ok=1; ref=""
for np in $nps; do
  o="$dir/tiny-$np"
  wn_mpirun "$np" "$W" run -wn_candidates "$dir/tiny.h5" -wn_method fl_pool -wn_budget 3 -wn_output "$o" -wn_progress 0 > "$o.log" 2>&1 || { ok=0; sed 's/^/# /' "$o.log"; continue; }
  picks "$o.jsonl" > "$o.picks"
  [ "$(wc -l < "$o.picks")" -eq 3 ] || ok=0
  if [ -z "$ref" ]; then ref="$o.picks"; elif ! cmp -s "$ref" "$o.picks"; then ok=0; fi
done
tap $ok $i "N=3 pool on ranks $nps (some own no rows): identical"

# kernel files written on every rank count are bitwise identical, and select reads them on another count
i=$((i + 1)); ok=1
for np in $nps; do
  wn_mpirun "$np" "$W" kernel -wn_candidates "$dir/data.h5" -wn_method flmi -wn_kernel_file "$dir/K$np.h5" -wn_progress 0 > "$dir/K$np.log" 2>&1 || { ok=0; sed 's/^/# /' "$dir/K$np.log"; }
done
if command -v h5diff >/dev/null 2>&1; then
  for np in $nps; do
    [ "$np" = 1 ] && continue
    h5diff "$dir/K1.h5" "$dir/K$np.h5" /kernel/values /kernel/values >/dev/null 2>&1 || { ok=0; echo "# /kernel/values differs between 1 and $np ranks"; }
    h5diff "$dir/K1.h5" "$dir/K$np.h5" /query_kernel/values /query_kernel/values >/dev/null 2>&1 || { ok=0; echo "# /query_kernel/values differs between 1 and $np ranks"; }
  done
else echo "# h5diff missing (hdf5-tools): kernel files not compared bitwise"; ok=0; fi
tap $ok $i "kernel files bitwise identical on ranks $nps (HDF5 round trip)"

i=$((i + 1)); ok=1
for np in 2 4; do
  o="$dir/sel-$np"
  wn_mpirun "$np" "$W" select -wn_candidates "$dir/data.h5" -wn_kernel_file "$dir/K3.h5" -wn_method flmi -wn_budget 25 -wn_output "$o" -wn_progress 0 > "$o.log" 2>&1 || { ok=0; sed 's/^/# /' "$o.log"; continue; }
  picks "$o.jsonl" > "$o.picks"
  cmp -s "$o.picks" "$dir/flmi-lazy-1.picks" || { ok=0; echo "# select from a 3-rank kernel file on $np ranks differs from run"; }
done
tap $ok $i "select on 2 and 4 ranks from a kernel written on 3 ranks equals run"

# a seeded subsample is the same set of rows on every rank count (reported as rows of the dataset)
i=$((i + 1)); ok=1; ref=""
for np in $nps; do
  o="$dir/subsample-$np"
  wn_mpirun "$np" "$W" run -wn_candidates "$dir/data.h5" -wn_method flmi -wn_subsample 61 -wn_seed 11 -wn_budget 9 -wn_scores -wn_output "$o" -wn_progress 0 > "$o.log" 2>&1 || { ok=0; sed 's/^/# /' "$o.log"; continue; }
  picks "$o.jsonl" > "$o.picks"
  if [ -z "$ref" ]; then ref="$o.picks"; elif ! cmp -s "$ref" "$o.picks"; then ok=0; echo "# subsample on $np ranks differs"; fi
  if command -v h5dump >/dev/null 2>&1; then
    h5dump -d /scores/index -y -w 0 "$o.h5" 2>/dev/null | sed -n '/DATA {/,/}/p' | grep -o '[0-9][0-9]*' | tr '\n' ' ' > "$o.rows"
    if [ "$np" = 1 ]; then cp "$o.rows" "$dir/subsample.rows"; elif ! cmp -s "$o.rows" "$dir/subsample.rows"; then ok=0; echo "# subsample rows differ on $np ranks"; fi
  fi
done
[ "$(grep -c . "$dir/subsample-1.picks" 2>/dev/null)" = 9 ] || ok=0
tap $ok $i "-wn_subsample 61 of 203: same rows and same picks on ranks $nps"

# TSDS: the same probabilities (bitwise) and the same draws on every rank count
i=$((i + 1)); ok=1; ref=""
for np in $nps; do
  o="$dir/tsds-$np"
  wn_mpirun "$np" "$W" run -wn_candidates "$dir/data.h5" -wn_method tsds -wn_budget 30 -wn_tsds_c 1 -wn_tsds_sigma 0.5 -wn_seed 5 -wn_output "$o" -wn_progress 0 > "$o.log" 2>&1 || { ok=0; sed 's/^/# /' "$o.log"; continue; }
  sed -n 's/.*"index": \([0-9]*\),.*"gain": \([^,]*\),.*"count": \([0-9]*\).*/\1 \2 \3/p' "$o.jsonl" > "$o.picks"
  h5dump -d /scores/probability -y -w 0 -m %.17g "$o.h5" 2>/dev/null | sed -n '/DATA {/,/}/p' > "$o.p"
  [ "$(wn_result_field "$o.log" checks)" = PASSED ] || ok=0
  if [ -z "$ref" ]; then ref="$o"; elif ! cmp -s "$ref.picks" "$o.picks" || ! cmp -s "$ref.p" "$o.p"; then ok=0; echo "# tsds on $np ranks differs"; fi
done
[ -s "$dir/tsds-1.picks" ] && [ "$(awk '{ s += $3 } END { print s }' "$dir/tsds-1.picks")" = 30 ] || ok=0
tap $ok $i "tsds: same p (bitwise) and same 30 draws on ranks $nps, sum of p checked"

# sparse kernels: with k = N the selection is the dense one, bit for bit
i=$((i + 1)); ok=1
for np in 1 3; do
  o="$dir/sparseN-$np"
  wn_mpirun "$np" "$W" run -wn_candidates "$dir/data.h5" -wn_method fl_pool -wn_kernel_sparse_k 203 -wn_budget 25 -wn_output "$o" -wn_progress 0 > "$o.log" 2>&1 || { ok=0; sed 's/^/# /' "$o.log"; continue; }
  picks "$o.jsonl" > "$o.picks"
  cmp -s "$o.picks" "$dir/fl_pool-lazy-1.picks" || { ok=0; echo "# sparse k = N on $np ranks differs from dense"; }
done
tap $ok $i "fl_pool on a sparse kernel with k = N equals the dense selection (1 and 3 ranks)"

# sparse kernels with k < N: the same selection on every rank count, for FL, FLMI and FLCG
i=$((i + 1)); ok=1
for m in fl_pool flmi flcg; do
  ref=""
  for np in $nps; do
    o="$dir/sparse10-$m-$np"
    wn_mpirun "$np" "$W" run -wn_candidates "$dir/data.h5" -wn_method $m -wn_kernel_sparse_k 10 -wn_budget 25 -wn_output "$o" $common > "$o.log" 2>&1 || { ok=0; sed 's/^/# /' "$o.log"; continue; }
    picks "$o.jsonl" > "$o.picks"
    [ "$(wn_result_field "$o.log" checks)" = PASSED ] || ok=0
    if [ -z "$ref" ]; then ref="$o.picks"; elif ! cmp -s "$ref" "$o.picks"; then ok=0; echo "# sparse $m on $np ranks differs"; fi
  done
done
tap $ok $i "sparse top-10 kernels: fl_pool, flmi, flcg identical on ranks $nps, checks PASSED"

# a sparse kernel file written on 3 ranks, read by select on 2 and 4
i=$((i + 1)); ok=1
wn_mpirun 3 "$W" kernel -wn_candidates "$dir/data.h5" -wn_method flmi -wn_kernel_sparse_k 10 -wn_kernel_file "$dir/KS.h5" -wn_progress 0 > "$dir/KS.log" 2>&1 || { ok=0; sed 's/^/# /' "$dir/KS.log"; }
for np in 2 4; do
  o="$dir/sparsesel-$np"
  wn_mpirun "$np" "$W" select -wn_candidates "$dir/data.h5" -wn_kernel_file "$dir/KS.h5" -wn_method flmi -wn_budget 25 -wn_output "$o" -wn_progress 0 > "$o.log" 2>&1 || { ok=0; sed 's/^/# /' "$o.log"; continue; }
  picks "$o.jsonl" > "$o.picks"
  cmp -s "$o.picks" "$dir/sparse10-flmi-1.picks" || { ok=0; echo "# select from the sparse kernel file on $np ranks differs from run"; }
done
tap $ok $i "sparse kernel file (CSR) written on 3 ranks: select on 2 and 4 ranks equals run"
