/* dpp.c - greedy DPP MAP (Chen, Zhang and Zhou, NeurIPS 2018, Algorithm 1; METHODS.md 0.2) as one objective
 * on the distributed greedy engine, and the ScaLAPACK log-determinant checks of its selections.
 *
 * Owns: per-candidate state on the rank that owns the candidate: the incremental Cholesky rows
 * c_j (stored pick-major, column t of C holds e_j of pick t for the local rows, so the update streams C once) and
 * d_j^2 = L_jj - ||c_j||^2; the payload of a pick s (q_s, d_s, the aux value of x_s, c_s, then x_s or the
 * user row L[s, :]); the update
 *   e_j = (L[s, j] - <c_s, c_j>) / d_s,   c_j <- (c_j, e_j),   d_j^2 <- d_j^2 - e_j^2      (Chen et al. eq. (9)-(10))
 * with L[s, j] computed locally from the broadcast features; the replicated copy of the selected features (or
 * of L_Y for user kernels) that the ScaLAPACK check rebuilds L_Y from.
 * Leaves to others: the loop, the MAXLOC and the broadcast (greedy.c), the factorisations (logdet.c).
 *
 * Arithmetic (fixed, so a candidate's state has the same bits on any rank count):
 *  - dot products and squared distances of float features are summed in double, term k into accumulator
 *    k mod 8, in increasing k, combined as ((a0 + a1) + (a2 + a3)) + ((a4 + a5) + (a6 + a7)); products of two
 *    floats are exact in double. SSE2 on x86-64, the same lanes in a plain loop elsewhere (-DWN_NO_SIMD).
 *  - S(a, b) is symmetric bit for bit: cosine = dot * (aux_a * aux_b), RBF = exp(-gamma * dist2); L = (q_a q_b) S.
 *  - <c_s, c_j> is summed over t in increasing order for each j (the loop over j is the vectorised one).
 */
#include <float.h>
#include <math.h>
#include <string.h>
#include <winnow/dpp.h>
#if defined(__SSE2__) && !defined(WN_NO_SIMD)
  #include <emmintrin.h>
  #define DPP_SSE2 1
#endif

const char *const wn_dpp_kind_names[] = {"cosine", "dot", "rbf", "user", "wn_dpp_kind", "WN_DPP_", NULL};

#define DPP_CHUNK 256 /* rows per update block: their partial sums stay in L1 */

typedef struct {
  double q, ds, aux; /* quality, sqrt(d^2) and aux value of the pick */
} dpp_head;

typedef struct {
  const wn_layout     *layout;
  wn_dpp_params        p;
  int64_t              d, N, n_local, K;  /* feature dimension (0 for user), candidates, local rows, max picks */
  const float         *X;                 /* n_local x d (borrowed) */
  const float         *U;                 /* n_local x N user rows (borrowed) */
  const double        *q;                 /* n_local or NULL (borrowed) */
  const unsigned char *active;            /* n_local or NULL (borrowed) */
  double              *aux;               /* n_local, owned */
  double              *C;                 /* K columns of n_local, owned */
  double              *d2;                /* n_local, owned */
  unsigned char       *taken;             /* n_local, owned */
  int64_t              t;                 /* picks so far */
  /* replicated record of the picks (for the ScaLAPACK checks) */
  int64_t             *sel_g;             /* K global rows */
  float               *sel_x;             /* K x d */
  double              *sel_q, *sel_aux;   /* K each */
  double              *sel_L;             /* user: lower triangle of L_Y, packed row-wise, K (K + 1) / 2 */
  double              *work;              /* 2 * DPP_CHUNK doubles */
} dpp_ctx;

/* ---- the kernel entries ----------------------------------------------------------------------- */

