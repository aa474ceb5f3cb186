/* error.h - winnow's error conventions on top of PETSc's.
 *
 * Owns: the version shim for PETSC_SUCCESS and the two wrappers for libraries that do not report
 * through PETSc (HDF5 status codes, ScaLAPACK INFO), plus a rank-agreement check for errors that
 * only one rank can detect (a file opened on rank 0). Everything else uses PetscCall/PetscCheck.
 */
#pragma once

#include <petscsys.h>
#include <hdf5.h>

#if PETSC_VERSION_LT(3, 19, 0)
  #define PETSC_SUCCESS 0
#endif

/* Call an HDF5 function; a negative status becomes a PETSc error on this rank only. */
#define WN_CALL_HDF5(func, args) \
  do { \
    herr_t wn_h5_status_ = (herr_t)(func args); \
    PetscCheck(wn_h5_status_ >= 0, PETSC_COMM_SELF, PETSC_ERR_LIB, "HDF5 call %s() failed with status %d", #func, \
               (int)wn_h5_status_); \
  } while (0)

/* Same for HDF5 calls returning an hid_t: store it in lhs and fail on a negative id. */
#define WN_CALL_HDF5_ID(lhs, func, args) \
  do { \
    (lhs) = (func args); \
    PetscCheck((lhs) >= 0, PETSC_COMM_SELF, PETSC_ERR_LIB, "HDF5 call %s() failed", #func); \
  } while (0)

/* ScaLAPACK INFO: < 0 is our bug (bad argument), > 0 is a numerical failure. */
#define WN_CHECK_SCALAPACK_INFO(name, info) \
  do { \
    PetscCheck((info) >= 0, PETSC_COMM_SELF, PETSC_ERR_PLIB, "ScaLAPACK %s: argument %d had an illegal value", name, \
               -(int)(info)); \
    PetscCheck((info) <= 0, PETSC_COMM_SELF, PETSC_ERR_LIB, "ScaLAPACK %s failed with INFO = %d", name, (int)(info)); \
  } while (0)

/* Errors detected on some ranks only (HPL's pattern): every rank calls this with its local verdict
 * and message; the first failing rank's message is broadcast and every rank fails together, so
 * rank 0 prints it once. Collective on comm. */
PETSC_EXTERN PetscErrorCode wn_error_agree(MPI_Comm comm, PetscBool failed, PetscErrorCode code, const char *message);

/* A validation verdict (code 0 = fine) for checks whose outcome some ranks only may see: record the first failure
 * with wn_verdict_fail (not collective), then wn_verdict_agree makes the lowest failing rank's verdict everybody's
 * (collective; raises nothing), so the caller can release files and memory before raising it on every rank. */
typedef struct {
  PetscErrorCode code;
  char           msg[1024];
} wn_verdict;
PETSC_EXTERN void           wn_verdict_fail(wn_verdict *v, PetscErrorCode code, const char *fmt, ...) PETSC_ATTRIBUTE_FORMAT(3, 4);
PETSC_EXTERN PetscErrorCode wn_verdict_agree(MPI_Comm comm, wn_verdict *v);

/* Convenience: check cond on this rank, agree over comm, fail with a formatted message.
 * Collective on comm: every rank must reach it. */
#define WN_CHECK_ALL(comm, cond, code, ...) \
  do { \
    char wn_msg_[1024] = ""; \
    PetscBool wn_bad_ = (cond) ? PETSC_FALSE : PETSC_TRUE; \
    if (wn_bad_) PetscCall(PetscSNPrintf(wn_msg_, sizeof(wn_msg_), __VA_ARGS__)); \
    PetscCall(wn_error_agree((comm), wn_bad_, (code), wn_msg_)); \
  } while (0)

/* Install winnow's error handler: the first (initial) report of an error is printed once, compactly
 * ("winnow: error: <message>"), by rank 0 of the communicator that detected it (or by the rank itself
 * for PETSC_COMM_SELF errors), without PETSc's configure-line banner; -wn_traceback (or an internal
 * error, PETSC_ERR_PLIB) adds the traceback. Not collective. */
PETSC_EXTERN PetscErrorCode wn_error_install(void);
/* PETSC_TRUE when the last error was detected by every rank of PETSC_COMM_WORLD together, so every rank
 * can exit cleanly; otherwise the program must MPI_Abort so that no rank hangs in a collective. */
PETSC_EXTERN PetscBool wn_error_was_collective(void);
/* Register a temporary output to delete if the run fails (up to 8 at a time). Not collective. */
PETSC_EXTERN void wn_error_cleanup_file(const char *path);
/* Forget a registered file (it was renamed into place). Not collective. */
PETSC_EXTERN void wn_error_cleanup_forget(const char *path);
/* Delete every registered file (called on the failure path by main). Not collective. */
PETSC_EXTERN void wn_error_cleanup(void);
