/* util.c - small pure helpers: budget and byte-size parsing, FNV-1a checksums, splitmix64.
 * Owns nothing but arithmetic; no MPI traffic, no I/O.
 */
#include <ctype.h>
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <winnow/error.h>
#include <winnow/util.h>

/**
  @brief Parse a selection budget: a count ("100"), a fraction of n ("0.3") or a percentage ("30%").

  Not collective; comm only decides who prints an error (pass a communicator on which every rank holds
  the same text, so the message appears once).

  @param[in]  comm    communicator for errors (borrowed)
  @param[in]  text    the budget as given by the user
  @param[in]  n       pool size N the fraction applies to
  @param[out] budget  number of examples, 1 <= budget <= n
**/
PetscErrorCode wn_parse_budget(MPI_Comm comm, const char *text, int64_t n, int64_t *budget)
{
  char       *end = NULL;
  double      v;
  size_t      len;
  PetscBool   percent = PETSC_FALSE, fraction;
  const char *hint    = "give a count (100), a fraction of the pool (0.3) or a percentage (30%)";

  PetscFunctionBeginUser;
  PetscCheck(text && text[0], comm, PETSC_ERR_ARG_WRONG, "-wn_budget is empty: %s", hint);
  len = strlen(text);
  if (text[len - 1] == '%') percent = PETSC_TRUE;
  errno = 0;
  v     = strtod(text, &end);
  PetscCheck(end != text && errno == 0 && isfinite(v), comm, PETSC_ERR_ARG_WRONG, "-wn_budget '%s' is not a number: %s", text, hint);
  PetscCheck(*end == 0 || (percent && end == text + len - 1), comm, PETSC_ERR_ARG_WRONG, "-wn_budget '%s' has trailing characters: %s", text, hint);
  fraction = (percent || strchr(text, '.') || strchr(text, 'e') || strchr(text, 'E')) ? PETSC_TRUE : PETSC_FALSE;
  if (percent) v /= 100.0;
  if (fraction && !percent && v > 1.0 && v == floor(v)) fraction = PETSC_FALSE; /* "100.0" is a count, "1.0" all */
  if (fraction) {
    PetscCheck(v > 0 && v <= 1, comm, PETSC_ERR_ARG_OUTOFRANGE, "-wn_budget '%s' is a fraction outside (0, 1]: %s", text, hint);
    int64_t b = (int64_t)floor(v * (double)n);
    PetscCheck(b >= 1, comm, PETSC_ERR_ARG_OUTOFRANGE, "-wn_budget '%s' of a pool of %lld examples selects nothing", text, (long long)n);
    *budget = b;
  } else {
    PetscCheck(v >= 1, comm, PETSC_ERR_ARG_OUTOFRANGE, "-wn_budget must be positive, got '%s'", text);
    PetscCheck(v == floor(v), comm, PETSC_ERR_ARG_WRONG, "-wn_budget '%s' is not a whole number of examples: %s", text, hint);
    PetscCheck(v <= (double)n, comm, PETSC_ERR_ARG_OUTOFRANGE, "-wn_budget %s is larger than the pool (%lld examples)", text, (long long)n);
    *budget = (int64_t)v;
  }
  PetscFunctionReturn(PETSC_SUCCESS);
}

/**
  @brief Parse a byte count with an optional binary unit: "1000", "512M", "4G", "1.5GiB", "2T".

  Not collective; comm decides who prints an error.
**/
PetscErrorCode wn_parse_bytes(MPI_Comm comm, const char *text, double *bytes)
{
  char  *end = NULL;
  double v, mult = 1;

  PetscFunctionBeginUser;
  errno = 0;
  v     = strtod(text, &end);
  PetscCheck(end != text && errno == 0 && isfinite(v) && v >= 0, comm, PETSC_ERR_ARG_WRONG, "'%s' is not a byte count (examples: 4G, 512MiB, 1e9)", text);
  while (*end == ' ') end++;
  switch (toupper((unsigned char)*end)) {
  case 0: break;
  case 'B': mult = 1; break;
  case 'K': mult = 1024.0; break;
  case 'M': mult = 1024.0 * 1024; break;
  case 'G': mult = 1024.0 * 1024 * 1024; break;
  case 'T': mult = 1024.0 * 1024 * 1024 * 1024; break;
  default: SETERRQ(comm, PETSC_ERR_ARG_WRONG, "'%s' has an unknown unit (use K, M, G or T)", text);
  }
  if (*end) {
    const char *rest = end + 1;
    PetscCheck(*rest == 0 || !strcasecmp(rest, "B") || !strcasecmp(rest, "iB"), comm, PETSC_ERR_ARG_WRONG, "'%s' has an unknown unit (use K, M, G or T)", text);
  }
  *bytes = v * mult;
  PetscFunctionReturn(PETSC_SUCCESS);
}

const char *wn_format_bytes(double bytes, char *buf, size_t len)
{
  const char *units[] = {"B", "KiB", "MiB", "GiB", "TiB", "PiB"};
  int         u       = 0;

  while (bytes >= 1024.0 && u < 5) {
    bytes /= 1024.0;
    u++;
  }
  snprintf(buf, len, u ? "%.2f %s" : "%.0f %s", bytes, units[u]);
  return buf;
}

uint64_t wn_fnv1a(uint64_t h, const void *data, size_t len)
{
  const unsigned char *p = (const unsigned char *)data;

  for (size_t i = 0; i < len; i++) {
    h ^= p[i];
    h *= 0x100000001b3ULL;
  }
  return h;
}

uint64_t wn_splitmix64(uint64_t x)
{
  x += 0x9e3779b97f4a7c15ULL;
  x = (x ^ (x >> 30)) * 0xbf58476d1ce4e5b9ULL;
  x = (x ^ (x >> 27)) * 0x94d049bb133111ebULL;
  return x ^ (x >> 31);
}

double wn_uniform01(uint64_t seed, uint64_t counter)
{
  return (double)(wn_splitmix64(wn_splitmix64(seed) ^ counter) >> 11) * 0x1.0p-53;
}

void wn_selection_checksum(const int64_t *indices, int64_t n, char hex[17])
{
  uint64_t h = WN_FNV_OFFSET;

  for (int64_t i = 0; i < n; i++) {
    unsigned char le[8];
    uint64_t      v = (uint64_t)indices[i];
    for (int b = 0; b < 8; b++) le[b] = (unsigned char)(v >> (8 * b));
    h = wn_fnv1a(h, le, 8);
  }
  snprintf(hex, 17, "%016llx", (unsigned long long)h);
}
