/* methods/lobass_method.c - LoBaSS (Zhou et al., LoBaSS: Gauging Learnability in Supervised Fine-tuning Data,
 * arXiv 2310.13008; METHODS.md section 2): every candidate's learnability s = L0 - L1 (or (L0 - L1) / L0) from its
 * loss under the base model and under the fine-tuned reference model, then the k most learnable candidates,
 * either over the whole pool or per label (the paper balances domains by selecting per source).
 *
 * Owns: the method's flow (losses -> scores -> label groups and budgets -> exact top-k -> selection), its report
 * lines (the score's range, a per-label table) and checks (`topk`, recomputed independently from the scores;
 * `label_budgets`; `no_duplicates`) and its RESULT keys (lobass_score, lobass_threshold, lobass_per_label,
 * lobass_labels).
 * Leaves to others: reading and validating the losses, the labels, the budgets and the top-k (src/lobass.c),
 * budget parsing and outputs (pipeline.c, output.c).
 */
#include <math.h>
#include <stdio.h>
#include <string.h>
#include <winnow/config.h>
#include <winnow/lobass.h>
#include <winnow/method.h>

/* Print the per-label table (labels, candidates, budget, picks, smallest picked score) on rank 0 and add a
 * compact RESULT key. pick_group/value: the picks' label groups and scores (replicated). Collective (prints). */
static PetscErrorCode lobass_label_table(wn_problem *prob, const wn_lobass_labels *labels, const int64_t *k, const int64_t *counts, int64_t n_sel, const int *pick_group, const double *value)
{
  double *thr;
  char    compact[512] = "";
  size_t  len;

  PetscFunctionBeginUser;
  PetscCall(PetscMalloc1(labels->n + 1, &thr));
  for (int g = 0; g < labels->n; g++) thr[g] = NAN;
  for (int64_t t = 0; t < n_sel; t++) /* picks come in descending order: the last one of a label is its smallest */
    if (pick_group[t] >= 0 && pick_group[t] < labels->n) thr[pick_group[t]] = value[t];
  PetscCall(PetscPrintf(prob->comm, "lobass: per label (%d labels)\n  %-24s %12s%s %10s  %s\n", labels->n, "label", "candidates", k ? "     budget" : "", "selected", "smallest selected score"));
  for (int g = 0; g < labels->n; g++) {
    char b[32] = "";
    if (k) PetscCall(PetscSNPrintf(b, sizeof(b), " %10lld", (long long)k[g]));
    PetscCall(PetscPrintf(prob->comm, "  %-24s %12lld%s %10lld  %.10g\n", labels->names + (size_t)g * labels->width, (long long)labels->count[g], b, (long long)counts[g], thr[g]));
    len = strlen(compact);
    if (len < sizeof(compact) - 1) snprintf(compact + len, sizeof(compact) - len, "%s%s:%lld", g ? "," : "", labels->names + (size_t)g * labels->width, (long long)counts[g]); /* truncates quietly */
  }
  /* the whole list only when it fits the RESULT line comfortably; the table above always has it */
  if (strlen(compact) < sizeof(compact) - 1) PetscCall(wn_report_result(prob->report, "lobass_label_counts", "%s", compact));
  PetscCall(PetscFree(thr));
  PetscFunctionReturn(PETSC_SUCCESS);
}

