/* test_p3.c - check suite for src/p3.c (P3's per-epoch pieces, METHODS.md section 1).
 *
 * pure: the percentile schedule (45, 55, 65, 75, 85 for E = 5, and E = 7 against Python's bits), the
 * trend score with +inf (also in place).
 * distributed (1-4 ranks, rows split by wn_layout, sizes that do not divide evenly and N < P): difficulty
 * from hand-made CSR blocks (0 steps -> +inf, 1 step, several; closed-form dyadic means) and its refusals
 * (decreasing offsets, negative, > 1 and NaN probabilities, each naming the row); numpy's percentile on
 * constants verified with numpy 1.24.2 (ties, +inf entries, pct 0/45/55/100, N = 1), against a brute-force
 * sort on random vectors with ties, and its errors; the eligible set (ties at tau, +inf, tau = +inf or NaN);
 * the standardisation (closed-form z-scores, a zero-variance column, an all-zero row, inactive rows ignored,
 * in place, no active rows, and the same bits as a singleton computation over the full matrix on every
 * rank); the readers on files written in a fresh temporary directory (all three sources, features, and the
 * catalogue of bad files: missing datasets, wrong lengths and types, bad offsets and values); the synthetic
 * signals of tools/synth.h (shared by tools/synth_signals and mkdata -signals) read back through the readers,
 * equal to the generator row by row, and each of its corruptions refused with the intended message.
 */
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <winnow/h5io.h>
#include <winnow/layout.h>
#include <winnow/p3.h>
#include <winnow/util.h>
#include "wn_test.h"
#include "../../tools/synth.h"

#define COMM PETSC_COMM_WORLD

static int rank_of(void)
{
  int r;
  MPI_Comm_rank(COMM, &r);
  return r;
}

static int size_of(void)
{
  int s;
  MPI_Comm_size(COMM, &s);
  return s;
}

/* Same bits, or both NaN. */
static int same_bits(double a, double b)
{
  if (isnan(a) && isnan(b)) return 1;
  return memcmp(&a, &b, sizeof(a)) == 0;
}

static int same_float_bits(float a, float b) { return memcmp(&a, &b, sizeof(a)) == 0; }

/* ---- pure: schedule and trend ------------------------------------------------------------------ */

START_TEST(schedule_p3_default)
{
  const double expect5[5] = {45, 55, 65, 75, 85};
  /* Python: [45 + (95 - 45) / 7 * e for e in range(7)], as float.hex() */
  const double expect7[7] = {0x1.6800000000000p+5, 0x1.a124924924925p+5, 0x1.da49249249249p+5, 0x1.09b6db6db6db7p+6, 0x1.2649249249249p+6, 0x1.42db6db6db6dcp+6, 0x1.5f6db6db6db6ep+6};

  for (int e = 0; e < 5; e++) ck_assert(same_bits(wn_p3_percentile_at(e, 5, 45.0, 95.0), expect5[e]));
  for (int e = 0; e < 7; e++) ck_assert(same_bits(wn_p3_percentile_at(e, 7, 45.0, 95.0), expect7[e]));
  ck_assert(wn_p3_percentile_at(0, 1, 30.0, 95.0) == 30.0);
}
END_TEST

START_TEST(trend_with_inf)
{
  double d[5]    = {0.5, INFINITY, 0.25, 0.1, 0.75};
  double prev[5] = {0.25, 0.3, INFINITY, 0.1, 1.0};
  double out[5];

  wn_p3_trend(5, d, prev, 0.1, out);
  ck_assert(out[0] == 0.5 + 0.1 * 0.25);
  ck_assert(out[1] == INFINITY && out[2] == INFINITY);
  ck_assert(out[3] == 0.1);
  ck_assert(out[4] == 0.75 + 0.1 * -0.25);
  wn_p3_trend(5, d, prev, 0.1, d); /* in place */
  for (int i = 0; i < 5; i++) ck_assert(same_bits(d[i], out[i]));
  wn_p3_trend(0, NULL, NULL, 0.1, NULL);
}
END_TEST

/* ---- difficulty from steps ---------------------------------------------------------------------- */

/* Hand-made CSR of 7 rows:
 *   r0 {}                        -> +inf
 *   r1 {0.5}                     -> 0.5
 *   r2 {0.25, 0.75}              -> 0.5
 *   r3 {1, 1, 1, 1}              -> 0
 *   r4 {0, 0.5, 1}               -> 0.5
 *   r5 {}                        -> +inf
 *   r6 {0.125, 0.375, 0.5, 0}    -> 1 - 1/4 = 0.75 */
static const int64_t hand_off[8]  = {0, 0, 1, 3, 7, 10, 10, 14};
static const double  hand_p[14]   = {0.5, 0.25, 0.75, 1, 1, 1, 1, 0, 0.5, 1, 0.125, 0.375, 0.5, 0};
static const double  hand_d[7]    = {INFINITY, 0.5, 0.5, 0.0, 0.5, INFINITY, 0.75};

/* A generated CSR with closed-form difficulties: row g has T = {0, 1, 2, 4}[g % 4] steps with
 * p_{g,t} = ((g + 3t) mod 8) / 8, so D = (8T - S) / (8T) exactly, S = sum of the numerators. */
static int64_t gen_steps(int64_t g) { return (int64_t[]){0, 1, 2, 4}[g % 4]; }
static double  gen_prob(int64_t g, int64_t t) { return (double)((g + 3 * t) % 8) / 8.0; }

static double gen_difficulty(int64_t g)
{
  int64_t T = gen_steps(g), S = 0;

  if (!T) return INFINITY;
  for (int64_t t = 0; t < T; t++) S += (g + 3 * t) % 8;
  return (double)(8 * T - S) / (double)(8 * T);
}

/* Global CSR arrays of the generated rows 0..n-1. */
static void gen_csr(int64_t n, int64_t **off, double **prob)
{
  int64_t total = 0;

  *off = malloc((size_t)(n + 1) * sizeof(int64_t));
  for (int64_t g = 0; g < n; g++) {
    (*off)[g] = total;
    total += gen_steps(g);
  }
  (*off)[n] = total;
  *prob = malloc((size_t)(total + 1) * sizeof(double));
  for (int64_t g = 0; g < n; g++)
    for (int64_t t = 0; t < gen_steps(g); t++) (*prob)[(*off)[g] + t] = gen_prob(g, t);
}

