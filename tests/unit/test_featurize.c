/* test_featurize.c - check suite for src/featurize.c (`winnow featurize`).
 *
 * pure (same on every rank): the buckets of hand-made texts against hashes computed here from the rule in
 * featurize.h and the file banner of src/featurize.c (FNV-1a 64 from WN_FNV_OFFSET ^ wn_splitmix64(seed + f),
 * f = 0 unigram, 1 bigram "w1 w2", 2 code-point 4-gram of " " + word + " "), non-ASCII words, punctuation,
 * empty texts, the capacity retry; the (dimension, sign) pairs and the projection of known records
 * recomputed from wn_splitmix64, closed-form cases (d = 1), L2 norm 1.
 * distributed (1-4 ranks, 23 records so the byte ranges split lines anywhere, and 2 records so some rank
 * owns no line): wn_featurize_run output bitwise equal to a run on PETSC_COMM_SELF and to vectors
 * recomputed from the pure helpers with the global document frequencies; no final newline and CRLF give
 * the same output; 2 MB and 5 MB lines (block carry-over and growth); empty texts; malformed lines (bad
 * JSON, empty line, missing or mistyped fields, invalid UTF-8) reported with the first bad line number on
 * every rank, or skipped and counted; held-out targets; ids as source rows; parameter and file errors.
 */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <winnow/featurize.h>
#include <winnow/h5io.h>
#include <winnow/util.h>
#include "wn_test.h"

#define COMM   PETSC_COMM_WORLD
#define GOLDEN 0x9e3779b97f4a7c15ULL

static int rank_of(void)
{
  int r;
  MPI_Comm_rank(COMM, &r);
  return r;
}

/* ---- expected buckets from the documented rule ------------------------------------------------------- */

static uint32_t hb(uint64_t seed, int bits, int family, const char *s)
{
  uint64_t h = wn_fnv1a(WN_FNV_OFFSET ^ wn_splitmix64(seed + (uint64_t)family), s, strlen(s));
  return (uint32_t)(h & ((1ULL << bits) - 1));
}

typedef struct {
  int      n;
  uint32_t b[64], c[64];
} expect_t;

static void ex_add(expect_t *e, uint32_t b)
{
  for (int i = 0; i < e->n; i++)
    if (e->b[i] == b) {
      e->c[i]++;
      return;
    }
  e->b[e->n]   = b;
  e->c[e->n++] = 1;
}

static void ex_sort(expect_t *e)
{
  for (int i = 1; i < e->n; i++)
    for (int j = i; j > 0 && e->b[j - 1] > e->b[j]; j--) {
      uint32_t t = e->b[j];
      e->b[j]    = e->b[j - 1];
      e->b[j - 1] = t;
      t          = e->c[j];
      e->c[j]    = e->c[j - 1];
      e->c[j - 1] = t;
    }
}

/* Features of text (length len) must equal the expectation exactly. */
static void expect_buckets(const char *text, size_t len, int bits, uint64_t seed, expect_t *e)
{
  uint32_t b[128], c[128];
  int64_t  n = -1;

  ex_sort(e);
  WN_CK_OK(wn_featurize_buckets(text, len, bits, seed, b, c, 128, &n));
  ck_assert_msg(n == e->n, "'%.40s': %lld buckets, expected %d", text ? text : "", (long long)n, e->n);
  for (int i = 0; i < e->n; i++) {
    ck_assert_msg(b[i] == e->b[i] && c[i] == e->c[i], "'%.40s': bucket %d is (%u, %u), expected (%u, %u)", text, i, b[i], c[i], e->b[i], e->c[i]);
    if (i) ck_assert(b[i] > b[i - 1]);
  }
}

static void expect_same(const char *a, const char *b, int bits, uint64_t seed)
{
  uint32_t ba[128], ca[128], bb[128], cb[128];
  int64_t  na, nb;

  WN_CK_OK(wn_featurize_buckets(a, strlen(a), bits, seed, ba, ca, 128, &na));
  WN_CK_OK(wn_featurize_buckets(b, strlen(b), bits, seed, bb, cb, 128, &nb));
  ck_assert_msg(na == nb && na <= 128 && !memcmp(ba, bb, (size_t)na * 4) && !memcmp(ca, cb, (size_t)na * 4), "'%s' and '%s' differ", a, b);
}

START_TEST(buckets_dog_dog)
{
  const uint64_t seed = 3;
  const int      bits = 20;
  expect_t       e    = {0};

  ex_add(&e, hb(seed, bits, 0, "dog"));
  ex_add(&e, hb(seed, bits, 0, "dog"));
  ex_add(&e, hb(seed, bits, 1, "dog dog"));
  ex_add(&e, hb(seed, bits, 2, " dog"));
  ex_add(&e, hb(seed, bits, 2, "dog "));
  ex_add(&e, hb(seed, bits, 2, " dog"));
  ex_add(&e, hb(seed, bits, 2, "dog "));
  ck_assert_int_eq(e.n, 4); /* no collision for this seed: unigram 2, bigram 1, two 4-grams 2 each */
  expect_buckets("Dog dog", 7, bits, seed, &e);
  expect_same("Dog dog", "DOG  dOg", bits, seed);
  /* other seeds give other buckets */
  {
    uint32_t b1[8], c1[8], b2[8], c2[8];
    int64_t  n1, n2;
    WN_CK_OK(wn_featurize_buckets("Dog dog", 7, bits, 3, b1, c1, 8, &n1));
    WN_CK_OK(wn_featurize_buckets("Dog dog", 7, bits, 4, b2, c2, 8, &n2));
    ck_assert(n1 == 4 && n2 == 4 && memcmp(b1, b2, sizeof(b1[0]) * 4));
  }
  /* small tables: the same rule masked to 8 bits (collisions add up) */
  {
    expect_t s = {0};
    const char *grams[] = {"the", "cat", "sat", "the cat", "cat sat", " the", "the ", " cat", "cat ", " sat", "sat "};
    for (int i = 0; i < 11; i++) ex_add(&s, hb(99, 8, i < 3 ? 0 : i < 5 ? 1 : 2, grams[i]));
    expect_buckets("The cat sat.", 12, 8, 99, &s);
  }
}
END_TEST

START_TEST(buckets_non_ascii)
{
  const uint64_t seed = 11;
  const int      bits = 20;
  expect_t       e    = {0};
  /* "café crème": words stay whole; 4-grams over code points (é, è are 2 bytes each) */
  const char *grams[] = {" caf", "café", "afé ", " crè", "crèm", "rème", "ème "};

  ex_add(&e, hb(seed, bits, 0, "café"));
  ex_add(&e, hb(seed, bits, 0, "crème"));
  ex_add(&e, hb(seed, bits, 1, "café crème"));
  for (int i = 0; i < 7; i++) ex_add(&e, hb(seed, bits, 2, grams[i]));
  ck_assert_int_eq(e.n, 10);
  expect_buckets("café crème", strlen("café crème"), bits, seed, &e);
  expect_same("café crème", "Café, crème?", bits, seed);
}
END_TEST

