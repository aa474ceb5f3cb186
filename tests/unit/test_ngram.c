/* test_ngram.c - check suite for src/ngram.c (the reference language model of `winnow signals`).
 *
 * hand: a two-sentence corpus, "a b" and "b a b", whose interpolated Kneser-Ney probabilities are worked out
 *   below from the formulas of include/winnow/ngram.h (orders 1, 2 and 3, D = 0.75), not from the code;
 * sums: on a random corpus (orders 1-4), sum_{w in V} P(w | h) = 1 to 1e-12 for seen, unseen, <unk>-holding
 *   and empty contexts, and every probability is > 0;
 * ranks: training distributed over the ranks (contiguous blocks of units, 57 units, and 2 units so some rank
 *   has none) gives the same checksum, sizes and probability bits as training everything on one rank
 *   (PETSC_COMM_SELF); two builds (base, then base + more) equal one build of everything;
 * tokens: the featurizer's tokens, ASCII-lowercased, reserved keys never produced; sequence = prob;
 * errors: bad order or discount, queries before a build, reserved keys in a unit;
 * signals: the prompt/response split and separator escapes of src/signals.c (pure helpers).
 * Runs as a singleton and on 2, 3 and 4 ranks.
 */
#include <math.h>
#include <string.h>
#include <winnow/layout.h>
#include <winnow/ngram.h>
#include <winnow/signals.h>
#include <winnow/util.h>
#include "wn_test.h"

#define COMM PETSC_COMM_WORLD

static int rank_of(MPI_Comm comm)
{
  int r;
  MPI_Comm_rank(comm, &r);
  return r;
}

static int size_of(MPI_Comm comm)
{
  int s;
  MPI_Comm_size(comm, &s);
  return s;
}

static uint64_t W(const char *w) { return wn_ngram_word(w, strlen(w)); }

/* P(word | context) where the context is given as space-separated words ("" = the start of a unit). */
static double P(const wn_ngram *lm, const char *context, const char *word)
{
  uint64_t *ctx = NULL, key;
  int64_t   n = 0, cap = 0;
  double    p = -1;

  WN_CK_OK(wn_ngram_tokenize(context, strlen(context), &ctx, &n, &cap));
  key = strcmp(word, "</s>") ? W(word) : WN_NGRAM_EOS;
  WN_CK_OK(wn_ngram_prob(lm, ctx, n, key, &p));
  PetscFree(ctx);
  return p;
}

/* The hand corpus: unit 0 = "a b", unit 1 = "b a b"; rank r trains the units of its layout block. */
static wn_ngram *hand_model(int order)
{
  const char *units[2] = {"a b", "b a b"};
  wn_ngram   *lm       = NULL;
  int64_t     start, count;

  WN_CK_OK(wn_ngram_create(COMM, order, 0.75, &lm));
  wn_layout_range(2, size_of(COMM), rank_of(COMM), &start, &count);
  for (int64_t u = start; u < start + count; u++) WN_CK_OK(wn_ngram_add_text(lm, units[u], strlen(units[u])));
  WN_CK_OK(wn_ngram_build(lm));
  return lm;
}

#define NEAR(x, y) (fabs((x) - (y)) <= 1e-15 * fabs(y))

/* Order 1 (raw counts at the top order): the predicted tokens are a b </s> b a b </s>, so c(a) = 2, c(b) = 3,
 * c(</s>) = 2, S = 7, T = 3 types, V = {a, b, </s>, <unk>}, |V| = 4:
 *   P(w) = max(c(w) - 0.75, 0) / 7 + 0.75 * 3 / 7 * 1/4
 *   P(b) = 2.25/7 + 2.25/28 = 11.25/28 = 0.4017857142857143,  P(a) = P(</s>) = 1.25/7 + 2.25/28 = 7.25/28,
 *   P(<unk>) = P(any unseen word) = 2.25/28. */
