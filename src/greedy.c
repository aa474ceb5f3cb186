/* greedy.c - the one distributed greedy engine (DESIGN.md section 4; METHODS.md section 5).
 *
 * Owns: the loop every greedy objective shares. Each iteration every rank finds its local best
 * candidate (largest gain, ties to the lowest global index), one MPI_Allreduce with a user-defined
 * MAXLOC on (double gain, int64 index) picks the global winner, the winner's owner broadcasts the
 * objective's payload and every rank applies the update. Naive and lazy (Minoux 1978) evaluation,
 * warm start, the stop rules ("budget", "min_gain", "exhausted"), progress lines on rank 0, PETSc
 * log events and the wn_selection record.
 * Leaves to the objective (wn_objective, e.g. facility.c): what a gain is, the payload and the update.
 *
 * Determinism: the reduction is a total order on (gain desc, index asc), so the winner does not
 * depend on the number of ranks or on the reduction tree; gains come from the objective, which
 * promises the same bits for a candidate on any rank count; the running objective is accumulated in
 * the same order on every rank. Lazy evaluation returns exactly what naive evaluation returns,
 * because stale gains are upper bounds (submodularity plus monotone float arithmetic) and a refreshed
 * gain is accepted only when it beats every other bound in the same total order.
 */
#include <math.h>
#include <stddef.h>
#include <stdlib.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <winnow/greedy.h>
#include <winnow/checkpoint.h>

const char *const wn_greedy_kind_names[] = {"naive", "lazy", "wn_greedy_kind", "WN_GREEDY_", NULL};

/* ---- PETSc log events (registered once, lazily) --------------------------------------------- */

static PetscBool     greedy_events_registered = PETSC_FALSE;
static PetscLogEvent greedy_event_gain, greedy_event_reduce, greedy_event_update;

/**
  @brief Register the PETSc log events wn_GreedyGain, wn_GreedyReduce and wn_GreedyUpdate (once).

  Not collective (PETSc registers events per process; every rank calls this at the same point).
**/
static PetscErrorCode greedy_register_events(void)
{
  PetscClassId classid;

  PetscFunctionBeginUser;
  if (greedy_events_registered) PetscFunctionReturn(PETSC_SUCCESS);
  PetscCall(PetscClassIdRegister("winnow", &classid));
  PetscCall(PetscLogEventRegister("wn_GreedyGain", classid, &greedy_event_gain));
  PetscCall(PetscLogEventRegister("wn_GreedyReduce", classid, &greedy_event_reduce));
  PetscCall(PetscLogEventRegister("wn_GreedyUpdate", classid, &greedy_event_update));
  greedy_events_registered = PETSC_TRUE;
  PetscFunctionReturn(PETSC_SUCCESS);
}

/* ---- the MAXLOC reduction on (gain, int64 index), with flags piggybacked ---------------------- */

#define GREEDY_FLAG_NAN      1 /* some rank's objective produced a NaN gain */
#define GREEDY_FLAG_PROGRESS 2 /* rank 0's clock says: print a progress line after this pick */
#define GREEDY_FLAG_STOP     4 /* some rank received SIGTERM or SIGUSR1: checkpoint and stop */
#define GREEDY_FLAG_CKPT     8 /* rank 0's clock says: write a checkpoint after this pick */

typedef struct {
  double  gain;  /* best local gain; -INFINITY when the rank has no eligible candidate */
  int64_t index; /* its global index; INT64_MAX when none */
  int64_t flags; /* GREEDY_FLAG_*, OR-ed over ranks */
} greedy_best;

/* (ga, ia) comes before (gb, ib) in the engine's total order: larger gain first, ties to the lower index. */
static inline int greedy_before(double ga, int64_t ia, double gb, int64_t ib) { return ga > gb || (ga == gb && ia < ib); }

