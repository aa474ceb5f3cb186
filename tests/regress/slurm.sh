#!/bin/sh
# tests/regress/slurm.sh - the demo as a real batch job (TAP): start a private one-node Slurm
# (jobs/slurm/local-cluster.sh), submit jobs/slurm/demo.sbatch on 2 tasks, wait for it (polling squeue, at
# most WN_SLURM_TIMEOUT = 300 s), check it COMPLETED with exit code 0:0 and that its run.log holds a RESULT
# line, turn the log into CSV with jobs/collect; submit jobs/slurm/strong.sbatch on ranks 1 2 3 and check its CSV
# (one row per rank count) and plots; submit jobs/slurm/requeue.sbatch with a one-minute time limit on a selection
# that needs longer, and check that it checkpoints, requeues, resumes and ends with the uninterrupted selection;
# and stop Slurm again (by PID files).
#
# Skipped ("1..0 # SKIP reason", exit 0) when not root, when Slurm/munge are not installed, when
# src/winnow is not built, when the demo data ($WN_FIORI_DIR, default data/fiori) or the deck
# (WN_SLURM_DECK, default inputs/demo_fiori_flmi.opts) is missing, or when Slurm's port 6817 is already taken.
# Everything the test writes (Slurm state, logs, job outputs) is under a fresh temporary directory.
# shellcheck source=tests/mpi/common.sh
. "${top_srcdir:-.}/tests/mpi/common.sh"

# ---- preconditions -----------------------------------------------------------------------------------
[ "$(id -u)" = 0 ] || wn_skip_all "needs root to start a local Slurm (slurmctld, slurmd, munged)"
for c in slurmctld slurmd munged munge sbatch squeue scontrol sinfo; do
  command -v "$c" >/dev/null 2>&1 ||
    wn_skip_all "'$c' not installed (apt-get install slurm-wlm slurmctld slurmd munge slurm-client; ./setup.sh test does)"
done
[ -x "$WN_WINNOW" ] || wn_skip_all "winnow is not built ($WN_WINNOW)"
WN_BUILDDIR_MKDATA=$wn_builddir/tests/tools/mkdata
[ -x "$WN_BUILDDIR_MKDATA" ] || wn_skip_all "tests/tools/mkdata is not built"
[ -f "$WN_FIORI_DIR/fiori.h5" ] || wn_skip_all "demo data missing ($WN_FIORI_DIR/fiori.h5): run inputs/fiori/prepare.sh"
deck=${WN_SLURM_DECK:-$wn_srcdir/inputs/demo_fiori_flmi.opts}
[ -f "$deck" ] || wn_skip_all "demo deck missing ($deck)"
if command -v ss >/dev/null 2>&1 && [ -n "$(ss -Hltn 'sport = :6817' 2>/dev/null)" ]; then
  wn_skip_all "port 6817 is in use: another slurmctld is running (jobs/slurm/local-cluster.sh stop?)"
fi

tmp=$(wn_mktemp slurm) || wn_skip_all "cannot create a temporary directory"
chmod 711 "$tmp" # munged (user munge) keeps its socket below it
SLURM_TEST_DIR=$tmp/slurm
SLURM_CONF=$SLURM_TEST_DIR/slurm.conf
export SLURM_TEST_DIR SLURM_CONF
cluster=$wn_srcdir/jobs/slurm/local-cluster.sh
timeout_s=${WN_SLURM_TIMEOUT:-300}
started=0

stop_cluster() {
  if [ "$started" = 1 ]; then
    "$cluster" stop >"$tmp/stop.txt" 2>&1
    started=0
  fi
}
trap 'stop_cluster; wn_exit_' EXIT

