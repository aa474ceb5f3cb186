/* test_dpp.c - the DPP MAP objective (src/dpp.c) on the greedy engine.
 *
 * References: brute-force greedy (at each step the candidate maximising det(L_{Y+j}), by a from-scratch
 * Cholesky of L_{Y+j} written here), LAPACK's log det of L_Y, ScaLAPACK's log det of L_Y and of L + I (on the
 * grids the rank count gives: 1x1, 1x2, 1x3, 2x2), and the same run on PETSC_COMM_SELF (every rank, the whole
 * pool) for rank-count independence.
 */
#include <math.h>
#include <winnow/dpp.h>
#include <winnow/util.h>
#include "wn_test.h"

/* Deterministic features in [-1, 1): row g, column k. */
static float feat(uint64_t seed, int64_t g, int64_t k, int64_t d) { return (float)(2.0 * wn_uniform01(seed, (uint64_t)(g * d + k)) - 1.0); }

typedef struct {
  int64_t        N, d;
  float         *X;       /* N x d, all rows on every rank */
  double        *q;       /* N or NULL */
  unsigned char *active;  /* N or NULL */
  wn_dpp_params  p;
} problem;

static void problem_make(problem *P, int64_t N, int64_t d, uint64_t seed, wn_dpp_kind kind, PetscBool quality)
{
  memset(P, 0, sizeof(*P));
  P->N = N;
  P->d = d;
  P->X = malloc((size_t)(N * d) * sizeof(float));
  for (int64_t g = 0; g < N; g++)
    for (int64_t k = 0; k < d; k++) P->X[g * d + k] = feat(seed, g, k, d);
  if (quality) {
    P->q = malloc((size_t)N * sizeof(double));
    for (int64_t g = 0; g < N; g++) P->q[g] = 0.5 + wn_uniform01(seed + 99, (uint64_t)g);
  }
  P->p.kind    = kind;
  P->p.gamma   = 0.7;
  P->p.jitter  = 0.0;
  P->p.epsilon = 1e-10;
}

static void problem_free(problem *P)
{
  free(P->X);
  free(P->q);
  free(P->active);
}

/* Full L (N x N, double) from wn_dpp_entry. */
static double *full_L(const problem *P)
{
  double *L = malloc((size_t)(P->N * P->N) * sizeof(double));
  for (int64_t a = 0; a < P->N; a++)
    for (int64_t b = 0; b < P->N; b++) {
      const float *xa = P->X + a * P->d, *xb = P->X + b * P->d;
      L[a * P->N + b] = wn_dpp_entry(&P->p, P->d, xa, P->q ? P->q[a] : 1.0, wn_dpp_aux(P->p.kind, P->d, xa), xb, P->q ? P->q[b] : 1.0,
                                     wn_dpp_aux(P->p.kind, P->d, xb), a == b ? PETSC_TRUE : PETSC_FALSE);
    }
  return L;
}

/* log det of the principal submatrix of L on rows idx[0..k) by a plain Cholesky; -inf when not positive definite. */
static double chol_logdet(const double *L, int64_t N, const int64_t *idx, int64_t k)
{
  double *A = malloc((size_t)(k * k + 1) * sizeof(double)), ld = 0;
  for (int64_t a = 0; a < k; a++)
    for (int64_t b = 0; b < k; b++) A[a * k + b] = L[idx[a] * N + idx[b]];
  for (int64_t j = 0; j < k; j++) {
    double s = A[j * k + j];
    for (int64_t m = 0; m < j; m++) s -= A[j * k + m] * A[j * k + m];
    if (!(s > 0)) {
      free(A);
      return -INFINITY;
    }
    ld += log(s); /* log of the pivot itself: the first pick compares L_jj's own bits, as the greedy does */
    s            = sqrt(s);
    A[j * k + j] = s;
    for (int64_t i = j + 1; i < k; i++) {
      double t = A[i * k + j];
      for (int64_t m = 0; m < j; m++) t -= A[i * k + m] * A[j * k + m];
      A[i * k + j] = t / s;
    }
  }
  free(A);
  return ld;
}

