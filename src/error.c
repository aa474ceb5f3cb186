/* error.c - winnow's error reporting: agreement across ranks and the compact error handler.
 * Owns: wn_error_agree() (HPL's "all ranks agree, rank 0 prints") and the PETSc error handler that
 * prints one clean message instead of PETSc's banner. Leaves error *detection* to every module.
 */
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>
#include <winnow/error.h>

static PetscBool wn_error_collective_ = PETSC_FALSE;
static PetscBool wn_error_printed_    = PETSC_FALSE;
static PetscBool wn_error_traceback_  = PETSC_FALSE;
#define WN_ERROR_MAX_CLEANUP 8
static char wn_error_cleanup_path_[WN_ERROR_MAX_CLEANUP][PETSC_MAX_PATH_LEN];
static int  wn_error_n_cleanup_ = 0;

/**
  @brief Make every rank fail together when some ranks found an error.

  Collective on comm. The lowest failing rank's message is broadcast and raised with comm, so rank 0 of
  comm prints it once.

  @param[in] comm     communicator whose ranks must agree (borrowed)
  @param[in] failed   this rank's verdict
  @param[in] code     PETSc error code to raise (e.g. PETSC_ERR_FILE_OPEN)
  @param[in] message  this rank's message (used when it is the lowest failing rank)
**/
PetscErrorCode wn_error_agree(MPI_Comm comm, PetscBool failed, PetscErrorCode code, const char *message)
{
  PetscMPIInt rank, size, first, mine;
  char        buf[1024];

  PetscFunctionBeginUser;
  PetscCallMPI(MPI_Comm_rank(comm, &rank));
  PetscCallMPI(MPI_Comm_size(comm, &size));
  mine = failed ? rank : size;
  PetscCallMPI(MPI_Allreduce(&mine, &first, 1, MPI_INT, MPI_MIN, comm));
  if (first == size) PetscFunctionReturn(PETSC_SUCCESS);
  if (rank == first) PetscCall(PetscStrncpy(buf, message ? message : "", sizeof(buf)));
  PetscCallMPI(MPI_Bcast(buf, (int)sizeof(buf), MPI_CHAR, first, comm));
  SETERRQ(comm, code, "%s", buf);
}

static PetscErrorCode wn_error_handler(MPI_Comm comm, int line, const char *func, const char *file, PetscErrorCode n,
                                       PetscErrorType p, const char *mess, void *ctx)
{
  PetscMPIInt rank = 0, size = 1, wsize = 1, cmp = MPI_UNEQUAL;

  (void)ctx;
  if (comm != MPI_COMM_NULL) {
    MPI_Comm_rank(comm, &rank);
    MPI_Comm_size(comm, &size);
  }
  MPI_Comm_size(PETSC_COMM_WORLD, &wsize);
  if (p == PETSC_ERROR_INITIAL) {
    wn_error_printed_ = PETSC_FALSE;
    if (comm != MPI_COMM_NULL) MPI_Comm_compare(comm, PETSC_COMM_WORLD, &cmp);
    wn_error_collective_ = (size == wsize && (cmp == MPI_IDENT || cmp == MPI_CONGRUENT)) ? PETSC_TRUE : PETSC_FALSE;
    if (rank == 0) {
      PetscMPIInt wrank = 0;
      MPI_Comm_rank(PETSC_COMM_WORLD, &wrank);
      if (wsize > 1 && !wn_error_collective_) fprintf(stderr, "winnow: error on rank %d: %s\n", wrank, mess ? mess : "(no message)");
      else fprintf(stderr, "winnow: error: %s\n", mess ? mess : "(no message)");
      if (n == PETSC_ERR_PLIB || n == PETSC_ERR_MEM || n == PETSC_ERR_MEMC || n == PETSC_ERR_SIG || n == PETSC_ERR_LIB)
        fprintf(stderr, "winnow: (error code %d; please report internal errors with the traceback below)\n", (int)n);
      wn_error_printed_ = PETSC_TRUE;
    }
  }
  if (rank == 0 && (wn_error_traceback_ || n == PETSC_ERR_PLIB)) fprintf(stderr, "winnow:   at %s() %s:%d\n", func ? func : "?", file ? file : "?", line);
  fflush(stderr);
  return n;
}

PetscErrorCode wn_error_install(void)
{
  PetscFunctionBeginUser;
  PetscCall(PetscOptionsHasName(NULL, NULL, "-wn_traceback", &wn_error_traceback_));
  PetscCall(PetscPushErrorHandler(wn_error_handler, NULL));
  PetscFunctionReturn(PETSC_SUCCESS);
}

PetscBool wn_error_was_collective(void) { return wn_error_collective_; }

/* Temporary outputs in flight: added when created, removed when renamed (committed), deleted on failure. */
void wn_error_cleanup_file(const char *path)
{
  if (wn_error_n_cleanup_ < WN_ERROR_MAX_CLEANUP) snprintf(wn_error_cleanup_path_[wn_error_n_cleanup_++], PETSC_MAX_PATH_LEN, "%s", path);
}

void wn_error_cleanup_forget(const char *path)
{
  for (int i = 0; i < wn_error_n_cleanup_; i++)
    if (!strcmp(wn_error_cleanup_path_[i], path)) {
      memmove(wn_error_cleanup_path_[i], wn_error_cleanup_path_[i + 1], (size_t)(wn_error_n_cleanup_ - i - 1) * PETSC_MAX_PATH_LEN);
      wn_error_n_cleanup_--;
      return;
    }
}

void wn_error_cleanup(void)
{
  for (int i = 0; i < wn_error_n_cleanup_; i++) (void)unlink(wn_error_cleanup_path_[i]);
  wn_error_n_cleanup_ = 0;
}

/**
  @brief Record a failure in a verdict; the first one is kept.

  Not collective.
**/
void wn_verdict_fail(wn_verdict *v, PetscErrorCode code, const char *fmt, ...)
{
  va_list ap;

  if (v->code) return; /* keep the first */
  v->code = code;
  va_start(ap, fmt);
  vsnprintf(v->msg, sizeof(v->msg), fmt, ap);
  va_end(ap);
}

/**
  @brief Make the verdict of the lowest failing rank everybody's (rows are split in rank order, so that is the
  lowest global row). Raises nothing: the caller releases what it holds, then raises v->code on every rank.

  Collective on comm.
**/
PetscErrorCode wn_verdict_agree(MPI_Comm comm, wn_verdict *v)
{
  PetscMPIInt rank, size, mine, first;
  int         code;

  PetscFunctionBeginUser;
  PetscCallMPI(MPI_Comm_rank(comm, &rank));
  PetscCallMPI(MPI_Comm_size(comm, &size));
  mine = v->code ? rank : size;
  PetscCallMPI(MPI_Allreduce(&mine, &first, 1, MPI_INT, MPI_MIN, comm));
  if (first == size) PetscFunctionReturn(PETSC_SUCCESS);
  code = (int)v->code;
  PetscCallMPI(MPI_Bcast(&code, 1, MPI_INT, first, comm));
  PetscCallMPI(MPI_Bcast(v->msg, (int)sizeof(v->msg), MPI_CHAR, first, comm));
  v->code = (PetscErrorCode)code;
  PetscFunctionReturn(PETSC_SUCCESS);
}
