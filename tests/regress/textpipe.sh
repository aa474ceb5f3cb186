#!/bin/sh
# textpipe.sh - the text pipeline end to end on a slice of the real WordNet corpus (every 40th synset, about
# 2,900 records): `winnow featurize` with 20 held-out noun.food targets gives bitwise identical embeddings on 1
# and 4 ranks; facility location over the targets then selects the same records on 1 and 4 ranks, with a
# noun.food share far above random (a margin a broken featurizer or kernel cannot reach), and the JSONL output
# holds the original records. TAP; SKIPs without Debian's wordnet-base.
. "${top_srcdir:-.}/tests/mpi/common.sh"
W="$top_builddir/src/winnow"
JC="$top_builddir/tests/tools/jsonlcheck"
[ -f /usr/share/wordnet/data.noun ] || wn_skip_all "Debian package wordnet-base is not installed"
dir=$(wn_tmpdir textpipe)
sh "$top_srcdir/inputs/wordnet/wordnet2jsonl" > "$dir/all.jsonl" 2>"$dir/conv.err" || { cat "$dir/conv.err"; wn_skip_all "wordnet2jsonl failed"; }
awk 'NR % 40 == 1' "$dir/all.jsonl" > "$dir/slice.jsonl"
n=$(wc -l < "$dir/slice.jsonl")
food=$(grep -c '"label":"noun.food"' "$dir/slice.jsonl")
wn_diag "slice: $n records, $food noun.food"

F="-wn_text $dir/slice.jsonl -wn_holdout_label noun.food -wn_holdout_count 20 -wn_holdout_seed 5 -wn_featurize_dim 256"
ok=1
for np in 1 4; do
  wn_mpirun $np "$W" featurize $F -wn_embeddings "$dir/emb$np.h5" > "$dir/feat$np.log" 2>&1 || { ok=0; wn_diag_file "$dir/feat$np.log"; }
done
[ "$(wn_result_field "$dir/feat1.log" targets)" = 20 ] && [ "$(wn_result_field "$dir/feat1.log" candidates)" = $((n - 20)) ] || ok=0
h5diff "$dir/emb1.h5" "$dir/emb4.h5" > "$dir/h5diff.txt" 2>&1 || { ok=0; wn_diag_file "$dir/h5diff.txt"; }
tap $ok 1 "featurize $n records (20 noun.food held out): identical files on 1 and 4 ranks"

ok=1
for np in 1 4; do
  wn_mpirun $np "$W" run -wn_candidates "$dir/emb$np.h5" -wn_records "$dir/slice.jsonl" -wn_method fl -wn_budget 20 -wn_output "$dir/fl$np" -wn_progress 0 > "$dir/fl$np.log" 2>&1 || { ok=0; wn_diag_file "$dir/fl$np.log"; }
done
s1=$(wn_result_field "$dir/fl1.log" checksum); s4=$(wn_result_field "$dir/fl4.log" checksum)
[ -n "$s1" ] && [ "$s1" = "$s4" ] && [ "$(wn_result_field "$dir/fl1.log" checks)" = PASSED ] || ok=0
tap $ok 2 "facility location over the targets: same selection on 1 and 4 ranks ($s1), checks PASSED"

share=$(wn_result_field "$dir/fl4.log" target_share); rnd=$(wn_result_field "$dir/fl4.log" random_share)
awk -v s="$share" -v r="$rnd" 'BEGIN { exit !(s != "" && r != "" && s >= 8 * r && s >= 0.15) }'; tap_rc $? 3 "noun.food share $share is at least 8x random ($rnd) and >= 0.15"

"$JC" "$dir/fl4.jsonl" -lines 20 id lemma gloss text label pos rank gain selected_by > /dev/null 2>"$dir/jc.err" && grep -q '"label":"noun.food"' "$dir/fl4.jsonl"
tap_rc $? 4 "the selection's JSONL holds the original WordNet records plus rank and gain"; wn_diag_file "$dir/jc.err"
wn_done