/* Run the distributed DPP greedy on comm for problem P; returns the selection and (optionally) the objective. */
static PetscErrorCode run_dpp(MPI_Comm comm, const problem *P, int64_t budget, wn_greedy_kind kind, wn_selection **sel, wn_objective **keep,
                              wn_layout *L)
{
  wn_objective    *obj;
  wn_greedy_params gp = {kind, budget, P->p.epsilon, NULL, 0, 0, PETSC_TRUE};

  PetscFunctionBeginUser;
  PetscCall(wn_layout_init(comm, P->N, L));
  PetscCall(wn_dpp_objective_create(L, &P->p, P->d, P->X + L->row_start * P->d, NULL, P->q ? P->q + L->row_start : NULL,
                                    P->active ? P->active + L->row_start : NULL, budget, &obj));
  PetscCall(wn_greedy_maximize(obj, &gp, sel));
  PetscCall(wn_dpp_selection_to_log(*sel));
  if (keep) *keep = obj;
  else PetscCall(wn_objective_destroy(&obj));
  PetscFunctionReturn(PETSC_SUCCESS);
}

/* Brute-force greedy: picks idx (returns count), stops when the best Schur complement det ratio < eps. */
static int64_t brute_greedy(const problem *P, const double *L, int64_t budget, int64_t *idx, double *logdet)
{
  int64_t k   = 0;
  double  cur = 0.0;
  char   *in  = calloc((size_t)P->N, 1);

  while (k < budget) {
    int64_t best = -1;
    double  bestv = -INFINITY;
    for (int64_t j = 0; j < P->N; j++) {
      double v;
      if (in[j] || (P->active && !P->active[j])) continue;
      idx[k] = j;
      v      = chol_logdet(L, P->N, idx, k + 1);
      if (best < 0 || v > bestv) {
        best  = j;
        bestv = v;
      }
    }
    if (best < 0) break;
    if (k > 0 && !(exp(bestv - cur) >= P->p.epsilon)) break;
    idx[k++] = best;
    in[best] = 1;
    cur      = bestv;
  }
  free(in);
  *logdet = cur;
  return k;
}

static void check_against_brute(wn_dpp_kind kind, PetscBool quality, double jitter, int64_t N, int64_t d, int64_t budget, uint64_t seed)
{
  problem       P;
  double       *L, ld_brute;
  int64_t      *idx = malloc((size_t)budget * sizeof(int64_t)), nb;
  wn_selection *sel = NULL;
  wn_layout     lay;

  problem_make(&P, N, d, seed, kind, quality);
  P.p.jitter = jitter;
  L          = full_L(&P);
  nb         = brute_greedy(&P, L, budget, idx, &ld_brute);
  OK_ALL(run_dpp(PETSC_COMM_WORLD, &P, budget, WN_GREEDY_NAIVE, &sel, NULL, &lay));
  if (sel->n != nb) fprintf(stderr, "kind %d: %lld picks vs brute force %lld\n", (int)kind, (long long)sel->n, (long long)nb);
  WN_CK_ASSERT_ALL(PETSC_COMM_WORLD, sel->n == nb);
  for (int64_t t = 0; t < nb && t < sel->n; t++) {
    if (sel->index[t] != idx[t]) fprintf(stderr, "kind %d pick %lld: %lld vs brute force %lld (gain %g)\n", (int)kind, (long long)t, (long long)sel->index[t], (long long)idx[t], sel->gain[t]);
    WN_CK_ASSERT_ALL(PETSC_COMM_WORLD, sel->index[t] == idx[t]);
  }
  /* the incremental log det equals the from-scratch one */
  WN_CK_ASSERT_ALL(PETSC_COMM_WORLD, fabs(sel->objective[sel->n - 1] - ld_brute) <= 1e-9 * (1 + fabs(ld_brute)));
  wn_selection_destroy(&sel);
  free(L);
  free(idx);
  problem_free(&P);
}

START_TEST(brute_force_cosine_rank_stop)
{
  /* cosine features of dimension 4 have rank <= 4: the greedy stops at the rank (epsilon) */
  problem       P;
  wn_selection *sel = NULL;
  wn_layout     lay;

  check_against_brute(WN_DPP_COSINE, PETSC_FALSE, 0.0, 11, 4, 8, 1);
  problem_make(&P, 11, 4, 1, WN_DPP_COSINE, PETSC_FALSE);
  OK_ALL(run_dpp(PETSC_COMM_WORLD, &P, 8, WN_GREEDY_NAIVE, &sel, NULL, &lay));
  WN_CK_ASSERT_ALL(PETSC_COMM_WORLD, sel->n == 4 && !strcmp(sel->stop_reason, "min_gain"));
  wn_selection_destroy(&sel);
  problem_free(&P);
}
END_TEST

