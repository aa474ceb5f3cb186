/* h5io.c - collective parallel-HDF5 I/O of row blocks, 1-D columns, strings and attributes.
 *
 * Owns: opening and creating files with the MPI-IO driver (collective metadata, collective transfers),
 * existence checks done by hand (HDF5's own error-stack printing is switched off, so a missing file or
 * dataset becomes one message from rank 0 instead of a page of HDF5 diagnostics), hyperslab reads and
 * writes of the rows each rank owns (ranks with no rows still take part with an empty selection), type
 * conversion on read (HDF5 converts float64 -> float32 and int32 -> int64 for us), fixed- and
 * variable-length string columns, and scalar attributes.
 * Leaves to others: what the datasets mean and their validation as embeddings or kernels (data.c,
 * kernel_io.c), .npy files (npy.c).
 * Uses only the explicitly versioned HDF5 API (H5Dcreate2, H5Dopen2, H5Acreate2, H5Eset_auto2).
 */
#include <errno.h>
#include <sys/statvfs.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <winnow/h5io.h>

#define H5IO_CHUNK_BYTES    (1024 * 1024)       /* target bytes per chunk of rows */
#define H5IO_TRANSPOSE_BYTES (64 * 1024 * 1024) /* bounded buffer of wn_h5_read_cols_transposed_float */
#define H5IO_MAX_PATH       1024

static PetscBool h5io_quiet_ = PETSC_FALSE;

/* Switch off HDF5's automatic error-stack printing once: every failure is reported by winnow itself.
 * Setting the environment variable WN_HDF5_DEBUG keeps HDF5's own stack (for debugging HDF5 failures). */
static PetscErrorCode h5io_silence(void)
{
  PetscFunctionBeginUser;
  if (!h5io_quiet_) {
    const char *debug = getenv("WN_HDF5_DEBUG");

    if (!debug || !debug[0]) WN_CALL_HDF5(H5Eset_auto2, (H5E_DEFAULT, NULL, NULL));
    h5io_quiet_ = PETSC_TRUE;
  }
  PetscFunctionReturn(PETSC_SUCCESS);
}

/* The file name behind any open HDF5 object, for messages. */
/* Set when a write or close failed: the library may then hold unflushed data, and closing it again at exit (a
 * collective operation that fails on some ranks only) can hang; main() aborts instead (wn_h5_poisoned). */
static int h5io_poisoned = 0;
int        wn_h5_poisoned(void) { return h5io_poisoned; }

/* Why a write failed, for the message: errno when HDF5 left one, else the file system's free space (MPI-IO often
 * reports ENOSPC without setting errno). Not collective. */
static const char *h5io_write_reason(const char *fname, int err, char *buf, size_t len)
{
  struct statvfs sv;
  char           dir[PETSC_MAX_PATH_LEN], *slash;

  if (err) return strerror(err);
  snprintf(dir, sizeof(dir), "%s", fname);
  slash = strrchr(dir, '/');
  if (slash) *slash = 0;
  else snprintf(dir, sizeof(dir), ".");
  if (statvfs(dir[0] ? dir : "/", &sv) == 0 && (double)sv.f_bavail * (double)sv.f_frsize < 1048576.0) {
    snprintf(buf, len, "no space left on the file system (%.0f bytes free)", (double)sv.f_bavail * (double)sv.f_frsize);
    return buf;
  }
  return "HDF5 write failed";
}

static const char *h5io_fname(hid_t obj, char *buf, size_t len)
{
  if (H5Fget_name(obj, buf, len) < 0) snprintf(buf, len, "?");
  return buf;
}

/* Name of an HDF5 datatype for messages ("float64", "int32", "string", ...). */
static const char *h5io_type_name(hid_t type, char *buf, size_t len)
{
  H5T_class_t cls  = H5Tget_class(type);
  size_t      size = H5Tget_size(type);

  switch (cls) {
  case H5T_FLOAT: snprintf(buf, len, "float%zu", 8 * size); break;
  case H5T_INTEGER: snprintf(buf, len, "%sint%zu", H5Tget_sign(type) == H5T_SGN_NONE ? "u" : "", 8 * size); break;
  case H5T_STRING: snprintf(buf, len, "string"); break;
  case H5T_COMPOUND: snprintf(buf, len, "compound"); break;
  case H5T_ENUM: snprintf(buf, len, "enum"); break;
  case H5T_ARRAY: snprintf(buf, len, "array"); break;
  case H5T_VLEN: snprintf(buf, len, "variable-length sequence"); break;
  case H5T_OPAQUE: snprintf(buf, len, "opaque"); break;
  case H5T_BITFIELD: snprintf(buf, len, "bitfield"); break;
  case H5T_REFERENCE: snprintf(buf, len, "reference"); break;
  default: snprintf(buf, len, "unknown type"); break;
  }
  return buf;
}

/* Does path exist as an object? Walks each component, because H5Lexists fails (rather than answering
 * "no") when an intermediate group is missing. Local: every rank computes the same answer. */
static PetscErrorCode h5io_exists_local(hid_t file, const char *path, PetscBool *exists)
{
  char   prefix[H5IO_MAX_PATH];
  size_t n, i;

  PetscFunctionBeginUser;
  *exists = PETSC_FALSE;
  n       = strlen(path);
  PetscCheck(n < sizeof(prefix), PETSC_COMM_SELF, PETSC_ERR_ARG_SIZ, "HDF5 path '%s' is too long (%zu characters)", path, n);
  while (n > 1 && path[n - 1] == '/') n--;
  if (n == 0 || (n == 1 && path[0] == '/')) {
    *exists = PETSC_TRUE; /* the root group */
    PetscFunctionReturn(PETSC_SUCCESS);
  }
  for (i = 0; i <= n; i++) {
    if (i == n || (path[i] == '/' && i > 0 && path[i - 1] != '/')) {
      memcpy(prefix, path, i);
      prefix[i] = 0;
      if (i == 0) continue;
      if (H5Lexists(file, prefix, H5P_DEFAULT) <= 0) PetscFunctionReturn(PETSC_SUCCESS);
      if (H5Oexists_by_name(file, prefix, H5P_DEFAULT) <= 0) PetscFunctionReturn(PETSC_SUCCESS); /* dangling link */
    }
  }
  *exists = PETSC_TRUE;
  PetscFunctionReturn(PETSC_SUCCESS);
}

/* Share rank 0's error verdict (code 0 = fine) and fail everywhere together. */
static PetscErrorCode h5io_agree(MPI_Comm comm, PetscErrorCode code, const char *msg)
{
  int c = (int)code;

  PetscFunctionBeginUser;
  PetscCallMPI(MPI_Bcast(&c, 1, MPI_INT, 0, comm));
  WN_CHECK_ALL(comm, c == 0, (PetscErrorCode)c, "%s", msg);
  PetscFunctionReturn(PETSC_SUCCESS);
}

static PetscErrorCode h5io_fapl(MPI_Comm comm, hid_t *fapl)
{
  PetscFunctionBeginUser;
  WN_CALL_HDF5_ID(*fapl, H5Pcreate, (H5P_FILE_ACCESS));
  WN_CALL_HDF5(H5Pset_fapl_mpio, (*fapl, comm, MPI_INFO_NULL));
  /* Metadata reads by one rank, broadcast to the others: the same calls happen on every rank anyway. */
  WN_CALL_HDF5(H5Pset_all_coll_metadata_ops, (*fapl, 1));
  WN_CALL_HDF5(H5Pset_coll_metadata_write, (*fapl, 1));
  PetscFunctionReturn(PETSC_SUCCESS);
}

