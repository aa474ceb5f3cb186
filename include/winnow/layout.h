/* layout.h - which rank owns which candidate rows (DESIGN.md section 3).
 *
 * Owns: the balanced contiguous row-block split (the first N mod P ranks get one more row) and
 * the global <-> local index arithmetic. Global indices are int64_t everywhere.
 */
#pragma once

#include <stdint.h>
#include <winnow/error.h>

typedef struct {
  MPI_Comm    comm;      /* borrowed */
  PetscMPIInt rank, size;
  int64_t     n_global;  /* rows in total, same on every rank */
  int64_t     row_start; /* first global row owned here */
  int64_t     n_local;   /* rows owned here (may be 0 when N < P) */
} wn_layout;

/* Fill layout for n_global rows over comm. Not collective (pure arithmetic on rank/size). */
PETSC_EXTERN PetscErrorCode wn_layout_init(MPI_Comm comm, int64_t n_global, wn_layout *layout);
/* Range owned by rank r of a split of n_global rows over size ranks. Pure. */
PETSC_EXTERN void    wn_layout_range(int64_t n_global, int size, int r, int64_t *start, int64_t *count);
/* Rank owning global row g. Pure. */
PETSC_EXTERN int     wn_layout_owner(int64_t n_global, int size, int64_t g);
