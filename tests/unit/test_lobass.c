/* test_lobass.c - check suite for src/lobass.c (LoBaSS's pieces, METHODS.md section 2).
 *
 * pure: the two score forms on hand-made losses (exact bits), proportional budgets by largest remainder on hand
 * cases (every tie rule: remainder, then the larger label, then the label order; budget 0 and N) and on random
 * counts against the defining properties, the syntax check of given budgets and each of its refusals.
 * distributed (1-4 ranks, rows split by wn_layout, sizes that do not divide evenly and N < P): the scores'
 * refusals (NaN, inf, negative, L0 = 0 with normalized; the lowest bad row is named); the top-k against a
 * brute-force sort of the whole vector for every k, with ties across rank boundaries, negative scores and
 * -0.0 == +0.0; grouped top-k (rows of group -1 never picked, a budget 0 group) against brute force per group;
 * its refusals; the independent check (passes on the result, counts one violation for a swapped pick, a wrong
 * value, a wrong order, a wrong count); label tables from string and int labels with their group numbers and
 * counts; given budgets mapped onto them and their refusals (unknown label, above the label's count, sum
 * different from the budget); the loss reader on files written in a fresh temporary directory (float32 and
 * float64, N x 1, and the catalogue of bad files: missing file, missing dataset, wrong length, 2-D, strings).
 */
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <winnow/h5io.h>
#include <winnow/layout.h>
#include <winnow/lobass.h>
#include <winnow/util.h>
#include "wn_test.h"

#define COMM PETSC_COMM_WORLD

static int same_bits(double a, double b) { return memcmp(&a, &b, sizeof(a)) == 0; }

/* ---- brute force -------------------------------------------------------------------------------- */

typedef struct {
  double  v;
  int64_t i;
} pick;

static int cmp_pick(const void *a, const void *b)
{
  const pick *x = a, *y = b;
  if (x->v != y->v) return x->v > y->v ? -1 : 1;
  return x->i < y->i ? -1 : x->i > y->i;
}

/* Expected grouped top-k over the whole vector v[0..n) (groups g[] or NULL), in selection order. Returns count. */
static int64_t brute_topk(int64_t n, const double *v, const int *g, int G, const int64_t *k, pick *out)
{
  pick   *all = malloc((size_t)(n + 1) * sizeof(pick));
  int64_t m = 0, *taken = calloc((size_t)G + 1, sizeof(int64_t));

  for (int64_t i = 0; i < n; i++) {
    all[i].v = v[i];
    all[i].i = i;
  }
  qsort(all, (size_t)n, sizeof(pick), cmp_pick);
  for (int64_t t = 0; t < n; t++) {
    int gi = g ? g[all[t].i] : 0;
    if (gi < 0 || taken[gi] >= k[gi]) continue;
    taken[gi]++;
    out[m++] = all[t];
  }
  free(all);
  free(taken);
  return m;
}

/* Run wn_lobass_topk on the local block of the global vector v (groups g or NULL) and compare with brute force;
 * also run the independent check. Returns 1 when everything matches (on this rank). */
static int topk_matches(int64_t n, const double *v, const int *g, int G, const int64_t *k)
{
  wn_layout L;
  int64_t   n_sel = -1, *index = NULL, viol = -1, *counts = malloc(((size_t)G + 1) * sizeof(int64_t)), m;
  double   *value = NULL;
  pick     *expect = malloc((size_t)(n + 1) * sizeof(pick));
  int       ok = 1;

  wn_layout_init(COMM, n, &L);
  if (wn_lobass_topk(COMM, L.row_start, L.n_local, v + L.row_start, g ? g + L.row_start : NULL, G, k, &n_sel, &index, &value)) ok = 0;
  m = brute_topk(n, v, g, G, k, expect);
  if (ok && n_sel != m) ok = 0;
  for (int64_t t = 0; ok && t < m; t++)
    if (index[t] != expect[t].i || !same_bits(value[t], v[expect[t].i])) ok = 0;
  if (ok && wn_lobass_check_topk(COMM, L.row_start, L.n_local, v + L.row_start, g ? g + L.row_start : NULL, G, k, n_sel, index, value, &viol, counts)) ok = 0;
  if (ok && viol != 0) ok = 0;
  for (int gi = 0; ok && gi < G; gi++)
    if (counts[gi] != k[gi]) ok = 0;
  PetscFree(index);
  PetscFree(value);
  free(expect);
  free(counts);
  return ok;
}

/* ---- pure --------------------------------------------------------------------------------------- */

