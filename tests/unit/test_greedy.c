/* test_greedy.c - check suite for src/greedy.c: the distributed greedy engine, driven by the
 * facility-location objective (src/facility.c) and by a small modular objective defined here.
 *
 * pure:        a modular objective (top-k by weight, ties to the lowest index, no gain_all, no payload),
 *              NaN gains and bad parameters raising errors on every rank.
 * distributed: greedy against a plain serial brute-force greedy that evaluates f(A) from scratch with the
 *              closed forms of facility.h (FL over targets, FL within the pool, FLMI, FLCG); gains never
 *              increase; no duplicates; lazy == naive bitwise, also with exact ties; fewer evaluations for
 *              lazy; rank independence (bitwise against a single-rank run on MPI_COMM_SELF); N < P;
 *              warm start; min_gain stop; budget = N; progress lines.
 * sparse:      the objective on top-k kernels (wn_facility_create_sparse): with k = T (and k > T) exactly the
 *              dense selection and gains for FL, FLMI and FLCG; with k < T bitwise the dense engine on the
 *              zero-filled top-k matrix and the brute force on it, no duplicates, gains never increase, lazy ==
 *              naive, the same on MPI_COMM_SELF; exact ties; N < P. Sparse kernels come from
 *              wn_kernel_sparse_compute (the dot metric against the identity reproduces a matrix exactly).
 * Data: continuous random values from wn_uniform01 by global index, so every rank builds the same global
 * matrix and takes its rows. Kernels are built directly (wn_layout_init + values), not with wn_kernel_compute.
 */
#include <float.h>
#include <math.h>
#include <string.h>
#include <winnow/facility.h>
#include <winnow/greedy.h>
#include <winnow/util.h>
#include "wn_test.h"
#include "wn_test_kernel.h"

/* ---- instances ------------------------------------------------------------------------------- */

typedef enum { OBJ_FL, OBJ_FLMI, OBJ_FLCG } obj_type;

typedef struct {
  obj_type type;
  int64_t  N, T; /* K is N x T (T = N within the pool) */
  float   *K;    /* global, row-major, replicated on every rank */
  float   *side; /* FLMI caps or FLCG floors (T floats, replicated); NULL for FL */
} instance;

/* An instance with continuous random data. FLMI/FLCG: K is N x N and the caps/floors come from the
 * library's constructions on a random N x side_cols kernel distributed over comm. */
static PetscErrorCode instance_random(MPI_Comm comm, obj_type type, int64_t N, int64_t T, uint64_t seed, double factor, instance *in)
{
  PetscFunctionBeginUser;
  memset(in, 0, sizeof(*in));
  in->type = type;
  in->N    = N;
  in->T    = type == OBJ_FL ? T : N;
  PetscCall(test_random_matrix(seed, N, in->T, -0.2, 1.2, &in->K));
  if (type != OBJ_FL) {
    float     *S;
    wn_kernel *SK;
    PetscCall(test_random_matrix(seed + 1000, N, T, -0.2, 1.2, &S));
    PetscCall(test_kernel_from_global(comm, N, T, S, &SK));
    if (type == OBJ_FLMI) PetscCall(wn_facility_flmi_caps(SK, factor, &in->side));
    else PetscCall(wn_facility_flcg_floors(SK, factor, &in->side));
    PetscCall(wn_kernel_destroy(&SK));
    PetscCall(PetscFree(S));
  }
  PetscFunctionReturn(PETSC_SUCCESS);
}

static PetscErrorCode instance_free(instance *in)
{
  PetscFunctionBeginUser;
  PetscCall(PetscFree(in->K));
  PetscCall(PetscFree(in->side));
  PetscFunctionReturn(PETSC_SUCCESS);
}

/* ---- the brute force: f(A) from scratch with the closed forms of facility.h, in double --------- */

/* The closed forms, one column at a time (f(A) = sum_t f_t(A)), with m = max_{j in A} K[j, t]:
 * FL:   f_t(A) = max(0, m)
 * FLMI: f_t(A) = min(max(0, m), q_t)     (submodlib FL1MI: memo starts at 0; q_t >= FLT_MIN > 0)
 * FLCG: f_t(A) = max(0, m - m_t)         (f(A | P), m_t the private-set floor) */
static double brute_f_column(const instance *in, const int64_t *A, int64_t n, int64_t t)
{
  double m = -INFINITY;

  for (int64_t k = 0; k < n; k++) m = fmax(m, (double)in->K[A[k] * in->T + t]);
  if (in->type == OBJ_FL) return fmax(0.0, m);
  if (in->type == OBJ_FLMI) return fmin(fmax(0.0, m), (double)in->side[t]);
  return fmax(0.0, m - (double)in->side[t]);
}

/* f(A + c) - f(A), both evaluated from scratch, differenced per column before summing (so that tiny
 * contributions such as an FLT_MIN cap are not lost against the size of f(A)). A has room for n + 1. */
static double brute_gain(const instance *in, int64_t *A, int64_t n, int64_t c)
{
  double g = 0.0;

  A[n] = c;
  for (int64_t t = 0; t < in->T; t++) g += brute_f_column(in, A, n + 1, t) - brute_f_column(in, A, n, t);
  return g;
}

/* Plain serial greedy: warm rows first, then the candidate with the largest f(A + c) - f(A), the lowest
 * index on ties (strict '>' over increasing c). Fills budget picks into index/gain. */
