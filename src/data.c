/* data.c - the candidate pool (row blocks) and the target set (replicated), from HDF5 or .npy.
 *
 * Owns: detecting the input format from its first bytes, reading and validating embeddings (shape, type,
 * zero rows, d agreement, NaN/Inf with the first bad global row), the optional id and label columns,
 * replication of rows (targets, the pool for pool-vs-pool kernels), gathering id/label entries of a few
 * global rows, and mapping ids back to rows. Every bad input gives one message from rank 0 naming the
 * file and dataset.
 * Leaves to others: the file formats (h5io.c, npy.c), the row split (layout.c), kernels (kernel.c).
 */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <winnow/data.h>
#include <winnow/util.h>
#include <winnow/h5io.h>
#include <winnow/npy.h>

typedef enum { DATA_FORMAT_HDF5, DATA_FORMAT_NPY } data_format;

#define DATA_REDUCE_CHUNK (1 << 28) /* elements per MPI_Allreduce in wn_column_gather */

static const char *data_dtype_name(int dtype)
{
  switch (dtype) {
  case WN_DTYPE_F32: return "float32";
  case WN_DTYPE_F64: return "float64";
  case WN_DTYPE_I64: return "int64";
  case WN_DTYPE_I32: return "int32";
  default: return "a non-float type";
  }
}

/* Which format is path? Rank 0 looks at the first bytes (the .npy magic, or the HDF5 signature at
 * offset 0, 512, 1024, ... after a user block); every rank gets the answer or the same error. */
static PetscErrorCode data_detect(MPI_Comm comm, const char *path, data_format *format)
{
  PetscMPIInt   rank;
  int           verdict = 0; /* 0 error, 1 HDF5, 2 npy */
  char          msg[1024]   = "";
  const uint8_t h5sig[8]    = {0x89, 'H', 'D', 'F', '\r', '\n', 0x1a, '\n'};

  PetscFunctionBeginUser;
  PetscCallMPI(MPI_Comm_rank(comm, &rank));
  if (rank == 0) {
    int fd = open(path, O_RDONLY);

    if (fd < 0) snprintf(msg, sizeof(msg), "cannot open '%.900s': %s", path, strerror(errno));
    else {
      uint8_t b[8];
      ssize_t r = pread(fd, b, 8, 0);

      if (r >= 6 && !memcmp(b, "\x93NUMPY", 6)) verdict = 2;
      for (off_t off = 0; !verdict; off = off ? 2 * off : 512) {
        r = pread(fd, b, 8, off);
        if (r < 8) break;
        if (!memcmp(b, h5sig, 8)) verdict = 1;
      }
      close(fd);
      if (!verdict) snprintf(msg, sizeof(msg), "'%.900s' is neither an HDF5 file nor a .npy file", path);
    }
  }
  PetscCallMPI(MPI_Bcast(&verdict, 1, MPI_INT, 0, comm));
  WN_CHECK_ALL(comm, verdict != 0, PETSC_ERR_FILE_UNEXPECTED, "%s", msg);
  *format = verdict == 1 ? DATA_FORMAT_HDF5 : DATA_FORMAT_NPY;
  PetscFunctionReturn(PETSC_SUCCESS);
}

/* Validation verdicts (wn_verdict, error.h). Every check below sees the same data on every rank (shapes, types,
 * reduced values), so the verdict is the same everywhere: the caller can release the file (a collective close)
 * and memory before raising the error, collectively, so a bad input leaks nothing. */

/* First non-finite entry over all ranks: the lowest global row (MPI_MIN) and its first bad column.
 * Collective; fails v when there is one. */
static PetscErrorCode data_check_finite(MPI_Comm comm, const char *where, int64_t row_start, int64_t n_rows, int64_t d, const float *rows, wn_verdict *v)
{
  int64_t first = INT64_MAX, first_all, col = -1, col_all;

  PetscFunctionBeginUser;
  for (int64_t i = 0; i < n_rows && first == INT64_MAX; i++)
    for (int64_t j = 0; j < d; j++)
      if (!isfinite(rows[i * d + j])) {
        first = row_start + i;
        col   = j;
        break;
      }
  PetscCallMPI(MPI_Allreduce(&first, &first_all, 1, MPI_INT64_T, MPI_MIN, comm));
  if (first_all == INT64_MAX) PetscFunctionReturn(PETSC_SUCCESS);
  if (first != first_all) col = -1;
  PetscCallMPI(MPI_Allreduce(&col, &col_all, 1, MPI_INT64_T, MPI_MAX, comm));
  wn_verdict_fail(v, PETSC_ERR_FILE_UNEXPECTED, "%s has a NaN or Inf at row %lld, column %lld (0-based); embeddings must be finite", where, (long long)first_all, (long long)col_all);
  PetscFunctionReturn(PETSC_SUCCESS);
}

/* Replicate a row-block array: every rank gets all n_global rows of row_bytes each. Collective. */
static PetscErrorCode data_allgather_rows(MPI_Comm comm, int64_t n_global, size_t row_bytes, const void *local, int64_t n_local, void *all)
{
  PetscMPIInt  size;
  int         *counts, *displs;
  MPI_Datatype row;
  char         dummy = 0;

  PetscFunctionBeginUser;
  PetscCheck(n_global <= INT_MAX, comm, PETSC_ERR_SUP, "cannot replicate %lld rows on every rank (at most 2^31 - 1)", (long long)n_global);
  PetscCheck(row_bytes <= INT_MAX, comm, PETSC_ERR_SUP, "cannot replicate rows of %zu bytes (at most 2^31 - 1)", row_bytes);
  if (n_global == 0 || row_bytes == 0) PetscFunctionReturn(PETSC_SUCCESS);
  PetscCallMPI(MPI_Comm_size(comm, &size));
  PetscCall(PetscMalloc2(size, &counts, size, &displs));
  for (int r = 0; r < size; r++) {
    int64_t start, count;

    wn_layout_range(n_global, size, r, &start, &count);
    counts[r] = (int)count;
    displs[r] = (int)start;
  }
  /* One row is the unit, so counts and displacements stay far below INT_MAX whatever d is. */
  PetscCallMPI(MPI_Type_contiguous((int)row_bytes, MPI_BYTE, &row));
  PetscCallMPI(MPI_Type_commit(&row));
  PetscCallMPI(MPI_Allgatherv(n_local > 0 ? local : (const void *)&dummy, (int)n_local, row, all, counts, displs, row, comm));
  PetscCallMPI(MPI_Type_free(&row));
  PetscCall(PetscFree2(counts, displs));
  PetscFunctionReturn(PETSC_SUCCESS);
}

