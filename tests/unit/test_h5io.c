/* test_h5io.c - check suite for src/h5io.c.
 *
 * distributed (1-4 ranks): write/read round trips of float rows, int64/double/uint8/string columns with
 * N not divisible by P and N < P (ranks with no rows), reads with another split than the write, chunk
 * shapes, transposed column reads against a brute force, files written by plain serial HDF5 (float64,
 * int32, variable-length and space/NUL-padded strings, 3-D), attributes, existence checks, and the
 * error paths (each must return nonzero on every rank, not hang, and name the file and dataset).
 */
#include <dirent.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <winnow/h5io.h>
#include <winnow/layout.h>
#include "wn_test.h"

#define COMM PETSC_COMM_WORLD

/* ---- helpers (same as in the other I/O suites) ------------------------------------------------- */

static int rank_of(void)
{
  int r;
  MPI_Comm_rank(COMM, &r);
  return r;
}

static int size_of(void)
{
  int s;
  MPI_Comm_size(COMM, &s);
  return s;
}

static float   fval(int64_t i, int64_t j) { return (float)(100 * i + j) + 0.5f; }
static int64_t ival(int64_t i) { return 3000000000LL - 11 * i; }
static double  dval(int64_t i) { return 1.0 / (double)(i + 3); }
static unsigned char uval(int64_t i) { return (unsigned char)((7 * i) % 256); }

/* String of row i: "s" then i copies of 'x' (cut to 9), so lengths vary. */
static void sval(int64_t i, char *buf, size_t w)
{
  int64_t n = i % 10;

  memset(buf, 0, w);
  buf[0] = 's';
  for (int64_t k = 0; k < n; k++) buf[1 + k] = 'x';
}

static int64_t chunk_rows_of(hid_t file, const char *dataset)
{
  hid_t   d = H5Dopen2(file, dataset, H5P_DEFAULT), p;
  hsize_t c[2] = {0, 0};

  if (d < 0) return -1;
  p = H5Dget_create_plist(d);
  if (H5Pget_layout(p) != H5D_CHUNKED) c[0] = 0;
  else H5Pget_chunk(p, 2, c);
  H5Pclose(p);
  H5Dclose(d);
  return (int64_t)c[0];
}

/* ---- round trips ------------------------------------------------------------------------------- */

