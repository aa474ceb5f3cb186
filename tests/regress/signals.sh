#!/bin/sh
# signals.sh - `winnow signals` end to end (TAP): the reference language model's signals on a small WordNet slice
# (every 400th record of data/wordnet/wordnet.jsonl, about 300, when it exists; else a hand-made JSONL written here),
# with 3 noun.food records held out by the featurizer so that rows map to lines through /candidates/source_row.
# The base corpus is Debian's fortunes (/usr/share/games/fortunes) when installed, else a fortune file written here.
# Checks: bitwise identical /signals (h5diff, attributes included) and RESULT lines on 1 to 4 ranks; the output
# passes P3 (`winnow select -wn_method p3`); the losses are positive and finite and the fine-tuned model fits the
# pool better than the base model; a new output file (no embeddings: one row per line); existing datasets are
# refused without -wn_signals_force and replaced with it; bad inputs (missing corpus, missing or malformed
# candidates) give one clear message, exit 1 and leave the output untouched.
. "${top_srcdir:-.}/tests/mpi/common.sh"
W="$top_builddir/src/winnow"
dir=$(wn_tmpdir signals)
nps=${MPI_TEST_NPROCS:-"1 2 3 4"}

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

wn_plan 13
wn_mpirun 1 "$W" featurize -wn_text "$dir/pool.jsonl" -wn_embeddings "$dir/emb.h5" -wn_holdout_label noun.food -wn_holdout_count 3 -wn_featurize_dim 16 > "$dir/feat.log" 2>&1 || { wn_diag_file "$dir/feat.log"; wn_skip_all "featurize failed"; }
n=$(wn_result_field "$dir/feat.log" candidates)
S="-wn_text $dir/pool.jsonl -wn_signals_base $base -wn_signals_train $dir/pool.jsonl -wn_signals_step_separators ; -wn_progress 0"

# ---- 1-2: rank independence -------------------------------------------------------------------------------------
ok=1; ref=""
for np in $nps; do
  cp "$dir/emb.h5" "$dir/e$np.h5"
  if ! wn_mpirun "$np" "$W" signals $S -wn_embeddings "$dir/e$np.h5" > "$dir/s$np.log" 2>&1; then ok=0; wn_diag_file "$dir/s$np.log"; continue; fi
  if [ -z "$ref" ]; then ref=$np; elif ! h5diff "$dir/e$ref.h5" "$dir/e$np.h5" > "$dir/diff$np.txt" 2>&1; then ok=0; wn_diag "$np ranks differ from $ref:"; head -5 "$dir/diff$np.txt" | sed 's/^/# /'; fi
done
tap $ok 1 "winnow signals on $n candidates: identical /signals (datasets and attributes) on ranks $nps"
ok=1; c1=$(wn_result_field "$dir/s1.log" signals_checksum)
for np in $nps; do
  [ "$(wn_result_field "$dir/s$np.log" checks)" = PASSED ] && [ "$(wn_result_field "$dir/s$np.log" signals_checksum)" = "$c1" ] &&
    [ "$(wn_result_field "$dir/s$np.log" model_tuned)" = "$(wn_result_field "$dir/s1.log" model_tuned)" ] &&
    [ "$(wn_result_field "$dir/s$np.log" n)" = "$n" ] || ok=0
done
tap $ok 2 "checks PASSED, same model and signals checksums ($c1) and n = $n on every rank count"