/* "CRÈME" lowercases only its ASCII letters: "crÈme", so it differs from "crème". */
START_TEST(buckets_ascii_lowercase_only)
{
  expect_t e = {0};
  const char *grams[] = {" crÈ", "crÈm", "rÈme", "Ème "};

  ex_add(&e, hb(5, 16, 0, "crÈme"));
  for (int i = 0; i < 4; i++) ex_add(&e, hb(5, 16, 2, grams[i]));
  expect_buckets("CRÈME", strlen("CRÈME"), 16, 5, &e);
  /* a 3-byte and a 4-byte code point: "東京" is 2 code points -> " 東京 " has 4: one 4-gram */
  {
    expect_t t = {0};
    ex_add(&t, hb(5, 16, 0, "東京"));
    ex_add(&t, hb(5, 16, 2, " 東京 "));
    expect_buckets("東京", strlen("東京"), 16, 5, &t);
    expect_t u = {0};
    ex_add(&u, hb(5, 16, 0, "😀"));
    expect_buckets("😀", 4, 16, 5, &u); /* 1 code point: no 4-gram */
  }
}
END_TEST

START_TEST(buckets_edges)
{
  uint32_t b[64], c[64];
  int64_t  n = -1;

  WN_CK_OK(wn_featurize_buckets("", 0, 20, 1, b, c, 64, &n));
  ck_assert_int_eq(n, 0);
  WN_CK_OK(wn_featurize_buckets(NULL, 0, 20, 1, NULL, NULL, 0, &n));
  ck_assert_int_eq(n, 0);
  WN_CK_OK(wn_featurize_buckets(" ,;!? -- \t\n", 11, 20, 1, b, c, 64, &n));
  ck_assert_int_eq(n, 0);
  /* punctuation, controls and NUL split words */
  expect_same("dog,cat!", "dog cat", 20, 1);
  expect_same("dog\tcat", "dog cat", 20, 1);
  {
    uint32_t b2[64], c2[64];
    int64_t  n2;
    WN_CK_OK(wn_featurize_buckets("dog\0cat", 7, 20, 1, b, c, 64, &n));
    WN_CK_OK(wn_featurize_buckets("dog cat", 7, 20, 1, b2, c2, 64, &n2));
    ck_assert(n == n2 && !memcmp(b, b2, (size_t)n * 4) && !memcmp(c, c2, (size_t)n * 4));
  }
  /* a 1-code-point word: unigram only; "ab": one 4-gram " ab "; "a b": 2 unigrams + 1 bigram */
  {
    expect_t e = {0};
    ex_add(&e, hb(1, 20, 0, "a"));
    expect_buckets("A", 1, 20, 1, &e);
  }
  {
    expect_t e = {0};
    ex_add(&e, hb(1, 20, 0, "ab"));
    ex_add(&e, hb(1, 20, 2, " ab "));
    expect_buckets("ab", 2, 20, 1, &e);
  }
  {
    expect_t e = {0};
    ex_add(&e, hb(1, 20, 0, "a"));
    ex_add(&e, hb(1, 20, 0, "b"));
    ex_add(&e, hb(1, 20, 1, "a b"));
    expect_buckets("a-b", 3, 20, 1, &e);
  }
  {
    expect_t e = {0}; /* digits are word characters; "don't" is "don" and "t" */
    ex_add(&e, hb(1, 20, 0, "r2d2"));
    ex_add(&e, hb(1, 20, 0, "don"));
    ex_add(&e, hb(1, 20, 0, "t"));
    ex_add(&e, hb(1, 20, 1, "r2d2 don"));
    ex_add(&e, hb(1, 20, 1, "don t"));
    const char *grams[] = {" r2d", "r2d2", "2d2 ", " don", "don "};
    for (int i = 0; i < 5; i++) ex_add(&e, hb(1, 20, 2, grams[i]));
    expect_buckets("R2D2 don't", 10, 20, 1, &e);
  }
  /* capacity retry: only cap entries are written, n tells the full count */
  {
    const char *t = "the quick brown fox jumps over the lazy dog";
    uint32_t    bf[128], cf[128], bs[3] = {0}, cs[3] = {0};
    int64_t     nf, ns;
    WN_CK_OK(wn_featurize_buckets(t, strlen(t), 20, 9, bf, cf, 128, &nf));
    WN_CK_OK(wn_featurize_buckets(t, strlen(t), 20, 9, bs, cs, 3, &ns));
    ck_assert(nf == ns && nf > 3 && !memcmp(bs, bf, sizeof(bs)) && !memcmp(cs, cf, sizeof(cs)));
    int64_t total = 0;
    for (int64_t i = 0; i < nf; i++) total += cf[i];
    ck_assert_int_eq(total, 9 + 8 + 26); /* 9 unigrams, 8 bigrams, sum over words of (code points - 1) = 35 - 9 */
  }
  /* misuse */
  ck_assert(wn_featurize_buckets("a", 1, 7, 1, b, c, 64, &n) != 0);
  ck_assert(wn_featurize_buckets("a", 1, 29, 1, b, c, 64, &n) != 0);
}
END_TEST

/* ---- projection ------------------------------------------------------------------------------------- */

static void rule_dims(uint32_t bucket, int64_t dim, uint64_t seed, int64_t dims[8], int signs[8])
{
  for (int k = 0; k < 8; k++) {
    uint64_t r = wn_splitmix64(((uint64_t)bucket ^ seed) + (uint64_t)k * GOLDEN);
    dims[k]    = (int64_t)(((r >> 32) * (uint64_t)dim) >> 32);
    signs[k]   = (r & 1) ? -1 : 1;
  }
}

START_TEST(bucket_dims_rule)
{
  int64_t dims[8], want[8];
  int     signs[8], wsigns[8], differ = 0;

  for (uint32_t b = 0; b < 2000; b += 37) {
    wn_featurize_bucket_dims(b, 256, 12345, dims, signs);
    rule_dims(b, 256, 12345, want, wsigns);
    for (int k = 0; k < 8; k++) {
      ck_assert(dims[k] == want[k] && signs[k] == wsigns[k]);
      ck_assert(dims[k] >= 0 && dims[k] < 256 && (signs[k] == 1 || signs[k] == -1));
    }
    wn_featurize_bucket_dims(b, 256, 12346, want, wsigns);
    for (int k = 0; k < 8; k++) differ += want[k] != dims[k];
  }
  ck_assert(differ > 100); /* the seed matters */
  wn_featurize_bucket_dims(7, 1, 0, dims, signs);
  for (int k = 0; k < 8; k++) ck_assert(dims[k] == 0);
  wn_featurize_bucket_dims(0xfffffffu, 3, ~0ULL, dims, signs);
  for (int k = 0; k < 8; k++) ck_assert(dims[k] >= 0 && dims[k] < 3);
}
END_TEST

