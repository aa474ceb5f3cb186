/* signals.c - `winnow signals`: LoBaSS's losses and P3's step probabilities and prompt-token features from
 * the built-in reference language model (contract in include/winnow/signals.h; doc/methods.md, "The reference
 * language model"; METHODS.md sections 1.1 and 2).
 *
 * Owns: listing and reading the training corpora (every file split into byte ranges, one per rank, with the
 * featurizer's line scanner; a fortune quote is read whole by the rank where its '%' line starts), the
 * prompt / response / step split of a record, moving each candidate's record to the rank that owns its row
 * (requests and replies with MPI_Alltoallv), scoring under the base and the fine-tuned model, the checks and
 * report lines, and writing /signals (in place into an existing file, or a new file written to a temporary
 * name and renamed).
 * Leaves to others: the model (ngram.c), tokens and line scanning (featurize.c), JSON (jsonl.c), HDF5 (h5io.c),
 * options (config.c), the RESULT line and provenance (report.c, output.c, main.c).
 *
 * Every value written depends only on the corpora, the candidates and the options: the model is built from
 * exact integer counts (ngram.h) and each row is scored on its own, so the datasets are bitwise identical for
 * any number of ranks.
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include <winnow/featurize.h>
#include <winnow/h5io.h>
#include <winnow/jsonl.h>
#include <winnow/layout.h>
#include <winnow/ngram.h>
#include <winnow/output.h>
#include <winnow/signals.h>
#include <winnow/util.h>

const char *const wn_signals_base_format_names[] = {"auto", "fortune", "text", "jsonl", "wn_signals_base_format", "WN_SIGNALS_BASE_", NULL};

#define SIGNALS_MAX_FIELDS 8
#define SIGNALS_FIXED      16777216.0 /* 2^24: per-row log-likelihoods as fixed point for exact sums over ranks */
#define SIGNALS_SNIFF      ((size_t)1 << 20)

enum { SIGNALS_READ, SIGNALS_TRAIN_BASE, SIGNALS_SCORE_BASE, SIGNALS_TRAIN_TUNED, SIGNALS_SCORE_TUNED, SIGNALS_WRITE, SIGNALS_N_PHASES };
static const char *const signals_phase_names[] = {"read", "train_base", "score_base", "train_tuned", "score_tuned", "write"};

/* How one training file is read: fortune quotes, text lines, JSONL members joined, or JSONL prompt + response. */
enum { SIGNALS_UNIT_FORTUNE, SIGNALS_UNIT_LINE, SIGNALS_UNIT_JSONL_FIELDS, SIGNALS_UNIT_JSONL_RECORD };

/* What a run shares (owned arrays freed at the end). */
typedef struct {
  const wn_signals_params *p;
  MPI_Comm                 comm;
  PetscMPIInt              rank, size;
  char                     sep[64];               /* decoded prompt separator */
  size_t                   sep_len;
  unsigned char            is_step_sep[256];      /* decoded step separator bytes */
  char                     fields[SIGNALS_MAX_FIELDS][64];
  int                      n_fields;              /* -wn_signals_base_fields */
  wn_jsonl_record         *rec;                   /* owned */
  char                    *text;                  /* decoded strings (owned) */
  size_t                   cap_text;
  uint64_t                *tok;                   /* scratch tokens (owned) */
  int64_t                  cap_tok;
  int64_t                 *step_end;              /* scratch step ends (owned) */
  int64_t                  cap_step;
  double                   phase_begin, phase_time[SIGNALS_N_PHASES];
} signals_ctx;

/* The candidates this rank owns, as token sequences (arrays owned). */
typedef struct {
  wn_layout L;
  PetscBool from_source_row;      /* rows map to lines through /candidates/source_row */
  int64_t   n_lines;              /* lines of the candidates' JSONL */
  int64_t  *line;                 /* n_local: the 0-based line of each row */
  int64_t  *tok_start;            /* n_local + 1 offsets into tok */
  uint64_t *tok;
  int64_t  *n_prompt;             /* n_local: prompt tokens (the first ones of the row) */
  int64_t  *step_start;           /* n_local + 1 offsets into step_end */
  int64_t  *step_end;             /* each step's end, in tokens from the response's start */
  int64_t   n_steps_local, n_no_separator, max_tokens;
} signals_candidates;

/* Sizes of one trained corpus (global). */
typedef struct {
  int64_t files, bytes, units, tokens, skipped;
  char    format[16];
} signals_corpus;

/* ---- small helpers ---------------------------------------------------------------------------------------- */

static PetscErrorCode signals_grow(void **ptr, size_t *cap, size_t need, size_t elem)
{
  size_t c = *cap ? *cap : 64;

  PetscFunctionBeginUser;
  if (need <= *cap) PetscFunctionReturn(PETSC_SUCCESS);
  while (c < need) c *= 2;
  PetscCall(PetscRealloc(c * elem, ptr));
  *cap = c;
  PetscFunctionReturn(PETSC_SUCCESS);
}

static void signals_phase_begin(signals_ctx *c) { c->phase_begin = MPI_Wtime(); }
static void signals_phase_end(signals_ctx *c, int phase) { c->phase_time[phase] += MPI_Wtime() - c->phase_begin; }

/**
  @brief Decode the backslash escapes \n, \t, \r and \\ of an option value (other characters are copied).

  Pure (errors only for a result longer than len - 1 bytes).

  @param[in]  in   the option value
  @param[out] out  the decoded bytes, NUL-terminated
  @param[in]  len  capacity of out
**/
PetscErrorCode wn_signals_unescape(const char *in, char *out, size_t len)
{
  size_t k = 0;

  PetscFunctionBeginUser;
  for (size_t i = 0; in[i]; i++) {
    char ch = in[i];
    if (ch == '\\' && in[i + 1]) {
      char e = in[++i];
      ch     = e == 'n' ? '\n' : e == 't' ? '\t' : e == 'r' ? '\r' : e;
    }
    PetscCheck(k + 1 < len, PETSC_COMM_SELF, PETSC_ERR_ARG_SIZ, "separator '%s' is longer than %zu bytes", in, len - 1);
    out[k++] = ch;
  }
  out[k] = 0;
  PetscFunctionReturn(PETSC_SUCCESS);
}

/**
  @brief Split a text at the first occurrence of a separator: the prompt is the text up to and including it,
  the response the rest. Without the separator, the prompt is empty and the response is the whole text.

  Pure. WordNet: "define dog: a domesticated canid" with ":" -> "define dog:" and " a domesticated canid".

  @param[in]  text     bytes (borrowed; may hold NUL bytes)
  @param[in]  len      bytes
  @param[in]  sep      the separator (borrowed), sep_len > 0 bytes
  @param[in]  sep_len  its length
  @param[out] split    spans into text
**/
void wn_signals_split_text(const char *text, size_t len, const char *sep, size_t sep_len, wn_signals_split *split)
{
  split->prompt          = text;
  split->prompt_len      = 0;
  split->response        = text;
  split->response_len    = len;
  split->found_separator = PETSC_FALSE;
  if (sep_len == 0 || len < sep_len) return;
  for (size_t i = 0; i + sep_len <= len; i++)
    if (!memcmp(text + i, sep, sep_len)) {
      split->prompt_len      = i + sep_len;
      split->response        = text + i + sep_len;
      split->response_len    = len - i - sep_len;
      split->found_separator = PETSC_TRUE;
      return;
    }
}

/* Decode the string member key of c->rec into c->text at offset at; *len = its bytes. *ok = 0 with a reason
 * when it is missing or not a string. */
static PetscErrorCode signals_member(signals_ctx *c, const char *key, size_t at, size_t *len, int *ok, char *reason, size_t rlen)
{
  wn_json_type type;
  wn_json_span raw;

  PetscFunctionBeginUser;
  PetscCall(wn_jsonl_get_raw(c->rec, key, &type, &raw));
  if (type != WN_JSON_STRING) {
    *ok = 0;
    if (type == WN_JSON_MISSING) snprintf(reason, rlen, "missing member '%s'", key);
    else snprintf(reason, rlen, "member '%s' is %s %s; expected a string", key, type == WN_JSON_ARRAY || type == WN_JSON_OBJECT ? "an" : "a", wn_json_type_name(type));
    PetscFunctionReturn(PETSC_SUCCESS);
  }
  PetscCall(signals_grow((void **)&c->text, &c->cap_text, at + raw.len + 1, 1));
  PetscCall(wn_jsonl_get_string(c->rec, key, &type, c->text + at, c->cap_text - at, len));
  PetscFunctionReturn(PETSC_SUCCESS);
}

/* Parse one JSONL line; *ok = 0 with a reason when it is blank or not one JSON object. */
static PetscErrorCode signals_parse(signals_ctx *c, const char *line, size_t len, int *ok, char *reason, size_t rlen)
{
  wn_jsonl_status status;
  PetscBool       blank = PETSC_TRUE;

  PetscFunctionBeginUser;
  *ok = 1;
  for (size_t i = 0; i < len && blank; i++)
    if (line[i] != ' ' && line[i] != '\t' && line[i] != '\r' && line[i] != '\n') blank = PETSC_FALSE;
  if (blank) {
    *ok = 0;
    snprintf(reason, rlen, "empty line; expected a JSON object");
    PetscFunctionReturn(PETSC_SUCCESS);
  }
  PetscCall(wn_jsonl_parse(c->rec, line, len, &status));
  if (!status.valid) {
    *ok = 0;
    snprintf(reason, rlen, "invalid JSON at byte %zu of the line: %s", status.offset + 1, status.reason);
  }
  PetscFunctionReturn(PETSC_SUCCESS);
}

/* The tokens of the parsed record c->rec: prompt tokens, then the response's, appended to (*tok, *n); the steps'
 * ends (tokens from the response's start) appended to (*ends, *n_ends). signals.h gives the rule. */
