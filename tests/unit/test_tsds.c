/* test_tsds.c - TSDS (src/tsds.c, METHODS.md section 4.2): the water-filling and the density on hand-computed
 * cases (the level s, each query's last neighbour, the masses), checked against a brute-force replay of the
 * events; the probabilities end to end on small 1-D data whose distances are exact integers (hand-computed p,
 * sigma = 0 and sigma > 0, alpha at 0 and 1, near-duplicates sharing mass); the same p bits and the same samples
 * on any rank count as on one rank; the lazy densities (only those the water-filling reads, with the isolation
 * certificate) giving bit for bit the p of the eager ones (every density of U); sampling with and without
 * replacement; and the bad-input errors.
 * The pure cases call the test hooks of tsds.c, declared here (tsds.c has no private header).
 */
#include "wn_test.h"
#include <math.h>
#include <winnow/tsds.h>
#include <winnow/util.h>

/* Test hooks of src/tsds.c (see its banner). */
extern PetscErrorCode wn_tsds_waterfill_(int64_t M, int64_t K, const double *dist, const double *rho, double alpha, double C, double *level, int64_t *last_k, double *mass, PetscBool *stopped);
extern PetscErrorCode wn_tsds_density_(int64_t n, int64_t k, const double *dist, double sigma, double *rho, int64_t *n_near_dup);
extern size_t         wn_tsds_block_bytes_;
extern int            wn_tsds_eager_, wn_tsds_certify_;
extern int64_t        wn_tsds_lazy_start_, wn_tsds_stats_[4];

#define CLOSE(a, b) (fabs((a) - (b)) <= 1e-12 * (1.0 + fabs(b)))

static wn_tsds_params test_params(void)
{
  wn_tsds_params p;

  /* the reference's defaults (config.yaml) */
  p.alpha       = 0.5;
  p.C           = 5.0;
  p.sigma       = 0.75;
  p.max_K       = 5000;
  p.kde_K       = 1000;
  p.sample_size = 100;
  p.replace     = PETSC_TRUE;
  p.seed        = 12345;
  p.metric      = WN_KNN_L2;
  return p;
}

/* ---- pure: the water-filling ------------------------------------------------------------------------------- */

/* The two-query example used below: M = 2, K = 3.
 *   query 0: d = [1, 2, 4], rho = [1, 1, 1]  -> count_0 = 1, 2;    cost_0(0) = 1, cost_0(1) = (4-1) + (4-2) = 5
 *   query 1: d = [1, 3, 3], rho = [2, 1, 1]  -> count_1 = 0.5, 1.5; cost_1(0) = (3-1)/2 = 1, cost_1(1) = 1 + 0 = 1
 * Events in order: (0.5, 0, 1), (1, 0, 0), (1.5, 1, 1), (2, 1, 0); running totals 1, 2, 2, 6. */
static const double two_d[6]   = {1, 2, 4, 1, 3, 3};
static const double two_rho[6] = {1, 1, 1, 2, 1, 1};

START_TEST(waterfill_stop_hand)
{
  double    s, mass[6];
  int64_t   last[2];
  PetscBool stopped;

  /* alpha = 0.5, C = 2: stop when (0.25) total >= (0.5) 2, i.e. total >= 4.
   * (0.5,0,1): total 1 -> accept, last_1 = 0; (1,0,0): total 2 -> accept, last_0 = 0; (1.5,1,1): total 2 -> accept,
   * last_1 = 1; (2,1,0): total 6 -> stop, s = 2 (the stopping event's count).
   * query 0: k0 gets 1/(2*2*1) = 0.25, remainder 0.5 - 0.25 = 0.25 to k1.
   * query 1: k0 gets 1/(2*2*2) = 0.125, k1 gets 1/(2*2*1) = 0.25, remainder 0.5 - 0.375 = 0.125 to k2
   * (reference check: 0.125 * rho 1 * M 2 * s 2 = 0.5 <= 1). */
  WN_CK_OK(wn_tsds_waterfill_(2, 3, two_d, two_rho, 0.5, 2.0, &s, last, mass, &stopped));
  ck_assert(stopped == PETSC_TRUE);
  ck_assert(s == 2.0);
  ck_assert(last[0] == 0 && last[1] == 1);
  ck_assert(mass[0] == 0.25 && mass[1] == 0.25 && mass[2] == 0.0);
  ck_assert(mass[3] == 0.125 && mass[4] == 0.25 && mass[5] == 0.125);

  /* alpha = 0.5, C = 1: stop when total >= 2. (0.5,0,1): total 1 -> accept, last_1 = 0; (1,0,0): total 2 -> stop,
   * s = 1. Query 0 never had an event accepted: last_0 = -1 (METHODS.md's fix), all its 0.5 to its nearest.
   * query 1: k0 gets 1/(2*1*2) = 0.25, remainder 0.25 to k1. (The reference, starting last_0 at 0, gives query 0
   * 1/(2*1*1) = 0.5 at k0 and a zero remainder: the same p.) */
  WN_CK_OK(wn_tsds_waterfill_(2, 3, two_d, two_rho, 0.5, 1.0, &s, last, mass, &stopped));
  ck_assert(stopped == PETSC_TRUE && s == 1.0);
  ck_assert(last[0] == -1 && last[1] == 0);
  ck_assert(mass[0] == 0.5 && mass[1] == 0.0 && mass[2] == 0.0);
  ck_assert(mass[3] == 0.25 && mass[4] == 0.25 && mass[5] == 0.0);
}
END_TEST

START_TEST(waterfill_alpha_ends)
{
  double    s, mass[6], mass_big_C[6], s_big_C;
  int64_t   last[2], last_big_C[2];
  PetscBool stopped;

  /* alpha = 0: the threshold (1 - 0) M = 2 is never reached (left side 0): all events accepted, last = K - 2 = 1,
   * s = the last count, 2. query 0: 1/(2*2*1) = 0.25 to k0 and k1, remainder 0 to k2.
   * query 1: 0.125 + 0.25, remainder 0.125 to k2. */
  WN_CK_OK(wn_tsds_waterfill_(2, 3, two_d, two_rho, 0.0, 5.0, &s, last, mass, &stopped));
  ck_assert(stopped == PETSC_FALSE && s == 2.0);
  ck_assert(last[0] == 1 && last[1] == 1);
  ck_assert(mass[0] == 0.25 && mass[1] == 0.25 && mass[2] == 0.0);
  ck_assert(mass[3] == 0.125 && mass[4] == 0.25 && mass[5] == 0.125);

  /* the stop rule never firing with alpha = 0.5: C = 100 gives (0.005) * 6 = 0.03 < 1 at the largest total */
  WN_CK_OK(wn_tsds_waterfill_(2, 3, two_d, two_rho, 0.5, 100.0, &s_big_C, last_big_C, mass_big_C, &stopped));
  ck_assert(stopped == PETSC_FALSE && s_big_C == 2.0);
  ck_assert(last_big_C[0] == 1 && last_big_C[1] == 1);
  ck_assert(memcmp(mass, mass_big_C, sizeof(mass)) == 0);

  /* alpha = 1: threshold 0, the first event (0.5, 0, 1) stops (total 1 >= 0): s = 0.5, every last_k = -1 and
   * every query gives all its mass 1/M = 0.5 to its nearest neighbour. (The reference asserts here.) */
  WN_CK_OK(wn_tsds_waterfill_(2, 3, two_d, two_rho, 1.0, 5.0, &s, last, mass, &stopped));
  ck_assert(stopped == PETSC_TRUE && s == 0.5);
  ck_assert(last[0] == -1 && last[1] == -1);
  ck_assert(mass[0] == 0.5 && mass[1] == 0.0 && mass[2] == 0.0);
  ck_assert(mass[3] == 0.5 && mass[4] == 0.0 && mass[5] == 0.0);
}
END_TEST

