/* kernel_sparse.c - sparse kNN kernels: the top-k entries of every candidate row of K (issue 4; DESIGN.md
 * sections 3 and 6).
 *
 * Owns: computing the k largest K[c, t] of every local row c while K is computed tile by tile (nothing larger
 * than one tile of K is ever held), assembling them as a PETSc MATMPIAIJ (N x T, local rows = the layout's
 * rows), the memory estimate, and writing and reading the CSR form in HDF5 (group/indptr, group/indices,
 * group/values and the group's attributes).
 * Leaves to others: the metrics, the tile scheme and the values themselves (kernel.c,
 * wn_kernel_compute_tiles: the kept values are bit for bit those of the dense kernel), the HDF5 mechanics
 * (h5io.c), and the objectives that use the matrix (facility.c).
 *
 * Selection. Every local row keeps a binary min-heap of at most k (value, column) entries whose root is the
 * entry to drop first: the smallest value, and among equal values the largest column. Columns reach a row in
 * ascending order (wn_kernel_compute_tiles visits column tiles in ascending order), so a new value enters a
 * full heap only when it is strictly larger than the root: on ties the lower column is kept. The result does
 * not depend on tile sizes or on the number of ranks (the values do not, and the rule is a total order).
 * Most values are one comparison against the root (eight at a time with SSE2, which gives the same answers as
 * the scalar '>'); a heap insertion happens about k ln(T / k) times per row for values in random order. Measured
 * at N = T = 12,000, d = 256, k = 50 (perf, one rank): the selection is about 10% of the time, the sgemm 70%. (A
 * 2k buffer compacted by quickselect instead of the heap measured no faster.) Min-max scaling is refused: it needs the global range of the dense values.
 *
 * Sizes. PETSc here has 32-bit PetscInt: N, T and the local nonzeros (n_local x k) must be below 2^31; the
 * file stores 64-bit indptr and indices, so files are not limited by that.
 */
#include <math.h>
#include <stdio.h>
#include <string.h>
#include <winnow/h5io.h>
#include <winnow/kernel.h>
#if defined(__SSE2__) && !defined(WN_NO_SIMD)
  #include <emmintrin.h>
  #define SPARSE_SSE2 1
#endif

#define SPARSE_FORMAT "csr"
#define SPARSE_PATH_LEN 512

/* Per-row top-k heaps of the local rows, filled by sparse_topk_segment(). */
typedef struct {
  int64_t  k;    /* capacity per row, min(k, T) */
  int64_t *n;    /* entries held by each local row */
  float   *val;  /* n_local x k heap values */
  int32_t *col;  /* n_local x k heap columns */
} sparse_topk;

/* Does (va, ca) leave before (vb, cb)? Smaller value first; on equal values the larger column. */
static inline int sparse_worse(float va, int32_t ca, float vb, int32_t cb)
{
  return va < vb || (va == vb && ca > cb);
}

/* Restore the heap property below position j of a heap of m entries. */
static inline void sparse_sift_down(float *val, int32_t *col, int64_t m, int64_t j)
{
  float   v = val[j];
  int32_t c = col[j];

  for (;;) {
    int64_t l = 2 * j + 1, r = l + 1, w;

    if (l >= m) break;
    w = (r < m && sparse_worse(val[r], col[r], val[l], col[l])) ? r : l;
    if (!sparse_worse(val[w], col[w], v, c)) break;
    val[j] = val[w];
    col[j] = col[w];
    j      = w;
  }
  val[j] = v;
  col[j] = c;
}

/* Add an entry to a heap of m < capacity entries (sift up). */
static inline void sparse_push(float *val, int32_t *col, int64_t m, float v, int32_t c)
{
  int64_t j = m;

  while (j > 0) {
    int64_t parent = (j - 1) / 2;

    if (!sparse_worse(v, c, val[parent], col[parent])) break;
    val[j] = val[parent];
    col[j] = col[parent];
    j      = parent;
  }
  val[j] = v;
  col[j] = c;
}

