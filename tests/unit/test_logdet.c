/* test_logdet.c - check suite for src/logdet.c (log-determinants by ScaLAPACK pdpotrf and LAPACK dpotrf).
 *
 * pure:        wn_logdet_lapack on closed forms (a diagonal matrix, a 2 x 2, the identity, n = 0), INFO for
 *              a negative pivot and an exactly rank-one matrix, argument errors; wn_logdet_bytes against
 *              hand-computed ceil splits and NUMROC counts.
 * distributed: closed forms through the distributed path; random SPD matrices A = B B^T + n I (B from a
 *              counter-based generator, so every rank builds the same A) for n = 1, 7, 37, 100 and
 *              nb = 1, 3, 8, 64 against wn_logdet_lapack to 1e-12 relative; explicit grids 1 x P, P x 1
 *              (and 2 x 2 on 4 ranks); refused grids, n, and arguments that differ between ranks;
 *              matrices that are not positive definite (INFO at the right order, as LAPACK's, on every
 *              rank, logdet NaN); n < P (ranks without rows) and n = 0; several fill calls per rank; a
 *              failing fill callback and a NaN entry on one rank (every rank fails, nobody hangs); a
 *              duplicated communicator and two disjoint sub-communicators working at the same time.
 * Every call also checks that the result is bitwise the same on every rank, that fill was called for
 * exactly this rank's ceil-split rows in consecutive ranges, and that bytes_per_rank equals
 * wn_logdet_bytes. Must pass as a singleton and on 2, 3 and 4 ranks (grids 1x1, 1x2, 1x3, 2x2).
 */
#include <limits.h>
#include <math.h>
#include <string.h>
#include "wn_test.h"
#include <winnow/logdet.h>
#include <winnow/util.h>

#define SEED_B 9731u

/* ---- matrices and the fill callback ---------------------------------------------------------- */

typedef struct {
  int64_t n;
  double *A;                /* n x n row-major, the same on every rank (owned by the test) */
  int64_t fail_row;         /* the callback fails on a call covering this row; -1: never */
  int64_t nan_row, nan_col; /* the callback writes a NaN here; -1: never */
  /* bookkeeping of the calls on this rank, checked after the run */
  int64_t lo, hi;           /* this rank's rows in the ceil split */
  int64_t next;             /* where the next call must start */
  int64_t rows;             /* rows produced */
  int     calls, bad;
} mat;

static PetscErrorCode mat_fill(void *vctx, int64_t r0, int64_t r1, double *out)
{
  mat *m = (mat *)vctx;

  PetscFunctionBeginUser;
  if (r0 != m->next || r1 <= r0 || r0 < m->lo || r1 > m->hi) m->bad = 1;
  m->next = r1;
  m->rows += r1 - r0;
  m->calls++;
  PetscCheck(m->fail_row < r0 || m->fail_row >= r1, PETSC_COMM_SELF, PETSC_ERR_USER, "test fill refuses row %lld", (long long)m->fail_row);
  memcpy(out, m->A + r0 * m->n, (size_t)((r1 - r0) * m->n) * sizeof(double));
  if (m->nan_row >= r0 && m->nan_row < r1) out[(m->nan_row - r0) * m->n + m->nan_col] = NAN;
  PetscFunctionReturn(PETSC_SUCCESS);
}

static void mat_alloc(mat *m, int64_t n)
{
  memset(m, 0, sizeof(*m));
  m->n        = n;
  m->A        = calloc((size_t)(n * n) + 1, sizeof(double));
  m->fail_row = m->nan_row = m->nan_col = -1;
  ck_assert(m->A != NULL);
}

static void mat_free(mat *m) { free(m->A); }

/* A = B B^T + n I with B uniform in [-1, 1) from (seed, i*n + j): symmetric bit for bit (the products are
 * summed in the same order for (i, j) and (j, i)), positive definite, the same on every rank. */
