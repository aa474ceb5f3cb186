#!/bin/sh
# wordnet.sh - the WordNet corpus conversion (inputs/wordnet/wordnet2jsonl and prepare.sh) on the installed
# Debian wordnet-base: record count, the 45 labels, every line valid JSON (winnow's own strict reader),
# known records verbatim, per-label counts against an independent count over the raw data files, JSON
# escaping on a hand-made database, the error on a missing database, and prepare.sh. TAP.
# Skipped when wordnet-base is not installed. Serial, no MPI; about 5 s.
# shellcheck disable=SC1091,SC2154 # common.sh is found at run time and sets wn_srcdir, wn_builddir
. "${top_srcdir:-.}/tests/mpi/common.sh"
WN=${WORDNET_DIR:-/usr/share/wordnet}
CONV="$wn_srcdir/inputs/wordnet/wordnet2jsonl"
PREP="$wn_srcdir/inputs/wordnet/prepare.sh"
JC="$wn_builddir/tests/tools/jsonlcheck"
[ -f "$WN/data.noun" ] || wn_skip_all "$WN/data.noun is missing (install the Debian package wordnet-base)"
dir=$(wn_mktemp wordnet)
# labels FILE: the label of every line of FILE (our compact output: "label":"..." cannot occur inside a
# JSON string, whose quotes are all escaped)
labels() { LC_ALL=C awk 'match($0, /"label":"[^"]*"/) { print substr($0, RSTART + 9, RLENGTH - 10) }' "$1"; }
out=$dir/wordnet.jsonl
wn_plan 19

# 1. the conversion runs, quietly (no warnings: offsets match the bytes, the data are ASCII), in seconds
t0=$(date +%s)
"$CONV" -o "$out" "$WN" 2>"$dir/conv.err"
rc=$?
t1=$(date +%s)
[ $rc = 0 ] && [ ! -s "$dir/conv.err" ] && [ -f "$out" ]
tap_rc $? 1 "wordnet2jsonl converts $WN in $((t1 - t0)) s, exit 0, nothing on stderr"
wn_diag_file "$dir/conv.err"

# 2. record count
n=$(wc -l <"$out" | tr -d ' ')
[ "$n" = 117659 ]
tap_rc $? 2 "117,659 records (got $n)"

# 3. every line is one valid JSON object with all the fields (winnow's strict JSON reader)
if [ -x "$JC" ]; then
  wn_check "every line is valid JSON with id, lemma, lemmas, gloss, text, label, pos" \
    "$JC" "$out" -lines 117659 id lemma lemmas gloss text label pos
else
  wn_skip "every line is valid JSON with the fields" "$JC is not built (make check builds it)"
fi

# 4. the labels are exactly the 45 lexicographer files of lexnames(5WN)
# the 45 lexicographer files by number (lexnames(5WN)): used here and for the per-label counts below
awk '{ printf "%02d %s\n", NR - 1, $0 }' <<'EOF' >"$dir/lexnum"
adj.all
adj.pert
adv.all
noun.Tops
noun.act
noun.animal
noun.artifact
noun.attribute
noun.body
noun.cognition
noun.communication
noun.event
noun.feeling
noun.food
noun.group
noun.location
noun.motive
noun.object
noun.person
noun.phenomenon
noun.plant
noun.possession
noun.process
noun.quantity
noun.relation
noun.shape
noun.state
noun.substance
noun.time
verb.body
verb.change
verb.cognition
verb.communication
verb.competition
verb.consumption
verb.contact
verb.creation
verb.emotion
verb.motion
verb.perception
verb.possession
verb.social
verb.stative
verb.weather
adj.ppl
EOF
cut -d' ' -f2 "$dir/lexnum" >"$dir/lexnames"
labels "$out" | LC_ALL=C sort -u >"$dir/labels"
nl=$(wc -l <"$dir/labels" | tr -d ' ')
LC_ALL=C sort "$dir/lexnames" | cmp -s - "$dir/labels"
tap_rc $? 4 "45 distinct labels, exactly the lexnames(5WN) names (got $nl)"

