/* test_layout.c - placeholder suite (fails until written). */
#include "wn_test.h"
START_TEST(not_written) { ck_abort_msg("test_layout not written yet"); }
END_TEST
static Suite *make_suite(void) { Suite *s = suite_create("layout"); TCase *tc = tcase_create("pure"); tcase_add_test(tc, not_written); suite_add_tcase(s, tc); return s; }
int main(int argc, char **argv) { return wn_test_run(argc, argv, make_suite); }
