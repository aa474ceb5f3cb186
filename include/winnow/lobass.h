/* lobass.h - LoBaSS's pieces (Zhou et al., arXiv 2310.13008; METHODS.md section 2): the learnability score of
 * every candidate from two per-sample losses, an exact distributed top-k (optionally per label group), the
 * per-label budgets that balance domains, and the independent check of a top-k selection.
 *
 * Owns: reading /signals/loss_base and /signals/loss_tuned (DESIGN.md section 6) by row block and validating
 * them with one collective message naming the file, dataset, row and value; the scores s = L0 - L1 (`diff`) or
 * (L0 - L1) / L0 (`normalized`); the distinct labels of the pool (replicated, sorted) and each row's label
 * group; proportional budgets by largest remainder and user-given budgets ("labelA:10,labelB:20"); an exact
 * top-k by bisection on the order-preserving 64-bit key of each score (one MPI_Allreduce of the group counts
 * per round, at most 64 rounds, no gather of the scores), ties to the lowest global index.
 * Leaves to others: file access (h5io.c), the row split (layout.c), the method's flow, report lines and
 * checks (src/methods/lobass_method.c).
 *
 * Every result is identical (indices and bits) for any number of ranks.
 */
#pragma once

#include <stdint.h>
#include <winnow/error.h>
#include <winnow/layout.h>
#include <winnow/data.h>

/* -wn_lobass_score: s = L0 - L1 (diff, the default) or (L0 - L1) / L0 (normalized). */
typedef enum { WN_LOBASS_DIFF, WN_LOBASS_NORMALIZED } wn_lobass_score;
PETSC_EXTERN const char *const wn_lobass_score_names[]; /* "diff","normalized", PETSc enum tail */

/* -wn_lobass_per_label: one top-k over the pool (none), per label with budgets proportional to the label's
 * size (largest remainder), or per label with budgets given by -wn_lobass_label_budgets. */
typedef enum { WN_LOBASS_PER_LABEL_NONE, WN_LOBASS_PER_LABEL_PROPORTIONAL, WN_LOBASS_PER_LABEL_GIVEN } wn_lobass_per_label;
PETSC_EXTERN const char *const wn_lobass_per_label_names[]; /* "none","proportional","given", PETSc enum tail */

/* Read this rank's rows of the two loss columns (N float32/float64 each, 1-D or N x 1) from the HDF5 file path.
 * Collective on layout->comm. A missing file or dataset, a wrong type, shape or length ("has 99 values; expected
 * N = 100") give one error from rank 0 naming the file and dataset; the file is closed first. The values are not
 * validated here (wn_lobass_scores does that). loss_base, loss_tuned: out, layout->n_local doubles each (caller
 * allocates). */
PETSC_EXTERN PetscErrorCode wn_lobass_read_losses(const wn_layout *layout, const char *path, const char *ds_base, const char *ds_tuned, double *loss_base, double *loss_tuned);

/* Learnability scores (METHODS.md 2): score_i = L0_i - L1_i (diff) or (L0_i - L1_i) / L0_i (normalized).
 * Collective on comm: a NaN, infinite or negative loss, an L0 of 0 with normalized, or a normalized score that
 * overflows (a subnormal L0) gives one error naming the source (what_base / what_tuned, e.g. "dataset /x in
 * 'a.h5'"), the lowest bad global row and its value. score: out, n_local doubles (caller allocates). */
PETSC_EXTERN PetscErrorCode wn_lobass_scores(MPI_Comm comm, const char *what_base, const char *what_tuned, wn_lobass_score kind, int64_t row_start, int64_t n_local,
                                             const double *loss_base, const double *loss_tuned, double *score);

/* The distinct labels of a pool, replicated and sorted (numerically for int labels, by bytes for strings). */
typedef struct {
  int      n;     /* distinct labels G */
  size_t   width; /* bytes per name, NUL included */
  char    *names; /* G x width, the labels as text ("%lld" for ints), owned */
  int64_t *count; /* G, candidates with each label (global), owned */
} wn_lobass_labels;

/* Distinct labels of the column `label` (local rows of layout) and each local row's group (its label's position
 * in labels->names). Collective on layout->comm. label kind NONE is an error (the caller says which option needs
 * labels first). group: out, layout->n_local ints (caller allocates). */
