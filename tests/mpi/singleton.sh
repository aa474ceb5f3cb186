#!/bin/sh
# singleton.sh - run one check suite as an MPI singleton (make check's LOG_COMPILER for tests/unit/*),
# with its own Open MPI session directory so that suites running concurrently (make -j) do not race on
# the shared one.
d=$(mktemp -d "${TMPDIR:-/tmp}/winnow-ompi.XXXXXX") || exit 99
OMPI_MCA_orte_tmpdir_base=$d
export OMPI_MCA_orte_tmpdir_base
"$@"
rc=$?
rm -rf "$d"
exit $rc