static void mat_random_spd(mat *m, int64_t n, uint64_t seed)
{
  double *B = malloc((size_t)(n * n + 1) * sizeof(double));

  mat_alloc(m, n);
  for (int64_t k = 0; k < n * n; k++) B[k] = 2.0 * wn_uniform01(seed, (uint64_t)k) - 1.0;
  for (int64_t i = 0; i < n; i++)
    for (int64_t j = 0; j <= i; j++) {
      double s = 0;
      for (int64_t k = 0; k < n; k++) s += B[i * n + k] * B[j * n + k];
      m->A[i * n + j] = m->A[j * n + i] = s + (i == j ? (double)n : 0.0);
    }
  free(B);
}

/* diag(1, 2, ..., n): log det = sum log(i). */
static void mat_diagonal(mat *m, int64_t n)
{
  mat_alloc(m, n);
  for (int64_t i = 0; i < n; i++) m->A[i * n + i] = (double)(i + 1);
}

/* v v^T with v_i = 1 + i % 3 (B B^T with B = v, rank one): every step is exact, the pivot of order 2 is 0. */
static void mat_rank_one(mat *m, int64_t n)
{
  mat_alloc(m, n);
  for (int64_t i = 0; i < n; i++)
    for (int64_t j = 0; j < n; j++) m->A[i * n + j] = (double)((1 + i % 3) * (1 + j % 3));
}

/* The serial reference on a copy. */
static void reference(const mat *m, double *logdet, int *info)
{
  double *a = malloc((size_t)(m->n * m->n + 1) * sizeof(double));

  memcpy(a, m->A, (size_t)(m->n * m->n) * sizeof(double));
  WN_CK_OK(wn_logdet_lapack(m->n, a, logdet, info));
  free(a);
}

/* Run the distributed path on comm and check what every run must satisfy; returns the error code.
 * The collective assertions use comm (the caller asserts over the world afterwards for sub-communicators). */
static PetscErrorCode run(MPI_Comm comm, mat *m, const wn_logdet_opts *opts, wn_logdet_result *res)
{
  int              rank, size, same, same_all, ok, ok_all;
  int64_t          mb;
  PetscErrorCode   e;
  wn_logdet_result r0;

  MPI_Comm_rank(comm, &rank);
  MPI_Comm_size(comm, &size);
  mb      = (m->n + size - 1) / size;
  m->lo   = (int64_t)rank * mb < m->n ? (int64_t)rank * mb : m->n;
  m->hi   = (int64_t)(rank + 1) * mb < m->n ? (int64_t)(rank + 1) * mb : m->n;
  m->next = m->lo;
  m->rows = 0;
  m->calls = m->bad = 0;
  memset(res, 0xff, sizeof(*res));
  e = wn_logdet_cholesky(comm, m->n, mat_fill, m, opts, res);
  if (e) return e;
  /* every rank holds the same bits */
  r0 = *res;
  (void)MPI_Bcast(&r0, (int)sizeof(r0), MPI_BYTE, 0, comm);
  same = memcmp(&r0, res, sizeof(r0)) == 0;
  (void)MPI_Allreduce(&same, &same_all, 1, MPI_INT, MPI_LAND, comm);
  ck_assert_msg(same_all, "the result differs between ranks");
  /* fill saw exactly this rank's rows, in order */
  ok = !m->bad && m->rows == m->hi - m->lo && (m->rows > 0 || m->calls == 0);
  (void)MPI_Allreduce(&ok, &ok_all, 1, MPI_INT, MPI_LAND, comm);
  ck_assert_msg(ok_all, "fill was called outside the ceil split or not in consecutive ranges");
  ck_assert_msg(res->bytes_per_rank == wn_logdet_bytes(m->n, size, opts), "bytes_per_rank %g != wn_logdet_bytes %g", res->bytes_per_rank,
                wn_logdet_bytes(m->n, size, opts));
  ck_assert(m->n == 0 || res->bytes_per_rank > 0);
  ck_assert(res->seconds_fill >= 0 && res->seconds_redist >= 0 && res->seconds_factor >= 0 && res->gflops >= 0);
  ck_assert(res->nprow * res->npcol == size && res->nb >= 1 && res->nb <= (m->n > 1 ? m->n : 1));
  return 0;
}

static int close_rel(double x, double ref, double tol) { return fabs(x - ref) <= tol * fabs(ref); }

