/* signals.h - `winnow signals`: per-example model signals for LoBaSS and P3 from the built-in reference
 * language model (ngram.h), written in the HDF5 schema of DESIGN.md section 6 (doc/formats.md, /signals).
 *
 * Models: the base model is trained on a general corpus (-wn_signals_base: Debian's fortunes directory or
 * one fortune file, a plain text file, or JSONL); the fine-tuned model on the base corpus plus
 * -wn_signals_train (JSONL records, each one unit: its prompt tokens then its response tokens).
 * Candidates: the JSONL records of -wn_text; candidate i is line i, or line /candidates/source_row[i] when the
 * embeddings file (-wn_embeddings) has that column (written by `winnow featurize`, which may hold records
 * out as targets), so the signals line up with /candidates. For each candidate:
 *   prompt   = the member prompt_field, or the text of text_field up to and including the first occurrence of
 *              the separator (WordNet: "define <lemma>:"); no separator: the prompt is empty;
 *   response = the member response_field, or the rest of the text (WordNet: the gloss);
 *   steps    = the pieces of the response between step separator bytes that hold at least one token;
 *   sequence = <s>^(n-1) prompt tokens, step tokens, </s> (the n-gram context runs across every boundary).
 * Signals (teacher forcing):
 *   /signals/loss_base, /signals/loss_tuned: mean of -ln P over the response tokens and </s> (nats), under the
 *     base and the fine-tuned model (-wn_signals_losses);
 *   /signals/epoch_<e>/step_offset (N + 1 int64), step_prob (geometric mean of each step's token
 *     probabilities, fine-tuned model), features (N x f float32: the f smallest prompt-token probabilities,
 *     ascending, zero-padded; f = 30 as in P3) for e = -wn_p3_epoch (-wn_signals_p3).
 * Attributes on /signals, the epoch group and the loss datasets say how they were made; synthetic = "no".
 *
 * Owns: reading the corpora (each rank its byte range of every file: wn_featurize_scan_lines), the prompt /
 * response / step split, scoring, moving records to the rows' owners, writing the datasets, its report lines.
 * Leaves to others: the model (ngram.c), tokens and line scanning (featurize.c), HDF5 transfers (h5io.c),
 * options (config.c), the RESULT line and provenance (report.c, output.c).
 */
#pragma once

#include <stdint.h>
#include <winnow/error.h>
#include <winnow/report.h>

typedef enum { WN_SIGNALS_BASE_AUTO, WN_SIGNALS_BASE_FORTUNE, WN_SIGNALS_BASE_TEXT, WN_SIGNALS_BASE_JSONL } wn_signals_base_format;
PETSC_EXTERN const char *const wn_signals_base_format_names[]; /* "auto", "fortune", "text", "jsonl", PETSc enum tail */

typedef struct {
  char      base[PETSC_MAX_PATH_LEN];       /* -wn_signals_base: corpus of the base model (file or fortunes directory) */
  int       base_format;                    /* -wn_signals_base_format: wn_signals_base_format */
  char      base_fields[256];               /* -wn_signals_base_fields: JSONL base, members joined with a space */
  char      train[PETSC_MAX_PATH_LEN];      /* -wn_signals_train: JSONL added for the fine-tuned model ("" = none) */
  char      candidates[PETSC_MAX_PATH_LEN]; /* -wn_text: the candidates' JSONL */
  char      embeddings[PETSC_MAX_PATH_LEN]; /* -wn_embeddings: N and the source rows (may not exist) */
  char      source_row_dataset[256];        /* -wn_source_row_dataset */
  char      output[PETSC_MAX_PATH_LEN];     /* -wn_signals_output (default: the embeddings file) */
  char      text_field[64];                 /* -wn_signals_text_field: split at the separator */
  char      prompt_field[64];               /* -wn_signals_prompt_field ("" = split text_field) */
  char      response_field[64];             /* -wn_signals_response_field (with prompt_field) */
  char      separator[64];                  /* -wn_signals_separator, backslash escapes allowed (\n \t \\) */
  char      step_separators[64];            /* -wn_signals_step_separators: any of these bytes ends a step */
  int64_t   order;                          /* -wn_signals_order */
  double    discount;                       /* -wn_signals_discount */
  PetscBool losses;                         /* -wn_signals_losses */
  PetscBool p3;                             /* -wn_signals_p3 */
  int64_t   epoch;                          /* -wn_p3_epoch */
  int64_t   n_features;                     /* -wn_signals_features */
  PetscBool force;                          /* -wn_signals_force */
  PetscBool skip_bad;                       /* -wn_skip_bad: skip malformed lines of the training JSONL */
  double    progress;                       /* -wn_progress, seconds */
} wn_signals_params;

/* One candidate's record split into a prompt and a response (spans into the caller's decoded text). */
typedef struct {
  const char *prompt, *response;
  size_t      prompt_len, response_len;
  PetscBool   found_separator;
} wn_signals_split;

/* Decode backslash escapes (\n, \t, \r, \\) of an option value into out[len]. Pure. */
PETSC_EXTERN PetscErrorCode wn_signals_unescape(const char *in, char *out, size_t len);
/* Split a text at the first occurrence of sep (sep_len > 0): the prompt keeps the separator. Pure. */
PETSC_EXTERN void wn_signals_split_text(const char *text, size_t len, const char *sep, size_t sep_len, wn_signals_split *split);

/* `winnow signals`: train the models, score the candidates, write /signals, print the report lines and fill
 * report (RESULT keys, checks). Collective on comm. Errors (one message from rank 0): a missing or empty corpus,
 * a malformed line (file and line number), a candidate row without its record, existing datasets without
 * -wn_signals_force, an output that is an input. */
PETSC_EXTERN PetscErrorCode wn_signals_run(MPI_Comm comm, const wn_signals_params *params, wn_report *report);
