/* lobass.c - LoBaSS's pieces (Zhou et al., LoBaSS: Gauging Learnability in Supervised Fine-tuning Data,
 * arXiv 2310.13008; METHODS.md section 2): the learnability score of every candidate from the losses under the
 * base model (L0) and under the fine-tuned reference model (L1), the distributed top-k, and the per-label
 * budgets that balance domains.
 *
 * Owns: reading /signals/loss_base and /signals/loss_tuned (DESIGN.md section 6) by row block with one
 * collective message for a missing dataset, a wrong type, shape or length; the validation of the losses
 * (finite, >= 0; L0 > 0 for the normalized score) naming the file, dataset, lowest bad row and value; the
 * distinct labels of the pool (gathered once, sorted, replicated) and each row's group; budgets proportional to
 * the labels' sizes (largest remainder, exact integers) or given as text; an exact grouped top-k by bisection on
 * the order-preserving 64-bit keys of the scores (the bisections of all groups share one MPI_Allreduce of a
 * vector of counts per round, at most 64 rounds; rows outside the shrinking key interval are dropped from the
 * scan; ties at the threshold go to the lowest global rows via one MPI_Exscan); and the independent check of a
 * selection.
 * Leaves to others: file access and type conversion (h5io.c), the row split (layout.c), the method's flow,
 * report and output (methods/lobass_method.c, output.c).
 */
#include <limits.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <winnow/h5io.h>
#include <winnow/lobass.h>

const char *const wn_lobass_score_names[]     = {"diff", "normalized", "wn_lobass_score", "WN_LOBASS_", NULL};
const char *const wn_lobass_per_label_names[] = {"none", "proportional", "given", "wn_lobass_per_label", "WN_LOBASS_PER_LABEL_", NULL};

/* Checks on data only some ranks hold record a wn_verdict (error.h) and agree on it with wn_verdict_agree(); the
 * caller then releases files and memory and raises the error on every rank. */

/* ---- reading the losses -------------------------------------------------------------------------- */

/* The on-disk type of a dataset, for messages. */
static const char *lb_dtype_name(const wn_h5_info *info)
{
  if (info->is_string) return "strings";
  switch (info->dtype) {
  case WN_DTYPE_F32: return "float32";
  case WN_DTYPE_F64: return "float64";
  case WN_DTYPE_I64: return "int64";
  case WN_DTYPE_I32: return "int32";
  default: return "a type other than float32/float64";
  }
}

/* Check that a loss column exists, holds floats, is 1-D (or N x 1) and has N entries. Collective (every rank
 * gets the same answers from HDF5). */
static PetscErrorCode lb_check_column(const wn_layout *L, hid_t file, const char *path, const char *dataset, const char *role, const char *option, wn_verdict *v)
{
  PetscBool  exists;
  wn_h5_info info;

  PetscFunctionBeginUser;
  if (v->code) PetscFunctionReturn(PETSC_SUCCESS);
  PetscCall(wn_h5_exists(L->comm, file, dataset, &exists));
  if (!exists) {
    wn_verdict_fail(v, PETSC_ERR_FILE_UNEXPECTED, "dataset %s not found in '%s'; LoBaSS needs N = %lld losses under the %s (%s)", dataset, path, (long long)L->n_global, role, option);
    PetscFunctionReturn(PETSC_SUCCESS);
  }
  PetscCall(wn_h5_info_get(L->comm, file, path, dataset, &info));
  if (info.is_string || (info.dtype != WN_DTYPE_F32 && info.dtype != WN_DTYPE_F64))
    wn_verdict_fail(v, PETSC_ERR_FILE_UNEXPECTED, "dataset %s in '%s' holds %s; expected N = %lld float32 or float64 losses (one per candidate)", dataset, path, lb_dtype_name(&info), (long long)L->n_global);
  else if (!(info.ndim == 1 || (info.ndim == 2 && info.dims[1] == 1)))
    wn_verdict_fail(v, PETSC_ERR_FILE_UNEXPECTED, "dataset %s in '%s' is %d-D (%lld x %lld); expected a 1-D column of N = %lld losses", dataset, path, info.ndim, (long long)info.dims[0], (long long)info.dims[1], (long long)L->n_global);
  else if (info.dims[0] != L->n_global)
    wn_verdict_fail(v, PETSC_ERR_FILE_UNEXPECTED, "dataset %s in '%s' has %lld values; expected N = %lld (one loss per candidate)", dataset, path, (long long)info.dims[0], (long long)L->n_global);
  PetscFunctionReturn(PETSC_SUCCESS);
}

/**
  @brief Read this rank's rows of the LoBaSS losses L0 (base model) and L1 (fine-tuned reference model).

  Both datasets must hold N float32 or float64 values (1-D, or N x 1); each rank reads its own row block with a
  collective hyperslab. The values themselves are validated by wn_lobass_scores().

  Collective on layout->comm. A missing file or dataset, a wrong type, shape or length give one error from rank 0
  naming the file and dataset ("dataset /signals/loss_tuned in 'a.h5' has 99 values; expected N = 100"); the file
  is closed first.

  @param[in]  layout      the candidates' row split (borrowed); N = layout->n_global
  @param[in]  path        HDF5 file (same on every rank)
  @param[in]  ds_base     dataset of L0 (e.g. /signals/loss_base)
  @param[in]  ds_tuned    dataset of L1 (e.g. /signals/loss_tuned)
  @param[out] loss_base   layout->n_local doubles (caller allocates)
  @param[out] loss_tuned  layout->n_local doubles (caller allocates)
**/
PetscErrorCode wn_lobass_read_losses(const wn_layout *layout, const char *path, const char *ds_base, const char *ds_tuned, double *loss_base, double *loss_tuned)
{
  hid_t      file = -1;
  wn_verdict v    = {0, ""};

  PetscFunctionBeginUser;
  PetscCall(wn_h5_open(layout->comm, path, PETSC_FALSE, &file));
  PetscCall(lb_check_column(layout, file, path, ds_base, "base model (L0)", "-wn_lobass_loss_base", &v));
  PetscCall(lb_check_column(layout, file, path, ds_tuned, "fine-tuned reference model (L1)", "-wn_lobass_loss_tuned", &v));
  if (!v.code) {
    PetscCall(wn_h5_read_rows_double(layout->comm, file, ds_base, layout->row_start, layout->n_local, loss_base));
    PetscCall(wn_h5_read_rows_double(layout->comm, file, ds_tuned, layout->row_start, layout->n_local, loss_tuned));
  }
  PetscCall(wn_h5_close(&file));
  PetscCheck(!v.code, layout->comm, v.code, "%s", v.msg);
  PetscFunctionReturn(PETSC_SUCCESS);
}

