/* fiori_import.c - convert the npm package @sap-ux/fiori-docs-embeddings (778 real
 * Xenova/all-MiniLM-L6-v2 sentence embeddings of SAP Fiori documentation, 384-d float32, with one JSON
 * record per vector) into winnow's HDF5 input schema (DESIGN.md section 6), for the demo and the
 * end-to-end tests.
 *
 * Owns: the split into a target set and a candidate pool. A target category is chosen (default
 * "Fiori Development Portal"); a seeded sample of T of its records (default 20, seed 7; a Fisher-Yates
 * shuffle driven by wn_uniform01, so the same on every machine) becomes the target set, in file order.
 * The pool is every other record, in file order. Writes, with the serial HDF5 API:
 *   /candidates/embedding  N x d float32      /targets/embedding  T x d float32
 *   /candidates/id         N fixed strings    /targets/id         T fixed strings  (record "id")
 *   /candidates/label      N fixed strings    /targets/label      T fixed strings  (record "category")
 *   /candidates/source_row N int64            /targets/source_row T int64  (0-based line in records.jsonl)
 *   attributes on "/": source_package, source_version, source_license, model, target_category,
 *   n_targets, seed, n_candidates, dimension, created_by
 * and POOL.jsonl: the original record lines of the pool, line i = candidate i (for JSONL outputs).
 * Both files are written under a temporary name and renamed when complete.
 * Leaves to prepare.sh: fetching and verifying the npm package. Runs on one rank only.
 */
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <hdf5.h>
#include <wn_autoconf.h>
#include <winnow/error.h>
#include <winnow/jsonl.h>
#include <winnow/util.h>

static const char help[] = "fiori-import: convert @sap-ux/fiori-docs-embeddings (embeddings.bin + records.jsonl) to winnow HDF5.\n"
                           "  -fiori_dir DIR                  directory with records.jsonl, embeddings.bin [, metadata.json, package.json]\n"
                           "  -fiori_output FILE.h5           output (default DIR/fiori.h5)\n"
                           "  -fiori_pool_jsonl FILE          pool records, line i = candidate i (default DIR/pool.jsonl)\n"
                           "  -fiori_target_category NAME     category the target set is drawn from (default \"Fiori Development Portal\")\n"
                           "  -fiori_n_targets T              records held out as targets (default 20)\n"
                           "  -fiori_seed S                   seed of the target sample (default 7)\n"
                           "  -fiori_dim d                    embedding dimension (default: metadata.json \"dimensions\", else 384)\n";

/* One record of records.jsonl. */
typedef struct {
  const char *line;      /* borrowed from the file buffer (no newline) */
  size_t      line_len;
  char       *id;        /* decoded "id" (owned) */
  char       *category;  /* decoded "category" (owned) */
  PetscBool   is_target;
} fiori_record;

/* Read a whole file into a new NUL-terminated buffer (owned by the caller). Not collective. */
static PetscErrorCode fiori_read_file(const char *path, char **buf, size_t *len)
{
  FILE *fp;
  long  size;

  PetscFunctionBeginUser;
  fp = fopen(path, "rb");
  PetscCheck(fp, PETSC_COMM_SELF, PETSC_ERR_FILE_OPEN, "cannot open '%s': %s", path, strerror(errno));
  PetscCheck(fseek(fp, 0, SEEK_END) == 0 && (size = ftell(fp)) >= 0 && fseek(fp, 0, SEEK_SET) == 0, PETSC_COMM_SELF, PETSC_ERR_FILE_READ, "cannot find the size of '%s'", path);
  PetscCall(PetscMalloc1((size_t)size + 1, buf));
  PetscCheck(fread(*buf, 1, (size_t)size, fp) == (size_t)size, PETSC_COMM_SELF, PETSC_ERR_FILE_READ, "short read of '%s' (expected %ld bytes)", path, size);
  fclose(fp);
  (*buf)[size] = 0;
  *len         = (size_t)size;
  PetscFunctionReturn(PETSC_SUCCESS);
}