static PetscErrorCode brute_greedy(const instance *in, const int64_t *warm, int64_t n_warm, int64_t budget, int64_t *index, double *gain)
{
  unsigned char *taken;

  PetscFunctionBeginUser;
  PetscCall(PetscCalloc1((size_t)in->N, &taken));
  for (int64_t k = 0; k < budget; k++) {
    double  best = -INFINITY;
    int64_t arg  = -1;
    if (k < n_warm) {
      arg  = warm[k];
      best = brute_gain(in, index, k, arg);
    } else {
      for (int64_t c = 0; c < in->N; c++) {
        double g;
        if (taken[c]) continue;
        g = brute_gain(in, index, k, c);
        if (arg < 0 || g > best) {
          best = g;
          arg  = c;
        }
      }
    }
    index[k]   = arg;
    gain[k]    = best;
    taken[arg] = 1;
  }
  PetscCall(PetscFree(taken));
  PetscFunctionReturn(PETSC_SUCCESS);
}

/* ---- running the engine --------------------------------------------------------------------- */

static PetscErrorCode run_engine(MPI_Comm comm, const instance *in, wn_greedy_kind kind, int64_t budget, double min_gain, const int64_t *warm,
                                 int64_t n_warm, double progress, wn_selection **sel)
{
  wn_kernel       *K;
  wn_objective    *obj;
  wn_greedy_params p;

  PetscFunctionBeginUser;
  PetscCall(test_kernel_from_global(comm, in->N, in->T, in->K, &K));
  PetscCall(wn_facility_create(K, in->type == OBJ_FLMI ? in->side : NULL, in->type == OBJ_FLCG ? in->side : NULL, &obj));
  memset(&p, 0, sizeof(p));
  p.kind              = kind;
  p.budget            = budget;
  p.min_gain          = min_gain;
  p.warm              = warm;
  p.n_warm            = n_warm;
  p.progress_interval = progress;
  PetscCall(wn_greedy_maximize(obj, &p, sel));
  PetscCall(wn_objective_destroy(&obj));
  PetscCall(wn_kernel_destroy(&K));
  PetscFunctionReturn(PETSC_SUCCESS);
}

static int sel_equal_bitwise(const wn_selection *a, const wn_selection *b)
{
  if (a->n != b->n || a->n_warm != b->n_warm || a->n_candidates != b->n_candidates) return 0;
  if (strcmp(a->stop_reason, b->stop_reason)) return 0;
  if (memcmp(a->index, b->index, (size_t)a->n * sizeof(int64_t))) return 0;
  if (memcmp(a->gain, b->gain, (size_t)a->n * sizeof(double))) return 0;
  if (memcmp(a->objective, b->objective, (size_t)a->n * sizeof(double))) return 0;
  return 1;
}

/* Selection invariants: no duplicates, indices in range, running objective = running sum of gains,
 * greedy gains (after the warm start) never increase. */
static int sel_invariants(const wn_selection *s)
{
  double sum = 0.0;

  for (int64_t k = 0; k < s->n; k++) {
    if (s->index[k] < 0 || s->index[k] >= s->n_candidates) return 0;
    for (int64_t j = 0; j < k; j++)
      if (s->index[j] == s->index[k]) return 0;
    sum += s->gain[k];
    if (s->objective[k] != sum) return 0;
    if (k > s->n_warm && s->gain[k] > s->gain[k - 1]) return 0;
  }
  return 1;
}

/* Engine result against the brute force: same indices, gains equal up to the engine's float rounding of each
 * of the T terms (min(K, cap) - floor is rounded to float, at most half an ulp of a value below 2, 2^-23 each;
 * the brute force works in double). */
static int sel_matches_brute(const wn_selection *s, const int64_t *index, const double *gain, int64_t T)
{
  for (int64_t k = 0; k < s->n; k++) {
    if (s->index[k] != index[k] || fabs(s->gain[k] - gain[k]) > 0x1p-23 * (double)T) {
      fprintf(stderr, "pick %lld: engine %lld gain %.17g, brute force %lld gain %.17g\n", (long long)k, (long long)s->index[k], s->gain[k],
              (long long)index[k], gain[k]);
      return 0;
    }
  }
  return 1;
}

/* Naive and lazy on comm against the brute force, against each other (bitwise) and against the single-rank
 * run on MPI_COMM_SELF (bitwise). */
static void check_instance(const instance *in, int64_t budget, const int64_t *warm, int64_t n_warm)
{
  MPI_Comm      comm = PETSC_COMM_WORLD;
  wn_selection *naive = NULL, *lazy = NULL, *self_naive = NULL, *self_lazy = NULL;
  int64_t      *index;
  double       *gain;

  WN_CK_OK(PetscMalloc2(budget, &index, budget, &gain));
  WN_CK_OK(brute_greedy(in, warm, n_warm, budget, index, gain));
  WN_CK_OK(run_engine(comm, in, WN_GREEDY_NAIVE, budget, -INFINITY, warm, n_warm, 0, &naive));
  WN_CK_OK(run_engine(comm, in, WN_GREEDY_LAZY, budget, -INFINITY, warm, n_warm, 0, &lazy));
  WN_CK_OK(run_engine(MPI_COMM_SELF, in, WN_GREEDY_NAIVE, budget, -INFINITY, warm, n_warm, 0, &self_naive));
  WN_CK_OK(run_engine(MPI_COMM_SELF, in, WN_GREEDY_LAZY, budget, -INFINITY, warm, n_warm, 0, &self_lazy));
  WN_CK_ASSERT_ALL(comm, naive->n == budget && naive->n_warm == n_warm && strcmp(naive->stop_reason, "budget") == 0);
  WN_CK_ASSERT_ALL(comm, naive->n_candidates == in->N);
  WN_CK_ASSERT_ALL(comm, sel_invariants(naive));
  WN_CK_ASSERT_ALL(comm, sel_matches_brute(naive, index, gain, in->T));
  WN_CK_ASSERT_ALL(comm, sel_equal_bitwise(naive, lazy));
  WN_CK_ASSERT_ALL(comm, sel_equal_bitwise(naive, self_naive));
  WN_CK_ASSERT_ALL(comm, sel_equal_bitwise(naive, self_lazy));
  /* naive evaluates every unselected candidate once per greedy iteration (+1 per warm row), on any rank count */
  WN_CK_ASSERT_ALL(comm, naive->evaluations == self_naive->evaluations);
  WN_CK_ASSERT_ALL(comm, lazy->evaluations <= naive->evaluations);
  WN_CK_OK(wn_selection_destroy(&naive));
  WN_CK_OK(wn_selection_destroy(&lazy));
  WN_CK_OK(wn_selection_destroy(&self_naive));
  WN_CK_OK(wn_selection_destroy(&self_lazy));
  ck_assert(naive == NULL && lazy == NULL);
  PetscFree2(index, gain);
}

