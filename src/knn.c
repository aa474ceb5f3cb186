/* knn.c - distributed exact k-nearest-neighbour search (METHODS.md sections 4.2 step 1-2 and 5; TSDS).
 *
 * Owns: for M replicated queries, the k nearest of a distributed set of candidate rows (all the rows a
 * rank owns, or a subset of them) by Euclidean or cosine distance; the sgemm tiles that give q.x, the
 * per-query local top-k, and the global merge. The result is replicated on every rank.
 * Leaves to others: what the neighbours are used for (tsds.c), where the rows come from (data.c).
 *
 * Distances, from q.x (float, sgemm) and the squared norms ||q||^2, ||x||^2 (double, in a fixed order):
 *   l2      d2 = (||q||^2 + ||x||^2) - 2 q.x in double, clamped at 0; distance sqrt(d2)
 *   cosine  1 - c with c = q.x / (|q| |x|) in double, clamped to [-1, 1]; a zero vector (norm 0) has
 *           c = 0, so distance 1 to everything (itself included)
 * Order: ascending (distance, global row). Every (distance, row) pair is distinct, so this is a total order
 * and the k nearest are unique.
 *
 * Rank independence (bitwise), as in kernel.c: OpenBLAS computes an element of C with different last bits
 * for different call shapes, so every sgemm has a shape and operand positions that depend only on global
 * quantities. Candidates are numbered by position: the global row, or with a subset the position in the
 * global subset order (each rank's subset rows are a contiguous block of it, offset by an MPI_Exscan).
 * Candidate tile t covers positions [t*TR, t*TR + h), h = min(TR, n_candidates - t*TR); a rank computes
 * each tile that holds one of its candidates, copying them into an aligned scratch tile at their in-tile
 * position and zeroing the other rows (their products are discarded). Query tiles are [q0, q0 + nq) with q0
 * a multiple of TQ; TQ, TR and the blocking depend only on M, k and n_candidates. Each sgemm is
 * C (nq x h) = Q_tile X_tile^T, so a query's distances to a tile are one contiguous row of C.
 * The distance loops are compiled without FMA contraction, so every SIMD clone rounds like scalar code.
 *
 * Local top-k (the hot loop). For each query of a query tile, candidates arrive in ascending global row
 * order. A vectorised loop computes a tile row's keys (d2 for l2, the distance for cosine) and counts, per
 * block of 32, those below the query's threshold; a row with none (the common case once the threshold has
 * settled) costs that loop and nothing else. The threshold is the key of the query's current k-th best: a
 * candidate whose key is >= it has a distance >= the k-th best's and a higher row, so it cannot enter.
 * Candidates below it are appended, still in row order, to a staging list of capacity cap = 2k (at least
 * k + 64); when the list is full it is cut back to its k best and the threshold tightens. A cut finds the
 * k-th distance D (sampled selection, then a branch-free quickselect on the few candidates near D), keeps
 * dist < D and the first of the dist == D in row order (stable compaction), so the list stays in row order.
 * At the end, a stable LSD radix sort on the bits of the distances gives (distance, row) order directly.
 * For l2 the threshold on d2 is the smallest T with sqrt(T) >= D, so the order is exactly that of the
 * reported distances sqrt(d2) even where sqrt maps two squared distances to one double.
 *
 * Global merge. Each rank sorts its local k-list per query (padded with (+inf, INT64_MAX) when it has
 * fewer than k candidates) and an MPI_Allreduce with a commutative user operation merges two sorted lists
 * per query into the k best of their union. Taking the k smallest of a union under a total order is
 * associative and commutative, so the result does not depend on the reduction order: it is deterministic.
 * The lists travel as a derived datatype of k (double distance, int64 row) pairs, one element per query.
 * Memory: queries are processed in blocks so that the merge buffer holds at most KNN_MERGE_BYTES
 * (M x k x 16 bytes beyond that is split), and the staging lists at most KNN_STAGE_BYTES.
 */
#include <math.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>
#include <cblas.h>
#include <winnow/knn.h>

const char *const wn_knn_metric_names[] = {"l2", "cosine", "wn_knn_metric", "WN_KNN_", NULL};

/* Tile sizes. Measured on the issue-4 VM (AMD EPYC, OpenBLAS Cooperlake core, one thread, d = 384): sgemm
 * tiles of 512 x 256 to 1024 x 1024 ran at 94-98 GFLOP/s, within the noise of one 2000 x 100000 call
 * (99-101 GFLOP/s); 256 x 1024 at 79-89 and 64 x 2048 at 63. TR = 512 pads at most 2 x 511 rows per rank.
 * TQ is halved (down to 1) while the staging lists or a block's merge buffer would exceed their budgets. */
#define KNN_TILE_QUERIES    512
#define KNN_TILE_CANDIDATES 512
#define KNN_ALIGN_BYTES     64
#define KNN_MERGE_BYTES     (256.0 * 1024 * 1024) /* merge buffer of one block of queries */
#define KNN_STAGE_BYTES     (64.0 * 1024 * 1024)  /* staging lists of one query tile */

/* SIMD clones of the distance loops (as in kernel.c): the widest the CPU supports is picked at load time;
 * fp-contract=off so every clone and the scalar remainder round identically; no-trapping-math lets the
 * zero-norm branch of cosine be if-converted (the discarded lane may divide by zero; no result changes). */
#if defined(__GNUC__) && !defined(__clang__) && defined(__x86_64__) && defined(__linux__)
  #define KNN_SIMD_CLONES __attribute__((target_clones("avx512f", "avx2", "default"), optimize("O3", "fp-contract=off", "no-trapping-math")))
#else
  #define KNN_SIMD_CLONES
#endif