/* An optional per-row column (ids or labels) of the rows [row_start, +n_rows). "" or an absent dataset
 * gives kind NONE. Collective; a bad column fails v (nothing allocated). */
static PetscErrorCode data_read_column(MPI_Comm comm, hid_t file, const char *fname, const char *dataset, const char *what, const char *emb_dataset, int64_t n_global, int64_t row_start, int64_t n_rows, wn_column *col, wn_verdict *v)
{
  PetscBool  exists;
  wn_h5_info info;

  PetscFunctionBeginUser;
  memset(col, 0, sizeof(*col));
  col->kind = WN_COLUMN_NONE;
  col->n    = n_rows;
  if (!dataset[0]) PetscFunctionReturn(PETSC_SUCCESS);
  PetscCall(wn_h5_exists(comm, file, dataset, &exists));
  if (!exists) PetscFunctionReturn(PETSC_SUCCESS);
  PetscCall(wn_h5_info_get(comm, file, fname, dataset, &info));
  if (!(info.ndim == 1 || (info.ndim == 2 && info.dims[1] == 1))) wn_verdict_fail(v, PETSC_ERR_FILE_UNEXPECTED, "%s dataset %s in '%s' is %d-D; expected a 1-D column of %lld entries", what, dataset, fname, info.ndim, (long long)n_global);
  else if (info.dims[0] != n_global) wn_verdict_fail(v, PETSC_ERR_FILE_UNEXPECTED, "%s dataset %s in '%s' has %lld entries but the embedding %s has %lld rows", what, dataset, fname, (long long)info.dims[0], emb_dataset, (long long)n_global);
  else if (info.dtype == WN_DTYPE_F32 || info.dtype == WN_DTYPE_F64) wn_verdict_fail(v, PETSC_ERR_FILE_UNEXPECTED, "%s dataset %s in '%s' holds %s numbers; expected integers or strings", what, dataset, fname, data_dtype_name(info.dtype));
  if (v->code) PetscFunctionReturn(PETSC_SUCCESS);
  if (info.is_string) {
    col->kind = WN_COLUMN_STRING;
    PetscCall(wn_h5_read_rows_strings(comm, file, dataset, row_start, n_rows, &col->strings, &col->width));
  } else {
    col->kind = WN_COLUMN_INT;
    PetscCall(PetscMalloc1(n_rows > 0 ? n_rows : 1, &col->ints));
    PetscCall(wn_h5_read_rows_int64(comm, file, dataset, row_start, n_rows, col->ints));
  }
  PetscFunctionReturn(PETSC_SUCCESS);
}

/* Read rows of a .npy file on every rank; a failure on some ranks (e.g. a file system that only rank 0
 * sees) is agreed on, so no rank is left waiting. Collective. */
static PetscErrorCode data_npy_rows(MPI_Comm comm, const char *path, const wn_npy_header *h, int64_t row_start, int64_t n_rows, float *out)
{
  PetscErrorCode ierr;
  char           msg[1024] = "";

  PetscFunctionBeginUser;
  PetscCall(PetscPushErrorHandler(PetscReturnErrorHandler, NULL));
  ierr = wn_npy_read_rows_float(path, h, row_start, n_rows, out);
  PetscCall(PetscPopErrorHandler());
  if (ierr) {
    const char *text     = NULL;
    char       *specific = NULL;

    (void)PetscErrorMessage(ierr, &text, &specific);
    snprintf(msg, sizeof(msg), "%s", specific && specific[0] ? specific : "cannot read rows of the .npy file");
  }
  WN_CHECK_ALL(comm, ierr == 0, ierr ? ierr : PETSC_ERR_FILE_READ, "%s", msg);
  PetscFunctionReturn(PETSC_SUCCESS);
}

/* Read one embedding matrix: this rank's rows of a layout built here over its row count, validated.
 * For HDF5 the file stays open (*file) for the caller's columns; for .npy *file = -1. A bad input fails
 * v with *rows freed; the caller closes the file and raises. Collective. */