START_TEST(scores_hand)
{
  const double L0[5] = {2.0, 1.0, 0.5, 3.0, 0.0}, L1[5] = {1.0, 1.0, 0.25, 0.0, 0.75};
  double       s[5];

  /* one row per rank would need collectives: these are local, so run them on PETSC_COMM_SELF */
  ck_assert(wn_lobass_scores(PETSC_COMM_SELF, "base", "tuned", WN_LOBASS_DIFF, 0, 5, L0, L1, s) == 0);
  ck_assert(same_bits(s[0], 1.0) && same_bits(s[1], 0.0) && same_bits(s[2], 0.25) && same_bits(s[3], 3.0) && same_bits(s[4], -0.75));
  ck_assert(wn_lobass_scores(PETSC_COMM_SELF, "base", "tuned", WN_LOBASS_NORMALIZED, 0, 4, L0, L1, s) == 0);
  ck_assert(same_bits(s[0], 0.5) && same_bits(s[1], 0.0) && same_bits(s[2], 0.5) && same_bits(s[3], 1.0));
  /* a loss increase is a negative learnability, allowed; (0.3 - 0.7) / 0.3 in one division */
  {
    const double a[1] = {0.3}, b[1] = {0.7};
    ck_assert(wn_lobass_scores(PETSC_COMM_SELF, "base", "tuned", WN_LOBASS_NORMALIZED, 0, 1, a, b, s) == 0);
    ck_assert(same_bits(s[0], (0.3 - 0.7) / 0.3));
  }
  ck_assert(wn_lobass_scores(PETSC_COMM_SELF, "base", "tuned", WN_LOBASS_DIFF, 0, 0, NULL, NULL, NULL) == 0);
}
END_TEST

START_TEST(budgets_proportional_hand)
{
  int64_t k[5];
  {
    const int64_t c[5] = {41, 41, 41, 40, 40}; /* 23 * 41 / 203 = 4.645, 23 * 40 / 203 = 4.532: 3 extras to the 41s */
    ck_assert(wn_lobass_budgets_proportional(5, c, 23, k) == 0);
    ck_assert(k[0] == 5 && k[1] == 5 && k[2] == 5 && k[3] == 4 && k[4] == 4);
  }
  {
    const int64_t c[3] = {1, 1, 1}; /* equal remainders and counts: label order */
    ck_assert(wn_lobass_budgets_proportional(3, c, 2, k) == 0);
    ck_assert(k[0] == 1 && k[1] == 1 && k[2] == 0);
  }
  {
    const int64_t c[2] = {10, 30}; /* 0.75 and 2.25: the larger remainder (group 0) gets the extra pick */
    ck_assert(wn_lobass_budgets_proportional(2, c, 3, k) == 0);
    ck_assert(k[0] == 1 && k[1] == 2);
  }
  {
    const int64_t c[3] = {1, 3, 6}; /* 0.5, 1.5, 3: remainders tie at 5/10, the larger label (group 1) wins */
    ck_assert(wn_lobass_budgets_proportional(3, c, 5, k) == 0);
    ck_assert(k[0] == 0 && k[1] == 2 && k[2] == 3);
  }
  {
    const int64_t c[4] = {7, 0, 2, 5};
    ck_assert(wn_lobass_budgets_proportional(4, c, 0, k) == 0);
    ck_assert(k[0] == 0 && k[1] == 0 && k[2] == 0 && k[3] == 0);
    ck_assert(wn_lobass_budgets_proportional(4, c, 14, k) == 0);
    ck_assert(k[0] == 7 && k[1] == 0 && k[2] == 2 && k[3] == 5);
    ck_assert(wn_lobass_budgets_proportional(4, c, 15, k) != 0); /* above N */
  }
}
END_TEST

START_TEST(budgets_proportional_random)
{
  for (int trial = 0; trial < 300; trial++) {
    int     G = 1 + (int)(wn_uniform01(11, (uint64_t)trial * 64) * 9);
    int64_t c[10], k[10], N = 0, b, sum = 0;

    for (int g = 0; g < G; g++) {
      c[g] = (int64_t)(wn_uniform01(12, (uint64_t)trial * 64 + (uint64_t)g) * 50);
      N += c[g];
    }
    b = (int64_t)(wn_uniform01(13, (uint64_t)trial) * (double)(N + 1));
    if (b > N) b = N;
    ck_assert(wn_lobass_budgets_proportional(G, c, b, k) == 0);
    for (int g = 0; g < G; g++) {
      double exact = N ? (double)b * (double)c[g] / (double)N : 0.0;
      sum += k[g];
      ck_assert(k[g] >= 0 && k[g] <= c[g]);
      ck_assert(fabs((double)k[g] - exact) < 1.0); /* floor or floor + 1 */
      ck_assert(k[g] >= (int64_t)floor(exact + 1e-9) - 0);
    }
    ck_assert(sum == b);
  }
}
END_TEST