START_TEST(test_hand_unigram)
{
  wn_ngram     *lm = hand_model(1);
  wn_ngram_info info;

  WN_CK_OK(wn_ngram_get_info(lm, &info));
  WN_CK_ASSERT_ALL(COMM, info.n_vocab == 4 && info.n_units == 2 && info.n_tokens == 5 && info.n_types[0] == 3);
  WN_CK_ASSERT_ALL(COMM, NEAR(P(lm, "", "b"), 11.25 / 28));
  WN_CK_ASSERT_ALL(COMM, NEAR(P(lm, "b a", "a"), 7.25 / 28)); /* order 1: the context does not matter */
  WN_CK_ASSERT_ALL(COMM, NEAR(P(lm, "", "</s>"), 7.25 / 28));
  WN_CK_ASSERT_ALL(COMM, NEAR(P(lm, "", "zebra"), 2.25 / 28));
  WN_CK_OK(wn_ngram_destroy(&lm));
}
END_TEST

/* Order 2. Padded units: <s> a b </s> and <s> b a b </s>. Bigram counts (top order, raw):
 *   c(<s> a) = 1, c(<s> b) = 1, c(a b) = 2, c(b </s>) = 2, c(b a) = 1.
 * Unigram continuation counts N1+(. w) (distinct left neighbours among the bigram types):
 *   a: {<s>, b} = 2,  b: {<s>, a} = 2,  </s>: {b} = 1;  S_1 = 5, T_1 = 3, |V| = 4 (a, b, </s>, <unk>).
 *   P1(w) = max(N1+(. w) - D, 0) / 5 + D * 3 / 5 * 1/4,  D = 0.75:
 *   P1(a) = P1(b) = 1.25/5 + 0.1125 = 0.3625;  P1(</s>) = 0.25/5 + 0.1125 = 0.1625;  P1(<unk>) = 0.1125
 *   (they sum to 1).
 * P2(w | h) = max(c(h w) - D, 0) / S(h) + D T(h) / S(h) * P1(w):
 *   h = a:   S = 2, T = 1:  P(b | a) = 1.25/2 + 0.375 * 0.3625 = 0.7609375;  P(a | a) = 0.375 * 0.3625 = 0.1359375;
 *            P(zebra | a) = 0.375 * 0.1125 = 0.0421875
 *   h = b:   S = 3, T = 2:  P(</s> | b) = 1.25/3 + 0.5 * 0.1625 = 0.4979166...;  P(a | b) = 0.25/3 + 0.5 * 0.3625
 *   h = <s>: S = 2, T = 2:  P(a | <s>) = 0.25/2 + 0.75 * 0.3625 = 0.396875
 *   h = zebra (unseen): P(a | zebra) = P1(a) = 0.3625. */
START_TEST(test_hand_bigram)
{
  wn_ngram     *lm = hand_model(2);
  wn_ngram_info info;

  WN_CK_OK(wn_ngram_get_info(lm, &info));
  WN_CK_ASSERT_ALL(COMM, info.n_vocab == 4 && info.n_types[0] == 3 && info.n_types[1] == 5);
  WN_CK_ASSERT_ALL(COMM, NEAR(P(lm, "zebra", "a"), 0.3625));
  WN_CK_ASSERT_ALL(COMM, NEAR(P(lm, "zebra", "b"), 0.3625));
  WN_CK_ASSERT_ALL(COMM, NEAR(P(lm, "zebra", "</s>"), 0.1625));
  WN_CK_ASSERT_ALL(COMM, NEAR(P(lm, "zebra", "yak"), 0.1125));
  WN_CK_ASSERT_ALL(COMM, NEAR(P(lm, "a", "b"), 0.7609375));
  WN_CK_ASSERT_ALL(COMM, NEAR(P(lm, "a", "a"), 0.1359375));
  WN_CK_ASSERT_ALL(COMM, NEAR(P(lm, "a", "zebra"), 0.0421875));
  WN_CK_ASSERT_ALL(COMM, NEAR(P(lm, "b", "</s>"), 1.25 / 3 + 0.5 * 0.1625));
  WN_CK_ASSERT_ALL(COMM, NEAR(P(lm, "b", "a"), 0.25 / 3 + 0.5 * 0.3625));
  WN_CK_ASSERT_ALL(COMM, NEAR(P(lm, "", "a"), 0.396875));
  WN_CK_ASSERT_ALL(COMM, NEAR(P(lm, "a b a", "b"), 0.7609375)); /* only the last word counts */
  WN_CK_OK(wn_ngram_destroy(&lm));
}
END_TEST

