/* blas.c - the OpenBLAS kernel-core fix and BLAS/memory rate probes (STACK.md section 9).
 *
 * Owns: the re-execution with OPENBLAS_CORETYPE when OpenBLAS picked a kernel core older than the CPU
 * supports, the provenance strings (core in use, what was done about it), and two reference rates for
 * benchmarks: a plain sgemm of a given shape and a STREAM-style triad.
 * Leaves to others: every BLAS call of the computation (kernel.c, the methods) and printing the report
 * (report.c).
 *
 * Why. OpenBLAS 0.3.21 (Debian, DYNAMIC_ARCH) chooses its kernels once, when the library is loaded, from
 * the CPU model; on virtual CPUs that hide the model it may fall back to "Prescott" (SSE3) although the
 * CPU has AVX-512. STACK.md measured sgemm at 26.9 GFLOP/s (Prescott) against 150 (SkylakeX) for
 * 4096^3 on one thread. OPENBLAS_CORETYPE overrides the choice but is read only at load time, so setting
 * it inside main() is too late: the program must re-execute itself, before MPI_Init.
 * Measured on the development VM of issue 2 (AMD EPYC, family 25, 2 cores, AVX-512, one OpenBLAS thread):
 * OpenBLAS chose "Cooperlake" by itself there, so no re-execution was needed ("no change needed"). Forcing
 * OPENBLAS_CORETYPE=Prescott gave sgemm 2048 x 2048 x 384 at 27 GFLOP/s against 98-101 with SkylakeX,
 * Cooperlake or Haswell (Zen: 76), a 3.6x speedup. The re-execution path was exercised with
 * WN_BLAS_PRETEND_CORE=Prescott (and Core2 under mpirun -n 2): each rank re-executed once with the same
 * pid and argv and reported "OpenBLAS core Prescott -> SkylakeX via OPENBLAS_CORETYPE (re-executed)".
 * Results of sgemm differ in the last bits between cores, so every rank of a job must use the same one
 * (they do on homogeneous nodes: each takes the same decision).
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>
#include <unistd.h>
#include <cblas.h>
#include <winnow/blas.h>

static char blas_note[256]; /* what wn_blas_reexec_if_needed() did; empty until described */

/* Instruction-set level a core name stands for: 0 SSE only, 1 AVX, 2 AVX2, 3 AVX-512; -1 for a name we
 * do not know (left alone). Names are those of OpenBLAS 0.3.x's DYNAMIC_ARCH table, plus "generic". */
static int blas_core_level(const char *core)
{
  static const struct {
    const char *name;
    int         level;
  } table[] = {
    {"Unknown", 0},     {"generic", 0},    {"Katmai", 0},      {"Coppermine", 0},    {"Northwood", 0},
    {"Prescott", 0},    {"Banias", 0},     {"Atom", 0},        {"Core2", 0},         {"Penryn", 0},
    {"Dunnington", 0},  {"Nehalem", 0},    {"Athlon", 0},      {"Opteron", 0},       {"Opteron(SSE3)", 0},
    {"Barcelona", 0},   {"Nano", 0},       {"Bobcat", 0},      {"Sandybridge", 1},   {"Bulldozer", 1},
    {"Piledriver", 1},  {"Steamroller", 1}, {"Excavator", 1},  {"Haswell", 2},       {"Zen", 2},
    {"SkylakeX", 3},    {"Cooperlake", 3}, {"SapphireRapids", 3},
  };

  if (!core) return -1;
  for (size_t i = 0; i < sizeof(table) / sizeof(table[0]); i++)
    if (!strcasecmp(core, table[i].name)) return table[i].level;
  return -1;
}

/* Best instruction-set level of this CPU (with OS support) and the OpenBLAS core name that uses it. */
static int blas_cpu_level(const char **core)
{
#if defined(__GNUC__) && (defined(__x86_64__) || defined(__i386__))
  __builtin_cpu_init();
  if (__builtin_cpu_supports("avx512f")) { *core = "SkylakeX"; return 3; }
  if (__builtin_cpu_supports("avx2")) { *core = "Haswell"; return 2; }
  if (__builtin_cpu_supports("avx")) { *core = "Sandybridge"; return 1; }
#endif
  *core = NULL;
  return 0;
}

