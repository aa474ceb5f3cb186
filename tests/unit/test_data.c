/* test_data.c - check suite for src/data.c and src/kernel_io.c.
 *
 * distributed (1-4 ranks; N = 13 and N = 2 so sizes do not divide and some ranks own no rows):
 * pool and target reads from HDF5 (float32 and float64) and .npy (detected by magic bytes, not by name),
 * ids and labels (int and string, absent, ""), replication of targets and of the pool, gathering column
 * entries of chosen rows, finding rows by id, the error catalogue (missing file/dataset, not 2-D, not
 * float, zero rows, NaN/Inf with the first bad row, d mismatch, ids/labels of the wrong length), and
 * kernel write/read round trips (candidate-major, target-major transposed, default orientation, errors).
 */
#include <dirent.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <winnow/data.h>
#include <winnow/h5io.h>
#include <winnow/kernel.h>
#include <winnow/npy.h>
#include "wn_test.h"

#define COMM PETSC_COMM_WORLD
#define NC   13 /* candidates */
#define NT   5  /* targets */
#define D    4

/* ---- helpers (same as in the other I/O suites) ------------------------------------------------- */

static int rank_of(void)
{
  int r;
  MPI_Comm_rank(COMM, &r);
  return r;
}

static float   cval(int64_t i, int64_t j) { return (float)(i - 6) * 0.5f + (float)j * 0.125f; } /* candidates */
static float   tval(int64_t i, int64_t j) { return (float)(i + 1) * 0.25f - (float)j; }        /* targets */
static double  dval(int64_t i, int64_t j) { return (double)cval(i, j) + 1.0 / 3.0; }           /* float64 file */
static int64_t idval(int64_t i) { return 1000 + 7 * i; }
static float   kval(int64_t c, int64_t t) { return (float)c + (float)t / 8.0f; }

static void label_of(int64_t i, char *buf, size_t w)
{
  memset(buf, 0, w);
  snprintf(buf, w, "class%u", (unsigned)((i % 3 == 2 ? 10 + i : i % 3) % 1000)); /* lengths 6 and 7 */
}

static void sid_of(int64_t i, char *buf, size_t w)
{
  memset(buf, 0, w);
  snprintf(buf, w, "doc-%c%lld", (char)('a' + i % 5), (long long)i);
}

static void spec_set(wn_input_spec *s, const char *path, const char *dataset, const char *ids, const char *labels)
{
  memset(s, 0, sizeof(*s));
  snprintf(s->path, sizeof(s->path), "%s", path);
  snprintf(s->dataset, sizeof(s->dataset), "%s", dataset);
  snprintf(s->ids_dataset, sizeof(s->ids_dataset), "%s", ids);
  snprintf(s->labels_dataset, sizeof(s->labels_dataset), "%s", labels);
}

static int raw_write(hid_t f, const char *name, hid_t ftype, hid_t mtype, int ndim, const hsize_t *dims, const void *buf)
{
  hid_t lcpl = H5Pcreate(H5P_LINK_CREATE), s, d;
  int   ok;

  H5Pset_create_intermediate_group(lcpl, 1);
  s  = H5Screate_simple(ndim, dims, NULL);
  d  = H5Dcreate2(f, name, ftype, s, lcpl, H5P_DEFAULT, H5P_DEFAULT);
  ok = d >= 0 && H5Dwrite(d, mtype, H5S_ALL, H5S_ALL, H5P_DEFAULT, buf) >= 0;
  H5Dclose(d);
  H5Sclose(s);
  H5Pclose(lcpl);
  return ok;
}