/* ---- pure ------------------------------------------------------------------------------------ */

START_TEST(lapack_closed_forms)
{
  double a[81], ld;
  int    info;

  /* diag(1..6): log 720 */
  memset(a, 0, sizeof(a));
  for (int i = 0; i < 6; i++) a[i * 7] = i + 1;
  WN_CK_OK(wn_logdet_lapack(6, a, &ld, &info));
  ck_assert_int_eq(info, 0);
  ck_assert_double_eq_tol(ld, log(720.0), 1e-14);
  /* [[4, 2], [2, 3]]: det 8 */
  a[0] = 4, a[1] = 2, a[2] = 2, a[3] = 3;
  WN_CK_OK(wn_logdet_lapack(2, a, &ld, &info));
  ck_assert_int_eq(info, 0);
  ck_assert_double_eq_tol(ld, log(8.0), 1e-15);
  /* I: exactly 0 */
  memset(a, 0, sizeof(a));
  for (int i = 0; i < 9; i++) a[i * 10] = 1;
  WN_CK_OK(wn_logdet_lapack(9, a, &ld, &info));
  ck_assert(info == 0 && ld == 0.0);
  /* a negative diagonal entry at row 5: the leading minor of order 6 fails */
  memset(a, 0, sizeof(a));
  for (int i = 0; i < 9; i++) a[i * 10] = i == 5 ? -2 : 3;
  WN_CK_OK(wn_logdet_lapack(9, a, &ld, &info));
  ck_assert_int_eq(info, 6);
  ck_assert(isnan(ld));
  /* v v^T, v = (1, 2, 3, 1, 2): order 2 */
  for (int i = 0; i < 5; i++)
    for (int j = 0; j < 5; j++) a[i * 5 + j] = (1 + i % 3) * (1 + j % 3);
  WN_CK_OK(wn_logdet_lapack(5, a, &ld, &info));
  ck_assert_int_eq(info, 2);
  ck_assert(isnan(ld));
  /* n = 0; errors */
  WN_CK_OK(wn_logdet_lapack(0, NULL, &ld, &info));
  ck_assert(info == 0 && ld == 0.0);
  ck_assert(wn_logdet_lapack((int64_t)INT_MAX + 1, a, &ld, &info) != 0);
  ck_assert(strstr(wn_test_last_error(), "n = 2147483648") != NULL);
  ck_assert(wn_logdet_lapack(-1, a, &ld, &info) != 0);
  ck_assert(wn_logdet_lapack(3, NULL, &ld, &info) != 0);
  ck_assert(wn_logdet_lapack(3, a, NULL, &info) != 0);
}
END_TEST

START_TEST(bytes_closed_forms)
{
  wn_logdet_opts o;

  /* n 10 on 4 ranks, nb 3, grid 2 x 2: rank 0 holds ceil(10/4) = 3 source rows (30 doubles) and
     numroc(10, 3, 0, 2) = 6 rows x 6 columns (36): 66 doubles */
  o = (wn_logdet_opts){3, 0, 0};
  ck_assert_double_eq(wn_logdet_bytes(10, 4, &o), 66 * 8.0);
  /* one rank, default nb 64 capped at 10: 100 + 100 doubles */
  ck_assert_double_eq(wn_logdet_bytes(10, 1, NULL), 200 * 8.0);
  /* n 5 on 4 ranks, nb 64 -> 5, grid 2 x 2: 2 x 5 source rows + 5 x 5 on process (0, 0) */
  o = (wn_logdet_opts){64, 0, 0};
  ck_assert_double_eq(wn_logdet_bytes(5, 4, &o), 35 * 8.0);
  /* n 3 on 4 ranks (rank 3 has no rows), nb 1, grid 1 x 4: 1 x 3 source + 3 x 1 block-cyclic */
  o = (wn_logdet_opts){1, 1, 4};
  ck_assert_double_eq(wn_logdet_bytes(3, 4, &o), 6 * 8.0);
  /* grid 4 x 1 instead: 1 x 3 source + 1 x 3 */
  o = (wn_logdet_opts){1, 4, 1};
  ck_assert_double_eq(wn_logdet_bytes(3, 4, &o), 6 * 8.0);
  /* n 100, 3 ranks, nb 8, grid 1 x 3: 34 x 100 source; numroc(100, 8, 0, 3) = 36 columns, 100 rows */
  o = (wn_logdet_opts){8, 0, 0};
  ck_assert_double_eq(wn_logdet_bytes(100, 3, &o), (3400 + 3600) * 8.0);
  /* n = 0, and refused arguments */
  ck_assert_double_eq(wn_logdet_bytes(0, 4, NULL), 0);
  o = (wn_logdet_opts){0, 3, 1};
  ck_assert(wn_logdet_bytes(10, 4, &o) < 0);
  o = (wn_logdet_opts){0, 0, 4};
  ck_assert(wn_logdet_bytes(10, 4, &o) < 0);
  ck_assert(wn_logdet_bytes((int64_t)INT_MAX + 1, 4, NULL) < 0);
  ck_assert(wn_logdet_bytes(-1, 4, NULL) < 0);
}
END_TEST

