/* ngram.c - the reference language model of `winnow signals`: interpolated Kneser-Ney n-grams over the
 * featurizer's word tokens, counted in parallel and summed exactly (contract and formulas in
 * include/winnow/ngram.h; doc/methods.md, "The reference language model").
 *
 * Owns: word keys, the per-rank counting tables (open addressing on multi-token 64-bit keys), the distributed
 * reduction (owner rank = a hash of the n-gram, MPI_Alltoallv, then the lower orders' continuation counts the
 * same way, then MPI_Allgatherv of every table), the replicated query tables and the probabilities.
 * Leaves to others: the tokeniser rule (featurize.c, wn_featurize_next_token), reading corpora and writing
 * signals (signals.c).
 *
 * Query tables (identical on every rank): the vocabulary V as ascending keys, a word's dense id = its position;
 * <s> gets id |V| (outside V). Level 1 is an array of counts by id. Level k >= 2 holds its records (k ids and a
 * count) sorted lexicographically, so the records of one context h (the first k - 1 ids) are one run, sorted by
 * the predicted word; a hash table maps a context to its run, with S_k(h) (sum of the run's counts) and
 * T_k(h) (its length). A probability is one context lookup and one binary search per order.
 */
#include <limits.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <winnow/featurize.h>
#include <winnow/ngram.h>
#include <winnow/util.h>

#define NGRAM_FNV_PRIME 0x100000001b3ULL
#define NGRAM_SEED      0x6a09e667f3bcc909ULL

/* Counting table: w-token 64-bit keys -> counts; a slot with count 0 is empty. All arrays owned. */
typedef struct {
  int       w;
  int64_t   n, cap; /* entries, slots (a power of two) */
  uint64_t *keys;   /* cap * w */
  uint64_t *vals;   /* cap */
} ngram_table;

/* Query tables of one order k >= 2 (all arrays owned). */
typedef struct {
  int64_t   n;         /* records */
  uint32_t *ids;       /* n * k dense ids, records sorted lexicographically */
  uint64_t *count;     /* n counts */
  int64_t   n_ctx;     /* distinct contexts (first k - 1 ids) */
  int64_t  *ctx_start; /* n_ctx + 1: the run of context c is records [ctx_start[c], ctx_start[c + 1]) */
  uint64_t *ctx_sum;   /* S_k(h) */
  int64_t  *slot;      /* context hash table: ctx index + 1, 0 = empty; slot_cap entries */
  int64_t   slot_cap;
} ngram_level;

struct wn_ngram {
  MPI_Comm     comm; /* borrowed */
  int          order;
  double       discount;
  ngram_table  pending;                      /* this rank's counts since the last build */
  ngram_table  owned[WN_NGRAM_MAX_ORDER];    /* level k - 1: the k-grams this rank owns (summed); the top level persists */
  int64_t      units_pending, tokens_pending;
  uint64_t    *scratch;                      /* tokens of wn_ngram_add_text */
  int64_t      scratch_cap;
  /* the built model */
  PetscBool    built;
  int64_t      n_units, n_tokens;
  int64_t      n_vocab;
  uint64_t    *vocab;                        /* n_vocab keys ascending */
  uint32_t     bos_id, eos_id, unk_id;
  uint64_t    *uni;                          /* level 1: counts by id (n_vocab) */
  uint64_t     uni_sum, uni_types;
  ngram_level  level[WN_NGRAM_MAX_ORDER];    /* index k - 1 for k >= 2 */
  char         checksum[17];
};

/* ---- hashing -------------------------------------------------------------------------------------------- */

static inline uint64_t ngram_mix(uint64_t x)
{
  x += 0x9e3779b97f4a7c15ULL;
  x = (x ^ (x >> 30)) * 0xbf58476d1ce4e5b9ULL;
  x = (x ^ (x >> 27)) * 0x94d049bb133111ebULL;
  return x ^ (x >> 31);
}

static inline uint64_t ngram_hash64(const uint64_t *key, int w)
{
  uint64_t h = NGRAM_SEED;
  for (int i = 0; i < w; i++) h = ngram_mix(h ^ key[i]);
  return h;
}

static inline uint64_t ngram_hash32(const uint32_t *key, int w)
{
  uint64_t h = NGRAM_SEED;
  for (int i = 0; i < w; i++) h = ngram_mix(h ^ key[i]);
  return h;
}