/**
  @brief MPI user function of the MAXLOC reduction: inout = best of (in, inout), flags OR-ed.

  Not collective (called by MPI). Commutative and associative because (gain desc, index asc) is a total
  order when no gain is NaN (NaN gains never enter the reduction), so any reduction tree gives the same winner.

  @param[in]     in     len greedy_best values
  @param[in,out] inout  len greedy_best values, replaced by the better of the pair
  @param[in]     len    number of values
  @param[in]     type   the committed greedy_best datatype (unused)
**/
static void greedy_maxloc(void *in, void *inout, int *len, MPI_Datatype *type)
{
  const greedy_best *a = (const greedy_best *)in;
  greedy_best       *b = (greedy_best *)inout;

  (void)type;
  for (int k = 0; k < *len; k++) {
    int64_t flags = a[k].flags | b[k].flags;
    if (greedy_before(a[k].gain, a[k].index, b[k].gain, b[k].index)) b[k] = a[k];
    b[k].flags = flags;
  }
}

/**
  @brief Create the MPI datatype of greedy_best (double, int64, int64) and the commutative MAXLOC operation.

  Not collective. MPI_DOUBLE_INT would hold only a 32-bit index (DESIGN.md section 3).

  @param[out] type  committed datatype, freed by greedy_release()
  @param[out] op    user operation, freed by greedy_release()
**/
static PetscErrorCode greedy_reduction_create(MPI_Datatype *type, MPI_Op *op)
{
  int          blocklengths[3] = {1, 1, 1};
  MPI_Aint     displacements[3] = {offsetof(greedy_best, gain), offsetof(greedy_best, index), offsetof(greedy_best, flags)};
  MPI_Datatype types[3] = {MPI_DOUBLE, MPI_INT64_T, MPI_INT64_T}, tmp;

  PetscFunctionBeginUser;
  PetscCallMPI(MPI_Type_create_struct(3, blocklengths, displacements, types, &tmp));
  PetscCallMPI(MPI_Type_create_resized(tmp, 0, (MPI_Aint)sizeof(greedy_best), type));
  PetscCallMPI(MPI_Type_free(&tmp));
  PetscCallMPI(MPI_Type_commit(type));
  PetscCallMPI(MPI_Op_create(greedy_maxloc, 1, op));
  PetscFunctionReturn(PETSC_SUCCESS);
}

/* ---- the lazy heap: (bound, local index, stamp), ordered by bound desc then index asc ---------- */

typedef struct {
  double  bound; /* upper bound on the gain; exact when stamp equals the current state version */
  int64_t local; /* local candidate index (same order as the global index on this rank) */
  int64_t stamp; /* state version at which bound was computed */
} greedy_entry;

static inline int greedy_entry_before(const greedy_entry *a, const greedy_entry *b)
{
  return greedy_before(a->bound, a->local, b->bound, b->local);
}

/* Restore the heap order below position i (the entry at i may have moved down). Not collective. */
static void greedy_sift_down(greedy_entry *heap, int64_t n, int64_t i)
{
  greedy_entry e = heap[i];

  for (;;) {
    int64_t c = 2 * i + 1;
    if (c >= n) break;
    if (c + 1 < n && greedy_entry_before(&heap[c + 1], &heap[c])) c++;
    if (!greedy_entry_before(&heap[c], &e)) break;
    heap[i] = heap[c];
    i       = c;
  }
  heap[i] = e;
}

/* ---- helpers --------------------------------------------------------------------------------- */

typedef struct {
  int64_t row, position;
} greedy_warm_entry;

/* qsort order of warm-start entries: by row, then by position. */
static int greedy_warm_compare(const void *pa, const void *pb)
{
  const greedy_warm_entry *a = (const greedy_warm_entry *)pa, *b = (const greedy_warm_entry *)pb;

  if (a->row != b->row) return a->row < b->row ? -1 : 1;
  return a->position < b->position ? -1 : (a->position > b->position ? 1 : 0);
}

