/* methods/delift.c - DELIFT (Agarwal et al., ICLR 2025): the three submodular objectives it maximises on
 * its pairwise utility kernel, as submodlib implements them (METHODS.md sections 0.1, 3 and 5).
 *
 *   stage 1, instruction tuning: FL within the pool,  f(A) = sum_i max_{j in A} U[i, j]      (K[c, i] = U[i, c])
 *   stage 2, task-specific:      FLMI (FL1MI),        I(A; Q) = sum_i min(max_{j in A} U[i, j], eta max_q SQ[i, q])
 *   stage 3, continual:          FLCG,                f(A | P) = sum_i max(0, max_{j in A} U[i, j] - nu max_p SP[i, p])
 *
 * The kernels are either computed from embeddings (DELIFT's model-independent variant: additive (1 + cos)/2
 * with global min-max scaling) or a user-supplied utility matrix with its orientation attribute.
 * Owns: the cap/floor set-up of each stage; the loop and checks are wn_facility_run's.
 */
#include <winnow/facility.h>
#include <winnow/method.h>

/* Columns of the main kernel, dense or sparse. */
static int64_t delift_cols(const wn_problem *prob) { return prob->KS ? prob->KS->n_cols : prob->K->n_cols; }

/* The checks every DELIFT stage makes: an N x N main kernel and, for stages 2 and 3, a second kernel (query or
 * existing data) with one row per pool candidate. Collective (every rank holds the same sizes). */
static PetscErrorCode delift_check(const wn_problem *prob, const char *method, const wn_kernel *second, const char *second_what, const char *second_option)
{
  PetscFunctionBeginUser;
  PetscCheck(delift_cols(prob) == prob->N, prob->comm, PETSC_ERR_ARG_SIZ, "%s needs an N x N pool kernel, got %lld x %lld", method, (long long)prob->N, (long long)delift_cols(prob));
  if (!second_what) PetscFunctionReturn(PETSC_SUCCESS);
  PetscCheck(second, prob->comm, PETSC_ERR_ARG_WRONG, "%s needs the %s kernel (%s)", method, second_what, second_option);
  PetscCheck(second->layout.n_global == prob->N, prob->comm, PETSC_ERR_ARG_SIZ, "%s: the %s kernel has %lld rows but the pool kernel has %lld", method, second_what, (long long)second->layout.n_global, (long long)prob->N);
  PetscFunctionReturn(PETSC_SUCCESS);
}

/**
  @brief DELIFT stage 1: facility location within the pool (N x N kernel).

  Collective on prob->comm.
**/
PetscErrorCode wn_select_fl_pool(wn_problem *prob, wn_selection **sel, double **scores)
{
  PetscFunctionBeginUser;
  PetscCall(delift_check(prob, "fl_pool", NULL, NULL, NULL));
  PetscCall(wn_facility_run(prob, NULL, NULL, sel, scores));
  PetscFunctionReturn(PETSC_SUCCESS);
}

/**
  @brief DELIFT stage 2: FLMI (submodlib FL1MI) with query magnification eta.

  Collective on prob->comm. Needs prob->K (N x N pool kernel) and prob->K_query (N x M pool-by-target).
  q_i = max(FLT_MIN, eta * max_q SQ[i, q]) is submodlib's quirk (its memo starts at the smallest positive float).
**/
PetscErrorCode wn_select_flmi(wn_problem *prob, wn_selection **sel, double **scores)
{
  float *cap = NULL;

  PetscFunctionBeginUser;
  PetscCall(delift_check(prob, "flmi", prob->K_query, "pool-by-target (query)", "-wn_query_kernel_dataset"));
  PetscCall(wn_facility_flmi_caps(prob->K_query, prob->param_eta, &cap));
  PetscCall(wn_facility_run(prob, cap, NULL, sel, scores));
  PetscCall(PetscFree(cap));
  PetscFunctionReturn(PETSC_SUCCESS);
}

/**
  @brief DELIFT stage 3: FLCG, the facility-location gain conditioned on existing data P, privacy hardness nu.

  Collective on prob->comm. Needs prob->K (N x N) and prob->K_private (N x P pool-by-existing-data).
**/
PetscErrorCode wn_select_flcg(wn_problem *prob, wn_selection **sel, double **scores)
{
  float *floor0 = NULL;

  PetscFunctionBeginUser;
  PetscCall(delift_check(prob, "flcg", prob->K_private, "pool-by-existing-data", "-wn_private_kernel_dataset"));
  PetscCall(wn_facility_flcg_floors(prob->K_private, prob->param_nu, &floor0));
  PetscCall(wn_facility_run(prob, NULL, floor0, sel, scores));
  PetscCall(PetscFree(floor0));
  PetscFunctionReturn(PETSC_SUCCESS);
}