static PetscErrorCode signals_record_tokens(signals_ctx *c, uint64_t **tok, int64_t *n, int64_t *cap, int64_t *n_prompt, int64_t **ends, int64_t *n_ends, int64_t *cap_ends, PetscBool *found_sep, int *ok, char *reason, size_t rlen)
{
  const wn_signals_params *p = c->p;
  wn_signals_split         s;
  size_t                   len0 = 0, len1 = 0;
  int64_t                  n0   = *n, r0;

  PetscFunctionBeginUser;
  *ok = 1;
  if (p->prompt_field[0]) {
    PetscCall(signals_member(c, p->prompt_field, 0, &len0, ok, reason, rlen));
    if (*ok) PetscCall(signals_member(c, p->response_field, len0 + 1, &len1, ok, reason, rlen));
    if (!*ok) PetscFunctionReturn(PETSC_SUCCESS);
    s.prompt          = c->text;
    s.prompt_len      = len0;
    s.response        = c->text + len0 + 1;
    s.response_len    = len1;
    s.found_separator = PETSC_TRUE;
  } else {
    PetscCall(signals_member(c, p->text_field, 0, &len0, ok, reason, rlen));
    if (!*ok) PetscFunctionReturn(PETSC_SUCCESS);
    wn_signals_split_text(c->text, len0, c->sep, c->sep_len, &s);
  }
  *found_sep = s.found_separator;
  PetscCall(wn_ngram_tokenize(s.prompt, s.prompt_len, tok, n, cap));
  *n_prompt = *n - n0;
  r0        = *n;
  for (size_t i = 0; i < s.response_len;) { /* pieces between step separator bytes; those with a token are steps */
    size_t  j = i;
    int64_t before = *n;
    while (j < s.response_len && !c->is_step_sep[(unsigned char)s.response[j]]) j++;
    PetscCall(wn_ngram_tokenize(s.response + i, j - i, tok, n, cap));
    if (*n > before && ends) {
      if (*n_ends == *cap_ends) {
        size_t capz = (size_t)*cap_ends;
        PetscCall(signals_grow((void **)ends, &capz, (size_t)*n_ends + 1, sizeof(int64_t)));
        *cap_ends = (int64_t)capz;
      }
      (*ends)[(*n_ends)++] = *n - r0;
    }
    i = j + 1;
  }
  PetscFunctionReturn(PETSC_SUCCESS);
}

/* ---- files ------------------------------------------------------------------------------------------------- */

/* Open path on every rank; rank 0 checks it first (exists, regular file). An empty file has size 0. */
static PetscErrorCode signals_open(MPI_Comm comm, const char *path, const char *what, int *fd, int64_t *size)
{
  PetscMPIInt rank;
  int64_t     sz  = 0;
  int         err = 0;
  struct stat sb;

  PetscFunctionBeginUser;
  *fd = -1;
  PetscCallMPI(MPI_Comm_rank(comm, &rank));
  if (rank == 0) {
    if (stat(path, &sb)) err = errno;
    else if (S_ISDIR(sb.st_mode)) err = EISDIR;
    else sz = (int64_t)sb.st_size;
  }
  WN_CHECK_ALL(comm, err == 0, PETSC_ERR_FILE_OPEN, "cannot open %s '%s': %s", what, path, strerror(err));
  PetscCallMPI(MPI_Bcast(&sz, 1, MPI_INT64_T, 0, comm));
  *fd = open(path, O_RDONLY);
  err = *fd < 0 ? errno : 0;
  WN_CHECK_ALL(comm, err == 0, PETSC_ERR_FILE_OPEN, "cannot open %s '%s': %s", what, path, strerror(err));
  *size = sz;
  PetscFunctionReturn(PETSC_SUCCESS);
}

static int signals_cmp_str(const void *a, const void *b) { return strcmp(*(char *const *)a, *(char *const *)b); }

/* The files of the base corpus: the path itself, or the regular files of a directory (not symbolic links, not
 * hidden, not *.dat: a fortunes directory's index files and .u8 links), sorted by name. *list = NUL-separated
 * paths (owned), *n of them; *is_dir. Rank 0 looks, every rank gets the list. Collective. */
static PetscErrorCode signals_list_base(MPI_Comm comm, const char *path, char **list, int64_t *n, PetscBool *is_dir)
{
  PetscMPIInt rank;
  char        msg[PETSC_MAX_PATH_LEN + 256] = "";
  int64_t     head[3] = {0, 0, 0}; /* bytes, files, is_dir */
  char       *buf = NULL;

  PetscFunctionBeginUser;
  PetscCallMPI(MPI_Comm_rank(comm, &rank));
  if (rank == 0) {
    struct stat sb;
    if (stat(path, &sb)) snprintf(msg, sizeof(msg), "cannot open the base corpus '%s' (-wn_signals_base): %s", path, strerror(errno));
    else if (!S_ISDIR(sb.st_mode)) {
      head[0] = (int64_t)strlen(path) + 1;
      head[1] = 1;
      PetscCall(PetscMalloc1(head[0], &buf));
      memcpy(buf, path, (size_t)head[0]);
    } else {
      DIR           *d = opendir(path);
      struct dirent *e;
      char         **names = NULL, full[2 * PETSC_MAX_PATH_LEN];
      size_t         cap = 0, cnt = 0, bytes = 0;

      head[2] = 1;
      if (!d) snprintf(msg, sizeof(msg), "cannot read the base corpus directory '%s' (-wn_signals_base): %s", path, strerror(errno));
      while (d && (e = readdir(d))) {
        size_t      l = strlen(e->d_name);
        struct stat lb;
        if (e->d_name[0] == '.' || (l > 4 && !strcmp(e->d_name + l - 4, ".dat"))) continue;
        snprintf(full, sizeof(full), "%s/%s", path, e->d_name);
        if (lstat(full, &lb) || !S_ISREG(lb.st_mode)) continue;
        if (cnt == cap) PetscCall(signals_grow((void **)&names, &cap, cnt + 1, sizeof(char *)));
        PetscCall(PetscStrallocpy(full, &names[cnt]));
        bytes += strlen(full) + 1;
        cnt++;
      }
      if (d) closedir(d);
      if (d && cnt == 0) snprintf(msg, sizeof(msg), "the base corpus directory '%s' (-wn_signals_base) has no text file (hidden files, *.dat and links are skipped)", path);
      qsort(names, cnt, sizeof(char *), signals_cmp_str);
      PetscCall(PetscMalloc1(bytes + 1, &buf));
      for (size_t i = 0, at = 0; i < cnt; i++) {
        memcpy(buf + at, names[i], strlen(names[i]) + 1);
        at += strlen(names[i]) + 1;
        PetscCall(PetscFree(names[i]));
      }
      PetscCall(PetscFree(names));
      head[0] = (int64_t)bytes;
      head[1] = (int64_t)cnt;
    }
  }
  WN_CHECK_ALL(comm, msg[0] == 0, PETSC_ERR_FILE_OPEN, "%s", msg);
  PetscCallMPI(MPI_Bcast(head, 3, MPI_INT64_T, 0, comm));
  PetscCheck(head[0] < INT_MAX, comm, PETSC_ERR_SUP, "the base corpus directory '%s' lists too many files", path);
  if (rank != 0) PetscCall(PetscMalloc1(head[0] + 1, &buf));
  PetscCallMPI(MPI_Bcast(buf, (PetscMPIInt)head[0], MPI_CHAR, 0, comm));
  *list   = buf;
  *n      = head[1];
  *is_dir = head[2] ? PETSC_TRUE : PETSC_FALSE;
  PetscFunctionReturn(PETSC_SUCCESS);
}

/* Format of one base file under -wn_signals_base_format auto: a directory's files are fortunes; *.jsonl and
 * *.json are JSONL; a file with a line that is only '%' (in its first MiB) is a fortune file; else text lines.
 * Rank 0 looks. Collective. */
static PetscErrorCode signals_base_unit(signals_ctx *c, const char *path, PetscBool in_dir, int *unit)
{
  const int fmt = c->p->base_format;
  size_t    l   = strlen(path);
  int       u   = SIGNALS_UNIT_LINE;

  PetscFunctionBeginUser;
  if (fmt == WN_SIGNALS_BASE_FORTUNE) u = SIGNALS_UNIT_FORTUNE;
  else if (fmt == WN_SIGNALS_BASE_TEXT) u = SIGNALS_UNIT_LINE;
  else if (fmt == WN_SIGNALS_BASE_JSONL) u = SIGNALS_UNIT_JSONL_FIELDS;
  else if (in_dir) u = SIGNALS_UNIT_FORTUNE;
  else if ((l > 6 && !strcmp(path + l - 6, ".jsonl")) || (l > 5 && !strcmp(path + l - 5, ".json"))) u = SIGNALS_UNIT_JSONL_FIELDS;
  else {
    int fortune = 0;
    if (c->rank == 0) {
      FILE *fp = fopen(path, "rb");
      if (fp) {
        char  *buf;
        size_t got;
        PetscCall(PetscMalloc1(SIGNALS_SNIFF + 1, &buf));
        got      = fread(buf, 1, SIGNALS_SNIFF, fp);
        buf[got] = 0;
        for (size_t i = 0; i < got && !fortune; i++)
          if (buf[i] == '%' && (i == 0 || buf[i - 1] == '\n') && (i + 1 == got || buf[i + 1] == '\n' || buf[i + 1] == '\r')) fortune = 1;
        PetscCall(PetscFree(buf));
        fclose(fp);
      }
    }
    PetscCallMPI(MPI_Bcast(&fortune, 1, MPI_INT, 0, c->comm));
    u = fortune ? SIGNALS_UNIT_FORTUNE : SIGNALS_UNIT_LINE;
  }
  *unit = u;
  PetscFunctionReturn(PETSC_SUCCESS);
}