/**
  @brief The key of one word: FNV-1a 64 of its bytes with ASCII 'A'-'Z' folded to lowercase, from
  WN_FNV_OFFSET; 16 is added when the hash is below 16 (reserved keys).

  Pure.

  @param[in] word  bytes (borrowed)
  @param[in] len   bytes
  @return the key, >= 16
**/
uint64_t wn_ngram_word(const char *word, size_t len)
{
  uint64_t h = WN_FNV_OFFSET;

  for (size_t i = 0; i < len; i++) {
    unsigned char c = (unsigned char)word[i];
    h ^= (c >= 'A' && c <= 'Z') ? (unsigned char)(c + ('a' - 'A')) : c;
    h *= NGRAM_FNV_PRIME;
  }
  return h < 16 ? h + 16 : h;
}

/* ---- counting tables ------------------------------------------------------------------------------------ */

static PetscErrorCode ngram_table_init(ngram_table *t, int w, int64_t cap)
{
  PetscFunctionBeginUser;
  t->w   = w;
  t->n   = 0;
  t->cap = cap;
  PetscCall(PetscMalloc1(cap * w, &t->keys));
  PetscCall(PetscCalloc1(cap, &t->vals));
  PetscFunctionReturn(PETSC_SUCCESS);
}

static PetscErrorCode ngram_table_free(ngram_table *t)
{
  PetscFunctionBeginUser;
  PetscCall(PetscFree(t->keys));
  PetscCall(PetscFree(t->vals));
  t->n = t->cap = 0;
  PetscFunctionReturn(PETSC_SUCCESS);
}

/* Add val to the count of key (inserting it); no growth. */
static inline void ngram_table_put(ngram_table *t, const uint64_t *key, uint64_t val)
{
  const int      w    = t->w;
  const uint64_t mask = (uint64_t)t->cap - 1;
  uint64_t       s    = ngram_hash64(key, w) & mask;

  while (t->vals[s]) {
    if (!memcmp(t->keys + s * w, key, sizeof(uint64_t) * (size_t)w)) {
      t->vals[s] += val;
      return;
    }
    s = (s + 1) & mask;
  }
  memcpy(t->keys + s * w, key, sizeof(uint64_t) * (size_t)w);
  t->vals[s] = val;
  t->n++;
}

static PetscErrorCode ngram_table_add(ngram_table *t, const uint64_t *key, uint64_t val)
{
  PetscFunctionBeginUser;
  if (2 * (t->n + 1) > t->cap) { /* keep the load at most 1/2 */
    ngram_table bigger;
    PetscCall(ngram_table_init(&bigger, t->w, 2 * t->cap));
    for (int64_t s = 0; s < t->cap; s++)
      if (t->vals[s]) ngram_table_put(&bigger, t->keys + s * t->w, t->vals[s]);
    PetscCall(ngram_table_free(t));
    *t = bigger;
  }
  ngram_table_put(t, key, val);
  PetscFunctionReturn(PETSC_SUCCESS);
}

/* ---- the distributed reduction -------------------------------------------------------------------------- */

static inline int ngram_owner(const uint64_t *key, int w, int size)
{
  return (int)((ngram_hash64(key, w) >> 32) % (uint64_t)size); /* high bits: the slots use the low ones */
}

/* Send every entry of src to its owner rank, which adds it into dst; src is emptied. Collective. */
static PetscErrorCode ngram_exchange(MPI_Comm comm, ngram_table *src, ngram_table *dst)
{
  const int    w = src->w, rec = w + 1;
  PetscMPIInt  size;
  PetscMPIInt *scount, *sdispl, *rcount, *rdispl;
  int64_t     *fill, send_words = 0, recv_words = 0;
  uint64_t    *sbuf, *rbuf;

  PetscFunctionBeginUser;
  PetscCallMPI(MPI_Comm_size(comm, &size));
  PetscCall(PetscCalloc4(size, &scount, size + 1, &sdispl, size, &rcount, size + 1, &rdispl));
  PetscCall(PetscCalloc1(size + 1, &fill));
  for (int64_t s = 0; s < src->cap; s++)
    if (src->vals[s]) fill[ngram_owner(src->keys + s * w, w, size)]++;
  for (int r = 0; r < size; r++) send_words += fill[r] * rec;
  WN_CHECK_ALL(comm, send_words < INT_MAX, PETSC_ERR_SUP, "n-gram exchange: %lld words to send from one rank exceed one MPI message (%d); use more ranks", (long long)send_words, INT_MAX);
  for (int r = 0; r < size; r++) {
    scount[r]     = (PetscMPIInt)(fill[r] * rec);
    sdispl[r + 1] = sdispl[r] + scount[r];
  }
  PetscCallMPI(MPI_Alltoall(scount, 1, MPI_INT, rcount, 1, MPI_INT, comm));
  for (int r = 0; r < size; r++) recv_words += rcount[r];
  WN_CHECK_ALL(comm, recv_words < INT_MAX, PETSC_ERR_SUP, "n-gram exchange: %lld words to receive on one rank exceed one MPI message (%d); use more ranks", (long long)recv_words, INT_MAX);
  for (int r = 0; r < size; r++) rdispl[r + 1] = rdispl[r] + rcount[r];
  PetscCall(PetscMalloc1(send_words + 1, &sbuf));
  PetscCall(PetscMalloc1(recv_words + 1, &rbuf));
  for (int r = 0; r < size; r++) fill[r] = sdispl[r];
  for (int64_t s = 0; s < src->cap; s++) {
    if (!src->vals[s]) continue;
    const uint64_t *key = src->keys + s * w;
    uint64_t       *out = sbuf + fill[ngram_owner(key, w, size)];
    memcpy(out, key, sizeof(uint64_t) * (size_t)w);
    out[w] = src->vals[s];
    fill[ngram_owner(key, w, size)] += rec;
  }
  PetscCall(ngram_table_free(src));
  PetscCall(ngram_table_init(src, w, 64));
  PetscCallMPI(MPI_Alltoallv(sbuf, scount, sdispl, MPI_UINT64_T, rbuf, rcount, rdispl, MPI_UINT64_T, comm));
  PetscCall(PetscFree(sbuf));
  for (int64_t i = 0; i < recv_words; i += rec) PetscCall(ngram_table_add(dst, rbuf + i, rbuf[i + w]));
  PetscCall(PetscFree(rbuf));
  PetscCall(PetscFree(fill));
  PetscCall(PetscFree4(scount, sdispl, rcount, rdispl));
  PetscFunctionReturn(PETSC_SUCCESS);
}

