/* p3.h - P3's per-epoch pieces (Yang et al. 2024; METHODS.md section 1): difficulty from the model's
 * per-step probabilities, the pace-adaptive percentile schedule and threshold, the optional trend score,
 * the eligible set, and the per-column standardisation of the DPP features over the eligible (or
 * remaining) items.
 *
 * Owns: reading /signals/epoch_<e>/{step_prob,step_offset,difficulty,features} (DESIGN.md section 6) by
 * row block, their validation, numpy's percentile (linear interpolation) over a distributed vector, exact
 * and rank-count independent column statistics.
 * Leaves to others: the DPP greedy (dpp.h) and the rounds loop (src/methods/p3_method.c).
 *
 * Every result is bitwise identical for any number of ranks.
 */
#pragma once

#include <stdint.h>
#include <winnow/error.h>
#include <winnow/layout.h>

/* Difficulty from ragged step probabilities (METHODS.md 1.2, code): D_i = 1 - (1/T_i) sum_t p_{i,t};
 * T_i = 0 gives D_i = +inf. offsets: n_local + 1 GLOBAL offsets (offsets[i] .. offsets[i+1] are row
 * (row_start + i)'s steps); prob: the local slice, prob[0] being step offsets[0]. The mean is summed in step
 * order. Collective on comm (errors are agreed): offsets that decrease, probabilities that are NaN,
 * negative or above 1 are refused with a message naming the global row (and `what`, e.g. the file).
 * difficulty: out, n_local doubles (caller allocates). */
PETSC_EXTERN PetscErrorCode wn_p3_difficulty_from_steps(MPI_Comm comm, const char *what, int64_t row_start, int64_t n_local, const int64_t *offsets,
                                                        const double *prob, double *difficulty);

typedef enum { WN_P3_SOURCE_AUTO, WN_P3_SOURCE_STEPS, WN_P3_SOURCE_DIFFICULTY } wn_p3_source;
PETSC_EXTERN const char *const wn_p3_source_names[]; /* "auto","steps","difficulty", PETSc enum tail */

/* Read epoch `epoch`'s difficulty for this rank's rows from the HDF5 file `path`:
 * WN_P3_SOURCE_DIFFICULTY reads /signals/epoch_<e>/difficulty (N doubles; +inf allowed, NaN and -inf refused);
 * WN_P3_SOURCE_STEPS reads /signals/epoch_<e>/step_offset (N + 1 int64, offsets[0] == 0, nondecreasing,
 * offsets[N] == length of step_prob) and /signals/epoch_<e>/step_prob (doubles in [0, 1]);
 * WN_P3_SOURCE_AUTO uses difficulty when it exists, else the steps. *used tells which one was read.
 * Collective on layout->comm. Missing file/datasets, wrong lengths or types: one clear message naming the file and
 * dataset. difficulty: out, layout->n_local doubles (caller allocates). epoch < 0 is an error. */
PETSC_EXTERN PetscErrorCode wn_p3_read_difficulty(const wn_layout *layout, const char *path, int epoch, wn_p3_source source, double *difficulty,
                                                  wn_p3_source *used);

/* Read /signals/epoch_<e>/features (N x f, float or double on disk) for this rank's rows. Collective.
 * *features: out, owned by the caller (PetscFree), layout->n_local * f floats, row-major; *f out.
 * Missing dataset, wrong row count, NaN or infinite values: clear collective error. */
PETSC_EXTERN PetscErrorCode wn_p3_read_features(const wn_layout *layout, const char *path, int epoch, float **features, int64_t *f);

/* The pace-adaptive schedule (METHODS.md 1.3, code): pct_e = start + (end - start) / n_epochs * e
 * (45, 55, 65, 75, 85 for start 45, end 95, 5 epochs). Pure; evaluated exactly in that order of operations. */
PETSC_EXTERN double wn_p3_percentile_at(int epoch, int n_epochs, double start, double end);

/* numpy.percentile(x, pct) with numpy's default "linear" method over the global vector whose local part is
 * x[0 .. n_local) (virtual index (N - 1) * pct / 100, numpy's _lerp including its t >= 0.5 branch), so the value
 * has numpy's bits. +inf entries take part as in numpy (the result may then be +inf or NaN, as numpy's would).
 * NaN or -inf entries are a collective error. N == 0 is an error. 0 <= pct <= 100.
 * Collective; exact distributed selection of the two order statistics (no gather of the whole vector). */
PETSC_EXTERN PetscErrorCode wn_percentile_linear(MPI_Comm comm, int64_t n_local, const double *x, double pct, double *value);

/* Trend score (METHODS.md 1.3, option): out_i = d_i + alpha (d_i - prev_i); +inf when either is +inf.
 * Pure, not collective; out may alias d. */
PETSC_EXTERN void wn_p3_trend(int64_t n_local, const double *d, const double *prev, double alpha, double *out);

/* The eligible set {i : score_i <= tau} (METHODS.md 1.3). +inf scores are never eligible. When tau itself is
 * not finite (the percentile fell on or between +inf items), every finite item is eligible and *tau_not_finite
 * is PETSC_TRUE (the caller says so in the report). eligible: out, n_local bytes (0/1); *n_eligible: global count.
 * Collective. */
PETSC_EXTERN PetscErrorCode wn_p3_eligible(MPI_Comm comm, int64_t n_local, const double *score, double tau, unsigned char *eligible,
                                           int64_t *n_eligible, PetscBool *tau_not_finite);

/* P3's DPP feature normalisation over the active rows (METHODS.md 1.4, code): z-score every column with the
 * mean and POPULATION standard deviation over the active rows of all ranks, a zero-variance column becomes 0
 * (the reference code would divide by zero; documented choice), then each active row is divided by its L2
 * norm (an all-zero row stays zero). Inactive rows of out are set to 0. in and out are n_local x f row-major
 * (out may alias in). The column sums are exact (fixed-point integers reduced over ranks), so out has the
 * same bits on any rank count. *n_zero_var: global count of zero-variance columns (may be NULL).
 * Collective. No active rows anywhere: out is all zero, not an error. */
PETSC_EXTERN PetscErrorCode wn_p3_standardize(MPI_Comm comm, int64_t n_local, int64_t f, const float *in, const unsigned char *active, float *out,
                                              int64_t *n_zero_var);
