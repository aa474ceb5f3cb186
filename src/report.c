/* report.c - what rank 0 tells the user at the end of a run: the phase table (min/mean/max over ranks and
 * the slowest rank, after CoMD), PASSED/FAILED checks (after HPL), and one RESULT line of key=value pairs.
 * Owns: phase timers and PETSc log stages (Load, Kernel, Select, Write), check and result records.
 * The YAML provenance file is written by output.c from these records.
 */
#include <stdarg.h>
#include <string.h>
#include <winnow/report.h>

const char *const wn_phase_names[] = {"featurize", "load", "kernel", "select", "write"};

/**
  @brief Start the run clock and register one PETSc log stage per phase.

  Collective on comm (stage registration must happen in the same order on every rank).
**/
PetscErrorCode wn_report_init(MPI_Comm comm, wn_report *r)
{
  static const char *stage_names[] = {"Featurize", "Load", "Kernel", "Select", "Write"};

  PetscFunctionBeginUser;
  memset(r, 0, sizeof(*r));
  r->comm    = comm;
  r->t_start = MPI_Wtime();
  for (int p = 0; p < WN_PHASE_COUNT; p++) PetscCall(PetscLogStageRegister(stage_names[p], &r->stage[p]));
  PetscFunctionReturn(PETSC_SUCCESS);
}

PetscErrorCode wn_report_phase_begin(wn_report *r, wn_phase p)
{
  PetscFunctionBeginUser;
  PetscCall(PetscLogStagePush(r->stage[p]));
  r->phase_used[p]  = PETSC_TRUE;
  r->phase_begin[p] = MPI_Wtime();
  PetscFunctionReturn(PETSC_SUCCESS);
}

PetscErrorCode wn_report_phase_end(wn_report *r, wn_phase p)
{
  PetscFunctionBeginUser;
  r->phase_time[p] += MPI_Wtime() - r->phase_begin[p];
  PetscCall(PetscLogStagePop());
  PetscFunctionReturn(PETSC_SUCCESS);
}

PetscErrorCode wn_report_check(wn_report *r, const char *name, PetscBool passed, const char *fmt, ...)
{
  va_list ap;
  int     c;

  PetscFunctionBeginUser;
  PetscCheck(r->n_checks < WN_REPORT_MAX_CHECKS, PETSC_COMM_SELF, PETSC_ERR_PLIB, "too many report checks");
  c = r->n_checks++;
  PetscCall(PetscStrncpy(r->check_name[c], name, sizeof(r->check_name[c])));
  r->check_passed[c] = passed;
  va_start(ap, fmt);
  vsnprintf(r->check_detail[c], sizeof(r->check_detail[c]), fmt, ap);
  va_end(ap);
  PetscFunctionReturn(PETSC_SUCCESS);
}

PetscErrorCode wn_report_result(wn_report *r, const char *key, const char *fmt, ...)
{
  va_list ap;
  char    value[512];
  size_t  len = strlen(r->result);

  PetscFunctionBeginUser;
  va_start(ap, fmt);
  vsnprintf(value, sizeof(value), fmt, ap);
  va_end(ap);
  for (char *c = value; *c; c++)
    if (*c == ' ' || *c == '\t' || *c == '\n') *c = '_';
  snprintf(r->result + len, sizeof(r->result) - len, "%s%s=%s", len ? " " : "", key, value[0] ? value : "-");
  PetscFunctionReturn(PETSC_SUCCESS);
}

PetscBool wn_report_passed(const wn_report *r)
{
  for (int c = 0; c < r->n_checks; c++)
    if (!r->check_passed[c]) return PETSC_FALSE;
  return PETSC_TRUE;
}

/**
  @brief Print the phase table, the checks and the RESULT line on rank 0.

  Collective on r->comm: phase times are reduced to min, mean, max and the slowest rank (MPI_MAXLOC).
  Also appends the phase maxima and the total to the RESULT line.
**/
PetscErrorCode wn_report_print(wn_report *r, FILE *fp)
{
  PetscMPIInt size;
  double      total = MPI_Wtime() - r->t_start, total_max;

  PetscFunctionBeginUser;
  PetscCallMPI(MPI_Comm_size(r->comm, &size));
  PetscCall(PetscFPrintf(r->comm, fp, "\nphase            min(s)      mean(s)       max(s)  slowest rank\n"));
  for (int p = 0; p < WN_PHASE_COUNT; p++) {
    struct {
      double v;
      int    rank;
    } mine, slow;
    double mn, sum;
    int    used = r->phase_used[p], any;
    PetscCallMPI(MPI_Allreduce(&used, &any, 1, MPI_INT, MPI_LOR, r->comm));
    if (!any) continue;
    mine.v = r->phase_time[p];
    PetscCallMPI(MPI_Comm_rank(r->comm, &mine.rank));
    PetscCallMPI(MPI_Allreduce(&mine, &slow, 1, MPI_DOUBLE_INT, MPI_MAXLOC, r->comm));
    PetscCallMPI(MPI_Allreduce(&mine.v, &mn, 1, MPI_DOUBLE, MPI_MIN, r->comm));
    PetscCallMPI(MPI_Allreduce(&mine.v, &sum, 1, MPI_DOUBLE, MPI_SUM, r->comm));
    PetscCall(PetscFPrintf(r->comm, fp, "%-10s %12.4f %12.4f %12.4f  %12d\n", wn_phase_names[p], mn, sum / size, slow.v, slow.rank));
    {
      char key[32];
      PetscCall(PetscSNPrintf(key, sizeof(key), "%s_s", wn_phase_names[p]));
      PetscCall(wn_report_result(r, key, "%.4f", slow.v));
    }
  }
  PetscCallMPI(MPI_Allreduce(&total, &total_max, 1, MPI_DOUBLE, MPI_MAX, r->comm));
  PetscCall(PetscFPrintf(r->comm, fp, "%-10s %12s %12s %12.4f\n", "total", "", "", total_max));
  PetscCall(wn_report_result(r, "total_s", "%.4f", total_max));
  if (r->n_checks) {
    PetscCall(PetscFPrintf(r->comm, fp, "\nchecks\n"));
    for (int c = 0; c < r->n_checks; c++) PetscCall(PetscFPrintf(r->comm, fp, "  %-22s %s  %s\n", r->check_name[c], r->check_passed[c] ? "PASSED" : "FAILED", r->check_detail[c]));
  }
  PetscCall(wn_report_result(r, "checks", "%s", r->n_checks ? (wn_report_passed(r) ? "PASSED" : "FAILED") : "none"));
  PetscCall(PetscFPrintf(r->comm, fp, "\nRESULT %s\n", r->result));
  PetscFunctionReturn(PETSC_SUCCESS);
}
