/* h5io.h - collective parallel-HDF5 I/O of row blocks, 1-D columns, strings and attributes.
 *
 * Owns: opening/creating files with the MPI-IO driver, hyperslab reads and writes of the rows each
 * rank owns (collective transfers; ranks with no rows still take part), type conversion on read
 * (float32/float64 -> float32, int32/int64 -> int64), strings (fixed or variable length), and
 * attributes. Every function that opens or inspects a file turns a missing file or dataset, or a
 * wrong rank/type, into one clear error from rank 0 naming the file and dataset.
 * Leaves to other modules: what the datasets mean (data.h, kernel.h, selection.h).
 */
#pragma once

#include <stdint.h>
#include <hdf5.h>
#include <winnow/error.h>
#include <winnow/npy.h>

typedef struct {
  int      ndim;     /* dataset rank */
  int64_t  dims[2];  /* dims[1] = 1 when ndim = 1 */
  wn_dtype dtype;    /* F32, F64, I64, I32, or OTHER */
  int      is_string; /* 1 for fixed or variable-length strings */
} wn_h5_info;

/* Open an existing file read-only (write = PETSC_FALSE) or read-write. Collective on comm.
 * Rank 0 first checks that the file exists and is HDF5 ("cannot open 'x.h5': No such file or directory",
 * "'x.npy' is not an HDF5 file"). */
PETSC_EXTERN PetscErrorCode wn_h5_open(MPI_Comm comm, const char *path, PetscBool write, hid_t *file);
/* Create (truncate) a file. Collective on comm. */
PETSC_EXTERN PetscErrorCode wn_h5_create(MPI_Comm comm, const char *path, hid_t *file);
/* Close and set *file = -1; accepts -1. Collective on the file's communicator. */
PETSC_EXTERN PetscErrorCode wn_h5_close(hid_t *file);
/* Nonzero once a write or close failed (disk full...): the process must not try to close files again at exit. */
PETSC_EXTERN int wn_h5_poisoned(void);

/* Does dataset exist (intermediate groups may be missing)? Collective (every rank gets the same answer). */
PETSC_EXTERN PetscErrorCode wn_h5_exists(MPI_Comm comm, hid_t file, const char *dataset, PetscBool *exists);
/* Shape and type of dataset; fname is the file name for messages. Errors if missing. Collective. */
PETSC_EXTERN PetscErrorCode wn_h5_info_get(MPI_Comm comm, hid_t file, const char *fname, const char *dataset, wn_h5_info *info);

/* Read rows [row_start, row_start + n_rows) of a 1-D or 2-D numeric dataset with n_cols columns into
 * out (n_rows x n_cols float32, row-major). Collective (ranks with n_rows = 0 still call). */
PETSC_EXTERN PetscErrorCode wn_h5_read_rows_float(MPI_Comm comm, hid_t file, const char *dataset, int64_t row_start, int64_t n_rows, int64_t n_cols, float *out);
/* Read columns [col_start, col_start + n) of all n_rows rows of a 2-D dataset and store the transpose:
 * out is n x n_rows row-major. Used to load target-major utility matrices U[t, c] as K[c, t]. Collective. */
PETSC_EXTERN PetscErrorCode wn_h5_read_cols_transposed_float(MPI_Comm comm, hid_t file, const char *dataset, int64_t n_rows, int64_t col_start, int64_t n, float *out);
/* 1-D integer or float column -> int64 / double for the local rows. Collective. */
PETSC_EXTERN PetscErrorCode wn_h5_read_rows_int64(MPI_Comm comm, hid_t file, const char *dataset, int64_t row_start, int64_t n_rows, int64_t *out);
PETSC_EXTERN PetscErrorCode wn_h5_read_rows_double(MPI_Comm comm, hid_t file, const char *dataset, int64_t row_start, int64_t n_rows, double *out);
/* 1-D string column (fixed or variable length) -> n_rows x *width NUL-padded bytes, allocated here with
 * PetscMalloc (caller frees with PetscFree). *width is the same on every rank (max length + 1). Collective. */
PETSC_EXTERN PetscErrorCode wn_h5_read_rows_strings(MPI_Comm comm, hid_t file, const char *dataset, int64_t row_start, int64_t n_rows, char **out, size_t *width);

/* Create dataset (creating intermediate groups) with n_global x n_cols float32 (n_cols = 0 means 1-D),
 * chunked along rows (chunk_rows, 0 = automatic), and write the local rows. Collective. */
PETSC_EXTERN PetscErrorCode wn_h5_write_rows_float(MPI_Comm comm, hid_t file, const char *dataset, int64_t n_global, int64_t n_cols, int64_t row_start, int64_t n_rows, const float *data, int64_t chunk_rows);
/* 1-D int64 / double / uint8 columns, same conventions. Collective. */
PETSC_EXTERN PetscErrorCode wn_h5_write_rows_int64(MPI_Comm comm, hid_t file, const char *dataset, int64_t n_global, int64_t row_start, int64_t n_rows, const int64_t *data);
PETSC_EXTERN PetscErrorCode wn_h5_write_rows_double(MPI_Comm comm, hid_t file, const char *dataset, int64_t n_global, int64_t row_start, int64_t n_rows, const double *data);
PETSC_EXTERN PetscErrorCode wn_h5_write_rows_uint8(MPI_Comm comm, hid_t file, const char *dataset, int64_t n_global, int64_t row_start, int64_t n_rows, const unsigned char *data);
/* 1-D fixed-width string column (width bytes each, NUL-padded; width same on every rank). Collective. */
PETSC_EXTERN PetscErrorCode wn_h5_write_rows_strings(MPI_Comm comm, hid_t file, const char *dataset, int64_t n_global, int64_t row_start, int64_t n_rows, const char *data, size_t width);

/* Attributes on an object (group or dataset path, "/" for the file). Writes are collective
 * (same value on every rank); reads are collective and return the same value everywhere. */
PETSC_EXTERN PetscErrorCode wn_h5_attr_write_string(MPI_Comm comm, hid_t file, const char *object, const char *name, const char *value);
PETSC_EXTERN PetscErrorCode wn_h5_attr_write_double(MPI_Comm comm, hid_t file, const char *object, const char *name, double value);
PETSC_EXTERN PetscErrorCode wn_h5_attr_write_int64(MPI_Comm comm, hid_t file, const char *object, const char *name, int64_t value);
/* Read a string attribute into value[len]; *found = PETSC_FALSE (and value = "") if absent. */
PETSC_EXTERN PetscErrorCode wn_h5_attr_read_string(MPI_Comm comm, hid_t file, const char *object, const char *name, char *value, size_t len, PetscBool *found);
PETSC_EXTERN PetscErrorCode wn_h5_attr_read_double(MPI_Comm comm, hid_t file, const char *object, const char *name, double *value, PetscBool *found);
