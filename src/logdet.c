/* logdet.c - log-determinants of symmetric positive definite matrices by Cholesky factorisation
 * (issue 5; DESIGN.md section 5: log det(L_Y) to verify the DPP greedy, log det(L + I) to normalise).
 *
 * Owns: the BLACS grids over every rank of the caller's communicator (STACK.md section 4(c), gotchas
 * G4-G8), the source layout (the "ceil" row-block split rank r = [r*mb1, min(n, (r+1)*mb1)) with
 * mb1 = ceil(n/P) on a P x 1 grid: the only row-block split a descriptor can express, G4), the copy of
 * the caller's row-major rows into the column-major source array (G5), the redistribution to the
 * nb x nb block-cyclic layout on the near-square nprow x npcol grid (Cpdgemr2d), pdpotrf, the walk
 * over the factor's diagonal, the memory estimate, the timings and the serial LAPACK reference.
 * Leaves to the caller: what the matrix is (the fill callback produces rows on demand) and what to do
 * with a matrix that is not positive definite (res->info > 0 is returned, not raised).
 *
 * Determinism: log det = 2 sum_g log L_gg is summed in the global order g = 0..n-1 on every rank
 * from the same diagonal (each entry is contributed by its one owner, so the reduction is exact), the
 * way the serial reference sums it. The factor itself depends on the grid and block size only
 * through rounding.
 *
 * Everything that can fail on one rank only (allocation, the fill callback, a NaN or Inf entry) happens
 * before the first BLACS call and is agreed over the communicator, so no rank is left waiting.
 */
#include <limits.h>
#include <math.h>
#include <stddef.h>
#include <string.h>
#include <winnow/logdet.h>

/* ---- BLACS / ScaLAPACK / LAPACK prototypes ------------------------------------------------------
 * libscalapack-openmpi installs no header (STACK.md G7). The C BLACS and Cpdgemr2d take ints by value
 * and 1-based (ia, ja); the Fortran routines take every argument by address and, in gfortran's ABI, one
 * trailing hidden length per CHARACTER argument, which we pass. ScaLAPACK's integers are 32-bit here. */
extern int  Csys2blacs_handle(MPI_Comm comm);
extern void Cfree_blacs_system_handle(int handle);
extern void Cblacs_gridinit(int *context, const char *order, int nprow, int npcol);
extern void Cblacs_gridinfo(int context, int *nprow, int *npcol, int *myrow, int *mycol);
extern void Cblacs_gridexit(int context);
extern void Cpdgemr2d(int m, int n, double *a, int ia, int ja, int *desca, double *b, int ib, int jb, int *descb, int gcontext);
extern void descinit_(int *desc, const int *m, const int *n, const int *mb, const int *nb, const int *irsrc, const int *icsrc,
                      const int *context, const int *lld, int *info);
extern void pdpotrf_(const char *uplo, const int *n, double *a, const int *ia, const int *ja, const int *desca, int *info,
                     size_t uplo_len);
extern void dpotrf_(const char *uplo, const int *n, double *a, const int *lda, int *info, size_t uplo_len);

#define LOGDET_DEFAULT_NB    64
#define LOGDET_FILL_DOUBLES  65536 /* rows per fill call: as many as fit in 512 KiB, at least one */
#define LOGDET_COPY_TILE     64    /* columns per tile of the row-major -> column-major copy */
#define LOGDET_DESC_LEN      9

/* ---- PETSc log events (registered once, lazily) ----------------------------------------------- */

static PetscBool     logdet_events_registered = PETSC_FALSE;
static PetscLogEvent logdet_event_redist, logdet_event_factor;

/**
  @brief Register the PETSc log events WnLogdetRedist and WnLogdetFactor (once).

  Not collective (PETSc registers events per process; every rank calls this at the same point).
**/
static PetscErrorCode logdet_register_events(void)
{
  PetscClassId classid;

  PetscFunctionBeginUser;
  if (logdet_events_registered) PetscFunctionReturn(PETSC_SUCCESS);
  PetscCall(PetscClassIdRegister("winnow logdet", &classid));
  PetscCall(PetscLogEventRegister("WnLogdetRedist", classid, &logdet_event_redist));
  PetscCall(PetscLogEventRegister("WnLogdetFactor", classid, &logdet_event_factor));
  logdet_events_registered = PETSC_TRUE;
  PetscFunctionReturn(PETSC_SUCCESS);
}