/* ---- scores (METHODS.md 2) ----------------------------------------------------------------------- */

/* The first bad loss of one column in the local rows, into v. */
static void lb_check_losses(const char *what, int64_t row_start, int64_t n_local, const double *loss, wn_verdict *v)
{
  for (int64_t i = 0; i < n_local && !v->code; i++) {
    if (isnan(loss[i])) wn_verdict_fail(v, PETSC_ERR_FILE_UNEXPECTED, "%s has a NaN loss at row %lld (0-based); expected a finite loss >= 0", what, (long long)(row_start + i));
    else if (isinf(loss[i])) wn_verdict_fail(v, PETSC_ERR_FILE_UNEXPECTED, "%s has an infinite loss (%g) at row %lld (0-based); expected a finite loss >= 0", what, loss[i], (long long)(row_start + i));
    else if (loss[i] < 0) wn_verdict_fail(v, PETSC_ERR_FILE_UNEXPECTED, "%s has a negative loss %.17g at row %lld (0-based); a cross-entropy loss is >= 0", what, loss[i], (long long)(row_start + i));
  }
}

/**
  @brief LoBaSS learnability scores (METHODS.md section 2): s_i = L0_i - L1_i (diff) or (L0_i - L1_i) / L0_i
  (normalized), one operation each, so every score has the same bits on any rank count.

  A large s means the fine-tuned model learned the sample: it was not already easy for the base model (low L0
  gives a small drop) and did not stay hard (high L1). The normalized form divides by L0 so that long or
  high-loss samples do not dominate (the paper's exact normalisation is METHODS.md open question 1).

  Collective on comm: the losses are checked first (NaN, infinite or negative: the base losses before the tuned
  ones), then L0 = 0 with normalized and scores that overflow (a subnormal L0); the lowest bad global row is named
  with its value and source, in one message from rank 0.

  @param[in]  comm        communicator the rows are split over (borrowed)
  @param[in]  what_base   source of L0 for messages (e.g. "dataset /signals/loss_base in 'a.h5'")
  @param[in]  what_tuned  source of L1 for messages
  @param[in]  kind        WN_LOBASS_DIFF or WN_LOBASS_NORMALIZED
  @param[in]  row_start   global index of the first local row
  @param[in]  n_local     local rows (may be 0)
  @param[in]  loss_base   n_local losses L0 (borrowed)
  @param[in]  loss_tuned  n_local losses L1 (borrowed)
  @param[out] score       n_local scores (caller allocates; must not alias the losses)
**/
PetscErrorCode wn_lobass_scores(MPI_Comm comm, const char *what_base, const char *what_tuned, wn_lobass_score kind, int64_t row_start, int64_t n_local, const double *loss_base,
                                const double *loss_tuned, double *score)
{
  wn_verdict v = {0, ""};

  PetscFunctionBeginUser;
  PetscCheck(kind == WN_LOBASS_DIFF || kind == WN_LOBASS_NORMALIZED, comm, PETSC_ERR_ARG_OUTOFRANGE, "unknown LoBaSS score kind %d", (int)kind);
  lb_check_losses(what_base ? what_base : "the base losses (L0)", row_start, n_local, loss_base, &v);
  PetscCall(wn_verdict_agree(comm, &v));
  PetscCheck(!v.code, comm, v.code, "%s", v.msg);
  lb_check_losses(what_tuned ? what_tuned : "the fine-tuned losses (L1)", row_start, n_local, loss_tuned, &v);
  PetscCall(wn_verdict_agree(comm, &v));
  PetscCheck(!v.code, comm, v.code, "%s", v.msg);
  for (int64_t i = 0; i < n_local; i++) {
    double d = loss_base[i] - loss_tuned[i];

    if (kind == WN_LOBASS_DIFF) {
      score[i] = d;
      continue;
    }
    if (loss_base[i] == 0.0) {
      wn_verdict_fail(&v, PETSC_ERR_FILE_UNEXPECTED, "the normalized LoBaSS score (L0 - L1) / L0 is undefined at row %lld (0-based): %s has L0 = 0 there; use -wn_lobass_score diff, or drop that candidate",
              (long long)(row_start + i), what_base ? what_base : "the base losses");
      break;
    }
    score[i] = d / loss_base[i];
    if (!isfinite(score[i])) {
      wn_verdict_fail(&v, PETSC_ERR_FILE_UNEXPECTED, "the normalized LoBaSS score at row %lld (0-based) overflows: %s has L0 = %g, (L0 - L1) / L0 = %g; use -wn_lobass_score diff", (long long)(row_start + i),
              what_base ? what_base : "the base losses", loss_base[i], score[i]);
      break;
    }
  }
  PetscCall(wn_verdict_agree(comm, &v));
  PetscCheck(!v.code, comm, v.code, "%s", v.msg);
  PetscFunctionReturn(PETSC_SUCCESS);
}

/* ---- labels ------------------------------------------------------------------------------------- */

