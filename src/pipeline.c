/* pipeline.c - the stages of a winnow run (DESIGN.md section 2): load -> kernel -> select -> write ->
 * report, and what each stage reads and writes.
 * Owns: the memory estimate printed and enforced before the big allocations, budget and warm-start
 * resolution, the quality report on labelled data, and the summary lines of each stage.
 * Leaves to other modules: file formats (data.c, h5io.c, kernel_io.c, output.c), kernels (kernel.c),
 * the greedy engine (greedy.c) and the methods (src/methods/).
 */
#include <errno.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <math.h>
#include <stdio.h>
#include <string.h>
#include <wn_autoconf.h>
#include <winnow/blas.h>
#include <winnow/h5io.h>
#include <winnow/output.h>
#include <winnow/pipeline.h>
#include <winnow/util.h>

PetscErrorCode wn_run_init(MPI_Comm comm, wn_config *cfg, wn_run *run)
{
  PetscFunctionBeginUser;
  memset(run, 0, sizeof(*run));
  run->comm   = comm;
  run->cfg    = cfg;
  run->method = wn_method_find(cfg->method);
  PetscCheck(run->method, comm, PETSC_ERR_ARG_UNKNOWN_TYPE, "unknown method '%s'", cfg->method);
  PetscCall(wn_report_init(comm, &run->report));
  PetscFunctionReturn(PETSC_SUCCESS);
}

PetscErrorCode wn_run_destroy(wn_run *run)
{
  PetscFunctionBeginUser;
  PetscCall(wn_checkpoint_free(&run->restart));
  PetscCall(wn_selection_destroy(&run->sel));
  PetscCall(PetscFree(run->scores));
  PetscCall(PetscFree(run->warm));
  PetscCall(PetscFree2(run->file_index, run->record_line));
  PetscCall(wn_kernel_destroy(&run->K));
  PetscCall(wn_kernel_sparse_destroy(&run->KS));
  PetscCall(wn_kernel_destroy(&run->K_query));
  PetscCall(wn_kernel_destroy(&run->K_private));
  PetscCall(wn_targets_destroy(&run->targets));
  PetscCall(wn_targets_destroy(&run->private_set));
  PetscCall(wn_pool_destroy(&run->pool));
  PetscFunctionReturn(PETSC_SUCCESS);
}

/* -wn_records must hold every candidate's record: line i is candidate i (then the file has exactly N lines),
 * or, when the pool has a source_row column (written by `winnow featurize`), line source_row[i]. Checked when
 * the pool is read, before any work (rank 0 counts newlines; the verdict is agreed). Collective. */
static PetscErrorCode pipeline_check_records(wn_run *run, int64_t n)
{
  PetscMPIInt rank;
  int64_t     lines = 0, need_max = -1;
  PetscBool   exact = PETSC_TRUE;
  char        msg[PETSC_MAX_PATH_LEN + 512] = "";

  PetscFunctionBeginUser;
  if (!run->cfg->records[0]) PetscFunctionReturn(PETSC_SUCCESS);
  if (run->pool && run->pool->source_row.kind == WN_COLUMN_INT) {
    exact = PETSC_FALSE;
    for (int64_t i = 0; i < run->pool->layout.n_local; i++) need_max = PetscMax(need_max, run->pool->source_row.ints[i]);
    PetscCallMPI(MPI_Allreduce(MPI_IN_PLACE, &need_max, 1, MPI_INT64_T, MPI_MAX, run->comm));
  }
  PetscCallMPI(MPI_Comm_rank(run->comm, &rank));
  if (rank == 0) {
    FILE *fp = fopen(run->cfg->records, "rb");
    if (!fp) snprintf(msg, sizeof(msg), "cannot open records file '%s': %s", run->cfg->records, strerror(errno));
    else {
      char   buf[1 << 16];
      size_t got;
      int    last = '\n';
      while ((got = fread(buf, 1, sizeof(buf), fp)) > 0) {
        for (size_t i = 0; i < got; i++) lines += buf[i] == '\n';
        last = buf[got - 1];
      }
      if (last != '\n') lines++; /* a last line without its newline */
      fclose(fp);
      if (exact && lines != n) snprintf(msg, sizeof(msg), "records file '%s' has %lld lines but the pool has %lld candidates (line i must be candidate i)", run->cfg->records, (long long)lines, (long long)n);
      if (!exact && lines <= need_max)
        snprintf(msg, sizeof(msg), "records file '%s' has %lld lines but the candidates' source rows (%s) go up to line %lld", run->cfg->records, (long long)lines, run->cfg->candidates.source_row_dataset, (long long)need_max + 1);
    }
  }
  WN_CHECK_ALL(run->comm, msg[0] == 0, PETSC_ERR_ARG_SIZ, "%s", msg);
  PetscFunctionReturn(PETSC_SUCCESS);
}

/* -wn_subsample: replace the pool by a seeded subsample (the same rows on any rank count). Collective. */
static PetscErrorCode pipeline_subsample(wn_run *run)
{
  wn_pool *sub = NULL;
  int64_t  S   = run->cfg->subsample;

  PetscFunctionBeginUser;
  if (S <= 0) PetscFunctionReturn(PETSC_SUCCESS);
  PetscCall(wn_pool_subsample(run->pool, S, run->cfg->seed, &sub));
  PetscCall(PetscPrintf(run->comm, "subsample: %lld of %lld candidates (seed %llu)\n", (long long)S, (long long)run->pool->layout.n_global, (unsigned long long)run->cfg->seed));
  PetscCall(wn_pool_destroy(&run->pool));
  run->pool = sub;
  PetscFunctionReturn(PETSC_SUCCESS);
}

static const char *dtype_name(int t) { return t == WN_DTYPE_F64 ? "float64" : "float32"; }

/**
  @brief `winnow featurize`: hashed TF-IDF features of JSONL text, written in the HDF5 schema.

  Collective on run->comm. Each rank reads its own byte range of the input (src/featurize.c).
**/
PetscErrorCode wn_pipeline_featurize(wn_run *run)
{
  wn_featurize_params *f = &run->cfg->featurize;
  wn_featurize_stats  *st = &run->featurize;
  char                 buf[32];
  double               t;

  PetscFunctionBeginUser;
  PetscCall(wn_report_phase_begin(&run->report, WN_PHASE_FEATURIZE));
  PetscCall(wn_featurize_run(run->comm, f, st));
  PetscCall(wn_report_phase_end(&run->report, WN_PHASE_FEATURIZE));
  PetscCallMPI(MPI_Allreduce(&run->report.phase_time[WN_PHASE_FEATURIZE], &t, 1, MPI_DOUBLE, MPI_MAX, run->comm));
  PetscCall(PetscPrintf(run->comm, "featurize: %lld records (%lld lines, %s) from %s -> %s: %lld candidates%s%s%s x %lld dims\n", (long long)st->n_records, (long long)st->n_lines, wn_format_bytes(st->bytes, buf, sizeof(buf)), f->input, f->output,
                        (long long)st->n_candidates, st->n_targets ? ", targets: " : "", st->n_targets ? f->target_label : "", st->n_targets ? "" : "", (long long)f->dim));
  if (st->n_targets) PetscCall(PetscPrintf(run->comm, "           %lld held-out targets with label '%s' (seed %llu) in /targets\n", (long long)st->n_targets, f->target_label, (unsigned long long)f->target_seed));
  if (st->n_skipped) PetscCall(PetscPrintf(run->comm, "           %lld malformed lines skipped (-wn_skip_bad)\n", (long long)st->n_skipped));
  if (st->n_empty) PetscCall(PetscPrintf(run->comm, "           %lld records have no feature (empty text: zero vectors)\n", (long long)st->n_empty));
  PetscCall(PetscPrintf(run->comm, "           %.0f records/s, %.1f MB/s\n", st->n_records / t, st->bytes / t * 1e-6));
  PetscCall(wn_report_result(&run->report, "records", "%lld", (long long)st->n_records));
  PetscCall(wn_report_result(&run->report, "candidates", "%lld", (long long)st->n_candidates));
  PetscCall(wn_report_result(&run->report, "targets", "%lld", (long long)st->n_targets));
  PetscCall(wn_report_result(&run->report, "skipped", "%lld", (long long)st->n_skipped));
  PetscCall(wn_report_result(&run->report, "d", "%lld", (long long)f->dim));
  PetscCall(wn_report_result(&run->report, "records_per_s", "%.0f", st->n_records / t));
  PetscCall(wn_report_result(&run->report, "mb_per_s", "%.2f", st->bytes / t * 1e-6));
  PetscFunctionReturn(PETSC_SUCCESS);
}