/**
  @brief Check the warm-start rows: each in [0, N), no repeats, at most budget of them.

  Collective on comm (params are replicated, so every rank fails together and rank 0 prints).

  @param[in] comm    the layout's communicator (borrowed)
  @param[in] name    objective name, for messages
  @param[in] N       number of candidates
  @param[in] params  greedy parameters (borrowed)
**/
static PetscErrorCode greedy_check_warm(MPI_Comm comm, const char *name, int64_t N, const wn_greedy_params *params)
{
  greedy_warm_entry *sorted;
  int64_t            n_warm = params->n_warm;

  PetscFunctionBeginUser;
  PetscCheck(n_warm >= 0, comm, PETSC_ERR_ARG_OUTOFRANGE, "greedy[%s]: warm-start row count must be >= 0, got %lld", name, (long long)n_warm);
  PetscCheck(n_warm <= params->budget, comm, PETSC_ERR_ARG_OUTOFRANGE,
             "greedy[%s]: the warm start has %lld rows but the budget is %lld (the budget counts warm rows)", name, (long long)n_warm,
             (long long)params->budget);
  if (n_warm == 0) PetscFunctionReturn(PETSC_SUCCESS);
  PetscCheck(params->warm != NULL, comm, PETSC_ERR_ARG_NULL, "greedy[%s]: %lld warm-start rows announced but the array is NULL", name,
             (long long)n_warm);
  for (int64_t k = 0; k < n_warm; k++)
    PetscCheck(params->warm[k] >= 0 && params->warm[k] < N, comm, PETSC_ERR_ARG_OUTOFRANGE,
               "greedy[%s]: warm-start row %lld (entry %lld) is out of range: expected 0 <= row < %lld candidates", name,
               (long long)params->warm[k], (long long)k, (long long)N);
  PetscCall(PetscMalloc1((size_t)n_warm, &sorted));
  for (int64_t k = 0; k < n_warm; k++) {
    sorted[k].row      = params->warm[k];
    sorted[k].position = k;
  }
  qsort(sorted, (size_t)n_warm, sizeof(*sorted), greedy_warm_compare);
  for (int64_t k = 1; k < n_warm; k++) {
    if (sorted[k].row == sorted[k - 1].row) {
      int64_t row = sorted[k].row, first = sorted[k - 1].position, second = sorted[k].position;
      PetscCall(PetscFree(sorted));
      SETERRQ(comm, PETSC_ERR_ARG_WRONG, "greedy[%s]: warm-start row %lld is repeated (entries %lld and %lld)", name, (long long)row,
              (long long)first, (long long)second);
    }
  }
  PetscCall(PetscFree(sorted));
  PetscFunctionReturn(PETSC_SUCCESS);
}

/**
  @brief Gains of every unselected local candidate (gain_all when the objective has it, else gain()).

  Not collective.

  @param[in]     obj          objective (borrowed)
  @param[in]     selected     n_local flags, nonzero for rows already picked
  @param[out]    gains        n_local gains; entries of selected rows are left untouched
  @param[in,out] evaluations  incremented by the number of gains evaluated
**/
static PetscErrorCode greedy_naive_pass(wn_objective *obj, const unsigned char *selected, double *gains, int64_t *evaluations)
{
  int64_t n_local = obj->layout->n_local;

  PetscFunctionBeginUser;
  PetscCall(PetscLogEventBegin(greedy_event_gain, 0, 0, 0, 0));
  if (obj->gain_all) {
    PetscCall(obj->gain_all(obj->ctx, selected, gains));
  } else {
    for (int64_t i = 0; i < n_local; i++)
      if (!selected[i]) PetscCall(obj->gain(obj->ctx, i, &gains[i]));
  }
  for (int64_t i = 0; i < n_local; i++)
    if (!selected[i]) (*evaluations)++;
  PetscCall(PetscLogEventEnd(greedy_event_gain, 0, 0, 0, 0));
  PetscFunctionReturn(PETSC_SUCCESS);
}

/* Local best of a naive pass, scanned in index order so that a strict '>' keeps the lowest index on ties;
 * NaN gains raise GREEDY_FLAG_NAN and are skipped, -inf gains mark rows that are not candidates and are skipped;
 * no eligible row gives (-inf, INT64_MAX). Not collective. */