/* Sort context for label texts (qsort has no context argument: texts are compared as fixed-width records). */
static size_t lb_width_;
static int    lb_cmp_text(const void *a, const void *b) { return strncmp((const char *)a, (const char *)b, lb_width_); }
static int    lb_cmp_int64(const void *a, const void *b)
{
  int64_t x = *(const int64_t *)a, y = *(const int64_t *)b;
  return x < y ? -1 : x > y;
}

/* Sort n fixed-width records and drop repeats; returns the number kept. */
static int64_t lb_unique_text(char *t, int64_t n, size_t width)
{
  int64_t m = 0;

  lb_width_ = width;
  if (n > 1) qsort(t, (size_t)n, width, lb_cmp_text);
  for (int64_t i = 0; i < n; i++)
    if (m == 0 || strncmp(t + (size_t)(m - 1) * width, t + (size_t)i * width, width)) {
      if (m != i) memmove(t + (size_t)m * width, t + (size_t)i * width, width);
      m++;
    }
  return m;
}

static int64_t lb_unique_int64(int64_t *x, int64_t n)
{
  int64_t m = 0;

  if (n > 1) qsort(x, (size_t)n, sizeof(*x), lb_cmp_int64);
  for (int64_t i = 0; i < n; i++)
    if (m == 0 || x[m - 1] != x[i]) x[m++] = x[i];
  return m;
}

/* Every rank's n_mine records of `bytes` bytes each, concatenated in rank order on every rank. *all is
 * PetscMalloc'd. Collective. */
static PetscErrorCode lb_allgather_records(MPI_Comm comm, const void *mine, int64_t n_mine, size_t bytes, void **all, int64_t *n_all)
{
  PetscMPIInt size;
  int        *counts, *displs;
  int64_t     total = 0, my_bytes = n_mine * (int64_t)bytes;
  char       *buf;

  PetscFunctionBeginUser;
  PetscCallMPI(MPI_Comm_size(comm, &size));
  PetscCall(PetscMalloc2(size, &counts, size, &displs));
  PetscCheck(my_bytes <= INT_MAX, PETSC_COMM_SELF, PETSC_ERR_SUP, "the distinct labels of one rank take %lld bytes, above MPI's 2^31 - 1", (long long)my_bytes);
  {
    int b = (int)my_bytes;
    PetscCallMPI(MPI_Allgather(&b, 1, MPI_INT, counts, 1, MPI_INT, comm));
  }
  for (int r = 0; r < size; r++) {
    PetscCheck(total + counts[r] <= INT_MAX, comm, PETSC_ERR_SUP, "the distinct labels of all ranks take more than 2^31 - 1 bytes");
    displs[r] = (int)total;
    total += counts[r];
  }
  PetscCall(PetscMalloc1(total + 1, &buf));
  PetscCallMPI(MPI_Allgatherv(mine, (int)my_bytes, MPI_BYTE, buf, counts, displs, MPI_BYTE, comm));
  *all   = buf;
  *n_all = total / (int64_t)bytes;
  PetscCall(PetscFree2(counts, displs));
  PetscFunctionReturn(PETSC_SUCCESS);
}

/**
  @brief The distinct labels of the pool, sorted and replicated, their sizes, and each local row's group.

  Each rank sorts and deduplicates its own labels, the distinct sets are gathered on every rank and merged, so
  the table (and every group number) is the same on any rank count. Int labels sort numerically and are named
  "%lld"; string labels sort by bytes.

  Collective on layout->comm.

  @param[in]  layout  the candidates' row split (borrowed)
  @param[in]  label   the pool's local label column (borrowed); kind NONE is an error
  @param[out] labels  the table (names, counts), owned: wn_lobass_labels_destroy()
  @param[out] group   layout->n_local group numbers (caller allocates)
**/
PetscErrorCode wn_lobass_labels_create(const wn_layout *layout, const wn_column *label, wn_lobass_labels *labels, int *group)
{
  MPI_Comm comm = layout->comm;
  int64_t  nl = layout->n_local, n_all = 0, G;

  PetscFunctionBeginUser;
  PetscCall(PetscMemzero(labels, sizeof(*labels)));
  PetscCheck(label && label->kind != WN_COLUMN_NONE, comm, PETSC_ERR_ARG_WRONG, "LoBaSS per-label budgets need candidate labels, but the pool has none");
  PetscCheck(label->n == nl, PETSC_COMM_SELF, PETSC_ERR_PLIB, "label column holds %lld rows, the layout %lld", (long long)label->n, (long long)nl);
  if (label->kind == WN_COLUMN_INT) {
    int64_t *mine, *all = NULL;

    PetscCall(PetscMalloc1(nl + 1, &mine));
    PetscCall(PetscArraycpy(mine, label->ints, nl));
    PetscCall(lb_allgather_records(comm, mine, lb_unique_int64(mine, nl), sizeof(int64_t), (void **)&all, &n_all));
    G = lb_unique_int64(all, n_all);
    PetscCheck(G <= INT_MAX, comm, PETSC_ERR_SUP, "%lld distinct labels; at most 2^31 - 1 are supported", (long long)G);
    labels->n     = (int)G;
    labels->width = 24;
    PetscCall(PetscCalloc1((size_t)G * labels->width + 1, &labels->names));
    for (int64_t g = 0; g < G; g++) snprintf(labels->names + (size_t)g * labels->width, labels->width, "%lld", (long long)all[g]);
    for (int64_t i = 0; i < nl; i++) { /* binary search: the label is in the table */
      int64_t lo = 0, hi = G - 1;
      while (lo < hi) {
        int64_t mid = (lo + hi) / 2;
        if (all[mid] < label->ints[i]) lo = mid + 1;
        else hi = mid;
      }
      group[i] = (int)lo;
    }
    PetscCall(PetscFree(mine));
    PetscCall(PetscFree(all));
  } else {
    size_t w = label->width;
    char  *mine, *all = NULL;

    PetscCall(PetscMalloc1((size_t)nl * w + 1, &mine));
    if (nl) PetscCall(PetscArraycpy(mine, label->strings, (size_t)nl * w));
    PetscCall(lb_allgather_records(comm, mine, lb_unique_text(mine, nl, w), w, (void **)&all, &n_all));
    G = lb_unique_text(all, n_all, w);
    PetscCheck(G <= INT_MAX, comm, PETSC_ERR_SUP, "%lld distinct labels; at most 2^31 - 1 are supported", (long long)G);
    labels->n     = (int)G;
    labels->width = w;
    labels->names = all; /* sorted, G x w (the tail beyond G is unused) */
    for (int64_t i = 0; i < nl; i++) {
      const char *s  = label->strings + (size_t)i * w;
      int64_t     lo = 0, hi = G - 1;
      while (lo < hi) {
        int64_t mid = (lo + hi) / 2;
        if (strncmp(all + (size_t)mid * w, s, w) < 0) lo = mid + 1;
        else hi = mid;
      }
      group[i] = (int)lo;
    }
    PetscCall(PetscFree(mine));
  }
  PetscCall(PetscCalloc1(G + 1, &labels->count));
  for (int64_t i = 0; i < nl; i++) labels->count[group[i]]++;
  PetscCallMPI(MPI_Allreduce(MPI_IN_PLACE, labels->count, (PetscMPIInt)G, MPI_INT64_T, MPI_SUM, comm));
  PetscFunctionReturn(PETSC_SUCCESS);
}

