/* test_facility.c - check suite for src/facility.c: the facility-location family objective.
 *
 * pure:        gains and updates on hand-computed 3 x 4 matrices for FL, FLMI (caps) and FLCG (floors),
 *              cap/floor constructions on hand matrices (including the FLT_MIN quirk).
 * distributed: caps/floors against brute force on random matrices split over the ranks; gain() and
 *              gain_all() against a re-implementation of the documented summation order (bitwise); the
 *              capped loop with cap = +inf against the uncapped loop (bitwise); errors on every rank.
 * sparse:      the objective on top-k kernels (wn_facility_create_sparse): hand gains, payloads and updates for
 *              FL, FLMI and FLCG; gains bitwise equal to the dense gains of the zero-filled top-k matrix (and of
 *              the matrix itself for k = T) before and after updates; gains never increase; errors.
 * Dense kernels are built directly (wn_layout_init + values), not with wn_kernel_compute; sparse kernels by
 * wn_kernel_sparse_compute with the dot metric against the identity, which reproduces a matrix exactly.
 */
#include <float.h>
#include <math.h>
#include <string.h>
#include <winnow/facility.h>
#include <winnow/util.h>
#include "wn_test.h"
#include "wn_test_kernel.h"

/* N x T matrix of powers of two over a wide range (2^0 .. 2^-60): double sums of such terms round, so
 * they detect any change of the summation order (random values in [0, 1) sum exactly in double). */
static PetscErrorCode test_wide_matrix(uint64_t seed, int64_t N, int64_t T, float **A)
{
  PetscFunctionBeginUser;
  PetscCall(PetscMalloc1((size_t)(N * T) + 1, A));
  for (int64_t i = 0; i < N * T; i++) (*A)[i] = ldexpf(1.0f, -(int)(61 * wn_uniform01(seed, (uint64_t)i)));
  PetscFunctionReturn(PETSC_SUCCESS);
}

/* The documented order, written plainly: term t in float, added in double to accumulator t mod 8,
 * accumulators combined ((a0 + a1) + (a2 + a3)) + ((a4 + a5) + (a6 + a7)). */
static double test_reference_gain(const float *row, const float *cap, const float *floor, int64_t T)
{
  double acc[8] = {0, 0, 0, 0, 0, 0, 0, 0};

  for (int64_t t = 0; t < T; t++) {
    float v = row[t], d;
    if (cap && cap[t] < v) v = cap[t];
    d = v - floor[t];
    acc[t % 8] += (double)(d > 0.0f ? d : 0.0f);
  }
  return ((acc[0] + acc[1]) + (acc[2] + acc[3])) + ((acc[4] + acc[5]) + (acc[6] + acc[7]));
}

/* The hand matrix used by the pure tests (values exact in binary). */
static const float hand_K[3 * 4] = {
  0.5f,  0.25f, 0.0f,  1.0f,   /* row 0 */
  0.75f, 0.0f,  0.5f,  -0.25f, /* row 1 */
  0.25f, 0.5f,  0.25f, 0.5f,   /* row 2 */
};

/* Gains of the local rows of K against expected[global row]; every rank checks what it owns. */
static int check_gains(const wn_objective *obj, const double *expected)
{
  int ok = 1;

  for (int64_t i = 0; i < obj->layout->n_local; i++) {
    double g = -1;
    if (obj->gain(obj->ctx, i, &g)) return 0;
    if (g != expected[obj->layout->row_start + i]) ok = 0;
  }
  return ok;
}

/* Pick global row g: its owner packs, everyone updates (a one-pick version of the engine). */
static PetscErrorCode test_pick(wn_objective *obj, int64_t g, const float *global_K)
{
  float *payload;

  PetscFunctionBeginUser;
  PetscCall(PetscMalloc1(obj->payload_bytes / sizeof(float) + 1, &payload));
  if (g >= obj->layout->row_start && g < obj->layout->row_start + obj->layout->n_local) {
    PetscCall(obj->pack(obj->ctx, g - obj->layout->row_start, payload));
    /* the payload is the picked row of K */
    PetscCheck(memcmp(payload, global_K + g * (int64_t)(obj->payload_bytes / sizeof(float)), obj->payload_bytes) == 0, PETSC_COMM_SELF,
               PETSC_ERR_PLIB, "payload is not row %lld", (long long)g);
  }
  PetscCallMPI(MPI_Bcast(payload, (int)obj->payload_bytes, MPI_BYTE, wn_layout_owner(obj->layout->n_global, obj->layout->size, g),
                         obj->layout->comm));
  PetscCall(obj->update(obj->ctx, g, payload));
  PetscCall(PetscFree(payload));
  PetscFunctionReturn(PETSC_SUCCESS);
}