/**
  @brief wn_kernel_segment_fn of the sparse kernel: merge the values of local row i, columns [c0, c0 + nc), into
  the row's top-k heap.

  Not collective.

  @param[in,out] vctx    sparse_topk
  @param[in]     i       local row
  @param[in]     c0      first column of the segment
  @param[in]     nc      columns in the segment
  @param[in]     values  the nc kernel values (borrowed)
**/
static PetscErrorCode sparse_topk_segment(void *vctx, int64_t i, int64_t c0, int64_t nc, const float *values)
{
  sparse_topk *tk  = (sparse_topk *)vctx;
  int64_t      k   = tk->k, m = tk->n[i], j = 0;
  float       *val = tk->val + (size_t)i * (size_t)k;
  int32_t     *col = tk->col + (size_t)i * (size_t)k;

  PetscFunctionBeginUser;
  for (; m < k && j < nc; j++, m++) sparse_push(val, col, m, values[j], (int32_t)(c0 + j));
  if (m == k) {
    float root = val[0];

#if defined(SPARSE_SSE2)
    /* eight values at a time: most blocks hold nothing above the root (cmpgt is false for NaN, as '>' is) */
    for (; j + 8 <= nc; j += 8) {
      __m128 r = _mm_set1_ps(root);

      if (!_mm_movemask_ps(_mm_or_ps(_mm_cmpgt_ps(_mm_loadu_ps(values + j), r), _mm_cmpgt_ps(_mm_loadu_ps(values + j + 4), r)))) continue;
      for (int64_t l = j; l < j + 8; l++)
        if (values[l] > root) {
          val[0] = values[l];
          col[0] = (int32_t)(c0 + l);
          sparse_sift_down(val, col, k, 0);
          root = val[0];
        }
    }
#endif
    for (; j < nc; j++)
      if (values[j] > root) { /* columns only grow, so an equal value loses the tie */
        val[0] = values[j];
        col[0] = (int32_t)(c0 + j);
        sparse_sift_down(val, col, k, 0);
        root = val[0];
      }
  }
  tk->n[i] = m;
  PetscFunctionReturn(PETSC_SUCCESS);
}

/**
  @brief Bytes one rank needs to build a sparse kernel: what wn_kernel_bytes() counts for a rank without rows
  (the replicated column embeddings, the tile workspace, the column norms), the row norms, one scratch row, the
  top-k heaps, the CSR arrays handed to PETSc and the MATMPIAIJ itself (PetscInt columns, PetscScalar values).

  Not collective (pure).

  @param[in] n_local  rows this rank owns
  @param[in] n_cols   columns (targets) T
  @param[in] d        embedding dimension
  @param[in] k        entries kept per row (clipped to T)
  @param[in] p        kernel parameters for the tile sizes (borrowed; NULL = defaults)

  @return the estimate in bytes (a double, so that huge requests do not overflow)
**/
double wn_kernel_sparse_bytes(int64_t n_local, int64_t n_cols, int64_t d, int64_t k, const wn_kernel_params *p)
{
  double nnz;

  k   = k < 0 ? 0 : (k > n_cols ? n_cols : k);
  nnz = (double)n_local * (double)k;
  return wn_kernel_bytes(0, n_cols, d, p)                                   /* replicated Y, tiles, column norms */
       + (double)sizeof(double) * (double)n_local                           /* row norms */
       + (double)sizeof(float) * ((double)n_cols + 16)                      /* scratch row (at most a padded row) */
       + nnz * (double)(sizeof(float) + sizeof(int32_t)) + 8.0 * (double)n_local /* heaps and their counts */
       + 2.0 * (nnz * (double)(sizeof(PetscInt) + sizeof(PetscScalar)) + ((double)n_local + 1) * (double)sizeof(PetscInt)); /* CSR + Mat */
}