/* Every rank's entries of t as records (w keys, count), concatenated in rank order. *all owned. Collective. */
static PetscErrorCode ngram_allgather(MPI_Comm comm, const ngram_table *t, uint64_t **all, int64_t *n_all)
{
  const int    w = t->w, rec = w + 1;
  PetscMPIInt  size;
  PetscMPIInt *count, *displ;
  int64_t      mine = t->n * rec, *words, total = 0;
  uint64_t    *sbuf;

  PetscFunctionBeginUser;
  PetscCallMPI(MPI_Comm_size(comm, &size));
  PetscCall(PetscMalloc3(size, &count, size + 1, &displ, size, &words));
  PetscCallMPI(MPI_Allgather(&mine, 1, MPI_INT64_T, words, 1, MPI_INT64_T, comm));
  for (int r = 0; r < size; r++) total += words[r];
  PetscCheck(total < INT_MAX, comm, PETSC_ERR_SUP, "n-gram model: the %d-gram table (%lld words) exceeds one MPI message (%d words)", w, (long long)total, INT_MAX);
  displ[0] = 0;
  for (int r = 0; r < size; r++) {
    count[r]     = (PetscMPIInt)words[r];
    displ[r + 1] = displ[r] + count[r];
  }
  PetscCall(PetscMalloc1(mine + 1, &sbuf));
  for (int64_t s = 0, k = 0; s < t->cap; s++)
    if (t->vals[s]) {
      memcpy(sbuf + k, t->keys + s * w, sizeof(uint64_t) * (size_t)w);
      sbuf[k + w] = t->vals[s];
      k += rec;
    }
  PetscCall(PetscMalloc1(total + 1, all));
  PetscCallMPI(MPI_Allgatherv(sbuf, (PetscMPIInt)mine, MPI_UINT64_T, *all, count, displ, MPI_UINT64_T, comm));
  *n_all = total / rec;
  PetscCall(PetscFree(sbuf));
  PetscCall(PetscFree3(count, displ, words));
  PetscFunctionReturn(PETSC_SUCCESS);
}

/* ---- query tables ---------------------------------------------------------------------------------------- */

static int ngram_cmp_u64(const void *a, const void *b)
{
  uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;
  return (x > y) - (x < y);
}

/* Dense id of a key: its position in the vocabulary; <s> -> bos_id; a key outside V -> unk_id. */
static inline uint32_t ngram_id(const wn_ngram *lm, uint64_t key)
{
  int64_t lo = 0, hi = lm->n_vocab;

  if (key == WN_NGRAM_BOS) return lm->bos_id;
  while (lo < hi) {
    int64_t mid = lo + (hi - lo) / 2;
    if (lm->vocab[mid] < key) lo = mid + 1;
    else hi = mid;
  }
  return (lo < lm->n_vocab && lm->vocab[lo] == key) ? (uint32_t)lo : lm->unk_id;
}

static PetscErrorCode ngram_level_free(ngram_level *L)
{
  PetscFunctionBeginUser;
  PetscCall(PetscFree(L->ids));
  PetscCall(PetscFree(L->count));
  PetscCall(PetscFree(L->ctx_start));
  PetscCall(PetscFree(L->ctx_sum));
  PetscCall(PetscFree(L->slot));
  PetscCall(PetscMemzero(L, sizeof(*L)));
  PetscFunctionReturn(PETSC_SUCCESS);
}