START_TEST(waterfill_ties_and_small_K)
{
  double    s, mass[6];
  int64_t   last[2];
  PetscBool stopped;

  {
    /* equal counts: lower j first. K = 2 (only k = 0 events), rho = 1, d_0 = d_1 = [0, 2]: events (1,0,0), (1,0,1),
     * each of cost 2. alpha = 0.5, C = 2: stop when total >= 4. (1,0,0): total 2 -> accept, last_0 = 0;
     * (1,0,1): total 4 -> stop, s = 1. query 0: 1/(2*1*1) = 0.5 to k0, remainder 0; query 1: 0.5 to k0. */
    const double d[4] = {0, 2, 0, 2}, rho[4] = {1, 1, 1, 1};

    WN_CK_OK(wn_tsds_waterfill_(2, 2, d, rho, 0.5, 2.0, &s, last, mass, &stopped));
    ck_assert(stopped == PETSC_TRUE && s == 1.0);
    ck_assert(last[0] == 0 && last[1] == -1);
    ck_assert(mass[0] == 0.5 && mass[1] == 0.0 && mass[2] == 0.5 && mass[3] == 0.0);
  }
  {
    /* equal counts: lower k first, before lower j. query 0: d = [0, 0, 1], rho = [2, 2, 1] -> counts 0.5, 1;
     * query 1: d = [0, 1, 2], rho = 1 -> counts 1, 2. Events (0.5,0,0) cost_0(0) = 0*0.5 - 0 = 0, total 0;
     * (1,0,1) before (1,1,0): cost_1(0) = 1*1 - 0 = 1, total 1; (1,1,0): cost_0(1) = 1*1 - 0 = 1, total 2.
     * alpha = 0.5, C = 1: stop when total >= 2: accept (0.5,0,0) and (1,0,1), stop at (1,1,0), s = 1.
     * query 0: k0 gets 1/(2*1*2) = 0.25, remainder 0.25 to k1; query 1: k0 gets 1/(2*1*1) = 0.5, remainder 0. */
    const double d[6] = {0, 0, 1, 0, 1, 2}, rho[6] = {2, 2, 1, 1, 1, 1};

    WN_CK_OK(wn_tsds_waterfill_(2, 3, d, rho, 0.5, 1.0, &s, last, mass, &stopped));
    ck_assert(stopped == PETSC_TRUE && s == 1.0);
    ck_assert(last[0] == 0 && last[1] == 0);
    ck_assert(mass[0] == 0.25 && mass[1] == 0.25 && mass[2] == 0.0);
    ck_assert(mass[3] == 0.5 && mass[4] == 0.0 && mass[5] == 0.0);
  }
  {
    /* K = 1: no events (the reference would index d_{j,1}); level 0, every query to its only neighbour */
    const double d[2] = {3, 4}, rho[2] = {1.5, 2};

    WN_CK_OK(wn_tsds_waterfill_(2, 1, d, rho, 0.5, 5.0, &s, last, mass, &stopped));
    ck_assert(stopped == PETSC_FALSE && s == 0.0);
    ck_assert(last[0] == -1 && last[1] == -1);
    ck_assert(mass[0] == 0.5 && mass[1] == 0.5);
  }
}
END_TEST

typedef struct {
  double  count;
  int64_t k, j;
} replay_event;

static int replay_cmp(const void *x, const void *y)
{
  const replay_event *a = x, *b = y;

  if (a->count != b->count) return a->count < b->count ? -1 : 1;
  if (a->k != b->k) return a->k < b->k ? -1 : 1;
  return a->j < b->j ? -1 : a->j > b->j;
}

/* Brute-force replay: every event (count_j(k), k, j) listed and sorted (no heap), then the stop rule and the
 * masses, with the reference's arithmetic. */
static void replay(int64_t M, int64_t K, const double *d, const double *rho, double alpha, double C, double *level, int64_t *last, double *mass)
{
  replay_event *ev     = malloc(sizeof(*ev) * (size_t)(M * K + 1));
  double       *cost   = calloc((size_t)M, sizeof(double)), *count = malloc(sizeof(double) * (size_t)(M * K));
  double       *wsum   = malloc(sizeof(double) * (size_t)(M * K));
  int64_t       n      = 0;
  double        total = 0, s = 0;

  for (int64_t j = 0; j < M; j++) {
    last[j] = -1;
    for (int64_t k = 0; k < K; k++) {
      count[j * K + k] = (k ? count[j * K + k - 1] : 0.0) + 1.0 / rho[j * K + k];
      wsum[j * K + k]  = (k ? wsum[j * K + k - 1] : 0.0) + d[j * K + k] / rho[j * K + k];
    }
    for (int64_t k = 0; k + 2 <= K; k++) {
      ev[n].count = count[j * K + k];
      ev[n].k     = k;
      ev[n++].j   = j;
    }
  }
  qsort(ev, (size_t)n, sizeof(*ev), replay_cmp);
  for (int64_t e = 0; e < n; e++) {
    int64_t j = ev[e].j, k = ev[e].k;

    s = ev[e].count;
    total -= cost[j];
    cost[j] = d[j * K + k + 1] * ev[e].count - wsum[j * K + k];
    total += cost[j];
    if (alpha / C * total >= (1 - alpha) * M) break;
    last[j] = k;
  }
  for (int64_t j = 0; j < M; j++) {
    double sum = 0;

    for (int64_t k = 0; k < K; k++) mass[j * K + k] = 0;
    for (int64_t k = 0; k <= last[j]; k++) {
      mass[j * K + k] = 1.0 / M / s / rho[j * K + k];
      sum += mass[j * K + k];
    }
    mass[j * K + last[j] + 1] = 1.0 / M - sum > 0 ? 1.0 / M - sum : 0;
  }
  *level = s;
  free(ev);
  free(cost);
  free(count);
  free(wsum);
}