/* ---- pure layout arithmetic (shared by wn_logdet_bytes and wn_logdet_cholesky) ----------------- */

/* The sizes one rank allocates. */
typedef struct {
  int64_t rows_src;   /* rows of the source block (ceil split), may be 0 */
  int64_t lld_src;    /* leading dimension of the column-major source block, >= 1 (G6) */
  int64_t rows_cyc;   /* local rows of the block-cyclic matrix */
  int64_t cols_cyc;   /* local columns of the block-cyclic matrix */
  int64_t lld_cyc;    /* its leading dimension, >= 1 */
  size_t  count_src;  /* doubles allocated for the source block (>= 1 so every rank has a valid pointer) */
  size_t  count_cyc;  /* doubles allocated for the block-cyclic local matrix (>= 1) */
} logdet_local;

/**
  @brief ScaLAPACK's NUMROC with the source process 0: how many of the n rows (or columns), dealt out in
  blocks of nb over nprocs processes, process iproc owns.

  Not collective; pure.
**/
static int64_t logdet_numroc(int64_t n, int64_t nb, int64_t iproc, int64_t nprocs)
{
  int64_t nblocks = n / nb, count = (nblocks / nprocs) * nb, extra = nblocks % nprocs;

  if (iproc < extra) count += nb;
  else if (iproc == extra) count += n % nb;
  return count;
}

/**
  @brief Resolve the block size and the process grid from opts, as wn_logdet_cholesky uses them.

  Not collective; pure. nb: opts->nb, or 64 when <= 0, capped at max(1, n). Grid: 0 x 0 gives the
  near-square grid nprow <= npcol with nprow the largest divisor of size not above sqrt(size)
  (1x1, 1x2, 1x3, 2x2, 2x3, ...); otherwise both must be positive and multiply to size.

  @param[in]  n      matrix order, >= 0
  @param[in]  size   number of ranks, >= 1
  @param[in]  opts   options (borrowed), NULL for the defaults
  @param[out] nb     block size
  @param[out] nprow  grid rows
  @param[out] npcol  grid columns
  @return PETSC_TRUE when the grid is valid for size ranks
**/
static PetscBool logdet_resolve(int64_t n, int size, const wn_logdet_opts *opts, int *nb, int *nprow, int *npcol)
{
  int64_t block = (opts && opts->nb > 0) ? opts->nb : LOGDET_DEFAULT_NB;
  int64_t cap   = n > 1 ? n : 1;

  *nb = (int)(block < cap ? block : cap);
  if (!opts || (opts->nprow == 0 && opts->npcol == 0)) {
    int p = 1;
    while ((int64_t)(p + 1) * (p + 1) <= size) p++;
    while (size % p) p--;
    *nprow = p;
    *npcol = size / p;
    return size >= 1 ? PETSC_TRUE : PETSC_FALSE;
  }
  *nprow = opts->nprow;
  *npcol = opts->npcol;
  return (opts->nprow > 0 && opts->npcol > 0 && (int64_t)opts->nprow * opts->npcol == size) ? PETSC_TRUE : PETSC_FALSE;
}

/**
  @brief The local sizes of one rank: its source rows (ceil split, P x 1 grid) and its part of the
  nb x nb block-cyclic matrix on the nprow x npcol grid ("Row" order: rank = prow * npcol + pcol).

  Not collective; pure. These are the formulas wn_logdet_cholesky allocates with.

  @param[in]  n       matrix order, >= 1
  @param[in]  size    number of ranks
  @param[in]  rank    the rank
  @param[in]  nb      block size
  @param[in]  nprow   grid rows
  @param[in]  npcol   grid columns
  @param[out] local   its sizes
**/
static void logdet_local_sizes(int64_t n, int size, int rank, int nb, int nprow, int npcol, logdet_local *local)
{
  int64_t mb_src = (n + size - 1) / size, prow = rank / npcol, pcol = rank % npcol;

  local->rows_src  = logdet_numroc(n, mb_src, rank, size);
  local->lld_src   = local->rows_src > 1 ? local->rows_src : 1;
  local->rows_cyc  = logdet_numroc(n, nb, prow, nprow);
  local->cols_cyc  = logdet_numroc(n, nb, pcol, npcol);
  local->lld_cyc   = local->rows_cyc > 1 ? local->rows_cyc : 1;
  local->count_src = (size_t)(local->rows_src * n);
  local->count_cyc = (size_t)(local->rows_cyc * local->cols_cyc);
  if (local->count_src < 1) local->count_src = 1;
  if (local->count_cyc < 1) local->count_cyc = 1;
}