/**
  @brief Load the candidate pool and the embeddings the method's kernels are computed against.

  Collective on run->comm. Every rank reads only its own candidate rows; targets are replicated.
**/
PetscErrorCode wn_pipeline_load(wn_run *run)
{
  wn_config *cfg = run->cfg;
  unsigned   needs = run->method->needs;

  PetscFunctionBeginUser;
  PetscCall(wn_report_phase_begin(&run->report, WN_PHASE_LOAD));
  {
    wn_input_spec spec = cfg->candidates;
    /* P3 with its token-probability features, and LoBaSS (losses only), read only ids and labels from the candidates file */
    if ((needs & WN_NEEDS_FEATURES) && ((!strcmp(cfg->method, "p3") && cfg->p3_features == 0) || !strcmp(cfg->method, "lobass"))) spec.metadata_only = PETSC_TRUE;
    PetscCall(wn_pool_read(run->comm, &spec, &run->pool));
  }
  PetscCall(pipeline_check_records(run, run->pool->layout.n_global));
  PetscCall(pipeline_subsample(run));
  PetscCall(PetscPrintf(run->comm, "candidates: %lld x %lld %s from %s%s%s%s%s\n", (long long)run->pool->layout.n_global, (long long)run->pool->d, dtype_name(run->pool->file_dtype), cfg->candidates.path,
                        run->pool->id.kind != WN_COLUMN_NONE ? ", with ids" : "", run->pool->label.kind != WN_COLUMN_NONE ? ", with labels" : "", "", ""));
  if (needs & (WN_NEEDS_TARGET_KERNEL | WN_NEEDS_QUERY_KERNEL | WN_NEEDS_EMBEDDINGS)) {
    PetscCall(wn_targets_read(run->comm, &cfg->targets, run->pool->d, &run->targets));
    PetscCall(PetscPrintf(run->comm, "targets:    %lld x %lld %s from %s (replicated)\n", (long long)run->targets->m, (long long)run->targets->d, dtype_name(run->targets->file_dtype), cfg->targets.path));
  }
  if (needs & WN_NEEDS_PRIVATE_KERNEL) {
    PetscCall(wn_targets_read(run->comm, &cfg->private_set, run->pool->d, &run->private_set));
    PetscCall(PetscPrintf(run->comm, "existing:   %lld x %lld %s from %s (replicated)\n", (long long)run->private_set->m, (long long)run->private_set->d, dtype_name(run->private_set->file_dtype), cfg->private_set.path));
  }
  PetscCall(wn_report_phase_end(&run->report, WN_PHASE_LOAD));
  PetscFunctionReturn(PETSC_SUCCESS);
}

PetscErrorCode wn_pipeline_load_metadata(wn_run *run)
{
  wn_config *cfg = run->cfg;

  PetscFunctionBeginUser;
  PetscCall(wn_report_phase_begin(&run->report, WN_PHASE_LOAD));
  if (cfg->candidates.path[0]) {
    wn_input_spec spec = cfg->candidates;
    spec.metadata_only = PETSC_TRUE; /* the kernels are read from the kernel file: ids and labels suffice */
    PetscCall(wn_pool_read(run->comm, &spec, &run->pool));
    PetscCall(PetscPrintf(run->comm, "candidates: %lld rows from %s%s%s\n", (long long)run->pool->layout.n_global, cfg->candidates.path, run->pool->id.kind != WN_COLUMN_NONE ? ", with ids" : "", run->pool->label.kind != WN_COLUMN_NONE ? ", with labels" : ""));
  }
  if (run->pool) PetscCall(pipeline_check_records(run, run->pool->layout.n_global));
  if (run->pool) PetscCall(pipeline_subsample(run));
  if (cfg->targets.path[0] && !cfg->quality_label[0]) PetscCall(wn_targets_read(run->comm, &cfg->targets, run->pool ? run->pool->d : 0, &run->targets));
  PetscCall(wn_report_phase_end(&run->report, WN_PHASE_LOAD));
  PetscFunctionReturn(PETSC_SUCCESS);
}

/* Print the per-rank memory need (largest rank) and refuse when it exceeds the limit. Collective. */
static PetscErrorCode pipeline_memory_check(wn_run *run, double bytes_local, const char *what)
{
  double need;
  char   b1[32], b2[32];

  PetscFunctionBeginUser;
  PetscCallMPI(MPI_Allreduce(&bytes_local, &need, 1, MPI_DOUBLE, MPI_MAX, run->comm));
  PetscCall(PetscPrintf(run->comm, "memory: %s needs %s on the largest rank (limit %s per rank, -wn_memory_limit)\n", what, wn_format_bytes(need, b1, sizeof(b1)), wn_format_bytes(run->cfg->memory_limit, b2, sizeof(b2))));
  PetscCheck(need <= run->cfg->memory_limit, run->comm, PETSC_ERR_ARG_OUTOFRANGE,
             "%s needs %s per rank but the limit is %s (-wn_memory_limit): run on more ranks or nodes, or use a method whose kernel is N x M (fl) instead of N x N", what, wn_format_bytes(need, b1, sizeof(b1)),
             wn_format_bytes(run->cfg->memory_limit, b2, sizeof(b2)));
  PetscFunctionReturn(PETSC_SUCCESS);
}

static PetscErrorCode pipeline_kernel_source(wn_kernel *K, const char *rows, const char *cols)
{
  PetscFunctionBeginUser;
  PetscCall(PetscSNPrintf(K->source, sizeof(K->source), "%s x %s", rows, cols));
  PetscFunctionReturn(PETSC_SUCCESS);
}