# on an early failure: report the remaining checks as failed, show the logs, stop
bail() {
  while [ "$wn_test_n" -lt 10 ]; do wn_not_ok "not reached ($1)"; done
  for f in "$tmp"/*.out "$SLURM_TEST_DIR/log/slurmctld.log" "$SLURM_TEST_DIR/log/slurmd.log"; do
    [ -f "$f" ] && { wn_diag "---- $f (last 40 lines)"; tail -n 40 "$f" | sed 's/^/# /'; }
  done
  stop_cluster
  wn_done
}

wn_plan 10

# ---- 1. start ------------------------------------------------------------------------------------------
if "$cluster" start >"$tmp/start.txt" 2>&1; then
  started=1
  wn_ok "local Slurm started (node idle)"
  wn_diag_file "$tmp/start.txt"
else
  started=1 # whatever did start must be stopped
  wn_not_ok "local Slurm started (node idle)"
  wn_diag_file "$tmp/start.txt"
  bail "after a failed start"
fi
pids=$(cat "$SLURM_TEST_DIR/slurmctld.pid" "$SLURM_TEST_DIR/slurmd.pid" "$SLURM_TEST_DIR/munge/munged.pid" 2>/dev/null)

# ---- 2. submit -----------------------------------------------------------------------------------------
jid=$(cd "$wn_srcdir" && WN_DECK=$deck WN_OUT_ROOT=$tmp/out WN_WINNOW=$WN_WINNOW \
  sbatch --parsable --ntasks=2 --time=00:10:00 -o "$tmp/%x-%j.out" "$wn_srcdir/jobs/slurm/demo.sbatch" 2>"$tmp/sbatch.err")
jid=${jid%%;*}
case $jid in
'' | *[!0-9]*)
  wn_not_ok "sbatch jobs/slurm/demo.sbatch"
  wn_diag_file "$tmp/sbatch.err"
  bail "after a failed submission"
  ;;
esac
wn_ok "sbatch jobs/slurm/demo.sbatch (job $jid, deck $(basename "$deck"))"

# ---- 3. wait and check the final state -------------------------------------------------------------------
t0=$(date +%s)
while squeue -h -j "$jid" 2>/dev/null | grep -q .; do
  if [ $(($(date +%s) - t0)) -ge "$timeout_s" ]; then
    scancel "$jid" 2>/dev/null
    wn_not_ok "job $jid finished within $timeout_s s"
    bail "after a time-out"
  fi
  sleep 0.5
done
info=$(scontrol show job "$jid" 2>&1)
state=$(printf '%s\n' "$info" | sed -n 's/.*JobState=\([A-Z_]*\).*/\1/p' | head -n 1)
code=$(printf '%s\n' "$info" | sed -n 's/.* ExitCode=\([0-9:]*\).*/\1/p' | head -n 1)
if [ "$state" = COMPLETED ] && [ "$code" = 0:0 ]; then
  wn_ok "job $jid COMPLETED with exit code 0:0 after $(($(date +%s) - t0)) s"
else
  wn_not_ok "job $jid COMPLETED with exit code 0:0 (got JobState=$state ExitCode=$code)"
fi

# ---- 4. the run log ----------------------------------------------------------------------------------------
log=$tmp/out/winnow-demo-$jid/run.log
if [ -f "$log" ] && grep -q '^[[:space:]]*RESULT[[:space:]]' "$log"; then
  wn_ok "run log has a RESULT line (checksum=$(wn_result_field "$log" checksum))"
  grep '^[[:space:]]*RESULT[[:space:]]' "$log" | sed 's/^/# /'
else
  wn_not_ok "run log $log has a RESULT line"
  wn_diag_file "$log"
  wn_diag_file "$tmp/winnow-demo-$jid.out"
fi

# ---- 5. jobs/collect ---------------------------------------------------------------------------------------
csv=$tmp/result.csv
if "$wn_srcdir/jobs/collect" "$log" >"$csv" 2>"$tmp/collect.err" && [ "$(wc -l <"$csv")" -ge 2 ] &&
  head -n 1 "$csv" | grep -q '^file,'; then
  wn_ok "jobs/collect made a CSV with a header and $(($(wc -l <"$csv") - 1)) row(s)"
  wn_diag_file "$csv"
else
  wn_not_ok "jobs/collect made a CSV with a header and a row"
  wn_diag_file "$tmp/collect.err"
fi

# wait_job JID: until it leaves the queue (requeues included) or the time-out; prints JobState ExitCode Restarts
wait_job() {
  t0=$(date +%s)
  while :; do
    st=$(scontrol show job "$1" 2>/dev/null | sed -n 's/.*JobState=\([A-Z_]*\).*/\1/p' | head -n 1)
    case $st in COMPLETED | FAILED | CANCELLED | TIMEOUT | NODE_FAIL | OUT_OF_MEMORY | BOOT_FAIL | DEADLINE | PREEMPTED | "") break ;; esac
    [ $(($(date +%s) - t0)) -ge "${2:-$timeout_s}" ] && { scancel "$1" 2>/dev/null; echo "TIMEOUT-WAIT"; return; }
    # a requeued job waits for a begin time Slurm sets about 2 minutes ahead: release it, but only after it has been
    # pending for a few seconds (released in the same second as the requeue, Slurm revokes the restart's credential)
    if [ "$st" = PENDING ]; then pend=$((${pend:-0} + 1)); else pend=0; fi
    [ "${pend:-0}" -ge 3 ] && scontrol update JobId="$1" StartTime=now >/dev/null 2>&1
    sleep 1
  done
  info=$(scontrol show job "$1" 2>&1)
  printf '%s %s %s\n' "$(printf '%s\n' "$info" | sed -n 's/.*JobState=\([A-Z_]*\).*/\1/p' | head -n 1)" \
    "$(printf '%s\n' "$info" | sed -n 's/.* ExitCode=\([0-9:]*\).*/\1/p' | head -n 1)" "$(printf '%s\n' "$info" | sed -n 's/.*Restarts=\([0-9]*\).*/\1/p' | head -n 1)"
}