START_TEST(brute_force_kernels)
{
  check_against_brute(WN_DPP_COSINE, PETSC_TRUE, 0.0, 9, 5, 5, 2);
  check_against_brute(WN_DPP_COSINE, PETSC_TRUE, 1e-3, 10, 3, 7, 3); /* jitter makes it full rank */
  check_against_brute(WN_DPP_RBF, PETSC_FALSE, 0.0, 12, 3, 9, 4);
  check_against_brute(WN_DPP_RBF, PETSC_TRUE, 0.0, 13, 6, 13, 5);
  check_against_brute(WN_DPP_DOT, PETSC_TRUE, 0.0, 8, 6, 6, 6);
}
END_TEST

START_TEST(rank_independence)
{
  /* the same selection, gains bit for bit, as the singleton run every rank does on its own */
  wn_dpp_kind kinds[3] = {WN_DPP_COSINE, WN_DPP_RBF, WN_DPP_DOT};
  for (int k = 0; k < 3; k++) {
    problem       P;
    wn_selection *a = NULL, *b = NULL;
    wn_layout     la, lb;
    int           same = 1;

    problem_make(&P, 203, 19, 10 + k, kinds[k], k != 1);
    OK_ALL(run_dpp(PETSC_COMM_WORLD, &P, 40, WN_GREEDY_NAIVE, &a, NULL, &la));
    OK_ALL(run_dpp(PETSC_COMM_SELF, &P, 40, WN_GREEDY_NAIVE, &b, NULL, &lb));
    same = a->n == b->n;
    for (int64_t t = 0; same && t < a->n; t++) same = a->index[t] == b->index[t] && !memcmp(&a->gain[t], &b->gain[t], sizeof(double));
    WN_CK_ASSERT_ALL(PETSC_COMM_WORLD, same);
    wn_selection_destroy(&a);
    wn_selection_destroy(&b);
    problem_free(&P);
  }
}
END_TEST

START_TEST(active_set_and_exhaustion)
{
  problem       P;
  wn_selection *sel = NULL;
  wn_layout     lay;
  double       *L, ld;
  int64_t       idx[20], nb, n_active = 0;

  problem_make(&P, 17, 5, 21, WN_DPP_RBF, PETSC_TRUE);
  P.active = calloc(17, 1);
  for (int g = 0; g < 17; g++) P.active[g] = (g % 3 != 1);
  for (int g = 0; g < 17; g++) n_active += P.active[g];
  L  = full_L(&P);
  nb = brute_greedy(&P, L, 20 < 17 ? 20 : 17, idx, &ld);
  OK_ALL(run_dpp(PETSC_COMM_WORLD, &P, 17, WN_GREEDY_NAIVE, &sel, NULL, &lay));
  /* every active item is taken (RBF is full rank), then the loop runs out of candidates */
  WN_CK_ASSERT_ALL(PETSC_COMM_WORLD, sel->n == n_active && nb == n_active && !strcmp(sel->stop_reason, "exhausted"));
  for (int64_t t = 0; t < sel->n; t++) WN_CK_ASSERT_ALL(PETSC_COMM_WORLD, P.active[sel->index[t]] && sel->index[t] == idx[t]);
  wn_selection_destroy(&sel);
  free(L);
  problem_free(&P);
}
END_TEST

START_TEST(first_pick_always_taken)
{
  /* with epsilon above every d^2 the first pick is still made (Chen et al.), and nothing after it */
  problem       P;
  wn_selection *sel = NULL;
  wn_layout     lay;

  problem_make(&P, 9, 3, 31, WN_DPP_COSINE, PETSC_FALSE);
  P.p.epsilon = 1e6;
  OK_ALL(run_dpp(PETSC_COMM_WORLD, &P, 5, WN_GREEDY_NAIVE, &sel, NULL, &lay));
  WN_CK_ASSERT_ALL(PETSC_COMM_WORLD, sel->n == 1 && !strcmp(sel->stop_reason, "min_gain"));
  wn_selection_destroy(&sel);
  problem_free(&P);
}
END_TEST