static PetscErrorCode data_read_embedding(MPI_Comm comm, const wn_input_spec *spec, const char *what, int64_t d_expected, wn_layout *layout, int64_t *d, float **rows, int *file_dtype, hid_t *file, wn_verdict *v)
{
  data_format format = DATA_FORMAT_HDF5;
  char        where[PETSC_MAX_PATH_LEN + 300];
  int64_t     n = 0;

  PetscFunctionBeginUser;
  *file = -1;
  *rows = NULL;
  PetscCall(data_detect(comm, spec->path, &format));
  if (format == DATA_FORMAT_HDF5) {
    wn_h5_info info;
    PetscBool  exists;

    snprintf(where, sizeof(where), "dataset %s in '%s'", spec->dataset, spec->path);
    PetscCheck(spec->dataset[0], comm, PETSC_ERR_ARG_WRONG, "no dataset is named for the %s embedding in the HDF5 file '%s'", what, spec->path);
    PetscCall(wn_h5_open(comm, spec->path, PETSC_FALSE, file));
    PetscCall(wn_h5_exists(comm, *file, spec->dataset, &exists));
    if (!exists) {
      wn_verdict_fail(v, PETSC_ERR_FILE_UNEXPECTED, "dataset %s not found in '%s'", spec->dataset, spec->path);
      PetscFunctionReturn(PETSC_SUCCESS);
    }
    PetscCall(wn_h5_info_get(comm, *file, spec->path, spec->dataset, &info));
    if (info.is_string) wn_verdict_fail(v, PETSC_ERR_FILE_UNEXPECTED, "%s embedding %s holds strings; expected an N x d float32 or float64 matrix", what, where);
    else if (info.ndim != 2) wn_verdict_fail(v, PETSC_ERR_FILE_UNEXPECTED, "%s embedding %s is %d-D; expected N x d (one embedding per row)", what, where, info.ndim);
    else if (info.dtype != WN_DTYPE_F32 && info.dtype != WN_DTYPE_F64) wn_verdict_fail(v, PETSC_ERR_FILE_UNEXPECTED, "%s embedding %s has type %s; expected float32 or float64", what, where, data_dtype_name(info.dtype));
    n           = info.dims[0];
    *d          = info.dims[1];
    *file_dtype = info.dtype;
  } else {
    wn_npy_header h;

    snprintf(where, sizeof(where), "'%s'", spec->path);
    PetscCall(wn_npy_read_header(comm, spec->path, &h));
    if (h.dtype != WN_DTYPE_F32 && h.dtype != WN_DTYPE_F64) wn_verdict_fail(v, PETSC_ERR_FILE_UNEXPECTED, "%s embedding '%s' has dtype '%s'; expected float32 or float64 ('<f4' or '<f8')", what, spec->path, h.descr);
    else if (h.ndim != 2) wn_verdict_fail(v, PETSC_ERR_FILE_UNEXPECTED, "%s embedding '%s' is 1-D (shape (%lld,)); expected N x d (one embedding per row)", what, spec->path, (long long)h.shape[0]);
    n           = h.shape[0];
    *d          = h.shape[1];
    *file_dtype = h.dtype;
    if (!v->code && n > 0 && *d > 0 && (d_expected <= 0 || *d == d_expected) && !spec->metadata_only) {
      PetscCall(wn_layout_init(comm, n, layout));
      PetscCall(PetscMalloc1(layout->n_local * *d > 0 ? layout->n_local * *d : 1, rows));
      PetscCall(data_npy_rows(comm, spec->path, &h, layout->row_start, layout->n_local, *rows));
    }
  }
  if (n == 0) wn_verdict_fail(v, PETSC_ERR_FILE_UNEXPECTED, "%s embedding %s has zero rows", what, where);
  else if (*d == 0) wn_verdict_fail(v, PETSC_ERR_FILE_UNEXPECTED, "%s embedding %s has zero columns (d = 0)", what, where);
  else if (d_expected > 0 && *d != d_expected) wn_verdict_fail(v, PETSC_ERR_ARG_INCOMP, "targets have d = %lld but candidates have d = %lld (%s)", (long long)*d, (long long)d_expected, where);
  if (v->code) PetscFunctionReturn(PETSC_SUCCESS);
  if (spec->metadata_only) { /* shape only: the caller wants ids and labels, not the rows */
    PetscCall(wn_layout_init(comm, n, layout));
    PetscFunctionReturn(PETSC_SUCCESS);
  }
  if (format == DATA_FORMAT_HDF5) {
    PetscCall(wn_layout_init(comm, n, layout));
    PetscCall(PetscMalloc1(layout->n_local * *d > 0 ? layout->n_local * *d : 1, rows));
    PetscCall(wn_h5_read_rows_float(comm, *file, spec->dataset, layout->row_start, layout->n_local, *d, *rows));
  }
  PetscCall(data_check_finite(comm, where, layout->row_start, layout->n_local, *d, *rows, v));
  if (v->code) PetscCall(PetscFree(*rows));
  PetscFunctionReturn(PETSC_SUCCESS);
}

/**
  @brief Read the candidate pool: this rank's rows of the embedding, with ids and labels.

  Collective on comm. The format is detected from the file's first bytes. Each rank reads only its own
  rows (collective hyperslabs for HDF5, pread at byte offsets for .npy). Ids come from spec->ids_dataset
  (kind NONE, i.e. the global row index, when it is "" or absent); labels from spec->labels_dataset (NONE
  when "" or absent). A .npy input has neither. Errors, from rank 0, name the file and dataset: missing
  file or dataset, not 2-D, not float32/float64, zero rows, NaN/Inf (first bad global row), ids or labels
  of the wrong length or type.

  @param[in]  comm  communicator the pool is split over (borrowed; stored in the layout)
  @param[in]  spec  where to read from (copied into the pool)
  @param[out] pool  new pool; free with wn_pool_destroy()
**/
PetscErrorCode wn_pool_read(MPI_Comm comm, const wn_input_spec *spec, wn_pool **pool)
{
  wn_pool      p;
  hid_t        file = -1;
  wn_verdict v    = {0, ""};

  PetscFunctionBeginUser;
  memset(&p, 0, sizeof(p));
  p.source   = *spec;
  p.id.kind  = WN_COLUMN_NONE;
  p.label.kind = WN_COLUMN_NONE;
  PetscCall(data_read_embedding(comm, spec, "candidate", 0, &p.layout, &p.d, &p.embedding, &p.file_dtype, &file, &v));
  p.id.n = p.label.n = p.layout.n_local;
  if (!v.code && file >= 0) PetscCall(data_read_column(comm, file, spec->path, spec->ids_dataset, "ids", spec->dataset, p.layout.n_global, p.layout.row_start, p.layout.n_local, &p.id, &v));
  if (!v.code && file >= 0) PetscCall(data_read_column(comm, file, spec->path, spec->labels_dataset, "labels", spec->dataset, p.layout.n_global, p.layout.row_start, p.layout.n_local, &p.label, &v));
  p.source_row.kind = p.origin.kind = WN_COLUMN_NONE;
  p.source_row.n = p.origin.n = p.layout.n_local;
  if (!v.code && file >= 0) PetscCall(data_read_column(comm, file, spec->path, spec->source_row_dataset, "source rows", spec->dataset, p.layout.n_global, p.layout.row_start, p.layout.n_local, &p.source_row, &v));
  if (!v.code && p.source_row.kind == WN_COLUMN_STRING) wn_verdict_fail(&v, PETSC_ERR_FILE_UNEXPECTED, "source-row dataset %s in '%s' holds strings; expected int64 line numbers", spec->source_row_dataset, spec->path);
  PetscCall(wn_h5_close(&file));
  if (v.code) {
    PetscCall(PetscFree(p.embedding));
    PetscCall(wn_column_destroy(&p.id));
    PetscCall(wn_column_destroy(&p.label));
    PetscCall(wn_column_destroy(&p.source_row));
    SETERRQ(comm, v.code, "%s", v.msg);
  }
  PetscCall(PetscNew(pool));
  **pool = p;
  PetscFunctionReturn(PETSC_SUCCESS);
}