START_TEST(waterfill_brute_force)
{
  const int64_t  M = 13, K = 9;
  const double   alphas[] = {0.0, 0.1, 0.5, 0.9, 0.99, 1.0}, Cs[] = {0.5, 5.0, 50.0};
  double        *d = malloc(sizeof(double) * M * K), *rho = malloc(sizeof(double) * M * K);
  double        *mass = malloc(sizeof(double) * M * K), *mass_ref = malloc(sizeof(double) * M * K);
  int64_t        last[13], last_ref[13];
  int            n_stopped = 0, n_partial = 0;

  for (uint64_t trial = 0; trial < 40; trial++) {
    /* ascending distances and densities, quantised in half the trials so that counts and costs tie */
    for (int64_t j = 0; j < M; j++) {
      double acc = 0;

      for (int64_t k = 0; k < K; k++) {
        double u = wn_uniform01(trial, (uint64_t)(j * K + k)), v = wn_uniform01(trial + 1000, (uint64_t)(j * K + k));

        acc += trial % 2 ? floor(4 * u) : 3 * u;
        d[j * K + k]   = acc;
        rho[j * K + k] = trial % 2 ? (double)(1 << (int)floor(3 * v)) : 1 + 4 * v;
      }
    }
    for (size_t a = 0; a < sizeof(alphas) / sizeof(alphas[0]); a++)
      for (size_t c = 0; c < sizeof(Cs) / sizeof(Cs[0]); c++) {
        double    s, s_ref, sum = 0;
        PetscBool stopped;

        WN_CK_OK(wn_tsds_waterfill_(M, K, d, rho, alphas[a], Cs[c], &s, last, mass, &stopped));
        replay(M, K, d, rho, alphas[a], Cs[c], &s_ref, last_ref, mass_ref);
        ck_assert_msg(s == s_ref, "trial %d alpha %g C %g: level %g, replay %g", (int)trial, alphas[a], Cs[c], s, s_ref);
        ck_assert(memcmp(last, last_ref, sizeof(last)) == 0);
        ck_assert(memcmp(mass, mass_ref, sizeof(double) * M * K) == 0);
        {
          /* in place (mass aliasing rho), as wn_tsds_probabilities calls it */
          double *inplace = malloc(sizeof(double) * M * K), s_in;

          memcpy(inplace, rho, sizeof(double) * M * K);
          WN_CK_OK(wn_tsds_waterfill_(M, K, d, inplace, alphas[a], Cs[c], &s_in, last, inplace, NULL));
          ck_assert(s_in == s && memcmp(inplace, mass_ref, sizeof(double) * M * K) == 0);
          free(inplace);
        }
        for (int64_t i = 0; i < M * K; i++) {
          ck_assert(mass[i] >= 0);
          sum += mass[i];
        }
        ck_assert_msg(fabs(sum - 1) <= 1e-12, "masses sum to %.17g", sum);
        n_stopped += stopped ? 1 : 0;
        for (int64_t j = 0; j < M; j++) n_partial += (last[j] >= 0 && last[j] < K - 2) ? 1 : 0;
      }
  }
  /* the trials exercised both the stop rule and the free-running case, and stops mid-list */
  ck_assert(n_stopped > 0 && n_stopped < 40 * 18 && n_partial > 0);
  free(d);
  free(rho);
  free(mass);
  free(mass_ref);
}
END_TEST

START_TEST(waterfill_bad_input)
{
  double         s, mass[6];
  int64_t        last[2];
  const double   bad_rho[6] = {1, 1, 0, 1, 1, 1};
  PetscErrorCode e;

  e = wn_tsds_waterfill_(2, 3, two_d, bad_rho, 0.5, 5.0, &s, last, mass, NULL);
  ck_assert(e != 0);
  e = wn_tsds_waterfill_(2, 3, two_d, two_rho, 1.5, 5.0, &s, last, mass, NULL);
  ck_assert(e != 0);
  e = wn_tsds_waterfill_(2, 3, two_d, two_rho, 0.5, 0.0, &s, last, mass, NULL);
  ck_assert(e != 0);
  e = wn_tsds_waterfill_(0, 3, two_d, two_rho, 0.5, 5.0, &s, last, mass, NULL);
  ck_assert(e != 0);
}
END_TEST

/* ---- pure: the density ------------------------------------------------------------------------------------- */

START_TEST(density_hand)
{
  /* sigma = 2 (sigma^2 = 4), k = 3:
   *   [0, 1, 3]:   1 + (1 - 1/4) + max(0, 1 - 9/4)      = 1.75,   2 positive -> 1 near-duplicate
   *   [0, 0, 1.5]: 1 + 1 + (1 - 2.25/4)                 = 2.4375, 3 positive -> 2
   *   [0, 2, 2]:   1 + 0 + 0 (kernel exactly 0 at sigma) = 1,      1 positive -> 0 */
  const double d[9] = {0, 1, 3, 0, 0, 1.5, 0, 2, 2};
  double       rho[3];
  int64_t      near;

  WN_CK_OK(wn_tsds_density_(3, 3, d, 2.0, rho, &near));
  ck_assert(rho[0] == 1.75 && rho[1] == 2.4375 && rho[2] == 1.0);
  ck_assert(near == 3);
  /* sigma = 0: no density term */
  WN_CK_OK(wn_tsds_density_(3, 3, d, 0.0, rho, &near));
  ck_assert(rho[0] == 1.0 && rho[1] == 1.0 && rho[2] == 1.0 && near == 0);
  ck_assert(wn_tsds_density_(3, 3, d, -1.0, rho, &near) != 0);
}
END_TEST

/* ---- distributed: end to end ------------------------------------------------------------------------------- */

/* 1-D candidates at integer positions (so every squared distance, and its root, is exact in float and double):
 * rows not listed sit at 500 + 10 g (at least 400 from every query), the listed rows at the given positions. */
static float *line_data(int64_t N, int n_special, const int64_t *rows, const float *positions)
{
  float *X = malloc(sizeof(float) * (size_t)N);

  for (int64_t g = 0; g < N; g++) X[g] = (float)(500 + 10 * g);
  for (int i = 0; i < n_special; i++) X[rows[i]] = positions[i];
  return X;
}

/* Full p (and rho) on every rank, by global row. Collective. */
static void gather_global(const wn_layout *L, const double *local, double *global)
{
  int *counts = malloc(sizeof(int) * (size_t)L->size), *displs = malloc(sizeof(int) * (size_t)L->size);

  for (int r = 0; r < L->size; r++) {
    int64_t start, count;

    wn_layout_range(L->n_global, L->size, r, &start, &count);
    counts[r] = (int)count;
    displs[r] = (int)start;
  }
  (void)MPI_Allgatherv(local, (int)L->n_local, MPI_DOUBLE, global, counts, displs, MPI_DOUBLE, L->comm);
  free(counts);
  free(displs);
}

/* The hand case: N = 30, queries at 0 and 100.
 *   query 0: rows 3, 17, 25 at 1, 2, 4        -> d = [1, 2, 4]
 *   query 1: rows 11, 5, 29 at 99, 97, 103    -> d = [1, 3, 3] (the tie at 3 goes to the lower row, 5) */
static const int64_t hand_rows[6] = {3, 17, 25, 11, 5, 29};
static const float   hand_pos[6]  = {1, 2, 4, 99, 97, 103};
static const float   hand_Q[2]    = {0, 100};

