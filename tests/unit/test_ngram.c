/* test_ngram.c - placeholder: fails on purpose until the module is written. */
#include "wn_test.h"
START_TEST(test_placeholder) { ck_assert_msg(0, "ngram: not written yet"); }
END_TEST
static Suite *suite(void)
{
  Suite *s = suite_create("ngram");
  TCase *t = tcase_create("placeholder");
  tcase_add_test(t, test_placeholder);
  suite_add_tcase(s, t);
  return s;
}
int main(int argc, char **argv) { return wn_test_run(argc, argv, suite); }