/**
  @brief Bytes per rank (the largest rank) that wn_logdet_cholesky allocates for an n x n matrix:
  the source block (ceil(n/size) x n doubles on rank 0) plus the block-cyclic local matrix
  (numroc rows x numroc columns doubles), each at least one double.

  Not collective; pure (no MPI). Not counted: the fill buffer of at most max(n, 65536) doubles and the
  n doubles of the diagonal, both smaller than the source block of rank 0.

  @param[in] n     matrix order
  @param[in] size  number of ranks
  @param[in] opts  options (borrowed), NULL for the defaults
  @return the bytes; 0 for n == 0; -1 when the arguments are invalid (n < 0, n > INT_MAX, size < 1, or a
          grid that does not multiply to size), which wn_logdet_cholesky refuses
**/
double wn_logdet_bytes(int64_t n, int size, const wn_logdet_opts *opts)
{
  int    nb, nprow, npcol;
  double most = 0;

  if (n < 0 || n > INT_MAX || size < 1) return -1;
  if (!logdet_resolve(n, size, opts, &nb, &nprow, &npcol)) return -1;
  if (n == 0) return 0;
  for (int r = 0; r < size; r++) {
    logdet_local local;
    double       bytes;

    logdet_local_sizes(n, size, r, nb, nprow, npcol, &local);
    bytes = (double)sizeof(double) * ((double)local.count_src + (double)local.count_cyc);
    if (bytes > most) most = bytes;
  }
  return most;
}

/* ---- the distributed factorisation --------------------------------------------------------------- */

/**
  @brief Fill this rank's source rows through the callback, in consecutive chunks of bounded size, and
  copy them (transposed) into the column-major source block; stop at the first failure.

  Not collective: no collective is called, whatever happens, so the caller can agree on the outcome.

  @param[in]  fill     the caller's row producer
  @param[in]  ctx      its context (borrowed)
  @param[in]  n        matrix order
  @param[in]  row0     first global row of this rank
  @param[in]  rows     number of rows of this rank (may be 0)
  @param[in]  lld      leading dimension of a
  @param[out] a        column-major rows x n source block, a[i + j*lld] = A(row0 + i, j)
  @param[out] code     0, or the failure's PETSc error code
  @param[out] message  the failure's message (size len)
  @param[in]  len      size of message
**/
static void logdet_fill_source(wn_logdet_fill fill, void *ctx, int64_t n, int64_t row0, int64_t rows, int64_t lld, double *a,
                               PetscErrorCode *code, char *message, size_t len)
{
  int64_t         chunk = LOGDET_FILL_DOUBLES / n;
  double         *buf   = NULL;
  PetscErrorCode  ierr;

  *code = 0;
  if (rows == 0) return;
  if (chunk < 1) chunk = 1;
  if (chunk > rows) chunk = rows;
  ierr = PetscMalloc1((size_t)(chunk * n), &buf);
  if (ierr) {
    *code = PETSC_ERR_MEM;
    (void)PetscSNPrintf(message, len, "logdet: cannot allocate the fill buffer (%lld x %lld doubles)", (long long)chunk, (long long)n);
    return;
  }
  for (int64_t r = 0; r < rows; r += chunk) {
    int64_t c = rows - r < chunk ? rows - r : chunk;

    ierr = fill(ctx, row0 + r, row0 + r + c, buf);
    if (ierr) {
      const char *text = NULL;
      char       *specific = NULL;

      (void)PetscErrorMessage(ierr, &text, &specific);
      *code = ierr;
      (void)PetscSNPrintf(message, len, "logdet: the fill callback failed on rows [%lld, %lld) of the %lld x %lld matrix (error %d: %s)",
                    (long long)(row0 + r), (long long)(row0 + r + c), (long long)n, (long long)n, (int)ierr,
                    specific && specific[0] ? specific : (text ? text : "no message"));
      break;
    }
    for (int64_t i = 0; i < c; i++) {
      for (int64_t j = 0; j < n; j++)
        if (!isfinite(buf[i * n + j])) {
          *code = PETSC_ERR_FP;
          (void)PetscSNPrintf(message, len, "logdet: row %lld of the %lld x %lld matrix has a NaN or Inf value at column %lld (%g)",
                        (long long)(row0 + r + i), (long long)n, (long long)n, (long long)j, buf[i * n + j]);
          break;
        }
      if (*code) break;
    }
    if (*code) break;
    /* G5: ScaLAPACK is column-major. Tiles of columns keep both the reads and the writes in cache. */
    for (int64_t j0 = 0; j0 < n; j0 += LOGDET_COPY_TILE) {
      int64_t j1 = j0 + LOGDET_COPY_TILE < n ? j0 + LOGDET_COPY_TILE : n;
      for (int64_t i = 0; i < c; i++) {
        const double *src = buf + i * n;
        double       *dst = a + (r + i);
        for (int64_t j = j0; j < j1; j++) dst[j * lld] = src[j];
      }
    }
  }
  (void)PetscFree(buf);
}

