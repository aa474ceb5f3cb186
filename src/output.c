/* output.c - what winnow writes: PREFIX.h5 and PREFIX.jsonl (the selection, DESIGN.md section 7), kernel
 * files (through kernel_io.c) and PREFIX.yaml (provenance), each under a temporary name that is renamed
 * only when complete, so a failed run leaves no partial file behind.
 * Owns: the output schema (doc/formats.md), the early writability check, the temp/commit protocol.
 */
#include <math.h>
#include <errno.h>
#include <limits.h>
#include <stdlib.h>
#include <libgen.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/utsname.h>
#include <time.h>
#include <unistd.h>
#include <wn_autoconf.h>
#include <cblas.h>
#include <winnow/blas.h>
#include <winnow/h5io.h>
#include <winnow/jsonl.h>
#include <winnow/output.h>
#include <winnow/util.h>

/* mkdir -p of dir; returns 0 or an errno. */
static int output_mkdirs(const char *dir)
{
  char   buf[PETSC_MAX_PATH_LEN];
  size_t len;

  snprintf(buf, sizeof(buf), "%s", dir);
  len = strlen(buf);
  if (!len) return 0;
  for (size_t i = 1; i <= len; i++) {
    if (buf[i] == '/' || buf[i] == 0) {
      char c = buf[i];
      buf[i] = 0;
      if (mkdir(buf, 0777) && errno != EEXIST) return errno;
      buf[i] = c;
    }
  }
  return 0;
}

static void output_dirname(const char *path, char *dir, size_t len)
{
  char tmp[PETSC_MAX_PATH_LEN];

  snprintf(tmp, sizeof(tmp), "%s", path);
  snprintf(dir, len, "%s", dirname(tmp));
}

/* A double as a JSON number with 17 significant digits (round-trips); JSON has no infinities or NaN, so
 * those are written as null (P3's +inf difficulty, a DPP pick with log d^2 = -inf). Not collective. */
static void output_json_number(FILE *fp, double v)
{
  if (isfinite(v)) fprintf(fp, "%.17g", v);
  else fputs("null", fp);
}

/**
  @brief Make sure outputs can be written next to path before any work is done.

  Collective on comm: rank 0 creates the directory if needed and a probe file in it; every rank agrees on the
  verdict, so the message appears once.
**/
PetscErrorCode wn_output_check_writable(MPI_Comm comm, const char *path)
{
  PetscMPIInt rank;
  char        dir[PETSC_MAX_PATH_LEN], probe[PETSC_MAX_PATH_LEN + 64], msg[PETSC_MAX_PATH_LEN + 128] = "";
  int         err = 0;

  PetscFunctionBeginUser;
  PetscCallMPI(MPI_Comm_rank(comm, &rank));
  if (rank == 0) {
    FILE *fp;
    output_dirname(path, dir, sizeof(dir));
    err = output_mkdirs(dir);
    if (!err) {
      snprintf(probe, sizeof(probe), "%s/.winnow-probe.%ld", dir, (long)getpid());
      fp = fopen(probe, "w");
      if (!fp) err = errno;
      else {
        fclose(fp);
        unlink(probe);
      }
    }
    if (err) snprintf(msg, sizeof(msg), "cannot write outputs to directory '%s' (for '%s'): %s", dir, path, strerror(err));
  }
  WN_CHECK_ALL(comm, err == 0, PETSC_ERR_FILE_OPEN, "%s", msg);
  PetscFunctionReturn(PETSC_SUCCESS);
}

/* Canonical absolute path of a file that may not exist yet (its directory does). */
static void output_canonical(const char *path, char *out, size_t len)
{
  char dir[PETSC_MAX_PATH_LEN], copy[PETSC_MAX_PATH_LEN], real[PATH_MAX];

  output_dirname(path, dir, sizeof(dir));
  snprintf(copy, sizeof(copy), "%s", path);
  if (realpath(dir, real)) snprintf(out, len, "%s/%s", real, basename(copy));
  else snprintf(out, len, "%s", path);
}