START_TEST(project_known)
{
  const uint32_t buckets[3] = {3, 77, 200}, counts[3] = {1, 2, 5};
  const int64_t  dim = 10;
  const uint64_t seed = 42;
  double         idf[256], acc[10] = {0}, norm2 = 0, sum = 0;
  float          out[10];

  for (int b = 0; b < 256; b++) idf[b] = 1.0 + b / 256.0;
  for (int k = 0; k < 3; k++) {
    int64_t dims[8];
    int     signs[8];
    double  w = (1.0 + log((double)counts[k])) * idf[buckets[k]];
    rule_dims(buckets[k], dim, seed, dims, signs);
    for (int j = 0; j < 8; j++) acc[dims[j]] += signs[j] * w;
  }
  for (int i = 0; i < dim; i++) norm2 += acc[i] * acc[i];
  WN_CK_OK(wn_featurize_project(3, buckets, counts, idf, dim, seed, out));
  for (int i = 0; i < dim; i++) {
    ck_assert_msg(out[i] == (float)(acc[i] / sqrt(norm2)), "dimension %d: %.9g, expected %.9g", i, (double)out[i], acc[i] / sqrt(norm2));
    sum += (double)out[i] * out[i];
  }
  ck_assert(fabs(sum - 1) < 1e-6);
  /* no bucket: the zero vector */
  WN_CK_OK(wn_featurize_project(0, NULL, NULL, idf, dim, seed, out));
  for (int i = 0; i < dim; i++) ck_assert(out[i] == 0.0f);
  /* d = 1 in closed form: one bucket of weight 1 gives sign(sum of its 8 signs), or 0 when they cancel
   * (w = 1, so every partial sum is an exact small integer) */
  for (uint32_t b = 0; b < 64; b++) {
    int64_t  dims[8];
    int      signs[8], s = 0;
    float    one;
    uint32_t cnt = 1;
    double   ones[64];
    for (int k = 0; k < 64; k++) ones[k] = 1.0;
    rule_dims(b, 1, seed, dims, signs);
    for (int j = 0; j < 8; j++) s += signs[j];
    WN_CK_OK(wn_featurize_project(1, &b, &cnt, ones, 1, seed, &one));
    ck_assert(one == (s > 0 ? 1.0f : s < 0 ? -1.0f : 0.0f));
  }
  ck_assert(wn_featurize_project(1, buckets, counts, idf, 0, seed, out) != 0);
}
END_TEST

/* ---- distributed runs ---------------------------------------------------------------------------------- */

/* Rank 0 writes a file; everyone waits. */
static void write_file(const char *path, const char *data, size_t len)
{
  int ok = 1;
  if (rank_of() == 0) {
    FILE *f = fopen(path, "wb");
    ok      = f && fwrite(data, 1, len, f) == len;
    if (f) fclose(f);
  }
  (void)MPI_Bcast(&ok, 1, MPI_INT, 0, COMM);
  ck_assert_msg(ok, "cannot write %s", path);
}

/* A growable byte buffer for fixtures. */
typedef struct {
  char  *p;
  size_t n, cap;
} buf_t;

static void bput(buf_t *b, const char *s, size_t len)
{
  if (b->n + len + 1 > b->cap) {
    b->cap = 2 * (b->n + len + 1);
    b->p   = realloc(b->p, b->cap);
  }
  memcpy(b->p + b->n, s, len);
  b->n += len;
  b->p[b->n] = 0;
}
static void bputs(buf_t *b, const char *s) { bput(b, s, strlen(s)); }

#define NREC 23
static const char *vocab[] = {"apple", "bread", "cheese", "dog", "cat", "river", "mountain", "café", "crème", "naïve", "東京", "données", "run", "jump", "quickly", "the", "a", "of", "and", "R2D2", "Über", "x"};

/* The main fixture: record i has id, prompt, response, label and an ignored member; texts[i] receives the
 * decoded joined text (prompt + " " + response). */
typedef struct {
  char text[NREC][400];
  char id[NREC][16];
  char label[NREC][16];
} fixture_t;

static void main_fixture(buf_t *b, fixture_t *fx, const char *eol)
{
  uint64_t s = 12345;

  for (int i = 0; i < NREC; i++) {
    char prompt[200] = "", response[200] = "", raw_prompt[240], line[1024];
    int  nw          = 2 + (i * 7) % 11;
    for (int w = 0; w < nw; w++) {
      s = s * 6364136223846793005ULL + 1442695040888963407ULL;
      const char *word = vocab[(s >> 33) % (sizeof(vocab) / sizeof(vocab[0]))];
      char       *dst  = w < nw / 2 ? prompt : response;
      if (dst[0]) strcat(dst, (s >> 20) & 1 ? " " : ", ");
      strcat(dst, word);
    }
    if (i == 13) prompt[0] = response[0] = 0; /* empty text: a zero vector */
    snprintf(raw_prompt, sizeof(raw_prompt), "%s", prompt);
    if (i == 8) { /* escapes decode before tokenising */
      char words[64];
      snprintf(words, sizeof(words), "%s", prompt);
      snprintf(raw_prompt, sizeof(raw_prompt), "\\u00e9t\\u00e9 \\\"quoted\\\"\\nline %s", words);
      snprintf(prompt, sizeof(prompt), "été \"quoted\"\nline %s", words);
    }
    snprintf(fx->text[i], sizeof(fx->text[i]), "%s %s", prompt, response);
    snprintf(fx->id[i], sizeof(fx->id[i]), i == 11 ? "1100" : "r%d", i);
    snprintf(fx->label[i], sizeof(fx->label[i]), "%s", i == 5 ? "7" : i % 3 == 0 ? "food" : i % 3 == 1 ? "animal" : "place");
    if (i == 11) snprintf(line, sizeof(line), "{\"id\": 1100, \"prompt\": \"%s\", \"response\": \"%s\", \"label\": \"%s\"}%s", raw_prompt, response, fx->label[i], eol);
    else if (i == 5) snprintf(line, sizeof(line), "{\"label\": 7, \"response\": \"%s\", \"id\": \"%s\", \"prompt\": \"%s\"}%s", response, fx->id[i], raw_prompt, eol);
    else snprintf(line, sizeof(line), "{\"id\": \"%s\", \"prompt\": \"%s\", \"response\": \"%s\", \"label\": \"%s\", \"extra\": [1, {\"x\": null}]}%s", fx->id[i], raw_prompt, response, fx->label[i], eol);
    bputs(b, line);
  }
}

static void params_default(wn_featurize_params *p, const char *in, const char *out)
{
  memset(p, 0, sizeof(*p));
  snprintf(p->input, sizeof(p->input), "%s", in);
  snprintf(p->output, sizeof(p->output), "%s", out);
  snprintf(p->text_fields, sizeof(p->text_fields), "prompt, response");
  snprintf(p->id_field, sizeof(p->id_field), "id");
  snprintf(p->label_field, sizeof(p->label_field), "label");
  p->dim       = 24;
  p->hash_bits = 12;
  p->seed      = 7;
}