/* The good file, written collectively through h5io (every rank writes its rows). */
static void write_main(const char *path, int64_t n)
{
  hid_t     file = -1;
  wn_layout L, T;
  float    *emb, *temb;
  int64_t  *ids, *tl, *dup;
  char     *lab, *sid, *tlab;
  const size_t w = 16;

  WN_CK_OK(wn_layout_init(COMM, n, &L));
  WN_CK_OK(wn_layout_init(COMM, NT, &T));
  emb  = calloc((size_t)(L.n_local * D + 1), sizeof(float));
  ids  = calloc((size_t)(L.n_local + 1), sizeof(int64_t));
  dup  = calloc((size_t)(L.n_local + 1), sizeof(int64_t));
  lab  = calloc((size_t)(L.n_local + 1) * w, 1);
  sid  = calloc((size_t)(L.n_local + 1) * w, 1);
  temb = calloc((size_t)(T.n_local * D + 1), sizeof(float));
  tl   = calloc((size_t)(T.n_local + 1), sizeof(int64_t));
  tlab = calloc((size_t)(T.n_local + 1) * w, 1);
  for (int64_t i = 0; i < L.n_local; i++) {
    int64_t g = L.row_start + i;
    for (int64_t j = 0; j < D; j++) emb[i * D + j] = cval(g, j);
    ids[i] = idval(g);
    dup[i] = g == 5 ? idval(3) : idval(g); /* id of row 3 twice */
    label_of(g, lab + i * w, w);
    sid_of(g, sid + i * w, w);
  }
  for (int64_t i = 0; i < T.n_local; i++) {
    for (int64_t j = 0; j < D; j++) temb[i * D + j] = tval(T.row_start + i, j);
    tl[i] = -(T.row_start + i);
    label_of(T.row_start + i, tlab + i * w, w);
  }
  OK_ALL(wn_h5_create(COMM, path, &file));
  OK_ALL(wn_h5_write_rows_float(COMM, file, "/candidates/embedding", n, D, L.row_start, L.n_local, emb, 0));
  OK_ALL(wn_h5_write_rows_int64(COMM, file, "/candidates/id", n, L.row_start, L.n_local, ids));
  OK_ALL(wn_h5_write_rows_strings(COMM, file, "/candidates/label", n, L.row_start, L.n_local, lab, w));
  OK_ALL(wn_h5_write_rows_strings(COMM, file, "/candidates/sid", n, L.row_start, L.n_local, sid, w));
  OK_ALL(wn_h5_write_rows_int64(COMM, file, "/candidates/dupid", n, L.row_start, L.n_local, dup));
  OK_ALL(wn_h5_write_rows_float(COMM, file, "/targets/embedding", NT, D, T.row_start, T.n_local, temb, 0));
  OK_ALL(wn_h5_write_rows_int64(COMM, file, "/targets/label", NT, T.row_start, T.n_local, tl));
  OK_ALL(wn_h5_write_rows_strings(COMM, file, "/targets/slabel", NT, T.row_start, T.n_local, tlab, w));
  OK_ALL(wn_h5_close(&file));
  free(emb);
  free(ids);
  free(dup);
  free(lab);
  free(sid);
  free(temb);
  free(tl);
  free(tlab);
}

/* The bad file, written by plain serial HDF5 on rank 0. */
static void write_bad(const char *path)
{
  int ok = 1;

  if (rank_of() == 0) {
    hid_t   f = H5Fcreate(path, H5F_ACC_TRUNC, H5P_DEFAULT, H5P_DEFAULT);
    float   x[NC * D], cube[NC * D], zero[1] = {0}, k6[NC * 6];
    double  x64[NC * D], fids[NC];
    int32_t i32[NC * D];
    char    strs[NC][4];
    int64_t short_ids[NC - 1];
    hsize_t d2[2] = {NC, D}, d3[3] = {NC, 2, 2}, dz[2] = {0, D}, d1 = NC, ds = NC - 1, dk[2] = {NC, 6}, dt3[2] = {NT, 3};

    ok = f >= 0;
    for (int64_t i = 0; i < NC; i++) {
      for (int64_t j = 0; j < D; j++) {
        x[i * D + j]   = cval(i, j);
        cube[i * D + j] = cval(i, j);
        x64[i * D + j] = dval(i, j);
        i32[i * D + j] = (int32_t)(i * D + j);
      }
      fids[i] = (double)i;
      snprintf(strs[i], 4, "s%lld", (long long)(i % 10));
      if (i < NC - 1) short_ids[i] = i;
      for (int64_t t = 0; t < 6; t++) k6[i * 6 + t] = kval(i, t);
    }
    ok &= raw_write(f, "/f64/embedding", H5T_IEEE_F64LE, H5T_NATIVE_DOUBLE, 2, d2, x64);
    ok &= raw_write(f, "/bad/cube", H5T_IEEE_F32LE, H5T_NATIVE_FLOAT, 3, d3, cube);
    ok &= raw_write(f, "/bad/int32", H5T_STD_I32LE, H5T_NATIVE_INT32, 2, d2, i32);
    ok &= raw_write(f, "/bad/zero", H5T_IEEE_F32LE, H5T_NATIVE_FLOAT, 2, dz, zero);
    ok &= raw_write(f, "/bad/flat", H5T_IEEE_F32LE, H5T_NATIVE_FLOAT, 1, &d1, x);
    ok &= raw_write(f, "/bad/fids", H5T_IEEE_F64LE, H5T_NATIVE_DOUBLE, 1, &d1, fids);
    ok &= raw_write(f, "/bad/short_ids", H5T_STD_I64LE, H5T_NATIVE_INT64, 1, &ds, short_ids);
    ok &= raw_write(f, "/bad/kint", H5T_STD_I32LE, H5T_NATIVE_INT32, 2, d2, i32);
    ok &= raw_write(f, "/targets3/embedding", H5T_IEEE_F32LE, H5T_NATIVE_FLOAT, 2, dt3, x);
    {
      hid_t t = H5Tcopy(H5T_C_S1);
      H5Tset_size(t, 4);
      ok &= raw_write(f, "/bad/strs", t, t, 1, &d1, strs);
      H5Tclose(t);
    }
    x[9 * D + 2] = NAN;
    ok &= raw_write(f, "/bad/nan", H5T_IEEE_F32LE, H5T_NATIVE_FLOAT, 2, d2, x);
    x[9 * D + 2] = 0;
    x[11 * D + 0] = -INFINITY;
    x[12 * D + 3] = NAN;
    ok &= raw_write(f, "/bad/inf", H5T_IEEE_F32LE, H5T_NATIVE_FLOAT, 2, d2, x);
    k6[7 * 6 + 4] = INFINITY;
    ok &= raw_write(f, "/bad/knan", H5T_IEEE_F32LE, H5T_NATIVE_FLOAT, 2, dk, k6);
    ok &= H5Fclose(f) >= 0;
  }
  WN_CK_ASSERT_ALL(COMM, ok);
}