START_TEST(probabilities_hand_sigma0)
{
  MPI_Comm        comm = PETSC_COMM_WORLD;
  const int64_t   N    = 30;
  wn_layout       L;
  float          *X = line_data(N, 6, hand_rows, hand_pos);
  wn_tsds_params  par = test_params();
  wn_tsds_result *r   = NULL;
  double          p[30], rho[30];
  int             ok = 1;

  WN_CK_OK(wn_layout_init(comm, N, &L));
  par.sigma = 0.0;
  par.max_K = 3; /* = N / 10 */
  par.kde_K = 3;
  par.C     = 2.0;
  /* rho = 1. Events (count, k, j): (1,0,0) cost_0 = 2*1 - 1 = 1, total 1; (1,0,1) cost_1 = 3*1 - 1 = 2, total 3;
   * (2,1,0) cost_0 = 4*2 - (1 + 2) = 5, total 7. alpha 0.5, C 2: stop when 0.25 total >= 1: at the third event,
   * s = 2, last = [0, 0]. query 0: 1/(2*2) = 0.25 to row 3, remainder 0.25 to row 17; query 1: 0.25 to row 11,
   * 0.25 to row 5. */
  OK_ALL(wn_tsds_probabilities(&L, 1, X + L.row_start, 2, hand_Q, &par, &r));
  WN_CK_ASSERT_ALL(comm, r->K == 3 && r->kde_K == 3);
  WN_CK_ASSERT_ALL(comm, r->level == 2.0 && r->stopped_early == PETSC_TRUE);
  WN_CK_ASSERT_ALL(comm, r->last_k[0] == 0 && r->last_k[1] == 0);
  WN_CK_ASSERT_ALL(comm, r->n_support == 4 && r->n_near_dup == 0);
  gather_global(&L, r->p_local, p);
  gather_global(&L, r->rho_local, rho);
  for (int64_t g = 0; g < N; g++) {
    double want = (g == 3 || g == 17 || g == 11 || g == 5) ? 0.25 : 0.0;
    int    in_U = g == 3 || g == 17 || g == 25 || g == 11 || g == 5 || g == 29;

    if (p[g] != want || rho[g] != (in_U ? 1.0 : 0.0)) ok = 0;
  }
  WN_CK_ASSERT_ALL(comm, ok);
  WN_CK_OK(wn_tsds_result_destroy(&r));
  WN_CK_ASSERT_ALL(comm, r == NULL);

  /* alpha = 1: every query gives all its mass to its nearest neighbour: rows 3 and 11 get 0.5 each */
  par.alpha = 1.0;
  OK_ALL(wn_tsds_probabilities(&L, 1, X + L.row_start, 2, hand_Q, &par, &r));
  gather_global(&L, r->p_local, p);
  for (int64_t g = 0; g < N; g++)
    if (p[g] != ((g == 3 || g == 11) ? 0.5 : 0.0)) ok = 0;
  WN_CK_ASSERT_ALL(comm, ok && r->last_k[0] == -1 && r->last_k[1] == -1 && r->level == 1.0);
  WN_CK_OK(wn_tsds_result_destroy(&r));

  /* alpha = 0: no stop; s = 2 (the last event (2,1,1)), last = [1, 1]. query 0: 0.25 to rows 3 and 17, remainder 0
   * to row 25; query 1: 0.25 to rows 11 and 5, remainder 0 to row 29 */
  par.alpha = 0.0;
  OK_ALL(wn_tsds_probabilities(&L, 1, X + L.row_start, 2, hand_Q, &par, &r));
  gather_global(&L, r->p_local, p);
  for (int64_t g = 0; g < N; g++)
    if (p[g] != ((g == 3 || g == 17 || g == 11 || g == 5) ? 0.25 : 0.0)) ok = 0;
  WN_CK_ASSERT_ALL(comm, ok && r->last_k[0] == 1 && r->last_k[1] == 1 && r->level == 2.0 && !r->stopped_early);
  WN_CK_OK(wn_tsds_result_destroy(&r));
  free(X);
}
END_TEST

START_TEST(probabilities_hand_sigma)
{
  MPI_Comm        comm = PETSC_COMM_WORLD;
  const int64_t   N    = 30;
  wn_layout       L;
  float          *X = line_data(N, 6, hand_rows, hand_pos);
  wn_tsds_params  par = test_params();
  wn_tsds_result *r   = NULL;
  double          p[30], rho[30];
  int             ok = 1;

  WN_CK_OK(wn_layout_init(comm, N, &L));
  par.sigma = 2.0; /* sigma^2 = 4 */
  par.max_K = 3;
  par.kde_K = 3;
  par.C     = 2.0;
  /* U = rows {3, 5, 11, 17, 25, 29} at {1, 97, 99, 2, 4, 103}; each one's 3 nearest within U:
   *   row 3 (1):   itself, 2 (d 1), 4 (d 3)  -> 1 + (1 - 1/4) + 0 = 1.75 (one near-duplicate)
   *   row 17 (2):  itself, 1 (d 1), 4 (d 2)  -> 1 + 0.75 + 0     = 1.75 (one; the kernel at d = sigma is 0)
   *   row 25 (4):  itself, 2 (d 2), 1 (d 3)  -> 1
   *   rows 11, 5, 29 (99, 97, 103): the others at >= 2 -> 1
   * query 0: d = [1, 2, 4], rho = [7/4, 7/4, 1]: counts 4/7, 8/7; query 1: d = [1, 3, 3], rho = 1: counts 1, 2.
   * Events: (4/7,0,0): cost_0 = 2*4/7 - 1*4/7 = 4/7, total 4/7; (1,0,1): cost_1 = 3 - 1 = 2, total 18/7;
   * (8/7,1,0): cost_0 = 4*8/7 - (4/7 + 8/7) = 20/7, total 34/7 -> 0.25 * 34/7 >= 1: stop, s = 8/7, last = [0, 0].
   * query 0: row 3 gets 1/(2 * 8/7 * 7/4) = 1/4, remainder 1/4 to row 17;
   * query 1: row 11 gets 1/(2 * 8/7) = 7/16, remainder 1/16 to row 5. */
  OK_ALL(wn_tsds_probabilities(&L, 1, X + L.row_start, 2, hand_Q, &par, &r));
  WN_CK_ASSERT_ALL(comm, CLOSE(r->level, 8.0 / 7.0) && r->stopped_early);
  WN_CK_ASSERT_ALL(comm, r->last_k[0] == 0 && r->last_k[1] == 0);
  WN_CK_ASSERT_ALL(comm, r->n_support == 4 && r->n_near_dup == 2);
  gather_global(&L, r->p_local, p);
  gather_global(&L, r->rho_local, rho);
  for (int64_t g = 0; g < N; g++) {
    double want = g == 3 ? 0.25 : g == 17 ? 0.25 : g == 11 ? 7.0 / 16 : g == 5 ? 1.0 / 16 : 0.0;
    double want_rho = (g == 3 || g == 17) ? 1.75 : (g == 25 || g == 11 || g == 5 || g == 29) ? 1.0 : 0.0;

    if (!CLOSE(p[g], want) || rho[g] != want_rho) ok = 0;
  }
  WN_CK_ASSERT_ALL(comm, ok);
  WN_CK_OK(wn_tsds_result_destroy(&r));
  free(X);
}
END_TEST