/* Run on COMM_SELF on rank 0 only (the reference); the result is shared. */
static PetscErrorCode run_self(const wn_featurize_params *p, wn_featurize_stats *st)
{
  PetscErrorCode e = 0;

  if (rank_of() == 0) e = wn_featurize_run(PETSC_COMM_SELF, p, st);
  (void)MPI_Bcast(&e, 1, MPI_INT, 0, COMM);
  (void)MPI_Bcast(st, (int)sizeof(*st), MPI_BYTE, 0, COMM);
  return e;
}

/* One group of an output file, read whole on every rank. */
typedef struct {
  int64_t n, d;
  float  *emb;
  int64_t *row, *id_int;
  char   *id, *label;
  size_t  id_w, label_w;
  int     has_label;
} group_t;

static void read_group(const char *path, const char *group, group_t *g)
{
  hid_t      f = -1;
  wn_h5_info info;
  char       name[64];
  PetscBool  exists;

  memset(g, 0, sizeof(*g));
  OK_ALL(wn_h5_open(COMM, path, PETSC_FALSE, &f));
  snprintf(name, sizeof(name), "/%s/embedding", group);
  OK_ALL(wn_h5_info_get(COMM, f, path, name, &info));
  g->n   = info.dims[0];
  g->d   = info.dims[1];
  g->emb = calloc((size_t)(g->n * g->d + 1), sizeof(float));
  g->row = calloc((size_t)g->n + 1, sizeof(int64_t));
  OK_ALL(wn_h5_read_rows_float(COMM, f, name, 0, g->n, g->d, g->emb));
  snprintf(name, sizeof(name), "/%s/source_row", group);
  OK_ALL(wn_h5_read_rows_int64(COMM, f, name, 0, g->n, g->row));
  snprintf(name, sizeof(name), "/%s/id", group);
  OK_ALL(wn_h5_info_get(COMM, f, path, name, &info));
  WN_CK_ASSERT_ALL(COMM, info.dims[0] == g->n);
  if (info.is_string) OK_ALL(wn_h5_read_rows_strings(COMM, f, name, 0, g->n, &g->id, &g->id_w));
  else {
    g->id_int = calloc((size_t)g->n + 1, sizeof(int64_t));
    OK_ALL(wn_h5_read_rows_int64(COMM, f, name, 0, g->n, g->id_int));
  }
  snprintf(name, sizeof(name), "/%s/label", group);
  OK_ALL(wn_h5_exists(COMM, f, name, &exists));
  if (exists) {
    g->has_label = 1;
    OK_ALL(wn_h5_read_rows_strings(COMM, f, name, 0, g->n, &g->label, &g->label_w));
  }
  OK_ALL(wn_h5_close(&f));
}

static void free_group(group_t *g)
{
  free(g->emb);
  free(g->row);
  free(g->id_int);
  (void)PetscFree(g->id);
  (void)PetscFree(g->label);
}

static int same_group(const group_t *a, const group_t *b)
{
  if (a->n != b->n || a->d != b->d || a->has_label != b->has_label || a->id_w != b->id_w || a->label_w != b->label_w) return 0;
  if (memcmp(a->emb, b->emb, sizeof(float) * (size_t)(a->n * a->d)) || memcmp(a->row, b->row, sizeof(int64_t) * (size_t)a->n)) return 0;
  if (a->id && memcmp(a->id, b->id, a->id_w * (size_t)a->n)) return 0;
  if (a->id_int && (!b->id_int || memcmp(a->id_int, b->id_int, sizeof(int64_t) * (size_t)a->n))) return 0;
  if (a->label && memcmp(a->label, b->label, a->label_w * (size_t)a->n)) return 0;
  return 1;
}

/* Vectors recomputed from the pure helpers: buckets of each text, df over all of them, idf, projection. */
static float *expected_vectors(int n, const char *const *texts, const wn_featurize_params *p)
{
  uint32_t **b  = calloc((size_t)n, sizeof(*b)), **c = calloc((size_t)n, sizeof(*c));
  int64_t   *nb = calloc((size_t)n, sizeof(*nb));
  int64_t    nbk = (int64_t)1 << p->hash_bits;
  uint32_t  *df  = calloc((size_t)nbk, sizeof(uint32_t));
  double    *idf = calloc((size_t)nbk, sizeof(double));
  float     *out = calloc((size_t)n * (size_t)p->dim, sizeof(float));

  for (int i = 0; i < n; i++) {
    WN_CK_OK(wn_featurize_buckets(texts[i], strlen(texts[i]), p->hash_bits, p->seed, NULL, NULL, 0, &nb[i]));
    b[i] = calloc((size_t)nb[i] + 1, 4);
    c[i] = calloc((size_t)nb[i] + 1, 4);
    WN_CK_OK(wn_featurize_buckets(texts[i], strlen(texts[i]), p->hash_bits, p->seed, b[i], c[i], nb[i], &nb[i]));
    for (int64_t k = 0; k < nb[i]; k++) df[b[i][k]]++;
  }
  for (int64_t k = 0; k < nbk; k++) idf[k] = log((n + 1.0) / (df[k] + 1.0)) + 1.0;
  for (int i = 0; i < n; i++) {
    WN_CK_OK(wn_featurize_project(nb[i], b[i], c[i], idf, p->dim, p->seed, out + (size_t)i * (size_t)p->dim));
    free(b[i]);
    free(c[i]);
  }
  free(b);
  free(c);
  free(nb);
  free(df);
  free(idf);
  return out;
}