/**
  @brief Compute the top-k entries of every local row of K = metric(X_local, Y) and assemble them as a
  MATMPIAIJ.

  Collective on layout->comm (the matrix is created on it). The kept values are bit for bit those of
  wn_kernel_compute() with the same parameters (same tiles, same epilogue), and each row keeps its k largest
  values, ties to the lower column, stored in ascending column order. k > T keeps every column (S->k = T).
  Min-max scaling (p->minmax) is refused, as are k < 1 and sizes beyond PETSc's 32-bit indices.

  @param[in]  layout   row split of the candidates (borrowed; copied into S)
  @param[in]  d        embedding dimension, > 0
  @param[in]  X_local  this rank's rows, layout->n_local x d (borrowed; may be NULL when n_local == 0)
  @param[in]  n_cols   columns T, > 0
  @param[in]  Y        column embeddings, n_cols x d, replicated (borrowed)
  @param[in]  p        metric, gamma and tile sizes (borrowed); p->minmax must be PETSC_FALSE
  @param[in]  k        entries to keep per row, >= 1
  @param[in]  columns  what the columns are ("targets", "pool", "private"), stored in S (borrowed)
  @param[out] S        new sparse kernel, owned by the caller (wn_kernel_sparse_destroy); S->source is left
                       empty for the caller to fill; S->params holds the resolved tile sizes
**/
PetscErrorCode wn_kernel_sparse_compute(const wn_layout *layout, int64_t d, const float *X_local, int64_t n_cols, const float *Y, const wn_kernel_params *p, int64_t k, const char *columns, wn_sparse_kernel **S)
{
  MPI_Comm          comm;
  wn_sparse_kernel *s;
  sparse_topk       tk;
  int64_t           n_local, i, j, keep, bad = -1;
  PetscInt         *ia, *ja;
  PetscScalar      *va;

  PetscFunctionBeginUser;
  PetscCheck(layout != NULL && p != NULL && S != NULL, PETSC_COMM_SELF, PETSC_ERR_ARG_NULL, "wn_kernel_sparse_compute: layout, params and output S must not be NULL");
  comm = layout->comm;
  PetscCheck(!p->minmax, comm, PETSC_ERR_ARG_INCOMP, "sparse kernel: min-max scaling (-wn_kernel_minmax) needs the whole dense kernel and cannot be combined with a top-k sparse kernel");
  PetscCheck(k >= 1, comm, PETSC_ERR_ARG_OUTOFRANGE, "sparse kernel: neighbours per row k must be >= 1, got %lld", (long long)k);
  PetscCheck(!columns || strlen(columns) < sizeof(s->columns), comm, PETSC_ERR_ARG_OUTOFRANGE, "sparse kernel: column description '%s' is longer than %d characters", columns, (int)sizeof(s->columns) - 1);
  PetscCheck(layout->n_global <= PETSC_MAX_INT && n_cols <= PETSC_MAX_INT, comm, PETSC_ERR_ARG_OUTOFRANGE, "sparse kernel: %lld x %lld exceeds PETSc's 32-bit indices (2^31 - 1)", (long long)layout->n_global, (long long)n_cols);
  keep    = PetscMin(k, PetscMax(n_cols, 1));
  n_local = layout->n_local;
  WN_CHECK_ALL(comm, (double)n_local * (double)keep <= (double)PETSC_MAX_INT, PETSC_ERR_ARG_OUTOFRANGE,
               "sparse kernel: rank %d would hold %lld rows x %lld neighbours, more than PETSc's 32-bit indices allow (2^31 - 1); use more ranks or a smaller k",
               (int)layout->rank, (long long)n_local, (long long)keep);

  tk.k = keep;
  PetscCall(PetscCalloc1((size_t)n_local + 1, &tk.n));
  PetscCall(PetscMalloc2((size_t)(n_local * keep) + 1, &tk.val, (size_t)(n_local * keep) + 1, &tk.col));
  PetscCall(PetscNew(&s));
  s->layout = *layout;
  s->n_cols = n_cols;
  s->k      = keep;
  s->d      = d;
  PetscCall(PetscStrncpy(s->columns, columns ? columns : "", sizeof(s->columns)));
  /* the argument checks of the dense kernel (collective errors), then the tiles */
  PetscCall(wn_kernel_compute_tiles(layout, d, X_local, n_cols, Y, p, &s->params, NULL, sparse_topk_segment, &tk));
  s->params.minmax = PETSC_FALSE;

  /* CSR in ascending column order */
  PetscCall(PetscMalloc3((size_t)n_local + 1, &ia, (size_t)(n_local * keep) + 1, &ja, (size_t)(n_local * keep) + 1, &va));
  ia[0] = 0;
  for (i = 0; i < n_local; i++) {
    PetscInt *cols = ja + i * keep;

    for (j = 0; j < tk.n[i]; j++) {
      cols[j]         = (PetscInt)tk.col[i * keep + j];
      va[i * keep + j] = (PetscScalar)tk.val[i * keep + j];
      if (bad < 0 && isnan(tk.val[i * keep + j])) bad = layout->row_start + i;
    }
    PetscCall(PetscSortIntWithScalarArray((PetscInt)tk.n[i], cols, va + i * keep));
    ia[i + 1] = ia[i] + (PetscInt)tk.n[i];
  }
  PetscCall(PetscFree(tk.n));
  PetscCall(PetscFree2(tk.val, tk.col));
  WN_CHECK_ALL(comm, bad < 0, PETSC_ERR_FP, "sparse kernel: row %lld has a NaN value (the embeddings must be finite)", (long long)bad);
  PetscCall(MatCreateMPIAIJWithArrays(comm, (PetscInt)n_local, PETSC_DECIDE, (PetscInt)layout->n_global, (PetscInt)n_cols, ia, ja, va, &s->A));
  PetscCall(PetscFree3(ia, ja, va));
  *S = s;
  PetscFunctionReturn(PETSC_SUCCESS);
}

/**
  @brief Free a sparse kernel and its matrix; accepts NULL and sets *S = NULL.

  Collective on the matrix's communicator (MatDestroy).

  @param[in,out] S  the kernel (owned; freed)
**/
PetscErrorCode wn_kernel_sparse_destroy(wn_sparse_kernel **S)
{
  PetscFunctionBeginUser;
  if (!S || !*S) PetscFunctionReturn(PETSC_SUCCESS);
  PetscCall(MatDestroy(&(*S)->A));
  PetscCall(PetscFree(*S));
  PetscFunctionReturn(PETSC_SUCCESS);
}