/**
  @brief Read the target set, replicated on every rank (with its labels, if any).

  Collective on comm. The rows are read in blocks (each rank its share) and replicated with
  MPI_Allgatherv. d_expected > 0 enforces the candidates' dimension ("targets have d = 128 but candidates
  have d = 384"). Same errors as wn_pool_read(). spec->ids_dataset is ignored.

  @param[in]  comm        communicator (borrowed)
  @param[in]  spec        where to read from (copied)
  @param[in]  d_expected  required dimension, or <= 0 for any
  @param[out] targets     new target set; free with wn_targets_destroy()
**/
PetscErrorCode wn_targets_read(MPI_Comm comm, const wn_input_spec *spec, int64_t d_expected, wn_targets **targets)
{
  wn_targets   t;
  wn_layout    layout;
  wn_column    local;
  float       *rows = NULL;
  hid_t        file = -1;
  wn_verdict v    = {0, ""};

  PetscFunctionBeginUser;
  memset(&t, 0, sizeof(t));
  memset(&local, 0, sizeof(local));
  t.source = *spec;
  PetscCall(data_read_embedding(comm, spec, "target", d_expected, &layout, &t.d, &rows, &t.file_dtype, &file, &v));
  if (!v.code && file >= 0) PetscCall(data_read_column(comm, file, spec->path, spec->labels_dataset, "labels", spec->dataset, layout.n_global, layout.row_start, layout.n_local, &local, &v));
  PetscCall(wn_h5_close(&file));
  if (v.code) {
    PetscCall(PetscFree(rows));
    SETERRQ(comm, v.code, "%s", v.msg);
  }
  t.m = layout.n_global;
  PetscCall(PetscMalloc1(t.m * t.d, &t.embedding));
  PetscCall(data_allgather_rows(comm, t.m, (size_t)t.d * sizeof(float), rows, layout.n_local, t.embedding));
  PetscCall(PetscFree(rows));
  t.label.kind  = local.kind;
  t.label.width = local.width;
  t.label.n     = t.m;
  if (local.kind == WN_COLUMN_INT) {
    PetscCall(PetscMalloc1(t.m, &t.label.ints));
    PetscCall(data_allgather_rows(comm, t.m, sizeof(int64_t), local.ints, layout.n_local, t.label.ints));
  } else if (local.kind == WN_COLUMN_STRING) {
    PetscCall(PetscMalloc1((size_t)t.m * local.width, &t.label.strings));
    PetscCall(data_allgather_rows(comm, t.m, local.width, local.strings, layout.n_local, t.label.strings));
  }
  PetscCall(wn_column_destroy(&local));
  PetscCall(PetscNew(targets));
  **targets = t;
  PetscFunctionReturn(PETSC_SUCCESS);
}

/**
  @brief Build a pool from caller data (tests, benchmarks, synthetic runs).

  Not collective except that every rank must call it (the layout is computed from rank and size).
  No ids (global row index) and no labels.

  @param[in]  comm        communicator (borrowed)
  @param[in]  n_global    rows in total
  @param[in]  d           dimension
  @param[in]  local_rows  this rank's layout rows, n_local x d (copied)
  @param[out] pool        new pool; free with wn_pool_destroy()
**/
PetscErrorCode wn_pool_create_from_rows(MPI_Comm comm, int64_t n_global, int64_t d, const float *local_rows, wn_pool **pool)
{
  wn_pool *p;

  PetscFunctionBeginUser;
  PetscCheck(d > 0, PETSC_COMM_SELF, PETSC_ERR_ARG_OUTOFRANGE, "embedding dimension must be > 0, got %lld", (long long)d);
  PetscCall(PetscNew(&p));
  PetscCall(wn_layout_init(comm, n_global, &p->layout));
  p->d = d;
  PetscCall(PetscMalloc1(p->layout.n_local * d > 0 ? p->layout.n_local * d : 1, &p->embedding));
  if (p->layout.n_local > 0) PetscCall(PetscArraycpy(p->embedding, local_rows, p->layout.n_local * d));
  p->id.kind = p->label.kind = p->source_row.kind = p->origin.kind = WN_COLUMN_NONE;
  p->id.n = p->label.n = p->source_row.n = p->origin.n = p->layout.n_local;
  p->file_dtype        = WN_DTYPE_F32;
  *pool                = p;
  PetscFunctionReturn(PETSC_SUCCESS);
}

