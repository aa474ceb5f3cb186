/* p3.c - P3's per-epoch pieces (Yang et al. 2024, arXiv 2408.05541; METHODS.md section 1): difficulty from
 * the policy's per-step probabilities (1.2), the pace-adaptive percentile schedule, numpy's percentile and
 * the eligible set (1.3), the optional trend score (1.3), and the per-column standardisation of the DPP
 * features (1.4).
 *
 * Owns: reading /signals/epoch_<e>/{difficulty, step_offset, step_prob, features} (DESIGN.md section 6) by
 * row block and validating them with one collective message naming the file, dataset, row and value; an
 * exact distributed order statistic (bisection on the order-preserving 64-bit key of a double, one
 * MPI_Allreduce of a count per round, at most 64 rounds, no gather); numpy 1.24's "linear" percentile
 * replayed operation by operation; exact column sums for the standardisation (fixed-point integers reduced
 * as int64 limbs), so every result has the same bits on any number of ranks.
 * Leaves to others: file access and type conversion (h5io.c), the row split (layout.c), the DPP greedy
 * (dpp.c) and the rounds loop (methods/p3_method.c).
 */
#include <math.h>
#include <stdio.h>
#include <string.h>
#include <winnow/h5io.h>
#include <winnow/p3.h>

const char *const wn_p3_source_names[] = {"auto", "steps", "difficulty", "wn_p3_source", "WN_P3_SOURCE_", NULL};

/* Checks on data only some ranks hold record a wn_verdict (error.h) and agree on it with wn_verdict_agree(); the
 * caller then releases the file and memory and raises the error on every rank. */

/* Global index of this rank's first element of a distributed vector (exclusive prefix sum). Collective. */
static PetscErrorCode p3_first_global(MPI_Comm comm, int64_t n_local, int64_t *first)
{
  PetscMPIInt rank;

  PetscFunctionBeginUser;
  PetscCallMPI(MPI_Comm_rank(comm, &rank));
  PetscCallMPI(MPI_Exscan(&n_local, first, 1, MPI_INT64_T, MPI_SUM, comm));
  if (rank == 0) *first = 0; /* MPI_Exscan leaves rank 0's result undefined */
  PetscFunctionReturn(PETSC_SUCCESS);
}

/* ---- difficulty (METHODS.md 1.2) --------------------------------------------------------------- */

/* Validate the local CSR block and compute D_i = 1 - (sum_t p_{i,t}) / T_i (summed in step order; the
 * division is numpy's mean: sum, then divide by the count), +inf when T_i = 0. The first local problem
 * goes into v (not agreed here). */
static void p3_steps_local(const char *what, int64_t row_start, int64_t n_local, const int64_t *offsets, const double *prob, double *difficulty, wn_verdict *v)
{
  for (int64_t i = 0; i < n_local && !v->code; i++)
    if (offsets[i + 1] < offsets[i])
      wn_verdict_fail(v, PETSC_ERR_FILE_UNEXPECTED, "%s: step offsets decrease at row %lld (offset %lld, then %lld); offsets must be nondecreasing", what, (long long)(row_start + i), (long long)offsets[i], (long long)offsets[i + 1]);
  for (int64_t i = 0; i < n_local && !v->code; i++) {
    int64_t       n_steps = offsets[i + 1] - offsets[i];
    const double *p       = prob + (offsets[i] - offsets[0]);
    double        sum     = 0.0;

    for (int64_t t = 0; t < n_steps; t++) {
      if (isnan(p[t])) {
        wn_verdict_fail(v, PETSC_ERR_FILE_UNEXPECTED, "%s: the probability of row %lld, step %lld (of %lld) is NaN; expected a probability in [0, 1]", what, (long long)(row_start + i), (long long)t, (long long)n_steps);
        break;
      }
      if (!(p[t] >= 0.0 && p[t] <= 1.0)) {
        wn_verdict_fail(v, PETSC_ERR_FILE_UNEXPECTED, "%s: the probability of row %lld, step %lld (of %lld) is %.17g; expected a probability in [0, 1]", what, (long long)(row_start + i), (long long)t, (long long)n_steps, p[t]);
        break;
      }
      sum += p[t];
    }
    difficulty[i] = n_steps > 0 ? 1.0 - sum / (double)n_steps : (double)INFINITY;
  }
}

/**
  @brief Difficulty of each local row from its ragged step probabilities (P3, METHODS.md 1.2).

  D_i = 1 - (1 / T_i) sum_t p_{i,t}, computed as 1 - (sum in step order) / T_i (numpy's mean divides the sum
  by the count); D_i = +inf when T_i = 0 (P3's code: samples without steps never pass a finite threshold).

  Collective on comm: offsets that decrease, and probabilities that are NaN, negative or above 1, give one
  error (from rank 0) naming the lowest bad global row, the step and the value.

  @param[in]  comm        communicator the rows are split over (borrowed)
  @param[in]  what        where the data came from, for messages (e.g. "dataset /x in 'a.h5'")
  @param[in]  row_start   global index of the first local row
  @param[in]  n_local     local rows (may be 0)
  @param[in]  offsets     n_local + 1 GLOBAL step offsets (borrowed); row row_start + i has steps
                          offsets[i] .. offsets[i + 1] - 1
  @param[in]  prob        the local steps' probabilities, prob[0] being step offsets[0] (borrowed)
  @param[out] difficulty  n_local doubles (caller allocates)
**/
PetscErrorCode wn_p3_difficulty_from_steps(MPI_Comm comm, const char *what, int64_t row_start, int64_t n_local, const int64_t *offsets, const double *prob, double *difficulty)
{
  wn_verdict v = {0, ""};

  PetscFunctionBeginUser;
  p3_steps_local(what ? what : "step probabilities", row_start, n_local, offsets, prob, difficulty, &v);
  PetscCall(wn_verdict_agree(comm, &v));
  PetscCheck(!v.code, comm, v.code, "%s", v.msg);
  PetscFunctionReturn(PETSC_SUCCESS);
}

