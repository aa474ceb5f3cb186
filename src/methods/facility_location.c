/* methods/facility_location.c - facility location over a target set, and the shared driver of the
 * facility-location family (FL, DELIFT's FL / FLMI / FLCG).
 *
 * FL over targets: f(A) = sum_t max(0, max_{j in A} K[j, t]) with K the N x M candidate-by-target kernel
 * (submodlib FacilityLocationFunction with separate_rep = True; METHODS.md sections 0.1 and 5).
 * Owns: building the objective (src/facility.c), running the engine (src/greedy.c), singleton-gain
 * scores, and the checks: the objective recomputed from scratch (as HPL checks its residual), gains
 * non-increasing, no duplicate picks.
 */
#include <float.h>
#include <math.h>
#include <winnow/facility.h>
#include <winnow/method.h>

/* f(A) recomputed from scratch: column maxima over the selected rows (each rank over the rows it owns,
 * combined with MPI_MAX), then sum_t max(0, min(colmax_t, cap_t) - floor0_t) in double. Collective. */
static PetscErrorCode facility_value(const wn_kernel *K, const wn_sparse_kernel *KS, const float *cap, const float *floor0, const wn_selection *sel, double *value)
{
  const wn_layout *L = K ? &K->layout : &KS->layout;
  float           *colmax;
  int64_t          T = K ? K->n_cols : KS->n_cols, r0 = L->row_start, nl = L->n_local;
  double           f = 0;

  PetscFunctionBeginUser;
  PetscCall(PetscMalloc1(T > 0 ? T : 1, &colmax));
  /* entries absent from a sparse row are 0 (their terms vanish since floors are >= 0) */
  for (int64_t t = 0; t < T; t++) colmax[t] = K ? -FLT_MAX : 0.0f;
  for (int64_t s = 0; s < sel->n; s++) {
    int64_t g = sel->index[s];
    if (g < r0 || g >= r0 + nl) continue;
    if (K) {
      const float *row = K->values + (size_t)(g - r0) * (size_t)T;
      for (int64_t t = 0; t < T; t++) colmax[t] = row[t] > colmax[t] ? row[t] : colmax[t];
    } else {
      PetscInt           ncols;
      const PetscInt    *cols;
      const PetscScalar *vals;
      PetscCall(MatGetRow(KS->A, (PetscInt)g, &ncols, &cols, &vals));
      for (PetscInt e = 0; e < ncols; e++) colmax[cols[e]] = (float)vals[e] > colmax[cols[e]] ? (float)vals[e] : colmax[cols[e]];
      PetscCall(MatRestoreRow(KS->A, (PetscInt)g, &ncols, &cols, &vals));
    }
  }
  for (int64_t t0 = 0; t0 < T; t0 += (1 << 26)) {
    int cnt = (int)((T - t0) < (1 << 26) ? (T - t0) : (1 << 26));
    PetscCallMPI(MPI_Allreduce(MPI_IN_PLACE, colmax + t0, cnt, MPI_FLOAT, MPI_MAX, L->comm));
  }
  for (int64_t t = 0; t < T; t++) {
    float c = colmax[t], lo = floor0 ? floor0[t] : 0.0f;
    if (cap && cap[t] < c) c = cap[t];
    if (c > lo) f += (double)c - (double)lo;
  }
  *value = f;
  PetscCall(PetscFree(colmax));
  PetscFunctionReturn(PETSC_SUCCESS);
}

/**
  @brief Greedy maximisation of a facility-location-family objective with checks and optional scores.

  Collective on prob->comm.

  @param[in]  prob    the problem (greedy parameters, report, want_scores; the main kernel prob->K, or prob->KS
                      when sparse, whose columns the objective covers), borrowed
  @param[in]  cap     n_cols caps (FLMI) or NULL, copied
  @param[in]  floor0  n_cols initial floors (FLCG) or NULL, copied
  @param[out] sel     the selection (owned by the caller)
  @param[out] scores  n_local singleton gains when prob->want_scores, else NULL (owned by the caller)
**/
PetscErrorCode wn_facility_run(wn_problem *prob, const float *cap, const float *floor0, wn_selection **sel, double **scores)
{
  const wn_kernel        *K  = prob->KS ? NULL : prob->K;
  const wn_sparse_kernel *KS = prob->KS;
  int64_t                 nl = K ? K->layout.n_local : KS->layout.n_local;
  wn_objective *obj = NULL;
  double        value, tol = 1e-5, rel;
  PetscBool     monotone = PETSC_TRUE;

  PetscFunctionBeginUser;
  *scores = NULL;
  if (K) PetscCall(wn_facility_create(K, cap, floor0, &obj));
  else PetscCall(wn_facility_create_sparse(KS, cap, floor0, &obj));
  if (prob->want_scores) {
    PetscCall(PetscMalloc1(nl > 0 ? nl : 1, scores));
    for (int64_t i = 0; i < nl; i++) PetscCall(obj->gain(obj->ctx, i, &(*scores)[i]));
  }
  PetscCall(wn_greedy_maximize(obj, &prob->greedy, sel));
  PetscCall(wn_objective_destroy(&obj));

  /* checks: the same verdict on every rank (the selection is replicated) */
  for (int64_t s = (*sel)->n_warm + 1; s < (*sel)->n; s++)
    if ((*sel)->gain[s] > (*sel)->gain[s - 1]) monotone = PETSC_FALSE;
  PetscCall(facility_value(K, KS, cap, floor0, *sel, &value));
  {
    double greedy_value = (*sel)->n ? (*sel)->objective[(*sel)->n - 1] : 0.0;
    rel                 = fabs(greedy_value - value) / fmax(fabs(value), 1e-300);
    if (value == 0 && greedy_value == 0) rel = 0;
    PetscCall(wn_report_check(prob->report, "objective", rel <= tol ? PETSC_TRUE : PETSC_FALSE, "greedy %.10g vs recomputed %.10g, relative difference %.2e (tolerance %.0e)", greedy_value, value, rel, tol));
  }
  PetscCall(wn_report_check(prob->report, "gains_nonincreasing", monotone, "%lld greedy picks after %lld warm-start picks", (long long)((*sel)->n - (*sel)->n_warm), (long long)(*sel)->n_warm));
  PetscCall(wn_check_no_duplicates(prob->report, *sel));
  PetscFunctionReturn(PETSC_SUCCESS);
}

/**
  @brief Facility location over the target set (coverage of the M targets).

  Collective on prob->comm. Needs prob->K = the N x M candidate-by-target kernel.
**/
PetscErrorCode wn_select_fl(wn_problem *prob, wn_selection **sel, double **scores)
{
  PetscFunctionBeginUser;
  PetscCall(wn_facility_run(prob, NULL, NULL, sel, scores));
  PetscFunctionReturn(PETSC_SUCCESS);
}
