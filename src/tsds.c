/* tsds.c - TSDS (Liu, Karbasi, Rekatsinas, NeurIPS 2024, arXiv 2410.11303): task-specific data selection by
 * optimal-transport alignment to the target set with a kernel-density penalty on near-duplicates, solved as
 * in the reference code (ZifanL/TSDS tsds.py, config.yaml defaults) by a water-filling over each target's
 * exact nearest candidates. METHODS.md section 4.2, steps 1-5, with its fixes for the reference's edge cases.
 *
 * Owns: the caps K = min(max_K, N / 10) and kde_K = min(kde_K, N / 10); the union U of the targets'
 * neighbour lists and the densities rho_u of the members the water-filling reaches (step 2); the
 * water-filling over (count, k, j) events with the stop rule (step 3); the per-candidate probabilities p
 * (step 4); and seeded sampling from p, with or without replacement (step 5). Leaves to knn.c the exact neighbour search, and to the method and pipeline
 * layers the options, the budget and the output.
 *
 * Determinism: the neighbour lists are replicated and rank-independent (knn.h); the densities and the
 * water-filling run replicated, in the same order on every rank; each candidate's p adds its queries'
 * masses in query order (then neighbour order), which is the reference's order. So p has the same bits on
 * any rank count, and so do the samples (an exact fixed-point CDF and a counter-based generator).
 *
 * Cost: the kNN of the targets is O(M N d). A density is a kNN search within U, O(|U| d) in sgemm, and |U|
 * approaches N when M K >> N (the reference's defaults on 100,000 synthetic candidates: |U| = N; all of them took
 * about 60-130 s on two cores here, where the reference's approximate IVF search scans a few percent). Three things
 * cut it, none changing a bit of p: (1) laziness: only the densities the water-filling reads are computed (rounds of
 * growing prefixes of the neighbour lists, see wn_tsds_probabilities; at that size 72,000 of the 100,000, as every
 * target reads about 87 neighbours); (2) the isolation certificate: a point with no other point within sigma has
 * density 1 exactly, which a bound on its distances to parts of U proves without its search (see tsds_cert_check;
 * all of them on those data, in about 1.5 s; on data without such structure it gives up early and costs at most a
 * quarter of the searches it could not spare); (3) only neighbours closer than sigma count, so a search asks for
 * k = 32 first and grows k only for the points whose list is still within sigma at its end. Every density search
 * pads its calls to whole query tiles, so a density has the same bits whichever points share its calls
 * (TSDS_QUERY_TILE): lazy and eager give the same p. The water-filling is O(M K log M) per round (0.1 s there).
 *
 * Test hooks (no header; tests/unit/test_tsds.c declares them with extern): wn_tsds_waterfill_ (steps 3-4 on
 * M x K arrays), wn_tsds_density_ (step 2 from neighbour distances), wn_tsds_block_bytes_ (the memory bound of one
 * kNN call, so tests can force many small query blocks), wn_tsds_eager_ (nonzero: every density of U, as the
 * environment variable WN_TSDS_EAGER=1 does), wn_tsds_certify_ (0: no isolation certificate), wn_tsds_lazy_start_
 * (> 0: the first round's prefix length instead of the unit-density prediction) and wn_tsds_stats_ (the last
 * call's rounds, densities computed, certified, searched).
 */
#include <float.h>
#include <limits.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <cblas.h>
#include <winnow/tsds.h>
#include <winnow/util.h>

/* Test hooks: see the banner. Defined (with their documentation) below. */
PetscErrorCode wn_tsds_waterfill_(int64_t M, int64_t K, const double *dist, const double *rho, double alpha, double C, double *level, int64_t *last_k, double *mass, PetscBool *stopped);
PetscErrorCode wn_tsds_density_(int64_t n, int64_t k, const double *dist, double sigma, double *rho, int64_t *n_near_dup);

/* Bytes one wn_knn_search call may return and take as queries (k (distance, row) pairs and the d floats of each
 * query): the queries go in blocks of max(1, bytes / (16 k + 4 d)); knn.c bounds its own buffers. With the
 * default, the reference's M = 2000 targets and K = 5000 are one call. A test hook (tests force tiny blocks). */
size_t wn_tsds_block_bytes_ = (size_t)256 << 20;

/* Test hooks of the lazy densities (see the banner): eager switch, certificate switch, first prefix length (0: the
 * unit-density prediction), and the last call's statistics {rounds, densities computed, certified, searched}. */
int     wn_tsds_eager_      = 0;
int     wn_tsds_certify_    = 1;
int64_t wn_tsds_lazy_start_ = 0;
int64_t wn_tsds_stats_[4]   = {0, 0, 0, 0};

/* ---- step 3: the water-filling --------------------------------------------------------------------------- */

/* One event of the water-filling: query j's neighbours 0..k all at the level count = count_j(k). */
typedef struct {
  double  count;
  int64_t k, j;
} tsds_event;

/* The reference's heap order: (count, k, j) lexicographically (Python tuples). */
static inline int tsds_event_less(const tsds_event *a, const tsds_event *b)
{
  if (a->count != b->count) return a->count < b->count;
  if (a->k != b->k) return a->k < b->k;
  return a->j < b->j;
}

static void tsds_heap_down(tsds_event *heap, int64_t n, int64_t i)
{
  for (;;) {
    int64_t    l = 2 * i + 1, r = l + 1, m = i;
    tsds_event t;

    if (l < n && tsds_event_less(&heap[l], &heap[m])) m = l;
    if (r < n && tsds_event_less(&heap[r], &heap[m])) m = r;
    if (m == i) return;
    t       = heap[i];
    heap[i] = heap[m];
    heap[m] = t;
    i       = m;
  }
}

static void tsds_heap_up(tsds_event *heap, int64_t i)
{
  while (i > 0) {
    int64_t    parent = (i - 1) / 2;
    tsds_event t;

    if (!tsds_event_less(&heap[i], &heap[parent])) return;
    t            = heap[i];
    heap[i]      = heap[parent];
    heap[parent] = t;
    i            = parent;
  }
}

/**
  @brief The water-filling of METHODS.md 4.2 steps 3 and 4 on replicated arrays: the level s, each query's last
  neighbour with a full share, and the mass each query sends to each of its neighbours.

  Not collective (pure; a test hook without a header, declared with extern by tests/unit/test_tsds.c).

  Step 3: count_j(k) = sum_{k' <= k} 1 / rho_{j,k'} and cost_j(k) = sum_{k' <= k} (d_{j,k+1} - d_{j,k'}) / rho_{j,k'},
  for k = 0..K-2, are computed incrementally as the reference does (count += 1 / rho, cost = d_{k+1} count - sum_{k'}
  d_{k'} / rho_{k'}). The events (count_j(k), k, j) are processed in increasing lexicographic order (a binary heap
  holding one event per query); processing sets s = count_j(k) and replaces query j's term of the running total cost.
  Stop as soon as (alpha / C) total >= (1 - alpha) M: that event is not accepted but its count is the level s.
  Otherwise accept it: last_k_j = k. If no event stops, s is the count of the last event. last_k starts at -1
  (METHODS.md's fix; the reference starts at 0 and asserts when the stop fires before every query had an event,
  e.g. for alpha = 1). With K = 1 there are no events: s = 0 and every query sends its mass to its nearest.
  Step 4: query j sends 1 / (M s rho_{j,k}) to neighbours k = 0..last_k_j and the remainder max(0, 1/M - sum) to
  neighbour last_k_j + 1; the reference's two assertions are checked (PETSC_ERR_PLIB), the second relaxed for
  last_k_j = K - 2 as in the reference.

  @param[in]  M        queries, >= 1
  @param[in]  K        neighbours per query, >= 1
  @param[in]  dist     M x K distances d_{j,k}, row-major, ascending in k (borrowed)
  @param[in]  rho      M x K densities rho_{j,k} > 0 of those neighbours (borrowed)
  @param[in]  alpha    trade-off, in [0, 1]
  @param[in]  C        distance scale, > 0
  @param[out] level    the level s
  @param[out] last_k   M entries: last neighbour with a full share, -1..K-2 (caller's array)
  @param[out] mass     M x K: mass from query j to its neighbour k (zero beyond last_k_j + 1) (caller's array;
                       may be rho itself, overwritten in place)
  @param[out] stopped  whether the stop rule fired (may be NULL)
**/
PetscErrorCode wn_tsds_waterfill_(int64_t M, int64_t K, const double *dist, const double *rho, double alpha, double C, double *level, int64_t *last_k, double *mass, PetscBool *stopped)
{
  double     s = 0.0, total = 0.0, inv_M;
  PetscBool  stop = PETSC_FALSE;
  tsds_event *heap = NULL;
  double    *cost = NULL, *weighted = NULL;

  PetscFunctionBeginUser;
  PetscCheck(M >= 1 && K >= 1, PETSC_COMM_SELF, PETSC_ERR_ARG_OUTOFRANGE, "TSDS water-filling needs M >= 1 queries and K >= 1 neighbours, got M = %lld, K = %lld", (long long)M, (long long)K);
  PetscCheck(dist && rho && level && last_k && mass, PETSC_COMM_SELF, PETSC_ERR_ARG_NULL, "TSDS water-filling: NULL array argument");
  PetscCheck(alpha >= 0.0 && alpha <= 1.0, PETSC_COMM_SELF, PETSC_ERR_ARG_OUTOFRANGE, "TSDS alpha must be in [0, 1], got %g", alpha);
  PetscCheck(C > 0.0, PETSC_COMM_SELF, PETSC_ERR_ARG_OUTOFRANGE, "TSDS C must be > 0, got %g", C);
  for (int64_t i = 0; i < M * K; i++) {
    PetscCheck(rho[i] > 0.0 && isfinite(rho[i]), PETSC_COMM_SELF, PETSC_ERR_ARG_OUTOFRANGE, "TSDS: density %g of neighbour %lld of query %lld is not positive and finite", rho[i], (long long)(i % K), (long long)(i / K));
    PetscCheck(isfinite(dist[i]), PETSC_COMM_SELF, PETSC_ERR_ARG_OUTOFRANGE, "TSDS: distance of neighbour %lld of query %lld is not finite", (long long)(i % K), (long long)(i / K));
  }

  for (int64_t j = 0; j < M; j++) last_k[j] = -1;
  if (K >= 2) {
    int64_t n_heap = M;

    PetscCall(PetscMalloc1(M, &heap));
    PetscCall(PetscCalloc1(M, &cost));
    PetscCall(PetscMalloc1(M, &weighted));
    for (int64_t j = 0; j < M; j++) {
      heap[j].count = 1.0 / rho[j * K];
      heap[j].k     = 0;
      heap[j].j     = j;
      weighted[j]   = dist[j * K] / rho[j * K];
    }
    for (int64_t i = M / 2 - 1; i >= 0; i--) tsds_heap_down(heap, n_heap, i);
    while (n_heap > 0) {
      tsds_event e = heap[0];
      int64_t    j = e.j, k = e.k;

      heap[0] = heap[--n_heap];
      tsds_heap_down(heap, n_heap, 0);
      s = e.count;
      /* raising s past count_j(k) moves mass from neighbours 0..k to neighbour k + 1 */
      total -= cost[j];
      cost[j] = dist[j * K + k + 1] * e.count - weighted[j];
      total += cost[j];
      if (alpha / C * total >= (1.0 - alpha) * (double)M) {
        stop = PETSC_TRUE;
        break;
      }
      last_k[j] = k;
      if (k < K - 2) {
        tsds_event next;

        next.count = e.count + 1.0 / rho[j * K + k + 1];
        next.k     = k + 1;
        next.j     = j;
        heap[n_heap] = next;
        tsds_heap_up(heap, n_heap++);
        weighted[j] += dist[j * K + k + 1] / rho[j * K + k + 1];
      }
    }
    PetscCall(PetscFree(heap));
    PetscCall(PetscFree(cost));
    PetscCall(PetscFree(weighted));
  }

  inv_M = 1.0 / (double)M;
  for (int64_t j = 0; j < M; j++) {
    /* written so that mass may alias rho: rho[j, k] is read before mass[j, k] is written */
    double *row = mass + j * K, sum = 0.0, rest, full;
    int64_t last = last_k[j];

    for (int64_t k = 0; k <= last; k++) {
      double m = inv_M / s / rho[j * K + k];

      row[k] = m;
      sum += m;
    }
    rest = inv_M - sum;
    full = rest * rho[j * K + last + 1] * (double)M * s;
    PetscCheck(rest >= -1e-9, PETSC_COMM_SELF, PETSC_ERR_PLIB, "TSDS water-filling: query %lld gives %g more than its mass 1/M", (long long)j, -rest);
    PetscCheck(last == K - 2 || full <= 1.0 + 1e-9, PETSC_COMM_SELF, PETSC_ERR_PLIB, "TSDS water-filling: query %lld gives neighbour %lld more than a full share (%g)", (long long)j, (long long)(last + 1), full);
    row[last + 1] = rest > 0.0 ? rest : 0.0;
    for (int64_t k = last + 2; k < K; k++) row[k] = 0.0;
  }
  *level = s;
  if (stopped) *stopped = stop;
  PetscFunctionReturn(PETSC_SUCCESS);
}

