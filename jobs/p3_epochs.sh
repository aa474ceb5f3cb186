#!/bin/bash
# p3_epochs.sh - P3's epoch loop with winnow's built-in reference language model (issue 6; METHODS.md section 1).
#
# For e = 0 .. E-1:
#   1. signals: the reference model, trained on the base corpus plus every example selected so far (the "current
#      fine-tuned model"), computes each candidate's step probabilities and prompt-token features for epoch e
#      (`winnow signals SIGNALS_DECK -wn_p3_epoch e -wn_signals_train selected.jsonl`);
#   2. select: P3 for epoch e (`winnow select P3_DECK -wn_p3_epoch e -wn_p3_epochs E`): the epoch's percentile
#      threshold, the eligible set, DPP diversity within it;
#   3. update: the selected records join the training set of the next epoch's model.
# Holds fixed: the candidate pool, the budget per epoch (-k or the deck's), the number of epochs E.
# Prints one line per epoch: percentile, threshold, eligible count, picks, DPP log det (sum over rounds), and the
# share of picks with the target label (-l), then writes OUT/epochs.csv. Every run keeps its log and YAML
# provenance in OUT/.
#
# Usage: jobs/p3_epochs.sh [-n RANKS] [-E EPOCHS] [-k BUDGET] [-l LABEL] [-o OUT] SIGNALS_DECK P3_DECK [-- winnow options]
#   e.g. jobs/p3_epochs.sh -E 5 -k 500 -l noun.food inputs/wordnet_signals.opts inputs/wordnet_p3.opts
# The decks' files are used as given; the loop writes its signals to OUT/signals.h5 (-wn_signals_output,
# -wn_p3_signals), so the candidates file is not modified. Exit status: 0, or the failing run's.
set -euo pipefail
np=2 epochs=5 budget="" label="" out=out/p3_epochs
while getopts "n:E:k:l:o:h" opt; do
  case $opt in
  n) np=$OPTARG ;;
  E) epochs=$OPTARG ;;
  k) budget=$OPTARG ;;
  l) label=$OPTARG ;;
  o) out=$OPTARG ;;
  *) sed -n '2,21p' "$0"; exit 2 ;;
  esac
done
shift $((OPTIND - 1))
[ $# -ge 2 ] || { echo "p3_epochs: need SIGNALS_DECK and P3_DECK (see the header of $0)" >&2; exit 2; }
sigdeck=$1 p3deck=$2; shift 2
[ "${1:-}" = "--" ] && shift
for f in "$sigdeck" "$p3deck"; do [ -f "$f" ] || { echo "p3_epochs: deck $f is missing" >&2; exit 1; }; done
case $epochs in '' | *[!0-9]* | 0) echo "p3_epochs: -E must be a positive integer, got '$epochs'" >&2; exit 2 ;; esac
W=${WINNOW:-$(cd "$(dirname "$0")/.." && pwd)/src/winnow}
[ -x "$W" ] || { echo "p3_epochs: $W is not built (run make)" >&2; exit 1; }
: "${MPIRUN:=mpirun}"
export OMPI_ALLOW_RUN_AS_ROOT=${OMPI_ALLOW_RUN_AS_ROOT:-1} OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=${OMPI_ALLOW_RUN_AS_ROOT_CONFIRM:-1}
export OMPI_MCA_rmaps_base_oversubscribe=${OMPI_MCA_rmaps_base_oversubscribe:-1} OMPI_MCA_mpi_yield_when_idle=${OMPI_MCA_mpi_yield_when_idle:-1}
export OPENBLAS_NUM_THREADS=${OPENBLAS_NUM_THREADS:-1} HWLOC_HIDE_ERRORS=${HWLOC_HIDE_ERRORS:-2}
mkdir -p "$out"
selected=$out/selected.jsonl
: > "$selected"
field() { grep '^RESULT ' "$1" | tail -n 1 | tr ' ' '\n' | sed -n "s/^$2=//p" | head -n 1; }
extra=()
[ -n "$budget" ] && extra+=(-wn_budget "$budget")
[ -n "$label" ] && extra+=(-wn_quality_label "$label")

echo "epoch,percentile,threshold,eligible,selected,rounds,logdet,target_share,train_examples" > "$out/epochs.csv"
printf '%5s %10s %14s %9s %8s %7s %16s %12s %10s\n' epoch percentile threshold eligible picks rounds "log det (sum)" target_share trained_on
for ((e = 0; e < epochs; e++)); do
  train=""
  [ -s "$selected" ] && train=$selected
  slog=$out/signals_$e.log
  if ! "$MPIRUN" -n "$np" "$W" signals "$sigdeck" -wn_p3_epoch "$e" -wn_signals_p3 true -wn_signals_losses false \
      -wn_signals_train "$train" -wn_signals_output "$out/signals.h5" -wn_signals_force true "$@" > "$slog" 2>&1; then
    echo "p3_epochs: winnow signals failed at epoch $e (log: $slog)" >&2; tail -n 20 "$slog" >&2; exit 1
  fi
  plog=$out/epoch_$e.log
  if ! "$MPIRUN" -n "$np" "$W" select "$p3deck" -wn_p3_epoch "$e" -wn_p3_epochs "$epochs" -wn_p3_signals "$out/signals.h5" \
      "${extra[@]}" -wn_output "$out/epoch_$e" "$@" > "$plog" 2>&1; then
    echo "p3_epochs: P3 selection failed at epoch $e (log: $plog)" >&2; tail -n 20 "$plog" >&2; exit 1
  fi
  n_train=$(wc -l < "$selected")
  pct=$(field "$plog" p3_percentile) tau=$(field "$plog" p3_threshold) el=$(field "$plog" eligible)
  n=$(field "$plog" selected) rounds=$(field "$plog" rounds) ld=$(field "$plog" logdet) share=$(field "$plog" target_share)
  printf '%5d %10s %14s %9s %8s %7s %16s %12s %10s\n' "$e" "$pct" "$tau" "$el" "$n" "$rounds" "$ld" "${share:--}" "$n_train"
  echo "$e,$pct,$tau,$el,$n,$rounds,$ld,${share:-},$n_train" >> "$out/epochs.csv"
  # the model update: this epoch's picks (their full records) train the next epoch's reference model
  cat "$out/epoch_$e.jsonl" >> "$selected"
done
echo "per-epoch logs, selections and provenance in $out/; summary in $out/epochs.csv"