/* One neighbour: a staged candidate, an entry of a local k-list, and the element of the merge datatype
 * (16 bytes). Distances are >= 0 (never -0, never NaN for finite input), so their IEEE bits, read as an
 * unsigned integer, order them like the doubles: the radix sort below relies on it. */
typedef struct {
  double  dist;
  int64_t index;
} knn_pair;

static inline int knn_pair_less(const knn_pair *a, const knn_pair *b)
{
  return a->dist < b->dist || (a->dist == b->dist && a->index < b->index);
}

/* ---- selection and sorting ---------------------------------------------------------------------- */

static int knn_depth_limit(int64_t n)
{
  int depth = 0;
  while (n > 1) {
    n >>= 1;
    depth += 2;
  }
  return depth + 4;
}

/* Branch-free Lomuto partition of a[0..n) by (a[i] < pivot) when strict, else (a[i] <= pivot): returns m with
 * a[0..m) satisfying it and a[m..n) not. Every element is swapped with the boundary unconditionally, so the
 * loop has no data-dependent branch (about 1 ns an element instead of a mispredicted branch). */
static int64_t knn_partition_double(double *a, int64_t n, double pivot, int strict)
{
  int64_t m = 0;
  if (strict)
    for (int64_t i = 0; i < n; i++) {
      double v = a[i];
      a[i]     = a[m];
      a[m]     = v;
      m += v < pivot ? 1 : 0;
    }
  else
    for (int64_t i = 0; i < n; i++) {
      double v = a[i];
      a[i]     = a[m];
      a[m]     = v;
      m += v <= pivot ? 1 : 0;
    }
  return m;
}

/* The value a full ascending sort of a[0..n) would put at position nth (quickselect: pivot the median of
 * three, a three-way split in two branch-free passes so that runs of equal values end it at once; after
 * too many rounds the pivot is the exact median of medians of five, which bounds the work). Reorders a. */
static double knn_nth_double(double *a, int64_t n, int64_t nth)
{
  int64_t lo = 0, hi = n;
  int     rounds = knn_depth_limit(n);

  while (hi - lo > 16) {
    int64_t m = hi - lo, lt, le;
    double *b = a + lo, x = b[0], y = b[m / 2], z = b[m - 1], pivot;

    if (rounds-- > 0) pivot = x < y ? (y < z ? y : (x < z ? z : x)) : (x < z ? x : (y < z ? z : y));
    else { /* median of medians: every group of 5 sorted, their medians gathered at the front */
      int64_t g = 0;
      for (int64_t i = 0; i + 5 <= m; i += 5, g++) {
        for (int64_t u = i + 1; u < i + 5; u++)
          for (int64_t v = u; v > i && b[v] < b[v - 1]; v--) {
            double t = b[v];
            b[v]     = b[v - 1];
            b[v - 1] = t;
          }
        double t = b[g];
        b[g]     = b[i + 2];
        b[i + 2] = t;
      }
      pivot = knn_nth_double(b, g, g / 2);
    }
    lt = knn_partition_double(b, m, pivot, 1);              /* b[0..lt) < pivot */
    if (nth < lo + lt) {
      hi = lo + lt;
      continue;
    }
    le = lt + knn_partition_double(b + lt, m - lt, pivot, 0); /* b[lt..le) == pivot */
    if (nth < lo + le) return pivot;
    lo += le;
  }
  for (int64_t i = lo + 1; i < hi; i++) {
    double  v = a[i];
    int64_t j = i;
    for (; j > lo && v < a[j - 1]; j--) a[j] = a[j - 1];
    a[j] = v;
  }
  return a[nth];
}

/* The distance a full sort of st[0..n) by distance would put at position kth. For large n, two pivots are
 * taken from an evenly spaced sample of KNN_SAMPLE distances around kth's expected place (+-3.5 standard
 * deviations of a sample rank); one branch-free pass counts the distances below the low pivot and gathers
 * those between the pivots into scratch, and a quickselect on that small set finishes (Floyd and Rivest's
 * idea). If the k-th falls outside the pivots (rare), a quickselect on all n distances. scratch holds n. */
#define KNN_SAMPLE 512
static double knn_select_dist(const knn_pair *st, int64_t n, int64_t kth, double *scratch)
{
  double  sample[KNN_SAMPLE], lo, hi;
  int64_t i, below = 0, m = 0, r, spread;

  if (n > 4 * KNN_SAMPLE) {
    for (i = 0; i < KNN_SAMPLE; i++) sample[i] = st[i * (n / KNN_SAMPLE)].dist;
    r      = (kth * KNN_SAMPLE) / n;
    spread = (int64_t)(3.5 * sqrt((double)KNN_SAMPLE * ((double)kth / (double)n) * (1.0 - (double)kth / (double)n))) + 2;
    lo     = knn_nth_double(sample, KNN_SAMPLE, PetscMax(r - spread, 0));
    hi     = knn_nth_double(sample, KNN_SAMPLE, PetscMin(r + spread, KNN_SAMPLE - 1));
    for (i = 0; i < n; i++) {
      double v   = st[i].dist;
      scratch[m] = v;
      below += v < lo ? 1 : 0;
      m += (v >= lo) & (v <= hi);
    }
    if (kth >= below && kth < below + m) return knn_nth_double(scratch, m, kth - below);
  }
  for (i = 0; i < n; i++) scratch[i] = st[i].dist;
  return knn_nth_double(scratch, n, kth);
}

/* Cut n staged candidates (ascending rows) to their k best by (dist, row), keeping the row order; returns the
 * k-th best distance D. Kept: every candidate with dist < D, then those with dist == D in row order until
 * there are k. One branch-free pass keeps dist <= D; only when more than one candidate ties at D does a
 * second pass drop the surplus ties (the highest rows). scratch holds n doubles. */
