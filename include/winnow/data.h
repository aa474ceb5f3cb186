/* data.h - the candidate pool (row blocks) and the target set (replicated), from HDF5 or .npy.
 *
 * Owns: reading embeddings (N x d candidates, M x d targets; float32 or float64 on disk, float32 in
 * memory), optional ids and labels, and their validation (shape, type, d agreement, NaN/Inf), with one
 * clear message from rank 0 for every bad input. Every rank reads only its own candidate rows
 * (collective hyperslabs for HDF5, byte offsets for .npy). Also: gathering ids/labels of a few global
 * rows (for outputs) and finding rows by id (warm start).
 * Leaves to other modules: kernels (kernel.h), the file formats themselves (h5io.h, npy.h).
 */
#pragma once

#include <stdint.h>
#include <winnow/error.h>
#include <winnow/layout.h>

/* Where one embedding matrix comes from. The file type is detected from its first bytes
 * (HDF5 signature or the .npy magic), not from the extension. */
typedef struct {
  char path[PETSC_MAX_PATH_LEN]; /* HDF5 or .npy file */
  char dataset[256];             /* HDF5 dataset of the N x d embedding (ignored for .npy) */
  char ids_dataset[256];         /* HDF5 dataset of N ids (int or string); "" = none; absent = default ids */
  char labels_dataset[256];      /* HDF5 dataset of N labels (int or string); "" = none; absent = no labels */
  char source_row_dataset[256];  /* HDF5 dataset of N int64 line numbers in the original JSONL records file
                                    (written by `winnow featurize`); "" or absent: record line = row */
  PetscBool metadata_only;       /* read the shape, ids and labels but not the embedding rows (embedding = NULL) */
} wn_input_spec;

typedef enum { WN_COLUMN_NONE, WN_COLUMN_INT, WN_COLUMN_STRING } wn_column_kind;

/* A per-row column (ids or labels) for n rows. */
typedef struct {
  wn_column_kind kind;
  int64_t        n;       /* number of rows held */
  int64_t       *ints;    /* n, owned, kind INT */
  char          *strings; /* n x width bytes, NUL-padded, owned, kind STRING */
  size_t         width;   /* bytes per string including the NUL; same on every rank */
} wn_column;

typedef struct {
  wn_layout layout;                 /* which candidate rows this rank owns */
  int64_t   d;                      /* embedding dimension */
  float    *embedding;              /* n_local x d, row-major, owned */
  wn_column id;                     /* local ids; kind NONE means id = global row index */
  wn_column label;                  /* local labels; kind NONE when absent */
  wn_column source_row;             /* local 0-based line numbers in the records file; kind NONE: = file row */
  wn_column origin;                 /* local rows of the embedding dataset (after wn_pool_subsample); NONE: = global row */
  wn_input_spec source;             /* where it came from (for provenance and messages) */
  int       file_dtype;             /* wn_dtype of the embedding on disk */
} wn_pool;

typedef struct {
  int64_t       m, d;
  float        *embedding;          /* m x d, row-major, replicated on every rank, owned */
  wn_column     label;              /* all m labels (replicated), kind NONE when absent */
  wn_input_spec source;
  int           file_dtype;
} wn_targets;

/* Read the candidate pool. Collective on comm. Errors (from rank 0, naming file and dataset): missing
 * file, missing dataset, not 2-D, not a float type, zero rows, NaN/Inf (with the first bad global row),
 * ids/labels of the wrong length. */
PETSC_EXTERN PetscErrorCode wn_pool_read(MPI_Comm comm, const wn_input_spec *spec, wn_pool **pool);
/* Read the target set (replicated). Collective on comm. d_expected > 0 enforces the same dimension as the
 * pool ("targets have d = 128 but candidates have d = 384"). */
PETSC_EXTERN PetscErrorCode wn_targets_read(MPI_Comm comm, const wn_input_spec *spec, int64_t d_expected, wn_targets **targets);
/* Build a pool from caller data (tests, benchmarks, synthetic runs): copies n_local x d rows. Not collective
 * except for the layout (call on every rank). */
PETSC_EXTERN PetscErrorCode wn_pool_create_from_rows(MPI_Comm comm, int64_t n_global, int64_t d, const float *local_rows, wn_pool **pool);
PETSC_EXTERN PetscErrorCode wn_targets_create_from_rows(int64_t m, int64_t d, const float *rows, wn_targets **targets);
PETSC_EXTERN PetscErrorCode wn_pool_destroy(wn_pool **pool);
PETSC_EXTERN PetscErrorCode wn_targets_destroy(wn_targets **targets);

/* All N x d candidate embeddings on every rank (for kernels against the pool itself). *all is owned by
 * the caller (PetscFree). Collective. */
PETSC_EXTERN PetscErrorCode wn_pool_allgather_embedding(const wn_pool *pool, float **all);

/* Entries of a local column for a list of global rows, replicated on every rank: out->n = n_rows, same kind
 * and width as the column (kind NONE: out is NONE too). Collective on the pool's communicator. */
PETSC_EXTERN PetscErrorCode wn_column_gather(const wn_layout *layout, const wn_column *local, int64_t n_rows, const int64_t *global_rows, wn_column *out);
/* Row i of a column as text ("%lld" for ints, the string otherwise; for kind NONE the fallback global index). */
PETSC_EXTERN const char *wn_column_text(const wn_column *c, int64_t i, int64_t fallback, char *buf, size_t len);
PETSC_EXTERN PetscErrorCode wn_column_destroy(wn_column *c);

/* A seeded subsample of S rows of the pool, chosen independently of the rank count (the S rows with the
 * smallest counter-based keys wn_splitmix64(seed ^ file row), ties to the lower row), kept in file order and
 * rebalanced over the ranks (MPI_Alltoallv). The new pool's origin column holds each row's row in the file.
 * Collective. Errors: S < 1 or S > N. */
PETSC_EXTERN PetscErrorCode wn_pool_subsample(const wn_pool *pool, int64_t S, uint64_t seed, wn_pool **sub);

/* Map ids given as text to global rows (ints compare numerically, strings exactly; kind NONE: the text is a
 * global index). Collective. Errors from rank 0 name the first id that matches no row, or matches twice. */
PETSC_EXTERN PetscErrorCode wn_pool_find_ids(const wn_pool *pool, int64_t n_ids, const char *const *ids, int64_t *rows);