/* ---- distributed ------------------------------------------------------------------------------ */

START_TEST(closed_forms_distributed)
{
  mat              m;
  wn_logdet_result r;
  wn_logdet_opts   o = {3, 0, 0};
  double           expect = 0;
  int              size;

  MPI_Comm_size(PETSC_COMM_WORLD, &size);
  mat_diagonal(&m, 11);
  for (int i = 1; i <= 11; i++) expect += log((double)i);
  OK_ALL(run(PETSC_COMM_WORLD, &m, &o, &r));
  WN_CK_ASSERT_ALL(PETSC_COMM_WORLD, r.info == 0 && close_rel(r.logdet, expect, 1e-14));
  mat_free(&m);

  mat_alloc(&m, 2);
  m.A[0] = 4, m.A[1] = 2, m.A[2] = 2, m.A[3] = 3;
  OK_ALL(run(PETSC_COMM_WORLD, &m, NULL, &r));
  WN_CK_ASSERT_ALL(PETSC_COMM_WORLD, r.info == 0 && close_rel(r.logdet, log(8.0), 1e-15) && r.nb == 2);
  mat_free(&m);

  mat_alloc(&m, 37);
  for (int i = 0; i < 37; i++) m.A[i * 37 + i] = 1;
  OK_ALL(run(PETSC_COMM_WORLD, &m, &o, &r));
  WN_CK_ASSERT_ALL(PETSC_COMM_WORLD, r.info == 0 && r.logdet == 0.0);
  mat_free(&m);

  /* n = 0: log det 0, nothing allocated, the default grid still reported */
  mat_alloc(&m, 0);
  OK_ALL(run(PETSC_COMM_WORLD, &m, NULL, &r));
  WN_CK_ASSERT_ALL(PETSC_COMM_WORLD, r.info == 0 && r.logdet == 0.0 && r.bytes_per_rank == 0 && m.calls == 0 && r.nprow * r.npcol == size);
  OK_ALL(wn_logdet_cholesky(PETSC_COMM_WORLD, 0, NULL, NULL, NULL, &r));
  WN_CK_ASSERT_ALL(PETSC_COMM_WORLD, r.info == 0 && r.logdet == 0.0);
  mat_free(&m);
}
END_TEST

