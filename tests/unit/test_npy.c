/* test_npy.c - check suite for src/npy.c.
 *
 * pure: hand-written .npy headers of every version (1.0, 2.0, 3.0), dict literals in any order and
 *       spacing, and every rejection (bad magic, truncation, version, fortran order, big-endian, '|' on
 *       multi-byte types, 0-d, 3-D, missing/unknown/duplicate keys, malformed dicts).
 * distributed: round trips of rows on 1-4 ranks (N not divisible by P, and N < P), float64 and int32/int64
 *       files, and the collective errors of wn_npy_read_header (missing, not .npy, truncated data).
 */
#include <dirent.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <winnow/layout.h>
#include <winnow/npy.h>
#include "wn_test.h"

/* ---- helpers ---------------------------------------------------------------------------------- */

/* Magic, version, header length (2 or 4 bytes) and dict, padded with spaces and '\n' to 64 bytes. */
static size_t make_header(unsigned char *buf, int major, const char *dict)
{
  size_t prefix = major == 1 ? 10 : 12, n = strlen(dict);
  size_t total  = ((prefix + n + 1 + 63) / 64) * 64, hlen = total - prefix;

  memcpy(buf, "\x93NUMPY", 6);
  buf[6] = (unsigned char)major;
  buf[7] = 0;
  for (size_t b = 0; b < prefix - 8; b++) buf[8 + b] = (unsigned char)(hlen >> (8 * b));
  memcpy(buf + prefix, dict, n);
  memset(buf + prefix + n, ' ', total - prefix - n - 1);
  buf[total - 1] = '\n';
  return total;
}

static int parse_dict(int major, const char *dict, wn_npy_header *h, char *why, size_t whylen)
{
  unsigned char buf[1024];
  size_t        n = make_header(buf, major, dict);

  return wn_npy_parse_header(buf, n, h, why, whylen);
}

/* ---- pure: headers ------------------------------------------------------------------------------ */

START_TEST(header_v1_literal)
{
  /* Written out byte by byte, as numpy 1.x writes it: 10-byte prefix, length 0x76 = 118, data at 128. */
  static const unsigned char hdr[] = "\x93NUMPY\x01\x00\x76\x00"
                                     "{'descr': '<f4', 'fortran_order': False, 'shape': (3, 4), }"
                                     "                                                          \n";
  wn_npy_header h;
  char          why[256];

  ck_assert_uint_eq(sizeof(hdr) - 1, 128);
  ck_assert_int_eq(wn_npy_parse_header(hdr, sizeof(hdr) - 1, &h, why, sizeof(why)), 0);
  ck_assert_int_eq(h.major, 1);
  ck_assert_int_eq(h.minor, 0);
  ck_assert_int_eq(h.dtype, WN_DTYPE_F32);
  ck_assert_int_eq(h.itemsize, 4);
  ck_assert_str_eq(h.descr, "<f4");
  ck_assert_int_eq(h.ndim, 2);
  ck_assert_int_eq(h.shape[0], 3);
  ck_assert_int_eq(h.shape[1], 4);
  ck_assert_uint_eq(h.data_offset, 128);
  /* The same header from the helper must be byte-identical. */
  {
    unsigned char buf[256];
    size_t        n = make_header(buf, 1, "{'descr': '<f4', 'fortran_order': False, 'shape': (3, 4), }");
    ck_assert_uint_eq(n, 128);
    ck_assert(!memcmp(buf, hdr, 128));
  }
}
END_TEST

