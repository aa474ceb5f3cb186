#!/bin/sh
# unit.sh - the check unit suites on 2, 3 and 4 ranks (TAP; one line per suite and rank count).
# The singleton runs are separate TESTS entries in Makefile.am; here every suite also runs under mpirun,
# oversubscribed, so collective code paths and uneven row splits (and ranks with no rows) are exercised.
. "${top_srcdir:-.}/tests/mpi/common.sh"
suites="util layout npy h5io data kernel kernel_sparse greedy facility config jsonl featurize knn tsds logdet p3 dpp lobass ngram"
nps=${MPI_TEST_NPROCS:-"2 3 4"}
n=0; for s in $suites; do for np in $nps; do n=$((n + 1)); done; done
echo "1..$n"
i=0
for s in $suites; do
  for np in $nps; do
    i=$((i + 1))
    out=$(wn_mpirun "$np" "$top_builddir/tests/unit/test_$s" 2>&1); rc=$?
    if [ $rc -eq 0 ]; then echo "ok $i - test_$s on $np ranks"; else echo "not ok $i - test_$s on $np ranks (exit $rc)"; fi
    printf '%s\n' "$out" | sed 's/^/# /'
  done
done
