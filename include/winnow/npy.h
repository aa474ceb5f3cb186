/* npy.h - NumPy .npy files (format versions 1.0, 2.0 and 3.0; C order; little-endian).
 *
 * Owns: header parsing (pure, unit-tested on hand-written headers) and reading a block of rows
 * by byte offset (every rank reads only its own rows). Leaves HDF5 to h5io.h.
 */
#pragma once

#include <stdint.h>
#include <stddef.h>
#include <winnow/error.h>

typedef enum { WN_DTYPE_F32, WN_DTYPE_F64, WN_DTYPE_I64, WN_DTYPE_I32, WN_DTYPE_OTHER } wn_dtype;

typedef struct {
  int      major, minor;  /* format version */
  wn_dtype dtype;         /* only little-endian '<f4' '<f8' '<i8' '<i4' are recognised ('|' too for 1-byte) */
  char     descr[32];     /* the descr string as written, for messages */
  int      itemsize;      /* bytes per element */
  int      ndim;          /* 1 or 2 (0-d and >2-d are rejected) */
  int64_t  shape[2];      /* rows, cols (cols = 1 when ndim = 1) */
  size_t   data_offset;   /* byte offset of the first element */
} wn_npy_header;

/* Parse the header at the start of a .npy file held in buf[0..len).
 * Pure; returns 0 on success, or -1 with a one-line reason in why (e.g. "not a .npy file (bad magic)",
 * "header declares fortran_order True: only C order is supported", "big-endian dtype '>f4' is not supported",
 * "header is truncated: needs 118 bytes, file has 64"). */
PETSC_EXTERN int wn_npy_parse_header(const unsigned char *buf, size_t len, wn_npy_header *h, char *why, size_t whylen);

/* Read the header of path. Collective on comm: rank 0 reads and parses, the result (or the error,
 * naming the file) is shared, so a bad file gives one message from rank 0. Also checks that the file is
 * long enough for the declared shape ("truncated .npy: ... expects N bytes of data, file has M"). */
PETSC_EXTERN PetscErrorCode wn_npy_read_header(MPI_Comm comm, const char *path, wn_npy_header *h);

/* Read rows [row_start, row_start + n_rows) of a 2-D (or 1-D, cols = 1) float32/float64 .npy file into out
 * (n_rows x cols float32, row-major, caller-allocated). Not collective: each rank reads its own byte range
 * with pread. float64 values are converted to float32. */
PETSC_EXTERN PetscErrorCode wn_npy_read_rows_float(const char *path, const wn_npy_header *h, int64_t row_start, int64_t n_rows, float *out);

/* Same for a 1-D int64/int32 .npy (ids). Not collective. */
PETSC_EXTERN PetscErrorCode wn_npy_read_rows_int64(const char *path, const wn_npy_header *h, int64_t row_start, int64_t n_rows, int64_t *out);

/* Write a 2-D float32 array (rows x cols, row-major) as a version 1.0 .npy file. Not collective
 * (serial; used by tests and tools). */
PETSC_EXTERN PetscErrorCode wn_npy_write_float(const char *path, int64_t rows, int64_t cols, const float *data);