/* ---- step 2: the density ----------------------------------------------------------------------------------- */

/**
  @brief Densities from neighbour distances (METHODS.md 4.2 step 2): rho_i = sum_t max(0, 1 - d_{i,t}^2 / sigma^2)
  over the k neighbours of point i (an Epanechnikov-type kernel on the squared distance; the neighbour lists
  include the point itself at distance 0, so rho >= 1), and the near-duplicate count the reference logs:
  sum_i (#{t : kernel > 0} - 1). sigma = 0 gives rho = 1 and no near-duplicates.

  Not collective (pure; a test hook without a header).

  @param[in]  n           points
  @param[in]  k           neighbours per point, >= 1
  @param[in]  dist        n x k distances, row-major (borrowed)
  @param[in]  sigma       bandwidth, >= 0
  @param[out] rho         n densities (caller's array)
  @param[out] n_near_dup  the near-duplicate count
**/
PetscErrorCode wn_tsds_density_(int64_t n, int64_t k, const double *dist, double sigma, double *rho, int64_t *n_near_dup)
{
  int64_t near = 0;
  double  sigma2 = sigma * sigma;

  PetscFunctionBeginUser;
  PetscCheck(n >= 0 && k >= 1, PETSC_COMM_SELF, PETSC_ERR_ARG_OUTOFRANGE, "TSDS density needs n >= 0 points and k >= 1 neighbours, got n = %lld, k = %lld", (long long)n, (long long)k);
  PetscCheck(sigma >= 0.0, PETSC_COMM_SELF, PETSC_ERR_ARG_OUTOFRANGE, "TSDS sigma must be >= 0, got %g", sigma);
  for (int64_t i = 0; i < n; i++) {
    double  r        = 0.0;
    int64_t positive = 0;

    if (sigma == 0.0) {
      rho[i] = 1.0;
      continue;
    }
    for (int64_t t = 0; t < k; t++) {
      double d = dist[i * k + t], kernel = 1.0 - d * d / sigma2;

      if (kernel > 0.0) {
        r += kernel;
        positive++;
      }
    }
    rho[i] = r;
    near += positive - 1;
  }
  *n_near_dup = near;
  PetscFunctionReturn(PETSC_SUCCESS);
}

/* ---- the distributed glue ---------------------------------------------------------------------------------- */

/* Queries per wn_knn_search call for k neighbours in dimension d (the memory bound wn_tsds_block_bytes_). The
 * blocks depend only on global quantities, so the distances (whose last bits may depend on the call's shape)
 * are the same on any rank count. */
static int64_t tsds_block_queries(int64_t k, int64_t d)
{
  int64_t per = 16 * k + 4 * d, b = (int64_t)(wn_tsds_block_bytes_ / (size_t)(per > 0 ? per : 1));

  return b > 0 ? b : 1;
}

/* The k nearest of M queries, by blocks of queries: new M x k arrays index and dist (the caller frees them with
 * PetscFree). When one block holds every query the result's own arrays are adopted (no copy).
 * Collective on L->comm. */
static PetscErrorCode tsds_knn_blocks(const wn_layout *L, int64_t d, const float *X_local, const int64_t *subset, int64_t n_subset, int64_t M, const float *Q, int64_t k, wn_knn_metric metric, int64_t **index, double **dist)
{
  int64_t block = tsds_block_queries(k, d);

  PetscFunctionBeginUser;
  *index = NULL;
  *dist  = NULL;
  for (int64_t b0 = 0; b0 < M; b0 += block) {
    int64_t        nb = M - b0 < block ? M - b0 : block;
    wn_knn_result *r  = NULL;

    PetscCall(wn_knn_search(L, d, X_local, subset, n_subset, nb, Q + b0 * d, k, metric, &r));
    PetscCheck(r->m == nb && r->k == k, PETSC_COMM_SELF, PETSC_ERR_PLIB, "kNN returned %lld x %lld neighbours, expected %lld x %lld", (long long)r->m, (long long)r->k, (long long)nb, (long long)k);
    if (nb == M) {
      *index   = r->index;
      *dist    = r->dist;
      r->index = NULL;
      r->dist  = NULL;
    } else {
      if (!*index) {
        PetscCall(PetscMalloc1(M * k, index));
        PetscCall(PetscMalloc1(M * k, dist));
      }
      PetscCall(PetscArraycpy(*index + b0 * k, r->index, nb * k));
      PetscCall(PetscArraycpy(*dist + b0 * k, r->dist, nb * k));
    }
    PetscCall(wn_knn_result_destroy(&r));
  }
  PetscFunctionReturn(PETSC_SUCCESS);
}

/* First position p in the ascending array a[0..n) with a[p] >= v. */
static int64_t tsds_lower_bound(const int64_t *a, int64_t n, int64_t v)
{
  int64_t lo = 0, hi = n;

  while (lo < hi) {
    int64_t mid = lo + (hi - lo) / 2;

    if (a[mid] < v) lo = mid + 1;
    else hi = mid;
  }
  return lo;
}

/* Squared Euclidean norm in double (float products are exact in double; the sum rounds). */
static double tsds_norm2(int64_t d, const float *x)
{
  double s = 0.0;

  for (int64_t c = 0; c < d; c++) s += (double)x[c] * (double)x[c];
  return s;
}

/* Rows of every density search call: a multiple of this, zero rows padding the last tile. knn.c tiles the queries
 * of a call by TQ rows from the first, where TQ = 512 (halved only for k > 4096, so it always divides 512) depends on
 * k alone once a call has at least 512 queries: every sgemm of a padded call has exactly TQ rows. OpenBLAS gives a
 * row of C = Q_tile X_tile^T the same bits whatever the tile's other rows hold and wherever the row sits (checked
 * on this machine's Cooperlake core for d from 3 to 1024 and candidate tiles of 1 to 512 rows), whereas calls with
 * other row counts (1, 2, or small products M N d) take other code paths with other last bits. So a density depends
 * only on its point, U and kde_K, not on which other points share its calls: the lazy densities are the eager ones,
 * bit for bit, whatever the rounds computed together. */
#define TSDS_QUERY_TILE 512

static int64_t tsds_round_tile(int64_t n) { return (n + TSDS_QUERY_TILE - 1) / TSDS_QUERY_TILE * TSDS_QUERY_TILE; }

/* Neighbours searched first for a density; more (x 8, up to kde_K) only for the points that need them. */
#define TSDS_KDE_FIRST_K 32

/* The union U as the density searches see it: the neighbour pool (this rank's members as a subset of its rows) and
 * where each rank's members sit in U. */
typedef struct {
  const wn_layout *L;
  int64_t          d, n_U;
  int64_t          k; /* neighbours of a density search: min(kde_K, |U|) */
  const float     *X_local;
  const int64_t   *U; /* n_U global rows, ascending, replicated (borrowed) */
  double           sigma;
  wn_knn_metric    metric;
  int64_t          own_lo, own_hi;   /* this rank's members: U positions [own_lo, own_hi) */
  int64_t         *subset;           /* their local rows (never NULL, even when empty) */
  int64_t         *rank_lo, *rank_hi; /* every rank's range of U positions */
  PetscMPIInt     *counts, *displs;   /* scratch of the gathers */
} tsds_union;