# ---- 6-7. strong scaling: jobs/slurm/strong.sbatch on ranks 1 2 3, CSV and plots ----------------------------------
"$WN_BUILDDIR_MKDATA" "$tmp/sc.h5" -n 3000 -m 50 -d 32 -seed 3 >/dev/null 2>&1
jid=$(cd "$wn_srcdir" && WN_DECK= WN_RANKS="1 2 3" WN_OUT="$tmp/strong" WN_WINNOW=$WN_WINNOW WN_ARGS="-wn_candidates $tmp/sc.h5 -wn_method fl -wn_budget 50" \
  sbatch --parsable --ntasks=2 --time=00:10:00 -o "$tmp/%x-%j.out" "$wn_srcdir/jobs/slurm/strong.sbatch" 2>"$tmp/sbatch2.err")
jid=${jid%%;*}
res=$(wait_job "$jid")
set -- $res
[ "$1" = COMPLETED ] && [ "$2" = 0:0 ]; tap_rc $? 6 "jobs/slurm/strong.sbatch (job $jid) COMPLETED ($res)"
rows=$(($(wc -l < "$tmp/strong/results.csv" 2>/dev/null || echo 1) - 1))
ranks_seen=$(awk -F, 'NR == 1 { for (i = 1; i <= NF; i++) if ($i == "ranks") c = i; next } c { print $c }' "$tmp/strong/results.csv" 2>/dev/null | sort -n | tr '\n' ' ')
[ "$rows" = 3 ] && [ "$ranks_seen" = "1 2 3 " ] && [ -s "$tmp/strong/results.png" ] && [ -s "$tmp/strong/results.svg" ]
tap_rc $? 7 "results.csv has one row per rank count ($ranks_seen), results.png and results.svg exist"
[ "$rows" = 3 ] || { wn_diag_file "$tmp/winnow-strong-$jid.out"; wn_diag_file "$tmp/strong/results.csv"; }

# ---- 8-9. a job whose time limit interrupts it: USR1 -> checkpoint (exit 4) -> requeue -> resume ------------------
"$WN_BUILDDIR_MKDATA" "$tmp/rq.h5" -n 8000 -m 10 -d 16 -seed 5 >/dev/null 2>&1
rq="-wn_candidates $tmp/rq.h5 -wn_method fl_pool -wn_budget 2500"
jid=$(cd "$wn_srcdir" && WN_DECK= WN_OUT_ROOT="$tmp/rq" WN_WINNOW=$WN_WINNOW WN_CKPT_EVERY=500 WN_ARGS="$rq -wn_greedy naive" \
  sbatch --parsable --ntasks=2 --time=1 --signal=B:USR1@30 -o "$tmp/%x-%j.out" "$wn_srcdir/jobs/slurm/requeue.sbatch" 2>"$tmp/sbatch3.err")
jid=${jid%%;*}
res=$(wait_job "$jid" 480)
set -- $res
restarts=${3:-0}
[ "$1" = COMPLETED ] && [ "$2" = 0:0 ] && [ "${restarts:-0}" -ge 1 ] && ls "$tmp/rq"/*/attempt-1.log >/dev/null 2>&1
tap_rc $? 8 "jobs/slurm/requeue.sbatch (job $jid, --time=1): interrupted, requeued $restarts time(s), COMPLETED ($res)"
for f in "$tmp/rq"/*/attempt-*.log; do [ -f "$f" ] && { wn_diag "---- $f"; grep -E '^#|checkpoint|restart:|RESULT' "$f" | tail -n 8 | sed 's/^/# /'; }; done
WN_NP=2 wn_mpirun 2 "$WN_WINNOW" run $rq -wn_greedy lazy -wn_progress 0 -wn_output "$tmp/rq_ref" > "$tmp/rq_ref.log" 2>&1
last=$(ls "$tmp/rq"/*/attempt-*.log 2>/dev/null | sort -t- -k2 -n | tail -n 1)
a=$(wn_result_field "$last" checksum); b=$(wn_result_field "$tmp/rq_ref.log" checksum)
[ -n "$a" ] && [ "$a" = "$b" ]; tap_rc $? 9 "the requeued job ends with the uninterrupted selection (checksum $a = $b)"

# ---- 10. stop -------------------------------------------------------------------------------------------
stop_cluster
left=""
for p in $pids; do kill -0 "$p" 2>/dev/null && left="$left $p"; done
if [ -z "$left" ]; then
  wn_ok "local Slurm stopped (no daemon left)"
else
  wn_not_ok "local Slurm stopped (still running:$left)"
fi
wn_diag_file "$tmp/stop.txt"
wn_done
