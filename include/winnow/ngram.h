/* ngram.h - the reference language model of `winnow signals`: an interpolated Kneser-Ney n-gram model over
 * the featurizer's word tokens, trained in parallel with exact counts (issue 6; doc/methods.md, "The reference
 * language model").
 *
 * Tokens: the featurizer's tokens (featurize.h: maximal runs of ASCII letters/digits and bytes >= 0x80),
 * ASCII-lowercased, each identified by a 64-bit key: FNV-1a 64 of its lowercased bytes from WN_FNV_OFFSET,
 * plus 16 when that is below 16 (keys 0..15 are reserved: WN_NGRAM_BOS, WN_NGRAM_EOS, WN_NGRAM_UNK). Two words
 * with the same key would be one word (for 10^6 distinct words the chance of any such collision is ~3e-8).
 * A training unit (a sentence: one quote, line or record) w_1..w_m is padded as <s>^(n-1) w_1 .. w_m </s>
 * and gives m + 1 n-grams, one per predicted token w_1 .. w_m, </s>; <s> is never predicted.
 *
 * The model (Chen and Goodman 1998, interpolated Kneser-Ney with one absolute discount 0 < D <= 1):
 *   c_n(h w)   = occurrences of the n-gram h w (the highest order n uses raw counts);
 *   c_k(h w)   = N1+(. h w), k < n: the number of distinct (k+1)-gram types v h w (continuation counts);
 *   S_k(h)     = sum_w c_k(h w),   T_k(h) = |{w : c_k(h w) > 0}|;
 *   P_k(w | h) = max(c_k(h w) - D, 0) / S_k(h) + D T_k(h) / S_k(h) * P_{k-1}(w | h'),  h' = h without its
 *                first token; when S_k(h) = 0 (an unseen context) P_k(w | h) = P_{k-1}(w | h');
 *   P_0(w)     = 1 / |V|, the uniform distribution over the vocabulary V = the words seen as predicted
 *                tokens, </s> and <unk>.
 * Every word outside V is <unk> (c = 0 at every order), so every probability is > 0 and, for any context,
 * sum_{w in V} P_n(w | h) = 1. Probabilities are evaluated in exactly this order of operations from integer
 * counts, so they depend on the counts only.
 *
 * Parallel training: each rank counts the highest-order n-grams of the units it was given (its byte range of
 * the corpus); wn_ngram_build hash-partitions the n-gram keys to owner ranks (MPI_Alltoallv), sums them there,
 * derives each lower order's continuation counts the same way (every owned (k+1)-gram type sends 1 to the owner
 * of its k-suffix), and allgathers the final tables. The model is replicated, its counts are exact integers,
 * and every table is sorted by key: the model and every probability are bitwise identical on any number of ranks.
 * Units added after a build are counted into the next build (base model first, then base + more text).
 *
 * Owns: tokens to keys, counting, the distributed reduction, the query tables (dense word ids, records sorted
 * by key, a hash table of contexts), probabilities, the model checksum.
 * Leaves to others: reading corpora and writing signals (signals.c), the tokeniser rule (featurize.c).
 */
#pragma once

#include <stddef.h>
#include <stdint.h>
#include <winnow/error.h>

#define WN_NGRAM_MAX_ORDER 8
/* Reserved keys: the sequence start (context only), the sequence end (predicted last), the unknown word. */
#define WN_NGRAM_BOS ((uint64_t)1)
#define WN_NGRAM_EOS ((uint64_t)2)
#define WN_NGRAM_UNK ((uint64_t)3)

typedef struct wn_ngram wn_ngram;

/* What a built model holds (identical on every rank). */
typedef struct {
  int      order;                          /* n */
  double   discount;                       /* D */
  int64_t  n_units;                        /* training units (sentences) over all builds and ranks */
  int64_t  n_tokens;                       /* training words (without <s> and </s>) */
  int64_t  n_vocab;                        /* |V|: distinct predicted words, </s> and <unk> */
  int64_t  n_types[WN_NGRAM_MAX_ORDER];    /* distinct k-grams with c_k > 0, k = 1..order (index k - 1) */
  char     checksum[17];                   /* FNV-1a 64 of the vocabulary and every sorted table, 16 hex digits */
} wn_ngram_info;

/* Create an empty model of the given order (1 <= order <= WN_NGRAM_MAX_ORDER) and discount (0 < D <= 1).
 * Not collective (comm is kept, borrowed, for wn_ngram_build). Free with wn_ngram_destroy. */
PETSC_EXTERN PetscErrorCode wn_ngram_create(MPI_Comm comm, int order, double discount, wn_ngram **lm);
/* Free the model and set *lm = NULL; accepts NULL. Not collective. */
PETSC_EXTERN PetscErrorCode wn_ngram_destroy(wn_ngram **lm);

/* The key of one word: FNV-1a 64 of its ASCII-lowercased bytes (+16 when below 16). Pure. */
PETSC_EXTERN uint64_t wn_ngram_word(const char *word, size_t len);
/* Append the keys of the tokens of text[0, len) to (*tokens, *n), growing the array (*cap entries, PetscRealloc;
 * the caller frees it with PetscFree). Not collective. */
PETSC_EXTERN PetscErrorCode wn_ngram_tokenize(const char *text, size_t len, uint64_t **tokens, int64_t *n, int64_t *cap);

/* Count one training unit of n word keys (none reserved) on this rank. Not collective. */
PETSC_EXTERN PetscErrorCode wn_ngram_add(wn_ngram *lm, const uint64_t *tokens, int64_t n);
/* Tokenize text[0, len) and count it as one unit. Not collective. */
PETSC_EXTERN PetscErrorCode wn_ngram_add_text(wn_ngram *lm, const char *text, size_t len);
/* Sum every rank's counts (those of earlier builds included) and build the query tables. Collective on the
 * model's comm. Errors: tables too large for one MPI exchange (more than INT_MAX words). */
PETSC_EXTERN PetscErrorCode wn_ngram_build(wn_ngram *lm);

/* The built model's sizes and checksum. Not collective. Error if never built. */
PETSC_EXTERN PetscErrorCode wn_ngram_get_info(const wn_ngram *lm, wn_ngram_info *info);
/* The vocabulary V (*n keys, ascending; borrowed, valid until the next build). Not collective. */
PETSC_EXTERN PetscErrorCode wn_ngram_vocabulary(const wn_ngram *lm, int64_t *n, const uint64_t **keys);

/* P_n(word | context) of the built model: the context is the n_context keys before word (oldest first; only the
 * last n - 1 matter; when there are fewer, the sequence start <s> fills the left). word may be any key but
 * WN_NGRAM_BOS; keys outside V count as <unk>. Not collective. */
PETSC_EXTERN PetscErrorCode wn_ngram_prob(const wn_ngram *lm, const uint64_t *context, int64_t n_context, uint64_t word, double *p);
/* Teacher-forced probabilities of a whole unit: prob[i] = P(tokens[i] | <s>^(n-1) tokens[0..i-1]) for
 * i < n_tokens and prob[n_tokens] = P(</s> | ...). prob has n_tokens + 1 entries (caller array). Not collective. */
PETSC_EXTERN PetscErrorCode wn_ngram_sequence(const wn_ngram *lm, const uint64_t *tokens, int64_t n_tokens, double *prob);