/* ---- pool and targets from HDF5 ----------------------------------------------------------------- */

static void check_pool_rows(const wn_pool *p, int64_t n)
{
  int ok = p->layout.n_global == n && p->d == D;

  for (int64_t i = 0; ok && i < p->layout.n_local; i++)
    for (int64_t j = 0; j < D; j++) ok &= p->embedding[i * D + j] == cval(p->layout.row_start + i, j);
  WN_CK_ASSERT_ALL(COMM, ok);
}

static void pool_h5(int64_t n)
{
  char          dir[256], path[PETSC_MAX_PATH_LEN];
  wn_input_spec spec;
  wn_pool      *pool = NULL;
  wn_targets   *t    = NULL;
  int           ok   = 1;
  char          buf[64], expect[32];

  wn_test_tmpdir_make(dir, sizeof(dir));
  snprintf(path, sizeof(path), "%s/main.h5", dir);
  write_main(path, n);

  spec_set(&spec, path, "/candidates/embedding", "/candidates/id", "/candidates/label");
  OK_ALL(wn_pool_read(COMM, &spec, &pool));
  check_pool_rows(pool, n);
  WN_CK_ASSERT_ALL(COMM, pool->file_dtype == WN_DTYPE_F32 && !strcmp(pool->source.path, path));
  WN_CK_ASSERT_ALL(COMM, pool->id.kind == WN_COLUMN_INT && pool->id.n == pool->layout.n_local);
  WN_CK_ASSERT_ALL(COMM, pool->label.kind == WN_COLUMN_STRING && pool->label.n == pool->layout.n_local);
  WN_CK_ASSERT_ALL(COMM, pool->label.width == (n > 2 ? 8u : 7u)); /* "class12" is the longest when n > 2 */
  for (int64_t i = 0; i < pool->layout.n_local; i++) {
    int64_t g = pool->layout.row_start + i;
    ok &= pool->id.ints[i] == idval(g);
    label_of(g, expect, sizeof(expect));
    ok &= !strcmp(wn_column_text(&pool->label, i, g, buf, sizeof(buf)), expect);
    snprintf(expect, sizeof(expect), "%lld", (long long)idval(g));
    ok &= !strcmp(wn_column_text(&pool->id, i, g, buf, sizeof(buf)), expect);
  }
  WN_CK_ASSERT_ALL(COMM, ok);

  /* Replicate the pool. */
  {
    float *all = NULL;
    OK_ALL(wn_pool_allgather_embedding(pool, &all));
    for (int64_t i = 0; i < n; i++)
      for (int64_t j = 0; j < D; j++) ok &= all[i * D + j] == cval(i, j);
    WN_CK_ASSERT_ALL(COMM, ok);
    PetscFree(all);
  }

  /* Gather entries of chosen rows (repeats allowed, any order). */
  {
    int64_t   rows[5] = {n - 1, 0, n / 2, n / 2, 1};
    wn_column ci, cl, cn;
    wn_column none = {WN_COLUMN_NONE, pool->layout.n_local, NULL, NULL, 0};

    OK_ALL(wn_column_gather(&pool->layout, &pool->id, 5, rows, &ci));
    OK_ALL(wn_column_gather(&pool->layout, &pool->label, 5, rows, &cl));
    OK_ALL(wn_column_gather(&pool->layout, &none, 5, rows, &cn));
    WN_CK_ASSERT_ALL(COMM, ci.kind == WN_COLUMN_INT && cl.kind == WN_COLUMN_STRING && cn.kind == WN_COLUMN_NONE && ci.n == 5 && cl.n == 5);
    WN_CK_ASSERT_ALL(COMM, cl.width == pool->label.width);
    for (int k = 0; k < 5; k++) {
      ok &= ci.ints[k] == idval(rows[k]);
      label_of(rows[k], expect, sizeof(expect));
      ok &= !strcmp(wn_column_text(&cl, k, rows[k], buf, sizeof(buf)), expect);
      snprintf(expect, sizeof(expect), "%lld", (long long)rows[k]);
      ok &= !strcmp(wn_column_text(&cn, k, rows[k], buf, sizeof(buf)), expect);
    }
    WN_CK_ASSERT_ALL(COMM, ok);
    WN_CK_OK(wn_column_destroy(&ci));
    WN_CK_OK(wn_column_destroy(&cl));
    WN_CK_OK(wn_column_destroy(&cn));
    /* Negative entries survive the MPI_MAX combination. */
    {
      int64_t  *neg = calloc((size_t)pool->layout.n_local + 1, sizeof(int64_t));
      wn_column cneg = {WN_COLUMN_INT, pool->layout.n_local, neg, NULL, 0};
      for (int64_t i = 0; i < pool->layout.n_local; i++) neg[i] = -1 - 1000000000000LL * (pool->layout.row_start + i);
      OK_ALL(wn_column_gather(&pool->layout, &cneg, 5, rows, &ci));
      for (int k = 0; k < 5; k++) ok &= ci.ints[k] == -1 - 1000000000000LL * rows[k];
      WN_CK_ASSERT_ALL(COMM, ok);
      WN_CK_OK(wn_column_destroy(&ci));
      free(neg);
    }
    rows[2] = n;
    FAILS_ALL(wn_column_gather(&pool->layout, &pool->id, 5, rows, &ci), "is outside the pool");
  }

  /* Find rows by id: integer ids. */
  {
    char        t0[32], t1[32];
    const char *q[2] = {t0, t1};
    int64_t     r[2];

    snprintf(t0, sizeof(t0), "%lld", (long long)idval(n - 1));
    snprintf(t1, sizeof(t1), " %lld", (long long)idval(0));
    OK_ALL(wn_pool_find_ids(pool, 2, q, r));
    WN_CK_ASSERT_ALL(COMM, r[0] == n - 1 && r[1] == 0);
    q[1] = "999";
    FAILS_ALL(wn_pool_find_ids(pool, 2, q, r), "id '999' matches no row");
    q[1] = "abc";
    FAILS_ALL(wn_pool_find_ids(pool, 2, q, r), "id 'abc' matches no row");
    FAILS_ALL(wn_pool_find_ids(pool, 2, q, r), "ids are integers");
  }
  WN_CK_OK(wn_pool_destroy(&pool));
  WN_CK_ASSERT_ALL(COMM, pool == NULL);

  /* String ids, duplicates; absent ids and labels; "" ids. */
  spec_set(&spec, path, "/candidates/embedding", "/candidates/sid", "/candidates/nolabels");
  OK_ALL(wn_pool_read(COMM, &spec, &pool));
  WN_CK_ASSERT_ALL(COMM, pool->id.kind == WN_COLUMN_STRING && pool->label.kind == WN_COLUMN_NONE);
  {
    char        s0[16], s1[16];
    const char *q[2] = {s0, s1};
    int64_t     r[2];

    sid_of(n - 1, s0, sizeof(s0));
    sid_of(0, s1, sizeof(s1));
    OK_ALL(wn_pool_find_ids(pool, 2, q, r));
    WN_CK_ASSERT_ALL(COMM, r[0] == n - 1 && r[1] == 0);
    q[0] = "doc-a";
    FAILS_ALL(wn_pool_find_ids(pool, 1, q, r), "id 'doc-a' matches no row");
    q[0] = "a string longer than any id in the pool";
    FAILS_ALL(wn_pool_find_ids(pool, 1, q, r), "matches no row");
  }
  WN_CK_OK(wn_pool_destroy(&pool));

  spec_set(&spec, path, "/candidates/embedding", "/candidates/noids", "");
  OK_ALL(wn_pool_read(COMM, &spec, &pool));
  WN_CK_ASSERT_ALL(COMM, pool->id.kind == WN_COLUMN_NONE && pool->label.kind == WN_COLUMN_NONE && pool->id.n == pool->layout.n_local);
  {
    const char *q[2] = {"1", "0"};
    int64_t     r[2];
    OK_ALL(wn_pool_find_ids(pool, 2, q, r));
    WN_CK_ASSERT_ALL(COMM, r[0] == 1 && r[1] == 0);
    q[0] = "13";
    if (n == NC) FAILS_ALL(wn_pool_find_ids(pool, 1, q, r), "ids are global row indices");
  }
  WN_CK_OK(wn_pool_destroy(&pool));
  spec_set(&spec, path, "/candidates/embedding", "", "");
  OK_ALL(wn_pool_read(COMM, &spec, &pool));
  WN_CK_ASSERT_ALL(COMM, pool->id.kind == WN_COLUMN_NONE);
  check_pool_rows(pool, n);
  WN_CK_OK(wn_pool_destroy(&pool));

  if (n > 5) {
    const char *q[1] = {"1021"}; /* idval(3), also at row 5 */
    int64_t     r[1];
    spec_set(&spec, path, "/candidates/embedding", "/candidates/dupid", "");
    OK_ALL(wn_pool_read(COMM, &spec, &pool));
    FAILS_ALL(wn_pool_find_ids(pool, 1, q, r), "id '1021' matches 2 rows");
    FAILS_ALL(wn_pool_find_ids(pool, 1, q, r), "(first: row 3)");
    WN_CK_OK(wn_pool_destroy(&pool));
  }

  /* Targets, replicated, with int labels then string labels. */
  spec_set(&spec, path, "/targets/embedding", "/targets/ignored", "/targets/label");
  OK_ALL(wn_targets_read(COMM, &spec, D, &t));
  WN_CK_ASSERT_ALL(COMM, t->m == NT && t->d == D && t->label.kind == WN_COLUMN_INT && t->label.n == NT);
  for (int64_t i = 0; i < NT; i++) {
    for (int64_t j = 0; j < D; j++) ok &= t->embedding[i * D + j] == tval(i, j);
    ok &= t->label.ints[i] == -i;
  }
  WN_CK_ASSERT_ALL(COMM, ok);
  WN_CK_OK(wn_targets_destroy(&t));
  spec_set(&spec, path, "/targets/embedding", "", "/targets/slabel");
  OK_ALL(wn_targets_read(COMM, &spec, 0, &t));
  WN_CK_ASSERT_ALL(COMM, t->label.kind == WN_COLUMN_STRING);
  for (int64_t i = 0; i < NT; i++) {
    label_of(i, expect, sizeof(expect));
    ok &= !strcmp(t->label.strings + i * t->label.width, expect);
  }
  WN_CK_ASSERT_ALL(COMM, ok);
  WN_CK_OK(wn_targets_destroy(&t));
  FAILS_ALL(wn_targets_read(COMM, &spec, 384, &t), "targets have d = 4 but candidates have d = 384");
  wn_test_tmpdir_remove(dir);
}