/* sum_k f(a_k, b_k) in the fixed 8-accumulator order; f = a*b (sq = 0) or (a-b)^2 (sq = 1). Pure. */
static inline double dpp_reduce(const float *restrict a, const float *restrict b, int64_t d, int sq)
{
  double  acc[8] = {0, 0, 0, 0, 0, 0, 0, 0};
  int64_t d8 = d - d % 8, k = 0;

#if defined(DPP_SSE2)
  {
    __m128d s01 = _mm_setzero_pd(), s23 = _mm_setzero_pd(), s45 = _mm_setzero_pd(), s67 = _mm_setzero_pd();
    for (; k < d8; k += 8) {
      __m128  alo = _mm_loadu_ps(a + k), ahi = _mm_loadu_ps(a + k + 4), blo = _mm_loadu_ps(b + k), bhi = _mm_loadu_ps(b + k + 4);
      __m128d a01 = _mm_cvtps_pd(alo), a23 = _mm_cvtps_pd(_mm_movehl_ps(alo, alo)), a45 = _mm_cvtps_pd(ahi), a67 = _mm_cvtps_pd(_mm_movehl_ps(ahi, ahi));
      __m128d b01 = _mm_cvtps_pd(blo), b23 = _mm_cvtps_pd(_mm_movehl_ps(blo, blo)), b45 = _mm_cvtps_pd(bhi), b67 = _mm_cvtps_pd(_mm_movehl_ps(bhi, bhi));
      if (sq) {
        a01 = _mm_sub_pd(a01, b01);
        a23 = _mm_sub_pd(a23, b23);
        a45 = _mm_sub_pd(a45, b45);
        a67 = _mm_sub_pd(a67, b67);
        b01 = a01;
        b23 = a23;
        b45 = a45;
        b67 = a67;
      }
      s01 = _mm_add_pd(s01, _mm_mul_pd(a01, b01));
      s23 = _mm_add_pd(s23, _mm_mul_pd(a23, b23));
      s45 = _mm_add_pd(s45, _mm_mul_pd(a45, b45));
      s67 = _mm_add_pd(s67, _mm_mul_pd(a67, b67));
    }
    _mm_storeu_pd(acc + 0, s01);
    _mm_storeu_pd(acc + 2, s23);
    _mm_storeu_pd(acc + 4, s45);
    _mm_storeu_pd(acc + 6, s67);
  }
#endif
  for (; k < d; k++) {
    double x = (double)a[k], y = (double)b[k];
    if (sq) {
      x = x - y;
      y = x;
    }
    acc[k % 8] += x * y;
  }
  (void)d8;
  return ((acc[0] + acc[1]) + (acc[2] + acc[3])) + ((acc[4] + acc[5]) + (acc[6] + acc[7]));
}

double wn_dpp_aux(wn_dpp_kind kind, int64_t d, const float *x)
{
  double nn;

  if (kind != WN_DPP_COSINE) return 0.0;
  nn = dpp_reduce(x, x, d, 0);
  return nn > 0.0 ? 1.0 / sqrt(nn) : 0.0;
}

/* S(a, b) for feature kernels (see the banner for the symmetric order of operations). Pure. */
static inline double dpp_similarity(const wn_dpp_params *p, int64_t d, const float *xa, double aux_a, const float *xb, double aux_b)
{
  switch (p->kind) {
  case WN_DPP_COSINE:
    return dpp_reduce(xa, xb, d, 0) * (aux_a * aux_b);
  case WN_DPP_RBF:
    return exp(-p->gamma * dpp_reduce(xa, xb, d, 1));
  default:
    return dpp_reduce(xa, xb, d, 0);
  }
}

double wn_dpp_entry(const wn_dpp_params *params, int64_t d, const float *xa, double qa, double aux_a, const float *xb, double qb, double aux_b,
                    PetscBool diag)
{
  double l = (qa * qb) * dpp_similarity(params, d, xa, aux_a, xb, aux_b);
  return diag ? l + params->jitter : l;
}

/* ---- memory ------------------------------------------------------------------------------------ */

double wn_dpp_bytes(int64_t n_local, int64_t N, int64_t d, int64_t max_picks, wn_dpp_kind kind)
{
  double K = (double)max_picks, n = (double)n_local;
  double b = n * K * 8.0 + n * (8.0 + 8.0 + 1.0);                         /* C, d2, aux, taken */
  b += K * (8.0 + 8.0 + 8.0);                                              /* sel_g, sel_q, sel_aux */
  if (kind == WN_DPP_USER) b += K * (K + 1.0) / 2.0 * 8.0 + (double)N * 4.0; /* L_Y, payload row */
  else b += K * (double)d * 4.0 + (double)d * 4.0;                         /* selected features, payload */
  return b + K * 8.0 + sizeof(dpp_head);                                   /* payload's c_s */
}

/* ---- the objective's callbacks ----------------------------------------------------------------- */

static inline PetscBool dpp_live(const dpp_ctx *c, int64_t i) { return !c->taken[i] && (!c->active || c->active[i]); }