START_TEST(run_rank_independent)
{
  char                dir[PETSC_MAX_PATH_LEN], in[PETSC_MAX_PATH_LEN], out[PETSC_MAX_PATH_LEN], ref[PETSC_MAX_PATH_LEN];
  buf_t               b = {0};
  fixture_t           fx;
  wn_featurize_params p;
  wn_featurize_stats  st, st_ref;
  group_t             g, r;
  const char         *texts[NREC];
  float              *want;
  int                 ok = 1;

  wn_test_tmpdir_make(dir, sizeof(dir));
  snprintf(in, sizeof(in), "%s/a.jsonl", dir);
  snprintf(out, sizeof(out), "%s/a.h5", dir);
  snprintf(ref, sizeof(ref), "%s/ref.h5", dir);
  main_fixture(&b, &fx, "\n");
  write_file(in, b.p, b.n);
  params_default(&p, in, out);
  OK_ALL(wn_featurize_run(COMM, &p, &st));
  WN_CK_ASSERT_ALL(COMM, st.n_records == NREC && st.n_candidates == NREC && st.n_targets == 0 && st.n_lines == NREC && st.n_skipped == 0 && st.n_empty == 1);
  WN_CK_ASSERT_ALL(COMM, st.bytes == (double)b.n);
  snprintf(p.output, sizeof(p.output), "%s", ref);
  OK_ALL(run_self(&p, &st_ref));
  WN_CK_ASSERT_ALL(COMM, !memcmp(&st, &st_ref, sizeof(st)));
  read_group(out, "candidates", &g);
  read_group(ref, "candidates", &r);
  WN_CK_ASSERT_ALL(COMM, g.n == NREC && g.d == 24 && g.has_label && g.id);
  WN_CK_ASSERT_ALL(COMM, same_group(&g, &r)); /* bitwise, whatever the rank count */
  for (int i = 0; i < NREC; i++) texts[i] = fx.text[i];
  want = expected_vectors(NREC, texts, &p);
  for (int i = 0; i < NREC; i++) {
    double norm = 0;
    for (int j = 0; j < 24; j++) norm += (double)g.emb[i * 24 + j] * g.emb[i * 24 + j];
    if (g.row[i] != i || strcmp(g.id + (size_t)i * g.id_w, fx.id[i]) || strcmp(g.label + (size_t)i * g.label_w, fx.label[i])) ok = 0;
    if (memcmp(g.emb + i * 24, want + i * 24, 24 * sizeof(float))) ok = 0;
    if (i == 13 ? norm != 0 : fabs(norm - 1) > 1e-6) ok = 0;
  }
  WN_CK_ASSERT_ALL(COMM, ok);
  WN_CK_ASSERT_ALL(COMM, g.id_w == 5 && g.label_w == 7); /* "1100"/"r10" + NUL; "animal" + NUL */
  {
    hid_t     f = -1;
    char      s[256];
    double    v;
    PetscBool found;
    OK_ALL(wn_h5_open(COMM, out, PETSC_FALSE, &f));
    OK_ALL(wn_h5_attr_read_string(COMM, f, "/", "featurizer", s, sizeof(s), &found));
    WN_CK_ASSERT_ALL(COMM, found && !strcmp(s, "hashed tf-idf w1+w2+c4 sparse-sign-projection"));
    OK_ALL(wn_h5_attr_read_string(COMM, f, "/", "source", s, sizeof(s), &found));
    WN_CK_ASSERT_ALL(COMM, found && !strcmp(s, in));
    OK_ALL(wn_h5_attr_read_string(COMM, f, "/", "text_fields", s, sizeof(s), &found));
    WN_CK_ASSERT_ALL(COMM, found && !strcmp(s, "prompt, response"));
    OK_ALL(wn_h5_attr_read_double(COMM, f, "/", "dim", &v, &found));
    WN_CK_ASSERT_ALL(COMM, found && v == 24);
    OK_ALL(wn_h5_attr_read_double(COMM, f, "/", "hash_bits", &v, &found));
    WN_CK_ASSERT_ALL(COMM, found && v == 12);
    OK_ALL(wn_h5_attr_read_double(COMM, f, "/", "n_records", &v, &found));
    WN_CK_ASSERT_ALL(COMM, found && v == NREC);
    OK_ALL(wn_h5_attr_read_double(COMM, f, "/", "seed", &v, &found));
    WN_CK_ASSERT_ALL(COMM, found && v == 7);
    OK_ALL(wn_h5_attr_read_double(COMM, f, "/", "n_skipped", &v, &found));
    WN_CK_ASSERT_ALL(COMM, found && v == 0);
    OK_ALL(wn_h5_exists(COMM, f, "/targets/embedding", &found));
    WN_CK_ASSERT_ALL(COMM, !found);
    OK_ALL(wn_h5_close(&f));
  }
  free_group(&r);

  /* no final newline, and CRLF line ends: the same output */
  {
    buf_t     b2 = {0};
    fixture_t fx2;
    main_fixture(&b2, &fx2, "\r\n");
    write_file(in, b.p, b.n - 1);
    OK_ALL(wn_featurize_run(COMM, &p, &st));
    WN_CK_ASSERT_ALL(COMM, st.n_records == NREC && st.n_lines == NREC);
    read_group(ref, "candidates", &r);
    WN_CK_ASSERT_ALL(COMM, same_group(&g, &r));
    free_group(&r);
    write_file(in, b2.p, b2.n);
    OK_ALL(wn_featurize_run(COMM, &p, &st));
    WN_CK_ASSERT_ALL(COMM, st.n_records == NREC && st.n_lines == NREC);
    read_group(ref, "candidates", &r);
    WN_CK_ASSERT_ALL(COMM, same_group(&g, &r));
    free_group(&r);
    free(b2.p);
  }
  /* ids as source rows, no labels: /candidates/id is int64 = source_row, no /candidates/label */
  {
    write_file(in, b.p, b.n);
    p.id_field[0] = p.label_field[0] = 0;
    OK_ALL(wn_featurize_run(COMM, &p, &st));
    read_group(ref, "candidates", &r);
    WN_CK_ASSERT_ALL(COMM, r.id_int && !r.id && !r.has_label && r.n == NREC);
    WN_CK_ASSERT_ALL(COMM, !memcmp(r.id_int, r.row, sizeof(int64_t) * NREC) && !memcmp(r.emb, g.emb, sizeof(float) * NREC * 24));
    free_group(&r);
  }
  /* another dimension and table size, same on every rank count */
  {
    params_default(&p, in, out);
    p.dim       = 256;
    p.hash_bits = 20;
    p.seed      = 123456789012345ULL;
    OK_ALL(wn_featurize_run(COMM, &p, &st));
    snprintf(p.output, sizeof(p.output), "%s", ref);
    OK_ALL(run_self(&p, &st_ref));
    free_group(&g);
    read_group(out, "candidates", &g);
    read_group(ref, "candidates", &r);
    WN_CK_ASSERT_ALL(COMM, g.d == 256 && same_group(&g, &r));
    free(want);
    want = expected_vectors(NREC, texts, &p);
    WN_CK_ASSERT_ALL(COMM, !memcmp(g.emb, want, sizeof(float) * NREC * 256));
    free_group(&r);
  }
  free(want);
  free_group(&g);
  free(b.p);
  wn_test_tmpdir_remove(dir);
}
END_TEST

/* Fewer lines than ranks: some ranks own no line (and no byte range with a line start). */
START_TEST(run_tiny)
{
  char                dir[PETSC_MAX_PATH_LEN], in[PETSC_MAX_PATH_LEN], out[PETSC_MAX_PATH_LEN], ref[PETSC_MAX_PATH_LEN];
  const char         *data = "{\"id\":\"a\",\"text\":\"Dog dog\"}\n{\"id\":\"b\",\"text\":\"café crème\"}";
  wn_featurize_params p;
  wn_featurize_stats  st, st_ref;
  group_t             g, r;
  const char         *texts[2] = {"Dog dog", "café crème"};
  float              *want;

  wn_test_tmpdir_make(dir, sizeof(dir));
  snprintf(in, sizeof(in), "%s/t.jsonl", dir);
  snprintf(out, sizeof(out), "%s/t.h5", dir);
  snprintf(ref, sizeof(ref), "%s/r.h5", dir);
  write_file(in, data, strlen(data));
  params_default(&p, in, out);
  snprintf(p.text_fields, sizeof(p.text_fields), "text");
  p.label_field[0] = 0;
  p.dim            = 5;
  OK_ALL(wn_featurize_run(COMM, &p, &st));
  WN_CK_ASSERT_ALL(COMM, st.n_records == 2 && st.n_lines == 2 && st.n_empty == 0);
  snprintf(p.output, sizeof(p.output), "%s", ref);
  OK_ALL(run_self(&p, &st_ref));
  read_group(out, "candidates", &g);
  read_group(ref, "candidates", &r);
  want = expected_vectors(2, texts, &p);
  WN_CK_ASSERT_ALL(COMM, same_group(&g, &r) && g.n == 2 && !strcmp(g.id, "a") && !strcmp(g.id + g.id_w, "b"));
  WN_CK_ASSERT_ALL(COMM, !memcmp(g.emb, want, sizeof(float) * 10));
  free(want);
  free_group(&g);
  free_group(&r);
  wn_test_tmpdir_remove(dir);
}
END_TEST