/**
  @brief Open an existing HDF5 file with the MPI-IO driver.

  Collective on comm. Rank 0 first checks that the file exists, is readable (and writable when asked)
  and is HDF5; a failure is one error from rank 0 ("cannot open 'x.h5': No such file or directory",
  "'x.npy' is not an HDF5 file").

  @param[in]  comm   communicator of the file (borrowed; HDF5 duplicates it)
  @param[in]  path   file name, same on every rank
  @param[in]  write  PETSC_TRUE to open read-write, else read-only
  @param[out] file   open file; close with wn_h5_close()
**/
PetscErrorCode wn_h5_open(MPI_Comm comm, const char *path, PetscBool write, hid_t *file)
{
  PetscMPIInt    rank;
  PetscErrorCode code = 0;
  char           msg[1024] = "";
  hid_t          fapl;

  PetscFunctionBeginUser;
  PetscCall(h5io_silence());
  *file = -1;
  PetscCallMPI(MPI_Comm_rank(comm, &rank));
  if (rank == 0) {
    if (access(path, R_OK)) {
      snprintf(msg, sizeof(msg), "cannot open '%s': %s", path, strerror(errno));
      code = PETSC_ERR_FILE_OPEN;
    } else if (write && access(path, W_OK)) {
      snprintf(msg, sizeof(msg), "cannot open '%s' for writing: %s", path, strerror(errno));
      code = PETSC_ERR_FILE_OPEN;
    } else if (H5Fis_hdf5(path) <= 0) {
      snprintf(msg, sizeof(msg), "'%s' is not an HDF5 file", path);
      code = PETSC_ERR_FILE_UNEXPECTED;
    }
  }
  PetscCall(h5io_agree(comm, code, msg));
  PetscCall(h5io_fapl(comm, &fapl));
  *file = H5Fopen(path, write ? H5F_ACC_RDWR : H5F_ACC_RDONLY, fapl);
  WN_CALL_HDF5(H5Pclose, (fapl));
  WN_CHECK_ALL(comm, *file >= 0, PETSC_ERR_FILE_OPEN, "HDF5 cannot open '%s'%s (is it open elsewhere, or damaged?)", path, write ? " for writing" : "");
  PetscFunctionReturn(PETSC_SUCCESS);
}

/**
  @brief Create (or truncate) an HDF5 file with the MPI-IO driver.

  Collective on comm. Rank 0 first checks that the directory is writable, so the usual mistake gives one
  clear message.

  @param[in]  comm  communicator of the file (borrowed)
  @param[in]  path  file name, same on every rank
  @param[out] file  open file; close with wn_h5_close()
**/
PetscErrorCode wn_h5_create(MPI_Comm comm, const char *path, hid_t *file)
{
  PetscMPIInt    rank;
  PetscErrorCode code = 0;
  char           msg[1024] = "", dir[PETSC_MAX_PATH_LEN];
  hid_t          fapl;

  PetscFunctionBeginUser;
  PetscCall(h5io_silence());
  *file = -1;
  PetscCallMPI(MPI_Comm_rank(comm, &rank));
  if (rank == 0) {
    const char *slash = strrchr(path, '/');

    if (!slash) snprintf(dir, sizeof(dir), ".");
    else if (slash == path) snprintf(dir, sizeof(dir), "/");
    else snprintf(dir, sizeof(dir), "%.*s", (int)(slash - path), path);
    if (access(dir, W_OK)) {
      snprintf(msg, sizeof(msg), "cannot create '%s': directory '%.400s': %s", path, dir, strerror(errno));
      code = PETSC_ERR_FILE_OPEN;
    }
  }
  PetscCall(h5io_agree(comm, code, msg));
  PetscCall(h5io_fapl(comm, &fapl));
  *file = H5Fcreate(path, H5F_ACC_TRUNC, H5P_DEFAULT, fapl);
  WN_CALL_HDF5(H5Pclose, (fapl));
  WN_CHECK_ALL(comm, *file >= 0, PETSC_ERR_FILE_OPEN, "HDF5 cannot create '%s' (is it open elsewhere?)", path);
  PetscFunctionReturn(PETSC_SUCCESS);
}

/**
  @brief Close a file and set *file = -1; a file of -1 is accepted and left alone.

  Collective on the file's communicator.

  @param[in,out] file  the file
**/
PetscErrorCode wn_h5_close(hid_t *file)
{
  MPI_Comm comm = MPI_COMM_NULL;
  MPI_Info info = MPI_INFO_NULL;
  hid_t    fapl;
  char     fname[PETSC_MAX_PATH_LEN] = "";
  herr_t   st;
  int      err;

  PetscFunctionBeginUser;
  if (!file || *file < 0) PetscFunctionReturn(PETSC_SUCCESS);
  /* closing flushes metadata and buffered data: with a full disk this is where the failure shows, possibly on one
   * rank only, so the verdict is agreed over the file's communicator */
  h5io_fname(*file, fname, sizeof(fname));
  WN_CALL_HDF5_ID(fapl, H5Fget_access_plist, (*file));
  if (H5Pget_driver(fapl) == H5FD_MPIO) WN_CALL_HDF5(H5Pget_fapl_mpio, (fapl, &comm, &info));
  WN_CALL_HDF5(H5Pclose, (fapl));
  errno = 0;
  st    = H5Fclose(*file);
  err   = errno;
  if (st < 0) h5io_poisoned = 1;
  *file = -1;
  if (comm != MPI_COMM_NULL) {
    char why[128];
    WN_CHECK_ALL(comm, st >= 0, PETSC_ERR_FILE_WRITE, "cannot close (flush) '%s': %s (is the file system full, over quota or read-only?)", fname, st < 0 ? h5io_write_reason(fname, err, why, sizeof(why)) : "");
    PetscCallMPI(MPI_Comm_free(&comm));
    if (info != MPI_INFO_NULL) PetscCallMPI(MPI_Info_free(&info));
  } else PetscCheck(st >= 0, PETSC_COMM_SELF, PETSC_ERR_FILE_WRITE, "cannot close (flush) '%s': %s", fname, err ? strerror(err) : "HDF5 close failed");
  PetscFunctionReturn(PETSC_SUCCESS);
}

/**
  @brief Does an object (dataset or group) exist at a path? Missing intermediate groups mean "no".

  Collective on comm: every rank gets the same answer.

  @param[in]  comm     communicator of the file (borrowed)
  @param[in]  file     open file
  @param[in]  dataset  absolute path such as "/candidates/embedding" ("/" is the root group)
  @param[out] exists   the answer
**/
PetscErrorCode wn_h5_exists(MPI_Comm comm, hid_t file, const char *dataset, PetscBool *exists)
{
  int mine, all;

  PetscFunctionBeginUser;
  PetscCall(h5io_exists_local(file, dataset, exists));
  mine = *exists ? 1 : 0;
  PetscCallMPI(MPI_Allreduce(&mine, &all, 1, MPI_INT, MPI_LAND, comm));
  *exists = all ? PETSC_TRUE : PETSC_FALSE;
  PetscFunctionReturn(PETSC_SUCCESS);
}

