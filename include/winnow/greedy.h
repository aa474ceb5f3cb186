/* greedy.h - the one distributed greedy engine (DESIGN.md section 4).
 *
 * Owns: the loop shared by every greedy objective: each rank finds its best candidate (largest gain,
 * ties to the lowest global index), MPI_Allreduce with a MAXLOC on (gain, int64 index), the winner's
 * owner broadcasts the objective's payload, every rank updates; naive and lazy (Minoux) evaluation,
 * stop rules, warm start, progress lines on rank 0, and the selection record.
 * Leaves to the objective (wn_objective): what a gain is, what the payload holds, how state changes.
 */
#pragma once

#include <stdint.h>
#include <winnow/error.h>
#include <winnow/layout.h>

/* An objective on the engine. All callbacks are local (not collective) except destroy. */
typedef struct wn_objective {
  const char      *name;          /* for progress lines and errors */
  void            *ctx;           /* owned by the objective; freed by destroy */
  const wn_layout *layout;        /* candidate rows (borrowed) */
  size_t           payload_bytes; /* size of the broadcast payload */
  PetscBool        lazy_ok;       /* PETSC_TRUE when stale gains are upper bounds (submodular) */
  /* Exact marginal gain of local candidate i (0 <= i < n_local) in the current state. Must give the same
   * bits for the same global candidate on any rank count. -INFINITY means "not a candidate" (never picked;
   * when every unselected row says so the loop stops with "exhausted"). */
  PetscErrorCode (*gain)(void *ctx, int64_t i, double *gain);
  /* Optional fast path: gains of all local candidates (skipping entries with selected[i] != 0, whose gain is
   * left untouched). NULL means the engine loops over gain(). Must give the same bits as gain(). */
  PetscErrorCode (*gain_all)(void *ctx, const unsigned char *selected, double *gains);
  /* Owner of the pick: write the payload for local candidate i into payload (payload_bytes). */
  PetscErrorCode (*pack)(void *ctx, int64_t i, void *payload);
  /* Every rank: update the state after global candidate g was picked, from its payload. */
  PetscErrorCode (*update)(void *ctx, int64_t g, const void *payload);
  PetscErrorCode (*destroy)(void *ctx);
} wn_objective;

PETSC_EXTERN PetscErrorCode wn_objective_destroy(wn_objective **obj);

typedef enum { WN_GREEDY_NAIVE, WN_GREEDY_LAZY } wn_greedy_kind;
struct wn_selection_s;
PETSC_EXTERN const char *const wn_greedy_kind_names[]; /* "naive","lazy", PETSc enum tail */

typedef struct {
  wn_greedy_kind kind;
  int64_t        budget;            /* total picks including the warm start; 1 <= budget <= N */
  double         min_gain;          /* stop (without taking it) when the best gain < min_gain; -INFINITY: never */
  const int64_t *warm;              /* global rows picked first, in this order (borrowed); may be NULL */
  int64_t        n_warm;
  double         progress_interval; /* seconds between progress lines on rank 0; <= 0 disables */
  PetscBool      first_pick_free;   /* the first pick is taken even below min_gain (Chen et al.'s DPP MAP) */
  /* restart: picks read from a checkpoint, re-applied first in this order (warm-start picks included); each one's
   * gain is recomputed and must equal replay_gain bit for bit (else the inputs or options changed) */
  const int64_t *replay;
  const double  *replay_gain;
  int64_t        n_replay;
  /* checkpoints: called (collectively, with the picks so far) every checkpoint_every picks, every
   * checkpoint_interval seconds (rank 0's clock), and when a rank saw SIGTERM/SIGUSR1 (then the loop stops with
   * an error and wn_interrupt_checkpointed() is true). NULL: no checkpoints (a signal still stops the loop). */
  PetscErrorCode (*checkpoint)(void *ctx, const struct wn_selection_s *partial);
  void          *checkpoint_ctx;
  int64_t        checkpoint_every;
  double         checkpoint_interval;
} wn_greedy_params;

typedef struct wn_selection_s {
  int64_t  n;           /* picks made (warm start included) */
  int64_t  n_warm;      /* the first n_warm picks came from the warm start */
  int64_t *index;       /* n global rows in selection order, owned */
  double  *gain;        /* n marginal gains at the time of the pick, owned */
  double  *objective;   /* n running objective values (sum of gains so far), owned */
  int64_t  evaluations; /* gain evaluations, summed over ranks */
  int64_t  n_candidates;/* N */
  int64_t *count;       /* n draws per pick (TSDS samples with replacement), owned; NULL: one each */
  char     stop_reason[64]; /* "budget", "min_gain", "exhausted", "sampled" */
} wn_selection;

/* Maximise obj greedily. Collective on obj->layout->comm. The result is identical (indices, and gains
 * bitwise) for any number of ranks, and lazy returns exactly what naive returns, ties included.
 * Errors: budget < 1 or > N, warm-start rows out of range or repeated, more warm rows than the budget. */
PETSC_EXTERN PetscErrorCode wn_greedy_maximize(wn_objective *obj, const wn_greedy_params *params, wn_selection **sel);
PETSC_EXTERN PetscErrorCode wn_selection_destroy(wn_selection **sel);