/* ---- training ------------------------------------------------------------------------------------------------ */

/* State of the scan of one training file on this rank. */
typedef struct {
  signals_ctx *c;
  wn_ngram    *lm;
  int          unit;
  int64_t      hi;                /* end of this rank's byte range */
  int          in_quote;          /* fortune: collecting a quote this rank owns */
  char        *quote;             /* its lines (owned) */
  size_t       quote_len, quote_cap;
  int64_t      n_lines, n_skipped, first_bad, units, tokens;
  char         reason[512];
} signals_reader;

static PetscErrorCode signals_add_unit(signals_reader *r, const char *text, size_t len)
{
  int64_t n = 0;

  PetscFunctionBeginUser;
  PetscCall(wn_ngram_tokenize(text, len, &r->c->tok, &n, &r->c->cap_tok));
  if (n > 0) { /* a unit without tokens is not counted */
    PetscCall(wn_ngram_add(r->lm, r->c->tok, n));
    r->units++;
    r->tokens += n;
  }
  PetscFunctionReturn(PETSC_SUCCESS);
}

static PetscErrorCode signals_finish_quote(signals_reader *r)
{
  PetscFunctionBeginUser;
  if (r->in_quote) PetscCall(signals_add_unit(r, r->quote, r->quote_len));
  r->in_quote  = 0;
  r->quote_len = 0;
  PetscFunctionReturn(PETSC_SUCCESS);
}

/* One line of a training file (wn_featurize_line_fn). */
static PetscErrorCode signals_train_line(void *ctx, const char *line, size_t len, int64_t offset, int *stop)
{
  signals_reader *r = ctx;
  signals_ctx    *c = r->c;
  int             ok;

  PetscFunctionBeginUser;
  switch (r->unit) {
  case SIGNALS_UNIT_FORTUNE:
    /* a quote is owned by the rank whose range holds the '%' line before it (the first one by the rank holding
     * byte 0); that rank reads on past its range to the next '%' line */
    if (line[0] == '%' && (len == 1 || (len == 2 && line[1] == '\r'))) {
      PetscCall(signals_finish_quote(r));
      if (offset >= r->hi) *stop = 1;
      else r->in_quote = 1;
    } else if (r->in_quote) {
      PetscCall(signals_grow((void **)&r->quote, &r->quote_cap, r->quote_len + len + 2, 1));
      memcpy(r->quote + r->quote_len, line, len);
      r->quote_len += len;
      r->quote[r->quote_len++] = '\n';
    }
    break;
  case SIGNALS_UNIT_LINE:
    PetscCall(signals_add_unit(r, line, len));
    break;
  default: { /* JSONL */
    int64_t index = r->n_lines++;
    PetscCall(signals_parse(c, line, len, &ok, r->reason, sizeof(r->reason)));
    if (ok && r->unit == SIGNALS_UNIT_JSONL_FIELDS) {
      size_t at = 0, got;
      for (int f = 0; f < c->n_fields && ok; f++) {
        PetscCall(signals_member(c, c->fields[f], at, &got, &ok, r->reason, sizeof(r->reason)));
        at += got;
        if (ok) c->text[at++] = ' ';
      }
      if (ok) PetscCall(signals_add_unit(r, c->text, at));
    } else if (ok) {
      int64_t   n = 0, n_prompt;
      PetscBool found;
      PetscCall(signals_record_tokens(c, &c->tok, &n, &c->cap_tok, &n_prompt, NULL, NULL, NULL, &found, &ok, r->reason, sizeof(r->reason)));
      if (ok && n > 0) {
        PetscCall(wn_ngram_add(r->lm, c->tok, n));
        r->units++;
        r->tokens += n;
      }
    }
    if (!ok) {
      if (r->first_bad < 0) r->first_bad = index;
      r->n_skipped++;
      if (!c->p->skip_bad) *stop = 1;
    }
  }
  }
  PetscFunctionReturn(PETSC_SUCCESS);
}

/* Count one file into lm: every rank its byte range. Collective. what names the option for messages. */
static PetscErrorCode signals_train_file(signals_ctx *c, wn_ngram *lm, const char *path, int unit, const char *what, signals_corpus *stats)
{
  signals_reader r;
  int            fd, io_errno = 0;
  int64_t        size, lo, hi, line0 = 0, local[3], global[3];

  PetscFunctionBeginUser;
  PetscCall(PetscMemzero(&r, sizeof(r)));
  r.c         = c;
  r.lm        = lm;
  r.unit      = unit;
  r.first_bad = -1;
  PetscCall(signals_open(c->comm, path, what, &fd, &size));
  wn_featurize_byte_range(size, c->rank, c->size, &lo, &hi);
  r.hi       = hi;
  r.in_quote = unit == SIGNALS_UNIT_FORTUNE && lo == 0;
  if (lo < hi) PetscCall(wn_featurize_scan_lines(fd, lo, unit == SIGNALS_UNIT_FORTUNE ? size : hi, size, signals_train_line, &r, &io_errno));
  if (unit == SIGNALS_UNIT_FORTUNE && lo < hi) PetscCall(signals_finish_quote(&r)); /* the file ended inside a quote */
  close(fd);
  PetscCall(PetscFree(r.quote));
  WN_CHECK_ALL(c->comm, io_errno == 0, PETSC_ERR_FILE_READ, "cannot read %s '%s': %s", what, path, strerror(io_errno));
  PetscCallMPI(MPI_Exscan(&r.n_lines, &line0, 1, MPI_INT64_T, MPI_SUM, c->comm));
  if (c->rank == 0) line0 = 0;
  WN_CHECK_ALL(c->comm, r.first_bad < 0 || c->p->skip_bad, PETSC_ERR_FILE_UNEXPECTED, "%s '%s' line %lld: %s (-wn_skip_bad skips and counts malformed lines)", what, path, (long long)(line0 + r.first_bad + 1), r.reason);
  local[0] = r.units;
  local[1] = r.tokens;
  local[2] = r.n_skipped;
  PetscCallMPI(MPI_Allreduce(local, global, 3, MPI_INT64_T, MPI_SUM, c->comm));
  stats->files++;
  stats->bytes += size;
  stats->units += global[0];
  stats->tokens += global[1];
  stats->skipped += global[2];
  PetscFunctionReturn(PETSC_SUCCESS);
}

/* The base corpus: every file of the list (signals_list_base) into lm (not built here). Collective. */
static PetscErrorCode signals_train_base(signals_ctx *c, wn_ngram *lm, const char *list, int64_t n, PetscBool is_dir, signals_corpus *stats)
{
  const char *path = list;
  int         unit = SIGNALS_UNIT_LINE, first_unit = -1;

  PetscFunctionBeginUser;
  for (int64_t f = 0; f < n; f++) {
    PetscCall(signals_base_unit(c, path, is_dir, &unit));
    if (first_unit < 0) first_unit = unit;
    if (unit != first_unit) first_unit = 99;
    PetscCall(signals_train_file(c, lm, path, unit, "base corpus file", stats));
    path += strlen(path) + 1;
  }
  PetscCall(PetscStrncpy(stats->format, first_unit == SIGNALS_UNIT_FORTUNE ? "fortune" : first_unit == SIGNALS_UNIT_LINE ? "text" : first_unit == SIGNALS_UNIT_JSONL_FIELDS ? "jsonl" : "mixed", sizeof(stats->format)));
  PetscCheck(stats->units > 0, c->comm, PETSC_ERR_FILE_UNEXPECTED, "the base corpus '%s' (-wn_signals_base, read as %s) has no text: %lld files, %lld bytes, no token", c->p->base, stats->format, (long long)stats->files, (long long)stats->bytes);
  PetscFunctionReturn(PETSC_SUCCESS);
}

/* ---- candidates ---------------------------------------------------------------------------------------------- */

/* This rank's raw lines of the candidates' JSONL (wn_featurize_line_fn): bytes and n + 1 offsets. */
typedef struct {
  char    *bytes;
  size_t   n_bytes, cap_bytes;
  int64_t *start;
  size_t   cap_start;
  int64_t  n;
} signals_lines;

static PetscErrorCode signals_keep_line(void *ctx, const char *line, size_t len, int64_t offset, int *stop)
{
  signals_lines *l = ctx;

  PetscFunctionBeginUser;
  PetscCall(signals_grow((void **)&l->bytes, &l->cap_bytes, l->n_bytes + len + 1, 1));
  PetscCall(signals_grow((void **)&l->start, &l->cap_start, (size_t)l->n + 2, sizeof(int64_t)));
  if (offset == 0 && len >= 3 && !memcmp(line, "\xEF\xBB\xBF", 3)) { /* a UTF-8 byte-order mark opens the file */
    line += 3;
    len -= 3;
  }
  memcpy(l->bytes + l->n_bytes, line, len);
  l->start[l->n] = (int64_t)l->n_bytes;
  l->n_bytes += len;
  l->n++;
  l->start[l->n] = (int64_t)l->n_bytes;
  PetscFunctionReturn(PETSC_SUCCESS);
}

