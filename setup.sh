#!/bin/bash
# setup.sh - from a fresh Debian 12 machine to a built winnow, its real-data demo input, and either
# the demo runs or the test suite. Idempotent: every step is skipped when already done.
#
#   ./setup.sh demo    install packages, build, prepare data/wordnet and data/fiori, run the demo decks on 2 ranks
#   ./setup.sh test    the same packages (plus Slurm for its test), build, fetch data, `make check`
#   ./setup.sh --help
#
# Needs root (or sudo) only to install missing Debian packages and to add the hostname to /etc/hosts.
# Environment: JOBS (make -j, default nproc), WN_NP (ranks for the demo, default 2),
#   WN_MAKE_CHECK_ARGS (extra make arguments for `test`, e.g. "TESTS=tests/unit/test_jsonl").
set -euo pipefail

cd "$(dirname "${BASH_SOURCE[0]}")"
root=$PWD
start_s=$(date +%s)

usage() {
  cat <<'EOF'
usage: ./setup.sh demo | test | --help

  demo   install what is missing (Debian 12), build winnow, convert the WordNet glosses of Debian's
         wordnet-base into JSONL (data/wordnet/) and fetch real MiniLM embeddings (npm
         @sap-ux/fiori-docs-embeddings -> data/fiori/), then run on 2 ranks
           src/winnow featurize inputs/wordnet_food_featurize.opts   (text -> embeddings, 100 noun.food targets held out)
           src/winnow run inputs/wordnet_food_fl.opts                (facility location, whole pool)
           src/winnow run inputs/wordnet_food_flmi.opts              (DELIFT FLMI, 20,000-candidate subsample)
           src/winnow run inputs/wordnet_food_tsds.opts              (TSDS, whole pool)
           src/winnow run inputs/wordnet_dpp.opts                    (DPP diversity, ScaLAPACK log-det check)
           src/winnow signals inputs/wordnet_signals.opts            (reference n-gram model: losses, step probabilities)
           src/winnow select inputs/wordnet_lobass.opts              (LoBaSS on those losses)
           src/winnow select inputs/wordnet_p3.opts                  (P3 epoch 0 on those step probabilities)
           jobs/p3_epochs.sh -E 3 ...                                (P3's epoch loop: signals, select, retrain)
           src/winnow run inputs/demo_fiori_fl.opts                  (the same on MiniLM embeddings)
           src/winnow run inputs/demo_fiori_flmi.opts
         and print where the outputs are.
  test   the same set-up (plus Slurm and munge for the Slurm test), then `make check`;
         exits with make's status. This is what CI runs (.ci/run).

Debian packages installed when missing (apt-get, --no-install-recommends):
  build-essential libopenmpi-dev openmpi-bin libscalapack-openmpi-dev libhdf5-openmpi-dev
  hdf5-tools petsc-dev check pkg-config autoconf automake libtool libopenblas-dev wordnet-base fortunes gnuplot-nox
  test only: slurm-wlm slurmctld slurmd munge slurm-client
  npm only when no `npm` command exists.
Runs as root, or through sudo when available; otherwise it lists the packages to install and stops.
EOF
}

ts() { date '+%Y-%m-%d %H:%M:%S'; }
section() { printf '\n==== [%s] %s ====\n' "$(ts)" "$*"; }
note() { printf '[%s] %s\n' "$(ts)" "$*"; }
die() {
  printf '[%s] setup.sh: ERROR: %s\n' "$(ts)" "$*" >&2
  exit 1
}

mode=${1:-}
case $mode in
demo | test) ;;
-h | --help | help)
  usage
  exit 0
  ;;
"")
  usage >&2
  exit 2
  ;;
*)
  printf 'setup.sh: unknown mode "%s"\n\n' "$mode" >&2
  usage >&2
  exit 2
  ;;
esac

section "winnow setup: $mode (in $root)"
note "host $(hostname), $(nproc) cores, $(. /etc/os-release 2>/dev/null && echo "${PRETTY_NAME:-unknown OS}")"

