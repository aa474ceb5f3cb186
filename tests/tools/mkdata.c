/* mkdata.c - fixture generator for winnow's end-to-end tests (links src/libwinnow.a).
 *
 *   mkdata OUT.h5 -n N -m M -d D [-seed S] [-labels C] [-f64] [-nan ROW] [-npy OUTDIR]
 *                 [-bad3d] [-badtype] [-targets_d D2] [-utility]
 *                 [-signals E [-signals_difficulty] [-signals_bad KIND]] [-quality] [-spd_kernel [-spd_kernel_bad]]
 *                 [-losses [-losses_bad nan|short|missing]]
 *
 * Writes OUT.h5 in winnow's schema (DESIGN.md section 6):
 *   /candidates/embedding  N x D float32 (float64 with -f64)
 *   /candidates/id         N int64, 1000 + i
 *   /candidates/label      N strings "class<k>", k = i mod C (only with -labels C, C >= 1)
 *   /targets/embedding     M x D float32 (float64 with -f64)
 * The data are clustered so that selection is meaningful: C cluster centres (C = 4 without -labels) drawn
 * uniformly in [-1, 1]^D, candidate i = centre(i mod C) + noise, targets = centre(0) + noise. Every value
 * comes from the counter-based generator wn_uniform01(S, counter), so a file is the same for any rank
 * count (runs serially as an MPI singleton, or under mpirun: each rank writes its rows collectively).
 * Options for the error catalogue:
 *   -nan ROW        put a NaN in candidate row ROW, column 0
 *   -inf ROW        put a -Inf in candidate row ROW, column d - 1
 *   -utility        also write an N x N utility matrix U[t, c] as /utility/target_major (attribute
 *                   orientation), /utility/candidate_major (its transpose) and /utility/no_attribute
 *   -bad3d          candidate embedding of shape N x 1 x D
 *   -badtype        candidate embedding stored as int32 (values x 100, rounded)
 *   -targets_d D2   targets of dimension D2 instead of D
 *   -npy OUTDIR     also write OUTDIR/candidates.npy and OUTDIR/targets.npy (float32; same values)
 * P3, DPP and quality fixtures:
 *   -signals E      write SYNTHETIC P3 signals /signals/epoch_<e>/{step_offset (N + 1 int64), step_prob
 *                   (doubles in (0, 1)), features (N x 30 float32)} for e = 0..E-1, from the rows' float32
 *                   embeddings and -seed (the generator of tools/synth.h: 0..6 steps per row, about 1 row
 *                   in 16 without steps, probabilities rising with the epoch, features = the 30 smallest
 *                   synthetic prompt-token probabilities, ascending, zero-padded); the same values as
 *                   `tools/synth_signals OUT.h5 -epochs E -seed S` on this file
 *   -signals_difficulty  also write /signals/epoch_<e>/difficulty, computed from the steps
 *   -signals_bad KIND    corrupt epoch 0 (the difficulty, if written, stays clean): KIND = offsets (entry
 *                   N/2 of step_offset above entry N/2 + 1: the offsets decrease at row N/2; N >= 2),
 *                   length (step_offset has N entries), negprob (one probability is -0.25), nanprob (NaN)
 *   -quality        write /candidates/quality: N doubles in [0.5, 1.5)
 *   -spd_kernel     write /kernel/values: the N x N float32 symmetric positive definite matrix
 *                   X X^T / d + 0.5 I of the rows' float32 embeddings X (attribute orientation =
 *                   "candidate-major"); -spd_kernel_bad sets the symmetric pair (3, 4) and (4, 3) (or (N-1, 0)
 *                   when N < 4) to 100, far above the diagonal: indefinite, even L + I, with a positive diagonal
 * LoBaSS fixtures:
 *   -losses         write /signals/loss_base and /signals/loss_tuned (N float64 each, SYNTHETIC): L0 = (16 + j) / 16
 *                   with j uniform in 0..31, L1 = L0 - m / 32 with m uniform in 0..15, so the diff scores are
 *                   multiples of 1/32 in [0, 15/32] (exact in binary, with many exact ties across rank boundaries)
 *   -losses_bad KIND  nan (L1 of row N/2 is NaN), short (loss_tuned has N - 1 values), missing (no loss_tuned)
 * Owns nothing in the library; it only uses h5io.h, npy.h, layout.h and util.h.
 */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <winnow/h5io.h>