/**
  @brief Refuse outputs that are the same file as an input of this run, before any work.

  Collective on comm: rank 0 compares canonical paths; the verdict is agreed.
**/
PetscErrorCode wn_output_check_clobber(MPI_Comm comm, const wn_config *cfg)
{
  PetscMPIInt rank;
  char        msg[3 * PETSC_MAX_PATH_LEN] = "";

  PetscFunctionBeginUser;
  PetscCallMPI(MPI_Comm_rank(comm, &rank));
  if (rank == 0) {
    char        outs[5][PETSC_MAX_PATH_LEN];
    const char *out_keys[5];
    int         n_out = 0;
    const char *ins[7] = {cfg->candidates.path, cfg->targets.path, cfg->private_set.path, cfg->records, cfg->warm_start, cfg->command == WN_CMD_SELECT ? cfg->kernel_file : "", cfg->command == WN_CMD_FEATURIZE ? cfg->featurize.input : ""};
    const char *in_keys[7] = {"-wn_candidates", "-wn_targets", "-wn_private", "-wn_records", "-wn_warm_start", "-wn_kernel_file", "-wn_text"};

    if (cfg->command == WN_CMD_FEATURIZE) {
      snprintf(outs[n_out], sizeof(outs[0]), "%s", cfg->featurize.output);
      out_keys[n_out++] = "-wn_embeddings";
      snprintf(outs[n_out], sizeof(outs[0]), "%s.yaml", cfg->featurize.output);
      out_keys[n_out++] = "-wn_embeddings";
    } else if (cfg->command == WN_CMD_KERNEL || (cfg->command == WN_CMD_RUN && cfg->kernel_keep)) {
      snprintf(outs[n_out], sizeof(outs[0]), "%s", cfg->kernel_file);
      out_keys[n_out++] = "-wn_kernel_file";
    }
    if (cfg->command == WN_CMD_KERNEL) {
      snprintf(outs[n_out], sizeof(outs[0]), "%s.yaml", cfg->kernel_file);
      out_keys[n_out++] = "-wn_kernel_file";
    } else if (cfg->command != WN_CMD_FEATURIZE) {
      const char *ext[3] = {".h5", ".jsonl", ".yaml"};
      for (int e = 0; e < 3; e++) {
        snprintf(outs[n_out], sizeof(outs[0]), "%s%s", cfg->output, ext[e]);
        out_keys[n_out++] = "-wn_output";
      }
    }
    for (int o = 0; o < n_out && !msg[0]; o++) {
      char        co[PETSC_MAX_PATH_LEN], ci[PATH_MAX];
      struct stat st;
      /* an existing output must be a regular file that rename() can replace */
      if (stat(outs[o], &st) == 0 && !S_ISREG(st.st_mode)) {
        snprintf(msg, sizeof(msg), "output '%s' (%s) exists and is not a regular file", outs[o], out_keys[o]);
        break;
      }
      output_canonical(outs[o], co, sizeof(co));
      for (int i = 0; i < 7 && !msg[0]; i++)
        if (ins[i][0] && realpath(ins[i], ci) && !strcmp(ci, co)) snprintf(msg, sizeof(msg), "%s would overwrite the input '%s' (%s): choose another output name", out_keys[o], ins[i], in_keys[i]);
    }
  }
  WN_CHECK_ALL(comm, msg[0] == 0, PETSC_ERR_ARG_WRONG, "%s", msg);
  PetscFunctionReturn(PETSC_SUCCESS);
}

PetscErrorCode wn_output_temp_name(MPI_Comm comm, const char *final, char *tmp, size_t len)
{
  char dir[PETSC_MAX_PATH_LEN], base[PETSC_MAX_PATH_LEN], copy[PETSC_MAX_PATH_LEN];
  long pid = (long)getpid();

  PetscFunctionBeginUser;
  PetscCallMPI(MPI_Bcast(&pid, 1, MPI_LONG, 0, comm));
  output_dirname(final, dir, sizeof(dir));
  snprintf(copy, sizeof(copy), "%s", final);
  snprintf(base, sizeof(base), "%s", basename(copy));
  PetscCall(PetscSNPrintf(tmp, len, "%s/.%s.tmp.%ld", dir, base, pid));
  wn_error_cleanup_file(tmp);
  PetscFunctionReturn(PETSC_SUCCESS);
}

PetscErrorCode wn_output_commit(MPI_Comm comm, const char *tmp, const char *final)
{
  PetscMPIInt rank;
  int         err = 0;

  PetscFunctionBeginUser;
  PetscCallMPI(MPI_Comm_rank(comm, &rank));
  if (rank == 0 && rename(tmp, final)) err = errno;
  WN_CHECK_ALL(comm, err == 0, PETSC_ERR_FILE_WRITE, "cannot rename '%s' to '%s': %s", tmp, final, strerror(err));
  wn_error_cleanup_forget(tmp);
  PetscFunctionReturn(PETSC_SUCCESS);
}

/* ---- JSON lines ------------------------------------------------------------------------------------ */

/* A column entry as JSON: a number for int ids / row numbers, an escaped string otherwise. */
static PetscErrorCode output_json_column(FILE *fp, const wn_column *c, int64_t i, int64_t fallback)
{
  char buf[64];

  PetscFunctionBeginUser;
  if (c->kind == WN_COLUMN_STRING) { /* the whole string, however long */
    const char *str = c->strings + (size_t)i * c->width;
    PetscCall(wn_json_write_string(fp, str, strnlen(str, c->width)));
  } else fputs(wn_column_text(c, i, fallback, buf, sizeof(buf)), fp);
  PetscFunctionReturn(PETSC_SUCCESS);
}

