/* npy.c - NumPy .npy files: header parsing (format versions 1.0, 2.0, 3.0) and row reads by byte offset.
 *
 * Owns: the pure parser of the header's Python dict literal (keys in any order, any spacing, trailing
 * commas, 1-tuples), the dtype table (little-endian f4/f8/i8/i4; '|' only where byte order is moot),
 * the collective header read (rank 0 reads, everyone gets the header or the same error), pread of a
 * rank's own rows, and a serial version 1.0 writer for tests and tools.
 * Leaves to others: what the arrays mean and their validation as embeddings (data.c), HDF5 (h5io.c).
 * Assumes a little-endian host (checked at run time by the reader and the writer).
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include <winnow/npy.h>

#define NPY_MAGIC     "\x93NUMPY"
#define NPY_MAGIC_LEN 6
#define NPY_MAX_DIMS  8                   /* dims kept for messages; more are counted only */
#define NPY_MAX_HEADER (64 * 1024 * 1024) /* a header longer than this is not a real .npy file */
#define NPY_IO_CHUNK  (64 * 1024 * 1024)  /* bytes per pread call */

typedef struct {
  const unsigned char *p, *end;
} npy_cursor;

static int npy_host_is_little_endian(void)
{
  const uint16_t one = 1;
  unsigned char  b;

  memcpy(&b, &one, 1);
  return b == 1;
}

static void npy_skip_space(npy_cursor *c)
{
  while (c->p < c->end && (*c->p == ' ' || *c->p == '\t' || *c->p == '\n' || *c->p == '\r')) c->p++;
}

/* A quoted Python string ('...' or "..."), without escapes (none occur in .npy keys or simple descrs). */
static int npy_parse_string(npy_cursor *c, char *out, size_t outlen)
{
  unsigned char quote;
  size_t        n = 0;

  if (c->p >= c->end || (*c->p != '\'' && *c->p != '"')) return -1;
  quote = *c->p++;
  while (c->p < c->end && *c->p != quote) {
    if (n + 1 >= outlen) return -2;
    out[n++] = (char)*c->p++;
  }
  if (c->p >= c->end) return -1;
  c->p++;
  out[n] = 0;
  return 0;
}

static int npy_parse_word(npy_cursor *c, const char *word)
{
  size_t n = strlen(word);

  if ((size_t)(c->end - c->p) < n || memcmp(c->p, word, n)) return 0;
  c->p += n;
  return 1;
}

/* A shape tuple: "()", "(5,)", "(5)", "(3, 4)", "(3L, 4L)" (Python 2), trailing comma allowed. */
static int npy_parse_shape(npy_cursor *c, int *ndim, int64_t dims[NPY_MAX_DIMS], char *why, size_t whylen)
{
  int n = 0;

  if (c->p >= c->end || *c->p != '(') {
    snprintf(why, whylen, "header 'shape' is not a tuple");
    return -1;
  }
  c->p++;
  npy_skip_space(c);
  while (c->p < c->end && *c->p != ')') {
    int64_t v = 0;

    if (*c->p < '0' || *c->p > '9') {
      snprintf(why, whylen, "header 'shape' has a non-integer entry");
      return -1;
    }
    while (c->p < c->end && *c->p >= '0' && *c->p <= '9') {
      if (v > (INT64_MAX - 9) / 10) {
        snprintf(why, whylen, "header 'shape' has an entry too large for 64 bits");
        return -1;
      }
      v = 10 * v + (*c->p++ - '0');
    }
    if (c->p < c->end && (*c->p == 'L' || *c->p == 'l')) c->p++;
    if (n < NPY_MAX_DIMS) dims[n] = v;
    n++;
    npy_skip_space(c);
    if (c->p < c->end && *c->p == ',') {
      c->p++;
      npy_skip_space(c);
    } else if (c->p < c->end && *c->p != ')') {
      snprintf(why, whylen, "header 'shape' is malformed (expected ',' or ')')");
      return -1;
    }
  }
  if (c->p >= c->end) {
    snprintf(why, whylen, "header 'shape' is not closed");
    return -1;
  }
  c->p++;
  *ndim = n;
  return 0;
}

