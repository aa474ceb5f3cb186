/* kernel.h - candidate-by-target kernels K[c, t] in row blocks (DESIGN.md sections 3 and 6).
 *
 * Owns: the similarity metrics (cosine, dot, RBF, DELIFT's additive (1 + cos)/2), computing K in
 * sgemm tiles for the rows this rank owns, global min-max scaling, the memory estimate, and writing and
 * reading K as one HDF5 dataset chunked along rows (with its attributes, and the transposition of
 * user-supplied target-major utility matrices, METHODS.md section 5).
 * "Targets" (the columns) may be the task's target set, the pool itself or a private/existing set.
 */
#pragma once

#include <stdint.h>
#include <hdf5.h>
#include <winnow/error.h>
#include <winnow/layout.h>

typedef enum { WN_METRIC_COSINE, WN_METRIC_DOT, WN_METRIC_RBF, WN_METRIC_ADDITIVE } wn_metric;
PETSC_EXTERN const char *const wn_metric_names[]; /* "cosine","dot","rbf","additive", then PETSc enum tail */

typedef struct {
  wn_metric metric;
  double    gamma;      /* RBF: exp(-gamma * ||x - y||^2); must be > 0 */
  PetscBool minmax;     /* global min-max scaling of the whole matrix to [0, 1] (DELIFT) */
  int64_t   tile_rows;  /* rows per sgemm tile (0 = automatic) */
  int64_t   tile_cols;  /* columns per sgemm tile (0 = automatic) */
} wn_kernel_params;

typedef struct {
  wn_layout layout;        /* rows = candidates, as the pool's layout */
  int64_t   n_cols;        /* T: targets, N (pool) or P (private set) */
  float    *values;        /* layout.n_local x n_cols, row-major, owned */
  wn_kernel_params params; /* how it was made (metric WN_METRIC_DOT and "user" columns for loaded U) */
  char      columns[32];   /* what the columns are: "targets", "pool", "private" or "user" */
  char      source[PETSC_MAX_PATH_LEN]; /* file(s) it was computed from or loaded from */
  int64_t   d;             /* embedding dimension it was computed from (0 if unknown) */
  double    scale_min, scale_max; /* raw min and max before min-max scaling (when applied) */
} wn_kernel;

/* Bytes this rank needs to build a kernel: its n_local x n_cols float32 rows, the replicated column
 * embeddings (n_cols x d) and one tile of workspace. Pure. */
PETSC_EXTERN double wn_kernel_bytes(int64_t n_local, int64_t n_cols, int64_t d, const wn_kernel_params *p);

/* Value of the metric for one pair, in double (reference for tests; the tiled code must agree to float
 * rounding). Pure. */
PETSC_EXTERN double wn_metric_pair(wn_metric metric, double gamma, int64_t d, const float *x, const float *y);

/* Compute K[c, t] for this rank's rows X_local (layout->n_local x d) against Y (n_cols x d, replicated),
 * in sgemm tiles. Collective on layout->comm only when p->minmax is set (global min and max).
 * Results for a row do not depend on how rows are split over ranks. *K is owned by the caller. */
PETSC_EXTERN PetscErrorCode wn_kernel_compute(const wn_layout *layout, int64_t d, const float *X_local, int64_t n_cols, const float *Y, const wn_kernel_params *p, const char *columns, wn_kernel **K);
/* Global min-max scaling of K to [0, 1] (a constant matrix becomes all 0). Collective. */
PETSC_EXTERN PetscErrorCode wn_kernel_minmax_scale(wn_kernel *K);
PETSC_EXTERN PetscErrorCode wn_kernel_destroy(wn_kernel **K);

/* Write K into dataset (e.g. "/kernel/values") of an open file, chunked along rows, with attributes
 * metric, gamma, scaling, columns, source, d, orientation = "candidate-major", n_rows, n_cols on the
 * dataset. Collective. */
PETSC_EXTERN PetscErrorCode wn_kernel_write(MPI_Comm comm, hid_t file, const char *dataset, const wn_kernel *K);
/* Read K from dataset of path for the rows of layout (n_global must match the dataset's candidate count,
 * else an error naming both). Honors the dataset attribute orientation: "candidate-major" (rows =
 * candidates) or "target-major" (rows = targets, transposed on load); when absent, orientation_default
 * decides ("candidate-major" or "target-major"). Collective. Errors: missing file/dataset, not 2-D,
 * not float, NaN/Inf, wrong number of candidate rows. */
