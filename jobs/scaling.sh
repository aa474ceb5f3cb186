#!/bin/bash
# jobs/scaling.sh - the driver behind the scaling job scripts (jobs/slurm/strong.sbatch, jobs/slurm/weak.sbatch,
# jobs/pbs/strong.pbs, jobs/pbs/weak.pbs); also usable directly on a workstation.
#
#   jobs/scaling.sh strong|weak
#
# strong: a fixed problem; only the rank count varies. Every run is `winnow WN_SUBCMD WN_DECK WN_ARGS`.
# weak:   a fixed amount of work per rank: the problem grows with the rank count. With WN_SUBCMD=bench the
#         candidate count is -wn_bench_n = WN_PER_RANK x ranks; with run/select it is -wn_subsample = WN_PER_RANK x
#         ranks (a seeded subsample of the deck's pool). Everything else is held fixed.
# For each rank count in WN_RANKS it runs winnow WN_REPEAT times, each run with its own log and YAML provenance
# (-wn_output per run, bench: the log only), then writes results.csv (jobs/collect: one row per run, with every
# RESULT key, per-phase *_s times included) and results.png / results.svg (jobs/plot: time and parallel
# efficiency per phase against ranks).
#
# Environment (defaults): WN_SUBCMD (run), WN_DECK (inputs/wordnet_food_fl.opts; none for bench), WN_RANKS ("1 2"),
# WN_PER_RANK (weak: 50000), WN_REPEAT (1), WN_ARGS (extra winnow options), WN_OUT (out/scaling-<mode>-<date>),
# WN_WINNOW (src/winnow), WN_LAUNCHER (mpirun or srun; default mpirun), WN_OVERSUBSCRIBE (1: allow more ranks than
# cores, for tests on small machines).
# Exit status: 0 when every run succeeded and the table was written (a missing gnuplot only skips the plot); else 1.
set -euo pipefail
mode=${1:-}
case $mode in strong | weak) ;; *) sed -n '2,23p' "$0" | sed 's/^# \{0,1\}//'; exit 2 ;; esac
here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
root=$(cd "$here/.." && pwd)
subcmd=${WN_SUBCMD:-run}
deck=${WN_DECK-inputs/wordnet_food_fl.opts}
[ "$subcmd" = bench ] && deck=${WN_DECK:-}
ranks=${WN_RANKS:-1 2}
per_rank=${WN_PER_RANK:-50000}
repeat=${WN_REPEAT:-1}
winnow=${WN_WINNOW:-$root/src/winnow}
out=${WN_OUT:-out/scaling-$mode-$(date +%Y%m%d-%H%M%S)}
die() { echo "scaling.sh: ERROR: $*" >&2; exit 1; }
[ -x "$winnow" ] || die "program '$winnow' not found (build with make, or set WN_WINNOW)"
[ -z "$deck" ] || [ -f "$deck" ] || die "deck '$deck' not found in $PWD (set WN_DECK)"
mkdir -p "$out"

if [ "$(id -u)" -eq 0 ]; then export OMPI_ALLOW_RUN_AS_ROOT=1 OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1; fi
export OMPI_MCA_mpi_yield_when_idle=1 OPENBLAS_NUM_THREADS=1 OMP_NUM_THREADS=1 HWLOC_HIDE_ERRORS=2
[ "${WN_OVERSUBSCRIBE:-1}" = 1 ] && export OMPI_MCA_rmaps_base_oversubscribe=1
{
  echo "# winnow $mode scaling: $(date '+%Y-%m-%d %H:%M:%S %z') on $(hostname) (job ${SLURM_JOB_ID:-${PBS_JOBID:-none}})"
  echo "# held fixed: $([ "$mode" = strong ] && echo "the whole problem" || echo "$per_rank candidates per rank"); varies: ranks = $ranks"
  echo "# command: winnow $subcmd ${deck:-} ${WN_ARGS:-}   source: $(git -C "$root" describe --always --dirty 2>/dev/null || echo '?')"
} | tee "$out/README"

for r in $ranks; do
  extra=()
  if [ "$mode" = weak ]; then
    n=$((per_rank * r))
    if [ "$subcmd" = bench ]; then extra=(-wn_bench_n "$n"); else extra=(-wn_subsample "$n"); fi
  fi
  case ${WN_LAUNCHER:-mpirun} in
  mpirun) launch=(mpirun -n "$r") ;;
  srun) launch=(srun -n "$r" --mpi=pmix) ;;
  *) die "WN_LAUNCHER must be mpirun or srun" ;;
  esac
  for ((k = 1; k <= repeat; k++)); do
    tag=$(printf 'p%04d-r%d' "$r" "$k")
    args=("$subcmd")
    [ -n "$deck" ] && args+=("$deck")
    [ "$subcmd" = bench ] || args+=(-wn_output "$out/$tag")
    # shellcheck disable=SC2206 # WN_ARGS is a list of options
    args+=("${extra[@]}" -wn_progress 0 ${WN_ARGS:-})
    echo "# $tag: ${launch[*]} $winnow ${args[*]}" > "$out/$tag.log"
    t0=$(date +%s.%N)
    if ! "${launch[@]}" "$winnow" "${args[@]}" >> "$out/$tag.log" 2>&1; then
      tail -n 20 "$out/$tag.log" >&2
      die "the run on $r ranks failed (log: $out/$tag.log)"
    fi
    awk -v a="$t0" -v b="$(date +%s.%N)" -v t="$tag" 'BEGIN { printf "%s: %.2f s wall\n", t, b - a }'
  done
done
"$here/collect" -o "$out/results.csv" "$out"/p*.log
echo "table: $out/results.csv ($(($(wc -l < "$out/results.csv") - 1)) runs)"
plotflags=()
[ "$mode" = weak ] && plotflags=(-w)
if "$here/plot" "${plotflags[@]}" -o "$out/results" "$out/results.csv" > /dev/null; then
  echo "plots: $out/results.png $out/results.svg"
else
  echo "scaling.sh: no plot (see the message above); the table is in $out/results.csv" >&2
fi
