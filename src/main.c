/* main.c - winnow: distributed selection of fine-tuning data (DESIGN.md).
 *
 *   winnow featurize [DECK] [...]              JSONL text -> embeddings (hashed TF-IDF, no model)
 *   winnow kernel [DECK] [-wn_key value ...]   embeddings -> kernel file
 *   winnow select [DECK] [...]                 kernel file -> selection
 *   winnow run    [DECK] [...]                 embeddings -> kernel (in memory) -> selection
 *   winnow info   FILE                         describe an input or output file
 *   winnow bench  [DECK] [...]                 kernel stage and greedy vs. this machine's sgemm and triad
 *   winnow signals [DECK] [...]                reference language model -> /signals (LoBaSS losses, P3 steps)
 *
 * main() reads like a table of contents: each phase is one call into one module.
 */
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>
#include <winnow/bench.h>
#include <winnow/checkpoint.h>
#include <winnow/blas.h>
#include <winnow/config.h>
#include <winnow/h5io.h>
#include <winnow/info.h>
#include <winnow/method.h>
#include <winnow/output.h>
#include <winnow/pipeline.h>
#include <winnow/signals.h>

static const char help[] = "winnow: distributed data selection for fine-tuning (TSDS, DELIFT, P3, LoBaSS).\n"
                           "usage: winnow {featurize|kernel|select|run|info|bench|signals} [DECK.opts] [-wn_key value ...]\n"
                           "       winnow info FILE\n"
                           "A deck is a PETSc options file (inputs/*.opts); the command line overrides it.\n"
                           "Every -wn_ key is listed below with its default; see doc/decks.md and `man doc/winnow.1`.\n\n";

static PetscBool wn_checks_failed = PETSC_FALSE;

/* Before PETSc reads the deck: it must be a readable file whose every line is blank, a comment, or starts with
 * an option ("-key [value]"); PETSc would otherwise fail with its whole banner on every rank. Rank 0 only. */
static void deck_check(const char *deck, char *why, size_t len)
{
  FILE  *fp = fopen(deck, "r");
  char   line[8192];
  long   n = 0;

  if (!fp) {
    snprintf(why, len, "cannot read the deck '%s': %s", deck, strerror(errno));
    return;
  }
  while (fgets(line, sizeof(line), fp)) {
    char *p = line, *hash = strchr(line, '#');
    n++;
    if (hash) *hash = 0;
    while (*p == ' ' || *p == '\t' || *p == '\r' || *p == '\n') p++;
    if (*p && *p != '-') {
      char word[64];
      sscanf(p, "%63s", word);
      snprintf(why, len, "deck '%s' line %ld: '%s' is not an option (every setting is '-wn_key value'; # starts a comment)", deck, n, word);
      break;
    }
  }
  if (!why[0] && ferror(fp)) snprintf(why, len, "cannot read the deck '%s': %s", deck, strerror(errno));
  fclose(fp);
}