/* Run wn_p3_difficulty_from_steps on this rank's block of a global CSR. */
static PetscErrorCode run_steps(int64_t n, const int64_t *off, const double *prob, double *d_local, wn_layout *L)
{
  PetscErrorCode e = wn_layout_init(COMM, n, L);

  if (e) return e;
  return wn_p3_difficulty_from_steps(COMM, "hand CSR", L->row_start, L->n_local, off + L->row_start, prob + off[L->row_start], d_local);
}

START_TEST(difficulty_hand)
{
  double    d[7];
  wn_layout L;
  int       ok = 1;

  OK_ALL(run_steps(7, hand_off, hand_p, d, &L));
  for (int64_t i = 0; i < L.n_local; i++) ok &= same_bits(d[i], hand_d[L.row_start + i]);
  WN_CK_ASSERT_ALL(COMM, ok);
  /* N < P on up to 4 ranks: the first two rows only. */
  OK_ALL(run_steps(2, hand_off, hand_p, d, &L));
  for (int64_t i = 0; i < L.n_local; i++) ok &= same_bits(d[i], hand_d[L.row_start + i]);
  WN_CK_ASSERT_ALL(COMM, ok);
}
END_TEST

START_TEST(difficulty_generated)
{
  const int64_t sizes[] = {1, 3, 5, 13, 101};

  for (size_t s = 0; s < sizeof(sizes) / sizeof(sizes[0]); s++) {
    int64_t  *off, n = sizes[s];
    double   *prob, *d = malloc((size_t)(n + 1) * sizeof(double));
    wn_layout L;
    int       ok = 1;

    gen_csr(n, &off, &prob);
    OK_ALL(run_steps(n, off, prob, d, &L));
    for (int64_t i = 0; i < L.n_local; i++) ok &= same_bits(d[i], gen_difficulty(L.row_start + i));
    WN_CK_ASSERT_ALL(COMM, ok);
    free(off);
    free(prob);
    free(d);
  }
}
END_TEST

START_TEST(difficulty_refused)
{
  int64_t   off[8];
  double    p[14], d[7];
  wn_layout L;

  /* offsets decrease at row 4 (7 -> 6) */
  memcpy(off, hand_off, sizeof(off));
  memcpy(p, hand_p, sizeof(p));
  off[5] = 6;
  FAILS_ALL(run_steps(7, off, p, d, &L), "decrease at row 4 (offset 7, then 6)");
  memcpy(off, hand_off, sizeof(off));
  p[3] = -0.25; /* row 3, step 0 */
  FAILS_ALL(run_steps(7, off, p, d, &L), "row 3, step 0 (of 4) is -0.25; expected a probability in [0, 1]");
  memcpy(p, hand_p, sizeof(p));
  p[2] = 1.5; /* row 2, step 1 */
  FAILS_ALL(run_steps(7, off, p, d, &L), "row 2, step 1 (of 2) is 1.5");
  memcpy(p, hand_p, sizeof(p));
  p[13] = NAN; /* row 6, step 3 */
  FAILS_ALL(run_steps(7, off, p, d, &L), "row 6, step 3 (of 4) is NaN");
  /* two bad rows: the lowest is named */
  p[1] = 2.0;
  FAILS_ALL(run_steps(7, off, p, d, &L), "row 2, step 0");
  FAILS_ALL(run_steps(7, off, p, d, &L), "hand CSR:");
}
END_TEST

/* ---- percentile ---------------------------------------------------------------------------------- */

/* numpy.percentile of this rank's share of x[0 .. n). */
static PetscErrorCode pct_of(int64_t n, const double *x, double pct, double *value)
{
  wn_layout      L;
  PetscErrorCode e = wn_layout_init(COMM, n, &L);

  if (e) return e;
  return wn_percentile_linear(COMM, L.n_local, x + L.row_start, pct, value);
}

typedef struct {
  double pct, value;
} pct_case;

START_TEST(percentile_numpy)
{
  /* All values verified with numpy 1.24.2: np.percentile(np.array(x, dtype=float), pct).hex() */
  const double   ties[11] = {3, 1, 4, 1, 5, 9, 2, 6, 5, 3, 5};
  const pct_case ties_c[] = {{0, 1.0}, {45, 3.5}, {55, 4.5}, {100, 9.0}, {12.3, 0x1.3ae147ae147afp+0}, {37.5, 3.0}, {85, 5.5}, {66.7, 5.0}};
  const double   infs[7]  = {0.2, INFINITY, 0.5, 0.1, INFINITY, 0.7, 0.3};
  const pct_case infs_c[] = {{0, 0x1.999999999999ap-4}, {45, 0x1.c28f5c28f5c2ap-2}, {55, 0x1.1eb851eb851ecp-1}, {100, NAN}, {12.3, 0x1.63f141205bc02p-3}, {37.5, 0x1.6666666666666p-2}, {85, NAN}, {66.7, INFINITY}};
  const double   one[1]   = {0.25};
  const pct_case one_c[]  = {{0, 0.25}, {45, 0.25}, {55, 0.25}, {100, 0.25}};
  const double   flat[8]  = {0.5, 0.5, 0.25, 0.5, 0.25, 0.5, 0.25, 0.5};
  const pct_case flat_c[] = {{0, 0.25}, {45, 0.5}, {55, 0.5}, {100, 0.5}, {12.3, 0.25}, {37.5, 0.40625}};
  const double   allinf[3] = {INFINITY, INFINITY, INFINITY};
  const pct_case allinf_c[] = {{0, NAN}, {45, NAN}, {100, NAN}};
  const double   neg[7]   = {-0.75, 2.5, -1e-3, 0.0, 1e300, -1e300, 3.25};
  const pct_case neg_c[]  = {{0, -0x1.7e43c8800759cp+996}, {45, -0x1.3a92a3055325ep-12}, {55, 0x1.8000000000006p-1}, {100, 0x1.7e43c8800759cp+996}, {12.3, -0x1.909d0d8420476p+994}, {37.5, -0x1.89374bc6a7efap-11}, {85, 0x1.31cfd3999f79dp+993}, {66.7, 0x1.403126e978d51p+1}};
  /* x_i = ((i * 7919) mod 1009) / 1009, i < 103 */
  double         formula[103];
  const pct_case formula_c[] = {{0, 0.0}, {45, 0x1.e4993eab0144bp-2}, {55, 0x1.21f2809563680p-1}, {65, 0x1.528f329751097p-1}, {75, 0x1.8124480e3547cp-1}, {85, 0x1.b1c0fa1022e95p-1}, {100, 0x1.fdf86374f69cdp-1}, {12.3, 0x1.0ad73eb883cd8p-3}, {99.9, 0x1.fdc3635c8aa5ap-1}};
  const struct {
    int64_t         n;
    const double   *x;
    const pct_case *c;
    size_t          nc;
  } sets[] = {
    {11, ties, ties_c, sizeof(ties_c) / sizeof(pct_case)},       {7, infs, infs_c, sizeof(infs_c) / sizeof(pct_case)},
    {1, one, one_c, sizeof(one_c) / sizeof(pct_case)},           {8, flat, flat_c, sizeof(flat_c) / sizeof(pct_case)},
    {3, allinf, allinf_c, sizeof(allinf_c) / sizeof(pct_case)},  {7, neg, neg_c, sizeof(neg_c) / sizeof(pct_case)},
    {103, formula, formula_c, sizeof(formula_c) / sizeof(pct_case)},
  };

  for (int i = 0; i < 103; i++) formula[i] = (double)((i * 7919) % 1009) / 1009.0;
  for (size_t s = 0; s < sizeof(sets) / sizeof(sets[0]); s++)
    for (size_t c = 0; c < sets[s].nc; c++) {
      double v = -1;

      OK_ALL(pct_of(sets[s].n, sets[s].x, sets[s].c[c].pct, &v));
      if (!same_bits(v, sets[s].c[c].value)) fprintf(stderr, "set %zu pct %g: got %a, numpy %a\n", s, sets[s].c[c].pct, v, sets[s].c[c].value);
      WN_CK_ASSERT_ALL(COMM, same_bits(v, sets[s].c[c].value));
    }
}
END_TEST