/* ---- reading /signals/epoch_<e>/ ---------------------------------------------------------------- */

static const char *p3_dtype_name(const wn_h5_info *info)
{
  if (info->is_string) return "strings";
  switch (info->dtype) {
  case WN_DTYPE_F32: return "float32";
  case WN_DTYPE_F64: return "float64";
  case WN_DTYPE_I64: return "int64";
  case WN_DTYPE_I32: return "int32";
  default: return "a type other than float32/float64/int32/int64";
  }
}

/* Check that a 1-D column (or N x 1) exists, holds floats (want_float) or integers, and has rows entries.
 * shape_note explains the expected length in messages. Collective (same verdict everywhere). */
static PetscErrorCode p3_check_column(MPI_Comm comm, hid_t file, const char *path, const char *dataset, PetscBool want_float, int64_t rows, const char *shape_note, wn_h5_info *info, wn_verdict *v)
{
  PetscBool exists;
  PetscBool is_float, is_int;

  PetscFunctionBeginUser;
  if (v->code) PetscFunctionReturn(PETSC_SUCCESS);
  PetscCall(wn_h5_exists(comm, file, dataset, &exists));
  if (!exists) {
    wn_verdict_fail(v, PETSC_ERR_FILE_UNEXPECTED, "dataset %s not found in '%s'", dataset, path);
    PetscFunctionReturn(PETSC_SUCCESS);
  }
  PetscCall(wn_h5_info_get(comm, file, path, dataset, info));
  is_float = !info->is_string && (info->dtype == WN_DTYPE_F32 || info->dtype == WN_DTYPE_F64);
  is_int   = !info->is_string && (info->dtype == WN_DTYPE_I32 || info->dtype == WN_DTYPE_I64);
  if (want_float && !is_float) wn_verdict_fail(v, PETSC_ERR_FILE_UNEXPECTED, "dataset %s in '%s' holds %s; expected float32 or float64 values", dataset, path, p3_dtype_name(info));
  else if (!want_float && !is_int) wn_verdict_fail(v, PETSC_ERR_FILE_UNEXPECTED, "dataset %s in '%s' holds %s; expected int64 (or int32) offsets", dataset, path, p3_dtype_name(info));
  else if (!(info->ndim == 1 || (info->ndim == 2 && info->dims[1] == 1)))
    wn_verdict_fail(v, PETSC_ERR_FILE_UNEXPECTED, "dataset %s in '%s' is %d-D (%lld x %lld); expected a 1-D column%s%s", dataset, path, info->ndim, (long long)info->dims[0], (long long)info->dims[1], shape_note[0] ? " of " : "", shape_note);
  else if (rows >= 0 && info->dims[0] != rows) wn_verdict_fail(v, PETSC_ERR_FILE_UNEXPECTED, "dataset %s in '%s' has %lld rows; expected %s", dataset, path, (long long)info->dims[0], shape_note);
  PetscFunctionReturn(PETSC_SUCCESS);
}

/* /signals/epoch_<e>/difficulty: read and refuse NaN and -inf (+inf means "no steps"). */
static PetscErrorCode p3_read_difficulty_dataset(const wn_layout *L, hid_t file, const char *path, const char *dataset, double *difficulty, wn_verdict *v)
{
  wn_h5_info info;
  char       note[128];

  PetscFunctionBeginUser;
  snprintf(note, sizeof(note), "N = %lld (the candidates)", (long long)L->n_global);
  PetscCall(p3_check_column(L->comm, file, path, dataset, PETSC_TRUE, L->n_global, note, &info, v));
  if (v->code) PetscFunctionReturn(PETSC_SUCCESS);
  PetscCall(wn_h5_read_rows_double(L->comm, file, dataset, L->row_start, L->n_local, difficulty));
  for (int64_t i = 0; i < L->n_local; i++)
    if (isnan(difficulty[i]) || difficulty[i] == -INFINITY) {
      wn_verdict_fail(v, PETSC_ERR_FILE_UNEXPECTED, "dataset %s in '%s' has difficulty %g at row %lld; expected finite values or +inf (a row without steps)", dataset, path, difficulty[i], (long long)(L->row_start + i));
      break;
    }
  PetscCall(wn_verdict_agree(L->comm, v));
  PetscFunctionReturn(PETSC_SUCCESS);
}

/* /signals/epoch_<e>/step_offset + step_prob: check the offsets (first 0, nondecreasing, last = length of
 * step_prob), read this rank's slice of probabilities and compute the difficulty. */