START_TEST(scalapack_logdet_of_selection)
{
  /* ScaLAPACK's log det(L_Y) and LAPACK's agree with the incremental value; budgets 1 to 37, so nb = 64 and the
   * small block sizes below do not divide k */
  int64_t budgets[4] = {1, 7, 23, 37};
  int     nbs[3]     = {0, 3, 5};
  for (int bi = 0; bi < 4; bi++)
    for (int ni = 0; ni < 3; ni++) {
      problem          P;
      wn_selection    *sel = NULL;
      wn_objective    *obj = NULL;
      wn_layout        lay;
      wn_logdet_result res;
      wn_logdet_opts   opts = {nbs[ni], 0, 0};
      double          *L, *A, ld_lapack;
      int              info;
      int64_t          k;

      problem_make(&P, 61, 8, 40 + bi, WN_DPP_RBF, PETSC_TRUE);
      P.p.gamma = 0.3;
      OK_ALL(run_dpp(PETSC_COMM_WORLD, &P, budgets[bi], WN_GREEDY_NAIVE, &sel, &obj, &lay));
      k = sel->n;
      WN_CK_ASSERT_ALL(PETSC_COMM_WORLD, k == budgets[bi]);
      OK_ALL(wn_dpp_logdet_selected(obj, &opts, &res));
      WN_CK_ASSERT_ALL(PETSC_COMM_WORLD, res.info == 0);
      WN_CK_ASSERT_ALL(PETSC_COMM_WORLD, fabs(res.logdet - sel->objective[k - 1]) <= 1e-10 * (1 + fabs(res.logdet)));
      L = full_L(&P);
      A = malloc((size_t)(k * k) * sizeof(double));
      for (int64_t a = 0; a < k; a++)
        for (int64_t b = 0; b < k; b++) A[a * k + b] = L[sel->index[a] * P.N + sel->index[b]];
      OK_ALL(wn_logdet_lapack(k, A, &ld_lapack, &info));
      WN_CK_ASSERT_ALL(PETSC_COMM_WORLD, info == 0 && fabs(ld_lapack - sel->objective[k - 1]) <= 1e-10 * (1 + fabs(ld_lapack)));
      free(A);
      free(L);
      wn_objective_destroy(&obj);
      wn_selection_destroy(&sel);
      problem_free(&P);
    }
}
END_TEST

START_TEST(scalapack_logdet_full)
{
  /* log det(L_A + I) over the active set, feature and user kernels, against LAPACK */
  problem          P;
  wn_selection    *sel = NULL;
  wn_objective    *obj = NULL;
  wn_layout        lay;
  wn_logdet_result res;
  double          *L, *A, ld;
  int              info;
  int64_t          na = 0, na_obj = 0, *ai;

  problem_make(&P, 29, 6, 50, WN_DPP_COSINE, PETSC_TRUE);
  P.active = calloc(29, 1);
  for (int g = 0; g < 29; g++) P.active[g] = (g % 4 != 2);
  ai = malloc(29 * sizeof(int64_t));
  for (int g = 0; g < 29; g++)
    if (P.active[g]) ai[na++] = g;
  L = full_L(&P);
  A = malloc((size_t)(na * na) * sizeof(double));
  for (int64_t a = 0; a < na; a++)
    for (int64_t b = 0; b < na; b++) A[a * na + b] = L[ai[a] * P.N + ai[b]] + (a == b ? 1.0 : 0.0);
  OK_ALL(wn_logdet_lapack(na, A, &ld, &info));
  OK_ALL(run_dpp(PETSC_COMM_WORLD, &P, 3, WN_GREEDY_NAIVE, &sel, &obj, &lay));
  OK_ALL(wn_dpp_logdet_full(obj, NULL, &res, &na_obj));
  WN_CK_ASSERT_ALL(PETSC_COMM_WORLD, na_obj == na && res.info == 0 && fabs(res.logdet - ld) <= 1e-10 * (1 + fabs(ld)));
  wn_objective_destroy(&obj);
  wn_selection_destroy(&sel);

  /* the same L as a user kernel (float rows): the same picks and log det(L + I) to float accuracy */
  {
    float           *U = malloc((size_t)(P.N * P.N) * sizeof(float));
    wn_dpp_params    pu = P.p;
    wn_objective    *ou = NULL, *of = NULL;
    wn_selection    *su = NULL, *sf = NULL;
    wn_greedy_params gp = {WN_GREEDY_NAIVE, 6, 1e-10, NULL, 0, 0, PETSC_TRUE};
    wn_logdet_result ru;

    for (int64_t i = 0; i < P.N * P.N; i++) U[i] = (float)L[i];
    pu.kind = WN_DPP_USER;
    OK_ALL(wn_layout_init(PETSC_COMM_WORLD, P.N, &lay));
    OK_ALL(wn_dpp_objective_create(&lay, &pu, 0, NULL, U + lay.row_start * P.N, NULL, P.active + lay.row_start, 6, &ou));
    OK_ALL(wn_greedy_maximize(ou, &gp, &su));
    OK_ALL(wn_dpp_objective_create(&lay, &P.p, P.d, P.X + lay.row_start * P.d, NULL, P.q + lay.row_start, P.active + lay.row_start, 6, &of));
    OK_ALL(wn_greedy_maximize(of, &gp, &sf));
    WN_CK_ASSERT_ALL(PETSC_COMM_WORLD, su->n == sf->n);
    for (int64_t t = 0; t < su->n && t < sf->n; t++) WN_CK_ASSERT_ALL(PETSC_COMM_WORLD, su->index[t] == sf->index[t]);
    OK_ALL(wn_dpp_logdet_full(ou, NULL, &ru, &na_obj));
    WN_CK_ASSERT_ALL(PETSC_COMM_WORLD, ru.info == 0 && fabs(ru.logdet - ld) <= 1e-5 * (1 + fabs(ld)));
    /* and its log det(L_Y) check agrees with its own incremental value */
    OK_ALL(wn_dpp_selection_to_log(su));
    OK_ALL(wn_dpp_logdet_selected(ou, NULL, &ru));
    WN_CK_ASSERT_ALL(PETSC_COMM_WORLD, ru.info == 0 && fabs(ru.logdet - su->objective[su->n - 1]) <= 1e-10 * (1 + fabs(ru.logdet)));
    wn_objective_destroy(&ou);
    wn_objective_destroy(&of);
    wn_selection_destroy(&su);
    wn_selection_destroy(&sf);
    free(U);
  }
  free(ai);
  free(A);
  free(L);
  problem_free(&P);
}
END_TEST