/**
  @brief log det A of the n x n symmetric positive definite matrix produced by fill, with ScaLAPACK's
  pdpotrf on a BLACS grid over all ranks of comm: log det A = 2 sum_g log L_gg for A = L L^T.

  Collective on comm: every rank passes the same n and opts (checked). Steps: the ceil row-block source
  layout on a P x 1 grid (rank r fills rows [r*mb1, min(n, (r+1)*mb1)), mb1 = ceil(n/P)), Cpdgemr2d to
  nb x nb block-cyclic on the nprow x npcol grid, pdpotrf("L"), the diagonal, one exact reduction.
  A matrix that is not positive definite is not an error: res->info > 0 (the order of the first leading
  minor that is not, as LAPACK's and ScaLAPACK's INFO) and res->logdet = NaN. Errors: arguments that
  differ between ranks, n < 0 or n > INT_MAX, a grid that does not match the ranks, a failing fill
  callback or a NaN/Inf entry on any rank (every rank fails together, rank 0 prints).

  @param[in]  comm  communicator of the ranks that hold the grid (borrowed; PETSC_COMM_WORLD or a
                    duplicate or a sub-communicator)
  @param[in]  n     matrix order, same on every rank; 0 gives log det 0
  @param[in]  fill  row producer, called for this rank's rows only (borrowed); may be NULL when n == 0
  @param[in]  ctx   its context (borrowed)
  @param[in]  opts  block size and grid (borrowed), NULL for the defaults
  @param[out] res   the result, identical on every rank
**/
PetscErrorCode wn_logdet_cholesky(MPI_Comm comm, int64_t n, wn_logdet_fill fill, void *ctx, const wn_logdet_opts *opts,
                                  wn_logdet_result *res)
{
  static const char *field[] = {"matrix order n", "block size nb", "grid rows nprow", "grid columns npcol", "fill callback (NULL or not)",
                                "result pointer (NULL or not)"};
  PetscMPIInt        rank, size;
  int64_t            mine[12], agreed[12];
  int                nb, nprow, npcol, ni, info = 0, myrow_src, mycol_src, myrow, mycol, p, q;
  int                desc_src[LOGDET_DESC_LEN], desc_cyc[LOGDET_DESC_LEN], info_src = 0, info_cyc = 0, zero = 0, one = 1;
  int                handle, context_src, context_cyc, reduced_info[4];
  int64_t            mb_src, row0;
  logdet_local       local;
  double            *a_src = NULL, *a_cyc = NULL, *diag = NULL, times[4], tmax[4], t0, t_fill, t_redist, t_factor;
  PetscErrorCode     code = 0, agreed_code = 0, ierr;
  char               message[1024] = "";
  PetscBool          ok, grid_ok;

  PetscFunctionBeginUser;
  PetscCall(logdet_register_events());
  PetscCallMPI(MPI_Comm_rank(comm, &rank));
  PetscCallMPI(MPI_Comm_size(comm, &size));

  /* Agree on the arguments before anything can fail on one rank only (one reduction: min of v and of -v). */
  mine[0] = n;
  mine[1] = opts ? opts->nb : 0;
  mine[2] = opts ? opts->nprow : 0;
  mine[3] = opts ? opts->npcol : 0;
  mine[4] = fill ? 1 : 0;
  mine[5] = res ? 1 : 0;
  for (int k = 0; k < 6; k++) mine[6 + k] = -mine[k];
  PetscCallMPI(MPI_Allreduce(mine, agreed, 12, MPI_INT64_T, MPI_MIN, comm));
  PetscCheck(agreed[5] == 1, comm, PETSC_ERR_ARG_NULL, "logdet: the result pointer res is NULL on some rank");
  for (int k = 0; k < 5; k++)
    PetscCheck(agreed[k] == -agreed[6 + k], comm, PETSC_ERR_ARG_INCOMP, "logdet: the %s differs between ranks (%lld to %lld)", field[k],
               (long long)agreed[k], (long long)-agreed[6 + k]);
  PetscCheck(n >= 0, comm, PETSC_ERR_ARG_OUTOFRANGE, "logdet: matrix order n = %lld; expected n >= 0", (long long)n);
  PetscCheck(n <= INT_MAX, comm, PETSC_ERR_ARG_OUTOFRANGE, "logdet: matrix order n = %lld does not fit ScaLAPACK's 32-bit integers (at most %d)",
             (long long)n, INT_MAX);
  PetscCheck(n == 0 || fill, comm, PETSC_ERR_ARG_NULL, "logdet: the fill callback is NULL for a %lld x %lld matrix", (long long)n, (long long)n);
  grid_ok = logdet_resolve(n, size, opts, &nb, &nprow, &npcol);
  PetscCheck(grid_ok, comm, PETSC_ERR_ARG_INCOMP,
             "logdet: process grid %d x %d does not match the %d ranks of the communicator (nprow * npcol must equal %d; 0 x 0 picks a near-square grid)",
             nprow, npcol, (int)size, (int)size);

  PetscCall(PetscMemzero(res, sizeof(*res)));
  res->nprow = nprow;
  res->npcol = npcol;
  res->nb    = nb;
  if (n == 0) PetscFunctionReturn(PETSC_SUCCESS); /* log det of the empty matrix: 0, no BLACS needed */

  /* Source block and block-cyclic matrix, allocated together (they coexist during Cpdgemr2d anyway), then
     the fill; any local failure is agreed before the first BLACS call. */
  ni     = (int)n;
  mb_src = (n + size - 1) / size;
  row0   = (int64_t)rank * mb_src;
  logdet_local_sizes(n, size, rank, nb, nprow, npcol, &local);
  t0 = MPI_Wtime();
  if (PetscMalloc1(local.count_src, &a_src) || PetscMalloc1(local.count_cyc, &a_cyc)) {
    code = PETSC_ERR_MEM;
    PetscCall(PetscSNPrintf(message, sizeof(message), "logdet: cannot allocate %.3g MB on rank %d for a %lld x %lld matrix",
                            (double)sizeof(double) * ((double)local.count_src + (double)local.count_cyc) / 1e6, (int)rank, (long long)n,
                            (long long)n));
  } else logdet_fill_source(fill, ctx, n, row0, local.rows_src, local.lld_src, a_src, &code, message, sizeof(message));
  t_fill = MPI_Wtime() - t0;
  PetscCallMPI(MPI_Allreduce(&code, &agreed_code, 1, MPI_INT, MPI_MAX, comm));
  if (agreed_code) {
    PetscCall(PetscFree(a_src));
    PetscCall(PetscFree(a_cyc));
    PetscCall(wn_error_agree(comm, code ? PETSC_TRUE : PETSC_FALSE, agreed_code, message));
  }

  /* The two grids over the same system handle; Cblacs_gridinit overwrites its argument (STACK.md (c)). */
  handle      = Csys2blacs_handle(comm);
  context_src = handle;
  context_cyc = handle;
  Cblacs_gridinit(&context_src, "Row", (int)size, 1);
  Cblacs_gridinit(&context_cyc, "Row", nprow, npcol);
  Cblacs_gridinfo(context_src, &p, &q, &myrow_src, &mycol_src);
  ok = (p == size && q == 1 && myrow_src == rank && mycol_src == 0) ? PETSC_TRUE : PETSC_FALSE;
  Cblacs_gridinfo(context_cyc, &p, &q, &myrow, &mycol);
  ok = (ok && p == nprow && q == npcol && myrow == rank / npcol && mycol == rank % npcol) ? PETSC_TRUE : PETSC_FALSE;
  if (ok) {
    int mb_src_i = (int)mb_src, lld_src = (int)local.lld_src, lld_cyc = (int)local.lld_cyc;

    descinit_(desc_src, &ni, &ni, &mb_src_i, &ni, &zero, &zero, &context_src, &lld_src, &info_src);
    descinit_(desc_cyc, &ni, &ni, &nb, &nb, &zero, &zero, &context_cyc, &lld_cyc, &info_cyc);
    if (info_src || info_cyc) ok = PETSC_FALSE;
  }
  PetscCallMPI(MPI_Allreduce(MPI_IN_PLACE, &ok, 1, MPIU_BOOL, MPI_LAND, comm));
  if (!ok) {
    Cblacs_gridexit(context_src);
    Cblacs_gridexit(context_cyc);
    Cfree_blacs_system_handle(handle);
    PetscCall(PetscFree(a_src));
    PetscCall(PetscFree(a_cyc));
    SETERRQ(comm, PETSC_ERR_PLIB,
            "logdet: BLACS grid or descriptor setup failed for n = %d, grid %d x %d, nb %d (rank %d at (%d, %d); descinit info %d and %d)", ni,
            nprow, npcol, nb, (int)rank, myrow, mycol, info_src, info_cyc);
  }

  /* Redistribution: the gcontext (the P x 1 grid) spans every process of both grids. */
  PetscCallMPI(MPI_Barrier(comm));
  PetscCall(PetscLogEventBegin(logdet_event_redist, 0, 0, 0, 0));
  t0 = MPI_Wtime();
  Cpdgemr2d(ni, ni, a_src, 1, 1, desc_src, a_cyc, 1, 1, desc_cyc, context_src);
  t_redist = MPI_Wtime() - t0;
  PetscCall(PetscLogEventEnd(logdet_event_redist, 0, 0, 0, 0));
  PetscCall(PetscFree(a_src)); /* the peak has passed */

  PetscCallMPI(MPI_Barrier(comm));
  PetscCall(PetscLogEventBegin(logdet_event_factor, 0, 0, 0, 0));
  t0 = MPI_Wtime();
  pdpotrf_("L", &ni, a_cyc, &one, &one, desc_cyc, &info, 1);
  t_factor = MPI_Wtime() - t0;
  PetscCall(PetscLogFlops((double)n * (double)n * (double)n / 3.0 / size)); /* an even share of n^3/3, for -log_view */
  PetscCall(PetscLogEventEnd(logdet_event_factor, 0, 0, 0, 0));

  /* pdpotrf broadcasts INFO over the grid (pdpotf2), so it is global; reduce anyway: the smallest positive
     INFO, the smallest INFO (a negative one is our bug), minus the largest (to notice disagreement), and
     whether the diagonal's buffer was allocated. */
  ierr            = PetscCalloc1((size_t)n, &diag);
  reduced_info[0] = info > 0 ? info : INT_MAX;
  reduced_info[1] = info;
  reduced_info[2] = -info;
  reduced_info[3] = ierr ? 0 : 1;
  PetscCallMPI(MPI_Allreduce(MPI_IN_PLACE, reduced_info, 4, MPI_INT, MPI_MIN, comm));
  if (reduced_info[1] < 0 || reduced_info[3] == 0) {
    Cblacs_gridexit(context_src);
    Cblacs_gridexit(context_cyc);
    Cfree_blacs_system_handle(handle);
    PetscCall(PetscFree(a_cyc));
    PetscCall(PetscFree(diag));
    PetscCheck(reduced_info[3], comm, PETSC_ERR_MEM, "logdet: cannot allocate the %lld doubles of the diagonal on some rank", (long long)n);
    SETERRQ(comm, PETSC_ERR_PLIB, "logdet: ScaLAPACK pdpotrf: argument %d had an illegal value (INFO = %d; n %d, grid %d x %d, nb %d)",
            -reduced_info[1] >= 100 ? -reduced_info[1] / 100 : -reduced_info[1], reduced_info[1], ni, nprow, npcol, nb);
  }
  if (reduced_info[1] != -reduced_info[2])
    PetscCall(PetscInfo(NULL, "logdet: pdpotrf INFO differed between ranks (%d to %d); using the smallest positive\n", reduced_info[1],
                        -reduced_info[2]));
  info      = reduced_info[0] == INT_MAX ? 0 : reduced_info[0];
  res->info = info;
  if (info == 0) {
    double sum = 0;

    /* Owner of global diagonal entry g: process ((g/nb) % nprow, (g/nb) % npcol), local index
       ((g/(nb*nprow))*nb + g%nb, (g/(nb*npcol))*nb + g%nb). Only the owner writes diag[g], so the sum
       over ranks is exact and every rank adds the same values in the same order. */
    for (int64_t g = 0; g < n; g++) {
      int64_t blk = g / nb;
      if (blk % nprow == myrow && blk % npcol == mycol) {
        int64_t li = (g / ((int64_t)nb * nprow)) * nb + g % nb, lj = (g / ((int64_t)nb * npcol)) * nb + g % nb;
        diag[g] = log(a_cyc[li + lj * local.lld_cyc]);
      }
    }
    PetscCallMPI(MPI_Allreduce(MPI_IN_PLACE, diag, (PetscMPIInt)n, MPI_DOUBLE, MPI_SUM, comm));
    for (int64_t g = 0; g < n; g++) sum += diag[g];
    res->logdet = 2 * sum;
  } else res->logdet = NAN;

  Cblacs_gridexit(context_src);
  Cblacs_gridexit(context_cyc);
  Cfree_blacs_system_handle(handle);
  PetscCall(PetscFree(a_cyc));
  PetscCall(PetscFree(diag));

  times[0] = t_fill;
  times[1] = t_redist;
  times[2] = t_factor;
  times[3] = (double)sizeof(double) * ((double)local.count_src + (double)local.count_cyc);
  PetscCallMPI(MPI_Allreduce(times, tmax, 4, MPI_DOUBLE, MPI_MAX, comm));
  res->seconds_fill   = tmax[0];
  res->seconds_redist = tmax[1];
  res->seconds_factor = tmax[2];
  res->bytes_per_rank = tmax[3];
  res->gflops         = tmax[2] > 0 ? ((double)n * (double)n * (double)n / 3.0) / tmax[2] / 1e9 : 0;
  if (rank == 0)
    PetscCall(PetscInfo(NULL, "logdet: n %d grid %d x %d nb %d info %d: fill %.3g s, redist %.3g s, factor %.3g s (%.3g GFLOP/s), %.3g MB per rank\n", ni,
                      nprow, npcol, nb, info, res->seconds_fill, res->seconds_redist, res->seconds_factor, res->gflops, res->bytes_per_rank / 1e6));
  PetscFunctionReturn(PETSC_SUCCESS);
}

