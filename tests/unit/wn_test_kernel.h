/* wn_test_kernel.h - kernels for the objective and engine suites: a wn_kernel holding this rank's rows of
 * a global matrix every rank can build (so results can be compared with a single-rank reference), and
 * continuous random matrices by global index. Freed with wn_kernel_destroy(). */
#pragma once

#include <string.h>
#include <winnow/kernel.h>
#include <winnow/util.h>

/* Kernel holding the rows of the global row-major N x T matrix that this rank owns under comm. */
static inline PetscErrorCode test_kernel_from_global(MPI_Comm comm, int64_t N, int64_t T, const float *global, wn_kernel **K)
{
  wn_kernel *k;

  PetscFunctionBeginUser;
  PetscCall(PetscNew(&k));
  PetscCall(wn_layout_init(comm, N, &k->layout));
  k->n_cols = T;
  PetscCall(PetscMalloc1((size_t)(k->layout.n_local * T) + 1, &k->values));
  if (k->layout.n_local * T > 0) memcpy(k->values, global + k->layout.row_start * T, (size_t)(k->layout.n_local * T) * sizeof(float));
  k->params.metric = WN_METRIC_DOT;
  PetscCall(PetscStrncpy(k->columns, "user", sizeof(k->columns)));
  *K = k;
  PetscFunctionReturn(PETSC_SUCCESS);
}

/* Continuous random N x T matrix in [lo, lo + width), by global index (the same on every rank). */
static inline PetscErrorCode test_random_matrix(uint64_t seed, int64_t N, int64_t T, double lo, double width, float **A)
{
  PetscFunctionBeginUser;
  PetscCall(PetscMalloc1((size_t)(N * T) + 1, A));
  for (int64_t i = 0; i < N * T; i++) (*A)[i] = (float)(lo + width * wn_uniform01(seed, (uint64_t)i));
  PetscFunctionReturn(PETSC_SUCCESS);
}