/* Fill info (and the element class and type name) from an open dataset. Local. */
static PetscErrorCode h5io_info_from(hid_t dset, wn_h5_info *info, H5T_class_t *cls_out, char *tname, size_t tlen)
{
  hid_t       space, type;
  int         ndim;
  hsize_t     dims[H5S_MAX_RANK];
  H5T_class_t cls;
  size_t      size;

  PetscFunctionBeginUser;
  memset(info, 0, sizeof(*info));
  WN_CALL_HDF5_ID(space, H5Dget_space, (dset));
  ndim = H5Sget_simple_extent_ndims(space);
  PetscCheck(ndim >= 0, PETSC_COMM_SELF, PETSC_ERR_LIB, "HDF5 call H5Sget_simple_extent_ndims() failed");
  PetscCheck(H5Sget_simple_extent_dims(space, dims, NULL) >= 0, PETSC_COMM_SELF, PETSC_ERR_LIB, "HDF5 call H5Sget_simple_extent_dims() failed");
  WN_CALL_HDF5(H5Sclose, (space));
  info->ndim = ndim;
  /* dims[0] = rows; dims[1] = the product of the other extents (1 for 0-D and 1-D). */
  info->dims[0] = ndim >= 1 ? (int64_t)dims[0] : 1;
  info->dims[1] = 1;
  for (int i = 1; i < ndim; i++) info->dims[1] *= (int64_t)dims[i];
  WN_CALL_HDF5_ID(type, H5Dget_type, (dset));
  cls  = H5Tget_class(type);
  size = H5Tget_size(type);
  info->dtype = WN_DTYPE_OTHER;
  if (cls == H5T_FLOAT && size == 4) info->dtype = WN_DTYPE_F32;
  else if (cls == H5T_FLOAT && size == 8) info->dtype = WN_DTYPE_F64;
  else if (cls == H5T_INTEGER && size == 8 && H5Tget_sign(type) == H5T_SGN_2) info->dtype = WN_DTYPE_I64;
  else if (cls == H5T_INTEGER && size == 4 && H5Tget_sign(type) == H5T_SGN_2) info->dtype = WN_DTYPE_I32;
  info->is_string = cls == H5T_STRING ? 1 : 0;
  if (cls_out) *cls_out = cls;
  if (tname) h5io_type_name(type, tname, tlen);
  WN_CALL_HDF5(H5Tclose, (type));
  PetscFunctionReturn(PETSC_SUCCESS);
}

/* Describe a dataset after checking, collectively, that it exists and is a dataset. Nothing stays open,
 * so a caller's failed check leaks no HDF5 handle (an open handle would make H5Fclose fail). */
static PetscErrorCode h5io_inspect(MPI_Comm comm, hid_t file, const char *fname, const char *dataset, wn_h5_info *info, H5T_class_t *cls, char *tname, size_t tlen)
{
  PetscBool exists;
  char      namebuf[PETSC_MAX_PATH_LEN];
  hid_t     obj, dset;
  int       is_dataset;

  PetscFunctionBeginUser;
  PetscCall(h5io_silence());
  if (!fname) fname = h5io_fname(file, namebuf, sizeof(namebuf));
  PetscCall(wn_h5_exists(comm, file, dataset, &exists));
  PetscCheck(exists, comm, PETSC_ERR_FILE_UNEXPECTED, "dataset %s not found in '%s'", dataset, fname);
  WN_CALL_HDF5_ID(obj, H5Oopen, (file, dataset[0] ? dataset : "/", H5P_DEFAULT));
  is_dataset = H5Iget_type(obj) == H5I_DATASET;
  WN_CALL_HDF5(H5Oclose, (obj));
  PetscCheck(is_dataset, comm, PETSC_ERR_FILE_UNEXPECTED, "%s in '%s' is a group, not a dataset", dataset[0] ? dataset : "/", fname);
  WN_CALL_HDF5_ID(dset, H5Dopen2, (file, dataset, H5P_DEFAULT));
  PetscCall(h5io_info_from(dset, info, cls, tname, tlen));
  WN_CALL_HDF5(H5Dclose, (dset));
  PetscFunctionReturn(PETSC_SUCCESS);
}

/**
  @brief Shape and element type of a dataset.

  Collective on comm. Errors (from rank 0) when the dataset is missing or is a group. dims[0] is the number
  of rows; dims[1] is the product of the other extents (1 for 1-D); ndim is the true rank, so callers can
  reject 3-D data.

  @param[in]  comm     communicator of the file (borrowed)
  @param[in]  file     open file
  @param[in]  fname    file name for messages (NULL: asked from HDF5)
  @param[in]  dataset  dataset path
  @param[out] info     shape and type
**/
PetscErrorCode wn_h5_info_get(MPI_Comm comm, hid_t file, const char *fname, const char *dataset, wn_h5_info *info)
{
  PetscFunctionBeginUser;
  PetscCall(h5io_inspect(comm, file, fname, dataset, info, NULL, NULL, 0));
  PetscFunctionReturn(PETSC_SUCCESS);
}

/* Collective read of the block [row_start, +n_rows) x [col_start, +n_cols) of a 1-D or 2-D dataset into
 * buf (row-major, memtype). Ranks with n_rows = 0 take part with an empty selection. */
static PetscErrorCode h5io_read_block(hid_t dset, int ndim, hid_t memtype, int64_t row_start, int64_t n_rows, int64_t col_start, int64_t n_cols, void *buf)
{
  hid_t   fspace, mspace, dxpl;
  hsize_t start[2] = {(hsize_t)row_start, (hsize_t)col_start}, count[2] = {(hsize_t)n_rows, (hsize_t)n_cols};
  hsize_t n_elem   = (hsize_t)n_rows * (hsize_t)n_cols;

  PetscFunctionBeginUser;
  WN_CALL_HDF5_ID(fspace, H5Dget_space, (dset));
  WN_CALL_HDF5_ID(mspace, H5Screate_simple, (1, &n_elem, NULL));
  if (n_elem > 0) {
    WN_CALL_HDF5(H5Sselect_hyperslab, (fspace, H5S_SELECT_SET, start, NULL, count, NULL));
  } else {
    WN_CALL_HDF5(H5Sselect_none, (fspace));
    WN_CALL_HDF5(H5Sselect_none, (mspace));
  }
  (void)ndim; /* a 1-D dataset uses only start[0], count[0] */
  WN_CALL_HDF5_ID(dxpl, H5Pcreate, (H5P_DATASET_XFER));
  WN_CALL_HDF5(H5Pset_dxpl_mpio, (dxpl, H5FD_MPIO_COLLECTIVE));
  WN_CALL_HDF5(H5Pset_dxpl_mpio_chunk_opt, (dxpl, H5FD_MPIO_CHUNK_ONE_IO)); /* all chunks in one collective call: chunk-by-chunk is 5-15x slower */
  WN_CALL_HDF5(H5Dread, (dset, memtype, mspace, fspace, dxpl, buf));
  WN_CALL_HDF5(H5Pclose, (dxpl));
  WN_CALL_HDF5(H5Sclose, (mspace));
  WN_CALL_HDF5(H5Sclose, (fspace));
  PetscFunctionReturn(PETSC_SUCCESS);
}