static double knn_cut(knn_pair *st, int64_t n, int64_t k, double *scratch)
{
  int64_t i, m = 0;
  double  D;

  D = knn_select_dist(st, n, k - 1, scratch);
  for (i = 0; i < n; i++) { /* stable compaction (m <= i) */
    int keep = st[i].dist <= D;
    st[m]    = st[i];
    m += keep;
  }
  if (m > k) { /* ties at D: keep the first k - (number below D) of them */
    int64_t less = 0, eq_left, m2 = 0;
    for (i = 0; i < m; i++) less += st[i].dist < D;
    eq_left = k - less;
    for (i = 0; i < m; i++) {
      int is_eq = st[i].dist == D, keep = !is_eq || eq_left > 0;
      eq_left -= is_eq & keep;
      st[m2] = st[i];
      m2 += keep;
    }
  }
  return D;
}

/* Sort n pairs that are in ascending row order by (dist, row): a stable LSD radix sort on the bits of dist
 * (8 digits of 8 bits, skipping digits all entries share), or a stable insertion sort when n is small.
 * tmp holds n pairs. */
static void knn_radix_sort(knn_pair *a, int64_t n, knn_pair *tmp)
{
  uint32_t  hist[8][256];
  knn_pair *src = a, *dst = tmp;
  int64_t   i;

  if (n < 64) {
    for (i = 1; i < n; i++) {
      knn_pair v = a[i];
      int64_t  j = i;
      for (; j > 0 && v.dist < a[j - 1].dist; j--) a[j] = a[j - 1];
      a[j] = v;
    }
    return;
  }
  memset(hist, 0, sizeof(hist));
  for (i = 0; i < n; i++) {
    uint64_t b;
    memcpy(&b, &a[i].dist, sizeof(b));
    for (int g = 0; g < 8; g++) hist[g][(b >> (8 * g)) & 255]++;
  }
  for (int g = 0; g < 8; g++) {
    uint32_t *h = hist[g], sum = 0;
    int       trivial = 0;

    for (int c = 0; c < 256; c++) trivial |= h[c] == (uint32_t)n;
    if (trivial) continue;
    for (int c = 0; c < 256; c++) {
      uint32_t t = h[c];
      h[c]       = sum;
      sum += t;
    }
    for (i = 0; i < n; i++) {
      uint64_t b;
      memcpy(&b, &src[i].dist, sizeof(b));
      dst[h[(b >> (8 * g)) & 255]++] = src[i];
    }
    knn_pair *t = src;
    src         = dst;
    dst         = t;
  }
  if (src != a) memcpy(a, src, (size_t)n * sizeof(knn_pair));
}

/* The smallest squared distance T with sqrt(T) >= D: a candidate with d2 >= T has distance >= D. */
static double knn_l2_threshold(double D)
{
  double T = D * D;
  while (sqrt(T) < D) T = nextafter(T, INFINITY);
  while (T > 0 && sqrt(nextafter(T, 0.0)) >= D) T = nextafter(T, 0.0);
  return T;
}

/* ---- the hot loops ------------------------------------------------------------------------------ */

/* Keys of one row segment of C: key[i] for i < n, and in blk[b] how many of block b (KNN_BLOCK entries)
 * are below thr; returns the total below thr. Full blocks have a fixed trip count, so the compiler
 * vectorises them whole; the last partial block evaluates the same expression (the same rounding: no
 * contraction in these clones).
 *   l2      key = max(0, (qn + xn[i]) - 2 c[i]), the squared distance (qn = ||q||^2, xn = ||x||^2)
 *   cosine  key = 1 - clamp(c[i] / (qn xn[i]), -1, 1), or 1 when a norm is 0 (qn = |q|, xn = |x|) */
#define KNN_BLOCK 32
#define KNN_KEYS_LOOP(KEY_OF) \
  do { \
    int64_t below_ = 0, b_; \
    for (b_ = 0; b_ + KNN_BLOCK <= n; b_ += KNN_BLOCK) { \
      int32_t h_ = 0; \
      for (int l_ = 0; l_ < KNN_BLOCK; l_++) { \
        double v_    = KEY_OF(b_ + l_); \
        key[b_ + l_] = v_; \
        h_ += v_ < thr ? 1 : 0; \
      } \
      blk[b_ / KNN_BLOCK] = h_; \
      below_ += h_; \
    } \
    if (b_ < n) { \
      int32_t h_ = 0; \
      for (int64_t i_ = b_; i_ < n; i_++) { \
        double v_ = KEY_OF(i_); \
        key[i_]   = v_; \
        h_ += v_ < thr ? 1 : 0; \
      } \
      blk[b_ / KNN_BLOCK] = h_; \
      below_ += h_; \
    } \
    return below_; \
  } while (0)

/* The key expressions, as macros so that they expand inside the SIMD clones (GCC does not inline a function
 * into a clone with other optimisation attributes, and a call stops vectorisation). */
#define KNN_KEY_OF_L2(i)     ((qn + xn[i]) - 2.0 * (double)c[i] > 0.0 ? (qn + xn[i]) - 2.0 * (double)c[i] : 0.0)
#define KNN_CLAMP1(x)        ((x) > 1.0 ? 1.0 : ((x) < -1.0 ? -1.0 : (x)))
#define KNN_COS_OF(i)        (qn * xn[i] > 0.0 ? (double)c[i] / (qn * xn[i]) : 0.0)
#define KNN_KEY_OF_COSINE(i) (1.0 - KNN_CLAMP1(KNN_COS_OF(i)))

KNN_SIMD_CLONES
static int64_t knn_keys_l2(int64_t n, const float *restrict c, double qn, const double *restrict xn, double thr, double *restrict key, int32_t *restrict blk)
{
  KNN_KEYS_LOOP(KNN_KEY_OF_L2);
}

