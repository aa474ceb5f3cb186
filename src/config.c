/* config.c - winnow's configuration: the options database (decks + command line) -> wn_config.
 *
 * Owns: the list of every -wn_ key with its help text, default and unit (one PetscOptionsBegin block, so
 * `-help` is the reference), validation with collective checks (every rank holds the same options, so
 * rank 0 prints once), the unknown-key check with a "did you mean" hint, the echo of the resolved
 * configuration, and the default per-rank memory limit.
 * Leaves to other modules: reading files, and what the values mean.
 */
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>
#include <winnow/config.h>
#include <winnow/method.h>
#include <winnow/util.h>

const char *const wn_command_names[] = {"featurize", "kernel", "select", "run", "info", "bench", "signals", "help", "wn_command", "WN_CMD_", NULL};
const char *const wn_dpp_kernel_names[]   = {"auto", "cosine", "dot", "rbf", "wn_dpp_kernel", "WN_DPP_KERNEL_", NULL};
const char *const wn_p3_mode_names[]      = {"rounds", "onepass", "wn_p3_mode", "WN_P3_MODE_", NULL};
const char *const wn_p3_features_names[]  = {"signals", "embedding", "wn_p3_features", "WN_P3_FEATURES_", NULL};

/* ---- subcommand and deck, before PETSc starts ----------------------------------------------- */

wn_command wn_config_parse_command(int *argc, char ***argv, char *deck, size_t decklen, char *info_file, size_t infolen, const char **error)
{
  char     **av = *argv;
  int        ac = *argc, out = 1, i = 1;
  wn_command cmd = WN_CMD_HELP;

  *error  = NULL;
  deck[0] = info_file[0] = 0;
  if (ac < 2 || av[1][0] == '-') return WN_CMD_HELP; /* `winnow -help`, `winnow` alone */
  for (int c = 0; c <= WN_CMD_HELP; c++)
    if (!strcmp(av[1], wn_command_names[c])) cmd = (wn_command)c;
  if (cmd == WN_CMD_HELP && strcmp(av[1], "help")) {
    *error = "unknown subcommand (expected featurize, kernel, select, run, info, bench or signals)";
    return WN_CMD_HELP;
  }
  i = 2;
  /* `info FILE`: the file to describe; other subcommands: an optional deck before the options */
  if (i < ac && av[i][0] != '-') {
    if (cmd == WN_CMD_INFO) snprintf(info_file, infolen, "%s", av[i]);
    else snprintf(deck, decklen, "%s", av[i]);
    i++;
  }
  for (; i < ac; i++) {
    size_t len = strlen(av[i]);
    /* a deck anywhere else would be taken for an option value and silently ignored */
    if (len > 5 && !strcmp(av[i] + len - 5, ".opts") && strcmp(av[i - 1], "-options_file")) {
      *error = "a deck (.opts) must come right after the subcommand: winnow SUBCOMMAND DECK.opts [options]";
      return WN_CMD_HELP;
    }
    av[out++] = av[i];
  }
  av[out] = NULL;
  *argc   = out;
  return cmd;
}

/* ---- recording keys and resolved values --------------------------------------------------------- */

static void config_note(wn_config *cfg, const char *key, const char *unit, const char *fmt, ...)
{
  va_list ap;
  int     e;

  for (e = 0; e < cfg->n_entries; e++)
    if (!strcmp(cfg->entry_key[e], key)) break;
  if (e == cfg->n_entries) {
    if (cfg->n_entries == WN_CONFIG_MAX_ENTRIES) return;
    cfg->n_entries++;
  }
  snprintf(cfg->entry_key[e], sizeof(cfg->entry_key[e]), "%s", key);
  snprintf(cfg->entry_unit[e], sizeof(cfg->entry_unit[e]), "%s", unit ? unit : "");
  va_start(ap, fmt);
  vsnprintf(cfg->entry_value[e], sizeof(cfg->entry_value[e]), fmt, ap);
  va_end(ap);
}

static PetscErrorCode opt_string(PetscOptionItems *PetscOptionsObject, wn_config *cfg, const char *key, const char *help, const char *unit, char *value, size_t len)
{
  char def[PETSC_MAX_PATH_LEN];

  PetscFunctionBeginUser;
  PetscCall(PetscStrncpy(def, value, sizeof(def)));
  PetscCall(PetscOptionsString(key, help, "doc/decks.md", def, value, len, NULL));
  config_note(cfg, key, unit, "%s", value);
  PetscFunctionReturn(PETSC_SUCCESS);
}

static PetscErrorCode opt_real(PetscOptionItems *PetscOptionsObject, wn_config *cfg, const char *key, const char *help, const char *unit, double *value)
{
  PetscReal v = *value;

  PetscFunctionBeginUser;
  PetscCall(PetscOptionsReal(key, help, "doc/decks.md", v, &v, NULL));
  *value = v;
  config_note(cfg, key, unit, "%g", v);
  PetscFunctionReturn(PETSC_SUCCESS);
}

static PetscErrorCode opt_int64(PetscOptionItems *PetscOptionsObject, wn_config *cfg, const char *key, const char *help, const char *unit, int64_t *value)
{
  PetscInt v = (PetscInt)*value;

  PetscFunctionBeginUser;
  PetscCall(PetscOptionsInt(key, help, "doc/decks.md", v, &v, NULL));
  *value = v;
  config_note(cfg, key, unit, "%lld", (long long)v);
  PetscFunctionReturn(PETSC_SUCCESS);
}

static PetscErrorCode opt_bool(PetscOptionItems *PetscOptionsObject, wn_config *cfg, const char *key, const char *help, PetscBool *value)
{
  PetscFunctionBeginUser;
  PetscCall(PetscOptionsBool(key, help, "doc/decks.md", *value, value, NULL));
  config_note(cfg, key, "", "%s", *value ? "true" : "false");
  PetscFunctionReturn(PETSC_SUCCESS);
}

static PetscErrorCode opt_enum(PetscOptionItems *PetscOptionsObject, wn_config *cfg, const char *key, const char *help, const char *const *names, int n, int *value)
{
  PetscInt  v = *value;
  char      given[256];
  PetscBool set, known = PETSC_FALSE;
  char      list[512] = "";

  PetscFunctionBeginUser;
  /* check the value ourselves first, on the options' communicator, so a bad value is one collective error
   * printed once (PetscOptionsEList would fail on every rank separately) */
  PetscCall(PetscOptionsGetString(NULL, NULL, key, given, sizeof(given), &set));
  if (set) {
    for (int k = 0; k < n; k++) {
      PetscBool eq;
      PetscCall(PetscStrcasecmp(given, names[k], &eq));
      if (eq) known = PETSC_TRUE;
      PetscCall(PetscStrlcat(list, k ? ", " : "", sizeof(list)));
      PetscCall(PetscStrlcat(list, names[k], sizeof(list)));
    }
    PetscCheck(known, PetscOptionsObject->comm, PETSC_ERR_ARG_UNKNOWN_TYPE, "%s '%s' is not one of: %s", key, given, list);
  }
  PetscCall(PetscOptionsEList(key, help, "doc/decks.md", names, n, names[*value], &v, NULL));
  *value = (int)v;
  config_note(cfg, key, "", "%s", names[v]);
  PetscFunctionReturn(PETSC_SUCCESS);
}

/* ---- defaults ------------------------------------------------------------------------------------ */