static int cmp_double(const void *a, const void *b)
{
  double x = *(const double *)a, y = *(const double *)b;
  return x < y ? -1 : x > y;
}

/* numpy 1.24's linear percentile on a whole vector, by sorting (the brute-force reference). */
static double percentile_sorted(int64_t n, const double *x, double pct)
{
  double *s = malloc((size_t)n * sizeof(double)), q = pct / 100, v = (double)(n - 1) * q, gamma, a, b, diff, r;
  int64_t prev, next;

  memcpy(s, x, (size_t)n * sizeof(double));
  qsort(s, (size_t)n, sizeof(double), cmp_double);
  if (v >= (double)(n - 1)) {
    prev = next = n - 1;
    gamma = v + 1;
  } else {
    prev  = (int64_t)floor(v);
    next  = prev + 1;
    gamma = v - (double)prev;
  }
  a    = s[prev];
  b    = s[next];
  diff = b - a;
  r    = gamma >= 0.5 ? b - diff * (1 - gamma) : a + diff * gamma;
  free(s);
  return r;
}

START_TEST(percentile_brute_force)
{
  const int64_t sizes[] = {1, 2, 3, 5, 17, 100};
  const double  pcts[]  = {0, 1, 12.5, 45, 50, 55, 65, 75, 85, 99, 100};

  for (size_t s = 0; s < sizeof(sizes) / sizeof(sizes[0]); s++) {
    int64_t n = sizes[s];
    double *x = malloc((size_t)n * sizeof(double));

    for (int variant = 0; variant < 3; variant++) {
      for (int64_t i = 0; i < n; i++) {
        double u = wn_uniform01(77 + (uint64_t)variant, (uint64_t)i);

        if (variant == 0) x[i] = floor(u * 5) / 4 - 0.5; /* heavy ties, negatives and zero */
        else if (variant == 1) x[i] = u * 1e3 - 300;     /* continuous */
        else x[i] = u < 0.2 ? INFINITY : u;              /* some +inf */
      }
      for (size_t p = 0; p < sizeof(pcts) / sizeof(pcts[0]); p++) {
        double v = -1, ref = percentile_sorted(n, x, pcts[p]);

        OK_ALL(pct_of(n, x, pcts[p], &v));
        WN_CK_ASSERT_ALL(COMM, same_bits(v, ref));
      }
    }
    free(x);
  }
}
END_TEST

START_TEST(percentile_errors)
{
  double x[6] = {0.5, 0.25, 0.75, 0.125, 1.0, 0.0}, v;

  FAILS_ALL(pct_of(0, x, 50, &v), "empty vector");
  FAILS_ALL(pct_of(6, x, 100.5, &v), "percentile must be in [0, 100], got 100.5");
  FAILS_ALL(pct_of(6, x, -1, &v), "percentile must be in [0, 100]");
  x[4] = NAN;
  FAILS_ALL(pct_of(6, x, 50, &v), "NaN at entry 4 (of 6)");
  x[4] = 1.0;
  x[2] = -INFINITY;
  FAILS_ALL(pct_of(6, x, 50, &v), "-inf at entry 2 (of 6)");
}
END_TEST

/* ---- eligible ------------------------------------------------------------------------------------ */

static PetscErrorCode eligible_of(int64_t n, const double *score, double tau, unsigned char *flags, int64_t *count, PetscBool *not_finite, wn_layout *L)
{
  PetscErrorCode e = wn_layout_init(COMM, n, L);

  if (e) return e;
  return wn_p3_eligible(COMM, L->n_local, score + L->row_start, tau, flags, count, not_finite);
}

START_TEST(eligible_ties_and_inf)
{
  const double        score[7]  = {0.1, 0.5, 0.5, INFINITY, 0.3, 0.7, 0.5000000000000001};
  const unsigned char at_half[7] = {1, 1, 1, 0, 1, 0, 0};
  const unsigned char finite[7]  = {1, 1, 1, 0, 1, 1, 1};
  unsigned char       flags[7];
  int64_t             count;
  PetscBool           nf;
  wn_layout           L;
  int                 ok = 1;

  OK_ALL(eligible_of(7, score, 0.5, flags, &count, &nf, &L));
  for (int64_t i = 0; i < L.n_local; i++) ok &= flags[i] == at_half[L.row_start + i];
  WN_CK_ASSERT_ALL(COMM, ok && count == 4 && nf == PETSC_FALSE);
  OK_ALL(eligible_of(7, score, INFINITY, flags, &count, &nf, &L));
  for (int64_t i = 0; i < L.n_local; i++) ok &= flags[i] == finite[L.row_start + i];
  WN_CK_ASSERT_ALL(COMM, ok && count == 6 && nf == PETSC_TRUE);
  OK_ALL(eligible_of(7, score, NAN, flags, &count, &nf, &L));
  for (int64_t i = 0; i < L.n_local; i++) ok &= flags[i] == finite[L.row_start + i];
  WN_CK_ASSERT_ALL(COMM, ok && count == 6 && nf == PETSC_TRUE);
  OK_ALL(eligible_of(7, score, 0.0, flags, &count, &nf, &L));
  for (int64_t i = 0; i < L.n_local; i++) ok &= flags[i] == 0;
  WN_CK_ASSERT_ALL(COMM, ok && count == 0 && nf == PETSC_FALSE);
  /* N < P */
  OK_ALL(eligible_of(2, score, 0.1, flags, &count, &nf, &L));
  for (int64_t i = 0; i < L.n_local; i++) ok &= flags[i] == (L.row_start + i == 0);
  WN_CK_ASSERT_ALL(COMM, ok && count == 1);
}
END_TEST