/* Write "key": for one of winnow's members; "winnow_key" when the original record already has that key,
 * so the record stays untouched and no key appears twice. */
static PetscErrorCode output_json_key(FILE *fp, const wn_jsonl_record *rec, PetscBool *first, const char *key)
{
  wn_json_type type = WN_JSON_MISSING;

  PetscFunctionBeginUser;
  if (rec) PetscCall(wn_jsonl_get_raw(rec, key, &type, NULL));
  fprintf(fp, "%s\"%s%s\": ", *first ? "" : ", ", type != WN_JSON_MISSING ? "winnow_" : "", key);
  *first = PETSC_FALSE;
  PetscFunctionReturn(PETSC_SUCCESS);
}

typedef struct {
  int64_t line, pos;
} output_want;

static int output_want_cmp(const void *a, const void *b)
{
  const output_want *x = (const output_want *)a, *y = (const output_want *)b;

  return x->line < y->line ? -1 : (x->line > y->line ? 1 : (x->pos < y->pos ? -1 : x->pos > y->pos));
}

/* Read the lines of records whose line numbers are wanted[0..n) (any order) in one pass; lines[j] gets a
 * PetscMalloc'd copy without the newline, or NULL when the file is shorter. *n_lines counts the file's lines.
 * Rank 0 only. */
static PetscErrorCode output_read_record_lines(const char *path, int64_t n, const int64_t *wanted, char **lines, int64_t *n_lines)
{
  FILE        *fp = fopen(path, "r");
  output_want *order;
  int64_t      line = 0, next = 0;
  char        *buf = NULL;
  size_t       cap = 0;
  ssize_t      got;

  PetscFunctionBeginUser;
  PetscCheck(fp, PETSC_COMM_SELF, PETSC_ERR_FILE_OPEN, "cannot open records file '%s': %s", path, strerror(errno));
  PetscCall(PetscMalloc1(n + 1, &order));
  for (int64_t j = 0; j < n; j++) {
    order[j].line = wanted[j];
    order[j].pos  = j;
    lines[j]      = NULL;
  }
  qsort(order, (size_t)n, sizeof(*order), output_want_cmp);
  while (next < n && (got = getline(&buf, &cap, fp)) >= 0) {
    while (got > 0 && (buf[got - 1] == '\n' || buf[got - 1] == '\r')) buf[--got] = 0;
    while (next < n && order[next].line == line) {
      PetscCall(PetscStrallocpy(buf, &lines[order[next].pos]));
      next++;
    }
    line++;
  }
  while ((got = getline(&buf, &cap, fp)) >= 0) line++;
  *n_lines = line;
  free(buf);
  fclose(fp);
  PetscCall(PetscFree(order));
  PetscFunctionReturn(PETSC_SUCCESS);
}

/* Write the selection as JSON lines (rank 0 writes; errors are agreed). With -wn_records, each line is the
 * original JSON object, untouched, with winnow's members appended (prefixed winnow_ on a name clash). */
