/* info.h - `winnow info FILE`: describe an input or output file (HDF5 tree with shapes, types and
 * attributes; .npy header; for winnow outputs, a summary of the selection). Rank 0 reads; collective. */
#pragma once

#include <winnow/error.h>

PETSC_EXTERN PetscErrorCode wn_info_describe(MPI_Comm comm, const char *path, FILE *fp);
