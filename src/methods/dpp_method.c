/* methods/dpp_method.c - DPP diversity as winnow methods, and the shared DPP driver P3 uses.
 *
 * dpp:        greedy MAP of L = diag(q) S diag(q) + jitter I with S from the candidates' embeddings (cosine by
 *             default; dot or rbf) and q from -wn_dpp_quality or 1 (Chen, Zhang, Zhou, NeurIPS 2018).
 * dpp_kernel: greedy MAP of a dense N x N L: a user-supplied matrix (`select`, -wn_kernel_file) or the pool kernel
 *             computed by `run` with -wn_kernel_metric.
 * Owns: the driver (objective, engine with the epsilon stop and the always-taken first pick, log-domain gains),
 * the checks (ScaLAPACK's log det(L_Y) against the greedy's incremental value, HPL style; no duplicates), the
 * optional normaliser log det(L + I) with its memory estimate, and the report lines.
 */
#include <math.h>
#include <winnow/config.h>
#include <winnow/dpp.h>
#include <winnow/h5io.h>
#include <winnow/method.h>
#include <winnow/util.h>

/* The pdpotrf failure, as one clear message for every rank. Collective (the INFO is the same everywhere). */
static PetscErrorCode dpp_require_pd(MPI_Comm comm, const wn_logdet_result *r, const char *what, int64_t n)
{
  PetscFunctionBeginUser;
  PetscCheck(r->info == 0, comm, PETSC_ERR_NOT_CONVERGED,
             "ScaLAPACK pdpotrf failed on %s (%lld x %lld): the leading minor of order %d is not positive definite (INFO = %d), so the DPP kernel "
             "is not positive semidefinite. Add a small jitter to L's diagonal (-wn_dpp_jitter 1e-6) or fix the kernel",
             what, (long long)n, (long long)n, r->info, r->info);
  PetscFunctionReturn(PETSC_SUCCESS);
}

/**
  @brief Run one DPP greedy MAP on the engine: objective, loop, log-domain gains, and the ScaLAPACK check.

  Collective on prob->comm. The engine runs naive (every pick updates every candidate's Cholesky row anyway),
  with min_gain = epsilon and the first pick always taken. The check (cfg->dpp_check) recomputes log det(L_Y)
  with pdpotrf on all ranks. out->rank_stop tells whether the epsilon stop (the kernel's numerical rank) ended
  the selection before the budget. keep (may be NULL) receives the objective for further checks.
**/
PetscErrorCode wn_dpp_select_once(wn_problem *prob, const wn_layout *layout, const wn_dpp_params *p, int64_t d, const float *X, const float *U,
                                  const double *q, const unsigned char *active, int64_t budget, wn_selection **sel, wn_dpp_outcome *out,
                                  wn_objective **keep)
{
  const wn_config *cfg = (const wn_config *)prob->cfg;
  wn_objective    *obj = NULL;
  wn_greedy_params gp  = prob->greedy;

  PetscFunctionBeginUser;
  PetscCall(PetscMemzero(out, sizeof(*out)));
  out->logdet_check = NAN;
  gp.kind            = WN_GREEDY_NAIVE;
  gp.budget          = budget;
  gp.min_gain        = p->epsilon;
  gp.first_pick_free = PETSC_TRUE;
  PetscCall(wn_dpp_objective_create(layout, p, d, X, U, q, active, budget, &obj));
  PetscCall(wn_greedy_maximize(obj, &gp, sel));
  PetscCall(wn_dpp_selection_to_log(*sel));
  out->logdet    = (*sel)->n ? (*sel)->objective[(*sel)->n - 1] : 0.0;
  out->rank_stop = !strcmp((*sel)->stop_reason, "min_gain") ? PETSC_TRUE : PETSC_FALSE;
  out->singular = (*sel)->n > 0 && !isfinite(out->logdet) ? PETSC_TRUE : PETSC_FALSE;
  /* a first pick with d^2 <= 0 (taken anyway, as in the reference) makes L_Y singular: log det = -inf, no check */
  if (cfg->dpp_check && (*sel)->n > 0 && !out->singular) {
    wn_logdet_opts   o = {(int)cfg->dpp_nb, 0, 0};
    wn_logdet_result r;
    PetscCall(wn_dpp_logdet_selected(obj, &o, &r));
    PetscCall(dpp_require_pd(prob->comm, &r, "L_Y, the selected rows and columns of L", (*sel)->n));
    out->checked      = PETSC_TRUE;
    out->logdet_check = r.logdet;
    out->rel_diff     = fabs(out->logdet - r.logdet) / fmax(1.0, fabs(r.logdet));
    out->gflops       = r.gflops;
    out->nprow        = r.nprow;
    out->npcol        = r.npcol;
  }
  if (keep) *keep = obj;
  else PetscCall(wn_objective_destroy(&obj));
  PetscFunctionReturn(PETSC_SUCCESS);
}