/* Common checks of the row readers (element class, shape, and the rank-local row range), then open. */
static PetscErrorCode h5io_open_rows(MPI_Comm comm, hid_t file, const char *dataset, PetscBool allow_float, PetscBool allow_int, int64_t n_cols, int64_t row_start, int64_t n_rows, hid_t *dset, wn_h5_info *info)
{
  char        fname[PETSC_MAX_PATH_LEN], tname[64];
  H5T_class_t cls;

  PetscFunctionBeginUser;
  h5io_fname(file, fname, sizeof(fname));
  PetscCall(h5io_inspect(comm, file, fname, dataset, info, &cls, tname, sizeof(tname)));
  PetscCheck((allow_float && cls == H5T_FLOAT) || (allow_int && cls == H5T_INTEGER), comm, PETSC_ERR_FILE_UNEXPECTED, "dataset %s in '%s' has type %s; expected %s", dataset, fname, tname,
             allow_float && allow_int ? "numbers" : allow_float ? "floating-point numbers" : "integers");
  PetscCheck(info->ndim == 1 || info->ndim == 2, comm, PETSC_ERR_FILE_UNEXPECTED, "dataset %s in '%s' is %d-D; expected %s", dataset, fname, info->ndim, n_cols == 1 ? "a 1-D column" : "N x d");
  PetscCheck(info->dims[1] == n_cols, comm, PETSC_ERR_FILE_UNEXPECTED, "dataset %s in '%s' has %lld columns; expected %lld", dataset, fname, (long long)info->dims[1], (long long)n_cols);
  WN_CHECK_ALL(comm, row_start >= 0 && n_rows >= 0 && row_start + n_rows <= info->dims[0], PETSC_ERR_ARG_OUTOFRANGE, "rows [%lld, %lld) are outside the %lld rows of dataset %s in '%s'", (long long)row_start, (long long)(row_start + n_rows), (long long)info->dims[0], dataset, fname);
  WN_CALL_HDF5_ID(*dset, H5Dopen2, (file, dataset, H5P_DEFAULT));
  PetscFunctionReturn(PETSC_SUCCESS);
}

/**
  @brief Read rows of a 1-D or 2-D numeric dataset as float32 (HDF5 converts float64 and integers).

  Collective on comm (ranks with n_rows = 0 still call).

  @param[in]  comm       communicator of the file (borrowed)
  @param[in]  file       open file
  @param[in]  dataset    dataset path
  @param[in]  row_start  first global row read by this rank
  @param[in]  n_rows     rows read by this rank (may be 0)
  @param[in]  n_cols     expected number of columns (1 for a 1-D dataset)
  @param[out] out        n_rows x n_cols floats, row-major, caller-allocated
**/
PetscErrorCode wn_h5_read_rows_float(MPI_Comm comm, hid_t file, const char *dataset, int64_t row_start, int64_t n_rows, int64_t n_cols, float *out)
{
  hid_t      dset;
  wn_h5_info info;

  PetscFunctionBeginUser;
  PetscCall(h5io_open_rows(comm, file, dataset, PETSC_TRUE, PETSC_TRUE, n_cols, row_start, n_rows, &dset, &info));
  if (info.dims[0] * info.dims[1] > 0) PetscCall(h5io_read_block(dset, info.ndim, H5T_NATIVE_FLOAT, row_start, n_rows, 0, n_cols, out));
  WN_CALL_HDF5(H5Dclose, (dset));
  PetscFunctionReturn(PETSC_SUCCESS);
}

/**
  @brief Read columns [col_start, col_start + n) of all n_rows rows of a 2-D dataset, stored transposed.

  Collective on comm. out[j * n_rows + i] = D[i, col_start + j]. Used to load a target-major matrix
  U[t, c] as the candidate-major K[c, t] (each rank passes its candidate block as the column range).
  The rows are read in bounded pieces; every rank makes the same number of collective reads.

  @param[in]  comm       communicator of the file (borrowed)
  @param[in]  file       open file
  @param[in]  dataset    2-D numeric dataset
  @param[in]  n_rows     rows of the dataset (must match)
  @param[in]  col_start  first column read by this rank
  @param[in]  n          columns read by this rank (may be 0)
  @param[out] out        n x n_rows floats, row-major, caller-allocated
**/
PetscErrorCode wn_h5_read_cols_transposed_float(MPI_Comm comm, hid_t file, const char *dataset, int64_t n_rows, int64_t col_start, int64_t n, float *out)
{
  hid_t      dset;
  wn_h5_info info;
  char        fname[PETSC_MAX_PATH_LEN], tname[64];
  H5T_class_t cls;
  int         is_number;
  int64_t    n_max, piece;
  float     *tmp;

  PetscFunctionBeginUser;
  h5io_fname(file, fname, sizeof(fname));
  PetscCall(h5io_inspect(comm, file, fname, dataset, &info, &cls, tname, sizeof(tname)));
  is_number = cls == H5T_FLOAT || cls == H5T_INTEGER;
  PetscCheck(is_number, comm, PETSC_ERR_FILE_UNEXPECTED, "dataset %s in '%s' has type %s; expected numbers", dataset, fname, tname);
  PetscCheck(info.ndim == 2, comm, PETSC_ERR_FILE_UNEXPECTED, "dataset %s in '%s' is %d-D; expected a 2-D matrix", dataset, fname, info.ndim);
  PetscCheck(info.dims[0] == n_rows, comm, PETSC_ERR_FILE_UNEXPECTED, "dataset %s in '%s' has %lld rows; expected %lld", dataset, fname, (long long)info.dims[0], (long long)n_rows);
  WN_CHECK_ALL(comm, col_start >= 0 && n >= 0 && col_start + n <= info.dims[1], PETSC_ERR_ARG_OUTOFRANGE, "columns [%lld, %lld) are outside the %lld columns of dataset %s in '%s'", (long long)col_start, (long long)(col_start + n), (long long)info.dims[1], dataset, fname);
  PetscCallMPI(MPI_Allreduce(&n, &n_max, 1, MPI_INT64_T, MPI_MAX, comm));
  WN_CALL_HDF5_ID(dset, H5Dopen2, (file, dataset, H5P_DEFAULT));
  /* Rows per piece from the widest rank's block, so the piece count is the same on every rank. */
  piece = n_max > 0 ? H5IO_TRANSPOSE_BYTES / (int64_t)sizeof(float) / n_max : n_rows;
  if (piece < 1) piece = 1;
  if (piece > n_rows) piece = n_rows;
  PetscCall(PetscMalloc1(piece * n > 0 ? piece * n : 1, &tmp));
  for (int64_t r0 = 0; r0 < n_rows; r0 += piece) {
    int64_t cnt = n_rows - r0 < piece ? n_rows - r0 : piece;

    PetscCall(h5io_read_block(dset, 2, H5T_NATIVE_FLOAT, r0, n > 0 ? cnt : 0, col_start, n, tmp));
    for (int64_t i = 0; i < cnt && n > 0; i++)
      for (int64_t j = 0; j < n; j++) out[j * n_rows + r0 + i] = tmp[i * n + j];
  }
  PetscCall(PetscFree(tmp));
  WN_CALL_HDF5(H5Dclose, (dset));
  PetscFunctionReturn(PETSC_SUCCESS);
}

/**
  @brief Read rows of a 1-D (or N x 1) integer column as int64.

  Collective on comm (ranks with n_rows = 0 still call).

  @param[in]  comm       communicator of the file (borrowed)
  @param[in]  file       open file
  @param[in]  dataset    dataset path
  @param[in]  row_start  first global row read by this rank
  @param[in]  n_rows     rows read by this rank (may be 0)
  @param[out] out        n_rows values, caller-allocated
**/
PetscErrorCode wn_h5_read_rows_int64(MPI_Comm comm, hid_t file, const char *dataset, int64_t row_start, int64_t n_rows, int64_t *out)
{
  hid_t      dset;
  wn_h5_info info;

  PetscFunctionBeginUser;
  PetscCall(h5io_open_rows(comm, file, dataset, PETSC_FALSE, PETSC_TRUE, 1, row_start, n_rows, &dset, &info));
  if (info.dims[0] * info.dims[1] > 0) PetscCall(h5io_read_block(dset, info.ndim, H5T_NATIVE_INT64, row_start, n_rows, 0, 1, out));
  WN_CALL_HDF5(H5Dclose, (dset));
  PetscFunctionReturn(PETSC_SUCCESS);
}