# ---- 3-5: what the signals mean ------------------------------------------------------------------------------------
# h5values FILE DATASET: the dataset's values, one per line (the first DATA block of h5dump; attributes follow it)
h5values() { h5dump -d "$2" -y -w 0 "$1" 2>/dev/null | awk '/DATA \{/ { on = 1; next } on && /^[[:space:]]*\}/ { exit } on' | tr ',' '\n' | sed 's/^[[:space:]]*//' | grep -v '^$'; }
h5values "$dir/e1.h5" /signals/loss_base > "$dir/lb.txt"
h5values "$dir/e1.h5" /signals/loss_tuned > "$dir/lt.txt"
awk -v n="$n" 'NR == FNR { b[FNR] = $1; nb++; next } { t[FNR] = $1; nt++ }
  END { if (nb != n || nt != n) exit 1
        for (i = 1; i <= n; i++) { if (!(b[i] + 0 > 0 && t[i] + 0 > 0 && b[i] + 0 < 1e6 && t[i] + 0 < 1e6) || b[i] ~ /nan|inf/ || t[i] ~ /nan|inf/) exit 1; sb += b[i]; st += t[i] }
        exit !(st < sb) }' "$dir/lb.txt" "$dir/lt.txt"
tap_rc $? 3 "loss_base and loss_tuned: $n positive finite values each; the fine-tuned model (trained on the pool) has the lower mean"
pb=$(wn_result_field "$dir/s1.log" ppl_base); pt=$(wn_result_field "$dir/s1.log" ppl_tuned)
h5values "$dir/e1.h5" /signals/epoch_0/step_prob > "$dir/sp.txt"
steps=$(wn_result_field "$dir/s1.log" steps)
awk -v s="$steps" '{ if (!($1 + 0 > 0 && $1 + 0 <= 1)) exit 1; k++ } END { exit !(k == s && s > 0) }' "$dir/sp.txt" &&
  awk -v b="$pb" -v t="$pt" 'BEGIN { exit !(b + 0 > t + 0 && t + 0 > 1) }'
tap_rc $? 4 "$steps step probabilities in (0, 1]; perplexity base $pb > fine-tuned $pt > 1"
ok=1
for np in $nps; do
  o="$dir/p3-$np"
  wn_mpirun "$np" "$W" select -wn_candidates "$dir/e$np.h5" -wn_method p3 -wn_p3_source steps -wn_budget 5 -wn_output "$o" -wn_progress 0 > "$o.log" 2>&1 || { ok=0; wn_diag_file "$o.log"; continue; }
  [ "$(wn_result_field "$o.log" checks)" = PASSED ] && [ "$(wn_result_field "$o.log" selected)" = 5 ] &&
    [ "$(wn_result_field "$o.log" checksum)" = "$(wn_result_field "$dir/p3-1.log" checksum)" ] || { ok=0; wn_diag "p3 on $np ranks:"; grep RESULT "$o.log" | sed 's/^/# /'; }
done
tap $ok 5 "the signals pass P3 (winnow select -wn_method p3 -wn_p3_source steps): 5 picks, checks PASSED, same picks on ranks $nps"

# ---- 6-8: outputs --------------------------------------------------------------------------------------------------
o="$dir/fresh.h5"
wn_mpirun 3 "$W" signals $S -wn_embeddings "$dir/none.h5" -wn_signals_output "$o" -wn_signals_p3 false -wn_signals_order 2 > "$dir/fresh.log" 2>&1 &&
  [ "$(wn_result_field "$dir/fresh.log" n)" = "$n_lines" ] && h5ls "$o/signals/loss_tuned" > /dev/null 2>&1 && ! h5ls "$o/signals/epoch_0" > /dev/null 2>&1 &&
  ! ls -a "$dir" | grep -q '\.tmp'
rc=$?; [ $rc = 0 ] || wn_diag_file "$dir/fresh.log"
tap_rc $rc 6 "new output file without embeddings: one row per line ($n_lines), losses only, no temporary file left"
cp "$dir/e2.h5" "$dir/keep.h5"
wn_mpirun 2 "$W" signals $S -wn_embeddings "$dir/e2.h5" > "$dir/again.log" 2>&1; rc=$?
[ $rc = 1 ] && [ "$(grep -c 'winnow: error' "$dir/again.log")" = 1 ] && grep -q "already holds /signals/loss_base /signals/loss_tuned /signals/epoch_0; pass -wn_signals_force" "$dir/again.log" &&
  h5diff "$dir/keep.h5" "$dir/e2.h5" > /dev/null 2>&1