/* Map a descr such as '<f4' to a dtype; reject byte orders that do not fit this (little-endian) host. */
static int npy_parse_descr(const char *descr, wn_dtype *dtype, int *itemsize, char *why, size_t whylen)
{
  char order, kind;
  int  size = 0;

  *dtype    = WN_DTYPE_OTHER;
  *itemsize = 0;
  if (strlen(descr) < 2) {
    snprintf(why, whylen, "header 'descr' '%s' is not a dtype", descr);
    return -1;
  }
  order = descr[0];
  kind  = descr[1];
  if (order != '<' && order != '>' && order != '|' && order != '=') {
    snprintf(why, whylen, "header 'descr' '%s' has no byte-order character", descr);
    return -1;
  }
  for (const char *q = descr + 2; *q >= '0' && *q <= '9' && size < 100000000; q++) size = 10 * size + (*q - '0');
  if (kind == 'O') {
    snprintf(why, whylen, "dtype '%s' is a Python object array (pickled data), which is not supported", descr);
    return -1;
  }
  if (order == '>' && size > 1) {
    snprintf(why, whylen, "big-endian dtype '%s' is not supported", descr);
    return -1;
  }
  if (order == '|' && size > 1 && strchr("fiuc", kind)) {
    snprintf(why, whylen, "dtype '%s' has byte order '|', which is only meaningful for 1-byte types", descr);
    return -1;
  }
  /* '=' is "native"; numpy resolves it when writing, so it only appears in hand-made files (treated as '<'). */
  *itemsize = (kind == 'U') ? 4 * size : size;
  if (kind == 'f' && size == 4) *dtype = WN_DTYPE_F32;
  else if (kind == 'f' && size == 8) *dtype = WN_DTYPE_F64;
  else if (kind == 'i' && size == 8) *dtype = WN_DTYPE_I64;
  else if (kind == 'i' && size == 4) *dtype = WN_DTYPE_I32;
  return 0;
}

static void npy_format_shape(int ndim, const int64_t *dims, char *buf, size_t len)
{
  size_t used = 0;

  used += (size_t)snprintf(buf, len, "(");
  for (int i = 0; i < ndim && i < NPY_MAX_DIMS && used < len; i++) used += (size_t)snprintf(buf + used, len - used, i ? ", %lld" : "%lld", (long long)dims[i]);
  if (ndim > NPY_MAX_DIMS && used < len) used += (size_t)snprintf(buf + used, len - used, ", ...");
  if (ndim == 1 && used < len) used += (size_t)snprintf(buf + used, len - used, ",");
  if (used < len) snprintf(buf + used, len - used, ")");
}

