/* synth.h - SYNTHETIC P3 signals (METHODS.md 1.1-1.4) for demos and tests: not from a model.
 *
 * Shared by tools/synth_signals (adds them to an existing pool file) and tests/tools/mkdata (-signals E).
 * Writes /signals/epoch_<e>/{step_offset, step_prob, features[, difficulty]} (DESIGN.md section 6) from the
 * rows' embeddings, deterministically from a seed and independent of the rank count (every value comes
 * from the counter-based generator wn_uniform01(seed, counter), keyed by global row, step and token).
 *
 * The model of a row i, with x_i its embedding:
 *   base difficulty  b_i = logistic(1.2 sqrt(d) cos(x_i, w) + 1.2 (u_i - 1/2)) in (0, 1), w a fixed random
 *                    direction: a smooth locality-sensitive hash, so similar rows get similar difficulty;
 *   steps            T_i = 0 with probability 1/16 (a few rows without steps, D = +inf), else 1..6
 *                    uniformly; the same in every epoch (the solution does not change);
 *   step prob.       p_{i,t}^{(e)} = logistic(1 + 4 (s_e - b_i) - 0.15 t + 1.2 (u_{i,t} - 1/2)
 *                    + 0.3 (u_{i,t,e} - 1/2)) with the model's skill s_e = 1 - 0.8 * 0.75^e rising with
 *                    the epoch (the fine-tuned model improves), so p is in (0, 1);
 *   features         the prompt has L_i = 8..60 tokens with probabilities
 *                    logistic(2.2 - 2.5 b_i + 0.15 e + 2 (u_{i,k} - 1/2)); the features are the f smallest,
 *                    sorted ascending, zero-padded at the end when L_i < f (P3's signature, METHODS.md 1.4);
 *   difficulty       from the steps with wn_p3_difficulty_from_steps (1 - mean p, +inf without steps).
 *
 * Owns nothing in the library; uses h5io.h, layout.h, p3.h and util.h only. Header-only (static functions),
 * so each program that includes it gets its own copy.
 */
#pragma once

#include <math.h>
#include <stdint.h>
#include <string.h>
#include <winnow/h5io.h>
#include <winnow/layout.h>
#include <winnow/p3.h>
#include <winnow/util.h>

#define SYNTH_MAX_STEPS  6
#define SYNTH_MAX_PROMPT 60

/* Counter streams: the top byte says which quantity, the rest which row / step / token. */
#define SYNTH_DIRECTION  (0xA1ULL << 56)
#define SYNTH_ROW_NOISE  (0xA2ULL << 56)
#define SYNTH_STEPS      (0xA3ULL << 56)
#define SYNTH_STEP_NOISE (0xA4ULL << 56)
#define SYNTH_EPOCH_NOISE (0xA5ULL << 56)
#define SYNTH_PROMPT_LEN (0xA6ULL << 56)
#define SYNTH_TOKEN      (0xA7ULL << 56)

/* Ways to corrupt epoch 0 (mkdata -signals_bad) for the error catalogue. */
typedef enum {
  SYNTH_BAD_NONE,
  SYNTH_BAD_OFFSETS, /* entry N/2 of step_offset above entry N/2 + 1: the offsets decrease at row N/2 */
  SYNTH_BAD_LENGTH,  /* step_offset has N entries instead of N + 1 */
  SYNTH_BAD_NEGPROB, /* step (total steps)/2 has probability -0.25 */
  SYNTH_BAD_NANPROB  /* the same step is NaN */
} synth_bad;

static inline double synth_logistic(double z) { return 1.0 / (1.0 + exp(-z)); }

static inline uint64_t synth_epoch_seed(uint64_t seed, int epoch) { return wn_splitmix64(seed ^ (0x5EEDULL << 32) ^ (uint64_t)epoch); }

/* Base difficulty of global row `row` from its embedding x (d floats). */
static inline double synth_base(uint64_t seed, int64_t row, int64_t d, const float *x)
{
  double dot = 0.0, xx = 0.0, ww = 0.0, c;

  for (int64_t j = 0; j < d; j++) {
    double w = 2.0 * wn_uniform01(seed, SYNTH_DIRECTION + (uint64_t)j) - 1.0;

    dot += w * (double)x[j];
    xx += (double)x[j] * (double)x[j];
    ww += w * w;
  }
  c = xx > 0.0 && ww > 0.0 ? dot / sqrt(xx * ww) : 0.0;
  if (!isfinite(c)) c = 0.0; /* a NaN/Inf embedding row (error fixtures) still gets signals */
  return synth_logistic(1.2 * sqrt((double)d) * c + 1.2 * (wn_uniform01(seed, SYNTH_ROW_NOISE + (uint64_t)row) - 0.5));
}

