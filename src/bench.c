/* bench.c - `winnow bench`: how close the kernel stage and the greedy engine come to this machine's own
 * limits, measured in the same run (DESIGN.md section 9):
 *   kernel tiles vs. a plain cblas_sgemm of the same shape (target >= 0.8),
 *   one naive greedy pass over dense K vs. a STREAM-style triad (target >= 0.5),
 *   facility location over targets end to end (kernel + lazy greedy, or -wn_greedy naive) at N, M, d, k,
 *   with the greedy's time split into gains, reductions and updates (the engine's PETSc log events);
 *   optionally the exact kNN and TSDS, the DPP greedy and ScaLAPACK, and a ping loop of one greedy
 *   iteration's communication (-wn_bench_comm). The per-phase times (RESULT keys *_s) and the counts are what
 *   jobs/costmodel fits the cost model of doc/scaling.md to.
 * Data are synthetic and deterministic by global row (clustered points), so every rank count sees the same
 * problem. Not a test: it reports ratios, it asserts nothing.
 */
#include <math.h>
#include <stddef.h>
#include <string.h>
#include <winnow/bench.h>
#include <winnow/blas.h>
#include <winnow/facility.h>
#include <winnow/knn.h>
#include <winnow/tsds.h>
#include <winnow/dpp.h>
#include <winnow/logdet.h>
#include <winnow/report.h>
#include <winnow/util.h>

/* the statistics of the last wn_tsds_probabilities call {rounds, densities computed, certified, searched}: a hook
 * of tsds.c without a header (tests/unit/test_tsds.c reads it too); the cost model needs the number searched */
extern int64_t wn_tsds_stats_[4];

/* rows of the plain sgemm that gives the machine's rate: the rate of a tall shape no longer depends on the row
 * count at this size, and four repetitions of the whole N x M x d shape would double a long benchmark */
#define BENCH_SGEMM_ROWS_MAX 65536

/* Row g of the synthetic data: one of 64 cluster centres plus uniform noise. Pure. */
static void bench_row(uint64_t seed, int64_t g, int64_t d, float *row)
{
  int64_t c = (int64_t)(wn_splitmix64(seed ^ (uint64_t)g) % 64);

  for (int64_t j = 0; j < d; j++) row[j] = (float)(2.0 * wn_uniform01(seed + 1, (uint64_t)(c * d + j)) - 1.0 + 0.6 * (wn_uniform01(seed + 2, (uint64_t)(g * d + j)) - 0.5));
}

static PetscErrorCode bench_minmax(MPI_Comm comm, double v, double *mn, double *mx)
{
  PetscFunctionBeginUser;
  PetscCallMPI(MPI_Allreduce(&v, mn, 1, MPI_DOUBLE, MPI_MIN, comm));
  PetscCallMPI(MPI_Allreduce(&v, mx, 1, MPI_DOUBLE, MPI_MAX, comm));
  PetscFunctionReturn(PETSC_SUCCESS);
}

/* Two table lines: this machine's limit (min, max over ranks) and our rate with the smallest per-rank ratio to
 * it against the target; the three numbers go into the RESULT line. Collective. */
static PetscErrorCode bench_ratio(MPI_Comm comm, wn_report *report, const char *limit_label, const char *rate_label, double limit, double rate, double target, const char *limit_key, const char *rate_key, const char *ratio_key)
{
  double lmn, lmx, rmn, rmx, ratio = rate / limit, ratio_min;

  PetscFunctionBeginUser;
  PetscCall(bench_minmax(comm, limit, &lmn, &lmx));
  PetscCall(bench_minmax(comm, rate, &rmn, &rmx));
  PetscCallMPI(MPI_Allreduce(&ratio, &ratio_min, 1, MPI_DOUBLE, MPI_MIN, comm));
  PetscCall(PetscPrintf(comm, "%-34s %12.2f %12.2f\n", limit_label, lmn, lmx));
  PetscCall(PetscPrintf(comm, "%-34s %12.2f %12.2f %8.3f  (target >= %.1f: %s)\n", rate_label, rmn, rmx, ratio_min, target, ratio_min >= target ? "met" : "NOT met"));
  PetscCall(wn_report_result(report, rate_key, "%.2f", rmn));
  PetscCall(wn_report_result(report, limit_key, "%.2f", lmn));
  PetscCall(wn_report_result(report, ratio_key, "%.3f", ratio_min));
  PetscFunctionReturn(PETSC_SUCCESS);
}

/* Seconds spent so far in the PETSc log event called name on this rank (0 when it is not registered yet): the
 * greedy's events are registered on its first call, so a reading before it is 0. bench turns PETSc's default logging
 * on, so the events of greedy.c, kernel.c and knn.c accumulate. Not collective. */
