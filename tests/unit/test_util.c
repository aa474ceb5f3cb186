/* test_util.c - budget and byte-size parsing, checksums, the counter-based generator (src/util.c). */
#include <math.h>
#include <string.h>
#include "wn_test.h"
#include <winnow/util.h>

START_TEST(budget_count_fraction_percent)
{
  int64_t b = 0;
  WN_CK_OK(wn_parse_budget(PETSC_COMM_SELF, "100", 1000, &b));
  ck_assert_int_eq(b, 100);
  WN_CK_OK(wn_parse_budget(PETSC_COMM_SELF, "0.3", 1000, &b));
  ck_assert_int_eq(b, 300);
  WN_CK_OK(wn_parse_budget(PETSC_COMM_SELF, "0.3", 7, &b)); /* floor(2.1) */
  ck_assert_int_eq(b, 2);
  WN_CK_OK(wn_parse_budget(PETSC_COMM_SELF, "30%", 1000, &b));
  ck_assert_int_eq(b, 300);
  WN_CK_OK(wn_parse_budget(PETSC_COMM_SELF, "100%", 17, &b));
  ck_assert_int_eq(b, 17);
  WN_CK_OK(wn_parse_budget(PETSC_COMM_SELF, "1", 1, &b));
  ck_assert_int_eq(b, 1);
  WN_CK_OK(wn_parse_budget(PETSC_COMM_SELF, "1.0", 5, &b)); /* a whole fraction of 1: all */
  ck_assert_int_eq(b, 5);
  WN_CK_OK(wn_parse_budget(PETSC_COMM_SELF, "50.0", 100, &b)); /* "50.0" is a count */
  ck_assert_int_eq(b, 50);
  WN_CK_OK(wn_parse_budget(PETSC_COMM_SELF, "1e2", 1000, &b));
  ck_assert_int_eq(b, 100);
}
END_TEST

START_TEST(budget_rejects)
{
  int64_t     b   = -7;
  const char *bad[] = {"0", "-5", "1001", "abc", "", "10x", "1.5", "0%", "150%", "0.0001", "2.5"};
  for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) ck_assert_msg(wn_parse_budget(PETSC_COMM_SELF, bad[i], 1000, &b) != 0, "budget '%s' should be refused", bad[i]);
  ck_assert_int_eq(b, -7); /* untouched on error */
}
END_TEST

START_TEST(bytes)
{
  double v;
  WN_CK_OK(wn_parse_bytes(PETSC_COMM_SELF, "1000", &v));
  ck_assert_double_eq(v, 1000);
  WN_CK_OK(wn_parse_bytes(PETSC_COMM_SELF, "4G", &v));
  ck_assert_double_eq(v, 4.0 * 1024 * 1024 * 1024);
  WN_CK_OK(wn_parse_bytes(PETSC_COMM_SELF, "1.5GiB", &v));
  ck_assert_double_eq(v, 1.5 * 1024 * 1024 * 1024);
  WN_CK_OK(wn_parse_bytes(PETSC_COMM_SELF, "512M", &v));
  ck_assert_double_eq(v, 512.0 * 1024 * 1024);
  ck_assert(wn_parse_bytes(PETSC_COMM_SELF, "4Q", &v) != 0);
  ck_assert(wn_parse_bytes(PETSC_COMM_SELF, "-1G", &v) != 0);
  ck_assert(wn_parse_bytes(PETSC_COMM_SELF, "G", &v) != 0);
  {
    char buf[32];
    ck_assert_str_eq(wn_format_bytes(1536.0, buf, sizeof(buf)), "1.50 KiB");
    ck_assert_str_eq(wn_format_bytes(12, buf, sizeof(buf)), "12 B");
  }
}
END_TEST

START_TEST(checksum_and_rng)
{
  int64_t a[3] = {1, 2, 3}, b[3] = {1, 3, 2};
  char    ha[17], hb[17], he[17];
  wn_selection_checksum(a, 3, ha);
  wn_selection_checksum(b, 3, hb);
  wn_selection_checksum(a, 0, he);
  ck_assert_str_ne(ha, hb);                 /* order matters */
  ck_assert_str_eq(he, "cbf29ce484222325"); /* FNV-1a offset basis: nothing hashed */
  /* FNV-1a 64 of "a" is af63dc4c8601ec8c (published test vector) */
  ck_assert_uint_eq(wn_fnv1a(WN_FNV_OFFSET, "a", 1), 0xaf63dc4c8601ec8cULL);
  /* splitmix64 from state 0: first output 0xe220a8397b1dcdaf (reference sequence) */
  ck_assert_uint_eq(wn_splitmix64(0), 0xe220a8397b1dcdafULL);
  {
    double s = 0;
    for (int i = 0; i < 10000; i++) {
      double u = wn_uniform01(42, (uint64_t)i);
      ck_assert(u >= 0 && u < 1);
      s += u;
    }
    ck_assert(fabs(s / 10000 - 0.5) < 0.02);
    ck_assert(wn_uniform01(42, 7) == wn_uniform01(42, 7));
    ck_assert(wn_uniform01(42, 7) != wn_uniform01(43, 7));
  }
}
END_TEST

static Suite *make_suite(void)
{
  Suite *s  = suite_create("util");
  TCase *tc = tcase_create("pure");
  tcase_add_test(tc, budget_count_fraction_percent);
  tcase_add_test(tc, budget_rejects);
  tcase_add_test(tc, bytes);
  tcase_add_test(tc, checksum_and_rng);
  suite_add_tcase(s, tc);
  return s;
}

int main(int argc, char **argv) { return wn_test_run(argc, argv, make_suite); }