/**
  @brief Free a label table made by wn_lobass_labels_create() and zero it; accepts a zeroed table.

  Not collective.
**/
PetscErrorCode wn_lobass_labels_destroy(wn_lobass_labels *labels)
{
  PetscFunctionBeginUser;
  if (!labels) PetscFunctionReturn(PETSC_SUCCESS);
  PetscCall(PetscFree(labels->names));
  PetscCall(PetscFree(labels->count));
  labels->n     = 0;
  labels->width = 0;
  PetscFunctionReturn(PETSC_SUCCESS);
}

/* ---- budgets ------------------------------------------------------------------------------------ */

/**
  @brief Per-label budgets proportional to the labels' sizes, by largest remainder (Hamilton's method).

  Label g first gets floor(budget n_g / N); the leftover budget - sum of those (fewer than the number of labels)
  goes one pick each to the labels with the largest remainders budget n_g mod N (exact 128-bit integers, so no
  rounding decides anything). Equal remainders: the label with more candidates first, then the label that sorts
  first. The budgets add up to budget and never exceed n_g (a label with remainder 0 never gets an extra pick).

  Pure, not collective.

  @param[in]  n_groups  number of labels G
  @param[in]  count     G candidate counts n_g (N = their sum)
  @param[in]  budget    0 <= budget <= N
  @param[out] k         G budgets (caller allocates)
**/
PetscErrorCode wn_lobass_budgets_proportional(int n_groups, const int64_t *count, int64_t budget, int64_t *k)
{
  int64_t  N = 0, used = 0;
  int64_t *rem;
  int     *order;

  PetscFunctionBeginUser;
  for (int g = 0; g < n_groups; g++) {
    PetscCheck(count[g] >= 0, PETSC_COMM_SELF, PETSC_ERR_ARG_OUTOFRANGE, "label %d has a negative count %lld", g, (long long)count[g]);
    N += count[g];
  }
  PetscCheck(budget >= 0 && budget <= N, PETSC_COMM_SELF, PETSC_ERR_ARG_OUTOFRANGE, "budget %lld is outside [0, %lld candidates]", (long long)budget, (long long)N);
  PetscCall(PetscMalloc2(n_groups + 1, &rem, n_groups + 1, &order));
  for (int g = 0; g < n_groups; g++) {
    __int128 p = (__int128)budget * (__int128)count[g];

    k[g]     = N ? (int64_t)(p / N) : 0;
    rem[g]   = N ? (int64_t)(p % N) : 0;
    order[g] = g;
    used += k[g];
  }
  /* insertion sort of the labels by (remainder desc, count desc, group asc): G is small, and it is stable */
  for (int a = 1; a < n_groups; a++) {
    int x = order[a], b = a - 1;
    while (b >= 0) {
      int y = order[b];
      if (rem[y] > rem[x] || (rem[y] == rem[x] && (count[y] > count[x] || (count[y] == count[x] && y < x)))) break;
      order[b + 1] = y;
      b--;
    }
    order[b + 1] = x;
  }
  for (int a = 0; used < budget && a < n_groups; a++, used++) k[order[a]]++;
  PetscCheck(used == budget, PETSC_COMM_SELF, PETSC_ERR_PLIB, "largest remainder distributed %lld of %lld picks", (long long)used, (long long)budget);
  PetscCall(PetscFree2(rem, order));
  PetscFunctionReturn(PETSC_SUCCESS);
}

/* One parsed item of a budgets text. */
typedef struct {
  char    label[256];
  int64_t count;
} lb_item;