static PetscErrorCode p3_read_steps(const wn_layout *L, hid_t file, const char *path, const char *ds_offset, const char *ds_prob, double *difficulty, wn_verdict *v)
{
  wn_h5_info info_offset, info_prob;
  char       note[160], what[PETSC_MAX_PATH_LEN + 300];
  int64_t   *offsets = NULL, n_steps;
  double    *prob    = NULL;

  PetscFunctionBeginUser;
  snprintf(note, sizeof(note), "N + 1 = %lld (one start offset per candidate, then the end)", (long long)(L->n_global + 1));
  PetscCall(p3_check_column(L->comm, file, path, ds_offset, PETSC_FALSE, L->n_global + 1, note, &info_offset, v));
  PetscCall(p3_check_column(L->comm, file, path, ds_prob, PETSC_TRUE, -1, "step probabilities", &info_prob, v));
  if (v->code) PetscFunctionReturn(PETSC_SUCCESS);

  /* Rows row_start .. row_start + n_local inclusive: the boundary entry is held on both sides, so the
   * nondecreasing check across rank boundaries is local. */
  PetscCall(PetscMalloc1(L->n_local + 1, &offsets));
  PetscCall(wn_h5_read_rows_int64(L->comm, file, ds_offset, L->row_start, L->n_local + 1, offsets));
  if (L->row_start == 0 && offsets[0] != 0) wn_verdict_fail(v, PETSC_ERR_FILE_UNEXPECTED, "dataset %s in '%s': the first offset (row 0) is %lld; expected 0", ds_offset, path, (long long)offsets[0]);
  for (int64_t i = 0; i < L->n_local && !v->code; i++)
    if (offsets[i + 1] < offsets[i])
      wn_verdict_fail(v, PETSC_ERR_FILE_UNEXPECTED, "dataset %s in '%s': the offsets decrease at row %lld (offset %lld, then %lld); offsets must be nondecreasing", ds_offset, path, (long long)(L->row_start + i), (long long)offsets[i], (long long)offsets[i + 1]);
  if (!v->code && L->row_start + L->n_local == L->n_global && offsets[L->n_local] != info_prob.dims[0])
    wn_verdict_fail(v, PETSC_ERR_FILE_UNEXPECTED, "dataset %s in '%s': the last offset (entry N = %lld) is %lld but %s has %lld entries; they must be equal", ds_offset, path, (long long)L->n_global, (long long)offsets[L->n_local], ds_prob, (long long)info_prob.dims[0]);
  PetscCall(wn_verdict_agree(L->comm, v));
  if (v->code) {
    PetscCall(PetscFree(offsets));
    PetscFunctionReturn(PETSC_SUCCESS);
  }
  /* Every offset now lies in [0, length of step_prob]: the hyperslab below is in range on every rank. */
  n_steps = offsets[L->n_local] - offsets[0];
  PetscCall(PetscMalloc1(n_steps > 0 ? n_steps : 1, &prob));
  PetscCall(wn_h5_read_rows_double(L->comm, file, ds_prob, offsets[0], n_steps, prob));
  snprintf(what, sizeof(what), "dataset %s in '%s'", ds_prob, path);
  p3_steps_local(what, L->row_start, L->n_local, offsets, prob, difficulty, v);
  PetscCall(wn_verdict_agree(L->comm, v));
  PetscCall(PetscFree(prob));
  PetscCall(PetscFree(offsets));
  PetscFunctionReturn(PETSC_SUCCESS);
}

/**
  @brief Read epoch `epoch`'s difficulty for this rank's rows (P3, METHODS.md 1.2; DESIGN.md section 6).

  WN_P3_SOURCE_DIFFICULTY reads /signals/epoch_<e>/difficulty (N doubles; +inf allowed, NaN and -inf
  refused). WN_P3_SOURCE_STEPS reads /signals/epoch_<e>/step_offset (N + 1 integers: offsets[0] == 0,
  nondecreasing, offsets[N] == length of step_prob; each rank reads its n_local + 1 entries) and this rank's
  slice step_prob[offsets[0] .. offsets[n_local]) with one hyperslab, then applies
  wn_p3_difficulty_from_steps(). WN_P3_SOURCE_AUTO uses the difficulty dataset when it exists, else the
  steps.

  Collective on layout->comm. A missing file or dataset, a wrong length, rank or type, bad offsets or bad
  values give one error from rank 0 naming the file, dataset, row and value; the file is closed and memory
  freed first.

  @param[in]  layout      the candidates' row split (borrowed); N = layout->n_global
  @param[in]  path        HDF5 file (same on every rank)
  @param[in]  epoch       epoch e >= 0
  @param[in]  source      which datasets to use
  @param[out] difficulty  layout->n_local doubles (caller allocates)
  @param[out] used        the source actually read (STEPS or DIFFICULTY); may be NULL
**/
PetscErrorCode wn_p3_read_difficulty(const wn_layout *layout, const char *path, int epoch, wn_p3_source source, double *difficulty, wn_p3_source *used)
{
  MPI_Comm   comm = layout->comm;
  hid_t      file = -1;
  char       ds_diff[64], ds_offset[64], ds_prob[64];
  wn_verdict v = {0, ""};
  PetscBool  has_diff, has_offset;

  PetscFunctionBeginUser;
  PetscCheck(epoch >= 0, comm, PETSC_ERR_ARG_OUTOFRANGE, "P3 epoch must be >= 0, got %d", epoch);
  PetscCheck(source == WN_P3_SOURCE_AUTO || source == WN_P3_SOURCE_STEPS || source == WN_P3_SOURCE_DIFFICULTY, comm, PETSC_ERR_ARG_OUTOFRANGE, "unknown P3 difficulty source %d", (int)source);
  snprintf(ds_diff, sizeof(ds_diff), "/signals/epoch_%d/difficulty", epoch);
  snprintf(ds_offset, sizeof(ds_offset), "/signals/epoch_%d/step_offset", epoch);
  snprintf(ds_prob, sizeof(ds_prob), "/signals/epoch_%d/step_prob", epoch);
  PetscCall(wn_h5_open(comm, path, PETSC_FALSE, &file));
  if (source == WN_P3_SOURCE_AUTO) {
    PetscCall(wn_h5_exists(comm, file, ds_diff, &has_diff));
    PetscCall(wn_h5_exists(comm, file, ds_offset, &has_offset));
    if (has_diff) source = WN_P3_SOURCE_DIFFICULTY;
    else if (has_offset) source = WN_P3_SOURCE_STEPS;
    else wn_verdict_fail(&v, PETSC_ERR_FILE_UNEXPECTED, "neither %s nor %s (with step_prob) found in '%s'; P3 needs one of them for epoch %d", ds_diff, ds_offset, path, epoch);
  }
  if (!v.code && source == WN_P3_SOURCE_DIFFICULTY) PetscCall(p3_read_difficulty_dataset(layout, file, path, ds_diff, difficulty, &v));
  else if (!v.code) PetscCall(p3_read_steps(layout, file, path, ds_offset, ds_prob, difficulty, &v));
  PetscCall(wn_h5_close(&file));
  PetscCheck(!v.code, comm, v.code, "%s", v.msg);
  if (used) *used = source;
  PetscFunctionReturn(PETSC_SUCCESS);
}