/* Sort n records of k ids (and their counts) lexicographically: LSD radix sort of a permutation on 16-bit
 * digits, last column first. */
static PetscErrorCode ngram_sort_records(int64_t n, int k, uint32_t **ids, uint64_t **count)
{
  int64_t  *perm, *tmp, *bucket, *perm0, *tmp0;
  uint32_t *ids_sorted, max_id = 0;
  uint64_t *count_sorted;

  PetscFunctionBeginUser;
  PetscCall(PetscMalloc3(n + 1, &perm0, n + 1, &tmp0, 65537, &bucket));
  perm = perm0;
  tmp  = tmp0;
  for (int64_t i = 0; i < n; i++) perm[i] = i;
  for (int64_t i = 0; i < n * k; i++) max_id = PetscMax(max_id, (*ids)[i]);
  for (int col = k - 1; col >= 0; col--) {
    for (int shift = 0; shift < 32; shift += 16) {
      if (shift && (max_id >> 16) == 0) break;
      PetscCall(PetscArrayzero(bucket, 65537));
      for (int64_t i = 0; i < n; i++) bucket[(((*ids)[perm[i] * k + col] >> shift) & 0xffff) + 1]++;
      for (int d = 0; d < 65536; d++) bucket[d + 1] += bucket[d];
      for (int64_t i = 0; i < n; i++) tmp[bucket[((*ids)[perm[i] * k + col] >> shift) & 0xffff]++] = perm[i];
      {
        int64_t *t = perm;
        perm       = tmp;
        tmp        = t;
      }
    }
  }
  PetscCall(PetscMalloc1(n * k + 1, &ids_sorted));
  PetscCall(PetscMalloc1(n + 1, &count_sorted));
  for (int64_t i = 0; i < n; i++) {
    memcpy(ids_sorted + i * k, *ids + perm[i] * k, sizeof(uint32_t) * (size_t)k);
    count_sorted[i] = (*count)[perm[i]];
  }
  PetscCall(PetscFree(*ids));
  PetscCall(PetscFree(*count));
  *ids   = ids_sorted;
  *count = count_sorted;
  PetscCall(PetscFree3(perm0, tmp0, bucket)); /* perm and tmp may have been swapped */
  PetscFunctionReturn(PETSC_SUCCESS);
}

/* Context c of the k - 1 ids h at level k (>= 2), or -1 when unseen. */
static inline int64_t ngram_find_context(const ngram_level *L, int k, const uint32_t *h)
{
  const uint64_t mask = (uint64_t)L->slot_cap - 1;
  uint64_t       s    = ngram_hash32(h, k - 1) & mask;

  while (L->slot[s]) {
    int64_t c = L->slot[s] - 1;
    if (!memcmp(L->ids + L->ctx_start[c] * k, h, sizeof(uint32_t) * (size_t)(k - 1))) return c;
    s = (s + 1) & mask;
  }
  return -1;
}

/* Build level k >= 2 from the allgathered records (k keys, count): dense ids, sort, contexts, hash. */
static PetscErrorCode ngram_level_build(wn_ngram *lm, int k, const uint64_t *rec, int64_t n)
{
  ngram_level *L = &lm->level[k - 1];

  PetscFunctionBeginUser;
  PetscCall(ngram_level_free(L));
  L->n = n;
  PetscCall(PetscMalloc1(n * k + 1, &L->ids));
  PetscCall(PetscMalloc1(n + 1, &L->count));
  for (int64_t i = 0; i < n; i++) {
    for (int j = 0; j < k; j++) L->ids[i * k + j] = ngram_id(lm, rec[i * (k + 1) + j]);
    L->count[i] = rec[i * (k + 1) + k];
  }
  PetscCall(ngram_sort_records(n, k, &L->ids, &L->count));
  /* contexts: runs of equal first k - 1 ids */
  L->n_ctx = 0;
  for (int64_t i = 0; i < n; i++)
    if (i == 0 || memcmp(L->ids + i * k, L->ids + (i - 1) * k, sizeof(uint32_t) * (size_t)(k - 1))) L->n_ctx++;
  PetscCall(PetscMalloc1(L->n_ctx + 1, &L->ctx_start));
  PetscCall(PetscCalloc1(L->n_ctx + 1, &L->ctx_sum));
  for (int64_t i = 0, c = -1; i < n; i++) {
    if (i == 0 || memcmp(L->ids + i * k, L->ids + (i - 1) * k, sizeof(uint32_t) * (size_t)(k - 1))) L->ctx_start[++c] = i;
    L->ctx_sum[c] += L->count[i];
  }
  L->ctx_start[L->n_ctx] = n;
  for (L->slot_cap = 16; L->slot_cap < 2 * L->n_ctx; L->slot_cap *= 2) {}
  PetscCall(PetscCalloc1(L->slot_cap, &L->slot));
  for (int64_t c = 0; c < L->n_ctx; c++) {
    const uint64_t mask = (uint64_t)L->slot_cap - 1;
    uint64_t       s    = ngram_hash32(L->ids + L->ctx_start[c] * k, k - 1) & mask;
    while (L->slot[s]) s = (s + 1) & mask;
    L->slot[s] = c + 1;
  }
  PetscFunctionReturn(PETSC_SUCCESS);
}