static PetscErrorCode bench_event_seconds(const char *name, double *seconds)
{
  PetscLogEvent      e = -1;
  PetscEventPerfInfo info;

  PetscFunctionBeginUser;
  *seconds = 0.0;
  PetscCall(PetscLogEventGetId(name, &e));
  if (e < 0) PetscFunctionReturn(PETSC_SUCCESS);
  PetscCall(PetscLogEventGetPerfInfo(PETSC_DETERMINE, e, &info));
  *seconds = info.time;
  PetscFunctionReturn(PETSC_SUCCESS);
}

/* ---- -wn_bench_comm: one greedy iteration's communication in a ping loop ------------------------------------ */

/* the engine's reduction record (greedy.c): gain, global index, flags */
typedef struct {
  double  gain;
  int64_t index, flags;
} bench_best;

/* the same MAXLOC as the engine's: larger gain first, ties to the lower index, flags OR-ed. Not collective. */
static void bench_maxloc(void *in, void *inout, int *len, MPI_Datatype *type)
{
  const bench_best *a = (const bench_best *)in;
  bench_best       *b = (bench_best *)inout;

  (void)type;
  for (int k = 0; k < *len; k++) {
    int64_t flags = a[k].flags | b[k].flags;
    if (a[k].gain > b[k].gain || (a[k].gain == b[k].gain && a[k].index < b[k].index)) b[k] = a[k];
    b[k].flags = flags;
  }
}

/**
  @brief Time the communication of one greedy iteration: the MAXLOC allreduce of a 24-byte (gain, int64 index,
  flags) record with a user operation, alone and followed by an MPI_Bcast of B bytes from the winner's owner (which
  moves from rank to rank, as picks do), for B = 8 bytes to 4 MiB; the average per iteration, slowest rank.

  Collective on comm. The cost model's alpha and beta on this machine (doc/scaling.md): the reduction costs
  alpha ceil(log2 P), the broadcast alpha ceil(log2 P) + beta B. Keys comm_reduce_us and comm_b<B>_us.

  @param[in]     comm    communicator (borrowed)
  @param[in,out] report  RESULT keys are appended
**/
static PetscErrorCode bench_comm(MPI_Comm comm, wn_report *report)
{
  static const int64_t sizes[] = {0, 8, 1024, 8192, 65536, 524288, 4194304};
  int                  blocklengths[3] = {1, 1, 1};
  MPI_Aint             displacements[3] = {offsetof(bench_best, gain), offsetof(bench_best, index), offsetof(bench_best, flags)};
  MPI_Datatype         types[3] = {MPI_DOUBLE, MPI_INT64_T, MPI_INT64_T}, tmp, type;
  MPI_Op               op;
  unsigned char       *buf;
  PetscMPIInt          rank, size;

  PetscFunctionBeginUser;
  PetscCallMPI(MPI_Comm_rank(comm, &rank));
  PetscCallMPI(MPI_Comm_size(comm, &size));
  PetscCallMPI(MPI_Type_create_struct(3, blocklengths, displacements, types, &tmp));
  PetscCallMPI(MPI_Type_create_resized(tmp, 0, (MPI_Aint)sizeof(bench_best), &type));
  PetscCallMPI(MPI_Type_free(&tmp));
  PetscCallMPI(MPI_Type_commit(&type));
  PetscCallMPI(MPI_Op_create(bench_maxloc, 1, &op));
  PetscCall(PetscCalloc1((size_t)sizes[sizeof(sizes) / sizeof(sizes[0]) - 1], &buf));
  PetscCall(PetscPrintf(comm, "\ngreedy iteration communication on %d ranks (ping loop, slowest rank):\n%12s %8s %14s\n", size, "payload (B)", "reps", "us/iteration"));
  for (size_t s = 0; s < sizeof(sizes) / sizeof(sizes[0]); s++) {
    int64_t B    = sizes[s];
    int64_t reps = B <= 8192 ? 2000 : (((int64_t)64 << 20) / B > 20 ? ((int64_t)64 << 20) / B : 20);
    double  t = 0.0, tmax;

    for (int64_t it = -10; it < reps; it++) { /* ten warm-up iterations */
      bench_best best;
      if (it == 0) {
        PetscCallMPI(MPI_Barrier(comm));
        t = MPI_Wtime();
      }
      /* a gain that moves the winner around the ranks */
      best.gain  = wn_uniform01(99, (uint64_t)((it + 10) * size + rank));
      best.index = rank;
      best.flags = 0;
      PetscCallMPI(MPI_Allreduce(MPI_IN_PLACE, &best, 1, type, op, comm));
      if (B > 0) PetscCallMPI(MPI_Bcast(buf, (int)B, MPI_BYTE, (int)best.index, comm));
    }
    t = (MPI_Wtime() - t) / (double)reps;
    PetscCallMPI(MPI_Allreduce(&t, &tmax, 1, MPI_DOUBLE, MPI_MAX, comm));
    PetscCall(PetscPrintf(comm, "%12lld %8lld %14.3f%s\n", (long long)B, (long long)reps, 1e6 * tmax, B == 0 ? "  (the MAXLOC allreduce alone)" : ""));
    if (B == 0) PetscCall(wn_report_result(report, "comm_reduce_us", "%.3f", 1e6 * tmax));
    else {
      char key[32];
      PetscCall(PetscSNPrintf(key, sizeof(key), "comm_b%lld_us", (long long)B));
      PetscCall(wn_report_result(report, key, "%.3f", 1e6 * tmax));
    }
  }
  PetscCall(PetscFree(buf));
  PetscCallMPI(MPI_Op_free(&op));
  PetscCallMPI(MPI_Type_free(&type));
  PetscFunctionReturn(PETSC_SUCCESS);
}

