/* facility.c - the facility-location family (FL, FLMI, FLCG) as one objective on the greedy engine
 * (METHODS.md sections 0.1, 3 and 5; submodlib's FacilityLocation, FL1MI and FLCG).
 *
 * Owns: the replicated state (cap_t and floor_t over the kernel's columns), the gain
 *   gain(c) = sum_t max(0, min(K[c, t], cap_t) - floor_t),
 * the payload (the picked kernel row) and the update floor_t = max(floor_t, min(K[c*, t], cap_t)), plus the
 * FLMI cap and FLCG floor constructions, and the same objective on a sparse top-k kernel
 * (wn_facility_create_sparse). Leaves the loop, the reduction and the broadcast to greedy.c and the kernels
 * themselves to kernel.c and kernel_sparse.c.
 *
 * Summation order (fixed, so a candidate's gain has the same bits on any rank count and in gain() and
 * gain_all()): term t is computed in float and added, in double, to accumulator t mod 8, in increasing t;
 * the eight accumulators are then combined as ((a0 + a1) + (a2 + a3)) + ((a4 + a5) + (a6 + a7)).
 * Eight independent accumulators allow SIMD evaluation without reassociating anything (SSE2 intrinsics on
 * x86-64, a plain loop with the same bits elsewhere); one pass over dense K runs near memory bandwidth.
 * Monotonicity: each float term is non-increasing in floor_t and rounding is monotone, so a gain
 * recomputed after any update is <= the stale one, bit for bit: stale gains are upper bounds and lazy
 * greedy is exact.
 *
 * Sparse kernels (top-k entries per row, a MATMPIAIJ). The sum runs over the row's entries (t, v), in
 * ascending t, each term max(0, min(v, cap_t) - floor_t) in float added to accumulator t mod 8, and the
 * accumulators combined as above: every accumulator sees the same additions in the same order as in the dense
 * loop, minus the absent columns. An absent column is a 0 of the dense kernel, whose term is max(0, -floor_t)
 * = +0 for floor_t >= 0 (FL, FLMI and FLCG floors), and adding +0 changes no accumulator; so the sparse gain is
 * bit for bit the dense gain of the kernel with the dropped entries set to 0, and with k = T it is the dense
 * gain of the same K. The update likewise touches only the picked row's entries (an absent 0 never raises a
 * floor >= 0). The payload is the picked row: an int32 count, then count (int32 column, float value) pairs.
 */
#include <float.h>
#include <limits.h>
#include <math.h>
#include <string.h>
#include <winnow/facility.h>
#if defined(__SSE2__) && !defined(WN_NO_SIMD) /* -DWN_NO_SIMD: the plain loop, for checking the bits */
  #include <emmintrin.h>
  #define FACILITY_SSE2 1
#endif

typedef struct {
  const wn_kernel        *K;     /* dense kernel, borrowed (NULL for a sparse one); must outlive the objective */
  const wn_sparse_kernel *S;     /* sparse kernel, borrowed (NULL for a dense one); must outlive the objective */
  int64_t                 T;     /* columns */
  float                  *cap;   /* T caps, owned; NULL means no cap (+inf), the fast path */
  float                  *floor; /* T floors (the memo), owned, replicated on every rank */
} facility_ctx;

/* One entry of the sparse payload: the picked row's column and value. */
typedef struct {
  int32_t col;
  float   val;
} facility_entry;

/* The fixed combination of the eight accumulators (see the banner). Not collective. */
static inline double facility_combine(const double acc[8])
{
  return ((acc[0] + acc[1]) + (acc[2] + acc[3])) + ((acc[4] + acc[5]) + (acc[6] + acc[7]));
}

/* The per-row gains, in the fixed order described in the banner. On x86-64 the loops use SSE2 intrinsics
 * (the baseline of the architecture, so no build flag is needed): without -ffast-math the compiler does not
 * turn "d > 0 ? d : 0" into maxps and leaves a branchy scalar loop at a third of memory bandwidth.
 * The intrinsics compute exactly the scalar expressions: _mm_max_ps(d, 0) is "d > 0 ? d : 0",
 * _mm_min_ps(x, cap) is "x < cap ? x : cap", _mm_cvtps_pd is the exact float -> double conversion, and
 * accumulator lane k of the vectors is accumulator t mod 8 = k of the scalar code. The scalar fallback
 * (other architectures) therefore gives the same bits. */