/**
  @brief Read rows of a 1-D (or N x 1) numeric column as double.

  Collective on comm (ranks with n_rows = 0 still call).

  @param[in]  comm       communicator of the file (borrowed)
  @param[in]  file       open file
  @param[in]  dataset    dataset path
  @param[in]  row_start  first global row read by this rank
  @param[in]  n_rows     rows read by this rank (may be 0)
  @param[out] out        n_rows values, caller-allocated
**/
PetscErrorCode wn_h5_read_rows_double(MPI_Comm comm, hid_t file, const char *dataset, int64_t row_start, int64_t n_rows, double *out)
{
  hid_t      dset;
  wn_h5_info info;

  PetscFunctionBeginUser;
  PetscCall(h5io_open_rows(comm, file, dataset, PETSC_TRUE, PETSC_TRUE, 1, row_start, n_rows, &dset, &info));
  if (info.dims[0] * info.dims[1] > 0) PetscCall(h5io_read_block(dset, info.ndim, H5T_NATIVE_DOUBLE, row_start, n_rows, 0, 1, out));
  WN_CALL_HDF5(H5Dclose, (dset));
  PetscFunctionReturn(PETSC_SUCCESS);
}

/* Free the strings HDF5 allocated for a variable-length read. */
static PetscErrorCode h5io_reclaim(hid_t memtype, int64_t n, void *buf)
{
  hid_t   space;
  hsize_t dim = (hsize_t)n;

  PetscFunctionBeginUser;
  if (n == 0) PetscFunctionReturn(PETSC_SUCCESS);
  WN_CALL_HDF5_ID(space, H5Screate_simple, (1, &dim, NULL));
#if H5_VERSION_GE(1, 12, 0)
  WN_CALL_HDF5(H5Treclaim, (memtype, space, H5P_DEFAULT, buf));
#else
  WN_CALL_HDF5(H5Dvlen_reclaim, (memtype, space, H5P_DEFAULT, buf));
#endif
  WN_CALL_HDF5(H5Sclose, (space));
  PetscFunctionReturn(PETSC_SUCCESS);
}

/**
  @brief Read rows of a 1-D string column (fixed or variable length) as fixed-width NUL-padded bytes.

  Collective on comm (ranks with n_rows = 0 still call). The width is the longest string over all ranks
  plus one (agreed with MPI_MAX), so it is the same everywhere.

  @param[in]  comm       communicator of the file (borrowed)
  @param[in]  file       open file
  @param[in]  dataset    dataset path
  @param[in]  row_start  first global row read by this rank
  @param[in]  n_rows     rows read by this rank (may be 0)
  @param[out] out        n_rows x *width bytes, owned by the caller (PetscFree); NULL when n_rows = 0
  @param[out] width      bytes per string including the terminating NUL
**/
PetscErrorCode wn_h5_read_rows_strings(MPI_Comm comm, hid_t file, const char *dataset, int64_t row_start, int64_t n_rows, char **out, size_t *width)
{
  hid_t      dset, ftype, memtype;
  wn_h5_info info;
  char       fname[PETSC_MAX_PATH_LEN];
  htri_t     is_var;
  int64_t    longest = 0, longest_all;

  PetscFunctionBeginUser;
  *out   = NULL;
  *width = 1;
  h5io_fname(file, fname, sizeof(fname));
  PetscCall(h5io_inspect(comm, file, fname, dataset, &info, NULL, NULL, 0));
  PetscCheck(info.is_string, comm, PETSC_ERR_FILE_UNEXPECTED, "dataset %s in '%s' does not hold strings", dataset, fname);
  PetscCheck((info.ndim == 1 || info.ndim == 2) && info.dims[1] == 1, comm, PETSC_ERR_FILE_UNEXPECTED, "dataset %s in '%s' is not a 1-D column of strings", dataset, fname);
  WN_CHECK_ALL(comm, row_start >= 0 && n_rows >= 0 && row_start + n_rows <= info.dims[0], PETSC_ERR_ARG_OUTOFRANGE, "rows [%lld, %lld) are outside the %lld rows of dataset %s in '%s'", (long long)row_start, (long long)(row_start + n_rows), (long long)info.dims[0], dataset, fname);
  WN_CALL_HDF5_ID(dset, H5Dopen2, (file, dataset, H5P_DEFAULT));
  WN_CALL_HDF5_ID(ftype, H5Dget_type, (dset));
  is_var = H5Tis_variable_str(ftype);
  PetscCheck(is_var >= 0, PETSC_COMM_SELF, PETSC_ERR_LIB, "HDF5 call H5Tis_variable_str() failed");
  /* The memory type is a copy of the file type, so the character set matches (HDF5 does not convert it). */
  WN_CALL_HDF5_ID(memtype, H5Tcopy, (ftype));
  if (is_var) {
    char **ptrs;

    PetscCall(PetscCalloc1(n_rows > 0 ? n_rows : 1, &ptrs));
    if (info.dims[0] * info.dims[1] > 0) PetscCall(h5io_read_block(dset, info.ndim, memtype, row_start, n_rows, 0, 1, ptrs));
    for (int64_t i = 0; i < n_rows; i++)
      if (ptrs[i] && (int64_t)strlen(ptrs[i]) > longest) longest = (int64_t)strlen(ptrs[i]);
    PetscCallMPI(MPI_Allreduce(&longest, &longest_all, 1, MPI_INT64_T, MPI_MAX, comm));
    *width = (size_t)longest_all + 1;
    if (n_rows > 0) {
      PetscCall(PetscCalloc1((size_t)n_rows * *width, out));
      for (int64_t i = 0; i < n_rows; i++)
        if (ptrs[i]) memcpy(*out + (size_t)i * *width, ptrs[i], strlen(ptrs[i]));
    }
    PetscCall(h5io_reclaim(memtype, n_rows, ptrs));
    PetscCall(PetscFree(ptrs));
  } else {
    /* Read each fixed-size string into size + 1 bytes, NUL-terminated by HDF5 whatever the file's padding. */
    size_t size = H5Tget_size(ftype) + 1;
    char  *tmp;

    WN_CALL_HDF5(H5Tset_size, (memtype, size));
    WN_CALL_HDF5(H5Tset_strpad, (memtype, H5T_STR_NULLTERM));
    PetscCall(PetscCalloc1(n_rows > 0 ? (size_t)n_rows * size : 1, &tmp));
    if (info.dims[0] * info.dims[1] > 0) PetscCall(h5io_read_block(dset, info.ndim, memtype, row_start, n_rows, 0, 1, tmp));
    for (int64_t i = 0; i < n_rows; i++) {
      int64_t len = (int64_t)strnlen(tmp + (size_t)i * size, size);
      if (len > longest) longest = len;
    }
    PetscCallMPI(MPI_Allreduce(&longest, &longest_all, 1, MPI_INT64_T, MPI_MAX, comm));
    *width = (size_t)longest_all + 1;
    if (n_rows > 0) {
      PetscCall(PetscCalloc1((size_t)n_rows * *width, out));
      for (int64_t i = 0; i < n_rows; i++) memcpy(*out + (size_t)i * *width, tmp + (size_t)i * size, strnlen(tmp + (size_t)i * size, size));
    }
    PetscCall(PetscFree(tmp));
  }
  WN_CALL_HDF5(H5Tclose, (memtype));
  WN_CALL_HDF5(H5Tclose, (ftype));
  WN_CALL_HDF5(H5Dclose, (dset));
  PetscFunctionReturn(PETSC_SUCCESS);
}

/* Create a dataset of n_global rows (n_cols = 0: 1-D), chunked along rows, and write each rank's rows.
 * An existing dataset of that name is replaced. Collective. */