/* Parse "a:1,b:2" into items (PetscMalloc'd). Errors on comm (every rank holds the same text). */
static PetscErrorCode lb_parse(MPI_Comm comm, const char *spec, lb_item **items, int *n_items)
{
  const char *p = spec;
  int         n = 0, cap = 1;
  lb_item    *it;

  PetscFunctionBeginUser;
  *items   = NULL;
  *n_items = 0;
  PetscCheck(spec && spec[0], comm, PETSC_ERR_ARG_WRONG, "-wn_lobass_label_budgets is empty; expected \"label:count,label:count,...\"");
  for (const char *c = spec; *c; c++) cap += *c == ',';
  PetscCall(PetscCalloc1(cap, &it));
  while (1) {
    const char *end = strchr(p, ','), *colon = NULL, *a, *b;
    size_t      len;
    char        item[512], num[64], *stop;

    if (!end) end = p + strlen(p);
    a = p;
    b = end;
    while (a < b && (*a == ' ' || *a == '\t')) a++;
    while (b > a && (b[-1] == ' ' || b[-1] == '\t')) b--;
    len = (size_t)(b - a);
    if (len >= sizeof(item)) {
      PetscCall(PetscFree(it));
      SETERRQ(comm, PETSC_ERR_ARG_WRONG, "-wn_lobass_label_budgets: item %d is longer than %d characters", n + 1, (int)sizeof(item) - 1);
    }
    memcpy(item, a, len);
    item[len] = 0;
    for (const char *c = item; *c; c++)
      if (*c == ':') colon = c;
    if (!colon || colon == item || !colon[1]) {
      PetscCall(PetscFree(it));
      SETERRQ(comm, PETSC_ERR_ARG_WRONG, "-wn_lobass_label_budgets: item %d '%s' is not label:count (e.g. \"math:200,chat:800\")", n + 1, item);
    }
    if ((size_t)(colon - item) >= sizeof(it[n].label)) {
      PetscCall(PetscFree(it));
      SETERRQ(comm, PETSC_ERR_ARG_WRONG, "-wn_lobass_label_budgets: the label of item %d is longer than %d characters", n + 1, (int)sizeof(it[n].label) - 1);
    }
    memcpy(it[n].label, item, (size_t)(colon - item));
    it[n].label[colon - item] = 0;
    snprintf(num, sizeof(num), "%s", colon + 1);
    it[n].count = strtoll(num, &stop, 10);
    if (stop == num || *stop || it[n].count < 0 || num[0] == '+' || num[0] == ' ') {
      char lab[256];
      snprintf(lab, sizeof(lab), "%s", it[n].label);
      PetscCall(PetscFree(it));
      SETERRQ(comm, PETSC_ERR_ARG_WRONG, "-wn_lobass_label_budgets: the count '%s' of label '%s' is not a whole number >= 0", colon + 1, lab);
    }
    for (int j = 0; j < n; j++)
      if (!strcmp(it[j].label, it[n].label)) {
        char dup[256];
        snprintf(dup, sizeof(dup), "%s", it[n].label);
        PetscCall(PetscFree(it));
        SETERRQ(comm, PETSC_ERR_ARG_WRONG, "-wn_lobass_label_budgets: label '%s' is listed twice", dup);
      }
    n++;
    if (!*end) break;
    p = end + 1;
  }
  *items   = it;
  *n_items = n;
  PetscFunctionReturn(PETSC_SUCCESS);
}

/**
  @brief Syntax check of a -wn_lobass_label_budgets text ("label:count,label:count"): the last ':' of an item
  separates the label (so labels may contain ':'), blanks around items are ignored, counts are whole numbers
  >= 0, no label appears twice.

  Collective on comm in the PetscCheck sense: every rank must pass the same text, rank 0 prints.

  @param[in]  comm     communicator for the errors (borrowed)
  @param[in]  spec     the text
  @param[out] n_items  number of items (may be NULL)
  @param[out] total    sum of the counts (may be NULL)
**/
PetscErrorCode wn_lobass_budgets_check(MPI_Comm comm, const char *spec, int *n_items, int64_t *total)
{
  lb_item *it;
  int      n;
  int64_t  sum = 0;

  PetscFunctionBeginUser;
  PetscCall(lb_parse(comm, spec, &it, &n));
  for (int j = 0; j < n; j++) sum += it[j].count;
  if (n_items) *n_items = n;
  if (total) *total = sum;
  PetscCall(PetscFree(it));
  PetscFunctionReturn(PETSC_SUCCESS);
}

/**
  @brief Budgets given as text ("label:count,...") mapped onto the pool's labels; labels not listed get 0.

  Collective on comm (the same text and table on every rank; rank 0 prints). Errors: bad syntax, a label the pool
  does not have (the message lists up to the first 20 labels of the pool), a count above the label's candidates,
  counts that do not add up to the budget ("set -wn_budget 30").

  @param[in]  comm    communicator (borrowed)
  @param[in]  labels  the pool's label table
  @param[in]  spec    the text of -wn_lobass_label_budgets
  @param[in]  budget  the resolved -wn_budget
  @param[out] k       labels->n budgets (caller allocates)
**/
PetscErrorCode wn_lobass_budgets_given(MPI_Comm comm, const wn_lobass_labels *labels, const char *spec, int64_t budget, int64_t *k)
{
  lb_item *it;
  int      n;
  int64_t  sum = 0;
  char     known[1024] = "";

  PetscFunctionBeginUser;
  PetscCall(lb_parse(comm, spec, &it, &n));
  for (int g = 0; g < labels->n; g++) k[g] = 0;
  for (int g = 0; g < labels->n && g < 20; g++) {
    size_t len = strlen(known);
    snprintf(known + len, sizeof(known) - len, "%s'%s'", g ? ", " : "", labels->names + (size_t)g * labels->width);
  }
  if (labels->n > 20) {
    size_t len = strlen(known);
    snprintf(known + len, sizeof(known) - len, ", ... (%d in all)", labels->n);
  }
  for (int j = 0; j < n; j++) {
    int found = -1;
    for (int g = 0; g < labels->n && found < 0; g++)
      if (!strncmp(labels->names + (size_t)g * labels->width, it[j].label, labels->width) && strlen(it[j].label) < labels->width) found = g;
    if (found < 0) {
      char bad[256];
      snprintf(bad, sizeof(bad), "%s", it[j].label);
      PetscCall(PetscFree(it));
      SETERRQ(comm, PETSC_ERR_ARG_WRONG, "-wn_lobass_label_budgets names label '%s', which no candidate has; the pool's labels are %s", bad, known);
    }
    if (it[j].count > labels->count[found]) {
      char    bad[256];
      int64_t c = it[j].count;
      snprintf(bad, sizeof(bad), "%s", it[j].label);
      PetscCall(PetscFree(it));
      SETERRQ(comm, PETSC_ERR_ARG_OUTOFRANGE, "-wn_lobass_label_budgets asks for %lld candidates of label '%s', which has only %lld", (long long)c, bad, (long long)labels->count[found]);
    }
    k[found] = it[j].count;
    sum += it[j].count;
  }
  PetscCall(PetscFree(it));
  PetscCheck(sum == budget, comm, PETSC_ERR_ARG_INCOMP, "-wn_lobass_label_budgets add up to %lld but the budget is %lld: set -wn_budget %lld (the budget counts every label's picks)", (long long)sum, (long long)budget,
             (long long)sum);
  PetscFunctionReturn(PETSC_SUCCESS);
}

