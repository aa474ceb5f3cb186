#!/bin/sh
# lobass.sh - LoBaSS end to end (TAP): `winnow select -wn_method lobass` on a mkdata fixture with synthetic losses
# (multiples of 1/32, so many exact ties fall across rank boundaries): identical picks and gains on 1 to 4 ranks for
# both score forms and the three per-label modes (and N = 3 < P), the picks equal to a brute-force sort of the written scores, the
# scores equal to L0 - L1 read back with h5dump, `run` equal to `select`, and bad inputs (a missing loss dataset,
# lengths that differ from the pool, NaN losses, unknown labels, budgets that do not add up or are malformed, no labels) refused
# with one clear message, exit 1 and no output file.
. "${top_srcdir:-.}/tests/mpi/common.sh"
W="$top_builddir/src/winnow"
MK="$top_builddir/tests/tools/mkdata"
dir=$(wn_tmpdir)
nps=${MPI_TEST_NPROCS:-"1 2 3 4"}
"$MK" "$dir/data.h5" -n 203 -m 2 -d 4 -labels 5 -seed 3 -losses >/dev/null 2>&1 || wn_skip_all "mkdata -losses failed"
"$MK" "$dir/tiny.h5" -n 3 -m 1 -d 2 -labels 2 -seed 5 -losses >/dev/null 2>&1 || wn_skip_all "mkdata failed"
"$MK" "$dir/nolabels.h5" -n 50 -m 2 -d 4 -seed 4 -losses >/dev/null 2>&1 || wn_skip_all "mkdata failed"
for k in nan short missing; do
  "$MK" "$dir/bad_$k.h5" -n 203 -m 2 -d 4 -labels 5 -seed 3 -losses_bad "$k" >/dev/null 2>&1 || wn_skip_all "mkdata -losses_bad $k failed"
done

# picks FILE.jsonl -> "index gain" per line (17 significant digits: bitwise for doubles)
picks() { sed -n 's/.*"index": \([0-9]*\),.*"gain": \([^,]*\),.*/\1 \2/p' "$1"; }
# label_count FILE.jsonl LABEL -> picks with that label
label_count() { grep -c "\"label\": \"$2\"" "$1"; }
common="-wn_progress 0 -wn_candidates $dir/data.h5"

# same_on_ranks NAME ARGS...: run on every rank count, compare picks; sets ok and leaves logs in $dir/NAME-NP.*
same_on_ranks() {
  name=$1; shift; ok=1; ref=""
  for np in $nps; do
    o="$dir/$name-$np"
    if ! wn_mpirun "$np" "$W" "$@" -wn_output "$o" > "$o.log" 2>&1; then ok=0; wn_diag_file "$o.log"; continue; fi
    [ "$(wn_result_field "$o.log" checks)" = PASSED ] || { ok=0; wn_diag "checks not PASSED on $np ranks"; grep -E 'FAILED' "$o.log" | sed 's/^/# /'; }
    picks "$o.jsonl" > "$o.picks"
    [ -s "$o.picks" ] || { ok=0; wn_diag "no picks on $np ranks"; continue; }
    if [ -z "$ref" ]; then ref="$o.picks"; elif ! cmp -s "$ref" "$o.picks"; then ok=0; wn_diag "$np ranks differ"; diff "$ref" "$o.picks" | head -4 | sed 's/^/# /'; fi
  done
}

# brute NAME ARGS... K_SPEC: run on 3 ranks with every candidate in the JSONL, then sort the written scores by (score
# descending, index ascending) and take the top-k of every label (K_SPEC "label:k ..." or "*:k" for the whole pool);
# ok when that is exactly the selection, in order.
brute() {
  name=$1; spec=$2; shift 2; o="$dir/$name"; ok=1
  wn_mpirun 3 "$W" "$@" -wn_output "$o-sel" > "$o-sel.log" 2>&1 || { ok=0; wn_diag_file "$o-sel.log"; return; }
  wn_mpirun 2 "$W" "$@" -wn_jsonl_all -wn_scores -wn_output "$o-all" > "$o-all.log" 2>&1 || { ok=0; wn_diag_file "$o-all.log"; return; }
  sed -n 's/.*"index": \([0-9]*\),.*"label": "\([^"]*\)",.*"score": \([^,]*\),.*/\1 \2 \3/p' "$o-all.jsonl" | sort -k3,3gr -k1,1n |
    awk -v spec="$spec" 'BEGIN { n = split(spec, a, " "); for (j = 1; j <= n; j++) { split(a[j], p, ":"); k[p[1]] = p[2] } }
      { lab = ("*" in k) ? "*" : $2; if (taken[lab] < k[lab]) { taken[lab]++; print $1 } }' > "$o.expect"
  picks "$o-sel.jsonl" | cut -d' ' -f1 > "$o.got"
  [ -s "$o.expect" ] && cmp -s "$o.expect" "$o.got" || { ok=0; wn_diag "brute force differs from the selection"; diff "$o.expect" "$o.got" | head -6 | sed 's/^/# /'; }
}