START_TEST(header_v2_v3_and_orders)
{
  wn_npy_header h;
  char          why[256];

  /* 2.0: 4-byte length; keys in another order; 1-tuple. */
  ck_assert_int_eq(parse_dict(2, "{'shape': (7,), 'fortran_order': False, 'descr': '<i8'}", &h, why, sizeof(why)), 0);
  ck_assert_int_eq(h.major, 2);
  ck_assert_int_eq(h.dtype, WN_DTYPE_I64);
  ck_assert_int_eq(h.itemsize, 8);
  ck_assert_int_eq(h.ndim, 1);
  ck_assert_int_eq(h.shape[0], 7);
  ck_assert_int_eq(h.shape[1], 1);
  ck_assert_uint_eq(h.data_offset % 64, 0);
  ck_assert_uint_eq(h.data_offset, 128); /* 12 + 56 + 1 rounded up to 64 */

  /* 3.0 (UTF-8 header): no spaces, double quotes, trailing comma in the dict. */
  ck_assert_int_eq(parse_dict(3, "{\"descr\":\"<f8\",\"fortran_order\":False,\"shape\":(2,5),}", &h, why, sizeof(why)), 0);
  ck_assert_int_eq(h.major, 3);
  ck_assert_int_eq(h.dtype, WN_DTYPE_F64);
  ck_assert_int_eq(h.shape[0], 2);
  ck_assert_int_eq(h.shape[1], 5);

  /* Odd spacing and newlines everywhere, trailing comma inside the tuple. */
  ck_assert_int_eq(parse_dict(1, "{ 'descr' : '<i4' ,\n 'fortran_order' : False , 'shape' : ( 4 , 6 , ) , }", &h, why, sizeof(why)), 0);
  ck_assert_int_eq(h.dtype, WN_DTYPE_I32);
  ck_assert_int_eq(h.shape[0], 4);
  ck_assert_int_eq(h.shape[1], 6);

  /* Python 2 long literals. */
  ck_assert_int_eq(parse_dict(1, "{'descr': '<f4', 'fortran_order': False, 'shape': (3L, 4L), }", &h, why, sizeof(why)), 0);
  ck_assert_int_eq(h.shape[0], 3);
  ck_assert_int_eq(h.shape[1], 4);

  /* Types winnow does not read still parse, as OTHER (the readers reject them by name). */
  ck_assert_int_eq(parse_dict(1, "{'descr': '|u1', 'fortran_order': False, 'shape': (9,), }", &h, why, sizeof(why)), 0);
  ck_assert_int_eq(h.dtype, WN_DTYPE_OTHER);
  ck_assert_int_eq(h.itemsize, 1);
  ck_assert_int_eq(parse_dict(1, "{'descr': '<u2', 'fortran_order': False, 'shape': (9,), }", &h, why, sizeof(why)), 0);
  ck_assert_int_eq(h.dtype, WN_DTYPE_OTHER);
  ck_assert_int_eq(h.itemsize, 2);
  ck_assert_int_eq(parse_dict(1, "{'descr': '<U3', 'fortran_order': False, 'shape': (9,), }", &h, why, sizeof(why)), 0);
  ck_assert_int_eq(h.itemsize, 12);

  /* fortran_order True is harmless when the layout equals C order. */
  ck_assert_int_eq(parse_dict(1, "{'descr': '<f4', 'fortran_order': True, 'shape': (5,), }", &h, why, sizeof(why)), 0);
  ck_assert_int_eq(parse_dict(1, "{'descr': '<f4', 'fortran_order': True, 'shape': (1, 4), }", &h, why, sizeof(why)), 0);
  /* Empty (0 rows) arrays are valid headers; data.c rejects them as embeddings. */
  ck_assert_int_eq(parse_dict(1, "{'descr': '<f4', 'fortran_order': False, 'shape': (0, 4), }", &h, why, sizeof(why)), 0);
  ck_assert_int_eq(h.shape[0], 0);
}
END_TEST

typedef struct {
  int         major;
  const char *dict;
  const char *expect; /* substring of the reason */
} bad_case;

