/* kernel.c - candidate-by-target kernels K[c, t] computed in sgemm tiles (DESIGN.md sections 3 and 6).
 *
 * Owns: the four similarity metrics (cosine, dot, RBF and DELIFT's additive (1 + cos)/2), the tiled
 * computation of this rank's rows of K against replicated column embeddings (wn_kernel_compute_tiles, which
 * hands every computed row segment to its caller: the dense K here, the top-k selection of kernel_sparse.c),
 * global min-max scaling, the memory estimate and the double-precision reference for one pair.
 * Leaves to others: writing and reading K in HDF5 (kernel_io.c), sparse top-k kernels (kernel_sparse.c),
 * loading embeddings (data.c), and the choice of OpenBLAS kernel core (blas.c; this file only calls
 * cblas_sgemm).
 *
 * How K is computed. The inner products X Y^T come from cblas_sgemm (row-major, X_tile * Y_tile^T);
 * the metric is applied to each tile while it is still in cache (the "epilogue"):
 *   dot       K = x.y
 *   cosine    K = x^.y^ with rows pre-normalised to unit length in double and rounded to float, then
 *             clamped to [-1, 1]. A zero row (norm 0) stays a zero vector, so it has cosine 0 with
 *             everything (itself included) and additive similarity 1/2.
 *   additive  K = (1 + cos)/2, in [0, 1] (DELIFT's model-independent kernel).
 *   rbf       K = exp(-gamma * max(0, |x|^2 + |y|^2 - 2 x.y)), squared norms in double, x.y from sgemm;
 *             the exponent -gamma d2 is rounded to float and exp is evaluated by KERNEL_EXPF_NONPOSITIVE
 *             below (plain float arithmetic, so it vectorises and gives the same bits in every code
 *             path; about one ulp; results below FLT_MIN are flushed to 0).
 *
 * Rank independence (bitwise). OpenBLAS does not compute an element of C the same way for every call
 * shape: measured here with OpenBLAS 0.3.21, splitting one 600 x 700 x 384 sgemm into row chunks changes
 * up to 68% of the results in the last bit with the Haswell and Prescott cores (edge micro-kernels,
 * different blocking); with SkylakeX/Cooperlake, one-row calls (the gemv path) and 3-column chunks differ.
 * The result also depends on the number of OpenBLAS threads with the Haswell core. So every sgemm call is made with a shape and operand positions that do
 * not depend on the rank count:
 *   - row tiles are aligned to GLOBAL row numbers: tile t covers global rows [t*TR, t*TR + h) with
 *     h = min(TR, N - t*TR). A rank computes every tile that holds one of its rows, copying its rows into
 *     an aligned scratch tile at the same in-tile position they have on any rank count and zeroing the
 *     rows it does not own (their results are discarded). The sgemm is always h x nc x d;
 *   - column tiles are [c0, c0 + nc) with c0 a multiple of TC, the same on every rank; each is copied
 *     (normalised for cosine/additive) into an aligned scratch, so the caller's alignment of Y is irrelevant;
 *   - the epilogue is elementwise, reads an aligned scratch row and is compiled without FMA contraction,
 *     so vector bodies, scalar remainders and the AVX2/AVX-512/SSE2 clones all give the same bits.
 * Cost: a rank computes at most 2 (TR - 1) padding rows (less than 3% for n_local = 20000, TR = 256).
 * Guarantee holds for a fixed OpenBLAS core and thread count (both are part of a run's provenance).
 */
#include <math.h>
#include <stdint.h>
#include <string.h>
#include <cblas.h>
#include <winnow/kernel.h>

const char *const wn_metric_names[] = {"cosine", "dot", "rbf", "additive", "wn_metric", "WN_METRIC_", NULL};

/* Default tile sizes. Measured on the issue-2 VM (OpenBLAS SkylakeX core, one thread, N = 20000, M = 2000,
 * d = 384): the whole kernel stage (allocation of K included) ran at 0.82-0.87 of a warmed plain sgemm of
 * the same shape for all four metrics (0.82-0.83 with min-max scaling). Tile shapes from 128 x 512 to
 * 1024 x 4096 were within the noise (about +-5%) of each other; larger TR repacks the Y tile less often
 * (OpenBLAS packs it once per call, ~5% of the time at TR = 256) but pads more rows per rank, so 256 is
 * the compromise. The output tile (256 x 2048 floats, 2 MiB) stays in L2/L3 for the epilogue. */