/**
  @brief Read /signals/epoch_<e>/features (N x f, float32 or float64 on disk) for this rank's rows
  (P3's DPP features, METHODS.md 1.4).

  Collective on layout->comm. Errors (from rank 0, naming the file and dataset): missing dataset, not 2-D,
  not floating point, a row count other than N, f = 0, NaN or infinite values (the lowest bad row and its
  column; float64 values beyond float32's range count as infinite).

  @param[in]  layout    the candidates' row split (borrowed)
  @param[in]  path      HDF5 file
  @param[in]  epoch     epoch e >= 0
  @param[out] features  layout->n_local x f floats, row-major, owned by the caller (PetscFree)
  @param[out] f         number of feature columns (same on every rank)
**/
PetscErrorCode wn_p3_read_features(const wn_layout *layout, const char *path, int epoch, float **features, int64_t *f)
{
  MPI_Comm   comm = layout->comm;
  hid_t      file = -1;
  char       dataset[64];
  wn_verdict v = {0, ""};
  PetscBool  exists;
  wn_h5_info info;
  float     *x = NULL;

  PetscFunctionBeginUser;
  *features = NULL;
  *f        = 0;
  PetscCheck(epoch >= 0, comm, PETSC_ERR_ARG_OUTOFRANGE, "P3 epoch must be >= 0, got %d", epoch);
  snprintf(dataset, sizeof(dataset), "/signals/epoch_%d/features", epoch);
  PetscCall(wn_h5_open(comm, path, PETSC_FALSE, &file));
  PetscCall(wn_h5_exists(comm, file, dataset, &exists));
  if (!exists) wn_verdict_fail(&v, PETSC_ERR_FILE_UNEXPECTED, "dataset %s not found in '%s'", dataset, path);
  else {
    PetscCall(wn_h5_info_get(comm, file, path, dataset, &info));
    if (info.is_string || (info.dtype != WN_DTYPE_F32 && info.dtype != WN_DTYPE_F64)) wn_verdict_fail(&v, PETSC_ERR_FILE_UNEXPECTED, "dataset %s in '%s' holds %s; expected N x f float32 or float64 features", dataset, path, p3_dtype_name(&info));
    else if (info.ndim != 2) wn_verdict_fail(&v, PETSC_ERR_FILE_UNEXPECTED, "dataset %s in '%s' is %d-D; expected N x f (one feature row per candidate)", dataset, path, info.ndim);
    else if (info.dims[0] != layout->n_global) wn_verdict_fail(&v, PETSC_ERR_FILE_UNEXPECTED, "dataset %s in '%s' has %lld rows; expected N = %lld (the candidates)", dataset, path, (long long)info.dims[0], (long long)layout->n_global);
    else if (info.dims[1] < 1) wn_verdict_fail(&v, PETSC_ERR_FILE_UNEXPECTED, "dataset %s in '%s' has zero columns; expected N x f with f >= 1", dataset, path);
  }
  if (!v.code) {
    int64_t d = info.dims[1];

    PetscCall(PetscMalloc1(layout->n_local * d > 0 ? layout->n_local * d : 1, &x));
    PetscCall(wn_h5_read_rows_float(comm, file, dataset, layout->row_start, layout->n_local, d, x));
    for (int64_t k = 0; k < layout->n_local * d; k++)
      if (!isfinite(x[k])) {
        wn_verdict_fail(&v, PETSC_ERR_FILE_UNEXPECTED, "dataset %s in '%s' has a %s value at row %lld, column %lld (0-based); features must be finite", dataset, path, isnan(x[k]) ? "NaN" : "infinite (or beyond float32)", (long long)(layout->row_start + k / d), (long long)(k % d));
        break;
      }
    PetscCall(wn_verdict_agree(comm, &v));
    *f = d;
  }
  PetscCall(wn_h5_close(&file));
  if (v.code) {
    PetscCall(PetscFree(x));
    *f = 0;
    SETERRQ(comm, v.code, "%s", v.msg);
  }
  *features = x;
  PetscFunctionReturn(PETSC_SUCCESS);
}

/* ---- schedule, percentile, trend, eligible (METHODS.md 1.3) ------------------------------------- */