START_TEST(percentile_then_eligible)
{
  /* P3's epoch filter end to end on the 7-row hand CSR: D = {inf, .5, .5, 0, .5, inf, .75}.
   * Sorted: 0, .5, .5, .5, .75, inf, inf. pct 45: v = 2.7 -> .5 + 0 = .5 (ties at tau are eligible: 4 rows).
   * pct 85: v = 5.1 -> between inf and inf: NaN -> every finite row (5) and the flag. */
  double        tau;
  unsigned char flags[7];
  int64_t       count;
  PetscBool     nf;
  wn_layout     L;

  OK_ALL(pct_of(7, hand_d, 45, &tau));
  WN_CK_ASSERT_ALL(COMM, tau == 0.5);
  OK_ALL(eligible_of(7, hand_d, tau, flags, &count, &nf, &L));
  WN_CK_ASSERT_ALL(COMM, count == 4 && !nf);
  OK_ALL(pct_of(7, hand_d, 85, &tau));
  WN_CK_ASSERT_ALL(COMM, isnan(tau));
  OK_ALL(eligible_of(7, hand_d, tau, flags, &count, &nf, &L));
  WN_CK_ASSERT_ALL(COMM, count == 5 && nf);
}
END_TEST

/* ---- standardize --------------------------------------------------------------------------------- */

/* 8 rows x 3 columns; rows 1, 4 and 6 are inactive (with values that would change every statistic,
 * including a NaN, which must be ignored). Active rows, in order:
 *   (1, 7, 0), (2, 7, 0), (3, 7, 0), (4, 7, 4), (2.5, 7, 1)
 * col 0: mean 2.5, population variance (2.25 + .25 + .25 + 2.25 + 0) / 5 = 1
 * col 1: constant -> zero variance -> 0
 * col 2: mean 1, variance (1 + 1 + 1 + 9 + 0) / 5 = 2.4
 * z = (x0 - 2.5, 0, (x2 - 1) / sqrt(2.4)); the last active row has z = 0 and stays 0. */
static const float         std_in[24]   = {1, 7, 0, 1e6f, -3, 99, 2, 7, 0, 3, 7, 0, NAN, 1, 2, 4, 7, 4, 1e30f, 0, 0, 2.5f, 7, 1};
static const unsigned char std_active[8] = {1, 0, 1, 1, 0, 1, 0, 1};

static void std_expected(float *expect)
{
  double s = sqrt(2.4);

  memset(expect, 0, 24 * sizeof(float));
  for (int i = 0; i < 8; i++) {
    double z0, z2, norm;

    if (!std_active[i]) continue;
    z0   = std_in[3 * i] - 2.5;
    z2   = (std_in[3 * i + 2] - 1.0) / s;
    norm = sqrt(z0 * z0 + z2 * z2);
    if (norm > 0) {
      expect[3 * i]     = (float)(z0 / norm);
      expect[3 * i + 2] = (float)(z2 / norm);
    }
  }
}

START_TEST(standardize_closed_form)
{
  float     expect[24], out[24], inout[24];
  wn_layout L;
  int64_t   nz = -1;
  int       ok = 1;

  std_expected(expect);
  /* hand check of one value: row 0 z = (-1.5, 0, -1/sqrt(2.4)) */
  ck_assert(fabs(expect[0] - (-1.5 / sqrt(2.25 + 1 / 2.4))) < 1e-7);
  WN_CK_OK(wn_layout_init(COMM, 8, &L));
  OK_ALL(wn_p3_standardize(COMM, L.n_local, 3, std_in + 3 * L.row_start, std_active + L.row_start, out, &nz));
  WN_CK_ASSERT_ALL(COMM, nz == 1);
  for (int64_t k = 0; k < 3 * L.n_local; k++) ok &= fabsf(out[k] - expect[3 * L.row_start + k]) <= 1e-6f;
  for (int64_t i = 0; i < L.n_local; i++) /* zero-variance column, inactive rows and the all-zero row: exact zeros */
    ok &= out[3 * i + 1] == 0.0f && (std_active[L.row_start + i] && L.row_start + i != 7 ? 1 : out[3 * i] == 0.0f && out[3 * i + 2] == 0.0f);
  WN_CK_ASSERT_ALL(COMM, ok);
  /* in place gives the same bits */
  memcpy(inout, std_in + 3 * L.row_start, (size_t)(3 * L.n_local) * sizeof(float));
  OK_ALL(wn_p3_standardize(COMM, L.n_local, 3, inout, std_active + L.row_start, inout, NULL));
  for (int64_t k = 0; k < 3 * L.n_local; k++) ok &= same_float_bits(inout[k], out[k]);
  WN_CK_ASSERT_ALL(COMM, ok);
}
END_TEST

START_TEST(standardize_degenerate)
{
  const unsigned char none[8] = {0};
  const unsigned char one[8]  = {0, 0, 1, 0, 0, 0, 0, 0};
  float               out[24];
  wn_layout           L;
  int64_t             nz = -1;
  int                 ok = 1;
  float               bad[6] = {1, 2, 3, NAN, 5, 6};
  unsigned char       act[2] = {1, 1};

  WN_CK_OK(wn_layout_init(COMM, 8, &L));
  for (int k = 0; k < 24; k++) out[k] = 42;
  OK_ALL(wn_p3_standardize(COMM, L.n_local, 3, std_in + 3 * L.row_start, none + L.row_start, out, &nz));
  for (int64_t k = 0; k < 3 * L.n_local; k++) ok &= out[k] == 0.0f;
  WN_CK_ASSERT_ALL(COMM, ok && nz == 0);
  /* a single active row: every column has zero variance */
  OK_ALL(wn_p3_standardize(COMM, L.n_local, 3, std_in + 3 * L.row_start, one + L.row_start, out, &nz));
  for (int64_t k = 0; k < 3 * L.n_local; k++) ok &= out[k] == 0.0f;
  WN_CK_ASSERT_ALL(COMM, ok && nz == 3);
  /* NaN in an active row: refused, naming the row (N = 2: some ranks own no rows on 3-4 ranks) */
  WN_CK_OK(wn_layout_init(COMM, 2, &L));
  FAILS_ALL(wn_p3_standardize(COMM, L.n_local, 3, bad + 3 * L.row_start, act + L.row_start, out, &nz), "features of row 1 are not finite");
}
END_TEST