/* term t of the gain: max(0, min(row_t, cap_t) - floor_t) in float (cap == NULL: no min). */
static inline float facility_term(const float *row, const float *cap, const float *floor, int64_t t)
{
  float v = row[t];
  float d;

  if (cap) v = v < cap[t] ? v : cap[t];
  d = v - floor[t];
  return d > 0.0f ? d : 0.0f;
}

/* gain of one row: sum_t max(0, min(row_t, cap_t) - floor_t), cap == NULL meaning no cap. With cap_t = +inf
 * the capped loop gives the same bits as the uncapped one (min(x, +inf) = x for every non-NaN x). */
static double facility_row_gain_impl(const float *restrict row, const float *restrict cap, const float *restrict floor, int64_t T)
{
  double  acc[8] = {0, 0, 0, 0, 0, 0, 0, 0};
  int64_t T8 = T - T % 8, t = 0;

#if defined(FACILITY_SSE2)
  {
    __m128d a01 = _mm_setzero_pd(), a23 = _mm_setzero_pd(), a45 = _mm_setzero_pd(), a67 = _mm_setzero_pd();
    const __m128 zero = _mm_setzero_ps();

    if (cap) {
      for (; t < T8; t += 8) {
        __m128 lo = _mm_min_ps(_mm_loadu_ps(row + t), _mm_loadu_ps(cap + t));
        __m128 hi = _mm_min_ps(_mm_loadu_ps(row + t + 4), _mm_loadu_ps(cap + t + 4));
        lo        = _mm_max_ps(_mm_sub_ps(lo, _mm_loadu_ps(floor + t)), zero);
        hi        = _mm_max_ps(_mm_sub_ps(hi, _mm_loadu_ps(floor + t + 4)), zero);
        a01       = _mm_add_pd(a01, _mm_cvtps_pd(lo));
        a23       = _mm_add_pd(a23, _mm_cvtps_pd(_mm_movehl_ps(lo, lo)));
        a45       = _mm_add_pd(a45, _mm_cvtps_pd(hi));
        a67       = _mm_add_pd(a67, _mm_cvtps_pd(_mm_movehl_ps(hi, hi)));
      }
    } else {
      for (; t < T8; t += 8) {
        __m128 lo = _mm_max_ps(_mm_sub_ps(_mm_loadu_ps(row + t), _mm_loadu_ps(floor + t)), zero);
        __m128 hi = _mm_max_ps(_mm_sub_ps(_mm_loadu_ps(row + t + 4), _mm_loadu_ps(floor + t + 4)), zero);
        a01       = _mm_add_pd(a01, _mm_cvtps_pd(lo));
        a23       = _mm_add_pd(a23, _mm_cvtps_pd(_mm_movehl_ps(lo, lo)));
        a45       = _mm_add_pd(a45, _mm_cvtps_pd(hi));
        a67       = _mm_add_pd(a67, _mm_cvtps_pd(_mm_movehl_ps(hi, hi)));
      }
    }
    _mm_storeu_pd(acc + 0, a01);
    _mm_storeu_pd(acc + 2, a23);
    _mm_storeu_pd(acc + 4, a45);
    _mm_storeu_pd(acc + 6, a67);
  }
#else
  for (; t < T8; t += 8)
    for (int k = 0; k < 8; k++) acc[k] += (double)facility_term(row, cap, floor, t + k);
#endif
  for (int k = 0; t + k < T; k++) acc[k] += (double)facility_term(row, cap, floor, t + k);
  return facility_combine(acc);
}

/* Gain of local row i in the current state; the one code path behind gain() and gain_all(). */
static inline double facility_row_gain(const facility_ctx *ctx, int64_t i)
{
  const float *row = ctx->K->values + (size_t)i * (size_t)ctx->T;

  return facility_row_gain_impl(row, ctx->cap, ctx->floor, ctx->T);
}