/**
  @brief The pace-adaptive percentile of epoch e (P3's code): start + (end - start) / n_epochs * e.

  Pure, not collective. Evaluated in exactly that order (Python's left-to-right), so 45, 95 and 5 epochs
  give 45, 55, 65, 75, 85 with the same bits as the reference. n_epochs must be >= 1.

  @param[in] epoch     e, 0-based
  @param[in] n_epochs  E
  @param[in] start     percentile of epoch 0 (45 in P3)
  @param[in] end       percentile reached at epoch E (95 in P3; never used itself)
  @return the percentile, in percent
**/
double wn_p3_percentile_at(int epoch, int n_epochs, double start, double end)
{
  double step = (end - start) / (double)n_epochs;

  return start + step * (double)epoch;
}

/* Order-preserving map of a double (not NaN) to an unsigned 64-bit key: flip the sign bit of
 * non-negative values and every bit of negative ones. -0.0 is mapped like +0.0 (they compare equal). */
static inline uint64_t p3_key(double x)
{
  uint64_t b;

  if (x == 0.0) x = 0.0;
  memcpy(&b, &x, sizeof(b));
  return (b >> 63) ? ~b : b | 0x8000000000000000ULL;
}

static inline double p3_unkey(uint64_t k)
{
  uint64_t b = (k >> 63) ? k & 0x7fffffffffffffffULL : ~k;
  double   x;

  memcpy(&x, &b, sizeof(x));
  return x;
}

/* The k-th smallest key (0-based) of a distributed vector, by bisection on the key range [lo, hi] (the
 * global min and max): each round counts the keys <= mid with one MPI_Allreduce (<= 64 rounds). The keys
 * still inside [lo, hi] are compacted into work, so the passes shrink. Collective. */
static PetscErrorCode p3_select(MPI_Comm comm, int64_t n_local, const uint64_t *keys, uint64_t *work, int64_t k, uint64_t lo, uint64_t hi, uint64_t *kth)
{
  int64_t n_work = 0, below = 0; /* local keys in [lo, hi]; local keys < lo */

  PetscFunctionBeginUser;
  for (int64_t i = 0; i < n_local; i++)
    if (keys[i] >= lo && keys[i] <= hi) work[n_work++] = keys[i];
    else if (keys[i] < lo) below++;
  while (lo < hi) {
    uint64_t mid = lo + (hi - lo) / 2;
    int64_t  c = below, c_all, kept = 0;

    for (int64_t i = 0; i < n_work; i++) c += work[i] <= mid;
    PetscCallMPI(MPI_Allreduce(&c, &c_all, 1, MPI_INT64_T, MPI_SUM, comm));
    if (c_all >= k + 1) hi = mid;
    else lo = mid + 1;
    for (int64_t i = 0; i < n_work; i++)
      if (work[i] < lo) below++;
      else if (work[i] <= hi) work[kept++] = work[i];
    n_work = kept;
  }
  *kth = lo;
  PetscFunctionReturn(PETSC_SUCCESS);
}

