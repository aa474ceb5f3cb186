#!/bin/sh
# restart.sh - checkpoint/restart of the greedy loop without Slurm (TAP): periodic checkpoints change nothing; a
# SIGUSR1 (what Slurm sends before a time limit) makes winnow write a checkpoint and exit 4, and the restart on
# another rank count ends with the uninterrupted selection; a rank killed with SIGKILL on 3 ranks ends the job,
# and the restart on 2 ranks from the last checkpoint completes with the uninterrupted selection; a changed input
# or a changed budget is refused; a full output directory (a tiny tmpfs, root only) gives one clear message and
# no output file. Signals are raised by the rank itself at a given pick (WN_TEST_SIGNAL_AT=PICK:RANK:SIGNAL), so
# the tests are deterministic; they travel through the real handler and the real mpirun.
. "${top_srcdir:-.}/tests/mpi/common.sh"
W="$top_builddir/src/winnow"
MK="$top_builddir/tests/tools/mkdata"
dir=$(wn_tmpdir)
"$MK" "$dir/d.h5" -n 1500 -m 10 -d 16 -seed 3 >/dev/null 2>&1 || wn_skip_all "mkdata failed"
"$MK" "$dir/changed.h5" -n 1500 -m 10 -d 16 -seed 4 >/dev/null 2>&1 || wn_skip_all "mkdata failed"
base="-wn_candidates $dir/d.h5 -wn_method fl_pool -wn_budget 300 -wn_progress 0"
sum() { wn_result_field "$1" checksum; }
wn_plan 9

wn_mpirun 2 "$W" run $base -wn_output "$dir/ref" > "$dir/ref.log" 2>&1
ref=$(sum "$dir/ref.log")
wn_mpirun 3 "$W" run $base -wn_checkpoint_every 40 -wn_output "$dir/per" > "$dir/per.log" 2>&1; rc=$?
[ $rc = 0 ] && [ -n "$ref" ] && [ "$(sum "$dir/per.log")" = "$ref" ] && [ "$(grep -c 'checkpoint: ' "$dir/per.log")" -ge 7 ] && [ ! -e "$dir/per.ckpt.h5" ]
tap_rc $? 1 "checkpoints every 40 picks: same selection ($ref), the checkpoint removed at the end"

# SIGUSR1 at pick 130 on rank 2 of 3 -> checkpoint + exit 4; restart on 2 ranks (lazy) -> the same selection
WN_TEST_SIGNAL_AT=130:2:10 wn_mpirun 3 "$W" run $base -wn_greedy naive -wn_output "$dir/usr" > "$dir/usr.log" 2>&1; rc=$?
[ $rc = 4 ] && [ -f "$dir/usr.ckpt.h5" ] && [ ! -e "$dir/usr.h5" ] && grep -q "stopped by a signal.*after 130 of 300 picks.*-wn_restart" "$dir/usr.log" &&
  [ "$(grep -c 'winnow: error' "$dir/usr.log")" = 1 ]
tap_rc $? 2 "SIGUSR1 during the loop: checkpoint of 130 picks, exit 4 (got $rc), one message, no output"
wn_mpirun 2 "$W" run $base -wn_restart -wn_output "$dir/usr" > "$dir/usr2.log" 2>&1; rc=$?
[ $rc = 0 ] && [ "$(sum "$dir/usr2.log")" = "$ref" ] && grep -q "resuming from .*130 of 300 picks (written on 3 ranks)" "$dir/usr2.log" && [ ! -e "$dir/usr.ckpt.h5" ]
tap_rc $? 3 "restart on 2 ranks from the 3-rank checkpoint: the uninterrupted selection"

