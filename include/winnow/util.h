/* util.h - small pure helpers shared by several modules: budget and size parsing, checksums,
 * counter-based random numbers. No MPI, no I/O.
 */
#pragma once

#include <stdint.h>
#include <stddef.h>
#include <winnow/error.h>

/* Parse a budget: "100" (count), "0.3" (fraction of n, 0 < f <= 1), "30%" (percent).
 * Result is floor(f * n) for fractions. Errors (PETSC_ERR_ARG_OUTOFRANGE / _WRONG) name the text.
 * Not collective: call with the same text on every rank and pass comm for who prints. */
PETSC_EXTERN PetscErrorCode wn_parse_budget(MPI_Comm comm, const char *text, int64_t n, int64_t *budget);
/* Parse a byte count: "1000", "512M", "4G", "1.5GiB", "2T". Binary units (K = 1024). */
PETSC_EXTERN PetscErrorCode wn_parse_bytes(MPI_Comm comm, const char *text, double *bytes);
/* Format a byte count as e.g. "1.50 GiB" into buf. */
PETSC_EXTERN const char *wn_format_bytes(double bytes, char *buf, size_t len);
/* 64-bit FNV-1a over bytes, continuing from h (start with WN_FNV_OFFSET). */
#define WN_FNV_OFFSET 0xcbf29ce484222325ULL
PETSC_EXTERN uint64_t wn_fnv1a(uint64_t h, const void *data, size_t len);
/* splitmix64 step: a counter-based generator; wn_uniform01(seed, counter) in [0,1). */
PETSC_EXTERN uint64_t wn_splitmix64(uint64_t x);
PETSC_EXTERN double   wn_uniform01(uint64_t seed, uint64_t counter);
/* Checksum of a selection: FNV-1a over the little-endian int64 indices in order, as 16 hex digits. */
PETSC_EXTERN void     wn_selection_checksum(const int64_t *indices, int64_t n, char hex[17]);