/* N and the rows' lines: from /candidates of the embeddings file when it exists, else one row per JSONL line. */
static PetscErrorCode signals_rows(signals_ctx *c, int64_t n_lines, signals_candidates *cd, char *how, size_t hlen)
{
  const wn_signals_params *p = c->p;
  int                      exists = 0;
  int64_t                  N = n_lines;
  PetscBool                has_emb = PETSC_FALSE, has_src = PETSC_FALSE;
  hid_t                    file = -1;

  PetscFunctionBeginUser;
  if (c->rank == 0 && p->embeddings[0]) exists = access(p->embeddings, F_OK) == 0;
  PetscCallMPI(MPI_Bcast(&exists, 1, MPI_INT, 0, c->comm));
  if (exists) {
    wn_h5_info info;
    PetscCall(wn_h5_open(c->comm, p->embeddings, PETSC_FALSE, &file));
    PetscCall(wn_h5_exists(c->comm, file, "/candidates/embedding", &has_emb));
    if (has_emb) {
      PetscCall(wn_h5_info_get(c->comm, file, p->embeddings, "/candidates/embedding", &info));
      N = info.dims[0];
      PetscCall(wn_h5_exists(c->comm, file, p->source_row_dataset, &has_src));
    }
  }
  PetscCall(wn_layout_init(c->comm, N, &cd->L));
  PetscCall(PetscMalloc1(cd->L.n_local + 1, &cd->line));
  if (has_src) {
    wn_h5_info info;
    PetscCall(wn_h5_info_get(c->comm, file, p->embeddings, p->source_row_dataset, &info));
    PetscCheck(!info.is_string && info.ndim == 1 && info.dims[0] == N, c->comm, PETSC_ERR_FILE_UNEXPECTED, "dataset %s in '%s' must hold N = %lld integer source rows (one per candidate)", p->source_row_dataset, p->embeddings, (long long)N);
    PetscCall(wn_h5_read_rows_int64(c->comm, file, p->source_row_dataset, cd->L.row_start, cd->L.n_local, cd->line));
  } else {
    for (int64_t i = 0; i < cd->L.n_local; i++) cd->line[i] = cd->L.row_start + i;
  }
  if (file >= 0) PetscCall(wn_h5_close(&file));
  cd->from_source_row = has_src;
  if (has_emb && has_src) snprintf(how, hlen, "rows of /candidates in '%s', records at their %s", p->embeddings, p->source_row_dataset);
  else if (has_emb) snprintf(how, hlen, "rows of /candidates in '%s' = lines of the JSONL", p->embeddings);
  else snprintf(how, hlen, "one per line of the JSONL (no /candidates/embedding in '%s')", p->embeddings[0] ? p->embeddings : "-wn_embeddings");
  PetscCheck(N > 0, c->comm, PETSC_ERR_FILE_UNEXPECTED, "no candidates: '%s' has no line and no /candidates in '%s'", p->candidates, p->embeddings);
  if (!has_src) PetscCheck(n_lines == N, c->comm, PETSC_ERR_FILE_UNEXPECTED, "the candidates' JSONL '%s' (-wn_text) has %lld lines but /candidates/embedding in '%s' has %lld rows and there is no %s to map them", p->candidates, (long long)n_lines, p->embeddings, (long long)N, p->source_row_dataset);
  PetscFunctionReturn(PETSC_SUCCESS);
}

/* Read the candidates: every rank its byte range of lines; each row's line moves to the row's owner (requests
 * and replies by MPI_Alltoallv); the rows are parsed and tokenised there. Collective. */
static PetscErrorCode signals_read_candidates(signals_ctx *c, signals_candidates *cd, char *how, size_t hlen)
{
  const wn_signals_params *p = c->p;
  signals_lines            lines;
  int                      fd, io_errno = 0;
  int64_t                  size, lo, hi, first = 0, *firsts, n_lines = 0, bad_row = -1;
  PetscMPIInt             *scount, *sdispl, *rcount, *rdispl, *bscount, *bsdispl, *brcount, *brdispl;
  int64_t                 *req, *req_pos, *fill, *got, *len_reply, *len_back, *byte_at, n_req = 0, sbytes = 0, rbytes = 0;
  char                    *bsend, *brecv, reason[512] = "";

  PetscFunctionBeginUser;
  PetscCall(PetscMemzero(&lines, sizeof(lines)));
  PetscCall(signals_open(c->comm, p->candidates, "candidates' JSONL (-wn_text)", &fd, &size));
  wn_featurize_byte_range(size, c->rank, c->size, &lo, &hi);
  if (lo < hi) PetscCall(wn_featurize_scan_lines(fd, lo, hi, size, signals_keep_line, &lines, &io_errno));
  close(fd);
  WN_CHECK_ALL(c->comm, io_errno == 0, PETSC_ERR_FILE_READ, "cannot read the candidates' JSONL '%s': %s", p->candidates, strerror(io_errno));
  PetscCallMPI(MPI_Exscan(&lines.n, &first, 1, MPI_INT64_T, MPI_SUM, c->comm));
  if (c->rank == 0) first = 0;
  PetscCall(PetscMalloc1(c->size + 1, &firsts));
  PetscCallMPI(MPI_Allgather(&first, 1, MPI_INT64_T, firsts, 1, MPI_INT64_T, c->comm));
  PetscCallMPI(MPI_Allreduce(&lines.n, &n_lines, 1, MPI_INT64_T, MPI_SUM, c->comm));
  firsts[c->size] = n_lines;
  cd->n_lines     = n_lines;
  PetscCall(signals_rows(c, n_lines, cd, how, hlen));
  for (int64_t i = 0; i < cd->L.n_local; i++)
    if (cd->line[i] < 0 || cd->line[i] >= n_lines) {
      bad_row = cd->L.row_start + i;
      break;
    }
  WN_CHECK_ALL(c->comm, bad_row < 0, PETSC_ERR_FILE_UNEXPECTED, "candidate row %lld needs line %lld of '%s' (%s), which has %lld lines", (long long)bad_row, (long long)(bad_row >= 0 ? cd->line[bad_row - cd->L.row_start] + 1 : 0), p->candidates, p->source_row_dataset, (long long)n_lines);

  /* requests: each row's line to the rank that read it */
  PetscCall(PetscCalloc4(c->size, &scount, c->size + 1, &sdispl, c->size, &rcount, c->size + 1, &rdispl));
  PetscCall(PetscCalloc4(c->size, &bscount, c->size + 1, &bsdispl, c->size, &brcount, c->size + 1, &brdispl));
  PetscCall(PetscMalloc3(cd->L.n_local + 1, &req, cd->L.n_local + 1, &req_pos, c->size + 1, &fill));
  PetscCall(PetscMalloc1(cd->L.n_local + 1, &got));
  for (int64_t i = 0; i < cd->L.n_local; i++) { /* owner: the last rank whose first line <= line */
    int lo_r = 0, hi_r = c->size; /* the largest r with firsts[r] <= line (ranks without lines are passed over) */
    while (hi_r - lo_r > 1) {
      int mid = (lo_r + hi_r) / 2;
      if (firsts[mid] <= cd->line[i]) lo_r = mid;
      else hi_r = mid;
    }
    got[i] = lo_r;
    scount[lo_r]++;
  }
  for (int r = 0; r < c->size; r++) {
    sdispl[r + 1] = sdispl[r] + scount[r];
    fill[r]       = sdispl[r];
  }
  for (int64_t i = 0; i < cd->L.n_local; i++) {
    req_pos[i]       = fill[got[i]]++;
    req[req_pos[i]]  = cd->line[i];
  }
  PetscCallMPI(MPI_Alltoall(scount, 1, MPI_INT, rcount, 1, MPI_INT, c->comm));
  for (int r = 0; r < c->size; r++) rdispl[r + 1] = rdispl[r] + rcount[r];
  n_req = rdispl[c->size];
  PetscCall(PetscMalloc3(n_req + 1, &len_reply, cd->L.n_local + 1, &len_back, cd->L.n_local + 1, &byte_at));
  {
    int64_t *incoming;
    PetscCall(PetscMalloc1(n_req + 1, &incoming));
    PetscCallMPI(MPI_Alltoallv(req, scount, sdispl, MPI_INT64_T, incoming, rcount, rdispl, MPI_INT64_T, c->comm));
    for (int64_t k = 0; k < n_req; k++) {
      int64_t idx  = incoming[k] - first;
      len_reply[k] = lines.start[idx + 1] - lines.start[idx];
      sbytes += len_reply[k];
    }
    WN_CHECK_ALL(c->comm, sbytes < INT_MAX, PETSC_ERR_SUP, "candidate records: %lld bytes to send from one rank exceed one MPI message; use more ranks", (long long)sbytes);
    for (int r = 0; r < c->size; r++) {
      int64_t b = 0;
      for (int64_t k = rdispl[r]; k < rdispl[r + 1]; k++) b += len_reply[k];
      bscount[r]     = (PetscMPIInt)b;
      bsdispl[r + 1] = bsdispl[r] + bscount[r];
    }
    PetscCall(PetscMalloc1(sbytes + 1, &bsend));
    for (int64_t k = 0, at = 0; k < n_req; k++) {
      int64_t idx = incoming[k] - first;
      memcpy(bsend + at, lines.bytes + lines.start[idx], (size_t)len_reply[k]);
      at += len_reply[k];
    }
    PetscCall(PetscFree(incoming));
  }
  PetscCall(PetscFree(lines.bytes));
  PetscCall(PetscFree(lines.start));
  /* replies: the lengths, then the bytes, in request order */
  PetscCallMPI(MPI_Alltoallv(len_reply, rcount, rdispl, MPI_INT64_T, len_back, scount, sdispl, MPI_INT64_T, c->comm));
  PetscCallMPI(MPI_Alltoall(bscount, 1, MPI_INT, brcount, 1, MPI_INT, c->comm));
  for (int r = 0; r < c->size; r++) rbytes += brcount[r];
  WN_CHECK_ALL(c->comm, rbytes < INT_MAX, PETSC_ERR_SUP, "candidate records: %lld bytes for one rank exceed one MPI message; use more ranks", (long long)rbytes);
  for (int r = 0; r < c->size; r++) brdispl[r + 1] = brdispl[r] + brcount[r];
  PetscCall(PetscMalloc1(rbytes + 1, &brecv));
  PetscCallMPI(MPI_Alltoallv(bsend, bscount, bsdispl, MPI_CHAR, brecv, brcount, brdispl, MPI_CHAR, c->comm));
  PetscCall(PetscFree(bsend));
  {
    int64_t *pos_at;
    PetscCall(PetscMalloc1(cd->L.n_local + 1, &pos_at));
    pos_at[0] = 0;
    for (int64_t k = 0; k < cd->L.n_local; k++) pos_at[k + 1] = pos_at[k] + len_back[k];
    for (int64_t i = 0; i < cd->L.n_local; i++) byte_at[i] = pos_at[req_pos[i]];
    PetscCall(PetscFree(pos_at));
  }

  /* parse and tokenise each row */
  {
    int64_t cap_tok = 0, cap_e = 0, n_tok = 0, n_e = 0;
    PetscCall(PetscMalloc3(cd->L.n_local + 1, &cd->tok_start, cd->L.n_local + 1, &cd->n_prompt, cd->L.n_local + 1, &cd->step_start));
    cd->tok_start[0] = cd->step_start[0] = 0;
    bad_row = -1;
    for (int64_t i = 0; i < cd->L.n_local && bad_row < 0; i++) {
      int       ok;
      PetscBool found;
      PetscCall(signals_parse(c, brecv + byte_at[i], (size_t)len_back[req_pos[i]], &ok, reason, sizeof(reason)));
      if (ok) PetscCall(signals_record_tokens(c, &cd->tok, &n_tok, &cap_tok, &cd->n_prompt[i], &cd->step_end, &n_e, &cap_e, &found, &ok, reason, sizeof(reason)));
      if (!ok) {
        bad_row = i;
        break;
      }
      cd->n_no_separator += !found;
      cd->tok_start[i + 1]  = n_tok;
      cd->step_start[i + 1] = n_e;
      cd->max_tokens        = PetscMax(cd->max_tokens, cd->tok_start[i + 1] - cd->tok_start[i]);
    }
    cd->n_steps_local = n_e;
    if (!cd->tok) PetscCall(PetscMalloc1(1, &cd->tok));
    if (!cd->step_end) PetscCall(PetscMalloc1(1, &cd->step_end));
  }
  WN_CHECK_ALL(c->comm, bad_row < 0, PETSC_ERR_FILE_UNEXPECTED, "candidates' JSONL '%s' line %lld (candidate row %lld): %s", p->candidates, (long long)(bad_row >= 0 ? cd->line[bad_row] + 1 : 0), (long long)(cd->L.row_start + bad_row), reason);
  PetscCall(PetscFree(brecv));
  PetscCall(PetscFree3(len_reply, len_back, byte_at));
  PetscCall(PetscFree(got));
  PetscCall(PetscFree3(req, req_pos, fill));
  PetscCall(PetscFree4(bscount, bsdispl, brcount, brdispl));
  PetscCall(PetscFree4(scount, sdispl, rcount, rdispl));
  PetscCall(PetscFree(firsts));
  PetscFunctionReturn(PETSC_SUCCESS);
}