/* FNV-1a 64 of everything the probabilities depend on, in a rank-independent order. */
static void ngram_checksum(wn_ngram *lm)
{
  uint64_t h = WN_FNV_OFFSET;
  int64_t  head[2] = {lm->order, lm->n_vocab};

  h = wn_fnv1a(h, head, sizeof(head));
  h = wn_fnv1a(h, &lm->discount, sizeof(lm->discount));
  h = wn_fnv1a(h, lm->vocab, sizeof(uint64_t) * (size_t)lm->n_vocab);
  h = wn_fnv1a(h, lm->uni, sizeof(uint64_t) * (size_t)lm->n_vocab);
  for (int k = 2; k <= lm->order; k++) {
    const ngram_level *L = &lm->level[k - 1];
    h = wn_fnv1a(h, &L->n, sizeof(L->n));
    h = wn_fnv1a(h, L->ids, sizeof(uint32_t) * (size_t)(L->n * k));
    h = wn_fnv1a(h, L->count, sizeof(uint64_t) * (size_t)L->n);
  }
  snprintf(lm->checksum, sizeof(lm->checksum), "%016llx", (unsigned long long)h);
}

/* ---- public ------------------------------------------------------------------------------------------------ */

/**
  @brief Create an empty interpolated Kneser-Ney model.

  Not collective; comm is kept (borrowed) for wn_ngram_build and must outlive the model.

  @param[in]  comm      communicator the counts are summed over (borrowed)
  @param[in]  order     n, 1 <= n <= WN_NGRAM_MAX_ORDER
  @param[in]  discount  D, 0 < D <= 1 (Chen and Goodman: D = n1 / (n1 + 2 n2) is typically 0.6-0.8)
  @param[out] lm        the model (owned: wn_ngram_destroy)
**/
PetscErrorCode wn_ngram_create(MPI_Comm comm, int order, double discount, wn_ngram **lm)
{
  wn_ngram *m;

  PetscFunctionBeginUser;
  PetscCheck(order >= 1 && order <= WN_NGRAM_MAX_ORDER, PETSC_COMM_SELF, PETSC_ERR_ARG_OUTOFRANGE, "n-gram order must be between 1 and %d, got %d", WN_NGRAM_MAX_ORDER, order);
  PetscCheck(discount > 0 && discount <= 1, PETSC_COMM_SELF, PETSC_ERR_ARG_OUTOFRANGE, "Kneser-Ney discount must be in (0, 1], got %g", discount);
  PetscCall(PetscNew(&m));
  m->comm     = comm;
  m->order    = order;
  m->discount = discount;
  PetscCall(ngram_table_init(&m->pending, order, 1024));
  PetscCall(ngram_table_init(&m->owned[order - 1], order, 1024));
  *lm = m;
  PetscFunctionReturn(PETSC_SUCCESS);
}

/**
  @brief Free a model and set *lm = NULL (accepts NULL and *lm == NULL).

  Not collective.
**/
PetscErrorCode wn_ngram_destroy(wn_ngram **lm)
{
  wn_ngram *m;

  PetscFunctionBeginUser;
  if (!lm || !*lm) PetscFunctionReturn(PETSC_SUCCESS);
  m = *lm;
  PetscCall(ngram_table_free(&m->pending));
  for (int k = 0; k < WN_NGRAM_MAX_ORDER; k++) {
    PetscCall(ngram_table_free(&m->owned[k]));
    PetscCall(ngram_level_free(&m->level[k]));
  }
  PetscCall(PetscFree(m->scratch));
  PetscCall(PetscFree(m->vocab));
  PetscCall(PetscFree(m->uni));
  PetscCall(PetscFree(m));
  *lm = NULL;
  PetscFunctionReturn(PETSC_SUCCESS);
}

