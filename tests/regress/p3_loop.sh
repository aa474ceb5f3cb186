#!/bin/sh
# p3_loop.sh - issue 6 end to end (TAP): jobs/p3_epochs.sh runs P3's epoch loop for three epochs on a small slice
# with the built-in reference model (signals -> P3 -> the picks retrain the model), the eligible set grows every
# epoch and every epoch's checks PASS; LoBaSS on the slice's real losses gives the same picks on 1 and 3 ranks.
# Inputs as in signals.sh: a WordNet slice when data/wordnet exists, else a hand-made JSONL; fortunes or a
# hand-made fortune file.
. "${top_srcdir:-.}/tests/mpi/common.sh"
W="$top_builddir/src/winnow"
dir=$(wn_tmpdir)
# ---- inputs ------------------------------------------------------------------------------------------------------
wordnet="$wn_srcdir/data/wordnet/wordnet.jsonl"
if [ -f "$wordnet" ]; then
  awk 'NR % 400 == 1' "$wordnet" > "$dir/pool.jsonl"
  food=$(grep -c '"label":"noun.food"' "$dir/pool.jsonl")
  [ "$food" -ge 3 ] || { awk 'NR % 400 == 1 || /"label":"noun.food"/ && ++f <= 3' "$wordnet" > "$dir/pool.jsonl"; }
  src="WordNet slice"
else
  : > "$dir/pool.jsonl"
  i=0
  for w in apple bread cheese dog cat horse oak pine rose run walk swim red blue green happy sad quick slow stone \
           river mountain cloud rain snow wind fire water earth iron gold silver copper glass paper book pen table chair; do
    case $i in 10 | 20 | 30) lab=noun.food ;; *) lab=noun.thing ;; esac
    printf '{"id":"x%02d","text":"define %s: a kind of %s thing; \\"the %s was very %s\\"; see also %s","label":"%s"}\n' \
      "$i" "$w" "common" "$w" "nice" "other things" "$lab" >> "$dir/pool.jsonl"
    i=$((i + 1))
  done
  src="hand-made JSONL"
fi
n_lines=$(wc -l < "$dir/pool.jsonl")
if [ -d /usr/share/games/fortunes ]; then
  base=/usr/share/games/fortunes
else
  base="$dir/fortunes"
  printf 'A bird in the hand is worth two in the bush.\n%%\nThe early bird catches the worm.\n\t-- proverb\n%%\nAll that glitters is not gold.\n%%\nWhere there is smoke there is fire; where there is water there is a river.\n%%\n' > "$base"
fi
wn_diag "pool: $src, $n_lines records; base corpus: $base"

wn_plan 5
wn_mpirun 1 "$W" featurize -wn_text "$dir/pool.jsonl" -wn_embeddings "$dir/emb.h5" -wn_featurize_dim 16 -wn_progress 0 > "$dir/feat.log" 2>&1 || { wn_diag_file "$dir/feat.log"; wn_skip_all "featurize failed"; }
common="-wn_text $dir/pool.jsonl -wn_embeddings $dir/emb.h5 -wn_candidates $dir/emb.h5 -wn_records $dir/pool.jsonl -wn_signals_base $base -wn_progress 0"

# ---- 1-3: the P3 loop ----------------------------------------------------------------------------------------
WINNOW="$W" MPIRUN="${MPIEXEC:-mpirun}" "$wn_srcdir/jobs/p3_epochs.sh" -n 2 -E 3 -k 5 -o "$dir/loop" \
  "$wn_srcdir/inputs/wordnet_signals.opts" "$wn_srcdir/inputs/wordnet_p3.opts" -- $common > "$dir/loop.log" 2>&1; rc=$?
rows=$(($(wc -l < "$dir/loop/epochs.csv" 2>/dev/null || echo 1) - 1))
[ $rc = 0 ] && [ "$rows" = 3 ]; tap_rc $? 1 "jobs/p3_epochs.sh: three epochs (signals, P3, model update), exit $rc, $rows rows in epochs.csv"
wn_diag_file "$dir/loop.log"
awk -F, 'NR > 1 { if (NR > 2 && !($4 > prev)) bad = 1; prev = $4; n++ } END { exit !(n == 3 && !bad) }' "$dir/loop/epochs.csv"
tap_rc $? 2 "the eligible set grows every epoch ($(awk -F, 'NR > 1 { printf "%s ", $4 }' "$dir/loop/epochs.csv"))"
ok=1
for e in 0 1 2; do
  [ "$(wn_result_field "$dir/loop/epoch_$e.log" checks)" = PASSED ] || ok=0
  [ "$(wn_result_field "$dir/loop/signals_$e.log" checks)" = PASSED ] || ok=0
done
awk -F, 'NR > 1 { if ($9 != (NR - 2) * 5) bad = 1 } END { exit bad }' "$dir/loop/epochs.csv" || ok=0
tap $ok 3 "every epoch's signals and P3 checks PASSED; the model trains on the 0, 5, 10 picks so far"

# ---- 4-5: LoBaSS on real losses ------------------------------------------------------------------------------
wn_mpirun 2 "$W" signals "$wn_srcdir/inputs/wordnet_signals.opts" $common -wn_signals_train "$dir/pool.jsonl" > "$dir/sig.log" 2>&1
tap_rc $? 4 "winnow signals writes the LoBaSS losses (base: fortunes, tuned: base + the pool)"
ok=1; ref=""
for np in 1 3; do
  o="$dir/lobass$np"
  wn_mpirun "$np" "$W" select "$wn_srcdir/inputs/wordnet_lobass.opts" $common -wn_budget 10% -wn_output "$o" > "$o.log" 2>&1 || { ok=0; wn_diag_file "$o.log"; continue; }
  [ "$(wn_result_field "$o.log" checks)" = PASSED ] || ok=0
  c=$(wn_result_field "$o.log" checksum)
  if [ -z "$ref" ]; then ref=$c; elif [ "$c" != "$ref" ]; then ok=0; fi
done
tap $ok 5 "inputs/wordnet_lobass.opts on the slice's losses: checks PASSED, the same picks on 1 and 3 ranks"
wn_done