/* "group/name" without a doubled slash ("/" + "indptr" -> "/indptr"). Not collective. */
static PetscErrorCode sparse_path(const char *group, const char *name, char *out, size_t len)
{
  size_t n;

  PetscFunctionBeginUser;
  PetscCheck(group != NULL && group[0], PETSC_COMM_SELF, PETSC_ERR_ARG_NULL, "sparse kernel: the HDF5 group name is empty");
  n = strlen(group);
  PetscCheck(n + strlen(name) + 2 <= len, PETSC_COMM_SELF, PETSC_ERR_ARG_SIZ, "sparse kernel: HDF5 group name '%s' is too long", group);
  snprintf(out, len, "%s%s%s", group, group[n - 1] == '/' ? "" : "/", name);
  PetscFunctionReturn(PETSC_SUCCESS);
}

/* Metric from its name; unknown names give WN_METRIC_DOT (as the dense reader does). */
static wn_metric sparse_metric_from_name(const char *name)
{
  for (int m = WN_METRIC_COSINE; m <= WN_METRIC_ADDITIVE; m++)
    if (!strcmp(wn_metric_names[m], name)) return (wn_metric)m;
  return WN_METRIC_DOT;
}

/**
  @brief Write a sparse kernel as CSR under a group of an open file.

  Collective on comm (the communicator of the file and of S's layout). Datasets: group/indptr (N + 1 int64,
  global offsets), group/indices (nnz int64 column numbers, ascending within a row) and group/values (nnz
  float32), each rank writing its rows at its nonzero offset (MPI_Exscan of the local counts). Attributes on the
  group: format = "csr", k, n_rows, n_cols, metric, gamma, columns, source, d, orientation = "candidate-major".
  Existing datasets of those names are replaced; missing groups are created.

  @param[in] comm   communicator (borrowed)
  @param[in] file   open file (wn_h5_create / wn_h5_open for writing)
  @param[in] group  group path, e.g. "/kernel"
  @param[in] S      the kernel (borrowed)
**/
PetscErrorCode wn_kernel_sparse_write(MPI_Comm comm, hid_t file, const char *group, const wn_sparse_kernel *S)
{
  char         p_indptr[SPARSE_PATH_LEN], p_indices[SPARSE_PATH_LEN], p_values[SPARSE_PATH_LEN];
  int64_t      n_local, nnz_local = 0, offset = 0, nnz_total = 0, row_start, n_ptr;
  int64_t     *indptr, *indices;
  float       *values;
  PetscMPIInt  rank, size;
  const char  *metric;

  PetscFunctionBeginUser;
  PetscCheck(S != NULL && S->A != NULL, comm, PETSC_ERR_ARG_NULL, "wn_kernel_sparse_write: no sparse kernel to write");
  PetscCall(sparse_path(group, "indptr", p_indptr, sizeof(p_indptr)));
  PetscCall(sparse_path(group, "indices", p_indices, sizeof(p_indices)));
  PetscCall(sparse_path(group, "values", p_values, sizeof(p_values)));
  PetscCallMPI(MPI_Comm_rank(comm, &rank));
  PetscCallMPI(MPI_Comm_size(comm, &size));
  n_local   = S->layout.n_local;
  row_start = S->layout.row_start;
  for (int64_t i = 0; i < n_local; i++) {
    PetscInt ncols;

    PetscCall(MatGetRow(S->A, (PetscInt)(row_start + i), &ncols, NULL, NULL));
    nnz_local += ncols;
    PetscCall(MatRestoreRow(S->A, (PetscInt)(row_start + i), &ncols, NULL, NULL));
  }
  PetscCallMPI(MPI_Exscan(&nnz_local, &offset, 1, MPI_INT64_T, MPI_SUM, comm));
  if (rank == 0) offset = 0; /* MPI_Exscan leaves rank 0's result undefined */
  PetscCallMPI(MPI_Allreduce(&nnz_local, &nnz_total, 1, MPI_INT64_T, MPI_SUM, comm));

  /* the last rank also writes indptr[N] */
  n_ptr = n_local + (rank == size - 1 ? 1 : 0);
  PetscCall(PetscMalloc3((size_t)n_ptr + 1, &indptr, (size_t)nnz_local + 1, &indices, (size_t)nnz_local + 1, &values));
  indptr[0] = offset;
  for (int64_t i = 0, pos = 0; i < n_local; i++) {
    PetscInt           ncols;
    const PetscInt    *cols;
    const PetscScalar *vals;

    PetscCall(MatGetRow(S->A, (PetscInt)(row_start + i), &ncols, &cols, &vals));
    for (PetscInt j = 0; j < ncols; j++, pos++) {
      indices[pos] = (int64_t)cols[j];
      values[pos]  = (float)vals[j];
    }
    PetscCall(MatRestoreRow(S->A, (PetscInt)(row_start + i), &ncols, &cols, &vals));
    if (i + 1 < n_ptr) indptr[i + 1] = offset + pos;
  }

  PetscCall(wn_h5_write_rows_int64(comm, file, p_indptr, S->layout.n_global + 1, row_start, n_ptr, indptr));
  PetscCall(wn_h5_write_rows_int64(comm, file, p_indices, nnz_total, offset, nnz_local, indices));
  PetscCall(wn_h5_write_rows_float(comm, file, p_values, nnz_total, 0, offset, nnz_local, values, 0));
  PetscCall(PetscFree3(indptr, indices, values));

  metric = (S->params.metric >= WN_METRIC_COSINE && S->params.metric <= WN_METRIC_ADDITIVE) ? wn_metric_names[S->params.metric] : "unknown";
  PetscCall(wn_h5_attr_write_string(comm, file, group, "format", SPARSE_FORMAT));
  PetscCall(wn_h5_attr_write_int64(comm, file, group, "k", S->k));
  PetscCall(wn_h5_attr_write_int64(comm, file, group, "n_rows", S->layout.n_global));
  PetscCall(wn_h5_attr_write_int64(comm, file, group, "n_cols", S->n_cols));
  PetscCall(wn_h5_attr_write_string(comm, file, group, "metric", metric));
  PetscCall(wn_h5_attr_write_double(comm, file, group, "gamma", S->params.gamma));
  PetscCall(wn_h5_attr_write_string(comm, file, group, "columns", S->columns));
  PetscCall(wn_h5_attr_write_string(comm, file, group, "source", S->source));
  PetscCall(wn_h5_attr_write_int64(comm, file, group, "d", S->d));
  PetscCall(wn_h5_attr_write_string(comm, file, group, "orientation", "candidate-major"));
  PetscFunctionReturn(PETSC_SUCCESS);
}

