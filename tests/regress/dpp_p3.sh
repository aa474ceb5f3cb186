#!/bin/sh
# dpp_p3.sh - the DPP methods and P3 end to end (TAP): identical picks and gains on 1 to 4 ranks, the ScaLAPACK
# log-determinant check PASSED, the rank stop reported, P3's eligible set growing over the epochs, the budget
# capped (and said so) when too few items are eligible, a user-supplied L, and bad inputs refused with one clear
# message, exit 1 and no output.
. "${top_srcdir:-.}/tests/mpi/common.sh"
W="$top_builddir/src/winnow"
MK="$top_builddir/tests/tools/mkdata"
dir=$(wn_tmpdir)
nps=${MPI_TEST_NPROCS:-"1 2 3 4"}
"$MK" "$dir/data.h5" -n 203 -m 5 -d 24 -labels 5 -seed 3 -signals 3 -quality >/dev/null 2>&1 || wn_skip_all "mkdata failed"
"$MK" "$dir/kern.h5" -n 61 -m 2 -d 8 -seed 4 -spd_kernel >/dev/null 2>&1 || wn_skip_all "mkdata -spd_kernel failed"
"$MK" "$dir/kbad.h5" -n 61 -m 2 -d 8 -seed 4 -spd_kernel_bad >/dev/null 2>&1 || wn_skip_all "mkdata -spd_kernel_bad failed"
for k in offsets length negprob nanprob; do
  "$MK" "$dir/bad_$k.h5" -n 50 -m 2 -d 8 -seed 5 -signals 1 -signals_bad "$k" >/dev/null 2>&1 || wn_skip_all "mkdata -signals_bad $k failed"
done

# picks FILE.jsonl -> "index gain" per line (17 significant digits: bitwise for doubles)
picks() { sed -n 's/.*"index": \([0-9]*\),.*"gain": \([^,]*\),.*/\1 \2/p' "$1"; }
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

wn_plan 18
same_on_ranks dpp_cos run -wn_method dpp -wn_budget 15 $common
tap $ok 1 "dpp cosine: identical picks and gains on ranks $nps, logdet check PASSED"
same_on_ranks dpp_rbf select -wn_method dpp -wn_dpp_kernel rbf -wn_kernel_gamma 0.05 -wn_dpp_quality /candidates/quality -wn_budget 40 -wn_dpp_normalize $common
tap $ok 2 "dpp rbf with quality and log det(L + I): identical on ranks $nps"
lp=$(wn_result_field "$dir/dpp_rbf-1.log" log_probability)
awk -v v="$lp" 'BEGIN { exit !(v != "" && v + 0 < 0) }'; tap_rc $? 3 "dpp reports a negative log P(Y) ($lp)"

# cosine of 24-dimensional features has rank <= 24: the epsilon stop ends the selection and the report says so
o="$dir/rank"
wn_mpirun 2 "$W" run -wn_method dpp -wn_budget 40 $common -wn_output "$o" > "$o.log" 2>&1
n=$(wn_result_field "$o.log" selected)
[ "$(wn_result_field "$o.log" rank_stop)" = yes ] && [ -n "$n" ] && [ "$n" -le 24 ] && grep -q "rank ended the selection early" "$o.log"
tap_rc $? 4 "dpp cosine d=24, budget 40: stops at the kernel's rank ($n picks) and says so"
wn_mpirun 2 "$W" run -wn_method dpp -wn_budget 40 -wn_dpp_jitter 1e-3 $common -wn_output "$o-j" > "$o-j.log" 2>&1
[ "$(wn_result_field "$o-j.log" selected)" = 40 ]; tap_rc $? 5 "with -wn_dpp_jitter the same run reaches the budget"

# P3: three epochs, rounds (the reference) and onepass
prev=0; grow=1; allok=1
for e in 0 1 2; do
  same_on_ranks "p3_e$e" select -wn_method p3 -wn_p3_epoch "$e" -wn_p3_epochs 3 -wn_budget 30 $common
  [ $ok = 1 ] || allok=0
  el=$(wn_result_field "$dir/p3_e$e-1.log" eligible)
  [ -n "$el" ] && [ "$el" -gt "$prev" ] || grow=0
  [ "$(wn_result_field "$dir/p3_e$e-1.log" budget_met)" = yes ] || grow=0
  prev=${el:-0}