#define KERNEL_TILE_ROWS_DEFAULT 256
#define KERNEL_TILE_COLS_DEFAULT 2048
#define KERNEL_ALIGN_BYTES       64

/* SIMD clones of the epilogue loops: the ifunc resolver picks the widest the CPU supports. GCC's avx512f
 * target implies FMA, so contraction is switched off (fp-contract=off) and every clone rounds exactly like
 * the scalar code. O3 because the build's default CFLAGS (-g -O2) come after AM_CFLAGS (-O3) and GCC 12's
 * -O2 vectoriser skips loops that need a remainder; no-trapping-math lets the clamps be if-converted (it
 * changes no result). */
#if defined(__GNUC__) && !defined(__clang__) && defined(__x86_64__) && defined(__linux__)
  #define KERNEL_SIMD_CLONES __attribute__((target_clones("avx512f", "avx2", "default"), optimize("O3", "fp-contract=off", "no-trapping-math")))
#else
  #define KERNEL_SIMD_CLONES
#endif

typedef struct {
  int64_t rows; /* TR: global rows per tile */
  int64_t cols; /* TC: columns per tile */
  int64_t ld;   /* row stride of the output scratch, TC rounded up to a whole 64-byte line */
} kernel_tiles;

/* Resolve the tile sizes from params (0 = automatic); n_global (> 0, or 0 if unknown) and n_cols clip them.
 * Depends only on global quantities, never on the rank count. */
static void kernel_resolve_tiles(const wn_kernel_params *p, int64_t n_global, int64_t n_cols, kernel_tiles *t)
{
  t->rows = (p && p->tile_rows > 0) ? p->tile_rows : KERNEL_TILE_ROWS_DEFAULT;
  t->cols = (p && p->tile_cols > 0) ? p->tile_cols : KERNEL_TILE_COLS_DEFAULT;
  if (n_global > 0 && t->rows > n_global) t->rows = n_global;
  if (n_cols > 0 && t->cols > n_cols) t->cols = n_cols;
  t->ld = (t->cols + 15) / 16 * 16;
}

/* exp(t) for float t <= 0, to about one float ulp, using only IEEE float arithmetic and integer bit
 * operations so that every vector width gives identical bits (and the loop vectorises, unlike a libm call).
 * t = n ln2 + r with |r| <= ln2/2 (round-to-nearest by the 1.5 * 2^23 shifter, Cody-Waite split of ln2),
 * exp(r) by its degree-7 Taylor polynomial (truncation error < 5e-9), 2^n built in the exponent field.
 * Results below FLT_MIN (t < -87.3) are flushed to 0. A macro rather than a function so that it expands
 * inside the SIMD clones (GCC does not inline across differing optimisation attributes, and a call
 * stops vectorisation). */
#define KERNEL_EXPF_NONPOSITIVE(t_in, result) \
  do { \
    const float log2e_ = 1.44269504088896341f, shifter_ = 12582912.0f; /* 1.5 * 2^23 */ \
    const float ln2_hi_ = 0.693145751953125f, ln2_lo_ = 1.428606765330187045e-06f; \
    float       t0_ = (t_in), t_, k_, n_, r_, poly_, scale_; \
    uint32_t    bits_; \
    t_    = t0_ < -87.0f ? -87.0f : t0_; \
    k_    = t_ * log2e_ + shifter_; /* the low mantissa bits of k_ hold round(t / ln2) in [-126, 0] */ \
    n_    = k_ - shifter_; \
    r_    = (t_ - n_ * ln2_hi_) - n_ * ln2_lo_; \
    poly_ = 1.0f + r_ * (1.0f + r_ * (1.0f / 2 + r_ * (1.0f / 6 + r_ * (1.0f / 24 + r_ * (1.0f / 120 + r_ * (1.0f / 720 + r_ * (1.0f / 5040))))))); \
    memcpy(&bits_, &k_, sizeof(bits_)); \
    bits_ = (bits_ + 127) << 23; /* biased exponent n + 127 in [1, 127]; the shifter's bits fall off */ \
    memcpy(&scale_, &bits_, sizeof(scale_)); \
    (result) = t0_ < -87.33f ? 0.0f : poly_ * scale_; \
  } while (0)