PetscErrorCode wn_config_default_memory_limit(MPI_Comm comm, double *bytes)
{
  MPI_Comm    node;
  PetscMPIInt on_node;
  long        pages = sysconf(_SC_PHYS_PAGES), page = sysconf(_SC_PAGESIZE);

  PetscFunctionBeginUser;
  PetscCallMPI(MPI_Comm_split_type(comm, MPI_COMM_TYPE_SHARED, 0, MPI_INFO_NULL, &node));
  PetscCallMPI(MPI_Comm_size(node, &on_node));
  PetscCallMPI(MPI_Comm_free(&node));
  *bytes = (pages > 0 && page > 0) ? (double)pages * (double)page / on_node : 1e18;
  /* every rank must hold the same limit for collective checks: take the smallest */
  PetscCallMPI(MPI_Allreduce(MPI_IN_PLACE, bytes, 1, MPI_DOUBLE, MPI_MIN, comm));
  PetscFunctionReturn(PETSC_SUCCESS);
}

static void config_defaults(wn_config *cfg)
{
  memset(cfg, 0, sizeof(*cfg));
  strcpy(cfg->candidates.dataset, "/candidates/embedding");
  strcpy(cfg->candidates.ids_dataset, "/candidates/id");
  strcpy(cfg->candidates.labels_dataset, "/candidates/label");
  strcpy(cfg->targets.dataset, "/targets/embedding");
  strcpy(cfg->targets.labels_dataset, "/targets/label");
  strcpy(cfg->private_set.dataset, "/private/embedding");
  strcpy(cfg->candidates.source_row_dataset, "/candidates/source_row");
  cfg->seed = 7;
  cfg->kernel.metric = WN_METRIC_COSINE;
  cfg->kernel.gamma  = 1.0;
  cfg->kernel.minmax = PETSC_FALSE;
  strcpy(cfg->kernel_file, "winnow_kernel.h5");
  strcpy(cfg->kernel_dataset, "/kernel/values");
  strcpy(cfg->query_kernel_dataset, "/query_kernel/values");
  strcpy(cfg->private_kernel_dataset, "/private_kernel/values");
  strcpy(cfg->kernel_orientation, "candidate-major");
  strcpy(cfg->memory_limit_text, "auto");
  strcpy(cfg->method, "fl");
  strcpy(cfg->budget_text, "10");
  cfg->greedy            = WN_GREEDY_LAZY;
  cfg->min_gain          = 0.0;
  cfg->flmi_eta          = 1.0;
  cfg->flcg_nu           = 1.0;
  cfg->progress_interval = 2.0;
  cfg->tsds.alpha        = 0.5;
  cfg->tsds.C            = 5.0;
  cfg->tsds.sigma        = 0.75;
  cfg->tsds.max_K        = 5000;
  cfg->tsds.kde_K        = 1000;
  cfg->tsds.replace      = PETSC_TRUE;
  cfg->tsds.metric       = WN_KNN_L2;
  cfg->dpp_kernel        = 0;
  cfg->dpp.jitter        = 0.0;
  cfg->dpp.epsilon       = 1e-10;
  cfg->dpp_check         = PETSC_TRUE;
  cfg->dpp_check_tol     = 1e-6;
  cfg->p3_epochs         = 5;
  cfg->p3_pct_start      = 45.0;
  cfg->p3_pct_end        = 95.0;
  cfg->p3_source         = WN_P3_SOURCE_AUTO;
  cfg->p3_alpha          = 0.1;
  cfg->lobass_score      = WN_LOBASS_DIFF;
  strcpy(cfg->lobass_loss_base, "/signals/loss_base");
  strcpy(cfg->lobass_loss_tuned, "/signals/loss_tuned");
  cfg->lobass_per_label  = WN_LOBASS_PER_LABEL_NONE;
  strcpy(cfg->output, "winnow_out");
  strcpy(cfg->featurize.output, "features.h5");
  strcpy(cfg->featurize.text_fields, "text");
  strcpy(cfg->featurize.id_field, "id");
  strcpy(cfg->featurize.label_field, "label");
  cfg->featurize.dim          = 256;
  cfg->featurize.hash_bits    = 20;
  cfg->featurize.seed         = 1;
  cfg->featurize.target_count = 100;
  cfg->featurize.target_seed  = 7;
  strcpy(cfg->signals.base, "/usr/share/games/fortunes");
  strcpy(cfg->signals.base_fields, "text");
  strcpy(cfg->signals.text_field, "text");
  strcpy(cfg->signals.separator, ":");
  strcpy(cfg->signals.step_separators, "\\n");
  cfg->signals.order      = 3;
  cfg->signals.discount   = 0.75;
  cfg->signals.losses     = PETSC_TRUE;
  cfg->signals.p3         = PETSC_TRUE;
  cfg->signals.n_features = 30;
  cfg->bench_n      = 100000;
  cfg->bench_m      = 2000;
  cfg->bench_d      = 384;
  cfg->bench_k      = 1000;
  cfg->bench_repeat = 3;
  cfg->bench_logdet_max = 8000;
}

/* ---- reading ------------------------------------------------------------------------------------- */

