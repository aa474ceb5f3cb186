/* output.h - everything winnow writes: the selection (OUT.h5, OUT.jsonl), kernel files, and the YAML
 * provenance; all written atomically (temporary name, renamed on success; removed on failure).
 *
 * Owns: the output schema of DESIGN.md section 7 (documented in doc/formats.md), the writability check made
 * before any work starts, and the temporary-name/commit protocol.
 * Leaves to other modules: computing what is written.
 */
#pragma once

#include <winnow/error.h>
#include <winnow/config.h>
#include <winnow/data.h>
#include <winnow/greedy.h>
#include <winnow/report.h>

/* Fail early (rank 0 checks, every rank agrees) when the directory of path cannot be written:
 * "cannot write outputs to 'dir/': Permission denied". Collective. */
PETSC_EXTERN PetscErrorCode wn_output_check_writable(MPI_Comm comm, const char *path);
/* Refuse (from rank 0, before any work) outputs of this subcommand that are the same file as one of its
 * inputs ("-wn_output out would overwrite the input 'x.jsonl' (-wn_records)"). Collective. */
PETSC_EXTERN PetscErrorCode wn_output_check_clobber(MPI_Comm comm, const wn_config *cfg);
/* Temporary name next to final ("dir/.base.tmp.<pid>"), the same on every rank; registered for deletion if the
 * run fails. Collective. */
PETSC_EXTERN PetscErrorCode wn_output_temp_name(MPI_Comm comm, const char *final, char *tmp, size_t len);
/* Rename tmp to final on rank 0 (atomic on POSIX file systems); errors are agreed. Collective. */
PETSC_EXTERN PetscErrorCode wn_output_commit(MPI_Comm comm, const char *tmp, const char *final);

typedef struct {
  const char         *method;      /* -wn_method */
  const char         *citation;
  const wn_config    *cfg;         /* for attributes, records, flags */
  const wn_pool      *pool;        /* ids and labels of the candidates (may be NULL: ids = row numbers) */
  const wn_selection *sel;         /* replicated selection */
  const int64_t      *file_index;  /* per pick: row in the candidates dataset (reported as "index") */
  const int64_t      *record_line; /* per pick: 0-based line of its record in cfg->records */
  const double       *scores;      /* n_local per-candidate scores or NULL */
  const char         *score_name;  /* their name: "singleton_gain" (FL family), "probability" (TSDS) */
  const char         *checksum;    /* 16 hex digits */
} wn_output_selection;

/* Write PREFIX.h5 and PREFIX.jsonl for a selection. Collective. */
PETSC_EXTERN PetscErrorCode wn_output_write_selection(MPI_Comm comm, const char *prefix, const wn_output_selection *s);
/* Write the YAML provenance file (version, git describe, compiler, libraries, OpenBLAS core, host, date, ranks,
 * every option, phase times, checks, results). Collective (rank 0 writes). */
PETSC_EXTERN PetscErrorCode wn_output_write_provenance(MPI_Comm comm, const char *path, const wn_config *cfg, const wn_report *r);