START_TEST(probabilities_near_duplicates)
{
  MPI_Comm        comm = PETSC_COMM_WORLD;
  const int64_t   N    = 40;
  const int64_t   rows_A[4] = {3, 14, 17, 25}, rows_B[3] = {3, 17, 25};
  const float     pos_A[4] = {1, 1, 2, 3}, pos_B[3] = {1, 2, 3}, Q[1] = {0};
  float          *XA = line_data(N, 4, rows_A, pos_A), *XB = line_data(N, 3, rows_B, pos_B);
  wn_layout       L;
  wn_tsds_params  par = test_params();
  wn_tsds_result *rA = NULL, *rB = NULL;
  double          pA[40], pB[40];
  int             ok = 1;

  /* One query at 0; sigma = 0.5 so that only identical points see each other (distinct positions differ by >= 1).
   * B: rows 3, 17, 25 at 1, 2, 3; K = 3: d = [1, 2, 3], rho = 1, counts 1, 2; cost(0) = 2 - 1 = 1,
   *    cost(1) = 3*2 - 3 = 3. alpha 0.5, C 2, M 1: stop when 0.25 total >= 0.5, i.e. total >= 2:
   *    accept (1,0), stop at (2,1): s = 2, last = 0. Row 3 gets 1/(1*2*1) = 0.5, row 17 the remainder 0.5.
   * A: B plus row 14, a copy of row 3; K = 4: neighbours 3, 14, 17, 25, d = [1, 1, 2, 3], rho = [2, 2, 1, 1]
   *    (each copy sees itself and the other at distance 0). Counts 0.5, 1, 2; cost(0) = 1*0.5 - 0.5 = 0,
   *    cost(1) = 2*1 - 1 = 1, cost(2) = 3*2 - 3 = 3: accept, accept, stop at (2,2): s = 2, last = 1.
   *    Rows 3 and 14 get 1/(1*2*2) = 0.25 each, row 17 the remainder 0.5.
   * The copies share what the single point got, equally; near-duplicates: 1 each for rows 3 and 14. */
  WN_CK_OK(wn_layout_init(comm, N, &L));
  par.sigma = 0.5;
  par.kde_K = 3;
  par.C     = 2.0;
  par.max_K = 4;
  OK_ALL(wn_tsds_probabilities(&L, 1, XA + L.row_start, 1, Q, &par, &rA));
  par.max_K = 3;
  OK_ALL(wn_tsds_probabilities(&L, 1, XB + L.row_start, 1, Q, &par, &rB));
  gather_global(&L, rA->p_local, pA);
  gather_global(&L, rB->p_local, pB);
  WN_CK_ASSERT_ALL(comm, rA->n_near_dup == 2 && rB->n_near_dup == 0);
  WN_CK_ASSERT_ALL(comm, rA->last_k[0] == 1 && rB->last_k[0] == 0 && rA->level == 2.0 && rB->level == 2.0);
  if (!(pA[3] == 0.25 && pA[14] == 0.25 && pA[17] == 0.5 && pB[3] == 0.5 && pB[17] == 0.5)) ok = 0;
  if (pA[3] != pA[14] || pA[3] + pA[14] != pB[3]) ok = 0;
  WN_CK_ASSERT_ALL(comm, ok);
  WN_CK_OK(wn_tsds_result_destroy(&rA));
  WN_CK_OK(wn_tsds_result_destroy(&rB));
  free(XA);
  free(XB);
}
END_TEST

/* Random data: N x d candidates with a few exact copies and near copies, M targets. Same on every rank. */
static void random_data(int64_t N, int64_t d, int64_t M, uint64_t seed, float *X, float *Q)
{
  for (int64_t i = 0; i < N * d; i++) X[i] = (float)(2.0 * wn_uniform01(seed, (uint64_t)i) - 1.0);
  for (int64_t g = 10; g < N; g += 17) /* copies */
    for (int64_t c = 0; c < d; c++) X[g * d + c] = X[(g - 7) * d + c];
  for (int64_t g = 12; g < N; g += 23) /* near copies */
    for (int64_t c = 0; c < d; c++) X[g * d + c] = X[(g - 5) * d + c] + 0.01f;
  for (int64_t i = 0; i < M * d; i++) Q[i] = (float)(2.0 * wn_uniform01(seed + 1, (uint64_t)i) - 1.0);
}

/* p, the result fields and the samples on PETSC_COMM_WORLD equal the singleton's on PETSC_COMM_SELF, bit for bit. */
START_TEST(rank_independence)
{
  MPI_Comm      comm = PETSC_COMM_WORLD;
  const int64_t N = 103, d = 5, M = 7;
  float        *X = malloc(sizeof(float) * N * d), *Q = malloc(sizeof(float) * M * d);
  wn_layout     L, Ls;
  const double  alphas[] = {0.0, 0.5, 1.0}, sigmas[] = {0.0, 0.75};
  size_t        saved_block = wn_tsds_block_bytes_;
  double        p_default[103];
  int           ok = 1;

  random_data(N, d, M, 7, X, Q);
  WN_CK_OK(wn_layout_init(comm, N, &L));
  WN_CK_OK(wn_layout_init(PETSC_COMM_SELF, N, &Ls));
  for (size_t a = 0; a < 3; a++)
    for (size_t s = 0; s < 2; s++)
      for (int small_blocks = 0; small_blocks < 2; small_blocks++) {
        wn_tsds_params  par = test_params();
        wn_tsds_result *r = NULL, *rs = NULL;
        double          p[103], rho[103], sum = 0;
        int64_t         n_picks, n_picks_s, *picks, *picks_s, *counts, *counts_s, total = 0;

        par.alpha = alphas[a];
        par.sigma = sigmas[s];
        par.max_K = 8; /* N / 10 = 10 */
        par.kde_K = 6;
        par.C     = 0.5;
        /* tiny blocks: one query per kNN call (the distances' last bits may depend on the call's shape, so the
           bitwise comparison is between runs with the same blocks, and tiny blocks are compared to the default
           ones to a tolerance) */
        wn_tsds_block_bytes_ = small_blocks ? 1 : saved_block;
        OK_ALL(wn_tsds_probabilities(&L, d, X + L.row_start * d, M, Q, &par, &r));
        OK_ALL(wn_tsds_probabilities(&Ls, d, X, M, Q, &par, &rs));
        wn_tsds_block_bytes_ = saved_block;
        gather_global(&L, r->p_local, p);
        if (!small_blocks) memcpy(p_default, p, sizeof(p));
        else
          for (int64_t g = 0; g < N; g++)
            if (fabs(p[g] - p_default[g]) > 1e-9) ok = 0;
        gather_global(&L, r->rho_local, rho);
        if (memcmp(p, rs->p_local, sizeof(p)) || memcmp(rho, rs->rho_local, sizeof(rho))) ok = 0;
        if (memcmp(r->last_k, rs->last_k, sizeof(int64_t) * M) || r->level != rs->level) ok = 0;
        if (r->n_support != rs->n_support || r->n_near_dup != rs->n_near_dup || r->stopped_early != rs->stopped_early) ok = 0;
        for (int64_t g = 0; g < N; g++) sum += p[g];
        if (fabs(sum - 1) > 1e-12) ok = 0;
        if (sigmas[s] > 0 && r->n_near_dup < 6) ok = 0; /* the copies at least */
        if (alphas[a] == 1.0) {
          /* every query's mass 1/M to its nearest candidate (brute force; no ties in these random data) */
          double want[103] = {0};

          for (int64_t j = 0; j < M; j++) {
            int64_t best = -1;
            double  best_d = INFINITY;

            for (int64_t g = 0; g < N; g++) {
              double dd = 0;

              for (int64_t c = 0; c < d; c++) dd += ((double)Q[j * d + c] - X[g * d + c]) * ((double)Q[j * d + c] - X[g * d + c]);
              if (dd < best_d) {
                best_d = dd;
                best   = g;
              }
            }
            want[best] += 1.0 / M;
          }
          for (int64_t g = 0; g < N; g++)
            if (!CLOSE(p[g], want[g])) ok = 0;
        }
        WN_CK_ASSERT_ALL(comm, ok);

        for (int replace = 0; replace < 2; replace++) {
          par.replace     = replace ? PETSC_TRUE : PETSC_FALSE;
          par.sample_size = replace ? 50 : (r->n_support < 5 ? r->n_support : 5);
          par.seed        = 99 + a;
          OK_ALL(wn_tsds_sample(&L, r, &par, &n_picks, &picks, &counts));
          OK_ALL(wn_tsds_sample(&Ls, rs, &par, &n_picks_s, &picks_s, &counts_s));
          if (n_picks != n_picks_s || memcmp(picks, picks_s, sizeof(int64_t) * n_picks) || memcmp(counts, counts_s, sizeof(int64_t) * n_picks)) ok = 0;
          total = 0;
          for (int64_t i = 0; i < n_picks; i++) {
            total += counts[i];
            if (!(picks[i] >= 0 && picks[i] < N && p[picks[i]] > 0 && counts[i] >= 1)) ok = 0;
            if (!replace && counts[i] != 1) ok = 0;
            for (int64_t i2 = 0; i2 < i; i2++)
              if (picks[i2] == picks[i]) ok = 0;
          }
          if (total != par.sample_size) ok = 0;
          WN_CK_ASSERT_ALL(comm, ok);
          PetscFree(picks);
          PetscFree(counts);
          PetscFree(picks_s);
          PetscFree(counts_s);
        }
        WN_CK_OK(wn_tsds_result_destroy(&r));
        WN_CK_OK(wn_tsds_result_destroy(&rs));
      }
  free(X);
  free(Q);
}
END_TEST