/**
  @brief Compute the kernels the method needs, in sgemm tiles, after the memory check.

  Collective on run->comm.
**/
PetscErrorCode wn_pipeline_kernel(wn_run *run)
{
  wn_config *cfg   = run->cfg;
  unsigned   needs = run->method->needs;
  wn_pool   *pool  = run->pool;
  int64_t    N = pool->layout.n_global, nl = pool->layout.n_local, d = pool->d;
  double     bytes = (double)nl * (double)d * sizeof(float);
  char       what[256];

  PetscFunctionBeginUser;
  if (needs & (WN_NEEDS_EMBEDDINGS | WN_NEEDS_FEATURES)) PetscFunctionReturn(PETSC_SUCCESS); /* TSDS, DPP, P3: no kernel */
  PetscCall(wn_report_phase_begin(&run->report, WN_PHASE_KERNEL));
  {
    int64_t T_main = (needs & WN_NEEDS_POOL_KERNEL) ? N : run->targets->m;
    if (cfg->sparse_k > 0) bytes += wn_kernel_sparse_bytes(nl, T_main, d, cfg->sparse_k, &cfg->kernel);
    else bytes += wn_kernel_bytes(nl, T_main, d, &cfg->kernel);
  }
  if (needs & WN_NEEDS_QUERY_KERNEL) bytes += wn_kernel_bytes(nl, run->targets->m, d, &cfg->kernel);
  if (needs & WN_NEEDS_PRIVATE_KERNEL) bytes += wn_kernel_bytes(nl, run->private_set->m, d, &cfg->kernel);
  PetscCall(PetscSNPrintf(what, sizeof(what), "the %s kernel stage (%s%s%s%s)", cfg->method, cfg->sparse_k > 0 ? "sparse top-k " : "", (needs & WN_NEEDS_POOL_KERNEL) ? "N x N pool" : "N x M target",
                          (needs & WN_NEEDS_QUERY_KERNEL) ? " + N x M target" : "", (needs & WN_NEEDS_PRIVATE_KERNEL) ? " + N x P existing-data" : ""));
  PetscCall(pipeline_memory_check(run, bytes, what));

  /* the main kernel: dense, or its top-k entries per row */
  {
    float       *all = NULL;
    const float *Y   = run->targets ? run->targets->embedding : NULL;
    int64_t      T   = run->targets ? run->targets->m : 0;
    const char  *cols = "targets", *src = cfg->targets.path;
    if (needs & WN_NEEDS_POOL_KERNEL) {
      PetscCall(wn_pool_allgather_embedding(pool, &all));
      Y    = all;
      T    = N;
      cols = "pool";
      src  = cfg->candidates.path;
    }
    if (cfg->sparse_k > 0) {
      PetscCheck(cfg->sparse_k <= T, run->comm, PETSC_ERR_ARG_OUTOFRANGE, "-wn_kernel_sparse_k %lld is larger than the kernel's %lld columns (%s)", (long long)cfg->sparse_k, (long long)T, cols);
      PetscCall(wn_kernel_sparse_compute(&pool->layout, d, pool->embedding, T, Y, &cfg->kernel, cfg->sparse_k, cols, &run->KS));
      PetscCall(PetscSNPrintf(run->KS->source, sizeof(run->KS->source), "%s x %s", cfg->candidates.path, src));
    } else {
      PetscCall(wn_kernel_compute(&pool->layout, d, pool->embedding, T, Y, &cfg->kernel, cols, &run->K));
      PetscCall(pipeline_kernel_source(run->K, cfg->candidates.path, src));
    }
    PetscCall(PetscFree(all));
  }
  if (needs & WN_NEEDS_QUERY_KERNEL) {
    PetscCall(wn_kernel_compute(&pool->layout, d, pool->embedding, run->targets->m, run->targets->embedding, &cfg->kernel, "targets", &run->K_query));
    PetscCall(pipeline_kernel_source(run->K_query, cfg->candidates.path, cfg->targets.path));
  }
  if (needs & WN_NEEDS_PRIVATE_KERNEL) {
    PetscCall(wn_kernel_compute(&pool->layout, d, pool->embedding, run->private_set->m, run->private_set->embedding, &cfg->kernel, "private", &run->K_private));
    PetscCall(pipeline_kernel_source(run->K_private, cfg->candidates.path, cfg->private_set.path));
  }
  {
    wn_kernel *all[3] = {run->K, run->K_query, run->K_private};
    for (int k = 0; k < 3; k++) {
      int64_t bad = INT64_MAX;
      if (!all[k]) continue;
      for (int64_t i = 0; i < all[k]->layout.n_local && bad == INT64_MAX; i++)
        for (int64_t t = 0; t < all[k]->n_cols; t++)
          if (!isfinite(all[k]->values[(size_t)i * (size_t)all[k]->n_cols + (size_t)t])) {
            bad = all[k]->layout.row_start + i;
            break;
          }
      PetscCallMPI(MPI_Allreduce(MPI_IN_PLACE, &bad, 1, MPI_INT64_T, MPI_MIN, run->comm));
      PetscCheck(bad == INT64_MAX, run->comm, PETSC_ERR_FP, "the %s kernel has a non-finite value in candidate row %lld: the %s similarities overflow float32 (are the embeddings scaled sensibly? try -wn_kernel_metric cosine)", all[k]->columns, (long long)bad,
                 wn_metric_names[cfg->kernel.metric]);
    }
  }
  PetscCall(PetscPrintf(run->comm, "kernel: %s metric%s, main kernel %lld x %lld%s%s\n", wn_metric_names[cfg->kernel.metric], cfg->kernel.minmax ? " with global min-max scaling" : "", (long long)N, (long long)(run->K ? run->K->n_cols : run->KS->n_cols),
                        run->KS ? " (sparse: top-k per row)" : "", run->K_query ? " + query kernel" : (run->K_private ? " + existing-data kernel" : "")));
  PetscCall(wn_report_phase_end(&run->report, WN_PHASE_KERNEL));
  PetscFunctionReturn(PETSC_SUCCESS);
}

/* The group of a kernel dataset path ("/kernel/values" -> "/kernel"): where a sparse kernel's CSR lives. Pure. */
static PetscErrorCode pipeline_group_of(const char *dataset, char *group, size_t len)
{
  const char *slash = strrchr(dataset, '/');

  PetscFunctionBeginUser;
  if (!slash || slash == dataset) PetscCall(PetscStrncpy(group, "/", len));
  else PetscCall(PetscSNPrintf(group, len, "%.*s", (int)(slash - dataset), dataset));
  PetscFunctionReturn(PETSC_SUCCESS);
}

/**
  @brief Write the kernels to -wn_kernel_file: a temporary file renamed when complete.

  Collective on run->comm.
**/
PetscErrorCode wn_pipeline_write_kernels(wn_run *run)
{
  wn_config *cfg  = run->cfg;
  hid_t      file = -1;
  char       tmp[PETSC_MAX_PATH_LEN + 64];

  PetscFunctionBeginUser;
  PetscCall(wn_report_phase_begin(&run->report, WN_PHASE_WRITE));
  PetscCall(wn_output_temp_name(run->comm, cfg->kernel_file, tmp, sizeof(tmp)));
  PetscCall(wn_h5_create(run->comm, tmp, &file));
  if (run->KS) {
    char group[256];
    PetscCall(pipeline_group_of(cfg->kernel_dataset, group, sizeof(group)));
    PetscCall(wn_kernel_sparse_write(run->comm, file, group, run->KS));
  } else PetscCall(wn_kernel_write(run->comm, file, cfg->kernel_dataset, run->K));
  if (run->K_query) PetscCall(wn_kernel_write(run->comm, file, cfg->query_kernel_dataset, run->K_query));
  if (run->K_private) PetscCall(wn_kernel_write(run->comm, file, cfg->private_kernel_dataset, run->K_private));
  PetscCall(wn_h5_attr_write_string(run->comm, file, "/", "method", cfg->method));
  PetscCall(wn_h5_attr_write_string(run->comm, file, "/", "winnow_version", PACKAGE_VERSION));
  PetscCall(wn_h5_close(&file));
  PetscCall(wn_output_commit(run->comm, tmp, cfg->kernel_file));
  PetscCall(PetscPrintf(run->comm, "kernel file: %s (%s%s%s)\n", cfg->kernel_file, cfg->kernel_dataset, run->K_query ? ", " : (run->K_private ? ", " : ""), run->K_query ? cfg->query_kernel_dataset : (run->K_private ? cfg->private_kernel_dataset : "")));
  PetscCall(wn_report_phase_end(&run->report, WN_PHASE_WRITE));
  PetscFunctionReturn(PETSC_SUCCESS);
}

/* Rows (candidates) and columns of a kernel dataset, honouring its orientation attribute. Collective. */
static PetscErrorCode pipeline_kernel_shape(wn_run *run, const char *dataset, int64_t *n_rows, int64_t *n_cols)
{
  hid_t      file = -1;
  wn_h5_info info;
  char       orient[64];
  PetscBool  found;

  PetscFunctionBeginUser;
  PetscCall(wn_h5_open(run->comm, run->cfg->kernel_file, PETSC_FALSE, &file));
  PetscCall(wn_h5_info_get(run->comm, file, run->cfg->kernel_file, dataset, &info));
  PetscCall(wn_h5_attr_read_string(run->comm, file, dataset, "orientation", orient, sizeof(orient), &found));
  PetscCall(wn_h5_close(&file));
  PetscCheck(info.ndim == 2, run->comm, PETSC_ERR_ARG_WRONG, "kernel dataset %s in '%s' is %d-D; expected a 2-D matrix", dataset, run->cfg->kernel_file, info.ndim);
  if (!found) PetscCall(PetscStrncpy(orient, run->cfg->kernel_orientation, sizeof(orient)));
  if (!strcmp(orient, "target-major")) {
    *n_rows = info.dims[1];
    *n_cols = info.dims[0];
  } else {
    *n_rows = info.dims[0];
    *n_cols = info.dims[1];
  }
  PetscFunctionReturn(PETSC_SUCCESS);
}