START_TEST(random_against_lapack)
{
  const int64_t    ns[]  = {1, 7, 37, 100};
  const int        nbs[] = {1, 3, 8, 64};
  const int        grid_rows[] = {0, 1, 1, 1, 2}, grid_cols[] = {0, 1, 2, 3, 2};
  int              size;
  wn_logdet_result r;

  MPI_Comm_size(PETSC_COMM_WORLD, &size);
  for (size_t a = 0; a < sizeof(ns) / sizeof(ns[0]); a++) {
    mat    m;
    double ref;
    int    rinfo;

    mat_random_spd(&m, ns[a], SEED_B + (uint64_t)a);
    reference(&m, &ref, &rinfo);
    ck_assert_int_eq(rinfo, 0);
    for (size_t b = 0; b < sizeof(nbs) / sizeof(nbs[0]); b++) {
      wn_logdet_opts o = {nbs[b], 0, 0};
      int64_t        nb_used = nbs[b] < ns[a] ? nbs[b] : ns[a];

      OK_ALL(run(PETSC_COMM_WORLD, &m, &o, &r));
      if (!close_rel(r.logdet, ref, 1e-12)) fprintf(stderr, "n %lld nb %d: %.17g vs lapack %.17g\n", (long long)ns[a], nbs[b], r.logdet, ref);
      WN_CK_ASSERT_ALL(PETSC_COMM_WORLD, r.info == 0 && close_rel(r.logdet, ref, 1e-12));
      WN_CK_ASSERT_ALL(PETSC_COMM_WORLD, r.nb == nb_used && r.nprow <= r.npcol);
      if (size <= 4) WN_CK_ASSERT_ALL(PETSC_COMM_WORLD, r.nprow == grid_rows[size] && r.npcol == grid_cols[size]);
    }
    mat_free(&m);
  }
}
END_TEST

START_TEST(explicit_grids)
{
  int              size;
  mat              m;
  double           ref;
  int              rinfo;
  wn_logdet_result r;

  MPI_Comm_size(PETSC_COMM_WORLD, &size);
  mat_random_spd(&m, 37, SEED_B + 7);
  reference(&m, &ref, &rinfo);
  {
    wn_logdet_opts grids[3] = {{3, 1, size}, {3, size, 1}, {3, 2, size / 2}};
    int            n_grids  = size == 4 ? 3 : 2;

    for (int g = 0; g < n_grids; g++) {
      OK_ALL(run(PETSC_COMM_WORLD, &m, &grids[g], &r));
      WN_CK_ASSERT_ALL(PETSC_COMM_WORLD, r.nprow == grids[g].nprow && r.npcol == grids[g].npcol && r.nb == 3);
      WN_CK_ASSERT_ALL(PETSC_COMM_WORLD, r.info == 0 && close_rel(r.logdet, ref, 1e-12));
    }
  }
  /* refused: the grid does not match the ranks; one of the two zero; negative */
  {
    wn_logdet_opts bad[3] = {{0, size + 1, 1}, {0, 0, size}, {0, -1, -size}};
    for (int g = 0; g < 3; g++) FAILS_ALL(run(PETSC_COMM_WORLD, &m, &bad[g], &r), "does not match the");
  }
  /* refused: n too large for ScaLAPACK, negative n, no callback, arguments that differ between ranks */
  FAILS_ALL(wn_logdet_cholesky(PETSC_COMM_WORLD, (int64_t)INT_MAX + 1, mat_fill, &m, NULL, &r), "n = 2147483648");
  FAILS_ALL(wn_logdet_cholesky(PETSC_COMM_WORLD, -1, mat_fill, &m, NULL, &r), "n = -1");
  FAILS_ALL(wn_logdet_cholesky(PETSC_COMM_WORLD, 37, NULL, &m, NULL, &r), "fill callback is NULL");
  FAILS_ALL(wn_logdet_cholesky(PETSC_COMM_WORLD, 37, mat_fill, &m, NULL, NULL), "res is NULL");
  if (size > 1) {
    int            rank;
    wn_logdet_opts o1 = {3, 0, 0}, o2 = {8, 0, 0};

    MPI_Comm_rank(PETSC_COMM_WORLD, &rank);
    FAILS_ALL(wn_logdet_cholesky(PETSC_COMM_WORLD, rank == 1 ? 36 : 37, mat_fill, &m, NULL, &r), "matrix order n differs between ranks (36 to 37)");
    FAILS_ALL(wn_logdet_cholesky(PETSC_COMM_WORLD, 37, mat_fill, &m, rank == 1 ? &o2 : &o1, &r), "block size nb differs");
  }
  /* and the next call works */
  OK_ALL(run(PETSC_COMM_WORLD, &m, NULL, &r));
  WN_CK_ASSERT_ALL(PETSC_COMM_WORLD, r.info == 0 && close_rel(r.logdet, ref, 1e-12));
  mat_free(&m);
}
END_TEST