/* Epilogues: c is one aligned row segment of the sgemm output, out the matching segment of K. */
KERNEL_SIMD_CLONES
static void kernel_epilogue_cosine(int64_t n, const float *restrict c, float *restrict out)
{
  for (int64_t j = 0; j < n; j++) {
    float v = c[j];
    v       = v > 1.0f ? 1.0f : v;
    out[j]  = v < -1.0f ? -1.0f : v;
  }
}

KERNEL_SIMD_CLONES
static void kernel_epilogue_additive(int64_t n, const float *restrict c, float *restrict out)
{
  for (int64_t j = 0; j < n; j++) {
    float v = c[j];
    v       = v > 1.0f ? 1.0f : v;
    v       = v < -1.0f ? -1.0f : v;
    out[j]  = 0.5f + 0.5f * v; /* one rounding of (1 + v)/2 */
  }
}

KERNEL_SIMD_CLONES
static void kernel_epilogue_rbf(int64_t n, const float *restrict c, double xx, const double *restrict yy, double gamma, float *restrict out)
{
  for (int64_t j = 0; j < n; j++) {
    double d2 = (xx + yy[j]) - 2.0 * (double)c[j];
    float  e;

    d2 = d2 > 0.0 ? d2 : 0.0;
    KERNEL_EXPF_NONPOSITIVE((float)(-gamma * d2), e);
    out[j] = e;
  }
}

/* Running min and max of n floats (no NaNs: inputs are validated upstream). Eight independent lanes so
 * the compiler can keep them in one vector register. */
KERNEL_SIMD_CLONES
static void kernel_segment_minmax(int64_t n, const float *restrict v, float *restrict vmin, float *restrict vmax)
{
  float   lo[8], hi[8];
  int64_t j, l;

  for (l = 0; l < 8; l++) lo[l] = hi[l] = n > 0 ? v[0] : 0.0f;
  for (j = 0; j + 8 <= n; j += 8)
    for (l = 0; l < 8; l++) {
      lo[l] = v[j + l] < lo[l] ? v[j + l] : lo[l];
      hi[l] = v[j + l] > hi[l] ? v[j + l] : hi[l];
    }
  for (; j < n; j++) {
    lo[0] = v[j] < lo[0] ? v[j] : lo[0];
    hi[0] = v[j] > hi[0] ? v[j] : hi[0];
  }
  for (l = 0; l < 8; l++) {
    *vmin = lo[l] < *vmin ? lo[l] : *vmin;
    *vmax = hi[l] > *vmax ? hi[l] : *vmax;
  }
}

/* (v - min) * inv in double, clamped to [0, 1]: the same operation on every rank. */
KERNEL_SIMD_CLONES
static void kernel_segment_scale(int64_t n, double vmin, double inv, float *restrict v)
{
  for (int64_t j = 0; j < n; j++) {
    double s = ((double)v[j] - vmin) * inv;
    s        = s > 1.0 ? 1.0 : s;
    v[j]     = (float)(s < 0.0 ? 0.0 : s);
  }
}

/* Squared Euclidean norm in double, summed in index order (deterministic). */
static double kernel_norm2(int64_t d, const float *x)
{
  double s = 0;
  for (int64_t k = 0; k < d; k++) s += (double)x[k] * (double)x[k];
  return s;
}

/* Scale factor that normalises a row of squared norm nrm2 (0 for a zero row: it stays zero). */
static double kernel_inv_norm(double nrm2)
{
  return nrm2 > 0 ? 1.0 / sqrt(nrm2) : 0.0;
}

/* One row scaled in double and rounded to float (cosine/additive normalisation). */
KERNEL_SIMD_CLONES
static void kernel_scale_row(int64_t d, const float *restrict src, double scale, float *restrict dst)
{
  for (int64_t k = 0; k < d; k++) dst[k] = (float)((double)src[k] * scale);
}

/* Copy n rows into a tile, scaling row i by scale[i] when scale is given (cosine/additive). */
static void kernel_copy_rows(int64_t n, int64_t d, const float *src, const double *scale, float *dst)
{
  if (!scale) {
    if (n > 0) memcpy(dst, src, (size_t)n * (size_t)d * sizeof(float));
    return;
  }
  for (int64_t i = 0; i < n; i++) kernel_scale_row(d, src + (size_t)i * (size_t)d, scale[i], dst + (size_t)i * (size_t)d);
}