static PetscBool fiori_file_exists(const char *path)
{
  FILE *fp = fopen(path, "rb");
  if (!fp) return PETSC_FALSE;
  fclose(fp);
  return PETSC_TRUE;
}

/* Optional JSON file (metadata.json, package.json): copy string member key into out (unchanged if the
 * file or key is missing), or read a number into *num. Not collective. */
static PetscErrorCode fiori_json_file_member(const char *path, const char *key, char *out, size_t out_len, double *num)
{
  char            *text = NULL;
  size_t           len, n;
  wn_jsonl_record *rec = NULL;
  wn_jsonl_status  st;
  wn_json_type     type;
  double           v;

  PetscFunctionBeginUser;
  if (!fiori_file_exists(path)) PetscFunctionReturn(PETSC_SUCCESS);
  PetscCall(fiori_read_file(path, &text, &len));
  PetscCall(wn_jsonl_record_create(&rec));
  PetscCall(wn_jsonl_parse(rec, text, len, &st)); /* a whole pretty-printed file is one object: fine */
  PetscCheck(st.valid, PETSC_COMM_SELF, PETSC_ERR_FILE_UNEXPECTED, "'%s' is not one JSON object: byte %zu: %s", path, st.offset, st.reason);
  if (out) {
    PetscCall(wn_jsonl_get_string(rec, key, &type, NULL, 0, &n));
    if (type == WN_JSON_STRING && n < out_len) PetscCall(wn_jsonl_get_string(rec, key, &type, out, out_len, &n));
  }
  if (num) {
    PetscCall(wn_jsonl_get_number(rec, key, &type, &v));
    if (type == WN_JSON_NUMBER) *num = v;
  }
  PetscCall(wn_jsonl_record_destroy(&rec));
  PetscCall(PetscFree(text));
  PetscFunctionReturn(PETSC_SUCCESS);
}

/* Split buf into lines and parse each as a record with string "id" (or a number, kept as its text) and
 * string "category". A final line without newline counts; an empty last piece after the final newline does
 * not; any other empty line is an error (records must align with embedding rows). Not collective. */
static PetscErrorCode fiori_parse_records(const char *path, char *buf, size_t len, fiori_record **records, int64_t *n_records)
{
  wn_jsonl_record *rec = NULL;
  int64_t          n = 0, cap = 1024;
  size_t           pos = 0;
  fiori_record    *r;

  PetscFunctionBeginUser;
  PetscCall(PetscCalloc1(cap, &r));
  PetscCall(wn_jsonl_record_create(&rec));
  while (pos < len) {
    char           *nl   = memchr(buf + pos, '\n', len - pos);
    size_t          end  = nl ? (size_t)(nl - buf) : len, line_len = end - pos;
    wn_jsonl_status st;
    wn_json_type    type;
    wn_json_span    raw;
    size_t          n_id, n_cat;

    if (line_len && buf[pos + line_len - 1] == '\r') line_len--;
    PetscCheck(line_len > 0, PETSC_COMM_SELF, PETSC_ERR_FILE_UNEXPECTED, "'%s' line %lld is empty; every line must be one record (rows must match embeddings.bin)", path, (long long)(n + 1));
    if (n == cap) {
      fiori_record *bigger;
      PetscCall(PetscCalloc1(2 * cap, &bigger));
      PetscCall(PetscArraycpy(bigger, r, cap));
      PetscCall(PetscFree(r));
      r = bigger;
      cap *= 2;
    }
    PetscCall(wn_jsonl_parse(rec, buf + pos, line_len, &st));
    PetscCheck(st.valid, PETSC_COMM_SELF, PETSC_ERR_FILE_UNEXPECTED, "'%s' line %lld, byte %zu: %s", path, (long long)(n + 1), st.offset + 1, st.reason);
    r[n].line     = buf + pos;
    r[n].line_len = line_len;
    PetscCall(wn_jsonl_get_raw(rec, "id", &type, &raw));
    if (type == WN_JSON_NUMBER) {
      PetscCall(PetscMalloc1(raw.len + 1, &r[n].id));
      memcpy(r[n].id, raw.ptr, raw.len);
      r[n].id[raw.len] = 0;
    } else {
      PetscCheck(type == WN_JSON_STRING, PETSC_COMM_SELF, PETSC_ERR_FILE_UNEXPECTED, "'%s' line %lld: member \"id\" is %s; expected a string or a number", path, (long long)(n + 1), wn_json_type_name(type));
      PetscCall(wn_jsonl_get_string_alloc(rec, "id", &type, &r[n].id, &n_id));
      PetscCheck(n_id > 0 && strlen(r[n].id) == n_id, PETSC_COMM_SELF, PETSC_ERR_FILE_UNEXPECTED, "'%s' line %lld: \"id\" is empty or contains a NUL byte", path, (long long)(n + 1));
    }
    PetscCall(wn_jsonl_get_string_alloc(rec, "category", &type, &r[n].category, &n_cat));
    PetscCheck(type == WN_JSON_STRING, PETSC_COMM_SELF, PETSC_ERR_FILE_UNEXPECTED, "'%s' line %lld: member \"category\" is %s; expected a string", path, (long long)(n + 1), wn_json_type_name(type));
    PetscCheck(strlen(r[n].category) == n_cat, PETSC_COMM_SELF, PETSC_ERR_FILE_UNEXPECTED, "'%s' line %lld: \"category\" contains a NUL byte", path, (long long)(n + 1));
    n++;
    pos = end + 1;
  }
  PetscCall(wn_jsonl_record_destroy(&rec));
  *records   = r;
  *n_records = n;
  PetscFunctionReturn(PETSC_SUCCESS);
}