/**
  @brief Parse the header of a .npy file held in memory.

  Not collective; pure. Accepts format versions 1.0 (2-byte header length), 2.0 and 3.0 (4-byte length;
  3.0 declares a UTF-8 header, which for the three ASCII keys parses the same). The dict literal may list
  'descr', 'fortran_order' and 'shape' in any order, with any spacing and trailing commas; each must
  appear exactly once. fortran_order True is rejected unless the layout is the same as C order
  (1-D, or a dimension of length <= 1).

  @param[in]  buf     the first len bytes of the file (borrowed)
  @param[in]  len     bytes available in buf (the file size when the file is shorter than its header)
  @param[out] h       parsed header (dtype WN_DTYPE_OTHER for types winnow does not read)
  @param[out] why     on failure, a one-line reason (may be NULL)
  @param[in]  whylen  size of why

  @return 0 on success, -1 on failure.
**/
int wn_npy_parse_header(const unsigned char *buf, size_t len, wn_npy_header *h, char *why, size_t whylen)
{
  char       scratch[256];
  size_t     prefix, hlen;
  npy_cursor c;
  int        have_descr = 0, have_fortran = 0, have_shape = 0, fortran = 0, ndim = 0;
  int64_t    dims[NPY_MAX_DIMS] = {0};

  if (!why || !whylen) {
    why    = scratch;
    whylen = sizeof(scratch);
  }
  why[0] = 0;
  memset(h, 0, sizeof(*h));
  if (len < NPY_MAGIC_LEN || memcmp(buf, NPY_MAGIC, NPY_MAGIC_LEN)) {
    snprintf(why, whylen, "not a .npy file (bad magic)");
    return -1;
  }
  if (len < 10) {
    snprintf(why, whylen, "header is truncated: needs at least 10 bytes, file has %zu", len);
    return -1;
  }
  h->major = buf[6];
  h->minor = buf[7];
  if (h->major == 1 && h->minor == 0) {
    hlen   = (size_t)buf[8] | ((size_t)buf[9] << 8);
    prefix = 10;
  } else if ((h->major == 2 || h->major == 3) && h->minor == 0) {
    if (len < 12) {
      snprintf(why, whylen, "header is truncated: needs at least 12 bytes, file has %zu", len);
      return -1;
    }
    hlen   = (size_t)buf[8] | ((size_t)buf[9] << 8) | ((size_t)buf[10] << 16) | ((size_t)buf[11] << 24);
    prefix = 12;
  } else {
    snprintf(why, whylen, "unsupported .npy format version %d.%d (supported: 1.0, 2.0, 3.0)", h->major, h->minor);
    return -1;
  }
  if (len < prefix + hlen) {
    snprintf(why, whylen, "header is truncated: needs %zu bytes, file has %zu", prefix + hlen, len);
    return -1;
  }
  h->data_offset = prefix + hlen;

  c.p   = buf + prefix;
  c.end = buf + prefix + hlen;
  npy_skip_space(&c);
  if (c.p >= c.end || *c.p != '{') {
    snprintf(why, whylen, "header is not a Python dict literal (no '{')");
    return -1;
  }
  c.p++;
  for (;;) {
    char key[64];
    int  rc;

    npy_skip_space(&c);
    if (c.p < c.end && *c.p == '}') break;
    rc = npy_parse_string(&c, key, sizeof(key));
    if (rc) {
      snprintf(why, whylen, "header dict is malformed (expected a quoted key or '}')");
      return -1;
    }
    npy_skip_space(&c);
    if (c.p >= c.end || *c.p != ':') {
      snprintf(why, whylen, "header dict is malformed (no ':' after key '%s')", key);
      return -1;
    }
    c.p++;
    npy_skip_space(&c);
    if (!strcmp(key, "descr")) {
      if (have_descr++) {
        snprintf(why, whylen, "header has key 'descr' twice");
        return -1;
      }
      rc = npy_parse_string(&c, h->descr, sizeof(h->descr));
      if (rc) {
        snprintf(why, whylen, rc == -2 ? "header 'descr' is too long for a simple dtype" : "header 'descr' is not a simple dtype string (structured dtypes are not supported)");
        return -1;
      }
    } else if (!strcmp(key, "fortran_order")) {
      if (have_fortran++) {
        snprintf(why, whylen, "header has key 'fortran_order' twice");
        return -1;
      }
      if (npy_parse_word(&c, "True")) fortran = 1;
      else if (npy_parse_word(&c, "False")) fortran = 0;
      else {
        snprintf(why, whylen, "header 'fortran_order' is neither True nor False");
        return -1;
      }
    } else if (!strcmp(key, "shape")) {
      if (have_shape++) {
        snprintf(why, whylen, "header has key 'shape' twice");
        return -1;
      }
      if (npy_parse_shape(&c, &ndim, dims, why, whylen)) return -1;
    } else {
      snprintf(why, whylen, "header has an unexpected key '%s' (expected 'descr', 'fortran_order', 'shape')", key);
      return -1;
    }
    npy_skip_space(&c);
    if (c.p < c.end && *c.p == ',') {
      c.p++;
      continue;
    }
    npy_skip_space(&c);
    if (c.p < c.end && *c.p == '}') break;
    snprintf(why, whylen, "header dict is malformed (expected ',' or '}' after key '%s')", key);
    return -1;
  }
  if (!have_descr || !have_fortran || !have_shape) {
    snprintf(why, whylen, "header is missing key '%s'", !have_descr ? "descr" : !have_fortran ? "fortran_order" : "shape");
    return -1;
  }
  if (npy_parse_descr(h->descr, &h->dtype, &h->itemsize, why, whylen)) return -1;
  if (ndim == 0 || ndim > 2) {
    char shape[128];

    npy_format_shape(ndim, dims, shape, sizeof(shape));
    snprintf(why, whylen, "%d-D array (shape %s) is not supported: expected N x d or N", ndim, shape);
    return -1;
  }
  if (fortran && ndim == 2 && dims[0] > 1 && dims[1] > 1) {
    snprintf(why, whylen, "header declares fortran_order True: only C order is supported");
    return -1;
  }
  h->ndim     = ndim;
  h->shape[0] = dims[0];
  h->shape[1] = ndim == 2 ? dims[1] : 1;
  return 0;
}