KNN_SIMD_CLONES
static int64_t knn_keys_cosine(int64_t n, const float *restrict c, double qn, const double *restrict xn, double thr, double *restrict key, int32_t *restrict blk)
{
  KNN_KEYS_LOOP(KNN_KEY_OF_COSINE);
}

/* Positions i < n with key[i] < thr, ascending, into pos, visiting only the blocks whose count in blk is
 * nonzero; returns their count. Branch-free inside a block. */
static int64_t knn_positions_below(int64_t n, const double *restrict key, double thr, const int32_t *restrict blk, int32_t *restrict pos)
{
  int64_t m = 0;
  for (int64_t b = 0; b < n; b += KNN_BLOCK) {
    int64_t e = PetscMin(b + KNN_BLOCK, n);
    if (!blk[b / KNN_BLOCK]) continue;
    for (int64_t i = b; i < e; i++) {
      pos[m] = (int32_t)i; /* m <= i: in bounds */
      m += key[i] < thr ? 1 : 0;
    }
  }
  return m;
}

/* Squared Euclidean norm in double: four partial sums over j mod 4, then (s0 + s1) + (s2 + s3) (a fixed
 * order: the same on every rank). */
static double knn_norm2(int64_t d, const float *x)
{
  double  s[4] = {0, 0, 0, 0};
  int64_t j;

  for (j = 0; j + 4 <= d; j += 4)
    for (int l = 0; l < 4; l++) s[l] += (double)x[j + l] * (double)x[j + l];
  for (; j < d; j++) s[0] += (double)x[j] * (double)x[j];
  return (s[0] + s[1]) + (s[2] + s[3]);
}

/* ---- the merge operation ------------------------------------------------------------------------ */

/* MPI user operation: for each of *len queries, inout <- the k smallest of in and inout, both sorted
 * ascending by (dist, index) and k long (k from the datatype's size). In place, without scratch: a forward
 * pass counts how many of the k come from in, then a backward merge writes from position k-1 down (it
 * never overwrites an inout entry it has not consumed yet). */
static void knn_merge_op(void *in_v, void *inout_v, int *len, MPI_Datatype *type)
{
  int       size = 0;
  int64_t   k;
  knn_pair *in = (knn_pair *)in_v, *io = (knn_pair *)inout_v;

  (void)MPI_Type_size(*type, &size);
  k = (int64_t)size / (int64_t)sizeof(knn_pair);
  for (int q = 0; q < *len; q++, in += k, io += k) {
    int64_t na = 0, nb = 0, p;
    for (p = 0; p < k; p++) {
      if (knn_pair_less(&in[na], &io[nb])) na++;
      else nb++;
    }
    for (p = k - 1; p >= 0; p--) {
      if (nb == 0 || (na > 0 && knn_pair_less(&io[nb - 1], &in[na - 1]))) io[p] = in[--na];
      else io[p] = io[--nb];
    }
  }
}

/* ---- the search ---------------------------------------------------------------------------------- */

static PetscLogEvent knn_event_search = 0;

/* Register the PETSc log event wn_KnnSearch once (every rank at the same point). Not collective. */
static PetscErrorCode knn_register_events(void)
{
  PetscClassId classid;

  PetscFunctionBeginUser;
  if (knn_event_search) PetscFunctionReturn(PETSC_SUCCESS);
  PetscCall(PetscClassIdRegister("winnow knn", &classid));
  PetscCall(PetscLogEventRegister("wn_KnnSearch", classid, &knn_event_search));
  PetscFunctionReturn(PETSC_SUCCESS);
}

/* Allocate n elements of elem bytes aligned to KNN_ALIGN_BYTES; free *raw with PetscFree. */
static PetscErrorCode knn_alloc_aligned(size_t n, size_t elem, char **raw, void **aligned)
{
  PetscFunctionBeginUser;
  PetscCall(PetscMalloc1(n * elem + KNN_ALIGN_BYTES, raw));
  *aligned = (void *)(((uintptr_t)*raw + KNN_ALIGN_BYTES - 1) & ~(uintptr_t)(KNN_ALIGN_BYTES - 1));
  PetscFunctionReturn(PETSC_SUCCESS);
}

/* The candidate set of one search as this rank sees it. */
typedef struct {
  int64_t        d, n_local, pos0, n_total; /* local count, first global position, global count */
  int64_t        row_start;                 /* layout's first global row (subset rows are local indices) */
  const float   *X;                         /* X_local */
  const int64_t *subset;                    /* local rows of the candidates, or NULL = all local rows */
  double        *norm;                      /* per local candidate: ||x||^2 (l2) or |x| (cosine) */
} knn_candidates;

/* Work space for one query tile. */
typedef struct {
  int64_t       TQ, TR, ldc, cap, k;
  wn_knn_metric metric;
  float        *q_tile, *x_tile, *c_tile;
  double       *key;      /* TR keys of one row segment */
  int32_t      *pos;      /* TR positions of keys below the threshold */
  int32_t      *blk;      /* TR / KNN_BLOCK (rounded up) counts below the threshold per block */
  const double *qnorm;    /* the query tile's ||q||^2 (l2) or |q| (cosine): into qnorm_all */
  double       *qnorm_all; /* M query norms */
  knn_pair     *stage;    /* TQ x cap staged candidates, each query's in ascending rows */
  int64_t      *count;    /* TQ staged counts */
  double       *thr;      /* TQ thresholds on the key: reject key >= thr */
  double       *dscratch; /* cap doubles for knn_cut */
  knn_pair     *pscratch; /* cap pairs for knn_radix_sort */
} knn_work;

