/* kernel_io.c - writing and reading a dense kernel K[c, t] as one HDF5 dataset (DESIGN.md sections 3 and 6).
 *
 * Owns: wn_kernel_write (the dataset, chunked along candidate rows, and its provenance attributes) and
 * wn_kernel_read (checks, the "orientation" attribute, and the transposition of target-major utility
 * matrices U[t, c] to the candidate-major K[c, t], METHODS.md section 5).
 * Leaves to others: computing, scaling and destroying kernels (kernel.c), the HDF5 mechanics (h5io.c).
 * Metric names are mapped by a private table here, so this file needs nothing from kernel.c.
 */
#include <math.h>
#include <stdio.h>
#include <string.h>
#include <winnow/h5io.h>
#include <winnow/kernel.h>

#define KERNEL_CANDIDATE_MAJOR "candidate-major"
#define KERNEL_TARGET_MAJOR    "target-major"

static const struct {
  wn_metric   metric;
  const char *name;
} kernel_io_metrics[] = {
  {WN_METRIC_COSINE,   "cosine"  },
  {WN_METRIC_DOT,      "dot"     },
  {WN_METRIC_RBF,      "rbf"     },
  {WN_METRIC_ADDITIVE, "additive"},
};

static const char *kernel_io_metric_name(wn_metric m)
{
  for (size_t i = 0; i < sizeof(kernel_io_metrics) / sizeof(kernel_io_metrics[0]); i++)
    if (kernel_io_metrics[i].metric == m) return kernel_io_metrics[i].name;
  return "unknown";
}

/* Metric from its name; unknown names (user matrices may say anything) give WN_METRIC_DOT. */
static wn_metric kernel_io_metric_from_name(const char *name)
{
  for (size_t i = 0; i < sizeof(kernel_io_metrics) / sizeof(kernel_io_metrics[0]); i++)
    if (!strcmp(kernel_io_metrics[i].name, name)) return kernel_io_metrics[i].metric;
  return WN_METRIC_DOT;
}

/**
  @brief Write K into a dataset of an open file, chunked along candidate rows, with its attributes.

  Collective on comm. Attributes on the dataset: metric, gamma, scaling ("none" or "minmax"), scale_min,
  scale_max, columns, source, d, orientation = "candidate-major", n_rows, n_cols. An existing dataset of
  that name is replaced; intermediate groups are created.

  @param[in] comm     communicator of the file and of K's layout (borrowed)
  @param[in] file     open file (wn_h5_create / wn_h5_open for writing)
  @param[in] dataset  dataset path, e.g. "/kernel/values"
  @param[in] K        the kernel (borrowed)
**/
PetscErrorCode wn_kernel_write(MPI_Comm comm, hid_t file, const char *dataset, const wn_kernel *K)
{
  PetscFunctionBeginUser;
  PetscCheck(K->n_cols > 0, comm, PETSC_ERR_ARG_OUTOFRANGE, "cannot write kernel %s: it has no columns", dataset);
  PetscCall(wn_h5_write_rows_float(comm, file, dataset, K->layout.n_global, K->n_cols, K->layout.row_start, K->layout.n_local, K->values, 0));
  PetscCall(wn_h5_attr_write_string(comm, file, dataset, "metric", kernel_io_metric_name(K->params.metric)));
  PetscCall(wn_h5_attr_write_double(comm, file, dataset, "gamma", K->params.gamma));
  PetscCall(wn_h5_attr_write_string(comm, file, dataset, "scaling", K->params.minmax ? "minmax" : "none"));
  PetscCall(wn_h5_attr_write_double(comm, file, dataset, "scale_min", K->scale_min));
  PetscCall(wn_h5_attr_write_double(comm, file, dataset, "scale_max", K->scale_max));
  PetscCall(wn_h5_attr_write_string(comm, file, dataset, "columns", K->columns));
  PetscCall(wn_h5_attr_write_string(comm, file, dataset, "source", K->source));
  PetscCall(wn_h5_attr_write_int64(comm, file, dataset, "d", K->d));
  PetscCall(wn_h5_attr_write_string(comm, file, dataset, "orientation", KERNEL_CANDIDATE_MAJOR));
  PetscCall(wn_h5_attr_write_int64(comm, file, dataset, "n_rows", K->layout.n_global));
  PetscCall(wn_h5_attr_write_int64(comm, file, dataset, "n_cols", K->n_cols));
  PetscFunctionReturn(PETSC_SUCCESS);
}