/**
  @brief log det(L + I) over the objective's candidate set with ScaLAPACK, after a memory estimate (refused above
  -wn_memory_limit), and the DPP log-probability log P(Y) = log det(L_Y) - log det(L + I) of a selection whose
  greedy log det is logdet_Y. Report lines and RESULT keys logdet_L_plus_I, log_probability.

  Collective on prob->comm.
**/
PetscErrorCode wn_dpp_normalize(wn_problem *prob, wn_objective *obj, double logdet_Y, const wn_dpp_params *p, int64_t d, const unsigned char *active)
{
  const wn_config *cfg = (const wn_config *)prob->cfg;
  wn_logdet_opts   lo  = {(int)cfg->dpp_nb, 0, 0};
  wn_logdet_result r;
  int64_t          na = 0, na_local = 0;
  double           need;
  char             b1[32], b2[32];

  PetscFunctionBeginUser;
  for (int64_t i = 0; i < obj->layout->n_local; i++) na_local += active ? (active[i] != 0) : 1;
  PetscCallMPI(MPI_Allreduce(&na_local, &na, 1, MPI_INT64_T, MPI_SUM, prob->comm));
  need = wn_dpp_logdet_full_bytes(na, p->kind == WN_DPP_USER ? 0 : d, obj->layout->size, &lo);
  PetscCall(PetscPrintf(prob->comm, "memory: log det(L + I) over %lld candidates with ScaLAPACK needs %s per rank (limit %s)\n", (long long)na, wn_format_bytes(need, b1, sizeof(b1)),
                        wn_format_bytes(cfg->memory_limit, b2, sizeof(b2))));
  PetscCheck(need <= cfg->memory_limit, prob->comm, PETSC_ERR_MEM, "log det(L + I) over %lld candidates needs %s per rank but the limit is %s (-wn_memory_limit): drop -wn_dpp_normalize or run on more ranks", (long long)na, b1, b2);
  PetscCall(wn_dpp_logdet_full(obj, &lo, &r, &na));
  PetscCall(dpp_require_pd(prob->comm, &r, "L + I over the candidates", na));
  PetscCall(wn_report_result(prob->report, "logdet_L_plus_I", "%.12g", r.logdet));
  PetscCall(wn_report_result(prob->report, "log_probability", "%.12g", logdet_Y - r.logdet));
  PetscCall(PetscPrintf(prob->comm, "dpp: log det(L + I) = %.12g, log P(Y) = log det(L_Y) - log det(L + I) = %.12g (pdpotrf %.1f GFLOP/s)\n", r.logdet, logdet_Y - r.logdet, r.gflops));
  PetscFunctionReturn(PETSC_SUCCESS);
}

/* Report lines and checks of a finished single DPP selection (d: feature dimension, 0 for user kernels; active:
 * the candidate set or NULL), and the optional normaliser log det(L + I). Collective. */