/* ---- the serial reference ------------------------------------------------------------------------- */

/**
  @brief log det of the n x n symmetric matrix a with LAPACK's dpotrf: 2 sum_i log L_ii, summed in the
  order i = 0..n-1 (as wn_logdet_cholesky sums its diagonal).

  Not collective. a is read as column-major "L" (its lower triangle; for a row-major array that is the
  upper triangle) and overwritten by the factor.

  @param[in]     n       matrix order, 0 <= n <= INT_MAX
  @param[in,out] a       n x n array (borrowed); may be NULL when n == 0
  @param[out]    logdet  log det a (natural log); NaN when *info != 0
  @param[out]    info    LAPACK's INFO: 0, or k > 0 when the leading minor of order k is not positive definite
**/
PetscErrorCode wn_logdet_lapack(int64_t n, double *a, double *logdet, int *info)
{
  int    ni, lda, linfo = 0;
  double sum = 0;

  PetscFunctionBeginUser;
  PetscCheck(logdet && info, PETSC_COMM_SELF, PETSC_ERR_ARG_NULL, "logdet: output pointer logdet or info is NULL");
  PetscCheck(n >= 0 && n <= INT_MAX, PETSC_COMM_SELF, PETSC_ERR_ARG_OUTOFRANGE,
             "logdet: matrix order n = %lld; expected 0 <= n <= %d (LAPACK's 32-bit integers)", (long long)n, INT_MAX);
  PetscCheck(n == 0 || a, PETSC_COMM_SELF, PETSC_ERR_ARG_NULL, "logdet: the %lld x %lld matrix a is NULL", (long long)n, (long long)n);
  *info   = 0;
  *logdet = 0;
  if (n == 0) PetscFunctionReturn(PETSC_SUCCESS);
  ni  = (int)n;
  lda = ni;
  dpotrf_("L", &ni, a, &lda, &linfo, 1);
  PetscCheck(linfo >= 0, PETSC_COMM_SELF, PETSC_ERR_PLIB, "logdet: LAPACK dpotrf: argument %d had an illegal value", -linfo);
  *info = linfo;
  if (linfo > 0) {
    *logdet = NAN;
    PetscFunctionReturn(PETSC_SUCCESS);
  }
  for (int64_t i = 0; i < n; i++) sum += log(a[i * (n + 1)]);
  *logdet = 2 * sum;
  PetscFunctionReturn(PETSC_SUCCESS);
}