START_TEST(header_errors)
{
  static const bad_case cases[] = {
    {1, "{'descr': '<f4', 'fortran_order': True, 'shape': (3, 4), }",          "header declares fortran_order True: only C order is supported"},
    {1, "{'descr': '>f4', 'fortran_order': False, 'shape': (3, 4), }",         "big-endian dtype '>f4' is not supported"                       },
    {1, "{'descr': '>f8', 'fortran_order': False, 'shape': (3, 4), }",         "big-endian dtype '>f8' is not supported"                       },
    {1, "{'descr': '|f4', 'fortran_order': False, 'shape': (3, 4), }",         "only meaningful for 1-byte types"                              },
    {1, "{'descr': '<f4', 'fortran_order': False, 'shape': (), }",             "0-D array (shape ()) is not supported"                         },
    {1, "{'descr': '<f4', 'fortran_order': False, 'shape': (2, 3, 4), }",      "3-D array (shape (2, 3, 4)) is not supported"                  },
    {1, "{'descr': '<f4', 'fortran_order': False, }",                          "missing key 'shape'"                                           },
    {1, "{'fortran_order': False, 'shape': (3,), }",                           "missing key 'descr'"                                           },
    {1, "{'descr': '<f4', 'shape': (3,), }",                                   "missing key 'fortran_order'"                                   },
    {1, "{'descr': '<f4', 'fortran_order': False, 'shape': (3,), 'x': 1}",     "unexpected key 'x'"                                            },
    {1, "{'descr': '<f4', 'descr': '<f4', 'fortran_order': False, 'shape': (3,)}", "key 'descr' twice"                                        },
    {1, "{'descr' '<f4', 'fortran_order': False, 'shape': (3,)}",              "no ':' after key 'descr'"                                      },
    {1, "{'descr': [('a', '<f4')], 'fortran_order': False, 'shape': (3,)}",    "structured dtypes are not supported"                           },
    {1, "{'descr': '|O', 'fortran_order': False, 'shape': (3,)}",              "Python object array"                                           },
    {1, "{'descr': '<f4', 'fortran_order': Maybe, 'shape': (3,)}",             "neither True nor False"                                        },
    {1, "{'descr': '<f4', 'fortran_order': False, 'shape': (-3,)}",            "non-integer entry"                                             },
    {1, "{'descr': '<f4', 'fortran_order': False, 'shape': 3}",                "'shape' is not a tuple"                                        },
    {1, "{'descr': '<f4', 'fortran_order': False, 'shape': (3 4)}",            "'shape' is malformed"                                          },
    {1, "{'descr': '<f4' 'fortran_order': False, 'shape': (3,)}",              "expected ',' or '}' after key 'descr'"                         },
    {2, "['descr', '<f4']",                                                    "not a Python dict literal"                                     },
    {3, "{'descr': '<f4', 'fortran_order': False, 'shape': (99999999999999999999,)}", "too large"                                         },
  };
  wn_npy_header h;
  char          why[256];

  for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
    int rc = parse_dict(cases[i].major, cases[i].dict, &h, why, sizeof(why));
    ck_assert_msg(rc == -1, "accepted bad header %s", cases[i].dict);
    ck_assert_msg(strstr(why, cases[i].expect), "header %s: reason '%s' lacks '%s'", cases[i].dict, why, cases[i].expect);
  }
}
END_TEST

START_TEST(header_prefix_errors)
{
  unsigned char buf[256];
  size_t        n = make_header(buf, 1, "{'descr': '<f4', 'fortran_order': False, 'shape': (3, 4), }");
  wn_npy_header h;
  char          why[256];

  /* Bad magic. */
  buf[5] = 'X';
  ck_assert_int_eq(wn_npy_parse_header(buf, n, &h, why, sizeof(why)), -1);
  ck_assert_str_eq(why, "not a .npy file (bad magic)");
  buf[5] = 'Y';
  ck_assert_int_eq(wn_npy_parse_header(buf, 4, &h, why, sizeof(why)), -1);
  ck_assert_str_eq(why, "not a .npy file (bad magic)");
  /* Too short for the length field. */
  ck_assert_int_eq(wn_npy_parse_header(buf, 8, &h, why, sizeof(why)), -1);
  ck_assert_str_eq(why, "header is truncated: needs at least 10 bytes, file has 8");
  /* Header cut short: needs 128 bytes, has 64. */
  ck_assert_int_eq(wn_npy_parse_header(buf, 64, &h, why, sizeof(why)), -1);
  ck_assert_str_eq(why, "header is truncated: needs 128 bytes, file has 64");
  /* Unknown versions. */
  buf[6] = 4;
  ck_assert_int_eq(wn_npy_parse_header(buf, n, &h, why, sizeof(why)), -1);
  ck_assert_str_eq(why, "unsupported .npy format version 4.0 (supported: 1.0, 2.0, 3.0)");
  buf[6] = 1;
  buf[7] = 1;
  ck_assert_int_eq(wn_npy_parse_header(buf, n, &h, why, sizeof(why)), -1);
  ck_assert(strstr(why, "version 1.1") != NULL);
  buf[7] = 0;
  ck_assert_int_eq(wn_npy_parse_header(buf, n, &h, why, sizeof(why)), 0);
  /* 2.0 with only 11 bytes. */
  n = make_header(buf, 2, "{'descr': '<f4', 'fortran_order': False, 'shape': (3, 4), }");
  ck_assert_int_eq(wn_npy_parse_header(buf, 11, &h, why, sizeof(why)), -1);
  ck_assert_str_eq(why, "header is truncated: needs at least 12 bytes, file has 11");
  ck_assert_int_eq(wn_npy_parse_header(buf, n, &h, NULL, 0), 0); /* why is optional */
}
END_TEST