/* Distributed result == the singleton computation over the full matrix (on MPI_COMM_SELF), bit for bit;
 * and close to a plain long double evaluation. Columns of very different magnitudes and signs. */
static void standardize_bits_case(int64_t n, int64_t f, uint64_t seed)
{
  float         *x   = malloc((size_t)(n * f) * sizeof(float)), *ref = malloc((size_t)(n * f) * sizeof(float)), *out = malloc((size_t)(n * f + 1) * sizeof(float));
  unsigned char *act = malloc((size_t)n);
  wn_layout      L;
  int64_t        nz_ref = -1, nz = -2;
  int            ok = 1, close = 1;

  for (int64_t i = 0; i < n; i++) {
    act[i] = wn_uniform01(seed, 1000000 + (uint64_t)i) < 0.7;
    for (int64_t j = 0; j < f; j++) {
      double u = wn_uniform01(seed, (uint64_t)(i * f + j)), mag = pow(10.0, (double)(j % 7) - 3.0);

      x[i * f + j] = (float)((j % 3 == 2 ? 0.3 : u - 0.4) * mag + (j == 1 ? 1e4 : 0.0));
      if (j == f - 1) x[i * f + j] = 0.25f; /* constant column */
    }
  }
  /* Column 0 cancels: +1e15 in the first row, -1e15 in the last (both active, on different ranks), values
   * near 1 in between. A double sum of it is inexact and depends on the order (so on the rank count), and
   * the z of the rows in between cancel against that mean. */
  if (n >= 2) {
    for (int64_t i = 1; i < n - 1; i++) x[i * f] = (float)(0.5 + wn_uniform01(seed + 1, (uint64_t)i));
    x[0]           = 1e15f;
    x[(n - 1) * f] = -1e15f;
    act[0] = act[n - 1] = 1;
  }
  WN_CK_OK(wn_p3_standardize(PETSC_COMM_SELF, n, f, x, act, ref, &nz_ref));
  WN_CK_OK(wn_layout_init(COMM, n, &L));
  OK_ALL(wn_p3_standardize(COMM, L.n_local, f, x + f * L.row_start, act + L.row_start, out, &nz));
  for (int64_t k = 0; k < L.n_local * f; k++) ok &= same_float_bits(out[k], ref[f * L.row_start + k]);
  WN_CK_ASSERT_ALL(COMM, ok && nz == nz_ref);

  /* Reference in long double, over the full matrix. */
  {
    int64_t      m = 0;
    long double *mean = calloc((size_t)f, sizeof(long double)), *var = calloc((size_t)f, sizeof(long double));

    for (int64_t i = 0; i < n; i++)
      if (act[i]) {
        m++;
        for (int64_t j = 0; j < f; j++) mean[j] += x[i * f + j];
      }
    for (int64_t j = 0; j < f && m > 0; j++) mean[j] /= m;
    for (int64_t i = 0; i < n; i++)
      if (act[i])
        for (int64_t j = 0; j < f; j++) var[j] += (x[i * f + j] - mean[j]) * (x[i * f + j] - mean[j]);
    for (int64_t i = 0; i < n; i++) {
      long double z[16], norm = 0;

      for (int64_t j = 0; j < f; j++) {
        z[j] = (act[i] && var[j] > 0) ? (x[i * f + j] - mean[j]) / sqrtl(var[j] / m) : 0;
        norm += z[j] * z[j];
      }
      for (int64_t j = 0; j < f; j++) close &= fabsl((norm > 0 ? z[j] / sqrtl(norm) : 0) - ref[i * f + j]) < 1e-5L;
    }
    free(mean);
    free(var);
  }
  ck_assert_msg(close, "standardize differs from the long double reference");
  free(x);
  free(ref);
  free(out);
  free(act);
}

START_TEST(standardize_rank_independent)
{
  standardize_bits_case(37, 9, 5);
  standardize_bits_case(3, 4, 6); /* N < P on 4 ranks */
  standardize_bits_case(101, 16, 7);
  standardize_bits_case(2000, 16, 8); /* enough values that inexact (order-dependent) sums would flip some float bits */
}
END_TEST

/* ---- readers --------------------------------------------------------------------------------------- */

/* Collective writes of a replicated global array: each rank writes its wn_layout share. */
static PetscErrorCode put_int64(hid_t file, const char *name, int64_t n, const int64_t *all)
{
  int64_t s, c;

  wn_layout_range(n, size_of(), rank_of(), &s, &c);
  return wn_h5_write_rows_int64(COMM, file, name, n, s, c, all + s);
}

static PetscErrorCode put_double(hid_t file, const char *name, int64_t n, const double *all)
{
  int64_t s, c;

  wn_layout_range(n, size_of(), rank_of(), &s, &c);
  return wn_h5_write_rows_double(COMM, file, name, n, s, c, all + s);
}

static PetscErrorCode put_float(hid_t file, const char *name, int64_t n, int64_t cols, const float *all)
{
  int64_t s, c;

  wn_layout_range(n, size_of(), rank_of(), &s, &c);
  return wn_h5_write_rows_float(COMM, file, name, n, cols, s, c, all + s * (cols > 0 ? cols : 1), 0);
}

static float feat_value(int64_t g, int64_t j) { return (float)(g * 10 + j) + 0.25f; }