PETSC_EXTERN PetscErrorCode wn_kernel_read(const wn_layout *layout, const char *path, const char *dataset, const char *orientation_default, wn_kernel **K);

/* ---- sparse kernels: the top-k entries of every candidate row (issue 4) ------------------------------- */

#include <petscmat.h>

/* Candidate-major CSR of the k largest K[c, t] of every row c (ties to the lower column t), held as a PETSc
 * MATMPIAIJ (N x T, local rows = the layout's rows; values are the float32 kernel values stored as PetscScalar,
 * so they convert back to float exactly). PETSc's 32-bit PetscInt limits N, T and the local nonzeros to 2^31 - 1. */
typedef struct {
  wn_layout        layout;  /* rows = candidates */
  int64_t          n_cols;  /* T */
  int64_t          k;       /* entries kept per row (min(k, T)) */
  Mat              A;       /* owned */
  wn_kernel_params params;  /* how the values were computed */
  char             columns[32];
  char             source[PETSC_MAX_PATH_LEN];
  int64_t          d;
} wn_sparse_kernel;

/* The tiled computation shared by the dense and the sparse kernels (kernel.c; not for other modules): every
 * (local row i, column tile [c0, c0 + nc)) segment of K is computed once, in the global-row-aligned tile scheme
 * of wn_kernel_compute and with its values bit for bit (no min-max scaling), column tiles ascending, rows
 * ascending within a column tile. The values go to dest (n_local x n_cols, when not NULL) and/or are handed to
 * fn(ctx, i, c0, nc, values) (values borrowed until fn returns). resolved (optional) receives *p with the tile
 * sizes used. Not collective. */
typedef PetscErrorCode (*wn_kernel_segment_fn)(void *ctx, int64_t i, int64_t c0, int64_t nc, const float *values);
PETSC_EXTERN PetscErrorCode wn_kernel_compute_tiles(const wn_layout *layout, int64_t d, const float *X_local, int64_t n_cols, const float *Y, const wn_kernel_params *p, wn_kernel_params *resolved, float *dest, wn_kernel_segment_fn fn, void *ctx);

/* Bytes this rank needs for a sparse kernel of n_local rows with k entries each, computed against n_cols
 * replicated columns of dimension d (the tile workspace included). Pure. */
PETSC_EXTERN double wn_kernel_sparse_bytes(int64_t n_local, int64_t n_cols, int64_t d, int64_t k, const wn_kernel_params *p);
/* Compute the top-k entries of every local row of K = metric(X_local, Y) in sgemm tiles (the same values, bit for
 * bit, as wn_kernel_compute gives for those entries, without min-max scaling: refused with -wn_kernel_minmax) and
 * assemble the MATMPIAIJ. Collective on layout->comm. */
PETSC_EXTERN PetscErrorCode wn_kernel_sparse_compute(const wn_layout *layout, int64_t d, const float *X_local, int64_t n_cols, const float *Y, const wn_kernel_params *p, int64_t k, const char *columns, wn_sparse_kernel **S);
/* Write S under group (e.g. "/kernel"): group/indptr (N + 1 int64), group/indices (nnz int64), group/values
 * (nnz float32), with attributes format = "csr", k, n_rows, n_cols, metric, gamma, columns, source, d,
 * orientation = "candidate-major" on the group. Collective. */
PETSC_EXTERN PetscErrorCode wn_kernel_sparse_write(MPI_Comm comm, hid_t file, const char *group, const wn_sparse_kernel *S);
/* Read a CSR kernel written by wn_kernel_sparse_write for the rows of layout (N must match). Collective. Errors:
 * missing datasets, indptr not monotone or not ending at nnz, column indices out of range, NaN/Inf. */
PETSC_EXTERN PetscErrorCode wn_kernel_sparse_read(const wn_layout *layout, const char *path, const char *group, wn_sparse_kernel **S);
/* Does group hold a sparse kernel (group/indptr exists)? Collective. */
PETSC_EXTERN PetscErrorCode wn_kernel_is_sparse(MPI_Comm comm, const char *path, const char *group, PetscBool *sparse);
PETSC_EXTERN PetscErrorCode wn_kernel_sparse_destroy(wn_sparse_kernel **S);