static PetscErrorCode tsds_union_setup(const wn_layout *L, int64_t d, const float *X_local, const int64_t *U, int64_t n_U, int64_t kde_K, double sigma, wn_knn_metric metric, tsds_union *ux)
{
  PetscMPIInt size = L->size;

  PetscFunctionBeginUser;
  memset(ux, 0, sizeof(*ux));
  ux->L       = L;
  ux->d       = d;
  ux->n_U     = n_U;
  ux->k       = kde_K < n_U ? kde_K : n_U;
  ux->X_local = X_local;
  ux->U       = U;
  ux->sigma   = sigma;
  ux->metric  = metric;
  /* U is ascending and ownership contiguous, so each rank's members are a range of U positions */
  PetscCall(PetscMalloc2(size, &ux->rank_lo, size, &ux->rank_hi));
  PetscCall(PetscMalloc2(size, &ux->counts, size, &ux->displs));
  for (PetscMPIInt r = 0; r < size; r++) {
    int64_t start, count;

    wn_layout_range(L->n_global, size, r, &start, &count);
    ux->rank_lo[r] = tsds_lower_bound(U, n_U, start);
    ux->rank_hi[r] = tsds_lower_bound(U, n_U, start + count);
  }
  ux->own_lo = ux->rank_lo[L->rank];
  ux->own_hi = ux->rank_hi[L->rank];
  PetscCall(PetscMalloc1(ux->own_hi - ux->own_lo + 1, &ux->subset));
  for (int64_t p = ux->own_lo; p < ux->own_hi; p++) ux->subset[p - ux->own_lo] = U[p] - L->row_start;
  PetscFunctionReturn(PETSC_SUCCESS);
}

static PetscErrorCode tsds_union_destroy(tsds_union *ux)
{
  PetscFunctionBeginUser;
  PetscCall(PetscFree(ux->subset));
  PetscCall(PetscFree2(ux->rank_lo, ux->rank_hi));
  PetscCall(PetscFree2(ux->counts, ux->displs));
  PetscFunctionReturn(PETSC_SUCCESS);
}

/* Embeddings of the members R[b0..b1) of U (R: ascending U positions, replicated) into Qb, (b1 - b0) x d,
 * replicated: every owner sends its rows, a contiguous range of R (R ascends and ownership is contiguous). send
 * holds (b1 - b0) x d floats. Collective on L->comm. */
static PetscErrorCode tsds_gather_rows(tsds_union *ux, const int64_t *R, int64_t b0, int64_t b1, float *send, float *Qb)
{
  const wn_layout *L = ux->L;
  int64_t          d = ux->d, off = 0, sent = 0;

  PetscFunctionBeginUser;
  PetscCheck((b1 - b0) * d <= INT_MAX, PETSC_COMM_SELF, PETSC_ERR_SUP, "TSDS: a block of %lld queries of dimension %lld exceeds one MPI message", (long long)(b1 - b0), (long long)d);
  for (PetscMPIInt r = 0; r < L->size; r++) {
    int64_t lo = b0 + tsds_lower_bound(R + b0, b1 - b0, ux->rank_lo[r]), hi = b0 + tsds_lower_bound(R + b0, b1 - b0, ux->rank_hi[r]);

    ux->counts[r] = (PetscMPIInt)((hi - lo) * d);
    ux->displs[r] = (PetscMPIInt)off;
    off += (hi - lo) * d;
    if (r == L->rank)
      for (int64_t p = lo; p < hi; p++, sent++) PetscCall(PetscArraycpy(send + sent * d, ux->X_local + (ux->U[R[p]] - L->row_start) * d, d));
  }
  PetscCallMPI(MPI_Allgatherv(send, ux->counts[L->rank], MPI_FLOAT, Qb, ux->counts, ux->displs, MPI_FLOAT, L->comm));
  PetscFunctionReturn(PETSC_SUCCESS);
}

/* Densities of nb members of U (queries Qb, replicated, room for tsds_round_tile(nb) rows; their global rows
 * U_block) from their k nearest within U, accumulating the near-duplicate count into *near. Only neighbours closer
 * than sigma count, so each point's list is searched with a small k first and grown (x 8, up to k) only while its
 * last neighbour is still closer than sigma: a list whose last entry has kernel <= 0 holds every neighbour that
 * counts (the rest are at least as far), so the density equals the one from the full list of k. This saves the
 * top-k selection cost of a large kde_K when few points are within sigma (the search still computes every
 * distance). Every call is padded with zero rows to a multiple of TSDS_QUERY_TILE (see there). Qb is reordered.
 * Collective on L->comm. */
static PetscErrorCode tsds_density_block(tsds_union *ux, int64_t nb, float *Qb, const int64_t *U_block, int64_t *pending, double *rho, int64_t *near)
{
  int64_t n_pending = nb, k = ux->k, k_cur = k < TSDS_KDE_FIRST_K ? k : TSDS_KDE_FIRST_K, d = ux->d;
  double  sigma2 = ux->sigma * ux->sigma;

  PetscFunctionBeginUser;
  for (int64_t q = 0; q < nb; q++) pending[q] = q;
  while (n_pending > 0) {
    wn_knn_result *r      = NULL;
    int64_t        n_next = 0, n_call = tsds_round_tile(n_pending);

    PetscCall(PetscArrayzero(Qb + n_pending * d, (n_call - n_pending) * d));
    PetscCall(wn_knn_search(ux->L, d, ux->X_local, ux->subset, ux->own_hi - ux->own_lo, n_call, Qb, k_cur, ux->metric, &r));
    PetscCheck(r->m == n_call && r->k == k_cur, PETSC_COMM_SELF, PETSC_ERR_PLIB, "kNN returned %lld x %lld neighbours, expected %lld x %lld", (long long)r->m, (long long)r->k, (long long)n_call, (long long)k_cur);
    for (int64_t i = 0; i < n_pending; i++) {
      int64_t q = pending[i];
      double *row = r->dist + i * k_cur, last = row[k_cur - 1];

      /* the point itself at distance 0, as the reference's exact self-distance (rounding in ||q||^2 + ||x||^2
         - 2 q.x would otherwise leave it slightly positive) */
      for (int64_t t = 0; t < k_cur; t++)
        if (r->index[i * k_cur + t] == U_block[q]) row[t] = 0.0;
      if (k_cur == k || 1.0 - last * last / sigma2 <= 0.0) {
        int64_t n_near = 0;

        PetscCall(wn_tsds_density_(1, k_cur, row, ux->sigma, rho + q, &n_near));
        *near += n_near;
      } else {
        /* compact in place: n_next <= i */
        if (n_next != i) PetscCall(PetscArraycpy(Qb + n_next * d, Qb + i * d, d));
        pending[n_next++] = q;
      }
    }
    PetscCall(wn_knn_result_destroy(&r));
    n_pending = n_next;
    k_cur     = k_cur * 8 < k ? k_cur * 8 : k;
  }
  PetscFunctionReturn(PETSC_SUCCESS);
}

/* Densities rho_U[R[i]] of the n_R members R of U (ascending U positions, replicated) by the exact search: each
 * one's k nearest within U (wn_knn_search on the subset of this rank's rows in U, with the embeddings of R gathered
 * from their owners by blocks of queries, a multiple of TSDS_QUERY_TILE; tsds_density_block), the point itself
 * counted at distance 0. Collective on L->comm. */
static PetscErrorCode tsds_density_search(tsds_union *ux, const int64_t *R, int64_t n_R, double *rho_U, int64_t *near)
{
  int64_t  d = ux->d, block = tsds_block_queries(ux->k, d) / TSDS_QUERY_TILE * TSDS_QUERY_TILE, *pending = NULL, *Ub = NULL;
  float   *Qb = NULL, *send = NULL;
  double  *rho_b = NULL;

  PetscFunctionBeginUser;
  if (n_R == 0) PetscFunctionReturn(PETSC_SUCCESS); /* the same on every rank: R is replicated */
  if (block < TSDS_QUERY_TILE) block = TSDS_QUERY_TILE;
  if (block > tsds_round_tile(n_R)) block = tsds_round_tile(n_R);
  PetscCall(PetscMalloc1(block * d, &Qb));
  PetscCall(PetscMalloc1(block * d + 1, &send));
  PetscCall(PetscMalloc3(block, &pending, block, &Ub, block, &rho_b));
  for (int64_t b0 = 0; b0 < n_R; b0 += block) {
    int64_t b1 = b0 + block < n_R ? b0 + block : n_R, nb = b1 - b0;

    PetscCall(tsds_gather_rows(ux, R, b0, b1, send, Qb));
    for (int64_t i = 0; i < nb; i++) Ub[i] = ux->U[R[b0 + i]];
    PetscCall(tsds_density_block(ux, nb, Qb, Ub, pending, rho_b, near));
    for (int64_t i = 0; i < nb; i++) rho_U[R[b0 + i]] = rho_b[i];
  }
  PetscCall(PetscFree3(pending, Ub, rho_b));
  PetscCall(PetscFree(send));
  PetscCall(PetscFree(Qb));
  PetscFunctionReturn(PETSC_SUCCESS);
}

/* ---- the isolation certificate ---------------------------------------------------------------------------------
 *
 * A member u of U whose only point within sigma (in the search's computed distances) is itself has rho_u = 1.0
 * exactly (the sum 0 + (1 - 0 / sigma^2) of its one positive kernel) and no near-duplicate, whatever the other
 * distances' last bits. The certificate proves that for most points without their search, from an upper bound on
 * the rounding of both computations: for float vectors a, b, any sgemm's a.b has an error of at most gamma_d |a| |b|
 * (gamma_d = d u / (1 - d u), u = 2^-24, any summation order, with or without FMA), so d2 = (|a|^2 + |b|^2) - 2 a.b
 * in double is within E(a, b) = 4 gamma_d |a| |b| + eps (|a|^2 + |b|^2) of the true squared distance (twice the
 * bound, as margin; eps = (d + 8) DBL_EPSILON covers the double sums), here and in knn.c alike.
 *
 * Parts: U is split around centres, members of U (first ceil(sqrt(|U|)) at evenly spaced positions; every member in
 * the part of its nearest centre), each part with a radius R_b bounding its members' true distances to its centre.
 * Up to two refinements add, for each part whose radius exceeds both sigma and 1.5 times the median radius, its
 * farthest member as a new centre (so a cluster of points that drew no centre gets one instead of inflating a
 * part; at most twice the first count of centres). For a point u, a part b with |u - c_b| - R_b (computed from
 * below) above sigma by the margins holds no point within sigma (triangle inequality). u's distances to the members
 * of the other parts are computed (sgemm by part, each rank on the members it owns) and u is certified when each
 * one's d2 - 2 E exceeds sigma^2 (with a relative 1e-10 to spare). Then the search would have found u itself first
 * (its computed self-distance is at most E(u, u), required below sigma^2 / 2) and every other neighbour with a
 * kernel <= 0: rho_u = 1. A point whose candidate parts hold more than |U| / 4 members is not tried (its search
 * costs about as much). The certificate only decides which densities need their search, never a value, so p does
 * not depend on it (nor on the rank count, though its decisions might). L2 only (cosine goes to the search). */