/* Rank 0's part of wn_npy_read_header: returns 0, or an error code with msg filled. */
static PetscErrorCode npy_read_header_local(const char *path, wn_npy_header *h, char *msg, size_t msglen, PetscErrorCode *code)
{
  int            fd;
  struct stat    st;
  unsigned char  start[12];
  unsigned char *buf  = NULL;
  size_t         want = 0, got;
  ssize_t        r;
  char           why[512];

  PetscFunctionBeginUser;
  *code = 0;
  fd    = open(path, O_RDONLY);
  if (fd < 0) {
    snprintf(msg, msglen, "cannot open '%s': %s", path, strerror(errno));
    *code = PETSC_ERR_FILE_OPEN;
    PetscFunctionReturn(PETSC_SUCCESS);
  }
  if (fstat(fd, &st) || !S_ISREG(st.st_mode)) {
    snprintf(msg, msglen, "cannot read '%s': not a regular file", path);
    *code = PETSC_ERR_FILE_READ;
    close(fd);
    PetscFunctionReturn(PETSC_SUCCESS);
  }
  r = pread(fd, start, sizeof(start), 0);
  got = r > 0 ? (size_t)r : 0;
  if (got >= 10 && !memcmp(start, NPY_MAGIC, NPY_MAGIC_LEN)) {
    if (start[6] == 1) want = 10 + ((size_t)start[8] | ((size_t)start[9] << 8));
    else if ((start[6] == 2 || start[6] == 3) && got >= 12) want = 12 + ((size_t)start[8] | ((size_t)start[9] << 8) | ((size_t)start[10] << 16) | ((size_t)start[11] << 24));
  }
  if (want > got) {
    /* Read the whole header (at most the file), so the parser can tell a truncated one by its length. */
    size_t have = want < (size_t)st.st_size ? want : (size_t)st.st_size;

    if (have > NPY_MAX_HEADER) {
      snprintf(msg, msglen, "'%s' is not a usable .npy file: header length %zu is implausible", path, want);
      *code = PETSC_ERR_FILE_UNEXPECTED;
      close(fd);
      PetscFunctionReturn(PETSC_SUCCESS);
    }
    PetscCall(PetscMalloc1(have, &buf));
    got = 0;
    while (got < have) {
      r = pread(fd, buf + got, have - got, (off_t)got);
      if (r < 0 && errno == EINTR) continue;
      if (r <= 0) break;
      got += (size_t)r;
    }
  }
  close(fd);
  if (wn_npy_parse_header(buf ? buf : start, got, h, why, sizeof(why))) {
    snprintf(msg, msglen, "'%s': %s", path, why);
    *code = PETSC_ERR_FILE_UNEXPECTED;
  } else if (h->itemsize > 0) {
    /* The data must be all there: rows x cols x itemsize bytes after the header. */
    double need = (double)h->shape[0] * (double)h->shape[1] * (double)h->itemsize;
    double have = (double)st.st_size - (double)h->data_offset;

    if (need > have) {
      snprintf(msg, msglen, "truncated .npy '%s': shape (%lld, %lld) of '%s' expects %.0f bytes of data, file has %.0f", path, (long long)h->shape[0], (long long)h->shape[1], h->descr, need, have);
      *code = PETSC_ERR_FILE_UNEXPECTED;
    }
  }
  PetscCall(PetscFree(buf));
  PetscFunctionReturn(PETSC_SUCCESS);
}