/**
  @brief Build a target set from caller data (copied). Not collective. No labels.

  @param[in]  m        number of targets
  @param[in]  d        dimension
  @param[in]  rows     m x d floats, row-major (copied)
  @param[out] targets  new target set; free with wn_targets_destroy()
**/
PetscErrorCode wn_targets_create_from_rows(int64_t m, int64_t d, const float *rows, wn_targets **targets)
{
  wn_targets *t;

  PetscFunctionBeginUser;
  PetscCheck(m >= 0 && d > 0, PETSC_COMM_SELF, PETSC_ERR_ARG_OUTOFRANGE, "cannot make %lld targets of dimension %lld", (long long)m, (long long)d);
  PetscCall(PetscNew(&t));
  t->m = m;
  t->d = d;
  PetscCall(PetscMalloc1(m * d > 0 ? m * d : 1, &t->embedding));
  if (m > 0) PetscCall(PetscArraycpy(t->embedding, rows, m * d));
  t->label.kind = WN_COLUMN_NONE;
  t->label.n    = m;
  t->file_dtype = WN_DTYPE_F32;
  *targets      = t;
  PetscFunctionReturn(PETSC_SUCCESS);
}

/** @brief Free a pool and set *pool = NULL; accepts NULL. Not collective. **/
PetscErrorCode wn_pool_destroy(wn_pool **pool)
{
  PetscFunctionBeginUser;
  if (!pool || !*pool) PetscFunctionReturn(PETSC_SUCCESS);
  PetscCall(PetscFree((*pool)->embedding));
  PetscCall(wn_column_destroy(&(*pool)->id));
  PetscCall(wn_column_destroy(&(*pool)->label));
  PetscCall(wn_column_destroy(&(*pool)->source_row));
  PetscCall(wn_column_destroy(&(*pool)->origin));
  PetscCall(PetscFree(*pool));
  PetscFunctionReturn(PETSC_SUCCESS);
}

/** @brief Free a target set and set *targets = NULL; accepts NULL. Not collective. **/
PetscErrorCode wn_targets_destroy(wn_targets **targets)
{
  PetscFunctionBeginUser;
  if (!targets || !*targets) PetscFunctionReturn(PETSC_SUCCESS);
  PetscCall(PetscFree((*targets)->embedding));
  PetscCall(wn_column_destroy(&(*targets)->label));
  PetscCall(PetscFree(*targets));
  PetscFunctionReturn(PETSC_SUCCESS);
}

/**
  @brief All N x d candidate embeddings on every rank (for kernels of the pool against itself).

  Collective on the pool's communicator (MPI_Allgatherv with one row as the datatype, so element counts
  above INT_MAX are fine; N itself must fit in an int).

  @param[in]  pool  the pool (borrowed)
  @param[out] all   N x d floats, row-major, owned by the caller (PetscFree)
**/
PetscErrorCode wn_pool_allgather_embedding(const wn_pool *pool, float **all)
{
  PetscFunctionBeginUser;
  PetscCall(PetscMalloc1(pool->layout.n_global * pool->d > 0 ? pool->layout.n_global * pool->d : 1, all));
  PetscCall(data_allgather_rows(pool->layout.comm, pool->layout.n_global, (size_t)pool->d * sizeof(float), pool->embedding, pool->layout.n_local, *all));
  PetscFunctionReturn(PETSC_SUCCESS);
}

/**
  @brief Entries of a distributed column for a list of global rows, replicated on every rank.

  Collective on layout->comm. Each rank fills the entries of the rows it owns, and an MPI_Allreduce with
  MPI_MAX combines them (the other ranks contribute INT64_MIN or zero bytes). out has the same kind and
  width as the column; kind NONE gives kind NONE.

  @param[in]  layout       the pool's layout (borrowed)
  @param[in]  local        this rank's column (borrowed)
  @param[in]  n_rows       number of rows requested (same on every rank)
  @param[in]  global_rows  the rows, each in [0, N) (same on every rank; repeats allowed)
  @param[out] out          n_rows entries; free with wn_column_destroy()
**/
PetscErrorCode wn_column_gather(const wn_layout *layout, const wn_column *local, int64_t n_rows, const int64_t *global_rows, wn_column *out)
{
  MPI_Comm comm = layout->comm;
  int64_t  bad  = -1;

  PetscFunctionBeginUser;
  memset(out, 0, sizeof(*out));
  out->kind  = local->kind;
  out->n     = n_rows;
  out->width = local->width;
  for (int64_t i = 0; i < n_rows && bad < 0; i++)
    if (global_rows[i] < 0 || global_rows[i] >= layout->n_global) bad = i;
  PetscCheck(bad < 0, comm, PETSC_ERR_ARG_OUTOFRANGE, "row %lld is outside the pool of %lld rows", (long long)(bad >= 0 ? global_rows[bad] : 0), (long long)layout->n_global);
  if (local->kind == WN_COLUMN_INT) {
    int64_t *mine;

    PetscCall(PetscMalloc1(n_rows > 0 ? n_rows : 1, &mine));
    PetscCall(PetscMalloc1(n_rows > 0 ? n_rows : 1, &out->ints));
    for (int64_t i = 0; i < n_rows; i++) {
      int64_t g = global_rows[i] - layout->row_start;
      mine[i]   = (g >= 0 && g < layout->n_local) ? local->ints[g] : INT64_MIN;
    }
    for (int64_t off = 0; off < n_rows; off += DATA_REDUCE_CHUNK) {
      int64_t cnt = n_rows - off < DATA_REDUCE_CHUNK ? n_rows - off : DATA_REDUCE_CHUNK;
      PetscCallMPI(MPI_Allreduce(mine + off, out->ints + off, (int)cnt, MPI_INT64_T, MPI_MAX, comm));
    }
    PetscCall(PetscFree(mine));
  } else if (local->kind == WN_COLUMN_STRING) {
    size_t         w     = local->width;
    size_t         total = (size_t)n_rows * w;
    unsigned char *mine;

    PetscCall(PetscCalloc1(total > 0 ? total : 1, &mine));
    PetscCall(PetscMalloc1(total > 0 ? total : 1, &out->strings));
    for (int64_t i = 0; i < n_rows; i++) {
      int64_t g = global_rows[i] - layout->row_start;
      if (g >= 0 && g < layout->n_local) memcpy(mine + (size_t)i * w, local->strings + (size_t)g * w, w);
    }
    for (size_t off = 0; off < total; off += DATA_REDUCE_CHUNK) {
      size_t cnt = total - off < DATA_REDUCE_CHUNK ? total - off : DATA_REDUCE_CHUNK;
      PetscCallMPI(MPI_Allreduce(mine + off, (unsigned char *)out->strings + off, (int)cnt, MPI_UNSIGNED_CHAR, MPI_MAX, comm));
    }
    PetscCall(PetscFree(mine));
  }
  PetscFunctionReturn(PETSC_SUCCESS);
}