static PetscErrorCode dpp_gain(void *vctx, int64_t i, double *gain)
{
  dpp_ctx *c = (dpp_ctx *)vctx;

  PetscFunctionBeginUser;
  *gain = dpp_live(c, i) ? c->d2[i] : -INFINITY;
  PetscFunctionReturn(PETSC_SUCCESS);
}

static PetscErrorCode dpp_gain_all(void *vctx, const unsigned char *selected, double *gains)
{
  dpp_ctx *c = (dpp_ctx *)vctx;

  PetscFunctionBeginUser;
  for (int64_t i = 0; i < c->n_local; i++)
    if (!selected[i]) gains[i] = dpp_live(c, i) ? c->d2[i] : -INFINITY;
  PetscFunctionReturn(PETSC_SUCCESS);
}

/* Pointers into a payload: head, K doubles of c_s, then d floats (features) or N floats (user row). */
static inline void dpp_payload_split(const dpp_ctx *c, const void *payload, dpp_head **h, double **cs, float **x)
{
  char *p = (char *)payload;
  *h      = (dpp_head *)p;
  *cs     = (double *)(p + sizeof(dpp_head));
  *x      = (float *)(p + sizeof(dpp_head) + (size_t)c->K * sizeof(double));
}

static PetscErrorCode dpp_pack(void *vctx, int64_t i, void *payload)
{
  dpp_ctx  *c = (dpp_ctx *)vctx;
  dpp_head *h;
  double   *cs;
  float    *x;

  PetscFunctionBeginUser;
  dpp_payload_split(c, payload, &h, &cs, &x);
  h->q   = c->q ? c->q[i] : 1.0;
  h->ds  = c->d2[i] > 0.0 ? sqrt(c->d2[i]) : 0.0;
  h->aux = c->aux[i];
  for (int64_t t = 0; t < c->t; t++) cs[t] = c->C[(size_t)t * (size_t)c->n_local + (size_t)i];
  for (int64_t t = c->t; t < c->K; t++) cs[t] = 0.0;
  if (c->p.kind == WN_DPP_USER) PetscCall(PetscArraycpy(x, c->U + (size_t)i * (size_t)c->N, (size_t)c->N));
  else PetscCall(PetscArraycpy(x, c->X + (size_t)i * (size_t)c->d, (size_t)c->d));
  PetscFunctionReturn(PETSC_SUCCESS);
}

/**
  @brief wn_objective update callback: append e_j to every live candidate's Cholesky row (Chen et al. eq. (9),
  (10)) after global row g was picked, and record the pick.

  Not collective (every rank calls it with the same payload).
**/
static PetscErrorCode dpp_update(void *vctx, int64_t g, const void *payload)
{
  dpp_ctx  *c = (dpp_ctx *)vctx;
  dpp_head *h;
  double   *cs, *lsj = c->work, *acc = c->work + DPP_CHUNK;
  float    *xs;
  int64_t   n = c->n_local, t = c->t, row_start = c->layout->row_start;
  double    ds, qs;

  PetscFunctionBeginUser;
  PetscCheck(t < c->K, PETSC_COMM_SELF, PETSC_ERR_PLIB, "dpp: more picks than the %lld the objective was sized for", (long long)c->K);
  dpp_payload_split(c, payload, &h, &cs, &xs);
  ds = h->ds;
  qs = h->q;
  if (g >= row_start && g < row_start + n) c->taken[g - row_start] = 1;

  for (int64_t j0 = 0; j0 < n; j0 += DPP_CHUNK) {
    int64_t j1 = j0 + DPP_CHUNK < n ? j0 + DPP_CHUNK : n, m = j1 - j0;
    double *Cnew = c->C + (size_t)t * (size_t)n + (size_t)j0;

    /* L[s, j] */
    for (int64_t j = j0; j < j1; j++) {
      if (!dpp_live(c, j)) {
        lsj[j - j0] = 0.0;
        continue;
      }
      if (c->p.kind == WN_DPP_USER) {
        lsj[j - j0] = (double)xs[row_start + j];
        if (row_start + j == g) lsj[j - j0] += c->p.jitter;
      } else {
        double qj   = c->q ? c->q[j] : 1.0;
        lsj[j - j0] = wn_dpp_entry(&c->p, c->d, xs, qs, h->aux, c->X + (size_t)j * (size_t)c->d, qj, c->aux[j], row_start + j == g ? PETSC_TRUE : PETSC_FALSE);
      }
    }
    /* <c_s, c_j>, summed over t in increasing order for each j */
    for (int64_t j = 0; j < m; j++) acc[j] = 0.0;
    for (int64_t u = 0; u < t; u++) {
      const double  cu  = cs[u];
      const double *col = c->C + (size_t)u * (size_t)n + (size_t)j0;
      for (int64_t j = 0; j < m; j++) acc[j] += cu * col[j];
    }
    for (int64_t j = 0; j < m; j++) {
      double e = 0.0;
      if (ds > 0.0 && dpp_live(c, j0 + j)) e = (lsj[j] - acc[j]) / ds;
      Cnew[j] = e;
      c->d2[j0 + j] -= e * e;
    }
  }

  /* the replicated record of the pick */
  c->sel_g[t]   = g;
  c->sel_q[t]   = qs;
  c->sel_aux[t] = h->aux;
  if (c->p.kind == WN_DPP_USER) {
    double *row = c->sel_L + (size_t)t * (size_t)(t + 1) / 2;
    for (int64_t b = 0; b < t; b++) row[b] = (double)xs[c->sel_g[b]];
    row[t] = (double)xs[g] + c->p.jitter;
  } else PetscCall(PetscArraycpy(c->sel_x + (size_t)t * (size_t)c->d, xs, (size_t)c->d));
  c->t = t + 1;
  PetscFunctionReturn(PETSC_SUCCESS);
}