/* ---- tests against the brute force ------------------------------------------------------------ */

START_TEST(brute_force_fl_targets)
{
  instance in;

  WN_CK_OK(instance_random(PETSC_COMM_WORLD, OBJ_FL, 13, 7, 11, 0, &in));
  check_instance(&in, 9, NULL, 0);
  WN_CK_OK(instance_free(&in));
  WN_CK_OK(instance_random(PETSC_COMM_WORLD, OBJ_FL, 37, 19, 12, 0, &in));
  check_instance(&in, 15, NULL, 0);
  WN_CK_OK(instance_free(&in));
}
END_TEST

START_TEST(brute_force_fl_pool)
{
  instance in;

  WN_CK_OK(instance_random(PETSC_COMM_WORLD, OBJ_FL, 11, 11, 21, 0, &in));
  check_instance(&in, 11, NULL, 0); /* budget = N */
  WN_CK_OK(instance_free(&in));
  WN_CK_OK(instance_random(PETSC_COMM_WORLD, OBJ_FL, 23, 23, 22, 0, &in));
  check_instance(&in, 10, NULL, 0);
  WN_CK_OK(instance_free(&in));
}
END_TEST

START_TEST(brute_force_flmi)
{
  instance in;

  WN_CK_OK(instance_random(PETSC_COMM_WORLD, OBJ_FLMI, 12, 5, 31, 1.0, &in));
  check_instance(&in, 8, NULL, 0);
  WN_CK_OK(instance_free(&in));
  /* small eta: many caps bind, some hit the FLT_MIN floor, gains saturate to 0 */
  WN_CK_OK(instance_random(PETSC_COMM_WORLD, OBJ_FLMI, 19, 3, 32, 0.3, &in));
  check_instance(&in, 12, NULL, 0);
  WN_CK_OK(instance_free(&in));
}
END_TEST

START_TEST(brute_force_flcg)
{
  instance in;

  WN_CK_OK(instance_random(PETSC_COMM_WORLD, OBJ_FLCG, 12, 4, 41, 1.0, &in));
  check_instance(&in, 8, NULL, 0);
  WN_CK_OK(instance_free(&in));
  WN_CK_OK(instance_random(PETSC_COMM_WORLD, OBJ_FLCG, 21, 2, 42, 0.7, &in));
  check_instance(&in, 21, NULL, 0);
  WN_CK_OK(instance_free(&in));
}
END_TEST

/* Exact ties: integer-valued kernels with duplicated rows (row g equals row g + 5), an all-equal kernel and
 * an all-zero kernel. Sums are exact, the brute force is exact, and the lowest index must win every tie. */
START_TEST(exact_ties_lowest_index)
{
  MPI_Comm comm = PETSC_COMM_WORLD;
  instance in;

  memset(&in, 0, sizeof(in));
  in.type = OBJ_FL;
  in.N    = 15;
  in.T    = 6;
  WN_CK_OK(PetscMalloc1(in.N * in.T, &in.K));
  for (int64_t g = 0; g < in.N; g++)
    for (int64_t t = 0; t < in.T; t++) in.K[g * in.T + t] = (float)(int)(4 * wn_uniform01(3, (uint64_t)((g % 5) * in.T + t)));
  check_instance(&in, 12, NULL, 0);

  /* all rows equal: picks 0, 1, 2, ... with gains (sum of the row), 0, 0, ... */
  for (int64_t g = 0; g < in.N; g++)
    for (int64_t t = 0; t < in.T; t++) in.K[g * in.T + t] = (float)(t + 1);
  check_instance(&in, 7, NULL, 0);
  {
    wn_selection *s;
    int           ok = 1;
    WN_CK_OK(run_engine(comm, &in, WN_GREEDY_LAZY, in.N, -INFINITY, NULL, 0, 0, &s));
    for (int64_t k = 0; k < s->n; k++)
      if (s->index[k] != k || s->gain[k] != (k == 0 ? 21.0 : 0.0)) ok = 0;
    WN_CK_ASSERT_ALL(comm, ok && s->n == in.N && strcmp(s->stop_reason, "budget") == 0);
    WN_CK_OK(wn_selection_destroy(&s));
  }
  /* all zero: every gain is 0, order 0, 1, 2, ... */
  memset(in.K, 0, (size_t)(in.N * in.T) * sizeof(float));
  check_instance(&in, 5, NULL, 0);
  WN_CK_OK(instance_free(&in));

  /* FLMI with integer kernel and integer caps: ties after saturation */
  in.type = OBJ_FLMI;
  in.N = in.T = 10;
  WN_CK_OK(PetscMalloc1(in.N * in.T, &in.K));
  WN_CK_OK(PetscMalloc1(in.T, &in.side));
  for (int64_t g = 0; g < in.N; g++)
    for (int64_t t = 0; t < in.T; t++) in.K[g * in.T + t] = (float)(int)(3 * wn_uniform01(4, (uint64_t)((g % 4) * in.T + t)));
  for (int64_t t = 0; t < in.T; t++) in.side[t] = t % 3 == 0 ? FLT_MIN : 1.0f;
  check_instance(&in, 10, NULL, 0);
  WN_CK_OK(instance_free(&in));
}
END_TEST