/* Allocate n floats aligned to KERNEL_ALIGN_BYTES; free *raw with PetscFree. */
static PetscErrorCode kernel_alloc_aligned(size_t n, float **raw, float **aligned)
{
  PetscFunctionBeginUser;
  PetscCall(PetscMalloc1(n + KERNEL_ALIGN_BYTES / sizeof(float), raw));
  *aligned = (float *)(((uintptr_t)*raw + KERNEL_ALIGN_BYTES - 1) & ~(uintptr_t)(KERNEL_ALIGN_BYTES - 1));
  PetscFunctionReturn(PETSC_SUCCESS);
}

/* Scale K to [0, 1] given this rank's min and max of its values (+inf/-inf when it has none).
 * Collective on K->layout.comm. */
static PetscErrorCode kernel_minmax_apply(wn_kernel *K, double local_min, double local_max)
{
  double  in[2] = {local_min, -local_max}, out[2], vmin, vmax;
  int64_t i, n_local = K->layout.n_local;

  PetscFunctionBeginUser;
  PetscCallMPI(MPI_Allreduce(in, out, 2, MPI_DOUBLE, MPI_MIN, K->layout.comm));
  vmin = out[0];
  vmax = -out[1];
  if (!(vmin <= vmax)) { /* no values on any rank: nothing to scale */
    K->scale_min = K->scale_max = 0;
    K->params.minmax = PETSC_TRUE;
    PetscFunctionReturn(PETSC_SUCCESS);
  }
  K->scale_min = vmin;
  K->scale_max = vmax;
  if (vmax == vmin) {
    if (n_local > 0) PetscCall(PetscArrayzero(K->values, (size_t)n_local * (size_t)K->n_cols));
  } else {
    double inv = 1.0 / (vmax - vmin);
    for (i = 0; i < n_local; i++) kernel_segment_scale(K->n_cols, vmin, inv, K->values + (size_t)i * (size_t)K->n_cols);
  }
  K->params.minmax = PETSC_TRUE;
  PetscFunctionReturn(PETSC_SUCCESS);
}

/**
  @brief Bytes one rank needs to build a kernel: its n_local x n_cols float32 rows, the replicated column
  embeddings (n_cols x d float32), the tile workspace (an X tile, a Y tile and an output tile) and the
  row norms (double).

  Not collective (pure).

  @param[in] n_local  rows of K this rank owns
  @param[in] n_cols   columns of K (targets)
  @param[in] d        embedding dimension
  @param[in] p        kernel parameters for the tile sizes (borrowed; NULL = defaults)

  @return the estimate in bytes (a double, so that huge requests do not overflow)
**/
double wn_kernel_bytes(int64_t n_local, int64_t n_cols, int64_t d, const wn_kernel_params *p)
{
  kernel_tiles t;
  double       f = (double)sizeof(float);

  kernel_resolve_tiles(p, 0, n_cols, &t);
  return f * (double)n_local * (double)n_cols                            /* K rows */
       + f * (double)n_cols * (double)d                                  /* replicated Y */
       + f * ((double)t.rows * (double)d + (double)t.cols * (double)d    /* X and Y tiles */
              + (double)t.rows * (double)t.ld)                           /* output tile */
       + (double)sizeof(double) * ((double)n_local + (double)n_cols)     /* norms */
       + 3.0 * KERNEL_ALIGN_BYTES;
}

/**
  @brief The metric for one pair of rows, computed in double: the reference the tiled code must match to
  float rounding.

  Not collective (pure).

  @param[in] metric  which similarity
  @param[in] gamma   RBF width (used only for WN_METRIC_RBF)
  @param[in] d       length of x and y
  @param[in] x, y    the two rows (borrowed)

  @return cosine: x.y/(|x||y|) clamped to [-1, 1], 0 when either row is zero; dot: x.y;
          rbf: exp(-gamma |x - y|^2); additive: (1 + cosine)/2 (DELIFT, Agarwal et al., ICLR 2025).
**/
double wn_metric_pair(wn_metric metric, double gamma, int64_t d, const float *x, const float *y)
{
  double xy = 0, xx = 0, yy = 0, dist2 = 0, c;

  for (int64_t k = 0; k < d; k++) {
    double a = x[k], b = y[k];
    xy += a * b;
    xx += a * a;
    yy += b * b;
    dist2 += (a - b) * (a - b);
  }
  switch (metric) {
  case WN_METRIC_DOT:
    return xy;
  case WN_METRIC_RBF:
    return exp(-gamma * dist2);
  case WN_METRIC_COSINE:
  case WN_METRIC_ADDITIVE:
    c = (xx > 0 && yy > 0) ? xy / (sqrt(xx) * sqrt(yy)) : 0.0;
    c = c > 1 ? 1 : (c < -1 ? -1 : c);
    return metric == WN_METRIC_COSINE ? c : 0.5 * (1.0 + c);
  }
  return NAN;
}