/* Read n x d little-endian float32 from path, checking the size is exactly n*d*4 and every value finite.
 * Not collective. */
static PetscErrorCode fiori_read_embeddings(const char *path, int64_t n, int64_t d, float **emb)
{
  char          *raw;
  size_t         len;
  const uint8_t *b;

  PetscFunctionBeginUser;
  PetscCall(fiori_read_file(path, &raw, &len));
  PetscCheck(len == (size_t)(n * d * 4), PETSC_COMM_SELF, PETSC_ERR_FILE_UNEXPECTED, "'%s' has %zu bytes; expected %lld records x %lld dims x 4 bytes = %lld", path, len, (long long)n, (long long)d, (long long)(n * d * 4));
  PetscCall(PetscMalloc1((size_t)(n * d), emb));
  b = (const uint8_t *)raw;
  for (int64_t i = 0; i < n * d; i++) {
    uint32_t u = (uint32_t)b[4 * i] | ((uint32_t)b[4 * i + 1] << 8) | ((uint32_t)b[4 * i + 2] << 16) | ((uint32_t)b[4 * i + 3] << 24);
    float    f;
    memcpy(&f, &u, 4);
    PetscCheck(isfinite(f), PETSC_COMM_SELF, PETSC_ERR_FP, "'%s': value %lld (row %lld, column %lld) is not finite", path, (long long)i, (long long)(i / d), (long long)(i % d));
    (*emb)[i] = f;
  }
  PetscCall(PetscFree(raw));
  PetscFunctionReturn(PETSC_SUCCESS);
}

/* Write a 2-D float32 dataset rows x d (rows may be 0). Not collective. */
static PetscErrorCode fiori_write_matrix(hid_t group, const char *name, int64_t rows, int64_t d, const float *data)
{
  hsize_t dims[2] = {(hsize_t)rows, (hsize_t)d};
  hid_t   space, dset;

  PetscFunctionBeginUser;
  WN_CALL_HDF5_ID(space, H5Screate_simple, (2, dims, NULL));
  WN_CALL_HDF5_ID(dset, H5Dcreate2, (group, name, H5T_IEEE_F32LE, space, H5P_DEFAULT, H5P_DEFAULT, H5P_DEFAULT));
  if (rows > 0) WN_CALL_HDF5(H5Dwrite, (dset, H5T_NATIVE_FLOAT, H5S_ALL, H5S_ALL, H5P_DEFAULT, data));
  WN_CALL_HDF5(H5Dclose, (dset));
  WN_CALL_HDF5(H5Sclose, (space));
  PetscFunctionReturn(PETSC_SUCCESS);
}