/**
  @brief Read and check the header of a .npy file; every rank gets the same header.

  Collective on comm. Rank 0 opens the file, parses the header and checks that the file holds all the data
  the shape declares; the verdict is shared, so a missing, malformed or truncated file gives one error,
  printed by rank 0, naming the file.

  @param[in]  comm  communicator (borrowed)
  @param[in]  path  .npy file, same on every rank
  @param[out] h     header, identical on every rank
**/
PetscErrorCode wn_npy_read_header(MPI_Comm comm, const char *path, wn_npy_header *h)
{
  PetscMPIInt    rank;
  PetscErrorCode code = 0;
  int            code_int;
  char           msg[1024] = "";

  PetscFunctionBeginUser;
  PetscCallMPI(MPI_Comm_rank(comm, &rank));
  PetscCheck(npy_host_is_little_endian(), comm, PETSC_ERR_SUP, "reading .npy files needs a little-endian host");
  memset(h, 0, sizeof(*h));
  if (rank == 0) PetscCall(npy_read_header_local(path, h, msg, sizeof(msg), &code));
  code_int = (int)code;
  PetscCallMPI(MPI_Bcast(&code_int, 1, MPI_INT, 0, comm));
  WN_CHECK_ALL(comm, code_int == 0, (PetscErrorCode)code_int, "%s", msg);
  PetscCallMPI(MPI_Bcast(h, (int)sizeof(*h), MPI_BYTE, 0, comm));
  PetscFunctionReturn(PETSC_SUCCESS);
}

/* pread exactly len bytes at off, looping over short reads. */
static PetscErrorCode npy_pread_all(int fd, const char *path, void *dst, size_t len, off_t off)
{
  unsigned char *p    = (unsigned char *)dst;
  size_t         done = 0;

  PetscFunctionBeginUser;
  while (done < len) {
    size_t  want = len - done < (size_t)NPY_IO_CHUNK ? len - done : (size_t)NPY_IO_CHUNK;
    ssize_t r    = pread(fd, p + done, want, off + (off_t)done);

    if (r < 0 && errno == EINTR) continue;
    PetscCheck(r >= 0, PETSC_COMM_SELF, PETSC_ERR_FILE_READ, "cannot read '%s' at byte %lld: %s", path, (long long)(off + (off_t)done), strerror(errno));
    PetscCheck(r > 0, PETSC_COMM_SELF, PETSC_ERR_FILE_UNEXPECTED, "'%s' ends at byte %lld; expected %zu more bytes (file truncated?)", path, (long long)(off + (off_t)done), len - done);
    done += (size_t)r;
  }
  PetscFunctionReturn(PETSC_SUCCESS);
}