START_TEST(fl_hand)
{
  MPI_Comm      comm = PETSC_COMM_WORLD;
  wn_kernel    *K;
  wn_objective *obj;
  /* gain(c) = sum_t max(0, K[c, t] - floor_t), floor 0:
     row 0: .5 + .25 + 0 + 1 = 1.75; row 1: .75 + 0 + .5 + 0 = 1.25; row 2: .25 + .5 + .25 + .5 = 1.5 */
  const double  g0[3] = {1.75, 1.25, 1.5};
  /* after row 0, floor = (.5, .25, 0, 1): row 1: .25 + 0 + .5 + 0 = .75; row 2: 0 + .25 + .25 + 0 = .5 */
  const double  g1[3] = {0.0, 0.75, 0.5};
  /* after row 1 too, floor = (.75, .25, .5, 1): row 2: 0 + .25 + 0 + 0 = .25 */
  const double  g2[3] = {0.0, 0.0, 0.25};

  WN_CK_OK(test_kernel_from_global(comm, 3, 4, hand_K, &K));
  WN_CK_OK(wn_facility_create(K, NULL, NULL, &obj));
  ck_assert_str_eq(obj->name, "FL");
  ck_assert(obj->payload_bytes == 4 * sizeof(float));
  ck_assert(obj->lazy_ok);
  WN_CK_ASSERT_ALL(comm, check_gains(obj, g0));
  WN_CK_OK(test_pick(obj, 0, hand_K));
  WN_CK_ASSERT_ALL(comm, check_gains(obj, g1)); /* a picked row has gain 0 */
  WN_CK_OK(test_pick(obj, 1, hand_K));
  WN_CK_ASSERT_ALL(comm, check_gains(obj, g2));
  WN_CK_OK(wn_objective_destroy(&obj));
  ck_assert(obj == NULL);
  WN_CK_OK(wn_kernel_destroy(&K));
}
END_TEST

START_TEST(flmi_hand)
{
  MPI_Comm      comm   = PETSC_COMM_WORLD;
  const float   cap[4] = {0.5f, 0.5f, 0.25f, 0.5f};
  wn_kernel    *K;
  wn_objective *obj;
  /* gain(c) = sum_t max(0, min(K[c, t], cap_t)):
     row 0: .5 + .25 + 0 + .5 = 1.25; row 1: .5 + 0 + .25 + 0 = .75; row 2: .25 + .5 + .25 + .5 = 1.5 */
  const double  g0[3] = {1.25, 0.75, 1.5};
  /* after row 2, floor = min(row 2, cap) = (.25, .5, .25, .5):
     row 0: .25 + 0 + 0 + 0 = .25; row 1: .25 + 0 + 0 + 0 = .25; row 2: 0 */
  const double  g1[3] = {0.25, 0.25, 0.0};

  WN_CK_OK(test_kernel_from_global(comm, 3, 4, hand_K, &K));
  WN_CK_OK(wn_facility_create(K, cap, NULL, &obj));
  ck_assert_str_eq(obj->name, "FLMI");
  WN_CK_ASSERT_ALL(comm, check_gains(obj, g0));
  WN_CK_OK(test_pick(obj, 2, hand_K));
  WN_CK_ASSERT_ALL(comm, check_gains(obj, g1));
  WN_CK_OK(wn_objective_destroy(&obj));
  WN_CK_OK(wn_kernel_destroy(&K));
}
END_TEST

START_TEST(flcg_hand)
{
  MPI_Comm      comm     = PETSC_COMM_WORLD;
  const float   floor[4] = {0.5f, 0.0f, 0.25f, 0.5f};
  wn_kernel    *K;
  wn_objective *obj;
  /* gain(c) = sum_t max(0, K[c, t] - floor_t), floor from the private set:
     row 0: 0 + .25 + 0 + .5 = .75; row 1: .25 + 0 + .25 + 0 = .5; row 2: 0 + .5 + 0 + 0 = .5 */
  const double  g0[3] = {0.75, 0.5, 0.5};
  /* after row 0, floor = (.5, .25, .25, 1): row 1: .25 + 0 + .25 + 0 = .5; row 2: 0 + .25 + 0 + 0 = .25 */
  const double  g1[3] = {0.0, 0.5, 0.25};

  WN_CK_OK(test_kernel_from_global(comm, 3, 4, hand_K, &K));
  WN_CK_OK(wn_facility_create(K, NULL, floor, &obj));
  ck_assert_str_eq(obj->name, "FLCG");
  WN_CK_ASSERT_ALL(comm, check_gains(obj, g0));
  WN_CK_OK(test_pick(obj, 0, hand_K));
  WN_CK_ASSERT_ALL(comm, check_gains(obj, g1));
  WN_CK_OK(wn_objective_destroy(&obj));
  WN_CK_OK(wn_kernel_destroy(&K));
}
END_TEST