/**
  @brief Append the keys of the tokens of a text (the featurizer's tokens, wn_featurize_next_token; keys by
  wn_ngram_word).

  Not collective.

  @param[in]     text    bytes (borrowed; may be NULL when len = 0)
  @param[in]     len     bytes
  @param[in,out] tokens  growable array of keys (PetscRealloc; the caller frees it with PetscFree)
  @param[in,out] n       keys in it (new ones are appended)
  @param[in,out] cap     its capacity
**/
PetscErrorCode wn_ngram_tokenize(const char *text, size_t len, uint64_t **tokens, int64_t *n, int64_t *cap)
{
  size_t pos = 0, start, end;

  PetscFunctionBeginUser;
  PetscCheck(text || len == 0, PETSC_COMM_SELF, PETSC_ERR_ARG_NULL, "text is NULL but len is %zu", len);
  /* a text of len bytes holds at most (len + 1) / 2 tokens: reserve once */
  if (*n + (int64_t)(len + 1) / 2 > *cap) {
    int64_t c = *cap ? *cap : 64;
    while (c < *n + (int64_t)(len + 1) / 2) c *= 2;
    PetscCall(PetscRealloc(sizeof(uint64_t) * (size_t)c, tokens));
    *cap = c;
  }
  while (wn_featurize_next_token(text, len, &pos, &start, &end)) (*tokens)[(*n)++] = wn_ngram_word(text + start, end - start);
  PetscFunctionReturn(PETSC_SUCCESS);
}

/**
  @brief Count one training unit w_1..w_m on this rank: the m + 1 n-grams of <s>^(n-1) w_1 .. w_m </s>.

  Not collective. The counts join the model at the next wn_ngram_build.

  @param[in,out] lm      the model
  @param[in]     tokens  m word keys (borrowed), none of them reserved (< 16)
  @param[in]     n       m >= 0 (an empty unit still counts <s>^(n-1) </s>)
**/
PetscErrorCode wn_ngram_add(wn_ngram *lm, const uint64_t *tokens, int64_t n)
{
  uint64_t key[WN_NGRAM_MAX_ORDER];
  const int w = lm->order;

  PetscFunctionBeginUser;
  PetscCheck(n >= 0 && (tokens || n == 0), PETSC_COMM_SELF, PETSC_ERR_ARG_WRONG, "bad unit: %lld tokens", (long long)n);
  for (int64_t i = 0; i < n; i++) PetscCheck(tokens[i] >= 16, PETSC_COMM_SELF, PETSC_ERR_ARG_WRONG, "token %lld of a training unit has the reserved key %llu", (long long)i, (unsigned long long)tokens[i]);
  for (int j = 0; j < w; j++) key[j] = WN_NGRAM_BOS;
  for (int64_t i = 0; i <= n; i++) {
    uint64_t t = i < n ? tokens[i] : WN_NGRAM_EOS;
    for (int j = 0; j + 1 < w; j++) key[j] = key[j + 1]; /* slide the window (a loop: w <= 8) */
    key[w - 1] = t;
    PetscCall(ngram_table_add(&lm->pending, key, 1));
  }
  lm->units_pending++;
  lm->tokens_pending += n;
  PetscFunctionReturn(PETSC_SUCCESS);
}

/**
  @brief Tokenize a text and count it as one training unit (wn_ngram_tokenize, wn_ngram_add).

  Not collective.
**/
PetscErrorCode wn_ngram_add_text(wn_ngram *lm, const char *text, size_t len)
{
  int64_t n = 0;

  PetscFunctionBeginUser;
  PetscCall(wn_ngram_tokenize(text, len, &lm->scratch, &n, &lm->scratch_cap));
  PetscCall(wn_ngram_add(lm, lm->scratch, n));
  PetscFunctionReturn(PETSC_SUCCESS);
}