typedef struct {
  int64_t  m, m_max;        /* parts, and room for centres */
  float   *centre;          /* m_max x d centre embeddings, replicated */
  double  *centre_n2;       /* their squared norms */
  double  *centre_nrm;      /* their norms */
  double  *radius;          /* m_max upper bounds on a member's true distance to its centre */
  int64_t *count;           /* m_max global member counts */
  int64_t *ptr;             /* m + 1: this rank's members by part, in Xp */
  float   *Xp;              /* this rank's members of U grouped by part, row-major (a copy: n_own x d floats) */
  int64_t *row;             /* their global rows */
  double  *n2, *nrm;        /* their squared norms and norms */
  double   gamma, eps;      /* the rounding bounds (see above) */
  double   max_norm;        /* an upper bound on every member's norm */
} tsds_cert;

#define TSDS_CERT_TILE 512

/* Append the members R[0..n) of U (ascending U positions) as centres. Collective on L->comm. */
static PetscErrorCode tsds_cert_add_centres(tsds_union *ux, tsds_cert *ct, const int64_t *R, int64_t n)
{
  float *send = NULL;

  PetscFunctionBeginUser;
  PetscCall(PetscMalloc1(n * ux->d + 1, &send));
  PetscCall(tsds_gather_rows(ux, R, 0, n, send, ct->centre + ct->m * ux->d));
  for (int64_t b = ct->m; b < ct->m + n; b++) {
    ct->centre_n2[b]  = tsds_norm2(ux->d, ct->centre + b * ux->d);
    ct->centre_nrm[b] = sqrt(ct->centre_n2[b]);
  }
  ct->m += n;
  PetscCall(PetscFree(send));
  PetscFunctionReturn(PETSC_SUCCESS);
}

/* Every member this rank owns: its nearest centre (ties to the lower part) and an upper bound up on its true
 * distance to it; the radii and counts of the parts reduced over the ranks. tile holds TSDS_CERT_TILE x d floats,
 * C TSDS_CERT_TILE x m_max. Collective on L->comm. */
static PetscErrorCode tsds_cert_assign(tsds_union *ux, tsds_cert *ct, const double *n2_own, int64_t *assign, double *up, float *tile, float *C)
{
  int64_t d = ux->d, m = ct->m, n_own = ux->own_hi - ux->own_lo;

  PetscFunctionBeginUser;
  for (int64_t i0 = 0; i0 < n_own; i0 += TSDS_CERT_TILE) {
    int64_t h = n_own - i0 < TSDS_CERT_TILE ? n_own - i0 : TSDS_CERT_TILE;

    for (int64_t i = 0; i < h; i++) PetscCall(PetscArraycpy(tile + i * d, ux->X_local + ux->subset[i0 + i] * d, d));
    cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, (blasint)h, (blasint)m, (blasint)d, 1.0f, tile, (blasint)d, ct->centre, (blasint)d, 0.0f, C, (blasint)m);
    for (int64_t i = 0; i < h; i++) {
      double  n2 = n2_own[i0 + i], best = INFINITY, E;
      int64_t bb = 0;

      for (int64_t b = 0; b < m; b++) {
        double v = (n2 + ct->centre_n2[b]) - 2.0 * (double)C[i * m + b];

        if (v < best) {
          best = v;
          bb   = b;
        }
      }
      E              = 4.0 * ct->gamma * sqrt(n2) * ct->centre_nrm[bb] + ct->eps * (n2 + ct->centre_n2[bb]);
      assign[i0 + i] = bb;
      up[i0 + i]     = sqrt((best > 0.0 ? best : 0.0) + E) * (1.0 + ct->eps);
    }
  }
  for (int64_t b = 0; b < m; b++) {
    ct->radius[b] = 0.0;
    ct->count[b]  = 0;
  }
  for (int64_t i = 0; i < n_own; i++) {
    if (up[i] > ct->radius[assign[i]]) ct->radius[assign[i]] = up[i];
    ct->count[assign[i]]++;
  }
  PetscCheck(m <= INT_MAX, PETSC_COMM_SELF, PETSC_ERR_SUP, "TSDS: %lld parts exceed one MPI message", (long long)m);
  PetscCallMPI(MPI_Allreduce(MPI_IN_PLACE, ct->radius, (PetscMPIInt)m, MPI_DOUBLE, MPI_MAX, ux->L->comm));
  PetscCallMPI(MPI_Allreduce(MPI_IN_PLACE, ct->count, (PetscMPIInt)m, MPI_INT64_T, MPI_SUM, ux->L->comm));
  PetscFunctionReturn(PETSC_SUCCESS);
}

static int tsds_double_cmp(const void *x, const void *y)
{
  double a = *(const double *)x, b = *(const double *)y;

  return a < b ? -1 : a > b ? 1 : 0;
}

static int tsds_int64_cmp(const void *x, const void *y)
{
  int64_t a = *(const int64_t *)x, b = *(const int64_t *)y;

  return a < b ? -1 : a > b ? 1 : 0;
}

/* The parts of U (see above): centres gathered and refined, this rank's members assigned and grouped, radii
 * reduced. Collective on L->comm. */
static PetscErrorCode tsds_cert_setup(tsds_union *ux, tsds_cert *ct)
{
  const wn_layout *L = ux->L;
  int64_t          d = ux->d, n_U = ux->n_U, m0, n_own = ux->own_hi - ux->own_lo, *pos = NULL, *assign = NULL, *fill = NULL;
  float           *tile = NULL, *C = NULL;
  double          *n2_own = NULL, *up = NULL, *sorted = NULL, max_norm = 0.0;

  PetscFunctionBeginUser;
  memset(ct, 0, sizeof(*ct));
  m0 = (int64_t)ceil(sqrt((double)n_U));
  if (m0 > 2048) m0 = 2048;
  if (m0 > n_U) m0 = n_U;
  if (m0 < 1) m0 = 1;
  ct->m_max = 2 * m0 < n_U ? 2 * m0 : n_U;
  ct->gamma = (double)d * 0x1p-24 / (1.0 - (double)d * 0x1p-24);
  ct->eps   = (double)(d + 8) * DBL_EPSILON;
  PetscCall(PetscMalloc1(ct->m_max * d, &ct->centre));
  PetscCall(PetscMalloc4(ct->m_max, &ct->centre_n2, ct->m_max, &ct->centre_nrm, ct->m_max, &ct->radius, ct->m_max, &ct->count));
  PetscCall(PetscMalloc3(ct->m_max, &pos, ct->m_max, &sorted, ct->m_max + 1, &fill));
  for (int64_t b = 0; b < m0; b++) pos[b] = b * n_U / m0; /* strictly ascending: n_U / m0 >= 1 */
  PetscCall(tsds_cert_add_centres(ux, ct, pos, m0));

  PetscCall(PetscMalloc3(n_own + 1, &assign, n_own + 1, &n2_own, n_own + 1, &up));
  PetscCall(PetscMalloc1(TSDS_CERT_TILE * d, &tile));
  PetscCall(PetscMalloc1(TSDS_CERT_TILE * ct->m_max, &C));
  for (int64_t i = 0; i < n_own; i++) {
    n2_own[i] = tsds_norm2(d, ux->X_local + ux->subset[i] * d);
    if (sqrt(n2_own[i]) > max_norm) max_norm = sqrt(n2_own[i]);
  }
  PetscCallMPI(MPI_Allreduce(&max_norm, &ct->max_norm, 1, MPI_DOUBLE, MPI_MAX, L->comm));
  ct->max_norm *= 1.0 + ct->eps;
  for (int refine = 0;; refine++) {
    int64_t n_split = 0, n_new = 0, n_nonempty = 0;
    double  median;

    PetscCall(tsds_cert_assign(ux, ct, n2_own, assign, up, tile, C));
    if (refine == 2 || ct->m >= ct->m_max) break;
    /* the parts to split (replicated decisions: radii and counts are reduced) and their farthest members */
    for (int64_t b = 0; b < ct->m; b++)
      if (ct->count[b] > 0) sorted[n_nonempty++] = ct->radius[b];
    qsort(sorted, (size_t)n_nonempty, sizeof(double), tsds_double_cmp);
    median = sorted[n_nonempty / 2];
    for (int64_t b = 0; b < ct->m; b++) fill[b] = -1; /* fill[b]: b's index among the parts to split */
    for (int64_t b = 0; b < ct->m && ct->m + n_split < ct->m_max; b++)
      if (ct->count[b] >= 2 && ct->radius[b] > ux->sigma && ct->radius[b] > 1.5 * median) {
        pos[n_split] = INT64_MAX;
        fill[b]      = n_split++;
      }
    if (n_split == 0) break;
    for (int64_t i = 0; i < n_own; i++) { /* the farthest member (the first in U order among equals) */
      int64_t s = fill[assign[i]];

      if (s >= 0 && up[i] == ct->radius[assign[i]] && ux->own_lo + i < pos[s]) pos[s] = ux->own_lo + i;
    }
    PetscCallMPI(MPI_Allreduce(MPI_IN_PLACE, pos, (PetscMPIInt)n_split, MPI_INT64_T, MPI_MIN, L->comm));
    for (int64_t s = 0; s < n_split; s++)
      if (pos[s] != INT64_MAX) pos[n_new++] = pos[s];
    if (n_new == 0) break;
    qsort(pos, (size_t)n_new, sizeof(int64_t), tsds_int64_cmp);
    PetscCall(tsds_cert_add_centres(ux, ct, pos, n_new));
  }

  /* this rank's members grouped by part (counting sort) */
  PetscCall(PetscMalloc1(ct->m + 1, &ct->ptr));
  for (int64_t b = 0; b <= ct->m; b++) ct->ptr[b] = 0;
  for (int64_t i = 0; i < n_own; i++) ct->ptr[assign[i] + 1]++;
  for (int64_t b = 0; b < ct->m; b++) ct->ptr[b + 1] += ct->ptr[b];
  for (int64_t b = 0; b < ct->m; b++) fill[b] = ct->ptr[b];
  PetscCall(PetscMalloc1(n_own * d + 1, &ct->Xp));
  PetscCall(PetscMalloc3(n_own + 1, &ct->row, n_own + 1, &ct->n2, n_own + 1, &ct->nrm));
  for (int64_t i = 0; i < n_own; i++) {
    int64_t s = fill[assign[i]]++;

    PetscCall(PetscArraycpy(ct->Xp + s * d, ux->X_local + ux->subset[i] * d, d));
    ct->row[s] = ux->U[ux->own_lo + i];
    ct->n2[s]  = n2_own[i];
    ct->nrm[s] = sqrt(n2_own[i]);
  }
  PetscCall(PetscFree(C));
  PetscCall(PetscFree(tile));
  PetscCall(PetscFree3(assign, n2_own, up));
  PetscCall(PetscFree3(pos, sorted, fill));
  PetscFunctionReturn(PETSC_SUCCESS);
}