static void round_trip(const char *dir, int64_t n, int64_t d)
{
  char          path[PETSC_MAX_PATH_LEN];
  hid_t         file = -1;
  wn_layout     L;
  const size_t  w = 11;
  float        *f;
  int64_t      *iv;
  double       *dv;
  unsigned char *uv;
  char         *sv, *sread = NULL;
  size_t        width = 0;
  wn_h5_info    info;
  int           ok = 1;
  int64_t       start, count;

  snprintf(path, sizeof(path), "%s/rt_%lld_%lld.h5", dir, (long long)n, (long long)d);
  WN_CK_OK(wn_layout_init(COMM, n, &L));
  f  = calloc((size_t)(L.n_local * d + 1), sizeof(float));
  iv = calloc((size_t)(L.n_local + 1), sizeof(int64_t));
  dv = calloc((size_t)(L.n_local + 1), sizeof(double));
  uv = calloc((size_t)(L.n_local + 1), 1);
  sv = calloc((size_t)(L.n_local + 1) * w, 1);
  for (int64_t i = 0; i < L.n_local; i++) {
    int64_t g = L.row_start + i;
    for (int64_t j = 0; j < d; j++) f[i * d + j] = fval(g, j);
    iv[i] = ival(g);
    dv[i] = dval(g);
    uv[i] = uval(g);
    sval(g, sv + i * w, w);
  }
  OK_ALL(wn_h5_create(COMM, path, &file));
  OK_ALL(wn_h5_write_rows_float(COMM, file, "/emb/x", n, d, L.row_start, L.n_local, f, 0));
  OK_ALL(wn_h5_write_rows_float(COMM, file, "/emb/chunked", n, d, L.row_start, L.n_local, f, 4));
  OK_ALL(wn_h5_write_rows_float(COMM, file, "/emb/flat", n, 0, L.row_start, L.n_local, f, 0)); /* 1-D: first column only if d = 1 */
  OK_ALL(wn_h5_write_rows_int64(COMM, file, "/cols/i64", n, L.row_start, L.n_local, iv));
  OK_ALL(wn_h5_write_rows_double(COMM, file, "/cols/f64", n, L.row_start, L.n_local, dv));
  OK_ALL(wn_h5_write_rows_uint8(COMM, file, "/cols/u8", n, L.row_start, L.n_local, uv));
  OK_ALL(wn_h5_write_rows_strings(COMM, file, "/cols/s", n, L.row_start, L.n_local, sv, w));
  /* Writing a dataset again replaces it. */
  OK_ALL(wn_h5_write_rows_int64(COMM, file, "/cols/i64", n, L.row_start, L.n_local, iv));
  if (n > 0) {
    WN_CK_ASSERT_ALL(COMM, chunk_rows_of(file, "/emb/x") == n); /* ~1 MiB of rows, never more than the dataset */
    WN_CK_ASSERT_ALL(COMM, chunk_rows_of(file, "/emb/chunked") == (n < 4 ? n : 4));
  }
  OK_ALL(wn_h5_close(&file));
  WN_CK_ASSERT_ALL(COMM, file == -1);

  OK_ALL(wn_h5_open(COMM, path, PETSC_FALSE, &file));
  OK_ALL(wn_h5_info_get(COMM, file, path, "/emb/x", &info));
  WN_CK_ASSERT_ALL(COMM, info.ndim == 2 && info.dims[0] == n && info.dims[1] == d && info.dtype == WN_DTYPE_F32 && !info.is_string);
  OK_ALL(wn_h5_info_get(COMM, file, NULL, "/cols/i64", &info));
  WN_CK_ASSERT_ALL(COMM, info.ndim == 1 && info.dims[0] == n && info.dims[1] == 1 && info.dtype == WN_DTYPE_I64);
  OK_ALL(wn_h5_info_get(COMM, file, NULL, "/cols/f64", &info));
  WN_CK_ASSERT_ALL(COMM, info.dtype == WN_DTYPE_F64);
  OK_ALL(wn_h5_info_get(COMM, file, NULL, "/cols/u8", &info));
  WN_CK_ASSERT_ALL(COMM, info.dtype == WN_DTYPE_OTHER && !info.is_string);
  OK_ALL(wn_h5_info_get(COMM, file, NULL, "/cols/s", &info));
  WN_CK_ASSERT_ALL(COMM, info.is_string && info.dims[0] == n);

  /* Read with the mirrored split (rank r reads what rank P-1-r wrote). */
  wn_layout_range(n, size_of(), size_of() - 1 - rank_of(), &start, &count);
  {
    float         *f2 = calloc((size_t)(count * d + 1), sizeof(float));
    int64_t       *i2 = calloc((size_t)(count + 1), sizeof(int64_t));
    double        *d2 = calloc((size_t)(count + 1), sizeof(double));
    char           expect[16];

    OK_ALL(wn_h5_read_rows_float(COMM, file, "/emb/x", start, count, d, f2));
    for (int64_t i = 0; i < count; i++)
      for (int64_t j = 0; j < d; j++) ok &= f2[i * d + j] == fval(start + i, j);
    WN_CK_ASSERT_ALL(COMM, ok);
    OK_ALL(wn_h5_read_rows_float(COMM, file, "/emb/chunked", start, count, d, f2));
    for (int64_t i = 0; i < count; i++)
      for (int64_t j = 0; j < d; j++) ok &= f2[i * d + j] == fval(start + i, j);
    WN_CK_ASSERT_ALL(COMM, ok);
    OK_ALL(wn_h5_read_rows_int64(COMM, file, "/cols/i64", start, count, i2));
    for (int64_t i = 0; i < count; i++) ok &= i2[i] == ival(start + i);
    WN_CK_ASSERT_ALL(COMM, ok);
    OK_ALL(wn_h5_read_rows_double(COMM, file, "/cols/f64", start, count, d2));
    for (int64_t i = 0; i < count; i++) ok &= d2[i] == dval(start + i);
    WN_CK_ASSERT_ALL(COMM, ok);
    /* Conversions: uint8 -> int64, int64 -> double, float64 -> float32 (1-D as n x 1). */
    OK_ALL(wn_h5_read_rows_int64(COMM, file, "/cols/u8", start, count, i2));
    for (int64_t i = 0; i < count; i++) ok &= i2[i] == uval(start + i);
    WN_CK_ASSERT_ALL(COMM, ok);
    OK_ALL(wn_h5_read_rows_double(COMM, file, "/cols/i64", start, count, d2));
    for (int64_t i = 0; i < count; i++) ok &= d2[i] == (double)ival(start + i);
    WN_CK_ASSERT_ALL(COMM, ok);
    OK_ALL(wn_h5_read_rows_float(COMM, file, "/cols/f64", start, count, 1, f2));
    for (int64_t i = 0; i < count; i++) ok &= f2[i] == (float)dval(start + i);
    WN_CK_ASSERT_ALL(COMM, ok);
    /* Strings: width is the longest string over all rows + 1, the same on every rank. */
    OK_ALL(wn_h5_read_rows_strings(COMM, file, "/cols/s", start, count, &sread, &width));
    {
      int64_t longest = 0;
      for (int64_t g = 0; g < n && g < 10; g++) longest = g + 1 > longest ? g + 1 : longest;
      WN_CK_ASSERT_ALL(COMM, width == (size_t)longest + 1);
    }
    for (int64_t i = 0; i < count; i++) {
      sval(start + i, expect, sizeof(expect));
      ok &= !strcmp(sread + i * width, expect);
    }
    WN_CK_ASSERT_ALL(COMM, ok);
    WN_CK_ASSERT_ALL(COMM, (count == 0) == (sread == NULL));
    PetscFree(sread);
    free(f2);
    free(i2);
    free(d2);
  }
  OK_ALL(wn_h5_close(&file));
  free(f);
  free(iv);
  free(dv);
  free(uv);
  free(sv);
}

