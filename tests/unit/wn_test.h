/* wn_test.h - shared scaffolding for winnow's check suites: PETSc/MPI start-up, collective
 * assertions (every rank agrees before any rank fails) and a main() that makes every rank return
 * the same exit code. Suites run without fork (CK_NOFORK) because they call MPI.
 */
#pragma once

#include <check.h>
#include <mpi.h>
#include <petscsys.h>

/* Assert cond on every rank of comm: reduce first, then fail everywhere together. */
#define WN_CK_ASSERT_ALL(comm, cond) \
  do { \
    int ok_local_ = (cond) ? 1 : 0, ok_all_ = 0; \
    MPI_Allreduce(&ok_local_, &ok_all_, 1, MPI_INT, MPI_LAND, (comm)); \
    ck_assert_msg(ok_all_, "failed on at least one rank: %s", #cond); \
  } while (0)

/* A PetscErrorCode-returning call inside a test: must succeed. */
#define WN_CK_OK(call) \
  do { \
    PetscErrorCode wn_ck_ierr_ = (call); \
    ck_assert_msg(wn_ck_ierr_ == 0, "%s returned PETSc error %d", #call, (int)wn_ck_ierr_); \
  } while (0)

/* Run one suite under PETSc; returns the exit status every rank agrees on. */
static inline int wn_test_run(int argc, char **argv, Suite *(*make_suite)(void))
{
  int      failed, failed_all = 0;
  SRunner *sr;

  if (PetscInitialize(&argc, &argv, NULL, NULL)) return 1;
  PetscPushErrorHandler(PetscReturnErrorHandler, NULL); /* expected errors in tests stay quiet */
  sr = srunner_create(make_suite());
  srunner_set_fork_status(sr, CK_NOFORK);
  srunner_run_all(sr, CK_NORMAL);
  failed = srunner_ntests_failed(sr);
  srunner_free(sr);
  MPI_Allreduce(&failed, &failed_all, 1, MPI_INT, MPI_MAX, PETSC_COMM_WORLD);
  PetscPopErrorHandler();
  if (PetscFinalize()) return 1;
  return failed_all ? 1 : 0;
}