/**
  @brief `select`: read the kernels the method needs from -wn_kernel_file, after the memory check.

  Collective on run->comm.
**/
PetscErrorCode wn_pipeline_read_kernels(wn_run *run)
{
  wn_config *cfg   = run->cfg;
  unsigned   needs = run->method->needs;
  int64_t    N, T, Nq = 0, Tq = 0;
  wn_layout  layout;
  double     bytes;
  const char *second = (needs & WN_NEEDS_QUERY_KERNEL) ? cfg->query_kernel_dataset : ((needs & WN_NEEDS_PRIVATE_KERNEL) ? cfg->private_kernel_dataset : NULL);

  PetscBool  sparse;
  char       group[256];

  PetscFunctionBeginUser;
  PetscCall(wn_report_phase_begin(&run->report, WN_PHASE_KERNEL));
  PetscCall(pipeline_group_of(cfg->kernel_dataset, group, sizeof(group)));
  PetscCall(wn_kernel_is_sparse(run->comm, cfg->kernel_file, group, &sparse));
  if (sparse) { /* a top-k kernel: CSR under the group */
    hid_t      file = -1;
    wn_h5_info info;
    char       indptr[300];
    PetscCall(PetscSNPrintf(indptr, sizeof(indptr), "%s/indptr", strcmp(group, "/") ? group : ""));
    PetscCall(wn_h5_open(run->comm, cfg->kernel_file, PETSC_FALSE, &file));
    PetscCall(wn_h5_info_get(run->comm, file, cfg->kernel_file, indptr, &info));
    PetscCall(wn_h5_close(&file));
    N = info.dims[0] - 1;
    if (run->pool) PetscCheck(run->pool->layout.n_global == N, run->comm, PETSC_ERR_ARG_SIZ, "sparse kernel %s in '%s' has %lld candidate rows but %s has %lld candidates", group, cfg->kernel_file, (long long)N, cfg->candidates.path, (long long)run->pool->layout.n_global);
    PetscCall(wn_layout_init(run->comm, N, &layout));
    PetscCall(wn_kernel_sparse_read(&layout, cfg->kernel_file, group, &run->KS));
    T = run->KS->n_cols;
    PetscCheck(!(needs & WN_NEEDS_POOL_KERNEL) || T == N, run->comm, PETSC_ERR_ARG_SIZ, "method %s needs an N x N pool kernel but the sparse kernel %s in '%s' is %lld x %lld", cfg->method, group, cfg->kernel_file, (long long)N, (long long)T);
    if (needs & WN_NEEDS_QUERY_KERNEL) PetscCall(wn_kernel_read(&layout, cfg->kernel_file, cfg->query_kernel_dataset, cfg->kernel_orientation, &run->K_query));
    if (needs & WN_NEEDS_PRIVATE_KERNEL) PetscCall(wn_kernel_read(&layout, cfg->kernel_file, cfg->private_kernel_dataset, cfg->kernel_orientation, &run->K_private));
    PetscCall(PetscPrintf(run->comm, "kernel: sparse %lld x %lld (top %lld per row) from %s:%s\n", (long long)N, (long long)T, (long long)run->KS->k, cfg->kernel_file, group));
    PetscCall(wn_report_phase_end(&run->report, WN_PHASE_KERNEL));
    PetscFunctionReturn(PETSC_SUCCESS);
  }
  PetscCall(pipeline_kernel_shape(run, cfg->kernel_dataset, &N, &T));
  if (second) {
    PetscCall(pipeline_kernel_shape(run, second, &Nq, &Tq));
    PetscCheck(Nq == N, run->comm, PETSC_ERR_ARG_SIZ, "kernel %s has %lld candidate rows but %s has %lld", second, (long long)Nq, cfg->kernel_dataset, (long long)N);
  }
  if (!run->pool) PetscCall(pipeline_check_records(run, N)); /* no candidates file: line i = candidate i */
  if (run->pool)
    PetscCheck(run->pool->layout.n_global == N, run->comm, PETSC_ERR_ARG_SIZ, "kernel %s in '%s' has %lld candidate rows but %s has %lld candidates%s", cfg->kernel_dataset, cfg->kernel_file, (long long)N, cfg->candidates.path, (long long)run->pool->layout.n_global,
               cfg->subsample ? " after -wn_subsample (compute the kernel with `winnow kernel` and the same -wn_subsample and -wn_seed)" : "");
  PetscCheck(!(needs & WN_NEEDS_POOL_KERNEL) || T == N, run->comm, PETSC_ERR_ARG_SIZ, "method %s needs an N x N pool kernel but %s in '%s' is %lld x %lld", cfg->method, cfg->kernel_dataset, cfg->kernel_file, (long long)N, (long long)T);
  PetscCall(wn_layout_init(run->comm, N, &layout));
  bytes = (double)layout.n_local * (double)(T + Tq) * sizeof(float);
  PetscCall(pipeline_memory_check(run, bytes, "reading the kernels"));
  PetscCall(wn_kernel_read(&layout, cfg->kernel_file, cfg->kernel_dataset, cfg->kernel_orientation, &run->K));
  if (needs & WN_NEEDS_QUERY_KERNEL) PetscCall(wn_kernel_read(&layout, cfg->kernel_file, cfg->query_kernel_dataset, cfg->kernel_orientation, &run->K_query));
  if (needs & WN_NEEDS_PRIVATE_KERNEL) PetscCall(wn_kernel_read(&layout, cfg->kernel_file, cfg->private_kernel_dataset, cfg->kernel_orientation, &run->K_private));
  PetscCall(PetscPrintf(run->comm, "kernel: %lld x %lld from %s:%s%s%s\n", (long long)N, (long long)T, cfg->kernel_file, cfg->kernel_dataset, second ? " and " : "", second ? second : ""));
  PetscCall(wn_report_phase_end(&run->report, WN_PHASE_KERNEL));
  PetscFunctionReturn(PETSC_SUCCESS);
}

/* Warm start: rank 0 reads the ids (one per line; blank lines and # comments skipped), every rank maps
 * them to rows. Collective. */
static PetscErrorCode pipeline_warm_start(wn_run *run)
{
  PetscMPIInt rank;
  char       *buf = NULL, msg[PETSC_MAX_PATH_LEN + 64] = "";
  long        len = 0;
  int64_t     n = 0;
  const char **ids;

  PetscFunctionBeginUser;
  if (!run->cfg->warm_start[0]) PetscFunctionReturn(PETSC_SUCCESS);
  PetscCallMPI(MPI_Comm_rank(run->comm, &rank));
  if (rank == 0) {
    /* read in a growing buffer: works for pipes and process substitution too */
    FILE  *fp  = fopen(run->cfg->warm_start, "rb");
    size_t cap = 0, got;
    struct stat st;
    if (!fp) snprintf(msg, sizeof(msg), "cannot open warm-start file '%s': %s", run->cfg->warm_start, strerror(errno));
    else if (fstat(fileno(fp), &st) == 0 && S_ISDIR(st.st_mode)) snprintf(msg, sizeof(msg), "warm-start file '%s' is a directory; expected a text file of ids", run->cfg->warm_start);
    else {
      do {
        if ((size_t)len + 4096 + 1 > cap) {
          char *bigger;
          cap = 2 * cap + 8192;
          bigger = realloc(buf, cap);
          if (!bigger) {
            snprintf(msg, sizeof(msg), "warm-start file '%s' is too large to read", run->cfg->warm_start);
            break;
          }
          buf = bigger;
        }
        got = fread(buf + len, 1, cap - (size_t)len - 1, fp);
        len += (long)got;
      } while (got > 0 && len < (1L << 30));
      if (!msg[0] && ferror(fp)) snprintf(msg, sizeof(msg), "cannot read warm-start file '%s': %s", run->cfg->warm_start, strerror(errno));
      if (!msg[0] && len >= (1L << 30)) snprintf(msg, sizeof(msg), "warm-start file '%s' is larger than 1 GiB", run->cfg->warm_start);
      if (buf) buf[len] = 0;
    }
    if (fp) fclose(fp);
    if (msg[0]) {
      free(buf);
      buf = NULL;
    }
  }
  WN_CHECK_ALL(run->comm, msg[0] == 0, PETSC_ERR_FILE_OPEN, "%s", msg);
  if (rank == 0) { /* into PETSc's allocator, like the other ranks' copy */
    char *copy;
    PetscCall(PetscMalloc1(len + 1, &copy));
    memcpy(copy, buf, (size_t)len + 1);
    free(buf);
    buf = copy;
  }
  PetscCallMPI(MPI_Bcast(&len, 1, MPI_LONG, 0, run->comm));
  if (rank) PetscCall(PetscMalloc1(len + 1, &buf));
  PetscCallMPI(MPI_Bcast(buf, (int)len + 1, MPI_CHAR, 0, run->comm));
  /* split into trimmed lines in place */
  PetscCall(PetscMalloc1(len / 2 + 2, &ids));
  for (char *line = buf, *next; line && *line; line = next) {
    next = strchr(line, '\n');
    if (next) *next++ = 0;
    while (*line == ' ' || *line == '\t') line++;
    for (char *e = line + strlen(line); e > line && (e[-1] == ' ' || e[-1] == '\t' || e[-1] == '\r'); e--) e[-1] = 0;
    if (*line && *line != '#') ids[n++] = line;
  }
  PetscCheck(n > 0, run->comm, PETSC_ERR_ARG_WRONG, "warm-start file '%s' holds no ids", run->cfg->warm_start);
  PetscCall(PetscMalloc1(n, &run->warm));
  if (run->pool) PetscCall(wn_pool_find_ids(run->pool, n, ids, run->warm));
  else {
    for (int64_t j = 0; j < n; j++) {
      char *end;
      run->warm[j] = strtoll(ids[j], &end, 10);
      PetscCheck(*end == 0, run->comm, PETSC_ERR_ARG_WRONG, "warm-start id '%s' is not a row number (give -wn_candidates to match ids)", ids[j]);
    }
  }
  run->n_warm = n;
  PetscCall(PetscFree(ids));
  PetscCall(PetscFree(buf));
  PetscFunctionReturn(PETSC_SUCCESS);
}