/* Write n strings as a 1-D fixed-length UTF-8 string dataset (width = longest + 1, NUL-terminated). */
static PetscErrorCode fiori_write_strings(hid_t group, const char *name, int64_t n, char *const *strings)
{
  size_t  width = 1;
  char   *buf;
  hsize_t dims[1] = {(hsize_t)n};
  hid_t   type, space, dset;

  PetscFunctionBeginUser;
  for (int64_t i = 0; i < n; i++) width = PetscMax(width, strlen(strings[i]) + 1);
  PetscCall(PetscCalloc1((size_t)PetscMax(n, 1) * width, &buf));
  for (int64_t i = 0; i < n; i++) memcpy(buf + (size_t)i * width, strings[i], strlen(strings[i]));
  WN_CALL_HDF5_ID(type, H5Tcopy, (H5T_C_S1));
  WN_CALL_HDF5(H5Tset_size, (type, width));
  WN_CALL_HDF5(H5Tset_strpad, (type, H5T_STR_NULLTERM));
  WN_CALL_HDF5(H5Tset_cset, (type, H5T_CSET_UTF8));
  WN_CALL_HDF5_ID(space, H5Screate_simple, (1, dims, NULL));
  WN_CALL_HDF5_ID(dset, H5Dcreate2, (group, name, type, space, H5P_DEFAULT, H5P_DEFAULT, H5P_DEFAULT));
  if (n > 0) WN_CALL_HDF5(H5Dwrite, (dset, type, H5S_ALL, H5S_ALL, H5P_DEFAULT, buf));
  WN_CALL_HDF5(H5Dclose, (dset));
  WN_CALL_HDF5(H5Sclose, (space));
  WN_CALL_HDF5(H5Tclose, (type));
  PetscCall(PetscFree(buf));
  PetscFunctionReturn(PETSC_SUCCESS);
}

static PetscErrorCode fiori_write_int64(hid_t group, const char *name, int64_t n, const int64_t *v)
{
  hsize_t dims[1] = {(hsize_t)n};
  hid_t   space, dset;

  PetscFunctionBeginUser;
  WN_CALL_HDF5_ID(space, H5Screate_simple, (1, dims, NULL));
  WN_CALL_HDF5_ID(dset, H5Dcreate2, (group, name, H5T_STD_I64LE, space, H5P_DEFAULT, H5P_DEFAULT, H5P_DEFAULT));
  if (n > 0) WN_CALL_HDF5(H5Dwrite, (dset, H5T_NATIVE_INT64, H5S_ALL, H5S_ALL, H5P_DEFAULT, v));
  WN_CALL_HDF5(H5Dclose, (dset));
  WN_CALL_HDF5(H5Sclose, (space));
  PetscFunctionReturn(PETSC_SUCCESS);
}

/* Scalar UTF-8 string attribute on obj. */
static PetscErrorCode fiori_attr_string(hid_t obj, const char *name, const char *value)
{
  hid_t type, space, attr;

  PetscFunctionBeginUser;
  WN_CALL_HDF5_ID(type, H5Tcopy, (H5T_C_S1));
  WN_CALL_HDF5(H5Tset_size, (type, strlen(value) + 1));
  WN_CALL_HDF5(H5Tset_strpad, (type, H5T_STR_NULLTERM));
  WN_CALL_HDF5(H5Tset_cset, (type, H5T_CSET_UTF8));
  WN_CALL_HDF5_ID(space, H5Screate, (H5S_SCALAR));
  WN_CALL_HDF5_ID(attr, H5Acreate2, (obj, name, type, space, H5P_DEFAULT, H5P_DEFAULT));
  WN_CALL_HDF5(H5Awrite, (attr, type, value));
  WN_CALL_HDF5(H5Aclose, (attr));
  WN_CALL_HDF5(H5Sclose, (space));
  WN_CALL_HDF5(H5Tclose, (type));
  PetscFunctionReturn(PETSC_SUCCESS);
}