/**
  @brief Entry i of a column as text: "%lld" for ints, the string itself, or the fallback (the global row
  index) for kind NONE.

  Not collective; pure.

  @param[in]  c         the column (borrowed)
  @param[in]  i         entry, 0 <= i < c->n
  @param[in]  fallback  value printed for kind NONE
  @param[out] buf       len bytes
  @param[in]  len       size of buf
  @return buf
**/
const char *wn_column_text(const wn_column *c, int64_t i, int64_t fallback, char *buf, size_t len)
{
  if (!len) return buf;
  if (c->kind == WN_COLUMN_INT) snprintf(buf, len, "%lld", (long long)c->ints[i]);
  else if (c->kind == WN_COLUMN_STRING) snprintf(buf, len, "%.*s", (int)c->width, c->strings + (size_t)i * c->width);
  else snprintf(buf, len, "%lld", (long long)fallback);
  return buf;
}

/** @brief Free a column's arrays and reset it to kind NONE with n = 0. Not collective. **/
PetscErrorCode wn_column_destroy(wn_column *c)
{
  PetscFunctionBeginUser;
  if (!c) PetscFunctionReturn(PETSC_SUCCESS);
  PetscCall(PetscFree(c->ints));
  PetscCall(PetscFree(c->strings));
  c->kind  = WN_COLUMN_NONE;
  c->n     = 0;
  c->width = 0;
  PetscFunctionReturn(PETSC_SUCCESS);
}

/* Parse a whole string as a decimal int64 (surrounding spaces allowed). */
static int data_parse_int64(const char *text, int64_t *v)
{
  char     *end;
  long long x;

  errno = 0;
  x     = strtoll(text, &end, 10);
  if (end == text || errno) return 0;
  while (*end == ' ' || *end == '\t') end++;
  if (*end) return 0;
  *v = (int64_t)x;
  return 1;
}

typedef struct {
  int64_t id;
  int64_t row;
} data_int_entry;

typedef struct {
  const char *s;
  int64_t     row;
} data_str_entry;

static int data_cmp_int(const void *a, const void *b)
{
  const data_int_entry *x = (const data_int_entry *)a, *y = (const data_int_entry *)b;

  if (x->id != y->id) return x->id < y->id ? -1 : 1;
  return x->row < y->row ? -1 : x->row > y->row;
}

static int data_cmp_str(const void *a, const void *b)
{
  const data_str_entry *x = (const data_str_entry *)a, *y = (const data_str_entry *)b;
  int                   c = strcmp(x->s, y->s);

  if (c) return c;
  return x->row < y->row ? -1 : x->row > y->row;
}

