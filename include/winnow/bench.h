/* bench.h - `winnow bench`: the kernel stage and the greedy engine on synthetic data of a given N, M, d,
 * k, timed against this machine's own limits measured in the same run (a plain sgemm of the same shape,
 * a STREAM-style triad). Collective. */
#pragma once

#include <winnow/config.h>

PETSC_EXTERN PetscErrorCode wn_bench_run(MPI_Comm comm, const wn_config *cfg);