static PetscErrorCode tsds_cert_destroy(tsds_cert *ct)
{
  PetscFunctionBeginUser;
  PetscCall(PetscFree(ct->centre));
  PetscCall(PetscFree4(ct->centre_n2, ct->centre_nrm, ct->radius, ct->count));
  PetscCall(PetscFree(ct->ptr));
  PetscCall(PetscFree(ct->Xp));
  PetscCall(PetscFree3(ct->row, ct->n2, ct->nrm));
  PetscFunctionReturn(PETSC_SUCCESS);
}

/* Certify nb members of U (embeddings Qb, global rows Ub, replicated): isolated[q] = 1 when u_q's density is 1
 * without a search (see above), else 0. Each rank finds the candidate parts of a share of the queries (then
 * allgathered) and checks the queries against the members it owns. Collective on L->comm; the flags are replicated. */
static PetscErrorCode tsds_cert_check(tsds_union *ux, const tsds_cert *ct, int64_t nb, const float *Qb, const int64_t *Ub, unsigned char *isolated)
{
  const wn_layout *L = ux->L;
  int64_t          d = ux->d, m = ct->m, *qlist = NULL, *qptr = NULL, *qfill = NULL, qa, qb;
  double           sigma2 = ux->sigma * ux->sigma, thr = sigma2 * (1.0 + 1e-10), *qn2 = NULL, shrink = (1.0 - ct->eps) * (1.0 - ct->eps);
  unsigned char   *cand = NULL, *flag = NULL;
  float           *C = NULL, *tile = NULL;
  PetscMPIInt      size = L->size, *counts = NULL, *displs = NULL;

  PetscFunctionBeginUser;
  PetscCheck(nb * m <= INT_MAX, PETSC_COMM_SELF, PETSC_ERR_SUP, "TSDS: %lld x %lld part flags exceed one MPI message", (long long)nb, (long long)m);
  PetscCall(PetscMalloc2(nb, &qn2, nb, &flag));
  PetscCall(PetscMalloc1(nb * m, &cand));
  PetscCall(PetscMalloc1(TSDS_CERT_TILE * (m > TSDS_CERT_TILE ? m : TSDS_CERT_TILE), &C));
  PetscCall(PetscMalloc1(TSDS_CERT_TILE * d, &tile));
  PetscCall(PetscCalloc2(m + 1, &qptr, m + 1, &qfill));
  PetscCall(PetscMalloc2(size, &counts, size, &displs));
  for (int64_t q = 0; q < nb; q++) qn2[q] = tsds_norm2(d, Qb + q * d);

  /* this rank's share [qa, qb) of the queries: the parts each one must look into, then allgathered */
  qa = nb * L->rank / size;
  qb = nb * (L->rank + 1) / size;
  for (int64_t q0 = qa; q0 < qb; q0 += TSDS_CERT_TILE) {
    int64_t h = qb - q0 < TSDS_CERT_TILE ? qb - q0 : TSDS_CERT_TILE;

    cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, (blasint)h, (blasint)m, (blasint)d, 1.0f, Qb + q0 * d, (blasint)d, ct->centre, (blasint)d, 0.0f, C, (blasint)m);
    for (int64_t i = 0; i < h; i++) {
      int64_t        q = q0 + i, members = 0;
      double         n2 = qn2[q], nu = sqrt(n2), a = 4.0 * ct->gamma * nu;
      double         Em = a * ct->max_norm + ct->eps * (n2 + ct->max_norm * ct->max_norm), s_u = sqrt((thr + 2.0 * Em) / (1.0 - ct->eps));
      const float   *c = C + i * m;
      unsigned char *cq = cand + q * m;

      /* far: sqrt(d2 - E) (1 - eps) - R_b > s_u, i.e. the lower bound on the distance to every member of b,
         squared, beats sigma^2 with both margins */
      for (int64_t b = 0; b < m; b++) {
        double x = (n2 + ct->centre_n2[b]) - 2.0 * (double)c[b] - (a * ct->centre_nrm[b] + ct->eps * (n2 + ct->centre_n2[b])), reach = ct->radius[b] + s_u;

        cq[b] = (unsigned char)!(x > 0.0 && x * shrink > reach * reach);
      }
      for (int64_t b = 0; b < m; b++) members += cq[b] ? ct->count[b] : 0;
      /* its own computed distance might not come first; or the search costs about as much */
      flag[q] = (unsigned char)((4.0 * ct->gamma + 2.0 * ct->eps) * n2 > 0.5 * sigma2 || (4 * members > ux->n_U && ux->n_U > 64));
    }
  }
  for (PetscMPIInt r = 0; r < size; r++) {
    int64_t lo = nb * r / size, hi = nb * (r + 1) / size;

    counts[r] = (PetscMPIInt)((hi - lo) * m);
    displs[r] = (PetscMPIInt)(lo * m);
  }
  PetscCallMPI(MPI_Allgatherv(MPI_IN_PLACE, 0, MPI_DATATYPE_NULL, cand, counts, displs, MPI_UNSIGNED_CHAR, L->comm));
  for (PetscMPIInt r = 0; r < size; r++) {
    counts[r] /= (PetscMPIInt)(m > 0 ? m : 1);
    displs[r] /= (PetscMPIInt)(m > 0 ? m : 1);
  }
  PetscCallMPI(MPI_Allgatherv(MPI_IN_PLACE, 0, MPI_DATATYPE_NULL, flag, counts, displs, MPI_UNSIGNED_CHAR, L->comm));

  /* per part, the queries still open that look into it (CSR) */
  for (int64_t q = 0; q < nb; q++)
    if (!flag[q])
      for (int64_t b = 0; b < m; b++) qptr[b + 1] += cand[q * m + b];
  for (int64_t b = 0; b < m; b++) qptr[b + 1] += qptr[b];
  for (int64_t b = 0; b < m; b++) qfill[b] = qptr[b];
  PetscCall(PetscMalloc1(qptr[m] + 1, &qlist));
  for (int64_t q = 0; q < nb; q++)
    if (!flag[q])
      for (int64_t b = 0; b < m; b++)
        if (cand[q * m + b]) qlist[qfill[b]++] = q;

  /* this rank's members of each part against its open queries: any point within sigma (with the margins) flags */
  for (int64_t b = 0; b < m; b++) {
    int64_t v0 = ct->ptr[b], v1 = ct->ptr[b + 1];

    if (v1 == v0) continue;
    for (int64_t t0 = qptr[b]; t0 < qptr[b + 1];) {
      int64_t h = 0, tq[TSDS_CERT_TILE];

      for (; t0 < qptr[b + 1] && h < TSDS_CERT_TILE; t0++) {
        int64_t q = qlist[t0];

        if (flag[q]) continue;
        tq[h] = q;
        PetscCall(PetscArraycpy(tile + h * d, Qb + q * d, d));
        h++;
      }
      if (h == 0) continue;
      for (int64_t w0 = v0; w0 < v1; w0 += TSDS_CERT_TILE) {
        int64_t        w = v1 - w0 < TSDS_CERT_TILE ? v1 - w0 : TSDS_CERT_TILE;
        const double  *n2v = ct->n2 + w0, *nv = ct->nrm + w0;
        const int64_t *rowv = ct->row + w0;

        cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, (blasint)h, (blasint)w, (blasint)d, 1.0f, tile, (blasint)d, ct->Xp + w0 * d, (blasint)d, 0.0f, C, (blasint)w);
        for (int64_t i = 0; i < h; i++) {
          int64_t      q = tq[i], self = Ub[q];
          double       n2 = qn2[q], a = 8.0 * ct->gamma * sqrt(n2), e2 = 2.0 * ct->eps;
          const float *c = C + i * w;
          int          hit = 0;

          /* d2 - 2 E(u, v) <= sigma^2 (1 + 1e-10) for some v other than u */
          for (int64_t v = 0; v < w; v++) hit |= ((n2 + n2v[v]) - 2.0 * (double)c[v] - (a * nv[v] + e2 * (n2 + n2v[v])) <= thr) & (rowv[v] != self);
          if (hit) flag[q] = 1;
        }
      }
    }
  }
  PetscCallMPI(MPI_Allreduce(MPI_IN_PLACE, flag, (PetscMPIInt)nb, MPI_UNSIGNED_CHAR, MPI_MAX, L->comm));
  for (int64_t q = 0; q < nb; q++) isolated[q] = (unsigned char)!flag[q];
  PetscCall(PetscFree2(counts, displs));
  PetscCall(PetscFree2(qptr, qfill));
  PetscCall(PetscFree(qlist));
  PetscCall(PetscFree(tile));
  PetscCall(PetscFree(C));
  PetscCall(PetscFree(cand));
  PetscCall(PetscFree2(qn2, flag));
  PetscFunctionReturn(PETSC_SUCCESS);
}

/* Queries per certificate block: 512 to 4096, so that the block's nb x m part flags stay under 4 MiB. */
static int64_t tsds_cert_block(int64_t m)
{
  int64_t b = ((int64_t)1 << 22) / m;

  return b < 512 ? 512 : b > 4096 ? 4096 : b;
}

/* Densities of the members R of U (ascending U positions, replicated): the certified ones are 1 (ct may be NULL:
 * none), the others searched (tsds_density_search). *n_certified counts the former. Collective on L->comm. */