static void greedy_scan(int64_t n_local, int64_t row_start, const unsigned char *selected, const double *gains, greedy_best *best)
{
  best->gain  = -INFINITY;
  best->index = INT64_MAX;
  for (int64_t i = 0; i < n_local; i++) {
    if (selected[i]) continue;
    if (isnan(gains[i])) {
      best->flags |= GREEDY_FLAG_NAN;
      continue;
    }
    if (gains[i] == -INFINITY) continue; /* not a candidate (e.g. outside the DPP's eligible set) */
    if (best->index == INT64_MAX || gains[i] > best->gain) {
      best->gain  = gains[i];
      best->index = row_start + i;
    }
  }
}

/**
  @brief Local best under lazy evaluation: refresh the top of the heap until it is exact.

  Not collective. An entry whose stamp equals the current version holds the exact gain; all other
  entries hold upper bounds. The exact top beats every other bound in the total order, hence every
  other exact gain: it is the local best, the same one a naive pass would find.

  @param[in]     obj          objective (borrowed)
  @param[in,out] heap         the rank's heap of unselected candidates
  @param[in]     n_heap       entries in the heap
  @param[in]     version      current state version (number of updates applied in the loop)
  @param[in,out] evaluations  incremented per gain evaluated
  @param[in,out] best         local best (flags may gain GREEDY_FLAG_NAN)
**/
static PetscErrorCode greedy_lazy_best(wn_objective *obj, greedy_entry *heap, int64_t n_heap, int64_t version, int64_t *evaluations,
                                       greedy_best *best)
{
  PetscFunctionBeginUser;
  best->gain  = -INFINITY;
  best->index = INT64_MAX;
  if (n_heap == 0) PetscFunctionReturn(PETSC_SUCCESS);
  PetscCall(PetscLogEventBegin(greedy_event_gain, 0, 0, 0, 0));
  while (heap[0].stamp != version) {
    double g;

    PetscCall(obj->gain(obj->ctx, heap[0].local, &g));
    (*evaluations)++;
    if (isnan(g)) {
      best->flags |= GREEDY_FLAG_NAN; /* every rank raises the error after the reduction */
      break;
    }
    heap[0].bound = g;
    heap[0].stamp = version;
    greedy_sift_down(heap, n_heap, 0);
  }
  PetscCall(PetscLogEventEnd(greedy_event_gain, 0, 0, 0, 0));
  if (!(best->flags & GREEDY_FLAG_NAN) && heap[0].bound != -INFINITY) { /* -inf on top: no candidate left */
    best->gain  = heap[0].bound;
    best->index = obj->layout->row_start + heap[0].local;
  }
  PetscFunctionReturn(PETSC_SUCCESS);
}

/* Free the engine's work space and reduction objects (also on the NaN error path, so that a test that
 * triggers it leaks nothing). Not collective. */
static PetscErrorCode greedy_release(MPI_Datatype *type, MPI_Op *op, unsigned char **buffer, greedy_entry **heap, double **gains,
                                     unsigned char **selected)
{
  PetscFunctionBeginUser;
  PetscCallMPI(MPI_Op_free(op));
  PetscCallMPI(MPI_Type_free(type));
  PetscCall(PetscFree(*buffer));
  PetscCall(PetscFree(*heap));
  PetscCall(PetscFree(*gains));
  PetscCall(PetscFree(*selected));
  PetscFunctionReturn(PETSC_SUCCESS);
}