static PetscErrorCode winnow(wn_command command, const char *deck, const char *info_file)
{
  wn_config cfg;
  wn_run    run;

  PetscFunctionBeginUser;
  PetscCall(wn_error_install());
  PetscCall(wn_interrupt_install()); /* SIGTERM/SIGUSR1 (Slurm before a time limit): checkpoint and stop */
  PetscCall(wn_config_read(PETSC_COMM_WORLD, command, deck, info_file, &cfg)); /* every key, validated */
  if (command == WN_CMD_HELP) {
    PetscCall(wn_method_print_help(PETSC_COMM_WORLD, PETSC_STDOUT));
    PetscFunctionReturn(PETSC_SUCCESS);
  }
  PetscCall(wn_config_check_unknown(PETSC_COMM_WORLD, &cfg)); /* a misspelled -wn_ key is an error */
  if (command == WN_CMD_INFO) {
    PetscCall(wn_info_describe(PETSC_COMM_WORLD, cfg.info_file, PETSC_STDOUT));
    PetscFunctionReturn(PETSC_SUCCESS);
  }
  PetscCall(PetscPrintf(PETSC_COMM_WORLD, "winnow %s: %s\n", wn_command_names[command], wn_blas_fix_note()));
  PetscCall(wn_config_echo(PETSC_COMM_WORLD, &cfg, PETSC_STDOUT));
  if (command == WN_CMD_BENCH) {
    PetscCall(wn_bench_run(PETSC_COMM_WORLD, &cfg));
    PetscFunctionReturn(PETSC_SUCCESS);
  }
  if (command == WN_CMD_SIGNALS) { /* reference language model: train, score, write /signals (src/signals.c) */
    char path[PETSC_MAX_PATH_LEN + 16];
    PetscCall(wn_report_init(PETSC_COMM_WORLD, &run.report));
    PetscCall(wn_signals_run(PETSC_COMM_WORLD, &cfg.signals, &run.report));
    PetscCall(wn_report_print(&run.report, PETSC_STDOUT)); /* checks, RESULT line */
    PetscCall(PetscSNPrintf(path, sizeof(path), "%s.signals.yaml", cfg.signals.output));
    PetscCall(wn_output_write_provenance(PETSC_COMM_WORLD, path, &cfg, &run.report));
    PetscCall(PetscPrintf(PETSC_COMM_WORLD, "provenance: %s\n", path));
    wn_checks_failed = wn_report_passed(&run.report) ? PETSC_FALSE : PETSC_TRUE;
    PetscFunctionReturn(PETSC_SUCCESS);
  }

  PetscCall(wn_run_init(PETSC_COMM_WORLD, &cfg, &run));
  switch (command) {
  case WN_CMD_FEATURIZE:
    PetscCall(wn_output_check_writable(PETSC_COMM_WORLD, cfg.featurize.output));
    PetscCall(wn_output_check_clobber(PETSC_COMM_WORLD, &cfg));
    PetscCall(wn_pipeline_featurize(&run)); /* JSONL text -> hashed TF-IDF embeddings, own byte range per rank */
    break;
  case WN_CMD_KERNEL:
    PetscCall(wn_output_check_writable(PETSC_COMM_WORLD, cfg.kernel_file));
    PetscCall(wn_output_check_clobber(PETSC_COMM_WORLD, &cfg));
    PetscCall(wn_pipeline_load(&run));          /* embeddings: own rows, targets replicated */
    PetscCall(wn_pipeline_kernel(&run));        /* K[c, t] in sgemm tiles */
    PetscCall(wn_pipeline_write_kernels(&run)); /* one HDF5 dataset per kernel, chunked along rows */
    break;
  case WN_CMD_SELECT:
    PetscCall(wn_output_check_writable(PETSC_COMM_WORLD, cfg.output));
    PetscCall(wn_output_check_clobber(PETSC_COMM_WORLD, &cfg));
    if (run.method->needs & WN_NEEDS_FEATURES) { /* DPP, P3: the pool's own features and signals, no kernel file */
      PetscCall(wn_pipeline_load(&run));
      PetscCall(wn_pipeline_resolve(&run, run.pool->layout.n_global));
    } else {
      PetscCall(wn_pipeline_load_metadata(&run)); /* ids and labels, when given */
      PetscCall(wn_pipeline_read_kernels(&run));  /* own rows of each kernel */
      PetscCall(wn_pipeline_resolve(&run, run.K ? run.K->layout.n_global : run.KS->layout.n_global)); /* budget, warm start */
    }
    PetscCall(wn_pipeline_select(&run));        /* the distributed greedy engine */
    PetscCall(wn_pipeline_write(&run));         /* PREFIX.h5, PREFIX.jsonl */
    break;
  default: /* run */
    PetscCall(wn_output_check_writable(PETSC_COMM_WORLD, cfg.output));
    if (cfg.kernel_keep) PetscCall(wn_output_check_writable(PETSC_COMM_WORLD, cfg.kernel_file));
    PetscCall(wn_output_check_clobber(PETSC_COMM_WORLD, &cfg));
    PetscCall(wn_pipeline_load(&run));
    PetscCall(wn_pipeline_resolve(&run, run.pool->layout.n_global)); /* budget, warm start: before the kernel */
    {
      PetscBool restored;
      PetscCall(wn_pipeline_kernel_checkpoint(&run, PETSC_TRUE, &restored)); /* -wn_restart: the saved kernels */
      if (!restored) {
        PetscCall(wn_pipeline_kernel(&run));
        PetscCall(wn_pipeline_kernel_checkpoint(&run, PETSC_FALSE, NULL)); /* checkpoint of the kernel stage */
      }
    }
    if (cfg.kernel_keep) PetscCall(wn_pipeline_write_kernels(&run));
    PetscCall(wn_pipeline_select(&run));
    PetscCall(wn_pipeline_write(&run));
    break;
  }
  PetscCall(wn_pipeline_report(&run)); /* phase table, checks, RESULT line, provenance */
  wn_checks_failed = wn_report_passed(&run.report) ? PETSC_FALSE : PETSC_TRUE;
  PetscCall(wn_run_destroy(&run));
  PetscFunctionReturn(PETSC_SUCCESS);
}

