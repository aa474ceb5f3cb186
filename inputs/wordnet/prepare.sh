#!/bin/sh
# inputs/wordnet/prepare.sh - build the WordNet demo corpus: data/wordnet/wordnet.jsonl (shared DATA.md section 1a).
#
# Source: the Debian package wordnet-base (WordNet 3.0, Princeton's licence: permissive, keep the notice),
# /usr/share/wordnet/data.{noun,verb,adj,adv}. inputs/wordnet/wordnet2jsonl turns every synset into one JSON
# record {"id","lemma","lemmas","gloss","text":"define <lemma>: <gloss>","label":<lexicographer file>,"pos"}.
#
# Usage: inputs/wordnet/prepare.sh [DATA_DIR]
#   DATA_DIR     where the files go (default: <repo>/data/wordnet; data/ is git-ignored)
#   WORDNET_DIR  (environment) where the WordNet data files are (default /usr/share/wordnet)
#   AWK          (environment) the awk the converter uses (default awk; any POSIX awk)
#
# Produces in DATA_DIR:
#   wordnet.jsonl     117,659 records (82,115 noun, 13,767 verb, 18,156 adj, 3,621 adv), 45 labels
#   LICENSE.wordnet   the WordNet 3.0 licence notice (the header of data.noun), which must travel with the data
# Idempotent: the conversion is skipped while wordnet.jsonl is newer than the four data files and the
# converter and passes the checks; otherwise it is rebuilt through a temporary file and a rename, so a
# failed or interrupted run never leaves a partial wordnet.jsonl. The checks (record count, part-of-speech
# counts, 45 distinct labels, unique ids) run every time; then a summary (records per label, top 10).
# Exit status: 0 on success, 1 with a message on any failure (missing package, converter error, wrong counts).
# shellcheck disable=SC2016 # the awk programs are single-quoted on purpose
set -eu

N_RECORDS=117659
N_LABELS=45
N_NOUN=82115
N_VERB=13767
N_ADJ=18156
N_ADV=3621

here=$(cd "$(dirname "$0")" && pwd)
repo=$(cd "$here/../.." && pwd)
data=${1:-$repo/data/wordnet}
wndir=${WORDNET_DIR:-/usr/share/wordnet}
conv=$here/wordnet2jsonl
out=$data/wordnet.jsonl

# newer A B: A exists and was modified after B (POSIX find; test -nt is not POSIX sh).
newer() { [ -e "$1" ] && [ -n "$(find "$1" -prune -newer "$2" 2>/dev/null)" ]; }
say() { printf '[%s] wordnet: %s\n' "$(date +%H:%M:%S)" "$*"; }
die() {
  printf '[%s] wordnet: ERROR: %s\n' "$(date +%H:%M:%S)" "$*" >&2
  exit 1
}