static PetscErrorCode dpp_destroy(void *vctx)
{
  dpp_ctx *c = (dpp_ctx *)vctx;

  PetscFunctionBeginUser;
  if (!c) PetscFunctionReturn(PETSC_SUCCESS);
  PetscCall(PetscFree(c->aux));
  PetscCall(PetscFree(c->C));
  PetscCall(PetscFree(c->d2));
  PetscCall(PetscFree(c->taken));
  PetscCall(PetscFree(c->sel_g));
  PetscCall(PetscFree(c->sel_x));
  PetscCall(PetscFree(c->sel_q));
  PetscCall(PetscFree(c->sel_aux));
  PetscCall(PetscFree(c->sel_L));
  PetscCall(PetscFree(c->work));
  PetscCall(PetscFree(c));
  PetscFunctionReturn(PETSC_SUCCESS);
}

/**
  @brief Create the DPP MAP objective (Chen et al. 2018, Algorithm 1) over the layout's rows.

  Collective on layout->comm (argument and value checks are agreed by every rank).

  @param[in]  layout     candidate rows (borrowed)
  @param[in]  params     kernel kind, RBF gamma, jitter, epsilon
  @param[in]  d          feature dimension (ignored for WN_DPP_USER)
  @param[in]  features   n_local x d floats (borrowed) or NULL for user kernels
  @param[in]  user_rows  n_local x N floats, this rank's rows of L (borrowed), only for user kernels
  @param[in]  quality    n_local qualities >= 0 (borrowed) or NULL (q = 1); not with user kernels
  @param[in]  active     n_local flags (borrowed) or NULL (every row is a candidate)
  @param[in]  max_picks  the budget
  @param[out] obj        the objective (owned; wn_objective_destroy)
**/
PetscErrorCode wn_dpp_objective_create(const wn_layout *layout, const wn_dpp_params *params, int64_t d, const float *features, const float *user_rows,
                                       const double *quality, const unsigned char *active, int64_t max_picks, wn_objective **obj)
{
  MPI_Comm      comm;
  dpp_ctx      *c;
  wn_objective *o;
  int64_t       n, bad = -1;

  PetscFunctionBeginUser;
  PetscCheck(layout && params && obj, PETSC_COMM_SELF, PETSC_ERR_ARG_NULL, "wn_dpp_objective_create: NULL argument");
  comm = layout->comm;
  n    = layout->n_local;
  PetscCheck(max_picks >= 1 && max_picks <= layout->n_global, comm, PETSC_ERR_ARG_OUTOFRANGE, "dpp: budget %lld is out of range 1..%lld",
             (long long)max_picks, (long long)layout->n_global);
  PetscCheck(params->kind >= WN_DPP_COSINE && params->kind <= WN_DPP_USER, comm, PETSC_ERR_ARG_OUTOFRANGE, "dpp: unknown kernel kind %d", (int)params->kind);
  PetscCheck(params->kind != WN_DPP_RBF || (params->gamma > 0 && isfinite(params->gamma)), comm, PETSC_ERR_ARG_OUTOFRANGE,
             "dpp: the RBF kernel needs gamma > 0 (-wn_kernel_gamma), got %g", params->gamma);
  PetscCheck(params->jitter >= 0 && isfinite(params->jitter), comm, PETSC_ERR_ARG_OUTOFRANGE, "dpp: jitter must be >= 0 (-wn_dpp_jitter), got %g",
             params->jitter);
  PetscCheck(params->epsilon >= 0 && isfinite(params->epsilon), comm, PETSC_ERR_ARG_OUTOFRANGE, "dpp: epsilon must be >= 0 (-wn_dpp_epsilon), got %g",
             params->epsilon);
  if (params->kind == WN_DPP_USER) {
    PetscCheck(!quality, comm, PETSC_ERR_ARG_INCOMP, "dpp: a quality vector cannot be combined with a user-supplied L (put it into L)");
    WN_CHECK_ALL(comm, n == 0 || user_rows, PETSC_ERR_ARG_NULL, "dpp: user kernel without rows");
  } else {
    PetscCheck(d >= 1, comm, PETSC_ERR_ARG_OUTOFRANGE, "dpp: feature dimension %lld must be >= 1", (long long)d);
    WN_CHECK_ALL(comm, n == 0 || features, PETSC_ERR_ARG_NULL, "dpp: feature kernel without features");
  }
  for (int64_t i = 0; quality && i < n && bad < 0; i++)
    if (!(quality[i] >= 0 && isfinite(quality[i]))) bad = i;
  WN_CHECK_ALL(comm, bad < 0, PETSC_ERR_ARG_OUTOFRANGE, "dpp: quality of candidate %lld is %g; expected a finite value >= 0",
               (long long)(layout->row_start + bad), bad >= 0 ? quality[bad] : 0.0);

  PetscCall(PetscNew(&c));
  c->layout  = layout;
  c->p       = *params;
  c->d       = params->kind == WN_DPP_USER ? 0 : d;
  c->N       = layout->n_global;
  c->n_local = n;
  c->K       = max_picks;
  c->X       = features;
  c->U       = user_rows;
  c->q       = quality;
  c->active  = active;
  PetscCall(PetscCalloc1((size_t)n + 1, &c->aux));
  PetscCall(PetscCalloc1((size_t)n * (size_t)max_picks + 1, &c->C));
  PetscCall(PetscMalloc1((size_t)n + 1, &c->d2));
  PetscCall(PetscCalloc1((size_t)n + 1, &c->taken));
  PetscCall(PetscMalloc1((size_t)max_picks, &c->sel_g));
  PetscCall(PetscMalloc1((size_t)max_picks, &c->sel_q));
  PetscCall(PetscMalloc1((size_t)max_picks, &c->sel_aux));
  if (params->kind == WN_DPP_USER) PetscCall(PetscMalloc1((size_t)max_picks * ((size_t)max_picks + 1) / 2, &c->sel_L));
  else PetscCall(PetscMalloc1((size_t)max_picks * (size_t)d, &c->sel_x));
  PetscCall(PetscMalloc1(2 * DPP_CHUNK, &c->work));

  /* d_j^2 = L_jj */
  for (int64_t j = 0; j < n; j++) {
    if (params->kind == WN_DPP_USER) {
      c->d2[j] = (double)user_rows[(size_t)j * (size_t)c->N + (size_t)(layout->row_start + j)] + params->jitter;
    } else {
      const float *x = features + (size_t)j * (size_t)d;
      double       qj = quality ? quality[j] : 1.0;
      c->aux[j]       = wn_dpp_aux(params->kind, d, x);
      c->d2[j]        = wn_dpp_entry(params, d, x, qj, c->aux[j], x, qj, c->aux[j], PETSC_TRUE);
    }
    if (isnan(c->d2[j]) && bad < 0) bad = j;
  }
  if (bad >= 0) PetscCall(dpp_destroy(c));
  WN_CHECK_ALL(comm, bad < 0, PETSC_ERR_FP, "dpp: L's diagonal entry for candidate %lld is NaN (check the features or the user L)",
               (long long)(layout->row_start + bad));

  PetscCall(PetscNew(&o));
  o->name          = "dpp";
  o->ctx           = c;
  o->layout        = layout;
  o->payload_bytes = sizeof(dpp_head) + (size_t)max_picks * sizeof(double) + (size_t)(params->kind == WN_DPP_USER ? c->N : d) * sizeof(float);
  o->lazy_ok       = PETSC_FALSE;
  o->gain          = dpp_gain;
  o->gain_all      = dpp_gain_all;
  o->pack          = dpp_pack;
  o->update        = dpp_update;
  o->destroy       = dpp_destroy;
  *obj             = o;
  PetscFunctionReturn(PETSC_SUCCESS);
}