START_TEST(caps_floors_hand)
{
  MPI_Comm    comm  = PETSC_COMM_WORLD;
  /* 4 pool rows x 2 side columns */
  const float S[8]  = {0.25f, 0.75f, -0.5f, -0.25f, 0.0f, 0.0f, 1.0f, 0.5f};
  wn_kernel  *SQ;
  float      *cap = NULL, *floor = NULL;

  WN_CK_OK(test_kernel_from_global(comm, 4, 2, S, &SQ));
  /* eta = 0.5: maxima .75, -.25, 0, 1 -> .375, then FLT_MIN for -.125 and for 0, then .5 */
  WN_CK_OK(wn_facility_flmi_caps(SQ, 0.5, &cap));
  ck_assert(cap[0] == 0.375f && cap[1] == FLT_MIN && cap[2] == FLT_MIN && cap[3] == 0.5f);
  PetscFree(cap);
  /* eta = -1: every product <= 0 except row 1 (0.25) -> FLT_MIN, .25, FLT_MIN, FLT_MIN */
  WN_CK_OK(wn_facility_flmi_caps(SQ, -1.0, &cap));
  ck_assert(cap[0] == FLT_MIN && cap[1] == 0.25f && cap[2] == FLT_MIN && cap[3] == FLT_MIN);
  PetscFree(cap);
  /* nu = 2: 1.5, max(0, -.5) = 0, 0, 2 */
  WN_CK_OK(wn_facility_flcg_floors(SQ, 2.0, &floor));
  ck_assert(floor[0] == 1.5f && floor[1] == 0.0f && floor[2] == 0.0f && floor[3] == 2.0f);
  ck_assert(!signbit(floor[1]) && !signbit(floor[2]));
  PetscFree(floor);
  WN_CK_OK(wn_kernel_destroy(&SQ));
}
END_TEST

START_TEST(caps_floors_brute_force)
{
  MPI_Comm   comm = PETSC_COMM_WORLD;
  int64_t    sizes[3][2] = {{7, 5}, {2, 3}, {23, 1}}; /* N x M; N = 2 < P on 3 and 4 ranks */
  wn_kernel *SQ;
  float     *A, *cap, *floor;

  for (int s = 0; s < 3; s++) {
    int64_t N = sizes[s][0], M = sizes[s][1];
    int     ok = 1;
    WN_CK_OK(test_random_matrix(100 + s, N, M, -0.3, 1.0, &A));
    WN_CK_OK(test_kernel_from_global(comm, N, M, A, &SQ));
    WN_CK_OK(wn_facility_flmi_caps(SQ, 0.8, &cap));
    WN_CK_OK(wn_facility_flcg_floors(SQ, 1.0, &floor));
    for (int64_t i = 0; i < N; i++) {
      float m = -INFINITY, c, f;
      for (int64_t q = 0; q < M; q++) m = fmaxf(m, A[i * M + q]);
      c = fmaxf(FLT_MIN, (float)(0.8 * (double)m));
      f = fmaxf(0.0f, m);
      if (cap[i] != c || floor[i] != f) ok = 0;
    }
    WN_CK_ASSERT_ALL(comm, ok);
    PetscFree(cap);
    PetscFree(floor);
    PetscFree(A);
    WN_CK_OK(wn_kernel_destroy(&SQ));
  }
}
END_TEST

/* gain(), gain_all() and the documented order agree bitwise, for widths that are and are not multiples of 8,
 * with and without caps and floors, on ordinary and on order-sensitive (wide-range) values; cap = +inf gives
 * the uncapped bits. */