/* Rank independence on a larger instance, every objective, and lazy evaluation counts. */
START_TEST(rank_independence_and_evaluations)
{
  MPI_Comm      comm  = PETSC_COMM_WORLD;
  obj_type      types[3] = {OBJ_FL, OBJ_FLMI, OBJ_FLCG};
  const char   *names[3] = {"FL (targets)", "FLMI", "FLCG"};

  for (int k = 0; k < 3; k++) {
    instance      in;
    wn_selection *naive, *lazy, *self_naive, *self_lazy;
    int64_t       N = 301, budget = 40, expected = 0;

    WN_CK_OK(instance_random(comm, types[k], N, 23, 50 + k, 1.0, &in));
    WN_CK_OK(run_engine(comm, &in, WN_GREEDY_NAIVE, budget, -INFINITY, NULL, 0, 0, &naive));
    WN_CK_OK(run_engine(comm, &in, WN_GREEDY_LAZY, budget, -INFINITY, NULL, 0, 0, &lazy));
    WN_CK_OK(run_engine(MPI_COMM_SELF, &in, WN_GREEDY_NAIVE, budget, -INFINITY, NULL, 0, 0, &self_naive));
    WN_CK_OK(run_engine(MPI_COMM_SELF, &in, WN_GREEDY_LAZY, budget, -INFINITY, NULL, 0, 0, &self_lazy));
    WN_CK_ASSERT_ALL(comm, sel_invariants(naive));
    WN_CK_ASSERT_ALL(comm, sel_equal_bitwise(naive, lazy));
    WN_CK_ASSERT_ALL(comm, sel_equal_bitwise(naive, self_naive));
    WN_CK_ASSERT_ALL(comm, sel_equal_bitwise(naive, self_lazy));
    for (int64_t j = 0; j < budget; j++) expected += N - j;
    WN_CK_ASSERT_ALL(comm, naive->evaluations == expected);
    WN_CK_ASSERT_ALL(comm, lazy->evaluations < naive->evaluations);
    WN_CK_OK(PetscPrintf(comm, "  [evaluations] %-12s N=%lld budget=%lld: naive %lld, lazy %lld (single rank lazy %lld)\n", names[k], (long long)N,
                         (long long)budget, (long long)naive->evaluations, (long long)lazy->evaluations, (long long)self_lazy->evaluations));
    WN_CK_OK(wn_selection_destroy(&naive));
    WN_CK_OK(wn_selection_destroy(&lazy));
    WN_CK_OK(wn_selection_destroy(&self_naive));
    WN_CK_OK(wn_selection_destroy(&self_lazy));
    WN_CK_OK(instance_free(&in));
  }
}
END_TEST

/* N < P on 3 and 4 ranks: some ranks own no rows. */
START_TEST(fewer_rows_than_ranks)
{
  instance in;
  int64_t  warm[1] = {2};

  WN_CK_OK(instance_random(PETSC_COMM_WORLD, OBJ_FL, 2, 5, 61, 0, &in));
  check_instance(&in, 2, NULL, 0);
  check_instance(&in, 1, NULL, 0);
  WN_CK_OK(instance_free(&in));
  WN_CK_OK(instance_random(PETSC_COMM_WORLD, OBJ_FLMI, 3, 2, 62, 1.0, &in));
  check_instance(&in, 3, NULL, 0);
  check_instance(&in, 2, warm, 1);
  WN_CK_OK(instance_free(&in));
  WN_CK_OK(instance_random(PETSC_COMM_WORLD, OBJ_FL, 1, 3, 63, 0, &in));
  check_instance(&in, 1, NULL, 0);
  WN_CK_OK(instance_free(&in));
}
END_TEST

/* Warm start: picked first in the given order with their gains at that time, n_warm recorded, then the
 * rest equals greedy continued from that state (brute force with the same warm rows). */
START_TEST(warm_start)
{
  MPI_Comm      comm     = PETSC_COMM_WORLD;
  int64_t       warm[3]  = {5, 2, 14};
  int64_t       warm1[4] = {0, 1, 2, 3};
  instance      in;
  wn_selection *s;

  WN_CK_OK(instance_random(comm, OBJ_FL, 15, 9, 71, 0, &in));
  check_instance(&in, 8, warm, 3);
  check_instance(&in, 3, warm, 3); /* warm rows fill the budget */
  check_instance(&in, 15, warm1, 4);
  WN_CK_OK(run_engine(comm, &in, WN_GREEDY_LAZY, 8, -INFINITY, warm, 3, 0, &s));
  WN_CK_ASSERT_ALL(comm, s->n_warm == 3 && s->index[0] == 5 && s->index[1] == 2 && s->index[2] == 14);
  WN_CK_OK(wn_selection_destroy(&s));
  WN_CK_OK(instance_free(&in));
  WN_CK_OK(instance_random(comm, OBJ_FLCG, 14, 3, 72, 1.0, &in));
  check_instance(&in, 9, warm, 2);
  WN_CK_OK(instance_free(&in));
}
END_TEST