/* A signals file of n rows (generated CSR) with good epochs 0-2 and one bad dataset per epoch >= 10. */
static void write_signals(const char *path, int64_t n)
{
  hid_t    file = -1;
  int64_t *off, *o2 = malloc((size_t)(n + 2) * sizeof(int64_t)), total;
  double  *prob, *d = calloc((size_t)(n + 1), sizeof(double)), *p2;
  float   *feat = malloc((size_t)(n * 3 + 1) * sizeof(float));

  gen_csr(n, &off, &prob);
  total = off[n];
  p2    = malloc((size_t)(total + 2) * sizeof(double));
  for (int64_t g = 0; g < n; g++) {
    d[g] = g % 3 == 1 ? INFINITY : 0.125 * (double)g;
    for (int64_t j = 0; j < 3; j++) feat[g * 3 + j] = feat_value(g, j);
  }
  OK_ALL(wn_h5_create(COMM, path, &file));
  /* epoch 0: everything; epoch 1: difficulty only; epoch 2: steps only */
  OK_ALL(put_int64(file, "/signals/epoch_0/step_offset", n + 1, off));
  OK_ALL(put_double(file, "/signals/epoch_0/step_prob", total, prob));
  OK_ALL(put_double(file, "/signals/epoch_0/difficulty", n, d));
  OK_ALL(put_float(file, "/signals/epoch_0/features", n, 3, feat));
  OK_ALL(put_double(file, "/signals/epoch_1/difficulty", n, d));
  OK_ALL(put_int64(file, "/signals/epoch_2/step_offset", n + 1, off));
  OK_ALL(put_double(file, "/signals/epoch_2/step_prob", total, prob));
  /* 10: difficulty with N - 1 rows; 11: step_offset with N entries */
  OK_ALL(put_double(file, "/signals/epoch_10/difficulty", n - 1, d));
  OK_ALL(put_int64(file, "/signals/epoch_11/step_offset", n, off));
  OK_ALL(put_double(file, "/signals/epoch_11/step_prob", total, prob));
  /* 12: step_prob one entry longer than the last offset */
  memcpy(p2, prob, (size_t)total * sizeof(double));
  p2[total] = 0.5;
  OK_ALL(put_int64(file, "/signals/epoch_12/step_offset", n + 1, off));
  OK_ALL(put_double(file, "/signals/epoch_12/step_prob", total + 1, p2));
  /* 13: first offset 1 (every offset shifted; step_prob one longer so the end matches) */
  for (int64_t g = 0; g <= n; g++) o2[g] = off[g] + 1;
  OK_ALL(put_int64(file, "/signals/epoch_13/step_offset", n + 1, o2));
  OK_ALL(put_double(file, "/signals/epoch_13/step_prob", total + 1, p2));
  /* 14: offsets decrease at row n - 2 (entry n - 1 set below entry n - 2) */
  memcpy(o2, off, (size_t)(n + 1) * sizeof(int64_t));
  o2[n - 1] = off[n - 2] - 1;
  OK_ALL(put_int64(file, "/signals/epoch_14/step_offset", n + 1, o2));
  OK_ALL(put_double(file, "/signals/epoch_14/step_prob", total, prob));
  /* 15: a negative probability in the last row with steps; 16: NaN there */
  memcpy(p2, prob, (size_t)total * sizeof(double));
  p2[total - 1] = -0.5;
  OK_ALL(put_int64(file, "/signals/epoch_15/step_offset", n + 1, off));
  OK_ALL(put_double(file, "/signals/epoch_15/step_prob", total, p2));
  p2[total - 1] = NAN;
  OK_ALL(put_int64(file, "/signals/epoch_16/step_offset", n + 1, off));
  OK_ALL(put_double(file, "/signals/epoch_16/step_prob", total, p2));
  /* 17: NaN difficulty at the last row; 18: -inf there */
  d[n - 1] = NAN;
  OK_ALL(put_double(file, "/signals/epoch_17/difficulty", n, d));
  d[n - 1] = -INFINITY;
  OK_ALL(put_double(file, "/signals/epoch_18/difficulty", n, d));
  /* 19: features with N - 1 rows; 20: a NaN at the last row, column 2; 21: offsets stored as floats;
   * 22: 1-D features; 23: difficulty stored as int64 */
  OK_ALL(put_float(file, "/signals/epoch_19/features", n - 1, 3, feat));
  feat[3 * n - 1] = NAN;
  OK_ALL(put_float(file, "/signals/epoch_20/features", n, 3, feat));
  OK_ALL(put_double(file, "/signals/epoch_21/step_offset", n + 1, d));
  OK_ALL(put_double(file, "/signals/epoch_21/step_prob", total, prob));
  OK_ALL(put_float(file, "/signals/epoch_22/features", n, 0, feat));
  OK_ALL(put_int64(file, "/signals/epoch_23/difficulty", n, off));
  OK_ALL(wn_h5_close(&file));
  free(off);
  free(o2);
  free(prob);
  free(p2);
  free(d);
  free(feat);
}