/**
  @brief Does a group of a file hold a sparse kernel (group/indptr exists)?

  Collective on comm (every rank gets the same answer). A missing file is an error (wn_h5_open's).

  @param[in]  comm    communicator (borrowed)
  @param[in]  path    HDF5 file
  @param[in]  group   group path, e.g. "/kernel"
  @param[out] sparse  the answer
**/
PetscErrorCode wn_kernel_is_sparse(MPI_Comm comm, const char *path, const char *group, PetscBool *sparse)
{
  char  p_indptr[SPARSE_PATH_LEN];
  hid_t file = -1;

  PetscFunctionBeginUser;
  PetscCheck(sparse != NULL, PETSC_COMM_SELF, PETSC_ERR_ARG_NULL, "wn_kernel_is_sparse: output is NULL");
  PetscCall(sparse_path(group, "indptr", p_indptr, sizeof(p_indptr)));
  PetscCall(wn_h5_open(comm, path, PETSC_FALSE, &file));
  PetscCall(wn_h5_exists(comm, file, p_indptr, sparse));
  PetscCall(wn_h5_close(&file));
  PetscFunctionReturn(PETSC_SUCCESS);
}

/* Buffers of a read, freed by the caller whatever happens. */
typedef struct {
  int64_t *indptr;  /* n_local + 1 global offsets */
  int64_t *indices; /* local nonzeros' columns */
  float   *values;  /* local nonzeros' values */
} sparse_read_buffers;

/* Agree on a verdict some ranks may not share: the lowest failing rank's code and message go to every rank
 * (no error is raised here, so the caller can close the file first). Collective on comm. */
static PetscErrorCode sparse_agree(MPI_Comm comm, PetscErrorCode *code, char *msg, size_t len)
{
  PetscMPIInt rank, size, mine, first;
  int         shared = 0;

  PetscFunctionBeginUser;
  PetscCallMPI(MPI_Comm_rank(comm, &rank));
  PetscCallMPI(MPI_Comm_size(comm, &size));
  mine = *code ? rank : size;
  PetscCallMPI(MPI_Allreduce(&mine, &first, 1, MPI_INT, MPI_MIN, comm));
  if (first == size) PetscFunctionReturn(PETSC_SUCCESS);
  shared = (int)*code;
  PetscCallMPI(MPI_Bcast(&shared, 1, MPI_INT, first, comm));
  PetscCallMPI(MPI_Bcast(msg, (PetscMPIInt)len, MPI_CHAR, first, comm));
  *code = (PetscErrorCode)shared;
  PetscFunctionReturn(PETSC_SUCCESS);
}

/* Everything of wn_kernel_sparse_read while the file is open. A bad file sets *code and msg on every rank
 * (agreed); the caller closes the file and raises the error. Collective. */