/**
  @brief Sum the counts of every rank and build the replicated query tables (ngram.h: the reduction).

  Collective on the model's comm. The top-order counts of earlier builds are kept: units added since then are
  added to them. Lower orders are rederived from the top order each time: c_k(h w) = the number of distinct
  (k+1)-gram types ending in h w. Afterwards every rank holds the same tables (sorted), so probabilities do
  not depend on the number of ranks.

  @param[in,out] lm  the model
**/
PetscErrorCode wn_ngram_build(wn_ngram *lm)
{
  const int n = lm->order;
  int64_t   pend[2] = {lm->units_pending, lm->tokens_pending}, sum[2];
  uint64_t *rec[WN_NGRAM_MAX_ORDER];
  int64_t   n_rec[WN_NGRAM_MAX_ORDER];

  PetscFunctionBeginUser;
  PetscCallMPI(MPI_Allreduce(pend, sum, 2, MPI_INT64_T, MPI_SUM, lm->comm));
  lm->n_units += sum[0];
  lm->n_tokens += sum[1];
  lm->units_pending = lm->tokens_pending = 0;
  /* top order: every rank's counts to the owners */
  PetscCall(ngram_exchange(lm->comm, &lm->pending, &lm->owned[n - 1]));
  /* lower orders: each owned (k+1)-gram type adds 1 to its k-suffix, summed at the suffix's owner */
  for (int k = n - 1; k >= 1; k--) {
    ngram_table local, *up = &lm->owned[k];
    PetscCall(ngram_table_free(&lm->owned[k - 1]));
    PetscCall(ngram_table_init(&lm->owned[k - 1], k, 1024));
    PetscCall(ngram_table_init(&local, k, 1024));
    for (int64_t s = 0; s < up->cap; s++)
      if (up->vals[s]) PetscCall(ngram_table_add(&local, up->keys + s * (k + 1) + 1, 1));
    PetscCall(ngram_exchange(lm->comm, &local, &lm->owned[k - 1]));
    PetscCall(ngram_table_free(&local));
  }
  for (int k = 1; k <= n; k++) PetscCall(ngram_allgather(lm->comm, &lm->owned[k - 1], &rec[k - 1], &n_rec[k - 1]));
  for (int k = 1; k < n; k++) PetscCall(ngram_table_free(&lm->owned[k - 1])); /* rederived at the next build */

  /* vocabulary: the predicted words, </s> and <unk>, ascending */
  PetscCall(PetscFree(lm->vocab));
  PetscCall(PetscMalloc1(n_rec[0] + 2, &lm->vocab));
  for (int64_t i = 0; i < n_rec[0]; i++) lm->vocab[i] = rec[0][2 * i];
  lm->vocab[n_rec[0]]     = WN_NGRAM_EOS;
  lm->vocab[n_rec[0] + 1] = WN_NGRAM_UNK;
  qsort(lm->vocab, (size_t)(n_rec[0] + 2), sizeof(uint64_t), ngram_cmp_u64);
  lm->n_vocab = 0;
  for (int64_t i = 0; i < n_rec[0] + 2; i++)
    if (i == 0 || lm->vocab[i] != lm->vocab[i - 1]) lm->vocab[lm->n_vocab++] = lm->vocab[i];
  PetscCheck(lm->n_vocab < (int64_t)UINT32_MAX - 1, lm->comm, PETSC_ERR_SUP, "n-gram model: %lld distinct words exceed 32-bit word ids", (long long)lm->n_vocab);
  lm->bos_id = (uint32_t)lm->n_vocab;
  lm->unk_id = (uint32_t)lm->n_vocab; /* ngram_id reads it before it is known; UNK is in V, so it is found */
  lm->unk_id = ngram_id(lm, WN_NGRAM_UNK);
  lm->eos_id = ngram_id(lm, WN_NGRAM_EOS);
  /* level 1: counts by id */
  PetscCall(PetscFree(lm->uni));
  PetscCall(PetscCalloc1(lm->n_vocab, &lm->uni));
  lm->uni_sum = lm->uni_types = 0;
  for (int64_t i = 0; i < n_rec[0]; i++) {
    lm->uni[ngram_id(lm, rec[0][2 * i])] = rec[0][2 * i + 1];
    lm->uni_sum += rec[0][2 * i + 1];
    lm->uni_types++;
  }
  for (int k = 2; k <= n; k++) PetscCall(ngram_level_build(lm, k, rec[k - 1], n_rec[k - 1]));
  for (int k = 1; k <= n; k++) PetscCall(PetscFree(rec[k - 1]));
  ngram_checksum(lm);
  lm->built = PETSC_TRUE;
  PetscFunctionReturn(PETSC_SUCCESS);
}

/**
  @brief Sizes and checksum of the built model.

  Not collective.
**/
PetscErrorCode wn_ngram_get_info(const wn_ngram *lm, wn_ngram_info *info)
{
  PetscFunctionBeginUser;
  PetscCheck(lm->built, PETSC_COMM_SELF, PETSC_ERR_ORDER, "n-gram model: wn_ngram_build was never called");
  PetscCall(PetscMemzero(info, sizeof(*info)));
  info->order    = lm->order;
  info->discount = lm->discount;
  info->n_units  = lm->n_units;
  info->n_tokens = lm->n_tokens;
  info->n_vocab  = lm->n_vocab;
  info->n_types[0] = (int64_t)lm->uni_types;
  for (int k = 2; k <= lm->order; k++) info->n_types[k - 1] = lm->level[k - 1].n;
  PetscCall(PetscStrncpy(info->checksum, lm->checksum, sizeof(info->checksum)));
  PetscFunctionReturn(PETSC_SUCCESS);
}

/**
  @brief The vocabulary V of the built model: ascending keys, borrowed until the next build.

  Not collective.
**/
PetscErrorCode wn_ngram_vocabulary(const wn_ngram *lm, int64_t *n, const uint64_t **keys)
{
  PetscFunctionBeginUser;
  PetscCheck(lm->built, PETSC_COMM_SELF, PETSC_ERR_ORDER, "n-gram model: wn_ngram_build was never called");
  *n    = lm->n_vocab;
  *keys = lm->vocab;
  PetscFunctionReturn(PETSC_SUCCESS);
}

