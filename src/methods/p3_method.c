/* methods/p3_method.c - P3 for one epoch (Yang et al., arXiv 2408.05541; METHODS.md section 1; reference
 * train.py --sort policy_sampling_SPL_DPP): the policy-driven difficulty of every candidate under the current
 * model, the pace-adaptive percentile threshold of this epoch, the eligible (easy enough) set, and DPP diversity
 * within it with quality = difficulty.
 *
 * Owns: the epoch's flow and its two DPP modes:
 *   rounds  (the reference): remaining := eligible; repeat { standardise the features over the remaining items;
 *           greedy DPP on them for the rest of the budget; move the picks out of remaining } until the budget is
 *           met or nothing is left. The token-probability features have rank <= f, so every round yields at most
 *           f items (the epsilon stop), and a large budget takes many rounds.
 *   onepass (option): standardise once over the eligible set, one greedy DPP with a full-rank kernel (rbf by
 *           default) for the whole budget.
 * Leaves to others: reading and validating the signals, the percentile and the standardisation (src/p3.c), the
 * DPP (src/dpp.c, src/methods/dpp_method.c).
 */
#include <math.h>
#include <winnow/config.h>
#include <winnow/method.h>
#include <winnow/p3.h>

/* Append the picks of one round to the epoch's selection (running objective over all rounds). Not collective. */
static PetscErrorCode p3_append(wn_selection *all, const wn_selection *s)
{
  PetscFunctionBeginUser;
  for (int64_t t = 0; t < s->n; t++) {
    double prev           = all->n ? all->objective[all->n - 1] : 0.0;
    all->index[all->n]     = s->index[t];
    all->gain[all->n]      = s->gain[t];
    all->objective[all->n] = prev + s->gain[t];
    all->n++;
  }
  all->evaluations += s->evaluations;
  PetscFunctionReturn(PETSC_SUCCESS);
}