# ---- privileges ----------------------------------------------------------------------------------
SUDO=()
if [ "$(id -u)" -ne 0 ]; then
  if command -v sudo >/dev/null 2>&1; then SUDO=(sudo); fi
fi
can_admin() { [ "$(id -u)" -eq 0 ] || [ ${#SUDO[@]} -gt 0 ]; }

# ---- 1. Debian packages --------------------------------------------------------------------------
section "1. packages"
pkgs=(build-essential libopenmpi-dev openmpi-bin libscalapack-openmpi-dev libhdf5-openmpi-dev hdf5-tools
  petsc-dev check pkg-config autoconf automake libtool libopenblas-dev wordnet-base fortunes gnuplot-nox)
if [ "$mode" = test ]; then pkgs+=(slurm-wlm slurmctld slurmd munge slurm-client); fi
# Debian's npm conflicts with a node/npm installed outside Debian: only add it when there is no npm at all.
if ! command -v npm >/dev/null 2>&1; then pkgs+=(npm); fi

if ! command -v dpkg-query >/dev/null 2>&1; then
  note "not a Debian system (no dpkg-query): make sure the equivalents of these are installed: ${pkgs[*]}"
else
  missing=()
  for p in "${pkgs[@]}"; do
    dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed' || missing+=("$p")
  done
  if [ ${#missing[@]} -eq 0 ]; then
    note "all ${#pkgs[@]} packages are installed"
  elif ! can_admin; then
    printf '\nsetup.sh needs these Debian packages, which are not installed:\n  %s\n' "${missing[*]}" >&2
    printf 'Install them as root, then re-run ./setup.sh %s:\n  apt-get update && apt-get install -y --no-install-recommends %s\n' "$mode" "${missing[*]}" >&2
    exit 1
  else
    note "installing ${#missing[@]} missing packages: ${missing[*]}"
    "${SUDO[@]}" env DEBIAN_FRONTEND=noninteractive apt-get update -q
    "${SUDO[@]}" env DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends "${missing[@]}"
    note "packages installed"
  fi
fi
command -v npm >/dev/null 2>&1 || die "npm is still missing; it is needed to fetch the demo data"

# ---- 2. hostname resolution (an unresolvable hostname stalls every MPI_Init by ~5 s) --------------
section "2. hostname"
host=$(hostname)
if getent hosts "$host" >/dev/null 2>&1; then
  note "hostname '$host' resolves: $(getent hosts "$host" | head -n 1 | tr -s ' ')"
elif can_admin && printf '127.0.1.1\t%s\n' "$host" | "${SUDO[@]}" tee -a /etc/hosts >/dev/null 2>&1; then
  note "added '127.0.1.1 $host' to /etc/hosts"
else
  note "WARNING: hostname '$host' does not resolve and /etc/hosts cannot be changed; every MPI start will stall ~5 s"
fi

# ---- 3. build --------------------------------------------------------------------------------------
section "3. build"
if [ ! -x configure ] || [ configure -ot configure.ac ] || [ configure -ot Makefile.am ]; then
  note "autoreconf -fi"
  autoreconf -fi
else
  note "configure is up to date"
fi
if [ ! -f Makefile ]; then
  note "./configure"
  ./configure
else
  note "already configured (make re-runs configure if needed)"
fi
jobs=${JOBS:-$(nproc)}
note "make -j$jobs"
make -j"$jobs"

# ---- 4. demo data ------------------------------------------------------------------------------------
section "4. real-data inputs (data/wordnet, data/fiori)"
inputs/wordnet/prepare.sh "$root/data/wordnet"
inputs/fiori/prepare.sh "$root/data/fiori" "$root/inputs/fiori/fiori-import"

# ---- MPI environment for the runs below (STACK.md sections 3 and 5) -------------------------------------
export OMPI_ALLOW_RUN_AS_ROOT=1 OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1 # harmless when not root
export OMPI_MCA_rmaps_base_oversubscribe=1 OMPI_MCA_mpi_yield_when_idle=1
export OMPI_MCA_btl_vader_single_copy_mechanism=none
export OPENBLAS_NUM_THREADS=1 OMP_NUM_THREADS=1 HWLOC_HIDE_ERRORS=2
export WN_FIORI_DIR=$root/data/fiori

if [ "$mode" = demo ]; then
  section "5. demo"
  np=${WN_NP:-2}
  mkdir -p out
  # the text pipeline on WordNet (featurize, then select), then the same methods on real MiniLM embeddings
  for deck in inputs/wordnet_food_featurize.opts inputs/wordnet_food_fl.opts inputs/wordnet_food_flmi.opts inputs/wordnet_food_tsds.opts inputs/wordnet_dpp.opts inputs/wordnet_signals.opts inputs/wordnet_lobass.opts inputs/wordnet_p3.opts inputs/demo_fiori_fl.opts inputs/demo_fiori_flmi.opts; do
    [ -f "$deck" ] || die "demo deck $deck is missing"
    name=$(basename "$deck" .opts)
    log=out/$name.log
    sub=run
    case $name in *_featurize) sub=featurize ;; *_signals) sub=signals ;; *_p3 | *_lobass) sub=select ;; esac
    note "mpirun -n $np src/winnow $sub $deck -options_left   (log: $log)"
    set +e
    mpirun -n "$np" src/winnow "$sub" "$deck" -options_left 2>&1 | tee "$log"
    rc=${PIPESTATUS[0]}
    set -e
    [ "$rc" -eq 0 ] || die "the $name run failed with exit status $rc (log: $root/$log)"
    grep -q '^RESULT ' "$log" || die "the $name run printed no RESULT line (log: $root/$log)"
  done
  note "jobs/p3_epochs.sh -n $np -E 3 -k 200 -l noun.food -o out/p3_epochs inputs/wordnet_signals.opts inputs/wordnet_p3.opts   (P3's epoch loop)"
  jobs/p3_epochs.sh -n "$np" -E 3 -k 200 -l noun.food -o out/p3_epochs inputs/wordnet_signals.opts inputs/wordnet_p3.opts || die "the P3 epoch loop failed (logs: $root/out/p3_epochs)"
  section "demo outputs"
  for deck in inputs/wordnet_food_fl.opts inputs/wordnet_food_flmi.opts inputs/wordnet_food_tsds.opts inputs/wordnet_dpp.opts inputs/wordnet_lobass.opts inputs/wordnet_p3.opts inputs/demo_fiori_fl.opts inputs/demo_fiori_flmi.opts; do
    name=$(basename "$deck" .opts)
    prefix=$(awk '$1 == "-wn_output" { print $2 }' "$deck" | tail -n 1)
    printf '%s:\n  log     %s\n' "$name" "$root/out/$name.log"
    if [ -n "$prefix" ]; then
      for ext in h5 jsonl yaml; do
        [ -f "$prefix.$ext" ] && printf '  %-7s %s\n' "$ext" "$(cd "$(dirname "$prefix")" && pwd)/$(basename "$prefix").$ext"
      done
    fi
    grep '^quality: ' "out/$name.log" | tail -n 1 | sed 's/^/  /'
    grep '^RESULT ' "out/$name.log" | tail -n 1 | sed 's/^/  /'
  done
  note "done in $(($(date +%s) - start_s)) s"
  exit 0
fi

section "5. make check ${WN_MAKE_CHECK_ARGS:-}"
set +e
# shellcheck disable=SC2086 # a list of make arguments
make check ${WN_MAKE_CHECK_ARGS:-}
rc=$?
set -e
if [ "$rc" -ne 0 ]; then
  note "make check failed (status $rc); test-suite.log follows"
  [ -f test-suite.log ] && cat test-suite.log
fi
note "done in $(($(date +%s) - start_s)) s, make check status $rc"
exit "$rc"
