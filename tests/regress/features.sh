#!/bin/sh
# features.sh - end-to-end behaviour of the user-facing features, each on 1 and 3 ranks where ranks matter:
# warm start from a file of ids, user-supplied utility matrices in both orientations, budgets as fractions,
# the min-gain stop, JSONL records copied untouched, `winnow info`, `-help`, and the OpenBLAS generic-core
# fix (re-execution with OPENBLAS_CORETYPE). TAP.
. "${top_srcdir:-.}/tests/mpi/common.sh"
W="$top_builddir/src/winnow"
MK="$top_builddir/tests/tools/mkdata"
JC="$top_builddir/tests/tools/jsonlcheck"
dir=$(wn_tmpdir features)
"$MK" "$dir/d.h5" -n 203 -m 17 -d 24 -labels 5 -seed 3 -npy "$dir" >/dev/null || wn_skip_all "mkdata failed"
"$MK" "$dir/u.h5" -n 61 -m 3 -d 4 -seed 8 -utility >/dev/null
C="-wn_candidates $dir/d.h5 -wn_progress 0"
picks() { sed -n 's/.*"index": \([0-9]*\),.*"gain": \([^,]*\),.*/\1 \2/p' "$1"; }
field() { wn_result_field "$1" "$2"; }

# 1-2. warm start: ids 1010, 1050, 1002 (rows 10, 50, 2) are picked first, in that order, and flagged
printf '# already in the training set\n1010\n\n1050\n1002\n' > "$dir/warm.txt"
ok=1
for np in 1 3; do
  wn_mpirun $np "$W" run $C -wn_method fl -wn_budget 8 -wn_warm_start "$dir/warm.txt" -wn_output "$dir/warm$np" > "$dir/warm$np.log" 2>&1 || { ok=0; wn_diag_file "$dir/warm$np.log"; }
  first=$(picks "$dir/warm$np.jsonl" | head -3 | cut -d' ' -f1 | tr '\n' ' ')
  [ "$first" = "10 50 2 " ] || { ok=0; wn_diag "$np ranks: first picks '$first'"; }
  [ "$(grep -c '"warm_start": true' "$dir/warm$np.jsonl")" = 3 ] || ok=0
  [ "$(field "$dir/warm$np.log" warm)" = 3 ] && [ "$(field "$dir/warm$np.log" checks)" = PASSED ] || ok=0
done
tap $ok 1 "warm start: three ids picked first, flagged, reported (warm=3), checks PASSED on 1 and 3 ranks"
cmp -s "$dir/warm1.jsonl" "$dir/warm3.jsonl"; tap_rc $? 2 "warm start: identical output on 1 and 3 ranks"

# 3-4. utility matrices: target-major (attribute), candidate-major transpose, no attribute + option
ok=1; ref=""
for v in "target_major" "candidate_major" "no_attribute -wn_kernel_orientation target-major"; do
  for np in 1 4; do
    set -- $v; o="$dir/u-$1-$np"
    wn_mpirun $np "$W" select -wn_kernel_file "$dir/u.h5" -wn_kernel_dataset /utility/$v -wn_method fl_pool -wn_budget 12 -wn_output "$o" -wn_progress 0 > "$o.log" 2>&1 || { ok=0; wn_diag_file "$o.log"; continue; }
    picks "$o.jsonl" > "$o.picks"
    if [ -z "$ref" ]; then ref="$o.picks"; elif ! cmp -s "$ref" "$o.picks"; then ok=0; wn_diag "$1 on $np ranks differs"; fi
  done
done
tap $ok 3 "utility U[t, c]: target-major, candidate-major and option-declared files give one selection on 1 and 4 ranks"
wn_mpirun 2 "$W" select -wn_kernel_file "$dir/u.h5" -wn_kernel_dataset /utility/no_attribute -wn_method fl_pool -wn_budget 12 -wn_output "$dir/u-wrong" -wn_progress 0 > "$dir/u-wrong.log" 2>&1
picks "$dir/u-wrong.jsonl" > "$dir/u-wrong.picks"
! cmp -s "$ref" "$dir/u-wrong.picks"; tap_rc $? 4 "the orientation matters: reading U as candidate-major selects differently"

# 5. budget as a percentage and a fraction
wn_mpirun 2 "$W" run $C -wn_budget 10% -wn_output "$dir/pct" > "$dir/pct.log" 2>&1
wn_mpirun 2 "$W" run $C -wn_budget 0.1 -wn_output "$dir/frac" > "$dir/frac.log" 2>&1
[ "$(field "$dir/pct.log" budget)" = 20 ] && [ "$(field "$dir/frac.log" budget)" = 20 ]; tap_rc $? 5 "budget 10% and 0.1 of 203 candidates select 20"

# 6. the min-gain stop ends the loop before the budget, without taking the pick
wn_mpirun 3 "$W" run $C -wn_budget 50 -wn_min_gain 0.003 -wn_output "$dir/mg" > "$dir/mg.log" 2>&1
n=$(field "$dir/mg.log" selected); last=$(picks "$dir/mg.jsonl" | tail -1 | cut -d' ' -f2)
[ "$(field "$dir/mg.log" stop)" = min_gain ] && [ "$n" -gt 3 ] && [ "$n" -lt 50 ] && awk -v g="$last" 'BEGIN { exit !(g >= 0.003) }'; tap_rc $? 6 "min-gain stop: $n picks, last gain $last >= 0.003, stop=min_gain"