START_TEST(min_gain_stop)
{
  MPI_Comm      comm = PETSC_COMM_WORLD;
  instance      in;
  wn_selection *full, *s;
  double        threshold;

  WN_CK_OK(instance_random(comm, OBJ_FL, 29, 11, 81, 0, &in));
  WN_CK_OK(run_engine(comm, &in, WN_GREEDY_NAIVE, 10, -INFINITY, NULL, 0, 0, &full));
  WN_CK_ASSERT_ALL(comm, full->gain[3] > full->gain[4]);
  threshold = 0.5 * (full->gain[3] + full->gain[4]);
  for (int kind = 0; kind < 2; kind++) {
    /* stop before the 5th pick: it is not taken */
    WN_CK_OK(run_engine(comm, &in, (wn_greedy_kind)kind, 10, threshold, NULL, 0, 0, &s));
    WN_CK_ASSERT_ALL(comm, s->n == 4 && strcmp(s->stop_reason, "min_gain") == 0);
    WN_CK_ASSERT_ALL(comm, memcmp(s->index, full->index, 4 * sizeof(int64_t)) == 0 && memcmp(s->gain, full->gain, 4 * sizeof(double)) == 0);
    WN_CK_OK(wn_selection_destroy(&s));
    /* a gain equal to min_gain is taken (the rule is gain < min_gain) */
    WN_CK_OK(run_engine(comm, &in, (wn_greedy_kind)kind, 10, full->gain[4], NULL, 0, 0, &s));
    WN_CK_ASSERT_ALL(comm, s->n >= 5 && memcmp(s->index, full->index, 5 * sizeof(int64_t)) == 0);
    WN_CK_OK(wn_selection_destroy(&s));
    /* nothing good enough: empty selection */
    WN_CK_OK(run_engine(comm, &in, (wn_greedy_kind)kind, 10, full->gain[0] * 2, NULL, 0, 0, &s));
    WN_CK_ASSERT_ALL(comm, s->n == 0 && strcmp(s->stop_reason, "min_gain") == 0);
    WN_CK_OK(wn_selection_destroy(&s));
  }
  WN_CK_OK(wn_selection_destroy(&full));
  WN_CK_OK(instance_free(&in));
}
END_TEST

START_TEST(progress_lines)
{
  MPI_Comm      comm = PETSC_COMM_WORLD;
  instance      in;
  wn_selection *quiet, *loud;

  WN_CK_OK(instance_random(comm, OBJ_FL, 9, 4, 91, 0, &in));
  WN_CK_OK(run_engine(comm, &in, WN_GREEDY_LAZY, 3, -INFINITY, NULL, 0, 0, &quiet));
  WN_CK_OK(PetscPrintf(comm, "  [progress] expect up to 3 lines:\n"));
  WN_CK_OK(run_engine(comm, &in, WN_GREEDY_LAZY, 3, -INFINITY, NULL, 0, 1e-9, &loud));
  WN_CK_ASSERT_ALL(comm, sel_equal_bitwise(quiet, loud));
  WN_CK_OK(wn_selection_destroy(&quiet));
  WN_CK_OK(wn_selection_destroy(&loud));
  WN_CK_OK(instance_free(&in));
}
END_TEST

/* ---- sparse kernels on the engine --------------------------------------------------------------- */

/* Brute-force top-k of every row of in->K (largest values, ties to the lower column) as the zero-filled dense
 * instance it stands for (same type and side array, borrowed: free only Z->K). */
static PetscErrorCode instance_topk(const instance *in, int64_t k, instance *Z)
{
  unsigned char *taken;

  PetscFunctionBeginUser;
  *Z = *in;
  PetscCall(PetscCalloc1((size_t)(in->N * in->T) + 1, &Z->K));
  PetscCall(PetscMalloc1((size_t)in->T + 1, &taken));
  for (int64_t i = 0; i < in->N; i++) {
    memset(taken, 0, (size_t)in->T);
    for (int64_t r = 0; r < PetscMin(k, in->T); r++) {
      int64_t best = -1;
      for (int64_t t = 0; t < in->T; t++)
        if (!taken[t] && (best < 0 || in->K[i * in->T + t] > in->K[i * in->T + best])) best = t;
      taken[best]                = 1;
      Z->K[i * in->T + best] = in->K[i * in->T + best];
    }
  }
  PetscCall(PetscFree(taken));
  PetscFunctionReturn(PETSC_SUCCESS);
}

/* The engine on the sparse top-k kernel of in->K, computed by the library (the dot metric against the identity
 * reproduces in->K exactly). */