START_TEST(pool_and_targets_h5)
{
  pool_h5(NC);
  pool_h5(2); /* fewer rows than ranks on 3 and 4 ranks */
}
END_TEST

/* ---- .npy and float64 inputs -------------------------------------------------------------------- */

START_TEST(npy_and_f64)
{
  char          dir[256], cand[PETSC_MAX_PATH_LEN], targ[PETSC_MAX_PATH_LEN], bad[PETSC_MAX_PATH_LEN], ints[PETSC_MAX_PATH_LEN], flat[PETSC_MAX_PATH_LEN];
  wn_input_spec spec;
  wn_pool      *pool = NULL;
  wn_targets   *t    = NULL;
  int           ok   = 1;

  wn_test_tmpdir_make(dir, sizeof(dir));
  snprintf(cand, sizeof(cand), "%s/candidates.h5", dir); /* a .npy file with an HDF5 name */
  snprintf(targ, sizeof(targ), "%s/targets.npy", dir);
  snprintf(bad, sizeof(bad), "%s/bad.h5", dir);
  snprintf(ints, sizeof(ints), "%s/ints.npy", dir);
  snprintf(flat, sizeof(flat), "%s/flat.npy", dir);
  if (rank_of() == 0) {
    float c[NC * D], tt[NT * 3];
    FILE *fp;

    for (int64_t i = 0; i < NC; i++)
      for (int64_t j = 0; j < D; j++) c[i * D + j] = cval(i, j);
    for (int64_t k = 0; k < NT * 3; k++) tt[k] = tval(k / 3, k % 3);
    ok &= wn_npy_write_float(cand, NC, D, c) == 0;
    ok &= wn_npy_write_float(targ, NT, 3, tt) == 0;
    ok &= wn_npy_write_float(flat, NC, 1, c) == 0;
    fp = fopen(flat, "r+b"); /* turn (13, 1) into (13,) in place: same length */
    if (fp) {
      fseek(fp, 10, SEEK_SET);
      fputs("{'descr': '<f4', 'fortran_order': False, 'shape': (13,), }  ", fp);
      fclose(fp);
    }
    fp = fopen(ints, "wb");
    if (fp) {
      int64_t     v[3] = {1, 2, 3};
      char        hdr[128];
      const char *dict = "{'descr': '<i8', 'fortran_order': False, 'shape': (3, 1), }";
      memset(hdr, ' ', sizeof(hdr));
      memcpy(hdr, "\x93NUMPY\x01\x00\x76\x00", 10); /* header length 118: data at 128 */
      memcpy(hdr + 10, dict, strlen(dict));
      hdr[127] = '\n';
      ok &= fwrite(hdr, 1, 128, fp) == 128 && fwrite(v, 8, 3, fp) == 3;
      fclose(fp);
    }
  }
  WN_CK_ASSERT_ALL(COMM, ok);
  write_bad(bad);

  spec_set(&spec, cand, "/ignored", "/candidates/id", "/candidates/label");
  OK_ALL(wn_pool_read(COMM, &spec, &pool));
  check_pool_rows(pool, NC);
  WN_CK_ASSERT_ALL(COMM, pool->id.kind == WN_COLUMN_NONE && pool->label.kind == WN_COLUMN_NONE && pool->file_dtype == WN_DTYPE_F32);
  WN_CK_OK(wn_pool_destroy(&pool));

  spec_set(&spec, targ, "", "", "");
  OK_ALL(wn_targets_read(COMM, &spec, 3, &t));
  for (int64_t k = 0; k < NT * 3; k++) ok &= t->embedding[k] == tval(k / 3, k % 3);
  WN_CK_ASSERT_ALL(COMM, ok && t->m == NT && t->d == 3 && t->label.kind == WN_COLUMN_NONE);
  WN_CK_OK(wn_targets_destroy(&t));
  FAILS_ALL(wn_targets_read(COMM, &spec, D, &t), "targets have d = 3 but candidates have d = 4");

  spec_set(&spec, ints, "", "", "");
  FAILS_ALL(wn_pool_read(COMM, &spec, &pool), "has dtype '<i8'; expected float32 or float64");
  spec_set(&spec, flat, "", "", "");
  FAILS_ALL(wn_pool_read(COMM, &spec, &pool), "is 1-D (shape (13,)); expected N x d");

  /* float64 HDF5 embeddings are converted to float32 by HDF5. */
  spec_set(&spec, bad, "/f64/embedding", "/candidates/id", "");
  OK_ALL(wn_pool_read(COMM, &spec, &pool));
  WN_CK_ASSERT_ALL(COMM, pool->file_dtype == WN_DTYPE_F64 && pool->d == D && pool->id.kind == WN_COLUMN_NONE);
  for (int64_t i = 0; i < pool->layout.n_local; i++)
    for (int64_t j = 0; j < D; j++) ok &= pool->embedding[i * D + j] == (float)dval(pool->layout.row_start + i, j);
  WN_CK_ASSERT_ALL(COMM, ok);
  WN_CK_OK(wn_pool_destroy(&pool));
  wn_test_tmpdir_remove(dir);
}
END_TEST

