/* info.c - `winnow info FILE`: what is in an input or output file.
 * HDF5: every group and dataset with shape, type and attributes; a winnow selection file also gets a summary
 * of its first picks. .npy: the header (version, dtype, shape). Rank 0 reads with the serial driver (the file
 * is small to describe, and nothing is read in bulk); the verdict on a missing file is agreed.
 * Owns: nothing but the description.
 */
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <winnow/info.h>
#include <winnow/npy.h>

typedef struct {
  FILE *fp;
  hid_t file;
} info_ctx;

static void info_type(hid_t type, char *buf, size_t len)
{
  H5T_class_t cls  = H5Tget_class(type);
  size_t      size = H5Tget_size(type);

  switch (cls) {
  case H5T_INTEGER: snprintf(buf, len, "%sint%zu", H5Tget_sign(type) == H5T_SGN_NONE ? "u" : "", 8 * size); break;
  case H5T_FLOAT: snprintf(buf, len, "float%zu", 8 * size); break;
  case H5T_STRING: snprintf(buf, len, H5Tis_variable_str(type) > 0 ? "string (variable length)" : "string (%zu bytes)", size); break;
  default: snprintf(buf, len, "type class %d", (int)cls); break;
  }
}

static herr_t info_attr(hid_t loc, const char *name, const H5A_info_t *ainfo, void *op_data)
{
  info_ctx *ctx   = (info_ctx *)op_data;
  hid_t     attr  = H5Aopen(loc, name, H5P_DEFAULT);
  hid_t     type  = H5Aget_type(attr), space = H5Aget_space(attr);
  hssize_t  npts  = H5Sget_simple_extent_npoints(space);
  char      tname[64];

  (void)ainfo;
  info_type(type, tname, sizeof(tname));
  fprintf(ctx->fp, "      @%s = ", name);
  if (npts == 1 && H5Tget_class(type) == H5T_STRING) {
    if (H5Tis_variable_str(type) > 0) {
      char *v = NULL;
      hid_t mt = H5Tcopy(H5T_C_S1);
      H5Tset_size(mt, H5T_VARIABLE);
      if (H5Aread(attr, mt, &v) >= 0 && v) {
        fprintf(ctx->fp, "\"%.200s%s\"", v, strlen(v) > 200 ? "..." : "");
        H5free_memory(v);
      }
      H5Tclose(mt);
    } else {
      size_t sz = H5Tget_size(type);
      char  *v  = calloc(sz + 1, 1);
      if (v && H5Aread(attr, type, v) >= 0) {
        for (char *c = v; *c; c++)
          if (*c == '\n') *c = ';';
        fprintf(ctx->fp, "\"%.200s%s\"", v, strlen(v) > 200 ? "..." : "");
      }
      free(v);
    }
  } else if (npts == 1 && H5Tget_class(type) == H5T_INTEGER) {
    long long v = 0;
    if (H5Aread(attr, H5T_NATIVE_LLONG, &v) >= 0) fprintf(ctx->fp, "%lld", v);
  } else if (npts == 1 && H5Tget_class(type) == H5T_FLOAT) {
    double v = 0;
    if (H5Aread(attr, H5T_NATIVE_DOUBLE, &v) >= 0) fprintf(ctx->fp, "%.10g", v);
  } else fprintf(ctx->fp, "(%s, %lld values)", tname, (long long)npts);
  fputc('\n', ctx->fp);
  H5Sclose(space);
  H5Tclose(type);
  H5Aclose(attr);
  return 0;
}

static herr_t info_object(hid_t obj, const char *name, const H5O_info_t *oinfo, void *op_data)
{
  info_ctx *ctx = (info_ctx *)op_data;

  if (oinfo->type == H5O_TYPE_GROUP) {
    fprintf(ctx->fp, "  %s%s (group)\n", name[0] == '.' ? "/" : "/", name[0] == '.' ? "" : name);
  } else if (oinfo->type == H5O_TYPE_DATASET) {
    hid_t   ds = H5Dopen2(obj, name, H5P_DEFAULT), type = H5Dget_type(ds), space = H5Dget_space(ds);
    int     nd = H5Sget_simple_extent_ndims(space);
    hsize_t dims[8] = {0};
    char    tname[64], shape[128] = "";

    H5Sget_simple_extent_dims(space, dims, NULL);
    for (int i = 0; i < nd && i < 8; i++) snprintf(shape + strlen(shape), sizeof(shape) - strlen(shape), "%s%llu", i ? " x " : "", (unsigned long long)dims[i]);
    info_type(type, tname, sizeof(tname));
    fprintf(ctx->fp, "  /%-32s %-20s %s\n", name, nd ? shape : "scalar", tname);
    H5Aiterate2(ds, H5_INDEX_NAME, H5_ITER_NATIVE, NULL, info_attr, ctx);
    H5Sclose(space);
    H5Tclose(type);
    H5Dclose(ds);
    return 0;
  }
  if (oinfo->num_attrs > 0) {
    hid_t g = H5Oopen(obj, name, H5P_DEFAULT);
    H5Aiterate2(g, H5_INDEX_NAME, H5_ITER_NATIVE, NULL, info_attr, ctx);
    H5Oclose(g);
  }
  return 0;
}