START_TEST(summation_order_bitwise)
{
  MPI_Comm   comm      = PETSC_COMM_WORLD;
  int64_t    widths[5] = {1, 8, 19, 64, 101};
  int        ok        = 1;

  for (int w = 0; w < 10; w++) {
    int64_t       N = 9, T = widths[w % 5];
    float        *A, *cap, *floor, *inf;
    wn_kernel    *K;
    wn_objective *plain, *capped, *floored, *infcap;
    double       *all;
    unsigned char sel[9] = {0, 1, 0, 0, 0, 0, 0, 0, 0};

    if (w < 5) WN_CK_OK(test_random_matrix(7 + w, N, T, -0.2, 1.2, &A));
    else WN_CK_OK(test_wide_matrix(7 + w, N, T, &A));
    WN_CK_OK(PetscMalloc3(T, &cap, T, &floor, T, &inf));
    for (int64_t t = 0; t < T; t++) {
      cap[t]   = (float)(0.3 + 0.6 * wn_uniform01(99, (uint64_t)t));
      floor[t] = w < 5 ? (float)(0.4 * wn_uniform01(98, (uint64_t)t)) : 0.0f;
      inf[t]   = INFINITY;
    }
    WN_CK_OK(test_kernel_from_global(comm, N, T, A, &K));
    WN_CK_OK(wn_facility_create(K, NULL, NULL, &plain));
    WN_CK_OK(wn_facility_create(K, cap, floor, &capped));
    WN_CK_OK(wn_facility_create(K, NULL, floor, &floored));
    WN_CK_OK(wn_facility_create(K, inf, NULL, &infcap));
    WN_CK_OK(PetscMalloc1(N, &all));
    for (int64_t i = 0; i < K->layout.n_local; i++) {
      int64_t      g    = K->layout.row_start + i;
      const float *row  = A + g * T;
      float        zero[128];
      double       a, b, c, d;
      memset(zero, 0, sizeof(zero));
      WN_CK_OK(plain->gain(plain->ctx, i, &a));
      WN_CK_OK(capped->gain(capped->ctx, i, &b));
      WN_CK_OK(floored->gain(floored->ctx, i, &c));
      WN_CK_OK(infcap->gain(infcap->ctx, i, &d));
      if (memcmp(&a, &(double){test_reference_gain(row, NULL, zero, T)}, sizeof(double))) ok = 0;
      if (memcmp(&b, &(double){test_reference_gain(row, cap, floor, T)}, sizeof(double))) ok = 0;
      if (memcmp(&c, &(double){test_reference_gain(row, NULL, floor, T)}, sizeof(double))) ok = 0;
      if (memcmp(&d, &a, sizeof(double))) ok = 0;
    }
    /* gain_all: same bits, and entries flagged selected are left untouched */
    for (int64_t i = 0; i < N; i++) all[i] = -7.0;
    WN_CK_OK(capped->gain_all(capped->ctx, sel + K->layout.row_start, all));
    for (int64_t i = 0; i < K->layout.n_local; i++) {
      double g;
      WN_CK_OK(capped->gain(capped->ctx, i, &g));
      if (sel[K->layout.row_start + i] ? all[i] != -7.0 : memcmp(&g, &all[i], sizeof(double)) != 0) ok = 0;
    }
    WN_CK_ASSERT_ALL(comm, ok);
    WN_CK_OK(wn_objective_destroy(&plain));
    WN_CK_OK(wn_objective_destroy(&capped));
    WN_CK_OK(wn_objective_destroy(&floored));
    WN_CK_OK(wn_objective_destroy(&infcap));
    WN_CK_OK(wn_kernel_destroy(&K));
    PetscFree(all);
    PetscFree3(cap, floor, inf);
    PetscFree(A);
  }
}
END_TEST

/* After updates, gains never increase (bitwise <=): the property lazy greedy relies on. */
START_TEST(gains_monotone_under_updates)
{
  MPI_Comm      comm = PETSC_COMM_WORLD;
  int64_t       N = 17, T = 29;
  float        *A, cap[29];
  wn_kernel    *K;
  wn_objective *obj;
  double        before[17], after[17];
  int           ok = 1;

  WN_CK_OK(test_random_matrix(5, N, T, -0.1, 1.0, &A));
  for (int64_t t = 0; t < T; t++) cap[t] = (float)(0.2 + 0.7 * wn_uniform01(4, (uint64_t)t));
  WN_CK_OK(test_kernel_from_global(comm, N, T, A, &K));
  WN_CK_OK(wn_facility_create(K, cap, NULL, &obj));
  for (int step = 0; step < 6; step++) {
    for (int64_t i = 0; i < K->layout.n_local; i++) WN_CK_OK(obj->gain(obj->ctx, i, &before[i]));
    WN_CK_OK(test_pick(obj, (step * 7) % N, A));
    for (int64_t i = 0; i < K->layout.n_local; i++) {
      WN_CK_OK(obj->gain(obj->ctx, i, &after[i]));
      if (!(after[i] <= before[i])) ok = 0;
    }
  }
  WN_CK_ASSERT_ALL(comm, ok);
  WN_CK_OK(wn_objective_destroy(&obj));
  WN_CK_OK(wn_kernel_destroy(&K));
  PetscFree(A);
}
END_TEST