/**
  @brief Turn the engine's DPP gains (d^2 at the time of each pick) into log-determinant gains: gain_t = log d^2_t
  and objective_t = sum_{u <= t} log d^2_u = log det(L_{Y_t}) (Chen et al. 2018, Algorithm 1, the by-product
  of the incremental Cholesky factorisation).

  Not collective.
**/
PetscErrorCode wn_dpp_selection_to_log(wn_selection *sel)
{
  double run = 0.0;

  PetscFunctionBeginUser;
  for (int64_t t = 0; t < sel->n; t++) {
    double g = sel->gain[t] > 0.0 ? log(sel->gain[t]) : -INFINITY;
    run += g;
    sel->gain[t]      = g;
    sel->objective[t] = run;
  }
  PetscFunctionReturn(PETSC_SUCCESS);
}

/* ---- ScaLAPACK checks ---------------------------------------------------------------------------- */

/* fill callback for L_Y: rows [r0, r1) of the k x k matrix of the picks so far */
static PetscErrorCode dpp_fill_selected(void *vctx, int64_t r0, int64_t r1, double *out)
{
  dpp_ctx *c = (dpp_ctx *)vctx;
  int64_t  k = c->t;

  PetscFunctionBeginUser;
  for (int64_t a = r0; a < r1; a++) {
    double *o = out + (size_t)(a - r0) * (size_t)k;
    for (int64_t b = 0; b < k; b++) {
      if (c->p.kind == WN_DPP_USER) {
        int64_t hi = a > b ? a : b, lo = a > b ? b : a;
        o[b] = c->sel_L[(size_t)hi * (size_t)(hi + 1) / 2 + (size_t)lo];
      } else {
        o[b] = wn_dpp_entry(&c->p, c->d, c->sel_x + (size_t)a * (size_t)c->d, c->sel_q[a], c->sel_aux[a], c->sel_x + (size_t)b * (size_t)c->d, c->sel_q[b],
                            c->sel_aux[b], a == b ? PETSC_TRUE : PETSC_FALSE);
      }
    }
  }
  PetscFunctionReturn(PETSC_SUCCESS);
}