static PetscErrorCode fiori_attr_int64(hid_t obj, const char *name, int64_t value)
{
  hid_t space, attr;

  PetscFunctionBeginUser;
  WN_CALL_HDF5_ID(space, H5Screate, (H5S_SCALAR));
  WN_CALL_HDF5_ID(attr, H5Acreate2, (obj, name, H5T_STD_I64LE, space, H5P_DEFAULT, H5P_DEFAULT));
  WN_CALL_HDF5(H5Awrite, (attr, H5T_NATIVE_INT64, &value));
  WN_CALL_HDF5(H5Aclose, (attr));
  WN_CALL_HDF5(H5Sclose, (space));
  PetscFunctionReturn(PETSC_SUCCESS);
}

/* One group (/candidates or /targets) holding the rows listed in rows[0, n). */
static PetscErrorCode fiori_write_group(hid_t file, const char *group_name, const fiori_record *r, const float *emb, int64_t d, int64_t n, const int64_t *rows)
{
  hid_t  group;
  float *sub;
  char **ids, **labels;

  PetscFunctionBeginUser;
  PetscCall(PetscMalloc1((size_t)PetscMax(n * d, 1), &sub));
  PetscCall(PetscMalloc2(PetscMax(n, 1), &ids, PetscMax(n, 1), &labels));
  for (int64_t i = 0; i < n; i++) {
    memcpy(sub + i * d, emb + rows[i] * d, (size_t)d * sizeof(float));
    ids[i]    = r[rows[i]].id;
    labels[i] = r[rows[i]].category;
  }
  WN_CALL_HDF5_ID(group, H5Gcreate2, (file, group_name, H5P_DEFAULT, H5P_DEFAULT, H5P_DEFAULT));
  PetscCall(fiori_write_matrix(group, "embedding", n, d, sub));
  PetscCall(fiori_write_strings(group, "id", n, ids));
  PetscCall(fiori_write_strings(group, "label", n, labels));
  PetscCall(fiori_write_int64(group, "source_row", n, rows));
  WN_CALL_HDF5(H5Gclose, (group));
  PetscCall(PetscFree2(ids, labels));
  PetscCall(PetscFree(sub));
  PetscFunctionReturn(PETSC_SUCCESS);
}

/* The whole conversion (options -> records -> sample -> HDF5 + pool JSONL -> summary). Not collective
 * beyond PETSC_COMM_WORLD of size 1. */