/* ---- a counting wrapper around an objective: gain evaluations per greedy iteration on this rank ---------------- */

typedef struct {
  wn_objective *inner;  /* the wrapped objective (borrowed) */
  int64_t       since;  /* evaluations since the last update */
  int64_t       n_iter; /* updates seen (= picks) */
  int64_t       cap;
  int64_t      *per;    /* per[t]: evaluations of iteration t on this rank (the first includes the naive pass) */
} bench_count_ctx;

/* The wrapper's wn_objective callbacks: each forwards to the wrapped objective; gain and gain_all count the
 * evaluations, update (called once per pick on every rank) closes the iteration's count. Not collective. */
static PetscErrorCode bench_count_gain(void *vctx, int64_t i, double *gain)
{
  bench_count_ctx *c = (bench_count_ctx *)vctx;

  PetscFunctionBeginUser;
  c->since++;
  PetscCall(c->inner->gain(c->inner->ctx, i, gain));
  PetscFunctionReturn(PETSC_SUCCESS);
}

static PetscErrorCode bench_count_gain_all(void *vctx, const unsigned char *selected, double *gains)
{
  bench_count_ctx *c = (bench_count_ctx *)vctx;

  PetscFunctionBeginUser;
  for (int64_t i = 0; i < c->inner->layout->n_local; i++)
    if (!selected[i]) c->since++;
  PetscCall(c->inner->gain_all(c->inner->ctx, selected, gains));
  PetscFunctionReturn(PETSC_SUCCESS);
}

static PetscErrorCode bench_count_pack(void *vctx, int64_t i, void *payload)
{
  bench_count_ctx *c = (bench_count_ctx *)vctx;

  PetscFunctionBeginUser;
  PetscCall(c->inner->pack(c->inner->ctx, i, payload));
  PetscFunctionReturn(PETSC_SUCCESS);
}

static PetscErrorCode bench_count_update(void *vctx, int64_t g, const void *payload)
{
  bench_count_ctx *c = (bench_count_ctx *)vctx;

  PetscFunctionBeginUser;
  if (c->n_iter < c->cap) c->per[c->n_iter] = c->since;
  c->n_iter++;
  c->since = 0;
  PetscCall(c->inner->update(c->inner->ctx, g, payload));
  PetscFunctionReturn(PETSC_SUCCESS);
}

/**
  @brief Wrap obj so that every gain evaluation is counted per greedy iteration (an iteration ends with the update
  every rank applies). The wrapper borrows obj; free the wrapper with PetscFree(*wrap) and ctx->per, then obj.

  Not collective.

  @param[in]  obj   objective to wrap (borrowed; must outlive the wrapper)
  @param[in]  k     iterations to record
  @param[in]  ctx   counting context to fill (caller's storage)
  @param[out] wrap  new objective (owned by the caller)
**/
static PetscErrorCode bench_count_wrap(wn_objective *obj, int64_t k, bench_count_ctx *ctx, wn_objective **wrap)
{
  wn_objective *w;

  PetscFunctionBeginUser;
  memset(ctx, 0, sizeof(*ctx));
  ctx->inner = obj;
  ctx->cap   = k;
  PetscCall(PetscCalloc1((size_t)k + 1, &ctx->per));
  PetscCall(PetscNew(&w));
  *w          = *obj;
  w->ctx      = ctx;
  w->gain     = bench_count_gain;
  w->gain_all = obj->gain_all ? bench_count_gain_all : NULL;
  w->pack     = bench_count_pack;
  w->update   = bench_count_update;
  w->destroy  = NULL;
  *wrap       = w;
  PetscFunctionReturn(PETSC_SUCCESS);
}

