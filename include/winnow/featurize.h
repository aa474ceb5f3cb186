/* featurize.h - `winnow featurize`: JSONL text in, embeddings out (DATA.md section 2), with no model.
 *
 * Features per record: hashed word unigrams, word bigrams and character (code point) 4-grams of
 * " " + word + " ", each family hashed with its own seed into 2^b buckets; duplicates collapsed per
 * record with tf = 1 + ln(count); TF-IDF with idf = ln((N + 1) / (df + 1)) + 1, where df is the number
 * of records containing the bucket, summed over all ranks (so vectors are identical for any rank count);
 * projected to d dimensions by a seeded sparse sign projection (each bucket adds +-w to s = 8 dimensions
 * derived from splitmix64(bucket ^ seed); nothing is stored); L2-normalised (an empty text gives the zero
 * vector). Tokens: maximal runs of ASCII letters/digits and bytes >= 0x80 (UTF-8 sequences stay whole),
 * ASCII lowercased.
 * Owns: tokenisation, hashing, the distributed byte-range reading (each rank its own range of the file,
 * aligned to line starts), the df reduction, and writing the HDF5 schema of DESIGN.md section 6
 * (/candidates/{embedding,id,label,source_row}, optionally /targets/{...} for a held-out seeded sample of
 * one label).
 */
#pragma once

#include <stddef.h>
#include <stdint.h>
#include <winnow/error.h>

typedef struct {
  char     input[PETSC_MAX_PATH_LEN];     /* JSONL file */
  char     output[PETSC_MAX_PATH_LEN];    /* HDF5 file written (atomically) */
  char     text_fields[256];              /* comma-separated members joined with a space, e.g. "prompt,response" */
  char     id_field[64];                  /* member holding the id ("" = none: ids are source rows) */
  char     label_field[64];               /* member holding the label ("" = none) */
  int64_t  dim;                           /* d, output dimension (default 256) */
  int      hash_bits;                     /* buckets = 2^hash_bits (default 20) */
  uint64_t seed;                          /* projection and hashing seed */
  PetscBool skip_bad;                     /* skip (and count) malformed lines instead of failing */
  char     target_label[256];             /* hold out records with this label as targets ("" = none) */
  int64_t  target_count;                  /* how many (a seeded sample; all of them if fewer) */
  uint64_t target_seed;                   /* seed of that sample */
} wn_featurize_params;

typedef struct {
  int64_t n_records;    /* valid records (candidates + targets) */
  int64_t n_candidates; /* rows of /candidates */
  int64_t n_targets;    /* rows of /targets */
  int64_t n_skipped;    /* malformed lines skipped (skip_bad) */
  int64_t n_lines;      /* lines in the file */
  int64_t n_empty;      /* records whose text produced no feature (zero vectors) */
  double  bytes;        /* size of the input */
} wn_featurize_stats;

/* Pure helpers (unit-tested): the feature buckets of one text, sorted ascending with their counts.
 * buckets/counts are caller arrays of capacity cap; *n receives the number of distinct buckets (if > cap,
 * only cap are written and the caller retries with a larger buffer). Not collective. */
PETSC_EXTERN PetscErrorCode wn_featurize_buckets(const char *text, size_t len, int hash_bits, uint64_t seed, uint32_t *buckets, uint32_t *counts, int64_t cap, int64_t *n);
/* Project one record: weights w_k = (1 + ln count_k) * idf[bucket_k] -> out[dim] (double accumulation in
 * bucket order, then L2-normalised into float). idf has 2^hash_bits entries. Not collective. */
PETSC_EXTERN PetscErrorCode wn_featurize_project(int64_t n, const uint32_t *buckets, const uint32_t *counts, const double *idf, int64_t dim, uint64_t seed, float *out);
/* The s = 8 (dimension, sign) pairs of a bucket. Pure. */
PETSC_EXTERN void wn_featurize_bucket_dims(uint32_t bucket, int64_t dim, uint64_t seed, int64_t dims[8], int signs[8]);

/* Pieces shared with the reference language model (src/ngram.c, src/signals.c):
 * the next token of text[*pos, len) under the rule above (not lowercased; *pos moves past it). Pure. */
PETSC_EXTERN PetscBool wn_featurize_next_token(const char *text, size_t len, size_t *pos, size_t *start, size_t *end);
/* This rank's byte range [lo, hi) of a file of size bytes split over nranks. Pure. */
PETSC_EXTERN void wn_featurize_byte_range(int64_t size, int rank, int nranks, int64_t *lo, int64_t *hi);
/* Called for each line (without its '\n'); offset = its first byte in the file; set *stop to end the scan. */
typedef PetscErrorCode (*wn_featurize_line_fn)(void *ctx, const char *line, size_t len, int64_t offset, int *stop);
/* Call fn for every line of the open file fd that starts in [lo, hi) (the first line starting at or after lo
 * up to the last starting before hi), in file order; *io_errno gets errno of a failed read. Not collective. */
PETSC_EXTERN PetscErrorCode wn_featurize_scan_lines(int fd, int64_t lo, int64_t hi, int64_t size, wn_featurize_line_fn fn, void *ctx, int *io_errno);

/* Featurize params->input into params->output. Collective on comm. Errors (from rank 0): missing or
 * unreadable input, a malformed line (with its 1-based line number, unless skip_bad), a missing text field,
 * an empty input, a target label that matches nothing. */
PETSC_EXTERN PetscErrorCode wn_featurize_run(MPI_Comm comm, const wn_featurize_params *params, wn_featurize_stats *stats);
