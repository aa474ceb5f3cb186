/* featurize.c - `winnow featurize`: JSONL text in, hashed TF-IDF sparse-sign-projection embeddings out
 * (DATA.md section 2, contract in include/winnow/featurize.h).
 *
 * Owns: tokenisation and feature hashing of one text (wn_featurize_buckets), the projection of one record
 * (wn_featurize_project, wn_featurize_bucket_dims), and the distributed run (wn_featurize_run): each rank
 * reads its own byte range of the input in blocks, keeps the lines that start in that range, parses them
 * (jsonl.c), stores each record's distinct buckets compactly, the document frequencies are summed over
 * ranks, every record is projected independently of the rank split (so vectors are bitwise identical for
 * any rank count), a seeded sample of one label is held out as targets, and every rank writes its own rows
 * of the HDF5 schema of DESIGN.md section 6 at offsets from MPI_Exscan (h5io.c), atomically (output.c).
 * Leaves to other modules: options and config keys (config.c, main.c), JSON validation (jsonl.c), HDF5
 * transfers (h5io.c), the temporary-name protocol (output.c), printing a report (the caller).
 *
 * The exact rules (tested in tests/unit/test_featurize.c from these sentences, not from this code):
 *  - tokens: maximal runs of ASCII letters/digits and bytes >= 0x80; ASCII letters lowercased; all
 *    other bytes (spaces, punctuation, controls, NUL) separate tokens;
 *  - families f = 0 (word unigram), 1 (word bigram "w1 w2", one space), 2 (character 4-gram over the code
 *    points of " " + word + " "; a code point is a byte that is not 10xxxxxx plus the 10xxxxxx bytes after
 *    it, the word's first byte always starts one); family f hashes with FNV-1a 64 starting from
 *    WN_FNV_OFFSET ^ wn_splitmix64(seed + f); bucket = hash & (2^hash_bits - 1);
 *  - the (dimension, sign) pairs of bucket b: r_k = wn_splitmix64((b ^ seed) + k * 0x9e3779b97f4a7c15),
 *    k = 0..7 (the successive outputs of a splitmix64 generator seeded with b ^ seed);
 *    dimension = ((r_k >> 32) * dim) >> 32, sign = -1 if r_k is odd, else +1.
 */
#include <errno.h>
#include <fcntl.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include <winnow/featurize.h>
#include <winnow/h5io.h>
#include <winnow/jsonl.h>
#include <winnow/output.h>
#include <winnow/util.h>

#define FEATURIZE_GOLDEN     0x9e3779b97f4a7c15ULL
#define FEATURIZE_FNV_PRIME  0x100000001b3ULL
#define FEATURIZE_BLOCK      ((size_t)4 << 20) /* bytes read at a time (grows for longer lines) */
#define FEATURIZE_MAX_FIELDS 16
#define FEATURIZE_NAME       "hashed tf-idf w1+w2+c4 sparse-sign-projection"

/* ---- pure part: hashing, tokens, projection ----------------------------------------------------------- */

/* Same function as wn_splitmix64() (util.c), inlined for the projection loop; the tests compare the two. */
static inline uint64_t featurize_mix(uint64_t x)
{
  x += FEATURIZE_GOLDEN;
  x = (x ^ (x >> 30)) * 0xbf58476d1ce4e5b9ULL;
  x = (x ^ (x >> 27)) * 0x94d049bb133111ebULL;
  return x ^ (x >> 31);
}

/* Same function as wn_fnv1a() (util.c), inlined for the tokeniser. */
static inline uint64_t featurize_fnv(uint64_t h, const unsigned char *p, size_t len)
{
  for (size_t i = 0; i < len; i++) {
    h ^= p[i];
    h *= FEATURIZE_FNV_PRIME;
  }
  return h;
}

static inline void featurize_dims(uint32_t bucket, uint64_t dim, uint64_t seed, int64_t dims[8], int signs[8])
{
  uint64_t x = (uint64_t)bucket ^ seed;

  for (int k = 0; k < 8; k++) {
    uint64_t r = featurize_mix(x + (uint64_t)k * FEATURIZE_GOLDEN);
    dims[k]    = (int64_t)(((r >> 32) * dim) >> 32);
    signs[k]   = (r & 1) ? -1 : 1;
  }
}

/**
  @brief The s = 8 (dimension, sign) pairs bucket adds its weight to (the sparse sign projection).

  Pure. r_k = wn_splitmix64((bucket ^ seed) + k * 0x9e3779b97f4a7c15) for k = 0..7; dims[k] = ((r_k >> 32) *
  dim) >> 32 in [0, dim); signs[k] = -1 when r_k is odd, else +1. Dimensions may repeat (their
  contributions then add). DATA.md section 2, step 4.

  @param[in]  bucket  feature bucket, < 2^hash_bits
  @param[in]  dim     output dimension d, 1 <= d < 2^32
  @param[in]  seed    projection seed
  @param[out] dims    the 8 dimensions
  @param[out] signs   the 8 signs (+1 or -1)
**/
void wn_featurize_bucket_dims(uint32_t bucket, int64_t dim, uint64_t seed, int64_t dims[8], int signs[8])
{
  featurize_dims(bucket, (uint64_t)dim, seed, dims, signs);
}

/* Reusable scratch space of the tokeniser (owned; freed by featurize_work_free). */
typedef struct {
  int       hash_bits;
  uint32_t  mask;
  uint64_t  start[3];   /* FNV start value of each family */
  uint32_t *feat;       /* hashed features of the current text, then sorted (owned) */
  uint32_t *tmp;        /* radix-sort scratch (owned) */
  size_t    n_feat, cap_feat;
  unsigned char *word;  /* " " + lowercased word + " " (owned) */
  size_t         cap_word;
  size_t        *cp;    /* code point starts in word (owned) */
  size_t         cap_cp;
} featurize_work;

static PetscErrorCode featurize_work_init(featurize_work *w, int hash_bits, uint64_t seed)
{
  PetscFunctionBeginUser;
  PetscCall(PetscMemzero(w, sizeof(*w)));
  w->hash_bits = hash_bits;
  w->mask      = (uint32_t)((1ULL << hash_bits) - 1);
  for (int f = 0; f < 3; f++) w->start[f] = WN_FNV_OFFSET ^ wn_splitmix64(seed + (uint64_t)f);
  PetscFunctionReturn(PETSC_SUCCESS);
}

static PetscErrorCode featurize_work_free(featurize_work *w)
{
  PetscFunctionBeginUser;
  PetscCall(PetscFree(w->feat));
  PetscCall(PetscFree(w->tmp));
  PetscCall(PetscFree(w->word));
  PetscCall(PetscFree(w->cp));
  PetscFunctionReturn(PETSC_SUCCESS);
}

/* Grow an array of elem-byte elements to hold at least need (amortised doubling). */
static PetscErrorCode featurize_grow(void **ptr, size_t *cap, size_t need, size_t elem)
{
  size_t c = *cap ? *cap : 64;

  PetscFunctionBeginUser;
  if (need <= *cap) PetscFunctionReturn(PETSC_SUCCESS);
  while (c < need) c *= 2;
  PetscCall(PetscRealloc(c * elem, ptr));
  *cap = c;
  PetscFunctionReturn(PETSC_SUCCESS);
}