START_TEST(rows_round_trip)
{
  char dir[256];

  wn_test_tmpdir_make(dir, sizeof(dir));
  round_trip(dir, 13, 5); /* uneven on 2, 3, 4 ranks */
  round_trip(dir, 2, 3);  /* N < P on 3 and 4 ranks */
  round_trip(dir, 1, 1);
  round_trip(dir, 0, 2);  /* empty datasets */
  wn_test_tmpdir_remove(dir);
}
END_TEST

/* ---- transposed column reads -------------------------------------------------------------------- */

static void transposed(const char *dir, int64_t rows, int64_t cols)
{
  char      path[PETSC_MAX_PATH_LEN];
  hid_t     file = -1;
  wn_layout Lr, Lc;
  float    *block, *out;
  int       ok = 1;

  snprintf(path, sizeof(path), "%s/tr_%lld_%lld.h5", dir, (long long)rows, (long long)cols);
  WN_CK_OK(wn_layout_init(COMM, rows, &Lr));
  block = calloc((size_t)(Lr.n_local * cols + 1), sizeof(float));
  for (int64_t i = 0; i < Lr.n_local; i++)
    for (int64_t j = 0; j < cols; j++) block[i * cols + j] = fval(Lr.row_start + i, j);
  OK_ALL(wn_h5_create(COMM, path, &file));
  OK_ALL(wn_h5_write_rows_float(COMM, file, "/u", rows, cols, Lr.row_start, Lr.n_local, block, 0));
  OK_ALL(wn_h5_close(&file));
  free(block);

  /* Every rank reads its block of columns; the brute force is fval itself. */
  WN_CK_OK(wn_layout_init(COMM, cols, &Lc));
  out = calloc((size_t)(Lc.n_local * rows + 1), sizeof(float));
  OK_ALL(wn_h5_open(COMM, path, PETSC_FALSE, &file));
  OK_ALL(wn_h5_read_cols_transposed_float(COMM, file, "/u", rows, Lc.row_start, Lc.n_local, out));
  for (int64_t j = 0; j < Lc.n_local; j++)
    for (int64_t i = 0; i < rows; i++) ok &= out[j * rows + i] == fval(i, Lc.row_start + j);
  WN_CK_ASSERT_ALL(COMM, ok);
  FAILS_ALL(wn_h5_read_cols_transposed_float(COMM, file, "/u", rows + 1, 0, 0, out), "rows; expected");
  FAILS_ALL(wn_h5_read_cols_transposed_float(COMM, file, "/u", rows, cols, rank_of() == 0 ? 1 : 0, out), "are outside the");
  OK_ALL(wn_h5_close(&file));
  free(out);
}

