# tests/mpi/common.sh - shared shell functions for winnow's TAP test scripts (tests/mpi/*.sh,
# tests/regress/*.sh). Source it; it does not run anything by itself:
#   . "${top_srcdir:-.}/tests/mpi/common.sh"
#
# Provides (POSIX sh; the scripts run under $(SHELL) from make check):
#   paths      wn_srcdir, wn_builddir (absolute), WN_WINNOW (the program), WN_FIORI_DIR (demo data)
#   MPI env    wn_mpi_env: the environment of shared STACK.md section 3's driver (root flags,
#              oversubscription, yield when idle, single-copy off, one BLAS thread, quiet hwloc);
#              called once when this file is sourced
#   running    wn_mpirun NP PROG ARGS...   mpirun -n NP under `timeout ${WN_TIMEOUT:-300}`
#   temp dirs  wn_mktemp [NAME]  -> prints a fresh directory under $TMPDIR (or /tmp), removed at exit
#              unless WN_KEEP_TMP=1 (then its path is reported as a TAP comment). A script that sets its
#              own EXIT trap must call wn_exit_ in it: trap 'my_cleanup; wn_exit_' EXIT
#   TAP        wn_plan N; wn_ok DESC; wn_not_ok DESC; wn_check DESC CMD...; wn_skip DESC REASON;
#              wn_skip_all REASON (prints "1..0 # SKIP REASON", exits 0); wn_diag TEXT; wn_diag_file FILE;
#              wn_done (prints a trailing plan if none was given; exits 1 if any test failed, else 0)
#   results    wn_result_field FILE KEY  -> value of KEY in the last "RESULT key=value ..." line of FILE
# make check's tap-driver.sh turns every "ok"/"not ok" line into PASS/FAIL/SKIP.

: "${MPIEXEC:=mpirun}"
wn_srcdir=$(cd "${top_srcdir:-.}" && pwd)
wn_builddir=$(cd "${top_builddir:-.}" && pwd)
: "${WN_WINNOW:=$wn_builddir/src/winnow}"
: "${WN_FIORI_DIR:=$wn_srcdir/data/fiori}"
export MPIEXEC WN_WINNOW WN_FIORI_DIR

wn_test_n=0
wn_test_failed=0
wn_planned=0

wn_mpi_env() {
  if "$MPIEXEC" --version 2>&1 | grep -q "Open MPI"; then
    OMPI_ALLOW_RUN_AS_ROOT=1
    OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1
    OMPI_MCA_rmaps_base_oversubscribe=1
    OMPI_MCA_mpi_yield_when_idle=1
    OMPI_MCA_btl_vader_single_copy_mechanism=none
    export OMPI_ALLOW_RUN_AS_ROOT OMPI_ALLOW_RUN_AS_ROOT_CONFIRM OMPI_MCA_rmaps_base_oversubscribe
    export OMPI_MCA_mpi_yield_when_idle OMPI_MCA_btl_vader_single_copy_mechanism
  fi
  # Each script gets its own Open MPI session directory: concurrent mpiruns (make check -j) otherwise race
  # to create the shared /tmp/ompi.<host>.<uid> and one of them can fail with "File exists".
  if [ -z "${OMPI_MCA_orte_tmpdir_base:-}" ]; then
    OMPI_MCA_orte_tmpdir_base=$(mktemp -d "${TMPDIR:-/tmp}/winnow-ompi.XXXXXX")
    echo "$OMPI_MCA_orte_tmpdir_base" >>"$wn_tmp_list_"
    export OMPI_MCA_orte_tmpdir_base
  fi
  OPENBLAS_NUM_THREADS=1
  OMP_NUM_THREADS=1
  HWLOC_HIDE_ERRORS=2
  CK_FORK=no
  export OPENBLAS_NUM_THREADS OMP_NUM_THREADS HWLOC_HIDE_ERRORS CK_FORK
}

# wn_mpirun NP PROG ARGS...: run PROG on NP ranks with a time limit (WN_TIMEOUT seconds, default 300).
wn_mpirun() {
  wn_np_=$1
  shift
  timeout "${WN_TIMEOUT:-300}" "$MPIEXEC" -n "$wn_np_" "$@"
}

# Directories made by wn_mktemp are listed in a file, because wn_mktemp usually runs inside $(...),
# a subshell whose variables the main shell never sees; the main shell removes them at exit.
wn_tmp_list_=$(mktemp "${TMPDIR:-/tmp}/winnow-tmplist.XXXXXX")

# wn_mktemp [NAME]: create and print a fresh temporary directory, removed when the script exits.
wn_mktemp() {
  wn_d_=$(mktemp -d "${TMPDIR:-/tmp}/winnow-${1:-test}.XXXXXX") || return 1
  echo "$wn_d_" >>"$wn_tmp_list_"
  echo "$wn_d_"
}
wn_exit_() {
  if [ -f "$wn_tmp_list_" ]; then
    while IFS= read -r wn_d_; do
      if [ "${WN_KEEP_TMP:-0}" = 1 ]; then echo "# kept $wn_d_"; else rm -rf "$wn_d_"; fi
    done <"$wn_tmp_list_"
    rm -f "$wn_tmp_list_"
  fi
}
trap wn_exit_ EXIT
trap 'exit 130' INT TERM

wn_plan() {
  echo "1..$1"
  wn_planned=1
}
wn_ok() {
  wn_test_n=$((wn_test_n + 1))
  echo "ok $wn_test_n - $*"
}
wn_not_ok() {
  wn_test_n=$((wn_test_n + 1))
  wn_test_failed=$((wn_test_failed + 1))
  echo "not ok $wn_test_n - $*"
}
# wn_check DESC CMD...: ok if CMD succeeds (its output becomes TAP comments).
wn_check() {
  wn_desc_=$1
  shift
  if wn_out_=$("$@" 2>&1); then wn_ok "$wn_desc_"; else wn_not_ok "$wn_desc_"; fi
  [ -n "$wn_out_" ] && printf '%s\n' "$wn_out_" | sed 's/^/# /'
  return 0
}
wn_skip() {
  wn_test_n=$((wn_test_n + 1))
  echo "ok $wn_test_n - $1 # SKIP $2"
}
wn_skip_all() {
  echo "1..0 # SKIP $*"
  exit 0
}
wn_diag() { printf '%s\n' "$*" | sed 's/^/# /'; }
wn_diag_file() { [ -f "$1" ] && sed 's/^/# /' "$1"; return 0; }
wn_done() {
  [ "$wn_planned" = 1 ] || echo "1..$wn_test_n"
  [ "$wn_test_failed" -eq 0 ] && exit 0
  exit 1
}

# wn_result_field FILE KEY: the value of KEY in the last RESULT line of FILE (empty if absent).
wn_result_field() {
  grep '^[[:space:]]*RESULT[[:space:]]' "$1" 2>/dev/null | tail -n 1 | tr ' \t' '\n\n' | sed -n "s/^$2=//p" | head -n 1
}

wn_mpi_env

# Numbered-style helpers for scripts that keep their own test counter (numbers must run 1, 2, ...):
#   tap OK N DESC      ok when OK is 1;   tap_rc RC N DESC   ok when RC is 0;   wn_tmpdir = wn_mktemp
tap() { if [ "$1" = 1 ]; then wn_ok "$3"; else wn_not_ok "$3"; fi; }
tap_rc() { if [ "$1" = 0 ]; then wn_ok "$3"; else wn_not_ok "$3"; fi; }
wn_tmpdir() { wn_mktemp "$@"; }