static inline int featurize_is_token_byte(unsigned char c)
{
  return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c >= 0x80;
}

/* The next token of text[*pos, len): its byte range [*start, *end); *pos moves to *end. 0 when none is left. */
static inline int featurize_next_token(const unsigned char *text, size_t len, size_t *pos, size_t *start, size_t *end)
{
  size_t i = *pos, j;

  while (i < len && !featurize_is_token_byte(text[i])) i++;
  if (i == len) {
    *pos = len;
    return 0;
  }
  for (j = i; j < len && featurize_is_token_byte(text[j]); j++) {}
  *start = i;
  *end = *pos = j;
  return 1;
}

/**
  @brief The next token of a text under the featurizer's rule (a maximal run of ASCII letters/digits and
  bytes >= 0x80; every other byte separates tokens).

  Pure. The token's bytes are not lowercased here: callers fold ASCII 'A'-'Z' themselves, as
  wn_featurize_buckets does. Shared with the reference language model (src/ngram.c).

  @param[in]     text   bytes (borrowed; need not be NUL-terminated)
  @param[in]     len    bytes
  @param[in,out] pos    where to start looking; moved past the token (to len when there is none)
  @param[out]    start  first byte of the token
  @param[out]    end    one past its last byte
  @return PETSC_TRUE when a token was found
**/
PetscBool wn_featurize_next_token(const char *text, size_t len, size_t *pos, size_t *start, size_t *end)
{
  return featurize_next_token((const unsigned char *)text, len, pos, start, end) ? PETSC_TRUE : PETSC_FALSE;
}

/* Sort w->feat[0, n) ascending: insertion sort for short lists, else LSD radix sort on 8-bit digits
 * (only as many passes as hash_bits needs). */
static void featurize_sort(featurize_work *w)
{
  uint32_t *a = w->feat, *b = w->tmp;
  size_t    n = w->n_feat;

  if (n <= 48) {
    for (size_t i = 1; i < n; i++) {
      uint32_t v = a[i];
      size_t   j = i;
      while (j > 0 && a[j - 1] > v) {
        a[j] = a[j - 1];
        j--;
      }
      a[j] = v;
    }
    return;
  }
  for (int shift = 0; shift < w->hash_bits; shift += 8) {
    size_t count[257] = {0};
    for (size_t i = 0; i < n; i++) count[((a[i] >> shift) & 0xff) + 1]++;
    for (int d = 0; d < 256; d++) count[d + 1] += count[d];
    for (size_t i = 0; i < n; i++) b[count[(a[i] >> shift) & 0xff]++] = a[i];
    uint32_t *t = a;
    a           = b;
    b           = t;
  }
  if (a != w->feat) memcpy(w->feat, a, n * sizeof(uint32_t));
}

/* Hash every feature of text[0, len) into w->feat and sort them (duplicates kept, adjacent). A word of L
 * bytes gives at most L + 1 features (a unigram, a bigram, at most L - 1 4-grams) and words are separated
 * by at least one byte, so len + 1 entries always suffice: capacity is reserved once per text. */
static PetscErrorCode featurize_hash_text(featurize_work *w, const unsigned char *text, size_t len)
{
  uint64_t  bigram_prefix = 0;
  PetscBool have_prev     = PETSC_FALSE;
  size_t    i = 0, n = 0;
  uint32_t *feat;

  PetscFunctionBeginUser;
  if (len + 1 > w->cap_feat) {
    size_t cap = w->cap_feat;
    PetscCall(featurize_grow((void **)&w->feat, &w->cap_feat, len + 1, sizeof(uint32_t)));
    PetscCall(featurize_grow((void **)&w->tmp, &cap, w->cap_feat, sizeof(uint32_t)));
  }
  PetscCall(featurize_grow((void **)&w->word, &w->cap_word, len + 2, 1));
  PetscCall(featurize_grow((void **)&w->cp, &w->cap_cp, len + 3, sizeof(size_t)));
  feat = w->feat;
  while (i < len) {
    size_t j, L, ncp = 0;

    size_t from;
    if (!featurize_next_token(text, len, &i, &from, &j)) break;
    i          = from;
    L          = j - i;
    w->word[0] = ' ';
    for (size_t k = 0; k < L; k++) {
      unsigned char c = text[i + k];
      w->word[k + 1]  = (c >= 'A' && c <= 'Z') ? (unsigned char)(c + ('a' - 'A')) : c;
    }
    w->word[L + 1] = ' ';
    /* unigram; bigram with the previous word; then this word becomes the bigram prefix "w1 " */
    feat[n++] = (uint32_t)(featurize_fnv(w->start[0], w->word + 1, L) & w->mask);
    if (have_prev) feat[n++] = (uint32_t)(featurize_fnv(bigram_prefix, w->word + 1, L) & w->mask);
    bigram_prefix = featurize_fnv(w->start[1], w->word + 1, L + 1); /* the word and the space after it */
    have_prev     = PETSC_TRUE;
    /* character 4-grams over the code points of " " + word + " " */
    w->cp[ncp++] = 0;
    for (size_t k = 1; k <= L; k++)
      if (k == 1 || (w->word[k] & 0xC0) != 0x80) w->cp[ncp++] = k;
    w->cp[ncp++] = L + 1;
    w->cp[ncp]   = L + 2; /* end sentinel */
    for (size_t g = 0; g + 4 <= ncp; g++) feat[n++] = (uint32_t)(featurize_fnv(w->start[2], w->word + w->cp[g], w->cp[g + 4] - w->cp[g]) & w->mask);
    i = j;
  }
  w->n_feat = n;
  featurize_sort(w);
  PetscFunctionReturn(PETSC_SUCCESS);
}

/* Number of distinct values in the sorted w->feat. */
static size_t featurize_n_distinct(const featurize_work *w)
{
  size_t n = 0;

  for (size_t i = 0; i < w->n_feat; i++)
    if (i == 0 || w->feat[i] != w->feat[i - 1]) n++;
  return n;
}

/* Collapse the sorted w->feat into (bucket, count) pairs; writes at most cap of them. */
static void featurize_collapse(const featurize_work *w, uint32_t *buckets, uint32_t *counts, size_t cap)
{
  size_t n = 0;

  for (size_t i = 0; i < w->n_feat;) {
    size_t j = i + 1;
    while (j < w->n_feat && w->feat[j] == w->feat[i]) j++;
    if (n < cap) {
      buckets[n] = w->feat[i];
      counts[n]  = (uint32_t)(j - i);
    }
    n++;
    i = j;
  }
}