static PetscErrorCode signals_candidates_free(signals_candidates *cd)
{
  PetscFunctionBeginUser;
  PetscCall(PetscFree(cd->line));
  PetscCall(PetscFree3(cd->tok_start, cd->n_prompt, cd->step_start));
  PetscCall(PetscFree(cd->tok));
  PetscCall(PetscFree(cd->step_end));
  PetscFunctionReturn(PETSC_SUCCESS);
}

/* ---- scoring --------------------------------------------------------------------------------------------------- */

static int signals_cmp_double(const void *a, const void *b)
{
  double x = *(const double *)a, y = *(const double *)b;
  return (x > y) - (x < y);
}

/* Score every row under lm (teacher forcing). loss: n_local mean -ln P over the response tokens and </s> (may be
 * NULL); step_prob: the steps' geometric means and features: n_local x f (both may be NULL). *nll_fixed and
 * *n_pred: the pool's summed -ln P (fixed point, 2^-24 nats) and predicted tokens, over all ranks. Collective
 * (progress lines and the sums). */
static PetscErrorCode signals_score(signals_ctx *c, const wn_ngram *lm, const signals_candidates *cd, const char *label, double *loss, double *step_prob, float *features, int64_t *nll_fixed, int64_t *n_pred)
{
  const int64_t f = c->p->n_features;
  double       *prob, *sorted, t0 = MPI_Wtime(), t_last = t0;
  int64_t       sums[2] = {0, 0}, all[2];

  PetscFunctionBeginUser;
  PetscCall(PetscMalloc2(cd->max_tokens + 2, &prob, cd->max_tokens + 2, &sorted));
  for (int64_t i = 0; i < cd->L.n_local; i++) {
    const int64_t   a = cd->tok_start[i], n = cd->tok_start[i + 1] - a, np = cd->n_prompt[i];
    const int64_t  *ends = cd->step_end + cd->step_start[i];
    const int64_t   n_steps = cd->step_start[i + 1] - cd->step_start[i];
    double          nll = 0;

    PetscCall(wn_ngram_sequence(lm, cd->tok + a, n, prob));
    for (int64_t j = np; j <= n; j++) nll -= log(prob[j]);
    if (loss) loss[i] = nll / (double)(n - np + 1);
    sums[0] += (int64_t)llround(nll * SIGNALS_FIXED);
    sums[1] += n - np + 1;
    if (step_prob)
      for (int64_t t = 0, from = 0; t < n_steps; t++) {
        double s = 0;
        for (int64_t j = from; j < ends[t]; j++) s += log(prob[np + j]);
        step_prob[cd->step_start[i] + t] = exp(s / (double)(ends[t] - from));
        from                             = ends[t];
      }
    if (features) {
      memcpy(sorted, prob, sizeof(double) * (size_t)np);
      qsort(sorted, (size_t)np, sizeof(double), signals_cmp_double);
      for (int64_t k = 0; k < f; k++) features[i * f + k] = k < np ? (float)sorted[k] : 0.0f;
    }
    if (c->p->progress > 0 && c->rank == 0 && MPI_Wtime() - t_last >= c->p->progress && i + 1 < cd->L.n_local) {
      double el = MPI_Wtime() - t0;
      t_last    = MPI_Wtime();
      PetscCall(PetscPrintf(PETSC_COMM_SELF, "signals: scoring (%s model): rank 0 at row %lld of %lld, %.1f s, ETA %.1f s\n", label, (long long)(i + 1), (long long)cd->L.n_local, el, el / (double)(i + 1) * (double)(cd->L.n_local - i - 1)));
    }
  }
  PetscCall(PetscFree2(prob, sorted));
  PetscCallMPI(MPI_Allreduce(sums, all, 2, MPI_INT64_T, MPI_SUM, c->comm));
  *nll_fixed = all[0];
  *n_pred    = all[1];
  PetscFunctionReturn(PETSC_SUCCESS);
}

/* Sum over V of P(w | h) for a few fixed contexts built from the vocabulary: max |sum - 1|. Not collective (the
 * model is the same everywhere, so is the answer). */
static PetscErrorCode signals_check_sums(const wn_ngram *lm, double *worst, int *n_contexts)
{
  const uint64_t *vocab;
  int64_t         nv;

  PetscFunctionBeginUser;
  PetscCall(wn_ngram_vocabulary(lm, &nv, &vocab));
  *worst      = 0;
  *n_contexts = 4;
  for (int q = 0; q < 4; q++) {
    uint64_t ctx[3] = {vocab[(q * 7919) % nv], vocab[(q * 104729 + 1) % nv], vocab[(q * 15485863 + 2) % nv]};
    double   sum = 0, p;
    for (int64_t v = 0; v < nv; v++) {
      PetscCall(wn_ngram_prob(lm, ctx, q, vocab[v], &p)); /* q = 0: the unit's start */
      sum += p;
    }
    *worst = PetscMax(*worst, fabs(sum - 1));
  }
  PetscFunctionReturn(PETSC_SUCCESS);
}

/* ---- writing ----------------------------------------------------------------------------------------------------- */

typedef struct {
  const signals_ctx   *c;
  const wn_ngram_info *base, *tuned;
  const signals_corpus *base_corpus, *train_corpus;
} signals_provenance;

/* Attributes saying how an object's values were made (model = "base" or "tuned"). Collective. */
static PetscErrorCode signals_attrs(MPI_Comm comm, hid_t file, const char *object, const signals_provenance *v, const char *model)
{
  const wn_signals_params *p = v->c->p;
  const wn_ngram_info     *m = strcmp(model, "base") ? v->tuned : v->base;
  char                     rule[512];

  PetscFunctionBeginUser;
  PetscCall(wn_h5_attr_write_string(comm, file, object, "synthetic", "no"));
  PetscCall(wn_h5_attr_write_string(comm, file, object, "producer", "winnow signals: interpolated Kneser-Ney n-gram reference model (doc/methods.md)"));
  PetscCall(wn_h5_attr_write_string(comm, file, object, "model", model));
  PetscCall(wn_h5_attr_write_int64(comm, file, object, "order", m->order));
  PetscCall(wn_h5_attr_write_double(comm, file, object, "discount", m->discount));
  PetscCall(wn_h5_attr_write_int64(comm, file, object, "vocabulary", m->n_vocab));
  PetscCall(wn_h5_attr_write_string(comm, file, object, "model_checksum", m->checksum));
  PetscCall(wn_h5_attr_write_string(comm, file, object, "base_corpus", p->base));
  PetscCall(wn_h5_attr_write_string(comm, file, object, "base_format", v->base_corpus->format));
  PetscCall(wn_h5_attr_write_int64(comm, file, object, "base_units", v->base_corpus->units));
  PetscCall(wn_h5_attr_write_int64(comm, file, object, "base_tokens", v->base_corpus->tokens));
  PetscCall(wn_h5_attr_write_string(comm, file, object, "train_corpus", strcmp(model, "base") ? p->train : ""));
  PetscCall(wn_h5_attr_write_int64(comm, file, object, "train_units", strcmp(model, "base") ? v->train_corpus->units : 0));
  PetscCall(wn_h5_attr_write_int64(comm, file, object, "train_tokens", strcmp(model, "base") ? v->train_corpus->tokens : 0));
  PetscCall(wn_h5_attr_write_string(comm, file, object, "candidates", p->candidates));
  if (p->prompt_field[0]) PetscCall(PetscSNPrintf(rule, sizeof(rule), "prompt = member '%s', response = member '%s'", p->prompt_field, p->response_field));
  else PetscCall(PetscSNPrintf(rule, sizeof(rule), "prompt = member '%s' up to and including the first '%s', response = the rest", p->text_field, p->separator));
  PetscCall(wn_h5_attr_write_string(comm, file, object, "prompt_rule", rule));
  PetscCall(wn_h5_attr_write_string(comm, file, object, "step_separators", p->step_separators));
  PetscFunctionReturn(PETSC_SUCCESS);
}