START_TEST(errors_on_every_rank)
{
  MPI_Comm       comm = PETSC_COMM_WORLD;
  const float    S[6] = {1, 2, 3, 4, 5, 6};
  wn_kernel     *SQ, *empty;
  float         *out = NULL;
  PetscErrorCode ierr;

  WN_CK_OK(test_kernel_from_global(comm, 3, 2, S, &SQ));
  ierr = wn_facility_flmi_caps(SQ, NAN, &out);
  WN_CK_ASSERT_ALL(comm, ierr != 0 && out == NULL);
  ierr = wn_facility_flcg_floors(SQ, INFINITY, &out);
  WN_CK_ASSERT_ALL(comm, ierr != 0 && out == NULL);
  WN_CK_OK(test_kernel_from_global(comm, 3, 0, S, &empty));
  ierr = wn_facility_flmi_caps(empty, 1.0, &out);
  WN_CK_ASSERT_ALL(comm, ierr != 0 && out == NULL);
  WN_CK_OK(wn_kernel_destroy(&empty));
  WN_CK_OK(wn_kernel_destroy(&SQ));
}
END_TEST

/* ---- the sparse objective --------------------------------------------------------------------- */

/* Brute-force top-k of every row of the global N x T matrix A (largest values, ties to the lower column),
 * returned as the dense matrix with every other entry set to 0. */
static PetscErrorCode test_topk_zero_filled(int64_t N, int64_t T, const float *A, int64_t k, float **Z)
{
  unsigned char *taken;

  PetscFunctionBeginUser;
  PetscCall(PetscCalloc1((size_t)(N * T) + 1, Z));
  PetscCall(PetscMalloc1((size_t)T + 1, &taken));
  for (int64_t i = 0; i < N; i++) {
    memset(taken, 0, (size_t)T);
    for (int64_t r = 0; r < PetscMin(k, T); r++) {
      int64_t best = -1;
      for (int64_t t = 0; t < T; t++)
        if (!taken[t] && (best < 0 || A[i * T + t] > A[i * T + best])) best = t;
      taken[best]          = 1;
      (*Z)[i * T + best] = A[i * T + best];
    }
  }
  PetscCall(PetscFree(taken));
  PetscFunctionReturn(PETSC_SUCCESS);
}

/* Sparse kernel of the top-k of every row of the global N x T matrix A, computed by the library: the dot metric
 * of A's rows against the T x T identity is A exactly (one product by 1, the others by 0). */
static PetscErrorCode test_sparse_from_global(MPI_Comm comm, int64_t N, int64_t T, const float *A, int64_t k, wn_sparse_kernel **S)
{
  wn_layout        layout;
  wn_kernel_params p;
  float           *eye;

  PetscFunctionBeginUser;
  PetscCall(wn_layout_init(comm, N, &layout));
  PetscCall(PetscCalloc1((size_t)(T * T), &eye));
  for (int64_t t = 0; t < T; t++) eye[t * T + t] = 1.0f;
  memset(&p, 0, sizeof(p));
  p.metric = WN_METRIC_DOT;
  PetscCall(wn_kernel_sparse_compute(&layout, T, A + layout.row_start * T, T, eye, &p, k, "user", S));
  PetscCall(PetscFree(eye));
  PetscFunctionReturn(PETSC_SUCCESS);
}

/* Pick global row g on a sparse objective: its owner packs (the payload must be the row of Z's nonzeros, count
 * first), everyone updates. */