/* ---- the error catalogue ------------------------------------------------------------------------ */

START_TEST(input_errors)
{
  char          dir[256], bad[PETSC_MAX_PATH_LEN], main_h5[PETSC_MAX_PATH_LEN], missing[PETSC_MAX_PATH_LEN], text[PETSC_MAX_PATH_LEN];
  wn_input_spec spec;
  wn_pool      *pool = NULL;
  wn_targets   *t    = NULL;

  wn_test_tmpdir_make(dir, sizeof(dir));
  snprintf(bad, sizeof(bad), "%s/bad.h5", dir);
  snprintf(main_h5, sizeof(main_h5), "%s/main.h5", dir);
  snprintf(missing, sizeof(missing), "%s/missing.h5", dir);
  snprintf(text, sizeof(text), "%s/notes.txt", dir);
  write_bad(bad);
  write_main(main_h5, NC);
  if (rank_of() == 0) {
    FILE *fp = fopen(text, "w");
    if (fp) {
      fputs("just some text, long enough to look at\n", fp);
      fclose(fp);
    }
  }

  spec_set(&spec, missing, "/candidates/embedding", "", "");
  FAILS_ALL(wn_pool_read(COMM, &spec, &pool), "cannot open '");
  FAILS_ALL(wn_pool_read(COMM, &spec, &pool), "missing.h5': No such file or directory");
  spec_set(&spec, text, "/candidates/embedding", "", "");
  FAILS_ALL(wn_pool_read(COMM, &spec, &pool), "notes.txt' is neither an HDF5 file nor a .npy file");
  spec_set(&spec, main_h5, "/candidates/nothing", "", "");
  FAILS_ALL(wn_pool_read(COMM, &spec, &pool), "dataset /candidates/nothing not found in '");
  spec_set(&spec, main_h5, "", "", "");
  FAILS_ALL(wn_pool_read(COMM, &spec, &pool), "no dataset is named for the candidate embedding");
  spec_set(&spec, main_h5, "/candidates", "", "");
  FAILS_ALL(wn_pool_read(COMM, &spec, &pool), "is a group, not a dataset");
  spec_set(&spec, bad, "/bad/flat", "", "");
  FAILS_ALL(wn_pool_read(COMM, &spec, &pool), "dataset /bad/flat in '");
  FAILS_ALL(wn_pool_read(COMM, &spec, &pool), "is 1-D; expected N x d");
  spec_set(&spec, bad, "/bad/cube", "", "");
  FAILS_ALL(wn_pool_read(COMM, &spec, &pool), "is 3-D; expected N x d");
  spec_set(&spec, bad, "/bad/int32", "", "");
  FAILS_ALL(wn_pool_read(COMM, &spec, &pool), "has type int32; expected float32 or float64");
  spec_set(&spec, bad, "/bad/strs", "", "");
  FAILS_ALL(wn_pool_read(COMM, &spec, &pool), "holds strings");
  spec_set(&spec, bad, "/bad/zero", "", "");
  FAILS_ALL(wn_pool_read(COMM, &spec, &pool), "dataset /bad/zero in '");
  FAILS_ALL(wn_pool_read(COMM, &spec, &pool), "has zero rows");
  spec_set(&spec, bad, "/bad/nan", "", "");
  FAILS_ALL(wn_pool_read(COMM, &spec, &pool), "dataset /bad/nan in '");
  FAILS_ALL(wn_pool_read(COMM, &spec, &pool), "has a NaN or Inf at row 9, column 2");
  spec_set(&spec, bad, "/bad/inf", "", "");
  FAILS_ALL(wn_pool_read(COMM, &spec, &pool), "has a NaN or Inf at row 11, column 0"); /* the first of two */
  FAILS_ALL(wn_targets_read(COMM, &spec, 0, &t), "has a NaN or Inf at row 11, column 0");
  /* ids / labels of the wrong length or type */
  spec_set(&spec, bad, "/f64/embedding", "/bad/short_ids", "");
  FAILS_ALL(wn_pool_read(COMM, &spec, &pool), "ids dataset /bad/short_ids in '");
  FAILS_ALL(wn_pool_read(COMM, &spec, &pool), "has 12 entries but the embedding /f64/embedding has 13 rows");
  spec_set(&spec, bad, "/f64/embedding", "", "/bad/short_ids");
  FAILS_ALL(wn_pool_read(COMM, &spec, &pool), "labels dataset /bad/short_ids");
  spec_set(&spec, bad, "/f64/embedding", "/bad/fids", "");
  FAILS_ALL(wn_pool_read(COMM, &spec, &pool), "holds float64 numbers; expected integers or strings");
  spec_set(&spec, bad, "/f64/embedding", "/bad/cube", "");
  FAILS_ALL(wn_pool_read(COMM, &spec, &pool), "is 3-D; expected a 1-D column of 13 entries");
  /* targets of another dimension */
  spec_set(&spec, bad, "/targets3/embedding", "", "");
  FAILS_ALL(wn_targets_read(COMM, &spec, D, &t), "targets have d = 3 but candidates have d = 4 (dataset /targets3/embedding in '");
  wn_test_tmpdir_remove(dir);
}
END_TEST