START_TEST(budgets_syntax)
{
  int     n = 0;
  int64_t total = 0;

  OK_ALL(wn_lobass_budgets_check(COMM, "a:1, b:2 ,c:0", &n, &total));
  ck_assert(n == 3 && total == 3);
  OK_ALL(wn_lobass_budgets_check(COMM, "dom:x:5", &n, &total)); /* the last ':' separates: label "dom:x" */
  ck_assert(n == 1 && total == 5);
  FAILS_ALL(wn_lobass_budgets_check(COMM, "", NULL, NULL), "empty");
  FAILS_ALL(wn_lobass_budgets_check(COMM, "a", NULL, NULL), "is not label:count");
  FAILS_ALL(wn_lobass_budgets_check(COMM, "a:", NULL, NULL), "is not label:count");
  FAILS_ALL(wn_lobass_budgets_check(COMM, ":3", NULL, NULL), "is not label:count");
  FAILS_ALL(wn_lobass_budgets_check(COMM, "a:1,,b:2", NULL, NULL), "item 2");
  FAILS_ALL(wn_lobass_budgets_check(COMM, "a:-1", NULL, NULL), "not a whole number >= 0");
  FAILS_ALL(wn_lobass_budgets_check(COMM, "a:1.5", NULL, NULL), "the count '1.5' of label 'a' is not a whole number >= 0");
  FAILS_ALL(wn_lobass_budgets_check(COMM, "a:1,b:2,a:3", NULL, NULL), "label 'a' is listed twice");
}
END_TEST

/* ---- distributed: scores ------------------------------------------------------------------------ */

/* Global losses of N rows, with one bad value planted at row bad_row in L0 or L1. */
static void losses_fill(int64_t n, double *L0, double *L1)
{
  for (int64_t i = 0; i < n; i++) {
    L0[i] = 1.0 + (double)(i % 7) / 8.0;
    L1[i] = L0[i] - (double)(i % 5) / 16.0;
  }
}

static PetscErrorCode scores_on_block(int64_t n, const double *L0, const double *L1, wn_lobass_score kind, double *s)
{
  wn_layout L;

  wn_layout_init(COMM, n, &L);
  return wn_lobass_scores(COMM, "dataset /signals/loss_base in 'f.h5'", "dataset /signals/loss_tuned in 'f.h5'", kind, L.row_start, L.n_local, L0 + L.row_start, L1 + L.row_start, s + L.row_start);
}

START_TEST(scores_distributed)
{
  const int64_t n = 13;
  double        L0[13], L1[13], s[13];
  wn_layout     L;

  wn_layout_init(COMM, n, &L);
  losses_fill(n, L0, L1);
  OK_ALL(scores_on_block(n, L0, L1, WN_LOBASS_DIFF, s));
  for (int64_t i = L.row_start; i < L.row_start + L.n_local; i++) ck_assert(same_bits(s[i], (double)(i % 5) / 16.0));
  OK_ALL(scores_on_block(n, L0, L1, WN_LOBASS_NORMALIZED, s));
  for (int64_t i = L.row_start; i < L.row_start + L.n_local; i++) ck_assert(same_bits(s[i], ((double)(i % 5) / 16.0) / L0[i]));
  /* N < P: 2 rows on up to 4 ranks */
  OK_ALL(scores_on_block(2, L0, L1, WN_LOBASS_DIFF, s));
}
END_TEST

START_TEST(scores_refused)
{
  const int64_t n = 13;
  double        L0[13], L1[13], s[13];

  losses_fill(n, L0, L1);
  L1[12] = NAN;
  FAILS_ALL(scores_on_block(n, L0, L1, WN_LOBASS_DIFF, s), "loss_tuned in 'f.h5' has a NaN loss at row 12");
  L1[3] = NAN; /* two bad rows on different ranks: the lowest is named */
  FAILS_ALL(scores_on_block(n, L0, L1, WN_LOBASS_DIFF, s), "NaN loss at row 3 ");
  losses_fill(n, L0, L1);
  L0[7] = INFINITY;
  FAILS_ALL(scores_on_block(n, L0, L1, WN_LOBASS_DIFF, s), "loss_base in 'f.h5' has an infinite loss (inf) at row 7");
  losses_fill(n, L0, L1);
  L1[0] = -0.5;
  FAILS_ALL(scores_on_block(n, L0, L1, WN_LOBASS_DIFF, s), "negative loss -0.5 at row 0");
  losses_fill(n, L0, L1);
  L0[10] = 0.0;
  L1[10] = 0.0;
  OK_ALL(scores_on_block(n, L0, L1, WN_LOBASS_DIFF, s)); /* L0 = 0 is fine for diff */
  FAILS_ALL(scores_on_block(n, L0, L1, WN_LOBASS_NORMALIZED, s), "undefined at row 10 (0-based): dataset /signals/loss_base in 'f.h5' has L0 = 0");
  losses_fill(n, L0, L1);
  L0[5] = 1e-310; /* subnormal: (L0 - L1) / L0 overflows */
  FAILS_ALL(scores_on_block(n, L0, L1, WN_LOBASS_NORMALIZED, s), "overflows");
}
END_TEST