static PetscErrorCode test_pick_sparse(wn_objective *obj, int64_t g, const float *Z, int64_t T)
{
  unsigned char *payload;

  PetscFunctionBeginUser;
  PetscCall(PetscCalloc1(obj->payload_bytes, &payload));
  if (g >= obj->layout->row_start && g < obj->layout->row_start + obj->layout->n_local) {
    int32_t count, n = 0;

    PetscCall(obj->pack(obj->ctx, g - obj->layout->row_start, payload));
    memcpy(&count, payload, sizeof(count));
    for (int64_t t = 0; t < T; t++) {
      struct {
        int32_t col;
        float   val;
      } e;
      if (Z[g * T + t] == 0.0f) continue;
      memcpy(&e, payload + 4 + 8 * (size_t)n, sizeof(e));
      PetscCheck(n < count && e.col == t && e.val == Z[g * T + t], PETSC_COMM_SELF, PETSC_ERR_PLIB, "payload entry %d of row %lld is not (%lld, %g)", (int)n,
                 (long long)g, (long long)t, (double)Z[g * T + t]);
      n++;
    }
    PetscCheck(n <= count, PETSC_COMM_SELF, PETSC_ERR_PLIB, "payload of row %lld holds %d entries; expected at least %d", (long long)g, (int)count, (int)n);
  }
  PetscCallMPI(MPI_Bcast(payload, (int)obj->payload_bytes, MPI_BYTE, wn_layout_owner(obj->layout->n_global, obj->layout->size, g), obj->layout->comm));
  PetscCall(obj->update(obj->ctx, g, payload));
  PetscCall(PetscFree(payload));
  PetscFunctionReturn(PETSC_SUCCESS);
}

/* hand_K with k = 2: row 0 keeps (0, .5) (3, 1); row 1 (0, .75) (2, .5); row 2 the two .5 at columns 1 and 3
 * (its .25 at columns 0 and 2 tie below them). */
START_TEST(sparse_hand)
{
  MPI_Comm          comm     = PETSC_COMM_WORLD;
  const float       cap[4]   = {0.5f, 0.5f, 0.25f, 0.5f};
  const float       floor[4] = {0.5f, 0.0f, 0.25f, 0.5f};
  const float       Z[12]    = {0.5f, 0, 0, 1.0f, 0.75f, 0, 0.5f, 0, 0, 0.5f, 0, 0.5f};
  wn_sparse_kernel *S;
  wn_objective     *obj;
  /* FL: .5 + 1 = 1.5; .75 + .5 = 1.25; .5 + .5 = 1 */
  const double      fl0[3] = {1.5, 1.25, 1.0};
  /* after row 0, floor = (.5, 0, 0, 1): row 1 .25 + .5 = .75; row 2 .5 + 0 = .5 */
  const double      fl1[3] = {0.0, 0.75, 0.5};
  /* FLMI: min(.5, .5) + min(1, .5) = 1; .5 + .25 = .75; .5 + .5 = 1 */
  const double      mi0[3] = {1.0, 0.75, 1.0};
  /* after row 2 (ties with row 0, the lower row wins in the engine, but here we pick 2 by hand):
     floor = (0, .5, 0, .5): row 0 .5 + 0 = .5; row 1 .5 + .25 = .75 */
  const double      mi1[3] = {0.5, 0.75, 0.0};
  /* FLCG: 0 + .5 = .5; .25 + .25 = .5; .5 + 0 = .5 */
  const double      cg0[3] = {0.5, 0.5, 0.5};

  WN_CK_OK(test_sparse_from_global(comm, 3, 4, hand_K, 2, &S));
  WN_CK_OK(wn_facility_create_sparse(S, NULL, NULL, &obj));
  ck_assert_str_eq(obj->name, "FL");
  ck_assert(obj->payload_bytes == 4 + 2 * 8);
  ck_assert(obj->lazy_ok && obj->layout == &S->layout);
  WN_CK_ASSERT_ALL(comm, check_gains(obj, fl0));
  WN_CK_OK(test_pick_sparse(obj, 0, Z, 4));
  WN_CK_ASSERT_ALL(comm, check_gains(obj, fl1));
  WN_CK_OK(wn_objective_destroy(&obj));
  WN_CK_OK(wn_facility_create_sparse(S, cap, NULL, &obj));
  ck_assert_str_eq(obj->name, "FLMI");
  WN_CK_ASSERT_ALL(comm, check_gains(obj, mi0));
  WN_CK_OK(test_pick_sparse(obj, 2, Z, 4));
  WN_CK_ASSERT_ALL(comm, check_gains(obj, mi1));
  WN_CK_OK(wn_objective_destroy(&obj));
  WN_CK_OK(wn_facility_create_sparse(S, NULL, floor, &obj));
  ck_assert_str_eq(obj->name, "FLCG");
  WN_CK_ASSERT_ALL(comm, check_gains(obj, cg0));
  WN_CK_OK(wn_objective_destroy(&obj));
  WN_CK_OK(wn_kernel_sparse_destroy(&S));
}
END_TEST