done
tap $allok 6 "p3 rounds, epochs 0-2: identical picks and gains on ranks $nps"
tap $grow 7 "p3: the eligible set grows every epoch and the budget is met"
o="$dir/p3_rounds"
wn_mpirun 2 "$W" select -wn_method p3 -wn_p3_epoch 2 -wn_p3_epochs 3 -wn_budget 80 $common -wn_output "$o" > "$o.log" 2>&1
rounds=$(wn_result_field "$o.log" rounds)
[ "$(wn_result_field "$o.log" selected)" = 80 ] && [ -n "$rounds" ] && [ "$rounds" -ge 3 ] && [ "$(wn_result_field "$o.log" checks)" = PASSED ]
tap_rc $? 8 "p3 rounds: 80 picks with 30-dimensional features take several rounds ($rounds), every round checked"
same_on_ranks p3_one select -wn_method p3 -wn_p3_mode onepass -wn_p3_epoch 1 -wn_p3_epochs 3 -wn_budget 30 -wn_p3_trend -wn_dpp_normalize $common
tap $ok 9 "p3 onepass with the trend score and log det(L + I): identical on ranks $nps"
o="$dir/p3_small"
wn_mpirun 3 "$W" select -wn_method p3 -wn_p3_epoch 0 -wn_p3_epochs 3 -wn_budget 150 $common -wn_output "$o" > "$o.log" 2>&1; rc=$?
el=$(wn_result_field "$o.log" eligible)
[ $rc = 0 ] && [ "$(wn_result_field "$o.log" budget_met)" = no ] && [ "$(wn_result_field "$o.log" selected)" = "$el" ] && grep -q "budget 150 is not met" "$o.log"
tap_rc $? 10 "p3: budget 150 above the $el eligible items selects all of them and says so"

# a user-supplied L (dpp_kernel in select) on 1 and 3 ranks
same_on_ranks dppk select -wn_method dpp_kernel -wn_kernel_file "$dir/kern.h5" -wn_budget 12 -wn_dpp_normalize
tap $ok 11 "dpp_kernel on a user L: identical on ranks $nps, logdet check PASSED"

# bad inputs: one message, exit 1, no output
bad() { # N DESC PATTERN ARGS...
  num=$1; desc=$2; pat=$3; shift 3; o="$dir/bad$num"
  wn_mpirun 3 "$W" "$@" -wn_output "$o" > "$o.log" 2>&1; rc=$?
  c=$(grep -c 'winnow: error' "$o.log")
  if [ $rc = 1 ] && [ "$c" = 1 ] && grep -q -- "$pat" "$o.log" && [ ! -e "$o.h5" ] && [ ! -e "$o.jsonl" ]; then wn_ok "$desc"; else wn_not_ok "$desc (rc $rc, $c messages)"; wn_diag_file "$o.log"; fi
}
bad 12 "p3: decreasing step offsets refused" "step_offset" select -wn_method p3 -wn_budget 5 -wn_candidates "$dir/bad_offsets.h5"
bad 13 "p3: step_offset of the wrong length refused" "step_offset" select -wn_method p3 -wn_budget 5 -wn_candidates "$dir/bad_length.h5"
bad 14 "p3: a negative step probability refused" "step_prob" select -wn_method p3 -wn_budget 5 -wn_candidates "$dir/bad_negprob.h5"
bad 15 "p3: a NaN step probability refused" "step_prob" select -wn_method p3 -wn_budget 5 -wn_candidates "$dir/bad_nanprob.h5"
bad 16 "p3: an epoch without signals refused, naming the dataset" "epoch_7" select -wn_method p3 -wn_budget 5 -wn_p3_epoch 7 -wn_p3_epochs 9 $common
bad 17 "dpp_kernel: a non-positive-definite user L names pdpotrf and suggests jitter" "pdpotrf.*jitter" select -wn_method dpp_kernel -wn_kernel_file "$dir/kbad.h5" -wn_budget 12 -wn_dpp_normalize
# the demo decks parse and run (on the fixture instead of the WordNet data)
ok=1
for deck in wordnet_dpp wordnet_p3; do
  o="$dir/deck-$deck"; sub=run; [ $deck = wordnet_p3 ] && sub=select
  wn_mpirun 2 "$W" $sub "$top_srcdir/inputs/$deck.opts" -wn_candidates "$dir/data.h5" -wn_records "" -wn_subsample 0 -wn_budget 20 -wn_output "$o" > "$o.log" 2>&1 || { ok=0; wn_diag_file "$o.log"; }
  [ "$(wn_result_field "$o.log" checks)" = PASSED ] || ok=0
done
tap $ok 18 "inputs/wordnet_dpp.opts and inputs/wordnet_p3.opts run (on the fixture), checks PASSED"
wn_done