/* The datasets of the output file this run would replace, as " /a /b" in found (empty: none); with remove, delete
 * them (HDF5 does not reclaim the space; h5repack does). SYNTHETIC /signals (tools/synth_signals) count as one
 * whole group. Collective. */
static PetscErrorCode signals_conflicts(signals_ctx *c, hid_t file, PetscBool remove, char *found, size_t flen)
{
  const wn_signals_params *p = c->p;
  char                     group[64], synthetic[256] = "";
  const char              *names[3];
  int                      n = 0;
  PetscBool                has_signals, attr, e;

  PetscFunctionBeginUser;
  found[0] = 0;
  PetscCall(PetscSNPrintf(group, sizeof(group), "/signals/epoch_%lld", (long long)p->epoch));
  PetscCall(wn_h5_exists(c->comm, file, "/signals", &has_signals));
  if (!has_signals) PetscFunctionReturn(PETSC_SUCCESS);
  PetscCall(wn_h5_attr_read_string(c->comm, file, "/signals", "synthetic", synthetic, sizeof(synthetic), &attr));
  if (attr && !strncmp(synthetic, "yes", 3)) {
    PetscCall(PetscStrncpy(found, " /signals (SYNTHETIC, from tools/synth_signals: replaced as a whole)", flen));
    if (remove) WN_CALL_HDF5(H5Ldelete, (file, "/signals", H5P_DEFAULT));
    PetscFunctionReturn(PETSC_SUCCESS);
  }
  if (p->losses) {
    names[n++] = "/signals/loss_base";
    names[n++] = "/signals/loss_tuned";
  }
  if (p->p3) names[n++] = group;
  for (int k = 0; k < n; k++) {
    PetscCall(wn_h5_exists(c->comm, file, names[k], &e));
    if (!e) continue;
    PetscCall(PetscStrlcat(found, " ", flen));
    PetscCall(PetscStrlcat(found, names[k], flen));
    if (remove) WN_CALL_HDF5(H5Ldelete, (file, names[k], H5P_DEFAULT));
  }
  PetscFunctionReturn(PETSC_SUCCESS);
}

/* Before any work: an existing output must be HDF5 and, without -wn_signals_force, hold none of the datasets this
 * run writes. Collective. */
static PetscErrorCode signals_check_output(signals_ctx *c)
{
  const wn_signals_params *p = c->p;
  int                      exists = 0;
  hid_t                    file;
  char                     found[1024];

  PetscFunctionBeginUser;
  if (c->rank == 0) exists = access(p->output, F_OK) == 0;
  PetscCallMPI(MPI_Bcast(&exists, 1, MPI_INT, 0, c->comm));
  if (!exists) PetscFunctionReturn(PETSC_SUCCESS);
  PetscCall(wn_h5_open(c->comm, p->output, PETSC_FALSE, &file));
  PetscCall(signals_conflicts(c, file, PETSC_FALSE, found, sizeof(found)));
  PetscCall(wn_h5_close(&file));
  PetscCheck(!found[0] || p->force, c->comm, PETSC_ERR_FILE_UNEXPECTED, "'%s' (-wn_signals_output) already holds%s; pass -wn_signals_force to replace them", p->output, found);
  PetscFunctionReturn(PETSC_SUCCESS);
}

/* Write the signals into p->output. Collective. */
static PetscErrorCode signals_write(signals_ctx *c, const signals_candidates *cd, const signals_provenance *v, const double *loss_base, const double *loss_tuned, const double *step_prob, const float *features, char *note, size_t nlen)
{
  const wn_signals_params *p = c->p;
  const int64_t            N = cd->L.n_global;
  int                      exists = 0;
  hid_t                    file   = -1;
  char                     group[64], ds[128], tmp[PETSC_MAX_PATH_LEN], found[1024] = "";

  PetscFunctionBeginUser;
  PetscCall(PetscSNPrintf(group, sizeof(group), "/signals/epoch_%lld", (long long)p->epoch));
  if (c->rank == 0) exists = access(p->output, F_OK) == 0;
  PetscCallMPI(MPI_Bcast(&exists, 1, MPI_INT, 0, c->comm));
  if (exists) { /* in place; signals_check_output refused conflicts without -wn_signals_force */
    PetscCall(wn_h5_open(c->comm, p->output, PETSC_TRUE, &file));
    PetscCall(signals_conflicts(c, file, p->force, found, sizeof(found)));
    PetscCheck(!found[0] || p->force, c->comm, PETSC_ERR_FILE_UNEXPECTED, "'%s' already holds%s; pass -wn_signals_force to replace them", p->output, found);
    if (found[0]) PetscCall(PetscSNPrintf(note, nlen, "replaced%s", found));
  } else {
    PetscCall(wn_output_temp_name(c->comm, p->output, tmp, sizeof(tmp)));
    PetscCall(wn_h5_create(c->comm, tmp, &file));
  }
  if (p->losses) {
    PetscCall(wn_h5_write_rows_double(c->comm, file, "/signals/loss_base", N, cd->L.row_start, cd->L.n_local, loss_base));
    PetscCall(signals_attrs(c->comm, file, "/signals/loss_base", v, "base"));
    PetscCall(wn_h5_attr_write_string(c->comm, file, "/signals/loss_base", "definition", "mean -ln P over the response tokens and </s> (nats), teacher forcing"));
    PetscCall(wn_h5_write_rows_double(c->comm, file, "/signals/loss_tuned", N, cd->L.row_start, cd->L.n_local, loss_tuned));
    PetscCall(signals_attrs(c->comm, file, "/signals/loss_tuned", v, "tuned"));
    PetscCall(wn_h5_attr_write_string(c->comm, file, "/signals/loss_tuned", "definition", "mean -ln P over the response tokens and </s> (nats), teacher forcing"));
  }
  if (p->p3) {
    int64_t  step0 = 0, n_steps = 0, *offsets, owns_last = cd->L.n_local > 0 && cd->L.row_start + cd->L.n_local == N;
    PetscCallMPI(MPI_Exscan(&cd->n_steps_local, &step0, 1, MPI_INT64_T, MPI_SUM, c->comm));
    if (c->rank == 0) step0 = 0;
    PetscCallMPI(MPI_Allreduce(&cd->n_steps_local, &n_steps, 1, MPI_INT64_T, MPI_SUM, c->comm));
    PetscCall(PetscMalloc1(cd->L.n_local + 2, &offsets));
    for (int64_t i = 0; i <= cd->L.n_local; i++) offsets[i] = step0 + cd->step_start[i];
    PetscCall(PetscSNPrintf(ds, sizeof(ds), "%s/step_offset", group));
    PetscCall(wn_h5_write_rows_int64(c->comm, file, ds, N + 1, cd->L.row_start, cd->L.n_local + owns_last, offsets));
    PetscCall(PetscFree(offsets));
    PetscCall(PetscSNPrintf(ds, sizeof(ds), "%s/step_prob", group));
    PetscCall(wn_h5_write_rows_double(c->comm, file, ds, n_steps, step0, cd->n_steps_local, step_prob));
    PetscCall(PetscSNPrintf(ds, sizeof(ds), "%s/features", group));
    PetscCall(wn_h5_write_rows_float(c->comm, file, ds, N, p->n_features, cd->L.row_start, cd->L.n_local, features, 0));
    PetscCall(signals_attrs(c->comm, file, group, v, "tuned"));
    PetscCall(wn_h5_attr_write_string(c->comm, file, group, "step_prob", "geometric mean of each step's token probabilities given the prompt and the previous steps (teacher forcing)"));
    PetscCall(wn_h5_attr_write_string(c->comm, file, group, "features_definition", "the smallest prompt-token probabilities, ascending, zero-padded"));
    PetscCall(wn_h5_attr_write_int64(c->comm, file, group, "features", p->n_features));
    PetscCall(wn_h5_attr_write_int64(c->comm, file, group, "epoch", p->epoch));
  }
  PetscCall(wn_h5_attr_write_string(c->comm, file, "/signals", "synthetic", "no"));
  PetscCall(wn_h5_attr_write_string(c->comm, file, "/signals", "producer", "winnow signals: interpolated Kneser-Ney n-gram reference model (doc/methods.md)"));
  PetscCall(wn_h5_close(&file));
  if (!exists) PetscCall(wn_output_commit(c->comm, tmp, p->output));
  PetscFunctionReturn(PETSC_SUCCESS);
}

/* ---- the run ------------------------------------------------------------------------------------------------------ */

static PetscErrorCode signals_print_model(MPI_Comm comm, const char *what, const wn_ngram_info *m)
{
  char types[256] = "";

  PetscFunctionBeginUser;
  for (int k = 1; k <= m->order; k++) {
    char one[48];
    PetscCall(PetscSNPrintf(one, sizeof(one), "%s%lld", k > 1 ? " / " : "", (long long)m->n_types[k - 1]));
    PetscCall(PetscStrlcat(types, one, sizeof(types)));
  }
  PetscCall(PetscPrintf(comm, "signals: %s model: order %d, D = %g, %lld units, %lld tokens, |V| = %lld, 1..%d-gram types %s, checksum %s\n", what, m->order, m->discount, (long long)m->n_units, (long long)m->n_tokens, (long long)m->n_vocab, m->order, types, m->checksum));
  PetscFunctionReturn(PETSC_SUCCESS);
}

