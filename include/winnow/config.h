/* config.h - wn_config: every input key of winnow, typed, with its default and unit.
 *
 * Owns: reading the PETSc options database (decks are options files, the command line overrides the
 * deck), validating values with collective checks, refusing unknown -wn_ keys (with the closest known
 * key as a hint), and echoing the resolved configuration from rank 0. `winnow -help` is generated
 * from the same calls, so it lists every key with its default and unit.
 * Leaves to other modules: what the values mean.
 */
#pragma once

#include <winnow/error.h>
#include <winnow/data.h>
#include <winnow/kernel.h>
#include <winnow/greedy.h>
#include <winnow/featurize.h>
#include <winnow/tsds.h>
#include <winnow/dpp.h>
#include <winnow/p3.h>
#include <winnow/lobass.h>
#include <winnow/signals.h>

typedef enum { WN_CMD_FEATURIZE, WN_CMD_KERNEL, WN_CMD_SELECT, WN_CMD_RUN, WN_CMD_INFO, WN_CMD_BENCH, WN_CMD_SIGNALS, WN_CMD_HELP } wn_command;
PETSC_EXTERN const char *const wn_command_names[];
PETSC_EXTERN const char *const wn_dpp_kernel_names[]; /* -wn_dpp_kernel: auto, cosine, dot, rbf */
PETSC_EXTERN const char *const wn_p3_mode_names[];    /* rounds, onepass */
PETSC_EXTERN const char *const wn_p3_features_names[];/* signals, embedding */

#define WN_CONFIG_MAX_ENTRIES 192 /* keys echoed (107 now); config_note drops the rest */