/**
  @brief The distinct feature buckets of one text, ascending, with how often each occurs.

  Not collective. Features are the word unigrams, word bigrams and character 4-grams of the file banner,
  each hashed into 2^hash_bits buckets; a bucket hit by several features (collisions or repeats) counts
  them all. An empty text, or one without any token, has no bucket.

  @param[in]  text       bytes of the text (borrowed; need not be NUL-terminated; may be NULL when len = 0)
  @param[in]  len        bytes
  @param[in]  hash_bits  buckets = 2^hash_bits, 8 <= hash_bits <= 28
  @param[in]  seed       hashing seed
  @param[out] buckets    caller array of capacity cap: the distinct buckets, ascending
  @param[out] counts     caller array of capacity cap: occurrences of each bucket
  @param[in]  cap        capacity of buckets and counts
  @param[out] n          number of distinct buckets; when > cap only the first cap were written (retry larger)
**/
PetscErrorCode wn_featurize_buckets(const char *text, size_t len, int hash_bits, uint64_t seed, uint32_t *buckets, uint32_t *counts, int64_t cap, int64_t *n)
{
  featurize_work w;

  PetscFunctionBeginUser;
  PetscCheck(hash_bits >= 8 && hash_bits <= 28, PETSC_COMM_SELF, PETSC_ERR_ARG_OUTOFRANGE, "hash_bits must be in [8, 28], got %d", hash_bits);
  PetscCheck(text || len == 0, PETSC_COMM_SELF, PETSC_ERR_ARG_NULL, "text is NULL but len is %zu", len);
  PetscCheck(cap >= 0 && n, PETSC_COMM_SELF, PETSC_ERR_ARG_OUTOFRANGE, "bad capacity %lld or NULL n", (long long)cap);
  PetscCheck(cap == 0 || (buckets && counts), PETSC_COMM_SELF, PETSC_ERR_ARG_NULL, "buckets or counts is NULL");
  PetscCall(featurize_work_init(&w, hash_bits, seed));
  PetscCall(featurize_hash_text(&w, (const unsigned char *)text, len));
  *n = (int64_t)featurize_n_distinct(&w);
  featurize_collapse(&w, buckets, counts, (size_t)cap);
  PetscCall(featurize_work_free(&w));
  PetscFunctionReturn(PETSC_SUCCESS);
}

/* The projection of one record into acc[dim] (zeroed here) and then out[dim], L2-normalised. */
static void featurize_project_into(int64_t n, const uint32_t *buckets, const uint32_t *counts, const double *idf, int64_t dim, uint64_t seed, double *acc, float *out)
{
  double norm2 = 0;

  memset(acc, 0, (size_t)dim * sizeof(double));
  for (int64_t k = 0; k < n; k++) {
    double   w = (counts[k] == 1 ? 1.0 : 1.0 + log((double)counts[k])) * idf[buckets[k]];
    uint64_t x = (uint64_t)buckets[k] ^ seed, wbits;

#if defined(__GNUC__)
    if (k + 16 < n) __builtin_prefetch(idf + buckets[k + 16]); /* idf is 8 MiB at 2^20 buckets: hide the misses */
#endif
    memcpy(&wbits, &w, sizeof(w));
    /* featurize_dims inlined; the sign is applied by flipping the sign bit of w (exact, and without a
     * branch the random signs would mispredict half of the time) */
    for (int j = 0; j < 8; j++) {
      uint64_t r    = featurize_mix(x + (uint64_t)j * FEATURIZE_GOLDEN);
      uint64_t bits = wbits ^ ((r & 1) << 63);
      double   sw;
      memcpy(&sw, &bits, sizeof(sw));
      acc[((r >> 32) * (uint64_t)dim) >> 32] += sw;
    }
  }
  for (int64_t i = 0; i < dim; i++) norm2 += acc[i] * acc[i];
  if (norm2 > 0) {
    double norm = sqrt(norm2);
    for (int64_t i = 0; i < dim; i++) out[i] = (float)(acc[i] / norm);
  } else {
    for (int64_t i = 0; i < dim; i++) out[i] = 0.0f;
  }
}

/**
  @brief Project one record: sum w_k * sign into the 8 dimensions of each bucket, then L2-normalise.

  Not collective. w_k = (1 + ln counts[k]) * idf[buckets[k]]; the sum runs in double over the buckets in
  the order given (ascending from wn_featurize_buckets), each bucket's 8 pairs in order; the result is
  divided by its Euclidean norm and rounded to float. A record whose sum is zero (no bucket) gives the
  zero vector. DATA.md section 2, steps 3 to 5.

  @param[in]  n        number of buckets
  @param[in]  buckets  the buckets (borrowed)
  @param[in]  counts   their counts, >= 1 (borrowed)
  @param[in]  idf      2^hash_bits inverse document frequencies (borrowed)
  @param[in]  dim      output dimension d, 1 <= d < 2^32
  @param[in]  seed     projection seed
  @param[out] out      d floats (caller array)
**/
PetscErrorCode wn_featurize_project(int64_t n, const uint32_t *buckets, const uint32_t *counts, const double *idf, int64_t dim, uint64_t seed, float *out)
{
  double *acc;

  PetscFunctionBeginUser;
  PetscCheck(dim >= 1 && dim <= INT32_MAX, PETSC_COMM_SELF, PETSC_ERR_ARG_OUTOFRANGE, "dim must be in [1, %d], got %lld", INT32_MAX, (long long)dim);
  PetscCheck(n >= 0, PETSC_COMM_SELF, PETSC_ERR_ARG_OUTOFRANGE, "negative number of buckets %lld", (long long)n);
  PetscCheck(n == 0 || (buckets && counts && idf), PETSC_COMM_SELF, PETSC_ERR_ARG_NULL, "buckets, counts or idf is NULL");
  PetscCheck(out, PETSC_COMM_SELF, PETSC_ERR_ARG_NULL, "out is NULL");
  PetscCall(PetscMalloc1(dim, &acc));
  featurize_project_into(n, buckets, counts, idf, dim, seed, acc, out);
  PetscCall(PetscFree(acc));
  PetscFunctionReturn(PETSC_SUCCESS);
}

/* ---- the distributed run -------------------------------------------------------------------------------- */

/* Records kept on this rank, in file order (all arrays owned). */
typedef struct {
  int64_t   n, cap;
  int64_t  *row;        /* local line index, then (after the Exscan) the global 0-based source row */
  int64_t  *feat_start; /* n + 1 offsets into bucket/count */
  size_t   *id_at;      /* offsets into strings (when id_field is set) */
  size_t   *label_at;   /* offsets into strings (when label_field is set) */
  uint32_t *bucket, *count;
  size_t    n_feat, cap_feat;
  char     *strings;    /* NUL-terminated ids and labels */
  size_t    n_str, cap_str;
} featurize_store;

/* Everything the line scanner needs (borrowed pointers unless marked). */
typedef struct {
  const wn_featurize_params *p;
  char             fields[FEATURIZE_MAX_FIELDS][256];
  int              n_fields;
  featurize_work   work;
  wn_jsonl_record *rec;         /* owned */
  char            *text;        /* joined text fields (owned) */
  size_t           cap_text;
  char            *scratch;     /* a decoded id or label (owned) */
  size_t           cap_scratch;
  uint32_t        *df;          /* 2^hash_bits local document frequencies (owned) */
  featurize_store  store;
  int64_t          n_lines;     /* lines seen by this rank */
  int64_t          n_skipped;
  int64_t          first_bad;   /* local index of the first malformed line, -1 if none */
  char             reason[768]; /* why it is malformed */
  int              io_errno;    /* read error on this rank, 0 if none */
} featurize_ctx;