# 5. ids unique and well formed; records in the order noun, verb, adj, adv; first and last ids
LC_ALL=C awk '
  BEGIN { rank["noun"] = 1; rank["verb"] = 2; rank["adj"] = 3; rank["adv"] = 4; want["noun"] = "n"; want["verb"] = "v"; want["adj"] = "as"; want["adv"] = "r" }
  {
    if (!match($0, /^\{"id":"[nvasr][0-9][0-9][0-9][0-9][0-9][0-9][0-9][0-9]"/)) { print "line " NR ": bad id"; exit 1 }
    id = substr($0, 8, 9)
    if (id in seen) { print "line " NR ": id " id " repeated"; exit 1 }
    seen[id] = 1
    if (!match($0, /"pos":"[a-z]*"\}$/)) { print "line " NR ": no pos at the end"; exit 1 }
    p = substr($0, RSTART + 7, RLENGTH - 9)
    if (!(p in rank) || rank[p] < last) { print "line " NR ": pos " p " out of order"; exit 1 }
    if (index(want[p], substr(id, 1, 1)) == 0) { print "line " NR ": id " id " in pos " p; exit 1 }
    last = rank[p]
    if (NR == 1) first = id
    lastid = id
  }
  END { if (first != "n00001740" || lastid != "r00516492") { print "first " first ", last " lastid; exit 1 } }' "$out" >"$dir/order.err"
tap_rc $? 5 "ids unique, [nvasr] + 8 digits matching pos; order noun, verb, adj, adv; first n00001740, last r00516492"
wn_diag_file "$dir/order.err"

# 6. records per part of speech = synset lines of each data file (counted independently: lines that
#    do not start with two spaces)
ok=1
counts=
for p in noun verb adj adv; do
  a=$(grep -vc '^  ' "$WN/data.$p")
  b=$(grep -c "\"pos\":\"$p\"}\$" "$out")
  [ "$a" = "$b" ] || {
    ok=0
    wn_diag "data.$p has $a synset lines, the JSONL $b $p records"
  }
  counts="$counts $p=$b"
done
tap $ok 6 "records per pos equal the synset lines of each data file:$counts"

# 7. noun.food: the JSONL count equals an independent count (field 2 == 13 in data.noun), 2,573 in WordNet 3.0
food_raw=$(LC_ALL=C awk '!/^  / && $2 == "13" { n++ } END { print n + 0 }' "$WN/data.noun")
food=$(grep -c '"label":"noun.food"' "$out")
[ "$food" = "$food_raw" ] && [ "$food" = 2573 ]
tap_rc $? 7 "noun.food has $food records; data.noun has $food_raw lines with lex_filenum 13 (expected 2573)"

# 8. every label's count equals the raw count of its lex_filenum over the four data files
LC_ALL=C awk '!/^  / { n[$2]++ } END { for (k in n) print k, n[k] }' "$WN/data.noun" "$WN/data.verb" \
  "$WN/data.adj" "$WN/data.adv" | LC_ALL=C sort >"$dir/raw.counts"
labels "$out" | LC_ALL=C sort | uniq -c |
  LC_ALL=C awk 'NR == FNR { num[$2] = $1; next } { print num[$2], $1 }' "$dir/lexnum" - | LC_ALL=C sort >"$dir/json.counts"
cmp -s "$dir/raw.counts" "$dir/json.counts"
tap_rc $? 8 "all 45 label counts equal the lex_filenum counts of the raw data files"
cmp -s "$dir/raw.counts" "$dir/json.counts" || diff "$dir/raw.counts" "$dir/json.counts" | sed 's/^/# /'
wn_diag "largest labels: $(labels "$out" | sort | uniq -c | sort -rn | head -5 | awk '{ printf "%s%s %s", (NR > 1 ? ", " : ""), $2, $1 }')"

