#!/bin/sh
# demo.sh - the README's demo decks end to end on real MiniLM embeddings (data/fiori, made by setup.sh):
# the same selection on 1 and 4 ranks, every report check PASSED, and the target category clearly above
# what random selection gives (a margin a broken kernel or greedy cannot reach). TAP; SKIPs without the data.
. "${top_srcdir:-.}/tests/mpi/common.sh"
W="$top_builddir/src/winnow"
data=${WN_FIORI_DIR:-$top_srcdir/data/fiori}
if [ ! -f "$data/fiori.h5" ]; then echo "1..0 # SKIP no demo data in $data (run inputs/fiori/prepare.sh or ./setup.sh)"; exit 0; fi
dir=$(wn_tmpdir)
echo "1..4"
i=0
for deck in demo_fiori_fl demo_fiori_flmi; do
  ok=1; sums=""
  for np in 1 4; do
    o="$dir/$deck-$np"
    wn_mpirun "$np" "$W" run "$top_srcdir/inputs/$deck.opts" -wn_candidates "$data/fiori.h5" -wn_targets "$data/fiori.h5" -wn_records "$data/records.jsonl" -wn_output "$o" > "$o.log" 2>&1 || { ok=0; sed 's/^/# /' "$o.log"; continue; }
    r=$(grep '^RESULT ' "$o.log")
    echo "# $np ranks: $r"
    sums="$sums $(echo "$r" | sed -n 's/.* checksum=\([0-9a-f]*\).*/\1/p')"
    echo "$r" | grep -q 'checks=PASSED' || ok=0
  done
  set -- $sums
  i=$((i + 1)); [ $ok -eq 1 ] && [ $# -eq 2 ] && [ "$1" = "$2" ]; tap_rc $? $i "$deck: same selection on 1 and 4 ranks, checks PASSED"
  r=$(grep '^RESULT ' "$dir/$deck-4.log" 2>/dev/null)
  share=$(echo "$r" | sed -n 's/.* target_share=\([0-9.]*\).*/\1/p')
  rnd=$(echo "$r" | sed -n 's/.* random_share=\([0-9.]*\).*/\1/p')
  i=$((i + 1))
  if [ -n "$share" ] && [ -n "$rnd" ] && awk -v s="$share" -v r="$rnd" 'BEGIN { exit !(s >= 2.5 * r && s >= 0.25) }'; then good=1; else good=0; fi
  tap $good $i "$deck: target share $share is at least 2.5x random ($rnd) and >= 0.25"
done