static PetscErrorCode tsds_density_rows(tsds_union *ux, const tsds_cert *ct, const int64_t *R, int64_t n_R, double *rho_U, int64_t *near, int64_t *n_certified)
{
  int64_t       *rest = NULL, n_rest = 0, d = ux->d, block;
  float         *Qb = NULL, *send = NULL;
  int64_t       *Ub = NULL;
  unsigned char *isolated = NULL;

  PetscFunctionBeginUser;
  if (!ct) {
    PetscCall(tsds_density_search(ux, R, n_R, rho_U, near));
    PetscFunctionReturn(PETSC_SUCCESS);
  }
  block = tsds_cert_block(ct->m);
  PetscCall(PetscMalloc1(n_R + 1, &rest));
  PetscCall(PetscMalloc1(block * d, &Qb));
  PetscCall(PetscMalloc1(block * d + 1, &send));
  PetscCall(PetscMalloc2(block, &Ub, block, &isolated));
  for (int64_t b0 = 0; b0 < n_R; b0 += block) {
    int64_t b1 = b0 + block < n_R ? b0 + block : n_R, nb = b1 - b0;

    PetscCall(tsds_gather_rows(ux, R, b0, b1, send, Qb));
    for (int64_t i = 0; i < nb; i++) Ub[i] = ux->U[R[b0 + i]];
    PetscCall(tsds_cert_check(ux, ct, nb, Qb, Ub, isolated));
    for (int64_t i = 0; i < nb; i++) {
      if (isolated[i]) {
        rho_U[R[b0 + i]] = 1.0; /* = 0 + (1 - 0 / sigma^2), the search's sum (see the certificate) */
        (*n_certified)++;
      } else rest[n_rest++] = R[b0 + i];
    }
  }
  PetscCall(PetscFree2(Ub, isolated));
  PetscCall(PetscFree(send));
  PetscCall(PetscFree(Qb));
  PetscCall(tsds_density_search(ux, rest, n_rest, rho_U, near));
  PetscCall(PetscFree(rest));
  PetscFunctionReturn(PETSC_SUCCESS);
}

/* Check the parameters (collective: they are replicated). */
static PetscErrorCode tsds_check_params(const wn_layout *L, const wn_tsds_params *params)
{
  MPI_Comm comm = L->comm;

  PetscFunctionBeginUser;
  PetscCheck(params->alpha >= 0.0 && params->alpha <= 1.0, comm, PETSC_ERR_ARG_OUTOFRANGE, "TSDS alpha must be in [0, 1], got %g", params->alpha);
  PetscCheck(params->C > 0.0 && isfinite(params->C), comm, PETSC_ERR_ARG_OUTOFRANGE, "TSDS C (the distance scale) must be > 0, got %g", params->C);
  PetscCheck(params->sigma >= 0.0 && isfinite(params->sigma), comm, PETSC_ERR_ARG_OUTOFRANGE, "TSDS sigma (the KDE bandwidth) must be >= 0, got %g", params->sigma);
  PetscCheck(params->metric == WN_KNN_L2 || params->metric == WN_KNN_COSINE, comm, PETSC_ERR_ARG_OUTOFRANGE, "TSDS: unknown kNN metric %d", (int)params->metric);
  PetscFunctionReturn(PETSC_SUCCESS);
}

/* The next prefix length of a query whose water-filling reached neighbour last + 1 (estimating the unknown
 * densities): that prefix and an eighth more, and at least 1.5 times the current one (so the rounds are few
 * even when the estimates fall short), capped at K. */
static int64_t tsds_grow(int64_t len, int64_t last, int64_t K)
{
  int64_t want = last + 2, n = want + want / 8 + 1, floor_n = len + len / 2 + 1;

  if (n < floor_n) n = floor_n;
  return n < K ? n : K;
}

/* Fill the M x K densities of the neighbour lists from rho_U where known, else with the estimate 1 (the smallest
 * density: an isolated point). */
static void tsds_fill_rho(int64_t MK, const int64_t *index, const int64_t *position, const double *rho_U, const unsigned char *known, double *rho)
{
  for (int64_t i = 0; i < MK; i++) {
    int64_t u = position[index[i]];

    rho[i] = known[u] == 1 ? rho_U[u] : 1.0;
  }
}