START_TEST(not_positive_definite)
{
  const int        nbs[] = {1, 3, 8, 64};
  const int64_t    bad_rows[] = {5, 30};
  wn_logdet_result r;

  for (size_t k = 0; k < sizeof(bad_rows) / sizeof(bad_rows[0]); k++) {
    mat    m;
    double ref;
    int    rinfo;

    /* a negative diagonal entry: the leading minors up to bad_row are positive definite, the next is not */
    mat_random_spd(&m, 37, SEED_B + 11);
    m.A[bad_rows[k] * 37 + bad_rows[k]] = -1;
    reference(&m, &ref, &rinfo);
    ck_assert_int_eq(rinfo, (int)bad_rows[k] + 1);
    for (size_t b = 0; b < sizeof(nbs) / sizeof(nbs[0]); b++) {
      wn_logdet_opts o = {nbs[b], 0, 0};
      OK_ALL(run(PETSC_COMM_WORLD, &m, &o, &r));
      if (r.info != rinfo) fprintf(stderr, "nb %d: pdpotrf INFO %d, dpotrf INFO %d\n", nbs[b], r.info, rinfo);
      WN_CK_ASSERT_ALL(PETSC_COMM_WORLD, r.info == rinfo && isnan(r.logdet));
    }
    mat_free(&m);
  }
  /* exactly rank one (B B^T with B a single column): every operation is exact, order 2 fails */
  {
    mat    m;
    double ref;
    int    rinfo;

    mat_rank_one(&m, 23);
    reference(&m, &ref, &rinfo);
    ck_assert_int_eq(rinfo, 2);
    for (size_t b = 0; b < sizeof(nbs) / sizeof(nbs[0]); b++) {
      wn_logdet_opts o = {nbs[b], 0, 0};
      OK_ALL(run(PETSC_COMM_WORLD, &m, &o, &r));
      WN_CK_ASSERT_ALL(PETSC_COMM_WORLD, r.info == 2 && isnan(r.logdet));
    }
    mat_free(&m);
  }
}
END_TEST

START_TEST(fewer_rows_than_ranks)
{
  int              size;
  wn_logdet_result r;
  const int64_t    ns[] = {1, 2, 3, 5};

  MPI_Comm_size(PETSC_COMM_WORLD, &size);
  for (size_t a = 0; a < sizeof(ns) / sizeof(ns[0]); a++)
    for (int nb = 0; nb <= 2; nb++) {
      mat            m;
      double         ref;
      int            rinfo, empty = 0, empty_ranks = 0;
      wn_logdet_opts o = {nb, 0, 0};

      mat_random_spd(&m, ns[a], SEED_B + 20 + (uint64_t)a);
      reference(&m, &ref, &rinfo);
      OK_ALL(run(PETSC_COMM_WORLD, &m, &o, &r));
      WN_CK_ASSERT_ALL(PETSC_COMM_WORLD, r.info == 0 && close_rel(r.logdet, ref, 1e-12));
      /* with the ceil split, some ranks own nothing whenever n < P (and for n = 5 on 4 ranks: 2 2 1 0) */
      empty = m.hi == m.lo;
      (void)MPI_Allreduce(&empty, &empty_ranks, 1, MPI_INT, MPI_SUM, PETSC_COMM_WORLD);
      WN_CK_ASSERT_ALL(PETSC_COMM_WORLD, ns[a] >= size || empty_ranks >= size - ns[a]);
      mat_free(&m);
    }
}
END_TEST

START_TEST(fill_in_chunks)
{
  /* 300 columns: at most 65536 / 300 = 218 rows per fill call, so a rank with 300 rows needs two calls */
  mat              m;
  double           ref;
  int              rinfo, size, calls_ok;
  wn_logdet_result r;
  wn_logdet_opts   o = {16, 0, 0};

  MPI_Comm_size(PETSC_COMM_WORLD, &size);
  mat_random_spd(&m, 300, SEED_B + 30);
  reference(&m, &ref, &rinfo);
  OK_ALL(run(PETSC_COMM_WORLD, &m, &o, &r));
  WN_CK_ASSERT_ALL(PETSC_COMM_WORLD, r.info == 0 && close_rel(r.logdet, ref, 1e-12));
  calls_ok = m.calls == (int)((m.hi - m.lo + 217) / 218);
  WN_CK_ASSERT_ALL(PETSC_COMM_WORLD, calls_ok);
  mat_free(&m);
}
END_TEST