/**
  @brief Map ids given as text to global rows (warm starts, user-given selections).

  Collective on the pool's communicator. Each rank sorts its own (id, row) pairs and binary-searches
  every query; counts are summed and the first matching row is taken with MPI_MIN. Ints compare
  numerically, strings exactly; for kind NONE the text is the global row index. Errors, from rank 0, name
  the first id that matches no row or more than one.

  @param[in]  pool   the pool (borrowed)
  @param[in]  n_ids  number of ids (same on every rank)
  @param[in]  ids    the ids as text (same on every rank)
  @param[out] rows   n_ids global rows, same on every rank
**/
PetscErrorCode wn_pool_find_ids(const wn_pool *pool, int64_t n_ids, const char *const *ids, int64_t *rows)
{
  const wn_layout *L    = &pool->layout;
  MPI_Comm         comm = L->comm;
  int64_t         *count, *count_all, *first;

  PetscFunctionBeginUser;
  PetscCheck(n_ids >= 0 && n_ids <= INT_MAX, comm, PETSC_ERR_ARG_OUTOFRANGE, "cannot look up %lld ids at once", (long long)n_ids);
  if (n_ids == 0) PetscFunctionReturn(PETSC_SUCCESS);
  PetscCall(PetscCalloc3(n_ids, &count, n_ids, &count_all, n_ids, &first));
  for (int64_t q = 0; q < n_ids; q++) first[q] = INT64_MAX;
  /* without ids, an id is the row in the file: after wn_pool_subsample that is the origin column */
  const int64_t *int_ids = pool->id.kind == WN_COLUMN_INT ? pool->id.ints : (pool->id.kind == WN_COLUMN_NONE && pool->origin.kind == WN_COLUMN_INT ? pool->origin.ints : NULL);
  if (pool->id.kind == WN_COLUMN_NONE && !int_ids) {
    for (int64_t q = 0; q < n_ids; q++) {
      int64_t g;

      if (data_parse_int64(ids[q], &g) && g >= L->row_start && g < L->row_start + L->n_local) {
        count[q] = 1;
        first[q] = g;
      }
    }
  } else if (int_ids) {
    data_int_entry *e;

    PetscCall(PetscMalloc1(L->n_local > 0 ? L->n_local : 1, &e));
    for (int64_t i = 0; i < L->n_local; i++) {
      e[i].id  = int_ids[i];
      e[i].row = L->row_start + i;
    }
    qsort(e, (size_t)L->n_local, sizeof(*e), data_cmp_int);
    for (int64_t q = 0; q < n_ids; q++) {
      int64_t v, lo = 0, hi = L->n_local;

      if (!data_parse_int64(ids[q], &v)) continue;
      while (lo < hi) { /* first entry with id >= v */
        int64_t mid = lo + (hi - lo) / 2;
        if (e[mid].id < v) lo = mid + 1;
        else hi = mid;
      }
      if (lo < L->n_local && e[lo].id == v) first[q] = e[lo].row;
      while (lo < L->n_local && e[lo].id == v) {
        count[q]++;
        lo++;
      }
    }
    PetscCall(PetscFree(e));
  } else {
    data_str_entry *e;
    size_t          w = pool->id.width;

    PetscCall(PetscMalloc1(L->n_local > 0 ? L->n_local : 1, &e));
    for (int64_t i = 0; i < L->n_local; i++) {
      e[i].s   = pool->id.strings + (size_t)i * w;
      e[i].row = L->row_start + i;
    }
    qsort(e, (size_t)L->n_local, sizeof(*e), data_cmp_str);
    for (int64_t q = 0; q < n_ids; q++) {
      int64_t lo = 0, hi = L->n_local;

      if (strlen(ids[q]) >= w) continue; /* longer than every id in the pool */
      while (lo < hi) {
        int64_t mid = lo + (hi - lo) / 2;
        if (strcmp(e[mid].s, ids[q]) < 0) lo = mid + 1;
        else hi = mid;
      }
      if (lo < L->n_local && !strcmp(e[lo].s, ids[q])) first[q] = e[lo].row;
      while (lo < L->n_local && !strcmp(e[lo].s, ids[q])) {
        count[q]++;
        lo++;
      }
    }
    PetscCall(PetscFree(e));
  }
  PetscCallMPI(MPI_Allreduce(count, count_all, (int)n_ids, MPI_INT64_T, MPI_SUM, comm));
  PetscCallMPI(MPI_Allreduce(first, rows, (int)n_ids, MPI_INT64_T, MPI_MIN, comm));
  for (int64_t q = 0; q < n_ids; q++)
    if (count_all[q] != 1) {
      const char *src   = pool->source.path[0] ? pool->source.path : "the pool";
      int64_t     n_match = count_all[q];

      PetscCall(PetscFree3(count, count_all, first));
      PetscCheck(n_match > 0, comm, PETSC_ERR_ARG_WRONG, "id '%s' matches no row of %s (%s)", ids[q], src, pool->id.kind == WN_COLUMN_NONE ? "ids are global row indices 0..N-1" : pool->id.kind == WN_COLUMN_INT ? "ids are integers" : "ids are strings");
      SETERRQ(comm, PETSC_ERR_ARG_WRONG, "id '%s' matches %lld rows of %s (first: row %lld); ids must be unique", ids[q], (long long)n_match, src, (long long)rows[q]);
    }
  PetscCall(PetscFree3(count, count_all, first));
  PetscFunctionReturn(PETSC_SUCCESS);
}

/* ---- subsampling ---------------------------------------------------------------------------------- */

/* Move the kept rows (in global order: rank r's kept rows precede rank r+1's) of a per-row array of
 * row_bytes bytes to their owners under the balanced layout of n_new rows. Collective. */
static PetscErrorCode data_redistribute(MPI_Comm comm, int64_t kept_start, int64_t n_kept, size_t row_bytes, const char *send, const wn_layout *to, char *recv)
{
  PetscMPIInt  size, *scount, *sdispl, *rcount, *rdispl;
  MPI_Datatype row;
  int64_t      g = kept_start;

  PetscFunctionBeginUser;
  if (row_bytes == 0) PetscFunctionReturn(PETSC_SUCCESS);
  PetscCallMPI(MPI_Comm_size(comm, &size));
  PetscCall(PetscCalloc4(size, &scount, size, &sdispl, size, &rcount, size, &rdispl));
  for (int64_t i = 0; i < n_kept; i++, g++) scount[wn_layout_owner(to->n_global, size, g)]++;
  for (int r = 1; r < size; r++) sdispl[r] = sdispl[r - 1] + scount[r - 1];
  PetscCallMPI(MPI_Alltoall(scount, 1, MPI_INT, rcount, 1, MPI_INT, comm));
  for (int r = 1; r < size; r++) rdispl[r] = rdispl[r - 1] + rcount[r - 1];
  PetscCallMPI(MPI_Type_contiguous((int)row_bytes, MPI_BYTE, &row));
  PetscCallMPI(MPI_Type_commit(&row));
  PetscCallMPI(MPI_Alltoallv(send, scount, sdispl, row, recv, rcount, rdispl, row, comm));
  PetscCallMPI(MPI_Type_free(&row));
  PetscCall(PetscFree4(scount, sdispl, rcount, rdispl));
  PetscFunctionReturn(PETSC_SUCCESS);
}

/* Compact a column to the kept local rows and move them (kind and width kept). Collective. */
static PetscErrorCode data_subsample_column(MPI_Comm comm, const wn_column *in, const unsigned char *keep, int64_t kept_start, int64_t n_kept, const wn_layout *to, wn_column *out)
{
  size_t w;
  char  *send, *src;

  PetscFunctionBeginUser;
  memset(out, 0, sizeof(*out));
  out->kind  = in->kind;
  out->n     = to->n_local;
  out->width = in->width;
  if (in->kind == WN_COLUMN_NONE) PetscFunctionReturn(PETSC_SUCCESS);
  w   = in->kind == WN_COLUMN_INT ? sizeof(int64_t) : in->width;
  src = in->kind == WN_COLUMN_INT ? (char *)in->ints : in->strings;
  PetscCall(PetscMalloc1((size_t)(n_kept > 0 ? n_kept : 1) * w, &send));
  for (int64_t i = 0, k = 0; i < in->n; i++)
    if (keep[i]) memcpy(send + (size_t)(k++) * w, src + (size_t)i * w, w);
  if (in->kind == WN_COLUMN_INT) {
    PetscCall(PetscMalloc1(to->n_local > 0 ? to->n_local : 1, &out->ints));
    PetscCall(data_redistribute(comm, kept_start, n_kept, w, send, to, (char *)out->ints));
  } else {
    PetscCall(PetscMalloc1((size_t)(to->n_local > 0 ? to->n_local : 1) * w, &out->strings));
    PetscCall(data_redistribute(comm, kept_start, n_kept, w, send, to, out->strings));
  }
  PetscCall(PetscFree(send));
  PetscFunctionReturn(PETSC_SUCCESS);
}