/* ---- distributed: files ------------------------------------------------------------------------ */

static float value_at(int64_t i, int64_t j) { return (float)(10 * i + j) + 0.25f; }

static void write_raw(const char *path, const unsigned char *hdr, size_t n, const void *data, size_t bytes)
{
  FILE *fp = fopen(path, "wb");

  ck_assert(fp);
  ck_assert_uint_eq(fwrite(hdr, 1, n, fp), n);
  if (bytes) ck_assert_uint_eq(fwrite(data, 1, bytes, fp), bytes);
  fclose(fp);
}

/* Write an N x d float32 file on rank 0; every rank reads its layout rows and compares. */
static void round_trip(const char *dir, int64_t n, int64_t d)
{
  char          path[PETSC_MAX_PATH_LEN];
  int           rank;
  wn_npy_header h;
  wn_layout     L;
  float        *rows;
  int           ok = 1;

  MPI_Comm_rank(PETSC_COMM_WORLD, &rank);
  snprintf(path, sizeof(path), "%s/rt_%lld_%lld.npy", dir, (long long)n, (long long)d);
  if (rank == 0) {
    float *all = malloc(sizeof(float) * (size_t)(n * d + 1));
    for (int64_t i = 0; i < n; i++)
      for (int64_t j = 0; j < d; j++) all[i * d + j] = value_at(i, j);
    ok = wn_npy_write_float(path, n, d, all) == 0;
    free(all);
  }
  WN_CK_ASSERT_ALL(PETSC_COMM_WORLD, ok);
  OK_ALL(wn_npy_read_header(PETSC_COMM_WORLD, path, &h));
  WN_CK_ASSERT_ALL(PETSC_COMM_WORLD, h.shape[0] == n && h.shape[1] == d && h.dtype == WN_DTYPE_F32 && h.ndim == 2 && h.data_offset % 64 == 0);
  WN_CK_OK(wn_layout_init(PETSC_COMM_WORLD, n, &L));
  rows = malloc(sizeof(float) * (size_t)(L.n_local * d + 1));
  OK_ALL(wn_npy_read_rows_float(path, &h, L.row_start, L.n_local, rows));
  for (int64_t i = 0; i < L.n_local; i++)
    for (int64_t j = 0; j < d; j++) ok &= rows[i * d + j] == value_at(L.row_start + i, j);
  WN_CK_ASSERT_ALL(PETSC_COMM_WORLD, ok);
  /* A sub-range in the middle, read by every rank. */
  if (n >= 3) {
    OK_ALL(wn_npy_read_rows_float(path, &h, 1, 2, rows));
    WN_CK_ASSERT_ALL(PETSC_COMM_WORLD, rows[0] == value_at(1, 0) && rows[2 * d - 1] == value_at(2, d - 1));
  }
  free(rows);
}

START_TEST(rows_round_trip)
{
  char dir[256];

  wn_test_tmpdir_make(dir, sizeof(dir));
  round_trip(dir, 7, 3);  /* 7 rows over 2, 3, 4 ranks: uneven */
  round_trip(dir, 2, 5);  /* fewer rows than ranks on 3 and 4 ranks */
  round_trip(dir, 1, 1);
  round_trip(dir, 103, 17);
  wn_test_tmpdir_remove(dir);
}
END_TEST