/* Order 3. Padded units: <s> <s> a b </s> and <s> <s> b a b </s>. Trigram counts (raw):
 *   <s><s>a = 1, <s>ab = 1, ab</s> = 2, <s><s>b = 1, <s>ba = 1, bab = 1.
 * Bigram continuation counts N1+(. v w) (distinct trigram types ending in v w):
 *   <s>a = 1, ab = 2 (<s>ab, bab), b</s> = 1, <s>b = 1, ba = 1.
 * Unigram continuation counts (distinct bigram types ending in w): a = 2, b = 2, </s> = 1: P1 as for order 2.
 * Level 2: h = a: S = 2, T = 1: P2(b | a) = 0.7609375, P2(a | a) = 0.1359375;
 *          h = b: S = 2, T = 2: P2(</s> | b) = 0.25/2 + 0.75 * 0.1625 = 0.246875;
 *          h = <s>: S = 2, T = 2: P2(a | <s>) = 0.125 + 0.75 * 0.3625 = 0.396875.
 * Level 3: h = a b:     S = 2, T = 1: P(</s> | a b) = 1.25/2 + 0.375 * 0.246875 = 0.717578125
 *          h = <s> <s>: S = 2, T = 2: P(a | <s> <s>) = 0.125 + 0.75 * 0.396875 = 0.42265625
 *          h = b a:     S = 1, T = 1: P(b | b a) = 0.25 + 0.75 * 0.7609375 = 0.820703125;
 *                                     P(a | b a) = 0.75 * 0.1359375 = 0.101953125
 *          h = zebra b (unseen): P(</s> | zebra b) = P2(</s> | b) = 0.246875. */
START_TEST(test_hand_trigram)
{
  wn_ngram     *lm = hand_model(3);
  wn_ngram_info info;

  WN_CK_OK(wn_ngram_get_info(lm, &info));
  WN_CK_ASSERT_ALL(COMM, info.n_types[0] == 3 && info.n_types[1] == 5 && info.n_types[2] == 6);
  WN_CK_ASSERT_ALL(COMM, NEAR(P(lm, "a b", "</s>"), 0.717578125));
  WN_CK_ASSERT_ALL(COMM, NEAR(P(lm, "", "a"), 0.42265625));
  WN_CK_ASSERT_ALL(COMM, NEAR(P(lm, "b a", "b"), 0.820703125));
  WN_CK_ASSERT_ALL(COMM, NEAR(P(lm, "b a", "a"), 0.101953125));
  WN_CK_ASSERT_ALL(COMM, NEAR(P(lm, "zebra b", "</s>"), 0.246875));
  WN_CK_OK(wn_ngram_destroy(&lm));
}
END_TEST

/* ---- a random corpus ------------------------------------------------------------------------------------- */

#define N_WORDS 40

/* Unit u of a seeded corpus: 0..9 words drawn Zipf-like from w0..w39, some capitalised, with punctuation. */
static void random_unit(uint64_t seed, int64_t u, char *text, size_t cap)
{
  int64_t len = (int64_t)(10 * wn_uniform01(seed, (uint64_t)u * 1000));
  size_t  at  = 0;

  text[0] = 0;
  for (int64_t i = 0; i < len; i++) {
    double r = wn_uniform01(seed, (uint64_t)u * 1000 + 1 + (uint64_t)i);
    int    w = (int)(N_WORDS * r * r);
    at += (size_t)snprintf(text + at, cap - at, "%s%s%d", i ? (i % 3 ? " " : ", ") : "", (i % 4 == 1) ? "W" : "w", w);
  }
}

/* Train units [0, n_units) of the seeded corpus on comm: rank r takes its layout block. */
static wn_ngram *random_model(MPI_Comm comm, int order, double D, uint64_t seed, int64_t n_units)
{
  wn_ngram *lm = NULL;
  int64_t   start, count;
  char      text[256];

  WN_CK_OK(wn_ngram_create(comm, order, D, &lm));
  wn_layout_range(n_units, size_of(comm), rank_of(comm), &start, &count);
  for (int64_t u = start; u < start + count; u++) {
    random_unit(seed, u, text, sizeof(text));
    WN_CK_OK(wn_ngram_add_text(lm, text, strlen(text)));
  }
  WN_CK_OK(wn_ngram_build(lm));
  return lm;
}