/* Lines of 2 MB and 5 MB (longer than a read block), with short lines around them, no final newline. */
START_TEST(run_long_lines)
{
  char                dir[PETSC_MAX_PATH_LEN], in[PETSC_MAX_PATH_LEN], out[PETSC_MAX_PATH_LEN], ref[PETSC_MAX_PATH_LEN];
  buf_t               b = {0}, t2 = {0}, t5 = {0};
  wn_featurize_params p;
  wn_featurize_stats  st, st_ref;
  group_t             g, r;
  uint64_t            s = 99;
  const char         *texts[5];
  float              *want;
  int                 ok = 1;

  wn_test_tmpdir_make(dir, sizeof(dir));
  snprintf(in, sizeof(in), "%s/long.jsonl", dir);
  snprintf(out, sizeof(out), "%s/long.h5", dir);
  snprintf(ref, sizeof(ref), "%s/ref.h5", dir);
  for (buf_t *t = &t2; t; t = t == &t2 ? &t5 : NULL) {
    size_t target = t == &t2 ? 2u << 20 : 5u << 20;
    while (t->n < target) {
      char w[32];
      s = s * 6364136223846793005ULL + 1442695040888963407ULL;
      snprintf(w, sizeof(w), "%sw%u ", (s >> 60) == 3 ? "ü" : "", (unsigned)((s >> 33) % 5000));
      bputs(t, w);
    }
  }
  texts[0] = "short one";
  texts[1] = t2.p;
  texts[2] = "short two";
  texts[3] = t5.p;
  texts[4] = "last line";
  for (int i = 0; i < 5; i++) {
    bputs(&b, "{\"text\": \"");
    bputs(&b, texts[i]);
    bputs(&b, i < 4 ? "\"}\n" : "\"}");
  }
  write_file(in, b.p, b.n);
  params_default(&p, in, out);
  snprintf(p.text_fields, sizeof(p.text_fields), "text");
  p.id_field[0] = p.label_field[0] = 0;
  p.dim       = 32;
  p.hash_bits = 16;
  OK_ALL(wn_featurize_run(COMM, &p, &st));
  WN_CK_ASSERT_ALL(COMM, st.n_records == 5 && st.n_lines == 5 && st.n_empty == 0);
  snprintf(p.output, sizeof(p.output), "%s", ref);
  OK_ALL(run_self(&p, &st_ref));
  read_group(out, "candidates", &g);
  read_group(ref, "candidates", &r);
  WN_CK_ASSERT_ALL(COMM, same_group(&g, &r) && g.n == 5);
  want = expected_vectors(5, texts, &p);
  WN_CK_ASSERT_ALL(COMM, !memcmp(g.emb, want, sizeof(float) * 5 * 32));
  for (int i = 0; i < 5; i++) {
    double norm = 0;
    for (int j = 0; j < 32; j++) norm += (double)g.emb[i * 32 + j] * g.emb[i * 32 + j];
    if (fabs(norm - 1) > 1e-6 || g.id_int[i] != i) ok = 0;
  }
  WN_CK_ASSERT_ALL(COMM, ok);
  free(want);
  free_group(&g);
  free_group(&r);
  free(b.p);
  free(t2.p);
  free(t5.p);
  wn_test_tmpdir_remove(dir);
}
END_TEST

/* A file of lines given as an array of strings, each followed by "\n". */
static void write_lines(const char *path, const char *const *lines, int n)
{
  buf_t b = {0};
  for (int i = 0; i < n; i++) {
    bputs(&b, lines[i]);
    bputs(&b, "\n");
  }
  write_file(path, b.p, b.n);
  free(b.p);
}