typedef struct {
  double  d;
  int64_t row;
} brute_pair;

static int brute_cmp(const void *x, const void *y)
{
  const brute_pair *a = x, *b = y;

  if (a->d != b->d) return a->d < b->d ? -1 : 1;
  return a->row < b->row ? -1 : a->row > b->row;
}

/* The densities against brute force: integer points on a grid (exact distances, exact copies), sigma = 4.5
 * (no squared distance equals sigma^2 = 20.25), kde_K = 120 = N / 10. Points have from none to more than kde_K neighbours
 * within sigma in U, so the search grows its k (32, then 120) for some of them and the list is cut at kde_K for
 * others. U is the set of rows with rho > 0 (rho >= 1 on U, 0 elsewhere). */
START_TEST(density_brute_force)
{
  MPI_Comm        comm = PETSC_COMM_WORLD;
  const int64_t   N = 1200, d = 3, M = 20, kde_K = 120;
  const double    sigma = 4.5;
  float          *X = malloc(sizeof(float) * N * d), *Q = malloc(sizeof(float) * M * d);
  double         *rho = malloc(sizeof(double) * N), *p = malloc(sizeof(double) * N);
  int64_t        *U = malloc(sizeof(int64_t) * N), n_U = 0, near = 0, grown = 0, cut = 0;
  brute_pair     *pairs = malloc(sizeof(brute_pair) * N);
  wn_layout       L, Ls;
  wn_tsds_params  par = test_params();
  wn_tsds_result *r = NULL, *rs = NULL;
  int             ok = 1;

  /* two rows in three in a dense 12^3 cube, every third in a sparse 48^3 one */
  for (int64_t i = 0; i < N * d; i++) X[i] = (float)floor((i / d % 3 ? 12 : 48) * wn_uniform01(3, (uint64_t)i));
  for (int64_t i = 0; i < M * d; i++) Q[i] = (float)floor((i / d % 3 ? 12 : 48) * wn_uniform01(4, (uint64_t)i));
  WN_CK_OK(wn_layout_init(comm, N, &L));
  WN_CK_OK(wn_layout_init(PETSC_COMM_SELF, N, &Ls));
  par.sigma = sigma;
  par.max_K = 100;
  par.kde_K = kde_K;
  /* every density of U (eager), so that rho > 0 marks U */
  wn_tsds_eager_ = 1;
  OK_ALL(wn_tsds_probabilities(&L, d, X + L.row_start * d, M, Q, &par, &r));
  OK_ALL(wn_tsds_probabilities(&Ls, d, X, M, Q, &par, &rs));
  wn_tsds_eager_ = 0;
  gather_global(&L, r->rho_local, rho);
  gather_global(&L, r->p_local, p);
  if (memcmp(rho, rs->rho_local, sizeof(double) * N) || memcmp(p, rs->p_local, sizeof(double) * N) || r->n_near_dup != rs->n_near_dup) ok = 0;
  if (r->n_density != r->n_union || wn_tsds_stats_[0] != 0) ok = 0;
  WN_CK_OK(wn_tsds_result_destroy(&rs));
  {
    /* lazy: the same p bits; its densities (fewer, here) are the eager ones */
    double *rho_lazy = malloc(sizeof(double) * N), *p_lazy = malloc(sizeof(double) * N);

    OK_ALL(wn_tsds_probabilities(&L, d, X + L.row_start * d, M, Q, &par, &rs));
    gather_global(&L, rs->rho_local, rho_lazy);
    gather_global(&L, rs->p_local, p_lazy);
    if (memcmp(p, p_lazy, sizeof(double) * N) || rs->n_density >= rs->n_union || rs->n_union != r->n_union) ok = 0;
    for (int64_t g = 0; g < N; g++)
      if (rho_lazy[g] != 0.0 && rho_lazy[g] != rho[g]) ok = 0;
    free(rho_lazy);
    free(p_lazy);
  }
  for (int64_t g = 0; g < N; g++)
    if (rho[g] > 0) U[n_U++] = g;
  for (int64_t a = 0; a < n_U; a++) {
    double  want = 0;
    int64_t positive = 0, within = 0;

    for (int64_t b = 0; b < n_U; b++) {
      double dd = 0;

      for (int64_t c = 0; c < d; c++) dd += ((double)X[U[a] * d + c] - X[U[b] * d + c]) * ((double)X[U[a] * d + c] - X[U[b] * d + c]);
      pairs[b].d   = sqrt(dd);
      pairs[b].row = U[b];
      within += pairs[b].d < sigma ? 1 : 0;
    }
    qsort(pairs, (size_t)n_U, sizeof(*pairs), brute_cmp);
    for (int64_t t = 0; t < kde_K && t < n_U; t++) {
      double kernel = 1.0 - pairs[t].d * pairs[t].d / (sigma * sigma);

      if (kernel > 0) {
        want += kernel;
        positive++;
      }
    }
    near += positive - 1;
    grown += within > 32 ? 1 : 0;
    cut += within > kde_K ? 1 : 0;
    if (!CLOSE(rho[U[a]], want)) ok = 0;
  }
  WN_CK_ASSERT_ALL(comm, ok && r->n_near_dup == near);
  WN_CK_ASSERT_ALL(comm, grown > 0 && grown < n_U && cut > 0); /* the data exercise every path */
  WN_CK_OK(wn_tsds_result_destroy(&r));
  WN_CK_OK(wn_tsds_result_destroy(&rs));
  free(X);
  free(Q);
  free(rho);
  free(p);
  free(U);
  free(pairs);
}
END_TEST

/* Clustered data: 12 far-apart centres in [-4, 4]^d with uniform noise of width 1 (most points have no other point
 * within sigma = 0.75, so the isolation certificate settles them), plus exact copies and near copies (searched). */
static void clustered_data(int64_t N, int64_t d, int64_t M, uint64_t seed, float *X, float *Q)
{
  for (int64_t g = 0; g < N; g++)
    for (int64_t c = 0; c < d; c++) X[g * d + c] = (float)(8.0 * (wn_uniform01(seed, (uint64_t)((g % 12) * d + c)) - 0.5) + wn_uniform01(seed + 1, (uint64_t)(g * d + c)) - 0.5);
  for (int64_t g = 50; g < N; g += 97) /* copies */
    for (int64_t c = 0; c < d; c++) X[g * d + c] = X[(g - 13) * d + c];
  for (int64_t g = 70; g < N; g += 89) /* near copies */
    for (int64_t c = 0; c < d; c++) X[g * d + c] = X[(g - 29) * d + c] + 0.05f;
  for (int64_t t = 0; t < M; t++)
    for (int64_t c = 0; c < d; c++) Q[t * d + c] = (float)(8.0 * (wn_uniform01(seed, (uint64_t)((t % 12) * d + c)) - 0.5) + wn_uniform01(seed + 2, (uint64_t)(t * d + c)) - 0.5);
}