/* Query contexts: the empty one, corpus words, an unseen word, and mixtures (n_ctx x 3 keys, the rest BOS-free). */
#define N_QUERY 12
static void query_context(int q, uint64_t ctx[3], int64_t *n)
{
  char w[16];
  *n = q % 4;
  for (int j = 0; j < 3; j++) {
    snprintf(w, sizeof(w), "w%d", (q * 7 + j * 3) % (N_WORDS + 5)); /* w40..w44 never occur: <unk> */
    ctx[j] = W(w);
  }
  if (q == 5) ctx[0] = W("zebra");
}

START_TEST(test_sums_to_one)
{
  for (int order = 1; order <= 4; order++) {
    wn_ngram       *lm = random_model(COMM, order, order == 2 ? 1.0 : 0.6 + 0.05 * order, 11, 57);
    const uint64_t *vocab;
    int64_t         nv;
    int             ok = 1;

    WN_CK_OK(wn_ngram_vocabulary(lm, &nv, &vocab));
    ok = ok && nv > 10 && nv <= N_WORDS + 2;
    for (int q = 0; q < N_QUERY; q++) {
      uint64_t ctx[3];
      int64_t  n;
      double   sum = 0, p;
      query_context(q, ctx, &n);
      for (int64_t v = 0; v < nv; v++) {
        WN_CK_OK(wn_ngram_prob(lm, ctx, n, vocab[v], &p));
        ok = ok && p > 0 && p <= 1;
        sum += p;
      }
      if (fabs(sum - 1) > 1e-12) fprintf(stderr, "order %d query %d: sum %.17g\n", order, q, sum);
      ok = ok && fabs(sum - 1) <= 1e-12;
    }
    WN_CK_ASSERT_ALL(COMM, ok);
    WN_CK_OK(wn_ngram_destroy(&lm));
  }
}
END_TEST

/* Probabilities of every query context and every vocabulary word plus an unseen one. */
static void all_probs(const wn_ngram *lm, double *out, int64_t *n_out)
{
  const uint64_t *vocab;
  int64_t         nv, k = 0;

  WN_CK_OK(wn_ngram_vocabulary(lm, &nv, &vocab));
  for (int q = 0; q < N_QUERY; q++) {
    uint64_t ctx[3];
    int64_t  n;
    query_context(q, ctx, &n);
    for (int64_t v = 0; v <= nv; v++) WN_CK_OK(wn_ngram_prob(lm, ctx, n, v < nv ? vocab[v] : W("zebra"), &out[k++]));
  }
  *n_out = k;
}

/* Distributed training (COMM) against training every unit on one rank (PETSC_COMM_SELF): same bits. */
static void compare_with_singleton(int order, int64_t n_units)
{
  wn_ngram     *dist = random_model(COMM, order, 0.75, 3, n_units);
  wn_ngram     *self = random_model(PETSC_COMM_SELF, order, 0.75, 3, n_units);
  wn_ngram_info a, b;
  double        pa[N_QUERY * (N_WORDS + 3)], pb[N_QUERY * (N_WORDS + 3)];
  int64_t       na, nb;
  char          root[17];

  WN_CK_OK(wn_ngram_get_info(dist, &a));
  WN_CK_OK(wn_ngram_get_info(self, &b));
  memcpy(root, a.checksum, sizeof(root));
  (void)MPI_Bcast(root, sizeof(root), MPI_CHAR, 0, COMM);
  WN_CK_ASSERT_ALL(COMM, !strcmp(a.checksum, b.checksum) && !strcmp(a.checksum, root));
  WN_CK_ASSERT_ALL(COMM, a.n_units == n_units && a.n_units == b.n_units && a.n_tokens == b.n_tokens && a.n_vocab == b.n_vocab);
  WN_CK_ASSERT_ALL(COMM, !memcmp(a.n_types, b.n_types, sizeof(a.n_types)));
  all_probs(dist, pa, &na);
  all_probs(self, pb, &nb);
  WN_CK_ASSERT_ALL(COMM, na == nb && !memcmp(pa, pb, sizeof(double) * (size_t)na));
  WN_CK_OK(wn_ngram_destroy(&dist));
  WN_CK_OK(wn_ngram_destroy(&self));
}