static PetscErrorCode output_write_jsonl(MPI_Comm comm, const char *path, const wn_output_selection *s, const wn_column *ids, const wn_column *labels)
{
  PetscMPIInt         rank;
  const wn_selection *sel = s->sel;
  char              **lines = NULL, selected_by[PETSC_MAX_PATH_LEN + 64], msg[2 * PETSC_MAX_PATH_LEN] = "";
  int64_t             n_lines = -1;
  wn_jsonl_record    *rec = NULL;
  double             *score = NULL; /* singleton gains of the picks (with -wn_scores), replicated */

  PetscFunctionBeginUser;
  PetscCallMPI(MPI_Comm_rank(comm, &rank));
  PetscCall(PetscSNPrintf(selected_by, sizeof(selected_by), "%s%s%s", s->method, s->cfg->deck[0] ? " " : "", s->cfg->deck));
  if (s->scores && s->pool) { /* each pick's owner contributes its score; one contributor per entry: the sum is exact */
    const wn_layout *L = &s->pool->layout;
    PetscCall(PetscCalloc1(sel->n + 1, &score));
    for (int64_t j = 0; j < sel->n; j++)
      if (sel->index[j] >= L->row_start && sel->index[j] < L->row_start + L->n_local) score[j] = s->scores[sel->index[j] - L->row_start];
    if (sel->n > 0) PetscCallMPI(MPI_Allreduce(MPI_IN_PLACE, score, (PetscMPIInt)sel->n, MPI_DOUBLE, MPI_SUM, comm));
  }
  if (rank == 0 && s->cfg->records[0]) {
    PetscCall(PetscMalloc1(sel->n + 1, &lines));
    PetscCall(output_read_record_lines(s->cfg->records, sel->n, s->record_line, lines, &n_lines));
    for (int64_t j = 0; j < sel->n && !msg[0]; j++)
      if (!lines[j]) snprintf(msg, sizeof(msg), "records file '%s' has %lld lines, but candidate %lld's record is line %lld", s->cfg->records, (long long)n_lines, (long long)s->file_index[j], (long long)s->record_line[j] + 1);
    PetscCall(wn_jsonl_record_create(&rec));
  }
  if (rank == 0 && !msg[0]) {
    FILE *fp = fopen(path, "w");
    if (!fp) snprintf(msg, sizeof(msg), "cannot create '%s': %s", path, strerror(errno));
    for (int64_t j = 0; fp && j < sel->n && !msg[0]; j++) {
      PetscBool        first = PETSC_TRUE;
      const wn_jsonl_record *r = NULL;
      if (lines) {
        wn_jsonl_status st;
        char           *open, *close;
        PetscCall(wn_jsonl_parse(rec, lines[j], strlen(lines[j]), &st));
        if (!st.valid) {
          snprintf(msg, sizeof(msg), "records file '%s', line %lld (candidate %lld): not a JSON object: %s at byte %zu", s->cfg->records, (long long)s->record_line[j] + 1, (long long)s->file_index[j], st.reason, st.offset);
          break;
        }
        r     = rec;
        open  = strchr(lines[j], '{');
        close = strrchr(lines[j], '}');
        *close = 0;
        fputs(open, fp); /* the original members, verbatim */
        for (char *q = open + 1; *q; q++)
          if (*q != ' ' && *q != '\t') {
            first = PETSC_FALSE;
            break;
          }
      } else fputc('{', fp);
      PetscCall(output_json_key(fp, r, &first, "rank"));
      fprintf(fp, "%lld", (long long)(j + 1));
      PetscCall(output_json_key(fp, r, &first, "index"));
      fprintf(fp, "%lld", (long long)s->file_index[j]);
      PetscCall(output_json_key(fp, r, &first, "id"));
      PetscCall(output_json_column(fp, ids, j, s->file_index[j]));
      if (labels->kind != WN_COLUMN_NONE) {
        PetscCall(output_json_key(fp, r, &first, "label"));
        PetscCall(output_json_column(fp, labels, j, 0));
      }
      PetscCall(output_json_key(fp, r, &first, "gain"));
      output_json_number(fp, sel->gain[j]);
      PetscCall(output_json_key(fp, r, &first, "objective"));
      output_json_number(fp, sel->objective[j]);
      if (score) {
        PetscCall(output_json_key(fp, r, &first, s->score_name && !strcmp(s->score_name, "probability") ? "probability" : "score"));
        output_json_number(fp, score[j]);
      }
      if (sel->count) {
        PetscCall(output_json_key(fp, r, &first, "count"));
        fprintf(fp, "%lld", (long long)sel->count[j]);
      }
      PetscCall(output_json_key(fp, r, &first, "warm_start"));
      fputs(j < sel->n_warm ? "true" : "false", fp);
      PetscCall(output_json_key(fp, r, &first, "selected_by"));
      PetscCall(wn_json_write_string(fp, selected_by, strlen(selected_by)));
      fputs("}\n", fp);
    }
    if (fp && fclose(fp) && !msg[0]) snprintf(msg, sizeof(msg), "cannot write '%s': %s", path, strerror(errno));
  }
  if (lines) {
    for (int64_t j = 0; j < sel->n; j++) PetscCall(PetscFree(lines[j]));
    PetscCall(PetscFree(lines));
  }
  PetscCall(wn_jsonl_record_destroy(&rec));
  PetscCall(PetscFree(score));
  WN_CHECK_ALL(comm, msg[0] == 0, PETSC_ERR_FILE_WRITE, "%s", msg);
  PetscFunctionReturn(PETSC_SUCCESS);
}

/* Open the record of one candidate: the original members verbatim (from its line), or "{". *first says
 * whether a member was written. An invalid record is reported in msg. */
static PetscErrorCode output_record_open(FILE *fp, wn_jsonl_record *rec, char *line, const char *path, int64_t line_no, int64_t row, PetscBool *first, const wn_jsonl_record **used, char *msg, size_t msglen)
{
  wn_jsonl_status st;
  char           *open, *close;

  PetscFunctionBeginUser;
  *first = PETSC_TRUE;
  *used  = NULL;
  if (!line) {
    fputc('{', fp);
    PetscFunctionReturn(PETSC_SUCCESS);
  }
  PetscCall(wn_jsonl_parse(rec, line, strlen(line), &st));
  if (!st.valid) {
    snprintf(msg, msglen, "records file '%s', line %lld (candidate %lld): not a JSON object: %s at byte %zu", path, (long long)line_no + 1, (long long)row, st.reason, st.offset);
    PetscFunctionReturn(PETSC_SUCCESS);
  }
  *used = rec;
  open  = strchr(line, '{');
  close = strrchr(line, '}');
  *close = 0;
  fputs(open, fp);
  for (char *q = open + 1; *q; q++)
    if (*q != ' ' && *q != '\t') {
      *first = PETSC_FALSE;
      break;
    }
  PetscFunctionReturn(PETSC_SUCCESS);
}