/**
  @brief log det(L_Y) of the picks so far, recomputed with ScaLAPACK (pdpotrf over all ranks), to verify the
  greedy's incremental value (the HPL-style residual check of DESIGN.md section 5).

  Collective on the objective's communicator.
**/
PetscErrorCode wn_dpp_logdet_selected(wn_objective *obj, const wn_logdet_opts *opts, wn_logdet_result *res)
{
  dpp_ctx *c = (dpp_ctx *)obj->ctx;

  PetscFunctionBeginUser;
  PetscCall(wn_logdet_cholesky(c->layout->comm, c->t, dpp_fill_selected, c, opts, res));
  PetscFunctionReturn(PETSC_SUCCESS);
}

/* Context of the log det(L_A + I) fill: either the gathered active features or this rank's source block. */
typedef struct {
  const dpp_ctx *c;
  int64_t        na;
  const float   *xa;        /* na x d gathered features (feature kernels) */
  const double  *qa, *auxa; /* na each */
  const double  *block;     /* user kernels: rows [b0, b0 + nb) of L_A, row-major na wide */
  int64_t        b0;
} dpp_full_ctx;

static PetscErrorCode dpp_fill_full(void *vctx, int64_t r0, int64_t r1, double *out)
{
  dpp_full_ctx  *f = (dpp_full_ctx *)vctx;
  const dpp_ctx *c = f->c;
  int64_t        na = f->na;

  PetscFunctionBeginUser;
  for (int64_t a = r0; a < r1; a++) {
    double *o = out + (size_t)(a - r0) * (size_t)na;
    if (c->p.kind == WN_DPP_USER) {
      PetscCall(PetscArraycpy(o, f->block + (size_t)(a - f->b0) * (size_t)na, (size_t)na));
    } else {
      for (int64_t b = 0; b < na; b++)
        o[b] = wn_dpp_entry(&c->p, c->d, f->xa + (size_t)a * (size_t)c->d, f->qa[a], f->auxa[a], f->xa + (size_t)b * (size_t)c->d, f->qa[b], f->auxa[b],
                            a == b ? PETSC_TRUE : PETSC_FALSE);
    }
    o[a] += 1.0; /* L + I */
  }
  PetscFunctionReturn(PETSC_SUCCESS);
}