static void read_case(const char *dir, int64_t n)
{
  char         path[PETSC_MAX_PATH_LEN], msg[256];
  wn_layout    L;
  double      *d = malloc((size_t)(n + 1) * sizeof(double));
  float       *feat = NULL;
  int64_t      f = -1;
  wn_p3_source used;
  int          ok = 1;

  snprintf(path, sizeof(path), "%s/signals_%lld.h5", dir, (long long)n);
  write_signals(path, n);
  WN_CK_OK(wn_layout_init(COMM, n, &L));

  OK_ALL(wn_p3_read_difficulty(&L, path, 0, WN_P3_SOURCE_STEPS, d, &used));
  for (int64_t i = 0; i < L.n_local; i++) ok &= same_bits(d[i], gen_difficulty(L.row_start + i));
  WN_CK_ASSERT_ALL(COMM, ok && used == WN_P3_SOURCE_STEPS);
  OK_ALL(wn_p3_read_difficulty(&L, path, 0, WN_P3_SOURCE_DIFFICULTY, d, &used));
  for (int64_t i = 0; i < L.n_local; i++) {
    int64_t g = L.row_start + i;
    ok &= same_bits(d[i], g % 3 == 1 ? INFINITY : 0.125 * (double)g);
  }
  WN_CK_ASSERT_ALL(COMM, ok && used == WN_P3_SOURCE_DIFFICULTY);
  OK_ALL(wn_p3_read_difficulty(&L, path, 0, WN_P3_SOURCE_AUTO, d, &used));
  WN_CK_ASSERT_ALL(COMM, used == WN_P3_SOURCE_DIFFICULTY);
  OK_ALL(wn_p3_read_difficulty(&L, path, 2, WN_P3_SOURCE_AUTO, d, &used));
  for (int64_t i = 0; i < L.n_local; i++) ok &= same_bits(d[i], gen_difficulty(L.row_start + i));
  WN_CK_ASSERT_ALL(COMM, ok && used == WN_P3_SOURCE_STEPS);
  OK_ALL(wn_p3_read_difficulty(&L, path, 1, WN_P3_SOURCE_AUTO, d, NULL));

  OK_ALL(wn_p3_read_features(&L, path, 0, &feat, &f));
  WN_CK_ASSERT_ALL(COMM, f == 3);
  for (int64_t i = 0; i < L.n_local; i++)
    for (int64_t j = 0; j < 3; j++) ok &= feat[i * 3 + j] == feat_value(L.row_start + i, j);
  WN_CK_ASSERT_ALL(COMM, ok);
  PetscFree(feat);

  /* the catalogue of bad inputs: each one message naming the file's dataset and what was expected */
  FAILS_ALL(wn_p3_read_difficulty(&L, path, 5, WN_P3_SOURCE_AUTO, d, &used), "neither /signals/epoch_5/difficulty nor /signals/epoch_5/step_offset");
  FAILS_ALL(wn_p3_read_difficulty(&L, path, 5, WN_P3_SOURCE_DIFFICULTY, d, &used), "dataset /signals/epoch_5/difficulty not found in");
  FAILS_ALL(wn_p3_read_difficulty(&L, path, 1, WN_P3_SOURCE_STEPS, d, &used), "dataset /signals/epoch_1/step_offset not found in");
  FAILS_ALL(wn_p3_read_difficulty(&L, path, -1, WN_P3_SOURCE_AUTO, d, &used), "epoch must be >= 0, got -1");
  snprintf(msg, sizeof(msg), "/signals/epoch_10/difficulty in '%s' has %lld rows; expected N = %lld (the candidates)", path, (long long)(n - 1), (long long)n);
  FAILS_ALL(wn_p3_read_difficulty(&L, path, 10, WN_P3_SOURCE_AUTO, d, &used), msg);
  snprintf(msg, sizeof(msg), "has %lld rows; expected N + 1 = %lld (one start offset per candidate, then the end)", (long long)n, (long long)(n + 1));
  FAILS_ALL(wn_p3_read_difficulty(&L, path, 11, WN_P3_SOURCE_STEPS, d, &used), msg);
  {
    int64_t total = 0;

    for (int64_t g = 0; g < n; g++) total += gen_steps(g);
    snprintf(msg, sizeof(msg), "the last offset (entry N = %lld) is %lld but /signals/epoch_12/step_prob has %lld entries", (long long)n, (long long)total, (long long)(total + 1));
    FAILS_ALL(wn_p3_read_difficulty(&L, path, 12, WN_P3_SOURCE_STEPS, d, &used), msg);
  }
  FAILS_ALL(wn_p3_read_difficulty(&L, path, 13, WN_P3_SOURCE_STEPS, d, &used), "the first offset (row 0) is 1; expected 0");
  snprintf(msg, sizeof(msg), "/signals/epoch_14/step_offset in '%s': the offsets decrease at row %lld", path, (long long)(n - 2));
  FAILS_ALL(wn_p3_read_difficulty(&L, path, 14, WN_P3_SOURCE_AUTO, d, &used), msg);
  {
    int64_t last = n - 1; /* the last row with steps */

    while (gen_steps(last) == 0) last--;
    snprintf(msg, sizeof(msg), "/signals/epoch_15/step_prob in '%s': the probability of row %lld, step %lld (of %lld) is -0.5", path, (long long)last, (long long)(gen_steps(last) - 1), (long long)gen_steps(last));
    FAILS_ALL(wn_p3_read_difficulty(&L, path, 15, WN_P3_SOURCE_STEPS, d, &used), msg);
    snprintf(msg, sizeof(msg), "the probability of row %lld, step %lld (of %lld) is NaN", (long long)last, (long long)(gen_steps(last) - 1), (long long)gen_steps(last));
    FAILS_ALL(wn_p3_read_difficulty(&L, path, 16, WN_P3_SOURCE_STEPS, d, &used), msg);
  }
  snprintf(msg, sizeof(msg), "has difficulty nan at row %lld", (long long)(n - 1));
  FAILS_ALL(wn_p3_read_difficulty(&L, path, 17, WN_P3_SOURCE_DIFFICULTY, d, &used), msg);
  snprintf(msg, sizeof(msg), "has difficulty -inf at row %lld", (long long)(n - 1));
  FAILS_ALL(wn_p3_read_difficulty(&L, path, 18, WN_P3_SOURCE_AUTO, d, &used), msg);
  FAILS_ALL(wn_p3_read_difficulty(&L, path, 21, WN_P3_SOURCE_STEPS, d, &used), "step_offset in");
  FAILS_ALL(wn_p3_read_difficulty(&L, path, 21, WN_P3_SOURCE_STEPS, d, &used), "holds float64; expected int64 (or int32) offsets");
  FAILS_ALL(wn_p3_read_difficulty(&L, path, 23, WN_P3_SOURCE_AUTO, d, &used), "holds int64; expected float32 or float64 values");
  snprintf(msg, sizeof(msg), "/signals/epoch_19/features in '%s' has %lld rows; expected N = %lld", path, (long long)(n - 1), (long long)n);
  FAILS_ALL(wn_p3_read_features(&L, path, 19, &feat, &f), msg);
  snprintf(msg, sizeof(msg), "NaN value at row %lld, column 2", (long long)(n - 1));
  FAILS_ALL(wn_p3_read_features(&L, path, 20, &feat, &f), msg);
  FAILS_ALL(wn_p3_read_features(&L, path, 22, &feat, &f), "is 1-D; expected N x f");
  FAILS_ALL(wn_p3_read_features(&L, path, 1, &feat, &f), "dataset /signals/epoch_1/features not found in");
  snprintf(path, sizeof(path), "%s/missing.h5", dir);
  FAILS_ALL(wn_p3_read_difficulty(&L, path, 0, WN_P3_SOURCE_AUTO, d, &used), "missing.h5");
  free(d);
}

START_TEST(read_signals)
{
  char dir[PETSC_MAX_PATH_LEN];

  wn_test_tmpdir_make(dir, sizeof(dir));
  read_case(dir, 13); /* uneven on 2-4 ranks */
  read_case(dir, 3);  /* N < P on 4 ranks: a rank reads only the end offset */
  wn_test_tmpdir_remove(dir);
}
END_TEST

/* ---- the synthetic signals of tools/synth.h ---------------------------------------------------------- */