START_TEST(cols_transposed)
{
  char dir[256];

  wn_test_tmpdir_make(dir, sizeof(dir));
  transposed(dir, 6, 11);
  transposed(dir, 5, 2); /* fewer columns than ranks */
  transposed(dir, 1, 3);
  wn_test_tmpdir_remove(dir);
}
END_TEST

/* ---- files written by plain serial HDF5 ---------------------------------------------------------- */

static int write_serial_fixture(const char *path)
{
  hid_t       f, s, d, t;
  hsize_t     n5 = 5, dims2[2] = {7, 3}, dims3[3] = {2, 3, 4};
  const char *vstr[5] = {"a", "", "hello world", "\xc3\xbcni", "zz"};
  char        fixed[5][4] = {{'a', 'b', 'c', 'd'}, {'a', 'b', 0, 0}, {0, 0, 0, 0}, {'q', 0, 0, 0}, {'w', 'x', 'y', 0}};
  char        spaced[2][5] = {{'a', 'b', ' ', ' ', ' '}, {'c', 'd', 'e', 'f', 'g'}};
  double      x[21];
  int32_t     i4[5] = {-1, 2, -3, 4, -5};
  float       cube[24];
  int         ok = 1;

  for (int k = 0; k < 21; k++) x[k] = 0.1 * k + 1e-9;
  for (int k = 0; k < 24; k++) cube[k] = (float)k;
  f = H5Fcreate(path, H5F_ACC_TRUNC, H5P_DEFAULT, H5P_DEFAULT);
  ok &= f >= 0;
  /* variable-length UTF-8 strings */
  t = H5Tcopy(H5T_C_S1);
  H5Tset_size(t, H5T_VARIABLE);
  H5Tset_cset(t, H5T_CSET_UTF8);
  s = H5Screate_simple(1, &n5, NULL);
  d = H5Dcreate2(f, "vstr", t, s, H5P_DEFAULT, H5P_DEFAULT, H5P_DEFAULT);
  ok &= H5Dwrite(d, t, H5S_ALL, H5S_ALL, H5P_DEFAULT, vstr) >= 0;
  H5Dclose(d);
  /* variable-length string attribute */
  {
    hid_t sc = H5Screate(H5S_SCALAR), a = H5Acreate2(f, "vattr", t, sc, H5P_DEFAULT, H5P_DEFAULT);
    const char *v = "variable value";
    ok &= H5Awrite(a, t, &v) >= 0;
    H5Aclose(a);
    H5Sclose(sc);
  }
  H5Tclose(t);
  /* fixed-length, NUL-padded, no terminator when full */
  t = H5Tcopy(H5T_C_S1);
  H5Tset_size(t, 4);
  H5Tset_strpad(t, H5T_STR_NULLPAD);
  d = H5Dcreate2(f, "fstr", t, s, H5P_DEFAULT, H5P_DEFAULT, H5P_DEFAULT);
  ok &= H5Dwrite(d, t, H5S_ALL, H5S_ALL, H5P_DEFAULT, fixed) >= 0;
  H5Dclose(d);
  H5Tclose(t);
  /* int32 column */
  d = H5Dcreate2(f, "i32", H5T_STD_I32LE, s, H5P_DEFAULT, H5P_DEFAULT, H5P_DEFAULT);
  ok &= H5Dwrite(d, H5T_NATIVE_INT32, H5S_ALL, H5S_ALL, H5P_DEFAULT, i4) >= 0;
  H5Dclose(d);
  H5Sclose(s);
  /* Fortran-style space-padded strings */
  {
    hsize_t n2 = 2;
    t = H5Tcopy(H5T_C_S1);
    H5Tset_size(t, 5);
    H5Tset_strpad(t, H5T_STR_SPACEPAD);
    s = H5Screate_simple(1, &n2, NULL);
    d = H5Dcreate2(f, "sstr", t, s, H5P_DEFAULT, H5P_DEFAULT, H5P_DEFAULT);
    ok &= H5Dwrite(d, t, H5S_ALL, H5S_ALL, H5P_DEFAULT, spaced) >= 0;
    H5Dclose(d);
    H5Sclose(s);
    H5Tclose(t);
  }
  /* float64 matrix (big-endian on disk: HDF5 converts) */
  s = H5Screate_simple(2, dims2, NULL);
  d = H5Dcreate2(f, "f64", H5T_IEEE_F64BE, s, H5P_DEFAULT, H5P_DEFAULT, H5P_DEFAULT);
  ok &= H5Dwrite(d, H5T_NATIVE_DOUBLE, H5S_ALL, H5S_ALL, H5P_DEFAULT, x) >= 0;
  H5Dclose(d);
  H5Sclose(s);
  /* 3-D */
  s = H5Screate_simple(3, dims3, NULL);
  d = H5Dcreate2(f, "cube", H5T_IEEE_F32LE, s, H5P_DEFAULT, H5P_DEFAULT, H5P_DEFAULT);
  ok &= H5Dwrite(d, H5T_NATIVE_FLOAT, H5S_ALL, H5S_ALL, H5P_DEFAULT, cube) >= 0;
  H5Dclose(d);
  H5Sclose(s);
  /* a dangling soft link */
  ok &= H5Lcreate_soft("/nowhere", f, "dangling", H5P_DEFAULT, H5P_DEFAULT) >= 0;
  ok &= H5Fclose(f) >= 0;
  return ok;
}