PETSC_EXTERN PetscErrorCode wn_lobass_labels_create(const wn_layout *layout, const wn_column *label, wn_lobass_labels *labels, int *group);
/* Free the names and counts; accepts a zeroed struct. Not collective. */
PETSC_EXTERN PetscErrorCode wn_lobass_labels_destroy(wn_lobass_labels *labels);

/* Proportional budgets by largest remainder (Hamilton): label g gets floor(budget n_g / N), then the
 * budget - sum of those leftover picks go one each to the labels with the largest remainders (budget n_g mod N,
 * exact integers); equal remainders go first to the label with more candidates, then to the label that sorts
 * first. The budgets add up to budget exactly and never exceed n_g. Pure (no MPI): n_groups counts, 0 <= budget
 * <= sum of counts. k: out, n_groups. */
PETSC_EXTERN PetscErrorCode wn_lobass_budgets_proportional(int n_groups, const int64_t *count, int64_t budget, int64_t *k);

/* Syntax check of a -wn_lobass_label_budgets text: comma-separated "label:count" items (the last ':' of an item
 * separates the label, so labels may contain ':'; blanks around items are ignored), every count a whole number
 * >= 0, no label twice. Collective on comm only in that every rank must pass the same text (the errors are
 * PetscCheck on comm). *n_items: out, may be NULL; *total: out (sum of the counts), may be NULL. */
PETSC_EXTERN PetscErrorCode wn_lobass_budgets_check(MPI_Comm comm, const char *spec, int *n_items, int64_t *total);
/* Budgets given as text, mapped onto labels: labels not listed get 0. Errors (collective on comm, from rank 0):
 * bad syntax (as above), a label the pool does not have (the message lists the pool's labels), a count above the
 * label's candidates, counts that do not add up to budget. k: out, labels->n. */
PETSC_EXTERN PetscErrorCode wn_lobass_budgets_given(MPI_Comm comm, const wn_lobass_labels *labels, const char *spec, int64_t budget, int64_t *k);

/* Exact distributed top-k, per group: for each group g the k[g] rows of group g (over all ranks) with the largest
 * scores, ties to the lowest global index; the union in selection order (score descending, ties to the lowest
 * index), replicated on every rank. group: n_local group ids in [0, n_groups), or -1 for rows never selected;
 * NULL means every row is in group 0 (n_groups must then be 1). Scores must be finite (collective error
 * otherwise); k[g] must lie in [0, members of g] (collective error naming the group otherwise).
 * Collective on comm. *n_sel = sum of k; *index and *value (n_sel each, PetscMalloc, owned by the caller) are
 * the picks' global rows and scores. Total picks above 2^31 - 1 are refused (MPI counts). */
PETSC_EXTERN PetscErrorCode wn_lobass_topk(MPI_Comm comm, int64_t row_start, int64_t n_local, const double *score, const int *group, int n_groups, const int64_t *k,
                                           int64_t *n_sel, int64_t **index, double **value);

/* The group of each pick, replicated (the owner of each pick contributes it). group NULL: all 0. Collective.
 * pick_group: out, n_sel ints (caller allocates). */
PETSC_EXTERN PetscErrorCode wn_lobass_pick_groups(MPI_Comm comm, int64_t row_start, int64_t n_local, const int *group, int64_t n_sel, const int64_t *index, int *pick_group);

/* Independent check of a grouped top-k selection, recomputed from the scores without the thresholds of
 * wn_lobass_topk: each pick's value is its row's score; picks come in order (score descending, ties lowest
 * index) and are distinct; group g holds exactly k[g] picks; and no unpicked row of group g beats the worst pick
 * of g (smaller score, or equal score and larger index). Rows of group -1 are never picked. Collective on comm.
 * *violations: out, the number of failed conditions summed over ranks (0 = passed); counts: out, n_groups picks
 * per group (may be NULL). */
PETSC_EXTERN PetscErrorCode wn_lobass_check_topk(MPI_Comm comm, int64_t row_start, int64_t n_local, const double *score, const int *group, int n_groups, const int64_t *k,
                                                 int64_t n_sel, const int64_t *index, const double *value, int64_t *violations, int64_t *counts);