#include <winnow/layout.h>
#include <winnow/npy.h>
#include <winnow/util.h>
#include "../../tools/synth.h"

static const char help[] = "mkdata OUT.h5 -n N -m M -d D [-seed S] [-labels C] [-f64] [-nan ROW] [-inf ROW] [-npy OUTDIR] [-bad3d] [-badtype] [-targets_d D2]\n"
                           "       [-utility] [-signals E [-signals_difficulty] [-signals_bad offsets|length|negprob|nanprob]] [-quality] [-spd_kernel [-spd_kernel_bad]]\n"
                           "       [-losses [-losses_bad nan|short|missing]]\n"
                           "Writes a clustered fixture in winnow's HDF5 schema (see the banner of tests/tools/mkdata.c).\n";

/* Counter streams of the generator: high bits say which quantity, low bits where. */
#define MK_CENTRE    (1ULL << 60)
#define MK_CANDIDATE (2ULL << 60)
#define MK_TARGET    (3ULL << 60)
#define MK_QUALITY   (4ULL << 60)
#define MK_LOSS      (5ULL << 60)
#define MK_NOISE     0.25
#define MK_FEATURES  30 /* P3's signature width (METHODS.md 1.4) */

static double mk_centre(uint64_t seed, int64_t k, int64_t j) { return 2.0 * wn_uniform01(seed, MK_CENTRE + ((uint64_t)k << 32) + (uint64_t)j) - 1.0; }

/* Row i (global) of a stream: centre(cluster) + triangular noise in (-MK_NOISE, MK_NOISE). */
static void mk_row(uint64_t seed, uint64_t stream, int64_t i, int64_t cluster, int64_t d, double *x)
{
  for (int64_t j = 0; j < d; j++) {
    uint64_t c = stream + 2 * ((uint64_t)i * (uint64_t)d + (uint64_t)j);
    x[j]       = mk_centre(seed, cluster, j) + MK_NOISE * (wn_uniform01(seed, c) + wn_uniform01(seed, c + 1) - 1.0);
  }
}

static PetscErrorCode mk_get_int64(const char *name, int64_t *value, PetscBool required)
{
  char      text[64];
  PetscBool set;
  char     *end;

  PetscFunctionBeginUser;
  PetscCall(PetscOptionsGetString(NULL, NULL, name, text, sizeof(text), &set));
  PetscCheck(set || !required, PETSC_COMM_WORLD, PETSC_ERR_ARG_WRONG, "mkdata: option %s is required\n%s", name, help);
  if (set) {
    *value = strtoll(text, &end, 10);
    PetscCheck(end != text && !*end, PETSC_COMM_WORLD, PETSC_ERR_ARG_WRONG, "mkdata: %s '%s' is not an integer", name, text);
  }
  PetscFunctionReturn(PETSC_SUCCESS);
}

/* Collective write of rows [row_start, +n_local) of an n x d matrix given in double; HDF5 converts to
 * filetype. With three_d the dataset has shape n x 1 x d. */