/* Everything of wn_kernel_read that happens while the file is open. Every check sees the same data on
 * every rank, so a bad kernel sets *code and msg (values freed) and the caller closes the file before
 * raising the error collectively. */
static PetscErrorCode kernel_io_read_open(const wn_layout *layout, hid_t file, const char *path, const char *dataset, const char *orientation_default, wn_kernel *K, PetscErrorCode *code, char *msg, size_t msglen)
{
  MPI_Comm    comm = layout->comm;
  wn_h5_info  info;
  char        orientation[64], text[PETSC_MAX_PATH_LEN];
  PetscBool   found, exists, target_major;
  double      v;
  int64_t     first = INT64_MAX, first_all, n_candidates;
  const char *def = orientation_default && orientation_default[0] ? orientation_default : KERNEL_CANDIDATE_MAJOR;

  PetscFunctionBeginUser;
  *code = 0;
  PetscCall(wn_h5_exists(comm, file, dataset, &exists));
  if (!exists) {
    *code = PETSC_ERR_FILE_UNEXPECTED;
    snprintf(msg, msglen, "kernel dataset %s not found in '%s'", dataset, path);
    PetscFunctionReturn(PETSC_SUCCESS);
  }
  PetscCall(wn_h5_info_get(comm, file, path, dataset, &info));
  *code = PETSC_ERR_FILE_UNEXPECTED;
  if (info.is_string) snprintf(msg, msglen, "kernel dataset %s in '%s' holds strings; expected a float32 or float64 matrix", dataset, path);
  else if (info.ndim != 2) snprintf(msg, msglen, "kernel dataset %s in '%s' is %d-D; expected a 2-D matrix", dataset, path, info.ndim);
  else if (info.dtype != WN_DTYPE_F32 && info.dtype != WN_DTYPE_F64) snprintf(msg, msglen, "kernel dataset %s in '%s' is not float32 or float64", dataset, path);
  else *code = 0;
  if (*code) PetscFunctionReturn(PETSC_SUCCESS);

  PetscCall(wn_h5_attr_read_string(comm, file, dataset, "orientation", orientation, sizeof(orientation), &found));
  if (found && strcmp(orientation, KERNEL_CANDIDATE_MAJOR) && strcmp(orientation, KERNEL_TARGET_MAJOR)) {
    *code = PETSC_ERR_FILE_UNEXPECTED;
    snprintf(msg, msglen, "kernel dataset %s in '%s' has orientation '%s'; expected '" KERNEL_CANDIDATE_MAJOR "' or '" KERNEL_TARGET_MAJOR "'", dataset, path, orientation);
    PetscFunctionReturn(PETSC_SUCCESS);
  }
  if (!found) {
    if (strcmp(def, KERNEL_CANDIDATE_MAJOR) && strcmp(def, KERNEL_TARGET_MAJOR)) {
      *code = PETSC_ERR_ARG_WRONG;
      snprintf(msg, msglen, "kernel orientation '%s' is not '" KERNEL_CANDIDATE_MAJOR "' or '" KERNEL_TARGET_MAJOR "'", def);
      PetscFunctionReturn(PETSC_SUCCESS);
    }
    PetscCall(PetscStrncpy(orientation, def, sizeof(orientation)));
  }
  target_major = strcmp(orientation, KERNEL_TARGET_MAJOR) ? PETSC_FALSE : PETSC_TRUE;
  n_candidates = target_major ? info.dims[1] : info.dims[0];
  K->n_cols    = target_major ? info.dims[0] : info.dims[1];
  if (n_candidates != layout->n_global) {
    *code = PETSC_ERR_ARG_SIZ;
    snprintf(msg, msglen, "kernel dataset %s in '%s' (%s, %lld x %lld) has %lld candidates but the pool has %lld", dataset, path, orientation, (long long)info.dims[0], (long long)info.dims[1], (long long)n_candidates, (long long)layout->n_global);
    PetscFunctionReturn(PETSC_SUCCESS);
  }
  if (K->n_cols == 0) {
    *code = PETSC_ERR_FILE_UNEXPECTED;
    snprintf(msg, msglen, "kernel dataset %s in '%s' has no target columns", dataset, path);
    PetscFunctionReturn(PETSC_SUCCESS);
  }

  PetscCall(PetscMalloc1(layout->n_local * K->n_cols > 0 ? layout->n_local * K->n_cols : 1, &K->values));
  if (target_major) PetscCall(wn_h5_read_cols_transposed_float(comm, file, dataset, K->n_cols, layout->row_start, layout->n_local, K->values));
  else PetscCall(wn_h5_read_rows_float(comm, file, dataset, layout->row_start, layout->n_local, K->n_cols, K->values));
  for (int64_t i = 0; i < layout->n_local && first == INT64_MAX; i++)
    for (int64_t j = 0; j < K->n_cols; j++)
      if (!isfinite(K->values[i * K->n_cols + j])) {
        first = layout->row_start + i;
        break;
      }
  PetscCallMPI(MPI_Allreduce(&first, &first_all, 1, MPI_INT64_T, MPI_MIN, comm));
  if (first_all != INT64_MAX) {
    PetscCall(PetscFree(K->values));
    *code = PETSC_ERR_FILE_UNEXPECTED;
    snprintf(msg, msglen, "kernel dataset %s in '%s' has a NaN or Inf for candidate %lld (0-based)", dataset, path, (long long)first_all);
    PetscFunctionReturn(PETSC_SUCCESS);
  }

  /* Provenance, where the file records it. */
  K->params.metric = WN_METRIC_DOT;
  PetscCall(wn_h5_attr_read_string(comm, file, dataset, "metric", text, sizeof(text), &found));
  if (found) K->params.metric = kernel_io_metric_from_name(text);
  PetscCall(wn_h5_attr_read_double(comm, file, dataset, "gamma", &K->params.gamma, &found));
  PetscCall(wn_h5_attr_read_string(comm, file, dataset, "scaling", text, sizeof(text), &found));
  K->params.minmax = (found && !strcmp(text, "minmax")) ? PETSC_TRUE : PETSC_FALSE;
  PetscCall(wn_h5_attr_read_double(comm, file, dataset, "scale_min", &K->scale_min, &found));
  PetscCall(wn_h5_attr_read_double(comm, file, dataset, "scale_max", &K->scale_max, &found));
  PetscCall(wn_h5_attr_read_string(comm, file, dataset, "columns", K->columns, sizeof(K->columns), &found));
  if (!found || !K->columns[0]) PetscCall(PetscStrncpy(K->columns, "user", sizeof(K->columns)));
  v = 0;
  PetscCall(wn_h5_attr_read_double(comm, file, dataset, "d", &v, &found));
  K->d = (int64_t)v;
  PetscFunctionReturn(PETSC_SUCCESS);
}