/**
  @brief A seeded subsample of S rows of the pool, the same for any rank count, rebalanced over the ranks.

  Collective on the pool's communicator. Row g (its row in the file: the pool's origin, or g) has the key
  wn_splitmix64(seed ^ wn_splitmix64(g)); the S smallest keys (ties to the lower row) are kept. The threshold
  is found by bisection on the 64-bit key with one MPI_Allreduce per step (no rank ever holds all N keys);
  the kept rows stay in file order and are moved to the balanced layout of S rows with MPI_Alltoallv.

  @param[in]  pool  the full pool (borrowed)
  @param[in]  S     rows to keep, 1 <= S <= N
  @param[in]  seed  sample seed
  @param[out] sub   the subsample (owned by the caller; wn_pool_destroy); its origin column maps each row to
                    its row in the file
**/
PetscErrorCode wn_pool_subsample(const wn_pool *pool, int64_t S, uint64_t seed, wn_pool **sub)
{
  MPI_Comm       comm = pool->layout.comm;
  int64_t        nl = pool->layout.n_local, N = pool->layout.n_global, n_kept = 0, kept_start = 0, below, at, need, at_start = 0;
  uint64_t      *key, lo = 0, hi = UINT64_MAX;
  unsigned char *keep;
  wn_pool       *p;
  float         *send;
  int64_t       *rows;

  PetscFunctionBeginUser;
  PetscCheck(S >= 1 && S <= N, comm, PETSC_ERR_ARG_OUTOFRANGE, "-wn_subsample %lld must be between 1 and the pool size %lld", (long long)S, (long long)N);
  PetscCall(PetscMalloc3(nl + 1, &key, nl + 1, &keep, nl + 1, &rows));
  for (int64_t i = 0; i < nl; i++) {
    rows[i] = pool->origin.kind == WN_COLUMN_INT ? pool->origin.ints[i] : pool->layout.row_start + i;
    key[i]  = wn_splitmix64(seed ^ wn_splitmix64((uint64_t)rows[i]));
  }
  /* smallest threshold t with #(key <= t) >= S */
  while (lo < hi) {
    uint64_t mid = lo + (hi - lo) / 2;
    int64_t  c = 0, call;
    for (int64_t i = 0; i < nl; i++) c += key[i] <= mid;
    PetscCallMPI(MPI_Allreduce(&c, &call, 1, MPI_INT64_T, MPI_SUM, comm));
    if (call >= S) hi = mid;
    else lo = mid + 1;
  }
  /* keep every key < t, and of the keys == t the lowest rows (in global order) until S */
  below = at = 0;
  for (int64_t i = 0; i < nl; i++) {
    below += key[i] < lo;
    at += key[i] == lo;
  }
  {
    int64_t below_all;
    PetscCallMPI(MPI_Allreduce(&below, &below_all, 1, MPI_INT64_T, MPI_SUM, comm));
    need = S - below_all;
  }
  PetscCallMPI(MPI_Exscan(&at, &at_start, 1, MPI_INT64_T, MPI_SUM, comm));
  if (pool->layout.rank == 0) at_start = 0;
  for (int64_t i = 0, seen = at_start; i < nl; i++) {
    keep[i] = key[i] < lo || (key[i] == lo && seen++ < need);
    n_kept += keep[i];
  }
  PetscCallMPI(MPI_Exscan(&n_kept, &kept_start, 1, MPI_INT64_T, MPI_SUM, comm));
  if (pool->layout.rank == 0) kept_start = 0;

  PetscCall(PetscNew(&p));
  PetscCall(wn_layout_init(comm, S, &p->layout));
  p->d          = pool->d;
  p->source     = pool->source;
  p->file_dtype = pool->file_dtype;
  if (pool->embedding) {
    PetscCall(PetscMalloc1((size_t)(n_kept > 0 ? n_kept : 1) * (size_t)pool->d, &send));
    for (int64_t i = 0, k = 0; i < nl; i++)
      if (keep[i]) PetscCall(PetscArraycpy(send + (size_t)(k++) * (size_t)pool->d, pool->embedding + (size_t)i * (size_t)pool->d, pool->d));
    PetscCall(PetscMalloc1((size_t)(p->layout.n_local > 0 ? p->layout.n_local : 1) * (size_t)pool->d, &p->embedding));
    PetscCall(data_redistribute(comm, kept_start, n_kept, (size_t)pool->d * sizeof(float), (const char *)send, &p->layout, (char *)p->embedding));
    PetscCall(PetscFree(send));
  }
  PetscCall(data_subsample_column(comm, &pool->id, keep, kept_start, n_kept, &p->layout, &p->id));
  PetscCall(data_subsample_column(comm, &pool->label, keep, kept_start, n_kept, &p->layout, &p->label));
  PetscCall(data_subsample_column(comm, &pool->source_row, keep, kept_start, n_kept, &p->layout, &p->source_row));
  {
    wn_column origin = {WN_COLUMN_INT, nl, rows, NULL, 0};
    PetscCall(data_subsample_column(comm, &origin, keep, kept_start, n_kept, &p->layout, &p->origin));
  }
  PetscCall(PetscFree3(key, keep, rows));
  *sub = p;
  PetscFunctionReturn(PETSC_SUCCESS);
}