double wn_dpp_logdet_full_bytes(int64_t n_active, int64_t d, int size, const wn_logdet_opts *opts)
{
  double b = wn_logdet_bytes(n_active, size, opts);
  if (d > 0) b += (double)n_active * ((double)d * 4.0 + 16.0);                                  /* gathered features */
  else b += ((double)n_active + size - 1) / size * (double)n_active * 8.0 + (double)n_active * 8.0; /* source block */
  return b;
}

/**
  @brief log det(L_A + I) over the active set A with ScaLAPACK: the normaliser of the DPP, log P(Y) =
  log det(L_Y) - log det(L_A + I) (Kulesza and Taskar 2012, eq. (2.12)).

  Collective. Feature kernels: the active rows' features, qualities and aux values are allgathered and every rank
  computes the entries of its source rows. User kernels: the rows of L_A (restricted to active columns) move to
  the ranks of the ceil split with one Gatherv per rank.
**/
PetscErrorCode wn_dpp_logdet_full(wn_objective *obj, const wn_logdet_opts *opts, wn_logdet_result *res, int64_t *n_active)
{
  dpp_ctx     *c = (dpp_ctx *)obj->ctx;
  MPI_Comm     comm = c->layout->comm;
  int          size = c->layout->size, rank = c->layout->rank;
  int64_t      n = c->n_local, na_local = 0, na = 0, first = 0;
  int         *counts, *displs;
  dpp_full_ctx f;

  PetscFunctionBeginUser;
  for (int64_t i = 0; i < n; i++)
    if (!c->active || c->active[i]) na_local++;
  PetscCallMPI(MPI_Allreduce(&na_local, &na, 1, MPI_INT64_T, MPI_SUM, comm));
  PetscCallMPI(MPI_Exscan(&na_local, &first, 1, MPI_INT64_T, MPI_SUM, comm));
  if (rank == 0) first = 0;
  *n_active = na;
  PetscCheck(na <= INT32_MAX, comm, PETSC_ERR_ARG_OUTOFRANGE, "dpp: log det(L + I) over %lld items exceeds ScaLAPACK's 32-bit sizes", (long long)na);
  PetscCall(PetscMemzero(&f, sizeof(f)));
  f.c  = c;
  f.na = na;
  PetscCall(PetscMalloc2(size, &counts, size, &displs));
  if (c->p.kind != WN_DPP_USER) {
    float       *xl, *xa;
    double      *ql, *qa, *al, *aa;
    MPI_Datatype row;
    int64_t      k = 0;
    int          cnt = (int)na_local;

    PetscCheck(na * c->d <= (int64_t)INT32_MAX * 8, comm, PETSC_ERR_ARG_OUTOFRANGE, "dpp: too many active features to gather");
    PetscCall(PetscMalloc3((size_t)na_local * (size_t)c->d + 1, &xl, (size_t)na_local + 1, &ql, (size_t)na_local + 1, &al));
    PetscCall(PetscMalloc3((size_t)na * (size_t)c->d + 1, &xa, (size_t)na + 1, &qa, (size_t)na + 1, &aa));
    for (int64_t i = 0; i < n; i++) {
      if (c->active && !c->active[i]) continue;
      PetscCall(PetscArraycpy(xl + (size_t)k * (size_t)c->d, c->X + (size_t)i * (size_t)c->d, (size_t)c->d));
      ql[k] = c->q ? c->q[i] : 1.0;
      al[k] = c->aux[i];
      k++;
    }
    PetscCallMPI(MPI_Allgather(&cnt, 1, MPI_INT, counts, 1, MPI_INT, comm));
    displs[0] = 0;
    for (int r = 1; r < size; r++) displs[r] = displs[r - 1] + counts[r - 1];
    PetscCallMPI(MPI_Type_contiguous((int)c->d, MPI_FLOAT, &row));
    PetscCallMPI(MPI_Type_commit(&row));
    PetscCallMPI(MPI_Allgatherv(xl, cnt, row, xa, counts, displs, row, comm));
    PetscCallMPI(MPI_Type_free(&row));
    PetscCallMPI(MPI_Allgatherv(ql, cnt, MPI_DOUBLE, qa, counts, displs, MPI_DOUBLE, comm));
    PetscCallMPI(MPI_Allgatherv(al, cnt, MPI_DOUBLE, aa, counts, displs, MPI_DOUBLE, comm));
    f.xa   = xa;
    f.qa   = qa;
    f.auxa = aa;
    PetscCall(wn_logdet_cholesky(comm, na, dpp_fill_full, &f, opts, res));
    PetscCall(PetscFree3(xl, ql, al));
    PetscCall(PetscFree3(xa, qa, aa));
  } else {
    /* the compacted active columns of this rank's rows, then one Gatherv per destination rank of the ceil split */
    int64_t  mb = (na + size - 1) / size, *acol, k = 0, my0 = (int64_t)rank * mb, my1;
    double  *mine, *block;

    my0 = my0 < na ? my0 : na;
    my1 = my0 + mb < na ? my0 + mb : na;
    PetscCall(PetscMalloc1((size_t)na + 1, &acol));
    {
      /* global rows of the active set, in order, on every rank */
      int64_t *gl, *ga;
      int      cnt = (int)na_local;
      PetscCall(PetscMalloc2((size_t)na_local + 1, &gl, (size_t)na + 1, &ga));
      for (int64_t i = 0; i < n; i++)
        if (!c->active || c->active[i]) gl[k++] = c->layout->row_start + i;
      PetscCallMPI(MPI_Allgather(&cnt, 1, MPI_INT, counts, 1, MPI_INT, comm));
      displs[0] = 0;
      for (int r = 1; r < size; r++) displs[r] = displs[r - 1] + counts[r - 1];
      PetscCallMPI(MPI_Allgatherv(gl, cnt, MPI_INT64_T, ga, counts, displs, MPI_INT64_T, comm));
      PetscCall(PetscArraycpy(acol, ga, (size_t)na));
      PetscCall(PetscFree2(gl, ga));
    }
    PetscCheck(mb * na <= INT32_MAX, comm, PETSC_ERR_ARG_OUTOFRANGE, "dpp: log det(L + I) blocks of %lld x %lld exceed one MPI message", (long long)mb,
               (long long)na);
    PetscCall(PetscMalloc2((size_t)na_local * (size_t)na + 1, &mine, (size_t)(my1 - my0) * (size_t)na + 1, &block));
    k = 0;
    for (int64_t i = 0; i < n; i++) {
      const float *row = c->U + (size_t)i * (size_t)c->N;
      if (c->active && !c->active[i]) continue;
      for (int64_t b = 0; b < na; b++) mine[(size_t)k * (size_t)na + (size_t)b] = (double)row[acol[b]];
      mine[(size_t)k * (size_t)na + (size_t)(first + k)] += c->p.jitter;
      k++;
    }
    for (int r = 0; r < size; r++) {
      int64_t r0 = (int64_t)r * mb < na ? (int64_t)r * mb : na, r1 = r0 + mb < na ? r0 + mb : na;
      int64_t s0 = first > r0 ? first : r0, s1 = first + na_local < r1 ? first + na_local : r1;
      int     scount = s1 > s0 ? (int)((s1 - s0) * na) : 0;
      {
        int *rc, *rd;
        int64_t c0 = 0;
        PetscCall(PetscMalloc2(size, &rc, size, &rd));
        for (int q = 0; q < size; q++) {
          int64_t q0 = c0, q1 = c0 + counts[q];
          int64_t o0 = q0 > r0 ? q0 : r0, o1 = q1 < r1 ? q1 : r1;
          rc[q] = o1 > o0 ? (int)((o1 - o0) * na) : 0;
          rd[q] = o1 > o0 ? (int)((o0 - r0) * na) : 0;
          c0 = q1;
        }
        PetscCallMPI(MPI_Gatherv(scount ? mine + (size_t)(s0 - first) * (size_t)na : mine, scount, MPI_DOUBLE, block, rc, rd, MPI_DOUBLE, r, comm));
        PetscCall(PetscFree2(rc, rd));
      }
    }
    f.block = block;
    f.b0    = my0;
    PetscCall(wn_logdet_cholesky(comm, na, dpp_fill_full, &f, opts, res));
    PetscCall(PetscFree2(mine, block));
    PetscCall(PetscFree(acol));
  }
  PetscCall(PetscFree2(counts, displs));
  PetscFunctionReturn(PETSC_SUCCESS);
}