# SIGKILL of rank 1 at pick 170 on 3 ranks (checkpoints every 50, and of the kernel stage) -> the job ends; the restart
# on 2 ranks reads the kernels back instead of recomputing them and completes
WN_TEST_SIGNAL_AT=170:1:9 wn_mpirun 3 "$W" run $base -wn_checkpoint_every 50 -wn_output "$dir/kill" > "$dir/kill.log" 2>&1; rc=$?
[ $rc != 0 ] && [ -f "$dir/kill.ckpt.h5" ] && [ -f "$dir/kill.ckpt.kernel.h5" ] && [ ! -e "$dir/kill.h5" ] && grep -qi "signal 9\|killed" "$dir/kill.log"
tap_rc $? 4 "a rank killed with SIGKILL mid-loop: the job ends (exit $rc, mpirun names the signal), the last checkpoint stays"
wn_mpirun 2 "$W" run $base -wn_checkpoint_every 50 -wn_restart -wn_output "$dir/kill" > "$dir/kill2.log" 2>&1; rc=$?
[ $rc = 0 ] && [ "$(sum "$dir/kill2.log")" = "$ref" ] && grep -q "resuming from .*150 of 300 picks" "$dir/kill2.log" &&
  grep -q "kernels come from the kernel-stage checkpoint" "$dir/kill2.log" && [ ! -e "$dir/kill.ckpt.h5" ] && [ ! -e "$dir/kill.ckpt.kernel.h5" ]
tap_rc $? 5 "restart on 2 ranks from the checkpoints (kernel stage, 150 picks): the uninterrupted selection, both removed at the end"

# refused restarts: a changed input, a changed budget
WN_TEST_SIGNAL_AT=60:0:10 wn_mpirun 2 "$W" run $base -wn_output "$dir/chg" > "$dir/chg.log" 2>&1
cp "$dir/changed.h5" "$dir/d2.h5"
wn_mpirun 2 "$W" run $base -wn_candidates "$dir/d2.h5" -wn_restart -wn_checkpoint_file "$dir/chg.ckpt.h5" -wn_output "$dir/chg" > "$dir/chg2.log" 2>&1; rc=$?
[ $rc = 1 ] && grep -q "written for inputs with checksum .* the inputs now have checksum" "$dir/chg2.log" && [ ! -e "$dir/chg.h5" ] && [ -f "$dir/chg.ckpt.h5" ]
tap_rc $? 6 "an input changed since the checkpoint: restart refused naming both checksums (exit $rc), the checkpoint kept"
wn_mpirun 2 "$W" run $base -wn_budget 299 -wn_restart -wn_checkpoint_file "$dir/chg.ckpt.h5" -wn_output "$dir/chg" > "$dir/chg3.log" 2>&1; rc=$?
[ $rc = 1 ] && grep -q "written with other options" "$dir/chg3.log"
tap_rc $? 7 "another budget: restart refused (exit $rc)"
wn_mpirun 2 "$W" run $base -wn_restart -wn_checkpoint_file "$dir/none.h5" -wn_output "$dir/none" > "$dir/none.log" 2>&1; rc=$?
[ $rc = 1 ] && grep -q "none.h5" "$dir/none.log"
tap_rc $? 8 "-wn_restart without a checkpoint: one clear error (exit $rc)"

# a full output directory: a 64 KiB tmpfs (root only)
if [ "$(id -u)" = 0 ] && mkdir -p "$dir/full" && mount -t tmpfs -o size=64k tmpfs "$dir/full" 2>/dev/null; then
  "$MK" "$dir/big.h5" -n 3000 -m 10 -d 8 -seed 5 >/dev/null 2>&1
  wn_mpirun 2 "$W" run -wn_candidates "$dir/big.h5" -wn_method fl -wn_budget 3000 -wn_scores -wn_jsonl_all -wn_progress 0 -wn_output "$dir/full/sel" > "$dir/full.log" 2>&1; rc=$?
  left=$(ls -A "$dir/full")
  [ $rc = 1 ] && [ "$(grep -c 'winnow: error' "$dir/full.log")" = 1 ] && grep -qi "no space left\|disk\|space" "$dir/full.log" && [ -z "$left" ]
  r=$?
  umount "$dir/full"
  tap_rc $r 9 "a full output directory: one clear message (exit $rc), nothing left as if complete ($left)"
  [ $r = 0 ] || wn_diag_file "$dir/full.log"
else
  wn_skip "a full output directory" "needs root to mount a small tmpfs"
fi
wn_done