static PetscErrorCode h5io_write(MPI_Comm comm, hid_t file, const char *dataset, hid_t filetype, hid_t memtype, int64_t n_global, int64_t n_cols, int64_t row_start, int64_t n_rows, const void *data, int64_t chunk_rows)
{
  char      fname[PETSC_MAX_PATH_LEN];
  int64_t   total, width = n_cols > 0 ? n_cols : 1;
  int       ndim = n_cols > 0 ? 2 : 1;
  hsize_t   dims[2] = {(hsize_t)n_global, (hsize_t)width}, start[2] = {(hsize_t)row_start, 0}, count[2] = {(hsize_t)n_rows, (hsize_t)width};
  hsize_t   n_elem = (hsize_t)n_rows * (hsize_t)width;
  hid_t     fspace, mspace, lcpl, dcpl, dset, dxpl;
  PetscBool exists;
  size_t    row_bytes;

  PetscFunctionBeginUser;
  PetscCall(h5io_silence());
  h5io_fname(file, fname, sizeof(fname));
  PetscCheck(n_global >= 0 && n_cols >= 0, comm, PETSC_ERR_ARG_OUTOFRANGE, "cannot write a %lld x %lld dataset %s", (long long)n_global, (long long)n_cols, dataset);
  PetscCallMPI(MPI_Allreduce(&n_rows, &total, 1, MPI_INT64_T, MPI_SUM, comm));
  PetscCheck(total == n_global, comm, PETSC_ERR_ARG_SIZ, "writing %s in '%s': the ranks hold %lld rows in total but the dataset has %lld", dataset, fname, (long long)total, (long long)n_global);
  WN_CHECK_ALL(comm, row_start >= 0 && n_rows >= 0 && row_start + n_rows <= n_global, PETSC_ERR_ARG_OUTOFRANGE, "writing %s in '%s': rows [%lld, %lld) are outside [0, %lld)", dataset, fname, (long long)row_start, (long long)(row_start + n_rows), (long long)n_global);

  PetscCall(wn_h5_exists(comm, file, dataset, &exists));
  if (exists) {
    hid_t obj;
    int   is_dataset;

    WN_CALL_HDF5_ID(obj, H5Oopen, (file, dataset, H5P_DEFAULT));
    is_dataset = H5Iget_type(obj) == H5I_DATASET;
    WN_CALL_HDF5(H5Oclose, (obj));
    PetscCheck(is_dataset, comm, PETSC_ERR_FILE_UNEXPECTED, "cannot write dataset %s in '%s': a group of that name exists", dataset, fname);
    WN_CALL_HDF5(H5Ldelete, (file, dataset, H5P_DEFAULT));
  }

  WN_CALL_HDF5_ID(fspace, H5Screate_simple, (ndim, dims, NULL));
  WN_CALL_HDF5_ID(dcpl, H5Pcreate, (H5P_DATASET_CREATE));
  row_bytes = (size_t)width * H5Tget_size(filetype);
  if (n_global > 0) {
    hsize_t chunk[2];

    if (chunk_rows <= 0) chunk_rows = (int64_t)(H5IO_CHUNK_BYTES / row_bytes);
    if (chunk_rows < 1) chunk_rows = 1;
    if (chunk_rows > n_global) chunk_rows = n_global;
    PetscCheck((double)chunk_rows * (double)row_bytes < 4294967295.0, comm, PETSC_ERR_ARG_OUTOFRANGE, "writing %s in '%s': a chunk of %lld rows of %zu bytes exceeds HDF5's 4 GiB chunk limit", dataset, fname, (long long)chunk_rows, row_bytes);
    chunk[0] = (hsize_t)chunk_rows;
    chunk[1] = (hsize_t)width;
    WN_CALL_HDF5(H5Pset_chunk, (dcpl, ndim, chunk));
    WN_CALL_HDF5(H5Pset_fill_time, (dcpl, H5D_FILL_TIME_NEVER)); /* every element is written below */
  }
  WN_CALL_HDF5_ID(lcpl, H5Pcreate, (H5P_LINK_CREATE));
  WN_CALL_HDF5(H5Pset_create_intermediate_group, (lcpl, 1));
  WN_CALL_HDF5_ID(dset, H5Dcreate2, (file, dataset, filetype, fspace, lcpl, dcpl, H5P_DEFAULT));

  WN_CALL_HDF5_ID(mspace, H5Screate_simple, (1, &n_elem, NULL));
  if (n_elem > 0) {
    WN_CALL_HDF5(H5Sselect_hyperslab, (fspace, H5S_SELECT_SET, start, NULL, count, NULL));
  } else {
    WN_CALL_HDF5(H5Sselect_none, (fspace));
    WN_CALL_HDF5(H5Sselect_none, (mspace));
  }
  /* An empty dataset has no storage; HDF5 1.10 fails a collective write to it even with empty selections. */
  if (n_global > 0) {
    WN_CALL_HDF5_ID(dxpl, H5Pcreate, (H5P_DATASET_XFER));
    WN_CALL_HDF5(H5Pset_dxpl_mpio, (dxpl, H5FD_MPIO_COLLECTIVE));
  WN_CALL_HDF5(H5Pset_dxpl_mpio_chunk_opt, (dxpl, H5FD_MPIO_CHUNK_ONE_IO)); /* all chunks in one collective call: chunk-by-chunk is 5-15x slower */
    {
      /* a failed write (disk full, quota, read-only file system) may happen on one aggregator rank only: agree on it,
       * so that every rank fails together with one message naming the file and the system's reason */
      herr_t st;
      int    err;
      errno = 0;
      st    = H5Dwrite(dset, memtype, mspace, fspace, dxpl, data);
      err   = errno;
      if (st < 0) h5io_poisoned = 1;
      char   why[128];
      WN_CHECK_ALL(comm, st >= 0, PETSC_ERR_FILE_WRITE, "cannot write dataset %s to '%s': %s (is the file system full, over quota or read-only?)", dataset, fname,
                   st < 0 ? h5io_write_reason(fname, err, why, sizeof(why)) : "");
    }
    WN_CALL_HDF5(H5Pclose, (dxpl));
  }
  WN_CALL_HDF5(H5Sclose, (mspace));
  WN_CALL_HDF5(H5Dclose, (dset));
  WN_CALL_HDF5(H5Pclose, (lcpl));
  WN_CALL_HDF5(H5Pclose, (dcpl));
  WN_CALL_HDF5(H5Sclose, (fspace));
  PetscFunctionReturn(PETSC_SUCCESS);
}

/**
  @brief Create a float32 dataset of n_global x n_cols (n_cols = 0: 1-D) and write this rank's rows.

  Collective on comm. Intermediate groups are created; an existing dataset of that name is replaced.
  The dataset is chunked along rows: chunk_rows rows per chunk, or (0) about 1 MiB of rows, at least one
  row and never more than the dataset.

  @param[in] comm        communicator of the file (borrowed)
  @param[in] file        open file
  @param[in] dataset     dataset path
  @param[in] n_global    rows in total (the sum of n_rows over ranks)
  @param[in] n_cols      columns, or 0 for a 1-D dataset
  @param[in] row_start   first global row written by this rank
  @param[in] n_rows      rows written by this rank (may be 0)
  @param[in] data        n_rows x max(n_cols, 1) floats, row-major (borrowed)
  @param[in] chunk_rows  rows per chunk, 0 = automatic
**/
PetscErrorCode wn_h5_write_rows_float(MPI_Comm comm, hid_t file, const char *dataset, int64_t n_global, int64_t n_cols, int64_t row_start, int64_t n_rows, const float *data, int64_t chunk_rows)
{
  PetscFunctionBeginUser;
  PetscCall(h5io_write(comm, file, dataset, H5T_IEEE_F32LE, H5T_NATIVE_FLOAT, n_global, n_cols, row_start, n_rows, data, chunk_rows));
  PetscFunctionReturn(PETSC_SUCCESS);
}