wn_plan 21
same_on_ranks diff select -wn_method lobass -wn_budget 20 $common
tap $ok 1 "lobass diff, budget 20 (ties at the threshold): identical picks and gains on ranks $nps, checks PASSED"
thr=$(wn_result_field "$dir/diff-1.log" lobass_threshold)
[ "$(wn_result_field "$dir/diff-1.log" lobass_score)" = diff ] && [ -n "$thr" ] && [ "$(tail -n 1 "$dir/diff-1.picks" | cut -d' ' -f2)" = "$thr" ]
tap_rc $? 2 "RESULT has lobass_score=diff and lobass_threshold = the last pick's score ($thr)"
same_on_ranks norm select -wn_method lobass -wn_lobass_score normalized -wn_budget 10% $common
tap $ok 3 "lobass normalized, budget 10%: identical picks and gains on ranks $nps"
[ "$(wc -l < "$dir/norm-1.picks")" = 20 ] && [ "$(wn_result_field "$dir/norm-1.log" lobass_score)" = normalized ]
tap_rc $? 4 "10% of 203 candidates is 20 picks"

same_on_ranks prop select -wn_method lobass -wn_lobass_per_label proportional -wn_budget 23 $common
tap $ok 5 "lobass per label, proportional, budget 23: identical on ranks $nps (topk and label_budgets PASSED)"
# labels class0..class2 have 41 candidates, class3 and class4 40: 23 * 41 / 203 = 4.65, 23 * 40 / 203 = 4.53
o="$dir/prop-1.jsonl"
[ "$(label_count "$o" class0)$(label_count "$o" class1)$(label_count "$o" class2)$(label_count "$o" class3)$(label_count "$o" class4)" = 55544 ] &&
  [ "$(wn_result_field "$dir/prop-1.log" lobass_label_counts)" = "class0:5,class1:5,class2:5,class3:4,class4:4" ]
tap_rc $? 6 "proportional budgets by largest remainder: 5, 5, 5, 4, 4 picks (in the JSONL and the RESULT line)"
same_on_ranks given select -wn_method lobass -wn_lobass_per_label given -wn_lobass_label_budgets "class0:3, class2:7" -wn_budget 10 $common
tap $ok 7 "lobass per label, given budgets class0:3, class2:7: identical on ranks $nps"
o="$dir/given-1.jsonl"
[ "$(label_count "$o" class0)" = 3 ] && [ "$(label_count "$o" class2)" = 7 ] && [ "$(wc -l < "$o")" = 10 ]
tap_rc $? 8 "given budgets: 3 picks of class0, 7 of class2, none of the others"

brute bf_diff "*:20" select -wn_method lobass -wn_budget 20 $common
tap $ok 9 "diff: the picks are the top 20 of the written scores (score descending, ties to the lowest index)"
brute bf_prop "class0:5 class1:5 class2:5 class3:4 class4:4" select -wn_method lobass -wn_lobass_per_label proportional -wn_budget 23 $common
# the per-label brute force lists picks label by label in the global order: compare as sets in selection order
ok2=1; sort -n "$dir/bf_prop.expect" > "$dir/a"; sort -n "$dir/bf_prop.got" > "$dir/b"; cmp -s "$dir/a" "$dir/b" || ok2=0
tap $ok2 10 "proportional: the picks are each label's top-k of the written scores"