static PetscErrorCode featurize_store_free(featurize_store *s)
{
  PetscFunctionBeginUser;
  PetscCall(PetscFree(s->row));
  PetscCall(PetscFree(s->feat_start));
  PetscCall(PetscFree(s->id_at));
  PetscCall(PetscFree(s->label_at));
  PetscCall(PetscFree(s->bucket));
  PetscCall(PetscFree(s->count));
  PetscCall(PetscFree(s->strings));
  PetscFunctionReturn(PETSC_SUCCESS);
}

/* Append bytes s[0, len) and a NUL to the string pool; *at receives the offset. */
static PetscErrorCode featurize_store_string(featurize_store *st, const char *s, size_t len, size_t *at)
{
  PetscFunctionBeginUser;
  PetscCall(featurize_grow((void **)&st->strings, &st->cap_str, st->n_str + len + 1, 1));
  if (len) memcpy(st->strings + st->n_str, s, len);
  st->strings[st->n_str + len] = 0;
  *at = st->n_str;
  st->n_str += len + 1;
  PetscFunctionReturn(PETSC_SUCCESS);
}

/* An id or label member as text: a decoded string, or a number's JSON text. Sets *ok = 0 and the reason
 * when the member is missing or of another type. */
static PetscErrorCode featurize_key_text(featurize_ctx *c, const char *what, const char *key, size_t *at, int *ok)
{
  wn_json_type type;
  wn_json_span raw;

  PetscFunctionBeginUser;
  PetscCall(wn_jsonl_get_raw(c->rec, key, &type, &raw));
  if (type == WN_JSON_NUMBER) {
    PetscCall(featurize_store_string(&c->store, raw.ptr, raw.len, at));
  } else if (type == WN_JSON_STRING) {
    size_t len;
    PetscCall(featurize_grow((void **)&c->scratch, &c->cap_scratch, raw.len + 1, 1));
    PetscCall(wn_jsonl_get_string(c->rec, key, &type, c->scratch, c->cap_scratch, &len));
    PetscCall(featurize_store_string(&c->store, c->scratch, len, at));
  } else {
    *ok = 0;
    if (type == WN_JSON_MISSING) snprintf(c->reason, sizeof(c->reason), "missing %s field '%s'", what, key);
    else snprintf(c->reason, sizeof(c->reason), "%s field '%s' is %s %s; expected a string or a number", what, key, type == WN_JSON_ARRAY || type == WN_JSON_OBJECT ? "an" : "a", wn_json_type_name(type));
  }
  PetscFunctionReturn(PETSC_SUCCESS);
}

/* Parse one line into a record; on a malformed line set *ok = 0 and c->reason (the store is unchanged). */
static PetscErrorCode featurize_line(featurize_ctx *c, const char *line, size_t len, int64_t index, int *ok)
{
  const wn_featurize_params *p  = c->p;
  featurize_store           *st = &c->store;
  wn_jsonl_status            status;
  size_t                     text_len = 0, id_at = 0, label_at = 0, n_str0 = st->n_str, nd;
  PetscBool                  blank    = PETSC_TRUE;

  PetscFunctionBeginUser;
  *ok = 1;
  for (size_t i = 0; i < len && blank; i++)
    if (line[i] != ' ' && line[i] != '\t' && line[i] != '\r' && line[i] != '\n') blank = PETSC_FALSE;
  if (blank) {
    *ok = 0;
    snprintf(c->reason, sizeof(c->reason), "empty line (only whitespace); expected a JSON object");
    PetscFunctionReturn(PETSC_SUCCESS);
  }
  PetscCall(wn_jsonl_parse(c->rec, line, len, &status));
  if (!status.valid) {
    *ok = 0;
    snprintf(c->reason, sizeof(c->reason), "invalid JSON at byte %zu of the line: %s", status.offset + 1, status.reason);
    PetscFunctionReturn(PETSC_SUCCESS);
  }
  /* the text: fields joined by one space */
  for (int f = 0; f < c->n_fields; f++) {
    wn_json_type type;
    wn_json_span raw;
    size_t       got;

    PetscCall(wn_jsonl_get_raw(c->rec, c->fields[f], &type, &raw));
    if (type != WN_JSON_STRING) {
      *ok = 0;
      if (type == WN_JSON_MISSING) snprintf(c->reason, sizeof(c->reason), "missing text field '%s'", c->fields[f]);
      else snprintf(c->reason, sizeof(c->reason), "text field '%s' is %s %s; expected a string", c->fields[f], type == WN_JSON_ARRAY || type == WN_JSON_OBJECT ? "an" : "a", wn_json_type_name(type));
      PetscFunctionReturn(PETSC_SUCCESS);
    }
    PetscCall(featurize_grow((void **)&c->text, &c->cap_text, text_len + raw.len + 2, 1));
    if (f > 0) c->text[text_len++] = ' ';
    PetscCall(wn_jsonl_get_string(c->rec, c->fields[f], &type, c->text + text_len, c->cap_text - text_len, &got));
    text_len += got;
  }
  /* the id and the label (their text goes to the string pool; undone if the record is rejected) */
  if (p->id_field[0]) PetscCall(featurize_key_text(c, "id", p->id_field, &id_at, ok));
  if (*ok && p->label_field[0]) PetscCall(featurize_key_text(c, "label", p->label_field, &label_at, ok));
  if (!*ok) {
    st->n_str = n_str0;
    PetscFunctionReturn(PETSC_SUCCESS);
  }
  /* the features: buckets, counts and document frequencies */
  PetscCall(featurize_hash_text(&c->work, (const unsigned char *)c->text, text_len));
  nd = featurize_n_distinct(&c->work);
  if (st->n == st->cap) {
    int64_t cap = st->cap ? 2 * st->cap : 1024;
    PetscCall(PetscRealloc(sizeof(int64_t) * (size_t)cap, &st->row));
    PetscCall(PetscRealloc(sizeof(int64_t) * (size_t)(cap + 1), &st->feat_start));
    PetscCall(PetscRealloc(sizeof(size_t) * (size_t)cap, &st->id_at));
    PetscCall(PetscRealloc(sizeof(size_t) * (size_t)cap, &st->label_at));
    st->cap = cap;
  }
  if (st->n_feat + nd > st->cap_feat) {
    size_t cap = st->cap_feat;
    PetscCall(featurize_grow((void **)&st->bucket, &st->cap_feat, st->n_feat + nd, sizeof(uint32_t)));
    PetscCall(featurize_grow((void **)&st->count, &cap, st->cap_feat, sizeof(uint32_t)));
  }
  featurize_collapse(&c->work, st->bucket + st->n_feat, st->count + st->n_feat, nd);
  for (size_t k = 0; k < nd; k++) c->df[st->bucket[st->n_feat + k]]++;
  if (st->n == 0) st->feat_start[0] = 0;
  st->row[st->n]            = index;
  st->id_at[st->n]          = id_at;
  st->label_at[st->n]       = label_at;
  st->n_feat               += nd;
  st->feat_start[st->n + 1] = (int64_t)st->n_feat;
  st->n++;
  PetscFunctionReturn(PETSC_SUCCESS);
}