/**
  @brief numpy.percentile(x, pct) (default method "linear", numpy 1.24) of a distributed vector, with
  numpy's bits.

  Collective on comm. Replays numpy's operations: q = pct / 100, virtual index v = (N - 1) * q; if
  v >= N - 1 both neighbours are the largest element and gamma = v + 1 (numpy sets the previous index to -1
  and computes gamma = v - previous), else previous = floor(v), next = previous + 1, gamma = v - previous;
  the result is _lerp(a, b, gamma) = a + (b - a) * gamma, replaced by b - (b - a) * (1 - gamma) when
  gamma >= 0.5. +inf entries take part as in numpy, so the result may be +inf or NaN (e.g. b = +inf with
  gamma = 0 gives NaN, as numpy does). The two order statistics are selected exactly, without gathering the
  vector (p3_select). -0.0 and +0.0 are treated as equal (+0.0 is returned for either).

  Errors (collective): N == 0, pct outside [0, 100] or NaN, NaN or -inf entries (the lowest global index).

  @param[in]  comm     communicator (borrowed)
  @param[in]  n_local  local entries (may be 0)
  @param[in]  x        the local entries (borrowed)
  @param[in]  pct      percentile in [0, 100], same on every rank
  @param[out] value    the percentile, same on every rank
**/
PetscErrorCode wn_percentile_linear(MPI_Comm comm, int64_t n_local, const double *x, double pct, double *value)
{
  int64_t   n, first, bad = INT64_MAX, bad_all, prev, next;
  uint64_t *keys, *work, kmin = UINT64_MAX, kmax = 0, kmin_all, kmax_all, ka = 0, kb;
  double    q, v, gamma, a, b;

  PetscFunctionBeginUser;
  PetscCheck(pct >= 0.0 && pct <= 100.0, comm, PETSC_ERR_ARG_OUTOFRANGE, "percentile must be in [0, 100], got %g", pct);
  PetscCallMPI(MPI_Allreduce(&n_local, &n, 1, MPI_INT64_T, MPI_SUM, comm));
  PetscCheck(n > 0, comm, PETSC_ERR_ARG_SIZ, "percentile of an empty vector (N = 0)");
  PetscCall(p3_first_global(comm, n_local, &first));
  for (int64_t i = 0; i < n_local; i++)
    if (isnan(x[i]) || x[i] == -INFINITY) {
      bad = first + i;
      break;
    }
  PetscCallMPI(MPI_Allreduce(&bad, &bad_all, 1, MPI_INT64_T, MPI_MIN, comm));
  if (bad_all != INT64_MAX) {
    int is_nan = bad == bad_all && isnan(x[bad - first]) ? 1 : 0, nan_all;

    PetscCallMPI(MPI_Allreduce(&is_nan, &nan_all, 1, MPI_INT, MPI_MAX, comm));
    SETERRQ(comm, PETSC_ERR_ARG_WRONG, "percentile of a vector with %s at entry %lld (of %lld); expected finite values or +inf", nan_all ? "NaN" : "-inf", (long long)bad_all, (long long)n);
  }

  /* numpy: q = true_divide(pct, 100); virtual index (n - 1) * q; _get_indexes; _get_gamma. */
  q = pct / 100.0;
  v = (double)(n - 1) * q;
  if (v >= (double)(n - 1)) {
    prev  = n - 1;
    next  = n - 1;
    gamma = v - (-1.0);
  } else {
    prev  = (int64_t)floor(v);
    next  = prev + 1;
    gamma = v - (double)prev;
  }

  PetscCall(PetscMalloc2(n_local > 0 ? n_local : 1, &keys, n_local > 0 ? n_local : 1, &work));
  for (int64_t i = 0; i < n_local; i++) {
    keys[i] = p3_key(x[i]);
    if (keys[i] < kmin) kmin = keys[i];
    if (keys[i] > kmax) kmax = keys[i];
  }
  PetscCallMPI(MPI_Allreduce(&kmin, &kmin_all, 1, MPI_UINT64_T, MPI_MIN, comm));
  PetscCallMPI(MPI_Allreduce(&kmax, &kmax_all, 1, MPI_UINT64_T, MPI_MAX, comm));
  PetscCall(p3_select(comm, n_local, keys, work, prev, kmin_all, kmax_all, &ka));
  kb = ka;
  if (next != prev) {
    /* The next order statistic is ka again when more than prev + 1 keys are <= ka, else the smallest
     * key above ka. */
    int64_t  le = 0, le_all;
    uint64_t above = UINT64_MAX, above_all;

    for (int64_t i = 0; i < n_local; i++) {
      if (keys[i] <= ka) le++;
      else if (keys[i] < above) above = keys[i];
    }
    PetscCallMPI(MPI_Allreduce(&le, &le_all, 1, MPI_INT64_T, MPI_SUM, comm));
    PetscCallMPI(MPI_Allreduce(&above, &above_all, 1, MPI_UINT64_T, MPI_MIN, comm));
    kb = le_all >= next + 1 ? ka : above_all;
  }
  PetscCall(PetscFree2(keys, work));
  a = p3_unkey(ka);
  b = p3_unkey(kb);
  {
    /* numpy's _lerp. The products go through volatile so that no compiler fuses them into an FMA, which
     * would change the last bit against numpy. */
    double          diff = b - a;
    volatile double prod;

    prod   = diff * gamma;
    *value = a + prod;
    if (gamma >= 0.5) {
      prod   = diff * (1.0 - gamma);
      *value = b - prod;
    }
  }
  PetscFunctionReturn(PETSC_SUCCESS);
}

/**
  @brief Trend score (P3's optional SPL variant, METHODS.md 1.3): out_i = d_i + alpha (d_i - prev_i).

  Pure, not collective. +inf when d_i or prev_i is +inf (a row without steps in either epoch). The product
  is not fused into an FMA (same bits as Python's d + alpha * (d - prev)).

  @param[in]  n_local  local entries
  @param[in]  d        this epoch's difficulty (borrowed)
  @param[in]  prev     the previous epoch's difficulty (borrowed)
  @param[in]  alpha    trend weight (P3's --alpha, default 0.1)
  @param[out] out      n_local scores; may alias d (or prev)
**/
void wn_p3_trend(int64_t n_local, const double *d, const double *prev, double alpha, double *out)
{
  for (int64_t i = 0; i < n_local; i++) {
    double          di = d[i], pi = prev[i];
    volatile double prod;

    if (di == INFINITY || pi == INFINITY) {
      out[i] = INFINITY;
      continue;
    }
    prod   = alpha * (di - pi);
    out[i] = di + prod;
  }
}

/**
  @brief The eligible set {i : score_i <= tau} of the pace-adaptive filter (METHODS.md 1.3).

  Collective on comm (one MPI_Allreduce for the count). Ties at tau are eligible. Scores that are not
  finite (+inf: rows without steps) are never eligible. When tau itself is not finite (numpy's percentile
  fell on or between +inf items and returned +inf or NaN), every finite item is eligible and
  *tau_not_finite is PETSC_TRUE, so the caller can say so in the report.

  @param[in]  comm            communicator (borrowed)
  @param[in]  n_local         local entries
  @param[in]  score           the local scores (borrowed)
  @param[in]  tau             the threshold, same on every rank
  @param[out] eligible        n_local flags, 1 = eligible (caller allocates)
  @param[out] n_eligible      global number of eligible items
  @param[out] tau_not_finite  PETSC_TRUE when tau is +inf, -inf or NaN
**/
PetscErrorCode wn_p3_eligible(MPI_Comm comm, int64_t n_local, const double *score, double tau, unsigned char *eligible, int64_t *n_eligible, PetscBool *tau_not_finite)
{
  PetscBool any_tau = isfinite(tau) ? PETSC_FALSE : PETSC_TRUE;
  int64_t   count   = 0;

  PetscFunctionBeginUser;
  for (int64_t i = 0; i < n_local; i++) {
    eligible[i] = isfinite(score[i]) && (any_tau || score[i] <= tau) ? 1 : 0;
    count += eligible[i];
  }
  PetscCallMPI(MPI_Allreduce(&count, n_eligible, 1, MPI_INT64_T, MPI_SUM, comm));
  *tau_not_finite = any_tau;
  PetscFunctionReturn(PETSC_SUCCESS);
}