/**
  @brief TSDS probabilities p over the candidates (METHODS.md 4.2 steps 1-4): exact kNN of the M targets, the
  densities of the members of the union U of the neighbour lists that the water-filling reaches, the
  water-filling, and p assembled by owner.

  Collective on L->comm.

  K = min(max_K, N / 10) and kde_K = min(kde_K, N / 10) (the reference's caps). Step 1: the K nearest candidates
  of each target (wn_knn_search with params->metric; L2 distances are the square roots of the squared ones, as
  in the reference). Step 2 (sigma > 0): U = the union of the lists (ascending global rows); a member u of U has
  the density rho_u = sum max(0, 1 - d^2 / sigma^2) over its min(kde_K, |U|) nearest within U (itself included,
  at distance 0); sigma = 0 gives rho = 1. Steps 3-4: wn_tsds_waterfill_ on (d_{j,k}, rho_{j,k}), replicated;
  each rank adds the masses of the neighbours it owns into p_local in query order. The sum of p is checked to be 1.

  The densities are computed lazily: the water-filling of query j reads rho_{j,k} for k <= last_k_j + 1 only
  (its first event, the event after each accepted one, and the masses). Round 0 runs it with every density
  estimated as 1 and takes each query's prefix up to its last_k + 2 (an eighth more); each round then computes the
  densities of the prefixes not yet known, runs the water-filling with the unknown ones estimated as 1, and checks
  that every density it read was known: if so the run is the exact one (it read the true values only) and ends
  the loop; else each query that read an estimate grows its prefix (tsds_grow) and the next round follows. The
  prefixes grow strictly and stop at K, so the loop ends. Every density has the bits the eager computation of all
  of U gives it (see TSDS_QUERY_TILE and the isolation certificate), so p, the level and last_k are exactly the
  eager ones. WN_TSDS_EAGER=1 in the environment (or the test hook wn_tsds_eager_) computes every density of U.

  @param[in]  L        layout of the N candidates (borrowed)
  @param[in]  d        embedding dimension, >= 1
  @param[in]  X_local  L->n_local x d candidate embeddings, row-major (borrowed)
  @param[in]  M        targets (queries), >= 1
  @param[in]  Q        M x d target embeddings, row-major, replicated (borrowed)
  @param[in]  params   parameters, the same on every rank (borrowed)
  @param[out] res      new result; free with wn_tsds_result_destroy()

  @return PETSC_SUCCESS; errors (collective, naming the values) for C <= 0, sigma < 0, alpha outside [0, 1],
  N / 10 < 1, max_K or kde_K < 1, M < 1.
**/
PetscErrorCode wn_tsds_probabilities(const wn_layout *L, int64_t d, const float *X_local, int64_t M, const float *Q, const wn_tsds_params *params, wn_tsds_result **res)
{
  MPI_Comm        comm;
  int64_t         N, cap, K, kde_K, n_U = 0, *index = NULL, *U = NULL, *position = NULL, n_support = 0, *len = NULL, *R = NULL, n_R;
  int64_t         rounds = 0, n_certified = 0, n_known = 0, near = 0;
  double         *dist = NULL, *rho_U = NULL, *rho = NULL, *mass = NULL, sum = 0.0, sum_all = 0.0, tolerance, t0, t1, t2, t_density = 0.0, t_fill = 0.0;
  unsigned char  *known = NULL;
  wn_tsds_result *r = NULL;
  int             eager_mine, eager = 0;
  const char     *env = getenv("WN_TSDS_EAGER");

  PetscFunctionBeginUser;
  PetscCheck(L && params && res, PETSC_COMM_SELF, PETSC_ERR_ARG_NULL, "wn_tsds_probabilities: NULL layout, params or result argument");
  *res = NULL;
  comm = L->comm;
  N    = L->n_global;
  PetscCall(tsds_check_params(L, params));
  cap = N / 10;
  PetscCheck(cap >= 1, comm, PETSC_ERR_ARG_OUTOFRANGE, "TSDS needs at least 10 candidates (its neighbour counts are capped at N / 10), got N = %lld", (long long)N);
  PetscCheck(params->max_K >= 1, comm, PETSC_ERR_ARG_OUTOFRANGE, "TSDS max_K must be >= 1, got %lld", (long long)params->max_K);
  PetscCheck(params->kde_K >= 1, comm, PETSC_ERR_ARG_OUTOFRANGE, "TSDS kde_K must be >= 1, got %lld", (long long)params->kde_K);
  PetscCheck(M >= 1, comm, PETSC_ERR_ARG_OUTOFRANGE, "TSDS needs at least one target example, got M = %lld", (long long)M);
  PetscCheck(d >= 1, comm, PETSC_ERR_ARG_OUTOFRANGE, "TSDS needs embeddings of dimension >= 1, got d = %lld", (long long)d);
  PetscCheck(Q && (X_local || L->n_local == 0), PETSC_COMM_SELF, PETSC_ERR_ARG_NULL, "wn_tsds_probabilities: NULL embeddings");
  K     = params->max_K < cap ? params->max_K : cap;
  kde_K = params->kde_K < cap ? params->kde_K : cap;
  /* eager or lazy densities: the same choice on every rank */
  eager_mine = wn_tsds_eager_ || (env && env[0] && strcmp(env, "0") != 0);
  PetscCallMPI(MPI_Allreduce(&eager_mine, &eager, 1, MPI_INT, MPI_MAX, comm));

  PetscCall(PetscNew(&r));
  r->K     = K;
  r->kde_K = kde_K;

  /* step 1: the K nearest candidates of every target, replicated */
  t0 = MPI_Wtime();
  PetscCall(tsds_knn_blocks(L, d, X_local, NULL, 0, M, Q, K, params->metric, &index, &dist));

  /* U: the union of the lists, ascending, and each member's position in it (position[g] = -1 outside U) */
  PetscCall(PetscMalloc1(N, &position));
  for (int64_t g = 0; g < N; g++) position[g] = -1;
  for (int64_t i = 0; i < M * K; i++) {
    PetscCheck(index[i] >= 0 && index[i] < N, PETSC_COMM_SELF, PETSC_ERR_PLIB, "kNN returned row %lld outside [0, %lld)", (long long)index[i], (long long)N);
    position[index[i]] = 0;
  }
  for (int64_t g = 0; g < N; g++)
    if (position[g] == 0) n_U++;
  PetscCall(PetscMalloc1(n_U, &U));
  n_U = 0;
  for (int64_t g = 0; g < N; g++)
    if (position[g] == 0) {
      position[g] = n_U;
      U[n_U++]    = g;
    }

  /* steps 2-4: densities (known[u] = 1 once rho_U[u] holds u's density) and the water-filling, replicated */
  t1 = MPI_Wtime();
  PetscCall(PetscMalloc1(n_U, &rho_U));
  PetscCall(PetscCalloc1(n_U, &known));
  PetscCall(PetscMalloc1(n_U + 1, &R));
  PetscCall(PetscMalloc1(M * K, &rho));
  PetscCall(PetscMalloc1(M, &r->last_k));
  mass = rho; /* in place: the water-filling overwrites the densities with the masses (saves M x K doubles) */
  if (params->sigma == 0.0 || eager) {
    if (params->sigma == 0.0)
      for (int64_t u = 0; u < n_U; u++) rho_U[u] = 1.0;
    else {
      tsds_union ux;

      for (int64_t u = 0; u < n_U; u++) R[u] = u;
      PetscCall(tsds_union_setup(L, d, X_local, U, n_U, kde_K, params->sigma, params->metric, &ux));
      PetscCall(tsds_density_search(&ux, R, n_U, rho_U, &near));
      PetscCall(tsds_union_destroy(&ux));
      t_density = MPI_Wtime() - t1;
      for (int64_t u = 0; u < n_U; u++)
        PetscCheck(rho_U[u] > 0.0, comm, PETSC_ERR_ARG_OUTOFRANGE, "TSDS: candidate %lld has density %g: sigma = %g is below the resolution of the distances (the point itself is not among its kde_K = %lld nearest)", (long long)U[u], rho_U[u],
                   params->sigma, (long long)kde_K);
    }
    for (int64_t u = 0; u < n_U; u++) known[u] = 1;
    n_known = n_U;
    t2      = MPI_Wtime();
    tsds_fill_rho(M * K, index, position, rho_U, known, rho);
    PetscCall(wn_tsds_waterfill_(M, K, dist, rho, params->alpha, params->C, &r->level, r->last_k, mass, &r->stopped_early));
    t_fill = MPI_Wtime() - t2;
  } else {
    tsds_union ux;
    tsds_cert  ct, *ctp = NULL;
    int64_t    start = wn_tsds_lazy_start_;

    PetscCall(tsds_union_setup(L, d, X_local, U, n_U, kde_K, params->sigma, params->metric, &ux));
    if (params->metric == WN_KNN_L2 && wn_tsds_certify_) {
      PetscCall(tsds_cert_setup(&ux, &ct));
      ctp = &ct;
    }
    t_density = MPI_Wtime() - t1;
    PetscCall(PetscMalloc1(M, &len));
    /* round 0: the prefixes the water-filling reaches with every density estimated as 1 */
    t2 = MPI_Wtime();
    if (start > 0)
      for (int64_t j = 0; j < M; j++) len[j] = start < K ? start : K;
    else {
      tsds_fill_rho(M * K, index, position, rho_U, known, rho);
      PetscCall(wn_tsds_waterfill_(M, K, dist, rho, params->alpha, params->C, &r->level, r->last_k, mass, &r->stopped_early));
      for (int64_t j = 0; j < M; j++) len[j] = tsds_grow(0, r->last_k[j], K);
    }
    t_fill += MPI_Wtime() - t2;
    for (;;) {
      int64_t n_short = 0;

      rounds++;
      /* the prefixes' densities not known yet, in ascending U positions (marked 2 first) */
      for (int64_t j = 0; j < M; j++)
        for (int64_t k = 0; k < len[j]; k++) {
          int64_t u = position[index[j * K + k]];

          if (!known[u]) known[u] = 2;
        }
      n_R = 0;
      for (int64_t u = 0; u < n_U; u++)
        if (known[u] == 2) R[n_R++] = u;
      t2 = MPI_Wtime();
      PetscCall(tsds_density_rows(&ux, ctp, R, n_R, rho_U, &near, &n_certified));
      t_density += MPI_Wtime() - t2;
      for (int64_t i = 0; i < n_R; i++) {
        PetscCheck(rho_U[R[i]] > 0.0, comm, PETSC_ERR_ARG_OUTOFRANGE, "TSDS: candidate %lld has density %g: sigma = %g is below the resolution of the distances (the point itself is not among its kde_K = %lld nearest)", (long long)U[R[i]],
                   rho_U[R[i]], params->sigma, (long long)kde_K);
        known[R[i]] = 1;
      }
      n_known += n_R;
      /* the water-filling with the unknown densities estimated; exact if it read known ones only */
      t2 = MPI_Wtime();
      tsds_fill_rho(M * K, index, position, rho_U, known, rho);
      PetscCall(wn_tsds_waterfill_(M, K, dist, rho, params->alpha, params->C, &r->level, r->last_k, mass, &r->stopped_early));
      t_fill += MPI_Wtime() - t2;
      for (int64_t j = 0; j < M; j++) {
        int64_t top = r->last_k[j] + 1 < K ? r->last_k[j] + 1 : K - 1, k;

        for (k = len[j]; k <= top; k++)
          if (known[position[index[j * K + k]]] != 1) break;
        if (k <= top) {
          PetscCheck(len[j] < K, PETSC_COMM_SELF, PETSC_ERR_PLIB, "TSDS: query %lld read an unknown density within its full list", (long long)j);
          len[j] = tsds_grow(len[j], r->last_k[j], K);
          n_short++;
        }
      }
      if (n_short == 0) break;
    }
    if (ctp) PetscCall(tsds_cert_destroy(ctp));
    PetscCall(tsds_union_destroy(&ux));
    PetscCall(PetscFree(len));
  }
  r->n_near_dup = near;
  r->n_union    = n_U;
  r->n_density  = n_known;
  wn_tsds_stats_[0] = rounds;
  wn_tsds_stats_[1] = n_known;
  wn_tsds_stats_[2] = n_certified;
  wn_tsds_stats_[3] = n_known - n_certified;

  PetscCall(PetscInfo(NULL, "TSDS: N = %lld, M = %lld, K = %lld, kde_K = %lld, |U| = %lld; kNN %.3f s; densities %.3f s (%s: %lld rounds, %lld densities, %lld certified isolated, %lld searched); water-filling %.3f s\n", (long long)N, (long long)M, (long long)K, (long long)kde_K, (long long)n_U, t1 - t0, t_density,
                      params->sigma == 0.0 ? "sigma 0" : eager ? "eager" : "lazy", (long long)rounds, (long long)n_known, (long long)n_certified, (long long)(n_known - n_certified), t_fill));
  /* p and rho of this rank's candidates; p adds the masses in query order, then neighbour order */
  PetscCall(PetscCalloc1(L->n_local, &r->p_local));
  PetscCall(PetscCalloc1(L->n_local, &r->rho_local));
  for (int64_t j = 0; j < M; j++)
    for (int64_t k = 0; k <= r->last_k[j] + 1; k++) {
      int64_t g = index[j * K + k] - L->row_start;

      if (g >= 0 && g < L->n_local) r->p_local[g] += mass[j * K + k];
    }
  for (int64_t i = 0; i < L->n_local; i++) {
    int64_t u = position[L->row_start + i];

    if (u >= 0 && known[u] == 1) r->rho_local[i] = rho_U[u];
    if (r->p_local[i] > 0.0) n_support++;
    sum += r->p_local[i];
  }
  PetscCallMPI(MPI_Allreduce(&n_support, &r->n_support, 1, MPI_INT64_T, MPI_SUM, comm));
  PetscCallMPI(MPI_Allreduce(&sum, &sum_all, 1, MPI_DOUBLE, MPI_SUM, comm));
  /* each query's masses add to 1/M up to rounding, the per-candidate sums add a few ulps per query, and summing the
   * p of the n_support candidates adds up to one ulp each (N = 400,000 gave 2.4e-12) */
  tolerance = 4.0 * (double)(M + r->n_support) * DBL_EPSILON;
  if (tolerance < 1e-12) tolerance = 1e-12;
  PetscCheck(fabs(sum_all - 1.0) <= tolerance, comm, PETSC_ERR_PLIB, "TSDS probabilities sum to %.17g, not 1 (tolerance %g)", sum_all, tolerance);

  PetscCall(PetscFree(rho)); /* and mass */
  PetscCall(PetscFree(R));
  PetscCall(PetscFree(known));
  PetscCall(PetscFree(rho_U));
  PetscCall(PetscFree(U));
  PetscCall(PetscFree(position));
  PetscCall(PetscFree(dist));
  PetscCall(PetscFree(index));
  *res = r;
  PetscFunctionReturn(PETSC_SUCCESS);
}

/* ---- step 5: sampling -------------------------------------------------------------------------------------- */

typedef struct {
  int64_t a, b;
} tsds_pair;

static int tsds_pair_cmp(const void *x, const void *y)
{
  const tsds_pair *p = (const tsds_pair *)x, *q = (const tsds_pair *)y;

  if (p->a != q->a) return p->a < q->a ? -1 : 1;
  if (p->b != q->b) return p->b < q->b ? -1 : 1;
  return 0;
}

/* a run of equal draws: its row, first draw and size */
typedef struct {
  int64_t first, row, count;
} tsds_run;

static int tsds_run_cmp(const void *x, const void *y)
{
  const tsds_run *p = (const tsds_run *)x, *q = (const tsds_run *)y;

  return p->first < q->first ? -1 : p->first > q->first ? 1 : 0;
}

typedef struct {
  double  key;
  int64_t row;
} tsds_keyed;

/* larger key first, ties to the lower row */
static int tsds_keyed_cmp(const void *x, const void *y)
{
  const tsds_keyed *p = (const tsds_keyed *)x, *q = (const tsds_keyed *)y;

  if (p->key != q->key) return p->key > q->key ? -1 : 1;
  if (p->row != q->row) return p->row < q->row ? -1 : 1;
  return 0;
}

/* Stream constant of the with-replacement draws ("tsdsdraw"), so they differ from the row keys. */
#define TSDS_DRAW_STREAM 0x7473647364726177ULL
#define TSDS_GOLDEN      0x9e3779b97f4a7c15ULL
/* p in fixed point: round(p 2^52); 2^52 + N / 2 fits easily in 64 bits since sum p = 1 */
#define TSDS_FIXED_SCALE 52

