/* facility.h - the facility-location family as one objective on the greedy engine
 * (METHODS.md sections 0.1, 3 and 5; submodlib's FL, FL1MI and FLCG).
 *
 * All three are   gain(c) = sum_t max(0, min(K[c, t], cap_t) - floor_t),
 *                 update:  floor_t = max(floor_t, min(K[c*, t], cap_t)),
 * over the columns t of a candidate-major kernel K, with
 *   FL   : cap = +inf, floor starts at 0                     (f(A) = sum_t max(0, max_{j in A} K[j, t]))
 *   FLMI : cap_i = max(FLT_MIN, eta * max_q SQ[i, q]), floor 0 (submodlib FL1MI; K is the N x N pool kernel)
 *   FLCG : cap = +inf, floor_i = max(0, nu * max_p SP[i, p])  (f(A | P); K is the N x N pool kernel)
 * Terms are computed in float and summed in double in a fixed order, so the gain of a candidate has
 * the same bits on any rank count, and stale gains are upper bounds (lazy greedy is exact).
 * Owns: the state (cap, floor replicated over ranks) and the cap/floor constructions.
 */
#pragma once

#include <winnow/error.h>
#include <winnow/kernel.h>
#include <winnow/greedy.h>

/* Create the objective on K (borrowed; must outlive the objective). cap and floor0 are n_cols arrays,
 * copied; NULL means no cap (+inf) / zero floor. Not collective. */
PETSC_EXTERN PetscErrorCode wn_facility_create(const wn_kernel *K, const float *cap, const float *floor0, wn_objective **obj);

/* FLMI caps over the pool's columns: cap_i = max(FLT_MIN, eta * max_q SQ[i, q]) for every pool row i,
 * computed by the owner of row i and allgathered (N floats on every rank, owned by the caller).
 * SQ is the N x M pool-by-query kernel with the same row layout as the pool. Collective. */
PETSC_EXTERN PetscErrorCode wn_facility_flmi_caps(const wn_kernel *SQ, double eta, float **cap);
/* FLCG floors: floor_i = max(0, nu * max_p SP[i, p]), allgathered (N floats, owned by the caller). Collective. */
PETSC_EXTERN PetscErrorCode wn_facility_flcg_floors(const wn_kernel *SP, double nu, float **floor);

/* The same objective on a sparse kernel (top-k entries per row, kernel.h): the sum runs over the row's entries
 * only (absent entries are 0, so they never add gain with floors >= 0). Terms are accumulated like the dense
 * gain (term of column t into accumulator t mod 8, ascending t), so with k = T the gains equal the dense ones bit
 * for bit. The payload is the picked row (count, columns, values). S is borrowed. Not collective. */
PETSC_EXTERN PetscErrorCode wn_facility_create_sparse(const wn_sparse_kernel *S, const float *cap, const float *floor0, wn_objective **obj);