/**
  @brief Select with LoBaSS (method lobass): the budget's most learnable candidates, over the pool or per label.

  Collective on prob->comm. Reads -wn_lobass_loss_base (L0) and -wn_lobass_loss_tuned (L1) from -wn_lobass_signals
  (default: the candidates file) by row block, computes s = L0 - L1 (diff) or (L0 - L1) / L0 (normalized), and
  takes the top-k with ties to the lowest index: over the whole pool (-wn_lobass_per_label none, k = -wn_budget) or
  within each label with budgets proportional to the labels' sizes (largest remainder) or given
  (-wn_lobass_label_budgets). The selection lists the picks by score descending (ties: lowest index) over the
  union, gain = score, objective = running sum, stop_reason "budget". *scores: every candidate's score, always.
  Checks: topk, label_budgets, no_duplicates.
**/
PetscErrorCode wn_select_lobass(wn_problem *prob, wn_selection **sel, double **scores)
{
  const wn_config *cfg     = (const wn_config *)prob->cfg;
  const wn_pool   *pool    = prob->pool;
  const wn_layout *L       = &pool->layout;
  MPI_Comm         comm    = prob->comm;
  const char      *signals = cfg->lobass_signals[0] ? cfg->lobass_signals : cfg->candidates.path;
  int64_t          nl = L->n_local, budget = prob->greedy.budget, n_sel = 0, violations = 0, sum_k = 0, sum_counts = 0, *k = NULL, *counts = NULL, *index = NULL;
  double          *L0, *L1, *s, *value = NULL, smin = INFINITY, smax = -INFINITY;
  int             *group = NULL, *pick_group = NULL, G = 1;
  PetscBool        per_label = cfg->lobass_per_label != WN_LOBASS_PER_LABEL_NONE ? PETSC_TRUE : PETSC_FALSE, have_labels = pool->label.kind != WN_COLUMN_NONE ? PETSC_TRUE : PETSC_FALSE;
  wn_lobass_labels labels = {0};
  wn_selection    *out;
  char             what0[PETSC_MAX_PATH_LEN + 300], what1[PETSC_MAX_PATH_LEN + 300];

  PetscFunctionBeginUser;
  PetscCheck(prob->greedy.n_warm == 0, comm, PETSC_ERR_ARG_INCOMP, "lobass does not take a warm start: drop -wn_warm_start");
  PetscCheck(!cfg->subsample, comm, PETSC_ERR_ARG_INCOMP, "lobass reads its losses by candidate row: -wn_subsample cannot be used with it");
  PetscCheck(!per_label || have_labels, comm, PETSC_ERR_ARG_WRONG, "-wn_lobass_per_label %s needs candidate labels, but '%s' has no dataset %s (-wn_labels_dataset)", wn_lobass_per_label_names[cfg->lobass_per_label],
             cfg->candidates.path, cfg->candidates.labels_dataset);

  /* 1. losses and scores (METHODS.md 2) */
  PetscCall(PetscMalloc1(nl + 1, &L0));
  PetscCall(PetscMalloc1(nl + 1, &L1));
  PetscCall(PetscMalloc1(nl + 1, &s));
  PetscCall(wn_lobass_read_losses(L, signals, cfg->lobass_loss_base, cfg->lobass_loss_tuned, L0, L1));
  PetscCall(PetscSNPrintf(what0, sizeof(what0), "dataset %s in '%s'", cfg->lobass_loss_base, signals));
  PetscCall(PetscSNPrintf(what1, sizeof(what1), "dataset %s in '%s'", cfg->lobass_loss_tuned, signals));
  PetscCall(wn_lobass_scores(comm, what0, what1, cfg->lobass_score, L->row_start, nl, L0, L1, s));
  for (int64_t i = 0; i < nl; i++) {
    smin = fmin(smin, s[i]);
    smax = fmax(smax, s[i]);
  }
  PetscCallMPI(MPI_Allreduce(MPI_IN_PLACE, &smin, 1, MPI_DOUBLE, MPI_MIN, comm));
  PetscCallMPI(MPI_Allreduce(MPI_IN_PLACE, &smax, 1, MPI_DOUBLE, MPI_MAX, comm));
  PetscCall(PetscPrintf(comm, "lobass: score %s = %s from %s (L0) and %s (L1) in %s; %lld candidates, scores in [%.10g, %.10g]\n", wn_lobass_score_names[cfg->lobass_score],
                        cfg->lobass_score == WN_LOBASS_DIFF ? "L0 - L1" : "(L0 - L1) / L0", cfg->lobass_loss_base, cfg->lobass_loss_tuned, signals, (long long)L->n_global, smin, smax));

  /* 2. label groups and budgets */
  if (have_labels) {
    PetscCall(PetscMalloc1(nl + 1, &group));
    PetscCall(wn_lobass_labels_create(L, &pool->label, &labels, group));
  }
  if (per_label) {
    G = labels.n;
    PetscCall(PetscMalloc1(G + 1, &k));
    if (cfg->lobass_per_label == WN_LOBASS_PER_LABEL_PROPORTIONAL) PetscCall(wn_lobass_budgets_proportional(G, labels.count, budget, k));
    else PetscCall(wn_lobass_budgets_given(comm, &labels, cfg->lobass_label_budgets, budget, k));
  } else {
    PetscCall(PetscMalloc1(1, &k));
    k[0] = budget;
  }
  for (int g = 0; g < G; g++) sum_k += k[g];

  /* 3. the exact top-k (per label) */
  PetscCall(wn_lobass_topk(comm, L->row_start, nl, s, per_label ? group : NULL, G, k, &n_sel, &index, &value));

  /* 4. the selection: picks by score descending (ties: lowest index), gain = score, objective = running sum */
  PetscCall(PetscNew(&out));
  out->n            = n_sel;
  out->index        = index;
  out->gain         = value;
  out->evaluations  = L->n_global; /* one score per candidate */
  out->n_candidates = L->n_global;
  PetscCall(PetscMalloc1(n_sel + 1, &out->objective));
  for (int64_t t = 0; t < n_sel; t++) out->objective[t] = (t ? out->objective[t - 1] : 0.0) + value[t];
  PetscCall(PetscStrncpy(out->stop_reason, "budget", sizeof(out->stop_reason)));
  *sel = out;

  /* 5. checks and report */
  PetscCall(PetscMalloc1(G + 1, &counts));
  PetscCall(wn_lobass_check_topk(comm, L->row_start, nl, s, per_label ? group : NULL, G, k, n_sel, index, value, &violations, counts));
  PetscCall(wn_report_check(prob->report, "topk", violations == 0 ? PETSC_TRUE : PETSC_FALSE, "%s: no unselected candidate%s beats the smallest selected score (ties to the lowest index); %lld violation%s",
                            per_label ? "per label" : "over the pool", per_label ? " of the same label" : "", (long long)violations, violations == 1 ? "" : "s"));
  for (int g = 0; g < G; g++) sum_counts += counts[g];
  PetscCall(wn_report_check(prob->report, "label_budgets", sum_k == budget && sum_counts == budget && n_sel == budget ? PETSC_TRUE : PETSC_FALSE, "%s: %lld picks in %d group%s add up to the budget %lld (budgets sum to %lld)",
                            wn_lobass_per_label_names[cfg->lobass_per_label], (long long)sum_counts, G, G == 1 ? "" : "s", (long long)budget, (long long)sum_k));
  PetscCall(wn_check_no_duplicates(prob->report, out));
  PetscCall(PetscPrintf(comm, "lobass: %lld picks (%s), smallest selected score (threshold) %.10g, largest %.10g\n", (long long)n_sel,
                        per_label ? (cfg->lobass_per_label == WN_LOBASS_PER_LABEL_PROPORTIONAL ? "per label, budgets proportional to the label sizes, largest remainder" : "per label, given budgets") : "over the whole pool",
                        n_sel ? value[n_sel - 1] : NAN, n_sel ? value[0] : NAN));
  PetscCall(wn_report_result(prob->report, "lobass_score", "%s", wn_lobass_score_names[cfg->lobass_score]));
  PetscCall(wn_report_result(prob->report, "lobass_threshold", "%.17g", n_sel ? value[n_sel - 1] : NAN));
  PetscCall(wn_report_result(prob->report, "lobass_per_label", "%s", wn_lobass_per_label_names[cfg->lobass_per_label]));
  if (have_labels) PetscCall(wn_report_result(prob->report, "lobass_labels", "%d", labels.n));

  if (have_labels) {
    int64_t *label_counts;
    PetscCall(PetscMalloc1(n_sel + 1, &pick_group));
    PetscCall(PetscCalloc1(labels.n + 1, &label_counts));
    PetscCall(wn_lobass_pick_groups(comm, L->row_start, nl, group, n_sel, index, pick_group));
    for (int64_t t = 0; t < n_sel; t++)
      if (pick_group[t] >= 0) label_counts[pick_group[t]]++;
    PetscCall(lobass_label_table(prob, &labels, per_label ? k : NULL, label_counts, n_sel, pick_group, value));
    PetscCall(PetscFree(label_counts));
  }

  *scores = s; /* every candidate's score, always written (/scores/learnability) */
  PetscCall(PetscFree(pick_group));
  PetscCall(PetscFree(counts));
  PetscCall(PetscFree(k));
  PetscCall(PetscFree(group));
  PetscCall(wn_lobass_labels_destroy(&labels));
  PetscCall(PetscFree(L0));
  PetscCall(PetscFree(L1));
  PetscFunctionReturn(PETSC_SUCCESS);
}