PetscErrorCode wn_dpp_report(wn_problem *prob, wn_objective *obj, const wn_selection *sel, const wn_dpp_outcome *o, const wn_dpp_params *p, const char *kernel, int64_t d,
                             const unsigned char *active)
{
  const wn_config *cfg = (const wn_config *)prob->cfg;

  PetscFunctionBeginUser;
  PetscCall(PetscPrintf(prob->comm, "dpp: kernel %s, jitter %g, epsilon %g: %lld picks, log det(L_Y) = %.12g (greedy, summed in the log domain)\n", kernel, p->jitter, p->epsilon, (long long)sel->n, o->logdet));
  if (o->rank_stop)
    PetscCall(PetscPrintf(prob->comm, "dpp: the kernel's rank ended the selection early: after %lld of %lld picks the largest Schur complement d^2 fell below epsilon = %g "
                                      "(L has numerical rank %lld on the candidates; add -wn_dpp_jitter or use -wn_dpp_kernel rbf for a full-rank kernel)\n",
                          (long long)sel->n, (long long)prob->greedy.budget, p->epsilon, (long long)sel->n));
  if (o->singular) PetscCall(PetscPrintf(prob->comm, "dpp: the first pick has L_jj <= 0 (every candidate's diagonal is zero or negative): L_Y is singular, log det = -inf, not checked\n"));
  if (o->checked) {
    PetscCall(wn_report_check(prob->report, "logdet", o->rel_diff <= cfg->dpp_check_tol ? PETSC_TRUE : PETSC_FALSE,
                              "greedy %.12g vs ScaLAPACK pdpotrf %.12g on a %dx%d grid, relative difference %.2e (tolerance %.0e)", o->logdet, o->logdet_check, o->nprow, o->npcol,
                              o->rel_diff, cfg->dpp_check_tol));
    PetscCall(wn_report_result(prob->report, "logdet_scalapack", "%.12g", o->logdet_check));
    PetscCall(wn_report_result(prob->report, "logdet_rel_diff", "%.3e", o->rel_diff));
  }
  PetscCall(wn_report_result(prob->report, "dpp_kernel", "%s", kernel));
  PetscCall(wn_report_result(prob->report, "logdet", "%.12g", o->logdet));
  PetscCall(wn_report_result(prob->report, "rank_stop", "%s", o->rank_stop ? "yes" : "no"));
  if (cfg->dpp_normalize) PetscCall(wn_dpp_normalize(prob, obj, o->logdet, p, d, active));
  PetscCall(wn_check_no_duplicates(prob->report, sel));
  PetscFunctionReturn(PETSC_SUCCESS);
}

/* Memory check of a DPP run: print the estimate, refuse above the limit. Collective. */
PetscErrorCode wn_dpp_memory_check(wn_problem *prob, const wn_layout *layout, int64_t d, int64_t budget, wn_dpp_kind kind)
{
  const wn_config *cfg = (const wn_config *)prob->cfg;
  double           need = wn_dpp_bytes(layout->n_local, layout->n_global, d, budget, kind);
  char             b1[32], b2[32];

  PetscFunctionBeginUser;
  PetscCallMPI(MPI_Allreduce(MPI_IN_PLACE, &need, 1, MPI_DOUBLE, MPI_MAX, prob->comm));
  PetscCall(PetscPrintf(prob->comm, "memory: the DPP greedy needs %s on the largest rank (Cholesky rows %lld x %lld doubles; limit %s per rank)\n", wn_format_bytes(need, b1, sizeof(b1)),
                        (long long)layout->n_local, (long long)budget, wn_format_bytes(cfg->memory_limit, b2, sizeof(b2))));
  PetscCheck(need <= cfg->memory_limit, prob->comm, PETSC_ERR_MEM, "the DPP greedy needs %s per rank but the limit is %s (-wn_memory_limit): run on more ranks or lower -wn_budget", b1, b2);
  PetscFunctionReturn(PETSC_SUCCESS);
}