static PetscErrorCode mk_write_matrix(MPI_Comm comm, hid_t file, const char *name, hid_t filetype, PetscBool three_d, int64_t n, int64_t d, int64_t row_start, int64_t n_local, const double *x)
{
  int     ndim = three_d ? 3 : 2;
  hsize_t dims[3], start[3] = {(hsize_t)row_start, 0, 0}, count[3], n_elem = (hsize_t)(n_local * d);
  hid_t   lcpl, fspace, mspace, dset, dxpl;

  PetscFunctionBeginUser;
  dims[0]  = (hsize_t)n;
  dims[1]  = three_d ? 1 : (hsize_t)d;
  dims[2]  = (hsize_t)d;
  count[0] = (hsize_t)n_local;
  count[1] = dims[1];
  count[2] = dims[2];
  WN_CALL_HDF5_ID(lcpl, H5Pcreate, (H5P_LINK_CREATE));
  WN_CALL_HDF5(H5Pset_create_intermediate_group, (lcpl, 1));
  WN_CALL_HDF5_ID(fspace, H5Screate_simple, (ndim, dims, NULL));
  WN_CALL_HDF5_ID(dset, H5Dcreate2, (file, name, filetype, fspace, lcpl, H5P_DEFAULT, H5P_DEFAULT));
  WN_CALL_HDF5_ID(mspace, H5Screate_simple, (1, &n_elem, NULL));
  if (n_local > 0) WN_CALL_HDF5(H5Sselect_hyperslab, (fspace, H5S_SELECT_SET, start, NULL, count, NULL));
  else {
    WN_CALL_HDF5(H5Sselect_none, (fspace));
    WN_CALL_HDF5(H5Sselect_none, (mspace));
  }
  WN_CALL_HDF5_ID(dxpl, H5Pcreate, (H5P_DATASET_XFER));
  WN_CALL_HDF5(H5Pset_dxpl_mpio, (dxpl, H5FD_MPIO_COLLECTIVE));
  WN_CALL_HDF5(H5Dwrite, (dset, H5T_NATIVE_DOUBLE, mspace, fspace, dxpl, x));
  WN_CALL_HDF5(H5Pclose, (dxpl));
  WN_CALL_HDF5(H5Sclose, (mspace));
  WN_CALL_HDF5(H5Dclose, (dset));
  WN_CALL_HDF5(H5Sclose, (fspace));
  WN_CALL_HDF5(H5Pclose, (lcpl));
  PetscFunctionReturn(PETSC_SUCCESS);
}

/* One embedding dataset (candidates or targets) in the requested flavour. */
static PetscErrorCode mk_write_embedding(MPI_Comm comm, hid_t file, const char *name, const wn_layout *L, int64_t d, const double *x, PetscBool f64, PetscBool bad3d, PetscBool badtype)
{
  PetscFunctionBeginUser;
  if (badtype) {
    double *r;

    PetscCall(PetscMalloc1(L->n_local * d + 1, &r));
    for (int64_t k = 0; k < L->n_local * d; k++) r[k] = isfinite(x[k]) ? round(100.0 * x[k]) : 0;
    PetscCall(mk_write_matrix(comm, file, name, H5T_STD_I32LE, PETSC_FALSE, L->n_global, d, L->row_start, L->n_local, r));
    PetscCall(PetscFree(r));
  } else if (f64 || bad3d) {
    PetscCall(mk_write_matrix(comm, file, name, f64 ? H5T_IEEE_F64LE : H5T_IEEE_F32LE, bad3d, L->n_global, d, L->row_start, L->n_local, x));
  } else {
    float *f;

    PetscCall(PetscMalloc1(L->n_local * d + 1, &f));
    for (int64_t k = 0; k < L->n_local * d; k++) f[k] = (float)x[k];
    PetscCall(wn_h5_write_rows_float(comm, file, name, L->n_global, d, L->row_start, L->n_local, f, 0));
    PetscCall(PetscFree(f));
  }
  PetscFunctionReturn(PETSC_SUCCESS);
}

/* Rank 0 writes a whole stream as a float32 .npy file. */
static PetscErrorCode mk_write_npy(const char *dir, const char *base, uint64_t seed, uint64_t stream, int64_t n, int64_t d, int64_t clusters, int64_t nan_row)
{
  char    path[PETSC_MAX_PATH_LEN];
  double *x;
  float  *f;

  PetscFunctionBeginUser;
  PetscCall(PetscSNPrintf(path, sizeof(path), "%s/%s", dir, base));
  PetscCall(PetscMalloc2(d, &x, n * d, &f));
  for (int64_t i = 0; i < n; i++) {
    mk_row(seed, stream, i, stream == MK_TARGET ? 0 : i % clusters, d, x);
    for (int64_t j = 0; j < d; j++) f[i * d + j] = (float)x[j];
  }
  if (nan_row >= 0) f[nan_row * d] = NAN;
  PetscCall(wn_npy_write_float(path, n, d, f));
  PetscCall(PetscFree2(x, f));
  PetscFunctionReturn(PETSC_SUCCESS);
}