/* -wn_jsonl_all: every candidate of the pool, in pool order, with a selected flag, its rank and gain in the
 * selection (null when not selected) and its singleton gain ("score", with -wn_scores). Each rank appends its
 * own rows in turn (rank order), reading its records from the records file itself. Collective. */
static PetscErrorCode output_write_jsonl_all(MPI_Comm comm, const char *path, const wn_output_selection *s)
{
  const wn_pool      *pool = s->pool;
  const wn_layout    *L    = &pool->layout;
  const wn_selection *sel  = s->sel;
  PetscMPIInt         rank, size;
  int64_t            *pos, *want, n_lines = 0, nl = L->n_local;
  char              **lines = NULL, selected_by[PETSC_MAX_PATH_LEN + 64], msg[2 * PETSC_MAX_PATH_LEN] = "", buf[1024];
  wn_jsonl_record    *rec = NULL;

  PetscFunctionBeginUser;
  PetscCallMPI(MPI_Comm_rank(comm, &rank));
  PetscCallMPI(MPI_Comm_size(comm, &size));
  PetscCall(PetscSNPrintf(selected_by, sizeof(selected_by), "%s%s%s", s->method, s->cfg->deck[0] ? " " : "", s->cfg->deck));
  PetscCall(PetscMalloc2(nl + 1, &pos, nl + 1, &want));
  for (int64_t i = 0; i < nl; i++) {
    pos[i]  = -1;
    want[i] = pool->source_row.kind == WN_COLUMN_INT ? pool->source_row.ints[i] : (pool->origin.kind == WN_COLUMN_INT ? pool->origin.ints[i] : L->row_start + i);
  }
  for (int64_t j = 0; j < sel->n; j++)
    if (sel->index[j] >= L->row_start && sel->index[j] < L->row_start + nl) pos[sel->index[j] - L->row_start] = j;
  if (s->cfg->records[0] && nl > 0) {
    PetscCall(PetscMalloc1(nl, &lines));
    PetscCall(output_read_record_lines(s->cfg->records, nl, want, lines, &n_lines));
    for (int64_t i = 0; i < nl && !msg[0]; i++)
      if (!lines[i]) snprintf(msg, sizeof(msg), "records file '%s' has %lld lines, but candidate %lld's record is line %lld", s->cfg->records, (long long)n_lines, (long long)(L->row_start + i), (long long)want[i] + 1);
    PetscCall(wn_jsonl_record_create(&rec));
  }
  for (PetscMPIInt r = 0; r < size; r++) {
    if (r == rank && !msg[0] && nl > 0) {
      FILE *fp = fopen(path, "a");
      if (!fp) snprintf(msg, sizeof(msg), "cannot write '%s': %s", path, strerror(errno));
      for (int64_t i = 0; fp && i < nl && !msg[0]; i++) {
        PetscBool              first;
        const wn_jsonl_record *used;
        int64_t                row = pool->origin.kind == WN_COLUMN_INT ? pool->origin.ints[i] : L->row_start + i, j = pos[i];
        PetscCall(output_record_open(fp, rec, lines ? lines[i] : NULL, s->cfg->records, want[i], row, &first, &used, msg, sizeof(msg)));
        if (msg[0]) break;
        PetscCall(output_json_key(fp, used, &first, "selected"));
        fputs(j >= 0 ? "true" : "false", fp);
        PetscCall(output_json_key(fp, used, &first, "rank"));
        if (j >= 0) fprintf(fp, "%lld", (long long)(j + 1));
        else fputs("null", fp);
        PetscCall(output_json_key(fp, used, &first, "index"));
        fprintf(fp, "%lld", (long long)row);
        PetscCall(output_json_key(fp, used, &first, "id"));
        PetscCall(output_json_column(fp, &pool->id, i, row));
        if (pool->label.kind != WN_COLUMN_NONE) {
          PetscCall(output_json_key(fp, used, &first, "label"));
          PetscCall(output_json_column(fp, &pool->label, i, 0));
        }
        PetscCall(output_json_key(fp, used, &first, "gain"));
        if (j >= 0) output_json_number(fp, sel->gain[j]);
        else fputs("null", fp);
        if (s->scores) {
          PetscCall(output_json_key(fp, used, &first, "score"));
          output_json_number(fp, s->scores[i]);
        }
        PetscCall(output_json_key(fp, used, &first, "selected_by"));
        PetscCall(wn_json_write_string(fp, selected_by, strlen(selected_by)));
        fputs("}\n", fp);
      }
      if (fp && fclose(fp) && !msg[0]) snprintf(msg, sizeof(msg), "cannot write '%s': %s", path, strerror(errno));
    }
    PetscCallMPI(MPI_Barrier(comm)); /* rank r + 1 appends after rank r closed the file */
  }
  (void)buf;
  if (lines) {
    for (int64_t i = 0; i < nl; i++) PetscCall(PetscFree(lines[i]));
    PetscCall(PetscFree(lines));
  }
  PetscCall(wn_jsonl_record_destroy(&rec));
  PetscCall(PetscFree2(pos, want));
  WN_CHECK_ALL(comm, msg[0] == 0, PETSC_ERR_FILE_WRITE, "%s", msg);
  PetscFunctionReturn(PETSC_SUCCESS);
}