/* ---- pools and targets from caller data --------------------------------------------------------- */

START_TEST(from_rows)
{
  wn_layout   L;
  float      *rows, all[NC * D];
  wn_pool    *pool = NULL;
  wn_targets *t    = NULL;
  float      *g    = NULL;
  int         ok   = 1;

  WN_CK_OK(wn_layout_init(COMM, NC, &L));
  for (int64_t i = 0; i < NC; i++)
    for (int64_t j = 0; j < D; j++) all[i * D + j] = cval(i, j);
  rows = all + L.row_start * D;
  WN_CK_OK(wn_pool_create_from_rows(COMM, NC, D, rows, &pool));
  check_pool_rows(pool, NC);
  OK_ALL(wn_pool_allgather_embedding(pool, &g));
  ok = !memcmp(g, all, sizeof(all));
  WN_CK_ASSERT_ALL(COMM, ok);
  PetscFree(g);
  WN_CK_OK(wn_targets_create_from_rows(NT, D, all, &t));
  WN_CK_ASSERT_ALL(COMM, t->m == NT && t->embedding[NT * D - 1] == all[NT * D - 1] && t->label.kind == WN_COLUMN_NONE);
  WN_CK_OK(wn_targets_destroy(&t));
  WN_CK_OK(wn_pool_destroy(&pool));
  WN_CK_OK(wn_pool_destroy(&pool)); /* NULL is fine */
}
END_TEST