/* Phase table: min, mean, max over ranks and the slowest rank; *_s keys on the RESULT line. Collective. */
static PetscErrorCode signals_print_phases(signals_ctx *c, wn_report *report)
{
  PetscFunctionBeginUser;
  PetscCall(PetscPrintf(c->comm, "\nsignals phase       min(s)      mean(s)       max(s)  slowest rank\n"));
  for (int ph = 0; ph < SIGNALS_N_PHASES; ph++) {
    struct {
      double v;
      int    rank;
    } mine = {c->phase_time[ph], c->rank}, slow;
    double mn, sum;
    char   key[32];
    PetscCallMPI(MPI_Allreduce(&mine, &slow, 1, MPI_DOUBLE_INT, MPI_MAXLOC, c->comm));
    PetscCallMPI(MPI_Allreduce(&mine.v, &mn, 1, MPI_DOUBLE, MPI_MIN, c->comm));
    PetscCallMPI(MPI_Allreduce(&mine.v, &sum, 1, MPI_DOUBLE, MPI_SUM, c->comm));
    PetscCall(PetscPrintf(c->comm, "%-13s %12.4f %12.4f %12.4f  %12d\n", signals_phase_names[ph], mn, sum / c->size, slow.v, slow.rank));
    PetscCall(PetscSNPrintf(key, sizeof(key), "%s_s", signals_phase_names[ph]));
    PetscCall(wn_report_result(report, key, "%.4f", slow.v));
  }
  PetscFunctionReturn(PETSC_SUCCESS);
}

/* Refuse an output that is one of the inputs (rank 0 compares real paths). Collective. */
static PetscErrorCode signals_check_clobber(signals_ctx *c)
{
  const wn_signals_params *p = c->p;
  char                     msg[3 * PETSC_MAX_PATH_LEN] = "";

  PetscFunctionBeginUser;
  if (c->rank == 0) {
    char        out[PATH_MAX], in[PATH_MAX];
    const char *ins[3]  = {p->candidates, p->train, p->base};
    const char *keys[3] = {"-wn_text", "-wn_signals_train", "-wn_signals_base"};
    if (realpath(p->output, out))
      for (int k = 0; k < 3 && !msg[0]; k++)
        if (ins[k][0] && realpath(ins[k], in) && !strcmp(in, out)) snprintf(msg, sizeof(msg), "-wn_signals_output '%s' would overwrite the input '%s' (%s)", p->output, ins[k], keys[k]);
  }
  WN_CHECK_ALL(c->comm, msg[0] == 0, PETSC_ERR_ARG_WRONG, "%s", msg);
  PetscFunctionReturn(PETSC_SUCCESS);
}

/* FNV-1a 64 of one row's signals (row index first), summed over rows mod 2^64: the same for any rank count. */
static uint64_t signals_row_hash(int64_t row, const double *lb, const double *lt, const double *sp, int64_t n_sp, const float *feat, int64_t f)
{
  uint64_t h = wn_fnv1a(WN_FNV_OFFSET, &row, sizeof(row));
  if (lb) h = wn_fnv1a(h, lb, sizeof(double));
  if (lt) h = wn_fnv1a(h, lt, sizeof(double));
  if (sp) h = wn_fnv1a(h, sp, sizeof(double) * (size_t)n_sp);
  if (feat) h = wn_fnv1a(h, feat, sizeof(float) * (size_t)f);
  return h;
}