/**
  @brief wn_objective gain callback: exact marginal gain of local candidate i.

  Not collective.

  @param[in]  vctx  facility_ctx (borrowed)
  @param[in]  i     local row, 0 <= i < n_local
  @param[out] gain  sum_t max(0, min(K[i, t], cap_t) - floor_t), in the fixed order
**/
static PetscErrorCode facility_gain(void *vctx, int64_t i, double *gain)
{
  facility_ctx *ctx = (facility_ctx *)vctx;

  PetscFunctionBeginUser;
  PetscCheck(i >= 0 && i < ctx->K->layout.n_local, PETSC_COMM_SELF, PETSC_ERR_ARG_OUTOFRANGE, "facility gain: local row %lld outside [0, %lld)",
             (long long)i, (long long)ctx->K->layout.n_local);
  *gain = facility_row_gain(ctx, i);
  PetscFunctionReturn(PETSC_SUCCESS);
}

/**
  @brief wn_objective gain_all callback: one pass over the local rows, same bits as facility_gain().

  Not collective. Runs near memory bandwidth (one streaming read of the local rows of K).

  @param[in]  vctx      facility_ctx (borrowed)
  @param[in]  selected  n_local flags (or NULL): rows with a nonzero flag are skipped
  @param[out] gains     n_local gains; skipped entries are left untouched
**/
static PetscErrorCode facility_gain_all(void *vctx, const unsigned char *selected, double *gains)
{
  facility_ctx *ctx = (facility_ctx *)vctx;
  int64_t       n   = ctx->K->layout.n_local;

  PetscFunctionBeginUser;
  for (int64_t i = 0; i < n; i++)
    if (!selected || !selected[i]) gains[i] = facility_row_gain(ctx, i);
  PetscFunctionReturn(PETSC_SUCCESS);
}

/**
  @brief wn_objective pack callback: the payload is the picked row of K (n_cols floats).

  Not collective (the owner of the pick calls it).

  @param[in]  vctx     facility_ctx (borrowed)
  @param[in]  i        local row of the pick
  @param[out] payload  n_cols floats
**/
static PetscErrorCode facility_pack(void *vctx, int64_t i, void *payload)
{
  facility_ctx *ctx = (facility_ctx *)vctx;

  PetscFunctionBeginUser;
  PetscCheck(i >= 0 && i < ctx->K->layout.n_local, PETSC_COMM_SELF, PETSC_ERR_ARG_OUTOFRANGE, "facility pack: local row %lld outside [0, %lld)",
             (long long)i, (long long)ctx->K->layout.n_local);
  if (ctx->T > 0) memcpy(payload, ctx->K->values + (size_t)i * (size_t)ctx->T, (size_t)ctx->T * sizeof(float));
  PetscFunctionReturn(PETSC_SUCCESS);
}

/**
  @brief wn_objective update callback: floor_t = max(floor_t, min(row_t, cap_t)) on every rank.

  Not collective (every rank calls it with the same payload, so the replicated state stays identical).

  @param[in,out] vctx     facility_ctx
  @param[in]     g        global row of the pick (unused: the payload carries the row)
  @param[in]     payload  the picked row, n_cols floats
**/
static PetscErrorCode facility_update(void *vctx, int64_t g, const void *payload)
{
  facility_ctx *ctx   = (facility_ctx *)vctx;
  const float  *row   = (const float *)payload;
  float        *floor = ctx->floor;
  int64_t       T     = ctx->T;

  PetscFunctionBeginUser;
  (void)g;
  if (ctx->cap) {
    const float *cap = ctx->cap;
    for (int64_t t = 0; t < T; t++) {
      float v  = row[t] < cap[t] ? row[t] : cap[t];
      floor[t] = v > floor[t] ? v : floor[t];
    }
  } else {
    for (int64_t t = 0; t < T; t++) floor[t] = row[t] > floor[t] ? row[t] : floor[t];
  }
  PetscFunctionReturn(PETSC_SUCCESS);
}