/* Append the candidates at positions pos[0..n) of a row segment, all below the threshold, to st with their
 * distance (sqrt of the key for l2) and global row (the segment starts at local candidate i0). */
KNN_SIMD_CLONES
static void knn_append_all(int64_t n, const int32_t *restrict pos, const double *restrict key, int l2, int64_t base, const int64_t *restrict sub, int64_t row_start, knn_pair *restrict st)
{
  if (l2)
    for (int64_t t = 0; t < n; t++) st[t].dist = sqrt(key[pos[t]]);
  else
    for (int64_t t = 0; t < n; t++) st[t].dist = key[pos[t]];
  if (sub)
    for (int64_t t = 0; t < n; t++) st[t].index = row_start + sub[pos[t]];
  else
    for (int64_t t = 0; t < n; t++) st[t].index = base + pos[t];
}

/* The same for positions some of which may no longer be below thr (it tightened): appends only those below;
 * returns how many. Branch-free. */
static int64_t knn_append_below(int64_t n, const int32_t *pos, const double *key, double thr, int l2, int64_t base, const int64_t *sub, int64_t row_start, knn_pair *st)
{
  int64_t m = 0;
  for (int64_t t = 0; t < n; t++) {
    double v    = key[pos[t]];
    st[m].dist  = l2 ? sqrt(v) : v;
    st[m].index = sub ? row_start + sub[pos[t]] : base + pos[t];
    m += v < thr ? 1 : 0;
  }
  return m;
}

/* Feed one query's row segment of C (candidate positions p0 .. p0 + n - 1, all local) to its staging list. */
static void knn_scan_row(const knn_candidates *X, knn_work *w, int64_t j, const float *c, int64_t p0, int64_t n)
{
  const int64_t i0 = p0 - X->pos0; /* first local candidate */
  knn_pair     *st = w->stage + (size_t)j * (size_t)w->cap;
  const int64_t base = X->row_start + i0, *sub = X->subset ? X->subset + i0 : NULL;
  const int     l2   = w->metric == WN_KNN_L2;
  int64_t       below, cnt = w->count[j], t = 0;
  double        thr = w->thr[j];

  if (w->metric == WN_KNN_L2) below = knn_keys_l2(n, c, w->qnorm[j], X->norm + i0, thr, w->key, w->blk);
  else below = knn_keys_cosine(n, c, w->qnorm[j], X->norm + i0, thr, w->key, w->blk);
  if (below == 0) return; /* the common case once the threshold has settled */
  below = knn_positions_below(n, w->key, thr, w->blk, w->pos);
  while (t < below) {
    int64_t take = PetscMin(below - t, w->cap - cnt);

    if (t == 0) { /* every position found is below the threshold until the first cut */
      knn_append_all(take, w->pos, w->key, l2, base, sub, X->row_start, st + cnt);
      cnt += take;
    } else cnt += knn_append_below(take, w->pos + t, w->key, thr, l2, base, sub, X->row_start, st + cnt);
    t += take;
    if (cnt == w->cap) { /* full: keep the k best; the k-th best distance sets the threshold */
      double D = knn_cut(st, cnt, w->k, w->dscratch);
      cnt      = w->k;
      thr      = w->metric == WN_KNN_L2 ? knn_l2_threshold(D) : D;
    }
  }
  w->count[j] = cnt;
  w->thr[j]   = thr;
}

/* Local k-lists of queries [q0, q0 + nq) (Q rows, replicated) into out (nq x k pairs, sorted, padded). */
static PetscErrorCode knn_query_tile(const knn_candidates *X, knn_work *w, int64_t q0, int64_t nq, const float *Q, knn_pair *out)
{
  const int64_t d = X->d, k = w->k;
  int64_t       j;

  PetscFunctionBeginUser;
  PetscCall(PetscArraycpy(w->q_tile, Q + (size_t)q0 * (size_t)d, (size_t)nq * (size_t)d));
  w->qnorm = w->qnorm_all + q0;
  for (j = 0; j < nq; j++) {
    w->count[j] = 0;
    w->thr[j]   = INFINITY;
  }
  if (X->n_local > 0) {
    const int64_t p_end = X->pos0 + X->n_local;

    for (int64_t t = X->pos0 / w->TR; t <= (p_end - 1) / w->TR; t++) {
      int64_t g0 = t * w->TR, h = PetscMin(w->TR, X->n_total - g0); /* the tile's shape: same on any rank count */
      int64_t a = PetscMax(g0, X->pos0), b = PetscMin(g0 + h, p_end); /* positions held here */

      if (a > g0) PetscCall(PetscArrayzero(w->x_tile, (size_t)(a - g0) * (size_t)d));
      if (b < g0 + h) PetscCall(PetscArrayzero(w->x_tile + (size_t)(b - g0) * (size_t)d, (size_t)(g0 + h - b) * (size_t)d));
      if (X->subset) {
        for (int64_t p = a; p < b; p++) PetscCall(PetscArraycpy(w->x_tile + (size_t)(p - g0) * (size_t)d, X->X + (size_t)X->subset[p - X->pos0] * (size_t)d, (size_t)d));
      } else {
        PetscCall(PetscArraycpy(w->x_tile + (size_t)(a - g0) * (size_t)d, X->X + (size_t)(a - X->pos0) * (size_t)d, (size_t)(b - a) * (size_t)d));
      }
      cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, (blasint)nq, (blasint)h, (blasint)d, 1.0f, w->q_tile, (blasint)d, w->x_tile, (blasint)d, 0.0f, w->c_tile, (blasint)w->ldc);
      for (j = 0; j < nq; j++) knn_scan_row(X, w, j, w->c_tile + (size_t)j * (size_t)w->ldc + (a - g0), a, b - a);
    }
  }
  for (j = 0; j < nq; j++) {
    knn_pair *st  = w->stage + (size_t)j * (size_t)w->cap;
    knn_pair *o   = out + (size_t)j * (size_t)k;
    int64_t   cnt = w->count[j], e;

    if (cnt > k) {
      (void)knn_cut(st, cnt, k, w->dscratch);
      cnt = k;
    }
    knn_radix_sort(st, cnt, w->pscratch);
    PetscCall(PetscArraycpy(o, st, (size_t)cnt));
    for (e = cnt; e < k; e++) {
      o[e].dist  = INFINITY;
      o[e].index = INT64_MAX;
    }
  }
  PetscFunctionReturn(PETSC_SUCCESS);
}