static PetscErrorCode fiori_import(void)
{
  char          dir[PETSC_MAX_PATH_LEN] = "", output[PETSC_MAX_PATH_LEN] = "", pool_path[PETSC_MAX_PATH_LEN] = "", path[PETSC_MAX_PATH_LEN];
  char          tmp[PETSC_MAX_PATH_LEN + 8], category[256] = "Fiori Development Portal";
  char          model[256] = "Xenova/all-MiniLM-L6-v2", package[256] = "@sap-ux/fiori-docs-embeddings", version[64] = "unknown", license[64] = "Apache-2.0";
  PetscInt      n_targets = 20, seed = 7, dim = 0;
  double        meta_dim = 384, meta_total = -1;
  PetscBool     flg;
  PetscMPIInt   size;
  char         *buf;
  size_t        buf_len;
  fiori_record *r = NULL;
  int64_t       n = 0, n_cat = 0, n_pool = 0, *cat_rows, *pool_rows, *target_rows;
  float        *emb;
  double        norm_min = INFINITY, norm_max = 0;
  hid_t         file;
  FILE         *fp;

  PetscFunctionBeginUser;
  PetscCallMPI(MPI_Comm_size(PETSC_COMM_WORLD, &size));
  PetscCheck(size == 1, PETSC_COMM_WORLD, PETSC_ERR_ARG_WRONG, "fiori-import runs on one rank (got %d): run it without mpirun", (int)size);
  PetscOptionsBegin(PETSC_COMM_WORLD, NULL, "fiori-import options", NULL);
  PetscCall(PetscOptionsString("-fiori_dir", "directory with records.jsonl and embeddings.bin", NULL, dir, dir, sizeof(dir), &flg));
  PetscCall(PetscOptionsString("-fiori_output", "output HDF5 file", NULL, output, output, sizeof(output), NULL));
  PetscCall(PetscOptionsString("-fiori_pool_jsonl", "pool records, line i = candidate i", NULL, pool_path, pool_path, sizeof(pool_path), NULL));
  PetscCall(PetscOptionsString("-fiori_target_category", "category the targets are drawn from", NULL, category, category, sizeof(category), NULL));
  PetscCall(PetscOptionsInt("-fiori_n_targets", "records held out as targets", NULL, n_targets, &n_targets, NULL));
  PetscCall(PetscOptionsInt("-fiori_seed", "seed of the target sample", NULL, seed, &seed, NULL));
  PetscCall(PetscOptionsInt("-fiori_dim", "embedding dimension (0: from metadata.json, else 384)", NULL, dim, &dim, NULL));
  PetscOptionsEnd();
  PetscCheck(dir[0], PETSC_COMM_WORLD, PETSC_ERR_ARG_WRONG, "give -fiori_dir DIR (the directory holding records.jsonl and embeddings.bin; see -help)");
  PetscCheck(n_targets >= 1, PETSC_COMM_WORLD, PETSC_ERR_ARG_OUTOFRANGE, "-fiori_n_targets must be >= 1, got %d", (int)n_targets);
  PetscCheck(seed >= 0, PETSC_COMM_WORLD, PETSC_ERR_ARG_OUTOFRANGE, "-fiori_seed must be >= 0, got %d", (int)seed);
  if (!output[0]) PetscCall(PetscSNPrintf(output, sizeof(output), "%s/fiori.h5", dir));
  if (!pool_path[0]) PetscCall(PetscSNPrintf(pool_path, sizeof(pool_path), "%s/pool.jsonl", dir));

  /* provenance from the package's own files, when present */
  PetscCall(PetscSNPrintf(path, sizeof(path), "%s/metadata.json", dir));
  PetscCall(fiori_json_file_member(path, "model", model, sizeof(model), NULL));
  PetscCall(fiori_json_file_member(path, "dimensions", NULL, 0, &meta_dim));
  PetscCall(fiori_json_file_member(path, "totalVectors", NULL, 0, &meta_total));
  PetscCall(PetscSNPrintf(path, sizeof(path), "%s/package.json", dir));
  PetscCall(fiori_json_file_member(path, "name", package, sizeof(package), NULL));
  PetscCall(fiori_json_file_member(path, "version", version, sizeof(version), NULL));
  PetscCall(fiori_json_file_member(path, "license", license, sizeof(license), NULL));
  if (dim <= 0) dim = (PetscInt)meta_dim;
  PetscCheck(dim >= 1, PETSC_COMM_WORLD, PETSC_ERR_ARG_OUTOFRANGE, "embedding dimension must be >= 1, got %d", (int)dim);

  /* records and embeddings */
  PetscCall(PetscSNPrintf(path, sizeof(path), "%s/records.jsonl", dir));
  PetscCall(fiori_read_file(path, &buf, &buf_len));
  PetscCall(fiori_parse_records(path, buf, buf_len, &r, &n));
  PetscCheck(n > 0, PETSC_COMM_WORLD, PETSC_ERR_FILE_UNEXPECTED, "'%s' holds no records", path);
  PetscCheck(meta_total < 0 || (int64_t)meta_total == n, PETSC_COMM_WORLD, PETSC_ERR_FILE_UNEXPECTED, "'%s' has %lld records but metadata.json says totalVectors = %.0f", path, (long long)n, meta_total);
  PetscCall(PetscSNPrintf(path, sizeof(path), "%s/embeddings.bin", dir));
  PetscCall(fiori_read_embeddings(path, n, dim, &emb));
  for (int64_t i = 0; i < n; i++) {
    double s = 0;
    for (int64_t j = 0; j < dim; j++) s += (double)emb[i * dim + j] * emb[i * dim + j];
    norm_min = PetscMin(norm_min, sqrt(s));
    norm_max = PetscMax(norm_max, sqrt(s));
  }

  /* the target sample: Fisher-Yates over the category's rows with a counter-based generator */
  PetscCall(PetscMalloc3(n, &cat_rows, n, &pool_rows, n, &target_rows));
  for (int64_t i = 0; i < n; i++)
    if (!strcmp(r[i].category, category)) cat_rows[n_cat++] = i;
  if (n_cat == 0 || n_targets >= n_cat) {
    PetscCall(PetscPrintf(PETSC_COMM_WORLD, "categories in %s/records.jsonl:\n", dir));
    for (int64_t i = 0; i < n; i++) {
      int64_t count = 0, first = -1;
      for (int64_t j = 0; j < n; j++)
        if (!strcmp(r[j].category, r[i].category)) {
          if (first < 0) first = j;
          count++;
        }
      if (first == i) PetscCall(PetscPrintf(PETSC_COMM_WORLD, "  %4lld  %s\n", (long long)count, r[i].category));
    }
  }
  PetscCheck(n_cat > 0, PETSC_COMM_WORLD, PETSC_ERR_ARG_WRONG, "-fiori_target_category \"%s\" matches no record (categories are listed above)", category);
  PetscCheck(n_targets < n_cat, PETSC_COMM_WORLD, PETSC_ERR_ARG_OUTOFRANGE, "-fiori_n_targets %d must be smaller than the %lld records of category \"%s\" (some must stay in the pool)", (int)n_targets, (long long)n_cat, category);
  for (int64_t i = n_cat - 1; i > 0; i--) {
    int64_t j = (int64_t)floor(wn_uniform01((uint64_t)seed, (uint64_t)i) * (double)(i + 1)), t;
    if (j > i) j = i;
    t           = cat_rows[i];
    cat_rows[i] = cat_rows[j];
    cat_rows[j] = t;
  }
  for (int64_t k = 0; k < n_targets; k++) r[cat_rows[k]].is_target = PETSC_TRUE;
  {
    int64_t t = 0;
    for (int64_t i = 0; i < n; i++) {
      if (r[i].is_target) target_rows[t++] = i;
      else pool_rows[n_pool++] = i;
    }
  }

  /* HDF5 (serial API, default file access), written to OUT.tmp and renamed */
  PetscCall(PetscSNPrintf(tmp, sizeof(tmp), "%s.tmp", output));
  wn_error_cleanup_file(tmp); /* removed if anything below fails */
  WN_CALL_HDF5_ID(file, H5Fcreate, (tmp, H5F_ACC_TRUNC, H5P_DEFAULT, H5P_DEFAULT));
  PetscCall(fiori_write_group(file, "candidates", r, emb, dim, n_pool, pool_rows));
  PetscCall(fiori_write_group(file, "targets", r, emb, dim, n_targets, target_rows));
  PetscCall(fiori_attr_string(file, "source_package", package));
  PetscCall(fiori_attr_string(file, "source_version", version));
  PetscCall(fiori_attr_string(file, "source_license", license));
  PetscCall(fiori_attr_string(file, "model", model));
  PetscCall(fiori_attr_string(file, "target_category", category));
  PetscCall(fiori_attr_int64(file, "n_targets", n_targets));
  PetscCall(fiori_attr_int64(file, "seed", seed));
  PetscCall(fiori_attr_int64(file, "n_candidates", n_pool));
  PetscCall(fiori_attr_int64(file, "dimension", dim));
  PetscCall(fiori_attr_string(file, "created_by", "inputs/fiori/fiori-import (winnow " PACKAGE_VERSION ")"));
  WN_CALL_HDF5(H5Fclose, (file));
  PetscCheck(rename(tmp, output) == 0, PETSC_COMM_SELF, PETSC_ERR_FILE_WRITE, "cannot rename '%s' to '%s': %s", tmp, output, strerror(errno));
  wn_error_cleanup_forget(tmp);

  /* pool records, line i = candidate i */
  PetscCall(PetscSNPrintf(tmp, sizeof(tmp), "%s.tmp", pool_path));
  wn_error_cleanup_file(tmp);
  fp = fopen(tmp, "wb");
  PetscCheck(fp, PETSC_COMM_SELF, PETSC_ERR_FILE_OPEN, "cannot create '%s': %s", tmp, strerror(errno));
  for (int64_t i = 0; i < n_pool; i++) {
    fwrite(r[pool_rows[i]].line, 1, r[pool_rows[i]].line_len, fp);
    fputc('\n', fp);
  }
  PetscCheck(!ferror(fp) && fclose(fp) == 0, PETSC_COMM_SELF, PETSC_ERR_FILE_WRITE, "writing '%s' failed", tmp);
  PetscCheck(rename(tmp, pool_path) == 0, PETSC_COMM_SELF, PETSC_ERR_FILE_WRITE, "cannot rename '%s' to '%s': %s", tmp, pool_path, strerror(errno));
  wn_error_cleanup_forget(tmp);

  /* summary */
  PetscCall(PetscPrintf(PETSC_COMM_WORLD, "fiori-import: %lld records x %d dims from %s (%s %s, model %s; L2 norms in [%.6f, %.6f])\n", (long long)n, (int)dim, dir, package, version, model, norm_min, norm_max));
  PetscCall(PetscPrintf(PETSC_COMM_WORLD, "targets: %d of the %lld records of category \"%s\" (seed %d)\n", (int)n_targets, (long long)n_cat, category, (int)seed));
  PetscCall(PetscPrintf(PETSC_COMM_WORLD, "pool: %lld candidates; categories in the pool:\n", (long long)n_pool));
  {
    /* category counts in the pool, largest first (ties by first appearance) */
    int64_t *first, *count, n_first = 0;
    PetscCall(PetscMalloc2(n_pool, &first, n_pool, &count));
    for (int64_t i = 0; i < n_pool; i++) {
      int64_t k = 0;
      while (k < n_first && strcmp(r[first[k]].category, r[pool_rows[i]].category)) k++;
      if (k == n_first) {
        first[n_first]   = pool_rows[i];
        count[n_first++] = 0;
      }
      count[k]++;
    }
    for (int64_t a = 1; a < n_first; a++) /* insertion sort, stable */
      for (int64_t b = a; b > 0 && count[b] > count[b - 1]; b--) {
        int64_t tf = first[b], tc = count[b];
        first[b] = first[b - 1], count[b] = count[b - 1];
        first[b - 1] = tf, count[b - 1] = tc;
      }
    for (int64_t k = 0; k < n_first; k++) PetscCall(PetscPrintf(PETSC_COMM_WORLD, "  %5lld  %s\n", (long long)count[k], r[first[k]].category));
    PetscCall(PetscFree2(first, count));
  }
  PetscCall(PetscPrintf(PETSC_COMM_WORLD, "target ids:"));
  for (int64_t t = 0; t < n_targets; t++) PetscCall(PetscPrintf(PETSC_COMM_WORLD, " %s", r[target_rows[t]].id));
  PetscCall(PetscPrintf(PETSC_COMM_WORLD, "\nwrote %s (/candidates, /targets: embedding, id, label, source_row) and %s (%lld lines)\n", output, pool_path, (long long)n_pool));

  for (int64_t i = 0; i < n; i++) {
    PetscCall(PetscFree(r[i].id));
    PetscCall(PetscFree(r[i].category));
  }
  PetscCall(PetscFree(r));
  PetscCall(PetscFree(emb));
  PetscCall(PetscFree(buf));
  PetscCall(PetscFree3(cat_rows, pool_rows, target_rows));
  PetscFunctionReturn(PETSC_SUCCESS);
}

int main(int argc, char **argv)
{
  PetscErrorCode ierr;

  if (PetscInitialize(&argc, &argv, NULL, help)) return 1;
  if (wn_error_install()) return 1;
  ierr = fiori_import();
  if (ierr) wn_error_cleanup(); /* a failed run leaves no partial output */
  if (PetscFinalize()) return 1;
  return ierr ? 1 : 0;
}
