/* test_config.c - the configuration (src/config.c): subcommand/deck parsing, defaults, command-line values,
 * collective validation errors, the unknown-key check with its hint, and decks read as options files. */
#include <stdio.h>
#include <string.h>
#include <unistd.h>
#include "wn_test.h"
#include <winnow/config.h>

static void set(const char *k, const char *v) { ck_assert_int_eq(PetscOptionsSetValue(NULL, k, v), 0); }
static void clear_all(void) { ck_assert_int_eq(PetscOptionsClear(NULL), 0); }

START_TEST(parse_command)
{
  char        deck[256], info[256];
  const char *err;
  char       *a1[] = {"winnow", "run", "inputs/x.opts", "-wn_budget", "5", NULL};
  char      **av   = a1;
  int         ac   = 5;
  ck_assert_int_eq(wn_config_parse_command(&ac, &av, deck, sizeof(deck), info, sizeof(info), &err), WN_CMD_RUN);
  ck_assert_ptr_null(err);
  ck_assert_str_eq(deck, "inputs/x.opts");
  ck_assert_int_eq(ac, 3);
  ck_assert_str_eq(av[1], "-wn_budget");
  {
    char *a2[] = {"winnow", "info", "out.h5", NULL}, **av2 = a2;
    int   ac2  = 3;
    ck_assert_int_eq(wn_config_parse_command(&ac2, &av2, deck, sizeof(deck), info, sizeof(info), &err), WN_CMD_INFO);
    ck_assert_str_eq(info, "out.h5");
    ck_assert_str_eq(deck, "");
  }
  {
    char *a3[] = {"winnow", "selekt", NULL}, **av3 = a3;
    int   ac3  = 2;
    wn_config_parse_command(&ac3, &av3, deck, sizeof(deck), info, sizeof(info), &err);
    ck_assert_ptr_nonnull(err);
  }
  {
    char *a4[] = {"winnow", "-help", NULL}, **av4 = a4;
    int   ac4  = 2;
    ck_assert_int_eq(wn_config_parse_command(&ac4, &av4, deck, sizeof(deck), info, sizeof(info), &err), WN_CMD_HELP);
    ck_assert_ptr_null(err);
  }
}
END_TEST

START_TEST(defaults_and_values)
{
  wn_config cfg;
  clear_all();
  WN_CK_OK(wn_config_read(PETSC_COMM_WORLD, WN_CMD_SELECT, "", "", &cfg));
  ck_assert_str_eq(cfg.method, "fl");
  ck_assert_str_eq(cfg.kernel_dataset, "/kernel/values");
  ck_assert_int_eq(cfg.greedy, WN_GREEDY_LAZY);
  ck_assert(cfg.memory_limit > 0);
  set("-wn_method", "flmi");
  set("-wn_budget", "30%");
  set("-wn_greedy", "naive");
  set("-wn_kernel_metric", "rbf");
  set("-wn_kernel_gamma", "0.25");
  set("-wn_memory_limit", "2G");
  set("-wn_candidates", "c.h5");
  WN_CK_OK(wn_config_read(PETSC_COMM_WORLD, WN_CMD_RUN, "", "", &cfg));
  ck_assert_str_eq(cfg.method, "flmi");
  ck_assert_str_eq(cfg.budget_text, "30%");
  ck_assert_int_eq(cfg.greedy, WN_GREEDY_NAIVE);
  ck_assert_int_eq(cfg.kernel.metric, WN_METRIC_RBF);
  ck_assert_double_eq(cfg.kernel.gamma, 0.25);
  ck_assert_double_eq(cfg.memory_limit, 2.0 * 1024 * 1024 * 1024);
  ck_assert_str_eq(cfg.targets.path, "c.h5"); /* run + flmi: targets default to the candidates file */
  WN_CK_OK(wn_config_check_unknown(PETSC_COMM_WORLD, &cfg));
  clear_all();
}
END_TEST