/* wn_objective destroy callback: frees the caps, floors and context (not the borrowed kernel). */
static PetscErrorCode facility_destroy(void *vctx)
{
  facility_ctx *ctx = (facility_ctx *)vctx;

  PetscFunctionBeginUser;
  if (!ctx) PetscFunctionReturn(PETSC_SUCCESS);
  PetscCall(PetscFree(ctx->cap));
  PetscCall(PetscFree(ctx->floor));
  PetscCall(PetscFree(ctx));
  PetscFunctionReturn(PETSC_SUCCESS);
}

/* Check and copy the caps and floors into a new context (shared by the dense and the sparse objective), and
 * name the objective: "FL", "FLMI" (caps only), "FLCG" (floors only) or "facility" (both). Not collective. */
static PetscErrorCode facility_ctx_create(int64_t T, const float *cap, const float *floor0, facility_ctx **out, const char **name)
{
  facility_ctx *ctx;
  PetscBool     all_inf = PETSC_TRUE;

  PetscFunctionBeginUser;
  PetscCheck(T >= 0, PETSC_COMM_SELF, PETSC_ERR_ARG_OUTOFRANGE, "kernel has %lld columns; expected >= 0", (long long)T);
  if (cap)
    for (int64_t t = 0; t < T; t++) {
      PetscCheck(!isnan(cap[t]), PETSC_COMM_SELF, PETSC_ERR_ARG_WRONG, "facility cap of column %lld is NaN", (long long)t);
      if (cap[t] != INFINITY) all_inf = PETSC_FALSE;
    }
  if (floor0)
    for (int64_t t = 0; t < T; t++) PetscCheck(!isnan(floor0[t]), PETSC_COMM_SELF, PETSC_ERR_ARG_WRONG, "facility floor of column %lld is NaN", (long long)t);

  PetscCall(PetscNew(&ctx));
  ctx->T = T;
  if (cap && !all_inf) {
    PetscCall(PetscMalloc1((size_t)T + 1, &ctx->cap));
    memcpy(ctx->cap, cap, (size_t)T * sizeof(float));
  }
  PetscCall(PetscCalloc1((size_t)T + 1, &ctx->floor));
  if (floor0) memcpy(ctx->floor, floor0, (size_t)T * sizeof(float));
  *name = cap ? (floor0 ? "facility" : "FLMI") : (floor0 ? "FLCG" : "FL");
  *out  = ctx;
  PetscFunctionReturn(PETSC_SUCCESS);
}

/**
  @brief Create the facility-location objective on a candidate-major kernel.

  Not collective. gain(c) = sum_t max(0, min(K[c, t], cap_t) - floor_t), update
  floor_t = max(floor_t, min(K[c*, t], cap_t)) (METHODS.md section 5): FL with cap = NULL and floor0 = NULL,
  FLMI with the caps of wn_facility_flmi_caps(), FLCG with the floors of wn_facility_flcg_floors().
  The objective's name is "FL", "FLMI" (caps only), "FLCG" (floors only) or "facility" (both).
  When every cap is +inf the cap is dropped (same bits, faster loop).

  @param[in]  K       kernel, n_local x n_cols rows of the candidates (borrowed; must outlive the objective)
  @param[in]  cap     n_cols caps (copied), or NULL for no cap; no NaN
  @param[in]  floor0  n_cols initial floors (copied), or NULL for zeros; no NaN
  @param[out] obj     new objective, owned by the caller; free with wn_objective_destroy()
**/
PetscErrorCode wn_facility_create(const wn_kernel *K, const float *cap, const float *floor0, wn_objective **obj)
{
  facility_ctx *ctx;
  wn_objective *o;
  const char   *name;

  PetscFunctionBeginUser;
  PetscCheck(obj != NULL, PETSC_COMM_SELF, PETSC_ERR_ARG_NULL, "output argument obj is NULL");
  PetscCheck(K != NULL, PETSC_COMM_SELF, PETSC_ERR_ARG_NULL, "facility objective needs a kernel");
  PetscCheck(K->layout.n_local == 0 || K->n_cols <= 0 || K->values != NULL, PETSC_COMM_SELF, PETSC_ERR_ARG_NULL, "kernel has %lld local rows but no values",
             (long long)K->layout.n_local);
  PetscCall(facility_ctx_create(K->n_cols, cap, floor0, &ctx, &name));
  ctx->K = K;

  PetscCall(PetscNew(&o));
  o->name          = name;
  o->ctx           = ctx;
  o->layout        = &K->layout;
  o->payload_bytes = (size_t)ctx->T * sizeof(float);
  o->lazy_ok       = PETSC_TRUE;
  o->gain          = facility_gain;
  o->gain_all      = facility_gain_all;
  o->pack          = facility_pack;
  o->update        = facility_update;
  o->destroy       = facility_destroy;
  *obj             = o;
  PetscFunctionReturn(PETSC_SUCCESS);
}

