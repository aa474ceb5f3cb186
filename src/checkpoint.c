/* checkpoint.c - checkpoint files of the greedy loop, the SIGTERM/SIGUSR1 flag, and the input checksum
 * (include/winnow/checkpoint.h).
 *
 * File layout (HDF5, written collectively, rank 0 holding the rows): /checkpoint/index (int64, selection order),
 * /checkpoint/gain (float64, the engine's gains), attributes on /checkpoint: format = "winnow-checkpoint-1",
 * method, inputs, options (16 hex digits each), n_warm, n_candidates, budget, ranks.
 * Atomicity: the file is written as PATH.tmp, closed, then renamed by rank 0 (rename(2) within one directory is
 * atomic on POSIX file systems), so a kill at any moment leaves either the old or the new checkpoint.
 */
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>
#include <winnow/checkpoint.h>
#include <winnow/h5io.h>
#include <winnow/util.h>

static volatile sig_atomic_t wn_signal_seen = 0;
static PetscBool             wn_checkpointed = PETSC_FALSE;

static void wn_signal_handler(int signo) { wn_signal_seen = signo; }

/**
  @brief Install handlers for SIGTERM and SIGUSR1 that only record the signal; the greedy loop polls it, agrees on
  it over all ranks (it travels with the MAXLOC reduction) and writes a checkpoint.

  Not collective. Replaces PETSc's handler for these two signals (PETSc's would abort with a traceback).
**/
PetscErrorCode wn_interrupt_install(void)
{
  struct sigaction sa;

  PetscFunctionBeginUser;
  memset(&sa, 0, sizeof(sa));
  sa.sa_handler = wn_signal_handler;
  sigemptyset(&sa.sa_mask);
  sa.sa_flags = SA_RESTART;
  PetscCheck(sigaction(SIGTERM, &sa, NULL) == 0 && sigaction(SIGUSR1, &sa, NULL) == 0, PETSC_COMM_SELF, PETSC_ERR_SYS, "cannot install the SIGTERM/SIGUSR1 handlers: %s",
             strerror(errno));
  PetscFunctionReturn(PETSC_SUCCESS);
}

int       wn_interrupt_pending(void) { return (int)wn_signal_seen; }
void      wn_interrupt_simulate(int signo) { wn_signal_seen = signo; }
void      wn_interrupt_set_checkpointed(void) { wn_checkpointed = PETSC_TRUE; }
PetscBool wn_interrupt_checkpointed(void) { return wn_checkpointed; }

/**
  @brief Write a checkpoint atomically: PATH.tmp, then rename.

  Collective on comm. Every rank passes the same (replicated) checkpoint; rank 0 writes the rows.
**/
PetscErrorCode wn_checkpoint_write(MPI_Comm comm, const char *path, const wn_checkpoint *ck)
{
  char        tmp[PETSC_MAX_PATH_LEN + 8];
  hid_t       file = -1;
  PetscMPIInt rank;
  int64_t     n0;
  int         err = 0;

  PetscFunctionBeginUser;
  PetscCallMPI(MPI_Comm_rank(comm, &rank));
  n0 = rank == 0 ? ck->n : 0;
  PetscCall(PetscSNPrintf(tmp, sizeof(tmp), "%s.tmp", path));
  wn_error_cleanup_file(tmp); /* an error on the way removes the partial file */
  PetscCall(wn_h5_create(comm, tmp, &file));
  PetscCall(wn_h5_write_rows_int64(comm, file, "/checkpoint/index", ck->n, 0, n0, ck->index));
  PetscCall(wn_h5_write_rows_double(comm, file, "/checkpoint/gain", ck->n, 0, n0, ck->gain));
  PetscCall(wn_h5_attr_write_string(comm, file, "/checkpoint", "format", "winnow-checkpoint-1"));
  PetscCall(wn_h5_attr_write_string(comm, file, "/checkpoint", "method", ck->method));
  PetscCall(wn_h5_attr_write_string(comm, file, "/checkpoint", "inputs", ck->inputs));
  PetscCall(wn_h5_attr_write_string(comm, file, "/checkpoint", "options", ck->options));
  PetscCall(wn_h5_attr_write_int64(comm, file, "/checkpoint", "n_warm", ck->n_warm));
  PetscCall(wn_h5_attr_write_int64(comm, file, "/checkpoint", "n_candidates", ck->n_candidates));
  PetscCall(wn_h5_attr_write_int64(comm, file, "/checkpoint", "budget", ck->budget));
  PetscCall(wn_h5_attr_write_int64(comm, file, "/checkpoint", "ranks", ck->ranks));
  PetscCall(wn_h5_close(&file));
  if (rank == 0 && rename(tmp, path) != 0) err = errno;
  PetscCallMPI(MPI_Bcast(&err, 1, MPI_INT, 0, comm));
  PetscCheck(err == 0, comm, PETSC_ERR_FILE_WRITE, "cannot rename the checkpoint '%s' to '%s': %s (the previous checkpoint, if any, is unchanged)", tmp, path, strerror(err));
  wn_error_cleanup_forget(tmp);
  PetscFunctionReturn(PETSC_SUCCESS);
}

