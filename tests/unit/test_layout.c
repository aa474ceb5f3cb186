/* test_layout.c - the balanced row-block split (src/layout.c): closed forms and, on any rank count, that
 * the ranks' blocks tile [0, N) exactly. */
#include "wn_test.h"
#include <winnow/layout.h>

START_TEST(closed_form)
{
  int64_t s, c;
  /* 10 rows over 4 ranks: 3 3 2 2 */
  wn_layout_range(10, 4, 0, &s, &c);
  ck_assert(s == 0 && c == 3);
  wn_layout_range(10, 4, 1, &s, &c);
  ck_assert(s == 3 && c == 3);
  wn_layout_range(10, 4, 2, &s, &c);
  ck_assert(s == 6 && c == 2);
  wn_layout_range(10, 4, 3, &s, &c);
  ck_assert(s == 8 && c == 2);
  /* fewer rows than ranks: 2 rows over 4 ranks */
  wn_layout_range(2, 4, 3, &s, &c);
  ck_assert(s == 2 && c == 0);
  for (int64_t n = 0; n < 40; n++)
    for (int p = 1; p <= 7; p++)
      for (int64_t g = 0; g < n; g++) {
        int r = wn_layout_owner(n, p, g);
        wn_layout_range(n, p, r, &s, &c);
        ck_assert_msg(g >= s && g < s + c, "owner of %lld in %lld/%d", (long long)g, (long long)n, p);
      }
}
END_TEST

START_TEST(distributed_tiling)
{
  const int64_t sizes[] = {0, 1, 3, 103, 1000003};
  for (size_t k = 0; k < sizeof(sizes) / sizeof(sizes[0]); k++) {
    wn_layout L;
    int64_t   total = 0, next = 0;
    WN_CK_OK(wn_layout_init(PETSC_COMM_WORLD, sizes[k], &L));
    MPI_Allreduce(&L.n_local, &total, 1, MPI_INT64_T, MPI_SUM, PETSC_COMM_WORLD);
    WN_CK_ASSERT_ALL(PETSC_COMM_WORLD, total == sizes[k]);
    /* the block of rank r starts where rank r-1's ends */
    MPI_Exscan(&L.n_local, &next, 1, MPI_INT64_T, MPI_SUM, PETSC_COMM_WORLD);
    if (L.rank == 0) next = 0;
    WN_CK_ASSERT_ALL(PETSC_COMM_WORLD, next == L.row_start);
  }
}
END_TEST

static Suite *make_suite(void)
{
  Suite *s  = suite_create("layout");
  TCase *tp = tcase_create("pure"), *td = tcase_create("distributed");
  tcase_add_test(tp, closed_form);
  tcase_add_test(td, distributed_tiling);
  suite_add_tcase(s, tp);
  suite_add_tcase(s, td);
  return s;
}

int main(int argc, char **argv) { return wn_test_run(argc, argv, make_suite); }