static const char *blas_level_name(int level)
{
  static const char *names[] = {"SSE only", "AVX", "AVX2", "AVX-512"};
  return (level >= 0 && level <= 3) ? names[level] : "unknown";
}

/* Describe the state and decide whether to re-execute; re-executes only when may_exec is set. */
static void blas_check(int may_exec, char **argv)
{
  const char *core = wn_blas_core(), *want = NULL;
  const char *env_core = getenv("OPENBLAS_CORETYPE"), *env_reexec = getenv("WN_BLAS_REEXEC");
  const char *env_from = getenv("WN_BLAS_REEXEC_FROM"), *pretend = getenv("WN_BLAS_PRETEND_CORE");
  int         core_level, cpu_level = blas_cpu_level(&want);

  /* Testing knob: decide as if OpenBLAS had chosen this core (exercises the re-execution on machines
   * where OpenBLAS already picks a good one). */
  if (pretend && pretend[0] && !(env_core && env_core[0])) core = pretend;
  core_level = blas_core_level(core);

  if (env_core && env_core[0]) {
    if (env_reexec && !strcmp(env_reexec, "1") && env_from) {
      if (!strcasecmp(core, env_core))
        snprintf(blas_note, sizeof(blas_note), "OpenBLAS core %s -> %s via OPENBLAS_CORETYPE (re-executed)", env_from, core);
      else
        snprintf(blas_note, sizeof(blas_note), "OpenBLAS core %s: re-executed with OPENBLAS_CORETYPE=%s but the library still reports %s", env_from, env_core, core);
    } else snprintf(blas_note, sizeof(blas_note), "user set OPENBLAS_CORETYPE=%s (core %s)", env_core, core);
    return;
  }
  if (core_level < 0 || core_level >= cpu_level || !want) {
    snprintf(blas_note, sizeof(blas_note), "no change needed (core %s, CPU supports %s)", core, blas_level_name(cpu_level));
    return;
  }
  if (env_reexec) { /* set by the user (e.g. 0) to disable the fix */
    snprintf(blas_note, sizeof(blas_note), "OpenBLAS core %s is older than the CPU (%s) but WN_BLAS_REEXEC=%s disables the fix; set OPENBLAS_CORETYPE=%s", core, blas_level_name(cpu_level), env_reexec, want);
    return;
  }
  if (!may_exec) {
    snprintf(blas_note, sizeof(blas_note), "OpenBLAS core %s is older than the CPU (%s); wn_blas_reexec_if_needed() was not called; set OPENBLAS_CORETYPE=%s", core, blas_level_name(cpu_level), want);
    return;
  }
  if (setenv("OPENBLAS_CORETYPE", want, 1) || setenv("WN_BLAS_REEXEC", "1", 1) || setenv("WN_BLAS_REEXEC_FROM", core, 1)) {
    snprintf(blas_note, sizeof(blas_note), "OpenBLAS core %s kept: could not set the environment (%s)", core, strerror(errno));
    return;
  }
  (void)fflush(NULL);
  execv("/proc/self/exe", argv);
  /* Only reached when the exec failed: keep running on the old core, with the environment restored. */
  snprintf(blas_note, sizeof(blas_note), "OpenBLAS core %s kept: re-executing with OPENBLAS_CORETYPE=%s failed (%s)", core, want, strerror(errno));
  (void)unsetenv("OPENBLAS_CORETYPE");
  (void)unsetenv("WN_BLAS_REEXEC_FROM");
}

