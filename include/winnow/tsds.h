/* tsds.h - TSDS (Liu, Karbasi, Rekatsinas, NeurIPS 2024): optimal-transport alignment to the target set with a
 * kernel-density penalty on near-duplicates, by kNN and water-filling (METHODS.md section 4; the reference code
 * ZifanL/TSDS tsds.py with its config.yaml defaults).
 *
 * Owns: the probabilities p over candidates (the water-filling of section 4.2 on exact kNN), and seeded sampling
 * of the selection from p (with replacement as in the paper, or without). The kNN search is knn.h's.
 */
#pragma once

#include <stdint.h>
#include <winnow/error.h>
#include <winnow/layout.h>
#include <winnow/knn.h>

typedef struct {
  double        alpha;       /* OT vs. diversity trade-off, in [0, 1] (default 0.5) */
  double        C;           /* distance scale, > 0 (default 5.0) */
  double        sigma;       /* KDE bandwidth, >= 0; 0 = no density term (rho = 1) (default 0.75) */
  int64_t       max_K;       /* neighbours per query, capped at N / 10 (default 5000) */
  int64_t       kde_K;       /* neighbours for the density, capped at N / 10 (default 1000) */
  int64_t       sample_size; /* draws (default 100) */
  PetscBool     replace;     /* sample with replacement (the paper) or without */
  uint64_t      seed;        /* sampling seed */
  wn_knn_metric metric;      /* distance of the kNN (the reference: L2) */
} wn_tsds_params;

typedef struct {
  int64_t  K, kde_K;       /* the neighbour counts actually used (after the N / 10 caps) */
  double   level;          /* the water level s: the count of the event that fired the stop rule (the reference
                              keeps it though the event is not accepted), else of the last event; 0 when K = 1 */
  int64_t *last_k;         /* M entries: each query's last neighbour with full share (-1: none), replicated, owned */
  double  *p_local;        /* layout->n_local probabilities of this rank's candidates (sum over ranks = 1), owned */
  double  *rho_local;      /* layout->n_local densities, 0 where not computed (candidates in no neighbour list, and
                              the members of U the water-filling never reached: the densities are lazy), owned */
  int64_t  n_support;      /* candidates with p > 0 (over all ranks) */
  int64_t  n_near_dup;     /* near-duplicates as the reference logs them, sum of #(kernel > 0) - 1, but among the
                              computed densities (the reference: over all of U; WN_TSDS_EAGER=1 computes all of U) */
  int64_t  n_union;        /* |U|: candidates in some target's neighbour list */
  int64_t  n_density;      /* densities computed (|U| when eager or sigma = 0) */
  PetscBool stopped_early; /* the stop rule fired (else the level is that of the last event) */
} wn_tsds_result;

/* Compute p for the candidates (rows of L, X_local) and the M targets Q (replicated). Collective. Only the
 * densities the water-filling reads are computed (exactly the values, hence the p, of computing all of U).
 * The environment variable WN_TSDS_EAGER=1 computes every density of U (for checks).
 * Errors (collective, naming the values): C <= 0, sigma < 0, alpha outside [0, 1], N too small for the caps
 * (N / 10 < 1), K or kde_K < 1 after the caps. */
PETSC_EXTERN PetscErrorCode wn_tsds_probabilities(const wn_layout *L, int64_t d, const float *X_local, int64_t M, const float *Q, const wn_tsds_params *params, wn_tsds_result **res);
/* Draw params->sample_size candidates from p with the seeded counter-based generator: with replacement
 * (multinomial; the same draws on any rank count: the CDF is accumulated in exact fixed-point arithmetic), or
 * without (Efraimidis-Spirakis keys u^(1/p) by global row, the sample_size largest). Returns the distinct picks
 * in order of first draw with their draw counts, replicated. Collective. Errors: without replacement and fewer
 * candidates with p > 0 than sample_size. */
PETSC_EXTERN PetscErrorCode wn_tsds_sample(const wn_layout *L, const wn_tsds_result *r, const wn_tsds_params *params, int64_t *n_picks, int64_t **picks, int64_t **counts);
PETSC_EXTERN PetscErrorCode wn_tsds_result_destroy(wn_tsds_result **res);