START_TEST(serial_files)
{
  char       dir[256], path[PETSC_MAX_PATH_LEN];
  int        ok = 1;
  hid_t      file = -1;
  wn_layout  L;
  wn_h5_info info;
  char      *s     = NULL;
  size_t     width = 0;
  PetscBool  exists;

  wn_test_tmpdir_make(dir, sizeof(dir));
  snprintf(path, sizeof(path), "%s/serial.h5", dir);
  if (rank_of() == 0) ok = write_serial_fixture(path);
  WN_CK_ASSERT_ALL(COMM, ok);
  OK_ALL(wn_h5_open(COMM, path, PETSC_FALSE, &file));
  WN_CK_OK(wn_layout_init(COMM, 5, &L));

  {
    const char *vexp[5] = {"a", "", "hello world", "\xc3\xbcni", "zz"};
    OK_ALL(wn_h5_read_rows_strings(COMM, file, "/vstr", L.row_start, L.n_local, &s, &width));
    WN_CK_ASSERT_ALL(COMM, width == 12);
    for (int64_t i = 0; i < L.n_local; i++) ok &= !strcmp(s + i * width, vexp[L.row_start + i]);
    WN_CK_ASSERT_ALL(COMM, ok);
    PetscFree(s);
  }
  {
    const char *fexp[5] = {"abcd", "ab", "", "q", "wxy"};
    OK_ALL(wn_h5_read_rows_strings(COMM, file, "fstr", L.row_start, L.n_local, &s, &width));
    WN_CK_ASSERT_ALL(COMM, width == 5);
    for (int64_t i = 0; i < L.n_local; i++) ok &= !strcmp(s + i * width, fexp[L.row_start + i]);
    WN_CK_ASSERT_ALL(COMM, ok);
    PetscFree(s);
  }
  {
    wn_layout   L2;
    const char *sexp[2] = {"ab", "cdefg"};
    WN_CK_OK(wn_layout_init(COMM, 2, &L2));
    OK_ALL(wn_h5_read_rows_strings(COMM, file, "/sstr", L2.row_start, L2.n_local, &s, &width));
    WN_CK_ASSERT_ALL(COMM, width == 6);
    for (int64_t i = 0; i < L2.n_local; i++) ok &= !strcmp(s + i * width, sexp[L2.row_start + i]);
    WN_CK_ASSERT_ALL(COMM, ok);
    PetscFree(s);
  }
  {
    int64_t v[5];
    OK_ALL(wn_h5_info_get(COMM, file, path, "/i32", &info));
    WN_CK_ASSERT_ALL(COMM, info.dtype == WN_DTYPE_I32 && info.ndim == 1);
    OK_ALL(wn_h5_read_rows_int64(COMM, file, "/i32", L.row_start, L.n_local, v));
    for (int64_t i = 0; i < L.n_local; i++) ok &= v[i] == ((L.row_start + i) % 2 ? 1 : -1) * (L.row_start + i + 1);
    WN_CK_ASSERT_ALL(COMM, ok);
  }
  {
    wn_layout L7;
    float     x[21];
    WN_CK_OK(wn_layout_init(COMM, 7, &L7));
    OK_ALL(wn_h5_info_get(COMM, file, path, "/f64", &info));
    WN_CK_ASSERT_ALL(COMM, info.dtype == WN_DTYPE_F64 && info.ndim == 2 && info.dims[0] == 7 && info.dims[1] == 3);
    OK_ALL(wn_h5_read_rows_float(COMM, file, "/f64", L7.row_start, L7.n_local, 3, x));
    for (int64_t k = 0; k < L7.n_local * 3; k++) ok &= x[k] == (float)(0.1 * (double)(L7.row_start * 3 + k) + 1e-9);
    WN_CK_ASSERT_ALL(COMM, ok);
  }
  OK_ALL(wn_h5_info_get(COMM, file, path, "/cube", &info));
  WN_CK_ASSERT_ALL(COMM, info.ndim == 3 && info.dims[0] == 2 && info.dims[1] == 12 && info.dtype == WN_DTYPE_F32);
  {
    float x[24];
    FAILS_ALL(wn_h5_read_rows_float(COMM, file, "/cube", 0, rank_of() == 0 ? 1 : 0, 12, x), "is 3-D; expected N x d");
  }
  {
    char      v[64];
    PetscBool found;
    OK_ALL(wn_h5_attr_read_string(COMM, file, "/", "vattr", v, sizeof(v), &found));
    WN_CK_ASSERT_ALL(COMM, found && !strcmp(v, "variable value"));
    OK_ALL(wn_h5_attr_read_string(COMM, file, "/", "vattr", v, 9, &found)); /* truncated to the buffer */
    WN_CK_ASSERT_ALL(COMM, found && !strcmp(v, "variable"));
  }
  OK_ALL(wn_h5_exists(COMM, file, "/dangling", &exists));
  WN_CK_ASSERT_ALL(COMM, !exists);
  FAILS_ALL(wn_h5_info_get(COMM, file, path, "/dangling", &info), "dataset /dangling not found in");
  OK_ALL(wn_h5_close(&file));
  wn_test_tmpdir_remove(dir);
}
END_TEST

