/* method.c - the method table: -wn_method name -> the function that selects, what it needs, what it cites.
 * Only this file and main.c know every method.
 */
#include <string.h>
#include <winnow/method.h>

static const wn_method wn_methods[] = {
  {"fl", "facility location over the target set: coverage of the targets by the selection", "Nemhauser, Wolsey, Fisher 1978; submodlib FacilityLocation (separate_rep); lazy: Minoux 1978",
   WN_NEEDS_TARGET_KERNEL, "singleton_gain", wn_select_fl},
  {"fl_pool", "DELIFT stage 1 (instruction tuning): facility location within the pool", "Agarwal et al., DELIFT, ICLR 2025, section 3.1; submodlib FacilityLocation", WN_NEEDS_POOL_KERNEL, "singleton_gain", wn_select_fl_pool},
  {"flmi", "DELIFT stage 2 (task-specific): facility-location mutual information with the targets", "Agarwal et al., DELIFT, ICLR 2025, section 3.2; submodlib FacilityLocationMutualInformation (FL1MI, eta)",
   WN_NEEDS_POOL_KERNEL | WN_NEEDS_QUERY_KERNEL, "singleton_gain", wn_select_flmi},
  {"flcg", "DELIFT stage 3 (continual): facility-location conditional gain given existing data", "Agarwal et al., DELIFT, ICLR 2025, section 3.3; submodlib FacilityLocationConditionalGain (nu)",
   WN_NEEDS_POOL_KERNEL | WN_NEEDS_PRIVATE_KERNEL, "singleton_gain", wn_select_flcg},
  {"tsds", "TSDS: optimal-transport alignment to the targets with a density penalty on near-duplicates (kNN water-filling, sampling)", "Liu, Karbasi, Rekatsinas, TSDS, NeurIPS 2024; reference code ZifanL/TSDS tsds.py",
   WN_NEEDS_EMBEDDINGS, "probability", wn_select_tsds},
  {"dpp", "DPP diversity: greedy MAP of a determinantal point process on the candidates' embeddings (cosine, dot or rbf, optional quality)",
   "Chen, Zhang, Zhou, Fast greedy MAP inference for DPP, NeurIPS 2018 (laming-chen/fast-map-dpp); log-determinants checked with ScaLAPACK pdpotrf", WN_NEEDS_FEATURES, "diagonal", wn_select_dpp},
  {"dpp_kernel", "DPP greedy MAP on a dense N x N kernel L: a user-supplied L (`select`) or the pool kernel (`run`)", "Chen, Zhang, Zhou, NeurIPS 2018", WN_NEEDS_POOL_KERNEL, "diagonal", wn_select_dpp_kernel},
  {"p3", "P3 per epoch: policy-driven difficulty, pace-adaptive percentile threshold, DPP diversity within the eligible set",
   "Yang et al., P3, arXiv 2408.05541 (train.py --sort policy_sampling_SPL_DPP); DPP: Chen et al. 2018", WN_NEEDS_FEATURES, "difficulty", wn_select_p3},
  {"lobass", "LoBaSS: the most learnable candidates, s = L0 - L1 (or / L0) from the losses under the base and the fine-tuned model; exact top-k, optionally per label",
   "Zhou et al., LoBaSS: Gauging Learnability in Supervised Fine-tuning Data, arXiv 2310.13008 (no public code)", WN_NEEDS_FEATURES, "learnability", wn_select_lobass},
};

const wn_method *wn_method_find(const char *name)
{
  for (size_t i = 0; i < sizeof(wn_methods) / sizeof(wn_methods[0]); i++)
    if (name && !strcmp(name, wn_methods[i].name)) return &wn_methods[i];
  return NULL;
}

const char *wn_method_list(void)
{
  static char list[256];

  list[0] = 0;
  for (size_t i = 0; i < sizeof(wn_methods) / sizeof(wn_methods[0]); i++) {
    if (i) strncat(list, ", ", sizeof(list) - strlen(list) - 1);
    strncat(list, wn_methods[i].name, sizeof(list) - strlen(list) - 1);
  }
  return list;
}

/**
  @brief Print the method table (name, summary, citation) on rank 0 of comm, for -help.

  Collective on comm.
**/
PetscErrorCode wn_method_print_help(MPI_Comm comm, FILE *fp)
{
  PetscFunctionBeginUser;
  PetscCall(PetscFPrintf(comm, fp, "\nSelection methods (-wn_method):\n"));
  for (size_t i = 0; i < sizeof(wn_methods) / sizeof(wn_methods[0]); i++) PetscCall(PetscFPrintf(comm, fp, "  %-8s %s\n           [%s]\n", wn_methods[i].name, wn_methods[i].summary, wn_methods[i].citation));
  PetscFunctionReturn(PETSC_SUCCESS);
}

/**
  @brief The no_duplicates check of a selection: every pick a distinct candidate (sorted copy, neighbours
  compared). Records PASSED or FAILED in the report.

  Not collective (the selection is replicated, so every rank records the same verdict).
**/
PetscErrorCode wn_check_no_duplicates(wn_report *report, const wn_selection *sel)
{
  PetscBool unique = PETSC_TRUE;
  int64_t  *s;

  PetscFunctionBeginUser;
  PetscCall(PetscMalloc1(sel->n + 1, &s));
  PetscCall(PetscArraycpy(s, sel->index, sel->n));
  PetscCall(PetscSortInt64(sel->n, s));
  for (int64_t i = 1; i < sel->n; i++)
    if (s[i] == s[i - 1]) unique = PETSC_FALSE;
  PetscCall(PetscFree(s));
  PetscCall(wn_report_check(report, "no_duplicates", unique, "%lld distinct candidates", (long long)sel->n));
  PetscFunctionReturn(PETSC_SUCCESS);
}