tap_rc $? 7 "existing datasets refused without -wn_signals_force (exit $rc, one message, file unchanged)"
wn_mpirun 2 "$W" signals $S -wn_embeddings "$dir/e2.h5" -wn_signals_force -wn_p3_epoch 1 > "$dir/force.log" 2>&1 &&
  grep -q "replaced /signals/loss_base /signals/loss_tuned" "$dir/force.log" && h5ls "$dir/e2.h5/signals/epoch_1/step_prob" > /dev/null 2>&1 &&
  h5ls "$dir/e2.h5/signals/epoch_0/step_prob" > /dev/null 2>&1
tap_rc $? 8 "-wn_signals_force replaces the losses and adds epoch 1 next to epoch 0"

# ---- 9: fewer candidates than ranks ---------------------------------------------------------------------------------
head -n 2 "$dir/pool.jsonl" > "$dir/two.jsonl"
ok=1
for np in 1 4; do
  wn_mpirun "$np" "$W" signals $S -wn_text "$dir/two.jsonl" -wn_embeddings "$dir/none.h5" -wn_signals_output "$dir/two$np.h5" > "$dir/two$np.log" 2>&1 || { ok=0; wn_diag_file "$dir/two$np.log"; }
done
[ $ok = 1 ] && [ "$(wn_result_field "$dir/two4.log" n)" = 2 ] && h5diff "$dir/two1.h5" "$dir/two4.h5" > /dev/null 2>&1 || ok=0
tap $ok 9 "2 candidates on 4 ranks (two ranks own no row): the same file as on 1 rank"

# ---- 10-13: bad inputs ----------------------------------------------------------------------------------------------
# one_error NAME EXPECTED ARGS...: exit 1, exactly one "winnow: error" line containing EXPECTED, bad.h5 untouched
# and no new.h5 made
one_error() {
  name=$1; want=$2; shift 2
  cp "$dir/emb.h5" "$dir/bad.h5"
  wn_mpirun 3 "$W" signals "$@" > "$dir/$name.log" 2>&1; rc=$?
  [ $rc = 1 ] && [ "$(grep -c 'winnow: error' "$dir/$name.log")" = 1 ] && grep 'winnow: error' "$dir/$name.log" | grep -qF -- "$want" &&
    h5diff "$dir/emb.h5" "$dir/bad.h5" > /dev/null 2>&1 && [ ! -e "$dir/new.h5" ] || { wn_diag "exit $rc"; wn_diag_file "$dir/$name.log"; return 1; }
  grep 'winnow: error' "$dir/$name.log" | sed 's/^/# /'
}
one_error nobase "cannot open the base corpus '$dir/no/fortunes'" $S -wn_embeddings "$dir/bad.h5" -wn_signals_base "$dir/no/fortunes"
tap_rc $? 10 "a missing base corpus: one clear message, exit 1"
one_error notrain "cannot open training JSONL (-wn_signals_train) '$dir/missing.jsonl'" $S -wn_embeddings "$dir/bad.h5" -wn_signals_train "$dir/missing.jsonl"
tap_rc $? 11 "a missing training JSONL: one clear message, exit 1"
one_error notext "cannot open candidates' JSONL (-wn_text) '$dir/nothing.jsonl'" $S -wn_embeddings "$dir/bad.h5" -wn_text "$dir/nothing.jsonl"
tap_rc $? 12 "a missing candidates' JSONL: one clear message, exit 1"
sed '2s/.*/{"id": "broken", "text": 42}/' "$dir/pool.jsonl" > "$dir/broken.jsonl"
one_error broken "'$dir/broken.jsonl' line 2 (candidate row 1): member 'text' is a number; expected a string" $S -wn_embeddings "$dir/new.h5" -wn_text "$dir/broken.jsonl" -wn_signals_train ""
tap_rc $? 13 "a candidate record without its text: the file, line and member named, exit 1"
wn_done