/* ---- attributes and existence ------------------------------------------------------------------- */

START_TEST(attributes_and_exists)
{
  char      dir[256], path[PETSC_MAX_PATH_LEN], v[64];
  hid_t     file = -1;
  wn_layout L;
  float     x[4]  = {1, 2, 3, 4};
  double    value = -1;
  PetscBool found, exists;

  wn_test_tmpdir_make(dir, sizeof(dir));
  snprintf(path, sizeof(path), "%s/attr.h5", dir);
  WN_CK_OK(wn_layout_init(COMM, 3, &L));
  OK_ALL(wn_h5_create(COMM, path, &file));
  OK_ALL(wn_h5_write_rows_float(COMM, file, "/g/x", 3, 1, L.row_start, L.n_local, x, 0));
  OK_ALL(wn_h5_attr_write_string(COMM, file, "/", "version", "0.1.0"));
  OK_ALL(wn_h5_attr_write_string(COMM, file, "/g", "empty", ""));
  OK_ALL(wn_h5_attr_write_double(COMM, file, "/g/x", "gamma", 0.25));
  OK_ALL(wn_h5_attr_write_int64(COMM, file, "/g/x", "n_rows", 3000000000LL));
  OK_ALL(wn_h5_attr_write_string(COMM, file, "/g/x", "metric", "cosine"));
  OK_ALL(wn_h5_attr_write_string(COMM, file, "/g/x", "metric", "rbf")); /* replaced */
  FAILS_ALL(wn_h5_attr_write_double(COMM, file, "/nope", "gamma", 1.0), "attribute gamma: object /nope not found in");
  OK_ALL(wn_h5_close(&file));

  OK_ALL(wn_h5_open(COMM, path, PETSC_FALSE, &file));
  OK_ALL(wn_h5_attr_read_string(COMM, file, "/", "version", v, sizeof(v), &found));
  WN_CK_ASSERT_ALL(COMM, found && !strcmp(v, "0.1.0"));
  OK_ALL(wn_h5_attr_read_string(COMM, file, "", "version", v, sizeof(v), &found)); /* "" is the root too */
  WN_CK_ASSERT_ALL(COMM, found && !strcmp(v, "0.1.0"));
  OK_ALL(wn_h5_attr_read_string(COMM, file, "/g", "empty", v, sizeof(v), &found));
  WN_CK_ASSERT_ALL(COMM, found && !strcmp(v, ""));
  OK_ALL(wn_h5_attr_read_string(COMM, file, "/g/x", "metric", v, sizeof(v), &found));
  WN_CK_ASSERT_ALL(COMM, found && !strcmp(v, "rbf"));
  OK_ALL(wn_h5_attr_read_double(COMM, file, "/g/x", "gamma", &value, &found));
  WN_CK_ASSERT_ALL(COMM, found && value == 0.25);
  OK_ALL(wn_h5_attr_read_double(COMM, file, "/g/x", "n_rows", &value, &found));
  WN_CK_ASSERT_ALL(COMM, found && value == 3000000000.0);
  /* Absent: found = false, string "", double untouched. */
  value = 42;
  strcpy(v, "junk");
  OK_ALL(wn_h5_attr_read_string(COMM, file, "/g/x", "nothing", v, sizeof(v), &found));
  WN_CK_ASSERT_ALL(COMM, !found && !strcmp(v, ""));
  OK_ALL(wn_h5_attr_read_double(COMM, file, "/g/x", "nothing", &value, &found));
  WN_CK_ASSERT_ALL(COMM, !found && value == 42);
  /* Wrong types. */
  FAILS_ALL(wn_h5_attr_read_string(COMM, file, "/g/x", "gamma", v, sizeof(v), &found), "attribute gamma of /g/x in");
  FAILS_ALL(wn_h5_attr_read_string(COMM, file, "/g/x", "gamma", v, sizeof(v), &found), "has type float64; expected a string");
  FAILS_ALL(wn_h5_attr_read_double(COMM, file, "/g/x", "metric", &value, &found), "has type string; expected a number");
  FAILS_ALL(wn_h5_attr_read_double(COMM, file, "/g/nope", "gamma", &value, &found), "object /g/nope not found");

  /* Existence, walking each component. */
  {
    struct {
      const char *p;
      int         e;
    } cases[] = {
      {"/", 1}, {"", 1}, {"/g", 1}, {"/g/x", 1}, {"g/x", 1}, {"/g/x/", 1}, {"//g//x", 1},
      {"/g/missing", 0}, {"/nope", 0}, {"/nope/deeper/x", 0}, {"/g/x/under", 0}, {"/g/xx", 0},
    };
    for (size_t k = 0; k < sizeof(cases) / sizeof(cases[0]); k++) {
      OK_ALL(wn_h5_exists(COMM, file, cases[k].p, &exists));
      if ((exists ? 1 : 0) != cases[k].e) fprintf(stderr, "exists(%s) = %d\n", cases[k].p, (int)exists);
      WN_CK_ASSERT_ALL(COMM, (exists ? 1 : 0) == cases[k].e);
    }
  }
  OK_ALL(wn_h5_close(&file));
  OK_ALL(wn_h5_close(&file)); /* -1 is accepted */
  wn_test_tmpdir_remove(dir);
}
END_TEST