/**
  @brief Create a 1-D int64 dataset of n_global entries and write this rank's rows. Collective on comm.

  Same conventions as wn_h5_write_rows_float() (automatic chunking).
**/
PetscErrorCode wn_h5_write_rows_int64(MPI_Comm comm, hid_t file, const char *dataset, int64_t n_global, int64_t row_start, int64_t n_rows, const int64_t *data)
{
  PetscFunctionBeginUser;
  PetscCall(h5io_write(comm, file, dataset, H5T_STD_I64LE, H5T_NATIVE_INT64, n_global, 0, row_start, n_rows, data, 0));
  PetscFunctionReturn(PETSC_SUCCESS);
}

/**
  @brief Create a 1-D float64 dataset of n_global entries and write this rank's rows. Collective on comm.

  Same conventions as wn_h5_write_rows_float() (automatic chunking).
**/
PetscErrorCode wn_h5_write_rows_double(MPI_Comm comm, hid_t file, const char *dataset, int64_t n_global, int64_t row_start, int64_t n_rows, const double *data)
{
  PetscFunctionBeginUser;
  PetscCall(h5io_write(comm, file, dataset, H5T_IEEE_F64LE, H5T_NATIVE_DOUBLE, n_global, 0, row_start, n_rows, data, 0));
  PetscFunctionReturn(PETSC_SUCCESS);
}

/**
  @brief Create a 1-D uint8 dataset of n_global entries (flags) and write this rank's rows. Collective on comm.

  Same conventions as wn_h5_write_rows_float() (automatic chunking).
**/
PetscErrorCode wn_h5_write_rows_uint8(MPI_Comm comm, hid_t file, const char *dataset, int64_t n_global, int64_t row_start, int64_t n_rows, const unsigned char *data)
{
  PetscFunctionBeginUser;
  PetscCall(h5io_write(comm, file, dataset, H5T_STD_U8LE, H5T_NATIVE_UCHAR, n_global, 0, row_start, n_rows, data, 0));
  PetscFunctionReturn(PETSC_SUCCESS);
}

/**
  @brief Create a 1-D fixed-length string dataset (UTF-8, NUL-terminated) and write this rank's rows.

  Collective on comm. width (bytes per string, including the NUL) must be the same on every rank.

  @param[in] comm       communicator of the file (borrowed)
  @param[in] file       open file
  @param[in] dataset    dataset path
  @param[in] n_global   strings in total
  @param[in] row_start  first global row written by this rank
  @param[in] n_rows     strings written by this rank (may be 0)
  @param[in] data       n_rows x width bytes, NUL-padded (borrowed)
  @param[in] width      bytes per string, >= 1
**/
PetscErrorCode wn_h5_write_rows_strings(MPI_Comm comm, hid_t file, const char *dataset, int64_t n_global, int64_t row_start, int64_t n_rows, const char *data, size_t width)
{
  int64_t w[2] = {(int64_t)width, -(int64_t)width}, w_max[2];
  hid_t   type;

  PetscFunctionBeginUser;
  PetscCallMPI(MPI_Allreduce(w, w_max, 2, MPI_INT64_T, MPI_MAX, comm));
  PetscCheck(w_max[0] == -w_max[1], comm, PETSC_ERR_ARG_WRONG, "writing strings %s: the width differs between ranks (%lld to %lld bytes)", dataset, (long long)-w_max[1], (long long)w_max[0]);
  PetscCheck(width >= 1, comm, PETSC_ERR_ARG_OUTOFRANGE, "writing strings %s: the width must be >= 1", dataset);
  WN_CALL_HDF5_ID(type, H5Tcopy, (H5T_C_S1));
  WN_CALL_HDF5(H5Tset_size, (type, width));
  WN_CALL_HDF5(H5Tset_strpad, (type, H5T_STR_NULLTERM));
  WN_CALL_HDF5(H5Tset_cset, (type, H5T_CSET_UTF8));
  PetscCall(h5io_write(comm, file, dataset, type, type, n_global, 0, row_start, n_rows, data, 0));
  WN_CALL_HDF5(H5Tclose, (type));
  PetscFunctionReturn(PETSC_SUCCESS);
}

/* Open the object an attribute belongs to, after a collective existence check. */
static PetscErrorCode h5io_attr_object(MPI_Comm comm, hid_t file, const char *object, const char *name, hid_t *obj)
{
  PetscBool exists;
  char      fname[PETSC_MAX_PATH_LEN];

  PetscFunctionBeginUser;
  PetscCall(h5io_silence());
  PetscCall(wn_h5_exists(comm, file, object, &exists));
  PetscCheck(exists, comm, PETSC_ERR_FILE_UNEXPECTED, "attribute %s: object %s not found in '%s'", name, object, h5io_fname(file, fname, sizeof(fname)));
  WN_CALL_HDF5_ID(*obj, H5Oopen, (file, object[0] ? object : "/", H5P_DEFAULT));
  PetscFunctionReturn(PETSC_SUCCESS);
}

/* Write (replace) a scalar attribute. Collective: every rank passes the same value. */
static PetscErrorCode h5io_attr_write(MPI_Comm comm, hid_t file, const char *object, const char *name, hid_t filetype, hid_t memtype, const void *value)
{
  hid_t  obj, space, attr;
  htri_t exists;

  PetscFunctionBeginUser;
  PetscCall(h5io_attr_object(comm, file, object, name, &obj));
  exists = H5Aexists(obj, name);
  PetscCheck(exists >= 0, PETSC_COMM_SELF, PETSC_ERR_LIB, "HDF5 call H5Aexists() failed for attribute %s of %s", name, object);
  if (exists) WN_CALL_HDF5(H5Adelete, (obj, name));
  WN_CALL_HDF5_ID(space, H5Screate, (H5S_SCALAR));
  WN_CALL_HDF5_ID(attr, H5Acreate2, (obj, name, filetype, space, H5P_DEFAULT, H5P_DEFAULT));
  WN_CALL_HDF5(H5Awrite, (attr, memtype, value));
  WN_CALL_HDF5(H5Aclose, (attr));
  WN_CALL_HDF5(H5Sclose, (space));
  WN_CALL_HDF5(H5Oclose, (obj));
  PetscFunctionReturn(PETSC_SUCCESS);
}

/**
  @brief Write a scalar fixed-length string attribute (replacing one of that name).

  Collective on comm; every rank passes the same value.

  @param[in] comm    communicator of the file (borrowed)
  @param[in] file    open file
  @param[in] object  group or dataset path, "/" for the file
  @param[in] name    attribute name
  @param[in] value   NUL-terminated string (UTF-8)
**/
PetscErrorCode wn_h5_attr_write_string(MPI_Comm comm, hid_t file, const char *object, const char *name, const char *value)
{
  hid_t type;

  PetscFunctionBeginUser;
  WN_CALL_HDF5_ID(type, H5Tcopy, (H5T_C_S1));
  WN_CALL_HDF5(H5Tset_size, (type, strlen(value) + 1));
  WN_CALL_HDF5(H5Tset_strpad, (type, H5T_STR_NULLTERM));
  WN_CALL_HDF5(H5Tset_cset, (type, H5T_CSET_UTF8));
  PetscCall(h5io_attr_write(comm, file, object, name, type, type, value));
  WN_CALL_HDF5(H5Tclose, (type));
  PetscFunctionReturn(PETSC_SUCCESS);
}

