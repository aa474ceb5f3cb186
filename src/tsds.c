/* tsds.c - TSDS (Liu, Karbasi, Rekatsinas, NeurIPS 2024, arXiv 2410.11303): task-specific data selection by
 * optimal-transport alignment to the target set with a kernel-density penalty on near-duplicates, solved as
 * in the reference code (ZifanL/TSDS tsds.py, config.yaml defaults) by a water-filling over each target's
 * exact nearest candidates. METHODS.md section 4.2, steps 1-5, with its fixes for the reference's edge cases.
 *
 * Owns: the caps K = min(max_K, N / 10) and kde_K = min(kde_K, N / 10); the union U of the targets'
 * neighbour lists and the densities rho_u over U (step 2); the water-filling over (count, k, j) events with
 * the stop rule (step 3); the per-candidate probabilities p (step 4); and seeded sampling from p, with or
 * without replacement (step 5). Leaves to knn.c the exact neighbour search, and to the method and pipeline
 * layers the options, the budget and the output.
 *
 * Determinism: the neighbour lists are replicated and rank-independent (knn.h); the densities and the
 * water-filling run replicated, in the same order on every rank; each candidate's p adds its queries'
 * masses in query order (then neighbour order), which is the reference's order. So p has the same bits on
 * any rank count, and so do the samples (an exact fixed-point CDF and a counter-based generator).
 *
 * Cost: the kNN of the targets is O(M N d); the densities are a kNN of U within U, O(|U|^2 d) in sgemm, and
 * |U| approaches N when M K >> N (the reference's defaults on 100,000 candidates: |U| = N, so about 40 s of
 * sgemm on two cores here, where the reference's approximate IVF search scans a few percent). Only neighbours
 * closer than sigma count, so each point's density list is searched with k = 32 first and grown only for the
 * points whose list is still within sigma at its end (the density is the same as from kde_K neighbours): this
 * saves the top-k selection of a large kde_K, not the distance computations. The water-filling is O(M K log M).
 *
 * Test hooks (no header; tests/unit/test_tsds.c declares them with extern): wn_tsds_waterfill_ (steps 3-4 on
 * M x K arrays), wn_tsds_density_ (step 2 from neighbour distances) and wn_tsds_block_bytes_ (the memory
 * bound of one kNN call, so tests can force many small query blocks).
 */
#include <float.h>
#include <limits.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <winnow/tsds.h>
#include <winnow/util.h>

/* Test hooks: see the banner. Defined (with their documentation) below. */
PetscErrorCode wn_tsds_waterfill_(int64_t M, int64_t K, const double *dist, const double *rho, double alpha, double C, double *level, int64_t *last_k, double *mass, PetscBool *stopped);
PetscErrorCode wn_tsds_density_(int64_t n, int64_t k, const double *dist, double sigma, double *rho, int64_t *n_near_dup);

/* Bytes one wn_knn_search call may return and take as queries (k (distance, row) pairs and the d floats of each
 * query): the queries go in blocks of max(1, bytes / (16 k + 4 d)); knn.c bounds its own buffers. With the
 * default, the reference's M = 2000 targets and K = 5000 are one call. A test hook (tests force tiny blocks). */
size_t wn_tsds_block_bytes_ = (size_t)256 << 20;

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

/* Neighbours searched first for a density; more (x 8, up to kde_K) only for the points that need them. */
#define TSDS_KDE_FIRST_K 32

/* Densities of nb points of U (queries Qb, nb x d, replicated; their global rows U_block) from their k nearest
 * within U, accumulating the near-duplicate count into *near. Only neighbours closer than sigma count, so each
 * point's list is searched with a small k first and grown (x 8, up to k) only while its last neighbour is still
 * closer than sigma: a list whose last entry has kernel <= 0 holds every neighbour that counts (the rest are at
 * least as far), so the density equals the one from the full list of k. This saves the top-k selection cost of
 * a large kde_K when few points are within sigma (the search still computes every distance). Qb is reordered.
 * Collective on L->comm. */