/* Lazy on comm against eager on PETSC_COMM_SELF: p, last_k, level, stop and support bit for bit; every density the
 * lazy run computed is the eager one, and every candidate with mass has its density computed. Returns 1 when all
 * hold, with the lazy run's statistics (rounds, densities, certified, searched) and counts. Collective. */
static int lazy_vs_eager(const wn_layout *L, const wn_layout *Ls, int64_t d, const float *X, int64_t M, const float *Q, const wn_tsds_params *par, int64_t *stats, int64_t *n_density, int64_t *n_union)
{
  wn_tsds_result *r = NULL, *e = NULL;
  int64_t         N = L->n_global;
  double         *p = malloc(sizeof(double) * (size_t)N), *rho = malloc(sizeof(double) * (size_t)N);
  int             ok = 1;

  wn_tsds_eager_ = 1;
  if (wn_tsds_probabilities(Ls, d, X, M, Q, par, &e)) ok = 0;
  wn_tsds_eager_ = 0;
  if (wn_tsds_probabilities(L, d, X + L->row_start * d, M, Q, par, &r)) ok = 0;
  if (!ok) return 0; /* both calls failed or succeeded together (their errors are collective) */
  memcpy(stats, wn_tsds_stats_, sizeof(int64_t) * 4);
  gather_global(L, r->p_local, p);
  gather_global(L, r->rho_local, rho);
  if (memcmp(p, e->p_local, sizeof(double) * (size_t)N) || memcmp(r->last_k, e->last_k, sizeof(int64_t) * (size_t)M)) ok = 0;
  if (r->level != e->level || r->stopped_early != e->stopped_early || r->n_support != e->n_support) ok = 0;
  if (r->n_union != e->n_union || e->n_density != e->n_union || r->n_density > r->n_union || r->n_near_dup > e->n_near_dup) ok = 0;
  if (par->sigma == 0.0 && r->n_density != r->n_union) ok = 0;
  for (int64_t g = 0; g < N; g++) {
    if (rho[g] != 0.0 && rho[g] != e->rho_local[g]) ok = 0;
    if (p[g] > 0.0 && rho[g] == 0.0) ok = 0;
  }
  *n_density = r->n_density;
  *n_union   = r->n_union;
  wn_tsds_result_destroy(&r);
  wn_tsds_result_destroy(&e);
  free(p);
  free(rho);
  return ok;
}

/* The lazy densities give the eager p bit for bit: random data with copies and clustered data (certified points,
 * searched points), alpha 0 (no stop: every prefix grows to K), 0.5 and 1, sigma 0 and > 0, the predicted first
 * prefixes and prefixes of 1 (several rounds), with and without the isolation certificate; and WN_TSDS_EAGER=1. */
START_TEST(lazy_equals_eager)
{
  MPI_Comm      comm = PETSC_COMM_WORLD;
  const double  alphas[] = {0.0, 0.5, 1.0};
  int64_t       max_rounds = 0, certified = 0, searched = 0, partial = 0;

  for (int data = 0; data < 2; data++) {
    const int64_t N = data ? 2400 : 103, d = data ? 16 : 5, M = data ? 24 : 7;
    float        *X = malloc(sizeof(float) * (size_t)(N * d)), *Q = malloc(sizeof(float) * (size_t)(M * d));
    const double  sigmas[] = {0.0, 0.75, data ? 1.25 : 1.5};
    wn_layout     L, Ls;

    if (data) clustered_data(N, d, M, 11, X, Q);
    else random_data(N, d, M, 7, X, Q);
    WN_CK_OK(wn_layout_init(comm, N, &L));
    WN_CK_OK(wn_layout_init(PETSC_COMM_SELF, N, &Ls));
    for (size_t a = 0; a < 3; a++)
      for (size_t s = 0; s < 3; s++)
        for (int start = 0; start < 2; start++)
          for (int certify = 0; certify < 2; certify++) {
            wn_tsds_params par = test_params();
            int64_t        stats[4] = {0, 0, 0, 0}, n_density = 0, n_union = 0;
            int            ok;

            par.alpha           = alphas[a];
            par.sigma           = sigmas[s];
            par.max_K           = data ? 60 : 8;
            par.kde_K           = data ? 40 : 6;
            par.C               = data ? 0.3 : 0.5;
            wn_tsds_lazy_start_ = start;
            wn_tsds_certify_    = certify;
            ok                  = lazy_vs_eager(&L, &Ls, d, X, M, Q, &par, stats, &n_density, &n_union);
            wn_tsds_lazy_start_ = 0;
            wn_tsds_certify_    = 1;
            /* alpha = 0: the stop rule never fires, every query reads its whole list */
            if (alphas[a] == 0.0 && n_density != n_union) ok = 0;
            if (par.sigma > 0 && !certify && stats[2] != 0) ok = 0;
            WN_CK_ASSERT_ALL(comm, ok);
            if (stats[0] > max_rounds) max_rounds = stats[0];
            if (par.sigma > 0) {
              certified += stats[2];
              searched += stats[3];
              partial += n_density < n_union ? 1 : 0;
            }
          }
    free(X);
    free(Q);
  }
  /* the cases exercised several rounds, the certificate, the searches and partial sets of densities */
  WN_CK_ASSERT_ALL(comm, max_rounds >= 3 && certified > 0 && searched > 0 && partial > 0);

  {
    /* WN_TSDS_EAGER=1 in the environment: every density of U, no rounds */
    const int64_t   N = 103, d = 5, M = 7;
    float           X[103 * 5], Q[7 * 5];
    wn_layout       L;
    wn_tsds_params  par = test_params();
    wn_tsds_result *r   = NULL;

    random_data(N, d, M, 7, X, Q);
    WN_CK_OK(wn_layout_init(comm, N, &L));
    par.max_K = 8;
    par.kde_K = 6;
    par.C     = 0.5;
    setenv("WN_TSDS_EAGER", "1", 1);
    OK_ALL(wn_tsds_probabilities(&L, d, X + L.row_start * d, M, Q, &par, &r));
    unsetenv("WN_TSDS_EAGER");
    WN_CK_ASSERT_ALL(comm, wn_tsds_stats_[0] == 0 && r->n_density == r->n_union);
    WN_CK_OK(wn_tsds_result_destroy(&r));
    OK_ALL(wn_tsds_probabilities(&L, d, X + L.row_start * d, M, Q, &par, &r));
    WN_CK_ASSERT_ALL(comm, wn_tsds_stats_[0] >= 1);
    WN_CK_OK(wn_tsds_result_destroy(&r));
  }
}
END_TEST

/* Sampling: with replacement the draws follow p (hand case p = 1/4 on four rows); without, the picks are the
 * largest Efraimidis-Spirakis keys log(u_i) / p_i by brute force, in key order. */