/* ---- standardisation (METHODS.md 1.4) ----------------------------------------------------------- */

/* Exact sums of doubles over ranks: every value of a column is scaled by 2^shift (shift chosen from the
 * column's global max |value| so that |scaled| < 2^P3_FIXED_BITS), rounded to an integer (round half to
 * even), split into P3_LIMBS limbs of P3_LIMB_BITS bits (the top limb signed) and each limb summed in an
 * int64. Integer sums are associative, so the total does not depend on the rank count or order; the limb
 * sums cannot overflow below 2^39 rows. Precision: values below 2^-(P3_FIXED_BITS - 24) of the column
 * maximum (for float inputs; 2^-(P3_FIXED_BITS - 53) for doubles) are rounded to a multiple of
 * 2^(e - P3_FIXED_BITS), where 2^e > max |value|; the sum of N values is therefore exact to within
 * N * 2^(e - P3_FIXED_BITS - 1), far below float32 resolution. */
#define P3_FIXED_BITS 80
#define P3_LIMBS      4
#define P3_LIMB_BITS  24
#define P3_LIMB_MASK  ((1 << P3_LIMB_BITS) - 1)

static inline void p3_fixed_add(double value, int shift, int64_t *limbs)
{
  __int128 q = (__int128)rint(ldexp(value, shift));

  limbs[0] += (int64_t)(q & P3_LIMB_MASK);
  limbs[1] += (int64_t)((q >> P3_LIMB_BITS) & P3_LIMB_MASK);
  limbs[2] += (int64_t)((q >> (2 * P3_LIMB_BITS)) & P3_LIMB_MASK);
  limbs[3] += (int64_t)(q >> (3 * P3_LIMB_BITS)); /* arithmetic shift: the signed top limb */
}

/* The reduced limbs back to a double: sum * 2^-shift, rounded once (to nearest) from the exact integer. */
static inline double p3_fixed_value(const int64_t *limbs, int shift)
{
  __int128 s = (__int128)limbs[0];

  s += (__int128)limbs[1] * ((__int128)1 << P3_LIMB_BITS);
  s += (__int128)limbs[2] * ((__int128)1 << (2 * P3_LIMB_BITS));
  s += (__int128)limbs[3] * ((__int128)1 << (3 * P3_LIMB_BITS));
  return ldexp((double)s, -shift);
}

/* Shift that maps a column whose largest magnitude is amax > 0 below 2^P3_FIXED_BITS. */
static inline int p3_fixed_shift(double amax)
{
  int e;

  (void)frexp(amax, &e); /* amax < 2^e */
  return P3_FIXED_BITS - e;
}