/* ---- kernels ------------------------------------------------------------------------------------- */

static void kernel_free(wn_kernel **K)
{
  if (!*K) return;
  PetscFree((*K)->values);
  PetscFree(*K);
}

static void kernels(int64_t n, int64_t nt)
{
  char      dir[256], path[PETSC_MAX_PATH_LEN], bad[PETSC_MAX_PATH_LEN];
  wn_layout L, T;
  wn_kernel K, *R = NULL;
  hid_t     file = -1;
  float    *u;
  int       ok = 1;

  wn_test_tmpdir_make(dir, sizeof(dir));
  snprintf(path, sizeof(path), "%s/k.h5", dir);
  snprintf(bad, sizeof(bad), "%s/bad.h5", dir);
  WN_CK_OK(wn_layout_init(COMM, n, &L));
  WN_CK_OK(wn_layout_init(COMM, nt, &T));
  memset(&K, 0, sizeof(K));
  K.layout        = L;
  K.n_cols        = nt;
  K.params.metric = WN_METRIC_RBF;
  K.params.gamma  = 0.5;
  K.params.minmax = PETSC_TRUE;
  K.d             = 384;
  K.scale_min     = -1.5;
  K.scale_max     = 2.25;
  snprintf(K.columns, sizeof(K.columns), "targets");
  snprintf(K.source, sizeof(K.source), "in.h5");
  K.values = calloc((size_t)(L.n_local * nt + 1), sizeof(float));
  for (int64_t i = 0; i < L.n_local; i++)
    for (int64_t t = 0; t < nt; t++) K.values[i * nt + t] = kval(L.row_start + i, t);
  /* The same matrix target-major (U[t, c] = K[c, t]), written in blocks of target rows. */
  u = calloc((size_t)(T.n_local * n + 1), sizeof(float));
  for (int64_t t = 0; t < T.n_local; t++)
    for (int64_t c = 0; c < n; c++) u[t * n + c] = kval(c, T.row_start + t);

  OK_ALL(wn_h5_create(COMM, path, &file));
  OK_ALL(wn_kernel_write(COMM, file, "/kernel/values", &K));
  OK_ALL(wn_h5_write_rows_float(COMM, file, "/user/u", nt, n, T.row_start, T.n_local, u, 0));
  OK_ALL(wn_h5_attr_write_string(COMM, file, "/user/u", "orientation", "target-major"));
  OK_ALL(wn_h5_write_rows_float(COMM, file, "/user/plain", nt, n, T.row_start, T.n_local, u, 0));
  OK_ALL(wn_h5_write_rows_float(COMM, file, "/user/sideways", nt, n, T.row_start, T.n_local, u, 0));
  OK_ALL(wn_h5_attr_write_string(COMM, file, "/user/sideways", "orientation", "sideways"));
  OK_ALL(wn_h5_close(&file));

  /* Candidate-major round trip, attributes included. */
  OK_ALL(wn_kernel_read(&L, path, "/kernel/values", NULL, &R));
  WN_CK_ASSERT_ALL(COMM, R->n_cols == nt && R->layout.n_local == L.n_local && R->layout.row_start == L.row_start);
  WN_CK_ASSERT_ALL(COMM, R->params.metric == WN_METRIC_RBF && R->params.gamma == 0.5 && R->params.minmax && R->d == 384);
  WN_CK_ASSERT_ALL(COMM, R->scale_min == -1.5 && R->scale_max == 2.25 && !strcmp(R->columns, "targets") && !strcmp(R->source, path));
  ok = !memcmp(R->values, K.values, sizeof(float) * (size_t)(L.n_local * nt));
  WN_CK_ASSERT_ALL(COMM, ok);
  kernel_free(&R);
  OK_ALL(wn_h5_open(COMM, path, PETSC_FALSE, &file));
  {
    char      v[64];
    double    x;
    PetscBool found;
    OK_ALL(wn_h5_attr_read_string(COMM, file, "/kernel/values", "orientation", v, sizeof(v), &found));
    WN_CK_ASSERT_ALL(COMM, found && !strcmp(v, "candidate-major"));
    OK_ALL(wn_h5_attr_read_string(COMM, file, "/kernel/values", "scaling", v, sizeof(v), &found));
    WN_CK_ASSERT_ALL(COMM, found && !strcmp(v, "minmax"));
    OK_ALL(wn_h5_attr_read_double(COMM, file, "/kernel/values", "n_rows", &x, &found));
    WN_CK_ASSERT_ALL(COMM, found && x == (double)n);
    OK_ALL(wn_h5_attr_read_double(COMM, file, "/kernel/values", "n_cols", &x, &found));
    WN_CK_ASSERT_ALL(COMM, found && x == (double)nt);
  }
  OK_ALL(wn_h5_close(&file));

  /* Target-major by attribute: read transposed. */
  OK_ALL(wn_kernel_read(&L, path, "/user/u", "candidate-major", &R));
  WN_CK_ASSERT_ALL(COMM, R->n_cols == nt && R->params.metric == WN_METRIC_DOT && !strcmp(R->columns, "user") && !R->params.minmax && R->d == 0);
  ok = !memcmp(R->values, K.values, sizeof(float) * (size_t)(L.n_local * nt));
  WN_CK_ASSERT_ALL(COMM, ok);
  kernel_free(&R);
  /* No attribute: the default decides. */
  OK_ALL(wn_kernel_read(&L, path, "/user/plain", "target-major", &R));
  ok = !memcmp(R->values, K.values, sizeof(float) * (size_t)(L.n_local * nt));
  WN_CK_ASSERT_ALL(COMM, ok);
  kernel_free(&R);
  if (n != nt) FAILS_ALL(wn_kernel_read(&L, path, "/user/plain", NULL, &R), "candidates but the pool has");
  FAILS_ALL(wn_kernel_read(&L, path, "/user/plain", "diagonal", &R), "kernel orientation 'diagonal' is not");
  FAILS_ALL(wn_kernel_read(&L, path, "/user/sideways", NULL, &R), "has orientation 'sideways'; expected 'candidate-major' or 'target-major'");
  {
    wn_layout L2;
    char      msg[128];
    WN_CK_OK(wn_layout_init(COMM, n + 1, &L2));
    snprintf(msg, sizeof(msg), "has %lld candidates but the pool has %lld", (long long)n, (long long)n + 1);
    FAILS_ALL(wn_kernel_read(&L2, path, "/kernel/values", NULL, &R), msg);
  }
  FAILS_ALL(wn_kernel_read(&L, path, "/kernel/nothing", NULL, &R), "dataset /kernel/nothing not found in '");
  if (n == NC) { /* the bad file has NC rows */
    write_bad(bad);
    FAILS_ALL(wn_kernel_read(&L, bad, "/bad/kint", NULL, &R), "is not float32 or float64");
    FAILS_ALL(wn_kernel_read(&L, bad, "/bad/knan", NULL, &R), "has a NaN or Inf for candidate 7");
    FAILS_ALL(wn_kernel_read(&L, bad, "/bad/cube", NULL, &R), "is 3-D; expected a 2-D matrix");
  }
  snprintf(bad, sizeof(bad), "%s/missing.h5", dir);
  FAILS_ALL(wn_kernel_read(&L, bad, "/kernel/values", NULL, &R), "No such file or directory");
  free(K.values);
  free(u);
  wn_test_tmpdir_remove(dir);
}

START_TEST(kernel_round_trip)
{
  kernels(NC, 6);
  kernels(2, 3); /* fewer candidates (and targets) than ranks on 3 and 4 ranks */
}
END_TEST

static Suite *make_suite(void)
{
  Suite *s  = suite_create("data");
  TCase *tc = tcase_create("distributed");

  tcase_add_test(tc, pool_and_targets_h5);
  tcase_add_test(tc, npy_and_f64);
  tcase_add_test(tc, input_errors);
  tcase_add_test(tc, from_rows);
  tcase_add_test(tc, kernel_round_trip);
  suite_add_tcase(s, tc);
  return s;
}

int main(int argc, char **argv) { return wn_test_run(argc, argv, make_suite); }