/* Handle one line of the scan: count it, parse it, note the first malformed one. *stop = 1 when the run
 * will fail anyway (a malformed line without skip_bad), so the rest of the range need not be read. */
static PetscErrorCode featurize_scan_line(void *ctx, const char *line, size_t len, int64_t offset, int *stop)
{
  featurize_ctx *c     = ctx;
  int64_t        index = c->n_lines++;
  int     ok;

  PetscFunctionBeginUser;
  if (offset == 0 && len >= 3 && !memcmp(line, "\xEF\xBB\xBF", 3)) { /* a UTF-8 byte-order mark opens the file */
    line += 3;
    len -= 3;
  }
  PetscCall(featurize_line(c, line, len, index, &ok));
  if (!ok) {
    if (c->first_bad < 0) c->first_bad = index;
    c->n_skipped++;
    if (!c->p->skip_bad) *stop = 1;
  }
  PetscFunctionReturn(PETSC_SUCCESS);
}

/* pread until want bytes, end of file or an error (*err = errno). */
static size_t featurize_pread(int fd, char *buf, size_t want, int64_t offset, int *err)
{
  size_t got = 0;

  while (got < want) {
    ssize_t r = pread(fd, buf + got, want - got, (off_t)(offset + (int64_t)got));
    if (r < 0 && errno == EINTR) continue;
    if (r < 0) {
      *err = errno;
      break;
    }
    if (r == 0) break;
    got += (size_t)r;
  }
  return got;
}

/* The first line start at or after lo: lo itself when lo = 0 or byte lo - 1 is a newline, else the byte
 * after the next newline (size when there is none). */
static PetscErrorCode featurize_line_start(int fd, int64_t lo, int64_t size, char *buf, size_t cap, int64_t *start, int *err)
{
  int64_t pos = lo - 1;

  PetscFunctionBeginUser;
  *start = size;
  if (lo <= 0) {
    *start = 0;
    PetscFunctionReturn(PETSC_SUCCESS);
  }
  while (pos < size && !*err) {
    size_t want = (size_t)PetscMin((int64_t)cap, size - pos);
    size_t got  = featurize_pread(fd, buf, want, pos, err);
    char  *nl   = got ? memchr(buf, '\n', got) : NULL;

    if (nl) {
      *start = pos + (nl - buf) + 1;
      break;
    }
    if (got < want) break; /* the file shrank: treat as end */
    pos += (int64_t)got;
  }
  PetscFunctionReturn(PETSC_SUCCESS);
}

/**
  @brief This rank's byte range of a file split over nranks: [size * rank / nranks, size * (rank + 1) / nranks).

  Pure. With wn_featurize_scan_lines, every line of the file is read by exactly one rank (the one whose
  range holds the line's first byte).

  @param[in]  size    bytes in the file
  @param[in]  rank    this rank, 0 <= rank < nranks
  @param[in]  nranks  number of ranks
  @param[out] lo      first byte of the range
  @param[out] hi      one past its last byte
**/
void wn_featurize_byte_range(int64_t size, int rank, int nranks, int64_t *lo, int64_t *hi)
{
  *lo = (int64_t)((uint64_t)size * (uint64_t)rank / (uint64_t)nranks);
  *hi = (int64_t)((uint64_t)size * (uint64_t)(rank + 1) / (uint64_t)nranks);
}

/**
  @brief Call fn for every line of an open file that starts in [lo, hi), in file order, in blocks.

  Not collective. The first line considered is the first that starts at or after lo (lo itself when lo = 0
  or byte lo - 1 is a newline); the scan ends after the last line starting before hi, at the end of the
  file, or when fn sets *stop. A partial line is carried over to the next block and the buffer grows for
  lines longer than a block (4 MiB). Lines are passed without their '\n' (a '\r' before it stays), and the
  last line of a file without a final newline is passed too. With hi = size a caller can read on past its
  own range (records that span lines, e.g. fortune quotes, are finished by the rank where they start).

  @param[in]  fd        file descriptor open for reading (borrowed)
  @param[in]  lo        first byte of the range (see wn_featurize_byte_range)
  @param[in]  hi        end of the range
  @param[in]  size      bytes in the file
  @param[in]  fn        called as fn(ctx, line, len, offset, &stop); offset = the line's first byte in the file
  @param[in]  ctx       passed to fn (borrowed)
  @param[out] io_errno  errno of a failed read, else left unchanged (set it to 0 before)
**/
PetscErrorCode wn_featurize_scan_lines(int fd, int64_t lo, int64_t hi, int64_t size, wn_featurize_line_fn fn, void *ctx, int *io_errno)
{
  size_t  cap = FEATURIZE_BLOCK, len = 0, cur = 0;
  char   *buf;
  int64_t off;
  int     stop = 0;

  PetscFunctionBeginUser;
  PetscCall(PetscMalloc1(cap, &buf));
  PetscCall(featurize_line_start(fd, lo, size, buf, cap, &off, io_errno));
  if (off >= hi || *io_errno) {
    PetscCall(PetscFree(buf));
    PetscFunctionReturn(PETSC_SUCCESS);
  }
  while (!stop) {
    char *nl = cur < len ? memchr(buf + cur, '\n', len - cur) : NULL;

    if (nl) {
      size_t end = (size_t)(nl - buf);
      PetscCall(fn(ctx, buf + cur, end - cur, off + (int64_t)cur, &stop));
      cur = end + 1;
      if (off + (int64_t)cur >= hi) break; /* the next line belongs to the next rank */
      continue;
    }
    if (off + (int64_t)len >= size) { /* end of file: a last line without a newline */
      if (cur < len) PetscCall(fn(ctx, buf + cur, len - cur, off + (int64_t)cur, &stop));
      break;
    }
    if (cur > 0) { /* carry the partial line to the front */
      memmove(buf, buf + cur, len - cur);
      off += (int64_t)cur;
      len -= cur;
      cur = 0;
    }
    if (len == cap) PetscCall(featurize_grow((void **)&buf, &cap, cap + 1, 1));
    {
      size_t want = (size_t)PetscMin((int64_t)(cap - len), size - off - (int64_t)len);
      size_t got  = featurize_pread(fd, buf + len, want, off + (int64_t)len, io_errno);
      if (*io_errno) break;
      if (got < want) size = off + (int64_t)len + (int64_t)got; /* the file shrank: stop at what is there */
      len += got;
    }
  }
  PetscCall(PetscFree(buf));
  PetscFunctionReturn(PETSC_SUCCESS);
}