START_TEST(run_malformed)
{
  char                dir[PETSC_MAX_PATH_LEN], in[PETSC_MAX_PATH_LEN], out[PETSC_MAX_PATH_LEN], ref[PETSC_MAX_PATH_LEN];
  wn_featurize_params p;
  wn_featurize_stats  st, st_ref;
  group_t             g, r;
  const char *good = "{\"id\": \"g\", \"text\": \"a good line of text\", \"label\": \"x\"}";
  const char *lines[10];

  wn_test_tmpdir_make(dir, sizeof(dir));
  snprintf(in, sizeof(in), "%s/m.jsonl", dir);
  snprintf(out, sizeof(out), "%s/m.h5", dir);
  snprintf(ref, sizeof(ref), "%s/ref.h5", dir);
  params_default(&p, in, out);
  snprintf(p.text_fields, sizeof(p.text_fields), "text");

  /* invalid JSON on line 7 and again on line 9: line 7 is reported, on every rank, no output left */
  for (int i = 0; i < 10; i++) lines[i] = good;
  lines[6] = "{\"id\": \"bad\", \"text\": \"missing comma\" \"label\": \"x\"}";
  lines[8] = "not json at all";
  write_lines(in, lines, 10);
  FAILS_ALL(wn_featurize_run(COMM, &p, &st), "line 7: invalid JSON");
  WN_CK_ASSERT_ALL(COMM, access(out, F_OK) != 0);
  /* skip_bad: both skipped and counted; source rows skip them */
  p.skip_bad = PETSC_TRUE;
  OK_ALL(wn_featurize_run(COMM, &p, &st));
  WN_CK_ASSERT_ALL(COMM, st.n_records == 8 && st.n_skipped == 2 && st.n_lines == 10 && st.n_candidates == 8);
  read_group(out, "candidates", &g);
  WN_CK_ASSERT_ALL(COMM, g.n == 8 && g.row[5] == 5 && g.row[6] == 7 && g.row[7] == 9);
  snprintf(p.output, sizeof(p.output), "%s", ref);
  OK_ALL(run_self(&p, &st_ref));
  read_group(ref, "candidates", &r);
  WN_CK_ASSERT_ALL(COMM, same_group(&g, &r) && st_ref.n_skipped == 2);
  free_group(&g);
  free_group(&r);
  {
    hid_t     f = -1;
    double    v;
    PetscBool found;
    OK_ALL(wn_h5_open(COMM, ref, PETSC_FALSE, &f));
    OK_ALL(wn_h5_attr_read_double(COMM, f, "/", "n_skipped", &v, &found));
    WN_CK_ASSERT_ALL(COMM, found && v == 2);
    OK_ALL(wn_h5_close(&f));
  }
  snprintf(p.output, sizeof(p.output), "%s", out);
  p.skip_bad = PETSC_FALSE;

  /* the first bad line wins whichever rank holds it: bad lines 2, 4 and 10 */
  for (int i = 0; i < 10; i++) lines[i] = good;
  lines[1] = "{\"id\": \"g\", \"label\": \"x\"}";
  lines[3] = "{\"id\": \"g\", \"text\": 5, \"label\": \"x\"}";
  lines[9] = "[1, 2]";
  write_lines(in, lines, 10);
  FAILS_ALL(wn_featurize_run(COMM, &p, &st), "line 2: missing text field 'text'");
  lines[1] = good;
  write_lines(in, lines, 10);
  FAILS_ALL(wn_featurize_run(COMM, &p, &st), "line 4: text field 'text' is a number; expected a string");
  lines[3] = good;
  write_lines(in, lines, 10);
  FAILS_ALL(wn_featurize_run(COMM, &p, &st), "line 10: invalid JSON");
  lines[9] = good;

  /* empty (whitespace) line; missing label; missing id; an id of the wrong type */
  lines[4] = "  \t ";
  write_lines(in, lines, 10);
  FAILS_ALL(wn_featurize_run(COMM, &p, &st), "line 5: empty line");
  lines[4] = "";
  write_lines(in, lines, 10);
  FAILS_ALL(wn_featurize_run(COMM, &p, &st), "line 5: empty line");
  lines[4] = good;
  lines[2] = "{\"id\": \"g\", \"text\": \"no label here\"}";
  write_lines(in, lines, 10);
  FAILS_ALL(wn_featurize_run(COMM, &p, &st), "line 3: missing label field 'label'");
  lines[2] = "{\"text\": \"no id here\", \"label\": \"x\"}";
  write_lines(in, lines, 10);
  FAILS_ALL(wn_featurize_run(COMM, &p, &st), "line 3: missing id field 'id'");
  lines[2] = "{\"id\": [1], \"text\": \"array id\", \"label\": \"x\"}";
  write_lines(in, lines, 10);
  FAILS_ALL(wn_featurize_run(COMM, &p, &st), "line 3: id field 'id' is an array; expected a string or a number");
  lines[2] = good;

  /* invalid UTF-8 (a raw 0xFF byte; a lone continuation byte; a truncated sequence) */
  lines[5] = "{\"id\": \"u\", \"text\": \"bad \xff byte\", \"label\": \"x\"}";
  write_lines(in, lines, 10);
  FAILS_ALL(wn_featurize_run(COMM, &p, &st), "line 6: invalid JSON");
  lines[5] = "{\"id\": \"u\", \"text\": \"bad \x80 byte\", \"label\": \"x\"}";
  write_lines(in, lines, 10);
  FAILS_ALL(wn_featurize_run(COMM, &p, &st), "line 6: invalid JSON");
  lines[5] = "{\"id\": \"u\", \"text\": \"cut \xc3\", \"label\": \"x\"}";
  write_lines(in, lines, 10);
  FAILS_ALL(wn_featurize_run(COMM, &p, &st), "line 6: invalid JSON");
  /* ... and with skip_bad each of them is one skipped line */
  p.skip_bad = PETSC_TRUE;
  OK_ALL(wn_featurize_run(COMM, &p, &st));
  WN_CK_ASSERT_ALL(COMM, st.n_records == 9 && st.n_skipped == 1);
  /* nothing valid at all */
  for (int i = 0; i < 10; i++) lines[i] = "{}";
  write_lines(in, lines, 10);
  FAILS_ALL(wn_featurize_run(COMM, &p, &st), "has no valid record (10 lines, 10 malformed and skipped)");
  wn_test_tmpdir_remove(dir);
}
END_TEST

START_TEST(run_targets)
{
  char                dir[PETSC_MAX_PATH_LEN], in[PETSC_MAX_PATH_LEN], out[PETSC_MAX_PATH_LEN], ref[PETSC_MAX_PATH_LEN], all[PETSC_MAX_PATH_LEN];
  buf_t               b = {0};
  fixture_t           fx;
  wn_featurize_params p;
  wn_featurize_stats  st, st_ref;
  group_t             gc, gt, rc, rt, ga;
  int64_t             food[NREC], n_food = 0, chosen[3];
  int                 ok = 1;

  wn_test_tmpdir_make(dir, sizeof(dir));
  snprintf(in, sizeof(in), "%s/a.jsonl", dir);
  snprintf(out, sizeof(out), "%s/a.h5", dir);
  snprintf(ref, sizeof(ref), "%s/ref.h5", dir);
  snprintf(all, sizeof(all), "%s/all.h5", dir);
  main_fixture(&b, &fx, "\n");
  write_file(in, b.p, b.n);
  params_default(&p, in, all);
  OK_ALL(wn_featurize_run(COMM, &p, &st));
  read_group(all, "candidates", &ga);

  snprintf(p.output, sizeof(p.output), "%s", out);
  snprintf(p.target_label, sizeof(p.target_label), "food");
  p.target_count = 3;
  p.target_seed  = 2024;
  OK_ALL(wn_featurize_run(COMM, &p, &st));
  WN_CK_ASSERT_ALL(COMM, st.n_records == NREC && st.n_targets == 3 && st.n_candidates == NREC - 3);
  snprintf(p.output, sizeof(p.output), "%s", ref);
  OK_ALL(run_self(&p, &st_ref));
  read_group(out, "candidates", &gc);
  read_group(out, "targets", &gt);
  read_group(ref, "candidates", &rc);
  read_group(ref, "targets", &rt);
  WN_CK_ASSERT_ALL(COMM, same_group(&gc, &rc) && same_group(&gt, &rt));
  /* the 3 food rows with the smallest wn_uniform01(2024, row), in file order */
  for (int i = 0; i < NREC; i++)
    if (!strcmp(fx.label[i], "food")) food[n_food++] = i;
  for (int k = 0; k < 3; k++) {
    int best = -1;
    for (int j = 0; j < n_food; j++) {
      if (food[j] < 0) continue;
      if (best < 0 || wn_uniform01(2024, (uint64_t)food[j]) < wn_uniform01(2024, (uint64_t)food[best])) best = j;
    }
    chosen[k]  = food[best];
    food[best] = -1;
  }
  for (int a = 0; a < 3; a++)
    for (int c = a + 1; c < 3; c++)
      if (chosen[c] < chosen[a]) {
        int64_t t = chosen[a];
        chosen[a] = chosen[c];
        chosen[c] = t;
      }
  WN_CK_ASSERT_ALL(COMM, gt.n == 3 && gc.n == NREC - 3);
  for (int k = 0; k < 3 && ok; k++) {
    if (gt.row[k] != chosen[k] || strcmp(gt.label + (size_t)k * gt.label_w, "food") || strcmp(gt.id + (size_t)k * gt.id_w, fx.id[chosen[k]])) ok = 0;
    /* df covers every record, so a target's vector equals the one of the run without targets */
    if (memcmp(gt.emb + k * 24, ga.emb + chosen[k] * 24, 24 * sizeof(float))) ok = 0;
    for (int64_t i = 0; i < gc.n; i++)
      if (gc.row[i] == chosen[k]) ok = 0;
  }
  for (int64_t i = 0; i < gc.n; i++) /* candidates: every other row in file order, same vectors */
    if (memcmp(gc.emb + i * 24, ga.emb + gc.row[i] * 24, 24 * sizeof(float)) || (i && gc.row[i] <= gc.row[i - 1])) ok = 0;
  WN_CK_ASSERT_ALL(COMM, ok);
  free_group(&gc);
  free_group(&gt);
  free_group(&rc);
  free_group(&rt);
  {
    hid_t     f = -1;
    char      s[64];
    double    v;
    PetscBool found;
    OK_ALL(wn_h5_open(COMM, out, PETSC_FALSE, &f));
    OK_ALL(wn_h5_attr_read_string(COMM, f, "/", "target_label", s, sizeof(s), &found));
    WN_CK_ASSERT_ALL(COMM, found && !strcmp(s, "food"));
    OK_ALL(wn_h5_attr_read_double(COMM, f, "/", "target_count", &v, &found));
    WN_CK_ASSERT_ALL(COMM, found && v == 3);
    OK_ALL(wn_h5_attr_read_double(COMM, f, "/", "target_seed", &v, &found));
    WN_CK_ASSERT_ALL(COMM, found && v == 2024);
    OK_ALL(wn_h5_close(&f));
  }

  /* more than there are: all of them (8 food records); a numeric label matches its JSON text */
  snprintf(p.output, sizeof(p.output), "%s", out);
  p.target_count = 100;
  OK_ALL(wn_featurize_run(COMM, &p, &st));
  WN_CK_ASSERT_ALL(COMM, st.n_targets == n_food && st.n_candidates == NREC - n_food);
  snprintf(p.target_label, sizeof(p.target_label), "7");
  p.target_count = 1;
  OK_ALL(wn_featurize_run(COMM, &p, &st));
  read_group(out, "targets", &gt);
  WN_CK_ASSERT_ALL(COMM, st.n_targets == 1 && gt.n == 1 && gt.row[0] == 5 && !strcmp(gt.id, "r5"));
  free_group(&gt);
  /* errors */
  snprintf(p.target_label, sizeof(p.target_label), "zzz");
  FAILS_ALL(wn_featurize_run(COMM, &p, &st), "no record has label 'zzz' (field 'label')");
  p.target_count = 0;
  FAILS_ALL(wn_featurize_run(COMM, &p, &st), "target count must be >= 1");
  p.target_count = 1;
  p.label_field[0] = 0;
  FAILS_ALL(wn_featurize_run(COMM, &p, &st), "target label 'zzz' needs a label field");
  free_group(&ga);
  free(b.p);
  wn_test_tmpdir_remove(dir);
}
END_TEST

