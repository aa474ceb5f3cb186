/* pipeline.h - the stages of a winnow run and what each reads and writes (DESIGN.md section 2).
 *
 * Owns: the wn_run record that carries data between stages, the memory estimate printed (and enforced)
 * before large allocations, budget and warm-start resolution, the quality report on labelled data, and
 * the order of things in each subcommand. Each stage is one call into one module.
 */
#pragma once

#include <winnow/config.h>
#include <winnow/data.h>
#include <winnow/kernel.h>
#include <winnow/greedy.h>
#include <winnow/method.h>
#include <winnow/report.h>
#include <winnow/checkpoint.h>
#include <winnow/featurize.h>

typedef struct {
  MPI_Comm         comm;        /* borrowed */
  wn_config       *cfg;         /* borrowed */
  wn_report        report;
  const wn_method *method;
  wn_pool         *pool;        /* owned */
  wn_targets      *targets;     /* owned, may be NULL */
  wn_targets      *private_set; /* owned, may be NULL (FLCG's existing data) */
  wn_kernel       *K, *K_query, *K_private; /* owned */
  wn_sparse_kernel *KS;         /* owned: the main kernel when sparse (-wn_kernel_sparse_k) */
  wn_selection    *sel;         /* owned */
  double          *scores;      /* owned, n_local singleton gains or NULL */
  int64_t         *file_index;  /* owned, per pick: row in the candidates dataset (differs from sel->index after -wn_subsample) */
  int64_t         *record_line; /* owned, per pick: 0-based line in -wn_records (the pool's source_row, else file_index) */
  int64_t         *warm;        /* owned, warm-start rows */
  int64_t          n_warm;
  int64_t          budget;      /* resolved -wn_budget (warm start included) */
  PetscBool        resolved;    /* budget and warm start resolved (wn_pipeline_resolve) */
  int64_t          resolved_n;  /* for N candidates */
  char             checksum[17];
  wn_featurize_stats featurize;  /* filled by `featurize` */
  char             ck_inputs[17];  /* checksum of the loaded inputs (checkpoints), "" until computed */
  char             ck_options[17]; /* checksum of the options that decide the selection */
  wn_checkpoint    restart;        /* -wn_restart: the checkpoint read (owned) */
} wn_run;

PETSC_EXTERN PetscErrorCode wn_run_init(MPI_Comm comm, wn_config *cfg, wn_run *run);
PETSC_EXTERN PetscErrorCode wn_run_destroy(wn_run *run);

/* `featurize`: JSONL text -> embeddings file (src/featurize.c), with its report lines. Collective. */
PETSC_EXTERN PetscErrorCode wn_pipeline_featurize(wn_run *run);
/* Read the pool and the embeddings the method's kernels need (targets, existing data). Collective. */
PETSC_EXTERN PetscErrorCode wn_pipeline_load(wn_run *run);
/* `select` only: read candidate ids/labels (when -wn_candidates is given) and target labels. Collective. */
PETSC_EXTERN PetscErrorCode wn_pipeline_load_metadata(wn_run *run);
/* Compute the kernels the method needs, after printing and checking the memory estimate. Collective. */
PETSC_EXTERN PetscErrorCode wn_pipeline_kernel(wn_run *run);
/* `run`: the kernel stage's checkpoint: write (restore = FALSE) or read back on -wn_restart (restore = TRUE, *done
 * tells whether it was). Collective. */
PETSC_EXTERN PetscErrorCode wn_pipeline_kernel_checkpoint(wn_run *run, PetscBool restore, PetscBool *done);
/* Write the kernels to -wn_kernel_file (atomically). Collective. */
PETSC_EXTERN PetscErrorCode wn_pipeline_write_kernels(wn_run *run);
/* `select`: read the kernels from -wn_kernel_file after the memory check. Collective. */
PETSC_EXTERN PetscErrorCode wn_pipeline_read_kernels(wn_run *run);
/* Resolve the budget and the warm start for N candidates (as early as N is known). Collective. */
PETSC_EXTERN PetscErrorCode wn_pipeline_resolve(wn_run *run, int64_t N);
/* Run the method (resolving budget and warm start first if not done). Collective. */
PETSC_EXTERN PetscErrorCode wn_pipeline_select(wn_run *run);
/* Write PREFIX.h5 / PREFIX.jsonl. Collective. */
PETSC_EXTERN PetscErrorCode wn_pipeline_write(wn_run *run);
/* Quality on labelled data, RESULT line, report, provenance file. Collective. */
PETSC_EXTERN PetscErrorCode wn_pipeline_report(wn_run *run);