/* The DPP kind a method uses: -wn_dpp_kernel, or the method's default for auto. */
wn_dpp_kind wn_dpp_kind_resolve(const void *vcfg, wn_dpp_kind auto_kind)
{
  const wn_config *cfg = (const wn_config *)vcfg;
  return cfg->dpp_kernel == 0 ? auto_kind : (wn_dpp_kind)(cfg->dpp_kernel - 1);
}

/* Read an optional dataset of N doubles (qualities) for this rank's rows. Collective. */
static PetscErrorCode dpp_read_quality(wn_problem *prob, double **q)
{
  const wn_config *cfg = (const wn_config *)prob->cfg;
  const wn_layout *L   = &prob->pool->layout;
  hid_t            file = -1;
  wn_h5_info       info;

  PetscFunctionBeginUser;
  *q = NULL;
  if (!cfg->dpp_quality[0]) PetscFunctionReturn(PETSC_SUCCESS);
  PetscCheck(!cfg->subsample, prob->comm, PETSC_ERR_ARG_INCOMP, "-wn_dpp_quality cannot be combined with -wn_subsample");
  PetscCall(wn_h5_open(prob->comm, cfg->candidates.path, PETSC_FALSE, &file));
  PetscCall(wn_h5_info_get(prob->comm, file, cfg->candidates.path, cfg->dpp_quality, &info));
  PetscCheck(info.ndim == 1 && !info.is_string && info.dims[0] == L->n_global, prob->comm, PETSC_ERR_ARG_SIZ, "quality dataset %s in '%s' must hold N = %lld values (one per candidate), got shape %lld%s", cfg->dpp_quality,
             cfg->candidates.path, (long long)L->n_global, (long long)info.dims[0], info.ndim > 1 ? " x ..." : (info.is_string ? " (strings)" : ""));
  PetscCall(PetscMalloc1(L->n_local + 1, q));
  PetscCall(wn_h5_read_rows_double(prob->comm, file, cfg->dpp_quality, L->row_start, L->n_local, *q));
  PetscCall(wn_h5_close(&file));
  PetscFunctionReturn(PETSC_SUCCESS);
}

/**
  @brief Select with the DPP greedy MAP on the candidates' embeddings (method dpp).

  Collective on prob->comm. Scores: each candidate's diagonal L_jj (its quality-weighted self-similarity).
**/
PetscErrorCode wn_select_dpp(wn_problem *prob, wn_selection **sel, double **scores)
{
  const wn_config *cfg  = (const wn_config *)prob->cfg;
  const wn_pool   *pool = prob->pool;
  wn_dpp_params    p    = cfg->dpp;
  wn_dpp_outcome   o;
  wn_objective    *obj = NULL;
  double          *q   = NULL;

  PetscFunctionBeginUser;
  PetscCheck(prob->greedy.n_warm == 0, prob->comm, PETSC_ERR_ARG_INCOMP, "dpp does not take a warm start yet: drop -wn_warm_start");
  PetscCheck(pool->embedding || pool->layout.n_local == 0, PETSC_COMM_SELF, PETSC_ERR_PLIB, "dpp: the pool was loaded without embeddings");
  p.kind  = wn_dpp_kind_resolve(cfg, WN_DPP_COSINE);
  p.gamma = cfg->kernel.gamma;
  PetscCall(dpp_read_quality(prob, &q));
  PetscCall(wn_dpp_memory_check(prob, &pool->layout, pool->d, prob->greedy.budget, p.kind));
  PetscCall(wn_dpp_select_once(prob, &pool->layout, &p, pool->d, pool->embedding, NULL, q, NULL, prob->greedy.budget, sel, &o, &obj));
  PetscCall(wn_dpp_report(prob, obj, *sel, &o, &p, wn_dpp_kind_names[p.kind], pool->d, NULL));
  if (prob->want_scores) {
    PetscCall(PetscMalloc1(pool->layout.n_local + 1, scores));
    for (int64_t i = 0; i < pool->layout.n_local; i++) {
      const float *x = pool->embedding + (size_t)i * (size_t)pool->d;
      double       a = wn_dpp_aux(p.kind, pool->d, x), qi = q ? q[i] : 1.0;
      (*scores)[i]   = wn_dpp_entry(&p, pool->d, x, qi, a, x, qi, a, PETSC_TRUE);
    }
  }
  PetscCall(wn_objective_destroy(&obj));
  PetscCall(PetscFree(q));
  PetscFunctionReturn(PETSC_SUCCESS);
}