/* ---- the sparse variant ---------------------------------------------------------------------------- */

/* gain of one sparse row: its n entries (cols ascending; vals are floats stored exactly as PetscScalar), the
 * term of column t into accumulator t mod 8, combined as the dense gain (see the banner). */
static double facility_sparse_row_gain(PetscInt n, const PetscInt *restrict cols, const PetscScalar *restrict vals, const float *restrict cap, const float *restrict floor)
{
  double acc[8] = {0, 0, 0, 0, 0, 0, 0, 0};

  if (cap) {
    for (PetscInt j = 0; j < n; j++) {
      PetscInt t = cols[j];
      float    v = (float)vals[j], d;

      v = v < cap[t] ? v : cap[t];
      d = v - floor[t];
      acc[t % 8] += (double)(d > 0.0f ? d : 0.0f);
    }
  } else {
    for (PetscInt j = 0; j < n; j++) {
      PetscInt t = cols[j];
      float    d = (float)vals[j] - floor[t];

      acc[t % 8] += (double)(d > 0.0f ? d : 0.0f);
    }
  }
  return facility_combine(acc);
}

/* Gain of local row i of the sparse kernel; the one code path behind its gain() and gain_all(). */
static PetscErrorCode facility_sparse_gain_row(const facility_ctx *ctx, int64_t i, double *gain)
{
  PetscInt           row = (PetscInt)(ctx->S->layout.row_start + i), n;
  const PetscInt    *cols;
  const PetscScalar *vals;

  PetscFunctionBeginUser;
  PetscCall(MatGetRow(ctx->S->A, row, &n, &cols, &vals));
  *gain = facility_sparse_row_gain(n, cols, vals, ctx->cap, ctx->floor);
  PetscCall(MatRestoreRow(ctx->S->A, row, &n, &cols, &vals));
  PetscFunctionReturn(PETSC_SUCCESS);
}

/**
  @brief wn_objective gain callback of the sparse objective: exact marginal gain of local candidate i.

  Not collective.

  @param[in]  vctx  facility_ctx (borrowed)
  @param[in]  i     local row, 0 <= i < n_local
  @param[out] gain  sum over the row's entries (t, v) of max(0, min(v, cap_t) - floor_t), in the fixed order
**/
static PetscErrorCode facility_sparse_gain(void *vctx, int64_t i, double *gain)
{
  facility_ctx *ctx = (facility_ctx *)vctx;

  PetscFunctionBeginUser;
  PetscCheck(i >= 0 && i < ctx->S->layout.n_local, PETSC_COMM_SELF, PETSC_ERR_ARG_OUTOFRANGE, "facility gain: local row %lld outside [0, %lld)", (long long)i,
             (long long)ctx->S->layout.n_local);
  PetscCall(facility_sparse_gain_row(ctx, i, gain));
  PetscFunctionReturn(PETSC_SUCCESS);
}

/**
  @brief wn_objective gain_all callback of the sparse objective: every unselected local row, same bits as
  facility_sparse_gain().

  Not collective.

  @param[in]  vctx      facility_ctx (borrowed)
  @param[in]  selected  n_local flags (or NULL): rows with a nonzero flag are skipped
  @param[out] gains     n_local gains; skipped entries are left untouched
**/
static PetscErrorCode facility_sparse_gain_all(void *vctx, const unsigned char *selected, double *gains)
{
  facility_ctx *ctx = (facility_ctx *)vctx;
  int64_t       n   = ctx->S->layout.n_local;

  PetscFunctionBeginUser;
  for (int64_t i = 0; i < n; i++)
    if (!selected || !selected[i]) PetscCall(facility_sparse_gain_row(ctx, i, &gains[i]));
  PetscFunctionReturn(PETSC_SUCCESS);
}