static PetscErrorCode tsds_density_block(const wn_layout *L, int64_t d, const float *X_local, const int64_t *subset, int64_t n_subset, int64_t nb, float *Qb, const int64_t *U_block, int64_t k, double sigma, wn_knn_metric metric, int64_t *pending, double *rho, int64_t *near)
{
  int64_t n_pending = nb, k_cur = k < TSDS_KDE_FIRST_K ? k : TSDS_KDE_FIRST_K;
  double  sigma2    = sigma * sigma;

  PetscFunctionBeginUser;
  for (int64_t q = 0; q < nb; q++) pending[q] = q;
  while (n_pending > 0) {
    wn_knn_result *r      = NULL;
    int64_t        n_next = 0;

    PetscCall(wn_knn_search(L, d, X_local, subset, n_subset, n_pending, Qb, k_cur, metric, &r));
    PetscCheck(r->m == n_pending && r->k == k_cur, PETSC_COMM_SELF, PETSC_ERR_PLIB, "kNN returned %lld x %lld neighbours, expected %lld x %lld", (long long)r->m, (long long)r->k, (long long)n_pending, (long long)k_cur);
    for (int64_t i = 0; i < n_pending; i++) {
      int64_t q = pending[i];
      double *row = r->dist + i * k_cur, last = row[k_cur - 1];

      /* the point itself at distance 0, as the reference's exact self-distance (rounding in ||q||^2 + ||x||^2
         - 2 q.x would otherwise leave it slightly positive) */
      for (int64_t t = 0; t < k_cur; t++)
        if (r->index[i * k_cur + t] == U_block[q]) row[t] = 0.0;
      if (k_cur == k || 1.0 - last * last / sigma2 <= 0.0) {
        int64_t n_near = 0;

        PetscCall(wn_tsds_density_(1, k_cur, row, sigma, rho + q, &n_near));
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

/* Densities rho_U of the n_U candidates U (ascending global rows, replicated): each one's kde_K nearest within U
 * (wn_knn_search on the subset of this rank's rows in U, with the embeddings of U gathered from their owners by
 * blocks of queries; tsds_density_block), the point itself counted at distance 0. Collective on L->comm. */
static PetscErrorCode tsds_density_union(const wn_layout *L, int64_t d, const float *X_local, const int64_t *U, int64_t n_U, int64_t kde_K, double sigma, wn_knn_metric metric, double *rho_U, int64_t *n_near_dup)
{
  int64_t      k = kde_K < n_U ? kde_K : n_U, block = tsds_block_queries(k, d), own_lo, own_hi, near = 0;
  int64_t     *subset = NULL, *rank_lo = NULL, *rank_hi = NULL, *pending = NULL;
  float       *Qb = NULL, *send = NULL;
  PetscMPIInt *counts = NULL, *displs = NULL, size = L->size;

  PetscFunctionBeginUser;
  /* U positions owned by each rank: U is ascending and ownership contiguous, so each is a range */
  PetscCall(PetscMalloc2(size, &rank_lo, size, &rank_hi));
  for (PetscMPIInt r = 0; r < size; r++) {
    int64_t start, count;

    wn_layout_range(L->n_global, size, r, &start, &count);
    rank_lo[r] = tsds_lower_bound(U, n_U, start);
    rank_hi[r] = tsds_lower_bound(U, n_U, start + count);
  }
  own_lo = rank_lo[L->rank];
  own_hi = rank_hi[L->rank];
  /* never NULL, even when empty: a NULL subset would mean all of this rank's rows */
  PetscCall(PetscMalloc1(own_hi - own_lo + 1, &subset));
  for (int64_t p = own_lo; p < own_hi; p++) subset[p - own_lo] = U[p] - L->row_start;

  if (block > n_U) block = n_U;
  PetscCheck(block * d <= INT_MAX, PETSC_COMM_SELF, PETSC_ERR_SUP, "TSDS: a block of %lld queries of dimension %lld exceeds one MPI message", (long long)block, (long long)d);
  PetscCall(PetscMalloc2(size, &counts, size, &displs));
  PetscCall(PetscMalloc1(block * d, &Qb));
  PetscCall(PetscMalloc1(block * d + 1, &send));
  PetscCall(PetscMalloc1(block, &pending));
  for (int64_t b0 = 0; b0 < n_U; b0 += block) {
    int64_t b1 = b0 + block < n_U ? b0 + block : n_U, nb = b1 - b0, lo, hi, off = 0, sent = 0;

    for (PetscMPIInt r = 0; r < size; r++) {
      lo = rank_lo[r] > b0 ? rank_lo[r] : b0;
      hi = rank_hi[r] < b1 ? rank_hi[r] : b1;
      if (hi < lo) hi = lo;
      counts[r] = (PetscMPIInt)((hi - lo) * d);
      displs[r] = (PetscMPIInt)off;
      off += (hi - lo) * d;
    }
    lo = own_lo > b0 ? own_lo : b0;
    hi = own_hi < b1 ? own_hi : b1;
    for (int64_t p = lo; p < hi; p++, sent++) PetscCall(PetscArraycpy(send + sent * d, X_local + (U[p] - L->row_start) * d, d));
    PetscCallMPI(MPI_Allgatherv(send, counts[L->rank], MPI_FLOAT, Qb, counts, displs, MPI_FLOAT, L->comm));
    PetscCall(tsds_density_block(L, d, X_local, subset, own_hi - own_lo, nb, Qb, U + b0, k, sigma, metric, pending, rho_U + b0, &near));
  }
  *n_near_dup = near;
  PetscCall(PetscFree(pending));
  PetscCall(PetscFree(send));
  PetscCall(PetscFree(Qb));
  PetscCall(PetscFree2(counts, displs));
  PetscCall(PetscFree(subset));
  PetscCall(PetscFree2(rank_lo, rank_hi));
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

/**
  @brief TSDS probabilities p over the candidates (METHODS.md 4.2 steps 1-4): exact kNN of the M targets, the
  densities over the union U of the neighbour lists, the water-filling, and p assembled by owner.

  Collective on L->comm.

  K = min(max_K, N / 10) and kde_K = min(kde_K, N / 10) (the reference's caps). Step 1: the K nearest candidates
  of each target (wn_knn_search with params->metric; L2 distances are the square roots of the squared ones, as
  in the reference). Step 2 (sigma > 0): U = the union of the lists (ascending global rows); each u in U gets its
  min(kde_K, |U|) nearest within U (itself included, at distance 0) and rho_u = sum max(0, 1 - d^2 / sigma^2);
  sigma = 0 gives rho = 1. Steps 3-4: wn_tsds_waterfill_ on (d_{j,k}, rho_{j,k}), replicated; each rank adds the
  masses of the neighbours it owns into p_local in query order. The sum of p is checked to be 1.

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
  int64_t         N, cap, K, kde_K, n_U = 0, *index = NULL, *U = NULL, *position = NULL, n_support = 0;
  double         *dist = NULL, *rho_U = NULL, *rho = NULL, *mass = NULL, sum = 0.0, sum_all = 0.0, tolerance, t0, t1, t2, t3;
  wn_tsds_result *r = NULL;

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

  /* step 2: densities over U, replicated */
  t1 = MPI_Wtime();
  PetscCall(PetscMalloc1(n_U, &rho_U));
  if (params->sigma > 0.0) PetscCall(tsds_density_union(L, d, X_local, U, n_U, kde_K, params->sigma, params->metric, rho_U, &r->n_near_dup));
  else {
    for (int64_t u = 0; u < n_U; u++) rho_U[u] = 1.0;
    r->n_near_dup = 0;
  }
  for (int64_t u = 0; u < n_U; u++)
    PetscCheck(rho_U[u] > 0.0, comm, PETSC_ERR_ARG_OUTOFRANGE, "TSDS: candidate %lld has density %g: sigma = %g is below the resolution of the distances (the point itself is not among its kde_K = %lld nearest)", (long long)U[u],
               rho_U[u], params->sigma, (long long)kde_K);

  /* steps 3-4: the water-filling, replicated */
  t2 = MPI_Wtime();
  PetscCall(PetscMalloc1(M * K, &rho));
  for (int64_t i = 0; i < M * K; i++) rho[i] = rho_U[position[index[i]]];
  PetscCall(PetscMalloc1(M, &r->last_k));
  mass = rho; /* in place: the densities are not needed afterwards (saves M x K doubles) */
  PetscCall(wn_tsds_waterfill_(M, K, dist, rho, params->alpha, params->C, &r->level, r->last_k, mass, &r->stopped_early));

  t3 = MPI_Wtime();
  PetscCall(PetscInfo(NULL, "TSDS: N = %lld, M = %lld, K = %lld, kde_K = %lld, |U| = %lld; kNN %.3f s, density %.3f s, water-filling %.3f s\n", (long long)N, (long long)M, (long long)K, (long long)kde_K, (long long)n_U, t1 - t0, t2 - t1, t3 - t2));
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

    if (u >= 0) r->rho_local[i] = rho_U[u];
    if (r->p_local[i] > 0.0) n_support++;
    sum += r->p_local[i];
  }
  PetscCallMPI(MPI_Allreduce(&n_support, &r->n_support, 1, MPI_INT64_T, MPI_SUM, comm));
  PetscCallMPI(MPI_Allreduce(&sum, &sum_all, 1, MPI_DOUBLE, MPI_SUM, comm));
  /* each query's masses add to 1/M up to rounding; the per-candidate sums add a few ulps per query */
  tolerance = 1e-12 > 4.0 * (double)M * DBL_EPSILON ? 1e-12 : 4.0 * (double)M * DBL_EPSILON;
  PetscCheck(fabs(sum_all - 1.0) <= tolerance, comm, PETSC_ERR_PLIB, "TSDS probabilities sum to %.17g, not 1 (tolerance %g)", sum_all, tolerance);

  PetscCall(PetscFree(rho)); /* and mass */
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
