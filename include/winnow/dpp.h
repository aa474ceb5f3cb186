/* dpp.h - greedy MAP inference for a determinantal point process on the distributed greedy engine
 * (Chen, Zhang and Zhou, NeurIPS 2018, "Fast greedy MAP inference for DPP", Algorithm 1; METHODS.md 0.2).
 *
 * Owns: the DPP objective (per-candidate incremental Cholesky rows c_j and Schur complements d_j^2, kept by
 * the rank that owns candidate j; the pick's owner broadcasts its features, quality, c_{j*} and d_{j*}, or its
 * row of a user-supplied L; L[j*, j] is computed locally, never an N x N matrix), the conversion of the engine's
 * gains (d^2) into log-determinant gains, and the ScaLAPACK cross-checks of a selection: log det(L_Y) and
 * log det(L + I) over the candidate (eligible) set.
 * Leaves to others: the loop (greedy.h), the factorisations (logdet.h), P3's rounds (src/methods/p3_method.c).
 *
 * The kernel: L = diag(q) S diag(q) + jitter I, with S from features (cosine, dot or RBF) or a user matrix
 * (then L = S + jitter I: quality is not applied). The engine's gain of candidate j is d_j^2 (so argmax,
 * ties and the epsilon stop are exactly the reference's); -inf for candidates outside the active set.
 */
#pragma once

#include <stdint.h>
#include <winnow/error.h>
#include <winnow/greedy.h>
#include <winnow/layout.h>
#include <winnow/logdet.h>

typedef enum { WN_DPP_COSINE, WN_DPP_DOT, WN_DPP_RBF, WN_DPP_USER } wn_dpp_kind;
PETSC_EXTERN const char *const wn_dpp_kind_names[]; /* "cosine","dot","rbf","user", PETSc enum tail */

typedef struct {
  wn_dpp_kind kind;
  double      gamma;   /* RBF: S = exp(-gamma ||x - y||^2), > 0 */
  double      jitter;  /* added to L's diagonal, >= 0 */
  double      epsilon; /* the greedy stops when the largest d^2 < epsilon (the first pick is always taken) */
} wn_dpp_params;

/* Bytes one rank holds for the DPP objective on n_local of N candidates with features of dimension d
 * (d = 0 for WN_DPP_USER, whose rows of N floats belong to the caller) and at most max_picks picks:
 * the Cholesky rows (n_local x max_picks doubles), d^2, the replicated selected features (or L_Y for user
 * kernels) and the payload. Pure. */
PETSC_EXTERN double wn_dpp_bytes(int64_t n_local, int64_t N, int64_t d, int64_t max_picks, wn_dpp_kind kind);

/* Create the DPP objective over layout's rows. Collective on layout->comm (agrees on argument errors).
 *   features  n_local x d floats, row-major (borrowed; must outlive the objective); NULL for WN_DPP_USER
 *   user_rows n_local x N floats, row-major, the rows of L this rank owns (borrowed); only for WN_DPP_USER
 *   quality   n_local doubles q_j >= 0 (borrowed) or NULL for q = 1; refused for WN_DPP_USER
 *   active    n_local bytes, nonzero = candidate (borrowed) or NULL for all rows
 *   max_picks the budget (sizes the Cholesky rows and the payload)
 * The objective's name is "dpp". Gains are d_j^2 (see wn_dpp_selection_to_log). Not lazy (every pick updates
 * every candidate's Cholesky row anyway). */
PETSC_EXTERN PetscErrorCode wn_dpp_objective_create(const wn_layout *layout, const wn_dpp_params *params, int64_t d, const float *features,
                                                    const float *user_rows, const double *quality, const unsigned char *active, int64_t max_picks,
                                                    wn_objective **obj);

/* After wn_greedy_maximize on a DPP objective: replace each gain d^2 by log d^2 (-inf for d^2 <= 0, possible only
 * for the always-taken first pick) and the running objective by the running log det(L_Y) (summed in the log domain,
 * Chen et al. eq. after (7)). Not collective. */
PETSC_EXTERN PetscErrorCode wn_dpp_selection_to_log(wn_selection *sel);

/* log det(L_Y) of the objective's selection recomputed from scratch with ScaLAPACK (pdpotrf on all ranks; the
 * k x k matrix L_Y is built from the broadcast features / rows the engine kept, k = picks so far). Collective.
 * res->info > 0 means L_Y is not positive definite (the caller reports it). */
PETSC_EXTERN PetscErrorCode wn_dpp_logdet_selected(wn_objective *obj, const wn_logdet_opts *opts, wn_logdet_result *res);

/* log det(L_A + I) over the active set A (all rows when active is NULL), with ScaLAPACK: the normaliser of the
 * DPP's probabilities, so that log P(Y) = log det(L_Y) - log det(L_A + I). Collective. *n_active: |A|.
 * Memory: |A|^2 / P doubles three times per rank plus the gathered features (see wn_dpp_logdet_full_bytes). */
PETSC_EXTERN PetscErrorCode wn_dpp_logdet_full(wn_objective *obj, const wn_logdet_opts *opts, wn_logdet_result *res, int64_t *n_active);
PETSC_EXTERN double         wn_dpp_logdet_full_bytes(int64_t n_active, int64_t d, int size, const wn_logdet_opts *opts);

/* One entry of L (pure, for tests and for the ScaLAPACK fills): q_a q_b S(x_a, x_b) (+ jitter when diag),
 * computed with the same arithmetic, in the same order, as the objective's update. */
PETSC_EXTERN double wn_dpp_entry(const wn_dpp_params *params, int64_t d, const float *xa, double qa, double aux_a, const float *xb, double qb,
                                 double aux_b, PetscBool diag);
/* The per-row auxiliary value wn_dpp_entry needs: 1/||x|| (cosine; 0 for a zero row), ||x||^2 (rbf: unused), 0 (dot). */
PETSC_EXTERN double wn_dpp_aux(wn_dpp_kind kind, int64_t d, const float *x);