/* P_n(w | hist): hist = the n - 1 previous ids, oldest first (ngram.h, the recursion from P_0 = 1/|V| up). */
static inline double ngram_p(const wn_ngram *lm, const uint32_t *hist, uint32_t w)
{
  const double D = lm->discount;
  double       p = 1.0 / (double)lm->n_vocab;

  if (lm->uni_sum > 0) {
    const uint64_t c = w < lm->n_vocab ? lm->uni[w] : 0;
    const double   S = (double)lm->uni_sum;
    p                = (c ? (double)c - D : 0.0) / S + D * (double)lm->uni_types / S * p;
  }
  for (int k = 2; k <= lm->order; k++) {
    const ngram_level *L = &lm->level[k - 1];
    const uint32_t    *h = hist + (lm->order - k); /* the last k - 1 ids */
    int64_t            c, lo, hi, a, b;
    uint64_t           cnt = 0;
    double             S;

    if (!L->n) continue;
    c = ngram_find_context(L, k, h);
    if (c < 0) continue;
    a = lo = L->ctx_start[c];
    b = hi = L->ctx_start[c + 1];
    while (lo < hi) {
      int64_t mid = lo + (hi - lo) / 2;
      if (L->ids[mid * k + k - 1] < w) lo = mid + 1;
      else hi = mid;
    }
    if (lo < b && L->ids[lo * k + k - 1] == w) cnt = L->count[lo];
    S = (double)L->ctx_sum[c];
    p = (cnt ? (double)cnt - D : 0.0) / S + D * (double)(b - a) / S * p;
  }
  return p;
}

/**
  @brief P_n(word | context) of the built model (ngram.h).

  Not collective. The last n - 1 keys of the context are used; when there are fewer, <s> fills the left (the
  context then starts a unit). Keys outside V, in the context or as the word, count as <unk>.

  @param[in]  lm         the built model
  @param[in]  context    n_context keys, oldest first (borrowed; may be NULL when n_context = 0)
  @param[in]  n_context  >= 0
  @param[in]  word       the predicted key (not WN_NGRAM_BOS)
  @param[out] p          the probability, in (0, 1]
**/
PetscErrorCode wn_ngram_prob(const wn_ngram *lm, const uint64_t *context, int64_t n_context, uint64_t word, double *p)
{
  uint32_t hist[WN_NGRAM_MAX_ORDER];
  const int h = lm->order - 1;

  PetscFunctionBeginUser;
  PetscCheck(lm->built, PETSC_COMM_SELF, PETSC_ERR_ORDER, "n-gram model: wn_ngram_build was never called");
  PetscCheck(word != WN_NGRAM_BOS, PETSC_COMM_SELF, PETSC_ERR_ARG_WRONG, "the sequence start <s> is never predicted");
  for (int j = 0; j < h; j++) {
    int64_t i = n_context - h + j;
    hist[j]   = i >= 0 ? ngram_id(lm, context[i]) : lm->bos_id;
  }
  *p = ngram_p(lm, hist, ngram_id(lm, word));
  PetscFunctionReturn(PETSC_SUCCESS);
}

/**
  @brief Teacher-forced probabilities of a unit: each token given <s>^(n-1) and the tokens before it, then </s>.

  Not collective.

  @param[in]  lm        the built model
  @param[in]  tokens    n_tokens keys (borrowed)
  @param[in]  n_tokens  >= 0
  @param[out] prob      n_tokens + 1 probabilities (caller array): prob[n_tokens] = P(</s> | ...)
**/
PetscErrorCode wn_ngram_sequence(const wn_ngram *lm, const uint64_t *tokens, int64_t n_tokens, double *prob)
{
  uint32_t  hist[WN_NGRAM_MAX_ORDER];
  const int h = lm->order - 1;

  PetscFunctionBeginUser;
  PetscCheck(lm->built, PETSC_COMM_SELF, PETSC_ERR_ORDER, "n-gram model: wn_ngram_build was never called");
  for (int j = 0; j < h; j++) hist[j] = lm->bos_id;
  for (int64_t i = 0; i <= n_tokens; i++) {
    uint32_t w = i < n_tokens ? ngram_id(lm, tokens[i]) : lm->eos_id;
    prob[i]    = ngram_p(lm, hist, w);
    if (h > 0) {
      for (int j = 0; j + 1 < h; j++) hist[j] = hist[j + 1];
      hist[h - 1] = w;
    }
  }
  PetscFunctionReturn(PETSC_SUCCESS);
}