/**
  @brief Maximise an objective greedily over the candidates of its layout.

  Collective on obj->layout->comm. Warm-start rows are taken first, in the given order, each with its
  gain at that time (computed by its owner and broadcast with the payload); then each iteration takes the
  global best (gain desc, index asc) until the budget is reached ("budget"), the best gain falls below
  params->min_gain ("min_gain", not taken) or no candidate is left ("exhausted"; unreachable while
  budget <= N, kept as a guard). The result (indices, and gains bitwise) does not depend on the rank count,
  and lazy evaluation returns exactly what naive evaluation returns, ties included.
  Implements the standard greedy of Nemhauser, Wolsey and Fisher (1978) and the lazy variant of Minoux (1978);
  DESIGN.md section 4.

  @param[in]  obj     objective (borrowed; its state is advanced by the picks)
  @param[in]  params  kind, budget (1 <= budget <= N, warm rows included), min_gain, warm start, progress
                      interval in seconds (<= 0: silent); replicated on every rank (borrowed)
  @param[out] sel     new selection, owned by the caller; free with wn_selection_destroy()

  @return PETSC_SUCCESS, or an error raised on every rank: budget out of range, warm rows out of range,
          repeated or more than the budget, lazy evaluation on an objective without upper bounds,
          or a NaN gain (an objective bug, PETSC_ERR_PLIB).
**/
PetscErrorCode wn_greedy_maximize(wn_objective *obj, const wn_greedy_params *params, wn_selection **sel)
{
  const wn_layout *layout;
  MPI_Comm         comm;
  const char      *name;
  int64_t          N, n_local, row_start, budget, n = 0, version = 0, evaluations = 0, n_heap = 0;
  unsigned char   *selected = NULL, *buffer = NULL;
  double          *gains = NULL, objective = 0.0, t_start, t_last, t_ckpt, gain_last = 0.0;
  greedy_entry    *heap = NULL;
  PetscBool        heap_built = PETSC_FALSE, lazy;
  wn_selection    *s;
  MPI_Datatype     best_type;
  MPI_Op           best_op;
  const char      *reason = "budget";
  int64_t          test_at = -1;
  int              test_rank = 0, test_sig = 0;

  PetscFunctionBeginUser;
  PetscCheck(sel != NULL, PETSC_COMM_SELF, PETSC_ERR_ARG_NULL, "output argument sel is NULL");
  PetscCheck(obj != NULL && obj->layout != NULL && params != NULL, PETSC_COMM_SELF, PETSC_ERR_ARG_NULL,
             "wn_greedy_maximize needs an objective with a layout and parameters");
  *sel      = NULL;
  layout    = obj->layout;
  comm      = layout->comm;
  name      = obj->name ? obj->name : "objective";
  N         = layout->n_global;
  n_local   = layout->n_local;
  row_start = layout->row_start;
  budget    = params->budget;
  lazy      = params->kind == WN_GREEDY_LAZY ? PETSC_TRUE : PETSC_FALSE;

  PetscCheck(obj->gain && obj->pack && obj->update, comm, PETSC_ERR_ARG_WRONG, "greedy[%s]: objective lacks gain, pack or update", name);
  PetscCheck(params->kind == WN_GREEDY_NAIVE || params->kind == WN_GREEDY_LAZY, comm, PETSC_ERR_ARG_OUTOFRANGE,
             "greedy[%s]: unknown greedy kind %d (expected naive or lazy)", name, (int)params->kind);
  PetscCheck(budget >= 1 && budget <= N, comm, PETSC_ERR_ARG_OUTOFRANGE,
             "greedy[%s]: budget %lld is out of range: expected 1 <= budget <= %lld (the number of candidates)", name, (long long)budget,
             (long long)N);
  PetscCheck(!lazy || obj->lazy_ok, comm, PETSC_ERR_ARG_INCOMP,
             "greedy[%s]: lazy evaluation needs stale gains to be upper bounds, which this objective does not promise; use naive", name);
  PetscCheck(obj->payload_bytes <= (size_t)INT32_MAX - sizeof(double), comm, PETSC_ERR_ARG_OUTOFRANGE,
             "greedy[%s]: payload of %zu bytes is too large for one MPI_Bcast", name, obj->payload_bytes);
  PetscCheck(!isnan(params->min_gain), comm, PETSC_ERR_ARG_WRONG, "greedy[%s]: min_gain is NaN", name);
  PetscCall(greedy_check_warm(comm, name, N, params));
  PetscCall(greedy_register_events());

  PetscCall(PetscNew(&s));
  s->n_candidates = N;
  PetscCall(PetscMalloc1((size_t)budget, &s->index));
  PetscCall(PetscMalloc1((size_t)budget, &s->gain));
  PetscCall(PetscMalloc1((size_t)budget, &s->objective));
  PetscCall(PetscCalloc1((size_t)n_local + 1, &selected));
  PetscCall(PetscMalloc1((size_t)n_local + 1, &gains));
  if (lazy) PetscCall(PetscMalloc1((size_t)n_local + 1, &heap));
  /* gain (8 bytes) then payload: the warm start broadcasts both in one message */
  PetscCall(PetscMalloc1(sizeof(double) + obj->payload_bytes, &buffer));
  PetscCall(greedy_reduction_create(&best_type, &best_op));
  t_start = t_last = t_ckpt = MPI_Wtime();
  {
    /* test hook, documented in doc/batch.md: WN_TEST_SIGNAL_AT=PICK:RANK:SIGNAL makes RANK send itself SIGNAL after
     * PICK picks (a real signal through the real handler: SIGUSR1 to checkpoint, SIGKILL to die mid-loop) */
    const char *e = getenv("WN_TEST_SIGNAL_AT");
    long long   a = -1;
    int         r = 0, g = 0;
    if (e && sscanf(e, "%lld:%d:%d", &a, &r, &g) == 3 && a >= 0 && g > 0) {
      test_at   = a;
      test_rank = r;
      test_sig  = g;
    }
  }

  /* Forced picks, in order, each with its gain at the time it is taken: the warm start, or on a restart the picks
   * of the checkpoint (which begin with the warm start), replayed to rebuild every rank's state exactly. */
  PetscCheck(params->n_replay >= 0 && params->n_replay <= budget, comm, PETSC_ERR_ARG_OUTOFRANGE, "greedy[%s]: the checkpoint holds %lld picks, more than the budget %lld", name,
             (long long)params->n_replay, (long long)budget);
  for (int64_t k = 0; k < params->n_replay; k++) {
    PetscCheck(params->replay[k] >= 0 && params->replay[k] < N, comm, PETSC_ERR_ARG_OUTOFRANGE, "greedy[%s]: checkpoint pick %lld is row %lld, outside 0..%lld", name, (long long)k,
               (long long)params->replay[k], (long long)(N - 1));
    PetscCheck(k >= params->n_warm || params->replay[k] == params->warm[k], comm, PETSC_ERR_ARG_INCOMP,
               "greedy[%s]: the checkpoint's pick %lld (row %lld) is not the warm start's (row %lld): it was written with another -wn_warm_start", name, (long long)k,
               (long long)params->replay[k], (long long)params->warm[k]);
  }
  for (int64_t k = 0; k < (params->n_replay > params->n_warm ? params->n_replay : params->n_warm); k++) {
    int64_t g     = k < params->n_replay ? params->replay[k] : params->warm[k];
    int     owner = wn_layout_owner(N, layout->size, g);
    double  gain  = 0.0;

    PetscCall(PetscLogEventBegin(greedy_event_update, 0, 0, 0, 0));
    if (owner == layout->rank) {
      PetscCall(PetscLogEventBegin(greedy_event_gain, 0, 0, 0, 0));
      PetscCall(obj->gain(obj->ctx, g - row_start, &gain));
      PetscCall(PetscLogEventEnd(greedy_event_gain, 0, 0, 0, 0));
      evaluations++;
      memcpy(buffer, &gain, sizeof(double));
      PetscCall(obj->pack(obj->ctx, g - row_start, buffer + sizeof(double)));
      selected[g - row_start] = 1;
    }
    PetscCallMPI(MPI_Bcast(buffer, (int)(sizeof(double) + obj->payload_bytes), MPI_BYTE, owner, comm));
    memcpy(&gain, buffer, sizeof(double));
    if (isnan(gain)) {
      PetscCall(PetscLogEventEnd(greedy_event_update, 0, 0, 0, 0));
      PetscCall(greedy_release(&best_type, &best_op, &buffer, &heap, &gains, &selected));
      PetscCall(wn_selection_destroy(&s));
      SETERRQ(comm, PETSC_ERR_PLIB, "greedy[%s]: objective returned a NaN gain for warm-start row %lld", name, (long long)g);
    }
    if (k < params->n_replay && memcmp(&gain, &params->replay_gain[k], sizeof(double))) {
      double was = params->replay_gain[k];
      PetscCall(PetscLogEventEnd(greedy_event_update, 0, 0, 0, 0));
      PetscCall(greedy_release(&best_type, &best_op, &buffer, &heap, &gains, &selected));
      PetscCall(wn_selection_destroy(&s));
      SETERRQ(comm, PETSC_ERR_ARG_INCOMP, "greedy[%s]: restart: pick %lld (row %lld) has gain %.17g now but %.17g in the checkpoint: the inputs or the options differ from the interrupted run's",
              name, (long long)k, (long long)g, gain, was);
    }
    PetscCall(obj->update(obj->ctx, g, buffer + sizeof(double)));
    PetscCall(PetscLogEventEnd(greedy_event_update, 0, 0, 0, 0));
    objective += gain;
    s->index[n]     = g;
    s->gain[n]      = gain;
    s->objective[n] = objective;
    n++;
    gain_last = gain;
  }
  s->n_warm = params->n_warm;

  while (n < budget) {
    greedy_best best = {-INFINITY, INT64_MAX, 0};
    int         owner;

    if (!lazy) {
      PetscCall(greedy_naive_pass(obj, selected, gains, &evaluations));
      greedy_scan(n_local, row_start, selected, gains, &best);
    } else if (!heap_built) {
      /* First lazy iteration: exact gains of everything (a naive pass) become the first bounds. */
      PetscCall(greedy_naive_pass(obj, selected, gains, &evaluations));
      greedy_scan(n_local, row_start, selected, gains, &best);
      for (int64_t i = 0; i < n_local; i++) {
        if (selected[i]) continue;
        heap[n_heap].bound = isnan(gains[i]) ? -INFINITY : gains[i];
        heap[n_heap].local = i;
        heap[n_heap].stamp = version;
        n_heap++;
      }
      for (int64_t i = n_heap / 2 - 1; i >= 0; i--) greedy_sift_down(heap, n_heap, i);
      heap_built = PETSC_TRUE;
    } else {
      PetscCall(greedy_lazy_best(obj, heap, n_heap, version, &evaluations, &best));
    }
    /* Progress is decided on rank 0's clock and travels with the reduction, so all ranks agree. */
    if (params->progress_interval > 0 && layout->rank == 0 && MPI_Wtime() - t_last >= params->progress_interval) best.flags |= GREEDY_FLAG_PROGRESS;
    if (wn_interrupt_pending()) best.flags |= GREEDY_FLAG_STOP;
    if (params->checkpoint && params->checkpoint_interval > 0 && layout->rank == 0 && MPI_Wtime() - t_ckpt >= params->checkpoint_interval) best.flags |= GREEDY_FLAG_CKPT;

    PetscCall(PetscLogEventBegin(greedy_event_reduce, 0, 0, 0, 0));
    PetscCallMPI(MPI_Allreduce(MPI_IN_PLACE, &best, 1, best_type, best_op, comm));
    PetscCall(PetscLogEventEnd(greedy_event_reduce, 0, 0, 0, 0));
    if (best.flags & GREEDY_FLAG_NAN) {
      PetscCall(greedy_release(&best_type, &best_op, &buffer, &heap, &gains, &selected));
      PetscCall(wn_selection_destroy(&s));
      SETERRQ(comm, PETSC_ERR_PLIB, "greedy[%s]: objective returned a NaN gain (after %lld picks)", name, (long long)n);
    }
    if (best.flags & GREEDY_FLAG_STOP) { /* a signal (Slurm's warning before the time limit): checkpoint, stop */
      s->n = n;
      if (params->checkpoint) {
        PetscCall(params->checkpoint(params->checkpoint_ctx, s));
        wn_interrupt_set_checkpointed();
      }
      PetscCall(greedy_release(&best_type, &best_op, &buffer, &heap, &gains, &selected));
      PetscCall(wn_selection_destroy(&s));
      SETERRQ(comm, PETSC_ERR_USER, "greedy[%s]: stopped by a signal (SIGTERM or SIGUSR1) after %lld of %lld picks; %s", name, (long long)n, (long long)budget,
              params->checkpoint ? "the checkpoint holds them: run again with -wn_restart to resume" : "this method writes no checkpoint: run again from the start");
    }
    if (best.index == INT64_MAX) {
      reason = "exhausted";
      break;
    }
    if (best.gain < params->min_gain && !(params->first_pick_free && n == 0)) {
      reason = "min_gain";
      break;
    }

    PetscCall(PetscLogEventBegin(greedy_event_update, 0, 0, 0, 0));
    owner = wn_layout_owner(N, layout->size, best.index);
    if (owner == layout->rank) {
      int64_t li = best.index - row_start;
      PetscCall(obj->pack(obj->ctx, li, buffer));
      selected[li] = 1;
      if (lazy) {
        /* The winner is this rank's local best, which sits exactly on top of the heap. */
        PetscCheck(n_heap > 0 && heap[0].local == li, PETSC_COMM_SELF, PETSC_ERR_PLIB, "greedy[%s]: lazy heap top is not the picked row %lld", name,
                   (long long)best.index);
        heap[0] = heap[--n_heap];
        if (n_heap > 0) greedy_sift_down(heap, n_heap, 0);
      }
    }
    if (obj->payload_bytes > 0) PetscCallMPI(MPI_Bcast(buffer, (int)obj->payload_bytes, MPI_BYTE, owner, comm));
    PetscCall(obj->update(obj->ctx, best.index, buffer));
    PetscCall(PetscLogEventEnd(greedy_event_update, 0, 0, 0, 0));
    version++;

    objective += best.gain;
    s->index[n]     = best.index;
    s->gain[n]      = best.gain;
    s->objective[n] = objective;
    n++;
    gain_last = best.gain;
    if (test_at == n && layout->rank == test_rank) (void)raise(test_sig); /* WN_TEST_SIGNAL_AT: tests of the signal paths */
    if (params->checkpoint && ((best.flags & GREEDY_FLAG_CKPT) || (params->checkpoint_every > 0 && n % params->checkpoint_every == 0)) && n < budget) {
      s->n = n;
      PetscCall(params->checkpoint(params->checkpoint_ctx, s));
      t_ckpt = MPI_Wtime();
    }

    if (best.flags & GREEDY_FLAG_PROGRESS) {
      double now = MPI_Wtime(), elapsed = now - t_start, eta = elapsed / (double)n * (double)(budget - n);
      t_last     = now;
      PetscCall(PetscPrintf(comm, "  greedy[%s]: picked %lld/%lld, last gain %.2e, elapsed %.1f s, ETA %.1f s\n", name, (long long)n,
                            (long long)budget, gain_last, elapsed, eta));
    }
  }
  s->n = n;
  PetscCall(PetscStrncpy(s->stop_reason, reason, sizeof(s->stop_reason)));
  PetscCallMPI(MPI_Allreduce(&evaluations, &s->evaluations, 1, MPI_INT64_T, MPI_SUM, comm));

  PetscCall(greedy_release(&best_type, &best_op, &buffer, &heap, &gains, &selected));
  *sel = s;
  PetscFunctionReturn(PETSC_SUCCESS);
}