/* Common part of the row readers: open and check the requested row range. */
static PetscErrorCode npy_open_rows(const char *path, const wn_npy_header *h, int64_t row_start, int64_t n_rows, int *fd)
{
  PetscFunctionBeginUser;
  PetscCheck(npy_host_is_little_endian(), PETSC_COMM_SELF, PETSC_ERR_SUP, "reading .npy files needs a little-endian host");
  PetscCheck(row_start >= 0 && n_rows >= 0 && row_start + n_rows <= h->shape[0], PETSC_COMM_SELF, PETSC_ERR_ARG_OUTOFRANGE, "rows [%lld, %lld) are outside the %lld rows of '%s'", (long long)row_start, (long long)(row_start + n_rows), (long long)h->shape[0], path);
  *fd = open(path, O_RDONLY);
  PetscCheck(*fd >= 0, PETSC_COMM_SELF, PETSC_ERR_FILE_OPEN, "cannot open '%s': %s", path, strerror(errno));
  PetscFunctionReturn(PETSC_SUCCESS);
}

/**
  @brief Read rows [row_start, row_start + n_rows) of a float32/float64 .npy file as float32.

  Not collective: each rank reads only its own byte range with pread (no rank reads the whole file).
  float64 values are rounded to float32.

  @param[in]  path       .npy file
  @param[in]  h          its header (from wn_npy_read_header)
  @param[in]  row_start  first global row
  @param[in]  n_rows     rows to read (may be 0)
  @param[out] out        n_rows x h->shape[1] floats, row-major, caller-allocated
**/
PetscErrorCode wn_npy_read_rows_float(const char *path, const wn_npy_header *h, int64_t row_start, int64_t n_rows, float *out)
{
  int     fd;
  int64_t cols = h->shape[1];
  off_t   off;

  PetscFunctionBeginUser;
  PetscCheck(h->dtype == WN_DTYPE_F32 || h->dtype == WN_DTYPE_F64, PETSC_COMM_SELF, PETSC_ERR_FILE_UNEXPECTED, "'%s' has dtype '%s'; expected float32 or float64 ('<f4' or '<f8')", path, h->descr);
  if (n_rows == 0) PetscFunctionReturn(PETSC_SUCCESS);
  PetscCall(npy_open_rows(path, h, row_start, n_rows, &fd));
  off = (off_t)h->data_offset + (off_t)row_start * (off_t)cols * (off_t)h->itemsize;
  if (h->dtype == WN_DTYPE_F32) {
    PetscErrorCode ierr = npy_pread_all(fd, path, out, (size_t)n_rows * (size_t)cols * sizeof(float), off);

    close(fd);
    PetscCall(ierr);
  } else {
    /* Convert through a bounded buffer, so a rank never holds its block twice in float64. */
    const size_t   total = (size_t)n_rows * (size_t)cols, piece = NPY_IO_CHUNK / sizeof(double);
    double        *tmp;
    PetscErrorCode ierr = PETSC_SUCCESS;

    PetscCall(PetscMalloc1(total < piece ? total : piece, &tmp));
    for (size_t done = 0; done < total && !ierr;) {
      size_t n = total - done < piece ? total - done : piece;

      ierr = npy_pread_all(fd, path, tmp, n * sizeof(double), off + (off_t)(done * sizeof(double)));
      if (!ierr)
        for (size_t i = 0; i < n; i++) out[done + i] = (float)tmp[i];
      done += n;
    }
    close(fd);
    PetscCall(PetscFree(tmp));
    PetscCall(ierr);
  }
  PetscFunctionReturn(PETSC_SUCCESS);
}