START_TEST(test_rank_independence)
{
  compare_with_singleton(3, 57);
  compare_with_singleton(2, 57);
  compare_with_singleton(4, 2); /* some rank trains nothing when P > 2 */
  compare_with_singleton(1, 13);
}
END_TEST

/* Base units 0..29 built, then 30..56 added and built again == all 57 units in one build. */
START_TEST(test_incremental)
{
  wn_ngram     *once = random_model(COMM, 3, 0.75, 5, 57), *twice = NULL;
  wn_ngram_info a, b;
  int64_t       start, count;
  char          text[256];
  double        pa[N_QUERY * (N_WORDS + 3)], pb[N_QUERY * (N_WORDS + 3)];
  int64_t       na, nb;

  WN_CK_OK(wn_ngram_create(COMM, 3, 0.75, &twice));
  wn_layout_range(57, size_of(COMM), rank_of(COMM), &start, &count);
  for (int64_t u = start; u < start + count; u++)
    if (u < 30) {
      random_unit(5, u, text, sizeof(text));
      WN_CK_OK(wn_ngram_add_text(twice, text, strlen(text)));
    }
  WN_CK_OK(wn_ngram_build(twice));
  WN_CK_OK(wn_ngram_get_info(twice, &b));
  WN_CK_ASSERT_ALL(COMM, b.n_units == 30);
  for (int64_t u = start; u < start + count; u++)
    if (u >= 30) {
      random_unit(5, u, text, sizeof(text));
      WN_CK_OK(wn_ngram_add_text(twice, text, strlen(text)));
    }
  WN_CK_OK(wn_ngram_build(twice));
  WN_CK_OK(wn_ngram_get_info(once, &a));
  WN_CK_OK(wn_ngram_get_info(twice, &b));
  WN_CK_ASSERT_ALL(COMM, !strcmp(a.checksum, b.checksum) && a.n_units == 57 && b.n_units == 57 && a.n_tokens == b.n_tokens);
  all_probs(once, pa, &na);
  all_probs(twice, pb, &nb);
  WN_CK_ASSERT_ALL(COMM, na == nb && !memcmp(pa, pb, sizeof(double) * (size_t)na));
  WN_CK_OK(wn_ngram_destroy(&once));
  WN_CK_OK(wn_ngram_destroy(&twice));
}
END_TEST

START_TEST(test_tokens_and_sequence)
{
  const char *text = "Hello, WORLD-42 caf\xc3\xa9!  x";
  uint64_t   *tok  = NULL;
  int64_t     n = 0, cap = 0;
  wn_ngram   *lm = random_model(COMM, 3, 0.75, 9, 20);
  double      seq[8], p;
  int         ok = 1;

  WN_CK_OK(wn_ngram_tokenize(text, strlen(text), &tok, &n, &cap));
  WN_CK_ASSERT_ALL(COMM, n == 5 && tok[0] == W("hello") && tok[1] == W("world") && tok[2] == W("42") && tok[3] == W("caf\xc3\xa9") && tok[4] == W("x"));
  WN_CK_ASSERT_ALL(COMM, W("HeLLo") == W("hello") && W("") >= 16 && W("a") != W("b"));
  /* appending keeps the earlier tokens */
  WN_CK_OK(wn_ngram_tokenize("w1", 2, &tok, &n, &cap));
  WN_CK_ASSERT_ALL(COMM, n == 6 && tok[5] == W("w1") && tok[0] == W("hello"));
  /* the sequence scorer equals wn_ngram_prob on each prefix, bit for bit */
  tok[1] = W("w0");
  tok[3] = W("w2");
  WN_CK_OK(wn_ngram_sequence(lm, tok, 6, seq));
  for (int i = 0; i <= 6; i++) {
    WN_CK_OK(wn_ngram_prob(lm, tok, i, i < 6 ? tok[i] : WN_NGRAM_EOS, &p));
    ok = ok && p == seq[i];
  }
  WN_CK_ASSERT_ALL(COMM, ok);
  PetscFree(tok);
  WN_CK_OK(wn_ngram_destroy(&lm));
}
END_TEST