# 7. records copied untouched, winnow's members appended (prefixed on a clash), valid JSON
i=0; : > "$dir/rec.jsonl"
while [ $i -lt 203 ]; do printf '{"text": "example \\"%d\\" \\u00e9", "id": "r%d", "meta": {"n": [1, 2]}}\n' $i $i >> "$dir/rec.jsonl"; i=$((i + 1)); done
wn_mpirun 2 "$W" run $C -wn_budget 15 -wn_scores -wn_records "$dir/rec.jsonl" -wn_output "$dir/recout" > "$dir/rec.log" 2>&1
"$JC" "$dir/recout.jsonl" -lines 15 text meta id winnow_id rank index gain objective score warm_start selected_by label > /dev/null 2>"$dir/jc.err" && grep -q '"meta": {"n": \[1, 2\]}' "$dir/recout.jsonl"
tap_rc $? 7 "-wn_records: 15 lines of valid JSON, original members untouched, winnow_id on the id clash"
wn_diag_file "$dir/jc.err"

# 8. a records file of the wrong length is refused before anything is written
head -5 "$dir/rec.jsonl" > "$dir/few.jsonl"
wn_mpirun 2 "$W" run $C -wn_budget 5 -wn_records "$dir/few.jsonl" -wn_output "$dir/short" > "$dir/few-run.log" 2>&1; rc=$?
[ $rc -ne 0 ] && grep -q "has 5 lines but the pool has 203" "$dir/few-run.log" && [ "$(grep -c 'winnow: error' "$dir/few-run.log")" = 1 ] && ! ls -A "$dir" | grep -q '^\.\?short\.'; tap_rc $? 8 "records file with the wrong line count: one error, no output"

# 9. winnow info describes an output and a .npy file
"$W" info "$dir/pct.h5" > "$dir/info.txt" 2>&1 && grep -q "/selection/index *20 *int64" "$dir/info.txt" && grep -q "@checksum" "$dir/info.txt" \
  && "$W" info "$dir/candidates.npy" | grep -q "shape 203 x 24"; tap_rc $? 9 "winnow info: selection file and .npy header"

# 10. -help lists the keys and the methods, exit 0
"$W" -help > "$dir/help.txt" 2>&1 && grep -q -- "-wn_budget" "$dir/help.txt" && grep -q "flmi" "$dir/help.txt" && grep -q "Selection methods" "$dir/help.txt"; tap_rc $? 10 "winnow -help lists keys and methods"

# 11-12. OpenBLAS generic-core fix: pretend the library picked Prescott; winnow re-executes once
WN_BLAS_PRETEND_CORE=Prescott wn_mpirun 2 "$W" run $C -wn_budget 5 -wn_output "$dir/blas" > "$dir/blas.log" 2>&1
if grep -q "avx512f\|avx2\|avx" /proc/cpuinfo; then
  grep -q "Prescott -> .* via OPENBLAS_CORETYPE (re-executed)" "$dir/blas.log" && [ "$(field "$dir/blas.log" blas_core)" != Prescott ]; tap_rc $? 11 "generic core detected: re-executed with OPENBLAS_CORETYPE ($(field "$dir/blas.log" blas_core))"
else wn_skip "generic-core fix" "this CPU has no AVX: nothing better than the generic core"; fi
OPENBLAS_CORETYPE=Haswell wn_mpirun 1 "$W" run $C -wn_budget 5 -wn_output "$dir/blas2" > "$dir/blas2.log" 2>&1
grep -q "user set OPENBLAS_CORETYPE=Haswell" "$dir/blas2.log"; tap_rc $? 12 "a user's OPENBLAS_CORETYPE is respected and reported"
# 13. an output prefix that would overwrite an input is refused before any work
cp "$dir/rec.jsonl" "$dir/keep.jsonl"
wn_mpirun 2 "$W" run $C -wn_budget 5 -wn_records "$dir/keep.jsonl" -wn_output "$dir/keep" > "$dir/keep.log" 2>&1; rc=$?
[ $rc -ne 0 ] && grep -q "would overwrite the input" "$dir/keep.log" && cmp -s "$dir/rec.jsonl" "$dir/keep.jsonl"; tap_rc $? 13 "an output that would overwrite an input (-wn_records) is refused, the input untouched"

# 14. -wn_jsonl_all: every candidate, in pool order, with its selected flag; the same file on 1 and 3 ranks
ok=1
for np in 1 3; do
  wn_mpirun $np "$W" run $C -wn_budget 15 -wn_jsonl_all -wn_scores -wn_records "$dir/rec.jsonl" -wn_output "$dir/all$np" > "$dir/all$np.log" 2>&1 || { ok=0; wn_diag_file "$dir/all$np.log"; }
  "$JC" "$dir/all$np.jsonl" -lines 203 text selected rank index winnow_id gain score > /dev/null || ok=0
  [ "$(grep -c '"selected": true' "$dir/all$np.jsonl")" = 15 ] || ok=0
done
cmp -s "$dir/all1.jsonl" "$dir/all3.jsonl" || ok=0
tap $ok 14 "-wn_jsonl_all: 203 valid lines, 15 selected, identical on 1 and 3 ranks"
wn_done