static PetscErrorCode run_engine_sparse(MPI_Comm comm, const instance *in, int64_t k, wn_greedy_kind kind, int64_t budget, wn_selection **sel)
{
  wn_layout         layout;
  wn_kernel_params  kp;
  wn_sparse_kernel *S;
  wn_objective     *obj;
  wn_greedy_params  p;
  float            *eye;

  PetscFunctionBeginUser;
  PetscCall(wn_layout_init(comm, in->N, &layout));
  PetscCall(PetscCalloc1((size_t)(in->T * in->T), &eye));
  for (int64_t t = 0; t < in->T; t++) eye[t * in->T + t] = 1.0f;
  memset(&kp, 0, sizeof(kp));
  kp.metric = WN_METRIC_DOT;
  PetscCall(wn_kernel_sparse_compute(&layout, in->T, in->K + layout.row_start * in->T, in->T, eye, &kp, k, "user", &S));
  PetscCall(PetscFree(eye));
  PetscCall(wn_facility_create_sparse(S, in->type == OBJ_FLMI ? in->side : NULL, in->type == OBJ_FLCG ? in->side : NULL, &obj));
  memset(&p, 0, sizeof(p));
  p.kind     = kind;
  p.budget   = budget;
  p.min_gain = -INFINITY;
  PetscCall(wn_greedy_maximize(obj, &p, sel));
  PetscCall(wn_objective_destroy(&obj));
  PetscCall(wn_kernel_sparse_destroy(&S));
  PetscFunctionReturn(PETSC_SUCCESS);
}

/* Sparse top-k on comm, naive and lazy, against the dense engine on the zero-filled top-k matrix (bitwise: for
 * k = T that is the dense selection itself), against the brute force on that matrix, and against the sparse
 * engine on MPI_COMM_SELF (bitwise). */
static void check_sparse_instance(const instance *in, int64_t k, int64_t budget)
{
  MPI_Comm      comm = PETSC_COMM_WORLD;
  instance      Z;
  wn_selection *naive = NULL, *lazy = NULL, *self_lazy = NULL, *dense = NULL;
  int64_t      *index;
  double       *gain;

  WN_CK_OK(instance_topk(in, k, &Z));
  if (k >= in->T) WN_CK_ASSERT_ALL(comm, memcmp(Z.K, in->K, (size_t)(in->N * in->T) * sizeof(float)) == 0);
  WN_CK_OK(PetscMalloc2(budget, &index, budget, &gain));
  WN_CK_OK(brute_greedy(&Z, NULL, 0, budget, index, gain));
  WN_CK_OK(run_engine_sparse(comm, in, k, WN_GREEDY_NAIVE, budget, &naive));
  WN_CK_OK(run_engine_sparse(comm, in, k, WN_GREEDY_LAZY, budget, &lazy));
  WN_CK_OK(run_engine_sparse(MPI_COMM_SELF, in, k, WN_GREEDY_LAZY, budget, &self_lazy));
  WN_CK_OK(run_engine(comm, &Z, WN_GREEDY_LAZY, budget, -INFINITY, NULL, 0, 0, &dense));
  WN_CK_ASSERT_ALL(comm, naive->n == budget && strcmp(naive->stop_reason, "budget") == 0);
  WN_CK_ASSERT_ALL(comm, sel_invariants(naive)); /* no duplicates, gains never increase */
  WN_CK_ASSERT_ALL(comm, sel_equal_bitwise(naive, dense));
  WN_CK_ASSERT_ALL(comm, sel_equal_bitwise(naive, lazy));
  WN_CK_ASSERT_ALL(comm, sel_equal_bitwise(naive, self_lazy));
  WN_CK_ASSERT_ALL(comm, sel_matches_brute(naive, index, gain, in->T));
  WN_CK_ASSERT_ALL(comm, lazy->evaluations <= naive->evaluations);
  WN_CK_OK(wn_selection_destroy(&naive));
  WN_CK_OK(wn_selection_destroy(&lazy));
  WN_CK_OK(wn_selection_destroy(&self_lazy));
  WN_CK_OK(wn_selection_destroy(&dense));
  PetscFree2(index, gain);
  PetscFree(Z.K);
}

/* k = T: exactly the dense selection and gains, for FL over targets, FL within the pool, FLMI caps and FLCG
 * floors. */
START_TEST(sparse_full_equals_dense)
{
  obj_type types[4] = {OBJ_FL, OBJ_FL, OBJ_FLMI, OBJ_FLCG};
  int64_t  T[4]     = {13, 29, 5, 4};

  for (int c = 0; c < 4; c++) {
    instance in;

    WN_CK_OK(instance_random(PETSC_COMM_WORLD, types[c], 29, T[c], 110 + c, c == 2 ? 0.6 : 1.0, &in));
    check_sparse_instance(&in, in.T, 12);
    check_sparse_instance(&in, in.T + 5, 7); /* k > T keeps everything */
    WN_CK_OK(instance_free(&in));
  }
}
END_TEST

/* k < T: the selection of the zero-filled top-k kernel; no duplicates, gains never increase, the same on any
 * rank count; exact ties (integer values) included. */
START_TEST(sparse_topk_selection)
{
  obj_type types[3] = {OBJ_FL, OBJ_FLMI, OBJ_FLCG};
  instance in;

  for (int c = 0; c < 3; c++) {
    WN_CK_OK(instance_random(PETSC_COMM_WORLD, types[c], 31, 17, 120 + c, 1.0, &in));
    check_sparse_instance(&in, 1, 10);
    check_sparse_instance(&in, 4, 25);
    WN_CK_OK(instance_free(&in));
  }
  /* integers with duplicated rows: ties everywhere, in the top-k and in the gains */
  memset(&in, 0, sizeof(in));
  in.type = OBJ_FL;
  in.N    = 15;
  in.T    = 9;
  WN_CK_OK(PetscMalloc1(in.N * in.T, &in.K));
  for (int64_t g = 0; g < in.N; g++)
    for (int64_t t = 0; t < in.T; t++) in.K[g * in.T + t] = (float)(int)(4 * wn_uniform01(5, (uint64_t)((g % 5) * in.T + t)));
  check_sparse_instance(&in, 3, 12);
  check_sparse_instance(&in, 9, 15);
  WN_CK_OK(instance_free(&in));
}
END_TEST