/* N x T matrix of 1 (a quarter) and 2^-53: in double, 1 + 2^-53 rounds back to 1 but 2^-53 + 2^-53 + 1 does not,
 * so the sum depends on which terms share an accumulator. */
static PetscErrorCode test_rounding_matrix(uint64_t seed, int64_t N, int64_t T, float **A)
{
  PetscFunctionBeginUser;
  PetscCall(PetscMalloc1((size_t)(N * T) + 1, A));
  for (int64_t i = 0; i < N * T; i++) (*A)[i] = wn_uniform01(seed, (uint64_t)i) < 0.25 ? 1.0f : ldexpf(1.0f, -53);
  PetscFunctionReturn(PETSC_SUCCESS);
}

/* The sparse gains are bitwise the dense gains of the zero-filled top-k matrix (k = T: of the matrix itself), for
 * widths that are and are not multiples of 8, with and without caps and floors, on ordinary and on
 * order-sensitive values (wide range; ones and 2^-53), before and after updates; gain_all agrees with gain. */
START_TEST(sparse_summation_bitwise)
{
  MPI_Comm comm      = PETSC_COMM_WORLD;
  int64_t  widths[5] = {1, 8, 19, 64, 101};
  int      ok        = 1;

  for (int w = 0; w < 15; w++) {
    int64_t N = 9, T = widths[w % 5];
    int64_t ks[3] = {T, (T + 1) / 2, 1};
    float  *A, *cap, *floor;

    if (w < 5) WN_CK_OK(test_random_matrix(7 + w, N, T, -0.2, 1.2, &A));
    else if (w < 10) WN_CK_OK(test_wide_matrix(7 + w, N, T, &A));
    else WN_CK_OK(test_rounding_matrix(7 + w, N, T, &A));
    WN_CK_OK(PetscMalloc2(T, &cap, T, &floor));
    for (int64_t t = 0; t < T; t++) {
      cap[t]   = (float)(0.3 + 0.6 * wn_uniform01(99, (uint64_t)t));
      floor[t] = w < 5 ? (float)(0.4 * wn_uniform01(98, (uint64_t)t)) : 0.0f;
    }
    for (int q = 0; q < 3; q++) {
      wn_sparse_kernel *S;
      wn_kernel        *KZ;
      float            *Z;
      wn_objective     *sp[3], *de[3];
      double           *all;

      WN_CK_OK(test_topk_zero_filled(N, T, A, ks[q], &Z));
      if (q == 0) WN_CK_ASSERT_ALL(comm, memcmp(Z, A, (size_t)(N * T) * sizeof(float)) == 0);
      WN_CK_OK(test_sparse_from_global(comm, N, T, A, ks[q], &S));
      WN_CK_OK(test_kernel_from_global(comm, N, T, Z, &KZ));
      WN_CK_OK(wn_facility_create_sparse(S, NULL, NULL, &sp[0]));
      WN_CK_OK(wn_facility_create_sparse(S, cap, floor, &sp[1]));
      WN_CK_OK(wn_facility_create_sparse(S, NULL, floor, &sp[2]));
      WN_CK_OK(wn_facility_create(KZ, NULL, NULL, &de[0]));
      WN_CK_OK(wn_facility_create(KZ, cap, floor, &de[1]));
      WN_CK_OK(wn_facility_create(KZ, NULL, floor, &de[2]));
      WN_CK_OK(PetscMalloc1(N, &all));
      for (int step = 0; step < 3; step++) {
        for (int o = 0; o < 3; o++) {
          for (int64_t i = 0; i < N; i++) all[i] = -7.0;
          WN_CK_OK(sp[o]->gain_all(sp[o]->ctx, NULL, all));
          for (int64_t i = 0; i < S->layout.n_local; i++) {
            double a, b;
            WN_CK_OK(sp[o]->gain(sp[o]->ctx, i, &a));
            WN_CK_OK(de[o]->gain(de[o]->ctx, i, &b));
            if (memcmp(&a, &b, sizeof(double)) || memcmp(&a, &all[i], sizeof(double))) {
              if (ok) fprintf(stderr, "w=%d T=%lld k=%lld objective %d step %d row %lld: sparse %.17g dense %.17g\n", w, (long long)T, (long long)ks[q], o, step,
                              (long long)(S->layout.row_start + i), a, b);
              ok = 0;
            }
          }
          /* pick row (3 step + o) mod N on both */
          WN_CK_OK(test_pick_sparse(sp[o], (3 * step + o) % N, Z, T));
          WN_CK_OK(test_pick(de[o], (3 * step + o) % N, Z));
        }
      }
      WN_CK_ASSERT_ALL(comm, ok);
      for (int o = 0; o < 3; o++) {
        WN_CK_OK(wn_objective_destroy(&sp[o]));
        WN_CK_OK(wn_objective_destroy(&de[o]));
      }
      WN_CK_OK(wn_kernel_sparse_destroy(&S));
      WN_CK_OK(wn_kernel_destroy(&KZ));
      PetscFree(Z);
      PetscFree(all);
    }
    PetscFree2(cap, floor);
    PetscFree(A);
  }
}
END_TEST