typedef struct {
  wn_command command;
  char       deck[PETSC_MAX_PATH_LEN];      /* options file given after the subcommand ("" = none) */
  char       info_file[PETSC_MAX_PATH_LEN]; /* `winnow info FILE` */

  /* inputs */
  wn_input_spec candidates;                 /* -wn_candidates, -wn_candidates_dataset, -wn_ids_dataset, -wn_labels_dataset */
  wn_input_spec targets;                    /* -wn_targets, -wn_targets_dataset */
  wn_input_spec private_set;                /* -wn_private, -wn_private_dataset (FLCG's existing data P) */
  char          records[PETSC_MAX_PATH_LEN];/* -wn_records: JSONL of the candidates' records (copied into the output) */
  int64_t       subsample;                  /* -wn_subsample: select from a seeded subsample of this many candidates (0 = all) */
  uint64_t      seed;                       /* -wn_seed: seed of the subsample */

  /* kernel stage */
  wn_kernel_params kernel;                  /* -wn_kernel_metric, _gamma, _minmax, _tile_rows, _tile_cols */
  char   kernel_file[PETSC_MAX_PATH_LEN];   /* -wn_kernel_file: written by `kernel`, read by `select` */
  char   kernel_dataset[256];               /* -wn_kernel_dataset (main kernel) */
  char   query_kernel_dataset[256];         /* -wn_query_kernel_dataset (FLMI's pool-by-target kernel) */
  char   private_kernel_dataset[256];       /* -wn_private_kernel_dataset (FLCG's pool-by-private kernel) */
  char   kernel_orientation[32];            /* -wn_kernel_orientation: default when a file has no attribute */
  PetscBool kernel_keep;                    /* -wn_kernel_keep: `run` also writes the kernel file */
  int64_t   sparse_k;                       /* -wn_kernel_sparse_k: keep the top-k entries per row (0 = dense) */
  double memory_limit;                      /* -wn_memory_limit, bytes per rank */
  char   memory_limit_text[64];

  /* selection */
  char           method[32];                /* -wn_method */
  char           budget_text[64];           /* -wn_budget: count, fraction or percent */
  wn_greedy_kind greedy;                    /* -wn_greedy naive|lazy */
  double         min_gain;                  /* -wn_min_gain */
  double         flmi_eta;                  /* -wn_flmi_eta */
  double         flcg_nu;                   /* -wn_flcg_nu */
  wn_tsds_params tsds;                      /* -wn_tsds_alpha, _C, _sigma, _max_k, _kde_k, _replace, _metric; sample = budget, seed = -wn_seed */
  /* DPP (methods dpp, dpp_kernel, p3) */
  int            dpp_kernel;                /* -wn_dpp_kernel: 0 auto, else 1 + wn_dpp_kind (cosine, dot, rbf) */
  wn_dpp_params  dpp;                       /* -wn_dpp_jitter, -wn_dpp_epsilon; gamma = -wn_kernel_gamma; kind resolved per method */
  char           dpp_quality[256];          /* -wn_dpp_quality: dataset of N qualities in the candidates file ("" = 1) */
  PetscBool      dpp_check;                 /* -wn_dpp_check: ScaLAPACK log det(L_Y) against the greedy's */
  double         dpp_check_tol;             /* -wn_dpp_check_tol: relative tolerance of that check */
  PetscBool      dpp_normalize;             /* -wn_dpp_normalize: also log det(L + I) and log P(Y) */
  int64_t        dpp_nb;                    /* -wn_dpp_nb: ScaLAPACK block size (0 = 64) */
  /* P3 */
  int64_t        p3_epoch, p3_epochs;       /* -wn_p3_epoch e (0-based), -wn_p3_epochs E */
  double         p3_pct_start, p3_pct_end;  /* -wn_p3_pct_start, -wn_p3_pct_end: the percentile schedule */
  char           p3_signals[PETSC_MAX_PATH_LEN]; /* -wn_p3_signals: HDF5 file with /signals (default: the candidates file) */
  wn_p3_source   p3_source;                 /* -wn_p3_source auto|steps|difficulty */
  PetscBool      p3_trend;                  /* -wn_p3_trend: D + alpha (D - D_prev) */
  double         p3_alpha;                  /* -wn_p3_alpha */
  int            p3_mode;                   /* -wn_p3_mode: 0 rounds (the reference), 1 onepass */
  int            p3_features;               /* -wn_p3_features: 0 signals (/signals/epoch_<e>/features), 1 embedding */
  /* LoBaSS */
  wn_lobass_score     lobass_score;         /* -wn_lobass_score diff|normalized */
  char                lobass_signals[PETSC_MAX_PATH_LEN]; /* -wn_lobass_signals: HDF5 file with the losses (default: the candidates file) */
  char                lobass_loss_base[256];  /* -wn_lobass_loss_base: dataset of L0 (base model) */
  char                lobass_loss_tuned[256]; /* -wn_lobass_loss_tuned: dataset of L1 (fine-tuned reference model) */
  wn_lobass_per_label lobass_per_label;     /* -wn_lobass_per_label none|proportional|given */
  char                lobass_label_budgets[PETSC_MAX_PATH_LEN]; /* -wn_lobass_label_budgets "label:count,..." */
  char           warm_start[PETSC_MAX_PATH_LEN]; /* -wn_warm_start: text file of ids */
  /* checkpoint/restart of the greedy loop (checkpoint.h) */
  int64_t        checkpoint_every;          /* -wn_checkpoint_every: picks between checkpoints, 0 = off */
  double         checkpoint_interval;       /* -wn_checkpoint_interval: seconds between checkpoints, 0 = off */
  char           checkpoint_file[PETSC_MAX_PATH_LEN]; /* -wn_checkpoint_file: default PREFIX.ckpt.h5 */
  PetscBool      restart;                   /* -wn_restart: resume from the checkpoint file */
  double         progress_interval;         /* -wn_progress, seconds */
  char           quality_label[256];        /* -wn_quality_label: label counted as "on target" in the report */

  /* outputs */
  char      output[PETSC_MAX_PATH_LEN];     /* -wn_output prefix: PREFIX.h5, PREFIX.jsonl, PREFIX.yaml */
  PetscBool scores;                         /* -wn_scores: per-candidate scores and selected flag */
  PetscBool jsonl_all;                      /* -wn_jsonl_all: every candidate in PREFIX.jsonl with a selected flag */

  /* featurize */
  wn_featurize_params featurize;            /* -wn_text, -wn_text_fields, -wn_id_field, -wn_label_field, -wn_embeddings,
                                               -wn_featurize_dim, _hash_bits, _seed, -wn_skip_bad, -wn_holdout_* */

  /* signals */
  wn_signals_params signals;                /* -wn_signals_*; candidates = -wn_text, embeddings = -wn_embeddings, epoch = -wn_p3_epoch */

  /* bench */
  int64_t bench_n, bench_m, bench_d, bench_k;
  PetscInt bench_repeat;
  PetscBool bench_dpp;                      /* -wn_bench_dpp: also time the DPP greedy and ScaLAPACK log-determinants */
  int64_t   bench_logdet_max;               /* -wn_bench_logdet_max: largest log-det order (2000, 4000, ... up to it) */
  PetscBool bench_tsds;                     /* -wn_bench_tsds: also time the exact kNN and TSDS */
  PetscBool bench_comm;                     /* -wn_bench_comm: time one greedy iteration's MAXLOC + broadcast (ping loop) */

  /* the resolved configuration, in reading order, for the echo and the provenance file */
  int  n_entries;
  char entry_key[WN_CONFIG_MAX_ENTRIES][48];
  char entry_value[WN_CONFIG_MAX_ENTRIES][PETSC_MAX_PATH_LEN];
  char entry_unit[WN_CONFIG_MAX_ENTRIES][24];
} wn_config;

/* Split `winnow SUBCOMMAND [DECK] [options]` before PetscInitialize: returns the subcommand, the deck path
 * (or "") and removes both from argv. Pure (no MPI); *error gets a message for an unknown subcommand. */
PETSC_EXTERN wn_command wn_config_parse_command(int *argc, char ***argv, char *deck, size_t decklen, char *info_file, size_t infolen, const char **error);

/* Read, validate and echo the configuration. Collective on comm. Errors: bad values, unknown -wn_ keys. */
PETSC_EXTERN PetscErrorCode wn_config_read(MPI_Comm comm, wn_command command, const char *deck, const char *info_file, wn_config *cfg);
/* Print the resolved configuration on rank 0 of comm (HPL's echo). Collective. */
PETSC_EXTERN PetscErrorCode wn_config_echo(MPI_Comm comm, const wn_config *cfg, FILE *fp);
/* Error (from rank 0) if any -wn_ option in the database was never read; names the closest known key. Collective. */
PETSC_EXTERN PetscErrorCode wn_config_check_unknown(MPI_Comm comm, const wn_config *cfg);
/* Default memory limit per rank: physical memory of this node divided by the ranks on it. Collective. */
PETSC_EXTERN PetscErrorCode wn_config_default_memory_limit(MPI_Comm comm, double *bytes);
/* Edit distance used for "did you mean" hints (pure). */
PETSC_EXTERN int wn_config_edit_distance(const char *a, const char *b);
