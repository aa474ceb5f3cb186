/* knn.h - distributed exact k-nearest-neighbour search (METHODS.md sections 4 and 5; TSDS).
 *
 * Owns: for M replicated query vectors, the k nearest rows of a distributed set of candidate rows (all the
 * rows a rank owns, or a subset of them), by Euclidean distance or cosine distance; distances from
 * ||q||^2 + ||x||^2 - 2 q.x with q.x from sgemm tiles aligned to global positions (so every distance has the
 * same bits on any rank count), a local top-k per query, and a global merge (MPI_Allreduce with a merge
 * operation on sorted lists) that is deterministic: ascending distance, ties to the lower global row.
 * The result is replicated on every rank. Leaves to callers: what the neighbours are used for.
 */
#pragma once

#include <stdint.h>
#include <winnow/error.h>
#include <winnow/layout.h>

typedef enum { WN_KNN_L2, WN_KNN_COSINE } wn_knn_metric;
PETSC_EXTERN const char *const wn_knn_metric_names[]; /* "l2", "cosine", PETSc enum tail */

typedef struct {
  int64_t  m, k;  /* queries, neighbours per query */
  int64_t *index; /* m x k global candidate rows, row-major, nearest first; replicated, owned */
  double  *dist;  /* m x k distances: Euclidean (sqrt of the squared distance, clamped at 0), or 1 - cos */
} wn_knn_result;

/* The k nearest candidates of each of the M queries Q (M x d, replicated, row-major) among the candidate rows.
 * Candidates: this rank's rows of layout L (X_local, L->n_local x d), or, when subset != NULL, only the local
 * rows subset[0..n_subset) (local indices, ascending); the subset's global order is the global row order.
 * Requires 1 <= k <= number of candidates (over all ranks), else an error naming both numbers (collective).
 * Collective on L->comm. Memory: M x k (distance, index) pairs per rank for the merge; call it on blocks of
 * queries when M x k is large. */
PETSC_EXTERN PetscErrorCode wn_knn_search(const wn_layout *L, int64_t d, const float *X_local, const int64_t *subset, int64_t n_subset, int64_t M, const float *Q, int64_t k, wn_knn_metric metric, wn_knn_result **res);
PETSC_EXTERN PetscErrorCode wn_knn_result_destroy(wn_knn_result **res);