/* /kernel/values = X X^T / d + 0.5 I over the float32 embeddings (each rank its rows; every row is
 * regenerated, so no communication). K[i][j] and K[j][i] are the same sum in the same order: exactly
 * symmetric. bad: entry (3, 3) (or (N-1, N-1)) = -1. */
static PetscErrorCode mk_write_spd_kernel(MPI_Comm comm, hid_t file, const wn_layout *L, uint64_t seed, int64_t d, int64_t clusters, int64_t nan_row, int64_t inf_row, PetscBool bad)
{
  double *row;
  float  *all, *k;
  int64_t n = L->n_global, bad_entry = n < 4 ? n - 1 : 3;

  PetscFunctionBeginUser;
  PetscCall(PetscMalloc3(d, &row, n * d, &all, L->n_local * n + 1, &k));
  for (int64_t i = 0; i < n; i++) {
    mk_row(seed, MK_CANDIDATE, i, i % clusters, d, row);
    if (i == nan_row) row[0] = NAN;
    if (i == inf_row) row[d - 1] = -INFINITY;
    for (int64_t j = 0; j < d; j++) all[i * d + j] = (float)row[j];
  }
  for (int64_t i = 0; i < L->n_local; i++) {
    int64_t g = L->row_start + i;

    for (int64_t j = 0; j < n; j++) {
      double s = 0.0;

      for (int64_t c = 0; c < d; c++) s += (double)all[g * d + c] * (double)all[j * d + c];
      k[i * n + j] = (float)(s / (double)d + (g == j ? 0.5 : 0.0));
    }
    /* indefinite but with a positive diagonal: a symmetric pair of off-diagonal entries far larger than the
     * diagonal, so even L + I has a negative 2 x 2 minor (the DPP greedy never picks both; pdpotrf of L + I fails) */
    if (bad && g == bad_entry && n > 1) k[i * n + (bad_entry + 1) % n] = 100.0f;
    if (bad && g == (bad_entry + 1) % n && n > 1) k[i * n + bad_entry] = 100.0f;
  }
  PetscCall(wn_h5_write_rows_float(comm, file, "/kernel/values", n, n, L->row_start, L->n_local, k, 0));
  PetscCall(wn_h5_attr_write_string(comm, file, "/kernel/values", "orientation", "candidate-major"));
  PetscCall(PetscFree3(row, all, k));
  PetscFunctionReturn(PETSC_SUCCESS);
}

/* LoBaSS's losses (see the banner): row i's two losses from two counters of the MK_LOSS stream, so any rank
 * writes any row. bad: 0 none, 1 nan, 2 short, 3 missing. */
static void mk_losses(uint64_t seed, int64_t i, double *l0, double *l1)
{
  double j = floor(32.0 * wn_uniform01(seed, MK_LOSS + 2 * (uint64_t)i)), m = floor(16.0 * wn_uniform01(seed, MK_LOSS + 2 * (uint64_t)i + 1));

  *l0 = (16.0 + j) / 16.0;
  *l1 = *l0 - m / 32.0;
}

static PetscErrorCode mk_write_losses(MPI_Comm comm, hid_t file, int64_t n, uint64_t seed, int bad)
{
  wn_layout L, S;
  double   *l0, *l1, dummy;

  PetscFunctionBeginUser;
  PetscCall(wn_layout_init(comm, n, &L));
  PetscCall(PetscMalloc2(L.n_local + 1, &l0, L.n_local + 1, &l1));
  for (int64_t i = 0; i < L.n_local; i++) mk_losses(seed, L.row_start + i, &l0[i], &l1[i]);
  if (bad == 1 && n / 2 >= L.row_start && n / 2 < L.row_start + L.n_local) l1[n / 2 - L.row_start] = NAN;
  PetscCall(wn_h5_write_rows_double(comm, file, "/signals/loss_base", n, L.row_start, L.n_local, l0));
  if (bad == 2) { /* N - 1 values: rows 0 .. N - 2 */
    PetscCall(wn_layout_init(comm, n - 1, &S));
    for (int64_t i = 0; i < S.n_local; i++) mk_losses(seed, S.row_start + i, &dummy, &l1[i]);
    PetscCall(wn_h5_write_rows_double(comm, file, "/signals/loss_tuned", n - 1, S.row_start, S.n_local, l1));
  } else if (bad != 3) PetscCall(wn_h5_write_rows_double(comm, file, "/signals/loss_tuned", n, L.row_start, L.n_local, l1));
  PetscCall(PetscFree2(l0, l1));
  PetscFunctionReturn(PETSC_SUCCESS);
}