/* Per pick: its row in the candidates dataset (the pool's origin after -wn_subsample) and the line of its
 * record (the pool's source_row when present). Replicated. Collective. */
static PetscErrorCode pipeline_file_rows(wn_run *run)
{
  const wn_selection *sel = run->sel;
  wn_column           col = {0};

  PetscFunctionBeginUser;
  PetscCall(PetscMalloc2(sel->n + 1, &run->file_index, sel->n + 1, &run->record_line));
  PetscCall(PetscArraycpy(run->file_index, sel->index, sel->n));
  if (run->pool && run->pool->origin.kind == WN_COLUMN_INT) {
    PetscCall(wn_column_gather(&run->pool->layout, &run->pool->origin, sel->n, sel->index, &col));
    PetscCall(PetscArraycpy(run->file_index, col.ints, sel->n));
    PetscCall(wn_column_destroy(&col));
  }
  PetscCall(PetscArraycpy(run->record_line, run->file_index, sel->n));
  if (run->pool && run->pool->source_row.kind == WN_COLUMN_INT) {
    PetscCall(wn_column_gather(&run->pool->layout, &run->pool->source_row, sel->n, sel->index, &col));
    PetscCall(PetscArraycpy(run->record_line, col.ints, sel->n));
    PetscCall(wn_column_destroy(&col));
  }
  PetscFunctionReturn(PETSC_SUCCESS);
}

/**
  @brief Resolve the budget and map the warm-start ids for a pool of N candidates: cheap checks, done as soon
  as N is known (before the kernel stage), so bad values fail before the expensive work.

  Collective on run->comm.
**/
PetscErrorCode wn_pipeline_resolve(wn_run *run, int64_t N)
{
  PetscFunctionBeginUser;
  PetscCall(wn_parse_budget(run->comm, run->cfg->budget_text, N, &run->budget));
  PetscCall(pipeline_warm_start(run));
  PetscCheck(run->n_warm <= run->budget, run->comm, PETSC_ERR_ARG_OUTOFRANGE, "the warm start holds %lld ids but the budget is %lld (the budget counts warm-start picks)", (long long)run->n_warm, (long long)run->budget);
  run->resolved   = PETSC_TRUE;
  run->resolved_n = N;
  PetscFunctionReturn(PETSC_SUCCESS);
}

/* How the method's loop runs, for the report: the DPP family always naive, LoBaSS no greedy at all ("topk"),
 * the facility-location family as -wn_greedy says. Pure. */
static const char *pipeline_greedy_name(const wn_run *run)
{
  const char *m = run->cfg->method;
  if (!strcmp(m, "lobass")) return "topk";
  if (!strcmp(m, "tsds")) return "none";
  if (!strncmp(m, "dpp", 3) || !strcmp(m, "p3")) return "naive";
  return wn_greedy_kind_names[run->cfg->greedy];
}

/* ---- checkpoint/restart (checkpoint.h) ------------------------------------------------------------ */

/* The options that decide the selection (inputs are covered by the data checksum, paths may move): their
 * resolved values, hashed in reading order. Not collective (the configuration is replicated). */
static void pipeline_options_checksum(const wn_config *cfg, char hex[17])
{
  static const char *keys[] = {"-wn_method", "-wn_budget", "-wn_min_gain", "-wn_flmi_eta", "-wn_flcg_nu", "-wn_kernel_metric", "-wn_kernel_gamma", "-wn_kernel_minmax",
                               "-wn_kernel_sparse_k", "-wn_kernel_dataset", "-wn_query_kernel_dataset", "-wn_private_kernel_dataset", "-wn_kernel_orientation",
                               "-wn_subsample", "-wn_seed", "-wn_warm_start", "-wn_dpp_kernel", "-wn_dpp_jitter", "-wn_dpp_epsilon", "-wn_dpp_quality",
                               "-wn_candidates_dataset", "-wn_targets_dataset", "-wn_private_dataset", NULL};
  uint64_t h = WN_FNV_OFFSET;

  for (int e = 0; e < cfg->n_entries; e++)
    for (int k = 0; keys[k]; k++)
      if (!strcmp(cfg->entry_key[e], keys[k])) {
        h = wn_fnv1a(h, cfg->entry_key[e], strlen(cfg->entry_key[e]) + 1);
        h = wn_fnv1a(h, cfg->entry_value[e], strlen(cfg->entry_value[e]) + 1);
      }
  snprintf(hex, 17, "%016llx", (unsigned long long)h);
}

/* Checksum of every input the selection reads, as loaded (embeddings, targets, dense kernels), independent of the
 * rank count. Collective. */
static PetscErrorCode pipeline_inputs_checksum(wn_run *run)
{
  uint64_t    h = 0;
  PetscMPIInt rank;

  PetscFunctionBeginUser;
  if (run->ck_inputs[0]) PetscFunctionReturn(PETSC_SUCCESS);
  PetscCallMPI(MPI_Comm_rank(run->comm, &rank));
  if (run->pool && run->pool->embedding) PetscCall(wn_checksum_rows(run->comm, run->pool->layout.row_start, run->pool->layout.n_local, run->pool->embedding, (size_t)run->pool->d * sizeof(float), &h));
  if (run->targets && run->targets->embedding) /* replicated: rank 0 contributes the rows */
    PetscCall(wn_checksum_rows(run->comm, 0, rank == 0 ? run->targets->m : 0, run->targets->embedding, (size_t)run->targets->d * sizeof(float), &h));
  if (run->private_set && run->private_set->embedding) PetscCall(wn_checksum_rows(run->comm, 0, rank == 0 ? run->private_set->m : 0, run->private_set->embedding, (size_t)run->private_set->d * sizeof(float), &h));
  if (run->K) PetscCall(wn_checksum_rows(run->comm, run->K->layout.row_start, run->K->layout.n_local, run->K->values, (size_t)run->K->n_cols * sizeof(float), &h));
  if (run->K_query) PetscCall(wn_checksum_rows(run->comm, run->K_query->layout.row_start, run->K_query->layout.n_local, run->K_query->values, (size_t)run->K_query->n_cols * sizeof(float), &h));
  if (run->K_private) PetscCall(wn_checksum_rows(run->comm, run->K_private->layout.row_start, run->K_private->layout.n_local, run->K_private->values, (size_t)run->K_private->n_cols * sizeof(float), &h));
  PetscCall(PetscSNPrintf(run->ck_inputs, sizeof(run->ck_inputs), "%016llx", (unsigned long long)h));
  PetscFunctionReturn(PETSC_SUCCESS);
}