/* ---- distributed: top-k ------------------------------------------------------------------------- */

START_TEST(topk_hand_every_k)
{
  /* ties across any row split; negative values; -0.0 and +0.0 equal (ties by index) */
  const double v[11] = {0.5, -1.0, 0.5, 2.0, 0.0, -0.0, 0.5, 2.0, -1.0, 0.25, 0.5};
  const int64_t expect_order[11] = {3, 7, 0, 2, 6, 10, 9, 4, 5, 1, 8};
  int           ok = 1;

  for (int64_t k = 0; k <= 11; k++) ok &= topk_matches(11, v, NULL, 1, &k);
  WN_CK_ASSERT_ALL(COMM, ok);
  { /* the order itself, written out */
    wn_layout L;
    int64_t   k = 11, n_sel, *index;
    double   *value;

    wn_layout_init(COMM, 11, &L);
    OK_ALL(wn_lobass_topk(COMM, L.row_start, L.n_local, v + L.row_start, NULL, 1, &k, &n_sel, &index, &value));
    for (int t = 0; t < 11; t++) ok &= index[t] == expect_order[t];
    WN_CK_ASSERT_ALL(COMM, ok && n_sel == 11);
    PetscFree(index);
    PetscFree(value);
  }
  /* N < P: 1, 2 and 3 rows */
  for (int64_t n = 1; n <= 3; n++)
    for (int64_t k = 0; k <= n; k++) ok &= topk_matches(n, v, NULL, 1, &k);
  WN_CK_ASSERT_ALL(COMM, ok);
}
END_TEST

START_TEST(topk_random_ties)
{
  const int64_t n = 1003;
  double       *v = malloc(n * sizeof(double));
  int           ok = 1;
  const int64_t ks[6] = {1, 2, 17, 500, 1002, 1003};

  for (int trial = 0; trial < 3; trial++) {
    for (int64_t i = 0; i < n; i++) /* trial 0: 16 distinct values; 1: continuous; 2: all equal */
      v[i] = trial == 0 ? floor(16 * wn_uniform01(5, (uint64_t)i)) / 32.0 - 0.2 : trial == 1 ? 1e3 * (wn_uniform01(6, (uint64_t)i) - 0.5) : 0.125;
    for (int j = 0; j < 6; j++) ok &= topk_matches(n, v, NULL, 1, &ks[j]);
  }
  free(v);
  WN_CK_ASSERT_ALL(COMM, ok);
}
END_TEST

START_TEST(topk_grouped)
{
  const int64_t n = 101;
  double       *v = malloc(n * sizeof(double));
  int          *g = malloc(n * sizeof(int)), ok = 1;
  int64_t       members[4] = {0, 0, 0, 0};

  for (int64_t i = 0; i < n; i++) {
    v[i] = floor(8 * wn_uniform01(9, (uint64_t)i)) / 8.0;
    g[i] = i % 7 == 6 ? -1 : (int)(i % 4); /* some rows in no group */
    if (g[i] >= 0) members[g[i]]++;
  }
  {
    const int64_t k[4] = {3, 0, 10, 1};
    ok &= topk_matches(n, v, g, 4, k);
  }
  ok &= topk_matches(n, v, g, 4, members); /* every member of every group */
  {
    const int64_t k[4] = {1, 1, 1, 1};
    ok &= topk_matches(3, v, g, 4, (int64_t[4]){1, 1, 1, 0}); /* N < P */
    ok &= topk_matches(n, v, g, 4, k);
  }
  WN_CK_ASSERT_ALL(COMM, ok);
  free(v);
  free(g);
}
END_TEST