START_TEST(run_errors)
{
  char                dir[PETSC_MAX_PATH_LEN], in[PETSC_MAX_PATH_LEN - 16], out[PETSC_MAX_PATH_LEN];
  wn_featurize_params p;
  wn_featurize_stats  st;
  const char         *one = "{\"text\": \"all targets\", \"label\": \"x\", \"id\": 1}\n";

  wn_test_tmpdir_make(dir, sizeof(dir));
  snprintf(in, sizeof(in), "%s/missing.jsonl", dir);
  snprintf(out, sizeof(out), "%s/e.h5", dir);
  params_default(&p, in, out);
  FAILS_ALL(wn_featurize_run(COMM, &p, &st), "cannot open input '");
  FAILS_ALL(wn_featurize_run(COMM, &p, &st), "No such file or directory");
  snprintf(p.input, sizeof(p.input), "%s", dir);
  FAILS_ALL(wn_featurize_run(COMM, &p, &st), "Is a directory");
  snprintf(in, sizeof(in), "%s/empty.jsonl", dir);
  write_file(in, "", 0);
  snprintf(p.input, sizeof(p.input), "%s", in);
  FAILS_ALL(wn_featurize_run(COMM, &p, &st), "is empty");
  snprintf(in, sizeof(in), "%s/one.jsonl", dir);
  write_file(in, one, strlen(one));
  snprintf(p.input, sizeof(p.input), "%s", in);
  snprintf(p.text_fields, sizeof(p.text_fields), "text");
  snprintf(p.target_label, sizeof(p.target_label), "x");
  p.target_count = 5;
  FAILS_ALL(wn_featurize_run(COMM, &p, &st), "no candidate is left");
  p.target_label[0] = 0;
  p.hash_bits       = 30;
  FAILS_ALL(wn_featurize_run(COMM, &p, &st), "hash_bits must be in [8, 28]");
  p.hash_bits = 7;
  FAILS_ALL(wn_featurize_run(COMM, &p, &st), "hash_bits must be in [8, 28]");
  p.hash_bits = 8;
  p.dim       = 0;
  FAILS_ALL(wn_featurize_run(COMM, &p, &st), "dim must be in [1,");
  p.dim = 3;
  snprintf(p.text_fields, sizeof(p.text_fields), "a,,b");
  FAILS_ALL(wn_featurize_run(COMM, &p, &st), "an empty field name");
  snprintf(p.text_fields, sizeof(p.text_fields), "text");
  snprintf(p.output, sizeof(p.output), "%s/x.h5", in); /* a directory that is a file */
  FAILS_ALL(wn_featurize_run(COMM, &p, &st), "cannot write outputs");
  snprintf(p.output, sizeof(p.output), "%s", out);
  OK_ALL(wn_featurize_run(COMM, &p, &st)); /* a single record, numeric id, d = 3, 256 buckets */
  WN_CK_ASSERT_ALL(COMM, st.n_records == 1 && st.n_candidates == 1);
  {
    group_t g;
    read_group(out, "candidates", &g);
    WN_CK_ASSERT_ALL(COMM, g.n == 1 && g.d == 3 && g.id && !strcmp(g.id, "1") && g.row[0] == 0);
    free_group(&g);
  }
  wn_test_tmpdir_remove(dir);
}
END_TEST

static Suite *make_suite(void)
{
  Suite *s    = suite_create("featurize");
  TCase *pure = tcase_create("pure"), *dist = tcase_create("distributed");

  tcase_add_test(pure, buckets_dog_dog);
  tcase_add_test(pure, buckets_non_ascii);
  tcase_add_test(pure, buckets_ascii_lowercase_only);
  tcase_add_test(pure, buckets_edges);
  tcase_add_test(pure, bucket_dims_rule);
  tcase_add_test(pure, project_known);
  tcase_add_test(dist, run_rank_independent);
  tcase_add_test(dist, run_tiny);
  tcase_add_test(dist, run_long_lines);
  tcase_add_test(dist, run_malformed);
  tcase_add_test(dist, run_targets);
  tcase_add_test(dist, run_errors);
  tcase_set_timeout(dist, 120);
  suite_add_tcase(s, pure);
  suite_add_tcase(s, dist);
  return s;
}

int main(int argc, char **argv) { return wn_test_run(argc, argv, make_suite); }