/**
  @brief Re-execute the program once with OPENBLAS_CORETYPE set when OpenBLAS chose a kernel core older
  than the CPU supports (STACK.md section 9).

  Not collective: call first thing in main(), before MPI_Init/PetscInitialize; under mpirun each rank
  decides alone, and every rank of a homogeneous job decides the same. Does not return when it
  re-executes. Does nothing when OPENBLAS_CORETYPE or WN_BLAS_REEXEC is already set.

  @param[in] argc  main's argc (unused; argv must be NULL-terminated, as main's is)
  @param[in] argv  main's argv, passed unchanged to the new image

  @return 0: continue (also when the exec failed; wn_blas_fix_note() says why)
**/
int wn_blas_reexec_if_needed(int argc, char **argv)
{
  (void)argc;
  blas_check(argv != NULL, argv);
  return 0;
}

/**
  @brief The OpenBLAS kernel core in use, as openblas_get_corename() reports it.

  Not collective.

  @return a static string, never NULL
**/
const char *wn_blas_core(void)
{
  const char *core = openblas_get_corename();
  return (core && core[0]) ? core : "unknown";
}

/**
  @brief One line describing what was done about the OpenBLAS core, for the report and the provenance.

  Not collective.

  @return a static string, never NULL
**/
const char *wn_blas_fix_note(void)
{
  if (!blas_note[0]) blas_check(0, NULL);
  return blas_note;
}

static double blas_now(void)
{
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

/**
  @brief Time a plain cblas_sgemm of the kernel-tile shape, C (m x n) = A (m x k) * B (n x k)^T, row-major:
  the reference rate the kernel stage is compared with (DESIGN.md: at least 80% of it).

  Not collective. Uses the OpenBLAS thread count in force.

  @param[in]  m, n, k  the shape, each >= 1
  @param[out] gflops   2 m n k / time, best of 3 after one warm-up call, in 1e9 flop/s
**/
PetscErrorCode wn_blas_sgemm_rate(int64_t m, int64_t n, int64_t k, double *gflops)
{
  float *A, *B, *C;
  double best = -1;

  PetscFunctionBeginUser;
  PetscCheck(gflops != NULL, PETSC_COMM_SELF, PETSC_ERR_ARG_NULL, "wn_blas_sgemm_rate: output gflops is NULL");
  PetscCheck(m > 0 && n > 0 && k > 0 && m <= INT32_MAX && n <= INT32_MAX && k <= INT32_MAX, PETSC_COMM_SELF, PETSC_ERR_ARG_OUTOFRANGE, "sgemm rate: shape %lld x %lld x %lld must be positive and fit the 32-bit BLAS interface", (long long)m, (long long)n, (long long)k);
  PetscCall(PetscMalloc1((size_t)m * (size_t)k, &A));
  PetscCall(PetscMalloc1((size_t)n * (size_t)k, &B));
  PetscCall(PetscMalloc1((size_t)m * (size_t)n, &C));
  for (size_t i = 0; i < (size_t)m * (size_t)k; i++) A[i] = (float)(i % 97) * 0.01f - 0.5f;
  for (size_t i = 0; i < (size_t)n * (size_t)k; i++) B[i] = (float)(i % 89) * 0.01f - 0.4f;
  for (int rep = 0; rep < 4; rep++) {
    double t = blas_now();
    cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, (blasint)m, (blasint)n, (blasint)k, 1.0f, A, (blasint)k, B, (blasint)k, 0.0f, C, (blasint)n);
    t = blas_now() - t;
    if (rep > 0 && (best < 0 || t < best)) best = t; /* rep 0 warms up (page faults, OpenBLAS buffers) */
  }
  *gflops = 2.0 * (double)m * (double)n * (double)k / (best > 0 ? best : 1e-9) * 1e-9;
  PetscCall(PetscFree(A));
  PetscCall(PetscFree(B));
  PetscCall(PetscFree(C));
  PetscFunctionReturn(PETSC_SUCCESS);
}