static PetscLogEvent kernel_event_tiles = 0;

/* Register the PETSc log event wn_KernelTiles once (every rank at the same point). Not collective. */
static PetscErrorCode kernel_register_events(void)
{
  PetscClassId classid;

  PetscFunctionBeginUser;
  if (kernel_event_tiles) PetscFunctionReturn(PETSC_SUCCESS);
  PetscCall(PetscClassIdRegister("winnow kernel", &classid));
  PetscCall(PetscLogEventRegister("wn_KernelTiles", classid, &kernel_event_tiles));
  PetscFunctionReturn(PETSC_SUCCESS);
}

/* The argument checks shared by the dense and the sparse kernels (the same on every rank when every rank
 * passes the same d, n_cols and p). */
static PetscErrorCode kernel_check_args(const wn_layout *layout, int64_t d, const float *X_local, int64_t n_cols, const float *Y, const wn_kernel_params *p)
{
  MPI_Comm comm;

  PetscFunctionBeginUser;
  PetscCheck(layout != NULL && p != NULL, PETSC_COMM_SELF, PETSC_ERR_ARG_NULL, "kernel: layout and params must not be NULL");
  comm = layout->comm;
  PetscCheck(d > 0, comm, PETSC_ERR_ARG_OUTOFRANGE, "kernel: embedding dimension d must be > 0, got %lld", (long long)d);
  PetscCheck(n_cols > 0, comm, PETSC_ERR_ARG_OUTOFRANGE, "kernel: number of columns (targets) must be > 0, got %lld", (long long)n_cols);
  PetscCheck(p->metric >= WN_METRIC_COSINE && p->metric <= WN_METRIC_ADDITIVE, comm, PETSC_ERR_ARG_OUTOFRANGE, "kernel: unknown metric %d (expected cosine, dot, rbf or additive)", (int)p->metric);
  PetscCheck(p->metric != WN_METRIC_RBF || (p->gamma > 0 && isfinite(p->gamma)), comm, PETSC_ERR_ARG_OUTOFRANGE, "kernel: RBF gamma must be a finite number > 0, got %g", p->gamma);
  PetscCheck(p->tile_rows >= 0 && p->tile_cols >= 0, comm, PETSC_ERR_ARG_OUTOFRANGE, "kernel: tile sizes must be >= 0 (0 = automatic), got %lld rows x %lld columns", (long long)p->tile_rows, (long long)p->tile_cols);
  PetscCheck(d <= INT32_MAX && n_cols <= INT32_MAX && p->tile_rows <= INT32_MAX, comm, PETSC_ERR_ARG_OUTOFRANGE, "kernel: d = %lld, n_cols = %lld or tile_rows = %lld exceeds the 32-bit BLAS interface", (long long)d, (long long)n_cols, (long long)p->tile_rows);
  PetscCheck(Y != NULL, PETSC_COMM_SELF, PETSC_ERR_ARG_NULL, "kernel: column embeddings Y are NULL");
  PetscCheck(layout->n_local == 0 || X_local != NULL, PETSC_COMM_SELF, PETSC_ERR_ARG_NULL, "kernel: rank %d owns %lld rows but X_local is NULL", (int)layout->rank, (long long)layout->n_local);
  PetscFunctionReturn(PETSC_SUCCESS);
}

