/* checkpoint.h - checkpoint/restart of the greedy loop, and the signals batch systems send before a time limit.
 *
 * Owns: the interrupt flag (SIGTERM, SIGUSR1: what Slurm sends, with --signal, before the limit), the checkpoint file
 * (the picks so far in selection order with their engine gains, and the checksums that tie it to its inputs and
 * options; written to PATH.tmp and renamed, so the previous checkpoint stays valid until the new one is complete),
 * reading it back for -wn_restart, and a rank-count independent checksum of the data a selection depends on.
 * Leaves to others: when to write (greedy.c: every N picks, T seconds, or on a signal), what the picks mean.
 *
 * A checkpoint holds no per-rank state: on restart the engine replays the picks (greedy.h, params->replay), which
 * rebuilds every rank's state exactly, on any number of ranks.
 */
#pragma once

#include <stdint.h>
#include <winnow/error.h>

/* Exit status of a run that wrote a checkpoint and stopped after a signal (0 ok, 1 error, 2 usage, 3 a check FAILED). */
#define WN_EXIT_CHECKPOINTED 4

/* Install the SIGTERM and SIGUSR1 handlers (they only set a flag). Not collective. */
PETSC_EXTERN PetscErrorCode wn_interrupt_install(void);
/* The signal received (0 = none). Async-signal-safe read of the flag. Not collective. */
PETSC_EXTERN int wn_interrupt_pending(void);
/* Mark that the run stopped after a checkpoint (main() then exits with WN_EXIT_CHECKPOINTED). Not collective. */
PETSC_EXTERN void      wn_interrupt_set_checkpointed(void);
PETSC_EXTERN PetscBool wn_interrupt_checkpointed(void);
/* For tests: raise the flag as if signal signo had arrived. */
PETSC_EXTERN void wn_interrupt_simulate(int signo);

/* A checkpoint's contents. */
typedef struct {
  int64_t  n;              /* picks */
  int64_t  n_warm;         /* the first n_warm were warm-start picks */
  int64_t *index;          /* n global rows, owned */
  double  *gain;           /* n engine gains at the time of each pick, owned */
  int64_t  n_candidates;   /* N */
  int64_t  budget;
  char     method[32];
  char     inputs[17];     /* checksum of the inputs (wn_checksum_rows), 16 hex digits */
  char     options[17];    /* checksum of the options that decide the selection */
  int      ranks;          /* rank count of the run that wrote it (informational) */
} wn_checkpoint;

/* Write ck to path atomically (path.tmp, then rename by rank 0). Collective on comm; ck is replicated. A write that
 * fails (disk full, permissions) is one clear error and leaves the previous checkpoint in place. */
PETSC_EXTERN PetscErrorCode wn_checkpoint_write(MPI_Comm comm, const char *path, const wn_checkpoint *ck);
/* Read a checkpoint. Collective on comm. Missing file, not a winnow checkpoint: clear error. *ck fields owned. */
PETSC_EXTERN PetscErrorCode wn_checkpoint_read(MPI_Comm comm, const char *path, wn_checkpoint *ck);
PETSC_EXTERN PetscErrorCode wn_checkpoint_free(wn_checkpoint *ck);
/* Remove the checkpoint file (after a completed run). Collective; rank 0 unlinks. */
PETSC_EXTERN PetscErrorCode wn_checkpoint_remove(MPI_Comm comm, const char *path);

/* Rank-count independent checksum of row-distributed data: sum over global rows g of FNV-1a(g, row bytes), mod
 * 2^64, combined with the previous value *h (start with 0). rows: n_local x row_bytes bytes. Collective on comm. */
PETSC_EXTERN PetscErrorCode wn_checksum_rows(MPI_Comm comm, int64_t row_start, int64_t n_local, const void *rows, size_t row_bytes, uint64_t *h);
