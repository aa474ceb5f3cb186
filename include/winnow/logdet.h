/* logdet.h - log-determinants of symmetric positive definite matrices by Cholesky factorisation:
 * distributed (ScaLAPACK pdpotrf on a BLACS grid over every rank of the communicator) and serial
 * (LAPACK dpotrf, the reference the tests compare against).
 *
 * Owns: the BLACS grid (near-square, over all ranks), the source layout (the "ceil" row-block split that
 * a ScaLAPACK descriptor can express, STACK.md G4), the redistribution to 2-D block-cyclic (Cpdgemr2d),
 * the factorisation, the diagonal walk, the memory estimate and the timing.
 * Leaves to the caller: what the matrix is (a fill callback produces rows on demand), and what to say
 * when the matrix is not positive definite (res->info > 0 is returned, not raised).
 *
 * Used by the DPP (DESIGN.md section 5): log det(L_Y) of a greedy selection, verified against the greedy's
 * incremental value the way HPL checks its residual; log det(L + I) for normalised DPP log-probabilities.
 */
#pragma once

#include <stdint.h>
#include <winnow/error.h>

/* Produce rows [r0, r1) of the symmetric n x n matrix (global 0-based row indices, all n columns),
 * row-major, into out[(r - r0) * n + c]. Called on each rank for the rows of its source block only
 * (possibly in several calls of consecutive row ranges; r0 == r1 never happens). Not collective: it must
 * not call collectives. Return an error to abort (every rank then fails together). */
typedef PetscErrorCode (*wn_logdet_fill)(void *ctx, int64_t r0, int64_t r1, double *out);

typedef struct {
  int nb;    /* block size of the block-cyclic layout; <= 0: 64 (capped at n) */
  int nprow; /* grid rows; 0 (with npcol 0): near-square, nprow <= npcol, nprow*npcol = ranks (1x1,1x2,1x3,2x2,...) */
  int npcol; /* grid columns; nprow * npcol must equal the communicator size */
} wn_logdet_opts;

typedef struct {
  double  logdet;         /* log det A (natural log) = 2 sum log diag(chol(A)); NaN when info != 0 */
  int     info;           /* 0 success; k > 0: the leading minor of order k is not positive definite */
  int     nprow, npcol;   /* grid used */
  int     nb;             /* block size used */
  double  seconds_fill;   /* fill callback + source copy, max over ranks */
  double  seconds_redist; /* Cpdgemr2d, max over ranks */
  double  seconds_factor; /* pdpotrf, max over ranks */
  double  gflops;         /* n^3/3 flops / seconds_factor / 1e9 */
  double  bytes_per_rank; /* peak bytes allocated per rank (max over ranks): source block + block-cyclic local matrix */
} wn_logdet_result;

/* Bytes per rank (largest rank) that wn_logdet_cholesky allocates for an n x n matrix on size ranks with
 * opts (NULL: defaults). Not collective; pure. */
PETSC_EXTERN double wn_logdet_bytes(int64_t n, int size, const wn_logdet_opts *opts);

/* Compute log det A of the n x n symmetric positive definite matrix described by fill with ScaLAPACK's
 * pdpotrf on a BLACS grid over all ranks of comm. Collective on comm: every rank passes the same n and opts.
 * n == 0 gives logdet 0. n must fit in a 32-bit int (ScaLAPACK's integers). The result, including
 * res->info, is the same on every rank. A non-positive-definite matrix is NOT an error: res->info > 0 and
 * res->logdet = NaN; bad arguments (grid does not match the ranks, n too large) are collective errors. */
PETSC_EXTERN PetscErrorCode wn_logdet_cholesky(MPI_Comm comm, int64_t n, wn_logdet_fill fill, void *ctx, const wn_logdet_opts *opts,
                                               wn_logdet_result *res);

/* Serial reference: log det of the n x n symmetric matrix a (row-major or column-major alike: only the
 * lower triangle in column-major = upper in row-major is read; a is overwritten by the factor) with LAPACK's
 * dpotrf. *info as LAPACK's (0 ok, k > 0 leading minor k not positive definite; then *logdet = NaN).
 * Not collective. */
PETSC_EXTERN PetscErrorCode wn_logdet_lapack(int64_t n, double *a, double *logdet, int *info);