/**
  @brief DGEMM rate C = A B^T on an m x k by n x k shape, best of 3 after one warm-up: the reference for the
  ScaLAPACK factorisations (pdpotrf spends its time in DGEMM-like updates).

  Not collective.

  @param[in]  m, n, k  shape, positive, 32-bit
  @param[out] gflops   2 m n k / time * 1e-9
**/
PetscErrorCode wn_blas_dgemm_rate(int64_t m, int64_t n, int64_t k, double *gflops)
{
  double *A, *B, *C;
  double  best = -1;

  PetscFunctionBeginUser;
  PetscCheck(m > 0 && n > 0 && k > 0 && m <= INT32_MAX && n <= INT32_MAX && k <= INT32_MAX, PETSC_COMM_SELF, PETSC_ERR_ARG_OUTOFRANGE, "dgemm rate: shape %lld x %lld x %lld must be positive and fit the 32-bit BLAS interface", (long long)m, (long long)n, (long long)k);
  PetscCall(PetscMalloc1((size_t)m * (size_t)k, &A));
  PetscCall(PetscMalloc1((size_t)n * (size_t)k, &B));
  PetscCall(PetscMalloc1((size_t)m * (size_t)n, &C));
  for (size_t i = 0; i < (size_t)m * (size_t)k; i++) A[i] = (double)(i % 97) * 0.01 - 0.5;
  for (size_t i = 0; i < (size_t)n * (size_t)k; i++) B[i] = (double)(i % 89) * 0.01 - 0.4;
  for (int rep = 0; rep < 4; rep++) {
    double t = blas_now();
    cblas_dgemm(CblasRowMajor, CblasNoTrans, CblasTrans, (blasint)m, (blasint)n, (blasint)k, 1.0, A, (blasint)k, B, (blasint)k, 0.0, C, (blasint)n);
    t = blas_now() - t;
    if (rep > 0 && (best < 0 || t < best)) best = t;
  }
  *gflops = 2.0 * (double)m * (double)n * (double)k / (best > 0 ? best : 1e-9) * 1e-9;
  PetscCall(PetscFree(A));
  PetscCall(PetscFree(B));
  PetscCall(PetscFree(C));
  PetscFunctionReturn(PETSC_SUCCESS);
}

/**
  @brief STREAM-style triad a[i] = b[i] + s c[i] on n doubles: the memory-bandwidth reference for the
  greedy passes (DESIGN.md: at least 50% of it).

  Not collective. Single-threaded (the calling thread).

  @param[in]  n             elements per array, >= 1 (use several times the last-level cache)
  @param[out] gbytes_per_s  24 n bytes / time, best of 5 after one warm-up pass, in 1e9 bytes/s
**/
PetscErrorCode wn_blas_triad_rate(size_t n, double *gbytes_per_s)
{
  double         *a, *b, *c, best = -1, s = 3.0;
  volatile double sink = 0;

  PetscFunctionBeginUser;
  PetscCheck(gbytes_per_s != NULL, PETSC_COMM_SELF, PETSC_ERR_ARG_NULL, "wn_blas_triad_rate: output is NULL");
  PetscCheck(n > 0, PETSC_COMM_SELF, PETSC_ERR_ARG_OUTOFRANGE, "triad rate: array length must be > 0");
  PetscCall(PetscMalloc1(n, &a));
  PetscCall(PetscMalloc1(n, &b));
  PetscCall(PetscMalloc1(n, &c));
  for (size_t i = 0; i < n; i++) {
    a[i] = 0;
    b[i] = 1.0;
    c[i] = 2.0;
  }
  for (int rep = 0; rep < 6; rep++) {
    double t = blas_now();
    for (size_t i = 0; i < n; i++) a[i] = b[i] + s * c[i];
    t = blas_now() - t;
    sink = sink + a[(size_t)rep % n]; /* keeps the passes observable */
    if (rep > 0 && (best < 0 || t < best)) best = t;
  }
  (void)sink;
  *gbytes_per_s = 24.0 * (double)n / (best > 0 ? best : 1e-9) * 1e-9;
  PetscCall(PetscFree(a));
  PetscCall(PetscFree(b));
  PetscCall(PetscFree(c));
  PetscFunctionReturn(PETSC_SUCCESS);
}