/* ---- error paths -------------------------------------------------------------------------------- */

START_TEST(errors)
{
  char       dir[256], path[PETSC_MAX_PATH_LEN], missing[PETSC_MAX_PATH_LEN], text[PETSC_MAX_PATH_LEN];
  hid_t      file = -1;
  wn_layout  L;
  float      x[16] = {0};
  int64_t    iv[16];
  wn_h5_info info;
  char      *s = NULL, *w = "ab\0cd\0ef\0gh\0ij\0";
  size_t     width;

  wn_test_tmpdir_make(dir, sizeof(dir));
  snprintf(path, sizeof(path), "%s/e.h5", dir);
  snprintf(missing, sizeof(missing), "%s/missing.h5", dir);
  snprintf(text, sizeof(text), "%s/text.h5", dir);
  if (rank_of() == 0) {
    FILE *fp = fopen(text, "w");
    if (fp) {
      fputs("not hdf5\n", fp);
      fclose(fp);
    }
  }
  FAILS_ALL(wn_h5_open(COMM, missing, PETSC_FALSE, &file), "No such file or directory");
  FAILS_ALL(wn_h5_open(COMM, missing, PETSC_FALSE, &file), missing);
  WN_CK_ASSERT_ALL(COMM, file == -1);
  FAILS_ALL(wn_h5_open(COMM, text, PETSC_FALSE, &file), "is not an HDF5 file");
  snprintf(missing, sizeof(missing), "%s/no/such/dir/x.h5", dir);
  FAILS_ALL(wn_h5_create(COMM, missing, &file), "cannot create");

  WN_CK_OK(wn_layout_init(COMM, 5, &L));
  OK_ALL(wn_h5_create(COMM, path, &file));
  OK_ALL(wn_h5_write_rows_float(COMM, file, "/a/emb", 5, 2, L.row_start, L.n_local, x, 0));
  OK_ALL(wn_h5_write_rows_strings(COMM, file, "/a/s", 5, L.row_start, L.n_local, w + 3 * L.row_start, 3));
  FAILS_ALL(wn_h5_write_rows_float(COMM, file, "/a", 5, 2, L.row_start, L.n_local, x, 0), "a group of that name exists");
  FAILS_ALL(wn_h5_write_rows_float(COMM, file, "/b", 6, 2, L.row_start, L.n_local, x, 0), "hold 5 rows in total but the dataset has 6");
  if (size_of() > 1) FAILS_ALL(wn_h5_write_rows_strings(COMM, file, "/b", 5, L.row_start, L.n_local, w, rank_of() == 0 ? 3 : 4), "the width differs between ranks");
  OK_ALL(wn_h5_close(&file));

  OK_ALL(wn_h5_open(COMM, path, PETSC_FALSE, &file));
  FAILS_ALL(wn_h5_info_get(COMM, file, path, "/nope", &info), "dataset /nope not found in '");
  FAILS_ALL(wn_h5_info_get(COMM, file, path, "/a/nope/deeper", &info), "dataset /a/nope/deeper not found in");
  FAILS_ALL(wn_h5_info_get(COMM, file, path, "/a", &info), "/a in '");
  FAILS_ALL(wn_h5_info_get(COMM, file, path, "/a", &info), "is a group, not a dataset");
  FAILS_ALL(wn_h5_info_get(COMM, file, path, "", &info), "/ in '");
  FAILS_ALL(wn_h5_read_rows_float(COMM, file, "/nope", L.row_start, L.n_local, 2, x), "dataset /nope not found in");
  FAILS_ALL(wn_h5_read_rows_float(COMM, file, "/a/emb", L.row_start, L.n_local, 3, x), "has 2 columns; expected 3");
  FAILS_ALL(wn_h5_read_rows_float(COMM, file, "/a/s", L.row_start, L.n_local, 1, x), "has type string; expected numbers");
  FAILS_ALL(wn_h5_read_rows_int64(COMM, file, "/a/emb", L.row_start, L.n_local, iv), "has type float32; expected integers");
  FAILS_ALL(wn_h5_read_rows_strings(COMM, file, "/a/emb", L.row_start, L.n_local, &s, &width), "does not hold strings");
  /* A bad row range on one rank only: every rank must fail, none may hang. */
  FAILS_ALL(wn_h5_read_rows_float(COMM, file, "/a/emb", rank_of() == size_of() - 1 ? 4 : 0, rank_of() == size_of() - 1 ? 2 : 0, 2, x), "rows [4, 6) are outside the 5 rows of dataset /a/emb");
  /* After all that, the file still closes: no handle was left open. */
  OK_ALL(wn_h5_close(&file));
  wn_test_tmpdir_remove(dir);
}
END_TEST

static Suite *make_suite(void)
{
  Suite *s  = suite_create("h5io");
  TCase *tc = tcase_create("distributed");

  tcase_add_test(tc, rows_round_trip);
  tcase_add_test(tc, cols_transposed);
  tcase_add_test(tc, serial_files);
  tcase_add_test(tc, attributes_and_exists);
  tcase_add_test(tc, errors);
  suite_add_tcase(s, tc);
  return s;
}

int main(int argc, char **argv) { return wn_test_run(argc, argv, make_suite); }