/* ---- exact distributed top-k -------------------------------------------------------------------- */

/* Order-preserving map of a double (not NaN) to an unsigned 64-bit key: flip the sign bit of non-negative values
 * and every bit of negative ones. -0.0 is mapped like +0.0 (they compare equal). */
static inline uint64_t lb_key(double x)
{
  uint64_t b;

  if (x == 0.0) x = 0.0;
  memcpy(&b, &x, sizeof(b));
  return (b >> 63) ? ~b : b | 0x8000000000000000ULL;
}

/* A pick: score and global row. */
typedef struct {
  double  v;
  int64_t i;
} lb_pick;

/* Selection order: score descending, then lowest index. */
static int lb_cmp_pick(const void *a, const void *b)
{
  const lb_pick *x = (const lb_pick *)a, *y = (const lb_pick *)b;

  if (x->v > y->v) return -1;
  if (x->v < y->v) return 1;
  return x->i < y->i ? -1 : x->i > y->i;
}

/**
  @brief Exact distributed top-k per group, ties to the lowest global index (LoBaSS's selection, METHODS.md 2 and
  section 5).

  For every group g the threshold key t_g (the k_g-th largest key of the group) is found by bisection on the
  order-preserving 64-bit keys, starting from the group's global min and max: each round counts, for every
  unfinished group at once, the rows with key >= mid (one MPI_Allreduce of a vector of counts), and the rows
  whose key left the interval are dropped from the scan, so the passes shrink. Then every row with key > t_g is
  taken, and of the rows with key == t_g the ones with the lowest global indices (an MPI_Exscan of the per-group
  tie counts tells each rank how many it takes; rows are split in rank order). The picks are gathered on every rank
  and sorted by (score descending, index ascending). The result depends only on the scores, so it is the same on
  any rank count.

  Collective on comm. Errors (collective): a non-finite score, k_g outside [0, members of g], a group id outside
  [-1, n_groups), more than 2^31 - 1 picks in all.

  @param[in]  comm      communicator the rows are split over (borrowed)
  @param[in]  row_start global index of the first local row
  @param[in]  n_local   local rows (may be 0)
  @param[in]  score     n_local scores (borrowed)
  @param[in]  group     n_local group ids in [0, n_groups) or -1 (never picked); NULL: all in group 0
  @param[in]  n_groups  G >= 1 (1 when group is NULL)
  @param[in]  k         G budgets
  @param[out] n_sel     sum of k
  @param[out] index     n_sel global rows in selection order (PetscMalloc, owned by the caller)
  @param[out] value     n_sel scores of the picks (PetscMalloc, owned by the caller)
**/
PetscErrorCode wn_lobass_topk(MPI_Comm comm, int64_t row_start, int64_t n_local, const double *score, const int *group, int n_groups, const int64_t *k, int64_t *n_sel, int64_t **index,
                              double **value)
{
  int64_t  *members, *above, *cnt, *ties, *before, total = 0, n_work = 0, bad = -1, n_mine = 0;
  uint64_t *lo, *hi, *ext, *mid, *wkey;
  int      *wgroup;
  lb_pick  *mine, *all = NULL;
  int64_t   n_all = 0;
  PetscBool active;

  PetscFunctionBeginUser;
  PetscCheck(n_groups >= 1 && (group || n_groups == 1), comm, PETSC_ERR_ARG_WRONG, "top-k: %d groups%s", n_groups, group ? "" : " without group ids (expected 1)");
  for (int64_t i = 0; i < n_local && bad < 0; i++)
    if (!isfinite(score[i]) || (group && (group[i] < -1 || group[i] >= n_groups))) bad = i;
  WN_CHECK_ALL(comm, bad < 0, PETSC_ERR_ARG_OUTOFRANGE, "top-k: row %lld has score %g in group %d; expected a finite score and a group in [-1, %d)", (long long)(row_start + bad), bad >= 0 ? score[bad] : 0.0,
               bad >= 0 && group ? group[bad] : 0, n_groups);

  PetscCall(PetscCalloc5(n_groups, &members, n_groups, &above, n_groups, &cnt, n_groups, &ties, n_groups, &before));
  PetscCall(PetscMalloc4(n_groups, &lo, n_groups, &hi, 2 * (size_t)n_groups, &ext, n_groups, &mid));
  PetscCall(PetscMalloc2(n_local + 1, &wkey, n_local + 1, &wgroup));
  for (int64_t i = 0; i < n_local; i++) {
    int g = group ? group[i] : 0;
    if (g >= 0) members[g]++;
  }
  PetscCallMPI(MPI_Allreduce(MPI_IN_PLACE, members, n_groups, MPI_INT64_T, MPI_SUM, comm));
  for (int g = 0; g < n_groups; g++) {
    if (bad < 0 && !(k[g] >= 0 && k[g] <= members[g])) bad = g;
    total += k[g];
  }
  if (bad >= 0 || total > INT_MAX) {
    int64_t m = bad >= 0 ? members[bad] : 0;
    PetscCall(PetscFree2(wkey, wgroup));
    PetscCall(PetscFree4(lo, hi, ext, mid));
    PetscCall(PetscFree5(members, above, cnt, ties, before));
    PetscCheck(bad < 0, comm, PETSC_ERR_ARG_OUTOFRANGE, "top-k: group %lld has %lld members but a budget of %lld", (long long)bad, (long long)m, (long long)k[bad]);
    SETERRQ(comm, PETSC_ERR_SUP, "top-k: %lld picks in all; at most 2^31 - 1 are supported (MPI counts)", (long long)total);
  }

  /* the work set: rows of groups with a budget; the key interval of each group starts at its global [min, max] */
  for (int g = 0; g < n_groups; g++) {
    ext[g]            = 0; /* max of ~key = ~min key */
    ext[n_groups + g] = 0; /* max key */
  }
  for (int64_t i = 0; i < n_local; i++) {
    int g = group ? group[i] : 0;
    if (g < 0 || k[g] == 0) continue;
    wkey[n_work]   = lb_key(score[i]);
    wgroup[n_work] = g;
    if (~wkey[n_work] > ext[g]) ext[g] = ~wkey[n_work];
    if (wkey[n_work] > ext[n_groups + g]) ext[n_groups + g] = wkey[n_work];
    n_work++;
  }
  PetscCallMPI(MPI_Allreduce(MPI_IN_PLACE, ext, 2 * n_groups, MPI_UINT64_T, MPI_MAX, comm));
  for (int g = 0; g < n_groups; g++) {
    lo[g] = k[g] > 0 ? ~ext[g] : 0;
    hi[g] = k[g] > 0 ? ext[n_groups + g] : 0;
  }
  /* Invariant per group: count(key >= lo) >= k and above = count(key > hi) < k. Stop when lo == hi. */
  do {
    int64_t n_keep = 0;

    active = PETSC_FALSE;
    for (int g = 0; g < n_groups; g++) {
      cnt[g] = 0;
      mid[g] = lo[g] < hi[g] ? lo[g] + (hi[g] - lo[g]) / 2 + 1 : 0; /* in (lo, hi] */
      if (lo[g] < hi[g]) active = PETSC_TRUE;
    }
    if (!active) break;
    for (int64_t w = 0; w < n_work; w++) {
      int g = wgroup[w];
      if (lo[g] < hi[g] && wkey[w] >= mid[g]) cnt[g]++;
    }
    PetscCallMPI(MPI_Allreduce(MPI_IN_PLACE, cnt, n_groups, MPI_INT64_T, MPI_SUM, comm));
    for (int g = 0; g < n_groups; g++) {
      if (!(lo[g] < hi[g])) continue;
      if (above[g] + cnt[g] >= k[g]) lo[g] = mid[g];
      else {
        above[g] += cnt[g];
        hi[g] = mid[g] - 1;
      }
    }
    for (int64_t w = 0; w < n_work; w++) { /* keep the rows still inside their group's interval */
      int g = wgroup[w];
      if (wkey[w] >= lo[g] && wkey[w] <= hi[g]) {
        wkey[n_keep]   = wkey[w];
        wgroup[n_keep] = g;
        n_keep++;
      }
    }
    n_work = n_keep;
  } while (1);

  /* above[g] rows have key > t_g = lo[g]; the remaining k - above come from the ties, lowest global rows first */
  for (int64_t i = 0; i < n_local; i++) {
    int g = group ? group[i] : 0;
    if (g >= 0 && k[g] > 0 && lb_key(score[i]) == lo[g]) ties[g]++;
  }
  PetscCallMPI(MPI_Exscan(ties, before, n_groups, MPI_INT64_T, MPI_SUM, comm));
  {
    PetscMPIInt rank;
    PetscCallMPI(MPI_Comm_rank(comm, &rank));
    if (rank == 0)
      for (int g = 0; g < n_groups; g++) before[g] = 0; /* MPI_Exscan leaves rank 0's result undefined */
  }
  PetscCall(PetscMalloc1(n_local + 1, &mine));
  for (int64_t i = 0; i < n_local; i++) {
    int      g = group ? group[i] : 0;
    uint64_t key;

    if (g < 0 || k[g] == 0) continue;
    key = lb_key(score[i]);
    if (key > lo[g] || (key == lo[g] && before[g]++ < k[g] - above[g])) {
      mine[n_mine].v = score[i];
      mine[n_mine].i = row_start + i;
      n_mine++;
    }
  }
  PetscCall(lb_allgather_records(comm, mine, n_mine, sizeof(lb_pick), (void **)&all, &n_all));
  PetscCheck(n_all == total, comm, PETSC_ERR_PLIB, "top-k gathered %lld picks, expected %lld", (long long)n_all, (long long)total);
  if (n_all > 1) qsort(all, (size_t)n_all, sizeof(lb_pick), lb_cmp_pick);
  PetscCall(PetscMalloc1(n_all + 1, index));
  PetscCall(PetscMalloc1(n_all + 1, value));
  for (int64_t t = 0; t < n_all; t++) {
    (*index)[t] = all[t].i;
    (*value)[t] = all[t].v;
  }
  *n_sel = n_all;
  PetscCall(PetscFree(all));
  PetscCall(PetscFree(mine));
  PetscCall(PetscFree2(wkey, wgroup));
  PetscCall(PetscFree4(lo, hi, ext, mid));
  PetscCall(PetscFree5(members, above, cnt, ties, before));
  PetscFunctionReturn(PETSC_SUCCESS);
}