/* The engine's checkpoint callback: the picks so far, tied to the inputs and options. Collective. */
static PetscErrorCode pipeline_checkpoint(void *ctx, const wn_selection *partial)
{
  wn_run       *run = (wn_run *)ctx;
  wn_checkpoint ck;
  PetscMPIInt   size;
  double        t = MPI_Wtime();

  PetscFunctionBeginUser;
  PetscCall(pipeline_inputs_checksum(run));
  PetscCallMPI(MPI_Comm_size(run->comm, &size));
  PetscCall(PetscMemzero(&ck, sizeof(ck)));
  ck.n            = partial->n;
  ck.n_warm       = partial->n < run->n_warm ? partial->n : run->n_warm;
  ck.index        = partial->index;
  ck.gain         = partial->gain;
  ck.n_candidates = partial->n_candidates;
  ck.budget       = run->budget;
  ck.ranks        = size;
  PetscCall(PetscStrncpy(ck.method, run->cfg->method, sizeof(ck.method)));
  PetscCall(PetscStrncpy(ck.inputs, run->ck_inputs, sizeof(ck.inputs)));
  PetscCall(PetscStrncpy(ck.options, run->ck_options, sizeof(ck.options)));
  PetscCall(wn_checkpoint_write(run->comm, run->cfg->checkpoint_file, &ck));
  PetscCall(PetscPrintf(run->comm, "  checkpoint: %lld of %lld picks -> %s (%.2f s)\n", (long long)ck.n, (long long)ck.budget, run->cfg->checkpoint_file, MPI_Wtime() - t));
  PetscFunctionReturn(PETSC_SUCCESS);
}

/* -wn_restart: read the checkpoint and refuse it unless it was written for this method, these options and these
 * inputs. Collective. */
static PetscErrorCode pipeline_restart_read(wn_run *run, int64_t N)
{
  wn_config     *cfg = run->cfg;
  wn_checkpoint *ck  = &run->restart;

  PetscFunctionBeginUser;
  PetscCall(wn_checkpoint_read(run->comm, cfg->checkpoint_file, ck));
  PetscCall(pipeline_inputs_checksum(run));
  PetscCheck(!strcmp(ck->method, cfg->method), run->comm, PETSC_ERR_ARG_INCOMP, "checkpoint '%s' was written by method %s, not %s", cfg->checkpoint_file, ck->method, cfg->method);
  PetscCheck(ck->n_candidates == N, run->comm, PETSC_ERR_ARG_INCOMP, "checkpoint '%s' was written for %lld candidates; the inputs now have %lld", cfg->checkpoint_file, (long long)ck->n_candidates, (long long)N);
  PetscCheck(!strcmp(ck->inputs, run->ck_inputs), run->comm, PETSC_ERR_ARG_INCOMP,
             "checkpoint '%s' was written for inputs with checksum %s; the inputs now have checksum %s: a file changed since the checkpoint (restart refused; remove the checkpoint to start again)",
             cfg->checkpoint_file, ck->inputs, run->ck_inputs);
  PetscCheck(!strcmp(ck->options, run->ck_options) && ck->budget == run->budget, run->comm, PETSC_ERR_ARG_INCOMP,
             "checkpoint '%s' was written with other options (budget %lld, options checksum %s; now budget %lld, checksum %s): the selection would differ", cfg->checkpoint_file,
             (long long)ck->budget, ck->options, (long long)run->budget, run->ck_options);
  PetscCall(PetscPrintf(run->comm, "restart: resuming from %s: %lld of %lld picks (written on %d ranks), inputs checksum %s\n", cfg->checkpoint_file, (long long)ck->n, (long long)ck->budget, ck->ranks, ck->inputs));
  PetscFunctionReturn(PETSC_SUCCESS);
}


/* The kernel-stage checkpoint: PREFIX.ckpt.h5 -> PREFIX.ckpt.kernel.h5. Pure. */
static void pipeline_kernel_ckpt_name(const wn_config *cfg, char *buf, size_t len)
{
  const char *dot = strrchr(cfg->checkpoint_file, '.');
  if (dot && !strcmp(dot, ".h5")) snprintf(buf, len, "%.*s.kernel.h5", (int)(dot - cfg->checkpoint_file), cfg->checkpoint_file);
  else snprintf(buf, len, "%s.kernel.h5", cfg->checkpoint_file);
}

/**
  @brief `run`: the kernel stage's checkpoint. After the kernel stage, when checkpoints are on (or a signal arrived
  during it), write the kernels to PREFIX.ckpt.kernel.h5 (atomically, like `winnow kernel`); with -wn_restart and
  that file present, read them instead of computing them (the restart's input checksum then covers the kernels
  read back, bit for bit the computed ones).

  Collective on run->comm. *done (restore only) says whether the kernels were restored.
**/
PetscErrorCode wn_pipeline_kernel_checkpoint(wn_run *run, PetscBool restore, PetscBool *done)
{
  wn_config *cfg = run->cfg;
  char       path[PETSC_MAX_PATH_LEN + 16], saved[PETSC_MAX_PATH_LEN];
  unsigned   needs = run->method->needs;
  int        sig = wn_interrupt_pending(), any = 0;
  PetscBool  exists = PETSC_FALSE;

  PetscFunctionBeginUser;
  if (done) *done = PETSC_FALSE;
  if (needs & (WN_NEEDS_EMBEDDINGS | WN_NEEDS_FEATURES)) PetscFunctionReturn(PETSC_SUCCESS); /* no kernel stage */
  pipeline_kernel_ckpt_name(cfg, path, sizeof(path));
  PetscCall(PetscStrncpy(saved, cfg->kernel_file, sizeof(saved)));
  if (restore) {
    if (!cfg->restart) PetscFunctionReturn(PETSC_SUCCESS);
    PetscCall(PetscTestFile(path, 'r', &exists));
    PetscCallMPI(MPI_Bcast(&exists, 1, MPIU_BOOL, 0, run->comm));
    if (!exists) PetscFunctionReturn(PETSC_SUCCESS);
    PetscCall(PetscPrintf(run->comm, "restart: the kernels come from the kernel-stage checkpoint %s (not recomputed)\n", path));
    PetscCall(PetscStrncpy(cfg->kernel_file, path, sizeof(cfg->kernel_file)));
    PetscCall(wn_pipeline_read_kernels(run));
    PetscCall(PetscStrncpy(cfg->kernel_file, saved, sizeof(cfg->kernel_file)));
    if (done) *done = PETSC_TRUE;
    PetscFunctionReturn(PETSC_SUCCESS);
  }
  PetscCallMPI(MPI_Allreduce(&sig, &any, 1, MPI_INT, MPI_MAX, run->comm));
  if (!(cfg->checkpoint_every || cfg->checkpoint_interval || any)) PetscFunctionReturn(PETSC_SUCCESS);
  PetscCall(PetscStrncpy(cfg->kernel_file, path, sizeof(cfg->kernel_file)));
  PetscCall(wn_pipeline_write_kernels(run));
  PetscCall(PetscStrncpy(cfg->kernel_file, saved, sizeof(cfg->kernel_file)));
  PetscCall(PetscPrintf(run->comm, "  checkpoint: kernel stage -> %s\n", path));
  PetscFunctionReturn(PETSC_SUCCESS);
}

