#!/bin/bash
# errors.sh - the bad-input catalogue: each case must end with ONE clear message (a single "winnow: error"
# line, from rank 0, naming the problem), a non-zero exit, no hang, and no output file left behind.
# Runs on 3 ranks so that errors seen by one rank only must still be agreed. TAP.
. "${top_srcdir:-.}/tests/mpi/common.sh"
W="$top_builddir/src/winnow"
MK="$top_builddir/tests/tools/mkdata"
NP=${ERRORS_NP:-3}
dir=$(wn_tmpdir)
"$MK" "$dir/good.h5" -n 50 -m 6 -d 8 -labels 3 -npy "$dir" >/dev/null || { echo "1..0 # SKIP mkdata failed"; exit 0; }
"$MK" "$dir/tiny.h5" -n 7 -m 2 -d 4 >/dev/null
"$MK" "$dir/nan.h5" -n 50 -m 6 -d 8 -nan 17 >/dev/null
"$MK" "$dir/inf.h5" -n 50 -m 6 -d 8 -inf 33 >/dev/null
"$MK" "$dir/bad3d.h5" -n 50 -m 6 -d 8 -bad3d >/dev/null
"$MK" "$dir/badtype.h5" -n 50 -m 6 -d 8 -badtype >/dev/null
"$MK" "$dir/dmismatch.h5" -n 50 -m 6 -d 8 -targets_d 5 >/dev/null
# a well-formed version 1.0 header (10 + 118 bytes) that declares Fortran order, then 3 x 2 float32
{ printf '\223NUMPY\001\000\166\000'; printf '%-117s\n' '{"descr": "<f4", "fortran_order": True, "shape": (3, 2), }'; head -c 24 /dev/zero; } > "$dir/fortran.npy"
printf 'not a numpy file at all' > "$dir/garbage.npy"
head -c 200 "$dir/candidates.npy" > "$dir/truncated.npy"
printf -- '-wn_candidates %s\n-wn_budgte 5\n' "$dir/good.h5" > "$dir/typo.opts"
printf 'deadbeef\n' > "$dir/warm_bad.txt"
mkdir -p "$dir/adir.jsonl"
printf '{"text": "a b", "label": "x"}\n{"text": "c d", "label": "y"}\n{"text": "e f" "label": "x"}\n' > "$dir/bad.jsonl"
printf '{"text": "a b", "label": "x"}\n{"body": "c d", "label": "y"}\n' > "$dir/nofield.jsonl"
printf -- '-wn_budget 5\nwn_method fl\n' > "$dir/nodash.opts"
i=0; while [ $i -lt 50 ]; do echo '{}'; i=$((i + 1)); done > "$dir/good.h5x.jsonl"