/**
  @brief The k nearest candidate rows of each of M replicated queries, exact, by Euclidean or cosine
  distance, ordered by (distance, global row) ascending; the result is replicated on every rank
  (METHODS.md section 4.2 steps 1 and 2, section 5 "TSDS").

  Collective on L->comm. Every rank must pass the same d, M, Q, k and metric, and all or none of the ranks
  a subset. Distances are bitwise the same on any rank count (see the banner), for a fixed OpenBLAS core
  and thread count. Queries are processed in blocks so that the merge buffer stays under 256 MiB.

  Errors (collective, naming the values): k < 1; k larger than the number of candidates; d < 1; d, M, k,
  the metric or the use of a subset differing between ranks; an unknown metric; M < 0; a NULL X_local on a
  rank with candidate rows, a NULL Q with M > 0, a NULL res; a subset index out of range or not ascending.

  @param[in]  L         row split of the candidate rows (borrowed)
  @param[in]  d         dimension of rows and queries, >= 1
  @param[in]  X_local   this rank's rows, L->n_local x d row-major (borrowed; may be NULL without candidates)
  @param[in]  subset    NULL for all local rows, else the local indices of this rank's candidates, strictly
                        ascending in [0, L->n_local) (borrowed)
  @param[in]  n_subset  length of subset (ignored when subset is NULL)
  @param[in]  M         number of queries, >= 0
  @param[in]  Q         queries, M x d row-major, replicated (borrowed)
  @param[in]  k         neighbours per query, 1 <= k <= number of candidates over all ranks
  @param[in]  metric    WN_KNN_L2 (sqrt of the clamped squared distance) or WN_KNN_COSINE (1 - cos)
  @param[out] res       new result, owned by the caller (free with wn_knn_result_destroy): index and dist,
                        M x k row-major, nearest first, global rows of L
**/
PetscErrorCode wn_knn_search(const wn_layout *L, int64_t d, const float *X_local, const int64_t *subset, int64_t n_subset, int64_t M, const float *Q, int64_t k, wn_knn_metric metric, wn_knn_result **res)
{
  MPI_Comm       comm;
  knn_candidates X;
  knn_work       w;
  wn_knn_result *r;
  char           msg[512] = "", *q_raw = NULL, *x_raw = NULL, *c_raw = NULL;
  PetscErrorCode code = PETSC_ERR_ARG_NULL;
  int64_t        n_cand_local, agree[10], agree_max[10], Mb, i;
  knn_pair      *pairs = NULL;
  MPI_Datatype   pair_type, list_type;
  MPI_Op         merge_op;

  PetscFunctionBeginUser;
  PetscCheck(L != NULL, PETSC_COMM_SELF, PETSC_ERR_ARG_NULL, "wn_knn_search: layout L is NULL");
  comm = L->comm;
  PetscCall(knn_register_events()); /* on every rank, also those without rows: event ids must agree */

  /* Checks only this rank can make, agreed by all (the lowest failing rank's message is raised). */
  n_cand_local = subset ? n_subset : L->n_local;
  if (!res) PetscCall(PetscSNPrintf(msg, sizeof(msg), "knn: the output result pointer is NULL on rank %d", (int)L->rank));
  else if (subset && (n_subset < 0 || n_subset > L->n_local)) {
    code = PETSC_ERR_ARG_OUTOFRANGE;
    PetscCall(PetscSNPrintf(msg, sizeof(msg), "knn: rank %d has a subset of %lld rows but owns %lld rows", (int)L->rank, (long long)n_subset, (long long)L->n_local));
  } else if (n_cand_local > 0 && !X_local) PetscCall(PetscSNPrintf(msg, sizeof(msg), "knn: rank %d has %lld candidate rows but X_local is NULL", (int)L->rank, (long long)n_cand_local));
  else if (M > 0 && !Q) PetscCall(PetscSNPrintf(msg, sizeof(msg), "knn: %lld queries but Q is NULL on rank %d", (long long)M, (int)L->rank));
  else if (subset) {
    for (i = 0; i < n_subset; i++)
      if (subset[i] < 0 || subset[i] >= L->n_local || (i > 0 && subset[i] <= subset[i - 1])) {
        code = PETSC_ERR_ARG_OUTOFRANGE;
        PetscCall(PetscSNPrintf(msg, sizeof(msg), "knn: subset entry %lld on rank %d is %lld; expected strictly ascending local rows in [0, %lld)", (long long)i, (int)L->rank, (long long)subset[i], (long long)L->n_local));
        break;
      }
  }
  PetscCall(wn_error_agree(comm, msg[0] ? PETSC_TRUE : PETSC_FALSE, code, msg));

  /* Arguments that must agree between ranks: max of (v, -v) gives both extremes in one reduction. */
  agree[0] = d;
  agree[1] = M;
  agree[2] = k;
  agree[3] = (int64_t)metric;
  agree[4] = subset ? 1 : 0;
  for (i = 0; i < 5; i++) agree[5 + i] = -agree[i];
  PetscCallMPI(MPI_Allreduce(agree, agree_max, 10, MPI_INT64_T, MPI_MAX, comm));
  PetscCheck(agree_max[0] == -agree_max[5], comm, PETSC_ERR_ARG_INCOMP, "knn: the dimension d differs between ranks (%lld to %lld)", (long long)-agree_max[5], (long long)agree_max[0]);
  PetscCheck(agree_max[1] == -agree_max[6], comm, PETSC_ERR_ARG_INCOMP, "knn: the number of queries M differs between ranks (%lld to %lld)", (long long)-agree_max[6], (long long)agree_max[1]);
  PetscCheck(agree_max[2] == -agree_max[7], comm, PETSC_ERR_ARG_INCOMP, "knn: k differs between ranks (%lld to %lld)", (long long)-agree_max[7], (long long)agree_max[2]);
  PetscCheck(agree_max[3] == -agree_max[8], comm, PETSC_ERR_ARG_INCOMP, "knn: the metric differs between ranks");
  PetscCheck(agree_max[4] == -agree_max[9], comm, PETSC_ERR_ARG_INCOMP, "knn: a subset was given on some ranks only (pass a subset, possibly empty, on every rank or on none)");
  PetscCheck(metric == WN_KNN_L2 || metric == WN_KNN_COSINE, comm, PETSC_ERR_ARG_OUTOFRANGE, "knn: unknown metric %d (expected l2 or cosine)", (int)metric);
  PetscCheck(d >= 1 && d <= INT32_MAX, comm, PETSC_ERR_ARG_OUTOFRANGE, "knn: dimension d = %lld must be in [1, %d]", (long long)d, (int)INT32_MAX);
  PetscCheck(M >= 0, comm, PETSC_ERR_ARG_OUTOFRANGE, "knn: number of queries M = %lld must be >= 0", (long long)M);
  PetscCheck(k >= 1, comm, PETSC_ERR_ARG_OUTOFRANGE, "knn: k = %lld neighbours per query; expected k >= 1", (long long)k);

  /* Candidate positions: global rows, or positions in the global subset order. */
  X.d         = d;
  X.n_local   = n_cand_local;
  X.row_start = L->row_start;
  X.X         = X_local;
  X.subset    = subset;
  X.norm      = NULL;
  if (subset) {
    int64_t offset = 0;
    PetscCallMPI(MPI_Exscan(&n_cand_local, &offset, 1, MPI_INT64_T, MPI_SUM, comm));
    if (L->rank == 0) offset = 0; /* MPI_Exscan leaves rank 0's result undefined */
    X.pos0 = offset;
    PetscCallMPI(MPI_Allreduce(&n_cand_local, &X.n_total, 1, MPI_INT64_T, MPI_SUM, comm));
  } else {
    X.pos0    = L->row_start;
    X.n_total = L->n_global;
  }
  PetscCheck(k <= X.n_total, comm, PETSC_ERR_ARG_OUTOFRANGE, "knn: k = %lld neighbours per query exceeds the %lld candidates%s", (long long)k, (long long)X.n_total, subset ? " in the subset" : "");
  PetscCheck(k <= INT32_MAX / (int64_t)sizeof(knn_pair), comm, PETSC_ERR_ARG_OUTOFRANGE, "knn: k = %lld is too large for one MPI datatype (at most %lld)", (long long)k, (long long)(INT32_MAX / (int64_t)sizeof(knn_pair)));

  PetscCall(PetscNew(&r));
  r->m = M;
  r->k = k;
  if (M == 0) {
    *res = r;
    PetscFunctionReturn(PETSC_SUCCESS);
  }

  /* Norms (||x||^2 for l2, |x| for cosine), which also catch NaN and Inf: such a distance would never
   * enter a list (embeddings are validated on load; this keeps a bad caller from getting padding rows). */
  PetscCall(PetscLogEventBegin(knn_event_search, 0, 0, 0, 0));
  memset(&w, 0, sizeof(w));
  PetscCall(PetscMalloc1(X.n_local, &X.norm));
  PetscCall(PetscMalloc1(M, &w.qnorm_all));
  {
    int64_t bad_row = -1, bad_query = -1;
    for (i = 0; i < X.n_local; i++) {
      double s  = knn_norm2(d, X_local + (size_t)(subset ? subset[i] : i) * (size_t)d);
      X.norm[i] = metric == WN_KNN_L2 ? s : sqrt(s);
      if (!isfinite(s) && bad_row < 0) bad_row = L->row_start + (subset ? subset[i] : i);
    }
    for (i = 0; i < M; i++) {
      double s        = knn_norm2(d, Q + (size_t)i * (size_t)d);
      w.qnorm_all[i]  = metric == WN_KNN_L2 ? s : sqrt(s);
      if (!isfinite(s) && bad_query < 0) bad_query = i;
    }
    if (bad_row >= 0 || bad_query >= 0) {
      PetscCall(PetscFree(X.norm));
      PetscCall(PetscFree(w.qnorm_all));
      PetscCall(PetscFree(r));
      PetscCall(PetscLogEventEnd(knn_event_search, 0, 0, 0, 0));
    }
    if (bad_query >= 0) PetscCall(PetscSNPrintf(msg, sizeof(msg), "knn: query %lld has a NaN or Inf value; queries must be finite", (long long)bad_query));
    else if (bad_row >= 0) PetscCall(PetscSNPrintf(msg, sizeof(msg), "knn: candidate row %lld (global) has a NaN or Inf value; rows must be finite", (long long)bad_row));
    PetscCall(wn_error_agree(comm, bad_row >= 0 || bad_query >= 0 ? PETSC_TRUE : PETSC_FALSE, PETSC_ERR_ARG_OUTOFRANGE, msg));
  }
  PetscCall(PetscMalloc1((size_t)M * (size_t)k, &r->index));
  PetscCall(PetscMalloc1((size_t)M * (size_t)k, &r->dist));

  /* Tile shapes and blocks: functions of M, k and the candidate count only. */
  w.k      = k;
  w.metric = metric;
  w.cap    = k + PetscMax(k, 64);
  w.TR     = PetscMin(KNN_TILE_CANDIDATES, X.n_total);
  w.ldc    = (w.TR + 15) / 16 * 16;
  w.TQ     = KNN_TILE_QUERIES;
  while (w.TQ > 1 && ((double)w.TQ * (double)w.cap * sizeof(knn_pair) > KNN_STAGE_BYTES || (double)w.TQ * (double)k * sizeof(knn_pair) > KNN_MERGE_BYTES)) w.TQ /= 2;
  w.TQ = PetscMin(w.TQ, M);
  Mb   = (int64_t)(KNN_MERGE_BYTES / ((double)k * sizeof(knn_pair))) / w.TQ * w.TQ;
  Mb   = PetscMin(PetscMax(Mb, w.TQ), M);

  PetscCall(knn_alloc_aligned((size_t)w.TQ * (size_t)d, sizeof(float), &q_raw, (void **)&w.q_tile));
  PetscCall(knn_alloc_aligned((size_t)w.TR * (size_t)d, sizeof(float), &x_raw, (void **)&w.x_tile));
  PetscCall(knn_alloc_aligned((size_t)w.TQ * (size_t)w.ldc, sizeof(float), &c_raw, (void **)&w.c_tile));
  PetscCall(PetscMalloc1(w.TR, &w.key));
  PetscCall(PetscMalloc1(w.TR, &w.pos));
  PetscCall(PetscMalloc1((w.TR + KNN_BLOCK - 1) / KNN_BLOCK, &w.blk));
  PetscCall(PetscMalloc1(w.cap, &w.dscratch));
  PetscCall(PetscMalloc1(w.cap, &w.pscratch));
  PetscCall(PetscMalloc1(w.TQ, &w.count));
  PetscCall(PetscMalloc1(w.TQ, &w.thr));
  PetscCall(PetscMalloc1((size_t)w.TQ * (size_t)w.cap, &w.stage));
  PetscCall(PetscMalloc1((size_t)Mb * (size_t)k, &pairs));

  {
    int          lens[2]  = {1, 1};
    MPI_Aint     displs[2] = {offsetof(knn_pair, dist), offsetof(knn_pair, index)};
    MPI_Datatype types[2] = {MPI_DOUBLE, MPI_INT64_T}, raw;

    PetscCallMPI(MPI_Type_create_struct(2, lens, displs, types, &raw));
    PetscCallMPI(MPI_Type_create_resized(raw, 0, (MPI_Aint)sizeof(knn_pair), &pair_type));
    PetscCallMPI(MPI_Type_free(&raw));
    PetscCallMPI(MPI_Type_contiguous((int)k, pair_type, &list_type));
    PetscCallMPI(MPI_Type_commit(&list_type));
    PetscCallMPI(MPI_Op_create(knn_merge_op, 1, &merge_op));
  }

  for (int64_t b0 = 0; b0 < M; b0 += Mb) {
    int64_t mb = PetscMin(Mb, M - b0);

    for (int64_t q0 = b0; q0 < b0 + mb; q0 += w.TQ) PetscCall(knn_query_tile(&X, &w, q0, PetscMin(w.TQ, b0 + mb - q0), Q, pairs + (size_t)(q0 - b0) * (size_t)k));
    PetscCallMPI(MPI_Allreduce(MPI_IN_PLACE, pairs, (int)mb, list_type, merge_op, comm));
    for (i = 0; i < mb * k; i++) {
      r->index[(size_t)b0 * (size_t)k + (size_t)i] = pairs[i].index;
      r->dist[(size_t)b0 * (size_t)k + (size_t)i]  = pairs[i].dist;
    }
  }

  PetscCallMPI(MPI_Op_free(&merge_op));
  PetscCallMPI(MPI_Type_free(&list_type));
  PetscCallMPI(MPI_Type_free(&pair_type));
  PetscCall(PetscLogFlops(2.0 * (double)M * (double)X.n_local * (double)d));
  PetscCall(PetscFree(pairs));
  PetscCall(PetscFree(X.norm));
  PetscCall(PetscFree(w.stage));
  PetscCall(PetscFree(w.thr));
  PetscCall(PetscFree(w.count));
  PetscCall(PetscFree(w.qnorm_all));
  PetscCall(PetscFree(w.key));
  PetscCall(PetscFree(w.pos));
  PetscCall(PetscFree(w.blk));
  PetscCall(PetscFree(w.dscratch));
  PetscCall(PetscFree(w.pscratch));
  PetscCall(PetscFree(c_raw));
  PetscCall(PetscFree(x_raw));
  PetscCall(PetscFree(q_raw));
  PetscCall(PetscLogEventEnd(knn_event_search, 0, 0, 0, 0));
  *res = r;
  PetscFunctionReturn(PETSC_SUCCESS);
}

/**
  @brief Free a kNN result and its arrays; accepts NULL and sets *res = NULL.

  Not collective.

  @param[in,out] res  the result (owned; freed)
**/
PetscErrorCode wn_knn_result_destroy(wn_knn_result **res)
{
  PetscFunctionBeginUser;
  if (!res || !*res) PetscFunctionReturn(PETSC_SUCCESS);
  PetscCall(PetscFree((*res)->index));
  PetscCall(PetscFree((*res)->dist));
  PetscCall(PetscFree(*res));
  PetscFunctionReturn(PETSC_SUCCESS);
}