START_TEST(topk_refused)
{
  const double v[5] = {1, 2, 3, NAN, 5};
  const int    g[5] = {0, 0, 1, 1, 1};
  wn_layout    L;
  int64_t      n_sel, *index = NULL, k[2] = {3, 1};
  double      *value = NULL;

  wn_layout_init(COMM, 5, &L);
  FAILS_ALL(wn_lobass_topk(COMM, L.row_start, L.n_local, v + L.row_start, NULL, 1, k, &n_sel, &index, &value), "row 3 has score nan");
  {
    const double w[5] = {1, 2, 3, 4, 5};
    FAILS_ALL(wn_lobass_topk(COMM, L.row_start, L.n_local, w + L.row_start, g + L.row_start, 2, k, &n_sel, &index, &value), "group 0 has 2 members but a budget of 3");
    k[0] = 6;
    FAILS_ALL(wn_lobass_topk(COMM, L.row_start, L.n_local, w + L.row_start, NULL, 1, k, &n_sel, &index, &value), "group 0 has 5 members but a budget of 6");
  }
}
END_TEST

START_TEST(check_catches)
{
  const int64_t n = 23;
  double        v[23];
  wn_layout     L;
  int64_t       k = 6, n_sel, *index, viol, idx2[6];
  double       *value, val2[6];

  for (int64_t i = 0; i < n; i++) v[i] = (double)((i * 7) % 11); /* ties: 0..10, each about twice */
  wn_layout_init(COMM, n, &L);
  OK_ALL(wn_lobass_topk(COMM, L.row_start, L.n_local, v + L.row_start, NULL, 1, &k, &n_sel, &index, &value));
  OK_ALL(wn_lobass_check_topk(COMM, L.row_start, L.n_local, v + L.row_start, NULL, 1, &k, n_sel, index, value, &viol, NULL));
  WN_CK_ASSERT_ALL(COMM, viol == 0);
  /* the last pick replaced by a worse row: that row is in order, but the dropped one beats it */
  memcpy(idx2, index, sizeof(idx2));
  memcpy(val2, value, sizeof(val2));
  for (int64_t i = 0; i < n; i++)
    if (v[i] == 0.0) {
      idx2[5] = i;
      val2[5] = 0.0;
      break;
    }
  OK_ALL(wn_lobass_check_topk(COMM, L.row_start, L.n_local, v + L.row_start, NULL, 1, &k, n_sel, idx2, val2, &viol, NULL));
  WN_CK_ASSERT_ALL(COMM, viol >= 1);
  /* a tie resolved to a higher index: the lower unpicked index beats it */
  memcpy(idx2, index, sizeof(idx2));
  memcpy(val2, value, sizeof(val2));
  {
    int64_t other = -1;
    for (int64_t i = n - 1; i >= 0; i--)
      if (v[i] == value[5] && i > index[5]) other = i;
    if (other >= 0) {
      idx2[5] = other;
      OK_ALL(wn_lobass_check_topk(COMM, L.row_start, L.n_local, v + L.row_start, NULL, 1, &k, n_sel, idx2, val2, &viol, NULL));
      WN_CK_ASSERT_ALL(COMM, viol >= 1);
    }
  }
  /* a wrong value */
  memcpy(idx2, index, sizeof(idx2));
  memcpy(val2, value, sizeof(val2));
  val2[0] += 0.5;
  OK_ALL(wn_lobass_check_topk(COMM, L.row_start, L.n_local, v + L.row_start, NULL, 1, &k, n_sel, idx2, val2, &viol, NULL));
  WN_CK_ASSERT_ALL(COMM, viol == 1);
  /* wrong order */
  memcpy(val2, value, sizeof(val2));
  idx2[0] = index[1];
  idx2[1] = index[0];
  val2[0] = value[1];
  val2[1] = value[0];
  OK_ALL(wn_lobass_check_topk(COMM, L.row_start, L.n_local, v + L.row_start, NULL, 1, &k, n_sel, idx2, val2, &viol, NULL));
  WN_CK_ASSERT_ALL(COMM, viol == 1);
  /* one pick short of the budget */
  {
    int64_t k7 = 7;
    OK_ALL(wn_lobass_check_topk(COMM, L.row_start, L.n_local, v + L.row_start, NULL, 1, &k7, n_sel, index, value, &viol, NULL));
    WN_CK_ASSERT_ALL(COMM, viol >= 1);
  }
  PetscFree(index);
  PetscFree(value);
}
END_TEST

/* ---- distributed: labels and given budgets ------------------------------------------------------ */

/* String labels of global row i: "math", "chat", "code" and one "zz:1" row. */
static const char *label_of(int64_t i) { return i == 5 ? "zz:1" : (i % 3 == 0 ? "math" : (i % 3 == 1 ? "chat" : "code")); }

static void make_string_column(const wn_layout *L, wn_column *c)
{
  memset(c, 0, sizeof(*c));
  c->kind  = WN_COLUMN_STRING;
  c->n     = L->n_local;
  c->width = 8;
  PetscCalloc1((size_t)(L->n_local + 1) * c->width, &c->strings);
  for (int64_t i = 0; i < L->n_local; i++) snprintf(c->strings + i * c->width, c->width, "%s", label_of(L->row_start + i));
}