/* fill for the log-determinant timings: a symmetric, strictly diagonally dominant (so positive definite) matrix */
static PetscErrorCode bench_spd_fill(void *ctx, int64_t r0, int64_t r1, double *out)
{
  int64_t n = *(const int64_t *)ctx;

  PetscFunctionBeginUser;
  for (int64_t i = r0; i < r1; i++)
    for (int64_t j = 0; j < n; j++) out[(size_t)(i - r0) * (size_t)n + (size_t)j] = i == j ? (double)n : 1.0 / (1.0 + (double)(i > j ? i - j : j - i));
  PetscFunctionReturn(PETSC_SUCCESS);
}

/* DPP greedy MAP (rbf, gamma = 1/d) at N, d, k: time per pick and the bytes one pick streams (features, Cholesky
 * rows, d^2) against the triad; then ScaLAPACK log-determinants of order 2000, 4000, ... against DGEMM. Collective. */
static PetscErrorCode bench_dpp(MPI_Comm comm, const wn_config *cfg, const wn_layout *layout, int64_t d, const float *X, double triad_gbs, wn_report *report)
{
  wn_dpp_params    p = {WN_DPP_RBF, 1.0 / (double)d, 0.0, 1e-10};
  wn_objective    *obj = NULL;
  wn_selection    *sel = NULL;
  wn_greedy_params gp;
  int64_t          k = cfg->bench_k, nl = layout->n_local;
  double           t, tmax, bytes, gbs, gbs_min, dg, dg_sum;
  PetscMPIInt      size;
  char             buf[32];

  PetscFunctionBeginUser;
  PetscCallMPI(MPI_Comm_size(comm, &size));
  bytes = wn_dpp_bytes(nl, layout->n_global, d, k, WN_DPP_RBF);
  PetscCallMPI(MPI_Allreduce(MPI_IN_PLACE, &bytes, 1, MPI_DOUBLE, MPI_MAX, comm));
  PetscCheck(bytes <= cfg->memory_limit, comm, PETSC_ERR_MEM, "the DPP benchmark needs %s per rank, more than -wn_memory_limit", wn_format_bytes(bytes, buf, sizeof(buf)));
  memset(&gp, 0, sizeof(gp));
  gp.kind              = WN_GREEDY_NAIVE;
  gp.budget            = k;
  gp.min_gain          = p.epsilon;
  gp.first_pick_free   = PETSC_TRUE;
  gp.progress_interval = cfg->progress_interval;
  PetscCall(wn_dpp_objective_create(layout, &p, d, X, NULL, NULL, NULL, k, &obj));
  PetscCallMPI(MPI_Barrier(comm));
  t = MPI_Wtime();
  PetscCall(wn_greedy_maximize(obj, &gp, &sel));
  t = MPI_Wtime() - t;
  PetscCallMPI(MPI_Allreduce(&t, &tmax, 1, MPI_DOUBLE, MPI_MAX, comm));
  /* per pick t (0-based) every local row streams its features (4 d), reads t Cholesky entries, writes one, and
   * reads and writes d^2: sum over the picks */
  bytes = (double)nl * ((double)sel->n * (4.0 * d + 8.0 + 16.0) + 8.0 * (double)sel->n * (double)(sel->n - 1) / 2.0);
  gbs   = bytes / t * 1e-9;
  PetscCall(PetscPrintf(comm, "\nDPP greedy MAP (rbf, N = %lld, d = %lld, k = %lld): %.3f s, %.3f ms per pick; %lld picks (%s)\n", (long long)layout->n_global, (long long)d, (long long)k, tmax,
                        1e3 * tmax / (double)(sel->n > 0 ? sel->n : 1), (long long)sel->n, sel->stop_reason));
  PetscCall(PetscPrintf(comm, "%-34s %12s %12s %8s\n", "measure (per rank)", "min", "max", "ratio"));
  PetscCall(bench_ratio(comm, report, "STREAM-style triad (GB/s)", "DPP update stream (GB/s)", triad_gbs, gbs, 0.5, "dpp_triad_gbs", "dpp_gbs", "dpp_vs_triad"));
  (void)gbs_min;
  PetscCall(wn_report_result(report, "dpp_s", "%.4f", tmax));
  PetscCall(wn_report_result(report, "dpp_ms_per_pick", "%.4f", 1e3 * tmax / (double)(sel->n > 0 ? sel->n : 1)));
  PetscCall(wn_selection_destroy(&sel));
  PetscCall(wn_objective_destroy(&obj));

  /* ScaLAPACK pdpotrf vs DGEMM: each rank's DGEMM rate at a 1024^3 shape, summed over the ranks (the machine's
   * aggregate DGEMM rate) */
  PetscCallMPI(MPI_Barrier(comm));
  PetscCall(wn_blas_dgemm_rate(1024, 1024, 1024, &dg));
  PetscCallMPI(MPI_Allreduce(&dg, &dg_sum, 1, MPI_DOUBLE, MPI_SUM, comm));
  PetscCall(PetscPrintf(comm, "\nScaLAPACK log det (pdpotrf, nb %lld) vs DGEMM (1024^3 per rank, %.2f GFLOP/s summed over %d ranks):\n", (long long)(cfg->dpp_nb ? cfg->dpp_nb : 64), dg_sum, size));
  PetscCall(PetscPrintf(comm, "%8s %6s %10s %10s %10s %8s %12s\n", "n", "grid", "redist(s)", "factor(s)", "GFLOP/s", "vs DGEMM", "MiB/rank"));
  for (int64_t n = 2000; n <= cfg->bench_logdet_max; n += 2000) {
    wn_logdet_opts   o = {(int)cfg->dpp_nb, 0, 0};
    wn_logdet_result r;
    PetscCall(wn_logdet_cholesky(comm, n, bench_spd_fill, &n, &o, &r));
    PetscCheck(r.info == 0, comm, PETSC_ERR_PLIB, "bench: the diagonally dominant matrix of order %lld was not positive definite (INFO %d)", (long long)n, r.info);
    PetscCall(PetscPrintf(comm, "%8lld %3dx%-2d %10.3f %10.3f %10.2f %8.3f %12.1f\n", (long long)n, r.nprow, r.npcol, r.seconds_redist, r.seconds_factor, r.gflops, r.gflops / dg_sum,
                          r.bytes_per_rank / 1048576.0));
    if (n + 2000 > cfg->bench_logdet_max) {
      PetscCall(wn_report_result(report, "logdet_n", "%lld", (long long)n));
      PetscCall(wn_report_result(report, "logdet_gflops", "%.2f", r.gflops));
      PetscCall(wn_report_result(report, "logdet_vs_dgemm", "%.3f", r.gflops / dg_sum));
    }
  }
  PetscCall(wn_report_result(report, "dgemm_gflops", "%.2f", dg_sum));
  PetscFunctionReturn(PETSC_SUCCESS);
}