static PetscErrorCode mkdata_run(int argc, char **argv)
{
  MPI_Comm  comm = PETSC_COMM_WORLD;
  const char *out;
  int64_t   n = 0, m = 0, d = 0, seed = 42, labels = 0, nan_row = -1, inf_row = -1, targets_d = 0, clusters, signals = 0;
  PetscBool f64, bad3d, badtype, npy, utility, signals_difficulty, has_bad, quality, spd_kernel, spd_kernel_bad, losses, has_losses_bad;
  char      npy_dir[PETSC_MAX_PATH_LEN], bad_kind[32] = "", losses_bad_kind[32] = "";
  int       losses_bad = 0;
  synth_bad bad = SYNTH_BAD_NONE;
  float    *emb = NULL; /* this rank's float32 embedding rows, for the synthetic signals */
  wn_layout L, T;
  double   *x;
  hid_t     file = -1;
  PetscMPIInt rank;

  PetscFunctionBeginUser;
  PetscCallMPI(MPI_Comm_rank(comm, &rank));
  PetscCheck(argc >= 2 && argv[1][0] != '-', comm, PETSC_ERR_ARG_WRONG, "mkdata: the output file must come first\n%s", help);
  out = argv[1];
  PetscCall(mk_get_int64("-n", &n, PETSC_TRUE));
  PetscCall(mk_get_int64("-m", &m, PETSC_TRUE));
  PetscCall(mk_get_int64("-d", &d, PETSC_TRUE));
  PetscCall(mk_get_int64("-seed", &seed, PETSC_FALSE));
  PetscCall(mk_get_int64("-labels", &labels, PETSC_FALSE));
  /* PETSc's option parser takes "-nan" for a number (strtod reads it as NaN), so read it from argv. */
  for (int a = 2; a < argc; a++)
    if (!strcmp(argv[a], "-nan")) {
      char *end;

      PetscCheck(a + 1 < argc, comm, PETSC_ERR_ARG_WRONG, "mkdata: -nan needs a row number");
      nan_row = strtoll(argv[a + 1], &end, 10);
      PetscCheck(end != argv[a + 1] && !*end && nan_row >= 0, comm, PETSC_ERR_ARG_WRONG, "mkdata: -nan '%s' is not a row number", argv[a + 1]);
    } else if (!strcmp(argv[a], "-inf")) { /* same for -inf: an Inf in candidate row ROW, column d - 1 */
      char *end;

      PetscCheck(a + 1 < argc, comm, PETSC_ERR_ARG_WRONG, "mkdata: -inf needs a row number");
      inf_row = strtoll(argv[a + 1], &end, 10);
      PetscCheck(end != argv[a + 1] && !*end && inf_row >= 0, comm, PETSC_ERR_ARG_WRONG, "mkdata: -inf '%s' is not a row number", argv[a + 1]);
    }
  PetscCall(mk_get_int64("-targets_d", &targets_d, PETSC_FALSE));
  PetscCall(PetscOptionsHasName(NULL, NULL, "-f64", &f64));
  PetscCall(PetscOptionsHasName(NULL, NULL, "-bad3d", &bad3d));
  PetscCall(PetscOptionsHasName(NULL, NULL, "-badtype", &badtype));
  PetscCall(PetscOptionsHasName(NULL, NULL, "-utility", &utility));
  PetscCall(PetscOptionsGetString(NULL, NULL, "-npy", npy_dir, sizeof(npy_dir), &npy));
  PetscCall(mk_get_int64("-signals", &signals, PETSC_FALSE));
  PetscCall(PetscOptionsHasName(NULL, NULL, "-signals_difficulty", &signals_difficulty));
  PetscCall(PetscOptionsGetString(NULL, NULL, "-signals_bad", bad_kind, sizeof(bad_kind), &has_bad));
  PetscCall(PetscOptionsHasName(NULL, NULL, "-quality", &quality));
  PetscCall(PetscOptionsHasName(NULL, NULL, "-spd_kernel", &spd_kernel));
  PetscCall(PetscOptionsHasName(NULL, NULL, "-spd_kernel_bad", &spd_kernel_bad));
  PetscCall(PetscOptionsHasName(NULL, NULL, "-losses", &losses));
  PetscCall(PetscOptionsGetString(NULL, NULL, "-losses_bad", losses_bad_kind, sizeof(losses_bad_kind), &has_losses_bad));
  if (has_losses_bad) {
    if (!strcmp(losses_bad_kind, "nan")) losses_bad = 1;
    else if (!strcmp(losses_bad_kind, "short")) losses_bad = 2;
    else if (!strcmp(losses_bad_kind, "missing")) losses_bad = 3;
    else SETERRQ(comm, PETSC_ERR_ARG_WRONG, "mkdata: -losses_bad '%s' is not one of nan, short, missing", losses_bad_kind);
    losses = PETSC_TRUE;
  }
  if (has_bad) {
    if (!strcmp(bad_kind, "offsets")) bad = SYNTH_BAD_OFFSETS;
    else if (!strcmp(bad_kind, "length")) bad = SYNTH_BAD_LENGTH;
    else if (!strcmp(bad_kind, "negprob")) bad = SYNTH_BAD_NEGPROB;
    else if (!strcmp(bad_kind, "nanprob")) bad = SYNTH_BAD_NANPROB;
    else SETERRQ(comm, PETSC_ERR_ARG_WRONG, "mkdata: -signals_bad '%s' is not one of offsets, length, negprob, nanprob", bad_kind);
  }
  PetscCheck(signals >= 0 && signals <= 1000, comm, PETSC_ERR_ARG_OUTOFRANGE, "mkdata: -signals must be in [0, 1000], got %lld", (long long)signals);
  PetscCheck(signals > 0 || (!signals_difficulty && !has_bad), comm, PETSC_ERR_ARG_WRONG, "mkdata: -signals_difficulty and -signals_bad need -signals E");
  PetscCheck(bad != SYNTH_BAD_OFFSETS || n >= 2, comm, PETSC_ERR_ARG_OUTOFRANGE, "mkdata: -signals_bad offsets needs -n >= 2");
  if (spd_kernel_bad) spd_kernel = PETSC_TRUE;
  PetscCheck(n > 0 && m > 0 && d > 0, comm, PETSC_ERR_ARG_OUTOFRANGE, "mkdata: -n, -m and -d must be > 0 (got %lld, %lld, %lld)", (long long)n, (long long)m, (long long)d);
  PetscCheck(labels >= 0, comm, PETSC_ERR_ARG_OUTOFRANGE, "mkdata: -labels must be >= 0");
  PetscCheck(inf_row < n, comm, PETSC_ERR_ARG_OUTOFRANGE, "mkdata: -inf %lld is not a row of %lld candidates", (long long)inf_row, (long long)n);
  PetscCheck(nan_row < n, comm, PETSC_ERR_ARG_OUTOFRANGE, "mkdata: -nan %lld is not a row of %lld candidates", (long long)nan_row, (long long)n);
  PetscCheck(targets_d >= 0, comm, PETSC_ERR_ARG_OUTOFRANGE, "mkdata: -targets_d must be > 0");
  if (!targets_d) targets_d = d;
  clusters = labels > 0 ? labels : 4;

  PetscCall(wn_h5_create(comm, out, &file));
  /* candidates */
  PetscCall(wn_layout_init(comm, n, &L));
  PetscCall(PetscMalloc1(L.n_local * d + 1, &x));
  for (int64_t i = 0; i < L.n_local; i++) mk_row((uint64_t)seed, MK_CANDIDATE, L.row_start + i, (L.row_start + i) % clusters, d, x + i * d);
  if (nan_row >= L.row_start && nan_row < L.row_start + L.n_local) x[(nan_row - L.row_start) * d] = NAN;
  if (inf_row >= L.row_start && inf_row < L.row_start + L.n_local) x[(inf_row - L.row_start) * d + d - 1] = -INFINITY;
  PetscCall(mk_write_embedding(comm, file, "/candidates/embedding", &L, d, x, f64, bad3d, badtype));
  if (signals > 0) {
    PetscCall(PetscMalloc1(L.n_local * d + 1, &emb));
    for (int64_t k = 0; k < L.n_local * d; k++) emb[k] = (float)x[k];
  }
  PetscCall(PetscFree(x));
  {
    int64_t *ids;

    PetscCall(PetscMalloc1(L.n_local + 1, &ids));
    for (int64_t i = 0; i < L.n_local; i++) ids[i] = 1000 + L.row_start + i;
    PetscCall(wn_h5_write_rows_int64(comm, file, "/candidates/id", n, L.row_start, L.n_local, ids));
    PetscCall(PetscFree(ids));
  }
  if (labels > 0) {
    const size_t width = 32;
    char        *lab;

    PetscCall(PetscCalloc1((L.n_local + 1) * width, &lab));
    for (int64_t i = 0; i < L.n_local; i++) PetscCall(PetscSNPrintf(lab + i * width, width, "class%lld", (long long)((L.row_start + i) % clusters)));
    PetscCall(wn_h5_write_rows_strings(comm, file, "/candidates/label", n, L.row_start, L.n_local, lab, width));
    PetscCall(PetscFree(lab));
  }
  /* targets, near cluster 0 */
  PetscCall(wn_layout_init(comm, m, &T));
  PetscCall(PetscMalloc1(T.n_local * targets_d + 1, &x));
  for (int64_t i = 0; i < T.n_local; i++) mk_row((uint64_t)seed, MK_TARGET, T.row_start + i, 0, targets_d, x + i * targets_d);
  PetscCall(mk_write_embedding(comm, file, "/targets/embedding", &T, targets_d, x, f64, PETSC_FALSE, PETSC_FALSE));
  PetscCall(PetscFree(x));
  if (utility) {
    /* DELIFT-style utility U[t, c] over the pool itself (N x N, not symmetric), stored three ways:
     * target-major with its attribute, its transpose as candidate-major, and target-major without
     * an attribute (then -wn_kernel_orientation decides). Selections on the three must agree. */
    float *u;

    PetscCall(PetscMalloc1(L.n_local * n + 1, &u));
    for (int64_t i = 0; i < L.n_local; i++)
      for (int64_t j = 0; j < n; j++) u[i * n + j] = (float)wn_uniform01((uint64_t)seed + 9, (uint64_t)((L.row_start + i) * n + j));
    PetscCall(wn_h5_write_rows_float(comm, file, "/utility/target_major", n, n, L.row_start, L.n_local, u, 0));
    PetscCall(wn_h5_attr_write_string(comm, file, "/utility/target_major", "orientation", "target-major"));
    PetscCall(wn_h5_write_rows_float(comm, file, "/utility/no_attribute", n, n, L.row_start, L.n_local, u, 0));
    for (int64_t i = 0; i < L.n_local; i++) /* row c of the transpose: U[t, c] for every t */
      for (int64_t j = 0; j < n; j++) u[i * n + j] = (float)wn_uniform01((uint64_t)seed + 9, (uint64_t)(j * n + L.row_start + i));
    PetscCall(wn_h5_write_rows_float(comm, file, "/utility/candidate_major", n, n, L.row_start, L.n_local, u, 0));
    PetscCall(wn_h5_attr_write_string(comm, file, "/utility/candidate_major", "orientation", "candidate-major"));
    PetscCall(PetscFree(u));
  }
  if (signals > 0) {
    char note[160];

    for (int64_t e = 0; e < signals; e++) PetscCall(synth_write_epoch(file, &L, emb, d, (uint64_t)seed, (int)e, MK_FEATURES, signals_difficulty, e == 0 ? bad : SYNTH_BAD_NONE, NULL));
    PetscCall(PetscSNPrintf(note, sizeof(note), "yes: generated by tests/tools/mkdata (seed %lld), not from a model", (long long)seed));
    PetscCall(wn_h5_attr_write_string(comm, file, "/signals", "synthetic", note));
    PetscCall(PetscFree(emb));
  }
  if (quality) {
    double *q;

    PetscCall(PetscMalloc1(L.n_local + 1, &q));
    for (int64_t i = 0; i < L.n_local; i++) q[i] = 0.5 + wn_uniform01((uint64_t)seed, MK_QUALITY + (uint64_t)(L.row_start + i));
    PetscCall(wn_h5_write_rows_double(comm, file, "/candidates/quality", n, L.row_start, L.n_local, q));
    PetscCall(PetscFree(q));
  }
  if (losses) {
    PetscCall(mk_write_losses(comm, file, n, (uint64_t)seed, losses_bad));
    if (!signals) PetscCall(wn_h5_attr_write_string(comm, file, "/signals", "synthetic", "yes: LoBaSS losses generated by tests/tools/mkdata, not from a model"));
  }
  if (spd_kernel) PetscCall(mk_write_spd_kernel(comm, file, &L, (uint64_t)seed, d, clusters, nan_row, inf_row, spd_kernel_bad));
  PetscCall(wn_h5_attr_write_string(comm, file, "/", "generator", "tests/tools/mkdata"));
  PetscCall(wn_h5_attr_write_int64(comm, file, "/", "seed", seed));
  PetscCall(wn_h5_close(&file));

  if (npy) {
    PetscErrorCode ierr = 0;
    char           msg[1024] = "";

    /* Only rank 0 writes: keep its error quiet, then report it once for everyone. */
    if (rank == 0) {
      PetscCall(PetscPushErrorHandler(PetscReturnErrorHandler, NULL));
      ierr = mk_write_npy(npy_dir, "candidates.npy", (uint64_t)seed, MK_CANDIDATE, n, d, clusters, nan_row);
      if (!ierr) ierr = mk_write_npy(npy_dir, "targets.npy", (uint64_t)seed, MK_TARGET, m, targets_d, clusters, -1);
      PetscCall(PetscPopErrorHandler());
      if (ierr) {
        const char *text     = NULL;
        char       *specific = NULL;

        (void)PetscErrorMessage(ierr, &text, &specific);
        PetscCall(PetscSNPrintf(msg, sizeof(msg), "mkdata: %s", specific ? specific : "cannot write the .npy files"));
      }
    }
    WN_CHECK_ALL(comm, ierr == 0, PETSC_ERR_FILE_WRITE, "%s", msg);
  }
  PetscCall(PetscPrintf(comm, "mkdata: wrote %s: %lld candidates x %lld (%s%s), %lld targets x %lld, %lld clusters%s%s\n", out, (long long)n, (long long)d, badtype ? "int32" : f64 ? "float64" : "float32", bad3d ? ", 3-D" : "", (long long)m, (long long)targets_d,
                        (long long)clusters, labels > 0 ? ", labels" : "", nan_row >= 0 ? ", NaN injected" : ""));
  if (signals > 0) PetscCall(PetscPrintf(comm, "mkdata: synthetic P3 signals for %lld epochs%s%s%s\n", (long long)signals, signals_difficulty ? " with difficulty" : "", has_bad ? ", epoch 0 corrupted: " : "", bad_kind));
  if (losses) PetscCall(PetscPrintf(comm, "mkdata: synthetic LoBaSS losses /signals/loss_base, /signals/loss_tuned%s%s\n", has_losses_bad ? ", corrupted: " : "", losses_bad_kind));
  if (quality || spd_kernel) PetscCall(PetscPrintf(comm, "mkdata:%s%s\n", quality ? " /candidates/quality" : "", spd_kernel ? (spd_kernel_bad ? " /kernel/values (indefinite)" : " /kernel/values (SPD)") : ""));
  PetscFunctionReturn(PETSC_SUCCESS);
}

int main(int argc, char **argv)
{
  PetscErrorCode ierr;

  ierr = PetscInitialize(&argc, &argv, NULL, help);
  if (ierr) return 1;
  ierr = wn_error_install();
  if (!ierr) ierr = mkdata_run(argc, argv);
  if (ierr && !wn_error_was_collective()) MPI_Abort(PETSC_COMM_WORLD, (int)ierr);
  (void)PetscFinalize();
  return ierr ? 1 : 0;
}