/**
  @brief Write PREFIX.h5 and PREFIX.jsonl for a selection, each atomically.

  Collective on comm.

  PREFIX.h5: /selection/{index,id,label,gain,objective,warm_start} in selection order; with -wn_scores,
  /scores/{singleton_gain,selected,rank} for every candidate; attributes on "/" describe the run.
**/
PetscErrorCode wn_output_write_selection(MPI_Comm comm, const char *prefix, const wn_output_selection *s)
{
  PetscMPIInt         rank, size;
  const wn_selection *sel = s->sel;
  char                final[PETSC_MAX_PATH_LEN], tmp[PETSC_MAX_PATH_LEN + 64], final_jsonl[PETSC_MAX_PATH_LEN], tmp_jsonl[PETSC_MAX_PATH_LEN + 64];
  wn_column           ids = {0}, labels = {0};
  hid_t               file = -1;
  int64_t             k0, nk, N = sel->n_candidates;
  unsigned char      *warm;

  PetscFunctionBeginUser;
  PetscCallMPI(MPI_Comm_rank(comm, &rank));
  PetscCallMPI(MPI_Comm_size(comm, &size));
  if (s->pool) {
    PetscCall(wn_column_gather(&s->pool->layout, &s->pool->id, sel->n, sel->index, &ids));
    PetscCall(wn_column_gather(&s->pool->layout, &s->pool->label, sel->n, sel->index, &labels));
  }
  k0 = 0;
  nk = rank == 0 ? sel->n : 0; /* rank 0 writes the (replicated) selection; others take part collectively */

  /* ---- PREFIX.h5 ---- */
  PetscCall(PetscSNPrintf(final, sizeof(final), "%s.h5", prefix));
  PetscCall(wn_output_temp_name(comm, final, tmp, sizeof(tmp)));
  PetscCall(wn_h5_create(comm, tmp, &file));
  PetscCall(wn_h5_write_rows_int64(comm, file, "/selection/index", sel->n, k0, nk, s->file_index));
  if (ids.kind == WN_COLUMN_STRING) PetscCall(wn_h5_write_rows_strings(comm, file, "/selection/id", sel->n, k0, nk, ids.strings, ids.width));
  else if (ids.kind == WN_COLUMN_INT) PetscCall(wn_h5_write_rows_int64(comm, file, "/selection/id", sel->n, k0, nk, ids.ints));
  else PetscCall(wn_h5_write_rows_int64(comm, file, "/selection/id", sel->n, k0, nk, s->file_index));
  if (labels.kind == WN_COLUMN_STRING) PetscCall(wn_h5_write_rows_strings(comm, file, "/selection/label", sel->n, k0, nk, labels.strings, labels.width));
  else if (labels.kind == WN_COLUMN_INT) PetscCall(wn_h5_write_rows_int64(comm, file, "/selection/label", sel->n, k0, nk, labels.ints));
  PetscCall(wn_h5_write_rows_double(comm, file, "/selection/gain", sel->n, k0, nk, sel->gain));
  PetscCall(wn_h5_write_rows_double(comm, file, "/selection/objective", sel->n, k0, nk, sel->objective));
  PetscCall(PetscMalloc1(sel->n + 1, &warm));
  for (int64_t j = 0; j < sel->n; j++) warm[j] = j < sel->n_warm;
  PetscCall(wn_h5_write_rows_uint8(comm, file, "/selection/warm_start", sel->n, k0, nk, warm));
  if (sel->count) PetscCall(wn_h5_write_rows_int64(comm, file, "/selection/count", sel->n, k0, nk, sel->count));
  PetscCall(PetscFree(warm));
  if ((s->cfg->scores || s->scores) && s->pool) {
    const wn_layout *L = &s->pool->layout;
    unsigned char   *flag;
    int64_t         *pos;
    PetscCall(PetscCalloc1(L->n_local + 1, &flag));
    PetscCall(PetscMalloc1(L->n_local + 1, &pos));
    for (int64_t i = 0; i < L->n_local; i++) pos[i] = -1;
    for (int64_t j = 0; j < sel->n; j++) {
      int64_t g = sel->index[j];
      if (g >= L->row_start && g < L->row_start + L->n_local) {
        flag[g - L->row_start] = 1;
        pos[g - L->row_start]  = j + 1;
      }
    }
    if (s->scores) {
      char name[96];
      PetscCall(PetscSNPrintf(name, sizeof(name), "/scores/%s", s->score_name ? s->score_name : "singleton_gain"));
      PetscCall(wn_h5_write_rows_double(comm, file, name, N, L->row_start, L->n_local, s->scores));
    }
    PetscCall(wn_h5_write_rows_uint8(comm, file, "/scores/selected", N, L->row_start, L->n_local, flag));
    PetscCall(wn_h5_write_rows_int64(comm, file, "/scores/rank", N, L->row_start, L->n_local, pos));
    if (s->pool->origin.kind == WN_COLUMN_INT) PetscCall(wn_h5_write_rows_int64(comm, file, "/scores/index", N, L->row_start, L->n_local, s->pool->origin.ints));
    PetscCall(PetscFree(flag));
    PetscCall(PetscFree(pos));
  }
  PetscCall(wn_h5_attr_write_string(comm, file, "/", "method", s->method));
  PetscCall(wn_h5_attr_write_string(comm, file, "/", "citation", s->citation));
  PetscCall(wn_h5_attr_write_string(comm, file, "/", "winnow_version", PACKAGE_VERSION));
  PetscCall(wn_h5_attr_write_string(comm, file, "/", "checksum", s->checksum));
  PetscCall(wn_h5_attr_write_string(comm, file, "/", "stop_reason", sel->stop_reason));
  PetscCall(wn_h5_attr_write_string(comm, file, "/", "deck", s->cfg->deck));
  PetscCall(wn_h5_attr_write_int64(comm, file, "/", "ranks", size));
  PetscCall(wn_h5_attr_write_int64(comm, file, "/", "n_candidates", N));
  PetscCall(wn_h5_attr_write_int64(comm, file, "/", "n_selected", sel->n));
  PetscCall(wn_h5_attr_write_int64(comm, file, "/", "n_warm_start", sel->n_warm));
  PetscCall(wn_h5_attr_write_int64(comm, file, "/", "gain_evaluations", sel->evaluations));
  PetscCall(wn_h5_attr_write_double(comm, file, "/", "objective", sel->n ? sel->objective[sel->n - 1] : 0.0));
  {
    size_t len = 1;
    char  *opts;
    for (int e = 0; e < s->cfg->n_entries; e++) len += strlen(s->cfg->entry_key[e]) + strlen(s->cfg->entry_value[e]) + 3;
    PetscCall(PetscCalloc1(len, &opts));
    for (int e = 0; e < s->cfg->n_entries; e++) {
      strcat(opts, s->cfg->entry_key[e]);
      strcat(opts, " ");
      strcat(opts, s->cfg->entry_value[e]);
      strcat(opts, "\n");
    }
    PetscCall(wn_h5_attr_write_string(comm, file, "/", "options", opts));
    PetscCall(PetscFree(opts));
  }
  PetscCall(wn_h5_close(&file));

  /* ---- PREFIX.jsonl; both files are renamed into place only when both are complete ---- */
  PetscCall(PetscSNPrintf(final_jsonl, sizeof(final_jsonl), "%s.jsonl", prefix));
  PetscCall(wn_output_temp_name(comm, final_jsonl, tmp_jsonl, sizeof(tmp_jsonl)));
  if (s->cfg->jsonl_all && s->pool) {
    PetscMPIInt rank;
    PetscCallMPI(MPI_Comm_rank(comm, &rank));
    if (rank == 0) { /* start empty: the ranks append in turn */
      FILE *fp = fopen(tmp_jsonl, "w");
      if (fp) fclose(fp);
    }
    PetscCall(output_write_jsonl_all(comm, tmp_jsonl, s));
  } else PetscCall(output_write_jsonl(comm, tmp_jsonl, s, &ids, &labels));
  PetscCall(wn_output_commit(comm, tmp, final));
  PetscCall(wn_output_commit(comm, tmp_jsonl, final_jsonl));
  PetscCall(wn_column_destroy(&ids));
  PetscCall(wn_column_destroy(&labels));
  PetscFunctionReturn(PETSC_SUCCESS);
}