/* After updates, sparse gains never increase (bitwise <=), with k < T. */
START_TEST(sparse_gains_monotone)
{
  MPI_Comm          comm = PETSC_COMM_WORLD;
  int64_t           N = 17, T = 29;
  float            *A, *Z, cap[29];
  wn_sparse_kernel *S;
  wn_objective     *obj;
  double            before[17], after[17];
  int               ok = 1;

  WN_CK_OK(test_random_matrix(5, N, T, -0.1, 1.0, &A));
  for (int64_t t = 0; t < T; t++) cap[t] = (float)(0.2 + 0.7 * wn_uniform01(4, (uint64_t)t));
  WN_CK_OK(test_topk_zero_filled(N, T, A, 6, &Z));
  WN_CK_OK(test_sparse_from_global(comm, N, T, A, 6, &S));
  WN_CK_OK(wn_facility_create_sparse(S, cap, NULL, &obj));
  for (int step = 0; step < 6; step++) {
    for (int64_t i = 0; i < S->layout.n_local; i++) WN_CK_OK(obj->gain(obj->ctx, i, &before[i]));
    WN_CK_OK(test_pick_sparse(obj, (step * 7) % N, Z, T));
    for (int64_t i = 0; i < S->layout.n_local; i++) {
      WN_CK_OK(obj->gain(obj->ctx, i, &after[i]));
      if (!(after[i] <= before[i])) ok = 0;
    }
  }
  WN_CK_ASSERT_ALL(comm, ok);
  WN_CK_OK(wn_objective_destroy(&obj));
  WN_CK_OK(wn_kernel_sparse_destroy(&S));
  PetscFree(A);
  PetscFree(Z);
}
END_TEST

START_TEST(sparse_errors)
{
  MPI_Comm          comm   = PETSC_COMM_WORLD;
  const float       cap[4] = {1, NAN, 1, 1};
  wn_sparse_kernel *S;
  wn_objective     *obj    = NULL;

  WN_CK_OK(test_sparse_from_global(comm, 3, 4, hand_K, 2, &S));
  ck_assert_int_ne(wn_facility_create_sparse(NULL, NULL, NULL, &obj), 0);
  ck_assert_int_ne(wn_facility_create_sparse(S, cap, NULL, &obj), 0);
  ck_assert_int_ne(wn_facility_create_sparse(S, NULL, cap, &obj), 0);
  ck_assert_int_ne(wn_facility_create_sparse(S, NULL, NULL, NULL), 0);
  ck_assert_ptr_null(obj);
  WN_CK_OK(wn_kernel_sparse_destroy(&S));
}
END_TEST

static Suite *make_suite(void)
{
  Suite *s    = suite_create("facility");
  TCase *pure = tcase_create("pure"), *dist = tcase_create("distributed");

  tcase_add_test(pure, fl_hand);
  tcase_add_test(pure, flmi_hand);
  tcase_add_test(pure, flcg_hand);
  tcase_add_test(pure, caps_floors_hand);
  tcase_add_test(dist, caps_floors_brute_force);
  tcase_add_test(dist, summation_order_bitwise);
  tcase_add_test(dist, gains_monotone_under_updates);
  tcase_add_test(dist, errors_on_every_rank);
  tcase_add_test(pure, sparse_hand);
  tcase_add_test(dist, sparse_summation_bitwise);
  tcase_add_test(dist, sparse_gains_monotone);
  tcase_add_test(dist, sparse_errors);
  suite_add_tcase(s, pure);
  suite_add_tcase(s, dist);
  return s;
}

int main(int argc, char **argv) { return wn_test_run(argc, argv, make_suite); }