START_TEST(sampling)
{
  MPI_Comm        comm = PETSC_COMM_WORLD;
  const int64_t   N    = 30;
  wn_layout       L;
  float          *X = line_data(N, 6, hand_rows, hand_pos);
  wn_tsds_params  par = test_params();
  wn_tsds_result *r   = NULL;
  double          p[30];
  int64_t         n_picks, *picks, *counts;
  int             ok = 1;

  WN_CK_OK(wn_layout_init(comm, N, &L));
  par.sigma = 0.0;
  par.max_K = 3;
  par.C     = 2.0;
  OK_ALL(wn_tsds_probabilities(&L, 1, X + L.row_start, 2, hand_Q, &par, &r)); /* p = 1/4 on rows 3, 5, 11, 17 */
  gather_global(&L, r->p_local, p);

  /* 4000 draws: each row's count is Binomial(4000, 1/4): mean 1000, standard deviation 27.4; allow 6 of them */
  par.sample_size = 4000;
  OK_ALL(wn_tsds_sample(&L, r, &par, &n_picks, &picks, &counts));
  if (n_picks != 4) ok = 0;
  for (int64_t i = 0; i < n_picks && ok; i++)
    if (p[picks[i]] != 0.25 || llabs(counts[i] - 1000) > 165) ok = 0;
  WN_CK_ASSERT_ALL(comm, ok);
  PetscFree(picks);
  PetscFree(counts);

  /* no draws */
  par.sample_size = 0;
  OK_ALL(wn_tsds_sample(&L, r, &par, &n_picks, &picks, &counts));
  WN_CK_ASSERT_ALL(comm, n_picks == 0);
  PetscFree(picks);
  PetscFree(counts);

  /* without replacement: all four, in the order of the keys */
  par.replace = PETSC_FALSE;
  for (uint64_t seed = 1; seed <= 5; seed++) {
    int64_t want[4] = {3, 5, 11, 17};

    par.seed        = seed;
    par.sample_size = 3;
    OK_ALL(wn_tsds_sample(&L, r, &par, &n_picks, &picks, &counts));
    /* brute force: sort the four rows by key descending (ties to the lower row) */
    for (int i = 0; i < 4; i++)
      for (int i2 = i + 1; i2 < 4; i2++) {
        double ki = log(wn_uniform01(seed, (uint64_t)want[i])) / 0.25, k2 = log(wn_uniform01(seed, (uint64_t)want[i2])) / 0.25;

        if (k2 > ki || (k2 == ki && want[i2] < want[i])) {
          int64_t t = want[i];

          want[i]  = want[i2];
          want[i2] = t;
        }
      }
    if (n_picks != 3) ok = 0;
    for (int64_t i = 0; i < n_picks && ok; i++)
      if (picks[i] != want[i] || counts[i] != 1) ok = 0;
    WN_CK_ASSERT_ALL(comm, ok);
    PetscFree(picks);
    PetscFree(counts);
  }
  /* more than the four candidates with p > 0 */
  par.sample_size = 5;
  FAILS_ALL(wn_tsds_sample(&L, r, &par, &n_picks, &picks, &counts), "exceeds the 4 candidates");
  par.sample_size = -1;
  FAILS_ALL(wn_tsds_sample(&L, r, &par, &n_picks, &picks, &counts), "sample_size must be >= 0");
  WN_CK_OK(wn_tsds_result_destroy(&r));
  free(X);
}
END_TEST

START_TEST(errors)
{
  MPI_Comm        comm = PETSC_COMM_WORLD;
  const int64_t   N    = 30;
  wn_layout       L, Lsmall;
  float          *X = line_data(N, 6, hand_rows, hand_pos);
  wn_tsds_params  par;
  wn_tsds_result *r = NULL;

  WN_CK_OK(wn_layout_init(comm, N, &L));
  par   = test_params();
  par.C = 0.0;
  FAILS_ALL(wn_tsds_probabilities(&L, 1, X + L.row_start, 2, hand_Q, &par, &r), "C (the distance scale) must be > 0, got 0");
  par.C = -1.0;
  FAILS_ALL(wn_tsds_probabilities(&L, 1, X + L.row_start, 2, hand_Q, &par, &r), "got -1");
  par       = test_params();
  par.sigma = -0.5;
  FAILS_ALL(wn_tsds_probabilities(&L, 1, X + L.row_start, 2, hand_Q, &par, &r), "sigma (the KDE bandwidth) must be >= 0, got -0.5");
  par       = test_params();
  par.alpha = -0.1;
  FAILS_ALL(wn_tsds_probabilities(&L, 1, X + L.row_start, 2, hand_Q, &par, &r), "alpha must be in [0, 1], got -0.1");
  par.alpha = 1.5;
  FAILS_ALL(wn_tsds_probabilities(&L, 1, X + L.row_start, 2, hand_Q, &par, &r), "got 1.5");
  par.alpha = NAN;
  FAILS_ALL(wn_tsds_probabilities(&L, 1, X + L.row_start, 2, hand_Q, &par, &r), "alpha must be in [0, 1]");
  par       = test_params();
  par.max_K = 0;
  FAILS_ALL(wn_tsds_probabilities(&L, 1, X + L.row_start, 2, hand_Q, &par, &r), "max_K must be >= 1, got 0");
  par       = test_params();
  par.kde_K = 0;
  FAILS_ALL(wn_tsds_probabilities(&L, 1, X + L.row_start, 2, hand_Q, &par, &r), "kde_K must be >= 1, got 0");
  par = test_params();
  FAILS_ALL(wn_tsds_probabilities(&L, 1, X + L.row_start, 0, hand_Q, &par, &r), "M = 0");
  /* N too small for the caps: 9 rows, and 3 rows (some ranks own none on 4 ranks) */
  WN_CK_OK(wn_layout_init(comm, 9, &Lsmall));
  FAILS_ALL(wn_tsds_probabilities(&Lsmall, 1, X + Lsmall.row_start, 2, hand_Q, &par, &r), "got N = 9");
  WN_CK_OK(wn_layout_init(comm, 3, &Lsmall));
  FAILS_ALL(wn_tsds_probabilities(&Lsmall, 1, X + Lsmall.row_start, 2, hand_Q, &par, &r), "got N = 3");
  WN_CK_ASSERT_ALL(comm, r == NULL);
  WN_CK_OK(wn_tsds_result_destroy(&r));
  free(X);
}
END_TEST

static Suite *make_suite(void)
{
  Suite *s    = suite_create("tsds");
  TCase *pure = tcase_create("pure"), *dist = tcase_create("distributed");

  tcase_add_test(pure, waterfill_stop_hand);
  tcase_add_test(pure, waterfill_alpha_ends);
  tcase_add_test(pure, waterfill_ties_and_small_K);
  tcase_add_test(pure, waterfill_brute_force);
  tcase_add_test(pure, waterfill_bad_input);
  tcase_add_test(pure, density_hand);
  tcase_add_test(dist, probabilities_hand_sigma0);
  tcase_add_test(dist, probabilities_hand_sigma);
  tcase_add_test(dist, probabilities_near_duplicates);
  tcase_add_test(dist, rank_independence);
  tcase_add_test(dist, density_brute_force);
  tcase_add_test(dist, lazy_equals_eager);
  tcase_add_test(dist, sampling);
  tcase_add_test(dist, errors);
  suite_add_tcase(s, pure);
  suite_add_tcase(s, dist);
  return s;
}

int main(int argc, char **argv) { return wn_test_run(argc, argv, make_suite); }