START_TEST(rows_f64_and_ints)
{
  char          dir[256], p64[PETSC_MAX_PATH_LEN], pi8[PETSC_MAX_PATH_LEN], pi4[PETSC_MAX_PATH_LEN], pv3[PETSC_MAX_PATH_LEN];
  int           rank;
  const int64_t n = 11, d = 4;
  wn_npy_header h;
  wn_layout     L;
  int           ok = 1;

  wn_test_tmpdir_make(dir, sizeof(dir));
  MPI_Comm_rank(PETSC_COMM_WORLD, &rank);
  snprintf(p64, sizeof(p64), "%s/f64.npy", dir);
  snprintf(pi8, sizeof(pi8), "%s/i8.npy", dir);
  snprintf(pi4, sizeof(pi4), "%s/i4.npy", dir);
  snprintf(pv3, sizeof(pv3), "%s/v3.npy", dir);
  if (rank == 0) {
    unsigned char hdr[256];
    double        x[11 * 4];
    int64_t       i8[11];
    int32_t       i4[11];
    float         f[11 * 4];
    size_t        nh;

    for (int64_t i = 0; i < n; i++) {
      for (int64_t j = 0; j < d; j++) x[i * d + j] = 1.0 / 3.0 + (double)(i * d + j) * 1e-3;
      i8[i] = 5000000000LL - 7 * i;
      i4[i] = -3 * (int32_t)i;
    }
    for (int64_t k = 0; k < n * d; k++) f[k] = value_at(k / d, k % d);
    nh = make_header(hdr, 2, "{'descr': '<f8', 'fortran_order': False, 'shape': (11, 4), }");
    write_raw(p64, hdr, nh, x, sizeof(x));
    nh = make_header(hdr, 1, "{'descr': '<i8', 'fortran_order': False, 'shape': (11,), }");
    write_raw(pi8, hdr, nh, i8, sizeof(i8));
    nh = make_header(hdr, 1, "{'shape': (11,), 'descr': '<i4', 'fortran_order': False}");
    write_raw(pi4, hdr, nh, i4, sizeof(i4));
    nh = make_header(hdr, 3, "{'descr': '<f4', 'fortran_order': False, 'shape': (11, 4), }");
    write_raw(pv3, hdr, nh, f, sizeof(f));
  }
  (void)MPI_Barrier(PETSC_COMM_WORLD);
  WN_CK_OK(wn_layout_init(PETSC_COMM_WORLD, n, &L));
  {
    float   rows[11 * 4];
    int64_t ids[11];

    OK_ALL(wn_npy_read_header(PETSC_COMM_WORLD, p64, &h));
    WN_CK_ASSERT_ALL(PETSC_COMM_WORLD, h.dtype == WN_DTYPE_F64 && h.major == 2);
    OK_ALL(wn_npy_read_rows_float(p64, &h, L.row_start, L.n_local, rows));
    for (int64_t i = 0; i < L.n_local; i++)
      for (int64_t j = 0; j < d; j++) ok &= rows[i * d + j] == (float)(1.0 / 3.0 + (double)((L.row_start + i) * d + j) * 1e-3);
    WN_CK_ASSERT_ALL(PETSC_COMM_WORLD, ok);
    /* A float reader refuses ints, an int reader floats (not collective: each rank says so). */
    FAILS_ALL(wn_npy_read_rows_int64(p64, &h, 0, 1, ids), "expected int64 or int32");

    OK_ALL(wn_npy_read_header(PETSC_COMM_WORLD, pi8, &h));
    OK_ALL(wn_npy_read_rows_int64(pi8, &h, L.row_start, L.n_local, ids));
    for (int64_t i = 0; i < L.n_local; i++) ok &= ids[i] == 5000000000LL - 7 * (L.row_start + i);
    WN_CK_ASSERT_ALL(PETSC_COMM_WORLD, ok);
    FAILS_ALL(wn_npy_read_rows_float(pi8, &h, 0, 1, rows), "has dtype '<i8'; expected float32 or float64");

    OK_ALL(wn_npy_read_header(PETSC_COMM_WORLD, pi4, &h));
    OK_ALL(wn_npy_read_rows_int64(pi4, &h, L.row_start, L.n_local, ids));
    for (int64_t i = 0; i < L.n_local; i++) ok &= ids[i] == -3 * (L.row_start + i);
    WN_CK_ASSERT_ALL(PETSC_COMM_WORLD, ok);

    OK_ALL(wn_npy_read_header(PETSC_COMM_WORLD, pv3, &h));
    WN_CK_ASSERT_ALL(PETSC_COMM_WORLD, h.major == 3 && h.dtype == WN_DTYPE_F32);
    OK_ALL(wn_npy_read_rows_float(pv3, &h, L.row_start, L.n_local, rows));
    for (int64_t i = 0; i < L.n_local; i++)
      for (int64_t j = 0; j < d; j++) ok &= rows[i * d + j] == value_at(L.row_start + i, j);
    WN_CK_ASSERT_ALL(PETSC_COMM_WORLD, ok);
    /* Rows past the end. */
    FAILS_ALL(wn_npy_read_rows_float(pv3, &h, 9, 3, rows), "rows [9, 12) are outside the 11 rows");
  }
  wn_test_tmpdir_remove(dir);
}
END_TEST