/**
  @brief The group of each pick, replicated: the owner of each pick writes its row's group, the others -1, and an
  MPI_Allreduce(MAX) over the n_sel entries gives everyone the list.

  Collective on comm.

  @param[in]  comm        communicator the rows are split over (borrowed)
  @param[in]  row_start   global index of the first local row
  @param[in]  n_local     local rows
  @param[in]  group       n_local group ids, or NULL (every row in group 0)
  @param[in]  n_sel       picks
  @param[in]  index       n_sel global rows (replicated)
  @param[out] pick_group  n_sel groups (caller allocates); -1 for an index no rank owns
**/
PetscErrorCode wn_lobass_pick_groups(MPI_Comm comm, int64_t row_start, int64_t n_local, const int *group, int64_t n_sel, const int64_t *index, int *pick_group)
{
  PetscFunctionBeginUser;
  for (int64_t t = 0; t < n_sel; t++) {
    int64_t i     = index[t] - row_start;
    pick_group[t] = (i >= 0 && i < n_local) ? (group ? group[i] : 0) : -1;
  }
  for (int64_t off = 0; off < n_sel; off += INT_MAX / 2) { /* MPI counts are int */
    int64_t c = n_sel - off < INT_MAX / 2 ? n_sel - off : INT_MAX / 2;
    PetscCallMPI(MPI_Allreduce(MPI_IN_PLACE, pick_group + off, (PetscMPIInt)c, MPI_INT, MPI_MAX, comm));
  }
  PetscFunctionReturn(PETSC_SUCCESS);
}