/**
  @brief Read every -wn_ key, validate, and resolve defaults that depend on other keys.

  Collective on comm (every rank holds the same options database, so every check is collective and rank 0
  prints once).

  @param[in]  comm       communicator of the run (borrowed)
  @param[in]  command    the subcommand (decides which inputs are required)
  @param[in]  deck       the deck given after the subcommand ("" = none), for the echo
  @param[in]  info_file  the file of `winnow info`, or ""
  @param[out] cfg        the resolved configuration
**/
PetscErrorCode wn_config_read(MPI_Comm comm, wn_command command, const char *deck, const char *info_file, wn_config *cfg)
{
  PetscBool traceback = PETSC_FALSE;
  int       metric, greedy;

  PetscFunctionBeginUser;
  config_defaults(cfg);
  cfg->command = command;
  PetscCall(PetscStrncpy(cfg->deck, deck ? deck : "", sizeof(cfg->deck)));
  PetscCall(PetscStrncpy(cfg->info_file, info_file ? info_file : "", sizeof(cfg->info_file)));
  metric = (int)cfg->kernel.metric;
  greedy = (int)cfg->greedy;

  PetscOptionsBegin(comm, NULL, "winnow: distributed data selection (see doc/decks.md; units in brackets)", "winnow");
  cfg->n_entries = 0;
  /* inputs */
  PetscCall(opt_string(PetscOptionsObject, cfg, "-wn_candidates", "Candidate pool embeddings: HDF5 or .npy file [path]", "path", cfg->candidates.path, sizeof(cfg->candidates.path)));
  PetscCall(opt_string(PetscOptionsObject, cfg, "-wn_candidates_dataset", "HDF5 dataset of the N x d candidate embeddings [dataset]", "dataset", cfg->candidates.dataset, sizeof(cfg->candidates.dataset)));
  PetscCall(opt_string(PetscOptionsObject, cfg, "-wn_ids_dataset", "HDF5 dataset of the N candidate ids, int or string; absent: ids are row numbers [dataset]", "dataset", cfg->candidates.ids_dataset, sizeof(cfg->candidates.ids_dataset)));
  PetscCall(opt_string(PetscOptionsObject, cfg, "-wn_labels_dataset", "HDF5 dataset of the N candidate labels (optional) [dataset]", "dataset", cfg->candidates.labels_dataset, sizeof(cfg->candidates.labels_dataset)));
  PetscCall(opt_string(PetscOptionsObject, cfg, "-wn_targets", "Target-set embeddings: HDF5 or .npy; default: the candidates file [path]", "path", cfg->targets.path, sizeof(cfg->targets.path)));
  PetscCall(opt_string(PetscOptionsObject, cfg, "-wn_targets_dataset", "HDF5 dataset of the M x d target embeddings [dataset]", "dataset", cfg->targets.dataset, sizeof(cfg->targets.dataset)));
  PetscCall(opt_string(PetscOptionsObject, cfg, "-wn_private", "Existing (already used) data for FLCG: HDF5 or .npy; default: the candidates file [path]", "path", cfg->private_set.path, sizeof(cfg->private_set.path)));
  PetscCall(opt_string(PetscOptionsObject, cfg, "-wn_private_dataset", "HDF5 dataset of the P x d existing-data embeddings [dataset]", "dataset", cfg->private_set.dataset, sizeof(cfg->private_set.dataset)));
  PetscCall(opt_string(PetscOptionsObject, cfg, "-wn_source_row_dataset", "HDF5 dataset of each candidate's line in the records file (written by featurize) [dataset]", "dataset", cfg->candidates.source_row_dataset, sizeof(cfg->candidates.source_row_dataset)));
  PetscCall(opt_string(PetscOptionsObject, cfg, "-wn_records", "JSONL records of the candidates (line i = candidate i, or its source row); copied into PREFIX.jsonl [path]", "path", cfg->records, sizeof(cfg->records)));
  PetscCall(opt_int64(PetscOptionsObject, cfg, "-wn_subsample", "Select from a seeded subsample of this many candidates, 0 = all [count]", "count", &cfg->subsample));
  {
    int64_t seed = (int64_t)cfg->seed;
    PetscCall(opt_int64(PetscOptionsObject, cfg, "-wn_seed", "Seed of -wn_subsample", "", &seed));
    cfg->seed = (uint64_t)seed;
  }
  /* kernel */
  PetscCall(opt_enum(PetscOptionsObject, cfg, "-wn_kernel_metric", "Similarity: cosine, dot, rbf (exp(-gamma |x-y|^2)), additive ((1+cos)/2, DELIFT)", wn_metric_names, 4, &metric));
  PetscCall(opt_real(PetscOptionsObject, cfg, "-wn_kernel_gamma", "RBF width gamma, > 0 [1/distance^2]", "1/dist^2", &cfg->kernel.gamma));
  PetscCall(opt_bool(PetscOptionsObject, cfg, "-wn_kernel_minmax", "Scale the whole kernel globally to [0, 1] (DELIFT) [bool]", &cfg->kernel.minmax));
  PetscCall(opt_int64(PetscOptionsObject, cfg, "-wn_kernel_tile_rows", "Rows per sgemm tile, 0 = automatic [rows]", "rows", &cfg->kernel.tile_rows));
  PetscCall(opt_int64(PetscOptionsObject, cfg, "-wn_kernel_tile_cols", "Columns per sgemm tile, 0 = automatic [columns]", "columns", &cfg->kernel.tile_cols));
  PetscCall(opt_string(PetscOptionsObject, cfg, "-wn_kernel_file", "Kernel file: written by `kernel`, read by `select` [path]", "path", cfg->kernel_file, sizeof(cfg->kernel_file)));
  PetscCall(opt_string(PetscOptionsObject, cfg, "-wn_kernel_dataset", "Dataset of the main kernel K[c, t] (or a user utility matrix) [dataset]", "dataset", cfg->kernel_dataset, sizeof(cfg->kernel_dataset)));
  PetscCall(opt_string(PetscOptionsObject, cfg, "-wn_query_kernel_dataset", "Dataset of FLMI's pool-by-target kernel [dataset]", "dataset", cfg->query_kernel_dataset, sizeof(cfg->query_kernel_dataset)));
  PetscCall(opt_string(PetscOptionsObject, cfg, "-wn_private_kernel_dataset", "Dataset of FLCG's pool-by-existing-data kernel [dataset]", "dataset", cfg->private_kernel_dataset, sizeof(cfg->private_kernel_dataset)));
  PetscCall(opt_string(PetscOptionsObject, cfg, "-wn_kernel_orientation", "Orientation of kernel files without an 'orientation' attribute: candidate-major or target-major", "", cfg->kernel_orientation, sizeof(cfg->kernel_orientation)));
  PetscCall(opt_bool(PetscOptionsObject, cfg, "-wn_kernel_keep", "`run`: also write the kernels to -wn_kernel_file [bool]", &cfg->kernel_keep));
  PetscCall(opt_int64(PetscOptionsObject, cfg, "-wn_kernel_sparse_k", "Keep only the k largest entries of each kernel row (sparse kNN kernel, MATMPIAIJ); 0 = dense [entries]", "entries", &cfg->sparse_k));
  PetscCall(opt_string(PetscOptionsObject, cfg, "-wn_memory_limit", "Memory one rank may use, e.g. 4G; auto = node memory / ranks on the node [bytes]", "bytes", cfg->memory_limit_text, sizeof(cfg->memory_limit_text)));
  /* selection */
  PetscCall(opt_string(PetscOptionsObject, cfg, "-wn_method", "Selection method: fl, fl_pool, flmi, flcg (winnow -help lists them below)", "", cfg->method, sizeof(cfg->method)));
  PetscCall(opt_string(PetscOptionsObject, cfg, "-wn_budget", "Examples to select: a count (100), a fraction of N (0.3) or a percentage (30%) [count]", "count", cfg->budget_text, sizeof(cfg->budget_text)));
  PetscCall(opt_enum(PetscOptionsObject, cfg, "-wn_greedy", "Greedy evaluation: lazy (Minoux; same result, fewer evaluations) or naive", wn_greedy_kind_names, 2, &greedy));
  PetscCall(opt_real(PetscOptionsObject, cfg, "-wn_min_gain", "Stop before a pick whose marginal gain is below this [objective units]", "gain", &cfg->min_gain));
  PetscCall(opt_real(PetscOptionsObject, cfg, "-wn_flmi_eta", "FLMI query magnification eta (submodlib magnificationEta), >= 0", "", &cfg->flmi_eta));
  PetscCall(opt_real(PetscOptionsObject, cfg, "-wn_flcg_nu", "FLCG privacy hardness nu (submodlib privacyHardness), >= 0", "", &cfg->flcg_nu));
  {
    int metric = (int)cfg->tsds.metric;
    PetscCall(opt_real(PetscOptionsObject, cfg, "-wn_tsds_alpha", "TSDS trade-off between alignment (OT) and diversity (density), in [0, 1]", "", &cfg->tsds.alpha));
    PetscCall(opt_real(PetscOptionsObject, cfg, "-wn_tsds_c", "TSDS distance scale C, > 0 (same scale as the embedding norms)", "distance", &cfg->tsds.C));
    PetscCall(opt_real(PetscOptionsObject, cfg, "-wn_tsds_sigma", "TSDS density bandwidth sigma, >= 0; 0 = no density term", "distance", &cfg->tsds.sigma));
    PetscCall(opt_int64(PetscOptionsObject, cfg, "-wn_tsds_max_k", "TSDS neighbours per target (capped at N/10)", "count", &cfg->tsds.max_K));
    PetscCall(opt_int64(PetscOptionsObject, cfg, "-wn_tsds_kde_k", "TSDS neighbours for the density (capped at N/10)", "count", &cfg->tsds.kde_K));
    PetscCall(opt_bool(PetscOptionsObject, cfg, "-wn_tsds_replace", "TSDS samples -wn_budget draws with replacement (the paper) or without [bool]", &cfg->tsds.replace));
    PetscCall(opt_enum(PetscOptionsObject, cfg, "-wn_tsds_metric", "TSDS kNN distance: l2 (the reference) or cosine", wn_knn_metric_names, 2, &metric));
    cfg->tsds.metric = (wn_knn_metric)metric;
  }
  {
    int src = (int)cfg->p3_source;
    PetscCall(opt_enum(PetscOptionsObject, cfg, "-wn_dpp_kernel", "DPP similarity S: auto (dpp: cosine; p3 rounds: dot of the normalised features; p3 onepass: rbf), cosine, dot, rbf (-wn_kernel_gamma)", wn_dpp_kernel_names, 4, &cfg->dpp_kernel));
    PetscCall(opt_real(PetscOptionsObject, cfg, "-wn_dpp_jitter", "Added to the DPP kernel's diagonal (makes a low-rank L full rank), >= 0", "", &cfg->dpp.jitter));
    PetscCall(opt_real(PetscOptionsObject, cfg, "-wn_dpp_epsilon", "DPP greedy stops when the largest Schur complement d^2 is below this (Chen et al.: 1e-10)", "", &cfg->dpp.epsilon));
    PetscCall(opt_string(PetscOptionsObject, cfg, "-wn_dpp_quality", "dpp: dataset of N qualities q >= 0 in the candidates file, L = diag(q) S diag(q); \"\" = 1 [dataset]", "dataset", cfg->dpp_quality, sizeof(cfg->dpp_quality)));
    PetscCall(opt_bool(PetscOptionsObject, cfg, "-wn_dpp_check", "Recompute log det(L_Y) with ScaLAPACK (pdpotrf) and compare with the greedy's [bool]", &cfg->dpp_check));
    PetscCall(opt_real(PetscOptionsObject, cfg, "-wn_dpp_check_tol", "Relative tolerance of that comparison, |a - b| / max(1, |b|)", "", &cfg->dpp_check_tol));
    PetscCall(opt_bool(PetscOptionsObject, cfg, "-wn_dpp_normalize", "Also compute log det(L + I) over the candidates (ScaLAPACK) and report log P(Y) [bool]", &cfg->dpp_normalize));
    PetscCall(opt_int64(PetscOptionsObject, cfg, "-wn_dpp_nb", "ScaLAPACK block size of the log-determinants, 0 = 64 [rows]", "rows", &cfg->dpp_nb));
    PetscCall(opt_int64(PetscOptionsObject, cfg, "-wn_p3_epoch", "p3: the epoch e whose signals are read (0-based) [epoch]", "epoch", &cfg->p3_epoch));
    PetscCall(opt_int64(PetscOptionsObject, cfg, "-wn_p3_epochs", "p3: number of epochs E of the percentile schedule [epochs]", "epochs", &cfg->p3_epochs));
    PetscCall(opt_real(PetscOptionsObject, cfg, "-wn_p3_pct_start", "p3: percentile at epoch 0 (the reference: 45) [%]", "%", &cfg->p3_pct_start));
    PetscCall(opt_real(PetscOptionsObject, cfg, "-wn_p3_pct_end", "p3: percentile the schedule heads to at epoch E (the reference: 95) [%]", "%", &cfg->p3_pct_end));
    PetscCall(opt_string(PetscOptionsObject, cfg, "-wn_p3_signals", "p3: HDF5 file with /signals/epoch_<e>/...; default: the candidates file [path]", "path", cfg->p3_signals, sizeof(cfg->p3_signals)));
    PetscCall(opt_enum(PetscOptionsObject, cfg, "-wn_p3_source", "p3: difficulty from auto (difficulty if present, else steps), steps (step_prob + step_offset) or difficulty", wn_p3_source_names, 3, &src));
    PetscCall(opt_bool(PetscOptionsObject, cfg, "-wn_p3_trend", "p3: threshold the trend score D + alpha (D - D_prev) instead of D (needs epoch >= 1) [bool]", &cfg->p3_trend));
    PetscCall(opt_real(PetscOptionsObject, cfg, "-wn_p3_alpha", "p3: weight alpha of the trend score", "", &cfg->p3_alpha));
    PetscCall(opt_enum(PetscOptionsObject, cfg, "-wn_p3_mode", "p3: rounds (the reference: re-standardise and restart the DPP until the budget is met) or onepass (one full-rank DPP)", wn_p3_mode_names, 2, &cfg->p3_mode));
    PetscCall(opt_enum(PetscOptionsObject, cfg, "-wn_p3_features", "p3: DPP features from signals (/signals/epoch_<e>/features) or the candidates' embedding", wn_p3_features_names, 2, &cfg->p3_features));
    cfg->p3_source = (wn_p3_source)src;
  }
  { /* LoBaSS */
    int score = (int)cfg->lobass_score, per_label = (int)cfg->lobass_per_label;
    PetscCall(opt_enum(PetscOptionsObject, cfg, "-wn_lobass_score", "lobass: learnability score diff (L0 - L1) or normalized ((L0 - L1) / L0)", wn_lobass_score_names, 2, &score));
    PetscCall(opt_string(PetscOptionsObject, cfg, "-wn_lobass_signals", "lobass: HDF5 file with the losses; default: the candidates file [path]", "path", cfg->lobass_signals, sizeof(cfg->lobass_signals)));
    PetscCall(opt_string(PetscOptionsObject, cfg, "-wn_lobass_loss_base", "lobass: dataset of the N losses L0 under the base model [dataset]", "dataset", cfg->lobass_loss_base, sizeof(cfg->lobass_loss_base)));
    PetscCall(opt_string(PetscOptionsObject, cfg, "-wn_lobass_loss_tuned", "lobass: dataset of the N losses L1 under the fine-tuned reference model [dataset]", "dataset", cfg->lobass_loss_tuned, sizeof(cfg->lobass_loss_tuned)));
    PetscCall(opt_enum(PetscOptionsObject, cfg, "-wn_lobass_per_label", "lobass: one top-k (none), or per label with budgets proportional to the label sizes or given", wn_lobass_per_label_names, 3, &per_label));
    PetscCall(opt_string(PetscOptionsObject, cfg, "-wn_lobass_label_budgets", "lobass: per-label budgets \"label:count,...\" for -wn_lobass_per_label given (they add up to -wn_budget)", "", cfg->lobass_label_budgets, sizeof(cfg->lobass_label_budgets)));
    cfg->lobass_score     = (wn_lobass_score)score;
    cfg->lobass_per_label = (wn_lobass_per_label)per_label;
  }
  PetscCall(opt_int64(PetscOptionsObject, cfg, "-wn_checkpoint_every", "Write a checkpoint of the greedy loop every N picks, 0 = off [picks]", "picks", &cfg->checkpoint_every));
  PetscCall(opt_real(PetscOptionsObject, cfg, "-wn_checkpoint_interval", "Write a checkpoint of the greedy loop every T seconds, 0 = off [s]", "s", &cfg->checkpoint_interval));
  PetscCall(opt_string(PetscOptionsObject, cfg, "-wn_checkpoint_file", "Checkpoint file; default PREFIX.ckpt.h5 (PREFIX = -wn_output) [path]", "path", cfg->checkpoint_file, sizeof(cfg->checkpoint_file)));
  PetscCall(opt_bool(PetscOptionsObject, cfg, "-wn_restart", "Resume from -wn_checkpoint_file (same inputs and options; any rank count) [bool]", &cfg->restart));
  PetscCall(opt_string(PetscOptionsObject, cfg, "-wn_warm_start", "Text file of candidate ids (one per line) selected first [path]", "path", cfg->warm_start, sizeof(cfg->warm_start)));
  PetscCall(opt_real(PetscOptionsObject, cfg, "-wn_progress", "Seconds between progress lines on long loops, 0 = none [s]", "s", &cfg->progress_interval));
  PetscCall(opt_string(PetscOptionsObject, cfg, "-wn_quality_label", "Candidate label counted as on-target in the quality report; default: the targets' label", "", cfg->quality_label, sizeof(cfg->quality_label)));
  /* outputs */
  PetscCall(opt_string(PetscOptionsObject, cfg, "-wn_output", "Output prefix: PREFIX.h5, PREFIX.jsonl, PREFIX.yaml [path]", "path", cfg->output, sizeof(cfg->output)));
  PetscCall(opt_bool(PetscOptionsObject, cfg, "-wn_scores", "Also write per-candidate scores with a selected flag [bool]", &cfg->scores));
  PetscCall(opt_bool(PetscOptionsObject, cfg, "-wn_jsonl_all", "PREFIX.jsonl holds every candidate (pool order) with a selected flag, not only the selection [bool]", &cfg->jsonl_all));
  /* featurize */
  {
    wn_featurize_params *f = &cfg->featurize;
    int64_t              bits = f->hash_bits, seed = (int64_t)f->seed, tseed = (int64_t)f->target_seed;
    PetscCall(opt_string(PetscOptionsObject, cfg, "-wn_text", "featurize: JSONL input, one record per line [path]", "path", f->input, sizeof(f->input)));
    PetscCall(opt_string(PetscOptionsObject, cfg, "-wn_text_fields", "featurize: comma-separated string members joined (with a space) into the text", "", f->text_fields, sizeof(f->text_fields)));
    PetscCall(opt_string(PetscOptionsObject, cfg, "-wn_id_field", "featurize: member holding the id; \"\" = line numbers", "", f->id_field, sizeof(f->id_field)));
    PetscCall(opt_string(PetscOptionsObject, cfg, "-wn_label_field", "featurize: member holding the label; \"\" = none", "", f->label_field, sizeof(f->label_field)));
    PetscCall(opt_string(PetscOptionsObject, cfg, "-wn_embeddings", "featurize: HDF5 file written (the candidates file of later stages) [path]", "path", f->output, sizeof(f->output)));
    PetscCall(opt_int64(PetscOptionsObject, cfg, "-wn_featurize_dim", "featurize: embedding dimension d", "", &f->dim));
    PetscCall(opt_int64(PetscOptionsObject, cfg, "-wn_featurize_hash_bits", "featurize: log2 of the hashed feature buckets, 8 to 28", "bits", &bits));
    PetscCall(opt_int64(PetscOptionsObject, cfg, "-wn_featurize_seed", "featurize: seed of the hashing and the sign projection", "", &seed));
    PetscCall(opt_bool(PetscOptionsObject, cfg, "-wn_skip_bad", "featurize: skip (and count) malformed lines instead of failing [bool]", &f->skip_bad));
    PetscCall(opt_string(PetscOptionsObject, cfg, "-wn_holdout_label", "featurize: hold out records with this label as the target set (\"\" = none)", "", f->target_label, sizeof(f->target_label)));
    PetscCall(opt_int64(PetscOptionsObject, cfg, "-wn_holdout_count", "featurize: how many held-out targets (a seeded sample) [count]", "count", &f->target_count));
    PetscCall(opt_int64(PetscOptionsObject, cfg, "-wn_holdout_seed", "featurize: seed of the held-out sample", "", &tseed));
    f->hash_bits   = (int)bits;
    f->seed        = (uint64_t)seed;
    f->target_seed = (uint64_t)tseed;
  }
  /* signals (the reference language model; candidates -wn_text, output default -wn_embeddings, epoch -wn_p3_epoch) */
  {
    wn_signals_params *s = &cfg->signals;
    PetscCall(opt_string(PetscOptionsObject, cfg, "-wn_signals_base", "signals: base model's corpus: a fortunes directory or file ('%'-separated quotes), a text file (one unit per line) or JSONL [path]", "path", s->base, sizeof(s->base)));
    PetscCall(opt_enum(PetscOptionsObject, cfg, "-wn_signals_base_format", "signals: how to read -wn_signals_base: auto (directory/'%' lines: fortune, *.jsonl: jsonl, else text), fortune, text, jsonl", wn_signals_base_format_names, 4, &s->base_format));
    PetscCall(opt_string(PetscOptionsObject, cfg, "-wn_signals_base_fields", "signals: JSONL base corpus: comma-separated string members joined into one unit", "", s->base_fields, sizeof(s->base_fields)));
    PetscCall(opt_string(PetscOptionsObject, cfg, "-wn_signals_train", "signals: JSONL added to the base corpus for the fine-tuned model (e.g. the pool, or selected examples); \"\" = none [path]", "path", s->train, sizeof(s->train)));
    PetscCall(opt_string(PetscOptionsObject, cfg, "-wn_signals_output", "signals: HDF5 file that gets /signals; default: -wn_embeddings [path]", "path", s->output, sizeof(s->output)));
    PetscCall(opt_string(PetscOptionsObject, cfg, "-wn_signals_text_field", "signals: member split into prompt and response at -wn_signals_separator", "", s->text_field, sizeof(s->text_field)));
    PetscCall(opt_string(PetscOptionsObject, cfg, "-wn_signals_prompt_field", "signals: member holding the prompt (with -wn_signals_response_field; \"\" = split -wn_signals_text_field)", "", s->prompt_field, sizeof(s->prompt_field)));
    PetscCall(opt_string(PetscOptionsObject, cfg, "-wn_signals_response_field", "signals: member holding the response", "", s->response_field, sizeof(s->response_field)));
    PetscCall(opt_string(PetscOptionsObject, cfg, "-wn_signals_separator", "signals: the prompt ends with the first occurrence of this string (\\n \\t escapes)", "", s->separator, sizeof(s->separator)));
    PetscCall(opt_string(PetscOptionsObject, cfg, "-wn_signals_step_separators", "signals: any of these bytes ends a step of the response (\\n \\t escapes; WordNet glosses: ';')", "", s->step_separators, sizeof(s->step_separators)));
    PetscCall(opt_int64(PetscOptionsObject, cfg, "-wn_signals_order", "signals: n-gram order of the reference model, 1 to 8", "", &s->order));
    PetscCall(opt_real(PetscOptionsObject, cfg, "-wn_signals_discount", "signals: Kneser-Ney absolute discount D, in (0, 1]", "", &s->discount));
    PetscCall(opt_bool(PetscOptionsObject, cfg, "-wn_signals_losses", "signals: write /signals/loss_base and loss_tuned (LoBaSS) [bool]", &s->losses));
    PetscCall(opt_bool(PetscOptionsObject, cfg, "-wn_signals_p3", "signals: write /signals/epoch_<e>/{step_offset,step_prob,features} for e = -wn_p3_epoch (P3) [bool]", &s->p3));
    PetscCall(opt_int64(PetscOptionsObject, cfg, "-wn_signals_features", "signals: P3 features per candidate: the smallest prompt-token probabilities [count]", "count", &s->n_features));
    PetscCall(opt_bool(PetscOptionsObject, cfg, "-wn_signals_force", "signals: replace existing /signals datasets (and SYNTHETIC /signals as a whole) [bool]", &s->force));
  }
  /* bench */
  PetscCall(opt_int64(PetscOptionsObject, cfg, "-wn_bench_n", "bench: synthetic candidates N [rows]", "rows", &cfg->bench_n));
  PetscCall(opt_int64(PetscOptionsObject, cfg, "-wn_bench_m", "bench: synthetic targets M [rows]", "rows", &cfg->bench_m));
  PetscCall(opt_int64(PetscOptionsObject, cfg, "-wn_bench_d", "bench: embedding dimension d", "", &cfg->bench_d));
  PetscCall(opt_int64(PetscOptionsObject, cfg, "-wn_bench_k", "bench: budget k of the lazy greedy [count]", "count", &cfg->bench_k));
  PetscCall(PetscOptionsInt("-wn_bench_repeat", "bench: repetitions of each timing (best is reported)", "doc/decks.md", cfg->bench_repeat, &cfg->bench_repeat, NULL));
  config_note(cfg, "-wn_bench_repeat", "", "%d", (int)cfg->bench_repeat);
  PetscCall(opt_bool(PetscOptionsObject, cfg, "-wn_bench_tsds", "bench: also time the exact kNN of the targets and TSDS with the TSDS settings [bool]", &cfg->bench_tsds));
  PetscCall(opt_bool(PetscOptionsObject, cfg, "-wn_bench_dpp", "bench: also time the DPP greedy (rbf, N, d, k) and ScaLAPACK log-determinants against DGEMM [bool]", &cfg->bench_dpp));
  PetscCall(opt_bool(PetscOptionsObject, cfg, "-wn_bench_comm", "bench: also time the greedy's communication per iteration (MAXLOC allreduce + broadcast of B bytes) [bool]", &cfg->bench_comm));
  PetscCall(opt_int64(PetscOptionsObject, cfg, "-wn_bench_logdet_max", "bench: largest order of the log-determinant timings (2000, 4000, ... up to it) [rows]", "rows", &cfg->bench_logdet_max));
  PetscCall(opt_bool(PetscOptionsObject, cfg, "-wn_traceback", "Print the full traceback with errors [bool]", &traceback));
  PetscOptionsEnd();
  cfg->kernel.metric = (wn_metric)metric;
  cfg->greedy        = (wn_greedy_kind)greedy;

  /* ---- validation: every rank holds the same values, so comm-wide checks print once ---- */
  PetscCheck(wn_method_find(cfg->method) != NULL, comm, PETSC_ERR_ARG_UNKNOWN_TYPE, "-wn_method '%s' is not a known method (known: %s)", cfg->method, wn_method_list());
  PetscCheck(cfg->kernel.metric != WN_METRIC_RBF || cfg->kernel.gamma > 0, comm, PETSC_ERR_ARG_OUTOFRANGE, "-wn_kernel_gamma must be > 0 for the rbf metric, got %g", cfg->kernel.gamma);
  PetscCheck(cfg->kernel.tile_rows >= 0 && cfg->kernel.tile_cols >= 0 && cfg->kernel.tile_rows <= 1048576 && cfg->kernel.tile_cols <= 1048576, comm, PETSC_ERR_ARG_OUTOFRANGE,
             "-wn_kernel_tile_rows and -wn_kernel_tile_cols must be between 0 (automatic) and 1048576, got %lld and %lld", (long long)cfg->kernel.tile_rows, (long long)cfg->kernel.tile_cols);
  PetscCheck(!strcmp(cfg->kernel_orientation, "candidate-major") || !strcmp(cfg->kernel_orientation, "target-major"), comm, PETSC_ERR_ARG_WRONG,
             "-wn_kernel_orientation must be candidate-major or target-major, got '%s'", cfg->kernel_orientation);
  PetscCheck(cfg->flmi_eta >= 0 && isfinite(cfg->flmi_eta), comm, PETSC_ERR_ARG_OUTOFRANGE, "-wn_flmi_eta must be a finite value >= 0, got %g", cfg->flmi_eta);
  PetscCheck(cfg->flcg_nu >= 0 && isfinite(cfg->flcg_nu), comm, PETSC_ERR_ARG_OUTOFRANGE, "-wn_flcg_nu must be a finite value >= 0, got %g", cfg->flcg_nu);
  PetscCheck(cfg->progress_interval >= 0, comm, PETSC_ERR_ARG_OUTOFRANGE, "-wn_progress must be >= 0 seconds, got %g", cfg->progress_interval);
  PetscCheck(!isnan(cfg->min_gain), comm, PETSC_ERR_ARG_OUTOFRANGE, "-wn_min_gain must be a number");
  PetscCheck(cfg->output[0] && cfg->output[strlen(cfg->output) - 1] != '/', comm, PETSC_ERR_ARG_WRONG, "-wn_output '%s' must be a file prefix (PREFIX.h5, PREFIX.jsonl, PREFIX.yaml), not empty or a directory", cfg->output);
  PetscCheck(cfg->sparse_k >= 0, comm, PETSC_ERR_ARG_OUTOFRANGE, "-wn_kernel_sparse_k must be >= 0 (0 = dense), got %lld", (long long)cfg->sparse_k);
  PetscCheck(!(cfg->sparse_k > 0 && cfg->kernel.minmax), comm, PETSC_ERR_ARG_INCOMP, "-wn_kernel_minmax needs the dense kernel (the global minimum is not among the kept entries): drop -wn_kernel_sparse_k or -wn_kernel_minmax");
  PetscCheck(cfg->tsds.alpha >= 0 && cfg->tsds.alpha <= 1, comm, PETSC_ERR_ARG_OUTOFRANGE, "-wn_tsds_alpha must be in [0, 1], got %g", cfg->tsds.alpha);
  PetscCheck(cfg->tsds.C > 0 && isfinite(cfg->tsds.C), comm, PETSC_ERR_ARG_OUTOFRANGE, "-wn_tsds_c must be > 0, got %g", cfg->tsds.C);
  PetscCheck(cfg->tsds.sigma >= 0 && isfinite(cfg->tsds.sigma), comm, PETSC_ERR_ARG_OUTOFRANGE, "-wn_tsds_sigma must be >= 0, got %g", cfg->tsds.sigma);
  PetscCheck(cfg->tsds.max_K >= 1 && cfg->tsds.kde_K >= 1, comm, PETSC_ERR_ARG_OUTOFRANGE, "-wn_tsds_max_k and -wn_tsds_kde_k must be >= 1, got %lld and %lld", (long long)cfg->tsds.max_K, (long long)cfg->tsds.kde_K);
  PetscCheck(cfg->dpp.jitter >= 0 && isfinite(cfg->dpp.jitter), comm, PETSC_ERR_ARG_OUTOFRANGE, "-wn_dpp_jitter must be a finite value >= 0, got %g", cfg->dpp.jitter);
  PetscCheck(cfg->dpp.epsilon >= 0 && isfinite(cfg->dpp.epsilon), comm, PETSC_ERR_ARG_OUTOFRANGE, "-wn_dpp_epsilon must be a finite value >= 0, got %g", cfg->dpp.epsilon);
  PetscCheck(cfg->dpp_check_tol > 0, comm, PETSC_ERR_ARG_OUTOFRANGE, "-wn_dpp_check_tol must be > 0, got %g", cfg->dpp_check_tol);
  PetscCheck(cfg->dpp_nb >= 0 && cfg->dpp_nb <= 4096, comm, PETSC_ERR_ARG_OUTOFRANGE, "-wn_dpp_nb must be between 0 (= 64) and 4096, got %lld", (long long)cfg->dpp_nb);
  PetscCheck(cfg->p3_epochs >= 1, comm, PETSC_ERR_ARG_OUTOFRANGE, "-wn_p3_epochs must be >= 1, got %lld", (long long)cfg->p3_epochs);
  PetscCheck(cfg->p3_epoch >= 0 && cfg->p3_epoch < cfg->p3_epochs, comm, PETSC_ERR_ARG_OUTOFRANGE, "-wn_p3_epoch must be between 0 and -wn_p3_epochs - 1 = %lld, got %lld", (long long)(cfg->p3_epochs - 1), (long long)cfg->p3_epoch);
  PetscCheck(cfg->p3_pct_start >= 0 && cfg->p3_pct_start <= 100 && cfg->p3_pct_end >= 0 && cfg->p3_pct_end <= 100, comm, PETSC_ERR_ARG_OUTOFRANGE, "-wn_p3_pct_start and -wn_p3_pct_end must be percentages in [0, 100], got %g and %g", cfg->p3_pct_start, cfg->p3_pct_end);
  PetscCheck(!cfg->p3_trend || cfg->p3_epoch >= 1, comm, PETSC_ERR_ARG_INCOMP, "-wn_p3_trend needs the previous epoch's difficulty: -wn_p3_epoch must be >= 1, got %lld", (long long)cfg->p3_epoch);
  PetscCheck(isfinite(cfg->p3_alpha), comm, PETSC_ERR_ARG_OUTOFRANGE, "-wn_p3_alpha must be finite");
  PetscCheck(cfg->lobass_per_label == WN_LOBASS_PER_LABEL_GIVEN || !cfg->lobass_label_budgets[0], comm, PETSC_ERR_ARG_INCOMP, "-wn_lobass_label_budgets needs -wn_lobass_per_label given (it is %s)", wn_lobass_per_label_names[cfg->lobass_per_label]);
  PetscCheck(cfg->lobass_per_label != WN_LOBASS_PER_LABEL_GIVEN || cfg->lobass_label_budgets[0], comm, PETSC_ERR_ARG_WRONG, "-wn_lobass_per_label given needs -wn_lobass_label_budgets \"label:count,label:count,...\"");
  if (cfg->lobass_label_budgets[0]) PetscCall(wn_lobass_budgets_check(comm, cfg->lobass_label_budgets, NULL, NULL));
  PetscCheck(cfg->lobass_loss_base[0] && cfg->lobass_loss_tuned[0], comm, PETSC_ERR_ARG_WRONG, "-wn_lobass_loss_base and -wn_lobass_loss_tuned must name datasets");
  PetscCheck(cfg->checkpoint_every >= 0 && cfg->checkpoint_interval >= 0 && isfinite(cfg->checkpoint_interval), comm, PETSC_ERR_ARG_OUTOFRANGE,
             "-wn_checkpoint_every and -wn_checkpoint_interval must be >= 0 (0 = off), got %lld and %g", (long long)cfg->checkpoint_every, cfg->checkpoint_interval);
  PetscCheck(!(cfg->restart || cfg->checkpoint_every || cfg->checkpoint_interval) || !(!strcmp(cfg->method, "p3") || !strcmp(cfg->method, "tsds") || !strcmp(cfg->method, "lobass")), comm,
             PETSC_ERR_ARG_INCOMP, "-wn_checkpoint_* and -wn_restart are for the greedy methods (fl, fl_pool, flmi, flcg, dpp, dpp_kernel); %s %s", cfg->method,
             !strcmp(cfg->method, "p3") ? "restarts by epoch (jobs/p3_epochs.sh)" : "has no long loop to resume (rerun it)");
  if (!cfg->checkpoint_file[0]) PetscCall(PetscSNPrintf(cfg->checkpoint_file, sizeof(cfg->checkpoint_file), "%s.ckpt.h5", cfg->output));
  PetscCheck(cfg->subsample >= 0, comm, PETSC_ERR_ARG_OUTOFRANGE, "-wn_subsample must be >= 0 (0 = the whole pool), got %lld", (long long)cfg->subsample);
  PetscCheck(cfg->bench_n > 0 && cfg->bench_m > 0 && cfg->bench_d > 0 && cfg->bench_k > 0 && cfg->bench_k <= cfg->bench_n && cfg->bench_repeat > 0, comm, PETSC_ERR_ARG_OUTOFRANGE,
             "bench sizes must be positive with -wn_bench_k <= -wn_bench_n (got n=%lld m=%lld d=%lld k=%lld)", (long long)cfg->bench_n, (long long)cfg->bench_m, (long long)cfg->bench_d, (long long)cfg->bench_k);
  if (!strcmp(cfg->memory_limit_text, "auto")) PetscCall(wn_config_default_memory_limit(comm, &cfg->memory_limit));
  else PetscCall(wn_parse_bytes(comm, cfg->memory_limit_text, &cfg->memory_limit));
  PetscCheck(cfg->memory_limit > 0, comm, PETSC_ERR_ARG_OUTOFRANGE, "-wn_memory_limit must be positive");

  /* inputs the subcommand needs */
  if (command == WN_CMD_KERNEL || command == WN_CMD_RUN) {
    const wn_method *m = wn_method_find(cfg->method);
    PetscCheck(cfg->candidates.path[0], comm, PETSC_ERR_ARG_WRONG, "`winnow %s` needs the candidate embeddings: set -wn_candidates FILE (HDF5 or .npy)", wn_command_names[command]);
    if (!cfg->targets.path[0] && (m->needs & (WN_NEEDS_TARGET_KERNEL | WN_NEEDS_QUERY_KERNEL | WN_NEEDS_EMBEDDINGS))) PetscCall(PetscStrncpy(cfg->targets.path, cfg->candidates.path, sizeof(cfg->targets.path)));
    if (!cfg->private_set.path[0] && (m->needs & WN_NEEDS_PRIVATE_KERNEL)) PetscCall(PetscStrncpy(cfg->private_set.path, cfg->candidates.path, sizeof(cfg->private_set.path)));
  }
  if (command == WN_CMD_KERNEL && (wn_method_find(cfg->method)->needs & WN_NEEDS_FEATURES)) SETERRQ(comm, PETSC_ERR_ARG_INCOMP, "method %s needs no kernel file: use `winnow select` or `winnow run`", cfg->method);
  if ((command == WN_CMD_SELECT || command == WN_CMD_RUN) && (wn_method_find(cfg->method)->needs & WN_NEEDS_FEATURES))
    PetscCheck(cfg->candidates.path[0], comm, PETSC_ERR_ARG_WRONG, "method %s needs the candidates file (-wn_candidates): ids, labels, features and signals are read from it", cfg->method);
  if (command == WN_CMD_SELECT && (wn_method_find(cfg->method)->needs & WN_NEEDS_EMBEDDINGS)) {
    SETERRQ(comm, PETSC_ERR_ARG_INCOMP, "method %s works on embeddings, not on a kernel file: use `winnow run` with -wn_candidates and -wn_targets", cfg->method);
  }
  if (command == WN_CMD_KERNEL && (wn_method_find(cfg->method)->needs & WN_NEEDS_EMBEDDINGS)) SETERRQ(comm, PETSC_ERR_ARG_INCOMP, "method %s needs no kernel: use `winnow run`", cfg->method);
  if (command == WN_CMD_FEATURIZE) {
    PetscCheck(cfg->featurize.input[0], comm, PETSC_ERR_ARG_WRONG, "`winnow featurize` needs a JSONL input: set -wn_text FILE.jsonl");
    PetscCheck(cfg->featurize.text_fields[0], comm, PETSC_ERR_ARG_WRONG, "-wn_text_fields must name at least one member");
  }
  PetscCheck(cfg->featurize.dim >= 1 && cfg->featurize.dim <= 65536, comm, PETSC_ERR_ARG_OUTOFRANGE, "-wn_featurize_dim must be between 1 and 65536, got %lld", (long long)cfg->featurize.dim);
  PetscCheck(cfg->featurize.hash_bits >= 8 && cfg->featurize.hash_bits <= 28, comm, PETSC_ERR_ARG_OUTOFRANGE, "-wn_featurize_hash_bits must be between 8 and 28, got %d", cfg->featurize.hash_bits);
  PetscCheck(cfg->featurize.target_count >= 1, comm, PETSC_ERR_ARG_OUTOFRANGE, "-wn_holdout_count must be >= 1, got %lld", (long long)cfg->featurize.target_count);
  if (command == WN_CMD_SIGNALS) { /* the shared keys the signals read */
    wn_signals_params *s = &cfg->signals;
    PetscCall(PetscStrncpy(s->candidates, cfg->featurize.input, sizeof(s->candidates)));
    PetscCall(PetscStrncpy(s->embeddings, cfg->featurize.output, sizeof(s->embeddings)));
    PetscCall(PetscStrncpy(s->source_row_dataset, cfg->candidates.source_row_dataset, sizeof(s->source_row_dataset)));
    if (!s->output[0]) PetscCall(PetscStrncpy(s->output, cfg->featurize.output, sizeof(s->output)));
    s->epoch    = cfg->p3_epoch;
    s->skip_bad = cfg->featurize.skip_bad;
    s->progress = cfg->progress_interval;
    PetscCheck(s->candidates[0], comm, PETSC_ERR_ARG_WRONG, "`winnow signals` needs the candidates' JSONL: set -wn_text FILE.jsonl (the records `winnow featurize` read)");
  }
  if (command == WN_CMD_INFO) PetscCheck(cfg->info_file[0], comm, PETSC_ERR_ARG_WRONG, "`winnow info` needs a file: winnow info FILE");
  PetscFunctionReturn(PETSC_SUCCESS);
}