/**
  @brief wn_objective pack callback of the sparse objective: the picked row as an int32 count followed by count
  (int32 column, float value) pairs in ascending column order.

  Not collective (the owner of the pick calls it).

  @param[in]  vctx     facility_ctx (borrowed)
  @param[in]  i        local row of the pick
  @param[out] payload  payload_bytes = 4 + 8 k bytes (an unused tail is zeroed)
**/
static PetscErrorCode facility_sparse_pack(void *vctx, int64_t i, void *payload)
{
  facility_ctx      *ctx = (facility_ctx *)vctx;
  PetscInt           row, n;
  const PetscInt    *cols;
  const PetscScalar *vals;
  int32_t            count;
  unsigned char     *out = (unsigned char *)payload;

  PetscFunctionBeginUser;
  PetscCheck(i >= 0 && i < ctx->S->layout.n_local, PETSC_COMM_SELF, PETSC_ERR_ARG_OUTOFRANGE, "facility pack: local row %lld outside [0, %lld)", (long long)i,
             (long long)ctx->S->layout.n_local);
  row = (PetscInt)(ctx->S->layout.row_start + i);
  PetscCall(MatGetRow(ctx->S->A, row, &n, &cols, &vals));
  PetscCheck(n <= ctx->S->k, PETSC_COMM_SELF, PETSC_ERR_PLIB, "facility pack: row %lld has %lld entries, more than k = %lld", (long long)row, (long long)n,
             (long long)ctx->S->k);
  count = (int32_t)n;
  memcpy(out, &count, sizeof(count));
  for (PetscInt j = 0; j < n; j++) {
    facility_entry e = {(int32_t)cols[j], (float)vals[j]};
    memcpy(out + sizeof(count) + (size_t)j * sizeof(e), &e, sizeof(e));
  }
  if (n < ctx->S->k) memset(out + sizeof(count) + (size_t)n * sizeof(facility_entry), 0, (size_t)(ctx->S->k - n) * sizeof(facility_entry));
  PetscCall(MatRestoreRow(ctx->S->A, row, &n, &cols, &vals));
  PetscFunctionReturn(PETSC_SUCCESS);
}

/**
  @brief wn_objective update callback of the sparse objective: floor_t = max(floor_t, min(v, cap_t)) for the
  picked row's entries (t, v), on every rank.

  Not collective (every rank calls it with the same payload, so the replicated state stays identical).

  @param[in,out] vctx     facility_ctx
  @param[in]     g        global row of the pick (unused: the payload carries the row)
  @param[in]     payload  count, then count (column, value) pairs
**/
static PetscErrorCode facility_sparse_update(void *vctx, int64_t g, const void *payload)
{
  facility_ctx        *ctx   = (facility_ctx *)vctx;
  const unsigned char *in    = (const unsigned char *)payload;
  float               *floor = ctx->floor;
  int32_t              count;

  PetscFunctionBeginUser;
  (void)g;
  memcpy(&count, in, sizeof(count));
  PetscCheck(count >= 0 && count <= ctx->S->k, PETSC_COMM_SELF, PETSC_ERR_PLIB, "facility update: payload holds %d entries; expected 0 to %lld", (int)count,
             (long long)ctx->S->k);
  for (int32_t j = 0; j < count; j++) {
    facility_entry e;
    float          v;

    memcpy(&e, in + sizeof(count) + (size_t)j * sizeof(e), sizeof(e));
    PetscCheck(e.col >= 0 && e.col < ctx->T, PETSC_COMM_SELF, PETSC_ERR_PLIB, "facility update: column %d outside [0, %lld)", (int)e.col, (long long)ctx->T);
    v = e.val;
    if (ctx->cap) v = v < ctx->cap[e.col] ? v : ctx->cap[e.col];
    floor[e.col] = v > floor[e.col] ? v : floor[e.col];
  }
  PetscFunctionReturn(PETSC_SUCCESS);
}