/**
  @brief Run the method on the greedy engine with the resolved budget and warm start.

  Collective on run->comm.
**/
PetscErrorCode wn_pipeline_select(wn_run *run)
{
  wn_config *cfg = run->cfg;
  wn_problem prob;
  int64_t    N = run->K ? run->K->layout.n_global : (run->KS ? run->KS->layout.n_global : run->pool->layout.n_global), budget;

  PetscFunctionBeginUser;
  PetscCall(wn_report_phase_begin(&run->report, WN_PHASE_SELECT));
  if (!run->resolved) PetscCall(wn_pipeline_resolve(run, N));
  PetscCheck(run->resolved_n == N, run->comm, PETSC_ERR_PLIB, "budget resolved for %lld candidates but the kernel has %lld", (long long)run->resolved_n, (long long)N);
  budget = run->budget;
  memset(&prob, 0, sizeof(prob));
  prob.comm                     = run->comm;
  prob.cfg                      = cfg;
  prob.pool                     = run->pool;
  prob.targets                  = run->targets;
  prob.K                        = run->K;
  prob.KS                       = run->KS;
  prob.N                        = N;
  prob.K_query                  = run->K_query;
  prob.K_private                = run->K_private;
  prob.greedy.kind              = cfg->greedy;
  prob.greedy.budget            = budget;
  prob.greedy.min_gain          = cfg->min_gain;
  prob.greedy.warm              = run->warm;
  prob.greedy.n_warm            = run->n_warm;
  prob.greedy.progress_interval = cfg->progress_interval;
  prob.param_eta                = cfg->flmi_eta;
  prob.param_nu                 = cfg->flcg_nu;
  prob.want_scores              = (cfg->scores && run->pool) ? PETSC_TRUE : PETSC_FALSE;
  /* checkpoints: the engine calls back every -wn_checkpoint_every picks / -wn_checkpoint_interval seconds, and on
   * SIGTERM/SIGUSR1; -wn_restart replays the checkpoint's picks first */
  pipeline_options_checksum(cfg, run->ck_options);
  prob.greedy.checkpoint          = pipeline_checkpoint;
  prob.greedy.checkpoint_ctx      = run;
  prob.greedy.checkpoint_every    = cfg->checkpoint_every;
  prob.greedy.checkpoint_interval = cfg->checkpoint_interval;
  if (cfg->restart) {
    PetscCall(pipeline_restart_read(run, N));
    prob.greedy.replay      = run->restart.index;
    prob.greedy.replay_gain = run->restart.gain;
    prob.greedy.n_replay    = run->restart.n;
  }
  {
    int sig = wn_interrupt_pending(), any = 0;
    PetscCallMPI(MPI_Allreduce(&sig, &any, 1, MPI_INT, MPI_MAX, run->comm));
    if (any) wn_interrupt_set_checkpointed();
    PetscCheck(!any, run->comm, PETSC_ERR_USER, "stopped by signal %d before the selection began (no checkpoint: nothing was selected yet); run again to start over", any);
  }
  prob.report                   = &run->report;
  if (run->method->needs & WN_NEEDS_EMBEDDINGS) PetscCall(PetscPrintf(run->comm, "select: %s, %lld draws from %lld candidates (seed %llu)\n", cfg->method, (long long)budget, (long long)N, (unsigned long long)cfg->seed));
  else PetscCall(PetscPrintf(run->comm, "select: %s, budget %lld of %lld candidates%s, %s greedy\n", cfg->method, (long long)budget, (long long)N, run->n_warm ? " (warm start included)" : "",
                             pipeline_greedy_name(run)));
  PetscCall(run->method->select(&prob, &run->sel, &run->scores));
  PetscCall(pipeline_file_rows(run));
  wn_selection_checksum(run->file_index, run->sel->n, run->checksum);
  PetscCall(wn_report_phase_end(&run->report, WN_PHASE_SELECT));
  PetscFunctionReturn(PETSC_SUCCESS);
}

PetscErrorCode wn_pipeline_write(wn_run *run)
{
  wn_output_selection out;

  PetscFunctionBeginUser;
  PetscCall(wn_report_phase_begin(&run->report, WN_PHASE_WRITE));
  memset(&out, 0, sizeof(out));
  out.method   = run->method->name;
  out.citation = run->method->citation;
  out.cfg      = run->cfg;
  out.pool     = run->pool;
  out.sel      = run->sel;
  out.file_index  = run->file_index;
  out.record_line = run->record_line;
  out.scores   = run->scores;
  out.score_name = run->method->score_name;
  out.checksum = run->checksum;
  PetscCall(wn_output_write_selection(run->comm, run->cfg->output, &out));
  if (run->cfg->command == WN_CMD_SELECT || run->cfg->command == WN_CMD_RUN) { /* done: no stale resume point */
    char kpath[PETSC_MAX_PATH_LEN + 16];
    pipeline_kernel_ckpt_name(run->cfg, kpath, sizeof(kpath));
    PetscCall(wn_checkpoint_remove(run->comm, run->cfg->checkpoint_file));
    PetscCall(wn_checkpoint_remove(run->comm, kpath));
  }
  PetscCall(PetscPrintf(run->comm, "outputs: %s.h5, %s.jsonl, %s.yaml\n", run->cfg->output, run->cfg->output, run->cfg->output));
  PetscCall(wn_report_phase_end(&run->report, WN_PHASE_WRITE));
  PetscFunctionReturn(PETSC_SUCCESS);
}

static int pipeline_strcmp(const void *a, const void *b) { return strcmp(*(char *const *)a, *(char *const *)b); }

/* Label text of local row i (pool) into buf. */
static const char *pipeline_label(const wn_column *c, int64_t i, char *buf, size_t len) { return wn_column_text(c, i, -1, buf, len); }

/* Quality on labelled data: share of the selection whose label is the target label, next to the share a
 * random selection of the same size would give in expectation, and distinct labels covered. Collective. */
static PetscErrorCode pipeline_quality(wn_run *run)
{
  wn_pool   *pool = run->pool;
  char       qlabel[256] = "", buf[1024];
  int64_t    counts[2] = {0, 0}, n_sel = run->sel->n, distinct = 0; /* pool count, selected count */
  wn_column  sel_labels = {0};

  PetscFunctionBeginUser;
  if (!pool || pool->label.kind == WN_COLUMN_NONE) PetscFunctionReturn(PETSC_SUCCESS);
  PetscCall(PetscStrncpy(qlabel, run->cfg->quality_label, sizeof(qlabel)));
  if (!qlabel[0] && run->targets && run->targets->label.kind != WN_COLUMN_NONE && run->targets->m > 0) {
    PetscBool same = PETSC_TRUE;
    char      first[1024];
    PetscCall(PetscStrncpy(first, pipeline_label(&run->targets->label, 0, buf, sizeof(buf)), sizeof(first)));
    for (int64_t t = 1; t < run->targets->m && same; t++)
      if (strcmp(first, pipeline_label(&run->targets->label, t, buf, sizeof(buf)))) same = PETSC_FALSE;
    if (same) PetscCall(PetscStrncpy(qlabel, first, sizeof(qlabel)));
  }
  PetscCall(wn_column_gather(&pool->layout, &pool->label, n_sel, run->sel->index, &sel_labels));
  {
    char **names;
    PetscCall(PetscMalloc1(n_sel + 1, &names));
    for (int64_t j = 0; j < n_sel; j++) {
      PetscCall(PetscStrallocpy(pipeline_label(&sel_labels, j, buf, sizeof(buf)), &names[j]));
      if (qlabel[0] && !strcmp(names[j], qlabel)) counts[1]++;
    }
    qsort(names, (size_t)n_sel, sizeof(*names), pipeline_strcmp);
    for (int64_t j = 0; j < n_sel; j++) distinct += (j == 0 || strcmp(names[j], names[j - 1])) ? 1 : 0;
    for (int64_t j = 0; j < n_sel; j++) PetscCall(PetscFree(names[j]));
    PetscCall(PetscFree(names));
  }
  PetscCall(wn_column_destroy(&sel_labels));
  PetscCall(wn_report_result(&run->report, "labels_covered", "%lld", (long long)distinct));
  if (qlabel[0]) {
    double share, random_share;
    for (int64_t i = 0; i < pool->layout.n_local; i++)
      if (!strcmp(pipeline_label(&pool->label, i, buf, sizeof(buf)), qlabel)) counts[0]++;
    PetscCallMPI(MPI_Allreduce(MPI_IN_PLACE, counts, 1, MPI_INT64_T, MPI_SUM, run->comm));
    share        = n_sel ? (double)counts[1] / (double)n_sel : 0.0;
    random_share = (double)counts[0] / (double)pool->layout.n_global;
    PetscCall(PetscPrintf(run->comm, "\nquality: %lld of %lld selected (%.1f%%) have the target label '%s'; random selection would give %.1f%% (%.1f of %lld); %lld distinct labels selected\n", (long long)counts[1], (long long)n_sel, 100 * share, qlabel,
                          100 * random_share, random_share * n_sel, (long long)n_sel, (long long)distinct));
    PetscCall(wn_report_result(&run->report, "target_label", "%s", qlabel));
    PetscCall(wn_report_result(&run->report, "target_hits", "%lld", (long long)counts[1]));
    PetscCall(wn_report_result(&run->report, "target_share", "%.4f", share));
    PetscCall(wn_report_result(&run->report, "random_share", "%.4f", random_share));
  } else PetscCall(PetscPrintf(run->comm, "\nquality: %lld distinct labels among %lld selected (no target label: set -wn_quality_label)\n", (long long)distinct, (long long)n_sel));
  PetscFunctionReturn(PETSC_SUCCESS);
}