/**
  @brief Free a selection and set the pointer to NULL (NULL is accepted).

  Not collective.

  @param[in,out] sel  selection to free (owned)
**/
PetscErrorCode wn_selection_destroy(wn_selection **sel)
{
  PetscFunctionBeginUser;
  if (!sel || !*sel) PetscFunctionReturn(PETSC_SUCCESS);
  PetscCall(PetscFree((*sel)->index));
  PetscCall(PetscFree((*sel)->gain));
  PetscCall(PetscFree((*sel)->objective));
  PetscCall(PetscFree((*sel)->count));
  PetscCall(PetscFree(*sel));
  PetscFunctionReturn(PETSC_SUCCESS);
}

/**
  @brief Destroy an objective: call its destroy(ctx), free the struct and set the pointer to NULL.

  Not collective unless the objective's destroy is (none of winnow's are). NULL is accepted.

  @param[in,out] obj  objective to free (owned)
**/
PetscErrorCode wn_objective_destroy(wn_objective **obj)
{
  PetscFunctionBeginUser;
  if (!obj || !*obj) PetscFunctionReturn(PETSC_SUCCESS);
  if ((*obj)->destroy) PetscCall((*obj)->destroy((*obj)->ctx));
  PetscCall(PetscFree(*obj));
  PetscFunctionReturn(PETSC_SUCCESS);
}