START_TEST(labels_strings_and_given)
{
  const int64_t    n = 17;
  wn_layout        L;
  wn_column        c;
  wn_lobass_labels lab = {0};
  int              group[17], ok = 1;
  int64_t          k[4];

  wn_layout_init(COMM, n, &L);
  make_string_column(&L, &c);
  OK_ALL(wn_lobass_labels_create(&L, &c, &lab, group));
  /* sorted by bytes: chat, code, math, zz:1; rows 0..16: math 6, chat 6, code 4 (row 5 is zz:1) */
  ck_assert_int_eq(lab.n, 4);
  ck_assert_str_eq(lab.names, "chat");
  ck_assert_str_eq(lab.names + lab.width, "code");
  ck_assert_str_eq(lab.names + 2 * lab.width, "math");
  ck_assert_str_eq(lab.names + 3 * lab.width, "zz:1");
  ck_assert(lab.count[0] == 6 && lab.count[1] == 4 && lab.count[2] == 6 && lab.count[3] == 1);
  for (int64_t i = 0; i < L.n_local; i++) ok &= !strcmp(lab.names + (size_t)group[i] * lab.width, label_of(L.row_start + i));
  WN_CK_ASSERT_ALL(COMM, ok);

  OK_ALL(wn_lobass_budgets_given(COMM, &lab, "math:2, zz:1:1", 3, k));
  ck_assert(k[0] == 0 && k[1] == 0 && k[2] == 2 && k[3] == 1);
  FAILS_ALL(wn_lobass_budgets_given(COMM, &lab, "math:2,poetry:1", 3, k), "label 'poetry', which no candidate has; the pool's labels are 'chat', 'code', 'math', 'zz:1'");
  FAILS_ALL(wn_lobass_budgets_given(COMM, &lab, "code:5", 5, k), "asks for 5 candidates of label 'code', which has only 4");
  FAILS_ALL(wn_lobass_budgets_given(COMM, &lab, "math:2,chat:1", 10, k), "add up to 3 but the budget is 10: set -wn_budget 3");
  FAILS_ALL(wn_lobass_budgets_given(COMM, &lab, "math", 10, k), "is not label:count");
  /* prefixes do not match: "mat" is not "math" */
  FAILS_ALL(wn_lobass_budgets_given(COMM, &lab, "mat:1", 1, k), "label 'mat'");

  /* proportional on this table, then the grouped top-k with it */
  {
    double v[17];
    for (int64_t i = 0; i < n; i++) v[i] = (double)((i * 5) % 4);
    ck_assert(wn_lobass_budgets_proportional(lab.n, lab.count, 8, k) == 0); /* 8 * (6, 4, 6, 1) / 17 */
    ck_assert(k[0] + k[1] + k[2] + k[3] == 8);
    /* 2.82, 1.88, 2.82, 0.47 (remainders 14, 15, 14, 8 of 17): floors 2, 1, 2, 0; the 3 extras go to code (15), then
     * chat and math (14 each, equal sizes: label order) */
    ck_assert(k[0] == 3 && k[1] == 2 && k[2] == 3 && k[3] == 0);
    {
      int *gall = malloc(n * sizeof(int));
      for (int64_t i = 0; i < n; i++) {
        const char *s = label_of(i);
        gall[i] = !strcmp(s, "chat") ? 0 : !strcmp(s, "code") ? 1 : !strcmp(s, "math") ? 2 : 3;
      }
      ok &= topk_matches(n, v, gall, 4, k);
      free(gall);
    }
    WN_CK_ASSERT_ALL(COMM, ok);
  }
  wn_lobass_labels_destroy(&lab);
  wn_column_destroy(&c);
  /* a pool without labels */
  {
    wn_column none = {0};
    none.kind = WN_COLUMN_NONE;
    FAILS_ALL(wn_lobass_labels_create(&L, &none, &lab, group), "need candidate labels");
  }
}
END_TEST

