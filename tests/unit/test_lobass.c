/* test_lobass.c - placeholder: fails on purpose until the module is written. */
#include "wn_test.h"
START_TEST(test_placeholder) { ck_assert_msg(0, "lobass: not written yet"); }
END_TEST
static Suite *suite(void)
{
  Suite *s = suite_create("lobass");
  TCase *t = tcase_create("placeholder");
  tcase_add_test(t, test_placeholder);
  suite_add_tcase(s, t);
  return s;
}
int main(int argc, char **argv) { return wn_test_run(argc, argv, suite); }