/* N < P on 3 and 4 ranks. */
START_TEST(sparse_fewer_rows_than_ranks)
{
  instance in;

  WN_CK_OK(instance_random(PETSC_COMM_WORLD, OBJ_FL, 2, 5, 131, 0, &in));
  check_sparse_instance(&in, 2, 2);
  check_sparse_instance(&in, 5, 1);
  WN_CK_OK(instance_free(&in));
  WN_CK_OK(instance_random(PETSC_COMM_WORLD, OBJ_FLMI, 3, 2, 132, 1.0, &in));
  check_sparse_instance(&in, 2, 3);
  WN_CK_OK(instance_free(&in));
}
END_TEST

/* ---- a modular objective: gain(c) = w[c], no gain_all, no payload ------------------------------ */

typedef struct {
  const double    *w; /* global weights, replicated (borrowed) */
  const wn_layout *layout;
} modular_ctx;

static PetscErrorCode modular_gain(void *vctx, int64_t i, double *gain)
{
  modular_ctx *ctx = (modular_ctx *)vctx;

  PetscFunctionBeginUser;
  *gain = ctx->w[ctx->layout->row_start + i];
  PetscFunctionReturn(PETSC_SUCCESS);
}

static PetscErrorCode modular_pack(void *vctx, int64_t i, void *payload) { return PETSC_SUCCESS; }
static PetscErrorCode modular_update(void *vctx, int64_t g, const void *payload) { return PETSC_SUCCESS; }
static PetscErrorCode modular_destroy(void *vctx) { return PetscFree(vctx); }

static PetscErrorCode modular_create(const wn_layout *layout, const double *w, PetscBool lazy_ok, wn_objective **obj)
{
  modular_ctx  *ctx;
  wn_objective *o;

  PetscFunctionBeginUser;
  PetscCall(PetscNew(&ctx));
  ctx->w      = w;
  ctx->layout = layout;
  PetscCall(PetscNew(&o));
  o->name    = "modular";
  o->ctx     = ctx;
  o->layout  = layout;
  o->lazy_ok = lazy_ok;
  o->gain    = modular_gain;
  o->pack    = modular_pack;
  o->update  = modular_update;
  o->destroy = modular_destroy;
  *obj       = o;
  PetscFunctionReturn(PETSC_SUCCESS);
}

START_TEST(modular_top_k)
{
  MPI_Comm         comm = PETSC_COMM_WORLD;
  const int64_t    N    = 11;
  double           w[11];
  wn_layout        layout;
  wn_objective    *obj;
  wn_selection    *s[2];
  wn_greedy_params p = {WN_GREEDY_NAIVE, 9, -INFINITY, NULL, 0, 0};
  /* w = (3g mod 5): 0 3 1 4 2 0 3 1 4 2 0 -> by (w desc, g asc): 3 8 1 6 4 9 2 7 0 5 10 */
  const int64_t    expected[9] = {3, 8, 1, 6, 4, 9, 2, 7, 0};

  for (int64_t g = 0; g < N; g++) w[g] = (double)((3 * g) % 5);
  WN_CK_OK(wn_layout_init(comm, N, &layout));
  WN_CK_OK(modular_create(&layout, w, PETSC_TRUE, &obj));
  for (int kind = 0; kind < 2; kind++) {
    p.kind = (wn_greedy_kind)kind;
    WN_CK_OK(wn_greedy_maximize(obj, &p, &s[kind]));
    WN_CK_ASSERT_ALL(comm, s[kind]->n == 9 && memcmp(s[kind]->index, expected, sizeof(expected)) == 0);
    WN_CK_ASSERT_ALL(comm, s[kind]->gain[0] == 4.0 && s[kind]->gain[8] == 0.0 && s[kind]->objective[8] == 20.0);
  }
  WN_CK_ASSERT_ALL(comm, sel_equal_bitwise(s[0], s[1]));
  WN_CK_ASSERT_ALL(comm, s[1]->evaluations < s[0]->evaluations);
  WN_CK_OK(wn_selection_destroy(&s[0]));
  WN_CK_OK(wn_selection_destroy(&s[1]));
  WN_CK_OK(wn_objective_destroy(&obj));
  ck_assert(obj == NULL);
  WN_CK_OK(wn_selection_destroy(&s[0])); /* NULL is accepted */
  WN_CK_OK(wn_objective_destroy(&obj));
}
END_TEST

/* A NaN gain is an objective bug: PETSC_ERR_PLIB on every rank, for naive, lazy and warm start. */
START_TEST(nan_gain_is_an_error_everywhere)
{
  MPI_Comm         comm = PETSC_COMM_WORLD;
  const int64_t    N    = 7;
  double           w[7] = {1, 2, 3, 4, 5, 6, 7};
  int64_t          warm[1] = {4};
  wn_layout        layout;
  wn_objective    *obj;
  wn_selection    *s = NULL;
  wn_greedy_params p = {WN_GREEDY_NAIVE, 3, -INFINITY, NULL, 0, 0};
  PetscErrorCode   ierr;

  w[4] = NAN;
  WN_CK_OK(wn_layout_init(comm, N, &layout));
  WN_CK_OK(modular_create(&layout, w, PETSC_TRUE, &obj));
  for (int kind = 0; kind < 2; kind++) {
    p.kind = (wn_greedy_kind)kind;
    ierr   = wn_greedy_maximize(obj, &p, &s);
    WN_CK_ASSERT_ALL(comm, ierr == PETSC_ERR_PLIB && s == NULL);
  }
  p.warm   = warm;
  p.n_warm = 1;
  ierr     = wn_greedy_maximize(obj, &p, &s);
  WN_CK_ASSERT_ALL(comm, ierr == PETSC_ERR_PLIB && s == NULL);
  WN_CK_OK(wn_objective_destroy(&obj));
}
END_TEST

