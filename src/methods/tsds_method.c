/* methods/tsds_method.c - TSDS (Liu, Karbasi, Rekatsinas, "TSDS: Data Selection for Task-Specific Model
 * Finetuning", NeurIPS 2024) as a winnow method: the probabilities p of METHODS.md section 4 (src/tsds.c, on
 * the distributed exact kNN of src/knn.c), then -wn_budget draws from p with the seeded generator.
 * Owns: turning p and the draws into a selection (picks in order of first draw, their draw counts, p as the
 * gain, p for every candidate as the score) and the checks (sum of p, number of draws).
 */
#include <float.h>
#include <math.h>
#include <winnow/config.h>
#include <winnow/method.h>
#include <winnow/tsds.h>

/**
  @brief Select with TSDS: p over the candidates, then draws from p.

  Collective on prob->comm. Needs the pool's embeddings and the targets (no kernel). The sample size is the
  budget; the seed is -wn_seed. With replacement (the paper) a candidate may be drawn several times: it is one
  pick with its count.
**/
PetscErrorCode wn_select_tsds(wn_problem *prob, wn_selection **sel, double **scores)
{
  const wn_config *cfg  = (const wn_config *)prob->cfg;
  const wn_pool   *pool = prob->pool;
  wn_tsds_params   params = cfg->tsds;
  wn_tsds_result  *r = NULL;
  wn_selection    *s;
  int64_t          n = 0, *picks = NULL, *counts = NULL, draws = 0, nl = pool->layout.n_local;
  double           psum = 0, cum = 0;

  PetscFunctionBeginUser;
  PetscCheck(prob->greedy.n_warm == 0, prob->comm, PETSC_ERR_ARG_INCOMP, "tsds has no warm start (it samples from probabilities): drop -wn_warm_start");
  PetscCheck(prob->targets, prob->comm, PETSC_ERR_ARG_WRONG, "tsds needs the target set (-wn_targets, -wn_targets_dataset)");
  params.sample_size = prob->greedy.budget;
  params.seed        = cfg->seed;
  PetscCall(wn_tsds_probabilities(&pool->layout, pool->d, pool->embedding, prob->targets->m, prob->targets->embedding, &params, &r));
  PetscCall(wn_tsds_sample(&pool->layout, r, &params, &n, &picks, &counts));

  PetscCall(PetscNew(&s));
  s->n            = n;
  s->n_candidates = pool->layout.n_global;
  s->index        = picks;
  s->count        = counts;
  PetscCall(PetscStrncpy(s->stop_reason, "sampled", sizeof(s->stop_reason)));
  PetscCall(PetscCalloc1(n + 1, &s->gain));
  PetscCall(PetscMalloc1(n + 1, &s->objective));
  for (int64_t j = 0; j < n; j++) /* the owner contributes p of each pick: one contributor, so the sum is exact */
    if (picks[j] >= pool->layout.row_start && picks[j] < pool->layout.row_start + nl) s->gain[j] = r->p_local[picks[j] - pool->layout.row_start];
  if (n > 0) PetscCallMPI(MPI_Allreduce(MPI_IN_PLACE, s->gain, (PetscMPIInt)n, MPI_DOUBLE, MPI_SUM, prob->comm));
  for (int64_t j = 0; j < n; j++) {
    cum += s->gain[j];
    s->objective[j] = cum; /* probability mass of the picks so far */
    draws += counts[j];
  }
  *sel = s;
  PetscCall(PetscMalloc1(nl > 0 ? nl : 1, scores)); /* p for every candidate, always written */
  for (int64_t i = 0; i < nl; i++) {
    (*scores)[i] = r->p_local[i];
    psum += r->p_local[i];
  }
  PetscCallMPI(MPI_Allreduce(MPI_IN_PLACE, &psum, 1, MPI_DOUBLE, MPI_SUM, prob->comm));

  {
    /* rounding grows with the terms summed: the targets' masses and the candidates that carry mass */
    double tol = fmax(1e-12, 4.0 * (double)(prob->targets->m + r->n_support) * DBL_EPSILON);
    PetscCall(wn_report_check(prob->report, "probability_sum", fabs(psum - 1.0) <= tol ? PETSC_TRUE : PETSC_FALSE, "sum of p over %lld candidates = %.17g (|1 - sum| = %.2e, tolerance %.1e)", (long long)pool->layout.n_global, psum, fabs(psum - 1.0), tol));
  }
  PetscCall(wn_report_check(prob->report, "draws", draws == params.sample_size ? PETSC_TRUE : PETSC_FALSE, "%lld draws (%s replacement) gave %lld distinct candidates", (long long)draws, params.replace ? "with" : "without", (long long)n));
  PetscCall(PetscPrintf(prob->comm, "tsds: K = %lld neighbours per target, kde_K = %lld, level s = %.6g%s; %lld candidates carry mass; %lld near-duplicates among %lld computed densities (union of neighbour lists: %lld)\n", (long long)r->K, (long long)r->kde_K, r->level,
                        r->stopped_early ? " (stop rule)" : " (no stop: last level)", (long long)r->n_support, (long long)r->n_near_dup, (long long)r->n_density, (long long)r->n_union));
  PetscCall(wn_report_result(prob->report, "tsds_K", "%lld", (long long)r->K));
  PetscCall(wn_report_result(prob->report, "tsds_level", "%.6g", r->level));
  PetscCall(wn_report_result(prob->report, "tsds_support", "%lld", (long long)r->n_support));
  PetscCall(wn_report_result(prob->report, "draws", "%lld", (long long)draws));
  PetscCall(wn_tsds_result_destroy(&r));
  PetscFunctionReturn(PETSC_SUCCESS);
}