/**
  @brief P3's DPP feature normalisation over the active rows (METHODS.md 1.4, code): per-column z-score
  with the population standard deviation, then each active row divided by its L2 norm.

  Collective on comm. For every column j over the active rows of all ranks: mean_j = S_j / n and
  var_j = (sum_i (x_ij - mean_j)^2) / n, with both sums exact (p3_fixed_add: fixed-point integers reduced
  as int64 limbs), so out has the same bits on any number of ranks. A column whose active values are all
  equal (global min == max) has zero variance and becomes 0 (P3's code would divide by zero; documented
  choice). z_ij = (x_ij - mean_j) / sqrt(var_j) in double; each active row is then divided by
  sqrt(sum_j z_ij^2) (column order) and stored as float; an all-zero row stays zero. Inactive rows of out
  are 0. No active rows anywhere: out is all zero and *n_zero_var = 0. NaN or infinite values in active
  rows are a collective error naming the lowest bad row.

  @param[in]  comm        communicator (borrowed)
  @param[in]  n_local     local rows
  @param[in]  f           feature columns (same on every rank)
  @param[in]  in          n_local x f floats, row-major (borrowed)
  @param[in]  active      n_local flags, nonzero = the row takes part (borrowed)
  @param[out] out         n_local x f floats, row-major (caller allocates; may alias in)
  @param[out] n_zero_var  global count of zero-variance columns (may be NULL)
**/
PetscErrorCode wn_p3_standardize(MPI_Comm comm, int64_t n_local, int64_t f, const float *in, const unsigned char *active, float *out, int64_t *n_zero_var)
{
  int64_t        first, bad = INT64_MAX, bad_all, n_act = 0, zero_count = 0;
  double        *ext, *ext_all, *mean, *scale, *z;
  int64_t       *limbs, *limbs_all;
  int           *shift;
  unsigned char *zero;

  PetscFunctionBeginUser;
  PetscCheck(f >= 1, comm, PETSC_ERR_ARG_OUTOFRANGE, "feature width must be >= 1, got %lld", (long long)f);
  if (n_zero_var) *n_zero_var = 0;
  PetscCall(p3_first_global(comm, n_local, &first));
  for (int64_t i = 0; i < n_local && bad == INT64_MAX; i++)
    if (active[i])
      for (int64_t j = 0; j < f; j++)
        if (!isfinite(in[i * f + j])) {
          bad = first + i;
          break;
        }
  PetscCallMPI(MPI_Allreduce(&bad, &bad_all, 1, MPI_INT64_T, MPI_MIN, comm));
  PetscCheck(bad_all == INT64_MAX, comm, PETSC_ERR_ARG_WRONG, "P3 features of row %lld are not finite (NaN or Inf); cannot standardise", (long long)bad_all);

  PetscCall(PetscMalloc4(2 * f + 1, &ext, 2 * f + 1, &ext_all, f, &mean, f, &scale));
  PetscCall(PetscMalloc5(P3_LIMBS * f + 1, &limbs, P3_LIMBS * f + 1, &limbs_all, f, &shift, f, &zero, f, &z));

  /* Pass 1: global max and min of every column (one MAX reduction of max and -min), and "any active row". */
  for (int64_t j = 0; j < 2 * f; j++) ext[j] = -INFINITY;
  ext[2 * f] = 0.0;
  for (int64_t i = 0; i < n_local; i++) {
    if (!active[i]) continue;
    n_act++;
    ext[2 * f] = 1.0;
    for (int64_t j = 0; j < f; j++) {
      double x = (double)in[i * f + j];

      if (x > ext[j]) ext[j] = x;
      if (-x > ext[f + j]) ext[f + j] = -x;
    }
  }
  PetscCallMPI(MPI_Allreduce(ext, ext_all, (int)(2 * f + 1), MPI_DOUBLE, MPI_MAX, comm));
  if (ext_all[2 * f] == 0.0) { /* no active rows anywhere */
    for (int64_t k = 0; k < n_local * f; k++) out[k] = 0.0f;
    PetscCall(PetscFree4(ext, ext_all, mean, scale));
    PetscCall(PetscFree5(limbs, limbs_all, shift, zero, z));
    PetscFunctionReturn(PETSC_SUCCESS);
  }
  for (int64_t j = 0; j < f; j++) {
    double amax = ext_all[j] > ext_all[f + j] ? ext_all[j] : ext_all[f + j];

    zero[j]  = ext_all[j] == -ext_all[f + j]; /* max == min: constant over the active rows */
    shift[j] = zero[j] ? 0 : p3_fixed_shift(amax);
  }

  /* Pass 2: exact column sums (and the active count in the last slot) -> means. */
  for (int64_t k = 0; k < P3_LIMBS * f + 1; k++) limbs[k] = 0;
  for (int64_t i = 0; i < n_local; i++) {
    if (!active[i]) continue;
    for (int64_t j = 0; j < f; j++)
      if (!zero[j]) p3_fixed_add((double)in[i * f + j], shift[j], limbs + P3_LIMBS * j);
  }
  limbs[P3_LIMBS * f] = n_act;
  PetscCallMPI(MPI_Allreduce(limbs, limbs_all, (int)(P3_LIMBS * f + 1), MPI_INT64_T, MPI_SUM, comm));
  n_act = limbs_all[P3_LIMBS * f];
  for (int64_t j = 0; j < f; j++) mean[j] = zero[j] ? 0.0 : p3_fixed_value(limbs_all + P3_LIMBS * j, shift[j]) / (double)n_act;

  /* Pass 3: max squared deviation of every column (for the fixed-point scale of pass 4). */
  for (int64_t j = 0; j < f; j++) ext[j] = 0.0;
  for (int64_t i = 0; i < n_local; i++) {
    if (!active[i]) continue;
    for (int64_t j = 0; j < f; j++) {
      double d = (double)in[i * f + j] - mean[j], d2 = d * d;

      if (d2 > ext[j]) ext[j] = d2;
    }
  }
  PetscCallMPI(MPI_Allreduce(ext, ext_all, (int)f, MPI_DOUBLE, MPI_MAX, comm));
  for (int64_t j = 0; j < f; j++) {
    if (!zero[j] && ext_all[j] == 0.0) zero[j] = 1; /* cannot happen for min < max; kept as a guard */
    shift[j] = zero[j] ? 0 : p3_fixed_shift(ext_all[j]);
  }

  /* Pass 4: exact sums of squared deviations -> population standard deviations. */
  for (int64_t k = 0; k < P3_LIMBS * f; k++) limbs[k] = 0;
  for (int64_t i = 0; i < n_local; i++) {
    if (!active[i]) continue;
    for (int64_t j = 0; j < f; j++)
      if (!zero[j]) {
        double d = (double)in[i * f + j] - mean[j];

        p3_fixed_add(d * d, shift[j], limbs + P3_LIMBS * j);
      }
  }
  PetscCallMPI(MPI_Allreduce(limbs, limbs_all, (int)(P3_LIMBS * f), MPI_INT64_T, MPI_SUM, comm));
  for (int64_t j = 0; j < f; j++) {
    scale[j] = zero[j] ? 0.0 : sqrt(p3_fixed_value(limbs_all + P3_LIMBS * j, shift[j]) / (double)n_act);
    if (!zero[j] && !(scale[j] > 0.0)) zero[j] = 1;
    zero_count += zero[j];
  }

  /* Output, row by row (each row is read completely before it is written, so out may alias in). */
  for (int64_t i = 0; i < n_local; i++) {
    double norm2 = 0.0, norm;

    if (!active[i]) {
      for (int64_t j = 0; j < f; j++) out[i * f + j] = 0.0f;
      continue;
    }
    for (int64_t j = 0; j < f; j++) {
      z[j] = zero[j] ? 0.0 : ((double)in[i * f + j] - mean[j]) / scale[j];
      norm2 += z[j] * z[j];
    }
    norm = sqrt(norm2);
    for (int64_t j = 0; j < f; j++) out[i * f + j] = norm > 0.0 ? (float)(z[j] / norm) : 0.0f;
  }
  if (n_zero_var) *n_zero_var = zero_count;
  PetscCall(PetscFree4(ext, ext_all, mean, scale));
  PetscCall(PetscFree5(limbs, limbs_all, shift, zero, z));
  PetscFunctionReturn(PETSC_SUCCESS);
}