START_TEST(validation_errors)
{
  wn_config   cfg;
  const char *cases[][2] = {{"-wn_method", "dpp_typo"}, {"-wn_kernel_gamma", "-1"}, {"-wn_flmi_eta", "-2"}, {"-wn_memory_limit", "lots"}, {"-wn_kernel_orientation", "sideways"}, {"-wn_progress", "-1"}};
  for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
    clear_all();
    set("-wn_kernel_metric", "rbf");
    set(cases[i][0], cases[i][1]);
    /* every rank must get the error (collective check), so no rank is left waiting */
    WN_CK_ASSERT_ALL(PETSC_COMM_WORLD, wn_config_read(PETSC_COMM_WORLD, WN_CMD_SELECT, "", "", &cfg) != 0);
  }
  clear_all();
  /* run without candidates */
  WN_CK_ASSERT_ALL(PETSC_COMM_WORLD, wn_config_read(PETSC_COMM_WORLD, WN_CMD_RUN, "", "", &cfg) != 0);
  clear_all();
}
END_TEST

START_TEST(unknown_key)
{
  wn_config cfg;
  clear_all();
  set("-wn_budgte", "5");
  WN_CK_OK(wn_config_read(PETSC_COMM_WORLD, WN_CMD_SELECT, "", "", &cfg));
  WN_CK_ASSERT_ALL(PETSC_COMM_WORLD, wn_config_check_unknown(PETSC_COMM_WORLD, &cfg) != 0);
  clear_all();
  set("-log_view_typo_but_not_ours", "1"); /* only -wn_ keys are ours to refuse */
  WN_CK_OK(wn_config_read(PETSC_COMM_WORLD, WN_CMD_SELECT, "", "", &cfg));
  WN_CK_OK(wn_config_check_unknown(PETSC_COMM_WORLD, &cfg));
  ck_assert_int_eq(wn_config_edit_distance("wn_budgte", "wn_budget"), 2);
  ck_assert_int_eq(wn_config_edit_distance("abc", "abc"), 0);
  ck_assert_int_eq(wn_config_edit_distance("", "abc"), 3);
  clear_all();
}
END_TEST

START_TEST(deck_file)
{
  wn_config   cfg;
  PetscMPIInt rank;
  char        path[64] = "";
  MPI_Comm_rank(PETSC_COMM_WORLD, &rank);
  if (rank == 0) {
    FILE *fp;
    snprintf(path, sizeof(path), "/tmp/wn_test_config_%d.opts", (int)getpid());
    fp = fopen(path, "w");
    fprintf(fp, "# a deck\n-wn_method fl_pool   # trailing comment\n-wn_budget 0.5\n");
    fclose(fp);
  }
  MPI_Bcast(path, sizeof(path), MPI_CHAR, 0, PETSC_COMM_WORLD);
  clear_all();
  WN_CK_OK(PetscOptionsInsertFile(PETSC_COMM_WORLD, NULL, path, PETSC_TRUE));
  set("-wn_budget", "7"); /* the command line overrides the deck */
  WN_CK_OK(wn_config_read(PETSC_COMM_WORLD, WN_CMD_SELECT, path, "", &cfg));
  ck_assert_str_eq(cfg.method, "fl_pool");
  ck_assert_str_eq(cfg.budget_text, "7");
  MPI_Barrier(PETSC_COMM_WORLD);
  if (rank == 0) unlink(path);
  clear_all();
}
END_TEST

static Suite *make_suite(void)
{
  Suite *s  = suite_create("config");
  TCase *tp = tcase_create("pure"), *td = tcase_create("distributed");
  tcase_add_test(tp, parse_command);
  tcase_add_test(td, defaults_and_values);
  tcase_add_test(td, validation_errors);
  tcase_add_test(td, unknown_key);
  tcase_add_test(td, deck_file);
  suite_add_tcase(s, tp);
  suite_add_tcase(s, td);
  return s;
}

int main(int argc, char **argv) { return wn_test_run(argc, argv, make_suite); }