/* Number of steps of global row `row` (the same in every epoch). */
static inline int64_t synth_steps(uint64_t seed, int64_t row)
{
  double u = wn_uniform01(seed, SYNTH_STEPS + (uint64_t)row);

  if (u < 1.0 / 16.0) return 0;
  return 1 + (int64_t)((u - 1.0 / 16.0) / (15.0 / 16.0) * SYNTH_MAX_STEPS) % SYNTH_MAX_STEPS;
}

/* Probability of step t of global row `row` at epoch e (base difficulty b). */
static inline double synth_step_prob(uint64_t seed, int epoch, int64_t row, int64_t t, double b)
{
  double skill = 1.0 - 0.8 * pow(0.75, (double)epoch);
  double u     = wn_uniform01(seed, SYNTH_STEP_NOISE + ((uint64_t)row << 8) + (uint64_t)t);
  double ue    = wn_uniform01(synth_epoch_seed(seed, epoch), SYNTH_EPOCH_NOISE + ((uint64_t)row << 8) + (uint64_t)t);

  return synth_logistic(1.0 + 4.0 * (skill - b) - 0.15 * (double)t + 1.2 * (u - 0.5) + 0.3 * (ue - 0.5));
}

/* P3's feature row: the f smallest of the row's prompt-token probabilities, ascending, zero-padded. */
static inline void synth_features(uint64_t seed, int epoch, int64_t row, double b, int64_t f, float *out)
{
  double  p[SYNTH_MAX_PROMPT];
  int64_t len = 8 + (int64_t)(wn_uniform01(seed, SYNTH_PROMPT_LEN + (uint64_t)row) * (SYNTH_MAX_PROMPT - 7));

  if (len > SYNTH_MAX_PROMPT) len = SYNTH_MAX_PROMPT;
  for (int64_t k = 0; k < len; k++) {
    double u = wn_uniform01(synth_epoch_seed(seed, epoch), SYNTH_TOKEN + ((uint64_t)row << 8) + (uint64_t)k);
    double v = synth_logistic(2.2 - 2.5 * b + 0.15 * (double)epoch + 2.0 * (u - 0.5));
    int64_t m = k;

    while (m > 0 && p[m - 1] > v) { /* insertion sort, ascending */
      p[m] = p[m - 1];
      m--;
    }
    p[m] = v;
  }
  for (int64_t j = 0; j < f; j++) out[j] = j < len ? (float)p[j] : 0.0f;
}