/**
  @brief Read a checkpoint written by wn_checkpoint_write.

  Collective on comm.
**/
PetscErrorCode wn_checkpoint_read(MPI_Comm comm, const char *path, wn_checkpoint *ck)
{
  hid_t      file = -1;
  wn_h5_info info;
  char       format[64] = "";
  PetscBool  found;
  double     v;

  PetscFunctionBeginUser;
  PetscCall(PetscMemzero(ck, sizeof(*ck)));
  PetscCall(wn_h5_open(comm, path, PETSC_FALSE, &file));
  PetscCall(wn_h5_attr_read_string(comm, file, "/checkpoint", "format", format, sizeof(format), &found));
  if (!found || strcmp(format, "winnow-checkpoint-1")) PetscCall(wn_h5_close(&file));
  PetscCheck(found && !strcmp(format, "winnow-checkpoint-1"), comm, PETSC_ERR_FILE_UNEXPECTED, "'%s' is not a winnow checkpoint (no /checkpoint with format winnow-checkpoint-1)", path);
  PetscCall(wn_h5_info_get(comm, file, path, "/checkpoint/index", &info));
  ck->n = info.dims[0];
  PetscCall(wn_h5_attr_read_string(comm, file, "/checkpoint", "method", ck->method, sizeof(ck->method), &found));
  PetscCall(wn_h5_attr_read_string(comm, file, "/checkpoint", "inputs", ck->inputs, sizeof(ck->inputs), &found));
  PetscCall(wn_h5_attr_read_string(comm, file, "/checkpoint", "options", ck->options, sizeof(ck->options), &found));
  PetscCall(wn_h5_attr_read_double(comm, file, "/checkpoint", "n_warm", &v, &found));
  ck->n_warm = (int64_t)v;
  PetscCall(wn_h5_attr_read_double(comm, file, "/checkpoint", "n_candidates", &v, &found));
  ck->n_candidates = (int64_t)v;
  PetscCall(wn_h5_attr_read_double(comm, file, "/checkpoint", "budget", &v, &found));
  ck->budget = (int64_t)v;
  PetscCall(wn_h5_attr_read_double(comm, file, "/checkpoint", "ranks", &v, &found));
  ck->ranks = (int)v;
  PetscCall(PetscMalloc1(ck->n + 1, &ck->index));
  PetscCall(PetscMalloc1(ck->n + 1, &ck->gain));
  PetscCall(wn_h5_read_rows_int64(comm, file, "/checkpoint/index", 0, ck->n, ck->index));
  PetscCall(wn_h5_read_rows_double(comm, file, "/checkpoint/gain", 0, ck->n, ck->gain));
  PetscCall(wn_h5_close(&file));
  PetscFunctionReturn(PETSC_SUCCESS);
}

PetscErrorCode wn_checkpoint_free(wn_checkpoint *ck)
{
  PetscFunctionBeginUser;
  PetscCall(PetscFree(ck->index));
  PetscCall(PetscFree(ck->gain));
  PetscFunctionReturn(PETSC_SUCCESS);
}

PetscErrorCode wn_checkpoint_remove(MPI_Comm comm, const char *path)
{
  PetscMPIInt rank;

  PetscFunctionBeginUser;
  PetscCallMPI(MPI_Comm_rank(comm, &rank));
  if (rank == 0) (void)unlink(path);
  PetscCallMPI(MPI_Barrier(comm));
  PetscFunctionReturn(PETSC_SUCCESS);
}

/**
  @brief Checksum of row-distributed data that does not depend on how the rows are split: the sum, mod 2^64, over
  global rows g of FNV-1a over (g, the row's bytes), added to *h.

  Collective on comm.
**/
PetscErrorCode wn_checksum_rows(MPI_Comm comm, int64_t row_start, int64_t n_local, const void *rows, size_t row_bytes, uint64_t *h)
{
  uint64_t s = 0, total = 0;

  PetscFunctionBeginUser;
  for (int64_t i = 0; i < n_local; i++) {
    int64_t  g = row_start + i;
    uint64_t r = wn_fnv1a(WN_FNV_OFFSET, &g, sizeof(g));
    r          = wn_fnv1a(r, (const char *)rows + (size_t)i * row_bytes, row_bytes);
    s += r;
  }
  PetscCallMPI(MPI_Allreduce(&s, &total, 1, MPI_UINT64_T, MPI_SUM, comm));
  *h += total;
  PetscFunctionReturn(PETSC_SUCCESS);
}