/**
  @brief Run the benchmark and print ratios against sgemm and the triad, and one RESULT line.

  Collective on comm.
**/
PetscErrorCode wn_bench_run(MPI_Comm comm, const wn_config *cfg)
{
  wn_layout        layout;
  wn_kernel       *K = NULL;
  wn_objective    *obj = NULL;
  wn_selection    *sel = NULL;
  wn_kernel_params kp = cfg->kernel;
  wn_greedy_params gp;
  wn_report        report;
  float           *X, *Y;
  double          *gains;
  unsigned char   *none;
  int64_t          N = cfg->bench_n, M = cfg->bench_m, d = cfg->bench_d, nl;
  double           t, t_kernel = 1e30, t_pass = 1e30, t_e2e, sgemm_gflops, triad_gbs, kernel_gflops, pass_gbs, e2e;
  double           t_greedy, ev0[3], ev1[3], phase[6], phase_max[6];
  bench_count_ctx  counter;
  wn_objective    *counted = NULL;
  int64_t          evals_sum[2] = {0, 0}; /* over iterations after the first: sum of the slowest rank's count, sum of all ranks' */
  const char      *events[3] = {"wn_GreedyGain", "wn_GreedyReduce", "wn_GreedyUpdate"};
  PetscMPIInt      size;
  char             buf[32];

  PetscFunctionBeginUser;
  PetscCallMPI(MPI_Comm_size(comm, &size));
  PetscCall(wn_report_init(comm, &report));
  PetscCall(PetscLogDefaultBegin()); /* the greedy's events split its time into gains, reductions and updates */
  PetscCall(wn_layout_init(comm, N, &layout));
  nl = layout.n_local;
  {
    double need = (double)nl * (M + d) * 4.0 + (double)M * d * 4.0, need_max;
    PetscCallMPI(MPI_Allreduce(&need, &need_max, 1, MPI_DOUBLE, MPI_MAX, comm));
    PetscCall(PetscPrintf(comm, "bench: N=%lld M=%lld d=%lld k=%lld on %d ranks; memory %s per rank\n", (long long)N, (long long)M, (long long)d, (long long)cfg->bench_k, size, wn_format_bytes(need_max, buf, sizeof(buf))));
    PetscCheck(need_max <= cfg->memory_limit, comm, PETSC_ERR_ARG_OUTOFRANGE, "the benchmark needs %s per rank, more than -wn_memory_limit", wn_format_bytes(need_max, buf, sizeof(buf)));
  }
  PetscCall(PetscMalloc1((size_t)(nl > 0 ? nl : 1) * d, &X));
  PetscCall(PetscMalloc1((size_t)M * d, &Y));
  for (int64_t i = 0; i < nl; i++) bench_row(12345, layout.row_start + i, d, X + (size_t)i * d);
  for (int64_t t2 = 0; t2 < M; t2++) bench_row(12345, N + t2, d, Y + (size_t)t2 * d);

  /* the machine's limits, measured now, on every rank at once (shared memory bandwidth is split) */
  PetscCallMPI(MPI_Barrier(comm));
  PetscCall(wn_blas_sgemm_rate(nl > BENCH_SGEMM_ROWS_MAX ? BENCH_SGEMM_ROWS_MAX : (nl > 0 ? nl : 1), M, d, &sgemm_gflops));
  PetscCallMPI(MPI_Barrier(comm));
  {
    /* 3 arrays of 2^25 doubles (768 MiB), far beyond any cache; at most a quarter of the memory limit per rank, so
       that many ranks on one node (oversubscribed runs that count lazy evaluations) still fit */
    size_t n_triad = (size_t)1 << 25;
    while (n_triad > ((size_t)1 << 20) && 3.0 * 8.0 * (double)n_triad > 0.25 * cfg->memory_limit) n_triad >>= 1;
    PetscCall(wn_blas_triad_rate(n_triad, &triad_gbs));
  }

  /* kernel stage (tiles + epilogue), best of repeat */
  for (PetscInt r = 0; r < cfg->bench_repeat; r++) {
    PetscCall(wn_kernel_destroy(&K));
    PetscCallMPI(MPI_Barrier(comm));
    t = MPI_Wtime();
    PetscCall(wn_kernel_compute(&layout, d, X, M, Y, &kp, "targets", &K));
    t = MPI_Wtime() - t;
    if (t < t_kernel) t_kernel = t;
  }
  kernel_gflops = 2.0 * nl * M * d / t_kernel * 1e-9;

  /* one naive greedy pass over dense K, best of repeat */
  PetscCall(wn_facility_create(K, NULL, NULL, &obj));
  PetscCall(PetscCalloc1(nl + 1, &none));
  PetscCall(PetscMalloc1(nl + 1, &gains));
  for (PetscInt r = 0; r < cfg->bench_repeat; r++) {
    PetscCallMPI(MPI_Barrier(comm));
    t = MPI_Wtime();
    if (obj->gain_all) PetscCall(obj->gain_all(obj->ctx, none, gains));
    else
      for (int64_t i = 0; i < nl; i++) PetscCall(obj->gain(obj->ctx, i, &gains[i]));
    t = MPI_Wtime() - t;
    if (t < t_pass) t_pass = t;
  }
  pass_gbs = (double)nl * M * sizeof(float) / t_pass * 1e-9;
  PetscCall(wn_objective_destroy(&obj));
  PetscCall(wn_kernel_destroy(&K));

  /* facility location over targets, end to end: kernel + lazy greedy */
  PetscCallMPI(MPI_Barrier(comm));
  t = MPI_Wtime();
  PetscCall(wn_kernel_compute(&layout, d, X, M, Y, &kp, "targets", &K));
  PetscCall(wn_facility_create(K, NULL, NULL, &obj));
  memset(&gp, 0, sizeof(gp));
  gp.kind              = cfg->greedy; /* -wn_greedy: lazy unless asked */
  gp.budget            = cfg->bench_k;
  gp.min_gain          = -INFINITY;
  gp.progress_interval = cfg->progress_interval;
  for (int e = 0; e < 3; e++) PetscCall(bench_event_seconds(events[e], &ev0[e]));
  PetscCall(bench_count_wrap(obj, gp.budget, &counter, &counted));
  t_greedy = MPI_Wtime();
  PetscCall(wn_greedy_maximize(counted, &gp, &sel));
  t_greedy = MPI_Wtime() - t_greedy;
  t_e2e    = MPI_Wtime() - t;
  for (int e = 0; e < 3; e++) PetscCall(bench_event_seconds(events[e], &ev1[e]));
  PetscCallMPI(MPI_Allreduce(&t_e2e, &e2e, 1, MPI_DOUBLE, MPI_MAX, comm));
  /* per-phase times, slowest rank each: kernel stage (best of repeat), one naive pass, the greedy alone and its
   * gains / MAXLOC reductions (which include waiting for the slowest rank) / payload broadcasts and updates */
  phase[0] = t_kernel;
  phase[1] = t_pass;
  phase[2] = t_greedy;
  for (int e = 0; e < 3; e++) phase[3 + e] = ev1[e] - ev0[e];
  PetscCallMPI(MPI_Allreduce(phase, phase_max, 6, MPI_DOUBLE, MPI_MAX, comm));
  {
    /* load balance of the lazy evaluations: every iteration waits for the rank that evaluates most */
    int64_t  n_it = counter.n_iter < counter.cap ? counter.n_iter : counter.cap, *mx, *sm;
    PetscCall(PetscMalloc2((size_t)n_it + 1, &mx, (size_t)n_it + 1, &sm));
    PetscCallMPI(MPI_Allreduce(counter.per, mx, (PetscMPIInt)n_it, MPI_INT64_T, MPI_MAX, comm));
    PetscCallMPI(MPI_Allreduce(counter.per, sm, (PetscMPIInt)n_it, MPI_INT64_T, MPI_SUM, comm));
    for (int64_t it = 1; it < n_it; it++) {
      evals_sum[0] += mx[it];
      evals_sum[1] += sm[it];
    }
    PetscCall(PetscFree2(mx, sm));
  }
  PetscCall(PetscFree(counter.per));
  PetscCall(PetscFree(counted));

  PetscCall(PetscPrintf(comm, "\n%-34s %12s %12s %8s\n", "measure (per rank)", "min", "max", "ratio"));
  PetscCall(bench_ratio(comm, &report, "plain sgemm, same shape (GFLOP/s)", "kernel stage (GFLOP/s)", sgemm_gflops, kernel_gflops, 0.8, "sgemm_gflops", "kernel_gflops", "kernel_vs_sgemm"));
  PetscCall(bench_ratio(comm, &report, "STREAM-style triad (GB/s)", "naive greedy pass over K (GB/s)", triad_gbs, pass_gbs, 0.5, "triad_gbs", "pass_gbs", "pass_vs_triad"));
  PetscCall(PetscPrintf(comm, "\nfacility location over targets, end to end (kernel + %s greedy, k=%lld): %.3f s; %lld gain evaluations (naive: %lld)\n", wn_greedy_kind_names[gp.kind], (long long)cfg->bench_k, e2e, (long long)sel->evaluations,
                        (long long)(cfg->bench_k * N - cfg->bench_k * (cfg->bench_k - 1) / 2)));
  if (sel->n > 1)
    PetscCall(PetscPrintf(comm, "gain evaluations per iteration after the first: %.1f per rank on average, %.1f on the rank with the most (each iteration waits for it)\n", (double)evals_sum[1] / size / (double)(sel->n - 1),
                          (double)evals_sum[0] / (double)(sel->n - 1)));
  PetscCall(PetscPrintf(comm, "phases (slowest rank): kernel %.3f s, one naive pass %.3f s, greedy %.3f s = gains %.3f + reductions %.3f + broadcasts and updates %.3f (+ bookkeeping)\n", phase_max[0], phase_max[1], phase_max[2], phase_max[3], phase_max[4],
                        phase_max[5]));
  if (cfg->bench_tsds) {
    /* distributed exact kNN of the M targets (k = 100 and the TSDS default 5000), then TSDS end to end */
    wn_knn_result *knn = NULL;
    wn_tsds_result *tr = NULL;
    wn_tsds_params  tp = cfg->tsds;
    int64_t         ks[2] = {100, 5000}, n_picks = 0, *picks = NULL, *counts = NULL;
    double          t_knn, t_knn_max, sg, sg_min, t_tsds;
    for (int q = 0; q < 2; q++) {
      int64_t k = ks[q] < N ? ks[q] : N;
      PetscCallMPI(MPI_Barrier(comm));
      t = MPI_Wtime();
      PetscCall(wn_knn_search(&layout, d, X, NULL, 0, M, Y, k, WN_KNN_L2, &knn));
      t_knn = MPI_Wtime() - t;
      PetscCall(wn_knn_result_destroy(&knn));
      PetscCallMPI(MPI_Allreduce(&t_knn, &t_knn_max, 1, MPI_DOUBLE, MPI_MAX, comm));
      PetscCall(wn_blas_sgemm_rate(nl > BENCH_SGEMM_ROWS_MAX ? BENCH_SGEMM_ROWS_MAX : (nl > 0 ? nl : 1), M, d, &sg));
      PetscCallMPI(MPI_Allreduce(&sg, &sg_min, 1, MPI_DOUBLE, MPI_MIN, comm));
      /* the sgemm of the same shape on every rank takes 2 nl M d / rate */
      PetscCall(PetscPrintf(comm, "exact kNN, k = %5lld: %.3f s for %lld queries (%.1f us per query); a plain sgemm of the same shape takes %.3f s (ratio %.2f)\n", (long long)k, t_knn_max, (long long)M, 1e6 * t_knn_max / M,
                            2.0 * (double)nl * M * d / (sg_min * 1e9), t_knn_max / (2.0 * (double)nl * M * d / (sg_min * 1e9))));
      if (q == 0) PetscCall(wn_report_result(&report, "knn100_s", "%.4f", t_knn_max));
      if (q == 1) {
        PetscCall(wn_report_result(&report, "knn_s", "%.4f", t_knn_max));
        PetscCall(wn_report_result(&report, "knn_vs_sgemm", "%.3f", t_knn_max / (2.0 * (double)nl * M * d / (sg_min * 1e9))));
      }
    }
    tp.sample_size = cfg->bench_k;
    tp.seed        = 7;
    PetscCallMPI(MPI_Barrier(comm));
    t = MPI_Wtime();
    PetscCall(wn_tsds_probabilities(&layout, d, X, M, Y, &tp, &tr));
    PetscCall(wn_tsds_sample(&layout, tr, &tp, &n_picks, &picks, &counts));
    t = MPI_Wtime() - t;
    PetscCallMPI(MPI_Allreduce(&t, &t_tsds, 1, MPI_DOUBLE, MPI_MAX, comm));
    PetscCall(PetscPrintf(comm, "TSDS end to end (K = %lld, kde_K = %lld, %lld draws): %.3f s; %lld candidates carry mass\n", (long long)tr->K, (long long)tr->kde_K, (long long)tp.sample_size, t_tsds, (long long)tr->n_support));
    PetscCall(wn_report_result(&report, "tsds_s", "%.4f", t_tsds));
    PetscCall(wn_report_result(&report, "tsds_k", "%lld", (long long)tr->K));
    PetscCall(wn_report_result(&report, "tsds_kde_k", "%lld", (long long)tr->kde_K));
    PetscCall(wn_report_result(&report, "tsds_union", "%lld", (long long)tr->n_union));
    PetscCall(wn_report_result(&report, "tsds_density", "%lld", (long long)tr->n_density));
    PetscCall(wn_report_result(&report, "tsds_certified", "%lld", (long long)wn_tsds_stats_[2]));
    PetscCall(wn_report_result(&report, "tsds_searched", "%lld", (long long)wn_tsds_stats_[3]));
    PetscCall(wn_report_result(&report, "tsds_rounds", "%lld", (long long)wn_tsds_stats_[0]));
    PetscCall(wn_tsds_result_destroy(&tr));
    PetscCall(PetscFree(picks));
    PetscCall(PetscFree(counts));
  }
  if (cfg->bench_dpp) PetscCall(bench_dpp(comm, cfg, &layout, d, X, triad_gbs, &report));
  if (cfg->bench_comm) PetscCall(bench_comm(comm, &report));
  PetscCall(wn_report_result(&report, "command", "bench"));
  PetscCall(wn_report_result(&report, "ranks", "%d", size));
  PetscCall(wn_report_result(&report, "n", "%lld", (long long)N));
  PetscCall(wn_report_result(&report, "m", "%lld", (long long)M));
  PetscCall(wn_report_result(&report, "d", "%lld", (long long)d));
  PetscCall(wn_report_result(&report, "k", "%lld", (long long)cfg->bench_k));
  PetscCall(wn_report_result(&report, "e2e_s", "%.4f", e2e));
  PetscCall(wn_report_result(&report, "kernel_s", "%.4f", phase_max[0]));
  PetscCall(wn_report_result(&report, "pass_s", "%.4f", phase_max[1]));
  PetscCall(wn_report_result(&report, "greedy_s", "%.4f", phase_max[2]));
  PetscCall(wn_report_result(&report, "greedy_gain_s", "%.4f", phase_max[3]));
  PetscCall(wn_report_result(&report, "greedy_reduce_s", "%.4f", phase_max[4]));
  PetscCall(wn_report_result(&report, "greedy_update_s", "%.4f", phase_max[5]));
  PetscCall(wn_report_result(&report, "greedy", "%s", wn_greedy_kind_names[gp.kind]));
  PetscCall(wn_report_result(&report, "picks", "%lld", (long long)sel->n));
  PetscCall(wn_report_result(&report, "evaluations", "%lld", (long long)sel->evaluations));
  PetscCall(wn_report_result(&report, "evals_iter_max", "%lld", (long long)evals_sum[0]));
  PetscCall(wn_report_result(&report, "evals_iter_sum", "%lld", (long long)evals_sum[1]));
  {
    char sum[17];
    wn_selection_checksum(sel->index, sel->n, sum);
    PetscCall(wn_report_result(&report, "checksum", "%s", sum));
  }
  PetscCall(wn_report_result(&report, "blas_core", "%s", wn_blas_core()));
  PetscCall(PetscPrintf(comm, "\nRESULT %s\n", report.result));
  PetscCall(wn_selection_destroy(&sel));
  PetscCall(wn_objective_destroy(&obj));
  PetscCall(wn_kernel_destroy(&K));
  PetscCall(PetscFree(none));
  PetscCall(PetscFree(gains));
  PetscCall(PetscFree(X));
  PetscCall(PetscFree(Y));
  PetscFunctionReturn(PETSC_SUCCESS);
}