START_TEST(bad_arguments)
{
  problem       P;
  wn_layout     lay;
  wn_objective *obj = NULL;
  double       *q;

  problem_make(&P, 10, 3, 60, WN_DPP_RBF, PETSC_FALSE);
  OK_ALL(wn_layout_init(PETSC_COMM_WORLD, P.N, &lay));
  P.p.gamma = 0;
  FAILS_ALL(wn_dpp_objective_create(&lay, &P.p, P.d, P.X + lay.row_start * P.d, NULL, NULL, NULL, 3, &obj), "gamma > 0");
  P.p.gamma  = 1;
  P.p.jitter = -1;
  FAILS_ALL(wn_dpp_objective_create(&lay, &P.p, P.d, P.X + lay.row_start * P.d, NULL, NULL, NULL, 3, &obj), "jitter");
  P.p.jitter = 0;
  FAILS_ALL(wn_dpp_objective_create(&lay, &P.p, P.d, P.X + lay.row_start * P.d, NULL, NULL, NULL, 11, &obj), "budget 11");
  q = malloc(10 * sizeof(double));
  for (int g = 0; g < 10; g++) q[g] = g == 7 ? -1.0 : 1.0;
  FAILS_ALL(wn_dpp_objective_create(&lay, &P.p, P.d, P.X + lay.row_start * P.d, NULL, q + lay.row_start, NULL, 3, &obj), "candidate 7");
  free(q);
  problem_free(&P);
}
END_TEST

static Suite *suite(void)
{
  Suite *s  = suite_create("dpp");
  TCase *tb = tcase_create("brute force"), *td = tcase_create("distributed"), *ts = tcase_create("scalapack");
  tcase_set_timeout(ts, 120);
  tcase_add_test(tb, brute_force_cosine_rank_stop);
  tcase_add_test(tb, brute_force_kernels);
  tcase_add_test(tb, first_pick_always_taken);
  tcase_add_test(tb, bad_arguments);
  tcase_add_test(td, rank_independence);
  tcase_add_test(td, active_set_and_exhaustion);
  tcase_add_test(ts, scalapack_logdet_of_selection);
  tcase_add_test(ts, scalapack_logdet_full);
  suite_add_tcase(s, tb);
  suite_add_tcase(s, td);
  suite_add_tcase(s, ts);
  return s;
}

int main(int argc, char **argv) { return wn_test_run(argc, argv, suite); }