/**
  @brief The tiled computation of K[c, t] = metric(x_c, y_t) behind wn_kernel_compute() and
  wn_kernel_sparse_compute(): every (local row, column tile) segment is computed once, in the global-row-aligned
  tile scheme of the banner, and handed to the caller.

  Not collective (no min-max scaling here). Segments come column tile by column tile ([c0, c0 + nc) with c0 a
  multiple of the column tile size, ascending), and within a column tile row by row (ascending local rows), so
  every row sees its columns in ascending order. The values are those of wn_kernel_compute() before scaling,
  bit for bit, whatever the number of ranks.

  @param[in]  layout    row split of the candidates (borrowed)
  @param[in]  d         embedding dimension, > 0
  @param[in]  X_local   this rank's rows, layout->n_local x d (borrowed; may be NULL when n_local == 0)
  @param[in]  n_cols    number of columns, > 0
  @param[in]  Y         column embeddings, n_cols x d, replicated (borrowed)
  @param[in]  p         metric, gamma and tile sizes (borrowed; p->minmax is ignored)
  @param[out] resolved  (optional) a copy of *p with the tile sizes actually used
  @param[out] dest      (optional) layout->n_local x n_cols row-major floats receiving every value; when NULL the
                        values of a segment live in a scratch row only until fn returns
  @param[in]  fn        (optional) called as fn(ctx, i, c0, nc, values) for local row i and columns [c0, c0 + nc)
                        after the segment is computed; values are the nc final values (borrowed, read-only)
  @param[in]  ctx       passed to fn
**/
PetscErrorCode wn_kernel_compute_tiles(const wn_layout *layout, int64_t d, const float *X_local, int64_t n_cols, const float *Y, const wn_kernel_params *p, wn_kernel_params *resolved, float *dest, wn_kernel_segment_fn fn, void *ctx)
{
  kernel_tiles tiles;
  wn_metric    metric;
  PetscBool    normalise;
  int64_t      n_local, row_start, row_end, t_first, t_last, t, c0, i;
  double      *x_scale = NULL, *y_scale = NULL;
  float       *x_raw = NULL, *y_raw = NULL, *c_raw = NULL, *r_raw = NULL, *x_tile = NULL, *y_tile = NULL, *c_tile = NULL, *r_row = NULL;

  PetscFunctionBeginUser;
  PetscCall(kernel_check_args(layout, d, X_local, n_cols, Y, p));
  PetscCall(kernel_register_events()); /* on every rank, also those without rows: event ids must agree */
  metric    = p->metric;
  normalise = (metric == WN_METRIC_COSINE || metric == WN_METRIC_ADDITIVE) ? PETSC_TRUE : PETSC_FALSE;
  n_local   = layout->n_local;
  row_start = layout->row_start;
  row_end   = row_start + n_local;
  kernel_resolve_tiles(p, layout->n_global, n_cols, &tiles);
  if (resolved) {
    *resolved           = *p;
    resolved->tile_rows = tiles.rows;
    resolved->tile_cols = tiles.cols;
  }
  if (n_local == 0) PetscFunctionReturn(PETSC_SUCCESS);

  /* Per-row factors, computed once: 1/|row| (cosine, additive) or |row|^2 (rbf). */
  if (normalise || metric == WN_METRIC_RBF) {
    PetscCall(PetscMalloc1(n_local, &x_scale));
    PetscCall(PetscMalloc1(n_cols, &y_scale));
    for (i = 0; i < n_local; i++) {
      double s   = kernel_norm2(d, X_local + (size_t)i * (size_t)d);
      x_scale[i] = normalise ? kernel_inv_norm(s) : s;
    }
    for (i = 0; i < n_cols; i++) {
      double s   = kernel_norm2(d, Y + (size_t)i * (size_t)d);
      y_scale[i] = normalise ? kernel_inv_norm(s) : s;
    }
  }
  PetscCall(kernel_alloc_aligned((size_t)tiles.rows * (size_t)d, &x_raw, &x_tile));
  PetscCall(kernel_alloc_aligned((size_t)tiles.cols * (size_t)d, &y_raw, &y_tile));
  PetscCall(kernel_alloc_aligned((size_t)tiles.rows * (size_t)tiles.ld, &c_raw, &c_tile));
  if (!dest) PetscCall(kernel_alloc_aligned((size_t)tiles.ld, &r_raw, &r_row));

  t_first = row_start / tiles.rows;
  t_last  = (row_end - 1) / tiles.rows;
  PetscCall(PetscLogEventBegin(kernel_event_tiles, 0, 0, 0, 0));
  /* Column tiles outside, so each Y tile is copied once and stays in cache across the row tiles. */
  for (c0 = 0; c0 < n_cols; c0 += tiles.cols) {
    int64_t nc = PetscMin(tiles.cols, n_cols - c0);

    kernel_copy_rows(nc, d, Y + (size_t)c0 * (size_t)d, normalise ? y_scale + c0 : NULL, y_tile);
    for (t = t_first; t <= t_last; t++) {
      int64_t g0 = t * tiles.rows;                                         /* first global row of the tile */
      int64_t h  = PetscMin(tiles.rows, layout->n_global - g0);            /* its height: same on any rank count */
      int64_t a  = PetscMax(g0, row_start), b = PetscMin(g0 + h, row_end); /* rows owned here */

      if (a > g0) PetscCall(PetscArrayzero(x_tile, (size_t)(a - g0) * (size_t)d));
      if (b < g0 + h) PetscCall(PetscArrayzero(x_tile + (size_t)(b - g0) * (size_t)d, (size_t)(g0 + h - b) * (size_t)d));
      kernel_copy_rows(b - a, d, X_local + (size_t)(a - row_start) * (size_t)d, normalise ? x_scale + (a - row_start) : NULL, x_tile + (size_t)(a - g0) * (size_t)d);

      cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, (blasint)h, (blasint)nc, (blasint)d, 1.0f, x_tile, (blasint)d, y_tile, (blasint)d, 0.0f, c_tile, (blasint)tiles.ld);

      for (i = a; i < b; i++) {
        const float *c   = c_tile + (size_t)(i - g0) * (size_t)tiles.ld;
        float       *out = dest ? dest + (size_t)(i - row_start) * (size_t)n_cols + c0 : r_row;

        switch (metric) {
        case WN_METRIC_DOT:
          memcpy(out, c, (size_t)nc * sizeof(float));
          break;
        case WN_METRIC_COSINE:
          kernel_epilogue_cosine(nc, c, out);
          break;
        case WN_METRIC_ADDITIVE:
          kernel_epilogue_additive(nc, c, out);
          break;
        case WN_METRIC_RBF:
          kernel_epilogue_rbf(nc, c, x_scale[i - row_start], y_scale + c0, p->gamma, out);
          break;
        }
        if (fn) PetscCall(fn(ctx, i - row_start, c0, nc, out));
      }
    }
  }
  PetscCall(PetscLogFlops(2.0 * (double)n_local * (double)n_cols * (double)d));
  PetscCall(PetscLogEventEnd(kernel_event_tiles, 0, 0, 0, 0));
  PetscCall(PetscFree(x_raw));
  PetscCall(PetscFree(y_raw));
  PetscCall(PetscFree(c_raw));
  PetscCall(PetscFree(r_raw));
  PetscCall(PetscFree(x_scale));
  PetscCall(PetscFree(y_scale));
  PetscFunctionReturn(PETSC_SUCCESS);
}