START_TEST(labels_ints)
{
  const int64_t    vals[4] = {10, -3, 2, 10};
  wn_layout        L;
  wn_column        c = {0};
  wn_lobass_labels lab = {0};
  int              group[9], ok = 1;

  for (int n = 2; n <= 9; n += 7) { /* 2 rows (N < P on 3, 4 ranks) and 9 */
    wn_layout_init(COMM, n, &L);
    c.kind = WN_COLUMN_INT;
    c.n    = L.n_local;
    PetscMalloc1(L.n_local + 1, &c.ints);
    for (int64_t i = 0; i < L.n_local; i++) c.ints[i] = vals[(L.row_start + i) % 4];
    OK_ALL(wn_lobass_labels_create(&L, &c, &lab, group));
    if (n == 9) { /* numeric order: -3, 2, 10 */
      ck_assert_int_eq(lab.n, 3);
      ck_assert_str_eq(lab.names, "-3");
      ck_assert_str_eq(lab.names + lab.width, "2");
      ck_assert_str_eq(lab.names + 2 * lab.width, "10");
      ck_assert(lab.count[0] == 2 && lab.count[1] == 2 && lab.count[2] == 5);
    } else {
      ck_assert_int_eq(lab.n, 2);
      ck_assert_str_eq(lab.names, "-3");
    }
    for (int64_t i = 0; i < L.n_local; i++) ok &= strtoll(lab.names + (size_t)group[i] * lab.width, NULL, 10) == c.ints[i];
    WN_CK_ASSERT_ALL(COMM, ok);
    wn_lobass_labels_destroy(&lab);
    PetscFree(c.ints);
  }
}
END_TEST

/* ---- distributed: the loss reader -------------------------------------------------------------- */

/* A losses file: /signals/base64 (n_base float64, 1 + row / 4), /signals/loss_base (n_base float32, 0.5 + row / 8)
 * and /signals/tuned (n_tuned rows) as kind 0 float64 1-D (0.5 + row / 8), 1 float32 N x 1, 2 float32 N x 2,
 * 3 strings. Collective. */
static void write_file(const char *path, int64_t n_base, int64_t n_tuned, int tuned_kind)
{
  hid_t     f;
  wn_layout A, B;
  double   *x, *t;
  float    *a, *y;
  char     *s;

  wn_layout_init(COMM, n_base, &A);
  wn_layout_init(COMM, n_tuned, &B);
  x = malloc((size_t)(A.n_local + 1) * sizeof(double));
  a = malloc((size_t)(A.n_local + 1) * sizeof(float));
  t = malloc((size_t)(B.n_local + 1) * sizeof(double));
  y = malloc((size_t)(2 * B.n_local + 1) * sizeof(float));
  s = calloc((size_t)(B.n_local + 1) * 4, 1);
  for (int64_t i = 0; i < A.n_local; i++) {
    x[i] = 1.0 + (double)(A.row_start + i) / 4.0;
    a[i] = (float)(0.5 + (double)(A.row_start + i) / 8.0);
  }
  for (int64_t i = 0; i < B.n_local; i++) {
    t[i]         = 0.5 + (double)(B.row_start + i) / 8.0;
    y[2 * i]     = (float)t[i];
    y[2 * i + 1] = (float)t[i];
    snprintf(s + i * 4, 4, "x");
  }
  ck_assert(wn_h5_create(COMM, path, &f) == 0);
  ck_assert(wn_h5_write_rows_double(COMM, f, "/signals/base64", n_base, A.row_start, A.n_local, x) == 0);
  ck_assert(wn_h5_write_rows_float(COMM, f, "/signals/loss_base", n_base, 0, A.row_start, A.n_local, a, 0) == 0);
  if (tuned_kind == 0) ck_assert(wn_h5_write_rows_double(COMM, f, "/signals/tuned", n_tuned, B.row_start, B.n_local, t) == 0);
  else if (tuned_kind == 1) {
    for (int64_t i = 0; i < B.n_local; i++) y[i] = (float)t[i]; /* one column */
    ck_assert(wn_h5_write_rows_float(COMM, f, "/signals/tuned", n_tuned, 1, B.row_start, B.n_local, y, 0) == 0);
  }
  else if (tuned_kind == 2) ck_assert(wn_h5_write_rows_float(COMM, f, "/signals/tuned", n_tuned, 2, B.row_start, B.n_local, y, 0) == 0);
  else ck_assert(wn_h5_write_rows_strings(COMM, f, "/signals/tuned", n_tuned, B.row_start, B.n_local, s, 4) == 0);
  ck_assert(wn_h5_close(&f) == 0);
  free(x);
  free(a);
  free(t);
  free(y);
  free(s);
}