int wn_config_edit_distance(const char *a, const char *b)
{
  size_t la = strlen(a), lb = strlen(b);
  int    row[128], prev, tmp;

  if (lb >= 127) return 1000;
  for (size_t j = 0; j <= lb; j++) row[j] = (int)j;
  for (size_t i = 1; i <= la; i++) {
    prev   = row[0];
    row[0] = (int)i;
    for (size_t j = 1; j <= lb; j++) {
      int sub = prev + (a[i - 1] != b[j - 1]), del = row[j] + 1, ins = row[j - 1] + 1;
      tmp    = row[j];
      row[j] = sub < del ? (sub < ins ? sub : ins) : (del < ins ? del : ins);
      prev   = tmp;
    }
  }
  return row[lb];
}

/**
  @brief Refuse -wn_ options that no code read (misspelled or unknown keys), naming the closest known key.

  Collective on comm. Must be called after every key was read (wn_config_read reads all of them).
**/
PetscErrorCode wn_config_check_unknown(MPI_Comm comm, const wn_config *cfg)
{
  PetscInt n_left;
  char   **names, **values;
  char     msg[1024] = "";

  PetscFunctionBeginUser;
  PetscCall(PetscOptionsLeftGet(NULL, &n_left, &names, &values));
  for (PetscInt i = 0; i < n_left; i++) {
    const char *best = NULL;
    int         best_d = 1000;
    if (strncmp(names[i], "wn_", 3)) {
      /* not ours: PETSc's own options are read later (-log_view at the end); others are probably typos */
      static const char *petsc[] = {"log_view", "log_trace", "log_all", "log_sync", "log_exclude", "options_", "malloc", "info", "help", "on_error", "start_in_debugger", "debugger", "history", "petsc", "viewer", "objects_dump", "memory_view", "check_pointer", "no_signal_handler", "fp_trap", "skip_petscrc", NULL};
      PetscBool          known   = PETSC_FALSE;
      for (int k = 0; petsc[k]; k++)
        if (!strncmp(names[i], petsc[k], strlen(petsc[k]))) known = PETSC_TRUE;
      if (!known) PetscCall(PetscPrintf(comm, "winnow: warning: option -%s is not one of winnow's nor a PETSc option winnow knows; it is ignored (misspelled?)\n", names[i]));
      continue;
    }
    for (int e = 0; e < cfg->n_entries; e++) {
      int dist = wn_config_edit_distance(names[i], cfg->entry_key[e] + 1);
      if (dist < best_d) {
        best_d = dist;
        best   = cfg->entry_key[e];
      }
    }
    if (best && best_d <= 4) PetscCall(PetscSNPrintf(msg, sizeof(msg), "unknown option -%s (did you mean %s?); `winnow -help` lists every key", names[i], best));
    else PetscCall(PetscSNPrintf(msg, sizeof(msg), "unknown option -%s; `winnow -help` lists every key", names[i]));
    break;
  }
  PetscCall(PetscOptionsLeftRestore(NULL, &n_left, &names, &values));
  PetscCheck(!msg[0], comm, PETSC_ERR_ARG_WRONG, "%s", msg);
  PetscFunctionReturn(PETSC_SUCCESS);
}