# verify FILE: prints nothing and returns 0 when FILE has the expected records; otherwise prints the reason
# and returns 1. The label and pos are read from our own compact output ("label":"...": inside a JSON string
# every quote is escaped, so the pattern cannot match text of a gloss).
verify() {
  [ -f "$1" ] || {
    echo "$1 is missing"
    return 1
  }
  LC_ALL=C "${AWK:-awk}" -v want="$N_RECORDS" -v wantl="$N_LABELS" \
    -v wn="$N_NOUN" -v wv="$N_VERB" -v wa="$N_ADJ" -v wr="$N_ADV" -v file="$1" '
    {
      if (!match($0, /"label":"[^"]*"/)) { printf "%s line %d has no label\n", file, NR; bad = 1; exit 1 }
      lab = substr($0, RSTART + 9, RLENGTH - 10)
      if (!(lab in cnt)) nl++
      cnt[lab]++
      if (!match($0, /"pos":"[^"]*"/)) { printf "%s line %d has no pos\n", file, NR; bad = 1; exit 1 }
      pos[substr($0, RSTART + 7, RLENGTH - 8)]++
      if (!match($0, /^\{"id":"[^"]*"/)) { printf "%s line %d does not start with an id\n", file, NR; bad = 1; exit 1 }
      id = substr($0, 8, RLENGTH - 8)
      if (id in seen) { printf "%s line %d repeats id %s (first on line %d)\n", file, NR, id, seen[id]; bad = 1; exit 1 }
      seen[id] = NR
    }
    END {
      if (bad) exit 1
      if (NR != want) { printf "%s has %d records; expected %d\n", file, NR, want; exit 1 }
      if (nl != wantl) { printf "%s has %d distinct labels; expected %d\n", file, nl, wantl; exit 1 }
      if (pos["noun"] != wn || pos["verb"] != wv || pos["adj"] != wa || pos["adv"] != wr) {
        printf "%s has %d noun, %d verb, %d adj, %d adv records; expected %d, %d, %d, %d\n", file,
          pos["noun"], pos["verb"], pos["adj"], pos["adv"], wn, wv, wa, wr
        exit 1
      }
    }' "$1"
}

for p in noun verb adj adv; do
  [ -f "$wndir/data.$p" ] || die "$wndir/data.$p is missing: install the Debian package wordnet-base (apt-get install wordnet-base; ./setup.sh does it) or set WORDNET_DIR"
done
[ -x "$conv" ] || die "the converter $conv is missing or not executable"
mkdir -p "$data" || die "cannot create $data"

# ---- 1. convert (unless up to date) --------------------------------------------------------------
up_to_date=yes
if [ -f "$out" ]; then
  for in in "$wndir/data.noun" "$wndir/data.verb" "$wndir/data.adj" "$wndir/data.adv" "$conv"; do
    newer "$out" "$in" || {
      up_to_date=no
      break
    }
  done
else
  up_to_date=no
fi
if [ "$up_to_date" = yes ] && why=$(verify "$out"); then
  say "wordnet.jsonl is up to date in $data"
else
  if [ "$up_to_date" = yes ]; then say "rebuilding wordnet.jsonl: $why"; fi
  say "converting $wndir/data.{noun,verb,adj,adv} with $conv"
  tmp=$out.tmp.$$
  trap 'rm -f "$tmp"' EXIT
  trap 'exit 130' INT TERM
  t0=$(date +%s)
  "$conv" "$wndir" >"$tmp" || die "the conversion failed (see the message above)"
  why=$(verify "$tmp") || die "the converted corpus is not the expected one: $why (is $wndir WordNet 3.0?)"
  mv -f "$tmp" "$out" || die "cannot rename $tmp to $out"
  trap - EXIT
  say "wrote $out in $(($(date +%s) - t0)) s"
fi

# ---- 2. licence notice -----------------------------------------------------------------------------
lic=$data/LICENSE.wordnet
if ! newer "$lic" "$wndir/data.noun"; then
  LC_ALL=C "${AWK:-awk}" '/^  [0-9]/ { sub(/^  [0-9]+ ?/, ""); sub(/ +$/, ""); print; next } { exit }' \
    "$wndir/data.noun" >"$lic.tmp" || die "cannot write $lic.tmp"
  mv -f "$lic.tmp" "$lic" || die "cannot rename $lic.tmp to $lic"
fi

# ---- 3. summary ----------------------------------------------------------------------------------
bytes=$(wc -c <"$out" | tr -d ' ')
say "ready: $out: $N_RECORDS records ($N_NOUN noun, $N_VERB verb, $N_ADJ adj, $N_ADV adv), $N_LABELS labels, $bytes bytes"
say "records per label, top 10:"
LC_ALL=C "${AWK:-awk}" 'match($0, /"label":"[^"]*"/) { cnt[substr($0, RSTART + 9, RLENGTH - 10)]++ }
  END { for (l in cnt) printf "%7d %s\n", cnt[l], l }' "$out" | sort -k1,1nr -k2,2 | head -n 10 |
  while read -r n l; do printf '    %-22s %6d\n' "$l" "$n"; done
