/* wn_test.h - shared scaffolding for winnow's check suites: PETSc/MPI start-up, collective
 * assertions (every rank agrees before any rank fails) and a main() that makes every rank return
 * the same exit code. Suites run without fork (CK_NOFORK) because they call MPI.
 */
#pragma once

#include <check.h>
#include <dirent.h>
#include <mpi.h>
#include <petscsys.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

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

/* Message of the last PETSc error raised on this rank (the suites run with PetscReturnErrorHandler). */
static inline const char *wn_test_last_error(void)
{
  const char *text     = NULL;
  char       *specific = NULL;

  PetscErrorMessage(PETSC_ERR_FILE_OPEN, &text, &specific);
  return specific ? specific : "";
}

/* A call that must fail on every rank of PETSC_COMM_WORLD, with a message containing substr. */
#define FAILS_ALL(call, substr) \
  do { \
    PetscErrorCode e_ = (call); \
    WN_CK_ASSERT_ALL(PETSC_COMM_WORLD, e_ != 0); \
    if (!strstr(wn_test_last_error(), substr)) fprintf(stderr, "expected '%s' in: %s\n", substr, wn_test_last_error()); \
    WN_CK_ASSERT_ALL(PETSC_COMM_WORLD, strstr(wn_test_last_error(), substr) != NULL); \
  } while (0)

/* A call that must succeed on every rank (the message is printed when it does not). */
#define OK_ALL(call) \
  do { \
    PetscErrorCode e_ = (call); \
    if (e_) fprintf(stderr, "%s failed: %s\n", #call, wn_test_last_error()); \
    WN_CK_ASSERT_ALL(PETSC_COMM_WORLD, e_ == 0); \
  } while (0)

/* A fresh directory made by rank 0 under $TMPDIR (or /tmp) and shared by name. Collective. */
static inline void wn_test_tmpdir_make(char *dir, size_t len)
{
  int rank;

  (void)MPI_Comm_rank(PETSC_COMM_WORLD, &rank);
  if (rank == 0) {
    const char *base = getenv("TMPDIR");

    snprintf(dir, len, "%s/wn_test_XXXXXX", base && base[0] ? base : "/tmp");
    if (!mkdtemp(dir)) dir[0] = 0;
  }
  (void)MPI_Bcast(dir, (int)len, MPI_CHAR, 0, PETSC_COMM_WORLD);
  ck_assert_msg(dir[0], "cannot make a temporary directory");
}

/* Remove a directory made by wn_test_tmpdir_make and its files. Collective. */
static inline void wn_test_tmpdir_remove(const char *dir)
{
  int rank;

  (void)MPI_Barrier(PETSC_COMM_WORLD);
  (void)MPI_Comm_rank(PETSC_COMM_WORLD, &rank);
  if (rank == 0) {
    DIR           *d = opendir(dir);
    struct dirent *e;
    char           p[PETSC_MAX_PATH_LEN];

    while (d && (e = readdir(d)))
      if (strcmp(e->d_name, ".") && strcmp(e->d_name, "..")) {
        snprintf(p, sizeof(p), "%s/%s", dir, e->d_name);
        unlink(p);
      }
    if (d) closedir(d);
    rmdir(dir);
  }
  (void)MPI_Barrier(PETSC_COMM_WORLD);
}

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