/**
  @brief Print the resolved configuration (every key, its value and unit) on rank 0 of comm.

  Collective on comm.
**/
PetscErrorCode wn_config_echo(MPI_Comm comm, const wn_config *cfg, FILE *fp)
{
  PetscMPIInt size;

  PetscFunctionBeginUser;
  PetscCallMPI(MPI_Comm_size(comm, &size));
  PetscCall(PetscFPrintf(comm, fp, "configuration (subcommand %s, deck %s, %d ranks)\n", wn_command_names[cfg->command], cfg->deck[0] ? cfg->deck : "(none)", size));
  for (int e = 0; e < cfg->n_entries; e++) {
    const char *k = cfg->entry_key[e];
    if (!strncmp(k, "-wn_bench_", 10) && cfg->command != WN_CMD_BENCH) continue;
    /* featurize echoes only its own keys, the other subcommands only theirs */
    if (cfg->command == WN_CMD_SIGNALS) { /* signals echo their own keys and the shared ones they read */
      if (strncmp(k, "-wn_signals_", 12) && strcmp(k, "-wn_text") && strcmp(k, "-wn_embeddings") && strcmp(k, "-wn_source_row_dataset") && strcmp(k, "-wn_p3_epoch") && strcmp(k, "-wn_skip_bad") && strcmp(k, "-wn_progress") && strcmp(k, "-wn_traceback")) continue;
    } else if (!strncmp(k, "-wn_signals_", 12)) continue;
    else if ((cfg->command == WN_CMD_FEATURIZE) != (!strncmp(k, "-wn_featurize_", 14) || !strcmp(k, "-wn_text") || !strcmp(k, "-wn_text_fields") || !strcmp(k, "-wn_id_field") || !strcmp(k, "-wn_label_field") || !strcmp(k, "-wn_embeddings") ||
                                                  !strcmp(k, "-wn_skip_bad") || !strncmp(k, "-wn_holdout_", 12)) && strcmp(k, "-wn_traceback"))
      continue;
    PetscCall(PetscFPrintf(comm, fp, "  %-28s %s%s%s%s\n", k, cfg->entry_value[e][0] ? cfg->entry_value[e] : "\"\"", cfg->entry_unit[e][0] ? "  [" : "", cfg->entry_unit[e], cfg->entry_unit[e][0] ? "]" : ""));
  }
  {
    char buf[32];
    PetscCall(PetscFPrintf(comm, fp, "  %-28s %s per rank\n", "(memory limit)", wn_format_bytes(cfg->memory_limit, buf, sizeof(buf))));
  }
  PetscFunctionReturn(PETSC_SUCCESS);
}