# 9-14. known records, verbatim (checked by hand against the raw lines of the data files): a noun with
# an example, a noun.food noun, a verb with a multi-word lemma and verb frames, an adjective satellite
# whose words carry the "(p)" marker, an adverb with five words, a participial adjective (adj.ppl)
cat >"$dir/known" <<'EOF'
{"id":"n02084071","lemma":"dog","lemmas":["dog","domestic dog","Canis familiaris"],"gloss":"a member of the genus Canis (probably descended from the common wolf) that has been domesticated by man since prehistoric times; occurs in many breeds; \"the dog barked all night\"","text":"define dog: a member of the genus Canis (probably descended from the common wolf) that has been domesticated by man since prehistoric times; occurs in many breeds; \"the dog barked all night\"","label":"noun.animal","pos":"noun"}
{"id":"n07739125","lemma":"apple","lemmas":["apple"],"gloss":"fruit with red or yellow or green skin and sweet to tart crisp whitish flesh","text":"define apple: fruit with red or yellow or green skin and sweet to tart crisp whitish flesh","label":"noun.food","pos":"noun"}
{"id":"v00001740","lemma":"breathe","lemmas":["breathe","take a breath","respire","suspire"],"gloss":"draw air into, and expel out of, the lungs; \"I can breathe better when the air is clean\"; \"The patient is respiring\"","text":"define breathe: draw air into, and expel out of, the lungs; \"I can breathe better when the air is clean\"; \"The patient is respiring\"","label":"verb.body","pos":"verb"}
{"id":"s00032358","lemma":"about","lemmas":["about","astir"],"gloss":"on the move; \"up and about\"; \"the whole town was astir over the incident\"","text":"define about: on the move; \"up and about\"; \"the whole town was astir over the incident\"","label":"adj.all","pos":"adj"}
{"id":"r00085811","lemma":"quickly","lemmas":["quickly","rapidly","speedily","chop-chop","apace"],"gloss":"with rapid movements; \"he works quickly\"","text":"define quickly: with rapid movements; \"he works quickly\"","label":"adv.all","pos":"adv"}
{"id":"a03147282","lemma":"avenged","lemmas":["avenged"],"gloss":"for which vengeance has been taken; \"an avenged injury\"","text":"define avenged: for which vengeance has been taken; \"an avenged injury\"","label":"adj.ppl","pos":"adj"}
EOF
i=8
while IFS= read -r want; do
  i=$((i + 1))
  id=$(printf '%s\n' "$want" | cut -c8-16)
  got=$(grep -F "{\"id\":\"$id\"," "$out")
  lab=$(printf '%s\n' "$want" | sed 's/.*"label":"\([^"]*\)".*/\1/')
  [ "$got" = "$want" ]
  tap_rc $? $i "record $id ($lab) verbatim"
  [ "$got" = "$want" ] || {
    wn_diag "expected: $want"
    wn_diag "got:      $got"
  }
done <"$dir/known"

# 15. on every line: text = "define " lemma ": " gloss, lemma = lemmas[0], and no word keeps an underscore
#     or an adjective marker (compared on the escaped JSON text, which is the same transformation for all)
LC_ALL=C awk '
  function str(key) {
    if (!match($0, "\"" key "\":\"([^\"\\\\]|\\\\.)*\"")) return "\001"
    return substr($0, RSTART + length(key) + 4, RLENGTH - length(key) - 5)
  }
  {
    lemma = str("lemma"); gloss = str("gloss"); text = str("text")
    if (lemma == "\001" || gloss == "\001" || text == "\001") { print "line " NR ": a field is missing"; exit 1 }
    if (text != "define " lemma ": " gloss) { print "line " NR ": text is not define <lemma>: <gloss>"; exit 1 }
    if (gloss == "" || gloss ~ /^ / || gloss ~ / $/) { print "line " NR ": gloss empty or not trimmed"; exit 1 }
    if (!match($0, /"lemmas":\[[^]]*\]/)) { print "line " NR ": no lemmas array"; exit 1 }
    lem = substr($0, RSTART + 10, RLENGTH - 11)
    if (index(lem, "\"" lemma "\"") != 1) { print "line " NR ": lemma is not the first of lemmas"; exit 1 }
    if (lem ~ /_|\((a|p|ip)\)"/) { print "line " NR ": a word keeps an underscore or a marker: " lem; exit 1 }
  }' "$out" >"$dir/text.err"
tap_rc $? 15 "every text is \"define <lemma>: <gloss>\", lemma = lemmas[0], glosses trimmed, words cleaned"
wn_diag_file "$dir/text.err"