/* Running min and max of the values, for min-max scaling during the computation. */
typedef struct {
  double vmin, vmax;
} kernel_minmax_ctx;

/* wn_kernel_segment_fn of the dense kernel with -wn_kernel_minmax: fold one segment into the running range. */
static PetscErrorCode kernel_minmax_segment(void *vctx, int64_t i, int64_t c0, int64_t nc, const float *values)
{
  kernel_minmax_ctx *mm = (kernel_minmax_ctx *)vctx;
  float              lo = values[0], hi = values[0];

  PetscFunctionBeginUser;
  kernel_segment_minmax(nc, values, &lo, &hi);
  mm->vmin = PetscMin(mm->vmin, (double)lo);
  mm->vmax = PetscMax(mm->vmax, (double)hi);
  PetscFunctionReturn(PETSC_SUCCESS);
}

/**
  @brief Compute K[c, t] = metric(x_c, y_t) for the rows c this rank owns against every column t, in sgemm
  tiles, then optionally scale the whole matrix to [0, 1].

  Collective on layout->comm when p->minmax is set (global min and max); otherwise local. Every rank must
  pass the same d, n_cols, Y and p. The value of K[c, t] is bitwise the same whatever the number of ranks
  (see the banner), for a fixed OpenBLAS core and thread count. The tiles are computed by
  wn_kernel_compute_tiles(), which the sparse kernels share.

  @param[in]  layout   row split of the candidates (borrowed; copied into K)
  @param[in]  d        embedding dimension, > 0
  @param[in]  X_local  this rank's candidate rows, layout->n_local x d row-major (borrowed; may be NULL
                       when n_local == 0)
  @param[in]  n_cols   number of columns (targets), > 0
  @param[in]  Y        column embeddings, n_cols x d row-major, replicated on every rank (borrowed)
  @param[in]  p        metric, gamma (> 0 for RBF), min-max flag and tile sizes (borrowed; 0 tile = default)
  @param[in]  columns  what the columns are ("targets", "pool", "private"), stored in K (borrowed)
  @param[out] K        new kernel, owned by the caller; free with wn_kernel_destroy(). K->source is left
                       empty for the caller to fill; K->params holds the resolved tile sizes.
**/
PetscErrorCode wn_kernel_compute(const wn_layout *layout, int64_t d, const float *X_local, int64_t n_cols, const float *Y, const wn_kernel_params *p, const char *columns, wn_kernel **K)
{
  wn_kernel        *k;
  kernel_minmax_ctx mm = {INFINITY, -INFINITY};

  PetscFunctionBeginUser;
  PetscCheck(layout != NULL && p != NULL && K != NULL, PETSC_COMM_SELF, PETSC_ERR_ARG_NULL, "wn_kernel_compute: layout, params and output K must not be NULL");
  PetscCheck(!columns || strlen(columns) < sizeof(k->columns), layout->comm, PETSC_ERR_ARG_OUTOFRANGE, "kernel: column description '%s' is longer than %d characters", columns, (int)sizeof(k->columns) - 1);
  PetscCall(kernel_check_args(layout, d, X_local, n_cols, Y, p));

  PetscCall(PetscNew(&k));
  k->layout = *layout;
  k->n_cols = n_cols;
  k->d      = d;
  PetscCall(PetscStrncpy(k->columns, columns ? columns : "", sizeof(k->columns)));
  if (layout->n_local > 0) PetscCall(PetscMalloc1((size_t)layout->n_local * (size_t)n_cols, &k->values));
  PetscCall(wn_kernel_compute_tiles(layout, d, X_local, n_cols, Y, p, &k->params, k->values, p->minmax ? kernel_minmax_segment : NULL, &mm));
  k->params.minmax = PETSC_FALSE; /* set by the scaling below */
  if (p->minmax) PetscCall(kernel_minmax_apply(k, mm.vmin, mm.vmax));
  *K = k;
  PetscFunctionReturn(PETSC_SUCCESS);
}