/**
  @brief Read rows [row_start, row_start + n_rows) of a 1-D (or N x 1) int64/int32 .npy file as int64.

  Not collective: each rank reads its own byte range with pread.

  @param[in]  path       .npy file
  @param[in]  h          its header
  @param[in]  row_start  first global row
  @param[in]  n_rows     rows to read (may be 0)
  @param[out] out        n_rows int64 values, caller-allocated
**/
PetscErrorCode wn_npy_read_rows_int64(const char *path, const wn_npy_header *h, int64_t row_start, int64_t n_rows, int64_t *out)
{
  int            fd;
  off_t          off;
  PetscErrorCode ierr;

  PetscFunctionBeginUser;
  PetscCheck(h->dtype == WN_DTYPE_I64 || h->dtype == WN_DTYPE_I32, PETSC_COMM_SELF, PETSC_ERR_FILE_UNEXPECTED, "'%s' has dtype '%s'; expected int64 or int32 ('<i8' or '<i4')", path, h->descr);
  PetscCheck(h->shape[1] == 1, PETSC_COMM_SELF, PETSC_ERR_FILE_UNEXPECTED, "'%s' has shape (%lld, %lld); expected a 1-D array of ids", path, (long long)h->shape[0], (long long)h->shape[1]);
  if (n_rows == 0) PetscFunctionReturn(PETSC_SUCCESS);
  PetscCall(npy_open_rows(path, h, row_start, n_rows, &fd));
  off = (off_t)h->data_offset + (off_t)row_start * (off_t)h->itemsize;
  if (h->dtype == WN_DTYPE_I64) {
    ierr = npy_pread_all(fd, path, out, (size_t)n_rows * sizeof(int64_t), off);
  } else {
    int32_t *tmp;

    PetscCall(PetscMalloc1(n_rows, &tmp));
    ierr = npy_pread_all(fd, path, tmp, (size_t)n_rows * sizeof(int32_t), off);
    if (!ierr)
      for (int64_t i = 0; i < n_rows; i++) out[i] = tmp[i];
    PetscCall(PetscFree(tmp));
  }
  close(fd);
  PetscCall(ierr);
  PetscFunctionReturn(PETSC_SUCCESS);
}

/**
  @brief Write a rows x cols float32 array as a version 1.0 .npy file (C order, '<f4').

  Not collective (serial; used by tests and tools). The header is padded with spaces so the data start
  on a 64-byte boundary, as numpy does.

  @param[in] path  file to create or truncate
  @param[in] rows  number of rows
  @param[in] cols  number of columns (>= 1)
  @param[in] data  rows x cols floats, row-major (borrowed)
**/
PetscErrorCode wn_npy_write_float(const char *path, int64_t rows, int64_t cols, const float *data)
{
  char   header[256];
  int    n;
  size_t total, hlen, written;
  FILE  *fp;

  PetscFunctionBeginUser;
  PetscCheck(npy_host_is_little_endian(), PETSC_COMM_SELF, PETSC_ERR_SUP, "writing .npy files needs a little-endian host");
  PetscCheck(rows >= 0 && cols >= 1, PETSC_COMM_SELF, PETSC_ERR_ARG_OUTOFRANGE, "cannot write a %lld x %lld array to '%s'", (long long)rows, (long long)cols, path);
  n = snprintf(header + 10, sizeof(header) - 10, "{'descr': '<f4', 'fortran_order': False, 'shape': (%lld, %lld), }", (long long)rows, (long long)cols);
  total = ((10 + (size_t)n + 1 + 63) / 64) * 64; /* + 1 for the newline */
  hlen  = total - 10;
  memcpy(header, NPY_MAGIC, NPY_MAGIC_LEN);
  header[6] = 1;
  header[7] = 0;
  header[8] = (char)(hlen & 0xff);
  header[9] = (char)(hlen >> 8);
  memset(header + 10 + n, ' ', total - 10 - (size_t)n);
  header[total - 1] = '\n';
  fp = fopen(path, "wb");
  PetscCheck(fp, PETSC_COMM_SELF, PETSC_ERR_FILE_OPEN, "cannot create '%s': %s", path, strerror(errno));
  written = fwrite(header, 1, total, fp);
  if (written == total && rows > 0) written += fwrite(data, sizeof(float), (size_t)rows * (size_t)cols, fp) * sizeof(float);
  n = fclose(fp);
  PetscCheck(written == total + (size_t)rows * (size_t)cols * sizeof(float) && n == 0, PETSC_COMM_SELF, PETSC_ERR_FILE_WRITE, "cannot write '%s': %s", path, strerror(errno));
  PetscFunctionReturn(PETSC_SUCCESS);
}