START_TEST(test_errors)
{
  wn_ngram     *lm = NULL;
  wn_ngram_info info;
  uint64_t      bad[2] = {W("a"), WN_NGRAM_EOS};
  double        p;

  ck_assert(wn_ngram_create(COMM, 0, 0.75, &lm) != 0);
  ck_assert(strstr(wn_test_last_error(), "order must be between 1 and 8") != NULL);
  ck_assert(wn_ngram_create(COMM, 9, 0.75, &lm) != 0);
  ck_assert(wn_ngram_create(COMM, 3, 0.0, &lm) != 0);
  ck_assert(strstr(wn_test_last_error(), "discount must be in (0, 1]") != NULL);
  ck_assert(wn_ngram_create(COMM, 3, 1.5, &lm) != 0);
  WN_CK_OK(wn_ngram_create(COMM, 3, 0.75, &lm));
  ck_assert(wn_ngram_get_info(lm, &info) != 0);
  ck_assert(wn_ngram_prob(lm, NULL, 0, W("a"), &p) != 0);
  ck_assert(strstr(wn_test_last_error(), "never called") != NULL);
  ck_assert(wn_ngram_add(lm, bad, 2) != 0);
  ck_assert(strstr(wn_test_last_error(), "reserved key") != NULL);
  WN_CK_OK(wn_ngram_build(lm)); /* nothing trained anywhere: V = {</s>, <unk>}, uniform */
  WN_CK_OK(wn_ngram_prob(lm, NULL, 0, W("a"), &p));
  WN_CK_ASSERT_ALL(COMM, p == 0.5);
  ck_assert(wn_ngram_prob(lm, NULL, 0, WN_NGRAM_BOS, &p) != 0);
  WN_CK_OK(wn_ngram_destroy(&lm));
  WN_CK_OK(wn_ngram_destroy(&lm)); /* NULL is fine */
}
END_TEST

/* The prompt/response split and the separator escapes of `winnow signals` (src/signals.c has no suite of its own;
 * its pure helpers are checked here, the rest by tests/regress/signals.sh). */
START_TEST(test_signals_split)
{
  wn_signals_split sp;
  char             out[8];
  const char      *t = "define dog: a canid; \"the dog barked\"";

  wn_signals_split_text(t, strlen(t), ":", 1, &sp);
  ck_assert(sp.found_separator && sp.prompt == t && sp.prompt_len == 11 && sp.response == t + 11 && sp.response_len == strlen(t) - 11);
  wn_signals_split_text(t, strlen(t), "::", 2, &sp); /* absent: empty prompt, the whole text is the response */
  ck_assert(!sp.found_separator && sp.prompt_len == 0 && sp.response == t && sp.response_len == strlen(t));
  wn_signals_split_text("ab", 2, "abc", 3, &sp);
  ck_assert(!sp.found_separator && sp.response_len == 2);
  WN_CK_OK(wn_signals_unescape("\\n;\\t\\\\x", out, sizeof(out)));
  ck_assert_str_eq(out, "\n;\t\\x");
  ck_assert(wn_signals_unescape("12345678", out, sizeof(out)) != 0); /* 8 bytes + NUL do not fit in 8 */
}
END_TEST

static Suite *suite(void)
{
  Suite *s = suite_create("ngram");
  TCase *t = tcase_create("ngram");
  tcase_set_timeout(t, 120);
  tcase_add_test(t, test_hand_unigram);
  tcase_add_test(t, test_hand_bigram);
  tcase_add_test(t, test_hand_trigram);
  tcase_add_test(t, test_sums_to_one);
  tcase_add_test(t, test_rank_independence);
  tcase_add_test(t, test_incremental);
  tcase_add_test(t, test_tokens_and_sequence);
  tcase_add_test(t, test_errors);
  tcase_add_test(t, test_signals_split);
  suite_add_tcase(s, t);
  return s;
}

int main(int argc, char **argv) { return wn_test_run(argc, argv, suite); }