/**
  @brief Read K for the candidate rows of layout from a dataset of an HDF5 file.

  Collective on layout->comm. The dataset's "orientation" attribute decides how it is read:
  "candidate-major" (rows are candidates; each rank reads its rows) or "target-major" (rows are targets,
  a user utility matrix U[t, c]; each rank reads its candidate columns and stores them transposed,
  METHODS.md section 5). Without the attribute, orientation_default decides (NULL or "" means
  "candidate-major"). The candidate count must equal layout->n_global. params.metric comes from the
  "metric" attribute (else WN_METRIC_DOT), columns from "columns" (else "user"), gamma, scaling,
  scale_min/max and d from their attributes when present; source is the file read.
  Errors (from rank 0): missing file or dataset, not 2-D, not float, wrong candidate count, unknown
  orientation, NaN/Inf (first bad candidate).

  @param[in]  layout               the pool's layout (borrowed; copied into K)
  @param[in]  path                 HDF5 file
  @param[in]  dataset              dataset path, e.g. "/kernel/values"
  @param[in]  orientation_default  "candidate-major", "target-major", or NULL
  @param[out] K                    new kernel, owned by the caller (wn_kernel_destroy)
**/
PetscErrorCode wn_kernel_read(const wn_layout *layout, const char *path, const char *dataset, const char *orientation_default, wn_kernel **K)
{
  wn_kernel      k;
  hid_t          file = -1;
  PetscErrorCode code = 0;
  char           msg[1024];

  PetscFunctionBeginUser;
  memset(&k, 0, sizeof(k));
  k.layout = *layout;
  PetscCall(PetscStrncpy(k.source, path, sizeof(k.source)));
  PetscCall(wn_h5_open(layout->comm, path, PETSC_FALSE, &file));
  PetscCall(kernel_io_read_open(layout, file, path, dataset, orientation_default, &k, &code, msg, sizeof(msg)));
  PetscCall(wn_h5_close(&file));
  PetscCheck(!code, layout->comm, code, "%s", msg);
  PetscCall(PetscNew(K));
  **K = k;
  PetscFunctionReturn(PETSC_SUCCESS);
}