static PetscErrorCode sparse_read_open(const wn_layout *layout, hid_t file, const char *path, const char *group, wn_sparse_kernel *s, sparse_read_buffers *buf, PetscErrorCode *code, char *msg, size_t len)
{
  MPI_Comm    comm = layout->comm;
  const char *names[3] = {"indptr", "indices", "values"};
  char        p[3][SPARSE_PATH_LEN], text[PETSC_MAX_PATH_LEN];
  wn_h5_info  info[3];
  PetscBool   exists, found;
  double      attr;
  int64_t     n_local = layout->n_local, row_start = layout->row_start, nnz, lo, hi, cnt, max_len = 0, max_col = -1, in[2], out[2];

  PetscFunctionBeginUser;
  *code = 0;
  for (int q = 0; q < 3; q++) {
    PetscCall(sparse_path(group, names[q], p[q], sizeof(p[q])));
    PetscCall(wn_h5_exists(comm, file, p[q], &exists));
    if (!exists) {
      *code = PETSC_ERR_FILE_UNEXPECTED;
      snprintf(msg, len, "sparse kernel dataset %s not found in '%s' (a CSR kernel has %s/indptr, %s/indices and %s/values)", p[q], path, group, group, group);
      PetscFunctionReturn(PETSC_SUCCESS);
    }
    PetscCall(wn_h5_info_get(comm, file, path, p[q], &info[q]));
    *code = PETSC_ERR_FILE_UNEXPECTED;
    if (info[q].is_string || info[q].ndim != 1) snprintf(msg, len, "sparse kernel dataset %s in '%s' is %s; expected a 1-D %s column", p[q], path, info[q].is_string ? "a string column" : (info[q].ndim == 2 ? "2-D" : "not 1-D"), q == 2 ? "float" : "integer");
    else if (q < 2 && info[q].dtype != WN_DTYPE_I64 && info[q].dtype != WN_DTYPE_I32) snprintf(msg, len, "sparse kernel dataset %s in '%s' is not an integer column (int32 or int64)", p[q], path);
    else if (q == 2 && info[q].dtype != WN_DTYPE_F32 && info[q].dtype != WN_DTYPE_F64) snprintf(msg, len, "sparse kernel dataset %s in '%s' is not a float32 or float64 column", p[q], path);
    else *code = 0;
    if (*code) PetscFunctionReturn(PETSC_SUCCESS);
  }
  *code = PETSC_ERR_FILE_UNEXPECTED;
  if (info[0].dims[0] != layout->n_global + 1) snprintf(msg, len, "sparse kernel %s in '%s' has %lld entries, i.e. %lld candidate rows, but the pool has %lld (expected %lld entries)", p[0], path, (long long)info[0].dims[0], (long long)(info[0].dims[0] - 1), (long long)layout->n_global, (long long)(layout->n_global + 1));
  else if (info[1].dims[0] != info[2].dims[0]) snprintf(msg, len, "sparse kernel in '%s': %s has %lld entries but %s has %lld; expected the same number of nonzeros", path, p[1], (long long)info[1].dims[0], p[2], (long long)info[2].dims[0]);
  else *code = 0;
  if (*code) PetscFunctionReturn(PETSC_SUCCESS);
  nnz = info[1].dims[0];

  /* T from the n_cols attribute (else from the largest column index, below) */
  s->n_cols = -1;
  PetscCall(wn_h5_attr_read_double(comm, file, group, "n_cols", &attr, &found));
  if (found) {
    if (!(attr >= 1 && attr <= (double)PETSC_MAX_INT && attr == floor(attr))) {
      *code = PETSC_ERR_FILE_UNEXPECTED;
      snprintf(msg, len, "sparse kernel group %s in '%s' has n_cols = %g; expected a whole number in [1, 2^31 - 1]", group, path, attr);
      PetscFunctionReturn(PETSC_SUCCESS);
    }
    s->n_cols = (int64_t)attr;
  }
  s->k = -1;
  PetscCall(wn_h5_attr_read_double(comm, file, group, "k", &attr, &found));
  if (found) {
    if (!(attr >= 0 && attr == floor(attr) && attr <= (double)PETSC_MAX_INT)) {
      *code = PETSC_ERR_FILE_UNEXPECTED;
      snprintf(msg, len, "sparse kernel group %s in '%s' has k = %g; expected a whole number >= 0", group, path, attr);
      PetscFunctionReturn(PETSC_SUCCESS);
    }
    s->k = (int64_t)attr;
  }

  /* indptr[row_start .. row_start + n_local]: starts at 0, never decreases, ends at nnz */
  PetscCall(PetscMalloc1((size_t)n_local + 1, &buf->indptr));
  PetscCall(wn_h5_read_rows_int64(comm, file, p[0], row_start, n_local + 1, buf->indptr));
  if (row_start == 0 && buf->indptr[0] != 0) {
    *code = PETSC_ERR_FILE_UNEXPECTED;
    snprintf(msg, len, "sparse kernel %s in '%s' starts at %lld; expected 0", p[0], path, (long long)buf->indptr[0]);
  }
  for (int64_t i = 0; i < n_local && !*code; i++)
    if (buf->indptr[i + 1] < buf->indptr[i]) {
      *code = PETSC_ERR_FILE_UNEXPECTED;
      snprintf(msg, len, "sparse kernel %s in '%s' is not monotone: entry %lld is %lld, entry %lld is %lld", p[0], path, (long long)(row_start + i), (long long)buf->indptr[i], (long long)(row_start + i + 1), (long long)buf->indptr[i + 1]);
    }
  if (!*code && row_start + n_local == layout->n_global && buf->indptr[n_local] != nnz) {
    *code = PETSC_ERR_FILE_UNEXPECTED;
    snprintf(msg, len, "sparse kernel %s in '%s' ends at %lld but %s and %s hold %lld nonzeros", p[0], path, (long long)buf->indptr[n_local], p[1], p[2], (long long)nnz);
  }
  if (!*code && (buf->indptr[0] < 0 || buf->indptr[n_local] > nnz)) {
    *code = PETSC_ERR_FILE_UNEXPECTED;
    snprintf(msg, len, "sparse kernel %s in '%s' has offsets [%lld, %lld] outside the %lld nonzeros", p[0], path, (long long)buf->indptr[0], (long long)buf->indptr[n_local], (long long)nnz);
  }
  lo  = buf->indptr[0];
  hi  = buf->indptr[n_local];
  cnt = hi - lo;
  if (!*code && cnt > PETSC_MAX_INT) {
    *code = PETSC_ERR_ARG_OUTOFRANGE;
    snprintf(msg, len, "sparse kernel in '%s': rank %d would hold %lld nonzeros, more than PETSc's 32-bit indices allow; use more ranks", path, (int)layout->rank, (long long)cnt);
  }
  PetscCall(sparse_agree(comm, code, msg, len));
  if (*code) PetscFunctionReturn(PETSC_SUCCESS);

  /* this rank's nonzeros */
  PetscCall(PetscMalloc2((size_t)cnt + 1, &buf->indices, (size_t)cnt + 1, &buf->values));
  PetscCall(wn_h5_read_rows_int64(comm, file, p[1], lo, cnt, buf->indices));
  PetscCall(wn_h5_read_rows_float(comm, file, p[2], lo, cnt, 1, buf->values));
  for (int64_t i = 0; i < n_local && !*code; i++) {
    max_len = PetscMax(max_len, buf->indptr[i + 1] - buf->indptr[i]);
    for (int64_t e = buf->indptr[i] - lo; e < buf->indptr[i + 1] - lo && !*code; e++) {
      int64_t c = buf->indices[e];

      *code = PETSC_ERR_FILE_UNEXPECTED;
      if (c < 0 || (s->n_cols > 0 && c >= s->n_cols)) snprintf(msg, len, "sparse kernel %s in '%s': row %lld has column %lld outside [0, %lld)", p[1], path, (long long)(row_start + i), (long long)c, (long long)(s->n_cols > 0 ? s->n_cols : PETSC_MAX_INT));
      else if (c > PETSC_MAX_INT - 1) snprintf(msg, len, "sparse kernel %s in '%s': row %lld has column %lld beyond PETSc's 32-bit indices", p[1], path, (long long)(row_start + i), (long long)c);
      else if (e > buf->indptr[i] - lo && c <= buf->indices[e - 1]) snprintf(msg, len, "sparse kernel %s in '%s': the columns of row %lld are not strictly increasing (%lld after %lld)", p[1], path, (long long)(row_start + i), (long long)c, (long long)buf->indices[e - 1]);
      else if (!isfinite(buf->values[e])) snprintf(msg, len, "sparse kernel %s in '%s' has a NaN or Inf in row %lld (column %lld)", p[2], path, (long long)(row_start + i), (long long)c);
      else *code = 0;
      max_col = PetscMax(max_col, c);
    }
  }
  PetscCall(sparse_agree(comm, code, msg, len));
  if (*code) PetscFunctionReturn(PETSC_SUCCESS);

  /* k: the attribute (every row must fit), else the longest row; T: the attribute, else the largest column + 1 */
  in[0] = max_len;
  in[1] = max_col;
  PetscCallMPI(MPI_Allreduce(in, out, 2, MPI_INT64_T, MPI_MAX, comm));
  if (s->k >= 0 && out[0] > s->k) {
    *code = PETSC_ERR_FILE_UNEXPECTED;
    snprintf(msg, len, "sparse kernel group %s in '%s' says k = %lld but a row has %lld entries", group, path, (long long)s->k, (long long)out[0]);
    PetscFunctionReturn(PETSC_SUCCESS);
  }
  if (s->k < 0) s->k = out[0];
  if (s->n_cols < 0) s->n_cols = out[1] + 1;
  if (s->n_cols < 1) {
    *code = PETSC_ERR_FILE_UNEXPECTED;
    snprintf(msg, len, "sparse kernel group %s in '%s' has no n_cols attribute and no entries; cannot tell the number of columns", group, path);
    PetscFunctionReturn(PETSC_SUCCESS);
  }

  /* provenance, where the file records it */
  s->params.metric = WN_METRIC_DOT;
  PetscCall(wn_h5_attr_read_string(comm, file, group, "metric", text, sizeof(text), &found));
  if (found) s->params.metric = sparse_metric_from_name(text);
  PetscCall(wn_h5_attr_read_double(comm, file, group, "gamma", &s->params.gamma, &found));
  PetscCall(wn_h5_attr_read_string(comm, file, group, "columns", s->columns, sizeof(s->columns), &found));
  if (!found || !s->columns[0]) PetscCall(PetscStrncpy(s->columns, "user", sizeof(s->columns)));
  attr = 0;
  PetscCall(wn_h5_attr_read_double(comm, file, group, "d", &attr, &found));
  s->d = (int64_t)attr;
  PetscFunctionReturn(PETSC_SUCCESS);
}