/**
  @brief Write one epoch of synthetic signals, /signals/epoch_<e>/{step_offset, step_prob, features} and,
  with with_difficulty, difficulty.

  Collective on L->comm. Each rank generates its rows; step_offset is written by row block (the last rank
  also writes entry N), step_prob by each rank's slice of steps. bad corrupts this epoch (see synth_bad).

  @param[in] file             open, writable file
  @param[in] L                the candidates' row split (borrowed)
  @param[in] emb              this rank's embedding rows, L->n_local x d (borrowed)
  @param[in] d                embedding width
  @param[in] seed             generator seed
  @param[in] epoch            e >= 0
  @param[in] f                feature width (P3: 30)
  @param[in] with_difficulty  also write /signals/epoch_<e>/difficulty (from the uncorrupted steps)
  @param[in] bad              corruption, SYNTH_BAD_NONE for clean signals
  @param[out] stats           optional (may be NULL): [0] total steps, [1] rows without steps (global)
**/
static inline PetscErrorCode synth_write_epoch(hid_t file, const wn_layout *L, const float *emb, int64_t d, uint64_t seed, int epoch, int64_t f, PetscBool with_difficulty, synth_bad bad, int64_t *stats)
{
  MPI_Comm    comm = L->comm;
  char        name[96];
  int64_t    *offsets, n_mine = 0, start = 0, total = 0, counts[2] = {0, 0}, counts_all[2], n_offsets;
  double     *base, *prob, *difficulty;
  float      *features;
  PetscMPIInt rank, size;
  PetscBool   last;

  PetscFunctionBeginUser;
  PetscCallMPI(MPI_Comm_rank(comm, &rank));
  PetscCallMPI(MPI_Comm_size(comm, &size));
  last = rank == size - 1 ? PETSC_TRUE : PETSC_FALSE;
  PetscCall(PetscMalloc4(L->n_local + 1, &offsets, L->n_local + 1, &base, L->n_local + 1, &difficulty, L->n_local * f + 1, &features));
  for (int64_t i = 0; i < L->n_local; i++) {
    int64_t g = L->row_start + i, T = synth_steps(seed, g);

    base[i] = synth_base(seed, g, d, emb + i * d);
    n_mine += T;
    counts[1] += T == 0;
    synth_features(seed, epoch, g, base[i], f, features + i * f);
  }
  PetscCallMPI(MPI_Exscan(&n_mine, &start, 1, MPI_INT64_T, MPI_SUM, comm));
  if (rank == 0) start = 0;
  PetscCallMPI(MPI_Allreduce(&n_mine, &total, 1, MPI_INT64_T, MPI_SUM, comm));
  PetscCall(PetscMalloc1(n_mine + 1, &prob));
  offsets[0] = start;
  for (int64_t i = 0; i < L->n_local; i++) {
    int64_t g = L->row_start + i, T = synth_steps(seed, g);

    for (int64_t t = 0; t < T; t++) prob[offsets[i] - start + t] = synth_step_prob(seed, epoch, g, t, base[i]);
    offsets[i + 1] = offsets[i] + T;
  }
  if (with_difficulty) PetscCall(wn_p3_difficulty_from_steps(comm, "synthetic steps", L->row_start, L->n_local, offsets, prob, difficulty));

  /* corruption of this epoch (the difficulty above stays clean) */
  n_offsets = L->n_local + (last ? 1 : 0);
  if (bad == SYNTH_BAD_OFFSETS) {
    int64_t r = L->n_global / 2;

    if (r >= L->row_start && r < L->row_start + L->n_local) offsets[r - L->row_start] = offsets[r - L->row_start + 1] + 1;
  } else if (bad == SYNTH_BAD_LENGTH) {
    if (last) n_offsets = L->n_local;
  } else if (bad == SYNTH_BAD_NEGPROB || bad == SYNTH_BAD_NANPROB) {
    int64_t k = total / 2;

    PetscCheck(total > 0, comm, PETSC_ERR_ARG_WRONG, "synthetic signals: no steps at all, cannot corrupt a probability");
    if (k >= start && k < start + n_mine) prob[k - start] = bad == SYNTH_BAD_NEGPROB ? -0.25 : NAN;
  }

  PetscCall(PetscSNPrintf(name, sizeof(name), "/signals/epoch_%d/step_offset", epoch));
  PetscCall(wn_h5_write_rows_int64(comm, file, name, L->n_global + (bad == SYNTH_BAD_LENGTH ? 0 : 1), L->row_start, n_offsets, offsets));
  PetscCall(PetscSNPrintf(name, sizeof(name), "/signals/epoch_%d/step_prob", epoch));
  PetscCall(wn_h5_write_rows_double(comm, file, name, total, start, n_mine, prob));
  PetscCall(PetscSNPrintf(name, sizeof(name), "/signals/epoch_%d/features", epoch));
  PetscCall(wn_h5_write_rows_float(comm, file, name, L->n_global, f, L->row_start, L->n_local, features, 0));
  if (with_difficulty) {
    PetscCall(PetscSNPrintf(name, sizeof(name), "/signals/epoch_%d/difficulty", epoch));
    PetscCall(wn_h5_write_rows_double(comm, file, name, L->n_global, L->row_start, L->n_local, difficulty));
  }
  counts[0] = n_mine;
  PetscCallMPI(MPI_Allreduce(counts, counts_all, 2, MPI_INT64_T, MPI_SUM, comm));
  if (stats) {
    stats[0] = counts_all[0];
    stats[1] = counts_all[1];
  }
  PetscCall(PetscFree(prob));
  PetscCall(PetscFree4(offsets, base, difficulty, features));
  PetscFunctionReturn(PETSC_SUCCESS);
}