/**
  @brief `winnow signals`: train the base and the fine-tuned reference models, score the candidates, write
  /signals (signals.h), print the report lines and fill report.

  Collective on comm. Phases: read (the candidates), train_base, score_base (losses only), train_tuned,
  score_tuned, write. Checks: the fine-tuned model's probabilities sum to 1 over V (4 contexts, to 1e-9), and every
  written value is finite and in range (losses > 0, step probabilities in (0, 1]).

  @param[in]     comm    communicator of the run (borrowed)
  @param[in]     params  the options, identical on every rank (borrowed)
  @param[in,out] report  RESULT keys and checks are added (borrowed)
**/
PetscErrorCode wn_signals_run(MPI_Comm comm, const wn_signals_params *params, wn_report *report)
{
  signals_ctx        c;
  signals_candidates cd;
  signals_corpus     base = {0}, train = {0};
  wn_ngram          *lm = NULL;
  wn_ngram_info      info_base, info_tuned;
  double            *loss_base = NULL, *loss_tuned = NULL, *step_prob = NULL, worst = 0, ppl_base = 0, ppl_tuned;
  float             *features = NULL;
  int64_t            nll_base = 0, nll_tuned, n_pred = 0, n_steps, counts[2], bad = 0, n_empty = 0, N;
  uint64_t           hash = 0;
  char               how[PETSC_MAX_PATH_LEN + 256], note[1200] = "", steps[64];
  int                n_ctx;
  char              *base_list;
  int64_t            n_base_files;
  PetscBool          base_is_dir;

  PetscFunctionBeginUser;
  PetscCall(PetscMemzero(&c, sizeof(c)));
  PetscCall(PetscMemzero(&cd, sizeof(cd)));
  c.p    = params;
  c.comm = comm;
  PetscCallMPI(MPI_Comm_rank(comm, &c.rank));
  PetscCallMPI(MPI_Comm_size(comm, &c.size));
  /* options */
  PetscCheck(params->candidates[0], comm, PETSC_ERR_ARG_WRONG, "`winnow signals` needs the candidates' JSONL: set -wn_text FILE.jsonl (the records `winnow featurize` read)");
  PetscCheck(params->output[0], comm, PETSC_ERR_ARG_WRONG, "`winnow signals` needs an output file: set -wn_signals_output or -wn_embeddings");
  PetscCheck(params->base[0], comm, PETSC_ERR_ARG_WRONG, "`winnow signals` needs a base corpus: set -wn_signals_base (e.g. /usr/share/games/fortunes from Debian's fortunes package)");
  PetscCheck(params->order >= 1 && params->order <= WN_NGRAM_MAX_ORDER, comm, PETSC_ERR_ARG_OUTOFRANGE, "-wn_signals_order must be between 1 and %d, got %lld", WN_NGRAM_MAX_ORDER, (long long)params->order);
  PetscCheck(params->discount > 0 && params->discount <= 1, comm, PETSC_ERR_ARG_OUTOFRANGE, "-wn_signals_discount must be in (0, 1], got %g", params->discount);
  PetscCheck(params->n_features >= 1 && params->n_features <= 4096, comm, PETSC_ERR_ARG_OUTOFRANGE, "-wn_signals_features must be between 1 and 4096, got %lld", (long long)params->n_features);
  PetscCheck(params->epoch >= 0, comm, PETSC_ERR_ARG_OUTOFRANGE, "-wn_p3_epoch must be >= 0, got %lld", (long long)params->epoch);
  PetscCheck(params->losses || params->p3, comm, PETSC_ERR_ARG_WRONG, "-wn_signals_losses and -wn_signals_p3 are both false: nothing to write");
  PetscCheck(!params->prompt_field[0] == !params->response_field[0], comm, PETSC_ERR_ARG_WRONG, "-wn_signals_prompt_field and -wn_signals_response_field go together (got '%s' and '%s')", params->prompt_field, params->response_field);
  PetscCheck(params->prompt_field[0] || params->text_field[0], comm, PETSC_ERR_ARG_WRONG, "set -wn_signals_text_field (split at -wn_signals_separator) or -wn_signals_prompt_field and -wn_signals_response_field");
  PetscCall(wn_signals_unescape(params->separator, c.sep, sizeof(c.sep)));
  c.sep_len = strlen(c.sep);
  PetscCheck(params->prompt_field[0] || c.sep_len > 0, comm, PETSC_ERR_ARG_WRONG, "-wn_signals_separator is empty; the prompt ends at its first occurrence");
  PetscCall(wn_signals_unescape(params->step_separators, steps, sizeof(steps)));
  for (size_t i = 0; steps[i]; i++) c.is_step_sep[(unsigned char)steps[i]] = 1;
  {
    const char *s = params->base_fields;
    while (*s) {
      const char *e = strchr(s, ',');
      size_t      n = e ? (size_t)(e - s) : strlen(s);
      PetscCheck(n > 0 && n < sizeof(c.fields[0]) && c.n_fields < SIGNALS_MAX_FIELDS, comm, PETSC_ERR_ARG_WRONG, "-wn_signals_base_fields '%s': expected up to %d member names separated by commas", params->base_fields, SIGNALS_MAX_FIELDS);
      memcpy(c.fields[c.n_fields], s, n);
      c.fields[c.n_fields++][n] = 0;
      s += n + (e ? 1 : 0);
    }
  }
  PetscCall(wn_output_check_writable(comm, params->output));
  PetscCall(signals_check_clobber(&c));
  PetscCall(signals_check_output(&c));
  PetscCall(signals_list_base(comm, params->base, &base_list, &n_base_files, &base_is_dir));
  if (params->train[0]) { /* fail before the work, not after the base model */
    int err = 0;
    if (c.rank == 0 && access(params->train, R_OK)) err = errno;
    WN_CHECK_ALL(comm, err == 0, PETSC_ERR_FILE_OPEN, "cannot open training JSONL (-wn_signals_train) '%s': %s", params->train, strerror(err));
  }
  PetscCall(wn_jsonl_record_create(&c.rec));

  /* the candidates: their records at the rows' owners, as tokens */
  signals_phase_begin(&c);
  PetscCall(signals_read_candidates(&c, &cd, how, sizeof(how)));
  signals_phase_end(&c, SIGNALS_READ);
  N = cd.L.n_global;
  counts[0] = cd.n_steps_local;
  counts[1] = cd.n_no_separator;
  PetscCallMPI(MPI_Allreduce(MPI_IN_PLACE, counts, 2, MPI_INT64_T, MPI_SUM, comm));
  n_steps = counts[0];
  for (int64_t i = 0; i < cd.L.n_local; i++) n_empty += cd.step_start[i + 1] == cd.step_start[i];
  PetscCallMPI(MPI_Allreduce(MPI_IN_PLACE, &n_empty, 1, MPI_INT64_T, MPI_SUM, comm));
  PetscCall(PetscPrintf(comm, "signals: %lld candidates from '%s' (%lld lines; %s): %lld steps (separators \"%s\"), %lld rows without a step", (long long)N, params->candidates, (long long)cd.n_lines, how, (long long)n_steps, params->step_separators, (long long)n_empty));
  if (params->prompt_field[0]) PetscCall(PetscPrintf(comm, "; prompts from '%s', responses from '%s'\n", params->prompt_field, params->response_field));
  else PetscCall(PetscPrintf(comm, ", %lld without the prompt separator \"%s\"\n", (long long)counts[1], params->separator));
  if (counts[1] > 0 && !params->prompt_field[0]) PetscCall(PetscPrintf(comm, "signals: warning: %lld records have no \"%s\": their prompt is empty and the whole text is the response\n", (long long)counts[1], params->separator));
  PetscCall(PetscMalloc4(cd.L.n_local + 1, &loss_base, cd.L.n_local + 1, &loss_tuned, cd.n_steps_local + 1, &step_prob, cd.L.n_local * params->n_features + 1, &features));

  /* the base model */
  signals_phase_begin(&c);
  PetscCall(wn_ngram_create(comm, (int)params->order, params->discount, &lm));
  PetscCall(signals_train_base(&c, lm, base_list, n_base_files, base_is_dir, &base));
  PetscCall(PetscFree(base_list));
  PetscCall(wn_ngram_build(lm));
  PetscCall(wn_ngram_get_info(lm, &info_base));
  signals_phase_end(&c, SIGNALS_TRAIN_BASE);
  PetscCall(PetscPrintf(comm, "signals: base corpus '%s' (%s, %lld files, %.1f MB): %lld units, %lld tokens\n", params->base, base.format, (long long)base.files, base.bytes * 1e-6, (long long)base.units, (long long)base.tokens));
  PetscCall(signals_print_model(comm, "base", &info_base));
  if (params->losses) {
    signals_phase_begin(&c);
    PetscCall(signals_score(&c, lm, &cd, "base", loss_base, NULL, NULL, &nll_base, &n_pred));
    signals_phase_end(&c, SIGNALS_SCORE_BASE);
    ppl_base = exp((double)nll_base / SIGNALS_FIXED / (double)n_pred);
  }

  /* the fine-tuned model: base + -wn_signals_train */
  signals_phase_begin(&c);
  if (params->train[0]) {
    PetscCall(signals_train_file(&c, lm, params->train, SIGNALS_UNIT_JSONL_RECORD, "training JSONL (-wn_signals_train)", &train));
    PetscCall(PetscStrncpy(train.format, "jsonl", sizeof(train.format)));
    PetscCall(wn_ngram_build(lm));
  }
  PetscCall(wn_ngram_get_info(lm, &info_tuned));
  signals_phase_end(&c, SIGNALS_TRAIN_TUNED);
  if (params->train[0]) {
    PetscCall(PetscPrintf(comm, "signals: + training JSONL '%s': %lld records, %lld tokens", params->train, (long long)train.units, (long long)train.tokens));
    if (train.skipped) PetscCall(PetscPrintf(comm, " (%lld malformed lines skipped: -wn_skip_bad)", (long long)train.skipped));
    PetscCall(PetscPrintf(comm, "\n"));
    PetscCall(signals_print_model(comm, "fine-tuned", &info_tuned));
  } else PetscCall(PetscPrintf(comm, "signals: no -wn_signals_train: the fine-tuned model is the base model\n"));
  signals_phase_begin(&c);
  PetscCall(signals_score(&c, lm, &cd, "fine-tuned", loss_tuned, params->p3 ? step_prob : NULL, params->p3 ? features : NULL, &nll_tuned, &n_pred));
  signals_phase_end(&c, SIGNALS_SCORE_TUNED);
  ppl_tuned = exp((double)nll_tuned / SIGNALS_FIXED / (double)n_pred);
  if (params->losses) PetscCall(PetscPrintf(comm, "signals: perplexity of the pool's responses (%lld tokens with </s>): base %.4g, fine-tuned %.4g\n", (long long)n_pred, ppl_base, ppl_tuned));
  else PetscCall(PetscPrintf(comm, "signals: perplexity of the pool's responses (%lld tokens with </s>) under the fine-tuned model: %.4g\n", (long long)n_pred, ppl_tuned));

  /* checks */
  PetscCall(signals_check_sums(lm, &worst, &n_ctx));
  PetscCall(wn_report_check(report, "probabilities", worst <= 1e-9 ? PETSC_TRUE : PETSC_FALSE, "sum over |V| = %lld words of P(w | h) for %d contexts: max |sum - 1| = %.2e (limit 1e-9)", (long long)info_tuned.n_vocab, n_ctx, worst));
  for (int64_t i = 0; i < cd.L.n_local; i++) {
    if (params->losses && !(isfinite(loss_base[i]) && loss_base[i] > 0 && isfinite(loss_tuned[i]) && loss_tuned[i] > 0)) bad++;
    if (params->p3)
      for (int64_t t = cd.step_start[i]; t < cd.step_start[i + 1]; t++) bad += !(step_prob[t] > 0 && step_prob[t] <= 1);
    hash += signals_row_hash(cd.L.row_start + i, params->losses ? loss_base + i : NULL, params->losses ? loss_tuned + i : NULL, params->p3 ? step_prob + cd.step_start[i] : NULL, cd.step_start[i + 1] - cd.step_start[i], params->p3 ? features + i * params->n_features : NULL, params->n_features);
  }
  PetscCallMPI(MPI_Allreduce(MPI_IN_PLACE, &bad, 1, MPI_INT64_T, MPI_SUM, comm));
  PetscCallMPI(MPI_Allreduce(MPI_IN_PLACE, &hash, 1, MPI_UINT64_T, MPI_SUM, comm));
  PetscCall(wn_report_check(report, "signals_in_range", bad == 0 ? PETSC_TRUE : PETSC_FALSE, "%lld values out of range (losses must be finite and > 0, step probabilities in (0, 1])", (long long)bad));

  /* write */
  signals_phase_begin(&c);
  {
    signals_provenance v = {&c, &info_base, &info_tuned, &base, &train};
    PetscCall(signals_write(&c, &cd, &v, loss_base, loss_tuned, step_prob, features, note, sizeof(note)));
  }
  signals_phase_end(&c, SIGNALS_WRITE);
  {
    char what[512] = "", one[256];
    if (params->losses) PetscCall(PetscSNPrintf(what, sizeof(what), "/signals/loss_base and loss_tuned (%lld each)", (long long)N));
    if (params->p3) {
      PetscCall(PetscSNPrintf(one, sizeof(one), "%s/signals/epoch_%lld/{step_offset, step_prob (%lld steps), features (%lld x %lld)}", what[0] ? ", " : "", (long long)params->epoch, (long long)n_steps, (long long)N, (long long)params->n_features));
      PetscCall(PetscStrlcat(what, one, sizeof(what)));
    }
    PetscCall(PetscPrintf(comm, "signals: wrote %s to '%s'%s%s\n", what, params->output, note[0] ? "; " : "", note));
  }
  PetscCall(signals_print_phases(&c, report));

  PetscCall(wn_report_result(report, "command", "signals"));
  PetscCall(wn_report_result(report, "ranks", "%d", c.size));
  PetscCall(wn_report_result(report, "n", "%lld", (long long)N));
  PetscCall(wn_report_result(report, "steps", "%lld", (long long)n_steps));
  PetscCall(wn_report_result(report, "epoch", "%lld", (long long)params->epoch));
  PetscCall(wn_report_result(report, "order", "%d", info_tuned.order));
  PetscCall(wn_report_result(report, "discount", "%g", info_tuned.discount));
  PetscCall(wn_report_result(report, "base_units", "%lld", (long long)base.units));
  PetscCall(wn_report_result(report, "base_tokens", "%lld", (long long)base.tokens));
  PetscCall(wn_report_result(report, "train_units", "%lld", (long long)train.units));
  PetscCall(wn_report_result(report, "train_tokens", "%lld", (long long)train.tokens));
  PetscCall(wn_report_result(report, "vocab_base", "%lld", (long long)info_base.n_vocab));
  PetscCall(wn_report_result(report, "vocab_tuned", "%lld", (long long)info_tuned.n_vocab));
  if (params->losses) PetscCall(wn_report_result(report, "ppl_base", "%.6g", ppl_base));
  PetscCall(wn_report_result(report, "ppl_tuned", "%.6g", ppl_tuned));
  PetscCall(wn_report_result(report, "model_base", "%s", info_base.checksum));
  PetscCall(wn_report_result(report, "model_tuned", "%s", info_tuned.checksum));
  PetscCall(wn_report_result(report, "signals_checksum", "%016llx", (unsigned long long)hash));

  PetscCall(PetscFree4(loss_base, loss_tuned, step_prob, features));
  PetscCall(wn_ngram_destroy(&lm));
  PetscCall(signals_candidates_free(&cd));
  PetscCall(wn_jsonl_record_destroy(&c.rec));
  PetscCall(PetscFree(c.text));
  PetscCall(PetscFree(c.tok));
  PetscCall(PetscFree(c.step_end));
  PetscFunctionReturn(PETSC_SUCCESS);
}