/**
  @brief Read a CSR kernel written by wn_kernel_sparse_write() for the rows of layout.

  Collective on layout->comm. Each rank reads indptr[row_start .. row_start + n_local], then its range of
  indices and values, and the MATMPIAIJ is assembled with the layout's rows. T comes from the group's n_cols
  attribute (else the largest column + 1), k from its k attribute (else the longest row); metric, gamma,
  columns and d from their attributes when present; source is the file read.
  Errors (collective, naming the file and dataset): missing file or datasets, wrong types or shapes, a row count
  that is not the pool's, indptr not starting at 0, not monotone or not ending at nnz, column indices out of
  range or not strictly increasing within a row, NaN/Inf values, rows longer than k, local sizes beyond
  PETSc's 32-bit indices.

  @param[in]  layout  the pool's layout (borrowed; copied into S)
  @param[in]  path    HDF5 file
  @param[in]  group   group path, e.g. "/kernel"
  @param[out] S       new sparse kernel, owned by the caller (wn_kernel_sparse_destroy)
**/
PetscErrorCode wn_kernel_sparse_read(const wn_layout *layout, const char *path, const char *group, wn_sparse_kernel **S)
{
  wn_sparse_kernel    s;
  sparse_read_buffers buf = {NULL, NULL, NULL};
  hid_t               file = -1;
  PetscErrorCode      code = 0;
  char                msg[1024] = "";
  PetscInt           *ia = NULL, *ja = NULL;
  PetscScalar        *va = NULL;
  int64_t             n_local, cnt;

  PetscFunctionBeginUser;
  PetscCheck(layout != NULL && path != NULL && S != NULL, PETSC_COMM_SELF, PETSC_ERR_ARG_NULL, "wn_kernel_sparse_read: layout, path and output S must not be NULL");
  PetscCheck(layout->n_global <= PETSC_MAX_INT - 1, layout->comm, PETSC_ERR_ARG_OUTOFRANGE, "sparse kernel: %lld rows exceed PETSc's 32-bit indices", (long long)layout->n_global);
  memset(&s, 0, sizeof(s));
  s.layout = *layout;
  PetscCall(PetscStrncpy(s.source, path, sizeof(s.source)));
  PetscCall(wn_h5_open(layout->comm, path, PETSC_FALSE, &file));
  PetscCall(sparse_read_open(layout, file, path, group, &s, &buf, &code, msg, sizeof(msg)));
  PetscCall(wn_h5_close(&file));
  if (code) {
    PetscCall(PetscFree(buf.indptr));
    PetscCall(PetscFree2(buf.indices, buf.values));
  }
  PetscCheck(!code, layout->comm, code, "%s", msg);

  n_local = layout->n_local;
  cnt     = buf.indptr[n_local] - buf.indptr[0];
  PetscCall(PetscMalloc3((size_t)n_local + 1, &ia, (size_t)cnt + 1, &ja, (size_t)cnt + 1, &va));
  for (int64_t i = 0; i <= n_local; i++) ia[i] = (PetscInt)(buf.indptr[i] - buf.indptr[0]);
  for (int64_t e = 0; e < cnt; e++) {
    ja[e] = (PetscInt)buf.indices[e];
    va[e] = (PetscScalar)buf.values[e];
  }
  PetscCall(PetscFree(buf.indptr));
  PetscCall(PetscFree2(buf.indices, buf.values));
  PetscCall(MatCreateMPIAIJWithArrays(layout->comm, (PetscInt)n_local, PETSC_DECIDE, (PetscInt)layout->n_global, (PetscInt)s.n_cols, ia, ja, va, &s.A));
  PetscCall(PetscFree3(ia, ja, va));
  PetscCall(PetscNew(S));
  **S = s;
  PetscFunctionReturn(PETSC_SUCCESS);
}