/**
  @brief Select with P3 for epoch -wn_p3_epoch.

  Collective on prob->comm. Reads the epoch's difficulty (and the previous epoch's for -wn_p3_trend) and the DPP
  features from -wn_p3_signals (default: the candidates file). The selection holds min(budget, |eligible|) items
  (fewer only when onepass's kernel runs out of rank); the report says which. Scores: the thresholded score
  (difficulty, or the trend score) of every candidate, +inf for candidates without steps.
**/
PetscErrorCode wn_select_p3(wn_problem *prob, wn_selection **sel, double **scores)
{
  const wn_config *cfg  = (const wn_config *)prob->cfg;
  const wn_pool   *pool = prob->pool;
  const wn_layout *L    = &pool->layout;
  MPI_Comm         comm = prob->comm;
  const char      *signals = cfg->p3_signals[0] ? cfg->p3_signals : cfg->candidates.path;
  int              epoch = (int)cfg->p3_epoch;
  int64_t          nl = L->n_local, n_elig = 0, n_singular = 0, target, f = 0, rounds = 0, n_zero_var = 0, round_cap, bad = -1;
  double          *D = NULL, *score = NULL, *q = NULL, pct, tau, max_rel = 0.0, logdet = 0.0;
  unsigned char   *elig = NULL, *remaining = NULL;
  float           *F = NULL, *Fz = NULL;
  const float     *X;
  PetscBool        tau_inf = PETSC_FALSE, checked = PETSC_FALSE, rank_stop = PETSC_FALSE, onepass = cfg->p3_mode == 1 ? PETSC_TRUE : PETSC_FALSE, ok = PETSC_TRUE;
  wn_p3_source     used;
  wn_dpp_params    p = cfg->dpp;
  wn_selection    *all;
  wn_objective    *keep = NULL;

  PetscFunctionBeginUser;
  PetscCheck(prob->greedy.n_warm == 0, comm, PETSC_ERR_ARG_INCOMP, "p3 does not take a warm start: drop -wn_warm_start");
  PetscCheck(!cfg->subsample, comm, PETSC_ERR_ARG_INCOMP, "p3 reads its signals by candidate row: -wn_subsample cannot be used with it");
  prob->greedy.checkpoint = NULL; /* the rounds are many short DPPs: an epoch is the restart unit (a signal just stops) */

  /* 1. difficulty (METHODS.md 1.2), optionally the trend score (1.3) */
  PetscCall(PetscMalloc3(nl + 1, &D, nl + 1, &score, nl + 1, &q));
  PetscCall(wn_p3_read_difficulty(L, signals, epoch, cfg->p3_source, D, &used));
  PetscCall(PetscArraycpy(score, D, nl));
  if (cfg->p3_trend) {
    double      *prev;
    wn_p3_source used_prev;
    PetscCall(PetscMalloc1(nl + 1, &prev));
    PetscCall(wn_p3_read_difficulty(L, signals, epoch - 1, cfg->p3_source, prev, &used_prev));
    wn_p3_trend(nl, D, prev, cfg->p3_alpha, score);
    PetscCall(PetscFree(prev));
  }

  /* 2. the pace-adaptive threshold and the eligible set (1.3) */
  pct = wn_p3_percentile_at(epoch, (int)cfg->p3_epochs, cfg->p3_pct_start, cfg->p3_pct_end);
  PetscCall(wn_percentile_linear(comm, nl, score, pct, &tau));
  PetscCall(PetscMalloc2(nl + 1, &elig, nl + 1, &remaining));
  PetscCall(wn_p3_eligible(comm, nl, score, tau, elig, &n_elig, &tau_inf));
  PetscCall(PetscPrintf(comm, "p3: epoch %d of %lld, difficulty from %s in %s%s; percentile %.4g%% -> threshold %.10g; %lld of %lld candidates eligible\n", epoch, (long long)cfg->p3_epochs,
                        used == WN_P3_SOURCE_STEPS ? "step probabilities" : "the difficulty dataset", signals, cfg->p3_trend ? " (trend score)" : "", pct, tau, (long long)n_elig,
                        (long long)L->n_global));
  if (tau_inf)
    PetscCall(PetscPrintf(comm, "p3: warning: the %.4g%% percentile falls on candidates without steps (difficulty +inf); they are never eligible, so every candidate with a finite score is\n", pct));
  PetscCheck(n_elig > 0, comm, PETSC_ERR_ARG_WRONG, "p3: no candidate is eligible at epoch %d (threshold %g): every difficulty is +inf (no candidate has steps)", epoch, tau);
  for (int64_t i = 0; i < nl && bad < 0; i++)
    if (elig[i] && !(D[i] >= 0 && isfinite(D[i]))) bad = i;
  WN_CHECK_ALL(comm, bad < 0, PETSC_ERR_ARG_OUTOFRANGE, "p3 uses the difficulty as the DPP quality, but candidate %lld has difficulty %g; expected a finite value >= 0",
               (long long)(L->row_start + bad), bad >= 0 ? D[bad] : 0.0);
  for (int64_t i = 0; i < nl; i++) q[i] = elig[i] ? D[i] : 0.0;
  target = prob->greedy.budget < n_elig ? prob->greedy.budget : n_elig;
  if (n_elig < prob->greedy.budget)
    PetscCall(PetscPrintf(comm, "p3: warning: only %lld candidates are eligible at epoch %d, fewer than the budget %lld: selecting at most %lld\n", (long long)n_elig, epoch,
                          (long long)prob->greedy.budget, (long long)n_elig));

  /* 3. the DPP features (1.4): the signals' token-probability signature or the embeddings */
  if (cfg->p3_features == 0) {
    PetscCall(wn_p3_read_features(L, signals, epoch, &F, &f));
    X = F;
  } else {
    PetscCheck(pool->embedding || nl == 0, PETSC_COMM_SELF, PETSC_ERR_PLIB, "p3: the pool was loaded without embeddings");
    X = pool->embedding;
    f = pool->d;
  }
  PetscCall(PetscMalloc1((size_t)nl * (size_t)f + 1, &Fz));
  p.kind    = wn_dpp_kind_resolve(cfg, onepass ? WN_DPP_RBF : WN_DPP_DOT);
  p.gamma   = cfg->kernel.gamma;
  round_cap = (!onepass && p.jitter == 0.0 && p.kind != WN_DPP_RBF && f < target) ? f : target; /* rank(L) <= f */
  PetscCall(wn_dpp_memory_check(prob, L, f, round_cap, p.kind));

  /* 4. DPP within the eligible set */
  PetscCall(PetscNew(&all));
  all->n_candidates = L->n_global;
  PetscCall(PetscMalloc1(target + 1, &all->index));
  PetscCall(PetscMalloc1(target + 1, &all->gain));
  PetscCall(PetscMalloc1(target + 1, &all->objective));
  PetscCall(PetscArraycpy(remaining, elig, nl));
  while (all->n < target) {
    wn_selection  *s = NULL;
    wn_dpp_outcome o;
    int64_t        want = target - all->n;

    if (!onepass || rounds == 0) PetscCall(wn_p3_standardize(comm, nl, f, X, remaining, Fz, &n_zero_var));
    PetscCall(wn_dpp_select_once(prob, L, &p, f, Fz, NULL, q, remaining, want < round_cap ? want : round_cap, &s, &o, rounds == 0 && cfg->dpp_normalize ? &keep : NULL));
    if (keep) { /* log det(L + I) over the eligible set, with the first (or only) round's L */
      PetscCall(wn_dpp_normalize(prob, keep, o.logdet, &p, f, remaining));
      PetscCall(wn_objective_destroy(&keep));
    }
    PetscCall(p3_append(all, s));
    for (int64_t t = 0; t < s->n; t++)
      if (s->index[t] >= L->row_start && s->index[t] < L->row_start + nl) remaining[s->index[t] - L->row_start] = 0;
    rounds++;
    if (o.singular) n_singular++;
    else logdet += o.logdet;
    if (o.checked) {
      checked = PETSC_TRUE;
      max_rel = fmax(max_rel, o.rel_diff);
    }
    rank_stop = o.rank_stop;
    PetscCall(wn_selection_destroy(&s));
    if (onepass) break;
    if (prob->greedy.progress_interval > 0 && rounds % 50 == 0)
      PetscCall(PetscPrintf(comm, "  p3: round %lld, %lld of %lld picked\n", (long long)rounds, (long long)all->n, (long long)target));
  }
  PetscCall(PetscStrncpy(all->stop_reason, all->n == prob->greedy.budget ? "budget" : (all->n == n_elig ? "exhausted" : "min_gain"), sizeof(all->stop_reason)));
  *sel = all;

  /* 5. report */
  if (n_zero_var) PetscCall(PetscPrintf(comm, "p3: %lld zero-variance feature columns were set to 0 (the reference code would divide by zero)\n", (long long)n_zero_var));
  PetscCall(PetscPrintf(comm, "p3: %s DPP (kernel %s, quality = difficulty): %lld picks in %lld round%s, sum of the rounds' log det(L_Y) = %.12g\n", onepass ? "one-pass" : "rounds", wn_dpp_kind_names[p.kind],
                        (long long)all->n, (long long)rounds, rounds == 1 ? "" : "s", logdet));
  if (n_singular)
    PetscCall(PetscPrintf(comm, "p3: %lld round%s began with a pick whose L_jj is 0 (the remaining items' standardised features are all zero, e.g. a single item left, or its difficulty is 0): taken as the reference does, log det -inf, left out of the sum and the check\n",
                          (long long)n_singular, n_singular == 1 ? "" : "s"));
  if (all->n < prob->greedy.budget) {
    if (all->n == n_elig) PetscCall(PetscPrintf(comm, "p3: the budget %lld is not met: all %lld eligible candidates were selected\n", (long long)prob->greedy.budget, (long long)n_elig));
    else PetscCall(PetscPrintf(comm, "p3: the budget %lld is not met: the one-pass kernel's rank ended the selection after %lld picks (use -wn_p3_mode rounds, -wn_dpp_jitter or -wn_dpp_kernel rbf)\n", (long long)prob->greedy.budget, (long long)all->n));
  }
  if (checked)
    PetscCall(wn_report_check(prob->report, "logdet", max_rel <= cfg->dpp_check_tol ? PETSC_TRUE : PETSC_FALSE,
                              "greedy vs ScaLAPACK pdpotrf log det(L_Y) in each of %lld round%s: largest relative difference %.2e (tolerance %.0e)", (long long)rounds, rounds == 1 ? "" : "s", max_rel,
                              cfg->dpp_check_tol));
  for (int64_t t = 0; t < all->n; t++) /* every pick eligible: its owner checks */
    if (all->index[t] >= L->row_start && all->index[t] < L->row_start + nl && !elig[all->index[t] - L->row_start]) ok = PETSC_FALSE;
  PetscCallMPI(MPI_Allreduce(MPI_IN_PLACE, &ok, 1, MPIU_BOOL, MPI_LAND, comm));
  PetscCall(wn_report_check(prob->report, "eligible_only", ok, "every pick has score <= threshold %.10g", tau));
  PetscCall(wn_check_no_duplicates(prob->report, all));
  PetscCall(wn_report_result(prob->report, "p3_epoch", "%d", epoch));
  PetscCall(wn_report_result(prob->report, "p3_percentile", "%.6g", pct));
  PetscCall(wn_report_result(prob->report, "p3_threshold", "%.10g", tau));
  PetscCall(wn_report_result(prob->report, "eligible", "%lld", (long long)n_elig));
  PetscCall(wn_report_result(prob->report, "rounds", "%lld", (long long)rounds));
  PetscCall(wn_report_result(prob->report, "dpp_kernel", "%s", wn_dpp_kind_names[p.kind]));
  PetscCall(wn_report_result(prob->report, "logdet", "%.12g", logdet));
  PetscCall(wn_report_result(prob->report, "singular_rounds", "%lld", (long long)n_singular));
  PetscCall(wn_report_result(prob->report, "budget_met", "%s", all->n == prob->greedy.budget ? "yes" : "no"));
  if (rank_stop && onepass) PetscCall(wn_report_result(prob->report, "rank_stop", "yes"));

  PetscCall(PetscMalloc1(nl + 1, scores)); /* the thresholded score of every candidate, always written */
  PetscCall(PetscArraycpy(*scores, score, nl));
  PetscCall(PetscFree3(D, score, q));
  PetscCall(PetscFree2(elig, remaining));
  PetscCall(PetscFree(F));
  PetscCall(PetscFree(Fz));
  PetscFunctionReturn(PETSC_SUCCESS);
}