cases=0; i=0
declare -a NAMES EXPECTS ARGSS
add() { NAMES[$cases]=$1; EXPECTS[$cases]=$2; shift 2; ARGSS[$cases]="$*"; cases=$((cases + 1)); }
C="-wn_candidates $dir/good.h5"
add "missing file"            "cannot open.*nothere.h5"                run -wn_candidates $dir/nothere.h5
add "missing dataset"         "/candidates/nope"                       run $C -wn_candidates_dataset /candidates/nope
add "3-D embedding"           "3-D|dimension|rank"                     run -wn_candidates $dir/bad3d.h5
add "integer embedding"       "type|float"                             run -wn_candidates $dir/badtype.h5
add "d differs"               "d = 5.*d = 8|5.*8"                      run -wn_candidates $dir/dmismatch.h5
add "NaN in embeddings"       "NaN|not finite|Inf.*17|17"              run -wn_candidates $dir/nan.h5
add "Inf in embeddings"       "Inf|not finite|33"                      run -wn_candidates $dir/inf.h5
add "budget zero"             "budget.*positive|budget.*0"             run $C -wn_budget 0
add "budget negative"         "budget.*positive|-3"                    run $C -wn_budget -3
add "budget larger than N"    "larger than the pool"                   run $C -wn_budget 51
add "budget not a number"     "not a number"                           run $C -wn_budget lots
add "unknown key in deck"     "unknown option -wn_budgte.*did you mean -wn_budget"  run $dir/typo.opts
add "unknown key on the line" "unknown option -wn_kernal_metric"       run $C -wn_kernal_metric dot
add "unknown method"          "not a known method"                     run $C -wn_method dpp_typo
add "unknown enum value"      "wn_p3_mode .foo. is not one of: rounds, onepass"  run $C -wn_method p3 -wn_p3_mode foo
add "fortran-order .npy"      "fortran_order True|Fortran|C order"                                run -wn_candidates $dir/fortran.npy -wn_targets $dir/targets.npy
add "not a .npy or HDF5 file" "garbage.npy"                            run -wn_candidates $dir/garbage.npy -wn_targets $dir/targets.npy
add "truncated .npy"          "truncated"                              run -wn_candidates $dir/truncated.npy -wn_targets $dir/targets.npy
add "unwritable output dir"   "cannot write outputs"                   run $C -wn_output /dev/null/sub/out
add "missing deck"            "cannot read the deck"                   run $dir/nodeck.opts
add "memory limit"            "needs .* per rank but the limit"       run $C -wn_method fl_pool -wn_memory_limit 2K
add "missing kernel file"     "cannot open.*nokernel.h5"               select -wn_kernel_file $dir/nokernel.h5
add "warm-start id unknown"   "deadbeef"                               run $C -wn_warm_start $dir/warm_bad.txt
add "rbf gamma not positive"  "gamma must be > 0"                      run $C -wn_kernel_metric rbf -wn_kernel_gamma 0
add "unknown subcommand"      "unknown subcommand"                     selekt $C
add "featurize: malformed line" "bad.jsonl' line 3"                   featurize -wn_text $dir/bad.jsonl -wn_id_field "" -wn_embeddings $dir/out_f1.h5
add "featurize: missing field" "line 2: missing text field 'text'"     featurize -wn_text $dir/nofield.jsonl -wn_id_field "" -wn_embeddings $dir/out_f2.h5
add "featurize: no such label" "no record has label 'z'"               featurize -wn_text $dir/nofield.jsonl -wn_id_field "" -wn_holdout_label z -wn_skip_bad -wn_embeddings $dir/out_f3.h5
add "featurize: missing input" "nothere.jsonl"                         featurize -wn_text $dir/nothere.jsonl -wn_embeddings $dir/out_f4.h5
add "tsds: C not positive"     "wn_tsds_c must be > 0"                 run $C -wn_method tsds -wn_tsds_c 0
add "tsds: sigma negative"     "wn_tsds_sigma must be >= 0"            run $C -wn_method tsds -wn_tsds_sigma -1
add "tsds: pool too small"     "at least 10 candidates"                        run -wn_candidates $dir/tiny.h5 -wn_method tsds -wn_budget 2
add "sparse k above the pool"  "wn_kernel_sparse_k 80 is larger"       run $C -wn_method fl_pool -wn_kernel_sparse_k 80
add "tsds: kernel subcommand"  "needs no kernel"                       kernel $C -wn_method tsds
add "deck line without a dash" "nodash.opts' line 2: 'wn_method' is not an option" run $dir/nodash.opts
add "deck is a directory"     "cannot read the deck|not an option|Is a directory" run $dir/adir.jsonl/
add "deck after the options"  "must come right after the subcommand"   run $C $dir/typo.opts
add "warm start a directory"  "is a directory"                         run $C -wn_warm_start $dir
add "output prefix a dir"     "must be a file prefix"                  run $C -wn_output $dir/
add "output name is a dir"    "exists and is not a regular file"       run $C -wn_output $dir/adir
add "output overwrites input" "would overwrite the input"              run $C -wn_output ${dir}/good.h5x -wn_records $dir/good.h5x.jsonl

echo "1..$cases"
for ((c = 0; c < cases; c++)); do
  i=$((i + 1))
  out="$dir/out$c"
  log="$dir/case$c.log"
  # shellcheck disable=SC2086
  extra="-wn_output $out"
  case " ${ARGSS[$c]} " in *" -wn_output "*) extra="" ;; esac
  wn_mpirun "$NP" "$W" ${ARGSS[$c]} $extra -wn_progress 0 > "$log" 2>&1; rc=$?
  nerr=$(grep -c "winnow: error" "$log")
  left=$(ls -A "$dir" | grep -E "^\.?out($c|_f[0-9])\." | tr '\n' ' ')
  ok=1; why=""
  [ $rc -ne 0 ] || { ok=0; why="$why exit 0;"; }
  [ $rc -ne 124 ] || { ok=0; why="$why timed out (hang);"; }
  grep "winnow: error" "$log" | grep -Eq "${EXPECTS[$c]}" || { ok=0; why="$why message does not match /${EXPECTS[$c]}/;"; }
  [ "$nerr" -eq 1 ] || { ok=0; why="$why $nerr error lines (want 1);"; }
  [ -z "$left" ] || { ok=0; why="$why left behind: $left;"; }
  tap $ok $i "${NAMES[$c]}$why"
  grep "winnow: error" "$log" | sed 's/^/#   /'
  [ $ok -eq 1 ] || sed 's/^/# /' "$log" | head -30
done