/* Split "a, b,c" into c->fields; collective check (every rank holds the same params). */
static PetscErrorCode featurize_fields(MPI_Comm comm, featurize_ctx *c)
{
  const char *s = c->p->text_fields;

  PetscFunctionBeginUser;
  c->n_fields = 0;
  while (1) {
    const char *e = strchr(s, ',');
    size_t      n = e ? (size_t)(e - s) : strlen(s);
    while (n && (*s == ' ' || *s == '\t')) {
      s++;
      n--;
    }
    while (n && (s[n - 1] == ' ' || s[n - 1] == '\t')) n--;
    PetscCheck(n > 0, comm, PETSC_ERR_ARG_WRONG, "text fields '%s': an empty field name; expected names separated by commas, e.g. \"prompt,response\"", c->p->text_fields);
    PetscCheck(n < sizeof(c->fields[0]), comm, PETSC_ERR_ARG_WRONG, "text fields '%s': a name longer than %zu bytes", c->p->text_fields, sizeof(c->fields[0]) - 1);
    PetscCheck(c->n_fields < FEATURIZE_MAX_FIELDS, comm, PETSC_ERR_ARG_WRONG, "text fields '%s': more than %d fields", c->p->text_fields, FEATURIZE_MAX_FIELDS);
    memcpy(c->fields[c->n_fields], s, n);
    c->fields[c->n_fields++][n] = 0;
    if (!e) break;
    s = e + 1;
  }
  PetscFunctionReturn(PETSC_SUCCESS);
}

/* Check the parameters (collective: every rank holds the same values, rank 0 prints). */
static PetscErrorCode featurize_check_params(MPI_Comm comm, const wn_featurize_params *p)
{
  PetscFunctionBeginUser;
  PetscCheck(p->input[0], comm, PETSC_ERR_ARG_WRONG, "featurize: no input file given");
  PetscCheck(p->output[0], comm, PETSC_ERR_ARG_WRONG, "featurize: no output file given");
  PetscCheck(p->dim >= 1 && p->dim <= INT32_MAX, comm, PETSC_ERR_ARG_OUTOFRANGE, "featurize: dim must be in [1, %d], got %lld", INT32_MAX, (long long)p->dim);
  PetscCheck(p->hash_bits >= 8 && p->hash_bits <= 28, comm, PETSC_ERR_ARG_OUTOFRANGE, "featurize: hash_bits must be in [8, 28] (2^hash_bits buckets), got %d", p->hash_bits);
  if (p->target_label[0]) {
    PetscCheck(p->label_field[0], comm, PETSC_ERR_ARG_WRONG, "featurize: target label '%s' needs a label field", p->target_label);
    PetscCheck(p->target_count >= 1, comm, PETSC_ERR_ARG_OUTOFRANGE, "featurize: target count must be >= 1 when a target label ('%s') is given, got %lld", p->target_label, (long long)p->target_count);
  }
  PetscFunctionReturn(PETSC_SUCCESS);
}

/* Open the input on every rank; rank 0 checks it first (exists, regular, not empty). */
static PetscErrorCode featurize_open(MPI_Comm comm, const char *path, int *fd, int64_t *size)
{
  PetscMPIInt rank;
  int64_t     sz  = -1;
  int         err = 0;
  struct stat sb;

  PetscFunctionBeginUser;
  *fd = -1;
  PetscCallMPI(MPI_Comm_rank(comm, &rank));
  if (rank == 0) {
    if (stat(path, &sb)) err = errno;
    else if (S_ISDIR(sb.st_mode)) err = EISDIR;
    else sz = (int64_t)sb.st_size;
  }
  WN_CHECK_ALL(comm, err == 0, PETSC_ERR_FILE_OPEN, "cannot open input '%s': %s", path, strerror(err));
  PetscCallMPI(MPI_Bcast(&sz, 1, MPI_INT64_T, 0, comm));
  PetscCheck(sz > 0, comm, PETSC_ERR_FILE_UNEXPECTED, "input '%s' is empty; expected JSON lines", path);
  *fd = open(path, O_RDONLY);
  err = *fd < 0 ? errno : 0;
  WN_CHECK_ALL(comm, err == 0, PETSC_ERR_FILE_OPEN, "cannot open input '%s': %s", path, strerror(err));
  *size = sz;
  PetscFunctionReturn(PETSC_SUCCESS);
}

/* Ordering of target candidates: smaller draw first, then smaller row. */
typedef struct {
  double  u;
  int64_t row;
} featurize_draw;

static int featurize_draw_cmp(const void *a, const void *b)
{
  const featurize_draw *x = a, *y = b;

  if (x->u != y->u) return x->u < y->u ? -1 : 1;
  return (x->row > y->row) - (x->row < y->row);
}

/* Mark is_target[i] for the target_count records with the label and the smallest
 * wn_uniform01(target_seed, row) over all ranks (all of them when fewer). Collective. */
static PetscErrorCode featurize_targets(MPI_Comm comm, featurize_ctx *c, unsigned char *is_target)
{
  const wn_featurize_params *p  = c->p;
  featurize_store           *st = &c->store;
  featurize_draw            *mine, *all = NULL, cut = {2.0, INT64_MAX};
  int64_t                    n_match = 0, n_match_all, keep;
  PetscMPIInt                rank, size, m, *counts = NULL, *displs = NULL;

  PetscFunctionBeginUser;
  PetscCallMPI(MPI_Comm_rank(comm, &rank));
  PetscCallMPI(MPI_Comm_size(comm, &size));
  PetscCall(PetscMalloc1(st->n + 1, &mine));
  for (int64_t i = 0; i < st->n; i++) {
    is_target[i] = 0;
    if (!strcmp(st->strings + st->label_at[i], p->target_label)) {
      mine[n_match].u   = wn_uniform01(p->target_seed, (uint64_t)st->row[i]);
      mine[n_match].row = st->row[i];
      n_match++;
    }
  }
  PetscCallMPI(MPI_Allreduce(&n_match, &n_match_all, 1, MPI_INT64_T, MPI_SUM, comm));
  PetscCheck(n_match_all > 0, comm, PETSC_ERR_ARG_WRONG, "no record has label '%s' (field '%s') in '%s'", p->target_label, p->label_field, p->input);
  keep = PetscMin(p->target_count, n_match_all);
  if (keep < n_match_all) { /* the keep-th smallest draw over all ranks: each rank sends its keep smallest */
    qsort(mine, (size_t)n_match, sizeof(*mine), featurize_draw_cmp);
    m = (PetscMPIInt)PetscMin(n_match, keep);
    if (rank == 0) PetscCall(PetscMalloc2(size, &counts, size + 1, &displs));
    PetscCallMPI(MPI_Gather(&m, 1, MPI_INT, counts, 1, MPI_INT, 0, comm));
    if (rank == 0) {
      displs[0] = 0;
      for (int r = 0; r < size; r++) {
        PetscCheck((int64_t)displs[r] + 2 * (int64_t)counts[r] < INT32_MAX, PETSC_COMM_SELF, PETSC_ERR_SUP, "too many targets to gather (%lld)", (long long)keep);
        counts[r] *= 2; /* sent as pairs of MPI_INT64_T-sized words */
        displs[r + 1] = displs[r] + counts[r];
      }
      PetscCall(PetscMalloc1(displs[size] / 2 + 1, &all));
    }
    PetscCallMPI(MPI_Gatherv(mine, 2 * m, MPI_INT64_T, all, counts, displs, MPI_INT64_T, 0, comm));
    if (rank == 0) {
      qsort(all, (size_t)(displs[size] / 2), sizeof(*all), featurize_draw_cmp);
      cut = all[keep - 1];
      PetscCall(PetscFree(all));
      PetscCall(PetscFree2(counts, displs));
    }
    PetscCallMPI(MPI_Bcast(&cut, 2, MPI_INT64_T, 0, comm));
  }
  for (int64_t i = 0; i < st->n; i++) {
    if (!strcmp(st->strings + st->label_at[i], p->target_label)) {
      featurize_draw d = {wn_uniform01(p->target_seed, (uint64_t)st->row[i]), st->row[i]};
      is_target[i]     = featurize_draw_cmp(&d, &cut) <= 0;
    }
  }
  PetscCall(PetscFree(mine));
  PetscFunctionReturn(PETSC_SUCCESS);
}