/* The first picks, for the user to see at a glance (rank 0). Collective (id gathering). */
static PetscErrorCode pipeline_print_picks(wn_run *run, int64_t show)
{
  const wn_selection *sel = run->sel;
  wn_column           ids = {0}, labels = {0};
  char                b1[256], b2[256];

  PetscFunctionBeginUser;
  if (show > sel->n) show = sel->n;
  if (run->pool) {
    PetscCall(wn_column_gather(&run->pool->layout, &run->pool->id, show, sel->index, &ids));
    PetscCall(wn_column_gather(&run->pool->layout, &run->pool->label, show, sel->index, &labels));
  }
  PetscCall(PetscPrintf(run->comm, "\nselection (%lld picks, %s %s; first %lld shown)\n  rank      index  gain            objective        id  [label]\n", (long long)sel->n, strcmp(sel->stop_reason, "sampled") ? "stopped by" : "drawn:", strcmp(sel->stop_reason, "sampled") ? sel->stop_reason : "gain = p, objective = mass so far", (long long)show));
  for (int64_t j = 0; j < show; j++)
    PetscCall(PetscPrintf(run->comm, "  %4lld %10lld  %-15.8g %-15.8g  %s%s%s%s%s\n", (long long)(j + 1), (long long)run->file_index[j], sel->gain[j], sel->objective[j], wn_column_text(&ids, j, run->file_index[j], b1, sizeof(b1)), labels.kind != WN_COLUMN_NONE ? "  [" : "",
                          labels.kind != WN_COLUMN_NONE ? wn_column_text(&labels, j, 0, b2, sizeof(b2)) : "", labels.kind != WN_COLUMN_NONE ? "]" : "", j < sel->n_warm ? "  (warm start)" : ""));
  PetscCall(wn_column_destroy(&ids));
  PetscCall(wn_column_destroy(&labels));
  PetscFunctionReturn(PETSC_SUCCESS);
}

/**
  @brief Report: first picks, quality on labelled data, phase table, checks, RESULT line, provenance.

  Collective on run->comm.
**/
PetscErrorCode wn_pipeline_report(wn_run *run)
{
  wn_config  *cfg = run->cfg;
  PetscMPIInt size;
  char        path[PETSC_MAX_PATH_LEN];

  PetscFunctionBeginUser;
  PetscCallMPI(MPI_Comm_size(run->comm, &size));
  PetscCall(wn_report_result(&run->report, "command", "%s", wn_command_names[cfg->command]));
  if (cfg->command != WN_CMD_FEATURIZE) PetscCall(wn_report_result(&run->report, "method", "%s", cfg->method));
  PetscCall(wn_report_result(&run->report, "ranks", "%d", size));
  if (run->K || run->KS) {
    PetscCall(wn_report_result(&run->report, "n", "%lld", (long long)(run->K ? run->K->layout.n_global : run->KS->layout.n_global)));
    PetscCall(wn_report_result(&run->report, "t", "%lld", (long long)(run->K ? run->K->n_cols : run->KS->n_cols)));
    if (run->KS) PetscCall(wn_report_result(&run->report, "sparse_k", "%lld", (long long)run->KS->k));
  } else if (run->pool) PetscCall(wn_report_result(&run->report, "n", "%lld", (long long)run->pool->layout.n_global));
  if (run->pool && run->pool->d) PetscCall(wn_report_result(&run->report, "d", "%lld", (long long)run->pool->d));
  if (run->targets) PetscCall(wn_report_result(&run->report, "m", "%lld", (long long)run->targets->m));
  if (cfg->command != WN_CMD_FEATURIZE && !(run->method->needs & WN_NEEDS_FEATURES)) PetscCall(wn_report_result(&run->report, "metric", "%s", run->K && cfg->command == WN_CMD_SELECT ? (strcmp(run->K->columns, "user") ? wn_metric_names[run->K->params.metric] : "user") : wn_metric_names[cfg->kernel.metric]));
  if (run->sel) {
    const wn_selection *sel = run->sel;
    PetscCall(pipeline_print_picks(run, 10));
    if (run->method->needs & WN_NEEDS_EMBEDDINGS)
      PetscCall(PetscPrintf(run->comm, "\n%lld distinct picks holding probability mass %.6g\nselection checksum %s\n", (long long)sel->n, sel->n ? sel->objective[sel->n - 1] : 0.0, run->checksum));
    else if (!strcmp(cfg->method, "lobass"))
      PetscCall(PetscPrintf(run->comm, "\nsum of the selected scores %.10g after %lld picks (exact distributed top-k, no greedy)\nselection checksum %s\n", sel->n ? sel->objective[sel->n - 1] : 0.0, (long long)sel->n, run->checksum));
    else if (run->method->needs & WN_NEEDS_FEATURES)
      PetscCall(PetscPrintf(run->comm, "\nobjective (log det) %.10g after %lld picks; %lld Schur-complement reads\nselection checksum %s\n", sel->n ? sel->objective[sel->n - 1] : 0.0, (long long)sel->n, (long long)sel->evaluations, run->checksum));
    else
      PetscCall(PetscPrintf(run->comm, "\nobjective %.10g after %lld picks; %lld gain evaluations (%s greedy; naive would need about %lld)\nselection checksum %s\n", sel->n ? sel->objective[sel->n - 1] : 0.0, (long long)sel->n, (long long)sel->evaluations,
                            wn_greedy_kind_names[cfg->greedy], (long long)(sel->n * sel->n_candidates - sel->n * (sel->n - 1) / 2), run->checksum));
    PetscCall(wn_report_result(&run->report, "budget", "%lld", (long long)run->budget));
    PetscCall(wn_report_result(&run->report, "selected", "%lld", (long long)sel->n));
    PetscCall(wn_report_result(&run->report, "warm", "%lld", (long long)sel->n_warm));
    PetscCall(wn_report_result(&run->report, "greedy", "%s", pipeline_greedy_name(run)));
    PetscCall(wn_report_result(&run->report, "evaluations", "%lld", (long long)sel->evaluations));
    PetscCall(wn_report_result(&run->report, "objective", "%.10g", sel->n ? sel->objective[sel->n - 1] : 0.0));
    PetscCall(wn_report_result(&run->report, "stop", "%s", sel->stop_reason));
    PetscCall(wn_report_result(&run->report, "checksum", "%s", run->checksum));
    PetscCall(pipeline_quality(run));
  }
  PetscCall(wn_report_result(&run->report, "blas_core", "%s", wn_blas_core()));
  PetscCall(wn_report_print(&run->report, PETSC_STDOUT));
  if (cfg->command == WN_CMD_KERNEL) PetscCall(PetscSNPrintf(path, sizeof(path), "%s.yaml", cfg->kernel_file));
  else if (cfg->command == WN_CMD_FEATURIZE) PetscCall(PetscSNPrintf(path, sizeof(path), "%s.yaml", cfg->featurize.output));
  else PetscCall(PetscSNPrintf(path, sizeof(path), "%s.yaml", cfg->output));
  PetscCall(wn_output_write_provenance(run->comm, path, cfg, &run->report));
  PetscCall(PetscPrintf(run->comm, "provenance: %s\n", path));
  PetscFunctionReturn(PETSC_SUCCESS);
}