/* Summary of a winnow selection file (rank 0). */
static void info_selection(FILE *fp, hid_t file)
{
  hid_t   ds = H5Dopen2(file, "/selection/index", H5P_DEFAULT), space;
  hsize_t n  = 0;

  if (ds < 0) return;
  space = H5Dget_space(ds);
  H5Sget_simple_extent_dims(space, &n, NULL);
  if (n > 0) {
    hsize_t   show = n < 10 ? n : 10;
    long long idx[10];
    double    gain[10];
    hid_t     ms = H5Screate_simple(1, &show, NULL), gds = H5Dopen2(file, "/selection/gain", H5P_DEFAULT), gsp;
    hsize_t   start = 0;
    H5Sselect_hyperslab(space, H5S_SELECT_SET, &start, NULL, &show, NULL);
    H5Dread(ds, H5T_NATIVE_LLONG, ms, space, H5P_DEFAULT, idx);
    if (gds >= 0) {
      gsp = H5Dget_space(gds);
      H5Sselect_hyperslab(gsp, H5S_SELECT_SET, &start, NULL, &show, NULL);
      H5Dread(gds, H5T_NATIVE_DOUBLE, ms, gsp, H5P_DEFAULT, gain);
      H5Sclose(gsp);
      H5Dclose(gds);
    }
    fprintf(fp, "\nwinnow selection: %llu picks; first %llu (index, gain):\n", (unsigned long long)n, (unsigned long long)show);
    for (hsize_t i = 0; i < show; i++) fprintf(fp, "  %4llu  %10lld  %.8g\n", (unsigned long long)(i + 1), idx[i], gain[i]);
    H5Sclose(ms);
  }
  H5Sclose(space);
  H5Dclose(ds);
}

/**
  @brief Describe an HDF5 or .npy file on rank 0.

  Collective on comm (the existence check is agreed so a missing file gives one message).
**/
PetscErrorCode wn_info_describe(MPI_Comm comm, const char *path, FILE *fp)
{
  PetscMPIInt   rank;
  char          msg[PETSC_MAX_PATH_LEN + 128] = "";
  unsigned char magic[8] = {0};

  PetscFunctionBeginUser;
  PetscCallMPI(MPI_Comm_rank(comm, &rank));
  if (rank == 0) {
    FILE *f = fopen(path, "rb");
    if (!f) snprintf(msg, sizeof(msg), "cannot open '%s': %s", path, strerror(errno));
    else {
      if (fread(magic, 1, 8, f) < 6) snprintf(msg, sizeof(msg), "'%s' is too short to be an HDF5 or .npy file", path);
      fclose(f);
    }
    if (!msg[0] && memcmp(magic, "\x89HDF\r\n\x1a\n", 8) && memcmp(magic, "\x93NUMPY", 6)) snprintf(msg, sizeof(msg), "'%s' is neither an HDF5 file nor a .npy file", path);
  }
  WN_CHECK_ALL(comm, msg[0] == 0, PETSC_ERR_FILE_OPEN, "%s", msg);
  if (rank == 0) {
    if (!memcmp(magic, "\x93NUMPY", 6)) {
      unsigned char head[65536];
      size_t        got;
      wn_npy_header h;
      char          why[256];
      FILE         *f = fopen(path, "rb");
      got           = f ? fread(head, 1, sizeof(head), f) : 0;
      if (f) fclose(f);
      if (wn_npy_parse_header(head, got, &h, why, sizeof(why))) fprintf(fp, "%s: .npy file with a bad header: %s\n", path, why);
      else fprintf(fp, "%s: .npy version %d.%d, dtype %s, shape %lld x %lld, data at byte %zu\n", path, h.major, h.minor, h.descr, (long long)h.shape[0], (long long)h.shape[1], h.data_offset);
    } else {
      info_ctx ctx;
      H5Eset_auto2(H5E_DEFAULT, NULL, NULL);
      ctx.fp   = fp;
      ctx.file = H5Fopen(path, H5F_ACC_RDONLY, H5P_DEFAULT);
      if (ctx.file < 0) fprintf(fp, "%s: cannot be opened by HDF5\n", path);
      else {
        fprintf(fp, "%s: HDF5 file\n", path);
        H5Ovisit2(ctx.file, H5_INDEX_NAME, H5_ITER_NATIVE, info_object, &ctx, H5O_INFO_BASIC | H5O_INFO_NUM_ATTRS);
        info_selection(fp, ctx.file);
        H5Fclose(ctx.file);
      }
    }
    fflush(fp);
  }
  PetscCallMPI(MPI_Barrier(comm));
  PetscFunctionReturn(PETSC_SUCCESS);
}