/**
  @brief Independent check of a grouped top-k selection (the report's `topk` check), from the scores alone.

  Conditions, each counted once per failure: (1) each pick's value is its row's score (the owner compares the
  bits) and every index is a row; (2) picks are in selection order (score descending, ties to the lowest index),
  hence distinct; (3) group g holds exactly k[g] picks and no pick comes from group -1; (4) no unpicked row of
  group g beats the worst pick of g, i.e. has a larger score, or the same score and a lower index.

  Collective on comm.

  @param[in]  comm        communicator (borrowed)
  @param[in]  row_start   global index of the first local row
  @param[in]  n_local     local rows
  @param[in]  score       n_local scores (borrowed)
  @param[in]  group       n_local group ids, or NULL (one group)
  @param[in]  n_groups    G
  @param[in]  k           G budgets
  @param[in]  n_sel       picks
  @param[in]  index       n_sel global rows, replicated
  @param[in]  value       n_sel scores of the picks, replicated
  @param[out] violations  failed conditions summed over ranks (0 = passed)
  @param[out] counts      G picks per group (caller allocates; may be NULL)
**/
PetscErrorCode wn_lobass_check_topk(MPI_Comm comm, int64_t row_start, int64_t n_local, const double *score, const int *group, int n_groups, const int64_t *k, int64_t n_sel,
                                    const int64_t *index, const double *value, int64_t *violations, int64_t *counts)
{
  int           *pg;
  int64_t        bad = 0, *cnt, *worst; /* worst[g]: position of g's last pick in the order, -1 if none */
  unsigned char *picked;
  PetscMPIInt    rank;
  int64_t        n_global = 0;

  PetscFunctionBeginUser;
  PetscCallMPI(MPI_Comm_rank(comm, &rank));
  PetscCallMPI(MPI_Allreduce(&n_local, &n_global, 1, MPI_INT64_T, MPI_SUM, comm));
  PetscCall(PetscMalloc1(n_sel + 1, &pg));
  PetscCall(PetscCalloc2(n_groups + 1, &cnt, n_groups + 1, &worst));
  PetscCall(PetscCalloc1(n_local + 1, &picked));
  PetscCall(wn_lobass_pick_groups(comm, row_start, n_local, group, n_sel, index, pg));
  /* (1) values and ranges: the owner checks its picks; the range is checked on rank 0 (replicated list) */
  for (int64_t t = 0; t < n_sel; t++) {
    int64_t i = index[t] - row_start;
    if (rank == 0 && (index[t] < 0 || index[t] >= n_global)) bad++;
    if (i >= 0 && i < n_local) {
      if (memcmp(&value[t], &score[i], sizeof(double))) bad++;
      picked[i] = 1;
    }
  }
  /* (2) order, on rank 0 */
  if (rank == 0)
    for (int64_t t = 1; t < n_sel; t++)
      if (!(value[t - 1] > value[t] || (value[t - 1] == value[t] && index[t - 1] < index[t]))) bad++;
  /* (3) counts per group, replicated */
  for (int g = 0; g < n_groups; g++) worst[g] = -1;
  for (int64_t t = 0; t < n_sel; t++) {
    if (pg[t] < 0 || pg[t] >= n_groups) {
      if (rank == 0) bad++;
      continue;
    }
    cnt[pg[t]]++;
    worst[pg[t]] = t;
  }
  if (rank == 0)
    for (int g = 0; g < n_groups; g++)
      if (cnt[g] != k[g]) bad++;
  /* (4) no unpicked row beats its group's worst pick */
  for (int64_t i = 0; i < n_local; i++) {
    int     g = group ? group[i] : 0;
    int64_t w;
    double  s;

    if (picked[i] || g < 0 || g >= n_groups) continue;
    w = worst[g];
    if (w < 0) continue; /* budget 0 (or a count failure above): nothing to beat */
    s = score[i];
    if (s > value[w] || (s == value[w] && row_start + i < index[w])) bad++;
  }
  PetscCallMPI(MPI_Allreduce(&bad, violations, 1, MPI_INT64_T, MPI_SUM, comm));
  if (counts) PetscCall(PetscArraycpy(counts, cnt, n_groups));
  PetscCall(PetscFree(picked));
  PetscCall(PetscFree2(cnt, worst));
  PetscCall(PetscFree(pg));
  PetscFunctionReturn(PETSC_SUCCESS);
}