/**
  @brief Select with the DPP greedy MAP on a dense N x N kernel L (method dpp_kernel): a user-supplied L read by
  `select`, or the pool kernel computed by `run`.

  Collective on prob->comm. L must be symmetric positive semidefinite; a negative diagonal entry is refused up
  front. Scores: the diagonal L_jj.
**/
PetscErrorCode wn_select_dpp_kernel(wn_problem *prob, wn_selection **sel, double **scores)
{
  const wn_config *cfg = (const wn_config *)prob->cfg;
  const wn_kernel *K   = prob->K;
  wn_dpp_params    p   = cfg->dpp;
  wn_dpp_outcome   o;
  wn_objective    *obj = NULL;
  int64_t          bad = -1, nl;
  double           badv = 0;

  PetscFunctionBeginUser;
  PetscCheck(!prob->KS, prob->comm, PETSC_ERR_ARG_INCOMP, "dpp_kernel needs the dense kernel (log-determinants of a top-k kernel are not defined): drop -wn_kernel_sparse_k");
  PetscCheck(K && K->n_cols == K->layout.n_global, prob->comm, PETSC_ERR_ARG_SIZ, "dpp_kernel needs a square N x N kernel L");
  PetscCheck(prob->greedy.n_warm == 0, prob->comm, PETSC_ERR_ARG_INCOMP, "dpp_kernel does not take a warm start yet: drop -wn_warm_start");
  PetscCheck(!cfg->dpp_quality[0], prob->comm, PETSC_ERR_ARG_INCOMP, "-wn_dpp_quality applies to the dpp method; with dpp_kernel put the quality into L");
  nl     = K->layout.n_local;
  p.kind = WN_DPP_USER;
  for (int64_t i = 0; i < nl && bad < 0; i++) {
    float v = K->values[(size_t)i * (size_t)K->n_cols + (size_t)(K->layout.row_start + i)];
    if (!(v + p.jitter >= 0)) {
      bad  = K->layout.row_start + i;
      badv = v;
    }
  }
  WN_CHECK_ALL(prob->comm, bad < 0, PETSC_ERR_ARG_OUTOFRANGE,
               "kernel %s in '%s' is not a DPP kernel: its diagonal entry L[%lld, %lld] = %g is negative (L must be symmetric positive semidefinite)", cfg->kernel_dataset,
               cfg->kernel_file, (long long)bad, (long long)bad, badv);
  PetscCall(wn_dpp_memory_check(prob, &K->layout, 0, prob->greedy.budget, WN_DPP_USER));
  PetscCall(wn_dpp_select_once(prob, &K->layout, &p, 0, NULL, K->values, NULL, NULL, prob->greedy.budget, sel, &o, &obj));
  PetscCall(wn_dpp_report(prob, obj, *sel, &o, &p, "user", 0, NULL));
  if (prob->want_scores) {
    PetscCall(PetscMalloc1(nl + 1, scores));
    for (int64_t i = 0; i < nl; i++) (*scores)[i] = (double)K->values[(size_t)i * (size_t)K->n_cols + (size_t)(K->layout.row_start + i)] + p.jitter;
  }
  PetscCall(wn_objective_destroy(&obj));
  PetscFunctionReturn(PETSC_SUCCESS);
}