START_TEST(read_losses)
{
  char      dir[PETSC_MAX_PATH_LEN], p[PETSC_MAX_PATH_LEN];
  const int n = 11;
  wn_layout L;
  double    l0[11], l1[11];
  int       ok = 1;

  wn_test_tmpdir_make(dir, sizeof(dir));
  wn_layout_init(COMM, n, &L);
  /* float64 base, float64 tuned */
  snprintf(p, sizeof(p), "%s/good.h5", dir);
  write_file(p, n, n, 0);
  OK_ALL(wn_lobass_read_losses(&L, p, "/signals/base64", "/signals/tuned", l0, l1));
  for (int64_t i = 0; i < L.n_local; i++) ok &= l0[i] == 1.0 + (double)(L.row_start + i) / 4.0 && l1[i] == 0.5 + (double)(L.row_start + i) / 8.0;
  /* float32 base (1-D) */
  OK_ALL(wn_lobass_read_losses(&L, p, "/signals/loss_base", "/signals/tuned", l0, l1));
  for (int64_t i = 0; i < L.n_local; i++) ok &= l0[i] == (double)(float)(0.5 + (double)(L.row_start + i) / 8.0);
  WN_CK_ASSERT_ALL(COMM, ok);
  FAILS_ALL(wn_lobass_read_losses(&L, p, "/signals/base64", "/signals/nothere", l0, l1), "dataset /signals/nothere not found in");
  FAILS_ALL(wn_lobass_read_losses(&L, p, "/signals/base64", "/signals/nothere", l0, l1), "under the fine-tuned reference model (L1)");
  FAILS_ALL(wn_lobass_read_losses(&L, p, "/signals/nothere", "/signals/tuned", l0, l1), "losses under the base model (L0) (-wn_lobass_loss_base)");
  /* N x 1 float32 tuned is accepted */
  snprintf(p, sizeof(p), "%s/col.h5", dir);
  write_file(p, n, n, 1);
  OK_ALL(wn_lobass_read_losses(&L, p, "/signals/base64", "/signals/tuned", l0, l1));
  /* wrong length */
  snprintf(p, sizeof(p), "%s/short.h5", dir);
  write_file(p, n, n - 1, 0);
  FAILS_ALL(wn_lobass_read_losses(&L, p, "/signals/base64", "/signals/tuned", l0, l1), "dataset /signals/tuned in");
  FAILS_ALL(wn_lobass_read_losses(&L, p, "/signals/base64", "/signals/tuned", l0, l1), "has 10 values; expected N = 11");
  /* N x 2 */
  snprintf(p, sizeof(p), "%s/wide.h5", dir);
  write_file(p, n, n, 2);
  FAILS_ALL(wn_lobass_read_losses(&L, p, "/signals/base64", "/signals/tuned", l0, l1), "is 2-D (11 x 2)");
  /* strings */
  snprintf(p, sizeof(p), "%s/str.h5", dir);
  write_file(p, n, n, 3);
  FAILS_ALL(wn_lobass_read_losses(&L, p, "/signals/base64", "/signals/tuned", l0, l1), "holds strings");
  /* missing file */
  snprintf(p, sizeof(p), "%s/none.h5", dir);
  FAILS_ALL(wn_lobass_read_losses(&L, p, "/signals/base64", "/signals/tuned", l0, l1), "cannot open");
  /* N < P: the same file read with N = 2 rows fails on length, with N = 11 on 4 ranks works (checked above) */
  {
    wn_layout S;
    snprintf(p, sizeof(p), "%s/good.h5", dir);
    wn_layout_init(COMM, 2, &S);
    FAILS_ALL(wn_lobass_read_losses(&S, p, "/signals/base64", "/signals/tuned", l0, l1), "has 11 values; expected N = 2");
    snprintf(p, sizeof(p), "%s/two.h5", dir);
    write_file(p, 2, 2, 0);
    OK_ALL(wn_lobass_read_losses(&S, p, "/signals/base64", "/signals/tuned", l0, l1));
    for (int64_t i = 0; i < S.n_local; i++) ok &= l0[i] == 1.0 + (double)(S.row_start + i) / 4.0;
    WN_CK_ASSERT_ALL(COMM, ok);
  }
  wn_test_tmpdir_remove(dir);
}
END_TEST

static Suite *suite(void)
{
  Suite *s    = suite_create("lobass");
  TCase *pure = tcase_create("pure"), *dist = tcase_create("distributed");

  tcase_add_test(pure, scores_hand);
  tcase_add_test(pure, budgets_proportional_hand);
  tcase_add_test(pure, budgets_proportional_random);
  tcase_add_test(pure, budgets_syntax);
  tcase_add_test(dist, scores_distributed);
  tcase_add_test(dist, scores_refused);
  tcase_add_test(dist, topk_hand_every_k);
  tcase_add_test(dist, topk_random_ties);
  tcase_add_test(dist, topk_grouped);
  tcase_add_test(dist, topk_refused);
  tcase_add_test(dist, check_catches);
  tcase_add_test(dist, labels_strings_and_given);
  tcase_add_test(dist, labels_ints);
  tcase_add_test(dist, read_losses);
  suite_add_tcase(s, pure);
  suite_add_tcase(s, dist);
  return s;
}

int main(int argc, char **argv) { return wn_test_run(argc, argv, suite); }