/**
  @brief Create the facility-location objective on a sparse (top-k) kernel.

  Not collective. gain(c) = sum over row c's entries (t, v) of max(0, min(v, cap_t) - floor_t), and the update
  floor_t = max(floor_t, min(v, cap_t)) over the picked row's entries: the objective of wn_facility_create() on
  the dense kernel whose dropped entries are 0, bit for bit when the floors are >= 0 (see the banner), so with
  k = T the gains and the selection equal the dense ones. Caps, floors and names as in wn_facility_create().
  The payload is the picked row (4 + 8 S->k bytes).

  @param[in]  S       sparse kernel (borrowed; must outlive the objective)
  @param[in]  cap     S->n_cols caps (copied), or NULL for no cap; no NaN
  @param[in]  floor0  S->n_cols initial floors (copied), or NULL for zeros; no NaN
  @param[out] obj     new objective, owned by the caller; free with wn_objective_destroy()
**/
PetscErrorCode wn_facility_create_sparse(const wn_sparse_kernel *S, const float *cap, const float *floor0, wn_objective **obj)
{
  facility_ctx *ctx;
  wn_objective *o;
  const char   *name;

  PetscFunctionBeginUser;
  PetscCheck(obj != NULL, PETSC_COMM_SELF, PETSC_ERR_ARG_NULL, "output argument obj is NULL");
  PetscCheck(S != NULL && S->A != NULL, PETSC_COMM_SELF, PETSC_ERR_ARG_NULL, "facility objective needs a sparse kernel with its matrix");
  PetscCheck(S->k >= 0 && S->k <= (INT32_MAX - 64) / 8, PETSC_COMM_SELF, PETSC_ERR_ARG_OUTOFRANGE, "sparse kernel keeps %lld entries per row; the payload allows 0 to %d",
             (long long)S->k, (INT32_MAX - 64) / 8);
  PetscCall(facility_ctx_create(S->n_cols, cap, floor0, &ctx, &name));
  ctx->S = S;

  PetscCall(PetscNew(&o));
  o->name          = name;
  o->ctx           = ctx;
  o->layout        = &S->layout;
  o->payload_bytes = sizeof(int32_t) + (size_t)S->k * sizeof(facility_entry);
  o->lazy_ok       = PETSC_TRUE;
  o->gain          = facility_sparse_gain;
  o->gain_all      = facility_sparse_gain_all;
  o->pack          = facility_sparse_pack;
  o->update        = facility_sparse_update;
  o->destroy       = facility_destroy;
  *obj             = o;
  PetscFunctionReturn(PETSC_SUCCESS);
}

/* Allgather one float per row (local block -> N floats on every rank), by the kernel's row layout. */
static PetscErrorCode facility_allgather_rows(const wn_layout *layout, const float *local, float **all)
{
  PetscMPIInt *counts, *displs;
  float       *out;

  PetscFunctionBeginUser;
  PetscCall(PetscMalloc2(layout->size, &counts, layout->size, &displs));
  for (int r = 0; r < layout->size; r++) {
    int64_t start, count;
    wn_layout_range(layout->n_global, layout->size, r, &start, &count);
    counts[r] = (PetscMPIInt)count;
    displs[r] = (PetscMPIInt)start;
  }
  PetscCall(PetscMalloc1((size_t)layout->n_global + 1, &out));
  PetscCallMPI(MPI_Allgatherv(local, (PetscMPIInt)layout->n_local, MPI_FLOAT, out, counts, displs, MPI_FLOAT, layout->comm));
  PetscCall(PetscFree2(counts, displs));
  *all = out;
  PetscFunctionReturn(PETSC_SUCCESS);
}

/* Checks shared by the cap and floor constructions; collective (all values replicated). */
static PetscErrorCode facility_check_side(const wn_kernel *S, double factor, const char *what, const char *factor_name)
{
  PetscFunctionBeginUser;
  PetscCheck(S->layout.n_global <= INT_MAX, S->layout.comm, PETSC_ERR_SUP,
             "%s: %lld pool rows exceed the 2^31-1 rows one MPI_Allgatherv can gather", what, (long long)S->layout.n_global);
  PetscCheck(S->n_cols >= 1, S->layout.comm, PETSC_ERR_ARG_SIZ, "%s: the side kernel has %lld columns; expected at least 1", what,
             (long long)S->n_cols);
  PetscCheck(isfinite(factor), S->layout.comm, PETSC_ERR_ARG_OUTOFRANGE, "%s: %s must be finite, got %g", what, factor_name, factor);
  PetscFunctionReturn(PETSC_SUCCESS);
}