static void yaml_string(FILE *fp, const char *s)
{
  fputc('"', fp);
  for (; *s; s++) {
    if (*s == '"' || *s == '\\') fputc('\\', fp);
    if (*s == '\n') fputs("\\n", fp);
    else fputc(*s, fp);
  }
  fputc('"', fp);
}

/**
  @brief Write the YAML provenance of the run (after CoMD's yamlAppInfo).

  Collective on comm (reductions for the phase table); rank 0 writes, atomically.
**/
PetscErrorCode wn_output_write_provenance(MPI_Comm comm, const char *path, const wn_config *cfg, const wn_report *r)
{
  PetscMPIInt rank, size;
  char        tmp[PETSC_MAX_PATH_LEN + 64], msg[2 * PETSC_MAX_PATH_LEN + 128] = "";
  double      tmin[WN_PHASE_COUNT], tmax[WN_PHASE_COUNT], tsum[WN_PHASE_COUNT];

  PetscFunctionBeginUser;
  PetscCallMPI(MPI_Comm_rank(comm, &rank));
  PetscCallMPI(MPI_Comm_size(comm, &size));
  PetscCallMPI(MPI_Allreduce(r->phase_time, tmin, WN_PHASE_COUNT, MPI_DOUBLE, MPI_MIN, comm));
  PetscCallMPI(MPI_Allreduce(r->phase_time, tmax, WN_PHASE_COUNT, MPI_DOUBLE, MPI_MAX, comm));
  PetscCallMPI(MPI_Allreduce(r->phase_time, tsum, WN_PHASE_COUNT, MPI_DOUBLE, MPI_SUM, comm));
  PetscCall(wn_output_temp_name(comm, path, tmp, sizeof(tmp)));
  if (rank == 0) {
    FILE          *fp = fopen(tmp, "w");
    struct utsname u;
    char           date[64], mpi_version[MPI_MAX_LIBRARY_VERSION_STRING], *nl;
    int            mpilen;
    unsigned       h5maj, h5min, h5rel;
    time_t         now = time(NULL);

    if (!fp) snprintf(msg, sizeof(msg), "cannot create '%s': %s", tmp, strerror(errno));
    else {
      uname(&u);
      strftime(date, sizeof(date), "%Y-%m-%dT%H:%M:%SZ", gmtime(&now));
      MPI_Get_library_version(mpi_version, &mpilen);
      if ((nl = strchr(mpi_version, '\n'))) *nl = 0;
      if ((nl = strchr(mpi_version, ','))) *nl = 0;
      H5get_libversion(&h5maj, &h5min, &h5rel);
      fprintf(fp, "# winnow run provenance (doc/formats.md)\nwinnow:\n  version: %s\n  git: %s\n", PACKAGE_VERSION, WN_GIT_DESCRIBE);
      fprintf(fp, "  compiler: ");
      yaml_string(fp, WN_CC_VERSION);
      fprintf(fp, "\n  cflags: ");
      yaml_string(fp, WN_CFLAGS);
      fprintf(fp, "\n  configure: ");
      yaml_string(fp, WN_CONFIGURE_ARGS);
      fprintf(fp, "\nlibraries:\n  petsc: %d.%d.%d\n  hdf5: %u.%u.%u\n  mpi: ", PETSC_VERSION_MAJOR, PETSC_VERSION_MINOR, PETSC_VERSION_SUBMINOR, h5maj, h5min, h5rel);
      yaml_string(fp, mpi_version);
      fprintf(fp, "\n  openblas_core: %s\n  openblas_threads: %d\n  openblas_note: ", wn_blas_core(), openblas_get_num_threads());
      yaml_string(fp, wn_blas_fix_note());
      fprintf(fp, "\nrun:\n  host: %s\n  date: %s\n  ranks: %d\n  subcommand: %s\n  deck: ", u.nodename, date, size, wn_command_names[cfg->command]);
      yaml_string(fp, cfg->deck);
      fprintf(fp, "\noptions:\n");
      for (int e = 0; e < cfg->n_entries; e++) {
        fprintf(fp, "  %s: ", cfg->entry_key[e] + 1);
        yaml_string(fp, cfg->entry_value[e]);
        fputc('\n', fp);
      }
      fprintf(fp, "phases:\n");
      for (int p = 0; p < WN_PHASE_COUNT; p++) fprintf(fp, "  %s: {min_s: %.6f, mean_s: %.6f, max_s: %.6f}\n", wn_phase_names[p], tmin[p], tsum[p] / size, tmax[p]);
      fprintf(fp, "checks:\n");
      for (int c = 0; c < r->n_checks; c++) {
        fprintf(fp, "  %s: {passed: %s, detail: ", r->check_name[c], r->check_passed[c] ? "true" : "false");
        yaml_string(fp, r->check_detail[c]);
        fprintf(fp, "}\n");
      }
      fprintf(fp, "result: ");
      yaml_string(fp, r->result);
      fputc('\n', fp);
      if (fclose(fp)) snprintf(msg, sizeof(msg), "cannot write '%s': %s", tmp, strerror(errno));
    }
  }
  WN_CHECK_ALL(comm, msg[0] == 0, PETSC_ERR_FILE_WRITE, "%s", msg);
  PetscCall(wn_output_commit(comm, tmp, path));
  PetscFunctionReturn(PETSC_SUCCESS);
}