# 16. JSON escaping, hex word counts, CRLF and verb frames, on a hand-made four-file database whose
#     synset offsets are the true byte offsets (after a 14-byte header line)
fx=$dir/fixture
mkdir -p "$fx"
hdr='  1 fixture  '
{
  echo "$hdr"
  printf '00000014 13 n 02 back\\slash_cake 0 "quoted"_pie 0 000 | a \\ and "q"\tand\001 end  \n'
} >"$fx/data.noun"
{
  echo "$hdr"
  printf '00000014 43 v 01 rain 0 001 @ 00000000 v 0000 01 + 01 00 | rain; "it rained"  \n'
} >"$fx/data.verb"
{
  echo "$hdr"
  printf '00000014 00 s 02 about(p) 0 well_off(a) 0 000 |  x  \r\n'
} >"$fx/data.adj"
{
  echo "$hdr"
  printf '00000014 02 r 0a w1 0 w2 0 w3 0 w4 0 w5 0 w6 0 w7 0 w8 0 w9 0 w10 1 000 | ten words  \n'
} >"$fx/data.adv"
cat >"$dir/fixture.want" <<'EOF'
{"id":"n00000014","lemma":"back\\slash cake","lemmas":["back\\slash cake","\"quoted\" pie"],"gloss":"a \\ and \"q\"\tand\u0001 end","text":"define back\\slash cake: a \\ and \"q\"\tand\u0001 end","label":"noun.food","pos":"noun"}
{"id":"v00000014","lemma":"rain","lemmas":["rain"],"gloss":"rain; \"it rained\"","text":"define rain: rain; \"it rained\"","label":"verb.weather","pos":"verb"}
{"id":"s00000014","lemma":"about","lemmas":["about","well off"],"gloss":"x","text":"define about: x","label":"adj.all","pos":"adj"}
{"id":"r00000014","lemma":"w1","lemmas":["w1","w2","w3","w4","w5","w6","w7","w8","w9","w10"],"gloss":"ten words","text":"define w1: ten words","label":"adv.all","pos":"adv"}
EOF
ok=1
"$CONV" "$fx" >"$dir/fixture.jsonl" 2>"$dir/fixture.err" || ok=0
[ -s "$dir/fixture.err" ] && ok=0
cmp -s "$dir/fixture.want" "$dir/fixture.jsonl" || {
  ok=0
  diff "$dir/fixture.want" "$dir/fixture.jsonl" | sed 's/^/# /'
}
if [ -x "$JC" ]; then "$JC" "$dir/fixture.jsonl" -lines 4 id text label >/dev/null 2>>"$dir/fixture.err" || ok=0; fi
tap $ok 16 "escaping of backslash, quote, tab and control bytes; markers; hex w_cnt 0a; CRLF; verb frames; valid JSON"
wn_diag_file "$dir/fixture.err"

# 17. a missing database: exit 1 and a message naming the file and the package
"$CONV" "$dir/nowhere" >"$dir/missing.out" 2>"$dir/missing.err"
rc=$?
[ $rc = 1 ] && [ ! -s "$dir/missing.out" ] && grep -q "nowhere/data.noun is missing: install the Debian package wordnet-base" "$dir/missing.err"
tap_rc $? 17 "missing database: exit 1 (got $rc), no output, the message names data.noun and wordnet-base"
wn_diag_file "$dir/missing.err"

# 18. a malformed line: exit 1 naming file and line, and -o leaves no file behind
cp "$fx/data.noun" "$fx/data.noun.orig"
printf '00000099 13 n 01 soup 0 000 no gloss separator\n' >>"$fx/data.noun"
"$CONV" -o "$dir/bad.jsonl" "$fx" 2>"$dir/bad.err"
rc=$?
cp "$fx/data.noun.orig" "$fx/data.noun"
left=no
for f in "$dir"/bad.jsonl*; do [ -e "$f" ] && left=yes; done
[ $rc = 1 ] && [ $left = no ] &&
  grep -q 'data.noun line 3: no " | "' "$dir/bad.err"
tap_rc $? 18 "malformed line: exit 1 (got $rc), file and line named, no partial output file"
wn_diag_file "$dir/bad.err"

# 19. prepare.sh: builds DATA_DIR/wordnet.jsonl identical to the direct conversion, passes its checks, keeps
#     the licence notice; a second run finds it up to date; a database of the wrong size is refused
ok=1
"$PREP" "$dir/data" >"$dir/prep1.log" 2>&1 || ok=0
cmp -s "$out" "$dir/data/wordnet.jsonl" || ok=0
grep -q 'WordNet 3.0 Copyright 2006 by Princeton University' "$dir/data/LICENSE.wordnet" 2>/dev/null || ok=0
grep -q 'noun.artifact *11587' "$dir/prep1.log" || ok=0
"$PREP" "$dir/data" >"$dir/prep2.log" 2>&1 || ok=0
grep -q 'up to date' "$dir/prep2.log" || ok=0
WORDNET_DIR=$fx "$PREP" "$dir/data2" >"$dir/prep3.log" 2>&1 && ok=0
grep -q 'has 4 records; expected 117659' "$dir/prep3.log" || ok=0
[ -z "$(ls "$dir/data2")" ] || ok=0
tap $ok 19 "prepare.sh: builds, checks and summarizes; up to date on a second run; refuses a 4-record database"
[ $ok = 1 ] || for f in prep1 prep2 prep3; do wn_diag_file "$dir/$f.log"; done

wn_done