# the written scores are L0 - L1 of the file (exact: the losses are dyadic), read back with h5dump
if command -v h5dump >/dev/null 2>&1; then
  col() { h5dump -m '%.17g' -w 0 -y -d "$2" "$1" | sed -n '/DATA {/,/}/p' | tr -d ' {}DATA\n' | tr ',' '\n' | awk 'NF'; }
  col "$dir/data.h5" /signals/loss_base > "$dir/l0"; col "$dir/data.h5" /signals/loss_tuned > "$dir/l1"
  col "$dir/bf_diff-all.h5" /scores/learnability > "$dir/sc"
  n0=$(wc -l < "$dir/l0")
  paste "$dir/l0" "$dir/l1" "$dir/sc" | awk -v n="$n0" '{ if ($1 - $2 != $3) bad++ } END { exit !(NR == 203 && n == 203 && bad == 0) }'
  tap_rc $? 11 "/scores/learnability holds L0 - L1 for all 203 candidates"
else
  wn_skip "/scores/learnability holds L0 - L1" "h5dump not installed"
fi
same_on_ranks tiny select -wn_method lobass -wn_lobass_per_label proportional -wn_budget 2 -wn_progress 0 -wn_candidates "$dir/tiny.h5"
[ "$(wc -l < "$dir/tiny-1.picks" 2>/dev/null)" = 2 ] || ok=0
tap $ok 12 "N = 3 < 4 ranks (a rank without rows), per label: identical picks on ranks $nps"
o="$dir/run"
wn_mpirun 2 "$W" run -wn_method lobass -wn_budget 20 $common -wn_output "$o" > "$o.log" 2>&1
[ "$(wn_result_field "$o.log" checksum)" = "$(wn_result_field "$dir/diff-1.log" checksum)" ] && [ "$(wn_result_field "$o.log" checks)" = PASSED ]
tap_rc $? 13 "winnow run -wn_method lobass gives the same selection as select"

# bad inputs: one message, exit 1, no output
bad() { # N DESC PATTERN ARGS...
  num=$1; desc=$2; pat=$3; shift 3; o="$dir/bad$num"
  wn_mpirun 3 "$W" "$@" -wn_output "$o" > "$o.log" 2>&1; rc=$?
  c=$(grep -c 'winnow: error' "$o.log")
  if [ $rc = 1 ] && [ "$c" = 1 ] && grep -q -- "$pat" "$o.log" && [ ! -e "$o.h5" ] && [ ! -e "$o.jsonl" ]; then wn_ok "$desc"; else wn_not_ok "$desc (rc $rc, $c messages)"; wn_diag_file "$o.log"; fi
}
bad 14 "a missing loss dataset is named" "dataset /signals/loss_tuned not found in '$dir/bad_missing.h5'" select -wn_method lobass -wn_budget 5 -wn_progress 0 -wn_candidates "$dir/bad_missing.h5"
bad 15 "losses of the wrong length refused" "loss_tuned in '$dir/bad_short.h5' has 202 values; expected N = 203" select -wn_method lobass -wn_budget 5 -wn_progress 0 -wn_candidates "$dir/bad_short.h5"
bad 16 "a NaN loss refused, naming the row" "loss_tuned in '$dir/bad_nan.h5' has a NaN loss at row 101" select -wn_method lobass -wn_budget 5 -wn_progress 0 -wn_candidates "$dir/bad_nan.h5"
bad 17 "a given budget for an unknown label refused" "label 'poetry', which no candidate has" select -wn_method lobass -wn_lobass_per_label given -wn_lobass_label_budgets class0:2,poetry:3 -wn_budget 5 $common
bad 18 "given budgets that do not add up to -wn_budget refused" "add up to 5 but the budget is 10: set -wn_budget 5" select -wn_method lobass -wn_lobass_per_label given -wn_lobass_label_budgets class0:2,class1:3 -wn_budget 10 $common
bad 19 "per-label budgets without labels refused" "needs candidate labels" select -wn_method lobass -wn_lobass_per_label proportional -wn_budget 5 -wn_progress 0 -wn_candidates "$dir/nolabels.h5"
bad 20 "label budgets without -wn_lobass_per_label given refused" "needs -wn_lobass_per_label given" select -wn_method lobass -wn_lobass_label_budgets class0:5 -wn_budget 5 $common
bad 21 "a malformed label budget refused, naming it" "the count 'x' of label 'class0'" select -wn_method lobass -wn_lobass_per_label given -wn_lobass_label_budgets class0:x -wn_budget 5 $common
wn_done