/* With replacement: S multinomial draws on the exact fixed-point CDF by global row. Collective. */
static PetscErrorCode tsds_sample_replace(const wn_layout *L, const double *p_local, int64_t S, uint64_t seed, int64_t **drawn)
{
  uint64_t *cum = NULL, local = 0, offset = 0, total = 0, threshold, base, counter = 0;
  int64_t  *rows = NULL;

  PetscFunctionBeginUser;
  PetscCall(PetscMalloc1(L->n_local, &cum));
  for (int64_t i = 0; i < L->n_local; i++) {
    local += (uint64_t)llround(ldexp(p_local[i], TSDS_FIXED_SCALE));
    cum[i] = local;
  }
  PetscCallMPI(MPI_Exscan(&local, &offset, 1, MPI_UINT64_T, MPI_SUM, L->comm));
  if (L->rank == 0) offset = 0;
  PetscCallMPI(MPI_Allreduce(&local, &total, 1, MPI_UINT64_T, MPI_SUM, L->comm));
  PetscCheck(total > 0, L->comm, PETSC_ERR_PLIB, "TSDS sampling: the probabilities are all zero");

  PetscCall(PetscMalloc1(S, &rows));
  threshold = (0 - total) % total; /* 2^64 mod total: rejecting x < threshold leaves a multiple of total values */
  base      = wn_splitmix64(seed ^ TSDS_DRAW_STREAM);
  for (int64_t t = 0; t < S; t++) {
    uint64_t x, v;

    do x = wn_splitmix64(base + (counter++) * TSDS_GOLDEN);
    while (x < threshold);
    v       = x % total;
    rows[t] = -1;
    if (v >= offset && v - offset < local) {
      /* first local i with cum[i] > v - offset */
      int64_t lo = 0, hi = L->n_local - 1;

      v -= offset;
      while (lo < hi) {
        int64_t mid = lo + (hi - lo) / 2;

        if (cum[mid] > v) hi = mid;
        else lo = mid + 1;
      }
      rows[t] = L->row_start + lo;
    }
  }
  PetscCheck(S <= INT_MAX, L->comm, PETSC_ERR_SUP, "TSDS sampling: sample_size %lld exceeds one MPI message", (long long)S);
  PetscCallMPI(MPI_Allreduce(MPI_IN_PLACE, rows, (PetscMPIInt)S, MPI_INT64_T, MPI_MAX, L->comm));
  for (int64_t t = 0; t < S; t++) PetscCheck(rows[t] >= 0, PETSC_COMM_SELF, PETSC_ERR_PLIB, "TSDS sampling: draw %lld found no owner", (long long)t);
  PetscCall(PetscFree(cum));
  *drawn = rows;
  PetscFunctionReturn(PETSC_SUCCESS);
}

/* Without replacement: Efraimidis-Spirakis keys log(u_i) / p_i (the order of u_i^(1/p_i)) with u_i =
 * wn_uniform01(seed, i) by global row; the S largest, larger key first, ties to the lower row. Collective. */
static PetscErrorCode tsds_sample_without(const wn_layout *L, const double *p_local, int64_t S, uint64_t seed, int64_t **drawn)
{
  tsds_keyed  *mine = NULL, *all = NULL;
  int64_t      n_pos = 0, n_pos_all = 0, n_send, n_all = 0, *rows = NULL;
  PetscMPIInt  size = L->size, *counts = NULL, *displs = NULL, n_send_bytes;

  PetscFunctionBeginUser;
  for (int64_t i = 0; i < L->n_local; i++)
    if (p_local[i] > 0.0) n_pos++;
  PetscCallMPI(MPI_Allreduce(&n_pos, &n_pos_all, 1, MPI_INT64_T, MPI_SUM, L->comm));
  PetscCheck(n_pos_all >= S, L->comm, PETSC_ERR_ARG_OUTOFRANGE, "TSDS sampling without replacement: sample_size %lld exceeds the %lld candidates with p > 0", (long long)S, (long long)n_pos_all);
  PetscCall(PetscMalloc1(n_pos + 1, &mine));
  n_pos = 0;
  for (int64_t i = 0; i < L->n_local; i++)
    if (p_local[i] > 0.0) {
      int64_t g = L->row_start + i;

      mine[n_pos].key   = log(wn_uniform01(seed, (uint64_t)g)) / p_local[i];
      mine[n_pos++].row = g;
    }
  qsort(mine, (size_t)n_pos, sizeof(*mine), tsds_keyed_cmp);
  n_send = n_pos < S ? n_pos : S;
  PetscCheck(n_send * (int64_t)sizeof(tsds_keyed) <= INT_MAX, PETSC_COMM_SELF, PETSC_ERR_SUP, "TSDS sampling: %lld keys exceed one MPI message", (long long)n_send);
  n_send_bytes = (PetscMPIInt)(n_send * (int64_t)sizeof(tsds_keyed));
  PetscCall(PetscMalloc2(size, &counts, size, &displs));
  PetscCallMPI(MPI_Allgather(&n_send_bytes, 1, MPI_INT, counts, 1, MPI_INT, L->comm));
  for (PetscMPIInt r = 0; r < size; r++) {
    PetscCheck(n_all * (int64_t)sizeof(tsds_keyed) <= INT_MAX - counts[r], PETSC_COMM_SELF, PETSC_ERR_SUP, "TSDS sampling: the keys exceed one MPI message");
    displs[r] = (PetscMPIInt)(n_all * (int64_t)sizeof(tsds_keyed));
    n_all += counts[r] / (PetscMPIInt)sizeof(tsds_keyed);
  }
  PetscCall(PetscMalloc1(n_all + 1, &all));
  PetscCallMPI(MPI_Allgatherv(mine, n_send_bytes, MPI_BYTE, all, counts, displs, MPI_BYTE, L->comm));
  qsort(all, (size_t)n_all, sizeof(*all), tsds_keyed_cmp);
  PetscCall(PetscMalloc1(S, &rows));
  for (int64_t t = 0; t < S; t++) rows[t] = all[t].row;
  PetscCall(PetscFree(all));
  PetscCall(PetscFree2(counts, displs));
  PetscCall(PetscFree(mine));
  *drawn = rows;
  PetscFunctionReturn(PETSC_SUCCESS);
}

/**
  @brief Draw params->sample_size candidates from p (METHODS.md 4.2 step 5) with a seeded counter-based generator,
  returning the distinct picks in order of first draw with their draw counts.

  Collective on L->comm. The picks are the same on any rank count.

  With replacement (the paper and the reference): p_i becomes the integer round(p_i 2^52), the CDF over global
  rows is accumulated exactly in 64-bit integers (local prefix sums plus MPI_Exscan), and draw t takes a uniform
  integer below the total from the splitmix64 stream of the seed (rejection sampling: no modulo bias) and finds its
  row by binary search on the owner's part of the CDF. Candidates with p < 2^-53 cannot be drawn.
  Without replacement: Efraimidis-Spirakis keys log(u_i) / p_i (u_i = wn_uniform01(seed, i)), the sample_size
  largest, ordered by key (largest first, ties to the lower row); every count is 1.

  @param[in]  L        layout of the candidates (borrowed)
  @param[in]  r        probabilities from wn_tsds_probabilities() (borrowed)
  @param[in]  params   sample_size >= 0, replace, seed (borrowed)
  @param[out] n_picks  distinct picks
  @param[out] picks    n_picks global rows in order of first draw, replicated (owned by the caller; PetscFree)
  @param[out] counts   n_picks draw counts, summing to sample_size (owned by the caller; PetscFree)

  @return PETSC_SUCCESS; an error (collective) for sample_size < 0, or without replacement when fewer than
  sample_size candidates have p > 0.
**/
PetscErrorCode wn_tsds_sample(const wn_layout *L, const wn_tsds_result *r, const wn_tsds_params *params, int64_t *n_picks, int64_t **picks, int64_t **counts)
{
  int64_t    S, *drawn = NULL, n_distinct = 0, *out_picks = NULL, *out_counts = NULL;
  tsds_pair *pairs = NULL;
  tsds_run  *groups = NULL;

  PetscFunctionBeginUser;
  PetscCheck(L && r && params && n_picks && picks && counts, PETSC_COMM_SELF, PETSC_ERR_ARG_NULL, "wn_tsds_sample: NULL argument");
  S = params->sample_size;
  PetscCheck(S >= 0, L->comm, PETSC_ERR_ARG_OUTOFRANGE, "TSDS sample_size must be >= 0, got %lld", (long long)S);
  if (params->replace) PetscCall(tsds_sample_replace(L, r->p_local, S, params->seed, &drawn));
  else PetscCall(tsds_sample_without(L, r->p_local, S, params->seed, &drawn));

  /* distinct rows in order of first draw: sort (row, draw), count each row's run, sort the runs by first draw */
  PetscCall(PetscMalloc1(S + 1, &pairs));
  PetscCall(PetscMalloc1(S + 1, &groups));
  for (int64_t t = 0; t < S; t++) {
    pairs[t].a = drawn[t];
    pairs[t].b = t;
  }
  qsort(pairs, (size_t)S, sizeof(*pairs), tsds_pair_cmp);
  for (int64_t t = 0; t < S; t++) {
    if (t == 0 || pairs[t].a != pairs[t - 1].a) {
      groups[n_distinct].first = pairs[t].b;
      groups[n_distinct].row   = pairs[t].a;
      groups[n_distinct].count = 0;
      n_distinct++;
    }
    groups[n_distinct - 1].count++;
  }
  qsort(groups, (size_t)n_distinct, sizeof(*groups), tsds_run_cmp);
  PetscCall(PetscMalloc1(n_distinct + 1, &out_picks));
  PetscCall(PetscMalloc1(n_distinct + 1, &out_counts));
  for (int64_t i = 0; i < n_distinct; i++) {
    out_picks[i]  = groups[i].row;
    out_counts[i] = groups[i].count;
  }
  PetscCall(PetscFree(groups));
  PetscCall(PetscFree(pairs));
  PetscCall(PetscFree(drawn));
  *n_picks = n_distinct;
  *picks   = out_picks;
  *counts  = out_counts;
  PetscFunctionReturn(PETSC_SUCCESS);
}

/**
  @brief Free a TSDS result and set *res to NULL (NULL is accepted).

  Not collective.

  @param[in,out] res  result from wn_tsds_probabilities()
**/
PetscErrorCode wn_tsds_result_destroy(wn_tsds_result **res)
{
  PetscFunctionBeginUser;
  if (!res || !*res) PetscFunctionReturn(PETSC_SUCCESS);
  PetscCall(PetscFree((*res)->last_k));
  PetscCall(PetscFree((*res)->p_local));
  PetscCall(PetscFree((*res)->rho_local));
  PetscCall(PetscFree(*res));
  PetscFunctionReturn(PETSC_SUCCESS);
}