/** @brief Write a scalar float64 attribute (replacing one of that name). Collective on comm; same value everywhere. **/
PetscErrorCode wn_h5_attr_write_double(MPI_Comm comm, hid_t file, const char *object, const char *name, double value)
{
  PetscFunctionBeginUser;
  PetscCall(h5io_attr_write(comm, file, object, name, H5T_IEEE_F64LE, H5T_NATIVE_DOUBLE, &value));
  PetscFunctionReturn(PETSC_SUCCESS);
}

/** @brief Write a scalar int64 attribute (replacing one of that name). Collective on comm; same value everywhere. **/
PetscErrorCode wn_h5_attr_write_int64(MPI_Comm comm, hid_t file, const char *object, const char *name, int64_t value)
{
  PetscFunctionBeginUser;
  PetscCall(h5io_attr_write(comm, file, object, name, H5T_STD_I64LE, H5T_NATIVE_INT64, &value));
  PetscFunctionReturn(PETSC_SUCCESS);
}

/* Open an attribute if present (*attr = -1 otherwise) and check it holds exactly one value. */
static PetscErrorCode h5io_attr_open(MPI_Comm comm, hid_t file, const char *object, const char *name, hid_t *obj, hid_t *attr)
{
  htri_t   exists;
  hid_t    space;
  hssize_t n;
  char     fname[PETSC_MAX_PATH_LEN];

  PetscFunctionBeginUser;
  *attr = -1;
  PetscCall(h5io_attr_object(comm, file, object, name, obj));
  exists = H5Aexists(*obj, name);
  PetscCheck(exists >= 0, PETSC_COMM_SELF, PETSC_ERR_LIB, "HDF5 call H5Aexists() failed for attribute %s of %s", name, object);
  if (!exists) PetscFunctionReturn(PETSC_SUCCESS);
  WN_CALL_HDF5_ID(*attr, H5Aopen, (*obj, name, H5P_DEFAULT));
  WN_CALL_HDF5_ID(space, H5Aget_space, (*attr));
  n = H5Sget_simple_extent_npoints(space);
  WN_CALL_HDF5(H5Sclose, (space));
  if (n != 1) {
    WN_CALL_HDF5(H5Aclose, (*attr));
    WN_CALL_HDF5(H5Oclose, (*obj));
  }
  PetscCheck(n == 1, comm, PETSC_ERR_FILE_UNEXPECTED, "attribute %s of %s in '%s' holds %lld values; expected one", name, object, h5io_fname(file, fname, sizeof(fname)), (long long)n);
  PetscFunctionReturn(PETSC_SUCCESS);
}

/**
  @brief Read a scalar string attribute (fixed or variable length).

  Collective on comm; every rank gets the same value. A value longer than len - 1 bytes is truncated.

  @param[in]  comm    communicator of the file (borrowed)
  @param[in]  file    open file
  @param[in]  object  group or dataset path, "/" for the file (must exist)
  @param[in]  name    attribute name
  @param[out] value   len bytes, NUL-terminated; "" when absent
  @param[in]  len     size of value
  @param[out] found   whether the attribute exists
**/
PetscErrorCode wn_h5_attr_read_string(MPI_Comm comm, hid_t file, const char *object, const char *name, char *value, size_t len, PetscBool *found)
{
  hid_t  obj, attr, atype, memtype;
  htri_t is_var;
  int    is_string;
  char   fname[PETSC_MAX_PATH_LEN], tname[64];

  PetscFunctionBeginUser;
  if (len) value[0] = 0;
  *found = PETSC_FALSE;
  PetscCall(h5io_attr_open(comm, file, object, name, &obj, &attr));
  if (attr >= 0) {
    WN_CALL_HDF5_ID(atype, H5Aget_type, (attr));
    is_string = H5Tget_class(atype) == H5T_STRING;
    h5io_type_name(atype, tname, sizeof(tname));
    if (!is_string) {
      WN_CALL_HDF5(H5Tclose, (atype));
      WN_CALL_HDF5(H5Aclose, (attr));
      WN_CALL_HDF5(H5Oclose, (obj));
    }
    PetscCheck(is_string, comm, PETSC_ERR_FILE_UNEXPECTED, "attribute %s of %s in '%s' has type %s; expected a string", name, object, h5io_fname(file, fname, sizeof(fname)), tname);
    is_var = H5Tis_variable_str(atype);
    PetscCheck(is_var >= 0, PETSC_COMM_SELF, PETSC_ERR_LIB, "HDF5 call H5Tis_variable_str() failed");
    WN_CALL_HDF5_ID(memtype, H5Tcopy, (atype));
    if (is_var) {
      char *s = NULL;

      WN_CALL_HDF5(H5Aread, (attr, memtype, &s));
      if (s && len) PetscCall(PetscStrncpy(value, s, len));
      if (s) H5free_memory(s);
    } else {
      size_t size = H5Tget_size(atype) + 1;
      char  *buf;

      WN_CALL_HDF5(H5Tset_size, (memtype, size));
      WN_CALL_HDF5(H5Tset_strpad, (memtype, H5T_STR_NULLTERM));
      PetscCall(PetscCalloc1(size, &buf));
      WN_CALL_HDF5(H5Aread, (attr, memtype, buf));
      if (len) PetscCall(PetscStrncpy(value, buf, len));
      PetscCall(PetscFree(buf));
    }
    WN_CALL_HDF5(H5Tclose, (memtype));
    WN_CALL_HDF5(H5Tclose, (atype));
    WN_CALL_HDF5(H5Aclose, (attr));
    *found = PETSC_TRUE;
  }
  WN_CALL_HDF5(H5Oclose, (obj));
  PetscFunctionReturn(PETSC_SUCCESS);
}

/**
  @brief Read a scalar numeric attribute (integer or float) as double.

  Collective on comm; every rank gets the same value.

  @param[in]  comm    communicator of the file (borrowed)
  @param[in]  file    open file
  @param[in]  object  group or dataset path, "/" for the file (must exist)
  @param[in]  name    attribute name
  @param[out] value   the value; left unchanged when the attribute is absent
  @param[out] found   whether the attribute exists
**/
PetscErrorCode wn_h5_attr_read_double(MPI_Comm comm, hid_t file, const char *object, const char *name, double *value, PetscBool *found)
{
  hid_t obj, attr, atype;
  int   is_number;
  char  fname[PETSC_MAX_PATH_LEN], tname[64];

  PetscFunctionBeginUser;
  *found = PETSC_FALSE;
  PetscCall(h5io_attr_open(comm, file, object, name, &obj, &attr));
  if (attr >= 0) {
    WN_CALL_HDF5_ID(atype, H5Aget_type, (attr));
    is_number = H5Tget_class(atype) == H5T_FLOAT || H5Tget_class(atype) == H5T_INTEGER;
    h5io_type_name(atype, tname, sizeof(tname));
    WN_CALL_HDF5(H5Tclose, (atype));
    if (!is_number) {
      WN_CALL_HDF5(H5Aclose, (attr));
      WN_CALL_HDF5(H5Oclose, (obj));
    }
    PetscCheck(is_number, comm, PETSC_ERR_FILE_UNEXPECTED, "attribute %s of %s in '%s' has type %s; expected a number", name, object, h5io_fname(file, fname, sizeof(fname)), tname);
    WN_CALL_HDF5(H5Aread, (attr, H5T_NATIVE_DOUBLE, value));
    WN_CALL_HDF5(H5Aclose, (attr));
    *found = PETSC_TRUE;
  }
  WN_CALL_HDF5(H5Oclose, (obj));
  PetscFunctionReturn(PETSC_SUCCESS);
}