START_TEST(read_header_errors)
{
  char          dir[256], path[PETSC_MAX_PATH_LEN];
  int           rank;
  wn_npy_header h;

  wn_test_tmpdir_make(dir, sizeof(dir));
  MPI_Comm_rank(PETSC_COMM_WORLD, &rank);

  snprintf(path, sizeof(path), "%s/missing.npy", dir);
  FAILS_ALL(wn_npy_read_header(PETSC_COMM_WORLD, path, &h), "No such file or directory");
  FAILS_ALL(wn_npy_read_header(PETSC_COMM_WORLD, path, &h), path);

  /* Not a .npy file. */
  snprintf(path, sizeof(path), "%s/text.npy", dir);
  if (rank == 0) write_raw(path, (const unsigned char *)"hello, world\n", 13, NULL, 0);
  (void)MPI_Barrier(PETSC_COMM_WORLD);
  FAILS_ALL(wn_npy_read_header(PETSC_COMM_WORLD, path, &h), "not a .npy file (bad magic)");

  /* Data shorter than the shape says: 10 x 3 float32 needs 120 bytes, only 50 are there. */
  snprintf(path, sizeof(path), "%s/short.npy", dir);
  if (rank == 0) {
    unsigned char hdr[256], zeros[50] = {0};
    size_t        nh = make_header(hdr, 1, "{'descr': '<f4', 'fortran_order': False, 'shape': (10, 3), }");
    write_raw(path, hdr, nh, zeros, sizeof(zeros));
  }
  (void)MPI_Barrier(PETSC_COMM_WORLD);
  FAILS_ALL(wn_npy_read_header(PETSC_COMM_WORLD, path, &h), "expects 120 bytes of data, file has 50");
  FAILS_ALL(wn_npy_read_header(PETSC_COMM_WORLD, path, &h), "truncated .npy");

  /* Header itself cut off. */
  snprintf(path, sizeof(path), "%s/cut.npy", dir);
  if (rank == 0) {
    unsigned char hdr[256];
    (void)make_header(hdr, 1, "{'descr': '<f4', 'fortran_order': False, 'shape': (10, 3), }");
    write_raw(path, hdr, 40, NULL, 0);
  }
  (void)MPI_Barrier(PETSC_COMM_WORLD);
  FAILS_ALL(wn_npy_read_header(PETSC_COMM_WORLD, path, &h), "header is truncated: needs 128 bytes, file has 40");

  /* Fortran order, through the collective reader: the file is named in the message. */
  snprintf(path, sizeof(path), "%s/fortran.npy", dir);
  if (rank == 0) {
    unsigned char hdr[256], zeros[24] = {0};
    size_t        nh = make_header(hdr, 1, "{'descr': '<f4', 'fortran_order': True, 'shape': (2, 3), }");
    write_raw(path, hdr, nh, zeros, sizeof(zeros));
  }
  (void)MPI_Barrier(PETSC_COMM_WORLD);
  FAILS_ALL(wn_npy_read_header(PETSC_COMM_WORLD, path, &h), "fortran.npy': header declares fortran_order True");

  /* A directory is not a file. */
  FAILS_ALL(wn_npy_read_header(PETSC_COMM_WORLD, dir, &h), "not a regular file");
  wn_test_tmpdir_remove(dir);
}
END_TEST

static Suite *make_suite(void)
{
  Suite *s    = suite_create("npy");
  TCase *pure = tcase_create("pure");
  TCase *dist = tcase_create("distributed");

  tcase_add_test(pure, header_v1_literal);
  tcase_add_test(pure, header_v2_v3_and_orders);
  tcase_add_test(pure, header_errors);
  tcase_add_test(pure, header_prefix_errors);
  tcase_add_test(dist, rows_round_trip);
  tcase_add_test(dist, rows_f64_and_ints);
  tcase_add_test(dist, read_header_errors);
  suite_add_tcase(s, pure);
  suite_add_tcase(s, dist);
  return s;
}

int main(int argc, char **argv) { return wn_test_run(argc, argv, make_suite); }