static void synth_case(const char *dir, int64_t n)
{
  const int64_t d = 8, f = 30;
  const uint64_t seed = 42;
  char          path[PETSC_MAX_PATH_LEN], msg[256];
  wn_layout     L;
  hid_t         file = -1;
  float        *emb, *feat = NULL;
  double       *d_steps, *d_file, mean[3];
  int64_t       fw = 0, stats[2];
  wn_p3_source  used;
  int           ok = 1;

  snprintf(path, sizeof(path), "%s/synth_%lld.h5", dir, (long long)n);
  WN_CK_OK(wn_layout_init(COMM, n, &L));
  emb     = malloc((size_t)(L.n_local * d + 1) * sizeof(float));
  d_steps = malloc((size_t)(L.n_local + 1) * sizeof(double));
  d_file  = malloc((size_t)(L.n_local + 1) * sizeof(double));
  for (int64_t i = 0; i < L.n_local; i++)
    for (int64_t j = 0; j < d; j++) emb[i * d + j] = (float)(wn_uniform01(3, (uint64_t)((L.row_start + i) * d + j)) - 0.5 + (j == (L.row_start + i) % d));
  OK_ALL(wn_h5_create(COMM, path, &file));
  for (int e = 0; e < 3; e++) OK_ALL(synth_write_epoch(file, &L, emb, d, seed, e, f, PETSC_TRUE, SYNTH_BAD_NONE, stats));
  OK_ALL(synth_write_epoch(file, &L, emb, d, seed, 10, f, PETSC_FALSE, SYNTH_BAD_OFFSETS, NULL));
  OK_ALL(synth_write_epoch(file, &L, emb, d, seed, 11, f, PETSC_FALSE, SYNTH_BAD_LENGTH, NULL));
  OK_ALL(synth_write_epoch(file, &L, emb, d, seed, 12, f, PETSC_FALSE, SYNTH_BAD_NEGPROB, NULL));
  OK_ALL(synth_write_epoch(file, &L, emb, d, seed, 13, f, PETSC_FALSE, SYNTH_BAD_NANPROB, NULL));
  OK_ALL(wn_h5_close(&file));

  for (int e = 0; e < 3; e++) {
    int64_t finite = 0, finite_all;
    double  sum = 0, sum_all;

    OK_ALL(wn_p3_read_difficulty(&L, path, e, WN_P3_SOURCE_STEPS, d_steps, &used));
    OK_ALL(wn_p3_read_difficulty(&L, path, e, WN_P3_SOURCE_DIFFICULTY, d_file, &used));
    for (int64_t i = 0; i < L.n_local; i++) {
      int64_t g = L.row_start + i, T = synth_steps(seed, g);
      double  b = synth_base(seed, g, d, emb + i * d), s = 0;

      for (int64_t t = 0; t < T; t++) {
        double p = synth_step_prob(seed, e, g, t, b);
        ok &= p > 0 && p < 1;
        s += p;
      }
      ok &= same_bits(d_steps[i], T ? 1.0 - s / (double)T : INFINITY) && same_bits(d_file[i], d_steps[i]);
      if (T) {
        finite++;
        sum += d_steps[i];
      }
    }
    WN_CK_ASSERT_ALL(COMM, ok);
    MPI_Allreduce(&sum, &sum_all, 1, MPI_DOUBLE, MPI_SUM, COMM);
    MPI_Allreduce(&finite, &finite_all, 1, MPI_INT64_T, MPI_SUM, COMM);
    mean[e] = finite_all ? sum_all / (double)finite_all : 0;

    OK_ALL(wn_p3_read_features(&L, path, e, &feat, &fw));
    WN_CK_ASSERT_ALL(COMM, fw == f);
    for (int64_t i = 0; i < L.n_local; i++) { /* ascending probabilities in (0, 1), then zero padding */
      int64_t j = 0;

      for (; j < f && feat[i * f + j] > 0; j++) ok &= feat[i * f + j] < 1 && (j == 0 || feat[i * f + j - 1] <= feat[i * f + j]);
      ok &= j >= 8;
      for (; j < f; j++) ok &= feat[i * f + j] == 0.0f;
    }
    WN_CK_ASSERT_ALL(COMM, ok);
    PetscFree(feat);
  }
  /* the model improves: the mean difficulty falls every epoch */
  WN_CK_ASSERT_ALL(COMM, mean[1] < mean[0] && mean[2] < mean[1]);

  snprintf(msg, sizeof(msg), "the offsets decrease at row %lld", (long long)(n / 2));
  FAILS_ALL(wn_p3_read_difficulty(&L, path, 10, WN_P3_SOURCE_AUTO, d_steps, &used), msg);
  snprintf(msg, sizeof(msg), "has %lld rows; expected N + 1 = %lld", (long long)n, (long long)(n + 1));
  FAILS_ALL(wn_p3_read_difficulty(&L, path, 11, WN_P3_SOURCE_AUTO, d_steps, &used), msg);
  FAILS_ALL(wn_p3_read_difficulty(&L, path, 12, WN_P3_SOURCE_AUTO, d_steps, &used), "is -0.25; expected a probability in [0, 1]");
  FAILS_ALL(wn_p3_read_difficulty(&L, path, 13, WN_P3_SOURCE_AUTO, d_steps, &used), "is NaN; expected a probability in [0, 1]");
  free(emb);
  free(d_steps);
  free(d_file);
}

START_TEST(synthetic_signals)
{
  char dir[PETSC_MAX_PATH_LEN];

  wn_test_tmpdir_make(dir, sizeof(dir));
  synth_case(dir, 37);
  synth_case(dir, 3); /* N < P on 4 ranks */
  wn_test_tmpdir_remove(dir);
}
END_TEST

static Suite *suite(void)
{
  Suite *s    = suite_create("p3");
  TCase *pure = tcase_create("pure"), *dist = tcase_create("distributed");

  tcase_add_test(pure, schedule_p3_default);
  tcase_add_test(pure, trend_with_inf);
  tcase_add_test(dist, difficulty_hand);
  tcase_add_test(dist, difficulty_generated);
  tcase_add_test(dist, difficulty_refused);
  tcase_add_test(dist, percentile_numpy);
  tcase_add_test(dist, percentile_brute_force);
  tcase_add_test(dist, percentile_errors);
  tcase_add_test(dist, eligible_ties_and_inf);
  tcase_add_test(dist, percentile_then_eligible);
  tcase_add_test(dist, standardize_closed_form);
  tcase_add_test(dist, standardize_degenerate);
  tcase_add_test(dist, standardize_rank_independent);
  tcase_add_test(dist, read_signals);
  tcase_add_test(dist, synthetic_signals);
  tcase_set_timeout(dist, 120);
  suite_add_tcase(s, pure);
  suite_add_tcase(s, dist);
  return s;
}

int main(int argc, char **argv) { return wn_test_run(argc, argv, suite); }
