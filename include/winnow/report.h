/* report.h - phase timers, correctness checks, the rank-0 report, the RESULT line and the YAML provenance.
 *
 * Owns: per-rank wall-clock time of each phase (reduced to min/mean/max and the slowest rank, after CoMD),
 * the PETSc log stages of the phases (so -log_view breaks the time down), PASSED/FAILED checks (HPL), the
 * one `RESULT key=value ...` line that jobs/collect parses, and the provenance file.
 * Leaves to other modules: what is measured and checked.
 */
#pragma once

#include <stdio.h>
#include <winnow/error.h>

typedef enum { WN_PHASE_FEATURIZE, WN_PHASE_LOAD, WN_PHASE_KERNEL, WN_PHASE_SELECT, WN_PHASE_WRITE, WN_PHASE_COUNT } wn_phase;
PETSC_EXTERN const char *const wn_phase_names[];

#define WN_REPORT_MAX_CHECKS 16

typedef struct {
  MPI_Comm      comm;                        /* borrowed */
  double        t_start;                     /* MPI_Wtime at wn_report_init */
  double        phase_begin[WN_PHASE_COUNT];
  double        phase_time[WN_PHASE_COUNT];  /* this rank's seconds in each phase */
  PetscBool     phase_used[WN_PHASE_COUNT];
  PetscLogStage stage[WN_PHASE_COUNT];
  int           n_checks;
  char          check_name[WN_REPORT_MAX_CHECKS][64];
  PetscBool     check_passed[WN_REPORT_MAX_CHECKS];
  char          check_detail[WN_REPORT_MAX_CHECKS][256];
  char          result[4096];                /* "key=value key=value ..." in insertion order */
  char          yaml_extra[8192];            /* extra YAML lines (indented "key: value") for the results section */
} wn_report;

/* Start the clock and register the log stages. Collective (PETSc stage registration). */
PETSC_EXTERN PetscErrorCode wn_report_init(MPI_Comm comm, wn_report *r);
/* Bracket a phase: push/pop its log stage and accumulate this rank's wall-clock time. Not collective. */
PETSC_EXTERN PetscErrorCode wn_report_phase_begin(wn_report *r, wn_phase p);
PETSC_EXTERN PetscErrorCode wn_report_phase_end(wn_report *r, wn_phase p);
/* Record a correctness check (same verdict on every rank). Not collective. */
PETSC_EXTERN PetscErrorCode wn_report_check(wn_report *r, const char *name, PetscBool passed, const char *fmt, ...) PETSC_ATTRIBUTE_FORMAT(4, 5);
/* Append key=value to the RESULT line (value formatted; spaces are replaced by '_'). Not collective. */
PETSC_EXTERN PetscErrorCode wn_report_result(wn_report *r, const char *key, const char *fmt, ...) PETSC_ATTRIBUTE_FORMAT(3, 4);
/* Print the phase table, the checks and the RESULT line on rank 0. Collective (reductions). */
PETSC_EXTERN PetscErrorCode wn_report_print(wn_report *r, FILE *fp);
/* PETSC_TRUE when every check passed. Not collective. */
PETSC_EXTERN PetscBool wn_report_passed(const wn_report *r);