/* Pack the strings (ids or labels at offsets at[]) of the rows with is_target == want into n x width bytes,
 * width = longest + 1 over all ranks. Collective. */
static PetscErrorCode featurize_pack_strings(MPI_Comm comm, const featurize_store *st, const size_t *at, const unsigned char *is_target, int want, int64_t n, char **out, size_t *width)
{
  int64_t w = 0, w_all, k = 0;

  PetscFunctionBeginUser;
  for (int64_t i = 0; i < st->n; i++)
    if (is_target[i] == want) w = PetscMax(w, (int64_t)strlen(st->strings + at[i]));
  PetscCallMPI(MPI_Allreduce(&w, &w_all, 1, MPI_INT64_T, MPI_MAX, comm));
  *width = (size_t)w_all + 1;
  PetscCall(PetscCalloc1((size_t)(n + 1) * *width, out));
  for (int64_t i = 0; i < st->n; i++)
    if (is_target[i] == want) memcpy(*out + (size_t)(k++) * *width, st->strings + at[i], strlen(st->strings + at[i]));
  PetscFunctionReturn(PETSC_SUCCESS);
}

/* Write /<group>/{embedding,id,label,source_row} for the rows with is_target == want. Collective. */
static PetscErrorCode featurize_write_group(MPI_Comm comm, hid_t file, const featurize_ctx *c, const char *group, const unsigned char *is_target, int want, const float *emb, int64_t n, int64_t n_all)
{
  const featurize_store *st = &c->store;
  int64_t                start = 0, *rows;
  char                   name[64], *s;
  size_t                 width;

  PetscFunctionBeginUser;
  PetscCallMPI(MPI_Exscan(&n, &start, 1, MPI_INT64_T, MPI_SUM, comm));
  {
    PetscMPIInt rank;
    PetscCallMPI(MPI_Comm_rank(comm, &rank));
    if (rank == 0) start = 0; /* MPI_Exscan leaves rank 0's result undefined */
  }
  PetscCall(PetscMalloc1(n + 1, &rows));
  for (int64_t i = 0, k = 0; i < st->n; i++)
    if (is_target[i] == want) rows[k++] = st->row[i];
  PetscCall(PetscSNPrintf(name, sizeof(name), "/%s/embedding", group));
  PetscCall(wn_h5_write_rows_float(comm, file, name, n_all, c->p->dim, start, n, emb, 0));
  PetscCall(PetscSNPrintf(name, sizeof(name), "/%s/id", group));
  if (c->p->id_field[0]) {
    PetscCall(featurize_pack_strings(comm, st, st->id_at, is_target, want, n, &s, &width));
    PetscCall(wn_h5_write_rows_strings(comm, file, name, n_all, start, n, s, width));
    PetscCall(PetscFree(s));
  } else {
    PetscCall(wn_h5_write_rows_int64(comm, file, name, n_all, start, n, rows));
  }
  if (c->p->label_field[0]) {
    PetscCall(PetscSNPrintf(name, sizeof(name), "/%s/label", group));
    PetscCall(featurize_pack_strings(comm, st, st->label_at, is_target, want, n, &s, &width));
    PetscCall(wn_h5_write_rows_strings(comm, file, name, n_all, start, n, s, width));
    PetscCall(PetscFree(s));
  }
  PetscCall(PetscSNPrintf(name, sizeof(name), "/%s/source_row", group));
  PetscCall(wn_h5_write_rows_int64(comm, file, name, n_all, start, n, rows));
  PetscCall(PetscFree(rows));
  PetscFunctionReturn(PETSC_SUCCESS);
}

