/* blas.h - the OpenBLAS kernel-core fix and BLAS/memory rate probes (STACK.md section 9).
 *
 * Owns: detecting that OpenBLAS (DYNAMIC_ARCH) chose a generic or old kernel core for a CPU that supports
 * AVX/AVX2/AVX-512 and re-executing the program once with OPENBLAS_CORETYPE set (the variable is read only
 * when the library loads); reporting the core in use for provenance; timing a plain sgemm and a STREAM-style
 * triad as reference rates for benchmarks.
 * Leaves to others: all BLAS calls of the computation (kernel.c and the methods).
 */
#pragma once

#include <stddef.h>
#include <stdint.h>
#include <winnow/error.h>

/* Call first thing in main(), BEFORE MPI_Init/PetscInitialize, with main's argc and argv. If
 * OPENBLAS_CORETYPE and WN_BLAS_REEXEC are both unset and openblas_get_corename() reports a core older than
 * the best the CPU supports (e.g. "Prescott" on an AVX-512 machine), sets OPENBLAS_CORETYPE (SkylakeX,
 * Haswell or Sandybridge) and WN_BLAS_REEXEC=1 and execv()s /proc/self/exe with the same argv: it does
 * not return then. If the exec fails, it records why and returns. Set WN_BLAS_REEXEC=0 to disable.
 * Under mpirun every rank does this independently before MPI_Init, which is safe. Returns 0 (continue).
 * Not collective (no MPI). */
PETSC_EXTERN int wn_blas_reexec_if_needed(int argc, char **argv);
/* The OpenBLAS core in use (openblas_get_corename()), e.g. "SkylakeX". Never NULL. Not collective. */
PETSC_EXTERN const char *wn_blas_core(void);
/* One line for the report on what was done about the core, e.g.
 * "OpenBLAS core Prescott -> SkylakeX via OPENBLAS_CORETYPE (re-executed)", "user set
 * OPENBLAS_CORETYPE=Haswell (core Haswell)", "no change needed (core Cooperlake, CPU supports AVX-512)".
 * Never NULL. Not collective. */
PETSC_EXTERN const char *wn_blas_fix_note(void);
/* Rate of a plain row-major cblas_sgemm C(m x n) = A(m x k) B(n x k)^T, the shape of a kernel tile,
 * in GFLOP/s (2 m n k flops), best of a few repetitions after a warm-up. Not collective. */
PETSC_EXTERN PetscErrorCode wn_blas_sgemm_rate(int64_t m, int64_t n, int64_t k, double *gflops);
/* STREAM-style triad a[i] = b[i] + s c[i] on n doubles, best of a few repetitions, counting 24 bytes per
 * element, in GB/s (1e9 bytes). Not collective. */
/* DGEMM rate (GFLOP/s) of C = A B^T, m x n x k, best of 3 after a warm-up. Not collective. */
PETSC_EXTERN PetscErrorCode wn_blas_dgemm_rate(int64_t m, int64_t n, int64_t k, double *gflops);
PETSC_EXTERN PetscErrorCode wn_blas_triad_rate(size_t n, double *gbytes_per_s);