/**
  @brief Scale the whole distributed K to [0, 1]: v -> (v - min) / (max - min) with the global min and max
  over every rank's values (DELIFT's global min-max scaling, METHODS.md section 3). A constant matrix
  becomes all 0. The raw min and max are recorded in K->scale_min and K->scale_max, and K->params.minmax
  is set. Each value is computed as ((double)v - min) * (1 / (max - min)), identical on every rank count;
  the minimum maps to exactly 0 and the maximum to exactly 1.

  Collective on K->layout.comm (ranks with no rows contribute +inf/-inf).

  @param[in,out] K  the kernel (borrowed)
**/
PetscErrorCode wn_kernel_minmax_scale(wn_kernel *K)
{
  double  local_min = INFINITY, local_max = -INFINITY;
  int64_t i;

  PetscFunctionBeginUser;
  PetscCheck(K != NULL, PETSC_COMM_SELF, PETSC_ERR_ARG_NULL, "wn_kernel_minmax_scale: K is NULL");
  for (i = 0; i < (K->n_cols > 0 ? K->layout.n_local : 0); i++) {
    const float *row = K->values + (size_t)i * (size_t)K->n_cols;
    float        lo = row[0], hi = row[0];

    kernel_segment_minmax(K->n_cols, row, &lo, &hi);
    local_min = PetscMin(local_min, (double)lo);
    local_max = PetscMax(local_max, (double)hi);
  }
  PetscCall(kernel_minmax_apply(K, local_min, local_max));
  PetscFunctionReturn(PETSC_SUCCESS);
}

/**
  @brief Free a kernel and its values; accepts NULL and sets *K = NULL.

  Not collective.

  @param[in,out] K  the kernel (owned; freed)
**/
PetscErrorCode wn_kernel_destroy(wn_kernel **K)
{
  PetscFunctionBeginUser;
  if (!K || !*K) PetscFunctionReturn(PETSC_SUCCESS);
  PetscCall(PetscFree((*K)->values));
  PetscCall(PetscFree(*K));
  PetscFunctionReturn(PETSC_SUCCESS);
}