/**
  @brief Featurize a JSONL file into an HDF5 embedding file (`winnow featurize`).

  Collective on comm. Rank r reads the bytes [size*r/P, size*(r+1)/P) of the input in blocks and keeps
  the lines that start there (global line numbers from an MPI_Exscan of the line counts). Each line must
  be one JSON object with the text fields (strings, joined by one space), the id field and the label field
  when those are set (strings or numbers); otherwise the first malformed line in the file is reported with
  its 1-based line number, or, with skip_bad, every malformed line is skipped and counted. Document
  frequencies are summed over ranks; each record is projected on its own, so the vectors do not depend
  on P. With a target label, the target_count records of that label with the smallest
  wn_uniform01(target_seed, source_row) go to /targets/ instead of /candidates/. The output is written
  to a temporary name and renamed on success. DATA.md section 2; the schema of DESIGN.md section 6.

  @param[in]  comm    communicator of the run (borrowed)
  @param[in]  params  the run's parameters, identical on every rank (borrowed)
  @param[out] stats   counts of the run, identical on every rank (may be NULL)
**/
PetscErrorCode wn_featurize_run(MPI_Comm comm, const wn_featurize_params *params, wn_featurize_stats *stats)
{
  featurize_ctx *c;
  PetscMPIInt    rank, size;
  int            fd = -1;
  int64_t        file_size = 0, lo, hi, line0 = 0, n_buckets;
  int64_t        local[4], global[4]; /* records, lines, skipped, empty */
  int64_t        n_target_local = 0, n_cand_local, n_targets = 0, n_candidates;
  double        *idf, *acc;
  float         *emb_c, *emb_t;
  unsigned char *is_target;
  hid_t          file = -1;
  char           tmp[PETSC_MAX_PATH_LEN];
  int64_t        dim;

  PetscFunctionBeginUser;
  PetscCheck(params, comm, PETSC_ERR_ARG_NULL, "featurize: params is NULL");
  dim = params->dim;
  PetscCallMPI(MPI_Comm_rank(comm, &rank));
  PetscCallMPI(MPI_Comm_size(comm, &size));
  PetscCall(featurize_check_params(comm, params));
  PetscCall(PetscNew(&c));
  c->p         = params;
  c->first_bad = -1;
  PetscCall(featurize_fields(comm, c));
  PetscCall(wn_output_check_writable(comm, params->output));
  PetscCall(featurize_open(comm, params->input, &fd, &file_size));

  /* pass 1: this rank's lines -> records (buckets, counts, ids, labels) and local document frequencies */
  n_buckets = (int64_t)1 << params->hash_bits;
  PetscCall(featurize_work_init(&c->work, params->hash_bits, params->seed));
  PetscCall(wn_jsonl_record_create(&c->rec));
  PetscCall(PetscCalloc1(n_buckets, &c->df));
  wn_featurize_byte_range(file_size, rank, size, &lo, &hi);
  PetscCall(wn_featurize_scan_lines(fd, lo, hi, file_size, featurize_scan_line, c, &c->io_errno));
  close(fd);
  WN_CHECK_ALL(comm, c->io_errno == 0, PETSC_ERR_FILE_READ, "cannot read input '%s': %s", params->input, strerror(c->io_errno));
  PetscCall(wn_jsonl_record_destroy(&c->rec));
  PetscCall(featurize_work_free(&c->work));
  PetscCall(PetscFree(c->text));
  PetscCall(PetscFree(c->scratch));

  /* global line numbers; the first malformed line (the lowest failing rank holds it) */
  PetscCallMPI(MPI_Exscan(&c->n_lines, &line0, 1, MPI_INT64_T, MPI_SUM, comm));
  if (rank == 0) line0 = 0;
  WN_CHECK_ALL(comm, c->first_bad < 0 || params->skip_bad, PETSC_ERR_FILE_UNEXPECTED, "input '%s' line %lld: %s (-wn_skip_bad skips and counts malformed lines)", params->input, (long long)(line0 + c->first_bad + 1), c->reason);
  for (int64_t i = 0; i < c->store.n; i++) c->store.row[i] += line0;
  local[0] = c->store.n;
  local[1] = c->n_lines;
  local[2] = c->n_skipped;
  local[3] = 0;
  for (int64_t i = 0; i < c->store.n; i++)
    if (c->store.feat_start[i + 1] == c->store.feat_start[i]) local[3]++;
  PetscCallMPI(MPI_Allreduce(local, global, 4, MPI_INT64_T, MPI_SUM, comm));
  PetscCheck(global[0] > 0, comm, PETSC_ERR_FILE_UNEXPECTED, "input '%s' has no valid record (%lld lines, %lld malformed and skipped)", params->input, (long long)global[1], (long long)global[2]);

  /* document frequencies over all ranks -> idf = ln((N + 1) / (df + 1)) + 1 */
  PetscCallMPI(MPI_Allreduce(MPI_IN_PLACE, c->df, (PetscMPIInt)n_buckets, MPI_UINT32_T, MPI_SUM, comm));
  PetscCall(PetscMalloc1(n_buckets, &idf));
  for (int64_t b = 0; b < n_buckets; b++) idf[b] = log(((double)global[0] + 1.0) / ((double)c->df[b] + 1.0)) + 1.0;
  PetscCall(PetscFree(c->df));

  /* held-out targets */
  PetscCall(PetscCalloc1(c->store.n + 1, &is_target));
  if (params->target_label[0]) {
    PetscCall(featurize_targets(comm, c, is_target));
    for (int64_t i = 0; i < c->store.n; i++) n_target_local += is_target[i];
    PetscCallMPI(MPI_Allreduce(&n_target_local, &n_targets, 1, MPI_INT64_T, MPI_SUM, comm));
  }
  n_cand_local = c->store.n - n_target_local;
  n_candidates = global[0] - n_targets;
  PetscCheck(n_candidates > 0, comm, PETSC_ERR_ARG_WRONG, "all %lld records of '%s' are targets (label '%s'): no candidate is left; lower the target count", (long long)global[0], params->input, params->target_label);

  /* pass 2: project every record (independently of the split) */
  PetscCall(PetscMalloc1((size_t)(n_cand_local + 1) * (size_t)dim, &emb_c));
  PetscCall(PetscMalloc1((size_t)(n_target_local + 1) * (size_t)dim, &emb_t));
  PetscCall(PetscMalloc1(dim, &acc));
  for (int64_t i = 0, kc = 0, kt = 0; i < c->store.n; i++) {
    const int64_t s   = c->store.feat_start[i], nb = c->store.feat_start[i + 1] - s;
    float        *out = is_target[i] ? emb_t + (size_t)(kt++) * (size_t)dim : emb_c + (size_t)(kc++) * (size_t)dim;
    featurize_project_into(nb, c->store.bucket + s, c->store.count + s, idf, dim, params->seed, acc, out);
  }
  PetscCall(PetscFree(acc));
  PetscCall(PetscFree(idf));
  PetscCall(PetscFree(c->store.bucket));
  PetscCall(PetscFree(c->store.count));

  /* output, written collectively to a temporary name and renamed */
  PetscCall(wn_output_temp_name(comm, params->output, tmp, sizeof(tmp)));
  PetscCall(wn_h5_create(comm, tmp, &file));
  PetscCall(featurize_write_group(comm, file, c, "candidates", is_target, 0, emb_c, n_cand_local, n_candidates));
  if (params->target_label[0]) PetscCall(featurize_write_group(comm, file, c, "targets", is_target, 1, emb_t, n_target_local, n_targets));
  PetscCall(wn_h5_attr_write_string(comm, file, "/", "featurizer", FEATURIZE_NAME));
  PetscCall(wn_h5_attr_write_int64(comm, file, "/", "dim", dim));
  PetscCall(wn_h5_attr_write_int64(comm, file, "/", "hash_bits", params->hash_bits));
  PetscCall(wn_h5_attr_write_int64(comm, file, "/", "seed", (int64_t)params->seed));
  PetscCall(wn_h5_attr_write_string(comm, file, "/", "source", params->input));
  PetscCall(wn_h5_attr_write_string(comm, file, "/", "text_fields", params->text_fields));
  PetscCall(wn_h5_attr_write_string(comm, file, "/", "id_field", params->id_field));
  PetscCall(wn_h5_attr_write_string(comm, file, "/", "label_field", params->label_field));
  PetscCall(wn_h5_attr_write_int64(comm, file, "/", "n_records", global[0]));
  PetscCall(wn_h5_attr_write_int64(comm, file, "/", "n_candidates", n_candidates));
  PetscCall(wn_h5_attr_write_int64(comm, file, "/", "n_targets", n_targets));
  PetscCall(wn_h5_attr_write_int64(comm, file, "/", "n_lines", global[1]));
  PetscCall(wn_h5_attr_write_int64(comm, file, "/", "n_skipped", global[2]));
  PetscCall(wn_h5_attr_write_int64(comm, file, "/", "n_empty", global[3]));
  PetscCall(wn_h5_attr_write_string(comm, file, "/", "target_label", params->target_label));
  PetscCall(wn_h5_attr_write_int64(comm, file, "/", "target_count", params->target_label[0] ? params->target_count : 0));
  PetscCall(wn_h5_attr_write_int64(comm, file, "/", "target_seed", (int64_t)params->target_seed));
  PetscCall(wn_h5_close(&file));
  PetscCall(wn_output_commit(comm, tmp, params->output));

  if (stats) {
    stats->n_records    = global[0];
    stats->n_candidates = n_candidates;
    stats->n_targets    = n_targets;
    stats->n_skipped    = global[2];
    stats->n_lines      = global[1];
    stats->n_empty      = global[3];
    stats->bytes        = (double)file_size;
  }
  PetscCall(PetscFree(emb_c));
  PetscCall(PetscFree(emb_t));
  PetscCall(PetscFree(is_target));
  PetscCall(featurize_store_free(&c->store));
  PetscCall(PetscFree(c));
  PetscFunctionReturn(PETSC_SUCCESS);
}