int main(int argc, char **argv)
{
  char           deck[PETSC_MAX_PATH_LEN], info_file[PETSC_MAX_PATH_LEN];
  const char    *usage_error = NULL;
  wn_command     command;
  PetscErrorCode ierr;

  if (wn_blas_reexec_if_needed(argc, argv)) return 1; /* OpenBLAS generic-core fix: before MPI starts */
  command = wn_config_parse_command(&argc, &argv, deck, sizeof(deck), info_file, sizeof(info_file), &usage_error);
  /* MPI first, so that a missing deck is one message from rank 0 rather than PETSc failing on every rank */
  if (MPI_Init(&argc, &argv) != MPI_SUCCESS) return 1;
  if (deck[0]) {
    int  rank;
    char why[PETSC_MAX_PATH_LEN + 256] = "";
    (void)MPI_Comm_rank(MPI_COMM_WORLD, &rank);
    if (rank == 0) deck_check(deck, why, sizeof(why));
    (void)MPI_Bcast(why, (int)sizeof(why), MPI_CHAR, 0, MPI_COMM_WORLD);
    if (why[0]) {
      if (rank == 0) fprintf(stderr, "winnow: error: %s\n", why);
      (void)MPI_Finalize();
      return 1;
    }
  }
  if (PetscInitialize(&argc, &argv, deck[0] ? deck : NULL, help)) return 1;
  if (usage_error) {
    PetscCallAbort(PETSC_COMM_WORLD, PetscPrintf(PETSC_COMM_WORLD, "winnow: error: %s\n%s", usage_error, help));
    PetscFinalize();
    (void)MPI_Finalize();
    return 2;
  }
  if (command == WN_CMD_HELP) {
    PetscBool has_help = PETSC_FALSE;
    PetscOptionsHasHelp(NULL, &has_help);
    if (!has_help) {
      PetscPrintf(PETSC_COMM_WORLD, "%s(run `winnow -help` for every key)\n", help);
      PetscFinalize();
      (void)MPI_Finalize();
      return 0;
    }
  }
  ierr = winnow(command, deck, info_file);
  if (ierr) {
    wn_error_cleanup(); /* no partial output file is left behind */
    if (!wn_error_was_collective()) (void)MPI_Abort(PETSC_COMM_WORLD, (int)ierr); /* some rank may wait in a collective */
    if (wn_h5_poisoned()) (void)MPI_Abort(PETSC_COMM_WORLD, 1); /* a failed write: HDF5's exit-time close could hang */
    PetscFinalize();
    (void)MPI_Finalize();
    return wn_interrupt_checkpointed() ? WN_EXIT_CHECKPOINTED : 1; /* 4: stopped by a signal, resume with -wn_restart */
  }
  (void)PetscPopErrorHandler();
  ierr = PetscFinalize();
  (void)MPI_Finalize();
  return ierr ? 1 : (wn_checks_failed ? 3 : 0);
}