/* Bad parameters: an error on every rank (no hang), no selection; the engine works afterwards. */
START_TEST(bad_parameters_error_everywhere)
{
  MPI_Comm         comm = PETSC_COMM_WORLD;
  instance         in;
  wn_kernel       *K;
  wn_objective    *obj, *no_lazy;
  wn_selection    *s = NULL;
  double           w[10];
  int64_t          out_low[2] = {3, -1}, out_high[2] = {10, 1}, repeated[3] = {4, 7, 4}, many[4] = {0, 1, 2, 3};
  wn_greedy_params p;
  PetscErrorCode   ierr;

  WN_CK_OK(instance_random(comm, OBJ_FL, 10, 4, 101, 0, &in));
  WN_CK_OK(test_kernel_from_global(comm, in.N, in.T, in.K, &K));
  WN_CK_OK(wn_facility_create(K, NULL, NULL, &obj));
  memset(&p, 0, sizeof(p));
  p.kind     = WN_GREEDY_LAZY;
  p.min_gain = -INFINITY;
  for (int c = 0; c < 9; c++) {
    p.budget = 5;
    p.warm   = NULL;
    p.n_warm = 0;
    switch (c) {
    case 0: p.budget = 0; break;
    case 1: p.budget = 11; break; /* N + 1 */
    case 2: p.budget = -3; break;
    case 3: p.warm = out_low, p.n_warm = 2; break;
    case 4: p.warm = out_high, p.n_warm = 2; break;
    case 5: p.warm = repeated, p.n_warm = 3; break;
    case 6: p.warm = many, p.n_warm = 4, p.budget = 3; break;
    case 7: p.warm = NULL, p.n_warm = 2; break;
    case 8: p.n_warm = -1; break;
    }
    ierr = wn_greedy_maximize(obj, &p, &s);
    WN_CK_ASSERT_ALL(comm, ierr != 0 && s == NULL);
  }
  /* lazy on an objective that does not promise upper bounds */
  for (int64_t g = 0; g < 10; g++) w[g] = (double)g;
  WN_CK_OK(modular_create(&K->layout, w, PETSC_FALSE, &no_lazy));
  p.budget = 3;
  p.n_warm = 0;
  ierr     = wn_greedy_maximize(no_lazy, &p, &s);
  WN_CK_ASSERT_ALL(comm, ierr == PETSC_ERR_ARG_INCOMP && s == NULL);
  p.kind = WN_GREEDY_NAIVE;
  WN_CK_OK(wn_greedy_maximize(no_lazy, &p, &s));
  WN_CK_ASSERT_ALL(comm, s->n == 3 && s->index[0] == 9 && s->index[2] == 7);
  WN_CK_OK(wn_selection_destroy(&s));
  /* still usable after the errors */
  p.kind = WN_GREEDY_LAZY;
  p.budget = 10;
  WN_CK_OK(wn_greedy_maximize(obj, &p, &s));
  WN_CK_ASSERT_ALL(comm, s->n == 10 && sel_invariants(s));
  WN_CK_OK(wn_selection_destroy(&s));
  WN_CK_OK(wn_objective_destroy(&no_lazy));
  WN_CK_OK(wn_objective_destroy(&obj));
  WN_CK_OK(wn_kernel_destroy(&K));
  WN_CK_OK(instance_free(&in));
}
END_TEST

START_TEST(kind_names)
{
  ck_assert_str_eq(wn_greedy_kind_names[WN_GREEDY_NAIVE], "naive");
  ck_assert_str_eq(wn_greedy_kind_names[WN_GREEDY_LAZY], "lazy");
  ck_assert(wn_greedy_kind_names[4] == NULL);
}
END_TEST

static Suite *make_suite(void)
{
  Suite *s    = suite_create("greedy");
  TCase *pure = tcase_create("pure"), *dist = tcase_create("distributed");

  tcase_add_test(pure, kind_names);
  tcase_add_test(pure, modular_top_k);
  tcase_add_test(pure, nan_gain_is_an_error_everywhere);
  tcase_add_test(pure, bad_parameters_error_everywhere);
  tcase_add_test(dist, brute_force_fl_targets);
  tcase_add_test(dist, brute_force_fl_pool);
  tcase_add_test(dist, brute_force_flmi);
  tcase_add_test(dist, brute_force_flcg);
  tcase_add_test(dist, exact_ties_lowest_index);
  tcase_add_test(dist, rank_independence_and_evaluations);
  tcase_add_test(dist, fewer_rows_than_ranks);
  tcase_add_test(dist, warm_start);
  tcase_add_test(dist, min_gain_stop);
  tcase_add_test(dist, progress_lines);
  tcase_add_test(dist, sparse_full_equals_dense);
  tcase_add_test(dist, sparse_topk_selection);
  tcase_add_test(dist, sparse_fewer_rows_than_ranks);
  suite_add_tcase(s, pure);
  suite_add_tcase(s, dist);
  return s;
}

int main(int argc, char **argv) { return wn_test_run(argc, argv, make_suite); }