START_TEST(fill_errors)
{
  mat              m;
  double           ref;
  int              rinfo;
  wn_logdet_result r;

  mat_random_spd(&m, 37, SEED_B + 40);
  reference(&m, &ref, &rinfo);
  m.fail_row = 36; /* on the last rank that owns rows only */
  FAILS_ALL(run(PETSC_COMM_WORLD, &m, NULL, &r), "fill callback failed on rows");
  FAILS_ALL(run(PETSC_COMM_WORLD, &m, NULL, &r), "test fill refuses row 36");
  m.fail_row = -1;
  m.nan_row  = 5;
  m.nan_col  = 2;
  FAILS_ALL(run(PETSC_COMM_WORLD, &m, NULL, &r), "row 5 of the 37 x 37 matrix has a NaN or Inf value at column 2");
  m.nan_row = -1;
  OK_ALL(run(PETSC_COMM_WORLD, &m, NULL, &r));
  WN_CK_ASSERT_ALL(PETSC_COMM_WORLD, r.info == 0 && close_rel(r.logdet, ref, 1e-12));
  mat_free(&m);
}
END_TEST

START_TEST(other_communicators)
{
  int              rank, ok;
  MPI_Comm         dup, half;
  wn_logdet_result r;
  wn_logdet_opts   o = {4, 0, 0};

  MPI_Comm_rank(PETSC_COMM_WORLD, &rank);
  /* a duplicate of the world */
  {
    mat    m;
    double ref;
    int    rinfo;

    MPI_Comm_dup(PETSC_COMM_WORLD, &dup);
    mat_random_spd(&m, 29, SEED_B + 50);
    reference(&m, &ref, &rinfo);
    OK_ALL(run(dup, &m, &o, &r));
    WN_CK_ASSERT_ALL(PETSC_COMM_WORLD, r.info == 0 && close_rel(r.logdet, ref, 1e-12));
    MPI_Comm_free(&dup);
    mat_free(&m);
  }
  /* two disjoint halves (even and odd world ranks), each with its own matrix, at the same time */
  {
    mat            m;
    double         ref;
    int            rinfo, color = rank % 2, hsize;
    PetscErrorCode e;

    MPI_Comm_split(PETSC_COMM_WORLD, color, rank, &half);
    MPI_Comm_size(half, &hsize);
    mat_random_spd(&m, 19 + 8 * color, SEED_B + 60 + (uint64_t)color);
    reference(&m, &ref, &rinfo);
    e = run(half, &m, &o, &r);
    ok = e == 0 && r.info == 0 && close_rel(r.logdet, ref, 1e-12) && r.nprow * r.npcol == hsize;
    WN_CK_ASSERT_ALL(PETSC_COMM_WORLD, ok);
    MPI_Comm_free(&half);
    mat_free(&m);
  }
}
END_TEST

static Suite *make_suite(void)
{
  Suite *s  = suite_create("logdet");
  TCase *tp = tcase_create("pure"), *td = tcase_create("distributed");

  tcase_add_test(tp, lapack_closed_forms);
  tcase_add_test(tp, bytes_closed_forms);
  tcase_add_test(td, closed_forms_distributed);
  tcase_add_test(td, random_against_lapack);
  tcase_add_test(td, explicit_grids);
  tcase_add_test(td, not_positive_definite);
  tcase_add_test(td, fewer_rows_than_ranks);
  tcase_add_test(td, fill_in_chunks);
  tcase_add_test(td, fill_errors);
  tcase_add_test(td, other_communicators);
  suite_add_tcase(s, tp);
  suite_add_tcase(s, td);
  return s;
}

int main(int argc, char **argv) { return wn_test_run(argc, argv, make_suite); }