/* max_q row[q] over M >= 1 values, in float (exact). */
static inline float facility_row_max(const float *row, int64_t M)
{
  float m = row[0];

  for (int64_t q = 1; q < M; q++) m = row[q] > m ? row[q] : m;
  return m;
}

/* max(lowest, (float)(factor * max_t K[i, t])) for every row i of K, computed by the row owners (product in
 * double, rounded to float) and allgathered: the FLMI caps and the FLCG floors. Collective. */
static PetscErrorCode facility_scaled_row_max(const wn_kernel *K, double factor, float lowest, float **out)
{
  float *local;

  PetscFunctionBeginUser;
  PetscCall(PetscMalloc1((size_t)K->layout.n_local + 1, &local));
  for (int64_t i = 0; i < K->layout.n_local; i++) {
    float v  = (float)(factor * (double)facility_row_max(K->values + (size_t)i * (size_t)K->n_cols, K->n_cols));
    local[i] = v > lowest ? v : lowest;
  }
  PetscCall(facility_allgather_rows(&K->layout, local, out));
  PetscCall(PetscFree(local));
  PetscFunctionReturn(PETSC_SUCCESS);
}

/**
  @brief FLMI caps: cap_i = max(FLT_MIN, eta * max_q SQ[i, q]) for every pool row i (submodlib FL1MI).

  Collective on SQ->layout.comm. Each rank computes its rows (eta * max in double, rounded to float),
  then the N caps are allgathered. The FLT_MIN floor is submodlib's quirk (its query memo starts at
  std::numeric_limits<float>::min()): a row with eta * max <= 0 gets cap FLT_MIN, not 0. METHODS.md 0.1.

  @param[in]  SQ   pool-by-query kernel, N x M with the pool's row layout (borrowed)
  @param[in]  eta  magnification eta (submodlib magnificationEta, default 1), finite
  @param[out] cap  N floats on every rank, owned by the caller (PetscFree)
**/
PetscErrorCode wn_facility_flmi_caps(const wn_kernel *SQ, double eta, float **cap)
{
  PetscFunctionBeginUser;
  PetscCheck(SQ != NULL && cap != NULL, PETSC_COMM_SELF, PETSC_ERR_ARG_NULL, "wn_facility_flmi_caps needs a kernel and an output");
  PetscCall(facility_check_side(SQ, eta, "FLMI caps", "eta"));
  PetscCall(facility_scaled_row_max(SQ, eta, FLT_MIN, cap));
  PetscFunctionReturn(PETSC_SUCCESS);
}

/**
  @brief FLCG floors: floor_i = max(0, nu * max_p SP[i, p]) for every pool row i (submodlib FLCG).

  Collective on SP->layout.comm. Each rank computes its rows (nu * max in double, rounded to float),
  then the N floors are allgathered. These are the memo values after the private set P has been
  pre-inserted; f(A | P) = sum_i max(0, max_{j in A} S_ij - floor_i). METHODS.md 0.1.

  @param[in]  SP     pool-by-private kernel, N x P with the pool's row layout (borrowed)
  @param[in]  nu     privacy hardness nu (submodlib privacyHardness, default 1), finite
  @param[out] floor  N floats on every rank, owned by the caller (PetscFree)
**/
PetscErrorCode wn_facility_flcg_floors(const wn_kernel *SP, double nu, float **floor)
{
  PetscFunctionBeginUser;
  PetscCheck(SP != NULL && floor != NULL, PETSC_COMM_SELF, PETSC_ERR_ARG_NULL, "wn_facility_flcg_floors needs a kernel and an output");
  PetscCall(facility_check_side(SP, nu, "FLCG floors", "nu"));
  PetscCall(facility_scaled_row_max(SP, nu, 0.0f, floor));
  PetscFunctionReturn(PETSC_SUCCESS);
}
